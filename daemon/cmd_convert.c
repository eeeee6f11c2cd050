/* cmd_convert.c - gaitctl convert [--rate HZ] IN OUT: gait CSV v1 <-> .gaitrec
 * (../shared/CONTRACT.md). IN's format is detected from its content (daemon/input.c), OUT's
 * from its extension. Samples go through the same reader as analyze and replay.
 *
 * To .gaitrec: each foot becomes one pod (its header entry: rate, ranges, calibration of the
 * input; CSV: 16 g / 2000 deg/s, serial csv-L / csv-R, source "csv-import"). Samples are
 * quantised with dsp_si_to_raw and packed in frames of up to FRAME_SAMPLES; a frame is closed
 * early when the next sample's time is not where the frame's rate puts it (a gap or jitter), so
 * every time survives to the microsecond. t_dev_us counts from the foot's first sample and
 * clock_offset_us holds that first time, so absolute times are kept. Frames go into chunks of
 * about CHUNK_TARGET bytes; the file is written once everything is known (header first).
 * To .csv: comment lines describing the header, GCSV_HEADER, rows in time order (ties L, R).
 * Exit: 0 ok, 1 unusable or damaged input (what is good is still converted) or write error,
 * 2 bad usage.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "gaitctl.h"
#include "gcsv.h"
#include "input.h"
#include "pod.h"
#include "proto.h"
#include "rec.h"

#define FRAME_SAMPLES 100
#define CHUNK_TARGET (64u * 1024u)
#define TIME_TOL_S 0.5e-6

typedef struct bytes {
    uint8_t *p;
    size_t n, cap;
} bytes_t;

static int bytes_add(bytes_t *b, const uint8_t *d, size_t n)
{
    if (b->cap - b->n < n) {
        size_t nc = b->cap ? b->cap : 1 << 16;
        while (nc - b->n < n)
            nc *= 2;
        uint8_t *p = realloc(b->p, nc);
        if (!p)
            return -1;
        b->p = p;
        b->cap = nc;
    }
    memcpy(b->p + b->n, d, n);
    b->n += n;
    return 0;
}

/* State of the .gaitrec writer: one frame being filled per foot. */
typedef struct rec_out {
    rec_header_t hdr;
    int pod_of_foot[2]; /* index in hdr.pods, -1 if the foot has no pod */
    int have_first[2];
    pod_msg_t frame[2]; /* frame[f].u.samples.n == 0: none open */
    uint32_t seq[2];
    uint64_t clipped; /* samples that hit a rail of the pod's range */
    rec_chunk_t *chunk;
    bytes_t body; /* sealed chunks */
    uint8_t enc[POD_MAX_FRAME];
} rec_out_t;

static int seal_chunk(rec_out_t *w)
{
    size_t len;
    const uint8_t *blk = rec_chunk_finish(w->chunk, &len);
    if (bytes_add(&w->body, blk, len) < 0)
        return -1;
    rec_chunk_init(w->chunk, w->chunk->index + 1);
    return 0;
}

static int flush_frame(rec_out_t *w, int foot)
{
    pod_msg_t *m = &w->frame[foot];
    if (m->u.samples.n == 0)
        return 0;
    m->u.samples.seq = w->seq[foot]++;
    size_t len;
    int rc = pod_encode(m, w->enc, sizeof w->enc, &len);
    if (rc < 0)
        return rc;
    if (rec_chunk_payload(w->chunk) > 0 &&
        rec_chunk_payload(w->chunk) + REC_RECORD_OVERHEAD + len > CHUNK_TARGET)
        if (seal_chunk(w) < 0)
            return PROTO_ERR_NOMEM;
    rc = rec_chunk_add(w->chunk, (uint8_t)w->pod_of_foot[foot], w->enc, len);
    m->u.samples.n = 0;
    return rc;
}

static dsp_calib_t pod_calib(const rec_pod_t *p)
{
    dsp_calib_t c;
    memcpy(c.acc_bias, p->acc_bias, sizeof c.acc_bias);
    memcpy(c.acc_scale, p->acc_scale, sizeof c.acc_scale);
    memcpy(c.gyr_bias, p->gyr_bias, sizeof c.gyr_bias);
    return c;
}

static int rec_out_sample(rec_out_t *w, int foot, const dsp_sample_t *s)
{
    int pi = w->pod_of_foot[foot];
    if (pi < 0)
        return 0;
    rec_pod_t *pod = &w->hdr.pods[pi];
    int64_t t_us = llround(s->t * 1e6);
    if (!w->have_first[foot]) {
        w->have_first[foot] = 1;
        pod->clock_offset_us = t_us;
    }
    pod_samples_t *f = &w->frame[foot].u.samples;
    if (f->n > 0) {
        double base_us = (double)((int64_t)f->t_dev_us + pod->clock_offset_us);
        double pred = (base_us + f->n * (1e6 / f->rate_hz)) * 1e-6;
        if (f->n >= FRAME_SAMPLES || fabs(pred - s->t) > TIME_TOL_S) {
            int rc = flush_frame(w, foot);
            if (rc < 0)
                return rc;
        }
    }
    if (f->n == 0) {
        w->frame[foot].type = POD_MSG_SAMPLES;
        int64_t rel = t_us - pod->clock_offset_us;
        f->t_dev_us = rel > 0 ? (uint64_t)rel : 0; /* samples of a foot only go forward */
        f->rate_hz = pod->rate_hz;
        f->acc_range_g = pod->acc_range_g;
        f->gyr_range_dps = pod->gyr_range_dps;
        f->run_id = 0;
    }
    dsp_calib_t cal = pod_calib(pod);
    int16_t *raw = f->s[f->n];
    dsp_si_to_raw(s, f->acc_range_g, f->gyr_range_dps, &cal, raw);
    for (int k = 0; k < 6; k++)
        if (raw[k] == INT16_MAX || raw[k] == INT16_MIN) {
            w->clipped++;
            break;
        }
    f->n++;
    return 0;
}

/* Header of the output recording: one pod per foot present in the input. */
static void rec_out_init(rec_out_t *w, const input_t *in)
{
    const rec_header_t *ih = input_header(in);
    w->hdr = *ih;
    w->hdr.n_pods = 0;
    if (input_format(in) == INPUT_CSV)
        snprintf(w->hdr.source, sizeof w->hdr.source, "csv-import");
    w->pod_of_foot[0] = w->pod_of_foot[1] = -1;
    for (unsigned i = 0; i < ih->n_pods && w->hdr.n_pods < 2; i++) {
        int f = ih->pods[i].foot == POD_FOOT_LEFT ? DSP_LEFT : DSP_RIGHT;
        if (w->pod_of_foot[f] >= 0)
            continue;
        w->pod_of_foot[f] = w->hdr.n_pods;
        w->hdr.pods[w->hdr.n_pods] = ih->pods[i];
        w->hdr.pods[w->hdr.n_pods].clock_offset_us = 0;
        w->hdr.n_pods++;
    }
}

static int write_all(const char *path, const uint8_t *a, size_t na, const uint8_t *b, size_t nb)
{
    FILE *f = fopen(path, "wb");
    if (!f) {
        fprintf(stderr, "gaitctl convert: %s: cannot create: %s\n", path, strerror(errno));
        return -1;
    }
    int ok = fwrite(a, 1, na, f) == na && (nb == 0 || fwrite(b, 1, nb, f) == nb);
    if (fclose(f) != 0)
        ok = 0;
    if (!ok) {
        fprintf(stderr, "gaitctl convert: %s: write error: %s\n", path, strerror(errno));
        return -1;
    }
    return 0;
}

/* Reads every sample of in into a recording at out_path. Returns 0, 1 (damaged input) or -1. */
static int convert_to_rec(input_t *in, const char *in_path, const char *out_path)
{
    int damaged = 0, status = -1;
    char err[512];
    rec_out_t *w = calloc(1, sizeof *w);
    if (!w || !(w->chunk = malloc(sizeof *w->chunk))) {
        fprintf(stderr, "gaitctl convert: out of memory\n");
        goto out;
    }
    rec_out_init(w, in);
    rec_chunk_init(w->chunk, 0);
    int foot, rc;
    dsp_sample_t s;
    while ((rc = input_next(in, &foot, &s, err, sizeof err)) != 0) {
        if (rc < 0) {
            fprintf(stderr, "gaitctl convert: %s\n", err);
            damaged = 1;
            continue;
        }
        rc = rec_out_sample(w, foot, &s);
        if (rc < 0) {
            fprintf(stderr, "gaitctl convert: %s: t=%.6f: cannot encode: %s\n", in_path, s.t,
                    proto_strerror(rc));
            goto out;
        }
    }
    for (int f = 0; f < 2; f++)
        if (flush_frame(w, f) < 0) {
            fprintf(stderr, "gaitctl convert: cannot encode the last frame\n");
            goto out;
        }
    if (rec_chunk_payload(w->chunk) > 0 && seal_chunk(w) < 0) {
        fprintf(stderr, "gaitctl convert: out of memory\n");
        goto out;
    }
    if (w->clipped)
        fprintf(stderr,
                "gaitctl convert: %s: warning: %llu samples at the limit of the pod range "
                "(clipped)\n",
                in_path, (unsigned long long)w->clipped);
    uint8_t hbuf[REC_MAX_HEADER + 32];
    size_t hlen;
    rc = rec_header_encode(&w->hdr, hbuf, sizeof hbuf, &hlen);
    if (rc < 0) {
        fprintf(stderr, "gaitctl convert: %s: cannot encode the recording header: %s\n", in_path,
                proto_strerror(rc));
        goto out;
    }
    if (write_all(out_path, hbuf, hlen, w->body.p, w->body.n) < 0)
        goto out;
    status = damaged;
out:
    if (w) {
        free(w->chunk);
        free(w->body.p);
        free(w);
    }
    return status;
}

static int convert_to_csv(input_t *in, const char *out_path)
{
    FILE *f = fopen(out_path, "w");
    if (!f) {
        fprintf(stderr, "gaitctl convert: %s: cannot create: %s\n", out_path, strerror(errno));
        return -1;
    }
    const rec_header_t *h = input_header(in);
    fprintf(f, "# gait CSV v1 (gaitctl convert)\n# athlete: %s\n# source: %s\n", h->athlete,
            h->source);
    if (h->start_unix_us)
        fprintf(f, "# start_unix_us: %lld\n", (long long)h->start_unix_us);
    for (unsigned i = 0; i < h->n_pods; i++)
        fprintf(f, "# pod %c: serial %s, %u Hz, +-%u g, +-%u deg/s\n", h->pods[i].foot,
                h->pods[i].serial, (unsigned)h->pods[i].rate_hz, (unsigned)h->pods[i].acc_range_g,
                (unsigned)h->pods[i].gyr_range_dps);
    fprintf(f, "%s\n", GCSV_HEADER);
    int damaged = 0, foot, rc;
    dsp_sample_t s;
    char err[512], line[256];
    while ((rc = input_next(in, &foot, &s, err, sizeof err)) != 0) {
        if (rc < 0) {
            fprintf(stderr, "gaitctl convert: %s\n", err);
            damaged = 1;
            continue;
        }
        gcsv_row_t row = {.t = s.t, .foot = foot == DSP_LEFT ? 'L' : 'R'};
        for (int k = 0; k < 3; k++) {
            row.acc[k] = s.acc[k];
            row.gyr[k] = s.gyr[k];
        }
        int n = gcsv_format_row(&row, line, sizeof line);
        if (n > 0)
            fwrite(line, 1, (size_t)n, f);
    }
    int werr = ferror(f);
    if (fclose(f) != 0 || werr) {
        fprintf(stderr, "gaitctl convert: %s: write error\n", out_path);
        return -1;
    }
    return damaged;
}

static const char *extension(const char *path)
{
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    const char *dot = strrchr(base, '.');
    return dot ? dot : "";
}

static int usage(const char *msg)
{
    if (msg)
        fprintf(stderr, "gaitctl convert: %s\n", msg);
    fprintf(stderr, "usage: gaitctl convert [--rate HZ] IN OUT\n"
                    "  IN: gait CSV v1 or .gaitrec (detected from content)\n"
                    "  OUT: FILE.csv or FILE.gaitrec (format from the extension)\n");
    return 2;
}

int cmd_convert(int argc, char **argv)
{
    double rate = 0;
    const char *paths[2];
    int np = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            usage(NULL);
            return 0;
        }
        if (!strcmp(argv[i], "--rate")) {
            if (i + 1 >= argc)
                return usage("--rate needs a value");
            char *end;
            rate = strtod(argv[++i], &end);
            if (*end != '\0' || !(rate >= 50 && rate <= 2000))
                return usage("--rate: expected a number of Hz in 50..2000");
            continue;
        }
        if (argv[i][0] == '-' && argv[i][1] != '\0')
            return usage("unknown option");
        if (np == 2)
            return usage("too many arguments");
        paths[np++] = argv[i];
    }
    if (np != 2)
        return usage("expected IN and OUT");
    const char *ext = extension(paths[1]);
    int to_rec;
    if (!strcmp(ext, ".gaitrec"))
        to_rec = 1;
    else if (!strcmp(ext, ".csv"))
        to_rec = 0;
    else
        return usage("OUT must end in .csv or .gaitrec");

    char err[512];
    input_t *in = input_open(paths[0], rate, err, sizeof err);
    if (!in) {
        fprintf(stderr, "gaitctl convert: %s\n", err);
        return 1;
    }
    int rc = to_rec ? convert_to_rec(in, paths[0], paths[1]) : convert_to_csv(in, paths[1]);
    input_free(&in);
    return rc == 0 ? 0 : 1;
}
