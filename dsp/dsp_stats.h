/* dsp_stats.h - internal: per-foot stride accumulators and window statistics (libgaitdsp). */
#ifndef GAITD_DSP_STATS_H
#define GAITD_DSP_STATS_H
#include <stdint.h>
#include "dsp.h"

/* Running sums of one foot's strides; zero-initialise to start. */
typedef struct dsp_acc {
    uint32_t n;
    double stride, contact, contact2, swing, duty;
    uint32_t n_step, n_flight, n_impact, n_push;
    double step, flight, impact, pushoff;
    uint32_t mn[DSP_NMETRIC]; /* per metric: finite values, their sum and sum of squares */
    double ms[DSP_NMETRIC], ms2[DSP_NMETRIC];
} dsp_acc_t;

void dsp_acc_add(dsp_acc_t *a, const dsp_stride_t *s);
/* Adds metric m of s alone (its finite value to mn, ms, ms2): a figure known after the stride
 * was added (the stride length, whose trajectory ends after the stride's release). */
void dsp_acc_add_metric(dsp_acc_t *a, const dsp_stride_t *s, int m);
void dsp_acc_merge(dsp_acc_t *a, const dsp_acc_t *b);
/* Means of the accumulated strides (NAN where there are none); contact CV in percent uses the
 * sample standard deviation (NAN below 2 strides). */
void dsp_acc_stats(const dsp_acc_t *a, dsp_foot_stats_t *out);
/* Fills w->foot[], cadence_events_spm (120 / pooled mean stride time), the symmetry indices and
 * w->mode (dominant of n_run / n_walk) from per-foot accumulators. Leaves the other fields. */
void dsp_window_fill(dsp_window_t *w, const dsp_acc_t acc[2], uint32_t n_run, uint32_t n_walk);

#endif
