/* test_latency.c - daemon/latency.c: histogram quantiles (within one bin width, never above the
 * maximum), JSON figures, and the per-session tracking of batch arrivals for both latencies. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <math.h>
#include <string.h>
#include <time.h>
#include "latency.h"

#define BIN_RATIO 1.06               /* 10^(1/40) = 1.059 */

static void test_quantiles(void **state)
{
    (void)state;
    latency_hist_t h;
    memset(&h, 0, sizeof h);
    assert_true(isnan(latency_hist_quantile(&h, 0.5)));
    /* 1..1000 ms: p50 = 500, p99 = 990, max = 1000 */
    for (int i = 1; i <= 1000; i++)
        latency_hist_add(&h, (double)i);
    assert_true(h.n == 1000);
    double p50 = latency_hist_quantile(&h, 0.50), p99 = latency_hist_quantile(&h, 0.99);
    assert_true(p50 >= 500.0 && p50 <= 500.0 * BIN_RATIO);
    assert_true(p99 >= 990.0 && p99 <= 1000.0);
    assert_true(latency_hist_quantile(&h, 1.0) == 1000.0);
    assert_true(h.max_ms == 1000.0);

    /* tiny, zero, negative, NAN and huge values land in the end bins */
    latency_hist_t e;
    memset(&e, 0, sizeof e);
    latency_hist_add(&e, 0.0);
    latency_hist_add(&e, -3.0);
    latency_hist_add(&e, NAN);
    latency_hist_add(&e, 1e-6);
    assert_true(latency_hist_quantile(&e, 1.0) == 1e-6);
    latency_hist_add(&e, 1e9);
    assert_true(latency_hist_quantile(&e, 1.0) == 1e9);
    assert_true(latency_hist_quantile(&e, 0.5) <= 0.001);
    assert_true(e.bins[LATENCY_BINS - 1] == 1);

    json_t *o = latency_hist_json(&h);
    assert_int_equal(json_integer_value(json_object_get(o, "n")), 1000);
    assert_true(fabs(json_real_value(json_object_get(o, "max")) - 1000.0) < 1e-9);
    assert_true(json_real_value(json_object_get(o, "p99")) >= 990.0);
    json_decref(o);
    memset(&h, 0, sizeof h);
    o = latency_hist_json(&h);
    assert_true(json_is_null(json_object_get(o, "p50")));
    assert_int_equal(json_integer_value(json_object_get(o, "n")), 0);
    json_decref(o);
}

static void sleep_ms(int ms)
{
    struct timespec ts = {0, ms * 1000000L};
    nanosleep(&ts, NULL);
}

static void test_track(void **state)
{
    (void)state;
    latency_stats_t st;
    memset(&st, 0, sizeof st);
    latency_track_t t;
    memset(&t, 0, sizeof t);
    /* outside a batch nothing is measured (end-of-session strides) */
    latency_track_stride(&t, &st, 0, 0.0);
    assert_true(st.processing.n == 0 && st.toe_off.n == 0 && st.toe_off_unknown == 0);

    /* batch 1 brings left samples up to t = 1.0 (with the toe-off at 0.9) */
    latency_track_begin(&t);
    latency_track_samples(&t, 0, 1.0);
    latency_track_end(&t);
    sleep_ms(30);
    /* batch 2 brings them to 2.0 and completes the stride */
    latency_track_begin(&t);
    latency_track_samples(&t, 0, 2.0);
    latency_track_stride(&t, &st, 0, 0.9);
    latency_track_end(&t);
    assert_true(st.processing.n == 1 && st.toe_off.n == 1);
    /* processing: batch 2 only (well under the 30 ms sleep); toe-off: since batch 1 */
    assert_true(st.processing.max_ms < st.toe_off.max_ms);
    assert_true(st.toe_off.max_ms >= 29.0);

    /* a toe-off older than every remembered batch is counted as unknown */
    for (int i = 0; i < LATENCY_RING + 5; i++) {
        latency_track_begin(&t);
        latency_track_samples(&t, 1, 10.0 + i);
        latency_track_end(&t);
    }
    latency_track_begin(&t);
    latency_track_stride(&t, &st, 1, 5.0);
    latency_track_stride(&t, &st, 1, 10.0 + LATENCY_RING); /* still remembered */
    latency_track_stride(&t, NULL, 1, 0.0);                 /* no stats: ignored */
    latency_track_end(&t);
    assert_true(st.toe_off_unknown == 1);
    assert_true(st.toe_off.n == 2);
    assert_true(st.processing.n == 3);

    json_t *o = latency_stats_json(&st);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(o, "toe_off"), "unknown")),
                     1);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(o, "processing"), "n")),
                     3);
    json_decref(o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_quantiles),
        cmocka_unit_test(test_track),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
