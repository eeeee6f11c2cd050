/* cmd_watch.c - gaitctl watch [--count N] [--timeout S] ENDPOINT [TOPIC-PREFIX]
 *
 * Subscribes to a gaitd feed endpoint and prints each message as one JSON object per line, with
 * the topic added as "topic" (first key), flushing after each line. A payload that is not a JSON
 * object is printed as {"topic":..,"raw":"<text>"}. Exits 0 after N messages (--count), after S
 * seconds (--timeout), on SIGINT/SIGTERM or when stdout is closed; 2 on bad usage; 1 if the
 * endpoint cannot be used.
 */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>
#include <jansson.h>
#include <zmq.h>
#include "gaitctl.h"
#include "keys.h"

static void watch_usage(FILE *f)
{
    fprintf(f, "usage: gaitctl watch [--count N] [--timeout S] ENDPOINT [TOPIC-PREFIX]\n"
               "  prints feed messages as JSON lines with \"topic\" added, e.g.\n"
               "  gaitctl watch tcp://127.0.0.1:5556 gait/sim1/\n"
               "  --count N    exit after N messages\n"
               "  --timeout S  exit after S seconds\n"
               "  --server-key FILE --client-key FILE   CURVE: gaitd's .pub and your .key\n"
               "               (default $GAITD_SERVER_KEY, $GAITD_CLIENT_KEY; SECURITY.md)\n");
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Receives the rest of a multipart message into a new buffer (frame 2; extra frames ignored). */
static int recv_frame(void *sock, zmq_msg_t *m)
{
    zmq_msg_init(m);
    return zmq_msg_recv(m, sock, ZMQ_DONTWAIT);
}

static void skip_rest(void *sock, zmq_msg_t *last)
{
    while (zmq_msg_more(last)) {
        zmq_msg_close(last);
        zmq_msg_init(last);
        if (zmq_msg_recv(last, sock, 0) < 0)
            break;
    }
}

/* Prints one message. Returns 0, or -1 if stdout failed. */
static int print_message(const char *topic, size_t tlen, const char *body, size_t blen)
{
    json_t *out = json_object();
    json_object_set_new(out, "topic", json_stringn(topic, tlen));
    json_t *msg = json_loadb(body, blen, 0, NULL);
    if (json_is_object(msg))
        json_object_update(out, msg);
    else
        json_object_set_new(out, "raw", json_stringn(body, blen));
    json_decref(msg);
    char *line = json_dumps(out, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(16));
    json_decref(out);
    if (!line)
        return -1;
    int rc = (fputs(line, stdout) < 0 || fputc('\n', stdout) == EOF || fflush(stdout) != 0) ? -1 : 0;
    free(line);
    return rc;
}

int cmd_watch(int argc, char **argv)
{
    const char *endpoint = NULL, *prefix = "";
    const char *server_key = getenv("GAITD_SERVER_KEY"), *client_key = getenv("GAITD_CLIENT_KEY");
    long count = -1;
    double timeout = -1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            watch_usage(stdout);
            return 0;
        } else if ((!strcmp(a, "--count") || !strcmp(a, "-n")) && i + 1 < argc) {
            char *end;
            count = strtol(argv[++i], &end, 10);
            if (*end || end == argv[i] || count < 1) {
                fprintf(stderr, "gaitctl watch: --count: expected a positive integer\n");
                return 2;
            }
        } else if (!strcmp(a, "--timeout") && i + 1 < argc) {
            char *end;
            timeout = strtod(argv[++i], &end);
            if (*end || end == argv[i] || !(timeout >= 0) || !isfinite(timeout)) {
                fprintf(stderr, "gaitctl watch: --timeout: expected seconds >= 0\n");
                return 2;
            }
        } else if ((!strcmp(a, "--server-key") || !strcmp(a, "--client-key")) && i + 1 < argc) {
            *(a[2] == 's' ? &server_key : &client_key) = argv[++i];
        } else if (a[0] == '-' && a[1] == '-') {
            fprintf(stderr, "gaitctl watch: unknown option '%s'\n", a);
            watch_usage(stderr);
            return 2;
        } else if (!endpoint) {
            endpoint = a;
        } else if (!prefix[0]) {
            prefix = a;
        } else {
            fprintf(stderr, "gaitctl watch: unexpected argument '%s'\n", a);
            watch_usage(stderr);
            return 2;
        }
    }
    if (!endpoint) {
        watch_usage(stderr);
        return 2;
    }

    /* Signals through a signalfd polled with the socket (blocked before ZeroMQ's threads); the
     * default disposition is restored first (an ignored signal never reaches a signalfd). */
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigprocmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    int sfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);

    int status = 0;
    void *ctx = zmq_ctx_new();
    void *sock = zmq_socket(ctx, ZMQ_SUB);
    int zero = 0;
    zmq_setsockopt(sock, ZMQ_LINGER, &zero, sizeof zero);
    char kerr[600];
    if ((server_key && *server_key) != (client_key && *client_key)) {
        fprintf(stderr, "gaitctl watch: CURVE needs both --server-key and --client-key\n");
        status = 2;
        goto out;
    }
    if (server_key && *server_key &&
        keys_client_setup(sock, server_key, client_key, kerr, sizeof kerr) != 0) {
        fprintf(stderr, "gaitctl watch: %s\n", kerr);
        status = 1;
        goto out;
    }
    if (zmq_connect(sock, endpoint) != 0) {
        fprintf(stderr, "gaitctl watch: %s: %s\n", endpoint, zmq_strerror(zmq_errno()));
        status = 1;
        goto out;
    }
    zmq_setsockopt(sock, ZMQ_SUBSCRIBE, prefix, strlen(prefix));

    double deadline = timeout >= 0 ? now_s() + timeout : INFINITY;
    long printed = 0;
    while (count < 0 || printed < count) {
        double left = deadline - now_s();
        if (left <= 0)
            break;
        zmq_pollitem_t items[2] = {{sock, 0, ZMQ_POLLIN, 0}, {NULL, sfd, ZMQ_POLLIN, 0}};
        long wait_ms = isfinite(left) ? (long)ceil(left * 1000.0) : -1;
        int rc = zmq_poll(items, sfd >= 0 ? 2 : 1, wait_ms);
        if (rc < 0) {
            if (errno == EINTR)
                continue;
            fprintf(stderr, "gaitctl watch: poll: %s\n", zmq_strerror(errno));
            status = 1;
            break;
        }
        if (sfd >= 0 && (items[1].revents & ZMQ_POLLIN))
            break;
        if (!(items[0].revents & ZMQ_POLLIN))
            continue;
        while (count < 0 || printed < count) {
            zmq_msg_t topic, body;
            if (recv_frame(sock, &topic) < 0) {
                zmq_msg_close(&topic);
                break;
            }
            zmq_msg_init(&body);
            int have_body = zmq_msg_more(&topic) && zmq_msg_recv(&body, sock, 0) >= 0;
            if (have_body)
                skip_rest(sock, &body);
            int prc = print_message(zmq_msg_data(&topic), zmq_msg_size(&topic),
                                    have_body ? zmq_msg_data(&body) : "",
                                    have_body ? zmq_msg_size(&body) : 0);
            zmq_msg_close(&topic);
            zmq_msg_close(&body);
            if (prc != 0)
                goto out;        /* stdout closed (e.g. piped into head): a normal end */
            printed++;
        }
    }
out:
    zmq_close(sock);
    zmq_ctx_term(ctx);
    if (sfd >= 0)
        close(sfd);
    return status;
}
