/* config.h - gaitd's configuration file (INI, parsed with libinih; reference: CONFIG.md).
 *
 *   [daemon]    pub, control, data_dir, db, log_level, hwm
 *   [simulate]  athletes, plan, seed, rate_hz
 *   [rates]     default_rate_hz, window_period_s, status_period_s
 *   [pods]      SERIAL = ATHLETE:FOOT       (one line per pod, FOOT L or R)
 *   [usb]       live, sync, erase (0 or 1), athlete (of unpaired pods)
 *   [security]  server_key; [client NAME] public_key | public_key_file, feeds, control (zap.h)
 *
 * Every value is checked; the first bad line makes loading fail with a message naming the file,
 * the line, the section and key, what was expected and what was found:
 *   gaitd.ini:7: [daemon] pub: expected a ZeroMQ endpoint like tcp://127.0.0.1:5556, got 'foo'
 * Unknown sections and keys, keys given twice and syntax errors are errors too.
 *
 * Precedence: built-in defaults < configuration file < command-line flags. config_apply copies
 * the values the file set into a gaitd_opts_t; the caller then parses the flags over it:
 *     gaitd_opts_default(&o); config_apply(&cfg, &o); gaitd_opts_parse(&o, argc, argv, ...);
 * config_t is a plain struct with no heap: strings live in it, so it must outlive opts.
 */
#ifndef GAITD_CONFIG_H
#define GAITD_CONFIG_H
#include <stddef.h>
#include <stdint.h>
#include "opts.h"
#include "zap.h"

#define CONFIG_STR 256               /* endpoints, paths, plan: at most 255 bytes */
#define CONFIG_NAME 64               /* athlete names: 1..63 bytes */
#define CONFIG_SERIAL 16             /* pod serials: 1..15 bytes (proto/rec.h REC_SERIAL_LEN) */
#define CONFIG_MAX_PODS 64

/* Bits of config_t.set: which values came from the file. */
enum config_field {
    CONFIG_PUB = 1u << 0,
    CONFIG_CONTROL = 1u << 1,
    CONFIG_DATA_DIR = 1u << 2,
    CONFIG_DB = 1u << 3,
    CONFIG_LOG_LEVEL = 1u << 4,
    CONFIG_HWM = 1u << 5,
    CONFIG_SIM_ATHLETES = 1u << 6,
    CONFIG_SIM_PLAN = 1u << 7,
    CONFIG_SIM_SEED = 1u << 8,
    CONFIG_SIM_RATE = 1u << 9,
    CONFIG_DEFAULT_RATE = 1u << 10,
    CONFIG_WINDOW_PERIOD = 1u << 11,
    CONFIG_STATUS_PERIOD = 1u << 12,
    CONFIG_USB_LIVE = 1u << 13,
    CONFIG_USB_SYNC = 1u << 14,
    CONFIG_USB_ERASE = 1u << 15,
    CONFIG_USB_ATHLETE = 1u << 16,
};

typedef struct config_pod {
    char serial[CONFIG_SERIAL];
    char athlete[CONFIG_NAME];
    char foot;                       /* 'L' or 'R' */
    int line;                        /* line of the file it came from */
} config_pod_t;

typedef struct config {
    char path[CONFIG_STR];           /* file loaded ("" for defaults or a string) */
    unsigned set;                    /* config_field bits set by the file */
    /* [daemon] */
    char pub[CONFIG_STR];            /* ZeroMQ endpoint, default tcp://127.0.0.1:5556 */
    char control[CONFIG_STR];        /* default tcp://127.0.0.1:5557 */
    char data_dir[CONFIG_STR];       /* recordings directory (as --record), default none */
    char db[CONFIG_STR];             /* session catalog (as --db), default none */
    int log_level;                   /* LOG_ERROR..LOG_DEBUG, default LOG_INFO */
    int hwm;                         /* messages per subscriber, default 10000 */
    /* [simulate] */
    int sim_athletes;                /* default 0 */
    char sim_plan[CONFIG_STR];       /* default "" (the daemon's default plan) */
    uint64_t sim_seed;               /* default 1 */
    double sim_rate_hz;              /* Hz, default 0 = default_rate_hz if set, else the
                                        simulator's own */
    /* [rates] */
    double default_rate_hz;          /* Hz, sampling rate asked of pods, default 0 = the pod's */
    double window_period_s;          /* s of data between window messages, default 5 */
    double status_period_s;          /* s of wall time between status messages, default 2 */
    /* [usb] */
    int usb_live;                    /* 0/1 as --usb, default 0 */
    int usb_sync;                    /* 0/1 as --usb-sync, default 0 */
    int usb_erase;                   /* 0/1, default 1 (--usb-keep-runs: 0) */
    char usb_athlete[CONFIG_NAME];   /* athlete of unpaired pods, default usb1 */
    /* [pods] */
    config_pod_t pods[CONFIG_MAX_PODS];
    int n_pods;
    /* [security] and [client NAME]: CURVE for remote coaches (zap.h, SECURITY.md) */
    zap_cfg_t security;
} config_t;

/* Fills c with the defaults (nothing set). */
void config_default(config_t *c);

/* Loads the INI file at path into c (which should hold the defaults). Returns 0, or -1 with one
 * message in err ("path:line: [section] key: ..." or "path: cannot open: ..."); c is then
 * partly filled and must not be used. */
int config_load(config_t *c, const char *path, char *err, size_t errcap);

/* As config_load, from text in memory; name is used in messages in place of a path. */
int config_load_string(config_t *c, const char *name, const char *text, char *err,
                       size_t errcap);

/* Copies the values the file set into o (strings borrowed from c); [simulate] rate_hz, or else
 * [rates] default_rate_hz, becomes the simulated pods' rate. Leaves the rest of o alone. */
void config_apply(const config_t *c, gaitd_opts_t *o);

/* Checks a ZeroMQ endpoint: tcp://HOST:PORT (HOST a name, an IPv4 address, [IPv6], or '*' for
 * every interface; PORT 1..65535) or ipc://PATH. Returns 1 if acceptable. */
int config_endpoint_ok(const char *s);

#endif
