/* dsp_spectrum.h - internal: stride fundamental of one signal from its spectrum (libgaitdsp).
 * Hann window, zero-padded real FFT (FFTW single precision, one plan made at init), peak in a band,
 * harmonic check (a strong sub-harmonic peak wins: the fundamental, not the 2nd or 3rd harmonic,
 * is the stride frequency), Gaussian (log-parabolic) sub-bin interpolation. METRICS.md.
 */
#ifndef GAITD_DSP_SPECTRUM_H
#define GAITD_DSP_SPECTRUM_H
#include <stddef.h>

typedef struct dsp_spec {
    size_t max_len;              /* longest input accepted */
    size_t nfft;                 /* FFT size (power of two >= 4 * max_len) */
    float *in;                   /* nfft reals (fftwf_malloc) */
    void *out;                   /* nfft/2+1 fftwf_complex */
    float *pow;                  /* nfft/2+1 power values, valid below pow_n after a call */
    size_t pow_n;
    float *win;                  /* max_len: Hann window of length win_n (recomputed on change) */
    size_t win_n;
    size_t zero_from;            /* in[zero_from..nfft) is zero */
    void *plan;                  /* fftwf_plan, made once */
} dsp_spec_t;

/* Allocates buffers and makes the FFTW plan for inputs of up to max_len samples. FFTW's planner is
 * not thread-safe: do not call concurrently with other FFTW planning. Returns 0 or -1 (OOM). */
int dsp_spec_init(dsp_spec_t *sp, size_t max_len);
/* Releases what dsp_spec_init made; safe on a zeroed struct. */
void dsp_spec_release(dsp_spec_t *sp);

/* Estimates the fundamental (Hz) of x[0..n) sampled at fs Hz within [fmin, fmax].
 * Never allocates. Returns the frequency, or NAN when there is no clear periodic component (n too
 * short, rms below min_rms, or no local spectral peak in the band). *strength (may be NULL)
 * receives the fraction of the band's power within the fundamental's main lobe and harmonics. */
double dsp_spec_fundamental(dsp_spec_t *sp, const float *x, size_t n, double fs, double fmin,
                            double fmax, double min_rms, double *strength);

#endif
