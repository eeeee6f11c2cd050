/* crc.h - CRC-32 (IEEE 802.3, reflected, poly 0xEDB88320, init/xorout 0xFFFFFFFF).
 * check value: proto_crc32("123456789", 9) == 0xCBF43926. */
#ifndef GAITD_PROTO_CRC_H
#define GAITD_PROTO_CRC_H
#include <stddef.h>
#include <stdint.h>

uint32_t proto_crc32(const void *data, size_t len);
/* Incremental form: crc = proto_crc32_update(0, a, na); crc = proto_crc32_update(crc, b, nb); */
uint32_t proto_crc32_update(uint32_t crc, const void *data, size_t len);

/* The implementations behind proto_crc32_update (same results; for tests and measurements):
 * the slice-by-16 tables, carry-less multiplication folding (x86-64 CPUs with PCLMULQDQ) in the
 * SSE or the AVX encoding. proto_crc32_update takes the best one available. */
enum proto_crc_impl {
    PROTO_CRC_BEST = 0,
    PROTO_CRC_TABLES = 1,
    PROTO_CRC_PCLMUL = 2,
    PROTO_CRC_PCLMUL_AVX = 3,
};
/* Non-zero when impl runs on this CPU (BEST and TABLES always). */
int proto_crc32_available(int impl);
/* proto_crc32_update with implementation impl (the tables when impl is not available). */
uint32_t proto_crc32_update_impl(int impl, uint32_t crc, const void *data, size_t len);

#endif
