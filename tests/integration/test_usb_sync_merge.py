#!/usr/bin/env python3
"""Both feet of one outing synced from two pods become ONE two-foot session (daemon/USB.md, "Both
feet of one outing"), through the real gaitd against emulated pods (umockdev):

1. two pods paired with athlete "bea" (L and R), each holding one stored run of the same outing
   (the emulator gives run i of every pod the same start time): plugged together, both runs are
   downloaded and verified, merged into one recording of both pods, analysed once with both feet
   (strides L and R, symmetry), published once (one summary message received by a pyzmq
   subscriber in another process), catalogued once as 'synced' with both runs in runs_synced,
   and both runs erased on their pods; the one-pod recordings stay as the raw verified copies;
2. the same two pods whose runs do not overlap (the right pod's run starts an hour later,
   `run_t0=3600`): two one-foot sessions, as before.
No step waits on a fixed time: every wait polls the control endpoint (generous timeouts).
Usage: test_usb_sync_merge.py UMOCKPOD_RUN
"""
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile

import zmq

from gaitdtest import (BIN, asker, check, daemon_dir, feed_recorder, gaitd_under_pods, reap,
                       request, wait_for)


def run_case(umockpod_run, right_opts, pods=("L", "R"), tmp=None, opts=""):
    """Runs gaitd --usb-sync on pods L and R of bea until their runs are synced and erased.
    Returns (tmp, data dir, catalog path, feed messages, stats by serial, gaitd's stderr)."""
    tmp = tmp or tempfile.mkdtemp(prefix="gaitd-merge-")
    dd = daemon_dir(tmp, "[usb]\nlive = 0\nsync = 1\nerase = 1\n"
                         "[pods]\nGP-L-0001 = bea:L\nGP-R-0002 = bea:R\n")
    data, db, pub, ctl, cfg = dd.data, dd.db, dd.pub, dd.ctl, dd.cfg
    feed = os.path.join(tmp, "feed.jsonl")
    sub = feed_recorder(pub, feed)
    stats = os.path.join(tmp, "stats.jsonl")
    # same seed: one simulated runner, each pod holding its own foot of the same outing
    podargs = []
    if "L" in pods:
        podargs += ["--pod", "GP-L-0001:L:runs=1:run_s=30:seed=11" + opts]
    if "R" in pods:
        podargs += ["--pod", "GP-R-0002:R:runs=1:run_s=30:seed=11" + opts + right_opts]
    serials = [s for s in ("GP-L-0001", "GP-R-0002") if s[3] in pods]
    d = gaitd_under_pods(umockpod_run, podargs, stats, cfg)
    ctx = zmq.Context.instance()
    err = ""
    try:
        ask = asker(ctx, ctl)

        def all_erased():
            for s in serials:
                # not_found until gaitd has seen the pod (slow under valgrind): not yet
                r = request(ctx, ctl, json.dumps({"cmd": "runs", "serial": s}).encode(),
                            timeout_ms=10000)
                if not r.get("ok") or not r.get("listed") or r["runs"] != []:
                    return False
            return not ask({"cmd": "status"})["usb"]["syncing"]
        wait_for("both pods synced and their runs erased", all_erased, proc=d)
        d.send_signal(15)
        rc = d.wait(timeout=60)
        err = d.stderr.read()
        check(rc == 0, "gaitd exit %r\n%s" % (rc, err[-3000:]))
    finally:
        err = reap(d, sub, err)
    with open(feed) as f:
        msgs = [json.loads(x) for x in f if x.strip()]
    with open(stats) as f:
        pods = {p["serial"]: p for p in (json.loads(x) for x in f)}
    os.unlink(feed)
    return tmp, data, db, msgs, pods, err


def merged():
    # "plugged together": both pods are identified (tens of ms) long before either run is read
    # whole (read at 20x real time: 1.5 s), as with real pods (a 30 min run takes minutes)
    tmp, data, db, msgs, pods, err = run_case(sys.argv[1], "", opts=":read_speed=20")
    con = sqlite3.connect(db)
    rows = con.execute("SELECT id, source, state, recording, strides_l, strides_r, contact_si_pct, "
                       "stride_si_pct, step_si_pct, summary_json FROM sessions").fetchall()
    runs = con.execute("SELECT pod_serial, run_id, session_id FROM runs_synced "
                       "ORDER BY pod_serial").fetchall()
    con.close()
    check(len(rows) == 1, "one session for the two runs of one outing: %r\n%s"
          % ([r[:9] for r in rows], err[-3000:]))
    sid, source, state, rec, sl, sr, csi, ssi, stsi, sj = rows[0]
    check(source == "usb-sync" and state == "synced", "session %r" % (rows[0][:4],))
    check(sl > 20 and sr > 20, "strides of both feet: L %r R %r" % (sl, sr))
    check(None not in (csi, ssi, stsi) and abs(ssi) < 5, "symmetry in the catalog: contact %r "
          "stride %r step %r" % (csi, ssi, stsi))
    check(runs == [("GP-L-0001", 1, sid), ("GP-R-0002", 1, sid)], "runs_synced %r" % runs)
    summ = json.loads(sj)
    check(summ["symmetry"]["stride_si_pct"] is not None, "summary symmetry %r" % summ["symmetry"])
    parts = summ.get("parts")
    check(parts and len(parts) == 2 and all(os.path.exists(p) for p in parts),
          "the one-pod recordings (raw verified copies) %r" % parts)
    # the merged recording holds both pods, frames of both feet, and reads back whole
    check(rec and os.path.exists(rec) and rec not in parts, "merged recording %r" % rec)
    g = subprocess.run([os.path.join(BIN, "gaitctl"), "analyze", rec], capture_output=True,
                       text=True, timeout=60)
    check(g.returncode == 0, "the merged recording reads back whole: %s" % g.stderr)
    lines = [json.loads(x) for x in g.stdout.splitlines()]
    feet = {x["foot"] for x in lines if x["type"] == "stride"}
    check(feet == {"L", "R"}, "strides of both feet in the merged recording: %r" % feet)
    files = sorted(f for f in os.listdir(data) if ".gaitrec" in f)
    check(len(files) == 3 and all(f.endswith(".gaitrec") for f in files),
          "two one-pod copies and the merged recording: %r" % files)
    # published once on bea's feed, with both feet
    summaries = [m["msg"] for m in msgs if m["topic"] == "gait/bea/summary"]
    check(len(summaries) == 1, "summary messages: %d" % len(summaries))
    check(summaries[0]["symmetry"]["step_si_pct"] is not None, "published %r"
          % summaries[0]["symmetry"])
    check({m["msg"]["foot"] for m in msgs if m["topic"] == "gait/bea/stride"} == {"L", "R"},
          "published strides of both feet")
    # both runs erased, each read once
    for s in ("GP-L-0001", "GP-R-0002"):
        check(pods[s]["runs_left"] == 0 and pods[s]["run_frames_sent"] == 600,
              "pod %s %r" % (s, pods[s]))
    check("are one outing" in err, err[-3000:])
    print("merged: one synced session %d (strides L %d R %d, stride SI %.2f %%, step SI %.2f %%), "
          "one summary published, runs_synced %r, recordings %r"
          % (sid, sl, sr, ssi, stsi, runs, files))
    shutil.rmtree(tmp, ignore_errors=True)


def apart():
    tmp, data, db, msgs, pods, err = run_case(sys.argv[1], ":run_t0=3600")
    con = sqlite3.connect(db)
    rows = con.execute("SELECT state, strides_l, strides_r, step_si_pct FROM sessions "
                       "ORDER BY strides_l").fetchall()
    runs = con.execute("SELECT count(DISTINCT session_id) FROM runs_synced").fetchone()[0]
    con.close()
    check(len(rows) == 2 and all(r[0] == "synced" and r[3] is None for r in rows)
          and rows[0][1] == 0 and rows[0][2] > 20 and rows[1][1] > 20 and rows[1][2] == 0,
          "runs an hour apart: two one-foot sessions %r\n%s" % (rows, err[-3000:]))
    check(runs == 2, "runs_synced sessions %r" % runs)
    summaries = [m for m in msgs if m["topic"] == "gait/bea/summary"]
    check(len(summaries) == 2, "summary messages: %d" % len(summaries))
    for s in ("GP-L-0001", "GP-R-0002"):
        check(pods[s]["runs_left"] == 0, "pod %s %r" % (s, pods[s]))
    print("apart: runs an hour apart stay two one-foot sessions %r" % rows)
    shutil.rmtree(tmp, ignore_errors=True)


def later():
    """The left pod synced alone (one-foot session), the right one later (another gaitd run, same
    catalog and data directory): the right run is merged with the left session's recording into
    a two-foot session, and the earlier session is marked "merged_into" it."""
    tmp, data, db, msgs, pods, err = run_case(sys.argv[1], "", pods=("L",))
    rows = catalog(db)
    check(len(rows) == 1 and rows[0][2] > 20 and rows[0][3] == 0, "left alone: %r\n%s"
          % (rows, err[-3000:]))
    first = rows[0][0]
    _, _, _, msgs, pods, err = run_case(sys.argv[1], "", pods=("R",), tmp=tmp)
    rows = catalog(db)
    check(len(rows) == 2, "two sessions: %r\n%s" % (rows, err[-3000:]))
    old, new = rows
    check(old[0] == first and json.loads(old[5]).get("merged_into") == new[0],
          "the one-foot session is superseded: %r" % (old,))
    check(new[1] == "synced" and new[2] > 20 and new[3] > 20 and new[4] is not None
          and json.loads(new[5]).get("supersedes") == first, "the two-foot session %r" % (new,))
    con = sqlite3.connect(db)
    runs = con.execute("SELECT pod_serial, run_id, session_id FROM runs_synced "
                       "ORDER BY pod_serial").fetchall()
    con.close()
    check(runs == [("GP-L-0001", 1, first), ("GP-R-0002", 1, new[0])], "runs_synced %r" % runs)
    summaries = [m["msg"] for m in msgs if m["topic"] == "gait/bea/summary"]
    check(len(summaries) == 1 and summaries[0]["symmetry"]["step_si_pct"] is not None,
          "the two-foot summary published: %r" % summaries)
    check(pods["GP-R-0002"]["runs_left"] == 0, "right pod %r" % pods["GP-R-0002"])
    g = subprocess.run([os.path.join(BIN, "gaitctl"), "sessions", "--db", db, "--json", "bea"],
                       capture_output=True, text=True, timeout=60)
    listed = {x["id"]: x for x in map(json.loads, g.stdout.splitlines())}
    check(g.returncode == 0 and listed[first].get("merged_into") == new[0],
          "gaitctl sessions: %r %r" % (g.stdout, g.stderr))
    print("later: left alone in session %d, right in a later gaitd run: merged into session %d (strides L "
          "%d R %d, step SI %.2f %%), %d marked merged_into %d" % (first, new[0], new[2], new[3],
                                                                  new[4], first, new[0]))
    shutil.rmtree(tmp, ignore_errors=True)


def catalog(db):
    con = sqlite3.connect(db)
    rows = con.execute("SELECT id, state, strides_l, strides_r, step_si_pct, summary_json "
                       "FROM sessions ORDER BY id").fetchall()
    con.close()
    return rows


if __name__ == "__main__":
    merged()
    apart()
    later()
