/* feed.c - JSON objects of gaitd's feeds and of `gaitctl analyze` (feed.h, FEEDS.md). */
#include <math.h>
#include "feed.h"

#define DISCLAIMER                                                                                 \
    "Indicators are training aids derived from gait asymmetry, not medical diagnoses; "            \
    "see a professional about pain or injury."

const char *feed_foot_name(int foot)
{
    return foot == DSP_LEFT ? "L" : (foot == DSP_RIGHT ? "R" : "?");
}

const char *feed_strike_name(int strike)
{
    switch (strike) {
    case DSP_STRIKE_REAR:
        return "rear";
    case DSP_STRIKE_MID:
        return "mid";
    case DSP_STRIKE_FORE:
        return "fore";
    default:
        return NULL;
    }
}

const char *feed_mode_name(int mode)
{
    switch (mode) {
    case DSP_MODE_WALK:
        return "walk";
    case DSP_MODE_RUN:
        return "run";
    default:
        return "unknown";
    }
}

/* Sets key to a real, or to null when v is not finite. Returns 0 or -1 (OOM). */
static int set_num(json_t *o, const char *key, double v)
{
    json_t *j = isfinite(v) ? json_real(v) : json_null();
    return j ? json_object_set_new(o, key, j) : -1;
}

static int set_str(json_t *o, const char *key, const char *v)
{
    json_t *j = json_string(v);
    return j ? json_object_set_new(o, key, j) : -1;
}

static int set_int(json_t *o, const char *key, json_int_t v)
{
    json_t *j = json_integer(v);
    return j ? json_object_set_new(o, key, j) : -1;
}

static json_t *header(const char *type, const char *athlete)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    int err = set_str(o, "type", type) | set_int(o, "v", FEED_PROTO_VERSION);
    if (athlete)
        err |= set_str(o, "athlete", athlete);
    if (err) {
        json_decref(o);
        return NULL;
    }
    return o;
}

json_t *feed_stride(const char *athlete, const dsp_stride_t *s)
{
    json_t *o = header("stride", athlete);
    if (!o)
        return NULL;
    int err = set_str(o, "foot", feed_foot_name(s->foot));
    err |= set_int(o, "index", s->index);
    err |= set_num(o, "t_ic", s->t_ic);
    err |= set_num(o, "t_to", s->t_to);
    err |= set_num(o, "t_next_ic", s->t_next_ic);
    err |= set_num(o, "stride_s", s->stride_s);
    err |= set_num(o, "contact_s", s->contact_s);
    err |= set_num(o, "swing_s", s->swing_s);
    err |= set_num(o, "step_s", s->step_s);
    err |= set_num(o, "flight_s", s->flight_s);
    err |= set_num(o, "duty", s->duty);
    err |= set_num(o, "cadence_spm", s->cadence_spm);
    err |= set_num(o, "impact_g", s->impact_g);
    err |= set_num(o, "pushoff_dps", s->pushoff_dps);
    err |= set_num(o, "swing_peak_dps", s->swing_peak_dps);
    err |= set_num(o, "braking_g", s->braking_g);
    err |= set_num(o, "strike_angle_deg", s->strike_angle_deg);
    err |= feed_strike_name(s->strike) ? set_str(o, "strike", feed_strike_name(s->strike))
                                       : json_object_set_new(o, "strike", json_null());
    err |= set_num(o, "pronation_deg", s->pronation_deg);
    err |= set_num(o, "pronation_vel_dps", s->pronation_vel_dps);
    err |= set_str(o, "mode", feed_mode_name(s->mode));
    if (s->saturated) {
        json_t *sat = json_array();
        err |= sat ? 0 : -1;
        if (sat && (s->saturated & 1))
            err |= json_array_append_new(sat, json_string("acc"));
        if (sat && (s->saturated & 2))
            err |= json_array_append_new(sat, json_string("gyr"));
        if (sat)
            err |= json_object_set_new(o, "saturated", sat);
    }
    if (err) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static int set_obj(json_t *o, const char *key, json_t *v)
{
    return v ? json_object_set_new(o, key, v) : -1;
}

static json_t *foot_stats(const dsp_foot_stats_t *f)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    int err = set_int(o, "n", f->n);
    err |= set_num(o, "stride_s", f->stride_s);
    err |= set_num(o, "contact_s", f->contact_s);
    err |= set_num(o, "step_s", f->step_s);
    err |= set_num(o, "swing_s", f->swing_s);
    err |= set_num(o, "flight_s", f->flight_s);
    err |= set_num(o, "duty", f->duty);
    err |= set_num(o, "contact_cv_pct", f->contact_cv_pct);
    err |= set_num(o, "impact_g", f->impact_g);
    err |= set_num(o, "pushoff_dps", f->pushoff_dps);
    json_t *bm = json_object();
    err |= bm ? 0 : -1;
    for (int m = 0; m < DSP_NMETRIC && bm; m++) {
        json_t *e = json_object();
        err |= e ? 0 : -1;
        if (!e)
            break;
        err |= set_num(e, "mean", f->mean[m]);
        err |= set_num(e, "median", f->median[m]);
        err |= set_num(e, "cv_pct", f->cv_pct[m]);
        err |= json_object_set_new(bm, dsp_metric_name(m), e);
    }
    err |= set_obj(o, "by_metric", bm);
    if (err) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static json_t *symmetry(const dsp_window_t *w)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    int err = set_num(o, "contact_si_pct", w->contact_si_pct);
    err |= set_num(o, "stride_si_pct", w->stride_si_pct);
    err |= set_num(o, "step_si_pct", w->step_si_pct);
    err |= set_num(o, "phase_offset_deg", w->phase_offset_deg);
    err |= set_num(o, "spectral_similarity", w->spectral_similarity);
    json_t *bm = json_object();
    err |= bm ? 0 : -1;
    for (int m = 0; m < DSP_NMETRIC && bm; m++)
        err |= set_num(bm, dsp_metric_name(m), w->si_pct[m]);
    err |= set_obj(o, "by_metric", bm);
    if (err) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* Fields shared by window messages and the summary's per-mode blocks. */
static int window_fields(json_t *o, const dsp_window_t *w)
{
    int err = set_num(o, "t_start", w->t_start);
    err |= set_num(o, "t_end", w->t_end);
    err |= set_str(o, "mode", feed_mode_name(w->mode));
    err |= set_num(o, "cadence_spm", w->cadence_events_spm);
    err |= set_num(o, "cadence_fft_spm", w->cadence_fft_spm);
    err |= set_num(o, "stride_hz_fft", w->stride_hz_fft);
    err |= json_object_set_new(o, "cadence_disagree", json_boolean(w->cadence_disagree));
    err |= set_obj(o, "L", foot_stats(&w->foot[DSP_LEFT]));
    err |= set_obj(o, "R", foot_stats(&w->foot[DSP_RIGHT]));
    err |= set_obj(o, "symmetry", symmetry(w));
    return err;
}

json_t *feed_window(const char *athlete, const dsp_window_t *w)
{
    json_t *o = header("window", athlete);
    if (!o)
        return NULL;
    if (window_fields(o, w)) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static json_t *mode_block(const dsp_window_t *w)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    if (window_fields(o, w)) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* {"first_third":{window-like},"last_third":{..},"per_10min":{metric: change, ...,
 *  "contact_si_pct": change}} */
static json_t *drift_block(const dsp_summary_t *s)
{
    json_t *o = json_object(), *per = json_object();
    if (!o || !per) {
        json_decref(o);
        json_decref(per);
        return NULL;
    }
    int err = 0;
    for (int m = 0; m < DSP_NMETRIC; m++)
        err |= set_num(per, dsp_metric_name(m), s->drift_per_10min[m]);
    err |= set_num(per, "contact_si_pct", s->drift_contact_si_per_10min);
    err |= set_obj(o, "per_10min", per);
    err |= set_obj(o, "first_third", mode_block(&s->first_third));
    err |= set_obj(o, "last_third", mode_block(&s->last_third));
    if (err) {
        json_decref(o);
        return NULL;
    }
    return o;
}

json_t *feed_summary(const char *athlete, const dsp_summary_t *s)
{
    json_t *o = header("summary", athlete);
    if (!o)
        return NULL;
    const dsp_window_t *m = &s->main;
    int err = set_num(o, "duration_s", s->duration_s);
    err |= set_str(o, "mode", feed_mode_name(m->mode));
    err |= set_num(o, "cadence_spm", s->cadence_spm);
    err |= set_num(o, "cadence_fft_spm", m->cadence_fft_spm);
    err |= set_num(o, "stride_hz_fft", m->stride_hz_fft);
    err |= json_object_set_new(o, "cadence_disagree", json_boolean(m->cadence_disagree));
    err |= set_obj(o, "symmetry", symmetry(m));
    err |= set_num(o, "clock_offset_s", s->clock_offset_s);
    err |= set_obj(o, "focus", json_array());
    err |= set_obj(o, "L", foot_stats(&m->foot[DSP_LEFT]));
    err |= set_obj(o, "R", foot_stats(&m->foot[DSP_RIGHT]));
    json_t *n = json_object();
    if (n) {
        err |= set_int(n, "L", s->n_strides[DSP_LEFT]);
        err |= set_int(n, "R", s->n_strides[DSP_RIGHT]);
        err |= set_int(n, "running", s->n_running);
        err |= set_int(n, "walking", s->n_walking);
    }
    err |= set_obj(o, "n_strides", n);
    err |= set_obj(o, "running", mode_block(&s->running));
    err |= set_obj(o, "walking", mode_block(&s->walking));
    err |= set_obj(o, "drift", drift_block(s));
    err |= set_str(o, "disclaimer", DISCLAIMER);
    if (err) {
        json_decref(o);
        return NULL;
    }
    return o;
}
