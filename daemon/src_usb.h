/* src_usb.h - live USB foot pods (daemon/usb_pod.h) as one athlete session (`gaitd --usb`).
 *
 * The USB host watches for pods from the daemon's loop. Identified pods are paired: the session
 * is created when a left and a right pod are identified, or wait_pair_s after the first one (one
 * foot only). Its header holds each pod's serial, foot, rate, ranges and clock offset (the
 * attach-time sync); then the pods are told to stream and every sample frame goes through
 * session_feed_frame (recorded, decoded, analysed like any source).
 * Clock: each frame's t_dev_us is mapped onto the header's clock offset with the pod's latest
 * sync and drift estimate (usb_pod_host_us), so drift is corrected and a pod that was unplugged
 * and plugged back (its clock restarted) stays on the session's time base; such frames are
 * re-encoded (CRC recomputed) before recording. A replugged pod of the session resumes streaming
 * (done by usb_pod); a REP_ACK(START_STREAM) is fed to the session first, which restarts the
 * decoder's sequence numbering, in the recording too. Pods of other serials are ignored.
 * The source never ends by itself: --duration (data seconds) or a signal ends it.
 */
#ifndef GAITD_SRC_USB_H
#define GAITD_SRC_USB_H
#include <stddef.h>
#include "loop.h"
#include "source.h"
#include "usb_pod.h"

typedef struct src_usb_cfg {
    const char *athlete;         /* e.g. "usb1" (copied) */
    loop_t *loop;                /* the daemon's loop (borrowed): libusb fds and timers */
    double wait_pair_s;          /* wait for the second foot after the first pod, default 3 */
    usb_host_cfg_t usb;          /* USB host settings (usb_host_cfg_default) */
} src_usb_cfg_t;

/* Starts watching for pods. Fills *src and returns 0, or -1 with a message in err. Caller owns
 * *src (src->ops->free(src->impl)). */
int src_usb_new(source_t *src, const src_usb_cfg_t *cfg, const source_env_t *env, char *err,
                size_t errcap);

#endif
