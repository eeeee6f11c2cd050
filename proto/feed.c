/* feed.c - JSON objects of gaitd's feeds and of `gaitctl analyze` (feed.h, FEEDS.md). */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
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
    err |= set_num(o, "stride_length_m", s->stride_length_m);
    err |= set_num(o, "speed_mps", s->speed_mps);
    err |= set_num(o, "turn_deg", s->turn_deg);
    err |= set_num(o, "clearance_m", s->clearance_m);
    err |= json_object_set_new(o, "turning",
                               isfinite(s->turn_deg) ? json_boolean(s->turning) : json_null());
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

/* ---- fast stride lines (gaitctl analyze) ---- */

/* Decimals written per stride field (FEEDS.md "Precision of gaitctl analyze's stride lines"). */
#define DEC_TIME 7   /* s: 0.1 us, far below a sample period (>= 500 us) */
#define DEC_DUTY 6
#define DEC_SPM 4
#define DEC_G 5      /* g: 10 ug; an accelerometer count is >= 61 ug (+-2 g) */
#define DEC_DPS 4    /* deg/s: a gyro count is >= 0.0038 deg/s (+-125 deg/s) */
#define DEC_DEG 4
#define DEC_M 4      /* m, m/s: 0.1 mm, far below what the integration resolves */

static const uint64_t pow10_u64[10] = {1u,      10u,      100u,      1000u,      10000u,
                                       100000u, 1000000u, 10000000u, 100000000u, 1000000000u};

/* "00" .. "99": two digits per division (the stride lines' figures have up to 10 digits) */
static const char digits2[201] =
    "00010203040506070809101112131415161718192021222324252627282930313233"
    "34353637383940414243444546474849505152535455565758596061626364656667"
    "6869707172737475767778798081828384858687888990919293949596979899";

/* Appends the decimal digits of v (>= 0) at p, at least `width` (<= 20) of them (leading zeros):
 * the length first, then the digits from the end, two per division. */
static char *put_u64(char *p, uint64_t v, int width)
{
    static const uint64_t p10[20] = {1u,
                                     10u,
                                     100u,
                                     1000u,
                                     10000u,
                                     100000u,
                                     1000000u,
                                     10000000u,
                                     100000000u,
                                     1000000000u,
                                     10000000000u,
                                     100000000000u,
                                     1000000000000u,
                                     10000000000000u,
                                     100000000000000u,
                                     1000000000000000u,
                                     10000000000000000u,
                                     100000000000000000u,
                                     1000000000000000000u,
                                     10000000000000000000u};
    int nd = 1;
    while (nd < 20 && v >= p10[nd])
        nd++;
    char *end = p + (nd > width ? nd : width), *q = end;
    while (v >= 100u) {
        unsigned r = (unsigned)(v % 100u);
        v /= 100u;
        q -= 2;
        memcpy(q, digits2 + 2 * r, 2);
    }
    if (v >= 10u) {
        q -= 2;
        memcpy(q, digits2 + 2 * v, 2);
    } else {
        *--q = (char)('0' + v);
    }
    while (q > p)
        *--q = '0';
    return end;
}

/* Appends v rounded to dec decimals (1..9) in plain decimal form, trailing zeros dropped but one
 * decimal kept ("0.25", "172.0", "-3.5"), so that it reads back as a JSON real within half a
 * unit of the last decimal; null when v is not finite. Magnitudes of 1e15 and more (no real
 * figure; a hostile file's times) fall back to %.17g. p must have 32 bytes of room. */
static char *put_fixed(char *p, double v, int dec)
{
    if (!isfinite(v)) {
        memcpy(p, "null", 4);
        return p + 4;
    }
    double a = fabs(v);
    if (a >= 1e15) {
        int n = snprintf(p, 30, "%.17g", v);
        n = n > 0 && n < 30 ? n : 0;
        if (!memchr(p, '.', (size_t)n) && !memchr(p, 'e', (size_t)n)) {
            memcpy(p + n, ".0", 2); /* a real, as jansson writes it */
            n += 2;
        }
        return p + n;
    }
    /* integer and fraction apart (both exact), so the rounding is to the decimal, not to the
     * double nearest a scaled value: right for Unix times (1.7e9 s) at 7 decimals too */
    double ip = floor(a);
    uint64_t i = (uint64_t)ip, scale = pow10_u64[dec];
    /* llround of x in [0, 1e9): its integer part and a rounding up from a fraction >= 0.5
     * (x - floor(x) is exact), without the library call */
    const double x = (a - ip) * (double)scale;
    uint64_t f = (uint64_t)x;
    f += x - (double)f >= 0.5;
    if (f >= scale) {
        f -= scale;
        i++;
    }
    while (dec > 1 && f % 10u == 0) {
        f /= 10u;
        dec--;
    }
    if (v < 0 && (i || f))
        *p++ = '-';
    p = put_u64(p, i, 1);
    *p++ = '.';
    return put_u64(p, f, dec);
}

/* (inline: strlen and memcpy of a literal are folded to stores) */
static inline __attribute__((always_inline)) char *put_lit(char *p, const char *lit)
{
    size_t n = strlen(lit);
    memcpy(p, lit, n);
    return p + n;
}

int feed_stride_write(const dsp_stride_t *s, char *buf, size_t cap)
{
    /* every field at its widest: 24 keys of <= 22 bytes and numbers of <= 32 bytes, strings */
    if (cap < FEED_STRIDE_LINE_MAX)
        return -1;
    char *p = buf;
    p = put_lit(p, "{\"type\":\"stride\",\"v\":");
    p = put_u64(p, FEED_PROTO_VERSION, 1);
    p = put_lit(p, ",\"foot\":\"");
    p = put_lit(p, feed_foot_name(s->foot));
    p = put_lit(p, "\",\"index\":");
    p = put_u64(p, s->index, 1);
    /* keys zero-padded to 24 bytes, copied whole (a fixed-size copy; the line has room: every
     * key is followed by a number) and the pointer moved by their length */
    static const struct {
        char key[24];
        size_t len;
        size_t off;
        int dec;
    } nums[] = {
#define NUM_KEY(field, dec)                                                                        \
    {",\"" #field "\":", sizeof ",\"" #field "\":" - 1, offsetof(dsp_stride_t, field), dec}
        NUM_KEY(t_ic, DEC_TIME),
        NUM_KEY(t_to, DEC_TIME),
        NUM_KEY(t_next_ic, DEC_TIME),
        NUM_KEY(stride_s, DEC_TIME),
        NUM_KEY(contact_s, DEC_TIME),
        NUM_KEY(swing_s, DEC_TIME),
        NUM_KEY(step_s, DEC_TIME),
        NUM_KEY(flight_s, DEC_TIME),
        NUM_KEY(duty, DEC_DUTY),
        NUM_KEY(cadence_spm, DEC_SPM),
        NUM_KEY(impact_g, DEC_G),
        NUM_KEY(pushoff_dps, DEC_DPS),
        NUM_KEY(swing_peak_dps, DEC_DPS),
        NUM_KEY(braking_g, DEC_G),
        NUM_KEY(strike_angle_deg, DEC_DEG),
#undef NUM_KEY
    };
    for (size_t k = 0; k < sizeof nums / sizeof nums[0]; k++) {
        double v;
        memcpy(&v, (const char *)s + nums[k].off, sizeof v);
        memcpy(p, nums[k].key, sizeof nums[k].key);
        p += nums[k].len;
        p = put_fixed(p, v, nums[k].dec);
    }
    const char *strike = feed_strike_name(s->strike);
    p = put_lit(p, ",\"strike\":");
    if (strike) {
        *p++ = '"';
        p = put_lit(p, strike);
        *p++ = '"';
    } else {
        p = put_lit(p, "null");
    }
    p = put_lit(p, ",\"pronation_deg\":");
    p = put_fixed(p, s->pronation_deg, DEC_DEG);
    p = put_lit(p, ",\"pronation_vel_dps\":");
    p = put_fixed(p, s->pronation_vel_dps, DEC_DPS);
    p = put_lit(p, ",\"stride_length_m\":");
    p = put_fixed(p, s->stride_length_m, DEC_M);
    p = put_lit(p, ",\"speed_mps\":");
    p = put_fixed(p, s->speed_mps, DEC_M);
    p = put_lit(p, ",\"turn_deg\":");
    p = put_fixed(p, s->turn_deg, DEC_DEG);
    p = put_lit(p, ",\"clearance_m\":");
    p = put_fixed(p, s->clearance_m, DEC_M);
    p = put_lit(p, !isfinite(s->turn_deg) ? ",\"turning\":null"
                                          : (s->turning ? ",\"turning\":true" : ",\"turning\":false"));
    p = put_lit(p, ",\"mode\":\"");
    p = put_lit(p, feed_mode_name(s->mode));
    *p++ = '"';
    if (s->saturated) {
        p = put_lit(p, ",\"saturated\":[");
        if (s->saturated & 1)
            p = put_lit(p, (s->saturated & 2) ? "\"acc\"," : "\"acc\"");
        if (s->saturated & 2)
            p = put_lit(p, "\"gyr\"");
        *p++ = ']';
    }
    *p++ = '}';
    *p++ = '\n';
    *p = '\0';
    return (int)(p - buf);
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
        err |= set_int(n, "turning", s->n_turning);
    }
    err |= set_obj(o, "n_strides", n);
    err |= set_obj(o, "running", mode_block(&s->running));
    err |= set_obj(o, "walking", mode_block(&s->walking));
    err |= set_int(o, "n_turning", s->n_turning);
    err |= set_obj(o, "straight", mode_block(&s->straight));
    err |= set_obj(o, "drift", drift_block(s));
    err |= set_str(o, "disclaimer", DISCLAIMER);
    if (err) {
        json_decref(o);
        return NULL;
    }
    return o;
}
