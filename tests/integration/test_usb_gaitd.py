#!/usr/bin/env python3
"""The real gaitd with `--usb` against emulated pods (tests/umockpod, via umockpod_run, which
answers the daemon's usbdevfs ioctls from its own process like umockdev-run).

1. Two pods (L, R) streaming simulated running at 10x real time, `--duration 40 --record DIR`:
   gaitd finds, identifies and syncs both, streams, publishes strides of both feet and a summary
   (cadence of the simulator's 170 steps/min), exits 0; every frame the pods sent up to the end
   of the session is in the recording (`gaitctl analyze` finds the strides), no CRC error.
2. Real time, the left pod unplugged at 4 s and plugged back at 6 s (`--duration 12 --record`):
   gaitd keeps running, the pod comes back and streams again (left strides after the gap), exit
   0; `gaitd --replay` of that recording publishes the very same strides (the replugged pod's
   frames are on the session's clock and its restart is in the recording).
Usage: test_usb_gaitd.py UMOCKPOD_RUN
"""
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import zmq

from gaitdtest import BIN, check, subscriber


def run(tmp, name, pod_args, gaitd_args, timeout):
    """Runs umockpod_run ... -- gaitd --usb with a subscriber; returns (messages, stats, stderr)."""
    pub = "ipc://%s/%s-pub" % (tmp, name)
    ctx = zmq.Context.instance()
    sub = subscriber(ctx, pub)
    stats = os.path.join(tmp, name + "-stats.jsonl")
    cmd = ([sys.argv[1]] + pod_args + ["--stats", stats, "--",
           os.path.join(BIN, "gaitd"), "--usb", "--pub", pub,
           "--control", "ipc://%s/%s-ctl" % (tmp, name), "--status-period", "1"] + gaitd_args)
    d = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True)
    out = []
    t0 = time.time()
    try:
        while time.time() - t0 < timeout:
            if sub.poll(100):
                topic, body = sub.recv_multipart()
                out.append((topic.decode(), json.loads(body)))
            elif d.poll() is not None and not sub.poll(500):
                break
        rc = d.wait(timeout=20)
        err = d.stderr.read()
        check(rc == 0, "%s: exit %r\n%s" % (" ".join(cmd), rc, err[-4000:]))
    finally:
        if d.poll() is None:
            d.kill()
        sub.close()
    with open(stats) as f:
        pods = [json.loads(line) for line in f]
    return out, {p["serial"]: p for p in pods}, err


def replay_strides(tmp, path):
    """gaitd --replay PATH --speed 0 with a subscriber: the sorted (foot, t_ic, stride_s)."""
    pub = "ipc://%s/replay-pub" % tmp
    ctx = zmq.Context.instance()
    sub = subscriber(ctx, pub)
    d = subprocess.Popen([os.path.join(BIN, "gaitd"), "--replay", path, "--speed", "0", "--pub", pub,
                          "--control", "ipc://%s/replay-ctl" % tmp, "--wait-subscriber", "5"],
                         stderr=subprocess.PIPE, text=True)
    out = []
    t0 = time.time()
    try:
        while time.time() - t0 < 60:
            if sub.poll(100):
                topic, body = sub.recv_multipart()
                if topic.decode().endswith("/stride"):
                    out.append(json.loads(body))
            elif d.poll() is not None and not sub.poll(500):
                break
        rc = d.wait(timeout=20)
        check(rc == 0, "replay exit %r\n%s" % (rc, d.stderr.read()[-3000:]))
    finally:
        if d.poll() is None:
            d.kill()
        sub.close()
    return sorted((s["foot"], round(s["t_ic"], 6), round(s["stride_s"], 6)) for s in out)


def strides(msgs, foot=None):
    return [b for t, b in msgs if t.endswith("/stride") and (foot is None or b.get("foot") == foot)]


def main():
    tmp = tempfile.mkdtemp(prefix="gaitd-usb-")
    try:
        # 1. Two pods, 10x real time.
        recdir = os.path.join(tmp, "rec")
        os.mkdir(recdir)
        msgs, pods, err = run(tmp, "a", ["--pod", "GP-L-0001:L:speed=10", "--pod", "GP-R-0002:R:speed=10"],
                              ["--duration", "40", "--record", recdir], 120)
        topics = sorted({t for t, _ in msgs})
        check(all(t.startswith("gait/usb1/") for t in topics), "topics %r" % topics)
        sl, sr = strides(msgs, "L"), strides(msgs, "R")
        check(len(sl) > 40 and len(sr) > 40, "strides L %d R %d\n%s" % (len(sl), len(sr), err[-3000:]))
        summ = [b for t, b in msgs if t.endswith("/summary")]
        check(len(summ) == 1, "summaries: %d" % len(summ))
        cad = summ[0].get("cadence_spm")
        check(cad is not None and abs(cad - 170) < 6, "cadence %r" % cad)
        for serial in ("GP-L-0001", "GP-R-0002"):
            p = pods[serial]
            check(p["start_stream"] == 1 and p["stop_stream"] == 1, "%s: %r" % (serial, p))
            check(p["live_frames_sent"] >= 40 * 500 / 25, "%s: %r" % (serial, p))
        status = [b for t, b in msgs if t.endswith("/status")]
        check(status, "no status message")
        files = glob.glob(os.path.join(recdir, "*.gaitrec"))
        check(len(files) == 1, "recordings %r" % os.listdir(recdir))
        g = subprocess.run([os.path.join(BIN, "gaitctl"), "analyze", files[0]],
                           capture_output=True, text=True, timeout=120)
        check(g.returncode == 0, "gaitctl analyze: %s" % g.stderr)
        lines = [json.loads(x) for x in g.stdout.splitlines() if x.strip()]
        an = [x for x in lines if x.get("type") == "stride"]
        check(abs(len(an) - len(sl) - len(sr)) <= 4,
              "analyze found %d strides, live %d" % (len(an), len(sl) + len(sr)))
        print("two pods: %d + %d strides, cadence %.1f, %d frames sent by the pods"
              % (len(sl), len(sr), cad, sum(p["live_frames_sent"] for p in pods.values())))

        # 2. Real time; the left pod unplugged at 4 s, plugged back at 6 s.
        rec2 = os.path.join(tmp, "rec2")
        os.mkdir(rec2)
        msgs, pods, err = run(tmp, "b", ["--pod", "GP-L-0001:L:speed=1", "--pod", "GP-R-0002:R:speed=1",
                                         "--unplug-at", "4", "--replug-at", "6"],
                              ["--duration", "12", "--record", rec2], 120)
        p = pods["GP-L-0001"]
        check(p["plugs"] == 2 and p["start_stream"] == 2, "left pod %r" % p)
        check("unplugged" in err and "back" in err, "daemon log:\n%s" % err[-3000:])
        sl = strides(msgs, "L")
        check(sl, "no left strides")
        t_first = min(s["t_ic"] for s in strides(msgs))
        late = [s for s in sl if s["t_ic"] - t_first > 7]
        check(late, "no left stride after the replug: %r" % [s["t_ic"] - t_first for s in sl])
        check(len(strides(msgs, "R")) > len(sl), "right pod kept streaming")
        files = glob.glob(os.path.join(rec2, "*.gaitrec"))
        check(len(files) == 1, "recordings %r" % os.listdir(rec2))
        replay = replay_strides(tmp, files[0])
        live = sorted((s["foot"], round(s["t_ic"], 6), round(s["stride_s"], 6)) for s in strides(msgs))
        check(replay == live, "replay strides differ:\nlive   %r\nreplay %r" % (live, replay))
        print("unplug/replug: %d left strides, %d after the replug; replay identical (%d strides)"
              % (len(sl), len(late), len(replay)))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
