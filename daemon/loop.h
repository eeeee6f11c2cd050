/* loop.h - the daemon's event loop: one zmq_poll over ZeroMQ sockets and plain file descriptors,
 * plus timers (Redis ae style, a few hundred lines, no threads).
 *
 * Sockets and fds (signalfd, later libusb's pollfds) are registered with a callback that runs
 * when the item is ready; timers run once at their due time and are re-armed with the delay
 * they return. The loop never busy-waits: it sleeps in zmq_poll until the next timer is due or
 * an item is ready. A timer returning 0 runs again at the next iteration, after the sockets have
 * been polled without waiting (how "as fast as possible" work keeps sockets serviced).
 *
 * Callbacks may add and delete items and timers, including themselves. Not thread-safe.
 */
#ifndef GAITD_LOOP_H
#define GAITD_LOOP_H
#include <stdint.h>

typedef struct loop loop_t;

#define LOOP_TIMER_END (-1)      /* timer callback return value: remove the timer */

/* Called with the zmq_poll revents (ZMQ_POLLIN / ZMQ_POLLOUT / ZMQ_POLLERR) of the item. */
typedef void (*loop_io_fn)(loop_t *l, void *ud, short revents);
/* Returns the delay in ms until the next run (>= 0), or LOOP_TIMER_END. */
typedef int64_t (*loop_timer_fn)(loop_t *l, void *ud);

/* Allocates an empty loop. Caller owns it (loop_free). */
loop_t *loop_new(void);
/* Frees *l (registered sockets and fds are not closed) and sets *l to NULL. */
void loop_free(loop_t **l);

/* Registers a ZeroMQ socket (not owned) for events (ZMQ_POLLIN | ZMQ_POLLOUT). Returns an id > 0. */
int loop_add_socket(loop_t *l, void *zsock, short events, loop_io_fn fn, void *ud);
/* Registers a file descriptor (not owned) for events (ZMQ_POLLIN | ZMQ_POLLOUT). Returns an id > 0. */
int loop_add_fd(loop_t *l, int fd, short events, loop_io_fn fn, void *ud);
/* Unregisters an item; unknown ids are ignored. Safe inside callbacks. */
void loop_del_io(loop_t *l, int id);

/* Arms a timer that first runs after delay_ms (0 = next iteration). Returns an id > 0. */
int loop_add_timer(loop_t *l, int64_t delay_ms, loop_timer_fn fn, void *ud);
/* Removes a timer; unknown ids are ignored. Safe inside callbacks. */
void loop_del_timer(loop_t *l, int id);

/* Runs until loop_stop is called (returns 0) or zmq_poll fails for a reason other than EINTR
 * (returns -1, errno set). */
int loop_run(loop_t *l);
/* Makes loop_run return after the current iteration. */
void loop_stop(loop_t *l);
/* Runs at most one iteration, waiting at most max_wait_ms (-1: until something happens).
 * Returns the number of callbacks run, or -1 on poll failure. For tests and shutdown drains;
 * not from inside a callback (the timer pass is not re-entrant). */
int loop_once(loop_t *l, int64_t max_wait_ms);

/* Monotonic clock in microseconds. */
int64_t loop_now_us(void);

#endif
