/* pathsafe.h - confines a path given by a client (control request) to one directory.
 *
 * pathsafe_resolve(root, arg, ...) accepts arg when it names something inside root:
 *   - a relative path is taken relative to root; an absolute path must lie inside root;
 *   - no ".." component is accepted, whatever it would resolve to;
 *   - the longest existing prefix is resolved with realpath(3), so a symbolic link that leads
 *     out of root is refused; the part that does not exist yet is appended as written.
 * The result is an absolute path (the canonical root followed by the rest). Errors carry the
 * control error code "bad_path".
 */
#ifndef GAITD_PATHSAFE_H
#define GAITD_PATHSAFE_H
#include <stddef.h>

/* Resolves arg inside root into out[cap]. Returns 0, or -1 with a message naming arg in err. */
int pathsafe_resolve(const char *root, const char *arg, char *out, size_t cap, char *err,
                     size_t errcap);

#endif
