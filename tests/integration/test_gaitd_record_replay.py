#!/usr/bin/env python3
"""gaitd --simulate 1 --record DIR (real time), then gaitd --replay of that recording with
--speed 0: the replay goes through the same decode path, so its stride and window messages must
be identical, byte for byte, to the live ones, and the summaries equal (apart from the
recording's file name). `gaitctl analyze` of the recording finds the same strides with the same
durations (its output rounds to 10 significant digits, so absolute times are compared loosely).
The same gaitd run also replays a gait CSV v1 file (--replay given twice, one athlete each),
whose strides must match `gaitctl analyze` of that CSV."""
import glob
import json
import os
import shutil
import subprocess
import tempfile
import time

import zmq

from gaitdtest import BIN, check, subscriber
DURATION = 12




def run(args, pub, timeout):
    """Runs gaitd with a subscriber connected first; returns the raw (topic, body) list."""
    ctx = zmq.Context.instance()
    sub = subscriber(ctx, pub)
    d = subprocess.Popen([os.path.join(BIN, "gaitd"), "--pub", pub, "--wait-subscriber", "5"]
                         + args, stderr=subprocess.PIPE, text=True)
    out = []
    t0 = time.time()
    try:
        while time.time() - t0 < timeout:
            if sub.poll(100):
                topic, body = sub.recv_multipart()
                out.append((topic.decode(), body.decode()))
            elif d.poll() is not None and not sub.poll(500):
                break
        rc = d.wait(timeout=10)
        err = d.stderr.read()
        check(rc == 0, "gaitd %s: exit %r\n%s" % (args, rc, err))
    finally:
        if d.poll() is None:
            d.kill()
        sub.close()
    return out


def kind(msgs, k):
    return [b for t, b in msgs if t.endswith("/" + k)]


def main():
    tmp = tempfile.mkdtemp(prefix="gaitd-rr-")
    try:
        recdir = os.path.join(tmp, "rec")
        os.mkdir(recdir)
        live = run(["--control", "ipc://%s/c1" % tmp, "--simulate", "1", "--sim-seed", "5",
                    "--duration", str(DURATION), "--record", recdir],
                   "ipc://%s/p1" % tmp, DURATION + 30)
        files = glob.glob(os.path.join(recdir, "sim1-*.gaitrec"))
        check(len(files) == 1, "recordings: %r" % os.listdir(recdir))
        check(os.path.getsize(files[0]) > 100000, "recording size %d" % os.path.getsize(files[0]))
        csv = os.path.join(tmp, "csvrunner.csv")
        g = subprocess.run([os.path.join(BIN, "gaitctl"), "simulate", "--duration", "10",
                            "--seed", "9", "--contact-scale", "1,1.06", csv],
                           capture_output=True, text=True, timeout=60)
        check(g.returncode == 0, "gaitctl simulate: %s" % g.stderr)
        t0 = time.time()
        both = run(["--control", "ipc://%s/c2" % tmp, "--replay", files[0], "--replay", csv,
                    "--speed", "0"], "ipc://%s/p2" % tmp, 30)
        replay_s = time.time() - t0
        replay = [(t, b) for t, b in both if t.startswith("gait/sim1/")]
        other = [(t, b) for t, b in both if not t.startswith("gait/sim1/")]
        check(replay and other, "topics: %r" % sorted({t for t, _ in both}))

        ls, rs = kind(live, "stride"), kind(replay, "stride")
        check(len(ls) >= 10, "live strides: %d" % len(ls))
        check(len(ls) == len(rs), "stride counts differ: live %d replay %d" % (len(ls), len(rs)))
        for i, (a, b) in enumerate(zip(ls, rs)):
            check(a == b, "stride %d differs:\nlive   %s\nreplay %s" % (i, a, b))
        lw, rw = kind(live, "window"), kind(replay, "window")
        check(len(lw) >= 2 and lw == rw, "window messages differ (%d vs %d)" % (len(lw), len(rw)))
        lsum, rsum = json.loads(kind(live, "summary")[0]), json.loads(kind(replay, "summary")[0])
        check(lsum.pop("recording", "").startswith(recdir), "live summary names its recording")
        check(lsum == rsum, "summaries differ:\n%s\n%s" % (lsum, rsum))
        check(replay_s < DURATION, "replay --speed 0 took %.1f s" % replay_s)

        # gaitctl analyze of the recording: same strides, same times.
        a = subprocess.run([os.path.join(BIN, "gaitctl"), "analyze", files[0]],
                           capture_output=True, text=True, timeout=60)
        check(a.returncode == 0, "gaitctl analyze exit %d: %s" % (a.returncode, a.stderr))
        an = [json.loads(x) for x in a.stdout.splitlines()]
        an = {(s["foot"], s["index"]): s for s in an if s["type"] == "stride"}
        lv = {(s["foot"], s["index"]): s for s in map(json.loads, ls)}
        check(set(an) == set(lv), "analyze strides %d vs live %d" % (len(an), len(lv)))
        for k, s in lv.items():
            for f in ("contact_s", "stride_s", "swing_s"):
                check(abs(s[f] - an[k][f]) < 1e-6, "analyze %s %s: %r vs live %r"
                      % (k, f, an[k][f], s[f]))
            check(abs(s["t_ic"] - an[k]["t_ic"]) < 1.0, "analyze %s t_ic: %r vs live %r"
                  % (k, an[k]["t_ic"], s["t_ic"]))

        # The CSV replayed in the same run: strides as `gaitctl analyze` finds them.
        a = subprocess.run([os.path.join(BIN, "gaitctl"), "analyze", csv],
                           capture_output=True, text=True, timeout=60)
        check(a.returncode == 0, "gaitctl analyze %s: %s" % (csv, a.stderr))
        an = [json.loads(x) for x in a.stdout.splitlines()]
        an = {(s["foot"], s["index"]): s for s in an if s["type"] == "stride"}
        cs = {(s["foot"], s["index"]): s for s in map(json.loads, kind(other, "stride"))}
        check(len(cs) >= 10 and set(cs) == set(an), "CSV strides %d vs analyze %d"
              % (len(cs), len(an)))
        for k, s in cs.items():
            for f in ("t_ic", "t_to", "t_next_ic", "contact_s", "stride_s"):
                check(abs(s[f] - an[k][f]) < 1e-6, "CSV replay %s %s: %r vs analyze %r"
                      % (k, f, s[f], an[k][f]))
        check(len(kind(other, "summary")) == 1, "CSV replay summary")
        print("ok: %d strides and %d windows identical; replay took %.2f s; CSV %d strides"
              % (len(ls), len(lw), replay_s, len(cs)))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
