/* proto.c - descriptions of the proto_status codes. */
#include "proto.h"

const char *proto_strerror(int code)
{
    switch (code) {
    case PROTO_OK:
        return "ok";
    case PROTO_ERR_TRUNCATED:
        return "truncated input";
    case PROTO_ERR_MAGIC:
        return "sync bytes or magic not found";
    case PROTO_ERR_CRC:
        return "CRC mismatch";
    case PROTO_ERR_VERSION:
        return "unsupported version";
    case PROTO_ERR_LENGTH:
        return "length field out of range";
    case PROTO_ERR_RANGE:
        return "value out of range";
    case PROTO_ERR_SYNTAX:
        return "syntax error";
    case PROTO_ERR_TYPE:
        return "unknown message or record type";
    case PROTO_ERR_SPACE:
        return "output buffer too small";
    case PROTO_ERR_NOMEM:
        return "out of memory";
    default:
        return "unknown error";
    }
}
