/* control.h - the control endpoint: a ZeroMQ REP socket answering one JSON object per request.
 *
 * Request:  {"cmd":"<name>", ...}
 * Replies:  {"ok":true, ...handler's fields...}
 *           {"ok":false,"error":{"code":"<code>","message":"<text>"}}
 * Error codes: "bad_json" (not a JSON object), "bad_request" (no string "cmd"),
 * "unknown_command", "failed" (a handler returned NULL). Every request gets exactly one reply
 * and the daemon keeps serving whatever it receives. Built-in command: "ping".
 */
#ifndef GAITD_CONTROL_H
#define GAITD_CONTROL_H
#include <stddef.h>
#include <jansson.h>
#include "log.h"

typedef struct control control_t;

/* Handles one request (req is the whole request object, borrowed). Returns a new object whose
 * fields are added to the reply (caller of the handler owns it), or NULL on failure. */
typedef json_t *(*control_fn)(void *ud, const json_t *req);

/* Binds a REP socket on endpoint. Returns NULL with a message in err. Caller owns the result. */
control_t *control_new(void *zctx, const char *endpoint, const log_t *lg, char *err,
                       size_t errcap);
/* Closes the socket and sets *c to NULL. */
void control_free(control_t **c);

/* Registers command name (copied up to 31 chars) -> fn. At most 16 commands. Returns 0 or -1. */
int control_add(control_t *c, const char *name, control_fn fn, void *ud);

void *control_socket(control_t *c);
/* Serves every pending request without blocking. Call when the socket is readable. */
void control_on_readable(control_t *c);

/* Builds the reply for one request text (exposed for unit tests). Caller owns the result. */
json_t *control_handle(control_t *c, const char *req, size_t len);

#endif
