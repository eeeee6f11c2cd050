/* recorder.h - writes one .gaitrec recording (proto/rec.h): the header, then chunks of the raw
 * pod frames exactly as the pipeline receives them. Each chunk is written and made durable
 * (write + fdatasync) when it holds 64 KiB or its oldest record is 1 s old, so a crash or power
 * cut loses at most about a second of data. File I/O lives here; the byte format in proto/rec.c.
 */
#ifndef GAITD_RECORDER_H
#define GAITD_RECORDER_H
#include <stddef.h>
#include <stdint.h>
#include "log.h"
#include "rec.h"

#define RECORDER_FLUSH_BYTES (64u * 1024u)
#define RECORDER_FLUSH_US 1000000

typedef struct recorder recorder_t;

/* Creates DIR/<athlete>-<UTC start time>.gaitrec (athlete sanitised to [A-Za-z0-9._-]; a "-N"
 * suffix is added if the name exists; never overwrites) and writes the header h. The file gets
 * its name only once the header is written and synced (O_TMPFILE + linkat, where the filesystem
 * has it): a crash never leaves an empty file or a temporary one. Mode 0600 (owner only:
 * athletes' health data). Returns NULL
 * with a message naming the file in err on failure. Caller owns the result (recorder_close). */
recorder_t *recorder_open(const char *dir, const rec_header_t *h, const log_t *lg, char *err,
                          size_t errcap);

/* Appends one frame of pod pod_index received at monotonic time now_us; flushes the chunk when
 * it reaches RECORDER_FLUSH_BYTES. Returns 0 or -1 (I/O error, logged; the recording stops but
 * the caller's pipeline goes on).
 * Write errors (disk full, EFBIG, EIO): the first failed write or fdatasync of a chunk stops the
 * recording for good: the file is cut back (ftruncate) to the end of its last complete chunk,
 * so it reads back cleanly to that point, and nothing more is written to it; every later call
 * returns -1 at once. recorder_error() says what happened. */
int recorder_add(recorder_t *r, unsigned pod_index, const uint8_t *frame, size_t len,
                 int64_t now_us);
/* Flushes the pending chunk if its oldest record is RECORDER_FLUSH_US old. Returns 0 or -1. */
int recorder_tick(recorder_t *r, int64_t now_us);
/* Writes and syncs the pending chunk, if any. Returns 0 or -1. */
int recorder_flush(recorder_t *r);

const char *recorder_path(const recorder_t *r);
uint64_t recorder_bytes(const recorder_t *r);     /* bytes written and synced so far */
uint32_t recorder_chunks(const recorder_t *r);
int recorder_failed(const recorder_t *r);
/* Why the recording stopped ("<file>: write of chunk N failed: No space left on device"), or
 * NULL while it goes on. Valid until recorder_close. */
const char *recorder_error(const recorder_t *r);

/* Flushes, syncs, closes, frees *r and sets it to NULL. Returns 0 or -1 if anything failed. */
int recorder_close(recorder_t **r);

#endif
