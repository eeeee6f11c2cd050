/* test_feed_pub.c - daemon/feed_pub.c: topic and JSON frames, subscription counting, and
 * non-blocking sends that count drops when a subscriber's queue is full, a stuck subscriber
 * that does not starve a reading one, and the latency figures in status messages. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>
#include <zmq.h>
#include "feed_pub.h"

static void wait_subscribed(feed_pub_t *p)
{
    for (int i = 0; i < 200 && feed_pub_subscriptions(p) == 0; i++) {
        zmq_pollitem_t it = {feed_pub_socket(p), 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&it, 1, 10) > 0)
            feed_pub_on_readable(p);
    }
    assert_true(feed_pub_subscriptions(p) > 0);
}

static void test_frames(void **state)
{
    (void)state;
    void *ctx = zmq_ctx_new();
    char err[256];
    feed_pub_t *p = feed_pub_new(ctx, "inproc://feed-frames", 100, NULL, err, sizeof err);
    assert_non_null(p);
    void *sub = zmq_socket(ctx, ZMQ_SUB);
    assert_int_equal(zmq_connect(sub, "inproc://feed-frames"), 0);
    zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "gait/a1/", 8);
    wait_subscribed(p);

    assert_int_equal(feed_pub_send(p, "a1", "stride", json_pack("{s:s, s:s, s:i}", "type",
                                                                "stride", "athlete", "a1", "n",
                                                                3)),
                     0);
    assert_int_equal(feed_pub_send(p, "a2", "stride", json_pack("{s:s}", "type", "stride")), 0);
    assert_int_equal(feed_pub_send(p, "a1", "x", NULL), -1);
    char topic[64], body[256];
    int n = zmq_recv(sub, topic, sizeof topic - 1, 0);
    assert_int_equal(n, (int)strlen("gait/a1/stride"));
    topic[n] = '\0';
    assert_string_equal(topic, "gait/a1/stride");
    int more;
    size_t ml = sizeof more;
    zmq_getsockopt(sub, ZMQ_RCVMORE, &more, &ml);
    assert_true(more);
    n = zmq_recv(sub, body, sizeof body - 1, 0);
    assert_true(n > 0);
    body[n] = '\0';
    assert_string_equal(body, "{\"type\":\"stride\",\"athlete\":\"a1\",\"n\":3}");
    /* The other athlete's message is filtered out by the subscription. */
    assert_int_equal(zmq_recv(sub, topic, sizeof topic, ZMQ_DONTWAIT), -1);
    assert_true(feed_pub_sent(p) == 2);
    assert_true(feed_pub_drops(p) == 1);

    int zero = 0;
    zmq_setsockopt(sub, ZMQ_LINGER, &zero, sizeof zero);
    zmq_close(sub);
    feed_pub_free(&p, 0);
    assert_null(p);
    zmq_ctx_term(ctx);
}

static void test_drops_never_block(void **state)
{
    (void)state;
    void *ctx = zmq_ctx_new();
    char err[256];
    feed_pub_t *p = feed_pub_new(ctx, "inproc://feed-drops", 5, NULL, err, sizeof err);
    assert_non_null(p);
    void *sub = zmq_socket(ctx, ZMQ_SUB);
    int hwm = 5;
    zmq_setsockopt(sub, ZMQ_RCVHWM, &hwm, sizeof hwm);
    assert_int_equal(zmq_connect(sub, "inproc://feed-drops"), 0);
    zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "", 0);
    wait_subscribed(p);
    /* The subscriber never reads: sends must return at once and count the overflow. */
    for (int i = 0; i < 1000; i++)
        feed_pub_send(p, "a", "status", json_pack("{s:i}", "i", i));
    assert_true(feed_pub_sent(p) + feed_pub_drops(p) == 1000);
    assert_true(feed_pub_drops(p) > 900);
    assert_true(feed_pub_sent(p) >= 5);

    /* A bad endpoint is refused with a message naming it. */
    feed_pub_t *q = feed_pub_new(ctx, "bogus://x", 5, NULL, err, sizeof err);
    assert_null(q);
    assert_non_null(strstr(err, "bogus://x"));

    int zero = 0;
    zmq_setsockopt(sub, ZMQ_LINGER, &zero, sizeof zero);
    zmq_close(sub);
    feed_pub_free(&p, 0);
    zmq_ctx_term(ctx);
}

/* A stuck subscriber next to a reading one: the reader gets every message, the stuck one's
 * overflow is counted as drops, and no send waits. */
static void test_stuck_does_not_starve_others(void **state)
{
    (void)state;
    void *ctx = zmq_ctx_new();
    char err[256];
    feed_pub_t *p = feed_pub_new(ctx, "inproc://feed-stuck", 5, NULL, err, sizeof err);
    assert_non_null(p);
    int hwm = 5;
    void *stuck = zmq_socket(ctx, ZMQ_SUB);
    zmq_setsockopt(stuck, ZMQ_RCVHWM, &hwm, sizeof hwm);
    assert_int_equal(zmq_connect(stuck, "inproc://feed-stuck"), 0);
    zmq_setsockopt(stuck, ZMQ_SUBSCRIBE, "", 0);
    void *rd = zmq_socket(ctx, ZMQ_SUB);
    assert_int_equal(zmq_connect(rd, "inproc://feed-stuck"), 0);
    zmq_setsockopt(rd, ZMQ_SUBSCRIBE, "gait/", 5);
    for (int i = 0; i < 200 && feed_pub_subscriptions(p) < 2; i++) {
        zmq_pollitem_t it = {feed_pub_socket(p), 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&it, 1, 10) > 0)
            feed_pub_on_readable(p);
    }
    assert_int_equal(feed_pub_subscriptions(p), 2);

    int got = 0;
    for (int i = 0; i < 1000; i++) {
        feed_pub_send(p, "a", "stride", json_pack("{s:i}", "i", i));
        char buf[64];
        for (;;) {
            int n = zmq_recv(rd, buf, sizeof buf, ZMQ_DONTWAIT); /* topic */
            if (n < 0)
                break;
            n = zmq_recv(rd, buf, sizeof buf - 1, 0);         /* body */
            assert_true(n > 0);
            buf[n] = '\0';
            char want[32];
            snprintf(want, sizeof want, "{\"i\":%d}", got);
            assert_string_equal(buf, want);                 /* in order, none missing */
            got++;
        }
    }
    assert_int_equal(got, 1000);
    assert_true(feed_pub_sent(p) == 1000);
    assert_true(feed_pub_drops(p) >= 1);
    int stuck_got = 0;
    char buf[64];
    while (zmq_recv(stuck, buf, sizeof buf, ZMQ_DONTWAIT) >= 0)
        stuck_got++;
    assert_true(stuck_got / 2 < 100);   /* topic + body frames; bounded by the HWMs */

    /* The reader leaves: its unsubscription comes up (XPUB_VERBOSER). */
    int zero = 0;
    zmq_setsockopt(rd, ZMQ_LINGER, &zero, sizeof zero);
    zmq_close(rd);
    for (int i = 0; i < 200 && feed_pub_subscriptions(p) > 1; i++) {
        zmq_pollitem_t it = {feed_pub_socket(p), 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&it, 1, 10) > 0)
            feed_pub_on_readable(p);
    }
    assert_int_equal(feed_pub_subscriptions(p), 1);

    zmq_setsockopt(stuck, ZMQ_LINGER, &zero, sizeof zero);
    zmq_close(stuck);
    feed_pub_free(&p, 0);
    zmq_ctx_term(ctx);
}

/* Status messages with a daemon object carry the stride latency figures. */
static void test_status_latency(void **state)
{
    (void)state;
    void *ctx = zmq_ctx_new();
    char err[256];
    feed_pub_t *p = feed_pub_new(ctx, "inproc://feed-lat", 100, NULL, err, sizeof err);
    assert_non_null(p);
    void *sub = zmq_socket(ctx, ZMQ_SUB);
    assert_int_equal(zmq_connect(sub, "inproc://feed-lat"), 0);
    zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "", 0);
    wait_subscribed(p);
    latency_hist_add(&feed_pub_latency(p)->processing, 2.0);
    assert_null(feed_pub_latency(NULL));
    assert_int_equal(feed_pub_send(p, "a", "status", json_pack("{s:s, s:{s:i}}", "type", "status",
                                                               "daemon", "sent", 1)),
                     0);
    char topic[64], body[1024];
    assert_true(zmq_recv(sub, topic, sizeof topic, 0) > 0);
    int n = zmq_recv(sub, body, sizeof body - 1, 0);
    assert_true(n > 0);
    body[n] = '\0';
    json_t *o = json_loads(body, 0, NULL);
    assert_non_null(o);
    json_t *pr = json_object_get(json_object_get(json_object_get(o, "daemon"), "latency_ms"),
                                 "processing");
    assert_int_equal(json_integer_value(json_object_get(pr, "n")), 1);
    assert_true(json_real_value(json_object_get(pr, "max")) == 2.0);
    json_decref(o);
    int zero = 0;
    zmq_setsockopt(sub, ZMQ_LINGER, &zero, sizeof zero);
    zmq_close(sub);
    feed_pub_free(&p, 0);
    zmq_ctx_term(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_frames),
        cmocka_unit_test(test_drops_never_block),
        cmocka_unit_test(test_stuck_does_not_starve_others),
        cmocka_unit_test(test_status_latency),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
