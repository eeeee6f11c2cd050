/* dsp_focus.c - focus-area indicators, rules parsing and scoring (dsp_focus.h, FOCUS.md). */
#include "dsp_focus.h"
#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- names */

static const char *const metric_names[FM_COUNT] = {
    [FM_CONTACT_S_L] = "contact_s_L",
    [FM_CONTACT_S_R] = "contact_s_R",
    [FM_PUSHOFF_DPS_L] = "pushoff_dps_L",
    [FM_PUSHOFF_DPS_R] = "pushoff_dps_R",
    [FM_IMPACT_G_L] = "impact_g_L",
    [FM_IMPACT_G_R] = "impact_g_R",
    [FM_SWING_PEAK_DPS_L] = "swing_peak_dps_L",
    [FM_SWING_PEAK_DPS_R] = "swing_peak_dps_R",
    [FM_CONTACT_DRIFT_PCT_L] = "contact_drift_pct_L",
    [FM_CONTACT_DRIFT_PCT_R] = "contact_drift_pct_R",
    [FM_PUSHOFF_DRIFT_PCT_L] = "pushoff_drift_pct_L",
    [FM_PUSHOFF_DRIFT_PCT_R] = "pushoff_drift_pct_R",
    [FM_PRONATION_DEG_L] = "pronation_deg_L",
    [FM_PRONATION_DEG_R] = "pronation_deg_R",
    [FM_PRONATION_VEL_DPS_L] = "pronation_vel_dps_L",
    [FM_PRONATION_VEL_DPS_R] = "pronation_vel_dps_R",
    [FM_PRONATION_DRIFT_DEG_L] = "pronation_drift_deg_L",
    [FM_PRONATION_DRIFT_DEG_R] = "pronation_drift_deg_R",
    [FM_STRIKE_ANGLE_DEG_L] = "strike_angle_deg_L",
    [FM_STRIKE_ANGLE_DEG_R] = "strike_angle_deg_R",
    [FM_FOREFOOT_PCT_L] = "forefoot_pct_L",
    [FM_FOREFOOT_PCT_R] = "forefoot_pct_R",
    [FM_BRAKING_G_L] = "braking_g_L",
    [FM_BRAKING_G_R] = "braking_g_R",
    [FM_PRONATION_SI] = "pronation_si_pct",
    [FM_BRAKING_SI] = "braking_si_pct",
    [FM_CONTACT_SI] = "contact_si_pct",
    [FM_STEP_SI] = "step_si_pct",
    [FM_STRIDE_SI] = "stride_si_pct",
    [FM_PUSHOFF_SI] = "pushoff_si_pct",
    [FM_IMPACT_SI] = "impact_si_pct",
    [FM_SWING_SI] = "swing_si_pct",
    [FM_ASYM_GLOBAL] = "asym_global_pct",
    [FM_FATIGUE_CONTACT] = "fatigue_contact_pct",
    [FM_FATIGUE_CADENCE] = "fatigue_cadence_pct",
    [FM_FATIGUE_ASYM] = "fatigue_asym_pp",
    [FM_CADENCE_SPM] = "cadence_spm",
    [FM_DURATION_MIN] = "duration_min",
    [FM_GAIT_MIN] = "gait_min",
};

static const char *const area_names[FOCUS_N_AREAS] = {
    "calves", "achilles", "plantar_fascia", "shins", "quadriceps",
    "hamstrings", "glutes", "hip_flexors", "it_band", "lower_back",
};

static const char *const area_labels[FOCUS_N_AREAS] = {
    "calves", "Achilles tendon", "plantar fascia", "shins", "quadriceps",
    "hamstrings", "glutes", "hip flexors", "IT band", "lower back",
};

const char *focus_metric_name(int metric)
{
    return metric >= 0 && metric < FM_COUNT ? metric_names[metric] : NULL;
}

int focus_metric_find(const char *name)
{
    for (int i = 0; i < FM_COUNT; i++)
        if (!strcmp(name, metric_names[i]))
            return i;
    return -1;
}

const char *focus_area_name(int area)
{
    return area >= 0 && area < FOCUS_N_AREAS ? area_names[area] : NULL;
}

const char *focus_area_label(int area)
{
    return area >= 0 && area < FOCUS_N_AREAS ? area_labels[area] : NULL;
}

int focus_area_find(const char *name)
{
    for (int i = 0; i < FOCUS_N_AREAS; i++)
        if (!strcmp(name, area_names[i]))
            return i;
    return -1;
}

const char *focus_side_name(int side)
{
    return side == FOCUS_SIDE_L ? "L" : side == FOCUS_SIDE_R ? "R" : "both";
}

/* Resolves a rule's metric name: a global metric, or the base of an _L/_R pair (*pair = 1,
 * returns the L index). -1 if unknown. */
static int metric_resolve(const char *name, int *pair)
{
    int i = focus_metric_find(name);
    *pair = 0;
    if (i >= 0)
        return i;
    char buf[64];
    if (snprintf(buf, sizeof buf, "%s_L", name) >= (int)sizeof buf)
        return -1;
    i = focus_metric_find(buf);
    if (i >= 0)
        *pair = 1;
    return i;
}

/* ---------------------------------------------------------------- accumulator and metrics */

enum {
    SV_CONTACT, SV_PUSHOFF, SV_IMPACT, SV_SWING, SV_STRIDE, SV_STEP,
    SV_PRON, SV_PRON_VEL, SV_STRIKE, SV_BRAKING, SV_FOREFOOT, SV_N
};
enum { RG_CONTACT, RG_PUSHOFF, RG_CADENCE, RG_PRON, RG_N };

void focus_acc_init(focus_acc_t *a)
{
    memset(a, 0, sizeof *a);
    a->t0 = a->t_first = a->t_last = NAN;
}

static void reg_add(focus_acc_foot_t *f, int k, double t, double y)
{
    if (!isfinite(y))
        return;
    f->rn[k] += 1.0;
    f->rt[k] += t;
    f->rtt[k] += t * t;
    f->ry[k] += y;
    f->rty[k] += t * y;
    f->ryy[k] += y * y;
}

void focus_acc_add(focus_acc_t *a, const dsp_stride_t *s)
{
    if (!s || s->foot > DSP_RIGHT || !isfinite(s->t_ic))
        return;
    if (isnan(a->t0))
        a->t0 = s->t_ic;
    if (isnan(a->t_first) || s->t_ic < a->t_first)
        a->t_first = s->t_ic;
    if (isnan(a->t_last) || s->t_next_ic > a->t_last)
        a->t_last = s->t_next_ic;
    focus_acc_foot_t *f = &a->mode[s->mode == DSP_MODE_RUN][s->foot];
    const double v[SV_N] = {
        s->contact_s,        s->pushoff_dps,       s->impact_g,         s->swing_peak_dps,
        s->stride_s,         s->step_s,            s->pronation_deg,    s->pronation_vel_dps,
        s->strike_angle_deg, s->braking_g,
        s->strike == DSP_STRIKE_UNKNOWN ? NAN : (s->strike == DSP_STRIKE_FORE ? 1.0 : 0.0)};
    f->n++;
    for (int k = 0; k < SV_N; k++)
        if (isfinite(v[k])) {
            f->sum[k] += v[k];
            f->cnt[k] += 1.0;
        }
    double t = s->t_ic - a->t0;
    reg_add(f, RG_CONTACT, t, s->contact_s);
    reg_add(f, RG_PUSHOFF, t, s->pushoff_dps);
    reg_add(f, RG_CADENCE, t, s->stride_s > 0 ? 120.0 / s->stride_s : NAN);
    reg_add(f, RG_PRON, t, s->pronation_deg);
}

static double mean_of(const focus_acc_foot_t *f, int k)
{
    return f->cnt[k] > 0 ? f->sum[k] / f->cnt[k] : NAN;
}

/* Least-squares slope of regression k over the sums of n feet, and the mean of y. A slope
 * within 3 standard errors of zero is no measurable trend: 0. */
static double slope_of(const focus_acc_foot_t *const *f, int nf, int k, double *mean_y)
{
    double n = 0, t = 0, tt = 0, y = 0, ty = 0, yy = 0;
    for (int i = 0; i < nf; i++) {
        n += f[i]->rn[k];
        t += f[i]->rt[k];
        tt += f[i]->rtt[k];
        y += f[i]->ry[k];
        ty += f[i]->rty[k];
        yy += f[i]->ryy[k];
    }
    *mean_y = n > 0 ? y / n : NAN;
    if (n < 10)
        return NAN;
    double sxx = tt - t * t / n, sxy = ty - t * y / n, syy = yy - y * y / n;
    if (!(sxx > 0))
        return NAN;
    double b = sxy / sxx;
    double ssr = syy - b * sxy;
    double se = sqrt((ssr > 0 ? ssr : 0) / (n - 2) / sxx);
    return fabs(b) >= 3.0 * se ? b : 0.0;
}

static void foot_merge(const focus_acc_foot_t *a, const focus_acc_foot_t *b, focus_acc_foot_t *o)
{
    o->n = a->n + b->n;
    for (int k = 0; k < SV_N; k++) {
        o->sum[k] = a->sum[k] + b->sum[k];
        o->cnt[k] = a->cnt[k] + b->cnt[k];
    }
    for (int k = 0; k < RG_N; k++) {
        o->rn[k] = a->rn[k] + b->rn[k];
        o->rt[k] = a->rt[k] + b->rt[k];
        o->rtt[k] = a->rtt[k] + b->rtt[k];
        o->ry[k] = a->ry[k] + b->ry[k];
        o->rty[k] = a->rty[k] + b->rty[k];
        o->ryy[k] = a->ryy[k] + b->ryy[k];
    }
}

/* Relative trend of a mean in % per 10 min. */
static double drift_pct(double slope, double mean)
{
    return isfinite(slope) && isfinite(mean) && mean != 0 ? 100.0 * slope * 600.0 / mean : NAN;
}

void focus_metrics_clear(focus_metrics_t *m)
{
    for (int i = 0; i < FM_COUNT; i++)
        m->v[i] = m->late[i] = NAN;
    m->span_min = 0;
    m->late_min = 0;
    m->running = 0;
    m->n[0] = m->n[1] = 0;
}

void focus_metrics_compute(const focus_acc_t *a, const dsp_summary_t *sum, unsigned min_strides,
                           focus_metrics_t *m)
{
    focus_metrics_clear(m);
    if (min_strides < 2)
        min_strides = 2;
    const focus_acc_foot_t(*md)[2] = a->mode;
    int run_both = md[1][0].n >= min_strides && md[1][1].n >= min_strides;
    int walk_both = md[0][0].n >= min_strides && md[0][1].n >= min_strides;
    int run_any = md[1][0].n >= min_strides || md[1][1].n >= min_strides;
    focus_acc_foot_t merged[2];
    const focus_acc_foot_t *f[2];
    int run;
    if (run_both || (run_any && !walk_both && md[0][0].n + md[0][1].n < min_strides)) {
        run = 1; /* running (one foot only if the other has nothing at all) */
        f[0] = &md[1][0];
        f[1] = &md[1][1];
    } else if (walk_both && !run_any) {
        run = 0;
        f[0] = &md[0][0];
        f[1] = &md[0][1];
    } else { /* modes split between the feet or too few of each: all strides together */
        for (int ft = 0; ft < 2; ft++)
            foot_merge(&md[0][ft], &md[1][ft], &merged[ft]);
        f[0] = &merged[0];
        f[1] = &merged[1];
        double ns = merged[0].cnt[SV_STRIDE] + merged[1].cnt[SV_STRIDE];
        double ss = merged[0].sum[SV_STRIDE] + merged[1].sum[SV_STRIDE];
        /* most strides ran, or a cadence no walker keeps (> 140 steps/min) */
        run = md[1][0].n + md[1][1].n >= md[0][0].n + md[0][1].n ||
              (ss > 0 && 120.0 * ns / ss > 140.0);
    }
    int ok[2] = {f[0]->n >= min_strides, f[1]->n >= min_strides};
    m->running = run;
    m->n[0] = f[0]->n;
    m->n[1] = f[1]->n;
    double gait_s = isfinite(a->t_first) ? a->t_last - a->t_first : 0.0;
    m->span_min = gait_s / 60.0;
    m->v[FM_GAIT_MIN] = m->span_min;
    m->v[FM_DURATION_MIN] = sum && isfinite(sum->duration_s) ? sum->duration_s / 60.0 : m->span_min;

    static const int pair_of[][2] = {
        {SV_CONTACT, FM_CONTACT_S_L},    {SV_PUSHOFF, FM_PUSHOFF_DPS_L},
        {SV_IMPACT, FM_IMPACT_G_L},      {SV_SWING, FM_SWING_PEAK_DPS_L},
        {SV_PRON, FM_PRONATION_DEG_L},   {SV_PRON_VEL, FM_PRONATION_VEL_DPS_L},
        {SV_STRIKE, FM_STRIKE_ANGLE_DEG_L}, {SV_BRAKING, FM_BRAKING_G_L},
        {SV_FOREFOOT, FM_FOREFOOT_PCT_L}};
    for (int ft = 0; ft < 2; ft++) {
        if (!ok[ft])
            continue;
        for (size_t k = 0; k < sizeof pair_of / sizeof pair_of[0]; k++) {
            /* a metric the dsp could give for fewer than half the strides is not reported */
            if (f[ft]->cnt[pair_of[k][0]] < 0.5 * f[ft]->n)
                continue;
            m->v[pair_of[k][1] + ft] = mean_of(f[ft], pair_of[k][0]);
        }
        m->v[FM_FOREFOOT_PCT_L + ft] *= 100.0;
    }
    if (ok[0] && ok[1]) {
        m->v[FM_CONTACT_SI] = dsp_symmetry_index(m->v[FM_CONTACT_S_L], m->v[FM_CONTACT_S_R]);
        m->v[FM_PUSHOFF_SI] = dsp_symmetry_index(m->v[FM_PUSHOFF_DPS_L], m->v[FM_PUSHOFF_DPS_R]);
        m->v[FM_IMPACT_SI] = dsp_symmetry_index(m->v[FM_IMPACT_G_L], m->v[FM_IMPACT_G_R]);
        m->v[FM_SWING_SI] =
            dsp_symmetry_index(m->v[FM_SWING_PEAK_DPS_L], m->v[FM_SWING_PEAK_DPS_R]);
        m->v[FM_STRIDE_SI] =
            dsp_symmetry_index(mean_of(f[0], SV_STRIDE), mean_of(f[1], SV_STRIDE));
        m->v[FM_STEP_SI] = dsp_symmetry_index(mean_of(f[0], SV_STEP), mean_of(f[1], SV_STEP));
        m->v[FM_PRONATION_SI] =
            dsp_symmetry_index(m->v[FM_PRONATION_DEG_L], m->v[FM_PRONATION_DEG_R]);
        m->v[FM_BRAKING_SI] = dsp_symmetry_index(m->v[FM_BRAKING_G_L], m->v[FM_BRAKING_G_R]);
        const int si[4] = {FM_CONTACT_SI, FM_STEP_SI, FM_PUSHOFF_SI, FM_IMPACT_SI};
        double acc = 0;
        int n = 0;
        for (int k = 0; k < 4; k++)
            if (isfinite(m->v[si[k]])) {
                acc += fabs(m->v[si[k]]);
                n++;
            }
        if (n)
            m->v[FM_ASYM_GLOBAL] = acc / n;
    }
    m->v[FM_CADENCE_SPM] = sum && isfinite(sum->cadence_spm) ? sum->cadence_spm : NAN;
    if (!isfinite(m->v[FM_CADENCE_SPM])) {
        double n = 0, st = 0;
        for (int ft = 0; ft < 2; ft++) {
            n += f[ft]->cnt[SV_STRIDE];
            st += f[ft]->sum[SV_STRIDE];
        }
        if (n > 0 && st > 0)
            m->v[FM_CADENCE_SPM] = 120.0 * n / st;
    }

    /* Asymmetries of the last third (the dsp's fatigue statistics over its `main` strides):
     * lets the evidence say since when, for an asymmetry that grew during the session. */
    if (sum && ok[0] && ok[1] && run == (sum->n_running > 0)) {
        const dsp_window_t *lt = &sum->last_third;
        double lm = (lt->t_end - lt->t_start) / 60.0;
        static const int si_of[][2] = {
            {DSP_M_CONTACT, FM_CONTACT_SI}, {DSP_M_STEP, FM_STEP_SI},
            {DSP_M_STRIDE, FM_STRIDE_SI},   {DSP_M_PUSHOFF, FM_PUSHOFF_SI},
            {DSP_M_IMPACT, FM_IMPACT_SI},   {DSP_M_SWING_PEAK, FM_SWING_SI},
            {DSP_M_PRONATION, FM_PRONATION_SI}, {DSP_M_BRAKING, FM_BRAKING_SI}};
        if (isfinite(lm) && lm >= 3.0 && lt->foot[0].n >= min_strides &&
            lt->foot[1].n >= min_strides) {
            m->late_min = lm;
            for (size_t k = 0; k < sizeof si_of / sizeof si_of[0]; k++)
                m->late[si_of[k][1]] = lt->si_pct[si_of[k][0]];
        }
    }

    /* Trends need a span long enough for fatigue to show. */
    if (gait_s < 90.0)
        return;
    double my, mc[2] = {NAN, NAN}, sc[2] = {NAN, NAN};
    for (int ft = 0; ft < 2; ft++) {
        if (!ok[ft])
            continue;
        sc[ft] = slope_of(&f[ft], 1, RG_CONTACT, &mc[ft]);
        m->v[FM_CONTACT_DRIFT_PCT_L + ft] = drift_pct(sc[ft], mc[ft]);
        double sp = slope_of(&f[ft], 1, RG_PUSHOFF, &my);
        m->v[FM_PUSHOFF_DRIFT_PCT_L + ft] = drift_pct(sp, my);
        double spr = slope_of(&f[ft], 1, RG_PRON, &my);
        if (isfinite(m->v[FM_PRONATION_DEG_L + ft]) && isfinite(spr))
            m->v[FM_PRONATION_DRIFT_DEG_L + ft] = spr * 600.0;
    }
    const focus_acc_foot_t *both[2];
    int nb = 0;
    for (int ft = 0; ft < 2; ft++)
        if (ok[ft])
            both[nb++] = f[ft];
    if (nb) {
        double s = slope_of(both, nb, RG_CONTACT, &my);
        m->v[FM_FATIGUE_CONTACT] = drift_pct(s, my);
        s = slope_of(both, nb, RG_CADENCE, &my);
        m->v[FM_FATIGUE_CADENCE] = drift_pct(s, my);
    }
    if (ok[0] && ok[1] && isfinite(sc[0]) && isfinite(sc[1]) && mc[0] + mc[1] > 0)
        m->v[FM_FATIGUE_ASYM] = 100.0 * (sc[0] - sc[1]) * 600.0 / (0.5 * (mc[0] + mc[1]));
}

/* ---------------------------------------------------------------- baseline */

void focus_baseline_init(focus_baseline_t *b)
{
    memset(b, 0, sizeof *b);
}

void focus_baseline_add(focus_baseline_t *b, const focus_metrics_t *past)
{
    for (int i = 0; i < FM_COUNT; i++) {
        double x = past->v[i];
        if (!isfinite(x))
            continue;
        b->n[i]++;
        double d = x - b->mean[i];
        b->mean[i] += d / b->n[i];
        b->m2[i] += d * (x - b->mean[i]);
    }
}

uint32_t focus_baseline_get(const focus_baseline_t *b, int metric, double *mean, double *sd)
{
    if (metric < 0 || metric >= FM_COUNT) {
        *mean = *sd = NAN;
        return 0;
    }
    uint32_t n = b->n[metric];
    *mean = n ? b->mean[metric] : NAN;
    *sd = n >= 2 ? sqrt(b->m2[metric] / (n - 1)) : NAN;
    return n;
}

/* ---------------------------------------------------------------- rules parsing */

typedef struct parse_ctx {
    focus_rules_t *r;
    focus_rule_t *cur;               /* NULL outside a [rule] section */
    char section[64];
    char msg[256];                   /* first error (without the line) */
    int failed;
    int seen[FOCUS_MAX_RULES];       /* bit set of keys present per rule */
} parse_ctx_t;

enum {
    K_METRIC = 1 << 0,
    K_KIND = 1 << 1,
    K_SIDE = 1 << 2,
    K_ON = 1 << 3,
    K_FULL = 1 << 4,
    K_AREAS = 1 << 5,
    K_EVIDENCE = 1 << 6,
};

static int fail(parse_ctx_t *c, const char *field, const char *fmt, ...)
{
    if (!c->failed) {
        char what[160];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(what, sizeof what, fmt, ap);
        va_end(ap);
        snprintf(c->msg, sizeof c->msg, "[%s] %s: %s", c->section, field, what);
        c->failed = 1;
    }
    return 0;
}

static int parse_num(const char *v, double *out)
{
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    while (*end && isspace((unsigned char)*end))
        end++;
    if (errno || end == v || *end || !isfinite(x))
        return -1;
    *out = x;
    return 0;
}

static void copy_text(char *dst, size_t cap, const char *src)
{
    snprintf(dst, cap, "%s", src);
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = '\0';
    return s;
}

static const char *area_list(void)
{
    return "calves, achilles, plantar_fascia, shins, quadriceps, hamstrings, glutes, "
           "hip_flexors, it_band, lower_back";
}

/* "calves:1, achilles:0.8" */
static int parse_areas(parse_ctx_t *c, const char *v)
{
    focus_rule_t *r = c->cur;
    char buf[256];
    copy_text(buf, sizeof buf, v);
    r->n_areas = 0;
    char *save = NULL;
    for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        char *t = trim(tok);
        double w = 1.0;
        char *colon = strchr(t, ':');
        if (colon) {
            *colon = '\0';
            if (parse_num(colon + 1, &w) || w <= 0 || w > 1)
                return fail(c, "areas", "weight of '%s' must be a number in (0, 1], got '%s'",
                            trim(t), trim(colon + 1));
            t = trim(t);
        }
        int a = focus_area_find(t);
        if (a < 0)
            return fail(c, "areas", "unknown area '%s' (expected one of %s)", t, area_list());
        if (r->n_areas == FOCUS_RULE_AREAS)
            return fail(c, "areas", "at most %d areas per rule", FOCUS_RULE_AREAS);
        r->area[r->n_areas] = a;
        r->weight[r->n_areas] = w;
        r->n_areas++;
    }
    if (!r->n_areas)
        return fail(c, "areas", "needs at least one area (one of %s)", area_list());
    return 1;
}

/* "pronation_deg > 12" */
static int parse_when(parse_ctx_t *c, const char *v)
{
    focus_rule_t *r = c->cur;
    if (r->n_when == FOCUS_RULE_WHEN)
        return fail(c, "when", "at most %d conditions per rule", FOCUS_RULE_WHEN);
    char buf[128];
    copy_text(buf, sizeof buf, v);
    char *op = strpbrk(buf, "<>");
    if (!op)
        return fail(c, "when", "expected 'METRIC > VALUE' or 'METRIC < VALUE', got '%s'", v);
    focus_cond_t *w = &r->when[r->n_when];
    w->op = *op == '>' ? 1 : -1;
    *op = '\0';
    char *name = trim(buf);
    w->metric = metric_resolve(name, &w->pair);
    if (w->metric < 0)
        return fail(c, "when", "unknown metric '%s'", name);
    if (parse_num(trim(op + 1), &w->value))
        return fail(c, "when", "'%s' is not a number", trim(op + 1));
    r->n_when++;
    return 1;
}

static int rule_key(parse_ctx_t *c, const char *key, const char *v)
{
    focus_rule_t *r = c->cur;
    int idx = (int)(r - c->r->rule);
    double x;
    if (!strcmp(key, "metric")) {
        r->metric = metric_resolve(v, &r->pair);
        if (r->metric < 0)
            return fail(c, key, "unknown metric '%s' (see FOCUS.md for the list)", v);
        c->seen[idx] |= K_METRIC;
    } else if (!strcmp(key, "kind")) {
        if (!strcmp(v, "asym"))
            r->kind = FOCUS_KIND_ASYM;
        else if (!strcmp(v, "level"))
            r->kind = FOCUS_KIND_LEVEL;
        else
            return fail(c, key, "unknown kind '%s' (expected asym or level)", v);
        c->seen[idx] |= K_KIND;
    } else if (!strcmp(key, "side")) {
        if (!strcmp(v, "larger"))
            r->pick = FOCUS_PICK_LARGER;
        else if (!strcmp(v, "smaller"))
            r->pick = FOCUS_PICK_SMALLER;
        else if (!strcmp(v, "both"))
            r->pick = FOCUS_PICK_BOTH;
        else
            return fail(c, key, "unknown side '%s' (expected larger, smaller or both)", v);
        c->seen[idx] |= K_SIDE;
    } else if (!strcmp(key, "on") || !strcmp(key, "full") || !strcmp(key, "z_on") ||
               !strcmp(key, "z_full") || !strcmp(key, "sd_floor")) {
        if (parse_num(v, &x))
            return fail(c, key, "'%s' is not a number", v);
        if (!strcmp(key, "on")) {
            r->on = x;
            c->seen[idx] |= K_ON;
        } else if (!strcmp(key, "full")) {
            r->full = x;
            c->seen[idx] |= K_FULL;
        } else if (!strcmp(key, "z_on")) {
            if (x < 0)
                return fail(c, key, "must be >= 0, got %s", v);
            r->z_on = x;
        } else if (!strcmp(key, "z_full")) {
            if (x <= 0)
                return fail(c, key, "must be > 0, got %s", v);
            r->z_full = x;
        } else {
            if (x <= 0)
                return fail(c, key, "must be > 0, got %s", v);
            r->sd_floor = x;
        }
    } else if (!strcmp(key, "gait")) {
        if (!strcmp(v, "run"))
            r->gait = 1;
        else if (!strcmp(v, "walk"))
            r->gait = 2;
        else if (!strcmp(v, "any"))
            r->gait = 0;
        else
            return fail(c, key, "unknown gait '%s' (expected run, walk or any)", v);
    } else if (!strcmp(key, "areas")) {
        if (!parse_areas(c, v))
            return 0;
        c->seen[idx] |= K_AREAS;
    } else if (!strcmp(key, "when")) {
        return parse_when(c, v);
    } else if (!strcmp(key, "unit")) {
        copy_text(r->unit, sizeof r->unit, v);
    } else if (!strcmp(key, "evidence")) {
        copy_text(r->evidence, sizeof r->evidence, v);
        c->seen[idx] |= K_EVIDENCE;
    } else if (!strcmp(key, "population")) {
        copy_text(r->population, sizeof r->population, v);
    } else if (!strcmp(key, "rationale") || !strcmp(key, "reference")) {
        /* documentation only */
    } else {
        return fail(c, key, "unknown field (expected metric, kind, side, on, full, z_on, "
                            "z_full, sd_floor, gait, areas, when, unit, evidence, population, "
                            "rationale, reference)");
    }
    return 1;
}

static int global_key(parse_ctx_t *c, const char *key, const char *v)
{
    focus_rules_t *r = c->r;
    double x;
    int is_text = !strcmp(c->section, "recovery") && !strcmp(key, "advice");
    if (is_text) {
        copy_text(r->recovery_advice, sizeof r->recovery_advice, v);
        return 1;
    }
    if (!strcmp(key, "rationale") || !strcmp(key, "reference") || !strcmp(key, "version"))
        return 1;
    if (parse_num(v, &x))
        return fail(c, key, "'%s' is not a number", v);
    if (!strcmp(c->section, "general")) {
        if (!strcmp(key, "min_strides")) {
            if (x < 2 || x > 100000)
                return fail(c, key, "must be between 2 and 100000, got %s", v);
            r->min_strides = (unsigned)x;
        } else if (!strcmp(key, "live_on") || !strcmp(key, "live_off")) {
            if (x < 0 || x > 1)
                return fail(c, key, "must be in [0, 1], got %s", v);
            *(!strcmp(key, "live_on") ? &r->live_on : &r->live_off) = x;
        } else {
            return fail(c, key, "unknown field (expected min_strides, live_on, live_off)");
        }
    } else if (!strcmp(c->section, "baseline")) {
        if (!strcmp(key, "min_sessions")) {
            if (x < 2 || x > 10000)
                return fail(c, key, "must be between 2 and 10000, got %s", v);
            r->baseline_sessions = (unsigned)x;
        } else {
            return fail(c, key, "unknown field (expected min_sessions)");
        }
    } else if (!strcmp(c->section, "recovery")) {
        if (x < 0)
            return fail(c, key, "must be >= 0, got %s", v);
        if (!strcmp(key, "long_min"))
            r->recovery_long_min = x;
        else if (!strcmp(key, "intense_spm"))
            r->recovery_intense_spm = x;
        else if (!strcmp(key, "intense_min"))
            r->recovery_intense_min = x;
        else
            return fail(c, key, "unknown field (expected long_min, intense_spm, intense_min, "
                                "advice)");
    }
    return 1;
}

static int on_ini_entry(void *user, const char *section, const char *key, const char *value)
{
    parse_ctx_t *c = user;
    if (c->failed)
        return 1; /* report only the first error; its line is already known */
    if (strcmp(section, c->section) != 0) {
        copy_text(c->section, sizeof c->section, section);
        c->cur = NULL;
        if (!strncmp(section, "rule ", 5)) {
            const char *name = section + 5;
            if (!*name || strlen(name) >= FOCUS_NAME_MAX)
                return fail(c, "name", "a rule needs a name of 1 to %d characters",
                            FOCUS_NAME_MAX - 1);
            for (int i = 0; i < c->r->n; i++)
                if (!strcmp(c->r->rule[i].name, name))
                    return fail(c, "name", "rule '%s' defined twice", name);
            if (c->r->n == FOCUS_MAX_RULES)
                return fail(c, "name", "more than %d rules", FOCUS_MAX_RULES);
            c->cur = &c->r->rule[c->r->n++];
            memset(c->cur, 0, sizeof *c->cur);
            copy_text(c->cur->name, sizeof c->cur->name, name);
            c->cur->z_on = 2.0;
            c->cur->z_full = 4.0;
            c->cur->dir = 1;
            c->cur->gait = 1;
            c->cur->metric = -1;
        } else if (strcmp(section, "general") && strcmp(section, "baseline") &&
                   strcmp(section, "recovery")) {
            return fail(c, "section", "unknown section (expected general, baseline, recovery "
                                      "or 'rule NAME')");
        }
    }
    if (!key)
        return 1;
    if (!value || !*value)
        return fail(c, key, "empty value");
    return c->cur ? rule_key(c, key, value) : global_key(c, key, value);
}

/* Line of "[rule NAME]" in text (for errors found after parsing), or 0. */
static int header_line(const char *text, const char *name)
{
    int line = 1;
    const char *p = text;
    size_t nl = strlen(name);
    while (*p) {
        const char *q = p;
        while (*q == ' ' || *q == '\t')
            q++;
        if (*q == '[') {
            q++;
            while (*q == ' ')
                q++;
            if (!strncmp(q, "rule", 4)) {
                q += 4;
                while (*q == ' ')
                    q++;
                if (!strncmp(q, name, nl)) {
                    q += nl;
                    while (*q == ' ')
                        q++;
                    if (*q == ']')
                        return line;
                }
            }
        }
        const char *e = strchr(p, '\n');
        if (!e)
            break;
        p = e + 1;
        line++;
    }
    return 0;
}

/* Finds a [rule NAME] header given twice (inih would merge them). Returns 0, or -1 with a
 * message. */
static int duplicate_rules(const char *text, const char *file, char *err, size_t errcap)
{
    char names[FOCUS_MAX_RULES + 1][FOCUS_NAME_MAX];
    int lines[FOCUS_MAX_RULES + 1], n = 0, line = 1;
    for (const char *p = text; *p; line++) {
        const char *e = strchr(p, '\n');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        char buf[256];
        snprintf(buf, sizeof buf, "%.*s", (int)(len < 255 ? len : 255), p);
        char *t = trim(buf);
        char *close = strchr(t, ']');
        if (t[0] == '[' && close) {
            *close = '\0';
            char *sec = trim(t + 1);
            if (!strncmp(sec, "rule ", 5) && n <= FOCUS_MAX_RULES) {
                const char *nm = trim(sec + 5);
                for (int i = 0; i < n; i++)
                    if (!strcmp(names[i], nm)) {
                        snprintf(err, errcap, "%s:%d: [rule %s] name: rule '%s' defined twice "
                                 "(first at line %d)", file, line, nm, nm, lines[i]);
                        return -1;
                    }
                snprintf(names[n], FOCUS_NAME_MAX, "%s", nm);
                lines[n++] = line;
            }
        }
        if (!e)
            break;
        p = e + 1;
    }
    return 0;
}

/* Checks a parsed rule; returns NULL or a message naming the field. */
static const char *check_rule(const focus_rule_t *r, int seen, char *buf, size_t cap)
{
    static const struct {
        int bit;
        const char *name;
    } req[] = {{K_METRIC, "metric"}, {K_KIND, "kind"},   {K_ON, "on"},
               {K_FULL, "full"},     {K_AREAS, "areas"}, {K_EVIDENCE, "evidence"}};
    for (size_t i = 0; i < sizeof req / sizeof req[0]; i++)
        if (!(seen & req[i].bit)) {
            snprintf(buf, cap, "[rule %s] %s: missing", r->name, req[i].name);
            return buf;
        }
    if (r->kind == FOCUS_KIND_ASYM) {
        if (!(seen & K_SIDE)) {
            snprintf(buf, cap, "[rule %s] side: missing (larger, smaller or both)", r->name);
            return buf;
        }
        if (r->pair || strstr(focus_metric_name(r->metric), "_si_pct") == NULL) {
            snprintf(buf, cap, "[rule %s] metric: an asym rule needs a symmetry index "
                               "(*_si_pct), got '%s'", r->name, focus_metric_name(r->metric));
            return buf;
        }
        if (r->on < 0 || r->full <= r->on) {
            snprintf(buf, cap, "[rule %s] full: an asym rule needs 0 <= on < full (|SI|, %%)",
                     r->name);
            return buf;
        }
    } else if (r->on == r->full) {
        snprintf(buf, cap, "[rule %s] full: must differ from on", r->name);
        return buf;
    }
    if (r->z_full <= r->z_on) {
        snprintf(buf, cap, "[rule %s] z_full: must be larger than z_on", r->name);
        return buf;
    }
    return NULL;
}

static void default_unit(focus_rule_t *r)
{
    if (r->unit[0])
        return;
    const char *n = focus_metric_name(r->metric);
    static const struct {
        const char *suffix, *unit;
    } u[] = {{"_pct", "%"}, {"_pp", "pp"}, {"_g", "g"},     {"_dps", "deg/s"},
             {"_deg", "deg"}, {"_s", "s"}, {"_min", "min"}, {"_spm", "steps/min"}};
    for (size_t i = 0; i < sizeof u / sizeof u[0]; i++) {
        size_t ln = strlen(n), ls = strlen(u[i].suffix);
        const char *base = n;
        char tmp[64];
        if (r->pair && ln > 2) { /* the L name: strip "_L" */
            snprintf(tmp, sizeof tmp, "%.*s", (int)(ln - 2), n);
            base = tmp;
            ln -= 2;
        }
        if (ln >= ls && !strcmp(base + ln - ls, u[i].suffix)) {
            copy_text(r->unit, sizeof r->unit, u[i].unit);
            return;
        }
    }
}

int focus_rules_parse(focus_rules_t *r, const char *text, const char *name, char *err,
                      size_t errcap)
{
    memset(r, 0, sizeof *r);
    r->min_strides = 20;
    r->live_on = 0.4;
    r->live_off = 0.25;
    r->baseline_sessions = 5;
    r->recovery_long_min = 75;
    r->recovery_intense_spm = 180;
    r->recovery_intense_min = 30;
    copy_text(r->recovery_advice, sizeof r->recovery_advice,
              "{Reason}: a general recovery massage of about 30 minutes within a day.");
    /* inih reads at most INI_MAX_LINE (200) bytes a line: refuse longer ones plainly. */
    int line = 1;
    size_t len = 0;
    for (const char *p = text; *p; p++) {
        if (*p == '\n') {
            line++;
            len = 0;
        } else if (++len >= 199) {
            snprintf(err, errcap, "%s:%d: line longer than 198 characters", name, line);
            return -1;
        }
    }
    if (duplicate_rules(text, name, err, errcap))
        return -1;
    parse_ctx_t c;
    memset(&c, 0, sizeof c);
    c.r = r;
    int rc = ini_parse_string(text, on_ini_entry, &c);
    if (rc != 0 || c.failed) {
        if (rc < 0)
            snprintf(err, errcap, "%s: cannot parse (out of memory)", name);
        else if (c.failed)
            snprintf(err, errcap, "%s:%d: %s", name, rc, c.msg);
        else
            snprintf(err, errcap, "%s:%d: syntax error (expected [section] or key = value)",
                     name, rc);
        return -1;
    }
    if (r->live_off > r->live_on) {
        snprintf(err, errcap, "%s: [general] live_off: must not exceed live_on", name);
        return -1;
    }
    for (int i = 0; i < r->n; i++) {
        char buf[256];
        focus_rule_t *ru = &r->rule[i];
        ru->line = header_line(text, ru->name);
        const char *m = check_rule(ru, c.seen[i], buf, sizeof buf);
        if (m) {
            snprintf(err, errcap, "%s:%d: %s", name, ru->line, m);
            return -1;
        }
        ru->dir = ru->full > ru->on ? 1 : -1;
        default_unit(ru);
    }
    return 0;
}

int focus_rules_default(focus_rules_t *r, char *err, size_t errcap)
{
    return focus_rules_parse(r, focus_rules_default_text, "focus_rules.ini (built in)", err,
                             errcap);
}

/* ---------------------------------------------------------------- evaluation */

static double ramp(double x, double on, double full)
{
    if (!isfinite(x))
        return 0.0;
    double s = (x - on) / (full - on);
    return s <= 0 ? 0.0 : (s >= 1 ? 1.0 : s);
}

static void fmt_num(char *buf, size_t cap, double x)
{
    double a = fabs(x);
    snprintf(buf, cap, a >= 100 ? "%.0f" : (a >= 10 ? "%.0f" : "%.1f"), x);
}

/* Appends src to dst (cap bytes, NUL-terminated), truncating. */
static void append(char *dst, size_t cap, const char *src)
{
    size_t n = strlen(dst);
    if (n + 1 < cap)
        snprintf(dst + n, cap - n, "%s", src);
}

typedef struct tmpl_vars {
    const char *side, *Side, *other, *Other;
    char abs[64], value[24], unit[16], span[64], ref[256], reason[96];
} tmpl_vars_t;

static void expand(char *out, size_t cap, const char *tmpl, const tmpl_vars_t *v)
{
    out[0] = '\0';
    int had_ref = 0;
    for (const char *p = tmpl; *p;) {
        const char *b = strchr(p, '{');
        const char *e = b ? strchr(b, '}') : NULL;
        if (!b || !e) {
            append(out, cap, p);
            break;
        }
        char lit[FOCUS_TEXT_MAX];
        snprintf(lit, sizeof lit, "%.*s", (int)(b - p), p);
        append(out, cap, lit);
        char key[24];
        snprintf(key, sizeof key, "%.*s", (int)(e - b - 1), b + 1);
        const char *val = NULL;
        if (!strcmp(key, "side"))
            val = v->side;
        else if (!strcmp(key, "Side"))
            val = v->Side;
        else if (!strcmp(key, "other"))
            val = v->other;
        else if (!strcmp(key, "Other"))
            val = v->Other;
        else if (!strcmp(key, "abs"))
            val = v->abs;
        else if (!strcmp(key, "value"))
            val = v->value;
        else if (!strcmp(key, "unit"))
            val = v->unit;
        else if (!strcmp(key, "span"))
            val = v->span;
        else if (!strcmp(key, "reason"))
            val = v->reason;
        else if (!strcmp(key, "Reason")) {
            char r[96];
            copy_text(r, sizeof r, v->reason);
            r[0] = (char)toupper((unsigned char)r[0]);
            append(out, cap, r);
            p = e + 1;
            continue;
        } else if (!strcmp(key, "ref")) {
            val = v->ref;
            had_ref = 1;
        }
        if (val)
            append(out, cap, val);
        else { /* unknown placeholder: keep it visible */
            snprintf(lit, sizeof lit, "{%s}", key);
            append(out, cap, lit);
        }
        p = e + 1;
    }
    if (!had_ref && v->ref[0]) {
        append(out, cap, " (");
        append(out, cap, v->ref);
        append(out, cap, ")");
    }
}

static void set_side_words(tmpl_vars_t *v, int side)
{
    v->side = side == FOCUS_SIDE_L ? "left" : side == FOCUS_SIDE_R ? "right" : "both feet";
    v->Side = side == FOCUS_SIDE_L ? "Left" : side == FOCUS_SIDE_R ? "Right" : "Both feet";
    v->other = side == FOCUS_SIDE_L ? "right" : side == FOCUS_SIDE_R ? "left" : "normal";
    v->Other = side == FOCUS_SIDE_L ? "Right" : side == FOCUS_SIDE_R ? "Left" : "Normal";
}

/* Tests a rule's when-conditions on side (both: either foot). */
static int conditions_hold(const focus_rule_t *r, const focus_metrics_t *m, int side)
{
    for (int i = 0; i < r->n_when; i++) {
        const focus_cond_t *c = &r->when[i];
        int ok = 0;
        for (int f = 0; f < 2; f++) {
            if (c->pair && side != FOCUS_SIDE_BOTH && side != f)
                continue;
            double x = m->v[c->metric + (c->pair ? f : 0)];
            if (isfinite(x) && (c->op > 0 ? x > c->value : x < c->value))
                ok = 1;
            if (!c->pair)
                break;
        }
        if (!ok)
            return 0;
    }
    return 1;
}

/* Score of value x (metric index mi) against the baseline if usable, else the population. */
static double score_one(const focus_rules_t *rs, const focus_rule_t *r, const focus_baseline_t *b,
                        int mi, double x, int *used, double *dev, tmpl_vars_t *v)
{
    double mean = NAN, sd = NAN;
    uint32_t n = b ? focus_baseline_get(b, mi, &mean, &sd) : 0;
    char a[24], s[24];
    if (b && n >= rs->baseline_sessions && isfinite(mean) && isfinite(sd)) {
        double sdu = sd > r->sd_floor ? sd : r->sd_floor;
        if (!(sdu > 0))
            sdu = 1e-9;
        *used = 1;
        *dev = x - mean;
        double z = r->kind == FOCUS_KIND_ASYM ? fabs(*dev) / sdu : r->dir * *dev / sdu;
        fmt_num(a, sizeof a, mean);
        fmt_num(s, sizeof s, sd);
        snprintf(v->ref, sizeof v->ref, "compared with your own baseline: usually %s%s, sd %s, "
                 "over %u sessions", a, v->unit, s, (unsigned)n);
        return ramp(z, r->z_on, r->z_full);
    }
    *used = 0;
    *dev = x;
    if (r->population[0])
        snprintf(v->ref, sizeof v->ref, "population range: %s", r->population);
    else {
        fmt_num(a, sizeof a, r->on);
        snprintf(v->ref, sizeof v->ref, "population range: %s %s%s",
                 r->kind == FOCUS_KIND_ASYM ? "within" : (r->dir > 0 ? "below" : "above"), a,
                 v->unit);
    }
    return r->kind == FOCUS_KIND_ASYM ? ramp(fabs(x), r->on, r->full) : ramp(x, r->on, r->full);
}

double focus_rule_eval(const focus_rules_t *rs, const focus_rule_t *r, const focus_metrics_t *m,
                       const focus_baseline_t *b, int *side, int *used_baseline, char *evidence,
                       size_t cap)
{
    tmpl_vars_t v;
    memset(&v, 0, sizeof v);
    if (r->unit[0]) /* "14 %", "18 deg" */
        snprintf(v.unit, sizeof v.unit, " %s", r->unit);
    if (m->span_min > 0)
        snprintf(v.span, sizeof v.span, "over %.0f min of %s", m->span_min < 1 ? 1 : m->span_min,
                 m->running ? "running" : "walking");
    else
        copy_text(v.span, sizeof v.span, "over this session");
    double score = 0, shown = NAN;
    int sd = FOCUS_SIDE_BOTH, used = 0;
    if ((r->gait == 1 && !m->running) || (r->gait == 2 && m->running))
        return 0;
    if (r->kind == FOCUS_KIND_ASYM) {
        double x = m->v[r->metric], dev = 0, xl = m->late[r->metric];
        if (isfinite(x))
            score = score_one(rs, r, b, r->metric, x, &used, &dev, &v);
        if (isfinite(xl) && m->late_min > 0) {
            /* an asymmetry clearly stronger in the last third: score and date it there */
            tmpl_vars_t vl = v;
            int ul = 0;
            double devl;
            double sl = score_one(rs, r, b, r->metric, xl, &ul, &devl, &vl);
            if (sl >= score + 0.25) {
                score = sl;
                x = xl;
                dev = devl;
                used = ul;
                v = vl;
                snprintf(v.span, sizeof v.span, "over the last %.0f min", m->late_min);
            }
        }
        if (score <= 0)
            return 0;
        if (r->pick == FOCUS_PICK_BOTH)
            sd = FOCUS_SIDE_BOTH;
        else
            sd = (dev > 0) == (r->pick == FOCUS_PICK_LARGER) ? FOCUS_SIDE_L : FOCUS_SIDE_R;
        shown = x;
    } else if (r->pair) {
        double sc[2] = {0, 0};
        int us[2] = {0, 0};
        tmpl_vars_t vf[2] = {v, v};
        for (int f = 0; f < 2; f++) {
            double x = m->v[r->metric + f], dev;
            if (isfinite(x))
                sc[f] = score_one(rs, r, b, r->metric + f, x, &us[f], &dev, &vf[f]);
        }
        if (sc[0] <= 0 && sc[1] <= 0)
            return 0;
        int big = sc[1] > sc[0];
        if (r->pick == FOCUS_PICK_BOTH || (sc[0] > 0 && sc[1] > 0))
            sd = FOCUS_SIDE_BOTH;
        else
            sd = big;
        score = sc[big];
        used = us[big];
        copy_text(v.ref, sizeof v.ref, vf[big].ref);
        shown = m->v[r->metric + big];
        if (sd == FOCUS_SIDE_BOTH && sc[0] > 0 && sc[1] > 0) {
            char l[24], rr[24]; /* "%.1f": short */
            fmt_num(l, sizeof l, fabs(m->v[r->metric]));
            fmt_num(rr, sizeof rr, fabs(m->v[r->metric + 1]));
            snprintf(v.abs, sizeof v.abs, "%s and %s", l, rr);
        }
    } else {
        double x = m->v[r->metric], dev;
        if (!isfinite(x))
            return 0;
        score = score_one(rs, r, b, r->metric, x, &used, &dev, &v);
        sd = FOCUS_SIDE_BOTH;
        shown = x;
    }
    if (score <= 0 || !conditions_hold(r, m, sd))
        return 0;
    set_side_words(&v, sd);
    if (!v.abs[0])
        fmt_num(v.abs, sizeof v.abs, fabs(shown));
    fmt_num(v.value, sizeof v.value, shown);
    *side = sd;
    *used_baseline = used;
    if (evidence && cap)
        expand(evidence, cap, r->evidence, &v);
    return score;
}

typedef struct contrib {
    double p;                        /* prod(1 - s w) */
    int n;
    double sw[FOCUS_MAX_RULES];
    int rule[FOCUS_MAX_RULES], base[FOCUS_MAX_RULES];
} contrib_t;

static int by_score(const void *a, const void *b)
{
    const focus_entry_t *x = a, *y = b;
    if (x->score != y->score)
        return x->score > y->score ? -1 : 1;
    if (x->area != y->area)
        return x->area - y->area;
    return x->side - y->side;
}

void focus_evaluate(const focus_rules_t *rs, const focus_metrics_t *m, const focus_baseline_t *b,
                    focus_result_t *out)
{
    static const contrib_t c0;
    contrib_t cell[FOCUS_N_AREAS][3];
    char ev[FOCUS_MAX_RULES][FOCUS_EVIDENCE_MAX];
    for (int a = 0; a < FOCUS_N_AREAS; a++)
        for (int s = 0; s < 3; s++) {
            cell[a][s] = c0;
            cell[a][s].p = 1.0;
        }
    memset(out, 0, sizeof *out);
    for (int i = 0; i < rs->n; i++) {
        const focus_rule_t *r = &rs->rule[i];
        int side, used;
        double s = focus_rule_eval(rs, r, m, b, &side, &used, ev[i], sizeof ev[i]);
        if (s <= 0)
            continue;
        for (int k = 0; k < r->n_areas; k++) {
            contrib_t *c = &cell[r->area[k]][side];
            double sw = s * r->weight[k];
            c->p *= 1.0 - sw;
            c->sw[c->n] = sw;
            c->rule[c->n] = i;
            c->base[c->n] = used;
            c->n++;
        }
    }
    for (int a = 0; a < FOCUS_N_AREAS; a++)
        for (int s = 0; s < 3; s++) {
            contrib_t *c = &cell[a][s];
            if (!c->n)
                continue;
            focus_entry_t *e = &out->e[out->n++];
            e->area = a;
            e->side = s;
            e->score = 1.0 - c->p;
            if (e->score > 1)
                e->score = 1;
            /* evidence lines: strongest contribution first */
            for (int k = 0; k < c->n && e->n_evidence < FOCUS_MAX_EVIDENCE; k++) {
                int best = -1;
                for (int j = 0; j < c->n; j++)
                    if (c->sw[j] >= 0 && (best < 0 || c->sw[j] > c->sw[best]))
                        best = j;
                if (best < 0)
                    break;
                int ri = c->rule[best];
                copy_text(e->evidence[e->n_evidence], FOCUS_EVIDENCE_MAX, ev[ri]);
                copy_text(e->rule[e->n_evidence], FOCUS_NAME_MAX, rs->rule[ri].name);
                e->baseline[e->n_evidence] = c->base[best];
                e->n_evidence++;
                c->sw[best] = -1;
            }
        }
    qsort(out->e, (size_t)out->n, sizeof out->e[0], by_score);

    /* General recovery massage after a long or hard session. */
    double dur = m->v[FM_DURATION_MIN], cad = m->v[FM_CADENCE_SPM], gait = m->v[FM_GAIT_MIN];
    tmpl_vars_t v;
    memset(&v, 0, sizeof v);
    if (isfinite(dur) && rs->recovery_long_min > 0 && dur >= rs->recovery_long_min)
        snprintf(v.reason, sizeof v.reason, "a long session (%.0f min)", dur);
    else if (m->running && isfinite(cad) && isfinite(gait) && rs->recovery_intense_spm > 0 &&
             cad >= rs->recovery_intense_spm && gait >= rs->recovery_intense_min)
        snprintf(v.reason, sizeof v.reason, "a hard effort (%.0f min at %.0f steps/min)", gait,
                 cad);
    if (v.reason[0]) {
        out->recovery = 1;
        set_side_words(&v, FOCUS_SIDE_BOTH);
        expand(out->recovery_text, sizeof out->recovery_text, rs->recovery_advice, &v);
    }
}

/* ---------------------------------------------------------------- live hysteresis */

void focus_live_init(focus_live_t *l)
{
    memset(l, 0, sizeof *l);
}

int focus_live_update(focus_live_t *l, const focus_rules_t *rs, const focus_result_t *in,
                      focus_result_t *out)
{
    uint8_t now[FOCUS_N_AREAS][3];
    memset(now, 0, sizeof now);
    out->n = 0;
    for (int i = 0; i < in->n; i++) {
        const focus_entry_t *e = &in->e[i];
        double th = l->shown[e->area][e->side] ? rs->live_off : rs->live_on;
        if (e->score >= th) {
            out->e[out->n++] = *e;
            now[e->area][e->side] = 1;
        }
    }
    out->recovery = in->recovery;
    copy_text(out->recovery_text, sizeof out->recovery_text, in->recovery_text);
    int changed = memcmp(now, l->shown, sizeof now) != 0;
    memcpy(l->shown, now, sizeof now);
    return changed;
}
