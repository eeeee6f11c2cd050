/* test_opts.c - daemon/opts.c: gaitd command line parsing. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>
#include "log.h"
#include "opts.h"

static int parse(gaitd_opts_t *o, char *err, int argc, char **argv)
{
    gaitd_opts_default(o);
    return gaitd_opts_parse(o, argc, argv, err, 256);
}

static void test_defaults(void **state)
{
    (void)state;
    gaitd_opts_t o;
    char err[256];
    char *argv[] = {"gaitd"};
    assert_int_equal(parse(&o, err, 1, argv), 0);
    assert_string_equal(o.pub, "tcp://127.0.0.1:5556");
    assert_string_equal(o.control, "tcp://127.0.0.1:5557");
    assert_int_equal(o.simulate, 0);
    assert_true(o.speed == 1.0);
    assert_int_equal(o.log_level, LOG_INFO);
    assert_true(o.window_period_s == 5.0);
    assert_true(o.status_period_s == 2.0);
    assert_int_equal(o.usb, 0);
    assert_int_equal(o.usb_sync, 0);
    assert_int_equal(o.usb_erase, 1);
    assert_string_equal(o.usb_athlete, "usb1");
}

static void test_usb_flags(void **state)
{
    (void)state;
    gaitd_opts_t o;
    char err[256];
    char *argv[] = {"gaitd", "--usb", "--usb-sync", "--usb-keep-runs", "--usb-athlete=anna"};
    assert_int_equal(parse(&o, err, 5, argv), 0);
    assert_int_equal(o.usb, 1);
    assert_int_equal(o.usb_sync, 1);
    assert_int_equal(o.usb_erase, 0);
    assert_string_equal(o.usb_athlete, "anna");
    char *argv2[] = {"gaitd", "--usb-athlete"};
    assert_int_equal(parse(&o, err, 2, argv2), -1);
    assert_non_null(strstr(err, "--usb-athlete"));
}

static void test_full_line(void **state)
{
    (void)state;
    gaitd_opts_t o;
    char err[256];
    char *argv[] = {"gaitd",       "--pub",      "ipc:///tmp/x", "--control=ipc:///tmp/y",
                    "--simulate",  "2",          "--sim-asym",   "2:contact=1.08,1",
                    "--replay",    "a.gaitrec",  "--replay",     "b.csv",
                    "--speed",     "0",          "--duration",   "20.5",
                    "--record",    "/tmp",       "--log-level",  "debug",
                    "--sim-seed",  "42",         "--db",         "x.db",
                    "--sim-plan",  "run:60"};
    assert_int_equal(parse(&o, err, (int)(sizeof argv / sizeof argv[0]), argv), 0);
    assert_string_equal(o.pub, "ipc:///tmp/x");
    assert_string_equal(o.control, "ipc:///tmp/y");
    assert_int_equal(o.simulate, 2);
    assert_int_equal(o.n_asym, 1);
    assert_int_equal(o.asym[0].athlete, 2);
    assert_true(o.asym[0].contact[0] == 1.08 && o.asym[0].contact[1] == 1.0);
    assert_true(o.asym[0].pushoff[0] == 1.0 && o.asym[0].impact[1] == 1.0);
    assert_int_equal(o.n_replay, 2);
    assert_string_equal(o.replay[1], "b.csv");
    assert_true(o.speed == 0.0);
    assert_true(o.duration_s == 20.5);
    assert_string_equal(o.record_dir, "/tmp");
    assert_int_equal(o.log_level, LOG_DEBUG);
    assert_true(o.sim_seed == 42);
    assert_string_equal(o.db, "x.db");
    assert_string_equal(o.sim_plan, "run:60");
}

static void test_asym_forms(void **state)
{
    (void)state;
    opts_asym_t a;
    char err[256];
    assert_int_equal(gaitd_opts_parse_asym("1:pushoff=1,0.75:impact=1.2,1", &a, err, sizeof err),
                     0);
    assert_int_equal(a.athlete, 1);
    assert_true(a.pushoff[1] == 0.75 && a.impact[0] == 1.2 && a.contact[0] == 1.0);
    const char *bad[] = {"contact=1.08,1", "0:contact=1,1", "2:contact=1.08", "2:contact=0,1",
                         "2:foo=1,1",      "2:",            "2:contact=1,1:", "x:contact=1,1",
                         "2:contact=1,1x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        assert_int_equal(gaitd_opts_parse_asym(bad[i], &a, err, sizeof err), -1);
        assert_non_null(strstr(err, "--sim-asym"));
    }
}

static void test_errors(void **state)
{
    (void)state;
    gaitd_opts_t o;
    char err[256];
    char *a1[] = {"gaitd", "--bogus", "1"};
    assert_int_equal(parse(&o, err, 3, a1), -1);
    assert_non_null(strstr(err, "--bogus"));
    char *a2[] = {"gaitd", "--simulate"};
    assert_int_equal(parse(&o, err, 2, a2), -1);
    char *a3[] = {"gaitd", "--simulate", "1.5"};
    assert_int_equal(parse(&o, err, 3, a3), -1);
    char *a4[] = {"gaitd", "--speed", "-1"};
    assert_int_equal(parse(&o, err, 3, a4), -1);
    char *a5[] = {"gaitd", "--simulate", "1", "--sim-asym", "2:contact=1.1,1"};
    assert_int_equal(parse(&o, err, 5, a5), -1);
    assert_non_null(strstr(err, "not simulated"));
    char *a6[] = {"gaitd", "--log-level", "loud"};
    assert_int_equal(parse(&o, err, 3, a6), -1);
    char *a7[] = {"gaitd", "stray"};
    assert_int_equal(parse(&o, err, 2, a7), -1);
    char *a8[] = {"gaitd", "--help"};
    assert_int_equal(parse(&o, err, 2, a8), 0);
    assert_int_equal(o.help, 1);
}

static void test_log_levels(void **state)
{
    (void)state;
    assert_int_equal(log_level_parse("error"), LOG_ERROR);
    assert_int_equal(log_level_parse("warn"), LOG_WARN);
    assert_int_equal(log_level_parse("info"), LOG_INFO);
    assert_int_equal(log_level_parse("debug"), LOG_DEBUG);
    assert_int_equal(log_level_parse("3"), LOG_DEBUG);
    assert_int_equal(log_level_parse("verbose"), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_usb_flags),   cmocka_unit_test(test_full_line),
        cmocka_unit_test(test_asym_forms), cmocka_unit_test(test_errors),
        cmocka_unit_test(test_log_levels),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
