/* pod.c - gaitd pod USB protocol v1: frame codec and stream resync (spec: POD-PROTOCOL.md).
 * Every wire field is read and written with the proto_*le helpers; every read is preceded by a
 * length check, so the decoders never touch a byte outside their input. */
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include "crc.h"
#include "pod.h"
#include "proto.h"

#define SYNC0 0xA5u
#define SYNC1 0x5Au
#define IDENTIFY_LEN 26u
#define RUN_INFO_LEN 20u

int pod_rate_valid(unsigned rate_hz)
{
    return rate_hz >= 50 && rate_hz <= 2000;
}

int pod_acc_range_valid(unsigned g)
{
    return g == 2 || g == 4 || g == 8 || g == 16 || g == 32;
}

int pod_gyr_range_valid(unsigned dps)
{
    return dps == 125 || dps == 250 || dps == 500 || dps == 1000 || dps == 2000 || dps == 4000;
}

/* Printable ASCII up to a NUL inside serial[0..n); returns the string length or -1. */
static long serial_prefix(const char *serial, size_t n)
{
    size_t i = 0;
    while (i < n && serial[i] != '\0') {
        unsigned char c = (unsigned char)serial[i];
        if (c < 0x20 || c > 0x7E)
            return -1;
        i++;
    }
    return i < n ? (long)i : -1;
}

int pod_serial_valid(const char *serial, size_t n)
{
    size_t i = 0;
    while (i < n && serial[i] != '\0') {
        unsigned char c = (unsigned char)serial[i];
        if (c < 0x20 || c > 0x7E)
            return 0;
        i++;
    }
    if (i == n)
        return 0; /* no terminating NUL */
    for (; i < n; i++)
        if (serial[i] != '\0')
            return 0;
    return 1;
}

const char *pod_msg_name(unsigned type)
{
    switch (type) {
    case POD_CMD_IDENTIFY:
        return "CMD_IDENTIFY";
    case POD_CMD_CLOCK_SYNC:
        return "CMD_CLOCK_SYNC";
    case POD_CMD_START_STREAM:
        return "CMD_START_STREAM";
    case POD_CMD_STOP_STREAM:
        return "CMD_STOP_STREAM";
    case POD_CMD_LIST_RUNS:
        return "CMD_LIST_RUNS";
    case POD_CMD_READ_RUN:
        return "CMD_READ_RUN";
    case POD_CMD_ERASE_RUN:
        return "CMD_ERASE_RUN";
    case POD_REP_IDENTIFY:
        return "REP_IDENTIFY";
    case POD_REP_CLOCK_SYNC:
        return "REP_CLOCK_SYNC";
    case POD_REP_ACK:
        return "REP_ACK";
    case POD_REP_RUNS:
        return "REP_RUNS";
    case POD_REP_RUN_END:
        return "REP_RUN_END";
    case POD_MSG_SAMPLES:
        return "MSG_SAMPLES";
    default:
        return "unknown";
    }
}

static int is_command(unsigned type)
{
    return type >= POD_CMD_IDENTIFY && type <= POD_CMD_ERASE_RUN;
}

/* Checks the fields of a message that have a restricted range; returns 0 or PROTO_ERR_RANGE. */
/* The fields of an IDENTIFY reply's payload (IDENTIFY_LEN bytes), unchecked. */
static void identify_fields(const uint8_t *p, pod_identify_t *id)
{
    memcpy(id->serial, p, POD_SERIAL_LEN);
    id->foot = p[16];
    id->fw_major = p[17];
    id->fw_minor = p[18];
    id->fw_patch = p[19];
    id->rate_hz = proto_get_u16le(p + 20);
    id->acc_range_g = proto_get_u16le(p + 22);
    id->gyr_range_dps = proto_get_u16le(p + 24);
}

static int check_identify(const pod_identify_t *id, int strict)
{
    if (id->foot != POD_FOOT_LEFT && id->foot != POD_FOOT_RIGHT)
        return PROTO_ERR_RANGE;
    if (!pod_rate_valid(id->rate_hz) || !pod_acc_range_valid(id->acc_range_g) ||
        !pod_gyr_range_valid(id->gyr_range_dps))
        return PROTO_ERR_RANGE;
    if (strict ? !pod_serial_valid(id->serial, POD_SERIAL_LEN)
               : serial_prefix(id->serial, POD_SERIAL_LEN) < 0)
        return PROTO_ERR_RANGE;
    return 0;
}

static int check_samples_header(const pod_samples_t *f)
{
    if (!pod_rate_valid(f->rate_hz) || !pod_acc_range_valid(f->acc_range_g) ||
        !pod_gyr_range_valid(f->gyr_range_dps))
        return PROTO_ERR_RANGE;
    if (f->n < 1 || f->n > POD_MAX_SAMPLES)
        return PROTO_ERR_RANGE;
    return 0;
}

/* Payload length of a valid message m, or a negative status. */
static int payload_len(const pod_msg_t *m, size_t *plen)
{
    int rc = 0;
    switch (m->type) {
    case POD_CMD_IDENTIFY:
    case POD_CMD_START_STREAM:
    case POD_CMD_STOP_STREAM:
    case POD_CMD_LIST_RUNS:
        *plen = 0;
        break;
    case POD_CMD_CLOCK_SYNC:
        *plen = 8;
        break;
    case POD_CMD_READ_RUN:
        *plen = 8;
        break;
    case POD_CMD_ERASE_RUN:
        *plen = 4;
        break;
    case POD_REP_IDENTIFY:
        rc = check_identify(&m->u.identify, 0);
        *plen = IDENTIFY_LEN;
        break;
    case POD_REP_CLOCK_SYNC:
        *plen = 16;
        break;
    case POD_REP_ACK:
        if (!is_command(m->u.ack.cmd))
            rc = PROTO_ERR_RANGE;
        *plen = 2;
        break;
    case POD_REP_RUNS:
        if (m->u.runs.n > POD_MAX_RUNS)
            rc = PROTO_ERR_RANGE;
        *plen = 1 + (size_t)m->u.runs.n * RUN_INFO_LEN;
        break;
    case POD_REP_RUN_END:
        *plen = 12;
        break;
    case POD_MSG_SAMPLES:
        rc = check_samples_header(&m->u.samples);
        *plen = POD_SAMPLES_FIXED + (size_t)m->u.samples.n * POD_SAMPLE_BYTES;
        break;
    default:
        return PROTO_ERR_TYPE;
    }
    return rc;
}

static void encode_payload(const pod_msg_t *m, uint8_t *p)
{
    switch (m->type) {
    case POD_CMD_CLOCK_SYNC:
        proto_put_u64le(p, m->u.clock.host_us);
        break;
    case POD_CMD_READ_RUN:
        proto_put_u32le(p, m->u.read_run.run_id);
        proto_put_u32le(p + 4, m->u.read_run.first_frame);
        break;
    case POD_CMD_ERASE_RUN:
        proto_put_u32le(p, m->u.run_id);
        break;
    case POD_REP_IDENTIFY: {
        const pod_identify_t *id = &m->u.identify;
        long sl = serial_prefix(id->serial, POD_SERIAL_LEN); /* >= 0: checked */
        memset(p, 0, POD_SERIAL_LEN);
        memcpy(p, id->serial, (size_t)sl);
        p[16] = id->foot;
        p[17] = id->fw_major;
        p[18] = id->fw_minor;
        p[19] = id->fw_patch;
        proto_put_u16le(p + 20, id->rate_hz);
        proto_put_u16le(p + 22, id->acc_range_g);
        proto_put_u16le(p + 24, id->gyr_range_dps);
        break;
    }
    case POD_REP_CLOCK_SYNC:
        proto_put_u64le(p, m->u.clock.host_us);
        proto_put_u64le(p + 8, m->u.clock.pod_us);
        break;
    case POD_REP_ACK:
        p[0] = m->u.ack.cmd;
        p[1] = m->u.ack.status;
        break;
    case POD_REP_RUNS:
        p[0] = m->u.runs.n;
        for (unsigned i = 0; i < m->u.runs.n; i++) {
            const pod_run_info_t *r = &m->u.runs.runs[i];
            uint8_t *q = p + 1 + i * RUN_INFO_LEN;
            proto_put_u32le(q, r->run_id);
            proto_put_u64le(q + 4, r->start_unix_us);
            proto_put_u32le(q + 12, r->n_frames);
            proto_put_u32le(q + 16, r->crc32);
        }
        break;
    case POD_REP_RUN_END:
        proto_put_u32le(p, m->u.run_end.run_id);
        proto_put_u32le(p + 4, m->u.run_end.n_frames);
        proto_put_u32le(p + 8, m->u.run_end.crc32);
        break;
    case POD_MSG_SAMPLES: {
        const pod_samples_t *f = &m->u.samples;
        proto_put_u32le(p, f->seq);
        proto_put_u64le(p + 4, f->t_dev_us);
        proto_put_u16le(p + 12, f->rate_hz);
        proto_put_u16le(p + 14, f->acc_range_g);
        proto_put_u16le(p + 16, f->gyr_range_dps);
        proto_put_u16le(p + 18, f->n);
        proto_put_u32le(p + 20, f->run_id);
        uint8_t *q = p + POD_SAMPLES_FIXED;
        for (unsigned i = 0; i < f->n; i++)
            for (unsigned k = 0; k < 6; k++, q += 2)
                proto_put_u16le(q, (uint16_t)f->s[i][k]);
        break;
    }
    default: /* commands without payload */
        break;
    }
}

/* Encodes m as one frame into buf[0..cap); see pod.h. */
int pod_encode(const pod_msg_t *m, uint8_t *buf, size_t cap, size_t *len)
{
    size_t plen = 0;
    int rc = payload_len(m, &plen);
    if (rc < 0)
        return rc;
    size_t total = POD_FRAME_OVERHEAD + plen;
    if (cap < total)
        return PROTO_ERR_SPACE;
    buf[0] = SYNC0;
    buf[1] = SYNC1;
    buf[2] = POD_PROTO_VERSION;
    buf[3] = m->type;
    proto_put_u16le(buf + 4, (uint16_t)plen);
    encode_payload(m, buf + POD_HEADER_LEN);
    proto_put_u32le(buf + POD_HEADER_LEN + plen, proto_crc32(buf + 2, 4 + plen));
    *len = total;
    return 0;
}

#if !(defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__)
/* Two's complement int16 from its unsigned wire form without implementation-defined casts. */
static int16_t to_i16(uint16_t v)
{
    return v < 0x8000u ? (int16_t)v : (int16_t)((int32_t)v - 0x10000);
}
#endif

/* Decodes payload p[0..plen) of a frame of type `type` into *m. With lean set, a sample frame
 * clears only the fields before the samples (s[n..] is left as it was: see pod_decode_trusted).
 * With raw non-NULL (lean set too), a sample frame's values are not copied: *raw points at them
 * in p (pod_decode_ref). */
static int decode_payload(unsigned type, const uint8_t *p, size_t plen, pod_msg_t *m, int lean,
                          const uint8_t **raw)
{
    if (lean && type == POD_MSG_SAMPLES)
        memset(m, 0, offsetof(pod_msg_t, u.samples.s));
    else
        memset(m, 0, sizeof *m);
    m->type = (uint8_t)type;
    switch (type) {
    case POD_CMD_IDENTIFY:
    case POD_CMD_START_STREAM:
    case POD_CMD_STOP_STREAM:
    case POD_CMD_LIST_RUNS:
        return plen == 0 ? 0 : PROTO_ERR_LENGTH;
    case POD_CMD_CLOCK_SYNC:
        if (plen != 8)
            return PROTO_ERR_LENGTH;
        m->u.clock.host_us = proto_get_u64le(p);
        return 0;
    case POD_CMD_READ_RUN:
        if (plen != 8)
            return PROTO_ERR_LENGTH;
        m->u.read_run.run_id = proto_get_u32le(p);
        m->u.read_run.first_frame = proto_get_u32le(p + 4);
        return 0;
    case POD_CMD_ERASE_RUN:
        if (plen != 4)
            return PROTO_ERR_LENGTH;
        m->u.run_id = proto_get_u32le(p);
        return 0;
    case POD_REP_IDENTIFY: {
        if (plen != IDENTIFY_LEN)
            return PROTO_ERR_LENGTH;
        pod_identify_t *id = &m->u.identify;
        identify_fields(p, id);
        return check_identify(id, 1);
    }
    case POD_REP_CLOCK_SYNC:
        if (plen != 16)
            return PROTO_ERR_LENGTH;
        m->u.clock.host_us = proto_get_u64le(p);
        m->u.clock.pod_us = proto_get_u64le(p + 8);
        return 0;
    case POD_REP_ACK:
        if (plen != 2)
            return PROTO_ERR_LENGTH;
        m->u.ack.cmd = p[0];
        m->u.ack.status = p[1];
        return is_command(p[0]) ? 0 : PROTO_ERR_RANGE;
    case POD_REP_RUNS: {
        if (plen < 1)
            return PROTO_ERR_LENGTH;
        unsigned n = p[0];
        if (n > POD_MAX_RUNS)
            return PROTO_ERR_RANGE;
        if (plen != 1 + (size_t)n * RUN_INFO_LEN)
            return PROTO_ERR_LENGTH;
        m->u.runs.n = (uint8_t)n;
        for (unsigned i = 0; i < n; i++) {
            pod_run_info_t *r = &m->u.runs.runs[i];
            const uint8_t *q = p + 1 + i * RUN_INFO_LEN;
            r->run_id = proto_get_u32le(q);
            r->start_unix_us = proto_get_u64le(q + 4);
            r->n_frames = proto_get_u32le(q + 12);
            r->crc32 = proto_get_u32le(q + 16);
        }
        return 0;
    }
    case POD_REP_RUN_END:
        if (plen != 12)
            return PROTO_ERR_LENGTH;
        m->u.run_end.run_id = proto_get_u32le(p);
        m->u.run_end.n_frames = proto_get_u32le(p + 4);
        m->u.run_end.crc32 = proto_get_u32le(p + 8);
        return 0;
    case POD_MSG_SAMPLES: {
        if (plen < POD_SAMPLES_FIXED)
            return PROTO_ERR_LENGTH;
        pod_samples_t *f = &m->u.samples;
        f->seq = proto_get_u32le(p);
        f->t_dev_us = proto_get_u64le(p + 4);
        f->rate_hz = proto_get_u16le(p + 12);
        f->acc_range_g = proto_get_u16le(p + 14);
        f->gyr_range_dps = proto_get_u16le(p + 16);
        f->n = proto_get_u16le(p + 18);
        f->run_id = proto_get_u32le(p + 20);
        int rc = check_samples_header(f);
        if (rc < 0)
            return rc;
        if (plen != POD_SAMPLES_FIXED + (size_t)f->n * POD_SAMPLE_BYTES)
            return PROTO_ERR_LENGTH;
        const uint8_t *q = p + POD_SAMPLES_FIXED;
        if (raw) {
            *raw = q;
            return 0;
        }
        int16_t *d = &f->s[0][0]; /* the n x 6 values are contiguous */
        size_t nv = (size_t)f->n * 6u;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        /* int16_t is two's complement (C11 7.20.1.1): on a little-endian host the wire bytes
         * are the values; a byte copy, no overlay of the input */
        memcpy(d, q, nv * sizeof *d);
#else
        for (size_t i = 0; i < nv; i++)
            d[i] = to_i16(proto_get_u16le(q + 2 * i));
#endif
        return 0;
    }
    default:
        return PROTO_ERR_TYPE;
    }
}

/* Decodes the frame at buf[0]; see pod.h for the error order. Never reads buf[len]. With trusted
 * set the CRC is not compared (and sample frames are decoded lean); every other check stays. */
static int decode_frame(const uint8_t *buf, size_t len, pod_msg_t *m, size_t *consumed,
                        int trusted, const uint8_t **raw)
{
    if (len >= 1 && buf[0] != SYNC0)
        return PROTO_ERR_MAGIC;
    if (len >= 2 && buf[1] != SYNC1)
        return PROTO_ERR_MAGIC;
    if (len < POD_HEADER_LEN)
        return PROTO_ERR_TRUNCATED;
    size_t plen = proto_get_u16le(buf + 4);
    if (plen > POD_MAX_PAYLOAD)
        return PROTO_ERR_LENGTH;
    size_t total = POD_FRAME_OVERHEAD + plen;
    if (len < total)
        return PROTO_ERR_TRUNCATED;
    if (!trusted) {
        uint32_t want = proto_get_u32le(buf + POD_HEADER_LEN + plen);
        if (proto_crc32(buf + 2, 4 + plen) != want)
            return PROTO_ERR_CRC;
    }
    if (buf[2] != POD_PROTO_VERSION)
        return PROTO_ERR_VERSION;
    int rc = decode_payload(buf[3], buf + POD_HEADER_LEN, plen, m, trusted || raw, raw);
    if (rc < 0)
        return rc;
    *consumed = total;
    return 0;
}

int pod_decode(const uint8_t *buf, size_t len, pod_msg_t *m, size_t *consumed)
{
    return decode_frame(buf, len, m, consumed, 0, NULL);
}

int pod_decode_trusted(const uint8_t *buf, size_t len, pod_msg_t *m, size_t *consumed)
{
    return decode_frame(buf, len, m, consumed, 1, NULL);
}

int pod_decode_ref(const uint8_t *buf, size_t len, int trusted, pod_msg_t *m,
                   const uint8_t **raw, size_t *consumed)
{
    *raw = NULL;
    return decode_frame(buf, len, m, consumed, trusted != 0, raw);
}

/* ---- stream reassembly ---- */

void pod_stream_init(pod_stream_t *st)
{
    memset(st, 0, sizeof *st);
}

size_t pod_stream_feed(pod_stream_t *st, const uint8_t *data, size_t n)
{
    size_t room = sizeof st->buf - st->len;
    if (n > room)
        n = room;
    if (n > 0) {
        memcpy(st->buf + st->len, data, n);
        st->len += n;
    }
    return n;
}

/* Drops the first n buffered bytes (they were a delivered frame or skipped garbage). */
static void drop(pod_stream_t *st, size_t n)
{
    memmove(st->buf, st->buf + n, st->len - n);
    st->len -= n;
    st->offset += n;
}

static void skip(pod_stream_t *st, size_t n)
{
    st->stats.bytes_skipped += n;
    st->pending_skip += n;
    drop(st, n);
}

/* Sequence bookkeeping of a decoded sample frame. Returns 1 to deliver (with *gap set), 0 to
 * drop (duplicate or out of order), 2 to hold it (reorder window: it follows a gap). */
static int track_seq(pod_stream_t *st, const pod_samples_t *f, uint32_t *gap)
{
    *gap = 0;
    if (!st->have_seq || f->run_id != st->last_run) {
        st->have_seq = 1;
        st->last_seq = f->seq;
        st->last_run = f->run_id;
        st->recent = 1;
        return 1;
    }
    uint32_t d = f->seq - st->last_seq; /* modulo 2^32: wrap-around is a step of 1 */
    if (d == 0) {
        st->stats.duplicates++;
        return 0;
    }
    if (d >= 0x80000000u) { /* older than the last delivered frame */
        uint32_t back = st->last_seq - f->seq;
        if (back < 64 && (st->recent >> back & 1u))
            st->stats.duplicates++;
        else
            st->stats.out_of_order++;
        return 0;
    }
    if (st->held) {
        uint32_t hd = st->held_f.seq - st->last_seq;
        if (d == hd) {
            st->stats.duplicates++;
            return 0;
        }
        if (d < hd)
            st->stats.reordered++; /* into the gap before the held frame: put back in order */
    } else if (d > 1 && st->reorder) {
        return 2;
    }
    if (d > 1) {
        *gap = d - 1;
        st->stats.seq_gaps++;
        st->stats.frames_lost += d - 1;
    }
    st->recent = d < 64 ? (st->recent << d) | 1u : 1u;
    st->last_seq = f->seq;
    return 1;
}

/* Delivers the held frame (its gap, if still open, counted as lost). */
static int release_held(pod_stream_t *st, pod_msg_t *m, pod_stream_report_t *rep)
{
    uint32_t d = st->held_f.seq - st->last_seq;
    uint32_t gap = d > 1 ? d - 1 : 0;
    if (gap) {
        st->stats.seq_gaps++;
        st->stats.frames_lost += gap;
    }
    st->recent = d < 64 ? (st->recent << d) | 1u : 1u;
    st->last_seq = st->held_f.seq;
    st->held = 0;
    st->release = 0;
    m->type = POD_MSG_SAMPLES;
    m->u.samples = st->held_f;
    st->stats.frames_ok++;
    if (rep) {
        *rep = st->held_rep;
        rep->gap_frames = gap;
        rep->events = (rep->events & ~POD_EV_GAP) | (gap ? POD_EV_GAP : 0);
    }
    return 1;
}

void pod_stream_set_reorder(pod_stream_t *st, int on)
{
    st->reorder = on != 0;
}

void pod_stream_expect(pod_stream_t *st, uint32_t run_id, uint32_t seq)
{
    if (st->held) {
        st->held = 0;
        st->stats.stale++;
    }
    st->expecting = 1;
    st->exp_run = run_id;
    st->exp_seq = seq;
}

void pod_stream_release(pod_stream_t *st)
{
    if (st->held)
        st->release = 1;
}

void pod_stream_reset(pod_stream_t *st)
{
    pod_stream_stats_t s = st->stats;
    int reorder = st->reorder;
    pod_stream_init(st);
    st->stats = s;
    st->reorder = reorder;
}

/* Seq tracking restarts after messages that begin a new numbering (POD-PROTOCOL.md). */
static void maybe_reset_seq(pod_stream_t *st, const pod_msg_t *m)
{
    if ((m->type == POD_REP_ACK && m->u.ack.cmd == POD_CMD_START_STREAM) ||
        m->type == POD_REP_RUN_END)
        st->have_seq = 0;
}

/* While a frame is held: 1 if m must wait until the held frame is delivered (any other
 * message, another run, or a frame beyond the held one); frames of its gap, duplicates and
 * older frames are handled by track_seq. */
static int after_held(const pod_stream_t *st, const pod_msg_t *m)
{
    if (m->type != POD_MSG_SAMPLES || m->u.samples.run_id != st->last_run)
        return 1;
    uint32_t d = m->u.samples.seq - st->last_seq;
    return d < 0x80000000u && d > st->held_f.seq - st->last_seq;
}

int pod_stream_next(pod_stream_t *st, pod_msg_t *m, pod_stream_report_t *rep)
{
    for (;;) {
        if (st->held && (st->release || st->held_f.seq - st->last_seq == 1))
            return release_held(st, m, rep);
        /* find a sync pattern at buf[0] */
        size_t i = 0;
        while (i < st->len &&
               !(st->buf[i] == SYNC0 && (i + 1 == st->len || st->buf[i + 1] == SYNC1)))
            i++;
        if (i > 0)
            skip(st, i);
        if (st->len == 0) {
            if (st->held && st->eof)
                return release_held(st, m, rep);
            return 0;
        }
        size_t used = 0;
        int rc = pod_decode(st->buf, st->len, m, &used);
        if (rc == PROTO_ERR_TRUNCATED) {
            if (!st->eof)
                return 0;
            skip(st, 1); /* cut by the end of the stream: not a frame */
            continue;
        }
        if (rc == PROTO_ERR_CRC) {
            st->stats.crc_errors++;
            uint64_t end = st->offset + POD_FRAME_OVERHEAD + proto_get_u16le(st->buf + 4);
            if (!st->cut_pending || st->offset >= st->cut_end) {
                st->cut_pending = 1; /* a new damaged region: classified by what follows */
                st->cut_end = end;
            }
            skip(st, 1);
            continue;
        }
        if (rc == PROTO_ERR_MAGIC) { /* cannot happen after the scan; resync anyway */
            skip(st, 1);
            continue;
        }
        /* not TRUNCATED, so buf[0..6) holds the sync and a frame header */
        size_t announced = proto_get_u16le(st->buf + 4);
        if (rc == PROTO_ERR_LENGTH && announced > POD_MAX_PAYLOAD) {
            skip(st, 1); /* false sync: resync one byte further */
            continue;
        }
        if (rc < 0) {
            /* CRC-valid frame we cannot use (VERSION, TYPE, RANGE, payload LENGTH wrong for
             * its type): skip it whole, keeping its type and first payload bytes for the
             * caller (pod_identify_explain) */
            st->stats.rejected++;
            st->rej_type = st->buf[3];
            st->rej_err = rc;
            st->rej_len =
                (uint16_t)(announced < sizeof st->rej_payload ? announced : sizeof st->rej_payload);
            memcpy(st->rej_payload, st->buf + POD_HEADER_LEN, st->rej_len);
            skip(st, POD_FRAME_OVERHEAD + announced);
            continue;
        }
        uint64_t frame_off = st->offset;
        if (st->cut_pending) {
            if (frame_off < st->cut_end)
                st->stats.truncated++; /* the damaged frame was cut short by this one */
            st->cut_pending = 0;
        }
        if (st->expecting && m->type == POD_MSG_SAMPLES) {
            if (m->u.samples.run_id != st->exp_run || m->u.samples.seq != st->exp_seq) {
                st->stats.stale++; /* left over from an earlier transfer */
                drop(st, used);
                continue;
            }
            st->expecting = 0;
            st->have_seq = 0; /* numbering starts again here */
        }
        if (st->held && after_held(st, m)) {
            /* anything but a frame of the held one's gap (or an older one): the held frame goes
             * first, this one is decoded again at the next call */
            return release_held(st, m, rep);
        }
        uint32_t gap = 0;
        int deliver = 1;
        if (m->type == POD_MSG_SAMPLES)
            deliver = track_seq(st, &m->u.samples, &gap);
        else
            maybe_reset_seq(st, m);
        drop(st, used);
        if (deliver == 2) {
            st->held = 1;
            st->release = 0;
            st->held_f = m->u.samples;
            memset(&st->held_rep, 0, sizeof st->held_rep);
            st->held_rep.skipped_bytes = st->pending_skip;
            st->held_rep.offset = frame_off;
            if (st->pending_skip)
                st->held_rep.events |= POD_EV_RESYNC;
            st->pending_skip = 0;
            continue;
        }
        if (!deliver)
            continue;
        st->stats.frames_ok++;
        if (rep) {
            rep->events = 0;
            rep->gap_frames = gap;
            rep->skipped_bytes = st->pending_skip;
            rep->offset = frame_off;
            if (gap)
                rep->events |= POD_EV_GAP;
            if (st->pending_skip)
                rep->events |= POD_EV_RESYNC;
        }
        st->pending_skip = 0;
        return 1;
    }
}

void pod_stream_finish(pod_stream_t *st)
{
    st->eof = 1;
}

int pod_identify_explain(const uint8_t *payload, size_t len, pod_identify_t *id, char *why,
                         size_t cap)
{
    memset(id, 0, sizeof *id);
    if (len != IDENTIFY_LEN) {
        snprintf(why, cap, "payload of %zu bytes (expected %u)", len, IDENTIFY_LEN);
        return PROTO_ERR_LENGTH;
    }
    identify_fields(payload, id);
    if (!pod_serial_valid(id->serial, POD_SERIAL_LEN)) {
        snprintf(why, cap, "serial not printable ASCII with a NUL");
        return PROTO_ERR_RANGE;
    }
    if (id->foot != POD_FOOT_LEFT && id->foot != POD_FOOT_RIGHT) {
        snprintf(why, cap, "foot 0x%02x (expected 'L' or 'R')", id->foot);
        return PROTO_ERR_RANGE;
    }
    if (!pod_rate_valid(id->rate_hz)) {
        snprintf(why, cap, "rate_hz %u (expected 50..2000)", id->rate_hz);
        return PROTO_ERR_RANGE;
    }
    if (!pod_acc_range_valid(id->acc_range_g)) {
        snprintf(why, cap, "acc_range_g %u (expected 2, 4, 8, 16 or 32)", id->acc_range_g);
        return PROTO_ERR_RANGE;
    }
    if (!pod_gyr_range_valid(id->gyr_range_dps)) {
        snprintf(why, cap, "gyr_range_dps %u (expected 125, 250, 500, 1000, 2000 or 4000)",
                 id->gyr_range_dps);
        return PROTO_ERR_RANGE;
    }
    if (cap)
        why[0] = '\0';
    return 0;
}
