/* usb_sync.h - copies the runs stored on USB pods to recordings on disk, then erases them.
 *
 * The caller forwards its usb_pod callbacks (added, runs, frame, run_done, erased, removed) to
 * the usb_sync_on_* functions. For each pod added (not resumed), usb_sync lists its runs and
 * reads them one by one (usb_pod_read_run: in order, resumable across unplugs, CRC-verified).
 * Runs the cfg.skip hook says are synced already are not read. Each run becomes one recording
 * DIR/<athlete>-<UTC start>.gaitrec (athlete from cfg.athlete, else "<serial>-run<id>")
 * (daemon/recorder.h, header source "usb-sync", one pod; its clock offset maps the run's first
 * frame to the run's start_unix_us) holding the frames exactly as received. When the read ends with
 * run_done(OK) the recording is closed (written and fdatasync'ed); only if that succeeded, and if
 * erase is set, is the run erased on the pod (usb_pod_erase_run). A run whose read fails
 * verification is kept as ...gaitrec.unverified and never erased. An unplug keeps the open
 * recording: when the pod comes back (usb_pod resumes the read at the frame index already held) the
 * frames are appended to the same file. A recording is created under its final name; copies of the
 * same run left by an earlier gaitd that never finished them (killed mid-read) are renamed
 * *.gaitrec.partial when the run is read again. A complete copy whose name was taken meanwhile
 * (the other foot's run of the same outing: same athlete, same start) is named
 * <athlete>-<UTC start>-N.gaitrec. usb_sync_merge makes one recording of two such copies.
 * Not thread-safe; runs in the loop's thread like usb_pod.
 */
#ifndef GAITD_USB_SYNC_H
#define GAITD_USB_SYNC_H
#include <stddef.h>
#include <stdint.h>
#include "log.h"
#include "usb_pod.h"

typedef struct usb_sync usb_sync_t;

typedef struct usb_sync_cfg {
    const char *dir;             /* recordings go there (borrowed, must exist) */
    int erase;                   /* erase each run once its recording is verified and synced
                                    (ignored when `recorded` is set: the caller erases) */
    int verify_synced;           /* runs `skip` says are synced but still on the pod (e.g. an
                                    earlier gaitd stopped before erasing them) are read again,
                                    not recorded, and erased once verified */
    /* Optional hooks (NULL: not used); ud is passed to each. */
    void *ud;
    /* 1 if run_id of serial is already synced (e.g. in the catalog): not read again. */
    int (*skip)(void *ud, const char *serial, uint32_t run_id);
    /* Athlete name for the recording header of serial's runs (copied); NULL or "" keeps the
     * default "<serial>-run<id>". */
    const char *(*athlete)(void *ud, const char *serial);
    /* The run's recording is complete, verified and fdatasync'ed at path. The caller analyses
     * and catalogs it and then erases the run itself (usb_pod_erase_run). The run covers
     * [start_unix_us, end_unix_us): its listed start plus n_frames frames of its first frame's
     * duration. */
    void (*recorded)(void *ud, usb_pod_t *p, uint32_t run_id, const char *path,
                     int64_t start_unix_us, int64_t end_unix_us);
} usb_sync_cfg_t;

typedef struct usb_sync_stats {
    unsigned runs_listed;        /* runs seen in REP_RUNS (all pods) */
    unsigned runs_recorded;      /* verified and synced to disk */
    unsigned runs_erased;
    unsigned runs_failed;        /* verification or I/O failure (kept, not erased) */
    uint64_t frames;             /* run frames written */
} usb_sync_stats_t;

/* Returns a new sync manager (caller owns it). lg is borrowed. */
usb_sync_t *usb_sync_new(const usb_sync_cfg_t *cfg, const log_t *lg);
/* Closes open recordings (left unverified: suffix .partial) and frees *s; sets it to NULL. */
void usb_sync_free(usb_sync_t **s);
void usb_sync_stats(const usb_sync_t *s, usb_sync_stats_t *st);
/* 1 when no run is being read or waiting to be read. */
int usb_sync_idle(const usb_sync_t *s);
/* 1 when no run of pod serial is being read or waiting to be read. */
int usb_sync_pod_idle(const usb_sync_t *s, const char *serial);
/* Path of the last recording completed (verified and synced), "" before the first. */
const char *usb_sync_last_path(const usb_sync_t *s);

/* Writes one recording of two feet from two complete one-pod recordings (e.g. the left and the
 * right run of one outing, each as usb_sync wrote it): header from parts[0] (athlete, source
 * "usb-sync"), start = the earlier start, pods = parts[0]'s then parts[1]'s with their own clock
 * offsets, and every frame of both, byte for byte, interleaved in time order (host time = pod
 * time + the pod's clock offset; ties: parts[0] first). Created in dir under the recorder's name
 * (<athlete>-<UTC start>[-N].gaitrec), written as ".partial" and renamed only once complete and
 * fdatasync'ed (the directory too), like a synced run. Both parts are read whole into memory.
 * Returns 0 and the path in out[outcap], or -1 with a message naming the file in err (nothing
 * left under a final name). */
int usb_sync_merge(const char *dir, const char *const parts[2], const log_t *lg, char *out,
                   size_t outcap, char *err, size_t errcap);

/* The usb_pod callbacks to forward. */
void usb_sync_on_added(usb_sync_t *s, usb_pod_t *p, int resumed);
void usb_sync_on_runs(usb_sync_t *s, usb_pod_t *p, const pod_runs_t *runs);
void usb_sync_on_frame(usb_sync_t *s, usb_pod_t *p, const pod_samples_t *f, const uint8_t *wire,
                       size_t len);
void usb_sync_on_run_done(usb_sync_t *s, usb_pod_t *p, uint32_t run_id, int status);
void usb_sync_on_erased(usb_sync_t *s, usb_pod_t *p, uint32_t run_id, int status);
void usb_sync_on_removed(usb_sync_t *s, usb_pod_t *p);

#endif
