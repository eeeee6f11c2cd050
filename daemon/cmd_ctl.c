/* cmd_ctl.c - gaitctl's control client: one subcommand per gaitd control command.
 *
 *   gaitctl status | pods | assign SERIAL ATHLETE L|R | start ATHLETE | stop ATHLETE
 *           | runs SERIAL | sync [SERIAL] | erase SERIAL RUN-ID | summary ID|RECORDING
 *           | sessions --control [ATHLETE]      (sessions without --control: cmd_sessions.c)
 * Options (anywhere after the subcommand): --control ENDPOINT (default $GAITD_CONTROL, else
 * tcp://127.0.0.1:5557), --json (print the daemon's reply as one JSON line), --timeout S (5).
 * Exit status: 0 ok, 1 error reply or no answer (message on stderr), 2 bad usage.
 */
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>
#include "gaitctl.h"
#include "keys.h"

#define CTL_DEFAULT "tcp://127.0.0.1:5557"

typedef struct ctl_args {
    const char *cmd;
    const char *endpoint;
    const char *server_key, *client_key;     /* CURVE (SECURITY.md), NULL: plaintext */
    int json;
    double timeout_s;
    const char *pos[4];
    int n_pos;
} ctl_args_t;

static const struct ctl_usage {
    const char *cmd, *args;
    int min, max;
} usages[] = {
    {"status", "", 0, 0},
    {"pods", "", 0, 0},
    {"assign", "SERIAL ATHLETE L|R", 3, 3},
    {"start", "ATHLETE", 1, 1},
    {"stop", "ATHLETE", 1, 1},
    {"runs", "SERIAL", 1, 1},
    {"sync", "[SERIAL]", 0, 1},
    {"erase", "SERIAL RUN-ID", 2, 2},
    {"sessions", "--control ENDPOINT [ATHLETE]", 0, 1},
    {"summary", "SESSION-ID|RECORDING", 1, 1},
};

static const struct ctl_usage *usage_of(const char *cmd)
{
    for (size_t i = 0; i < sizeof usages / sizeof usages[0]; i++)
        if (!strcmp(usages[i].cmd, cmd))
            return &usages[i];
    return NULL;
}

static void usage(FILE *f, const char *cmd)
{
    const struct ctl_usage *u = usage_of(cmd);
    fprintf(f, "usage: gaitctl %s [--control ENDPOINT] [--json] [--timeout S] %s\n", cmd,
            u ? u->args : "");
    fprintf(f,
            "  --control ENDPOINT  gaitd's control endpoint (default $GAITD_CONTROL, else %s)\n"
            "  --json              print the daemon's reply as one JSON line\n"
            "  --timeout S         seconds to wait for the reply (default 5)\n"
            "  --server-key FILE --client-key FILE  CURVE: gaitd's .pub and your .key\n"
            "                      (default $GAITD_SERVER_KEY, $GAITD_CLIENT_KEY)\n",
            CTL_DEFAULT);
}

/* Returns 0, 1 (help printed), or 2 (bad usage, message printed). */
static int parse(int argc, char **argv, ctl_args_t *a)
{
    memset(a, 0, sizeof *a);
    a->cmd = argv[0];
    a->endpoint = getenv("GAITD_CONTROL");
    if (!a->endpoint || !*a->endpoint)
        a->endpoint = CTL_DEFAULT;
    a->timeout_s = 5;
    a->server_key = getenv("GAITD_SERVER_KEY");
    a->client_key = getenv("GAITD_CLIENT_KEY");
    const struct ctl_usage *u = usage_of(a->cmd);
    for (int i = 1; i < argc; i++) {
        const char *s = argv[i];
        if (!strcmp(s, "-h") || !strcmp(s, "--help")) {
            usage(stdout, a->cmd);
            return 1;
        } else if (!strcmp(s, "--json")) {
            a->json = 1;
        } else if ((!strcmp(s, "--server-key") || !strcmp(s, "--client-key")) && i + 1 < argc) {
            *(s[2] == 's' ? &a->server_key : &a->client_key) = argv[++i];
        } else if (!strcmp(s, "--control") || !strcmp(s, "--timeout")) {
            if (i + 1 >= argc) {
                fprintf(stderr, "gaitctl %s: %s needs a value\n", a->cmd, s);
                return 2;
            }
            const char *v = argv[++i];
            if (s[2] == 'c') {
                a->endpoint = v;
            } else {
                char *end;
                a->timeout_s = strtod(v, &end);
                if (*end || !(a->timeout_s > 0) || a->timeout_s > 3600) {
                    fprintf(stderr, "gaitctl %s: --timeout: expected seconds, got '%s'\n", a->cmd,
                            v);
                    return 2;
                }
            }
        } else if (s[0] == '-' && s[1]) {
            fprintf(stderr, "gaitctl %s: unknown option '%s'\n", a->cmd, s);
            usage(stderr, a->cmd);
            return 2;
        } else if (a->n_pos < 4) {
            a->pos[a->n_pos++] = s;
        } else {
            a->n_pos++;
        }
    }
    if ((a->server_key && *a->server_key) != (a->client_key && *a->client_key)) {
        fprintf(stderr, "gaitctl %s: CURVE needs both --server-key and --client-key\n", a->cmd);
        return 2;
    }
    if (u && (a->n_pos < u->min || a->n_pos > u->max)) {
        fprintf(stderr, "gaitctl %s: expected %s\n", a->cmd, *u->args ? u->args : "no argument");
        usage(stderr, a->cmd);
        return 2;
    }
    return 0;
}

/* Sends req (stolen) to the endpoint and waits for the reply. Returns the reply, or NULL with
 * a message printed. */
static json_t *request(const ctl_args_t *a, json_t *req)
{
    char *body = json_dumps(req, JSON_COMPACT);
    json_decref(req);
    if (!body)
        return NULL;
    json_t *reply = NULL;
    void *ctx = zmq_ctx_new();
    void *s = ctx ? zmq_socket(ctx, ZMQ_REQ) : NULL;
    int zero = 0, ms = (int)(a->timeout_s * 1000);
    if (!s) {
        fprintf(stderr, "gaitctl %s: zmq: %s\n", a->cmd, zmq_strerror(zmq_errno()));
        goto out;
    }
    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(s, ZMQ_RCVTIMEO, &ms, sizeof ms);
    zmq_setsockopt(s, ZMQ_SNDTIMEO, &ms, sizeof ms);
    char kerr[600];
    if (a->server_key && *a->server_key &&
        keys_client_setup(s, a->server_key, a->client_key, kerr, sizeof kerr) != 0) {
        fprintf(stderr, "gaitctl %s: %s\n", a->cmd, kerr);
        goto out;
    }
    if (zmq_connect(s, a->endpoint) != 0) {
        fprintf(stderr, "gaitctl %s: --control %s: %s\n", a->cmd, a->endpoint,
                zmq_strerror(zmq_errno()));
        goto out;
    }
    if (zmq_send(s, body, strlen(body), 0) < 0) {
        fprintf(stderr, "gaitctl %s: %s: cannot send: %s\n", a->cmd, a->endpoint,
                zmq_strerror(zmq_errno()));
        goto out;
    }
    zmq_msg_t m;
    zmq_msg_init(&m);
    if (zmq_msg_recv(&m, s, 0) < 0) {
        fprintf(stderr, "gaitctl %s: no answer from gaitd at %s within %g s (is it running?)\n",
                a->cmd, a->endpoint, a->timeout_s);
        zmq_msg_close(&m);
        goto out;
    }
    json_error_t jerr;
    reply = json_loadb(zmq_msg_data(&m), zmq_msg_size(&m), 0, &jerr);
    zmq_msg_close(&m);
    if (!json_is_object(reply)) {
        fprintf(stderr, "gaitctl %s: %s: reply is not a JSON object: %s\n", a->cmd, a->endpoint,
                reply ? "wrong type" : jerr.text);
        json_decref(reply);
        reply = NULL;
    }
out:
    if (s)
        zmq_close(s);
    if (ctx)
        zmq_ctx_term(ctx);
    free(body);
    return reply;
}

static const char *str(const json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "-";
}

static void num(char *buf, size_t cap, const char *fmt, const json_t *v)
{
    if (json_is_number(v))
        snprintf(buf, cap, fmt, json_number_value(v));
    else
        snprintf(buf, cap, "-");
}

static void print_status(const json_t *r)
{
    const json_t *d = json_object_get(r, "daemon");
    printf("gaitd %s, up %.0f s, %lld feed messages sent, %lld dropped, %lld subscriptions\n",
           str(d, "version"), json_number_value(json_object_get(d, "uptime_s")),
           (long long)json_integer_value(json_object_get(d, "sent")),
           (long long)json_integer_value(json_object_get(d, "drops")),
           (long long)json_integer_value(json_object_get(d, "subscriptions")));
    const json_t *usb = json_object_get(r, "usb");
    if (json_is_object(usb))
        printf("usb: live %s, sync %s%s\n",
               json_is_true(json_object_get(usb, "live")) ? "on" : "off",
               json_is_true(json_object_get(usb, "sync")) ? "on" : "off",
               json_is_true(json_object_get(usb, "syncing")) ? " (syncing now)" : "");
    printf("%-16s %-10s %-8s %10s %10s %8s %8s %6s %6s\n", "ATHLETE", "SOURCE", "STATE",
           "SAMPLES_L", "SAMPLES_R", "STRIDES", "DATA_S", "CRC", "GAPS");
    size_t i;
    json_t *a;
    json_array_foreach(json_object_get(r, "athletes"), i, a)
    {
        const json_t *sm = json_object_get(a, "samples"), *st = json_object_get(a, "strides");
        char data[32];
        num(data, sizeof data, "%.1f", json_object_get(a, "data_s"));
        printf("%-16s %-10s %-8s %10lld %10lld %8lld %8s %6lld %6lld\n", str(a, "athlete"),
               str(a, "source"),
               json_is_true(json_object_get(a, "finished")) ? "finished" : "running",
               (long long)json_integer_value(json_object_get(sm, "L")),
               (long long)json_integer_value(json_object_get(sm, "R")),
               (long long)(json_integer_value(json_object_get(st, "L")) +
                           json_integer_value(json_object_get(st, "R"))),
               data, (long long)json_integer_value(json_object_get(a, "crc_errors")),
               (long long)json_integer_value(json_object_get(a, "gaps")));
    }
}

static void print_pods(const json_t *r)
{
    if (!json_is_true(json_object_get(r, "usb")))
        printf("(USB is not enabled in gaitd: pairings only)\n");
    printf("%-15s %-4s %-16s %-11s %-4s %6s %11s %9s %9s %5s %5s %5s\n", "SERIAL", "FOOT",
           "ATHLETE", "STATE", "CONN", "RATE", "OFFSET_MS", "DRIFT_PPM", "FRAMES", "CRC", "GAPS",
           "RUNS");
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(r, "pods"), i, p)
    {
        const json_t *ck = json_object_get(p, "clock"), *c = json_object_get(p, "counters");
        char rate[16], off[32], drift[32], frames[32], crc[16], gaps[16], runs[16];
        num(rate, sizeof rate, "%.0f", json_object_get(p, "rate_hz"));
        if (json_is_object(ck))
            snprintf(off, sizeof off, "%.3f",
                     (double)json_integer_value(json_object_get(ck, "offset_us")) / 1000.0);
        else
            snprintf(off, sizeof off, "-");
        num(drift, sizeof drift, "%.1f", json_object_get(ck, "drift_ppm"));
        num(frames, sizeof frames, "%.0f", json_object_get(c, "frames_ok"));
        num(crc, sizeof crc, "%.0f", json_object_get(c, "crc_errors"));
        num(gaps, sizeof gaps, "%.0f", json_object_get(c, "gaps"));
        num(runs, sizeof runs, "%.0f", json_object_get(p, "runs_stored"));
        printf("%-15s %-4s %-16s %-11s %-4s %6s %11s %9s %9s %5s %5s %5s\n", str(p, "serial"),
               str(p, "foot"),
               json_is_string(json_object_get(p, "athlete")) ? str(p, "athlete") : "(unpaired)",
               str(p, "state"), json_is_true(json_object_get(p, "connected")) ? "yes" : "no", rate,
               off, drift, frames, crc, gaps, runs);
    }
}

static void print_runs(const json_t *r)
{
    printf("pod %s (%s)%s\n", str(r, "serial"),
           json_is_true(json_object_get(r, "connected")) ? "connected" : "not connected",
           json_is_true(json_object_get(r, "listed")) ? "" : ": runs not listed yet");
    printf("%6s  %-24s %8s  %s\n", "RUN", "STARTED (UTC)", "FRAMES", "SYNCED");
    size_t i;
    json_t *x;
    json_array_foreach(json_object_get(r, "runs"), i, x) printf(
        "%6lld  %-24s %8lld  %s\n", (long long)json_integer_value(json_object_get(x, "run_id")),
        str(x, "start_utc"), (long long)json_integer_value(json_object_get(x, "frames")),
        json_is_true(json_object_get(x, "synced")) ? "yes" : "no");
}

static void focus_line(const json_t *f)
{
    size_t i;
    json_t *e;
    json_array_foreach(f, i, e)
    {
        printf("  %-15s %-4s %.2f  (%s)\n", str(e, "area"), str(e, "side"),
               json_number_value(json_object_get(e, "score")), str(e, "reference"));
        size_t k;
        json_t *ev;
        json_array_foreach(json_object_get(e, "evidence"), k, ev)
            printf("      %s\n", json_string_value(ev) ? json_string_value(ev) : "");
    }
}

static void print_sessions(const json_t *r)
{
    printf("%6s  %-16s %-11s %-24s %9s %8s %9s  %s\n", "ID", "ATHLETE", "STATE", "STARTED (UTC)",
           "DURATION", "CADENCE", "CONT_SI%", "TOP FOCUS");
    size_t i;
    json_t *s;
    json_array_foreach(json_object_get(r, "sessions"), i, s)
    {
        char dur[32], cad[32], si[32], top[96] = "-";
        num(dur, sizeof dur, "%.0f s", json_object_get(s, "duration_s"));
        num(cad, sizeof cad, "%.1f", json_object_get(s, "cadence_spm"));
        num(si, sizeof si, "%+.1f",
            json_object_get(json_object_get(s, "symmetry"), "contact_si_pct"));
        json_t *f0 = json_array_get(json_object_get(s, "focus"), 0);
        if (f0)
            snprintf(top, sizeof top, "%s %s %.2f", str(f0, "area"), str(f0, "side"),
                     json_number_value(json_object_get(f0, "score")));
        printf("%6lld  %-16s %-11s %-24s %9s %8s %9s  %s\n",
               (long long)json_integer_value(json_object_get(s, "id")), str(s, "athlete"),
               str(s, "state"), str(s, "started_utc"), dur, cad, si, top);
    }
}

static void print_summary(const json_t *r)
{
    const json_t *s = json_object_get(r, "session"), *sum = json_object_get(r, "summary");
    char dur[32], cad[32];
    num(dur, sizeof dur, "%.0f s", json_object_get(s, "duration_s"));
    num(cad, sizeof cad, "%.1f steps/min", json_object_get(s, "cadence_spm"));
    printf("session %lld: %s, %s (%s), started %s, %s, cadence %s\n",
           (long long)json_integer_value(json_object_get(s, "id")), str(s, "athlete"),
           str(s, "state"), str(s, "source"), str(s, "started_utc"), dur, cad);
    printf("recording: %s\n", str(s, "recording"));
    const json_t *sym = json_object_get(s, "symmetry");
    char a[32], b[32], c[32];
    num(a, sizeof a, "%+.1f %%", json_object_get(sym, "contact_si_pct"));
    num(b, sizeof b, "%+.1f %%", json_object_get(sym, "stride_si_pct"));
    num(c, sizeof c, "%+.1f %%", json_object_get(sym, "step_si_pct"));
    printf("symmetry (L vs R): contact %s, stride %s, step %s\n", a, b, c);
    const json_t *focus = json_object_get(r, "focus");
    if (json_array_size(focus)) {
        printf("massage focus (training aid, not a diagnosis):\n");
        focus_line(focus);
    } else {
        printf("massage focus: none%s\n", json_is_object(sum) ? "" : " (no summary stored)");
    }
    const json_t *rec = json_object_get(json_object_get(sum, "recovery"), "advice");
    if (json_is_string(rec))
        printf("recovery: %s\n", json_string_value(rec));
}

/* Builds the request of a subcommand from its arguments. Returns NULL with a message (2). */
static json_t *build(const ctl_args_t *a)
{
    const char *c = a->cmd;
    json_t *req = json_pack("{s:s}", "cmd", c);
    if (!strcmp(c, "assign")) {
        json_object_set_new(req, "serial", json_string(a->pos[0]));
        json_object_set_new(req, "athlete", json_string(a->pos[1]));
        json_object_set_new(req, "foot", json_string(a->pos[2]));
    } else if (!strcmp(c, "start") || !strcmp(c, "stop")) {
        json_object_set_new(req, "athlete", json_string(a->pos[0]));
    } else if (!strcmp(c, "runs") || (!strcmp(c, "sync") && a->n_pos)) {
        json_object_set_new(req, "serial", json_string(a->pos[0]));
    } else if (!strcmp(c, "erase")) {
        char *end;
        errno = 0;
        long long run = strtoll(a->pos[1], &end, 10);
        if (*end || !*a->pos[1] || errno || run < 1) {
            fprintf(stderr, "gaitctl erase: RUN-ID must be a positive integer, got '%s'\n",
                    a->pos[1]);
            json_decref(req);
            return NULL;
        }
        json_object_set_new(req, "serial", json_string(a->pos[0]));
        json_object_set_new(req, "run_id", json_integer(run));
    } else if (!strcmp(c, "sessions") && a->n_pos) {
        json_object_set_new(req, "athlete", json_string(a->pos[0]));
    } else if (!strcmp(c, "summary")) {
        const char *v = a->pos[0];
        char *end;
        errno = 0;
        long long id = strtoll(v, &end, 10);
        if (!*end && *v && !errno && id > 0)
            json_object_set_new(req, "id", json_integer(id));
        else
            json_object_set_new(req, "recording", json_string(v));
    }
    if (!req)
        fprintf(stderr, "gaitctl %s: out of memory\n", c);
    return req;
}

int cmd_ctl(int argc, char **argv)
{
    ctl_args_t a;
    int pr = parse(argc, argv, &a);
    if (pr)
        return pr == 1 ? 0 : 2;
    json_t *req = build(&a);
    if (!req)
        return 2;
    json_t *r = request(&a, req);
    if (!r)
        return 1;
    int ok = json_is_true(json_object_get(r, "ok"));
    if (!ok) {
        const json_t *e = json_object_get(r, "error");
        fprintf(stderr, "gaitctl %s: %s: %s\n", a.cmd, str(e, "code"), str(e, "message"));
    }
    if (a.json) {
        char *line = json_dumps(r, JSON_COMPACT | JSON_PRESERVE_ORDER);
        if (line)
            printf("%s\n", line);
        free(line);
    } else if (ok) {
        const char *c = a.cmd;
        if (!strcmp(c, "status"))
            print_status(r);
        else if (!strcmp(c, "pods"))
            print_pods(r);
        else if (!strcmp(c, "assign"))
            printf("pod %s assigned to %s (%s)%s\n", str(r, "serial"), str(r, "athlete"),
                   str(r, "foot"),
                   json_is_true(json_object_get(r, "remembered")) ? ", remembered in the catalog"
                                                                  : ", until gaitd restarts");
        else if (!strcmp(c, "start") || !strcmp(c, "stop"))
            printf("%s: live session %s\n", str(r, "athlete"),
                   !strcmp(c, "start") ? "started" : "stopped");
        else if (!strcmp(c, "runs"))
            print_runs(r);
        else if (!strcmp(c, "sync"))
            printf("sync started on %lld pod(s)\n",
                   (long long)json_integer_value(json_object_get(r, "syncing")));
        else if (!strcmp(c, "erase"))
            printf("erasing run %lld of pod %s\n",
                   (long long)json_integer_value(json_object_get(r, "run_id")), str(r, "serial"));
        else if (!strcmp(c, "sessions"))
            print_sessions(r);
        else if (!strcmp(c, "summary"))
            print_summary(r);
    }
    json_decref(r);
    if (fflush(stdout) != 0)
        return 1;
    return ok ? 0 : 1;
}
