/* dsp_events.c - streaming IC / toe-off detection on the pitch rate of one foot. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "dsp_events.h"

#define G0 9.80665

int dsp_events_init(dsp_events_t *ev, size_t cap, uint8_t foot)
{
    memset(ev, 0, sizeof *ev);
    size_t c = 64;
    while (c < cap) /* a power of two: ring indices by mask, not division */
        c *= 2;
    cap = c;
    ev->cap = cap;
    ev->mask = cap - 1;
    ev->foot = foot;
    ev->t = calloc(cap, sizeof *ev->t);
    ev->gy = calloc(cap, sizeof *ev->gy);
    ev->an = calloc(cap, sizeof *ev->an);
    ev->sat = calloc(cap, sizeof *ev->sat);
    ev->ax = calloc(cap, sizeof *ev->ax);
    ev->gx = calloc(cap, sizeof *ev->gx);
    ev->gn = calloc(cap, sizeof *ev->gn);
    ev->cand = -1;
    ev->cand_x = -1;
    ev->pend = -1;
    ev->last_stride_s = NAN;
    ev->scanned_t = -INFINITY;
    if (!ev->t || !ev->gy || !ev->an || !ev->sat || !ev->ax || !ev->gx || !ev->gn) {
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
    free(ev->ax);
    free(ev->gx);
    free(ev->gn);
    memset(ev, 0, sizeof *ev);
}

void dsp_events_store(dsp_events_t *ev, const dsp_sample_t *s)
{
    size_t k = (size_t)(ev->n & ev->mask);
    ev->t[k] = s->t;
    ev->gy[k] = s->gyr[1];
    ev->an[k] = sqrtf(s->acc[0] * s->acc[0] + s->acc[1] * s->acc[1] + s->acc[2] * s->acc[2]);
    ev->sat[k] = s->saturated;
    ev->ax[k] = s->acc[0];
    ev->gx[k] = s->gyr[0];
    ev->gn[k] = sqrtf(s->gyr[0] * s->gyr[0] + s->gyr[1] * s->gyr[1] + s->gyr[2] * s->gyr[2]);
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
    return ev->gy[i & ev->mask];
}

static double T(const dsp_events_t *ev, uint64_t i)
{
    return ev->t[i & ev->mask];
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

int dsp_strike_type(double a)
{
    if (isnan(a))
        return DSP_STRIKE_UNKNOWN;
    return a > 8.0 ? DSP_STRIKE_REAR : (a < -1.6 ? DSP_STRIKE_FORE : DSP_STRIKE_MID);
}

/* Stance metrics from an orientation reset at foot-flat (METRICS.md section 3): samples i0 (first
 * after IC) .. i1 (last at or before toe-off). Foot-flat m = centre of the w-sample window with the
 * least summed |gyr|; pitch th = 0 there, integrated (trapezoid) from IC, where it is th_ic. */
static void stance_metrics(const dsp_events_t *ev, uint64_t i0, uint64_t i1, dsp_stride_t *o)
{
    o->braking_g = o->strike_angle_deg = o->pronation_deg = o->pronation_vel_dps = NAN;
    o->t_still = NAN;
    o->strike = DSP_STRIKE_UNKNOWN;
    const double dt = 1.0 / ev->rate, d2r = M_PI / 180.0;
    uint64_t w = (uint64_t)(DSP_STILL_FRAC * o->contact_s * ev->rate + 0.5);
    if (w < 1)
        w = 1;
    if (i1 < i0 + w + 2)
        return;
    double sum = 0.0, best = INFINITY;
    uint64_t jb = i0;
    for (uint64_t k = i0; k <= i1; k++) {
        sum += ev->gn[k & ev->mask];
        if (k >= i0 + w)
            sum -= ev->gn[(k - w) & ev->mask];
        if (k + 1 >= i0 + w && sum < best)
            best = sum, jb = k + 1 - w;
    }
    uint64_t m = jb + w / 2;
    o->t_still = T(ev, m);
    /* pitch at i0 relative to IC (gyr_y = 0 at IC), then the integral from IC to m */
    double lead = T(ev, i0) - o->t_ic;
    double th0 = 0.5 * G(ev, i0) * lead, th = th0;
    for (uint64_t k = i0; k < m; k++)
        th += 0.5 * (G(ev, k) + G(ev, k + 1)) * dt;
    double th_ic = -th; /* deg, pitch at IC when th(m) = 0 */
    o->strike_angle_deg = -th_ic;
    o->strike = (uint8_t)dsp_strike_type(o->strike_angle_deg);
    /* braking: peak of -(acc_x + g sin th) over the first DSP_BRAKE_FRAC of the contact;
     * pronation: roll (eversion positive: +gyr_x left, -gyr_x right) from IC over the stance */
    double sgn = ev->foot == DSP_LEFT ? 1.0 : -1.0;
    uint64_t h = (uint64_t)(0.5 * DSP_PRON_AVG_S * ev->rate + 0.5);
    double brake = -INFINITY, roll = 0.5 * sgn * ev->gx[i0 & ev->mask] * lead, roll_max = 0.0;
    double vel = -INFINITY, vsum = 0.0, d1 = -INFINITY, d2 = -INFINITY;
    double t_brake = o->t_ic + DSP_BRAKE_FRAC * o->contact_s;
    th = th_ic + th0;
    /* the sample before IC (pitch th_ic) is the left neighbour of a peak at i0 */
    d1 = -(ev->ax[(i0 - 1) & ev->mask] + G0 * sin(th_ic * d2r));
    for (uint64_t k = i0; k <= i1; k++) {
        if (k > i0) {
            th += 0.5 * (G(ev, k - 1) + G(ev, k)) * dt;
            roll += 0.5 * sgn * (ev->gx[(k - 1) & ev->mask] + ev->gx[k & ev->mask]) * dt;
        }
        if (k == i0 || T(ev, k - 1) <= t_brake) {
            /* deceleration d = -(acc_x + g sin th); a local maximum at k-1 is refined by a
             * parabola through k-2 .. k (a short pulse falls between samples at low rates) */
            double d = -(ev->ax[k & ev->mask] + G0 * sin(th * d2r));
            if (T(ev, k) <= t_brake && d > brake)
                brake = d;
            if (k >= i0 + 1 && d1 >= d2 && d1 >= d) {
                double den = d2 - 2.0 * d1 + d;
                double pk = den < 0.0 ? d1 - (d2 - d) * (d2 - d) / (8.0 * den) : d1;
                if (pk > brake)
                    brake = pk;
            }
            d2 = d1;
            d1 = d;
        }
        if (roll > roll_max)
            roll_max = roll;
        /* centred moving mean of the eversion rate over 2h+1 samples */
        vsum += sgn * ev->gx[k & ev->mask];
        if (k >= i0 + 2 * h + 1)
            vsum -= sgn * ev->gx[(k - 2 * h - 1) & ev->mask];
        if (k >= i0 + 2 * h && vsum / (double)(2 * h + 1) > vel)
            vel = vsum / (double)(2 * h + 1);
    }
    o->braking_g = brake > 0.0 ? brake / G0 : 0.0;
    o->pronation_deg = roll_max;
    o->pronation_vel_dps = vel > 0.0 ? vel : 0.0;
}

/* Fills per-stride figures from the ring: IC at sample a (crossing between a, a+1), next IC at
 * sample b, swing peak at s. */
static void fill_stride(const dsp_events_t *ev, uint64_t a, uint64_t b, uint64_t s, dsp_stride_t *o)
{
    uint8_t sat = 0;
    for (uint64_t k = a; k <= b + 1; k++)
        sat |= ev->sat[k & ev->mask];
    o->saturated = sat;
    double imp = 0.0;
    for (uint64_t k = a; k <= b && T(ev, k) <= o->t_ic + DSP_IMPACT_S; k++)
        if (ev->an[k & ev->mask] > imp)
            imp = ev->an[k & ev->mask];
    o->impact_g = imp / G0;
    double half = o->t_ic + 0.5 * o->contact_s, push = NAN;
    for (uint64_t k = a; k <= b && T(ev, k) <= o->t_to; k++)
        if (T(ev, k) >= half && (isnan(push) || G(ev, k) > push))
            push = G(ev, k);
    o->pushoff_dps = push;
    o->swing_peak_dps = fabs(G(ev, s));
    uint64_t i1 = a + 1;
    while (i1 + 1 <= b && T(ev, i1 + 1) <= o->t_to)
        i1++;
    stance_metrics(ev, a + 1, i1, o);
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
