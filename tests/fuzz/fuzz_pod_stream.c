/* fuzz_pod_stream.c - pod stream reassembly (pod_stream_feed / next / finish, proto/pod.h).
 *
 * Input: byte 0 seeds the split of the rest into feeds of 1..N bytes (bulk transfers of any
 * size); bytes 1.. are the stream. The same stream is also fed in the largest pieces the buffer
 * takes, and both runs must deliver the same frames with the same reports and end with the same
 * statistics: reassembly must not depend on how the bytes were cut.
 * Invariants checked after every call: statistics never decrease; frames_ok <= bytes / 10;
 * a delivered frame lies inside the bytes fed, after the previous one, and decodes alone with the
 * length its header announces; after finish everything fed is consumed, and delivered frames plus
 * skipped bytes account for every byte when no frame was dropped as duplicate or out of order.
 */
#include <string.h>
#include "fuzz.h"
#include "pod.h"
#include "proto.h"

#define MAX_LOG 4096

typedef struct delivery {
    uint8_t type;
    uint32_t seq;
    uint64_t offset, len, skipped;
    uint32_t gap;
    int events;
} delivery_t;

typedef struct run {
    pod_stream_t st;
    pod_msg_t m;
    delivery_t log[MAX_LOG];
    size_t n_log;
    uint64_t fed, delivered_bytes, last_end;
} run_t;

static void check_monotone(const pod_stream_stats_t *a, const pod_stream_stats_t *b)
{
    FUZZ_CHECK(b->frames_ok >= a->frames_ok);
    FUZZ_CHECK(b->bytes_skipped >= a->bytes_skipped);
    FUZZ_CHECK(b->crc_errors >= a->crc_errors);
    FUZZ_CHECK(b->seq_gaps >= a->seq_gaps);
    FUZZ_CHECK(b->frames_lost >= a->frames_lost);
    FUZZ_CHECK(b->duplicates >= a->duplicates);
    FUZZ_CHECK(b->out_of_order >= a->out_of_order);
    FUZZ_CHECK(b->rejected >= a->rejected);
}

/* Calls pod_stream_next until it returns 0, checking each delivery. */
static void drain(run_t *r, const uint8_t *stream)
{
    for (;;) {
        pod_stream_stats_t before = r->st.stats;
        pod_stream_report_t rep;
        memset(&rep, 0xEE, sizeof rep);
        int got = pod_stream_next(&r->st, &r->m, &rep);
        check_monotone(&before, &r->st.stats);
        FUZZ_CHECK(r->st.stats.frames_ok <= r->fed / POD_FRAME_OVERHEAD);
        FUZZ_CHECK(r->st.len <= sizeof r->st.buf);
        FUZZ_CHECK(r->st.offset + r->st.len == r->fed);
        if (got == 0)
            return;
        FUZZ_CHECK(got == 1);
        FUZZ_CHECK(r->st.stats.frames_ok == before.frames_ok + 1);
        uint64_t len = r->st.offset - rep.offset;
        FUZZ_CHECK(rep.offset >= r->last_end && r->st.offset <= r->fed);
        FUZZ_CHECK(len >= POD_FRAME_OVERHEAD && len <= POD_MAX_FRAME);
        FUZZ_CHECK(len == POD_FRAME_OVERHEAD + proto_get_u16le(stream + rep.offset + 4));
        FUZZ_CHECK(((rep.events & POD_EV_GAP) != 0) == (rep.gap_frames != 0));
        FUZZ_CHECK(((rep.events & POD_EV_RESYNC) != 0) == (rep.skipped_bytes != 0));
        FUZZ_CHECK(rep.skipped_bytes <= rep.offset - r->last_end);
        FUZZ_CHECK((rep.events & ~(POD_EV_GAP | POD_EV_RESYNC)) == 0);
        pod_msg_t alone;
        size_t used = 0;
        FUZZ_CHECK(pod_decode(stream + rep.offset, (size_t)len, &alone, &used) == 0);
        FUZZ_CHECK(used == len && alone.type == r->m.type);
        r->delivered_bytes += len;
        r->last_end = r->st.offset;
        if (r->n_log < MAX_LOG) {
            delivery_t *d = &r->log[r->n_log++];
            d->type = r->m.type;
            d->seq = r->m.type == POD_MSG_SAMPLES ? r->m.u.samples.seq : 0;
            d->offset = rep.offset;
            d->len = len;
            d->skipped = rep.skipped_bytes;
            d->gap = rep.gap_frames;
            d->events = rep.events;
        }
    }
}

/* Feeds stream[0..n) in pieces: split_seed 0 = as large as accepted, else pseudo-random sizes. */
static void run_stream(run_t *r, const uint8_t *stream, size_t n, unsigned split_seed)
{
    memset(r, 0, sizeof *r);
    pod_stream_init(&r->st);
    uint32_t x = split_seed * 2654435761u + 1u;
    size_t pos = 0;
    while (pos < n) {
        size_t want = n - pos;
        if (split_seed) {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            /* mostly small pieces, sometimes large ones */
            size_t piece = (x & 3u) ? 1 + (x >> 8) % 64 : 1 + (x >> 8) % 5000;
            if (piece < want)
                want = piece;
        }
        size_t acc = pod_stream_feed(&r->st, stream + pos, want);
        FUZZ_CHECK(acc <= want);
        pos += acc;
        r->fed += acc;
        drain(r, stream);
        /* after a drain the buffer always has room for a whole frame */
        FUZZ_CHECK(sizeof r->st.buf - r->st.len >= POD_MAX_FRAME);
    }
    pod_stream_finish(&r->st);
    drain(r, stream);
    FUZZ_CHECK(r->st.len == 0 && r->st.offset == n);
    const pod_stream_stats_t *s = &r->st.stats;
    FUZZ_CHECK(r->delivered_bytes + s->bytes_skipped <= n);
    if (s->duplicates == 0 && s->out_of_order == 0)
        FUZZ_CHECK(r->delivered_bytes + s->bytes_skipped == n);
    FUZZ_CHECK(s->frames_ok * POD_FRAME_OVERHEAD <= n);
    FUZZ_CHECK(s->frames_lost >= s->seq_gaps);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static run_t a, b;
    if (size < 1)
        return 0;
    unsigned seed = data[0] ? data[0] : 1;
    run_stream(&a, data + 1, size - 1, seed);
    run_stream(&b, data + 1, size - 1, 0);
    FUZZ_CHECK(a.n_log == b.n_log);
    FUZZ_CHECK(memcmp(a.log, b.log, a.n_log * sizeof a.log[0]) == 0);
    FUZZ_CHECK(memcmp(&a.st.stats, &b.st.stats, sizeof a.st.stats) == 0);
    return 0;
}
