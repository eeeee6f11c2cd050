/* test_dsp_spectrum.c - the spectral stride-frequency estimator on signals with known answers. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include "dsp_spectrum.h"

#define FS 128.0
#define N 1280 /* 10 s */

static float buf[N];

static int setup(void **state)
{
    static dsp_spec_t sp;
    if (dsp_spec_init(&sp, N) != 0)
        return -1;
    *state = &sp;
    return 0;
}

static int teardown(void **state)
{
    dsp_spec_release(*state);
    return 0;
}

/* Deterministic Gaussian noise (xorshift + Box-Muller), state held by the caller. */
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

/* Pure tones at and between bins: the interpolated peak is within 0.005 Hz (bins are 0.1 Hz
 * for 10 s unpadded). */
static void test_pure_tone_sub_bin(void **state)
{
    const double f[] = {0.55, 0.9163, 1.0, 1.3333, 1.4271, 2.05};
    for (size_t k = 0; k < sizeof f / sizeof f[0]; k++) {
        for (int i = 0; i < N; i++)
            buf[i] = (float)(200.0 * sin(2.0 * M_PI * f[k] * i / FS + 0.3 * k) + 12.0);
        double strength;
        double e = dsp_spec_fundamental(*state, buf, N, FS, 0.4, 2.2, 10.0, &strength);
        assert_true(fabs(e - f[k]) < 0.005);
        assert_true(strength > 0.9);
    }
}

/* A stride-like signal whose 2nd harmonic is twice the fundamental's amplitude: the estimate is
 * the fundamental, not the 2nd harmonic. Also with the 3rd harmonic dominant. */
static void test_harmonic_rich(void **state)
{
    const double f0 = 1.37;
    for (int i = 0; i < N; i++) {
        double t = i / FS;
        buf[i] = (float)(100.0 * sin(2 * M_PI * f0 * t) + 200.0 * sin(2 * M_PI * 2 * f0 * t + 1.0) +
                         80.0 * sin(2 * M_PI * 3 * f0 * t + 2.0));
    }
    double e = dsp_spec_fundamental(*state, buf, N, FS, 0.4, 2.2, 10.0, NULL);
    assert_true(fabs(e - f0) < 0.005);

    const double f1 = 0.62; /* 3rd harmonic strongest, 1.86 Hz inside the band */
    for (int i = 0; i < N; i++) {
        double t = i / FS;
        buf[i] = (float)(60.0 * sin(2 * M_PI * f1 * t) + 90.0 * sin(2 * M_PI * 2 * f1 * t) +
                         250.0 * sin(2 * M_PI * 3 * f1 * t + 0.5));
    }
    e = dsp_spec_fundamental(*state, buf, N, FS, 0.4, 2.2, 10.0, NULL);
    assert_true(fabs(e - f1) < 0.005);
}

/* A pure tone above the band's lower half has no sub-harmonic: it stays where it is. */
static void test_no_false_subharmonic(void **state)
{
    uint64_t rng = 12345;
    for (int i = 0; i < N; i++)
        buf[i] = (float)(300.0 * sin(2 * M_PI * 1.6 * i / FS) + 2.0 * gauss(&rng));
    double e = dsp_spec_fundamental(*state, buf, N, FS, 0.4, 2.2, 10.0, NULL);
    assert_true(fabs(e - 1.6) < 0.005);
}

/* Standing still (small noise): NAN. Large white noise: weak harmonic share. */
static void test_noise(void **state)
{
    uint64_t rng = 99;
    for (int i = 0; i < N; i++)
        buf[i] = (float)(0.5 * gauss(&rng));
    assert_true(isnan(dsp_spec_fundamental(*state, buf, N, FS, 0.4, 2.2, 10.0, NULL)));
    for (int trial = 0; trial < 5; trial++) {
        for (int i = 0; i < N; i++)
            buf[i] = (float)(50.0 * gauss(&rng));
        double strength = 1.0;
        dsp_spec_fundamental(*state, buf, N, FS, 0.4, 2.2, 10.0, &strength);
        assert_true(strength < 0.45);
    }
}

/* Short inputs: fewer than two periods of the lowest frequency narrow the band; tiny: NAN. */
static void test_short_input(void **state)
{
    for (int i = 0; i < 320; i++) /* 2.5 s */
        buf[i] = (float)(100.0 * sin(2 * M_PI * 1.2 * i / FS));
    double e = dsp_spec_fundamental(*state, buf, 320, FS, 0.4, 2.2, 10.0, NULL);
    assert_true(fabs(e - 1.2) < 0.02);
    assert_true(isnan(dsp_spec_fundamental(*state, buf, 8, FS, 0.4, 2.2, 10.0, NULL)));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pure_tone_sub_bin),    cmocka_unit_test(test_harmonic_rich),
        cmocka_unit_test(test_no_false_subharmonic), cmocka_unit_test(test_noise),
        cmocka_unit_test(test_short_input),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
