/* dsp_units.c - raw pod counts <-> SI units in the foot frame. */
#include <math.h>
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

void dsp_raw_to_si_block(const int16_t (*raw)[6], unsigned n, unsigned acc_range_g,
                         unsigned gyr_range_dps, const dsp_calib_t *cal, dsp_sample_t *out)
{
    /* the arithmetic of dsp_raw_to_si, step for step in double (bit-identical results), with
     * the scale factors and the calibration hoisted out of the loop and the axes unrolled */
    const double al = (double)acc_range_g * DSP_G / 32768.0;
    const double gl = (double)gyr_range_dps / 32768.0;
    const dsp_calib_t c = cal ? *cal : dsp_calib_identity();
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
