/* feed_pub.c - ZeroMQ feed publisher (see feed_pub.h). */
#define LOG_PREFIX "feed"
#include "feed_pub.h"
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <zmq.h>
#include "alloc.h"
#include "zap.h"

struct feed_pub {
    void *sock;
    const log_t *lg;
    uint64_t sent, drops;
    unsigned subs;
    latency_stats_t lat;         /* stride message latency, daemon-wide */
    char endpoint[256];
    zap_t *zap;                  /* CURVE: subscriptions checked per client key; NULL: off */
};

feed_pub_t *feed_pub_new(void *zctx, const char *endpoint, int sndhwm, const log_t *lg, char *err,
                         size_t errcap)
{
    return feed_pub_new_ex(zctx, endpoint, sndhwm, NULL, lg, err, errcap);
}

feed_pub_t *feed_pub_new_ex(void *zctx, const char *endpoint, int sndhwm, zap_t *zap,
                            const log_t *lg, char *err, size_t errcap)
{
    void *s = zmq_socket(zctx, ZMQ_XPUB);
    if (!s) {
        snprintf(err, errcap, "feed socket: %s", zmq_strerror(zmq_errno()));
        return NULL;
    }
    int one = 1, zero = 0;
    zmq_setsockopt(s, ZMQ_SNDHWM, &sndhwm, sizeof sndhwm);
    zmq_setsockopt(s, ZMQ_XPUB_NODROP, &one, sizeof one);
    /* every (un)subscription of every subscriber comes up, so subs counts them all */
    zmq_setsockopt(s, ZMQ_XPUB_VERBOSER, &one, sizeof one);
    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
    if (zap && (zap_server_setup(zap, s, ZAP_DOMAIN_FEEDS, err, errcap) != 0 ||
                zmq_setsockopt(s, ZMQ_XPUB_MANUAL, &one, sizeof one) != 0)) {
        if (!*err)
            snprintf(err, errcap, "feed socket: %s", zmq_strerror(zmq_errno()));
        zmq_close(s);
        return NULL;
    }
    if (zmq_bind(s, endpoint) != 0) {
        snprintf(err, errcap, "--pub %s: %s", endpoint, zmq_strerror(zmq_errno()));
        zmq_close(s);
        return NULL;
    }
    feed_pub_t *p = xcalloc(1, sizeof *p);
    p->sock = s;
    p->lg = lg;
    p->zap = zap;
    snprintf(p->endpoint, sizeof p->endpoint, "%s", endpoint);
    log_info(lg, "publishing feeds on %s (send HWM %d)", endpoint, sndhwm);
    return p;
}

void feed_pub_free(feed_pub_t **pp, int linger_ms)
{
    if (!pp || !*pp)
        return;
    feed_pub_t *p = *pp;
    zmq_setsockopt(p->sock, ZMQ_LINGER, &linger_ms, sizeof linger_ms);
    zmq_close(p->sock);
    log_debug(p->lg, "feeds closed: %llu sent, %llu dropped", (unsigned long long)p->sent,
              (unsigned long long)p->drops);
    xfree(p);
    *pp = NULL;
}

/* Sends topic + body without waiting. With ZMQ_XPUB_NODROP set, a message that does not fit
 * every matching subscriber's queue is refused as a whole (EAGAIN), for every subscriber. */
static int send_frames(void *sock, const char *topic, size_t tn, const char *body, int *topic_sent)
{
    if (!*topic_sent) {
        if (zmq_send(sock, topic, tn, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0)
            return -1;
        *topic_sent = 1;
    }
    return zmq_send(sock, body, strlen(body), ZMQ_DONTWAIT) < 0 ? -1 : 0;
}

static void set_nodrop(void *sock, int on)
{
    zmq_setsockopt(sock, ZMQ_XPUB_NODROP, &on, sizeof on);
}

int feed_pub_send(feed_pub_t *p, const char *athlete, const char *kind, json_t *msg)
{
    if (!msg) {
        p->drops++;
        return -1;
    }
    char topic[256];
    int tn = snprintf(topic, sizeof topic, "gait/%s/%s", athlete, kind);
    if (strcmp(kind, "status") == 0) {
        /* daemon-wide stride latency in every status message (GAITD.md, "Latency") */
        json_t *d = json_object_get(msg, "daemon");
        if (json_is_object(d) && !json_object_get(d, "latency_ms"))
            json_object_set_new(d, "latency_ms", latency_stats_json(&p->lat));
    }
    char *body = json_dumps(msg, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(16));
    json_decref(msg);
    if (tn < 0 || (size_t)tn >= sizeof topic || !body) {
        free(body);
        p->drops++;
        return -1;
    }
    int topic_sent = 0;
    int rc = send_frames(p->sock, topic, (size_t)tn, body, &topic_sent);
    int e = rc < 0 ? errno : 0;
    int dropped = 0;
    if (rc < 0 && e == EAGAIN) {
        /* A subscriber's queue is full: a drop. With other subscriptions around, send again in
         * libzmq's lossy mode: the full queues skip the message, every other subscriber still
         * gets it (a stuck subscriber must not starve the others). */
        dropped = 1;
        if (p->subs > 1) {
            set_nodrop(p->sock, 0);
            rc = send_frames(p->sock, topic, (size_t)tn, body, &topic_sent);
            e = rc < 0 ? errno : 0;
            set_nodrop(p->sock, 1);
        }
    }
    if (rc < 0 && e != EAGAIN)
        log_warn(p->lg, "send %s: %s", topic, zmq_strerror(e));
    free(body);                  /* json_dumps allocates with malloc */
    if (dropped || rc < 0)
        p->drops++;
    if (rc < 0)
        return -1;
    p->sent++;
    return dropped ? -1 : 0;
}

void *feed_pub_socket(feed_pub_t *p)
{
    return p->sock;
}

void feed_pub_on_readable(feed_pub_t *p)
{
    for (;;) {
        uint8_t buf[256];
        zmq_msg_t m;
        zmq_msg_init(&m);
        int n = zmq_msg_recv(&m, p->sock, ZMQ_DONTWAIT);
        if (n < 0) {
            zmq_msg_close(&m);
            return;
        }
        if (p->zap)              /* CURVE: applied only for the athletes its key may watch */
            zap_xpub_subscription(p->zap, p->sock, &m);
        memcpy(buf, zmq_msg_data(&m), (size_t)n < sizeof buf ? (size_t)n : sizeof buf);
        zmq_msg_close(&m);
        if (n >= 1 && buf[0] == 1) {
            p->subs++;
            log_debug(p->lg, "subscription (%u)", p->subs);
        } else if (n >= 1 && buf[0] == 0 && p->subs > 0) {
            p->subs--;
        }
    }
}

unsigned feed_pub_subscriptions(const feed_pub_t *p)
{
    return p->subs;
}

uint64_t feed_pub_sent(const feed_pub_t *p)
{
    return p->sent;
}

uint64_t feed_pub_drops(const feed_pub_t *p)
{
    return p->drops;
}

latency_stats_t *feed_pub_latency(feed_pub_t *p)
{
    return p ? &p->lat : NULL;
}
