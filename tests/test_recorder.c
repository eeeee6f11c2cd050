/* test_recorder.c - daemon/recorder.c: file naming, header, records read back byte-exact with
 * the proto/rec.h reader, flush by size and by age, no overwriting, and a real write failure
 * (RLIMIT_FSIZE: write() fails with EFBIG) that leaves the file cut at its last complete chunk. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include "rec.h"
#include "recorder.h"

static char dir[256];

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/test_recorder.XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void header(rec_header_t *h, const char *athlete)
{
    rec_header_init(h);
    snprintf(h->athlete, sizeof h->athlete, "%s", athlete);
    snprintf(h->source, sizeof h->source, "simulator");
    h->start_unix_us = INT64_C(1795917863000000); /* 2026-11-29T02:04:23Z */
    h->n_pods = 2;
    for (int f = 0; f < 2; f++) {
        snprintf(h->pods[f].serial, sizeof h->pods[f].serial, "P%d", f);
        h->pods[f].foot = f ? 'R' : 'L';
        h->pods[f].rate_hz = 500;
        h->pods[f].acc_range_g = 16;
        h->pods[f].gyr_range_dps = 2000;
        for (int a = 0; a < 3; a++)
            h->pods[f].acc_scale[a] = 1.0f;
    }
}

static uint8_t *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc((size_t)n + 1);
    assert_int_equal(fread(b, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return b;
}

static long file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

static void test_write_read_back(void **state)
{
    (void)state;
    rec_header_t h;
    header(&h, "sim/1 x");
    char err[512];
    recorder_t *r = recorder_open(dir, &h, NULL, err, sizeof err);
    assert_non_null(r);
    char want[512];
    snprintf(want, sizeof want, "%s/sim_1_x-20261129T020423Z.gaitrec", dir);
    assert_string_equal(recorder_path(r), want);
    long hdr_size = file_size(want);
    assert_true(hdr_size > 0);
    assert_true(recorder_bytes(r) == (uint64_t)hdr_size);

    /* Records are opaque frames to the recorder: any bytes up to POD_MAX_FRAME. */
    uint8_t frame[300];
    int64_t now = 1000000;
    for (int i = 0; i < 10; i++) {
        memset(frame, i, sizeof frame);
        assert_int_equal(recorder_add(r, (unsigned)(i & 1), frame, 100 + (size_t)i, now), 0);
    }
    /* Nothing flushed yet (small and young), then the age policy flushes. */
    assert_int_equal(file_size(want), hdr_size);
    assert_int_equal(recorder_tick(r, now + RECORDER_FLUSH_US / 2), 0);
    assert_int_equal(file_size(want), hdr_size);
    assert_int_equal(recorder_tick(r, now + RECORDER_FLUSH_US), 0);
    assert_true(file_size(want) > hdr_size);
    assert_int_equal(recorder_chunks(r), 1);
    assert_true(recorder_bytes(r) == (uint64_t)file_size(want));

    /* Size policy: 64 KiB of payload flushes without any tick. */
    long before = file_size(want);
    int added = 0;
    while (file_size(want) == before) {
        memset(frame, 0xA5, sizeof frame);
        assert_int_equal(recorder_add(r, 1, frame, sizeof frame, now), 0);
        added++;
        assert_true(added < 1000);
    }
    assert_true((size_t)added * (sizeof frame + 3) >= RECORDER_FLUSH_BYTES);
    memset(frame, 7, sizeof frame);
    assert_int_equal(recorder_add(r, 0, frame, 50, now), 0); /* pending at close */
    assert_int_equal(recorder_close(&r), 0);
    assert_null(r);

    size_t len;
    uint8_t *img = slurp(want, &len);
    rec_reader_t rd;
    rec_header_t back;
    assert_int_equal(rec_reader_open(&rd, img, len, &back), 0);
    assert_string_equal(back.athlete, "sim/1 x");
    assert_int_equal(back.n_pods, 2);
    assert_true(back.start_unix_us == h.start_unix_us);
    uint8_t pod;
    const uint8_t *fr;
    size_t fl;
    for (int i = 0; i < 10; i++) {
        assert_int_equal(rec_reader_next(&rd, &pod, &fr, &fl), 1);
        assert_int_equal(pod, i & 1);
        assert_int_equal(fl, 100 + (size_t)i);
        assert_int_equal(fr[0], i);
        assert_int_equal(fr[fl - 1], i);
    }
    for (int i = 0; i < added; i++) {
        assert_int_equal(rec_reader_next(&rd, &pod, &fr, &fl), 1);
        assert_int_equal(fl, 300);
        assert_int_equal(fr[299], 0xA5);
    }
    assert_int_equal(rec_reader_next(&rd, &pod, &fr, &fl), 1);
    assert_int_equal(fl, 50);
    assert_int_equal(fr[0], 7);
    assert_int_equal(rec_reader_next(&rd, &pod, &fr, &fl), 0);
    free(img);
}

static void test_never_overwrites(void **state)
{
    (void)state;
    rec_header_t h;
    header(&h, "twice");
    char err[512];
    recorder_t *a = recorder_open(dir, &h, NULL, err, sizeof err);
    recorder_t *b = recorder_open(dir, &h, NULL, err, sizeof err);
    assert_non_null(a);
    assert_non_null(b);
    assert_string_not_equal(recorder_path(a), recorder_path(b));
    assert_non_null(strstr(recorder_path(b), "twice-20261129T020423Z-2.gaitrec"));
    recorder_close(&a);
    recorder_close(&b);

    char missing[300];
    snprintf(missing, sizeof missing, "%s/no/such/dir", dir);
    assert_null(recorder_open(missing, &h, NULL, err, sizeof err));
    assert_non_null(strstr(err, "no/such/dir"));
}

/* The file-size limit stops a chunk write half-way (a real short write, then EFBIG): the
 * recording stops, the file is cut back to its last complete chunk and reads back cleanly to it;
 * later frames are refused without touching the file. */
static void test_write_failure_keeps_complete_chunks(void **state)
{
    (void)state;
    rec_header_t h;
    header(&h, "full");
    char err[512];
    recorder_t *r = recorder_open(dir, &h, NULL, err, sizeof err);
    assert_non_null(r);
    char path[4096];
    snprintf(path, sizeof path, "%s", recorder_path(r));
    assert_null(recorder_error(r));

    /* room for the header, two chunks of 64 KiB and half of a third */
    struct rlimit old, lim;
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
    lim = old;
    lim.rlim_cur = (rlim_t)recorder_bytes(r) + 2 * RECORDER_FLUSH_BYTES + 40000;
    void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);

    /* a header that cannot be written leaves no file behind (named or temporary) */
    struct rlimit tiny = old;
    tiny.rlim_cur = 10;
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &tiny), 0);
    rec_header_t h2;
    header(&h2, "nohdr");
    assert_null(recorder_open(dir, &h2, NULL, err, sizeof err));
    assert_non_null(strstr(err, "File too large"));
    char cmd[400];
    snprintf(cmd, sizeof cmd, "! ls -A '%s' | grep -q nohdr", dir);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);

    uint8_t frame[300];
    int64_t now = 1000000;
    int added = 0, rc = 0;
    while (rc == 0 && added < 5000) {
        memset(frame, added & 0xFF, sizeof frame);
        rc = recorder_add(r, (unsigned)(added & 1), frame, sizeof frame, now);
        if (rc == 0)
            added++;
    }
    assert_int_equal(rc, -1);
    assert_true(recorder_failed(r));
    assert_int_equal(recorder_chunks(r), 2);
    assert_non_null(recorder_error(r));
    assert_non_null(strstr(recorder_error(r), path));
    assert_non_null(strstr(recorder_error(r), "File too large"));
    /* cut back: the file ends exactly at the last complete chunk */
    assert_true((uint64_t)file_size(path) == recorder_bytes(r));
    long size = file_size(path);
    /* stopped for good: no more writes, ticks and flushes fail at once */
    assert_int_equal(recorder_add(r, 0, frame, 10, now), -1);
    assert_int_equal(recorder_tick(r, now + 10 * RECORDER_FLUSH_US), -1);
    assert_int_equal(recorder_flush(r), -1);
    assert_int_equal(file_size(path), size);
    assert_int_equal(recorder_close(&r), -1);
    assert_null(r);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
    signal(SIGXFSZ, prev);
    assert_int_equal(file_size(path), size);

    /* reads back cleanly: every frame of the two complete chunks, then the end */
    size_t len;
    uint8_t *img = slurp(path, &len);
    rec_reader_t rd;
    rec_header_t back;
    assert_int_equal(rec_reader_open(&rd, img, len, &back), 0);
    uint8_t pod;
    const uint8_t *fr;
    size_t fl;
    int n = 0, got;
    while ((got = rec_reader_next(&rd, &pod, &fr, &fl)) == 1) {
        assert_int_equal(fl, sizeof frame);
        assert_int_equal(fr[0], n & 0xFF);
        assert_int_equal(pod, n & 1);
        n++;
    }
    assert_int_equal(got, 0);
    assert_true(n > 0 && n < added);
    assert_true((size_t)n * (sizeof frame + 3) >= 2 * RECORDER_FLUSH_BYTES);
    free(img);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_write_read_back),
        cmocka_unit_test(test_never_overwrites),
        cmocka_unit_test(test_write_failure_keeps_complete_chunks),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
