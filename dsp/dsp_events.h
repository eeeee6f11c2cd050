/* dsp_events.h - internal: streaming gait-event detection for one foot (libgaitdsp).
 * Samples go into a ring buffer sized at init; dsp_events_step segments the pitch rate (gyr_y) at
 * its mid-swing peaks (large negative values) and finds, per cycle, the toe-off before the swing
 * peak and the initial contact after it (METRICS.md). Never allocates after init.
 */
#ifndef GAITD_DSP_EVENTS_H
#define GAITD_DSP_EVENTS_H
#include <stddef.h>
#include <stdint.h>
#include "dsp.h"

/* Physical floor for a swing peak (deg/s): quiet standing and sensor noise stay far below it,
 * slow walking exceeds it several times. Above the floor the threshold scales with the athlete's
 * recent swing peaks. */
#define DSP_SWING_FLOOR_DPS 50.0
#define DSP_SWING_REL 0.25       /* swing-peak threshold as a fraction of the recent mean peak */
#define DSP_SEP_FRAC 0.6         /* minimum spacing of swing peaks, fraction of the stride period */
#define DSP_STANCE_FRAC 0.15     /* stance evidence confirming a swing peak early, of a stride */
#define DSP_TO_FRAC 0.85         /* toe-off: gyr_y falls through this fraction of push-off peak */
#define DSP_IMPACT_S 0.060       /* impact_g: peak |acc| within this time after IC */
#define DSP_STILL_FRAC 0.2       /* foot-flat search: window of this fraction of the contact time */
#define DSP_BRAKE_FRAC 0.5       /* braking_g: searched over this first fraction of the contact */
#define DSP_PRON_AVG_S 0.020     /* pronation_vel_dps: rate averaged over this span */
#define DSP_TRAJ_END_FRAC 0.6    /* the next stance's still point is searched in [next IC, next IC
                                  * + this x contact_s] (METRICS.md section 3) */
#define DSP_TURN_DEG 20.0        /* |turn_deg| above this: the stride is `turning` */
#define DSP_TRAJ_CORR_FRAC 0.5   /* ZUPT check: the position correction |v_end| x span / 2 may
                                  * reach this fraction of the stride length plus
                                  * DSP_TRAJ_CORR_MIN_M, else the length is not honest */
#define DSP_TRAJ_CORR_MIN_M 0.1  /* m */
#define DSP_TRAJ_STILL_DPS 150.0 /* a still window whose mean |gyr| exceeds this is no rest */

/* One ring entry (32 bytes): a sample without its saturation bits (kept in a ring of their own,
 * so that the entry is a plain 32-byte copy on the per-sample path). |acc| and |gyr| are
 * computed only where a stride's figures need them. */
typedef struct dsp_ev_sample {
    double t;                    /* s */
    float acc[3];                /* m/s^2 */
    float gyr[3];                /* deg/s */
} dsp_ev_sample_t;

/* What a stride's trajectory needs (dsp_events_traj): filled with the stride by dsp_events_step
 * (ev->req), kept by the caller until the samples are there. */
typedef struct dsp_traj_req {
    uint64_t jb;                 /* first sample of the stride's still window */
    uint64_t w;                  /* its length in samples; 0: no still point, no trajectory */
    double g0;                   /* its summed |gyr| (deg/s, float norms summed in order) */
    uint64_t ic;                 /* sample before the next IC crossing */
    uint64_t end;                /* last sample searched for the next stance's still point */
} dsp_traj_req_t;

typedef struct dsp_events {
    size_t cap;                  /* ring capacity, samples (exactly as asked, >= 64) */
    size_t w;                    /* ring slot of the next sample: n % cap, kept incrementally */
    dsp_ev_sample_t *r;          /* ring of samples */
    uint8_t *sat;                /* ring of their saturation bits */
    uint64_t n;                  /* samples stored so far */
    double rate;                 /* Hz, 0 until known */
    uint8_t foot;
    /* detector state (private) */
    uint64_t scan;               /* next sample to examine */
    int64_t cand;                /* candidate swing peak, -1 if none */
    int64_t cand_x;              /* first upward zero crossing after the candidate, -1 if none */
    int64_t pend;                /* confirmed swing peak awaiting its IC, -1 if none */
    double amp;                  /* running mean of swing-peak magnitudes, deg/s (0: none yet) */
    int have_ic;
    uint64_t ic_i;               /* sample index before the previous IC */
    double ic_t;                 /* its interpolated time */
    uint32_t index;              /* next stride index */
    double last_stride_s;        /* duration of the last accepted stride, NAN if none */
    double scanned_t;            /* time of the last examined sample (-INFINITY: none) */
    /* dsp_events_step's spacings for the last (period, last stride, rate) and its threshold for
     * the last amp: recomputed only when they change (the step runs every few samples) */
    double m_period, m_last, m_rate, m_amp, m_thr;
    uint64_t m_w, m_stance, m_horizon;
    dsp_traj_req_t req;          /* of the stride last returned by dsp_events_step / _flush */
} dsp_events_t;

/* Allocates the ring for cap samples. Returns 0 or -1 (OOM). */
int dsp_events_init(dsp_events_t *ev, size_t cap, uint8_t foot);
void dsp_events_release(dsp_events_t *ev);

/* Appends one sample (never allocates; inline: it is on the per-sample path). */
static inline void dsp_events_store(dsp_events_t *ev, const dsp_sample_t *s)
{
    const size_t k = ev->w;
    dsp_ev_sample_t *e = &ev->r[k];
    e->t = s->t;
    e->acc[0] = s->acc[0];
    e->acc[1] = s->acc[1];
    e->acc[2] = s->acc[2];
    e->gyr[0] = s->gyr[0];
    e->gyr[1] = s->gyr[1];
    e->gyr[2] = s->gyr[2];
    ev->sat[k] = s->saturated;
    ev->w = k + 1 == ev->cap ? 0 : k + 1;
    ev->n++;
}

/* Forgets the event chain (after a dropout): detection restarts at the next sample. */
void dsp_events_reset_chain(dsp_events_t *ev);

/* Examines the samples stored since the last call, using period_s (the stride period from the
 * spectrum; NAN = unknown, then nothing is examined until it is known, within the ring's reach).
 * Returns 1 with *out filled (foot-local fields only: step_s and flight_s are NAN) when a stride
 * was completed; call again until it returns 0. */
int dsp_events_step(dsp_events_t *ev, double period_s, double min_hz, double max_hz,
                    dsp_stride_t *out);

/* End of input: confirms a pending swing-peak candidate with the samples there are, then works
 * like dsp_events_step. */
int dsp_events_flush(dsp_events_t *ev, double period_s, double min_hz, double max_hz,
                     dsp_stride_t *out);

/* Stride length, speed, turn and clearance of stride st (from dsp_events_step with request rq):
 * strapdown integration with ZUPT from its still point to the next stance's still point
 * (dsp_traj.h). Returns 0 while the samples up to rq->end have not all arrived (unless final:
 * end of input or a full queue, then 1 with NAN: no honest end point), else 1 with the fields
 * set (NAN where not honest: METRICS.md section 3). */
int dsp_events_traj(const dsp_events_t *ev, const dsp_traj_req_t *rq, int final,
                    dsp_stride_t *st);

#endif
