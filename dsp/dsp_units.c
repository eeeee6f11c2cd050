/* dsp_units.c - raw pod counts <-> SI units in the foot frame; whole frames for the readers
 * (dsp_units.h: scalar, SSE2 and, chosen at run time, AVX2, bit-identical). */
#include <math.h>
#include <stddef.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#endif
#include "dsp.h"
#include "dsp_units.h"

#define DSP_G 9.80665

dsp_calib_t dsp_calib_identity(void)
{
    dsp_calib_t c = {{0, 0, 0}, {1, 1, 1}, {0, 0, 0}};
    return c;
}

static int at_rail(int16_t v)
{
    return v == INT16_MAX || v == INT16_MIN;
}

void dsp_raw_to_si(const int16_t raw[6], unsigned acc_range_g, unsigned gyr_range_dps,
                   const dsp_calib_t *cal, dsp_sample_t *out)
{
    const double acc_lsb = (double)acc_range_g * DSP_G / 32768.0;
    const double gyr_lsb = (double)gyr_range_dps / 32768.0;
    uint8_t sat = 0;
    for (int k = 0; k < 3; k++) {
        double a = raw[k] * acc_lsb;
        double g = raw[3 + k] * gyr_lsb;
        if (cal) {
            a = a * cal->acc_scale[k] - cal->acc_bias[k];
            g = g - cal->gyr_bias[k];
        }
        out->acc[k] = (float)a;
        out->gyr[k] = (float)g;
        if (at_rail(raw[k]))
            sat |= 1;
        if (at_rail(raw[3 + k]))
            sat |= 2;
    }
    out->saturated = sat;
}

/* ---- whole frames (dsp_units.h; dsp_raw_to_si_block) ----
 * Every form computes channel j of a sample as (float)((raw_j * lsb_j) * scale_j - bias_j): the
 * gyroscope with scale 1 and, without cal, the identity calibration (scale 1, bias +0).
 * Multiplying by 1 and subtracting +0 leave every double unchanged (-0 included) and every
 * operation is a correctly rounded IEEE one, as in dsp_raw_to_si: bit-identical to it. Times are
 * (base_us + i * step_us) * 1e-6, the same three operations for every form. The rails are looked
 * for over the whole frame first (a frame on no rail, the usual case, stores saturated = 0); a
 * frame with one takes the per-sample rule of dsp_raw_to_si for its saturation bits. */
_Static_assert(offsetof(dsp_sample_t, gyr) == offsetof(dsp_sample_t, acc) + 3 * sizeof(float),
               "dsp_sample_t: acc and gyr are adjacent");

typedef struct units_k {
    double l[6], s[6], b[6]; /* per channel: lsb, scale, bias */
} units_k_t;

static void units_k_make(unsigned acc_range_g, unsigned gyr_range_dps, const dsp_calib_t *cal,
                         units_k_t *k)
{
    const double al = (double)acc_range_g * DSP_G / 32768.0;
    const double gl = (double)gyr_range_dps / 32768.0;
    const dsp_calib_t c = cal ? *cal : dsp_calib_identity();
    for (int j = 0; j < 3; j++) {
        k->l[j] = al;
        k->l[3 + j] = gl;
        k->s[j] = c.acc_scale[j];
        k->s[3 + j] = 1.0;
        k->b[j] = c.acc_bias[j];
        k->b[3 + j] = c.gyr_bias[j];
    }
}

/* Two's complement int16 from two little-endian bytes, without implementation-defined casts. */
static int16_t le16(const uint8_t *p)
{
    unsigned u = (unsigned)p[0] | (unsigned)p[1] << 8;
    return u < 0x8000u ? (int16_t)u : (int16_t)((int32_t)u - 0x10000);
}

/* dsp_raw_to_si's saturation bits for the sample at r (12 bytes). */
static uint8_t sat_of(const uint8_t *r)
{
    unsigned sa = 0, sg = 0;
    for (int j = 0; j < 3; j++) {
        sa |= (unsigned)at_rail(le16(r + 2 * j));
        sg |= (unsigned)at_rail(le16(r + 6 + 2 * j));
    }
    return (uint8_t)(sa | sg << 1);
}

/* Saturation of every sample: 0 unless the frame has a value on a rail (has_rail). */
static void set_sat(const uint8_t *raw, unsigned n, int has_rail, dsp_sample_t *out)
{
    if (!has_rail) {
        for (unsigned i = 0; i < n; i++)
            out[i].saturated = 0;
        return;
    }
    for (unsigned i = 0; i < n; i++)
        out[i].saturated = sat_of(raw + 12 * (size_t)i);
}

static int has_rail_scalar(const uint8_t *raw, size_t len)
{
    for (size_t i = 0; i + 1 < len; i += 2)
        if (at_rail(le16(raw + i)))
            return 1;
    return 0;
}

static void frame_scalar(const uint8_t *raw, unsigned n, const units_k_t *k, const double *tb,
                         dsp_sample_t *out)
{
    for (unsigned i = 0; i < n; i++) {
        const uint8_t *r = raw + 12 * (size_t)i;
        dsp_sample_t *o = &out[i];
        for (int j = 0; j < 3; j++) {
            o->acc[j] = (float)(le16(r + 2 * j) * k->l[j] * k->s[j] - k->b[j]);
            o->gyr[j] = (float)(le16(r + 6 + 2 * j) * k->l[3 + j] * k->s[3 + j] - k->b[3 + j]);
        }
        if (tb)
            o->t = (tb[0] + i * tb[1]) * 1e-6;
    }
    set_sat(raw, n, has_rail_scalar(raw, 12 * (size_t)n), out);
}

#if defined(__SSE2__)
/* SSE2 (baseline on x86-64), sample by sample: the six channels as three pairs of doubles. */
typedef struct sse2_k {
    __m128d l01, l23, l45, s01, s23, s45, b01, b23, b45;
} sse2_k_t;

static void sse2_k_make(const units_k_t *k, sse2_k_t *v)
{
    v->l01 = _mm_loadu_pd(k->l), v->l23 = _mm_loadu_pd(k->l + 2), v->l45 = _mm_loadu_pd(k->l + 4);
    v->s01 = _mm_loadu_pd(k->s), v->s23 = _mm_loadu_pd(k->s + 2), v->s45 = _mm_loadu_pd(k->s + 4);
    v->b01 = _mm_loadu_pd(k->b), v->b23 = _mm_loadu_pd(k->b + 2), v->b45 = _mm_loadu_pd(k->b + 4);
}

/* acc and gyr of the sample whose 12 bytes are at r */
static inline void sse2_one(const uint8_t *r, const sse2_k_t *k, dsp_sample_t *o)
{
    int32_t r45;
    memcpy(&r45, r + 8, sizeof r45);
    const __m128i w03 = _mm_loadl_epi64((const __m128i *)(const void *)r); /* r0..r3, 0.. */
    const __m128i w45 = _mm_cvtsi32_si128(r45);                            /* r4, r5, 0.. */
    const __m128i x03 = _mm_srai_epi32(_mm_unpacklo_epi16(w03, w03), 16);
    const __m128i x45 = _mm_srai_epi32(_mm_unpacklo_epi16(w45, w45), 16);
    __m128d d01 = _mm_cvtepi32_pd(x03);
    __m128d d23 = _mm_cvtepi32_pd(_mm_shuffle_epi32(x03, _MM_SHUFFLE(3, 2, 3, 2)));
    __m128d d45 = _mm_cvtepi32_pd(x45);
    d01 = _mm_sub_pd(_mm_mul_pd(_mm_mul_pd(d01, k->l01), k->s01), k->b01);
    d23 = _mm_sub_pd(_mm_mul_pd(_mm_mul_pd(d23, k->l23), k->s23), k->b23);
    d45 = _mm_sub_pd(_mm_mul_pd(_mm_mul_pd(d45, k->l45), k->s45), k->b45);
    const __m128 f03 = _mm_movelh_ps(_mm_cvtpd_ps(d01), _mm_cvtpd_ps(d23));
    /* acc[0..2] and gyr[0..2] are six consecutive floats (asserted above) */
    char *ch = (char *)o + offsetof(dsp_sample_t, acc);
    _mm_storeu_ps((float *)(void *)ch, f03);
    _mm_storel_pi((__m64 *)(void *)(ch + 4 * sizeof(float)), _mm_cvtpd_ps(d45));
}

/* Any of the len (even) bytes' int16 values on a rail. */
static int has_rail_sse2(const uint8_t *raw, size_t len)
{
    if (len < 16)
        return has_rail_scalar(raw, len);
    const __m128i hi = _mm_set1_epi16(INT16_MAX), lo = _mm_set1_epi16(INT16_MIN);
    __m128i m = _mm_setzero_si128();
    size_t i = 0;
    for (; i + 16 <= len; i += 16) {
        const __m128i x = _mm_loadu_si128((const __m128i *)(const void *)(raw + i));
        m = _mm_or_si128(m, _mm_or_si128(_mm_cmpeq_epi16(x, hi), _mm_cmpeq_epi16(x, lo)));
    }
    if (i < len) { /* the last 16 bytes again: len - 16 is even, so the lanes stay whole values */
        const __m128i x = _mm_loadu_si128((const __m128i *)(const void *)(raw + len - 16));
        m = _mm_or_si128(m, _mm_or_si128(_mm_cmpeq_epi16(x, hi), _mm_cmpeq_epi16(x, lo)));
    }
    return _mm_movemask_epi8(m) != 0;
}

static void frame_sse2(const uint8_t *raw, unsigned n, const units_k_t *k, const double *tb,
                       dsp_sample_t *out)
{
    sse2_k_t v;
    sse2_k_make(k, &v);
    if (tb) {
        const double base = tb[0], step = tb[1];
        for (unsigned i = 0; i < n; i++) {
            sse2_one(raw + 12 * (size_t)i, &v, &out[i]);
            out[i].t = (base + i * step) * 1e-6;
        }
    } else {
        for (unsigned i = 0; i < n; i++)
            sse2_one(raw + 12 * (size_t)i, &v, &out[i]);
    }
    set_sat(raw, n, has_rail_sse2(raw, 12 * (size_t)n), out);
}
#endif

#if defined(__x86_64__) && defined(__GNUC__)
#define UNITS_AVX2 1
/* AVX2, four samples (48 bytes, 24 channels) per step: three 16-byte loads widened to eight
 * int32 each, six quadruples of doubles whose channels follow the pattern A (acc acc acc gyr),
 * B (gyr gyr acc acc), C (acc gyr gyr gyr), A, B, C. Per lane the operations of the scalar form;
 * no FMA (target avx2 only, and ISO C does not contract). The times of the four samples as one
 * quadruple. The rest of a frame (n mod 4 samples) goes through sse2_one. */
__attribute__((target("avx2"))) static int has_rail_avx2(const uint8_t *raw, size_t len)
{
    if (len < 32)
        return has_rail_sse2(raw, len);
    const __m256i hi = _mm256_set1_epi16(INT16_MAX), lo = _mm256_set1_epi16(INT16_MIN);
    __m256i m = _mm256_setzero_si256();
    size_t i = 0;
    for (; i + 32 <= len; i += 32) {
        const __m256i x = _mm256_loadu_si256((const __m256i *)(const void *)(raw + i));
        m = _mm256_or_si256(m,
                            _mm256_or_si256(_mm256_cmpeq_epi16(x, hi), _mm256_cmpeq_epi16(x, lo)));
    }
    if (i < len) { /* the last 32 bytes again (len even: whole values) */
        const __m256i x = _mm256_loadu_si256((const __m256i *)(const void *)(raw + len - 32));
        m = _mm256_or_si256(m,
                            _mm256_or_si256(_mm256_cmpeq_epi16(x, hi), _mm256_cmpeq_epi16(x, lo)));
    }
    return _mm256_movemask_epi8(m) != 0;
}

/* ((double)x * l) * s - b per lane; with ident (every s 1, every b +0: the multiplication and
 * the subtraction would leave each value as it is) only (double)x * l */
__attribute__((target("avx2"), always_inline)) static inline __m256d
avx2_conv(__m128i x32, __m256d l, __m256d s, __m256d b, const int ident)
{
    const __m256d x = _mm256_mul_pd(_mm256_cvtepi32_pd(x32), l);
    return ident ? x : _mm256_sub_pd(_mm256_mul_pd(x, s), b);
}

__attribute__((target("avx2"), always_inline)) static inline void
avx2_body(const uint8_t *raw, unsigned n, const units_k_t *k, const double *tb, dsp_sample_t *out,
          const int ident)
{
    /* lanes of the patterns A = channels 0 1 2 3, B = 4 5 0 1, C = 2 3 4 5 */
    const __m256d lA = _mm256_setr_pd(k->l[0], k->l[1], k->l[2], k->l[3]);
    const __m256d lB = _mm256_setr_pd(k->l[4], k->l[5], k->l[0], k->l[1]);
    const __m256d lC = _mm256_setr_pd(k->l[2], k->l[3], k->l[4], k->l[5]);
    const __m256d sA = _mm256_setr_pd(k->s[0], k->s[1], k->s[2], k->s[3]);
    const __m256d sB = _mm256_setr_pd(k->s[4], k->s[5], k->s[0], k->s[1]);
    const __m256d sC = _mm256_setr_pd(k->s[2], k->s[3], k->s[4], k->s[5]);
    const __m256d bA = _mm256_setr_pd(k->b[0], k->b[1], k->b[2], k->b[3]);
    const __m256d bB = _mm256_setr_pd(k->b[4], k->b[5], k->b[0], k->b[1]);
    const __m256d bC = _mm256_setr_pd(k->b[2], k->b[3], k->b[4], k->b[5]);
    const __m256d c6 = _mm256_set1_pd(1e-6), four = _mm256_set1_pd(4.0);
    const __m256d base = _mm256_set1_pd(tb ? tb[0] : 0.0), step = _mm256_set1_pd(tb ? tb[1] : 0.0);
    __m256d di = _mm256_setr_pd(0.0, 1.0, 2.0, 3.0); /* i exactly (n < 2^53) */
    const size_t ACC = offsetof(dsp_sample_t, acc);
    const int rail = has_rail_avx2(raw, 12 * (size_t)n);
    const uint8_t *r = raw;
    dsp_sample_t *o = out;
    unsigned i = 0;
    for (; i + 4 <= n; i += 4, r += 48, o += 4) {
        char *o0 = (char *)o, *o1 = (char *)(o + 1), *o2 = (char *)(o + 2), *o3 = (char *)(o + 3);
        const __m256i e0 = _mm256_cvtepi16_epi32(_mm_loadu_si128((const __m128i *)(const void *)r));
        const __m256i e1 =
            _mm256_cvtepi16_epi32(_mm_loadu_si128((const __m128i *)(const void *)(r + 16)));
        const __m256i e2 =
            _mm256_cvtepi16_epi32(_mm_loadu_si128((const __m128i *)(const void *)(r + 32)));
        const __m128 f0 = _mm256_cvtpd_ps(avx2_conv(_mm256_castsi256_si128(e0), lA, sA, bA, ident));
        const __m128 f1 =
            _mm256_cvtpd_ps(avx2_conv(_mm256_extracti128_si256(e0, 1), lB, sB, bB, ident));
        const __m128 f2 = _mm256_cvtpd_ps(avx2_conv(_mm256_castsi256_si128(e1), lC, sC, bC, ident));
        const __m128 f3 =
            _mm256_cvtpd_ps(avx2_conv(_mm256_extracti128_si256(e1, 1), lA, sA, bA, ident));
        const __m128 f4 = _mm256_cvtpd_ps(avx2_conv(_mm256_castsi256_si128(e2), lB, sB, bB, ident));
        const __m128 f5 =
            _mm256_cvtpd_ps(avx2_conv(_mm256_extracti128_si256(e2, 1), lC, sC, bC, ident));
        _mm_storeu_ps((float *)(void *)(o0 + ACC), f0);      /* s0 ch 0-3 */
        _mm_storel_pi((__m64 *)(void *)(o0 + ACC + 16), f1); /* s0 ch 4-5 */
        _mm_storeh_pi((__m64 *)(void *)(o1 + ACC), f1);      /* s1 ch 0-1 */
        _mm_storeu_ps((float *)(void *)(o1 + ACC + 8), f2);  /* s1 ch 2-5 */
        _mm_storeu_ps((float *)(void *)(o2 + ACC), f3);      /* s2 ch 0-3 */
        _mm_storel_pi((__m64 *)(void *)(o2 + ACC + 16), f4); /* s2 ch 4-5 */
        _mm_storeh_pi((__m64 *)(void *)(o3 + ACC), f4);      /* s3 ch 0-1 */
        _mm_storeu_ps((float *)(void *)(o3 + ACC + 8), f5);  /* s3 ch 2-5 */
        o[0].saturated = o[1].saturated = o[2].saturated = o[3].saturated = 0;
        if (tb) {
            const __m256d t = _mm256_mul_pd(_mm256_add_pd(base, _mm256_mul_pd(di, step)), c6);
            const __m128d t01 = _mm256_castpd256_pd128(t), t23 = _mm256_extractf128_pd(t, 1);
            _mm_storel_pd(&o[0].t, t01);
            _mm_storeh_pd(&o[1].t, t01);
            _mm_storel_pd(&o[2].t, t23);
            _mm_storeh_pd(&o[3].t, t23);
            di = _mm256_add_pd(di, four);
        }
    }
    if (i < n) {
        sse2_k_t v;
        sse2_k_make(k, &v);
        for (; i < n; i++) {
            sse2_one(raw + 12 * (size_t)i, &v, &out[i]);
            out[i].saturated = 0;
            if (tb)
                out[i].t = (tb[0] + i * tb[1]) * 1e-6;
        }
    }
    if (rail)
        set_sat(raw, n, 1, out);
}

/* the calibration is the identity: scales 1 and biases +0 (not -0: x - -0 turns -0 into +0) */
static int units_ident(const units_k_t *k)
{
    for (int j = 0; j < 6; j++)
        if (k->s[j] != 1.0 || k->b[j] != 0.0 || signbit(k->b[j]))
            return 0;
    return 1;
}

__attribute__((target("avx2"))) static void
frame_avx2(const uint8_t *raw, unsigned n, const units_k_t *k, const double *tb, dsp_sample_t *out)
{
    if (tb && units_ident(k))
        avx2_body(raw, n, k, tb, out, 1);
    else if (tb)
        avx2_body(raw, n, k, tb, out, 0);
    else
        avx2_body(raw, n, k, NULL, out, 0);
}

static int have_avx2(void)
{
    return __builtin_cpu_supports("avx2");
}
#endif

int dsp_units_available(int impl)
{
    switch (impl) {
    case DSP_UNITS_BEST:
    case DSP_UNITS_SCALAR:
        return 1;
#if defined(__SSE2__)
    case DSP_UNITS_SSE2:
        return 1;
#endif
#ifdef UNITS_AVX2
    case DSP_UNITS_AVX2:
        return have_avx2();
#endif
    default:
        return 0;
    }
}

/* tb: NULL (times untouched) or {base_us, step_us} */
static void units_run(const uint8_t *raw, unsigned n, const units_k_t *k, const double *tb,
                      dsp_sample_t *out, int impl)
{
#ifdef UNITS_AVX2
    if ((impl == DSP_UNITS_BEST || impl == DSP_UNITS_AVX2) && have_avx2()) {
        frame_avx2(raw, n, k, tb, out);
        return;
    }
#endif
#if defined(__SSE2__)
    if (impl != DSP_UNITS_SCALAR) {
        frame_sse2(raw, n, k, tb, out);
        return;
    }
#endif
    (void)impl;
    frame_scalar(raw, n, k, tb, out);
}

void dsp_units_frame(const uint8_t *raw, unsigned n, unsigned acc_range_g, unsigned gyr_range_dps,
                     const dsp_calib_t *cal, double base_us, double step_us, dsp_sample_t *out,
                     int impl)
{
    units_k_t k;
    units_k_make(acc_range_g, gyr_range_dps, cal, &k);
    const double tb[2] = {base_us, step_us};
    units_run(raw, n, &k, tb, out, impl);
}

void dsp_raw_to_si_block(const int16_t (*raw)[6], unsigned n, unsigned acc_range_g,
                         unsigned gyr_range_dps, const dsp_calib_t *cal, dsp_sample_t *out)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    /* int16_t is two's complement: on a little-endian host the array's bytes are the wire form */
    units_k_t k;
    units_k_make(acc_range_g, gyr_range_dps, cal, &k);
    units_run((const uint8_t *)raw, n, &k, NULL, out, DSP_UNITS_BEST);
#else
    for (unsigned i = 0; i < n; i++)
        dsp_raw_to_si(raw[i], acc_range_g, gyr_range_dps, cal, &out[i]);
#endif
}

static int16_t quantise(double v, double lsb)
{
    if (!isfinite(v))
        return 0;
    double c = nearbyint(v / lsb);
    if (c >= INT16_MAX)
        return INT16_MAX;
    if (c <= INT16_MIN)
        return INT16_MIN;
    return (int16_t)c;
}

void dsp_si_to_raw(const dsp_sample_t *s, unsigned acc_range_g, unsigned gyr_range_dps,
                   const dsp_calib_t *cal, int16_t raw[6])
{
    const double acc_lsb = (double)acc_range_g * DSP_G / 32768.0;
    const double gyr_lsb = (double)gyr_range_dps / 32768.0;
    for (int k = 0; k < 3; k++) {
        double a = s->acc[k];
        double g = s->gyr[k];
        if (cal) {
            a = (a + cal->acc_bias[k]) / (cal->acc_scale[k] != 0.0f ? cal->acc_scale[k] : 1.0f);
            g = g + cal->gyr_bias[k];
        }
        raw[k] = quantise(a, acc_lsb);
        raw[3 + k] = quantise(g, gyr_lsb);
    }
}

double dsp_symmetry_index(double l, double r)
{
    if (isnan(l) || isnan(r))
        return NAN;
    double m = 0.5 * (l + r);
    if (m == 0.0)
        return NAN;
    return 100.0 * (l - r) / m;
}
