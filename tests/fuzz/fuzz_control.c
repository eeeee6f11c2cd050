/* fuzz_control.c - control_handle (daemon/control.h): one request text, as received from the
 * ZeroMQ REP socket, to one reply object. The control endpoint is bound once on inproc:// (no
 * network), with two commands besides the built-in ping: "echo" returns the request, "fail"
 * returns NULL (a handler failure).
 * Invariants: every request gets a reply (never NULL outside out-of-memory); the reply is an
 * object with boolean "ok"; an error reply has a known string "code" and a string "message"; the
 * reply serialises to JSON that parses back, as control_on_readable sends it. */
#include <string.h>
#include <zmq.h>
#include "control.h"
#include "fuzz.h"

static control_t *ctl;

static json_t *cmd_echo(void *ud, const json_t *req)
{
    (void)ud;
    return json_pack("{s:O}", "echo", (json_t *)req);
}

static json_t *cmd_fail(void *ud, const json_t *req)
{
    (void)ud;
    (void)req;
    return NULL;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    char err[256];
    void *zctx = zmq_ctx_new();
    FUZZ_CHECK(zctx != NULL);
    char ep[64];
    snprintf(ep, sizeof ep, "inproc://fuzz-control-%p", (void *)&ctl);
    ctl = control_new(zctx, ep, NULL, err, sizeof err);
    if (!ctl)
        fprintf(stderr, "fuzz_control: %s\n", err);
    FUZZ_CHECK(ctl != NULL);
    FUZZ_CHECK(control_add(ctl, "echo", cmd_echo, NULL) == 0);
    FUZZ_CHECK(control_add(ctl, "fail", cmd_fail, NULL) == 0);
    return 0;
}

static int known_code(const char *code)
{
    static const char *const codes[] = {"bad_json", "bad_request", "unknown_command", "failed"};
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++)
        if (!strcmp(code, codes[i]))
            return 1;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!ctl)
        LLVMFuzzerInitialize(NULL, NULL);
    json_t *reply = control_handle(ctl, (const char *)data, size);
    if (!reply)
        fprintf(stderr, "fuzz_control: no reply to a %zu-byte request\n", size);
    FUZZ_CHECK(reply != NULL);
    FUZZ_CHECK(json_is_object(reply));
    json_t *ok = json_object_get(reply, "ok");
    FUZZ_CHECK(json_is_boolean(ok));
    if (json_is_false(ok)) {
        json_t *e = json_object_get(reply, "error");
        FUZZ_CHECK(json_is_object(e));
        const char *code = json_string_value(json_object_get(e, "code"));
        FUZZ_CHECK(code != NULL && known_code(code));
        FUZZ_CHECK(json_is_string(json_object_get(e, "message")));
    }
    char *out = json_dumps(reply, JSON_COMPACT | JSON_PRESERVE_ORDER);
    FUZZ_CHECK(out != NULL);
    json_t *back = json_loads(out, JSON_REJECT_DUPLICATES, NULL);
    FUZZ_CHECK(back != NULL && json_equal(back, reply));
    json_decref(back);
    free(out);
    json_decref(reply);
    return 0;
}
