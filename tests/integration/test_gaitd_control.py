#!/usr/bin/env python3
"""gaitd's control endpoint and command line: {"cmd":"status"} and {"cmd":"ping"} answer, and
malformed JSON, a non-object, a missing "cmd" and an unknown command each get an error reply
with a code while the daemon keeps serving; --help, bad options (exit 2); `gaitctl watch --count/--timeout` print JSON lines with "topic"."""
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time

import zmq

from gaitdtest import BIN, check




def main():
    gaitd = os.path.join(BIN, "gaitd")
    gaitctl = os.path.join(BIN, "gaitctl")
    h = subprocess.run([gaitd, "--help"], capture_output=True, text=True, timeout=10)
    check(h.returncode == 0 and "--sim-asym" in h.stdout and "--replay" in h.stdout, "--help")
    b = subprocess.run([gaitd, "--no-such-option"], capture_output=True, text=True, timeout=10)
    check(b.returncode == 2 and "--no-such-option" in b.stderr, "bad option: %r" % b.stderr)
    b = subprocess.run([gaitd, "--simulate", "1", "--sim-asym", "3:contact=1.1,1"],
                       capture_output=True, text=True, timeout=10)
    check(b.returncode == 2, "asymmetry for an athlete that is not simulated")
    b = subprocess.run([gaitd, "--replay", "/nonexistent.gaitrec", "--pub", "inproc://x",
                        "--control", "inproc://y"], capture_output=True, text=True, timeout=10)
    check(b.returncode == 1 and "/nonexistent.gaitrec" in b.stderr, "missing replay file")

    tmp = tempfile.mkdtemp(prefix="gaitd-ctl-")
    pub, ctl = "ipc://%s/pub" % tmp, "ipc://%s/ctl" % tmp
    d = subprocess.Popen([gaitd, "--pub", pub, "--control", ctl,
                          "--status-period", "0.2", "--simulate", "1", "--speed", "1"],
                         stderr=subprocess.PIPE, text=True)
    ctx = zmq.Context()
    try:
        req = ctx.socket(zmq.REQ)
        req.setsockopt(zmq.LINGER, 0)
        req.setsockopt(zmq.RCVTIMEO, 5000)
        req.connect(ctl)

        def ask(raw):
            req.send(raw)
            return json.loads(req.recv())

        r = ask(b'{"cmd":"ping"}')
        check(r == {"ok": True, "pong": True}, "ping: %r" % r)
        cases = [(b"{not json", "bad_json"), (b"", "bad_json"), (b"[1,2,3]", "bad_json"),
                 (b'{"command":"status"}', "bad_request"), (b'{"cmd":42}', "bad_request"),
                 (b'{"cmd":"reboot"}', "unknown_command")]
        for raw, code in cases:
            r = ask(raw)
            check(r.get("ok") is False, "%r: %r" % (raw, r))
            check(r["error"]["code"] == code, "%r: code %r, want %s" % (raw, r["error"], code))
            check(isinstance(r["error"]["message"], str) and r["error"]["message"], "message")
            r = ask(b'{"cmd":"status"}')
            check(r.get("ok") is True, "status after %r: %r" % (raw, r))
        check(r["daemon"]["version"], "daemon version")
        check([a["athlete"] for a in r["athletes"]] == ["sim1"], "athletes %r" % r["athletes"])
        check(r["athletes"][0]["type"] == "status", "athlete status")

        # gaitctl watch: --count N lines of JSON with the topic, then --timeout with no match.
        w = subprocess.run([gaitctl, "watch", "--count", "3", "--timeout", "20", pub,
                            "gait/sim1/status"], capture_output=True, text=True, timeout=30)
        check(w.returncode == 0, "watch exit %d: %s" % (w.returncode, w.stderr))
        lines = w.stdout.splitlines()
        check(len(lines) == 3, "watch --count 3 printed %r" % lines)
        for ln in lines:
            o = json.loads(ln)
            check(o["topic"] == "gait/sim1/status" and o["type"] == "status", ln)
            check(list(o)[0] == "topic", "topic comes first: %s" % ln)
        t0 = time.time()
        w = subprocess.run([gaitctl, "watch", "--timeout", "1", pub, "gait/nobody/"],
                           capture_output=True, text=True, timeout=30)
        check(w.returncode == 0 and w.stdout == "", "watch --timeout: %r" % w.stdout)
        check(time.time() - t0 < 5, "watch --timeout 1 took %.1f s" % (time.time() - t0))
        w = subprocess.run([gaitctl, "watch"], capture_output=True, text=True, timeout=10)
        check(w.returncode == 2, "watch without endpoint: exit %d" % w.returncode)
        req.close()
    finally:
        d.send_signal(signal.SIGTERM)
        try:
            rc = d.wait(timeout=10)
        except subprocess.TimeoutExpired:
            d.kill()
            rc = None
        err = d.stderr.read()
        ctx.term()
        shutil.rmtree(tmp, ignore_errors=True)
    check(rc == 0, "gaitd exit %r: %s" % (rc, err))
    print("ok")


if __name__ == "__main__":
    main()
