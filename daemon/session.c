/* session.c - one athlete's data path and feeds (see session.h). */
#define LOG_PREFIX "session"
#include "session.h"
#include <math.h>
#include <stdio.h>
#include <string.h>
#include "alloc.h"
#include "feed.h"
#include "input.h"
#include "latency.h"
#include "pod.h"
#include "proto.h"
#include "recorder.h"
#include "report.h"

struct session {
    rec_header_t hdr;
    int foot_of_pod[REC_MAX_PODS];   /* DSP_LEFT / DSP_RIGHT */
    pod_stream_t *streams;           /* one per pod */
    dsp_pipeline_t *pipe;
    report_live_t *focus;            /* massage focus areas, NULL if the rules failed to load */
    json_t *final_summary;           /* the published summary (with focus), once finished */
    json_t *faults;                  /* the source's fault counters (session_set_faults) */
    recorder_t *rec;
    char *rec_path;                  /* kept after the recording is closed; NULL: not recording */
    int rec_failed;                  /* kept after the recording is closed: */
    char *rec_error;                 /* why it stopped early (NULL if it did not) */
    uint64_t rec_bytes;
    feed_pub_t *pub;
    const log_t *lg;
    double window_period_s, next_window_t;
    double t_first, t_last;          /* NAN until the first sample */
    double last_stride_end;          /* t_next_ic of the newest stride published */
    uint64_t samples[2], rejected, other_msgs, bytes_in, windows;
    uint64_t strides[2];
    int finished;
    latency_track_t lat;             /* batch arrival times, for the stride latency */
};

/* Decode scratch, large (13 KiB): kept off the stack and shared by the sessions of a thread (a
 * frame is decoded and analysed before the next one is), not held per session. */
static _Thread_local struct {
    pod_msg_t msg;
    dsp_sample_t buf[POD_MAX_SAMPLES];
} scratch;

/* Sessions share one FFT workspace (dsp_pipeline_new_with): a new session's pipeline shares the
 * one of the newest session still open. gaitd runs every session in its one thread. */
static const dsp_pipeline_t *fft_peer;

/* The shipped focus rules (dsp/focus_rules.ini, built in), parsed once and kept for the process:
 * immutable, one copy for every session (NULL with a message in err when they fail to parse). */
static const focus_rules_t *shared_rules(char *err, size_t errcap)
{
    static focus_rules_t *rules;
    if (!rules) {
        focus_rules_t *r = xmalloc(sizeof *r);
        if (report_load_rules(NULL, r, err, errcap) != 0) {
            xfree(r);
            return NULL;
        }
        rules = r;
    }
    return rules;
}

static json_t *jnum(double d)
{
    return isfinite(d) ? json_real(d) : json_null();
}

session_t *session_new(const session_cfg_t *cfg, feed_pub_t *pub, const log_t *lg, char *err,
                       size_t errcap)
{
    const rec_header_t *h = &cfg->header;
    if (h->n_pods == 0 || h->n_pods > REC_MAX_PODS) {
        snprintf(err, errcap, "%s: %u pods (expected 1..%d)", h->athlete, h->n_pods, REC_MAX_PODS);
        return NULL;
    }
    session_t *s = xcalloc(1, sizeof *s);
    s->hdr = *h;
    for (unsigned i = 0; i < h->n_pods; i++) {
        if (h->pods[i].foot != 'L' && h->pods[i].foot != 'R') {
            snprintf(err, errcap, "%s: pod %u has foot 0x%02x (expected L or R)", h->athlete, i,
                     h->pods[i].foot);
            xfree(s);
            return NULL;
        }
        s->foot_of_pod[i] = h->pods[i].foot == 'L' ? DSP_LEFT : DSP_RIGHT;
    }
    dsp_settings_t ds = dsp_settings_default();
    /* Size the analysis history for the pods' declared rates (+5 % for clock error: pod clocks
     * are off by ppm, not percent) rather than the 2000 Hz maximum. A pod sending faster
     * than it declares only shortens the history (detection degrades; memory stays bounded). */
    double max_rate = 0.0;
    for (unsigned i = 0; i < h->n_pods; i++)
        if (h->pods[i].rate_hz > max_rate)
            max_rate = h->pods[i].rate_hz;
    if (max_rate >= 50.0 && 1.05 * max_rate < ds.max_rate_hz)
        ds.max_rate_hz = 1.05 * max_rate;
    s->pipe = dsp_pipeline_new_with(&ds, fft_peer);
    if (!s->pipe) {
        snprintf(err, errcap, "%s: cannot create the analysis pipeline", h->athlete);
        xfree(s);
        return NULL;
    }
    {
        /* the shipped focus rules; a failure only disables focus */
        char ferr[256];
        const focus_rules_t *fr = shared_rules(ferr, sizeof ferr);
        if (fr)
            s->focus = report_live_new(fr, NULL);
        else
            log_warn(lg, "%s: focus rules: %s", h->athlete, ferr);
    }
    if (cfg->record_dir) {
        s->rec = recorder_open(cfg->record_dir, h, lg, err, errcap);
        if (!s->rec) {
            report_live_free(&s->focus);
            dsp_pipeline_free(&s->pipe);
            xfree(s);
            return NULL;
        }
        s->rec_path = xstrdup(recorder_path(s->rec));
    }
    fft_peer = s->pipe;
    s->streams = xcalloc(h->n_pods, sizeof *s->streams);
    for (unsigned i = 0; i < h->n_pods; i++)
        pod_stream_init(&s->streams[i]);
    s->pub = pub;
    s->lg = lg;
    s->window_period_s = cfg->window_period_s > 0 ? cfg->window_period_s : 5.0;
    s->t_first = s->t_last = NAN;
    s->last_stride_end = NAN;
    log_info(lg, "session %s started (%s, %u pods)", h->athlete,
             h->source[0] ? h->source : "unknown source", h->n_pods);
    return s;
}

void session_set_faults(session_t *s, json_t *faults)
{
    json_decref(s->faults);
    s->faults = faults;
}

void session_set_baseline(session_t *s, const focus_baseline_t *baseline)
{
    if (s->focus)
        report_live_set_baseline(s->focus, baseline);
}

const char *session_athlete(const session_t *s)
{
    return s->hdr.athlete;
}

double session_data_time(const session_t *s)
{
    return s->t_last;
}

double session_data_start(const session_t *s)
{
    return s->t_first;
}

const rec_header_t *session_header(const session_t *s)
{
    return &s->hdr;
}

const char *session_recording(const session_t *s)
{
    return s->rec_path;
}

void session_summary(const session_t *s, dsp_summary_t *out)
{
    dsp_pipeline_summary(s->pipe, out);
}

const json_t *session_final_summary(const session_t *s)
{
    return s->final_summary;
}

int session_finished(const session_t *s)
{
    return s->finished;
}

/* Publishes every stride the pipeline has finished. */
static void drain_strides(session_t *s)
{
    dsp_stride_t st;
    while (dsp_pipeline_pop_stride(s->pipe, &st)) {
        if (st.foot <= DSP_RIGHT)
            s->strides[st.foot]++;
        if (!(st.t_next_ic <= s->last_stride_end))
            s->last_stride_end = st.t_next_ic;
        if (s->focus)
            report_live_stride(s->focus, &st);
        feed_pub_send(s->pub, s->hdr.athlete, "stride", feed_stride(s->hdr.athlete, &st));
        latency_track_stride(&s->lat, feed_pub_latency(s->pub), st.foot, st.t_to);
    }
}

/* Publishes a window message each window_period_s of data time. */
static void maybe_window(session_t *s)
{
    if (!(s->t_last >= s->next_window_t))
        return;
    dsp_window_t w;
    dsp_pipeline_window(s->pipe, &w);
    feed_pub_send(s->pub, s->hdr.athlete, "window", feed_window(s->hdr.athlete, &w));
    json_t *fm = s->focus ? report_live_window(s->focus, s->hdr.athlete, s->t_last) : NULL;
    if (fm)
        feed_pub_send(s->pub, s->hdr.athlete, "focus", fm);
    s->windows++;
    while (s->next_window_t <= s->t_last)
        s->next_window_t += s->window_period_s;
}

static int push(session_t *s, int foot, const dsp_sample_t *x)
{
    if (dsp_pipeline_push(s->pipe, foot, x) != 0) {
        if (s->rejected++ == 0)
            log_warn(s->lg, "%s: sample at t=%.6f s of foot %c rejected by the pipeline",
                     s->hdr.athlete, x->t, foot == DSP_LEFT ? 'L' : 'R');
        return -1;
    }
    s->samples[foot]++;
    if (isnan(s->t_first)) {
        s->t_first = x->t;
        s->next_window_t = x->t + s->window_period_s;
    }
    if (!(x->t <= s->t_last))
        s->t_last = x->t;
    return 0;
}

/* Decodes every complete frame buffered for pod i and analyses its samples. */
static void drain_stream(session_t *s, unsigned i)
{
    pod_stream_report_t rep;
    pod_msg_t *msg = &scratch.msg;
    dsp_sample_t *buf = scratch.buf;
    while (pod_stream_next(&s->streams[i], msg, &rep)) {
        if (rep.events & POD_EV_RESYNC)
            log_debug(s->lg, "%s pod %u: %llu bytes skipped before offset %llu", s->hdr.athlete,
                      i, (unsigned long long)rep.skipped_bytes, (unsigned long long)rep.offset);
        if (rep.events & POD_EV_GAP)
            log_debug(s->lg, "%s pod %u: %u frames lost before offset %llu", s->hdr.athlete, i,
                      rep.gap_frames, (unsigned long long)rep.offset);
        if (msg->type != POD_MSG_SAMPLES) {
            s->other_msgs++;
            continue;
        }
        /* t0 = 0: absolute host-clock times, as daemon/input.c gives `gaitctl analyze`. */
        unsigned n = input_frame_to_samples(&s->hdr.pods[i], 0, &msg->u.samples, buf);
        for (unsigned k = 0; k < n; k++)
            push(s, s->foot_of_pod[i], &buf[k]);
        if (n)
            latency_track_samples(&s->lat, s->foot_of_pod[i], buf[n - 1].t);
        drain_strides(s);
        maybe_window(s);
    }
}

int session_feed_frame(session_t *s, unsigned pod_index, const uint8_t *bytes, size_t len,
                       int64_t now_us)
{
    if (s->finished || pod_index >= s->hdr.n_pods)
        return -1;
    latency_track_begin(&s->lat);
    if (s->rec)
        recorder_add(s->rec, pod_index, bytes, len, now_us);
    s->bytes_in += len;
    while (len) {
        size_t took = pod_stream_feed(&s->streams[pod_index], bytes, len);
        bytes += took;
        len -= took;
        drain_stream(s, pod_index);
    }
    latency_track_end(&s->lat);
    return 0;
}

int session_push_sample(session_t *s, int foot, const dsp_sample_t *x)
{
    if (s->finished || (foot != DSP_LEFT && foot != DSP_RIGHT))
        return -1;
    int rc = push(s, foot, x);
    drain_strides(s);
    maybe_window(s);
    return rc;
}

void session_tick(session_t *s, int64_t now_us)
{
    if (s->rec)
        recorder_tick(s->rec, now_us);
}

void session_finish(session_t *s)
{
    if (s->finished)
        return;
    for (unsigned i = 0; i < s->hdr.n_pods; i++) {
        pod_stream_finish(&s->streams[i]);
        drain_stream(s, i);
    }
    s->finished = 1;
    dsp_pipeline_finish(s->pipe);
    drain_strides(s);
    dsp_summary_t sum;
    dsp_pipeline_summary(s->pipe, &sum);
    json_t *msg = feed_summary(s->hdr.athlete, &sum);
    if (msg && s->rec_path)
        json_object_set_new(msg, "recording", json_string(s->rec_path));
    if (s->focus) {
        json_t *fm = report_live_final(s->focus, s->hdr.athlete, s->t_last, &sum);
        if (fm)
            feed_pub_send(s->pub, s->hdr.athlete, "focus", fm);
        if (msg)
            report_summary_add_focus(msg, report_live_result(s->focus),
                                     report_live_metrics(s->focus));
    }
    if (msg && s->faults)
        json_object_set(msg, "faults", s->faults);
    s->final_summary = msg ? json_incref(msg) : NULL;
    feed_pub_send(s->pub, s->hdr.athlete, "summary", msg);
    if (s->rec) {
        recorder_flush(s->rec);
        s->rec_bytes = recorder_bytes(s->rec);
        s->rec_failed = recorder_failed(s->rec);
        if (recorder_error(s->rec))
            s->rec_error = xstrdup(recorder_error(s->rec));
        recorder_close(&s->rec);
    }
    log_info(s->lg, "session %s finished: %llu+%llu samples, %llu+%llu strides, %.1f s of data",
             s->hdr.athlete, (unsigned long long)s->samples[0], (unsigned long long)s->samples[1],
             (unsigned long long)s->strides[0], (unsigned long long)s->strides[1],
             isnan(s->t_first) ? 0.0 : s->t_last - s->t_first);
}

json_t *session_status(const session_t *s)
{
    pod_stream_stats_t tot = {0};
    json_t *pods = json_array();
    for (unsigned i = 0; i < s->hdr.n_pods; i++) {
        const pod_stream_stats_t *st = &s->streams[i].stats;
        tot.frames_ok += st->frames_ok;
        tot.bytes_skipped += st->bytes_skipped;
        tot.crc_errors += st->crc_errors;
        tot.seq_gaps += st->seq_gaps;
        tot.frames_lost += st->frames_lost;
        tot.duplicates += st->duplicates;
        tot.out_of_order += st->out_of_order;
        tot.rejected += st->rejected;
        char foot[2] = {(char)s->hdr.pods[i].foot, 0};
        json_array_append_new(
            pods, json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:I}", "serial", s->hdr.pods[i].serial,
                            "foot", foot, "frames_ok", (json_int_t)st->frames_ok, "crc_errors",
                            (json_int_t)st->crc_errors, "gaps", (json_int_t)st->seq_gaps,
                            "frames_lost", (json_int_t)st->frames_lost, "bytes_skipped",
                            (json_int_t)st->bytes_skipped));
    }
    double data_s = isnan(s->t_first) ? 0.0 : s->t_last - s->t_first;
    /* Pipeline lag: newest sample pushed minus the end of the newest stride published, i.e. how
     * far the stride output trails the input (about one stride when running). */
    double lag = isnan(s->last_stride_end) ? NAN : s->t_last - s->last_stride_end;
    json_t *o = json_pack("{s:s, s:i, s:s, s:s, s:b}", "type", "status", "v", FEED_PROTO_VERSION,
                          "athlete", s->hdr.athlete, "source", s->hdr.source, "finished",
                          s->finished);
    json_object_set_new(o, "samples", json_pack("{s:I, s:I}", "L", (json_int_t)s->samples[0],
                                                "R", (json_int_t)s->samples[1]));
    json_object_set_new(o, "samples_rejected", json_integer((json_int_t)s->rejected));
    json_object_set_new(o, "bytes", json_integer((json_int_t)s->bytes_in));
    json_object_set_new(o, "frames_ok", json_integer((json_int_t)tot.frames_ok));
    json_object_set_new(o, "crc_errors", json_integer((json_int_t)tot.crc_errors));
    json_object_set_new(o, "gaps", json_integer((json_int_t)tot.seq_gaps));
    json_object_set_new(o, "frames_lost", json_integer((json_int_t)tot.frames_lost));
    json_object_set_new(o, "bytes_skipped", json_integer((json_int_t)tot.bytes_skipped));
    json_object_set_new(o, "duplicates", json_integer((json_int_t)tot.duplicates));
    json_object_set_new(o, "out_of_order", json_integer((json_int_t)tot.out_of_order));
    json_object_set_new(o, "frames_rejected", json_integer((json_int_t)tot.rejected));
    json_object_set_new(o, "pods", pods);
    json_object_set_new(o, "strides", json_pack("{s:I, s:I}", "L", (json_int_t)s->strides[0],
                                                "R", (json_int_t)s->strides[1]));
    json_object_set_new(o, "windows", json_integer((json_int_t)s->windows));
    json_object_set_new(o, "data_s", jnum(data_s));
    json_object_set_new(o, "t_last", jnum(s->t_last));
    json_object_set_new(o, "pipeline_lag_s", jnum(lag));
    if (s->faults)
        json_object_set(o, "faults", s->faults);
    if (s->rec_path) {
        const char *e = s->rec ? recorder_error(s->rec) : s->rec_error;
        json_t *r = json_pack("{s:s, s:I, s:b}", "file", s->rec_path, "bytes",
                              (json_int_t)(s->rec ? recorder_bytes(s->rec) : s->rec_bytes),
                              "failed", s->rec ? recorder_failed(s->rec) : s->rec_failed);
        json_object_set_new(r, "error", e ? json_string(e) : json_null());
        json_object_set_new(o, "recording", r);
    } else
        json_object_set_new(o, "recording", json_null());
    return o;
}

void session_free(session_t **sp)
{
    if (!sp || !*sp)
        return;
    session_t *s = *sp;
    session_finish(s);
    json_decref(s->final_summary);
    json_decref(s->faults);
    report_live_free(&s->focus);
    if (fft_peer == s->pipe)
        fft_peer = NULL;
    dsp_pipeline_free(&s->pipe);
    xfree(s->streams);
    xfree(s->rec_path);
    xfree(s->rec_error);
    xfree(s);
    *sp = NULL;
}
