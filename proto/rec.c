/* rec.c - the .gaitrec recording format, version 1 (spec: RECORDING.md).
 * Pure code over caller-owned buffers: no I/O, no heap. Every read is bounds-checked. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include "crc.h"
#include "pod.h"
#include "proto.h"
#include "rec.h"

#define MAGIC_LEN 8u
#define CHUNK_HEAD 12u
#define HDR_ATHLETE 0u
#define HDR_START 64u
#define HDR_SOURCE 72u
#define HDR_NPODS 104u
#define HDR_PODS 105u
#define POD_REC_LEN 67u
#define SOURCE_LEN 32u

void rec_header_init(rec_header_t *h)
{
    memset(h, 0, sizeof *h);
    h->version = REC_VERSION;
    for (int p = 0; p < REC_MAX_PODS; p++)
        for (int k = 0; k < 3; k++)
            h->pods[p].acc_scale[k] = 1.0f;
}

/* A text field of n bytes: NUL-terminated, no control characters (UTF-8 allowed), zero padded. */
static int text_valid(const char *s, size_t n)
{
    size_t i = 0;
    while (i < n && s[i] != '\0') {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7F)
            return 0;
        i++;
    }
    return i < n;
}

/* strict: the serial must also be zero padded after its NUL (as written by the encoder). */
static int pod_info_valid(const rec_pod_t *p, int strict)
{
    if (p->foot != POD_FOOT_LEFT && p->foot != POD_FOOT_RIGHT)
        return 0;
    if (!pod_rate_valid(p->rate_hz) || !pod_acc_range_valid(p->acc_range_g) ||
        !pod_gyr_range_valid(p->gyr_range_dps))
        return 0;
    if (strict ? !pod_serial_valid(p->serial, REC_SERIAL_LEN)
               : !text_valid(p->serial, REC_SERIAL_LEN))
        return 0;
    for (size_t i = 0; i < REC_SERIAL_LEN && p->serial[i]; i++)
        if ((unsigned char)p->serial[i] > 0x7E)
            return 0;
    for (int k = 0; k < 3; k++)
        if (!isfinite(p->acc_bias[k]) || !isfinite(p->acc_scale[k]) || !isfinite(p->gyr_bias[k]))
            return 0;
    return 1;
}

static void put_f32(uint8_t *p, float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    proto_put_u32le(p, u);
}

static float get_f32(const uint8_t *p)
{
    uint32_t u = proto_get_u32le(p);
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* Copies a zero-padded text field (only the bytes up to the NUL, then zeros). */
static void put_text(uint8_t *dst, const char *src, size_t n)
{
    size_t l = strnlen(src, n);
    memset(dst, 0, n);
    memcpy(dst, src, l);
}

int rec_header_encode(const rec_header_t *h, uint8_t *buf, size_t cap, size_t *len)
{
    if (h->version != REC_VERSION)
        return PROTO_ERR_VERSION;
    if (h->n_pods > REC_MAX_PODS)
        return PROTO_ERR_RANGE;
    if (!text_valid(h->athlete, REC_ATHLETE_LEN) || !text_valid(h->source, SOURCE_LEN))
        return PROTO_ERR_RANGE;
    for (unsigned i = 0; i < h->n_pods; i++)
        if (!pod_info_valid(&h->pods[i], 0))
            return PROTO_ERR_RANGE;
    size_t hlen = HDR_PODS + (size_t)h->n_pods * POD_REC_LEN;
    size_t total = REC_FILE_HEADER_FIXED + hlen + 4;
    if (cap < total)
        return PROTO_ERR_SPACE;
    memcpy(buf, REC_MAGIC, MAGIC_LEN);
    proto_put_u16le(buf + 8, h->version);
    proto_put_u32le(buf + 10, (uint32_t)hlen);
    uint8_t *q = buf + REC_FILE_HEADER_FIXED;
    put_text(q + HDR_ATHLETE, h->athlete, REC_ATHLETE_LEN);
    proto_put_u64le(q + HDR_START, (uint64_t)h->start_unix_us);
    put_text(q + HDR_SOURCE, h->source, SOURCE_LEN);
    q[HDR_NPODS] = h->n_pods;
    for (unsigned i = 0; i < h->n_pods; i++) {
        const rec_pod_t *p = &h->pods[i];
        uint8_t *r = q + HDR_PODS + i * POD_REC_LEN;
        put_text(r, p->serial, REC_SERIAL_LEN);
        r[16] = p->foot;
        proto_put_u16le(r + 17, p->rate_hz);
        proto_put_u16le(r + 19, p->acc_range_g);
        proto_put_u16le(r + 21, p->gyr_range_dps);
        for (int k = 0; k < 3; k++) {
            put_f32(r + 23 + 4 * k, p->acc_bias[k]);
            put_f32(r + 35 + 4 * k, p->acc_scale[k]);
            put_f32(r + 47 + 4 * k, p->gyr_bias[k]);
        }
        proto_put_u64le(r + 59, (uint64_t)p->clock_offset_us);
    }
    proto_put_u32le(buf + REC_FILE_HEADER_FIXED + hlen, proto_crc32(buf + 8, 6 + hlen));
    *len = total;
    return 0;
}

/* Two's complement int64 from its wire form without implementation-defined conversion. */
static int64_t to_i64(uint64_t u)
{
    if (u <= (uint64_t)INT64_MAX)
        return (int64_t)u;
    return -(int64_t)(~u) - 1;
}

static int fail(rec_reader_t *r, int code, size_t offset, const char *what)
{
    r->error = code;
    r->error_offset = r->base + offset; /* a file offset also when the caller streams */
    snprintf(r->error_msg, sizeof r->error_msg, "%s", what);
    return code;
}

/* Parses the header bytes q[0..hlen) into *h (version already checked). */
static int parse_header(rec_reader_t *r, const uint8_t *q, size_t hlen, rec_header_t *h)
{
    if (hlen < HDR_PODS)
        return fail(r, PROTO_ERR_LENGTH, 10, "header length too small for version 1");
    memcpy(h->athlete, q + HDR_ATHLETE, REC_ATHLETE_LEN);
    if (!text_valid(h->athlete, REC_ATHLETE_LEN))
        return fail(r, PROTO_ERR_RANGE, REC_FILE_HEADER_FIXED + HDR_ATHLETE,
                    "athlete name not NUL-terminated text");
    h->start_unix_us = to_i64(proto_get_u64le(q + HDR_START));
    memcpy(h->source, q + HDR_SOURCE, SOURCE_LEN);
    if (!text_valid(h->source, SOURCE_LEN))
        return fail(r, PROTO_ERR_RANGE, REC_FILE_HEADER_FIXED + HDR_SOURCE,
                    "source not NUL-terminated text");
    h->n_pods = q[HDR_NPODS];
    if (h->n_pods > REC_MAX_PODS)
        return fail(r, PROTO_ERR_RANGE, REC_FILE_HEADER_FIXED + HDR_NPODS, "too many pods");
    if (hlen < HDR_PODS + (size_t)h->n_pods * POD_REC_LEN)
        return fail(r, PROTO_ERR_LENGTH, 10, "header length too small for its pods");
    for (unsigned i = 0; i < h->n_pods; i++) {
        rec_pod_t *p = &h->pods[i];
        const uint8_t *s = q + HDR_PODS + i * POD_REC_LEN;
        memcpy(p->serial, s, REC_SERIAL_LEN);
        p->foot = s[16];
        p->rate_hz = proto_get_u16le(s + 17);
        p->acc_range_g = proto_get_u16le(s + 19);
        p->gyr_range_dps = proto_get_u16le(s + 21);
        for (int k = 0; k < 3; k++) {
            p->acc_bias[k] = get_f32(s + 23 + 4 * k);
            p->acc_scale[k] = get_f32(s + 35 + 4 * k);
            p->gyr_bias[k] = get_f32(s + 47 + 4 * k);
        }
        p->clock_offset_us = to_i64(proto_get_u64le(s + 59));
        if (!pod_info_valid(p, 1))
            return fail(r, PROTO_ERR_RANGE, REC_FILE_HEADER_FIXED + HDR_PODS + i * POD_REC_LEN,
                        "invalid pod description");
    }
    return 0;
}

int rec_reader_open(rec_reader_t *r, const uint8_t *buf, size_t len, rec_header_t *h)
{
    memset(r, 0, sizeof *r);
    r->buf = buf;
    r->len = len;
    rec_header_init(h);
    if (!rec_is_recording(buf, len)) {
        if (len < MAGIC_LEN && len > 0 && memcmp(buf, REC_MAGIC, len) == 0)
            return fail(r, PROTO_ERR_TRUNCATED, 0, "file ends inside the magic");
        return fail(r, PROTO_ERR_MAGIC, 0, "not a gaitd recording (magic GAITREC1 missing)");
    }
    if (len < REC_FILE_HEADER_FIXED)
        return fail(r, PROTO_ERR_TRUNCATED, 0, "file ends inside the header");
    uint16_t version = proto_get_u16le(buf + 8);
    size_t hlen = proto_get_u32le(buf + 10);
    if (hlen > REC_MAX_HEADER)
        return fail(r, PROTO_ERR_LENGTH, 10, "header length out of range");
    if (len < REC_FILE_HEADER_FIXED + hlen + 4)
        return fail(r, PROTO_ERR_TRUNCATED, 0, "file ends inside the header");
    if (proto_crc32(buf + 8, 6 + hlen) != proto_get_u32le(buf + REC_FILE_HEADER_FIXED + hlen))
        return fail(r, PROTO_ERR_CRC, 0, "header CRC mismatch");
    if (version != REC_VERSION) {
        char msg[64];
        snprintf(msg, sizeof msg, "unsupported recording version %u", (unsigned)version);
        return fail(r, PROTO_ERR_VERSION, 8, msg);
    }
    h->version = version;
    int rc = parse_header(r, buf + REC_FILE_HEADER_FIXED, hlen, h);
    if (rc < 0)
        return rc;
    r->n_pods = h->n_pods;
    r->pos = REC_FILE_HEADER_FIXED + hlen + 4;
    r->chunk_pos = r->chunk_end = r->pos;
    return 0;
}

/* Checks the records of an intact chunk payload p[0..n) before any is yielded. */
static int check_records(rec_reader_t *r, size_t chunk_off, uint32_t index, const uint8_t *p,
                         size_t n)
{
    char msg[128];
    size_t i = 0;
    while (i < n) {
        if (n - i < REC_RECORD_OVERHEAD) {
            snprintf(msg, sizeof msg, "chunk %u: record at payload byte %zu cut short",
                     (unsigned)index, i);
            return fail(r, PROTO_ERR_LENGTH, chunk_off, msg);
        }
        unsigned pod = p[i];
        size_t flen = proto_get_u16le(p + i + 1);
        if (pod >= r->n_pods) {
            snprintf(msg, sizeof msg,
                     "chunk %u: record at payload byte %zu: pod index %u, header has %u pods",
                     (unsigned)index, i, pod, (unsigned)r->n_pods);
            return fail(r, PROTO_ERR_RANGE, chunk_off, msg);
        }
        if (flen == 0 || flen > POD_MAX_FRAME || flen > n - i - REC_RECORD_OVERHEAD) {
            snprintf(msg, sizeof msg, "chunk %u: record at payload byte %zu: bad frame length %zu",
                     (unsigned)index, i, flen);
            return fail(r, PROTO_ERR_LENGTH, chunk_off, msg);
        }
        i += REC_RECORD_OVERHEAD + flen;
    }
    return 0;
}

/* Zero bytes for the CRC shift operator (a constant). */
static const uint8_t zeros[POD_MAX_FRAME];

/* Z_L, the CRC register advanced through L zero bytes, is linear over GF(2): column i is the
 * image of bit i, and zl_tab[k][b] the image of byte b at byte position k (the XOR of the columns
 * of its bits), so Z_L(v) is four lookups. Kept for the last L (sample frames of a recording
 * share one length). */
static void zshift_prepare(rec_reader_t *r, size_t L)
{
    if (r->zl_len == L)
        return;
    uint32_t col[32];
    for (int i = 0; i < 32; i++)
        col[i] = proto_crc32_update((1u << i) ^ 0xFFFFFFFFu, zeros, L) ^ 0xFFFFFFFFu;
    for (int k = 0; k < 4; k++) {
        r->zl_tab[k][0] = 0;
        for (unsigned b = 1; b < 256; b++) { /* b's lowest set bit, then the rest of b */
            unsigned low = 0;
            while (!((b >> low) & 1u))
                low++;
            r->zl_tab[k][b] = col[8 * k + low] ^ r->zl_tab[k][b & (b - 1)];
        }
    }
    r->zl_len = L;
}

static uint32_t zshift(const rec_reader_t *r, uint32_t v)
{
    return r->zl_tab[0][v & 0xFFu] ^ r->zl_tab[1][(v >> 8) & 0xFFu] ^
           r->zl_tab[2][(v >> 16) & 0xFFu] ^ r->zl_tab[3][v >> 24];
}

/* CRC-32 of chunk bytes c[4 .. 12 + plen) (index, length, payload), computed in one pass that
 * also checks the CRC of every pod frame inside the records: with c0 and c1 the running CRC
 * before and after a frame's covered bytes (L of them), the frame's own CRC is Z_L(c0) ^ c1
 * (CRC linearity), so no byte is read twice. *verified receives the payload offset of the first
 * record that is not a pod frame with a matching CRC (plen when all are). Safe on any bytes. */
static uint32_t chunk_crc(rec_reader_t *r, const uint8_t *c, size_t plen, size_t *verified)
{
    const uint8_t *p = c + CHUNK_HEAD;
    uint32_t crc = proto_crc32_update(0, c + 4, 8);
    size_t i = 0;
    *verified = plen;
    while (plen - i >= REC_RECORD_OVERHEAD) {
        size_t flen = proto_get_u16le(p + i + 1);
        if (flen > plen - i - REC_RECORD_OVERHEAD)
            break;
        const uint8_t *f = p + i + REC_RECORD_OVERHEAD;
        int ok = 0;
        if (flen >= POD_FRAME_OVERHEAD && flen <= POD_MAX_FRAME && f[0] == 0xA5 && f[1] == 0x5A &&
            POD_FRAME_OVERHEAD + (size_t)proto_get_u16le(f + 4) == flen) {
            size_t L = flen - 6; /* version .. payload */
            crc = proto_crc32_update(crc, p + i, REC_RECORD_OVERHEAD + 2);
            uint32_t c0 = crc;
            crc = proto_crc32_update(crc, f + 2, L);
            zshift_prepare(r, L);
            ok = (zshift(r, c0) ^ crc) == proto_get_u32le(f + flen - 4);
            crc = proto_crc32_update(crc, f + flen - 4, 4);
        } else {
            crc = proto_crc32_update(crc, p + i, REC_RECORD_OVERHEAD + flen);
        }
        if (!ok && *verified == plen)
            *verified = i;
        i += REC_RECORD_OVERHEAD + flen;
    }
    if (i < plen && *verified == plen)
        *verified = i;
    return proto_crc32_update(crc, p + i, plen - i);
}

/* Opens the chunk at r->pos. Returns 1 (chunk opened), 0 (clean end) or a negative status. */
static int open_chunk(rec_reader_t *r)
{
    size_t off = r->pos;
    char msg[128];
    if (off == r->len)
        return 0;
    size_t avail = r->len - off;
    const uint8_t *c = r->buf + off;
    if (avail < 4) {
        if (memcmp(c, REC_CHUNK_MAGIC, avail) != 0)
            return fail(r, PROTO_ERR_MAGIC, off, "chunk magic CHNK missing");
        return fail(r, PROTO_ERR_TRUNCATED, off, "file ends inside a chunk header");
    }
    if (memcmp(c, REC_CHUNK_MAGIC, 4) != 0)
        return fail(r, PROTO_ERR_MAGIC, off, "chunk magic CHNK missing");
    if (avail < CHUNK_HEAD)
        return fail(r, PROTO_ERR_TRUNCATED, off, "file ends inside a chunk header");
    uint32_t index = proto_get_u32le(c + 4);
    size_t plen = proto_get_u32le(c + 8);
    if (plen > REC_MAX_CHUNK) {
        snprintf(msg, sizeof msg, "chunk %u: payload length %zu out of range", (unsigned)index,
                 plen);
        return fail(r, PROTO_ERR_LENGTH, off, msg);
    }
    if (avail < CHUNK_HEAD + plen + 4) {
        snprintf(msg, sizeof msg, "chunk %u: truncated (%zu of %zu bytes)", (unsigned)index, avail,
                 (size_t)(CHUNK_HEAD + plen + 4));
        return fail(r, PROTO_ERR_TRUNCATED, off, msg);
    }
    size_t verified;
    if (chunk_crc(r, c, plen, &verified) != proto_get_u32le(c + CHUNK_HEAD + plen)) {
        snprintf(msg, sizeof msg, "chunk %u: CRC mismatch", (unsigned)index);
        return fail(r, PROTO_ERR_CRC, off, msg);
    }
    if (index != r->next_index) {
        snprintf(msg, sizeof msg, "chunk index %u, expected %u (chunks missing or reordered)",
                 (unsigned)index, (unsigned)r->next_index);
        return fail(r, PROTO_ERR_RANGE, off, msg);
    }
    int rc = check_records(r, off, index, c + CHUNK_HEAD, plen);
    if (rc < 0)
        return rc;
    r->next_index++;
    r->chunk_pos = off + CHUNK_HEAD;
    r->chunk_end = off + CHUNK_HEAD + plen;
    r->verified_end = off + CHUNK_HEAD + verified;
    r->pos = r->chunk_end + 4;
    return 1;
}

int rec_reader_frame_verified(const rec_reader_t *r)
{
    return r->frame_verified;
}

int rec_reader_next(rec_reader_t *r, uint8_t *pod_index, const uint8_t **frame, size_t *frame_len)
{
    r->frame_verified = 0;
    if (r->error)
        return r->error;
    while (r->chunk_pos >= r->chunk_end) {
        int rc = open_chunk(r);
        if (rc <= 0)
            return rc;
    }
    /* records were validated by check_records */
    const uint8_t *p = r->buf + r->chunk_pos;
    size_t flen = proto_get_u16le(p + 1);
    *pod_index = p[0];
    *frame = p + REC_RECORD_OVERHEAD;
    *frame_len = flen;
    r->frame_verified = r->chunk_pos < r->verified_end;
    r->chunk_pos += REC_RECORD_OVERHEAD + flen;
    return 1;
}

size_t rec_reader_want(const rec_reader_t *r)
{
    if (r->error || r->chunk_pos < r->chunk_end)
        return 0;
    size_t avail = r->len - r->pos;
    if (avail < CHUNK_HEAD)
        return CHUNK_HEAD;
    size_t plen = proto_get_u32le(r->buf + r->pos + 8);
    if (plen > REC_MAX_CHUNK)
        return CHUNK_HEAD; /* open_chunk reports it from the head alone */
    return CHUNK_HEAD + plen + 4;
}

void rec_reader_rebase(rec_reader_t *r, const uint8_t *buf, size_t len, size_t base)
{
    /* offsets into the old window become offsets into the new one (the caller guarantees that
     * base <= the reader's file position <= base + len) */
    size_t shift = base - r->base;
    r->pos -= shift;
    r->chunk_pos = r->chunk_pos >= shift ? r->chunk_pos - shift : 0;
    r->chunk_end = r->chunk_end >= shift ? r->chunk_end - shift : 0;
    r->verified_end = r->verified_end >= shift ? r->verified_end - shift : 0;
    if (r->chunk_pos > r->chunk_end)
        r->chunk_pos = r->chunk_end;
    r->buf = buf;
    r->len = len;
    r->base = base;
}

int rec_is_recording(const uint8_t *buf, size_t len)
{
    return len >= MAGIC_LEN && memcmp(buf, REC_MAGIC, MAGIC_LEN) == 0;
}

/* ---- chunk builder ---- */

void rec_chunk_init(rec_chunk_t *c, uint32_t index)
{
    c->index = index;
    c->len = CHUNK_HEAD;
}

size_t rec_chunk_payload(const rec_chunk_t *c)
{
    return c->len - CHUNK_HEAD;
}

int rec_chunk_add(rec_chunk_t *c, uint8_t pod_index, const uint8_t *frame, size_t frame_len)
{
    if (frame_len == 0 || frame_len > POD_MAX_FRAME)
        return PROTO_ERR_LENGTH;
    if (rec_chunk_payload(c) + REC_RECORD_OVERHEAD + frame_len > REC_MAX_CHUNK)
        return PROTO_ERR_SPACE;
    uint8_t *p = c->block + c->len;
    p[0] = pod_index;
    proto_put_u16le(p + 1, (uint16_t)frame_len);
    memcpy(p + REC_RECORD_OVERHEAD, frame, frame_len);
    c->len += REC_RECORD_OVERHEAD + frame_len;
    return 0;
}

const uint8_t *rec_chunk_finish(rec_chunk_t *c, size_t *len)
{
    size_t plen = rec_chunk_payload(c);
    memcpy(c->block, REC_CHUNK_MAGIC, 4);
    proto_put_u32le(c->block + 4, c->index);
    proto_put_u32le(c->block + 8, (uint32_t)plen);
    proto_put_u32le(c->block + c->len, proto_crc32(c->block + 4, 8 + plen));
    *len = c->len + 4;
    return c->block;
}
