/* input.c - reads a recording (.gaitrec) or a gait CSV v1 file and yields SI samples of both
 * feet merged in time order (ties: L before R).
 *
 * CSV: the whole file is read into memory and parsed completely at open into one sample array
 *   per foot (so the header with the
 *   inferred rates is valid right after input_open, and files written foot by foot are merged
 *   too); malformed lines and rows going back in time are remembered with their line number and
 *   reported, in line order, interleaved with the samples.
 * Recording: streamed through a window of WIN_CAP bytes (one largest chunk plus read-ahead:
 *   memory stays bounded whatever the file's size; rec_reader_want / rec_reader_rebase). Records
 *   are decoded lazily; the reader verifies each chunk's CRC-32 and, in the same pass, each pod
 *   frame's own CRC before any record is yielded, so verified frames are decoded trusted
 *   (pod_decode_ref: no second CRC pass over the same bytes; every other frame check stays).
 *   Each frame's samples are converted from its bytes in the window (no copy into a pod_msg_t;
 *   dsp_units_frame, with their times) straight into that foot's queue; a frame whose times
 *   provably increase and start after the foot's last is kept whole without comparing them; the
 *   earliest head is yielded. Times are absolute on the host clock: t0_us = 0, so a recording's
 *   samples carry the same times as the CSV it was converted from or to (see
 *   input_frame_to_samples).
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "dsp_units.h"
#include "gcsv.h"
#include "input.h"
#include "proto.h"

#define CSV_MAX_ERRORS 200     /* damaged lines reported one by one; the rest summed up */
#define RATE_PROBE 50          /* first differences whose median gives a CSV foot's period */
#define RATE_SPAN 5000         /* first differences averaged around that median */
#define QUEUE_LIMIT (1u << 16) /* samples buffered for one foot while the other is silent */
#define MSG_LEN 256
#define WIN_CAP (REC_MAX_CHUNK + REC_CHUNK_OVERHEAD + (1u << 18)) /* recording window, bytes */

typedef struct csv_sample {
    dsp_sample_t s;
    unsigned long line;
} csv_sample_t;

typedef struct csv_error {
    unsigned long line;
    char msg[MSG_LEN];
} csv_error_t;

typedef struct sample_queue {
    dsp_sample_t *v;
    size_t head, tail, cap;
} sample_queue_t;

struct input {
    char *path;
    int format;
    uint8_t *data;
    size_t len;
    rec_header_t hdr;
    int damaged;
    /* CSV */
    csv_sample_t *smp[2];
    size_t n[2], cap[2], next[2];
    csv_error_t *errs;
    size_t n_err, cap_err, next_err;
    unsigned long suppressed; /* damaged lines beyond CSV_MAX_ERRORS */
    unsigned long suppressed_first;
    int suppressed_reported;
    /* recording */
    FILE *fp;      /* open while streaming */
    uint8_t *win;  /* WIN_CAP bytes: the file from offset rr.base */
    size_t win_len;
    int win_eof;   /* fp has no more bytes */
    rec_reader_t rr;
    int pod_foot[REC_MAX_PODS]; /* DSP_LEFT/RIGHT, or -1 for a pod that is ignored */
    int present[2];
    sample_queue_t q[2];
    double last_t[2];
    double peak_acc[2], peak_gyr[2]; /* CSV: largest magnitudes per foot (range choice) */
    int have_last[2];
    int rec_done;
    int err_pending;
    char err[MSG_LEN];
    pod_msg_t msg;
};

static void put_err(char *err, size_t errcap, const char *fmt, ...)
{
    if (!err || errcap == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errcap, fmt, ap);
    va_end(ap);
}

/* 1 when the n times (base_us + i * step_us) * 1e-6 (i < n) strictly increase. Sufficient
 * condition: with M >= |base_us| + n * step_us bounding every term and partial result, each
 * time's rounding errors (three correctly rounded operations) stay below 6.01 * 2^-53 * M times
 * 1e-6 apart, so a step of at least M * 2^-48 (32 * 2^-53 * M) keeps every difference positive
 * (for a 500 Hz pod: an absolute time below 17,800 years). False for NaN and infinities. */
static int times_increase(double base_us, double step_us, unsigned n)
{
    return step_us > 0 && (fabs(base_us) + n * step_us) * 0x1p-48 <= step_us;
}

/* input_frame_to_samples of the frame with header f (its s unused) and the values raw (wire
 * order); *strict = times_increase of its times. */
static unsigned frame_convert(const rec_pod_t *pod, int64_t t0_us, const pod_samples_t *f,
                              const uint8_t *raw, dsp_sample_t *out, int *strict)
{
    *strict = 0;
    if (f->rate_hz == 0)
        return 0;
    unsigned n = f->n <= POD_MAX_SAMPLES ? f->n : POD_MAX_SAMPLES;
    dsp_calib_t cal;
    memcpy(cal.acc_bias, pod->acc_bias, sizeof cal.acc_bias);
    memcpy(cal.acc_scale, pod->acc_scale, sizeof cal.acc_scale);
    memcpy(cal.gyr_bias, pod->gyr_bias, sizeof cal.gyr_bias);
    /* in double: exact while each term and the sum stay below 2^53 us (285 years), as every sane
     * input does; absurd values from a damaged or hostile file give absurd times, never integer
     * overflow (found by fuzz_rec) */
    double base_us = (double)f->t_dev_us + (double)pod->clock_offset_us - (double)t0_us;
    double step_us = 1e6 / f->rate_hz;
    dsp_units_frame(raw, n, f->acc_range_g, f->gyr_range_dps, &cal, base_us, step_us, out,
                    DSP_UNITS_BEST);
    *strict = times_increase(base_us, step_us, n);
    return n;
}

unsigned input_frame_to_samples(const rec_pod_t *pod, int64_t t0_us, const pod_samples_t *f,
                                dsp_sample_t *out)
{
    int strict;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    /* int16_t is two's complement: on a little-endian host f->s's bytes are the wire order */
    return frame_convert(pod, t0_us, f, (const uint8_t *)f->s, out, &strict);
#else
    uint8_t raw[POD_MAX_SAMPLES * POD_SAMPLE_BYTES];
    unsigned n = f->n <= POD_MAX_SAMPLES ? f->n : POD_MAX_SAMPLES;
    for (unsigned i = 0; i < n; i++)
        for (int c = 0; c < 6; c++)
            proto_put_u16le(raw + 12 * i + 2 * c, (uint16_t)f->s[i][c]);
    return frame_convert(pod, t0_us, f, raw, out, &strict);
#endif
}

/* ---- file loading ---- */

static int read_file(const char *path, uint8_t **data, size_t *len, char *err, size_t errcap)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        put_err(err, errcap, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    size_t cap = 1 << 16, n = 0;
    uint8_t *buf = malloc(cap);
    if (!buf) {
        fclose(f);
        put_err(err, errcap, "%s: out of memory", path);
        return -1;
    }
    for (;;) {
        if (n == cap) {
            uint8_t *nb = cap < ((size_t)-1) / 2 ? realloc(buf, cap * 2) : NULL;
            if (!nb) {
                free(buf);
                fclose(f);
                put_err(err, errcap, "%s: out of memory", path);
                return -1;
            }
            buf = nb;
            cap *= 2;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0) {
            if (ferror(f)) {
                put_err(err, errcap, "%s: read error: %s", path, strerror(errno));
                free(buf);
                fclose(f);
                return -1;
            }
            break;
        }
    }
    fclose(f);
    *data = buf;
    *len = n;
    return 0;
}

/* athlete = file name without directory and extension, control characters replaced. */
static void athlete_from_path(const char *path, char *out, size_t cap)
{
    const char *b = strrchr(path, '/');
    b = b ? b + 1 : path;
    size_t n = strlen(b);
    const char *dot = strrchr(b, '.');
    if (dot && dot != b)
        n = (size_t)(dot - b);
    if (n > cap - 1)
        n = cap - 1;
    while (n > 0 && ((unsigned char)b[n] & 0xC0) == 0x80)
        n--; /* do not cut a UTF-8 sequence */
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)b[i];
        out[i] = (c < 0x20 || c == 0x7F) ? '_' : (char)c;
    }
    out[n] = '\0';
    if (n == 0)
        snprintf(out, cap, "athlete");
}

/* ---- CSV ---- */

static int csv_push_sample(input_t *in, int foot, const dsp_sample_t *s, unsigned long line)
{
    if (in->n[foot] == in->cap[foot]) {
        size_t nc = in->cap[foot] ? in->cap[foot] * 2 : 4096;
        csv_sample_t *v = realloc(in->smp[foot], nc * sizeof *v);
        if (!v)
            return -1;
        in->smp[foot] = v;
        in->cap[foot] = nc;
    }
    in->smp[foot][in->n[foot]].s = *s;
    in->smp[foot][in->n[foot]].line = line;
    in->n[foot]++;
    for (int k = 0; k < 3; k++) {
        in->peak_acc[foot] = fmax(in->peak_acc[foot], fabs(s->acc[k]));
        in->peak_gyr[foot] = fmax(in->peak_gyr[foot], fabs(s->gyr[k]));
    }
    return 0;
}

static int csv_push_error(input_t *in, unsigned long line, const char *fmt, ...)
{
    if (in->n_err >= CSV_MAX_ERRORS) {
        if (in->suppressed++ == 0)
            in->suppressed_first = line;
        return 0;
    }
    if (in->n_err == in->cap_err) {
        size_t nc = in->cap_err ? in->cap_err * 2 : 16;
        csv_error_t *v = realloc(in->errs, nc * sizeof *v);
        if (!v)
            return -1;
        in->errs = v;
        in->cap_err = nc;
    }
    csv_error_t *e = &in->errs[in->n_err++];
    e->line = line;
    int k = snprintf(e->msg, sizeof e->msg, "%s:%lu: ", in->path, line);
    if (k < 0 || (size_t)k >= sizeof e->msg)
        k = 0;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg + k, sizeof e->msg - (size_t)k, fmt, ap);
    va_end(ap);
    return 0;
}

/* Rate of one foot from its first differences: the median of the first RATE_PROBE, refined by
 * the mean of the first RATE_SPAN differences lying within +-50 % of it (robust to dropouts, and
 * to timestamps rounded to the millisecond, e.g. 300 Hz written with 3 decimals).
 * Returns 0 when there are fewer than 2 samples. */
static double csv_infer_rate(const csv_sample_t *v, size_t n)
{
    double d[RATE_PROBE];
    size_t m = 0;
    for (size_t i = 1; i < n && m < RATE_PROBE; i++)
        d[m++] = v[i].s.t - v[i - 1].s.t;
    if (m == 0)
        return 0;
    /* insertion sort of at most 50 values */
    double sorted[RATE_PROBE];
    memcpy(sorted, d, m * sizeof d[0]);
    for (size_t i = 1; i < m; i++) {
        double x = sorted[i];
        size_t j = i;
        while (j > 0 && sorted[j - 1] > x) {
            sorted[j] = sorted[j - 1];
            j--;
        }
        sorted[j] = x;
    }
    double med = (m % 2) ? sorted[m / 2] : 0.5 * (sorted[m / 2 - 1] + sorted[m / 2]);
    double sum = 0;
    size_t k = 0;
    for (size_t i = 1; i < n && i <= RATE_SPAN; i++) {
        double di = v[i].s.t - v[i - 1].s.t;
        if (di > 0.5 * med && di < 1.5 * med) {
            sum += di;
            k++;
        }
    }
    double dt = k ? sum / k : med;
    return dt > 0 ? 1.0 / dt : 0;
}

/* The smaller full scale unless the data would sit on its rail (clip) there. */
static uint16_t csv_range(double peak, double unit, uint16_t normal, uint16_t wide)
{
    return peak / (normal * unit / 32768.0) >= 32766.5 ? wide : normal;
}

/* Pods 'L'/'R' as present, serial csv-L/csv-R, rates as inferred, ranges 16 g / 2000 deg/s
 * (widened to 32 g / 4000 deg/s for a foot whose data exceeds them, so that `gaitctl convert`
 * does not clip it), unit calibration, clock offset 0 (times are the CSV's). */
static void csv_make_header(input_t *in, const double rate[2])
{
    rec_header_t *h = &in->hdr;
    rec_header_init(h);
    athlete_from_path(in->path, h->athlete, sizeof h->athlete);
    snprintf(h->source, sizeof h->source, "csv");
    for (int f = 0; f < 2; f++) {
        if (in->n[f] == 0)
            continue;
        rec_pod_t *p = &h->pods[h->n_pods++];
        snprintf(p->serial, sizeof p->serial, "csv-%c", f == DSP_LEFT ? 'L' : 'R');
        p->foot = f == DSP_LEFT ? POD_FOOT_LEFT : POD_FOOT_RIGHT;
        p->rate_hz = (uint16_t)lround(rate[f]);
        p->acc_range_g = csv_range(in->peak_acc[f], 9.80665, 16, 32);
        p->gyr_range_dps = csv_range(in->peak_gyr[f], 1.0, 2000, 4000);
        p->clock_offset_us = 0;
    }
}

static int csv_load(input_t *in, double rate_override_hz, char *err, size_t errcap)
{
    const char *p = (const char *)in->data;
    size_t pos = 0;
    unsigned long line = 0;
    char msg[MSG_LEN];
    if (in->len >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0)
        pos = 3; /* UTF-8 byte order mark written by some spreadsheet exports */
    while (pos < in->len) {
        const char *nl = memchr(p + pos, '\n', in->len - pos);
        size_t end = nl ? (size_t)(nl - p) + 1 : in->len;
        line++;
        gcsv_row_t row;
        int rc = gcsv_parse_line(p + pos, end - pos, &row, msg, sizeof msg);
        pos = end;
        int ok = 0;
        if (rc == GCSV_ROW) {
            int foot = row.foot == 'L' ? DSP_LEFT : DSP_RIGHT;
            if (in->n[foot] > 0 && !(row.t > in->smp[foot][in->n[foot] - 1].s.t)) {
                ok = csv_push_error(in, line,
                                    "time %.6f of foot %c does not advance (previous %.6f)", row.t,
                                    row.foot, in->smp[foot][in->n[foot] - 1].s.t);
            } else {
                dsp_sample_t s;
                memset(&s, 0, sizeof s);
                s.t = row.t;
                for (int k = 0; k < 3; k++) {
                    s.acc[k] = (float)row.acc[k];
                    s.gyr[k] = (float)row.gyr[k];
                }
                ok = csv_push_sample(in, foot, &s, line);
            }
        } else if (rc < 0) {
            ok = csv_push_error(in, line, "%s", msg);
        }
        if (ok < 0) {
            put_err(err, errcap, "%s: out of memory", in->path);
            return -1;
        }
    }
    if (in->n[0] + in->n[1] == 0) {
        if (in->n_err > 0)
            put_err(err, errcap, "%s: no valid sample (not gait CSV v1?); first error: %s",
                    in->path, in->errs[0].msg);
        else
            put_err(err, errcap, "%s: no samples", in->path);
        return -1;
    }
    double rate[2] = {0, 0};
    for (int f = 0; f < 2; f++)
        rate[f] = rate_override_hz > 0 ? rate_override_hz : csv_infer_rate(in->smp[f], in->n[f]);
    for (int f = 0; f < 2; f++) {
        if (in->n[f] == 0)
            continue;
        if (rate[f] == 0) /* a single sample: borrow the other foot's rate */
            rate[f] = rate[1 - f];
        if (!(rate[f] >= 49.5 && rate[f] < 2000.5)) {
            if (rate[f] == 0)
                put_err(err, errcap,
                        "%s: foot %c: too few samples to infer the sampling rate (use --rate HZ)",
                        in->path, f == DSP_LEFT ? 'L' : 'R');
            else
                put_err(err, errcap,
                        "%s: foot %c: sampling rate %.1f Hz (from time_s) is outside 50..2000 Hz "
                        "(use --rate HZ)",
                        in->path, f == DSP_LEFT ? 'L' : 'R', rate[f]);
            return -1;
        }
    }
    csv_make_header(in, rate);
    return 0;
}

/* noinline: keeps input_next_ref's per-sample path for recordings free of CSV's register use */
__attribute__((noinline)) static int csv_next(input_t *in, int *foot, const dsp_sample_t **s,
                                              char *err, size_t errcap)
{
    /* the next sample: earliest head, ties L before R */
    int f = -1;
    for (int k = 0; k < 2; k++)
        if (in->next[k] < in->n[k] &&
            (f < 0 || in->smp[k][in->next[k]].s.t < in->smp[f][in->next[f]].s.t))
            f = k;
    unsigned long line = f >= 0 ? in->smp[f][in->next[f]].line : (unsigned long)-1;
    if (in->next_err < in->n_err && in->errs[in->next_err].line < line) {
        put_err(err, errcap, "%s", in->errs[in->next_err].msg);
        in->next_err++;
        in->damaged = 1;
        return -1;
    }
    if (f < 0) {
        if (in->suppressed && !in->suppressed_reported) {
            in->suppressed_reported = 1;
            in->damaged = 1;
            put_err(err, errcap, "%s:%lu: %lu more damaged lines not reported one by one", in->path,
                    in->suppressed_first, in->suppressed);
            return -1;
        }
        return 0;
    }
    *foot = f;
    *s = &in->smp[f][in->next[f]++].s;
    return 1;
}

/* ---- recording ---- */

/* Room for n more samples at q->v + q->tail (compacting, then growing). Returns 0 or -1 (OOM). */
static int queue_reserve(sample_queue_t *q, size_t n)
{
    if (q->cap - q->tail >= n)
        return 0;
    if (q->head > 0) {
        memmove(q->v, q->v + q->head, (q->tail - q->head) * sizeof *q->v);
        q->tail -= q->head;
        q->head = 0;
    }
    size_t nc = q->cap ? q->cap : 1024;
    while (nc - q->tail < n)
        nc *= 2;
    if (nc != q->cap) {
        dsp_sample_t *v = realloc(q->v, nc * sizeof *v);
        if (!v)
            return -1;
        q->v = v;
        q->cap = nc;
    }
    return 0;
}

static size_t queue_size(const sample_queue_t *q)
{
    return q->tail - q->head;
}

static void rec_damage(input_t *in, size_t offset, const char *what)
{
    in->rec_done = 1;
    in->err_pending = 1;
    snprintf(in->err, sizeof in->err, "%s: byte %zu: %s", in->path, offset, what);
}

/* Moves the window on: keeps the bytes from the reader's position, reads as many more as fit.
 * Returns 0, or -1 after reporting a read error as damage. */
static int rec_fill(input_t *in)
{
    size_t from = in->rr.pos, keep = in->win_len - from;
    memmove(in->win, in->win + from, keep);
    size_t n = keep;
    while (n < WIN_CAP && !in->win_eof) {
        size_t got = fread(in->win + n, 1, WIN_CAP - n, in->fp);
        n += got;
        if (got == 0) {
            if (ferror(in->fp)) {
                char what[128];
                snprintf(what, sizeof what, "read error: %s", strerror(errno));
                rec_damage(in, in->rr.base + from + n, what);
                return -1;
            }
            in->win_eof = 1;
        }
    }
    in->win_len = n;
    rec_reader_rebase(&in->rr, in->win, n, in->rr.base + from);
    return 0;
}

/* Keeps, in place, the samples of v[0..n) that advance in time: each one later than the last
 * kept (the previous frames' included); a frame overlapping what was already queued is trimmed.
 * Returns the count kept. The usual frame (all later than the last, strictly increasing) is
 * kept whole: with strict (times_increase) after one comparison, else after one per sample;
 * anything else takes the sample-by-sample rule. */
static unsigned keep_advancing(input_t *in, int foot, dsp_sample_t *v, unsigned n, int strict)
{
    if (strict && n && (!in->have_last[foot] || v[0].t > in->last_t[foot])) {
        /* times that provably increase (times_increase), the first after the last kept */
        in->last_t[foot] = v[n - 1].t;
        in->have_last[foot] = 1;
        return n;
    }
    unsigned i = 0;
    if (in->have_last[foot])
        while (i < n && !(v[i].t > in->last_t[foot]))
            i++;
    unsigned j = i + 1;
    while (j < n && v[j].t > v[j - 1].t)
        j++;
    if (j >= n) { /* v[i..n) strictly increasing, v[i] after the last */
        unsigned k = n - i;
        if (k && i)
            memmove(v, v + i, k * sizeof *v);
        if (k) {
            in->last_t[foot] = v[k - 1].t;
            in->have_last[foot] = 1;
        }
        return k;
    }
    unsigned k = 0;
    for (i = 0; i < n; i++) {
        if (in->have_last[foot] && !(v[i].t > in->last_t[foot]))
            continue; /* a frame overlapping what was already queued: keep time order */
        if (k != i)
            v[k] = v[i];
        in->last_t[foot] = v[k].t;
        in->have_last[foot] = 1;
        k++;
    }
    return k;
}

/* Reads one record into the foot queues; sets rec_done at the end or on damage. */
static void rec_read_one(input_t *in)
{
    uint8_t pod;
    const uint8_t *frame;
    size_t flen;
    size_t want = rec_reader_want(&in->rr);
    if (want && in->win_len - in->rr.pos < want && !in->win_eof && rec_fill(in) < 0)
        return;
    int rc = rec_reader_next(&in->rr, &pod, &frame, &flen);
    if (rc == 0) {
        in->rec_done = 1;
        return;
    }
    if (rc < 0) {
        rec_damage(in, in->rr.error_offset, in->rr.error_msg);
        return;
    }
    size_t rec_off = in->rr.base + (size_t)(frame - in->win) - REC_RECORD_OVERHEAD;
    int foot = in->pod_foot[pod]; /* pod < n_pods: checked by the reader */
    if (foot < 0)
        return;
    size_t used = 0;
    /* the reader's chunk pass verified this frame's CRC (rec.h): no second pass over it; the
     * samples are converted from the frame's bytes (no copy into in->msg) */
    const uint8_t *raw;
    int drc = pod_decode_ref(frame, flen, rec_reader_frame_verified(&in->rr), &in->msg, &raw,
                             &used);
    char what[160];
    if (drc < 0 || used != flen) {
        snprintf(what, sizeof what, "record of pod %u: bad pod frame: %s", (unsigned)pod,
                 drc < 0 ? proto_strerror(drc) : "bytes after the frame");
        rec_damage(in, rec_off, what);
        return;
    }
    if (in->msg.type != POD_MSG_SAMPLES)
        return; /* replies stored alongside the samples carry no samples */
    sample_queue_t *q = &in->q[foot];
    if (queue_reserve(q, POD_MAX_SAMPLES) < 0) {
        rec_damage(in, rec_off, "out of memory");
        return;
    }
    /* converted in place at the queue's tail; samples that do not advance in time are dropped */
    dsp_sample_t *v = q->v + q->tail;
    int strict;
    unsigned n = frame_convert(&in->hdr.pods[pod], 0, &in->msg.u.samples, raw, v, &strict);
    q->tail += keep_advancing(in, foot, v, n, strict);
}

static int rec_want_more(const input_t *in)
{
    size_t total = queue_size(&in->q[0]) + queue_size(&in->q[1]);
    if (total >= QUEUE_LIMIT)
        return 0;
    for (int f = 0; f < 2; f++)
        if (in->present[f] && queue_size(&in->q[f]) == 0)
            return 1;
    return total == 0;
}

/* rec_next's general case (a queue to fill, one foot only, the end, damage): out of line, so
 * that the common case in input_next_ref stays a few instructions. */
__attribute__((noinline)) static int rec_next(input_t *in, int *foot, const dsp_sample_t **s,
                                              char *err, size_t errcap)
{
    size_t n0 = queue_size(&in->q[0]), n1 = queue_size(&in->q[1]);
    /* fast path: every present foot has a queued sample, so rec_want_more would say no */
    if (!((n0 || !in->present[0]) && (n1 || !in->present[1]) && (n0 || n1))) {
        while (!in->rec_done && rec_want_more(in))
            rec_read_one(in);
        n0 = queue_size(&in->q[0]);
        n1 = queue_size(&in->q[1]);
    }
    /* the earliest head; ties: L before R */
    int f = n0 ? 0 : (n1 ? 1 : -1);
    if (n0 && n1 && in->q[1].v[in->q[1].head].t < in->q[0].v[in->q[0].head].t)
        f = 1;
    if (f >= 0) {
        *foot = f;
        *s = &in->q[f].v[in->q[f].head++]; /* stays valid until the next rec_read_one */
        if (in->q[f].head == in->q[f].tail)
            in->q[f].head = in->q[f].tail = 0;
        return 1;
    }
    if (in->err_pending) {
        in->err_pending = 0;
        in->damaged = 1;
        put_err(err, errcap, "%s", in->err);
        return -1;
    }
    return 0;
}

static int rec_load(input_t *in, char *err, size_t errcap)
{
    int rc = rec_reader_open(&in->rr, in->win, in->win_len, &in->hdr);
    if (rc < 0) {
        put_err(err, errcap, "%s: byte %zu: %s", in->path, in->rr.error_offset, in->rr.error_msg);
        return -1;
    }
    if (!in->hdr.athlete[0])
        athlete_from_path(in->path, in->hdr.athlete, sizeof in->hdr.athlete);
    for (int i = 0; i < REC_MAX_PODS; i++)
        in->pod_foot[i] = -1;
    for (unsigned i = 0; i < in->hdr.n_pods; i++) {
        int f = in->hdr.pods[i].foot == POD_FOOT_LEFT ? DSP_LEFT : DSP_RIGHT;
        if (!in->present[f]) { /* the first pod of each foot is used */
            in->present[f] = 1;
            in->pod_foot[i] = f;
        }
    }
    return 0;
}

/* Opens the file and reads its first WIN_CAP bytes (format sniffing; the start of a recording).
 * Returns 0 or -1 with a message. */
static int rec_open_window(input_t *in, char *err, size_t errcap)
{
    in->fp = fopen(in->path, "rb");
    if (!in->fp) {
        put_err(err, errcap, "%s: cannot open: %s", in->path, strerror(errno));
        return -1;
    }
    in->win = malloc(WIN_CAP);
    if (!in->win) {
        put_err(err, errcap, "%s: out of memory", in->path);
        return -1;
    }
    while (in->win_len < WIN_CAP && !in->win_eof) {
        size_t got = fread(in->win + in->win_len, 1, WIN_CAP - in->win_len, in->fp);
        in->win_len += got;
        if (got == 0) {
            if (ferror(in->fp)) {
                put_err(err, errcap, "%s: read error: %s", in->path, strerror(errno));
                return -1;
            }
            in->win_eof = 1;
        }
    }
    return 0;
}

/* ---- public ---- */

input_t *input_open(const char *path, double rate_override_hz, char *err, size_t errcap)
{
    input_t *in = calloc(1, sizeof *in);
    if (!in) {
        put_err(err, errcap, "%s: out of memory", path);
        return NULL;
    }
    in->path = strdup(path);
    if (!in->path) {
        put_err(err, errcap, "%s: out of memory", path);
        free(in);
        return NULL;
    }
    int rc = rec_open_window(in, err, errcap);
    if (rc == 0 && rec_is_recording(in->win, in->win_len)) {
        in->format = INPUT_RECORDING;
        rc = rec_load(in, err, errcap);
    } else if (rc == 0) {
        in->format = INPUT_CSV;
        fclose(in->fp);
        in->fp = NULL;
        free(in->win);
        in->win = NULL;
        rc = read_file(path, &in->data, &in->len, err, errcap);
        if (rc == 0)
            rc = csv_load(in, rate_override_hz, err, errcap);
    }
    if (rc < 0) {
        input_free(&in);
        return NULL;
    }
    return in;
}

void input_free(input_t **inp)
{
    if (!inp || !*inp)
        return;
    input_t *in = *inp;
    free(in->path);
    free(in->data);
    free(in->win);
    if (in->fp)
        fclose(in->fp);
    for (int f = 0; f < 2; f++) {
        free(in->smp[f]);
        free(in->q[f].v);
    }
    free(in->errs);
    free(in);
    *inp = NULL;
}

int input_format(const input_t *in)
{
    return in->format;
}

const rec_header_t *input_header(const input_t *in)
{
    return &in->hdr;
}

int input_next_ref(input_t *in, int *foot, const dsp_sample_t **s, char *err, size_t errcap)
{
    if (in->format == INPUT_CSV)
        return csv_next(in, foot, s, err, errcap);
    /* per sample: both feet have queued samples (rec_next would read nothing): the earlier
     * head, ties L before R, exactly as rec_next */
    sample_queue_t *q0 = &in->q[0], *q1 = &in->q[1];
    if (q0->head < q0->tail && q1->head < q1->tail) {
        int f = q1->v[q1->head].t < q0->v[q0->head].t;
        sample_queue_t *q = f ? q1 : q0;
        *foot = f;
        *s = &q->v[q->head++]; /* stays valid until the next rec_read_one */
        if (q->head == q->tail)
            q->head = q->tail = 0;
        return 1;
    }
    return rec_next(in, foot, s, err, errcap);
}

int input_next_refs(input_t *in, int *foot, const dsp_sample_t **s, unsigned max, char *err,
                    size_t errcap)
{
    if (in->format == INPUT_RECORDING) {
        /* input_next_ref's per-sample case, repeated while it holds: no record is read, so every
         * pointer handed out stays valid; an emptied queue is reset afterwards, as there */
        sample_queue_t *q0 = &in->q[0], *q1 = &in->q[1];
        unsigned n = 0;
        if (max && q0->head < q0->tail && q1->head < q1->tail) {
            /* a merge with the queue positions in locals (the stores through foot and s could
             * alias the queues' fields, which would be reloaded), in runs of k steps that
             * cannot empty a queue before the last: no end test per sample */
            const dsp_sample_t *a = q0->v + q0->head, *a_end = q0->v + q0->tail;
            const dsp_sample_t *b = q1->v + q1->head, *b_end = q1->v + q1->tail;
            int *fo = foot;
            const dsp_sample_t **so = s;
            for (;;) {
                size_t k = max - n, ka = (size_t)(a_end - a), kb = (size_t)(b_end - b);
                k = k < ka ? k : ka;
                k = k < kb ? k : kb;
                n += (unsigned)k;
                for (const dsp_sample_t **stop = so + k; so != stop;) {
                    if (b->t < a->t) { /* the right foot's sample first; ties: left first */
                        *fo++ = 1;
                        *so++ = b++;
                    } else {
                        *fo++ = 0;
                        *so++ = a++;
                    }
                }
                if (a == a_end || b == b_end || n == max)
                    break;
            }
            q0->head = (size_t)(a - q0->v);
            q1->head = (size_t)(b - q1->v);
        }
        for (int k = 0; k < 2; k++)
            if (in->q[k].head == in->q[k].tail)
                in->q[k].head = in->q[k].tail = 0;
        if (n)
            return (int)n;
    }
    return input_next_ref(in, foot, s, err, errcap); /* one sample, the end, or damage */
}

int input_next(input_t *in, int *foot, dsp_sample_t *s, char *err, size_t errcap)
{
    const dsp_sample_t *r = NULL;
    int rc = input_next_ref(in, foot, &r, err, errcap);
    if (rc == 1)
        *s = *r;
    return rc;
}

int input_damaged(const input_t *in)
{
    return in->damaged;
}
