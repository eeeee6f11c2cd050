/* test_sim.c - the pod simulator (daemon/sim.h): determinism, timing against the configuration,
 * per-foot asymmetries, standing still, sample count, ground-truth contiguity, toe-off truth on the
 * push-off transition, plan parsing. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "sim.h"

#define MAX_TRUTH 4096

/* One simulated session kept in memory. */
typedef struct run {
    size_t n;           /* sample instants */
    dsp_sample_t *s[2]; /* per foot */
    sim_truth_t tr[MAX_TRUTH];
    size_t ntr;
} run_t;

static run_t *run_sim(const sim_config_t *c)
{
    sim_t *s = sim_new(c);
    assert_non_null(s);
    run_t *r = calloc(1, sizeof *r);
    assert_non_null(r);
    size_t cap = (size_t)(sim_config(s)->duration_s * c->rate_hz) + 16;
    r->s[0] = malloc(cap * sizeof(dsp_sample_t));
    r->s[1] = malloc(cap * sizeof(dsp_sample_t));
    assert_non_null(r->s[0]);
    assert_non_null(r->s[1]);
    dsp_sample_t out[2];
    while (sim_next(s, out)) {
        assert_true(r->n < cap);
        r->s[0][r->n] = out[0];
        r->s[1][r->n] = out[1];
        r->n++;
        while (r->ntr < MAX_TRUTH && sim_pop_truth(s, &r->tr[r->ntr]))
            r->ntr++;
    }
    assert_int_equal(sim_next(s, out), 0);
    sim_free(&s);
    assert_null(s);
    return r;
}

static void run_free(run_t **r)
{
    free((*r)->s[0]);
    free((*r)->s[1]);
    free(*r);
    *r = NULL;
}

static sim_config_t cfg_plan(const char *plan, uint64_t seed)
{
    sim_config_t c;
    char err[128];
    sim_config_default(&c);
    c.seed = seed;
    if (plan)
        assert_int_equal(sim_parse_plan(&c, plan, err, sizeof err), 0);
    return c;
}

typedef struct foot_means {
    size_t n;
    double stride, contact;
} foot_means_t;

static foot_means_t truth_means(const run_t *r, int foot, int activity)
{
    foot_means_t m = {0, 0, 0};
    for (size_t i = 0; i < r->ntr; i++) {
        const sim_truth_t *t = &r->tr[i];
        if (t->foot != foot || (activity >= 0 && t->activity != activity))
            continue;
        m.n++;
        m.stride += t->t_next_ic - t->t_ic;
        m.contact += t->t_to - t->t_ic;
    }
    if (m.n) {
        m.stride /= (double)m.n;
        m.contact /= (double)m.n;
    }
    return m;
}

/* Mean over strides of a per-stride extreme of channel ch (0..5 = acc xyz, gyr xyz, 6 = |acc|)
 * of one foot
 * in the window [t_ic + a * contact, t_ic + b * contact] (a, b fractions of contact time; b may
 * exceed 1 to reach into swing), sign +1 for the maximum, -1 for the minimum. */
static double stride_extreme(const run_t *r, int foot, int ch, double a, double b, int sign)
{
    double rate = 1.0 / (r->s[0][1].t - r->s[0][0].t), sum = 0;
    int n = 0;
    for (size_t i = 0; i < r->ntr; i++) {
        const sim_truth_t *t = &r->tr[i];
        if (t->foot != foot)
            continue;
        double c = t->t_to - t->t_ic;
        long i0 = lround((t->t_ic + a * c) * rate), i1 = lround((t->t_ic + b * c) * rate);
        if (i0 < 0 || i1 >= (long)r->n)
            continue;
        double best = -INFINITY;
        for (long k = i0; k <= i1; k++) {
            const dsp_sample_t *s = &r->s[foot][k];
            double v;
            if (ch == 6) /* |acc| */
                v = sqrt(s->acc[0] * s->acc[0] + s->acc[1] * s->acc[1] + s->acc[2] * s->acc[2]);
            else
                v = ch < 3 ? s->acc[ch] : s->gyr[ch - 3];
            if (sign * v > best)
                best = sign * v;
        }
        sum += sign * best;
        n++;
    }
    assert_true(n > 0);
    return sum / n;
}

static void test_determinism(void **state)
{
    (void)state;
    sim_config_t c = cfg_plan("stand:2,walk:10,run:10", 42);
    run_t *a = run_sim(&c), *b = run_sim(&c);
    assert_int_equal(a->n, b->n);
    assert_int_equal(a->ntr, b->ntr);
    assert_memory_equal(a->s[0], b->s[0], a->n * sizeof(dsp_sample_t));
    assert_memory_equal(a->s[1], b->s[1], a->n * sizeof(dsp_sample_t));
    assert_memory_equal(a->tr, b->tr, a->ntr * sizeof(sim_truth_t));
    c.seed = 43;
    run_t *d = run_sim(&c);
    assert_int_equal(a->n, d->n);
    assert_true(memcmp(a->s[0], d->s[0], a->n * sizeof(dsp_sample_t)) != 0);
    run_free(&a);
    run_free(&b);
    run_free(&d);
}

static void test_sample_count_and_time(void **state)
{
    (void)state;
    sim_config_t c;
    sim_config_default(&c);
    c.rate_hz = 200;
    c.duration_s = 12.5;
    c.clock_offset_s[0] = 0.3; /* not applied by sim_next: t is the true clock */
    c.clock_offset_s[1] = -0.2;
    run_t *r = run_sim(&c);
    assert_int_equal(r->n, 2500);
    for (size_t i = 0; i < r->n; i++) {
        assert_true(fabs(r->s[0][i].t - (double)i / 200.0) < 1e-9);
        assert_true(r->s[1][i].t == r->s[0][i].t);
    }
    run_free(&r);

    c = cfg_plan("stand:1.5,walk:2.25", 1);
    c.rate_hz = 500;
    r = run_sim(&c);
    assert_int_equal(r->n, 1875);
    run_free(&r);
}

static void test_stride_period_matches_cadence(void **state)
{
    (void)state;
    sim_config_t c;
    sim_config_default(&c);
    c.duration_s = 60;
    run_t *r = run_sim(&c);
    for (int f = 0; f < 2; f++) {
        foot_means_t m = truth_means(r, f, SIM_RUN);
        assert_true(m.n > 75);
        assert_true(fabs(m.stride - 120.0 / 170.0) < 0.01 * 120.0 / 170.0);
    }
    run_free(&r);

    c = cfg_plan("run:20,run:40@182", 3);
    r = run_sim(&c);
    /* strides fully inside the second segment, after the cadence has settled */
    double sum = 0;
    int n = 0;
    for (size_t i = 0; i < r->ntr; i++)
        if (r->tr[i].t_ic > 35.0) {
            sum += r->tr[i].t_next_ic - r->tr[i].t_ic;
            n++;
        }
    assert_true(n > 40);
    assert_true(fabs(sum / n - 120.0 / 182.0) < 0.01 * 120.0 / 182.0);
    run_free(&r);

    /* walking: about one stride per second, no flight (contact > half the stride) */
    c = cfg_plan("walk:60", 5);
    r = run_sim(&c);
    for (int f = 0; f < 2; f++) {
        foot_means_t m = truth_means(r, f, SIM_WALK);
        assert_true(m.n > 45);
        assert_true(m.stride > 0.95 && m.stride < 1.15);
        double duty = m.contact / m.stride;
        assert_true(duty > 0.59 && duty < 0.64);
    }
    for (size_t i = 0; i < r->ntr; i++)
        if (r->tr[i].activity == SIM_WALK)
            assert_true(r->tr[i].t_to - r->tr[i].t_ic > 0.5 * (r->tr[i].t_next_ic - r->tr[i].t_ic));
    run_free(&r);
}

static void test_contact_matches_config(void **state)
{
    (void)state;
    sim_config_t c;
    sim_config_default(&c);
    c.duration_s = 120;
    c.contact_s = 0.23;
    run_t *r = run_sim(&c);
    for (int f = 0; f < 2; f++) {
        foot_means_t m = truth_means(r, f, SIM_RUN);
        assert_true(fabs(m.contact - 0.23) < 0.02 * 0.23);
        assert_true(m.contact / m.stride < 0.4); /* flight phase */
    }
    run_free(&r);
}

static void test_feet_half_a_stride_apart(void **state)
{
    (void)state;
    sim_config_t c;
    sim_config_default(&c);
    c.duration_s = 60;
    run_t *r = run_sim(&c);
    double sum = 0;
    int n = 0;
    for (size_t i = 0; i < r->ntr; i++) {
        const sim_truth_t *l = &r->tr[i];
        if (l->foot != DSP_LEFT)
            continue;
        for (size_t j = 0; j < r->ntr; j++) {
            const sim_truth_t *rt = &r->tr[j];
            if (rt->foot == DSP_RIGHT && rt->t_ic > l->t_ic && rt->t_ic < l->t_next_ic) {
                sum += (rt->t_ic - l->t_ic) / (l->t_next_ic - l->t_ic);
                n++;
            }
        }
    }
    assert_true(n > 70);
    assert_true(fabs(sum / n - 0.5) < 0.02);
    run_free(&r);
}

static void test_contact_scale_applies_to_its_foot(void **state)
{
    (void)state;
    sim_config_t c;
    sim_config_default(&c);
    c.duration_s = 120;
    c.contact_scale[0] = 1.08;
    run_t *r = run_sim(&c);
    foot_means_t l = truth_means(r, DSP_LEFT, SIM_RUN), rt = truth_means(r, DSP_RIGHT, SIM_RUN);
    assert_true(fabs(l.contact / rt.contact - 1.08) < 0.02);
    assert_true(fabs(l.stride / rt.stride - 1.0) < 0.005); /* stride time kept */
    run_free(&r);

    c.contact_scale[0] = 1.0;
    c.contact_scale[1] = 1.10;
    r = run_sim(&c);
    l = truth_means(r, DSP_LEFT, SIM_RUN);
    rt = truth_means(r, DSP_RIGHT, SIM_RUN);
    assert_true(fabs(rt.contact / l.contact - 1.10) < 0.02);
    run_free(&r);
}

static void test_pushoff_impact_pronation_scales(void **state)
{
    (void)state;
    sim_config_t c;
    sim_config_default(&c);
    c.duration_s = 60;
    c.pushoff_scale[1] = 0.75;
    c.impact_scale[0] = 1.5;
    c.pronation_deg[0] = 14;
    c.pronation_deg[1] = 6;
    run_t *r = run_sim(&c);
    /* push-off: peak toe-down rate (gyr_y) in the second half of stance */
    double pl = stride_extreme(r, DSP_LEFT, 4, 0.5, 1.0, 1);
    double pr = stride_extreme(r, DSP_RIGHT, 4, 0.5, 1.0, 1);
    assert_true(pl > 400.0);
    assert_true(pr / pl > 0.65 && pr / pl < 0.85);
    /* impact: peak |acc| just after IC */
    double il = stride_extreme(r, DSP_LEFT, 6, 0.0, 0.25, 1);
    double ir = stride_extreme(r, DSP_RIGHT, 6, 0.0, 0.25, 1);
    assert_true(ir > 3.0 * 9.81); /* several g */
    assert_true(il / ir > 1.2);
    /* pronation: eversion rate after IC; left everts with +gyr_x, right with -gyr_x
     * (one unmirrored frame for both feet) */
    double xl = stride_extreme(r, DSP_LEFT, 3, 0.0, 0.5, 1);
    double xr = -stride_extreme(r, DSP_RIGHT, 3, 0.0, 0.5, -1);
    assert_true(xl > 0 && xr > 0);
    assert_true(xl / xr > 1.8 && xl / xr < 3.2);
    run_free(&r);
}

static void test_running_signal_shape(void **state)
{
    (void)state;
    sim_config_t c;
    sim_config_default(&c);
    c.duration_s = 30;
    run_t *r = run_sim(&c);
    for (int f = 0; f < 2; f++) {
        /* large toe-up rotation in swing (negative gyr_y) */
        double sw = stride_extreme(r, f, 4, 1.0, 2.5, -1);
        assert_true(sw < -450.0);
        /* the foot is flat and still in mid-stance: |gyr_y| small, acc ~ gravity on z */
        double g = stride_extreme(r, f, 4, 0.25, 0.35, 1);
        assert_true(fabs(g) < 10.0);
        double az = stride_extreme(r, f, 2, 0.25, 0.35, 1);
        assert_true(fabs(az - 9.81) < 0.5);
    }
    run_free(&r);
}

static void test_standing_reads_gravity(void **state)
{
    (void)state;
    sim_config_t c = cfg_plan("stand:10,walk:20,stand:10", 9);
    c.gyr_bias[1][1] = 1.5;
    run_t *r = run_sim(&c);
    for (int f = 0; f < 2; f++) {
        double m[6] = {0}, m2 = 0;
        size_t n = 0;
        for (size_t i = 0; i < r->n; i++) {
            const dsp_sample_t *s = &r->s[f][i];
            if (s->t > 9.9 && !(s->t > 34.0))
                continue;
            for (int k = 0; k < 3; k++) {
                m[k] += s->acc[k];
                m[3 + k] += s->gyr[k];
            }
            m2 += (double)s->acc[2] * s->acc[2];
            n++;
        }
        assert_true(n > 6000);
        for (int k = 0; k < 6; k++)
            m[k] /= (double)n;
        double sd = sqrt(m2 / (double)n - m[2] * m[2]);
        assert_true(fabs(m[0]) < 0.02 && fabs(m[1]) < 0.02);
        assert_true(fabs(m[2] - 9.81) < 0.02);
        assert_true(sd < 0.1); /* noise only */
        assert_true(fabs(m[3]) < 0.1 && fabs(m[5]) < 0.1);
        assert_true(fabs(m[4] - (f == DSP_RIGHT ? 1.5 : 0.0)) < 0.1);
    }
    /* no stride while standing */
    for (size_t i = 0; i < r->ntr; i++) {
        assert_true(r->tr[i].t_ic > 10.0);
        assert_true(r->tr[i].t_next_ic < 31.5);
    }
    run_free(&r);
}

static void test_truth_contiguous(void **state)
{
    (void)state;
    sim_config_t c = cfg_plan("walk:30,run:40,walk:20", 17);
    c.fatigue_per_10min = 0.05;
    run_t *r = run_sim(&c);
    int acts[3] = {0, 0, 0};
    for (int f = 0; f < 2; f++) {
        const sim_truth_t *prev = NULL;
        for (size_t i = 0; i < r->ntr; i++) {
            const sim_truth_t *t = &r->tr[i];
            if (t->foot != f)
                continue;
            assert_true(t->t_ic < t->t_to && t->t_to < t->t_next_ic);
            assert_true(t->t_next_ic <= 90.0);
            if (prev)
                assert_true(prev->t_next_ic == t->t_ic);
            acts[t->activity]++;
            prev = t;
        }
    }
    assert_int_equal(acts[SIM_STAND], 0);
    assert_true(acts[SIM_WALK] > 50);
    assert_true(acts[SIM_RUN] > 80);
    /* truth is pushed in order of stride end */
    for (size_t i = 1; i < r->ntr; i++)
        assert_true(r->tr[i].t_next_ic >= r->tr[i - 1].t_next_ic - 1e-9);
    run_free(&r);
}

/* Toe-off truth is the model's kinematic lift-off (SIMULATOR.md "Ground truth"): it lies on the
 * pitch rate's push-off transition, after the push-off peak (lead d_pk (1 + x), at most 1.5 x
 * 10 ms) and where the rate is still above half the peak, and the lead varies from stride to
 * stride (the signal feature is not locked to the event). Noise-free gyro, walking and running. */
static void test_toe_off_truth_on_pushoff(void **state)
{
    (void)state;
    sim_config_t c = cfg_plan("walk:40,run:40", 5);
    c.gyr_noise = 0.0;
    c.acc_noise = 0.0;
    run_t *r = run_sim(&c);
    double rate = c.rate_hz;
    int n[2] = {0, 0};
    double sum[2] = {0, 0}, sum2[2] = {0, 0};
    for (size_t i = 0; i < r->ntr; i++) {
        const sim_truth_t *t = &r->tr[i];
        long k0 = lround((t->t_to - 0.040) * rate), k1 = (long)floor(t->t_to * rate);
        if (k0 < 0 || k1 + 1 >= (long)r->n)
            continue;
        long kp = k0;
        for (long k = k0; k <= k1; k++)
            if (r->s[t->foot][k].gyr[1] > r->s[t->foot][kp].gyr[1])
                kp = k;
        double pk = r->s[t->foot][kp].gyr[1];
        /* rate at lift-off, linear between the samples around it */
        double u = t->t_to * rate - (double)k1;
        double g = (1.0 - u) * r->s[t->foot][k1].gyr[1] + u * r->s[t->foot][k1 + 1].gyr[1];
        double lead = t->t_to - (double)kp / rate;
        assert_true(pk > 100.0);
        assert_true(lead > 0.0 && lead <= 0.015 + 1.5 / rate);
        assert_true(g > 0.5 * pk && g <= pk);
        int a = t->activity == SIM_RUN;
        n[a]++;
        sum[a] += lead;
        sum2[a] += lead * lead;
    }
    for (int a = 0; a < 2; a++) {
        assert_true(n[a] > 20);
        double m = sum[a] / n[a], sd = sqrt(fmax(0.0, sum2[a] / n[a] - m * m));
        assert_true(sd > 0.0008); /* lift-off wanders on the transition: >= 0.8 ms sd */
    }
    run_free(&r);
}

/* The truth's stride length is the heel's horizontal travel over the swing, which the model
 * sets to speed x T (x the stride jitter): the mean over a run and a walk, per true stride
 * time, is the segment's speed. */
#define WALK_SPEED_TRUE 1.35 /* daemon/sim.c WALK_SPEED, SIMULATOR.md */

static void test_truth_stride_length(void **state)
{
    (void)state;
    const struct {
        const char *plan;
        double speed;
    } cases[] = {{"run:60", 3.3}, {"run:60@180", 3.3}, {"walk:60", 0.0}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        sim_config_t c = cfg_plan(cases[i].plan, 21 + i);
        run_t *r = run_sim(&c);
        double sum = 0.0;
        size_t n = 0;
        for (size_t k = 0; k < r->ntr; k++) {
            const sim_truth_t *t = &r->tr[k];
            assert_true(t->stride_length_m > 0.5 && t->stride_length_m < 3.5);
            sum += t->stride_length_m / (t->t_next_ic - t->t_ic);
            n++;
        }
        assert_true(n > 40);
        double speed = sum / n;
        if (cases[i].speed > 0.0)
            assert_true(fabs(speed - cases[i].speed) < 0.01 * cases[i].speed);
        else /* walking: the model's default walking speed */
            assert_true(fabs(speed - WALK_SPEED_TRUE) < 0.01 * WALK_SPEED_TRUE);
        run_free(&r);
    }
}

static void test_fatigue_drift(void **state)
{
    (void)state;
    sim_config_t c;
    sim_config_default(&c);
    c.rate_hz = 100;
    c.duration_s = 1200;
    c.fatigue_per_10min = 0.1; /* after 10 min: contact +10 %, cadence -5 % */
    run_t *r = run_sim(&c);
    double sc[2] = {0, 0}, ss[2] = {0, 0};
    int n[2] = {0, 0};
    for (size_t i = 0; i < r->ntr; i++) {
        const sim_truth_t *t = &r->tr[i];
        int k = t->t_ic < 60.0 ? 0 : t->t_ic > 1140.0 ? 1 : -1;
        if (k < 0)
            continue;
        sc[k] += t->t_to - t->t_ic;
        ss[k] += t->t_next_ic - t->t_ic;
        n[k]++;
    }
    assert_true(n[0] > 100 && n[1] > 100);
    double contact = (sc[1] / n[1]) / (sc[0] / n[0]);
    double cadence = (ss[0] / n[0]) / (ss[1] / n[1]);
    /* minute 0.5 vs minute 19.5 */
    assert_true(fabs(contact - 1.195 / 1.005) < 0.02);
    assert_true(fabs(cadence - 0.9025 / 0.9975) < 0.01);
    run_free(&r);
}

static void test_parse_plan(void **state)
{
    (void)state;
    sim_config_t c;
    char err[128];
    sim_config_default(&c);
    assert_int_equal(sim_parse_plan(&c, "stand:5,walk:60,run:300@180,walk:30", err, sizeof err), 0);
    assert_int_equal(c.n_segments, 4);
    assert_int_equal(c.segments[0].activity, SIM_STAND);
    assert_int_equal(c.segments[2].activity, SIM_RUN);
    assert_true(c.segments[2].cadence_spm == 180.0);
    assert_true(c.segments[1].cadence_spm == 0.0);
    assert_true(fabs(c.duration_s - 395.0) < 1e-9);
    const char *bad[] = {"",       "jog:5",     "run",    "run:-3",       "run:x",
                         "run:5@", "run:5@999", "run:5,", "run:5;walk:3", ",run:5"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        assert_int_equal(sim_parse_plan(&c, bad[i], err, sizeof err), -1);
        assert_true(err[0] != '\0');
    }
}

static void test_rejects_bad_config(void **state)
{
    (void)state;
    sim_config_t c;
    sim_config_default(&c);
    sim_t *s = sim_new(&c);
    assert_non_null(s);
    assert_true(sim_config(s)->rate_hz == 500.0);
    sim_free(&s);
    sim_free(&s); /* NULL is fine */
    c.rate_hz = 0;
    assert_null(sim_new(&c));
    sim_config_default(&c);
    c.contact_scale[1] = 0;
    assert_null(sim_new(&c));
    sim_config_default(&c);
    c.duration_s = NAN;
    assert_null(sim_new(&c));
    sim_config_default(&c);
    c.n_segments = SIM_MAX_SEGMENTS + 1;
    assert_null(sim_new(&c));
    assert_null(sim_new(NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_determinism),
        cmocka_unit_test(test_sample_count_and_time),
        cmocka_unit_test(test_stride_period_matches_cadence),
        cmocka_unit_test(test_contact_matches_config),
        cmocka_unit_test(test_feet_half_a_stride_apart),
        cmocka_unit_test(test_contact_scale_applies_to_its_foot),
        cmocka_unit_test(test_pushoff_impact_pronation_scales),
        cmocka_unit_test(test_running_signal_shape),
        cmocka_unit_test(test_standing_reads_gravity),
        cmocka_unit_test(test_truth_contiguous),
        cmocka_unit_test(test_toe_off_truth_on_pushoff),
        cmocka_unit_test(test_truth_stride_length),
        cmocka_unit_test(test_fatigue_drift),
        cmocka_unit_test(test_parse_plan),
        cmocka_unit_test(test_rejects_bad_config),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
