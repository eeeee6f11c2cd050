/* umockpod.h - an emulated gaitd foot pod on umockdev, for tests of the libusb path.
 *
 * A umockdev testbed (created in the test process, which runs under `umockdev-wrapper`, or any
 * process with libumockdev-preload) holds a root hub and any number of pods. Each pod enumerates
 * with the descriptors of POD-PROTOCOL.md section 1 (VID 0x1209 PID 0x0001, vendor interface 0,
 * bulk 0x81 IN / 0x01 OUT, string descriptors), and answers the usbdevfs ioctls libusb issues
 * (GET_CAPABILITIES, CLAIM/RELEASEINTERFACE, SUBMITURB, REAPURB(NDELAY), DISCARDURB, CONTROL URBs
 * for string descriptors) from code: every protocol command is answered with proto/pod.h's encoder,
 * live sample frames come from the kinematic simulator (daemon/sim.h) through dsp_si_to_raw, and
 * stored runs (generated at creation) can be listed, read from any frame index and erased.
 *
 * The ioctl handler runs in umockdev's worker thread; every function here takes the pod's lock,
 * so tests call them from their own thread while libusb runs.
 *
 * Data pacing: IN URBs are filled with as many queued bytes as fit (frames span URBs, as on the
 * wire); a transfer ends short when nothing more is queued. Live frames are produced at
 * `speed` x real time (0: as fast as the host reaps, which fills every 16 KiB URB).
 *
 * Host process gone: URBs left queued by a process that died (e.g. gaitd killed with SIGKILL)
 * are dropped when the next one claims the interface; the pod itself goes on (stream, run
 * read) and the next process finds it as it is.
 *
 * Plug / unplug: umockpod_plug powers the pod up (new device number, fresh clock, streaming off;
 * stored runs persist) and sends an "add" uevent; umockpod_unplug sends "remove" and removes the
 * device; URBs still in flight then complete with -ESHUTDOWN (libusb: LIBUSB_TRANSFER_NO_DEVICE)
 * and later ioctls fail with ENODEV, as the kernel does.
 */
#ifndef GAITD_UMOCKPOD_H
#define GAITD_UMOCKPOD_H
#include <stdint.h>
#include "pod.h"

typedef struct umockpod_bed umockpod_bed_t;
typedef struct umockpod umockpod_t;

#define UMOCKPOD_MAX_RUNS 8

typedef struct umockpod_cfg {
    char serial[POD_SERIAL_LEN];
    uint8_t foot;                /* 'L' or 'R' */
    uint16_t rate_hz;            /* default 500 */
    uint16_t acc_range_g;        /* default 16 */
    uint16_t gyr_range_dps;      /* default 2000 */
    unsigned frame_samples;      /* samples per frame, default 25 */
    double speed;                /* live data rate / real time; 0 = as fast as URBs are reaped */
    uint64_t seed;               /* simulator seed */
    int64_t boot_us;             /* pod clock at power-up, default 5 s */
    double drift_ppm;            /* pod clock rate error, default 0 */
    unsigned n_runs;             /* stored runs at creation, <= UMOCKPOD_MAX_RUNS */
    double run_s;                /* length of each stored run, default 20 s */
    double run_t0_s;             /* added to the stored runs' start times (default 0: run i of
                                    every pod starts at the same time, as the two pods of one
                                    runner's outing do) */
    double read_speed;           /* stored-run frames sent at this x real time, 0 = as fast as
                                    URBs are reaped (default) */
    /* Misbehaviour: the REP_IDENTIFY reply carries these raw values instead of the real rate
     * and ranges when id_override is set (any value, e.g. rate 0 or 65535: encoded by hand) */
    int id_override;
    uint16_t id_rate_hz, id_acc_range_g, id_gyr_range_dps;
} umockpod_cfg_t;

typedef struct umockpod_stats {
    uint64_t frames_sent;        /* sample frames whose last byte went out in a completed IN URB */
    uint64_t live_frames_sent;
    uint64_t run_frames_sent;
    uint64_t frames_dropped;     /* misbehaviour: frames skipped (seq advanced, not sent) */
    uint64_t frames_corrupted;   /* misbehaviour: frames sent with a damaged byte */
    uint64_t frames_truncated;   /* misbehaviour: frames cut short (only their first bytes sent) */
    uint64_t frames_duplicated;  /* misbehaviour: frames sent a second time */
    uint64_t frames_reordered;   /* misbehaviour: frame pairs sent swapped */
    uint64_t frames_valid;       /* distinct undamaged sample frames completely sent (a duplicate
                                    counts once; corrupted and truncated ones not at all) */
    uint64_t live_frames_valid, run_frames_valid;
    unsigned hangs;              /* misbehaviour: times the pod stopped answering */
    unsigned cmds_hung;          /* commands swallowed while hung */
    uint64_t urbs_in, urbs_out;  /* completed URBs */
    uint64_t bytes_in;           /* bytes sent to the host */
    unsigned cmds[8];            /* commands received, by type 1..7 */
    unsigned cmds_ignored;       /* misbehaviour: commands not answered */
    unsigned plugs;              /* times plugged */
    int plugged, streaming, reading, stalled, hung;
    unsigned n_runs;             /* runs stored now */
    uint32_t read_first;         /* first_frame of the latest READ_RUN accepted */
} umockpod_stats_t;

/* The simulator configuration behind a pod's live stream (for reference comparisons): sample k
 * of the stream after power-on is sample k of sim_new(sc)'s foot cfg->foot. */
struct sim_config;
void umockpod_sim_config(const umockpod_cfg_t *cfg, struct sim_config *sc);

/* Fills c with defaults for a pod with this serial and foot. */
void umockpod_cfg_default(umockpod_cfg_t *c, const char *serial, uint8_t foot);

/* Creates the testbed (sets $UMOCKDEV_DIR) with a root hub. Call before libusb_init. NULL when
 * not running under umockdev's preload library. Caller owns it. */
umockpod_bed_t *umockpod_bed_new(void);
/* Frees the testbed; every pod must have been freed. Sets *b to NULL. */
void umockpod_bed_free(umockpod_bed_t **b);

/* Creates a pod (not plugged yet) on bed. Caller owns it (umockpod_free, before the bed). */
umockpod_t *umockpod_new(umockpod_bed_t *bed, const umockpod_cfg_t *cfg);
/* Unplugs the pod if plugged and frees it. Sets *p to NULL. */
void umockpod_free(umockpod_t **p);

/* Power-up and attach: a new device node, "add" uevent. */
void umockpod_plug(umockpod_t *p);
/* Detach: "remove" uevent, device removed; in-flight URBs end with -ESHUTDOWN. */
void umockpod_unplug(umockpod_t *p);

/* Misbehaviour: damage one byte of (corrupt) or skip (drop) the nth sample frame produced from
 * now on (0 = the next one). One pending order of each kind. */
void umockpod_corrupt_frame(umockpod_t *p, unsigned nth);
void umockpod_drop_frame(umockpod_t *p, unsigned nth);
/* Stops producing sample data once this many frames in total have been queued (0 = off): the
 * pod hangs mid-stream / mid-run with transfers in flight, e.g. to unplug it at a known point.
 * Cleared by umockpod_plug. */
void umockpod_stall_after(umockpod_t *p, uint64_t frames_total);
/* Misbehaviour on the nth sample frame produced from now on (0 = the next one), one pending
 * order of each kind: send only its first keep bytes, then go on with the next frame
 * (truncate); send it twice in a row (duplicate); send frames n and n + 1 swapped (swap). */
void umockpod_truncate_frame(umockpod_t *p, unsigned nth, unsigned keep);
void umockpod_duplicate_frame(umockpod_t *p, unsigned nth);
void umockpod_swap_frames(umockpod_t *p, unsigned nth);
/* A pod that stops answering while plugged: once this many sample frames in total have been
 * queued (0 = now), IN URBs stay pending (nothing more is sent, not even replies) and commands
 * are swallowed. umockpod_hang(p, 0) ends it: the pod goes on where it was (a live stream
 * continues without a burst of the frames it missed); umockpod_hang(p, 2) ends it with a
 * firmware restart instead (queued bytes lost, streaming and reads stopped, clock restarted,
 * still plugged); umockpod_plug ends it too. */
void umockpod_hang_after(umockpod_t *p, uint64_t frames_total);
void umockpod_hang(umockpod_t *p, int on);
/* Ignores the next n commands (as if lost on the wire): tests the host's timeouts and retries. */
void umockpod_ignore_commands(umockpod_t *p, unsigned n);

/* Stores one more run of cfg.run_s seconds, as if recorded during the last cfg.run_s seconds
 * (e.g. while unplugged: the runner went out with it). Returns its run id, or -1 when full. */
int umockpod_add_run(umockpod_t *p);

void umockpod_stats(umockpod_t *p, umockpod_stats_t *s);
/* Info of stored run i (oldest first). Returns 0, or -1 if there is no such run. */
int umockpod_run(umockpod_t *p, unsigned i, pod_run_info_t *info);
/* Payload bytes of frame k of stored run i (for comparing with what the host received).
 * Returns the length, 0 if out of range. */
size_t umockpod_run_frame(umockpod_t *p, unsigned i, uint32_t k, uint8_t *buf, size_t cap);
/* Device node of the current (or last) plug, e.g. "/dev/bus/usb/001/002". */
const char *umockpod_devnode(umockpod_t *p);

#endif
