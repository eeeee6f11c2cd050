#!/usr/bin/env python3
"""Issue 4's acceptance, in one run of the real gaitd against emulated pods (umockdev):

plug two pods paired with athlete "anna" by the configuration file, identify them, stream 60 s
of simulated running (data time; the pods run at 10x real time) into anna's live session, the
analysis (strides, windows, focus) received by a pyzmq subscriber in ANOTHER process; unplug the
left pod (it stores a new run "while away"), plug it back: gaitd syncs that stored run
(download, verify, record, analyse through the replay path, publish summary + final focus on
gait/anna/..., enter it in the catalog as 'synced', mark the run synced, erase it on the pod),
then the pod streams live again; `gaitctl stop anna` ends the live session; the catalog (read
with sqlite3 and with `gaitctl sessions`) holds both sessions. No step waits on a fixed time:
every wait polls the control endpoint (generous timeouts).
Usage: test_usb_acceptance.py UMOCKPOD_RUN
"""
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile

import zmq

from gaitdtest import (BIN, asker, check, daemon_dir, feed_recorder, gaitd_under_pods, reap,
                       request, wait_for)


def main():
    umockpod_run = sys.argv[1]
    tmp = tempfile.mkdtemp(prefix="gaitd-accept-")
    dd = daemon_dir(tmp, "[usb]\nlive = 1\nsync = 1\nerase = 1\n"
                         "[pods]\nGP-L-0001 = anna:L\nGP-R-0002 = anna:R\n")
    data, db, pub, ctl, cfg = dd.data, dd.db, dd.pub, dd.ctl, dd.cfg
    feed = os.path.join(tmp, "feed.jsonl")
    sub = feed_recorder(pub, feed)
    stats = os.path.join(tmp, "stats.jsonl")
    d = gaitd_under_pods(umockpod_run, ["--pod", "GP-L-0001:L:speed=10", "--pod",
                                        "GP-R-0002:R:speed=10", "--run-on-unplug"], stats, cfg)
    ctx = zmq.Context.instance()
    err = ""
    try:
        ask = asker(ctx, ctl)

        # plug + identify: both pods paired with anna by the configuration file
        def identified():
            pods = {p["serial"]: p for p in ask({"cmd": "pods"})["pods"]}
            ok = all(pods.get(s, {}).get("connected") and "rate_hz" in pods[s]
                     for s in ("GP-L-0001", "GP-R-0002"))
            return pods if ok else None
        pods = wait_for("both pods identified", identified, proc=d)
        for s, foot in (("GP-L-0001", "L"), ("GP-R-0002", "R")):
            check(pods[s]["athlete"] == "anna" and pods[s]["foot"] == foot and pods[s]["paired"],
                  "pairing from the config: %r" % pods[s])
            check(pods[s]["rate_hz"] == 500 and pods[s]["acc_range_g"] == 16, "identify %r" % pods[s])

        # live: 60 s of data in anna's session
        def data_s():
            for a in ask({"cmd": "status"})["athletes"]:
                if a["athlete"] == "anna" and a["source"] == "usb-live" and not a["finished"]:
                    return a if (a.get("data_s") or 0) >= 60 else None
            return None
        st = wait_for("60 s of live data", data_s, proc=d)
        check(st["crc_errors"] == 0 and st["strides"]["L"] > 50 and st["strides"]["R"] > 50,
              "live status %r" % st)
        live_pods = {p["serial"]: p for p in ask({"cmd": "pods"})["pods"]}
        check(all(p["state"] == "live" and p["streaming"] for p in live_pods.values()),
              "pods live: %r" % live_pods)

        # unplug the left pod (it records a run while away), plug it back: sync, then live again
        d.send_signal(signal.SIGUSR1)
        wait_for("left pod unplugged", lambda: not {p["serial"]: p for p in ask({"cmd": "pods"})["pods"]}
                 ["GP-L-0001"]["connected"], proc=d)
        d.send_signal(signal.SIGUSR2)

        def synced():
            s = [x for x in ask({"cmd": "sessions", "athlete": "anna"})["sessions"]
                 if x["state"] == "synced"]
            return s or None
        syn = wait_for("the stored run synced into the catalog", synced, proc=d)[0]
        check(syn["source"] == "usb-sync" and syn["recording"] and os.path.exists(syn["recording"]),
              "synced session %r" % syn)
        check(syn["strides"]["L"] > 10 and abs(syn["cadence_spm"] - 170) < 8, "synced %r" % syn)
        summ = ask({"cmd": "summary", "id": syn["id"]})
        check(summ["summary"]["type"] == "summary" and "focus_metrics" in summ["summary"],
              "summary %r" % summ)
        wait_for("left pod back live", lambda: {p["serial"]: p for p in ask({"cmd": "pods"})["pods"]}
                 ["GP-L-0001"]["state"] == "live", proc=d)
        wait_for("the run erased on the pod (runs listed again)",
                 lambda: ask({"cmd": "runs", "serial": "GP-L-0001"})["runs"] == [], proc=d)

        # `sync` of a pod with nothing stored: it goes back to live; errors for the unknown
        r = ask({"cmd": "sync", "serial": "GP-R-0002"})
        check(r["syncing"] == 1, "sync %r" % r)
        wait_for("right pod back live", lambda: {p["serial"]: p for p in ask({"cmd": "pods"})["pods"]}
                 ["GP-R-0002"]["state"] == "live", proc=d)
        r = request(ctx, ctl, b'{"cmd":"sync","serial":"NO-SUCH-POD"}')
        check(r["error"]["code"] == "not_found", "sync unknown pod %r" % r)
        r = request(ctx, ctl, b'{"cmd":"start","athlete":"anna"}')
        check(r["error"]["code"] == "busy", "start while live %r" % r)

        # end the live session by control, start a new one, end the daemon
        r = ask({"cmd": "stop", "athlete": "anna"})
        check(r["live"] is False, "stop %r" % r)
        wait_for("live session complete", lambda: [x for x in ask({"cmd": "sessions"})["sessions"]
                                                   if x["state"] == "complete"], proc=d)
        r = request(ctx, ctl, b'{"cmd":"stop","athlete":"anna"}')
        check(r["error"]["code"] == "not_found", "stop twice %r" % r)
        check(all(not p["streaming"] for p in ask({"cmd": "pods"})["pods"]), "pods stopped")
        ask({"cmd": "start", "athlete": "anna"})

        def live_again():
            return [a for a in ask({"cmd": "status"})["athletes"] if a["source"] == "usb-live"
                    and not a["finished"] and (a.get("data_s") or 0) > 5]
        wait_for("a new live session after start", live_again, proc=d)
        d.send_signal(signal.SIGTERM)
        rc = d.wait(timeout=60)
        err = d.stderr.read()
        check(rc == 0, "gaitd exit %r\n%s" % (rc, err[-3000:]))
    finally:
        err = reap(d, sub, err)

    # the subscriber process received the analysis
    with open(feed) as f:
        msgs = [json.loads(x) for x in f if x.strip()]
    kinds = {}
    for m in msgs:
        check(m["topic"].startswith("gait/anna/"), "topic %s" % m["topic"])
        kinds.setdefault(m["topic"].split("/")[2], []).append(m["msg"])
    for k in ("stride", "window", "focus", "summary", "status"):
        check(kinds.get(k), "no %s message received (kinds %r)\n%s" % (k, sorted(kinds), err[-2000:]))
    check(len(kinds["summary"]) == 3, "summaries: %d (synced run + 2 live sessions)"
          % len(kinds["summary"]))
    finals = [m for m in kinds["focus"] if m.get("final")]
    check(len(finals) == 3, "final focus messages: %d" % len(finals))
    check({m["foot"] for m in kinds["stride"]} == {"L", "R"}, "strides of both feet")

    # the catalog: sqlite3 and gaitctl sessions
    con = sqlite3.connect(db)
    rows = con.execute("SELECT athlete, source, state, recording, focus_json IS NOT NULL, duration_s "
                       "FROM sessions ORDER BY id").fetchall()
    synced_runs = con.execute("SELECT pod_serial, run_id, session_id FROM runs_synced").fetchall()
    con.close()
    states = sorted((r[1], r[2]) for r in rows)
    check(states == [("usb-live", "complete"), ("usb-live", "complete"), ("usb-sync", "synced")],
          "catalog rows %r" % rows)
    live = [r for r in rows if r[1] == "usb-live"][0]
    check(live[5] >= 60 and live[4], "live session row %r" % (live,))
    check(len(synced_runs) == 1 and synced_runs[0][0] == "GP-L-0001", "runs_synced %r" % synced_runs)
    g = subprocess.run([os.path.join(BIN, "gaitctl"), "sessions", "--db", db, "--json", "anna"],
                       capture_output=True, text=True, timeout=60)
    check(g.returncode == 0 and len(g.stdout.splitlines()) == 3, "gaitctl sessions: %r %r"
          % (g.stdout, g.stderr))
    with open(stats) as f:
        pods = {p["serial"]: p for p in (json.loads(x) for x in f)}
    check(pods["GP-L-0001"]["plugs"] == 2 and pods["GP-L-0001"]["runs_left"] == 0
          and pods["GP-L-0001"]["run_frames_sent"] >= 400, "left pod %r" % pods["GP-L-0001"])
    print("acceptance: %d feed messages received in another process (%s); live %.0f s of data; "
          "synced run in session %d; catalog %r" % (len(msgs), ", ".join(
              "%s %d" % (k, len(v)) for k, v in sorted(kinds.items())), live[5], synced_runs[0][2],
              states))
    shutil.rmtree(tmp, ignore_errors=True)


def interrupted_sync():
    """A pod unplugged in the middle of a sync (it hangs after 150 of its run's 400 frames and is
    unplugged at once): nothing received is lost; plugged back, the read resumes into the same
    recording, which is verified, analysed and catalogued; one recording, complete. With
    --usb-keep-runs the run stays on the pod (listed as synced) until `gaitctl erase`."""
    umockpod_run = sys.argv[1]
    tmp = tempfile.mkdtemp(prefix="gaitd-resume-")
    data = os.path.join(tmp, "data")
    os.mkdir(data)
    db = os.path.join(data, "catalog.db")
    ctl = "ipc://%s/ctl" % tmp
    stats = os.path.join(tmp, "stats.jsonl")
    d = subprocess.Popen([umockpod_run, "--pod", "GP-L-0001:L:speed=10:runs=1:run_s=20",
                          "--stall-unplug", "150", "--stats", stats, "--",
                          os.path.join(BIN, "gaitd"), "--usb-sync", "--usb-keep-runs", "--record",
                          data, "--db", db,
                          "--pub", "ipc://%s/pub" % tmp, "--control", ctl],
                         stderr=subprocess.PIPE, text=True)
    ctx = zmq.Context.instance()
    err = ""
    try:
        ask = asker(ctx, ctl)

        def gone():
            p = [x for x in ask({"cmd": "pods"})["pods"] if x["serial"] == "GP-L-0001"]
            return p and not p[0]["connected"] and p[0]["state"] == "unplugged"
        wait_for("the pod unplugged mid-sync", gone, proc=d)
        check(not ask({"cmd": "sessions"})["sessions"], "nothing catalogued before the run is whole")
        d.send_signal(signal.SIGUSR2)
        # the row appears 'running' while the run is analysed (a kill then leaves it
        # 'interrupted'); wait for it to end
        syn = wait_for("the resumed run synced",
                       lambda: [x for x in ask({"cmd": "sessions"})["sessions"]
                                if x["state"] != "running"], proc=d)[0]
        check(syn["state"] == "synced" and abs(syn["duration_s"] - 20) < 0.2,
              "synced session %r" % syn)
        # --usb-keep-runs: the synced run stays on the pod until `gaitctl erase`
        wait_for("the sync finished", lambda: not ask({"cmd": "status"})["usb"]["syncing"], proc=d)
        runs = wait_for("the run listed as synced", lambda: [
            r for r in ask({"cmd": "runs", "serial": "GP-L-0001"})["runs"] if r["synced"]], proc=d)
        check(runs[0]["run_id"] == 1 and runs[0]["frames"] == 400, "runs %r" % runs)
        r = request(ctx, ctl, b'{"cmd":"erase","serial":"GP-L-0001","run_id":7}')
        check(r["error"]["code"] == "not_found", "erase of a run not there: %r" % r)
        r = request(ctx, ctl, b'{"cmd":"erase","serial":"GP-L-0001","run_id":"1"}')
        check(r["error"]["code"] == "bad_request" and "run_id" in r["error"]["message"], "%r" % r)
        g = subprocess.run([os.path.join(BIN, "gaitctl"), "erase", "GP-L-0001", "1", "--control", ctl],
                           capture_output=True, text=True, timeout=30)
        check(g.returncode == 0 and "erasing run 1" in g.stdout, "gaitctl erase: %r %r"
              % (g.stdout, g.stderr))
        wait_for("the run erased", lambda: ask({"cmd": "runs", "serial": "GP-L-0001"})["runs"] == [],
                 proc=d)
        d.send_signal(signal.SIGTERM)
        rc = d.wait(timeout=60)
        err = d.stderr.read()
        check(rc == 0, "gaitd exit %r\n%s" % (rc, err[-3000:]))
    finally:
        if d.poll() is None:
            d.kill()
            err = d.stderr.read()
    check("hung after" in err and "the copy resumes when it is back" in err, err[-3000:])
    files = sorted(os.listdir(data))
    recs = [f for f in files if ".gaitrec" in f]
    check(len(recs) == 1 and recs[0].endswith(".gaitrec"), "recordings %r" % files)
    g = subprocess.run([os.path.join(BIN, "gaitctl"), "analyze", os.path.join(data, recs[0])],
                       capture_output=True, text=True, timeout=60)
    check(g.returncode == 0, "the resumed recording reads back whole: %s" % g.stderr)
    summ = [json.loads(x) for x in g.stdout.splitlines() if '"summary"' in x][-1]
    check(abs(summ["duration_s"] - 20) < 0.2, "recording duration %r" % summ["duration_s"])
    with open(stats) as f:
        pod = json.loads(f.readline())
    check(pod["plugs"] == 2 and pod["runs_left"] == 0 and pod["run_frames_sent"] >= 400, "pod %r" % pod)
    print("interrupted sync: resumed after the unplug, %d run frames sent in all, one complete "
          "recording (%.1f s), synced, kept, then erased by gaitctl erase"
          % (pod["run_frames_sent"], summ["duration_s"]))
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
    interrupted_sync()
