/* cmd_report.c - gaitctl report [OPTIONS] SESSION_OR_FILE -o REPORT.html (issue 5).
 * Analyses a recording or gait CSV v1 file like `gaitctl analyze` (or the recording of a
 * catalog session given by id with --db), evaluates the focus rules against the athlete's
 * baseline from the catalog when there is enough history (else population ranges) and writes a
 * self-contained HTML report (report.h). Exit 0 ok, 1 unusable or damaged input, a bad rules /
 * baseline file or catalog (message naming the file and line), 2 bad usage. */
#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "catalog.h"
#include "dsp_focus.h"
#include "feed.h"
#include "gaitctl.h"
#include "baseline.h"
#include "report.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: gaitctl report [OPTIONS] FILE -o REPORT.html\n"
            "  FILE              gait CSV v1 or a gaitd recording (.gaitrec)\n"
            "  -o, --output F    HTML report to write ('-' = stdout)\n"
            "  --json F          also write the summary object with the focus list (JSON)\n"
            "  --rules F         focus rules file (default: the built-in dsp/focus_rules.ini)\n"
            "  --baseline F      past sessions' summaries (JSON Lines, e.g. saved `gaitctl\n"
            "                    analyze` output) for a personal baseline\n"
            "  --rate HZ         sampling rate of a CSV file (default: inferred)\n"
            "  --db PATH         session catalog: SESSION_OR_FILE may be a session id (its\n"
            "                    recording is analysed), and the athlete's earlier sessions\n"
            "                    give the personal baseline\n"
            "  --athlete NAME    with --db and a FILE: whose history gives the baseline\n"
            "Focus areas are training-aid heuristics, not diagnoses.\n");
}

typedef struct find_ctx {
    int64_t id;
    int found;
    char recording[1024];
    char athlete[CATALOG_NAME_MAX + 1];
} find_ctx_t;

static int find_cb(const catalog_session_t *row, void *user)
{
    find_ctx_t *c = user;
    if (row->id != c->id)
        return 0;
    c->found = 1;
    snprintf(c->recording, sizeof c->recording, "%s", row->recording ? row->recording : "");
    snprintf(c->athlete, sizeof c->athlete, "%s", row->athlete ? row->athlete : "");
    return 1;
}

static int is_session_id(const char *s)
{
    if (!*s)
        return 0;
    for (const char *p = s; *p; p++)
        if (!isdigit((unsigned char)*p))
            return 0;
    struct stat st;
    return stat(s, &st) != 0; /* an existing file of that name wins */
}

/* Resolves a session id to its recording and builds the baseline from the catalog. Returns 0,
 * or -1 with a message in err. */
static int from_catalog(const char *db, const char **path, const char *athlete, char *rec,
                        size_t reccap, focus_baseline_t *base, int *n_base, char *err,
                        size_t errcap)
{
    catalog_t *c = catalog_open(db, err, errcap);
    if (!c)
        return -1;
    find_ctx_t fc;
    memset(&fc, 0, sizeof fc);
    int rc = 0;
    if (is_session_id(*path)) {
        fc.id = strtoll(*path, NULL, 10);
        int lr = catalog_list_sessions(c, NULL, find_cb, &fc);
        if (lr != CATALOG_OK && lr != CATALOG_ERR_STOPPED) {
            snprintf(err, errcap, "%s", catalog_errmsg(c));
            rc = -1;
        } else if (!fc.found) {
            snprintf(err, errcap, "%s: no session %s", db, *path);
            rc = -1;
        } else if (!fc.recording[0]) {
            snprintf(err, errcap, "%s: session %s has no recording", db, *path);
            rc = -1;
        } else {
            snprintf(rec, reccap, "%s", fc.recording);
            *path = rec;
            athlete = fc.athlete;
        }
    }
    if (!rc && athlete && *athlete) {
        int nb = baseline_from_catalog(c, athlete, fc.found ? fc.id : 0, base);
        if (nb < 0) {
            snprintf(err, errcap, "%s", catalog_errmsg(c));
            rc = -1;
        } else {
            *n_base = nb;
        }
    }
    catalog_close(&c);
    return rc;
}

int cmd_report(int argc, char **argv)
{
    const char *path = NULL, *out = NULL, *json_out = NULL, *rules_path = NULL,
               *base_path = NULL, *db = NULL, *athlete = NULL;
    double rate = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char **dst = NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "-o") || !strcmp(a, "--output"))
            dst = &out;
        else if (!strcmp(a, "--json"))
            dst = &json_out;
        else if (!strcmp(a, "--rules"))
            dst = &rules_path;
        else if (!strcmp(a, "--baseline"))
            dst = &base_path;
        else if (!strcmp(a, "--db"))
            dst = &db;
        else if (!strcmp(a, "--athlete"))
            dst = &athlete;
        else if (!strcmp(a, "--rate")) {
            char *end;
            if (i + 1 >= argc || (rate = strtod(argv[++i], &end), *end) || !(rate >= 1)) {
                fprintf(stderr, "gaitctl report: --rate needs a rate in Hz\n");
                return 2;
            }
            continue;
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "gaitctl report: unknown option '%s'\n", a);
            usage(stderr);
            return 2;
        } else if (!path) {
            path = a;
            continue;
        } else {
            fprintf(stderr, "gaitctl report: one FILE only\n");
            usage(stderr);
            return 2;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "gaitctl report: %s needs a value\n", a);
            return 2;
        }
        *dst = argv[++i];
    }
    if (!path || (!out && !json_out)) {
        usage(stderr);
        return 2;
    }

    char err[512] = "";
    focus_rules_t rules;
    if (report_load_rules(rules_path, &rules, err, sizeof err)) {
        fprintf(stderr, "gaitctl report: %s\n", err);
        return 1;
    }
    focus_baseline_t base;
    focus_baseline_init(&base);
    int n_base = 0;
    if (base_path && (n_base = report_baseline_load(base_path, &base, err, sizeof err)) < 0) {
        fprintf(stderr, "gaitctl report: %s\n", err);
        return 1;
    }
    char rec[1024];
    int n_cat = 0;
    if (db && from_catalog(db, &path, athlete, rec, sizeof rec, &base, &n_cat, err, sizeof err)) {
        fprintf(stderr, "gaitctl report: %s\n", err);
        return 1;
    }
    n_base += n_cat;
    report_data_t *d = calloc(1, sizeof *d);
    if (!d) {
        fprintf(stderr, "gaitctl report: out of memory\n");
        return 1;
    }
    int rc = report_analyze(path, rate, &rules, n_base ? &base : NULL, d, err, sizeof err);
    if (rc < 0) {
        fprintf(stderr, "gaitctl report: %s\n", err);
        report_data_free(d);
        free(d);
        return 1;
    }
    int status = rc ? 1 : 0;
    if (rc)
        fprintf(stderr, "gaitctl report: %s\n", err);
    if (out) {
        FILE *f = strcmp(out, "-") ? fopen(out, "w") : stdout;
        if (!f) {
            fprintf(stderr, "gaitctl report: %s: %s\n", out, strerror(errno));
            status = 1;
        } else {
            int werr = report_write_html(f, d);
            if (f != stdout)
                werr |= fclose(f) != 0;
            else
                werr |= fflush(f) != 0;
            if (werr) {
                fprintf(stderr, "gaitctl report: %s: write error\n", out);
                status = 1;
            }
        }
    }
    if (json_out) {
        json_t *o = feed_summary(NULL, &d->sum);
        if (!o || report_summary_add_focus(o, &d->focus, &d->metrics) ||
            json_dump_file(o, json_out, JSON_COMPACT | JSON_REAL_PRECISION(10))) {
            fprintf(stderr, "gaitctl report: %s: cannot write\n", json_out);
            status = 1;
        }
        json_decref(o);
    }
    report_data_free(d);
    free(d);
    return status;
}
