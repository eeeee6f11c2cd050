/* log.h - levelled logging for the daemon and gaitctl, one line per message on a stream.
 *
 * The logger is a small struct owned by main and passed by const pointer to the modules (no
 * global state). Each .c file defines LOG_PREFIX (e.g. "session") before using the macros:
 *     log_info(lg, "opened %s", path);
 * prints "2026-11-29T01:56:00.123Z info  session: opened run.gaitrec". A NULL logger is silent.
 */
#ifndef GAITD_LOG_H
#define GAITD_LOG_H
#include <stdio.h>

enum log_level { LOG_ERROR = 0, LOG_WARN = 1, LOG_INFO = 2, LOG_DEBUG = 3 };

typedef struct log {
    int level;                   /* messages above this level are dropped */
    FILE *out;                   /* stream written to (not owned), e.g. stderr */
} log_t;

/* Initialises lg to write messages up to level to out. */
void log_init(log_t *lg, int level, FILE *out);

/* Parses "error", "warn", "info" or "debug" (or "0".."3"); returns the level or -1. */
int log_level_parse(const char *name);

/* Writes one line if level <= lg->level. lg may be NULL (nothing is written). */
void log_write(const log_t *lg, int level, const char *prefix, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#define log_error(lg, ...) log_write((lg), LOG_ERROR, LOG_PREFIX, __VA_ARGS__)
#define log_warn(lg, ...) log_write((lg), LOG_WARN, LOG_PREFIX, __VA_ARGS__)
#define log_info(lg, ...) log_write((lg), LOG_INFO, LOG_PREFIX, __VA_ARGS__)
#define log_debug(lg, ...) log_write((lg), LOG_DEBUG, LOG_PREFIX, __VA_ARGS__)

#endif
