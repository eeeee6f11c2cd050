/* loop.c - event loop around zmq_poll with timers (see loop.h). */
#include "loop.h"
#include <errno.h>
#include <stdlib.h>
#include <time.h>
#include <zmq.h>
#include "alloc.h"

typedef struct loop_io {
    int id;                      /* 0 = deleted slot */
    void *sock;
    int fd;
    short events;
    loop_io_fn fn;
    void *ud;
} loop_io_t;

/* run_timers scratch entry: a due timer's sort key and slot. */
typedef struct loop_due {
    int64_t due_us;
    uint64_t order;
    size_t slot;
} loop_due_t;

typedef struct loop_timer {
    int id;                      /* 0 = deleted slot */
    int64_t due_us;
    uint64_t order;              /* arming order: equal due times run first-armed first */
    loop_timer_fn fn;
    void *ud;
} loop_timer_t;

struct loop {
    loop_io_t *io;
    size_t n_io, cap_io;
    loop_timer_t *timers;
    size_t n_timers, cap_timers;
    loop_due_t *due;             /* run_timers scratch: the due timers, cap_timers entries */
    zmq_pollitem_t *items;       /* rebuilt each iteration, cap_io entries */
    int next_id;
    uint64_t next_order;
    int stop;
};

int64_t loop_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

loop_t *loop_new(void)
{
    loop_t *l = xcalloc(1, sizeof *l);
    l->next_id = 1;
    return l;
}

void loop_free(loop_t **lp)
{
    if (!lp || !*lp)
        return;
    loop_t *l = *lp;
    xfree(l->io);
    xfree(l->items);
    xfree(l->timers);
    xfree(l->due);
    xfree(l);
    *lp = NULL;
}

static int add_io(loop_t *l, void *sock, int fd, short events, loop_io_fn fn, void *ud)
{
    if (l->n_io == l->cap_io) {
        l->cap_io = l->cap_io ? 2 * l->cap_io : 8;
        l->io = xrealloc(l->io, l->cap_io * sizeof *l->io);
        l->items = xrealloc(l->items, l->cap_io * sizeof *l->items);
    }
    loop_io_t *e = &l->io[l->n_io++];
    e->id = l->next_id++;
    e->sock = sock;
    e->fd = fd;
    e->events = events;
    e->fn = fn;
    e->ud = ud;
    return e->id;
}

int loop_add_socket(loop_t *l, void *zsock, short events, loop_io_fn fn, void *ud)
{
    return add_io(l, zsock, -1, events, fn, ud);
}

int loop_add_fd(loop_t *l, int fd, short events, loop_io_fn fn, void *ud)
{
    return add_io(l, NULL, fd, events, fn, ud);
}

void loop_del_io(loop_t *l, int id)
{
    for (size_t i = 0; i < l->n_io; i++)
        if (l->io[i].id == id)
            l->io[i].id = 0;     /* compacted at the start of the next iteration */
}

int loop_add_timer(loop_t *l, int64_t delay_ms, loop_timer_fn fn, void *ud)
{
    if (l->n_timers == l->cap_timers) {
        l->cap_timers = l->cap_timers ? 2 * l->cap_timers : 8;
        l->timers = xrealloc(l->timers, l->cap_timers * sizeof *l->timers);
        l->due = xrealloc(l->due, l->cap_timers * sizeof *l->due);
    }
    loop_timer_t *t = &l->timers[l->n_timers++];
    t->id = l->next_id++;
    t->due_us = loop_now_us() + (delay_ms > 0 ? delay_ms : 0) * 1000;
    t->order = l->next_order++;
    t->fn = fn;
    t->ud = ud;
    return t->id;
}

void loop_del_timer(loop_t *l, int id)
{
    for (size_t i = 0; i < l->n_timers; i++)
        if (l->timers[i].id == id)
            l->timers[i].id = 0;
}

void loop_stop(loop_t *l)
{
    l->stop = 1;
}

static void compact(loop_t *l)
{
    size_t j = 0;
    for (size_t i = 0; i < l->n_io; i++)
        if (l->io[i].id)
            l->io[j++] = l->io[i];
    l->n_io = j;
    j = 0;
    for (size_t i = 0; i < l->n_timers; i++)
        if (l->timers[i].id)
            l->timers[j++] = l->timers[i];
    l->n_timers = j;
}

static int cmp_due(const void *a, const void *b)
{
    const loop_due_t *x = a, *y = b;
    if (x->due_us != y->due_us)
        return x->due_us < y->due_us ? -1 : 1;
    return x->order < y->order ? -1 : x->order > y->order;
}

/* Runs every timer due at `now`, earliest first, each at most once: the due set is taken before
 * the first callback, so a timer armed or re-armed inside a callback (even with 0) waits for the
 * next iteration and sockets are polled in between. O(n + k log k) for n timers, k due (one
 * timer per simulated athlete: hundreds). Slots are never moved during a pass (deleted ones
 * are compacted at the start of loop_once), so indices stay valid when callbacks add timers.
 * Returns the number run. */
static int run_timers(loop_t *l, int64_t now)
{
    size_t k = 0;
    for (size_t i = 0; i < l->n_timers; i++) {
        const loop_timer_t *t = &l->timers[i];
        if (t->id && t->due_us <= now)
            l->due[k++] = (loop_due_t){t->due_us, t->order, i};
    }
    if (k > 1)
        qsort(l->due, k, sizeof *l->due, cmp_due);
    int ran = 0;
    for (size_t j = 0; j < k; j++) {
        /* l->due may be reallocated by a callback adding timers: read it again each time */
        size_t i = l->due[j].slot;
        loop_timer_t *t = &l->timers[i];
        if (!t->id)
            continue;            /* deleted by an earlier callback */
        int id = t->id;
        int64_t next = t->fn(l, t->ud);
        ran++;
        t = &l->timers[i];       /* the array may have grown inside fn */
        if (t->id != id)
            continue;            /* deleted inside fn */
        if (next < 0) {
            t->id = 0;
        } else {
            t->due_us = loop_now_us() + next * 1000;
            t->order = l->next_order++;
        }
    }
    return ran;
}

int loop_once(loop_t *l, int64_t max_wait_ms)
{
    compact(l);
    int64_t now = loop_now_us();
    long timeout_ms = max_wait_ms < 0 ? -1 : (long)max_wait_ms;
    for (size_t i = 0; i < l->n_timers; i++) {
        int64_t wait_us = l->timers[i].due_us - now;
        long ms = wait_us <= 0 ? 0 : (long)((wait_us + 999) / 1000);
        if (timeout_ms < 0 || ms < timeout_ms)
            timeout_ms = ms;
    }
    size_t n = l->n_io;
    for (size_t i = 0; i < n; i++) {
        l->items[i].socket = l->io[i].sock;
        l->items[i].fd = l->io[i].fd;
        l->items[i].events = l->io[i].events;
        l->items[i].revents = 0;
    }
    int rc = zmq_poll(n ? l->items : NULL, (int)n, timeout_ms);
    if (rc < 0) {
        if (errno != EINTR)
            return -1;
        rc = 0;
    }
    int ran = 0;
    if (rc > 0) {
        /* Items are matched by id: a callback may delete later items or add new ones. */
        for (size_t i = 0; i < n; i++) {
            if (!l->items[i].revents || !l->io[i].id)
                continue;
            l->io[i].fn(l, l->io[i].ud, l->items[i].revents);
            ran++;
        }
    }
    ran += run_timers(l, loop_now_us());
    return ran;
}

int loop_run(loop_t *l)
{
    l->stop = 0;
    while (!l->stop)
        if (loop_once(l, -1) < 0)
            return -1;
    return 0;
}
