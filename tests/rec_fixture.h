/* rec_fixture.h - test helper: the header of a two-pod recording (athlete "ana", pods P0 = L and
 * P1 = R, 16 g / 2000 deg/s) at rate_hz with the pods' clock offsets (us). Header-only, for tests
 * that build recordings in memory (test_input.c, test_input_frames.c). */
#ifndef GAITD_TEST_REC_FIXTURE_H
#define GAITD_TEST_REC_FIXTURE_H
#include <stdio.h>
#include <string.h>
#include "rec.h"

static inline void rec_fixture_two_pods(rec_header_t *h, uint16_t rate_hz, int64_t offset_l_us,
                                        int64_t offset_r_us)
{
    rec_header_init(h);
    strcpy(h->athlete, "ana");
    strcpy(h->source, "test");
    h->n_pods = 2;
    for (int p = 0; p < 2; p++) {
        snprintf(h->pods[p].serial, sizeof h->pods[p].serial, "P%d", p);
        h->pods[p].foot = p ? 'R' : 'L';
        h->pods[p].rate_hz = rate_hz;
        h->pods[p].acc_range_g = 16;
        h->pods[p].gyr_range_dps = 2000;
        h->pods[p].clock_offset_us = p ? offset_r_us : offset_l_us;
    }
}

#endif
