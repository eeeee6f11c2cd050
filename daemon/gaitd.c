/* gaitd - the gait daemon: sources (simulated pods, replayed files) -> one analysis session per
 * athlete -> ZeroMQ feeds; a control endpoint; recordings; clean stop on SIGTERM/SIGINT.
 *
 * main owns every object (daemon_t below); the modules borrow what they need. Everything runs in
 * one thread around one event loop (loop.h); signals arrive through a signalfd in that loop.
 */
#define LOG_PREFIX "gaitd"
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>
#include "alloc.h"
#include "control.h"
#include "feed.h"
#include "feed_pub.h"
#include "log.h"
#include "loop.h"
#include "opts.h"
#include "sim.h"
#include "source.h"
#include "src_replay.h"
#include "src_sim.h"
#include "src_usb.h"

#define GAITD_VERSION "0.1.0"
#define FEED_LINGER_MS 1000

typedef struct daemon_src {
    source_t src;
    int timer;                   /* loop timer id, 0 when not running */
    int done;
} daemon_src_t;

typedef struct daemon {
    gaitd_opts_t opts;
    log_t log;
    loop_t *loop;
    void *zctx;
    feed_pub_t *pub;
    control_t *control;
    int sigfd;
    daemon_src_t *srcs;
    int n_srcs;
    int started;                 /* sources running */
    int stopping;
    int64_t start_us;
    int wait_timer;
} daemon_t;

static void start_sources(daemon_t *d);
static void stop_all(daemon_t *d, const char *why);

static json_t *daemon_info(const daemon_t *d)
{
    return json_pack("{s:s, s:f, s:I, s:I, s:i, s:i, s:b}", "version", GAITD_VERSION, "uptime_s",
                     (double)(loop_now_us() - d->start_us) * 1e-6, "sent",
                     (json_int_t)feed_pub_sent(d->pub), "drops",
                     (json_int_t)feed_pub_drops(d->pub), "subscriptions",
                     (int)feed_pub_subscriptions(d->pub), "sources", d->n_srcs, "started",
                     d->started);
}

static int all_done(const daemon_t *d)
{
    for (int i = 0; i < d->n_srcs; i++)
        if (!d->srcs[i].done)
            return 0;
    return 1;
}

static int64_t source_timer(loop_t *l, void *ud)
{
    daemon_src_t *ds = ud;
    (void)l;
    int64_t next = ds->src.ops->step(ds->src.impl, loop_now_us());
    if (next != SOURCE_DONE)
        return next;
    ds->done = 1;
    ds->timer = 0;
    return LOOP_TIMER_END;
}

/* One status message per athlete, with the daemon-wide counters. */
static int64_t status_timer(loop_t *l, void *ud)
{
    daemon_t *d = ud;
    (void)l;
    for (int i = 0; i < d->n_srcs; i++) {
        session_t *s = d->srcs[i].src.ops->session(d->srcs[i].src.impl);
        if (!s)
            continue;
        json_t *st = session_status(s);
        json_object_set_new(st, "daemon", daemon_info(d));
        feed_pub_send(d->pub, session_athlete(s), "status", st);
    }
    return (int64_t)(d->opts.status_period_s * 1000.0);
}

/* Every 100 ms: recording flushes by age, and the end of the daemon once every source ended. */
static int64_t housekeeping_timer(loop_t *l, void *ud)
{
    daemon_t *d = ud;
    (void)l;
    int64_t now = loop_now_us();
    for (int i = 0; i < d->n_srcs; i++) {
        session_t *s = d->srcs[i].src.ops->session(d->srcs[i].src.impl);
        if (s)
            session_tick(s, now);
    }
    if (d->started && d->n_srcs > 0 && all_done(d)) {
        stop_all(d, "every source has ended");
        return LOOP_TIMER_END;
    }
    return 100;
}

static void on_signal(loop_t *l, void *ud, short revents)
{
    daemon_t *d = ud;
    (void)l;
    (void)revents;
    struct signalfd_siginfo si;
    while (read(d->sigfd, &si, sizeof si) == (ssize_t)sizeof si) {
        log_info(&d->log, "signal %s received: stopping", strsignal((int)si.ssi_signo));
        stop_all(d, "signal");
    }
}

static void on_pub(loop_t *l, void *ud, short revents)
{
    daemon_t *d = ud;
    (void)l;
    (void)revents;
    feed_pub_on_readable(d->pub);
    if (!d->started && !d->stopping && feed_pub_subscriptions(d->pub) > 0) {
        log_info(&d->log, "subscriber connected: starting the sources");
        start_sources(d);
    }
}

static void on_control(loop_t *l, void *ud, short revents)
{
    daemon_t *d = ud;
    (void)l;
    (void)revents;
    control_on_readable(d->control);
}

static int64_t wait_timer(loop_t *l, void *ud)
{
    daemon_t *d = ud;
    (void)l;
    d->wait_timer = 0;
    if (!d->started && !d->stopping) {
        log_info(&d->log, "no subscriber after %.1f s: starting the sources anyway",
                 d->opts.wait_subscriber_s);
        start_sources(d);
    }
    return LOOP_TIMER_END;
}

static json_t *cmd_status(void *ud, const json_t *req)
{
    daemon_t *d = ud;
    (void)req;
    json_t *athletes = json_array();
    for (int i = 0; i < d->n_srcs; i++) {
        session_t *s = d->srcs[i].src.ops->session(d->srcs[i].src.impl);
        if (s)
            json_array_append_new(athletes, session_status(s));
    }
    return json_pack("{s:o, s:o}", "daemon", daemon_info(d), "athletes", athletes);
}

static void start_sources(daemon_t *d)
{
    if (d->started)
        return;
    d->started = 1;
    if (d->wait_timer) {
        loop_del_timer(d->loop, d->wait_timer);
        d->wait_timer = 0;
    }
    for (int i = 0; i < d->n_srcs; i++)
        d->srcs[i].timer = loop_add_timer(d->loop, 0, source_timer, &d->srcs[i]);
}

/* Finishes every session (last strides, summaries, recordings closed) and ends the loop. */
static void stop_all(daemon_t *d, const char *why)
{
    if (d->stopping)
        return;
    d->stopping = 1;
    log_info(&d->log, "stopping (%s)", why);
    for (int i = 0; i < d->n_srcs; i++) {
        daemon_src_t *ds = &d->srcs[i];
        if (ds->timer) {
            loop_del_timer(d->loop, ds->timer);
            ds->timer = 0;
        }
        ds->src.ops->stop(ds->src.impl);
        ds->done = 1;
    }
    /* A last status per athlete so watchers see the final counters. */
    status_timer(d->loop, d);
    loop_stop(d->loop);
}

static int make_sources(daemon_t *d)
{
    const gaitd_opts_t *o = &d->opts;
    char err[512];
    source_env_t env = {
        .pub = d->pub,
        .lg = &d->log,
        .record_dir = o->record_dir,
        .speed = o->speed,
        .duration_s = o->duration_s,
        .window_period_s = o->window_period_s,
    };
    d->srcs = xcalloc((size_t)(o->simulate + o->n_replay + o->usb) + 1, sizeof *d->srcs);
    for (int i = 1; i <= o->simulate; i++) {
        src_sim_cfg_t c;
        memset(&c, 0, sizeof c);
        char name[32];
        snprintf(name, sizeof name, "sim%d", i);
        c.athlete = name;
        sim_config_default(&c.sim);
        c.sim.seed = o->sim_seed + (uint64_t)(i - 1);
        if (o->sim_rate_hz > 0)
            c.sim.rate_hz = o->sim_rate_hz;
        if (o->sim_plan && sim_parse_plan(&c.sim, o->sim_plan, err, sizeof err) != 0) {
            log_error(&d->log, "--sim-plan: %s", err);
            return -1;
        }
        if (!o->sim_plan)
            c.sim.duration_s = o->duration_s > 0 ? o->duration_s : 24.0 * 3600.0;
        for (int k = 0; k < o->n_asym; k++) {
            if (o->asym[k].athlete != i)
                continue;
            for (int f = 0; f < 2; f++) {
                c.sim.contact_scale[f] *= o->asym[k].contact[f];
                c.sim.pushoff_scale[f] *= o->asym[k].pushoff[f];
                c.sim.impact_scale[f] *= o->asym[k].impact[f];
            }
            log_info(&d->log, "%s: injected asymmetry contact L/R x%.3g/x%.3g, push-off x%.3g/x%.3g, "
                     "impact x%.3g/x%.3g", name, c.sim.contact_scale[0], c.sim.contact_scale[1],
                     c.sim.pushoff_scale[0], c.sim.pushoff_scale[1], c.sim.impact_scale[0],
                     c.sim.impact_scale[1]);
        }
        if (src_sim_new(&d->srcs[d->n_srcs].src, &c, &env, err, sizeof err) != 0) {
            log_error(&d->log, "%s", err);
            return -1;
        }
        d->n_srcs++;
    }
    for (int i = 0; i < o->n_replay; i++) {
        if (src_replay_new(&d->srcs[d->n_srcs].src, o->replay[i], &env, err, sizeof err) != 0) {
            log_error(&d->log, "%s", err);
            return -1;
        }
        d->n_srcs++;
    }
    if (o->usb) {
        src_usb_cfg_t c;
        memset(&c, 0, sizeof c);
        c.athlete = "usb1";
        c.loop = d->loop;
        usb_host_cfg_default(&c.usb);
        if (src_usb_new(&d->srcs[d->n_srcs].src, &c, &env, err, sizeof err) != 0) {
            log_error(&d->log, "--usb: %s", err);
            return -1;
        }
        d->n_srcs++;
    }
    return 0;
}

/* Blocks SIGINT/SIGTERM in this thread (and in ZeroMQ's threads, created later) and returns a
 * signalfd delivering them, or -1. SIGPIPE is ignored. The dispositions are reset to default
 * first: a shell starts background jobs with SIGINT ignored, and an ignored signal never reaches
 * the signalfd (blocked signals with the default action do, without killing the process). */
static int setup_signals(void)
{
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    if (sigprocmask(SIG_BLOCK, &set, NULL) != 0)
        return -1;
    signal(SIGPIPE, SIG_IGN);
    return signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
}

static void daemon_free(daemon_t *d)
{
    for (int i = 0; i < d->n_srcs; i++)
        d->srcs[i].src.ops->free(d->srcs[i].src.impl);
    xfree(d->srcs);
    control_free(&d->control);
    feed_pub_free(&d->pub, FEED_LINGER_MS);
    if (d->zctx)
        zmq_ctx_term(d->zctx);
    loop_free(&d->loop);
    if (d->sigfd >= 0)
        close(d->sigfd);
}

int main(int argc, char **argv)
{
    daemon_t d;
    memset(&d, 0, sizeof d);
    d.sigfd = -1;
    char err[512];
    gaitd_opts_default(&d.opts);
    if (gaitd_opts_parse(&d.opts, argc, argv, err, sizeof err) != 0) {
        fprintf(stderr, "gaitd: %s\n", err);
        return 2;
    }
    if (d.opts.help) {
        gaitd_opts_usage(stdout);
        return 0;
    }
    if (d.opts.version) {
        printf("gaitd %s\n", GAITD_VERSION);
        return 0;
    }
    log_init(&d.log, d.opts.log_level, stderr);
    if (d.opts.db)
        log_warn(&d.log, "--db %s: the session catalog is not yet supported; ignored", d.opts.db);
    if (d.opts.config)
        log_warn(&d.log, "--config %s: configuration files are not yet supported; ignored",
                 d.opts.config);
    if (d.opts.record_dir) {
        struct stat st;
        if (stat(d.opts.record_dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
            fprintf(stderr, "gaitd: --record %s: not a directory\n", d.opts.record_dir);
            return 2;
        }
    }

    int status = 1;
    d.sigfd = setup_signals();
    if (d.sigfd < 0) {
        log_error(&d.log, "signalfd: %s", strerror(errno));
        return 1;
    }
    d.start_us = loop_now_us();
    d.loop = loop_new();
    d.zctx = zmq_ctx_new();
    if (!d.zctx) {
        log_error(&d.log, "zmq_ctx_new: %s", zmq_strerror(zmq_errno()));
        goto out;
    }
    d.pub = feed_pub_new(d.zctx, d.opts.pub, d.opts.sndhwm, &d.log, err, sizeof err);
    if (!d.pub) {
        log_error(&d.log, "%s", err);
        goto out;
    }
    d.control = control_new(d.zctx, d.opts.control, &d.log, err, sizeof err);
    if (!d.control) {
        log_error(&d.log, "%s", err);
        goto out;
    }
    control_add(d.control, "status", cmd_status, &d);
    if (make_sources(&d) != 0)
        goto out;

    loop_add_fd(d.loop, d.sigfd, ZMQ_POLLIN, on_signal, &d);
    loop_add_socket(d.loop, feed_pub_socket(d.pub), ZMQ_POLLIN, on_pub, &d);
    loop_add_socket(d.loop, control_socket(d.control), ZMQ_POLLIN, on_control, &d);
    loop_add_timer(d.loop, (int64_t)(d.opts.status_period_s * 1000.0), status_timer, &d);
    loop_add_timer(d.loop, 100, housekeeping_timer, &d);
    if (d.opts.wait_subscriber_s > 0 && d.n_srcs > 0)
        d.wait_timer = loop_add_timer(d.loop, (int64_t)(d.opts.wait_subscriber_s * 1000.0),
                                      wait_timer, &d);
    else
        start_sources(&d);
    if (d.n_srcs == 0)
        log_info(&d.log, "no source configured (--simulate/--replay): serving control only");

    if (loop_run(d.loop) != 0) {
        log_error(&d.log, "event loop: %s", zmq_strerror(errno));
        stop_all(&d, "loop failure");
        goto out;
    }
    status = 0;
out:
    daemon_free(&d);
    log_info(&d.log, "exit %d", status);
    return status;
}
