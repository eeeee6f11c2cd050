#!/usr/bin/env python3
"""Pod faults (issue 6) through the real gaitd, real libusb and the emulated pods (umockdev):

- live: one pod sends a corrupted frame, a truncated frame, a duplicated frame and two frames
  swapped; each is counted (`pods` counters, the session's "faults" in `status`), every valid
  frame reaches the session and its recording (the left samples recorded = 25 x the frames the
  emulator sent undamaged, the only holes in the recorded time line are the two damaged frames),
  the pod is then unplugged (counted) and the session's catalog row and summary carry the faults;
- sync: the same four faults in a stored run: the run is read whole (every frame once, CRC
  verified), analysed, catalogued 'synced' with the faults, erased;
- a pod that stops answering while plugged (IN transfers pending, commands swallowed), live and
  in the middle of a sync: detected by the stall timeout, reported ("stalled"), identified again
  until it answers (SIGHUP to umockpod_run ends the hang), and resumed: live frames go on into
  the same session, the sync resumes at the frame held; nothing valid is lost;
- pods whose identify reply carries a nonsense rate or range are refused (log line and `pods`
  entry naming the serial, the field and the value), never analysed; gaitd keeps serving.
No step waits on a fixed time: every wait polls the control endpoint (generous timeouts).
Usage: test_usb_faults.py UMOCKPOD_RUN
"""
import csv
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time

import zmq

from gaitdtest import BIN, asker, check, request

GAITD = os.path.join(BIN, "gaitd")
GAITCTL = os.path.join(BIN, "gaitctl")
FRAME_SAMPLES = 25   # the emulated pods' samples per frame (500 Hz)


def wait_for(what, fn, proc, timeout=120):
    t0 = time.time()
    while time.time() - t0 < timeout:
        v = fn()
        if v:
            return v
        if proc.poll() is not None:
            check(False, "gaitd ended while waiting for %s:\n%s" % (what, proc.stderr.read()[-3000:]))
        time.sleep(0.1)
    check(False, "timed out waiting for %s" % what)


class Gaitd:
    """gaitd under umockpod_run in a temporary directory, with its control asker."""

    def __init__(self, umockpod_run, name, pod_args, gaitd_args):
        self.tmp = tempfile.mkdtemp(prefix="gaitd-%s-" % name)
        self.data = os.path.join(self.tmp, "data")
        os.mkdir(self.data)
        self.db = os.path.join(self.data, "catalog.db")
        self.stats_path = os.path.join(self.tmp, "stats.jsonl")
        self.ctl = "ipc://%s/ctl" % self.tmp
        self.proc = subprocess.Popen(
            [umockpod_run] + pod_args + ["--stats", self.stats_path, "--", GAITD, "--record",
                                         self.data, "--db", self.db, "--pub",
                                         "ipc://%s/pub" % self.tmp, "--control", self.ctl,
                                         "--status-period", "0.5"] + gaitd_args,
            stderr=subprocess.PIPE, text=True)
        self.ctx = zmq.Context.instance()
        self.ask = asker(self.ctx, self.ctl)
        self.err = ""

    def pod(self, serial):
        return {p["serial"]: p for p in self.ask({"cmd": "pods"})["pods"]}.get(serial, {})

    def athlete(self, name, source="usb-live"):
        for a in self.ask({"cmd": "status"})["athletes"]:
            if a["athlete"] == name and a["source"] == source and not a["finished"]:
                return a
        return None

    def wait(self, what, fn, timeout=120):
        return wait_for(what, fn, self.proc, timeout)

    def stop(self):
        """SIGTERM; exit status 0 required. Returns the emulated pods' counters by serial."""
        self.proc.send_signal(signal.SIGTERM)
        rc = self.proc.wait(timeout=60)
        self.err = self.proc.stderr.read()
        check(rc == 0, "gaitd exit %r\n%s" % (rc, self.err[-3000:]))
        with open(self.stats_path) as f:
            return {p["serial"]: p for p in (json.loads(x) for x in f)}

    def end_live(self, athlete):
        """`stop` of athlete's live session, then gaitd stopped: returns the session's catalog
        row once it is complete, and the emulated pods' counters by serial."""
        self.ask({"cmd": "stop", "athlete": athlete})
        row = self.wait("the live session complete in the catalog",
                        lambda: [r for r in self.sessions() if r[3] == "complete"])[0]
        return row, self.stop()

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def sessions(self):
        if not os.path.exists(self.db):
            return []
        con = sqlite3.connect("file:%s?mode=ro" % self.db, uri=True, timeout=10)
        try:
            return con.execute("SELECT id, athlete, source, state, recording, "
                               "json_extract(summary_json, '$.faults') FROM sessions "
                               "ORDER BY id").fetchall()
        except sqlite3.OperationalError as e:
            # gaitd creates the file before its schema: a slow start (valgrind) shows it empty
            if "no such table" in str(e):
                return []
            raise
        finally:
            con.close()


def csv_of(path, tmp):
    """The recording as gait CSV v1 rows (gaitctl convert)."""
    out = os.path.join(tmp, os.path.basename(path) + ".csv")
    r = subprocess.run([GAITCTL, "convert", path, out], capture_output=True, text=True,
                       timeout=120)
    check(r.returncode == 0, "convert %s: %s" % (path, r.stderr))
    with open(out) as f:
        return [row for row in csv.reader(ln for ln in f if not ln.startswith("#"))][1:]


def holes(times, rate=500.0):
    """Missing samples between consecutive times (a lost frame is 25 missing samples)."""
    miss = []
    for a, b in zip(times, times[1:]):
        k = round((b - a) * rate) - 1
        if k > 0:
            miss.append(k)
    return miss


def check_faults(f, what, **want):
    for k, v in want.items():
        if isinstance(v, tuple):
            check(v[0] <= f[k] <= v[1], "%s: %s = %r, expected %r..%r (%r)" % (what, k, f[k],
                                                                              v[0], v[1], f))
        else:
            check(f[k] == v, "%s: %s = %r, expected %r (%r)" % (what, k, f[k], v, f))


FAULT_ARGS = ["--corrupt-frame", "20", "--truncate-frame", "40:30", "--duplicate-frame", "60",
              "--swap-frames", "80"]


def live_faults(umockpod_run):
    g = Gaitd(umockpod_run, "live", ["--pod", "GP-L-0001:L:speed=10", "--pod",
                                      "GP-R-0002:R:speed=10"] + FAULT_ARGS, ["--usb"])
    try:
        g.wait("120 live frames of the faulty pod",
               lambda: g.pod("GP-L-0001").get("counters", {}).get("live_frames", 0) >= 120)
        c = g.pod("GP-L-0001")["counters"]
        check_faults(c, "pods counters", truncated=1, duplicates=1, reordered=1, gaps=2,
                     frames_lost=2, out_of_order=0, crc_errors=(2, 4))
        check(c["bytes_skipped"] >= 334 + 30, "bytes skipped %r" % c)
        st = g.wait("the session's status with faults", lambda: g.athlete("usb1"))
        check_faults(st["faults"], "status faults", truncated=1, duplicates=1, reordered=1,
                     gaps=2, frames_lost=2, unplugs=0, stalls=0, crc=(2, 4))
        check_faults(st["faults"]["pods"]["GP-R-0002"], "right pod", crc=0, gaps=0)
        # unplug the faulty pod: every frame it sent is in the session before it is removed
        g.proc.send_signal(signal.SIGUSR1)
        g.wait("left pod unplugged", lambda: not g.pod("GP-L-0001")["connected"])
        st = g.wait("unplug counted", lambda: (lambda a: a if a and a["faults"]["unplugs"] == 1
                                               else None)(g.athlete("usb1")))
        g.wait("more right strides after the faults (gaitd keeps serving)",
               lambda: (g.athlete("usb1") or {}).get("strides", {}).get("R", 0) >
               st["strides"]["R"] + 3)
        samples_l = g.athlete("usb1")["samples"]["L"]
        row, pods = g.end_live("usb1")
    except BaseException:
        g.close()
        raise
    faults = json.loads(row[5])
    check_faults(faults, "catalog row", truncated=1, duplicates=1, reordered=1, gaps=2,
                 frames_lost=2, unplugs=1, crc=(2, 4))
    ses = subprocess.run([GAITCTL, "sessions", "--db", g.db, "--json"], capture_output=True,
                         text=True, timeout=60)
    js = [json.loads(x) for x in ses.stdout.splitlines()]
    check(ses.returncode == 0 and js and js[0].get("faults", {}).get("reordered") == 1,
          "gaitctl sessions --json: %r %r" % (ses.stdout, ses.stderr))
    left = pods["GP-L-0001"]
    check(left["frames_truncated"] == 1 and left["frames_duplicated"] == 1 and
          left["frames_reordered"] == 1 and left["frames_corrupted"] == 1, "emulator %r" % left)
    rows = csv_of(row[4], g.tmp)
    tl = [float(r[0]) for r in rows if r[1] == "L"]
    check(len(tl) == FRAME_SAMPLES * left["live_frames_valid"] == samples_l,
          "left samples recorded %d, analysed %d, emulator sent %d valid frames (x%d)"
          % (len(tl), samples_l, left["live_frames_valid"], FRAME_SAMPLES))
    check(holes(tl) == [FRAME_SAMPLES, FRAME_SAMPLES],
          "holes in the left time line %r (expected the two damaged frames only)" % holes(tl))
    print("live: %d left frames sent undamaged = %d samples recorded and analysed; faults %r"
          % (left["live_frames_valid"], len(tl),
             {k: v for k, v in faults.items() if k != "pods" and v}))
    g.close()


def sync_faults(umockpod_run):
    g = Gaitd(umockpod_run, "sync", ["--pod", "GP-L-0001:L:speed=10:runs=1:run_s=20"] +
              ["--corrupt-frame", "50", "--truncate-frame", "100:20", "--duplicate-frame",
               "150", "--swap-frames", "200"], ["--usb-sync"])
    try:
        row = g.wait("the run synced", lambda: [r for r in g.sessions() if r[3] == "synced"])[0]
        g.wait("the run erased", lambda: g.ask({"cmd": "runs", "serial": "GP-L-0001"})
               ["runs"] == [] and not g.ask({"cmd": "status"})["usb"]["syncing"])
        pods = g.stop()
    except BaseException:
        g.close()
        raise
    faults = json.loads(row[5])
    check_faults(faults, "synced catalog row", truncated=1, duplicates=1, reordered=1,
                 crc=(2, 4), unplugs=0, stalls=0)
    rows = csv_of(row[4], g.tmp)
    tl = [float(r[0]) for r in rows if r[1] == "L"]
    check(len(tl) == 400 * FRAME_SAMPLES and not holes(tl),
          "synced recording: %d samples, holes %r (expected 400 frames whole)"
          % (len(tl), holes(tl)))
    left = pods["GP-L-0001"]
    check(left["runs_left"] == 0 and left["frames_reordered"] == 1, "emulator %r" % left)
    print("sync: 400 frames recorded once each (%d sent, %d valid incl. re-reads); faults %r"
          % (left["run_frames_sent"], left["run_frames_valid"],
             {k: v for k, v in faults.items() if k != "pods" and v}))
    g.close()


def live_stall(umockpod_run):
    g = Gaitd(umockpod_run, "stall", ["--pod", "GP-L-0001:L:speed=10", "--pod",
                                       "GP-R-0002:R:speed=10", "--hang-after", "100"], ["--usb"])
    try:
        g.wait("the left pod stalled", lambda: g.pod("GP-L-0001").get("state") == "stalled")
        st = g.wait("the stall in the status", lambda: (lambda a: a if a and a["faults"]["stalls"]
                                                        == 1 else None)(g.athlete("usb1")))
        check(g.pod("GP-L-0001")["connected"], "a stalled pod stays connected")
        before = g.pod("GP-L-0001")["counters"]["live_frames"]
        g.proc.send_signal(signal.SIGHUP)          # the pod answers again
        g.wait("the left pod live again with new frames", lambda: (lambda p: p.get("state") ==
               "live" and p["counters"]["live_frames"] > before + 40)(g.pod("GP-L-0001")))
        c = g.pod("GP-L-0001")["counters"]
        check(c["stalls"] == 1 and c["recoveries"] == 1, "counters %r" % c)
        sp = {p["serial"]: p for p in g.ask({"cmd": "status"})["usb"]["pods"]}
        check(sp["GP-L-0001"]["faults"]["stalls"] == 1, "status usb.pods %r" % sp)
        g.proc.send_signal(signal.SIGUSR1)
        g.wait("left pod unplugged", lambda: not g.pod("GP-L-0001")["connected"])
        samples_l = g.wait("session status", lambda: g.athlete("usb1"))["samples"]["L"]
        row, pods = g.end_live("usb1")
    except BaseException:
        g.close()
        raise
    faults = json.loads(row[5])
    check_faults(faults, "catalog row", stalls=1, unplugs=1, crc=0, gaps=0)
    check("stalled while plugged" in g.err and "answers again" in g.err, g.err[-3000:])
    left = pods["GP-L-0001"]
    tl = [float(r[0]) for r in csv_of(row[4], g.tmp) if r[1] == "L"]
    check(len(tl) == FRAME_SAMPLES * left["live_frames_valid"] == samples_l,
          "left samples recorded %d, analysed %d, emulator sent %d frames"
          % (len(tl), samples_l, left["live_frames_valid"]))
    print("live stall: detected, recovered after SIGHUP; %d left frames sent = %d samples "
          "recorded; faults %r" % (left["live_frames_valid"], len(tl),
                                  {k: v for k, v in faults.items() if k != "pods" and v}))
    g.close()


def sync_stall(umockpod_run):
    g = Gaitd(umockpod_run, "syncstall", ["--pod", "GP-L-0001:L:speed=10:runs=1:run_s=20",
                                          "--hang-after", "150", "--hang-reset"], ["--usb-sync"])
    try:
        g.wait("the pod stalled mid-sync", lambda: g.pod("GP-L-0001").get("state") == "stalled")
        check(not g.sessions(), "nothing catalogued before the run is whole")
        g.proc.send_signal(signal.SIGHUP)
        row = g.wait("the run synced", lambda: [r for r in g.sessions() if r[3] == "synced"])[0]
        g.wait("the sync finished", lambda: not g.ask({"cmd": "status"})["usb"]["syncing"])
        pods = g.stop()
    except BaseException:
        g.close()
        raise
    faults = json.loads(row[5])
    check_faults(faults, "synced catalog row", stalls=1, unplugs=0, crc=0)
    tl = [float(r[0]) for r in csv_of(row[4], g.tmp) if r[1] == "L"]
    check(len(tl) == 400 * FRAME_SAMPLES and not holes(tl),
          "synced recording: %d samples, holes %r" % (len(tl), holes(tl)))
    recs = [f for f in os.listdir(g.data) if ".gaitrec" in f]
    check(len(recs) == 1, "recordings %r" % recs)
    check("resuming run 1 at frame" in g.err, "the read resumed at the frame held:\n%s"
          % g.err[-3000:])
    check(pods["GP-L-0001"]["runs_left"] == 0, "run erased %r\n%s" % (pods["GP-L-0001"],
                                                                     g.err[-4000:]))
    if os.environ.get("GAITD_TEST_VERBOSE"):
        print(g.err)
    print("sync stall: resumed after SIGHUP, one recording of 400 frames; faults %r"
          % {k: v for k, v in faults.items() if k != "pods" and v})
    g.close()


def nonsense_identify(umockpod_run):
    g = Gaitd(umockpod_run, "identify", ["--pod", "GP-L-0001:L:id_rate=65535", "--pod",
                                          "GP-R-0002:R:id_acc=0"], ["--usb"])
    try:
        left = g.wait("left pod refused", lambda: (lambda p: p if p.get("state") == "refused"
                                                   else None)(g.pod("GP-L-0001")))
        right = g.wait("right pod refused", lambda: (lambda p: p if p.get("state") == "refused"
                                                     else None)(g.pod("GP-R-0002")))
        check(left["refused"] == "rate_hz 65535 (expected 50..2000)" and left["connected"],
              "left %r" % left)
        check(right["refused"].startswith("acc_range_g 0 ("), "right %r" % right)
        st = g.ask({"cmd": "status"})
        check(not [a for a in st["athletes"] if a["source"] == "usb-live"], "no session %r" % st)
        sp = {p["serial"]: p for p in st["usb"]["pods"]}
        check(sp["GP-L-0001"]["state"] == "refused" and
              sp["GP-L-0001"]["refused"] == "rate_hz 65535 (expected 50..2000)",
              "status usb.pods %r" % sp)
        pods = g.stop()
    except BaseException:
        g.close()
        raise
    check("GP-L-0001: refused: its identify reply has rate_hz 65535" in g.err and
          "GP-R-0002: refused: its identify reply has acc_range_g 0" in g.err, g.err[-3000:])
    check(pods["GP-L-0001"]["start_stream"] == 0, "refused pods never streamed %r" % pods)
    check(not g.sessions(), "nothing catalogued")
    print("nonsense identify: both pods refused with the field and value named")
    g.close()


def main():
    umockpod_run = sys.argv[1]
    cases = sys.argv[2:] or ["live_faults", "sync_faults", "live_stall", "sync_stall",
                             "nonsense_identify"]
    for c in cases:
        t0 = time.time()
        globals()[c](umockpod_run)
        print("%s: %.1f s" % (c, time.time() - t0))
    print("ok")


if __name__ == "__main__":
    main()
