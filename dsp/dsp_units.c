/* dsp_units.c - raw pod counts <-> SI units in the foot frame. */
#include <math.h>
#include <stddef.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#include "dsp.h"

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

#if defined(__SSE2__)
/* Sample by sample with SSE2 (baseline on x86-64): the six channels as three pairs of doubles,
 * each channel j computed as (float)((raw_j * lsb_j) * scale_j - bias_j), the gyroscope with
 * scale 1 and, without cal, the identity calibration (scale 1, bias 0). Multiplying by 1 and
 * subtracting +0 leave every double unchanged (-0 included) and every operation is a correctly
 * rounded IEEE one, as in the scalar form: bit-identical to dsp_raw_to_si. */
_Static_assert(offsetof(dsp_sample_t, gyr) == offsetof(dsp_sample_t, acc) + 3 * sizeof(float),
               "dsp_sample_t: acc and gyr are adjacent");

static void block_sse2(const int16_t (*raw)[6], unsigned n, double al, double gl,
                       const dsp_calib_t *c, dsp_sample_t *out)
{
    const __m128d l01 = _mm_set1_pd(al), l23 = _mm_set_pd(gl, al), l45 = _mm_set1_pd(gl);
    const __m128d s01 = _mm_set_pd(c->acc_scale[1], c->acc_scale[0]);
    const __m128d s23 = _mm_set_pd(1.0, c->acc_scale[2]), s45 = _mm_set1_pd(1.0);
    const __m128d b01 = _mm_set_pd(c->acc_bias[1], c->acc_bias[0]);
    const __m128d b23 = _mm_set_pd(c->gyr_bias[0], c->acc_bias[2]);
    const __m128d b45 = _mm_set_pd(c->gyr_bias[2], c->gyr_bias[1]);
    const __m128i rail_hi = _mm_set1_epi16(INT16_MAX), rail_lo = _mm_set1_epi16(INT16_MIN);
    for (unsigned i = 0; i < n; i++) {
        const int16_t *r = raw[i];
        int32_t r45;
        memcpy(&r45, r + 4, sizeof r45);
        const __m128i w03 = _mm_loadl_epi64((const __m128i *)(const void *)r); /* r0..r3, 0.. */
        const __m128i w45 = _mm_cvtsi32_si128(r45);                            /* r4, r5, 0.. */
        const __m128i x03 = _mm_srai_epi32(_mm_unpacklo_epi16(w03, w03), 16);
        const __m128i x45 = _mm_srai_epi32(_mm_unpacklo_epi16(w45, w45), 16);
        __m128d d01 = _mm_cvtepi32_pd(x03);
        __m128d d23 = _mm_cvtepi32_pd(_mm_shuffle_epi32(x03, _MM_SHUFFLE(3, 2, 3, 2)));
        __m128d d45 = _mm_cvtepi32_pd(x45);
        d01 = _mm_sub_pd(_mm_mul_pd(_mm_mul_pd(d01, l01), s01), b01);
        d23 = _mm_sub_pd(_mm_mul_pd(_mm_mul_pd(d23, l23), s23), b23);
        d45 = _mm_sub_pd(_mm_mul_pd(_mm_mul_pd(d45, l45), s45), b45);
        const __m128 f03 = _mm_movelh_ps(_mm_cvtpd_ps(d01), _mm_cvtpd_ps(d23));
        dsp_sample_t *o = &out[i];
        /* acc[0..2] and gyr[0..2] are six consecutive floats (asserted above) */
        char *ch = (char *)o + offsetof(dsp_sample_t, acc);
        _mm_storeu_ps((float *)(void *)ch, f03);
        _mm_storel_pi((__m64 *)(void *)(ch + 4 * sizeof(float)), _mm_cvtpd_ps(d45));
        /* rails: 16-bit compares; the zero lanes beyond the channels never match */
        const int m03 = _mm_movemask_epi8(
            _mm_or_si128(_mm_cmpeq_epi16(w03, rail_hi), _mm_cmpeq_epi16(w03, rail_lo)));
        const int m45 = _mm_movemask_epi8(
            _mm_or_si128(_mm_cmpeq_epi16(w45, rail_hi), _mm_cmpeq_epi16(w45, rail_lo)));
        const unsigned m = (unsigned)m03 | (unsigned)m45 << 8; /* 2 bits per channel */
        o->saturated = (uint8_t)((m & 0x3Fu) != 0) | (uint8_t)(((m & 0xFC0u) != 0) << 1);
    }
}
#endif

void dsp_raw_to_si_block(const int16_t (*raw)[6], unsigned n, unsigned acc_range_g,
                         unsigned gyr_range_dps, const dsp_calib_t *cal, dsp_sample_t *out)
{
    /* the arithmetic of dsp_raw_to_si, step for step in double (bit-identical results), with
     * the scale factors and the calibration hoisted out of the loop */
    const double al = (double)acc_range_g * DSP_G / 32768.0;
    const double gl = (double)gyr_range_dps / 32768.0;
    const dsp_calib_t c = cal ? *cal : dsp_calib_identity();
#if defined(__SSE2__)
    block_sse2(raw, n, al, gl, &c, out);
#else
    const double s0 = c.acc_scale[0], s1 = c.acc_scale[1], s2 = c.acc_scale[2];
    const double b0 = c.acc_bias[0], b1 = c.acc_bias[1], b2 = c.acc_bias[2];
    const double g0 = c.gyr_bias[0], g1 = c.gyr_bias[1], g2 = c.gyr_bias[2];
    for (unsigned i = 0; i < n; i++) {
        const int16_t *r = raw[i];
        dsp_sample_t *o = &out[i];
        if (cal) {
            o->acc[0] = (float)(r[0] * al * s0 - b0);
            o->acc[1] = (float)(r[1] * al * s1 - b1);
            o->acc[2] = (float)(r[2] * al * s2 - b2);
            o->gyr[0] = (float)(r[3] * gl - g0);
            o->gyr[1] = (float)(r[4] * gl - g1);
            o->gyr[2] = (float)(r[5] * gl - g2);
        } else {
            o->acc[0] = (float)(r[0] * al);
            o->acc[1] = (float)(r[1] * al);
            o->acc[2] = (float)(r[2] * al);
            o->gyr[0] = (float)(r[3] * gl);
            o->gyr[1] = (float)(r[4] * gl);
            o->gyr[2] = (float)(r[5] * gl);
        }
        unsigned sa = (unsigned)(at_rail(r[0]) | at_rail(r[1]) | at_rail(r[2]));
        unsigned sg = (unsigned)(at_rail(r[3]) | at_rail(r[4]) | at_rail(r[5]));
        o->saturated = (uint8_t)(sa | sg << 1);
    }
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
