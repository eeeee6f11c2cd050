/* feed.h - JSON schemas of gaitd's feed messages and of `gaitctl analyze` output (jansson).
 * Every object carries "type", "v" (FEED_PROTO_VERSION) and, for feed messages, "athlete".
 * Non-finite numbers are written as null. Field reference: proto/FEEDS.md.
 * Each function returns a new reference the caller owns (json_decref), or NULL on OOM.
 */
#ifndef GAITD_PROTO_FEED_H
#define GAITD_PROTO_FEED_H
#include <jansson.h>
#include "dsp.h"

#define FEED_PROTO_VERSION 1

/* {"type":"stride","v":1,"athlete":..,"foot":"L","index":..,"t_ic":..,"t_to":..,"t_next_ic":..,
 *  "stride_s":..,"contact_s":..,"swing_s":..,"step_s":..,"flight_s":..,"duty":..,
 *  "cadence_spm":..,"impact_g":..,"pushoff_dps":..,"swing_peak_dps":..,"braking_g":..,
 *  "strike_angle_deg":..,"strike":"rear"|"mid"|"fore"|null,"pronation_deg":..,
 *  "pronation_vel_dps":..,"stride_length_m":..,"speed_mps":..,"turn_deg":..,
 *  "clearance_m":..,"turning":true|false|null,"mode":"run"}
 * athlete may be NULL (offline analysis): then the key is omitted. */
json_t *feed_stride(const char *athlete, const dsp_stride_t *s);

/* The line feed_stride(NULL, s) prints, written straight into buf[0..cap) without jansson:
 * the same keys in the same order, the same strings and nulls, numbers in plain decimal form with
 * a fixed number of decimals per unit (FEEDS.md, "Precision of gaitctl analyze's stride lines"),
 * then '\n' and a NUL. Returns the length (without the NUL), or -1 if cap is below
 * FEED_STRIDE_LINE_MAX. No allocation: the fast path of `gaitctl analyze`. */
#define FEED_STRIDE_LINE_MAX 1536
int feed_stride_write(const dsp_stride_t *s, char *buf, size_t cap);

/* {"type":"window","v":1,"athlete":..,"t_start":..,"t_end":..,"mode":..,"cadence_spm":..,
 *  "cadence_fft_spm":..,"stride_hz_fft":..,"L":{foot stats},"R":{...},
 *  "symmetry":{"contact_si_pct":..,"stride_si_pct":..,"step_si_pct":..}} */
json_t *feed_window(const char *athlete, const dsp_window_t *w);

/* {"type":"summary","v":1,"cadence_spm":..,"symmetry":{...},"focus":[],"L":{..},"R":{..},
 *  "running":{window-like},"walking":{..},"n_strides":{"L":..,"R":..,"running":..,"walking":..,
 *  "turning":..},"n_turning":..,"straight":{window-like: main without turning strides},
 *  "duration_s":..,
 *  "disclaimer":"Training aid, not a diagnosis."} */
json_t *feed_summary(const char *athlete, const dsp_summary_t *s);

/* Foot letter "L"/"R" and mode name "walk"/"run"/"unknown". */
const char *feed_foot_name(int foot);
const char *feed_mode_name(int mode);
/* Strike type name "rear"/"mid"/"fore", or NULL for DSP_STRIKE_UNKNOWN. */
const char *feed_strike_name(int strike);

#endif
