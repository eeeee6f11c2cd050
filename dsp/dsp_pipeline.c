/* dsp_pipeline.c - libgaitdsp's streaming pipeline: two feet of one athlete (dsp.h).
 * Per foot: rate estimate, decimated pitch-rate buffer for the spectral stride frequency, event
 * detector (dsp_events.c). Strides wait until the other foot's events allow step and flight times,
 * then go to the output queue and the statistics. All buffers and the FFTW plan are made in
 * dsp_pipeline_new; dsp_pipeline_push never allocates. */
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include "dsp.h"
#include "dsp_events.h"
#include "dsp_traj.h"
#include "dsp_spectrum.h"
#include "dsp_stats.h"
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#define RATE_INTERVALS 32   /* sample intervals averaged for the rate estimate */
#define DROPOUT_PERIODS 3.5 /* a gap longer than this many sample periods is a dropout */
#define SPEC_FS_MIN 32.0    /* spectral buffer rate: rate / floor(rate / 32), in [32, 64) */
#define SPEC_FS_MAX 64.0
#define SPEC_MIN_S 5.0    /* first spectrum after this much signal */
#define SPEC_MIN_RMS 10.0 /* deg/s: below this pitch-rate rms there is no gait */
#define SPEC_MIN_STRENGTH                                                                          \
    0.5                  /* harmonic share of the band power (gait ~0.7..0.95, noise ~0.25)        \
                          */
#define IC_HIST 16       /* initial contacts remembered per foot */
#define PEND_MAX 16      /* strides waiting for the other foot, per foot */
/* released strides waiting for their trajectory, per foot: a stride waits at most until 0.6 of
 * a contact after its next IC (plus the still window), so one or two wait at a time; when it is
 * full the oldest are finished with the samples there are (METRICS.md section 3) */
#define WAIT_MAX 4
#define OUTQ_MAX 64      /* finished strides not yet popped (a few per second of data) */
#define DET_BATCH_S 0.02 /* detector batch: samples of this span (>= 1) */
#define DRIFT_BINS 64 /* session time bins for the fatigue drift (merged in pairs when full) */
#define DRIFT_BIN0_S 10.0
/* accumulators for the bins' (mode, foot) cells that hold strides: two per bin when one mode
 * runs, spare for mode changes; when all are taken the bins are merged early (METRICS.md) */
#define DRIFT_CELLS (2 * DRIFT_BINS + DRIFT_BINS / 2)
#define OFF_RING 31         /* clock-offset samples (one per stride) of the running median */
#define OFF_MIN 5           /* samples before the offset estimate is used */
#define DSP_UNSYNC_FRAC 0.1 /* see release(): tolerated step deviation before synchronisation */

typedef struct foot {
    dsp_events_t ev;
    uint64_t n; /* samples pushed */
    double t0, t_last;
    double rate; /* Hz, 0 until estimated */
    double gap_s; /* DROPOUT_PERIODS / rate once the rate is known (no division per sample),
                   * INFINITY before (no dropout test then) */
    /* spectral buffer (decimated gyr_y) */
    float *spec;
    size_t spec_cap;
    size_t spec_w; /* spec_n % spec_cap, kept up to date (no division per sample) */
    uint64_t spec_n, spec_since;
    unsigned dec, blk_cnt;
    double blk_sum, fs_spec;
    double f0;   /* latest stride fundamental, Hz (NAN: none) */
    double f0_t; /* time of the last valid estimate */
    double f0_sum;
    uint32_t f0_cnt;
    uint32_t spec_runs; /* spectra computed (valid or not) */
    double ic[IC_HIST]; /* recent IC times, ascending */
    unsigned ic_n;
    dsp_stride_t pend[PEND_MAX];
    dsp_traj_req_t preq[PEND_MAX]; /* what each pending stride's trajectory needs */
    unsigned pend_n;
    /* released strides (in the statistics, drift bins and `recent`) whose trajectory awaits the
     * next stance's still point: they reach the output queue when it is done */
    dsp_stride_t wait[WAIT_MAX];
    dsp_traj_req_t wreq[WAIT_MAX];
    size_t wrec[WAIT_MAX]; /* their slot in `recent` */
    unsigned wait_n;
    double prev_ic, prev_next; /* last stride, for the clock-offset estimate one stride later */
    int have_prev;
    unsigned det_cnt, det_every; /* samples since the last detector run, batch size */
    double spec_t_end;           /* time of the latest decimated sample (its block's centre) */
    float *amp;                  /* amplitude spectrum of the latest valid estimate, amp_n bins */
    size_t amp_n;
    double amp_fs; /* its spectral rate (spectra of equal rates are compared) */
} foot_t;

/* FFT workspace: plan, buffers and the linearised spectral window. Scratch between calls, so
 * pipelines of one spectral size may share one (dsp_pipeline_new_with); the last one frees it. */
typedef struct fft_ws {
    dsp_spec_t sp;
    float *tmp;      /* linearised spectral window, spec_cap values */
    size_t spec_cap;
    unsigned users;
} fft_ws_t;

struct dsp_pipeline {
    dsp_settings_t s;
    fft_ws_t *ws;
    double *med; /* rec_cap scratch values for the window medians */
    foot_t f[2];
    dsp_stride_t outq[OUTQ_MAX];
    unsigned out_head, out_n;
    dsp_stride_t *recent; /* ring of finished strides for the rolling window */
    size_t rec_cap, rec_head, rec_n;
    dsp_acc_t acc[3][2]; /* session sums per mode, per foot */
    dsp_acc_t acc_str[3][2]; /* the same over the strides not flagged turning */
    uint32_t n_turning;      /* strides flagged turning */
    double t_first, t_last;
    /* the last OFF_RING clock-offset samples, s (R clock minus L clock), kept sorted by value
     * and then by ring slot (the order of a stable sort of the ring), with their ring slots */
    double off_sorted[OFF_RING];
    uint8_t off_slot[OFF_RING];
    unsigned off_n, off_head; /* samples held, ring slot of the oldest */
    double off;              /* running median of the samples once OFF_MIN exist, else 0 */
    double off_used;         /* the offset applied to times: off while latched, else 0 */
    int off_latched;         /* |off| reached clock_sync_min_s (hysteresis: released below half) */
    dsp_acc_t *cell;         /* DRIFT_CELLS accumulators of the drift bins' cells */
    uint16_t bin[DRIFT_BINS][3][2]; /* bin x mode x foot: 1 + its cell, 0 = no strides */
    uint16_t cell_free[DRIFT_CELLS]; /* unused cells (a stack) */
    unsigned cell_free_n;
    double bin_t0, bin_w;    /* start of bin 0 (first stride's t_ic, NAN: none), bin width, s */
    double t_last_ic;        /* latest released t_ic */
    double phase_deg, simil; /* latest L/R phase offset and spectral similarity, NAN: none */
    double ph_re, ph_im, simil_sum; /* session sums: unit phasors, similarities */
    uint32_t ph_n, simil_n;
};

dsp_settings_t dsp_settings_default(void)
{
    dsp_settings_t s = {10.0, 1.0, 30.0, 0.4, 2.2, 2000.0, 1, 0.05};
    return s;
}

static int settings_ok(const dsp_settings_t *s)
{
    return s->fft_window_s >= 2.0 && s->fft_window_s <= 120.0 && s->fft_hop_s > 0.0 &&
           s->window_s > 0.0 && s->window_s <= 3600.0 && s->min_stride_hz > 0.0 &&
           s->max_stride_hz > s->min_stride_hz && s->max_stride_hz <= 10.0 &&
           s->max_rate_hz >= 10.0 && s->max_rate_hz <= 20000.0 && s->clock_sync_min_s >= 0.0 &&
           s->clock_sync_min_s <= 1.0;
}

/* Amplitude-spectrum bins kept per foot: up to 4 x max_stride_hz at the lowest spectral rate of
 * a pod of SPEC_FS_MIN Hz or more (slower pods: the bins there are, at most this many). */
static size_t amp_cap(const dsp_pipeline_t *p)
{
    size_t nfft = p->ws->sp.nfft, nb = nfft / 2 + 1;
    size_t top = (size_t)(4.0 * p->s.max_stride_hz * (double)nfft / SPEC_FS_MIN) + 2;
    return top < nb ? top : nb;
}

static void ws_drop(fft_ws_t **wp)
{
    fft_ws_t *w = *wp;
    *wp = NULL;
    if (!w || --w->users)
        return;
    dsp_spec_release(&w->sp);
    free(w->tmp);
    free(w);
}

/* peer's workspace when it has spec_cap, else a new one; NULL on out of memory */
static fft_ws_t *ws_get(const dsp_pipeline_t *peer, size_t spec_cap)
{
    if (peer && peer->ws && peer->ws->spec_cap == spec_cap) {
        peer->ws->users++;
        return peer->ws;
    }
    fft_ws_t *w = calloc(1, sizeof *w);
    if (!w)
        return NULL;
    w->spec_cap = spec_cap;
    w->users = 1;
    w->tmp = calloc(spec_cap, sizeof *w->tmp);
    if (!w->tmp || dsp_spec_init(&w->sp, spec_cap) != 0)
        ws_drop(&w);
    return w;
}

dsp_pipeline_t *dsp_pipeline_new(const dsp_settings_t *s)
{
    return dsp_pipeline_new_with(s, NULL);
}

dsp_pipeline_t *dsp_pipeline_new_with(const dsp_settings_t *s, const dsp_pipeline_t *peer)
{
    if (!s || !settings_ok(s))
        return NULL;
    dsp_pipeline_t *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->s = *s;
    p->t_first = NAN;
    p->t_last = NAN;
    size_t spec_cap = (size_t)ceil(s->fft_window_s * SPEC_FS_MAX) + 1;
    /* event history: two of the longest strides plus the swing-peak confirmation delay */
    double hist_s = 2.5 / s->min_stride_hz + 2.0;
    if (hist_s < SPEC_MIN_S + 2.0)
        hist_s = SPEC_MIN_S + 2.0;
    size_t ev_cap = (size_t)ceil(hist_s * s->max_rate_hz) + 16;
    p->rec_cap = (size_t)ceil(s->window_s * s->max_stride_hz * 2.0) + 16;
    p->recent = calloc(p->rec_cap, sizeof *p->recent);
    p->ws = ws_get(peer, spec_cap);
    p->med = calloc(p->rec_cap, sizeof *p->med);
    p->cell = calloc(DRIFT_CELLS, sizeof *p->cell);
    for (unsigned i = 0; i < DRIFT_CELLS; i++)
        p->cell_free[i] = (uint16_t)(DRIFT_CELLS - 1 - i);
    p->cell_free_n = DRIFT_CELLS;
    p->bin_t0 = NAN;
    p->bin_w = DRIFT_BIN0_S;
    p->t_last_ic = NAN;
    p->phase_deg = NAN;
    p->simil = NAN;
    int bad = !p->recent || !p->ws || !p->med || !p->cell;
    for (int k = 0; k < 2 && !bad; k++) {
        foot_t *f = &p->f[k];
        f->f0 = NAN;
        f->gap_s = INFINITY;
        f->spec_cap = spec_cap;
        f->spec = calloc(spec_cap, sizeof *f->spec);
        f->amp = calloc(amp_cap(p), sizeof *f->amp);
        bad = !f->spec || !f->amp || dsp_events_init(&f->ev, ev_cap, (uint8_t)k) != 0;
    }
    if (bad)
        dsp_pipeline_free(&p);
    return p;
}

void dsp_pipeline_free(dsp_pipeline_t **pp)
{
    if (!pp || !*pp)
        return;
    dsp_pipeline_t *p = *pp;
    for (int k = 0; k < 2; k++) {
        free(p->f[k].spec);
        free(p->f[k].amp);
        dsp_events_release(&p->f[k].ev);
    }
    ws_drop(&p->ws);
    free(p->med);
    free(p->cell);
    free(p->recent);
    free(p);
    *pp = NULL;
}

/* Runs the spectral estimator on the last fft_window_s of foot f's decimated pitch rate. */
static void update_f0(dsp_pipeline_t *p, foot_t *f)
{
    size_t want = (size_t)(p->s.fft_window_s * f->fs_spec + 0.5);
    if (want > f->spec_cap)
        want = f->spec_cap;
    size_t n = f->spec_n < want ? (size_t)f->spec_n : want;
    /* the last n values of the ring, oldest first: two contiguous pieces */
    size_t first = f->spec_w >= n ? f->spec_w - n : f->spec_w + f->spec_cap - n;
    size_t n1 = f->spec_cap - first < n ? f->spec_cap - first : n;
    float *tmp = p->ws->tmp;
    memcpy(tmp, f->spec + first, n1 * sizeof *tmp);
    memcpy(tmp + n1, f->spec, (n - n1) * sizeof *tmp);
    double strength = 0.0;
    f->spec_runs++;
    const dsp_spec_t *sp = &p->ws->sp;
    double f0 = dsp_spec_fundamental(&p->ws->sp, tmp, n, f->fs_spec, p->s.min_stride_hz,
                                     p->s.max_stride_hz, SPEC_MIN_RMS, &strength);
    if (isfinite(f0) && strength >= SPEC_MIN_STRENGTH) {
        /* amplitude spectrum up to 4 x max_stride_hz for the L/R similarity */
        double df = f->fs_spec / (double)sp->nfft;
        size_t nb = amp_cap(p), top = (size_t)(4.0 * p->s.max_stride_hz / df) + 1;
        f->amp_n = top < nb ? top : nb;
        if (f->amp_n > sp->pow_n)
            f->amp_n = sp->pow_n;
        for (size_t k = 0; k < f->amp_n; k++)
            f->amp[k] = sqrtf(sp->pow[k]);
        f->amp_fs = f->fs_spec;
        f->f0 = f0;
        f->f0_t = f->t_last;
        f->f0_sum += f0;
        f->f0_cnt++;
    } else if (!(f->t_last - f->f0_t <= p->s.fft_window_s)) {
        f->f0 = NAN; /* a short irregular spell keeps the last period */
    }
}

/* Fourier coefficient of foot f's last n decimated samples (Hann window) at frequency hz, with
 * time measured from t_ref on foot f's clock: comparable between the feet at one frequency. */
static void coef(const dsp_pipeline_t *p, const foot_t *f, size_t n, double hz, double t_ref,
                 double *re, double *im)
{
    double t0 = f->spec_t_end - (double)(n - 1) / f->fs_spec - t_ref;
    double ph = -2.0 * M_PI * hz * t0, dph = -2.0 * M_PI * hz / f->fs_spec;
    double c = cos(ph), s = sin(ph), cd = cos(dph), sd = sin(dph), sr = 0.0, si = 0.0;
    size_t j = f->spec_w >= n ? f->spec_w - n : f->spec_w + f->spec_cap - n; /* oldest of n */
    /* the spectrum's Hann window (in float, as dsp_spectrum computes it): the cached one if it
     * has length n (whichever pipeline sharing the workspace cached it), else computed. The
     * ring's last n values are at most two contiguous runs; the choice of window is made once. */
    const float *win = p->ws->sp.win_n == n ? p->ws->sp.win : NULL;
#define COEF_STEP(W)                                                                               \
    do {                                                                                           \
        double x = (W) * f->spec[j];                                                               \
        sr += x * c;                                                                               \
        si += x * s;                                                                               \
        double c2 = c * cd - s * sd;                                                               \
        s = s * cd + c * sd;                                                                       \
        c = c2;                                                                                    \
    } while (0)
    for (size_t i = 0; i < n; j = 0) {
        size_t end = i + (f->spec_cap - j < n - i ? f->spec_cap - j : n - i);
        if (win) {
            for (; i < end; i++, j++)
                COEF_STEP((double)win[i]);
        } else {
            for (; i < end; i++, j++)
                COEF_STEP(
                    (double)(float)(0.5 - 0.5 * cos(2.0 * M_PI * ((double)i + 0.5) / (double)n)));
        }
    }
#undef COEF_STEP
    *re = sr;
    *im = si;
}

/* L/R phase offset of the stride fundamental and spectral similarity, when both feet have a
 * current estimate (METRICS.md section 4). */
static void cross_spectral(dsp_pipeline_t *p)
{
    const foot_t *L = &p->f[DSP_LEFT], *R = &p->f[DSP_RIGHT];
    if (!isfinite(L->f0) || !isfinite(R->f0))
        return;
    size_t want = (size_t)(p->s.fft_window_s * L->fs_spec + 0.5);
    size_t nl = L->spec_n < want ? (size_t)L->spec_n : want;
    want = (size_t)(p->s.fft_window_s * R->fs_spec + 0.5);
    size_t nr = R->spec_n < want ? (size_t)R->spec_n : want;
    if (nl < 16 || nr < 16 || nl > L->spec_cap || nr > R->spec_cap)
        return;
    double hz = 0.5 * (L->f0 + R->f0), t_ref = L->spec_t_end;
    double lr, li, rr, ri;
    coef(p, L, nl, hz, t_ref, &lr, &li);
    /* the right foot's times on the left clock: t - off */
    coef(p, R, nr, hz, t_ref + (p->s.clock_sync ? p->off_used : 0.0), &rr, &ri);
    double xr = lr * rr + li * ri, xi = li * rr - lr * ri; /* X_L conj(X_R) */
    double mag = hypot(xr, xi);
    /* before the clock offset is known (clock_sync) the phase is not comparable */
    if (mag > 0.0 && (!p->s.clock_sync || p->off_n >= OFF_MIN)) {
        double deg = atan2(xi, xr) * 180.0 / M_PI;
        p->phase_deg = deg < 0.0 ? deg + 360.0 : deg;
        p->ph_re += xr / mag;
        p->ph_im += xi / mag;
        p->ph_n++;
    }
    if (L->amp_n == R->amp_n && L->amp_fs == R->amp_fs && L->amp_n > 1) {
        double ab = 0.0, aa = 0.0, bb = 0.0;
        size_t k = 1;
#ifdef __SSE2__
        /* two bins per step: (aa, bb) as the lanes of one pair (each lane the same serial sum of
         * the same double products), ab summed in bin order: the scalar loop's results */
        __m128d sq = _mm_setzero_pd(), xy = _mm_setzero_pd();
        for (; k + 1 < L->amp_n; k += 2) {
            /* 8-byte loads of two floats (the intrinsic's type may alias the float array) */
            const __m128i *lp = (const __m128i *)(const void *)(L->amp + k);
            const __m128i *rp = (const __m128i *)(const void *)(R->amp + k);
            __m128 l2 = _mm_castsi128_ps(_mm_loadl_epi64(lp));
            __m128 r2 = _mm_castsi128_ps(_mm_loadl_epi64(rp));
            __m128d l = _mm_cvtps_pd(l2), r = _mm_cvtps_pd(r2); /* bins k, k+1 */
            __m128d lr0 = _mm_unpacklo_pd(l, r), lr1 = _mm_unpackhi_pd(l, r);
            sq = _mm_add_pd(sq, _mm_mul_pd(lr0, lr0));
            sq = _mm_add_pd(sq, _mm_mul_pd(lr1, lr1));
            __m128d pr = _mm_mul_pd(l, r);
            xy = _mm_add_sd(xy, pr);
            xy = _mm_add_sd(xy, _mm_unpackhi_pd(pr, pr));
        }
        ab = _mm_cvtsd_f64(xy);
        aa = _mm_cvtsd_f64(sq);
        bb = _mm_cvtsd_f64(_mm_unpackhi_pd(sq, sq));
#endif
        for (; k < L->amp_n; k++) {
            ab += (double)L->amp[k] * R->amp[k];
            aa += (double)L->amp[k] * L->amp[k];
            bb += (double)R->amp[k] * R->amp[k];
        }
        if (aa > 0.0 && bb > 0.0) {
            p->simil = ab / sqrt(aa * bb);
            p->simil_sum += p->simil;
            p->simil_n++;
        }
    }
}

/* A decimation block of foot f is full (f->blk_cnt == f->dec): its mean goes to the spectral
 * buffer, and the spectrum is due once per hop. Once per f->dec samples: kept out of
 * dsp_pipeline_push's per-sample path (noinline), whose register use it would otherwise set. */
__attribute__((noinline)) static void spec_block(dsp_pipeline_t *p, foot_t *f)
{
    f->spec[f->spec_w] = (float)(f->blk_sum / f->blk_cnt);
    if (++f->spec_w == f->spec_cap)
        f->spec_w = 0;
    f->spec_t_end = f->t_last - 0.5 * (double)(f->blk_cnt - 1) / f->rate;
    f->spec_n++;
    f->blk_sum = 0.0;
    f->blk_cnt = 0;
    f->spec_since++;
    double hop = p->s.fft_hop_s * f->fs_spec;
    if (f->spec_n >= (uint64_t)(SPEC_MIN_S * f->fs_spec) && f->spec_since >= hop) {
        f->spec_since = 0;
        update_f0(p, f);
        if (f == &p->f[DSP_RIGHT]) /* once per hop: after the right foot's spectrum */
            cross_spectral(p);
    }
}

/* Doubles the drift bins' width: bin i becomes bins 2i and 2i+1 merged (in that order, as sums
 * of zero-initialised accumulators were), the upper half empties, freed cells return. */
static void bins_merge(dsp_pipeline_t *p)
{
    for (size_t i = 0; i < DRIFT_BINS; i++)
        for (int m = 0; m < 3; m++)
            for (int k = 0; k < 2; k++) {
                unsigned a = 2 * i < DRIFT_BINS ? p->bin[2 * i][m][k] : 0;
                unsigned b = 2 * i + 1 < DRIFT_BINS ? p->bin[2 * i + 1][m][k] : 0;
                if (a && b) {
                    dsp_acc_merge(&p->cell[a - 1], &p->cell[b - 1]);
                    p->cell_free[p->cell_free_n++] = (uint16_t)(b - 1);
                }
                p->bin[i][m][k] = (uint16_t)(a ? a : b);
            }
    p->bin_w *= 2.0;
}

static void outq_push(dsp_pipeline_t *p, const dsp_stride_t *st)
{
    if (p->out_n == OUTQ_MAX) { /* nobody pops: drop the oldest */
        p->out_head = (p->out_head + 1) % OUTQ_MAX;
        p->out_n--;
    }
    p->outq[(p->out_head + p->out_n) % OUTQ_MAX] = *st;
    p->out_n++;
}

/* The drift-bin cell holding a stride of time t_ic, mode and foot (creating it if needed). */
static dsp_acc_t *bin_cell(dsp_pipeline_t *p, double t_ic, int mode, int foot)
{
    double rel = t_ic - p->bin_t0;
    if (rel < 0.0)
        rel = 0.0;
    while (rel >= DRIFT_BINS * p->bin_w)
        bins_merge(p);
    size_t b = (size_t)(rel / p->bin_w);
    while (!p->bin[b][mode][foot] && !p->cell_free_n) { /* no cell left: coarser bins */
        bins_merge(p);
        b = (size_t)(rel / p->bin_w);
    }
    if (!p->bin[b][mode][foot]) {
        unsigned c = p->cell_free[--p->cell_free_n];
        memset(&p->cell[c], 0, sizeof p->cell[c]);
        p->bin[b][mode][foot] = (uint16_t)(c + 1);
    }
    return &p->cell[p->bin[b][mode][foot] - 1];
}

/* A released stride into the statistics (session sums, drift bins, the rolling window's
 * `recent`), at the moment the other foot allows it (the order of every figure's sums is that
 * of the releases). Returns its slot in `recent`. */
static size_t stats_push(dsp_pipeline_t *p, const dsp_stride_t *st)
{
    size_t slot = (p->rec_head + p->rec_n) % p->rec_cap;
    p->recent[slot] = *st;
    if (p->rec_n < p->rec_cap)
        p->rec_n++;
    else
        p->rec_head = (p->rec_head + 1) % p->rec_cap;
    dsp_acc_add(&p->acc[st->mode][st->foot], st);
    /* drift bins: fixed count, widths doubled (pairs merged) as the session grows */
    if (isnan(p->bin_t0))
        p->bin_t0 = st->t_ic;
    dsp_acc_add(bin_cell(p, st->t_ic, st->mode, st->foot), st);
    if (!(st->t_ic <= p->t_last_ic))
        p->t_last_ic = st->t_ic;
    return slot;
}

/* A stride whose trajectory is known: the turn segmentation's sums, and (later: with_traj 0,
 * stats_push saw NAN there) its stride length and speed into the session sums, its drift-bin
 * cell and its copy in `recent`; then to the output queue. */
static void traj_push(dsp_pipeline_t *p, const dsp_stride_t *st, size_t slot, int with_traj)
{
    if (st->turning)
        p->n_turning++;
    else
        dsp_acc_add(&p->acc_str[st->mode][st->foot], st);
    if (!with_traj) {
        const int ms[2] = {DSP_M_STRIDE_LENGTH, DSP_M_SPEED};
        dsp_acc_t *cell = bin_cell(p, st->t_ic, st->mode, st->foot);
        for (int i = 0; i < 2; i++) {
            dsp_acc_add_metric(&p->acc[st->mode][st->foot], st, ms[i]);
            dsp_acc_add_metric(cell, st, ms[i]);
        }
        dsp_stride_t *r = &p->recent[slot];
        if (r->foot == st->foot && r->index == st->index && r->t_ic == st->t_ic)
            *r = *st;
    }
    outq_push(p, st);
}

/* Foot k's released strides waiting for their trajectory, in order, as far as their samples
 * have arrived (final: end of input, with what there is). */
static void wait_drain(dsp_pipeline_t *p, int k, int final)
{
    foot_t *f = &p->f[k];
    unsigned done = 0;
    while (done < f->wait_n &&
           dsp_events_traj(&f->ev, &f->wreq[done], final, &f->wait[done])) {
        traj_push(p, &f->wait[done], f->wrec[done], 0);
        done++;
    }
    if (done) {
        memmove(f->wait, f->wait + done, (f->wait_n - done) * sizeof f->wait[0]);
        memmove(f->wreq, f->wreq + done, (f->wait_n - done) * sizeof f->wreq[0]);
        memmove(f->wrec, f->wrec + done, (f->wait_n - done) * sizeof f->wrec[0]);
        f->wait_n -= done;
    }
}

/* A released stride of foot k: with its trajectory when the samples are there (or at the end
 * of input), else into the statistics now and to the output when its trajectory is done. */
static void out_push(dsp_pipeline_t *p, int k, dsp_stride_t *st, const dsp_traj_req_t *rq,
                     int force)
{
    foot_t *f = &p->f[k];
    if (f->wait_n == 0 && dsp_events_traj(&f->ev, rq, force, st)) {
        traj_push(p, st, stats_push(p, st), 1);
        return;
    }
    if (f->wait_n == WAIT_MAX)
        wait_drain(p, k, 1);
    f->wreq[f->wait_n] = *rq;
    f->wrec[f->wait_n] = stats_push(p, st); /* trajectory fields NAN: counted later */
    f->wait[f->wait_n++] = *st;
}

/* Added to a time of foot 1-k's clock to put it on foot k's clock (estimated offset). */
static double shift_to(const dsp_pipeline_t *p, int k)
{
    return k == DSP_RIGHT ? p->off_used : -p->off_used;
}

/* Step and flight time of st from the other foot's initial contacts (shifted to st's clock). */
static void contralateral(const foot_t *o, double shift, dsp_stride_t *st)
{
    st->step_s = NAN;
    st->flight_s = NAN;
    for (unsigned i = 0; i < o->ic_n; i++) {
        double t = o->ic[i] + shift;
        if (t < st->t_ic && st->t_ic - t < st->stride_s)
            st->step_s = st->t_ic - t;
        if (t > st->t_ic && isnan(st->flight_s) && t < st->t_next_ic)
            st->flight_s = t > st->t_to ? t - st->t_to : 0.0;
    }
}

/* Moves foot k's pending strides to the output when the other foot allows (or force). */
static void release(dsp_pipeline_t *p, int k, int force)
{
    foot_t *f = &p->f[k], *o = &p->f[1 - k];
    unsigned done = 0;
    while (done < f->pend_n) {
        dsp_stride_t *st = &f->pend[done];
        /* ready when the other foot's contact after t_ic is known, or cannot come any more:
         * its detector has examined past t_next_ic plus the swing-peak confirmation delay, or it
         * has no gait (no samples, or a spectrum without a stride frequency) */
        double sh = shift_to(p, k);
        int later = o->ic_n && o->ic[o->ic_n - 1] + sh > st->t_ic;
        double lag = isfinite(o->f0) ? DSP_SEP_FRAC / o->f0 : INFINITY;
        int passed = o->ev.scanned_t + sh >= st->t_next_ic + lag;
        int no_gait = o->n == 0 || (o->spec_runs > 0 && !isfinite(o->f0) &&
                                    p->t_last >= st->t_next_ic + st->stride_s);
        int bound = p->t_last >= st->t_next_ic + 10.0;
        if (!force && !later && !passed && !no_gait && !bound)
            break;
        contralateral(o, shift_to(p, k), st);
        /* before the offset is known (the first strides): step and flight time only when the
         * other foot's contact lies near mid-stride, as with clocks that agree */
        if (p->s.clock_sync && p->off_n < OFF_MIN &&
            !(fabs(st->step_s - 0.5 * st->stride_s) <= DSP_UNSYNC_FRAC * st->stride_s))
            st->step_s = st->flight_s = NAN;
        out_push(p, k, st, &f->preq[done], force);
        done++;
    }
    if (done) {
        memmove(f->pend, f->pend + done, (f->pend_n - done) * sizeof f->pend[0]);
        memmove(f->preq, f->preq + done, (f->pend_n - done) * sizeof f->preq[0]);
        f->pend_n -= done;
    }
}

static void ic_note(foot_t *f, double t)
{
    if (f->ic_n && f->ic[f->ic_n - 1] >= t - 1e-9)
        return;
    if (f->ic_n == IC_HIST) {
        memmove(f->ic, f->ic + 1, (IC_HIST - 1) * sizeof f->ic[0]);
        f->ic_n--;
    }
    f->ic[f->ic_n++] = t;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Clock offset from foot k's previous stride [a, b] (its own clock): with equal mean left and
 * right step times the other foot's contact falls mid-stride, so (other IC - midpoint) measures
 * the other pod's clock minus this one's. Evaluated one stride late, when the other foot's
 * contacts around the midpoint are known; needs two of them bracketing it within 1.5 strides. */
static void offset_sample(dsp_pipeline_t *p, int k, double a, double b)
{
    const foot_t *o = &p->f[1 - k];
    double mid = 0.5 * (a + b), T = b - a, lo = NAN, hi = NAN;
    for (unsigned i = 0; i < o->ic_n; i++) {
        if (o->ic[i] <= mid)
            lo = o->ic[i];
        else if (isnan(hi))
            hi = o->ic[i];
    }
    if (!(hi - lo <= 1.5 * T))
        return;
    double d = (mid - lo < hi - mid ? lo : hi) - mid;
    d = k == DSP_LEFT ? d : -d; /* R clock minus L clock */
    /* the sorted list gains d (ring slot `slot`) and, when full, loses the slot's old value:
     * the same list a stable sort of the ring gives, without sorting per stride */
    unsigned slot = (p->off_head + p->off_n) % OFF_RING, held = p->off_n;
    if (held == OFF_RING) {
        unsigned i = 0;
        while (p->off_slot[i] != slot)
            i++;
        memmove(p->off_sorted + i, p->off_sorted + i + 1, (held - 1 - i) * sizeof p->off_sorted[0]);
        memmove(p->off_slot + i, p->off_slot + i + 1, (held - 1 - i) * sizeof p->off_slot[0]);
        held--;
    }
    unsigned j = held;
    for (; j > 0 &&
           (p->off_sorted[j - 1] > d || (p->off_sorted[j - 1] == d && p->off_slot[j - 1] > slot));
         j--) {
        p->off_sorted[j] = p->off_sorted[j - 1];
        p->off_slot[j] = p->off_slot[j - 1];
    }
    p->off_sorted[j] = d;
    p->off_slot[j] = (uint8_t)slot;
    if (p->off_n < OFF_RING)
        p->off_n++;
    else
        p->off_head = (p->off_head + 1) % OFF_RING;
    if (p->off_n >= OFF_MIN) {
        const double *tmp = p->off_sorted;
        p->off =
            p->off_n % 2 ? tmp[p->off_n / 2] : 0.5 * (tmp[p->off_n / 2 - 1] + tmp[p->off_n / 2]);
        double m = fabs(p->off), on = p->s.clock_sync_min_s;
        if (m >= on)
            p->off_latched = 1;
        else if (m < 0.5 * on)
            p->off_latched = 0;
        p->off_used = p->off_latched ? p->off : 0.0;
    }
}

static void detect(dsp_pipeline_t *p, int k, int flush)
{
    foot_t *f = &p->f[k];
    double period = isfinite(f->f0) ? 1.0 / f->f0 : NAN;
    dsp_stride_t st;
    for (;;) {
        int got =
            flush ? dsp_events_flush(&f->ev, period, p->s.min_stride_hz, p->s.max_stride_hz, &st)
                  : dsp_events_step(&f->ev, period, p->s.min_stride_hz, p->s.max_stride_hz, &st);
        if (!got)
            break;
        ic_note(f, st.t_ic);
        ic_note(f, st.t_next_ic);
        if (p->s.clock_sync) {
            if (f->have_prev && st.t_ic - f->prev_next < 1e-6)
                offset_sample(p, k, f->prev_ic, f->prev_next);
            f->prev_ic = st.t_ic;
            f->prev_next = st.t_next_ic;
            f->have_prev = 1;
        }
        if (f->pend_n == PEND_MAX)
            release(p, k, 1);
        f->preq[f->pend_n] = f->ev.req;
        f->pend[f->pend_n++] = st;
    }
    /* released strides whose trajectory's samples have arrived since (dsp_events_traj waits,
     * returning 0, exactly while samples up to the request's end are missing: not called then) */
    if (flush || (f->wait_n && (f->ev.n == 0 || f->ev.n - 1 >= f->wreq[0].end)))
        wait_drain(p, k, flush);
    /* (release does nothing without pending strides: not called then, most samples) */
    if (f->pend_n)
        release(p, k, 0);
    if (p->f[1 - k].pend_n)
        release(p, 1 - k, 0);
}

/* All six channels finite: x * 0 is 0 for a finite x and NaN for an infinity or a NaN. With
 * SSE2: two unaligned 4-float loads (acc[0..2] gyr[0], and acc[2] gyr[0..2]: both inside the
 * sample, no padding read), times zero, an unordered compare and a mask (a handful of
 * instructions instead of six products and a sum). Without SSE2: the sum of the six products,
 * 0 exactly when all are finite (without -ffast-math the compiler keeps the products). */
#ifdef __SSE2__
_Static_assert(offsetof(dsp_sample_t, gyr) == offsetof(dsp_sample_t, acc) + 3 * sizeof(float),
               "acc and gyr adjacent");
static int channels_finite(const dsp_sample_t *s)
{
    const float *a = (const float *)((const char *)s + offsetof(dsp_sample_t, acc));
    __m128 lo = _mm_mul_ps(_mm_loadu_ps(a), _mm_setzero_ps());
    __m128 hi = _mm_mul_ps(_mm_loadu_ps(a + 2), _mm_setzero_ps());
    return _mm_movemask_ps(_mm_cmpunord_ps(lo, hi)) == 0;
}
#else
static int channels_finite(const dsp_sample_t *s)
{
    float z = (s->acc[0] * 0.0f + s->acc[1] * 0.0f) + (s->acc[2] * 0.0f + s->gyr[0] * 0.0f) +
              (s->gyr[1] * 0.0f + s->gyr[2] * 0.0f);
    return z == 0.0f;
}
#endif

/* dsp_pipeline_push's due work for foot `foot` (bit 0: a decimation block is full, bit 1: a
 * detector batch), in this order. Returns 0. */
__attribute__((noinline)) static int push_due(dsp_pipeline_t *p, int foot, unsigned due)
{
    foot_t *f = &p->f[foot];
    if (due & 1u)
        spec_block(p, f);
    if (due & 2u) {
        f->det_cnt = 0;
        detect(p, foot, 0);
    }
    return 0;
}

/* The rest of dsp_pipeline_push for a checked sample s of foot f: count and store it, feed the
 * decimation, and run whatever is due (a tail call, so that the per-sample path keeps no
 * registers across calls). */
static inline int push_common(dsp_pipeline_t *p, int foot, foot_t *f, const dsp_sample_t *s)
{
    const double t = s->t;
    f->n++;
    f->t_last = t;
    if (!(t <= p->t_last)) /* later, or the first (NAN) */
        p->t_last = t;
    dsp_events_store(&f->ev, s);
    if (!(f->rate > 0.0))
        return 0;
    /* decimation for the spectral buffer; the detector examines samples in batches of
     * DET_BATCH_S (latency stays far below a stride; a per-sample call costs more than the
     * examination itself) */
    f->blk_sum += s->gyr[1];
    unsigned due = ++f->blk_cnt >= f->dec;
    if (++f->det_cnt >= f->det_every)
        due |= 2u;
    return due ? push_due(p, foot, due) : 0;
}

/* dsp_pipeline_push for the rare cases of foot `foot`'s sample s: the first sample, a dropout
 * (gap_s is INFINITY until the rate is known), the rate estimate after RATE_INTERVALS
 * intervals. Out of line, as push_due. */
__attribute__((noinline)) static int push_rare(dsp_pipeline_t *p, int foot, const dsp_sample_t *s)
{
    foot_t *f = &p->f[foot];
    const double t = s->t;
    if (f->n == 0) {
        f->t0 = t;
        /* a foot's times increase: only its first sample can be the earliest (t_first NAN:
         * none yet; ties keep the earlier push) */
        if (!(t >= p->t_first))
            p->t_first = t;
    } else if (t - f->t_last > f->gap_s) {
        dsp_events_reset_chain(&f->ev);
        f->blk_cnt = 0;
        f->blk_sum = 0.0;
    }
    if (f->n == RATE_INTERVALS) {
        f->rate = RATE_INTERVALS / (t - f->t0);
        f->gap_s = DROPOUT_PERIODS / f->rate;
        f->det_every = (unsigned)(DET_BATCH_S * f->rate);
        if (f->det_every < 1)
            f->det_every = 1;
        f->ev.rate = f->rate;
        f->dec = f->rate >= SPEC_FS_MIN ? (unsigned)floor(f->rate / SPEC_FS_MIN) : 1u;
        f->fs_spec = f->rate / f->dec;
    }
    return push_common(p, foot, f, s);
}

int dsp_pipeline_push(dsp_pipeline_t *p, int foot, const dsp_sample_t *s)
{
    if (!p || !s || (foot != DSP_LEFT && foot != DSP_RIGHT))
        return -1;
    if (!isfinite(s->t) || !channels_finite(s))
        return -2;
    foot_t *f = &p->f[foot];
    const double t = s->t;
    if (f->n && t <= f->t_last)
        return -3;
    if (f->n == 0 || f->n == RATE_INTERVALS || t - f->t_last > f->gap_s)
        return push_rare(p, foot, s);
    return push_common(p, foot, f, s);
}

int dsp_pipeline_pop_stride(dsp_pipeline_t *p, dsp_stride_t *out)
{
    if (!p || p->out_n == 0)
        return 0;
    *out = p->outq[p->out_head];
    p->out_head = (p->out_head + 1) % OUTQ_MAX;
    p->out_n--;
    return 1;
}

void dsp_pipeline_finish(dsp_pipeline_t *p)
{
    if (!p)
        return;
    for (int k = 0; k < 2; k++) {
        foot_t *f = &p->f[k];
        if (f->rate <= 0.0 && f->n >= 2) { /* short input: estimate the rate from what came */
            f->rate = (f->n - 1) / (f->t_last - f->t0);
            f->gap_s = DROPOUT_PERIODS / f->rate;
            f->ev.rate = f->rate;
        }
        /* a recording shorter than SPEC_MIN_S: one spectrum over all of it */
        if (f->rate > 0.0 && f->fs_spec > 0.0 && !isfinite(f->f0) && f->f0_cnt == 0)
            update_f0(p, f);
        detect(p, k, 0);
        detect(p, k, 1);
    }
    release(p, 0, 1);
    release(p, 1, 1);
    wait_drain(p, 0, 1);
    wait_drain(p, 1, 1);
}

static void window_fft(const dsp_pipeline_t *p, dsp_window_t *w, int session)
{
    double sum = 0.0;
    int n = 0;
    for (int k = 0; k < 2; k++) {
        const foot_t *f = &p->f[k];
        if (session && f->f0_cnt)
            sum += f->f0_sum / f->f0_cnt, n++;
        else if (!session && isfinite(f->f0))
            sum += f->f0, n++;
    }
    w->stride_hz_fft = n ? sum / n : NAN;
    w->cadence_fft_spm = 120.0 * w->stride_hz_fft;
    w->cadence_disagree = fabs(w->cadence_fft_spm - w->cadence_events_spm) >
                          0.01 * DSP_CADENCE_DISAGREE_PCT * w->cadence_events_spm;
    if (session) {
        double deg = atan2(p->ph_im, p->ph_re) * 180.0 / M_PI;
        w->phase_offset_deg = p->ph_n ? (deg < 0.0 ? deg + 360.0 : deg) : NAN;
        w->spectral_similarity = p->simil_n ? p->simil_sum / p->simil_n : NAN;
    } else {
        w->phase_offset_deg = p->phase_deg;
        w->spectral_similarity = p->simil;
    }
}

void dsp_pipeline_window(dsp_pipeline_t *p, dsp_window_t *w)
{
    memset(w, 0, sizeof *w);
    dsp_acc_t acc[2] = {{0}, {0}};
    uint32_t n_run = 0, n_walk = 0;
    double end = p && isfinite(p->t_last) ? p->t_last : 0.0;
    double start = end - (p ? p->s.window_s : 0.0);
    if (p && isfinite(p->t_first) && start < p->t_first)
        start = p->t_first;
    for (size_t i = 0; p && i < p->rec_n; i++) {
        const dsp_stride_t *st = &p->recent[(p->rec_head + i) % p->rec_cap];
        if (st->t_ic < start)
            continue;
        dsp_acc_add(&acc[st->foot], st);
        n_run += st->mode == DSP_MODE_RUN;
        n_walk += st->mode == DSP_MODE_WALK;
    }
    w->t_start = start;
    w->t_end = end;
    dsp_window_fill(w, acc, n_run, n_walk);
    /* medians of every metric per foot over the same strides (sorting a copy) */
    for (int k = 0; k < 2 && p; k++) {
        for (int m = 0; m < DSP_NMETRIC; m++) {
            size_t n = 0;
            for (size_t i = 0; i < p->rec_n; i++) {
                const dsp_stride_t *st = &p->recent[(p->rec_head + i) % p->rec_cap];
                double v = dsp_stride_metric(st, m);
                if (st->t_ic >= start && st->foot == k && isfinite(v))
                    p->med[n++] = v;
            }
            qsort(p->med, n, sizeof p->med[0], cmp_double);
            w->foot[k].median[m] =
                n == 0 ? NAN : (n % 2 ? p->med[n / 2] : 0.5 * (p->med[n / 2 - 1] + p->med[n / 2]));
        }
    }
    if (p)
        window_fft(p, w, 0);
    else
        w->stride_hz_fft = w->cadence_fft_spm = NAN;
}

/* Fatigue drift: the first and last thirds of the stride span, from the time bins of the
 * summary's main mode (running if any, else all). */
static void drift(const dsp_pipeline_t *p, dsp_summary_t *out)
{
    for (int m = 0; m < DSP_NMETRIC; m++)
        out->drift_per_10min[m] = NAN;
    out->drift_contact_si_per_10min = NAN;
    dsp_acc_t a[2][2];
    memset(a, 0, sizeof a);
    double span = isfinite(p->bin_t0) ? p->t_last_ic - p->bin_t0 : 0.0;
    double c1 = p->bin_t0 + span / 3.0, c2 = p->t_last_ic - span / 3.0;
    uint32_t n_run[2] = {0, 0}, n_walk[2] = {0, 0};
    for (size_t i = 0; i < DRIFT_BINS && span > 0.0; i++) {
        double mid = p->bin_t0 + (i + 0.5) * p->bin_w;
        int part = mid < c1 ? 0 : (mid >= c2 ? 1 : -1);
        if (part < 0)
            continue;
        for (int m = 0; m < 3; m++) {
            if (out->n_running && m != DSP_MODE_RUN)
                continue;
            for (int k = 0; k < 2; k++) {
                if (!p->bin[i][m][k]) /* no strides: adding zeros changes nothing */
                    continue;
                const dsp_acc_t *c = &p->cell[p->bin[i][m][k] - 1];
                dsp_acc_merge(&a[part][k], c);
                if (m == DSP_MODE_RUN)
                    n_run[part] += c->n;
                if (m == DSP_MODE_WALK)
                    n_walk[part] += c->n;
            }
        }
    }
    dsp_window_t *w[2] = {&out->first_third, &out->last_third};
    for (int part = 0; part < 2; part++) {
        memset(w[part], 0, sizeof *w[part]);
        w[part]->t_start = part ? c2 : p->bin_t0;
        w[part]->t_end = part ? p->t_last_ic : c1;
        dsp_window_fill(w[part], a[part], n_run[part], n_walk[part]);
        w[part]->stride_hz_fft = w[part]->cadence_fft_spm = NAN;
    }
    /* third centres are 2/3 of the span apart (bins are assigned by their centre) */
    double per10 = span > 0.0 ? 600.0 / (2.0 / 3.0 * span) : NAN;
    for (int m = 0; m < DSP_NMETRIC; m++) {
        double mean[2];
        for (int part = 0; part < 2; part++) {
            uint32_t n = a[part][0].mn[m] + a[part][1].mn[m];
            mean[part] = n ? (a[part][0].ms[m] + a[part][1].ms[m]) / n : NAN;
        }
        out->drift_per_10min[m] = (mean[1] - mean[0]) * per10;
    }
    out->drift_contact_si_per_10min =
        (out->last_third.contact_si_pct - out->first_third.contact_si_pct) * per10;
}

void dsp_pipeline_summary(const dsp_pipeline_t *p, dsp_summary_t *out)
{
    memset(out, 0, sizeof *out);
    double t0 = isfinite(p->t_first) ? p->t_first : 0.0;
    double t1 = isfinite(p->t_last) ? p->t_last : 0.0;
    out->duration_s = t1 - t0;
    dsp_acc_t all[2] = {{0}, {0}};
    for (int m = 0; m < 3; m++)
        for (int k = 0; k < 2; k++)
            dsp_acc_merge(&all[k], &p->acc[m][k]);
    out->n_strides[0] = all[0].n;
    out->n_strides[1] = all[1].n;
    out->n_running = p->acc[DSP_MODE_RUN][0].n + p->acc[DSP_MODE_RUN][1].n;
    out->n_walking = p->acc[DSP_MODE_WALK][0].n + p->acc[DSP_MODE_WALK][1].n;
    dsp_window_t *ws[2] = {&out->running, &out->walking};
    const int modes[2] = {DSP_MODE_RUN, DSP_MODE_WALK};
    for (int i = 0; i < 2; i++) {
        dsp_window_t *w = ws[i];
        w->t_start = t0;
        w->t_end = t1;
        int m = modes[i];
        dsp_window_fill(w, p->acc[m], m == DSP_MODE_RUN ? out->n_running : 0,
                        m == DSP_MODE_WALK ? out->n_walking : 0);
        w->stride_hz_fft = w->cadence_fft_spm = NAN;
    }
    dsp_window_t *main = &out->main;
    if (out->n_running) {
        *main = out->running;
    } else {
        main->t_start = t0;
        main->t_end = t1;
        dsp_window_fill(main, all, out->n_running, out->n_walking);
    }
    window_fft(p, main, 1);
    /* `straight`: the strides of `main` not flagged turning (symmetry without the turns) */
    out->n_turning = p->n_turning;
    {
        dsp_acc_t str[2] = {{0}, {0}};
        for (int m = 0; m < 3; m++) {
            if (out->n_running && m != DSP_MODE_RUN)
                continue;
            for (int k = 0; k < 2; k++)
                dsp_acc_merge(&str[k], &p->acc_str[m][k]);
        }
        const dsp_acc_t *run = p->acc_str[DSP_MODE_RUN], *walk = p->acc_str[DSP_MODE_WALK];
        uint32_t sr = out->n_running ? run[0].n + run[1].n : 0;
        uint32_t sw = out->n_running ? 0 : walk[0].n + walk[1].n;
        out->straight.t_start = t0;
        out->straight.t_end = t1;
        dsp_window_fill(&out->straight, str, sr, sw);
        out->straight.stride_hz_fft = out->straight.cadence_fft_spm = NAN;
    }
    /* the session's spectral cadence spans every mode: compared only in a one-mode session */
    if (out->n_running && out->n_walking)
        main->cadence_disagree = 0;
    out->cadence_spm =
        isfinite(main->cadence_events_spm) ? main->cadence_events_spm : main->cadence_fft_spm;
    out->clock_offset_s = !p->s.clock_sync ? 0.0 : (p->off_n >= OFF_MIN ? p->off : NAN);
    drift(p, out);
}
