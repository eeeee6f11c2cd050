/* test_loop.c - daemon/loop.c: timers, fds, ZeroMQ sockets, deletion inside callbacks, stop. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>
#include "loop.h"

typedef struct rec {
    char log[64];
    int n;
    int runs;
    int64_t ret;
    loop_t *stop_loop;
} rec_t;

static int64_t t_mark(loop_t *l, void *ud)
{
    rec_t *r = ud;
    (void)l;
    r->runs++;
    if (r->n < (int)sizeof r->log - 1)
        r->log[r->n++] = 'x';
    if (r->stop_loop)
        loop_stop(r->stop_loop);
    return r->ret;
}

static int64_t t_a(loop_t *l, void *ud)
{
    (void)l;
    strcat(ud, "a");
    return LOOP_TIMER_END;
}

static int64_t t_b(loop_t *l, void *ud)
{
    (void)l;
    strcat(ud, "b");
    return LOOP_TIMER_END;
}

static int64_t t_stop(loop_t *l, void *ud)
{
    (void)ud;
    loop_stop(l);
    return LOOP_TIMER_END;
}

static void test_timer_order(void **state)
{
    (void)state;
    loop_t *l = loop_new();
    char order[16] = "";
    loop_add_timer(l, 30, t_b, order);
    loop_add_timer(l, 10, t_a, order);
    loop_add_timer(l, 60, t_stop, NULL);
    int64_t t0 = loop_now_us();
    assert_int_equal(loop_run(l), 0);
    int64_t el = loop_now_us() - t0;
    assert_string_equal(order, "ab");
    assert_true(el >= 55000);    /* slept until the stop timer, no early exit */
    assert_true(el < 1000000);
    loop_free(&l);
    assert_null(l);
}

static void test_timer_rearm_and_end(void **state)
{
    (void)state;
    loop_t *l = loop_new();
    rec_t r = {.ret = 0};
    int id = loop_add_timer(l, 0, t_mark, &r);
    assert_true(id > 0);
    /* A timer returning 0 runs once per iteration, not repeatedly inside one. */
    assert_int_equal(loop_once(l, 0), 1);
    assert_int_equal(loop_once(l, 0), 1);
    assert_int_equal(r.runs, 2);
    r.ret = LOOP_TIMER_END;
    loop_once(l, 0);
    assert_int_equal(r.runs, 3);
    assert_int_equal(loop_once(l, 0), 0);
    assert_int_equal(r.runs, 3);
    /* Deleted timers never run. */
    r.ret = 0;
    id = loop_add_timer(l, 0, t_mark, &r);
    loop_del_timer(l, id);
    assert_int_equal(loop_once(l, 0), 0);
    assert_int_equal(r.runs, 3);
    loop_free(&l);
}

/* Many timers due in one pass (one per simulated athlete): earliest first, ties in arming
 * order, each once; a callback deleting a later due timer and adding many new ones (the timer
 * array grows during the pass) is safe, and the new ones wait for the next iteration. */
typedef struct many {
    loop_t *l;
    int seq[300];
    int n;
    int del_id;
    int added;
} many_t;

typedef struct many_arg {
    many_t *m;
    int k;
} many_arg_t;

static int64_t t_seq(loop_t *l, void *ud)
{
    many_arg_t *a = ud;
    many_t *m = a->m;
    if (m->n < 300)
        m->seq[m->n++] = a->k;
    if (a->k == 0) {
        loop_del_timer(l, m->del_id);
        static many_arg_t extra[100];
        for (int i = 0; i < 100; i++) {
            extra[i] = (many_arg_t){m, 1000 + i};
            loop_add_timer(l, 0, t_seq, &extra[i]);
            m->added++;
        }
    }
    return LOOP_TIMER_END;
}

static void test_many_timers_one_pass(void **state)
{
    (void)state;
    loop_t *l = loop_new();
    many_t m = {.l = l};
    static many_arg_t args[200];
    for (int k = 0; k < 200; k++) {
        args[k] = (many_arg_t){&m, k};
        int id = loop_add_timer(l, 0, t_seq, &args[k]);
        if (k == 150)
            m.del_id = id;
    }
    usleep(2000);
    /* One pass: all 200 due, earliest (first armed) first; timer 0 deleted 150, which never
     * runs, and armed 100 more (the array grows past 256 slots) that wait for the next pass. */
    assert_int_equal(loop_once(l, 0), 199);
    assert_int_equal(m.added, 100);
    assert_int_equal(m.n, 199);
    for (int i = 0; i < m.n; i++)
        assert_int_equal(m.seq[i], i < 150 ? i : i + 1);
    assert_int_equal(loop_once(l, 0), 100);
    assert_int_equal(m.n, 299);
    for (int i = 199; i < m.n; i++)
        assert_int_equal(m.seq[i], 1000 + i - 199);
    assert_int_equal(loop_once(l, 0), 0);
    loop_free(&l);
}

typedef struct io_rec {
    int fd;
    int calls;
    int del_id;
    loop_t *l;
} io_rec_t;

static void on_fd(loop_t *l, void *ud, short rev)
{
    io_rec_t *r = ud;
    assert_true(rev & ZMQ_POLLIN);
    char c;
    assert_int_equal(read(r->fd, &c, 1), 1);
    r->calls++;
    if (r->del_id)
        loop_del_io(l, r->del_id);
}

static void test_fd_ready(void **state)
{
    (void)state;
    int p[2];
    assert_int_equal(pipe(p), 0);
    loop_t *l = loop_new();
    io_rec_t r = {.fd = p[0]};
    int id = loop_add_fd(l, p[0], ZMQ_POLLIN, on_fd, &r);
    assert_int_equal(loop_once(l, 0), 0);
    assert_int_equal(write(p[1], "ab", 2), 2);
    assert_int_equal(loop_once(l, 1000), 1);
    assert_int_equal(r.calls, 1);
    /* Deleting itself inside the callback: no further calls although a byte is pending. */
    r.del_id = id;
    assert_int_equal(loop_once(l, 1000), 1);
    assert_int_equal(r.calls, 2);
    assert_int_equal(write(p[1], "c", 1), 1);
    assert_int_equal(loop_once(l, 0), 0);
    assert_int_equal(r.calls, 2);
    loop_free(&l);
    close(p[0]);
    close(p[1]);
}

typedef struct zs_rec {
    void *sock;
    int got;
} zs_rec_t;

static void on_sock(loop_t *l, void *ud, short rev)
{
    zs_rec_t *r = ud;
    (void)l;
    assert_true(rev & ZMQ_POLLIN);
    char buf[16];
    while (zmq_recv(r->sock, buf, sizeof buf, ZMQ_DONTWAIT) >= 0)
        r->got++;
}

static void test_zmq_socket_ready(void **state)
{
    (void)state;
    void *ctx = zmq_ctx_new();
    void *a = zmq_socket(ctx, ZMQ_PAIR), *b = zmq_socket(ctx, ZMQ_PAIR);
    assert_int_equal(zmq_bind(a, "inproc://loop-test"), 0);
    assert_int_equal(zmq_connect(b, "inproc://loop-test"), 0);
    loop_t *l = loop_new();
    zs_rec_t r = {.sock = a};
    loop_add_socket(l, a, ZMQ_POLLIN, on_sock, &r);
    assert_int_equal(zmq_send(b, "hi", 2, 0), 2);
    assert_int_equal(zmq_send(b, "ho", 2, 0), 2);
    int64_t t0 = loop_now_us();
    while (r.got < 2 && loop_now_us() - t0 < 2000000)
        loop_once(l, 100);
    assert_int_equal(r.got, 2);
    loop_free(&l);
    zmq_close(a);
    zmq_close(b);
    zmq_ctx_term(ctx);
}

static void test_stop_from_timer_with_sockets(void **state)
{
    (void)state;
    int p[2];
    assert_int_equal(pipe(p), 0);
    loop_t *l = loop_new();
    io_rec_t io = {.fd = p[0]};
    loop_add_fd(l, p[0], ZMQ_POLLIN, on_fd, &io);
    rec_t r = {.ret = 5, .stop_loop = NULL};
    loop_add_timer(l, 5, t_mark, &r);
    loop_add_timer(l, 50, t_stop, NULL);
    assert_int_equal(loop_run(l), 0);
    /* The 5 ms periodic timer ran several times while the loop slept in between. */
    assert_true(r.runs >= 3);
    assert_true(r.runs <= 12);
    loop_free(&l);
    close(p[0]);
    close(p[1]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_timer_order),
        cmocka_unit_test(test_timer_rearm_and_end),
        cmocka_unit_test(test_many_timers_one_pass),
        cmocka_unit_test(test_fd_ready),
        cmocka_unit_test(test_zmq_socket_ready),
        cmocka_unit_test(test_stop_from_timer_with_sockets),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
