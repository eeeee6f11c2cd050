/* umockpod_run - runs a command (e.g. gaitd --usb) against emulated pods, like umockdev-run.
 *
 *   umockpod_run [--pod SERIAL:FOOT[:runs=N][:speed=X][:seed=S]]... [--unplug-at S]
 *                [--replug-at S] [--corrupt-frame N] [--stats FILE] -- COMMAND [ARG...]
 *
 * Creates the testbed and the pods (plugged at start), then starts COMMAND with
 * LD_PRELOAD=libumockdev-preload.so.0 and $UMOCKDEV_DIR, so its libusb sees the pods; the ioctls
 * are answered in this process (umockdev's worker thread). --unplug-at / --replug-at unplug and
 * plug back the first pod S seconds after the start. When COMMAND exits, each pod's counters are
 * written as one JSON line per pod to --stats (default: stderr), and its exit status is returned.
 * SIGTERM and SIGINT are forwarded to COMMAND. SIGUSR1 unplugs the first pod and SIGUSR2 plugs it
 * back, whenever a test wants (no timing involved); with --run-on-unplug the pod stores one new
 * run (run_s seconds) at each unplug, as if the runner went out with it. --stall-unplug N makes
 * the first pod hang after N frames and unplugs it as soon as it hangs (mid-run or mid-stream).
 */
#include <errno.h>
#include <glib.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "umockpod.h"

#define MAX_PODS 8

static volatile sig_atomic_t got_signal, got_unplug, got_replug;

static void on_signal(int sig)
{
    if (sig == SIGUSR1)
        got_unplug = 1;
    else if (sig == SIGUSR2)
        got_replug = 1;
    else
        got_signal = sig;
}

static int parse_pod(const char *s, umockpod_cfg_t *c, unsigned idx)
{
    char buf[128];
    snprintf(buf, sizeof buf, "%s", s);
    char *save = NULL;
    char *serial = strtok_r(buf, ":", &save);
    char *foot = strtok_r(NULL, ":", &save);
    if (!serial || !foot || (foot[0] != 'L' && foot[0] != 'R') || strlen(serial) >= POD_SERIAL_LEN)
        return -1;
    umockpod_cfg_default(c, serial, (uint8_t)foot[0]);
    c->seed = 11 + idx;
    for (char *kv; (kv = strtok_r(NULL, ":", &save));) {
        if (!strncmp(kv, "runs=", 5))
            c->n_runs = (unsigned)atoi(kv + 5);
        else if (!strncmp(kv, "speed=", 6))
            c->speed = atof(kv + 6);
        else if (!strncmp(kv, "seed=", 5))
            c->seed = strtoull(kv + 5, NULL, 10);
        else if (!strncmp(kv, "run_s=", 6))
            c->run_s = atof(kv + 6);
        else
            return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    umockpod_cfg_t cfg[MAX_PODS];
    unsigned n = 0;
    double unplug_at = -1, replug_at = -1;
    int corrupt = -1, run_on_unplug = 0;
    long stall_unplug = -1;
    const char *stats_path = NULL;
    int i = 1;
    for (; i < argc && strcmp(argv[i], "--"); i++) {
        if (!strcmp(argv[i], "--pod") && i + 1 < argc && n < MAX_PODS) {
            if (parse_pod(argv[++i], &cfg[n], n) != 0) {
                fprintf(stderr, "umockpod_run: bad --pod %s\n", argv[i]);
                return 2;
            }
            n++;
        } else if (!strcmp(argv[i], "--unplug-at") && i + 1 < argc) {
            unplug_at = atof(argv[++i]);
        } else if (!strcmp(argv[i], "--replug-at") && i + 1 < argc) {
            replug_at = atof(argv[++i]);
        } else if (!strcmp(argv[i], "--corrupt-frame") && i + 1 < argc) {
            corrupt = atoi(argv[++i]);
        } else if (!strcmp(argv[i], "--stall-unplug") && i + 1 < argc) {
            stall_unplug = atol(argv[++i]);
        } else if (!strcmp(argv[i], "--run-on-unplug")) {
            run_on_unplug = 1;
        } else if (!strcmp(argv[i], "--stats") && i + 1 < argc) {
            stats_path = argv[++i];
        } else {
            fprintf(stderr, "usage: umockpod_run [--pod SERIAL:FOOT[:runs=N][:speed=X]]... "
                            "[--unplug-at S] [--replug-at S] [--corrupt-frame N] [--run-on-unplug] [--stall-unplug N] [--stats FILE] "
                            "-- COMMAND [ARG...]\n");
            return 2;
        }
    }
    if (i + 1 >= argc) {
        fprintf(stderr, "umockpod_run: no command\n");
        return 2;
    }
    char **cmd = argv + i + 1;
    if (!n) {
        umockpod_cfg_default(&cfg[0], "GP-L-0001", 'L');
        umockpod_cfg_default(&cfg[1], "GP-R-0002", 'R');
        cfg[1].seed = 12;
        n = 2;
    }
    /* This process needs the preload library too (uevents are built from the testbed's sysfs):
     * re-run itself under it. The command inherits it. */
    const char *old = getenv("LD_PRELOAD");
    if (!old || !strstr(old, "umockdev-preload")) {
        char *pre = g_strdup_printf("libumockdev-preload.so.0%s%s", old && *old ? ":" : "",
                                    old ? old : "");
        setenv("LD_PRELOAD", pre, 1);
        g_free(pre);
        execv("/proc/self/exe", argv);
        perror("umockpod_run: re-exec");
        return 1;
    }
    umockpod_bed_t *bed = umockpod_bed_new();
    if (!bed) {
        fprintf(stderr, "umockpod_run: cannot create the testbed\n");
        return 1;
    }
    umockpod_t *pods[MAX_PODS];
    for (unsigned k = 0; k < n; k++) {
        pods[k] = umockpod_new(bed, &cfg[k]);
        if (k == 0 && corrupt >= 0)
            umockpod_corrupt_frame(pods[k], (unsigned)corrupt);
        umockpod_plug(pods[k]);
        if (k == 0 && stall_unplug > 0)  /* after the plug, which clears it */
            umockpod_stall_after(pods[k], (uint64_t)stall_unplug);
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGUSR1, &sa, NULL);
    sigaction(SIGUSR2, &sa, NULL);
    pid_t pid = fork();
    if (pid < 0) {
        perror("umockpod_run: fork");
        return 1;
    }
    if (pid == 0) {
        signal(SIGTERM, SIG_DFL);
        signal(SIGINT, SIG_DFL);
        signal(SIGUSR1, SIG_DFL);
        signal(SIGUSR2, SIG_DFL);
        execvp(cmd[0], cmd);
        fprintf(stderr, "umockpod_run: %s: %s\n", cmd[0], strerror(errno));
        _exit(127);
    }
    gint64 t0 = g_get_monotonic_time();
    int status = 0, unplugged = 0, replugged = 0;
    for (;;) {
        pid_t w = waitpid(pid, &status, WNOHANG);
        if (w == pid)
            break;
        if (got_signal) {
            kill(pid, got_signal);
            got_signal = 0;
        }
        double el = (double)(g_get_monotonic_time() - t0) * 1e-6;
        if (stall_unplug > 0) {     /* unplug the first pod as soon as it hangs */
            umockpod_stats_t ps;
            umockpod_stats(pods[0], &ps);
            if (ps.stalled && ps.plugged) {
                umockpod_unplug(pods[0]);
                stall_unplug = 0;
                fprintf(stderr, "umockpod_run: %s hung after %llu frames and was unplugged\n",
                        cfg[0].serial, (unsigned long long)ps.frames_sent);
            }
        }
        if (got_unplug) {
            got_unplug = 0;
            umockpod_unplug(pods[0]);
            int run = run_on_unplug ? umockpod_add_run(pods[0]) : -1;
            fprintf(stderr, "umockpod_run: %s unplugged (SIGUSR1)%s\n", cfg[0].serial,
                    run >= 0 ? ", a new run stored" : "");
        }
        if (got_replug) {
            got_replug = 0;
            umockpod_plug(pods[0]);
            fprintf(stderr, "umockpod_run: %s plugged back (SIGUSR2)\n", cfg[0].serial);
        }
        if (unplug_at >= 0 && !unplugged && el >= unplug_at) {
            umockpod_unplug(pods[0]);
            unplugged = 1;
            fprintf(stderr, "umockpod_run: %s unplugged at %.2f s\n", cfg[0].serial, el);
        }
        if (replug_at >= 0 && unplugged && !replugged && el >= replug_at) {
            umockpod_plug(pods[0]);
            replugged = 1;
            fprintf(stderr, "umockpod_run: %s plugged back at %.2f s\n", cfg[0].serial, el);
        }
        g_usleep(10000);
    }
    FILE *out = stats_path ? fopen(stats_path, "w") : stderr;
    for (unsigned k = 0; k < n; k++) {
        umockpod_stats_t s;
        umockpod_stats(pods[k], &s);
        if (out)
            fprintf(out,
                    "{\"serial\":\"%s\",\"foot\":\"%c\",\"frames_sent\":%llu,\"live_frames_sent\":%llu,"
                    "\"run_frames_sent\":%llu,\"frames_corrupted\":%llu,\"urbs_in\":%llu,"
                    "\"bytes_in\":%llu,\"plugs\":%u,\"start_stream\":%u,\"stop_stream\":%u,"
                    "\"runs_left\":%u}\n",
                    cfg[k].serial, cfg[k].foot, (unsigned long long)s.frames_sent,
                    (unsigned long long)s.live_frames_sent, (unsigned long long)s.run_frames_sent,
                    (unsigned long long)s.frames_corrupted, (unsigned long long)s.urbs_in,
                    (unsigned long long)s.bytes_in, s.plugs, s.cmds[3], s.cmds[4], s.n_runs);
        umockpod_free(&pods[k]);
    }
    if (out && out != stderr)
        fclose(out);
    umockpod_bed_free(&bed);
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    return 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}
