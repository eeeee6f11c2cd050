/* control.c - JSON request/reply control endpoint (see control.h). */
#define LOG_PREFIX "control"
#include "control.h"
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>
#include "alloc.h"
#include "zap.h"

#define CONTROL_MAX_CMDS 32

typedef struct control_cmd {
    char name[32];
    unsigned flags;
    control_fn fn;
    void *ud;
} control_cmd_t;

struct control {
    void *sock;
    const log_t *lg;
    control_cmd_t cmds[CONTROL_MAX_CMDS];
    int n_cmds;
    uint64_t requests, errors;
    zap_t *zap;                  /* CURVE: rights per client key; NULL: off */
    char peer[ZAP_NAME];         /* client name (ZAP User-Id) of the request being served */
};

control_t *control_new(void *zctx, const char *endpoint, const log_t *lg, char *err, size_t errcap)
{
    return control_new_ex(zctx, endpoint, NULL, lg, err, errcap);
}

control_t *control_new_ex(void *zctx, const char *endpoint, zap_t *zap, const log_t *lg,
                          char *err, size_t errcap)
{
    void *s = zmq_socket(zctx, ZMQ_REP);
    if (!s) {
        snprintf(err, errcap, "control socket: %s", zmq_strerror(zmq_errno()));
        return NULL;
    }
    int zero = 0;
    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
    if (zap && zap_server_setup(zap, s, ZAP_DOMAIN_CONTROL, err, errcap) != 0) {
        zmq_close(s);
        return NULL;
    }
    if (zmq_bind(s, endpoint) != 0) {
        snprintf(err, errcap, "--control %s: %s", endpoint, zmq_strerror(zmq_errno()));
        zmq_close(s);
        return NULL;
    }
    control_t *c = xcalloc(1, sizeof *c);
    c->sock = s;
    c->lg = lg;
    c->zap = zap;
    log_info(lg, "control requests on %s", endpoint);
    return c;
}

void control_free(control_t **cp)
{
    if (!cp || !*cp)
        return;
    zmq_close((*cp)->sock);
    xfree(*cp);
    *cp = NULL;
}

int control_add_ex(control_t *c, const char *name, unsigned flags, control_fn fn, void *ud)
{
    if (c->n_cmds == CONTROL_MAX_CMDS || strlen(name) >= sizeof c->cmds[0].name)
        return -1;
    control_cmd_t *e = &c->cmds[c->n_cmds++];
    snprintf(e->name, sizeof e->name, "%s", name);
    e->flags = flags;
    e->fn = fn;
    e->ud = ud;
    return 0;
}

int control_add(control_t *c, const char *name, control_fn fn, void *ud)
{
    return control_add_ex(c, name, 0, fn, ud);
}

int control_cmd_flags(const control_t *c, const char *name)
{
    if (!strcmp(name, "ping"))
        return 0;
    for (int i = 0; i < c->n_cmds; i++)
        if (!strcmp(name, c->cmds[i].name))
            return (int)c->cmds[i].flags;
    return -1;
}

void *control_socket(control_t *c)
{
    return c->sock;
}

/* Replaces every byte of s that is not part of a well-formed UTF-8 sequence with '?', in place,
 * so that a message quoting client input (cut at any byte) can always go into a JSON string. */
static void utf8_scrub(char *s)
{
    unsigned char *p = (unsigned char *)s;
    while (*p) {
        int n = *p < 0x80 ? 1 : (*p & 0xE0) == 0xC0 && *p >= 0xC2 ? 2 : (*p & 0xF0) == 0xE0 ? 3
              : (*p & 0xF8) == 0xF0 && *p <= 0xF4 ? 4 : 0;
        int ok = n > 0;
        for (int i = 1; ok && i < n; i++)
            ok = (p[i] & 0xC0) == 0x80;
        if (ok && n == 3) /* no overlong forms, no surrogates */
            ok = !(p[0] == 0xE0 && p[1] < 0xA0) && !(p[0] == 0xED && p[1] >= 0xA0);
        if (ok && n == 4)
            ok = !(p[0] == 0xF0 && p[1] < 0x90) && !(p[0] == 0xF4 && p[1] >= 0x90);
        if (!ok) {
            *p++ = '?';
            continue;
        }
        p += n;
    }
}

json_t *control_error(const char *code, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    utf8_scrub(msg);
    return json_pack("{s:b, s:{s:s, s:s}}", "ok", 0, "error", "code", code, "message", msg);
}

/* The field of req checked against its type: 1 with *vp set, 0 when absent and optional, -1 with
 * *errp a bad_request reply naming the field. Shared by control_str and control_int. */
static int typed_field(const json_t *req, const char *field, int required,
                       int (*is_type)(const json_t *), const char *type, json_t **vp,
                       json_t **errp)
{
    json_t *v = json_object_get(req, field);
    if (!v || (json_is_null(v) && !required)) {
        if (!required)
            return 0;
        *errp = control_error("bad_request", "missing field \"%s\" (%s)", field, type);
        return -1;
    }
    if (!is_type(v)) {
        *errp = control_error("bad_request", "field \"%s\" must be %s", field, type);
        return -1;
    }
    *vp = v;
    return 1;
}

static int is_string(const json_t *v)
{
    return json_is_string(v);
}

static int is_integer(const json_t *v)
{
    return json_is_integer(v);
}

int control_str(const json_t *req, const char *field, int required, const char **out,
                json_t **errp)
{
    json_t *v = NULL;
    *out = NULL;
    int rc = typed_field(req, field, required, is_string, "a string", &v, errp);
    if (rc > 0)
        *out = json_string_value(v);
    return rc < 0 ? -1 : 0;
}

int control_int(const json_t *req, const char *field, int required, long long *out,
                json_t **errp)
{
    json_t *v = NULL;
    int rc = typed_field(req, field, required, is_integer, "an integer", &v, errp);
    if (rc > 0)
        *out = (long long)json_integer_value(v);
    return rc < 0 ? -1 : 0;
}

static json_t *error_reply(control_t *c, const char *code, const char *fmt, const char *arg)
{
    char msg[256];
    snprintf(msg, sizeof msg, fmt, arg);
    utf8_scrub(msg);
    c->errors++;
    log_debug(c->lg, "request refused: %s: %s", code, msg);
    return json_pack("{s:b, s:{s:s, s:s}}", "ok", 0, "error", "code", code, "message", msg);
}

json_t *control_handle(control_t *c, const char *req, size_t len)
{
    json_error_t jerr;
    c->requests++;
    if (len > CONTROL_MAX_REQ)
        return error_reply(c, "too_large", "request too large (more than %s bytes)", "65536");
    json_t *r = json_loadb(req, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!r)
        return error_reply(c, "bad_json", "malformed JSON request: %s", jerr.text);
    if (!json_is_object(r)) {
        json_decref(r);
        return error_reply(c, "bad_json", "%s", "request must be a JSON object");
    }
    const char *name = json_string_value(json_object_get(r, "cmd"));
    if (!name) {
        json_decref(r);
        return error_reply(c, "bad_request", "%s", "request has no string \"cmd\"");
    }
    json_t *reply = NULL;
    if (!strcmp(name, "ping")) {
        reply = json_pack("{s:b, s:b}", "ok", 1, "pong", 1);
    } else {
        int i;
        for (i = 0; i < c->n_cmds; i++)
            if (!strcmp(name, c->cmds[i].name))
                break;
        if (i == c->n_cmds) {
            reply = error_reply(c, "unknown_command", "unknown command '%s'", name);
        } else if (c->zap && !zap_may_control(c->zap, c->peer,
                                              (c->cmds[i].flags & CONTROL_CHANGES_STATE) != 0)) {
            int st = (c->cmds[i].flags & CONTROL_CHANGES_STATE) != 0;
            char why[200];       /* CURVE: this client key lacks the right (zap.h) */
            snprintf(why, sizeof why, "'%s'%s: client '%s' is not allowed (needs control = %s)",
                     name, st ? " changes the daemon's state" : "", c->peer[0] ? c->peer : "?",
                     st ? "yes" : "read");
            log_warn(c->lg, "refused %s", why);
            reply = error_reply(c, "forbidden", "%s", why);
        } else {
            json_t *res = c->cmds[i].fn(c->cmds[i].ud, r);
            if (!res) {
                reply = error_reply(c, "failed", "command '%s' failed", name);
            } else if (json_is_false(json_object_get(res, "ok"))) {
                c->errors++;     /* the handler's own error reply (control_error) */
                reply = res;
            } else {
                reply = json_pack("{s:b}", "ok", 1);
                json_object_update(reply, res);
                json_decref(res);
            }
        }
    }
    json_decref(r);
    return reply;
}

/* Receives one whole request (all parts; only the first is used). Returns 1, or 0 if none. */
static int recv_request(control_t *c, char **buf, size_t *len)
{
    zmq_msg_t m;
    zmq_msg_init(&m);
    if (zmq_msg_recv(&m, c->sock, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&m);
        return 0;
    }
    size_t n = zmq_msg_size(&m);
    const char *peer = zap_peer_name(&m);    /* CURVE: who asks (ZAP User-Id) */
    snprintf(c->peer, sizeof c->peer, "%s", peer ? peer : "");
    *len = n;                    /* an oversized request is not copied: control_handle refuses */
    if (n > CONTROL_MAX_REQ)
        n = 0;
    *buf = xmalloc(n + 1);
    memcpy(*buf, zmq_msg_data(&m), n);
    (*buf)[n] = '\0';
    while (zmq_msg_more(&m)) {
        zmq_msg_close(&m);
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, c->sock, 0) < 0)
            break;
    }
    zmq_msg_close(&m);
    return 1;
}

void control_on_readable(control_t *c)
{
    char *req;
    size_t len;
    while (recv_request(c, &req, &len)) {
        json_t *reply = control_handle(c, req, len);
        xfree(req);
        char *out = reply ? json_dumps(reply, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
        json_decref(reply);
        const char *fallback = "{\"ok\":false,\"error\":{\"code\":\"failed\",\"message\":\"out of memory\"}}";
        const char *body = out ? out : fallback;
        /* REP must answer before the next receive; a reply send cannot block on REP. */
        if (zmq_send(c->sock, body, strlen(body), 0) < 0)
            log_warn(c->lg, "reply: %s", zmq_strerror(errno));
        free(out);
    }
}
