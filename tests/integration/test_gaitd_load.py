#!/usr/bin/env python3
"""gaitd under load (issue 6): real gaitd processes, real ZeroMQ sockets, pyzmq clients here.

(a) stuck subscriber: `--simulate 20 --speed 20 --window-period 0.5` publishes tens of thousands
    of messages while one subscriber never reads (speed 20 rather than 0 so that the reading
    subscriber, Python, keeps up and must lose nothing). The daemon keeps publishing everything to a
    second, reading subscriber, `status` counts drops (daemon.drops), gaitd ends by itself, and
    its peak RSS stays within a bound derived from the send HWM of a reference run without the
    stuck subscriber (unbounded queueing would add tens of MB).
(b) 100 subscribers at once: each receives every stride and both summaries of a short session.
(c) control flood: thousands of status/ping requests and malformed ones as fast as possible
    while a session runs: every request gets a reply, feeds keep flowing (strides arrive during
    the flood, none lost), memory bounded.
No timed assertions: waits have generous timeouts; latencies are measured by scripts/bench_live.
"""
import json
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time

import zmq

from gaitdtest import BIN, RssSampler, check, fail, request, subscriber

HWM = 1000                       # --hwm of run (a)
SPEED = 20                       # run (a): 300 s of data in ~15 s
DATA_S = 300
MIB = 1024


def gaitd(args):
    env = dict(os.environ)
    # In a sanitizer build, ASan's quarantine of freed memory (256 MB by default) would dominate
    # RSS; keep it small so the memory bounds measure gaitd. Ignored by ordinary builds.
    env["ASAN_OPTIONS"] = ":".join(x for x in (env.get("ASAN_OPTIONS"),
                                               "quarantine_size_mb=4") if x)
    # stderr to a file: a pipe read only at the end could fill up and block gaitd's logging
    errf = tempfile.TemporaryFile(mode="w+")
    d = subprocess.Popen([os.path.join(BIN, "gaitd")] + args, stderr=errf,
                         stdout=subprocess.DEVNULL, env=env)
    d.errf = errf
    return d


def err_tail(d):
    d.errf.seek(0)
    return d.errf.read()[-2000:]


def drain(sub, proc, out, timeout_s=240):
    """Receives into out [(topic, obj)] until proc has exited and the socket is quiet."""
    t0 = time.time()
    while time.time() - t0 < timeout_s:
        if sub.poll(100):
            topic, body = sub.recv_multipart()
            out.append((topic.decode(), json.loads(body)))
        elif proc.poll() is not None and not sub.poll(500):
            return
    fail("gaitd did not end within %d s" % timeout_s)


def last_status(msgs):
    st = {}
    for topic, m in msgs:
        if m.get("type") == "status":
            st[m["athlete"]] = m
    return st


def strides_of(msgs):
    return [(m["athlete"], m["foot"], m["index"]) for _, m in msgs if m.get("type") == "stride"]


def run_a(ctx, tmp, stuck_too):
    """One fast run with a reading subscriber (and a stuck one). Returns (msgs, peak RSS)."""
    tag = "a%d" % stuck_too
    pub = "ipc://%s/%s-pub" % (tmp, tag)
    ctl = "ipc://%s/%s-ctl" % (tmp, tag)
    reader = subscriber(ctx, pub, b"gait/")
    stuck = None
    d = gaitd(["--pub", pub, "--control", ctl, "--simulate", "20", "--speed", str(SPEED),
               "--duration", str(DATA_S), "--sim-plan", "run:500@170", "--window-period", "0.5",
               "--status-period", "0.5", "--hwm", str(HWM), "--wait-subscriber", "20"])
    rss = RssSampler(d.pid)
    msgs = []
    try:
        if stuck_too:
            # Connects once the reader is served, then never reads: small queues everywhere.
            while not reader.poll(100):
                check(d.poll() is None, "gaitd ended early")
            topic, body = reader.recv_multipart()
            msgs.append((topic.decode(), json.loads(body)))
            stuck = ctx.socket(zmq.SUB)
            stuck.setsockopt(zmq.RCVHWM, 10)
            stuck.setsockopt(zmq.RCVBUF, 4096)
            stuck.setsockopt(zmq.LINGER, 0)
            stuck.connect(pub)
            stuck.setsockopt(zmq.SUBSCRIBE, b"")
            # The control endpoint answers while the stuck subscriber is attached.
            r = request(ctx, ctl, b'{"cmd":"status"}', timeout_ms=30000)
            check(r.get("ok") is True, "status under load: %r" % r)
        drain(reader, d, msgs)
        rc = d.wait(timeout=60)
        check(rc == 0, "gaitd (a) exit %r: %s" % (rc, err_tail(d)))
    finally:
        if d.poll() is None:
            d.kill()
        peak = rss.stop()
        reader.close()
        if stuck is not None:
            stuck.close()
    return msgs, peak


def test_stuck_subscriber(ctx, tmp):
    ref, ref_peak = run_a(ctx, tmp, False)
    msgs, peak = run_a(ctx, tmp, True)
    for run, name in ((ref, "reference"), (msgs, "stuck")):
        st = last_status(run)
        check(len(st) == 20, "%s: final status of %d athletes" % (name, len(st)))
        summ = {m["athlete"] for _, m in run if m.get("type") == "summary"}
        check(len(summ) == 20, "%s: reader got %d summaries of 20" % (name, len(summ)))
        published = sum(s["strides"]["L"] + s["strides"]["R"] for s in st.values())
        got = len(strides_of(run))
        check(got == published, "%s: reader got %d strides, daemon published %d"
              % (name, got, published))
        for a, s in st.items():
            check(s["finished"] and s["samples"]["L"] == s["samples"]["R"] == DATA_S * 500,
                  "%s: %s final status %r" % (name, a, s["samples"]))
    total = len(msgs)
    dm = max((m["daemon"] for _, m in msgs if m.get("type") == "status"),
             key=lambda x: x["sent"])
    check(dm["drops"] >= 1, "no drops counted with a stuck subscriber: %r" % dm)
    check(total > 20 * HWM, "only %d messages: the stuck subscriber was never full" % total)
    # Bound: what the stuck subscriber's queues can hold (HWM messages of the 99th-percentile
    # size, twice for libzmq's copies) plus 16 MiB of slack for allocator and run-to-run
    # variation. Queueing everything it missed would take total x message size.
    sizes = sorted(len(json.dumps(m)) + 64 for _, m in msgs)
    bound = ref_peak + (2 * HWM * sizes[len(sizes) * 99 // 100]) // 1024 + 16 * MIB
    unbounded = total * sum(len(json.dumps(m)) for _, m in msgs) // len(msgs) // 1024
    print("(a) %d messages, drops %d, peak RSS %d KiB (reference %d KiB, bound %d KiB; "
          "queueing all would add ~%d KiB)" % (total, dm["drops"], peak, ref_peak, bound,
                                                unbounded))
    check(peak <= bound, "gaitd RSS %d KiB with a stuck subscriber > bound %d KiB" % (peak, bound))


def test_100_subscribers(ctx, tmp):
    pub, ctl = "ipc://%s/b-pub" % tmp, "ipc://%s/b-ctl" % tmp
    subs = []
    for i in range(100):
        s = subscriber(ctx, pub, b"gait/" if i % 2 == 0 else b"gait/sim%d/" % (1 + i // 2 % 2))
        subs.append(s)
    # stand first: no stride before every subscriber has surely connected
    d = gaitd(["--pub", pub, "--control", ctl, "--simulate", "2", "--sim-plan",
               "stand:4,run:60@170", "--duration", "16", "--wait-subscriber", "20"])
    got = [[] for _ in subs]
    poller = zmq.Poller()
    for s in subs:
        poller.register(s, zmq.POLLIN)
    seen_subs = 0
    t0 = time.time()
    try:
        while time.time() - t0 < 240:
            ev = dict(poller.poll(100))
            for i, s in enumerate(subs):
                if s in ev:
                    while True:
                        try:
                            topic, body = s.recv_multipart(zmq.NOBLOCK)
                        except zmq.Again:
                            break
                        got[i].append((topic.decode(), json.loads(body)))
            if seen_subs < 100 and d.poll() is None:
                r = request(ctx, ctl, b'{"cmd":"status"}', timeout_ms=30000)
                seen_subs = r["daemon"]["subscriptions"]
            if d.poll() is not None and not ev:
                break
        rc = d.wait(timeout=60)
        check(rc == 0, "gaitd (b) exit %r: %s" % (rc, err_tail(d)))
    finally:
        if d.poll() is None:
            d.kill()
        for s in subs:
            s.close()
    check(seen_subs == 100, "daemon.subscriptions reached %d of 100" % seen_subs)
    everything = got[0]
    st = last_status(everything)
    published = {a: s["strides"]["L"] + s["strides"]["R"] for a, s in st.items()}
    check(sorted(published) == ["sim1", "sim2"] and all(published.values()),
          "strides published %r" % published)
    for i, g in enumerate(got):
        want_athletes = ["sim1", "sim2"] if i % 2 == 0 else ["sim%d" % (1 + i // 2 % 2)]
        strides = strides_of(g)
        for a in want_athletes:
            n = sum(1 for s in strides if s[0] == a)
            check(n == published[a], "subscriber %d got %d %s strides of %d"
                  % (i, n, a, published[a]))
        check(len(set(strides)) == len(strides), "subscriber %d got duplicates" % i)
        summ = sorted(m["athlete"] for _, m in g if m.get("type") == "summary")
        check(summ == want_athletes, "subscriber %d summaries %r" % (i, summ))
    print("(b) 100 subscribers: each got every stride (%r) and its summaries" % published)


def test_control_flood(ctx, tmp):
    pub, ctl = "ipc://%s/c-pub" % tmp, "ipc://%s/c-ctl" % tmp
    sub = subscriber(ctx, pub, b"gait/")
    d = gaitd(["--pub", pub, "--control", ctl, "--simulate", "4", "--sim-plan", "run:3600@170",
               "--wait-subscriber", "20"])
    rss = None
    msgs, flood_marks = [], {}
    result = {}

    def flood():
        s = ctx.socket(zmq.REQ)
        s.setsockopt(zmq.LINGER, 0)
        s.setsockopt(zmq.RCVTIMEO, 30000)
        s.connect(ctl)
        bad = [b'{"cmd": ', b"[]", b'{"cmd":5}', b'{"cmd":"self_destruct"}', b"\xff\xfe\x00",
               b"", b'{"nocmd":1}', b'{"cmd":"status","x":' + b"9" * 70000 + b"}"]
        replies = errors = 0
        try:
            for i in range(6000):
                if i % 10 == 9:
                    req = bad[(i // 10) % len(bad)]
                else:
                    req = b'{"cmd":"status"}' if i % 2 else b'{"cmd":"ping"}'
                s.send(req)
                r = json.loads(s.recv())
                replies += 1
                if req in bad:
                    if r.get("ok") is not False or "code" not in r.get("error", {}):
                        result["bad_reply"] = (req[:40], r)
                    errors += 1
                elif r.get("ok") is not True:
                    result["bad_reply"] = (req[:40], r)
        except zmq.Again:
            result["timeout_after"] = replies
        finally:
            s.close()
        result["replies"], result["errors"] = replies, errors

    t0 = time.time()
    try:
        # Feeds flowing first (the first strides), then the flood.
        while not any(m.get("type") == "stride" for _, m in msgs):
            check(time.time() - t0 < 120 and d.poll() is None, "no stride before the flood")
            if sub.poll(100):
                topic, body = sub.recv_multipart()
                msgs.append((topic.decode(), json.loads(body)))
        rss = RssSampler(d.pid)
        th = threading.Thread(target=flood)
        flood_marks["start"] = len(msgs)
        th.start()
        while th.is_alive():
            if sub.poll(100):
                topic, body = sub.recv_multipart()
                msgs.append((topic.decode(), json.loads(body)))
        flood_marks["end"] = len(msgs)
        th.join()
        d.send_signal(signal.SIGTERM)
        drain(sub, d, msgs)
        rc = d.wait(timeout=60)
        check(rc == 0, "gaitd (c) exit %r: %s" % (rc, err_tail(d)))
    finally:
        if d.poll() is None:
            d.kill()
        peak = rss.stop() if rss else 0
        sub.close()
    check("timeout_after" not in result,
          "a control request got no reply within 30 s (after %r)" % result.get("timeout_after"))
    check(result.get("replies") == 6000, "replies %r" % result)
    check("bad_reply" not in result, "unexpected reply %r" % (result.get("bad_reply"),))
    during = msgs[flood_marks["start"]:flood_marks["end"]]
    n_during = sum(1 for _, m in during if m.get("type") == "stride")
    check(n_during > 0, "no stride arrived during the flood")
    st = last_status(msgs)
    published = sum(s["strides"]["L"] + s["strides"]["R"] for s in st.values())
    check(len(strides_of(msgs)) == published, "strides received %d, published %d"
          % (len(strides_of(msgs)), published))
    check(all(s["daemon"]["drops"] == 0 for s in st.values()), "drops under the flood")
    summ = sorted(m["athlete"] for _, m in msgs if m.get("type") == "summary")
    check(summ == ["sim1", "sim2", "sim3", "sim4"], "summaries %r" % summ)
    first = rss.samples[0] if rss and rss.samples else 0
    # Bound: the 4 sessions' analysis buffers filling up (< 4 MiB each) plus 16 MiB of slack;
    # a leak of even 3 KiB per request would exceed it.
    bound = first + 4 * 4 * MIB + 16 * MIB
    print("(c) %d requests (%d malformed) all answered, %d strides during the flood, RSS %d -> "
          "peak %d KiB (bound %d)" % (result["replies"], result["errors"], n_during, first, peak,
                                      bound))
    check(peak <= bound, "gaitd RSS %d KiB under the control flood > bound %d KiB" % (peak, bound))


def main():
    tmp = tempfile.mkdtemp(prefix="gaitd-load-")
    ctx = zmq.Context()
    try:
        test_stuck_subscriber(ctx, tmp)
        test_100_subscribers(ctx, tmp)
        test_control_flood(ctx, tmp)
    finally:
        ctx.destroy(linger=0)
        shutil.rmtree(tmp, ignore_errors=True)
    print("ok")


if __name__ == "__main__":
    main()
