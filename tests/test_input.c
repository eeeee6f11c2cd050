/* test_input.c - daemon/input.c (CSV and recordings, damage reporting, merge order, rate
 * inference, input_frame_to_samples) and `gaitctl convert` (cmd_convert.c compiled in):
 * a CSV -> .gaitrec -> CSV round trip keeps every sample within int16 quantisation. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include "crc.h"
#include "gaitctl.h"
#include "input.h"
#include "rec_fixture.h"
#include "pod.h"
#include "proto.h"
#include "rec.h"

#define Q_ACC (16 * 9.80665 / 32768.0)
#define Q_GYR (2000.0 / 32768.0)
#define MAX_FILES 64

typedef struct fixture {
    char dir[64];
    char files[MAX_FILES][128];
    int n_files;
} fixture_t;

static int setup(void **state)
{
    fixture_t *fx = calloc(1, sizeof *fx);
    if (!fx)
        return -1;
    snprintf(fx->dir, sizeof fx->dir, "/tmp/gaitd_test_input_XXXXXX");
    if (!mkdtemp(fx->dir)) {
        free(fx);
        return -1;
    }
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *fx = *state;
    for (int i = 0; i < fx->n_files; i++)
        unlink(fx->files[i]);
    rmdir(fx->dir);
    free(fx);
    return 0;
}

/* Path of a file in the fixture directory (removed at teardown). */
static const char *tpath(fixture_t *fx, const char *name)
{
    assert_true(fx->n_files < MAX_FILES);
    char dir[sizeof fx->dir];
    memcpy(dir, fx->dir, sizeof dir);
    char *p = fx->files[fx->n_files++];
    snprintf(p, 128, "%s/%s", dir, name);
    return p;
}

static void write_bytes(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

static void write_text(const char *path, const char *text)
{
    write_bytes(path, text, strlen(text));
}

static uint8_t *read_bytes(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    uint8_t *buf = malloc(1 << 24);
    *n = fread(buf, 1, 1 << 24, f);
    fclose(f);
    return buf;
}

typedef struct got {
    int foot;
    dsp_sample_t s;
} got_t;

typedef struct all {
    got_t *v;
    size_t n;
    char errs[16][300];
    int n_err;
} all_t;

/* Reads every sample (and error) of path. */
static all_t *read_all(const char *path, double rate)
{
    char err[300];
    input_t *in = input_open(path, rate, err, sizeof err);
    if (!in)
        fail_msg("open %s: %s", path, err);
    all_t *a = calloc(1, sizeof *a);
    a->v = malloc(sizeof *a->v * 200000);
    int rc, foot;
    dsp_sample_t s;
    while ((rc = input_next(in, &foot, &s, err, sizeof err)) != 0) {
        if (rc < 0) {
            assert_true(a->n_err < 16);
            strcpy(a->errs[a->n_err++], err);
            continue;
        }
        assert_true(a->n < 200000);
        a->v[a->n].foot = foot;
        a->v[a->n].s = s;
        a->n++;
    }
    assert_int_equal(input_damaged(in) != 0, a->n_err > 0);
    input_free(&in);
    assert_null(in);
    return a;
}

static void free_all(all_t *a)
{
    free(a->v);
    free(a);
}

/* Time order across feet, ties L before R; strictly increasing per foot. */
static void assert_merged(const all_t *a)
{
    double last[2] = {-INFINITY, -INFINITY};
    for (size_t i = 0; i < a->n; i++) {
        if (i > 0) {
            assert_true(a->v[i].s.t >= a->v[i - 1].s.t);
            if (a->v[i].s.t == a->v[i - 1].s.t)
                assert_true(a->v[i - 1].foot <= a->v[i].foot);
        }
        assert_true(a->v[i].s.t > last[a->v[i].foot]);
        last[a->v[i].foot] = a->v[i].s.t;
    }
}

/* ---- CSV ---- */

/* A CSV with both feet at `rate`, values a function of (foot, i). */
static char *make_csv(int n, double rate, double t0)
{
    size_t cap = (size_t)n * 2 * 120 + 256;
    char *s = malloc(cap), *p = s;
    p += sprintf(p, "# a comment\n%s\n", "time_s,foot,acc_x,acc_y,acc_z,gyr_x,gyr_y,gyr_z");
    for (int i = 0; i < n; i++)
        for (int f = 0; f < 2; f++)
            p += sprintf(p, "%.6f,%c,%.4f,%.4f,%.4f,%.3f,%.3f,%.3f\n", t0 + i / rate, f ? 'R' : 'L',
                         sin(i * 0.1 + f) * 50, cos(i * 0.07) * 20, 9.81 + f, sin(i * 0.05) * 800,
                         -300.0 + f * 10, (double)(i % 100));
    return s;
}

static void test_csv_basic(void **state)
{
    fixture_t *fx = *state;
    const char *path = tpath(fx, "tempo_run.1.csv");
    char *text = make_csv(300, 500, 12.0);
    write_text(path, text);
    free(text);

    char err[300];
    input_t *in = input_open(path, 0, err, sizeof err);
    assert_non_null(in);
    assert_int_equal(input_format(in), INPUT_CSV);
    const rec_header_t *h = input_header(in);
    assert_string_equal(h->athlete, "tempo_run.1");
    assert_int_equal(h->n_pods, 2);
    assert_int_equal(h->pods[0].foot, 'L');
    assert_int_equal(h->pods[1].foot, 'R');
    assert_string_equal(h->pods[0].serial, "csv-L");
    assert_string_equal(h->pods[1].serial, "csv-R");
    for (int p = 0; p < 2; p++) {
        assert_int_equal(h->pods[p].rate_hz, 500);
        assert_int_equal(h->pods[p].acc_range_g, 16);
        assert_int_equal(h->pods[p].gyr_range_dps, 2000);
    }
    input_free(&in);

    all_t *a = read_all(path, 0);
    assert_int_equal(a->n, 600);
    assert_int_equal(a->n_err, 0);
    assert_merged(a);
    assert_int_equal(a->v[0].foot, DSP_LEFT);
    assert_int_equal(a->v[1].foot, DSP_RIGHT);
    assert_true(fabs(a->v[2].s.t - 12.002) < 1e-9);
    assert_true(a->v[1].s.acc[2] == (float)10.81);
    free_all(a);
}

static void test_csv_damage(void **state)
{
    fixture_t *fx = *state;
    const char *path = tpath(fx, "damaged.csv");
    write_text(path, "\xEF\xBB\xBFtime_s,foot,acc_x,acc_y,acc_z,gyr_x,gyr_y,gyr_z\n" /* 1 */
                     "0.000,L,0,0,9.8,0,0,0\n"                           /* 2 */
                     "0.000,R,0,0,9.8,0,0,0\n"                           /* 3 */
                     "0.010,L,0,0,9.8,0,0\n"                             /* 4: 7 fields */
                     "0.010,R,0,0,9.8,0,0,0\n"                           /* 5 */
                     "0.020,L,0,0,9.8,0,0,0\n"                           /* 6 */
                     "0.005,L,0,0,9.8,0,0,0\n"                           /* 7: back */
                     "0.020,R,abc,0,9.8,0,0,0\n"                         /* 8 */
                     "0.030,L,0,0,9.8,0,0,0\n"                           /* 9 */
                     "0.030,R,0,0,9.8,0,0,0");                           /* 10, no \n */
    all_t *a = read_all(path, 0);
    assert_int_equal(a->n, 6);
    assert_merged(a);
    assert_int_equal(a->n_err, 3);
    char want[300];
    snprintf(want, sizeof want, "%s:4: expected 8 fields, got 7", path);
    assert_string_equal(a->errs[0], want);
    snprintf(want, sizeof want, "%s:7: ", path);
    assert_memory_equal(a->errs[1], want, strlen(want));
    assert_non_null(strstr(a->errs[1], "does not advance"));
    snprintf(want, sizeof want, "%s:8: field 3 (acc_x): not a number: 'abc'", path);
    assert_string_equal(a->errs[2], want);
    free_all(a);
}

static void test_csv_foot_blocks_are_merged(void **state)
{
    fixture_t *fx = *state;
    const char *path = tpath(fx, "blocks.csv");
    char *s = malloc(100000), *p = s;
    for (int f = 0; f < 2; f++)
        for (int i = 0; i < 200; i++)
            p += sprintf(p, "%.4f,%c,1,2,3,4,5,6\n", 100.0 + i * 0.01 + f * 0.003, f ? 'R' : 'L');
    write_text(path, s);
    free(s);
    all_t *a = read_all(path, 0);
    assert_int_equal(a->n, 400);
    assert_merged(a);
    assert_int_equal(a->v[0].foot, DSP_LEFT);
    assert_int_equal(a->v[1].foot, DSP_RIGHT);
    free_all(a);
    char err[300];
    input_t *in = input_open(path, 0, err, sizeof err);
    assert_int_equal(input_header(in)->pods[0].rate_hz, 100);
    input_free(&in);
}

static void test_csv_rates(void **state)
{
    fixture_t *fx = *state;
    char err[300];
    /* 300 Hz with timestamps rounded to the millisecond; one foot only */
    const char *path = tpath(fx, "ms.csv");
    char *s = malloc(100000), *p = s;
    for (int i = 0; i < 300; i++)
        p += sprintf(p, "%.3f,R,1,2,3,4,5,6\n", i / 300.0);
    write_text(path, s);
    input_t *in = input_open(path, 0, err, sizeof err);
    assert_non_null(in);
    assert_int_equal(input_header(in)->n_pods, 1);
    assert_int_equal(input_header(in)->pods[0].foot, 'R');
    assert_int_equal(input_header(in)->pods[0].rate_hz, 300);
    input_free(&in);
    in = input_open(path, 250, err, sizeof err);
    assert_int_equal(input_header(in)->pods[0].rate_hz, 250);
    input_free(&in);

    /* 20 Hz: out of range, unless overridden */
    path = tpath(fx, "slow.csv");
    p = s;
    for (int i = 0; i < 100; i++)
        p += sprintf(p, "%.3f,L,1,2,3,4,5,6\n", i / 20.0);
    write_text(path, s);
    assert_null(input_open(path, 0, err, sizeof err));
    assert_non_null(strstr(err, path));
    assert_non_null(strstr(err, "outside 50..2000"));
    in = input_open(path, 100, err, sizeof err);
    assert_non_null(in);
    input_free(&in);
    free(s);

    /* not CSV at all, and a missing file */
    path = tpath(fx, "binary.csv");
    const uint8_t junk[] = {0, 1, 2, 0xFF, '\n', 0x80, 'x', ',', '\n'};
    write_bytes(path, junk, sizeof junk);
    assert_null(input_open(path, 0, err, sizeof err));
    assert_non_null(strstr(err, path));
    path = tpath(fx, "missing.csv");
    assert_null(input_open(path, 0, err, sizeof err));
    assert_non_null(strstr(err, "cannot open"));
}

/* ---- recordings ---- */

static void test_frame_to_samples(void **state)
{
    (void)state;
    rec_pod_t pod;
    memset(&pod, 0, sizeof pod);
    pod.foot = 'L';
    pod.rate_hz = 400;
    pod.acc_range_g = 8;
    pod.gyr_range_dps = 500;
    for (int k = 0; k < 3; k++) {
        pod.acc_bias[k] = 0.1f * (float)k;
        pod.acc_scale[k] = 1.01f;
        pod.gyr_bias[k] = 2.0f;
    }
    pod.clock_offset_us = 1700000000000000ll;
    pod_samples_t f;
    memset(&f, 0, sizeof f);
    f.t_dev_us = 5000000;
    f.rate_hz = 400;
    f.acc_range_g = 8;
    f.gyr_range_dps = 500;
    f.n = 3;
    for (int i = 0; i < 3; i++)
        for (int k = 0; k < 6; k++)
            f.s[i][k] = (int16_t)(1000 * (i + 1) - 300 * k);
    f.s[2][1] = INT16_MIN;
    dsp_sample_t out[POD_MAX_SAMPLES];
    assert_int_equal(input_frame_to_samples(&pod, 1700000000000000ll, &f, out), 3);
    for (int i = 0; i < 3; i++) {
        assert_true(fabs(out[i].t - (5.0 + i * 0.0025)) < 1e-12);
        dsp_calib_t cal = {{0, 0.1f, 0.2f}, {1.01f, 1.01f, 1.01f}, {2, 2, 2}};
        dsp_sample_t want;
        dsp_raw_to_si(f.s[i], 8, 500, &cal, &want);
        assert_memory_equal(out[i].acc, want.acc, sizeof want.acc);
        assert_memory_equal(out[i].gyr, want.gyr, sizeof want.gyr);
        assert_int_equal(out[i].saturated, want.saturated);
    }
    assert_int_equal(out[2].saturated & 1, 1);
    /* absolute times when t0 = 0 */
    assert_int_equal(input_frame_to_samples(&pod, 0, &f, out), 3);
    assert_true(fabs(out[1].t - (1700000005.0 + 0.0025)) < 1e-6);
}

/* dsp_raw_to_si_block (the per-frame conversion behind input_frame_to_samples) gives exactly
 * what dsp_raw_to_si gives sample by sample: rails, calibration or none, every range. */
static void test_raw_to_si_block(void **state)
{
    (void)state;
    static int16_t raw[POD_MAX_SAMPLES][6];
    uint32_t x = 2463534242u;
    for (unsigned i = 0; i < POD_MAX_SAMPLES; i++)
        for (int k = 0; k < 6; k++) {
            x ^= x << 13, x ^= x >> 17, x ^= x << 5;
            raw[i][k] = (int16_t)(i % 17 == 3 ? (k % 2 ? INT16_MIN : INT16_MAX) : (int)(x % 65536) - 32768);
        }
    dsp_calib_t cal = {{0.05f, -0.02f, 0.3f}, {1.01f, 0.99f, 1.003f}, {-1.5f, 0.25f, 2.0f}};
    const unsigned acc[] = {2, 16, 32}, gyr[] = {125, 2000, 4000};
    for (int c = 0; c < 2; c++)
        for (int r = 0; r < 3; r++) {
            static dsp_sample_t blk[POD_MAX_SAMPLES];
            dsp_raw_to_si_block((const int16_t(*)[6])raw, POD_MAX_SAMPLES, acc[r], gyr[r],
                                c ? &cal : NULL, blk);
            for (unsigned i = 0; i < POD_MAX_SAMPLES; i++) {
                dsp_sample_t one;
                memset(&one, 0, sizeof one);
                dsp_raw_to_si(raw[i], acc[r], gyr[r], c ? &cal : NULL, &one);
                assert_memory_equal(blk[i].acc, one.acc, sizeof one.acc);
                assert_memory_equal(blk[i].gyr, one.gyr, sizeof one.gyr);
                assert_int_equal(blk[i].saturated, one.saturated);
            }
        }
}

typedef struct recfile {
    uint8_t *buf;
    size_t len;
    size_t chunk_off[16];
    int n_chunks;
    size_t rec_off[64]; /* file offset of record i */
    int n_recs;
} recfile_t;

static pod_msg_t frame(uint32_t seq, uint64_t t_us, unsigned n, int foot)
{
    pod_msg_t m;
    memset(&m, 0, sizeof m);
    m.type = POD_MSG_SAMPLES;
    m.u.samples.seq = seq;
    m.u.samples.t_dev_us = t_us;
    m.u.samples.rate_hz = 500;
    m.u.samples.acc_range_g = 16;
    m.u.samples.gyr_range_dps = 2000;
    m.u.samples.n = (uint16_t)n;
    for (unsigned i = 0; i < n; i++)
        for (int k = 0; k < 6; k++)
            m.u.samples.s[i][k] = (int16_t)(seq * 10 + i + (unsigned)k * 1000 + foot * 7);
    return m;
}

/* Two pods (L: clock offset 1 s, R: 1.001 s), 10 frames of 50 samples each per foot, R frames
 * stored one frame late, plus an ACK record; 4 chunks. */
static recfile_t make_rec(void)
{
    recfile_t r;
    memset(&r, 0, sizeof r);
    r.buf = malloc(1 << 20);
    rec_header_t h;
    rec_fixture_two_pods(&h, 500, 1000000, 1001000);
    assert_int_equal(rec_header_encode(&h, r.buf, 1 << 20, &r.len), 0);
    rec_chunk_t *c = malloc(sizeof *c);
    uint8_t enc[POD_MAX_FRAME];
    size_t elen;
    int per_chunk = 6;
    rec_chunk_init(c, 0);
    int in_chunk = 0;
    for (int k = 0; k <= 10; k++) {
        for (int foot = 0; foot < 2; foot++) {
            int fi = foot ? k - 1 : k; /* R one frame late */
            if (fi < 0 || fi >= 10)
                continue;
            pod_msg_t m = frame((uint32_t)fi, (uint64_t)fi * 100000, 50, foot);
            assert_int_equal(pod_encode(&m, enc, sizeof enc, &elen), 0);
            r.rec_off[r.n_recs++] = r.len + 12 + rec_chunk_payload(c);
            assert_int_equal(rec_chunk_add(c, (uint8_t)foot, enc, elen), 0);
            if (++in_chunk >= per_chunk) {
                size_t bl;
                const uint8_t *b = rec_chunk_finish(c, &bl);
                r.chunk_off[r.n_chunks++] = r.len;
                memcpy(r.buf + r.len, b, bl);
                r.len += bl;
                rec_chunk_init(c, c->index + 1);
                in_chunk = 0;
            }
        }
        if (k == 3) { /* a reply stored with the samples */
            pod_msg_t ack;
            memset(&ack, 0, sizeof ack);
            ack.type = POD_REP_ACK;
            ack.u.ack.cmd = POD_CMD_START_STREAM;
            assert_int_equal(pod_encode(&ack, enc, sizeof enc, &elen), 0);
            r.rec_off[r.n_recs++] = r.len + 12 + rec_chunk_payload(c);
            assert_int_equal(rec_chunk_add(c, 0, enc, elen), 0);
            ++in_chunk;
        }
    }
    size_t bl;
    const uint8_t *b = rec_chunk_finish(c, &bl);
    r.chunk_off[r.n_chunks++] = r.len;
    memcpy(r.buf + r.len, b, bl);
    r.len += bl;
    free(c);
    return r;
}

static void test_recording_merge(void **state)
{
    fixture_t *fx = *state;
    recfile_t r = make_rec();
    const char *path = tpath(fx, "two.gaitrec");
    write_bytes(path, r.buf, r.len);
    char err[300];
    input_t *in = input_open(path, 0, err, sizeof err);
    assert_non_null(in);
    assert_int_equal(input_format(in), INPUT_RECORDING);
    assert_string_equal(input_header(in)->athlete, "ana");
    input_free(&in);
    all_t *a = read_all(path, 0);
    assert_int_equal(a->n_err, 0);
    assert_int_equal(a->n, 1000);
    assert_merged(a);
    /* first L sample at 1.000 s, first R at 1.001 s; values through dsp_raw_to_si */
    assert_int_equal(a->v[0].foot, DSP_LEFT);
    assert_true(fabs(a->v[0].s.t - 1.0) < 1e-12);
    size_t i = 1;
    while (a->v[i].foot != DSP_RIGHT)
        i++;
    assert_true(fabs(a->v[i].s.t - 1.001) < 1e-12);
    pod_msg_t m = frame(0, 0, 50, 1);
    dsp_sample_t want;
    dsp_raw_to_si(m.u.samples.s[0], 16, 2000, NULL, &want);
    assert_memory_equal(a->v[i].s.acc, want.acc, sizeof want.acc);
    free_all(a);
    free(r.buf);
}

static void test_recording_damage(void **state)
{
    fixture_t *fx = *state;
    recfile_t r = make_rec();
    assert_true(r.n_chunks >= 3);
    /* truncated inside chunk 2: chunks 0 and 1 are yielded, then the damage */
    const char *path = tpath(fx, "cut.gaitrec");
    write_bytes(path, r.buf, r.chunk_off[2] + 30);
    all_t *a = read_all(path, 0);
    assert_int_equal(a->n_err, 1);
    char want[300];
    snprintf(want, sizeof want, "%s: byte %zu: ", path, r.chunk_off[2]);
    assert_memory_equal(a->errs[0], want, strlen(want));
    assert_merged(a);
    /* 12 records in chunks 0-1, one of them the ACK: 11 frames of 50 samples */
    assert_int_equal(a->n, 11 * 50);
    free_all(a);

    /* a record whose pod frame is corrupt (chunk CRC recomputed, so the chunk is intact) */
    int bad = 8; /* L4; record 7 is the ACK */
    size_t ci = 0;
    while (ci + 1 < (size_t)r.n_chunks && r.chunk_off[ci + 1] <= r.rec_off[bad])
        ci++;
    r.buf[r.rec_off[bad] + 3 + 40] ^= 0x01;
    size_t plen = proto_get_u32le(r.buf + r.chunk_off[ci] + 8);
    proto_put_u32le(r.buf + r.chunk_off[ci] + 12 + plen,
                    proto_crc32(r.buf + r.chunk_off[ci] + 4, 8 + plen));
    path = tpath(fx, "badframe.gaitrec");
    write_bytes(path, r.buf, r.len);
    a = read_all(path, 0);
    assert_int_equal(a->n_err, 1);
    snprintf(want, sizeof want, "%s: byte %zu: ", path, r.rec_off[bad]);
    assert_memory_equal(a->errs[0], want, strlen(want));
    assert_non_null(strstr(a->errs[0], "CRC"));
    /* records 0..7 hold 7 frames of samples (one is the ACK) */
    assert_int_equal(a->n, 7 * 50);
    free_all(a);
    free(r.buf);

    /* header damage: open fails with the offset */
    r = make_rec();
    r.buf[20] ^= 0x40;
    path = tpath(fx, "badhdr.gaitrec");
    write_bytes(path, r.buf, r.len);
    char err[300];
    assert_null(input_open(path, 0, err, sizeof err));
    snprintf(want, sizeof want, "%s: byte 0: header CRC mismatch", path);
    assert_string_equal(err, want);
    free(r.buf);
}

/* A recording larger than input.c's read window (about 1.3 MB): chunk 0 near the largest legal
 * size (1 MiB), then chunks of about 64 KiB; 2 pods x 700 frames x 100 samples (1.7 MB). */
#define BIG_FRAMES 700
static recfile_t make_big_rec(size_t *chunk_off, size_t *n_chunks, size_t *rec_off)
{
    recfile_t r;
    memset(&r, 0, sizeof r);
    r.buf = malloc(4u << 20);
    rec_header_t h;
    rec_header_init(&h);
    strcpy(h.athlete, "big");
    h.n_pods = 2;
    for (int p = 0; p < 2; p++) {
        snprintf(h.pods[p].serial, sizeof h.pods[p].serial, "P%d", p);
        h.pods[p].foot = p ? 'R' : 'L';
        h.pods[p].rate_hz = 500;
        h.pods[p].acc_range_g = 16;
        h.pods[p].gyr_range_dps = 2000;
    }
    assert_int_equal(rec_header_encode(&h, r.buf, 4u << 20, &r.len), 0);
    rec_chunk_t *c = malloc(sizeof *c);
    uint8_t enc[POD_MAX_FRAME];
    size_t elen, nrec = 0;
    *n_chunks = 0;
    rec_chunk_init(c, 0);
    for (int k = 0; k < BIG_FRAMES; k++) {
        for (int foot = 0; foot < 2; foot++) {
            pod_msg_t m = frame((uint32_t)k, (uint64_t)k * 200000, 100, foot);
            assert_int_equal(pod_encode(&m, enc, sizeof enc, &elen), 0);
            size_t limit = *n_chunks == 0 ? REC_MAX_CHUNK : 65536;
            if (rec_chunk_payload(c) + REC_RECORD_OVERHEAD + elen > limit) {
                size_t bl;
                const uint8_t *b = rec_chunk_finish(c, &bl);
                chunk_off[(*n_chunks)++] = r.len;
                memcpy(r.buf + r.len, b, bl);
                r.len += bl;
                rec_chunk_init(c, c->index + 1);
            }
            rec_off[nrec++] = r.len + 12 + rec_chunk_payload(c);
            assert_int_equal(rec_chunk_add(c, (uint8_t)foot, enc, elen), 0);
        }
    }
    size_t bl;
    const uint8_t *b = rec_chunk_finish(c, &bl);
    chunk_off[(*n_chunks)++] = r.len;
    memcpy(r.buf + r.len, b, bl);
    r.len += bl;
    free(c);
    return r;
}

static void test_recording_streamed(void **state)
{
    fixture_t *fx = *state;
    static size_t chunk_off[64], rec_off[2 * BIG_FRAMES];
    size_t n_chunks;
    recfile_t r = make_big_rec(chunk_off, &n_chunks, rec_off);
    assert_true(r.len > (3u << 19) && n_chunks > 8);
    assert_true(chunk_off[1] - chunk_off[0] > 1000000); /* a chunk near the 1 MiB limit */
    const char *path = tpath(fx, "big.gaitrec");
    write_bytes(path, r.buf, r.len);
    all_t *a = read_all(path, 0);
    assert_int_equal(a->n_err, 0);
    assert_int_equal(a->n, 2 * BIG_FRAMES * 100);
    assert_merged(a);
    /* the last sample of the right foot: frame BIG_FRAMES-1, sample 99 */
    pod_msg_t m = frame(BIG_FRAMES - 1, 0, 100, 1);
    dsp_sample_t want;
    dsp_raw_to_si(m.u.samples.s[99], 16, 2000, NULL, &want);
    assert_int_equal(a->v[a->n - 1].foot, DSP_RIGHT);
    assert_memory_equal(a->v[a->n - 1].s.acc, want.acc, sizeof want.acc);
    assert_memory_equal(a->v[a->n - 1].s.gyr, want.gyr, sizeof want.gyr);
    free_all(a);

    /* cut inside a chunk beyond the first window: every chunk before it, then the damage at
     * that chunk's file offset */
    size_t ci = n_chunks - 3;
    path = tpath(fx, "bigcut.gaitrec");
    write_bytes(path, r.buf, chunk_off[ci] + 100);
    a = read_all(path, 0);
    assert_int_equal(a->n_err, 1);
    char msg[300];
    snprintf(msg, sizeof msg, "%s: byte %zu: ", path, chunk_off[ci]);
    assert_memory_equal(a->errs[0], msg, strlen(msg));
    size_t recs = 0;
    while (rec_off[recs] < chunk_off[ci])
        recs++;
    assert_int_equal(a->n, recs * 100);
    free_all(a);

    /* a corrupt pod frame beyond the first window, its chunk's CRC recomputed: reported at the
     * record's offset as a frame CRC mismatch (the chunk pass checks frame CRCs too) */
    size_t bad = 2 * BIG_FRAMES - 40;
    ci = 0;
    while (ci + 1 < n_chunks && chunk_off[ci + 1] <= rec_off[bad])
        ci++;
    r.buf[rec_off[bad] + 3 + 100] ^= 0x01;
    size_t plen = proto_get_u32le(r.buf + chunk_off[ci] + 8);
    proto_put_u32le(r.buf + chunk_off[ci] + 12 + plen,
                    proto_crc32(r.buf + chunk_off[ci] + 4, 8 + plen));
    path = tpath(fx, "bigbad.gaitrec");
    write_bytes(path, r.buf, r.len);
    a = read_all(path, 0);
    assert_int_equal(a->n_err, 1);
    snprintf(msg, sizeof msg, "%s: byte %zu: ", path, rec_off[bad]);
    assert_memory_equal(a->errs[0], msg, strlen(msg));
    assert_non_null(strstr(a->errs[0], "CRC"));
    assert_int_equal(a->n, bad * 100);
    free_all(a);
    free(r.buf);
}

/* ---- gaitctl convert ---- */

static int run_convert(const char *a, const char *b, const char *c)
{
    char *argv[5] = {(char *)"convert", (char *)a, (char *)b, (char *)c, NULL};
    int argc = 1 + (a != NULL) + (b != NULL) + (c != NULL);
    return cmd_convert(argc, argv);
}

static void test_convert_roundtrip(void **state)
{
    fixture_t *fx = *state;
    /* 1000 Hz, random values inside the ranges, a dropout on L and jittered times on R */
    const char *csv = tpath(fx, "rt.csv");
    char *s = malloc(1 << 22), *p = s;
    p += sprintf(p, "%s\n", "time_s,foot,acc_x,acc_y,acc_z,gyr_x,gyr_y,gyr_z");
    srand(42);
    for (int i = 0; i < 3000; i++) {
        for (int f = 0; f < 2; f++) {
            if (f == 0 && i >= 1000 && i < 1100)
                continue; /* dropout */
            double t = 3600.0 + i * 0.001 + (f == 1 && i % 17 == 0 ? 0.000123 : 0);
            p += sprintf(p, "%.6f,%c", t, f ? 'R' : 'L');
            for (int k = 0; k < 3; k++)
                p += sprintf(p, ",%.7f", ((double)rand() / RAND_MAX - 0.5) * 2 * 15.9 * 9.80665);
            for (int k = 0; k < 3; k++)
                p += sprintf(p, ",%.5f", ((double)rand() / RAND_MAX - 0.5) * 2 * 1990.0);
            p += sprintf(p, "\n");
        }
    }
    write_text(csv, s);
    free(s);
    const char *rec = tpath(fx, "rt.gaitrec");
    const char *back = tpath(fx, "rt_back.csv");
    assert_int_equal(run_convert(csv, rec, NULL), 0);
    assert_int_equal(run_convert(rec, back, NULL), 0);

    char err[300];
    input_t *in = input_open(rec, 0, err, sizeof err);
    assert_non_null(in);
    const rec_header_t *h = input_header(in);
    assert_string_equal(h->source, "csv-import");
    assert_string_equal(h->athlete, "rt");
    assert_int_equal(h->n_pods, 2);
    assert_int_equal(h->pods[0].rate_hz, 1000);
    assert_true(h->pods[0].clock_offset_us == 3600000000ll);
    assert_true(h->pods[1].clock_offset_us == 3600000123ll); /* R's first sample is jittered */
    input_free(&in);

    all_t *a = read_all(csv, 0);
    all_t *r = read_all(rec, 0);
    all_t *b = read_all(back, 0);
    assert_int_equal(a->n, 2 * 3000 - 100);
    assert_int_equal(r->n, a->n);
    assert_int_equal(b->n, a->n);
    double max_t = 0, max_a = 0, max_g = 0;
    for (size_t i = 0; i < a->n; i++) {
        assert_int_equal(a->v[i].foot, b->v[i].foot);
        assert_int_equal(a->v[i].foot, r->v[i].foot);
        max_t = fmax(max_t, fabs(a->v[i].s.t - b->v[i].s.t));
        max_t = fmax(max_t, fabs(a->v[i].s.t - r->v[i].s.t));
        for (int k = 0; k < 3; k++) {
            max_a = fmax(max_a, fabs((double)a->v[i].s.acc[k] - b->v[i].s.acc[k]));
            max_g = fmax(max_g, fabs((double)a->v[i].s.gyr[k] - b->v[i].s.gyr[k]));
            /* the CSV written back holds exactly the recording's values */
            assert_true(r->v[i].s.acc[k] == b->v[i].s.acc[k]);
            assert_true(r->v[i].s.gyr[k] == b->v[i].s.gyr[k]);
        }
    }
    print_message("round trip: max |dt| %.3g s, max |dacc| %.3f LSB, max |dgyr| %.3f LSB\n", max_t,
                  max_a / Q_ACC, max_g / Q_GYR);
    assert_true(max_t <= 1e-6);
    assert_true(max_a <= Q_ACC);
    assert_true(max_g <= Q_GYR);
    free_all(a);
    free_all(r);
    free_all(b);

    /* .gaitrec -> .gaitrec keeps the samples too */
    const char *rec2 = tpath(fx, "rt2.gaitrec");
    assert_int_equal(run_convert(rec, rec2, NULL), 0);
    r = read_all(rec, 0);
    b = read_all(rec2, 0);
    assert_int_equal(r->n, b->n);
    for (size_t i = 0; i < r->n; i++) {
        assert_true(fabs(r->v[i].s.t - b->v[i].s.t) <= 1e-6);
        assert_memory_equal(r->v[i].s.acc, b->v[i].s.acc, sizeof r->v[i].s.acc);
    }
    free_all(r);
    free_all(b);
}

/* Data beyond 16 g / 2000 deg/s: the CSV header widens the ranges, nothing is clipped. */
static void test_convert_wide_range(void **state)
{
    fixture_t *fx = *state;
    const char *csv = tpath(fx, "hard.csv");
    char *s = malloc(1 << 20), *p = s;
    for (int i = 0; i < 1000; i++) {
        double a = sin(i * 0.05) * 30 * 9.80665; /* +-30 g */
        p += sprintf(p, "%.6f,L,%.6f,0,9.8,%.4f,0,0\n", i * 0.002, a, sin(i * 0.03) * 3900);
        p += sprintf(p, "%.6f,R,%.6f,0,9.8,%.4f,0,0\n", i * 0.002, a / 3, 100.0);
    }
    write_text(csv, s);
    free(s);
    char err[300];
    input_t *in = input_open(csv, 0, err, sizeof err);
    assert_non_null(in);
    const rec_header_t *h = input_header(in);
    assert_int_equal(h->pods[0].acc_range_g, 32);
    assert_int_equal(h->pods[0].gyr_range_dps, 4000);
    assert_int_equal(h->pods[1].acc_range_g, 16);
    assert_int_equal(h->pods[1].gyr_range_dps, 2000);
    input_free(&in);
    const char *rec = tpath(fx, "hard.gaitrec");
    assert_int_equal(run_convert(csv, rec, NULL), 0);
    all_t *a = read_all(csv, 0), *b = read_all(rec, 0);
    assert_int_equal(a->n, b->n);
    for (size_t i = 0; i < a->n; i++) {
        double qa = (a->v[i].foot == DSP_LEFT ? 2 : 1) * Q_ACC;
        double qg = (a->v[i].foot == DSP_LEFT ? 2 : 1) * Q_GYR;
        assert_true(fabs(a->v[i].s.acc[0] - b->v[i].s.acc[0]) <= qa);
        assert_true(fabs(a->v[i].s.gyr[0] - b->v[i].s.gyr[0]) <= qg);
        assert_int_equal(b->v[i].s.saturated, 0);
    }
    free_all(a);
    free_all(b);
}

static void test_convert_errors(void **state)
{
    fixture_t *fx = *state;
    const char *csv = tpath(fx, "e.csv");
    char *text = make_csv(4000, 250, 0); /* 8000 samples: two 64 KiB chunks */
    write_text(csv, text);
    free(text);
    assert_int_equal(run_convert(NULL, NULL, NULL), 2);
    assert_int_equal(run_convert(csv, NULL, NULL), 2);
    assert_int_equal(run_convert(csv, tpath(fx, "x.txt"), NULL), 2);
    assert_int_equal(run_convert(csv, tpath(fx, "x.csv"), "extra"), 2);
    assert_int_equal(run_convert("--bogus", csv, tpath(fx, "y.csv")), 2);
    assert_int_equal(run_convert(tpath(fx, "nope.csv"), tpath(fx, "z.gaitrec"), NULL), 1);

    /* damaged CSV: exit 1, good rows still converted */
    const char *bad = tpath(fx, "bad.csv");
    write_text(bad, "0.00,L,1,2,3,4,5,6\n0.01,L,1,2,3\n0.02,L,1,2,3,4,5,6\n0.03,L,1,2,3,4,5,6\n");
    const char *out = tpath(fx, "bad.gaitrec");
    assert_int_equal(run_convert(bad, out, NULL), 1);
    all_t *a = read_all(out, 0);
    assert_int_equal(a->n, 3);
    free_all(a);

    /* truncated recording: exit 1, what is before the damage is converted */
    const char *rec = tpath(fx, "e.gaitrec");
    assert_int_equal(run_convert(csv, rec, NULL), 0);
    size_t n;
    uint8_t *buf = read_bytes(rec, &n);
    assert_true(n > 1000);
    const char *cut = tpath(fx, "cut.gaitrec");
    write_bytes(cut, buf, n - 10);
    free(buf);
    const char *cut_csv = tpath(fx, "cut.csv");
    assert_int_equal(run_convert(cut, cut_csv, NULL), 1);
    a = read_all(cut_csv, 0);
    assert_true(a->n > 0 && a->n < 8000);
    free_all(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_csv_basic, setup, teardown),
        cmocka_unit_test_setup_teardown(test_csv_damage, setup, teardown),
        cmocka_unit_test_setup_teardown(test_csv_foot_blocks_are_merged, setup, teardown),
        cmocka_unit_test_setup_teardown(test_csv_rates, setup, teardown),
        cmocka_unit_test(test_frame_to_samples),
        cmocka_unit_test(test_raw_to_si_block),
        cmocka_unit_test_setup_teardown(test_recording_merge, setup, teardown),
        cmocka_unit_test_setup_teardown(test_recording_damage, setup, teardown),
        cmocka_unit_test_setup_teardown(test_recording_streamed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_convert_roundtrip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_convert_wide_range, setup, teardown),
        cmocka_unit_test_setup_teardown(test_convert_errors, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
