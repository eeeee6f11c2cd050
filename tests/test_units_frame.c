/* test_units_frame.c - dsp_units_frame (dsp/dsp_units.h), the readers' per-frame raw-to-SI
 * conversion: its scalar, SSE2 and AVX2 forms (the last when this CPU has it; the others always
 * on x86-64) give exactly the bytes of dsp_raw_to_si per sample and of (base_us + i * step_us) *
 * 1e-6 per time, for random values, values on and next to the rails, every frame length 0..255
 * (every remainder mod 4), unaligned input, the identity calibration (the AVX2 shortcut), a -0
 * bias (which must turn -0 into +0, so no shortcut) and random calibrations; dsp_raw_to_si_block
 * agrees too. pod_decode_ref (proto/pod.h) against pod_decode: same status, fields and consumed
 * length, and *raw pointing at the frame's sample bytes. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>
#include "dsp.h"
#include "dsp_units.h"
#include "pod.h"
#include "proto.h"

static uint32_t rng = 0x12345678u;

static uint32_t next_u32(void)
{
    rng ^= rng << 13, rng ^= rng >> 17, rng ^= rng << 5;
    return rng;
}

static int16_t pick_value(void)
{
    static const int16_t special[] = {INT16_MAX, INT16_MIN, INT16_MAX - 1, INT16_MIN + 1, 0, -1, 1};
    uint32_t r = next_u32();
    if (r % 8 == 0)
        return special[(r >> 3) % (sizeof special / sizeof special[0])];
    return (int16_t)(int32_t)((r >> 8) % 65536u - 32768);
}

/* the reference: dsp_raw_to_si per sample, the time formula in plain C */
static void reference(const int16_t (*raw)[6], unsigned n, unsigned ar, unsigned gr,
                      const dsp_calib_t *cal, double base, double step, dsp_sample_t *out)
{
    for (unsigned i = 0; i < n; i++) {
        memset(&out[i], 0, sizeof out[i]);
        dsp_raw_to_si(raw[i], ar, gr, cal, &out[i]);
        out[i].t = (base + i * step) * 1e-6;
    }
}

static void assert_same(const dsp_sample_t *a, const dsp_sample_t *b, unsigned n, int with_t)
{
    for (unsigned i = 0; i < n; i++) {
        if (with_t)
            assert_memory_equal(&a[i].t, &b[i].t, sizeof a[i].t);
        assert_memory_equal(a[i].acc, b[i].acc, sizeof a[i].acc);
        assert_memory_equal(a[i].gyr, b[i].gyr, sizeof a[i].gyr);
        assert_int_equal(a[i].saturated, b[i].saturated);
    }
}

/* raw as little-endian bytes at wire + off (off 0..3: any alignment) */
static const uint8_t *to_wire(const int16_t (*raw)[6], unsigned n, uint8_t *wire, unsigned off)
{
    for (unsigned i = 0; i < n; i++)
        for (int c = 0; c < 6; c++)
            proto_put_u16le(wire + off + 12 * i + 2 * c, (uint16_t)raw[i][c]);
    return wire + off;
}

static void check_all_forms(const int16_t (*raw)[6], unsigned n, unsigned ar, unsigned gr,
                            const dsp_calib_t *cal, double base, double step, unsigned off)
{
    static dsp_sample_t want[POD_MAX_SAMPLES], got[POD_MAX_SAMPLES];
    static uint8_t wire[POD_MAX_SAMPLES * 12 + 8];
    reference(raw, n, ar, gr, cal, base, step, want);
    const uint8_t *w = to_wire(raw, n, wire, off);
    const int impls[] = {DSP_UNITS_SCALAR, DSP_UNITS_SSE2, DSP_UNITS_AVX2, DSP_UNITS_BEST};
    for (size_t k = 0; k < sizeof impls / sizeof impls[0]; k++) {
        memset(got, 0xA5, sizeof got); /* every field must be written */
        dsp_units_frame(w, n, ar, gr, cal, base, step, got, impls[k]);
        assert_same(got, want, n, 1);
    }
    /* dsp_raw_to_si_block: the same values, t untouched */
    memset(got, 0, sizeof got);
    dsp_raw_to_si_block(raw, n, ar, gr, cal, got);
    assert_same(got, want, n, 0);
    for (unsigned i = 0; i < n; i++)
        assert_true(got[i].t == 0.0);
}

static void random_calib(dsp_calib_t *c)
{
    for (int k = 0; k < 3; k++) {
        c->acc_bias[k] = (float)((int)(next_u32() % 2001u) - 1000) / 997.0f;
        c->acc_scale[k] = 0.9f + (float)(next_u32() % 2001u) / 10000.0f;
        c->gyr_bias[k] = (float)((int)(next_u32() % 2001u) - 1000) / 331.0f;
    }
}

static void test_every_length_every_form(void **state)
{
    (void)state;
    static int16_t raw[POD_MAX_SAMPLES][6];
    static const unsigned acc[] = {2, 4, 8, 16, 32};
    static const unsigned gyr[] = {125, 250, 500, 1000, 2000, 4000};
    for (unsigned n = 0; n <= POD_MAX_SAMPLES; n++) {
        for (unsigned i = 0; i < n; i++)
            for (int c = 0; c < 6; c++)
                raw[i][c] = pick_value();
        unsigned ar = acc[n % 5], gr = gyr[n % 6];
        double base = (double)(next_u32() % 1000000u) * 1000.0 + 1.7e15; /* a host clock, us */
        double step = 1e6 / (double)(50 + next_u32() % 1951u);
        dsp_calib_t cal;
        random_calib(&cal);
        check_all_forms((const int16_t(*)[6])raw, n, ar, gr, NULL, base, step, n % 4);
        check_all_forms((const int16_t(*)[6])raw, n, ar, gr, &cal, base, step, (n + 1) % 4);
        dsp_calib_t id = dsp_calib_identity();
        check_all_forms((const int16_t(*)[6])raw, n, ar, gr, &id, -base, step, (n + 2) % 4);
    }
}

/* frames without a rail (saturated 0 everywhere), with one rail value, with rails only */
static void test_rails(void **state)
{
    (void)state;
    static int16_t raw[POD_MAX_SAMPLES][6];
    for (int pass = 0; pass < 3; pass++)
        for (unsigned n = 1; n <= 40; n++)
            for (unsigned at = 0; at < 6 * n; at += 5) {
                for (unsigned i = 0; i < n; i++)
                    for (int c = 0; c < 6; c++)
                        raw[i][c] = pass == 2
                                        ? (int16_t)((i + (unsigned)c) % 2 ? INT16_MAX : INT16_MIN)
                                        : (int16_t)((int32_t)(next_u32() % 60001u) - 30000);
                if (pass == 1)
                    raw[at / 6][at % 6] = (at % 2) ? INT16_MAX : INT16_MIN;
                check_all_forms((const int16_t(*)[6])raw, n, 16, 2000, NULL, 0.0, 2000.0, at % 4);
            }
}

/* signed zeros: a bias of -0 is not the identity (x - -0 turns -0 into +0), so the AVX2
 * shortcut must not take it: -0 products come from a full scale of 0 (lsb 0, negative raw
 * values; ranges are not checked here) and from a scale of -1 on raw 0 */
static void test_signed_zero_bias(void **state)
{
    (void)state;
    static int16_t raw[16][6];
    memset(raw, 0, sizeof raw);
    for (int c = 0; c < 6; c++)
        raw[3][c] = (int16_t)(c - 3); /* negatives, zero, positives */
    dsp_calib_t cal = dsp_calib_identity();
    cal.acc_bias[1] = -0.0f;
    cal.gyr_bias[2] = -0.0f;
    check_all_forms((const int16_t(*)[6])raw, 16, 16, 2000, &cal, 1e9, 1000.0, 1);
    check_all_forms((const int16_t(*)[6])raw, 16, 0, 0, &cal, 1e9, 1000.0, 3);
    cal = dsp_calib_identity();
    cal.acc_scale[0] = -1.0f; /* x * -1: -0 from +0 */
    check_all_forms((const int16_t(*)[6])raw, 16, 16, 2000, &cal, 1e9, 1000.0, 2);
}

static void test_available(void **state)
{
    (void)state;
    assert_true(dsp_units_available(DSP_UNITS_BEST));
    assert_true(dsp_units_available(DSP_UNITS_SCALAR));
#if defined(__x86_64__)
    assert_true(dsp_units_available(DSP_UNITS_SSE2));
    printf("AVX2 form %s on this CPU\n",
           dsp_units_available(DSP_UNITS_AVX2) ? "tested" : "not available (SSE2 tested)");
#endif
    assert_false(dsp_units_available(99));
}

/* pod_decode_ref: pod_decode's status, fields and length, the samples left in place */
static void test_decode_ref(void **state)
{
    (void)state;
    pod_msg_t m;
    memset(&m, 0, sizeof m);
    m.type = POD_MSG_SAMPLES;
    m.u.samples.seq = 77;
    m.u.samples.t_dev_us = 123456789;
    m.u.samples.rate_hz = 500;
    m.u.samples.acc_range_g = 16;
    m.u.samples.gyr_range_dps = 2000;
    m.u.samples.n = 37;
    for (unsigned i = 0; i < 37; i++)
        for (int c = 0; c < 6; c++)
            m.u.samples.s[i][c] = pick_value();
    static uint8_t buf[POD_MAX_FRAME];
    size_t len;
    assert_int_equal(pod_encode(&m, buf, sizeof buf, &len), 0);
    for (int trusted = 0; trusted < 2; trusted++)
        for (size_t cut = 0; cut <= len; cut++) {
            pod_msg_t d, r;
            size_t ud = 0, ur = 0;
            const uint8_t *raw = (const uint8_t *)1;
            int rcd =
                trusted ? pod_decode_trusted(buf, cut, &d, &ud) : pod_decode(buf, cut, &d, &ud);
            int rcr = pod_decode_ref(buf, cut, trusted, &r, &raw, &ur);
            assert_int_equal(rcr, rcd);
            if (rcd < 0) {
                assert_null(raw);
                continue;
            }
            assert_int_equal(ur, ud);
            assert_memory_equal(&r, &d, offsetof(pod_msg_t, u.samples.s));
            assert_non_null(raw);
            for (unsigned i = 0; i < 37; i++)
                for (int c = 0; c < 6; c++)
                    assert_int_equal((int16_t)proto_get_u16le(raw + 12 * i + 2 * c),
                                     m.u.samples.s[i][c]);
        }
    /* a bad CRC: pod_decode_ref(untrusted) reports it as pod_decode does */
    buf[len - 1] ^= 1;
    pod_msg_t r;
    const uint8_t *raw;
    size_t used;
    assert_int_equal(pod_decode_ref(buf, len, 0, &r, &raw, &used), PROTO_ERR_CRC);
    assert_null(raw);
    assert_int_equal(pod_decode_ref(buf, len, 1, &r, &raw, &used), 0);
    /* another message type: decoded whole, no raw */
    pod_msg_t ack;
    memset(&ack, 0, sizeof ack);
    ack.type = POD_REP_ACK;
    ack.u.ack.cmd = POD_CMD_START_STREAM;
    assert_int_equal(pod_encode(&ack, buf, sizeof buf, &len), 0);
    assert_int_equal(pod_decode_ref(buf, len, 0, &r, &raw, &used), 0);
    assert_null(raw);
    assert_int_equal(used, len);
    assert_int_equal(r.type, POD_REP_ACK);
    assert_int_equal(r.u.ack.cmd, POD_CMD_START_STREAM);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_available),
        cmocka_unit_test(test_every_length_every_form),
        cmocka_unit_test(test_rails),
        cmocka_unit_test(test_signed_zero_bias),
        cmocka_unit_test(test_decode_ref),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
