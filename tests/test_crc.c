/* test_crc.c - CRC-32 (IEEE) check values and the incremental form. */
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_check_value),
        cmocka_unit_test(test_incremental),
        cmocka_unit_test(test_detects_bit_flips),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
