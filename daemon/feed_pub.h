/* feed_pub.h - the feed publisher: one ZeroMQ XPUB socket sending multipart feed messages
 *     frame 1: topic "gait/<athlete>/<kind>"   frame 2: the JSON object (compact, one line)
 * (CONTRACT.md). XPUB behaves as PUB for subscribers and also lets the daemon see subscriptions
 * (--wait-subscriber). Sends never block: ZMQ_SNDHWM bounds each subscriber's queue and a
 * message that does not fit (ZMQ_XPUB_NODROP + ZMQ_DONTWAIT -> EAGAIN) is dropped and counted.
 */
#ifndef GAITD_FEED_PUB_H
#define GAITD_FEED_PUB_H
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "log.h"

typedef struct feed_pub feed_pub_t;

/* Binds an XPUB socket on endpoint in zctx with send high-water mark sndhwm (messages per
 * subscriber). Returns NULL with a message in err on failure. Caller owns it (feed_pub_free). */
feed_pub_t *feed_pub_new(void *zctx, const char *endpoint, int sndhwm, const log_t *lg, char *err,
                         size_t errcap);

/* Closes the socket, letting queued messages go out for at most linger_ms, and sets *p to NULL. */
void feed_pub_free(feed_pub_t **p, int linger_ms);

/* Publishes msg on topic gait/<athlete>/<kind>. Takes ownership of msg (json_decref'd here, NULL
 * is counted as a drop). Returns 0 when queued, -1 when dropped (counted in feed_pub_drops). */
int feed_pub_send(feed_pub_t *p, const char *athlete, const char *kind, json_t *msg);

/* The socket, to register with the loop for ZMQ_POLLIN (subscription messages). */
void *feed_pub_socket(feed_pub_t *p);
/* Reads every pending subscription message. Call when the socket is readable. */
void feed_pub_on_readable(feed_pub_t *p);
/* Subscriptions seen minus unsubscriptions (an approximation of the subscriber count). */
unsigned feed_pub_subscriptions(const feed_pub_t *p);

uint64_t feed_pub_sent(const feed_pub_t *p);
uint64_t feed_pub_drops(const feed_pub_t *p);

#endif
