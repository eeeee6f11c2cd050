/* test_crc_fold.c - proto/crc.c's carry-less multiplication path (x86-64 with PCLMULQDQ, taken
 * for spans of 64 bytes and more) against a byte-wise table reference: every length 0..1300
 * (every remainder mod 16 and mod 64, the 64-byte loop, the 16-byte loop) at every start offset
 * 0..15, every cut of an incremental CRC, and the all-zero / all-ones patterns; for
 * proto_crc32_update (the best form here) and for each implementation this CPU runs
 * (proto_crc32_update_impl: tables, folding in the SSE and in the AVX encoding). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>
#include "crc.h"

static uint32_t table[256];

static void make_table(void)
{
    for (uint32_t n = 0; n < 256; n++) {
        uint32_t c = n;
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
        table[n] = c;
    }
}

/* byte-wise reference, continuing crc as proto_crc32_update does */
static uint32_t ref_update(uint32_t crc, const uint8_t *p, size_t n)
{
    uint32_t c = crc ^ 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++)
        c = table[(c ^ p[i]) & 0xFFu] ^ (c >> 8);
    return c ^ 0xFFFFFFFFu;
}

static uint8_t buf[1300 + 16];

static void fill_random(void)
{
    uint32_t x = 0x9E3779B9u;
    for (size_t i = 0; i < sizeof buf; i++) {
        x ^= x << 13, x ^= x >> 17, x ^= x << 5;
        buf[i] = (uint8_t)x;
    }
}

static void test_every_length_and_offset(void **state)
{
    (void)state;
    make_table();
    fill_random();
    for (size_t off = 0; off < 16; off++)
        for (size_t n = 0; n <= 1300; n++) {
            uint32_t init = (uint32_t)(n * 2654435761u); /* a previous CRC to continue */
            assert_int_equal(proto_crc32_update(init, buf + off, n),
                             ref_update(init, buf + off, n));
        }
    assert_int_equal(proto_crc32("123456789", 9), 0xCBF43926u);
}

static const int IMPLS[] = {PROTO_CRC_TABLES, PROTO_CRC_PCLMUL, PROTO_CRC_PCLMUL_AVX};

static void test_each_implementation(void **state)
{
    (void)state;
    make_table();
    fill_random();
    assert_true(proto_crc32_available(PROTO_CRC_BEST));
    assert_true(proto_crc32_available(PROTO_CRC_TABLES));
    assert_false(proto_crc32_available(99));
    for (size_t k = 0; k < sizeof IMPLS / sizeof IMPLS[0]; k++) {
        int impl = IMPLS[k];
        if (!proto_crc32_available(impl)) {
            printf("CRC implementation %d not available on this CPU: skipped\n", impl);
            continue;
        }
        for (size_t off = 0; off < 16; off++)
            for (size_t n = 0; n <= 1300; n++) {
                uint32_t init = (uint32_t)(n * 2654435761u);
                assert_int_equal(proto_crc32_update_impl(impl, init, buf + off, n),
                                 ref_update(init, buf + off, n));
            }
        const size_t n = 1237;
        uint32_t want = ref_update(0, buf + 3, n);
        for (size_t cut = 0; cut <= n; cut++) {
            uint32_t c = proto_crc32_update_impl(impl, 0, buf + 3, cut);
            assert_int_equal(proto_crc32_update_impl(impl, c, buf + 3 + cut, n - cut), want);
        }
    }
    fill_random();
}

static void test_every_cut(void **state)
{
    (void)state;
    make_table();
    fill_random();
    const size_t n = 1237; /* a sample frame's covered length in the bench recording */
    uint32_t want = ref_update(0, buf + 3, n);
    for (size_t cut = 0; cut <= n; cut++) {
        uint32_t c = proto_crc32_update(0, buf + 3, cut);
        assert_int_equal(proto_crc32_update(c, buf + 3 + cut, n - cut), want);
    }
}

static void test_patterns(void **state)
{
    (void)state;
    make_table();
    for (int v = 0; v < 2; v++) {
        memset(buf, v ? 0xFF : 0x00, sizeof buf);
        for (size_t n = 60; n <= 300; n++) {
            assert_int_equal(proto_crc32(buf + 1, n), ref_update(0, buf + 1, n));
            for (size_t k = 0; k < sizeof IMPLS / sizeof IMPLS[0]; k++)
                assert_int_equal(proto_crc32_update_impl(IMPLS[k], 0, buf + 1, n),
                                 ref_update(0, buf + 1, n));
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_length_and_offset),
        cmocka_unit_test(test_every_cut),
        cmocka_unit_test(test_each_implementation),
        cmocka_unit_test(test_patterns),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
