/* sim.h - pod simulator: a kinematic model of one athlete's two feet running, walking and
 * standing, sampled like a foot-mounted IMU pod (noise, bias, saturation, quantisation are applied
 * by the pod layer through dsp_si_to_raw). It records its own ground truth (per-stride IC and
 * toe-off) so the analysis can be scored. Model description: daemon/SIMULATOR.md.
 * Deterministic for a given config (seeded RNG held in the struct, no globals).
 */
#ifndef GAITD_SIM_H
#define GAITD_SIM_H
#include <stdint.h>
#include "dsp.h"

#define SIM_MAX_SEGMENTS 32

enum sim_activity { SIM_STAND = 0, SIM_WALK = 1, SIM_RUN = 2 };

typedef struct sim_segment {
    int activity;                /* sim_activity */
    double duration_s;
    double cadence_spm;          /* 0 = default for the activity */
    double speed_mps;            /* 0 = default for the activity */
} sim_segment_t;

typedef struct sim_config {
    uint64_t seed;
    double rate_hz;              /* sampling rate of both pods, default 500 */
    double cadence_spm;          /* running default 170 steps/min */
    double speed_mps;            /* running default 3.3 m/s */
    double contact_s;            /* nominal running contact time, default 0.25 s */
    double contact_scale[2];     /* per foot (L, R) multiplier of contact time, default 1;
                                    "left contact +8 %" = {1.08, 1.0}, stride time kept */
    double pushoff_scale[2];     /* multiplier of push-off pitch rate, "weaker right" = {1, 0.75} */
    double impact_scale[2];      /* multiplier of impact peak */
    double pronation_deg[2];     /* pronation excursion per foot, default 8 deg */
    double fatigue_per_10min;    /* relative change per 10 min: contact time +x, cadence -x/2 */
    double stride_jitter;        /* relative std of stride-to-stride variation, default 0.015 */
    double acc_noise;            /* m/s^2 rms white noise, default 0.05 */
    double gyr_noise;            /* deg/s rms, default 0.5 */
    double gyr_bias[2][3];       /* deg/s constant bias per foot */
    double clock_offset_s[2];    /* offset added to each pod's timestamps (clock mismatch) */
    int n_segments;              /* 0 = one running segment of duration_s */
    sim_segment_t segments[SIM_MAX_SEGMENTS];
    double duration_s;           /* total, used when n_segments == 0; default 600 */
    uint16_t acc_range_g;        /* pod full scale, default 16 */
    uint16_t gyr_range_dps;      /* default 2000 */
} sim_config_t;

/* Fills c with the defaults above (symmetric, fresh, 10 min running at 500 Hz). */
void sim_config_default(sim_config_t *c);

/* Parses a plan such as "stand:5,walk:60,run:300,walk:30" (seconds per segment; a segment may
 * add @CADENCE, e.g. "run:300@180") into c->segments. Returns 0 or -1 with a message in err. */
int sim_parse_plan(sim_config_t *c, const char *plan, char *err, unsigned errcap);

/* Ground truth of one finished stride. */
typedef struct sim_truth {
    int foot;                    /* DSP_LEFT / DSP_RIGHT */
    int activity;                /* sim_activity */
    double t_ic, t_to, t_next_ic; /* s, on the shared (true) clock */
    double stride_length_m;      /* the heel's horizontal travel over the stride's swing, from
                                  * its foot-flat position to the next IC (= speed x T x jitter) */
} sim_truth_t;

typedef struct sim sim_t;

/* Allocates a simulator; NULL on invalid config. Caller owns it. */
sim_t *sim_new(const sim_config_t *c);
void sim_free(sim_t **s);

/* Produces the next sample instant for both feet: out[DSP_LEFT], out[DSP_RIGHT] in SI units with
 * noise and bias, t = true time (before clock offsets; add clock_offset_s[foot] for the pod's
 * timestamp). Returns 1, or 0 when the configured duration is over. */
int sim_next(sim_t *s, dsp_sample_t out[2]);

/* Returns 1 and fills *tr with the next finished stride's truth, 0 when none is pending. */
int sim_pop_truth(sim_t *s, sim_truth_t *tr);

/* Sampling rate and pod ranges of this simulator. */
const sim_config_t *sim_config(const sim_t *s);

#endif
