/* latency.h - live latency of stride messages: fixed-size histograms, no allocation per stride.
 *
 * Two figures per stride message (GAITD.md, "Latency"):
 *   processing  host time from the moment the batch of samples that completed the stride's
 *               detection entered the daemon (session_feed_frame) to the moment its stride
 *               message was handed to ZeroMQ;
 *   toe_off     host time from the arrival of the batch holding the stride's toe-off sample to
 *               the same send. It includes the analysis' look-ahead: a stride ends at the next
 *               initial contact and is confirmed some samples after it (dsp_pipeline.c), so it is
 *               at least the swing phase (~0.4 s when running), whatever the machine.
 *
 * latency_stats_t is one per daemon (the feed publisher holds it); latency_track_t is one per
 * session and remembers, per foot, when recent batches arrived (a small ring of sample times).
 */
#ifndef GAITD_LATENCY_H
#define GAITD_LATENCY_H
#include <stdint.h>
#include <jansson.h>

#define LATENCY_BINS_PER_DECADE 40   /* bin width ~5.9 % */
#define LATENCY_DECADES 8            /* 1 us .. 100 s */
#define LATENCY_MIN_MS 0.001
#define LATENCY_BINS (LATENCY_BINS_PER_DECADE * LATENCY_DECADES + 2) /* + underflow, overflow */

typedef struct latency_hist {
    uint32_t bins[LATENCY_BINS];
    uint64_t n;
    double max_ms;
} latency_hist_t;

/* Adds one value (ms; negative or NAN values count as 0). */
void latency_hist_add(latency_hist_t *h, double ms);
/* The q-quantile (0..1) in ms: the upper edge of the bin holding it (never above the maximum
 * seen), so the figure errs on the high side by at most one bin width. NAN when empty. */
double latency_hist_quantile(const latency_hist_t *h, double q);
/* New object {"n":N,"p50":ms,"p99":ms,"max":ms} (null figures when empty). Caller owns it. */
json_t *latency_hist_json(const latency_hist_t *h);

typedef struct latency_stats {
    latency_hist_t processing, toe_off;
    uint64_t toe_off_unknown;    /* strides whose toe-off batch was no longer in the ring */
} latency_stats_t;

/* New object {"processing":{...},"toe_off":{...,"unknown":N}}. Caller owns it. */
json_t *latency_stats_json(const latency_stats_t *st);

#define LATENCY_RING 64          /* batches remembered per foot (64 frames of 25 samples: 3.2 s) */

typedef struct latency_track {
    int64_t batch_us;            /* arrival of the batch being analysed, 0 outside one */
    struct {
        double t;                /* newest sample time of the batch (session clock, s) */
        int64_t us;              /* its arrival (monotonic us) */
    } ring[2][LATENCY_RING];
    unsigned head[2], count[2];
} latency_track_t;

/* A batch of bytes entered the daemon now (monotonic clock). Zeroed memory is a valid track. */
void latency_track_begin(latency_track_t *t);
/* The batch is done; strides published outside a batch (end of session) are not measured. */
void latency_track_end(latency_track_t *t);
/* The current batch brought foot's samples up to time t_last. */
void latency_track_samples(latency_track_t *t, int foot, double t_last);
/* A stride of foot with toe-off t_to was just sent: adds both latencies to st (may be NULL). */
void latency_track_stride(latency_track_t *t, latency_stats_t *st, int foot, double t_to);

#endif
