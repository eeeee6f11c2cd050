/* alloc.h - the daemon's one allocation wrapper (Redis zmalloc style).
 *
 * Every function aborts the process with a message on out-of-memory, so callers never check for
 * NULL. Memory from these functions is released with xfree (plain free is equivalent).
 */
#ifndef GAITD_ALLOC_H
#define GAITD_ALLOC_H
#include <stddef.h>

/* Returns n bytes of uninitialised memory; never NULL (n == 0 gives a unique pointer). */
void *xmalloc(size_t n);
/* Returns n * size zeroed bytes; aborts on overflow or out-of-memory. */
void *xcalloc(size_t n, size_t size);
/* Resizes p (may be NULL) to n bytes; never NULL. */
void *xrealloc(void *p, size_t n);
/* Returns a copy of s the caller owns. s must not be NULL. */
char *xstrdup(const char *s);
/* Frees p (NULL allowed). */
void xfree(void *p);

#endif
