/* dsp_pipeline.c - libgaitdsp's streaming pipeline: two feet of one athlete (dsp.h).
 * Per foot: rate estimate, decimated pitch-rate buffer for the spectral stride frequency, event
 * detector (dsp_events.c). Strides wait until the other foot's events allow step and flight times,
 * then go to the output queue and the statistics. All buffers and the FFTW plan are made in
 * dsp_pipeline_new; dsp_pipeline_push never allocates. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "dsp.h"
#include "dsp_events.h"
#include "dsp_spectrum.h"
#include "dsp_stats.h"

#define RATE_INTERVALS 32   /* sample intervals averaged for the rate estimate */
#define DROPOUT_PERIODS 3.5 /* a gap longer than this many sample periods is a dropout */
#define SPEC_FS_MIN 64.0    /* spectral buffer rate: rate / floor(rate / 64), in [64, 128) */
#define SPEC_FS_MAX 128.0
#define SPEC_MIN_S 5.0    /* first spectrum after this much signal */
#define SPEC_MIN_RMS 10.0 /* deg/s: below this pitch-rate rms there is no gait */
#define SPEC_MIN_STRENGTH                                                                          \
    0.5              /* harmonic share of the band power (gait ~0.7..0.95, noise ~0.25)            \
                      */
#define IC_HIST 16   /* initial contacts remembered per foot */
#define PEND_MAX 16  /* strides waiting for the other foot, per foot */
#define OUTQ_MAX 256 /* finished strides not yet popped */

typedef struct foot {
    dsp_events_t ev;
    uint64_t n; /* samples pushed */
    double t0, t_last;
    double rate; /* Hz, 0 until estimated */
    /* spectral buffer (decimated gyr_y) */
    float *spec;
    size_t spec_cap;
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
    unsigned pend_n;
} foot_t;

struct dsp_pipeline {
    dsp_settings_t s;
    dsp_spec_t sp;
    float *tmp; /* linearised spectral window */
    foot_t f[2];
    dsp_stride_t outq[OUTQ_MAX];
    unsigned out_head, out_n;
    dsp_stride_t *recent; /* ring of finished strides for the rolling window */
    size_t rec_cap, rec_head, rec_n;
    dsp_acc_t acc[3][2]; /* session sums per mode, per foot */
    double t_first, t_last;
};

dsp_settings_t dsp_settings_default(void)
{
    dsp_settings_t s = {10.0, 1.0, 30.0, 0.4, 2.2, 2000.0};
    return s;
}

static int settings_ok(const dsp_settings_t *s)
{
    return s->fft_window_s >= 2.0 && s->fft_window_s <= 120.0 && s->fft_hop_s > 0.0 &&
           s->window_s > 0.0 && s->window_s <= 3600.0 && s->min_stride_hz > 0.0 &&
           s->max_stride_hz > s->min_stride_hz && s->max_stride_hz <= 10.0 &&
           s->max_rate_hz >= 10.0 && s->max_rate_hz <= 20000.0;
}

dsp_pipeline_t *dsp_pipeline_new(const dsp_settings_t *s)
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
    p->tmp = calloc(spec_cap, sizeof *p->tmp);
    int bad = !p->recent || !p->tmp || dsp_spec_init(&p->sp, spec_cap) != 0;
    for (int k = 0; k < 2 && !bad; k++) {
        foot_t *f = &p->f[k];
        f->f0 = NAN;
        f->spec_cap = spec_cap;
        f->spec = calloc(spec_cap, sizeof *f->spec);
        bad = !f->spec || dsp_events_init(&f->ev, ev_cap, (uint8_t)k) != 0;
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
        dsp_events_release(&p->f[k].ev);
    }
    dsp_spec_release(&p->sp);
    free(p->tmp);
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
    for (size_t i = 0; i < n; i++)
        p->tmp[i] = f->spec[(f->spec_n - n + i) % f->spec_cap];
    double strength = 0.0;
    f->spec_runs++;
    double f0 = dsp_spec_fundamental(&p->sp, p->tmp, n, f->fs_spec, p->s.min_stride_hz,
                                     p->s.max_stride_hz, SPEC_MIN_RMS, &strength);
    if (isfinite(f0) && strength >= SPEC_MIN_STRENGTH) {
        f->f0 = f0;
        f->f0_t = f->t_last;
        f->f0_sum += f0;
        f->f0_cnt++;
    } else if (!(f->t_last - f->f0_t <= p->s.fft_window_s)) {
        f->f0 = NAN; /* a short irregular spell keeps the last period */
    }
}

static void spec_push(dsp_pipeline_t *p, foot_t *f, float g)
{
    f->blk_sum += g;
    if (++f->blk_cnt < f->dec)
        return;
    f->spec[f->spec_n % f->spec_cap] = (float)(f->blk_sum / f->blk_cnt);
    f->spec_n++;
    f->blk_sum = 0.0;
    f->blk_cnt = 0;
    f->spec_since++;
    double hop = p->s.fft_hop_s * f->fs_spec;
    if (f->spec_n >= (uint64_t)(SPEC_MIN_S * f->fs_spec) && f->spec_since >= hop) {
        f->spec_since = 0;
        update_f0(p, f);
    }
}

static void out_push(dsp_pipeline_t *p, const dsp_stride_t *st)
{
    if (p->out_n == OUTQ_MAX) { /* nobody pops: drop the oldest */
        p->out_head = (p->out_head + 1) % OUTQ_MAX;
        p->out_n--;
    }
    p->outq[(p->out_head + p->out_n) % OUTQ_MAX] = *st;
    p->out_n++;
    p->recent[(p->rec_head + p->rec_n) % p->rec_cap] = *st;
    if (p->rec_n < p->rec_cap)
        p->rec_n++;
    else
        p->rec_head = (p->rec_head + 1) % p->rec_cap;
    dsp_acc_add(&p->acc[st->mode][st->foot], st);
}

/* Step and flight time of st from the other foot's initial contacts. */
static void contralateral(const foot_t *o, dsp_stride_t *st)
{
    st->step_s = NAN;
    st->flight_s = NAN;
    for (unsigned i = 0; i < o->ic_n; i++) {
        double t = o->ic[i];
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
        int later = o->ic_n && o->ic[o->ic_n - 1] > st->t_ic;
        double lag = isfinite(o->f0) ? DSP_SEP_FRAC / o->f0 : INFINITY;
        int passed = o->ev.scanned_t >= st->t_next_ic + lag;
        int no_gait = o->n == 0 || (o->spec_runs > 0 && !isfinite(o->f0) &&
                                    p->t_last >= st->t_next_ic + st->stride_s);
        int bound = p->t_last >= st->t_next_ic + 10.0;
        if (!force && !later && !passed && !no_gait && !bound)
            break;
        contralateral(o, st);
        out_push(p, st);
        done++;
    }
    if (done) {
        memmove(f->pend, f->pend + done, (f->pend_n - done) * sizeof f->pend[0]);
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
        if (f->pend_n == PEND_MAX)
            release(p, k, 1);
        f->pend[f->pend_n++] = st;
    }
    release(p, k, 0);
    release(p, 1 - k, 0);
}

int dsp_pipeline_push(dsp_pipeline_t *p, int foot, const dsp_sample_t *s)
{
    if (!p || !s || (foot != DSP_LEFT && foot != DSP_RIGHT))
        return -1;
    if (!isfinite(s->t))
        return -2;
    for (int i = 0; i < 3; i++)
        if (!isfinite(s->acc[i]) || !isfinite(s->gyr[i]))
            return -2;
    foot_t *f = &p->f[foot];
    if (f->n && s->t <= f->t_last)
        return -3;
    if (f->n == 0) {
        f->t0 = s->t;
    } else if (f->rate > 0.0 && s->t - f->t_last > DROPOUT_PERIODS / f->rate) {
        dsp_events_reset_chain(&f->ev);
        f->blk_cnt = 0;
        f->blk_sum = 0.0;
    }
    if (f->n == RATE_INTERVALS) {
        f->rate = RATE_INTERVALS / (s->t - f->t0);
        f->ev.rate = f->rate;
        f->dec = f->rate >= SPEC_FS_MIN ? (unsigned)floor(f->rate / SPEC_FS_MIN) : 1u;
        f->fs_spec = f->rate / f->dec;
    }
    f->n++;
    f->t_last = s->t;
    if (isnan(p->t_first) || s->t < p->t_first)
        p->t_first = s->t;
    if (isnan(p->t_last) || s->t > p->t_last)
        p->t_last = s->t;
    dsp_events_store(&f->ev, s);
    if (f->rate > 0.0) {
        spec_push(p, f, s->gyr[1]);
        detect(p, foot, 0);
    }
    return 0;
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
    if (p)
        window_fft(p, w, 0);
    else
        w->stride_hz_fft = w->cadence_fft_spm = NAN;
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
    out->cadence_spm =
        isfinite(main->cadence_events_spm) ? main->cadence_events_spm : main->cadence_fft_spm;
}
