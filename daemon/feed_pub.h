/* feed_pub.h - the feed publisher: one ZeroMQ XPUB socket sending multipart feed messages
 *     frame 1: topic "gait/<athlete>/<kind>"   frame 2: the JSON object (compact, one line)
 * (CONTRACT.md). XPUB behaves as PUB for subscribers and also lets the daemon see subscriptions
 * (--wait-subscriber). Sends never block: ZMQ_SNDHWM bounds each subscriber's queue. A message
 * that does not fit some subscriber's queue (ZMQ_XPUB_NODROP + ZMQ_DONTWAIT -> EAGAIN) is counted
 * as a drop. With a single subscription that is exact, per message. With several, the message is
 * sent again in lossy mode so it still reaches every subscriber with room (a stuck subscriber
 * loses messages, the others lose none); libzmq then skips the full subscriber without telling
 * until it has drained its queue, so the count is a lower bound of what it missed (at least one
 * per episode of a full queue). XPUB_VERBOSER: every subscription comes up and is counted.
 */
#ifndef GAITD_FEED_PUB_H
#define GAITD_FEED_PUB_H
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "latency.h"
#include "log.h"

typedef struct feed_pub feed_pub_t;

/* Binds an XPUB socket on endpoint in zctx with send high-water mark sndhwm (messages per
 * subscriber). Returns NULL with a message in err on failure. Caller owns it (feed_pub_free). */
feed_pub_t *feed_pub_new(void *zctx, const char *endpoint, int sndhwm, const log_t *lg, char *err,
                         size_t errcap);

/* As feed_pub_new; with zap (CURVE on, zap.h) the socket is a CURVE server and each
 * subscription is checked against its client key's feeds (ZMQ_XPUB_MANUAL). zap is borrowed. */
struct zap;
feed_pub_t *feed_pub_new_ex(void *zctx, const char *endpoint, int sndhwm, struct zap *zap,
                            const log_t *lg, char *err, size_t errcap);

/* Closes the socket, letting queued messages go out for at most linger_ms, and sets *p to NULL. */
void feed_pub_free(feed_pub_t **p, int linger_ms);

/* Publishes msg on topic gait/<athlete>/<kind>. Takes ownership of msg (json_decref'd here, NULL
 * is counted as a drop). A "status" message with a "daemon" object gets daemon.latency_ms
 * (latency_stats_json of feed_pub_latency) unless it has one. Returns 0 when queued for every
 * subscriber, -1 when dropped for at least one (counted in feed_pub_drops; feed_pub_sent counts
 * the messages queued for at least the subscribers with room). */
int feed_pub_send(feed_pub_t *p, const char *athlete, const char *kind, json_t *msg);

/* The socket, to register with the loop for ZMQ_POLLIN (subscription messages). */
void *feed_pub_socket(feed_pub_t *p);
/* Reads every pending subscription message. Call when the socket is readable. */
void feed_pub_on_readable(feed_pub_t *p);
/* Subscriptions seen minus unsubscriptions, over all subscribers (a subscriber with two
 * prefixes counts twice). */
unsigned feed_pub_subscriptions(const feed_pub_t *p);

uint64_t feed_pub_sent(const feed_pub_t *p);
uint64_t feed_pub_drops(const feed_pub_t *p);
/* The daemon-wide stride latency figures the sessions add to (borrowed; NULL when p is NULL). */
latency_stats_t *feed_pub_latency(feed_pub_t *p);

#endif
