/* test_pod.c - pod USB protocol v1: codec round trips, the wire layout of POD-PROTOCOL.md,
 * validation, and pod_stream resync (garbage, corruption, duplicates, reordering, gaps,
 * wrap-around, byte-by-byte feeding). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "crc.h"
#include "pod.h"
#include "proto.h"

/* ---- helpers ---- */

static pod_msg_t samples_msg(uint32_t seq, unsigned n)
{
    pod_msg_t m;
    memset(&m, 0, sizeof m);
    m.type = POD_MSG_SAMPLES;
    pod_samples_t *f = &m.u.samples;
    f->seq = seq;
    f->t_dev_us = 1000000ull + (uint64_t)seq * 200000u;
    f->rate_hz = 500;
    f->acc_range_g = 16;
    f->gyr_range_dps = 2000;
    f->n = (uint16_t)n;
    f->run_id = 0;
    for (unsigned i = 0; i < n; i++)
        for (unsigned k = 0; k < 6; k++)
            /* avoid 0xA5 0x5A inside the payload so that resync counts are exact */
            f->s[i][k] = (int16_t)((int)((seq * 7 + i * 13 + k * 3) % 1000) - 500);
    return m;
}

static size_t enc(const pod_msg_t *m, uint8_t *buf, size_t cap)
{
    size_t len = 0;
    assert_int_equal(pod_encode(m, buf, cap, &len), 0);
    return len;
}

/* Appends the frame of m to buf at *pos. */
static void append(uint8_t *buf, size_t *pos, size_t cap, const pod_msg_t *m)
{
    *pos += enc(m, buf + *pos, cap - *pos);
}

static void recrc(uint8_t *frame, size_t len)
{
    proto_put_u32le(frame + len - 4, proto_crc32(frame + 2, len - 6));
}

/* ---- codec ---- */

static void roundtrip(const pod_msg_t *m)
{
    uint8_t buf[POD_MAX_FRAME];
    size_t len = enc(m, buf, sizeof buf);
    pod_msg_t d;
    size_t used = 0;
    assert_int_equal(pod_decode(buf, len, &d, &used), 0);
    assert_int_equal(used, len);
    assert_int_equal(d.type, m->type);
    assert_memory_equal(&d, m, sizeof d);
    /* exactly the reported length is needed */
    assert_int_equal(pod_decode(buf, len - 1, &d, &used), PROTO_ERR_TRUNCATED);
    /* the trusted decoder (no CRC comparison) gives the same message, also behind a wrong CRC;
     * for a sample frame it writes the samples s[0..n) only */
    for (int bad_crc = 0; bad_crc < 2; bad_crc++) {
        buf[len - 1] ^= (uint8_t)bad_crc;
        pod_msg_t t;
        memset(&t, 0x5A, sizeof t);
        used = 0;
        assert_int_equal(pod_decode_trusted(buf, len, &t, &used), 0);
        assert_int_equal(used, len);
        if (m->type == POD_MSG_SAMPLES)
            assert_memory_equal(&t, m,
                                offsetof(pod_msg_t, u.samples.s) +
                                    (size_t)m->u.samples.n * sizeof m->u.samples.s[0]);
        else
            assert_memory_equal(&t, m, sizeof t);
        assert_int_equal(pod_decode_trusted(buf, len - 1, &t, &used), PROTO_ERR_TRUNCATED);
        buf[len - 1] ^= (uint8_t)bad_crc;
    }
    /* too small output buffer */
    size_t l2;
    assert_int_equal(pod_encode(m, buf, len - 1, &l2), PROTO_ERR_SPACE);
}

static void test_roundtrip_every_type(void **state)
{
    (void)state;
    pod_msg_t m;
    const uint8_t empty[] = {POD_CMD_IDENTIFY, POD_CMD_START_STREAM, POD_CMD_STOP_STREAM,
                             POD_CMD_LIST_RUNS};
    for (size_t i = 0; i < sizeof empty; i++) {
        memset(&m, 0, sizeof m);
        m.type = empty[i];
        roundtrip(&m);
    }
    memset(&m, 0, sizeof m);
    m.type = POD_CMD_CLOCK_SYNC;
    m.u.clock.host_us = 0x0123456789ABCDEFull;
    roundtrip(&m);

    memset(&m, 0, sizeof m);
    m.type = POD_CMD_READ_RUN;
    m.u.read_run.run_id = 7;
    m.u.read_run.first_frame = 123456;
    roundtrip(&m);

    memset(&m, 0, sizeof m);
    m.type = POD_CMD_ERASE_RUN;
    m.u.run_id = 0xDEADBEEF;
    roundtrip(&m);

    memset(&m, 0, sizeof m);
    m.type = POD_REP_IDENTIFY;
    strcpy(m.u.identify.serial, "GP1-000123");
    m.u.identify.foot = 'R';
    m.u.identify.fw_major = 1;
    m.u.identify.fw_minor = 2;
    m.u.identify.fw_patch = 3;
    m.u.identify.rate_hz = 1000;
    m.u.identify.acc_range_g = 32;
    m.u.identify.gyr_range_dps = 4000;
    roundtrip(&m);

    memset(&m, 0, sizeof m);
    m.type = POD_REP_CLOCK_SYNC;
    m.u.clock.host_us = 1700000000000000ull;
    m.u.clock.pod_us = 42;
    roundtrip(&m);

    memset(&m, 0, sizeof m);
    m.type = POD_REP_ACK;
    m.u.ack.cmd = POD_CMD_ERASE_RUN;
    m.u.ack.status = POD_ST_NOT_READ;
    roundtrip(&m);

    for (unsigned n = 0; n <= POD_MAX_RUNS; n += 8) {
        memset(&m, 0, sizeof m);
        m.type = POD_REP_RUNS;
        m.u.runs.n = (uint8_t)n;
        for (unsigned i = 0; i < n; i++) {
            m.u.runs.runs[i].run_id = i + 1;
            m.u.runs.runs[i].start_unix_us = 1700000000000000ull + i;
            m.u.runs.runs[i].n_frames = 1000 * i;
            m.u.runs.runs[i].crc32 = 0xA5A5A5A5u ^ i;
        }
        roundtrip(&m);
    }

    memset(&m, 0, sizeof m);
    m.type = POD_REP_RUN_END;
    m.u.run_end.run_id = 9;
    m.u.run_end.n_frames = 77;
    m.u.run_end.crc32 = 0xCAFEF00D;
    roundtrip(&m);

    unsigned ns[] = {1, 2, 100, POD_MAX_SAMPLES};
    for (size_t i = 0; i < 4; i++) {
        m = samples_msg(0xFFFFFFFFu - (uint32_t)i, ns[i]);
        m.u.samples.run_id = (uint32_t)i;
        m.u.samples.s[0][0] = INT16_MIN;
        m.u.samples.s[0][5] = INT16_MAX;
        roundtrip(&m);
    }
}

/* The byte layout written in POD-PROTOCOL.md. */
static void test_wire_layout(void **state)
{
    (void)state;
    uint8_t buf[POD_MAX_FRAME];
    pod_msg_t m;
    memset(&m, 0, sizeof m);
    m.type = POD_CMD_IDENTIFY;
    size_t len = enc(&m, buf, sizeof buf);
    assert_int_equal(len, 10);
    const uint8_t head[] = {0xA5, 0x5A, 0x01, 0x01, 0x00, 0x00};
    assert_memory_equal(buf, head, 6);
    assert_int_equal(proto_get_u32le(buf + 6), proto_crc32(buf + 2, 4));
    /* the examples of POD-PROTOCOL.md section 2 */
    const uint8_t ex1[] = {0xA5, 0x5A, 0x01, 0x01, 0x00, 0x00, 0x4E, 0xD2, 0x3A, 0x98};
    assert_memory_equal(buf, ex1, sizeof ex1);
    memset(&m, 0, sizeof m);
    m.type = POD_CMD_CLOCK_SYNC;
    m.u.clock.host_us = 1000000;
    const uint8_t ex2[] = {0xA5, 0x5A, 0x01, 0x02, 0x08, 0x00, 0x40, 0x42, 0x0F,
                           0x00, 0x00, 0x00, 0x00, 0x00, 0x5D, 0x67, 0x94, 0xA0};
    assert_int_equal(enc(&m, buf, sizeof buf), sizeof ex2);
    assert_memory_equal(buf, ex2, sizeof ex2);

    m = samples_msg(0x04030201u, 2);
    m.u.samples.t_dev_us = 0x1122334455667788ull;
    m.u.samples.run_id = 0x0A0B0C0Du;
    m.u.samples.s[1][5] = -2;
    len = enc(&m, buf, sizeof buf);
    assert_int_equal(len, 10 + 24 + 2 * 12);
    assert_int_equal(buf[3], 0xC0);
    assert_int_equal(proto_get_u16le(buf + 4), 24 + 24);
    const uint8_t *p = buf + 6;
    assert_int_equal(proto_get_u32le(p + 0), 0x04030201u);
    assert_int_equal(p[0], 0x01); /* little-endian */
    assert_true(proto_get_u64le(p + 4) == 0x1122334455667788ull);
    assert_int_equal(proto_get_u16le(p + 12), 500);
    assert_int_equal(proto_get_u16le(p + 14), 16);
    assert_int_equal(proto_get_u16le(p + 16), 2000);
    assert_int_equal(proto_get_u16le(p + 18), 2);
    assert_int_equal(proto_get_u32le(p + 20), 0x0A0B0C0Du);
    assert_int_equal(proto_get_u16le(p + 24 + 12 + 10), 0xFFFE);

    memset(&m, 0, sizeof m);
    m.type = POD_REP_IDENTIFY;
    strcpy(m.u.identify.serial, "AB");
    m.u.identify.foot = 'L';
    m.u.identify.fw_major = 4;
    m.u.identify.rate_hz = 0x0102 & 0x3FF; /* 258 Hz */
    m.u.identify.acc_range_g = 8;
    m.u.identify.gyr_range_dps = 250;
    len = enc(&m, buf, sizeof buf);
    assert_int_equal(len, 10 + 26);
    assert_int_equal(buf[6], 'A');
    assert_int_equal(buf[7], 'B');
    for (int i = 2; i < 16; i++)
        assert_int_equal(buf[6 + i], 0);
    assert_int_equal(buf[6 + 16], 'L');
    assert_int_equal(buf[6 + 17], 4);
    assert_int_equal(proto_get_u16le(buf + 6 + 20), 258);
    assert_int_equal(proto_get_u16le(buf + 6 + 22), 8);
    assert_int_equal(proto_get_u16le(buf + 6 + 24), 250);
}

static void test_corrupt_and_truncated(void **state)
{
    (void)state;
    uint8_t buf[POD_MAX_FRAME];
    pod_msg_t m = samples_msg(5, 10), d;
    size_t len = enc(&m, buf, sizeof buf), used;
    /* every truncation */
    for (size_t l = 0; l < len; l++) {
        uint8_t *copy = malloc(l ? l : 1); /* exact-size copy: ASan catches over-reads */
        memcpy(copy, buf, l);
        assert_int_equal(pod_decode(copy, l, &d, &used), PROTO_ERR_TRUNCATED);
        free(copy);
    }
    /* every single-byte corruption is detected */
    for (size_t i = 0; i < len; i++) {
        for (unsigned bit = 0; bit < 8; bit++) {
            buf[i] ^= (uint8_t)(1u << bit);
            int rc = pod_decode(buf, len, &d, &used);
            assert_true(rc < 0);
            if (i < 2)
                assert_int_equal(rc, PROTO_ERR_MAGIC);
            else if (i >= 6)
                assert_int_equal(rc, PROTO_ERR_CRC);
            buf[i] ^= (uint8_t)(1u << bit);
        }
    }
    assert_int_equal(pod_decode(buf, len, &d, &used), 0);
    /* the trusted decoder: the same on every truncation; a flipped sync byte is still MAGIC, a
     * flipped CRC byte goes unnoticed (the caller verified the bytes) */
    for (size_t l = 0; l < len; l++) {
        uint8_t *copy = malloc(l ? l : 1);
        memcpy(copy, buf, l);
        assert_int_equal(pod_decode_trusted(copy, l, &d, &used), PROTO_ERR_TRUNCATED);
        free(copy);
    }
    buf[1] ^= 0x01;
    assert_int_equal(pod_decode_trusted(buf, len, &d, &used), PROTO_ERR_MAGIC);
    buf[1] ^= 0x01;
    buf[len - 2] ^= 0x01;
    assert_int_equal(pod_decode_trusted(buf, len, &d, &used), 0);
    buf[len - 2] ^= 0x01;
}

/* Patches a field of a valid frame and fixes its CRC, then expects `want`. */
static void expect_patched(const pod_msg_t *m, size_t off, const uint8_t *bytes, size_t n, int want)
{
    uint8_t buf[POD_MAX_FRAME];
    size_t len = enc(m, buf, sizeof buf), used;
    memcpy(buf + off, bytes, n);
    recrc(buf, len);
    pod_msg_t d;
    assert_int_equal(pod_decode(buf, len, &d, &used), want);
    assert_int_equal(pod_decode_trusted(buf, len, &d, &used), want); /* same checks but CRC */
}

static void test_validation(void **state)
{
    (void)state;
    pod_msg_t m = samples_msg(1, 3);
    const size_t P = POD_HEADER_LEN;
    uint8_t b[2];
    proto_put_u16le(b, 49);
    expect_patched(&m, P + 12, b, 2, PROTO_ERR_RANGE);
    proto_put_u16le(b, 2001);
    expect_patched(&m, P + 12, b, 2, PROTO_ERR_RANGE);
    proto_put_u16le(b, 50);
    expect_patched(&m, P + 12, b, 2, 0);
    proto_put_u16le(b, 2000);
    expect_patched(&m, P + 12, b, 2, 0);
    proto_put_u16le(b, 3);
    expect_patched(&m, P + 14, b, 2, PROTO_ERR_RANGE);
    proto_put_u16le(b, 64);
    expect_patched(&m, P + 14, b, 2, PROTO_ERR_RANGE);
    proto_put_u16le(b, 100);
    expect_patched(&m, P + 16, b, 2, PROTO_ERR_RANGE);
    proto_put_u16le(b, 0);
    expect_patched(&m, P + 18, b, 2, PROTO_ERR_RANGE); /* n = 0 */
    proto_put_u16le(b, 256);
    expect_patched(&m, P + 18, b, 2, PROTO_ERR_RANGE);
    proto_put_u16le(b, 2);
    expect_patched(&m, P + 18, b, 2, PROTO_ERR_LENGTH); /* n inconsistent with length */
    uint8_t v = 2;
    expect_patched(&m, 2, &v, 1, PROTO_ERR_VERSION);
    v = 0x42;
    expect_patched(&m, 3, &v, 1, PROTO_ERR_TYPE);

    /* announced payload longer than the maximum */
    uint8_t buf[POD_MAX_FRAME];
    size_t len = enc(&m, buf, sizeof buf), used;
    proto_put_u16le(buf + 4, POD_MAX_PAYLOAD + 1);
    pod_msg_t d;
    assert_int_equal(pod_decode(buf, len, &d, &used), PROTO_ERR_LENGTH);

    /* identify: foot, serial */
    memset(&m, 0, sizeof m);
    m.type = POD_REP_IDENTIFY;
    strcpy(m.u.identify.serial, "SN1");
    m.u.identify.foot = 'L';
    m.u.identify.rate_hz = 500;
    m.u.identify.acc_range_g = 16;
    m.u.identify.gyr_range_dps = 2000;
    v = 'X';
    expect_patched(&m, P + 16, &v, 1, PROTO_ERR_RANGE);
    uint8_t serial[16];
    memset(serial, 'A', 16); /* no NUL */
    expect_patched(&m, P, serial, 16, PROTO_ERR_RANGE);
    memcpy(serial, "AB\x01", 4);
    expect_patched(&m, P, serial, 16, PROTO_ERR_RANGE);
    memset(serial, 0, 16);
    memcpy(serial, "AB\0C", 4); /* junk after the NUL */
    expect_patched(&m, P, serial, 16, PROTO_ERR_RANGE);

    /* ack of something that is not a command */
    memset(&m, 0, sizeof m);
    m.type = POD_REP_ACK;
    m.u.ack.cmd = POD_CMD_START_STREAM;
    v = 0x81;
    expect_patched(&m, P, &v, 1, PROTO_ERR_RANGE);

    /* runs: count vs length */
    memset(&m, 0, sizeof m);
    m.type = POD_REP_RUNS;
    m.u.runs.n = 2;
    v = 1;
    expect_patched(&m, P, &v, 1, PROTO_ERR_LENGTH);
    v = 33;
    expect_patched(&m, P, &v, 1, PROTO_ERR_RANGE);

    /* encoder refuses invalid messages */
    m = samples_msg(1, 3);
    m.u.samples.rate_hz = 10;
    size_t l2;
    assert_int_equal(pod_encode(&m, buf, sizeof buf, &l2), PROTO_ERR_RANGE);
    m = samples_msg(1, 3);
    m.u.samples.n = 0;
    assert_int_equal(pod_encode(&m, buf, sizeof buf, &l2), PROTO_ERR_RANGE);
    m.type = 0x55;
    assert_int_equal(pod_encode(&m, buf, sizeof buf, &l2), PROTO_ERR_TYPE);

    /* payload length wrong for a fixed-size command */
    memset(&m, 0, sizeof m);
    m.type = POD_CMD_ERASE_RUN;
    len = enc(&m, buf, sizeof buf);
    buf[4] = 3;
    memmove(buf + 6 + 3, buf + 6 + 4, 4);
    recrc(buf, len - 1);
    assert_int_equal(pod_decode(buf, len - 1, &d, &used), PROTO_ERR_LENGTH);
}

/* ---- stream ---- */

typedef struct collected {
    uint32_t seq[4096];
    size_t n;
    pod_stream_report_t rep[4096];
} collected_t;

static void drain(pod_stream_t *st, collected_t *c)
{
    pod_msg_t m;
    pod_stream_report_t rep;
    while (pod_stream_next(st, &m, &rep) == 1) {
        assert_true(c->n < 4096);
        c->seq[c->n] = m.type == POD_MSG_SAMPLES ? m.u.samples.seq : 0xEEEEEEEEu;
        c->rep[c->n] = rep;
        c->n++;
    }
}

/* Feeds data in pieces of `step` bytes (0: all at once), draining as it goes. */
static void run_stream(pod_stream_t *st, collected_t *c, const uint8_t *data, size_t n, size_t step)
{
    size_t pos = 0;
    while (pos < n) {
        size_t want = step ? step : n - pos;
        if (want > n - pos)
            want = n - pos;
        size_t got = pod_stream_feed(st, data + pos, want);
        pos += got;
        drain(st, c);
    }
    pod_stream_finish(st);
    drain(st, c);
}

static uint8_t *stream_buf(size_t *cap)
{
    *cap = 1 << 20;
    uint8_t *b = malloc(*cap);
    assert_non_null(b);
    return b;
}

static void test_stream_clean_and_bytewise(void **state)
{
    (void)state;
    size_t cap, n = 0;
    uint8_t *data = stream_buf(&cap);
    for (uint32_t s = 0; s < 50; s++) {
        pod_msg_t m = samples_msg(s, 1 + s % 7 * 30);
        append(data, &n, cap, &m);
    }
    size_t steps[] = {0, 1, 3, 64, 1000, 5000};
    for (size_t k = 0; k < sizeof steps / sizeof steps[0]; k++) {
        pod_stream_t *st = malloc(sizeof *st);
        collected_t *c = calloc(1, sizeof *c);
        pod_stream_init(st);
        run_stream(st, c, data, n, steps[k]);
        assert_int_equal(c->n, 50);
        uint64_t off = 0;
        for (size_t i = 0; i < 50; i++) {
            assert_int_equal(c->seq[i], i);
            assert_int_equal(c->rep[i].events, 0);
            assert_int_equal(c->rep[i].offset, off);
            off += POD_FRAME_OVERHEAD + POD_SAMPLES_FIXED + (1 + i % 7 * 30) * 12;
        }
        assert_int_equal(st->stats.frames_ok, 50);
        assert_int_equal(st->stats.bytes_skipped, 0);
        assert_int_equal(st->stats.crc_errors, 0);
        assert_int_equal(st->stats.seq_gaps, 0);
        free(st);
        free(c);
    }
    free(data);
}

static void test_stream_garbage(void **state)
{
    (void)state;
    size_t cap, n = 0;
    uint8_t *data = stream_buf(&cap);
    const uint8_t junk[] = {0x00, 0x11, 0xA5, 0x00, 0x5A, 0xFF, 0xA5, 0xA5};
    size_t junk_total = 0;
    for (uint32_t s = 0; s < 20; s++) {
        memcpy(data + n, junk, sizeof junk);
        n += sizeof junk;
        junk_total += sizeof junk;
        pod_msg_t m = samples_msg(s, 10);
        append(data, &n, cap, &m);
    }
    /* a false sync announcing a long frame, followed by real frames: none may be lost */
    const uint8_t false_sync[] = {0xA5, 0x5A, 0x01, 0xC0, 0xFF, 0x0F};
    memcpy(data + n, false_sync, sizeof false_sync);
    n += sizeof false_sync;
    junk_total += sizeof false_sync;
    for (uint32_t s = 20; s < 23; s++) {
        pod_msg_t m = samples_msg(s, 5);
        append(data, &n, cap, &m);
    }
    /* trailing truncated frame */
    pod_msg_t last = samples_msg(23, 5);
    size_t before = n;
    append(data, &n, cap, &last);
    n = before + 20;
    junk_total += 20;

    size_t steps[] = {0, 1, 7};
    for (size_t k = 0; k < 3; k++) {
        pod_stream_t *st = malloc(sizeof *st);
        collected_t *c = calloc(1, sizeof *c);
        pod_stream_init(st);
        run_stream(st, c, data, n, steps[k]);
        assert_int_equal(c->n, 23);
        for (size_t i = 0; i < 23; i++)
            assert_int_equal(c->seq[i], i);
        for (size_t i = 0; i < 20; i++) {
            assert_true(c->rep[i].events & POD_EV_RESYNC);
            assert_int_equal(c->rep[i].skipped_bytes, sizeof junk);
        }
        assert_int_equal(c->rep[20].skipped_bytes, sizeof false_sync);
        assert_int_equal(st->stats.bytes_skipped, junk_total);
        assert_int_equal(st->stats.frames_ok, 23);
        assert_int_equal(st->stats.seq_gaps, 0);
        free(st);
        free(c);
    }
    free(data);
}

static void test_stream_corrupt_frame(void **state)
{
    (void)state;
    size_t cap, n = 0, start3 = 0, len3 = 0;
    uint8_t *data = stream_buf(&cap);
    for (uint32_t s = 0; s < 8; s++) {
        pod_msg_t m = samples_msg(s, 20);
        if (s == 3)
            start3 = n;
        append(data, &n, cap, &m);
        if (s == 3)
            len3 = n - start3;
    }
    data[start3 + 40] ^= 0x10;
    pod_stream_t *st = malloc(sizeof *st);
    collected_t *c = calloc(1, sizeof *c);
    pod_stream_init(st);
    run_stream(st, c, data, n, 13);
    assert_int_equal(c->n, 7);
    const uint32_t want[] = {0, 1, 2, 4, 5, 6, 7};
    for (size_t i = 0; i < 7; i++)
        assert_int_equal(c->seq[i], want[i]);
    assert_int_equal(st->stats.crc_errors, 1);
    assert_int_equal(st->stats.bytes_skipped, len3);
    assert_int_equal(st->stats.seq_gaps, 1);
    assert_int_equal(st->stats.frames_lost, 1);
    assert_int_equal(c->rep[3].events, POD_EV_GAP | POD_EV_RESYNC);
    assert_int_equal(c->rep[3].gap_frames, 1);
    assert_int_equal(c->rep[3].skipped_bytes, len3);
    free(st);
    free(c);
    free(data);
}

/* Sends frames with the given seqs; checks what is delivered and the counters. */
static void seq_case(const uint32_t *seqs, size_t n, const uint32_t *want, size_t nwant,
                     uint64_t dup, uint64_t ooo, uint64_t gaps, uint64_t lost)
{
    size_t cap, len = 0;
    uint8_t *data = stream_buf(&cap);
    for (size_t i = 0; i < n; i++) {
        pod_msg_t m = samples_msg(seqs[i], 4);
        append(data, &len, cap, &m);
    }
    pod_stream_t *st = malloc(sizeof *st);
    collected_t *c = calloc(1, sizeof *c);
    pod_stream_init(st);
    run_stream(st, c, data, len, 0);
    assert_int_equal(c->n, nwant);
    for (size_t i = 0; i < nwant; i++)
        assert_int_equal(c->seq[i], want[i]);
    assert_int_equal(st->stats.duplicates, dup);
    assert_int_equal(st->stats.out_of_order, ooo);
    assert_int_equal(st->stats.seq_gaps, gaps);
    assert_int_equal(st->stats.frames_lost, lost);
    assert_int_equal(st->stats.frames_ok, nwant);
    free(st);
    free(c);
    free(data);
}

static void test_stream_sequence(void **state)
{
    (void)state;
    { /* duplicates */
        const uint32_t s[] = {0, 1, 1, 2, 3, 3, 3, 4};
        const uint32_t w[] = {0, 1, 2, 3, 4};
        seq_case(s, 8, w, 5, 3, 0, 0, 0);
    }
    { /* an older duplicate (already delivered) */
        const uint32_t s[] = {0, 1, 2, 3, 1, 4};
        const uint32_t w[] = {0, 1, 2, 3, 4};
        seq_case(s, 6, w, 5, 1, 0, 0, 0);
    }
    { /* reordered: 3 before 2; 2 arrives late and is dropped */
        const uint32_t s[] = {0, 1, 3, 2, 4};
        const uint32_t w[] = {0, 1, 3, 4};
        seq_case(s, 5, w, 4, 0, 1, 1, 1);
    }
    { /* missing frames */
        const uint32_t s[] = {10, 11, 15, 16, 20};
        const uint32_t w[] = {10, 11, 15, 16, 20};
        seq_case(s, 5, w, 5, 0, 0, 2, 6);
    }
    { /* wrap-around */
        const uint32_t s[] = {0xFFFFFFFDu, 0xFFFFFFFEu, 0xFFFFFFFFu, 0, 1, 2};
        seq_case(s, 6, s, 6, 0, 0, 0, 0);
    }
    { /* gap across the wrap */
        const uint32_t s[] = {0xFFFFFFFEu, 1, 0xFFFFFFFFu, 2};
        const uint32_t w[] = {0xFFFFFFFEu, 1, 2};
        seq_case(s, 4, w, 3, 0, 1, 1, 2);
    }
}

static void test_stream_gap_report_and_reset(void **state)
{
    (void)state;
    size_t cap, len = 0;
    uint8_t *data = stream_buf(&cap);
    pod_msg_t m = samples_msg(100, 4);
    append(data, &len, cap, &m);
    m = samples_msg(104, 4);
    append(data, &len, cap, &m);
    /* a stored run transfer restarts numbering: no gap, no out-of-order */
    m = samples_msg(0, 4);
    m.u.samples.run_id = 5;
    append(data, &len, cap, &m);
    m = samples_msg(1, 4);
    m.u.samples.run_id = 5;
    append(data, &len, cap, &m);
    memset(&m, 0, sizeof m);
    m.type = POD_REP_RUN_END;
    m.u.run_end.run_id = 5;
    append(data, &len, cap, &m);
    /* live stream restarted after the ACK of START_STREAM */
    memset(&m, 0, sizeof m);
    m.type = POD_REP_ACK;
    m.u.ack.cmd = POD_CMD_START_STREAM;
    append(data, &len, cap, &m);
    m = samples_msg(0, 4);
    append(data, &len, cap, &m);

    pod_stream_t *st = malloc(sizeof *st);
    collected_t *c = calloc(1, sizeof *c);
    pod_stream_init(st);
    run_stream(st, c, data, len, 0);
    assert_int_equal(c->n, 7);
    assert_int_equal(c->rep[1].events, POD_EV_GAP);
    assert_int_equal(c->rep[1].gap_frames, 3);
    assert_int_equal(c->seq[2], 0);
    assert_int_equal(c->seq[3], 1);
    assert_int_equal(c->seq[4], 0xEEEEEEEEu);
    assert_int_equal(c->seq[6], 0);
    assert_int_equal(st->stats.seq_gaps, 1);
    assert_int_equal(st->stats.out_of_order, 0);
    assert_int_equal(st->stats.duplicates, 0);
    free(st);
    free(c);
    free(data);
}

static void test_stream_feed_limit_and_rejected(void **state)
{
    (void)state;
    pod_stream_t *st = malloc(sizeof *st);
    pod_stream_init(st);
    uint8_t *junk = calloc(1, 3 * POD_MAX_FRAME);
    size_t got = pod_stream_feed(st, junk, 3 * POD_MAX_FRAME);
    assert_int_equal(got, sizeof st->buf);
    pod_msg_t m;
    assert_int_equal(pod_stream_next(st, &m, NULL), 0);
    assert_int_equal(st->stats.bytes_skipped, sizeof st->buf);
    free(junk);

    /* a CRC-valid frame of an unknown type is skipped whole, the next one delivered */
    uint8_t buf[2 * 64];
    pod_msg_t a;
    memset(&a, 0, sizeof a);
    a.type = POD_CMD_ERASE_RUN;
    size_t l1 = enc(&a, buf, sizeof buf);
    buf[3] = 0x7F;
    recrc(buf, l1);
    a.type = POD_CMD_LIST_RUNS;
    size_t l2 = enc(&a, buf + l1, sizeof buf - l1);
    pod_stream_init(st);
    assert_int_equal(pod_stream_feed(st, buf, l1 + l2), l1 + l2);
    pod_stream_report_t rep;
    assert_int_equal(pod_stream_next(st, &m, &rep), 1);
    assert_int_equal(m.type, POD_CMD_LIST_RUNS);
    assert_int_equal(rep.skipped_bytes, l1);
    assert_int_equal(rep.offset, l1);
    assert_int_equal(st->stats.rejected, 1);
    assert_int_equal(pod_stream_next(st, &m, &rep), 0);
    free(st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip_every_type),
        cmocka_unit_test(test_wire_layout),
        cmocka_unit_test(test_corrupt_and_truncated),
        cmocka_unit_test(test_validation),
        cmocka_unit_test(test_stream_clean_and_bytewise),
        cmocka_unit_test(test_stream_garbage),
        cmocka_unit_test(test_stream_corrupt_frame),
        cmocka_unit_test(test_stream_sequence),
        cmocka_unit_test(test_stream_gap_report_and_reset),
        cmocka_unit_test(test_stream_feed_limit_and_rejected),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
