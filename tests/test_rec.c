/* test_rec.c - .gaitrec: header and chunk round trips, truncation at every offset, bit flips,
 * missing chunks, invalid records; the frame CRCs checked in the chunk pass
 * (rec_reader_frame_verified); streaming through a moving window equals reading the image. */
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
#include "rec.h"

#define N_CHUNKS 6
#define REC_PER_CHUNK 5

static void make_header(rec_header_t *h)
{
    rec_header_init(h);
    strcpy(h->athlete, "Jürgen Läufer");
    h->start_unix_us = 1764370000123456ll;
    strcpy(h->source, "usb-live");
    h->n_pods = 2;
    for (int p = 0; p < 2; p++) {
        rec_pod_t *pod = &h->pods[p];
        strcpy(pod->serial, p ? "GP1-0002" : "GP1-0001");
        pod->foot = p ? 'R' : 'L';
        pod->rate_hz = p ? 1000 : 500;
        pod->acc_range_g = 16;
        pod->gyr_range_dps = 2000;
        for (int k = 0; k < 3; k++) {
            pod->acc_bias[k] = 0.01f * (float)(k + 1) * (p ? -1.0f : 1.0f);
            pod->acc_scale[k] = 1.0f + 0.001f * (float)k;
            pod->gyr_bias[k] = -0.5f * (float)k;
        }
        pod->clock_offset_us = p ? -123456789ll : 1764370000000000ll;
    }
}

typedef struct file {
    uint8_t *buf;
    size_t len;
    size_t header_len;
    size_t chunk_off[N_CHUNKS + 1]; /* chunk_off[N_CHUNKS] = len */
    uint8_t frames[N_CHUNKS * REC_PER_CHUNK][200];
    size_t frame_len[N_CHUNKS * REC_PER_CHUNK];
} file_t;

/* A recording of N_CHUNKS chunks of REC_PER_CHUNK records each (pod frames of varying size). */
static file_t *make_file(void)
{
    file_t *f = calloc(1, sizeof *f);
    f->buf = malloc(1 << 16);
    rec_header_t h;
    make_header(&h);
    assert_int_equal(rec_header_encode(&h, f->buf, 1 << 16, &f->header_len), 0);
    f->len = f->header_len;
    rec_chunk_t *c = malloc(sizeof *c);
    for (uint32_t ci = 0; ci < N_CHUNKS; ci++) {
        rec_chunk_init(c, ci);
        for (int r = 0; r < REC_PER_CHUNK; r++) {
            size_t idx = ci * REC_PER_CHUNK + (size_t)r;
            pod_msg_t m;
            memset(&m, 0, sizeof m);
            m.type = POD_MSG_SAMPLES;
            m.u.samples.seq = (uint32_t)idx;
            m.u.samples.t_dev_us = idx * 1000;
            m.u.samples.rate_hz = 500;
            m.u.samples.acc_range_g = 16;
            m.u.samples.gyr_range_dps = 2000;
            m.u.samples.n = (uint16_t)(1 + idx % 12);
            for (unsigned i = 0; i < m.u.samples.n; i++)
                for (int k = 0; k < 6; k++)
                    m.u.samples.s[i][k] = (int16_t)(idx * 100 + i * 6 + (unsigned)k);
            assert_int_equal(pod_encode(&m, f->frames[idx], 200, &f->frame_len[idx]), 0);
            assert_int_equal(
                rec_chunk_add(c, (uint8_t)(idx % 2), f->frames[idx], f->frame_len[idx]), 0);
        }
        size_t blen;
        const uint8_t *blk = rec_chunk_finish(c, &blen);
        assert_int_equal(blen, 16 + rec_chunk_payload(c));
        f->chunk_off[ci] = f->len;
        memcpy(f->buf + f->len, blk, blen);
        f->len += blen;
    }
    f->chunk_off[N_CHUNKS] = f->len;
    free(c);
    return f;
}

static void free_file(file_t *f)
{
    free(f->buf);
    free(f);
}

/* Reads buf[0..len) completely. Returns the final status (0 or negative) and the number of
 * records yielded in *n; checks every yielded record against f. */
static int read_all(const file_t *f, const uint8_t *buf, size_t len, size_t *n, rec_reader_t *r)
{
    rec_header_t h;
    *n = 0;
    int rc = rec_reader_open(r, buf, len, &h);
    if (rc < 0)
        return rc;
    uint8_t pod;
    const uint8_t *frame;
    size_t flen;
    while ((rc = rec_reader_next(r, &pod, &frame, &flen)) == 1) {
        assert_true(*n < N_CHUNKS * REC_PER_CHUNK);
        assert_int_equal(pod, *n % 2);
        assert_int_equal(flen, f->frame_len[*n]);
        assert_memory_equal(frame, f->frames[*n], flen);
        assert_true(frame >= buf && frame + flen <= buf + len);
        (*n)++;
    }
    /* sticky */
    if (rc < 0)
        assert_int_equal(rec_reader_next(r, &pod, &frame, &flen), rc);
    return rc;
}

static void test_header_roundtrip(void **state)
{
    (void)state;
    rec_header_t h, d;
    make_header(&h);
    uint8_t buf[1024];
    size_t len;
    assert_int_equal(rec_header_encode(&h, buf, sizeof buf, &len), 0);
    assert_memory_equal(buf, "GAITREC1", 8);
    assert_int_equal(proto_get_u16le(buf + 8), 1);
    assert_int_equal(proto_get_u32le(buf + 10), 105 + 2 * 67);
    assert_int_equal(len, 14 + 105 + 2 * 67 + 4);
    assert_true(rec_is_recording(buf, len));
    assert_false(rec_is_recording(buf, 7));
    assert_false(rec_is_recording((const uint8_t *)"time_s,foot", 11));
    rec_reader_t r;
    assert_int_equal(rec_reader_open(&r, buf, len, &d), 0);
    assert_int_equal(d.version, 1);
    assert_string_equal(d.athlete, h.athlete);
    assert_string_equal(d.source, h.source);
    assert_true(d.start_unix_us == h.start_unix_us);
    assert_int_equal(d.n_pods, 2);
    for (int p = 0; p < 2; p++) {
        assert_string_equal(d.pods[p].serial, h.pods[p].serial);
        assert_int_equal(d.pods[p].foot, h.pods[p].foot);
        assert_int_equal(d.pods[p].rate_hz, h.pods[p].rate_hz);
        assert_int_equal(d.pods[p].acc_range_g, h.pods[p].acc_range_g);
        assert_int_equal(d.pods[p].gyr_range_dps, h.pods[p].gyr_range_dps);
        assert_memory_equal(d.pods[p].acc_bias, h.pods[p].acc_bias, sizeof h.pods[p].acc_bias);
        assert_memory_equal(d.pods[p].acc_scale, h.pods[p].acc_scale, sizeof h.pods[p].acc_scale);
        assert_memory_equal(d.pods[p].gyr_bias, h.pods[p].gyr_bias, sizeof h.pods[p].gyr_bias);
        assert_true(d.pods[p].clock_offset_us == h.pods[p].clock_offset_us);
    }
    /* header only: clean end */
    uint8_t pod;
    const uint8_t *frame;
    size_t flen;
    assert_int_equal(rec_reader_next(&r, &pod, &frame, &flen), 0);

    /* encoder checks */
    size_t l2;
    assert_int_equal(rec_header_encode(&h, buf, len - 1, &l2), PROTO_ERR_SPACE);
    rec_header_t bad = h;
    bad.pods[1].foot = 'X';
    assert_int_equal(rec_header_encode(&bad, buf, sizeof buf, &l2), PROTO_ERR_RANGE);
    bad = h;
    bad.n_pods = 5;
    assert_int_equal(rec_header_encode(&bad, buf, sizeof buf, &l2), PROTO_ERR_RANGE);
    bad = h;
    bad.pods[0].rate_hz = 20;
    assert_int_equal(rec_header_encode(&bad, buf, sizeof buf, &l2), PROTO_ERR_RANGE);
    bad = h;
    memset(bad.athlete, 'a', sizeof bad.athlete);
    assert_int_equal(rec_header_encode(&bad, buf, sizeof buf, &l2), PROTO_ERR_RANGE);
    bad = h;
    bad.version = 2;
    assert_int_equal(rec_header_encode(&bad, buf, sizeof buf, &l2), PROTO_ERR_VERSION);
}

static void test_header_version_and_extension(void **state)
{
    (void)state;
    rec_header_t h, d;
    make_header(&h);
    uint8_t buf[1024];
    size_t len;
    rec_reader_t r;
    assert_int_equal(rec_header_encode(&h, buf, sizeof buf, &len), 0);
    /* a later minor revision may append header bytes: v1 readers ignore them */
    size_t hlen = proto_get_u32le(buf + 10);
    uint8_t ext[1024];
    memcpy(ext, buf, 14 + hlen);
    memset(ext + 14 + hlen, 0x77, 9);
    proto_put_u32le(ext + 10, (uint32_t)(hlen + 9));
    proto_put_u32le(ext + 14 + hlen + 9, proto_crc32(ext + 8, 6 + hlen + 9));
    assert_int_equal(rec_reader_open(&r, ext, 14 + hlen + 9 + 4, &d), 0);
    assert_string_equal(d.athlete, h.athlete);
    /* version 2 */
    proto_put_u16le(buf + 8, 2);
    proto_put_u32le(buf + len - 4, proto_crc32(buf + 8, len - 12));
    assert_int_equal(rec_reader_open(&r, buf, len, &d), PROTO_ERR_VERSION);
    assert_int_equal(r.error, PROTO_ERR_VERSION);
    /* too large header length */
    proto_put_u16le(buf + 8, 1);
    proto_put_u32le(buf + 10, REC_MAX_HEADER + 1);
    assert_int_equal(rec_reader_open(&r, buf, len, &d), PROTO_ERR_LENGTH);
    /* not a recording */
    assert_int_equal(rec_reader_open(&r, (const uint8_t *)"time_s,foot,acc_x", 17, &d),
                     PROTO_ERR_MAGIC);
    assert_int_equal(r.error_offset, 0);
}

static void test_file_roundtrip(void **state)
{
    (void)state;
    file_t *f = make_file();
    rec_reader_t r;
    size_t n;
    assert_int_equal(read_all(f, f->buf, f->len, &n, &r), 0);
    assert_int_equal(n, N_CHUNKS * REC_PER_CHUNK);
    assert_int_equal(r.error, 0);
    free_file(f);
}

static void test_truncation_everywhere(void **state)
{
    (void)state;
    file_t *f = make_file();
    for (size_t cut = 0; cut < f->len; cut++) {
        uint8_t *copy = malloc(cut ? cut : 1); /* exact size: ASan catches over-reads */
        memcpy(copy, f->buf, cut);
        rec_reader_t r;
        size_t n;
        int rc = read_all(f, copy, cut, &n, &r);
        if (cut < f->header_len) {
            assert_true(rc == PROTO_ERR_TRUNCATED || (cut == 0 && rc == PROTO_ERR_MAGIC));
            assert_int_equal(n, 0);
        } else {
            /* the chunk that the cut falls into */
            size_t ci = 0;
            while (f->chunk_off[ci + 1] <= cut)
                ci++;
            assert_int_equal(n, ci * REC_PER_CHUNK);
            if (cut == f->chunk_off[ci]) {
                assert_int_equal(rc, 0); /* cut between chunks: a clean (shorter) file */
            } else {
                assert_int_equal(rc, PROTO_ERR_TRUNCATED);
                assert_int_equal(r.error_offset, f->chunk_off[ci]);
                assert_true(strlen(r.error_msg) > 0);
            }
        }
        free(copy);
    }
    free_file(f);
}

static void test_bit_flips(void **state)
{
    (void)state;
    file_t *f = make_file();
    for (size_t i = 0; i < f->len; i++) {
        uint8_t mask = (uint8_t)(1u << (i % 8));
        f->buf[i] ^= mask;
        rec_reader_t r;
        size_t n;
        int rc = read_all(f, f->buf, f->len, &n, &r);
        assert_true(rc < 0);
        if (i < f->header_len) {
            assert_int_equal(n, 0);
            assert_int_equal(r.error, rc);
        } else {
            size_t ci = 0;
            while (f->chunk_off[ci + 1] <= i)
                ci++;
            assert_int_equal(n, ci * REC_PER_CHUNK);
            assert_int_equal(r.error_offset, f->chunk_off[ci]);
        }
        f->buf[i] ^= mask;
    }
    free_file(f);
}

static void test_missing_chunk(void **state)
{
    (void)state;
    file_t *f = make_file();
    /* remove chunk 2 */
    size_t a = f->chunk_off[2], b = f->chunk_off[3];
    memmove(f->buf + a, f->buf + b, f->len - b);
    size_t len = f->len - (b - a);
    rec_reader_t r;
    size_t n;
    int rc = read_all(f, f->buf, len, &n, &r);
    assert_int_equal(rc, PROTO_ERR_RANGE);
    assert_int_equal(n, 2 * REC_PER_CHUNK);
    assert_int_equal(r.error_offset, a);
    assert_non_null(strstr(r.error_msg, "expected 2"));
    free_file(f);
}

static void test_bad_records(void **state)
{
    (void)state;
    rec_header_t h;
    make_header(&h);
    uint8_t *buf = malloc(1 << 16);
    size_t hl, bl;
    assert_int_equal(rec_header_encode(&h, buf, 1 << 16, &hl), 0);
    rec_chunk_t *c = malloc(sizeof *c);
    uint8_t frame[20] = {1, 2, 3};
    /* pod index beyond the header's pods */
    rec_chunk_init(c, 0);
    assert_int_equal(rec_chunk_add(c, 0, frame, 20), 0);
    assert_int_equal(rec_chunk_add(c, 2, frame, 20), 0);
    const uint8_t *blk = rec_chunk_finish(c, &bl);
    memcpy(buf + hl, blk, bl);
    rec_reader_t r;
    rec_header_t d;
    assert_int_equal(rec_reader_open(&r, buf, hl + bl, &d), 0);
    uint8_t pod;
    const uint8_t *fr;
    size_t fl;
    /* the whole chunk is refused before any of its records is yielded */
    assert_int_equal(rec_reader_next(&r, &pod, &fr, &fl), PROTO_ERR_RANGE);
    assert_int_equal(r.error_offset, hl);

    /* record length running past the payload (CRC recomputed, so only the structure is bad) */
    rec_chunk_init(c, 0);
    assert_int_equal(rec_chunk_add(c, 1, frame, 20), 0);
    proto_put_u16le(c->block + 12 + 1, 21);
    blk = rec_chunk_finish(c, &bl);
    memcpy(buf + hl, blk, bl);
    assert_int_equal(rec_reader_open(&r, buf, hl + bl, &d), 0);
    assert_int_equal(rec_reader_next(&r, &pod, &fr, &fl), PROTO_ERR_LENGTH);

    /* chunk builder limits */
    rec_chunk_init(c, 0);
    assert_int_equal(rec_chunk_add(c, 0, frame, 0), PROTO_ERR_LENGTH);
    uint8_t *big = calloc(1, POD_MAX_FRAME + 1);
    assert_int_equal(rec_chunk_add(c, 0, big, POD_MAX_FRAME + 1), PROTO_ERR_LENGTH);
    size_t added = 0;
    int rc;
    while ((rc = rec_chunk_add(c, 0, big, POD_MAX_FRAME)) == 0)
        added++;
    assert_int_equal(rc, PROTO_ERR_SPACE);
    assert_int_equal(added, REC_MAX_CHUNK / (POD_MAX_FRAME + 3));
    assert_true(rec_chunk_payload(c) <= REC_MAX_CHUNK);
    free(big);
    free(c);
    free(buf);
}

static void test_frames_verified(void **state)
{
    (void)state;
    file_t *f = make_file();
    rec_reader_t r;
    rec_header_t h;
    uint8_t pod;
    const uint8_t *frame;
    size_t flen, n = 0;
    assert_int_equal(rec_reader_open(&r, f->buf, f->len, &h), 0);
    while (rec_reader_next(&r, &pod, &frame, &flen) == 1) {
        assert_int_equal(rec_reader_frame_verified(&r), 1);
        n++;
    }
    assert_int_equal(n, N_CHUNKS * REC_PER_CHUNK);
    assert_int_equal(rec_reader_frame_verified(&r), 0); /* nothing yielded by the last call */

    /* a frame byte flipped in record 7 (chunk 1), the chunk CRC recomputed: the chunk is intact
     * and all its records are yielded, but from record 7 on they are not verified (decoders must
     * check their CRC); chunks 2.. are verified again */
    size_t off = f->chunk_off[1] + 12;
    for (int k = 0; k < 2; k++)
        off += REC_RECORD_OVERHEAD + f->frame_len[REC_PER_CHUNK + k];
    f->buf[off + REC_RECORD_OVERHEAD + 12] ^= 0x10;
    size_t plen = proto_get_u32le(f->buf + f->chunk_off[1] + 8);
    proto_put_u32le(f->buf + f->chunk_off[1] + 12 + plen,
                    proto_crc32(f->buf + f->chunk_off[1] + 4, 8 + plen));
    assert_int_equal(rec_reader_open(&r, f->buf, f->len, &h), 0);
    n = 0;
    while (rec_reader_next(&r, &pod, &frame, &flen) == 1) {
        int want = !(n >= REC_PER_CHUNK + 2 && n < 2 * REC_PER_CHUNK);
        assert_int_equal(rec_reader_frame_verified(&r), want);
        pod_msg_t m;
        size_t used;
        if (!want && n == REC_PER_CHUNK + 2)
            assert_int_equal(pod_decode(frame, flen, &m, &used), PROTO_ERR_CRC);
        n++;
    }
    assert_int_equal(n, N_CHUNKS * REC_PER_CHUNK);
    free_file(f);
}

/* Reads buf[0..len) as daemon/input.c does: through a window of wincap bytes moved along the
 * "file" (rec_reader_want / rec_reader_rebase). Same results as read_all on the whole image. */
static int stream_all(const file_t *f, const uint8_t *buf, size_t len, size_t wincap, size_t *n,
                      rec_reader_t *r)
{
    uint8_t *win = malloc(wincap);
    size_t wlen = len < wincap ? len : wincap, fpos = wlen; /* fpos: next file byte to read */
    memcpy(win, buf, wlen);
    rec_header_t h;
    *n = 0;
    int rc = rec_reader_open(r, win, wlen, &h);
    uint8_t pod;
    const uint8_t *frame;
    size_t flen;
    while (rc == 0) {
        size_t want = rec_reader_want(r);
        if (want && wlen - r->pos < want && fpos < len) {
            size_t keep = wlen - r->pos;
            memmove(win, win + r->pos, keep);
            size_t more = len - fpos < wincap - keep ? len - fpos : wincap - keep;
            memcpy(win + keep, buf + fpos, more);
            size_t base = r->base + r->pos;
            fpos += more;
            wlen = keep + more;
            rec_reader_rebase(r, win, wlen, base);
        }
        int got = rec_reader_next(r, &pod, &frame, &flen);
        if (got <= 0) {
            rc = got;
            break;
        }
        assert_int_equal(pod, *n % 2);
        assert_int_equal(flen, f->frame_len[*n]);
        assert_memory_equal(frame, f->frames[*n], flen);
        assert_int_equal(rec_reader_frame_verified(r), 1);
        (*n)++;
    }
    free(win);
    return rc;
}

static void test_streaming_window(void **state)
{
    (void)state;
    file_t *f = make_file();
    size_t biggest = 0;
    for (int ci = 0; ci < N_CHUNKS; ci++)
        if (f->chunk_off[ci + 1] - f->chunk_off[ci] > biggest)
            biggest = f->chunk_off[ci + 1] - f->chunk_off[ci];
    /* windows from one largest chunk (the minimum input.c guarantees) to a few chunks, on every
     * truncation of the file and on damaged chunks: the same records, status and offsets */
    size_t caps[] = {biggest > f->header_len ? biggest : f->header_len, biggest + 7,
                     2 * biggest + 3};
    for (size_t w = 0; w < sizeof caps / sizeof caps[0]; w++) {
        for (size_t cut = f->header_len; cut <= f->len; cut++) {
            rec_reader_t a, b;
            size_t na, nb;
            int ra = read_all(f, f->buf, cut, &na, &a);
            int rb = stream_all(f, f->buf, cut, caps[w], &nb, &b);
            assert_int_equal(ra, rb);
            assert_int_equal(na, nb);
            if (ra < 0) {
                assert_int_equal(a.error_offset, b.error_offset);
                assert_string_equal(a.error_msg, b.error_msg);
            }
        }
        for (size_t byte = f->chunk_off[0]; byte < f->len; byte += 13) {
            /* a flipped length field can announce a chunk longer than these small windows (the
             * real window holds the largest legal chunk, REC_MAX_CHUNK): not compared here */
            int in_len_field = 0;
            for (int ci = 0; ci < N_CHUNKS; ci++)
                in_len_field |= byte >= f->chunk_off[ci] + 8 && byte < f->chunk_off[ci] + 12;
            if (in_len_field)
                continue;
            f->buf[byte] ^= 0x04;
            rec_reader_t a, b;
            size_t na, nb;
            int ra = read_all(f, f->buf, f->len, &na, &a);
            int rb = stream_all(f, f->buf, f->len, caps[w], &nb, &b);
            assert_int_equal(ra, rb);
            assert_int_equal(na, nb);
            assert_int_equal(a.error_offset, b.error_offset);
            f->buf[byte] ^= 0x04;
        }
    }
    free_file(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_header_roundtrip),
        cmocka_unit_test(test_header_version_and_extension),
        cmocka_unit_test(test_file_roundtrip),
        cmocka_unit_test(test_truncation_everywhere),
        cmocka_unit_test(test_bit_flips),
        cmocka_unit_test(test_missing_chunk),
        cmocka_unit_test(test_bad_records),
        cmocka_unit_test(test_frames_verified),
        cmocka_unit_test(test_streaming_window),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
