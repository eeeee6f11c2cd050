#!/usr/bin/python3
"""gaitctl convert end to end: CSV -> .gaitrec -> CSV keeps every sample within the int16
quantisation (16 g / 2000 deg/s), exit statuses 0 / 1 (damaged input, message naming the file
and position, good part still converted) / 2 (usage)."""
import math
import os
import random
import subprocess
import sys
import tempfile

GAITCTL = os.path.join(os.environ.get("GAITD_BIN", "build/bin"), "gaitctl")
Q_ACC = 16 * 9.80665 / 32768
Q_GYR = 2000 / 32768


def convert(*args):
    p = subprocess.run([GAITCTL, "convert", *args], capture_output=True, text=True, timeout=60)
    return p.returncode, p.stderr


def load_csv(path):
    rows = []
    with open(path) as f:
        for line in f:
            if line.startswith("#") or line.startswith("time_s"):
                continue
            a = line.strip().split(",")
            rows.append((float(a[0]), a[1], [float(x) for x in a[2:]]))
    return rows


def main():
    failures = []

    def check(cond, what):
        if not cond:
            failures.append(what)
            print("FAIL:", what)

    with tempfile.TemporaryDirectory() as d:
        src = os.path.join(d, "session.csv")
        rnd = random.Random(3)
        with open(src, "w") as f:
            f.write("# integration test\ntime_s,foot,acc_x,acc_y,acc_z,gyr_x,gyr_y,gyr_z\n")
            for i in range(20000):  # 40 s at 500 Hz
                t = 100.0 + i / 500
                for foot in "LR":
                    acc = [rnd.uniform(-150, 150) for _ in range(3)]
                    gyr = [rnd.uniform(-1900, 1900) for _ in range(3)]
                    f.write("%.6f,%s,%s\n" % (t, foot, ",".join("%.6f" % v for v in acc + gyr)))
        rec = os.path.join(d, "session.gaitrec")
        back = os.path.join(d, "back.csv")
        rc, err = convert(src, rec)
        check(rc == 0, "csv -> gaitrec exit 0 (got %d: %s)" % (rc, err))
        rc, err = convert(rec, back)
        check(rc == 0, "gaitrec -> csv exit 0 (got %d: %s)" % (rc, err))
        a, b = load_csv(src), load_csv(back)
        check(len(a) == len(b), "same row count %d vs %d" % (len(a), len(b)))
        mt = ma = mg = 0.0
        for x, y in zip(a, b):
            if x[1] != y[1]:
                check(False, "foot order")
                break
            mt = max(mt, abs(x[0] - y[0]))
            ma = max(ma, max(abs(x[2][k] - y[2][k]) for k in range(3)))
            mg = max(mg, max(abs(x[2][k] - y[2][k]) for k in range(3, 6)))
        print("round trip: max dt %.3g s, acc %.3f LSB, gyr %.3f LSB" % (mt, ma / Q_ACC, mg / Q_GYR))
        check(mt <= 1e-6 and ma <= Q_ACC and mg <= Q_GYR, "round trip within quantisation")
        size = os.path.getsize(rec)
        check(size < os.path.getsize(src) / 3, "recording is compact (%d bytes)" % size)

        # truncated recording: exit 1, message names the file and the byte offset
        with open(rec, "rb") as f:
            data = f.read()
        cut = os.path.join(d, "cut.gaitrec")
        with open(cut, "wb") as f:
            f.write(data[: len(data) * 2 // 3])
        out = os.path.join(d, "cut.csv")
        rc, err = convert(cut, out)
        check(rc == 1, "truncated recording exits 1 (got %d)" % rc)
        check("cut.gaitrec: byte " in err, "message names file and byte: %r" % err)
        n = len(load_csv(out)) if os.path.exists(out) else 0
        check(0.5 * len(a) < n < len(a), "good part converted (%d of %d rows)" % (n, len(a)))

        # damaged CSV line: exit 1, FILE:LINE message, other rows kept
        bad = os.path.join(d, "bad.csv")
        with open(src) as f:
            lines = f.readlines()
        lines[100] = "1,2,3\n"
        with open(bad, "w") as f:
            f.writelines(lines)
        rc, err = convert(bad, os.path.join(d, "bad.gaitrec"))
        check(rc == 1, "damaged csv exits 1 (got %d)" % rc)
        check("bad.csv:101: expected 8 fields, got 3" in err, "csv message: %r" % err)

        # usage
        check(convert()[0] == 2, "no arguments: exit 2")
        check(convert(src, os.path.join(d, "x.json"))[0] == 2, "unknown OUT extension: exit 2")
        check(convert(os.path.join(d, "missing.csv"), os.path.join(d, "m.gaitrec"))[0] == 1,
              "missing input: exit 1")

    if failures:
        print("%d failure(s)" % len(failures))
        return 1
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
