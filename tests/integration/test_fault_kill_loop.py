#!/usr/bin/env python3
"""kill -9 at random points, many times, on one recording directory and one catalog:
`gaitd --simulate 2 --speed 20 --record DIR --db DB` killed after a random delay (about a third
of the kills within the first 0.08 s: opening the catalog, marking the previous sessions
interrupted, creating the recordings), then started again on the same catalog. After the loop
and one clean run:
- every recording reads back to its last complete chunk: `gaitctl analyze` exits 0, or 1 naming
  a chunk cut at the very end of the file (byte offset + bytes present = file size) or a
  recording without a single chunk ("no samples"), and prints only JSON lines, with the strides
  of the complete chunks;
- the catalog passes `PRAGMA integrity_check`; every session is ended: 'complete' or
  'interrupted' with ended_utc, none left 'running'; each run that got to mark the previous
  sessions marked exactly those left running; every recording path in it exists; a recording
  missing from the catalog (killed within 0.1 s of its creation) holds no data;
- nothing but recordings in DIR (no temporary or empty files), nothing but the catalog beside it
  after the clean run (its WAL files checkpointed and removed).
The kill delays come from a seeded generator: the seed is printed (GAITD_KILL_SEED=S reruns it;
GAITD_KILL_N sets the number of kills, default 20)."""
import glob
import os
import random
import re
import shutil
import signal
import sqlite3
import subprocess
import tempfile
import time

from gaitdtest import BIN, analyze_recording, catalog_rows, check, fail

GAITD = os.path.join(BIN, "gaitd")
GAITCTL = os.path.join(BIN, "gaitctl")


def running(db):
    if not os.path.exists(db):
        return 0
    try:
        return catalog_rows(db, "SELECT count(*) FROM sessions WHERE state = 'running'")[0][0]
    except sqlite3.OperationalError as e:
        # killed before it made its schema (seen: a 0 or 4096-byte file, no tables yet): no
        # session can be running; the next gaitd makes the schema
        check("no such table" in str(e), "catalog %s: %s" % (db, e))
        return 0


def main():
    seed = int(os.environ.get("GAITD_KILL_SEED", random.SystemRandom().randrange(1 << 31)))
    n = int(os.environ.get("GAITD_KILL_N", "20"))
    print("seed %d (GAITD_KILL_SEED=%d reruns this sequence), %d kills" % (seed, seed, n))
    rng = random.Random(seed)
    tmp = tempfile.mkdtemp(prefix="gaitd-kill-")
    rec = os.path.join(tmp, "rec")
    dbdir = os.path.join(tmp, "db")
    os.mkdir(rec)
    os.mkdir(dbdir)
    db = os.path.join(dbdir, "catalog.db")
    t_start = time.time()
    try:
        for i in range(n):
            before = running(db)
            delay = rng.uniform(0.0, 0.08) if rng.random() < 0.3 else rng.uniform(0.08, 2.5)
            log = os.path.join(tmp, "gaitd-%02d.log" % i)
            with open(log, "w") as lf:
                d = subprocess.Popen([GAITD, "--pub", "ipc://%s/pub" % tmp, "--control",
                                      "ipc://%s/ctl" % tmp, "--simulate", "2", "--speed", "20",
                                      "--sim-seed", str(i + 1), "--record", rec, "--db", db],
                                     stderr=lf)
                time.sleep(delay)
                d.send_signal(signal.SIGKILL)
                d.wait(timeout=30)
            check(d.returncode == -signal.SIGKILL,
                  "kill %d (%.3f s): gaitd ended by itself with %r" % (i, delay, d.returncode))
            with open(log) as lf:
                text = lf.read()
            m = re.search(r"(\d+) session\(s\) left running by a previous gaitd marked interrupted",
                          text)
            marked = int(m.group(1)) if m else 0
            if marked or before:
                # it either got as far as marking them (all of them) or was killed before
                check(marked in (0, before), "kill %d: %d running before, %d marked:\n%s"
                      % (i, before, marked, text))
            print("kill %2d after %.3f s: %d running before, %s; %d running now"
                  % (i, delay, before, "marked %d" % marked if m else "not marked yet",
                     running(db)))

        # one clean run on the same catalog: marks what the last kills left running
        before = running(db)
        r = subprocess.run([GAITD, "--pub", "ipc://%s/pub" % tmp, "--control",
                            "ipc://%s/ctl" % tmp, "--simulate", "1", "--sim-plan", "run:20",
                            "--speed", "0", "--record", rec, "--db", db],
                           capture_output=True, text=True, timeout=120)
        check(r.returncode == 0, "clean run: exit %d\n%s" % (r.returncode, r.stderr))
        if before:
            check("%d session(s) left running by a previous gaitd marked interrupted" % before
                  in r.stderr, "clean run did not mark %d sessions:\n%s" % (before, r.stderr))

        # a clean stop checkpoints and removes the WAL files (before this test's readers
        # open the catalog, which make them again)
        left = sorted(os.listdir(dbdir))
        check(left == ["catalog.db"], "beside the catalog after a clean stop: %r" % left)

        # the catalog
        check(catalog_rows(db, "PRAGMA integrity_check") == [("ok",)], "integrity_check")
        sessions = catalog_rows(db, "SELECT id, athlete, state, started_utc, ended_utc, "
                                    "recording FROM sessions ORDER BY id")
        check(sessions, "no sessions in the catalog")
        states = {}
        for sid, athlete, state, started, ended, recording in sessions:
            states[state] = states.get(state, 0) + 1
            check(state in ("complete", "interrupted"), "session %d: state %r" % (sid, state))
            check(ended is not None and ended >= started,
                  "session %d: %s .. %r" % (sid, started, ended))
            check(recording is not None and os.path.isfile(recording),
                  "session %d: recording %r missing" % (sid, recording))
        check(sessions[-1][2] == "complete", "clean run's session %r" % (sessions[-1],))
        print("catalog: %d sessions %r" % (len(sessions), states))

        # the recordings
        names = os.listdir(rec)
        stray = [x for x in names if not re.fullmatch(r"sim\d-\d{8}T\d{6}Z(-\d+)?\.gaitrec", x)]
        check(not stray, "files other than recordings in %s: %r" % (rec, stray))
        catalogued = {s[5] for s in sessions}
        verdict = {}
        for f in sorted(glob.glob(os.path.join(rec, "*.gaitrec"))):
            size = os.path.getsize(f)
            check(size > 0, "%s: empty" % f)
            rc, out, err = analyze_recording(GAITCTL, f)
            strides = sum(1 for o in out if o.get("type") == "stride")
            if rc == 0:
                verdict["clean"] = verdict.get("clean", 0) + 1
                continue
            check(rc == 1, "%s: analyze exit %d: %s" % (f, rc, err))
            if "no samples" in err:
                check(size < 1024, "%s: no samples in %d bytes" % (f, size))
                verdict["header only"] = verdict.get("header only", 0) + 1
                continue
            m = re.search(r"byte (\d+): chunk (\d+): truncated \((\d+) of (\d+) bytes\)", err)
            if not m:
                fail("%s: analyze exit 1 without naming a cut chunk at the end: %s" % (f, err))
            at, have = int(m.group(1)), int(m.group(3))
            check(at + have == size, "%s: damage at byte %d (%d bytes present) is not at the "
                  "end of the %d-byte file: %s" % (f, at, have, size, err))
            if int(m.group(2)) >= 2:
                check(strides > 0, "%s: %d chunks before the cut but no strides" % (f, strides))
            verdict["cut at the tail"] = verdict.get("cut at the tail", 0) + 1
        uncatalogued = [x for x in glob.glob(os.path.join(rec, "*.gaitrec"))
                        if x not in catalogued]
        # the catalog row comes within 0.1 s, long before the first chunk (1 s): a recording
        # with data is never missing from the catalog
        for x in uncatalogued:
            check(os.path.getsize(x) < 1024, "%s: %d bytes of data but not in the catalog"
                  % (x, os.path.getsize(x)))
        print("recordings: %d %r; %d not in the catalog (killed between creating the file and "
              "the catalog insert)" % (len(names), verdict, len(uncatalogued)))
        check(sum(verdict.values()) == len(names), "recordings checked")

        print("%.1f s" % (time.time() - t_start))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("ok")


if __name__ == "__main__":
    main()
