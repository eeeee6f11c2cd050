/* fuzz_pod_decode.c - pod_decode (proto/pod.h) on arbitrary bytes.
 * Invariants: a decoded frame is 10 + its announced payload bytes and no more than the input;
 * one byte less is never a frame; a decoded message re-encodes, and decoding that encoding gives
 * the same encoding again (encode o decode is idempotent on the canonical form). */
#include <string.h>
#include "fuzz.h"
#include "pod.h"
#include "proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static pod_msg_t m, m2;
    static uint8_t enc[POD_MAX_FRAME], enc2[POD_MAX_FRAME];
    size_t used = 0;
    int rc = pod_decode(data, size, &m, &used);
    if (rc < 0) {
        FUZZ_CHECK(rc >= PROTO_ERR_NOMEM);
        return 0;
    }
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
    return 0;
}
