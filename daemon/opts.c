/* opts.c - gaitd command line parsing (see opts.h). */
#include "opts.h"
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "log.h"

void gaitd_opts_default(gaitd_opts_t *o)
{
    memset(o, 0, sizeof *o);
    o->pub = "tcp://127.0.0.1:5556";
    o->control = "tcp://127.0.0.1:5557";
    o->sim_seed = 1;
    o->speed = 1.0;
    o->log_level = LOG_INFO;
    o->window_period_s = 5.0;
    o->status_period_s = 2.0;
    o->sndhwm = 10000;
    o->usb_erase = 1;
    o->usb_athlete = "usb1";
}

void gaitd_opts_usage(FILE *f)
{
    fputs(
        "usage: gaitd [OPTIONS]\n"
        "Turns foot-pod IMU data into gait metrics published over ZeroMQ.\n"
        "\n"
        "Feeds and control:\n"
        "  --pub ENDPOINT        PUB endpoint for feeds (default tcp://127.0.0.1:5556);\n"
        "                        messages: [gait/<athlete>/<kind>, JSON], kinds stride, window,\n"
        "                        status, summary\n"
        "  --control ENDPOINT    REP endpoint for JSON requests {\"cmd\":\"status\"}, {\"cmd\":\"ping\"}\n"
        "                        (default tcp://127.0.0.1:5557)\n"
        "  --hwm N               send high-water mark per subscriber (default 10000); messages\n"
        "                        beyond it are dropped, never waited for, and counted in status\n"
        "  --wait-subscriber S   start the sources once a feed subscriber is connected, or after\n"
        "                        S seconds at the latest (default 0: start at once)\n"
        "  --window-period S     seconds of data between window messages (default 5)\n"
        "  --status-period S     wall seconds between status messages (default 2)\n"
        "\n"
        "Sources (the daemon exits when every source has ended):\n"
        "  --simulate N          N simulated athletes, named sim1..simN, running in real time\n"
        "  --sim-plan PLAN       activity plan for every simulated athlete, e.g.\n"
        "                        stand:5,walk:60,run:300@180 (seconds per segment, @cadence)\n"
        "  --sim-seed SEED       random seed (default 1); athlete i uses SEED + i - 1\n"
        "  --sim-rate HZ         simulated pod sampling rate (default: the simulator's, 500)\n"
        "  --sim-asym N:KEY=L,R[:KEY=L,R...]\n"
        "                        inject an asymmetry into athlete N: per-foot multipliers of\n"
        "                        KEY = contact (contact time), pushoff (push-off pitch rate) or\n"
        "                        impact (impact peak). Example: --sim-asym 2:contact=1.08,1 gives\n"
        "                        sim2 an 8 %% longer LEFT contact. May be repeated.\n"
        "  --replay FILE         replay a recording (.gaitrec) or a gait CSV v1 file; may be\n"
        "                        given several times (one athlete each)\n"
        "  --speed X             replay and simulation speed: 1 = real time (default), 2 = twice\n"
        "                        as fast, 0 = as fast as possible\n"
        "  --usb                 live USB foot pods (VID 1209 PID 0001, hotplug): one session per\n"
        "                        athlete, pods paired by [pods] or `gaitctl assign` (daemon/USB.md)\n"
        "  --usb-sync            sync the runs stored on a pod when it is plugged in (needs\n"
        "                        --record DIR): download, verify, record, analyse, catalog, erase\n"
        "  --usb-keep-runs       never erase synced runs on the pods\n"
        "  --usb-athlete NAME    athlete of unpaired pods (default usb1; \"\" = not used)\n"
        "  --duration S          stop each source after S seconds of data\n"
        "\n"
        "Storage:\n"
        "  --record DIR          write one recording per athlete session to\n"
        "                        DIR/<athlete>-<UTC time>.gaitrec (raw pod frames, flushed every\n"
        "                        second or 64 KiB)\n"
        "  --db PATH             session catalog (SQLite, created if missing): sessions and\n"
        "                        their summaries; `gaitctl sessions`, `gaitctl history`\n"
        "  --config FILE         configuration file (INI, daemon/CONFIG.md); the flags\n"
        "                        given override its values\n"
        "\n"
        "  --log-level LEVEL     error, warn, info (default) or debug; logs go to stderr\n"
        "  -h, --help            this text;  --version  print the version\n"
        "\n"
        "SIGTERM or SIGINT: finish every session (summary messages), close the recordings, exit 0.\n",
        f);
}

static int parse_double(const char *opt, const char *v, double lo, double hi, double *out,
                        char *err, size_t errcap)
{
    char *end;
    errno = 0;
    double d = strtod(v, &end);
    if (errno || end == v || *end || !isfinite(d) || d < lo || d > hi) {
        snprintf(err, errcap, "%s: expected a number in [%g, %g], got '%s'", opt, lo, hi, v);
        return -1;
    }
    *out = d;
    return 0;
}

/* Parses "a,b" into two positive multipliers. */
static int parse_pair(const char *s, size_t n, double out[2])
{
    char buf[64];
    if (n >= sizeof buf)
        return -1;
    memcpy(buf, s, n);
    buf[n] = '\0';
    char *end;
    errno = 0;
    out[0] = strtod(buf, &end);
    if (end == buf || *end != ',')
        return -1;
    char *b = end + 1;
    out[1] = strtod(b, &end);
    if (end == b || *end || errno)
        return -1;
    for (int i = 0; i < 2; i++)
        if (!isfinite(out[i]) || out[i] <= 0.0 || out[i] > 10.0)
            return -1;
    return 0;
}

int gaitd_opts_parse_asym(const char *s, opts_asym_t *a, char *err, size_t errcap)
{
    a->contact[0] = a->contact[1] = 1.0;
    a->pushoff[0] = a->pushoff[1] = 1.0;
    a->impact[0] = a->impact[1] = 1.0;
    char *end;
    errno = 0;
    long n = strtol(s, &end, 10);
    if (end == s || *end != ':' || errno || n < 1 || n > OPTS_MAX_SIMULATE) {
        snprintf(err, errcap, "--sim-asym '%s': expected N:KEY=L,R with N the athlete number", s);
        return -1;
    }
    a->athlete = (int)n;
    const char *p = end + 1;
    for (;;) {
        const char *colon = strchr(p, ':');
        size_t len = colon ? (size_t)(colon - p) : strlen(p);
        const char *eq = memchr(p, '=', len);
        double *dst = NULL;
        if (eq) {
            size_t kl = (size_t)(eq - p);
            if (kl == 7 && !strncmp(p, "contact", kl))
                dst = a->contact;
            else if (kl == 7 && !strncmp(p, "pushoff", kl))
                dst = a->pushoff;
            else if (kl == 6 && !strncmp(p, "impact", kl))
                dst = a->impact;
        }
        if (!dst || parse_pair(eq + 1, len - (size_t)(eq + 1 - p), dst) != 0) {
            snprintf(err, errcap,
                     "--sim-asym '%s': expected KEY=L,R with KEY contact, pushoff or impact and "
                     "multipliers in (0, 10]",
                     s);
            return -1;
        }
        if (!colon)
            return 0;
        p = colon + 1;
    }
}

int gaitd_opts_parse(gaitd_opts_t *o, int argc, char **argv, char *err, size_t errcap)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            o->help = 1;
            continue;
        }
        if (!strcmp(a, "--version")) {
            o->version = 1;
            continue;
        }
        if (!strcmp(a, "--usb")) {
            o->usb = 1;
            continue;
        }
        if (!strcmp(a, "--usb-sync")) {
            o->usb_sync = 1;
            continue;
        }
        if (!strcmp(a, "--usb-keep-runs")) {
            o->usb_erase = 0;
            continue;
        }
        if (strncmp(a, "--", 2) != 0) {
            snprintf(err, errcap, "unexpected argument '%s' (see --help)", a);
            return -1;
        }
        char name[32];
        const char *val = NULL;
        const char *eq = strchr(a, '=');
        size_t nl = eq ? (size_t)(eq - a) : strlen(a);
        if (nl >= sizeof name) {
            snprintf(err, errcap, "unknown option '%s' (see --help)", a);
            return -1;
        }
        memcpy(name, a, nl);
        name[nl] = '\0';
        if (eq)
            val = eq + 1;
        else if (i + 1 < argc)
            val = argv[i + 1];
        if (!val) {
            snprintf(err, errcap, "%s needs a value", name);
            return -1;
        }
        double d;
        int rc = 0;
        if (!strcmp(name, "--pub")) {
            o->pub = val;
        } else if (!strcmp(name, "--control")) {
            o->control = val;
        } else if (!strcmp(name, "--simulate")) {
            if ((rc = parse_double(name, val, 0, OPTS_MAX_SIMULATE, &d, err, errcap)) == 0) {
                if (d != floor(d)) {
                    snprintf(err, errcap, "--simulate: expected a whole number, got '%s'", val);
                    rc = -1;
                }
                o->simulate = (int)d;
            }
        } else if (!strcmp(name, "--sim-plan")) {
            o->sim_plan = val;
        } else if (!strcmp(name, "--sim-seed")) {
            char *end;
            errno = 0;
            unsigned long long u = strtoull(val, &end, 10);
            if (errno || end == val || *end || val[0] == '-') {
                snprintf(err, errcap, "--sim-seed: expected an unsigned integer, got '%s'", val);
                rc = -1;
            }
            o->sim_seed = u;
        } else if (!strcmp(name, "--sim-rate")) {
            rc = parse_double(name, val, 50, 2000, &o->sim_rate_hz, err, errcap);
        } else if (!strcmp(name, "--sim-asym")) {
            if (o->n_asym == OPTS_MAX_ASYM) {
                snprintf(err, errcap, "--sim-asym: at most %d", OPTS_MAX_ASYM);
                rc = -1;
            } else if ((rc = gaitd_opts_parse_asym(val, &o->asym[o->n_asym], err, errcap)) == 0) {
                o->n_asym++;
            }
        } else if (!strcmp(name, "--replay")) {
            if (o->n_replay == OPTS_MAX_REPLAY) {
                snprintf(err, errcap, "--replay: at most %d files", OPTS_MAX_REPLAY);
                rc = -1;
            } else {
                o->replay[o->n_replay++] = val;
            }
        } else if (!strcmp(name, "--speed")) {
            rc = parse_double(name, val, 0, 1e6, &o->speed, err, errcap);
        } else if (!strcmp(name, "--usb-athlete")) {
            o->usb_athlete = val;
        } else if (!strcmp(name, "--record")) {
            o->record_dir = val;
        } else if (!strcmp(name, "--duration")) {
            rc = parse_double(name, val, 0, 1e9, &o->duration_s, err, errcap);
        } else if (!strcmp(name, "--db")) {
            o->db = val;
        } else if (!strcmp(name, "--config")) {
            o->config = val;
        } else if (!strcmp(name, "--log-level")) {
            o->log_level = log_level_parse(val);
            if (o->log_level < 0) {
                snprintf(err, errcap, "--log-level: expected error, warn, info or debug, got '%s'",
                         val);
                rc = -1;
            }
        } else if (!strcmp(name, "--wait-subscriber")) {
            rc = parse_double(name, val, 0, 3600, &o->wait_subscriber_s, err, errcap);
        } else if (!strcmp(name, "--window-period")) {
            rc = parse_double(name, val, 0.5, 3600, &o->window_period_s, err, errcap);
        } else if (!strcmp(name, "--status-period")) {
            rc = parse_double(name, val, 0.05, 3600, &o->status_period_s, err, errcap);
        } else if (!strcmp(name, "--hwm")) {
            if ((rc = parse_double(name, val, 1, 10000000, &d, err, errcap)) == 0)
                o->sndhwm = (int)d;
        } else {
            snprintf(err, errcap, "unknown option '%s' (see --help)", name);
            return -1;
        }
        if (rc)
            return -1;
        if (!eq)
            i++;
    }
    for (int k = 0; k < o->n_asym; k++)
        if (o->asym[k].athlete > o->simulate) {
            snprintf(err, errcap, "--sim-asym: athlete %d is not simulated (--simulate %d)",
                     o->asym[k].athlete, o->simulate);
            return -1;
        }
    return 0;
}
