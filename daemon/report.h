/* report.h - focus areas in JSON, session analysis for reports, and the post-run HTML report
 * (`gaitctl report`, issue 5).
 *
 * report_analyze runs a recording or gait CSV v1 file through the same reader (input.h) and dsp
 * pipeline as `gaitctl analyze`, and collects what a report shows: per-window statistics every
 * few seconds, the pitch-rate spectra of both feet, the session summary, the focus metrics and
 * the evaluated focus list (dsp_focus.h). report_write_html turns that into one self-contained
 * HTML page (inline CSS and SVG; no scripts, no external resources).
 */
#ifndef GAITD_REPORT_H
#define GAITD_REPORT_H
#include <stddef.h>
#include <stdio.h>
#include <jansson.h>
#include "dsp.h"
#include "dsp_focus.h"

/* One point of the time series: dsp_pipeline_window (rolling window_s) taken every period. */
typedef struct report_window {
    double t;                        /* s since the first sample */
    int mode;                        /* dsp_mode */
    double cadence_spm;              /* events, NAN if none */
    double contact_ms[2];            /* mean contact time L, R */
    double contact_si, step_si, pushoff_si, impact_si; /* % */
} report_window_t;

typedef struct report_data {
    char source[256];                /* file name as given */
    int damaged;                     /* input damaged part-way (analysed up to the damage) */
    unsigned long n_samples, n_rejected;
    dsp_summary_t sum;
    focus_acc_t acc;
    focus_metrics_t metrics;
    focus_result_t focus;
    int used_baseline;               /* sessions in the baseline (0: population ranges) */
    report_window_t *win;            /* owned */
    size_t n_win, cap_win;
    float *spec[2];                  /* mean power spectra of gyr_y per foot (owned), or NULL */
    size_t n_spec;                   /* bins from 0 Hz */
    double spec_df;                  /* Hz per bin */
    double stride_hz;                /* stride fundamental for the spectrum plot, NAN if none */
} report_data_t;

/* Analyses path (rate_hz > 0 overrides a CSV's rate). rules must be parsed; baseline may be
 * NULL (population ranges). Fills *d (caller frees with report_data_free even on failure).
 * Returns 0; 1 when the input was damaged part-way (everything before was analysed; message
 * in err); -1 on unusable input (message naming the file in err). */
int report_analyze(const char *path, double rate_hz, const focus_rules_t *rules,
                   const focus_baseline_t *baseline, report_data_t *d, char *err, size_t errcap);
void report_data_free(report_data_t *d);

/* The CONTRACT.md focus list: [{"area":..,"side":..,"score":..,"evidence":[..],
 * "indicators":[..],"reference":"population"|"baseline"}, ...]. New reference. */
json_t *report_focus_json(const focus_result_t *r);
/* {"metric name": value, ...} of the finite metrics (stored with a session so later sessions
 * can build a baseline). New reference. */
json_t *report_metrics_json(const focus_metrics_t *m);
/* Reads metrics back from such an object (or from a summary object holding it under
 * "focus_metrics"). Missing metrics are NAN. Returns the number of metrics read. */
int report_metrics_from_json(const json_t *o, focus_metrics_t *m);
/* Adds to summary (a feed_summary object): "focus" (replacing the empty array),
 * "focus_metrics" and, when suggested, "recovery": {"advice": ...}. Returns 0 or -1 (OOM). */
int report_summary_add_focus(json_t *summary, const focus_result_t *r, const focus_metrics_t *m);
/* Feed message {"type":"focus","v":1,"athlete":..,"t":..,"final":0|1,"focus":[...],
 * "disclaimer":..}; athlete may be NULL. New reference. */
json_t *report_focus_message(const char *athlete, double t, int final, const focus_result_t *r);

/* Builds a baseline from a JSON Lines file of past summaries (lines with "type":"summary" and
 * "focus_metrics", e.g. saved `gaitctl analyze` outputs). Returns the sessions added, or -1 with
 * a message in err. */
int report_baseline_load(const char *path, focus_baseline_t *b, char *err, size_t errcap);

/* Loads the focus rules from the file at path, or the built-in rules when path is NULL.
 * Returns 0, or -1 with "path:LINE: [rule X] field: problem" (or the I/O error) in err. */
int report_load_rules(const char *path, focus_rules_t *rules, char *err, size_t errcap);

/* ---- live focus for a daemon session (feed kind "focus") ----
 * Usage in a session: l = report_live_new(rules, baseline_or_NULL);
 *   per stride popped: report_live_stride(l, &st);
 *   per window message: msg = report_live_window(l, athlete, t); if (msg) publish "focus" msg;
 *   at the end (or after a sync): msg = report_live_final(l, athlete, t, &summary);
 *     publish it; store report_live_result(l) with report_summary_add_focus in the catalog.
 * The baseline is copied; the rules are borrowed and must outlive l (one shared copy serves
 * every session: it is the largest part of the focus state). */
typedef struct report_live report_live_t;
report_live_t *report_live_new(const focus_rules_t *rules, const focus_baseline_t *baseline);
void report_live_free(report_live_t **l);
/* Sets (copies) the athlete's baseline used from the next evaluation on; NULL: population
 * ranges only. */
void report_live_set_baseline(report_live_t *l, const focus_baseline_t *baseline);
void report_live_stride(report_live_t *l, const dsp_stride_t *s);
/* Re-evaluates (everything since the start) and filters through the hysteresis. Returns a new
 * "focus" message with "final": false and "changed": true/false, or NULL before any metric
 * exists (fewer than min_strides per foot) or on OOM. */
json_t *report_live_window(report_live_t *l, const char *athlete, double t);
/* Final evaluation with the session summary (sum may be NULL): "final": true, no hysteresis. */
json_t *report_live_final(report_live_t *l, const char *athlete, double t,
                          const dsp_summary_t *sum);
/* The final evaluation and its metrics: call right after report_live_final (the evaluation is
 * per-thread scratch: the next report_live_window or _final of any session overwrites it). */
const focus_result_t *report_live_result(const report_live_t *l);
const focus_metrics_t *report_live_metrics(const report_live_t *l);

/* Writes the HTML report. Returns 0 or -1 (write error). */
int report_write_html(FILE *f, const report_data_t *d);

/* `gaitctl report ...` (cmd_report.c); argv[0] is the subcommand. Exit status as gaitctl.h. */
int cmd_report(int argc, char **argv);

#endif
