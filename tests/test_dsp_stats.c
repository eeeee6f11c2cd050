/* test_dsp_stats.c - symmetry index, accumulators, window statistics. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include "dsp.h"
#include "dsp_stats.h"

static void test_symmetry_index(void **state)
{
    (void)state;
    /* CONTRACT.md: 100 * (L - R) / (0.5 * (L + R)), positive when left is larger */
    assert_true(fabs(dsp_symmetry_index(1.08, 1.0) - 100.0 * 0.08 / 1.04) < 1e-12);
    assert_true(fabs(dsp_symmetry_index(0.25, 0.27) + 100.0 * 0.02 / 0.26) < 1e-12);
    assert_true(dsp_symmetry_index(0.3, 0.3) == 0.0);
    assert_true(isnan(dsp_symmetry_index(NAN, 1.0)));
    assert_true(isnan(dsp_symmetry_index(1.0, NAN)));
    assert_true(isnan(dsp_symmetry_index(1.0, -1.0)));
}

static dsp_stride_t stride(int foot, double t_ic, double contact, double stride_s, double step)
{
    dsp_stride_t s = {0};
    s.foot = (uint8_t)foot;
    s.mode = DSP_MODE_RUN;
    s.t_ic = t_ic;
    s.t_to = t_ic + contact;
    s.t_next_ic = t_ic + stride_s;
    s.stride_s = stride_s;
    s.contact_s = contact;
    s.swing_s = stride_s - contact;
    s.duty = contact / stride_s;
    s.step_s = step;
    s.flight_s = NAN;
    s.cadence_spm = 120.0 / stride_s;
    s.impact_g = 5.0;
    s.pushoff_dps = 600.0;
    return s;
}

static void test_acc_means_and_cv(void **state)
{
    (void)state;
    dsp_acc_t a = {0};
    dsp_stride_t s1 = stride(0, 0.0, 0.2, 0.7, 0.35);
    dsp_stride_t s2 = stride(0, 0.7, 0.3, 0.8, NAN);
    dsp_acc_add(&a, &s1);
    dsp_acc_add(&a, &s2);
    dsp_foot_stats_t f;
    dsp_acc_stats(&a, &f);
    assert_int_equal(f.n, 2);
    assert_true(fabs(f.contact_s - 0.25) < 1e-12);
    assert_true(fabs(f.stride_s - 0.75) < 1e-12);
    assert_true(fabs(f.step_s - 0.35) < 1e-12); /* NAN steps are left out */
    assert_true(isnan(f.flight_s));             /* no finite flight at all */
    /* sample sd of {0.2, 0.3} = 0.070711; CV = 28.284 % */
    assert_true(fabs(f.contact_cv_pct - 100.0 * sqrt(0.005) / 0.25) < 1e-9);
    dsp_acc_t b = {0};
    dsp_acc_stats(&b, &f);
    assert_int_equal(f.n, 0);
    assert_true(isnan(f.contact_s) && isnan(f.contact_cv_pct));
}

static void test_window_fill(void **state)
{
    (void)state;
    dsp_acc_t acc[2] = {{0}, {0}};
    for (int i = 0; i < 10; i++) {
        dsp_stride_t l = stride(0, i * 0.7, 0.27, 0.7, 0.35);
        dsp_stride_t r = stride(1, i * 0.7 + 0.35, 0.25, 0.7, 0.35);
        dsp_acc_add(&acc[0], &l);
        dsp_acc_add(&acc[1], &r);
    }
    dsp_window_t w = {0};
    dsp_window_fill(&w, acc, 20, 0);
    assert_int_equal(w.mode, DSP_MODE_RUN);
    assert_true(fabs(w.cadence_events_spm - 120.0 / 0.7) < 1e-9);
    assert_true(fabs(w.contact_si_pct - 100.0 * 0.02 / 0.26) < 1e-9);
    assert_true(fabs(w.stride_si_pct) < 1e-9);
    assert_true(fabs(w.step_si_pct) < 1e-9);
    /* one foot only: per-foot figures, no symmetry */
    dsp_acc_t one[2] = {acc[0], {0}};
    dsp_window_fill(&w, one, 0, 10);
    assert_int_equal(w.mode, DSP_MODE_WALK);
    assert_true(isnan(w.contact_si_pct) && isnan(w.stride_si_pct));
    assert_true(fabs(w.foot[0].contact_s - 0.27) < 1e-12);
    assert_true(fabs(w.cadence_events_spm - 120.0 / 0.7) < 1e-9);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_symmetry_index),
        cmocka_unit_test(test_acc_means_and_cv),
        cmocka_unit_test(test_window_fill),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
