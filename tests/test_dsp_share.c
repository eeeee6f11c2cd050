/* test_dsp_share.c - libgaitdsp's memory bounds (issue 4): pipelines sharing one FFT workspace
 * (dsp_pipeline_new_with) give bit-identical results to a pipeline of their own, whatever the
 * other pipelines do in between and in whichever order they are freed; the fatigue-drift bins
 * stay meaningful when a long session with many mode changes runs out of bin accumulators. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "dsp.h"

/* A runner's pitch rate per foot (stride period T, contact C): a push-off hump, then the swing,
 * a negative half sine ending at the next initial contact; accelerometer with an impact pulse. */
typedef struct synth {
    double T, C, t0[2], Ap, Aw;
    uint64_t rng;
} synth_t;

static double noise(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return ((double)(*s >> 11) / 9007199254740992.0 - 0.5);
}

static void sample(synth_t *sy, int f, double t, dsp_sample_t *s)
{
    memset(s, 0, sizeof *s);
    s->t = t;
    double tau = t < sy->t0[f] ? -1.0 : fmod(t - sy->t0[f], sy->T), g = 0.0;
    if (tau >= 0.0 && tau < sy->C)
        g = sy->Ap * sin(M_PI * tau / sy->C);
    else if (tau >= sy->C)
        g = -sy->Aw * sin(M_PI * (tau - sy->C) / (sy->T - sy->C));
    s->gyr[1] = (float)(g + noise(&sy->rng));
    s->gyr[0] = (float)noise(&sy->rng);
    s->acc[2] = (float)(9.81 + (tau >= 0.0 && tau < 0.02 ? 40.0 * sin(M_PI * tau / 0.02) : 0.0));
}

static synth_t runner(double T, double C, uint64_t seed)
{
    synth_t sy = {T, C, {1.0, 1.0 + 0.5 * T}, 700.0, 900.0, seed};
    return sy;
}

typedef struct out {
    dsp_stride_t st[1024];
    int n;
    dsp_summary_t sum;
    dsp_window_t win;
} out_t;

static void drain(dsp_pipeline_t *p, out_t *o)
{
    dsp_stride_t st;
    while (dsp_pipeline_pop_stride(p, &st))
        if (o->n < 1024)
            o->st[o->n++] = st;
}

static void push_instant(dsp_pipeline_t *p, synth_t *sy, double t, out_t *o)
{
    for (int f = 0; f < 2; f++) {
        dsp_sample_t s;
        sample(sy, f, t, &s);
        assert_int_equal(dsp_pipeline_push(p, f, &s), 0);
    }
    drain(p, o);
}

/* equal bits, or both NAN */
static int same(double a, double b)
{
    return (isnan(a) && isnan(b)) || memcmp(&a, &b, sizeof a) == 0;
}

static void end(dsp_pipeline_t *p, out_t *o)
{
    dsp_pipeline_window(p, &o->win);
    dsp_pipeline_finish(p);
    drain(p, o);
    dsp_pipeline_summary(p, &o->sum);
}

/* The same 120 s run alone and in a pipeline sharing its workspace with two others that analyse
 * different runners (one of them standing still half of the time: spectra without a stride
 * frequency, windows of other lengths) and are freed first and midway. */
static void test_shared_workspace_identical(void **state)
{
    (void)state;
    const double rate = 500.0, dur = 120.0;
    dsp_settings_t set = dsp_settings_default();
    static out_t alone, shared, other1, other2;
    memset(&alone, 0, sizeof alone);
    memset(&shared, 0, sizeof shared);
    memset(&other1, 0, sizeof other1);
    memset(&other2, 0, sizeof other2);

    synth_t a = runner(0.7, 0.25, 0x1234567ull);
    dsp_pipeline_t *p = dsp_pipeline_new(&set);
    assert_non_null(p);
    for (long i = 0; i < (long)(dur * rate); i++)
        push_instant(p, &a, i / rate, &alone);
    end(p, &alone);
    dsp_pipeline_free(&p);
    assert_true(alone.n > 300);

    synth_t b = runner(0.7, 0.25, 0x1234567ull), c = runner(0.62, 0.21, 99), d = runner(1.1, 0.7, 7);
    dsp_pipeline_t *o1 = dsp_pipeline_new(&set);
    dsp_pipeline_t *q = dsp_pipeline_new_with(&set, o1);
    dsp_pipeline_t *o2 = dsp_pipeline_new_with(&set, q);
    assert_non_null(o1);
    assert_non_null(q);
    assert_non_null(o2);
    for (long i = 0; i < (long)(dur * rate); i++) {
        double t = i / rate;
        if (o2) /* the other runner starts later, on another clock, and stands from 40 to 70 s */
            push_instant(o2, &c, t + 0.0137, &other2);
        push_instant(q, &b, t, &shared);
        if (o1) {
            if (t >= 40.0 && t < 70.0)
                d.Ap = d.Aw = 0.0;
            else
                d.Ap = 450.0, d.Aw = 320.0;
            push_instant(o1, &d, t + 3.3, &other1);
        }
        if (i == (long)(50.0 * rate))
            dsp_pipeline_free(&o1); /* its owner goes: the workspace stays with the others */
    }
    end(q, &shared);
    end(o2, &other2);
    dsp_pipeline_free(&o2);
    assert_null(o1);
    assert_true(other2.n > 300);

    assert_int_equal(shared.n, alone.n);
    for (int i = 0; i < alone.n; i++) {
        const dsp_stride_t *x = &shared.st[i], *y = &alone.st[i];
        assert_int_equal(x->foot, y->foot);
        assert_int_equal(x->mode, y->mode);
        assert_true(x->t_ic == y->t_ic && x->t_to == y->t_to && x->t_next_ic == y->t_next_ic);
        for (int m = 0; m < DSP_NMETRIC; m++)
            assert_true(same(dsp_stride_metric(x, m), dsp_stride_metric(y, m)));
    }
    assert_memory_equal(&shared.sum, &alone.sum, sizeof alone.sum);
    assert_memory_equal(&shared.win, &alone.win, sizeof alone.win);
    dsp_pipeline_free(&q);
    assert_null(q);
}

/* 2 h alternating 15 s of slow strides and 15 s of running at 100 Hz: walking strides scattered
 * over the bins take more (mode, foot) cells than the accumulators kept, so the bins merge early.
 * The thirds still cover the first and last third of the running span, and a session without
 * drift shows none. */
static void test_drift_many_mode_changes(void **state)
{
    (void)state;
    const double rate = 100.0, dur = 7200.0;
    dsp_settings_t set = dsp_settings_default();
    dsp_pipeline_t *p = dsp_pipeline_new(&set);
    assert_non_null(p);
    static out_t o;
    memset(&o, 0, sizeof o);
    synth_t run = runner(0.7, 0.25, 5), walk = runner(1.1, 0.7, 6);
    walk.Ap = 450.0;
    walk.Aw = 320.0;
    for (long i = 0; i < (long)(dur * rate); i++) {
        double t = i / rate;
        synth_t *sy = fmod(t, 30.0) < 15.0 ? &walk : &run;
        push_instant(p, sy, t, &o);
        o.n = 0; /* strides are not kept (the summary has them) */
    }
    end(p, &o);
    dsp_pipeline_free(&p);
    const dsp_summary_t *s = &o.sum;
    assert_true(s->n_running > 10000);
    assert_true(s->n_walking > 100); /* the slow strides are mostly taken for running: fine */
    double span = s->last_third.t_end - s->first_third.t_start;
    assert_true(span > 7000.0 && span < 7200.0);
    /* bins are at most 1/32 of the span wide (merged early: at most 1/16) */
    double third = span / 3.0;
    assert_true(fabs((s->first_third.t_end - s->first_third.t_start) - third) < span / 16.0);
    assert_true(fabs((s->last_third.t_end - s->last_third.t_start) - third) < span / 16.0);
    uint32_t n1 = s->first_third.foot[0].n + s->first_third.foot[1].n;
    uint32_t n3 = s->last_third.foot[0].n + s->last_third.foot[1].n;
    assert_true(fabs((double)n1 / s->n_running - 1.0 / 3.0) < 1.0 / 12.0);
    assert_true(fabs((double)n3 / s->n_running - 1.0 / 3.0) < 1.0 / 12.0);
    assert_int_equal(s->first_third.mode, DSP_MODE_RUN);
    /* the same runner throughout: no drift beyond noise */
    assert_true(fabs(s->drift_per_10min[DSP_M_STRIDE]) < 0.002);
    assert_true(fabs(s->drift_per_10min[DSP_M_CONTACT]) < 0.002);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shared_workspace_identical),
        cmocka_unit_test(test_drift_many_mode_changes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
