/* pod.h - gaitd pod USB protocol v1: message codec and stream resync.
 *
 * The full wire specification is proto/POD-PROTOCOL.md. In short: every message, in both
 * directions, is one frame
 *     sync 0xA5 0x5A | version u8 (=1) | type u8 | payload length u16 LE | payload | CRC-32 LE
 * where the CRC (proto/crc.h) covers version..payload. Multi-byte fields are little-endian and are
 * read with explicit byte helpers, never struct overlays. Decoders never read past their input.
 */
#ifndef GAITD_PROTO_POD_H
#define GAITD_PROTO_POD_H
#include <stddef.h>
#include <stdint.h>

#define POD_USB_VID 0x1209u      /* pid.codes test VID */
#define POD_USB_PID 0x0001u
#define POD_USB_INTERFACE 0
#define POD_EP_IN 0x81u          /* bulk IN: replies and sample frames */
#define POD_EP_OUT 0x01u         /* bulk OUT: commands */

#define POD_PROTO_VERSION 1
#define POD_FRAME_OVERHEAD 10u   /* 2 sync + version + type + 2 length + 4 CRC */
#define POD_MAX_PAYLOAD 4096u
#define POD_MAX_FRAME (POD_MAX_PAYLOAD + POD_FRAME_OVERHEAD)
#define POD_MAX_SAMPLES 255u     /* samples per sample frame (6 x int16 each) */
#define POD_SERIAL_LEN 16u       /* NUL-terminated serial, at most 15 chars */
#define POD_MAX_RUNS 32u         /* runs per LIST_RUNS reply */

enum pod_msg_type {
    /* host -> pod commands */
    POD_CMD_IDENTIFY = 0x01,
    POD_CMD_CLOCK_SYNC = 0x02,   /* host time in, pod answers with its clock */
    POD_CMD_START_STREAM = 0x03,
    POD_CMD_STOP_STREAM = 0x04,
    POD_CMD_LIST_RUNS = 0x05,
    POD_CMD_READ_RUN = 0x06,     /* run id + first frame index (resumable) */
    POD_CMD_ERASE_RUN = 0x07,
    /* pod -> host replies */
    POD_REP_IDENTIFY = 0x81,
    POD_REP_CLOCK_SYNC = 0x82,
    POD_REP_ACK = 0x83,          /* generic ack / nack with status code for START/STOP/ERASE */
    POD_REP_RUNS = 0x85,
    POD_REP_RUN_END = 0x86,      /* end of a READ_RUN transfer: frames sent, CRC of run */
    /* pod -> host data */
    POD_MSG_SAMPLES = 0xC0,      /* live stream or stored-run sample frame */
};

enum pod_foot { POD_FOOT_LEFT = 'L', POD_FOOT_RIGHT = 'R' };

/* pod_ack_t.status values (POD-PROTOCOL.md, "Status codes"). */
enum pod_status {
    POD_ST_OK = 0,
    POD_ST_UNKNOWN_CMD = 1,      /* command type not supported */
    POD_ST_BAD_PAYLOAD = 2,      /* payload length or value invalid */
    POD_ST_BUSY = 3,             /* not allowed while streaming / transferring */
    POD_ST_NO_RUN = 4,           /* no stored run with that id */
    POD_ST_NOT_READ = 5,         /* ERASE_RUN before a complete READ_RUN of that run */
    POD_ST_STORAGE = 6,          /* flash error */
};

#define POD_HEADER_LEN 6u        /* sync, version, type, length */
#define POD_SAMPLES_FIXED 24u    /* sample-frame payload bytes before the samples */
#define POD_SAMPLE_BYTES 12u     /* 6 x int16 per sample */

typedef struct pod_identify {
    char serial[POD_SERIAL_LEN];
    uint8_t foot;                /* 'L' or 'R' */
    uint8_t fw_major, fw_minor, fw_patch;
    uint16_t rate_hz;            /* 50..2000 */
    uint16_t acc_range_g;        /* full scale, e.g. 16 -> +-16 g */
    uint16_t gyr_range_dps;      /* full scale, e.g. 2000 -> +-2000 deg/s */
} pod_identify_t;

typedef struct pod_clock_sync {
    uint64_t host_us;            /* echoed host send time */
    uint64_t pod_us;             /* pod clock when answering */
} pod_clock_sync_t;

typedef struct pod_ack {
    uint8_t cmd;                 /* command acknowledged */
    uint8_t status;              /* 0 ok, else pod error code */
} pod_ack_t;

typedef struct pod_run_info {
    uint32_t run_id;
    uint64_t start_unix_us;      /* pod's wall clock at run start (after last clock sync) */
    uint32_t n_frames;
    uint32_t crc32;              /* CRC-32 over all the run's sample-frame payloads in order */
} pod_run_info_t;

typedef struct pod_runs {
    uint8_t n;
    pod_run_info_t runs[POD_MAX_RUNS];
} pod_runs_t;

typedef struct pod_read_run {
    uint32_t run_id;
    uint32_t first_frame;        /* resume point */
} pod_read_run_t;

typedef struct pod_run_end {
    uint32_t run_id;
    uint32_t n_frames;
    uint32_t crc32;
} pod_run_end_t;

typedef struct pod_samples {
    uint32_t seq;                /* frame sequence number, +1 per frame, wraps */
    uint64_t t_dev_us;           /* pod clock at the first sample of the frame */
    uint16_t rate_hz;
    uint16_t acc_range_g;
    uint16_t gyr_range_dps;
    uint16_t n;                  /* samples in this frame, 1..POD_MAX_SAMPLES */
    uint32_t run_id;             /* 0 = live stream, else stored run */
    int16_t s[POD_MAX_SAMPLES][6]; /* acc x,y,z then gyr x,y,z, raw counts, foot frame */
} pod_samples_t;

typedef struct pod_msg {
    uint8_t type;                /* enum pod_msg_type */
    union {
        pod_identify_t identify;
        pod_clock_sync_t clock;
        pod_ack_t ack;
        pod_runs_t runs;
        pod_read_run_t read_run;
        pod_run_end_t run_end;
        pod_samples_t samples;
        uint32_t run_id;         /* POD_CMD_ERASE_RUN */
    } u;
} pod_msg_t;

/* Encodes m into buf[0..cap). On success stores the frame length in *len and returns 0;
 * PROTO_ERR_SPACE if cap is too small, PROTO_ERR_RANGE/TYPE for an invalid message. */
int pod_encode(const pod_msg_t *m, uint8_t *buf, size_t cap, size_t *len);

/* Decodes one frame that starts at buf[0]. On success fills *m, stores the frame length in
 * *consumed and returns 0. Errors: PROTO_ERR_MAGIC (no sync at buf[0]), PROTO_ERR_TRUNCATED
 * (len too short for the frame its header announces), PROTO_ERR_CRC, PROTO_ERR_VERSION,
 * PROTO_ERR_LENGTH, PROTO_ERR_TYPE, PROTO_ERR_RANGE. Never reads buf[len] or beyond. */
int pod_decode(const uint8_t *buf, size_t len, pod_msg_t *m, size_t *consumed);

/* As pod_decode, without comparing the frame's CRC: for frames whose bytes an outer checksum has
 * already verified (a recording chunk whose CRC-32 matched, rec.h). Every other check and bound
 * of pod_decode stays (fuzz-safe on any bytes); never returns PROTO_ERR_CRC. For a sample frame
 * only s[0..n) of the samples array is written (the rest keeps what *m held). The live USB path
 * and pod_stream keep using pod_decode. */
int pod_decode_trusted(const uint8_t *buf, size_t len, pod_msg_t *m, size_t *consumed);

/* pod_decode (trusted == 0) or pod_decode_trusted (trusted != 0), with the same checks, errors
 * and *consumed, without copying a sample frame's values: for POD_MSG_SAMPLES the fields before
 * s are filled, s is not written, and *raw points at the n x 6 int16 values inside buf in wire
 * order (little-endian, any alignment; dsp_units.h converts them from there). For any other
 * message, and on error, *raw is NULL and *m is as the other decoders leave it. The recording
 * reader's path (daemon/input.c). */
int pod_decode_ref(const uint8_t *buf, size_t len, int trusted, pod_msg_t *m,
                   const uint8_t **raw, size_t *consumed);

/* Stream reassembly and resync for a byte stream (bulk IN transfers concatenated).
 * Caller owns the struct (no heap). Feed bytes with pod_stream_feed, then call
 * pod_stream_next until it returns 0. Corrupt bytes are skipped up to the next sync pattern
 * that starts a frame with a valid CRC; every skip and every sequence gap, duplicate or
 * out-of-order sample frame is counted and reported through *event. */
typedef struct pod_stream_stats {
    uint64_t frames_ok;
    uint64_t bytes_skipped;      /* bytes discarded while resyncing */
    uint64_t crc_errors;
    uint64_t seq_gaps;           /* number of gap events */
    uint64_t frames_lost;        /* sum of missing sequence numbers over all gaps */
    uint64_t duplicates;         /* sample frames whose seq was already delivered (dropped) */
    uint64_t out_of_order;       /* sample frames older than the last delivered (dropped) */
    uint64_t rejected;           /* frames with a valid CRC that failed to decode (version, type,
                                    range): skipped whole, their bytes counted in bytes_skipped */
    uint64_t truncated;          /* of crc_errors: frames cut short (or whose length field was
                                    damaged): a valid frame began inside their announced length */
    uint64_t reordered;          /* sample frames that arrived after a later one and were put
                                    back in order (reorder window on), not counted as lost */
    uint64_t stale;              /* sample frames dropped while waiting for the first frame of a
                                    new transfer (pod_stream_expect) */
} pod_stream_stats_t;

enum pod_stream_event {
    POD_EV_NONE = 0,
    POD_EV_GAP = 1,              /* frames were lost before this frame: see gap_frames */
    POD_EV_RESYNC = 2,           /* bytes were skipped before this frame: see skipped_bytes */
};

typedef struct pod_stream_report {
    int events;                  /* bit set of pod_stream_event */
    uint32_t gap_frames;         /* missing frames before this one */
    uint64_t skipped_bytes;      /* bytes skipped before this one */
    uint64_t offset;             /* stream offset of this frame's first byte */
} pod_stream_report_t;

typedef struct pod_stream {
    uint8_t buf[2 * POD_MAX_FRAME];
    size_t len;
    uint64_t offset;             /* stream offset of buf[0] */
    int have_seq;
    uint32_t last_seq;
    uint64_t pending_skip;
    pod_stream_stats_t stats;
    uint64_t recent;             /* bit k: seq last_seq - k was delivered (duplicate detection) */
    uint32_t last_run;           /* run_id of the last delivered sample frame */
    int eof;                     /* pod_stream_finish was called */
    /* damage classification: end offset of the announced frame of the first CRC failure not yet
     * followed by a valid frame */
    int cut_pending;
    uint64_t cut_end;
    /* reorder window (pod_stream_set_reorder): a sample frame that follows a gap is held until
     * the next frame shows whether the gap was a swap (filled) or a loss */
    int reorder, held, release;
    pod_samples_t held_f;
    pod_stream_report_t held_rep;
    /* the last frame skipped as `rejected` (CRC valid, failed to decode) */
    uint8_t rej_type;
    int rej_err;
    uint16_t rej_len; /* payload bytes kept in rej_payload (at most 32) */
    uint8_t rej_payload[32];
    int expecting; /* pod_stream_expect: waiting for (exp_run, exp_seq) */
    uint32_t exp_run, exp_seq;
} pod_stream_t;

void pod_stream_init(pod_stream_t *st);
/* Appends up to n bytes; returns the number accepted (less than n when the internal buffer
 * is full: call pod_stream_next to drain, then feed the rest). */
size_t pod_stream_feed(pod_stream_t *st, const uint8_t *data, size_t n);
/* Returns 1 and fills *m (and *rep when not NULL) when a frame is available, 0 when more bytes
 * are needed. Duplicate and out-of-order sample frames are counted and not returned. */
int pod_stream_next(pod_stream_t *st, pod_msg_t *m, pod_stream_report_t *rep);
/* End of stream. A frame cut by the end is damage: after this call pod_stream_next skips such a
 * frame's sync and keeps scanning the buffered bytes (a complete frame can hide behind a false
 * sync), then counts every byte still buffered as skipped when it returns 0. Call
 * pod_stream_next until it returns 0 after pod_stream_finish. */
void pod_stream_finish(pod_stream_t *st);
/* Reorder window of one frame (off by default): a sample frame whose seq skips ahead is held
 * until the next frame arrives. If that one falls into the gap (frames swapped on the way) it is
 * delivered first and counted in `reordered`, and the held frame follows, so nothing valid is
 * dropped as out of order; otherwise the held frame is delivered with its gap counted. Any other
 * message, a change of run, pod_stream_finish or pod_stream_release delivers the held frame
 * first. Frames are delivered at most one frame late. */
void pod_stream_set_reorder(pod_stream_t *st, int on);
/* Delivers a held frame at the next pod_stream_next (e.g. when the data stops). */
void pod_stream_release(pod_stream_t *st);
/* A new transfer begins with sample frame seq of run run_id (e.g. CMD_READ_RUN(run, seq) was
 * sent): every sample frame before that one (left over from an earlier transfer) is dropped and
 * counted in `stale`, a held frame included; numbering starts again at that frame. Other
 * messages pass as usual. */
void pod_stream_expect(pod_stream_t *st, uint32_t run_id, uint32_t seq);
/* Restarts the stream (bytes, numbering, held frame) keeping its statistics and settings. */
void pod_stream_reset(pod_stream_t *st);
/* Raw identify check: decodes a REP_IDENTIFY payload of len bytes into *id without refusing
 * out-of-range values, and names the first invalid field with its value in why[cap] (e.g.
 * "rate_hz 0 (expected 50..2000)"). Returns 0 when every field is valid, PROTO_ERR_LENGTH (len
 * is not 26) or PROTO_ERR_RANGE. */
int pod_identify_explain(const uint8_t *payload, size_t len, pod_identify_t *id, char *why,
                         size_t cap);

/* Value checks shared with the recording format. */
int pod_rate_valid(unsigned rate_hz);       /* 50..2000 */
int pod_acc_range_valid(unsigned g);        /* 2, 4, 8, 16, 32 */
int pod_gyr_range_valid(unsigned dps);      /* 125, 250, 500, 1000, 2000, 4000 */
/* Serial field of n bytes: NUL-terminated, printable ASCII before the NUL, zeros after. */
int pod_serial_valid(const char *serial, size_t n);
/* "IDENTIFY", "SAMPLES", ... or "unknown". */
const char *pod_msg_name(unsigned type);

#endif
