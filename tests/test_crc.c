/* test_crc.c - CRC-32 (IEEE) check values, the incremental form, and the slice-by-16 code against
 * a bit-by-bit reference (the definition) and the byte-wise table loop on random buffers with
 * unaligned starts and every length mod 16. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include "crc.h"

static void test_check_value(void **state)
{
    (void)state;
    assert_int_equal(proto_crc32("123456789", 9), 0xCBF43926u);
    const char *fox = "The quick brown fox jumps over the lazy dog";
    assert_int_equal(proto_crc32(fox, strlen(fox)), 0x414FA339u);
    assert_int_equal(proto_crc32("", 0), 0u);
    uint8_t zeros[32] = {0};
    assert_int_equal(proto_crc32(zeros, sizeof zeros), 0x190A55ADu);
}

static void test_incremental(void **state)
{
    (void)state;
    uint8_t buf[300];
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (uint8_t)(i * 37 + 11);
    uint32_t whole = proto_crc32(buf, sizeof buf);
    for (size_t cut = 0; cut <= sizeof buf; cut++) {
        uint32_t c = proto_crc32_update(0, buf, cut);
        c = proto_crc32_update(c, buf + cut, sizeof buf - cut);
        assert_int_equal(c, whole);
    }
    /* byte by byte */
    uint32_t c = 0;
    for (size_t i = 0; i < sizeof buf; i++)
        c = proto_crc32_update(c, buf + i, 1);
    assert_int_equal(c, whole);
}

static void test_detects_bit_flips(void **state)
{
    (void)state;
    uint8_t buf[64];
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (uint8_t)i;
    uint32_t ref = proto_crc32(buf, sizeof buf);
    for (size_t bit = 0; bit < 8 * sizeof buf; bit++) {
        buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        assert_true(proto_crc32(buf, sizeof buf) != ref);
        buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    }
}

/* The definition: one bit at a time, no table. */
static uint32_t ref_bitwise(const uint8_t *p, size_t n)
{
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ ((c & 1u) ? 0xEDB88320u : 0u);
    }
    return c ^ 0xFFFFFFFFu;
}

/* The previous implementation: byte-wise with a table built here from the definition. */
static uint32_t ref_bytewise(const uint8_t *p, size_t n)
{
    uint32_t t[256];
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ ((c & 1u) ? 0xEDB88320u : 0u);
        t[i] = c;
    }
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++)
        c = t[(c ^ p[i]) & 0xFFu] ^ (c >> 8);
    return c ^ 0xFFFFFFFFu;
}

static uint32_t rng_next(uint64_t *s)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(*s >> 33);
}

static void test_random_vs_reference(void **state)
{
    (void)state;
    static uint8_t buf[4096 + 64];
    uint64_t seed = 12345;
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (uint8_t)rng_next(&seed);
    /* every start offset 0..15 (unaligned) x lengths 0..80 (each remainder mod 16) */
    for (size_t off = 0; off < 16; off++)
        for (size_t n = 0; n <= 80; n++)
            assert_int_equal(proto_crc32(buf + off, n), ref_bitwise(buf + off, n));
    /* random spans, also long ones, against both references */
    for (int r = 0; r < 300; r++) {
        size_t off = rng_next(&seed) % 64;
        size_t n = rng_next(&seed) % 4097;
        uint32_t want = ref_bitwise(buf + off, n);
        assert_int_equal(ref_bytewise(buf + off, n), want);
        assert_int_equal(proto_crc32(buf + off, n), want);
        /* incremental over a random cut with an odd-length, unaligned first part */
        size_t cut = n ? rng_next(&seed) % n : 0;
        uint32_t c = proto_crc32_update(0, buf + off, cut);
        assert_int_equal(proto_crc32_update(c, buf + off + cut, n - cut), want);
    }
    /* all-ones and all-zeros buffers of a length that is not a multiple of 16 */
    memset(buf, 0xFF, 1001);
    assert_int_equal(proto_crc32(buf + 1, 1000), ref_bitwise(buf + 1, 1000));
    memset(buf, 0, 1001);
    assert_int_equal(proto_crc32(buf + 3, 997), ref_bitwise(buf + 3, 997));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_check_value),
        cmocka_unit_test(test_incremental),
        cmocka_unit_test(test_detects_bit_flips),
        cmocka_unit_test(test_random_vs_reference),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
