/* test_pod_faults.c - the pod stream decoder's fault handling (issue 6): truncated frames
 * counted apart from corrupted ones, the reorder window (swapped frames put back in order, real
 * losses still counted as gaps), duplicates, a new transfer's stale leftovers
 * (pod_stream_expect), and the identify check naming the bad field (pod_identify_explain). */
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

static size_t frame(uint32_t run, uint32_t seq, uint8_t *buf, size_t cap)
{
    pod_msg_t m;
    memset(&m, 0, sizeof m);
    m.type = POD_MSG_SAMPLES;
    m.u.samples.seq = seq;
    m.u.samples.t_dev_us = 1000000ull + seq * 50000ull;
    m.u.samples.rate_hz = 500;
    m.u.samples.acc_range_g = 16;
    m.u.samples.gyr_range_dps = 2000;
    m.u.samples.n = 25;
    m.u.samples.run_id = run;
    for (unsigned i = 0; i < 25; i++)
        for (unsigned k = 0; k < 6; k++)
            m.u.samples.s[i][k] = (int16_t)((int)((seq * 7 + i * 13 + k * 3) % 1000) - 500);
    size_t len = 0;
    assert_int_equal(pod_encode(&m, buf, cap, &len), 0);
    return len;
}

/* Feeds the stream bytes and collects the seq of every frame delivered (until it returns 0). */
static unsigned run_stream(pod_stream_t *st, const uint8_t *b, size_t n, uint32_t *seqs,
                           unsigned max, int finish)
{
    pod_msg_t *m = malloc(sizeof *m);
    unsigned k = 0;
    size_t off = 0;
    while (off < n) {
        off += pod_stream_feed(st, b + off, n - off);
        while (pod_stream_next(st, m, NULL))
            if (m->type == POD_MSG_SAMPLES && k < max)
                seqs[k++] = m->u.samples.seq;
    }
    if (finish) {
        pod_stream_finish(st);
        while (pod_stream_next(st, m, NULL))
            if (m->type == POD_MSG_SAMPLES && k < max)
                seqs[k++] = m->u.samples.seq;
    }
    free(m);
    return k;
}

/* Frames 0..9 with frame 4 cut after 30 bytes (then frame 5 follows at once) and frame 7
 * damaged: 8 frames delivered, 2 CRC errors, 1 of them truncated, 2 gaps of 1. */
static void test_truncated_vs_corrupt(void **state)
{
    (void)state;
    uint8_t buf[16384], f[POD_MAX_FRAME];
    size_t n = 0;
    for (uint32_t s = 0; s < 10; s++) {
        size_t len = frame(0, s, f, sizeof f);
        if (s == 4)
            len = 30;
        if (s == 7)
            f[POD_HEADER_LEN + 5] ^= 0x5A;
        memcpy(buf + n, f, len);
        n += len;
    }
    pod_stream_t *st = calloc(1, sizeof *st);
    pod_stream_init(st);
    uint32_t seqs[16];
    unsigned k = run_stream(st, buf, n, seqs, 16, 1);
    uint32_t want[] = {0, 1, 2, 3, 5, 6, 8, 9};
    assert_int_equal(k, 8);
    assert_memory_equal(seqs, want, sizeof want);
    assert_true(st->stats.crc_errors >= 2);
    assert_int_equal(st->stats.truncated, 1);
    assert_int_equal(st->stats.seq_gaps, 2);
    assert_int_equal(st->stats.frames_lost, 2);
    free(st);
}

/* Swapped frames 3 and 4 and a duplicate of 6: with the reorder window every frame is delivered
 * once and in order, the swap counted as reordered (not a gap); without it frame 3 is lost as
 * out of order. A real loss (frame 8 missing) is still a gap, delivered one frame late. */
static void test_reorder_window(void **state)
{
    (void)state;
    uint32_t order[] = {0, 1, 2, 4, 3, 5, 6, 6, 7, 9, 10};
    uint8_t buf[16384], f[POD_MAX_FRAME];
    size_t n = 0;
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
        size_t len = frame(0, order[i], f, sizeof f);
        memcpy(buf + n, f, len);
        n += len;
    }
    pod_stream_t *st = calloc(1, sizeof *st);
    uint32_t seqs[16];
    for (int reorder = 0; reorder < 2; reorder++) {
        pod_stream_init(st);
        pod_stream_set_reorder(st, reorder);
        unsigned k = run_stream(st, buf, n, seqs, 16, 1);
        if (reorder) {
            uint32_t want[] = {0, 1, 2, 3, 4, 5, 6, 7, 9, 10};
            assert_int_equal(k, 10);
            assert_memory_equal(seqs, want, sizeof want);
            assert_int_equal(st->stats.reordered, 1);
            assert_int_equal(st->stats.out_of_order, 0);
            assert_int_equal(st->stats.seq_gaps, 1); /* frame 8 */
            assert_int_equal(st->stats.frames_lost, 1);
        } else {
            uint32_t want[] = {0, 1, 2, 4, 5, 6, 7, 9, 10};
            assert_int_equal(k, 9);
            assert_memory_equal(seqs, want, sizeof want);
            assert_int_equal(st->stats.out_of_order + st->stats.duplicates, 2);
            assert_int_equal(st->stats.seq_gaps, 2);
        }
        if (reorder)
            assert_int_equal(st->stats.duplicates, 1);
    }
    /* a frame held after a gap is released by pod_stream_release when the data stops */
    pod_stream_init(st);
    pod_stream_set_reorder(st, 1);
    n = 0;
    for (uint32_t s = 0; s < 5; s++) {
        if (s == 3)
            continue;
        size_t len = frame(0, s, f, sizeof f);
        memcpy(buf + n, f, len);
        n += len;
    }
    assert_int_equal(run_stream(st, buf, n, seqs, 16, 0), 3); /* 0 1 2, frame 4 held */
    pod_stream_release(st);
    pod_msg_t *m = malloc(sizeof *m);
    assert_int_equal(pod_stream_next(st, m, NULL), 1);
    assert_int_equal(m->u.samples.seq, 4);
    assert_int_equal(st->stats.frames_lost, 1);
    free(m);
    free(st);
}

/* A READ_RUN resumed at frame 50 while frames 200.. of the earlier transfer still arrive: they
 * are stale, frame 50 starts the numbering. */
static void test_expect_stale(void **state)
{
    (void)state;
    uint8_t buf[32768], f[POD_MAX_FRAME];
    size_t n = 0;
    uint32_t order[] = {200, 201, 202, 50, 51, 52};
    for (size_t i = 0; i < 6; i++) {
        size_t len = frame(7, order[i], f, sizeof f);
        memcpy(buf + n, f, len);
        n += len;
    }
    pod_stream_t *st = calloc(1, sizeof *st);
    pod_stream_init(st);
    pod_stream_set_reorder(st, 1);
    pod_stream_expect(st, 7, 50);
    uint32_t seqs[8];
    assert_int_equal(run_stream(st, buf, n, seqs, 8, 1), 3);
    assert_int_equal(seqs[0], 50);
    assert_int_equal(seqs[2], 52);
    assert_int_equal(st->stats.stale, 3);
    assert_int_equal(st->stats.seq_gaps + st->stats.out_of_order, 0);
    free(st);
}

static void test_identify_explain(void **state)
{
    (void)state;
    uint8_t p[26];
    memset(p, 0, sizeof p);
    memcpy(p, "GP-L-0001", 9);
    p[16] = 'L';
    proto_put_u16le(p + 20, 500);
    proto_put_u16le(p + 22, 16);
    proto_put_u16le(p + 24, 2000);
    pod_identify_t id;
    char why[128];
    assert_int_equal(pod_identify_explain(p, sizeof p, &id, why, sizeof why), 0);
    assert_string_equal(id.serial, "GP-L-0001");
    proto_put_u16le(p + 20, 0);
    assert_int_equal(pod_identify_explain(p, sizeof p, &id, why, sizeof why), PROTO_ERR_RANGE);
    assert_string_equal(why, "rate_hz 0 (expected 50..2000)");
    proto_put_u16le(p + 20, 65535);
    pod_identify_explain(p, sizeof p, &id, why, sizeof why);
    assert_string_equal(why, "rate_hz 65535 (expected 50..2000)");
    proto_put_u16le(p + 20, 500);
    proto_put_u16le(p + 24, 0);
    assert_int_equal(pod_identify_explain(p, sizeof p, &id, why, sizeof why), PROTO_ERR_RANGE);
    assert_non_null(strstr(why, "gyr_range_dps 0"));
    assert_int_equal(pod_identify_explain(p, 25, &id, why, sizeof why), PROTO_ERR_LENGTH);
    /* through the stream: the reply is rejected, its type and payload kept for the caller */
    uint8_t w[POD_HEADER_LEN + 26 + 4] = {0xA5, 0x5A, POD_PROTO_VERSION, POD_REP_IDENTIFY, 26, 0};
    memcpy(w + POD_HEADER_LEN, p, 26);
    proto_put_u32le(w + POD_HEADER_LEN + 26, proto_crc32(w + 2, 4 + 26));
    pod_stream_t *st = calloc(1, sizeof *st);
    pod_stream_init(st);
    uint32_t seqs[1];
    assert_int_equal(run_stream(st, w, sizeof w, seqs, 1, 1), 0);
    assert_int_equal(st->stats.rejected, 1);
    assert_int_equal(st->rej_type, POD_REP_IDENTIFY);
    assert_int_equal(pod_identify_explain(st->rej_payload, st->rej_len, &id, why, sizeof why),
                     PROTO_ERR_RANGE);
    assert_non_null(strstr(why, "gyr_range_dps 0"));
    free(st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_truncated_vs_corrupt),
        cmocka_unit_test(test_reorder_window),
        cmocka_unit_test(test_expect_stale),
        cmocka_unit_test(test_identify_explain),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
