/* test_report_catalog.c - `gaitctl report --db CATALOG SESSION_ID` (cmd_report.c): the session's
 * recording is analysed and the athlete's earlier sessions in the catalog (their stored
 * "focus_metrics") become the personal baseline named in the evidence; unknown ids fail. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "catalog.h"
#include "report.h"
#include "sim.h"

/* Writes a simulated run (right push-off 25 % weaker) as gait CSV v1. */
static void write_run(const char *path, double seconds)
{
    sim_config_t c;
    sim_config_default(&c);
    c.duration_s = seconds;
    c.seed = 9;
    c.pushoff_scale[1] = 0.75;
    sim_t *s = sim_new(&c);
    assert_non_null(s);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "# simulated\ntime_s,foot,acc_x,acc_y,acc_z,gyr_x,gyr_y,gyr_z\n");
    dsp_sample_t x[2];
    while (sim_next(s, x))
        for (int ft = 0; ft < 2; ft++)
            fprintf(f, "%.4f,%c,%.3f,%.3f,%.3f,%.2f,%.2f,%.2f\n", x[ft].t, ft ? 'R' : 'L',
                    x[ft].acc[0], x[ft].acc[1], x[ft].acc[2], x[ft].gyr[0], x[ft].gyr[1],
                    x[ft].gyr[2]);
    fclose(f);
    sim_free(&s);
}

static int64_t add_session(catalog_t *c, int64_t t_us, const char *rec, double pushoff_si)
{
    int64_t id;
    assert_int_equal(catalog_session_begin(c, "ana", "replay", t_us, rec, &id), CATALOG_OK);
    catalog_summary_t sum;
    catalog_summary_empty(&sum);
    char js[256];
    snprintf(js, sizeof js,
             "{\"type\":\"summary\",\"focus\":[],\"focus_metrics\":{\"pushoff_si_pct\":%.3f,"
             "\"contact_si_pct\":0.1}}",
             pushoff_si);
    sum.summary_json = js;
    sum.focus_json = "[]";
    assert_int_equal(catalog_session_end(c, id, t_us + 600000000, CATALOG_COMPLETE, &sum),
                     CATALOG_OK);
    return id;
}

static json_t *run_report(char **argv, int argc, const char *out, int want_rc)
{
    int rc = cmd_report(argc, argv);
    assert_int_equal(rc, want_rc);
    if (want_rc)
        return NULL;
    json_error_t e;
    json_t *o = json_load_file(out, 0, &e);
    assert_non_null(o);
    return o;
}

static void test_report_from_catalog(void **state)
{
    (void)state;
    char dir[] = "/tmp/test_report_catalog_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char db[256], csv[256], out[256], idbuf[32];
    snprintf(db, sizeof db, "%s/catalog.db", dir);
    snprintf(csv, sizeof csv, "%s/run.csv", dir);
    snprintf(out, sizeof out, "%s/summary.json", dir);
    write_run(csv, 150);
    char err[512];
    catalog_t *c = catalog_open(db, err, sizeof err);
    assert_non_null(c);
    /* five earlier, symmetric sessions, then this one with the recording */
    const double past[5] = {0.5, -0.8, 1.2, 0.1, -0.4};
    for (int i = 0; i < 5; i++)
        add_session(c, 1700000000000000LL + i * 86400000000LL, NULL, past[i]);
    int64_t id = add_session(c, 1700000000000000LL + 6 * 86400000000LL, csv, 0);
    catalog_close(&c);

    snprintf(idbuf, sizeof idbuf, "%lld", (long long)id);
    char *argv[] = {"report", "--db", db, idbuf, "--json", out, NULL};
    json_t *o = run_report(argv, 6, out, 0);
    json_t *f0 = json_array_get(json_object_get(o, "focus"), 0);
    assert_non_null(f0);
    assert_string_equal(json_string_value(json_object_get(f0, "area")), "calves");
    assert_string_equal(json_string_value(json_object_get(f0, "side")), "R");
    assert_string_equal(json_string_value(json_object_get(f0, "reference")), "baseline");
    const char *ev = json_string_value(json_array_get(json_object_get(f0, "evidence"), 0));
    assert_non_null(strstr(ev, "your own baseline"));
    assert_non_null(strstr(ev, "over 5 sessions"));
    json_decref(o);

    /* the same file without the catalog: population ranges */
    char *argv2[] = {"report", csv, "--json", out, NULL};
    o = run_report(argv2, 4, out, 0);
    f0 = json_array_get(json_object_get(o, "focus"), 0);
    assert_string_equal(json_string_value(json_object_get(f0, "reference")), "population");
    json_decref(o);

    /* a FILE with --athlete: that athlete's history is the baseline */
    char *argv3[] = {"report", "--db", db, "--athlete", "ana", csv, "--json", out, NULL};
    o = run_report(argv3, 8, out, 0);
    f0 = json_array_get(json_object_get(o, "focus"), 0);
    assert_string_equal(json_string_value(json_object_get(f0, "reference")), "baseline");
    json_decref(o);

    /* unknown session */
    char *argv4[] = {"report", "--db", db, "999", "--json", out, NULL};
    run_report(argv4, 6, out, 1);

    unlink(out);
    unlink(csv);
    char wal[300];
    snprintf(wal, sizeof wal, "%s-wal", db);
    unlink(wal);
    snprintf(wal, sizeof wal, "%s-shm", db);
    unlink(wal);
    unlink(db);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_report_from_catalog)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
