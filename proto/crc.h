/* crc.h - CRC-32 (IEEE 802.3, reflected, poly 0xEDB88320, init/xorout 0xFFFFFFFF).
 * check value: proto_crc32("123456789", 9) == 0xCBF43926. */
#ifndef GAITD_PROTO_CRC_H
#define GAITD_PROTO_CRC_H
#include <stddef.h>
#include <stdint.h>

uint32_t proto_crc32(const void *data, size_t len);
/* Incremental form: crc = proto_crc32_update(0, a, na); crc = proto_crc32_update(crc, b, nb); */
uint32_t proto_crc32_update(uint32_t crc, const void *data, size_t len);

#endif
