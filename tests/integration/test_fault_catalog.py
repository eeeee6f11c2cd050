#!/usr/bin/env python3
"""The session catalog locked or read-only while gaitd records sessions into it (real SQLite,
real locks, a really read-only file):
- locked: another process holds `BEGIN EXCLUSIVE` (python sqlite3) from before gaitd starts until
  12 s later; gaitd's writes wait SQLite's busy timeout (5 s), fail with "database is locked",
  are logged naming the database and the operation, and are retried: the session ends in the
  catalog 'complete' with every stride published;
- read-only from the start: the catalog file is made immutable (`chattr +i`: chmod does not stop
  root, and the tests run as root); gaitd starts, logs each failed write naming the database and
  the operation ("attempt to write a readonly database"), publishes the whole session and exits
  0; the file is left byte for byte as it was;
- read-only for a while: the catalog and its WAL file become immutable while a session runs,
  the progress update fails and is retried; once writable again the retry succeeds and the
  session ends 'complete' with its summary.
In every case the feeds carry every stride and the summary, gaitd exits 0 by itself, and the
catalog passes `PRAGMA integrity_check`. Without `chattr +i` (filesystem or capability) the
read-only cases are reported as skipped."""
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import threading
import time

import zmq

from gaitdtest import BIN, catalog_rows, check, fail, subscriber

GAITD = os.path.join(BIN, "gaitd")
LOCK_S = 12


def gaitd(tmp, tag, db, plan, speed, log):
    return subprocess.Popen([GAITD, "--pub", "ipc://%s/%s-pub" % (tmp, tag), "--control",
                             "ipc://%s/%s-ctl" % (tmp, tag), "--simulate", "1", "--sim-plan",
                             plan, "--speed", speed, "--db", db, "--wait-subscriber", "10"],
                            stderr=log)


def collect(ctx, tmp, tag, d, during=None, limit=180):
    """Receives gait/ messages until gaitd has exited and the feed is quiet; calls during()
    every 0.1 s meanwhile. Returns [(wall time, message)]."""
    sub = subscriber(ctx, "ipc://%s/%s-pub" % (tmp, tag), b"gait/")
    msgs = []
    t0 = time.time()
    try:
        while time.time() - t0 < limit:
            if sub.poll(100):
                msgs.append((time.time(), json.loads(sub.recv_multipart()[1])))
                continue
            if during:
                during()
            if d.poll() is not None and not sub.poll(500):
                break
        else:
            fail("%s: gaitd still running after %d s" % (tag, limit))
    finally:
        sub.close()
        if d.poll() is None:
            d.kill()
        d.wait(timeout=30)
    return msgs


def check_feed(tag, msgs):
    """Every stride published, the summary counts them; returns (strides, largest gap between
    two feed messages in wall seconds)."""
    strides = [m for _, m in msgs if m["type"] == "stride"]
    summary = [m for _, m in msgs if m["type"] == "summary"]
    check(len(summary) == 1, "%s: %d summaries" % (tag, len(summary)))
    n = summary[0]["n_strides"]
    check(n["L"] + n["R"] == len(strides) and len(strides) > 50,
          "%s: summary %r, %d strides published" % (tag, n, len(strides)))
    gap = max((b[0] - a[0] for a, b in zip(msgs, msgs[1:])), default=0.0)
    return len(strides), gap


def make_catalog(tmp, name):
    """A catalog with one finished session (gaitd's own schema)."""
    db = os.path.join(tmp, name)
    r = subprocess.run([GAITD, "--pub", "ipc://%s/mk-pub" % tmp, "--control",
                        "ipc://%s/mk-ctl" % tmp, "--simulate", "1", "--sim-plan", "run:5",
                        "--speed", "0", "--db", db], capture_output=True, text=True, timeout=60)
    check(r.returncode == 0, "make catalog: %s" % r.stderr)
    return db


def last_session(db):
    return catalog_rows(db, "SELECT state, strides_l + strides_r, summary_json IS NOT NULL, "
                            "ended_utc IS NOT NULL FROM sessions ORDER BY id DESC LIMIT 1")[0]


def test_locked(ctx, tmp):
    db = make_catalog(tmp, "locked.db")
    con = sqlite3.connect(db, isolation_level=None, timeout=10, check_same_thread=False)
    con.execute("BEGIN EXCLUSIVE")
    con.execute("UPDATE athletes SET created_utc = created_utc")
    release = threading.Timer(LOCK_S, lambda: con.execute("COMMIT"))
    logf = os.path.join(tmp, "locked.log")
    with open(logf, "w") as log:
        d = gaitd(tmp, "lk", db, "run:80", "4", log)
        release.start()
        try:
            msgs = collect(ctx, tmp, "lk", d)
        finally:
            release.join()
            con.close()
    text = open(logf).read()
    check(d.returncode == 0, "locked: gaitd exit %r\n%s" % (d.returncode, text))
    check("%s: mark interrupted sessions: database is locked" % db in text, text)
    check("catalog: cannot begin the session of sim1: %s: " % db in text and
          "database is locked (retrying in 2 s)" in text, text)
    check("given up" not in text, text)
    n, gap = check_feed("locked", msgs)
    state, strides, has_summary, ended = last_session(db)
    check((state, has_summary, ended) == ("complete", 1, 1), "locked: catalog %r" %
          ((state, strides, has_summary, ended),))
    check(strides == n, "locked: catalog strides %d, published %d" % (strides, n))
    check(catalog_rows(db, "PRAGMA integrity_check") == [("ok",)], "locked: integrity")
    print("locked %d s: retried, session complete with %d strides; longest pause of the feed "
          "%.1f s (SQLite busy timeout 5 s per blocked write)" % (LOCK_S, n, gap))


def chattr(flag, *paths):
    return subprocess.run(["chattr", flag] + list(paths), capture_output=True,
                          text=True).returncode == 0


def test_readonly_start(ctx, tmp):
    db = make_catalog(tmp, "ro.db")
    before = hashlib.sha256(open(db, "rb").read()).hexdigest()
    check(chattr("+i", db), "chattr +i")
    logf = os.path.join(tmp, "ro.log")
    try:
        with open(logf, "w") as log:
            d = gaitd(tmp, "ro", db, "run:30", "0", log)
            msgs = collect(ctx, tmp, "ro", d)
    finally:
        chattr("-i", db)
    text = open(logf).read()
    check(d.returncode == 0, "read-only: gaitd exit %r\n%s" % (d.returncode, text))
    check("%s: mark interrupted sessions: attempt to write a readonly database" % db in text,
          text)
    check("catalog: cannot begin the session of sim1: %s:" % db in text and
          "attempt to write a readonly database" in text, text)
    n, _ = check_feed("read-only", msgs)
    check(hashlib.sha256(open(db, "rb").read()).hexdigest() == before, "read-only file changed")
    check(catalog_rows(db, "PRAGMA integrity_check") == [("ok",)], "read-only: integrity")
    print("read-only (chattr +i) from the start: errors logged, %d strides published, exit 0, "
          "catalog unchanged" % n)


def test_readonly_while_running(ctx, tmp):
    db = make_catalog(tmp, "rw.db")
    logf = os.path.join(tmp, "rw.log")
    state = {"phase": "wait running", "t": 0.0}
    files = [db, db + "-wal"]

    def during():
        if state["phase"] == "wait running":
            r = catalog_rows(db, "SELECT count(*) FROM sessions WHERE state = 'running'")
            if r[0][0] == 1 and os.path.exists(db + "-wal"):
                check(chattr("+i", *files), "chattr +i %r" % files)
                state["phase"], state["t"] = "read-only", time.time()
        elif state["phase"] == "read-only":
            if "cannot update the session of sim1" in open(logf).read():
                check(chattr("-i", *files), "chattr -i")
                state["phase"] = "writable again"

    try:
        with open(logf, "w") as log:
            d = gaitd(tmp, "rw", db, "run:100", "4", log)
            msgs = collect(ctx, tmp, "rw", d, during)
    finally:
        chattr("-i", *files)
    text = open(logf).read()
    check(d.returncode == 0, "read-only for a while: gaitd exit %r\n%s" % (d.returncode, text))
    check(state["phase"] == "writable again",
          "the progress update never failed while read-only (phase %s):\n%s"
          % (state["phase"], text))
    line = [ln for ln in text.splitlines() if "cannot update the session of sim1" in ln][0]
    check(db in line and "retrying in 2 s" in line, line)
    check("given up" not in text, text)
    n, _ = check_feed("read-only for a while", msgs)
    st, strides, has_summary, ended = last_session(db)
    check((st, has_summary, ended) == ("complete", 1, 1), "catalog %r" %
          ((st, strides, has_summary, ended),))
    check(strides == n, "catalog strides %d, published %d" % (strides, n))
    check(catalog_rows(db, "PRAGMA integrity_check") == [("ok",)], "integrity")
    print("read-only while running: %r; retried and complete with %d strides" % (line[-120:], n))


def main():
    tmp = os.path.realpath(__import__("tempfile").mkdtemp(prefix="gaitd-catfault-"))
    ctx = zmq.Context()
    try:
        test_locked(ctx, tmp)
        probe = os.path.join(tmp, "probe")
        open(probe, "w").close()
        if chattr("+i", probe):
            chattr("-i", probe)
            print("read-only mechanism: chattr +i (immutable file; root is refused too)")
            test_readonly_start(ctx, tmp)
            test_readonly_while_running(ctx, tmp)
        else:
            print("SKIPPED the read-only cases: chattr +i is not permitted on %s" % tmp)
    finally:
        for f in os.listdir(tmp):
            chattr("-i", os.path.join(tmp, f))
        ctx.term()
        shutil.rmtree(tmp, ignore_errors=True)
    print("ok")


if __name__ == "__main__":
    main()
