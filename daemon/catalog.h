/* catalog.h - the session catalog: one SQLite database (WAL) of athletes, pods and sessions.
 *
 * Schema (version in PRAGMA user_version, upgraded by catalog_open through a list of migration
 * steps, each in its own transaction; a database newer than this build is refused):
 *   v1  athletes    (name PK, created_utc)
 *       pods        (serial PK, foot 'L'/'R', athlete, paired_utc, last_seen_utc)
 *       sessions    (id, athlete, source, started_utc, ended_utc, updated_utc,
 *                    state 'running'|'complete'|'interrupted'|'synced', recording, duration_s,
 *                    strides_l/r, cadence_spm, contact_l/r_s, contact/stride/step_si_pct,
 *                    summary_json, focus_json)
 *       runs_synced (pod_serial, run_id) PK -> session_id: runs already fetched over USB
 * Times are UTC text "YYYY-MM-DDTHH:MM:SS.mmmZ" (sortable); metrics unknown are NULL.
 *
 * Crash safety: every change is one transaction (synchronous=FULL), so after a kill -9 the
 * catalog holds either the state before or after each call. A session begun and never ended
 * stays 'running'; the next daemon start calls catalog_mark_interrupted, which turns it into
 * 'interrupted' (ended_utc = its last progress update), so it is never lost.
 * One daemon per catalog: catalog_mark_interrupted assumes no other process is recording into it
 * (readers such as `gaitctl sessions` may run at any time: WAL, busy timeout 5 s).
 *
 * Errors: functions return CATALOG_OK (0) or a negative catalog_err; the message of the last
 * error (naming the database path and SQLite's own message) is catalog_errmsg(c).
 * A catalog_t is used by one thread at a time.
 */
#ifndef GAITD_CATALOG_H
#define GAITD_CATALOG_H
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "dsp.h"

#define CATALOG_SCHEMA_VERSION 1
#define CATALOG_NAME_MAX 63          /* athlete names and pod serials: 1..63 bytes */

enum catalog_err {
    CATALOG_OK = 0,
    CATALOG_ERR_SQL = -1,            /* SQLite reported an error (I/O, corrupt, locked, ...) */
    CATALOG_ERR_VERSION = -2,        /* database schema newer than this build */
    CATALOG_ERR_NOT_FOUND = -3,      /* no such session / pod */
    CATALOG_ERR_ARG = -4,            /* invalid argument (empty name, bad foot or state) */
    CATALOG_ERR_IO = -5,             /* the database file could not be created */
    CATALOG_ERR_STOPPED = -6,        /* a listing callback asked to stop (not a failure) */
};

/* Session states as stored. */
#define CATALOG_RUNNING "running"
#define CATALOG_COMPLETE "complete"
#define CATALOG_INTERRUPTED "interrupted"
#define CATALOG_SYNCED "synced"

typedef struct catalog catalog_t;

/* Summary metrics of a session. NAN doubles are stored as NULL; JSON strings may be NULL and
 * must otherwise be valid JSON (SQLite json_valid), e.g. the feed's summary object and its
 * "focus" array. */
typedef struct catalog_summary {
    double duration_s;
    uint32_t strides[2];             /* L, R */
    double cadence_spm;
    double contact_s[2];             /* mean contact time L, R */
    double contact_si_pct, stride_si_pct, step_si_pct;
    const char *summary_json;        /* borrowed */
    const char *focus_json;          /* borrowed */
} catalog_summary_t;

/* One session row as read back. Strings are valid only during the callback. NULL metrics read
 * back as NAN (counts as 0), missing strings as NULL. */
typedef struct catalog_session {
    int64_t id;
    const char *athlete;
    const char *source;
    const char *started_utc;
    const char *ended_utc;           /* NULL while running */
    const char *state;
    const char *recording;           /* NULL if not recorded */
    catalog_summary_t sum;
} catalog_session_t;

/* Called per row; return 0 to continue, non-zero to stop (the listing returns
 * CATALOG_ERR_STOPPED). */
typedef int (*catalog_session_cb)(const catalog_session_t *row, void *user);

/* Returns the text for a catalog_err code. */
const char *catalog_strerror(int code);

/* Opens (creating it with mode 0600 if missing) the database at path, switches it to WAL, sets
 * a 5 s busy timeout and foreign keys, and migrates the schema to CATALOG_SCHEMA_VERSION.
 * Returns the catalog (caller owns it: catalog_close), or NULL with a message naming path in
 * err (a schema newer than this build, not a database, unwritable directory, ...). */
catalog_t *catalog_open(const char *path, char *err, size_t errcap);
/* Closes *c (NULL allowed) and sets it to NULL. */
void catalog_close(catalog_t **c);

/* Message of the last error on c ("" if none). */
const char *catalog_errmsg(const catalog_t *c);
/* The database path given to catalog_open. */
const char *catalog_path(const catalog_t *c);
/* Schema version of the open database (CATALOG_SCHEMA_VERSION after a successful open). */
int catalog_schema_version(catalog_t *c);
/* Journal mode as SQLite reports it ("wal"). Returns a static string or NULL on error. */
const char *catalog_journal_mode(catalog_t *c);

/* Pairs pod serial with athlete's foot ('L' or 'R'), creating the athlete if needed and
 * replacing any previous pairing of that serial. */
int catalog_pair_pod(catalog_t *c, const char *serial, char foot, const char *athlete);
/* Looks up a pod's pairing: copies the athlete into athlete[cap] and the foot into *foot.
 * Returns CATALOG_ERR_NOT_FOUND for an unknown or unpaired serial. */
int catalog_pod_athlete(catalog_t *c, const char *serial, char *athlete, size_t cap, char *foot);
/* Records that pod serial was seen now (unix_us). Unknown serials are added unpaired. */
int catalog_pod_seen(catalog_t *c, const char *serial, int64_t unix_us);

/* Inserts a 'running' session of athlete (created if needed) started at start_unix_us, from
 * source ("simulator", "replay", "usb-live", ...), recording path or NULL. Sets *id. */
int catalog_session_begin(catalog_t *c, const char *athlete, const char *source,
                          int64_t start_unix_us, const char *recording, int64_t *id);
/* Progress of a running session (e.g. once a minute): its updated time, used as the end time
 * if the daemon dies. sum may be NULL; otherwise its metrics are stored too. */
int catalog_session_progress(catalog_t *c, int64_t id, int64_t now_unix_us,
                             const catalog_summary_t *sum);
/* Ends session id with state (CATALOG_COMPLETE, CATALOG_INTERRUPTED or CATALOG_SYNCED), its end
 * time and summary (sum may be NULL: metrics kept as they are). CATALOG_ERR_NOT_FOUND if no
 * such session. */
int catalog_session_end(catalog_t *c, int64_t id, int64_t end_unix_us, const char *state,
                        const catalog_summary_t *sum);
/* Ends session id as CATALOG_SYNCED and records run run_id of pod serial as synced into it, in
 * ONE transaction (a kill between the two could otherwise leave a synced session whose run is
 * read and catalogued again). run_id 0: the session only. */
int catalog_session_end_synced(catalog_t *c, int64_t id, int64_t end_unix_us,
                               const catalog_summary_t *sum, const char *serial, uint32_t run_id);
/* As catalog_session_end_synced for a session made of several runs (the two feet of one outing
 * synced from two pods, merged: daemon/USB.md): the session's end and the runs_synced row of
 * every run (serials[i], run_ids[i]), i < n_runs, pointing at it, in ONE transaction.
 * supersedes > 0: that earlier one-foot session was merged into session id (its other foot
 * synced later): its summary_json gets "merged_into": id, in the same transaction. */
int catalog_session_end_synced_runs(catalog_t *c, int64_t id, int64_t end_unix_us,
                                    const catalog_summary_t *sum, const char *const *serials,
                                    const uint32_t *run_ids, unsigned n_runs,
                                    int64_t supersedes);
/* Synced sessions of athlete made of one run each (one foot), not merged into another yet, whose
 * time range (started_utc + duration_s) overlaps [start_unix_us, end_unix_us) by at least half
 * of the shorter of the two: cb(id, recording, user) per row, newest first; a non-zero return
 * stops (CATALOG_ERR_STOPPED). */
typedef int (*catalog_synced_cb)(int64_t id, const char *recording, void *user);
int catalog_find_one_foot_synced(catalog_t *c, const char *athlete, int64_t start_unix_us,
                                 int64_t end_unix_us, catalog_synced_cb cb, void *user);
/* Marks every session still 'running' as 'interrupted' (to be called once at daemon start,
 * before any catalog_session_begin). Returns the number of sessions marked (>= 0) or an error. */
int catalog_mark_interrupted(catalog_t *c);

/* Lists sessions, newest first: all, or only athlete's if athlete is not NULL. */
int catalog_list_sessions(catalog_t *c, const char *athlete, catalog_session_cb cb, void *user);
/* athlete's sessions that are not running, oldest first (the history for trends). */
int catalog_history(catalog_t *c, const char *athlete, catalog_session_cb cb, void *user);
/* Number of sessions of athlete (all athletes if NULL), or a negative error. */
int64_t catalog_count_sessions(catalog_t *c, const char *athlete);

/* USB sync bookkeeping: records that run run_id of pod serial was fetched into session_id
 * (0 = none). Recording the same run again is not an error (the first record is kept). */
int catalog_run_synced(catalog_t *c, const char *serial, uint32_t run_id, int64_t session_id);
/* Returns 1 if the run was already synced, 0 if not, or a negative error. */
int catalog_is_run_synced(catalog_t *c, const char *serial, uint32_t run_id);

/* Fills out from a dsp summary (main figures: CONTRACT.md); JSON fields set to NULL. */
void catalog_summary_from_dsp(const dsp_summary_t *s, catalog_summary_t *out);
/* A summary with every metric unknown (NAN, 0 strides, no JSON). */
void catalog_summary_empty(catalog_summary_t *out);

/* ISO 8601 week "2026-W48" of a catalog time "YYYY-MM-DDT..." into out ("?" if unreadable). */
void catalog_iso_week(const char *utc, char *out, size_t cap);
/* {"type":"session","id","athlete","state","source","started_utc","ended_utc","week",
 * "recording","duration_s","strides":{L,R},"cadence_spm","contact_s":{L,R},"symmetry":{...},
 * "focus":[...]} of a row (NULL metrics as null), plus "faults" when the summary has it (USB
 * sessions: daemon/USB.md). New reference. */
json_t *catalog_session_json(const catalog_session_t *r);
/* Pods as stored: cb(serial, athlete or NULL, foot or 0, user) per row, by serial; a non-zero
 * return stops (CATALOG_ERR_STOPPED). */
typedef int (*catalog_pod_cb)(const char *serial, const char *athlete, char foot, void *user);
int catalog_list_pods(catalog_t *c, catalog_pod_cb cb, void *user);

/* Formats unix_us as "YYYY-MM-DDTHH:MM:SS.mmmZ" into buf (at least 25 bytes). Returns buf. */
char *catalog_utc(int64_t unix_us, char *buf, size_t cap);

#endif
