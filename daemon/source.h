/* source.h - a data source driving one athlete session (driver table, gpsd style).
 *
 * Implementations: src_sim (simulated pods), src_replay (recording or CSV file). Later: USB pods.
 * The daemon calls step from a loop timer; a source feeds its session with what is due at the
 * current wall time (paced by its speed) and returns when it wants to run again.
 */
#ifndef GAITD_SOURCE_H
#define GAITD_SOURCE_H
#include <stdint.h>
#include "session.h"

#define SOURCE_DONE (-1)         /* step return value: the source has ended, its session finished */

/* Settings every source shares (from the command line). */
typedef struct source_env {
    feed_pub_t *pub;             /* borrowed */
    const log_t *lg;             /* borrowed */
    const char *record_dir;      /* NULL = no recording */
    double speed;                /* 1 = real time, 0 = as fast as possible */
    double duration_s;           /* stop after this much data, 0 = no limit */
    double window_period_s;
} source_env_t;

typedef struct source_ops {
    const char *kind;            /* "simulator", "replay" */
    /* Feeds the data due at monotonic time now_us. Returns the delay in ms before the next call
     * (0 = as soon as the sockets have been serviced) or SOURCE_DONE once the data has ended; the
     * session is then finished (summary published, recording closed). */
    int64_t (*step)(void *impl, int64_t now_us);
    /* The session, or NULL if the source has not created it yet. */
    session_t *(*session)(void *impl);
    /* Stops early (signal): finishes the session. */
    void (*stop)(void *impl);
    void (*free)(void *impl);
} source_ops_t;

typedef struct source {
    const source_ops_t *ops;
    void *impl;
} source_t;

/* Pacing shared by the sources: how much data time is due after `elapsed_us` of wall time at
 * `speed`; +INFINITY for speed 0. */
double source_due_s(int64_t elapsed_us, double speed);

/* Work budget per step when running as fast as possible (wall microseconds), so that the loop
 * keeps servicing the sockets. */
#define SOURCE_BUDGET_US 5000

#endif
