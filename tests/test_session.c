/* test_session.c - daemon/session.c with its two sources: a simulated athlete (src_sim) feeds
 * real pod frames through the session (decode, pipeline, feeds, recording); the recording is
 * replayed (src_replay) and must give byte-identical stride messages. Also: stream damage and
 * sequence gaps are counted, split feeding works, a finished session refuses data. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>
#include "feed_pub.h"
#include "pod.h"
#include "session.h"
#include "src_replay.h"
#include "src_sim.h"

typedef struct fx {
    void *ctx;
    feed_pub_t *pub;
    void *sub;
    char dir[64];
} fx_t;

static int setup(void **state)
{
    static fx_t f;
    memset(&f, 0, sizeof f);
    f.ctx = zmq_ctx_new();
    char err[256];
    f.pub = feed_pub_new(f.ctx, "inproc://session-test", 100000, NULL, err, sizeof err);
    if (!f.pub)
        return -1;
    f.sub = zmq_socket(f.ctx, ZMQ_SUB);
    int hwm = 100000;
    zmq_setsockopt(f.sub, ZMQ_RCVHWM, &hwm, sizeof hwm);
    zmq_connect(f.sub, "inproc://session-test");
    zmq_setsockopt(f.sub, ZMQ_SUBSCRIBE, "", 0);
    for (int i = 0; i < 200 && feed_pub_subscriptions(f.pub) == 0; i++) {
        zmq_pollitem_t it = {feed_pub_socket(f.pub), 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&it, 1, 10) > 0)
            feed_pub_on_readable(f.pub);
    }
    snprintf(f.dir, sizeof f.dir, "/tmp/test_session.XXXXXX");
    if (!mkdtemp(f.dir))
        return -1;
    *state = &f;
    return 0;
}

static int teardown(void **state)
{
    fx_t *f = *state;
    int zero = 0;
    zmq_setsockopt(f->sub, ZMQ_LINGER, &zero, sizeof zero);
    zmq_close(f->sub);
    feed_pub_free(&f->pub, 0);
    zmq_ctx_term(f->ctx);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* Collected messages: topics and bodies. */
typedef struct msgs {
    int n;
    char topic[2048][64];
    char *body[2048];
} msgs_t;

static void collect(fx_t *f, msgs_t *m)
{
    for (;;) {
        char topic[64];
        int n = zmq_recv(f->sub, topic, sizeof topic - 1, ZMQ_DONTWAIT);
        if (n < 0)
            return;
        topic[n] = '\0';
        zmq_msg_t b;
        zmq_msg_init(&b);
        assert_true(zmq_msg_recv(&b, f->sub, 0) >= 0);
        assert_true(m->n < 2048);
        snprintf(m->topic[m->n], sizeof m->topic[0], "%s", topic);
        size_t bl = zmq_msg_size(&b);
        m->body[m->n] = malloc(bl + 1);
        memcpy(m->body[m->n], zmq_msg_data(&b), bl);
        m->body[m->n][bl] = '\0';
        m->n++;
        zmq_msg_close(&b);
    }
}

static void msgs_free(msgs_t *m)
{
    for (int i = 0; i < m->n; i++)
        free(m->body[i]);
    m->n = 0;
}

static int count_kind(const msgs_t *m, const char *topic)
{
    int c = 0;
    for (int i = 0; i < m->n; i++)
        c += !strcmp(m->topic[i], topic);
    return c;
}

static void run_source(source_t *src, fx_t *f, msgs_t *m)
{
    int64_t now = 1;
    for (int i = 0; i < 100000; i++) {
        int64_t rc = src->ops->step(src->impl, now);
        collect(f, m);
        if (rc == SOURCE_DONE)
            return;
        now += 1000;
    }
    fail_msg("source did not end");
}

static void test_sim_record_replay_identical(void **state)
{
    fx_t *f = *state;
    static msgs_t live, replay;
    source_env_t env = {.pub = f->pub, .record_dir = f->dir, .speed = 0.0, .duration_s = 12.0,
                        .window_period_s = 5.0};
    src_sim_cfg_t c;
    memset(&c, 0, sizeof c);
    c.athlete = "simA";
    sim_config_default(&c.sim);
    c.sim.seed = 7;
    c.sim.duration_s = 600;
    c.sim.contact_scale[0] = 1.08;
    char err[512];
    source_t src;
    assert_int_equal(src_sim_new(&src, &c, &env, err, sizeof err), 0);
    session_t *s = src.ops->session(src.impl);
    assert_string_equal(session_athlete(s), "simA");
    run_source(&src, f, &live);
    assert_true(session_finished(s));
    /* 12 s of data: start to last sample just under 12 s. */
    assert_true(fabs(session_data_time(s) - session_data_start(s) - 12.0) < 0.01);
    json_t *st = session_status(s);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(st, "samples"), "L")),
                     6000);
    assert_int_equal(json_integer_value(json_object_get(st, "crc_errors")), 0);
    assert_int_equal(json_integer_value(json_object_get(st, "gaps")), 0);
    assert_int_equal(json_integer_value(json_object_get(st, "frames_ok")), 2 * 6000 / 25);
    const char *file = json_string_value(json_object_get(json_object_get(st, "recording"), "file"));
    assert_non_null(file);
    char path[512];
    snprintf(path, sizeof path, "%s", file);
    json_decref(st);
    src.ops->free(src.impl);

    int strides = count_kind(&live, "gait/simA/stride");
    assert_true(strides >= 25);  /* 12 s at ~170 steps/min: about 16 strides per foot */
    assert_int_equal(count_kind(&live, "gait/simA/window"), 2);
    assert_int_equal(count_kind(&live, "gait/simA/summary"), 1);

    /* Replay of the recording through the same decode path: identical stride messages. */
    env.record_dir = NULL;
    env.duration_s = 0;
    assert_int_equal(src_replay_new(&src, path, &env, err, sizeof err), 0);
    assert_string_equal(session_athlete(src.ops->session(src.impl)), "simA");
    run_source(&src, f, &replay);
    src.ops->free(src.impl);
    assert_int_equal(count_kind(&replay, "gait/simA/stride"), strides);
    int j = 0;
    for (int i = 0; i < live.n; i++) {
        if (strcmp(live.topic[i], "gait/simA/stride"))
            continue;
        while (j < replay.n && strcmp(replay.topic[j], "gait/simA/stride"))
            j++;
        assert_true(j < replay.n);
        assert_string_equal(live.body[i], replay.body[j]);
        j++;
    }
    assert_int_equal(count_kind(&replay, "gait/simA/summary"), 1);
    msgs_free(&replay);

    /* A recording cut in the middle of a chunk (a crash before its flush completed): everything
     * before the damaged chunk is replayed, then the session ends normally with its summary. */
    char cut[600];
    snprintf(cut, sizeof cut, "%s/cut.gaitrec", f->dir);
    FILE *in = fopen(path, "rb"), *out = fopen(cut, "wb");
    assert_non_null(in);
    assert_non_null(out);
    fseek(in, 0, SEEK_END);
    long size = ftell(in);
    fseek(in, 0, SEEK_SET);
    for (long i = 0; i < size * 2 / 3; i++)
        fputc(fgetc(in), out);
    fclose(in);
    fclose(out);
    assert_int_equal(src_replay_new(&src, cut, &env, err, sizeof err), 0);
    run_source(&src, f, &replay);
    src.ops->free(src.impl);
    int cut_strides = count_kind(&replay, "gait/simA/stride");
    assert_true(cut_strides > 0 && cut_strides < strides);
    assert_int_equal(count_kind(&replay, "gait/simA/summary"), 1);
    /* The last one may be finished by dsp_pipeline_finish at the cut: not compared. */
    for (int i = 0, k = 0; i < live.n && k < cut_strides - 1; i++) {
        if (strcmp(live.topic[i], "gait/simA/stride"))
            continue;
        while (strcmp(replay.topic[k], "gait/simA/stride"))
            k++;
        assert_string_equal(live.body[i], replay.body[k]); /* same strides up to the damage */
        k++;
    }
    msgs_free(&live);
    msgs_free(&replay);

    /* A missing file is refused with its name. */
    assert_int_equal(src_replay_new(&src, "/nonexistent/x.gaitrec", &env, err, sizeof err), -1);
    assert_non_null(strstr(err, "/nonexistent/x.gaitrec"));
}

static void test_damage_gaps_split(void **state)
{
    fx_t *f = *state;
    static msgs_t m;
    sim_config_t sc;
    sim_config_default(&sc);
    session_cfg_t cfg;
    memset(&cfg, 0, sizeof cfg);
    src_sim_header(&cfg.header, "dmg", &sc, INT64_C(1795917863000000));
    cfg.window_period_s = 5;
    char err[512];
    session_t *s = session_new(&cfg, f->pub, NULL, err, sizeof err);
    assert_non_null(s);

    static pod_msg_t msg;
    memset(&msg, 0, sizeof msg);
    msg.type = POD_MSG_SAMPLES;
    pod_samples_t *fr = &msg.u.samples;
    fr->rate_hz = 500;
    fr->acc_range_g = 16;
    fr->gyr_range_dps = 2000;
    fr->n = 25;
    for (int i = 0; i < 25; i++)
        fr->s[i][2] = 2048;      /* 1 g on z at +-16 g */
    uint8_t wire[POD_MAX_FRAME];
    size_t len;
    uint64_t t = 40000000;
    for (uint32_t seq = 0; seq < 10; seq++) {
        if (seq == 4)
            continue;            /* a lost frame: one gap of one frame */
        fr->seq = seq;
        fr->t_dev_us = t + seq * 50000;
        assert_int_equal(pod_encode(&msg, wire, sizeof wire, &len), 0);
        if (seq == 6)
            wire[len / 2] ^= 0x40; /* corrupt: CRC error, frame skipped */
        if (seq == 8) {
            for (size_t k = 0; k < len; k++) /* byte by byte */
                assert_int_equal(session_feed_frame(s, 0, wire + k, 1, 0), 0);
        } else {
            assert_int_equal(session_feed_frame(s, 0, wire, len, 0), 0);
        }
    }
    assert_int_equal(session_feed_frame(s, 5, wire, len, 0), -1); /* no such pod */
    json_t *st = session_status(s);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(st, "samples"), "L")),
                     8 * 25);
    assert_int_equal(json_integer_value(json_object_get(st, "frames_ok")), 8);
    assert_true(json_integer_value(json_object_get(st, "crc_errors")) >= 1);
    assert_true(json_integer_value(json_object_get(st, "gaps")) >= 1);
    assert_true(json_integer_value(json_object_get(st, "frames_lost")) >= 2);
    assert_string_equal(json_string_value(json_object_get(st, "type")), "status");
    assert_string_equal(json_string_value(json_object_get(st, "athlete")), "dmg");
    json_decref(st);
    /* Sample times are on the host clock: pod clock + the header's clock offset. */
    assert_true(fabs(session_data_start(s) - 1795917863.0) < 1e-6);

    session_finish(s);
    session_finish(s);           /* idempotent: one summary */
    assert_int_equal(session_feed_frame(s, 0, wire, len, 0), -1);
    session_free(&s);
    assert_null(s);
    collect(f, &m);
    assert_int_equal(count_kind(&m, "gait/dmg/summary"), 1);
    msgs_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sim_record_replay_identical),
        cmocka_unit_test(test_damage_gaps_split),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
