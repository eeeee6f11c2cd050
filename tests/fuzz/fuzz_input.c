/* fuzz_input.c - input_open / input_next (daemon/input.h) on an arbitrary file: the one reader
 * behind `gaitctl analyze`, `gaitctl convert` and `gaitd --replay`, recordings and CSV alike.
 * input_open only takes a path, so each input is written to one memfd, opened by its
 * /proc/self/fd path (no disk I/O). Inputs above 64 KiB are ignored (the decoders have their
 * own targets). Invariants: samples come in time order per foot with finite values, damage is
 * reported with a message, and reading terminates. */
#define _GNU_SOURCE
#include <math.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include "fuzz.h"
#include "input.h"

#define MAX_INPUT (64u * 1024u)

static int fd = -1;
static char path[64];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fd = memfd_create("fuzz_input", 0);
    FUZZ_CHECK(fd >= 0);
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (fd < 0)
        LLVMFuzzerInitialize(NULL, NULL);
    if (size > MAX_INPUT)
        return 0;
    FUZZ_CHECK(ftruncate(fd, 0) == 0);
    FUZZ_CHECK(pwrite(fd, data, size, 0) == (ssize_t)size);

    char err[512];
    err[0] = '\0';
    input_t *in = input_open(path, 0, err, sizeof err);
    if (!in) {
        FUZZ_CHECK(err[0] != '\0' && memchr(err, '\0', sizeof err) != NULL);
        return 0;
    }
    int fmt = input_format(in);
    FUZZ_CHECK(fmt == INPUT_CSV || fmt == INPUT_RECORDING);
    double last[2] = {-INFINITY, -INFINITY};
    unsigned long n = 0, damage = 0;
    for (;;) {
        int foot = -1;
        dsp_sample_t s;
        err[0] = '\0';
        int rc = input_next(in, &foot, &s, err, sizeof err);
        if (rc == 0)
            break;
        if (rc < 0) {
            FUZZ_CHECK(rc == -1 && err[0] != '\0');
            FUZZ_CHECK(++damage <= size + 1);
            continue;
        }
        FUZZ_CHECK(rc == 1 && (foot == DSP_LEFT || foot == DSP_RIGHT));
        FUZZ_CHECK(isfinite(s.t));
        FUZZ_CHECK(s.t > last[foot]);
        last[foot] = s.t;
        /* a 10-byte pod frame carries at most 255 samples; a CSV line at least 16 bytes */
        FUZZ_CHECK(++n <= (size / 10 + 1) * 255);
    }
    FUZZ_CHECK(!damage || input_damaged(in));
    const rec_header_t *h = input_header(in);
    FUZZ_CHECK(h->n_pods <= REC_MAX_PODS);
    FUZZ_CHECK(memchr(h->athlete, '\0', sizeof h->athlete) != NULL);
    input_free(&in);
    FUZZ_CHECK(in == NULL);
    return 0;
}
