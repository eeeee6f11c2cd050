#!/usr/bin/env python3
"""Disk full on the recording directory, for real: `gaitd --simulate 2 --record DIR` where DIR is
a 256 KiB tmpfs (mounted here, we run as root; else inside `unshare -rm`; else RLIMIT_FSIZE so
write() fails with EFBIG: the test prints which one ran). Checks:
- a clear error in the log (the file, the chunk, the system's message) and `failed: true` in the
  status feed and in the control `status` reply, while the session is still running;
- the pipeline keeps publishing strides and windows for data long after the failure, and the
  summary has every stride;
- each recording on disk ends at its last complete chunk: `gaitctl analyze` exits 0 (or 1 for a
  recording that never got a chunk, naming "no samples"), prints only well-formed JSON, and the
  strides it finds are a prefix of the live ones;
- nothing else in the directory is overwritten or removed."""
import glob
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import zmq

from gaitdtest import BIN, check, fail, request, subscriber

GAITD = os.path.join(BIN, "gaitd")
GAITCTL = os.path.join(BIN, "gaitctl")
SIZE = "256k"
PLAN = "run:120"
SPEED = "20"              # 120 s of data in about 6 s of wall time: several status messages
# GAITD_FAULT_DISKFULL=unshare or =rlimit skips the mechanisms before it (to test the fallbacks).
SENTINEL = b"an earlier recording: must survive the disk filling up\n" * 50


def try_mount(path):
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%s,mode=0700" % SIZE, "tmpfs", path],
                       capture_output=True, text=True)
    return r.returncode == 0


def unshare_works():
    r = subprocess.run(["unshare", "-rm", "sh", "-c",
                        "d=$(mktemp -d) && mount -t tmpfs -o size=%s tmpfs $d && umount $d && "
                        "rmdir $d" % SIZE], capture_output=True, text=True)
    return r.returncode == 0


def fsize_limit():
    """preexec_fn of the RLIMIT_FSIZE fallback: files may not grow past 200 000 bytes and
    SIGXFSZ is ignored, so write() fails with EFBIG instead of killing gaitd."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (200000, resource.RLIM_INFINITY))


def main():
    tmp = tempfile.mkdtemp(prefix="gaitd-full-")
    rec = os.path.join(tmp, "rec")
    out = os.path.join(tmp, "out")          # where the unshare path copies the recordings
    os.mkdir(rec)
    os.mkdir(out)
    pub, ctl = "ipc://%s/pub" % tmp, "ipc://%s/ctl" % tmp
    args = [GAITD, "--pub", pub, "--control", ctl, "--simulate", "2", "--sim-plan", PLAN,
            "--speed", SPEED, "--status-period", "0.2", "--wait-subscriber", "10",
            "--record", rec]
    mounted = False
    preexec = None
    mode = None
    sentinel = os.path.join(rec, "sim1-20200101T000000Z.gaitrec")
    try:
        force = os.environ.get("GAITD_FAULT_DISKFULL", "")   # "unshare", "rlimit": try them
        if force not in ("unshare", "rlimit") and try_mount(rec):
            mounted = True
            mode = "tmpfs %s mounted on the recording directory" % SIZE
        elif force != "rlimit" and unshare_works():
            mode = "tmpfs %s mounted inside unshare -rm" % SIZE
            script = ('mount -t tmpfs -o size=%s tmpfs "$0" || exit 97; printf %%s "$1" > "$0/%s"; '
                      'shift; "$@"; rc=$?; cp -a "$0/." "%s/"; exit $rc'
                      % (SIZE, os.path.basename(sentinel), out))
            args = ["unshare", "-rm", "sh", "-c", script, rec, SENTINEL.decode()] + args
        else:
            mode = "RLIMIT_FSIZE 200000 (write fails with EFBIG)"
            preexec = fsize_limit
        print("disk full by:", mode)
        if not mode.startswith("tmpfs %s mounted inside" % SIZE):
            with open(sentinel, "wb") as f:
                f.write(SENTINEL)

        ctx = zmq.Context()
        sub = subscriber(ctx, pub, b"gait/")
        d = subprocess.Popen(args, stderr=subprocess.PIPE, text=True, preexec_fn=preexec)
        msgs = []
        failed_status = {}          # athlete -> the first status message with failed: true
        ctl_failed = None
        t0 = time.time()
        try:
            while time.time() - t0 < 120:
                if sub.poll(100):
                    topic, body = sub.recv_multipart()
                    m = json.loads(body)
                    msgs.append(m)
                    if m["type"] == "status" and m["recording"] and m["recording"]["failed"] \
                            and not m["finished"]:
                        failed_status.setdefault(m["athlete"], m)
                    if failed_status and ctl_failed is None and d.poll() is None:
                        try:
                            r = request(ctx, ctl, b'{"cmd":"status"}', timeout_ms=5000)
                        except zmq.ZMQError:
                            r = None          # already gone: only the feed is checked then
                        if r is not None:
                            check(r.get("ok") is True, "control status %r" % r)
                            ctl_failed = [a for a in r["athletes"]
                                          if a["recording"] and a["recording"]["failed"]]
                if d.poll() is not None and not sub.poll(500):
                    break
            else:
                fail("gaitd still running after 120 s")
        finally:
            if d.poll() is None:
                d.kill()
            err = d.stderr.read()
            d.wait(timeout=30)
            sub.close()
            ctx.term()
        if d.returncode == 97:
            fail("unshare: the tmpfs could not be mounted\n" + err)
        check(d.returncode == 0, "gaitd exit %d\n%s" % (d.returncode, err))

        recdir = out if "unshare" in mode else rec
        files = sorted(glob.glob(os.path.join(recdir, "sim*-2*.gaitrec")))
        files = [f for f in files if os.path.basename(f) != os.path.basename(sentinel)]
        check(len(files) == 2, "recordings %r" % os.listdir(recdir))
        with open(os.path.join(recdir, os.path.basename(sentinel)), "rb") as f:
            check(f.read() == SENTINEL, "the earlier file was changed")

        # the log names the file, what failed and why
        why = "File too large" if "RLIMIT" in mode else "No space left on device"
        for f in files:
            line = [ln for ln in err.splitlines() if "error" in ln and os.path.basename(f) in ln]
            check(line, "no error logged for %s:\n%s" % (f, err))
            check(why in line[0] and "recording stopped" in line[0] and "chunk" in line[0],
                  "log line %r" % line[0])
        # status feed and control said so while the sessions were still running
        check(sorted(failed_status) == ["sim1", "sim2"],
              "status with recording.failed while running: %r" % sorted(failed_status))
        check(ctl_failed is None or len(ctl_failed) >= 1, "control status %r" % ctl_failed)
        print("control status while failed: %s" %
              ("checked" if ctl_failed is not None else "gaitd had already ended"))

        for athlete in ("sim1", "sim2"):
            mine = [m for m in msgs if m.get("athlete") == athlete]
            strides = [m for m in mine if m["type"] == "stride"]
            windows = [m for m in mine if m["type"] == "window"]
            summary = [m for m in mine if m["type"] == "summary"]
            check(len(summary) == 1, "%s: summary %d" % (athlete, len(summary)))
            # the pipeline went on after the failure: data far past it was analysed
            t_fail = failed_status[athlete]["t_last"]
            late = [s for s in strides if s["t_ic"] > t_fail + 30]
            late_w = [w for w in windows if w["t_end"] > t_fail + 30]
            check(len(late) > 40, "%s: %d strides 30 s after the failure" % (athlete, len(late)))
            check(len(late_w) >= 3, "%s: %d windows 30 s after the failure" % (athlete,
                                                                               len(late_w)))
            n = summary[0]["n_strides"]
            check(n["L"] + n["R"] == len(strides), "%s: summary %r vs %d strides published"
                  % (athlete, n, len(strides)))
            check(len(strides) > 250, "%s: %d strides over %s" % (athlete, len(strides), PLAN))

            # the recording: complete chunks only, read back without damage
            f = [x for x in files if os.path.basename(x).startswith(athlete + "-")][0]
            a = subprocess.run([GAITCTL, "analyze", f], capture_output=True, text=True,
                               timeout=120)
            lines = a.stdout.splitlines()
            for ln in lines:
                json.loads(ln)               # no garbage: every line is a JSON object
            rs = [json.loads(ln) for ln in lines if '"type":"stride"' in ln]
            print("%s: %d bytes on disk, analyze exit %d, %d strides (live %d)"
                  % (athlete, os.path.getsize(f), a.returncode, len(rs), len(strides)))
            if a.returncode == 1:
                check("no samples" in a.stderr, "%s: analyze exit 1: %s" % (f, a.stderr))
                check(os.path.getsize(f) < 1024, "%s: exit 1 with data" % f)
                continue
            check(a.returncode == 0, "%s: analyze exit %d: %s" % (f, a.returncode, a.stderr))
            check("trunc" not in a.stderr and "damage" not in a.stderr,
                  "%s: analyze reports damage: %s" % (f, a.stderr))
            check(0 < len(rs) < len(strides), "%s: %d strides recorded" % (f, len(rs)))
            # the same strides as live (the last ones per foot may end differently at the cut)
            live = {}
            for y in strides:
                live.setdefault(y["foot"], []).append(y["t_ic"])
            for foot in ("L", "R"):
                mine_f = [x for x in rs if x["foot"] == foot]
                check(len(mine_f) > 3, "%s: %d %s strides recorded" % (f, len(mine_f), foot))
                for x in mine_f[:-2]:
                    check(any(abs(x["t_ic"] - t) < 2e-3 for t in live[foot]),
                          "%s: recorded stride %r not in the live feed" % (f, x))
    finally:
        if mounted:
            r = subprocess.run(["umount", rec], capture_output=True, text=True)
            if r.returncode != 0:
                subprocess.run(["umount", "-l", rec])
        shutil.rmtree(tmp, ignore_errors=True)
    print("ok")


if __name__ == "__main__":
    sys.exit(main())
