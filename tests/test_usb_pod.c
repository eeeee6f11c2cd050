/* test_usb_pod.c - daemon/usb_pod against emulated pods (tests/umockpod) in the same process:
 * umockdev testbed + libusb + the daemon's loop, run under umockdev-wrapper.
 *
 * Cases: enumerate + identify (two pods, a third hotplugged), live stream of simulated running
 * from two pods at once (order, no loss, samples decode), unplug mid-stream then replug (stream
 * resumes, counts right), sync a stored run (CRC verified, erase only after confirm),
 * interrupted sync resumed on replug (no duplicate or lost frame), corrupt and dropped frames
 * (counted, stream continues), corrupt frame during a sync (resumed, verified), periodic
 * enumeration instead of hotplug. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "crc.h"
#include "input.h"
#include "log.h"
#include "loop.h"
#include "pod.h"
#include "sim.h"
#include "umockpod.h"
#include "usb_pod.h"
#include "usb_sync.h"
#include <dirent.h>
#include <unistd.h>

#define MAX_TRACK 4

typedef struct track {
    char serial[POD_SERIAL_LEN];
    umockpod_t *mock;
    usb_pod_t *pod;              /* current attachment, NULL when not attached */
    int added, resumed, removed;
    int auto_stream;             /* start streaming when added (not resumed) */
    int auto_read;               /* list runs, then read run index read_index, when added */
    unsigned read_index;
    int check_seq;               /* live seq must be consecutive within an attachment */
    int64_t last_seq;
    int seq_errors;
    uint64_t live, run;
    /* run frames */
    uint32_t run_id, run_n;
    uint8_t got[4096];           /* times each run frame index was delivered */
    int payload_mismatch;
    int run_done, run_status;
    int erased, erased_status;
    pod_runs_t runs;
    int have_runs;
    /* decoded samples */
    uint64_t samples;
    double last_t;
    int time_errors;
    double time_tol;             /* extra tolerance of sample spacing on the host clock (s) */
    double acc_norm_sum;
    umockpod_cfg_t cfg;
    sim_t *ref;                  /* the pod's simulator, replayed: decoded values must match */
    uint64_t value_errors;
    /* counters summed over finished attachments */
    uint64_t crc_errors, frames_lost, seq_gaps, bytes_skipped, transfers, run_discarded,
        run_resumes;
} track_t;

typedef struct fx {
    loop_t *loop;
    log_t lg;
    umockpod_bed_t *bed;
    usb_host_t *host;
    usb_host_cfg_t cfg;
    track_t t[MAX_TRACK];
    unsigned n;
    usb_sync_t *sync;            /* when set, pods are handed to usb_sync */
    char dir[64];                /* temporary directory for recordings */
} fx_t;

static track_t *track_of(fx_t *f, usb_pod_t *p)
{
    const usb_pod_info_t *in = usb_pod_info(p);
    for (unsigned i = 0; i < f->n; i++)
        if (!strcmp(f->t[i].serial, in->id.serial))
            return &f->t[i];
    fail_msg("unknown pod %s", in->id.serial);
    return NULL;
}

static void cb_added(void *ud, usb_pod_t *p, int resumed)
{
    fx_t *f = ud;
    track_t *t = track_of(f, p);
    t->pod = p;
    t->added++;
    if (f->sync) {
        t->resumed += resumed;
        usb_sync_on_added(f->sync, p, resumed);
        return;
    }
    t->resumed += resumed;
    t->last_seq = -1;
    t->last_t = NAN;
    if (resumed)
        return;
    if (t->auto_stream)
        assert_int_equal(usb_pod_start_stream(p), USB_POD_OK);
    if (t->auto_read)
        assert_int_equal(usb_pod_list_runs(p), USB_POD_OK);
}

static void cb_frame(void *ud, usb_pod_t *p, const pod_samples_t *fr, const uint8_t *wire,
                     size_t len)
{
    fx_t *f = ud;
    track_t *t = track_of(f, p);
    const usb_pod_info_t *in = usb_pod_info(p);
    assert_int_equal(len, POD_FRAME_OVERHEAD + POD_SAMPLES_FIXED + POD_SAMPLE_BYTES * fr->n);
    if (f->sync) {
        t->run++;
        usb_sync_on_frame(f->sync, p, fr, wire, len);
        return;
    }
    assert_int_equal(wire[0], 0xA5);
    if (fr->run_id) {
        t->run++;
        assert_int_equal(fr->run_id, t->run_id);
        assert_true(fr->seq < sizeof t->got);
        t->got[fr->seq]++;
        uint8_t pl[POD_MAX_PAYLOAD];
        size_t n = umockpod_run_frame(t->mock, t->read_index, fr->seq, pl, sizeof pl);
        if (n != len - POD_FRAME_OVERHEAD || memcmp(pl, wire + POD_HEADER_LEN, n))
            t->payload_mismatch++;
        return;
    }
    t->live++;
    if (t->check_seq && (int64_t)fr->seq != t->last_seq + 1)
        t->seq_errors++;
    t->last_seq = fr->seq;
    /* The daemon's conversion: raw counts -> SI samples on the host clock. */
    rec_pod_t rp;
    memset(&rp, 0, sizeof rp);
    rp.foot = in->id.foot;
    rp.rate_hz = in->id.rate_hz;
    rp.acc_range_g = in->id.acc_range_g;
    rp.gyr_range_dps = in->id.gyr_range_dps;
    for (int a = 0; a < 3; a++)
        rp.acc_scale[a] = 1.0f;
    rp.clock_offset_us = usb_pod_host_us(p, fr->t_dev_us) - (int64_t)fr->t_dev_us;
    dsp_sample_t s[POD_MAX_SAMPLES];
    unsigned n = input_frame_to_samples(&rp, 0, fr, s);
    assert_int_equal(n, fr->n);
    for (unsigned i = 0; i < n; i++) {
        if (!isnan(t->last_t) && fabs(s[i].t - t->last_t - 1.0 / rp.rate_hz) > t->time_tol + 5e-6)
            t->time_errors++;
        t->last_t = s[i].t;
        if (t->ref) {
            dsp_sample_t out[2];
            assert_true(sim_next(t->ref, out));
            const dsp_sample_t *e = &out[in->id.foot == 'L' ? DSP_LEFT : DSP_RIGHT];
            double qa = rp.acc_range_g * 9.80665 / 32768.0, qg = rp.gyr_range_dps / 32768.0;
            for (int a = 0; a < 3 && !s[i].saturated; a++)
                if (fabs(s[i].acc[a] - e->acc[a]) > 0.51 * qa + 1e-4 ||
                    fabs(s[i].gyr[a] - e->gyr[a]) > 0.51 * qg + 1e-3)
                    t->value_errors++;
        }
        t->acc_norm_sum += sqrt((double)s[i].acc[0] * s[i].acc[0] + (double)s[i].acc[1] * s[i].acc[1] +
                                (double)s[i].acc[2] * s[i].acc[2]);
        t->samples++;
    }
}

static void cb_runs(void *ud, usb_pod_t *p, const pod_runs_t *runs)
{
    fx_t *f = ud;
    track_t *t = track_of(f, p);
    t->runs = *runs;
    t->have_runs = 1;
    if (f->sync) {
        usb_sync_on_runs(f->sync, p, runs);
        return;
    }
    if (t->auto_read && t->read_index < runs->n) {
        t->run_id = runs->runs[t->read_index].run_id;
        t->run_n = runs->runs[t->read_index].n_frames;
        assert_int_equal(usb_pod_read_run(p, t->run_id), USB_POD_OK);
    }
}

static void cb_run_done(void *ud, usb_pod_t *p, uint32_t run_id, int status)
{
    fx_t *f = ud;
    track_t *t = track_of(f, p);
    if (f->sync) {
        t->run_done++;
        usb_sync_on_run_done(f->sync, p, run_id, status);
        return;
    }
    assert_int_equal(run_id, t->run_id);
    t->run_done++;
    t->run_status = status;
}

static void cb_erased(void *ud, usb_pod_t *p, uint32_t run_id, int status)
{
    fx_t *f = ud;
    track_t *t = track_of(f, p);
    if (f->sync) {
        t->erased++;
        usb_sync_on_erased(f->sync, p, run_id, status);
        return;
    }
    assert_int_equal(run_id, t->run_id);
    t->erased++;
    t->erased_status = status;
}

static void cb_removed(void *ud, usb_pod_t *p)
{
    fx_t *f = ud;
    track_t *t = track_of(f, p);
    usb_pod_counters_t c;
    usb_pod_counters(p, &c);
    t->crc_errors += c.stream.crc_errors;
    t->frames_lost += c.stream.frames_lost;
    t->seq_gaps += c.stream.seq_gaps;
    t->bytes_skipped += c.stream.bytes_skipped;
    t->transfers += c.transfers_in;
    t->run_discarded += c.run_discarded;
    t->run_resumes += c.run_resumes;
    t->removed++;
    t->pod = NULL;
    if (f->sync)
        usb_sync_on_removed(f->sync, p);
}

static const usb_pod_cbs_t CBS = {
    .added = cb_added,
    .frame = cb_frame,
    .runs = cb_runs,
    .run_done = cb_run_done,
    .erased = cb_erased,
    .removed = cb_removed,
};

static track_t *add_pod_speed(fx_t *f, const char *serial, uint8_t foot, unsigned n_runs,
                              double run_s, double speed)
{
    umockpod_cfg_t c;
    umockpod_cfg_default(&c, serial, foot);
    c.speed = speed;
    c.seed = 11 + f->n;
    c.n_runs = n_runs;
    c.run_s = run_s;
    track_t *t = &f->t[f->n++];
    snprintf(t->serial, sizeof t->serial, "%s", serial);
    t->mock = umockpod_new(f->bed, &c);
    t->cfg = c;
    t->check_seq = 1;
    t->last_seq = -1;
    t->last_t = NAN;
    return t;
}

static track_t *add_pod(fx_t *f, const char *serial, uint8_t foot, unsigned n_runs, double run_s)
{
    return add_pod_speed(f, serial, foot, n_runs, run_s, 0);
}

static int setup(void **state)
{
    fx_t *f = calloc(1, sizeof *f);
    f->bed = umockpod_bed_new();
    if (!f->bed) {
        fprintf(stderr, "run under umockdev-wrapper\n");
        free(f);
        return -1;
    }
    f->loop = loop_new();
    log_init(&f->lg, getenv("GAITD_TEST_VERBOSE") ? LOG_DEBUG : LOG_WARN, stderr);
    usb_host_cfg_default(&f->cfg);
    *state = f;
    return 0;
}

static void start_host(fx_t *f)
{
    char err[256];
    f->host = usb_host_new(f->loop, &f->cfg, &CBS, f, &f->lg, err, sizeof err);
    if (!f->host)
        fail_msg("%s", err);
}

static int teardown(void **state)
{
    fx_t *f = *state;
    usb_host_free(&f->host);
    usb_sync_free(&f->sync);
    if (f->dir[0]) {
        DIR *d = opendir(f->dir);
        struct dirent *e;
        while (d && (e = readdir(d))) {
            char path[512];
            snprintf(path, sizeof path, "%s/%s", f->dir, e->d_name);
            if (e->d_name[0] != '.')
                unlink(path);
        }
        if (d)
            closedir(d);
        rmdir(f->dir);
    }
    for (unsigned i = 0; i < f->n; i++) {
        umockpod_free(&f->t[i].mock);
        sim_free(&f->t[i].ref);
    }
    umockpod_bed_free(&f->bed);
    loop_free(&f->loop);
    free(f);
    return 0;
}

typedef int (*pred_fn)(fx_t *f, void *arg);

/* Runs the loop until pred holds; fails after timeout_s. */
static void run_until(fx_t *f, pred_fn pred, void *arg, double timeout_s, const char *what)
{
    int64_t end = loop_now_us() + (int64_t)(timeout_s * 1e6);
    while (!pred(f, arg)) {
        if (loop_now_us() > end)
            fail_msg("timeout waiting for %s", what);
        loop_once(f->loop, 10);
    }
}

static int all_added(fx_t *f, void *arg)
{
    int want = *(int *)arg;
    for (unsigned i = 0; i < f->n; i++)
        if (f->t[i].added < want || !f->t[i].pod)
            return 0;
    return 1;
}

static int live_at_least(fx_t *f, void *arg)
{
    uint64_t want = *(uint64_t *)arg;
    for (unsigned i = 0; i < f->n; i++)
        if (f->t[i].live < want)
            return 0;
    return 1;
}

static int live_at_least_first(fx_t *f, void *arg)
{
    return f->t[0].live >= *(uint64_t *)arg;
}

static int all_ready(fx_t *f, void *arg)
{
    (void)arg;
    for (unsigned i = 0; i < f->n; i++)
        if (!f->t[i].pod || usb_pod_state(f->t[i].pod) != USB_POD_READY)
            return 0;
    return 1;
}

static int removed_n(fx_t *f, void *arg)
{
    return f->t[0].removed >= *(int *)arg;
}

static int run_done_n(fx_t *f, void *arg)
{
    return f->t[0].run_done >= *(int *)arg;
}

static int erased_1(fx_t *f, void *arg)
{
    (void)arg;
    return f->t[0].erased >= 1;
}

/* Live frames the host holds equal the frames the pod completely sent (and it sent them all). */
static int live_caught_up(fx_t *f, void *arg)
{
    (void)arg;
    umockpod_stats_t s;
    umockpod_stats(f->t[0].mock, &s);
    return f->t[0].live == s.live_frames_sent;
}

static void sum_counters(track_t *t)
{
    if (!t->pod)
        return;
    usb_pod_counters_t c;
    usb_pod_counters(t->pod, &c);
    t->crc_errors += c.stream.crc_errors;
    t->frames_lost += c.stream.frames_lost;
    t->seq_gaps += c.stream.seq_gaps;
    t->bytes_skipped += c.stream.bytes_skipped;
    t->transfers += c.transfers_in;
    t->run_discarded += c.run_discarded;
    t->run_resumes += c.run_resumes;
}

/* ---- cases ---- */

static void test_enumerate_identify(void **state)
{
    fx_t *f = *state;
    track_t *l = add_pod(f, "GP-L-0001", 'L', 0, 0);
    track_t *r = add_pod(f, "GP-R-0002", 'R', 0, 0);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t rt_plug = (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
    umockpod_plug(l->mock);
    umockpod_plug(r->mock);
    start_host(f);
    assert_true(usb_host_uses_hotplug(f->host));
    int one = 1;
    run_until(f, all_added, &one, 10, "two pods identified");
    const usb_pod_info_t *li = usb_pod_info(l->pod), *ri = usb_pod_info(r->pod);
    assert_string_equal(li->id.serial, "GP-L-0001");
    assert_int_equal(li->id.foot, 'L');
    assert_int_equal(ri->id.foot, 'R');
    assert_int_equal(li->id.rate_hz, 500);
    assert_int_equal(li->id.acc_range_g, 16);
    assert_int_equal(li->id.gyr_range_dps, 2000);
    assert_int_equal(li->bus, 1);
    assert_true(li->address >= 2);
    /* The pod clock started at 5 s when plugged: host = pod + offset. */
    assert_int_equal(li->clock_syncs, 1);
    assert_true(li->clock_rtt_us >= 0 && li->clock_rtt_us < 50000);
    assert_true(llabs(li->clock_offset_us - (rt_plug - 5000000)) < 50000);
    assert_int_equal(usb_pod_state(l->pod), USB_POD_READY);
    usb_pod_t *pods[4];
    assert_int_equal(usb_host_pods(f->host, pods, 4), 2);
    umockpod_stats_t s;
    umockpod_stats(l->mock, &s);
    assert_int_equal(s.cmds[POD_CMD_IDENTIFY], 1);
    assert_int_equal(s.cmds[POD_CMD_CLOCK_SYNC], 8);

    /* A third pod plugged while running: hotplug. */
    track_t *x = add_pod(f, "GP-X-0003", 'L', 0, 0);
    umockpod_plug(x->mock);
    run_until(f, all_added, &one, 10, "hotplugged pod identified");
    assert_int_equal(usb_host_pods(f->host, pods, 4), 3);
    assert_int_equal(usb_pod_erase_run(x->pod, 1), USB_POD_ERR_NOT_VERIFIED);
}

static void test_stream(void **state)
{
    fx_t *f = *state;
    track_t *l = add_pod(f, "GP-L-0001", 'L', 0, 0);
    track_t *r = add_pod(f, "GP-R-0002", 'R', 0, 0);
    l->auto_stream = r->auto_stream = 1;
    for (unsigned i = 0; i < 2; i++) {
        sim_config_t sc;
        umockpod_sim_config(&f->t[i].cfg, &sc);
        f->t[i].ref = sim_new(&sc);
    }
    umockpod_plug(l->mock);
    umockpod_plug(r->mock);
    start_host(f);
    /* 60 s of running at 500 Hz, 25 samples per frame: 1200 frames per pod. */
    uint64_t want = 1200;
    run_until(f, live_at_least, &want, 60, "60 s of frames from both pods");
    assert_int_equal(usb_pod_stop_stream(l->pod), USB_POD_OK);
    assert_int_equal(usb_pod_stop_stream(r->pod), USB_POD_OK);
    run_until(f, all_ready, NULL, 10, "stream stopped");
    for (unsigned i = 0; i < 2; i++) {
        track_t *t = &f->t[i];
        umockpod_stats_t s;
        umockpod_stats(t->mock, &s);
        sum_counters(t);
        assert_int_equal(s.streaming, 0);
        assert_int_equal(t->live, s.live_frames_sent);   /* every frame sent arrived */
        assert_true(t->live >= want);
        assert_int_equal(t->seq_errors, 0);
        assert_int_equal(t->crc_errors, 0);
        assert_int_equal(t->frames_lost, 0);
        assert_int_equal(t->seq_gaps, 0);
        assert_int_equal(t->bytes_skipped, 0);
        assert_int_equal(t->samples, t->live * 25);
        assert_int_equal(t->time_errors, 0);
        double mean_acc = t->acc_norm_sum / (double)t->samples;
        assert_true(mean_acc > 9.0 && mean_acc < 60.0);  /* running foot: ~3 g mean |acc| */
        assert_int_equal(t->value_errors, 0);        /* = the simulator within quantisation */
        /* Many frames per transfer: ~16 KiB transfers (334-byte frames). */
        assert_true(t->transfers * 30 < t->live + 30 * 10);
        fprintf(stderr, "%s: %llu frames in %llu IN transfers, mean |acc| %.2f m/s^2\n",
                t->serial, (unsigned long long)t->live, (unsigned long long)t->transfers,
                mean_acc);
    }
}

static void test_four_pods(void **state)
{
    fx_t *f = *state;
    const char *serials[4] = {"GP-A-0001", "GP-B-0002", "GP-C-0003", "GP-D-0004"};
    for (unsigned i = 0; i < 4; i++) {
        /* 100 x real time (2000 frames/s each). At speed 0 a pod always has data and libusb
         * reaps one device until EAGAIN, so one pod could hold the event pass. */
        track_t *t = add_pod_speed(f, serials[i], i % 2 ? 'R' : 'L', 0, 0, 100);
        t->auto_stream = 1;
        umockpod_plug(t->mock);
    }
    start_host(f);
    int64_t t0 = loop_now_us();
    uint64_t want = 1500;        /* 75 s of data each */
    run_until(f, live_at_least, &want, 60, "frames from four pods");
    double wall = (double)(loop_now_us() - t0) * 1e-6;
    /* Unplug one while the others stream on. */
    umockpod_unplug(f->t[2].mock);
    while (!f->t[2].removed)
        loop_once(f->loop, 10);
    want = f->t[0].live + 300;
    while (f->t[0].live < want || f->t[1].live < want || f->t[3].live < want)
        loop_once(f->loop, 10);
    for (unsigned i = 0; i < 4; i++)
        if (i != 2)
            assert_int_equal(usb_pod_stop_stream(f->t[i].pod), USB_POD_OK);
    for (int k = 0; k < 2000; k++) {
        int busy = 0;
        for (unsigned i = 0; i < 4; i++)
            busy |= i != 2 && usb_pod_state(f->t[i].pod) != USB_POD_READY;
        if (!busy)
            break;
        loop_once(f->loop, 10);
    }
    uint64_t total = 0;
    for (unsigned i = 0; i < 4; i++) {
        track_t *t = &f->t[i];
        umockpod_stats_t s;
        umockpod_stats(t->mock, &s);
        assert_int_equal(t->live, s.live_frames_sent);
        assert_int_equal(t->seq_errors, 0);
        total += t->live;
    }
    fprintf(stderr, "four pods: 4 x 1500 frames in %.2f s of wall time; %llu frames in all\n",
            wall, (unsigned long long)total);
}

static void test_unplug_replug_stream(void **state)
{
    fx_t *f = *state;
    track_t *t = add_pod(f, "GP-L-0001", 'L', 0, 0);
    t->auto_stream = 1;
    umockpod_plug(t->mock);
    start_host(f);
    uint64_t want = 300;
    run_until(f, live_at_least, &want, 30, "first frames");
    umockpod_unplug(t->mock);
    int one = 1;
    run_until(f, removed_n, &one, 10, "pod removed");
    umockpod_stats_t s;
    umockpod_stats(t->mock, &s);
    /* Everything the pod got out before the unplug was delivered before `removed`. */
    assert_int_equal(t->live, s.live_frames_sent);
    assert_int_equal(t->seq_errors, 0);
    uint64_t before = t->live;
    fprintf(stderr, "unplugged after %llu frames (%llu bytes of a cut frame skipped)\n",
            (unsigned long long)before, (unsigned long long)t->bytes_skipped);

    umockpod_plug(t->mock);
    int two = 2;
    run_until(f, all_added, &two, 10, "pod back");
    assert_int_equal(t->resumed, 1);              /* streaming restarted by the host */
    want = before + 600;
    run_until(f, live_at_least, &want, 30, "frames after replug");
    assert_int_equal(usb_pod_stop_stream(t->pod), USB_POD_OK);
    run_until(f, all_ready, NULL, 10, "stream stopped");
    umockpod_stats(t->mock, &s);
    sum_counters(t);
    assert_int_equal(s.plugs, 2);
    assert_int_equal(s.cmds[POD_CMD_START_STREAM], 2);
    assert_int_equal(t->live, s.live_frames_sent);
    assert_int_equal(t->seq_errors, 0);
    assert_int_equal(t->crc_errors, 0);
    assert_int_equal(t->frames_lost, 0);
    assert_int_equal(t->time_errors, 0);
    /* The clock was synced again on the new attachment. */
    assert_int_equal(usb_pod_info(t->pod)->clock_syncs, 1);
}

static void check_run_complete(track_t *t)
{
    for (uint32_t k = 0; k < t->run_n; k++)
        if (t->got[k] != 1)
            fail_msg("run frame %u delivered %u times", k, t->got[k]);
    assert_int_equal(t->run, t->run_n);
    assert_int_equal(t->payload_mismatch, 0);
}

static void test_sync_run(void **state)
{
    fx_t *f = *state;
    track_t *t = add_pod(f, "GP-L-0001", 'L', 2, 20);
    t->auto_read = 1;
    t->read_index = 0;
    umockpod_plug(t->mock);
    start_host(f);
    int one = 1;
    run_until(f, run_done_n, &one, 30, "run read");
    assert_int_equal(t->run_status, USB_POD_OK);
    assert_int_equal(t->run_n, 400);
    check_run_complete(t);
    assert_int_equal(t->runs.n, 2);
    umockpod_stats_t s;
    umockpod_stats(t->mock, &s);
    assert_int_equal(s.cmds[POD_CMD_READ_RUN], 1);
    assert_int_equal(s.n_runs, 2);
    /* The second run was not read: the host refuses to erase it. */
    assert_int_equal(usb_pod_erase_run(t->pod, t->runs.runs[1].run_id), USB_POD_ERR_NOT_VERIFIED);
    /* Nothing was erased before the caller confirmed. */
    for (int i = 0; i < 20; i++)
        loop_once(f->loop, 5);
    umockpod_stats(t->mock, &s);
    assert_int_equal(s.cmds[POD_CMD_ERASE_RUN], 0);
    assert_int_equal(s.n_runs, 2);
    /* Caller: recording complete and fsynced -> erase. */
    assert_int_equal(usb_pod_erase_run(t->pod, t->run_id), USB_POD_OK);
    run_until(f, erased_1, NULL, 10, "run erased");
    assert_int_equal(t->erased_status, USB_POD_OK);
    umockpod_stats(t->mock, &s);
    assert_int_equal(s.n_runs, 1);
    pod_run_info_t left;
    assert_int_equal(umockpod_run(t->mock, 0, &left), 0);
    assert_int_equal(left.run_id, t->runs.runs[1].run_id);
    /* Erased once: a second erase is refused by the host (no longer a verified run). */
    assert_int_equal(usb_pod_erase_run(t->pod, t->run_id), USB_POD_ERR_NOT_VERIFIED);
}

static int stalled_and_caught_up(fx_t *f, void *arg)
{
    (void)arg;
    umockpod_stats_t s;
    umockpod_stats(f->t[0].mock, &s);
    return s.stalled && f->t[0].run == s.run_frames_sent && s.run_frames_sent > 0;
}

static void test_sync_interrupted(void **state)
{
    fx_t *f = *state;
    track_t *t = add_pod(f, "GP-L-0001", 'L', 1, 20);
    t->auto_read = 1;
    umockpod_plug(t->mock);
    umockpod_stall_after(t->mock, 157);          /* hang mid-run, transfers in flight */
    start_host(f);
    run_until(f, stalled_and_caught_up, NULL, 30, "pod stalled mid-run");
    umockpod_unplug(t->mock);
    int one = 1;
    run_until(f, removed_n, &one, 10, "pod removed");
    uint64_t before = t->run;
    assert_int_equal(before, 157);
    assert_int_equal(t->run_done, 0);
    for (uint32_t k = 0; k < t->run_n; k++)
        assert_int_equal(t->got[k], k < before ? 1 : 0);

    umockpod_plug(t->mock);                      /* replug: the read resumes at frame 157 */
    run_until(f, run_done_n, &one, 30, "run read after replug");
    assert_int_equal(t->resumed, 1);
    assert_int_equal(t->run_status, USB_POD_OK);
    check_run_complete(t);
    sum_counters(t);
    assert_int_equal(t->run_discarded, 0);       /* nothing was sent twice */
    umockpod_stats_t s;
    umockpod_stats(t->mock, &s);
    assert_int_equal(s.cmds[POD_CMD_READ_RUN], 2);
    assert_int_equal(s.run_frames_sent, t->run_n);
    /* Verified across the two attachments: erase allowed. */
    assert_int_equal(usb_pod_erase_run(t->pod, t->run_id), USB_POD_OK);
    run_until(f, erased_1, NULL, 10, "run erased");
    assert_int_equal(t->erased_status, USB_POD_OK);
}

static void test_corrupt_and_drop(void **state)
{
    fx_t *f = *state;
    track_t *t = add_pod(f, "GP-L-0001", 'L', 0, 0);
    t->auto_stream = 1;
    t->check_seq = 0;                            /* gaps are expected */
    umockpod_corrupt_frame(t->mock, 100);
    umockpod_plug(t->mock);
    start_host(f);
    uint64_t want = 400;
    run_until(f, live_at_least, &want, 30, "frames after the corrupt one");
    usb_pod_counters_t c;
    usb_pod_counters(t->pod, &c);
    assert_true(c.stream.crc_errors >= 1);
    assert_int_equal(c.stream.seq_gaps, 1);
    assert_int_equal(c.stream.frames_lost, 1);
    umockpod_drop_frame(t->mock, 50);
    want = t->live + 300;
    run_until(f, live_at_least, &want, 30, "frames after the dropped one");
    assert_int_equal(usb_pod_stop_stream(t->pod), USB_POD_OK);
    run_until(f, all_ready, NULL, 10, "stream stopped");
    usb_pod_counters(t->pod, &c);
    umockpod_stats_t s;
    umockpod_stats(t->mock, &s);
    assert_int_equal(s.frames_corrupted, 1);
    assert_int_equal(s.frames_dropped, 1);
    assert_int_equal(c.stream.seq_gaps, 2);
    assert_int_equal(c.stream.frames_lost, 2);
    /* The corrupt frame was sent (and counted as sent) but not delivered. */
    assert_int_equal(t->live, s.live_frames_sent - 1);
    fprintf(stderr, "crc errors %llu, bytes skipped %llu\n",
            (unsigned long long)c.stream.crc_errors, (unsigned long long)c.stream.bytes_skipped);
}

static void test_sync_corrupt(void **state)
{
    fx_t *f = *state;
    track_t *t = add_pod(f, "GP-L-0001", 'L', 1, 20);
    t->auto_read = 1;
    umockpod_corrupt_frame(t->mock, 50);
    umockpod_plug(t->mock);
    start_host(f);
    int one = 1;
    run_until(f, run_done_n, &one, 30, "run read");
    assert_int_equal(t->run_status, USB_POD_OK);
    check_run_complete(t);
    usb_pod_counters_t c;
    usb_pod_counters(t->pod, &c);
    assert_true(c.stream.crc_errors >= 1);
    assert_int_equal(c.run_resumes, 1);          /* READ_RUN again from frame 50 */
    assert_int_equal(c.run_discarded, t->run_n - 51);   /* frames after the gap, dropped */
}

static int syncs_at_least(fx_t *f, void *arg)
{
    return f->t[0].pod && usb_pod_info(f->t[0].pod)->clock_syncs >= *(unsigned *)arg;
}

static void test_clock_drift(void **state)
{
    fx_t *f = *state;
    f->cfg.resync_period_ms = 400;
    umockpod_cfg_t c;
    umockpod_cfg_default(&c, "GP-D-0004", 'R');
    c.drift_ppm = 3000;          /* pod clock 0.3 % fast */
    c.speed = 1;                 /* real-time stream: 20 frames/s */
    track_t *t = &f->t[f->n++];
    snprintf(t->serial, sizeof t->serial, "%s", c.serial);
    t->mock = umockpod_new(f->bed, &c);
    t->check_seq = 1;
    t->auto_stream = 1;
    t->last_t = NAN;
    /* Offset re-measured every 400 ms; until the drift is known (first second) each resync
     * steps the host time of the samples by 400 ms x 3000 ppm = 1.2 ms. */
    t->time_tol = 2e-3;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t rt_plug = (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
    int64_t mono_plug = loop_now_us();
    umockpod_plug(t->mock);
    start_host(f);
    unsigned want = 7;
    run_until(f, syncs_at_least, &want, 20, "periodic clock syncs");
    const usb_pod_info_t *in = usb_pod_info(t->pod);
    double el = (double)(loop_now_us() - mono_plug);
    double expect = (double)(rt_plug - 5000000) - el * 3000e-6;
    fprintf(stderr, "drift %.0f ppm (true 3000), offset error %.0f us, rtt %lld us, %llu frames\n",
            in->drift_ppm, (double)in->clock_offset_us - expect, (long long)in->clock_rtt_us,
            (unsigned long long)t->live);
    assert_true(fabs(in->drift_ppm - 3000) < 700);
    assert_true(fabs((double)in->clock_offset_us - expect) < 3000);
    assert_true(t->live > 20 && t->live < 200);  /* paced at real time */
    assert_int_equal(t->seq_errors, 0);
    assert_int_equal(t->time_errors, 0);
}

static void test_host_free_stops(void **state)
{
    fx_t *f = *state;
    track_t *t = add_pod(f, "GP-L-0001", 'L', 0, 0);
    t->auto_stream = 1;
    umockpod_plug(t->mock);
    start_host(f);
    uint64_t want = 100;
    run_until(f, live_at_least, &want, 30, "frames");
    usb_host_free(&f->host);     /* daemon shutdown while streaming */
    umockpod_stats_t s;
    umockpod_stats(t->mock, &s);
    assert_int_equal(s.streaming, 0);
    assert_int_equal(s.cmds[POD_CMD_STOP_STREAM], 1);
    assert_int_equal(t->removed, 1);
    assert_int_equal(t->live, s.live_frames_sent);   /* frames up to the ack were delivered */
    assert_int_equal(t->seq_errors, 0);
}

static void test_command_retry(void **state)
{
    fx_t *f = *state;
    f->cfg.cmd_timeout_ms = 200;
    track_t *t = add_pod(f, "GP-L-0001", 'L', 0, 0);
    track_t *mute = add_pod(f, "GP-M-0009", 'R', 0, 0);
    umockpod_ignore_commands(t->mock, 2);        /* two IDENTIFYs lost: third one answered */
    umockpod_ignore_commands(mute->mock, 100);   /* never answers */
    umockpod_plug(t->mock);
    umockpod_plug(mute->mock);
    start_host(f);
    int64_t t0 = loop_now_us();
    while (!t->added && loop_now_us() - t0 < 10000000)
        loop_once(f->loop, 10);
    assert_int_equal(t->added, 1);
    usb_pod_counters_t c;
    usb_pod_counters(t->pod, &c);
    assert_int_equal(c.retries, 2);
    umockpod_stats_t s;
    umockpod_stats(t->mock, &s);
    assert_int_equal(s.cmds[POD_CMD_IDENTIFY], 3);
    /* The mute pod: IDENTIFY sent 1 + 3 times, then given up and closed without `added`. */
    while (loop_now_us() - t0 < 1500000)
        loop_once(f->loop, 10);
    umockpod_stats(mute->mock, &s);
    assert_int_equal(s.cmds[POD_CMD_IDENTIFY], 4);
    assert_int_equal(mute->added, 0);
    assert_int_equal(mute->removed, 0);
    usb_pod_t *pods[4];
    assert_int_equal(usb_host_pods(f->host, pods, 4), 1);
    /* A lost START_STREAM is retried too. */
    t->check_seq = 1;
    umockpod_ignore_commands(t->mock, 1);
    assert_int_equal(usb_pod_start_stream(t->pod), USB_POD_OK);
    uint64_t want = 50;
    run_until(f, live_at_least_first, &want, 10, "stream after a lost START");
    umockpod_stats(t->mock, &s);
    assert_int_equal(s.cmds[POD_CMD_START_STREAM], 2);
    assert_int_equal(t->seq_errors, 0);
}

static int sync_finished(fx_t *f, void *arg)
{
    usb_sync_stats_t st;
    usb_sync_stats(f->sync, &st);
    return usb_sync_idle(f->sync) && st.runs_erased + st.runs_failed >= *(unsigned *)arg;
}

/* Counts the samples of a recording; checks its header. */
static uint64_t recording_samples(const char *path, const pod_run_info_t *run, uint8_t foot)
{
    char err[256];
    input_t *in = input_open(path, 0, err, sizeof err);
    if (!in)
        fail_msg("%s", err);
    const rec_header_t *h = input_header(in);
    assert_string_equal(h->source, "usb-sync");
    assert_int_equal(h->n_pods, 1);
    assert_int_equal(h->pods[0].foot, foot);
    assert_int_equal(h->start_unix_us, (int64_t)run->start_unix_us);
    uint64_t n = 0;
    int fo;
    dsp_sample_t smp;
    double first = NAN;
    while (input_next(in, &fo, &smp, err, sizeof err) == 1) {
        if (!n)
            first = smp.t;
        n++;
    }
    assert_false(input_damaged(in));
    /* The run's first sample is at the run's start time. */
    assert_true(fabs(first - (double)run->start_unix_us * 1e-6) < 1e-3);
    input_free(&in);
    return n;
}

static void test_sync_to_disk(void **state)
{
    fx_t *f = *state;
    snprintf(f->dir, sizeof f->dir, "/tmp/gaitd-usbsync-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    usb_sync_cfg_t sc = {.dir = f->dir, .erase = 1};
    f->sync = usb_sync_new(&sc, &f->lg);
    track_t *t = add_pod(f, "GP-L-0001", 'L', 2, 10);   /* 2 runs of 200 frames */
    pod_run_info_t runs[2];
    assert_int_equal(umockpod_run(t->mock, 0, &runs[0]), 0);
    assert_int_equal(umockpod_run(t->mock, 1, &runs[1]), 0);
    umockpod_plug(t->mock);
    umockpod_stall_after(t->mock, 300);          /* hangs in the middle of the second run */
    start_host(f);
    run_until(f, stalled_and_caught_up, NULL, 30, "pod stalled in run 2");
    usb_sync_stats_t st;
    usb_sync_stats(f->sync, &st);
    assert_int_equal(st.runs_recorded, 1);
    umockpod_stats_t s;
    umockpod_stats(t->mock, &s);
    /* Run 1 was erased only after its file was synced; run 2 is still being copied. */
    run_until(f, erased_1, NULL, 10, "run 1 erased");
    umockpod_stats(t->mock, &s);
    assert_int_equal(s.n_runs, 1);
    umockpod_unplug(t->mock);
    int one = 1;
    run_until(f, removed_n, &one, 10, "pod removed");
    umockpod_plug(t->mock);
    unsigned two = 2;
    run_until(f, sync_finished, &two, 30, "both runs copied and erased");
    usb_sync_stats(f->sync, &st);
    assert_int_equal(st.runs_listed, 2);
    assert_int_equal(st.runs_recorded, 2);
    assert_int_equal(st.runs_erased, 2);
    assert_int_equal(st.runs_failed, 0);
    assert_int_equal(st.frames, 400);            /* each frame written once */
    umockpod_stats(t->mock, &s);
    assert_int_equal(s.n_runs, 0);
    assert_int_equal(t->resumed, 1);
    /* Two recordings, complete. */
    DIR *d = opendir(f->dir);
    struct dirent *e;
    unsigned files = 0;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        assert_non_null(strstr(e->d_name, ".gaitrec"));
        assert_null(strstr(e->d_name, ".unverified"));
        char path[512];
        snprintf(path, sizeof path, "%s/%s", f->dir, e->d_name);
        const pod_run_info_t *r = strstr(e->d_name, "-run1-") ? &runs[0] : &runs[1];
        assert_int_equal(recording_samples(path, r, 'L'), 200 * 25);
        files++;
    }
    closedir(d);
    assert_int_equal(files, 2);
}

static void test_enum_poll(void **state)
{
    fx_t *f = *state;
    f->cfg.force_enum_poll = 1;
    f->cfg.enum_period_ms = 100;
    track_t *t = add_pod(f, "GP-L-0001", 'L', 0, 0);
    t->auto_stream = 1;
    umockpod_plug(t->mock);
    start_host(f);
    assert_false(usb_host_uses_hotplug(f->host));
    int one = 1;
    run_until(f, all_added, &one, 10, "pod found by enumeration");
    uint64_t want = 100;
    run_until(f, live_at_least, &want, 30, "frames");
    umockpod_unplug(t->mock);
    run_until(f, removed_n, &one, 10, "pod removed");
    umockpod_plug(t->mock);
    int two = 2;
    run_until(f, all_added, &two, 10, "pod found again");
    want = t->live + 100;
    run_until(f, live_at_least, &want, 30, "frames after replug");
    assert_int_equal(t->resumed, 1);
    assert_int_equal(usb_pod_stop_stream(t->pod), USB_POD_OK);
    run_until(f, all_ready, NULL, 10, "stream stopped");
    run_until(f, live_caught_up, NULL, 10, "every frame sent delivered");
    assert_int_equal(t->seq_errors, 0);
}

int main(int argc, char **argv)
{
    if (argc > 1)
        cmocka_set_test_filter(argv[1]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_enumerate_identify, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stream, setup, teardown),
        cmocka_unit_test_setup_teardown(test_four_pods, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unplug_replug_stream, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sync_run, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sync_interrupted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_and_drop, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sync_corrupt, setup, teardown),
        cmocka_unit_test_setup_teardown(test_enum_poll, setup, teardown),
        cmocka_unit_test_setup_teardown(test_clock_drift, setup, teardown),
        cmocka_unit_test_setup_teardown(test_host_free_stops, setup, teardown),
        cmocka_unit_test_setup_teardown(test_command_retry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sync_to_disk, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
