/* src_replay.c - recording and CSV replay (see src_replay.h). */
#define LOG_PREFIX "replay"
#include "src_replay.h"
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include "alloc.h"
#include "input.h"
#include "loop.h"
#include "proto.h"
#include "rec.h"

typedef struct src_replay {
    char *path;
    source_env_t env;
    session_t *sess;
    int64_t start_wall_us;
    int done;
    /* recording */
    int is_rec;
    uint8_t *map;
    size_t map_len;
    rec_reader_t rd;
    /* CSV */
    input_t *in;
    int have_pending;            /* a sample read ahead, not yet due */
    int pending_foot;
    dsp_sample_t pending;
    double csv_t0;
} src_replay_t;

static void finish(src_replay_t *r)
{
    if (r->done)
        return;
    if (r->sess)
        session_finish(r->sess);
    r->done = 1;
}

/* Data seconds fed so far (0 before the first sample). */
static double fed_s(const src_replay_t *r)
{
    if (!r->sess)
        return 0.0;
    double a = session_data_start(r->sess), b = session_data_time(r->sess);
    return isnan(a) ? 0.0 : b - a;
}

static int64_t step_recording(src_replay_t *r, double due, int64_t now_us, int64_t deadline)
{
    unsigned n = 0;
    for (;;) {
        double fed = fed_s(r);
        if (r->env.duration_s > 0 && fed >= r->env.duration_s) {
            finish(r);
            return SOURCE_DONE;
        }
        if (fed > due)
            return 20;
        uint8_t pod;
        const uint8_t *frame;
        size_t len;
        int rc = rec_reader_next(&r->rd, &pod, &frame, &len);
        if (rc == 0) {
            log_info(r->env.lg, "%s: end of recording", r->path);
            finish(r);
            return SOURCE_DONE;
        }
        if (rc < 0) {
            log_warn(r->env.lg, "%s: byte %zu: %s; replay stops here", r->path,
                     r->rd.error_offset, r->rd.error_msg[0] ? r->rd.error_msg : proto_strerror(rc));
            finish(r);
            return SOURCE_DONE;
        }
        if (session_feed_frame(r->sess, pod, frame, len, now_us) != 0)
            log_debug(r->env.lg, "%s: record for unknown pod %u skipped", r->path, pod);
        if (r->env.speed <= 0.0 && (++n & 15) == 0 && loop_now_us() > deadline)
            return 0;
    }
}

static int create_csv_session(src_replay_t *r, char *err, size_t errcap)
{
    session_cfg_t sc;
    memset(&sc, 0, sizeof sc);
    sc.header = *input_header(r->in);
    if (!sc.header.source[0])
        snprintf(sc.header.source, sizeof sc.header.source, "csv-replay");
    sc.record_dir = NULL;
    if (r->env.record_dir)
        log_warn(r->env.lg, "%s: CSV replays are not recorded (--record ignored for it)",
                 r->path);
    sc.window_period_s = r->env.window_period_s;
    r->sess = session_new(&sc, r->env.pub, r->env.lg, err, errcap);
    return r->sess ? 0 : -1;
}

static int64_t step_csv(src_replay_t *r, double due, int64_t deadline)
{
    char err[512];
    unsigned n = 0;
    for (;;) {
        if (!r->have_pending) {
            int rc = input_next(r->in, &r->pending_foot, &r->pending, err, sizeof err);
            if (rc < 0) {
                log_warn(r->env.lg, "%s", err);
                continue;
            }
            if (rc == 0) {
                log_info(r->env.lg, "%s: end of file", r->path);
                finish(r);
                return SOURCE_DONE;
            }
            r->have_pending = 1;
            if (!r->sess) {
                r->csv_t0 = r->pending.t;
                if (create_csv_session(r, err, sizeof err) != 0) {
                    log_error(r->env.lg, "%s", err);
                    r->done = 1;
                    return SOURCE_DONE;
                }
            }
        }
        double rel = r->pending.t - r->csv_t0;
        if (r->env.duration_s > 0 && rel >= r->env.duration_s) {
            finish(r);
            return SOURCE_DONE;
        }
        if (rel > due)
            return 20;
        session_push_sample(r->sess, r->pending_foot, &r->pending);
        r->have_pending = 0;
        if (r->env.speed <= 0.0 && (++n & 255) == 0 && loop_now_us() > deadline)
            return 0;
    }
}

static int64_t replay_step(void *impl, int64_t now_us)
{
    src_replay_t *r = impl;
    if (r->done)
        return SOURCE_DONE;
    if (!r->start_wall_us)
        r->start_wall_us = now_us;
    double due = source_due_s(now_us - r->start_wall_us, r->env.speed);
    int64_t deadline = now_us + SOURCE_BUDGET_US;
    return r->is_rec ? step_recording(r, due, now_us, deadline) : step_csv(r, due, deadline);
}

static session_t *replay_session(void *impl)
{
    return ((src_replay_t *)impl)->sess;
}

static void replay_stop(void *impl)
{
    finish(impl);
}

static void replay_free(void *impl)
{
    src_replay_t *r = impl;
    if (!r)
        return;
    session_free(&r->sess);
    if (r->map)
        munmap(r->map, r->map_len);
    input_free(&r->in);
    xfree(r->path);
    xfree(r);
}

static const source_ops_t replay_ops = {
    .kind = "replay",
    .step = replay_step,
    .session = replay_session,
    .stop = replay_stop,
    .free = replay_free,
};

/* Maps the whole file. Returns 0 or -1 with err set. */
static int map_file(src_replay_t *r, char *err, size_t errcap)
{
    int fd = open(r->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errcap, "%s: %s", r->path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || st.st_size == 0) {
        snprintf(err, errcap, "%s: %s", r->path, st.st_size == 0 ? "empty file" : strerror(errno));
        close(fd);
        return -1;
    }
    void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (m == MAP_FAILED) {
        snprintf(err, errcap, "%s: mmap: %s", r->path, strerror(errno));
        return -1;
    }
    r->map = m;
    r->map_len = (size_t)st.st_size;
    return 0;
}

int src_replay_new(source_t *src, const char *path, const source_env_t *env, char *err,
                   size_t errcap)
{
    src_replay_t *r = xcalloc(1, sizeof *r);
    r->path = xstrdup(path);
    r->env = *env;
    if (map_file(r, err, errcap) != 0)
        goto err;
    if (rec_is_recording(r->map, r->map_len)) {
        r->is_rec = 1;
        session_cfg_t sc;
        memset(&sc, 0, sizeof sc);
        int rc = rec_reader_open(&r->rd, r->map, r->map_len, &sc.header);
        if (rc != 0) {
            snprintf(err, errcap, "%s: byte %zu: %s", path, r->rd.error_offset,
                     r->rd.error_msg[0] ? r->rd.error_msg : proto_strerror(rc));
            goto err;
        }
        if (!sc.header.athlete[0]) {
            const char *base = strrchr(path, '/');
            snprintf(sc.header.athlete, sizeof sc.header.athlete, "%s", base ? base + 1 : path);
        }
        sc.record_dir = env->record_dir;
        sc.window_period_s = env->window_period_s;
        r->sess = session_new(&sc, env->pub, env->lg, err, errcap);
        if (!r->sess)
            goto err;
        log_info(env->lg, "replaying recording %s (athlete %s) at speed %g", path,
                 sc.header.athlete, env->speed);
    } else {
        munmap(r->map, r->map_len);
        r->map = NULL;
        r->in = input_open(path, 0.0, err, errcap);
        if (!r->in)
            goto err;
        log_info(env->lg, "replaying CSV %s at speed %g", path, env->speed);
    }
    src->ops = &replay_ops;
    src->impl = r;
    return 0;
err:
    replay_free(r);
    return -1;
}
