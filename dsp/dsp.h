/* dsp.h - libgaitdsp: streaming gait analysis of two foot-worn IMUs (one athlete).
 *
 * Pure computation on samples in SI units in the foot frame of ../shared/CONTRACT.md
 * (x toe, y left, z up; acc = specific force in m/s^2, gyr in deg/s, positive gyr_y = toe down).
 * No I/O, no mutable globals. dsp_pipeline_new allocates everything (FFTW plans included, made
 * once); dsp_pipeline_push never allocates and never plans. Metric definitions: dsp/METRICS.md.
 *
 * Usage:  dsp_settings_t s = dsp_settings_default();
 *         dsp_pipeline_t *p = dsp_pipeline_new(&s);
 *         for each sample: dsp_pipeline_push(p, foot, &sample);
 *                          while (dsp_pipeline_pop_stride(p, &st)) publish(&st);
 *         every few seconds: dsp_pipeline_window(p, &w);
 *         at the end: dsp_pipeline_finish(p); drain strides; dsp_pipeline_summary(p, &sum);
 *         dsp_pipeline_free(&p);
 */
#ifndef GAITD_DSP_H
#define GAITD_DSP_H
#include <stdint.h>

enum dsp_foot { DSP_LEFT = 0, DSP_RIGHT = 1 };
enum dsp_mode { DSP_MODE_UNKNOWN = 0, DSP_MODE_WALK = 1, DSP_MODE_RUN = 2 };
/* Foot-strike type from the strike angle (Altman & Davis 2012 bands, METRICS.md). */
enum dsp_strike { DSP_STRIKE_UNKNOWN = 0, DSP_STRIKE_REAR = 1, DSP_STRIKE_MID = 2, DSP_STRIKE_FORE = 3 };

typedef struct dsp_sample {
    double t;                    /* s, clock shared by both feet */
    float acc[3];                /* m/s^2 */
    float gyr[3];                /* deg/s */
    uint8_t saturated;           /* bit 0: accelerometer clipped, bit 1: gyroscope clipped */
} dsp_sample_t;

typedef struct dsp_calib {
    float acc_bias[3];           /* m/s^2, subtracted after scaling */
    float acc_scale[3];          /* multiplier */
    float gyr_bias[3];           /* deg/s, subtracted after scaling */
} dsp_calib_t;

/* Unit calibration (no bias, scale 1). */
dsp_calib_t dsp_calib_identity(void);

/* Raw pod counts (acc x,y,z, gyr x,y,z; full scale = +-32768 counts) to SI units.
 * cal may be NULL. Sets out->saturated when a raw value sits at either rail. t is not touched. */
void dsp_raw_to_si(const int16_t raw[6], unsigned acc_range_g, unsigned gyr_range_dps,
                   const dsp_calib_t *cal, dsp_sample_t *out);

/* dsp_raw_to_si of raw[0..n) into out[0..n) (bit-identical results, constants computed once per
 * call): the per-frame form used by the readers. out[i].t is not touched. */
void dsp_raw_to_si_block(const int16_t (*raw)[6], unsigned n, unsigned acc_range_g,
                         unsigned gyr_range_dps, const dsp_calib_t *cal, dsp_sample_t *out);

/* Inverse of dsp_raw_to_si: SI to raw counts, rounded to nearest and clamped to the rails
 * (what a pod's ADC does). cal may be NULL. Used by the simulator and CSV import. */
void dsp_si_to_raw(const dsp_sample_t *s, unsigned acc_range_g, unsigned gyr_range_dps,
                   const dsp_calib_t *cal, int16_t raw[6]);

typedef struct dsp_settings {
    double fft_window_s;         /* spectral window length, default 10 s */
    double fft_hop_s;            /* spectrum update period, default 1 s */
    double window_s;             /* span of the rolling `window` statistics, default 30 s */
    double min_stride_hz;        /* search band for the stride fundamental, default 0.4 */
    double max_stride_hz;        /* default 2.2 */
    double max_rate_hz;          /* highest sampling rate supported, default 2000 */
    int clock_sync;              /* 1 (default): estimate the pods' clock offset from the data
                                  * (assumes equal mean left and right step times) and correct
                                  * step_s / flight_s for it; 0: the pods share one clock */
    double clock_sync_min_s;     /* default 0.05 s: the estimated offset is applied only once its
                                  * magnitude reaches this (and until it falls below half of it),
                                  * so a genuine step-time asymmetry of a runner on pods that share
                                  * a clock (SI below ~25 %) is kept, while a clock mismatch of
                                  * tens to hundreds of ms is corrected */
} dsp_settings_t;

dsp_settings_t dsp_settings_default(void);

/* One stride of one foot: from initial contact (IC) to the next IC of the same foot. */
typedef struct dsp_stride {
    uint8_t foot;                /* DSP_LEFT / DSP_RIGHT */
    uint8_t mode;                /* dsp_mode */
    uint8_t saturated;           /* any clipping inside the stride (bits as dsp_sample_t) */
    uint32_t index;              /* 0, 1, 2 ... per foot */
    double t_ic;                 /* s */
    double t_to;                 /* s, toe-off ending this stride's stance */
    double t_next_ic;            /* s */
    double stride_s;             /* t_next_ic - t_ic */
    double contact_s;            /* t_to - t_ic */
    double swing_s;              /* t_next_ic - t_to */
    double duty;                 /* contact_s / stride_s */
    double step_s;               /* t_ic - the other foot's latest IC before it; NAN if unknown */
    double flight_s;             /* other foot's IC after t_to minus t_to, if > 0, else 0; NAN if unknown */
    double cadence_spm;          /* 120 / stride_s */
    double impact_g;             /* peak |acc| within 60 ms after IC, in g */
    double pushoff_dps;          /* peak toe-down pitch rate (gyr_y) in the last half of stance */
    double swing_peak_dps;       /* peak toe-up pitch rate magnitude in swing */
    /* Added by issue 3 (METRICS.md section 3): orientation reset to foot-flat at the stride's
     * stillest stance point. NAN when the stance is too short to tell. */
    double braking_g;            /* peak deceleration along x (gravity removed) in early stance, g */
    double strike_angle_deg;     /* foot pitch at IC relative to foot-flat, toe up positive, deg */
    uint8_t strike;              /* dsp_strike from strike_angle_deg */
    double pronation_deg;        /* roll excursion from IC to peak eversion in stance, deg */
    double pronation_vel_dps;    /* peak eversion rate in stance (20 ms mean), deg/s */
    double t_still;              /* s, centre of the stance's quietest gyro window (foot flat) */
    /* Added by issue 3 (METRICS.md section 3, "Stride length, speed and turns"): strapdown
     * integration from t_still to the next stance's still point with zero-velocity updates at
     * both; NAN when it cannot be honest (short or restless still window, dropout, clipping,
     * a residual end velocity beyond the physical bound). */
    double stride_length_m;      /* horizontal displacement of the foot over the stride, m */
    double speed_mps;            /* stride_length_m / stride_s */
    double turn_deg;             /* heading change between the still points, left turn positive */
    double clearance_m;          /* highest point of the foot above its start still point, m */
    uint8_t turning;             /* 1: |turn_deg| > 20 deg (a track bend never reaches it) */
} dsp_stride_t;

#define DSP_CADENCE_DISAGREE_PCT 3.0 /* % of the event cadence */

/* Per-stride metrics with statistics (means, medians, CV, symmetry index) for each. */
enum dsp_metric {
    DSP_M_STRIDE, DSP_M_CONTACT, DSP_M_SWING, DSP_M_STEP, DSP_M_FLIGHT, DSP_M_DUTY,
    DSP_M_CADENCE, DSP_M_IMPACT, DSP_M_BRAKING, DSP_M_PUSHOFF, DSP_M_SWING_PEAK,
    DSP_M_STRIKE_ANGLE, DSP_M_PRONATION, DSP_M_PRONATION_VEL, DSP_M_STRIDE_LENGTH, DSP_M_SPEED,
    DSP_NMETRIC
};

/* The dsp_stride_t field of metric m ("contact_s", ...: the feed key), NULL if m is invalid. */
const char *dsp_metric_name(int m);
/* Value of metric m of a stride (NAN if m is invalid). */
double dsp_stride_metric(const dsp_stride_t *s, int m);

typedef struct dsp_foot_stats {
    uint32_t n;                  /* strides */
    double stride_s, contact_s, step_s, swing_s, flight_s, duty;   /* means; NAN when n == 0 */
    double contact_cv_pct;       /* coefficient of variation of contact time */
    double impact_g, pushoff_dps;
    /* Added by issue 3, indexed by enum dsp_metric, over the strides with a finite value:
     * mean, median (NAN in dsp_pipeline_summary: the session keeps sums only) and coefficient of
     * variation = 100 x sample sd / |mean| (NAN below 2 values). */
    double mean[DSP_NMETRIC], median[DSP_NMETRIC], cv_pct[DSP_NMETRIC];
} dsp_foot_stats_t;

typedef struct dsp_window {
    double t_start, t_end;       /* span covered */
    uint8_t mode;                /* dominant dsp_mode of the strides in the span */
    double stride_hz_fft;        /* stride fundamental from the spectrum, NAN if none */
    double cadence_fft_spm;      /* 120 * stride_hz_fft */
    double cadence_events_spm;   /* from the stride times of both feet */
    dsp_foot_stats_t foot[2];
    double contact_si_pct;       /* CONTRACT.md symmetry index; NAN when a foot has no strides */
    double stride_si_pct;
    double step_si_pct;
    double si_pct[DSP_NMETRIC];  /* symmetry index of every metric's per-foot mean (issue 3) */
    double phase_offset_deg;     /* L/R phase of the stride fundamental, 0..360, ideal 180; NAN
                                  * if unknown (latest estimate; summary: circular mean) */
    uint8_t cadence_disagree;    /* 1: cadence_fft_spm and cadence_events_spm both known and more
                                  * than DSP_CADENCE_DISAGREE_PCT apart (a flag to read them by) */
    double spectral_similarity;  /* cosine similarity 0..1 of the feet's amplitude spectra up to
                                  * 4 x max_stride_hz (latest; summary: mean); NAN if unknown */
} dsp_window_t;

typedef struct dsp_summary {
    double duration_s;
    uint32_t n_strides[2];
    uint32_t n_running, n_walking;
    dsp_window_t main;           /* running strides if any, else all strides (CONTRACT.md) */
    dsp_window_t running;        /* running strides only (foot[].n == 0 if none) */
    dsp_window_t walking;        /* walking strides only */
    uint32_t n_turning;          /* strides flagged turning (dsp_stride_t.turning) */
    dsp_window_t straight;       /* the strides of `main` that are not turning (spectral fields
                                  * NAN): symmetry without the turns */
    double cadence_spm;          /* = main.cadence_events_spm, or FFT cadence if no events */
    double clock_offset_s;       /* estimated right pod clock minus left pod clock, s; NAN if
                                  * unknown (one foot, too few strides); 0 with clock_sync 0 */
    /* Fatigue drift (issue 3) over the strides of `main`: statistics of the first and the last
     * third of the span from the first to the last stride (time bins, METRICS.md section 4),
     * and the change of each metric's mean (both feet pooled) from the first to the last third
     * per 10 minutes; NAN when either third has no strides. */
    dsp_window_t first_third, last_third;
    double drift_per_10min[DSP_NMETRIC];
    double drift_contact_si_per_10min;   /* change of contact_si_pct per 10 minutes */
} dsp_summary_t;

typedef struct dsp_pipeline dsp_pipeline_t;

/* Allocates a pipeline. Returns NULL on bad settings or out of memory. Caller owns it. */
dsp_pipeline_t *dsp_pipeline_new(const dsp_settings_t *s);
/* As dsp_pipeline_new, sharing peer's FFT plan and scratch buffers when peer (may be NULL) has
 * the same spectral window (fft_window_s): a few tens of KiB less per pipeline. Pipelines that
 * share must be used from one thread at a time; each may be freed in any order. */
dsp_pipeline_t *dsp_pipeline_new_with(const dsp_settings_t *s, const dsp_pipeline_t *peer);
/* Frees *p and sets it to NULL. */
void dsp_pipeline_free(dsp_pipeline_t **p);

/* Pushes one sample of one foot. Samples of a foot must come in time order at a constant rate
 * (the rate is estimated from the first samples; a gap longer than a few samples is treated as a
 * dropout). Returns 0, or a negative value for a rejected sample (non-finite, time going back). */
int dsp_pipeline_push(dsp_pipeline_t *p, int foot, const dsp_sample_t *s);

/* Returns 1 and fills *out with the next finished stride, 0 when none is ready. Strides are
 * finished within one stride after their toe-off. */
int dsp_pipeline_pop_stride(dsp_pipeline_t *p, dsp_stride_t *out);

/* Rolling statistics over the last settings.window_s seconds. */
void dsp_pipeline_window(dsp_pipeline_t *p, dsp_window_t *w);

/* End of input: finishes every stride that can be finished. */
void dsp_pipeline_finish(dsp_pipeline_t *p);

/* Whole-session statistics so far. */
void dsp_pipeline_summary(const dsp_pipeline_t *p, dsp_summary_t *out);

/* Strike type of a strike angle (deg, toe up positive): rear > 8.0, fore < -1.6, else mid;
 * DSP_STRIKE_UNKNOWN for NAN. */
int dsp_strike_type(double strike_angle_deg);

/* CONTRACT.md symmetry index 100*(l-r)/(0.5*(l+r)); NAN if either is NAN or the sum is 0. */
double dsp_symmetry_index(double l, double r);

#endif
