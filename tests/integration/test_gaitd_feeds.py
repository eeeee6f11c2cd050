#!/usr/bin/env python3
"""gaitd end to end: `gaitd --simulate 2` with an injected asymmetry on athlete 2, a pyzmq
subscriber in this process, the control endpoint queried while it runs, and `gaitctl watch`
alongside. Checks the contract fields of stride, window, status and summary messages for both
athletes, that the daemon ends by itself after --duration with exit 0, and that the injected
left-contact asymmetry shows in sim2's symmetry index and not in sim1's."""
import json
import os
import shutil
import subprocess
import tempfile
import time

import zmq

from gaitdtest import BIN, check, request, subscriber
DURATION = 20





def main():
    tmp = tempfile.mkdtemp(prefix="gaitd-feeds-")
    pub, ctl = "ipc://%s/pub" % tmp, "ipc://%s/ctl" % tmp
    ctx = zmq.Context()
    sub = subscriber(ctx, pub, b"gait/")
    watch = subprocess.Popen([os.path.join(BIN, "gaitctl"), "watch", "--count", "5",
                              "--timeout", "30", pub, "gait/sim2/"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(0.3)
    d = subprocess.Popen([os.path.join(BIN, "gaitd"), "--pub", pub, "--control", ctl,
                          "--simulate", "2", "--sim-asym", "2:contact=1.08,1", "--duration",
                          str(DURATION), "--wait-subscriber", "5"],
                         stderr=subprocess.PIPE, text=True)
    msgs = []
    control_checked = False
    t0 = time.time()
    try:
        while time.time() - t0 < DURATION + 30:
            if sub.poll(100):
                topic, body = sub.recv_multipart()
                msgs.append((topic.decode(), json.loads(body)))
            if not control_checked and time.time() - t0 > 6:
                # Control endpoint while feeds flow: status, errors, and still serving.
                r = request(ctx, ctl, b'{"cmd":"status"}')
                check(r.get("ok") is True, "status reply not ok: %r" % r)
                names = sorted(a["athlete"] for a in r["athletes"])
                check(names == ["sim1", "sim2"], "status athletes %r" % names)
                check(r["daemon"]["uptime_s"] > 0, "uptime")
                r = request(ctx, ctl, b'{"cmd": ')
                check(r.get("ok") is False and r["error"]["code"] == "bad_json", repr(r))
                r = request(ctx, ctl, b'{"cmd":"self_destruct"}')
                check(r["error"]["code"] == "unknown_command", repr(r))
                check("self_destruct" in r["error"]["message"], repr(r))
                r = request(ctx, ctl, b'{"cmd":"status"}')
                check(r.get("ok") is True, "daemon stopped serving after errors")
                control_checked = True
            if d.poll() is not None and not sub.poll(300):
                break
        rc = d.wait(timeout=10)
        err = d.stderr.read()
        check(rc == 0, "gaitd exit status %r\n%s" % (rc, err))
        check(control_checked, "control not checked")
        wout, werr = watch.communicate(timeout=30)
        check(watch.returncode == 0, "gaitctl watch exit %r: %s" % (watch.returncode, werr))
        lines = wout.splitlines()
        check(len(lines) == 5, "gaitctl watch --count 5 printed %d lines" % len(lines))
        for ln in lines:
            o = json.loads(ln)
            check(o["topic"].startswith("gait/sim2/"), "watch topic %r" % o["topic"])
            check(o["topic"] == "gait/%s/%s" % (o["athlete"], o["type"]), "watch line %r" % ln)
    finally:
        if d.poll() is None:
            d.kill()
        if watch.poll() is None:
            watch.kill()
        shutil.rmtree(tmp, ignore_errors=True)

    by = {}
    for topic, m in msgs:
        by.setdefault(topic, []).append(m)
    for a in ("sim1", "sim2"):
        for kind in ("stride", "window", "status", "summary"):
            t = "gait/%s/%s" % (a, kind)
            check(t in by, "no %s messages (got %s)" % (t, sorted(by)))
            for m in by[t]:
                check(m["type"] == kind and m["athlete"] == a, "topic/body mismatch %s %r" % (t, m))
                check(m.get("v") == 1, "protocol version in %s" % t)
        strides = by["gait/%s/stride" % a]
        # about 170 steps/min: ~28 strides per foot in 20 s; stride detection accuracy is
        # tested with the dsp library, here the feed only needs a steady flow of strides.
        check(len(strides) >= 20, "%s: only %d strides" % (a, len(strides)))
        for s in strides:
            for k in ("foot", "t_ic", "t_to", "t_next_ic", "stride_s", "contact_s"):
                check(k in s, "%s stride lacks %s" % (a, k))
            check(s["foot"] in ("L", "R"), "foot %r" % s["foot"])
            check(s["t_ic"] < s["t_to"] < s["t_next_ic"], "stride event order %r" % s)
            check(abs(s["stride_s"] - (s["t_next_ic"] - s["t_ic"])) < 1e-6, "stride_s")
        feet = {s["foot"] for s in strides}
        check(feet == {"L", "R"}, "%s strides of feet %r" % (a, feet))
        windows = by["gait/%s/window" % a]
        check(len(windows) >= 3, "%s: %d windows in %d s" % (a, len(windows), DURATION))
        check("symmetry" in windows[-1] and "contact_si_pct" in windows[-1]["symmetry"],
              "window symmetry")
        st = by["gait/%s/status" % a]
        check(len(st) >= 5, "%s: %d status messages" % (a, len(st)))
        last = st[-1]
        for k in ("samples", "frames_ok", "crc_errors", "gaps", "frames_lost", "strides",
                  "pipeline_lag_s", "recording", "daemon"):
            check(k in last, "status lacks %s: %r" % (k, last))
        check(last["samples"]["L"] == last["samples"]["R"] > 0, "samples %r" % last["samples"])
        check(last["crc_errors"] == 0 and last["gaps"] == 0, "stream errors %r" % last)
        check(last["frames_ok"] > 0, "frames_ok")
        for k in ("uptime_s", "drops"):
            check(k in last["daemon"], "status daemon lacks %s" % k)
        check(last["daemon"]["drops"] == 0, "drops %r" % last["daemon"])
        summ = by["gait/%s/summary" % a]
        check(len(summ) == 1, "%s: %d summaries" % (a, len(summ)))
        check(abs(summ[0]["duration_s"] - DURATION) < 0.5, "duration %r" % summ[0]["duration_s"])
        check(summ[0]["cadence_spm"] > 150, "cadence %r" % summ[0]["cadence_spm"])
        # massage focus: the final list on the feed, and the same list in the summary
        fin = [m for m in by.get("gait/%s/focus" % a, []) if m.get("final")]
        check(len(fin) == 1, "%s: %d final focus messages" % (a, len(fin)))
        check("not medical diagnoses" in fin[0]["disclaimer"], "focus disclaimer")
        check(summ[0]["focus"] == fin[0]["focus"], "%s: summary focus differs" % a)
        for f in fin[0]["focus"]:
            check(f["side"] in ("L", "R", "both") and 0 <= f["score"] <= 1 and f["evidence"],
                  "focus entry %r" % f)

    si1 = by["gait/sim1/summary"][0]["symmetry"]["contact_si_pct"]
    si2 = by["gait/sim2/summary"][0]["symmetry"]["contact_si_pct"]
    print("contact SI: sim1 %.2f %%, sim2 %.2f %%" % (si1, si2))
    check(abs(si1) < 3.0, "sim1 should be symmetric, contact SI %.2f" % si1)
    check(si2 > 4.0, "sim2 left contact +8%% should show, contact SI %.2f" % si2)
    side1 = [f for f in by["gait/sim1/summary"][0]["focus"] if f["side"] != "both"]
    check(all(f["score"] <= 0.3 for f in side1), "sim1 symmetric: side-specific focus %r" % side1)
    print("ok: %d messages" % len(msgs))


if __name__ == "__main__":
    main()
