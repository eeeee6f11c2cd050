/* feed_pub.c - ZeroMQ feed publisher (see feed_pub.h). */
#define LOG_PREFIX "feed"
#include "feed_pub.h"
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <zmq.h>
#include "alloc.h"

struct feed_pub {
    void *sock;
    const log_t *lg;
    uint64_t sent, drops;
    unsigned subs;
    char endpoint[256];
};

feed_pub_t *feed_pub_new(void *zctx, const char *endpoint, int sndhwm, const log_t *lg, char *err,
                         size_t errcap)
{
    void *s = zmq_socket(zctx, ZMQ_XPUB);
    if (!s) {
        snprintf(err, errcap, "feed socket: %s", zmq_strerror(zmq_errno()));
        return NULL;
    }
    int one = 1, zero = 0;
    zmq_setsockopt(s, ZMQ_SNDHWM, &sndhwm, sizeof sndhwm);
    zmq_setsockopt(s, ZMQ_XPUB_NODROP, &one, sizeof one);
    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
    if (zmq_bind(s, endpoint) != 0) {
        snprintf(err, errcap, "--pub %s: %s", endpoint, zmq_strerror(zmq_errno()));
        zmq_close(s);
        return NULL;
    }
    feed_pub_t *p = xcalloc(1, sizeof *p);
    p->sock = s;
    p->lg = lg;
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

int feed_pub_send(feed_pub_t *p, const char *athlete, const char *kind, json_t *msg)
{
    if (!msg) {
        p->drops++;
        return -1;
    }
    char topic[256];
    int tn = snprintf(topic, sizeof topic, "gait/%s/%s", athlete, kind);
    char *body = json_dumps(msg, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(16));
    json_decref(msg);
    if (tn < 0 || (size_t)tn >= sizeof topic || !body) {
        free(body);
        p->drops++;
        return -1;
    }
    int rc = zmq_send(p->sock, topic, (size_t)tn, ZMQ_SNDMORE | ZMQ_DONTWAIT);
    if (rc >= 0)
        rc = zmq_send(p->sock, body, strlen(body), ZMQ_DONTWAIT);
    free(body);                  /* json_dumps allocates with malloc */
    if (rc < 0) {
        if (errno != EAGAIN)
            log_warn(p->lg, "send %s: %s", topic, zmq_strerror(errno));
        p->drops++;
        return -1;
    }
    p->sent++;
    return 0;
}

void *feed_pub_socket(feed_pub_t *p)
{
    return p->sock;
}

void feed_pub_on_readable(feed_pub_t *p)
{
    for (;;) {
        uint8_t buf[256];
        int n = zmq_recv(p->sock, buf, sizeof buf, ZMQ_DONTWAIT);
        if (n < 0)
            return;
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
