/* sim.c - pod simulator: a kinematic model of one athlete's two feet (daemon/SIMULATOR.md).
 *
 * Per foot and per stride (initial contact IC to the next IC of the same foot) the model builds:
 *   - the pitch rate as a C1 cubic Hermite spline through key points (IC, slap peak, foot flat,
 *     heel rise, push-off peak, the zero crossing just after toe-off, swing keys, next IC); the
 *     pitch angle is its exact integral, with the key amplitudes solved so that the foot is flat
 *     (pitch 0) in mid-stance and meets the next IC at the chosen toe-up angle;
 *   - the foot's position: rotation about the heel during the slap, still during foot flat,
 *     rotation about the ball of the foot during heel rise, and a quintic (plus clearance bump)
 *     heel trajectory in swing that joins toe-off and the next IC in position, velocity and
 *     acceleration;
 *   - an impact pulse at IC that removes the heel's landing velocity, with decaying ringing;
 *   - roll (pronation) and a small swing yaw.
 * The accelerometer reads the sensor point's acceleration plus gravity rotated into the foot
 * frame, the gyroscope the body angular rate. Footfalls of both feet come from one schedule of
 * alternating steps, so the feet stay half a stride apart.
 * sim_next does no allocation: everything lives in the sim_t made by sim_new.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "sim.h"

#define SIM_PI 3.14159265358979323846
#define SIM_DEG (SIM_PI / 180.0)
#define SIM_G 9.80665

/* Foot geometry in the foot frame relative to the heel contact point (m). */
#define FOOT_MTP_X 0.20 /* ball of the foot: the pivot of heel rise */
#define SENSOR_X 0.07   /* pod position: mid-foot, above the sole */
#define SENSOR_Z 0.05

#define WALK_CADENCE 114.0 /* steps/min */
#define WALK_SPEED 1.35    /* m/s */
#define SETTLE_S 1.0       /* still time after stopping before walking off again */
#define CAD_TAU_S 2.0      /* time constant of cadence changes between segments */
#define RUN_TAU_S 1.2      /* time constant of the walk <-> run blend */

#define MAX_KEYS 12
#define MAX_RKEYS 6
#define EVQ 8
#define TRUTHQ 64

enum stride_kind {
    ST_STILL = 0,     /* no stride: standing, flat and still */
    ST_NORMAL = 1,    /* IC ... toe-off ... next IC */
    ST_FROM_REST = 2, /* starts flat at rest (virtual IC), heel rise ... next IC */
    ST_TERMINAL = 3,  /* IC, slap, then flat and still for good */
};

enum ev_kind { EV_IC = 1, EV_TERMINAL = 2, EV_REST = 3 };

typedef struct ev {
    int kind;
    double t;         /* IC time (virtual for EV_REST) */
    double cad;       /* steps/min in force */
    double run;       /* 0 walk .. 1 run blend */
    double t_hr_rest; /* EV_REST: heel rise delay after t */
} ev_t;

typedef struct hkey {
    double t;    /* s after the stride's IC */
    double w, a; /* pitch rate rad/s, its derivative rad/s^2 */
    double th;   /* pitch rad at t */
} hkey_t;

typedef struct rkey {
    double t, v; /* s, roll rad (left-foot sign) */
} rkey_t;

/* Shape parameters of one gait, blended between walking and running by the run fraction. */
typedef struct shape {
    double duty;          /* walking contact / stride (running uses contact_s) */
    double f_slap, f_hr;  /* end of slap, start of heel rise, as fractions of contact */
    double p_slap;        /* slap peak position within the slap */
    double d_pk, d_z;     /* push-off peak before toe-off, zero crossing after it (s) */
    double th_ic, th_max; /* toe-up pitch at IC, toe-down pitch just after toe-off (deg) */
    double a_ic;          /* pitch acceleration at IC (deg/s^2) */
    double steep;         /* pitch-rate slope at the post-toe-off key, x linear */
    double z6;            /* pitch rate at the post-toe-off key, x push-off peak */
    double po_f, po_v;    /* push-off mid key: position in heel rise, relative rate */
    double sw_fa, sw_ka, sw_fp, sw_fb, sw_kb; /* swing keys: positions, relative rates */
    double clear;                             /* swing clearance bump (m) */
    double sw_um;                      /* peak forward velocity of the foot, fraction of swing */
    double roll_d;                     /* forward roll of the toe pivot during heel rise (m) */
    double v_ic_x, v_ic_z;             /* heel velocity at IC (m/s) */
    double a_ic_x, a_ic_z;             /* heel acceleration just before IC (m/s^2) */
    double imp_tau;                    /* impact pulse time constant (s) */
    double imp_delay;                  /* impact spike after touch-down (heel pad compression, s) */
    double ring_f, ring_tau, ring_rel; /* ringing: Hz, s, amplitude relative to the pulse peak */
    double ring_gyr;                   /* gyro ringing at impact, deg/s per m/s of landing speed */
    double yaw_deg;                    /* swing yaw excursion */
    double pron_f;                     /* peak pronation as a fraction of contact */
    double sd_ic;                      /* std of touch-down vs the kinematic key (s) */
    double po_sd; /* relative std of the push-off peak's lead d_pk on lift-off, per stride */
} shape_t;

static const shape_t SHAPE_WALK = {
    .duty = 0.615,
    .f_slap = 0.25,
    .f_hr = 0.68,
    .p_slap = 0.36,
    .d_pk = 0.010,
    .d_z = 0.020,
    .th_ic = 23.0,
    .th_max = 68.0,
    .a_ic = 5000.0,
    .steep = 1.2,
    .z6 = 0.0,
    .po_f = 0.55,
    .po_v = 0.78,
    .sw_fa = 0.12,
    .sw_ka = 0.80,
    .sw_fp = 0.45,
    .sw_fb = 0.76,
    .sw_kb = 1.05,
    .clear = 0.07,
    .sw_um = 0.74,
    .roll_d = 0.06,
    .v_ic_x = 0.90,
    .v_ic_z = -0.50,
    .a_ic_x = -25.0,
    .a_ic_z = 6.0,
    .imp_tau = 0.0025,
    .imp_delay = 0.020,
    .ring_f = 60.0,
    .ring_tau = 0.012,
    .ring_rel = 0.5,
    .ring_gyr = 60.0,
    .yaw_deg = 8.0,
    .pron_f = 0.10,
    .sd_ic = 0.005,
    .po_sd = 0.25,
};

static const shape_t SHAPE_RUN = {
    .duty = 0.36,
    .f_slap = 0.20,
    .f_hr = 0.40,
    .p_slap = 0.40,
    .d_pk = 0.007,
    .d_z = 0.014,
    .th_ic = 15.0,
    .th_max = 66.0,
    .a_ic = 7000.0,
    .steep = 0.8,
    .z6 = 0.25,
    .po_f = 0.60,
    .po_v = 0.60,
    .sw_fa = 0.18,
    .sw_ka = -0.30,
    .sw_fp = 0.42,
    .sw_fb = 0.66,
    .sw_kb = 0.18,
    .clear = 0.20,
    .sw_um = 0.58,
    .roll_d = 0.05,
    .v_ic_x = 1.20,
    .v_ic_z = -1.00,
    .a_ic_x = -45.0,
    .a_ic_z = 10.0,
    .imp_tau = 0.0030,
    .imp_delay = 0.006,
    .ring_f = 70.0,
    .ring_tau = 0.010,
    .ring_rel = 0.4,
    .ring_gyr = 80.0,
    .yaw_deg = 10.0,
    .pron_f = 0.25,
    .sd_ic = 0.0025,
    .po_sd = 0.25,
};

typedef struct stride {
    int kind;
    int activity;        /* SIM_WALK / SIM_RUN */
    double t0;           /* IC time on the true clock (virtual for ST_FROM_REST) */
    double T;            /* stride time, s (INFINITY when terminal) */
    double tc;           /* contact time: toe-off at t0 + tc */
    double t_slap, t_hr; /* end of slap, start of heel rise (s after t0) */
    hkey_t k[MAX_KEYS];
    int nk, ki; /* keys, evaluation cursor */
    rkey_t r[MAX_RKEYS];
    int nr, ri;
    double sw_h;  /* swing duration tc .. T */
    hkey_t vx[3]; /* heel forward velocity keys (t after toe-off, m/s, m/s^2) */
    double cz[6]; /* heel height quintic in u = (tau - tc) / sw_h (m) */
    double clear;
    double len; /* truth: the heel's horizontal travel from foot flat to the next IC (m) */
    double roll_d; /* toe pivot forward roll during heel rise (m) */
    rkey_t y[4];   /* yaw keys, rad, left-foot sign: toe out in push-off, back in swing */
    int ny, yi;
    /* truth: touch-down relative to the kinematic key (s); lift-off is the key tc itself */
    double d_ic, d_next, t_next;
} stride_t;

/* Impact at touch-down: a pulse that removes the heel's landing velocity, with ringing. */
typedef struct impact {
    int on;
    double t;         /* touch-down time on the true clock */
    double dvx, dvz;  /* velocity removed (m/s, heading frame) */
    double tau, taux; /* vertical pulse, horizontal braking time constants (s) */
    double delay;     /* vertical pulse start after touch-down (s) */
    double ring_f, ring_tau, ring_amp, ring_gyr; /* Hz, s, m/s^2, rad/s */
} impact_t;

typedef struct foot {
    stride_t cur;
    ev_t q[EVQ]; /* this foot's upcoming footfalls */
    int qh, qn;
    /* what the current stride chose for the next IC */
    double th_ic_in, a_ic_in, d_ic_in;
    double po_in;    /* standard normal drawn by the last stride for this one's push-off timing */
    impact_t imp[2]; /* the last and the next touch-down */
    double mirror;   /* +1 left, -1 right: roll and yaw signs in the shared frame */
} foot_t;

enum gen_state { GEN_IDLE = 0, GEN_REST2 = 1, GEN_MOVING = 2, GEN_CLOSING = 3, GEN_DONE = 4 };

struct sim {
    sim_config_t c;
    double total_s;
    uint64_t n, n_total; /* sample index, count */
    uint64_t rng[4];
    double gauss_spare;
    int has_spare;
    foot_t f[2];
    /* footfall schedule */
    int gen_state, gen_foot;
    double gen_t, gen_cad, gen_run;
    double seg_end[SIM_MAX_SEGMENTS];
    /* truth ring */
    sim_truth_t tq[TRUTHQ];
    int tqh, tqn;
};

/* ---- RNG: xoshiro256** seeded through splitmix64 ---- */

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static uint64_t rng_next(sim_t *s)
{
    uint64_t *r = s->rng;
    uint64_t res = rotl(r[1] * 5, 7) * 9;
    uint64_t t = r[1] << 17;
    r[2] ^= r[0];
    r[3] ^= r[1];
    r[1] ^= r[2];
    r[0] ^= r[3];
    r[2] ^= t;
    r[3] = rotl(r[3], 45);
    return res;
}

/* Uniform in (0, 1). */
static double rng_uniform(sim_t *s)
{
    return ((double)(rng_next(s) >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}

/* Standard normal (Marsaglia polar method, second value cached in the struct). */
static double rng_gauss(sim_t *s)
{
    if (s->has_spare) {
        s->has_spare = 0;
        return s->gauss_spare;
    }
    double u, v, q;
    do {
        u = 2.0 * rng_uniform(s) - 1.0;
        v = 2.0 * rng_uniform(s) - 1.0;
        q = u * u + v * v;
    } while (q >= 1.0 || q == 0.0);
    double m = sqrt(-2.0 * log(q) / q);
    s->gauss_spare = v * m;
    s->has_spare = 1;
    return u * m;
}

/* Standard normal clamped to +-3. */
static double gauss3(sim_t *s)
{
    double g = rng_gauss(s);
    return g > 3.0 ? 3.0 : g < -3.0 ? -3.0 : g;
}

/* Normal with relative std sd, clamped to +-3 sd and to [0.5, 1.5], as a multiplier around 1. */
static double jitter(sim_t *s, double sd)
{
    double m = 1.0 + sd * gauss3(s);
    return m < 0.5 ? 0.5 : m > 1.5 ? 1.5 : m;
}

/* ---- configuration ---- */

void sim_config_default(sim_config_t *c)
{
    memset(c, 0, sizeof *c);
    c->seed = 1;
    c->rate_hz = 500.0;
    c->cadence_spm = 170.0;
    c->speed_mps = 3.3;
    c->contact_s = 0.25;
    for (int f = 0; f < 2; f++) {
        c->contact_scale[f] = 1.0;
        c->pushoff_scale[f] = 1.0;
        c->impact_scale[f] = 1.0;
        c->pronation_deg[f] = 8.0;
    }
    c->fatigue_per_10min = 0.0;
    c->stride_jitter = 0.015;
    c->acc_noise = 0.05;
    c->gyr_noise = 0.5;
    c->n_segments = 0;
    c->duration_s = 600.0;
    c->acc_range_g = 16;
    c->gyr_range_dps = 2000;
}

int sim_parse_plan(sim_config_t *c, const char *plan, char *err, unsigned errcap)
{
    int n = 0;
    const char *p = plan;
    if (!plan || !*plan) {
        snprintf(err, errcap, "empty plan");
        return -1;
    }
    while (*p) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        char tok[64];
        if (len == 0 || len >= sizeof tok) {
            snprintf(err, errcap, "plan segment %d: empty or too long", n + 1);
            return -1;
        }
        memcpy(tok, p, len);
        tok[len] = '\0';
        if (n >= SIM_MAX_SEGMENTS) {
            snprintf(err, errcap, "plan: more than %d segments", SIM_MAX_SEGMENTS);
            return -1;
        }
        char *colon = strchr(tok, ':');
        if (!colon) {
            snprintf(err, errcap, "plan segment %d '%s': expected ACTIVITY:SECONDS[@CADENCE]",
                     n + 1, tok);
            return -1;
        }
        *colon = '\0';
        sim_segment_t seg = {0, 0, 0, 0};
        if (!strcmp(tok, "stand"))
            seg.activity = SIM_STAND;
        else if (!strcmp(tok, "walk"))
            seg.activity = SIM_WALK;
        else if (!strcmp(tok, "run"))
            seg.activity = SIM_RUN;
        else {
            snprintf(err, errcap, "plan segment %d: unknown activity '%s' (stand, walk, run)",
                     n + 1, tok);
            return -1;
        }
        char *q = colon + 1, *e;
        seg.duration_s = strtod(q, &e);
        if (e == q || !isfinite(seg.duration_s) || seg.duration_s <= 0.0) {
            snprintf(err, errcap, "plan segment %d: bad duration '%s'", n + 1, q);
            return -1;
        }
        if (*e == '@') {
            q = e + 1;
            seg.cadence_spm = strtod(q, &e);
            if (e == q || !isfinite(seg.cadence_spm) || seg.cadence_spm < 40.0 ||
                seg.cadence_spm > 260.0) {
                snprintf(err, errcap, "plan segment %d: bad cadence '%s' (40..260 steps/min)",
                         n + 1, q);
                return -1;
            }
        }
        if (*e != '\0') {
            snprintf(err, errcap, "plan segment %d: unexpected '%s'", n + 1, e);
            return -1;
        }
        c->segments[n++] = seg;
        p += len;
        if (*p == ',')
            p++;
        if (end && !*p) {
            snprintf(err, errcap, "plan: trailing ','");
            return -1;
        }
    }
    c->n_segments = n;
    double total = 0;
    for (int i = 0; i < n; i++)
        total += c->segments[i].duration_s;
    c->duration_s = total;
    return 0;
}

const sim_config_t *sim_config(const sim_t *s)
{
    return &s->c;
}

/* ---- segments and the footfall schedule ---- */

static const sim_segment_t *segment_at(const sim_t *s, double t)
{
    for (int i = 0; i < s->c.n_segments; i++)
        if (t < s->seg_end[i])
            return &s->c.segments[i];
    return &s->c.segments[s->c.n_segments - 1];
}

static double seg_cadence(const sim_t *s, const sim_segment_t *g, double t)
{
    double base = g->cadence_spm > 0       ? g->cadence_spm
                  : g->activity == SIM_RUN ? s->c.cadence_spm
                                           : WALK_CADENCE;
    double fat = 1.0 - 0.5 * s->c.fatigue_per_10min * t / 600.0;
    if (fat < 0.5)
        fat = 0.5;
    return base * fat;
}

static double seg_speed(const sim_t *s, const sim_segment_t *g)
{
    if (g->speed_mps > 0)
        return g->speed_mps;
    return g->activity == SIM_RUN ? s->c.speed_mps : WALK_SPEED;
}

static double lerp(double a, double b, double r)
{
    return a + (b - a) * r;
}

/* Linear blend of the walking and running shapes; shape_t holds doubles only. */
_Static_assert(sizeof(shape_t) % sizeof(double) == 0, "shape_t must hold doubles only");
static shape_t shape_blend(double r)
{
    const double *a = &SHAPE_WALK.duty, *b = &SHAPE_RUN.duty;
    shape_t out;
    double *o = &out.duty;
    for (size_t i = 0; i < sizeof(shape_t) / sizeof(double); i++)
        o[i] = lerp(a[i], b[i], r);
    return out;
}

/* Nominal contact time (before per-foot scale and jitter) for stride time T at time t. */
static double nominal_contact(const sim_t *s, double T, double r, double t)
{
    double fat = 1.0 + s->c.fatigue_per_10min * t / 600.0;
    return lerp(SHAPE_WALK.duty * T, s->c.contact_s, r) * fat;
}

static void foot_push_ev(foot_t *f, const ev_t *e)
{
    if (f->qn == EVQ)
        return; /* cannot happen: the schedule runs at most two steps ahead */
    f->q[(f->qh + f->qn) % EVQ] = *e;
    f->qn++;
}

/* Generates the next footfall of the alternating schedule. Returns 0 when there are no more. */
static int gen_one(sim_t *s)
{
    ev_t e = {0, 0, 0, 0, 0};
    int foot = !s->gen_foot;
    switch (s->gen_state) {
    case GEN_IDLE: {
        double t_from = s->gen_t + SETTLE_S;
        double seg_start = 0;
        const sim_segment_t *g = NULL;
        for (int i = 0; i < s->c.n_segments; seg_start = s->seg_end[i], i++) {
            if (s->c.segments[i].activity != SIM_STAND && s->seg_end[i] > t_from) {
                g = &s->c.segments[i];
                break;
            }
        }
        if (!g) {
            s->gen_state = GEN_DONE;
            return 0;
        }
        double ts = seg_start > t_from ? seg_start : t_from;
        s->gen_cad = seg_cadence(s, g, ts);
        s->gen_run = g->activity == SIM_RUN ? 1.0 : 0.0;
        double T = 120.0 / s->gen_cad;
        shape_t sh = shape_blend(s->gen_run);
        double thr = sh.f_hr * nominal_contact(s, T, s->gen_run, ts);
        e.kind = EV_REST;
        e.t = ts - thr;
        e.t_hr_rest = thr;
        s->gen_state = GEN_REST2;
        break;
    }
    case GEN_REST2: {
        double T = 120.0 / s->gen_cad;
        shape_t sh = shape_blend(s->gen_run);
        double thr = sh.f_hr * nominal_contact(s, T, s->gen_run, s->gen_t);
        e.kind = EV_REST;
        e.t = s->gen_t + 0.5 * T * jitter(s, s->c.stride_jitter * 1.41421356);
        e.t_hr_rest = thr;
        s->gen_state = GEN_MOVING;
        break;
    }
    case GEN_MOVING:
    case GEN_CLOSING: {
        double step0 = 60.0 / s->gen_cad;
        const sim_segment_t *g = segment_at(s, s->gen_t + step0);
        if (g->activity != SIM_STAND) {
            double k = 1.0 - exp(-step0 / CAD_TAU_S);
            s->gen_cad += (seg_cadence(s, g, s->gen_t) - s->gen_cad) * k;
            double kr = 1.0 - exp(-step0 / RUN_TAU_S);
            double target = g->activity == SIM_RUN ? 1.0 : 0.0;
            s->gen_run += (target - s->gen_run) * kr;
            if (fabs(s->gen_run - target) < 0.02)
                s->gen_run = target;
        }
        double step = 60.0 / s->gen_cad * jitter(s, s->c.stride_jitter * 1.41421356);
        e.t = s->gen_t + step;
        if (s->gen_state == GEN_CLOSING) {
            e.kind = EV_TERMINAL;
            s->gen_state = GEN_IDLE;
        } else if (segment_at(s, e.t)->activity == SIM_STAND && e.t < s->total_s) {
            e.kind = EV_TERMINAL;
            s->gen_state = GEN_CLOSING;
        } else {
            e.kind = EV_IC;
        }
        break;
    }
    default:
        return 0;
    }
    e.cad = s->gen_cad;
    e.run = s->gen_run;
    s->gen_t = e.t;
    s->gen_foot = foot;
    foot_push_ev(&s->f[foot], &e);
    return 1;
}

/* Makes sure foot fi has at least `need` queued footfalls; returns how many it has. */
static int foot_fill(sim_t *s, int fi, int need)
{
    while (s->f[fi].qn < need && s->gen_state != GEN_DONE)
        if (!gen_one(s))
            break;
    return s->f[fi].qn;
}

/* ---- pitch-rate spline ---- */

/* Integral of the cubic Hermite rate between keys i and i+1. */
static double seg_integral(const hkey_t *a, const hkey_t *b)
{
    double h = b->t - a->t;
    return h * (a->w + b->w) / 2.0 + h * h * (a->a - b->a) / 12.0;
}

static double keys_integral(const hkey_t *k, int i0, int i1)
{
    double sum = 0;
    for (int i = i0; i < i1; i++)
        sum += seg_integral(&k[i], &k[i + 1]);
    return sum;
}

/* Catmull-Rom slope at key i from its neighbours' rates. */
static void cr_slope(hkey_t *k, int i)
{
    k[i].a = (k[i + 1].w - k[i - 1].w) / (k[i + 1].t - k[i - 1].t);
}

/* Scales the rates and slopes of keys [j0, j1] (inclusive) so that the integral over keys
 * [i0, i1] equals target. The slopes at i0 and i1 that are outside [j0, j1] stay. */
static void keys_solve(hkey_t *k, int i0, int i1, int j0, int j1, double target)
{
    hkey_t save[MAX_KEYS];
    memcpy(save, k, sizeof save);
    for (int j = j0; j <= j1; j++)
        k[j].w = k[j].a = 0;
    double fixed = keys_integral(k, i0, i1);
    memcpy(k, save, sizeof save);
    double unit = keys_integral(k, i0, i1) - fixed;
    double sc = unit != 0.0 ? (target - fixed) / unit : 0.0;
    if (sc < 0.05)
        sc = 0.05;
    for (int j = j0; j <= j1; j++) {
        k[j].w *= sc;
        k[j].a *= sc;
    }
}

static void keys_angles(hkey_t *k, int n, double th0)
{
    k[0].th = th0;
    for (int i = 0; i + 1 < n; i++)
        k[i + 1].th = k[i].th + seg_integral(&k[i], &k[i + 1]);
}

/* ---- stride construction ---- */

static void quintic(double c[6], double p0, double v0, double a0, double p1, double v1, double a1,
                    double h)
{
    double d = p1 - p0, V0 = v0 * h, V1 = v1 * h, A0 = a0 * h * h, A1 = a1 * h * h;
    c[0] = p0;
    c[1] = V0;
    c[2] = 0.5 * A0;
    c[3] = 10 * d - 6 * V0 - 4 * V1 - 1.5 * A0 + 0.5 * A1;
    c[4] = -15 * d + 8 * V0 + 7 * V1 + 1.5 * A0 - A1;
    c[5] = 6 * d - 3 * V0 - 3 * V1 - 0.5 * A0 + 0.5 * A1;
}

/* Builds foot fi's stride that starts at footfall e. next_t: the next IC of the same foot
 * (ignored for EV_TERMINAL). */
static void build_stride(sim_t *s, int fi, const ev_t *e, double next_t)
{
    foot_t *f = &s->f[fi];
    stride_t *st = &f->cur;
    const double sd = s->c.stride_jitter;
    memset(st, 0, sizeof *st);
    st->kind = e->kind == EV_IC ? ST_NORMAL : e->kind == EV_REST ? ST_FROM_REST : ST_TERMINAL;
    st->activity = e->run >= 0.5 ? SIM_RUN : SIM_WALK;
    st->t0 = e->t;
    shape_t sh = shape_blend(e->run);
    /* faster running: more plantar flexion in early swing (heel recovery), so a larger toe-up
     * swing rotation; scaled by (speed / 3.3 m/s)^2 */
    double speed = seg_speed(s, segment_at(s, e->t));
    double ks = speed / 3.3;
    ks = ks < 0.6 ? 0.6 : ks > 1.6 ? 1.6 : ks;
    sh.sw_ka = lerp(SHAPE_WALK.sw_ka, SHAPE_RUN.sw_ka * ks * ks, e->run);
    double amp = 3.0 * sd < 0.1 ? 3.0 * sd : 0.1; /* relative std of shape amplitudes */

    st->d_ic = st->kind == ST_FROM_REST ? 0.0 : f->d_ic_in;

    if (st->kind == ST_TERMINAL) {
        double T = 120.0 / e->cad;
        st->T = INFINITY;
        st->tc = INFINITY;
        st->t_slap = sh.f_slap * nominal_contact(s, T, e->run, e->t);
        st->t_hr = INFINITY;
        hkey_t *k = st->k;
        k[0] = (hkey_t){0, 0, f->a_ic_in, 0};
        k[1] = (hkey_t){sh.p_slap * st->t_slap, 1, 0, 0};
        k[2] = (hkey_t){st->t_slap, 0, 0, 0};
        st->nk = 3;
        keys_solve(k, 0, 2, 1, 1, f->th_ic_in);
        keys_angles(k, 3, -f->th_ic_in);
        k[2].th = 0;
        double E = s->c.pronation_deg[fi] * SIM_DEG;
        st->r[0] = (rkey_t){0, -0.5 * E};
        st->r[1] = (rkey_t){0.4, 0};
        st->nr = 2;
        return;
    }

    double T = next_t - e->t;
    st->T = T;
    double tc = nominal_contact(s, T, e->run, e->t) * s->c.contact_scale[fi] * jitter(s, sd);
    double tc_max = T - (0.12 + 0.15 * T);
    if (tc > tc_max)
        tc = tc_max;
    if (tc < 0.08)
        tc = 0.08;
    st->tc = tc;
    st->t_slap = sh.f_slap * tc;
    st->t_hr = sh.f_hr * tc;
    if (st->kind == ST_FROM_REST) {
        /* the virtual IC was placed so that heel rise starts at the planned time */
        st->t_hr = e->t_hr_rest < tc - 0.05 ? e->t_hr_rest : tc - 0.05;
        if (st->t_hr < 0)
            st->t_hr = 0;
    }
    if (st->t_hr < st->t_slap + 0.01)
        st->t_hr = st->t_slap + 0.01;

    double th_ic = f->th_ic_in;
    double th_max = sh.th_max * SIM_DEG * s->c.pushoff_scale[fi] * jitter(s, amp);
    double th_next = sh.th_ic * SIM_DEG * jitter(s, amp);
    double a_next = sh.a_ic * SIM_DEG;
    /* where lift-off falls on the push-off transition varies per stride: the peak comes
     * d_pk (1 + x) before lift-off, x = po_sd N clamped to +-0.5, and the transition keeps its
     * length (the key after lift-off moves by the same time) */
    double x = sh.po_sd * f->po_in;
    x = x < -0.5 ? -0.5 : x > 0.5 ? 0.5 : x;
    double d_pk = sh.d_pk * (1.0 + x), d_z = sh.d_z - sh.d_pk * x;
    double t5 = tc - d_pk, t6 = tc + d_z;
    double sw = T - t6;

    hkey_t *k = st->k;
    int n = 0;
    if (st->kind == ST_NORMAL) {
        k[n++] = (hkey_t){0, 0, f->a_ic_in, 0};
        k[n++] = (hkey_t){sh.p_slap * st->t_slap, 1, 0, 0};
        k[n++] = (hkey_t){st->t_slap, 0, 0, 0};
        keys_solve(k, 0, 2, 1, 1, th_ic);
    }
    int i3 = n;
    k[n++] = (hkey_t){st->t_hr, 0, 0, 0};
    k[n++] = (hkey_t){st->t_hr + sh.po_f * (t5 - st->t_hr), sh.po_v, 0, 0};
    k[n++] = (hkey_t){t5, 1, 0, 0};
    int i6 = n;
    k[n++] = (hkey_t){t6, sh.z6, -sh.steep * (1.0 - sh.z6) / (d_pk + d_z), 0};
    cr_slope(k, i3 + 1);
    keys_solve(k, i3, i6, i3 + 1, i6, th_max);
    k[n++] = (hkey_t){t6 + sh.sw_fa * sw, -sh.sw_ka, 0, 0};
    k[n++] = (hkey_t){t6 + sh.sw_fp * sw, -1, 0, 0};
    k[n++] = (hkey_t){t6 + sh.sw_fb * sw, -sh.sw_kb, 0, 0};
    k[n++] = (hkey_t){T, 0, a_next, 0};
    keys_solve(k, i6, n - 1, i6 + 1, i6 + 3, -(th_max + th_next));
    st->nk = n;
    if (st->kind == ST_NORMAL) {
        keys_angles(k, n, -th_ic);
        k[2].th = 0;
    } else {
        keys_angles(k, n, 0);
    }
    k[i3].th = 0;

    /* roll (pronation), left-foot sign */
    double E = s->c.pronation_deg[fi] * SIM_DEG * jitter(s, amp);
    int r = 0;
    if (st->kind == ST_NORMAL) {
        st->r[r++] = (rkey_t){0, -0.5 * E};
        st->r[r++] = (rkey_t){sh.pron_f * tc, 0.5 * E};
    } else {
        st->r[r++] = (rkey_t){st->t_hr, 0};
    }
    st->r[r++] = (rkey_t){tc, 0.0};
    st->r[r++] = (rkey_t){tc + 0.6 * (T - tc), 0.1 * E};
    st->r[r++] = (rkey_t){T, -0.5 * E};
    st->nr = r;
    double Y = sh.yaw_deg * SIM_DEG * jitter(s, amp);
    st->y[0] = (rkey_t){st->t_hr, 0};
    st->y[1] = (rkey_t){tc, -Y};
    st->y[2] = (rkey_t){T - 0.1 * (T - tc), 0};
    st->ny = 3;

    /* swing heel trajectory: from toe-off (rotation about the ball of the foot) to the next IC */
    double thq = 0, wq = 0, aq = 0;
    {
        /* pitch state at toe-off */
        int i = 0;
        while (i + 2 < n && k[i + 1].t <= tc)
            i++;
        double h = k[i + 1].t - k[i].t, u = (tc - k[i].t) / h;
        double u2 = u * u, u3 = u2 * u, u4 = u3 * u;
        thq = k[i].th +
              h * ((u4 / 2 - u3 + u) * k[i].w + (u4 / 4 - 2 * u3 / 3 + u2 / 2) * h * k[i].a +
                   (-u4 / 2 + u3) * k[i + 1].w + (u4 / 4 - u3 / 3) * h * k[i + 1].a);
        wq = (2 * u3 - 3 * u2 + 1) * k[i].w + (u3 - 2 * u2 + u) * h * k[i].a +
             (-2 * u3 + 3 * u2) * k[i + 1].w + (u3 - u2) * h * k[i + 1].a;
        aq = ((6 * u2 - 6 * u) * k[i].w + (3 * u2 - 4 * u + 1) * h * k[i].a +
              (-6 * u2 + 6 * u) * k[i + 1].w + (3 * u2 - 2 * u) * h * k[i + 1].a) /
             h;
    }
    /* heel = ball + R(th) * (-L, 0): x = mx - L cos th, z = L sin th */
    double L = FOOT_MTP_X, c = cos(thq), sn = sin(thq);
    double hx = L - L * c, hz = L * sn;
    double vx = L * sn * wq, vz = L * c * wq;
    double ax = L * (c * wq * wq + sn * aq), az = L * (-sn * wq * wq + c * aq);
    /* the toe pivot rolls forward by roll_d * u^4 during heel rise */
    double hr = tc - st->t_hr;
    st->roll_d = sh.roll_d * jitter(s, amp);
    hx += st->roll_d;
    vx += 4.0 * st->roll_d / hr;
    ax += 12.0 * st->roll_d / (hr * hr);
    double stride_len = speed * T * jitter(s, sd);
    st->len = stride_len;
    double imp = s->c.impact_scale[fi] * jitter(s, amp);
    double vx1 = sh.v_ic_x, vz1 = sh.v_ic_z * imp;
    st->sw_h = T - tc;
    {
        /* forward velocity: cubic Hermite through toe-off, the peak at sw_um and the IC, with
         * the peak chosen so that the heel covers the stride length */
        double h1 = sh.sw_um * st->sw_h, h2 = st->sw_h - h1, d = stride_len - hx;
        double vm =
            (d - h1 * vx / 2 - h1 * h1 * ax / 12 - h2 * vx1 / 2 + h2 * h2 * sh.a_ic_x / 12) /
            ((h1 + h2) / 2);
        st->vx[0] = (hkey_t){0, vx, ax, 0};
        st->vx[1] = (hkey_t){h1, vm, 0, 0};
        st->vx[2] = (hkey_t){st->sw_h, vx1, sh.a_ic_x, 0};
    }
    quintic(st->cz, hz, vz, az, 0.0, vz1, sh.a_ic_z, st->sw_h);
    st->clear = sh.clear * jitter(s, amp);

    f->th_ic_in = -k[n - 1].th; /* = th_next unless the solve was clamped: pitch stays continuous */
    f->a_ic_in = a_next;
    /* truth: lift-off is the kinematic one (tc: the ball pivot ends, the swing path begins);
     * the next stride's push-off timing around it varies (po_in), and the next touch-down
     * scatters around the kinematic key (unmodelled heel pad and shoe compliance; the impact
     * follows it), so signal features and events are not locked together */
    f->po_in = gauss3(s);
    st->d_next = sh.sd_ic * gauss3(s);
    st->t_next = next_t;
    f->d_ic_in = st->d_next;
    /* the next touch-down's impact, replacing the older slot */
    impact_t *im = &f->imp[f->imp[0].t <= f->imp[1].t ? 0 : 1];
    im->on = 1;
    im->t = next_t + st->d_next;
    im->dvx = -vx1;
    im->dvz = -vz1;
    im->tau = sh.imp_tau;
    im->delay = sh.imp_delay * jitter(s, 0.2);
    /* braking continues the swing's deceleration and decays: A exp(-t/taux), A taux = vx1 */
    im->taux = vx1 / (sh.a_ic_x < -1.0 ? -sh.a_ic_x : 1.0);
    im->ring_f = sh.ring_f * jitter(s, amp);
    im->ring_tau = sh.ring_tau;
    im->ring_amp = sh.ring_rel * im->dvz / (im->tau * 2.718281828);
    im->ring_gyr = sh.ring_gyr * im->dvz * SIM_DEG;
}

/* ---- evaluation ---- */

typedef struct pose {
    double th, w, al; /* pitch rad, rad/s, rad/s^2 */
    double ph, phd;   /* roll rad, rad/s (left-foot sign) */
    double ps, psd;   /* yaw */
    double ax, az;    /* sensor linear acceleration, heading frame, m/s^2 */
    double gy_ring;   /* rad/s added to the pitch rate */
} pose_t;

static void eval_pitch(stride_t *st, double tau, pose_t *p)
{
    hkey_t *k = st->k;
    if (st->nk == 0 || tau < k[0].t) {
        p->th = st->nk ? k[0].th : 0;
        p->w = p->al = 0;
        return;
    }
    if (tau >= k[st->nk - 1].t) {
        p->th = k[st->nk - 1].th;
        p->w = p->al = 0;
        return;
    }
    while (st->ki + 2 < st->nk && k[st->ki + 1].t <= tau)
        st->ki++;
    while (st->ki > 0 && k[st->ki].t > tau)
        st->ki--;
    const hkey_t *a = &k[st->ki], *b = &k[st->ki + 1];
    double h = b->t - a->t, u = (tau - a->t) / h;
    double u2 = u * u, u3 = u2 * u, u4 = u3 * u;
    p->th = a->th + h * ((u4 / 2 - u3 + u) * a->w + (u4 / 4 - 2 * u3 / 3 + u2 / 2) * h * a->a +
                         (-u4 / 2 + u3) * b->w + (u4 / 4 - u3 / 3) * h * b->a);
    p->w = (2 * u3 - 3 * u2 + 1) * a->w + (u3 - 2 * u2 + u) * h * a->a + (-2 * u3 + 3 * u2) * b->w +
           (u3 - u2) * h * b->a;
    p->al = ((6 * u2 - 6 * u) * a->w + (3 * u2 - 4 * u + 1) * h * a->a + (-6 * u2 + 6 * u) * b->w +
             (3 * u2 - 2 * u) * h * b->a) /
            h;
}

/* Angle keys joined by smootherstep (zero rate and zero acceleration at every key). */
static void eval_angle(const rkey_t *r, int n, int *cur, double tau, double *v, double *vd)
{
    *vd = 0;
    if (n == 0) {
        *v = 0;
        return;
    }
    if (tau <= r[0].t) {
        *v = r[0].v;
        return;
    }
    if (tau >= r[n - 1].t) {
        *v = r[n - 1].v;
        return;
    }
    while (*cur + 2 < n && r[*cur + 1].t <= tau)
        (*cur)++;
    while (*cur > 0 && r[*cur].t > tau)
        (*cur)--;
    const rkey_t *a = &r[*cur], *b = &r[*cur + 1];
    double h = b->t - a->t, u = (tau - a->t) / h;
    double s5 = u * u * u * (10 - 15 * u + 6 * u * u);
    double d5 = 30 * u * u * (1 - u) * (1 - u);
    *v = a->v + (b->v - a->v) * s5;
    *vd = (b->v - a->v) * d5 / h;
}

/* Acceleration of a point at foot-frame offset (x, z) from a fixed pivot, planar pitch. */
static void pivot_acc(const pose_t *p, double x, double z, double *ax, double *az)
{
    double c = cos(p->th), s = sin(p->th);
    /* R(th)(x,z) = (x c + z s, -x s + z c); dR/dth = (-x s + z c, -x c - z s) */
    double rx = x * c + z * s, rz = -x * s + z * c;
    double dx = -x * s + z * c, dz = -x * c - z * s;
    *ax = p->al * dx - p->w * p->w * rx;
    *az = p->al * dz - p->w * p->w * rz;
}

static void eval_foot(stride_t *st, double tau, pose_t *p)
{
    memset(p, 0, sizeof *p);
    if (st->kind == ST_STILL)
        return;
    eval_pitch(st, tau, p);
    eval_angle(st->r, st->nr, &st->ri, tau, &p->ph, &p->phd);
    eval_angle(st->y, st->ny, &st->yi, tau, &p->ps, &p->psd);
    if (st->kind != ST_TERMINAL && tau >= st->tc && tau < st->T) {
        /* swing: heel trajectory plus rotation about the heel */
        double u = (tau - st->tc) / st->sw_h, h2 = st->sw_h * st->sw_h;
        double ts = tau - st->tc;
        const hkey_t *va = ts < st->vx[1].t ? &st->vx[0] : &st->vx[1], *vb = va + 1;
        double hh = vb->t - va->t, uu = (ts - va->t) / hh;
        double hax = ((6 * uu * uu - 6 * uu) * va->w + (3 * uu * uu - 4 * uu + 1) * hh * va->a +
                      (-6 * uu * uu + 6 * uu) * vb->w + (3 * uu * uu - 2 * uu) * hh * vb->a) /
                     hh;
        double haz =
            (2 * st->cz[2] + u * (6 * st->cz[3] + u * (12 * st->cz[4] + u * 20 * st->cz[5]))) / h2;
        double w1 = u * (1 - u);
        haz += st->clear * 64.0 * 6.0 * w1 * ((1 - 2 * u) * (1 - 2 * u) - w1) / h2;
        double ax, az;
        pivot_acc(p, SENSOR_X, SENSOR_Z, &ax, &az);
        p->ax = hax + ax;
        p->az = haz + az;
    } else if (tau < st->t_slap && st->kind != ST_FROM_REST) {
        pivot_acc(p, SENSOR_X, SENSOR_Z, &p->ax, &p->az);
    } else if (tau >= st->t_hr && tau < st->tc) {
        pivot_acc(p, SENSOR_X - FOOT_MTP_X, SENSOR_Z, &p->ax, &p->az);
        double h = st->tc - st->t_hr, u = (tau - st->t_hr) / h;
        p->ax += 12.0 * st->roll_d * u * u / (h * h);
    }
}

/* Adds the touch-down impacts in force at time t. */
static void add_impacts(const foot_t *f, double t, pose_t *p)
{
    for (int i = 0; i < 2; i++) {
        const impact_t *im = &f->imp[i];
        double tau = t - im->t;
        if (!im->on || tau < 0 || tau >= 0.25)
            continue;
        p->ax += im->dvx * exp(-tau / im->taux) / im->taux;
        double tz = tau - im->delay;
        if (tz < 0)
            continue;
        double x = tz / im->tau;
        double pulse = x * exp(-x) / im->tau; /* integrates to 1 */
        double ring = exp(-tz / im->ring_tau) * sin(2 * SIM_PI * im->ring_f * tz);
        p->az += im->dvz * pulse + im->ring_amp * ring;
        p->gy_ring += im->ring_gyr * ring;
    }
}

/* ---- public API ---- */

sim_t *sim_new(const sim_config_t *c)
{
    if (!c || !(c->rate_hz >= 1.0 && c->rate_hz <= 100000.0) || !(c->cadence_spm >= 40.0) ||
        c->cadence_spm > 260.0 || !(c->contact_s > 0.05) || c->contact_s > 1.5 ||
        !(c->speed_mps >= 0.0) || c->n_segments < 0 || c->n_segments > SIM_MAX_SEGMENTS ||
        !(c->stride_jitter >= 0.0) || c->stride_jitter > 0.2 || !(c->acc_noise >= 0.0) ||
        !(c->gyr_noise >= 0.0) || c->acc_range_g == 0 || c->gyr_range_dps == 0 ||
        !isfinite(c->fatigue_per_10min))
        return NULL;
    for (int f = 0; f < 2; f++) {
        if (!(c->contact_scale[f] > 0.2 && c->contact_scale[f] < 3.0) ||
            !(c->pushoff_scale[f] > 0.1 && c->pushoff_scale[f] < 3.0) ||
            !(c->impact_scale[f] >= 0.0 && c->impact_scale[f] < 10.0) ||
            !(c->pronation_deg[f] >= -30.0 && c->pronation_deg[f] <= 30.0) ||
            !isfinite(c->clock_offset_s[f]))
            return NULL;
        for (int k = 0; k < 3; k++)
            if (!isfinite(c->gyr_bias[f][k]))
                return NULL;
    }
    if (c->n_segments == 0 && !(c->duration_s > 0.0))
        return NULL;
    for (int i = 0; i < c->n_segments; i++) {
        const sim_segment_t *g = &c->segments[i];
        if (g->activity < SIM_STAND || g->activity > SIM_RUN || !(g->duration_s > 0.0) ||
            !(g->cadence_spm == 0.0 || (g->cadence_spm >= 40.0 && g->cadence_spm <= 260.0)) ||
            !(g->speed_mps >= 0.0))
            return NULL;
    }
    sim_t *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->c = *c;
    if (s->c.n_segments == 0) {
        s->c.n_segments = 1;
        s->c.segments[0] = (sim_segment_t){SIM_RUN, c->duration_s, 0, 0};
    }
    double acc = 0;
    for (int i = 0; i < s->c.n_segments; i++) {
        acc += s->c.segments[i].duration_s;
        s->seg_end[i] = acc;
    }
    s->total_s = acc;
    s->c.duration_s = acc;
    s->n_total = (uint64_t)llround(acc * s->c.rate_hz);
    uint64_t x = c->seed;
    for (int i = 0; i < 4; i++)
        s->rng[i] = splitmix64(&x);
    s->gen_state = GEN_IDLE;
    s->gen_t = -1e9;
    s->gen_foot = DSP_RIGHT; /* so that the left foot moves first */
    for (int f = 0; f < 2; f++) {
        s->f[f].cur.kind = ST_STILL;
        s->f[f].mirror = f == DSP_LEFT ? 1.0 : -1.0;
        s->f[f].th_ic_in = SHAPE_RUN.th_ic * SIM_DEG;
        s->f[f].a_ic_in = SHAPE_RUN.a_ic * SIM_DEG;
    }
    return s;
}

void sim_free(sim_t **s)
{
    if (s && *s) {
        free(*s);
        *s = NULL;
    }
}

static void push_truth(sim_t *s, int fi, const stride_t *st)
{
    sim_truth_t *tr;
    if (s->tqn == TRUTHQ) { /* the consumer is not popping: drop the oldest */
        s->tqh = (s->tqh + 1) % TRUTHQ;
        s->tqn--;
    }
    tr = &s->tq[(s->tqh + s->tqn) % TRUTHQ];
    tr->foot = fi;
    tr->activity = st->activity;
    tr->t_ic = st->t0 + st->d_ic;
    tr->t_to = st->t0 + st->tc;
    tr->t_next_ic = st->t_next + st->d_next;
    tr->stride_length_m = st->len;
    s->tqn++;
}

/* Advances foot fi's stride to the one in force at time t. */
static void foot_advance(sim_t *s, int fi, double t)
{
    foot_t *f = &s->f[fi];
    for (;;) {
        if (foot_fill(s, fi, 1) < 1)
            return;
        ev_t e = f->q[f->qh];
        if (t < e.t)
            return;
        f->qh = (f->qh + 1) % EVQ;
        f->qn--;
        if (f->cur.kind == ST_NORMAL)
            push_truth(s, fi, &f->cur);
        double next_t = INFINITY;
        if (e.kind != EV_TERMINAL) {
            if (foot_fill(s, fi, 1) < 1)
                e.kind = EV_TERMINAL; /* no next footfall: cannot happen with a sane plan */
            else
                next_t = f->q[f->qh].t;
        }
        build_stride(s, fi, &e, next_t);
    }
}

int sim_next(sim_t *s, dsp_sample_t out[2])
{
    if (s->n >= s->n_total)
        return 0;
    double t = (double)s->n / s->c.rate_hz;
    s->n++;
    for (int fi = 0; fi < 2; fi++) {
        foot_t *f = &s->f[fi];
        foot_advance(s, fi, t);
        pose_t p;
        eval_foot(&f->cur, t - f->cur.t0, &p);
        add_impacts(f, t, &p);
        double ph = p.ph * f->mirror, phd = p.phd * f->mirror;
        double psd = p.psd * f->mirror;
        double ct = cos(p.th), st = sin(p.th), cp = cos(ph), sp = sin(ph);
        /* specific force, heading frame -> foot frame: R_x(ph)^T R_y(th)^T (ax, 0, az + g) */
        double fx = p.ax, fz = p.az + SIM_G;
        double bx = ct * fx - st * fz, bz1 = st * fx + ct * fz;
        double by = sp * bz1, bz = cp * bz1;
        /* body rates for R = Rz(ps) Ry(th) Rx(ph) */
        double w = p.w + p.gy_ring;
        double gx = phd - st * psd;
        double gy = cp * w + sp * ct * psd;
        double gz = -sp * w + cp * ct * psd;
        dsp_sample_t *o = &out[fi];
        o->t = t;
        o->acc[0] = (float)(bx + s->c.acc_noise * rng_gauss(s));
        o->acc[1] = (float)(by + s->c.acc_noise * rng_gauss(s));
        o->acc[2] = (float)(bz + s->c.acc_noise * rng_gauss(s));
        o->gyr[0] = (float)(gx / SIM_DEG + s->c.gyr_bias[fi][0] + s->c.gyr_noise * rng_gauss(s));
        o->gyr[1] = (float)(gy / SIM_DEG + s->c.gyr_bias[fi][1] + s->c.gyr_noise * rng_gauss(s));
        o->gyr[2] = (float)(gz / SIM_DEG + s->c.gyr_bias[fi][2] + s->c.gyr_noise * rng_gauss(s));
        o->saturated = 0;
    }
    return 1;
}

int sim_pop_truth(sim_t *s, sim_truth_t *tr)
{
    if (s->tqn == 0)
        return 0;
    *tr = s->tq[s->tqh];
    s->tqh = (s->tqh + 1) % TRUTHQ;
    s->tqn--;
    return 1;
}
