/* usb_pod.c - libusb pods in the daemon's event loop (see usb_pod.h).
 *
 * Layout: host (context, pollfds, hotplug / enumeration, deferred work), pod life cycle (open,
 * transfers, gone, finish), command engine (one command in flight, timeout and retries), message
 * dispatch (identify, clock sync, acks, runs), jobs (stream, read run, erase).
 * Deferred work: libusb callbacks (hotplug, transfers) only record what happened; opening new
 * pods and closing finished ones is done in host_after_events, outside libusb's event handling.
 */
#define LOG_PREFIX "usb"
#include "usb_pod.h"
#include <libusb.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <zmq.h>
#include "alloc.h"
#include "crc.h"
#include "proto.h"

#define MAX_IN 16
#define MAX_FDS 32
#define CMDQ 16
#define TICK_MS 50
#define OUT_TIMEOUT_MS 1000
#define CLOSE_WAIT_US 2000000
#define STOP_WAIT_US 500000

enum job { JOB_NONE = 0, JOB_STREAM = 1, JOB_READ = 2 };

/* What the host remembers of a serial across unplugs. */
typedef struct memo {
    char serial[POD_SERIAL_LEN];
    int job;                     /* job running when the pod was last seen */
    uint32_t run_id;             /* run with read progress (0 = none) */
    uint32_t held;               /* frames of run_id delivered in order */
    uint32_t crc;                /* CRC-32 of their payloads */
    uint32_t verified[POD_MAX_RUNS];
    unsigned n_verified;
    pod_runs_t runs;             /* latest REP_RUNS */
    int have_runs;
} memo_t;

typedef struct cmd {
    uint8_t type;
    uint32_t a, b;               /* READ_RUN: run, first frame; ERASE_RUN: run */
} cmd_t;

typedef struct hp_event {
    libusb_device *dev;          /* referenced */
    int arrived;
} hp_event_t;

struct usb_pod {
    usb_pod_t *next;
    usb_host_t *host;
    libusb_device *dev;          /* referenced */
    libusb_device_handle *h;
    int claimed;
    int state;
    int reported;                /* `added` was called */
    struct libusb_transfer *in[MAX_IN];
    int in_busy[MAX_IN];
    unsigned n_in, in_flight;
    struct libusb_transfer *out;
    uint8_t outbuf[64];
    int out_flight;
    int tick_timer;
    pod_stream_t st;
    usb_pod_info_t info;
    usb_pod_counters_t cnt;
    /* commands */
    cmd_t q[CMDQ];
    unsigned qh, qn;
    int cur_active;
    unsigned cur_tries;
    int64_t cur_deadline_us;     /* monotonic */
    uint64_t cur_host_us;        /* CLOCK_SYNC: host time sent */
    /* clock */
    int syncing;
    unsigned sync_left;
    int64_t best_rtt, best_off;
    uint64_t best_pod_us;
    int have_first;
    int64_t first_host_us, first_off;
    int64_t next_resync_us;
    /* job */
    int job;
    memo_t *memo;
    uint32_t read_run;
    int64_t last_progress_us;
    uint32_t held_at_resume;
    unsigned stuck_resumes;
    /* stalls (pod silent while plugged) */
    int64_t last_rx_us;         /* monotonic time of the last IN bytes */
    int64_t frame_period_us;    /* of the last live frame */
    int stalled;                /* recovering: re-identifying until it answers */
    int recover_wait;           /* waiting for the cancelled IN transfers */
    int64_t next_recover_us;    /* next IDENTIFY while it does not answer */
    unsigned stall_no_progress; /* read stalls in a row without a new frame held */
    uint32_t held_at_stall;
    uint64_t rej_seen;                  /* stream `rejected` count already looked at */
    char refused[160];                  /* why the identify reply was refused ("" = not) */
    uint32_t erase_later[POD_MAX_RUNS]; /* erases asked for during a stall: sent on recovery */
    unsigned n_erase_later;
    void *user;
    pod_msg_t msg;               /* scratch for the decoder */
    uint8_t wire[POD_MAX_FRAME];
};

typedef struct host_fd {
    int fd;
    int id;
} host_fd_t;

struct usb_host {
    loop_t *loop;
    usb_host_cfg_t cfg;
    usb_pod_cbs_t cbs;
    void *ud;
    const log_t *lg;
    libusb_context *ctx;
    host_fd_t fds[MAX_FDS];
    unsigned n_fds;
    int hotplug;
    libusb_hotplug_callback_handle hp;
    int enum_timer, usb_timer, kick_timer;
    usb_pod_t *pods;
    hp_event_t *events;
    size_t n_events, cap_events;
    memo_t **memos;
    size_t n_memos;
    int closing;
};

static void pod_gone(usb_pod_t *p, const char *why);
static void cmd_send_next(usb_pod_t *p);
static int cmd_is(const usb_pod_t *p, uint8_t type);
static void recover_restart(usb_pod_t *p);
static int cmd_push(usb_pod_t *p, uint8_t type, uint32_t a, uint32_t b);
static void host_after_events(usb_host_t *h);

const char *usb_pod_strerror(int code)
{
    switch (code) {
    case USB_POD_OK: return "ok";
    case USB_POD_ERR_LIBUSB: return "libusb error";
    case USB_POD_ERR_GONE: return "pod gone";
    case USB_POD_ERR_STATE: return "not allowed in the pod's state";
    case USB_POD_ERR_TIMEOUT: return "no answer from the pod";
    case USB_POD_ERR_NACK: return "pod refused the command";
    case USB_POD_ERR_VERIFY: return "run frame count or CRC mismatch";
    case USB_POD_ERR_NOT_VERIFIED: return "run not read and verified";
    default: return "unknown error";
    }
}

void usb_host_cfg_default(usb_host_cfg_t *c)
{
    memset(c, 0, sizeof *c);
    c->n_transfers = 4;
    c->transfer_size = 16384;
    c->force_enum_poll = 0;
    c->enum_period_ms = 1000;
    c->cmd_timeout_ms = 500;
    c->cmd_retries = 3;
    c->clock_exchanges = 8;
    c->resync_period_ms = 10000;
    c->stall_timeout_ms = 2000;
    c->stall_retry_ms = 2000;
}

static int64_t now_rt_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* ---- memo ---- */

static memo_t *memo_get(usb_host_t *h, const char *serial)
{
    for (size_t i = 0; i < h->n_memos; i++)
        if (!strncmp(h->memos[i]->serial, serial, POD_SERIAL_LEN))
            return h->memos[i];
    h->memos = xrealloc(h->memos, (h->n_memos + 1) * sizeof *h->memos);
    memo_t *m = xcalloc(1, sizeof *m);
    memcpy(m->serial, serial, POD_SERIAL_LEN);
    m->serial[POD_SERIAL_LEN - 1] = '\0';
    h->memos[h->n_memos++] = m;
    return m;
}

static int memo_verified(const memo_t *m, uint32_t run)
{
    for (unsigned i = 0; i < m->n_verified; i++)
        if (m->verified[i] == run)
            return 1;
    return 0;
}

static void memo_set_verified(memo_t *m, uint32_t run, int on)
{
    for (unsigned i = 0; i < m->n_verified; i++) {
        if (m->verified[i] != run)
            continue;
        if (!on)
            m->verified[i] = m->verified[--m->n_verified];
        return;
    }
    if (on) {
        if (m->n_verified == POD_MAX_RUNS)
            memmove(m->verified, m->verified + 1, (POD_MAX_RUNS - 1) * sizeof m->verified[0]);
        else
            m->n_verified++;
        m->verified[m->n_verified - 1] = run;
    }
}

/* ---- libusb in the loop ---- */

static void rearm_usb_timer(usb_host_t *h);

static void handle_events_now(usb_host_t *h)
{
    struct timeval tv = {0, 0};
    int rc = libusb_handle_events_timeout_completed(h->ctx, &tv, NULL);
    if (rc < 0 && rc != LIBUSB_ERROR_INTERRUPTED)
        log_warn(h->lg, "libusb_handle_events: %s", libusb_error_name(rc));
    host_after_events(h);
    rearm_usb_timer(h);
}

static void on_usb_fd(loop_t *l, void *ud, short revents)
{
    (void)l;
    (void)revents;
    handle_events_now(ud);
}

static int64_t on_usb_timer(loop_t *l, void *ud)
{
    usb_host_t *h = ud;
    (void)l;
    h->usb_timer = 0;
    handle_events_now(h);
    return LOOP_TIMER_END;
}

/* Only when libusb's fds do not carry its timeouts (no timerfd): a loop timer at libusb's next
 * timeout. */
static void rearm_usb_timer(usb_host_t *h)
{
    if (h->closing || libusb_pollfds_handle_timeouts(h->ctx))
        return;
    struct timeval tv;
    if (h->usb_timer) {
        loop_del_timer(h->loop, h->usb_timer);
        h->usb_timer = 0;
    }
    if (libusb_get_next_timeout(h->ctx, &tv) == 1) {
        int64_t ms = (int64_t)tv.tv_sec * 1000 + (tv.tv_usec + 999) / 1000;
        h->usb_timer = loop_add_timer(h->loop, ms, on_usb_timer, h);
    }
}

static void LIBUSB_CALL on_pollfd_added(int fd, short events, void *ud)
{
    usb_host_t *h = ud;
    if (h->n_fds == MAX_FDS) {
        log_error(h->lg, "too many libusb fds (%d not watched)", fd);
        return;
    }
    short ev = (short)(((events & POLLIN) ? ZMQ_POLLIN : 0) | ((events & POLLOUT) ? ZMQ_POLLOUT : 0));
    host_fd_t *e = &h->fds[h->n_fds++];
    e->fd = fd;
    e->id = loop_add_fd(h->loop, fd, ev, on_usb_fd, h);
}

static void LIBUSB_CALL on_pollfd_removed(int fd, void *ud)
{
    usb_host_t *h = ud;
    for (unsigned i = 0; i < h->n_fds; i++) {
        if (h->fds[i].fd != fd)
            continue;
        loop_del_io(h->loop, h->fds[i].id);
        h->fds[i] = h->fds[--h->n_fds];
        return;
    }
}

static int64_t on_kick(loop_t *l, void *ud)
{
    usb_host_t *h = ud;
    (void)l;
    h->kick_timer = 0;
    host_after_events(h);
    return LOOP_TIMER_END;
}

/* Runs the deferred work at the next loop iteration. */
static void kick(usb_host_t *h)
{
    if (!h->kick_timer && !h->closing)
        h->kick_timer = loop_add_timer(h->loop, 0, on_kick, h);
}

/* ---- hotplug and enumeration ---- */

static int LIBUSB_CALL on_hotplug(libusb_context *ctx, libusb_device *dev,
                                  libusb_hotplug_event event, void *ud)
{
    usb_host_t *h = ud;
    (void)ctx;
    if (h->n_events == h->cap_events) {
        h->cap_events = h->cap_events ? 2 * h->cap_events : 8;
        h->events = xrealloc(h->events, h->cap_events * sizeof *h->events);
    }
    h->events[h->n_events].dev = libusb_ref_device(dev);
    h->events[h->n_events].arrived = event == LIBUSB_HOTPLUG_EVENT_DEVICE_ARRIVED;
    h->n_events++;
    kick(h);
    return 0;
}

static usb_pod_t *pod_of_dev(usb_host_t *h, libusb_device *dev)
{
    for (usb_pod_t *p = h->pods; p; p = p->next)
        if (p->dev == dev)
            return p;
    return NULL;
}

static void pod_open(usb_host_t *h, libusb_device *dev);

static int64_t on_enum_timer(loop_t *l, void *ud)
{
    usb_host_t *h = ud;
    (void)l;
    libusb_device **list;
    ssize_t n = libusb_get_device_list(h->ctx, &list);
    if (n < 0) {
        log_warn(h->lg, "libusb_get_device_list: %s", libusb_error_name((int)n));
        return h->cfg.enum_period_ms;
    }
    for (usb_pod_t *p = h->pods; p; p = p->next) {
        int seen = 0;
        for (ssize_t i = 0; i < n && !seen; i++)
            seen = list[i] == p->dev;
        if (!seen)
            pod_gone(p, "no longer enumerated");
    }
    for (ssize_t i = 0; i < n; i++) {
        struct libusb_device_descriptor d;
        if (libusb_get_device_descriptor(list[i], &d) != 0 || d.idVendor != POD_USB_VID ||
            d.idProduct != POD_USB_PID || pod_of_dev(h, list[i]))
            continue;
        pod_open(h, list[i]);
    }
    libusb_free_device_list(list, 1);
    host_after_events(h);
    return h->cfg.enum_period_ms;
}

/* ---- pods: transfers and life cycle ---- */

static void deliver(usb_pod_t *p, const pod_msg_t *m)
{
    size_t len;
    if (pod_encode(m, p->wire, sizeof p->wire, &len) != 0)
        return;                  /* cannot happen for a decoded frame */
    usb_host_t *h = p->host;
    if (m->u.samples.run_id) {
        memo_t *mm = p->memo;
        mm->crc = proto_crc32_update(mm->crc, p->wire + POD_HEADER_LEN, len - POD_FRAME_OVERHEAD);
        mm->held++;
        p->cnt.run_frames++;
    } else {
        p->cnt.live_frames++;
        if (m->u.samples.rate_hz)
            p->frame_period_us = (int64_t)m->u.samples.n * 1000000 / m->u.samples.rate_hz;
    }
    if (h->cbs.frame)
        h->cbs.frame(h->ud, p, &m->u.samples, p->wire, len);
}

static void on_message(usb_pod_t *p, const pod_msg_t *m, const pod_stream_report_t *rep);
static void refuse(usb_pod_t *p);

static void drain(usb_pod_t *p)
{
    pod_stream_report_t rep;
    while (pod_stream_next(&p->st, &p->msg, &rep))
        on_message(p, &p->msg, &rep);
    if (p->st.stats.rejected != p->rej_seen) {
        p->rej_seen = p->st.stats.rejected;
        if (p->st.rej_type == POD_REP_IDENTIFY && p->state == USB_POD_IDENTIFYING &&
            cmd_is(p, POD_CMD_IDENTIFY))
            refuse(p);
    }
}

static void feed(usb_pod_t *p, const uint8_t *data, size_t n)
{
    size_t off = 0;
    while (off < n) {
        size_t k = pod_stream_feed(&p->st, data + off, n - off);
        off += k;
        drain(p);
        if (!k && p->st.len == sizeof p->st.buf) {
            log_error(p->host->lg, "%s: decoder stuck, %zu bytes dropped", p->info.id.serial,
                      n - off);
            return;
        }
    }
}

static int in_index(const usb_pod_t *p, const struct libusb_transfer *t)
{
    for (unsigned i = 0; i < p->n_in; i++)
        if (p->in[i] == t)
            return (int)i;
    return -1;
}

static void LIBUSB_CALL on_in(struct libusb_transfer *t)
{
    usb_pod_t *p = t->user_data;
    int i = in_index(p, t);
    if (i < 0)
        return;
    if (p->in_busy[i]) {
        p->in_busy[i] = 0;
        p->in_flight--;
    }
    if (t->actual_length > 0) {
        p->cnt.bytes_in += (uint64_t)t->actual_length;
        p->last_rx_us = loop_now_us();
        feed(p, t->buffer, (size_t)t->actual_length);
    }
    switch (t->status) {
    case LIBUSB_TRANSFER_COMPLETED:
    case LIBUSB_TRANSFER_TIMED_OUT:
        p->cnt.transfers_in++;
        if (p->state == USB_POD_GONE || p->in_busy[i])
            break;             /* (resubmitted already by a stall recovery it caused) */
        if (p->recover_wait) { /* a stall recovery waits for every transfer */
            if (!p->in_flight)
                recover_restart(p);
            break;
        }
        {
            int rc = libusb_submit_transfer(t);
            if (rc == 0) {
                p->in_busy[i] = 1;
                p->in_flight++;
            } else {
                pod_gone(p, libusb_error_name(rc));
            }
        }
        break;
    case LIBUSB_TRANSFER_CANCELLED:
        if (p->recover_wait && !p->in_flight && p->state != USB_POD_GONE)
            recover_restart(p); /* every transfer back after a stall: start again */
        break;
    case LIBUSB_TRANSFER_NO_DEVICE:
        pod_gone(p, "unplugged (transfer: no device)");
        break;
    default:
        log_warn(p->host->lg, "%s: IN transfer status %d", p->info.id.serial, (int)t->status);
        pod_gone(p, "IN transfer failed");
        break;
    }
}

static void LIBUSB_CALL on_out(struct libusb_transfer *t)
{
    usb_pod_t *p = t->user_data;
    p->out_flight = 0;
    if (t->status == LIBUSB_TRANSFER_NO_DEVICE) {
        pod_gone(p, "unplugged (command: no device)");
        return;
    }
    if (t->status != LIBUSB_TRANSFER_COMPLETED && t->status != LIBUSB_TRANSFER_CANCELLED)
        log_warn(p->host->lg, "%s: command transfer status %d (will retry)", p->info.id.serial,
                 (int)t->status);
    if (p->state != USB_POD_GONE)
        cmd_send_next(p);
}

static int64_t on_tick(loop_t *l, void *ud);

static void pod_open(usb_host_t *h, libusb_device *dev)
{
    if (pod_of_dev(h, dev))
        return;
    libusb_device_handle *dh;
    uint8_t bus = libusb_get_bus_number(dev), addr = libusb_get_device_address(dev);
    int rc = libusb_open(dev, &dh);
    if (rc != 0) {
        log_warn(h->lg, "pod at %u-%u: open: %s", bus, addr, libusb_error_name(rc));
        return;
    }
    rc = libusb_claim_interface(dh, POD_USB_INTERFACE);
    if (rc != 0) {
        log_warn(h->lg, "pod at %u-%u: claim interface: %s", bus, addr, libusb_error_name(rc));
        libusb_close(dh);
        return;
    }
    usb_pod_t *p = xcalloc(1, sizeof *p);
    p->host = h;
    p->dev = libusb_ref_device(dev);
    p->h = dh;
    p->claimed = 1;
    p->info.bus = bus;
    p->info.address = addr;
    snprintf(p->info.id.serial, sizeof p->info.id.serial, "%u-%u", bus, addr);
    pod_stream_init(&p->st);
    pod_stream_set_reorder(&p->st, 1); /* swapped frames are put back in order */
    p->state = USB_POD_IDENTIFYING;
    p->last_rx_us = loop_now_us();
    p->held_at_stall = UINT32_MAX;
    p->next = h->pods;
    h->pods = p;
    log_info(h->lg, "pod at %u-%u opened", bus, addr);
    p->n_in = h->cfg.n_transfers;
    for (unsigned i = 0; i < p->n_in; i++) {
        p->in[i] = libusb_alloc_transfer(0);
        uint8_t *buf = xmalloc(h->cfg.transfer_size);
        libusb_fill_bulk_transfer(p->in[i], dh, POD_EP_IN, buf, (int)h->cfg.transfer_size, on_in,
                                  p, 0);
    }
    p->out = libusb_alloc_transfer(0);
    p->tick_timer = loop_add_timer(h->loop, TICK_MS, on_tick, p);
    for (unsigned i = 0; i < p->n_in && p->state != USB_POD_GONE; i++) {
        rc = libusb_submit_transfer(p->in[i]);
        if (rc != 0) {
            pod_gone(p, libusb_error_name(rc));
            break;
        }
        p->in_busy[i] = 1;
        p->in_flight++;
    }
    if (p->state != USB_POD_GONE)
        cmd_push(p, POD_CMD_IDENTIFY, 0, 0);
}

/* Marks the pod gone and cancels its transfers; it is finished (flushed, reported, closed) by
 * host_after_events once every transfer is back. */
static void pod_gone(usb_pod_t *p, const char *why)
{
    if (p->state == USB_POD_GONE)
        return;
    usb_host_t *h = p->host;
    log_info(h->lg, "%s: gone (%s)", p->info.id.serial, why);
    p->state = USB_POD_GONE;    /* p->memo->job stays: the job resumes on replug */
    p->cur_active = 0;
    p->qn = 0;
    for (unsigned i = 0; i < p->n_in; i++)
        if (p->in_busy[i])
            libusb_cancel_transfer(p->in[i]);
    if (p->out_flight)
        libusb_cancel_transfer(p->out);
    if (p->tick_timer) {
        loop_del_timer(h->loop, p->tick_timer);
        p->tick_timer = 0;
    }
    kick(h);
}

static void pod_free(usb_pod_t *p)
{
    for (unsigned i = 0; i < p->n_in; i++) {
        xfree(p->in[i]->buffer);
        libusb_free_transfer(p->in[i]);
    }
    libusb_free_transfer(p->out);
    if (p->claimed)
        libusb_release_interface(p->h, POD_USB_INTERFACE);
    libusb_close(p->h);
    libusb_unref_device(p->dev);
    xfree(p);
}

/* Flushes the decoder, reports the pod removed, closes and frees it. */
static void pod_finish(usb_pod_t *p)
{
    usb_host_t *h = p->host;
    pod_stream_finish(&p->st);
    drain(p);
    for (usb_pod_t **pp = &h->pods; *pp; pp = &(*pp)->next) {
        if (*pp == p) {
            *pp = p->next;
            break;
        }
    }
    if ((p->reported || p->refused[0]) && h->cbs.removed)
        h->cbs.removed(h->ud, p);
    pod_free(p);
}

static void host_after_events(usb_host_t *h)
{
    while (h->n_events) {
        hp_event_t e = h->events[0];
        memmove(h->events, h->events + 1, --h->n_events * sizeof *h->events);
        usb_pod_t *p = pod_of_dev(h, e.dev);
        if (e.arrived && !h->closing) {
            struct libusb_device_descriptor d;
            if (libusb_get_device_descriptor(e.dev, &d) == 0 && d.idVendor == POD_USB_VID &&
                d.idProduct == POD_USB_PID)
                pod_open(h, e.dev);
        } else if (!e.arrived && p) {
            pod_gone(p, "unplugged");
        }
        libusb_unref_device(e.dev);
    }
    for (usb_pod_t *p = h->pods, *next; p; p = next) {
        next = p->next;
        if (p->state == USB_POD_GONE && !p->in_flight && !p->out_flight)
            pod_finish(p);
    }
}

/* ---- command engine ---- */

static void cmd_transmit(usb_pod_t *p)
{
    usb_host_t *h = p->host;
    const cmd_t *c = &p->q[p->qh];
    pod_msg_t m;
    memset(&m.u, 0, sizeof m.u.clock);
    m.type = c->type;
    if (c->type == POD_CMD_CLOCK_SYNC) {
        p->cur_host_us = (uint64_t)now_rt_us();
        m.u.clock.host_us = p->cur_host_us;
    } else if (c->type == POD_CMD_READ_RUN) {
        m.u.read_run.run_id = c->a;
        m.u.read_run.first_frame = c->b;
    } else if (c->type == POD_CMD_ERASE_RUN) {
        m.u.run_id = c->a;
    }
    size_t len;
    if (pod_encode(&m, p->outbuf, sizeof p->outbuf, &len) != 0) {
        log_error(h->lg, "%s: cannot encode command 0x%02x", p->info.id.serial, c->type);
        return;
    }
    p->cur_deadline_us = loop_now_us() + h->cfg.cmd_timeout_ms * 1000;
    libusb_fill_bulk_transfer(p->out, p->h, POD_EP_OUT, p->outbuf, (int)len, on_out, p,
                              OUT_TIMEOUT_MS);
    int rc = libusb_submit_transfer(p->out);
    if (rc == LIBUSB_ERROR_NO_DEVICE) {
        pod_gone(p, "unplugged (submit: no device)");
        return;
    }
    if (rc != 0) {
        log_warn(h->lg, "%s: submit command: %s (will retry)", p->info.id.serial,
                 libusb_error_name(rc));
        return;
    }
    p->out_flight = 1;
    log_debug(h->lg, "%s: sent %s", p->info.id.serial, pod_msg_name(c->type));
}

static void cmd_send_next(usb_pod_t *p)
{
    if (!p->qn || p->cur_active || p->out_flight || p->state == USB_POD_GONE)
        return;
    p->cur_active = 1;
    p->cur_tries = 0;
    cmd_transmit(p);
}

static int cmd_push(usb_pod_t *p, uint8_t type, uint32_t a, uint32_t b)
{
    if (p->state == USB_POD_GONE)
        return USB_POD_ERR_GONE;
    if (p->qn == CMDQ)
        return USB_POD_ERR_STATE;
    cmd_t *c = &p->q[(p->qh + p->qn) % CMDQ];
    c->type = type;
    c->a = a;
    c->b = b;
    p->qn++;
    cmd_send_next(p);
    return USB_POD_OK;
}

/* The current command is `type`? */
static int cmd_is(const usb_pod_t *p, uint8_t type)
{
    return p->cur_active && p->qn && p->q[p->qh].type == type;
}

static void cmd_done(usb_pod_t *p)
{
    p->cur_active = 0;
    p->qh = (p->qh + 1) % CMDQ;
    p->qn--;
    cmd_send_next(p);
}

static void set_job(usb_pod_t *p, int job)
{
    p->job = job;
    if (p->memo)
        p->memo->job = job;
    if (p->state != USB_POD_GONE && p->state >= USB_POD_READY)
        p->state = job == JOB_STREAM ? USB_POD_STREAMING
                 : job == JOB_READ   ? USB_POD_READING
                                     : USB_POD_READY;
}

static void run_finished(usb_pod_t *p, uint32_t run, int status)
{
    usb_host_t *h = p->host;
    set_job(p, JOB_NONE);
    if (h->cbs.run_done)
        h->cbs.run_done(h->ud, p, run, status);
}

static void cmd_failed(usb_pod_t *p, uint8_t type, int status, uint32_t a)
{
    usb_host_t *h = p->host;
    log_warn(h->lg, "%s: %s failed: %s", p->info.id.serial, pod_msg_name(type),
             usb_pod_strerror(status));
    if (type == POD_CMD_IDENTIFY || (type == POD_CMD_CLOCK_SYNC && p->state == USB_POD_SYNCING)) {
        pod_gone(p, "no answer to identify / clock sync");
        return;
    }
    if (type == POD_CMD_CLOCK_SYNC)
        p->syncing = 0;
    if (type == POD_CMD_READ_RUN && p->job == JOB_READ && a == p->read_run)
        run_finished(p, a, status);
    else if (type == POD_CMD_ERASE_RUN && h->cbs.erased)
        h->cbs.erased(h->ud, p, a, status);
    else if (h->cbs.cmd_failed)
        h->cbs.cmd_failed(h->ud, p, type, status);
}

/* ---- clock sync ---- */

static void clock_sync_start(usb_pod_t *p)
{
    if (p->syncing)
        return;
    p->syncing = 1;
    p->sync_left = p->host->cfg.clock_exchanges ? p->host->cfg.clock_exchanges : 1;
    p->best_rtt = INT64_MAX;
    if (cmd_push(p, POD_CMD_CLOCK_SYNC, 0, 0) != USB_POD_OK)
        p->syncing = 0;
}

static void resume_job(usb_pod_t *p);
static void run_finished(usb_pod_t *p, uint32_t run, int status);

/* ---- stalls: a pod that stops answering while plugged ---- */

/* Cancels the pod's IN transfers; once they are all back (recover_restart) the bytes received
 * are flushed through the decoder and the pod is identified again until it answers; its job
 * then resumes (clock_reply -> resume_job). A read that makes no progress over cmd_retries
 * recoveries in a row is given up (run_done TIMEOUT). */
static void stall_begin(usb_pod_t *p, const char *why)
{
    usb_host_t *h = p->host;
    if (p->state == USB_POD_GONE || !p->reported)
        return;
    if (p->job == JOB_READ && p->memo) {
        if (p->memo->held != p->held_at_stall) {
            p->held_at_stall = p->memo->held;
            p->stall_no_progress = 0;
        } else if (++p->stall_no_progress > h->cfg.cmd_retries) {
            log_warn(h->lg, "%s: run %u: no progress after %u recoveries: read given up",
                     p->info.id.serial, p->read_run, p->stall_no_progress - 1);
            p->stall_no_progress = 0;
            run_finished(p, p->read_run, USB_POD_ERR_TIMEOUT);
            if (p->state == USB_POD_GONE)
                return;
        }
    }
    if (!p->stalled) {
        p->stalled = 1;
        p->cnt.stalls++;
        log_warn(h->lg, "%s: stalled while plugged (%s): transfers cancelled, identifying it again",
                 p->info.id.serial, why);
        if (h->cbs.stalled)
            h->cbs.stalled(h->ud, p, why);
        if (p->state == USB_POD_GONE)
            return;
    }
    p->cur_active = 0;
    p->qn = 0;
    p->syncing = 0;
    p->state = USB_POD_IDENTIFYING;
    p->recover_wait = 1;
    for (unsigned i = 0; i < p->n_in; i++)
        if (p->in_busy[i])
            libusb_cancel_transfer(p->in[i]);
    if (!p->in_flight)
        recover_restart(p);
}

/* Every IN transfer is back after a stall: deliver what was received, start the decoder and
 * the transfers afresh, identify again. */
static void recover_restart(usb_pod_t *p)
{
    usb_host_t *h = p->host;
    p->recover_wait = 0;
    pod_stream_finish(&p->st);
    drain(p);
    pod_stream_reset(&p->st);
    for (unsigned i = 0; i < p->n_in && p->state != USB_POD_GONE; i++) {
        if (p->in_busy[i])
            continue;
        int rc = libusb_submit_transfer(p->in[i]);
        if (rc != 0) {
            pod_gone(p, libusb_error_name(rc));
            return;
        }
        p->in_busy[i] = 1;
        p->in_flight++;
    }
    if (p->state == USB_POD_GONE)
        return;
    p->have_first = 0; /* it may have restarted: drift from the next syncs only */
    p->info.drift_ppm = 0;
    p->last_rx_us = loop_now_us();
    p->next_recover_us = loop_now_us() + h->cfg.stall_retry_ms * 1000;
    cmd_push(p, POD_CMD_IDENTIFY, 0, 0);
}

/* The identify reply was refused by the decoder (CRC valid, values out of range). */
static void refuse(usb_pod_t *p)
{
    usb_host_t *h = p->host;
    pod_identify_t id;
    char why[128];
    if (pod_identify_explain(p->st.rej_payload, p->st.rej_len, &id, why, sizeof why) == 0)
        snprintf(why, sizeof why, "a reply the decoder rejected (%s)",
                 proto_strerror(p->st.rej_err));
    if (id.serial[0] && pod_serial_valid(id.serial, POD_SERIAL_LEN))
        memcpy(p->info.id.serial, id.serial, POD_SERIAL_LEN);
    snprintf(p->refused, sizeof p->refused, "%s", why);
    p->cur_active = 0;
    p->qn = 0;
    p->stalled = 0;
    log_error(h->lg, "%s: refused: its identify reply has %s; the pod is not used",
              p->info.id.serial, why);
    if (h->cbs.refused)
        h->cbs.refused(h->ud, p, &id, why);
}

static void clock_reply(usb_pod_t *p, const pod_clock_sync_t *c)
{
    usb_host_t *h = p->host;
    int64_t t3 = now_rt_us();
    int64_t t1 = (int64_t)c->host_us;
    int64_t rtt = t3 - t1;
    int64_t off = t1 + rtt / 2 - (int64_t)c->pod_us;
    if (rtt >= 0 && rtt < p->best_rtt) {
        p->best_rtt = rtt;
        p->best_off = off;
        p->best_pod_us = c->pod_us;
    }
    cmd_done(p);
    if (--p->sync_left > 0) {
        cmd_push(p, POD_CMD_CLOCK_SYNC, 0, 0);
        return;
    }
    p->syncing = 0;
    p->info.clock_offset_us = p->best_off;
    p->info.clock_rtt_us = p->best_rtt;
    p->info.clock_ref_pod_us = p->best_pod_us;
    p->info.clock_syncs++;
    if (!p->have_first) {
        p->have_first = 1;
        p->first_host_us = t3;
        p->first_off = p->best_off;
    } else if (t3 - p->first_host_us > 1000000) {
        p->info.drift_ppm =
            -(double)(p->best_off - p->first_off) / (double)(t3 - p->first_host_us) * 1e6;
    }
    log_debug(h->lg, "%s: clock offset %lld us (rtt %lld us, drift %.1f ppm)", p->info.id.serial,
              (long long)p->best_off, (long long)p->best_rtt, p->info.drift_ppm);
    if (p->state == USB_POD_SYNCING) {
        p->state = USB_POD_READY;
        p->reported = 1;
        if (p->stalled) {
            p->stalled = 0;
            p->cnt.recoveries++;
            log_info(h->lg, "%s: answers again after the stall", p->info.id.serial);
        }
        int resumed = p->memo->job != JOB_NONE;
        if (resumed)
            resume_job(p);
        for (unsigned i = 0; i < p->n_erase_later; i++)
            cmd_push(p, POD_CMD_ERASE_RUN, p->erase_later[i], 0);
        p->n_erase_later = 0;
        log_info(h->lg, "%s: foot %c, %u Hz, +-%u g, +-%u dps%s", p->info.id.serial,
                 p->info.id.foot, p->info.id.rate_hz, p->info.id.acc_range_g,
                 p->info.id.gyr_range_dps, resumed ? ", resuming" : "");
        if (h->cbs.added)
            h->cbs.added(h->ud, p, resumed);
    }
}

/* ---- jobs ---- */

static void read_send(usb_pod_t *p)
{
    p->last_progress_us = loop_now_us();
    /* frames of an earlier transfer still on their way (or left by a host process that died
     * mid-read) are stale: the new one starts at frame `held` */
    pod_stream_expect(&p->st, p->read_run, p->memo->held);
    cmd_push(p, POD_CMD_READ_RUN, p->read_run, p->memo->held);
}

static void read_start(usb_pod_t *p, uint32_t run)
{
    memo_t *m = p->memo;
    if (m->run_id != run) {
        m->run_id = run;
        m->held = 0;
        m->crc = 0;
    }
    p->read_run = run;
    p->held_at_resume = m->held;
    p->stuck_resumes = 0;
    set_job(p, JOB_READ);
    read_send(p);
}

/* Re-sends READ_RUN from the frames held; fails the read after cmd_retries resumes in a row
 * without progress. reset_stream: restart the decoder's numbering (nothing is arriving). */
static void read_resume(usb_pod_t *p, int reset_stream)
{
    memo_t *m = p->memo;
    if (m->held > p->held_at_resume) {
        p->held_at_resume = m->held;
        p->stuck_resumes = 0;
    } else if (++p->stuck_resumes > p->host->cfg.cmd_retries) {
        stall_begin(p, "run read without progress");
        return;
    }
    if (reset_stream)
        pod_stream_reset(&p->st);
    p->cnt.run_resumes++;
    log_info(p->host->lg, "%s: resuming run %u at frame %u", p->info.id.serial, p->read_run,
             m->held);
    read_send(p);
}

static void resume_job(usb_pod_t *p)
{
    memo_t *m = p->memo;
    if (m->job == JOB_STREAM) {
        set_job(p, JOB_STREAM);
        cmd_push(p, POD_CMD_START_STREAM, 0, 0);
    } else if (m->job == JOB_READ && m->run_id) {
        log_info(p->host->lg, "%s: resuming run %u at frame %u", p->info.id.serial, m->run_id,
                 m->held);
        read_start(p, m->run_id);
    } else {
        m->job = JOB_NONE;
    }
}

static void run_end(usb_pod_t *p, const pod_run_end_t *e)
{
    memo_t *m = p->memo;
    if (m->held < e->n_frames) {
        read_resume(p, 0);       /* frames after a gap were dropped: read the rest again */
        return;
    }
    int ok = m->held == e->n_frames && m->crc == e->crc32;
    if (ok && m->have_runs) {
        for (unsigned i = 0; i < m->runs.n; i++)
            if (m->runs.runs[i].run_id == e->run_id)
                ok = m->runs.runs[i].n_frames == e->n_frames && m->runs.runs[i].crc32 == e->crc32;
    }
    uint32_t run = e->run_id;
    if (ok) {
        memo_set_verified(m, run, 1);
        log_info(p->host->lg, "%s: run %u read and verified (%u frames, crc %08x)",
                 p->info.id.serial, run, e->n_frames, e->crc32);
    } else {
        log_warn(p->host->lg, "%s: run %u verification failed (%u/%u frames, crc %08x/%08x)",
                 p->info.id.serial, run, m->held, e->n_frames, m->crc, e->crc32);
    }
    m->run_id = 0;
    m->held = 0;
    m->crc = 0;
    run_finished(p, run, ok ? USB_POD_OK : USB_POD_ERR_VERIFY);
}

static void on_ack(usb_pod_t *p, const pod_ack_t *a)
{
    usb_host_t *h = p->host;
    if (!cmd_is(p, a->cmd)) {
        log_debug(h->lg, "%s: stray ack of %s", p->info.id.serial, pod_msg_name(a->cmd));
        return;
    }
    uint32_t arg = p->q[p->qh].a;
    cmd_done(p);
    int st = a->status == POD_ST_OK ? USB_POD_OK : USB_POD_ERR_NACK;
    if (st != USB_POD_OK)
        log_warn(h->lg, "%s: %s refused, status %u", p->info.id.serial, pod_msg_name(a->cmd),
                 a->status);
    switch (a->cmd) {
    case POD_CMD_START_STREAM:
        if (st == USB_POD_OK) {
            set_job(p, JOB_STREAM);
            p->next_resync_us = loop_now_us() + h->cfg.resync_period_ms * 1000;
        } else {
            set_job(p, JOB_NONE);
            cmd_failed(p, a->cmd, st, 0);
        }
        break;
    case POD_CMD_STOP_STREAM:
        if (p->job == JOB_STREAM)
            set_job(p, JOB_NONE);
        if (st != USB_POD_OK)
            cmd_failed(p, a->cmd, st, 0);
        break;
    case POD_CMD_READ_RUN:       /* an ack of READ_RUN is always an error */
        if (p->job == JOB_READ && arg == p->read_run)
            run_finished(p, arg, USB_POD_ERR_NACK);
        break;
    case POD_CMD_ERASE_RUN:
        if (st == USB_POD_OK) {
            memo_set_verified(p->memo, arg, 0);
            p->memo->have_runs = 0;
            log_info(h->lg, "%s: run %u erased", p->info.id.serial, arg);
        }
        if (h->cbs.erased)
            h->cbs.erased(h->ud, p, arg, st);
        break;
    default:
        if (st != USB_POD_OK)
            cmd_failed(p, a->cmd, st, 0);
        break;
    }
}

static void on_samples(usb_pod_t *p, const pod_msg_t *m)
{
    const pod_samples_t *f = &m->u.samples;
    if (!f->run_id) {
        deliver(p, m);
        return;
    }
    if (p->job != JOB_READ || f->run_id != p->read_run) {
        p->cnt.run_discarded++;
        return;
    }
    if (cmd_is(p, POD_CMD_READ_RUN))
        cmd_done(p);
    if (f->seq == p->memo->held) {
        p->last_progress_us = loop_now_us();
        deliver(p, m);
    } else {
        p->cnt.run_discarded++;  /* after a gap: read again from `held` at REP_RUN_END */
    }
}

static void on_message(usb_pod_t *p, const pod_msg_t *m, const pod_stream_report_t *rep)
{
    usb_host_t *h = p->host;
    (void)rep;
    switch (m->type) {
    case POD_REP_IDENTIFY:
        if (!cmd_is(p, POD_CMD_IDENTIFY))
            break;
        cmd_done(p);
        if (p->state != USB_POD_IDENTIFYING)
            break;
        p->info.id = m->u.identify;
        p->memo = memo_get(h, p->info.id.serial);
        for (usb_pod_t *o = h->pods; o; o = o->next)
            if (o != p && o->memo == p->memo && o->state != USB_POD_GONE)
                log_warn(h->lg, "two pods with serial %s attached", p->info.id.serial);
        p->state = USB_POD_SYNCING;
        clock_sync_start(p);
        break;
    case POD_REP_CLOCK_SYNC:
        if (cmd_is(p, POD_CMD_CLOCK_SYNC) && m->u.clock.host_us == p->cur_host_us)
            clock_reply(p, &m->u.clock);
        break;
    case POD_REP_ACK:
        on_ack(p, &m->u.ack);
        break;
    case POD_REP_RUNS:
        if (!cmd_is(p, POD_CMD_LIST_RUNS))
            break;
        cmd_done(p);
        if (p->memo) {
            p->memo->runs = m->u.runs;
            p->memo->have_runs = 1;
        }
        if (h->cbs.runs)
            h->cbs.runs(h->ud, p, &m->u.runs);
        break;
    case POD_REP_RUN_END:
        if (p->job != JOB_READ || m->u.run_end.run_id != p->read_run)
            break;
        if (cmd_is(p, POD_CMD_READ_RUN))
            cmd_done(p);
        p->last_progress_us = loop_now_us();
        run_end(p, &m->u.run_end);
        break;
    case POD_MSG_SAMPLES:
        if (p->memo)
            on_samples(p, m);
        break;
    default:
        break;
    }
}

/* Per-pod housekeeping every TICK_MS: command timeouts, read watchdog, periodic clock sync. */
static int64_t on_tick(loop_t *l, void *ud)
{
    usb_pod_t *p = ud;
    usb_host_t *h = p->host;
    (void)l;
    int64_t now = loop_now_us();
    if (p->cur_active && now >= p->cur_deadline_us) {
        if (p->cur_tries < h->cfg.cmd_retries) {
            p->cur_tries++;
            p->cnt.retries++;
            log_info(h->lg, "%s: no answer to %s, retry %u", p->info.id.serial,
                     pod_msg_name(p->q[p->qh].type), p->cur_tries);
            if (p->out_flight)
                p->cur_deadline_us = now + h->cfg.cmd_timeout_ms * 1000;
            else
                cmd_transmit(p);
        } else {
            cmd_t c = p->q[p->qh];
            p->cur_active = 0;
            p->qh = (p->qh + 1) % CMDQ;
            p->qn--;
            if (p->stalled && (c.type == POD_CMD_IDENTIFY || c.type == POD_CMD_CLOCK_SYNC)) {
                /* still not answering: identify again later */
                p->qn = 0;
                p->syncing = 0;
                p->state = USB_POD_IDENTIFYING;
                p->next_recover_us = now + h->cfg.stall_retry_ms * 1000;
                log_debug(h->lg, "%s: still not answering", p->info.id.serial);
            } else if (p->reported && c.type == POD_CMD_READ_RUN && p->job == JOB_READ &&
                       c.a == p->read_run) {
                stall_begin(p, "no answer to CMD_READ_RUN");
            } else {
                cmd_failed(p, c.type, USB_POD_ERR_TIMEOUT, c.a);
                if (p->state != USB_POD_GONE && p->reported && !p->stalled) {
                    char why[64];
                    snprintf(why, sizeof why, "no answer to %s", pod_msg_name(c.type));
                    stall_begin(p, why);
                }
            }
            if (p->state == USB_POD_GONE)
                return LOOP_TIMER_END;
            cmd_send_next(p);
        }
    }
    if (p->state == USB_POD_GONE) {
        p->tick_timer = 0;
        return LOOP_TIMER_END;
    }
    if (p->stalled) {
        if (!p->recover_wait && !p->cur_active && !p->qn && now >= p->next_recover_us) {
            p->next_recover_us = now + h->cfg.stall_retry_ms * 1000;
            cmd_push(p, POD_CMD_IDENTIFY, 0, 0);
        }
        return TICK_MS;
    }
    if (p->job == JOB_READ && !p->cur_active && !p->qn &&
        now - p->last_progress_us > h->cfg.cmd_timeout_ms * 1000)
        read_resume(p, 1);
    if (p->state == USB_POD_STREAMING) {
        int64_t lim = h->cfg.stall_timeout_ms * 1000;
        if (4 * p->frame_period_us > lim)
            lim = 4 * p->frame_period_us;
        if (now - p->last_rx_us > lim) {
            /* a starved loop is not a stalled pod: take what libusb has completed first (the
             * deferred work of host_after_events waits for the kick) */
            struct timeval tv = {0, 0};
            libusb_handle_events_timeout_completed(h->ctx, &tv, NULL);
            if (p->state == USB_POD_GONE || loop_now_us() - p->last_rx_us <= lim)
                return p->state == USB_POD_GONE ? (p->tick_timer = 0, LOOP_TIMER_END) : TICK_MS;
            stall_begin(p, "no data while streaming");
            return p->state == USB_POD_GONE ? (p->tick_timer = 0, LOOP_TIMER_END) : TICK_MS;
        }
    }
    if (p->state == USB_POD_STREAMING && h->cfg.resync_period_ms > 0 && now >= p->next_resync_us) {
        p->next_resync_us = now + h->cfg.resync_period_ms * 1000;
        clock_sync_start(p);
    }
    return TICK_MS;
}

/* ---- public API ---- */

usb_host_t *usb_host_new(loop_t *loop, const usb_host_cfg_t *cfg, const usb_pod_cbs_t *cbs,
                         void *ud, const log_t *lg, char *err, size_t errcap)
{
    usb_host_t *h = xcalloc(1, sizeof *h);
    h->loop = loop;
    h->cfg = *cfg;
    if (!h->cfg.n_transfers || h->cfg.n_transfers > MAX_IN)
        h->cfg.n_transfers = h->cfg.n_transfers ? MAX_IN : 4;
    if (h->cfg.transfer_size < 64 || h->cfg.transfer_size % 64)
        h->cfg.transfer_size = 16384;
    if (h->cfg.enum_period_ms <= 0)
        h->cfg.enum_period_ms = 1000;
    if (h->cfg.cmd_timeout_ms <= 0)
        h->cfg.cmd_timeout_ms = 500;
    if (h->cfg.stall_timeout_ms <= 0)
        h->cfg.stall_timeout_ms = 2000;
    if (h->cfg.stall_retry_ms <= 0)
        h->cfg.stall_retry_ms = 2000;
    if (cbs)
        h->cbs = *cbs;
    h->ud = ud;
    h->lg = lg;
    int rc = libusb_init(&h->ctx);
    if (rc != 0) {
        snprintf(err, errcap, "libusb_init: %s", libusb_error_name(rc));
        xfree(h);
        return NULL;
    }
    libusb_set_pollfd_notifiers(h->ctx, on_pollfd_added, on_pollfd_removed, h);
    const struct libusb_pollfd **pfds = libusb_get_pollfds(h->ctx);
    for (size_t i = 0; pfds && pfds[i]; i++)
        on_pollfd_added(pfds[i]->fd, pfds[i]->events, h);
    libusb_free_pollfds(pfds);
    h->hotplug = libusb_has_capability(LIBUSB_CAP_HAS_HOTPLUG) && !cfg->force_enum_poll;
    if (h->hotplug) {
        rc = libusb_hotplug_register_callback(
            h->ctx, LIBUSB_HOTPLUG_EVENT_DEVICE_ARRIVED | LIBUSB_HOTPLUG_EVENT_DEVICE_LEFT,
            LIBUSB_HOTPLUG_ENUMERATE, POD_USB_VID, POD_USB_PID, LIBUSB_HOTPLUG_MATCH_ANY,
            on_hotplug, h, &h->hp);
        if (rc != 0) {
            log_warn(lg, "hotplug registration failed (%s): enumerating instead",
                     libusb_error_name(rc));
            h->hotplug = 0;
        }
    }
    if (!h->hotplug)
        h->enum_timer = loop_add_timer(loop, 0, on_enum_timer, h);
    log_info(lg, "watching for pods %04x:%04x (%s)", POD_USB_VID, POD_USB_PID,
             h->hotplug ? "hotplug" : "periodic enumeration");
    rearm_usb_timer(h);
    return h;
}

void usb_host_free(usb_host_t **hp)
{
    if (!hp || !*hp)
        return;
    usb_host_t *h = *hp;
    /* Streaming pods are asked to stop first (ack awaited at most STOP_WAIT_US), so that they do
     * not stream on into an unread endpoint. */
    int64_t t0 = loop_now_us();
    int streaming = 0;
    for (usb_pod_t *p = h->pods; p; p = p->next)
        if (p->state == USB_POD_STREAMING && usb_pod_stop_stream(p) == USB_POD_OK)
            streaming = 1;
    while (streaming && loop_now_us() - t0 < STOP_WAIT_US) {
        struct timeval tv = {0, 50000};
        libusb_handle_events_timeout_completed(h->ctx, &tv, NULL);
        streaming = 0;
        for (usb_pod_t *p = h->pods; p; p = p->next)
            streaming |= p->state == USB_POD_STREAMING;
    }
    for (usb_pod_t *p = h->pods; p; p = p->next)
        pod_gone(p, "host closing");
    h->closing = 1;
    t0 = loop_now_us();
    for (;;) {
        int busy = 0;
        for (usb_pod_t *p = h->pods; p; p = p->next)
            busy |= p->in_flight || p->out_flight;
        if (!busy || loop_now_us() - t0 > CLOSE_WAIT_US)
            break;
        struct timeval tv = {0, 100000};
        libusb_handle_events_timeout_completed(h->ctx, &tv, NULL);
    }
    host_after_events(h);
    for (usb_pod_t *p = h->pods; p; p = p->next)
        log_error(h->lg, "%s: transfers still in flight at exit, not closed", p->info.id.serial);
    if (h->hotplug)
        libusb_hotplug_deregister_callback(h->ctx, h->hp);
    for (size_t i = 0; i < h->n_events; i++)
        libusb_unref_device(h->events[i].dev);
    if (h->enum_timer)
        loop_del_timer(h->loop, h->enum_timer);
    if (h->usb_timer)
        loop_del_timer(h->loop, h->usb_timer);
    if (h->kick_timer)
        loop_del_timer(h->loop, h->kick_timer);
    libusb_set_pollfd_notifiers(h->ctx, NULL, NULL, NULL);
    for (unsigned i = 0; i < h->n_fds; i++)
        loop_del_io(h->loop, h->fds[i].id);
    if (!h->pods)
        libusb_exit(h->ctx);
    for (size_t i = 0; i < h->n_memos; i++)
        xfree(h->memos[i]);
    xfree(h->memos);
    xfree(h->events);
    xfree(h);
    *hp = NULL;
}

int usb_host_uses_hotplug(const usb_host_t *h)
{
    return h->hotplug;
}

unsigned usb_host_pods(usb_host_t *h, usb_pod_t **out, unsigned max)
{
    unsigned n = 0;
    for (usb_pod_t *p = h->pods; p; p = p->next) {
        if (p->state == USB_POD_GONE)
            continue;
        if (n < max)
            out[n] = p;
        n++;
    }
    return n;
}

const usb_pod_info_t *usb_pod_info(const usb_pod_t *p)
{
    return &p->info;
}

int usb_pod_state(const usb_pod_t *p)
{
    return p->state;
}

int usb_pod_stalled(const usb_pod_t *p)
{
    return p->stalled;
}

const char *usb_pod_refused(const usb_pod_t *p)
{
    return p->refused;
}

void usb_pod_counters(const usb_pod_t *p, usb_pod_counters_t *c)
{
    *c = p->cnt;
    c->stream = p->st.stats;
}

void usb_pod_set_user(usb_pod_t *p, void *user)
{
    p->user = user;
}

void *usb_pod_user(const usb_pod_t *p)
{
    return p->user;
}

static int check_ready(const usb_pod_t *p)
{
    if (p->state == USB_POD_GONE)
        return USB_POD_ERR_GONE;
    if (p->state < USB_POD_READY)
        return USB_POD_ERR_STATE;
    return USB_POD_OK;
}

int usb_pod_start_stream(usb_pod_t *p)
{
    int rc = check_ready(p);
    if (rc)
        return rc;
    if (p->job == JOB_READ)
        return USB_POD_ERR_STATE;
    return cmd_push(p, POD_CMD_START_STREAM, 0, 0);
}

int usb_pod_stop_stream(usb_pod_t *p)
{
    int rc = check_ready(p);
    if (rc)
        return rc;
    if (p->memo)
        p->memo->job = JOB_NONE; /* an unplug before the ack must not resume the stream */
    for (unsigned i = 0; i < p->qn; i++)
        if (p->q[(p->qh + i) % CMDQ].type == POD_CMD_STOP_STREAM)
            return USB_POD_OK; /* already on its way (e.g. session stop, then shutdown) */
    return cmd_push(p, POD_CMD_STOP_STREAM, 0, 0);
}

int usb_pod_list_runs(usb_pod_t *p)
{
    int rc = check_ready(p);
    return rc ? rc : cmd_push(p, POD_CMD_LIST_RUNS, 0, 0);
}

int usb_pod_read_run(usb_pod_t *p, uint32_t run_id)
{
    int rc = check_ready(p);
    if (rc)
        return rc;
    if (p->job != JOB_NONE || !run_id)
        return USB_POD_ERR_STATE;
    read_start(p, run_id);
    return USB_POD_OK;
}

int usb_pod_read_run_from(usb_pod_t *p, uint32_t run_id, uint32_t first_frame, uint32_t crc)
{
    int rc = check_ready(p);
    if (rc)
        return rc;
    if (p->job != JOB_NONE || !run_id)
        return USB_POD_ERR_STATE;
    memo_t *m = p->memo;
    m->run_id = run_id;
    m->held = first_frame;
    m->crc = crc;
    read_start(p, run_id);
    return USB_POD_OK;
}

int usb_pod_erase_run(usb_pod_t *p, uint32_t run_id)
{
    int rc = check_ready(p);
    if (rc == USB_POD_ERR_STATE && p->stalled && p->memo && memo_verified(p->memo, run_id)) {
        if (p->n_erase_later == POD_MAX_RUNS)
            return USB_POD_ERR_STATE;
        p->erase_later[p->n_erase_later++] = run_id; /* once it answers again */
        return USB_POD_OK;
    }
    if (rc)
        return rc;
    if (!memo_verified(p->memo, run_id))
        return USB_POD_ERR_NOT_VERIFIED;
    return cmd_push(p, POD_CMD_ERASE_RUN, run_id, 0);
}

int64_t usb_pod_host_us(const usb_pod_t *p, uint64_t pod_us)
{
    double since = (double)pod_us - (double)p->info.clock_ref_pod_us;
    return (int64_t)pod_us + p->info.clock_offset_us - llround(p->info.drift_ppm * 1e-6 * since);
}

int usb_pod_clock_sync(usb_pod_t *p)
{
    int rc = check_ready(p);
    if (rc)
        return rc;
    clock_sync_start(p);
    return USB_POD_OK;
}
