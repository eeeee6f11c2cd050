/* dsp_events.c - streaming IC / toe-off detection on the pitch rate of one foot. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "dsp_events.h"
#include "dsp_traj.h"
#ifdef __SSE2__
#include <xmmintrin.h>
#endif

#define G0 9.80665
#define STILL_BUF 1024 /* |gyr| values kept for the foot-flat window (a power of two) */
/* samples of the next stance's still-point search (0.6 x contact): 2048 covers contacts up to
 * 1.7 s at 2000 Hz, 6.8 s at 500 Hz; a longer one gets no trajectory */
#define TRAJ_SEARCH_MAX 2048

int dsp_events_init(dsp_events_t *ev, size_t cap, uint8_t foot)
{
    memset(ev, 0, sizeof *ev);
    if (cap < 64)
        cap = 64;
    ev->cap = cap; /* exact: memory per pod is what the pipeline asked for, no power-of-two slack */
    ev->foot = foot;
    ev->r = calloc(cap, sizeof *ev->r);
    ev->sat = calloc(cap, sizeof *ev->sat);
    ev->cand = -1;
    ev->cand_x = -1;
    ev->pend = -1;
    ev->last_stride_s = NAN;
    ev->scanned_t = -INFINITY;
    ev->m_period = ev->m_amp = NAN; /* nothing memorised */
    if (!ev->r || !ev->sat) {
        dsp_events_release(ev);
        return -1;
    }
    return 0;
}

void dsp_events_release(dsp_events_t *ev)
{
    free(ev->r);
    free(ev->sat);
    memset(ev, 0, sizeof *ev);
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

/* Ring slot of sample i, for |n - i| < cap (every sample the detector reads lies in the ring):
 * counted back from the write slot, no division. */
static size_t slot(const dsp_events_t *ev, uint64_t i)
{
    int64_t d = (int64_t)ev->w + (int64_t)(i - ev->n);
    if (d < 0)
        d += (int64_t)ev->cap;
    else if (d >= (int64_t)ev->cap)
        d -= (int64_t)ev->cap;
    return (size_t)d;
}

/* OR of the saturation bits of the n samples from sample i on: at most two contiguous pieces of
 * the ring (an OR over plain bytes, which the compiler vectorises). */
static uint8_t sat_or(const dsp_events_t *ev, uint64_t i, size_t n)
{
    uint8_t sat = 0;
    size_t k = slot(ev, i);
    while (n) {
        size_t run = ev->cap - k < n ? ev->cap - k : n;
        for (size_t u = 0; u < run; u++)
            sat |= ev->sat[k + u];
        n -= run;
        k = 0;
    }
    return sat;
}

static const dsp_ev_sample_t *S(const dsp_events_t *ev, uint64_t i)
{
    return &ev->r[slot(ev, i)];
}

static float G(const dsp_events_t *ev, uint64_t i)
{
    return S(ev, i)->gyr[1];
}

static double T(const dsp_events_t *ev, uint64_t i)
{
    return S(ev, i)->t;
}

/* |acc| and |gyr| of sample i, in float (as every figure using them was defined) */
static float acc_norm(const dsp_events_t *ev, uint64_t i)
{
    const float *a = S(ev, i)->acc;
    return sqrtf(a[0] * a[0] + a[1] * a[1] + a[2] * a[2]);
}

static float gyr_norm(const dsp_events_t *ev, uint64_t i)
{
    const float *g = S(ev, i)->gyr;
    return sqrtf(g[0] * g[0] + g[1] * g[1] + g[2] * g[2]);
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

/* |gyr| of the len samples from lo on into nb (four at a time with SSE2: the same IEEE
 * operations per lane as gyr_norm's sqrtf), over the ring's contiguous runs. */
static void gyr_norms(const dsp_events_t *ev, uint64_t lo, size_t len, float *nb)
{
    size_t i = slot(ev, lo), j = 0;
    while (j < len) {
        const size_t run = ev->cap - i < len - j ? ev->cap - i : len - j;
        const dsp_ev_sample_t *e = &ev->r[i];
        size_t x = 0;
#ifdef __SSE2__
        for (; x + 4 <= run; x += 4) {
            __m128 r0 = _mm_loadu_ps(&e[x].acc[2]), r1 = _mm_loadu_ps(&e[x + 1].acc[2]);
            __m128 r2 = _mm_loadu_ps(&e[x + 2].acc[2]), r3 = _mm_loadu_ps(&e[x + 3].acc[2]);
            _MM_TRANSPOSE4_PS(r0, r1, r2, r3); /* r1, r2, r3: gyr x, y, z of the four */
            __m128 q = _mm_add_ps(_mm_add_ps(_mm_mul_ps(r1, r1), _mm_mul_ps(r2, r2)),
                                  _mm_mul_ps(r3, r3));
            _mm_storeu_ps(&nb[j + x], _mm_sqrt_ps(q));
        }
#endif
        for (; x < run; x++)
            nb[j + x] = sqrtf(e[x].gyr[0] * e[x].gyr[0] + e[x].gyr[1] * e[x].gyr[1] +
                              e[x].gyr[2] * e[x].gyr[2]);
        j += run;
        i = 0;
    }
}

/* Stance metrics from an orientation reset at foot-flat (METRICS.md section 3): samples i0 (first
 * after IC) .. i1 (last at or before toe-off). Foot-flat m = centre of the w-sample window with the
 * least summed |gyr|; pitch th = 0 there, integrated (trapezoid) from IC, where it is th_ic. */
static void stance_metrics(const dsp_events_t *ev, uint64_t i0, uint64_t i1, dsp_stride_t *o,
                           dsp_traj_req_t *rq)
{
    rq->w = 0;
    o->braking_g = o->strike_angle_deg = o->pronation_deg = o->pronation_vel_dps = NAN;
    o->t_still = NAN;
    o->strike = DSP_STRIKE_UNKNOWN;
    const double dt = 1.0 / ev->rate, d2r = M_PI / 180.0;
    uint64_t w = (uint64_t)(DSP_STILL_FRAC * o->contact_s * ev->rate + 0.5);
    if (w < 1)
        w = 1;
    if (i1 < i0 + w + 2)
        return;
    /* sliding sum of |gyr|: each square root taken once, kept for the sample leaving the
     * window (w < STILL_BUF, else taken again: the same value) */
    double sum = 0.0, best = INFINITY;
    uint64_t jb = i0;
    float nb[STILL_BUF];
    const int kept = w < STILL_BUF;
    const size_t len = (size_t)(i1 + 1 - i0);
    if (len <= STILL_BUF) {
        /* the usual case, all norms kept: taken over the ring's runs first, then the first
         * window summed and slid without per-sample tests (the same additions, in the same
         * order, as the general loop below; a NaN first sum is never the best) */
        gyr_norms(ev, i0, len, nb);
        for (size_t j = 0; j < w; j++)
            sum += nb[j];
        if (sum < best)
            best = sum;
        for (size_t j = w; j < len; j++) {
            sum += nb[j];
            sum -= nb[j - w];
            if (sum < best)
                best = sum, jb = i0 + j + 1 - w;
        }
    } else {
        for (uint64_t k = i0; k <= i1; k++) {
            const float gk = gyr_norm(ev, k);
            sum += gk;
            if (k >= i0 + w)
                sum -= kept ? nb[(k - w - i0) & (STILL_BUF - 1)] : gyr_norm(ev, k - w);
            if (kept)
                nb[(k - i0) & (STILL_BUF - 1)] = gk;
            if (k + 1 >= i0 + w && sum < best)
                best = sum, jb = k + 1 - w;
        }
    }
    uint64_t m = jb + w / 2;
    o->t_still = T(ev, m);
    rq->jb = jb;
    rq->w = w;
    /* the window's summed |gyr| for the trajectory's still check (dsp_events_traj): from the
     * norms kept, while none of the window's has been overwritten, else taken again (the same
     * values, summed in the same order) */
    double g0 = 0.0;
    if (kept && jb + STILL_BUF > i1)
        for (uint64_t u = jb; u < jb + w; u++)
            g0 += nb[(u - i0) & (STILL_BUF - 1)];
    else
        for (uint64_t u = jb; u < jb + w; u++)
            g0 += gyr_norm(ev, u);
    rq->g0 = g0;
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
    double brake = -INFINITY, roll = 0.5 * sgn * S(ev, i0)->gyr[0] * lead, roll_max = 0.0;
    double vel = -INFINITY, vsum = 0.0, d1 = -INFINITY, d2 = -INFINITY;
    double t_brake = o->t_ic + DSP_BRAKE_FRAC * o->contact_s;
    th = th_ic + th0;
    /* the sample before IC (pitch th_ic) is the left neighbour of a peak at i0 */
    d1 = -(S(ev, i0 - 1)->acc[0] + G0 * sin(th_ic * d2r));
    /* the previous sample's gyr_y, gyr_x and time carried from one pass to the next; the
     * moving mean's maximum is divided once at the end (division by a positive constant is
     * monotonic: the same value as the largest quotient) */
    const dsp_ev_sample_t *ep = S(ev, i0);
    double vmax = -INFINITY;
    const double nv = (double)(2 * h + 1);
    for (uint64_t k = i0; k <= i1; k++) {
        const dsp_ev_sample_t *e = S(ev, k);
        if (k > i0) {
            th += 0.5 * (ep->gyr[1] + e->gyr[1]) * dt;
            roll += 0.5 * sgn * (ep->gyr[0] + e->gyr[0]) * dt;
        }
        if (k == i0 || ep->t <= t_brake) {
            /* deceleration d = -(acc_x + g sin th); a local maximum at k-1 is refined by a
             * parabola through k-2 .. k (a short pulse falls between samples at low rates) */
            double d = -(e->acc[0] + G0 * sin(th * d2r));
            if (e->t <= t_brake && d > brake)
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
        vsum += sgn * e->gyr[0];
        if (k >= i0 + 2 * h + 1)
            vsum -= sgn * S(ev, k - 2 * h - 1)->gyr[0];
        if (k >= i0 + 2 * h && vsum > vmax)
            vmax = vsum;
        ep = e;
    }
    if (vmax > -INFINITY)
        vel = vmax / nv;
    o->braking_g = brake > 0.0 ? brake / G0 : 0.0;
    o->pronation_deg = roll_max;
    o->pronation_vel_dps = vel > 0.0 ? vel : 0.0;
}

/* Fills per-stride figures from the ring: IC at sample a (crossing between a, a+1), next IC at
 * sample b, swing peak at s. */
static void fill_stride(const dsp_events_t *ev, uint64_t a, uint64_t b, uint64_t s, dsp_stride_t *o,
                        dsp_traj_req_t *rq)
{
    o->saturated = sat_or(ev, a, (size_t)(b + 2 - a)); /* samples a .. b+1 */
    double imp = 0.0;
    for (uint64_t k = a; k <= b && T(ev, k) <= o->t_ic + DSP_IMPACT_S; k++) {
        float an = acc_norm(ev, k);
        if (an > imp)
            imp = an;
    }
    o->impact_g = imp / G0;
    double half = o->t_ic + 0.5 * o->contact_s, push = NAN;
    uint64_t k = a;
    for (; k <= b && T(ev, k) <= o->t_to; k++)
        if (T(ev, k) >= half && (isnan(push) || G(ev, k) > push))
            push = G(ev, k);
    o->pushoff_dps = push;
    o->swing_peak_dps = fabs(G(ev, s));
    /* last sample at or before toe-off, from a + 1 on (times increase: k is the first after) */
    uint64_t i1 = k - 1 < b ? k - 1 : b;
    if (k == a || i1 < a + 1)
        i1 = a + 1;
    stance_metrics(ev, a + 1, i1, o, rq);
    /* the next stance's still point: searched up to DSP_TRAJ_END_FRAC of this stride's contact
     * after the next IC (within one stride after toe-off: METRICS.md section 2) */
    rq->ic = b;
    rq->end = b + 1 + (uint64_t)(DSP_TRAJ_END_FRAC * o->contact_s * ev->rate + 0.5);
    o->stride_length_m = o->speed_mps = o->turn_deg = o->clearance_m = NAN;
    o->turning = 0;
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
                fill_stride(ev, ev->ic_i, ici, s, out, &ev->req);
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
    const uint64_t lo = oldest(ev); /* constant here: nothing is stored during a step */
    if (ev->scan < lo) {
        ev->scan = lo;
        ev->cand = -1;
        ev->cand_x = -1;
        ev->pend = -1;
        ev->have_ic = 0;
    }
    if (!(period_s > 0.0) || !(ev->rate > 0.0))
        return 0;
    /* swing peaks are at least DSP_SEP_FRAC of a stride apart; the shorter of the spectral period
     * and the last stride follows a quickening pace at once */
    const double last = ev->last_stride_s;
    if (!(period_s == ev->m_period && ev->rate == ev->m_rate &&
          (last == ev->m_last || (isnan(last) && isnan(ev->m_last))))) {
        double sep = isfinite(last) ? fmin(period_s, last) : period_s;
        uint64_t w = (uint64_t)(DSP_SEP_FRAC * sep * ev->rate + 0.5);
        ev->m_w = w < 2 ? 2 : w;
        ev->m_stance = (uint64_t)(DSP_STANCE_FRAC * sep * ev->rate + 0.5);
        ev->m_horizon = (uint64_t)(fmax(period_s, sep) * ev->rate + 0.5);
        ev->m_period = period_s;
        ev->m_last = last;
        ev->m_rate = ev->rate;
    }
    const uint64_t w = ev->m_w, stance = ev->m_stance, horizon = ev->m_horizon;
    if (!(ev->amp == ev->m_amp)) {
        ev->m_thr = -fmax(DSP_SWING_FLOOR_DPS, DSP_SWING_REL * ev->amp); /* negated */
        ev->m_amp = ev->amp;
    }
    double thr = ev->m_thr;
    /* the detector state lives in locals during the scan (written back before every call that
     * reads it and at every exit): one pass over the new samples without reloads */
    const uint64_t n = ev->n;
    const size_t cap = ev->cap;
    const dsp_ev_sample_t *const r = ev->r;
    int64_t cand = ev->cand, cand_x = ev->cand_x, pend = ev->pend;
    float cand_g = cand >= 0 ? G(ev, (uint64_t)cand) : 0.0f;
    uint64_t k = ev->scan;
    size_t p = k < n ? slot(ev, k) : ev->w; /* ring slot of k, advanced with it */
    /* gyr_y of sample k-1, 0 when k-1 is not in the ring (then no crossing ends at k) */
    float prev = k > lo ? G(ev, k - 1) : 0.0f;
    int got = 0;
    while (k < n && !got) {
        if (cand < 0 && pend < 0) {
            /* nothing pending (most of a stride): only a swing-level sample changes the state,
             * every other one just becomes the previous sample */
            while (k < n && !(r[p].gyr[1] < thr)) {
                prev = r[p].gyr[1];
                k++;
                p = p + 1 == cap ? 0 : p + 1;
            }
            if (k == n)
                break;
        }
        const float g = r[p].gyr[1];
        /* upward zero crossing between k-1 and k */
        const int up = g >= 0.0f && prev < 0.0f;
        prev = g;
        if (g < thr && (cand < 0 || g < cand_g)) {
            cand = (int64_t)k;
            cand_g = g;
            cand_x = -1;
        } else if (cand >= 0) {
            /* the swing lobe ended in a contact followed by stance-like values (no swing-level
             * rate for DSP_STANCE_FRAC of a stride): confirm at once, as a quickening pace (e.g.
             * a walk-to-run transition) may bring the next, deeper swing peak within w */
            if (g < thr)
                cand_x = -1;
            else if (cand_x < 0 && up)
                cand_x = (int64_t)k;
        }
        k++; /* k - 1 is the sample examined in this pass */
        p = p + 1 == cap ? 0 : p + 1;
        const uint64_t e = k - 1;
        if (pend >= 0 && e > (uint64_t)pend + 1) {
            uint64_t s = (uint64_t)pend;
            if (s < lo || e - s > horizon) {
                pend = -1; /* no contact within a stride of the swing peak */
                ev->have_ic = 0;
            } else if (up) {
                pend = -1;
                if (complete(ev, s, e - 1, period_s, min_hz, max_hz, out)) {
                    got = 1; /* a due confirmation below waits for the next sample */
                    break;
                }
            }
        }
        if (cand >= 0 && (e - (uint64_t)cand >= w ||
                          (cand_x >= 0 && e - (uint64_t)cand_x >= stance))) {
            uint64_t s = (uint64_t)cand;
            cand = -1;
            cand_x = -1;
            if (s < lo)
                continue;
            ev->pend = pend;
            got = on_swing_peak(ev, s, e, period_s, min_hz, max_hz, out);
            pend = ev->pend;
            thr = -fmax(DSP_SWING_FLOOR_DPS, DSP_SWING_REL * ev->amp);
        }
    }
    if (k > ev->scan)
        ev->scanned_t = T(ev, k - 1);
    ev->scan = k;
    ev->cand = cand;
    ev->cand_x = cand_x;
    ev->pend = pend;
    return got;
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

int dsp_events_traj(const dsp_events_t *ev, const dsp_traj_req_t *rq, int final,
                    dsp_stride_t *st)
{
    st->stride_length_m = st->speed_mps = st->turn_deg = st->clearance_m = NAN;
    st->turning = 0;
    if (ev->n == 0)
        return 1;
    const uint64_t last = ev->n - 1;
    if (last < rq->end) /* not all there: wait, or (final) no honest end still point */
        return final ? 1 : 0;
    const uint64_t w = rq->w, lo = rq->ic + 1, hi = rq->end;
    if (w == 0 || rq->jb < oldest(ev) || hi + 1 < lo + w || !(ev->rate > 0.0))
        return 1;
    /* the next stance's still point: the w-sample window of [lo, hi] with the least summed
     * |gyr| (as the stride's own, section 3): the norms of the range first (four samples at a
     * time with SSE2: the same IEEE operations per lane as the scalar sqrtf), then the sliding
     * sum over them */
    float nb[TRAJ_SEARCH_MAX];
    const size_t len = (size_t)(hi + 1 - lo);
    if (len > TRAJ_SEARCH_MAX)
        return 1; /* a contact too long for the search buffer (TRAJ_SEARCH_MAX) */
    gyr_norms(ev, lo, len, nb);
    size_t i;
    /* the first window's sum, then slid one sample at a time (the same additions in the same
     * order as one loop with the tests inside) */
    double sum = 0.0, best;
    size_t jbr = 0;
    for (size_t k = 0; k < w; k++)
        sum += nb[k];
    best = sum < INFINITY ? sum : INFINITY; /* a NaN sum is never the best */
    for (size_t k = w; k < len; k++) {
        sum += nb[k];
        sum -= nb[k - w];
        if (sum < best)
            best = sum, jbr = k + 1 - w;
    }
    const uint64_t jb = lo + jbr;
    const uint64_t m0 = rq->jb + w / 2, m1 = jb + w / 2;
    /* honest only over contiguous, unclipped samples between two still windows */
    if (rq->g0 / (double)w > DSP_TRAJ_STILL_DPS || best / (double)w > DSP_TRAJ_STILL_DPS)
        return 1;
    if (!(fabs((T(ev, m1) - T(ev, m0)) * ev->rate - (double)(m1 - m0)) < 1.5))
        return 1; /* a dropout inside */
    if (sat_or(ev, m0, (size_t)(m1 + 1 - m0))) /* clip flags of m0 .. m1 */
        return 1;
    /* the mean specific force over the start still window (summed in double, in order), over
     * the ring's contiguous runs */
    double f0[3] = {0.0, 0.0, 0.0};
    size_t left = (size_t)w;
    i = slot(ev, rq->jb);
    while (left) {
        size_t run = ev->cap - i < left ? ev->cap - i : left;
        const dsp_ev_sample_t *e = &ev->r[i], *stop = e + run;
        for (; e != stop; e++) {
            f0[0] += e->acc[0];
            f0[1] += e->acc[1];
            f0[2] += e->acc[2];
        }
        left -= run;
        i = 0;
    }
    dsp_traj_t tr;
    if (dsp_traj_run(ev->r, ev->cap, slot(ev, m0), (size_t)(m1 - m0 + 1), f0, ev->rate,
                     dsp_traj_block(ev->rate), &tr))
        return 1;
    if (!(0.5 * tr.v_res_mps * tr.span_s <= DSP_TRAJ_CORR_FRAC * tr.length_m + DSP_TRAJ_CORR_MIN_M))
        return 1;
    st->stride_length_m = tr.length_m;
    st->speed_mps = tr.length_m / st->stride_s;
    st->turn_deg = tr.turn_deg;
    st->clearance_m = tr.clearance_m;
    st->turning = fabs(tr.turn_deg) > DSP_TURN_DEG;
    return 1;
}
