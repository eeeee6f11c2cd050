/* test_trajspeed.c - the cheaper paths of the trajectory and the stride line (issue 3, METRICS.md
 * "Speed") give the same bits as the general ones: dsp_traj_run on one run of samples placed at
 * every position of a ring (no wrap: the block sums' fast path; a wrap inside any block: the
 * general path), with full and short last blocks; feed_stride_write's rounding to the decimal at
 * exact halves and carries (the inline llround). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "dsp_traj.h"
#include "feed.h"

#define NS 257 /* samples of the run */

/* a deterministic, irregular run: rest, a swing with large rates (the libm branch at 50 Hz
 * blocks of 20 samples), rest */
static void make_run(dsp_ev_sample_t *s, size_t n, double gyr_scale)
{
    uint32_t x = 12345u;
    for (size_t i = 0; i < n; i++) {
        double u = (double)i / (double)(n - 1), w = sin(M_PI * u);
        s[i].t = (double)i / 1000.0;
        for (int j = 0; j < 3; j++) {
            x = x * 1664525u + 1013904223u;
            double r = (double)(x >> 8) / 16777216.0 - 0.5;
            s[i].acc[j] = (float)((j == 2 ? 9.80665 : 0.0) + 20.0 * w * w * r);
            s[i].gyr[j] = (float)(gyr_scale * w * w * (r + 0.1 * (double)j));
        }
    }
}

static void ring_positions(double gyr_scale)
{
    static dsp_ev_sample_t run[NS], ring[NS + 40];
    make_run(run, NS, gyr_scale);
    const double f0[3] = {0.3, -0.2, 9.7};
    const size_t cap = NS + 40;
    const unsigned ds[] = {1, 3, 10, 20, 256, 300};
    for (size_t k = 0; k < sizeof ds / sizeof ds[0]; k++) {
        dsp_traj_t ref;
        /* at slot 0: no wrap */
        memset(ring, 0, sizeof ring);
        memcpy(ring, run, sizeof run);
        assert_int_equal(dsp_traj_run(ring, cap, 0, NS, f0, 1000.0, ds[k], &ref), 0);
        assert_true(isfinite(ref.length_m) && isfinite(ref.turn_deg));
        for (size_t s0 = 1; s0 < cap; s0++) {
            for (size_t i = 0; i < cap; i++) /* outside the run: NaN, must not be read */
                for (int j = 0; j < 3; j++)
                    ring[i].acc[j] = ring[i].gyr[j] = NAN;
            for (size_t i = 0; i < NS; i++)
                ring[(s0 + i) % cap] = run[i];
            dsp_traj_t o;
            assert_int_equal(dsp_traj_run(ring, cap, s0, NS, f0, 1000.0, ds[k], &o), 0);
            if (memcmp(&o, &ref, sizeof o) != 0)
                fail_msg("d %u, run at slot %zu of %zu: length %.17g turn %.17g clearance %.17g,"
                         " at slot 0: %.17g %.17g %.17g", ds[k], s0, cap, o.length_m, o.turn_deg,
                         o.clearance_m, ref.length_m, ref.turn_deg, ref.clearance_m);
        }
    }
}

static void test_ring_positions(void **state)
{
    (void)state;
    ring_positions(300.0);  /* |a| <= 0.5 rad per half block: the series */
    ring_positions(9000.0); /* beyond: cosf / sinf */
}

/* the number after key in line, as written */
static void expect_num(const char *line, const char *key, const char *want)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *p = strstr(line, pat);
    if (!p)
        fail_msg("no %s in %s", key, line);
    p += strlen(pat);
    size_t n = strcspn(p, ",}");
    if (n != strlen(want) || strncmp(p, want, n) != 0)
        fail_msg("%s: got %.*s, want %s", key, (int)n, p, want);
}

static void test_line_rounding(void **state)
{
    (void)state;
    dsp_stride_t s;
    memset(&s, 0, sizeof s);
    s.t_ic = 1.00000005;            /* not exact: the nearest double is below or above the half */
    s.stride_s = 2.00000015;
    s.stride_length_m = 1.03125;     /* 312.5 ten-thousandths: a half, away from zero */
    s.speed_mps = -2.65625;          /* -6562.5: away from zero, negative */
    s.turn_deg = 1.99999;            /* 9999.9: carries into the integer part */
    s.clearance_m = 0.00004;         /* 0.4: rounds to 0 */
    s.pronation_deg = 0.00005;       /* the double just below 0.00005 -> 0.0 or above -> 0.0001 */
    s.duty = 0.4999995;              /* 6 decimals */
    char line[FEED_STRIDE_LINE_MAX];
    int n = feed_stride_write(&s, line, sizeof line);
    assert_true(n > 0);
    char want[40];
    expect_num(line, "stride_length_m", "1.0313");
    expect_num(line, "speed_mps", "-2.6563");
    expect_num(line, "turn_deg", "2.0");
    expect_num(line, "clearance_m", "0.0");
    /* the cases whose half is not exact: as llround does on the scaled fraction */
    snprintf(want, sizeof want, "%s", llround((0.00005 - floor(0.00005)) * 1e4) ? "0.0001" : "0.0");
    expect_num(line, "pronation_deg", want);
    long long f = llround((1.00000005 - 1.0) * 1e7);
    snprintf(want, sizeof want, "1.%07lld", f);
    while (strlen(want) > 3 && want[strlen(want) - 1] == '0')
        want[strlen(want) - 1] = '\0';
    expect_num(line, "t_ic", want);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ring_positions),
        cmocka_unit_test(test_line_rounding),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
