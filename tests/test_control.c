/* test_control.c - daemon/control.c: replies to good, unknown and malformed requests, and a
 * real REQ/REP round trip in which the endpoint keeps serving after errors; the command table's
 * flags, handler errors (control_error, bad_request naming the field), oversized requests. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>
#include "control.h"

static json_t *cmd_echo(void *ud, const json_t *req)
{
    int *calls = ud;
    (*calls)++;
    return json_pack("{s:O}", "echo", json_object_get(req, "arg"));
}

static json_t *cmd_fail(void *ud, const json_t *req)
{
    (void)ud;
    (void)req;
    return NULL;
}

static const char *err_code(json_t *r)
{
    return json_string_value(json_object_get(json_object_get(r, "error"), "code"));
}

static void test_handle(void **state)
{
    (void)state;
    void *ctx = zmq_ctx_new();
    char err[256];
    control_t *c = control_new(ctx, "inproc://ctl-handle", NULL, err, sizeof err);
    assert_non_null(c);
    int calls = 0;
    assert_int_equal(control_add(c, "echo", cmd_echo, &calls), 0);
    assert_int_equal(control_add(c, "fail", cmd_fail, NULL), 0);

    const char *ok = "{\"cmd\":\"echo\",\"arg\":[1,2]}";
    json_t *r = control_handle(c, ok, strlen(ok));
    assert_true(json_is_true(json_object_get(r, "ok")));
    assert_int_equal(json_array_size(json_object_get(r, "echo")), 2);
    assert_int_equal(calls, 1);
    json_decref(r);

    const struct {
        const char *req, *code;
    } bad[] = {
        {"{\"cmd\":\"nope\"}", "unknown_command"},
        {"{\"cmd\":", "bad_json"},
        {"", "bad_json"},
        {"[1,2]", "bad_json"},
        {"{\"cmd\":\"echo\",\"cmd\":\"echo\"}", "bad_json"},
        {"{\"command\":\"status\"}", "bad_request"},
        {"{\"cmd\":7}", "bad_request"},
        {"{\"cmd\":\"fail\"}", "failed"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        r = control_handle(c, bad[i].req, strlen(bad[i].req));
        assert_non_null(r);
        assert_true(json_is_false(json_object_get(r, "ok")));
        assert_string_equal(err_code(r), bad[i].code);
        assert_non_null(json_string_value(json_object_get(json_object_get(r, "error"), "message")));
        json_decref(r);
    }
    r = control_handle(c, "{\"cmd\":\"ping\"}", 14);
    assert_true(json_is_true(json_object_get(r, "pong")));
    json_decref(r);
    control_free(&c);
    assert_null(c);
    zmq_ctx_term(ctx);
}

/* Sends req on the REQ socket, lets the control serve it, returns the parsed reply. */
static json_t *roundtrip(void *req_sock, control_t *c, const char *req)
{
    assert_int_equal(zmq_send(req_sock, req, strlen(req), 0), (int)strlen(req));
    zmq_pollitem_t it = {control_socket(c), 0, ZMQ_POLLIN, 0};
    assert_int_equal(zmq_poll(&it, 1, 2000), 1);
    control_on_readable(c);
    char buf[4096];
    int n = zmq_recv(req_sock, buf, sizeof buf - 1, 0);
    assert_true(n > 0);
    buf[n] = '\0';
    json_t *r = json_loads(buf, 0, NULL);
    assert_non_null(r);
    return r;
}

static void test_socket_keeps_serving(void **state)
{
    (void)state;
    void *ctx = zmq_ctx_new();
    char err[256];
    control_t *c = control_new(ctx, "inproc://ctl-sock", NULL, err, sizeof err);
    assert_non_null(c);
    int calls = 0;
    control_add(c, "echo", cmd_echo, &calls);
    void *req = zmq_socket(ctx, ZMQ_REQ);
    assert_int_equal(zmq_connect(req, "inproc://ctl-sock"), 0);

    json_t *r = roundtrip(req, c, "not json at all");
    assert_string_equal(err_code(r), "bad_json");
    json_decref(r);
    r = roundtrip(req, c, "{\"cmd\":\"launch\"}");
    assert_string_equal(err_code(r), "unknown_command");
    json_decref(r);
    r = roundtrip(req, c, "{\"cmd\":\"echo\",\"arg\":\"x\"}");
    assert_string_equal(json_string_value(json_object_get(r, "echo")), "x");
    json_decref(r);

    /* A second binder on the same endpoint fails with a message naming it. */
    control_t *c2 = control_new(ctx, "inproc://ctl-sock", NULL, err, sizeof err);
    assert_null(c2);
    assert_non_null(strstr(err, "inproc://ctl-sock"));

    int zero = 0;
    zmq_setsockopt(req, ZMQ_LINGER, &zero, sizeof zero);
    zmq_close(req);
    control_free(&c);
    zmq_ctx_term(ctx);
}

/* A handler with typed fields: {"name": string (required), "n": integer (optional)}. */
static json_t *cmd_typed(void *ud, const json_t *req)
{
    (void)ud;
    const char *name;
    long long n = 7;
    json_t *e = NULL;
    if (control_str(req, "name", 1, &name, &e) || control_int(req, "n", 0, &n, &e))
        return e;
    if (n < 0)
        return control_error("not_found", "no item %lld", n);
    return json_pack("{s:s, s:I}", "name", name, "n", (json_int_t)n);
}

static void test_table_and_fields(void **state)
{
    (void)state;
    void *ctx = zmq_ctx_new();
    char err[256];
    control_t *c = control_new(ctx, "inproc://ctl-typed", NULL, err, sizeof err);
    assert_non_null(c);
    assert_int_equal(control_add_ex(c, "typed", 0, cmd_typed, NULL), 0);
    assert_int_equal(control_add_ex(c, "assign", CONTROL_CHANGES_STATE, cmd_typed, NULL), 0);
    assert_int_equal(control_cmd_flags(c, "typed"), 0);
    assert_int_equal(control_cmd_flags(c, "assign"), (int)CONTROL_CHANGES_STATE);
    assert_int_equal(control_cmd_flags(c, "ping"), 0);
    assert_int_equal(control_cmd_flags(c, "nope"), -1);

    const struct {
        const char *req, *code, *in_message;
    } cases[] = {
        {"{\"cmd\":\"typed\"}", "bad_request", "\"name\""},
        {"{\"cmd\":\"typed\",\"name\":5}", "bad_request", "\"name\" must be a string"},
        {"{\"cmd\":\"typed\",\"name\":\"a\",\"n\":\"3\"}", "bad_request", "\"n\" must be an integer"},
        {"{\"cmd\":\"typed\",\"name\":\"a\",\"n\":1.5}", "bad_request", "\"n\""},
        {"{\"cmd\":\"assign\",\"name\":[]}", "bad_request", "\"name\""},
        {"{\"cmd\":\"typed\",\"name\":\"a\",\"n\":-2}", "not_found", "no item -2"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_t *r = control_handle(c, cases[i].req, strlen(cases[i].req));
        assert_true(json_is_false(json_object_get(r, "ok")));
        assert_string_equal(err_code(r), cases[i].code);
        const char *m = json_string_value(json_object_get(json_object_get(r, "error"), "message"));
        assert_non_null(m);
        assert_non_null(strstr(m, cases[i].in_message));
        json_decref(r);
    }
    const char *ok = "{\"cmd\":\"typed\",\"name\":\"anna\"}";
    json_t *r = control_handle(c, ok, strlen(ok));
    assert_true(json_is_true(json_object_get(r, "ok")));
    assert_int_equal(json_integer_value(json_object_get(r, "n")), 7);
    json_decref(r);

    /* an oversized request is refused without being parsed */
    size_t big = CONTROL_MAX_REQ + 10;
    char *huge = malloc(big);
    assert_non_null(huge);
    memset(huge, ' ', big);
    memcpy(huge, "{\"cmd\":\"typed\",\"name\":\"", 23);
    r = control_handle(c, huge, big);
    assert_string_equal(err_code(r), "too_large");
    json_decref(r);
    free(huge);
    control_free(&c);
    zmq_ctx_term(ctx);
}

/* Over a real socket: an oversized message gets an error reply and the next request is served. */
static void test_socket_oversized(void **state)
{
    (void)state;
    void *ctx = zmq_ctx_new();
    char err[256];
    control_t *c = control_new(ctx, "inproc://ctl-big", NULL, err, sizeof err);
    assert_non_null(c);
    control_add(c, "typed", cmd_typed, NULL);
    void *req = zmq_socket(ctx, ZMQ_REQ);
    assert_int_equal(zmq_connect(req, "inproc://ctl-big"), 0);
    size_t big = 3 * CONTROL_MAX_REQ;
    char *huge = malloc(big + 1);
    assert_non_null(huge);
    memset(huge, 'x', big);
    huge[big] = '\0';
    json_t *r = roundtrip(req, c, huge);
    assert_string_equal(err_code(r), "too_large");
    json_decref(r);
    free(huge);
    r = roundtrip(req, c, "{\"cmd\":\"typed\",\"name\":\"b\",\"n\":3}");
    assert_int_equal(json_integer_value(json_object_get(r, "n")), 3);
    json_decref(r);
    int zero = 0;
    zmq_setsockopt(req, ZMQ_LINGER, &zero, sizeof zero);
    zmq_close(req);
    control_free(&c);
    zmq_ctx_term(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_handle),
        cmocka_unit_test(test_socket_keeps_serving),
        cmocka_unit_test(test_table_and_fields),
        cmocka_unit_test(test_socket_oversized),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
