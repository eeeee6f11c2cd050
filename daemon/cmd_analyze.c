/* cmd_analyze.c - gaitctl analyze [--rate HZ] FILE (../shared/CONTRACT.md).
 * Reads gait CSV v1 or a recording through input.h, feeds every sample to one dsp_pipeline and
 * prints JSON Lines on stdout: one "stride" object per detected stride in time order of t_ic
 * (written by feed_stride_write: fixed decimals per unit, FEEDS.md), then one "summary" object
 * (jansson); stdout is fully buffered with a large buffer. Exit 0 ok, 1 unusable or damaged
 * input (message on stderr from the reader; everything before the damage is still analysed and
 * printed), 2 bad usage. */
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "dsp.h"
#include "dsp_focus.h"
#include "feed.h"
#include "gaitctl.h"
#include "input.h"
#include "report.h"

#define JSON_FLAGS (JSON_COMPACT | JSON_REAL_PRECISION(16))

typedef struct stride_list {
    dsp_stride_t *v;
    size_t n, cap;
} stride_list_t;

static void usage(FILE *f)
{
    fprintf(f, "usage: gaitctl analyze [--rate HZ] FILE\n"
               "  FILE     gait CSV v1 or a gaitd recording (.gaitrec)\n"
               "  --rate   sampling rate of a CSV file in Hz (default: inferred from time_s)\n"
               "  --rules F     focus rules file (default: the built-in dsp/focus_rules.ini)\n"
               "  --baseline F  past sessions' summaries (JSON Lines) for a personal baseline\n"
               "prints one JSON object per stride (time order), then a summary object\n");
}

static int list_push(stride_list_t *l, const dsp_stride_t *s)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 256;
        dsp_stride_t *v = realloc(l->v, cap * sizeof *v);
        if (!v)
            return -1;
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = *s;
    return 0;
}

/* Stable order by t_ic (ties: left foot first, then per-foot index). */
static int by_time(const void *a, const void *b)
{
    const dsp_stride_t *x = a, *y = b;
    if (x->t_ic != y->t_ic)
        return x->t_ic < y->t_ic ? -1 : 1;
    if (x->foot != y->foot)
        return x->foot < y->foot ? -1 : 1;
    return x->index < y->index ? -1 : (x->index > y->index);
}

static int print_json(json_t *o)
{
    if (!o)
        return -1;
    int rc = json_dumpf(o, stdout, JSON_FLAGS);
    json_decref(o);
    if (rc == 0 && fputc('\n', stdout) == EOF)
        rc = -1;
    return rc;
}

static int print_stride(const dsp_stride_t *s)
{
    char line[FEED_STRIDE_LINE_MAX];
    int n = feed_stride_write(s, line, sizeof line);
    return n > 0 && fwrite(line, 1, (size_t)n, stdout) == (size_t)n ? 0 : -1;
}

static int drain(dsp_pipeline_t *p, stride_list_t *l)
{
    dsp_stride_t st;
    while (dsp_pipeline_pop_stride(p, &st))
        if (list_push(l, &st))
            return -1;
    return 0;
}

static int parse_rate(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v) || v < 1.0 || v > 100000.0)
        return -1;
    *out = v;
    return 0;
}

int cmd_analyze(int argc, char **argv)
{
    double rate = 0.0;
    const char *path = NULL, *rules_path = NULL, *base_path = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--rate") || !strncmp(a, "--rate=", 7)) {
            const char *v = a[6] == '=' ? a + 7 : (i + 1 < argc ? argv[++i] : NULL);
            if (!v || parse_rate(v, &rate)) {
                fprintf(stderr, "gaitctl analyze: --rate needs a rate in Hz\n");
                return 2;
            }
        } else if (!strcmp(a, "--rules") || !strcmp(a, "--baseline")) {
            if (i + 1 >= argc) {
                fprintf(stderr, "gaitctl analyze: %s needs a file\n", a);
                return 2;
            }
            *(!strcmp(a, "--rules") ? &rules_path : &base_path) = argv[++i];
        } else if (!strcmp(a, "--")) {
            if (i + 1 < argc && !path)
                path = argv[++i];
            if (i + 1 < argc) {
                usage(stderr);
                return 2;
            }
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "gaitctl analyze: unknown option '%s'\n", a);
            usage(stderr);
            return 2;
        } else if (!path) {
            path = a;
        } else {
            fprintf(stderr, "gaitctl analyze: one FILE only\n");
            usage(stderr);
            return 2;
        }
    }
    if (!path) {
        usage(stderr);
        return 2;
    }

    char err[512] = "";
    focus_rules_t rules;
    focus_baseline_t base;
    focus_baseline_init(&base);
    if (report_load_rules(rules_path, &rules, err, sizeof err) ||
        (base_path && report_baseline_load(base_path, &base, err, sizeof err) < 0)) {
        fprintf(stderr, "gaitctl analyze: %s\n", err);
        return 1;
    }
    input_t *in = input_open(path, rate, err, sizeof err);
    if (!in) {
        fprintf(stderr, "gaitctl analyze: %s\n", err[0] ? err : path);
        return 1;
    }
    dsp_settings_t set = dsp_settings_default();
    dsp_pipeline_t *p = dsp_pipeline_new(&set);
    stride_list_t list = {NULL, 0, 0};
    int status = 0;
    if (!p) {
        fprintf(stderr, "gaitctl analyze: out of memory\n");
        input_free(&in);
        return 1;
    }
    unsigned long n_samples = 0, n_rejected = 0;
    int oom = 0;
    while (!oom) {
        /* samples in batches, in input order (input_next_refs: the same order as one by one) */
        enum { BATCH = 64 };
        int foot[BATCH];
        const dsp_sample_t *s[BATCH];
        err[0] = '\0';
        int r = input_next_refs(in, foot, s, BATCH, err, sizeof err);
        if (r == 0)
            break;
        if (r < 0) {
            fprintf(stderr, "gaitctl analyze: %s\n", err[0] ? err : "damaged input");
            status = 1;
            continue;
        }
        /* strides wait in the pipeline's queue (a few per second of data): collected after
         * every 64th sample, and once more after dsp_pipeline_finish; the pushes between two
         * collections in one tight loop */
        for (int i = 0; i < r && !oom;) {
            int m = 64 - (int)(n_samples & 63u);
            if (m > r - i)
                m = r - i;
            for (const int end = i + m; i < end; i++)
                n_rejected += dsp_pipeline_push(p, foot[i], s[i]) < 0;
            n_samples += (unsigned long)m;
            if ((n_samples & 63u) == 0 && drain(p, &list)) {
                fprintf(stderr, "gaitctl analyze: out of memory\n");
                status = 1;
                oom = 1;
            }
        }
    }
    if (input_damaged(in))
        status = 1;
    if (n_samples == 0) {
        fprintf(stderr, "gaitctl analyze: %s: no samples\n", path);
        status = 1;
    }
    if (n_rejected)
        fprintf(stderr,
                "gaitctl analyze: %s: %lu samples rejected (non-finite or out of time order)\n",
                path, n_rejected);
    dsp_pipeline_finish(p);
    if (drain(p, &list)) {
        fprintf(stderr, "gaitctl analyze: out of memory\n");
        status = 1;
    }
    qsort(list.v, list.n, sizeof *list.v, by_time); /* key includes foot and index: stable */
    int out_err = 0;
    static char outbuf[1 << 18]; /* set before the first output; fewer, larger writes */
    setvbuf(stdout, outbuf, _IOFBF, sizeof outbuf);
    for (size_t i = 0; i < list.n && !out_err; i++)
        out_err = print_stride(&list.v[i]);
    dsp_summary_t sum;
    dsp_pipeline_summary(p, &sum);
    if (!out_err) {
        /* focus areas (issue 5, dsp/FOCUS.md) from the same strides */
        focus_acc_t acc;
        focus_metrics_t fm;
        focus_result_t *fr = malloc(sizeof *fr);
        json_t *o = feed_summary(NULL, &sum);
        focus_acc_init(&acc);
        for (size_t i = 0; i < list.n; i++)
            focus_acc_add(&acc, &list.v[i]);
        focus_metrics_compute(&acc, &sum, rules.min_strides, &fm);
        if (fr)
            focus_evaluate(&rules, &fm, base_path ? &base : NULL, fr);
        if (!fr || (o && report_summary_add_focus(o, fr, &fm))) {
            json_decref(o);
            o = NULL;
        }
        free(fr);
        out_err = print_json(o);
    }
    if (fflush(stdout) != 0)
        out_err = -1;
    if (out_err) {
        fprintf(stderr, "gaitctl analyze: cannot write output\n");
        status = 1;
    }
    free(list.v);
    dsp_pipeline_free(&p);
    input_free(&in);
    return status;
}
