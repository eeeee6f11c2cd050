/* recorder.c - .gaitrec writer with per-chunk durability (see recorder.h). */
#define _GNU_SOURCE                 /* O_TMPFILE, AT_EMPTY_PATH */
#define LOG_PREFIX "recorder"
#include "recorder.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "alloc.h"
#include "proto.h"

struct recorder {
    int fd;
    const log_t *lg;
    char path[4096];
    rec_chunk_t *chunk;          /* the pending chunk (about 1 MiB, allocated once) */
    uint32_t next_index;
    int64_t first_us;            /* when the pending chunk's first record arrived */
    uint64_t bytes;              /* bytes written and synced: the end of the last good chunk */
    int failed;
    char error[4096 + 160];      /* why the recording stopped ("" while it goes on) */
};

static int write_all(int fd, const uint8_t *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static void sanitise(const char *in, char *out, size_t cap)
{
    size_t j = 0;
    for (size_t i = 0; in[i] && j + 1 < cap; i++) {
        char c = in[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '-' || c == '_' || (c == '.' && j > 0);
        out[j++] = ok ? c : '_';
    }
    if (j == 0 && cap > 1)
        out[j++] = '_';
    out[j] = '\0';
}

static void name_at(char *path, size_t cap, const char *dir, const char *name, const char *stamp,
                    int n)
{
    if (n == 1)
        snprintf(path, cap, "%s/%s-%s.gaitrec", dir, name, stamp);
    else
        snprintf(path, cap, "%s/%s-%s-%d.gaitrec", dir, name, stamp, n);
}

/* Gives the unnamed file fd (O_TMPFILE) the first free name: linkat never replaces an existing
 * name. AT_EMPTY_PATH needs CAP_DAC_READ_SEARCH; the /proc/self/fd link works without. */
static int link_free_name(recorder_t *r, int fd, const char *dir, const char *name,
                          const char *stamp)
{
    char proc[64];
    snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
    for (int n = 1; n < 1000; n++) {
        name_at(r->path, sizeof r->path, dir, name, stamp, n);
        if (linkat(fd, "", AT_FDCWD, r->path, AT_EMPTY_PATH) == 0 ||
            linkat(AT_FDCWD, proc, AT_FDCWD, r->path, AT_SYMLINK_FOLLOW) == 0)
            return 0;
        if (errno != EEXIST)
            return -1;
    }
    errno = EEXIST;
    return -1;
}

/* Makes the new name durable too (best effort: a directory may not support fsync). */
static void sync_dir(const char *dir)
{
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        (void)fsync(dfd);
        close(dfd);
    }
}

recorder_t *recorder_open(const char *dir, const rec_header_t *h, const log_t *lg, char *err,
                          size_t errcap)
{
    char name[REC_ATHLETE_LEN + 1], stamp[32];
    sanitise(h->athlete, name, sizeof name);
    time_t secs = (time_t)(h->start_unix_us / 1000000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);

    uint8_t hdr[REC_MAX_HEADER + 64];
    size_t hlen;
    int rc = rec_header_encode(h, hdr, sizeof hdr, &hlen);
    if (rc != 0) {
        snprintf(err, errcap, "recording header for %s: %s", h->athlete, proto_strerror(rc));
        return NULL;
    }

    recorder_t *r = xcalloc(1, sizeof *r);
    r->lg = lg;
    /* The header goes to an unnamed file that is named once it is written and synced, so a
     * crash (kill -9, power cut) never leaves an empty or half-written header under a
     * recording's name, nor a temporary file behind. Filesystems without O_TMPFILE: the file is
     * created under its name (O_EXCL) and removed again if the header cannot be written. */
    r->fd = open(dir, O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600);
    if (r->fd >= 0) {
        if (write_all(r->fd, hdr, hlen) != 0 || fdatasync(r->fd) != 0) {
            snprintf(err, errcap, "%s: new recording of %s: %s", dir, h->athlete,
                     strerror(errno));
            close(r->fd);
            xfree(r);
            return NULL;
        }
        if (link_free_name(r, r->fd, dir, name, stamp) != 0) {
            snprintf(err, errcap, "%s: %s", r->path, strerror(errno));
            close(r->fd);
            xfree(r);
            return NULL;
        }
        sync_dir(dir);
    } else if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL) {
        snprintf(err, errcap, "%s: %s", dir, strerror(errno));
        xfree(r);
        return NULL;
    } else {
        for (int n = 1; n < 1000 && r->fd < 0; n++) {
            name_at(r->path, sizeof r->path, dir, name, stamp, n);
            r->fd = open(r->path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
            if (r->fd < 0 && errno != EEXIST)
                break;
        }
        if (r->fd < 0) {
            snprintf(err, errcap, "%s: %s", r->path, strerror(errno));
            xfree(r);
            return NULL;
        }
        if (write_all(r->fd, hdr, hlen) != 0 || fdatasync(r->fd) != 0) {
            snprintf(err, errcap, "%s: %s", r->path, strerror(errno));
            close(r->fd);
            unlink(r->path);
            xfree(r);
            return NULL;
        }
    }
    r->bytes = hlen;
    r->chunk = xmalloc(sizeof *r->chunk);
    rec_chunk_init(r->chunk, 0);
    log_info(lg, "recording %s to %s", h->athlete, r->path);
    return r;
}

/* A chunk could not be written or synced: the recording stops for good. The file is cut back
 * to the end of the last complete chunk (a partial write would otherwise leave a torn chunk at
 * the tail), so it stays readable to the last second or so; nothing is written to it again. */
static void stop_failed(recorder_t *r, const char *what, int e)
{
    snprintf(r->error, sizeof r->error, "%s: %s of chunk %u failed: %s", r->path, what,
             r->next_index, strerror(e));
    r->failed = 1;
    if (ftruncate(r->fd, (off_t)r->bytes) != 0 || fdatasync(r->fd) != 0)
        log_error(r->lg, "%s; recording stopped (cannot cut it back to %llu bytes: %s)", r->error,
                  (unsigned long long)r->bytes, strerror(errno));
    else
        log_error(r->lg, "%s; recording stopped, kept to its last complete chunk (%llu bytes, "
                  "%u chunks)", r->error, (unsigned long long)r->bytes, r->next_index);
}

int recorder_flush(recorder_t *r)
{
    if (r->failed)
        return -1;
    if (rec_chunk_payload(r->chunk) == 0)
        return 0;
    size_t len;
    const uint8_t *block = rec_chunk_finish(r->chunk, &len);
    if (write_all(r->fd, block, len) != 0) {
        stop_failed(r, "write", errno);
        return -1;
    }
    if (fdatasync(r->fd) != 0) {
        stop_failed(r, "fdatasync", errno);
        return -1;
    }
    r->bytes += len;
    r->next_index++;
    rec_chunk_init(r->chunk, r->next_index);
    return 0;
}

int recorder_add(recorder_t *r, unsigned pod_index, const uint8_t *frame, size_t len,
                 int64_t now_us)
{
    if (r->failed)
        return -1;
    if (rec_chunk_payload(r->chunk) == 0)
        r->first_us = now_us;
    int rc = rec_chunk_add(r->chunk, (uint8_t)pod_index, frame, len);
    if (rc == PROTO_ERR_SPACE) {
        if (recorder_flush(r) != 0)
            return -1;
        r->first_us = now_us;
        rc = rec_chunk_add(r->chunk, (uint8_t)pod_index, frame, len);
    }
    if (rc != 0) {
        log_warn(r->lg, "%s: frame of %zu bytes not recorded: %s", r->path, len,
                 proto_strerror(rc));
        return -1;
    }
    if (rec_chunk_payload(r->chunk) >= RECORDER_FLUSH_BYTES)
        return recorder_flush(r);
    return 0;
}

int recorder_tick(recorder_t *r, int64_t now_us)
{
    if (!r->failed && rec_chunk_payload(r->chunk) > 0 && now_us - r->first_us >= RECORDER_FLUSH_US)
        return recorder_flush(r);
    return r->failed ? -1 : 0;
}

const char *recorder_path(const recorder_t *r)
{
    return r->path;
}

uint64_t recorder_bytes(const recorder_t *r)
{
    return r->bytes;
}

uint32_t recorder_chunks(const recorder_t *r)
{
    return r->next_index;
}

int recorder_failed(const recorder_t *r)
{
    return r->failed;
}

const char *recorder_error(const recorder_t *r)
{
    return r->failed ? r->error : NULL;
}

int recorder_close(recorder_t **rp)
{
    if (!rp || !*rp)
        return 0;
    recorder_t *r = *rp;
    int rc = recorder_flush(r);
    if (close(r->fd) != 0)
        rc = -1;
    log_info(r->lg, "closed %s (%llu bytes, %u chunks%s)", r->path, (unsigned long long)r->bytes,
             r->next_index, r->failed ? ", stopped early after an error" : "");
    xfree(r->chunk);
    xfree(r);
    *rp = NULL;
    return rc;
}
