/* test_input_frames.c - daemon/input.c's recording path with frames that overlap, repeat, go
 * back in time or leave gaps, for two feet: the samples yielded are exactly those of the rule
 * "a foot's sample is kept when it is later than the last one kept for that foot", merged by
 * time with ties left first, computed here from input_frame_to_samples frame by frame. Also with
 * times so large that a frame's samples share a time (the reader may keep a frame whole without
 * comparing its times only when they provably increase: the others take the rule). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include "input.h"
#include "rec_fixture.h"
#include "pod.h"
#include "rec.h"

#define NF 8
#define MAXS (2 * NF * 50)

/* frame start (device us) and sample count per frame, per foot */
static const uint64_t T_US[2][NF] = {
    {0, 50000, 50000, 300000, 100000, 399000, 398000, 500000},
    {0, 100000, 200000, 200000, 150000, 300000, 401000, 500000},
};
static const unsigned N[2][NF] = {{50, 50, 50, 50, 50, 50, 3, 50}, {50, 50, 50, 50, 20, 50, 50, 1}};

typedef struct frames_case {
    uint64_t t_us[2][NF]; /* frame start (device us) */
    unsigned n[2][NF];    /* samples per frame */
    uint16_t rate_hz;
    int64_t clock_offset_us;
} frames_case_t;

static pod_msg_t frame(const frames_case_t *fc, int foot, int k)
{
    pod_msg_t m;
    memset(&m, 0, sizeof m);
    m.type = POD_MSG_SAMPLES;
    m.u.samples.seq = (uint32_t)k;
    m.u.samples.t_dev_us = fc->t_us[foot][k];
    m.u.samples.rate_hz = fc->rate_hz;
    m.u.samples.acc_range_g = 16;
    m.u.samples.gyr_range_dps = 2000;
    m.u.samples.n = (uint16_t)fc->n[foot][k];
    for (unsigned i = 0; i < fc->n[foot][k]; i++)
        for (int c = 0; c < 6; c++)
            m.u.samples.s[i][c] = (int16_t)(k * 100 + (int)i + c * 1000 + foot * 7);
    return m;
}

static void run_case(const frames_case_t *fc)
{
    rec_header_t h;
    rec_fixture_two_pods(&h, (uint16_t)fc->rate_hz, fc->clock_offset_us, fc->clock_offset_us);
    static uint8_t file[1 << 18];
    size_t len = 0;
    assert_int_equal(rec_header_encode(&h, file, sizeof file, &len), 0);
    rec_chunk_t *c = malloc(sizeof *c);
    assert_non_null(c);
    rec_chunk_init(c, 0);
    /* reference: per foot, keep what advances; frames stored L, R alternately */
    static dsp_sample_t want[2][MAXS];
    size_t nw[2] = {0, 0};
    for (int k = 0; k < NF; k++)
        for (int foot = 0; foot < 2; foot++) {
            pod_msg_t m = frame(fc, foot, k);
            uint8_t enc[POD_MAX_FRAME];
            size_t elen;
            assert_int_equal(pod_encode(&m, enc, sizeof enc, &elen), 0);
            assert_int_equal(rec_chunk_add(c, (uint8_t)foot, enc, elen), 0);
            static dsp_sample_t v[POD_MAX_SAMPLES];
            unsigned n = input_frame_to_samples(&h.pods[foot], 0, &m.u.samples, v);
            for (unsigned i = 0; i < n; i++)
                if (nw[foot] == 0 || v[i].t > want[foot][nw[foot] - 1].t)
                    want[foot][nw[foot]++] = v[i];
        }
    size_t bl;
    const uint8_t *b = rec_chunk_finish(c, &bl);
    memcpy(file + len, b, bl);
    len += bl;
    free(c);
    char path[] = "/tmp/gaitd_test_input_frames_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, file, len), (ssize_t)len);
    close(fd);

    char err[256];
    input_t *in = input_open(path, 0, err, sizeof err);
    assert_non_null(in);
    size_t got[2] = {0, 0};
    int foot, rc;
    dsp_sample_t s;
    while ((rc = input_next(in, &foot, &s, err, sizeof err)) == 1) {
        /* merge order: the earlier head, ties left first */
        int f = got[0] < nw[0] ? 0 : 1;
        if (got[0] < nw[0] && got[1] < nw[1] && want[1][got[1]].t < want[0][got[0]].t)
            f = 1;
        assert_int_equal(foot, f);
        assert_true(got[f] < nw[f]);
        const dsp_sample_t *w = &want[f][got[f]++];
        assert_true(s.t == w->t);
        assert_memory_equal(s.acc, w->acc, sizeof s.acc);
        assert_memory_equal(s.gyr, w->gyr, sizeof s.gyr);
        assert_int_equal(s.saturated, w->saturated);
    }
    assert_int_equal(rc, 0);
    assert_int_equal(got[0], nw[0]);
    assert_int_equal(got[1], nw[1]);
    assert_false(input_damaged(in));
    input_free(&in);
    unlink(path);
}

static void test_overlapping_frames(void **state)
{
    (void)state;
    frames_case_t fc;
    memcpy(fc.t_us, T_US, sizeof fc.t_us);
    memcpy(fc.n, N, sizeof fc.n);
    fc.rate_hz = 500;
    fc.clock_offset_us = 1000000;
    run_case(&fc);
}

/* device times near 2^63 us: at 1000 Hz neighbouring samples round to the same time (in us the
 * spacing of doubles there is 2048), so frames do not increase strictly; with a clock offset
 * that brings them back to 2^40 us they do again */
static void test_times_that_collapse(void **state)
{
    (void)state;
    frames_case_t fc;
    memcpy(fc.n, N, sizeof fc.n);
    fc.rate_hz = 1000;
    for (int f = 0; f < 2; f++)
        for (int k = 0; k < NF; k++)
            fc.t_us[f][k] = 9000000000000000000ull + 2 * T_US[f][k];
    fc.clock_offset_us = 0;
    run_case(&fc);
    fc.clock_offset_us = -9000000000000000000ll + (1ll << 40);
    run_case(&fc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_overlapping_frames),
        cmocka_unit_test(test_times_that_collapse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
