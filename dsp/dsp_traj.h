/* dsp_traj.h - internal: strapdown integration of one stride of one foot between two still
 * (foot-flat) points, with zero-velocity updates at both ends (libgaitdsp, METRICS.md section 3,
 * "Stride length, speed and turns"). Pure computation on a run of ring samples; never allocates.
 */
#ifndef GAITD_DSP_TRAJ_H
#define GAITD_DSP_TRAJ_H
#include <stddef.h>
#include "dsp_events.h"

#define DSP_TRAJ_RATE_HZ 50.0   /* internal integration rate: blocks of round(rate / this) samples */
#define DSP_TRAJ_MAX_BLOCKS 1024 /* blocks kept for the clearance (beyond: clearance NAN) */

typedef struct dsp_traj {
    double length_m;             /* horizontal displacement between the still points, m */
    double turn_deg;             /* heading change of the foot's x axis, left turn positive */
    double clearance_m;          /* max height above the start (ZUPT-corrected), m */
    double v_res_mps;            /* |velocity| at the end still point before correction, m/s */
    double span_s;               /* time from the start to the end still point, s */
} dsp_traj_t;

/* Integrates samples i = 0 .. n-1 of a ring (cap entries, sample 0 in slot s0; the run may wrap):
 * sample 0 is the start still point, sample n-1 the end still point, samples 1/rate apart.
 * f0 is the mean specific force over the start still window (m/s^2): it sets roll and pitch (yaw
 * 0). Gyro and accelerometer are averaged over blocks of d samples (d >= 1), each block rotated
 * exactly (quaternion of the block's mean rate, split at the block's middle for the specific
 * force), gravity (9.80665) removed in the level frame, velocity and position integrated, and the
 * end velocity removed linearly over the span (ZUPT). Returns 0, or -1 for bad arguments (n < 2,
 * d == 0, f0 without a direction): then *out is all NAN. */
int dsp_traj_run(const dsp_ev_sample_t *r, size_t cap, size_t s0, size_t n, const double f0[3],
                 double rate, unsigned d, dsp_traj_t *out);

/* Block length for a sampling rate: round(rate / DSP_TRAJ_RATE_HZ), at least 1. */
unsigned dsp_traj_block(double rate);

#endif
