/* umockpod.c - an emulated gaitd foot pod on umockdev (see umockpod.h). */
#include "umockpod.h"
#include <errno.h>
#include <glib.h>
#include <sys/ioctl.h>
#include <linux/usbdevice_fs.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <umockdev.h>
#include "crc.h"
#include "dsp.h"
#include "proto.h"
#include "sim.h"

#define MAX_PLUGS 32
#define FRAME_RING 4096

/* Device + configuration descriptors (POD-PROTOCOL.md section 1): full speed, class 0, VID
 * 0x1209 PID 0x0001, bcdDevice 1.00, strings 1/2/3, one configuration (100 mA) with interface 0
 * (vendor 0xFF/0x00, protocol 1) and bulk endpoints 0x81 IN and 0x01 OUT of 64 bytes. */
static const char DESCRIPTORS_HEX[] =
    "120100020000004009120100000101020301"
    "0902200001010080320904000002FF000100"
    "07058102400000"
    "07050102400000";

static const char ROOT_HUB[] =
    "P: /devices/pci0000:00/0000:00:14.0/usb1\n"
    "N: bus/usb/001/001\n"
    "E: BUSNUM=001\n"
    "E: DEVNAME=/dev/bus/usb/001/001\n"
    "E: DEVNUM=001\n"
    "E: DEVTYPE=usb_device\n"
    "E: DRIVER=usb\n"
    "E: PRODUCT=1d6b/2/100\n"
    "E: SUBSYSTEM=usb\n"
    "E: TYPE=9/0/0\n"
    "A: busnum=1\\n\n"
    "A: devnum=1\\n\n"
    "A: bConfigurationValue=1\\n\n"
    "H: descriptors=12010002090000406B1D020005030302010109021900010100E0000904000001090000000705810304000C\n"
    "A: idProduct=0002\n"
    "A: idVendor=1d6b\n"
    "A: speed=480\n"
    "A: dev=189:0\n"
    "A: devpath=0\n"
    "\n"
    "P: /devices/pci0000:00/0000:00:14.0\n"
    "E: DRIVER=xhci_hcd\n"
    "E: SUBSYSTEM=pci\n";

struct umockpod_bed {
    UMockdevTestbed *tb;
    unsigned next_devnum;
    unsigned next_port;
};

typedef struct plug {
    char devnode[64];
    char syspath[128];
    int gone;
    GQueue in_q;                 /* bulk IN URBs waiting for data (UMockdevIoctlData *) */
    GQueue done_q;               /* OUT / control URBs completed at the next reap */
    GQueue discarded_q;          /* URBs cancelled by DISCARDURB */
} plug_t;

typedef struct run {
    pod_run_info_t info;
    size_t plen;                 /* payload bytes per frame */
    uint8_t *payloads;           /* n_frames * plen */
    int read_done;               /* READ_RUN reached REP_RUN_END since power-up */
} run_t;

typedef struct frame_end {
    uint64_t end;                /* stream offset just after the frame */
    int kind;                    /* 0 live, 1 run */
    int valid;                   /* undamaged and not a repeat */
} frame_end_t;

struct umockpod {
    GMutex lock;
    umockpod_bed_t *bed;
    umockpod_cfg_t cfg;
    UMockdevIoctlBase *handler;
    plug_t plugs[MAX_PLUGS];
    int n_plugs;                 /* plugs[n_plugs - 1] is the current one */
    int plugged;
    /* power-up state */
    int64_t plug_mono_us;
    int streaming;
    uint32_t live_seq;
    uint64_t live_frames;        /* produced since START_STREAM */
    int64_t stream_mono_us;
    uint64_t stream_t0_pod_us;
    int reading;
    unsigned read_run;
    uint32_t read_next;
    uint32_t read_first;  /* first frame of the current READ_RUN */
    int64_t read_mono_us; /* when it began (read_speed pacing) */
    int stalled;
    uint64_t stall_after;
    uint64_t frames_queued;      /* sample frames queued, all time */
    int corrupt_in, drop_in;     /* -1 = off */
    int trunc_in, dup_in, swap_in;
    unsigned trunc_keep;
    int swap_have; /* frame n of a swap order, sent after frame n + 1 */
    uint8_t swap_buf[POD_MAX_FRAME];
    size_t swap_len;
    int swap_kind, swap_valid;
    int hung;
    uint64_t hang_after;
    int64_t hang_mono_us;
    unsigned ignore_cmds;
    /* transmit queue */
    GByteArray *txq;
    uint64_t tx_queued;          /* stream offset at the end of txq */
    uint64_t tx_sent;            /* stream offset of txq[0] */
    frame_end_t ring[FRAME_RING];
    unsigned ring_head, ring_n;
    /* data */
    sim_t *sim;
    run_t runs[UMOCKPOD_MAX_RUNS];
    unsigned n_runs;
    uint32_t next_run_id;
    umockpod_stats_t st;
};

static int64_t mono_us(void)
{
    return g_get_monotonic_time();
}

void umockpod_cfg_default(umockpod_cfg_t *c, const char *serial, uint8_t foot)
{
    memset(c, 0, sizeof *c);
    snprintf(c->serial, sizeof c->serial, "%s", serial);
    c->foot = foot;
    c->rate_hz = 500;
    c->acc_range_g = 16;
    c->gyr_range_dps = 2000;
    c->frame_samples = 25;
    c->speed = 0;
    c->seed = 7;
    c->boot_us = 5000000;
    c->drift_ppm = 0;
    c->n_runs = 0;
    c->run_s = 20;
}

/* ---- testbed ---- */

umockpod_bed_t *umockpod_bed_new(void)
{
    const char *pre = getenv("LD_PRELOAD");
    if (!pre || !strstr(pre, "umockdev-preload"))
        return NULL;
    umockpod_bed_t *b = g_new0(umockpod_bed_t, 1);
    b->tb = umockdev_testbed_new();
    b->next_devnum = 2;
    b->next_port = 1;
    GError *err = NULL;
    if (!umockdev_testbed_add_from_string(b->tb, ROOT_HUB, &err)) {
        g_printerr("umockpod: root hub: %s\n", err ? err->message : "?");
        g_clear_error(&err);
    }
    return b;
}

void umockpod_bed_free(umockpod_bed_t **bp)
{
    if (!bp || !*bp)
        return;
    g_clear_object(&(*bp)->tb);
    g_free(*bp);
    *bp = NULL;
}

/* ---- pod clock and transmit queue (lock held) ---- */

static uint64_t pod_now_us(const umockpod_t *p)
{
    double el = (double)(mono_us() - p->plug_mono_us) * (1.0 + p->cfg.drift_ppm * 1e-6);
    return (uint64_t)(p->cfg.boot_us + (int64_t)llround(el));
}

static void tx_bytes(umockpod_t *p, const uint8_t *b, size_t n)
{
    g_byte_array_append(p->txq, b, (guint)n);
    p->tx_queued += n;
}

static void emit_frame(umockpod_t *p, const uint8_t *wire, size_t len, int kind, int valid);

/* A frame held back by a swap order goes out before any other message. */
static void flush_swap(umockpod_t *p)
{
    if (!p->swap_have)
        return;
    p->swap_have = 0;
    emit_frame(p, p->swap_buf, p->swap_len, p->swap_kind, p->swap_valid);
}

static void tx_msg(umockpod_t *p, const pod_msg_t *m)
{
    flush_swap(p);
    uint8_t buf[POD_MAX_FRAME];
    size_t len;
    if (pod_encode(m, buf, sizeof buf, &len) == 0)
        tx_bytes(p, buf, len);
}

static void tx_ack(umockpod_t *p, uint8_t cmd, uint8_t status)
{
    pod_msg_t m = {.type = POD_REP_ACK};
    m.u.ack.cmd = cmd;
    m.u.ack.status = status;
    tx_msg(p, &m);
}

/* Queues the bytes of one sample frame and notes where it ends (for frames_sent). */
static void emit_frame(umockpod_t *p, const uint8_t *wire, size_t len, int kind, int valid)
{
    tx_bytes(p, wire, len);
    if (p->ring_n < FRAME_RING) {
        frame_end_t *e = &p->ring[(p->ring_head + p->ring_n++) % FRAME_RING];
        e->end = p->tx_queued;
        e->kind = kind;
        e->valid = valid;
    }
}

/* Queues one encoded sample frame, applying the misbehaviour orders. */
static void tx_sample_frame(umockpod_t *p, uint8_t *wire, size_t len, int kind)
{
    p->frames_queued++;
    if (p->drop_in >= 0 && p->drop_in-- == 0) {
        p->st.frames_dropped++;
        return;
    }
    int valid = 1;
    if (p->corrupt_in >= 0 && p->corrupt_in-- == 0) {
        wire[POD_HEADER_LEN + 5] ^= 0x5A;        /* inside t_dev_us: the CRC no longer matches */
        p->st.frames_corrupted++;
        valid = 0;
    }
    if (p->swap_in >= 0 && p->swap_in-- == 0 && !p->swap_have) {
        memcpy(p->swap_buf, wire, len); /* sent after the next frame */
        p->swap_len = len;
        p->swap_kind = kind;
        p->swap_valid = valid;
        p->swap_have = 1;
        return;
    }
    size_t n = len;
    if (p->trunc_in >= 0 && p->trunc_in-- == 0) {
        n = p->trunc_keep < len ? p->trunc_keep : len - 1;
        p->st.frames_truncated++;
        valid = 0;
    }
    emit_frame(p, wire, n, kind, valid);
    if (p->dup_in >= 0 && p->dup_in-- == 0) {
        emit_frame(p, wire, n, kind, 0);
        p->st.frames_duplicated++;
    }
    if (p->swap_have) {
        p->st.frames_reordered++;
        flush_swap(p);
    }
}

static void queue_live_frame(umockpod_t *p)
{
    pod_msg_t m = {.type = POD_MSG_SAMPLES};
    pod_samples_t *f = &m.u.samples;
    unsigned fs = p->cfg.frame_samples;
    f->seq = p->live_seq++;
    f->t_dev_us = p->stream_t0_pod_us +
                  (uint64_t)llround((double)p->live_frames * fs * 1e6 / p->cfg.rate_hz);
    f->rate_hz = p->cfg.rate_hz;
    f->acc_range_g = p->cfg.acc_range_g;
    f->gyr_range_dps = p->cfg.gyr_range_dps;
    f->run_id = 0;
    f->n = (uint16_t)fs;
    int fi = p->cfg.foot == 'L' ? DSP_LEFT : DSP_RIGHT;
    for (unsigned i = 0; i < fs; i++) {
        dsp_sample_t out[2];
        if (!sim_next(p->sim, out))
            memset(out, 0, sizeof out);
        dsp_si_to_raw(&out[fi], p->cfg.acc_range_g, p->cfg.gyr_range_dps, NULL, f->s[i]);
    }
    p->live_frames++;
    uint8_t wire[POD_MAX_FRAME];
    size_t len;
    if (pod_encode(&m, wire, sizeof wire, &len) == 0)
        tx_sample_frame(p, wire, len, 0);
}

static void queue_run_frame(umockpod_t *p, const run_t *r, uint32_t k)
{
    uint8_t wire[POD_MAX_FRAME];
    wire[0] = 0xA5;
    wire[1] = 0x5A;
    wire[2] = POD_PROTO_VERSION;
    wire[3] = POD_MSG_SAMPLES;
    proto_put_u16le(wire + 4, (uint16_t)r->plen);
    memcpy(wire + POD_HEADER_LEN, r->payloads + (size_t)k * r->plen, r->plen);
    proto_put_u32le(wire + POD_HEADER_LEN + r->plen, proto_crc32(wire + 2, 4 + r->plen));
    tx_sample_frame(p, wire, POD_HEADER_LEN + r->plen + 4, 1);
}

/* Produces data until at least `want` bytes are queued or nothing more is due. */
static void produce(umockpod_t *p, size_t want)
{
    while (p->txq->len < want && !p->stalled && !p->hung) {
        if (p->stall_after && p->frames_queued >= p->stall_after) {
            p->stalled = 1;
            break;
        }
        if (p->hang_after && p->frames_queued >= p->hang_after) {
            p->hang_after = 0;
            p->hung = 1;
            p->hang_mono_us = mono_us();
            p->st.hangs++;
            break;
        }
        if (p->reading) {
            run_t *r = &p->runs[p->read_run];
            if (p->cfg.read_speed > 0 && p->read_next < r->info.n_frames) {
                double el = (double)(mono_us() - p->read_mono_us) * 1e-6 * p->cfg.read_speed;
                if (p->read_next - p->read_first >=
                    (uint64_t)(el * p->cfg.rate_hz / p->cfg.frame_samples))
                    break;
            }
            if (p->read_next < r->info.n_frames) {
                queue_run_frame(p, r, p->read_next++);
            } else {
                pod_msg_t m = {.type = POD_REP_RUN_END};
                m.u.run_end.run_id = r->info.run_id;
                m.u.run_end.n_frames = r->info.n_frames;
                m.u.run_end.crc32 = r->info.crc32;
                tx_msg(p, &m);
                r->read_done = 1;
                p->reading = 0;
            }
        } else if (p->streaming) {
            if (p->cfg.speed > 0) {
                double el = (double)(mono_us() - p->stream_mono_us) * 1e-6 * p->cfg.speed;
                uint64_t due = (uint64_t)(el * p->cfg.rate_hz / p->cfg.frame_samples);
                if (p->live_frames >= due)
                    break;
            }
            queue_live_frame(p);
        } else {
            break;
        }
    }
}

/* The host has taken n bytes: account for the sample frames that are now completely sent. */
static void tx_consume(umockpod_t *p, size_t n)
{
    g_byte_array_remove_range(p->txq, 0, (guint)n);
    p->tx_sent += n;
    p->st.bytes_in += n;
    while (p->ring_n && p->ring[p->ring_head].end <= p->tx_sent) {
        const frame_end_t *e = &p->ring[p->ring_head];
        p->st.frames_sent++;
        if (e->kind)
            p->st.run_frames_sent++;
        else
            p->st.live_frames_sent++;
        if (e->valid) {
            p->st.frames_valid++;
            if (e->kind)
                p->st.run_frames_valid++;
            else
                p->st.live_frames_valid++;
        }
        p->ring_head = (p->ring_head + 1) % FRAME_RING;
        p->ring_n--;
    }
}

/* ---- protocol commands (lock held) ---- */

static int find_run(const umockpod_t *p, uint32_t id)
{
    for (unsigned i = 0; i < p->n_runs; i++)
        if (p->runs[i].info.run_id == id)
            return (int)i;
    return -1;
}

static void handle_command(umockpod_t *p, const uint8_t *buf, size_t len)
{
    pod_msg_t m, r;
    size_t used;
    if (pod_decode(buf, len, &m, &used) != 0)
        return;                  /* damaged commands are dropped silently */
    if (m.type >= 1 && m.type <= 7)
        p->st.cmds[m.type]++;
    if (p->hung) {
        p->st.cmds_hung++;
        return;
    }
    if (p->ignore_cmds) {
        p->ignore_cmds--;
        p->st.cmds_ignored++;
        return;
    }
    memset(&r, 0, sizeof r);
    switch (m.type) {
    case POD_CMD_IDENTIFY:
        if (p->cfg.id_override) {
            /* nonsense values the encoder would refuse: the frame is built by hand */
            uint8_t w[POD_HEADER_LEN + 26 + 4];
            memset(w, 0, sizeof w);
            w[0] = 0xA5;
            w[1] = 0x5A;
            w[2] = POD_PROTO_VERSION;
            w[3] = POD_REP_IDENTIFY;
            proto_put_u16le(w + 4, 26);
            uint8_t *q = w + POD_HEADER_LEN;
            memcpy(q, p->cfg.serial, strnlen(p->cfg.serial, POD_SERIAL_LEN - 1));
            q[16] = p->cfg.foot;
            q[17] = 1;
            proto_put_u16le(q + 20, p->cfg.id_rate_hz);
            proto_put_u16le(q + 22, p->cfg.id_acc_range_g);
            proto_put_u16le(q + 24, p->cfg.id_gyr_range_dps);
            proto_put_u32le(q + 26, proto_crc32(w + 2, 4 + 26));
            flush_swap(p);
            tx_bytes(p, w, sizeof w);
            break;
        }
        r.type = POD_REP_IDENTIFY;
        memcpy(r.u.identify.serial, p->cfg.serial, POD_SERIAL_LEN);
        r.u.identify.foot = p->cfg.foot;
        r.u.identify.fw_major = 1;
        r.u.identify.rate_hz = p->cfg.rate_hz;
        r.u.identify.acc_range_g = p->cfg.acc_range_g;
        r.u.identify.gyr_range_dps = p->cfg.gyr_range_dps;
        tx_msg(p, &r);
        break;
    case POD_CMD_CLOCK_SYNC:
        r.type = POD_REP_CLOCK_SYNC;
        r.u.clock.host_us = m.u.clock.host_us;
        r.u.clock.pod_us = pod_now_us(p);
        tx_msg(p, &r);
        break;
    case POD_CMD_START_STREAM:
        if (p->reading) {
            tx_ack(p, m.type, POD_ST_BUSY);
            break;
        }
        tx_ack(p, m.type, POD_ST_OK);
        if (!p->streaming) {
            p->streaming = 1;
            p->live_seq = 0;
            p->live_frames = 0;
            p->stream_mono_us = mono_us();
            p->stream_t0_pod_us = pod_now_us(p);
        }
        break;
    case POD_CMD_STOP_STREAM:
        p->streaming = 0;        /* frames are produced whole: nothing half-filled to finish */
        tx_ack(p, m.type, POD_ST_OK);
        break;
    case POD_CMD_LIST_RUNS:
        r.type = POD_REP_RUNS;
        r.u.runs.n = (uint8_t)p->n_runs;
        for (unsigned i = 0; i < p->n_runs; i++)
            r.u.runs.runs[i] = p->runs[i].info;
        tx_msg(p, &r);
        break;
    case POD_CMD_READ_RUN: {
        int i = find_run(p, m.u.read_run.run_id);
        if (p->streaming)
            tx_ack(p, m.type, POD_ST_BUSY);
        else if (i < 0)
            tx_ack(p, m.type, POD_ST_NO_RUN);
        else if (m.u.read_run.first_frame > p->runs[i].info.n_frames)
            tx_ack(p, m.type, POD_ST_BAD_PAYLOAD);
        else {
            p->reading = 1;
            p->read_run = (unsigned)i;
            p->read_next = m.u.read_run.first_frame;
            p->read_first = p->read_next;
            p->st.read_first = p->read_next;
            p->read_mono_us = mono_us();
        }
        break;
    }
    case POD_CMD_ERASE_RUN: {
        int i = find_run(p, m.u.run_id);
        if (p->streaming || (p->reading && (int)p->read_run == i))
            tx_ack(p, m.type, POD_ST_BUSY);
        else if (i < 0)
            tx_ack(p, m.type, POD_ST_NO_RUN);
        else if (!p->runs[i].read_done)
            tx_ack(p, m.type, POD_ST_NOT_READ);
        else {
            g_free(p->runs[i].payloads);
            memmove(&p->runs[i], &p->runs[i + 1], (p->n_runs - (unsigned)i - 1) * sizeof p->runs[0]);
            p->n_runs--;
            if (p->reading && p->read_run > (unsigned)i)
                p->read_run--;
            tx_ack(p, m.type, POD_ST_OK);
        }
        break;
    }
    default:
        tx_ack(p, m.type, POD_ST_UNKNOWN_CMD);
        break;
    }
}

/* GET_DESCRIPTOR(string) on the control endpoint. Returns the data length, or -1 to stall. */
static int control_in(umockpod_t *p, const uint8_t *setup, uint8_t *data, size_t cap)
{
    if (setup[0] != 0x80 || setup[1] != 6 || setup[3] != 3)
        return -1;
    uint8_t d[2 + 2 * 32];
    size_t n;
    if (setup[2] == 0) {
        d[2] = 0x09;
        d[3] = 0x04;             /* English (US) */
        n = 4;
    } else {
        const char *s = setup[2] == 1 ? "gaitd" : setup[2] == 2 ? "gaitd foot pod"
                      : setup[2] == 3 ? p->cfg.serial : NULL;
        if (!s)
            return -1;
        size_t k = strlen(s);
        if (k > 32)
            k = 32;
        for (size_t i = 0; i < k; i++) {
            d[2 + 2 * i] = (uint8_t)s[i];
            d[3 + 2 * i] = 0;
        }
        n = 2 + 2 * k;
    }
    d[0] = (uint8_t)n;
    d[1] = 3;
    size_t wlen = proto_get_u16le(setup + 6);
    if (n > wlen)
        n = wlen;
    if (n > cap)
        n = cap;
    memcpy(data, d, n);
    return (int)n;
}

/* ---- usbdevfs ioctls (umockdev worker thread) ---- */

static plug_t *plug_of(umockpod_t *p, UMockdevIoctlClient *client)
{
    const char *dn = umockdev_ioctl_client_get_devnode(client);
    for (int i = p->n_plugs - 1; i >= 0; i--)
        if (!strcmp(p->plugs[i].devnode, dn))
            return &p->plugs[i];
    return NULL;
}

static void reap_one(UMockdevIoctlClient *client, UMockdevIoctlData *urb_data)
{
    UMockdevIoctlData *arg = umockdev_ioctl_client_get_arg(client);
    UMockdevIoctlData *ptr = umockdev_ioctl_data_resolve(arg, 0, sizeof(void *), NULL);
    umockdev_ioctl_data_set_ptr(ptr, 0, urb_data);
    umockdev_ioctl_client_complete(client, 0, 0);
    if (ptr)
        umockdev_ioctl_data_unref(ptr);
    umockdev_ioctl_data_unref(urb_data);
}

static gboolean on_submit(umockpod_t *p, plug_t *pl, UMockdevIoctlClient *client)
{
    UMockdevIoctlData *arg = umockdev_ioctl_client_get_arg(client);
    UMockdevIoctlData *urb_data = umockdev_ioctl_data_resolve(arg, 0, sizeof(struct usbdevfs_urb), NULL);
    if (!urb_data) {
        umockdev_ioctl_client_complete(client, -1, EFAULT);
        return TRUE;
    }
    struct usbdevfs_urb *urb = (struct usbdevfs_urb *)urb_data->data;
    UMockdevIoctlData *buf = NULL;
    if (urb->buffer_length > 0)
        buf = umockdev_ioctl_data_resolve(urb_data, offsetof(struct usbdevfs_urb, buffer),
                                          (gsize)urb->buffer_length, NULL);
    urb = (struct usbdevfs_urb *)urb_data->data;
    if (pl->gone) {
        umockdev_ioctl_client_complete(client, -1, ENODEV);
        umockdev_ioctl_data_unref(urb_data);
    } else if (urb->type == USBDEVFS_URB_TYPE_BULK && urb->endpoint == POD_EP_IN) {
        g_queue_push_tail(&pl->in_q, urb_data);
        umockdev_ioctl_client_complete(client, 0, 0);
    } else if (urb->type == USBDEVFS_URB_TYPE_BULK && urb->endpoint == POD_EP_OUT && buf) {
        handle_command(p, buf->data, (size_t)urb->buffer_length);
        urb->actual_length = urb->buffer_length;
        urb->status = 0;
        g_queue_push_tail(&pl->done_q, urb_data);
        umockdev_ioctl_client_complete(client, 0, 0);
    } else if (urb->type == USBDEVFS_URB_TYPE_CONTROL && buf && urb->buffer_length >= 8) {
        int n = control_in(p, buf->data, buf->data + 8, (size_t)urb->buffer_length - 8);
        urb->actual_length = n < 0 ? 0 : n;
        urb->status = n < 0 ? -EPIPE : 0;
        g_queue_push_tail(&pl->done_q, urb_data);
        umockdev_ioctl_client_complete(client, 0, 0);
    } else {
        umockdev_ioctl_client_complete(client, -1, EINVAL);
        umockdev_ioctl_data_unref(urb_data);
    }
    if (buf)
        umockdev_ioctl_data_unref(buf);
    return TRUE;
}

static gboolean on_reap(umockpod_t *p, plug_t *pl, UMockdevIoctlClient *client)
{
    UMockdevIoctlData *u;
    if ((u = g_queue_pop_head(&pl->discarded_q))) {
        struct usbdevfs_urb *urb = (struct usbdevfs_urb *)u->data;
        urb->status = -ENOENT;
        urb->actual_length = 0;
        reap_one(client, u);
        return TRUE;
    }
    if (pl->gone) {
        if (!(u = g_queue_pop_head(&pl->done_q)))
            u = g_queue_pop_head(&pl->in_q);
        if (!u) {
            umockdev_ioctl_client_complete(client, -1, ENODEV);
            return TRUE;
        }
        struct usbdevfs_urb *urb = (struct usbdevfs_urb *)u->data;
        urb->status = -ESHUTDOWN;
        urb->actual_length = 0;
        reap_one(client, u);
        return TRUE;
    }
    if ((u = g_queue_pop_head(&pl->done_q))) {
        p->st.urbs_out++;
        reap_one(client, u);
        return TRUE;
    }
    if (!p->hung && (u = g_queue_peek_head(&pl->in_q))) {
        struct usbdevfs_urb *urb = (struct usbdevfs_urb *)u->data;
        size_t cap = (size_t)urb->buffer_length;
        produce(p, cap);
        if (p->txq->len > 0) {
            size_t n = p->txq->len < cap ? p->txq->len : cap;
            memcpy(urb->buffer, p->txq->data, n);
            urb->actual_length = (int)n;
            urb->status = 0;
            tx_consume(p, n);
            g_queue_pop_head(&pl->in_q);
            p->st.urbs_in++;
            reap_one(client, u);
            return TRUE;
        }
    }
    umockdev_ioctl_client_complete(client, -1, EAGAIN);
    return TRUE;
}

static gboolean on_discard(plug_t *pl, UMockdevIoctlClient *client)
{
    UMockdevIoctlData *arg = umockdev_ioctl_client_get_arg(client);
    gulong addr = (gulong) * (void **)arg->data;
    for (GList *l = pl->in_q.head; l; l = l->next) {
        UMockdevIoctlData *u = l->data;
        if (u->client_addr == addr) {
            g_queue_delete_link(&pl->in_q, l);
            g_queue_push_tail(&pl->discarded_q, u);
            umockdev_ioctl_client_complete(client, 0, 0);
            return TRUE;
        }
    }
    umockdev_ioctl_client_complete(client, -1, EINVAL);
    return TRUE;
}

/* A new host process claims the interface: URBs left queued by an earlier one (e.g. gaitd
 * killed with SIGKILL while they were pending) are dropped, never handed to the new one. */
static void flush_urbs(plug_t *pl)
{
    GQueue *qs[3] = {&pl->in_q, &pl->done_q, &pl->discarded_q};
    for (int q = 0; q < 3; q++) {
        UMockdevIoctlData *u;
        while ((u = g_queue_pop_head(qs[q])))
            umockdev_ioctl_data_unref(u);
    }
}

static gboolean on_ioctl(UMockdevIoctlBase *handler, UMockdevIoctlClient *client, gpointer ud)
{
    umockpod_t *p = ud;
    (void)handler;
    gulong req = umockdev_ioctl_client_get_request(client);
    gboolean ret = TRUE;
    g_mutex_lock(&p->lock);
    plug_t *pl = plug_of(p, client);
    if (!pl) {
        g_mutex_unlock(&p->lock);
        return FALSE;
    }
    switch (req) {
    case USBDEVFS_GET_CAPABILITIES: {
        UMockdevIoctlData *d = umockdev_ioctl_data_resolve(umockdev_ioctl_client_get_arg(client),
                                                           0, sizeof(guint32), NULL);
        if (d) {
            *(guint32 *)d->data = USBDEVFS_CAP_BULK_CONTINUATION | USBDEVFS_CAP_NO_PACKET_SIZE_LIM |
                                  USBDEVFS_CAP_ZERO_PACKET;
            umockdev_ioctl_data_unref(d);
        }
        umockdev_ioctl_client_complete(client, pl->gone ? -1 : 0, pl->gone ? ENODEV : 0);
        break;
    }
    case USBDEVFS_CLAIMINTERFACE:
        if (!pl->gone)
            flush_urbs(pl);
        umockdev_ioctl_client_complete(client, pl->gone ? -1 : 0, pl->gone ? ENODEV : 0);
        break;
    case USBDEVFS_RELEASEINTERFACE:
    case USBDEVFS_CLEAR_HALT:
    case USBDEVFS_RESETEP:
    case USBDEVFS_RESET:
        umockdev_ioctl_client_complete(client, pl->gone ? -1 : 0, pl->gone ? ENODEV : 0);
        break;
    case USBDEVFS_SUBMITURB:
        ret = on_submit(p, pl, client);
        break;
    case USBDEVFS_REAPURB:
    case USBDEVFS_REAPURBNDELAY:
        ret = on_reap(p, pl, client);
        break;
    case USBDEVFS_DISCARDURB:
        ret = on_discard(pl, client);
        break;
    default:
        umockdev_ioctl_client_complete(client, -1, pl->gone ? ENODEV : ENOTTY);
        break;
    }
    g_mutex_unlock(&p->lock);
    return ret;
}

/* ---- pods ---- */

/* Generates stored run number i (seed and pod clock from i) starting at start_unix_us. */
static void make_run(umockpod_t *p, unsigned i, uint64_t start_unix_us)
{
    unsigned fs = p->cfg.frame_samples;
    int fi = p->cfg.foot == 'L' ? DSP_LEFT : DSP_RIGHT;
    {
        sim_config_t sc;
        sim_config_default(&sc);
        sc.seed = p->cfg.seed + 100 + i;
        sc.rate_hz = p->cfg.rate_hz;
        sc.duration_s = p->cfg.run_s + 1;
        sc.acc_range_g = p->cfg.acc_range_g;
        sc.gyr_range_dps = p->cfg.gyr_range_dps;
        sim_t *s = sim_new(&sc);
        run_t *r = &p->runs[p->n_runs++];
        uint32_t nf = (uint32_t)(p->cfg.run_s * p->cfg.rate_hz / fs);
        r->plen = POD_SAMPLES_FIXED + POD_SAMPLE_BYTES * fs;
        r->payloads = g_malloc((size_t)nf * r->plen);
        r->info.run_id = p->next_run_id++;
        r->info.start_unix_us = start_unix_us;
        r->info.n_frames = nf;
        uint32_t crc = 0;
        uint64_t t_dev = 1000000000u + (uint64_t)i * 7200000000u;
        for (uint32_t k = 0; k < nf; k++) {
            pod_msg_t m = {.type = POD_MSG_SAMPLES};
            pod_samples_t *f = &m.u.samples;
            f->seq = k;
            f->t_dev_us = t_dev + (uint64_t)llround((double)k * fs * 1e6 / p->cfg.rate_hz);
            f->rate_hz = p->cfg.rate_hz;
            f->acc_range_g = p->cfg.acc_range_g;
            f->gyr_range_dps = p->cfg.gyr_range_dps;
            f->n = (uint16_t)fs;
            f->run_id = r->info.run_id;
            for (unsigned j = 0; j < fs; j++) {
                dsp_sample_t out[2];
                if (!s || !sim_next(s, out))
                    memset(out, 0, sizeof out);
                dsp_si_to_raw(&out[fi], p->cfg.acc_range_g, p->cfg.gyr_range_dps, NULL, f->s[j]);
            }
            uint8_t wire[POD_MAX_FRAME];
            size_t len;
            if (pod_encode(&m, wire, sizeof wire, &len) != 0)
                abort();
            memcpy(r->payloads + (size_t)k * r->plen, wire + POD_HEADER_LEN, r->plen);
            crc = proto_crc32_update(crc, wire + POD_HEADER_LEN, r->plen);
        }
        r->info.crc32 = crc;
        sim_free(&s);
    }
}

static void make_runs(umockpod_t *p)
{
    for (unsigned i = 0; i < p->cfg.n_runs && i < UMOCKPOD_MAX_RUNS; i++)
        make_run(p, i, UINT64_C(1796000000000000) + (uint64_t)i * 3600000000u +
                           (uint64_t)llround(p->cfg.run_t0_s * 1e6));
}

int umockpod_add_run(umockpod_t *p)
{
    g_mutex_lock(&p->lock);
    int rc = -1;
    if (p->n_runs < UMOCKPOD_MAX_RUNS) {
        uint64_t now = (uint64_t)g_get_real_time();
        uint64_t len = (uint64_t)(p->cfg.run_s * 1e6);
        make_run(p, p->next_run_id, now > len ? now - len : now);
        rc = (int)p->runs[p->n_runs - 1].info.run_id;
    }
    g_mutex_unlock(&p->lock);
    return rc;
}

void umockpod_sim_config(const umockpod_cfg_t *cfg, sim_config_t *sc)
{
    sim_config_default(sc);
    sc->seed = cfg->seed;
    sc->rate_hz = cfg->rate_hz;
    sc->duration_s = 4 * 3600;
    sc->acc_range_g = cfg->acc_range_g;
    sc->gyr_range_dps = cfg->gyr_range_dps;
}

umockpod_t *umockpod_new(umockpod_bed_t *bed, const umockpod_cfg_t *cfg)
{
    umockpod_t *p = g_new0(umockpod_t, 1);
    g_mutex_init(&p->lock);
    p->bed = bed;
    p->cfg = *cfg;
    if (!p->cfg.frame_samples || p->cfg.frame_samples > POD_MAX_SAMPLES)
        p->cfg.frame_samples = 25;
    p->txq = g_byte_array_new();
    p->corrupt_in = p->drop_in = -1;
    p->trunc_in = p->dup_in = p->swap_in = -1;
    p->next_run_id = 1;
    sim_config_t sc;
    umockpod_sim_config(&p->cfg, &sc);
    p->sim = sim_new(&sc);
    make_runs(p);
    p->handler = umockdev_ioctl_base_new();
    g_signal_connect(p->handler, "handle-ioctl", G_CALLBACK(on_ioctl), p);
    return p;
}

void umockpod_free(umockpod_t **pp)
{
    if (!pp || !*pp)
        return;
    umockpod_t *p = *pp;
    if (p->plugged)
        umockpod_unplug(p);
    for (int i = 0; i < p->n_plugs; i++) {
        umockdev_testbed_detach_ioctl(p->bed->tb, p->plugs[i].devnode, NULL);
        GQueue *qs[3] = {&p->plugs[i].in_q, &p->plugs[i].done_q, &p->plugs[i].discarded_q};
        for (int q = 0; q < 3; q++) {
            UMockdevIoctlData *u;
            while ((u = g_queue_pop_head(qs[q])))
                umockdev_ioctl_data_unref(u);
        }
    }
    g_clear_object(&p->handler);
    for (unsigned i = 0; i < p->n_runs; i++)
        g_free(p->runs[i].payloads);
    sim_free(&p->sim);
    g_byte_array_unref(p->txq);
    g_mutex_clear(&p->lock);
    g_free(p);
    *pp = NULL;
}

void umockpod_plug(umockpod_t *p)
{
    umockpod_bed_t *b = p->bed;
    g_mutex_lock(&p->lock);
    if (p->plugged || p->n_plugs == MAX_PLUGS) {
        g_mutex_unlock(&p->lock);
        return;
    }
    unsigned devnum = b->next_devnum++;
    unsigned port = b->next_port++;
    plug_t *pl = &p->plugs[p->n_plugs++];
    memset(pl, 0, sizeof *pl);
    g_queue_init(&pl->in_q);
    g_queue_init(&pl->done_q);
    g_queue_init(&pl->discarded_q);
    snprintf(pl->devnode, sizeof pl->devnode, "/dev/bus/usb/001/%03u", devnum);
    snprintf(pl->syspath, sizeof pl->syspath, "/sys/devices/pci0000:00/0000:00:14.0/usb1/1-%u", port);
    /* power-up */
    p->plugged = 1;
    p->plug_mono_us = mono_us();
    p->streaming = p->reading = p->stalled = 0;
    p->stall_after = 0;
    p->hung = 0;
    p->hang_after = 0;
    p->swap_have = 0;
    g_byte_array_set_size(p->txq, 0);
    p->tx_sent = p->tx_queued = 0;
    p->ring_head = p->ring_n = 0;
    for (unsigned i = 0; i < p->n_runs; i++)
        p->runs[i].read_done = 0;
    p->st.plugs++;
    char *desc = g_strdup_printf(
        "P: /devices/pci0000:00/0000:00:14.0/usb1/1-%u\n"
        "N: bus/usb/001/%03u=%s\n"
        "E: BUSNUM=001\n"
        "E: DEVNAME=/dev/bus/usb/001/%03u\n"
        "E: DEVNUM=%03u\n"
        "E: DEVTYPE=usb_device\n"
        "E: DRIVER=usb\n"
        "E: PRODUCT=1209/1/100\n"
        "E: SUBSYSTEM=usb\n"
        "E: TYPE=0/0/0\n"
        "E: ID_SERIAL_SHORT=%s\n"
        "A: bConfigurationValue=1\\n\n"
        "A: bNumConfigurations=1\\n\n"
        "A: bNumInterfaces= 1\\n\n"
        "A: busnum=1\\n\n"
        "A: devnum=%u\\n\n"
        "A: manufacturer=gaitd\\n\n"
        "A: product=gaitd foot pod\\n\n"
        "A: serial=%s\\n\n"
        "H: descriptors=%s\n"
        "A: idProduct=0001\\n\n"
        "A: idVendor=1209\\n\n"
        "A: speed=12\\n\n"
        "A: dev=189:%u\\n\n"
        "A: devpath=%u\\n\n",
        port, devnum, DESCRIPTORS_HEX, devnum, devnum, p->cfg.serial, devnum, p->cfg.serial,
        DESCRIPTORS_HEX, devnum - 1, port);
    char devnode[64], syspath[128];
    snprintf(devnode, sizeof devnode, "%s", pl->devnode);
    snprintf(syspath, sizeof syspath, "%s", pl->syspath);
    g_mutex_unlock(&p->lock);

    GError *err = NULL;
    if (!umockdev_testbed_attach_ioctl(b->tb, devnode, p->handler, &err)) {
        g_printerr("umockpod: attach_ioctl %s: %s\n", devnode, err ? err->message : "?");
        g_clear_error(&err);
    }
    if (!umockdev_testbed_add_from_string(b->tb, desc, &err)) {
        g_printerr("umockpod: add device: %s\n", err ? err->message : "?");
        g_clear_error(&err);
    }
    g_free(desc);
    umockdev_testbed_uevent(b->tb, syspath, "add");
}

void umockpod_unplug(umockpod_t *p)
{
    g_mutex_lock(&p->lock);
    if (!p->plugged) {
        g_mutex_unlock(&p->lock);
        return;
    }
    plug_t *pl = &p->plugs[p->n_plugs - 1];
    pl->gone = 1;
    p->plugged = 0;
    p->streaming = p->reading = 0;
    char syspath[128];
    snprintf(syspath, sizeof syspath, "%s", pl->syspath);
    g_mutex_unlock(&p->lock);
    /* The "remove" event goes out before the device disappears from sysfs (as the kernel does). */
    umockdev_testbed_uevent(p->bed->tb, syspath, "remove");
    umockdev_testbed_remove_device(p->bed->tb, syspath);
}

void umockpod_corrupt_frame(umockpod_t *p, unsigned nth)
{
    g_mutex_lock(&p->lock);
    p->corrupt_in = (int)nth;
    g_mutex_unlock(&p->lock);
}

void umockpod_drop_frame(umockpod_t *p, unsigned nth)
{
    g_mutex_lock(&p->lock);
    p->drop_in = (int)nth;
    g_mutex_unlock(&p->lock);
}

void umockpod_stall_after(umockpod_t *p, uint64_t frames_total)
{
    g_mutex_lock(&p->lock);
    p->stall_after = frames_total;
    if (!frames_total)
        p->stalled = 0;
    g_mutex_unlock(&p->lock);
}

void umockpod_truncate_frame(umockpod_t *p, unsigned nth, unsigned keep)
{
    g_mutex_lock(&p->lock);
    p->trunc_in = (int)nth;
    p->trunc_keep = keep;
    g_mutex_unlock(&p->lock);
}

void umockpod_duplicate_frame(umockpod_t *p, unsigned nth)
{
    g_mutex_lock(&p->lock);
    p->dup_in = (int)nth;
    g_mutex_unlock(&p->lock);
}

void umockpod_swap_frames(umockpod_t *p, unsigned nth)
{
    g_mutex_lock(&p->lock);
    p->swap_in = (int)nth;
    g_mutex_unlock(&p->lock);
}

static void set_hung(umockpod_t *p, int on)
{
    if (on == 1 && !p->hung) {
        p->hung = 1;
        p->hang_mono_us = mono_us();
        p->st.hangs++;
    } else if (!on && p->hung) {
        p->hung = 0;
        if (p->streaming) /* frozen firmware: the frames it missed are never made */
            p->stream_mono_us += mono_us() - p->hang_mono_us;
    } else if (on == 2 && p->hung) {
        /* the firmware restarts (watchdog reset) without leaving the bus: whatever it had
         * queued is lost, streaming and run reads stop, its clock starts again */
        p->hung = 0;
        p->streaming = p->reading = p->stalled = 0;
        p->swap_have = 0;
        p->plug_mono_us = mono_us();
        g_byte_array_set_size(p->txq, 0);
        p->tx_sent = p->tx_queued = 0;
        p->ring_head = p->ring_n = 0;
        for (unsigned i = 0; i < p->n_runs; i++)
            p->runs[i].read_done = 0;
    }
}

void umockpod_hang_after(umockpod_t *p, uint64_t frames_total)
{
    g_mutex_lock(&p->lock);
    if (frames_total == 0 || p->frames_queued >= frames_total)
        set_hung(p, 1);
    else
        p->hang_after = frames_total;
    g_mutex_unlock(&p->lock);
}

void umockpod_hang(umockpod_t *p, int on)
{
    g_mutex_lock(&p->lock);
    p->hang_after = 0;
    set_hung(p, on);
    g_mutex_unlock(&p->lock);
}

void umockpod_ignore_commands(umockpod_t *p, unsigned n)
{
    g_mutex_lock(&p->lock);
    p->ignore_cmds = n;
    g_mutex_unlock(&p->lock);
}

void umockpod_stats(umockpod_t *p, umockpod_stats_t *s)
{
    g_mutex_lock(&p->lock);
    *s = p->st;
    s->plugged = p->plugged;
    s->streaming = p->streaming;
    s->reading = p->reading;
    s->stalled = p->stalled;
    s->hung = p->hung;
    s->n_runs = p->n_runs;
    g_mutex_unlock(&p->lock);
}

int umockpod_run(umockpod_t *p, unsigned i, pod_run_info_t *info)
{
    int rc = -1;
    g_mutex_lock(&p->lock);
    if (i < p->n_runs) {
        *info = p->runs[i].info;
        rc = 0;
    }
    g_mutex_unlock(&p->lock);
    return rc;
}

size_t umockpod_run_frame(umockpod_t *p, unsigned i, uint32_t k, uint8_t *buf, size_t cap)
{
    size_t n = 0;
    g_mutex_lock(&p->lock);
    if (i < p->n_runs && k < p->runs[i].info.n_frames && p->runs[i].plen <= cap) {
        n = p->runs[i].plen;
        memcpy(buf, p->runs[i].payloads + (size_t)k * n, n);
    }
    g_mutex_unlock(&p->lock);
    return n;
}

const char *umockpod_devnode(umockpod_t *p)
{
    return p->n_plugs ? p->plugs[p->n_plugs - 1].devnode : "";
}
