/* src_usb.c - USB pods: pairing, live athlete sessions, post-run sync (see src_usb.h). */
#define LOG_PREFIX "usb-src"
#include "src_usb.h"
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include "alloc.h"
#include "pod.h"
#include "src_replay.h"
#include "input.h"
#include "usb_sync.h"

#define NAME_CAP 64

typedef struct live live_t;
static const source_ops_t live_ops;

/* Fault counters of a pod (decoder, stalls, unplugs), summed over its attachments. */
typedef struct faults {
    uint64_t crc, truncated, bytes_skipped, gaps, frames_lost, duplicates, reordered, out_of_order,
        rejected, stalls, unplugs;
} faults_t;

/* Per pod serial seen (kept across unplugs). */
typedef struct hub_pod {
    char serial[POD_SERIAL_LEN];
    usb_pod_t *pod;    /* current attachment, NULL while unplugged */
    pod_identify_t id; /* as last identified */
    live_t *live;      /* the live session it feeds, NULL if none */
    int syncing;       /* stream held while its runs are synced */
    unsigned pending;  /* runs recorded, waiting for the daemon's catalog (or held) */
    int sync_listed;   /* its runs were listed in the current sync */
    unsigned erasing;  /* erase commands in flight */
    pod_runs_t runs;   /* stored runs as last listed */
    int listed;
    faults_t past;          /* faults of earlier attachments (+ unplugs) */
    faults_t sync_base;     /* totals when the current run's read began */
    faults_t sync_start;    /* totals when the current sync began */
    usb_pod_t *refused_pod; /* attached but refused (nonsense identify), else NULL */
    int recovering;         /* stalled while plugged: its next `added` is a recovery */
    char refused[160];      /* why it was last refused ("" = never) */
} hub_pod_t;

typedef struct pairing {
    char serial[POD_SERIAL_LEN];
    char athlete[NAME_CAP];
    char foot;
} pairing_t;

typedef struct slot {
    hub_pod_t *hp;
    faults_t base;         /* the pod's totals when the session began (sync time excluded) */
    int64_t hdr_offset_us; /* clock offset written in the session header */
    int restart;           /* feed REP_ACK(START_STREAM) before the next frame */
} slot_t;

/* One live athlete session: a source the daemon owns. */
struct live {
    usb_hub_t *hub; /* NULL once the hub is freed */
    source_env_t env;
    char athlete[NAME_CAP];
    session_t *sess;
    slot_t slots[REC_MAX_PODS];
    unsigned n_slots;
    hub_pod_t *pending[REC_MAX_PODS]; /* identified before the session exists */
    unsigned n_pending;
    int64_t first_pod_us;
    int started, done;
    faults_t shown; /* faults last handed to the session */
    pod_msg_t msg;
    uint8_t wire[POD_MAX_FRAME];
};

/* A synced run's recording held back while the athlete's other pod is still being read, so that
 * the two feet of one outing become one session (daemon/USB.md, "Both feet of one outing"). */
typedef struct held {
    hub_pod_t *hp;               /* NULL: an earlier one-foot session's recording (catalog) */
    int64_t session_id;          /* that session */
    uint32_t run_id;
    char path[1024];
    int64_t start_us, end_us;    /* the run's time range (Unix us) */
    char athlete[NAME_CAP];
    char foot;
    faults_t faults;             /* what happened while it was read */
} held_t;

struct usb_hub {
    usb_hub_cfg_t cfg;
    char default_athlete[NAME_CAP];
    char sync_dir[1024];
    source_env_t env;
    usb_hub_hooks_t hooks;
    usb_host_t *host;
    usb_sync_t *sync;
    hub_pod_t **pods;
    size_t n_pods;
    pairing_t *pairs;
    size_t n_pairs;
    live_t **lives; /* every live source handed out (done ones too) */
    size_t n_lives;
    char (*stopped)[NAME_CAP]; /* athletes stopped by usb_hub_stop: no automatic restart */
    size_t n_stopped;
    held_t *held;              /* recordings waiting for the other foot's run */
    size_t n_held;
};

static int64_t now_rt_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* ---- fault counters ---- */

/* The pod's totals: earlier attachments plus the current one. */
static void faults_total(const hub_pod_t *hp, faults_t *f)
{
    *f = hp->past;
    if (!hp->pod)
        return;
    usb_pod_counters_t c;
    usb_pod_counters(hp->pod, &c);
    f->crc += c.stream.crc_errors;
    f->truncated += c.stream.truncated;
    f->bytes_skipped += c.stream.bytes_skipped;
    f->gaps += c.stream.seq_gaps;
    f->frames_lost += c.stream.frames_lost;
    f->duplicates += c.stream.duplicates;
    f->reordered += c.stream.reordered;
    f->out_of_order += c.stream.out_of_order;
    f->rejected += c.stream.rejected;
    f->stalls += c.stalls;
}

/* *a += sign * b, field by field. */
static void faults_add(faults_t *a, const faults_t *b, int sign)
{
    uint64_t *x = (uint64_t *)a;
    const uint64_t *y = (const uint64_t *)b;
    for (size_t i = 0; i < sizeof *a / sizeof *x; i++)
        x[i] = sign > 0 ? x[i] + y[i] : x[i] - y[i];
}

static json_t *faults_json(const faults_t *f)
{
    return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "crc",
                     (json_int_t)f->crc, "truncated", (json_int_t)f->truncated, "bytes_skipped",
                     (json_int_t)f->bytes_skipped, "gaps", (json_int_t)f->gaps, "frames_lost",
                     (json_int_t)f->frames_lost, "duplicates", (json_int_t)f->duplicates,
                     "reordered", (json_int_t)f->reordered, "out_of_order",
                     (json_int_t)f->out_of_order, "rejected", (json_int_t)f->rejected, "stalls",
                     (json_int_t)f->stalls, "unplugs", (json_int_t)f->unplugs);
}

/* {"crc":..,...,"pods":{"SERIAL":{...}}}: the sums over n pods' faults f[i]. New reference. */
static json_t *faults_report(const char *const *serials, const faults_t *f, unsigned n)
{
    faults_t sum;
    memset(&sum, 0, sizeof sum);
    json_t *pods = json_object();
    for (unsigned i = 0; i < n; i++) {
        faults_add(&sum, &f[i], 1);
        json_object_set_new(pods, serials[i], faults_json(&f[i]));
    }
    json_t *o = faults_json(&sum);
    json_object_set_new(o, "pods", pods);
    return o;
}

/* ---- pods and pairings ---- */

static hub_pod_t *pod_find(const usb_hub_t *h, const char *serial)
{
    for (size_t i = 0; i < h->n_pods; i++)
        if (!strcmp(h->pods[i]->serial, serial))
            return h->pods[i];
    return NULL;
}

static hub_pod_t *pod_get(usb_hub_t *h, const char *serial)
{
    hub_pod_t *hp = pod_find(h, serial);
    if (hp)
        return hp;
    h->pods = xrealloc(h->pods, (h->n_pods + 1) * sizeof *h->pods);
    hp = xcalloc(1, sizeof *hp);
    snprintf(hp->serial, sizeof hp->serial, "%s", serial);
    h->pods[h->n_pods++] = hp;
    return hp;
}

static const pairing_t *pair_find(const usb_hub_t *h, const char *serial)
{
    for (size_t i = 0; i < h->n_pairs; i++)
        if (!strcmp(h->pairs[i].serial, serial))
            return &h->pairs[i];
    return NULL;
}

int usb_hub_pair(usb_hub_t *h, const char *serial, const char *athlete, char foot)
{
    if (!serial || !*serial || strlen(serial) >= POD_SERIAL_LEN || !athlete || !*athlete ||
        strlen(athlete) >= NAME_CAP || (foot != 'L' && foot != 'R'))
        return USB_HUB_ERR_ARG;
    pairing_t *p = (pairing_t *)pair_find(h, serial);
    if (!p) {
        h->pairs = xrealloc(h->pairs, (h->n_pairs + 1) * sizeof *h->pairs);
        p = &h->pairs[h->n_pairs++];
        snprintf(p->serial, sizeof p->serial, "%s", serial);
    }
    snprintf(p->athlete, sizeof p->athlete, "%s", athlete);
    p->foot = foot;
    return USB_HUB_OK;
}

/* The athlete and foot of a pod: its pairing, else the default athlete with the pod's own foot
 * (NULL when there is none). */
static const char *athlete_of(const usb_hub_t *h, const hub_pod_t *hp, char *foot)
{
    const pairing_t *p = pair_find(h, hp->serial);
    if (p) {
        *foot = p->foot;
        return p->athlete;
    }
    *foot = (char)hp->id.foot;
    return h->default_athlete[0] ? h->default_athlete : NULL;
}

static int is_stopped(const usb_hub_t *h, const char *athlete)
{
    for (size_t i = 0; i < h->n_stopped; i++)
        if (!strcmp(h->stopped[i], athlete))
            return 1;
    return 0;
}

static void set_stopped(usb_hub_t *h, const char *athlete, int on)
{
    for (size_t i = 0; i < h->n_stopped; i++) {
        if (!strcmp(h->stopped[i], athlete)) {
            if (!on)
                memcpy(h->stopped[i], h->stopped[--h->n_stopped], NAME_CAP);
            return;
        }
    }
    if (!on)
        return;
    h->stopped = xrealloc(h->stopped, (h->n_stopped + 1) * sizeof *h->stopped);
    snprintf(h->stopped[h->n_stopped++], NAME_CAP, "%s", athlete);
}

/* ---- live sessions ---- */

static live_t *live_active(const usb_hub_t *h, const char *athlete)
{
    for (size_t i = 0; i < h->n_lives; i++)
        if (!h->lives[i]->done && !strcmp(h->lives[i]->athlete, athlete))
            return h->lives[i];
    return NULL;
}

static slot_t *slot_of(live_t *lv, const hub_pod_t *hp, unsigned *index)
{
    for (unsigned i = 0; i < lv->n_slots; i++) {
        if (lv->slots[i].hp == hp) {
            if (index)
                *index = i;
            return &lv->slots[i];
        }
    }
    return NULL;
}

/* The pod's totals now, or when its sync began while it syncs (a sync's faults belong to the
 * synced session, not to the live one). */
static void faults_live_now(const hub_pod_t *hp, faults_t *f)
{
    if (hp->syncing)
        *f = hp->sync_start;
    else
        faults_total(hp, f);
}

/* Hands the live session its pods' faults since it began, when they changed (force: always). */
static void live_update_faults(live_t *lv, int force)
{
    if (!lv->sess || session_finished(lv->sess))
        return;
    faults_t f[REC_MAX_PODS], sum;
    const char *ser[REC_MAX_PODS];
    memset(&sum, 0, sizeof sum);
    for (unsigned i = 0; i < lv->n_slots; i++) {
        faults_live_now(lv->slots[i].hp, &f[i]);
        faults_add(&f[i], &lv->slots[i].base, -1);
        faults_add(&sum, &f[i], 1);
        ser[i] = lv->slots[i].hp->serial;
    }
    if (!force && !memcmp(&sum, &lv->shown, sizeof sum))
        return;
    lv->shown = sum;
    session_set_faults(lv->sess, faults_report(ser, f, lv->n_slots));
}

/* Creates the session with the pending pods (left first) and starts their streams. */
static void make_session(live_t *lv)
{
    usb_hub_t *h = lv->hub;
    session_cfg_t sc;
    memset(&sc, 0, sizeof sc);
    rec_header_t *hd = &sc.header;
    rec_header_init(hd);
    snprintf(hd->athlete, sizeof hd->athlete, "%s", lv->athlete);
    snprintf(hd->source, sizeof hd->source, "usb-live");
    hd->start_unix_us = now_rt_us();
    for (int pass = 0; pass < 2; pass++) {
        for (unsigned i = 0; i < lv->n_pending; i++) {
            hub_pod_t *hp = lv->pending[i];
            char foot;
            athlete_of(h, hp, &foot);
            if (!hp->pod || (foot == 'L') != (pass == 0) || hd->n_pods == REC_MAX_PODS)
                continue;
            const usb_pod_info_t *in = usb_pod_info(hp->pod);
            rec_pod_t *rp = &hd->pods[hd->n_pods];
            memset(rp, 0, sizeof *rp);
            snprintf(rp->serial, sizeof rp->serial, "%s", in->id.serial);
            rp->foot = (uint8_t)foot;
            rp->rate_hz = in->id.rate_hz;
            rp->acc_range_g = in->id.acc_range_g;
            rp->gyr_range_dps = in->id.gyr_range_dps;
            for (int a = 0; a < 3; a++)
                rp->acc_scale[a] = 1.0f;
            rp->clock_offset_us = in->clock_offset_us;
            slot_t *s = &lv->slots[hd->n_pods];
            s->hp = hp;
            faults_live_now(hp, &s->base);
            s->hdr_offset_us = in->clock_offset_us;
            s->restart = 0;
            hp->live = lv;
            hd->n_pods++;
        }
    }
    lv->n_slots = hd->n_pods;
    lv->n_pending = 0;
    if (!lv->n_slots) { /* every pending pod left: wait for the next one */
        lv->first_pod_us = 0;
        return;
    }
    sc.record_dir = lv->env.record_dir;
    sc.window_period_s = lv->env.window_period_s;
    char err[256];
    lv->sess = session_new(&sc, lv->env.pub, lv->env.lg, err, sizeof err);
    if (!lv->sess) {
        log_error(lv->env.lg, "%s: %s", lv->athlete, err);
        lv->done = 1;
        return;
    }
    live_update_faults(lv, 1); /* "faults" in the status and summary from the start */
    if (h->hooks.session_started) {
        source_t src = {&live_ops, lv};
        h->hooks.session_started(h->hooks.ud, &src);
    }
    for (unsigned i = 0; i < lv->n_slots; i++) {
        hub_pod_t *hp = lv->slots[i].hp;
        int rc = usb_pod_start_stream(hp->pod);
        if (rc)
            log_warn(lv->env.lg, "%s: start stream: %s", hp->serial, usb_pod_strerror(rc));
        log_info(lv->env.lg, "%s: pod %s (%c) is pod %u of the session", lv->athlete, hp->serial,
                 hd->pods[i].foot, i);
    }
}

/* Adds a connected, idle pod of this athlete to its live session. */
static void live_add_pod(live_t *lv, hub_pod_t *hp)
{
    if (lv->sess) {
        slot_t *s = slot_of(lv, hp, NULL);
        if (!s) {
            log_warn(lv->env.lg,
                     "%s: pod %s is not in the running session: not used (stop and "
                     "start the session to include it)",
                     lv->athlete, hp->serial);
            return;
        }
        s->restart = 1;
        if (usb_pod_state(hp->pod) != USB_POD_STREAMING)
            usb_pod_start_stream(hp->pod);
        log_info(lv->env.lg, "%s: pod %s back", lv->athlete, hp->serial);
        return;
    }
    char foot;
    athlete_of(lv->hub, hp, &foot);
    for (unsigned i = 0; i < lv->n_pending; i++) {
        char f2;
        if (lv->pending[i] == hp)
            return;
        athlete_of(lv->hub, lv->pending[i], &f2);
        if (f2 == foot) {
            log_warn(lv->env.lg, "%s: second %c pod %s not used", lv->athlete, foot, hp->serial);
            return;
        }
    }
    if (lv->n_pending == REC_MAX_PODS)
        return;
    if (usb_pod_state(hp->pod) == USB_POD_STREAMING) /* from an earlier session: stop for now */
        usb_pod_stop_stream(hp->pod);
    hp->live = lv;
    lv->pending[lv->n_pending++] = hp;
    if (lv->n_pending == 1)
        lv->first_pod_us = loop_now_us();
    if (lv->n_pending == 2 && lv->started)
        make_session(lv);
}

static void live_finish(live_t *lv)
{
    if (lv->done)
        return;
    lv->done = 1;
    if (lv->sess && lv->hub)
        live_update_faults(lv, 0);
    if (lv->sess)
        session_finish(lv->sess);
    for (unsigned i = 0; i < lv->n_slots; i++) {
        hub_pod_t *hp = lv->slots[i].hp;
        if (lv->hub && hp->pod && hp->live == lv && !hp->syncing &&
            usb_pod_state(hp->pod) == USB_POD_STREAMING)
            usb_pod_stop_stream(hp->pod);
    }
    for (unsigned i = 0; i < lv->n_slots; i++)
        if (lv->slots[i].hp->live == lv)
            lv->slots[i].hp->live = NULL;
    for (unsigned i = 0; i < lv->n_pending; i++)
        if (lv->pending[i]->live == lv)
            lv->pending[i]->live = NULL;
    lv->n_pending = 0;
}

static int64_t live_step(void *impl, int64_t now_us)
{
    live_t *lv = impl;
    if (lv->done)
        return SOURCE_DONE;
    lv->started = 1;
    if (!lv->sess && lv->hub &&
        (lv->n_pending == 2 ||
         (lv->n_pending && now_us - lv->first_pod_us >= (int64_t)(lv->hub->cfg.wait_pair_s * 1e6))))
        make_session(lv);
    if (lv->sess && lv->env.duration_s > 0) {
        double t0 = session_data_start(lv->sess), t1 = session_data_time(lv->sess);
        if (!isnan(t0) && t1 - t0 >= lv->env.duration_s) {
            live_finish(lv);
            return SOURCE_DONE;
        }
    }
    return lv->done ? SOURCE_DONE : 100;
}

static session_t *live_session(void *impl)
{
    return ((live_t *)impl)->sess;
}

static void live_stop(void *impl)
{
    live_finish(impl);
}

static void live_free(void *impl)
{
    live_t *lv = impl;
    if (!lv)
        return;
    if (lv->hub) { /* the hub outlives it: forget it there */
        usb_hub_t *h = lv->hub;
        live_finish(lv);
        for (size_t i = 0; i < h->n_lives; i++) {
            if (h->lives[i] == lv) {
                h->lives[i] = h->lives[--h->n_lives];
                break;
            }
        }
    }
    session_free(&lv->sess);
    xfree(lv);
}

static const source_ops_t live_ops = {
    .kind = "usb",
    .step = live_step,
    .session = live_session,
    .stop = live_stop,
    .free = live_free,
};

static live_t *live_new(usb_hub_t *h, const char *athlete)
{
    live_t *lv = xcalloc(1, sizeof *lv);
    lv->hub = h;
    lv->env = h->env;
    snprintf(lv->athlete, sizeof lv->athlete, "%s", athlete);
    h->lives = xrealloc(h->lives, (h->n_lives + 1) * sizeof *h->lives);
    h->lives[h->n_lives++] = lv;
    source_t src = {&live_ops, lv};
    log_info(h->env.lg, "%s: live session waiting for its pods", athlete);
    h->hooks.add_source(h->hooks.ud, &src, NULL);
    return lv;
}

/* A connected pod with nothing to sync: into its athlete's live session, if any. */
static void go_live(usb_hub_t *h, hub_pod_t *hp)
{
    if (!hp->pod || hp->syncing)
        return;
    char foot;
    const char *ath = athlete_of(h, hp, &foot);
    if (!ath) {
        log_warn(h->env.lg, "pod %s (%c) is not paired: not used (gaitctl assign %s ATHLETE L|R)",
                 hp->serial, hp->id.foot, hp->serial);
        return;
    }
    live_t *lv = live_active(h, ath);
    if (!lv && h->cfg.live && !is_stopped(h, ath))
        lv = live_new(h, ath);
    if (lv)
        live_add_pod(lv, hp);
    else if (usb_pod_state(hp->pod) == USB_POD_STREAMING)
        usb_pod_stop_stream(hp->pod);
}

/* ---- sync ---- */

static void begin_sync(usb_hub_t *h, hub_pod_t *hp)
{
    if (hp->live)
        live_update_faults(hp->live, 0);
    faults_total(hp, &hp->sync_start);
    hp->sync_base = hp->sync_start;
    hp->syncing = 1;
    hp->sync_listed = 0;
    if (usb_pod_state(hp->pod) == USB_POD_STREAMING)
        usb_pod_stop_stream(hp->pod); /* the runs are listed after its ack */
    log_info(h->env.lg, "%s: syncing stored runs", hp->serial);
    usb_sync_on_added(h->sync, hp->pod, 0);
}

/* Ends the pod's sync once nothing is read, analysed or erased any more, then back to live. */
static void check_sync_done(usb_hub_t *h, hub_pod_t *hp)
{
    if (!hp->syncing || !usb_sync_pod_idle(h->sync, hp->serial) || hp->pending || hp->erasing)
        return;
    hp->syncing = 0;
    slot_t *sl = hp->live && hp->live->sess ? slot_of(hp->live, hp, NULL) : NULL;
    if (sl) { /* the sync's faults are the synced sessions': not the live one's */
        faults_t t;
        faults_total(hp, &t);
        faults_add(&sl->base, &t, 1);
        faults_add(&sl->base, &hp->sync_start, -1);
    }
    log_info(h->env.lg, "%s: sync finished", hp->serial);
    if (hp->pod) {
        usb_pod_list_runs(hp->pod); /* refresh the list shown by `runs` */
        go_live(h, hp);
    }
}

static const char *sync_athlete(void *ud, const char *serial)
{
    usb_hub_t *h = ud;
    hub_pod_t *hp = pod_find(h, serial);
    char foot;
    return hp ? athlete_of(h, hp, &foot) : NULL;
}

static int sync_skip(void *ud, const char *serial, uint32_t run_id)
{
    usb_hub_t *h = ud;
    return h->hooks.run_synced ? h->hooks.run_synced(h->hooks.ud, serial, run_id) : 0;
}

/* The held run (or the merge of two) could not be handed out: kept on the pod, never erased. */
static void sync_give_up(usb_hub_t *h, hub_pod_t *hp)
{
    if (hp->pending)
        hp->pending--;
    check_sync_done(h, hp);
}

/* A replay source for a synced recording at path, analysed as fast as it reads, not recorded
 * again (the recording is the synced file itself). Returns 0 or -1 with err. */
static int replay_synced(const usb_hub_t *h, const char *path, source_t *src, char *err,
                         size_t cap)
{
    source_env_t env = h->env;
    env.record_dir = NULL;
    env.speed = 0;
    env.duration_s = 0;
    return src_replay_new(src, path, &env, err, cap);
}

/* Hands one run's recording to the daemon for analysis as a one-pod session. */
static void analyse_one(usb_hub_t *h, const held_t *e)
{
    hub_pod_t *hp = e->hp;
    source_t src;
    char err[512];
    if (replay_synced(h, e->path, &src, err, sizeof err) != 0) {
        log_error(h->env.lg, "%s: run %u: %s", hp->serial, e->run_id, err);
        sync_give_up(h, hp);
        return;
    }
    session_t *ss = src.ops->session(src.impl);
    if (ss) { /* what happened while this run was read: in its summary and catalog row */
        const char *ser = hp->serial;
        session_set_faults(ss, faults_report(&ser, &e->faults, 1));
    }
    usb_hub_run_t run;
    memset(&run, 0, sizeof run);
    snprintf(run.serial, sizeof run.serial, "%s", hp->serial);
    run.run_id = e->run_id;
    run.path = e->path;
    h->hooks.add_source(h->hooks.ud, &src, &run);
}

/* The left and right runs of one outing: one recording of both feet, one session. */
static void analyse_merged(usb_hub_t *h, const held_t *a, const held_t *b)
{
    const held_t *e[2] = {a->foot == 'L' ? a : b, a->foot == 'L' ? b : a};
    const held_t *old = !a->hp ? a : !b->hp ? b : NULL; /* the earlier session's side, if any */
    const char *parts[2] = {e[0]->path, e[1]->path};
    char path[1024], err[1024], what[2][96];
    for (int i = 0; i < 2; i++) {
        if (e[i]->hp)
            snprintf(what[i], sizeof what[i], "run %s/%u", e[i]->hp->serial, e[i]->run_id);
        else
            snprintf(what[i], sizeof what[i], "session %lld", (long long)e[i]->session_id);
    }
    if (usb_sync_merge(h->sync_dir, parts, h->env.lg, path, sizeof path, err, sizeof err) != 0) {
        log_error(h->env.lg, "%s: cannot merge %s and %s: %s: analysed alone", e[0]->athlete,
                  what[0], what[1], err);
        for (int i = 0; i < 2; i++)
            if (e[i]->hp)
                analyse_one(h, e[i]);
        return;
    }
    log_info(h->env.lg, "%s: %s and %s are one outing: both feet in %s%s", e[0]->athlete,
             what[0], what[1], path, old ? " (the earlier one-foot session is superseded)" : "");
    source_t src;
    if (replay_synced(h, path, &src, err, sizeof err) != 0) {
        log_error(h->env.lg, "%s: %s", e[0]->athlete, err);
        for (int i = 0; i < 2; i++)
            if (e[i]->hp)
                sync_give_up(h, e[i]->hp);
        return;
    }
    session_t *ss = src.ops->session(src.impl);
    const char *ser[2];
    faults_t f[2];
    unsigned nf = 0;
    for (int i = 0; i < 2; i++) {
        if (e[i]->hp) {
            ser[nf] = e[i]->hp->serial;
            f[nf++] = e[i]->faults;
        }
    }
    if (ss)
        session_set_faults(ss, faults_report(ser, f, nf));
    usb_hub_run_t run;
    memset(&run, 0, sizeof run);
    const held_t *n0 = e[0]->hp ? e[0] : e[1], *n1 = e[0]->hp && e[1]->hp ? e[1] : NULL;
    snprintf(run.serial, sizeof run.serial, "%s", n0->hp->serial);
    run.run_id = n0->run_id;
    run.path = path;
    if (n1) {
        snprintf(run.serial2, sizeof run.serial2, "%s", n1->hp->serial);
        run.run_id2 = n1->run_id;
    }
    run.supersedes = old ? old->session_id : 0;
    run.parts[0] = parts[0];
    run.parts[1] = parts[1];
    h->hooks.add_source(h->hooks.ud, &src, &run);
}

/* 1 while the athlete's pod of the other foot than `foot` is syncing and may still record a run
 * (its runs not listed yet, or being read or waiting to be read). A pod unplugged mid-read is
 * not waited for (its run is finished at its next plug-in, when it may still be merged). */
static int partner_busy(const usb_hub_t *h, const char *athlete, char foot)
{
    for (size_t i = 0; i < h->n_pods; i++) {
        const hub_pod_t *q = h->pods[i];
        char qf;
        const char *qa = athlete_of(h, q, &qf);
        if (!qa || strcmp(qa, athlete) || qf == foot)
            continue;
        if (q->syncing && q->pod && (!q->sync_listed || !usb_sync_pod_idle(h->sync, q->serial)))
            return 1;
    }
    return 0;
}

/* Overlap rule: the two runs overlap by at least half of the shorter one. */
static int same_outing(const held_t *a, const held_t *b)
{
    int64_t lo = a->start_us > b->start_us ? a->start_us : b->start_us;
    int64_t hi = a->end_us < b->end_us ? a->end_us : b->end_us;
    int64_t la = a->end_us - a->start_us, lb = b->end_us - b->start_us;
    int64_t shorter = la < lb ? la : lb;
    return shorter > 0 && hi > lo && 2 * (hi - lo) >= shorter;
}

/* Held runs whose partner pod has nothing more to record are analysed alone. */
static void release_held(usb_hub_t *h)
{
    for (size_t i = 0; i < h->n_held;) {
        if (partner_busy(h, h->held[i].athlete, h->held[i].foot)) {
            i++;
            continue;
        }
        held_t e = h->held[i];
        h->held[i] = h->held[--h->n_held];
        log_info(h->env.lg, "%s: run %u: no run of the other foot to merge: one-foot session",
                 e.hp->serial, e.run_id);
        analyse_one(h, &e);
        i = 0;
    }
}

/* An earlier one-foot session of the other foot (catalog), its recording still there. */
typedef struct earlier {
    const hub_pod_t *hp;
    char foot;                   /* the foot wanted */
    held_t *out;
} earlier_t;

static int earlier_cb(int64_t id, const char *recording, void *user)
{
    earlier_t *w = user;
    char err[256];
    input_t *in = recording ? input_open(recording, 0, err, sizeof err) : NULL;
    if (!in)
        return 0;
    const rec_header_t *rh = input_format(in) == INPUT_RECORDING ? input_header(in) : NULL;
    int ok = rh && rh->n_pods == 1 && rh->pods[0].foot == (uint8_t)w->foot &&
             strcmp(rh->pods[0].serial, w->hp->serial) != 0;
    input_free(&in);
    if (!ok)
        return 0;
    w->out->session_id = id;
    snprintf(w->out->path, sizeof w->out->path, "%s", recording);
    w->out->foot = w->foot;
    return 1;
}

static void sync_recorded(void *ud, usb_pod_t *p, uint32_t run_id, const char *path,
                          int64_t start_us, int64_t end_us)
{
    usb_hub_t *h = ud;
    hub_pod_t *hp = pod_get(h, usb_pod_info(p)->id.serial);
    held_t me;
    memset(&me, 0, sizeof me);
    me.hp = hp;
    me.run_id = run_id;
    snprintf(me.path, sizeof me.path, "%s", path);
    me.start_us = start_us;
    me.end_us = end_us;
    faults_t t;
    faults_total(hp, &t);
    me.faults = t;
    faults_add(&me.faults, &hp->sync_base, -1);
    hp->sync_base = t;
    hp->pending++;
    const char *ath = athlete_of(h, hp, &me.foot);
    if (ath && (me.foot == 'L' || me.foot == 'R')) {
        snprintf(me.athlete, sizeof me.athlete, "%s", ath);
        for (size_t i = 0; i < h->n_held; i++) {
            held_t *o = &h->held[i];
            if (o->hp != hp && !strcmp(o->athlete, me.athlete) && o->foot != me.foot &&
                same_outing(o, &me)) {
                held_t other = *o;
                h->held[i] = h->held[--h->n_held];
                analyse_merged(h, &other, &me);
                return;
            }
        }
        if (partner_busy(h, me.athlete, me.foot)) {
            h->held = xrealloc(h->held, (h->n_held + 1) * sizeof *h->held);
            h->held[h->n_held++] = me;
            log_info(h->env.lg, "%s: run %u held until the other foot's pod of %s is synced",
                     hp->serial, run_id, me.athlete);
            return;
        }
        /* the other foot synced earlier, alone: merge with it, superseding that session */
        held_t old;
        memset(&old, 0, sizeof old);
        snprintf(old.athlete, sizeof old.athlete, "%s", me.athlete);
        earlier_t w = {hp, me.foot == 'L' ? 'R' : 'L', &old};
        if (h->hooks.find_synced &&
            h->hooks.find_synced(h->hooks.ud, me.athlete, start_us, end_us, earlier_cb, &w) == 1) {
            analyse_merged(h, &old, &me);
            return;
        }
    }
    analyse_one(h, &me);
}

void usb_hub_run_done(usb_hub_t *h, const char *serial, uint32_t run_id, int ok)
{
    hub_pod_t *hp = pod_find(h, serial);
    if (!hp)
        return;
    if (hp->pending)
        hp->pending--;
    if (ok && h->cfg.erase && hp->pod) {
        int rc = usb_pod_erase_run(hp->pod, run_id);
        if (rc == USB_POD_OK)
            hp->erasing++;
        else
            log_warn(h->env.lg, "%s: erase run %u: %s", serial, run_id, usb_pod_strerror(rc));
    } else if (ok && h->cfg.erase) {
        log_info(h->env.lg, "%s: run %u synced; unplugged before the erase: kept on the pod",
                 serial, run_id);
    }
    check_sync_done(h, hp);
}

int usb_hub_sync(usb_hub_t *h, const char *serial, int *n)
{
    *n = 0;
    if (!h->sync)
        return USB_HUB_ERR_STATE;
    if (serial) {
        hub_pod_t *hp = pod_find(h, serial);
        if (!hp || !hp->pod || usb_pod_state(hp->pod) < USB_POD_READY)
            return USB_HUB_ERR_NOT_FOUND;
        if (hp->syncing)
            return USB_HUB_ERR_BUSY;
        begin_sync(h, hp);
        *n = 1;
        return USB_HUB_OK;
    }
    for (size_t i = 0; i < h->n_pods; i++) {
        hub_pod_t *hp = h->pods[i];
        if (hp->pod && !hp->syncing && usb_pod_state(hp->pod) >= USB_POD_READY) {
            begin_sync(h, hp);
            (*n)++;
        }
    }
    return USB_HUB_OK;
}

int usb_hub_erase(usb_hub_t *h, const char *serial, uint32_t run_id)
{
    hub_pod_t *hp = pod_find(h, serial);
    if (!hp || !hp->pod || usb_pod_state(hp->pod) < USB_POD_READY)
        return USB_HUB_ERR_NOT_FOUND;
    int listed = 0;
    for (unsigned i = 0; hp->listed && i < hp->runs.n; i++)
        listed |= hp->runs.runs[i].run_id == run_id;
    if (!listed)
        return USB_HUB_ERR_NOT_FOUND;
    if (hp->syncing || usb_pod_state(hp->pod) != USB_POD_READY)
        return USB_HUB_ERR_BUSY;
    if (sync_skip(h, serial, run_id) != 1)
        return USB_HUB_ERR_STATE;
    if (usb_pod_erase_run(hp->pod, run_id) != USB_POD_OK)
        return USB_HUB_ERR_STATE;
    hp->erasing++;
    log_info(h->env.lg, "%s: erasing run %u (control request)", serial, run_id);
    return USB_HUB_OK;
}

int usb_hub_busy(const usb_hub_t *h)
{
    for (size_t i = 0; i < h->n_pods; i++)
        if (h->pods[i]->syncing)
            return 1;
    return 0;
}

/* ---- usb_pod callbacks ---- */

static void on_added(void *ud, usb_pod_t *p, int resumed)
{
    usb_hub_t *h = ud;
    const usb_pod_info_t *in = usb_pod_info(p);
    hub_pod_t *hp = pod_get(h, in->id.serial);
    hp->pod = p;
    hp->id = in->id;
    if (h->hooks.pod_seen)
        h->hooks.pod_seen(h->hooks.ud, hp->serial);
    if (hp->recovering) { /* answers again after a stall: its job resumed (no new sync) */
        hp->recovering = 0;
        log_info(h->env.lg, "%s: recovered from the stall", hp->serial);
        if (hp->syncing)
            usb_sync_on_added(h->sync, p, resumed);
        else if (hp->live && hp->live->sess)
            live_add_pod(hp->live, hp);
        else
            go_live(h, hp);
        if (hp->live)
            live_update_faults(hp->live, 0);
        return;
    }
    if (hp->syncing) { /* unplugged mid-sync: usb_sync resumes the read */
        usb_sync_on_added(h->sync, p, resumed);
        return;
    }
    if (h->sync && h->cfg.sync) {
        begin_sync(h, hp);
        return;
    }
    usb_pod_list_runs(p); /* for `runs`; answered before the stream starts */
    if (hp->live && hp->live->sess) {
        live_add_pod(hp->live, hp); /* back in its session (a resumed stream or not) */
        return;
    }
    go_live(h, hp);
}

static void on_frame(void *ud, usb_pod_t *p, const pod_samples_t *f, const uint8_t *wire,
                     size_t len)
{
    usb_hub_t *h = ud;
    if (f->run_id) {
        if (h->sync)
            usb_sync_on_frame(h->sync, p, f, wire, len);
        return;
    }
    hub_pod_t *hp = pod_find(h, usb_pod_info(p)->id.serial);
    live_t *lv = hp ? hp->live : NULL;
    unsigned idx;
    slot_t *s;
    if (!lv || !lv->sess || lv->done || !(s = slot_of(lv, hp, &idx)))
        return;
    live_update_faults(lv, 0);
    int64_t now = loop_now_us();
    if (s->restart) {
        pod_msg_t ack = {.type = POD_REP_ACK};
        ack.u.ack.cmd = POD_CMD_START_STREAM;
        ack.u.ack.status = POD_ST_OK;
        size_t n;
        if (pod_encode(&ack, lv->wire, sizeof lv->wire, &n) == 0)
            session_feed_frame(lv->sess, idx, lv->wire, n, now);
        s->restart = 0;
    }
    int64_t t = usb_pod_host_us(p, f->t_dev_us) - s->hdr_offset_us;
    if (t == (int64_t)f->t_dev_us || t < 0) {
        session_feed_frame(lv->sess, idx, wire, len, now);
        return;
    }
    lv->msg.type = POD_MSG_SAMPLES;
    lv->msg.u.samples = *f;
    lv->msg.u.samples.t_dev_us = (uint64_t)t;
    size_t n;
    if (pod_encode(&lv->msg, lv->wire, sizeof lv->wire, &n) == 0)
        session_feed_frame(lv->sess, idx, lv->wire, n, now);
}

static void on_runs(void *ud, usb_pod_t *p, const pod_runs_t *runs)
{
    usb_hub_t *h = ud;
    hub_pod_t *hp = pod_get(h, usb_pod_info(p)->id.serial);
    hp->runs = *runs;
    hp->listed = 1;
    if (hp->syncing) {
        /* runs synced earlier whose erase did not happen (the pod left first): erase now, if this
         * host verified them (usb_pod refuses otherwise; they then stay on the pod) */
        pod_runs_t rest = *runs; /* what usb_sync reads (or verifies again, then erases) */
        rest.n = 0;
        for (unsigned i = 0; i < runs->n; i++) {
            uint32_t id = runs->runs[i].run_id;
            if (h->cfg.erase && sync_skip(h, hp->serial, id) == 1 &&
                usb_pod_erase_run(p, id) == USB_POD_OK) {
                hp->erasing++;
                log_info(h->env.lg, "%s: run %u was synced before: erasing it", hp->serial, id);
                continue;
            }
            rest.runs[rest.n++] = runs->runs[i];
        }
        hp->sync_listed = 1;
        usb_sync_on_runs(h->sync, p, &rest);
        check_sync_done(h, hp);
        release_held(h);
    }
}

static void on_run_done(void *ud, usb_pod_t *p, uint32_t run_id, int status)
{
    usb_hub_t *h = ud;
    if (!h->sync)
        return;
    usb_sync_on_run_done(h->sync, p, run_id, status);
    hub_pod_t *hp = pod_find(h, usb_pod_info(p)->id.serial);
    if (hp)
        check_sync_done(h, hp);
    release_held(h);
}

static void on_erased(void *ud, usb_pod_t *p, uint32_t run_id, int status)
{
    usb_hub_t *h = ud;
    if (h->sync)
        usb_sync_on_erased(h->sync, p, run_id, status);
    hub_pod_t *hp = pod_find(h, usb_pod_info(p)->id.serial);
    if (!hp)
        return;
    if (hp->erasing)
        hp->erasing--;
    if (status == USB_POD_OK)
        log_info(h->env.lg, "%s: run %u erased on the pod", hp->serial, run_id);
    if (!hp->syncing && hp->pod)
        usb_pod_list_runs(hp->pod); /* the list shown by `runs` */
    check_sync_done(h, hp);
}

static void on_removed(void *ud, usb_pod_t *p)
{
    usb_hub_t *h = ud;
    hub_pod_t *hp = pod_find(h, usb_pod_info(p)->id.serial);
    if (hp && hp->refused_pod == p) {
        hp->refused_pod = NULL;
        log_info(h->env.lg, "refused pod %s unplugged", hp->serial);
        return;
    }
    if (!hp || hp->pod != p)
        return;
    faults_t t;
    faults_total(hp, &t); /* this attachment's counters go with it: keep them */
    hp->past = t;
    hp->past.unplugs++;
    hp->recovering = 0;
    hp->pod = NULL;
    if (hp->live)
        live_update_faults(hp->live, 0);
    hp->erasing = 0; /* answers that will never come */
    if (h->sync && hp->syncing)
        usb_sync_on_removed(h->sync, p);
    live_t *lv = hp->live;
    if (lv && !lv->sess) { /* not in a session yet: no longer pending */
        for (unsigned i = 0; i < lv->n_pending; i++) {
            if (lv->pending[i] == hp) {
                lv->pending[i] = lv->pending[--lv->n_pending];
                break;
            }
        }
        hp->live = NULL;
    }
    if (lv && !lv->done)
        log_warn(h->env.lg, "%s: pod %s unplugged", lv->athlete, hp->serial);
    else
        log_info(h->env.lg, "pod %s closed", hp->serial);
    if (hp->syncing && !hp->pending && usb_sync_pod_idle(h->sync, hp->serial))
        hp->syncing = 0; /* nothing in progress: a fresh sync at the next plug-in */
    if (h->sync)
        release_held(h); /* its partner's held runs are not waiting for a pod that left */
}

static void on_stalled(void *ud, usb_pod_t *p, const char *why)
{
    usb_hub_t *h = ud;
    hub_pod_t *hp = pod_find(h, usb_pod_info(p)->id.serial);
    if (!hp || hp->pod != p)
        return;
    hp->recovering = 1;
    hp->erasing = 0; /* answers that will never come */
    if (hp->live && !hp->live->done)
        log_warn(h->env.lg, "%s: pod %s stopped answering (%s): recovering", hp->live->athlete,
                 hp->serial, why);
    else if (hp->syncing)
        log_warn(h->env.lg,
                 "%s: stopped answering during its sync (%s): the copy resumes when it "
                 "answers again",
                 hp->serial, why);
    if (hp->live)
        live_update_faults(hp->live, 0);
}

static void on_refused(void *ud, usb_pod_t *p, const pod_identify_t *id, const char *why)
{
    usb_hub_t *h = ud;
    hub_pod_t *hp = pod_get(h, usb_pod_info(p)->id.serial);
    if (hp->pod == p) /* refused when identified again after a stall: no longer used */
        hp->pod = NULL;
    hp->refused_pod = p;
    hp->recovering = 0;
    hp->id = *id;
    snprintf(hp->id.serial, sizeof hp->id.serial, "%s", hp->serial);
    snprintf(hp->refused, sizeof hp->refused, "%s", why);
    log_error(h->env.lg,
              "pod %s refused: identify reply with %s (not analysed; `gaitctl pods` "
              "lists it)",
              hp->serial, why);
}

static const usb_pod_cbs_t usb_cbs = {
    .added = on_added,
    .frame = on_frame,
    .runs = on_runs,
    .run_done = on_run_done,
    .erased = on_erased,
    .removed = on_removed,
    .stalled = on_stalled,
    .refused = on_refused,
};

/* ---- hub ---- */

usb_hub_t *usb_hub_new(const usb_hub_cfg_t *cfg, const source_env_t *env,
                       const usb_hub_hooks_t *hooks, char *err, size_t errcap)
{
    usb_hub_t *h = xcalloc(1, sizeof *h);
    h->cfg = *cfg;
    if (!(h->cfg.wait_pair_s > 0))
        h->cfg.wait_pair_s = 3.0;
    snprintf(h->default_athlete, sizeof h->default_athlete, "%s",
             cfg->default_athlete ? cfg->default_athlete : "");
    h->env = *env;
    h->hooks = *hooks;
    if (cfg->sync_dir) {
        snprintf(h->sync_dir, sizeof h->sync_dir, "%s", cfg->sync_dir);
        usb_sync_cfg_t sc = {
            .dir = h->sync_dir,
            .erase = cfg->erase,
            .verify_synced = cfg->erase, /* synced runs an earlier gaitd did not erase */
            .ud = h,
            .skip = sync_skip,
            .athlete = sync_athlete,
            .recorded = sync_recorded,
        };
        h->sync = usb_sync_new(&sc, env->lg);
    }
    h->host = usb_host_new(cfg->loop, &cfg->usb, &usb_cbs, h, env->lg, err, errcap);
    if (!h->host) {
        usb_sync_free(&h->sync);
        xfree(h);
        return NULL;
    }
    return h;
}

void usb_hub_free(usb_hub_t **hp_)
{
    if (!hp_ || !*hp_)
        return;
    usb_hub_t *h = *hp_;
    for (size_t i = 0; i < h->n_lives; i++)
        live_finish(h->lives[i]);
    usb_host_free(&h->host); /* stops the streams, closes the pods */
    usb_sync_free(&h->sync);
    xfree(h->held); /* held runs stay on their pods (not catalogued, not erased) */
    for (size_t i = 0; i < h->n_lives; i++)
        h->lives[i]->hub = NULL;
    for (size_t i = 0; i < h->n_pods; i++)
        xfree(h->pods[i]);
    xfree(h->pods);
    xfree(h->pairs);
    xfree(h->lives);
    xfree(h->stopped);
    xfree(h);
    *hp_ = NULL;
}

int usb_hub_start(usb_hub_t *h, const char *athlete)
{
    if (!athlete || !*athlete || strlen(athlete) >= NAME_CAP)
        return USB_HUB_ERR_ARG;
    if (live_active(h, athlete))
        return USB_HUB_ERR_BUSY;
    set_stopped(h, athlete, 0);
    live_t *lv = live_new(h, athlete);
    for (size_t i = 0; i < h->n_pods; i++) {
        hub_pod_t *hp = h->pods[i];
        char foot;
        const char *a = athlete_of(h, hp, &foot);
        if (hp->pod && !hp->syncing && a && !strcmp(a, athlete) &&
            usb_pod_state(hp->pod) >= USB_POD_READY)
            live_add_pod(lv, hp);
    }
    return USB_HUB_OK;
}

int usb_hub_stop(usb_hub_t *h, const char *athlete)
{
    live_t *lv = live_active(h, athlete);
    if (!lv)
        return USB_HUB_ERR_NOT_FOUND;
    set_stopped(h, athlete, 1);
    live_finish(lv);
    return USB_HUB_OK;
}

/* ---- JSON ---- */

static void utc_text(int64_t unix_us, char *buf, size_t cap)
{
    time_t s = (time_t)(unix_us / 1000000);
    struct tm tm;
    gmtime_r(&s, &tm);
    snprintf(buf, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(unix_us % 1000000 / 1000));
}

static const char *state_name(const usb_hub_t *h, const hub_pod_t *hp)
{
    char foot;
    if (!hp->pod)
        return hp->refused_pod ? "refused" : "unplugged";
    if (usb_pod_stalled(hp->pod))
        return "stalled";
    if (hp->syncing)
        return "syncing";
    if (usb_pod_state(hp->pod) < USB_POD_READY)
        return "identifying";
    if (!athlete_of(h, hp, &foot))
        return "unpaired";
    if (hp->live && !hp->live->done)
        return hp->live->sess && slot_of(hp->live, hp, NULL) ? "live" : "waiting";
    return "idle";
}

static json_t *pod_json(const usb_hub_t *h, const hub_pod_t *hp, const pairing_t *pr)
{
    char foot = 0;
    const char *ath = hp ? athlete_of(h, hp, &foot) : pr->athlete;
    if (!hp)
        foot = pr->foot;
    json_t *o = json_object();
    json_object_set_new(o, "serial", json_string(hp ? hp->serial : pr->serial));
    char fs[2] = {foot ? foot : '?', 0};
    json_object_set_new(o, "foot", json_string(fs));
    json_object_set_new(o, "athlete", ath ? json_string(ath) : json_null());
    json_object_set_new(o, "paired", json_boolean(pair_find(h, hp ? hp->serial : pr->serial)));
    json_object_set_new(o, "state", json_string(hp ? state_name(h, hp) : "unplugged"));
    json_object_set_new(o, "connected", json_boolean(hp && (hp->pod || hp->refused_pod)));
    if (hp && hp->refused[0])
        json_object_set_new(o, "refused", json_string(hp->refused));
    json_object_set_new(o, "streaming",
                        json_boolean(hp && hp->pod && usb_pod_state(hp->pod) == USB_POD_STREAMING));
    if (hp && hp->id.serial[0]) {
        json_object_set_new(o, "rate_hz", json_integer(hp->id.rate_hz));
        json_object_set_new(o, "acc_range_g", json_integer(hp->id.acc_range_g));
        json_object_set_new(o, "gyr_range_dps", json_integer(hp->id.gyr_range_dps));
        char fw[32];
        snprintf(fw, sizeof fw, "%u.%u.%u", hp->id.fw_major, hp->id.fw_minor, hp->id.fw_patch);
        json_object_set_new(o, "firmware", json_string(fw));
    }
    if (hp && hp->pod) {
        const usb_pod_info_t *in = usb_pod_info(hp->pod);
        json_object_set_new(o, "clock",
                            json_pack("{s:I, s:I, s:f, s:i}", "offset_us",
                                      (json_int_t)in->clock_offset_us, "rtt_us",
                                      (json_int_t)in->clock_rtt_us, "drift_ppm",
                                      isfinite(in->drift_ppm) ? in->drift_ppm : 0.0, "syncs",
                                      (int)in->clock_syncs));
        usb_pod_counters_t c;
        usb_pod_counters(hp->pod, &c);
        json_object_set_new(
            o, "counters",
            json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "frames_ok",
                      (json_int_t)c.stream.frames_ok, "crc_errors", (json_int_t)c.stream.crc_errors,
                      "gaps", (json_int_t)c.stream.seq_gaps, "frames_lost",
                      (json_int_t)c.stream.frames_lost, "bytes_skipped",
                      (json_int_t)c.stream.bytes_skipped, "transfers_in",
                      (json_int_t)c.transfers_in, "bytes_in", (json_int_t)c.bytes_in, "live_frames",
                      (json_int_t)c.live_frames, "run_frames", (json_int_t)c.run_frames, "retries",
                      (json_int_t)c.retries));
        json_t *co = json_object_get(o, "counters");
        json_object_set_new(co, "truncated", json_integer((json_int_t)c.stream.truncated));
        json_object_set_new(co, "duplicates", json_integer((json_int_t)c.stream.duplicates));
        json_object_set_new(co, "reordered", json_integer((json_int_t)c.stream.reordered));
        json_object_set_new(co, "out_of_order", json_integer((json_int_t)c.stream.out_of_order));
        json_object_set_new(co, "rejected", json_integer((json_int_t)c.stream.rejected));
        json_object_set_new(co, "stale", json_integer((json_int_t)c.stream.stale));
        json_object_set_new(co, "run_resumes", json_integer((json_int_t)c.run_resumes));
        json_object_set_new(co, "run_discarded", json_integer((json_int_t)c.run_discarded));
        json_object_set_new(co, "stalls", json_integer((json_int_t)c.stalls));
        json_object_set_new(co, "recoveries", json_integer((json_int_t)c.recoveries));
    }
    if (hp) { /* every attachment of this gaitd, unplugs included */
        faults_t t;
        faults_total(hp, &t);
        json_object_set_new(o, "faults", faults_json(&t));
    }
    if (hp && hp->listed)
        json_object_set_new(o, "runs_stored", json_integer(hp->runs.n));
    return o;
}

json_t *usb_hub_pods_json(usb_hub_t *h)
{
    json_t *a = json_array();
    for (size_t i = 0; i < h->n_pods; i++)
        json_array_append_new(a, pod_json(h, h->pods[i], NULL));
    for (size_t i = 0; i < h->n_pairs; i++)
        if (!pod_find(h, h->pairs[i].serial))
            json_array_append_new(a, pod_json(h, NULL, &h->pairs[i]));
    return a;
}

json_t *usb_hub_status_json(usb_hub_t *h)
{
    json_t *a = json_array();
    for (size_t i = 0; i < h->n_pods; i++) {
        const hub_pod_t *hp = h->pods[i];
        faults_t t;
        faults_total(hp, &t);
        json_t *o =
            json_pack("{s:s, s:s, s:b, s:o}", "serial", hp->serial, "state", state_name(h, hp),
                      "connected", hp->pod || hp->refused_pod, "faults", faults_json(&t));
        if (hp->refused[0])
            json_object_set_new(o, "refused", json_string(hp->refused));
        json_array_append_new(a, o);
    }
    return a;
}

json_t *usb_hub_runs_json(usb_hub_t *h, const char *serial)
{
    hub_pod_t *hp = pod_find(h, serial);
    if (!hp)
        return NULL;
    json_t *runs = json_array();
    for (unsigned i = 0; hp->listed && i < hp->runs.n; i++) {
        const pod_run_info_t *r = &hp->runs.runs[i];
        char utc[96];
        utc_text((int64_t)r->start_unix_us, utc, sizeof utc);
        int synced = h->hooks.run_synced ? h->hooks.run_synced(h->hooks.ud, serial, r->run_id) : 0;
        json_array_append_new(runs, json_pack("{s:I, s:I, s:s, s:I, s:I, s:b}", "run_id",
                                              (json_int_t)r->run_id, "start_unix_us",
                                              (json_int_t)r->start_unix_us, "start_utc", utc,
                                              "frames", (json_int_t)r->n_frames, "crc32",
                                              (json_int_t)r->crc32, "synced", synced == 1));
    }
    return json_pack("{s:s, s:b, s:b, s:o}", "serial", serial, "connected", hp->pod != NULL,
                     "listed", hp->listed, "runs", runs);
}
