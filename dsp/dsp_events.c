/* dsp_events.c - streaming IC / toe-off detection on the pitch rate of one foot. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "dsp_events.h"

#define G0 9.80665

int dsp_events_init(dsp_events_t *ev, size_t cap, uint8_t foot)
{
    memset(ev, 0, sizeof *ev);
    ev->cap = cap;
    ev->foot = foot;
    ev->t = calloc(cap, sizeof *ev->t);
    ev->gy = calloc(cap, sizeof *ev->gy);
    ev->an = calloc(cap, sizeof *ev->an);
    ev->sat = calloc(cap, sizeof *ev->sat);
    ev->cand = -1;
    ev->cand_x = -1;
    ev->pend = -1;
    ev->last_stride_s = NAN;
    ev->scanned_t = -INFINITY;
    if (!ev->t || !ev->gy || !ev->an || !ev->sat) {
        dsp_events_release(ev);
        return -1;
    }
    return 0;
}

void dsp_events_release(dsp_events_t *ev)
{
    free(ev->t);
    free(ev->gy);
    free(ev->an);
    free(ev->sat);
    memset(ev, 0, sizeof *ev);
}

void dsp_events_store(dsp_events_t *ev, const dsp_sample_t *s)
{
    size_t k = (size_t)(ev->n % ev->cap);
    ev->t[k] = s->t;
    ev->gy[k] = s->gyr[1];
    ev->an[k] = sqrtf(s->acc[0] * s->acc[0] + s->acc[1] * s->acc[1] + s->acc[2] * s->acc[2]);
    ev->sat[k] = s->saturated;
    ev->n++;
}

void dsp_events_reset_chain(dsp_events_t *ev)
{
    ev->scan = ev->n;
    ev->cand = -1;
    ev->cand_x = -1;
    ev->pend = -1;
    ev->have_ic = 0;
    ev->last_stride_s = NAN;
}

static float G(const dsp_events_t *ev, uint64_t i)
{
    return ev->gy[i % ev->cap];
}

static double T(const dsp_events_t *ev, uint64_t i)
{
    return ev->t[i % ev->cap];
}

/* Oldest index still in the ring. */
static uint64_t oldest(const dsp_events_t *ev)
{
    return ev->n > ev->cap ? ev->n - ev->cap : 0;
}

/* Time where the signal crosses level between samples i and i+1 (linear interpolation). */
static double cross_time(const dsp_events_t *ev, uint64_t i, double level)
{
    double a = G(ev, i), b = G(ev, i + 1);
    double f = (b != a) ? (level - a) / (b - a) : 0.0;
    if (f < 0.0)
        f = 0.0;
    if (f > 1.0)
        f = 1.0;
    return T(ev, i) + f * (T(ev, i + 1) - T(ev, i));
}

/* Initial contact after the swing peak s: the first upward zero crossing of gyr_y in (s, end).
 * Returns 1 with *i, the sample before the crossing. */
static int find_ic(const dsp_events_t *ev, uint64_t s, uint64_t end, uint64_t *i)
{
    for (uint64_t k = s; k + 1 < end; k++) {
        if (G(ev, k) < 0.0f && G(ev, k + 1) >= 0.0f) {
            *i = k;
            return 1;
        }
    }
    return 0;
}

/* Toe-off before the swing peak s, after sample lo (the stride's IC): z = last downward zero
 * crossing before s; push-off peak P = max gyr_y over the second half of [lo, z]; toe-off =
 * where gyr_y falls through DSP_TO_FRAC * gyr_y(P) after P. */
static int find_to(const dsp_events_t *ev, uint64_t lo, uint64_t s, uint64_t *pk, double *t)
{
    uint64_t z = 0;
    int found = 0;
    for (uint64_t k = s; k-- > lo;) {
        if (G(ev, k) >= 0.0f && G(ev, k + 1) < 0.0f) {
            z = k;
            found = 1;
            break;
        }
    }
    if (!found)
        return 0;
    uint64_t from = lo + (z - lo) / 2;
    uint64_t p = z;
    for (uint64_t k = from; k <= z; k++)
        if (G(ev, k) > G(ev, p))
            p = k;
    float thr = (float)(DSP_TO_FRAC * G(ev, p));
    if (!(G(ev, p) > 0.0f))
        return 0;
    for (uint64_t k = p; k <= z; k++) {
        if (G(ev, k) >= thr && G(ev, k + 1) < thr) {
            *pk = p;
            *t = cross_time(ev, k, thr);
            return 1;
        }
    }
    return 0;
}

/* Fills per-stride figures from the ring: IC at sample a (crossing between a, a+1), next IC at
 * sample b, swing peak at s. */
static void fill_stride(const dsp_events_t *ev, uint64_t a, uint64_t b, uint64_t s, dsp_stride_t *o)
{
    uint8_t sat = 0;
    for (uint64_t k = a; k <= b + 1; k++)
        sat |= ev->sat[k % ev->cap];
    o->saturated = sat;
    double imp = 0.0;
    for (uint64_t k = a; k <= b && T(ev, k) <= o->t_ic + DSP_IMPACT_S; k++)
        if (ev->an[k % ev->cap] > imp)
            imp = ev->an[k % ev->cap];
    o->impact_g = imp / G0;
    double half = o->t_ic + 0.5 * o->contact_s, push = NAN;
    for (uint64_t k = a; k <= b && T(ev, k) <= o->t_to; k++)
        if (T(ev, k) >= half && (isnan(push) || G(ev, k) > push))
            push = G(ev, k);
    o->pushoff_dps = push;
    o->swing_peak_dps = fabs(G(ev, s));
}

/* Completes the cycle of swing peak s whose following IC crossing lies between samples ici and
 * ici+1: the stride from the previous IC to this one, if both exist and it is plausible.
 * Returns 1 when a stride was completed. */
static int complete(dsp_events_t *ev, uint64_t s, uint64_t ici, double period_s, double min_hz,
                    double max_hz, dsp_stride_t *out)
{
    double ict = cross_time(ev, ici, 0.0);
    int done = 0;
    if (ev->have_ic && ev->ic_i >= oldest(ev) && ev->ic_i < s) {
        uint64_t pk;
        double tto;
        if (find_to(ev, ev->ic_i, s, &pk, &tto)) {
            /* plausible stride: near the spectral period or the last stride (the spectrum lags
             * behind changes of pace by up to half its window) */
            double stride = ict - ev->ic_t, last = ev->last_stride_s;
            double tmin = isfinite(last) ? fmin(period_s, last) : period_s;
            double tmax = isfinite(last) ? fmax(period_s, last) : period_s;
            double lo = fmax(0.5 * tmin, 1.0 / (1.5 * max_hz));
            double hi = fmin(1.75 * tmax, 1.5 / min_hz);
            if (tto > ev->ic_t && tto < ict && stride >= lo && stride <= hi) {
                memset(out, 0, sizeof *out);
                out->foot = ev->foot;
                out->index = ev->index++;
                out->t_ic = ev->ic_t;
                out->t_to = tto;
                out->t_next_ic = ict;
                out->stride_s = stride;
                out->contact_s = tto - ev->ic_t;
                out->swing_s = ict - tto;
                out->duty = out->contact_s / stride;
                out->cadence_spm = 120.0 / stride;
                out->step_s = NAN;
                out->flight_s = NAN;
                out->mode = out->duty < 0.5 || (out->duty < 0.55 && out->cadence_spm > 150.0)
                                ? DSP_MODE_RUN
                                : DSP_MODE_WALK;
                fill_stride(ev, ev->ic_i, ici, s, out);
                ev->last_stride_s = stride;
                done = 1;
            }
        }
    }
    ev->have_ic = 1;
    ev->ic_i = ici;
    ev->ic_t = ict;
    return done;
}

/* A swing peak s is confirmed at sample k (no deeper value within the separation window).
 * Peaks before the last IC are stale (a dip absorbed in the chain); otherwise the IC after it is
 * searched in what has arrived, else awaited sample by sample (ev->pend). */
static int on_swing_peak(dsp_events_t *ev, uint64_t s, uint64_t k, double period_s, double min_hz,
                         double max_hz, dsp_stride_t *out)
{
    if (ev->have_ic && s <= ev->ic_i)
        return 0;
    double mag = -G(ev, s);
    ev->amp = ev->amp > 0.0 ? 0.8 * ev->amp + 0.2 * mag : mag;
    if (ev->pend >= 0) /* two swing peaks without a contact between: chain broken */
        ev->have_ic = 0;
    ev->pend = -1;
    uint64_t ici;
    if (find_ic(ev, s, k + 1, &ici))
        return complete(ev, s, ici, period_s, min_hz, max_hz, out);
    ev->pend = (int64_t)s;
    return 0;
}

int dsp_events_step(dsp_events_t *ev, double period_s, double min_hz, double max_hz,
                    dsp_stride_t *out)
{
    if (ev->scan < oldest(ev)) {
        ev->scan = oldest(ev);
        ev->cand = -1;
        ev->cand_x = -1;
        ev->pend = -1;
        ev->have_ic = 0;
    }
    if (!(period_s > 0.0) || !(ev->rate > 0.0))
        return 0;
    /* swing peaks are at least DSP_SEP_FRAC of a stride apart; the shorter of the spectral period
     * and the last stride follows a quickening pace at once */
    double sep = isfinite(ev->last_stride_s) ? fmin(period_s, ev->last_stride_s) : period_s;
    uint64_t w = (uint64_t)(DSP_SEP_FRAC * sep * ev->rate + 0.5);
    if (w < 2)
        w = 2;
    uint64_t stance = (uint64_t)(DSP_STANCE_FRAC * sep * ev->rate + 0.5);
    uint64_t horizon = (uint64_t)(fmax(period_s, sep) * ev->rate + 0.5);
    double thr = fmax(DSP_SWING_FLOOR_DPS, DSP_SWING_REL * ev->amp);
    while (ev->scan < ev->n) {
        uint64_t k = ev->scan++;
        float g = G(ev, k);
        ev->scanned_t = T(ev, k);
        /* upward zero crossing between k-1 and k (k-1 still in the ring) */
        int up = k > oldest(ev) && G(ev, k - 1) < 0.0f && g >= 0.0f;
        if (g < -thr && (ev->cand < 0 || g < G(ev, (uint64_t)ev->cand))) {
            ev->cand = (int64_t)k;
            ev->cand_x = -1;
        } else if (ev->cand >= 0) {
            /* the swing lobe ended in a contact followed by stance-like values (no swing-level
             * rate for DSP_STANCE_FRAC of a stride): confirm at once, as a quickening pace (e.g.
             * a walk-to-run transition) may bring the next, deeper swing peak within w */
            if (g < -thr)
                ev->cand_x = -1;
            else if (ev->cand_x < 0 && up)
                ev->cand_x = (int64_t)k;
        }
        if (ev->pend >= 0 && k > (uint64_t)ev->pend + 1) {
            uint64_t s = (uint64_t)ev->pend;
            if (s < oldest(ev) || k - s > horizon) {
                ev->pend = -1; /* no contact within a stride of the swing peak */
                ev->have_ic = 0;
            } else if (up) {
                ev->pend = -1;
                if (complete(ev, s, k - 1, period_s, min_hz, max_hz, out))
                    return 1; /* a due confirmation below waits for the next sample */
            }
        }
        if (ev->cand >= 0 && (k - (uint64_t)ev->cand >= w ||
                              (ev->cand_x >= 0 && k - (uint64_t)ev->cand_x >= stance))) {
            uint64_t s = (uint64_t)ev->cand;
            ev->cand = -1;
            ev->cand_x = -1;
            if (s < oldest(ev))
                continue;
            int got = on_swing_peak(ev, s, k, period_s, min_hz, max_hz, out);
            thr = fmax(DSP_SWING_FLOOR_DPS, DSP_SWING_REL * ev->amp);
            if (got)
                return 1;
        }
    }
    return 0;
}

int dsp_events_flush(dsp_events_t *ev, double period_s, double min_hz, double max_hz,
                     dsp_stride_t *out)
{
    if (dsp_events_step(ev, period_s, min_hz, max_hz, out))
        return 1;
    if (!(period_s > 0.0) || !(ev->rate > 0.0) || ev->cand < 0 || ev->n == 0)
        return 0;
    uint64_t s = (uint64_t)ev->cand;
    ev->cand = -1;
    if (s < oldest(ev))
        return 0;
    return on_swing_peak(ev, s, ev->n - 1, period_s, min_hz, max_hz, out);
}
