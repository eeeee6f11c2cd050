/* input.h - reads a recording (.gaitrec) or a gait CSV v1 file and yields SI samples of both
 * feet in time order. One reader for `gaitctl analyze`, `gaitctl convert` and `gaitd --replay`,
 * so offline analysis and replay see exactly the same samples.
 *
 * Recordings: streamed through a bounded window (about 1.3 MB, whatever the file's size); each
 * record's pod frame is decoded by pod_decode_ref (trusted when the reader's chunk pass verified
 * its CRC: every check but the CRC) and its samples converted from the frame's bytes by the
 * conversion behind input_frame_to_samples (the function the live USB and simulator paths use:
 * the same samples, bit for bit). CSV files are read whole.
 * Damage (truncation, bad CRC, malformed CSV line) is reported once with the file name and the
 * byte offset or line number; everything before it is still yielded. For CSV, a malformed line
 * is reported and skipped, and reading goes on.
 */
#ifndef GAITD_INPUT_H
#define GAITD_INPUT_H
#include <stddef.h>
#include <stdint.h>
#include "dsp.h"
#include "pod.h"
#include "rec.h"

enum input_format { INPUT_CSV = 1, INPUT_RECORDING = 2 };

typedef struct input input_t;

/* Opens path, detecting the format from its content. On failure returns NULL and writes a
 * message naming the file to err. Caller owns the result (input_free). rate_override_hz > 0
 * forces the CSV sampling rate (--rate). */
input_t *input_open(const char *path, double rate_override_hz, char *err, size_t errcap);
void input_free(input_t **in);

int input_format(const input_t *in);
/* Header of a recording, or a header synthesised for CSV (athlete from the file name, feet
 * present, rates inferred from time_s, ranges 16 g / 2000 deg/s). Valid after the first
 * input_next call for CSV (rates need samples); for recordings right after open. */
const rec_header_t *input_header(const input_t *in);

/* Returns 1 with *foot (DSP_LEFT/RIGHT) and *s filled; 0 at the end of input; on damage returns
 * -1 once with a message in err ("run.gaitrec: byte 10234: chunk CRC mismatch" or
 * "run.csv:1204: expected 8 fields, got 7"); the caller may call again to go on when the format
 * allows (CSV: next line; recording: nothing more, returns 0). */
int input_next(input_t *in, int *foot, dsp_sample_t *s, char *err, size_t errcap);

/* As input_next, without the copy: *s points at the sample inside the reader, valid until the
 * next call on in (the offline analysis hands it straight to the pipeline). */
int input_next_ref(input_t *in, int *foot, const dsp_sample_t **s, char *err, size_t errcap);

/* As input_next_ref for up to max (>= 1) samples at once, for a caller that consumes them in a
 * loop (the offline analysis): fills foot[0..n) and s[0..n) in exactly the order input_next_ref
 * gives them and returns n >= 1; 0 at the end; -1 once on damage with a message in err, as
 * input_next_ref. The pointers stay valid until the next call on in. */
int input_next_refs(input_t *in, int *foot, const dsp_sample_t **s, unsigned max, char *err,
                    size_t errcap);

/* Non-zero when any damage was reported. */
int input_damaged(const input_t *in);

/* Converts one decoded sample frame of pod `pod` into SI samples: sample i gets time
 * (t_dev_us + clock_offset_us + i * 1e6 / rate_hz - t0_us) * 1e-6. Returns the sample count.
 * out must hold POD_MAX_SAMPLES entries. The single conversion used by live, sync, simulator,
 * replay and analysis. */
unsigned input_frame_to_samples(const rec_pod_t *pod, int64_t t0_us, const pod_samples_t *f,
                                dsp_sample_t *out);

#endif
