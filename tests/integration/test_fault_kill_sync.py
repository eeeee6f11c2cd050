#!/usr/bin/env python3
"""kill -9 at random points during a USB sync, many times, then a clean run (issue 6).

One emulated pod (umockpod_run, kept alive across the gaitd restarts) holds one stored run of
60 s (1200 frames) that it sends at 5x real time, so reading it takes about 12 s in all (each
restarted gaitd resumes from the copy the killed one left, so the kills fall all along the read,
and its end). Under
umockpod_run a driver (this script with --inner) starts `gaitd --usb-sync --record DIR --db DB`
again and again on the same data directory and catalog, and kills it with SIGKILL after a random
delay (seeded: the seed is printed, GAITD_KILL_SEED=S reruns the sequence, GAITD_KILL_N sets the
number of kills, default 10). After every kill: the run is gone from the pod only if the catalog
holds it as synced (erase strictly after the catalog). Then one gaitd runs until the sync is
complete and is stopped with SIGTERM. At the end:
- exactly one catalog session of source usb-sync, state 'synced', and one runs_synced row for
  the run pointing at it; no session left 'running';
- its recording reads back whole: `gaitctl analyze` exits 0, and `gaitctl convert` gives every
  frame of the run exactly once (30000 samples, no hole in the time line);
- a session killed while its run was analysed is marked 'interrupted' with its recording kept;
  every *.gaitrec in DIR is a catalogued session's, or a whole copy killed before its catalog
  row (it reads back whole, 60 s; the run was read again); every other file is a copy that never
  completed, named *.gaitrec.partial[.N] (kept), none taken for a complete recording;
- the run is erased on the pod.
Usage: test_fault_kill_sync.py UMOCKPOD_RUN
"""
import json
import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time

from gaitdtest import (BIN, check, check_every_frame_once, fail, print_logs,
                       remove_unless_kept)

GAITD = os.path.join(BIN, "gaitd")
GAITCTL = os.path.join(BIN, "gaitctl")
RUN_FRAMES = 1200             # 60 s at 500 Hz, 25 samples per frame
SERIAL = "GP-L-0001"


def catalog(db, sql):
    if not os.path.exists(db):
        return []
    con = sqlite3.connect("file:%s?mode=ro" % db, uri=True, timeout=10)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def pod_stats(path):
    try:
        with open(path) as f:
            return json.loads(f.readline())
    except (OSError, ValueError):
        return None


def synced_rows(db):
    return catalog(db, "SELECT s.id, s.state, s.recording FROM runs_synced r JOIN sessions s "
                       "ON s.id = r.session_id WHERE r.pod_serial = '%s' AND r.run_id = 1"
                   % SERIAL)


def check_erase_after_catalog(tmp, db, what):
    """The run may be gone from the pod only once the catalog holds it as synced."""
    st = pod_stats(os.path.join(tmp, "stats.jsonl"))
    if st and st["runs_left"] == 0:
        rows = synced_rows(db)
        check(rows and rows[0][1] == "synced", "%s: run erased on the pod but the catalog has "
              "%r" % (what, rows))
    return st


def gaitd_cmd(tmp, data, db):
    return [GAITD, "--usb-sync", "--record", data, "--db", db, "--pub", "ipc://%s/pub" % tmp,
            "--control", "ipc://%s/ctl" % tmp]


def inner(tmp, seed, n):
    """Runs under umockpod_run (same pod across restarts)."""
    rng = random.Random(seed)
    data, db = os.path.join(tmp, "data"), os.path.join(tmp, "data", "catalog.db")
    kills = []
    for i in range(n):
        # mostly while the run is read (each gaitd goes on from the copy the last one left, so
        # ten kills cover the 12 s of the read), some later (a copy completed: analysis, catalog,
        # erase)
        # (recording closed, analysis, catalog, erase)
        delay = rng.uniform(0.05, 2.9) if rng.random() < 0.8 else rng.uniform(2.9, 3.6)
        log = os.path.join(tmp, "gaitd-%02d.log" % i)
        with open(log, "w") as lf:
            d = subprocess.Popen(gaitd_cmd(tmp, data, db), stderr=lf)
            time.sleep(delay)
            d.send_signal(signal.SIGKILL)
            d.wait(timeout=30)
        check(d.returncode == -signal.SIGKILL, "kill %d: gaitd ended by itself (%r)"
              % (i, d.returncode))
        with open(log) as lf:
            text = lf.read()
        m = re.findall(r"(?:reading|verifying)[^\n]*run 1|run 1 read and verified|run 1 erased|"
                       r"catalog: session \d+ of \w+ synced", text)
        st = check_erase_after_catalog(tmp, db, "kill %d" % i)
        kills.append(delay)
        print("kill %2d after %.2f s: %s; pod runs left %s; catalog synced %r"
              % (i, delay, ", ".join(dict.fromkeys(m)) or "before the read",
                 st["runs_left"] if st else "?", [r[0] for r in synced_rows(db)]))
        sys.stdout.flush()

    # a clean run: the sync completes
    log = os.path.join(tmp, "gaitd-final.log")
    with open(log, "w") as lf:
        d = subprocess.Popen(gaitd_cmd(tmp, data, db), stderr=lf)
        t0 = time.time()
        while time.time() - t0 < 120:
            st = check_erase_after_catalog(tmp, db, "final run")
            with open(log) as f:
                finished = "sync finished" in f.read()
            if finished and synced_rows(db) and st and st["runs_left"] == 0:
                break
            if d.poll() is not None:
                fail("the final gaitd ended by itself")
            time.sleep(0.1)
        else:
            fail("the final run did not complete the sync:\n" + open(log).read()[-3000:])
        d.send_signal(signal.SIGTERM)
        rc = d.wait(timeout=60)
    check(rc == 0, "final gaitd exit %r:\n%s" % (rc, open(log).read()[-3000:]))
    print("final run: synced and erased in %.1f s" % (time.time() - t0))


def outer(umockpod_run):
    seed = int(os.environ.get("GAITD_KILL_SEED", random.SystemRandom().randrange(1 << 31)))
    n = int(os.environ.get("GAITD_KILL_N", "10"))
    print("seed %d (GAITD_KILL_SEED=%d reruns this sequence), %d kills" % (seed, seed, n))
    sys.stdout.flush()
    t_start = time.time()
    tmp = tempfile.mkdtemp(prefix="gaitd-killsync-")
    data = os.path.join(tmp, "data")
    os.mkdir(data)
    db = os.path.join(data, "catalog.db")
    try:
        r = subprocess.run([umockpod_run, "--pod", "%s:L:runs=1:run_s=60:read_speed=5" % SERIAL,
                            "--stats", os.path.join(tmp, "stats.jsonl"), "--stats-period", "0.1",
                            "--", "/usr/bin/python3", os.path.abspath(__file__), "--inner", tmp,
                            str(seed), str(n)], timeout=600)
        check(r.returncode == 0, "the kill loop failed (exit %d)" % r.returncode)
        pod = pod_stats(os.path.join(tmp, "stats.jsonl"))
        check(pod["runs_left"] == 0 and pod["erase_runs"] >= 1, "pod %r" % pod)

        # the catalog: one synced session for the run, nothing left running
        check(catalog(db, "PRAGMA integrity_check") == [("ok",)], "integrity_check")
        rows = catalog(db, "SELECT id, source, state, recording FROM sessions ORDER BY id")
        synced = [x for x in rows if x[2] == "synced"]
        check(len(synced) == 1 and synced[0][1] == "usb-sync", "sessions %r" % rows)
        check(not [x for x in rows if x[2] == "running"], "sessions left running %r" % rows)
        check(all(x[2] in ("synced", "interrupted") for x in rows), "sessions %r" % rows)
        runs = catalog(db, "SELECT pod_serial, run_id, session_id FROM runs_synced")
        check(runs == [(SERIAL, 1, synced[0][0])], "runs_synced %r" % runs)

        # its recording: every frame of the run exactly once
        rec = synced[0][3]
        check_every_frame_once(GAITCTL, rec, tmp, RUN_FRAMES)

        # sessions interrupted (killed while the run was analysed): marked, their recording kept
        interrupted = [x for x in rows if x[2] == "interrupted"]
        for x in interrupted:
            check(x[3] and os.path.isfile(x[3]), "interrupted session %r: recording missing" % (x,))

        # the other files: copies that never completed, never under a recording's name
        files = sorted(os.listdir(data))
        recs = {os.path.join(data, x) for x in files if x.endswith(".gaitrec")}
        check(recs >= {x[3] for x in rows}, "recordings %r, catalogued %r"
              % (sorted(recs), [x[3] for x in rows]))
        # killed between the copy's completion and its catalog row: a whole copy, not catalogued
        # (the run was read again); it must read back whole too
        spare = sorted(recs - {x[3] for x in rows})
        for x in spare:
            a = subprocess.run([GAITCTL, "analyze", x], capture_output=True, text=True,
                               timeout=120)
            summ = [json.loads(ln) for ln in a.stdout.splitlines() if '"summary"' in ln]
            check(a.returncode == 0 and summ and abs(summ[-1]["duration_s"] - 60) < 0.1,
                  "uncatalogued recording %s is not whole: %s" % (x, a.stderr))
        other = [x for x in files if not x.endswith(".gaitrec") and not x.startswith("catalog.db")]
        check(all(re.search(r"\.gaitrec\.partial(\.\d+)?$", x) for x in other),
              "other files %r" % other)
        print("after %d kills: one synced session (%d), its recording whole (%d frames), %d "
              "interrupted session(s), %d whole copies not catalogued (killed before their row), "
              "%d copies that never completed kept as .partial, run erased on the pod; %.1f s"
              % (n, synced[0][0], RUN_FRAMES, len(interrupted), len(spare), len(other),
                 time.time() - t_start))
    except SystemExit:
        print_logs(tmp)
        raise
    finally:
        remove_unless_kept(tmp)
    print("ok")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--inner":
        inner(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    else:
        outer(sys.argv[1])
