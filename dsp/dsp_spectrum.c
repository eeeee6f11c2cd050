/* dsp_spectrum.c - spectral stride-frequency estimator (see dsp_spectrum.h, METRICS.md). */
#include <math.h>
#include <string.h>
#include <fftw3.h>
#include "dsp_spectrum.h"

#define SUBHARM_MIN_RATIO 0.10      /* power of the strongest sub-harmonic peak / top peak */
#define SUBHARM_MIN_RATIO_EACH 0.02 /* power of every lower harmonic peak / top peak */

int dsp_spec_init(dsp_spec_t *sp, size_t max_len)
{
    memset(sp, 0, sizeof *sp);
    if (max_len < 8)
        return -1;
    size_t nfft = 64;
    while (nfft < 4 * max_len)
        nfft *= 2;
    sp->max_len = max_len;
    sp->nfft = nfft;
    sp->in = fftwf_malloc(sizeof(float) * nfft);
    sp->out = fftwf_malloc(sizeof(fftwf_complex) * (nfft / 2 + 1));
    sp->pow = fftwf_malloc(sizeof(float) * (nfft / 2 + 1));
    sp->win = fftwf_malloc(sizeof(float) * max_len);
    if (!sp->in || !sp->out || !sp->pow || !sp->win) {
        dsp_spec_release(sp);
        return -1;
    }
    for (size_t i = 0; i < nfft; i++)
        sp->in[i] = 0.0f;
    sp->zero_from = 0;
    sp->plan =
        fftwf_plan_dft_r2c_1d((int)nfft, sp->in, sp->out, FFTW_ESTIMATE | FFTW_PRESERVE_INPUT);
    if (!sp->plan) {
        dsp_spec_release(sp);
        return -1;
    }
    return 0;
}

void dsp_spec_release(dsp_spec_t *sp)
{
    if (sp->plan)
        fftwf_destroy_plan((fftwf_plan)sp->plan);
    fftwf_free(sp->in);
    fftwf_free(sp->out);
    fftwf_free(sp->pow);
    fftwf_free(sp->win);
    memset(sp, 0, sizeof *sp);
}

/* Index of the largest value of p in [lo, hi] that is a local maximum (p[k-1] <= p[k] >= p[k+1]),
 * or 0 if there is none. Requires 1 <= lo and hi + 1 < len. */
static size_t local_max(const float *p, size_t lo, size_t hi)
{
    size_t best = 0;
    for (size_t k = lo; k <= hi; k++)
        if (p[k] >= p[k - 1] && p[k] >= p[k + 1] && (best == 0 || p[k] > p[best]))
            best = k;
    return best;
}

/* Sub-bin offset of a peak by a parabola through the log powers (exact for a Gaussian lobe,
 * close for a Hann lobe). */
static double interp_peak(const float *p, size_t k)
{
    double a = log(p[k - 1] + 1e-30), b = log(p[k] + 1e-30), c = log(p[k + 1] + 1e-30);
    double den = a - 2.0 * b + c;
    if (den >= 0.0)
        return 0.0;
    double d = 0.5 * (a - c) / den;
    return d > 0.5 ? 0.5 : (d < -0.5 ? -0.5 : d);
}

double dsp_spec_fundamental(dsp_spec_t *sp, const float *x, size_t n, double fs, double f_lo,
                            double f_hi, double min_rms, double *strength)
{
    if (strength)
        *strength = 0.0;
    if (n > sp->max_len)
        x += n - sp->max_len, n = sp->max_len;
    if (n < 16 || !(fs > 0.0) || !(f_hi > f_lo) || f_lo <= 0.0)
        return NAN;
    /* at least two periods of the lowest frequency searched */
    if ((double)n / fs * f_lo < 2.0)
        f_lo = 2.0 * fs / (double)n;
    if (f_lo >= f_hi)
        return NAN;

    double mean = 0.0;
    for (size_t i = 0; i < n; i++)
        mean += x[i];
    mean /= (double)n;
    /* The variance and the band power are serial sums in double (their order fixes their
     * rounding, so they cannot be split up). When the window for n is ready (the steady state),
     * the transform runs before the rms test and the two sums share one loop: two independent
     * chains run side by side instead of one after the other. Same figures either way; a
     * transform made for an rms below min_rms is simply not used (the window is untouched). */
    const int early = sp->win_n == n;
    double var = 0.0;
    if (!early) {
        for (size_t i = 0; i < n; i++)
            var += (x[i] - mean) * (x[i] - mean);
        if (sqrt(var / (double)n) < min_rms)
            return NAN;
    }

    const size_t nfft = sp->nfft, nb = nfft / 2 + 1;
    if (sp->win_n != n) {
        for (size_t i = 0; i < n; i++)
            sp->win[i] = (float)(0.5 - 0.5 * cos(2.0 * M_PI * ((double)i + 0.5) / (double)n));
        sp->win_n = n;
    }
    const float fm = (float)mean;
    for (size_t i = 0; i < n; i++)
        sp->in[i] = (x[i] - fm) * sp->win[i];
    /* the zero padding stays in place (an out-of-place r2c plan preserves its input): only what a
     * longer previous input left behind is cleared */
    for (size_t i = n; i < sp->zero_from; i++)
        sp->in[i] = 0.0f;
    sp->zero_from = n;
    fftwf_execute((fftwf_plan)sp->plan);
    const fftwf_complex *X = sp->out;
    const double df = fs / (double)nfft;
    /* power only where it is read: the band's 4th harmonic plus a main lobe */
    double need = 4.0 * f_hi / df + 4.0 * (double)nfft / (double)n + 3.0;
    sp->pow_n = need < (double)nb ? (size_t)need : nb;
    for (size_t k = 0; k < sp->pow_n; k++)
        sp->pow[k] = X[k][0] * X[k][0] + X[k][1] * X[k][1];

    size_t klo = (size_t)ceil(f_lo / df), khi = (size_t)floor(f_hi / df);
    if (klo < 1)
        klo = 1;
    if (khi + 2 >= nb)
        khi = nb - 3;
    /* band power for the strength: pow[klo .. top] */
    const size_t top = khi * 4 < sp->pow_n - 1 ? khi * 4 : sp->pow_n - 1;
    double band = 0.0;
    if (early) {
        const size_t nband = strength && klo < khi && top >= klo ? top - klo + 1 : 0;
        const float *pb = sp->pow + klo;
        const size_t both = n < nband ? n : nband;
        size_t i = 0;
        for (; i < both; i++) {
            var += (x[i] - mean) * (x[i] - mean);
            band += pb[i];
        }
        for (size_t j = i; j < n; j++)
            var += (x[j] - mean) * (x[j] - mean);
        for (size_t j = i; j < nband; j++)
            band += pb[j];
        if (sqrt(var / (double)n) < min_rms)
            return NAN;
    }
    if (klo >= khi)
        return NAN;
    size_t kp = local_max(sp->pow, klo, khi);
    if (kp == 0)
        return NAN;
    /* Harmonic check: if the top peak is really the h-th harmonic (h = 4, 3, 2), local peaks sit
     * at every m/h of its frequency (m = 1..h-1), each above SUBHARM_MIN_RATIO_EACH and the
     * strongest above SUBHARM_MIN_RATIO of the top power. The lowest such fundamental wins.
     * The lobe half-width of a Hann window is 2 bins of the unpadded length. */
    const double lobe = 2.0 * (double)nfft / (double)n;
    size_t kf = kp;
    for (int h = 4; h >= 2 && kf == kp; h--) {
        if ((double)kp / h < (double)klo)
            continue;
        int ok = 1;
        float strongest = 0.0f;
        size_t k1 = 0;
        for (int m = 1; m < h && ok; m++) {
            double kc = (double)kp * m / h;
            size_t lo = (size_t)fmax(1.0, floor(kc - 0.5 * lobe));
            size_t hi = (size_t)ceil(kc + 0.5 * lobe);
            size_t ks = hi + 1 < nb ? local_max(sp->pow, lo, hi) : 0;
            ok = ks && sp->pow[ks] >= SUBHARM_MIN_RATIO_EACH * sp->pow[kp];
            if (ok && sp->pow[ks] > strongest)
                strongest = sp->pow[ks];
            if (m == 1)
                k1 = ks;
        }
        if (ok && strongest >= SUBHARM_MIN_RATIO * sp->pow[kp])
            kf = k1;
    }
    double f0 = ((double)kf + interp_peak(sp->pow, kf)) * df;
    if (strength) {
        double harm = 0.0;
        if (!early)
            for (size_t k = klo; k <= top; k++)
                band += sp->pow[k];
        for (int h = 1; h <= 4; h++) {
            double kc = f0 / df * h;
            for (size_t k = (size_t)fmax(1.0, kc - lobe); k <= (size_t)(kc + lobe) && k < sp->pow_n;
                 k++)
                harm += sp->pow[k];
        }
        *strength = band > 0.0 ? fmin(1.0, harm / band) : 0.0;
    }
    return f0;
}
