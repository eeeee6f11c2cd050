/* src_sim.h - a simulated athlete: the kinematic simulator (daemon/sim.h) behind two simulated
 * pods that produce real pod frames.
 *
 * Per sample instant: sim_next -> dsp_si_to_raw at the pod's ranges (quantisation, clipping) ->
 * frames of frame_samples samples with sequence numbers and t_dev_us on the pod's own clock
 * (boot offset + the simulator's clock mismatch) -> pod_encode -> session_feed_frame. The
 * session header states each pod's clock offset as a clock sync would measure it (the
 * simulator's deliberate mismatch stays in the data, as with real pods).
 */
#ifndef GAITD_SRC_SIM_H
#define GAITD_SRC_SIM_H
#include <stddef.h>
#include "sim.h"
#include "source.h"

#define SRC_SIM_FRAME_SAMPLES 25

typedef struct src_sim_cfg {
    const char *athlete;         /* e.g. "sim1" (copied) */
    sim_config_t sim;            /* simulator configuration (copied) */
    unsigned frame_samples;      /* samples per frame, 0 = SRC_SIM_FRAME_SAMPLES */
    int64_t start_unix_us;       /* session start (wall clock), 0 = now */
} src_sim_cfg_t;

/* Creates the simulator and its session (and recording). On success fills *src (the caller
 * owns it: src->ops->free(src->impl)) and returns 0; -1 with a message in err. */
int src_sim_new(source_t *src, const src_sim_cfg_t *cfg, const source_env_t *env, char *err,
                size_t errcap);

/* Builds the recording header of a simulated athlete (exposed for tests). */
void src_sim_header(rec_header_t *h, const char *athlete, const sim_config_t *c,
                    int64_t start_unix_us);

#endif
