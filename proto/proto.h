/* proto.h - status codes shared by every gaitd byte-format module.
 *
 * All proto_ functions return 0 (PROTO_OK) or a negative proto_status.
 * proto/ is pure code: no I/O, no globals, no allocation unless stated.
 */
#ifndef GAITD_PROTO_H
#define GAITD_PROTO_H

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

#endif
