#!/usr/bin/env python3
"""SIGTERM and SIGINT stop gaitd cleanly: exit 0, the summary of every running session is
published before exit, and the recording is complete (closed with every chunk intact, so
`gaitctl analyze` reads it without damage). SIGINT works even when it was ignored at start (as
for a shell's background job). Also: a SIGTERM while waiting for a subscriber, and `gaitctl
watch` ending with exit 0 on SIGTERM and SIGINT."""
import glob
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time

import zmq

from gaitdtest import BIN, check, request, subscriber




def ignore_sigint():
    """What a non-interactive shell does to background jobs: SIGINT ignored at exec."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def stop_run(tmp, tag, sig, extra, min_strides=4, preexec=None):
    pub = "ipc://%s/%s-pub" % (tmp, tag)
    ctx = zmq.Context.instance()
    sub = subscriber(ctx, pub)
    d = subprocess.Popen([os.path.join(BIN, "gaitd"), "--pub", pub, "--control",
                          "ipc://%s/%s-ctl" % (tmp, tag), "--wait-subscriber", "5"] + extra,
                         stderr=subprocess.PIPE, text=True, preexec_fn=preexec)
    msgs = []
    sent = None
    try:
        t0 = time.time()
        while time.time() - t0 < 40:
            if sub.poll(100):
                topic, body = sub.recv_multipart()
                msgs.append((topic.decode(), json.loads(body)))
            strides = sum(1 for t, _ in msgs if t.endswith("/stride"))
            if sent is None and strides >= min_strides:
                d.send_signal(sig)
                sent = time.time()
            if sent is not None and d.poll() is not None and not sub.poll(500):
                break
        check(sent is not None, "%s: no strides before the signal" % tag)
        rc = d.wait(timeout=10)
        err = d.stderr.read()
        check(rc == 0, "%s: exit %r after %s\n%s" % (tag, rc, sig.name, err))
        check(time.time() - sent < 10, "%s: slow stop" % tag)
    finally:
        if d.poll() is None:
            d.kill()
        sub.close()
    summ = [m for t, m in msgs if t.endswith("/summary")]
    check(len(summ) == 1, "%s: %d summaries after %s" % (tag, len(summ), sig.name))
    check(summ[0]["type"] == "summary", "summary type")
    return msgs, summ[0]


def main():
    tmp = tempfile.mkdtemp(prefix="gaitd-sig-")
    try:
        rec = os.path.join(tmp, "rec")
        os.mkdir(rec)
        # SIGTERM during a live simulated session (no --duration: it would run for hours).
        _, summ = stop_run(tmp, "term", signal.SIGTERM, ["--simulate", "1", "--record", rec])
        files = glob.glob(os.path.join(rec, "sim1-*.gaitrec"))
        check(len(files) == 1, "recordings %r" % os.listdir(rec))
        check(summ.get("recording") == files[0], "summary names the recording")
        a = subprocess.run([os.path.join(BIN, "gaitctl"), "analyze", files[0]],
                           capture_output=True, text=True, timeout=60)
        check(a.returncode == 0, "recording after SIGTERM is damaged: %s" % a.stderr)
        n = sum(1 for ln in a.stdout.splitlines() if json.loads(ln)["type"] == "stride")
        check(n >= summ["n_strides"]["L"] + summ["n_strides"]["R"] - 2,
              "recording holds fewer strides (%d) than the session (%r)" % (n, summ["n_strides"]))

        # SIGINT during a real-time replay of that recording, started as a shell would start a
        # background job (SIGINT ignored on entry): gaitd must still stop on it.
        _, summ2 = stop_run(tmp, "int", signal.SIGINT, ["--replay", files[0]], min_strides=2,
                            preexec=ignore_sigint)
        check(summ2["athlete"] == "sim1", "replayed athlete %r" % summ2["athlete"])

        # SIGTERM before any source started (waiting for a subscriber that never comes).
        d = subprocess.Popen([os.path.join(BIN, "gaitd"), "--pub", "ipc://%s/w-pub" % tmp,
                              "--control", "ipc://%s/w-ctl" % tmp, "--simulate", "1",
                              "--wait-subscriber", "60"], stderr=subprocess.PIPE, text=True)
        # wait until it serves control requests (its signal handling is set up by then), so a
        # slow start (valgrind, a loaded machine) is not mistaken for a failure to stop cleanly
        ready = False
        with zmq.Context() as zctx:
            for _ in range(100):
                try:
                    ready = request(zctx, "ipc://%s/w-ctl" % tmp, b'{"cmd":"ping"}', 500).get("pong")
                except zmq.error.Again:
                    pass
                if ready or d.poll() is not None:
                    break
        check(ready, "gaitd waiting for a subscriber does not answer ping")
        d.send_signal(signal.SIGTERM)
        rc = d.wait(timeout=10)
        check(rc == 0, "exit %r when stopped before starting: %s" % (rc, d.stderr.read()))

        # gaitctl watch: exit 0 on SIGTERM.
        for sig in (signal.SIGTERM, signal.SIGINT):
            w = subprocess.Popen([os.path.join(BIN, "gaitctl"), "watch", "ipc://%s/none" % tmp],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                 preexec_fn=ignore_sigint)
            time.sleep(0.5)
            w.send_signal(sig)
            out, err = w.communicate(timeout=10)
            check(w.returncode == 0, "gaitctl watch exit %r on %s: %s"
                  % (w.returncode, sig.name, err))
        print("ok")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
