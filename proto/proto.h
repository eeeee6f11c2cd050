/* proto.h - status codes shared by every gaitd byte-format module.
 *
 * All proto_ functions return 0 (PROTO_OK) or a negative proto_status.
 * proto/ is pure code: no I/O, no globals, no allocation unless stated.
 */
#ifndef GAITD_PROTO_H
#define GAITD_PROTO_H
#include <stdint.h>

enum proto_status {
    PROTO_OK = 0,
    PROTO_ERR_TRUNCATED = -1, /* input ends before the item does */
    PROTO_ERR_MAGIC = -2,     /* sync bytes / magic not found */
    PROTO_ERR_CRC = -3,       /* integrity check failed */
    PROTO_ERR_VERSION = -4,   /* unsupported format or protocol version */
    PROTO_ERR_LENGTH = -5,    /* a length field is out of its allowed range */
    PROTO_ERR_RANGE = -6,     /* a value is out of its allowed range */
    PROTO_ERR_SYNTAX = -7,    /* text input does not follow the grammar */
    PROTO_ERR_TYPE = -8,      /* unknown message or record type */
    PROTO_ERR_SPACE = -9,     /* output buffer too small */
    PROTO_ERR_NOMEM = -10,    /* allocation failed */
};

/* Returns a static English description of a proto_status code. */
const char *proto_strerror(int code);

/* Explicit little-endian wire helpers (never struct overlays). The caller guarantees that
 * p[0..width) is inside its buffer. */
static inline uint16_t proto_get_u16le(const uint8_t *p)
{
    return (uint16_t)(p[0] | (unsigned)p[1] << 8);
}
static inline uint32_t proto_get_u32le(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline uint64_t proto_get_u64le(const uint8_t *p)
{
    return (uint64_t)proto_get_u32le(p) | (uint64_t)proto_get_u32le(p + 4) << 32;
}
static inline void proto_put_u16le(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}
static inline void proto_put_u32le(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static inline void proto_put_u64le(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

#endif
