/* src_usb.h - USB foot pods in gaitd: pairing, live athlete sessions and post-run sync.
 *
 * A usb_hub owns the USB host (daemon/usb_pod.h) and, with sync on, a usb_sync. It routes each
 * pod by its pairing (usb_hub_pair: from the config file and the catalog, or the control command
 * `assign`) to its athlete:
 *   - live: each athlete with a pod connected gets one live session, a source (daemon/source.h)
 *     handed to the daemon through hooks.add_source. The session is created when the athlete's
 *     left and right pods are identified, or wait_pair_s after the first one (one foot). Several
 *     athletes stream at once. usb_hub_stop finishes an athlete's session (summary, catalog) and
 *     stops its pods; usb_hub_start begins a new one (pods already connected join at once).
 *   - sync: when a pod is plugged in (sync on) or on usb_hub_sync, its live stream (if any) is
 *     paused, its stored runs are listed, and every run not yet synced (hooks.run_synced) is
 *     downloaded, verified and written to a recording (usb_sync.h) named after the athlete; each
 *     recording is then handed to the daemon as a replay source (hooks.add_source with the run) to
 *     be analysed through the same session path as any replay. The left and right runs of one
 *     outing (same athlete, overlapping by at least half of the shorter run) are merged into one
 *     recording of both feet and handed out as ONE source (run_id2 set): a run is held while the
 *     athlete's other pod is still syncing; a run whose other foot was synced earlier alone is
 *     merged with that session's recording (hooks.find_synced; run.supersedes). daemon/USB.md.
 *     Once the daemon has catalogued it, it calls usb_hub_run_done (for each run of the source),
 *     and only then (erase on) is the run erased on the pod. When the pod has nothing left to
 *     sync, its live stream resumes.
 * Unpaired pods join default_athlete (e.g. "usb1") while that athlete has no pod of that foot;
 * with no default athlete, or when the foot is taken, they are listed as "unpaired" and neither
 * streamed nor analysed until assigned.
 * Clock: each live frame's t_dev_us is mapped onto the session header's clock offset with the
 * pod's latest sync and drift estimate (usb_pod_host_us), so drift is corrected and a replugged
 * pod (clock restarted) stays on the session's time base; such frames are re-encoded (CRC
 * recomputed) before recording. A replugged pod of a session resumes streaming; a
 * REP_ACK(START_STREAM) is fed to the session first, which restarts the decoder's sequence
 * numbering (in the recording too).
 * Not thread-safe: everything runs in the daemon loop's thread.
 */
#ifndef GAITD_SRC_USB_H
#define GAITD_SRC_USB_H
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "loop.h"
#include "source.h"
#include "usb_pod.h"

typedef struct usb_hub usb_hub_t;

enum usb_hub_err {
    USB_HUB_OK = 0,
    USB_HUB_ERR_NOT_FOUND = -1, /* no such pod / athlete session */
    USB_HUB_ERR_BUSY = -2,      /* already running / syncing */
    USB_HUB_ERR_ARG = -3,       /* bad serial, athlete or foot */
    USB_HUB_ERR_STATE = -4,     /* not possible now (e.g. sync disabled: no data directory) */
};

/* A synced run handed to the daemon for analysis, or the two runs (left, right) of one outing
 * merged into one recording of both feet (run_id2 != 0). */
typedef struct usb_hub_run {
    char serial[POD_SERIAL_LEN];
    uint32_t run_id;
    const char *path; /* its recording (valid during the hook) */
    char serial2[POD_SERIAL_LEN]; /* merged: the right foot's pod and run, else "" and 0 */
    uint32_t run_id2;
    const char *parts[2];         /* merged: the two one-pod recordings (valid during the hook) */
    int64_t supersedes;           /* merged with an earlier one-foot session (catalog id; its
                                     run is synced already), else 0 */
} usb_hub_run_t;

typedef struct usb_hub_hooks {
    void *ud;
    /* A new source for the daemon to run and own: a live athlete session (run NULL) or the
     * analysis of a synced run's recording. */
    void (*add_source)(void *ud, const source_t *src, const usb_hub_run_t *run);
    /* 1 if run_id of serial was synced already (catalog), else 0. May be NULL. */
    int (*run_synced)(void *ud, const char *serial, uint32_t run_id);
    /* The session of a live source handed out by add_source was created (before any data).
     * May be NULL. */
    void (*session_started)(void *ud, const source_t *src);
    /* A pod was identified (catalog: last seen). May be NULL. */
    void (*pod_seen)(void *ud, const char *serial);
    /* Earlier one-foot synced sessions of athlete overlapping [start_us, end_us) (catalog):
     * cb(id, recording, user) per session, newest first, until cb returns non-zero. Returns 1
     * if cb stopped it, else 0. May be NULL. */
    int (*find_synced)(void *ud, const char *athlete, int64_t start_us, int64_t end_us,
                       int (*cb)(int64_t id, const char *recording, void *user), void *user);
} usb_hub_hooks_t;

typedef struct usb_hub_cfg {
    loop_t *loop;                /* the daemon's loop (borrowed) */
    usb_host_cfg_t usb;          /* usb_host_cfg_default */
    int live;                    /* stream connected pods into live sessions automatically */
    int sync;                    /* sync stored runs when a pod is plugged in */
    int erase;                   /* erase a run on the pod once it is synced and catalogued */
    const char *sync_dir;        /* recordings of synced runs (NULL: syncing impossible) */
    const char *default_athlete; /* athlete of unpaired pods, NULL or "" = none (copied) */
    double wait_pair_s;          /* wait for the second foot, default 3 */
} usb_hub_cfg_t;

/* Starts the USB host. env is copied (its pub/lg borrowed). Returns NULL with a message in err.
 * Caller owns the hub; free it (usb_hub_free) before the sources it handed out. */
usb_hub_t *usb_hub_new(const usb_hub_cfg_t *cfg, const source_env_t *env,
                       const usb_hub_hooks_t *hooks, char *err, size_t errcap);
/* Stops the streams, closes the pods (unfinished sync recordings kept as .partial), frees *h
 * and sets it to NULL. The live sources stay valid (finished) until the daemon frees them. */
void usb_hub_free(usb_hub_t **h);

/* Pairs serial with athlete's foot ('L'/'R') in memory (the caller stores it in the catalog).
 * Takes effect at the pod's next plug-in or its athlete's next `start`. */
int usb_hub_pair(usb_hub_t *h, const char *serial, const char *athlete, char foot);

/* Starts a live session of athlete (pods already connected join). USB_HUB_ERR_BUSY if one is
 * running. */
int usb_hub_start(usb_hub_t *h, const char *athlete);
/* Finishes athlete's live session and stops its pods; no new one starts automatically until
 * usb_hub_start. USB_HUB_ERR_NOT_FOUND if none is running. */
int usb_hub_stop(usb_hub_t *h, const char *athlete);
/* Syncs pod serial now (NULL: every connected pod). Sets *n to the pods whose sync began.
 * USB_HUB_ERR_NOT_FOUND (not connected), USB_HUB_ERR_BUSY (already syncing),
 * USB_HUB_ERR_STATE (no sync directory). */
int usb_hub_sync(usb_hub_t *h, const char *serial, int *n);
/* The daemon has analysed and catalogued run_id of serial (ok) or failed to: the run is erased
 * on the pod if ok and erase is on, and the pod goes back to live streaming when it has nothing
 * else to sync. */
void usb_hub_run_done(usb_hub_t *h, const char *serial, uint32_t run_id, int ok);
/* Erases run_id on pod serial (answer logged): only a run in the catalog (hooks.run_synced) and
 * verified by this gaitd. USB_HUB_ERR_NOT_FOUND (pod not connected or run not listed),
 * USB_HUB_ERR_BUSY (streaming, reading or syncing), USB_HUB_ERR_STATE (not synced, or not
 * verified here). */
int usb_hub_erase(usb_hub_t *h, const char *serial, uint32_t run_id);
/* 1 while a sync is in progress on any pod. */
int usb_hub_busy(const usb_hub_t *h);

/* JSON of the pods (connected now, seen earlier, or paired): [{serial, foot, athlete, paired,
 * state, connected, streaming, rate_hz, acc_range_g, gyr_range_dps, firmware, clock{...},
 * counters{...}, runs_stored}]. New reference. */
json_t *usb_hub_pods_json(usb_hub_t *h);
/* Short per-pod status for the daemon's `status`: [{serial, state, connected, faults{crc,
 * truncated, bytes_skipped, gaps, frames_lost, duplicates, reordered, out_of_order, rejected,
 * stalls, unplugs}, and "refused": "<field> <value> (expected ...)" for a pod refused for its
 * identify reply}] of every pod seen. New reference. */
json_t *usb_hub_status_json(usb_hub_t *h);
/* JSON of serial's stored runs as last listed: {"serial","listed","runs":[{run_id,
 * start_unix_us, start_utc, frames, crc32, synced}]}, or NULL if the pod was never
 * seen. New reference. */
json_t *usb_hub_runs_json(usb_hub_t *h, const char *serial);

#endif
