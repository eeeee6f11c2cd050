/* test_dsp_pipeline.c - the streaming pipeline on synthetic strides with known events:
 * event timing, stride assembly, step/flight times, walk/run modes, symmetry, one foot only,
 * standing, dropouts, saturation flags, latency, window and summary statistics. */
#include <float.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include "dsp.h"

/* --- synthetic foot signal -----------------------------------------------------------------
 * Per stride of period T starting at an initial contact (phase 0): a foot-slap hump (positive
 * gyr_y) in the first 50 ms, a quiet mid-stance, a push-off hump peaking at Ap, a linear fall
 * from the peak to zero over FALL s that passes 0.85 Ap exactly at the toe-off (phase C), then the
 * swing: a negative half sine of amplitude Aw that returns to zero at the next contact (the
 * upward zero crossing = IC). Accelerometer: gravity plus an impact pulse after IC. */
#define FALL 0.04

typedef struct synth {
    double rate;         /* Hz */
    double t0[2];        /* first IC per foot */
    double T[2], C[2];   /* stride period and contact time per foot */
    double Ap[2], Aw[2]; /* push-off and swing peak amplitudes, deg/s */
    int present[2];
    double noise; /* deg/s rms */
    uint64_t rng;
} synth_t;

static double gauss(uint64_t *s)
{
    double u[2];
    for (int i = 0; i < 2; i++) {
        *s ^= *s << 13;
        *s ^= *s >> 7;
        *s ^= *s << 17;
        u[i] = ((*s >> 11) + 0.5) / 9007199254740992.0;
    }
    return sqrt(-2.0 * log(u[0])) * cos(2.0 * M_PI * u[1]);
}

static double gyr_y(const synth_t *sy, int f, double t)
{
    double T = sy->T[f], C = sy->C[f];
    if (t < sy->t0[f])
        return 0.0;
    double tau = fmod(t - sy->t0[f], T);
    double tp = C - 0.15 * FALL, tz = C + 0.85 * FALL, rise = 0.12;
    if (tau < 0.05)
        return 0.3 * sy->Ap[f] * sin(M_PI * tau / 0.05);
    if (tau < tp - rise)
        return 0.0;
    if (tau < tp)
        return sy->Ap[f] * 0.5 * (1.0 - cos(M_PI * (tau - (tp - rise)) / rise));
    if (tau < tz)
        return sy->Ap[f] * (1.0 - (tau - tp) / FALL);
    return -sy->Aw[f] * sin(M_PI * (tau - tz) / (T - tz));
}

static void make_sample(synth_t *sy, int f, double t, dsp_sample_t *s)
{
    memset(s, 0, sizeof *s);
    s->t = t;
    s->gyr[1] = (float)(gyr_y(sy, f, t) + sy->noise * gauss(&sy->rng));
    s->gyr[0] = (float)(sy->noise * gauss(&sy->rng));
    s->gyr[2] = (float)(sy->noise * gauss(&sy->rng));
    double tau = t >= sy->t0[f] ? fmod(t - sy->t0[f], sy->T[f]) : 1.0;
    double impact = tau < 0.02 ? 40.0 * sin(M_PI * tau / 0.02) : 0.0;
    s->acc[0] = (float)(0.05 * gauss(&sy->rng));
    s->acc[1] = (float)(0.05 * gauss(&sy->rng));
    s->acc[2] = (float)(9.81 + impact + 0.05 * gauss(&sy->rng));
}

static synth_t running(double rate)
{
    synth_t sy = {0};
    sy.rate = rate;
    sy.t0[0] = 1.0;
    sy.t0[1] = 1.35;
    sy.T[0] = sy.T[1] = 0.7; /* 171.4 steps/min */
    sy.C[0] = sy.C[1] = 0.25;
    sy.Ap[0] = sy.Ap[1] = 700.0;
    sy.Aw[0] = sy.Aw[1] = 900.0;
    sy.present[0] = sy.present[1] = 1;
    sy.noise = 0.5;
    sy.rng = 0x9e3779b97f4a7c15ull;
    return sy;
}

static synth_t walking(double rate)
{
    synth_t sy = running(rate);
    sy.T[0] = sy.T[1] = 1.1;
    sy.C[0] = sy.C[1] = 0.7;
    sy.t0[1] = 1.55;
    sy.Ap[0] = sy.Ap[1] = 450.0;
    sy.Aw[0] = sy.Aw[1] = 320.0;
    return sy;
}

#define MAXS 2048

typedef struct run_out {
    dsp_stride_t st[MAXS];
    double pop_t[MAXS]; /* stream time when popped */
    int n;
    dsp_summary_t sum;
    dsp_window_t win;
} run_out_t;

static run_out_t out;

/* Streams duration_s of both feet (L before R at each instant) through a fresh pipeline. */
static void run(synth_t *sy, double duration_s, run_out_t *o)
{
    dsp_settings_t set = dsp_settings_default();
    dsp_pipeline_t *p = dsp_pipeline_new(&set);
    assert_non_null(p);
    memset(o, 0, sizeof *o);
    long n = (long)(duration_s * sy->rate);
    for (long i = 0; i < n; i++) {
        double t = i / sy->rate;
        for (int f = 0; f < 2; f++) {
            if (!sy->present[f])
                continue;
            dsp_sample_t s;
            make_sample(sy, f, t, &s);
            assert_int_equal(dsp_pipeline_push(p, f, &s), 0);
        }
        while (o->n < MAXS && dsp_pipeline_pop_stride(p, &o->st[o->n]))
            o->pop_t[o->n++] = t;
    }
    dsp_pipeline_window(p, &o->win);
    dsp_pipeline_finish(p);
    while (o->n < MAXS && dsp_pipeline_pop_stride(p, &o->st[o->n]))
        o->pop_t[o->n++] = INFINITY;
    dsp_pipeline_summary(p, &o->sum);
    dsp_pipeline_free(&p);
    assert_null(p);
}

/* Every true stride k >= 1 (the first contact follows no swing) that ends 1 s before the end is
 * detected exactly once, with IC and toe-off within tol_s; no stride is invented. */
static void check_events(const synth_t *sy, const run_out_t *o, double duration_s, double tol_s)
{
    int found_total = 0, feet = 0;
    for (int f = 0; f < 2; f++) {
        if (!sy->present[f])
            continue;
        feet++;
        int n_true = 0;
        for (int k = 1;; k++) {
            double ic = sy->t0[f] + k * sy->T[f];
            if (ic + sy->T[f] > duration_s - 1.0)
                break;
            n_true++;
            int hits = 0;
            for (int i = 0; i < o->n; i++) {
                const dsp_stride_t *s = &o->st[i];
                if (s->foot != f || fabs(s->t_ic - ic) > 0.1)
                    continue;
                hits++;
                assert_true(fabs(s->t_ic - ic) < tol_s);
                assert_true(fabs(s->t_to - (ic + sy->C[f])) < tol_s);
                assert_true(fabs(s->t_next_ic - (ic + sy->T[f])) < tol_s);
            }
            assert_int_equal(hits, 1);
        }
        found_total += n_true;
    }
    /* allowed extra: up to two strides per foot ending within the final second */
    assert_true(o->n >= found_total && o->n <= found_total + 2 * feet);
    for (int i = 0; i < o->n; i++) {
        const dsp_stride_t *s = &o->st[i];
        assert_true(s->t_ic < s->t_to && s->t_to < s->t_next_ic);
        assert_true(fabs(s->stride_s - (s->t_next_ic - s->t_ic)) < 1e-9);
        assert_true(fabs(s->contact_s - (s->t_to - s->t_ic)) < 1e-9);
        assert_true(fabs(s->swing_s - (s->t_next_ic - s->t_to)) < 1e-9);
        assert_true(fabs(s->duty - s->contact_s / s->stride_s) < 1e-9);
        assert_true(fabs(s->cadence_spm - 120.0 / s->stride_s) < 1e-9);
    }
}

static void test_running_symmetric(void **state)
{
    (void)state;
    synth_t sy = running(500.0);
    run(&sy, 120.0, &out);
    check_events(&sy, &out, 120.0, 0.002);
    uint32_t idx[2] = {0, 0};
    for (int i = 0; i < out.n; i++) {
        const dsp_stride_t *s = &out.st[i];
        assert_int_equal(s->mode, DSP_MODE_RUN);
        assert_int_equal(s->index, idx[s->foot]++);
        assert_int_equal(s->saturated, 0);
        /* contralateral figures: step T/2, flight T/2 - C */
        if (s->t_ic > 2.5) {
            assert_true(fabs(s->step_s - 0.35) < 0.003);
            assert_true(fabs(s->flight_s - 0.10) < 0.003);
        }
        assert_true(fabs(s->swing_peak_dps - 900.0) < 5.0);
        assert_true(fabs(s->pushoff_dps - 700.0) < 5.0);
        assert_true(fabs(s->impact_g - (9.81 + 40.0) / 9.80665) < 0.2);
        /* latency: popped within about one stride after toe-off (once the first spectrum,
         * after 5 s, gives the period; earlier strides are finished then) */
        if (isfinite(out.pop_t[i]) && s->t_ic > 5.0)
            assert_true(out.pop_t[i] - s->t_to <= 1.2 * s->stride_s);
    }
    const dsp_summary_t *m = &out.sum;
    assert_true(m->n_running == m->n_strides[0] + m->n_strides[1]);
    assert_int_equal(m->n_walking, 0);
    assert_int_equal(m->main.mode, DSP_MODE_RUN);
    assert_true(fabs(m->cadence_spm - 120.0 / 0.7) < 0.1);
    assert_true(fabs(m->main.cadence_fft_spm - 120.0 / 0.7) < 0.5);
    assert_true(fabs(m->main.contact_si_pct) < 0.3);
    assert_true(fabs(m->main.stride_si_pct) < 0.1);
    assert_true(fabs(m->main.step_si_pct) < 0.3);
    assert_true(fabs(m->main.foot[0].contact_s - 0.25) < 0.001);
    assert_true(fabs(m->main.foot[1].flight_s - 0.10) < 0.002);
    assert_true(m->main.foot[0].contact_cv_pct < 1.0);
    assert_true(fabs(m->duration_s - (120.0 - 1.0 / 500.0)) < 1e-6);
    /* rolling window: the last 30 s */
    const dsp_window_t *w = &out.win;
    assert_true(fabs(w->t_end - (120.0 - 1.0 / 500.0)) < 1e-6);
    assert_true(fabs(w->t_end - w->t_start - 30.0) < 1e-6);
    for (int f = 0; f < 2; f++)
        assert_true(w->foot[f].n >= 40 && w->foot[f].n <= 43);
    assert_true(fabs(w->cadence_events_spm - 120.0 / 0.7) < 0.1);
    assert_true(fabs(w->stride_hz_fft - 1.0 / 0.7) < 0.005);
    assert_int_equal(w->mode, DSP_MODE_RUN);
}

/* Left contact +8 % (stride time kept): contact SI = 100 * 0.02 / 0.26 = 7.69 %. */
static void test_running_asymmetric(void **state)
{
    (void)state;
    synth_t sy = running(500.0);
    sy.C[0] = 0.27;
    run(&sy, 90.0, &out);
    check_events(&sy, &out, 90.0, 0.002);
    assert_true(fabs(out.sum.main.contact_si_pct - 100.0 * 0.02 / 0.26) < 0.3);
    assert_true(fabs(out.sum.main.stride_si_pct) < 0.1);
}

/* Lower rate (204.8 Hz, like the gaitmap data) and a different period. */
static void test_running_204hz(void **state)
{
    (void)state;
    synth_t sy = running(204.8);
    sy.T[0] = sy.T[1] = 0.63; /* 190 steps/min */
    sy.C[0] = sy.C[1] = 0.21;
    sy.t0[1] = sy.t0[0] + 0.315;
    run(&sy, 60.0, &out);
    check_events(&sy, &out, 60.0, 0.004);
    assert_true(fabs(out.sum.cadence_spm - 120.0 / 0.63) < 0.2);
}

/* A genuine step-time asymmetry on one clock (right contact 20 ms late: steps 0.33 / 0.37 s,
 * step SI -11.4 %) is kept: the clock-offset estimate stays below clock_sync_min_s. A 150 ms
 * clock mismatch is corrected (step SI back to ~0). */
static void test_step_asymmetry_vs_clock(void **state)
{
    (void)state;
    synth_t sy = running(500.0);
    sy.t0[1] = 1.37;
    run(&sy, 90.0, &out);
    assert_true(fabs(out.sum.main.step_si_pct - 100.0 * (0.33 - 0.37) / 0.35) < 0.5);
    sy = running(500.0);
    sy.t0[1] = 1.50;
    run(&sy, 90.0, &out);
    assert_true(fabs(out.sum.main.step_si_pct) < 1.0);
    assert_true(fabs(out.sum.clock_offset_s - 0.15) < 0.005);
}

static void test_walking(void **state)
{
    (void)state;
    synth_t sy = walking(500.0);
    run(&sy, 90.0, &out);
    check_events(&sy, &out, 90.0, 0.002);
    for (int i = 0; i < out.n; i++) {
        assert_int_equal(out.st[i].mode, DSP_MODE_WALK);
        if (out.st[i].t_ic > 3.0) {
            assert_true(fabs(out.st[i].flight_s) < 1e-12); /* double support: no flight */
            assert_true(fabs(out.st[i].step_s - 0.55) < 0.003);
        }
    }
    assert_int_equal(out.sum.n_running, 0);
    assert_int_equal(out.sum.main.mode, DSP_MODE_WALK);
    assert_true(fabs(out.sum.cadence_spm - 120.0 / 1.1) < 0.1);
    assert_true(fabs(out.sum.main.foot[0].duty - 0.7 / 1.1) < 0.005);
}

/* Quiet standing (noise only): no strides, no cadence, no symmetry. */
static void test_standing(void **state)
{
    (void)state;
    synth_t sy = running(500.0);
    sy.t0[0] = sy.t0[1] = 1e9; /* never starts */
    sy.noise = 2.0;
    run(&sy, 60.0, &out);
    assert_int_equal(out.n, 0);
    assert_int_equal(out.sum.n_strides[0] + out.sum.n_strides[1], 0);
    assert_true(isnan(out.sum.cadence_spm));
    assert_true(isnan(out.sum.main.contact_si_pct));
    assert_true(isnan(out.win.cadence_events_spm));
    assert_int_equal(out.sum.main.mode, DSP_MODE_UNKNOWN);
}

/* One foot only: that foot's strides, no step/flight time, no symmetry. */
static void test_one_foot(void **state)
{
    (void)state;
    synth_t sy = running(500.0);
    sy.present[1] = 0;
    run(&sy, 60.0, &out);
    check_events(&sy, &out, 60.0, 0.002);
    for (int i = 0; i < out.n; i++) {
        assert_int_equal(out.st[i].foot, DSP_LEFT);
        assert_true(isnan(out.st[i].step_s) && isnan(out.st[i].flight_s));
        /* nothing to wait for: popped within a stride after toe-off */
        if (isfinite(out.pop_t[i]) && out.st[i].t_ic > 5.0)
            assert_true(out.pop_t[i] - out.st[i].t_to <= 1.2 * out.st[i].stride_s);
    }
    assert_int_equal(out.sum.n_strides[1], 0);
    assert_true(out.sum.n_strides[0] > 70);
    assert_true(isnan(out.sum.main.contact_si_pct));
    assert_true(fabs(out.sum.main.foot[0].contact_s - 0.25) < 0.001);
    assert_true(fabs(out.sum.cadence_spm - 120.0 / 0.7) < 0.1);
}

/* Walk then run: the summary's main block holds the running strides only (CONTRACT.md). */
static void test_walk_then_run(void **state)
{
    (void)state;
    dsp_settings_t set = dsp_settings_default();
    dsp_pipeline_t *p = dsp_pipeline_new(&set);
    synth_t w = walking(500.0), r = running(500.0);
    r.t0[0] = w.t0[0] + 54 * w.T[0]; /* each foot switches at one of its walking contacts */
    r.t0[1] = w.t0[1] + 54 * w.T[1];
    for (long i = 0; i < 120 * 500; i++) {
        double t = i / 500.0;
        for (int f = 0; f < 2; f++) {
            dsp_sample_t s;
            make_sample(t < r.t0[f] ? &w : &r, f, t, &s);
            assert_int_equal(dsp_pipeline_push(p, f, &s), 0);
        }
    }
    dsp_pipeline_finish(p);
    dsp_summary_t sum;
    dsp_pipeline_summary(p, &sum);
    dsp_pipeline_free(&p);
    assert_true(sum.n_walking >= 90 && sum.n_running >= 150);
    assert_int_equal(sum.main.mode, DSP_MODE_RUN);
    assert_int_equal(sum.main.foot[0].n + sum.main.foot[1].n, sum.n_running);
    assert_true(fabs(sum.cadence_spm - 120.0 / 0.7) < 0.5);
    /* the switch must not merge the last walking and first running stride (the walking swing
     * peak is confirmed by the contact and stance after it, before the deeper running one) */
    assert_true(fabs(sum.walking.cadence_events_spm - 120.0 / 1.1) < 0.2);
    assert_true(sum.walking.foot[0].contact_cv_pct < 1.0);
    for (int f = 0; f < 2; f++)
        assert_true(sum.walking.foot[f].stride_s < 1.11 && sum.running.foot[f].stride_s < 0.71);
    assert_true(fabs(sum.running.foot[0].contact_s - 0.25) < 0.002);
}

/* Rejected samples, dropouts, saturation flags, bad settings. */
static void test_robustness(void **state)
{
    (void)state;
    dsp_settings_t bad = dsp_settings_default();
    bad.min_stride_hz = 3.0;
    assert_null(dsp_pipeline_new(&bad));
    dsp_settings_t set = dsp_settings_default();
    dsp_pipeline_t *p = dsp_pipeline_new(&set);
    synth_t sy = running(500.0);
    dsp_sample_t s;
    int sat_seen = 0, n = 0, traj_cut = 0;
    dsp_stride_t st;
    for (long i = 0; i < 60 * 500; i++) {
        double t = i / 500.0;
        if (t > 30.0 && t < 30.5)
            continue; /* dropout of both pods */
        for (int f = 0; f < 2; f++) {
            make_sample(&sy, f, t, &s);
            if (f == 0 && fabs(t - (sy.t0[0] + 40 * sy.T[0]) - 0.01) < 0.003)
                s.saturated = 1; /* clipped impact of the left stride starting at 29 s */
            assert_int_equal(dsp_pipeline_push(p, f, &s), 0);
        }
        while (dsp_pipeline_pop_stride(p, &st)) {
            n++;
            assert_true(st.t_next_ic < 30.0 || st.t_ic > 30.5);
            /* the trajectory runs to the next stance's still point: none across the dropout,
             * none over the clipped sample (it lies in the next stance of the stride before) */
            if (st.t_next_ic < 30.0 && st.t_next_ic + 0.6 * st.contact_s > 30.0) {
                assert_true(isnan(st.stride_length_m) && isnan(st.turn_deg));
            }
            if (st.foot == 0 && fabs(st.t_next_ic - (sy.t0[0] + 40 * sy.T[0])) < 0.01) {
                assert_true(isnan(st.stride_length_m) && isnan(st.speed_mps));
                assert_int_equal(st.turning, 0);
                traj_cut++;
            }
            if (st.saturated) {
                sat_seen++;
                assert_true(st.foot == 0 && fabs(st.t_ic - (sy.t0[0] + 40 * sy.T[0])) < 0.01);
                assert_int_equal(st.saturated, 1);
            }
        }
    }
    assert_int_equal(sat_seen, 1);
    assert_true(n > 140);
    assert_int_equal(traj_cut, 1);
    /* non-finite values and time going back are rejected without harm */
    make_sample(&sy, 0, 61.0, &s);
    s.gyr[1] = NAN;
    assert_true(dsp_pipeline_push(p, 0, &s) < 0);
    /* every channel, every non-finite kind; the largest finite values pass */
    const float nonfinite[3] = {NAN, INFINITY, -INFINITY};
    for (int k = 0; k < 6; k++)
        for (int b = 0; b < 3; b++) {
            make_sample(&sy, 0, 61.0, &s);
            *(k < 3 ? &s.acc[k] : &s.gyr[k - 3]) = nonfinite[b];
            assert_true(dsp_pipeline_push(p, 0, &s) < 0);
        }
    make_sample(&sy, 0, 61.0, &s);
    for (int k = 0; k < 3; k++) {
        s.acc[k] = k % 2 ? -FLT_MAX : FLT_MAX;
        s.gyr[k] = k % 2 ? FLT_MAX : -FLT_MAX;
    }
    assert_int_equal(dsp_pipeline_push(p, 0, &s), 0);
    make_sample(&sy, 0, 10.0, &s);
    assert_true(dsp_pipeline_push(p, 0, &s) < 0);
    assert_true(dsp_pipeline_push(p, 2, &s) < 0);
    dsp_pipeline_free(&p);
    dsp_pipeline_free(&p); /* NULL-safe */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_running_symmetric), cmocka_unit_test(test_running_asymmetric),
        cmocka_unit_test(test_running_204hz),
        cmocka_unit_test(test_step_asymmetry_vs_clock),
        cmocka_unit_test(test_walking),
        cmocka_unit_test(test_standing),          cmocka_unit_test(test_one_foot),
        cmocka_unit_test(test_walk_then_run),     cmocka_unit_test(test_robustness),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
