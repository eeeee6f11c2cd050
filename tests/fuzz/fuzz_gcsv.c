/* fuzz_gcsv.c - gcsv_parse_line (proto/gcsv.h) on one arbitrary line, not NUL-terminated.
 * Invariants: the result is a gcsv_kind or a syntax error with a message; parsing is the same
 * with a tiny message buffer (which must stay NUL-terminated and inside its bounds); a parsed row
 * has a finite time and samples and foot L or R; and gcsv_format_row of it parses back to a row
 * equal within the written precision (time to 1 us, samples to 9 significant digits). */
#include <math.h>
#include <string.h>
#include "fuzz.h"
#include "gcsv.h"
#include "proto.h"

#define SMALL_ERR 6

static int close_enough(double a, double b, double abs_tol, double rel_tol)
{
    return fabs(a - b) <= abs_tol + rel_tol * fmax(fabs(a), fabs(b));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char text[1024];
    const char *line = (const char *)data;
    gcsv_row_t row, row2;
    char err[256];
    memset(err, 'x', sizeof err);
    int rc = gcsv_parse_line(line, size, &row, err, sizeof err);
    FUZZ_CHECK(memchr(err, '\0', sizeof err) != NULL);
    FUZZ_CHECK(rc == GCSV_ROW || rc == GCSV_SKIP || rc == GCSV_HEADER_LINE ||
               rc == PROTO_ERR_SYNTAX);
    if (rc < 0)
        FUZZ_CHECK(err[0] != '\0');

    /* the same with a small message buffer on the heap (ASan sees any overflow) and none */
    char *small = malloc(SMALL_ERR);
    FUZZ_CHECK(small != NULL);
    gcsv_row_t rs;
    FUZZ_CHECK(gcsv_parse_line(line, size, &rs, small, SMALL_ERR) == rc);
    FUZZ_CHECK(memchr(small, '\0', SMALL_ERR) != NULL);
    if (rc < 0)
        FUZZ_CHECK(strncmp(small, err, SMALL_ERR - 1) == 0);
    free(small);
    FUZZ_CHECK(gcsv_parse_line(line, size, &rs, NULL, 0) == rc);
    if (rc != GCSV_ROW)
        return 0;

    FUZZ_CHECK(row.foot == 'L' || row.foot == 'R');
    FUZZ_CHECK(isfinite(row.t));
    for (int k = 0; k < 3; k++)
        FUZZ_CHECK(isfinite(row.acc[k]) && isfinite(row.gyr[k]));

    int n = gcsv_format_row(&row, text, sizeof text);
    FUZZ_CHECK(n > 0 && (size_t)n < sizeof text && text[n - 1] == '\n');
    FUZZ_CHECK(strlen(text) == (size_t)n);
    char msg[256];
    int rc2 = gcsv_parse_line(text, (size_t)n, &row2, msg, sizeof msg);
    if (rc2 != GCSV_ROW)
        fprintf(stderr, "formatted row does not parse back: %s\n  %s", msg, text);
    FUZZ_CHECK(rc2 == GCSV_ROW);
    FUZZ_CHECK(row2.foot == row.foot);
    FUZZ_CHECK(close_enough(row2.t, row.t, 5.000001e-7, 1e-15));
    for (int k = 0; k < 3; k++) {
        FUZZ_CHECK(close_enough(row2.acc[k], row.acc[k], 1e-300, 1e-8));
        FUZZ_CHECK(close_enough(row2.gyr[k], row.gyr[k], 1e-300, 1e-8));
    }
    return 0;
}
