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
    {"sessions", cmd_sessions, "sessions [--db PATH] [ATHLETE]  sessions in the catalog, newest first"},
    {"history", cmd_history, "history [--db PATH] ATHLETE    trend of cadence and symmetry per session/week"},
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
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name))
            return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "gaitctl: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
