#!/usr/bin/env python3
"""A sync cut off by kill -9 or a stop resumes from the copy left behind, after a restart.

One emulated pod (umockpod_run, alive across the gaitd restarts) holds one stored run of 60 s
(1200 frames) that it sends at 10x real time. Under umockpod_run a driver (this script with
--inner) runs `gaitd --usb-sync` three times on the same data directory and catalog:
1. killed with SIGKILL once its copy (`*.gaitrec.partial`) holds about a third of the run; the
   copy's last 700 bytes are then cut off (a chunk torn by the kill), and a file that is not a
   recording is put beside it under a copy's name (`junk.gaitrec.partial.3`);
2. restarted: it must take the frames of the left-over copy up to its last intact chunk (K1) and
   ask the pod only for the rest; it is stopped with SIGTERM once its own copy has grown by at
   least 200 frames (a clean stop keeps the unfinished copy too);
3. restarted: it must resume from the longer of the two left-over copies (K2 > K1) and complete.
Checked: after each restart the pod was asked (READ_RUN first_frame) for the frames from K on;
the final recording holds every frame of the run exactly once (30000 samples, no hole, nothing
twice), `gaitctl analyze` reads it; one synced catalog session and one runs_synced row; the run
is erased on the pod; both left-over copies are removed once the complete copy exists; the junk
file is left alone (not taken for a copy).
Usage: test_usb_sync_resume.py UMOCKPOD_RUN
"""
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time

from gaitdtest import (BIN, check, check_every_frame_once, fail, print_logs,
                       remove_unless_kept)

GAITD = os.path.join(BIN, "gaitd")
GAITCTL = os.path.join(BIN, "gaitctl")
RUN_FRAMES = 1200             # 60 s at 500 Hz, 25 samples per frame
FRAME_BYTES = 3 + 334         # record overhead + one frame of 25 samples
SERIAL = "GP-L-0001"


def pod_stats(path):
    for _ in range(50):
        try:
            with open(path) as f:
                return json.loads(f.readline())
        except (OSError, ValueError):
            time.sleep(0.05)     # being rewritten
    fail("no pod stats in %s" % path)


def settled_stats(path):
    """The pod's counters once nothing is being sent any more."""
    last = None
    for _ in range(100):
        st = pod_stats(path)
        if last and st["run_frames_sent"] == last["run_frames_sent"]:
            return st
        last = st
        time.sleep(0.3)
    fail("the pod keeps sending: %r" % last)


def partials(data):
    return sorted(x for x in os.listdir(data) if re.search(r"\.gaitrec\.partial(\.\d+)?$", x)
                  and not x.startswith("junk"))


def gaitd_cmd(tmp, data, db):
    return [GAITD, "--usb-sync", "--record", data, "--db", db, "--pub", "ipc://%s/pub" % tmp,
            "--control", "ipc://%s/ctl" % tmp]


def wait_for(what, cond, d, log, timeout=60):
    t0 = time.time()
    while time.time() - t0 < timeout:
        if cond():
            return
        if d.poll() is not None:
            fail("gaitd ended by itself while waiting for %s:\n%s" % (what, open(log).read()[-3000:]))
        time.sleep(0.02)
    fail("timed out waiting for %s:\n%s" % (what, open(log).read()[-3000:]))


def resumed_at(log):
    with open(log) as f:
        text = f.read()
    m = re.search(r"run 1: (\d+) of 1200 frames already copied by an earlier gaitd \(([^)]*)\): "
                  r"reading from frame \1", text)
    check(m, "%s: no resume from a left-over copy:\n%s" % (log, text[-3000:]))
    return int(m.group(1)), m.group(2), text


def size(path):
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def inner(tmp):
    data, db = os.path.join(tmp, "data"), os.path.join(tmp, "data", "catalog.db")
    stats = os.path.join(tmp, "stats.jsonl")

    # 1. killed a third of the way through
    log1 = os.path.join(tmp, "gaitd-1.log")
    with open(log1, "w") as lf:
        d = subprocess.Popen(gaitd_cmd(tmp, data, db), stderr=lf)
        wait_for("a third of the run on disk", lambda: partials(data) and size(
            os.path.join(data, partials(data)[0])) >= RUN_FRAMES // 3 * FRAME_BYTES, d, log1)
        d.send_signal(signal.SIGKILL)
        d.wait(timeout=30)
    st1 = settled_stats(stats)
    check(st1["runs_left"] == 1, "run erased after a kill mid-read: %r" % st1)
    (p1,) = partials(data)
    p1 = os.path.join(data, p1)
    n1 = size(p1)
    with open(p1, "r+b") as f:
        f.truncate(n1 - 700)                    # the last chunk torn by the kill
    with open(os.path.join(data, "junk.gaitrec.partial.3"), "wb") as f:
        f.write(b"not a recording at all\n" * 10)
    print("1: killed with %d bytes in %s (cut to %d), pod sent %d run frames"
          % (n1, os.path.basename(p1), n1 - 700, st1["run_frames_sent"]))

    # 2. restarted: resumes from the copy's last intact chunk; stopped cleanly after 200 frames
    log2 = os.path.join(tmp, "gaitd-2.log")
    with open(log2, "w") as lf:
        d = subprocess.Popen(gaitd_cmd(tmp, data, db), stderr=lf)
        wait_for("the resume", lambda: "already copied by an earlier gaitd" in open(log2).read(),
                 d, log2)
        k1, src, _ = resumed_at(log2)
        check(src == p1, "resumed from %s, expected %s" % (src, p1))
        check(RUN_FRAMES // 3 - 200 <= k1 < RUN_FRAMES // 3 + 200,
              "resumed at frame %d after a kill at about frame %d" % (k1, RUN_FRAMES // 3))
        wait_for("200 more frames", lambda: len(partials(data)) == 2 and size(
            os.path.join(data, partials(data)[1])) >= (k1 + 200) * FRAME_BYTES, d, log2)
        d.send_signal(signal.SIGTERM)
        rc = d.wait(timeout=60)
    check(rc == 0, "gaitd 2 exit %r" % rc)
    st2 = settled_stats(stats)
    check(st2["runs_left"] == 1, "run erased after a stop mid-read: %r" % st2)
    print("2: resumed at frame %d from %s; stopped with %r" % (k1, os.path.basename(src),
                                                              partials(data)))
    sent2 = st2["run_frames_sent"] - st1["run_frames_sent"]

    # 3. restarted: resumes from the longer copy and completes
    log3 = os.path.join(tmp, "gaitd-3.log")
    with open(log3, "w") as lf:
        d = subprocess.Popen(gaitd_cmd(tmp, data, db), stderr=lf)
        wait_for("the sync", lambda: "sync finished" in open(log3).read() and
                 pod_stats(stats)["runs_left"] == 0, d, log3)
        d.send_signal(signal.SIGTERM)
        rc = d.wait(timeout=60)
    check(rc == 0, "gaitd 3 exit %r" % rc)
    k2, src2, text3 = resumed_at(log3)
    check(k2 >= k1 + 200 and src2 != p1, "resumed at frame %d from %s (the first copy had %d)"
          % (k2, src2, k1))
    st3 = settled_stats(stats)
    sent3 = st3["run_frames_sent"] - st2["run_frames_sent"]
    # the pod was asked for the rest only (it also flushes what it had queued for the stopped
    # gaitd, which the new one discards as stale)
    check(st2["read_first"] == k1 and st3["read_first"] == k2,
          "READ_RUN first_frame %d / %d, expected %d / %d" % (st2["read_first"],
                                                              st3["read_first"], k1, k2))
    check(sent3 >= RUN_FRAMES - k2, "pod sent %d run frames to gaitd 3, which held %d of %d"
          % (sent3, k2, RUN_FRAMES))
    for x in (p1, src2):
        check(not os.path.exists(x) and "removed %s" % x in text3, "%s not removed" % x)
    check("junk.gaitrec.partial.3: not resumed from" in text3 or "junk" not in text3,
          "junk file: %s" % [ln for ln in text3.splitlines() if "junk" in ln])
    print("3: resumed at frame %d from %s; pod sent %d + %d run frames after the restarts"
          % (k2, os.path.basename(src2), sent2, sent3))


def outer(umockpod_run):
    tmp = tempfile.mkdtemp(prefix="gaitd-resume-")
    data = os.path.join(tmp, "data")
    os.mkdir(data)
    db = os.path.join(data, "catalog.db")
    try:
        r = subprocess.run([umockpod_run, "--pod", "%s:L:runs=1:run_s=60:read_speed=10" % SERIAL,
                            "--stats", os.path.join(tmp, "stats.jsonl"), "--stats-period", "0.1",
                            "--", "/usr/bin/python3", os.path.abspath(__file__), "--inner", tmp],
                           timeout=600)
        check(r.returncode == 0, "the driver failed (exit %d)" % r.returncode)

        con = sqlite3.connect("file:%s?mode=ro" % db, uri=True, timeout=10)
        rows = con.execute("SELECT id, source, state, recording FROM sessions").fetchall()
        runs = con.execute("SELECT pod_serial, run_id, session_id FROM runs_synced").fetchall()
        con.close()
        check(len(rows) == 1 and rows[0][1:3] == ("usb-sync", "synced"), "sessions %r" % rows)
        check(runs == [(SERIAL, 1, rows[0][0])], "runs_synced %r" % runs)
        rec = rows[0][3]
        check_every_frame_once(GAITCTL, rec, tmp, RUN_FRAMES)
        left = sorted(os.listdir(data))
        check([x for x in left if "partial" in x] == ["junk.gaitrec.partial.3"],
              "files left %r" % left)
        print("one synced session, its recording whole (%d frames once each), copies removed"
              % RUN_FRAMES)
    except SystemExit:
        print_logs(tmp)
        raise
    finally:
        remove_unless_kept(tmp)
    print("ok")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--inner":
        inner(sys.argv[2])
    else:
        outer(sys.argv[1])
