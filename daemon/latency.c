/* latency.c - stride message latency histograms (see latency.h). */
#include "latency.h"
#include <math.h>
#include <time.h>

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Bin 0: below LATENCY_MIN_MS; bin 1 + k: [MIN 10^(k/B), MIN 10^((k+1)/B)); last: overflow. */
static unsigned bin_of(double ms)
{
    if (!(ms >= LATENCY_MIN_MS))
        return 0;
    double k = floor(log10(ms / LATENCY_MIN_MS) * LATENCY_BINS_PER_DECADE);
    if (k >= LATENCY_BINS - 2)
        return LATENCY_BINS - 1;
    return 1 + (unsigned)k;
}

static double bin_upper(unsigned b)
{
    if (b == 0)
        return LATENCY_MIN_MS;
    return LATENCY_MIN_MS * pow(10.0, (double)b / LATENCY_BINS_PER_DECADE);
}

void latency_hist_add(latency_hist_t *h, double ms)
{
    if (!(ms > 0))
        ms = 0;
    h->bins[bin_of(ms)]++;
    h->n++;
    if (ms > h->max_ms)
        h->max_ms = ms;
}

double latency_hist_quantile(const latency_hist_t *h, double q)
{
    if (h->n == 0)
        return NAN;
    if (q < 0)
        q = 0;
    if (q > 1)
        q = 1;
    /* the smallest value with at least ceil(q n) values at or below it */
    uint64_t rank = (uint64_t)ceil(q * (double)h->n);
    if (rank < 1)
        rank = 1;
    uint64_t cum = 0;
    for (unsigned b = 0; b < LATENCY_BINS; b++) {
        cum += h->bins[b];
        if (cum >= rank) {
            double up = b == LATENCY_BINS - 1 ? h->max_ms : bin_upper(b);
            return up < h->max_ms ? up : h->max_ms;
        }
    }
    return h->max_ms;
}

static json_t *jms(double ms)
{
    return isfinite(ms) ? json_real(round(ms * 1000.0) / 1000.0) : json_null();
}

json_t *latency_hist_json(const latency_hist_t *h)
{
    json_t *o = json_object();
    json_object_set_new(o, "n", json_integer((json_int_t)h->n));
    json_object_set_new(o, "p50", jms(latency_hist_quantile(h, 0.50)));
    json_object_set_new(o, "p99", jms(latency_hist_quantile(h, 0.99)));
    json_object_set_new(o, "max", jms(h->n ? h->max_ms : NAN));
    return o;
}

json_t *latency_stats_json(const latency_stats_t *st)
{
    json_t *o = json_object();
    json_object_set_new(o, "processing", latency_hist_json(&st->processing));
    json_t *to = latency_hist_json(&st->toe_off);
    json_object_set_new(to, "unknown", json_integer((json_int_t)st->toe_off_unknown));
    json_object_set_new(o, "toe_off", to);
    return o;
}

void latency_track_begin(latency_track_t *t)
{
    t->batch_us = now_us();
}

void latency_track_end(latency_track_t *t)
{
    t->batch_us = 0;
}

void latency_track_samples(latency_track_t *t, int foot, double t_last)
{
    if (!t->batch_us || foot < 0 || foot > 1)
        return;
    unsigned h = t->head[foot];
    t->ring[foot][h].t = t_last;
    t->ring[foot][h].us = t->batch_us;
    t->head[foot] = (h + 1) % LATENCY_RING;
    if (t->count[foot] < LATENCY_RING)
        t->count[foot]++;
}

void latency_track_stride(latency_track_t *t, latency_stats_t *st, int foot, double t_to)
{
    if (!st || !t->batch_us || foot < 0 || foot > 1)
        return;
    int64_t sent = now_us();
    latency_hist_add(&st->processing, (double)(sent - t->batch_us) / 1000.0);
    /* the oldest remembered batch whose newest sample is at or after t_to brought the toe-off */
    unsigned n = t->count[foot];
    unsigned start = (t->head[foot] + LATENCY_RING - n) % LATENCY_RING;
    for (unsigned i = 0; i < n; i++) {
        unsigned k = (start + i) % LATENCY_RING;
        if (t->ring[foot][k].t >= t_to) {
            if (i == 0 && n == LATENCY_RING)
                break;           /* older batches forgotten: it may have come earlier */
            latency_hist_add(&st->toe_off, (double)(sent - t->ring[foot][k].us) / 1000.0);
            return;
        }
    }
    st->toe_off_unknown++;
}
