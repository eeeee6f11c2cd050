/* cmd_report.c - gaitctl report [OPTIONS] FILE -o REPORT.html (issue 5).
 * Analyses a recording or gait CSV v1 file like `gaitctl analyze`, evaluates the focus rules
 * and writes a self-contained HTML report (report.h). Exit 0 ok, 1 unusable or damaged input or
 * a bad rules / baseline file (message naming the file and line), 2 bad usage. */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "dsp_focus.h"
#include "feed.h"
#include "gaitctl.h"
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
            "Focus areas are training-aid heuristics, not diagnoses.\n");
}

int cmd_report(int argc, char **argv)
{
    const char *path = NULL, *out = NULL, *json_out = NULL, *rules_path = NULL,
               *base_path = NULL;
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
    if (base_path && report_baseline_load(base_path, &base, err, sizeof err) < 0) {
        fprintf(stderr, "gaitctl report: %s\n", err);
        return 1;
    }
    report_data_t *d = calloc(1, sizeof *d);
    if (!d) {
        fprintf(stderr, "gaitctl report: out of memory\n");
        return 1;
    }
    int rc = report_analyze(path, rate, &rules, base_path ? &base : NULL, d, err, sizeof err);
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
