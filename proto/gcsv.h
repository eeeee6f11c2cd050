/* gcsv.h - gait CSV v1 (../shared/CONTRACT.md):
 *     # comment lines
 *     time_s,foot,acc_x,acc_y,acc_z,gyr_x,gyr_y,gyr_z
 *     12.000,L,0.12,-0.03,9.79,0.4,-1.2,0.1
 * Pure code on one line at a time; the caller reads the file and counts lines.
 */
#ifndef GAITD_PROTO_GCSV_H
#define GAITD_PROTO_GCSV_H
#include <stddef.h>

#define GCSV_HEADER "time_s,foot,acc_x,acc_y,acc_z,gyr_x,gyr_y,gyr_z"

typedef struct gcsv_row {
    double t;                    /* s */
    char foot;                   /* 'L' or 'R' */
    double acc[3];               /* m/s^2 */
    double gyr[3];               /* deg/s */
} gcsv_row_t;

enum gcsv_kind {
    GCSV_ROW = 1,                /* *row filled */
    GCSV_SKIP = 2,               /* comment or empty line */
    GCSV_HEADER_LINE = 3,        /* the column header line */
};

/* Parses one line (without or with its trailing "\n" / "\r\n"; need not be NUL-terminated).
 * Returns a gcsv_kind (> 0) or a negative proto_status; on error writes a message saying what was
 * expected (e.g. "expected 8 fields, got 7", "field 3 (acc_x): not a number: 'abc'") to
 * err[0..errcap). Non-finite numbers and a foot other than L/R are errors. */
int gcsv_parse_line(const char *line, size_t len, gcsv_row_t *row, char *err, size_t errcap);

/* Formats one row with a trailing newline, enough digits to keep 32-bit float precision.
 * Returns the length written, or PROTO_ERR_SPACE. */
int gcsv_format_row(const gcsv_row_t *row, char *buf, size_t cap);

#endif
