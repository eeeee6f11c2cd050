/* control.h - the control endpoint: a ZeroMQ REP socket answering one JSON object per request.
 *
 * Request:  {"cmd":"<name>", ...}
 * Replies:  {"ok":true, ...handler's fields...}
 *           {"ok":false,"error":{"code":"<code>","message":"<text>"}}
 * Error codes: "bad_json" (not a JSON object), "too_large" (request over CONTROL_MAX_REQ
 * bytes), "bad_request" (no string "cmd", or a handler's missing / mistyped field, named in the
 * message), "unknown_command", "failed" (a handler returned NULL), and the handlers' own codes
 * (e.g. "bad_path", "not_found", "busy", "refused", "unavailable"). Every request gets exactly
 * one reply and the daemon keeps serving whatever it receives. Built-in command: "ping".
 *
 * Commands form a table: name, handler, and flags. CONTROL_CHANGES_STATE marks the commands that
 * change the daemon's state (assign, start, stop, sync, erase ...); control_cmd_flags lets an
 * authorisation layer (CURVE keys, later) refuse them to read-only clients.
 */
#ifndef GAITD_CONTROL_H
#define GAITD_CONTROL_H
#include <stddef.h>
#include <jansson.h>
#include "log.h"

#define CONTROL_MAX_REQ 65536        /* bytes of one request */
#define CONTROL_CHANGES_STATE 1u     /* flag: the command changes the daemon's state */

typedef struct control control_t;

/* Handles one request (req is the whole request object, borrowed). Returns a new object whose
 * fields are added to the reply (caller of the handler owns it), or NULL on failure. */
typedef json_t *(*control_fn)(void *ud, const json_t *req);

/* Binds a REP socket on endpoint. Returns NULL with a message in err. Caller owns the result. */
control_t *control_new(void *zctx, const char *endpoint, const log_t *lg, char *err,
                       size_t errcap);
/* As control_new; with zap (CURVE on, zap.h) the socket is a CURVE server and commands flagged
 * CONTROL_CHANGES_STATE need a client key with control = yes, others control = read; refused
 * ones get the error code "forbidden" ("ping" always answers). zap is borrowed. */
struct zap;
control_t *control_new_ex(void *zctx, const char *endpoint, struct zap *zap, const log_t *lg,
                          char *err, size_t errcap);
/* Closes the socket and sets *c to NULL. */
void control_free(control_t **c);

/* Registers command name (copied up to 31 chars) -> fn, read-only (flags 0). At most 32
 * commands. Returns 0 or -1. */
int control_add(control_t *c, const char *name, control_fn fn, void *ud);
/* As control_add, with flags (CONTROL_CHANGES_STATE). */
int control_add_ex(control_t *c, const char *name, unsigned flags, control_fn fn, void *ud);
/* Flags of command name, or -1 if there is no such command. */
int control_cmd_flags(const control_t *c, const char *name);

/* For handlers: a reply {"ok":false,"error":{"code":code,"message":...}} (printf format), which
 * the handler returns as its result; it is passed through as the reply. New reference. */
json_t *control_error(const char *code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* For handlers: field of req as a string. Missing: *out = NULL, 0 if !required, else -1 and
 * *errp = a bad_request error naming the field. Present but not a string: -1 and bad_request. */
int control_str(const json_t *req, const char *field, int required, const char **out,
                json_t **errp);
/* As control_str for an integer field (JSON integer); *out untouched when missing. */
int control_int(const json_t *req, const char *field, int required, long long *out,
                json_t **errp);

void *control_socket(control_t *c);
/* Serves every pending request without blocking. Call when the socket is readable. */
void control_on_readable(control_t *c);

/* Builds the reply for one request text (exposed for unit tests). Caller owns the result. */
json_t *control_handle(control_t *c, const char *req, size_t len);

#endif
