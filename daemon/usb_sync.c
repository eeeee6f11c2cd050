/* usb_sync.c - stored runs from USB pods to synced recordings, then erase (see usb_sync.h). */
#define _GNU_SOURCE /* renameat2 */
#define LOG_PREFIX "usb-sync"
#include "usb_sync.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "alloc.h"
#include "crc.h"
#include "loop.h"
#include "pod.h"
#include "rec.h"
#include "recorder.h"

#define PATH_CAP 1024

/* Per pod serial. */
typedef struct job {
    char serial[POD_SERIAL_LEN];
    pod_run_info_t queue[POD_MAX_RUNS];
    int verify[POD_MAX_RUNS];    /* queue[i] is synced already: read to verify, then erase */
    unsigned qn, qi;             /* runs to read; queue[qi] is the current one */
    int reading;
    recorder_t *rec;             /* recording of the current run, open across unplugs */
    int failed;                  /* recording failed: never erase this run */
    char path[PATH_CAP];
    char final[PATH_CAP];        /* the current recording's name once complete */
    char cur[PATH_CAP + 32];     /* its name while it is written (final + ".partial") */
    int64_t end_us;              /* the current run's end (start + n_frames frame durations) */
    /* copies of the current run left by an earlier gaitd (killed or stopped mid-read): the
     * current copy began with the frames of the longest; all are removed once it is complete */
    char (*stale)[PATH_CAP];
    unsigned n_stale, cap_stale;
    uint32_t resume_run;         /* run whose copy j->rec began with held frames (0: none) */
    uint32_t resume_held, resume_crc;
    uint32_t done[64];           /* runs already handled in this process */
    unsigned n_done;
} job_t;

struct usb_sync {
    usb_sync_cfg_t cfg;
    char dir[PATH_CAP];
    const log_t *lg;
    job_t **jobs;
    size_t n_jobs;
    usb_sync_stats_t st;
    char last_path[PATH_CAP];
};

usb_sync_t *usb_sync_new(const usb_sync_cfg_t *cfg, const log_t *lg)
{
    usb_sync_t *s = xcalloc(1, sizeof *s);
    s->cfg = *cfg;
    snprintf(s->dir, sizeof s->dir, "%s", cfg->dir ? cfg->dir : ".");
    s->cfg.dir = s->dir;
    s->lg = lg;
    return s;
}

static int is_partial_name(const char *name);
static void hide_partial(usb_sync_t *s, job_t *j);

/* Closes an unfinished recording and renames it with `suffix` (it must never pass for a verified
 * copy). */
static void set_aside(usb_sync_t *s, job_t *j, const char *suffix)
{
    if (!j->rec)
        return;
    recorder_close(&j->rec);
    j->resume_run = 0;
    char to[PATH_CAP + 16];
    snprintf(to, sizeof to, "%s%s", j->final, suffix);
    if (strcmp(j->cur, to) && !(!strcmp(suffix, ".partial") && is_partial_name(j->cur)) &&
        renameat2(AT_FDCWD, j->cur, AT_FDCWD, to, RENAME_NOREPLACE) != 0)
        log_error(s->lg, "%s: cannot rename to %s: %s", j->cur, to, strerror(errno));
    else
        log_warn(s->lg, "%s: kept as %s", j->serial, strcmp(j->cur, to) ? to : j->cur);
}

void usb_sync_free(usb_sync_t **sp)
{
    if (!sp || !*sp)
        return;
    usb_sync_t *s = *sp;
    for (size_t i = 0; i < s->n_jobs; i++) {
        set_aside(s, s->jobs[i], ".partial");
        xfree(s->jobs[i]->stale);
        xfree(s->jobs[i]);
    }
    xfree(s->jobs);
    xfree(s);
    *sp = NULL;
}

void usb_sync_stats(const usb_sync_t *s, usb_sync_stats_t *st)
{
    *st = s->st;
}

int usb_sync_pod_idle(const usb_sync_t *s, const char *serial)
{
    for (size_t i = 0; i < s->n_jobs; i++)
        if (!strcmp(s->jobs[i]->serial, serial))
            return !s->jobs[i]->reading && s->jobs[i]->qi >= s->jobs[i]->qn;
    return 1;
}

int usb_sync_idle(const usb_sync_t *s)
{
    for (size_t i = 0; i < s->n_jobs; i++)
        if (s->jobs[i]->reading || s->jobs[i]->qi < s->jobs[i]->qn)
            return 0;
    return 1;
}

const char *usb_sync_last_path(const usb_sync_t *s)
{
    return s->last_path;
}

static job_t *job_of(usb_sync_t *s, const usb_pod_t *p)
{
    const char *serial = usb_pod_info(p)->id.serial;
    for (size_t i = 0; i < s->n_jobs; i++)
        if (!strcmp(s->jobs[i]->serial, serial))
            return s->jobs[i];
    s->jobs = xrealloc(s->jobs, (s->n_jobs + 1) * sizeof *s->jobs);
    job_t *j = xcalloc(1, sizeof *j);
    snprintf(j->serial, sizeof j->serial, "%s", serial);
    s->jobs[s->n_jobs++] = j;
    return j;
}

static int is_done(const job_t *j, uint32_t run)
{
    for (unsigned i = 0; i < j->n_done; i++)
        if (j->done[i] == run)
            return 1;
    return 0;
}

static void mark_done(job_t *j, uint32_t run)
{
    if (j->n_done < sizeof j->done / sizeof j->done[0])
        j->done[j->n_done++] = run;
}

/* Reads the file whole into *data (caller frees). Returns 0, or -1 with err set. */
static int load_file(const char *path, uint8_t **data, size_t *len, char *err, size_t errcap)
{
    *data = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errcap, "%s: %s", path, strerror(errno));
        return -1;
    }
    size_t cap = 1 << 16;
    *data = xmalloc(cap);
    size_t got;
    while ((got = fread(*data + *len, 1, cap - *len, f)) > 0) {
        *len += got;
        if (*len == cap)
            *data = xrealloc(*data, cap *= 2);
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        snprintf(err, errcap, "%s: read error", path);
        return -1;
    }
    return 0;
}

/* ---- resuming a copy left by an earlier gaitd ---- */

/* What a left-over copy holds of one run. */
typedef struct held_copy {
    rec_header_t h;
    uint32_t held;               /* frames 0 .. held - 1 of the run, in order */
    uint32_t crc;                /* CRC-32 of their payloads, as usb_pod computes it */
    uint32_t n, rate_hz;         /* samples per frame and rate of its last frame */
    size_t end;                  /* file offset where the good frames end (for messages) */
} held_copy_t;

/* The frames of run r of pod `serial` that the recording image data[0..len) holds from frame 0
 * on, in order: intact chunks only, up to the first damaged or cut chunk (a copy killed mid-write)
 * or the first record that is not the next frame of that run. With copy set, those frames are
 * also appended to it. Returns 0 when the image is a one-pod usb-sync copy of that run
 * (hc->held may be 0), 1 when it is some other recording, -1 when copy failed. */
static int held_frames(const uint8_t *data, size_t len, const char *serial,
                       const pod_run_info_t *r, held_copy_t *hc, recorder_t *copy)
{
    memset(hc, 0, sizeof *hc);
    rec_reader_t rd;
    if (rec_reader_open(&rd, data, len, &hc->h) != 0 || hc->h.n_pods != 1 ||
        strcmp(hc->h.source, "usb-sync") != 0 ||
        strncmp(hc->h.pods[0].serial, serial, sizeof hc->h.pods[0].serial) != 0 ||
        hc->h.start_unix_us != (int64_t)r->start_unix_us)
        return 1;
    uint8_t pi;
    const uint8_t *fr;
    size_t fl;
    while (hc->held < r->n_frames && rec_reader_next(&rd, &pi, &fr, &fl) == 1) {
        pod_msg_t m;
        size_t used;
        if (pod_decode(fr, fl, &m, &used) != 0 || used != fl || m.type != POD_MSG_SAMPLES ||
            m.u.samples.run_id != r->run_id || m.u.samples.seq != hc->held)
            break;
        if (copy && recorder_add(copy, 0, fr, fl, loop_now_us()) != 0)
            return -1;
        hc->crc = proto_crc32_update(hc->crc, fr + POD_HEADER_LEN, fl - POD_FRAME_OVERHEAD);
        hc->held++;
        hc->n = m.u.samples.n;
        hc->rate_hz = m.u.samples.rate_hz;
        hc->end = (size_t)(fr + fl - data);
    }
    return 0;
}

static int is_partial_name(const char *name)
{
    const char *p = strstr(name, ".gaitrec.partial");
    if (!p)
        return 0;
    p += strlen(".gaitrec.partial");
    if (*p == 0)
        return 1;
    if (*p++ != '.' || !*p)
        return 0;
    return strspn(p, "0123456789") == strlen(p);
}

/* A gaitd killed (or stopped) while it copied run r left `<name>.gaitrec.partial[.N]` files (a
 * copy is renamed to its final name only once complete and verified). Opens the new copy (j->rec)
 * with the frames of the one that holds the most, all of them verified again by the pod's run CRC
 * at the end, and sets j->resume_* so that the pod sends only the rest. Leaves j->rec NULL when
 * there is no such copy or it cannot be used (the run is read from frame 0). */
static void resume_copy(usb_sync_t *s, job_t *j, usb_pod_t *p, const pod_run_info_t *r)
{
    j->n_stale = 0;
    DIR *d = opendir(s->dir);
    if (!d)
        return;
    char best[PATH_CAP] = "", err[PATH_CAP + 64];
    uint8_t *best_data = NULL; /* the image of the copy holding the most, kept for the copy */
    size_t best_len = 0;
    held_copy_t hc = {0};
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!is_partial_name(e->d_name))
            continue;
        char path[PATH_CAP];
        if ((size_t)snprintf(path, sizeof path, "%s/%s", s->dir, e->d_name) >= sizeof path)
            continue;
        uint8_t *data;
        size_t len;
        held_copy_t c;
        if (load_file(path, &data, &len, err, sizeof err) != 0) {
            log_warn(s->lg, "%s: not resumed from: %s", path, err);
        } else if (held_frames(data, len, j->serial, r, &c, NULL) == 0) {
            log_info(s->lg, "%s: %s holds frames 0..%u of run %u (to byte %zu of %zu)", j->serial,
                     path, c.held ? c.held - 1 : 0, r->run_id, c.end, len);
            if (j->n_stale == j->cap_stale) {
                j->cap_stale = j->cap_stale ? 2 * j->cap_stale : 4;
                j->stale = xrealloc(j->stale, j->cap_stale * sizeof *j->stale);
            }
            snprintf(j->stale[j->n_stale++], PATH_CAP, "%s", path);
            if (c.held > hc.held) {
                hc = c;
                snprintf(best, sizeof best, "%s", path);
                xfree(best_data);
                best_data = data, best_len = len;
                data = NULL;
            }
        }
        xfree(data);
    }
    closedir(d);
    if (!hc.held) {
        xfree(best_data);
        return;
    }
    rec_header_t h = hc.h;
    const char *ath = s->cfg.athlete ? s->cfg.athlete(s->cfg.ud, j->serial) : NULL;
    if (ath && *ath)
        snprintf(h.athlete, sizeof h.athlete, "%s", ath);
    j->rec = recorder_open(s->dir, &h, s->lg, err, sizeof err);
    if (!j->rec) {
        log_error(s->lg, "%s", err);
        xfree(best_data);
        return;
    }
    hide_partial(s, j);
    int rc = held_frames(best_data, best_len, j->serial, r, &hc, j->rec);
    xfree(best_data);
    if (rc != 0) {
        log_error(s->lg, "%s: copying the frames held in %s failed: reading run %u from frame 0",
                  j->cur, best, r->run_id);
        set_aside(s, j, ".partial");
        return;
    }
    unsigned rate = hc.rate_hz ? hc.rate_hz : 1;
    j->end_us = (int64_t)r->start_unix_us + (int64_t)((double)r->n_frames * hc.n * 1e6 / rate);
    j->resume_run = r->run_id;
    j->resume_held = hc.held;
    j->resume_crc = hc.crc;
    log_info(s->lg, "%s: run %u: %u of %u frames already copied by an earlier gaitd (%s): "
             "reading from frame %u", usb_pod_info(p)->id.serial, r->run_id, hc.held,
             r->n_frames, best, hc.held);
}

/* A copy that began with frames of an earlier one failed the pod's verification: the earlier
 * copies are renamed `*.unverified` (kept, never resumed from again). */
static void retire_stale(usb_sync_t *s, job_t *j)
{
    for (unsigned i = 0; i < j->n_stale; i++) {
        char to[PATH_CAP + 16];
        snprintf(to, sizeof to, "%s.unverified", j->stale[i]);
        if (renameat2(AT_FDCWD, j->stale[i], AT_FDCWD, to, RENAME_NOREPLACE) == 0)
            log_warn(s->lg, "%s: %s kept as %s: never resumed from again", j->serial,
                     j->stale[i], to);
    }
    j->n_stale = 0;
}

/* The current run's copy is complete: the copies left by earlier gaitds hold nothing it lacks. */
static void remove_stale(usb_sync_t *s, job_t *j)
{
    for (unsigned i = 0; i < j->n_stale; i++) {
        if (!strcmp(j->stale[i], j->final))
            continue;
        if (unlink(j->stale[i]) == 0)
            log_info(s->lg, "%s: removed %s (an unfinished copy of the run now in %s)", j->serial,
                     j->stale[i], j->final);
        else if (errno != ENOENT)
            log_warn(s->lg, "%s: cannot remove %s: %s", j->serial, j->stale[i], strerror(errno));
    }
    j->n_stale = 0;
}

/* Starts reading the next queued run, if any. */
static void start_next(usb_sync_t *s, job_t *j, usb_pod_t *p)
{
    while (j->qi < j->qn) {
        const pod_run_info_t *r = &j->queue[j->qi];
        j->failed = 0;
        if (j->rec && j->resume_run != r->run_id)
            set_aside(s, j, ".partial");
        if (!j->rec && !j->verify[j->qi])
            resume_copy(s, j, p, r);
        int rc = j->rec ? usb_pod_read_run_from(p, r->run_id, j->resume_held, j->resume_crc)
                        : usb_pod_read_run(p, r->run_id);
        if (rc == USB_POD_OK) {
            j->reading = 1;
            log_info(s->lg, "%s: %s run %u (%u frames)", j->serial,
                     j->verify[j->qi] ? "verifying (synced before, still on the pod)" : "reading",
                     r->run_id, r->n_frames);
            return;
        }
        log_warn(s->lg, "%s: run %u: %s", j->serial, r->run_id, usb_pod_strerror(rc));
        if (rc == USB_POD_ERR_GONE)
            return;              /* retried when the pod is back */
        set_aside(s, j, ".partial");
        j->qi++;
    }
}

void usb_sync_on_added(usb_sync_t *s, usb_pod_t *p, int resumed)
{
    job_t *j = job_of(s, p);
    if (resumed && j->reading)
        return;                  /* usb_pod resumed the read: frames go on into j->rec */
    if (j->qi < j->qn && !j->reading) {
        start_next(s, j, p);
        return;
    }
    int rc = usb_pod_list_runs(p);
    if (rc)
        log_warn(s->lg, "%s: list runs: %s", j->serial, usb_pod_strerror(rc));
}

void usb_sync_on_runs(usb_sync_t *s, usb_pod_t *p, const pod_runs_t *runs)
{
    job_t *j = job_of(s, p);
    if (j->reading)
        return;
    j->qn = j->qi = 0;
    for (unsigned i = 0; i < runs->n; i++) {
        if (is_done(j, runs->runs[i].run_id))
            continue;
        int synced = s->cfg.skip && s->cfg.skip(s->cfg.ud, j->serial, runs->runs[i].run_id) == 1;
        if (synced && !s->cfg.verify_synced)
            continue;
        j->verify[j->qn] = synced;
        j->queue[j->qn++] = runs->runs[i];
        s->st.runs_listed++;
    }
    log_info(s->lg, "%s: %u stored run(s) to copy", j->serial, j->qn);
    start_next(s, j, p);
}

/* The recording is written as "<final>.partial" (or ".partial.N" when a copy left by a gaitd
 * killed mid-read has that name) and renamed to its final name only once complete, verified and
 * synced, so a copy that never completed never passes for a complete one. final[PATH_CAP],
 * cur[PATH_CAP + 32]. */
static void hide_partial_path(const log_t *lg, const recorder_t *rec, char *final, char *cur)
{
    snprintf(final, PATH_CAP, "%s", recorder_path(rec));
    for (int n = 0; n < 1000; n++) {
        if (n == 0)
            snprintf(cur, PATH_CAP + 32, "%s.partial", final);
        else
            snprintf(cur, PATH_CAP + 32, "%s.partial.%d", final, n);
        if (renameat2(AT_FDCWD, final, AT_FDCWD, cur, RENAME_NOREPLACE) == 0)
            return;
        if (errno != EEXIST)
            break;
    }
    log_warn(lg, "%s: cannot rename it while it is written: %s", final, strerror(errno));
    snprintf(cur, PATH_CAP + 32, "%s", final);
}

static void hide_partial(usb_sync_t *s, job_t *j)
{
    hide_partial_path(s->lg, j->rec, j->final, j->cur);
}

/* The complete copy gets its final name (never replacing a file). The name, free when the copy
 * was begun, may have been taken since (e.g. the other foot's pod of the same outing: same
 * athlete, same start): then the copy becomes "<name>-N.gaitrec" (N = 1, 2, ...) and
 * final[PATH_CAP] is updated. Returns 0 or -1. */
static int unhide_path(const log_t *lg, const char *dir, char *final, const char *cur)
{
    if (!strcmp(cur, final))
        return 0;
    char base[PATH_CAP];
    snprintf(base, sizeof base, "%s", final);
    size_t bl = strlen(base);
    if (bl > 8 && !strcmp(base + bl - 8, ".gaitrec"))
        base[bl - 8] = 0;
    int n = 0;
    while (renameat2(AT_FDCWD, cur, AT_FDCWD, final, RENAME_NOREPLACE) != 0) {
        if (errno != EEXIST || ++n >= 1000) {
            log_error(lg, "%s: cannot rename to %s: %s", cur, final, strerror(errno));
            return -1;
        }
        snprintf(final, PATH_CAP, "%s-%d.gaitrec", base, n);
    }
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) { /* the new name is durable before the run is catalogued and erased */
        fsync(dfd);
        close(dfd);
    }
    return 0;
}

static int unhide(usb_sync_t *s, job_t *j)
{
    return unhide_path(s->lg, s->dir, j->final, j->cur);
}

static void open_recording(usb_sync_t *s, job_t *j, usb_pod_t *p, const pod_samples_t *f)
{
    const usb_pod_info_t *in = usb_pod_info(p);
    const pod_run_info_t *r = &j->queue[j->qi];
    rec_header_t h;
    rec_header_init(&h);
    const char *ath = s->cfg.athlete ? s->cfg.athlete(s->cfg.ud, j->serial) : NULL;
    if (ath && *ath)
        snprintf(h.athlete, sizeof h.athlete, "%s", ath);
    else
        snprintf(h.athlete, sizeof h.athlete, "%s-run%u", j->serial, r->run_id);
    snprintf(h.source, sizeof h.source, "usb-sync");
    h.start_unix_us = (int64_t)r->start_unix_us;
    h.n_pods = 1;
    rec_pod_t *rp = &h.pods[0];
    snprintf(rp->serial, sizeof rp->serial, "%s", in->id.serial);
    rp->foot = in->id.foot;
    rp->rate_hz = f->rate_hz;
    rp->acc_range_g = f->acc_range_g;
    rp->gyr_range_dps = f->gyr_range_dps;
    for (int a = 0; a < 3; a++)
        rp->acc_scale[a] = 1.0f;
    /* The pod was not connected while recording: its run start time (pod wall clock after its
     * last sync) anchors the run's first frame. */
    int64_t first_dev = (int64_t)f->t_dev_us -
                        (int64_t)((double)f->seq * f->n * 1e6 / (f->rate_hz ? f->rate_hz : 1));
    rp->clock_offset_us = (int64_t)r->start_unix_us - first_dev;
    j->end_us = (int64_t)r->start_unix_us +
                (int64_t)((double)r->n_frames * f->n * 1e6 / (f->rate_hz ? f->rate_hz : 1));
    char err[256];
    j->rec = recorder_open(s->dir, &h, s->lg, err, sizeof err);
    if (!j->rec) {
        log_error(s->lg, "%s", err);
        j->failed = 1;
        return;
    }
    hide_partial(s, j);
}

void usb_sync_on_frame(usb_sync_t *s, usb_pod_t *p, const pod_samples_t *f, const uint8_t *wire,
                       size_t len)
{
    if (!f->run_id)
        return;
    job_t *j = job_of(s, p);
    if (!j->reading || j->qi >= j->qn || f->run_id != j->queue[j->qi].run_id || j->failed ||
        j->verify[j->qi])
        return;
    if (!j->rec)
        open_recording(s, j, p, f);
    if (!j->rec)
        return;
    if (recorder_add(j->rec, 0, wire, len, loop_now_us()) != 0)
        j->failed = 1;
    else
        s->st.frames++;
}

void usb_sync_on_run_done(usb_sync_t *s, usb_pod_t *p, uint32_t run_id, int status)
{
    job_t *j = job_of(s, p);
    if (!j->reading || j->qi >= j->qn || run_id != j->queue[j->qi].run_id)
        return;
    j->reading = 0;
    mark_done(j, run_id);
    int verify = j->verify[j->qi];
    j->qi++;
    if (verify) { /* catalogued by an earlier gaitd: now verified by this one, so erasable */
        int rc = status == USB_POD_OK ? usb_pod_erase_run(p, run_id) : status;
        if (rc == USB_POD_OK)
            log_info(s->lg, "%s: run %u (synced before) verified again: erasing it", j->serial,
                     run_id);
        else
            log_warn(s->lg, "%s: run %u (synced before) kept on the pod: %s", j->serial, run_id,
                     usb_pod_strerror(rc));
    } else if (status == USB_POD_OK && !j->failed && j->rec) {
        snprintf(j->path, sizeof j->path, "%s", j->final);
        if (recorder_close(&j->rec) == 0 && unhide(s, j) == 0) {
            snprintf(j->path, sizeof j->path, "%s", j->final); /* its name may have changed */
            remove_stale(s, j);
            j->resume_run = 0;
            /* Complete, CRC-verified and on disk (fdatasync'ed): now, and only now, erase. */
            s->st.runs_recorded++;
            snprintf(s->last_path, sizeof s->last_path, "%s", j->path);
            log_info(s->lg, "%s: run %u copied to %s", j->serial, run_id, j->path);
            if (s->cfg.recorded) {
                s->cfg.recorded(s->cfg.ud, p, run_id, j->path,
                                (int64_t)j->queue[j->qi - 1].start_unix_us, j->end_us);
            } else if (s->cfg.erase) {
                int rc = usb_pod_erase_run(p, run_id);
                if (rc)
                    log_warn(s->lg, "%s: erase run %u: %s", j->serial, run_id,
                             usb_pod_strerror(rc));
            }
        } else {
            s->st.runs_failed++;
            log_error(s->lg, "%s: run %u: recording %s failed: run kept on the pod", j->serial,
                      run_id, j->path);
        }
    } else {
        s->st.runs_failed++;
        log_warn(s->lg, "%s: run %u not copied (%s): kept on the pod", j->serial, run_id,
                 status ? usb_pod_strerror(status) : "recording failed");
        if (j->rec && j->resume_run == run_id && status == USB_POD_ERR_VERIFY)
            retire_stale(s, j); /* the held frames may be what differs: next time from frame 0 */
        set_aside(s, j, ".unverified");
    }
    start_next(s, j, p);
}

void usb_sync_on_erased(usb_sync_t *s, usb_pod_t *p, uint32_t run_id, int status)
{
    job_t *j = job_of(s, p);
    if (status == USB_POD_OK)
        s->st.runs_erased++;
    else
        log_warn(s->lg, "%s: erase run %u: %s", j->serial, run_id, usb_pod_strerror(status));
}

void usb_sync_on_removed(usb_sync_t *s, usb_pod_t *p)
{
    job_t *j = job_of(s, p);
    if (j->reading)
        log_info(s->lg, "%s: unplugged during run %u: the copy resumes when it is back", j->serial,
                 j->queue[j->qi].run_id);
}

/* ---- two one-pod recordings -> one recording of both feet ---- */

typedef struct merge_rec {
    double t_us;                 /* host time of the frame's first sample */
    const uint8_t *frame;
    size_t len;
} merge_rec_t;

typedef struct merge_part {
    uint8_t *data;
    size_t len;
    rec_header_t h;
    merge_rec_t *recs;
    size_t n;
} merge_part_t;

static int merge_load(const char *path, merge_part_t *mp, char *err, size_t errcap)
{
    if (load_file(path, &mp->data, &mp->len, err, errcap) != 0)
        return -1;
    rec_reader_t r;
    if (rec_reader_open(&r, mp->data, mp->len, &mp->h) != 0 || mp->h.n_pods != 1) {
        snprintf(err, errcap, "%s: byte %zu: %s", path, r.error_offset,
                 r.error ? r.error_msg : "not a one-pod recording");
        return -1;
    }
    size_t rcap = 1024;
    mp->recs = xmalloc(rcap * sizeof *mp->recs);
    double last = -1e300;
    for (;;) {
        uint8_t pi;
        const uint8_t *fr;
        size_t fl;
        int rc = rec_reader_next(&r, &pi, &fr, &fl);
        if (rc == 0)
            break;
        if (rc < 0) {
            snprintf(err, errcap, "%s: byte %zu: %s", path, r.error_offset, r.error_msg);
            return -1;
        }
        pod_msg_t m;
        size_t used;
        double t = last;
        if (pod_decode(fr, fl, &m, &used) == 0 && m.type == POD_MSG_SAMPLES)
            t = (double)m.u.samples.t_dev_us + (double)mp->h.pods[0].clock_offset_us;
        if (mp->n == rcap)
            mp->recs = xrealloc(mp->recs, (rcap *= 2) * sizeof *mp->recs);
        mp->recs[mp->n++] = (merge_rec_t){t, fr, fl};
        last = t;
    }
    return 0;
}

int usb_sync_merge(const char *dir, const char *const parts[2], const log_t *lg, char *out,
                   size_t outcap, char *err, size_t errcap)
{
    merge_part_t mp[2];
    memset(mp, 0, sizeof mp);
    recorder_t *rec = NULL;
    int ret = -1;
    char final[PATH_CAP] = "", cur[PATH_CAP + 32] = "";
    for (int i = 0; i < 2; i++)
        if (merge_load(parts[i], &mp[i], err, errcap) != 0)
            goto done;
    rec_header_t h = mp[0].h;
    snprintf(h.source, sizeof h.source, "usb-sync");
    if (mp[1].h.start_unix_us < h.start_unix_us)
        h.start_unix_us = mp[1].h.start_unix_us;
    h.n_pods = 2;
    h.pods[1] = mp[1].h.pods[0];
    rec = recorder_open(dir, &h, lg, err, errcap);
    if (!rec)
        goto done;
    hide_partial_path(lg, rec, final, cur);
    size_t k[2] = {0, 0};
    while (k[0] < mp[0].n || k[1] < mp[1].n) {
        int i = k[1] >= mp[1].n                                  ? 0
                : k[0] >= mp[0].n                                ? 1
                : mp[0].recs[k[0]].t_us <= mp[1].recs[k[1]].t_us ? 0
                                                                 : 1;
        const merge_rec_t *m = &mp[i].recs[k[i]++];
        if (recorder_add(rec, (unsigned)i, m->frame, m->len, loop_now_us()) != 0) {
            snprintf(err, errcap, "%s: %s", final,
                     recorder_error(rec) ? recorder_error(rec) : "write failed");
            goto done;
        }
    }
    if (recorder_close(&rec) != 0) {
        snprintf(err, errcap, "%s: cannot write it", final);
        goto done;
    }
    if (unhide_path(lg, dir, final, cur) != 0) {
        snprintf(err, errcap, "%s: cannot rename it to %s", cur, final);
        goto done;
    }
    snprintf(out, outcap, "%s", final);
    ret = 0;
done:
    if (rec) {
        recorder_close(&rec);
        char to[PATH_CAP + 48];
        snprintf(to, sizeof to, "%s.unverified", final);
        if (strcmp(cur, final) == 0 || rename(cur, to) != 0)
            log_warn(lg, "%s: merge left unfinished", cur);
    }
    for (int i = 0; i < 2; i++) {
        xfree(mp[i].data);
        xfree(mp[i].recs);
    }
    return ret;
}
