/* test_usb_umockpod.c - the emulated pod itself (tests/umockpod), driven with plain synchronous
 * libusb calls: enumeration and descriptors, string descriptors, every protocol command, a
 * stored run read back byte for byte, erase guard; misbehaviours (truncated, duplicated,
 * swapped frames, a hang). Runs under umockdev-wrapper. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <libusb.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "crc.h"
#include "pod.h"
#include "umockpod.h"

typedef struct fx {
    umockpod_bed_t *bed;
    umockpod_t *pod;
    libusb_context *ctx;
    libusb_device_handle *h;
    pod_stream_t st;
    uint8_t pend[16384];         /* last IN transfer, fed to st as it has room */
    size_t pend_off, pend_len;
} fx_t;

static int setup(void **state)
{
    fx_t *f = calloc(1, sizeof *f);
    f->bed = umockpod_bed_new();
    if (!f->bed) {
        fprintf(stderr, "not under umockdev-wrapper\n");
        free(f);
        return -1;
    }
    umockpod_cfg_t c;
    umockpod_cfg_default(&c, "GP-0001", 'L');
    c.n_runs = 2;
    c.run_s = 4;
    f->pod = umockpod_new(f->bed, &c);
    umockpod_plug(f->pod);
    if (libusb_init(&f->ctx) != 0)
        return -1;
    pod_stream_init(&f->st);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx_t *f = *state;
    if (f->h) {
        libusb_release_interface(f->h, 0);
        libusb_close(f->h);
    }
    libusb_exit(f->ctx);
    umockpod_free(&f->pod);
    umockpod_bed_free(&f->bed);
    free(f);
    return 0;
}

static void open_pod(fx_t *f)
{
    f->h = libusb_open_device_with_vid_pid(f->ctx, POD_USB_VID, POD_USB_PID);
    assert_non_null(f->h);
    assert_int_equal(libusb_claim_interface(f->h, POD_USB_INTERFACE), 0);
}

static void send_cmd(fx_t *f, const pod_msg_t *m)
{
    uint8_t buf[64];
    size_t len;
    int done = 0;
    assert_int_equal(pod_encode(m, buf, sizeof buf, &len), 0);
    assert_int_equal(libusb_bulk_transfer(f->h, POD_EP_OUT, buf, (int)len, &done, 1000), 0);
    assert_int_equal(done, (int)len);
}

/* Reads IN transfers until a message arrives; returns 1, or 0 after 50 empty reads. */
static int next_msg(fx_t *f, pod_msg_t *m)
{
    for (int tries = 0; tries < 50;) {
        if (pod_stream_next(&f->st, m, NULL))
            return 1;
        if (f->pend_off < f->pend_len) {
            f->pend_off += pod_stream_feed(&f->st, f->pend + f->pend_off, f->pend_len - f->pend_off);
            continue;
        }
        int got = 0;
        int rc = libusb_bulk_transfer(f->h, POD_EP_IN, f->pend, sizeof f->pend, &got, 100);
        if (rc != 0 && rc != LIBUSB_ERROR_TIMEOUT)
            return 0;
        f->pend_off = 0;
        f->pend_len = (size_t)got;
        if (!got)
            tries++;
    }
    return 0;
}

static void test_enumerate_descriptors(void **state)
{
    fx_t *f = *state;
    libusb_device **list;
    ssize_t n = libusb_get_device_list(f->ctx, &list);
    int found = 0;
    for (ssize_t i = 0; i < n; i++) {
        struct libusb_device_descriptor d;
        assert_int_equal(libusb_get_device_descriptor(list[i], &d), 0);
        if (d.idVendor != POD_USB_VID || d.idProduct != POD_USB_PID)
            continue;
        found++;
        assert_int_equal(d.bcdUSB, 0x0200);
        assert_int_equal(d.bDeviceClass, 0);
        assert_int_equal(d.iSerialNumber, 3);
        struct libusb_config_descriptor *cfg;
        assert_int_equal(libusb_get_active_config_descriptor(list[i], &cfg), 0);
        assert_int_equal(cfg->bNumInterfaces, 1);
        assert_int_equal(cfg->MaxPower, 50);     /* 100 mA */
        const struct libusb_interface_descriptor *id = &cfg->interface[0].altsetting[0];
        assert_int_equal(id->bInterfaceClass, 0xFF);
        assert_int_equal(id->bInterfaceProtocol, POD_PROTO_VERSION);
        assert_int_equal(id->bNumEndpoints, 2);
        assert_int_equal(id->endpoint[0].bEndpointAddress, POD_EP_IN);
        assert_int_equal(id->endpoint[0].bmAttributes & 3, LIBUSB_TRANSFER_TYPE_BULK);
        assert_int_equal(id->endpoint[0].wMaxPacketSize, 64);
        assert_int_equal(id->endpoint[1].bEndpointAddress, POD_EP_OUT);
        libusb_free_config_descriptor(cfg);
    }
    libusb_free_device_list(list, 1);
    assert_int_equal(found, 1);

    open_pod(f);
    unsigned char s[64];
    assert_true(libusb_get_string_descriptor_ascii(f->h, 3, s, sizeof s) > 0);
    assert_string_equal((char *)s, "GP-0001");
    assert_true(libusb_get_string_descriptor_ascii(f->h, 2, s, sizeof s) > 0);
    assert_string_equal((char *)s, "gaitd foot pod");
}

static void test_commands(void **state)
{
    fx_t *f = *state;
    open_pod(f);
    pod_msg_t m = {.type = POD_CMD_IDENTIFY}, r;
    send_cmd(f, &m);
    assert_true(next_msg(f, &r));
    assert_int_equal(r.type, POD_REP_IDENTIFY);
    assert_string_equal(r.u.identify.serial, "GP-0001");
    assert_int_equal(r.u.identify.foot, 'L');
    assert_int_equal(r.u.identify.rate_hz, 500);

    m.type = POD_CMD_CLOCK_SYNC;
    m.u.clock.host_us = 123456789;
    send_cmd(f, &m);
    assert_true(next_msg(f, &r));
    assert_int_equal(r.type, POD_REP_CLOCK_SYNC);
    assert_int_equal(r.u.clock.host_us, 123456789);
    assert_true(r.u.clock.pod_us >= 5000000 && r.u.clock.pod_us < 65000000);

    /* Live stream: ack, then frames 0, 1, 2 ... of 25 samples; stop -> ack. */
    m.type = POD_CMD_START_STREAM;
    send_cmd(f, &m);
    assert_true(next_msg(f, &r));
    assert_int_equal(r.type, POD_REP_ACK);
    assert_int_equal(r.u.ack.status, POD_ST_OK);
    for (uint32_t k = 0; k < 100; k++) {
        assert_true(next_msg(f, &r));
        assert_int_equal(r.type, POD_MSG_SAMPLES);
        assert_int_equal(r.u.samples.seq, k);
        assert_int_equal(r.u.samples.n, 25);
        assert_int_equal(r.u.samples.run_id, 0);
    }
    /* READ_RUN while streaming: BUSY. */
    m.type = POD_CMD_READ_RUN;
    m.u.read_run.run_id = 1;
    m.u.read_run.first_frame = 0;
    send_cmd(f, &m);
    m.type = POD_CMD_STOP_STREAM;
    send_cmd(f, &m);
    int busy = 0, stopped = 0;
    while (!stopped && next_msg(f, &r)) {
        if (r.type == POD_REP_ACK && r.u.ack.cmd == POD_CMD_READ_RUN)
            busy = r.u.ack.status == POD_ST_BUSY;
        if (r.type == POD_REP_ACK && r.u.ack.cmd == POD_CMD_STOP_STREAM)
            stopped = 1;
    }
    assert_true(busy);
    assert_true(stopped);

    m.type = POD_CMD_LIST_RUNS;
    send_cmd(f, &m);
    assert_true(next_msg(f, &r));
    assert_int_equal(r.type, POD_REP_RUNS);
    assert_int_equal(r.u.runs.n, 2);
    pod_run_info_t run = r.u.runs.runs[0];
    assert_int_equal(run.n_frames, 80);          /* 4 s * 500 Hz / 25 */

    /* Erase before reading: NOT_READ. */
    m.type = POD_CMD_ERASE_RUN;
    m.u.run_id = run.run_id;
    send_cmd(f, &m);
    assert_true(next_msg(f, &r));
    assert_int_equal(r.type, POD_REP_ACK);
    assert_int_equal(r.u.ack.status, POD_ST_NOT_READ);

    /* Read from frame 30: seq 30..79 then RUN_END; CRC of everything matches REP_RUNS. */
    uint32_t crc = 0;
    uint8_t pl[POD_MAX_PAYLOAD];
    for (uint32_t k = 0; k < 30; k++) {
        size_t n = umockpod_run_frame(f->pod, 0, k, pl, sizeof pl);
        assert_true(n > 0);
        crc = proto_crc32_update(crc, pl, n);
    }
    m.type = POD_CMD_READ_RUN;
    m.u.read_run.run_id = run.run_id;
    m.u.read_run.first_frame = 30;
    send_cmd(f, &m);
    for (uint32_t k = 30; k < run.n_frames; k++) {
        assert_true(next_msg(f, &r));
        assert_int_equal(r.type, POD_MSG_SAMPLES);
        assert_int_equal(r.u.samples.seq, k);
        assert_int_equal(r.u.samples.run_id, run.run_id);
        uint8_t wire[POD_MAX_FRAME];
        size_t len;
        assert_int_equal(pod_encode(&r, wire, sizeof wire, &len), 0);
        crc = proto_crc32_update(crc, wire + POD_HEADER_LEN, len - POD_FRAME_OVERHEAD);
    }
    assert_true(next_msg(f, &r));
    assert_int_equal(r.type, POD_REP_RUN_END);
    assert_int_equal(r.u.run_end.n_frames, run.n_frames);
    assert_int_equal(r.u.run_end.crc32, run.crc32);
    assert_int_equal(crc, run.crc32);

    /* Bad first_frame and unknown run. */
    m.u.read_run.first_frame = run.n_frames + 1;
    send_cmd(f, &m);
    assert_true(next_msg(f, &r));
    assert_int_equal(r.u.ack.status, POD_ST_BAD_PAYLOAD);
    m.u.read_run.run_id = 999;
    m.u.read_run.first_frame = 0;
    send_cmd(f, &m);
    assert_true(next_msg(f, &r));
    assert_int_equal(r.u.ack.status, POD_ST_NO_RUN);

    /* Now erase is allowed. */
    m.type = POD_CMD_ERASE_RUN;
    m.u.run_id = run.run_id;
    send_cmd(f, &m);
    assert_true(next_msg(f, &r));
    assert_int_equal(r.type, POD_REP_ACK);
    assert_int_equal(r.u.ack.cmd, POD_CMD_ERASE_RUN);
    assert_int_equal(r.u.ack.status, POD_ST_OK);
    umockpod_stats_t s;
    umockpod_stats(f->pod, &s);
    assert_int_equal(s.n_runs, 1);
    assert_int_equal(f->st.stats.crc_errors, 0);
    assert_int_equal(f->st.stats.frames_lost, 0);
}

/* Misbehaviour orders on a stored run read (80 frames): frame 3 truncated to 20 bytes, frame 6
 * sent twice, frames 9 and 10 swapped; a decoder with the reorder window gets every frame but
 * the truncated one, in order; the emulator counts what it did and which frames went out
 * valid. Then the pod hangs (IN transfers pending, a command swallowed) and answers again. */
static void test_misbehaviour(void **state)
{
    fx_t *f = *state;
    open_pod(f);
    pod_stream_set_reorder(&f->st, 1);
    umockpod_truncate_frame(f->pod, 3, 20);
    umockpod_duplicate_frame(f->pod, 6);
    umockpod_swap_frames(f->pod, 9);
    pod_msg_t *m = malloc(sizeof *m);
    memset(m, 0, sizeof *m);
    m->type = POD_CMD_READ_RUN;
    m->u.read_run.run_id = 1;
    m->u.read_run.first_frame = 0;
    send_cmd(f, m);
    uint32_t next = 0, delivered = 0;
    int end = 0;
    while (!end && next_msg(f, m)) {
        if (m->type == POD_REP_RUN_END) {
            end = 1;
        } else if (m->type == POD_MSG_SAMPLES) {
            if (next == 3)
                next++; /* the truncated frame is lost */
            assert_int_equal(m->u.samples.seq, next);
            next++;
            delivered++;
        }
    }
    assert_true(end);
    assert_int_equal(delivered, 79);
    assert_int_equal(f->st.stats.truncated, 1);
    assert_int_equal(f->st.stats.duplicates, 1);
    assert_int_equal(f->st.stats.reordered, 1);
    assert_int_equal(f->st.stats.frames_lost, 1);
    umockpod_stats_t s;
    umockpod_stats(f->pod, &s);
    assert_int_equal(s.frames_truncated, 1);
    assert_int_equal(s.frames_duplicated, 1);
    assert_int_equal(s.frames_reordered, 1);
    assert_int_equal(s.run_frames_sent, 81);  /* 80 + the repeat */
    assert_int_equal(s.run_frames_valid, 79); /* the truncated one is not, the repeat once */

    /* hung: nothing comes back, the command is swallowed; then it answers again */
    umockpod_hang(f->pod, 1);
    memset(m, 0, sizeof *m);
    m->type = POD_CMD_IDENTIFY;
    send_cmd(f, m);
    uint8_t buf[512];
    int got = -1;
    assert_int_equal(libusb_bulk_transfer(f->h, POD_EP_IN, buf, sizeof buf, &got, 300),
                     LIBUSB_ERROR_TIMEOUT);
    assert_int_equal(got, 0);
    umockpod_stats(f->pod, &s);
    assert_true(s.hung);
    assert_int_equal(s.cmds_hung, 1);
    umockpod_hang(f->pod, 0);
    send_cmd(f, m);
    assert_true(next_msg(f, m));
    assert_int_equal(m->type, POD_REP_IDENTIFY);
    assert_string_equal(m->u.identify.serial, "GP-0001");
    free(m);
}

int main(int argc, char **argv)
{
    if (argc > 1)
        cmocka_set_test_filter(argv[1]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_enumerate_descriptors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_commands, setup, teardown),
        cmocka_unit_test_setup_teardown(test_misbehaviour, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
