/* src_sim.c - simulated athlete with two simulated pods (see src_sim.h). */
#define LOG_PREFIX "sim"
#include "src_sim.h"
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include "alloc.h"
#include "loop.h"
#include "pod.h"
#include "proto.h"

/* Pod clocks start at an arbitrary uptime, as real pods do. */
#define POD_BOOT_US(foot) (INT64_C(40000000) + (foot) * INT64_C(13000000))

typedef struct src_sim {
    sim_t *sim;
    session_t *sess;
    source_env_t env;
    /* the frame being filled, per foot (pod index = foot): first sample's pod time, samples so
     * far, raw samples (frame_samples each; the frame itself is built in scratch when sent) */
    uint64_t t_dev_us[2];
    unsigned n[2];
    int16_t (*raw[2])[6];
    uint32_t seq[2];
    unsigned frame_samples;
    uint16_t acc_range_g, gyr_range_dps;
    double clock_offset_s[2];
    double rate_hz;
    uint64_t k;                  /* sample instants produced */
    int64_t start_wall_us;       /* first step, 0 before */
    int done;
} src_sim_t;

/* Frame and wire scratch, shared by the simulated pods of a thread (a frame is encoded and
 * handed to the session before the next): 7 KiB not held per athlete. */
static _Thread_local struct {
    pod_msg_t msg;
    uint8_t wire[POD_MAX_FRAME];
} scratch;

void src_sim_header(rec_header_t *h, const char *athlete, const sim_config_t *c,
                    int64_t start_unix_us)
{
    rec_header_init(h);
    snprintf(h->athlete, sizeof h->athlete, "%s", athlete);
    snprintf(h->source, sizeof h->source, "simulator");
    h->start_unix_us = start_unix_us;
    h->n_pods = 2;
    for (int f = 0; f < 2; f++) {
        rec_pod_t *p = &h->pods[f];
        memset(p, 0, sizeof *p);
        snprintf(p->serial, sizeof p->serial, "SIM-%.8s-%c", athlete, f == 0 ? 'L' : 'R');
        p->foot = f == 0 ? 'L' : 'R';
        p->rate_hz = (uint16_t)lround(c->rate_hz);
        p->acc_range_g = c->acc_range_g;
        p->gyr_range_dps = c->gyr_range_dps;
        for (int a = 0; a < 3; a++)
            p->acc_scale[a] = 1.0f;
        /* host_us = pod_us + offset: what a clock sync at the start would measure. */
        p->clock_offset_us = start_unix_us - POD_BOOT_US(f);
    }
}

/* Encodes foot f's frame and hands it to the session. */
static void emit(src_sim_t *ss, int f, int64_t now_us)
{
    if (ss->n[f] == 0)
        return;
    pod_msg_t *m = &scratch.msg;
    pod_samples_t *fr = &m->u.samples;
    m->type = POD_MSG_SAMPLES;
    fr->seq = ss->seq[f]++;
    fr->t_dev_us = ss->t_dev_us[f];
    fr->rate_hz = (uint16_t)ss->rate_hz;
    fr->acc_range_g = ss->acc_range_g;
    fr->gyr_range_dps = ss->gyr_range_dps;
    fr->n = (uint16_t)ss->n[f];
    fr->run_id = 0;
    memcpy(fr->s, ss->raw[f], ss->n[f] * sizeof fr->s[0]);
    size_t len;
    int rc = pod_encode(m, scratch.wire, sizeof scratch.wire, &len);
    if (rc != 0)
        log_error(ss->env.lg, "%s: pod_encode: %s", session_athlete(ss->sess), proto_strerror(rc));
    else
        session_feed_frame(ss->sess, (unsigned)f, scratch.wire, len, now_us);
    ss->n[f] = 0;
}

/* Produces one sample instant. Returns 0 when the simulator has ended. */
static int produce(src_sim_t *ss, int64_t now_us)
{
    dsp_sample_t out[2];
    if (!sim_next(ss->sim, out))
        return 0;
    ss->k++;
    for (int f = 0; f < 2; f++) {
        if (ss->n[f] == 0) {
            double pod_t = out[f].t + ss->clock_offset_s[f];
            int64_t us = POD_BOOT_US(f) + llround(pod_t * 1e6);
            ss->t_dev_us[f] = us > 0 ? (uint64_t)us : 0;
        }
        dsp_si_to_raw(&out[f], ss->acc_range_g, ss->gyr_range_dps, NULL, ss->raw[f][ss->n[f]]);
        ss->n[f]++;
    }
    if (ss->n[0] >= ss->frame_samples) {
        emit(ss, 0, now_us);
        emit(ss, 1, now_us);
    }
    return 1;
}

static void finish(src_sim_t *ss, int64_t now_us)
{
    if (ss->done)
        return;
    emit(ss, 0, now_us);
    emit(ss, 1, now_us);
    session_finish(ss->sess);
    ss->done = 1;
}

static int64_t sim_step(void *impl, int64_t now_us)
{
    src_sim_t *ss = impl;
    if (ss->done)
        return SOURCE_DONE;
    if (!ss->start_wall_us)
        ss->start_wall_us = now_us;
    double due = source_due_s(now_us - ss->start_wall_us, ss->env.speed);
    int64_t deadline = now_us + SOURCE_BUDGET_US;
    for (;;) {
        double t_next = (double)ss->k / ss->rate_hz;
        if (ss->env.duration_s > 0 && t_next >= ss->env.duration_s) {
            finish(ss, now_us);
            return SOURCE_DONE;
        }
        if (t_next > due)
            return 20;
        if (!produce(ss, now_us)) {
            finish(ss, now_us);
            return SOURCE_DONE;
        }
        if (ss->env.speed <= 0.0 && ss->k % ss->frame_samples == 0 && loop_now_us() > deadline)
            return 0;
    }
}

static session_t *sim_session(void *impl)
{
    return ((src_sim_t *)impl)->sess;
}

static void sim_stop(void *impl)
{
    finish(impl, loop_now_us());
}

static void sim_free_impl(void *impl)
{
    src_sim_t *ss = impl;
    if (!ss)
        return;
    session_free(&ss->sess);
    sim_free(&ss->sim);
    xfree(ss->raw[0]);
    xfree(ss->raw[1]);
    xfree(ss);
}

static const source_ops_t sim_ops = {
    .kind = "simulator",
    .step = sim_step,
    .session = sim_session,
    .stop = sim_stop,
    .free = sim_free_impl,
};

int src_sim_new(source_t *src, const src_sim_cfg_t *cfg, const source_env_t *env, char *err,
                size_t errcap)
{
    src_sim_t *ss = xcalloc(1, sizeof *ss);
    ss->env = *env;
    ss->sim = sim_new(&cfg->sim);
    if (!ss->sim) {
        snprintf(err, errcap, "%s: invalid simulator configuration", cfg->athlete);
        xfree(ss);
        return -1;
    }
    const sim_config_t *c = sim_config(ss->sim);
    ss->rate_hz = c->rate_hz;
    if (!(ss->rate_hz >= 50 && ss->rate_hz <= 2000) || ss->rate_hz != floor(ss->rate_hz)) {
        snprintf(err, errcap, "%s: simulated rate %g Hz is not a whole number in 50..2000",
                 cfg->athlete, ss->rate_hz);
        sim_free(&ss->sim);
        xfree(ss);
        return -1;
    }
    ss->acc_range_g = c->acc_range_g;
    ss->gyr_range_dps = c->gyr_range_dps;
    ss->clock_offset_s[0] = c->clock_offset_s[0];
    ss->clock_offset_s[1] = c->clock_offset_s[1];
    ss->frame_samples = cfg->frame_samples ? cfg->frame_samples : SRC_SIM_FRAME_SAMPLES;
    if (ss->frame_samples > POD_MAX_SAMPLES)
        ss->frame_samples = POD_MAX_SAMPLES;
    for (int f = 0; f < 2; f++)
        ss->raw[f] = xcalloc(ss->frame_samples, sizeof ss->raw[f][0]);

    int64_t start = cfg->start_unix_us;
    if (!start) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        start = (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
    }
    session_cfg_t sc;
    memset(&sc, 0, sizeof sc);
    src_sim_header(&sc.header, cfg->athlete, c, start);
    sc.record_dir = env->record_dir;
    sc.window_period_s = env->window_period_s;
    ss->sess = session_new(&sc, env->pub, env->lg, err, errcap);
    if (!ss->sess) {
        sim_free_impl(ss);
        return -1;
    }
    src->ops = &sim_ops;
    src->impl = ss;
    return 0;
}
