/* opts.h - gaitd's command line (CONTRACT.md "Daemon"), parsed without global state. */
#ifndef GAITD_OPTS_H
#define GAITD_OPTS_H
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define OPTS_MAX_REPLAY 16
#define OPTS_MAX_ASYM 16
#define OPTS_MAX_SIMULATE 4096

/* An injected asymmetry for one simulated athlete (--sim-asym). Multipliers per foot (L, R). */
typedef struct opts_asym {
    int athlete;                 /* 1-based: sim<athlete> */
    double contact[2];           /* contact time multipliers, 1 = none */
    double pushoff[2];           /* push-off pitch rate multipliers */
    double impact[2];            /* impact peak multipliers */
} opts_asym_t;

typedef struct gaitd_opts {
    const char *pub;             /* --pub, default tcp://127.0.0.1:5556 */
    const char *control;         /* --control, default tcp://127.0.0.1:5557 */
    int simulate;                /* --simulate N, 0 = none */
    const char *sim_plan;        /* --sim-plan, NULL = one running segment */
    uint64_t sim_seed;           /* --sim-seed, default 1; athlete i uses seed + i - 1 */
    double sim_rate_hz;          /* --sim-rate, default 0 = the simulator's default */
    opts_asym_t asym[OPTS_MAX_ASYM];
    int n_asym;
    const char *replay[OPTS_MAX_REPLAY];
    int n_replay;
    double speed;                /* --speed, default 1 (real time), 0 = as fast as possible */
    const char *record_dir;      /* --record DIR */
    double duration_s;           /* --duration S of data, 0 = unlimited */
    const char *db;              /* --db PATH, session catalog */
    const char *config;          /* --config FILE (daemon/config.h) */
    int log_level;               /* --log-level, default info */
    double wait_subscriber_s;    /* --wait-subscriber S: start sources once a subscriber is
                                    connected, or after S seconds; 0 = start at once */
    double window_period_s;      /* --window-period S of data between window messages, default 5 */
    double status_period_s;      /* --status-period S of wall time between status, default 2 */
    int sndhwm;                  /* --hwm N, default 10000 messages per subscriber */
    int usb;                     /* --usb: live USB pods (daemon/src_usb.h), one session per
                                    athlete */
    int usb_sync;                /* --usb-sync: sync stored runs when a pod is plugged in */
    int usb_erase;               /* erase synced runs on the pod, default 1 (--usb-keep-runs: 0) */
    const char *usb_athlete;     /* --usb-athlete NAME: athlete of unpaired pods, default usb1;
                                    "" = unpaired pods are not used */
    int help, version;
} gaitd_opts_t;

/* Fills o with the defaults. */
void gaitd_opts_default(gaitd_opts_t *o);

/* Parses argv[1..argc) ("--opt VALUE" or "--opt=VALUE"). argv strings are borrowed: they must
 * outlive o. Returns 0, or -1 with a message in err (exit status 2). */
int gaitd_opts_parse(gaitd_opts_t *o, int argc, char **argv, char *err, size_t errcap);

/* Parses one --sim-asym value "N:key=L,R[:key=L,R...]" (keys contact, pushoff, impact) into a.
 * Returns 0 or -1 with a message in err. */
int gaitd_opts_parse_asym(const char *s, opts_asym_t *a, char *err, size_t errcap);

/* Prints the --help text. */
void gaitd_opts_usage(FILE *f);

#endif
