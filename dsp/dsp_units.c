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
