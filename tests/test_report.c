/* test_report.c - report.c: focus list JSON (CONTRACT.md form), metrics round trip, summary and
 * feed message fields, baseline file loading, HTML escaping and structure. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include "report.h"

static focus_result_t sample_result(void)
{
    focus_result_t r;
    memset(&r, 0, sizeof r);
    r.n = 2;
    r.e[0].area = FOCUS_CALVES;
    r.e[0].side = FOCUS_SIDE_R;
    r.e[0].score = 0.87654;
    r.e[0].n_evidence = 2;
    strcpy(r.e[0].evidence[0], "Right push-off about 14 % weaker than left <&>");
    strcpy(r.e[0].rule[0], "pushoff_asym");
    strcpy(r.e[0].evidence[1], "second line");
    strcpy(r.e[0].rule[1], "pushoff_fade");
    r.e[0].baseline[1] = 1;
    r.e[1].area = FOCUS_LOWER_BACK;
    r.e[1].side = FOCUS_SIDE_BOTH;
    r.e[1].score = 0.4;
    r.e[1].n_evidence = 1;
    strcpy(r.e[1].evidence[0], "Contact time grew");
    strcpy(r.e[1].rule[0], "fatigue_drift");
    r.recovery = 1;
    strcpy(r.recovery_text, "A long session (80 min): massage");
    return r;
}

static void test_focus_json(void **state)
{
    (void)state;
    focus_result_t r = sample_result();
    json_t *a = report_focus_json(&r);
    assert_non_null(a);
    assert_int_equal(json_array_size(a), 2);
    json_t *e = json_array_get(a, 0);
    assert_string_equal(json_string_value(json_object_get(e, "area")), "calves");
    assert_string_equal(json_string_value(json_object_get(e, "side")), "R");
    assert_float_equal(json_real_value(json_object_get(e, "score")), 0.877, 1e-12);
    assert_int_equal(json_array_size(json_object_get(e, "evidence")), 2);
    assert_string_equal(json_string_value(json_array_get(json_object_get(e, "indicators"), 1)),
                        "pushoff_fade");
    assert_string_equal(json_string_value(json_object_get(e, "reference")), "baseline");
    e = json_array_get(a, 1);
    assert_string_equal(json_string_value(json_object_get(e, "side")), "both");
    assert_string_equal(json_string_value(json_object_get(e, "reference")), "population");
    json_decref(a);

    json_t *msg = report_focus_message("ana", 12.5, 0, &r);
    assert_string_equal(json_string_value(json_object_get(msg, "type")), "focus");
    assert_string_equal(json_string_value(json_object_get(msg, "athlete")), "ana");
    assert_true(json_is_false(json_object_get(msg, "final")));
    assert_int_equal(json_array_size(json_object_get(msg, "focus")), 2);
    assert_non_null(strstr(json_string_value(json_object_get(msg, "disclaimer")), "not medical"));
    json_decref(msg);
}

static void test_metrics_roundtrip_and_baseline(void **state)
{
    (void)state;
    focus_metrics_t m, back;
    focus_metrics_clear(&m);
    m.v[FM_CONTACT_SI] = 3.5;
    m.v[FM_PRONATION_DEG_R] = 12.25;
    json_t *sum = json_object();
    focus_result_t r = sample_result();
    assert_int_equal(report_summary_add_focus(sum, &r, &m), 0);
    assert_int_equal(json_array_size(json_object_get(sum, "focus")), 2);
    assert_non_null(json_object_get(json_object_get(sum, "recovery"), "advice"));
    assert_int_equal(report_metrics_from_json(sum, &back), 2);
    assert_float_equal(back.v[FM_CONTACT_SI], 3.5, 0);
    assert_float_equal(back.v[FM_PRONATION_DEG_R], 12.25, 0);
    assert_true(isnan(back.v[FM_IMPACT_SI]));

    char path[] = "/tmp/test_report_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    json_object_set_new(sum, "type", json_string("summary"));
    for (int i = 0; i < 3; i++) {
        json_object_set_new(json_object_get(sum, "focus_metrics"), "contact_si_pct",
                            json_real(2.0 + i));
        json_dumpf(sum, f, JSON_COMPACT);
        fputc('\n', f);
    }
    fputs("{\"type\":\"stride\"}\n", f);
    fclose(f);
    focus_baseline_t b;
    focus_baseline_init(&b);
    char err[256];
    assert_int_equal(report_baseline_load(path, &b, err, sizeof err), 3);
    double mean, sd;
    assert_int_equal(focus_baseline_get(&b, FM_CONTACT_SI, &mean, &sd), 3);
    assert_float_equal(mean, 3.0, 1e-12);
    assert_float_equal(sd, 1.0, 1e-12);
    f = fopen(path, "a");
    fputs("not json\n", f);
    fclose(f);
    assert_int_equal(report_baseline_load(path, &b, err, sizeof err), -1);
    assert_non_null(strstr(err, ":5: not JSON"));
    unlink(path);
    json_decref(sum);
}

static void test_rules_file_errors(void **state)
{
    (void)state;
    char path[] = "/tmp/test_report_rules_XXXXXX";
    int fd = mkstemp(path);
    FILE *f = fdopen(fd, "w");
    fputs("[rule x]\nmetric = impact_si_pct\nareas = shins, shin\n", f);
    fclose(f);
    focus_rules_t rules;
    char err[512];
    assert_int_equal(report_load_rules(path, &rules, err, sizeof err), -1);
    char want[600];
    snprintf(want, sizeof want, "%s:3: [rule x] areas: unknown area 'shin'", path);
    assert_non_null(strstr(err, want));
    unlink(path);
    assert_int_equal(report_load_rules(path, &rules, err, sizeof err), -1);
    assert_non_null(strstr(err, path));
    assert_int_equal(report_load_rules(NULL, &rules, err, sizeof err), 0);
    assert_true(rules.n > 10);
}

static void test_html(void **state)
{
    (void)state;
    report_data_t d;
    memset(&d, 0, sizeof d);
    strcpy(d.source, "dir/run<1>.csv");
    d.focus = sample_result();
    focus_metrics_clear(&d.metrics);
    d.sum.duration_s = 125;
    d.sum.cadence_spm = 171;
    d.stride_hz = NAN;
    report_window_t w[3] = {{5, 2, 170, {250, 240}, 4, 0, 1, -1},
                            {10, 2, 171, {251, 241}, 4, 0, 1, -1},
                            {15, 2, NAN, {252, 242}, 4, 0, 1, -1}};
    d.win = w;
    d.n_win = 3;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_int_equal(report_write_html(f, &d), 0);
    fclose(f);
    assert_non_null(strstr(buf, "run&lt;1&gt;.csv"));
    assert_null(strstr(buf, "run<1>"));
    assert_non_null(strstr(buf, "weaker than left &lt;&amp;&gt;"));
    assert_non_null(strstr(buf, "id=\"area-calves-R\" data-score=\"0.88\""));
    assert_non_null(strstr(buf, "id=\"area-calves-L\" data-score=\"0.00\""));
    assert_non_null(strstr(buf, "id=\"area-lower_back-L\" data-score=\"0.40\""));
    assert_non_null(strstr(buf, "id=\"plot-contact\""));
    assert_non_null(strstr(buf, "id=\"recovery\""));
    assert_non_null(strstr(buf, "Suggested massage focus: <b>right calves</b>."));
    assert_null(strstr(buf, "<script"));
    assert_null(strstr(buf, "nan"));
    assert_non_null(strstr(buf, "</html>"));
    free(buf);
}

static dsp_stride_t mk_stride(int foot, double t, double pushoff)
{
    dsp_stride_t s;
    memset(&s, 0, sizeof s);
    s.foot = (uint8_t)foot;
    s.mode = DSP_MODE_RUN;
    s.t_ic = t;
    s.stride_s = 0.7;
    s.t_next_ic = t + 0.7;
    s.contact_s = 0.25;
    s.t_to = t + 0.25;
    s.step_s = 0.35;
    s.impact_g = 12;
    s.pushoff_dps = pushoff;
    s.swing_peak_dps = 600;
    s.pronation_deg = 8;
    s.pronation_vel_dps = 200;
    s.strike_angle_deg = 15;
    s.strike = DSP_STRIKE_REAR;
    s.braking_g = 4;
    return s;
}

static void test_live(void **state)
{
    (void)state;
    focus_rules_t rules;
    char err[256];
    assert_int_equal(report_load_rules(NULL, &rules, err, sizeof err), 0);
    report_live_t *l = report_live_new(&rules, NULL);
    assert_non_null(l);
    assert_null(report_live_window(l, "ana", 1.0)); /* no strides yet */
    int changes = 0, windows = 0, shown_last = 0;
    /* 5 min, right push-off 25 % weaker; a window every 5 s (about 7 strides per foot) */
    for (int i = 0; i < 430; i++) {
        double t = i * 0.7;
        dsp_stride_t a = mk_stride(DSP_LEFT, t, 800), b = mk_stride(DSP_RIGHT, t + 0.35, 600);
        report_live_stride(l, &a);
        report_live_stride(l, &b);
        if (i % 7 == 6) {
            json_t *m = report_live_window(l, "ana", t);
            if (!m)
                continue;
            windows++;
            assert_string_equal(json_string_value(json_object_get(m, "type")), "focus");
            assert_true(json_is_false(json_object_get(m, "final")));
            changes += json_is_true(json_object_get(m, "changed"));
            json_t *f = json_object_get(m, "focus");
            shown_last = (int)json_array_size(f);
            if (shown_last) {
                json_t *e = json_array_get(f, 0);
                assert_string_equal(json_string_value(json_object_get(e, "area")), "calves");
                assert_string_equal(json_string_value(json_object_get(e, "side")), "R");
            }
            json_decref(m);
        }
    }
    assert_true(windows > 30);
    assert_true(shown_last >= 2);
    assert_true(changes <= 3); /* steady input: the shown set settles, no flapping */
    dsp_summary_t sum;
    memset(&sum, 0, sizeof sum);
    sum.duration_s = 301;
    sum.cadence_spm = NAN;
    json_t *fin = report_live_final(l, "ana", 301, &sum);
    assert_true(json_is_true(json_object_get(fin, "final")));
    assert_true(json_array_size(json_object_get(fin, "focus")) >= 2);
    json_decref(fin);
    assert_true(report_live_result(l)->n >= 2);
    assert_float_equal(report_live_metrics(l)->v[FM_DURATION_MIN], 301 / 60.0, 1e-12);
    report_live_free(&l);
    assert_null(l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_focus_json),
        cmocka_unit_test(test_metrics_roundtrip_and_baseline),
        cmocka_unit_test(test_rules_file_errors),
        cmocka_unit_test(test_html),
        cmocka_unit_test(test_live),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
