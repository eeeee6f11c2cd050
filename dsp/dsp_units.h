/* dsp_units.h - raw pod counts to SI units for a whole sample frame, straight from the wire bytes
 * and with the samples' times: the readers' conversion (daemon/input.c). Internal to gaitd (not
 * part of dsp.h's API); the results are those of dsp_raw_to_si, bit for bit.
 *
 * Three implementations give identical bytes: scalar, SSE2 (x86-64 baseline) and AVX2 (four
 * samples per step), the last chosen at run time when the CPU has it (no -march). Each does the
 * same IEEE double operations per value: (double)raw * lsb, * scale, - bias, then to float; and
 * per time (base_us + i * step_us) * 1e-6. No fused multiply-add, no reassociation. */
#ifndef GAITD_DSP_UNITS_H
#define GAITD_DSP_UNITS_H
#include <stdint.h>
#include "dsp.h"

enum dsp_units_impl {
    DSP_UNITS_BEST = 0, /* the fastest this CPU runs */
    DSP_UNITS_SCALAR = 1,
    DSP_UNITS_SSE2 = 2,
    DSP_UNITS_AVX2 = 3,
};

/* Non-zero when implementation impl can run here (DSP_UNITS_BEST and SCALAR always). */
int dsp_units_available(int impl);

/* Converts n samples from raw: n x 6 int16 in little-endian byte order (acc x,y,z, gyr x,y,z,
 * the pod frame's wire form; any alignment) into out[0..n): acc, gyr and saturated exactly as
 * dsp_raw_to_si(values, acc_range_g, gyr_range_dps, cal, &out[i]) (cal may be NULL), and
 * out[i].t = (base_us + i * step_us) * 1e-6 in double. With impl not available here, the scalar
 * form is used. */
void dsp_units_frame(const uint8_t *raw, unsigned n, unsigned acc_range_g, unsigned gyr_range_dps,
                     const dsp_calib_t *cal, double base_us, double step_us, dsp_sample_t *out,
                     int impl);

#endif
