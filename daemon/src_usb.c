/* src_usb.c - live USB pods as one athlete session (see src_usb.h). */
#define LOG_PREFIX "usb-src"
#include "src_usb.h"
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include "alloc.h"
#include "pod.h"

typedef struct slot {
    char serial[POD_SERIAL_LEN];
    usb_pod_t *pod;              /* current attachment, NULL while unplugged */
    int64_t hdr_offset_us;       /* clock offset written in the session header */
    int restart;                 /* feed REP_ACK(START_STREAM) before the next frame */
} slot_t;

typedef struct src_usb {
    source_env_t env;
    char athlete[REC_ATHLETE_LEN];
    double wait_pair_s;
    usb_host_t *host;
    session_t *sess;
    slot_t slots[REC_MAX_PODS];
    unsigned n_slots;
    usb_pod_t *pending[REC_MAX_PODS];    /* identified before the session exists */
    unsigned n_pending;
    int64_t first_pod_us;
    int started;                 /* step has run: the daemon started its sources */
    int done;
    pod_msg_t msg;
    uint8_t wire[POD_MAX_FRAME];
} src_usb_t;

static int64_t now_rt_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static slot_t *slot_of(src_usb_t *su, const usb_pod_t *p, unsigned *index)
{
    const char *serial = usb_pod_info(p)->id.serial;
    for (unsigned i = 0; i < su->n_slots; i++) {
        if (!strcmp(su->slots[i].serial, serial)) {
            if (index)
                *index = i;
            return &su->slots[i];
        }
    }
    return NULL;
}

/* Creates the session with the pending pods (left first) and starts their streams. */
static void make_session(src_usb_t *su)
{
    session_cfg_t sc;
    memset(&sc, 0, sizeof sc);
    rec_header_t *h = &sc.header;
    rec_header_init(h);
    snprintf(h->athlete, sizeof h->athlete, "%s", su->athlete);
    snprintf(h->source, sizeof h->source, "usb-live");
    h->start_unix_us = now_rt_us();
    for (int pass = 0; pass < 2; pass++) {
        for (unsigned i = 0; i < su->n_pending; i++) {
            const usb_pod_info_t *in = usb_pod_info(su->pending[i]);
            if ((in->id.foot == 'L') != (pass == 0) || h->n_pods == REC_MAX_PODS)
                continue;
            rec_pod_t *rp = &h->pods[h->n_pods];
            memset(rp, 0, sizeof *rp);
            snprintf(rp->serial, sizeof rp->serial, "%s", in->id.serial);
            rp->foot = in->id.foot;
            rp->rate_hz = in->id.rate_hz;
            rp->acc_range_g = in->id.acc_range_g;
            rp->gyr_range_dps = in->id.gyr_range_dps;
            for (int a = 0; a < 3; a++)
                rp->acc_scale[a] = 1.0f;
            rp->clock_offset_us = in->clock_offset_us;
            slot_t *s = &su->slots[h->n_pods];
            snprintf(s->serial, sizeof s->serial, "%s", in->id.serial);
            s->pod = su->pending[i];
            s->hdr_offset_us = in->clock_offset_us;
            h->n_pods++;
        }
    }
    su->n_slots = h->n_pods;
    su->n_pending = 0;
    sc.record_dir = su->env.record_dir;
    sc.window_period_s = su->env.window_period_s;
    char err[256];
    su->sess = session_new(&sc, su->env.pub, su->env.lg, err, sizeof err);
    if (!su->sess) {
        log_error(su->env.lg, "%s: %s", su->athlete, err);
        su->done = 1;
        return;
    }
    for (unsigned i = 0; i < su->n_slots; i++) {
        int rc = usb_pod_start_stream(su->slots[i].pod);
        if (rc)
            log_warn(su->env.lg, "%s: start stream: %s", su->slots[i].serial, usb_pod_strerror(rc));
        log_info(su->env.lg, "%s: pod %s (%c) is pod %u of the session", su->athlete,
                 su->slots[i].serial, h->pods[i].foot, i);
    }
}

static void on_added(void *ud, usb_pod_t *p, int resumed)
{
    src_usb_t *su = ud;
    if (su->done)
        return;
    const usb_pod_info_t *in = usb_pod_info(p);
    if (su->sess) {
        slot_t *s = slot_of(su, p, NULL);
        if (!s) {
            log_warn(su->env.lg, "%s: pod %s (%c) is not in the session: ignored", su->athlete,
                     in->id.serial, in->id.foot);
            return;
        }
        s->pod = p;
        s->restart = 1;
        if (!resumed)
            usb_pod_start_stream(p);
        log_info(su->env.lg, "%s: pod %s back", su->athlete, in->id.serial);
        return;
    }
    for (unsigned i = 0; i < su->n_pending; i++) {
        if (usb_pod_info(su->pending[i])->id.foot == in->id.foot) {
            log_warn(su->env.lg, "%s: second %c pod %s ignored", su->athlete, in->id.foot,
                     in->id.serial);
            return;
        }
    }
    if (su->n_pending == REC_MAX_PODS)
        return;
    if (resumed)                 /* streaming from an earlier life of this host: stop for now */
        usb_pod_stop_stream(p);
    su->pending[su->n_pending++] = p;
    if (su->n_pending == 1)
        su->first_pod_us = loop_now_us();
    if (su->n_pending == 2 && su->started)
        make_session(su);
}

static void on_frame(void *ud, usb_pod_t *p, const pod_samples_t *f, const uint8_t *wire,
                     size_t len)
{
    src_usb_t *su = ud;
    unsigned idx;
    slot_t *s;
    if (!su->sess || su->done || f->run_id || !(s = slot_of(su, p, &idx)))
        return;
    int64_t now = loop_now_us();
    if (s->restart) {
        pod_msg_t ack = {.type = POD_REP_ACK};
        ack.u.ack.cmd = POD_CMD_START_STREAM;
        ack.u.ack.status = POD_ST_OK;
        size_t n;
        if (pod_encode(&ack, su->wire, sizeof su->wire, &n) == 0)
            session_feed_frame(su->sess, idx, su->wire, n, now);
        s->restart = 0;
    }
    int64_t t = usb_pod_host_us(p, f->t_dev_us) - s->hdr_offset_us;
    if (t == (int64_t)f->t_dev_us || t < 0) {
        session_feed_frame(su->sess, idx, wire, len, now);
        return;
    }
    su->msg.type = POD_MSG_SAMPLES;
    su->msg.u.samples = *f;
    su->msg.u.samples.t_dev_us = (uint64_t)t;
    size_t n;
    if (pod_encode(&su->msg, su->wire, sizeof su->wire, &n) == 0)
        session_feed_frame(su->sess, idx, su->wire, n, now);
}

static void on_removed(void *ud, usb_pod_t *p)
{
    src_usb_t *su = ud;
    slot_t *s = slot_of(su, p, NULL);
    if (s && s->pod == p) {
        s->pod = NULL;
        if (su->done)
            log_info(su->env.lg, "%s: pod %s closed", su->athlete, s->serial);
        else
            log_warn(su->env.lg, "%s: pod %s unplugged", su->athlete, s->serial);
    }
    for (unsigned i = 0; i < su->n_pending; i++) {
        if (su->pending[i] == p) {
            su->pending[i] = su->pending[--su->n_pending];
            break;
        }
    }
}

static const usb_pod_cbs_t usb_cbs = {
    .added = on_added,
    .frame = on_frame,
    .removed = on_removed,
};

static void finish(src_usb_t *su)
{
    if (su->done)
        return;
    su->done = 1;
    if (su->sess)
        session_finish(su->sess);
}

static int64_t usb_step(void *impl, int64_t now_us)
{
    src_usb_t *su = impl;
    if (su->done)
        return SOURCE_DONE;
    su->started = 1;
    if (!su->sess && (su->n_pending == 2 ||
                      (su->n_pending &&
                       now_us - su->first_pod_us >= (int64_t)(su->wait_pair_s * 1e6))))
        make_session(su);
    if (su->sess && su->env.duration_s > 0) {
        double t0 = session_data_start(su->sess), t1 = session_data_time(su->sess);
        if (!isnan(t0) && t1 - t0 >= su->env.duration_s) {
            finish(su);
            return SOURCE_DONE;
        }
    }
    return su->done ? SOURCE_DONE : 100;
}

static session_t *usb_session(void *impl)
{
    return ((src_usb_t *)impl)->sess;
}

static void usb_stop(void *impl)
{
    finish(impl);
}

static void usb_free_impl(void *impl)
{
    src_usb_t *su = impl;
    if (!su)
        return;
    su->done = 1;
    usb_host_free(&su->host);    /* stops the streams, closes the pods */
    session_free(&su->sess);
    xfree(su);
}

static const source_ops_t usb_ops = {
    .kind = "usb",
    .step = usb_step,
    .session = usb_session,
    .stop = usb_stop,
    .free = usb_free_impl,
};

int src_usb_new(source_t *src, const src_usb_cfg_t *cfg, const source_env_t *env, char *err,
                size_t errcap)
{
    src_usb_t *su = xcalloc(1, sizeof *su);
    su->env = *env;
    snprintf(su->athlete, sizeof su->athlete, "%s", cfg->athlete ? cfg->athlete : "usb1");
    su->wait_pair_s = cfg->wait_pair_s > 0 ? cfg->wait_pair_s : 3.0;
    su->host = usb_host_new(cfg->loop, &cfg->usb, &usb_cbs, su, env->lg, err, errcap);
    if (!su->host) {
        xfree(su);
        return -1;
    }
    src->ops = &usb_ops;
    src->impl = su;
    return 0;
}
