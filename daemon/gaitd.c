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
#include <time.h>
#include <unistd.h>
#include <zmq.h>
#include "alloc.h"
#include "catalog.h"
#include "config.h"
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
#define CATALOG_PROGRESS_US (10 * 1000000LL)  /* catalog update of a running session */

typedef struct daemon_src {
    source_t src;
    int timer;                   /* loop timer id, 0 when not running */
    int done;
    int64_t cat_id;              /* its session in the catalog, 0 = not yet inserted */
    int cat_done;                /* ended in the catalog (or failed: not retried) */
    int64_t cat_next_us;         /* next progress update (monotonic) */
    int64_t cat_start_us;        /* its start (Unix us): the header's, else when it appeared */
} daemon_src_t;

typedef struct daemon {
    gaitd_opts_t opts;
    const config_t *cfg;         /* --config FILE, NULL if none */
    catalog_t *cat;              /* --db PATH, NULL if none */
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

/* Catalog time of a session's data time t (s): its start plus the data seen so far. */
static int64_t session_time_us(const session_t *s, int64_t start, double t)
{
    double t0 = session_data_start(s);
    if (isfinite(t) && isfinite(t0) && t >= t0)
        start += (int64_t)((t - t0) * 1e6);
    return start;
}

/* The catalog follows each source's session: inserted when it appears, updated every 10 s,
 * ended with its summary once finished. A catalog error is logged and the session goes on
 * without the catalog (the feeds and the recording matter more). */
static void catalog_follow(daemon_t *d, daemon_src_t *ds, int64_t now)
{
    session_t *s;
    if (!d->cat || ds->cat_done || !(s = ds->src.ops->session(ds->src.impl)))
        return;
    const rec_header_t *h = session_header(s);
    if (!ds->cat_id) {
        ds->cat_start_us = h->start_unix_us;
        if (ds->cat_start_us <= 0) {             /* CSV files have no start time */
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ds->cat_start_us = (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
        }
        const char *source = strcmp(ds->src.ops->kind, "replay") == 0 ? "replay"
                             : h->source[0]                           ? h->source
                                                                      : ds->src.ops->kind;
        if (catalog_session_begin(d->cat, h->athlete, source, ds->cat_start_us,
                                  session_recording(s), &ds->cat_id) != 0) {
            log_error(&d->log, "%s", catalog_errmsg(d->cat));
            ds->cat_done = 1;
            return;
        }
        for (unsigned i = 0; i < h->n_pods; i++)
            if (catalog_pod_seen(d->cat, h->pods[i].serial, ds->cat_start_us) != 0)
                log_warn(&d->log, "%s", catalog_errmsg(d->cat));
        ds->cat_next_us = now + CATALOG_PROGRESS_US;
        log_debug(&d->log, "catalog: session %lld of %s begun", (long long)ds->cat_id, h->athlete);
    }
    int finished = session_finished(s);
    if (!finished && now < ds->cat_next_us)
        return;
    dsp_summary_t sum;
    session_summary(s, &sum);
    catalog_summary_t cs;
    catalog_summary_from_dsp(&sum, &cs);
    /* once finished, the summary as published (with its focus areas); else a progress one */
    const json_t *fin = session_final_summary(s);
    json_t *msg = fin ? json_deep_copy(fin) : feed_summary(h->athlete, &sum);
    if (msg && !fin && session_recording(s))
        json_object_set_new(msg, "recording", json_string(session_recording(s)));
    json_t *focus = msg ? json_object_get(msg, "focus") : NULL;
    char *sj = msg ? json_dumps(msg, JSON_COMPACT | JSON_REAL_PRECISION(10)) : NULL;
    char *fj = focus ? json_dumps(focus, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(10))
                     : NULL;
    cs.summary_json = sj;
    cs.focus_json = fj;
    int64_t t = session_time_us(s, ds->cat_start_us, session_data_time(s));
    int rc = finished ? catalog_session_end(d->cat, ds->cat_id, t, CATALOG_COMPLETE, &cs)
                      : catalog_session_progress(d->cat, ds->cat_id, t, &cs);
    if (rc != 0)
        log_error(&d->log, "%s", catalog_errmsg(d->cat));
    else if (finished)
        log_info(&d->log, "catalog: session %lld of %s complete", (long long)ds->cat_id,
                 h->athlete);
    free(sj);
    free(fj);
    json_decref(msg);
    if (finished || rc != 0)
        ds->cat_done = 1;
    ds->cat_next_us = now + CATALOG_PROGRESS_US;
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
        catalog_follow(d, &d->srcs[i], now);
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
        catalog_follow(d, ds, loop_now_us());
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

/* The value of --config in argv, or NULL (looked for before parsing: the file comes first, the
 * flags override it). */
static const char *find_config(int argc, char **argv)
{
    const char *path = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--config") && i + 1 < argc)
            path = argv[++i];
        else if (!strncmp(argv[i], "--config=", 9))
            path = argv[i] + 9;
    }
    return path;
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
    catalog_close(&d->cat);
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
    const char *config = find_config(argc, argv);
    if (config) {
        static config_t cfg;     /* large, and lives as long as the process (opts borrows it) */
        config_default(&cfg);
        if (config_load(&cfg, config, err, sizeof err) != 0) {
            fprintf(stderr, "gaitd: %s\n", err);
            return 2;
        }
        config_apply(&cfg, &d.opts);
        d.cfg = &cfg;
    }
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
    if (d.cfg)
        log_info(&d.log, "configuration %s loaded", d.cfg->path);
    if (d.opts.record_dir) {
        struct stat st;
        if (stat(d.opts.record_dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
            fprintf(stderr, "gaitd: %s %s: not a directory\n",
                    d.cfg && d.opts.record_dir == d.cfg->data_dir ? "[daemon] data_dir" : "--record",
                    d.opts.record_dir);
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
    if (d.opts.db) {
        d.cat = catalog_open(d.opts.db, err, sizeof err);
        if (!d.cat) {
            log_error(&d.log, "%s", err);
            goto out;
        }
        /* sessions a killed gaitd left running: interrupted, not lost */
        int n = catalog_mark_interrupted(d.cat);
        if (n < 0)
            log_error(&d.log, "%s", catalog_errmsg(d.cat));
        else if (n > 0)
            log_warn(&d.log, "catalog %s: %d session(s) left running by a previous gaitd marked "
                     "interrupted", d.opts.db, n);
        for (int i = 0; d.cfg && i < d.cfg->n_pods; i++) {
            const config_pod_t *p = &d.cfg->pods[i];
            if (catalog_pair_pod(d.cat, p->serial, p->foot, p->athlete) != 0)
                log_error(&d.log, "%s:%d: %s", d.cfg->path, p->line, catalog_errmsg(d.cat));
        }
        log_info(&d.log, "session catalog %s", d.opts.db);
    }
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
