/* test_config.c - daemon/config.c: INI configuration file, its errors and flag precedence. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "config.h"
#include "log.h"
#include "opts.h"

static const char good[] =
    "; gaitd configuration\n"
    "# comments of both kinds\n"
    "[daemon]\n"
    "pub = tcp://0.0.0.0:6000\n"
    "control = ipc:///run/gaitd/control\n"
    "data_dir = /var/lib/gaitd/recordings\n"
    "db = /var/lib/gaitd/catalog.db\n"
    "log_level = debug   ; inline comment\n"
    "hwm = 500\n"
    "\n"
    "[simulate]\n"
    "athletes = 2\n"
    "plan = stand:5,walk:60,run:300@180\n"
    "seed = 42\n"
    "\n"
    "[rates]\n"
    "default_rate_hz = 1000\n"
    "window_period_s = 10\n"
    "status_period_s = 1.5\n"
    "\n"
    "[pods]\n"
    "P0001 = anna:L\n"
    "P0002 = anna:R\n"
    "GP-7a = ben.k:right\n";

static void test_defaults(void **state)
{
    (void)state;
    config_t c;
    config_default(&c);
    assert_int_equal(c.set, 0);
    assert_string_equal(c.pub, "tcp://127.0.0.1:5556");
    gaitd_opts_t o, d;
    gaitd_opts_default(&o);
    gaitd_opts_default(&d);
    config_apply(&c, &o);
    assert_memory_equal(&o, &d, sizeof o);           /* nothing set: nothing changes */
}

static void test_good(void **state)
{
    (void)state;
    config_t c;
    char err[512] = "";
    config_default(&c);
    if (config_load_string(&c, "gaitd.ini", good, err, sizeof err) != 0)
        fail_msg("%s", err);
    assert_string_equal(c.pub, "tcp://0.0.0.0:6000");
    assert_string_equal(c.control, "ipc:///run/gaitd/control");
    assert_string_equal(c.data_dir, "/var/lib/gaitd/recordings");
    assert_string_equal(c.db, "/var/lib/gaitd/catalog.db");
    assert_int_equal(c.log_level, LOG_DEBUG);
    assert_int_equal(c.hwm, 500);
    assert_int_equal(c.sim_athletes, 2);
    assert_string_equal(c.sim_plan, "stand:5,walk:60,run:300@180");
    assert_true(c.sim_seed == 42);
    assert_true(c.default_rate_hz == 1000.0);
    assert_true(c.window_period_s == 10.0 && c.status_period_s == 1.5);
    assert_int_equal(c.n_pods, 3);
    assert_string_equal(c.pods[0].serial, "P0001");
    assert_string_equal(c.pods[0].athlete, "anna");
    assert_int_equal(c.pods[0].foot, 'L');
    assert_int_equal(c.pods[0].line, 22);
    assert_string_equal(c.pods[2].serial, "GP-7a");
    assert_string_equal(c.pods[2].athlete, "ben.k");
    assert_int_equal(c.pods[2].foot, 'R');
    assert_true(c.set & CONFIG_DEFAULT_RATE);
    assert_false(c.set & CONFIG_SIM_RATE);
}

static void test_file(void **state)
{
    (void)state;
    char path[] = "/tmp/test_config.XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, good, sizeof good - 1), (ssize_t)(sizeof good - 1));
    close(fd);
    config_t c;
    char err[512] = "";
    config_default(&c);
    if (config_load(&c, path, err, sizeof err) != 0)
        fail_msg("%s", err);
    assert_string_equal(c.path, path);
    assert_int_equal(c.n_pods, 3);
    unlink(path);
    /* a missing file names the path and the reason */
    config_default(&c);
    assert_int_equal(config_load(&c, path, err, sizeof err), -1);
    assert_non_null(strstr(err, path));
    assert_non_null(strstr(err, "No such file"));
}

/* text must fail with exactly message want. */
static void bad(const char *text, const char *want)
{
    config_t c;
    char err[512] = "";
    config_default(&c);
    int rc = config_load_string(&c, "gaitd.ini", text, err, sizeof err);
    if (rc != -1 || strcmp(err, want) != 0)
        fail_msg("for:\n%s\nwant: %s\ngot (%d): %s", text, want, rc, err);
}

static void test_bad_values(void **state)
{
    (void)state;
    bad("[daemon]\n\n\n\n\n\npub = foo\n",
        "gaitd.ini:7: [daemon] pub: expected a ZeroMQ endpoint like tcp://127.0.0.1:5556 or "
        "ipc:///run/gaitd/feed, got 'foo'");
    bad("[daemon]\ncontrol = tcp://127.0.0.1:99999\n",
        "gaitd.ini:2: [daemon] control: expected a ZeroMQ endpoint like tcp://127.0.0.1:5556 or "
        "ipc:///run/gaitd/feed, got 'tcp://127.0.0.1:99999'");
    bad("[daemon]\npub = tcp://:5556\n",
        "gaitd.ini:2: [daemon] pub: expected a ZeroMQ endpoint like tcp://127.0.0.1:5556 or "
        "ipc:///run/gaitd/feed, got 'tcp://:5556'");
    bad("[daemon]\npub =\n",
        "gaitd.ini:2: [daemon] pub: expected a ZeroMQ endpoint like tcp://127.0.0.1:5556 or "
        "ipc:///run/gaitd/feed, got ''");
    bad("[daemon]\nlog_level = loud\n",
        "gaitd.ini:2: [daemon] log_level: expected error, warn, info or debug, got 'loud'");
    bad("[daemon]\nhwm = 0\n",
        "gaitd.ini:2: [daemon] hwm: expected a whole number in [1, 1e+07], got '0'");
    bad("[daemon]\ndata_dir = ~/gait\n",
        "gaitd.ini:2: [daemon] data_dir: '~/gait': ~ is not expanded, give the full path");
    bad("[daemon]\ndb =\n", "gaitd.ini:2: [daemon] db: expected a path, got ''");
    bad("[simulate]\nathletes = 2.5\n",
        "gaitd.ini:2: [simulate] athletes: expected a whole number in [0, 4096], got '2.5'");
    bad("[simulate]\nathletes = 4097\n",
        "gaitd.ini:2: [simulate] athletes: expected a whole number in [0, 4096], got '4097'");
    bad("[simulate]\nseed = -3\n",
        "gaitd.ini:2: [simulate] seed: expected an unsigned whole number, got '-3'");
    bad("[simulate]\nrate_hz = 20\n",
        "gaitd.ini:2: [simulate] rate_hz: expected a number in [50, 2000], got '20'");
    bad("[rates]\ndefault_rate_hz = 500Hz\n",
        "gaitd.ini:2: [rates] default_rate_hz: expected a number in [50, 2000], got '500Hz'");
    bad("[rates]\nwindow_period_s = nan\n",
        "gaitd.ini:2: [rates] window_period_s: expected a number in [0.5, 3600], got 'nan'");
    bad("[pods]\nP0001 = anna\n",
        "gaitd.ini:2: [pods] P0001: expected ATHLETE:FOOT like anna:L (athlete: 1 to 63 letters, "
        "digits, '_', '-' or '.'; foot L or R), got 'anna'");
    bad("[pods]\nP0001 = anna:X\n",
        "gaitd.ini:2: [pods] P0001: expected ATHLETE:FOOT like anna:L (athlete: 1 to 63 letters, "
        "digits, '_', '-' or '.'; foot L or R), got 'anna:X'");
    bad("[pods]\nP0001 = an/na:L\n",
        "gaitd.ini:2: [pods] P0001: expected ATHLETE:FOOT like anna:L (athlete: 1 to 63 letters, "
        "digits, '_', '-' or '.'; foot L or R), got 'an/na:L'");
    bad("[pods]\nP0001 = anna:L\nP0002 = anna:R\nP0001 = ben:L\n",
        "gaitd.ini:4: [pods] P0001: pod P0001 paired twice (first on line 2)");
    bad("[pods]\nSERIAL-TOO-LONG-1 = anna:L\n",
        "gaitd.ini:2: [pods] SERIAL-TOO-LONG-1: pod serial 'SERIAL-TOO-LONG-1': expected 1 to 15 "
        "letters, digits, '_', '-' or '.'");
}

static void test_bad_structure(void **state)
{
    (void)state;
    bad("[daemon]\npub = tcp://127.0.0.1:5556\n[deamon]\npub = tcp://127.0.0.1:5556\n",
        "gaitd.ini:3: unknown section [deamon] (expected [daemon], [simulate], [rates], [pods], [usb], [security] or [client NAME])");
    /* an unknown section with no keys is still reported */
    bad("[daemon]\n[usbb]\n",
        "gaitd.ini:2: unknown section [usbb] (expected [daemon], [simulate], [rates], [pods], [usb], [security] or [client NAME])");
    bad("[daemon]\nlog_level = info\npubb = tcp://127.0.0.1:1\n",
        "gaitd.ini:3: [daemon] pubb: unknown key (known: pub, control, data_dir, db, log_level, "
        "hwm)");
    bad("[rates]\nrate = 100\n",
        "gaitd.ini:2: [rates] rate: unknown key (known: default_rate_hz, window_period_s, "
        "status_period_s)");
    bad("pub = tcp://127.0.0.1:5556\n",
        "gaitd.ini:1: 'pub' is outside a section (start with [daemon], [simulate], [rates], "
        "[pods], [usb], [security] or [client NAME])");
    bad("[daemon]\nhwm = 10\n; comment\nhwm = 20\n",
        "gaitd.ini:4: [daemon] hwm: given twice (first on line 2)");
    bad("[daemon]\nlog_level = info\nthis line has no equals sign\n",
        "gaitd.ini:3: syntax error: expected [section], key = value, or a comment (; or #)");
    bad("[daemon\npub = tcp://127.0.0.1:5556\n",
        "gaitd.ini:1: syntax error: expected [section], key = value, or a comment (; or #)");
    bad("[simulate]\nplan = run:60\n   ,walk:30\n",
        "gaitd.ini:3: [simulate] plan: value continued on an indented line (values fit on one "
        "line; remove the leading spaces)");
    /* the first error of the file is the one reported */
    bad("[daemon]\nhwm = x\npub = y\n",
        "gaitd.ini:2: [daemon] hwm: expected a whole number in [1, 1e+07], got 'x'");
    char longline[400];
    snprintf(longline, sizeof longline, "[simulate]\nplan = %0300d\n", 0);
    bad(longline, "gaitd.ini:2: line longer than 196 characters");
}

static void test_endpoints(void **state)
{
    (void)state;
    assert_true(config_endpoint_ok("tcp://127.0.0.1:5556"));
    assert_true(config_endpoint_ok("tcp://*:5556"));
    assert_true(config_endpoint_ok("tcp://localhost:1"));
    assert_true(config_endpoint_ok("tcp://[::1]:5556"));
    assert_true(config_endpoint_ok("tcp://eth0:5556"));
    assert_true(config_endpoint_ok("ipc:///tmp/gaitd.sock"));
    assert_false(config_endpoint_ok("tcp://127.0.0.1"));
    assert_false(config_endpoint_ok("tcp://127.0.0.1:0"));
    assert_false(config_endpoint_ok("tcp://127.0.0.1:-5"));
    assert_false(config_endpoint_ok("tcp://127.0.0.1:+5"));
    assert_false(config_endpoint_ok("tcp://a b:5"));
    assert_false(config_endpoint_ok("ipc://"));
    assert_false(config_endpoint_ok("udp://1.2.3.4:5"));
    assert_false(config_endpoint_ok("127.0.0.1:5556"));
}

/* The documented example (scripts/gaitd.ini.example) is a valid file. */
static void test_example_file(void **state)
{
    (void)state;
    const char *data = getenv("GAITD_TEST_DATA");
    if (!data)
        skip();
    char path[512], err[512] = "";
    snprintf(path, sizeof path, "%s/../../scripts/gaitd.ini.example", data);
    config_t c;
    config_default(&c);
    if (config_load(&c, path, err, sizeof err) != 0)
        fail_msg("%s", err);
    assert_true(c.set & CONFIG_DB);
    assert_true(c.set & CONFIG_DATA_DIR);
    assert_true(c.set & CONFIG_DEFAULT_RATE);
}

/* defaults < file < flags */
static void test_flags_override(void **state)
{
    (void)state;
    config_t c;
    char err[512] = "";
    config_default(&c);
    assert_int_equal(config_load_string(&c, "gaitd.ini", good, err, sizeof err), 0);
    gaitd_opts_t o;
    gaitd_opts_default(&o);
    config_apply(&c, &o);
    char *argv[] = {"gaitd", "--pub", "tcp://127.0.0.1:7000", "--log-level=warn", "--db",
                    "/tmp/other.db", "--config", "gaitd.ini"};
    assert_int_equal(gaitd_opts_parse(&o, (int)(sizeof argv / sizeof argv[0]), argv, err,
                                      sizeof err),
                     0);
    assert_string_equal(o.pub, "tcp://127.0.0.1:7000");          /* flag */
    assert_string_equal(o.control, "ipc:///run/gaitd/control");  /* file */
    assert_int_equal(o.log_level, LOG_WARN);                      /* flag */
    assert_string_equal(o.db, "/tmp/other.db");                   /* flag */
    assert_string_equal(o.record_dir, "/var/lib/gaitd/recordings"); /* file */
    assert_int_equal(o.sndhwm, 500);
    assert_int_equal(o.simulate, 2);
    assert_string_equal(o.sim_plan, "stand:5,walk:60,run:300@180");
    assert_true(o.sim_seed == 42);
    assert_true(o.sim_rate_hz == 1000.0);                         /* [rates] default_rate_hz */
    assert_true(o.window_period_s == 10.0 && o.status_period_s == 1.5);
    assert_true(o.speed == 1.0);                                  /* default, untouched */

    /* [simulate] rate_hz wins over [rates] default_rate_hz; a flag over both */
    config_default(&c);
    assert_int_equal(config_load_string(&c, "x.ini",
                                        "[rates]\ndefault_rate_hz = 1000\n[simulate]\n"
                                        "rate_hz = 250\n",
                                        err, sizeof err),
                     0);
    gaitd_opts_default(&o);
    config_apply(&c, &o);
    assert_true(o.sim_rate_hz == 250.0);
    char *argv2[] = {"gaitd", "--sim-rate", "100"};
    assert_int_equal(gaitd_opts_parse(&o, 3, argv2, err, sizeof err), 0);
    assert_true(o.sim_rate_hz == 100.0);
}

/* As bad(), for a message starting with want. */
static void bad_prefix(const char *text, const char *want)
{
    config_t c;
    char err[512] = "";
    config_default(&c);
    int rc = config_load_string(&c, "gaitd.ini", text, err, sizeof err);
    if (rc != -1 || strncmp(err, want, strlen(want)) != 0)
        fail_msg("for:\n%s\nwant: %s...\ngot (%d): %s", text, want, rc, err);
}

/* [usb]: live / sync / erase / athlete into the options; flags win; bad values named */
static void test_usb_section(void **state)
{
    (void)state;
    config_t c;
    char err[512] = "";
    config_default(&c);
    assert_int_equal(c.usb_erase, 1);
    assert_string_equal(c.usb_athlete, "usb1");
    assert_int_equal(config_load_string(&c, "gaitd.ini",
                                        "[usb]\nlive = 1\nsync = 1\nerase = 0\nathlete = anna\n"
                                        "[pods]\nP1 = anna:L\n",
                                        err, sizeof err),
                     0);
    gaitd_opts_t o;
    gaitd_opts_default(&o);
    assert_int_equal(o.usb_erase, 1);
    assert_string_equal(o.usb_athlete, "usb1");
    config_apply(&c, &o);
    assert_int_equal(o.usb, 1);
    assert_int_equal(o.usb_sync, 1);
    assert_int_equal(o.usb_erase, 0);
    assert_string_equal(o.usb_athlete, "anna");
    char *argv[] = {"gaitd", "--usb-athlete", "ben"};
    assert_int_equal(gaitd_opts_parse(&o, 3, argv, err, sizeof err), 0);
    assert_string_equal(o.usb_athlete, "ben");
    bad_prefix("[usb]\nsync = yes\n", "gaitd.ini:2: [usb] sync: ");
    bad_prefix("[usb]\nlive = 2\n", "gaitd.ini:2: [usb] live: ");
    bad_prefix("[usb]\nathlete =\n", "gaitd.ini:2: [usb] athlete: ");
    bad("[usb]\nerase_all = 1\n",
        "gaitd.ini:2: [usb] erase_all: unknown key (known: live, sync, erase, athlete)");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_usb_section),
        cmocka_unit_test(test_defaults),   cmocka_unit_test(test_good),
        cmocka_unit_test(test_file),       cmocka_unit_test(test_bad_values),
        cmocka_unit_test(test_bad_structure), cmocka_unit_test(test_endpoints),
        cmocka_unit_test(test_flags_override), cmocka_unit_test(test_example_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
