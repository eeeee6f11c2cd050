/* gaitd - the gait daemon: sources (simulated pods, replayed files) -> one analysis session per
 * athlete -> ZeroMQ feeds; a control endpoint; recordings; clean stop on SIGTERM/SIGINT.
 *
 * main owns every object (daemon_t below); the modules borrow what they need. Everything runs in
 * one thread around one event loop (loop.h); signals arrive through a signalfd in that loop.
 */
#define LOG_PREFIX "gaitd"
#include <ctype.h>
#include <errno.h>
#include <limits.h>
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
#include "baseline.h"
#include "catalog.h"
#include "config.h"
#include "control.h"
#include "feed.h"
#include "feed_pub.h"
#include "log.h"
#include "loop.h"
#include "opts.h"
#include "pathsafe.h"
#include "sim.h"
#include "source.h"
#include "src_replay.h"
#include "src_sim.h"
#include "src_usb.h"
#include "zap.h"

#define GAITD_VERSION "0.1.0"
#define FEED_LINGER_MS 1000
#define CATALOG_PROGRESS_US (10 * 1000000LL)  /* catalog update of a running session */
#define CATALOG_RETRY_US (2 * 1000000LL)      /* next try after a catalog write failed */

typedef struct daemon_src {
    source_t src;
    struct daemon *d;
    int timer;                   /* loop timer id, 0 when not running */
    int done;
    int dynamic;                 /* handed over by the USB hub (live athlete or synced run) */
    int is_sync;                 /* the analysis of a synced run: */
    char sync_serial[POD_SERIAL_LEN];
    uint32_t sync_run;
    char sync_serial2[POD_SERIAL_LEN]; /* both feet of one outing merged: the other run */
    uint32_t sync_run2;
    char sync_parts[2][1024];    /* merged: the one-pod recordings it was made of */
    int64_t sync_supersedes;     /* merged with this earlier one-foot session, else 0 */
    char sync_path[1024];
    int64_t cat_id;              /* its session in the catalog, 0 = not yet inserted */
    int cat_done;                /* ended in the catalog (or failed: not retried) */
    int base_done;               /* focus baseline attached to its session */
    int64_t cat_next_us;         /* next progress update (monotonic) */
    int64_t cat_start_us;        /* its start (Unix us): the header's, else when it appeared */
    int cat_failed;              /* faults: the last catalog write failed (retried) */
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
    zap_t *zap;                  /* [security]: the CURVE ZAP handler, NULL when off */
    usb_hub_t *hub;              /* --usb / --usb-sync, NULL otherwise */
    int sigfd;
    daemon_src_t **srcs;
    int n_srcs;
    int started;                 /* sources running */
    int stopping;
    int64_t start_us;
    int wait_timer;
} daemon_t;

static void start_sources(daemon_t *d);
static void stop_all(daemon_t *d, const char *why);
static int64_t source_timer(loop_t *l, void *ud);
static void attach_baseline(daemon_t *d, daemon_src_t *ds, session_t *s);

static json_t *daemon_info(const daemon_t *d)
{
    json_t *o = json_pack("{s:s, s:f, s:I, s:I, s:i, s:i, s:b}", "version", GAITD_VERSION, "uptime_s",
                     (double)(loop_now_us() - d->start_us) * 1e-6, "sent",
                     (json_int_t)feed_pub_sent(d->pub), "drops",
                     (json_int_t)feed_pub_drops(d->pub), "subscriptions",
                     (int)feed_pub_subscriptions(d->pub), "sources", d->n_srcs, "started",
                     d->started);
    if (o) /* also in the control status reply (feed_pub adds it to feed status otherwise) */
        json_object_set_new(o, "latency_ms", latency_stats_json(feed_pub_latency(d->pub)));
    return o;
}

static int all_done(const daemon_t *d)
{
    for (int i = 0; i < d->n_srcs; i++)
        if (!d->srcs[i]->done)
            return 0;
    return 1;
}

/* The daemon ends by itself once every source has ended, except with USB pods, which may come
 * at any time: then only with --duration (each live session ends after it), when no sync is in
 * progress. */
static int may_end(const daemon_t *d)
{
    if (!d->started || d->n_srcs == 0 || !all_done(d))
        return 0;
    if (!d->hub)
        return 1;
    return d->opts.duration_s > 0 && !usb_hub_busy(d->hub);
}

static daemon_src_t *src_append(daemon_t *d)
{
    d->srcs = xrealloc(d->srcs, (size_t)(d->n_srcs + 1) * sizeof *d->srcs);
    daemon_src_t *ds = xcalloc(1, sizeof *ds);
    ds->d = d;
    d->srcs[d->n_srcs++] = ds;
    return ds;
}

static int64_t source_timer(loop_t *l, void *ud)
{
    daemon_src_t *ds = ud;
    (void)l;
    attach_baseline(ds->d, ds, ds->src.ops->session(ds->src.impl));
    int64_t next = ds->src.ops->step(ds->src.impl, loop_now_us());
    if (next != SOURCE_DONE)
        return next;
    ds->done = 1;
    ds->timer = 0;
    return LOOP_TIMER_END;
}

/* The athlete's own baseline (earlier sessions in the catalog) for the session's focus
 * indicators, once, before its data flows (population ranges without enough history). */
static void attach_baseline(daemon_t *d, daemon_src_t *ds, session_t *s)
{
    if (!d->cat || !s || ds->base_done)
        return;
    ds->base_done = 1;
    const char *athlete = session_athlete(s);
    focus_baseline_t base;
    focus_baseline_init(&base);
    int nb = baseline_from_catalog(d->cat, athlete, 0, &base);
    if (nb < 0)
        log_warn(&d->log, "%s", catalog_errmsg(d->cat));
    else if (nb > 0)
        session_set_baseline(s, &base);
    log_info(&d->log, "%s: focus baseline from %d earlier session(s)", athlete, nb < 0 ? 0 : nb);
}

/* A synced run's analysis is over (catalogued if ok): the hub may erase it on the pod. */
static void sync_finished(daemon_t *d, daemon_src_t *ds, int ok)
{
    if (!ds->is_sync || ds->sync_run == 0)
        return;
    uint32_t run = ds->sync_run, run2 = ds->sync_run2;
    ds->sync_run = ds->sync_run2 = 0; /* once */
    if (d->hub) {
        usb_hub_run_done(d->hub, ds->sync_serial, run, ok);
        if (run2)
            usb_hub_run_done(d->hub, ds->sync_serial2, run2, ok);
    }
}

/* Catalog time of a session's data time t (s): its start plus the data seen so far. */
static int64_t session_time_us(const session_t *s, int64_t start, double t)
{
    double t0 = session_data_start(s);
    if (isfinite(t) && isfinite(t0) && t >= t0)
        start += (int64_t)((t - t0) * 1e6);
    return start;
}

/* faults: a catalog write failed (locked, read-only, I/O error). The session and its feeds go on;
 * the write is tried again every CATALOG_RETRY_US (the summary stays in memory meanwhile) and a
 * last time when gaitd stops. If that last try fails too, the session row stays 'running' (or
 * is missing) and the next start marks it interrupted; its recording is kept. */
static void catalog_failed(daemon_t *d, daemon_src_t *ds, int64_t now, const char *op)
{
    const rec_header_t *h = session_header(ds->src.ops->session(ds->src.impl));
    if (!d->stopping) {
        log_error(&d->log, "catalog: cannot %s of %s: %s (retrying in %d s)", op, h->athlete,
                  catalog_errmsg(d->cat), (int)(CATALOG_RETRY_US / 1000000));
        ds->cat_failed = 1;
        ds->cat_next_us = now + CATALOG_RETRY_US;
        return;
    }
    log_error(&d->log, "catalog: cannot %s of %s: %s (given up at stop: %s%s)", op, h->athlete,
              catalog_errmsg(d->cat),
              ds->cat_id ? "the session is marked interrupted at the next start"
                         : "the session is not in the catalog",
              session_recording(ds->src.ops->session(ds->src.impl)) ? "; its recording is kept"
                                                                    : "");
    ds->cat_done = 1;
    sync_finished(d, ds, 0);
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
    /* faults: after a failed write, the next try waits CATALOG_RETRY_US, except the last one
     * when gaitd stops */
    if (ds->cat_failed && now < ds->cat_next_us && !d->stopping)
        return;
    if (!ds->cat_id) {
        attach_baseline(d, ds, s);
        ds->cat_start_us = h->start_unix_us;
        if (ds->cat_start_us <= 0) {             /* CSV files have no start time */
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ds->cat_start_us = (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
        }
        const char *source = strcmp(ds->src.ops->kind, "replay") == 0 ? "replay"
                             : h->source[0]                           ? h->source
                                                                      : ds->src.ops->kind;
        const char *recording = ds->is_sync ? ds->sync_path : session_recording(s);
        if (ds->is_sync)
            source = "usb-sync";
        if (catalog_session_begin(d->cat, h->athlete, source, ds->cat_start_us, recording,
                                  &ds->cat_id) != 0) {
            /* faults: locked, read-only, I/O error: the session goes on; tried again later */
            ds->cat_id = 0;
            catalog_failed(d, ds, now, "begin the session");
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
    if (msg && ds->is_sync)
        json_object_set_new(msg, "recording", json_string(ds->sync_path));
    if (msg && ds->is_sync && ds->sync_parts[0][0]) { /* both feet merged: the raw copies */
        json_object_set_new(msg, "parts", json_pack("[s, s]", ds->sync_parts[0],
                                                    ds->sync_parts[1]));
        if (ds->sync_supersedes)
            json_object_set_new(msg, "supersedes", json_integer(ds->sync_supersedes));
    }
    json_t *focus = msg ? json_object_get(msg, "focus") : NULL;
    char *sj = msg ? json_dumps(msg, JSON_COMPACT | JSON_REAL_PRECISION(10)) : NULL;
    char *fj = focus ? json_dumps(focus, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(10))
                     : NULL;
    cs.summary_json = sj;
    cs.focus_json = fj;
    int64_t t = session_time_us(s, ds->cat_start_us, session_data_time(s));
    /* a synced run: the session's end and its runs_synced row(s) in one transaction */
    const char *serials[2] = {ds->sync_serial, ds->sync_serial2};
    uint32_t runs[2] = {ds->sync_run, ds->sync_run2};
    int rc = finished && ds->is_sync
                 ? catalog_session_end_synced_runs(d->cat, ds->cat_id, t, &cs, serials, runs,
                                                   !ds->sync_run ? 0 : ds->sync_run2 ? 2 : 1,
                                                   ds->sync_supersedes)
             : finished ? catalog_session_end(d->cat, ds->cat_id, t, CATALOG_COMPLETE, &cs)
                        : catalog_session_progress(d->cat, ds->cat_id, t, &cs);
    if (rc != 0)
        catalog_failed(d, ds, now, finished ? "end the session" : "update the session");
    else if (finished)
        log_info(&d->log, "catalog: session %lld of %s %s", (long long)ds->cat_id, h->athlete,
                 ds->is_sync ? "synced" : "complete");
    if (finished && ds->is_sync && rc == 0) {   /* (a failure: catalog_failed) */
        /* entered with its summary and focus: now mark the run synced, and only then erase */
        int ok = 1;
        if (catalog_run_synced(d->cat, ds->sync_serial, ds->sync_run, ds->cat_id) != 0 ||
            (ds->sync_run2 &&
             catalog_run_synced(d->cat, ds->sync_serial2, ds->sync_run2, ds->cat_id) != 0)) {
            log_error(&d->log, "%s", catalog_errmsg(d->cat));
            ok = 0;
        }
        sync_finished(d, ds, ok);
    }
    free(sj);
    free(fj);
    json_decref(msg);
    if (rc == 0) {
        ds->cat_failed = 0;
        if (finished)
            ds->cat_done = 1;
        ds->cat_next_us = now + CATALOG_PROGRESS_US;
    }
}

/* One status message per athlete, with the daemon-wide counters. */
static int64_t status_timer(loop_t *l, void *ud)
{
    daemon_t *d = ud;
    (void)l;
    for (int i = 0; i < d->n_srcs; i++) {
        session_t *s = d->srcs[i]->src.ops->session(d->srcs[i]->src.impl);
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
        session_t *s = d->srcs[i]->src.ops->session(d->srcs[i]->src.impl);
        if (s)
            session_tick(s, now);
        catalog_follow(d, d->srcs[i], now);
        if (!d->cat && s && session_finished(s))
            sync_finished(d, d->srcs[i], 0);     /* no catalog: analysed, but never erased */
    }
    if (may_end(d)) {
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
        if (!d->srcs[i]->done && !d->srcs[i]->timer)
            d->srcs[i]->timer = loop_add_timer(d->loop, 0, source_timer, d->srcs[i]);
}

/* Finishes every session (last strides, summaries, recordings closed) and ends the loop. */
static void stop_all(daemon_t *d, const char *why)
{
    if (d->stopping)
        return;
    d->stopping = 1;
    log_info(&d->log, "stopping (%s)", why);
    for (int i = 0; i < d->n_srcs; i++) {
        daemon_src_t *ds = d->srcs[i];
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

/* ---- USB hub hooks ---- */

static void hub_add_source(void *ud, const source_t *src, const usb_hub_run_t *run)
{
    daemon_t *d = ud;
    daemon_src_t *ds = src_append(d);
    ds->src = *src;
    ds->dynamic = 1;
    attach_baseline(d, ds, ds->src.ops->session(ds->src.impl));
    if (run) {
        ds->is_sync = 1;
        snprintf(ds->sync_serial, sizeof ds->sync_serial, "%s", run->serial);
        ds->sync_run = run->run_id;
        snprintf(ds->sync_path, sizeof ds->sync_path, "%s", run->path);
        if (run->run_id2) {
            snprintf(ds->sync_serial2, sizeof ds->sync_serial2, "%s", run->serial2);
            ds->sync_run2 = run->run_id2;
        }
        for (int i = 0; run->parts[0] && i < 2; i++)
            snprintf(ds->sync_parts[i], sizeof ds->sync_parts[i], "%s",
                     run->parts[i] ? run->parts[i] : "");
        ds->sync_supersedes = run->supersedes;
    }
    if (d->stopping) {
        ds->src.ops->stop(ds->src.impl);
        ds->done = 1;
    } else if (d->started) {
        ds->timer = loop_add_timer(d->loop, 0, source_timer, ds);
    }
}

static int hub_run_synced(void *ud, const char *serial, uint32_t run_id)
{
    daemon_t *d = ud;
    if (!d->cat)
        return 0;
    int r = catalog_is_run_synced(d->cat, serial, run_id);
    if (r < 0)
        log_warn(&d->log, "%s", catalog_errmsg(d->cat));
    return r == 1;
}

static int hub_find_synced(void *ud, const char *athlete, int64_t start_us, int64_t end_us,
                           int (*cb)(int64_t id, const char *recording, void *user), void *user)
{
    daemon_t *d = ud;
    if (!d->cat)
        return 0;
    int r = catalog_find_one_foot_synced(d->cat, athlete, start_us, end_us, cb, user);
    if (r < 0 && r != CATALOG_ERR_STOPPED)
        log_warn(&d->log, "%s", catalog_errmsg(d->cat));
    return r == CATALOG_ERR_STOPPED;
}

static int64_t unix_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* A live USB session was created (its pods are about to stream). */
static void hub_session_started(void *ud, const source_t *src)
{
    daemon_t *d = ud;
    for (int i = 0; i < d->n_srcs; i++)
        if (d->srcs[i]->src.impl == src->impl)
            attach_baseline(d, d->srcs[i], src->ops->session(src->impl));
}

static void hub_pod_seen(void *ud, const char *serial)
{
    daemon_t *d = ud;
    if (d->cat && catalog_pod_seen(d->cat, serial, unix_now_us()) != 0)
        log_warn(&d->log, "%s", catalog_errmsg(d->cat));
}

static int pair_cb(const char *serial, const char *athlete, char foot, void *user)
{
    daemon_t *d = user;
    if (athlete && (foot == 'L' || foot == 'R'))
        usb_hub_pair(d->hub, serial, athlete, foot);
    return 0;
}

/* Pairings into the hub: the catalog's (which the config file seeded, see main), or the config
 * file's without a catalog. */
static void load_pairings(daemon_t *d)
{
    if (d->cat) {
        if (catalog_list_pods(d->cat, pair_cb, d) != 0)
            log_error(&d->log, "%s", catalog_errmsg(d->cat));
        return;
    }
    for (int i = 0; d->cfg && i < d->cfg->n_pods; i++)
        usb_hub_pair(d->hub, d->cfg->pods[i].serial, d->cfg->pods[i].athlete,
                     d->cfg->pods[i].foot);
}

/* ---- control commands ---- */

/* Pod serials: 1..15, athlete names 1..63 of letters, digits, '_', '-', '.' (CONFIG.md). */
static int name_ok(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n == 0 || n > max)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '_' && s[i] != '-' && s[i] != '.')
            return 0;
    return 1;
}

static json_t *bad_name(const char *field, const char *v, size_t max)
{
    return control_error("bad_request", "field \"%s\": '%.80s' is not 1 to %zu letters, digits, "
                         "'_', '-' or '.'", field, v, max);
}

static json_t *no_usb(void)
{
    return control_error("unavailable", "USB pods are not enabled (gaitd --usb or --usb-sync)");
}

static json_t *no_catalog(void)
{
    return control_error("unavailable", "no session catalog (gaitd --db PATH)");
}

static json_t *cmd_status(void *ud, const json_t *req)
{
    daemon_t *d = ud;
    (void)req;
    json_t *athletes = json_array();
    for (int i = 0; i < d->n_srcs; i++) {
        session_t *s = d->srcs[i]->src.ops->session(d->srcs[i]->src.impl);
        if (s)
            json_array_append_new(athletes, session_status(s));
    }
    json_t *usb = d->hub ? json_pack("{s:b, s:b, s:b, s:o}", "live", d->opts.usb, "sync",
                                     d->opts.usb_sync, "syncing", usb_hub_busy(d->hub), "pods",
                                     usb_hub_status_json(d->hub))
                         : json_null();
    return json_pack("{s:o, s:o, s:o, s:o}", "daemon", daemon_info(d), "athletes", athletes,
                     "usb", usb, "catalog", d->opts.db ? json_string(d->opts.db) : json_null());
}

static int cat_pod_cb(const char *serial, const char *athlete, char foot, void *user)
{
    char f[2] = {foot, 0};
    json_array_append_new(user, json_pack("{s:s, s:s?, s:s?, s:b, s:s, s:b, s:b}", "serial", serial,
                                          "foot", foot ? f : NULL, "athlete", athlete, "paired",
                                          athlete != NULL, "state", "unplugged", "connected", 0,
                                          "streaming", 0));
    return 0;
}

static json_t *cmd_pods(void *ud, const json_t *req)
{
    daemon_t *d = ud;
    (void)req;
    json_t *pods;
    if (d->hub) {
        pods = usb_hub_pods_json(d->hub);
    } else {
        pods = json_array();
        if (d->cat)
            catalog_list_pods(d->cat, cat_pod_cb, pods);
        else
            for (int i = 0; d->cfg && i < d->cfg->n_pods; i++)
                cat_pod_cb(d->cfg->pods[i].serial, d->cfg->pods[i].athlete, d->cfg->pods[i].foot,
                           pods);
    }
    return json_pack("{s:o, s:b}", "pods", pods, "usb", d->hub != NULL);
}

static json_t *cmd_assign(void *ud, const json_t *req)
{
    daemon_t *d = ud;
    const char *serial, *athlete, *foot;
    json_t *e = NULL;
    if (control_str(req, "serial", 1, &serial, &e) || control_str(req, "athlete", 1, &athlete, &e) ||
        control_str(req, "foot", 1, &foot, &e))
        return e;
    if (!name_ok(serial, 15))
        return bad_name("serial", serial, 15);
    if (!name_ok(athlete, 63))
        return bad_name("athlete", athlete, 63);
    if (strcmp(foot, "L") && strcmp(foot, "R"))
        return control_error("bad_request", "field \"foot\" must be \"L\" or \"R\", got '%.20s'",
                             foot);
    if (d->cat && catalog_pair_pod(d->cat, serial, foot[0], athlete) != 0)
        return control_error("failed", "%s", catalog_errmsg(d->cat));
    if (d->hub)
        usb_hub_pair(d->hub, serial, athlete, foot[0]);
    log_info(&d->log, "pod %s assigned to %s (%s)%s", serial, athlete, foot,
             d->cat ? "" : " (no catalog: not remembered after a restart)");
    return json_pack("{s:s, s:s, s:s, s:b}", "serial", serial, "athlete", athlete, "foot", foot,
                     "remembered", d->cat != NULL);
}

static json_t *cmd_start_stop(daemon_t *d, const json_t *req, int start)
{
    const char *athlete;
    json_t *e = NULL;
    if (control_str(req, "athlete", 1, &athlete, &e))
        return e;
    if (!name_ok(athlete, 63))
        return bad_name("athlete", athlete, 63);
    if (!d->hub)
        return no_usb();
    if (d->stopping)
        return control_error("busy", "the daemon is stopping");
    int rc = start ? usb_hub_start(d->hub, athlete) : usb_hub_stop(d->hub, athlete);
    if (rc == USB_HUB_ERR_BUSY)
        return control_error("busy", "%s already has a live session", athlete);
    if (rc == USB_HUB_ERR_NOT_FOUND)
        return control_error("not_found", "%s has no live session", athlete);
    if (rc)
        return control_error("failed", "%s: cannot %s", athlete, start ? "start" : "stop");
    log_info(&d->log, "%s: live session %s by a control request", athlete,
             start ? "started" : "stopped");
    return json_pack("{s:s, s:b}", "athlete", athlete, "live", start);
}

static json_t *cmd_start(void *ud, const json_t *req)
{
    return cmd_start_stop(ud, req, 1);
}

static json_t *cmd_stop(void *ud, const json_t *req)
{
    return cmd_start_stop(ud, req, 0);
}

static json_t *cmd_runs(void *ud, const json_t *req)
{
    daemon_t *d = ud;
    const char *serial;
    json_t *e = NULL;
    if (control_str(req, "serial", 1, &serial, &e))
        return e;
    if (!name_ok(serial, 15))
        return bad_name("serial", serial, 15);
    if (!d->hub)
        return no_usb();
    json_t *r = usb_hub_runs_json(d->hub, serial);
    return r ? r : control_error("not_found", "pod %s has not been connected", serial);
}

static json_t *cmd_sync(void *ud, const json_t *req)
{
    daemon_t *d = ud;
    const char *serial;
    json_t *e = NULL;
    if (control_str(req, "serial", 0, &serial, &e))
        return e;
    if (serial && !name_ok(serial, 15))
        return bad_name("serial", serial, 15);
    if (!d->hub)
        return no_usb();
    int n = 0;
    int rc = usb_hub_sync(d->hub, serial, &n);
    if (rc == USB_HUB_ERR_STATE)
        return control_error("unavailable", "no data directory for synced runs (--record DIR)");
    if (rc == USB_HUB_ERR_NOT_FOUND)
        return control_error("not_found", "pod %s is not connected", serial);
    if (rc == USB_HUB_ERR_BUSY)
        return control_error("busy", "pod %s is already syncing", serial);
    return json_pack("{s:i}", "syncing", n);
}

static json_t *cmd_erase(void *ud, const json_t *req)
{
    daemon_t *d = ud;
    const char *serial;
    long long run = 0;
    json_t *e = NULL;
    if (control_str(req, "serial", 1, &serial, &e) || control_int(req, "run_id", 1, &run, &e))
        return e;
    if (!name_ok(serial, 15))
        return bad_name("serial", serial, 15);
    if (run < 1 || run > 0xffffffffLL)
        return control_error("bad_request", "field \"run_id\" must be 1 to 4294967295");
    if (!d->hub)
        return no_usb();
    int rc = usb_hub_erase(d->hub, serial, (uint32_t)run);
    if (rc == USB_HUB_ERR_NOT_FOUND)
        return control_error("not_found", "pod %s is not connected or has no run %lld", serial,
                             run);
    if (rc == USB_HUB_ERR_BUSY)
        return control_error("busy", "pod %s is streaming or syncing: stop its athlete's live "
                             "session first", serial);
    if (rc)
        return control_error("refused", "run %lld of %s is not synced and verified by this gaitd: "
                             "it is erased only after `gaitctl sync` has put it in the catalog",
                             run, serial);
    return json_pack("{s:s, s:I, s:b}", "serial", serial, "run_id", (json_int_t)run, "erasing", 1);
}

typedef struct list_ctx {
    json_t *arr;
    long long limit;
    int64_t id;                  /* summary: the session wanted (0: by recording) */
    const char *recording;
    json_t *found;               /* summary: its row */
    json_t *summary, *focus;
} list_ctx_t;

static int list_cb(const catalog_session_t *row, void *user)
{
    list_ctx_t *c = user;
    json_array_append_new(c->arr, catalog_session_json(row));
    return (long long)json_array_size(c->arr) >= c->limit;
}

static json_t *cmd_sessions(void *ud, const json_t *req)
{
    daemon_t *d = ud;
    const char *athlete;
    long long limit = 100;
    json_t *e = NULL;
    if (control_str(req, "athlete", 0, &athlete, &e) || control_int(req, "limit", 0, &limit, &e))
        return e;
    if (athlete && !name_ok(athlete, 63))
        return bad_name("athlete", athlete, 63);
    if (limit < 1 || limit > 10000)
        return control_error("bad_request", "field \"limit\" must be 1 to 10000");
    if (!d->cat)
        return no_catalog();
    list_ctx_t c = {.arr = json_array(), .limit = limit};
    int rc = catalog_list_sessions(d->cat, athlete, list_cb, &c);
    if (rc != CATALOG_OK && rc != CATALOG_ERR_STOPPED) {
        json_decref(c.arr);
        return control_error("failed", "%s", catalog_errmsg(d->cat));
    }
    return json_pack("{s:o}", "sessions", c.arr);
}

static int find_cb(const catalog_session_t *row, void *user)
{
    list_ctx_t *c = user;
    if (c->id && row->id != c->id)
        return 0;
    if (!c->id) {                /* recordings are stored as gaitd was given them: compare the files */
        char real[PATH_MAX];
        if (!row->recording || !realpath(row->recording, real) || strcmp(real, c->recording))
            return 0;
    }
    c->found = catalog_session_json(row);
    c->summary = row->sum.summary_json ? json_loads(row->sum.summary_json, 0, NULL) : NULL;
    c->focus = row->sum.focus_json ? json_loads(row->sum.focus_json, 0, NULL) : NULL;
    return 1;
}

static json_t *cmd_summary(void *ud, const json_t *req)
{
    daemon_t *d = ud;
    long long id = 0;
    const char *recording;
    json_t *e = NULL;
    if (control_int(req, "id", 0, &id, &e) || control_str(req, "recording", 0, &recording, &e))
        return e;
    if (!id && !recording)
        return control_error("bad_request", "missing field \"id\" (an integer) or \"recording\" "
                             "(a path in the data directory)");
    if (id < 0)
        return control_error("bad_request", "field \"id\" must be positive");
    char path[4096], err[512];
    if (!id) {
        if (!d->opts.record_dir)
            return control_error("bad_path", "no data directory (--record DIR): no recording "
                                 "path is accepted");
        if (pathsafe_resolve(d->opts.record_dir, recording, path, sizeof path, err, sizeof err))
            return control_error("bad_path", "%s", err);
    }
    if (!d->cat)
        return no_catalog();
    list_ctx_t c = {.id = id, .recording = path};
    int rc = catalog_list_sessions(d->cat, NULL, find_cb, &c);
    if (rc != CATALOG_OK && rc != CATALOG_ERR_STOPPED)
        return control_error("failed", "%s", catalog_errmsg(d->cat));
    if (!c.found) {
        if (id)
            return control_error("not_found", "no session %lld in the catalog", id);
        return control_error("not_found", "no session with recording %.300s", path);
    }
    return json_pack("{s:o, s:o, s:o}", "session", c.found, "summary",
                     c.summary ? c.summary : json_null(), "focus",
                     c.focus ? c.focus : json_array());
}

/* The control commands; CONTROL_CHANGES_STATE marks those that change the daemon's state (for
 * the authorisation of clients, later). */
static const struct daemon_cmd {
    const char *name;
    unsigned flags;
    control_fn fn;
} daemon_cmds[] = {
    {"status", 0, cmd_status},
    {"pods", 0, cmd_pods},
    {"assign", CONTROL_CHANGES_STATE, cmd_assign},
    {"start", CONTROL_CHANGES_STATE, cmd_start},
    {"stop", CONTROL_CHANGES_STATE, cmd_stop},
    {"runs", 0, cmd_runs},
    {"sync", CONTROL_CHANGES_STATE, cmd_sync},
    {"erase", CONTROL_CHANGES_STATE, cmd_erase},
    {"sessions", 0, cmd_sessions},
    {"summary", 0, cmd_summary},
};

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
        source_t src;
        if (src_sim_new(&src, &c, &env, err, sizeof err) != 0) {
            log_error(&d->log, "%s", err);
            return -1;
        }
        daemon_src_t *ds = src_append(d);
        ds->src = src;
        attach_baseline(d, ds, src.ops->session(src.impl));
    }
    for (int i = 0; i < o->n_replay; i++) {
        source_t src;
        if (src_replay_new(&src, o->replay[i], &env, err, sizeof err) != 0) {
            log_error(&d->log, "%s", err);
            return -1;
        }
        daemon_src_t *ds = src_append(d);
        ds->src = src;
        attach_baseline(d, ds, src.ops->session(src.impl));
    }
    if (o->usb || o->usb_sync) {
        if (o->usb_sync && !o->record_dir) {
            log_error(&d->log, "--usb-sync needs a data directory for the synced runs (--record "
                      "DIR or [daemon] data_dir)");
            return -1;
        }
        usb_hub_cfg_t c;
        memset(&c, 0, sizeof c);
        c.loop = d->loop;
        usb_host_cfg_default(&c.usb);
        c.live = o->usb;
        c.sync = o->usb_sync;
        c.erase = o->usb_erase;
        c.sync_dir = o->record_dir;
        c.default_athlete = o->usb_athlete;
        usb_hub_hooks_t hk = {
            .ud = d,
            .add_source = hub_add_source,
            .run_synced = hub_run_synced,
            .find_synced = hub_find_synced,
            .pod_seen = hub_pod_seen,
            .session_started = hub_session_started,
        };
        d->hub = usb_hub_new(&c, &env, &hk, err, sizeof err);
        if (!d->hub) {
            log_error(&d->log, "--usb: %s", err);
            return -1;
        }
        load_pairings(d);
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
    usb_hub_free(&d->hub);       /* before the sources it handed out */
    for (int i = 0; i < d->n_srcs; i++)
        d->srcs[i]->src.ops->free(d->srcs[i]->src.impl);
    for (int i = 0; i < d->n_srcs; i++)
        xfree(d->srcs[i]);
    xfree(d->srcs);
    catalog_close(&d->cat);
    control_free(&d->control);
    feed_pub_free(&d->pub, FEED_LINGER_MS);
    zap_free(&d->zap);           /* after the CURVE sockets it authenticates for */
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
        if (zap_cfg_load_keys(&cfg.security, config, err, sizeof err) != 0) {
            fprintf(stderr, "gaitd: %s\n", err);    /* [security] key files (zap.h) */
            return 2;
        }
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
    /* Athletes' data: whatever umask gaitd was started with, everything it creates (recordings,
     * synced runs, the catalog, ipc sockets) is owner-only, as under its unit (UMask=0077). */
    umask(077);
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

    if (d.opts.usb_athlete && *d.opts.usb_athlete && !name_ok(d.opts.usb_athlete, 63)) {
        fprintf(stderr, "gaitd: %s '%s': expected 1 to 63 letters, digits, '_', '-' or '.'\n",
                d.cfg && d.opts.usb_athlete == d.cfg->usb_athlete ? "[usb] athlete"
                                                                  : "--usb-athlete",
                d.opts.usb_athlete);
        return 2;
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
        /* The config file's pairings seed the catalog; a pod the catalog already pairs keeps
         * its pairing there (`gaitctl assign` is remembered across restarts: the catalog wins). */
        for (int i = 0; d.cfg && i < d.cfg->n_pods; i++) {
            const config_pod_t *p = &d.cfg->pods[i];
            char ath[CATALOG_NAME_MAX + 1], foot = 0;
            int have = catalog_pod_athlete(d.cat, p->serial, ath, sizeof ath, &foot);
            if (have == CATALOG_OK && (strcmp(ath, p->athlete) || foot != p->foot))
                log_info(&d.log, "%s:%d: pod %s stays paired with %s:%c (assigned in the catalog)",
                         d.cfg->path, p->line, p->serial, ath, foot);
            if (have == CATALOG_ERR_NOT_FOUND &&
                catalog_pair_pod(d.cat, p->serial, p->foot, p->athlete) != 0)
                log_error(&d.log, "%s:%d: %s", d.cfg->path, p->line, catalog_errmsg(d.cat));
        }
        log_info(&d.log, "session catalog %s", d.opts.db);
    }
    d.zctx = zmq_ctx_new();
    if (!d.zctx) {
        log_error(&d.log, "zmq_ctx_new: %s", zmq_strerror(zmq_errno()));
        goto out;
    }
    /* [security]: the ZAP handler first, so no CURVE connection is ever made without it */
    if (d.cfg && zap_cfg_enabled(&d.cfg->security)) {
        d.zap = zap_new(d.zctx, &d.cfg->security, d.loop, &d.log, err, sizeof err);
        if (!d.zap) {
            log_error(&d.log, "%s", err);
            goto out;
        }
    }
    for (int i = 0; !d.zap && i < 2; i++)
        if (!zap_endpoint_is_local(i ? d.opts.control : d.opts.pub))
            log_warn(&d.log, "%s listens beyond loopback without CURVE: anyone who can reach it "
                     "can %s ([security] in the configuration, daemon/SECURITY.md)",
                     i ? d.opts.control : d.opts.pub, i ? "send commands" : "read the feeds");
    d.pub = feed_pub_new_ex(d.zctx, d.opts.pub, d.opts.sndhwm, d.zap, &d.log, err, sizeof err);
    if (!d.pub) {
        log_error(&d.log, "%s", err);
        goto out;
    }
    d.control = control_new_ex(d.zctx, d.opts.control, d.zap, &d.log, err, sizeof err);
    if (!d.control) {
        log_error(&d.log, "%s", err);
        goto out;
    }
    for (size_t i = 0; i < sizeof daemon_cmds / sizeof daemon_cmds[0]; i++)
        control_add_ex(d.control, daemon_cmds[i].name, daemon_cmds[i].flags, daemon_cmds[i].fn,
                       &d);
    if (make_sources(&d) != 0)
        goto out;

    loop_add_fd(d.loop, d.sigfd, ZMQ_POLLIN, on_signal, &d);
    loop_add_socket(d.loop, feed_pub_socket(d.pub), ZMQ_POLLIN, on_pub, &d);
    loop_add_socket(d.loop, control_socket(d.control), ZMQ_POLLIN, on_control, &d);
    loop_add_timer(d.loop, (int64_t)(d.opts.status_period_s * 1000.0), status_timer, &d);
    loop_add_timer(d.loop, 100, housekeeping_timer, &d);
    if (d.opts.wait_subscriber_s > 0 && (d.n_srcs > 0 || d.hub))
        d.wait_timer = loop_add_timer(d.loop, (int64_t)(d.opts.wait_subscriber_s * 1000.0),
                                      wait_timer, &d);
    else
        start_sources(&d);
    if (d.n_srcs == 0 && !d.hub)
        log_info(&d.log, "no source configured (--simulate/--replay/--usb): serving control only");

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
