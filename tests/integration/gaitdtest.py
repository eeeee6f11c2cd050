"""Shared helpers of the integration tests that drive the real gaitd and gaitctl binaries."""
import json
import os
import sys

import zmq

BIN = os.environ.get("GAITD_BIN", "build/bin")


def fail(msg):
    """Reports a failed check and ends the test with exit status 1."""
    print("FAIL:", msg)
    sys.exit(1)


def check(cond, msg):
    if not cond:
        fail(msg)


def request(ctx, endpoint, payload, timeout_ms=3000):
    """Sends one control request (bytes) on a fresh REQ socket and returns the decoded reply."""
    s = ctx.socket(zmq.REQ)
    s.setsockopt(zmq.LINGER, 0)
    s.setsockopt(zmq.RCVTIMEO, timeout_ms)
    s.connect(endpoint)
    s.send(payload)
    try:
        return json.loads(s.recv())
    finally:
        s.close()


# A feed recorder to run in another process: /usr/bin/python3 -c FEED_RECORDER ENDPOINT FILE writes
# every gait/ message as a JSON line {"topic", "msg"} until 30 s pass without one.
FEED_RECORDER = r"""
import json, sys, zmq
ctx = zmq.Context()
s = ctx.socket(zmq.SUB)
s.setsockopt(zmq.SUBSCRIBE, b"gait/")
s.connect(sys.argv[1])
with open(sys.argv[2], "w") as out:
    while True:
        if not s.poll(30000):
            break
        topic, body = s.recv_multipart()
        out.write(json.dumps({"topic": topic.decode(), "msg": json.loads(body)}) + "\n")
        out.flush()
"""


def wait_for(what, fn, timeout=120, proc=None):
    """Polls fn every 0.2 s until it returns something true (returned); fails after timeout s,
    or at once when proc (a Popen, optional) has ended."""
    import time
    t0 = time.time()
    while time.time() - t0 < timeout:
        v = fn()
        if v:
            return v
        if proc is not None and proc.poll() is not None:
            check(False, "gaitd ended while waiting for %s" % what)
        time.sleep(0.2)
    check(False, "timed out waiting for %s" % what)


def reap(d, sub, err=""):
    """Clean-up for a finally block: kills gaitd d if it still runs (then returns its stderr, else
    err), lets the feed recorder sub drain for a second and waits for it."""
    import time
    if d.poll() is None:
        d.kill()
        err = d.stderr.read()
    if sub.poll() is None:
        time.sleep(1.0)
        sub.terminate()
    sub.wait(timeout=10)
    return err


def asker(ctx, ctl):
    """A function sending one control request to ctl and checking that the reply is ok."""
    def ask(req):
        r = request(ctx, ctl, json.dumps(req).encode(), timeout_ms=10000)
        check(r.get("ok") is True, "%r -> %r" % (req, r))
        return r
    return ask


def subscriber(ctx, endpoint, prefix=b""):
    """A SUB socket connected to a gaitd feed endpoint, subscribed to prefix, with a receive
    high-water mark large enough that a test reading in bursts loses nothing."""
    sub = ctx.socket(zmq.SUB)
    sub.setsockopt(zmq.RCVHWM, 100000)
    sub.setsockopt(zmq.LINGER, 0)
    sub.connect(endpoint)
    sub.setsockopt(zmq.SUBSCRIBE, prefix)
    return sub


def vmrss_kib(pid):
    """Resident memory of process pid in KiB (VmRSS of /proc/PID/status), None once it is gone."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for ln in f:
                if ln.startswith("VmRSS:"):
                    return int(ln.split()[1])
    except OSError:
        pass
    return None


class RssSampler:
    """Samples a process's VmRSS every period_s in a background thread until stop()."""

    def __init__(self, pid, period_s=0.05):
        import threading
        self.pid, self.period_s, self.samples = pid, period_s, []
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()

    def _run(self):
        while not self._stop.is_set():
            k = vmrss_kib(self.pid)
            if k is not None:
                self.samples.append(k)
            self._stop.wait(self.period_s)

    def stop(self):
        self._stop.set()
        self._t.join()
        return max(self.samples, default=0)


# --- faults (issue 6) ---

def catalog_rows(db, sql, args=()):
    """Rows of a query on the catalog, read-only (a second connection, as `gaitctl sessions`)."""
    import sqlite3
    con = sqlite3.connect("file:%s?mode=ro" % db, uri=True, timeout=10)
    try:
        return con.execute(sql, args).fetchall()
    finally:
        con.close()


def analyze_recording(gaitctl, path, timeout=120):
    """Runs `gaitctl analyze PATH`; returns (exit status, parsed JSON lines, stderr). Every
    stdout line must be a JSON object (no garbage from a damaged recording)."""
    import subprocess
    r = subprocess.run([gaitctl, "analyze", path], capture_output=True, text=True,
                       timeout=timeout)
    out = []
    for ln in r.stdout.splitlines():
        try:
            out.append(json.loads(ln))
        except ValueError:
            fail("%s: analyze printed a line that is not JSON: %.200r" % (path, ln))
    return r.returncode, out, r.stderr


def check_every_frame_once(gaitctl, rec, tmp, frames, per_frame=25, rate=500):
    """A synced recording holds every frame of its run exactly once: `gaitctl analyze` reads it
    (exit 0), and `gaitctl convert` gives frames x per_frame samples one sample period apart (no
    hole in the time line, nothing twice)."""
    import csv
    import subprocess
    a = subprocess.run([gaitctl, "analyze", rec], capture_output=True, text=True, timeout=120)
    check(a.returncode == 0, "analyze %s: %s" % (rec, a.stderr))
    csvp = os.path.join(tmp, "rec.csv")
    c = subprocess.run([gaitctl, "convert", rec, csvp], capture_output=True, text=True,
                       timeout=120)
    check(c.returncode == 0, "convert: %s" % c.stderr)
    with open(csvp) as f:
        t = [float(row[0]) for row in csv.reader(x for x in f if not x.startswith("#"))
             if row[0] != "time_s"]
    check(len(t) == frames * per_frame, "samples %d, expected %d" % (len(t), frames * per_frame))
    steps = {round((b - a_) * rate) for a_, b in zip(t, t[1:])}
    check(steps == {1}, "time steps (in samples) %r: a frame missing or twice" % steps)


def print_logs(tmp, keyword="usb", tail=2500):
    """After a failure: the lines with keyword of every gaitd-*.log in tmp (their last tail
    characters)."""
    for x in sorted(os.listdir(tmp)):
        if x.startswith("gaitd-") and x.endswith(".log"):
            with open(os.path.join(tmp, x)) as f:
                print("---", x, "\n" + "".join(ln for ln in f if keyword in ln)[-tail:])


def remove_unless_kept(tmp):
    """Removes the test's directory unless GAITD_KEEP is set (to look at it after a run)."""
    import shutil
    if not os.environ.get("GAITD_KEEP"):
        shutil.rmtree(tmp, ignore_errors=True)


def daemon_dir(tmp, ini=""):
    """A gaitd working directory under tmp: data dir, catalog path, ipc feed and control
    endpoints, and a config file naming them ([daemon] pub, control, data_dir, db) followed by
    the ini text given (e.g. "[usb]\\nsync = 1\\n[pods]\\nGP-L-0001 = anna:L\\n"). Returns a
    namespace with data, db, pub, ctl, cfg."""
    import types
    d = types.SimpleNamespace(data=os.path.join(tmp, "data"), pub="ipc://%s/pub" % tmp,
                              ctl="ipc://%s/ctl" % tmp, cfg=os.path.join(tmp, "gaitd.ini"))
    d.db = os.path.join(d.data, "catalog.db")
    os.makedirs(d.data, exist_ok=True)
    with open(d.cfg, "w") as f:
        f.write("[daemon]\npub = %s\ncontrol = %s\ndata_dir = %s\ndb = %s\n%s"
                % (d.pub, d.ctl, d.data, d.db, ini))
    return d


def feed_recorder(endpoint, path):
    """Starts FEED_RECORDER in another process (a real subscriber): every message on endpoint
    to path as JSON lines. Returns the Popen."""
    import subprocess
    return subprocess.Popen(["/usr/bin/python3", "-c", FEED_RECORDER, endpoint, path])


def gaitd_under_pods(umockpod_run, pod_args, stats, cfg):
    """`gaitd --config cfg` under umockpod_run with the emulated pods of pod_args (umockpod_run
    options), their counters written to stats; status every 0.5 s, waiting up to 20 s for a feed
    subscriber. Returns the Popen (stderr piped, text)."""
    import subprocess
    return subprocess.Popen([umockpod_run] + list(pod_args) +
                            ["--stats", stats, "--", os.path.join(BIN, "gaitd"), "--config", cfg,
                             "--status-period", "0.5", "--wait-subscriber", "20"],
                            stderr=subprocess.PIPE, text=True)
