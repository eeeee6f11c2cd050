/* fuzz_rec.c - the recording reader (rec_reader_open / rec_reader_next, proto/rec.h) on an
 * arbitrary file image, then every record as daemon/input.c uses it: pod_decode of the frame and,
 * for sample frames, input_frame_to_samples with the pod's calibration from the header.
 * Invariants: records lie inside the image, in order, with a pod index below n_pods and a
 * non-empty frame; errors carry an offset inside the image and a NUL-terminated message; once
 * next returned <= 0 it keeps returning that; a header that opens and re-encodes (the encoder is
 * stricter) encodes to a block that opens again and re-encodes to the same bytes.
 * CRCs stop mutated inputs early, so each input is also checked a second time with every CRC
 * recomputed (pod frames inside records, chunks, header): the record and header parsers then see
 * arbitrary contents behind valid checksums. A record the reader reports as verified
 * (rec_reader_frame_verified: its pod frame's CRC checked in the chunk pass) must pass
 * pod_decode's CRC check, and pod_decode_trusted must agree with pod_decode on it. */
#include <string.h>
#include "fuzz.h"
#include "input.h"
#include "pod.h"
#include "proto.h"
#include "crc.h"
#include "rec.h"

#define MAX_RECORDS 100000

static void check_file(const uint8_t *data, size_t size)
{
    static rec_reader_t r, r2;
    static rec_header_t h, h2;
    static pod_msg_t m;
    static dsp_sample_t out[POD_MAX_SAMPLES];
    static uint8_t enc[REC_MAX_HEADER + 64], enc2[REC_MAX_HEADER + 64];

    int rc = rec_reader_open(&r, data, size, &h);
    FUZZ_CHECK(memchr(r.error_msg, '\0', sizeof r.error_msg) != NULL);
    if (rc < 0) {
        FUZZ_CHECK(r.error < 0 && r.error_offset <= size);
        return;
    }
    FUZZ_CHECK(rc == 0 && r.error == 0);
    FUZZ_CHECK(h.n_pods <= REC_MAX_PODS && r.n_pods == h.n_pods);
    FUZZ_CHECK(memchr(h.athlete, '\0', sizeof h.athlete) != NULL);
    FUZZ_CHECK(memchr(h.source, '\0', sizeof h.source) != NULL);

    size_t len = 0, len2 = 0;
    int erc = rec_header_encode(&h, enc, sizeof enc, &len);
    FUZZ_CHECK(erc == 0 || erc == PROTO_ERR_RANGE);
    if (erc == 0) {
        FUZZ_CHECK(len <= sizeof enc);
        FUZZ_CHECK(rec_reader_open(&r2, enc, len, &h2) == 0);
        FUZZ_CHECK(rec_header_encode(&h2, enc2, sizeof enc2, &len2) == 0);
        FUZZ_CHECK(len2 == len && memcmp(enc, enc2, len) == 0);
    }

    const uint8_t *prev_end = data;
    int n = 0;
    for (;;) {
        uint8_t pod = 0xFF;
        const uint8_t *frame = NULL;
        size_t flen = 0;
        int got = rec_reader_next(&r, &pod, &frame, &flen);
        if (got <= 0) {
            if (got < 0) {
                FUZZ_CHECK(got >= PROTO_ERR_NOMEM && r.error == got);
                FUZZ_CHECK(r.error_offset <= size);
                FUZZ_CHECK(memchr(r.error_msg, '\0', sizeof r.error_msg) != NULL);
                FUZZ_CHECK(r.error_msg[0] != '\0');
            }
            FUZZ_CHECK(rec_reader_next(&r, &pod, &frame, &flen) == got);
            break;
        }
        FUZZ_CHECK(got == 1);
        FUZZ_CHECK(pod < h.n_pods);
        FUZZ_CHECK(flen > 0 && flen <= POD_MAX_FRAME);
        FUZZ_CHECK(frame >= prev_end + REC_RECORD_OVERHEAD && frame + flen <= data + size);
        prev_end = frame + flen;
        FUZZ_CHECK(++n <= MAX_RECORDS || size / REC_RECORD_OVERHEAD >= (size_t)n);

        size_t used = 0;
        int drc = pod_decode(frame, flen, &m, &used);
        if (rec_reader_frame_verified(&r)) {
            /* the chunk pass verified this frame's CRC: pod_decode agrees, and the trusted
             * decoder (what daemon/input.c uses then) gives the same result */
            static pod_msg_t mt;
            size_t used_t = 0;
            FUZZ_CHECK(drc != PROTO_ERR_CRC);
            FUZZ_CHECK(pod_decode_trusted(frame, flen, &mt, &used_t) == drc);
            FUZZ_CHECK(drc < 0 || used_t == used);
        }
        if (drc == 0) {
            FUZZ_CHECK(used <= flen);
            if (m.type == POD_MSG_SAMPLES) {
                unsigned k = input_frame_to_samples(&h.pods[pod], 0, &m.u.samples, out);
                FUZZ_CHECK(k == m.u.samples.n && k <= POD_MAX_SAMPLES);
            }
        }
    }
}

/* Rewrites every CRC of a recording image in place; returns 1 if anything changed. */
static int fix_crcs(uint8_t *b, size_t n)
{
    int changed = 0;
    if (n < REC_FILE_HEADER_FIXED || memcmp(b, REC_MAGIC, 8) != 0)
        return 0;
    size_t hlen = proto_get_u32le(b + 10);
    if (hlen > REC_MAX_HEADER || n < REC_FILE_HEADER_FIXED + hlen + 4)
        return 0;
    uint32_t crc = proto_crc32(b + 8, 6 + hlen);
    if (proto_get_u32le(b + REC_FILE_HEADER_FIXED + hlen) != crc) {
        proto_put_u32le(b + REC_FILE_HEADER_FIXED + hlen, crc);
        changed = 1;
    }
    size_t pos = REC_FILE_HEADER_FIXED + hlen + 4;
    while (n - pos >= REC_CHUNK_OVERHEAD && memcmp(b + pos, REC_CHUNK_MAGIC, 4) == 0) {
        size_t plen = proto_get_u32le(b + pos + 8);
        if (plen > n - pos - REC_CHUNK_OVERHEAD)
            break;
        uint8_t *p = b + pos + 12;
        for (size_t i = 0; plen - i >= REC_RECORD_OVERHEAD;) {
            size_t flen = proto_get_u16le(p + i + 1);
            if (flen > plen - i - REC_RECORD_OVERHEAD)
                break;
            uint8_t *f = p + i + REC_RECORD_OVERHEAD;
            if (flen >= POD_FRAME_OVERHEAD && f[0] == 0xA5 && f[1] == 0x5A &&
                POD_FRAME_OVERHEAD + (size_t)proto_get_u16le(f + 4) == flen) {
                crc = proto_crc32(f + 2, flen - 6);
                if (proto_get_u32le(f + flen - 4) != crc) {
                    proto_put_u32le(f + flen - 4, crc);
                    changed = 1;
                }
            }
            i += REC_RECORD_OVERHEAD + flen;
        }
        crc = proto_crc32(b + pos + 4, 8 + plen);
        if (proto_get_u32le(b + pos + 12 + plen) != crc) {
            proto_put_u32le(b + pos + 12 + plen, crc);
            changed = 1;
        }
        pos += REC_CHUNK_OVERHEAD + plen;
    }
    return changed;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_file(data, size);
    if (size > (1u << 20))
        return 0;
    uint8_t *copy = malloc(size ? size : 1);
    FUZZ_CHECK(copy != NULL);
    memcpy(copy, data, size);
    if (fix_crcs(copy, size))
        check_file(copy, size);
    free(copy);
    return 0;
}
