/* dsp_traj.c - strapdown integration of one stride between two still points, with ZUPT. */
#include <math.h>
#include "dsp_traj.h"
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#define G0 9.80665
#define D2R (M_PI / 180.0)

unsigned dsp_traj_block(double rate)
{
    double d = floor(rate / DSP_TRAJ_RATE_HZ + 0.5);
    return d >= 1.0 ? (unsigned)d : 1u;
}

/* q = a (x) b, quaternions (w, x, y, z) */
static inline void qmul(const double a[4], const double b[4], double q[4])
{
    q[0] = a[0] * b[0] - a[1] * b[1] - a[2] * b[2] - a[3] * b[3];
    q[1] = a[0] * b[1] + a[1] * b[0] + a[2] * b[3] - a[3] * b[2];
    q[2] = a[0] * b[2] - a[1] * b[3] + a[2] * b[0] + a[3] * b[1];
    q[3] = a[0] * b[3] + a[1] * b[2] - a[2] * b[1] + a[3] * b[0];
}

/* o = q v q* / |q|^2 for any non-zero q = (w, u): ((w^2 - u.u) v + 2 (u.v) u + 2 w (u x v)) /
 * |q|^2, the rotation of the unit quaternion q / |q| (no normalisation needed) */
static inline void qrot_n(const double q[4], const double v[3], double o[3])
{
    const double w = q[0], x = q[1], y = q[2], z = q[3];
    const double uu = x * x + y * y + z * z, in2 = 1.0 / (w * w + uu);
    const double a = (w * w - uu) * in2, b = 2.0 * (x * v[0] + y * v[1] + z * v[2]) * in2,
                 c = 2.0 * w * in2;
    o[0] = a * v[0] + b * x + c * (y * v[2] - z * v[1]);
    o[1] = a * v[1] + b * y + c * (z * v[0] - x * v[2]);
    o[2] = a * v[2] + b * z + c * (x * v[1] - y * v[0]);
}

/* Quaternion of the rotation vector 2a (rad): (cos|a|, sin|a| / |a| * a). A series in |a|^2 up to
 * |a| = 0.5 rad (a rotation of 1 rad per half block, 5700 deg/s at 100 Hz blocks: truncation
 * < 3e-10), libm beyond. Exact for any axis (no small-angle approximation). */
static inline void qexp(const double a[3], double q[4])
{
    double x2 = a[0] * a[0] + a[1] * a[1] + a[2] * a[2], c, s;
    if (x2 <= 0.25) {
        c = 1.0 + x2 * (-1.0 / 2 + x2 * (1.0 / 24 + x2 * (-1.0 / 720 + x2 * (1.0 / 40320))));
        s = 1.0 + x2 * (-1.0 / 6 + x2 * (1.0 / 120 + x2 * (-1.0 / 5040 + x2 * (1.0 / 362880))));
    } else {
        double x = sqrt(x2);
        c = cos(x);
        s = sin(x) / x;
    }
    q[0] = c;
    q[1] = s * a[0];
    q[2] = s * a[1];
    q[3] = s * a[2];
}

/* Heading (deg) of the body x axis in the level frame: atan2 of its y and x components (any
 * non-zero q: the scale cancels). */
static double heading(const double q[4])
{
    double xx = 1.0 - 2.0 * (q[2] * q[2] + q[3] * q[3]);
    double xy = 2.0 * (q[1] * q[2] + q[0] * q[3]);
    return atan2(xy, xx) / D2R;
}

#ifdef __SSE2__
/* q = a (x) b on (w, x, y, z) lanes: aw b + ax (-bx, bw, -bz, by) + ay (-by, bz, bw, -bx)
 * + az (-bz, -by, bx, bw) */
static inline __m128 qmul_ps(__m128 a, __m128 b)
{
    const __m128 s1 = _mm_castsi128_ps(_mm_set_epi32(0, (int)0x80000000, 0, (int)0x80000000));
    const __m128 s2 = _mm_castsi128_ps(_mm_set_epi32((int)0x80000000, 0, 0, (int)0x80000000));
    const __m128 s3 = _mm_castsi128_ps(_mm_set_epi32(0, 0, (int)0x80000000, (int)0x80000000));
    const __m128 b1 = _mm_xor_ps(_mm_shuffle_ps(b, b, _MM_SHUFFLE(2, 3, 0, 1)), s1);
    const __m128 b2 = _mm_xor_ps(_mm_shuffle_ps(b, b, _MM_SHUFFLE(1, 0, 3, 2)), s2);
    const __m128 b3 = _mm_xor_ps(_mm_shuffle_ps(b, b, _MM_SHUFFLE(0, 1, 2, 3)), s3);
    __m128 r = _mm_mul_ps(_mm_shuffle_ps(a, a, 0x00), b);
    r = _mm_add_ps(r, _mm_mul_ps(_mm_shuffle_ps(a, a, 0x55), b1));
    r = _mm_add_ps(r, _mm_mul_ps(_mm_shuffle_ps(a, a, 0xAA), b2));
    return _mm_add_ps(r, _mm_mul_ps(_mm_shuffle_ps(a, a, 0xFF), b3));
}

/* a x b in lanes 1..3 (x, y, z) of (w, x, y, z) registers; lane 0: a0 b0 - a0 b0 */
static inline __m128 cross_ps(__m128 a, __m128 b)
{
    const __m128 a1 = _mm_shuffle_ps(a, a, _MM_SHUFFLE(1, 3, 2, 0)); /* (w, y, z, x) */
    const __m128 b2 = _mm_shuffle_ps(b, b, _MM_SHUFFLE(2, 1, 3, 0)); /* (w, z, x, y) */
    const __m128 a2 = _mm_shuffle_ps(a, a, _MM_SHUFFLE(2, 1, 3, 0));
    const __m128 b1 = _mm_shuffle_ps(b, b, _MM_SHUFFLE(1, 3, 2, 0));
    return _mm_sub_ps(_mm_mul_ps(a1, b2), _mm_mul_ps(a2, b1));
}

/* the sum of the four lanes, in every lane */
static inline __m128 hsum(__m128 x)
{
    x = _mm_add_ps(x, _mm_shuffle_ps(x, x, _MM_SHUFFLE(1, 0, 3, 2)));
    return _mm_add_ps(x, _mm_shuffle_ps(x, x, _MM_SHUFFLE(2, 3, 0, 1)));
}


/* the integration state of dsp_traj_run's SSE2 path */
typedef struct traj_state {
    __m128 qv, vv, pv;           /* orientation (w, x, y, z), velocity and position (., x, y, z) */
    double tau;                  /* time integrated so far, s */
    size_t nb;                   /* blocks so far */
    double *zb, *tb;             /* height and time after each block (the first
                                  * DSP_TRAJ_MAX_BLOCKS) */
} traj_state_t;

/* One block of m samples from ring slot *slot on: the block's sums, its rotation and its specific
 * force integrated (hv, hh, iv: the block's duration, half of it, 1 / m, in every lane; h its
 * duration in double). */
static inline __attribute__((always_inline)) void
traj_block(traj_state_t *st, const dsp_ev_sample_t *r, size_t cap, size_t *slot, unsigned m,
           __m128 kq, __m128 hv, __m128 hh, __m128 iv, double h)
{
    const __m128 m_lane0 = _mm_castsi128_ps(_mm_set_epi32(-1, -1, -1, 0));
    const __m128 grav = _mm_set_ps((float)G0, 0.0f, 0.0f, 0.0f);
    /* the series' coefficients, cos in lane 0 and sin(x)/x in lane 1 (the same float constants
     * and operations per lane as the scalar series) */
    const __m128 k1 = _mm_set_ps(0.0f, 0.0f, -1.0f / 6, -1.0f / 2);
    const __m128 k2 = _mm_set_ps(0.0f, 0.0f, 1.0f / 120, 1.0f / 24);
    const __m128 k3 = _mm_set_ps(0.0f, 0.0f, -1.0f / 5040, -1.0f / 720);
    const __m128 k4 = _mm_set_ps(0.0f, 0.0f, 1.0f / 362880, 1.0f / 40320);
    const __m128 one = _mm_set1_ps(1.0f);
    /* block sums of the samples 1.. of the block (each sample stands for the interval ending at
     * it), over the ring's contiguous runs: acc[0..2] gyr[0] and acc[2] gyr[0..2] of every sample
     * (both inside the 32-byte entry) */
    __m128 lo = _mm_setzero_ps(), hi = _mm_setzero_ps();
    size_t s = *slot;
    if (cap - s > m) { /* no wrap inside (the usual case) */
        const dsp_ev_sample_t *e = &r[s], *stop = e + m;
#pragma GCC unroll 4
        for (; e != stop; e++) {
            lo = _mm_add_ps(lo, _mm_loadu_ps(&e->acc[0]));
            hi = _mm_add_ps(hi, _mm_loadu_ps(&e->acc[2]));
        }
        s += m;
    } else {
        unsigned todo = m;
        while (todo) {
            size_t run = cap - s < todo ? cap - s : todo;
            const dsp_ev_sample_t *e = &r[s], *stop = e + run;
            for (; e != stop; e++) {
                lo = _mm_add_ps(lo, _mm_loadu_ps(&e->acc[0]));
                hi = _mm_add_ps(hi, _mm_loadu_ps(&e->acc[2]));
            }
            s += run;
            if (s == cap)
                s = 0;
            todo -= (unsigned)run;
        }
    }
    *slot = s;
    /* a = half the block's rotation vector (0, x, y, z); dq = (cos|a|, sin|a| a / |a|), the
     * series in |a|^2 (|a|^2 in every lane) */
    const __m128 a = _mm_mul_ps(_mm_and_ps(hi, m_lane0), kq);
    const __m128 x2v = hsum(_mm_mul_ps(a, a));
    const float x2 = _mm_cvtss_f32(x2v);
    __m128 cs;
    if (x2 <= 0.25f) {
        cs = _mm_add_ps(_mm_mul_ps(x2v, k4), k3);
        cs = _mm_add_ps(_mm_mul_ps(x2v, cs), k2);
        cs = _mm_add_ps(_mm_mul_ps(x2v, cs), k1);
        cs = _mm_add_ps(_mm_mul_ps(x2v, cs), one);
    } else {
        float x = sqrtf(x2);
        cs = _mm_set_ps(0.0f, 0.0f, sinf(x) / x, cosf(x));
    }
    const __m128 qv = st->qv, vv = st->vv;
    const __m128 dq = _mm_move_ss(_mm_mul_ps(_mm_shuffle_ps(cs, cs, 0x55), a), cs);
    const __m128 q1 = qmul_ps(qv, dq);
    /* the block's mean specific force (0, x, y, z), rotated with the orientation at the block's
     * middle: qs = (q0 + q1) / |q0 + q1|, the slerp midpoint */
    const __m128 f = _mm_mul_ps(_mm_castsi128_ps(_mm_slli_si128(_mm_castps_si128(lo), 4)), iv);
    __m128 qs = _mm_add_ps(qv, q1);
    qs = _mm_div_ps(qs, _mm_sqrt_ps(hsum(_mm_mul_ps(qs, qs))));
    /* f' = f + 2 w (u x f) + 2 u x (u x f), u = (0, x, y, z) of qs (lane 0 of the cross products
     * is 0: w f0 - w f0 with f0 = 0) */
    const __m128 u2 = _mm_add_ps(qs, qs);
    const __m128 t = cross_ps(qs, f);
    __m128 fl = _mm_add_ps(f, _mm_mul_ps(_mm_shuffle_ps(u2, u2, 0x00), t));
    fl = _mm_add_ps(fl, cross_ps(u2, t));
    fl = _mm_sub_ps(_mm_and_ps(fl, m_lane0), grav);
    st->qv = q1;
    const __m128 vn = _mm_add_ps(vv, _mm_mul_ps(fl, hv));
    st->pv = _mm_add_ps(st->pv, _mm_mul_ps(_mm_add_ps(vv, vn), hh));
    st->vv = vn;
    st->tau += h;
    if (st->nb < DSP_TRAJ_MAX_BLOCKS) {
        st->zb[st->nb] = _mm_cvtss_f32(_mm_shuffle_ps(st->pv, st->pv, 0xFF));
        st->tb[st->nb] = st->tau;
    }
    st->nb++;
}
#endif

int dsp_traj_run(const dsp_ev_sample_t *r, size_t cap, size_t s0, size_t n, const double f0[3],
                 double rate, unsigned d, dsp_traj_t *out)
{
    out->length_m = out->turn_deg = out->clearance_m = out->v_res_mps = out->span_s = NAN;
    double fn = sqrt(f0[0] * f0[0] + f0[1] * f0[1] + f0[2] * f0[2]);
    if (n < 2 || d == 0 || !(rate > 0.0) || !(fn > 0.0) || s0 >= cap)
        return -1;
    /* level frame from gravity: the smallest rotation taking f0 to +z (yaw 0) */
    double fx = f0[0] / fn, fy = f0[1] / fn, fz = f0[2] / fn;
    if (!(1.0 + fz > 1e-6))
        return -1; /* upside down: no unique smallest rotation */
    double q[4] = {1.0 + fz, fy, -fx, 0.0};
    double qn = sqrt(q[0] * q[0] + q[1] * q[1] + q[2] * q[2]);
    for (int i = 0; i < 4; i++)
        q[i] /= qn;
    const double h0 = heading(q), dt = 1.0 / rate;
    /* q keeps |q| = 1 up to rounding (a product of unit quaternions, ~1e-16 per block): the
     * rotations (qrot_n) and the heading do not depend on its scale */
    double v[3] = {0, 0, 0}, p[3] = {0, 0, 0}, tau = 0.0;
    double zb[DSP_TRAJ_MAX_BLOCKS], tb[DSP_TRAJ_MAX_BLOCKS];
    size_t nb = 0, left = n - 1, slot = s0 + 1 == cap ? 0 : s0 + 1;
#ifdef __SSE2__
    /* SSE2, single precision: q = (w, x, y, z) in the lanes of one register, velocity and
     * position as (., x, y, z). Rounding: ~1e-7 relative per block, far below the method's
     * error over a stride's ~50 blocks (1e-6 rad, 0.1 mm; test_dsp_traj.c) */
    const __m128 kq = _mm_set1_ps((float)(0.5 * D2R * dt)); /* deg/s sum -> half angle, rad */
    __m128 qv = _mm_set_ps((float)q[3], (float)q[2], (float)q[1], (float)q[0]);
    traj_state_t st = {qv, _mm_setzero_ps(), _mm_setzero_ps(), 0.0, 0, zb, tb};
    /* full blocks of d samples (the per-block constants hoisted), then at most one shorter
     * last block */
    const size_t nfull = left / d;
    const unsigned mlast = (unsigned)(left % d);
    {
        const __m128 hv = _mm_set1_ps((float)(d * dt)), hh = _mm_set1_ps((float)(0.5 * d * dt)),
                     iv = _mm_set1_ps(1.0f / (float)d);
        const double h = d * dt;
        for (size_t blk = 0; blk < nfull; blk++)
            traj_block(&st, r, cap, &slot, d, kq, hv, hh, iv, h);
    }
    if (mlast) {
        const __m128 hv = _mm_set1_ps((float)(mlast * dt)),
                     hh = _mm_set1_ps((float)(0.5 * mlast * dt)),
                     iv = _mm_set1_ps(1.0f / (float)mlast);
        traj_block(&st, r, cap, &slot, mlast, kq, hv, hh, iv, mlast * dt);
    }
    const __m128 vv = st.vv, pv = st.pv;
    qv = st.qv;
    tau = st.tau;
    nb = st.nb;
    float q4[4], v4[4], p4[4];
    _mm_storeu_ps(q4, qv);
    _mm_storeu_ps(v4, vv);
    _mm_storeu_ps(p4, pv);
    for (int i = 0; i < 4; i++)
        q[i] = q4[i];
    for (int i = 0; i < 3; i++) {
        v[i] = v4[i + 1];
        p[i] = p4[i + 1];
    }
#else
    const double kq = 0.5 * D2R * dt; /* sum of deg/s over a block -> half its angle, rad */
    while (left) {
        const unsigned m = left < d ? (unsigned)left : d;
        float gs0 = 0, gs1 = 0, gs2 = 0, as0 = 0, as1 = 0, as2 = 0;
        unsigned todo = m;
        while (todo) {
            size_t run = cap - slot < todo ? cap - slot : todo;
            const dsp_ev_sample_t *e = &r[slot], *stop = e + run;
            for (; e != stop; e++) {
                as0 += e->acc[0], as1 += e->acc[1], as2 += e->acc[2];
                gs0 += e->gyr[0], gs1 += e->gyr[1], gs2 += e->gyr[2];
            }
            slot += run;
            if (slot == cap)
                slot = 0;
            todo -= (unsigned)run;
        }
        left -= m;
        const double h = m * dt, im = 1.0 / m;
        /* the block's rotation, exact for its mean rate; the specific force is rotated with the
         * orientation at the block's middle: the slerp midpoint of the orientations before and
         * after, (q0 + q1) / |q0 + q1| (qrot_n normalises) */
        const double a[3] = {gs0 * kq, gs1 * kq, gs2 * kq};
        double dq[4], q1[4], qs[4], f[3], fl[3];
        qexp(a, dq);
        qmul(q, dq, q1);
        for (int i = 0; i < 4; i++) {
            qs[i] = q[i] + q1[i];
            q[i] = q1[i];
        }
        f[0] = as0 * im;
        f[1] = as1 * im;
        f[2] = as2 * im;
        qrot_n(qs, f, fl);
        fl[2] -= G0;
        for (int i = 0; i < 3; i++) {
            double vn = v[i] + fl[i] * h;
            p[i] += 0.5 * (v[i] + vn) * h;
            v[i] = vn;
        }
        tau += h;
        if (nb < DSP_TRAJ_MAX_BLOCKS) {
            zb[nb] = p[2];
            tb[nb] = tau;
        }
        nb++;
    }
#endif
    /* ZUPT: the velocity at the end (true value 0) is removed linearly over the span; with the
     * trapezoid rule the position correction is exactly v_end * tau^2 / (2 span) */
    const double span = tau;
    double px = p[0] - 0.5 * v[0] * span, py = p[1] - 0.5 * v[1] * span;
    out->span_s = span;
    out->v_res_mps = sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2]);
    out->length_m = sqrt(px * px + py * py);
    double turn = heading(q) - h0;
    if (turn > 180.0)
        turn -= 360.0;
    else if (turn <= -180.0)
        turn += 360.0;
    out->turn_deg = turn;
    if (nb <= DSP_TRAJ_MAX_BLOCKS) {
        double zmax = 0.0, kz = 0.5 * v[2] / span;
        for (size_t i = 0; i < nb; i++) {
            double z = zb[i] - kz * tb[i] * tb[i];
            if (z > zmax)
                zmax = z;
        }
        out->clearance_m = zmax;
    }
    return 0;
}
