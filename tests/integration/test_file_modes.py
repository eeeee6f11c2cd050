#!/usr/bin/env python3
"""Files gaitd creates are owner-only whatever the umask (issue 6, daemon/SECURITY.md): with
umask 000 (the most permissive), every file gaitd creates in its data directory is 0600 and
every directory 0700:
1. a simulated session recorded with --record and catalogued with --db: the .gaitrec, the
   catalog and SQLite's -wal/-shm files;
2. with an emulated pod (umockpod_run, when given): a run synced over USB into the data
   directory (`--usb-sync`), also catalogued.
The data directory itself is the operator's and keeps its mode.
Usage: test_file_modes.py [UMOCKPOD_RUN]
"""
import json
import os
import signal
import stat
import subprocess
import sys
import tempfile
import time

from gaitdtest import BIN, check, fail, request

GAITD = os.path.join(BIN, "gaitd")


def umask0():
    os.umask(0)


def created_modes(data, before):
    """{relative path: mode} of everything under data that was not in before."""
    out = {}
    for root, dirs, files in os.walk(data):
        for n in dirs + files:
            p = os.path.join(root, n)
            rel = os.path.relpath(p, data)
            if rel not in before:
                out[rel] = os.lstat(p).st_mode
    return out


def check_owner_only(data, before, what):
    modes = created_modes(data, before)
    check(modes, "%s: gaitd created nothing in %s" % (what, data))
    for rel, m in sorted(modes.items()):
        want = 0o700 if stat.S_ISDIR(m) else 0o600
        check(stat.S_IMODE(m) == want, "%s: %s has mode %04o, want %04o (umask 000)"
              % (what, rel, stat.S_IMODE(m), want))
    print("%s: %s" % (what, ", ".join("%s %04o" % (r, stat.S_IMODE(m))
                                      for r, m in sorted(modes.items()))))
    return modes


def recorded(tmp):
    data = os.path.join(tmp, "data")
    os.mkdir(data, 0o755)
    os.chmod(data, 0o755)
    db = os.path.join(data, "catalog.db")
    r = subprocess.run([GAITD, "--simulate", "1", "--duration", "20", "--speed", "0",
                        "--record", data, "--db", db, "--pub", "ipc://%s/pub" % tmp,
                        "--control", "ipc://%s/ctl" % tmp],
                       capture_output=True, text=True, timeout=240, preexec_fn=umask0)
    check(r.returncode == 0, "gaitd exit %d: %s" % (r.returncode, r.stderr[-3000:]))
    modes = check_owner_only(data, set(), "recorded session")
    check(any(p.endswith(".gaitrec") for p in modes), "no recording in %r" % sorted(modes))
    check("catalog.db" in modes, "no catalog in %r" % sorted(modes))
    check(stat.S_IMODE(os.stat(data).st_mode) == 0o755, "the data directory's mode changed")


def synced(tmp, umockpod_run):
    data = os.path.join(tmp, "sync")
    os.mkdir(data, 0o700)
    db = os.path.join(data, "catalog.db")
    ctl = "ipc://%s/sync-ctl" % tmp
    d = subprocess.Popen([umockpod_run, "--pod", "GP-L-0001:L:speed=10:runs=1:run_s=10", "--",
                          GAITD, "--usb-sync", "--record", data, "--db", db,
                          "--pub", "ipc://%s/sync-pub" % tmp, "--control", ctl],
                         stderr=subprocess.PIPE, text=True, preexec_fn=umask0)
    import zmq
    ctx = zmq.Context.instance()
    err = ""
    try:
        t0 = time.time()
        while True:
            if d.poll() is not None:
                fail("gaitd exited %r: %s" % (d.returncode, d.stderr.read()[-3000:]))
            if time.time() - t0 > 180:
                fail("no synced run within 180 s")
            try:
                r = request(ctx, ctl, json.dumps({"cmd": "sessions"}).encode(), timeout_ms=5000)
            except zmq.Again:
                r = {}
            if any(s.get("state") == "synced" for s in r.get("sessions", [])):
                break
            time.sleep(0.5)
        d.send_signal(signal.SIGTERM)
        rc = d.wait(timeout=60)
        err = d.stderr.read()
        check(rc == 0, "gaitd exit %r: %s" % (rc, err[-3000:]))
    finally:
        if d.poll() is None:
            d.kill()
            d.wait()
    modes = check_owner_only(data, set(), "synced run")
    check(any(".gaitrec" in p for p in modes), "no synced recording in %r" % sorted(modes))


def main():
    tmp = tempfile.mkdtemp(prefix="gaitd-modes-")
    recorded(tmp)
    if len(sys.argv) > 1:
        synced(tmp, sys.argv[1])
    else:
        print("SKIP synced run: no umockpod_run (umockdev not installed)")
    print("OK")


if __name__ == "__main__":
    main()
