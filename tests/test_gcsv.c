/* test_gcsv.c - gait CSV v1 line parser and formatter. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "gcsv.h"
#include "proto.h"

static int parse(const char *line, gcsv_row_t *row, char *err)
{
    return gcsv_parse_line(line, strlen(line), row, err, 200);
}

static void expect_error(const char *line, const char *msg)
{
    gcsv_row_t row;
    char err[200];
    assert_int_equal(parse(line, &row, err), PROTO_ERR_SYNTAX);
    assert_string_equal(err, msg);
}

static void test_rows(void **state)
{
    (void)state;
    gcsv_row_t r;
    char err[200];
    assert_int_equal(parse("12.000,L,0.12,-0.03,9.79,0.4,-1.2,0.1\n", &r, err), GCSV_ROW);
    assert_true(r.t == 12.0);
    assert_int_equal(r.foot, 'L');
    assert_true(r.acc[0] == 0.12 && r.acc[1] == -0.03 && r.acc[2] == 9.79);
    assert_true(r.gyr[0] == 0.4 && r.gyr[1] == -1.2 && r.gyr[2] == 0.1);
    assert_int_equal(parse("12.000,R,0.10,0.02,9.83,-0.3,0.8,0.0\r\n", &r, err), GCSV_ROW);
    assert_int_equal(r.foot, 'R');
    assert_true(r.gyr[2] == 0.0);
    /* spaces around fields, exponents, no trailing newline */
    assert_int_equal(parse(" 1e-3 , L ,1E2,+5,-0,.5,5.,0x10", &r, err), GCSV_ROW);
    assert_true(r.t == 0.001 && r.acc[0] == 100 && r.acc[1] == 5 && r.gyr[0] == 0.5 &&
                r.gyr[1] == 5 && r.gyr[2] == 16);
    /* not NUL-terminated: only len bytes count */
    const char *longer = "1.5,L,1,2,3,4,5,67890";
    assert_int_equal(gcsv_parse_line(longer, strlen(longer) - 4, &r, err, sizeof err), GCSV_ROW);
    assert_true(r.gyr[2] == 6.0);
}

static void test_skip_and_header(void **state)
{
    (void)state;
    gcsv_row_t r;
    char err[200];
    assert_int_equal(parse("# comment, with, commas\n", &r, err), GCSV_SKIP);
    assert_int_equal(parse("   # indented comment", &r, err), GCSV_SKIP);
    assert_int_equal(parse("\n", &r, err), GCSV_SKIP);
    assert_int_equal(parse("\r\n", &r, err), GCSV_SKIP);
    assert_int_equal(parse("", &r, err), GCSV_SKIP);
    assert_int_equal(parse("  \t ", &r, err), GCSV_SKIP);
    assert_int_equal(parse(GCSV_HEADER "\n", &r, err), GCSV_HEADER_LINE);
    assert_int_equal(parse(GCSV_HEADER "\r\n", &r, err), GCSV_HEADER_LINE);
    assert_int_equal(parse("time_s, foot, acc_x, acc_y, acc_z, gyr_x, gyr_y, gyr_z", &r, err),
                     GCSV_HEADER_LINE);
    /* another column order is not gait CSV v1 */
    assert_int_equal(parse("foot,time_s,acc_x,acc_y,acc_z,gyr_x,gyr_y,gyr_z", &r, err),
                     PROTO_ERR_SYNTAX);
}

static void test_errors(void **state)
{
    (void)state;
    expect_error("12.0,L,0.12,-0.03,9.79,0.4,-1.2", "expected 8 fields, got 7");
    expect_error("12.0,L,0.12,-0.03,9.79,0.4,-1.2,0.1,7", "expected 8 fields, got 9");
    expect_error("12.0,L,0.12,-0.03,9.79,0.4,-1.2,0.1,", "expected 8 fields, got 9");
    expect_error("hello", "expected 8 fields, got 1");
    expect_error("12.0,L,abc,-0.03,9.79,0.4,-1.2,0.1", "field 3 (acc_x): not a number: 'abc'");
    expect_error("12.0,L,1,2,3,4,5,1.2.3", "field 8 (gyr_z): not a number: '1.2.3'");
    expect_error("x12,L,1,2,3,4,5,6", "field 1 (time_s): not a number: 'x12'");
    expect_error("12,L,1,2,,4,5,6", "field 5 (acc_z): empty");
    expect_error("12,L,1,2,3 4,4,5,6", "field 5 (acc_z): not a number: '3 4'");
    expect_error("12,X,1,2,3,4,5,6", "field 2 (foot): expected L or R, got 'X'");
    expect_error("12,l,1,2,3,4,5,6", "field 2 (foot): expected L or R, got 'l'");
    expect_error("12,LR,1,2,3,4,5,6", "field 2 (foot): expected L or R, got 'LR'");
    expect_error("12,,1,2,3,4,5,6", "field 2 (foot): expected L or R, got ''");
    expect_error("nan,L,1,2,3,4,5,6", "field 1 (time_s): not a finite number: 'nan'");
    expect_error("1,L,inf,2,3,4,5,6", "field 3 (acc_x): not a finite number: 'inf'");
    expect_error("1,L,1,2,3,4,1e999,6", "field 7 (gyr_y): not a finite number: '1e999'");
    expect_error("1,L,1,2,3,4,5,6\x01", "field 8 (gyr_z): not a number: '6?'");
    /* the first bad field is named */
    expect_error("x,Q,y,2,3,4,5,6", "field 1 (time_s): not a number: 'x'");
    /* embedded NUL */
    gcsv_row_t r;
    char err[200];
    const char nul[] = "1,L,1,2,3\0,4,5,6";
    assert_int_equal(gcsv_parse_line(nul, sizeof nul - 1, &r, err, sizeof err), PROTO_ERR_SYNTAX);
    assert_string_equal(err, "field 5 (acc_z): not a number: '3?'");
    /* very long field */
    char big[400];
    memset(big, '1', sizeof big);
    memcpy(big, "1,L,", 4);
    memcpy(big + sizeof big - 10, ",1,1,1,1,1", 10);
    assert_int_equal(gcsv_parse_line(big, sizeof big, &r, err, sizeof err), PROTO_ERR_SYNTAX);
    /* tiny error buffer: truncated message, no overflow */
    char small[8];
    assert_int_equal(gcsv_parse_line("a", 1, &r, small, sizeof small), PROTO_ERR_SYNTAX);
    assert_int_equal(strlen(small), 7);
    assert_int_equal(gcsv_parse_line("a", 1, &r, NULL, 0), PROTO_ERR_SYNTAX);
}

static void test_format_roundtrip(void **state)
{
    (void)state;
    char buf[256];
    gcsv_row_t r = {.t = 12.0, .foot = 'L', .acc = {0.12, -0.03, 9.79}, .gyr = {0.4, -1.2, 0.1}};
    int n = gcsv_format_row(&r, buf, sizeof buf);
    assert_int_equal(n, (int)strlen(buf));
    assert_string_equal(buf, "12.000000,L,0.12,-0.03,9.79,0.4,-1.2,0.1\n");
    assert_int_equal(gcsv_format_row(&r, buf, 10), PROTO_ERR_SPACE);
    srand(7);
    for (int i = 0; i < 20000; i++) {
        gcsv_row_t a;
        a.t = (double)(rand() % 100000000) * 1e-6 + 1.7e9 * (i % 2);
        a.foot = (i % 3) ? 'R' : 'L';
        for (int k = 0; k < 3; k++) {
            /* float values, as samples carry */
            a.acc[k] = (float)(((double)rand() / RAND_MAX - 0.5) * 400.0);
            a.gyr[k] = (float)(((double)rand() / RAND_MAX - 0.5) * 8000.0 * pow(10, -(i % 6)));
        }
        n = gcsv_format_row(&a, buf, sizeof buf);
        assert_true(n > 0);
        gcsv_row_t b;
        char err[200];
        assert_int_equal(gcsv_parse_line(buf, (size_t)n, &b, err, sizeof err), GCSV_ROW);
        assert_true(fabs(b.t - a.t) <= 0.5e-6);
        assert_int_equal(b.foot, a.foot);
        for (int k = 0; k < 3; k++) {
            assert_true((float)b.acc[k] == (float)a.acc[k]); /* floats survive exactly */
            assert_true((float)b.gyr[k] == (float)a.gyr[k]);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rows),
        cmocka_unit_test(test_skip_and_header),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_format_roundtrip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
