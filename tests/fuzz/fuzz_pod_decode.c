/* fuzz_pod_decode.c - pod_decode (proto/pod.h) on arbitrary bytes.
 * Invariants: a decoded frame is 10 + its announced payload bytes and no more than the input;
 * one byte less is never a frame; a decoded message re-encodes, and decoding that encoding gives
 * the same encoding again (encode o decode is idempotent on the canonical form).
 * pod_decode_trusted (no CRC comparison) agrees with pod_decode on every input: the same error
 * unless that error is the CRC, and where both decode, the same message; what it decodes
 * behind a wrong CRC re-encodes to a frame pod_decode accepts. */
#include <string.h>
#include "fuzz.h"
#include "pod.h"
#include "proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static pod_msg_t m, m2, mt;
    static uint8_t enc[POD_MAX_FRAME], enc2[POD_MAX_FRAME], enct[POD_MAX_FRAME];
    size_t used = 0, used_t = 0, len_t = 0;
    int rc = pod_decode(data, size, &m, &used);
    int rct = pod_decode_trusted(data, size, &mt, &used_t);
    FUZZ_CHECK(rct != PROTO_ERR_CRC);
    if (rc != PROTO_ERR_CRC)
        FUZZ_CHECK(rct == rc);
    if (rct == 0) {
        FUZZ_CHECK(used_t >= POD_FRAME_OVERHEAD && used_t <= size && used_t <= POD_MAX_FRAME);
        FUZZ_CHECK(pod_encode(&mt, enct, sizeof enct, &len_t) == 0);
        size_t used3 = 0;
        FUZZ_CHECK(pod_decode(enct, len_t, &m2, &used3) == 0 && used3 == len_t);
    }
    if (rc < 0) {
        FUZZ_CHECK(rc >= PROTO_ERR_NOMEM);
        return 0;
    }
    FUZZ_CHECK(rct == 0 && used_t == used);
    FUZZ_CHECK(rc == 0);
    FUZZ_CHECK(used >= POD_FRAME_OVERHEAD && used <= size && used <= POD_MAX_FRAME);
    FUZZ_CHECK(used == POD_FRAME_OVERHEAD + proto_get_u16le(data + 4));
    size_t used2 = 0;
    FUZZ_CHECK(pod_decode(data, used - 1, &m2, &used2) == PROTO_ERR_TRUNCATED);

    size_t len = 0, len2 = 0;
    FUZZ_CHECK(pod_encode(&m, enc, sizeof enc, &len) == 0);
    FUZZ_CHECK(len >= POD_FRAME_OVERHEAD && len <= sizeof enc);
    FUZZ_CHECK(pod_decode(enc, len, &m2, &used2) == 0 && used2 == len);
    FUZZ_CHECK(m2.type == m.type);
    FUZZ_CHECK(pod_encode(&m2, enc2, sizeof enc2, &len2) == 0);
    FUZZ_CHECK(len2 == len && memcmp(enc, enc2, len) == 0);
    FUZZ_CHECK(len_t == len && memcmp(enc, enct, len) == 0); /* same message as pod_decode */
    return 0;
}
