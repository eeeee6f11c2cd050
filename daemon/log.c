/* log.c - levelled logging (see log.h). */
#include "log.h"
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *const level_names[] = {"error", "warn", "info", "debug"};

void log_init(log_t *lg, int level, FILE *out)
{
    lg->level = level;
    lg->out = out;
}

int log_level_parse(const char *name)
{
    for (int i = 0; i < 4; i++)
        if (!strcmp(name, level_names[i]))
            return i;
    if (!strcmp(name, "warning"))
        return LOG_WARN;
    if (name[0] >= '0' && name[0] <= '3' && name[1] == '\0')
        return name[0] - '0';
    return -1;
}

void log_write(const log_t *lg, int level, const char *prefix, const char *fmt, ...)
{
    if (!lg || !lg->out || level > lg->level || level < 0)
        return;
    struct timespec ts;
    struct tm tm;
    char when[32];
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);

    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    /* One fprintf per line so concurrent writers do not interleave inside a line. */
    fprintf(lg->out, "%s.%03ldZ %-5s %s: %s\n", when, ts.tv_nsec / 1000000L,
            level_names[level > LOG_DEBUG ? LOG_DEBUG : level], prefix, line);
    fflush(lg->out);
}
