/* rec.h - the gaitd recording format (.gaitrec), version 1. Spec: proto/RECORDING.md.
 *
 * A file is a header block followed by chunk blocks:
 *   header: magic "GAITREC1" | version u16 | header length u32 | header bytes | CRC-32 of them
 *   chunk : magic "CHNK"     | chunk index u32 | payload length u32 | payload | CRC-32 of
 *           (index, length, payload)
 * A chunk payload is a sequence of records: pod index u8 | frame length u16 | one raw pod frame
 * (proto/pod.h) exactly as received. A writer appends whole chunks and flushes each, so a crash
 * loses at most the last unflushed chunk. Pure code: the caller does the file I/O.
 */
#ifndef GAITD_PROTO_REC_H
#define GAITD_PROTO_REC_H
#include <stddef.h>
#include <stdint.h>

#define REC_VERSION 1
#define REC_MAX_PODS 4
#define REC_ATHLETE_LEN 64
#define REC_SERIAL_LEN 16
#define REC_MAX_HEADER 8192u
#define REC_MAX_CHUNK (1u << 20)  /* largest allowed chunk payload */

typedef struct rec_pod {
    char serial[REC_SERIAL_LEN];
    uint8_t foot;                /* 'L' or 'R' */
    uint16_t rate_hz;
    uint16_t acc_range_g;
    uint16_t gyr_range_dps;
    float acc_bias[3];           /* m/s^2, subtracted after scaling */
    float acc_scale[3];          /* multiplier, 1 = none */
    float gyr_bias[3];           /* deg/s, subtracted after scaling */
    int64_t clock_offset_us;     /* host_us = pod_us + clock_offset_us */
} rec_pod_t;

typedef struct rec_header {
    uint16_t version;
    char athlete[REC_ATHLETE_LEN];
    int64_t start_unix_us;       /* wall-clock start of the session */
    uint8_t n_pods;
    rec_pod_t pods[REC_MAX_PODS];
    char source[32];             /* "simulator", "usb-live", "usb-sync", "csv-import", ... */
} rec_header_t;

/* Initialises h with version 1, no pods, unit calibration. */
void rec_header_init(rec_header_t *h);

/* Encodes the complete header block (magic..CRC) into buf. Sets *len. Returns
 * PROTO_ERR_SPACE when cap is too small, PROTO_ERR_VERSION/RANGE for an invalid header. */
int rec_header_encode(const rec_header_t *h, uint8_t *buf, size_t cap, size_t *len);

/* Chunk builder: caller-owned, fixed buffer, no heap. */
typedef struct rec_chunk {
    uint32_t index;              /* chunk index, 0, 1, 2, ... */
    size_t len;                  /* bytes used in block (header space included) */
    uint8_t block[12 + REC_MAX_CHUNK + 4];
} rec_chunk_t;

void rec_chunk_init(rec_chunk_t *c, uint32_t index);
/* Appends one record. Returns PROTO_ERR_SPACE when the chunk is full (finish it and start a
 * new one), PROTO_ERR_LENGTH if frame_len is 0 or > POD_MAX_FRAME. */
int rec_chunk_add(rec_chunk_t *c, uint8_t pod_index, const uint8_t *frame, size_t frame_len);
/* Payload bytes so far. */
size_t rec_chunk_payload(const rec_chunk_t *c);
/* Seals the chunk (fills magic, length, CRC) and returns the block to write and its length. */
const uint8_t *rec_chunk_finish(rec_chunk_t *c, size_t *len);

/* Reader over a complete file image in memory (e.g. read or mmap'd by the caller), or over a
 * window of the file that the caller moves along (streaming, bounded memory: rec_reader_want and
 * rec_reader_rebase below). All offsets but error_offset are relative to buf. */
typedef struct rec_reader {
    const uint8_t *buf;
    size_t len;
    size_t pos;                  /* next unread byte */
    size_t chunk_pos;            /* next record inside the current chunk */
    size_t chunk_end;
    uint32_t next_index;
    int error;                   /* first error (negative), 0 if none */
    size_t error_offset;         /* byte offset of the first bad byte when error != 0 */
    uint8_t n_pods;              /* from the header: records must have pod index < n_pods */
    char error_msg[128];         /* what was wrong, e.g. "chunk 3: CRC mismatch" ("" if none) */
    size_t base;                 /* file offset of buf[0]: 0 unless streaming (rec_reader_rebase) */
    size_t verified_end;         /* records of the current chunk before this offset carry pod
                                    frames whose CRC the chunk pass verified */
    int frame_verified;          /* rec_reader_frame_verified of the last record */
    size_t zl_len;               /* private: CRC zero-shift operator for frames of zl_len bytes */
    uint32_t zl_tab[4][256];     /* private: that operator, byte by byte (rec.c zshift) */
} rec_reader_t;

/* Parses the header. On error sets r->error and r->error_offset. */
int rec_reader_open(rec_reader_t *r, const uint8_t *buf, size_t len, rec_header_t *h);

/* Yields the next record: returns 1 and sets *pod_index, *frame, *frame_len (pointing into the
 * file image); 0 at the clean end of file; a negative proto_status at the first damaged or
 * truncated chunk (r->error_offset = file offset of that chunk). Every record of every intact
 * chunk before the damage is yielded first. */
int rec_reader_next(rec_reader_t *r, uint8_t *pod_index, const uint8_t **frame, size_t *frame_len);

/* Streaming. The reader never reads past buf[len) and takes a chunk that ends beyond it for a
 * truncated file; a caller holding only a window of the file therefore asks, before each
 * rec_reader_next, how many bytes from the reader's position (buf + pos) the window must hold:
 * 0 while the current chunk has records left (its records point into the window: keep those
 * bytes), else the whole next chunk block (12 when the window does not hold its head yet; the
 * head names the rest). When the window holds fewer and the file has more, the caller moves the
 * window (keeping the bytes from buf + pos on) and calls rec_reader_rebase. At the end of the
 * file it calls rec_reader_next with what there is: a cut chunk is then reported as usual.
 * A window of REC_MAX_CHUNK + REC_CHUNK_OVERHEAD bytes or more always holds what is wanted, and
 * then every record, status, offset and message is the same as when reading the whole image. */
size_t rec_reader_want(const rec_reader_t *r);
/* The window moved: buf[0..len) now holds the file from offset base, with
 * base <= (old base + pos) <= base + len. Records already yielded are not touched. */
void rec_reader_rebase(rec_reader_t *r, const uint8_t *buf, size_t len, size_t base);

/* 1 when the record rec_reader_next yielded last holds a complete pod frame (sync, length
 * consistent with F) whose own CRC-32 matched: the chunk's CRC pass checks every frame's CRC too,
 * in the same single pass over the bytes (RECORDING.md, "Reading and damage"). Such a frame can be
 * decoded with pod_decode_trusted; any other record must go through pod_decode. */
int rec_reader_frame_verified(const rec_reader_t *r);

/* Fixed offsets of the file layout (RECORDING.md). */
#define REC_MAGIC "GAITREC1"
#define REC_FILE_HEADER_FIXED 14u    /* magic, version, header length */
#define REC_CHUNK_MAGIC "CHNK"
#define REC_CHUNK_OVERHEAD 16u       /* magic, index, length, CRC */
#define REC_RECORD_OVERHEAD 3u       /* pod index, frame length */

/* True when buf starts with the recording magic (content sniffing). */
int rec_is_recording(const uint8_t *buf, size_t len);

#endif
