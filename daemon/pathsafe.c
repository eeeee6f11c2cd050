/* pathsafe.c - client paths confined to one directory (see pathsafe.h). */
#include "pathsafe.h"
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* 1 if a component of p is "..". */
static int has_dotdot(const char *p)
{
    const char *s = p;
    while (*s) {
        while (*s == '/')
            s++;
        const char *e = strchr(s, '/');
        size_t n = e ? (size_t)(e - s) : strlen(s);
        if (n == 2 && s[0] == '.' && s[1] == '.')
            return 1;
        s += n;
    }
    return 0;
}

/* 1 if path is root or below it (both canonical). */
static int inside(const char *root, const char *path)
{
    size_t n = strlen(root);
    if (n == 1 && root[0] == '/')
        return 1;
    return !strncmp(root, path, n) && (path[n] == '\0' || path[n] == '/');
}

int pathsafe_resolve(const char *root, const char *arg, char *out, size_t cap, char *err,
                     size_t errcap)
{
    char rroot[PATH_MAX], full[PATH_MAX * 2], pre[PATH_MAX], real[PATH_MAX];
    if (!root || !realpath(root, rroot)) {
        snprintf(err, errcap, "data directory %s: %s", root ? root : "(none)",
                 root ? strerror(errno) : "not configured");
        return -1;
    }
    if (!arg || !*arg || strlen(arg) >= PATH_MAX) {
        snprintf(err, errcap, "path must be 1 to %d bytes", PATH_MAX - 1);
        return -1;
    }
    if (has_dotdot(arg)) {
        snprintf(err, errcap, "path '%s': '..' is not allowed", arg);
        return -1;
    }
    if (arg[0] == '/')
        snprintf(full, sizeof full, "%s", arg);
    else
        snprintf(full, sizeof full, "%s/%s", rroot, arg);
    /* the longest existing prefix, resolved (symbolic links followed) */
    size_t n = strlen(full);
    while (n > 1 && full[n - 1] == '/')
        full[--n] = '\0';
    snprintf(pre, sizeof pre, "%s", full);
    const char *rest = "";
    size_t cut = strlen(pre);
    for (;;) {
        if (realpath(pre, real))
            break;
        if (errno != ENOENT && errno != ENOTDIR) {
            snprintf(err, errcap, "path '%s': %s", arg, strerror(errno));
            return -1;
        }
        char *slash = strrchr(pre, '/');
        if (!slash || slash == pre) {
            snprintf(err, errcap, "path '%s': outside the data directory", arg);
            return -1;
        }
        *slash = '\0';
        cut = (size_t)(slash - pre);
        rest = full + cut; /* "/a/b" not existing yet */
    }
    if (*rest) { /* the first missing component must not be a dangling link */
        char first[PATH_MAX * 2];
        const char *e = strchr(rest + 1, '/');
        snprintf(first, sizeof first, "%.*s", (int)(e ? (size_t)(e - full) : strlen(full)), full);
        struct stat st;
        if (lstat(first, &st) == 0) {
            snprintf(err, errcap, "path '%s': a symbolic link that leads nowhere", arg);
            return -1;
        }
    }
    if (!inside(rroot, real)) {
        snprintf(err, errcap, "path '%s': outside the data directory", arg);
        return -1;
    }
    if ((size_t)snprintf(out, cap, "%s%s", real, rest) >= cap) {
        snprintf(err, errcap, "path '%s': too long", arg);
        return -1;
    }
    return 0;
}
