/* test_focus.c - dsp_focus: every indicator of the shipped rules, side logic, baseline,
 * combination and ranking, the rules parser's errors, the metric extractor and the live
 * hysteresis. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>
#include "dsp_focus.h"

static focus_rules_t rules;

static int setup(void **state)
{
    (void)state;
    char err[256] = "";
    int rc = focus_rules_default(&rules, err, sizeof err);
    if (rc)
        fprintf(stderr, "%s\n", err);
    return rc;
}

/* A fresh, symmetric 30-minute run. */
static focus_metrics_t sym_run(void)
{
    focus_metrics_t m;
    focus_metrics_clear(&m);
    m.running = 1;
    m.span_min = 30;
    m.n[0] = m.n[1] = 2500;
    const struct {
        int i;
        double v;
    } pairs[] = {{FM_CONTACT_S_L, 0.25},    {FM_PUSHOFF_DPS_L, 790},   {FM_IMPACT_G_L, 12.7},
                 {FM_SWING_PEAK_DPS_L, 630}, {FM_CONTACT_DRIFT_PCT_L, 0}, {FM_PUSHOFF_DRIFT_PCT_L, 0},
                 {FM_PRONATION_DEG_L, 8},    {FM_PRONATION_VEL_DPS_L, 220},
                 {FM_PRONATION_DRIFT_DEG_L, 0}, {FM_STRIKE_ANGLE_DEG_L, 15},
                 {FM_FOREFOOT_PCT_L, 0},     {FM_BRAKING_G_L, 4.3}};
    for (size_t k = 0; k < sizeof pairs / sizeof pairs[0]; k++)
        m.v[pairs[k].i] = m.v[pairs[k].i + 1] = pairs[k].v;
    const int zero[] = {FM_CONTACT_SI,     FM_STEP_SI,      FM_STRIDE_SI,      FM_PUSHOFF_SI,
                        FM_IMPACT_SI,      FM_SWING_SI,     FM_PRONATION_SI,   FM_BRAKING_SI,
                        FM_ASYM_GLOBAL,    FM_FATIGUE_CONTACT, FM_FATIGUE_CADENCE,
                        FM_FATIGUE_ASYM};
    for (size_t k = 0; k < sizeof zero / sizeof zero[0]; k++)
        m.v[zero[k]] = 0;
    m.v[FM_CADENCE_SPM] = 170;
    m.v[FM_DURATION_MIN] = 30;
    m.v[FM_GAIT_MIN] = 30;
    return m;
}

static const focus_rule_t *rule(const char *name)
{
    for (int i = 0; i < rules.n; i++)
        if (!strcmp(rules.rule[i].name, name))
            return &rules.rule[i];
    fail_msg("no rule '%s' in the shipped rules", name);
    return NULL;
}

static const focus_entry_t *entry(const focus_result_t *r, int area, int side)
{
    for (int i = 0; i < r->n; i++)
        if (r->e[i].area == area && r->e[i].side == side)
            return &r->e[i];
    return NULL;
}

/* Puts the rule's metric halfway between on and full (score 0.5) so that `side` gets the area,
 * satisfies its conditions, and checks focus_rule_eval and focus_evaluate. */
static void check_indicator(const char *name, int side)
{
    const focus_rule_t *r = rule(name);
    focus_metrics_t m = sym_run();
    double mid = r->on + 0.5 * (r->full - r->on);
    if (r->kind == FOCUS_KIND_ASYM) {
        /* SI > 0: left larger */
        int left_larger = (side == FOCUS_SIDE_L) == (r->pick == FOCUS_PICK_LARGER);
        m.v[r->metric] = left_larger ? mid : -mid;
    } else if (r->pair) {
        m.v[r->metric + side] = mid;
    } else {
        m.v[r->metric] = mid;
    }
    for (int i = 0; i < r->n_when; i++) {
        const focus_cond_t *c = &r->when[i];
        double v = c->value + (c->op > 0 ? 1 : -1) * (fabs(c->value) * 0.2 + 1);
        if (c->pair)
            m.v[c->metric + (side == FOCUS_SIDE_BOTH ? 0 : side)] = v;
        else
            m.v[c->metric] = v;
    }
    int got_side = -1, base = -1;
    char ev[FOCUS_EVIDENCE_MAX] = "";
    double s = focus_rule_eval(&rules, r, &m, NULL, &got_side, &base, ev, sizeof ev);
    assert_float_equal(s, 0.5, 1e-9);
    assert_int_equal(got_side, side);
    assert_int_equal(base, 0);
    assert_non_null(strstr(ev, "population range"));
    assert_null(strchr(ev, '{')); /* every placeholder expanded */
    focus_result_t res;
    focus_evaluate(&rules, &m, NULL, &res);
    for (int k = 0; k < r->n_areas; k++) {
        const focus_entry_t *e = entry(&res, r->area[k], side);
        assert_non_null(e);
        assert_true(e->score >= 0.5 * r->weight[k] - 1e-9);
        int found = 0;
        for (int j = 0; j < e->n_evidence; j++)
            found |= !strcmp(e->rule[j], name);
        assert_true(found);
    }
    /* below the threshold: nothing */
    if (r->kind == FOCUS_KIND_ASYM)
        m.v[r->metric] *= (r->on * 0.5) / mid;
    else if (r->pair)
        m.v[r->metric + side] = r->on - (r->full - r->on);
    else
        m.v[r->metric] = r->on - (r->full - r->on);
    assert_float_equal(focus_rule_eval(&rules, r, &m, NULL, &got_side, &base, NULL, 0), 0, 0);
    /* the conditions matter */
    if (r->n_when) {
        m = sym_run();
        m.v[r->metric + (r->pair ? side : 0)] = r->kind == FOCUS_KIND_ASYM ? r->full : r->full;
        if (r->kind == FOCUS_KIND_ASYM &&
            !((side == FOCUS_SIDE_L) == (r->pick == FOCUS_PICK_LARGER)))
            m.v[r->metric] = -r->full;
        assert_float_equal(focus_rule_eval(&rules, r, &m, NULL, &got_side, &base, NULL, 0), 0, 0);
    }
}

static void test_pushoff_asym(void **state)
{
    (void)state;
    check_indicator("pushoff_asym", FOCUS_SIDE_R);
    check_indicator("pushoff_asym", FOCUS_SIDE_L);
}
static void test_forefoot_short_contact(void **state)
{
    (void)state;
    check_indicator("forefoot_short_contact", FOCUS_SIDE_L);
}
static void test_contact_asym(void **state)
{
    (void)state;
    check_indicator("contact_asym", FOCUS_SIDE_L);
    check_indicator("contact_asym", FOCUS_SIDE_R);
}
static void test_step_asym(void **state)
{
    (void)state;
    check_indicator("step_asym", FOCUS_SIDE_R);
}
static void test_swing_asym(void **state)
{
    (void)state;
    check_indicator("swing_asym", FOCUS_SIDE_R);
}
static void test_impact_asym(void **state)
{
    (void)state;
    check_indicator("impact_asym", FOCUS_SIDE_L);
}
static void test_impact_high(void **state)
{
    (void)state;
    check_indicator("impact_high", FOCUS_SIDE_L);
}
static void test_strike_steep(void **state)
{
    (void)state;
    check_indicator("strike_steep", FOCUS_SIDE_R);
}
static void test_braking_asym(void **state)
{
    (void)state;
    check_indicator("braking_asym", FOCUS_SIDE_R);
}
static void test_pronation_high(void **state)
{
    (void)state;
    check_indicator("pronation_high", FOCUS_SIDE_L);
    check_indicator("pronation_high", FOCUS_SIDE_R);
}
static void test_pronation_fast(void **state)
{
    (void)state;
    check_indicator("pronation_fast", FOCUS_SIDE_L);
}
static void test_pronation_rising(void **state)
{
    (void)state;
    check_indicator("pronation_rising", FOCUS_SIDE_R);
}
static void test_pronation_asym(void **state)
{
    (void)state;
    check_indicator("pronation_asym", FOCUS_SIDE_R);
}
static void test_it_band(void **state)
{
    (void)state;
    check_indicator("it_band", FOCUS_SIDE_L);
}
static void test_pushoff_fade(void **state)
{
    (void)state;
    check_indicator("pushoff_fade", FOCUS_SIDE_L);
}
static void test_fatigue_drift(void **state)
{
    (void)state;
    check_indicator("fatigue_drift", FOCUS_SIDE_BOTH);
}
static void test_fatigue_asym(void **state)
{
    (void)state;
    check_indicator("fatigue_asym", FOCUS_SIDE_BOTH);
}

/* Every shipped rule has a test above. */
static void test_every_rule_covered(void **state)
{
    (void)state;
    static const char *const tested[] = {
        "pushoff_asym",   "forefoot_short_contact", "contact_asym",     "step_asym",
        "swing_asym",     "impact_asym",            "impact_high",      "strike_steep",
        "braking_asym",   "pronation_high",         "pronation_fast",   "pronation_rising",
        "pronation_asym", "it_band",                "pushoff_fade",     "fatigue_drift",
        "fatigue_asym"};
    for (int i = 0; i < rules.n; i++) {
        int found = 0;
        for (size_t k = 0; k < sizeof tested / sizeof tested[0]; k++)
            found |= !strcmp(rules.rule[i].name, tested[k]);
        if (!found)
            fail_msg("shipped rule '%s' has no unit test", rules.rule[i].name);
    }
}

static void test_symmetric_run_is_quiet(void **state)
{
    (void)state;
    focus_metrics_t m = sym_run();
    focus_result_t res;
    focus_evaluate(&rules, &m, NULL, &res);
    assert_int_equal(res.n, 0);
    assert_int_equal(res.recovery, 0);
}

static void test_evidence_text(void **state)
{
    (void)state;
    focus_metrics_t m = sym_run();
    m.v[FM_PUSHOFF_SI] = 14.0; /* left larger: right weaker */
    m.span_min = 20;
    focus_result_t res;
    focus_evaluate(&rules, &m, NULL, &res);
    assert_true(res.n >= 2);
    assert_int_equal(res.e[0].area, FOCUS_CALVES);
    assert_int_equal(res.e[0].side, FOCUS_SIDE_R);
    assert_string_equal(res.e[0].evidence[0],
                        "Right push-off about 14 % weaker than left over 20 min of running "
                        "(population range: L/R difference under 4 %)");
}

/* An asymmetry that grew late in the run is dated ("over the last N min"). */
static void test_late_asymmetry(void **state)
{
    (void)state;
    focus_metrics_t m = sym_run();
    m.v[FM_PUSHOFF_SI] = 3.0;    /* whole session: below the range */
    m.late[FM_PUSHOFF_SI] = 14.0; /* last third: right clearly weaker */
    m.late_min = 20;
    focus_result_t res;
    focus_evaluate(&rules, &m, NULL, &res);
    assert_true(res.n >= 1);
    assert_int_equal(res.e[0].area, FOCUS_CALVES);
    assert_int_equal(res.e[0].side, FOCUS_SIDE_R);
    assert_true(res.e[0].score > 0.8);
    assert_string_equal(res.e[0].evidence[0],
                        "Right push-off about 14 % weaker than left over the last 20 min "
                        "(population range: L/R difference under 4 %)");
    /* about the same late as overall: the whole session is named */
    m.v[FM_PUSHOFF_SI] = 12.0;
    m.late[FM_PUSHOFF_SI] = 13.0;
    focus_evaluate(&rules, &m, NULL, &res);
    assert_non_null(strstr(res.e[0].evidence[0], "over 30 min of running"));
}

static void test_ramp_clamps(void **state)
{
    (void)state;
    const focus_rule_t *r = rule("contact_asym");
    focus_metrics_t m = sym_run();
    int side, base;
    m.v[FM_CONTACT_SI] = 50;
    assert_float_equal(focus_rule_eval(&rules, r, &m, NULL, &side, &base, NULL, 0), 1, 0);
    m.v[FM_CONTACT_SI] = NAN;
    assert_float_equal(focus_rule_eval(&rules, r, &m, NULL, &side, &base, NULL, 0), 0, 0);
}

static void test_combination_and_order(void **state)
{
    (void)state;
    focus_metrics_t m = sym_run();
    const focus_rule_t *ph = rule("pronation_high"), *pa = rule("pronation_asym");
    m.v[FM_PRONATION_DEG_R] = ph->on + 0.5 * (ph->full - ph->on);    /* 0.5 */
    m.v[FM_PRONATION_SI] = -(pa->on + 0.5 * (pa->full - pa->on));     /* 0.5, right larger */
    focus_result_t res;
    focus_evaluate(&rules, &m, NULL, &res);
    const focus_entry_t *e = entry(&res, FOCUS_PLANTAR_FASCIA, FOCUS_SIDE_R);
    assert_non_null(e);
    double w1 = 0, w2 = 0;
    for (int k = 0; k < ph->n_areas; k++)
        if (ph->area[k] == FOCUS_PLANTAR_FASCIA)
            w1 = ph->weight[k];
    for (int k = 0; k < pa->n_areas; k++)
        if (pa->area[k] == FOCUS_PLANTAR_FASCIA)
            w2 = pa->weight[k];
    assert_float_equal(e->score, 1 - (1 - 0.5 * w1) * (1 - 0.5 * w2), 1e-9);
    assert_int_equal(e->n_evidence, 2);
    for (int i = 1; i < res.n; i++)
        assert_true(res.e[i - 1].score >= res.e[i].score);
    for (int i = 0; i < res.n; i++) {
        assert_true(res.e[i].score > 0 && res.e[i].score <= 1);
        assert_true(res.e[i].n_evidence >= 1);
    }
}

static void test_walking_skips_running_rules(void **state)
{
    (void)state;
    focus_metrics_t m = sym_run();
    m.running = 0;
    m.v[FM_CONTACT_SI] = 20;
    m.v[FM_STRIKE_ANGLE_DEG_L] = m.v[FM_STRIKE_ANGLE_DEG_R] = 25;
    focus_result_t res;
    focus_evaluate(&rules, &m, NULL, &res);
    assert_int_equal(res.n, 0);
}

static void test_baseline(void **state)
{
    (void)state;
    const focus_rule_t *r = rule("contact_asym");
    focus_baseline_t b;
    focus_baseline_init(&b);
    /* an athlete whose left contact is habitually ~6 % longer (sd 1) */
    const double past[] = {5, 6, 7, 6, 5, 7};
    for (int i = 0; i < 4; i++) {
        focus_metrics_t p = sym_run();
        p.v[FM_CONTACT_SI] = past[i];
        focus_baseline_add(&b, &p);
    }
    focus_metrics_t m = sym_run();
    m.v[FM_CONTACT_SI] = 6;
    int side, base;
    char ev[FOCUS_EVIDENCE_MAX];
    /* 4 sessions < min_sessions: population range, which says 6 % is a lot */
    assert_true(focus_rule_eval(&rules, r, &m, &b, &side, &base, ev, sizeof ev) > 0.5);
    assert_int_equal(base, 0);
    for (int i = 4; i < 6; i++) {
        focus_metrics_t p = sym_run();
        p.v[FM_CONTACT_SI] = past[i];
        focus_baseline_add(&b, &p);
    }
    double mean, sd;
    assert_int_equal(focus_baseline_get(&b, FM_CONTACT_SI, &mean, &sd), 6);
    assert_float_equal(mean, 6, 1e-12);
    assert_float_equal(sd, sqrt(4.0 / 5.0), 1e-12);
    /* as usual for this athlete: nothing */
    assert_float_equal(focus_rule_eval(&rules, r, &m, &b, &side, &base, ev, sizeof ev), 0, 0);
    /* 6 sd (floor 1.5: 4 sd) above the usual */
    m.v[FM_CONTACT_SI] = 6 + r->z_full * fmax(sd, r->sd_floor);
    assert_float_equal(focus_rule_eval(&rules, r, &m, &b, &side, &base, ev, sizeof ev), 1, 1e-9);
    assert_int_equal(base, 1);
    assert_int_equal(side, FOCUS_SIDE_L);
    assert_non_null(strstr(ev, "your own baseline"));
    assert_non_null(strstr(ev, "6 sessions"));
    /* back to symmetric: a change from the usual on the other side */
    m.v[FM_CONTACT_SI] = 6 - r->z_full * fmax(sd, r->sd_floor);
    assert_true(focus_rule_eval(&rules, r, &m, &b, &side, &base, ev, sizeof ev) > 0.99);
    assert_int_equal(side, FOCUS_SIDE_R);
}

static void test_recovery(void **state)
{
    (void)state;
    focus_metrics_t m = sym_run();
    m.v[FM_DURATION_MIN] = 80;
    focus_result_t res;
    focus_evaluate(&rules, &m, NULL, &res);
    assert_int_equal(res.recovery, 1);
    assert_non_null(strstr(res.recovery_text, "A long session (80 min)"));
    assert_non_null(strstr(res.recovery_text, "30 minutes"));
    m = sym_run();
    m.v[FM_CADENCE_SPM] = 185;
    focus_evaluate(&rules, &m, NULL, &res);
    assert_int_equal(res.recovery, 1);
    assert_non_null(strstr(res.recovery_text, "hard effort"));
}

/* ---- rules file errors ---- */

static void expect_error(const char *text, const char *want)
{
    focus_rules_t r;
    char err[512] = "";
    if (focus_rules_parse(&r, text, "my_rules.ini", err, sizeof err) != -1)
        fail_msg("rules accepted, expected an error '%s':\n%s", want, text);
    if (!strstr(err, want))
        fail_msg("error '%s' does not contain '%s'", err, want);
}

#define RULE_HEAD "[general]\nmin_strides = 10\n\n[rule calf]\nmetric = pushoff_si_pct\n"
#define RULE_TAIL "kind = asym\nside = smaller\non = 4\nfull = 15\nevidence = {Side} x\n"

static void test_parse_errors(void **state)
{
    (void)state;
    expect_error(RULE_HEAD RULE_TAIL "areas = calfs\n",
                 "my_rules.ini:11: [rule calf] areas: unknown area 'calfs' (expected one of "
                 "calves,");
    expect_error(RULE_HEAD RULE_TAIL "areas = calves:1.5\n",
                 "my_rules.ini:11: [rule calf] areas: weight of 'calves' must be a number in "
                 "(0, 1], got '1.5'");
    expect_error(RULE_HEAD "kind = asym\nside = smaller\non = 4x\n",
                 "my_rules.ini:8: [rule calf] on: '4x' is not a number");
    expect_error("[rule a]\nmetric = pushof_si_pct\n",
                 "my_rules.ini:2: [rule a] metric: unknown metric 'pushof_si_pct'");
    expect_error(RULE_HEAD RULE_TAIL "wieght = 1\n",
                 "my_rules.ini:11: [rule calf] wieght: unknown field");
    expect_error(RULE_HEAD "kind = sym\n", "my_rules.ini:6: [rule calf] kind: unknown kind 'sym'");
    expect_error(RULE_HEAD RULE_TAIL, "my_rules.ini:4: [rule calf] areas: missing");
    expect_error("[general]\nmin_strides = 1\n",
                 "my_rules.ini:2: [general] min_strides: must be between 2 and 100000, got 1");
    expect_error("[genral]\nx = 1\n", "my_rules.ini:2: [genral] section: unknown section");
    expect_error("[general]\nlive_on = 0.2\nlive_off = 0.3\n",
                 "my_rules.ini: [general] live_off: must not exceed live_on");
    expect_error("[rule a]\nmetric = impact_g\nkind = asym\nside = larger\non = 1\nfull = 2\n"
                 "areas = shins\nevidence = e\n",
                 "my_rules.ini:1: [rule a] metric: an asym rule needs a symmetry index");
    expect_error(RULE_HEAD RULE_TAIL "areas = calves\nwhen = pronation_deg = 3\n",
                 "my_rules.ini:12: [rule calf] when: expected 'METRIC > VALUE'");
    expect_error(RULE_HEAD RULE_TAIL "areas = calves\n[rule calf]\n",
                 "my_rules.ini:12: [rule calf] name: rule 'calf' defined twice");
    expect_error("[general]\nthis is not ini\n", "my_rules.ini:2: syntax error");
    char longline[400];
    memset(longline, 'a', sizeof longline);
    memcpy(longline, "[general]\n#", 11);
    longline[sizeof longline - 1] = '\0';
    expect_error(longline, "my_rules.ini:2: line longer than");
}

static void test_parse_ok(void **state)
{
    (void)state;
    focus_rules_t r;
    char err[256] = "";
    assert_int_equal(focus_rules_parse(&r,
                                       RULE_HEAD RULE_TAIL "areas = calves:1, achilles : 0.5\n"
                                                           "when = forefoot_pct > 50\n",
                                       "x.ini", err, sizeof err),
                     0);
    assert_int_equal(r.n, 1);
    assert_int_equal(r.min_strides, 10);
    assert_int_equal(r.rule[0].line, 4);
    assert_int_equal(r.rule[0].n_areas, 2);
    assert_int_equal(r.rule[0].area[1], FOCUS_ACHILLES);
    assert_float_equal(r.rule[0].weight[1], 0.5, 0);
    assert_int_equal(r.rule[0].n_when, 1);
    assert_int_equal(r.rule[0].when[0].pair, 1);
    assert_int_equal(r.rule[0].when[0].metric, FM_FOREFOOT_PCT_L);
    assert_string_equal(r.rule[0].unit, "%");
    /* the shipped file: every area is reachable */
    int reach[FOCUS_N_AREAS] = {0};
    for (int i = 0; i < rules.n; i++)
        for (int k = 0; k < rules.rule[i].n_areas; k++)
            reach[rules.rule[i].area[k]] = 1;
    for (int a = 0; a < FOCUS_N_AREAS; a++)
        if (!reach[a])
            fail_msg("no shipped rule reaches area %s", focus_area_name(a));
}

static void test_names(void **state)
{
    (void)state;
    assert_string_equal(focus_area_name(FOCUS_PLANTAR_FASCIA), "plantar_fascia");
    assert_int_equal(focus_area_find("it_band"), FOCUS_IT_BAND);
    assert_int_equal(focus_area_find("calfs"), -1);
    assert_string_equal(focus_side_name(FOCUS_SIDE_BOTH), "both");
    for (int i = 0; i < FM_COUNT; i++) {
        assert_non_null(focus_metric_name(i));
        assert_int_equal(focus_metric_find(focus_metric_name(i)), i);
    }
}

/* ---- metric extractor ---- */

static dsp_stride_t stride(int foot, double t, double contact, double pushoff)
{
    dsp_stride_t s;
    memset(&s, 0, sizeof s);
    s.foot = (uint8_t)foot;
    s.mode = DSP_MODE_RUN;
    s.t_ic = t;
    s.stride_s = 0.7;
    s.t_next_ic = t + 0.7;
    s.contact_s = contact;
    s.t_to = t + contact;
    s.step_s = 0.35;
    s.impact_g = 12;
    s.pushoff_dps = pushoff;
    s.swing_peak_dps = 600;
    s.pronation_deg = foot ? 14 : 8;
    s.pronation_vel_dps = 220;
    s.strike_angle_deg = -5;
    s.strike = DSP_STRIKE_FORE;
    s.braking_g = 4;
    return s;
}

static void test_metrics_from_strides(void **state)
{
    (void)state;
    focus_acc_t a;
    focus_acc_init(&a);
    /* 10 min: left contact 8 % longer, both growing 10 % per 10 min; right push-off 25 % weaker */
    for (int i = 0; i < 857; i++) {
        double t = i * 0.7;
        double grow = 1 + 0.1 * t / 600.0;
        dsp_stride_t l = stride(DSP_LEFT, t, 0.27 * grow, 800);
        dsp_stride_t r = stride(DSP_RIGHT, t + 0.35, 0.25 * grow, 600);
        focus_acc_add(&a, &l);
        focus_acc_add(&a, &r);
    }
    focus_metrics_t m;
    focus_metrics_compute(&a, NULL, 20, &m);
    assert_int_equal(m.running, 1);
    assert_float_equal(m.v[FM_CONTACT_SI], 100 * 0.02 / 0.26, 1e-6);
    assert_float_equal(m.v[FM_PUSHOFF_SI], 100 * 200.0 / 700.0, 1e-9);
    assert_float_equal(m.v[FM_PRONATION_DEG_L], 8, 1e-12);
    assert_float_equal(m.v[FM_PRONATION_DEG_R], 14, 1e-12);
    assert_float_equal(m.v[FM_FOREFOOT_PCT_L], 100, 1e-12);
    assert_float_equal(m.v[FM_IMPACT_SI], 0, 1e-12);
    assert_float_equal(m.v[FM_STEP_SI], 0, 1e-12);
    assert_float_equal(m.v[FM_CADENCE_SPM], 120 / 0.7, 1e-9);
    /* contact(t) = c0 (1 + 0.1 t/600): slope c0 0.1/600, mean c0 (1 + 0.1 T/1200) */
    double T = 856 * 0.7, mean_rel = 1 + 0.1 * T / 1200.0;
    assert_float_equal(m.v[FM_FATIGUE_CONTACT], 10.0 / mean_rel, 0.05);
    assert_float_equal(m.v[FM_CONTACT_DRIFT_PCT_L], 10.0 / mean_rel, 1e-6);
    assert_float_equal(m.v[FM_FATIGUE_CADENCE], 0, 1e-9);
    assert_float_equal(m.v[FM_PRONATION_DRIFT_DEG_R], 0, 1e-9);
    assert_float_equal(m.span_min, (T + 0.35 + 0.7) / 60.0, 1e-9);
    /* and the shipped rules name the right areas */
    focus_result_t res;
    focus_evaluate(&rules, &m, NULL, &res);
    const focus_entry_t *e = entry(&res, FOCUS_CALVES, FOCUS_SIDE_R);
    assert_non_null(e);
    assert_true(e->score >= 0.5);
    assert_non_null(entry(&res, FOCUS_GLUTES, FOCUS_SIDE_L));
    assert_non_null(entry(&res, FOCUS_PLANTAR_FASCIA, FOCUS_SIDE_R));
    assert_non_null(entry(&res, FOCUS_LOWER_BACK, FOCUS_SIDE_BOTH));
}

static void test_metrics_need_strides(void **state)
{
    (void)state;
    focus_acc_t a;
    focus_acc_init(&a);
    for (int i = 0; i < 10; i++) {
        dsp_stride_t l = stride(DSP_LEFT, i * 0.7, 0.3, 800);
        focus_acc_add(&a, &l);
    }
    focus_metrics_t m;
    focus_metrics_compute(&a, NULL, 20, &m);
    for (int i = 0; i < FM_COUNT; i++)
        if (i != FM_GAIT_MIN && i != FM_DURATION_MIN && i != FM_CADENCE_SPM)
            assert_true(isnan(m.v[i]));
    focus_result_t res;
    focus_evaluate(&rules, &m, NULL, &res);
    assert_int_equal(res.n, 0);
    /* one foot only: per-foot figures, no symmetry */
    for (int i = 10; i < 40; i++) {
        dsp_stride_t l = stride(DSP_LEFT, i * 0.7, 0.3, 800);
        focus_acc_add(&a, &l);
    }
    focus_metrics_compute(&a, NULL, 20, &m);
    assert_float_equal(m.v[FM_CONTACT_S_L], 0.3, 1e-12);
    assert_true(isnan(m.v[FM_CONTACT_S_R]));
    assert_true(isnan(m.v[FM_CONTACT_SI]));
}

/* ---- live hysteresis ---- */

static void test_live_hysteresis(void **state)
{
    (void)state;
    focus_live_t l;
    focus_live_init(&l);
    focus_result_t in, out;
    memset(&in, 0, sizeof in);
    in.n = 1;
    in.e[0].area = FOCUS_CALVES;
    in.e[0].side = FOCUS_SIDE_R;
    const double on = rules.live_on, off = rules.live_off;
    const struct {
        double score;
        int shown, changed;
    } seq[] = {{on - 0.05, 0, 0}, {on + 0.01, 1, 1}, {off + 0.01, 1, 0}, {on - 0.01, 1, 0},
               {off - 0.01, 0, 1}, {(on + off) / 2, 0, 0}, {on, 1, 1}};
    for (size_t i = 0; i < sizeof seq / sizeof seq[0]; i++) {
        in.e[0].score = seq[i].score;
        int changed = focus_live_update(&l, &rules, &in, &out);
        assert_int_equal(out.n, seq[i].shown);
        assert_int_equal(changed, seq[i].changed);
    }
    in.n = 0; /* indicator no longer fires */
    assert_int_equal(focus_live_update(&l, &rules, &in, &out), 1);
    assert_int_equal(out.n, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pushoff_asym),
        cmocka_unit_test(test_forefoot_short_contact),
        cmocka_unit_test(test_contact_asym),
        cmocka_unit_test(test_step_asym),
        cmocka_unit_test(test_swing_asym),
        cmocka_unit_test(test_impact_asym),
        cmocka_unit_test(test_impact_high),
        cmocka_unit_test(test_strike_steep),
        cmocka_unit_test(test_braking_asym),
        cmocka_unit_test(test_pronation_high),
        cmocka_unit_test(test_pronation_fast),
        cmocka_unit_test(test_pronation_rising),
        cmocka_unit_test(test_pronation_asym),
        cmocka_unit_test(test_it_band),
        cmocka_unit_test(test_pushoff_fade),
        cmocka_unit_test(test_fatigue_drift),
        cmocka_unit_test(test_fatigue_asym),
        cmocka_unit_test(test_every_rule_covered),
        cmocka_unit_test(test_symmetric_run_is_quiet),
        cmocka_unit_test(test_evidence_text),
        cmocka_unit_test(test_late_asymmetry),
        cmocka_unit_test(test_ramp_clamps),
        cmocka_unit_test(test_combination_and_order),
        cmocka_unit_test(test_walking_skips_running_rules),
        cmocka_unit_test(test_baseline),
        cmocka_unit_test(test_recovery),
        cmocka_unit_test(test_parse_errors),
        cmocka_unit_test(test_parse_ok),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_metrics_from_strides),
        cmocka_unit_test(test_metrics_need_strides),
        cmocka_unit_test(test_live_hysteresis),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
