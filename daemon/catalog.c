/* catalog.c - SQLite session catalog (see catalog.h). */
#include "catalog.h"
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "alloc.h"

/* Migration steps: steps[i] takes the schema from version i to i + 1. Append, never edit. */
static const char *const migrations[] = {
    /* v1 */
    "CREATE TABLE athletes (\n"
    "  name TEXT PRIMARY KEY NOT NULL,\n"
    "  created_utc TEXT NOT NULL\n"
    ");\n"
    "CREATE TABLE pods (\n"
    "  serial TEXT PRIMARY KEY NOT NULL,\n"
    "  foot TEXT CHECK (foot IN ('L', 'R')),\n"
    "  athlete TEXT REFERENCES athletes(name),\n"
    "  paired_utc TEXT,\n"
    "  last_seen_utc TEXT\n"
    ");\n"
    "CREATE TABLE sessions (\n"
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,\n"
    "  athlete TEXT NOT NULL REFERENCES athletes(name),\n"
    "  source TEXT NOT NULL,\n"
    "  started_utc TEXT NOT NULL,\n"
    "  ended_utc TEXT,\n"
    "  updated_utc TEXT NOT NULL,\n"
    "  state TEXT NOT NULL DEFAULT 'running'\n"
    "    CHECK (state IN ('running', 'complete', 'interrupted', 'synced')),\n"
    "  recording TEXT,\n"
    "  duration_s REAL,\n"
    "  strides_l INTEGER NOT NULL DEFAULT 0,\n"
    "  strides_r INTEGER NOT NULL DEFAULT 0,\n"
    "  cadence_spm REAL,\n"
    "  contact_l_s REAL,\n"
    "  contact_r_s REAL,\n"
    "  contact_si_pct REAL,\n"
    "  stride_si_pct REAL,\n"
    "  step_si_pct REAL,\n"
    "  summary_json TEXT CHECK (summary_json IS NULL OR json_valid(summary_json)),\n"
    "  focus_json TEXT CHECK (focus_json IS NULL OR json_valid(focus_json))\n"
    ");\n"
    "CREATE INDEX sessions_athlete_started ON sessions(athlete, started_utc);\n"
    "CREATE INDEX sessions_state ON sessions(state);\n"
    "CREATE TABLE runs_synced (\n"
    "  pod_serial TEXT NOT NULL,\n"
    "  run_id INTEGER NOT NULL,\n"
    "  session_id INTEGER REFERENCES sessions(id),\n"
    "  synced_utc TEXT NOT NULL,\n"
    "  PRIMARY KEY (pod_serial, run_id)\n"
    ");\n",
};
#define N_MIGRATIONS ((int)(sizeof migrations / sizeof migrations[0]))
_Static_assert(N_MIGRATIONS == CATALOG_SCHEMA_VERSION, "one migration step per schema version");

#define SESSION_COLS                                                                          \
    "id, athlete, source, started_utc, ended_utc, state, recording, duration_s, strides_l, " \
    "strides_r, cadence_spm, contact_l_s, contact_r_s, contact_si_pct, stride_si_pct, "      \
    "step_si_pct, summary_json, focus_json"

/* Prepared statements, made on first use and kept until close. */
enum stmt_id {
    ST_ATHLETE_ADD,
    ST_POD_PAIR,
    ST_POD_GET,
    ST_POD_SEEN,
    ST_SESSION_BEGIN,
    ST_SESSION_PROGRESS,
    ST_SESSION_METRICS,
    ST_SESSION_END,
    ST_MARK_INTERRUPTED,
    ST_LIST_ALL,
    ST_LIST_ATHLETE,
    ST_HISTORY,
    ST_COUNT_ALL,
    ST_COUNT_ATHLETE,
    ST_RUN_SYNCED,
    ST_RUN_IS_SYNCED,
    ST_MERGED_INTO,
    ST_ONE_FOOT_SYNCED,
    ST_COUNT_
};

static const char *const stmt_sql[ST_COUNT_] = {
    [ST_ATHLETE_ADD] = "INSERT OR IGNORE INTO athletes(name, created_utc) VALUES (?1, ?2)",
    [ST_POD_PAIR] = "INSERT INTO pods(serial, foot, athlete, paired_utc) VALUES (?1, ?2, ?3, ?4) "
                    "ON CONFLICT(serial) DO UPDATE SET foot = ?2, athlete = ?3, paired_utc = ?4",
    [ST_POD_GET] = "SELECT athlete, foot FROM pods WHERE serial = ?1",
    [ST_POD_SEEN] = "INSERT INTO pods(serial, last_seen_utc) VALUES (?1, ?2) "
                    "ON CONFLICT(serial) DO UPDATE SET last_seen_utc = ?2",
    [ST_SESSION_BEGIN] = "INSERT INTO sessions(athlete, source, started_utc, updated_utc, state, "
                         "recording) VALUES (?1, ?2, ?3, ?3, 'running', ?4)",
    [ST_SESSION_PROGRESS] = "UPDATE sessions SET updated_utc = ?2 WHERE id = ?1",
    [ST_SESSION_METRICS] = "UPDATE sessions SET duration_s = ?2, strides_l = ?3, strides_r = ?4, "
                           "cadence_spm = ?5, contact_l_s = ?6, contact_r_s = ?7, "
                           "contact_si_pct = ?8, stride_si_pct = ?9, step_si_pct = ?10, "
                           "summary_json = ?11, focus_json = ?12 WHERE id = ?1",
    [ST_SESSION_END] = "UPDATE sessions SET state = ?2, ended_utc = ?3, updated_utc = ?3 "
                       "WHERE id = ?1",
    [ST_MARK_INTERRUPTED] = "UPDATE sessions SET state = 'interrupted', ended_utc = updated_utc "
                            "WHERE state = 'running'",
    [ST_LIST_ALL] = "SELECT " SESSION_COLS " FROM sessions ORDER BY started_utc DESC, id DESC",
    [ST_LIST_ATHLETE] = "SELECT " SESSION_COLS " FROM sessions WHERE athlete = ?1 "
                        "ORDER BY started_utc DESC, id DESC",
    [ST_HISTORY] = "SELECT " SESSION_COLS " FROM sessions WHERE athlete = ?1 AND "
                   "state <> 'running' ORDER BY started_utc, id",
    [ST_COUNT_ALL] = "SELECT count(*) FROM sessions",
    [ST_COUNT_ATHLETE] = "SELECT count(*) FROM sessions WHERE athlete = ?1",
    [ST_RUN_SYNCED] = "INSERT OR IGNORE INTO runs_synced(pod_serial, run_id, session_id, "
                      "synced_utc) VALUES (?1, ?2, ?3, ?4)",
    [ST_RUN_IS_SYNCED] = "SELECT 1 FROM runs_synced WHERE pod_serial = ?1 AND run_id = ?2",
    [ST_MERGED_INTO] = "UPDATE sessions SET summary_json = json_set(coalesce(summary_json, '{}'), "
                       "'$.merged_into', ?2) WHERE id = ?1",
    /* synced sessions of one run each, not merged into another, overlapping [?2, ?3) (Unix s)
     * by at least half of the shorter of the two */
    [ST_ONE_FOOT_SYNCED] =
        "SELECT id, recording FROM (SELECT id, recording, "
        "(julianday(started_utc) - 2440587.5) * 86400.0 AS t0, "
        "(julianday(started_utc) - 2440587.5) * 86400.0 + coalesce(duration_s, 0) AS t1 "
        "FROM sessions WHERE athlete = ?1 AND state = 'synced' AND recording IS NOT NULL "
        "AND json_extract(coalesce(summary_json, '{}'), '$.merged_into') IS NULL "
        "AND (SELECT count(*) FROM runs_synced r WHERE r.session_id = sessions.id) = 1) "
        "WHERE t1 > t0 AND min(t1, ?3) - max(t0, ?2) >= 0.5 * min(t1 - t0, ?3 - ?2) "
        "ORDER BY t0 DESC, id DESC",
};

struct catalog {
    sqlite3 *db;
    char *path;
    sqlite3_stmt *st[ST_COUNT_];
    char err[512];
};

const char *catalog_strerror(int code)
{
    switch (code) {
    case CATALOG_OK: return "ok";
    case CATALOG_ERR_SQL: return "database error";
    case CATALOG_ERR_VERSION: return "database schema newer than this program";
    case CATALOG_ERR_NOT_FOUND: return "not found";
    case CATALOG_ERR_ARG: return "invalid argument";
    case CATALOG_ERR_IO: return "cannot create the database file";
    case CATALOG_ERR_STOPPED: return "stopped by the caller";
    default: return "unknown error";
    }
}

__attribute__((format(printf, 3, 4))) static int fail(catalog_t *c, int code, const char *fmt, ...)
{
    char msg[384];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(c->err, sizeof c->err, "%s: %s", c->path, msg);
    return code;
}

/* Fails with SQLite's message for what: "catalog.db: session_end: database is locked". */
static int fail_sql(catalog_t *c, const char *what)
{
    return fail(c, CATALOG_ERR_SQL, "%s: %s", what, sqlite3_errmsg(c->db));
}

char *catalog_utc(int64_t unix_us, char *buf, size_t cap)
{
    time_t secs = (time_t)(unix_us >= 0 ? unix_us / 1000000 : -((-unix_us + 999999) / 1000000));
    int ms = (int)((unix_us - (int64_t)secs * 1000000) / 1000);
    struct tm tm;
    if (!gmtime_r(&secs, &tm)) {
        snprintf(buf, cap, "1970-01-01T00:00:00.000Z");
        return buf;
    }
    snprintf(buf, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
    return buf;
}

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int check_name(catalog_t *c, const char *what, const char *s)
{
    if (!s || !*s)
        return fail(c, CATALOG_ERR_ARG, "%s: empty", what);
    size_t n = strlen(s);
    if (n > CATALOG_NAME_MAX)
        return fail(c, CATALOG_ERR_ARG, "%s '%.20s...': longer than %d bytes", what, s,
                    CATALOG_NAME_MAX);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return fail(c, CATALOG_ERR_ARG, "%s: control character at byte %zu", what, i);
    return CATALOG_OK;
}

/* Returns the statement id, reset and with bindings cleared, or NULL (error set). */
static sqlite3_stmt *stmt(catalog_t *c, enum stmt_id id)
{
    if (!c->st[id]) {
        if (sqlite3_prepare_v3(c->db, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT, &c->st[id],
                               NULL) != SQLITE_OK) {
            fail_sql(c, "prepare");
            c->st[id] = NULL;
            return NULL;
        }
    } else {
        sqlite3_reset(c->st[id]);
        sqlite3_clear_bindings(c->st[id]);
    }
    return c->st[id];
}

static int exec(catalog_t *c, const char *sql, const char *what)
{
    char *msg = NULL;
    if (sqlite3_exec(c->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        int rc = fail(c, CATALOG_ERR_SQL, "%s: %s", what, msg ? msg : sqlite3_errmsg(c->db));
        sqlite3_free(msg);
        return rc;
    }
    return CATALOG_OK;
}

static int begin(catalog_t *c)
{
    return exec(c, "BEGIN IMMEDIATE", "begin transaction");
}

static int commit(catalog_t *c)
{
    return exec(c, "COMMIT", "commit");
}

static void rollback(catalog_t *c)
{
    if (!sqlite3_get_autocommit(c->db))
        sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
}

/* Runs a statement that returns no rows. */
static int step_done(catalog_t *c, sqlite3_stmt *s, const char *what)
{
    int rc = sqlite3_step(s);
    if (rc != SQLITE_DONE) {
        int r = fail_sql(c, what);
        sqlite3_reset(s);
        return r;
    }
    sqlite3_reset(s);
    return CATALOG_OK;
}

static void bind_text(sqlite3_stmt *s, int i, const char *v)
{
    if (v)
        sqlite3_bind_text(s, i, v, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(s, i);
}

static void bind_real(sqlite3_stmt *s, int i, double v)
{
    if (isfinite(v))
        sqlite3_bind_double(s, i, v);
    else
        sqlite3_bind_null(s, i);
}

static int user_version(catalog_t *c, int *v)
{
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(c->db, "PRAGMA user_version", -1, &s, NULL) != SQLITE_OK)
        return fail_sql(c, "read schema version");
    int rc = sqlite3_step(s);
    if (rc != SQLITE_ROW) {
        int r = fail_sql(c, "read schema version");
        sqlite3_finalize(s);
        return r;
    }
    *v = sqlite3_column_int(s, 0);
    sqlite3_finalize(s);
    return CATALOG_OK;
}

/* Applies the migration steps the database lacks, each with its version bump in one
 * transaction (the version is re-read inside it, so two processes opening at once are safe). */
static int migrate(catalog_t *c)
{
    /* up to date (the usual case): no write transaction, so a catalog that another process
     * holds locked, or a read-only one, still opens (its writes fail later and are retried) */
    int v0;
    if (user_version(c, &v0) == CATALOG_OK && v0 == N_MIGRATIONS)
        return CATALOG_OK;
    for (;;) {
        int rc = begin(c);
        if (rc)
            return rc;
        int v;
        if ((rc = user_version(c, &v)) != CATALOG_OK) {
            rollback(c);
            return rc;
        }
        if (v > N_MIGRATIONS) {
            rollback(c);
            return fail(c, CATALOG_ERR_VERSION,
                        "schema version %d is newer than this program's (%d): use a newer gaitd",
                        v, N_MIGRATIONS);
        }
        if (v < 0) {
            rollback(c);
            return fail(c, CATALOG_ERR_VERSION, "invalid schema version %d", v);
        }
        if (v == N_MIGRATIONS) {
            rollback(c);
            return CATALOG_OK;
        }
        char what[64], bump[64];
        snprintf(what, sizeof what, "migration to schema version %d", v + 1);
        snprintf(bump, sizeof bump, "PRAGMA user_version = %d", v + 1);
        if ((rc = exec(c, migrations[v], what)) != CATALOG_OK ||
            (rc = exec(c, bump, what)) != CATALOG_OK || (rc = commit(c)) != CATALOG_OK) {
            rollback(c);
            return rc;
        }
    }
}

/* Creates path with mode 0600 if it does not exist yet (SQLite would use 0644). The -wal and
 * -shm files SQLite makes later take the database file's permissions. */
static int create_private(const char *path, char *err, size_t errcap)
{
    int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd >= 0) {
        close(fd);
        return 0;
    }
    if (errno == EEXIST)
        return 0;
    snprintf(err, errcap, "%s: cannot create the catalog: %s", path, strerror(errno));
    return -1;
}

catalog_t *catalog_open(const char *path, char *err, size_t errcap)
{
    if (!path || !*path) {
        snprintf(err, errcap, "catalog: empty database path");
        return NULL;
    }
    if (create_private(path, err, errcap) != 0)
        return NULL;
    catalog_t *c = xcalloc(1, sizeof *c);
    c->path = xstrdup(path);
    int rc = sqlite3_open_v2(path, &c->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        snprintf(err, errcap, "%s: cannot open the catalog: %s", path,
                 c->db ? sqlite3_errmsg(c->db) : sqlite3_errstr(rc));
        catalog_close(&c);
        return NULL;
    }
    sqlite3_extended_result_codes(c->db, 1);
    sqlite3_busy_timeout(c->db, 5000);
    const char *mode = catalog_journal_mode(c);
    if (mode && strcmp(mode, "wal") != 0) {
        sqlite3_stmt *s = NULL;
        if (sqlite3_prepare_v2(c->db, "PRAGMA journal_mode = WAL", -1, &s, NULL) == SQLITE_OK)
            sqlite3_step(s);
        sqlite3_finalize(s);
        mode = catalog_journal_mode(c);
    }
    if (!mode || strcmp(mode, "wal") != 0) {
        snprintf(err, errcap, "%s: cannot switch the catalog to WAL mode (journal mode %s): %s",
                 path, mode ? mode : "unknown", sqlite3_errmsg(c->db));
        catalog_close(&c);
        return NULL;
    }
    if (exec(c, "PRAGMA foreign_keys = ON; PRAGMA synchronous = FULL", "set up") != CATALOG_OK ||
        migrate(c) != CATALOG_OK) {
        snprintf(err, errcap, "%s", c->err);
        catalog_close(&c);
        return NULL;
    }
    c->err[0] = '\0';
    return c;
}

void catalog_close(catalog_t **cp)
{
    catalog_t *c = *cp;
    if (!c)
        return;
    for (int i = 0; i < ST_COUNT_; i++)
        sqlite3_finalize(c->st[i]);
    if (c->db)
        sqlite3_close(c->db);
    xfree(c->path);
    xfree(c);
    *cp = NULL;
}

const char *catalog_errmsg(const catalog_t *c)
{
    return c->err;
}

const char *catalog_path(const catalog_t *c)
{
    return c->path;
}

int catalog_schema_version(catalog_t *c)
{
    int v;
    return user_version(c, &v) == CATALOG_OK ? v : CATALOG_ERR_SQL;
}

const char *catalog_journal_mode(catalog_t *c)
{
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(c->db, "PRAGMA journal_mode", -1, &s, NULL) != SQLITE_OK)
        return NULL;
    const char *out = NULL;
    if (sqlite3_step(s) == SQLITE_ROW) {
        const char *m = (const char *)sqlite3_column_text(s, 0);
        static const char *const modes[] = {"wal", "delete", "truncate", "persist", "memory",
                                            "off"};
        for (size_t i = 0; m && i < sizeof modes / sizeof modes[0]; i++)
            if (!sqlite3_stricmp(m, modes[i]))
                out = modes[i];
    }
    sqlite3_finalize(s);
    return out;
}

/* Inserts athlete if new (inside the caller's transaction). */
static int athlete_add(catalog_t *c, const char *athlete, const char *now)
{
    sqlite3_stmt *s = stmt(c, ST_ATHLETE_ADD);
    if (!s)
        return CATALOG_ERR_SQL;
    bind_text(s, 1, athlete);
    bind_text(s, 2, now);
    return step_done(c, s, "add athlete");
}

int catalog_pair_pod(catalog_t *c, const char *serial, char foot, const char *athlete)
{
    int rc;
    if ((rc = check_name(c, "pod serial", serial)) || (rc = check_name(c, "athlete", athlete)))
        return rc;
    if (foot != 'L' && foot != 'R')
        return fail(c, CATALOG_ERR_ARG, "pod %s: foot must be L or R", serial);
    char now[32], f[2] = {foot, 0};
    catalog_utc(now_us(), now, sizeof now);
    if ((rc = begin(c)))
        return rc;
    if ((rc = athlete_add(c, athlete, now)))
        goto err;
    sqlite3_stmt *s = stmt(c, ST_POD_PAIR);
    if (!s) {
        rc = CATALOG_ERR_SQL;
        goto err;
    }
    bind_text(s, 1, serial);
    bind_text(s, 2, f);
    bind_text(s, 3, athlete);
    bind_text(s, 4, now);
    if ((rc = step_done(c, s, "pair pod")) || (rc = commit(c)))
        goto err;
    return CATALOG_OK;
err:
    rollback(c);
    return rc;
}

int catalog_pod_athlete(catalog_t *c, const char *serial, char *athlete, size_t cap, char *foot)
{
    int rc;
    if ((rc = check_name(c, "pod serial", serial)))
        return rc;
    sqlite3_stmt *s = stmt(c, ST_POD_GET);
    if (!s)
        return CATALOG_ERR_SQL;
    bind_text(s, 1, serial);
    rc = sqlite3_step(s);
    if (rc == SQLITE_DONE || (rc == SQLITE_ROW && sqlite3_column_type(s, 0) == SQLITE_NULL)) {
        sqlite3_reset(s);
        return fail(c, CATALOG_ERR_NOT_FOUND, "pod %s is not paired with an athlete", serial);
    }
    if (rc != SQLITE_ROW) {
        rc = fail_sql(c, "look up pod");
        sqlite3_reset(s);
        return rc;
    }
    const char *a = (const char *)sqlite3_column_text(s, 0);
    const char *f = (const char *)sqlite3_column_text(s, 1);
    if (athlete && cap)
        snprintf(athlete, cap, "%s", a ? a : "");
    if (foot)
        *foot = f ? f[0] : '?';
    sqlite3_reset(s);
    return CATALOG_OK;
}

int catalog_pod_seen(catalog_t *c, const char *serial, int64_t unix_us)
{
    int rc;
    if ((rc = check_name(c, "pod serial", serial)))
        return rc;
    char t[32];
    sqlite3_stmt *s = stmt(c, ST_POD_SEEN);
    if (!s)
        return CATALOG_ERR_SQL;
    bind_text(s, 1, serial);
    bind_text(s, 2, catalog_utc(unix_us, t, sizeof t));
    return step_done(c, s, "pod seen");
}

int catalog_session_begin(catalog_t *c, const char *athlete, const char *source,
                          int64_t start_unix_us, const char *recording, int64_t *id)
{
    int rc;
    if ((rc = check_name(c, "athlete", athlete)))
        return rc;
    if (!source || !*source)
        return fail(c, CATALOG_ERR_ARG, "session of %s: empty source", athlete);
    char start[32], now[32];
    catalog_utc(start_unix_us, start, sizeof start);
    catalog_utc(now_us(), now, sizeof now);
    if ((rc = begin(c)))
        return rc;
    if ((rc = athlete_add(c, athlete, now)))
        goto err;
    sqlite3_stmt *s = stmt(c, ST_SESSION_BEGIN);
    if (!s) {
        rc = CATALOG_ERR_SQL;
        goto err;
    }
    bind_text(s, 1, athlete);
    bind_text(s, 2, source);
    bind_text(s, 3, start);
    bind_text(s, 4, recording);
    if ((rc = step_done(c, s, "begin session")))
        goto err;
    int64_t new_id = sqlite3_last_insert_rowid(c->db);
    if ((rc = commit(c)))
        goto err;
    if (id)
        *id = new_id;
    return CATALOG_OK;
err:
    rollback(c);
    return rc;
}

/* Stores sum's metrics into session id (inside the caller's transaction). */
static int store_metrics(catalog_t *c, int64_t id, const catalog_summary_t *sum)
{
    sqlite3_stmt *s = stmt(c, ST_SESSION_METRICS);
    if (!s)
        return CATALOG_ERR_SQL;
    sqlite3_bind_int64(s, 1, id);
    bind_real(s, 2, sum->duration_s);
    sqlite3_bind_int64(s, 3, sum->strides[0]);
    sqlite3_bind_int64(s, 4, sum->strides[1]);
    bind_real(s, 5, sum->cadence_spm);
    bind_real(s, 6, sum->contact_s[0]);
    bind_real(s, 7, sum->contact_s[1]);
    bind_real(s, 8, sum->contact_si_pct);
    bind_real(s, 9, sum->stride_si_pct);
    bind_real(s, 10, sum->step_si_pct);
    bind_text(s, 11, sum->summary_json);
    bind_text(s, 12, sum->focus_json);
    int rc = step_done(c, s, "store session metrics");
    if (rc == CATALOG_OK && sqlite3_changes(c->db) != 1)
        rc = fail(c, CATALOG_ERR_NOT_FOUND, "no session %lld", (long long)id);
    return rc;
}

/* One transaction: runs statement `which` on session id (binding id, then state when not NULL,
 * then the UTC time of t_unix_us), requires that it changed exactly that session, then stores sum
 * when given. Rolls back on any error. */
static int run_synced_row(catalog_t *c, const char *serial, uint32_t run_id, int64_t session_id);

/* One transaction: the session's row (and its metrics), and with run_serial the runs_synced row
 * of run_id pointing at it. */
static int session_update(catalog_t *c, int which, int64_t id, const char *state, int64_t t_unix_us,
                          const catalog_summary_t *sum, const char *what,
                          const char *const *run_serials, const uint32_t *run_ids, unsigned n_runs,
                          int64_t supersedes)
{
    char t[32];
    int rc, col = 1;
    if ((rc = begin(c)))
        return rc;
    sqlite3_stmt *s = stmt(c, which);
    if (!s) {
        rc = CATALOG_ERR_SQL;
        goto err;
    }
    sqlite3_bind_int64(s, col++, id);
    if (state)
        bind_text(s, col++, state);
    bind_text(s, col, catalog_utc(t_unix_us, t, sizeof t));
    if ((rc = step_done(c, s, what)))
        goto err;
    if (sqlite3_changes(c->db) != 1) {
        rc = fail(c, CATALOG_ERR_NOT_FOUND, "no session %lld", (long long)id);
        goto err;
    }
    if (sum && (rc = store_metrics(c, id, sum)))
        goto err;
    for (unsigned i = 0; i < n_runs; i++)
        if ((rc = run_synced_row(c, run_serials[i], run_ids[i], id)))
            goto err;
    if (supersedes > 0) {
        sqlite3_stmt *m = stmt(c, ST_MERGED_INTO);
        if (!m) {
            rc = CATALOG_ERR_SQL;
            goto err;
        }
        sqlite3_bind_int64(m, 1, supersedes);
        sqlite3_bind_int64(m, 2, id);
        if ((rc = step_done(c, m, "mark the session merged")))
            goto err;
    }
    if ((rc = commit(c)))
        goto err;
    return CATALOG_OK;
err:
    rollback(c);
    return rc;
}

int catalog_session_progress(catalog_t *c, int64_t id, int64_t now_unix_us,
                             const catalog_summary_t *sum)
{
    return session_update(c, ST_SESSION_PROGRESS, id, NULL, now_unix_us, sum, "session progress",
                          NULL, NULL, 0, 0);
}

int catalog_session_end(catalog_t *c, int64_t id, int64_t end_unix_us, const char *state,
                        const catalog_summary_t *sum)
{
    if (!state || (strcmp(state, CATALOG_COMPLETE) && strcmp(state, CATALOG_INTERRUPTED) &&
                   strcmp(state, CATALOG_SYNCED)))
        return fail(c, CATALOG_ERR_ARG, "session %lld: end state '%s' (expected complete, "
                    "interrupted or synced)", (long long)id, state ? state : "(null)");
    return session_update(c, ST_SESSION_END, id, state, end_unix_us, sum, "end session", NULL, NULL,
                          0, 0);
}

int catalog_session_end_synced(catalog_t *c, int64_t id, int64_t end_unix_us,
                               const catalog_summary_t *sum, const char *serial, uint32_t run_id)
{
    return catalog_session_end_synced_runs(c, id, end_unix_us, sum, &serial, &run_id,
                                           run_id ? 1 : 0, 0);
}

int catalog_session_end_synced_runs(catalog_t *c, int64_t id, int64_t end_unix_us,
                                    const catalog_summary_t *sum, const char *const *serials,
                                    const uint32_t *run_ids, unsigned n_runs,
                                    int64_t supersedes)
{
    int rc;
    for (unsigned i = 0; i < n_runs; i++)
        if ((rc = check_name(c, "pod serial", serials[i])))
            return rc;
    return session_update(c, ST_SESSION_END, id, CATALOG_SYNCED, end_unix_us, sum,
                          "end synced session", serials, run_ids, n_runs, supersedes);
}

int catalog_find_one_foot_synced(catalog_t *c, const char *athlete, int64_t start_unix_us,
                                 int64_t end_unix_us, catalog_synced_cb cb, void *user)
{
    int rc;
    if ((rc = check_name(c, "athlete", athlete)))
        return rc;
    sqlite3_stmt *s = stmt(c, ST_ONE_FOOT_SYNCED);
    if (!s)
        return CATALOG_ERR_SQL;
    bind_text(s, 1, athlete);
    sqlite3_bind_double(s, 2, (double)start_unix_us * 1e-6);
    sqlite3_bind_double(s, 3, (double)end_unix_us * 1e-6);
    rc = CATALOG_OK;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (cb(sqlite3_column_int64(s, 0), (const char *)sqlite3_column_text(s, 1), user)) {
            rc = CATALOG_ERR_STOPPED;
            break;
        }
    }
    if (rc == SQLITE_DONE)
        rc = CATALOG_OK;
    else if (rc != CATALOG_ERR_STOPPED)
        rc = fail_sql(c, "find one-foot synced sessions");
    sqlite3_reset(s);
    return rc;
}

int catalog_mark_interrupted(catalog_t *c)
{
    sqlite3_stmt *s = stmt(c, ST_MARK_INTERRUPTED);
    if (!s)
        return CATALOG_ERR_SQL;
    int rc = step_done(c, s, "mark interrupted sessions");
    return rc ? rc : sqlite3_changes(c->db);
}

static double column_real(sqlite3_stmt *s, int i)
{
    return sqlite3_column_type(s, i) == SQLITE_NULL ? NAN : sqlite3_column_double(s, i);
}

/* Steps s (bound) and calls cb per row. */
static int each_session(catalog_t *c, sqlite3_stmt *s, catalog_session_cb cb, void *user)
{
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        catalog_session_t r;
        r.id = sqlite3_column_int64(s, 0);
        r.athlete = (const char *)sqlite3_column_text(s, 1);
        r.source = (const char *)sqlite3_column_text(s, 2);
        r.started_utc = (const char *)sqlite3_column_text(s, 3);
        r.ended_utc = (const char *)sqlite3_column_text(s, 4);
        r.state = (const char *)sqlite3_column_text(s, 5);
        r.recording = (const char *)sqlite3_column_text(s, 6);
        r.sum.duration_s = column_real(s, 7);
        r.sum.strides[0] = (uint32_t)sqlite3_column_int64(s, 8);
        r.sum.strides[1] = (uint32_t)sqlite3_column_int64(s, 9);
        r.sum.cadence_spm = column_real(s, 10);
        r.sum.contact_s[0] = column_real(s, 11);
        r.sum.contact_s[1] = column_real(s, 12);
        r.sum.contact_si_pct = column_real(s, 13);
        r.sum.stride_si_pct = column_real(s, 14);
        r.sum.step_si_pct = column_real(s, 15);
        r.sum.summary_json = (const char *)sqlite3_column_text(s, 16);
        r.sum.focus_json = (const char *)sqlite3_column_text(s, 17);
        if (cb(&r, user)) {
            sqlite3_reset(s);
            return CATALOG_ERR_STOPPED;
        }
    }
    if (rc != SQLITE_DONE) {
        rc = fail_sql(c, "list sessions");
        sqlite3_reset(s);
        return rc;
    }
    sqlite3_reset(s);
    return CATALOG_OK;
}

int catalog_list_sessions(catalog_t *c, const char *athlete, catalog_session_cb cb, void *user)
{
    sqlite3_stmt *s = stmt(c, athlete ? ST_LIST_ATHLETE : ST_LIST_ALL);
    if (!s)
        return CATALOG_ERR_SQL;
    if (athlete)
        bind_text(s, 1, athlete);
    return each_session(c, s, cb, user);
}

int catalog_history(catalog_t *c, const char *athlete, catalog_session_cb cb, void *user)
{
    int rc;
    if ((rc = check_name(c, "athlete", athlete)))
        return rc;
    sqlite3_stmt *s = stmt(c, ST_HISTORY);
    if (!s)
        return CATALOG_ERR_SQL;
    bind_text(s, 1, athlete);
    return each_session(c, s, cb, user);
}

int64_t catalog_count_sessions(catalog_t *c, const char *athlete)
{
    sqlite3_stmt *s = stmt(c, athlete ? ST_COUNT_ATHLETE : ST_COUNT_ALL);
    if (!s)
        return CATALOG_ERR_SQL;
    if (athlete)
        bind_text(s, 1, athlete);
    int64_t n;
    if (sqlite3_step(s) != SQLITE_ROW)
        n = fail_sql(c, "count sessions");
    else
        n = sqlite3_column_int64(s, 0);
    sqlite3_reset(s);
    return n;
}

int catalog_run_synced(catalog_t *c, const char *serial, uint32_t run_id, int64_t session_id)
{
    int rc;
    if ((rc = check_name(c, "pod serial", serial)))
        return rc;
    return run_synced_row(c, serial, run_id, session_id);
}

static int run_synced_row(catalog_t *c, const char *serial, uint32_t run_id, int64_t session_id)
{
    char t[32];
    sqlite3_stmt *s = stmt(c, ST_RUN_SYNCED);
    if (!s)
        return CATALOG_ERR_SQL;
    bind_text(s, 1, serial);
    sqlite3_bind_int64(s, 2, run_id);
    if (session_id > 0)
        sqlite3_bind_int64(s, 3, session_id);
    else
        sqlite3_bind_null(s, 3);
    bind_text(s, 4, catalog_utc(now_us(), t, sizeof t));
    return step_done(c, s, "record synced run");
}

int catalog_is_run_synced(catalog_t *c, const char *serial, uint32_t run_id)
{
    int rc;
    if ((rc = check_name(c, "pod serial", serial)))
        return rc;
    sqlite3_stmt *s = stmt(c, ST_RUN_IS_SYNCED);
    if (!s)
        return CATALOG_ERR_SQL;
    bind_text(s, 1, serial);
    sqlite3_bind_int64(s, 2, run_id);
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        rc = 1;
    else if (rc == SQLITE_DONE)
        rc = 0;
    else
        rc = fail_sql(c, "look up synced run");
    sqlite3_reset(s);
    return rc;
}

void catalog_summary_empty(catalog_summary_t *out)
{
    memset(out, 0, sizeof *out);
    out->duration_s = out->cadence_spm = NAN;
    out->contact_s[0] = out->contact_s[1] = NAN;
    out->contact_si_pct = out->stride_si_pct = out->step_si_pct = NAN;
}

void catalog_summary_from_dsp(const dsp_summary_t *s, catalog_summary_t *out)
{
    catalog_summary_empty(out);
    out->duration_s = s->duration_s;
    out->strides[0] = s->n_strides[0];
    out->strides[1] = s->n_strides[1];
    out->cadence_spm = s->cadence_spm;
    for (int f = 0; f < 2; f++)
        out->contact_s[f] = s->main.foot[f].n ? s->main.foot[f].contact_s : NAN;
    out->contact_si_pct = s->main.contact_si_pct;
    out->stride_si_pct = s->main.stride_si_pct;
    out->step_si_pct = s->main.step_si_pct;
}

/* ---- JSON of a session row (gaitctl sessions --json, the control command `sessions`) ---- */

static void cj_real(json_t *o, const char *key, double v)
{
    json_object_set_new(o, key, isfinite(v) ? json_real(v) : json_null());
}

static void cj_str(json_t *o, const char *key, const char *v)
{
    json_object_set_new(o, key, v ? json_string(v) : json_null());
}

/* ISO 8601 week "2026-W48" of a catalog time "YYYY-MM-DDT..." ("?" if unreadable). */
void catalog_iso_week(const char *utc, char *out, size_t cap)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    if (!utc || sscanf(utc, "%4d-%2d-%2d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday) != 3) {
        snprintf(out, cap, "?");
        return;
    }
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    tm.tm_hour = 12;
    time_t t = timegm(&tm);
    struct tm n;
    if (t == (time_t)-1 || !gmtime_r(&t, &n) || !strftime(out, cap, "%G-W%V", &n))
        snprintf(out, cap, "?");
}

json_t *catalog_session_json(const catalog_session_t *r)
{
    json_t *o = json_object();
    json_object_set_new(o, "type", json_string("session"));
    json_object_set_new(o, "id", json_integer(r->id));
    cj_str(o, "athlete", r->athlete);
    cj_str(o, "state", r->state);
    cj_str(o, "source", r->source);
    cj_str(o, "started_utc", r->started_utc);
    cj_str(o, "ended_utc", r->ended_utc);
    char week[16];
    catalog_iso_week(r->started_utc, week, sizeof week);
    json_object_set_new(o, "week", json_string(week));
    cj_str(o, "recording", r->recording);
    cj_real(o, "duration_s", r->sum.duration_s);
    json_object_set_new(o, "strides", json_pack("{s:I,s:I}", "L", (json_int_t)r->sum.strides[0],
                                                "R", (json_int_t)r->sum.strides[1]));
    cj_real(o, "cadence_spm", r->sum.cadence_spm);
    json_t *contact = json_object();
    cj_real(contact, "L", r->sum.contact_s[0]);
    cj_real(contact, "R", r->sum.contact_s[1]);
    json_object_set_new(o, "contact_s", contact);
    json_t *sym = json_object();
    cj_real(sym, "contact_si_pct", r->sum.contact_si_pct);
    cj_real(sym, "stride_si_pct", r->sum.stride_si_pct);
    cj_real(sym, "step_si_pct", r->sum.step_si_pct);
    json_object_set_new(o, "symmetry", sym);
    json_t *focus = r->sum.focus_json ? json_loads(r->sum.focus_json, 0, NULL) : NULL;
    json_object_set_new(o, "focus", focus ? focus : json_array());
    /* what happened to the source (USB pods: CRC errors, gaps, stalls, unplugs ...), kept in
     * the summary; absent for sources without fault counters */
    json_t *sum = r->sum.summary_json ? json_loads(r->sum.summary_json, 0, NULL) : NULL;
    json_t *faults = sum ? json_object_get(sum, "faults") : NULL;
    if (json_is_object(faults))
        json_object_set(o, "faults", faults);
    json_t *merged = sum ? json_object_get(sum, "merged_into") : NULL;
    if (json_is_integer(merged)) /* a one-foot session later merged into a two-foot one */
        json_object_set(o, "merged_into", merged);
    json_decref(sum);
    return o;
}


int catalog_list_pods(catalog_t *c, catalog_pod_cb cb, void *user)
{
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(c->db, "SELECT serial, athlete, foot FROM pods ORDER BY serial", -1, &s,
                           NULL) != SQLITE_OK)
        return fail_sql(c, "list pods");
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        const char *serial = (const char *)sqlite3_column_text(s, 0);
        const char *ath = (const char *)sqlite3_column_text(s, 1);
        const char *foot = (const char *)sqlite3_column_text(s, 2);
        if (cb(serial ? serial : "", ath, foot ? foot[0] : 0, user)) {
            sqlite3_finalize(s);
            return CATALOG_ERR_STOPPED;
        }
    }
    if (rc != SQLITE_DONE) {
        rc = fail_sql(c, "list pods");
        sqlite3_finalize(s);
        return rc;
    }
    sqlite3_finalize(s);
    return CATALOG_OK;
}
