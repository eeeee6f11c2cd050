/* gaitctl - gaitd's client and offline tools. */
#include <stdio.h>
#include <string.h>
#include "gaitctl.h"

static const struct {
    const char *name;
    int (*run)(int, char **);
    const char *help;
} commands[] = {
    {"analyze", cmd_analyze, "analyze [--rate HZ] FILE      stride JSON lines + summary (CSV or .gaitrec)"},
    {"convert", cmd_convert, "convert IN OUT                 gait CSV v1 <-> .gaitrec"},
    {"simulate", cmd_simulate, "simulate [OPTIONS] OUT        write a simulated session (+ ground truth)"},
    {"watch", cmd_watch, "watch ENDPOINT [TOPIC-PREFIX]  print feed messages as JSON lines"},
    {"report", cmd_report, "report FILE -o REPORT.html    post-run HTML report: massage focus areas, plots"},
    {"sessions", cmd_sessions, "sessions [--db PATH | --control EP] [ATHLETE]  sessions, newest first"},
    {"history", cmd_history, "history [--db PATH] ATHLETE    trend of cadence and symmetry per session/week"},
    /* requests to a running gaitd (cmd_ctl.c); options --control ENDPOINT, --json, --timeout S */
    {"status", cmd_ctl, "status                         the daemon's status (athletes, counters)"},
    {"pods", cmd_ctl, "pods                           USB pods: pairing, state, clock, counters"},
    {"assign", cmd_ctl, "assign SERIAL ATHLETE L|R      pair a pod with an athlete's foot"},
    {"start", cmd_ctl, "start ATHLETE                  start a live session of ATHLETE"},
    {"stop", cmd_ctl, "stop ATHLETE                   stop ATHLETE's live session"},
    {"runs", cmd_ctl, "runs SERIAL                    runs stored on a pod"},
    {"sync", cmd_ctl, "sync [SERIAL]                  sync the stored runs of a pod (or all)"},
    {"erase", cmd_ctl, "erase SERIAL RUN-ID            erase a synced run on a pod"},
    {"summary", cmd_ctl, "summary ID|RECORDING           a session's summary and focus areas"},
    {"keygen", cmd_keygen, "keygen [--force] NAME          CURVE key pair NAME.key (secret) + NAME.pub"},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: gaitctl COMMAND [ARGS]\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %s\n", commands[i].help);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    /* `sessions --control EP`: asked of a running gaitd (cmd_ctl.c), else read from the catalog */
    for (int i = 2; !strcmp(argv[1], "sessions") && i < argc; i++)
        if (!strcmp(argv[i], "--control"))
            return cmd_ctl(argc - 1, argv + 1);
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name))
            return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "gaitctl: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
