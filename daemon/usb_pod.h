/* usb_pod.h - gaitd's USB foot pods over libusb-1.0, driven by the daemon's event loop.
 *
 * A usb_host owns one libusb context. Its pollfds are registered with loop_add_fd (and followed
 * with libusb_set_pollfd_notifiers); when one is ready the host calls
 * libusb_handle_events_timeout_completed with a zero timeout. If libusb's fds do not carry its
 * timeouts (libusb_pollfds_handle_timeouts() == 0) a loop timer is armed from
 * libusb_get_next_timeout. Nothing here sleeps or spins.
 *
 * Pods (VID 0x1209 PID 0x0001, proto/POD-PROTOCOL.md) are found by hotplug callback (or, when
 * libusb has no hotplug support, by enumerating every enum_period_ms). For each pod the host
 * claims interface 0, keeps n_transfers bulk IN transfers of transfer_size bytes in flight, and
 * runs the protocol: IDENTIFY, then clock sync (clock_exchanges exchanges, the one with the
 * smallest round trip kept; repeated every resync_period_ms while streaming to track drift), then
 * reports the pod with the `added` callback. The bytes of every IN transfer go to a pod_stream_t
 * (proto/pod.h): this module never parses bytes itself.
 *
 * Jobs (one at a time per pod): live streaming (usb_pod_start_stream / usb_pod_stop_stream), or
 * reading a stored run (usb_pod_read_run). Run frames are delivered exactly once and in order
 * (frame index = seq); their CRC-32 is accumulated across resumed transfers and checked against
 * REP_RUN_END (and REP_RUNS when listed) before `run_done` reports USB_POD_OK. Erasing a run
 * (usb_pod_erase_run) is refused unless that run was verified here; the caller asks for it only
 * after its own copy is complete and fsynced.
 *
 * Unplug: in-flight transfers end (LIBUSB_TRANSFER_NO_DEVICE or cancelled after the hotplug
 * "left" event); once all are back, the bytes received so far are flushed through the decoder
 * (pod_stream_finish), their frames delivered, and `removed` is called. The host remembers, per
 * serial, the job that was running: when the same pod comes back it is identified and synced
 * again, then its stream is restarted, or its run read resumes from the number of frames already
 * delivered (`added` with resumed = 1).
 *
 * Commands are retried after cmd_timeout_ms, at most cmd_retries times (POD-PROTOCOL.md 5).
 * Not thread-safe: everything runs in the loop's thread. Callbacks may call any usb_pod_*
 * function on any pod, but must not free the host.
 */
#ifndef GAITD_USB_POD_H
#define GAITD_USB_POD_H
#include <stddef.h>
#include <stdint.h>
#include "log.h"
#include "loop.h"
#include "pod.h"

typedef struct usb_host usb_host_t;
typedef struct usb_pod usb_pod_t;

/* Return codes: 0 or a negative usb_pod_err. */
enum usb_pod_err {
    USB_POD_OK = 0,
    USB_POD_ERR_LIBUSB = -1,        /* a libusb call failed (logged with its libusb error) */
    USB_POD_ERR_GONE = -2,          /* the pod was unplugged or is closing */
    USB_POD_ERR_STATE = -3,         /* not now: not identified yet, or another job is running */
    USB_POD_ERR_TIMEOUT = -4,       /* no answer after the retries */
    USB_POD_ERR_NACK = -5,          /* the pod answered with an error status (see the log) */
    USB_POD_ERR_VERIFY = -6,        /* run frame count or CRC-32 does not match the pod's */
    USB_POD_ERR_NOT_VERIFIED = -7,  /* erase of a run that was not read and verified here */
};
/* Static English text of a usb_pod_err. */
const char *usb_pod_strerror(int code);

enum usb_pod_state {
    USB_POD_IDENTIFYING = 0,     /* opened, waiting for REP_IDENTIFY */
    USB_POD_SYNCING = 1,         /* first clock sync */
    USB_POD_READY = 2,           /* reported with `added`, no job */
    USB_POD_STREAMING = 3,
    USB_POD_READING = 4,         /* reading a stored run */
    USB_POD_GONE = 5,            /* unplugged / closing: waiting for its transfers */
};

typedef struct usb_pod_info {
    pod_identify_t id;           /* serial, foot, firmware, rate, ranges */
    uint8_t bus, address;
    int64_t clock_offset_us;     /* host_us (CLOCK_REALTIME) = pod_us + clock_offset_us */
    int64_t clock_rtt_us;        /* round trip of the exchange kept (offset error <= rtt / 2) */
    uint64_t clock_ref_pod_us;   /* pod clock when that offset was measured */
    double drift_ppm;            /* pod clock rate error, from the first and latest syncs */
    unsigned clock_syncs;        /* syncs done on this attachment */
} usb_pod_info_t;

typedef struct usb_pod_counters {
    pod_stream_stats_t stream;   /* decoder counters of this attachment (CRC errors, gaps ...) */
    uint64_t transfers_in;       /* completed IN transfers */
    uint64_t bytes_in;
    uint64_t live_frames;        /* live frames delivered */
    uint64_t run_frames;         /* run frames delivered (each index once) */
    uint64_t run_discarded;      /* run frames received out of sequence and dropped */
    uint64_t run_resumes;        /* READ_RUN re-sent to resume a transfer */
    uint64_t retries;            /* commands re-sent after a timeout */
    uint64_t stalls;             /* times the pod stopped answering while plugged */
    uint64_t recoveries;         /* stalls recovered (identified again, job resumed) */
} usb_pod_counters_t;

typedef struct usb_pod_cbs {
    /* The pod is identified and its clock synced (usb_pod_info). resumed = 1 when an interrupted
     * job of the same serial has just been restarted. */
    void (*added)(void *ud, usb_pod_t *pod, int resumed);
    /* A sample frame: live (f->run_id 0) in order with gaps counted, or the next frame of the run
     * being read (f->seq = frame index). wire: the frame's bytes as received (header to CRC). */
    void (*frame)(void *ud, usb_pod_t *pod, const pod_samples_t *f, const uint8_t *wire,
                  size_t len);
    /* Answer of usb_pod_list_runs. */
    void (*runs)(void *ud, usb_pod_t *pod, const pod_runs_t *runs);
    /* The read of run_id ended: USB_POD_OK when every frame arrived and count and CRC-32 match;
     * USB_POD_ERR_VERIFY (the host forgets the run's progress: read it again from frame 0),
     * USB_POD_ERR_NACK, USB_POD_ERR_TIMEOUT otherwise. */
    void (*run_done)(void *ud, usb_pod_t *pod, uint32_t run_id, int status);
    /* Answer of usb_pod_erase_run: USB_POD_OK or an error. */
    void (*erased)(void *ud, usb_pod_t *pod, uint32_t run_id, int status);
    /* A command failed (cmd = POD_CMD_*; timeout or NACK) outside the cases above. */
    void (*cmd_failed)(void *ud, usb_pod_t *pod, unsigned cmd, int status);
    /* The pod is gone (unplug, I/O error, host shutdown): every frame received has been
     * delivered. The pod is freed after this returns. Only for pods reported by `added` or
     * `refused`. */
    void (*removed)(void *ud, usb_pod_t *pod);
    /* A reported pod stopped answering while plugged (no data for stall_timeout_ms while
     * streaming, a run read without progress, or a command unanswered after its retries): its
     * transfers are cancelled (the frames received so far delivered), then it is identified
     * again every stall_retry_ms until it answers; its job then resumes as after a replug
     * (`added` with resumed = 1; a read from the frames held). Commands queued are dropped
     * (no callback). May be NULL. */
    void (*stalled)(void *ud, usb_pod_t *pod, const char *why);
    /* The pod answered IDENTIFY with values out of range (rate, ranges, foot, serial): it is
     * refused and never used (no `added`); id holds the raw values, why names the first bad
     * field and its value ("rate_hz 0 (expected 50..2000)"). May be NULL. */
    void (*refused)(void *ud, usb_pod_t *pod, const pod_identify_t *id, const char *why);
} usb_pod_cbs_t;

typedef struct usb_host_cfg {
    unsigned n_transfers;        /* IN transfers in flight per pod, default 4 (max 16) */
    unsigned transfer_size;      /* bytes per IN transfer, multiple of 64, default 16384 */
    int force_enum_poll;         /* enumerate periodically even if hotplug is available */
    int64_t enum_period_ms;      /* default 1000 */
    int64_t cmd_timeout_ms;      /* default 500 */
    unsigned cmd_retries;        /* default 3 */
    unsigned clock_exchanges;    /* default 8 */
    int64_t resync_period_ms;    /* while streaming, default 10000; 0 = never */
    int64_t stall_timeout_ms;    /* streaming pod silent this long (at least 4 frame periods):
                                    stalled, default 2000; <= 0: default */
    int64_t stall_retry_ms;      /* identify a stalled pod again this often, default 2000 */
} usb_host_cfg_t;

void usb_host_cfg_default(usb_host_cfg_t *c);

/* Creates the libusb context, registers its fds with loop and starts watching for pods (pods
 * already plugged are reported through the callbacks from the loop). loop, cbs and lg are
 * borrowed and must outlive the host. Returns NULL with a message in err. Caller owns the host. */
usb_host_t *usb_host_new(loop_t *loop, const usb_host_cfg_t *cfg, const usb_pod_cbs_t *cbs,
                         void *ud, const log_t *lg, char *err, size_t errcap);
/* Asks streaming pods to stop (waits at most 0.5 s for their acks), then closes every pod
 * (transfers cancelled and drained, `removed` called for reported pods), stops watching and frees
 * the host. Blocks at most ~2.5 s in all. Sets *h to NULL. */
void usb_host_free(usb_host_t **h);
/* 1 when pods are found by hotplug events, 0 when by periodic enumeration. */
int usb_host_uses_hotplug(const usb_host_t *h);
/* Fills out with up to max attached pods (reported or not); returns the number attached. */
unsigned usb_host_pods(usb_host_t *h, usb_pod_t **out, unsigned max);

const usb_pod_info_t *usb_pod_info(const usb_pod_t *p);
int usb_pod_state(const usb_pod_t *p);
/* 1 while the pod is recovering from a stall (see usb_pod_cbs_t.stalled). */
int usb_pod_stalled(const usb_pod_t *p);
/* Why the pod was refused ("" if it was not). */
const char *usb_pod_refused(const usb_pod_t *p);
void usb_pod_counters(const usb_pod_t *p, usb_pod_counters_t *c);
/* A pointer the caller attaches to the pod (e.g. its session slot). */
void usb_pod_set_user(usb_pod_t *p, void *user);
void *usb_pod_user(const usb_pod_t *p);

/* Starts / stops live streaming. 0 when the command is queued, or an error. */
int usb_pod_start_stream(usb_pod_t *p);
int usb_pod_stop_stream(usb_pod_t *p);
/* Asks for the stored runs (answered through `runs`). */
int usb_pod_list_runs(usb_pod_t *p);
/* Reads stored run run_id, from frame 0 or from where an earlier read of this run by this host
 * (this attachment or an earlier one of the same serial) stopped. Ends with `run_done`. */
int usb_pod_read_run(usb_pod_t *p, uint32_t run_id);
/* Reads stored run run_id from frame first_frame on: the caller already holds frames
 * 0 .. first_frame - 1 in order (a copy left by an earlier process), and crc is the CRC-32 of
 * their payloads (proto_crc32_update over each frame's bytes POD_HEADER_LEN .. len -
 * POD_FRAME_OVERHEAD, as received). The run is verified as a whole at its end (frame count and
 * CRC of every frame, the held ones included), so a held copy that differs from the pod's run
 * fails the verification (run_done(USB_POD_ERR_VERIFY)) and is never erased. first_frame must
 * not exceed the run's frame count. Ends with `run_done`. */
int usb_pod_read_run_from(usb_pod_t *p, uint32_t run_id, uint32_t first_frame, uint32_t crc);
/* Erases run_id on the pod. Only for a run whose read ended with run_done(USB_POD_OK) in this
 * host (else USB_POD_ERR_NOT_VERIFIED), and only once the caller's copy is complete and synced
 * to disk. Ends with `erased`. While the pod recovers from a stall the erase is sent once it
 * answers again (dropped, without `erased`, if it leaves or stalls again first). */
int usb_pod_erase_run(usb_pod_t *p, uint32_t run_id);
/* Host time (CLOCK_REALTIME us) of pod time pod_us: the latest offset, corrected for the
 * estimated drift since it was measured. For rec_pod_t.clock_offset_us of a frame:
 * usb_pod_host_us(p, t_dev_us) - t_dev_us. */
int64_t usb_pod_host_us(const usb_pod_t *p, uint64_t pod_us);
/* Starts a clock sync now (also done at attach and periodically while streaming). */
int usb_pod_clock_sync(usb_pod_t *p);

#endif
