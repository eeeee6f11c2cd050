/* session.h - one athlete's session: the single data path from pod frames to feed messages.
 *
 *   raw pod frame bytes -> [recorder] -> pod_stream_feed/next (decode, resync, gap counting)
 *     -> input_frame_to_samples -> dsp_pipeline_push -> stride / window / summary messages
 *
 * Every source (simulator, recording replay, later USB pods) hands over frame bytes through
 * session_feed_frame, so replaying a recording reproduces the live results exactly. Sources
 * that only have SI samples (CSV replay) use session_push_sample, which joins the same path
 * after the conversion.
 *
 * Feed messages published (topics gait/<athlete>/<kind>):
 *   stride   each stride as the pipeline finishes it (proto/feed.h feed_stride)
 *   window   every window_period_s of data time (feed_window of dsp_pipeline_window)
 *   summary  once, from session_finish (feed_summary of dsp_pipeline_summary)
 * status messages are built by session_status and sent by the daemon's status timer.
 */
#ifndef GAITD_SESSION_H
#define GAITD_SESSION_H
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "dsp.h"
#include "feed_pub.h"
#include "log.h"
#include "dsp_focus.h"
#include "rec.h"

typedef struct session session_t;

typedef struct session_cfg {
    rec_header_t header;         /* athlete, start time, pods (foot, ranges, calibration, clock
                                    offset). Sample times are seconds on the host clock (Unix
                                    time, t0 = 0 as in daemon/input.c), so the feeds, a replay
                                    and `gaitctl analyze` of the recording share one time base */
    const char *record_dir;      /* write a recording there, NULL = none */
    double window_period_s;      /* data seconds between window messages, e.g. 5 */
} session_cfg_t;

/* Creates the session: pipeline, one stream decoder per pod, the recording if asked. The
 * publisher and logger are borrowed and must outlive the session. Returns NULL with a message
 * in err (bad header, pipeline or recording failure). Caller owns it (session_free). */
session_t *session_new(const session_cfg_t *cfg, feed_pub_t *pub, const log_t *lg, char *err,
                       size_t errcap);
/* Finishes the session if still open (session_finish) and frees it; sets *s to NULL. */
void session_free(session_t **s);

/* Feeds bytes received from pod pod_index (< header.n_pods): normally one whole frame as
 * received; any split works (the stream decoder reassembles). The bytes are recorded, decoded and
 * analysed; resulting strides and windows are published. now_us: monotonic time, for the
 * recorder's flush policy. Returns 0, or -1 when the session is finished or pod_index invalid. */
int session_feed_frame(session_t *s, unsigned pod_index, const uint8_t *bytes, size_t len,
                       int64_t now_us);

/* Pushes one SI sample of foot DSP_LEFT/DSP_RIGHT (time relative to the session clock) for
 * sources without frames (CSV; times as in the file). Strides and windows are published as by session_feed_frame.
 * Returns 0, or -1 for a sample the pipeline rejected or a finished session. */
int session_push_sample(session_t *s, int foot, const dsp_sample_t *x);

/* Compares the session's focus indicators with the athlete's own baseline (copied) from now on,
 * instead of population ranges (the focus evidence says which was used). NULL: population. */
void session_set_baseline(session_t *s, const focus_baseline_t *baseline);

/* Fault counters of the session's source (USB pods: CRC errors, gaps, duplicates, reordered
 * frames, stalls, unplugs ...) as a JSON object; the reference is stolen, NULL clears. Shown as
 * "faults" in session_status and added to the summary at session_finish (so the catalog's
 * summary_json carries it). */
void session_set_faults(session_t *s, json_t *faults);

/* Periodic housekeeping (recording flush by age). */
void session_tick(session_t *s, int64_t now_us);

/* End of data: finishes the pipeline, publishes the last strides and the summary, closes the
 * recording. Idempotent. */
void session_finish(session_t *s);
int session_finished(const session_t *s);

const char *session_athlete(const session_t *s);
/* Time of the newest sample pushed (s on the session clock), NAN before the first sample. */
double session_data_time(const session_t *s);
/* Time of the first sample pushed, NAN before it. */
double session_data_start(const session_t *s);

/* The header the session was created with (athlete, source, start time, pods). */
const rec_header_t *session_header(const session_t *s);
/* Path of the session's recording (kept after it is closed), NULL when not recording. */
const char *session_recording(const session_t *s);
/* The summary object published at the end (with "focus"), borrowed; NULL before the session
 * has finished. */
const json_t *session_final_summary(const session_t *s);
/* Whole-session statistics so far; after session_finish, the final ones (as in `summary`). */
void session_summary(const session_t *s, dsp_summary_t *out);

/* New status object {"type":"status","v":1,"athlete":...,...} describing the session's counters.
 * Caller owns it. */
json_t *session_status(const session_t *s);

#endif
