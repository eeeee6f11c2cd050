/* gen_seeds.c - writes the seed corpora of the fuzz targets from real encodings.
 *
 *     fuzz_gen_seeds DIR      (e.g. tests/fuzz/corpus; creates DIR/<target>/<seed>)
 * Every frame, header and chunk is made by the project's encoders (pod_encode, rec_header_encode,
 * rec_chunk_*, gcsv_format_row), so the seeds follow the formats exactly; a few damaged variants
 * (cut, bit flip, garbage between frames) start the fuzzer near the resync and error paths.
 * Deterministic: running it again rewrites the same bytes. Seeds stay small (< 8 KiB each).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "gcsv.h"
#include "pod.h"
#include "proto.h"
#include "rec.h"

static const char *root;

static void die(const char *what)
{
    fprintf(stderr, "fuzz_gen_seeds: %s\n", what);
    exit(1);
}

static void put(const char *target, const char *name, const void *data, size_t len)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", root, target);
    if (mkdir(path, 0777) != 0 && errno != EEXIST)
        die(path);
    snprintf(path, sizeof path, "%s/%s/%s", root, target, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, len, f) != len || fclose(f) != 0)
        die(path);
}

static void put_str(const char *target, const char *name, const char *s)
{
    put(target, name, s, strlen(s));
}

/* ---- pod frames ---- */

static size_t encode(const pod_msg_t *m, uint8_t *buf, size_t cap)
{
    size_t len = 0;
    if (pod_encode(m, buf, cap, &len) != 0)
        die("pod_encode failed");
    return len;
}

static void samples_msg(pod_msg_t *m, uint32_t seq, unsigned n, uint32_t run_id)
{
    memset(m, 0, sizeof *m);
    m->type = POD_MSG_SAMPLES;
    m->u.samples.seq = seq;
    m->u.samples.t_dev_us = 1000000ull + (uint64_t)seq * n * 2000u;
    m->u.samples.rate_hz = 500;
    m->u.samples.acc_range_g = 16;
    m->u.samples.gyr_range_dps = 2000;
    m->u.samples.n = (uint16_t)n;
    m->u.samples.run_id = run_id;
    for (unsigned i = 0; i < n; i++)
        for (int k = 0; k < 6; k++)
            m->u.samples.s[i][k] = (int16_t)((int)(seq * 37 + i * 11 + (unsigned)k * 1000) % 32768 -
                                             (k < 3 ? 0 : 16000));
}

/* One message of every type; returns how many were written to msgs. */
static int all_messages(pod_msg_t *msgs)
{
    int n = 0;
    pod_msg_t *m;
    m = &msgs[n++], memset(m, 0, sizeof *m), m->type = POD_CMD_IDENTIFY;
    m = &msgs[n++], memset(m, 0, sizeof *m), m->type = POD_CMD_CLOCK_SYNC;
    m->u.clock.host_us = 1764370000123456ull;
    m = &msgs[n++], memset(m, 0, sizeof *m), m->type = POD_CMD_START_STREAM;
    m = &msgs[n++], memset(m, 0, sizeof *m), m->type = POD_CMD_STOP_STREAM;
    m = &msgs[n++], memset(m, 0, sizeof *m), m->type = POD_CMD_LIST_RUNS;
    m = &msgs[n++], memset(m, 0, sizeof *m), m->type = POD_CMD_READ_RUN;
    m->u.read_run.run_id = 3, m->u.read_run.first_frame = 120;
    m = &msgs[n++], memset(m, 0, sizeof *m), m->type = POD_CMD_ERASE_RUN;
    m->u.run_id = 3;
    m = &msgs[n++], memset(m, 0, sizeof *m), m->type = POD_REP_IDENTIFY;
    strcpy(m->u.identify.serial, "GP1-0001");
    m->u.identify.foot = POD_FOOT_LEFT;
    m->u.identify.fw_major = 1, m->u.identify.fw_minor = 2, m->u.identify.fw_patch = 3;
    m->u.identify.rate_hz = 500, m->u.identify.acc_range_g = 16;
    m->u.identify.gyr_range_dps = 2000;
    m = &msgs[n++], memset(m, 0, sizeof *m), m->type = POD_REP_CLOCK_SYNC;
    m->u.clock.host_us = 1764370000123456ull, m->u.clock.pod_us = 987654321ull;
    m = &msgs[n++], memset(m, 0, sizeof *m), m->type = POD_REP_ACK;
    m->u.ack.cmd = POD_CMD_START_STREAM, m->u.ack.status = POD_ST_OK;
    m = &msgs[n++], memset(m, 0, sizeof *m), m->type = POD_REP_ACK;
    m->u.ack.cmd = POD_CMD_ERASE_RUN, m->u.ack.status = POD_ST_NOT_READ;
    m = &msgs[n++], memset(m, 0, sizeof *m), m->type = POD_REP_RUNS;
    m->u.runs.n = 3;
    for (uint32_t i = 0; i < 3; i++) {
        m->u.runs.runs[i].run_id = i + 1;
        m->u.runs.runs[i].start_unix_us = 1764370000000000ull + i * 3600000000ull;
        m->u.runs.runs[i].n_frames = 100 * (i + 1);
        m->u.runs.runs[i].crc32 = 0xDEADBEEFu ^ i;
    }
    m = &msgs[n++], memset(m, 0, sizeof *m), m->type = POD_REP_RUN_END;
    m->u.run_end.run_id = 3, m->u.run_end.n_frames = 300, m->u.run_end.crc32 = 0x12345678u;
    samples_msg(&msgs[n++], 7, 1, 0);
    samples_msg(&msgs[n++], 8, 10, 0);
    samples_msg(&msgs[n++], 0xFFFFFFFFu, 25, 2);
    return n;
}

static void gen_pod_decode(void)
{
    static pod_msg_t msgs[32];
    static uint8_t buf[POD_MAX_FRAME];
    int n = all_messages(msgs);
    for (int i = 0; i < n; i++) {
        size_t len = encode(&msgs[i], buf, sizeof buf);
        char name[64];
        snprintf(name, sizeof name, "%02d_%s", i, pod_msg_name(msgs[i].type));
        put("pod_decode", name, buf, len);
    }
    pod_msg_t big;
    samples_msg(&big, 1, POD_MAX_SAMPLES, 0);
    put("pod_decode", "20_samples_max", buf, encode(&big, buf, sizeof buf));
}

/* ---- stream ---- */

typedef struct bytes {
    uint8_t b[16384];
    size_t n;
} bytes_t;

static void add(bytes_t *s, const void *p, size_t n)
{
    if (s->n + n > sizeof s->b)
        die("seed too big");
    memcpy(s->b + s->n, p, n);
    s->n += n;
}

static void add_msg(bytes_t *s, const pod_msg_t *m)
{
    uint8_t buf[POD_MAX_FRAME];
    add(s, buf, encode(m, buf, sizeof buf));
}

static void add_samples(bytes_t *s, uint32_t seq, unsigned n, uint32_t run)
{
    pod_msg_t m;
    samples_msg(&m, seq, n, run);
    add_msg(s, &m);
}

static void gen_pod_stream(void)
{
    static pod_msg_t msgs[32];
    static bytes_t s;
    int n = all_messages(msgs);
    /* byte 0 of each seed is the split seed of the target */
    s.n = 0, add(&s, "\x01", 1);
    for (int i = 0; i < n; i++)
        add_msg(&s, &msgs[i]);
    put("pod_stream", "all_types", s.b, s.n);

    /* clean live stream, then gap, duplicate, out of order, start-stream ack reset */
    s.n = 0, add(&s, "\x07", 1);
    for (uint32_t q = 100; q < 105; q++)
        add_samples(&s, q, 8, 0);
    add_samples(&s, 108, 8, 0); /* gap of 3 */
    add_samples(&s, 108, 8, 0); /* duplicate */
    add_samples(&s, 106, 8, 0); /* out of order (never delivered) */
    add_samples(&s, 107, 8, 0);
    pod_msg_t ack;
    memset(&ack, 0, sizeof ack);
    ack.type = POD_REP_ACK, ack.u.ack.cmd = POD_CMD_START_STREAM;
    add_msg(&s, &ack);
    add_samples(&s, 0, 8, 0);
    add_samples(&s, 1, 8, 0);
    put("pod_stream", "seq_events", s.b, s.n);

    /* garbage, a false sync, a frame with a bad CRC, a frame cut by the end */
    s.n = 0, add(&s, "\x33", 1);
    add(&s, "\x00\x11\xA5\x22\xA5\x5A\x01", 7);
    add_samples(&s, 1, 4, 0);
    size_t at = s.n;
    add_samples(&s, 2, 4, 0);
    s.b[at + 20] ^= 0x40; /* CRC mismatch */
    add(&s, "\xA5\x5A\xFF\xFF", 4);
    add_samples(&s, 3, 4, 0);
    at = s.n;
    add_samples(&s, 4, 4, 0);
    s.n = at + 30; /* cut */
    put("pod_stream", "damage", s.b, s.n);

    /* wrap-around of seq and a stored run followed by RUN_END */
    s.n = 0, add(&s, "\x80", 1);
    add_samples(&s, 0xFFFFFFFEu, 2, 0);
    add_samples(&s, 0xFFFFFFFFu, 2, 0);
    add_samples(&s, 0, 2, 0);
    add_samples(&s, 0, 3, 5);
    add_samples(&s, 1, 3, 5);
    add_msg(&s, &msgs[12]); /* RUN_END */
    add_samples(&s, 0, 3, 6);
    put("pod_stream", "wrap_and_runs", s.b, s.n);
}

/* ---- recordings ---- */

static void make_header(rec_header_t *h, int n_pods)
{
    rec_header_init(h);
    strcpy(h->athlete, "Jürgen Läufer");
    strcpy(h->source, "usb-live");
    h->start_unix_us = 1764370000123456ll;
    h->n_pods = (uint8_t)n_pods;
    for (int p = 0; p < n_pods; p++) {
        rec_pod_t *pod = &h->pods[p];
        snprintf(pod->serial, sizeof pod->serial, "GP1-%04d", p + 1);
        pod->foot = (p % 2) ? 'R' : 'L';
        pod->rate_hz = 500;
        pod->acc_range_g = 16;
        pod->gyr_range_dps = 2000;
        for (int k = 0; k < 3; k++) {
            pod->acc_bias[k] = 0.01f * (float)(k + 1);
            pod->acc_scale[k] = 1.0f + 0.001f * (float)k;
            pod->gyr_bias[k] = -0.5f * (float)k;
        }
        pod->clock_offset_us = 1764370000000000ll + p * 1000;
    }
}

/* header + n_chunks chunks of per_chunk sample frames alternating between the pods. */
static void make_recording(bytes_t *s, int n_pods, int n_chunks, int per_chunk)
{
    static rec_chunk_t c;
    rec_header_t h;
    make_header(&h, n_pods);
    size_t len;
    s->n = 0;
    if (rec_header_encode(&h, s->b, sizeof s->b, &len) != 0)
        die("rec_header_encode failed");
    s->n = len;
    uint32_t seq[REC_MAX_PODS] = {0};
    for (int ci = 0; ci < n_chunks; ci++) {
        rec_chunk_init(&c, (uint32_t)ci);
        for (int r = 0; r < per_chunk; r++) {
            int p = r % n_pods;
            pod_msg_t m;
            samples_msg(&m, seq[p]++, 5, 0);
            m.u.samples.t_dev_us = 1000000ull + (uint64_t)(seq[p] - 1) * 5 * 2000u;
            uint8_t frame[POD_MAX_FRAME];
            size_t fl = encode(&m, frame, sizeof frame);
            if (rec_chunk_add(&c, (uint8_t)p, frame, fl) != 0)
                die("rec_chunk_add failed");
        }
        if (ci == 0 && n_pods > 0) { /* an IDENTIFY reply stored with the samples */
            pod_msg_t id;
            memset(&id, 0, sizeof id);
            id.type = POD_REP_IDENTIFY;
            strcpy(id.u.identify.serial, "GP1-0001");
            id.u.identify.foot = 'L';
            id.u.identify.rate_hz = 500, id.u.identify.acc_range_g = 16;
            id.u.identify.gyr_range_dps = 2000;
            uint8_t frame[POD_MAX_FRAME];
            size_t fl = encode(&id, frame, sizeof frame);
            if (rec_chunk_add(&c, 0, frame, fl) != 0)
                die("rec_chunk_add failed");
        }
        size_t bl;
        const uint8_t *blk = rec_chunk_finish(&c, &bl);
        add(s, blk, bl);
    }
}

static void gen_rec(void)
{
    static bytes_t s;
    make_recording(&s, 2, 3, 6);
    put("rec", "two_pods", s.b, s.n);
    put("input", "two_pods.gaitrec", s.b, s.n);
    make_recording(&s, 4, 1, 8);
    put("rec", "four_pods", s.b, s.n);
    make_recording(&s, 1, 0, 0);
    put("rec", "header_only", s.b, s.n);
    make_recording(&s, 2, 2, 4);
    s.n -= 7;
    put("rec", "cut_chunk", s.b, s.n);
    put("input", "cut_chunk.gaitrec", s.b, s.n);
    make_recording(&s, 2, 2, 4);
    s.b[s.n - 40] ^= 0x01;
    put("rec", "bad_chunk_crc", s.b, s.n);
}

/* ---- gait CSV ---- */

static void gen_gcsv(void)
{
    gcsv_row_t r = {12.0, 'L', {0.12, -0.03, 9.79}, {0.4, -1.2, 0.1}};
    char line[512];
    if (gcsv_format_row(&r, line, sizeof line) < 0)
        die("gcsv_format_row failed");
    put_str("gcsv", "row", line);
    r.t = 1234.567891;
    r.foot = 'R';
    r.acc[0] = -156.9064;
    r.gyr[2] = 1999.99;
    gcsv_format_row(&r, line, sizeof line);
    put_str("gcsv", "row_r", line);
    put_str("gcsv", "header", GCSV_HEADER "\n");
    put_str("gcsv", "comment", "# gaitd gait CSV v1\n");
    put_str("gcsv", "crlf_spaces", " 0.002 , R ,1e-3,\t-2.5E+1,9.81,0,0,-0.0\r\n");
    put_str("gcsv", "seven_fields", "0.004,L,1,2,3,4,5\n");
    put_str("gcsv", "bad_foot", "0.004,X,1,2,3,4,5,6\n");
    put_str("gcsv", "nan", "0.004,L,nan,2,3,4,5,6\n");
    put_str("gcsv", "hex_and_exp", "0x1p-3,L,1e308,-1e-320,3,4,5,6");

    /* a small CSV file for the input target: both feet, a bad line, time going back */
    char file[8192];
    size_t n = 0;
    n += (size_t)snprintf(file + n, sizeof file - n, "# seed\n%s\n", GCSV_HEADER);
    for (int i = 0; i < 40; i++) {
        gcsv_row_t q = {i * 0.002, (i % 2) ? 'R' : 'L', {0.1 * i, -0.2, 9.8}, {i, -i, 0.5}};
        q.t = (i / 2) * 0.004;
        n += (size_t)gcsv_format_row(&q, file + n, sizeof file - n);
        if (i == 17)
            n += (size_t)snprintf(file + n, sizeof file - n, "0.1,L,1,2\n");
        if (i == 25)
            n += (size_t)snprintf(file + n, sizeof file - n, "0.001,L,1,2,3,4,5,6\n");
    }
    put("input", "small.csv", file, n);
}

/* ---- control requests ---- */

static void gen_control(void)
{
    put_str("control", "ping", "{\"cmd\":\"ping\"}");
    put_str("control", "echo", "{\"cmd\":\"echo\",\"x\":[1,2.5,-3e10,{\"a\":null,\"b\":true}],"
                               "\"s\":\"caf\\u00e9 \\ud83c\\udfc3\"}");
    put_str("control", "fail", "{\"cmd\":\"fail\"}");
    put_str("control", "status", "{\"cmd\":\"status\",\"athlete\":\"anna\"}");
    put_str("control", "no_cmd", "{\"command\":\"ping\"}");
    put_str("control", "cmd_not_string", "{\"cmd\":42}");
    put_str("control", "array", "[\"ping\"]");
    put_str("control", "duplicate_key", "{\"cmd\":\"ping\",\"cmd\":\"echo\"}");
    put_str("control", "truncated", "{\"cmd\":\"pi");
    put_str("control", "long_name",
            "{\"cmd\":\"abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz"
            "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz\"}");
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: fuzz_gen_seeds DIR\n");
        return 2;
    }
    root = argv[1];
    if (mkdir(root, 0777) != 0 && errno != EEXIST)
        die(root);
    gen_pod_decode();
    gen_pod_stream();
    gen_rec();
    gen_gcsv();
    gen_control();
    return 0;
}
