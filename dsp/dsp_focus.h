/* dsp_focus.h - from gait metrics to ranked sports-massage focus areas, with evidence.
 *
 * Training-aid heuristics, not diagnoses: no peer system maps gait to muscle tightness; these
 * rules turn measured asymmetries and levels into "where a massage could focus" suggestions and
 * say why (dsp/FOCUS.md: each indicator's rationale and references).
 *
 * Pure computation, no I/O, no heap after focus_rules_parse, no globals:
 *   1. focus_rules_parse(text, "focus_rules.ini", err, cap)  -- the rules are data (INI text;
 *      the shipped, documented file is dsp/focus_rules.ini, compiled in as focus_rules_default).
 *   2. focus_acc_init(&acc); for each stride: focus_acc_add(&acc, &stride);
 *   3. focus_metrics_compute(&acc, &summary_or_NULL, &m)      -- named metric values
 *   4. optional baseline: focus_baseline_init(&b); focus_baseline_add(&b, &past_m) per past session
 *   5. focus_evaluate(rules, &m, &b_or_NULL, &result)        -- scored, sorted focus list
 *   live: focus_live_update(&live, rules, &result, &shown)    -- hysteresis against flapping
 */
#ifndef GAITD_DSP_FOCUS_H
#define GAITD_DSP_FOCUS_H
#include <stddef.h>
#include <stdint.h>
#include "dsp.h"

/* Focus areas (CONTRACT.md order). */
enum focus_area {
    FOCUS_CALVES = 0,
    FOCUS_ACHILLES,
    FOCUS_PLANTAR_FASCIA,
    FOCUS_SHINS,
    FOCUS_QUADRICEPS,
    FOCUS_HAMSTRINGS,
    FOCUS_GLUTES,
    FOCUS_HIP_FLEXORS,
    FOCUS_IT_BAND,
    FOCUS_LOWER_BACK,
    FOCUS_N_AREAS
};

enum focus_side { FOCUS_SIDE_L = 0, FOCUS_SIDE_R = 1, FOCUS_SIDE_BOTH = 2 };

/* Named metrics an indicator can test. Per-foot metrics come as _L/_R pairs (L first, R next);
 * rules name a pair by its base name ("impact_g"). Symmetry indexes (_si_pct) follow
 * CONTRACT.md: 100 (L - R) / (0.5 (L + R)), positive = left larger. Unknown = NAN. */
enum focus_metric {
    FM_CONTACT_S_L = 0, FM_CONTACT_S_R,         /* mean contact time, s */
    FM_PUSHOFF_DPS_L, FM_PUSHOFF_DPS_R,         /* mean push-off peak pitch rate, deg/s */
    FM_IMPACT_G_L, FM_IMPACT_G_R,               /* mean impact peak, g */
    FM_SWING_PEAK_DPS_L, FM_SWING_PEAK_DPS_R,   /* mean swing peak pitch rate, deg/s */
    FM_CONTACT_DRIFT_PCT_L, FM_CONTACT_DRIFT_PCT_R, /* contact-time trend, % per 10 min */
    FM_PUSHOFF_DRIFT_PCT_L, FM_PUSHOFF_DRIFT_PCT_R, /* push-off trend, % per 10 min */
    FM_PRONATION_DEG_L, FM_PRONATION_DEG_R,     /* mean pronation excursion, deg */
    FM_PRONATION_VEL_DPS_L, FM_PRONATION_VEL_DPS_R, /* mean peak eversion rate, deg/s */
    FM_PRONATION_DRIFT_DEG_L, FM_PRONATION_DRIFT_DEG_R, /* pronation trend, deg per 10 min */
    FM_STRIKE_ANGLE_DEG_L, FM_STRIKE_ANGLE_DEG_R, /* mean strike angle, toe up positive, deg */
    FM_FOREFOOT_PCT_L, FM_FOREFOOT_PCT_R,       /* share of forefoot strikes, % */
    FM_BRAKING_G_L, FM_BRAKING_G_R,             /* mean braking peak, g */
    FM_CONTACT_SI, FM_STEP_SI, FM_STRIDE_SI,    /* % */
    FM_PUSHOFF_SI, FM_IMPACT_SI, FM_SWING_SI,   /* % */
    FM_PRONATION_SI, FM_BRAKING_SI,             /* % */
    FM_ASYM_GLOBAL,                             /* mean |SI| of contact, step, push-off, impact, % */
    FM_FATIGUE_CONTACT,                         /* contact-time trend, both feet, % per 10 min */
    FM_FATIGUE_CADENCE,                         /* cadence trend, % per 10 min */
    FM_FATIGUE_ASYM,                            /* contact SI trend, percentage points / 10 min */
    FM_CADENCE_SPM,                             /* steps/min */
    FM_DURATION_MIN,                            /* whole session, min */
    FM_GAIT_MIN,                                /* span of the analysed strides, min */
    FM_COUNT
};

/* Name of a metric ("contact_si_pct", "impact_g_L") or NULL; index from a name or -1. */
const char *focus_metric_name(int metric);
int focus_metric_find(const char *name);
/* Area / side names as in CONTRACT.md ("plantar_fascia", "L"/"R"/"both"), and lookups (-1). */
const char *focus_area_name(int area);
const char *focus_area_label(int area);   /* "plantar fascia": for people */
int focus_area_find(const char *name);
const char *focus_side_name(int side);

/* ---- metrics ---- */

/* Per-stride sums the metric extractor needs beyond dsp_summary_t (means, drifts as least-squares
 * slopes over time). Caller-owned, fixed size; one block per gait mode. Members are private. */
typedef struct focus_acc_foot {
    uint32_t n;
    double sum[11], cnt[11];          /* contact, pushoff, impact, swing peak, stride, step,
                                         pronation, pronation rate, strike angle, braking,
                                         forefoot strike (0/1) */
    double rn[4], rt[4], rtt[4];      /* regressions of contact, pushoff, cadence, pronation */
    double ry[4], rty[4], ryy[4];     /* vs time (t relative to the first stride) */
} focus_acc_foot_t;

typedef struct focus_acc {
    double t0, t_first, t_last;       /* NAN until the first stride */
    focus_acc_foot_t mode[2][2];      /* [running?][foot] */
} focus_acc_t;

void focus_acc_init(focus_acc_t *a);
/* Adds one finished stride (any mode; running and walking are kept apart). */
void focus_acc_add(focus_acc_t *a, const dsp_stride_t *s);

typedef struct focus_metrics {
    double v[FM_COUNT];               /* indexed by focus_metric */
    double span_min;                  /* minutes of gait the figures cover */
    double late[FM_COUNT];            /* symmetry indexes over the last third of the session
                                         (from dsp_summary_t.last_third), else NAN */
    double late_min;                  /* minutes the last third covers (0: none) */
    int running;                      /* 1: running strides, 0: walking */
    uint32_t n[2];                    /* strides per foot used */
} focus_metrics_t;

/* Computes the named metrics from the accumulated strides: running strides when both feet ran
 * at least min_strides, else walking strides when both feet walked that much and there is no
 * running, else all strides together (counted as running if most strides ran or the cadence
 * is above 140 steps/min). Per-foot figures need min_strides
 * of that foot, symmetry indexes both feet; trends need 90 s of gait and are 0 unless the slope
 * is at least 3 standard errors from zero. sum may be NULL; when given it supplies the session
 * duration and cadence. */
void focus_metrics_compute(const focus_acc_t *a, const dsp_summary_t *sum, unsigned min_strides,
                           focus_metrics_t *m);
/* All metrics unknown. */
void focus_metrics_clear(focus_metrics_t *m);

/* ---- the athlete's baseline: mean and sd of each metric over past sessions ---- */
typedef struct focus_baseline {
    uint32_t n[FM_COUNT];
    double mean[FM_COUNT], m2[FM_COUNT];    /* Welford sums; private */
} focus_baseline_t;

void focus_baseline_init(focus_baseline_t *b);
/* Adds one past session's metrics (unknown values are skipped per metric). */
void focus_baseline_add(focus_baseline_t *b, const focus_metrics_t *past);
/* Sessions, mean and sample sd of a metric; returns the session count (sd NAN below 2). */
uint32_t focus_baseline_get(const focus_baseline_t *b, int metric, double *mean, double *sd);

/* ---- rules ---- */

#define FOCUS_MAX_RULES 48
#define FOCUS_RULE_AREAS 4
#define FOCUS_RULE_WHEN 3
#define FOCUS_NAME_MAX 40
#define FOCUS_TEXT_MAX 200

enum focus_kind { FOCUS_KIND_ASYM = 1, FOCUS_KIND_LEVEL = 2 };
enum focus_pick { FOCUS_PICK_LARGER = 1, FOCUS_PICK_SMALLER = 2, FOCUS_PICK_BOTH = 3 };

typedef struct focus_cond {
    int metric;                       /* base metric (a pair's L index or a global one) */
    int pair;                         /* 1: per-foot pair, tested on the rule's side */
    int op;                           /* +1: >, -1: < */
    double value;
} focus_cond_t;

typedef struct focus_rule {
    char name[FOCUS_NAME_MAX];
    int line;                         /* line of its [rule NAME] header */
    int kind;                         /* focus_kind */
    int metric;                       /* asym: an _si_pct metric; level: pair's L index or global */
    int pair;                         /* level on a per-foot pair */
    int pick;                         /* asym: side whose value is larger / smaller */
    int gait;                         /* 1: running metrics only (default), 0: any, 2: walking */
    int dir;                          /* level: +1 high is bad (above), -1 low is bad (below) */
    double on, full;                  /* population: score 0 at on, 1 at full (|SI| for asym) */
    double z_on, z_full;              /* baseline: score 0 at z_on sd from the mean, 1 at z_full */
    double sd_floor;                  /* smallest sd used with a baseline (metric units) */
    int n_areas;
    int area[FOCUS_RULE_AREAS];
    double weight[FOCUS_RULE_AREAS];
    int n_when;
    focus_cond_t when[FOCUS_RULE_WHEN];
    char unit[12];
    char evidence[FOCUS_TEXT_MAX];    /* template, see FOCUS.md: {Side} {side} {other} {abs} ... */
    char population[FOCUS_TEXT_MAX];  /* how the population range is described */
} focus_rule_t;

typedef struct focus_rules {
    int n;
    focus_rule_t rule[FOCUS_MAX_RULES];
    unsigned min_strides;             /* [general] strides per foot before any indicator */
    double live_on, live_off;         /* [general] live hysteresis thresholds on the score */
    unsigned baseline_sessions;       /* [baseline] past sessions needed to use the baseline */
    double recovery_long_min;         /* [recovery] a long session, min */
    double recovery_intense_spm;      /* [recovery] cadence of a hard effort ... */
    double recovery_intense_min;      /* ... held at least this long, min */
    char recovery_advice[FOCUS_TEXT_MAX];
} focus_rules_t;

/* Parses rules from INI text; name is the file name used in messages. Returns 0, or -1 with
 * "name:LINE: [rule X] field: problem" in err (unknown area, bad number, unknown metric or
 * field, missing field, ...). */
int focus_rules_parse(focus_rules_t *r, const char *text, const char *name, char *err,
                      size_t errcap);

/* The shipped rules (dsp/focus_rules.ini, compiled in). */
extern const char focus_rules_default_text[];
/* Parses focus_rules_default_text; 0 or -1 (cannot happen with a tested build). */
int focus_rules_default(focus_rules_t *r, char *err, size_t errcap);

/* ---- evaluation ---- */

#define FOCUS_MAX_ENTRIES (FOCUS_N_AREAS * 3)
#define FOCUS_MAX_EVIDENCE 4
#define FOCUS_EVIDENCE_MAX 240

typedef struct focus_entry {
    int area, side;
    double score;                     /* [0, 1] */
    int n_evidence;
    char evidence[FOCUS_MAX_EVIDENCE][FOCUS_EVIDENCE_MAX];
    char rule[FOCUS_MAX_EVIDENCE][FOCUS_NAME_MAX];  /* the indicator behind each line */
    int baseline[FOCUS_MAX_EVIDENCE]; /* 1: compared with the athlete's baseline */
} focus_entry_t;

typedef struct focus_result {
    int n;                            /* entries, sorted by score, highest first */
    focus_entry_t e[FOCUS_MAX_ENTRIES];
    int recovery;                     /* 1: a general recovery massage is suggested */
    char recovery_text[2 * FOCUS_TEXT_MAX];
} focus_result_t;

/* One indicator's score in [0, 1] and side for metrics m (baseline b may be NULL or too short:
 * then the population range). Returns the score (0 when it did not fire); *side, *used_baseline
 * and the evidence line (cap bytes) are set when it fired. */
double focus_rule_eval(const focus_rules_t *rs, const focus_rule_t *r, const focus_metrics_t *m,
                       const focus_baseline_t *b, int *side, int *used_baseline, char *evidence,
                       size_t cap);

/* Evaluates every rule; per area and side the rule scores s_i x weight_i combine as
 * 1 - prod(1 - s_i w_i). Only areas with a fired indicator are listed. b may be NULL. */
void focus_evaluate(const focus_rules_t *rs, const focus_metrics_t *m, const focus_baseline_t *b,
                    focus_result_t *out);

/* Live display state: an area/side is shown once its score reaches live_on and stays until it
 * falls below live_off. Caller-owned. */
typedef struct focus_live {
    uint8_t shown[FOCUS_N_AREAS][3];
} focus_live_t;

void focus_live_init(focus_live_t *l);
/* Filters in (a fresh focus_evaluate result) into out through the hysteresis; returns 1 when the
 * set of shown area/sides changed, else 0. in and out may not alias. */
int focus_live_update(focus_live_t *l, const focus_rules_t *rs, const focus_result_t *in,
                      focus_result_t *out);

#endif
