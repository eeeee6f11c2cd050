/* gcsv.c - gait CSV v1, one line at a time (../shared/CONTRACT.md).
 * Strict: exactly 8 comma-separated fields, foot L or R, finite numbers parsed with strtod
 * (spaces and tabs around a field are allowed). Never reads line[len] or beyond. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "gcsv.h"
#include "proto.h"

#define GCSV_FIELDS 8
/* longest numeric field accepted: above the 317 chars of "%.6f" of -DBL_MAX, so every row that
 * gcsv_format_row writes parses back (a 64-char limit rejected times of 1e56 s and more) */
#define GCSV_MAX_NUM 320

static const char *const field_names[GCSV_FIELDS] = {
    "time_s", "foot", "acc_x", "acc_y", "acc_z", "gyr_x", "gyr_y", "gyr_z",
};

static int fail(char *err, size_t errcap, const char *fmt, ...)
{
    if (err && errcap > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errcap, fmt, ap);
        va_end(ap);
    }
    return PROTO_ERR_SYNTAX;
}

static int is_blank(char c)
{
    return c == ' ' || c == '\t';
}

/* Copies a field for quoting in a message: at most 32 bytes, non-printable bytes as '?'. */
static void quote(const char *f, size_t n, char *out, size_t cap)
{
    size_t k = 0;
    for (size_t i = 0; i < n && k + 4 < cap; i++) {
        unsigned char c = (unsigned char)f[i];
        out[k++] = (c >= 0x20 && c < 0x7F) ? (char)c : '?';
        if (i == 31 && n > 32) {
            out[k++] = '.';
            out[k++] = '.';
            out[k++] = '.';
            break;
        }
    }
    out[k] = '\0';
}

/* Parses field number idx (0-based) f[0..n), already trimmed, as a finite double. */
static int parse_num(const char *f, size_t n, int idx, double *out, char *err, size_t errcap)
{
    char q[48];
    quote(f, n, q, sizeof q);
    if (n == 0)
        return fail(err, errcap, "field %d (%s): empty", idx + 1, field_names[idx]);
    if (n >= GCSV_MAX_NUM)
        return fail(err, errcap, "field %d (%s): not a number: '%s'", idx + 1, field_names[idx], q);
    char buf[GCSV_MAX_NUM];
    memcpy(buf, f, n);
    buf[n] = '\0';
    char *end = NULL;
    errno = 0;
    double v = strtod(buf, &end);
    if (end != buf + n)
        return fail(err, errcap, "field %d (%s): not a number: '%s'", idx + 1, field_names[idx], q);
    if (!isfinite(v) || (errno == ERANGE && fabs(v) > 1.0))
        return fail(err, errcap, "field %d (%s): not a finite number: '%s'", idx + 1,
                    field_names[idx], q);
    *out = v;
    return 0;
}

int gcsv_parse_line(const char *line, size_t len, gcsv_row_t *row, char *err, size_t errcap)
{
    if (err && errcap > 0)
        err[0] = '\0';
    if (len > 0 && line[len - 1] == '\n')
        len--;
    if (len > 0 && line[len - 1] == '\r')
        len--;
    size_t b = 0;
    while (b < len && is_blank(line[b]))
        b++;
    if (b == len || line[b] == '#')
        return GCSV_SKIP;
    /* split into fields */
    size_t start[GCSV_FIELDS], flen[GCSV_FIELDS];
    int nf = 0;
    size_t s = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i == len || line[i] == ',') {
            if (nf < GCSV_FIELDS) {
                size_t a = s, z = i;
                while (a < z && is_blank(line[a]))
                    a++;
                while (z > a && is_blank(line[z - 1]))
                    z--;
                start[nf] = a;
                flen[nf] = z - a;
            }
            nf++;
            s = i + 1;
        }
    }
    if (nf != GCSV_FIELDS)
        return fail(err, errcap, "expected %d fields, got %d", GCSV_FIELDS, nf);
    /* the column header (spaces around names allowed) */
    int names = 0;
    for (int k = 0; k < GCSV_FIELDS; k++)
        if (flen[k] == strlen(field_names[k]) &&
            memcmp(line + start[k], field_names[k], flen[k]) == 0)
            names++;
    if (names == GCSV_FIELDS)
        return GCSV_HEADER_LINE;

    gcsv_row_t r;
    double v[GCSV_FIELDS] = {0};
    const char *foot = line + start[1];
    for (int k = 0; k < GCSV_FIELDS; k++) {
        if (k == 1) {
            if (flen[1] != 1 || (foot[0] != 'L' && foot[0] != 'R')) {
                char q[48];
                quote(foot, flen[1], q, sizeof q);
                return fail(err, errcap, "field 2 (foot): expected L or R, got '%s'", q);
            }
            continue;
        }
        int rc = parse_num(line + start[k], flen[k], k, &v[k], err, errcap);
        if (rc < 0)
            return rc;
    }
    r.t = v[0];
    r.foot = foot[0];
    for (int k = 0; k < 3; k++) {
        r.acc[k] = v[2 + k];
        r.gyr[k] = v[5 + k];
    }
    *row = r;
    return GCSV_ROW;
}

int gcsv_format_row(const gcsv_row_t *row, char *buf, size_t cap)
{
    int n = snprintf(buf, cap, "%.6f,%c,%.9g,%.9g,%.9g,%.9g,%.9g,%.9g\n", row->t, row->foot,
                     row->acc[0], row->acc[1], row->acc[2], row->gyr[0], row->gyr[1], row->gyr[2]);
    if (n < 0 || (size_t)n >= cap)
        return PROTO_ERR_SPACE;
    return n;
}
