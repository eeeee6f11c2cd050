/* test_feed.c - JSON feed objects (proto/feed.c): keys, NaN -> null, athlete optional,
 * summary focus list and disclaimer. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include <stdlib.h>
#include "feed.h"

static dsp_stride_t sample_stride(void)
{
    dsp_stride_t s;
    memset(&s, 0, sizeof s);
    s.foot = DSP_RIGHT;
    s.mode = DSP_MODE_RUN;
    s.saturated = 3;
    s.index = 7;
    s.t_ic = 12.345;
    s.t_to = 12.567;
    s.t_next_ic = 13.061;
    s.stride_s = 0.716;
    s.contact_s = 0.222;
    s.swing_s = 0.494;
    s.duty = 0.222 / 0.716;
    s.step_s = NAN;
    s.flight_s = 0.1;
    s.cadence_spm = 120.0 / 0.716;
    s.impact_g = 6.5;
    s.pushoff_dps = 650.0;
    s.swing_peak_dps = 900.0;
    s.stride_length_m = 2.3456;
    s.speed_mps = 2.3456 / 0.716;
    s.turn_deg = 24.5;
    s.clearance_m = NAN;
    s.turning = 1;
    return s;
}

static void test_stride(void **state)
{
    (void)state;
    dsp_stride_t s = sample_stride();
    json_t *o = feed_stride(NULL, &s);
    assert_non_null(o);
    assert_string_equal(json_string_value(json_object_get(o, "type")), "stride");
    assert_int_equal(json_integer_value(json_object_get(o, "v")), FEED_PROTO_VERSION);
    assert_null(json_object_get(o, "athlete"));
    assert_string_equal(json_string_value(json_object_get(o, "foot")), "R");
    assert_string_equal(json_string_value(json_object_get(o, "mode")), "run");
    assert_int_equal(json_integer_value(json_object_get(o, "index")), 7);
    assert_true(fabs(json_real_value(json_object_get(o, "t_ic")) - 12.345) < 1e-12);
    assert_true(json_is_null(json_object_get(o, "step_s")));
    assert_true(fabs(json_real_value(json_object_get(o, "flight_s")) - 0.1) < 1e-12);
    const char *keys[] = {"t_to", "t_next_ic",   "stride_s", "contact_s",   "swing_s",
                          "duty", "cadence_spm", "impact_g", "pushoff_dps", "swing_peak_dps"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        assert_true(json_is_real(json_object_get(o, keys[i])));
    /* issue 3 fields: a zero strike type is unknown (null) */
    assert_true(json_is_real(json_object_get(o, "braking_g")));
    assert_true(json_is_null(json_object_get(o, "strike")));
    assert_true(json_is_real(json_object_get(o, "pronation_vel_dps")));
    /* stride length, speed, turn (ZUPT): values, null when NAN, turning a boolean */
    assert_true(fabs(json_real_value(json_object_get(o, "stride_length_m")) - 2.3456) < 1e-12);
    assert_true(json_is_real(json_object_get(o, "speed_mps")));
    assert_true(fabs(json_real_value(json_object_get(o, "turn_deg")) - 24.5) < 1e-12);
    assert_true(json_is_null(json_object_get(o, "clearance_m")));
    assert_true(json_is_true(json_object_get(o, "turning")));
    json_t *sat = json_object_get(o, "saturated");
    assert_int_equal(json_array_size(sat), 2);
    char *txt = json_dumps(o, JSON_COMPACT);
    assert_non_null(txt);
    assert_null(strchr(txt, '\n'));
    assert_null(strstr(txt, "nan"));
    free(txt);
    json_decref(o);

    s.saturated = 0;
    o = feed_stride("alice", &s);
    assert_string_equal(json_string_value(json_object_get(o, "athlete")), "alice");
    assert_null(json_object_get(o, "saturated"));
    json_decref(o);
}

static void fill_window(dsp_window_t *w, int with_right)
{
    memset(w, 0, sizeof *w);
    w->t_start = 10.0;
    w->t_end = 40.0;
    w->mode = DSP_MODE_RUN;
    w->stride_hz_fft = 1.4;
    w->cadence_fft_spm = 168.0;
    w->cadence_events_spm = 170.0;
    w->foot[0].n = 40;
    w->foot[0].contact_s = 0.26;
    w->foot[0].stride_s = 0.7;
    w->foot[0].step_s = w->foot[0].swing_s = w->foot[0].flight_s = w->foot[0].duty = 0.3;
    w->foot[0].contact_cv_pct = 2.0;
    w->foot[0].impact_g = 5.0;
    w->foot[0].pushoff_dps = 600.0;
    dsp_foot_stats_t none = {.n = 0,
                             .stride_s = NAN,
                             .contact_s = NAN,
                             .step_s = NAN,
                             .swing_s = NAN,
                             .flight_s = NAN,
                             .duty = NAN,
                             .contact_cv_pct = NAN,
                             .impact_g = NAN,
                             .pushoff_dps = NAN};
    for (int m = 0; m < DSP_NMETRIC; m++) {
        w->foot[0].mean[m] = w->foot[0].median[m] = 1.0 + m;
        w->foot[0].cv_pct[m] = 2.0;
        none.mean[m] = none.median[m] = none.cv_pct[m] = NAN;
    }
    w->foot[1] = with_right ? w->foot[0] : none;
    w->contact_si_pct = with_right ? 0.0 : NAN;
    w->stride_si_pct = with_right ? 0.0 : NAN;
    w->step_si_pct = with_right ? 0.0 : NAN;
    for (int m = 0; m < DSP_NMETRIC; m++)
        w->si_pct[m] = with_right ? 0.0 : NAN;
    w->phase_offset_deg = w->spectral_similarity = NAN;
}

static void test_window(void **state)
{
    (void)state;
    dsp_window_t w;
    fill_window(&w, 0);
    json_t *o = feed_window("bob", &w);
    assert_non_null(o);
    assert_string_equal(json_string_value(json_object_get(o, "type")), "window");
    assert_string_equal(json_string_value(json_object_get(o, "athlete")), "bob");
    assert_true(fabs(json_real_value(json_object_get(o, "cadence_spm")) - 170.0) < 1e-12);
    json_t *sym = json_object_get(o, "symmetry");
    assert_true(json_is_null(json_object_get(sym, "contact_si_pct")));
    json_t *r = json_object_get(o, "R");
    assert_int_equal(json_integer_value(json_object_get(r, "n")), 0);
    assert_true(json_is_null(json_object_get(r, "contact_s")));
    json_t *l = json_object_get(o, "L");
    assert_true(fabs(json_real_value(json_object_get(l, "contact_s")) - 0.26) < 1e-12);
    /* issue 3: per-metric statistics, symmetry of every metric, spectral fields, flag */
    json_t *bm = json_object_get(json_object_get(l, "by_metric"), "pronation_deg");
    assert_true(fabs(json_real_value(json_object_get(bm, "mean")) - (1.0 + DSP_M_PRONATION)) <
                1e-12);
    assert_true(fabs(json_real_value(json_object_get(bm, "cv_pct")) - 2.0) < 1e-12);
    assert_int_equal(json_object_size(json_object_get(l, "by_metric")), DSP_NMETRIC);
    assert_true(json_is_null(
        json_object_get(json_object_get(json_object_get(r, "by_metric"), "braking_g"), "median")));
    assert_true(json_is_null(json_object_get(json_object_get(sym, "by_metric"), "contact_s")));
    assert_true(json_is_null(json_object_get(sym, "phase_offset_deg")));
    assert_true(json_is_false(json_object_get(o, "cadence_disagree")));
    json_decref(o);
    w.phase_offset_deg = 181.5;
    w.cadence_disagree = 1;
    o = feed_window(NULL, &w);
    sym = json_object_get(o, "symmetry");
    assert_true(fabs(json_real_value(json_object_get(sym, "phase_offset_deg")) - 181.5) < 1e-12);
    assert_true(json_is_true(json_object_get(o, "cadence_disagree")));
    json_decref(o);
}

static void test_summary(void **state)
{
    (void)state;
    dsp_summary_t s;
    memset(&s, 0, sizeof s);
    s.duration_s = 600.0;
    s.n_strides[0] = 420;
    s.n_strides[1] = 421;
    s.n_running = 841;
    fill_window(&s.main, 1);
    s.running = s.main;
    fill_window(&s.walking, 0);
    s.cadence_spm = 170.0;
    s.n_turning = 12;
    fill_window(&s.straight, 1);
    s.straight.foot[0].n = 200;
    json_t *o = feed_summary(NULL, &s);
    assert_non_null(o);
    assert_string_equal(json_string_value(json_object_get(o, "type")), "summary");
    assert_null(json_object_get(o, "athlete"));
    assert_true(fabs(json_real_value(json_object_get(o, "cadence_spm")) - 170.0) < 1e-12);
    json_t *focus = json_object_get(o, "focus");
    assert_true(json_is_array(focus));
    assert_int_equal(json_array_size(focus), 0);
    const char *d = json_string_value(json_object_get(o, "disclaimer"));
    assert_non_null(d);
    assert_non_null(strstr(d, "not"));
    json_t *sym = json_object_get(o, "symmetry");
    assert_true(json_is_real(json_object_get(sym, "contact_si_pct")));
    assert_true(json_is_real(json_object_get(sym, "step_si_pct")));
    json_t *n = json_object_get(o, "n_strides");
    assert_int_equal(json_integer_value(json_object_get(n, "L")), 420);
    assert_int_equal(json_integer_value(json_object_get(n, "R")), 421);
    assert_non_null(json_object_get(o, "running"));
    assert_non_null(json_object_get(o, "walking"));
    /* turn segmentation: the count and `main` without the turning strides */
    assert_int_equal(json_integer_value(json_object_get(o, "n_turning")), 12);
    assert_int_equal(json_integer_value(json_object_get(n, "turning")), 12);
    json_t *st = json_object_get(o, "straight");
    assert_true(json_is_object(st));
    assert_int_equal(json_integer_value(json_object_get(json_object_get(st, "L"), "n")), 200);
    json_decref(o);
    o = feed_summary("carol", &s);
    assert_string_equal(json_string_value(json_object_get(o, "athlete")), "carol");
    json_decref(o);
}

static void test_names(void **state)
{
    (void)state;
    assert_string_equal(feed_foot_name(DSP_LEFT), "L");
    assert_string_equal(feed_foot_name(DSP_RIGHT), "R");
    assert_string_equal(feed_mode_name(DSP_MODE_WALK), "walk");
    assert_string_equal(feed_mode_name(DSP_MODE_RUN), "run");
    assert_string_equal(feed_mode_name(DSP_MODE_UNKNOWN), "unknown");
}

/* Decimals feed_stride_write promises per key (FEEDS.md). */
static int stride_decimals(const char *key)
{
    if (!strcmp(key, "duty"))
        return 6;
    if (!strcmp(key, "cadence_spm"))
        return 4;
    if (!strcmp(key, "impact_g") || !strcmp(key, "braking_g"))
        return 5;
    if (strstr(key, "_dps") || strstr(key, "_deg"))
        return 4;
    if (!strcmp(key, "stride_length_m") || !strcmp(key, "speed_mps") ||
        !strcmp(key, "clearance_m"))
        return 4;
    return 7; /* seconds */
}

/* feed_stride_write's line parses to feed_stride's object: same keys in the same order, same
 * strings, nulls and integers, reals within half a unit of the last decimal. */
static void check_stride_line(const dsp_stride_t *s)
{
    char line[FEED_STRIDE_LINE_MAX];
    int n = feed_stride_write(s, line, sizeof line);
    assert_true(n > 0 && (size_t)n == strlen(line) && line[n - 1] == '\n');
    assert_null(memchr(line, '\n', (size_t)n - 1));
    json_error_t je;
    json_t *got = json_loads(line, 0, &je);
    if (!got)
        fail_msg("not JSON: %s (%s)", line, je.text);
    json_t *want = feed_stride(NULL, s);
    assert_non_null(want);
    assert_int_equal(json_object_size(got), json_object_size(want));
    void *ig = json_object_iter(got), *iw = json_object_iter(want);
    while (iw) {
        const char *key = json_object_iter_key(iw);
        assert_string_equal(json_object_iter_key(ig), key);
        json_t *a = json_object_iter_value(ig), *b = json_object_iter_value(iw);
        if (json_is_real(b)) {
            assert_true(json_is_real(a));
            double x = json_real_value(a), y = json_real_value(b);
            double tol = 0.5 * pow(10.0, -stride_decimals(key)) + 1e-15 * fabs(y);
            if (!(fabs(x - y) <= tol))
                fail_msg("%s: %.17g written as %.17g (%s)", key, y, x, line);
        } else {
            assert_true(json_equal(a, b));
        }
        ig = json_object_iter_next(got, ig);
        iw = json_object_iter_next(want, iw);
    }
    json_decref(got);
    json_decref(want);
}

static void test_stride_write(void **state)
{
    (void)state;
    dsp_stride_t s = sample_stride();
    check_stride_line(&s);
    char small[FEED_STRIDE_LINE_MAX - 1];
    assert_int_equal(feed_stride_write(&s, small, sizeof small), -1);
    /* rounding carries, negatives, zero, huge and non-finite values, Unix times, every strike
     * and mode, no saturation */
    const double vals[] = {0.0,        -0.0,      0.99999999,   -0.99999996, 1.5e-9,
                           -3.2e-5,    172.62606, 1764370000.1234567, 1e15, -2.5e300,
                           NAN,        INFINITY,  -INFINITY,    123456.78901234, 0.05};
    size_t nv = sizeof vals / sizeof vals[0];
    for (size_t r = 0; r < 200; r++) {
        s.foot = (uint8_t)(r % 2);
        s.mode = (uint8_t)(r % 3);
        s.strike = (uint8_t)(r % 4);
        s.saturated = (uint8_t)(r % 4);
        s.index = (uint32_t)(r * 7919);
        s.turning = (uint8_t)(r % 2); /* written as null when turn_deg is not finite */
        double *f[] = {&s.t_ic,        &s.t_to,          &s.t_next_ic,   &s.stride_s,
                       &s.contact_s,   &s.swing_s,       &s.step_s,      &s.flight_s,
                       &s.duty,        &s.cadence_spm,   &s.impact_g,    &s.pushoff_dps,
                       &s.swing_peak_dps, &s.braking_g,  &s.strike_angle_deg,
                       &s.pronation_deg, &s.pronation_vel_dps, &s.stride_length_m,
                       &s.speed_mps, &s.turn_deg, &s.clearance_m};
        for (size_t k = 0; k < sizeof f / sizeof f[0]; k++)
            *f[k] = vals[(r * 3 + k * 5) % nv] * (r % 5 == 0 ? 1.0 : 0.37 * (double)(r % 7));
        check_stride_line(&s);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stride),
        cmocka_unit_test(test_window),
        cmocka_unit_test(test_summary),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_stride_write),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
