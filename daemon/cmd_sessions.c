/* cmd_sessions.c - gaitctl sessions [ATHLETE] and gaitctl history ATHLETE: the session catalog.
 *
 *   gaitctl sessions [--db PATH] [--json] [ATHLETE]   sessions, newest first
 *   gaitctl history  [--db PATH] [--json] ATHLETE     finished sessions, oldest first, with the
 *                                                     trend of cadence, contact time and symmetry
 *                                                     per session and per ISO week
 * The catalog is --db PATH, else $GAITD_DB, else the db of --config FILE, else
 * /var/lib/gaitd/catalog.db. --json prints JSON Lines: one {"type":"session",...} object per
 * session; history adds one {"type":"week",...} object per ISO week after them.
 * Exit 0 ok, 1 no catalog or a database error (message on stderr naming the path), 2 bad usage.
 */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include "catalog.h"
#include "config.h"
#include "gaitctl.h"


#define DEFAULT_DB "/var/lib/gaitd/catalog.db"
#define JSON_FLAGS (JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10))

typedef struct args {
    const char *db;
    const char *config;
    const char *athlete;
    int json;
} args_t;

static void usage(FILE *f, int history)
{
    if (history)
        fprintf(f, "usage: gaitctl history [--db PATH | --config FILE] [--json] ATHLETE\n"
                   "  finished sessions of ATHLETE, oldest first: cadence, contact time and\n"
                   "  symmetry per session, then means per ISO week\n");
    else
        fprintf(f, "usage: gaitctl sessions [--db PATH | --config FILE] [--json] [ATHLETE]\n"
                   "  sessions in the catalog (all athletes or ATHLETE's), newest first\n");
    fprintf(f, "  --db PATH      session catalog (default: $GAITD_DB, else " DEFAULT_DB ")\n"
               "  --config FILE  take the catalog path from gaitd's configuration file\n"
               "  --json         JSON Lines instead of a table\n");
}

static int parse_args(int argc, char **argv, int history, args_t *a)
{
    memset(a, 0, sizeof *a);
    for (int i = 1; i < argc; i++) {
        const char *s = argv[i];
        if (!strcmp(s, "-h") || !strcmp(s, "--help")) {
            usage(stdout, history);
            return 0;
        } else if (!strcmp(s, "--json")) {
            a->json = 1;
        } else if (!strcmp(s, "--db") || !strcmp(s, "--config")) {
            if (i + 1 >= argc) {
                fprintf(stderr, "gaitctl %s: %s needs a value\n", argv[0], s);
                return 2;
            }
            if (s[2] == 'd')
                a->db = argv[++i];
            else
                a->config = argv[++i];
        } else if (!strncmp(s, "--db=", 5)) {
            a->db = s + 5;
        } else if (!strncmp(s, "--config=", 9)) {
            a->config = s + 9;
        } else if (s[0] == '-' && s[1]) {
            fprintf(stderr, "gaitctl %s: unknown option '%s'\n", argv[0], s);
            usage(stderr, history);
            return 2;
        } else if (!a->athlete) {
            a->athlete = s;
        } else {
            fprintf(stderr, "gaitctl %s: unexpected argument '%s'\n", argv[0], s);
            usage(stderr, history);
            return 2;
        }
    }
    if (history && !a->athlete) {
        fprintf(stderr, "gaitctl history: which athlete?\n");
        usage(stderr, history);
        return 2;
    }
    return -1;
}

/* Opens the catalog named by the arguments; it must exist (a reader never creates one). */
static catalog_t *open_catalog(const args_t *a, const char *cmd)
{
    static config_t cfg;             /* large: keep it off the stack; gaitctl is one-shot */
    char err[600];
    const char *path = a->db;
    if (!path && !a->config)
        path = getenv("GAITD_DB");
    if (!path && a->config) {
        config_default(&cfg);
        if (config_load(&cfg, a->config, err, sizeof err) != 0) {
            fprintf(stderr, "gaitctl %s: %s\n", cmd, err);
            return NULL;
        }
        if (!(cfg.set & CONFIG_DB)) {
            fprintf(stderr, "gaitctl %s: %s: no [daemon] db: no session catalog configured\n",
                    cmd, a->config);
            return NULL;
        }
        path = cfg.db;
    }
    if (!path || !*path)
        path = DEFAULT_DB;
    struct stat st;
    if (stat(path, &st) != 0) {
        fprintf(stderr, "gaitctl %s: %s: no session catalog there (give --db PATH; gaitd makes "
                "it with --db)\n", cmd, path);
        return NULL;
    }
    catalog_t *c = catalog_open(path, err, sizeof err);
    if (!c)
        fprintf(stderr, "gaitctl %s: %s\n", cmd, err);
    return c;
}

static void set_real(json_t *o, const char *key, double v)
{
    json_object_set_new(o, key, isfinite(v) ? json_real(v) : json_null());
}

/* Top focus area of a focus JSON array as "calves L 0.72", or "-". */
static void top_focus(const char *focus_json, char *out, size_t cap)
{
    snprintf(out, cap, "-");
    if (!focus_json)
        return;
    json_t *f = json_loads(focus_json, 0, NULL);
    json_t *e = json_is_array(f) ? json_array_get(f, 0) : NULL;
    const char *area = json_string_value(json_object_get(e, "area"));
    const char *side = json_string_value(json_object_get(e, "side"));
    json_t *score = json_object_get(e, "score");
    if (area)
        snprintf(out, cap, "%s %s %.2f", area, side ? side : "", json_number_value(score));
    json_decref(f);
}

/* "12.3" or "-" for a metric. */
static const char *num(char *buf, size_t cap, const char *fmt, double v)
{
    if (!isfinite(v))
        snprintf(buf, cap, "-");
    else
        snprintf(buf, cap, fmt, v);
    return buf;
}

static json_t *session_json(const catalog_session_t *r)
{
    return catalog_session_json(r);
}

static int print_json(json_t *o)
{
    char *line = json_dumps(o, JSON_FLAGS);
    json_decref(o);
    if (!line)
        return 1;
    puts(line);
    free(line);
    return 0;
}

static void table_head(int with_athlete)
{
    printf("%6s  %-*s%-20s  %-11s  %-10s  %8s  %7s  %7s  %11s  %8s  %8s  %s\n", "id",
           with_athlete ? 17 : 0, with_athlete ? "athlete" : "", "started (UTC)", "state",
           "source", "duration", "strides", "cadence", "contact L/R", "SI cont%", "SI step%",
           "top focus");
}

static void table_row(const catalog_session_t *r, int with_athlete)
{
    char dur[16], cad[16], cl[16], cr[16], csi[16], ssi[16], contact[32], focus[64], start[20];
    snprintf(start, sizeof start, "%.16s", r->started_utc ? r->started_utc : "?");
    for (char *p = start; *p; p++)
        if (*p == 'T')
            *p = ' ';
    if (isfinite(r->sum.duration_s))
        snprintf(dur, sizeof dur, "%d:%02d", (int)(r->sum.duration_s / 60),
                 (int)fmod(r->sum.duration_s, 60));
    else
        snprintf(dur, sizeof dur, "-");
    snprintf(contact, sizeof contact, "%s/%s", num(cl, sizeof cl, "%.0f", r->sum.contact_s[0] * 1e3),
             num(cr, sizeof cr, "%.0f", r->sum.contact_s[1] * 1e3));
    top_focus(r->sum.focus_json, focus, sizeof focus);
    printf("%6lld  %-*.*s%-20s  %-11s  %-10.10s  %8s  %7u  %7s  %8s ms  %8s  %8s  %s\n",
           (long long)r->id, with_athlete ? 17 : 0, with_athlete ? 16 : 0,
           with_athlete ? r->athlete : "", start, r->state, r->source, dur,
           r->sum.strides[0] + r->sum.strides[1], num(cad, sizeof cad, "%.1f", r->sum.cadence_spm),
           contact, num(csi, sizeof csi, "%+.1f", r->sum.contact_si_pct),
           num(ssi, sizeof ssi, "%+.1f", r->sum.step_si_pct), focus);
}

typedef struct list_ctx {
    int json, with_athlete, n, failed;
} list_ctx_t;

static int list_cb(const catalog_session_t *r, void *user)
{
    list_ctx_t *x = user;
    if (x->json)
        x->failed |= print_json(session_json(r));
    else
        table_row(r, x->with_athlete);
    x->n++;
    return 0;
}

int cmd_sessions(int argc, char **argv)
{
    args_t a;
    int rc = parse_args(argc, argv, 0, &a);
    if (rc >= 0)
        return rc;
    catalog_t *c = open_catalog(&a, "sessions");
    if (!c)
        return 1;
    list_ctx_t x = {.json = a.json, .with_athlete = !a.athlete};
    if (!a.json)
        table_head(x.with_athlete);
    rc = catalog_list_sessions(c, a.athlete, list_cb, &x);
    if (rc != CATALOG_OK) {
        fprintf(stderr, "gaitctl sessions: %s\n", catalog_errmsg(c));
        catalog_close(&c);
        return 1;
    }
    if (!a.json && x.n == 0)
        printf("(no sessions%s%s)\n", a.athlete ? " of " : "", a.athlete ? a.athlete : "");
    catalog_close(&c);
    return x.failed ? 1 : 0;
}

/* Running means per ISO week. */
typedef struct week {
    char name[16];
    int n;
    double dur, cad, csi, ssi, abs_csi;
    int n_cad, n_csi, n_ssi;
} week_t;

typedef struct hist_ctx {
    int json, n, failed;
    week_t *weeks;
    int n_weeks, cap_weeks;
    double first_cad, first_csi;     /* of the first session that has them, NAN before */
} hist_ctx_t;

static void add(double v, double *sum, int *n)
{
    if (isfinite(v)) {
        *sum += v;
        (*n)++;
    }
}

static int hist_cb(const catalog_session_t *r, void *user)
{
    hist_ctx_t *x = user;
    char week[16];
    catalog_iso_week(r->started_utc, week, sizeof week);
    if (!x->n_weeks || strcmp(x->weeks[x->n_weeks - 1].name, week)) {
        if (x->n_weeks == x->cap_weeks) {
            int cap = x->cap_weeks ? 2 * x->cap_weeks : 16;
            week_t *w = realloc(x->weeks, (size_t)cap * sizeof *w);
            if (!w) {
                x->failed = 1;
                return 1;
            }
            x->weeks = w;
            x->cap_weeks = cap;
        }
        week_t *w = &x->weeks[x->n_weeks++];
        memset(w, 0, sizeof *w);
        snprintf(w->name, sizeof w->name, "%s", week);
    }
    week_t *w = &x->weeks[x->n_weeks - 1];
    w->n++;
    if (isfinite(r->sum.duration_s))
        w->dur += r->sum.duration_s;
    add(r->sum.cadence_spm, &w->cad, &w->n_cad);
    int before = w->n_csi;
    add(r->sum.contact_si_pct, &w->csi, &w->n_csi);
    if (w->n_csi > before)
        w->abs_csi += fabs(r->sum.contact_si_pct);
    add(r->sum.step_si_pct, &w->ssi, &w->n_ssi);
    if (x->json) {
        x->failed |= print_json(session_json(r));
    } else {
        char d1[16], d2[16];
        printf("%-9s ", week);
        table_row(r, 0);
        double dc = r->sum.cadence_spm - x->first_cad, ds = r->sum.contact_si_pct - x->first_csi;
        if (isfinite(dc) || isfinite(ds))
            printf("%9s         vs first session: cadence %s spm, contact SI %s pp\n", "",
                   num(d1, sizeof d1, "%+.1f", dc), num(d2, sizeof d2, "%+.1f", ds));
        if (isnan(x->first_cad))
            x->first_cad = r->sum.cadence_spm;
        if (isnan(x->first_csi))
            x->first_csi = r->sum.contact_si_pct;
    }
    x->n++;
    return 0;
}

static double mean(double sum, int n)
{
    return n ? sum / n : NAN;
}

int cmd_history(int argc, char **argv)
{
    args_t a;
    int rc = parse_args(argc, argv, 1, &a);
    if (rc >= 0)
        return rc;
    catalog_t *c = open_catalog(&a, "history");
    if (!c)
        return 1;
    hist_ctx_t x = {.json = a.json, .first_cad = NAN, .first_csi = NAN};
    if (!a.json) {
        printf("history of %s (finished sessions, oldest first; SI = 100*(L-R)/mean, + = left "
               "larger)\n%-9s ", a.athlete, "week");
        table_head(0);
    }
    rc = catalog_history(c, a.athlete, hist_cb, &x);
    if (rc != CATALOG_OK) {
        fprintf(stderr, "gaitctl history: %s\n", rc == CATALOG_ERR_STOPPED ? "out of memory"
                                                                            : catalog_errmsg(c));
        free(x.weeks);
        catalog_close(&c);
        return 1;
    }
    if (!a.json && x.n == 0) {
        int64_t any = catalog_count_sessions(c, a.athlete);
        printf("(no finished sessions of %s%s)\n", a.athlete,
               any > 0 ? "; some are still running" : "");
    }
    if (!a.json && x.n_weeks)
        printf("\n%-9s  %8s  %8s  %12s  %12s  %13s\n", "week", "sessions", "minutes",
               "cadence spm", "contact SI %", "|contact SI| %");
    for (int i = 0; i < x.n_weeks; i++) {
        const week_t *w = &x.weeks[i];
        double cad = mean(w->cad, w->n_cad), csi = mean(w->csi, w->n_csi),
               acsi = mean(w->abs_csi, w->n_csi), ssi = mean(w->ssi, w->n_ssi);
        if (a.json) {
            json_t *o = json_object();
            json_object_set_new(o, "type", json_string("week"));
            json_object_set_new(o, "athlete", json_string(a.athlete));
            json_object_set_new(o, "week", json_string(w->name));
            json_object_set_new(o, "sessions", json_integer(w->n));
            set_real(o, "duration_s", w->dur);
            set_real(o, "cadence_spm", cad);
            set_real(o, "contact_si_pct", csi);
            set_real(o, "abs_contact_si_pct", acsi);
            set_real(o, "step_si_pct", ssi);
            x.failed |= print_json(o);
        } else {
            char b1[16], b2[16], b3[16];
            printf("%-9s  %8d  %8.0f  %12s  %12s  %13s\n", w->name, w->n, w->dur / 60,
                   num(b1, sizeof b1, "%.1f", cad), num(b2, sizeof b2, "%+.1f", csi),
                   num(b3, sizeof b3, "%.1f", acsi));
        }
    }
    free(x.weeks);
    catalog_close(&c);
    return x.failed ? 1 : 0;
}
