/* dsp_stats.c - stride accumulators, means, coefficient of variation, symmetry indices. */
#include <math.h>
#include <stddef.h>
#include "dsp_stats.h"

static const char *const names[DSP_NMETRIC] = {
    "stride_s",       "contact_s",        "swing_s",       "step_s",           "flight_s",
    "duty",           "cadence_spm",      "impact_g",      "braking_g",        "pushoff_dps",
    "swing_peak_dps", "strike_angle_deg", "pronation_deg", "pronation_vel_dps",
    "stride_length_m", "speed_mps"};

const char *dsp_metric_name(int m)
{
    return m >= 0 && m < DSP_NMETRIC ? names[m] : NULL;
}

double dsp_stride_metric(const dsp_stride_t *s, int m)
{
    switch (m) {
    case DSP_M_STRIDE:
        return s->stride_s;
    case DSP_M_CONTACT:
        return s->contact_s;
    case DSP_M_SWING:
        return s->swing_s;
    case DSP_M_STEP:
        return s->step_s;
    case DSP_M_FLIGHT:
        return s->flight_s;
    case DSP_M_DUTY:
        return s->duty;
    case DSP_M_CADENCE:
        return s->cadence_spm;
    case DSP_M_IMPACT:
        return s->impact_g;
    case DSP_M_BRAKING:
        return s->braking_g;
    case DSP_M_PUSHOFF:
        return s->pushoff_dps;
    case DSP_M_SWING_PEAK:
        return s->swing_peak_dps;
    case DSP_M_STRIKE_ANGLE:
        return s->strike_angle_deg;
    case DSP_M_PRONATION:
        return s->pronation_deg;
    case DSP_M_PRONATION_VEL:
        return s->pronation_vel_dps;
    case DSP_M_STRIDE_LENGTH:
        return s->stride_length_m;
    case DSP_M_SPEED:
        return s->speed_mps;
    default:
        return NAN;
    }
}

void dsp_acc_add(dsp_acc_t *a, const dsp_stride_t *s)
{
    a->n++;
    a->stride += s->stride_s;
    a->contact += s->contact_s;
    a->contact2 += s->contact_s * s->contact_s;
    a->swing += s->swing_s;
    a->duty += s->duty;
    if (isfinite(s->step_s))
        a->n_step++, a->step += s->step_s;
    if (isfinite(s->flight_s))
        a->n_flight++, a->flight += s->flight_s;
    if (isfinite(s->impact_g))
        a->n_impact++, a->impact += s->impact_g;
    if (isfinite(s->pushoff_dps))
        a->n_push++, a->pushoff += s->pushoff_dps;
    for (int m = 0; m < DSP_NMETRIC; m++) {
        double v = dsp_stride_metric(s, m);
        if (isfinite(v))
            a->mn[m]++, a->ms[m] += v, a->ms2[m] += v * v;
    }
}

void dsp_acc_add_metric(dsp_acc_t *a, const dsp_stride_t *s, int m)
{
    double v = dsp_stride_metric(s, m);
    if (m >= 0 && m < DSP_NMETRIC && isfinite(v))
        a->mn[m]++, a->ms[m] += v, a->ms2[m] += v * v;
}

void dsp_acc_merge(dsp_acc_t *a, const dsp_acc_t *b)
{
    a->n += b->n;
    a->stride += b->stride;
    a->contact += b->contact;
    a->contact2 += b->contact2;
    a->swing += b->swing;
    a->duty += b->duty;
    a->n_step += b->n_step;
    a->step += b->step;
    a->n_flight += b->n_flight;
    a->flight += b->flight;
    a->n_impact += b->n_impact;
    a->impact += b->impact;
    a->n_push += b->n_push;
    a->pushoff += b->pushoff;
    for (int m = 0; m < DSP_NMETRIC; m++) {
        a->mn[m] += b->mn[m];
        a->ms[m] += b->ms[m];
        a->ms2[m] += b->ms2[m];
    }
}

static double mean(double sum, uint32_t n)
{
    return n ? sum / n : NAN;
}

void dsp_acc_stats(const dsp_acc_t *a, dsp_foot_stats_t *o)
{
    o->n = a->n;
    o->stride_s = mean(a->stride, a->n);
    o->contact_s = mean(a->contact, a->n);
    o->swing_s = mean(a->swing, a->n);
    o->duty = mean(a->duty, a->n);
    o->step_s = mean(a->step, a->n_step);
    o->flight_s = mean(a->flight, a->n_flight);
    o->impact_g = mean(a->impact, a->n_impact);
    o->pushoff_dps = mean(a->pushoff, a->n_push);
    o->contact_cv_pct = NAN;
    if (a->n >= 2) {
        double m = a->contact / a->n;
        double var = (a->contact2 - a->n * m * m) / (a->n - 1);
        o->contact_cv_pct = m > 0.0 ? 100.0 * sqrt(var > 0.0 ? var : 0.0) / m : NAN;
    }
    for (int k = 0; k < DSP_NMETRIC; k++) {
        uint32_t n = a->mn[k];
        o->mean[k] = mean(a->ms[k], n);
        o->median[k] = NAN;
        o->cv_pct[k] = NAN;
        if (n >= 2 && o->mean[k] != 0.0) {
            double m = o->mean[k];
            double var = (a->ms2[k] - n * m * m) / (n - 1);
            o->cv_pct[k] = 100.0 * sqrt(var > 0.0 ? var : 0.0) / fabs(m);
        }
    }
}

void dsp_window_fill(dsp_window_t *w, const dsp_acc_t acc[2], uint32_t n_run, uint32_t n_walk)
{
    dsp_acc_stats(&acc[0], &w->foot[0]);
    dsp_acc_stats(&acc[1], &w->foot[1]);
    uint32_t n = acc[0].n + acc[1].n;
    w->cadence_events_spm = n ? 120.0 / ((acc[0].stride + acc[1].stride) / n) : NAN;
    w->contact_si_pct = dsp_symmetry_index(w->foot[0].contact_s, w->foot[1].contact_s);
    w->stride_si_pct = dsp_symmetry_index(w->foot[0].stride_s, w->foot[1].stride_s);
    w->step_si_pct = dsp_symmetry_index(w->foot[0].step_s, w->foot[1].step_s);
    for (int k = 0; k < DSP_NMETRIC; k++)
        w->si_pct[k] = dsp_symmetry_index(w->foot[0].mean[k], w->foot[1].mean[k]);
    w->phase_offset_deg = NAN; /* spectral fields: set by the pipeline where they exist */
    w->spectral_similarity = NAN;
    w->mode =
        n_run + n_walk == 0 ? DSP_MODE_UNKNOWN : (n_run >= n_walk ? DSP_MODE_RUN : DSP_MODE_WALK);
}
