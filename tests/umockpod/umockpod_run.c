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
 * With --stats-period S the file is also rewritten every S seconds while COMMAND runs (for
 * tests that restart the command under the same pods). SIGTERM and SIGINT are forwarded to
 * COMMAND. SIGUSR1 unplugs the first pod and SIGUSR2 plugs it
 * back, whenever a test wants (no timing involved); with --run-on-unplug the pod stores one new
 * run (run_s seconds) at each unplug, as if the runner went out with it. --stall-unplug N makes
 * the first pod hang after N frames and unplugs it as soon as it hangs (mid-run or mid-stream).
 *
 * Misbehaviours of the first pod, for fault tests (N counts the sample frames it produces, live
 * or stored-run, from power-up; 0 = the first): --corrupt-frame N (one byte damaged),
 * --drop-frame N (never sent), --truncate-frame N[:K] (only its first K bytes sent, default 20,
 * then the next frame), --duplicate-frame N (sent twice), --swap-frames N (frames N and N+1 sent
 * swapped), --hang-after N (after N frames it stops answering while plugged: IN URBs stay
 * pending, commands are swallowed; SIGHUP ends the hang, the pod goes on where it was, or with
 * --hang-reset restarts its firmware: queued data lost, stream and read stopped, clock reset).
 * Pod option run_t0=S shifts the start times of its stored runs by S seconds (default 0: run i
 * of every pod starts at the same time, like the two pods of one outing).
 * Pod options id_rate=R, id_acc=G, id_gyr=D make its identify reply carry these raw values
 * (nonsense such as 0 or 65535 included) instead of its real rate and ranges.
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

static volatile sig_atomic_t got_signal, got_unplug, got_replug, got_unhang;

static void on_signal(int sig)
{
    if (sig == SIGUSR1)
        got_unplug = 1;
    else if (sig == SIGUSR2)
        got_replug = 1;
    else if (sig == SIGHUP)
        got_unhang = 1;
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
    c->id_rate_hz = c->rate_hz; /* id_* options override one value each */
    c->id_acc_range_g = c->acc_range_g;
    c->id_gyr_range_dps = c->gyr_range_dps;
    for (char *kv; (kv = strtok_r(NULL, ":", &save));) {
        if (!strncmp(kv, "runs=", 5))
            c->n_runs = (unsigned)atoi(kv + 5);
        else if (!strncmp(kv, "speed=", 6))
            c->speed = atof(kv + 6);
        else if (!strncmp(kv, "seed=", 5))
            c->seed = strtoull(kv + 5, NULL, 10);
        else if (!strncmp(kv, "run_s=", 6))
            c->run_s = atof(kv + 6);
        else if (!strncmp(kv, "run_t0=", 7))
            c->run_t0_s = atof(kv + 7);
        else if (!strncmp(kv, "read_speed=", 11))
            c->read_speed = atof(kv + 11);
        else if (!strncmp(kv, "id_rate=", 8))
            c->id_override = 1, c->id_rate_hz = (uint16_t)atoi(kv + 8);
        else if (!strncmp(kv, "id_acc=", 7))
            c->id_override = 1, c->id_acc_range_g = (uint16_t)atoi(kv + 7);
        else if (!strncmp(kv, "id_gyr=", 7))
            c->id_override = 1, c->id_gyr_range_dps = (uint16_t)atoi(kv + 7);
        else
            return -1;
    }
    return 0;
}

/* Each pod's counters as one JSON line, to path (written whole, then renamed over it: readers
 * never see half a file) or stderr. */
static void write_stats(const char *path, umockpod_t **pods, const umockpod_cfg_t *cfg, unsigned n)
{
    char tmp[4096];
    FILE *out = stderr;
    if (path) {
        snprintf(tmp, sizeof tmp, "%s.tmp", path);
        out = fopen(tmp, "w");
        if (!out)
            return;
    }
    for (unsigned k = 0; k < n; k++) {
        umockpod_stats_t s;
        umockpod_stats(pods[k], &s);
        fprintf(out,
                "{\"serial\":\"%s\",\"foot\":\"%c\",\"frames_sent\":%llu,\"live_frames_sent\":%llu,"
                "\"run_frames_sent\":%llu,\"frames_corrupted\":%llu,\"urbs_in\":%llu,"
                "\"bytes_in\":%llu,\"plugs\":%u,\"start_stream\":%u,\"stop_stream\":%u,"
                "\"runs_left\":%u,\"frames_valid\":%llu,\"live_frames_valid\":%llu,"
                "\"run_frames_valid\":%llu,\"frames_truncated\":%llu,\"frames_duplicated\":%llu,"
                "\"frames_reordered\":%llu,\"frames_dropped\":%llu,\"hangs\":%u,"
                "\"cmds_hung\":%u,\"hung\":%d,\"read_runs\":%u,\"erase_runs\":%u,"
                "\"read_first\":%u}\n",
                cfg[k].serial, cfg[k].foot, (unsigned long long)s.frames_sent,
                (unsigned long long)s.live_frames_sent, (unsigned long long)s.run_frames_sent,
                (unsigned long long)s.frames_corrupted, (unsigned long long)s.urbs_in,
                (unsigned long long)s.bytes_in, s.plugs, s.cmds[3], s.cmds[4], s.n_runs,
                (unsigned long long)s.frames_valid, (unsigned long long)s.live_frames_valid,
                (unsigned long long)s.run_frames_valid, (unsigned long long)s.frames_truncated,
                (unsigned long long)s.frames_duplicated, (unsigned long long)s.frames_reordered,
                (unsigned long long)s.frames_dropped, s.hangs, s.cmds_hung, s.hung, s.cmds[6],
                s.cmds[7], s.read_first);
    }
    if (path) {
        fclose(out);
        rename(tmp, path);
    }
}

int main(int argc, char **argv)
{
    umockpod_cfg_t cfg[MAX_PODS];
    unsigned n = 0;
    double unplug_at = -1, replug_at = -1;
    int corrupt = -1, run_on_unplug = 0;
    int drop = -1, truncate = -1, duplicate = -1, swap = -1;
    unsigned truncate_keep = 20;
    long hang_after = -1;
    int hang_reset = 0;
    double stats_period = 0;
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
        } else if (!strcmp(argv[i], "--drop-frame") && i + 1 < argc) {
            drop = atoi(argv[++i]);
        } else if (!strcmp(argv[i], "--truncate-frame") && i + 1 < argc) {
            char *colon;
            truncate = (int)strtol(argv[++i], &colon, 10);
            if (*colon == ':')
                truncate_keep = (unsigned)atoi(colon + 1);
        } else if (!strcmp(argv[i], "--duplicate-frame") && i + 1 < argc) {
            duplicate = atoi(argv[++i]);
        } else if (!strcmp(argv[i], "--swap-frames") && i + 1 < argc) {
            swap = atoi(argv[++i]);
        } else if (!strcmp(argv[i], "--hang-after") && i + 1 < argc) {
            hang_after = atol(argv[++i]);
        } else if (!strcmp(argv[i], "--stats-period") && i + 1 < argc) {
            stats_period = atof(argv[++i]);
        } else if (!strcmp(argv[i], "--hang-reset")) {
            hang_reset = 1;
        } else if (!strcmp(argv[i], "--stall-unplug") && i + 1 < argc) {
            stall_unplug = atol(argv[++i]);
        } else if (!strcmp(argv[i], "--run-on-unplug")) {
            run_on_unplug = 1;
        } else if (!strcmp(argv[i], "--stats") && i + 1 < argc) {
            stats_path = argv[++i];
        } else {
            fprintf(stderr, "usage: umockpod_run [--pod SERIAL:FOOT[:runs=N][:speed=X]]... "
                            "[--unplug-at S] [--replug-at S] [--corrupt-frame N] [--drop-frame N] "
                            "[--truncate-frame N[:K]] [--duplicate-frame N] [--swap-frames N] "
                            "[--hang-after N] [--hang-reset] [--stats-period S] [--run-on-unplug] "
                            "[--stall-unplug N] [--stats FILE] "
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
        if (k == 0 && drop >= 0)
            umockpod_drop_frame(pods[k], (unsigned)drop);
        if (k == 0 && truncate >= 0)
            umockpod_truncate_frame(pods[k], (unsigned)truncate, truncate_keep);
        if (k == 0 && duplicate >= 0)
            umockpod_duplicate_frame(pods[k], (unsigned)duplicate);
        if (k == 0 && swap >= 0)
            umockpod_swap_frames(pods[k], (unsigned)swap);
        umockpod_plug(pods[k]);
        if (k == 0 && stall_unplug > 0)  /* after the plug, which clears it */
            umockpod_stall_after(pods[k], (uint64_t)stall_unplug);
        if (k == 0 && hang_after >= 0)
            umockpod_hang_after(pods[k], (uint64_t)hang_after);
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGUSR1, &sa, NULL);
    sigaction(SIGUSR2, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
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
        signal(SIGHUP, SIG_DFL);
        execvp(cmd[0], cmd);
        fprintf(stderr, "umockpod_run: %s: %s\n", cmd[0], strerror(errno));
        _exit(127);
    }
    gint64 t0 = g_get_monotonic_time();
    int status = 0, unplugged = 0, replugged = 0;
    double next_stats = stats_period;
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
        if (got_unhang) {
            got_unhang = 0;
            umockpod_hang(pods[0], hang_reset ? 2 : 0);
            fprintf(stderr, "umockpod_run: %s answers again (SIGHUP)%s\n", cfg[0].serial,
                    hang_reset ? ", its firmware restarted" : "");
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
        if (stats_period > 0 && el >= next_stats) {
            write_stats(stats_path, pods, cfg, n);
            next_stats = el + stats_period;
        }
        g_usleep(10000);
    }
    write_stats(stats_path, pods, cfg, n);
    for (unsigned k = 0; k < n; k++)
        umockpod_free(&pods[k]);
    umockpod_bed_free(&bed);
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    return 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}
