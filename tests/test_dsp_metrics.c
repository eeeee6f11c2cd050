/* test_dsp_metrics.c - per-stride stance metrics on synthetic strides with known answers:
 * strike angle and type, braking, pronation excursion and velocity (METRICS.md section 3),
 * at 100, 204.8, 500 and 1000 Hz, both feet (mirrored roll signs). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "dsp.h"

#define G0 9.80665
#define D2R (M_PI / 180.0)
#define TS 0.05   /* slap: toe-up strike angle S rotated away as a half sine */
#define TPR 0.08  /* roll reaches the excursion E after this (1 - cos ramp), then holds */
#define TB 0.03   /* braking pulse length */
#define FALL 0.04 /* push-off fall as in test_dsp_pipeline.c: toe-off at 0.85 of the peak */
#define RISE 0.12

/* Per stride from IC (tau = 0): slap, still foot-flat, push-off hump and fall (toe-off at C),
 * swing (negative half sine back to 0 at the next IC). Pitch th (deg, toe down positive) is
 * -S at IC and 0 from the end of the slap until the push-off; acc_x = -g sin(th) - B g pulse;
 * acc_z = g cos(th). Roll (eversion) rises to E by TPR, holds, returns to 0 during push-off. */
typedef struct synth {
    double rate, T, C, t0[2];
    double dC; /* contact time change per second of session (fatigue), s/s */
    double S[2], E[2], B[2], Ap, Aw;
    double noise;
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

static void make_sample(synth_t *sy, int f, double t, dsp_sample_t *s)
{
    memset(s, 0, sizeof *s);
    s->t = t;
    double gy = 0.0, gx = 0.0, th = 0.0, alin = 0.0;
    double sgn = f == DSP_LEFT ? 1.0 : -1.0;
    if (t >= sy->t0[f]) {
        double tau = fmod(t - sy->t0[f], sy->T), C = sy->C + sy->dC * t;
        double tp = C - 0.15 * FALL, tz = C + 0.85 * FALL, hr = tp - RISE;
        if (tau < TS) {
            gy = sy->S[f] * M_PI / (2.0 * TS) * sin(M_PI * tau / TS);
            th = -sy->S[f] * 0.5 * (1.0 + cos(M_PI * tau / TS));
        } else if (tau < hr) {
            gy = 0.0;
        } else if (tau < tp) {
            gy = sy->Ap * 0.5 * (1.0 - cos(M_PI * (tau - hr) / RISE));
        } else if (tau < tz) {
            gy = sy->Ap * (1.0 - (tau - tp) / FALL);
        } else {
            gy = -sy->Aw * sin(M_PI * (tau - tz) / (sy->T - tz));
        }
        if (tau < TPR)
            gx = sgn * sy->E[f] * M_PI / (2.0 * TPR) * sin(M_PI * tau / TPR);
        else if (tau >= hr && tau < C)
            gx = -sgn * sy->E[f] * M_PI / (2.0 * (C - hr)) * sin(M_PI * (tau - hr) / (C - hr));
        if (tau < TB)
            alin = -sy->B[f] * G0 * sin(M_PI * tau / TB);
        if (tau >= hr)
            th = 0.0; /* acc after the braking window is not used by the metrics */
    }
    s->gyr[0] = (float)(gx + sy->noise * gauss(&sy->rng));
    s->gyr[1] = (float)(gy + sy->noise * gauss(&sy->rng));
    s->gyr[2] = (float)(sy->noise * gauss(&sy->rng));
    s->acc[0] = (float)(-G0 * sin(th * D2R) + alin + 0.02 * gauss(&sy->rng));
    s->acc[1] = (float)(0.02 * gauss(&sy->rng));
    s->acc[2] = (float)(G0 * cos(th * D2R) + 0.02 * gauss(&sy->rng));
}

static synth_t base(double rate)
{
    synth_t sy = {0};
    sy.rate = rate;
    sy.T = 0.7;
    sy.C = 0.28;
    sy.t0[0] = 1.0;
    sy.t0[1] = 1.35;
    sy.Ap = 700.0;
    sy.Aw = 900.0;
    sy.noise = 0.5;
    sy.rng = 0x243f6a8885a308d3ull;
    for (int f = 0; f < 2; f++) {
        sy.S[f] = 15.0;
        sy.E[f] = 8.0;
        sy.B[f] = 1.5;
    }
    return sy;
}

/* Streams 40 s through a pipeline and checks every stride after t = 8 s against the truth. */
static int check(synth_t *sy, double tol_angle, double tol_rel)
{
    dsp_settings_t set = dsp_settings_default();
    dsp_pipeline_t *p = dsp_pipeline_new(&set);
    assert_non_null(p);
    long n = (long)(40.0 * sy->rate);
    int checked = 0;
    dsp_stride_t st;
    for (long i = 0; i <= n; i++) {
        int last = i == n;
        if (!last) {
            for (int f = 0; f < 2; f++) {
                dsp_sample_t s;
                make_sample(sy, f, i / sy->rate, &s);
                assert_int_equal(dsp_pipeline_push(p, f, &s), 0);
            }
        } else {
            dsp_pipeline_finish(p);
        }
        while (dsp_pipeline_pop_stride(p, &st)) {
            if (st.t_ic < 8.0)
                continue;
            int f = st.foot;
            double vel = sy->E[f] * M_PI / (2.0 * TPR);
            /* the 20 ms mean of a sine peak: sin(x)/x, x = pi * 0.01 / TPR */
            double x = M_PI * 0.01 / TPR;
            vel *= sin(x) / x;
            assert_true(fabs(st.strike_angle_deg - sy->S[f]) <= tol_angle);
            assert_int_equal(st.strike, dsp_strike_type(sy->S[f]));
            assert_true(fabs(st.pronation_deg - sy->E[f]) <= tol_angle);
            assert_true(fabs(st.pronation_vel_dps - vel) <= tol_rel * vel);
            if (getenv("METRICS_DEBUG"))
                print_message("rate %g foot %d S %.2f E %.2f V %.1f/%.1f B %.3f\n", sy->rate, f,
                              st.strike_angle_deg, st.pronation_deg, st.pronation_vel_dps, vel,
                              st.braking_g);
            assert_true(fabs(st.braking_g - sy->B[f]) <= tol_rel * sy->B[f] + 0.02);
            /* foot flat lies between the slap and the heel rise */
            double tau = st.t_still - st.t_ic;
            assert_true(tau > TS && tau < sy->C - 0.15 * FALL - RISE);
            checked++;
        }
    }
    dsp_pipeline_free(&p);
    return checked;
}

static void test_rearfoot_500(void **state)
{
    (void)state;
    synth_t sy = base(500.0);
    assert_true(check(&sy, 0.3, 0.03) >= 85);
}

static void test_midfoot_asymmetric_204(void **state)
{
    (void)state;
    synth_t sy = base(204.8);
    sy.S[0] = 4.0;
    sy.S[1] = 12.0;
    sy.E[0] = 6.0;
    sy.E[1] = 12.0;
    sy.B[0] = 1.0;
    sy.B[1] = 2.0;
    assert_true(check(&sy, 0.5, 0.05) >= 85);
}

static void test_rates(void **state)
{
    (void)state;
    synth_t lo = base(100.0);
    assert_true(check(&lo, 1.0, 0.10) >= 85);
    synth_t hi = base(1000.0);
    assert_true(check(&hi, 0.3, 0.03) >= 85);
}

/* Contact time growing by 6 ms per 10 minutes over 15 minutes: the summary's drift, thirds and the
 * window's medians. */
static void test_drift_and_medians(void **state)
{
    (void)state;
    synth_t sy = base(200.0);
    sy.dC = 0.006 / 600.0;
    dsp_settings_t set = dsp_settings_default();
    dsp_pipeline_t *p = dsp_pipeline_new(&set);
    assert_non_null(p);
    long n = (long)(900.0 * sy.rate);
    dsp_stride_t st;
    for (long i = 0; i < n; i++) {
        for (int f = 0; f < 2; f++) {
            dsp_sample_t s;
            make_sample(&sy, f, i / sy.rate, &s);
            assert_int_equal(dsp_pipeline_push(p, f, &s), 0);
        }
        while (dsp_pipeline_pop_stride(p, &st))
            ;
    }
    dsp_window_t w;
    dsp_pipeline_window(p, &w);
    dsp_pipeline_finish(p);
    while (dsp_pipeline_pop_stride(p, &st))
        ;
    dsp_summary_t sum;
    dsp_pipeline_summary(p, &sum);
    dsp_pipeline_free(&p);
    /* window: the last 30 s, contact ~ C(885 s); medians equal means for a slow drift */
    double c_end = sy.C + sy.dC * 885.0;
    for (int f = 0; f < 2; f++) {
        assert_true(fabs(w.foot[f].median[DSP_M_CONTACT] - c_end) < 0.002);
        assert_true(fabs(w.foot[f].median[DSP_M_CONTACT] - w.foot[f].mean[DSP_M_CONTACT]) < 0.001);
        assert_true(fabs(w.foot[f].median[DSP_M_STRIKE_ANGLE] - 15.0) < 0.5);
        assert_true(isnan(sum.main.foot[f].median[DSP_M_CONTACT]));
        assert_true(w.foot[f].cv_pct[DSP_M_STRIDE] < 0.5);
    }
    assert_true(fabs(w.si_pct[DSP_M_CONTACT]) < 0.5);
    assert_true(fabs(sum.drift_per_10min[DSP_M_CONTACT] - 0.006) < 0.0006);
    assert_true(fabs(sum.drift_per_10min[DSP_M_CADENCE]) < 0.2);
    assert_true(fabs(sum.drift_contact_si_per_10min) < 0.3);
    assert_true(sum.last_third.foot[0].contact_s > sum.first_third.foot[0].contact_s + 0.003);
    assert_true(sum.first_third.foot[0].n > 350 && sum.last_third.foot[0].n > 350);
    /* shared clock: the estimate is ~0 */
    assert_true(fabs(sum.clock_offset_s) < 0.002);
}

/* Right contacts at 0.4 instead of 0.5 of the left stride: spectral phase 144 deg on one clock;
 * with clock_sync the 70 ms are taken for a clock offset and the phase reads 180 deg. */
static void test_phase_and_clock(void **state)
{
    (void)state;
    for (int sync = 0; sync < 2; sync++) {
        synth_t sy = base(500.0);
        sy.t0[1] = sy.t0[0] + 0.4 * sy.T;
        dsp_settings_t set = dsp_settings_default();
        set.clock_sync = sync;
        dsp_pipeline_t *p = dsp_pipeline_new(&set);
        assert_non_null(p);
        long n = (long)(120.0 * sy.rate);
        dsp_stride_t st;
        for (long i = 0; i < n; i++) {
            for (int f = 0; f < 2; f++) {
                dsp_sample_t s;
                make_sample(&sy, f, i / sy.rate, &s);
                assert_int_equal(dsp_pipeline_push(p, f, &s), 0);
            }
            while (dsp_pipeline_pop_stride(p, &st))
                if (st.t_ic > 10.0 && st.foot == DSP_RIGHT && isfinite(st.step_s))
                    assert_true(fabs(st.step_s - (sync ? 0.35 : 0.28)) < 0.003);
        }
        dsp_window_t w;
        dsp_pipeline_window(p, &w);
        dsp_pipeline_finish(p);
        while (dsp_pipeline_pop_stride(p, &st))
            ;
        dsp_summary_t sum;
        dsp_pipeline_summary(p, &sum);
        dsp_pipeline_free(&p);
        double want = sync ? 180.0 : 144.0;
        assert_true(fabs(w.phase_offset_deg - want) < 1.0);
        assert_true(fabs(sum.main.phase_offset_deg - want) < 1.0);
        assert_true(w.spectral_similarity > 0.99 && w.spectral_similarity <= 1.0 + 1e-9);
        assert_true(sum.main.spectral_similarity > 0.99);
        if (sync)
            assert_true(fabs(sum.clock_offset_s - (-0.07)) < 0.002);
        else
            assert_true(sum.clock_offset_s == 0.0);
    }
}

static void test_strike_type(void **state)
{
    (void)state;
    assert_int_equal(dsp_strike_type(NAN), DSP_STRIKE_UNKNOWN);
    assert_int_equal(dsp_strike_type(20.0), DSP_STRIKE_REAR);
    assert_int_equal(dsp_strike_type(8.01), DSP_STRIKE_REAR);
    assert_int_equal(dsp_strike_type(8.0), DSP_STRIKE_MID);
    assert_int_equal(dsp_strike_type(0.0), DSP_STRIKE_MID);
    assert_int_equal(dsp_strike_type(-1.6), DSP_STRIKE_MID);
    assert_int_equal(dsp_strike_type(-1.61), DSP_STRIKE_FORE);
    assert_int_equal(dsp_strike_type(-10.0), DSP_STRIKE_FORE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_strike_type),
        cmocka_unit_test(test_rearfoot_500),
        cmocka_unit_test(test_midfoot_asymmetric_204),
        cmocka_unit_test(test_rates),
        cmocka_unit_test(test_drift_and_medians),
        cmocka_unit_test(test_phase_and_clock),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
