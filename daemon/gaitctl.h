/* gaitctl.h - subcommands of gaitctl. Each returns the process exit status:
 * 0 success, 1 unusable or damaged input, 2 bad usage (CONTRACT.md). argv[0] is the subcommand. */
#ifndef GAITD_GAITCTL_H
#define GAITD_GAITCTL_H

int cmd_analyze(int argc, char **argv);
int cmd_convert(int argc, char **argv);
int cmd_simulate(int argc, char **argv);
int cmd_watch(int argc, char **argv);
/* gaitctl report: cmd_report.c (issue 5) */
int cmd_report(int argc, char **argv);
/* gaitctl sessions / history: cmd_sessions.c (session catalog) */
int cmd_sessions(int argc, char **argv);
int cmd_history(int argc, char **argv);
/* gaitctl status / pods / assign / start / stop / runs / sync / summary, and sessions --control:
 * requests to a running gaitd's control endpoint (cmd_ctl.c) */
int cmd_ctl(int argc, char **argv);
/* gaitctl keygen: CURVE key pairs for remote feeds and control (cmd_keygen.c, SECURITY.md) */
int cmd_keygen(int argc, char **argv);

#endif
