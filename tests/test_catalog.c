/* test_catalog.c - daemon/catalog.c: SQLite session catalog. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <math.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "baseline.h"
#include "catalog.h"
#include <fcntl.h>

/* gaitctl subcommands (daemon/cmd_sessions.c, compiled into this test). */
int cmd_sessions(int argc, char **argv);
int cmd_history(int argc, char **argv);

#define T0 1795000000000000LL        /* 2026-11-18T11:06:40Z, in microseconds */

typedef struct fixture {
    char dir[64];
    char path[128];
} fixture_t;

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/test_catalog.XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    snprintf(f->path, sizeof f->path, "%s/catalog.db", f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    if (system(cmd) != 0)
        return -1;
    free(f);
    return 0;
}

static catalog_t *open_ok(const char *path)
{
    char err[512] = "";
    catalog_t *c = catalog_open(path, err, sizeof err);
    if (!c)
        fail_msg("catalog_open: %s", err);
    return c;
}

/* Reads one integer with plain SQLite, independently of the module under test. */
static long long sql_int(const char *path, const char *sql)
{
    sqlite3 *db;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *s;
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    long long v = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    sqlite3_close(db);
    return v;
}

static void test_create_and_reopen(void **state)
{
    fixture_t *f = *state;
    catalog_t *c = open_ok(f->path);
    assert_int_equal(catalog_schema_version(c), CATALOG_SCHEMA_VERSION);
    assert_string_equal(catalog_journal_mode(c), "wal");
    assert_string_equal(catalog_path(c), f->path);
    catalog_close(&c);
    assert_null(c);
    catalog_close(&c);               /* NULL is fine */
    /* reopening migrates nothing and keeps the data */
    c = open_ok(f->path);
    int64_t id;
    assert_int_equal(catalog_session_begin(c, "anna", "simulator", T0, NULL, &id), 0);
    catalog_close(&c);
    c = open_ok(f->path);
    assert_int_equal(catalog_schema_version(c), CATALOG_SCHEMA_VERSION);
    assert_int_equal(catalog_count_sessions(c, NULL), 1);
    catalog_close(&c);
    assert_int_equal(sql_int(f->path, "PRAGMA user_version"), CATALOG_SCHEMA_VERSION);
    assert_int_equal(sql_int(f->path, "SELECT count(*) FROM sqlite_master WHERE type = 'table' "
                                      "AND name IN ('athletes', 'pods', 'sessions', "
                                      "'runs_synced')"),
                     4);
}

static void test_permissions(void **state)
{
    fixture_t *f = *state;
    mode_t old = umask(022);
    catalog_t *c = open_ok(f->path);
    int64_t id;
    assert_int_equal(catalog_session_begin(c, "anna", "simulator", T0, NULL, &id), 0);
    struct stat st;
    assert_int_equal(stat(f->path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    char wal[160];
    snprintf(wal, sizeof wal, "%s-wal", f->path);
    assert_int_equal(stat(wal, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    catalog_close(&c);
    umask(old);
}

static void test_newer_schema_refused(void **state)
{
    fixture_t *f = *state;
    catalog_t *c = open_ok(f->path);
    catalog_close(&c);
    sqlite3 *db;
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "PRAGMA user_version = 99", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    char err[512] = "";
    assert_null(catalog_open(f->path, err, sizeof err));
    assert_non_null(strstr(err, f->path));
    assert_non_null(strstr(err, "schema version 99"));
}

static void test_open_errors(void **state)
{
    fixture_t *f = *state;
    char err[512] = "", path[160];
    snprintf(path, sizeof path, "%s/no/such/dir/catalog.db", f->dir);
    assert_null(catalog_open(path, err, sizeof err));
    assert_non_null(strstr(err, path));
    /* not a database */
    snprintf(path, sizeof path, "%s/text.db", f->dir);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    for (int i = 0; i < 100; i++)
        fputs("this is not an SQLite database\n", fp);
    fclose(fp);
    err[0] = '\0';
    assert_null(catalog_open(path, err, sizeof err));
    assert_non_null(strstr(err, path));
    assert_non_null(strstr(err, "not a database"));
}

static void test_pairing(void **state)
{
    fixture_t *f = *state;
    catalog_t *c = open_ok(f->path);
    char athlete[64], foot;
    assert_int_equal(catalog_pod_athlete(c, "P0001", athlete, sizeof athlete, &foot),
                     CATALOG_ERR_NOT_FOUND);
    assert_non_null(strstr(catalog_errmsg(c), "P0001"));
    assert_int_equal(catalog_pair_pod(c, "P0001", 'L', "anna"), 0);
    assert_int_equal(catalog_pair_pod(c, "P0002", 'R', "anna"), 0);
    assert_int_equal(catalog_pod_athlete(c, "P0001", athlete, sizeof athlete, &foot), 0);
    assert_string_equal(athlete, "anna");
    assert_int_equal(foot, 'L');
    /* re-pairing replaces */
    assert_int_equal(catalog_pair_pod(c, "P0001", 'R', "ben"), 0);
    assert_int_equal(catalog_pod_athlete(c, "P0001", athlete, sizeof athlete, &foot), 0);
    assert_string_equal(athlete, "ben");
    assert_int_equal(foot, 'R');
    /* seen but never paired */
    assert_int_equal(catalog_pod_seen(c, "P0009", T0), 0);
    assert_int_equal(catalog_pod_athlete(c, "P0009", athlete, sizeof athlete, &foot),
                     CATALOG_ERR_NOT_FOUND);
    assert_int_equal(catalog_pod_seen(c, "P0002", T0), 0);
    assert_int_equal(catalog_pod_athlete(c, "P0002", athlete, sizeof athlete, &foot), 0);
    assert_string_equal(athlete, "anna");
    /* bad arguments */
    assert_int_equal(catalog_pair_pod(c, "P0003", 'X', "anna"), CATALOG_ERR_ARG);
    assert_int_equal(catalog_pair_pod(c, "", 'L', "anna"), CATALOG_ERR_ARG);
    assert_int_equal(catalog_pair_pod(c, "P0003", 'L', ""), CATALOG_ERR_ARG);
    catalog_close(&c);
    assert_int_equal(sql_int(f->path, "SELECT count(*) FROM athletes"), 2);
    assert_int_equal(sql_int(f->path, "SELECT count(*) FROM pods"), 3);
}

typedef struct rows {
    int n;
    int64_t id[16];
    char athlete[16][64];
    char state[16][16];
    double cadence[16];
    double contact_si[16];
    uint32_t strides_l[16];
    int has_focus[16];
    int has_recording[16];
    int has_end[16];
    int stop_after;
} rows_t;

static int collect(const catalog_session_t *r, void *user)
{
    rows_t *rs = user;
    int i = rs->n++;
    rs->id[i] = r->id;
    snprintf(rs->athlete[i], sizeof rs->athlete[i], "%s", r->athlete);
    snprintf(rs->state[i], sizeof rs->state[i], "%s", r->state);
    rs->cadence[i] = r->sum.cadence_spm;
    rs->contact_si[i] = r->sum.contact_si_pct;
    rs->strides_l[i] = r->sum.strides[0];
    rs->has_focus[i] = r->sum.focus_json != NULL;
    rs->has_recording[i] = r->recording != NULL;
    rs->has_end[i] = r->ended_utc != NULL;
    return rs->stop_after && rs->n >= rs->stop_after;
}

static catalog_summary_t summary(double cadence, double contact_si)
{
    catalog_summary_t s;
    catalog_summary_empty(&s);
    s.duration_s = 1800;
    s.strides[0] = 2500;
    s.strides[1] = 2498;
    s.cadence_spm = cadence;
    s.contact_s[0] = 0.25;
    s.contact_s[1] = 0.24;
    s.contact_si_pct = contact_si;
    s.stride_si_pct = 0.1;
    s.step_si_pct = NAN;
    s.summary_json = "{\"type\":\"summary\",\"cadence_spm\":170}";
    s.focus_json = "[{\"area\":\"calves\",\"side\":\"L\",\"score\":0.7,\"evidence\":[]}]";
    return s;
}

static void test_sessions(void **state)
{
    fixture_t *f = *state;
    catalog_t *c = open_ok(f->path);
    int64_t a1, a2, b1;
    const int64_t week = 7LL * 86400 * 1000000;
    assert_int_equal(catalog_session_begin(c, "anna", "simulator", T0, "/rec/anna-1.gaitrec", &a1),
                     0);
    assert_int_equal(catalog_session_begin(c, "ben", "replay", T0 + 1000000, NULL, &b1), 0);
    assert_int_equal(catalog_session_begin(c, "anna", "usb-live", T0 + week, NULL, &a2), 0);
    assert_true(a1 > 0 && b1 > a1 && a2 > b1);

    catalog_summary_t s1 = summary(170.0, 4.0), s2 = summary(172.5, 2.5);
    assert_int_equal(catalog_session_progress(c, a1, T0 + 60000000, NULL), 0);
    assert_int_equal(catalog_session_end(c, a1, T0 + 1800000000LL, CATALOG_COMPLETE, &s1), 0);
    assert_int_equal(catalog_session_end(c, a2, T0 + week + 1800000000LL, CATALOG_COMPLETE, &s2),
                     0);
    /* errors */
    assert_int_equal(catalog_session_end(c, 9999, T0, CATALOG_COMPLETE, NULL),
                     CATALOG_ERR_NOT_FOUND);
    assert_non_null(strstr(catalog_errmsg(c), "9999"));
    assert_int_equal(catalog_session_end(c, b1, T0, "done", NULL), CATALOG_ERR_ARG);
    catalog_summary_t bad = summary(170, 1);
    bad.summary_json = "{not json";
    assert_int_equal(catalog_session_end(c, b1, T0, CATALOG_COMPLETE, &bad), CATALOG_ERR_SQL);
    assert_non_null(strstr(catalog_errmsg(c), f->path));
    /* the failed end was rolled back as a whole: b1 is still running */

    rows_t all = {0};
    assert_int_equal(catalog_list_sessions(c, NULL, collect, &all), 0);
    assert_int_equal(all.n, 3);
    assert_true(all.id[0] == a2 && all.id[1] == b1 && all.id[2] == a1);   /* newest first */
    assert_string_equal(all.state[1], "running");
    assert_false(all.has_end[1]);
    assert_true(isnan(all.cadence[1]));
    assert_string_equal(all.state[2], "complete");
    assert_true(all.has_recording[2] && !all.has_recording[0]);
    assert_true(all.has_end[2]);

    rows_t anna = {0};
    assert_int_equal(catalog_list_sessions(c, "anna", collect, &anna), 0);
    assert_int_equal(anna.n, 2);
    assert_int_equal(catalog_count_sessions(c, "anna"), 2);
    assert_int_equal(catalog_count_sessions(c, "nobody"), 0);

    rows_t hist = {0};
    assert_int_equal(catalog_history(c, "anna", collect, &hist), 0);
    assert_int_equal(hist.n, 2);
    assert_true(hist.id[0] == a1 && hist.id[1] == a2);                     /* oldest first */
    assert_true(fabs(hist.cadence[0] - 170.0) < 1e-9 && fabs(hist.cadence[1] - 172.5) < 1e-9);
    assert_true(fabs(hist.contact_si[1] - 2.5) < 1e-9);
    assert_int_equal(hist.strides_l[0], 2500);
    assert_true(hist.has_focus[0]);

    rows_t ben = {0};
    assert_int_equal(catalog_history(c, "ben", collect, &ben), 0);
    assert_int_equal(ben.n, 0);                                           /* still running */

    rows_t one = {.stop_after = 1};
    assert_int_equal(catalog_list_sessions(c, NULL, collect, &one), CATALOG_ERR_STOPPED);
    assert_int_equal(one.n, 1);
    catalog_close(&c);
}

/* A daemon killed while recording: the child begins sessions and is killed by SIGKILL (no close,
 * no end). The next open marks them interrupted; nothing is lost. */
static void test_crash_marks_interrupted(void **state)
{
    fixture_t *f = *state;
    catalog_t *c = open_ok(f->path);
    int64_t done;
    catalog_summary_t s = summary(171, 3);
    assert_int_equal(catalog_session_begin(c, "anna", "simulator", T0, NULL, &done), 0);
    assert_int_equal(catalog_session_end(c, done, T0 + 1000000, CATALOG_COMPLETE, &s), 0);
    catalog_close(&c);

    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        char err[512];
        catalog_t *cc = catalog_open(f->path, err, sizeof err);
        int64_t id;
        if (!cc || catalog_session_begin(cc, "anna", "usb-live", T0 + 2000000, "a.gaitrec", &id) ||
            catalog_session_progress(cc, id, T0 + 62000000, NULL) ||
            catalog_session_begin(cc, "ben", "usb-live", T0 + 3000000, "b.gaitrec", &id))
            _exit(1);
        raise(SIGKILL);              /* kill -9: no catalog_close, no session end */
        _exit(2);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);

    c = open_ok(f->path);
    assert_int_equal(catalog_count_sessions(c, NULL), 3);
    assert_int_equal(catalog_mark_interrupted(c), 2);
    assert_int_equal(catalog_mark_interrupted(c), 0);                     /* idempotent */
    rows_t all = {0};
    assert_int_equal(catalog_list_sessions(c, NULL, collect, &all), 0);
    assert_int_equal(all.n, 3);
    assert_string_equal(all.state[0], "interrupted");
    assert_string_equal(all.state[1], "interrupted");
    assert_string_equal(all.state[2], "complete");
    assert_true(all.has_end[0] && all.has_end[1]);
    assert_true(all.has_recording[0]);
    catalog_close(&c);
    /* the end time of an interrupted session is its last progress update */
    assert_int_equal(sql_int(f->path, "SELECT count(*) FROM sessions WHERE athlete = 'anna' AND "
                                      "state = 'interrupted' AND ended_utc > started_utc"),
                     1);
}

static void test_runs_synced(void **state)
{
    fixture_t *f = *state;
    catalog_t *c = open_ok(f->path);
    int64_t id;
    assert_int_equal(catalog_session_begin(c, "anna", "usb-sync", T0, NULL, &id), 0);
    assert_int_equal(catalog_session_end(c, id, T0 + 1000000, CATALOG_SYNCED, NULL), 0);
    assert_int_equal(catalog_is_run_synced(c, "P0001", 7), 0);
    assert_int_equal(catalog_run_synced(c, "P0001", 7, id), 0);
    assert_int_equal(catalog_run_synced(c, "P0001", 7, id), 0);           /* again: fine */
    assert_int_equal(catalog_run_synced(c, "P0001", 8, 0), 0);
    assert_int_equal(catalog_is_run_synced(c, "P0001", 7), 1);
    assert_int_equal(catalog_is_run_synced(c, "P0001", 8), 1);
    assert_int_equal(catalog_is_run_synced(c, "P0002", 7), 0);
    rows_t r = {0};
    assert_int_equal(catalog_history(c, "anna", collect, &r), 0);
    assert_int_equal(r.n, 1);
    assert_string_equal(r.state[0], "synced");
    catalog_close(&c);
}

static int json_cb(const catalog_session_t *row, void *user)
{
    json_array_append_new(user, catalog_session_json(row));
    return 0;
}

static int pods_cb(const char *serial, const char *athlete, char foot, void *user)
{
    char *out = user;
    char line[128];
    snprintf(line, sizeof line, "%s=%s:%c;", serial, athlete ? athlete : "-", foot ? foot : '-');
    strncat(out, line, 511 - strlen(out));
    return 0;
}

/* catalog_list_pods, catalog_session_json, baseline_from_catalog (the focus baseline of gaitd's
 * sessions: stored focus_metrics of the athlete's finished sessions only). */
static void test_pods_json_baseline(void **state)
{
    fixture_t *f = *state;
    catalog_t *c = open_ok(f->path);
    assert_int_equal(catalog_pair_pod(c, "P2", 'R', "anna"), 0);
    assert_int_equal(catalog_pair_pod(c, "P1", 'L', "anna"), 0);
    assert_int_equal(catalog_pod_seen(c, "P9", T0), 0);               /* unpaired */
    char out[512] = "";
    assert_int_equal(catalog_list_pods(c, pods_cb, out), 0);
    assert_string_equal(out, "P1=anna:L;P2=anna:R;P9=-:-;");

    for (int i = 0; i < 3; i++) {
        int64_t id;
        assert_int_equal(catalog_session_begin(c, "anna", "usb-live", T0 + i * 1000000000LL,
                                               "/data/a.gaitrec", &id), 0);
        catalog_summary_t cs;
        catalog_summary_empty(&cs);
        char sj[160];
        snprintf(sj, sizeof sj, "{\"type\":\"summary\",\"focus_metrics\":{\"contact_si_pct\":%d,"
                 "\"cadence_spm\":170}}", 2 * i);
        cs.summary_json = sj;
        cs.focus_json = "[{\"area\":\"calves\",\"side\":\"L\",\"score\":0.7}]";
        cs.cadence_spm = 170;
        if (i < 2)
            assert_int_equal(catalog_session_end(c, id, T0 + i * 1000000000LL + 60000000, CATALOG_COMPLETE,
                                                 &cs), 0);
        else                     /* still running: not part of the baseline */
            assert_int_equal(catalog_session_progress(c, id, T0 + i * 1000000000LL + 1000, &cs), 0);
    }
    focus_baseline_t b;
    focus_baseline_init(&b);
    assert_int_equal(baseline_from_catalog(c, "anna", 0, &b), 2);
    assert_int_equal(baseline_from_catalog(c, "nobody", 0, &b), 0);
    focus_baseline_init(&b);
    assert_int_equal(baseline_from_catalog(c, "anna", 2, &b), 1);     /* sessions before id 2 */

    json_t *arr = json_array();
    assert_int_equal(catalog_list_sessions(c, "anna", json_cb, arr), 0);
    assert_int_equal(json_array_size(arr), 3);
    json_t *o = json_array_get(arr, 2);                                   /* oldest */
    assert_string_equal(json_string_value(json_object_get(o, "type")), "session");
    assert_string_equal(json_string_value(json_object_get(o, "athlete")), "anna");
    assert_string_equal(json_string_value(json_object_get(o, "state")), "complete");
    assert_string_equal(json_string_value(json_object_get(o, "recording")), "/data/a.gaitrec");
    assert_true(json_number_value(json_object_get(o, "cadence_spm")) == 170.0);
    assert_true(json_is_null(json_object_get(json_object_get(o, "symmetry"), "contact_si_pct")));
    assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(o, "focus"), 0),
                                                          "area")),
                        "calves");
    assert_string_equal(json_string_value(json_object_get(json_array_get(arr, 0), "state")), "running");
    json_decref(arr);
    catalog_close(&c);
}

static void test_summary_from_dsp(void **state)
{
    (void)state;
    dsp_summary_t d;
    memset(&d, 0, sizeof d);
    d.duration_s = 600;
    d.n_strides[0] = 800;
    d.n_strides[1] = 801;
    d.cadence_spm = 168;
    d.main.foot[0].n = 800;
    d.main.foot[0].contact_s = 0.26;
    d.main.foot[1].n = 0;
    d.main.foot[1].contact_s = NAN;
    d.main.contact_si_pct = NAN;
    d.main.stride_si_pct = 0.5;
    d.main.step_si_pct = -1.0;
    catalog_summary_t s;
    catalog_summary_from_dsp(&d, &s);
    assert_true(s.duration_s == 600 && s.strides[0] == 800 && s.strides[1] == 801);
    assert_true(s.cadence_spm == 168 && s.contact_s[0] == 0.26 && isnan(s.contact_s[1]));
    assert_true(isnan(s.contact_si_pct) && s.stride_si_pct == 0.5 && s.step_si_pct == -1.0);
    assert_null(s.summary_json);
    char buf[32];
    assert_string_equal(catalog_utc(0, buf, sizeof buf), "1970-01-01T00:00:00.000Z");
    assert_string_equal(catalog_utc(1795000000123456LL, buf, sizeof buf),
                        "2026-11-18T11:06:40.123Z");
    assert_string_equal(catalog_strerror(CATALOG_ERR_NOT_FOUND), "not found");
}

/* The daemon writes while a reader (gaitctl) has the catalog open: WAL, so a reader in the
 * middle of a listing (an open read transaction) does not block the writer, and the next
 * listing sees every commit. */
typedef struct writer_ctx {
    catalog_t *w;
    int64_t id;
    int rc, rows;
} writer_ctx_t;

static int write_while_reading(const catalog_session_t *row, void *user)
{
    writer_ctx_t *x = user;
    (void)row;
    catalog_summary_t s = summary(170, 1);
    x->rows++;
    x->rc = catalog_session_end(x->w, x->id, T0 + 1000000, CATALOG_COMPLETE, &s);
    return 0;
}

static void test_reader_and_writer(void **state)
{
    fixture_t *f = *state;
    catalog_t *w = open_ok(f->path), *r = open_ok(f->path);
    writer_ctx_t x = {.w = w, .rc = -100};
    assert_int_equal(catalog_session_begin(w, "anna", "usb-live", T0, NULL, &x.id), 0);
    assert_int_equal(catalog_count_sessions(r, NULL), 1);
    assert_int_equal(catalog_list_sessions(r, NULL, write_while_reading, &x), 0);
    assert_int_equal(x.rows, 1);
    assert_int_equal(x.rc, 0);
    int64_t b;
    assert_int_equal(catalog_session_begin(w, "anna", "usb-live", T0 + 2000000, NULL, &b), 0);
    rows_t h = {0};
    assert_int_equal(catalog_history(r, "anna", collect, &h), 0);
    assert_int_equal(h.n, 1);
    assert_string_equal(h.state[0], "complete");
    assert_int_equal(catalog_count_sessions(r, "anna"), 2);
    catalog_close(&r);
    catalog_close(&w);
}

/* Runs cmd(argc, argv) with stdout captured into out[cap]; returns its exit status. */
static int run_captured(int (*cmd)(int, char **), int argc, char **argv, char *out, size_t cap)
{
    char path[] = "/tmp/test_catalog_out.XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    fflush(stdout);
    int saved = dup(1);
    assert_true(saved >= 0);
    assert_int_equal(dup2(fd, 1), 1);
    int rc = cmd(argc, argv);
    fflush(stdout);
    assert_int_equal(dup2(saved, 1), 1);
    close(saved);
    ssize_t n = pread(fd, out, cap - 1, 0);
    assert_true(n >= 0);
    out[n] = '\0';
    close(fd);
    unlink(path);
    return rc;
}

static void test_gaitctl_sessions_history(void **state)
{
    fixture_t *f = *state;
    catalog_t *c = open_ok(f->path);
    const int64_t day = 86400LL * 1000000;
    int64_t id;
    /* anna: three finished sessions over two ISO weeks (2026-11-18 is a Wednesday of W47),
     * one running; ben: one */
    double cad[3] = {168, 170, 174}, si[3] = {6.0, 4.0, 2.0};
    int64_t t[3] = {T0, T0 + 2 * day, T0 + 7 * day};
    for (int i = 0; i < 3; i++) {
        catalog_summary_t s = summary(cad[i], si[i]);
        assert_int_equal(catalog_session_begin(c, "anna", "simulator", t[i], NULL, &id), 0);
        assert_int_equal(catalog_session_end(c, id, t[i] + 1800000000LL, CATALOG_COMPLETE, &s), 0);
    }
    assert_int_equal(catalog_session_begin(c, "anna", "usb-live", T0 + 8 * day, NULL, &id), 0);
    assert_int_equal(catalog_session_begin(c, "ben", "replay", T0, NULL, &id), 0);
    catalog_close(&c);

    static char out[16384];
    char *a1[] = {"sessions", "--db", f->path};
    assert_int_equal(run_captured(cmd_sessions, 3, a1, out, sizeof out), 0);
    assert_non_null(strstr(out, "anna"));
    assert_non_null(strstr(out, "ben"));
    assert_non_null(strstr(out, "running"));
    assert_non_null(strstr(out, "calves L 0.70"));

    char *a2[] = {"sessions", "--json", "--db", f->path, "anna"};
    assert_int_equal(run_captured(cmd_sessions, 5, a2, out, sizeof out), 0);
    int lines = 0;
    for (char *p = out; (p = strchr(p, '\n')); p++)
        lines++;
    assert_int_equal(lines, 4);
    assert_null(strstr(out, "ben"));
    assert_non_null(strstr(out, "\"type\":\"session\""));
    assert_non_null(strstr(out, "\"week\":\"2026-W47\""));
    assert_non_null(strstr(out, "\"state\":\"running\""));
    assert_non_null(strstr(out, "\"area\":\"calves\""));

    char *a3[] = {"history", "--db", f->path, "--json", "anna"};
    assert_int_equal(run_captured(cmd_history, 5, a3, out, sizeof out), 0);
    /* oldest first, running session left out, then one object per week */
    char *s1 = strstr(out, "\"cadence_spm\":168"), *s3 = strstr(out, "\"cadence_spm\":174");
    assert_non_null(s1);
    assert_non_null(s3);
    assert_true(s1 < s3);
    assert_null(strstr(out, "running"));
    char *w47 = strstr(out, "{\"type\":\"week\",\"athlete\":\"anna\",\"week\":\"2026-W47\","
                            "\"sessions\":2");
    char *w48 = strstr(out, "{\"type\":\"week\",\"athlete\":\"anna\",\"week\":\"2026-W48\","
                            "\"sessions\":1");
    assert_non_null(w47);
    assert_non_null(w48);
    assert_non_null(strstr(w47, "\"cadence_spm\":169.0,\"contact_si_pct\":5.0,"));

    char *a4[] = {"history", "--db", f->path, "anna"};
    assert_int_equal(run_captured(cmd_history, 4, a4, out, sizeof out), 0);
    assert_non_null(strstr(out, "2026-W47"));
    assert_non_null(strstr(out, "vs first session: cadence +6.0 spm, contact SI -4.0 pp"));

    char *a5[] = {"history", "--db", f->path, "ben"};
    assert_int_equal(run_captured(cmd_history, 4, a5, out, sizeof out), 0);
    assert_non_null(strstr(out, "no finished sessions of ben; some are still running"));

    /* usage and missing catalog */
    char *a6[] = {"history", "--db", f->path};
    assert_int_equal(run_captured(cmd_history, 3, a6, out, sizeof out), 2);
    char *a7[] = {"sessions", "--bogus"};
    assert_int_equal(run_captured(cmd_sessions, 2, a7, out, sizeof out), 2);
    char missing[160];
    snprintf(missing, sizeof missing, "%s/missing.db", f->dir);
    char *a8[] = {"sessions", "--db", missing};
    assert_int_equal(run_captured(cmd_sessions, 3, a8, out, sizeof out), 1);
    struct stat st;
    assert_int_equal(stat(missing, &st), -1);                       /* a reader never creates */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_create_and_reopen, setup, teardown),
        cmocka_unit_test_setup_teardown(test_permissions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_newer_schema_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pairing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sessions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_crash_marks_interrupted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_runs_synced, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pods_json_baseline, setup, teardown),
        cmocka_unit_test(test_summary_from_dsp),
        cmocka_unit_test_setup_teardown(test_gaitctl_sessions_history, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reader_and_writer, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
