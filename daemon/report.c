/* report.c - focus JSON, session analysis for reports and the HTML report (report.h). */
#include "report.h"
#include <errno.h>
#include <fftw3.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "feed.h"
#include "input.h"

#define WINDOW_PERIOD_S 5.0  /* one plot point per 5 s of data */
#define SPEC_FS 100.0        /* spectra: gyr_y averaged into 10 ms bins */
#define SPEC_N 1024          /* 10.24 s segments, 0.098 Hz bins, 50 % overlap, Hann */
#define SPEC_MAX_HZ 8.0

#define DISCLAIMER_TEXT                                                                            \
    "Focus areas are training-aid heuristics derived from gait asymmetry and load, not medical "   \
    "diagnoses; see a professional about pain or injury."

/* ---------------------------------------------------------------- JSON */

static int set_new(json_t *o, const char *k, json_t *v)
{
    return v ? json_object_set_new(o, k, v) : -1;
}

json_t *report_focus_json(const focus_result_t *r)
{
    json_t *a = json_array();
    if (!a)
        return NULL;
    for (int i = 0; i < r->n; i++) {
        const focus_entry_t *e = &r->e[i];
        json_t *o = json_object(), *ev = json_array(), *ind = json_array();
        int err = !o || !ev || !ind;
        int any_base = 0;
        for (int k = 0; !err && k < e->n_evidence; k++) {
            err |= json_array_append_new(ev, json_string(e->evidence[k]));
            err |= json_array_append_new(ind, json_string(e->rule[k]));
            any_base |= e->baseline[k];
        }
        if (!err) {
            err |= set_new(o, "area", json_string(focus_area_name(e->area)));
            err |= set_new(o, "side", json_string(focus_side_name(e->side)));
            err |= set_new(o, "score", json_real(round(e->score * 1000.0) / 1000.0));
            err |= json_object_set(o, "evidence", ev);
            err |= json_object_set(o, "indicators", ind);
            err |= set_new(o, "reference", json_string(any_base ? "baseline" : "population"));
            err |= json_array_append(a, o);
        }
        json_decref(o);
        json_decref(ev);
        json_decref(ind);
        if (err) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

json_t *report_metrics_json(const focus_metrics_t *m)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    for (int i = 0; i < FM_COUNT; i++)
        if (isfinite(m->v[i]) && set_new(o, focus_metric_name(i), json_real(m->v[i]))) {
            json_decref(o);
            return NULL;
        }
    return o;
}

int report_metrics_from_json(const json_t *o, focus_metrics_t *m)
{
    focus_metrics_clear(m);
    const json_t *fm = json_object_get(o, "focus_metrics");
    if (fm)
        o = fm;
    if (!json_is_object(o))
        return 0;
    int n = 0;
    for (int i = 0; i < FM_COUNT; i++) {
        json_t *v = json_object_get(o, focus_metric_name(i));
        if (json_is_number(v)) {
            m->v[i] = json_number_value(v);
            n++;
        }
    }
    return n;
}

int report_summary_add_focus(json_t *summary, const focus_result_t *r, const focus_metrics_t *m)
{
    int err = set_new(summary, "focus", report_focus_json(r));
    err |= set_new(summary, "focus_metrics", report_metrics_json(m));
    if (r->recovery) {
        json_t *rec = json_object();
        err |= rec ? 0 : -1;
        if (rec) {
            err |= set_new(rec, "advice", json_string(r->recovery_text));
            err |= json_object_set_new(summary, "recovery", rec);
        }
    }
    return err ? -1 : 0;
}

json_t *report_focus_message(const char *athlete, double t, int final, const focus_result_t *r)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    int err = set_new(o, "type", json_string("focus"));
    err |= set_new(o, "v", json_integer(FEED_PROTO_VERSION));
    if (athlete)
        err |= set_new(o, "athlete", json_string(athlete));
    err |= set_new(o, "t", isfinite(t) ? json_real(t) : json_null());
    err |= set_new(o, "final", json_boolean(final));
    err |= set_new(o, "focus", report_focus_json(r));
    if (r->recovery)
        err |= set_new(o, "recovery", json_string(r->recovery_text));
    err |= set_new(o, "disclaimer", json_string(DISCLAIMER_TEXT));
    if (err) {
        json_decref(o);
        return NULL;
    }
    return o;
}

int report_baseline_load(const char *path, focus_baseline_t *b, char *err, size_t errcap)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errcap, "%s: cannot open", path);
        return -1;
    }
    char *line = NULL;
    size_t cap = 0;
    unsigned long ln = 0;
    int n = 0;
    while (getline(&line, &cap, f) > 0) {
        ln++;
        if (line[0] == '\n' || line[0] == '#')
            continue;
        json_error_t je;
        json_t *o = json_loads(line, 0, &je);
        if (!o) {
            snprintf(err, errcap, "%s:%lu: not JSON (%s)", path, ln, je.text);
            free(line);
            fclose(f);
            return -1;
        }
        const char *type = json_string_value(json_object_get(o, "type"));
        focus_metrics_t m;
        if (type && !strcmp(type, "summary") && report_metrics_from_json(o, &m) > 0) {
            focus_baseline_add(b, &m);
            n++;
        }
        json_decref(o);
    }
    free(line);
    fclose(f);
    return n;
}

/* ---------------------------------------------------------------- rules file */

/* Reads a whole text file; caller frees. NULL with a message in err. */
static char *slurp(const char *path, char *err, size_t errcap)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errcap, "%s: %s", path, strerror(errno));
        return NULL;
    }
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        if (n + 1 >= cap) {
            char *b = realloc(buf, cap * 2);
            if (!b) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = b;
            cap *= 2;
        }
        size_t r = fread(buf + n, 1, cap - n - 1, f);
        n += r;
        if (r == 0)
            break;
    }
    int bad = ferror(f);
    fclose(f);
    if (!buf || bad) {
        free(buf);
        snprintf(err, errcap, "%s: cannot read", path);
        return NULL;
    }
    buf[n] = '\0';
    return buf;
}

int report_load_rules(const char *path, focus_rules_t *rules, char *err, size_t errcap)
{
    if (!path)
        return focus_rules_default(rules, err, errcap);
    char *text = slurp(path, err, errcap);
    if (!text)
        return -1;
    int rc = focus_rules_parse(rules, text, path, err, errcap);
    free(text);
    return rc;
}

/* ---------------------------------------------------------------- analysis */

typedef struct binner {
    float *v;                        /* 100 Hz series of gyr_y */
    size_t n, cap;
    double t0;                       /* time of bin 0 */
    long cur;                        /* bin being filled, -1 none */
    double acc;
    int cnt;
} binner_t;

static int bin_store(binner_t *b, long idx, float x)
{
    if (idx < 0 || idx > 100L * 3600 * 24)
        return 0;
    while ((size_t)idx >= b->cap) {
        size_t cap = b->cap ? 2 * b->cap : 65536;
        float *v = realloc(b->v, cap * sizeof *v);
        if (!v)
            return -1;
        b->v = v;
        b->cap = cap;
    }
    float last = b->n ? b->v[b->n - 1] : 0.0f;
    while (b->n < (size_t)idx) /* gaps (rates under 100 Hz, dropouts): hold */
        b->v[b->n++] = last;
    b->v[b->n++] = x;
    return 0;
}

static int bin_push(binner_t *b, double t0, double t, float x)
{
    long idx = (long)floor((t - t0) * SPEC_FS);
    if (b->cur < 0)
        b->cur = idx;
    if (idx != b->cur) {
        if (b->cnt && bin_store(b, b->cur, (float)(b->acc / b->cnt)))
            return -1;
        b->cur = idx;
        b->acc = 0;
        b->cnt = 0;
    }
    b->acc += x;
    b->cnt++;
    return 0;
}

static int bin_flush(binner_t *b)
{
    if (b->cnt && bin_store(b, b->cur, (float)(b->acc / b->cnt)))
        return -1;
    b->cnt = 0;
    return 0;
}

/* Welch mean power spectrum of x[0..n) (SPEC_N segments, Hann, 50 % overlap). */
static float *welch(const float *x, size_t n, size_t *nbins)
{
    size_t nb = SPEC_N / 2 + 1;
    if (n < SPEC_N)
        return NULL;
    float *in = fftwf_alloc_real(SPEC_N);
    fftwf_complex *out = fftwf_alloc_complex(nb);
    float *p = calloc(nb, sizeof *p);
    if (!in || !out || !p) {
        fftwf_free(in);
        fftwf_free(out);
        free(p);
        return NULL;
    }
    fftwf_plan plan = fftwf_plan_dft_r2c_1d(SPEC_N, in, out, FFTW_ESTIMATE);
    size_t segs = 0;
    for (size_t s = 0; s + SPEC_N <= n; s += SPEC_N / 2) {
        double mean = 0;
        for (size_t i = 0; i < SPEC_N; i++)
            mean += x[s + i];
        mean /= SPEC_N;
        for (size_t i = 0; i < SPEC_N; i++) {
            double w = 0.5 - 0.5 * cos(2 * M_PI * (double)i / (SPEC_N - 1));
            in[i] = (float)((x[s + i] - mean) * w);
        }
        fftwf_execute(plan);
        for (size_t k = 0; k < nb; k++)
            p[k] += out[k][0] * out[k][0] + out[k][1] * out[k][1];
        segs++;
    }
    for (size_t k = 0; k < nb; k++)
        p[k] /= (float)segs;
    fftwf_destroy_plan(plan);
    fftwf_free(in);
    fftwf_free(out);
    *nbins = nb;
    return p;
}

static int add_window(report_data_t *d, const dsp_window_t *w, double t)
{
    if (d->n_win == d->cap_win) {
        size_t cap = d->cap_win ? 2 * d->cap_win : 256;
        report_window_t *v = realloc(d->win, cap * sizeof *v);
        if (!v)
            return -1;
        d->win = v;
        d->cap_win = cap;
    }
    report_window_t *r = &d->win[d->n_win++];
    r->t = t;
    r->mode = w->mode;
    r->cadence_spm = w->cadence_events_spm;
    for (int f = 0; f < 2; f++)
        r->contact_ms[f] = w->foot[f].n ? 1000.0 * w->foot[f].contact_s : NAN;
    r->contact_si = w->contact_si_pct;
    r->step_si = w->step_si_pct;
    r->pushoff_si = dsp_symmetry_index(w->foot[0].pushoff_dps, w->foot[1].pushoff_dps);
    r->impact_si = dsp_symmetry_index(w->foot[0].impact_g, w->foot[1].impact_g);
    return 0;
}

int report_analyze(const char *path, double rate_hz, const focus_rules_t *rules,
                   const focus_baseline_t *baseline, report_data_t *d, char *err, size_t errcap)
{
    memset(d, 0, sizeof *d);
    snprintf(d->source, sizeof d->source, "%s", path);
    d->stride_hz = NAN;
    focus_acc_init(&d->acc);
    focus_metrics_clear(&d->metrics);
    input_t *in = input_open(path, rate_hz, err, errcap);
    if (!in)
        return -1;
    dsp_settings_t set = dsp_settings_default();
    dsp_pipeline_t *p = dsp_pipeline_new(&set);
    binner_t bins[2];
    memset(bins, 0, sizeof bins);
    bins[0].cur = bins[1].cur = -1;
    if (!p) {
        snprintf(err, errcap, "%s: out of memory", path);
        input_free(&in);
        return -1;
    }
    int status = 0, oom = 0;
    double t0 = NAN, next_win = NAN, t_last = NAN;
    char msg[512];
    for (;;) {
        int foot;
        dsp_sample_t s;
        msg[0] = '\0';
        int r = input_next(in, &foot, &s, msg, sizeof msg);
        if (r == 0)
            break;
        if (r < 0) {
            if (!status)
                snprintf(err, errcap, "%s", msg[0] ? msg : "damaged input");
            status = 1;
            continue;
        }
        d->n_samples++;
        if (isnan(t0)) {
            t0 = s.t;
            next_win = t0 + WINDOW_PERIOD_S;
        }
        if (dsp_pipeline_push(p, foot, &s) < 0) {
            d->n_rejected++;
            continue;
        }
        t_last = s.t;
        if (bin_push(&bins[foot], t0, s.t, s.gyr[1]))
            oom = 1;
        dsp_stride_t st;
        while (dsp_pipeline_pop_stride(p, &st))
            focus_acc_add(&d->acc, &st);
        if (s.t >= next_win) {
            dsp_window_t w;
            dsp_pipeline_window(p, &w);
            if (add_window(d, &w, s.t - t0))
                oom = 1;
            while (next_win <= s.t)
                next_win += WINDOW_PERIOD_S;
        }
        if (oom)
            break;
    }
    if (input_damaged(in) && !status) {
        snprintf(err, errcap, "%s: damaged input", path);
        status = 1;
    }
    input_free(&in);
    dsp_pipeline_finish(p);
    dsp_stride_t st;
    while (dsp_pipeline_pop_stride(p, &st))
        focus_acc_add(&d->acc, &st);
    if (isfinite(t_last)) {
        dsp_window_t w;
        dsp_pipeline_window(p, &w);
        if (add_window(d, &w, t_last - t0))
            oom = 1;
    }
    dsp_pipeline_summary(p, &d->sum);
    dsp_pipeline_free(&p);
    for (int f = 0; f < 2 && !oom; f++) {
        if (bin_flush(&bins[f]))
            oom = 1;
        else
            d->spec[f] = welch(bins[f].v, bins[f].n, &d->n_spec);
        free(bins[f].v);
        bins[f].v = NULL;
    }
    free(bins[0].v);
    free(bins[1].v);
    d->spec_df = SPEC_FS / SPEC_N;
    d->stride_hz = d->sum.main.stride_hz_fft;
    if (oom) {
        snprintf(err, errcap, "%s: out of memory", path);
        return -1;
    }
    if (d->n_samples == 0) {
        snprintf(err, errcap, "%s: no samples", path);
        return -1;
    }
    d->damaged = status;
    focus_metrics_compute(&d->acc, &d->sum, rules->min_strides, &d->metrics);
    focus_evaluate(rules, &d->metrics, baseline, &d->focus);
    if (baseline)
        for (int i = 0; i < FM_COUNT; i++) {
            double mean, sd;
            uint32_t n = focus_baseline_get(baseline, i, &mean, &sd);
            if (n >= rules->baseline_sessions && (int)n > d->used_baseline)
                d->used_baseline = (int)n;
        }
    return status;
}

void report_data_free(report_data_t *d)
{
    free(d->win);
    free(d->spec[0]);
    free(d->spec[1]);
    d->win = NULL;
    d->spec[0] = d->spec[1] = NULL;
    d->n_win = d->cap_win = 0;
}

/* ---------------------------------------------------------------- live */

struct report_live {
    const focus_rules_t *rules;
    focus_baseline_t base;
    int have_base;
    focus_acc_t acc;
    focus_live_t hyst;
    focus_metrics_t m;
    focus_result_t shown;
};

/* A fresh evaluation only lives from focus_evaluate to the message built from it (and, after
 * report_live_final, to the caller's report_live_result): one per thread serves every session,
 * which keeps ~34 KiB out of each athlete's state (memory per pod, GAITD.md). */
static _Thread_local focus_result_t live_fresh;

report_live_t *report_live_new(const focus_rules_t *rules, const focus_baseline_t *baseline)
{
    report_live_t *l = calloc(1, sizeof *l);
    if (!l)
        return NULL;
    l->rules = rules;
    if (baseline) {
        l->base = *baseline;
        l->have_base = 1;
    }
    focus_acc_init(&l->acc);
    focus_live_init(&l->hyst);
    focus_metrics_clear(&l->m);
    return l;
}

void report_live_free(report_live_t **l)
{
    if (l) {
        free(*l);
        *l = NULL;
    }
}

void report_live_set_baseline(report_live_t *l, const focus_baseline_t *baseline)
{
    l->have_base = baseline != NULL;
    if (baseline)
        l->base = *baseline;
}

void report_live_stride(report_live_t *l, const dsp_stride_t *s)
{
    focus_acc_add(&l->acc, s);
}

json_t *report_live_window(report_live_t *l, const char *athlete, double t)
{
    focus_metrics_compute(&l->acc, NULL, l->rules->min_strides, &l->m);
    if (l->m.n[0] < l->rules->min_strides && l->m.n[1] < l->rules->min_strides)
        return NULL;
    focus_evaluate(l->rules, &l->m, l->have_base ? &l->base : NULL, &live_fresh);
    int changed = focus_live_update(&l->hyst, l->rules, &live_fresh, &l->shown);
    json_t *o = report_focus_message(athlete, t, 0, &l->shown);
    if (o && json_object_set_new(o, "changed", json_boolean(changed))) {
        json_decref(o);
        return NULL;
    }
    return o;
}

json_t *report_live_final(report_live_t *l, const char *athlete, double t,
                          const dsp_summary_t *sum)
{
    focus_metrics_compute(&l->acc, sum, l->rules->min_strides, &l->m);
    focus_evaluate(l->rules, &l->m, l->have_base ? &l->base : NULL, &live_fresh);
    return report_focus_message(athlete, t, 1, &live_fresh);
}

const focus_result_t *report_live_result(const report_live_t *l)
{
    (void)l;
    return &live_fresh;
}

const focus_metrics_t *report_live_metrics(const report_live_t *l)
{
    return &l->m;
}

/* ---------------------------------------------------------------- HTML */

static void html_text(FILE *f, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '<':
            fputs("&lt;", f);
            break;
        case '>':
            fputs("&gt;", f);
            break;
        case '&':
            fputs("&amp;", f);
            break;
        case '"':
            fputs("&quot;", f);
            break;
        default:
            fputc(*s, f);
        }
    }
}

/* A "nice" tick step for a span. */
static double nice_step(double span, int target)
{
    double raw = span / target;
    double mag = pow(10.0, floor(log10(raw)));
    double r = raw / mag;
    return (r < 1.5 ? 1 : r < 3 ? 2 : r < 7 ? 5 : 10) * mag;
}

typedef struct series {
    const char *name, *color;
    const double *x, *y;
    size_t n, stride;                /* bytes between elements (struct arrays) */
} series_t;

static double at(const double *p, size_t i, size_t stride)
{
    return *(const double *)(const void *)((const char *)p + i * stride);
}

#define PW 560
#define PH 220
#define ML 56
#define MR 16
#define MT 28
#define MB 38

static double sx(double x, double x0, double x1)
{
    return ML + (x - x0) / (x1 - x0) * (PW - ML - MR);
}

static double sy(double y, double y0, double y1)
{
    return PH - MB - (y - y0) / (y1 - y0) * (PH - MT - MB);
}

/* Line plot of series; band_lo..band_hi (if band_lo < band_hi) is shaded as a normal range. */
static void svg_plot(FILE *f, const char *id, const char *title, const char *xlabel,
                     const char *ylabel, const series_t *s, int ns, double band_lo,
                     double band_hi, int zero_line, double min_span)
{
    double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
    size_t points = 0;
    for (int k = 0; k < ns; k++)
        for (size_t i = 0; i < s[k].n; i++) {
            double x = at(s[k].x, i, s[k].stride), y = at(s[k].y, i, s[k].stride);
            if (!isfinite(x) || !isfinite(y))
                continue;
            x0 = fmin(x0, x);
            x1 = fmax(x1, x);
            y0 = fmin(y0, y);
            y1 = fmax(y1, y);
            points++;
        }
    fprintf(f, "<figure class=\"plot\"><svg id=\"%s\" viewBox=\"0 0 %d %d\" width=\"%d\" "
               "height=\"%d\" role=\"img\"><title>", id, PW, PH, PW, PH);
    html_text(f, title);
    fprintf(f, "</title>\n<text x=\"%d\" y=\"18\" class=\"ptitle\">", ML);
    html_text(f, title);
    fputs("</text>\n", f);
    if (!points) {
        fprintf(f, "<text x=\"%d\" y=\"%d\" class=\"nodata\">no data</text></svg></figure>\n",
                PW / 2 - 30, PH / 2);
        return;
    }
    if (band_lo < band_hi) {
        y0 = fmin(y0, band_lo);
        y1 = fmax(y1, band_hi);
    }
    if (zero_line) {
        y0 = fmin(y0, 0);
        y1 = fmax(y1, 0);
    }
    if (x1 - x0 < 1e-9)
        x1 = x0 + 1;
    if (y1 - y0 < min_span) { /* do not blow noise up to full height */
        double c = 0.5 * (y0 + y1);
        y0 = c - 0.5 * min_span;
        y1 = c + 0.5 * min_span;
    }
    double pad = (y1 - y0) * 0.08;
    if (pad < 1e-6)
        pad = fabs(y0) * 0.1 + 1;
    y0 -= pad;
    y1 += pad;
    /* grid and ticks */
    double ys = nice_step(y1 - y0, 5), xs = nice_step(x1 - x0, 6);
    for (double y = ceil(y0 / ys) * ys; y <= y1; y += ys) {
        fprintf(f, "<line class=\"grid\" x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\"/>"
                   "<text class=\"tick\" x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%g</text>\n",
                ML, PW - MR, sy(y, y0, y1), sy(y, y0, y1), ML - 4, sy(y, y0, y1) + 4,
                fabs(y) < ys * 1e-6 ? 0.0 : y);
    }
    for (double x = ceil(x0 / xs) * xs; x <= x1; x += xs)
        fprintf(f, "<text class=\"tick\" x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%g</text>\n",
                sx(x, x0, x1), PH - MB + 14, x);
    if (band_lo < band_hi)
        fprintf(f, "<rect class=\"band\" x=\"%d\" y=\"%.1f\" width=\"%d\" height=\"%.1f\"/>\n",
                ML, sy(band_hi, y0, y1), PW - ML - MR, sy(band_lo, y0, y1) - sy(band_hi, y0, y1));
    if (zero_line)
        fprintf(f, "<line class=\"zero\" x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\"/>\n", ML,
                PW - MR, sy(0, y0, y1), sy(0, y0, y1));
    fprintf(f, "<rect class=\"frame\" x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\"/>\n", ML, MT,
            PW - ML - MR, PH - MT - MB);
    fprintf(f, "<text class=\"axis\" x=\"%d\" y=\"%d\" text-anchor=\"middle\">", (PW + ML) / 2,
            PH - 6);
    html_text(f, xlabel);
    fprintf(f, "</text><text class=\"axis\" transform=\"translate(14,%d) rotate(-90)\" "
               "text-anchor=\"middle\">", (PH - MB + MT) / 2);
    html_text(f, ylabel);
    fputs("</text>\n", f);
    for (int k = 0; k < ns; k++) {
        fprintf(f, "<polyline class=\"series\" stroke=\"%s\" points=\"", s[k].color);
        int first = 1;
        for (size_t i = 0; i < s[k].n; i++) {
            double x = at(s[k].x, i, s[k].stride), y = at(s[k].y, i, s[k].stride);
            if (!isfinite(x) || !isfinite(y))
                continue;
            fprintf(f, "%s%.1f,%.1f", first ? "" : " ", sx(x, x0, x1), sy(y, y0, y1));
            first = 0;
        }
        fputs("\"/>\n", f);
        int lx = PW - MR - 66 * (ns - k);
        fprintf(f, "<rect x=\"%d\" y=\"11\" width=\"12\" height=\"4\" fill=\"%s\"/>"
                   "<text class=\"legend\" x=\"%d\" y=\"17\">",
                lx, s[k].color, lx + 15);
        html_text(f, s[k].name);
        fputs("</text>\n", f);
    }
    fputs("</svg></figure>\n", f);
}

/* ---- body map ---- */

/* Fill for an area/side: strongest of the entries for that side and for "both". */
static double area_score(const focus_result_t *r, int area, int side)
{
    double s = 0;
    for (int i = 0; i < r->n; i++)
        if (r->e[i].area == area && (r->e[i].side == side || r->e[i].side == FOCUS_SIDE_BOTH))
            s = fmax(s, r->e[i].score);
    return s;
}

static void area_fill(char *buf, size_t cap, double s)
{
    if (s <= 0) {
        snprintf(buf, cap, "#e9e4df");
        return;
    }
    /* from light amber (score 0) to deep red (1) */
    int r = (int)(250 - 60 * s), g = (int)(200 - 170 * s), b = (int)(120 - 90 * s);
    snprintf(buf, cap, "rgb(%d,%d,%d)", r, g, b);
}

/* One region of one leg: x offset dx (leg centre), mirrored (outer side to the left). */
static void region(FILE *f, const focus_result_t *r, int area, int side, const char *fmt,
                   double a, double b, double c, double d)
{
    char fill[32];
    double s = area_score(r, area, side);
    area_fill(fill, sizeof fill, s);
    fprintf(f, "<g class=\"region%s\" id=\"area-%s-%s\" data-score=\"%.2f\" fill=\"%s\">",
            s > 0 ? " focus" : "", focus_area_name(area), focus_side_name(side), s, fill);
    fprintf(f, fmt, a, b, c, d);
    fprintf(f, "<title>%s %s: %.2f</title></g>\n", focus_area_label(area),
            side == FOCUS_SIDE_L ? "left" : "right", s);
}

/* Outline of a body 200 x 450, centre x = 100. */
static void body_outline(FILE *f)
{
    fputs("<g class=\"outline\">"
          "<circle cx=\"100\" cy=\"32\" r=\"22\"/>"
          "<rect x=\"91\" y=\"52\" width=\"18\" height=\"14\"/>"
          "<path d=\"M60 66 Q100 58 140 66 L146 130 L136 200 Q100 214 64 200 L54 130 Z\"/>"
          "<path d=\"M58 70 L40 150 L36 214 L46 216 L52 152 L66 100 Z\"/>"
          "<path d=\"M142 70 L160 150 L164 214 L154 216 L148 152 L134 100 Z\"/>"
          "<path d=\"M64 198 L100 206 L98 306 L96 420 L76 420 L74 306 Z\"/>"
          "<path d=\"M136 198 L100 206 L102 306 L104 420 L124 420 L126 306 Z\"/>"
          "<ellipse cx=\"84\" cy=\"428\" rx=\"14\" ry=\"8\"/>"
          "<ellipse cx=\"116\" cy=\"428\" rx=\"14\" ry=\"8\"/>"
          "</g>\n",
          f);
}

static void body_map(FILE *f, const focus_result_t *r)
{
    fputs("<div class=\"bodymap\">\n", f);
    /* front view: the athlete faces the reader, so the left leg is on the right */
    for (int view = 0; view < 2; view++) {
        fprintf(f, "<figure><svg class=\"body\" id=\"body-%s\" viewBox=\"0 0 200 470\" "
                   "width=\"200\" height=\"470\" role=\"img\"><title>%s view</title>\n",
                view ? "back" : "front", view ? "back" : "front");
        body_outline(f);
        for (int leg = 0; leg < 2; leg++) { /* leg 0 drawn at x 84 (reader's left) */
            int side = view == 0 ? (leg == 0 ? FOCUS_SIDE_R : FOCUS_SIDE_L)
                                 : (leg == 0 ? FOCUS_SIDE_L : FOCUS_SIDE_R);
            double cx = leg == 0 ? 85 : 115, out = leg == 0 ? -1 : 1;
            const char *rect = "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
                               "rx=\"6\"/>";
            const char *ell = "<ellipse cx=\"%.1f\" cy=\"%.1f\" rx=\"%.1f\" ry=\"%.1f\"/>";
            /* IT band: outer thigh, both views */
            region(f, r, FOCUS_IT_BAND, side, rect, cx + out * 16 - 3, 214, 6, 86);
            if (view == 0) {
                region(f, r, FOCUS_HIP_FLEXORS, side, ell, cx + out * 2, 214, 11, 10);
                region(f, r, FOCUS_QUADRICEPS, side, rect, cx - 11, 228, 22, 72);
                region(f, r, FOCUS_SHINS, side, rect, cx - 5 + out * 2, 318, 10, 78);
            } else {
                region(f, r, FOCUS_LOWER_BACK, side, rect, leg == 0 ? 70 : 100, 150, 30, 44);
                region(f, r, FOCUS_GLUTES, side, ell, cx, 214, 16, 16);
                region(f, r, FOCUS_HAMSTRINGS, side, rect, cx - 10, 234, 20, 68);
                region(f, r, FOCUS_CALVES, side, ell, cx, 344, 11, 28);
                region(f, r, FOCUS_ACHILLES, side, rect, cx - 3, 378, 6, 38);
                region(f, r, FOCUS_PLANTAR_FASCIA, side, ell, cx, 430, 10, 6);
            }
            fprintf(f, "<text class=\"legside\" x=\"%.0f\" y=\"458\" text-anchor=\"middle\">"
                       "%s</text>\n", cx, side == FOCUS_SIDE_L ? "L" : "R");
        }
        fprintf(f, "</svg><figcaption>%s</figcaption></figure>\n",
                view ? "Back (as seen from behind)" : "Front (facing you)");
    }
    fputs("<div class=\"scale\"><span>low</span><span class=\"grad\"></span><span>high</span>"
          "</div>\n</div>\n",
          f);
}

static const char *metric_label(int i)
{
    return focus_metric_name(i);
}

static void fmt_val(char *buf, size_t cap, double v)
{
    if (!isfinite(v))
        snprintf(buf, cap, "&ndash;");
    else if (fabs(v) >= 100)
        snprintf(buf, cap, "%.0f", v);
    else if (fabs(v) >= 1)
        snprintf(buf, cap, "%.2f", v);
    else
        snprintf(buf, cap, "%.3f", v);
}

static const char *css =
    "body{font-family:'DejaVu Sans',Helvetica,Arial,sans-serif;margin:24px auto;max-width:1160px;"
    "color:#222;background:#fff;line-height:1.4}"
    "h1{font-size:26px;margin:0 0 4px}h2{font-size:19px;border-bottom:2px solid #eee;"
    "padding-bottom:4px;margin-top:28px}"
    ".sub{color:#666}.cards{display:flex;gap:12px;flex-wrap:wrap;margin:14px 0}"
    ".card{background:#f6f4f1;border-radius:8px;padding:10px 14px;min-width:120px}"
    ".card b{display:block;font-size:22px}"
    ".disclaimer{background:#fff6e0;border-left:5px solid #e0a000;padding:10px 14px;"
    "margin:14px 0}"
    ".focuswrap{display:flex;gap:24px;align-items:flex-start;flex-wrap:wrap}"
    ".bodymap{display:flex;gap:8px;flex-wrap:wrap;align-items:flex-start}"
    ".bodymap figure{margin:0;text-align:center}"
    ".outline{fill:#f3efea;stroke:#9a918a;stroke-width:1.5}"
    ".region{stroke:#8a7f78;stroke-width:.8}.region.focus{stroke:#7a1d10;stroke-width:1.4}"
    ".legside{font-size:14px;font-weight:bold;fill:#555}"
    ".scale{display:flex;align-items:center;gap:6px;font-size:12px;color:#666;width:100%}"
    ".grad{display:inline-block;width:140px;height:10px;border-radius:4px;"
    "background:linear-gradient(90deg,rgb(250,200,120),rgb(190,30,30))}"
    "ol.focus{flex:1;min-width:380px;padding-left:22px}ol.focus li{margin-bottom:12px}"
    ".bar{display:inline-block;height:10px;background:#c0392b;border-radius:3px;"
    "vertical-align:middle;margin:0 8px}"
    ".area{font-weight:bold;font-size:17px}.ref{color:#777;font-size:12px}"
    ".plots{display:flex;flex-wrap:wrap;gap:10px}.plot{margin:0}"
    ".ptitle{font-size:14px;font-weight:bold;fill:#333}.tick,.legend{font-size:11px;fill:#555}"
    ".axis{font-size:12px;fill:#444}.grid{stroke:#eee}.frame{fill:none;stroke:#bbb}"
    ".zero{stroke:#999;stroke-dasharray:4 3}.band{fill:#e5f3e5}"
    ".series{fill:none;stroke-width:1.6}.nodata{font-size:14px;fill:#999}"
    ".metrics{display:grid;grid-template-columns:repeat(4,1fr);gap:2px 18px;font-size:12px}"
    ".metrics div{display:flex;justify-content:space-between;border-bottom:1px solid #eee;"
    "padding:2px 0}.metrics span{color:#555}.none{color:#2a7d2a;font-weight:bold}"
    ".headline{font-size:18px;margin:10px 0}"
    "footer{margin-top:30px;color:#888;font-size:12px}";

int report_write_html(FILE *f, const report_data_t *d)
{
    const dsp_summary_t *s = &d->sum;
    const focus_result_t *r = &d->focus;
    const char *base = strrchr(d->source, '/');
    base = base ? base + 1 : d->source;
    fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>gaitd "
          "report: ",
          f);
    html_text(f, base);
    fprintf(f, "</title>\n<style>%s</style></head><body>\n", css);
    fputs("<h1>Post-run report</h1><div class=\"sub\">", f);
    html_text(f, base);
    fputs(" &middot; gaitd</div>\n", f);

    char cad[32], dur[32], csi[32], ssi[32];
    fmt_val(cad, sizeof cad, s->cadence_spm);
    snprintf(dur, sizeof dur, "%.0f:%02.0f", floor(s->duration_s / 60),
             fmod(floor(s->duration_s), 60));
    fmt_val(csi, sizeof csi, s->main.contact_si_pct);
    fmt_val(ssi, sizeof ssi, s->main.step_si_pct);
    fprintf(f, "<div class=\"cards\"><div class=\"card\">Duration<b>%s</b>min:s</div>"
               "<div class=\"card\">Cadence<b>%s</b>steps/min</div>"
               "<div class=\"card\">Strides<b>%u / %u</b>left / right</div>"
               "<div class=\"card\">Contact-time symmetry<b>%s %%</b>+ = left longer</div>"
               "<div class=\"card\">Step-time symmetry<b>%s %%</b>+ = left longer</div>"
               "<div class=\"card\">Analysed<b>%s</b>%.0f min</div></div>\n",
            dur, cad, s->n_strides[0], s->n_strides[1], csi, ssi,
            d->metrics.running ? "running" : "walking", d->metrics.span_min);
    if (d->damaged)
        fputs("<p class=\"disclaimer\">The input was damaged part-way; everything before the "
              "damage was analysed.</p>\n",
              f);
    fprintf(f, "<p class=\"disclaimer\" id=\"disclaimer\"><b>Training aid, not a diagnosis.</b> "
               "%s No published system maps gait to muscle tightness: these suggestions are "
               "heuristics built on the measured asymmetries below, with the evidence for each.</p>"
               "\n", DISCLAIMER_TEXT);

    fputs("<p class=\"headline\" id=\"headline\">", f);
    if (r->n) {
        fputs("Suggested massage focus: ", f);
        int shown = 0;
        for (int i = 0; i < r->n && shown < 3; i++) {
            if (r->e[i].score < 0.5 && shown)
                break;
            fprintf(f, "%s<b>%s%s</b>", shown ? ", " : "",
                    r->e[i].side == FOCUS_SIDE_L ? "left " : r->e[i].side == FOCUS_SIDE_R
                                                                ? "right "
                                                                : "",
                    focus_area_label(r->e[i].area));
            shown++;
        }
        fputs(".", f);
    } else {
        fputs("No massage focus area stands out in this session.", f);
    }
    fputs("</p>\n<h2>Massage focus</h2>\n<div class=\"focuswrap\">\n", f);
    body_map(f, r);
    fputs("<ol class=\"focus\" id=\"focus-list\">\n", f);
    for (int i = 0; i < r->n; i++) {
        const focus_entry_t *e = &r->e[i];
        const char *sd = e->side == FOCUS_SIDE_L ? "left" : e->side == FOCUS_SIDE_R ? "right"
                                                                                    : "both sides";
        fprintf(f, "<li class=\"focus-item\" data-area=\"%s\" data-side=\"%s\" data-score=\"%.3f\">"
                   "<span class=\"area\">%s, %s</span><span class=\"bar\" style=\"width:%.0fpx\">"
                   "</span>%.2f<ul>",
                focus_area_name(e->area), focus_side_name(e->side), e->score,
                focus_area_label(e->area), sd, 8 + 120 * e->score, e->score);
        for (int k = 0; k < e->n_evidence; k++) {
            fputs("<li>", f);
            html_text(f, e->evidence[k]);
            fputs(" <span class=\"ref\">[", f);
            html_text(f, e->rule[k]);
            fputs(e->baseline[k] ? ", vs your baseline]" : ", vs population range]", f);
            fputs("</span></li>", f);
        }
        fputs("</ul></li>\n", f);
    }
    if (!r->n)
        fputs("<li class=\"none\">No focus area stands out: your gait looked symmetric and "
              "steady.</li>\n",
              f);
    fputs("</ol></div>\n", f);
    if (r->recovery) {
        fputs("<p class=\"disclaimer\" id=\"recovery\"><b>Recovery:</b> ", f);
        html_text(f, r->recovery_text);
        fputs("</p>\n", f);
    }
    fprintf(f, "<p class=\"ref\">Reference used: %s.</p>\n",
            d->used_baseline ? "your own baseline from past sessions where available"
                             : "population ranges (not enough past sessions for a personal "
                               "baseline)");

    /* plots */
    fputs("<h2>Over the session</h2><div class=\"plots\">\n", f);
    size_t n = d->n_win, st = sizeof(report_window_t);
    const report_window_t *w = d->win;
    if (n) {
        series_t cadence = {"cadence", "#1f6fb2", &w[0].t, &w[0].cadence_spm, n, st};
        svg_plot(f, "plot-cadence", "Cadence", "time (s)", "steps/min", &cadence, 1, 0, 0, 0,
                 10);
        series_t contact[2] = {{"left", "#c0392b", &w[0].t, &w[0].contact_ms[0], n, st},
                               {"right", "#1f6fb2", &w[0].t, &w[0].contact_ms[1], n, st}};
        svg_plot(f, "plot-contact", "Contact time", "time (s)", "ms", contact, 2, 0, 0, 0,
                 30);
        series_t sym[4] = {{"contact", "#8e44ad", &w[0].t, &w[0].contact_si, n, st},
                           {"step", "#16a085", &w[0].t, &w[0].step_si, n, st},
                           {"push-off", "#d35400", &w[0].t, &w[0].pushoff_si, n, st},
                           {"impact", "#7f8c8d", &w[0].t, &w[0].impact_si, n, st}};
        svg_plot(f, "plot-symmetry", "L/R symmetry", "time (s, 30 s windows)",
                 "SI %, + = left larger", sym, 4, -5, 5, 1, 10);
    }
    if (d->spec[0] || d->spec[1]) {
        size_t nb = (size_t)(SPEC_MAX_HZ / d->spec_df);
        if (nb > d->n_spec)
            nb = d->n_spec;
        double *hz = malloc(nb * sizeof *hz), *db[2] = {malloc(nb * sizeof(double)),
                                                        malloc(nb * sizeof(double))};
        if (hz && db[0] && db[1]) {
            series_t sp[2];
            int ns = 0;
            double peak = 0;
            for (int ft = 0; ft < 2; ft++)
                for (size_t k = 1; d->spec[ft] && k < nb; k++)
                    peak = fmax(peak, d->spec[ft][k]);
            for (int ft = 0; ft < 2; ft++) {
                if (!d->spec[ft])
                    continue;
                for (size_t k = 0; k < nb; k++) {
                    hz[k] = k * d->spec_df;
                    double p = d->spec[ft][k];
                    db[ft][k] = k == 0 || !(p > 0) || !(peak > 0) ? NAN
                                                                  : 10 * log10(p / peak);
                    if (db[ft][k] < -60)
                        db[ft][k] = -60;
                }
                sp[ns++] = (series_t){ft ? "right foot" : "left foot", ft ? "#1f6fb2" : "#c0392b",
                                      hz, db[ft], nb, sizeof(double)};
            }
            char title[96];
            if (isfinite(d->stride_hz))
                snprintf(title, sizeof title, "Pitch-rate spectra (stride %.2f Hz)",
                         d->stride_hz);
            else
                snprintf(title, sizeof title, "Pitch-rate spectra");
            svg_plot(f, "plot-spectra", title, "frequency (Hz)", "dB re peak", sp, ns, 0, 0, 0, 10);
        }
        free(hz);
        free(db[0]);
        free(db[1]);
    }
    fputs("</div>\n", f);

    /* metrics */
    fputs("<h2>Indicator metrics</h2><div class=\"metrics\" id=\"metrics\">\n", f);
    for (int i = 0; i < FM_COUNT; i++) {
        if (!isfinite(d->metrics.v[i]))
            continue;
        char v[32];
        fmt_val(v, sizeof v, d->metrics.v[i]);
        fprintf(f, "<div><span>%s</span><b>%s</b></div>\n", metric_label(i), v);
    }
    fputs("</div>\n<footer>Made by <code>gaitctl report</code>. SI = 100 (L &minus; R) / "
          "(0.5 (L + R)) %, positive = left larger (Robinson 1987). Rules: dsp/focus_rules.ini; "
          "rationale and references: dsp/FOCUS.md.</footer>\n</body></html>\n",
          f);
    return ferror(f) ? -1 : 0;
}
