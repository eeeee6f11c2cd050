#!/usr/bin/env python3
"""gaitd's configuration file and session catalog, through the real binaries:
- a configuration file sets endpoints, recording directory, catalog, pairings and the simulator;
  command-line flags override it; a bad value stops gaitd (exit 2) naming file:line and the key;
- a finished session is in the catalog as 'complete' with its summary metrics and recording;
- kill -9 while recording, then restart: the recording reads back (to its last complete chunk),
  the session is marked 'interrupted', not lost, and a replay of the recording adds a complete one;
- `gaitctl sessions` and `gaitctl history` read the catalog;
- issue 5 in the daemon: a session's focus indicators are compared with the athlete's own
  baseline once the catalog holds enough of its sessions (5 in the shipped rules), with
  population ranges before; the stored focus evidence says which was used."""
import glob
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import tempfile
import time

from gaitdtest import BIN, check

GAITD = os.path.join(BIN, "gaitd")
GAITCTL = os.path.join(BIN, "gaitctl")


def rows(db, sql, args=()):
    con = sqlite3.connect("file:%s?mode=ro" % db, uri=True, timeout=10)
    try:
        return con.execute(sql, args).fetchall()
    finally:
        con.close()


def run(args, timeout=120):
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout)


def test_config(tmp):
    data = os.path.join(tmp, "data")
    flagrec = os.path.join(tmp, "flagrec")
    os.mkdir(data)
    os.mkdir(flagrec)
    db = os.path.join(tmp, "cfg.db")
    ini = os.path.join(tmp, "gaitd.ini")
    with open(ini, "w") as f:
        f.write("; test configuration\n"
                "[daemon]\n"
                "pub = ipc://%s/cfg-pub\n"
                "control = ipc://%s/cfg-ctl\n"
                "data_dir = %s\n"
                "db = %s\n"
                "log_level = info\n"
                "[simulate]\n"
                "athletes = 1\n"
                "plan = run:40\n"
                "seed = 3\n"
                "[rates]\n"
                "default_rate_hz = 200\n"
                "[pods]\n"
                "P0001 = anna:L\n"
                "P0002 = anna:R\n" % (tmp, tmp, data, db))
    # --record on the command line wins over data_dir
    r = run([GAITD, "--config", ini, "--speed", "0", "--record", flagrec])
    check(r.returncode == 0, "gaitd --config: exit %d\n%s" % (r.returncode, r.stderr))
    check(os.listdir(data) == [], "data_dir used although --record overrides it")
    recs = glob.glob(os.path.join(flagrec, "sim1-*.gaitrec"))
    check(len(recs) == 1, "recordings in --record dir: %r" % os.listdir(flagrec))
    check(os.stat(db).st_mode & 0o777 == 0o600, "catalog mode %o" % (os.stat(db).st_mode & 0o777))
    s = rows(db, "SELECT athlete, source, state, recording, duration_s, strides_l, strides_r, "
                 "cadence_spm, contact_si_pct, summary_json, ended_utc FROM sessions")
    check(len(s) == 1, "sessions %r" % s)
    athlete, source, state, rec, dur, sl, sr, cad, csi, sj, ended = s[0]
    check((athlete, source, state) == ("sim1", "simulator", "complete"), "session %r" % (s[0],))
    check(rec == recs[0], "recording %r" % rec)
    check(dur is not None and 35 < dur < 45, "duration %r" % dur)
    check(sl > 20 and sr > 20, "strides %r %r" % (sl, sr))
    check(cad is not None and 140 < cad < 200, "cadence %r" % cad)
    check(csi is not None and abs(csi) < 10, "contact SI %r" % csi)
    check(json.loads(sj)["type"] == "summary", "summary json")
    check(ended is not None, "ended_utc")
    pods = rows(db, "SELECT serial, foot, athlete FROM pods WHERE athlete IS NOT NULL "
                    "ORDER BY serial")
    check(pods == [("P0001", "L", "anna"), ("P0002", "R", "anna")], "pods %r" % pods)
    # simulated at [rates] default_rate_hz: 40 s at 200 Hz
    a = run([GAITCTL, "analyze", recs[0]])
    check(a.returncode == 0, "analyze: %s" % a.stderr)

    # bad values: exit 2, file:line, section and key in the message
    with open(ini, "a") as f:
        f.write("[daemon]\nhwm = lots\n")
    r = run([GAITD, "--config", ini])
    check(r.returncode == 2, "bad config: exit %d" % r.returncode)
    check("%s:18: [daemon] hwm: expected a whole number" % ini in r.stderr, r.stderr)
    r = run([GAITD, "--config", os.path.join(tmp, "missing.ini")])
    check(r.returncode == 2 and "missing.ini: cannot open" in r.stderr, r.stderr)


def test_kill9(tmp):
    rec = os.path.join(tmp, "rec")
    os.mkdir(rec)
    db = os.path.join(tmp, "kill.db")
    d = subprocess.Popen([GAITD, "--pub", "ipc://%s/k-pub" % tmp, "--control",
                          "ipc://%s/k-ctl" % tmp, "--simulate", "1", "--record", rec,
                          "--db", db], stderr=subprocess.PIPE, text=True)
    try:
        # recording until several chunks are flushed (one per second) and the catalog has had
        # a progress update with metrics (every 10 s)
        t0 = time.time()
        files = []
        while time.time() - t0 < 40:
            files = glob.glob(os.path.join(rec, "*.gaitrec"))
            if files and os.path.getsize(files[0]) > 60000 and os.path.exists(db) and \
                    rows(db, "SELECT count(*) FROM sessions WHERE state = 'running' AND "
                             "strides_l > 0")[0][0] == 1:
                break
            time.sleep(0.2)
        check(files and os.path.getsize(files[0]) > 60000, "no recording data")
    finally:
        d.send_signal(signal.SIGKILL)
        d.wait(timeout=10)
        d.stderr.close()
    check(d.returncode == -signal.SIGKILL, "gaitd exit %r" % d.returncode)
    s = rows(db, "SELECT id, state FROM sessions")
    check(len(s) == 1 and s[0][1] == "running", "after kill -9: %r" % s)
    # the recording reads back to its last complete chunk
    a = run([GAITCTL, "analyze", files[0]])
    check(a.returncode in (0, 1), "analyze after kill -9: exit %d %s" % (a.returncode, a.stderr))
    strides = sum(1 for ln in a.stdout.splitlines() if json.loads(ln)["type"] == "stride")
    check(strides > 4, "strides in the killed recording: %d" % strides)
    # restart (replaying that recording): the killed session is marked interrupted, not lost
    r = run([GAITD, "--pub", "ipc://%s/k2-pub" % tmp, "--control", "ipc://%s/k2-ctl" % tmp,
             "--replay", files[0], "--speed", "0", "--db", db])
    check(r.returncode == 0, "restart: exit %d %s" % (r.returncode, r.stderr))
    check("1 session(s) left running by a previous gaitd marked interrupted" in r.stderr, r.stderr)
    s = rows(db, "SELECT id, athlete, source, state, recording, ended_utc > started_utc, "
                 "strides_l + strides_r, cadence_spm FROM sessions ORDER BY id")
    check(len(s) == 2, "sessions %r" % s)
    check(s[0][1:6] == ("sim1", "simulator", "interrupted", files[0], 1), "killed %r" % (s[0],))
    check(s[0][6] > 10 and s[0][7] > 100, "killed session keeps its last metrics: %r" % (s[0],))
    check(s[1][1:4] == ("sim1", "replay", "complete"), "replayed %r" % (s[1],))
    check(abs(s[1][6] - strides) <= 4, "replay strides %d vs analyze %d" % (s[1][6], strides))
    check(rows(db, "PRAGMA integrity_check") == [("ok",)], "integrity")

    # gaitctl reads it
    r = run([GAITCTL, "sessions", "--db", db, "--json"])
    check(r.returncode == 0, "sessions: %s" % r.stderr)
    got = [json.loads(ln) for ln in r.stdout.splitlines()]
    check([g["state"] for g in got] == ["complete", "interrupted"], "sessions %r" % got)
    r = run([GAITCTL, "history", "--db", db, "sim1"])
    check(r.returncode == 0 and "interrupted" in r.stdout and "complete" in r.stdout, r.stdout)
    r = run([GAITCTL, "history", "--db", db])
    check(r.returncode == 2, "history without athlete: exit %d" % r.returncode)


def test_baseline(tmp):
    db = os.path.join(tmp, "base.db")
    common = ["--speed", "0", "--duration", "30", "--db", db, "--pub", "ipc://%s/bp" % tmp,
              "--control", "ipc://%s/bc" % tmp]
    for seed in range(1, 6):     # five ordinary sessions of sim1: its history
        r = run([GAITD, "--simulate", "1", "--sim-seed", str(seed)] + common)
        check(r.returncode == 0, "history session %d: %s" % (seed, r.stderr[-2000:]))
    # sim1 (5 sessions of history) and sim2 (none), both with a weaker right push-off
    r = run([GAITD, "--simulate", "2", "--sim-seed", "40", "--sim-asym", "1:pushoff=1,0.7",
             "--sim-asym", "2:pushoff=1,0.7"] + common)
    check(r.returncode == 0, "asymmetric session: %s" % r.stderr[-2000:])
    check("sim1: focus baseline from 5 earlier session(s)" in r.stderr, r.stderr[-2000:])
    last = {}
    for athlete, focus in rows(db, "SELECT athlete, focus_json FROM sessions ORDER BY id"):
        last[athlete] = json.loads(focus or "[]")
    refs = {a: {f["reference"] for f in last[a]} for a in ("sim1", "sim2")}
    check(last["sim2"] and refs["sim2"] == {"population"}, "sim2 (no history): %r" % last["sim2"])
    check(last["sim1"] and refs["sim1"] == {"baseline"}, "sim1 (5 sessions): %r" % last["sim1"])
    ev = " ".join(e for f in last["sim1"] for e in f["evidence"])
    check("your own baseline" in ev, "baseline evidence: %s" % ev)
    top = last["sim1"][0]
    check(top["area"] in ("calves", "achilles") and top["side"] == "R" and top["score"] >= 0.5,
          "sim1 top focus against its baseline: %r" % top)


def main():
    tmp = tempfile.mkdtemp(prefix="gaitd-cat-")
    try:
        test_config(tmp)
        test_kill9(tmp)
        test_baseline(tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("ok")


if __name__ == "__main__":
    main()
