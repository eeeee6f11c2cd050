/* proto/proto.c (stub, being written) */
typedef int stub_unit_t;
