#!/usr/bin/env python3
"""`gaitctl analyze` on damaged input (CONTRACT.md): a recording truncated part-way and one with a
flipped bit must give exit status 1, a message on stderr naming the file and the byte offset, and
still print the strides found before the damage (plus the summary). A CSV with a malformed line
names the line and goes on. Also: bad usage exits 2, a missing file exits 1.

Source data: the gaitmap example (tests/data/gaitmap, real walking, 204.8 Hz), converted to gait
CSV v1 here and to a recording with `gaitctl convert`."""
import csv
import json
import os
import re
import subprocess
import sys
import tempfile

FS = 204.8
BIN = os.environ.get("GAITD_BIN", "build/bin")
DATA = os.path.join(os.environ.get("GAITD_TEST_DATA", "tests/data"), "gaitmap")
GAITCTL = os.path.join(BIN, "gaitctl")
fails = []


def check(name, ok, detail=""):
    print(("ok   " if ok else "FAIL ") + name + (": " + detail if detail and not ok else ""))
    if not ok:
        fails.append(name)


def convert(src, dst):
    with open(src) as f:
        rows = list(csv.reader(f))
    sensors, axes = rows[0], rows[1]
    col = {(sensors[i], axes[i]): i for i in range(1, len(axes))}
    names = ["acc_x", "acc_y", "acc_z", "gyr_x", "gyr_y", "gyr_z"]
    with open(dst, "w") as o:
        o.write("time_s,foot,acc_x,acc_y,acc_z,gyr_x,gyr_y,gyr_z\n")
        for r in rows[2:]:
            t = int(float(r[0])) / FS
            for foot, sensor in (("L", "left_sensor"), ("R", "right_sensor")):
                o.write("%.6f,%s,%s\n" % (t, foot, ",".join(r[col[(sensor, a)]] for a in names)))


def analyze(path, *extra):
    p = subprocess.run([GAITCTL, "analyze", *extra, path], capture_output=True, text=True,
                       timeout=120)
    objs = []
    for line in p.stdout.splitlines():
        try:
            objs.append(json.loads(line))
        except ValueError:
            objs.append(None)
    return p.returncode, objs, p.stderr


def strides(objs):
    return [o for o in objs if o and o.get("type") == "stride"]


def well_formed(name, objs):
    check(name + ": every line is one JSON object", all(o is not None for o in objs))
    check(name + ": ends with exactly one summary",
          bool(objs) and objs[-1] is not None and objs[-1].get("type") == "summary" and
          sum(1 for o in objs if o and o.get("type") == "summary") == 1)
    t = [s["t_ic"] for s in strides(objs)]
    check(name + ": strides in time order", t == sorted(t))


def prefix_of(part, full, tol=0.002):
    """Every stride of part is a stride of full (same foot, events within tol)."""
    for s in part:
        if not any(f["foot"] == s["foot"] and abs(f["t_ic"] - s["t_ic"]) < tol and
                   abs(f["t_to"] - s["t_to"]) < tol for f in full):
            return False
    return True


def main():
    with tempfile.TemporaryDirectory() as tmp:
        gcsv = os.path.join(tmp, "walk.csv")
        rec = os.path.join(tmp, "walk.gaitrec")
        convert(os.path.join(DATA, "imu_sample.csv"), gcsv)
        p = subprocess.run([GAITCTL, "convert", gcsv, rec], capture_output=True, text=True)
        check("convert CSV -> recording", p.returncode == 0 and os.path.exists(rec), p.stderr)
        if fails:
            return 1

        rc, full, err = analyze(rec)
        check("intact recording: exit 0", rc == 0, err)
        well_formed("intact", full)
        full_s = strides(full)
        check("intact recording: strides found", len(full_s) >= 50, str(len(full_s)))
        rc_csv, from_csv, _ = analyze(gcsv)
        check("recording and CSV give the same strides",
              rc_csv == 0 and len(strides(from_csv)) == len(full_s) and
              prefix_of(strides(from_csv), full_s))

        data = open(rec, "rb").read()
        cut = len(data) * 6 // 10
        trunc = os.path.join(tmp, "trunc.gaitrec")
        with open(trunc, "wb") as f:
            f.write(data[:cut])
        flip = os.path.join(tmp, "flip.gaitrec")
        b = bytearray(data)
        b[len(data) * 6 // 10] ^= 0x10
        with open(flip, "wb") as f:
            f.write(bytes(b))

        for name, path in (("truncated", trunc), ("bit-flipped", flip)):
            rc, objs, err = analyze(path)
            check(name + ": exit 1", rc == 1, "rc=%d" % rc)
            m = re.search(r"byte (\d+)", err)
            check(name + ": stderr names the file and a byte offset",
                  os.path.basename(path) in err and m is not None, err.strip())
            if m:
                check(name + ": offset inside the file, at or before the damage",
                      0 < int(m.group(1)) <= cut, m.group(1))
            well_formed(name, objs)
            part = strides(objs)
            # the damage sits at 60 % of the file: roughly the first half of the strides precede it
            check(name + ": strides before the damage printed",
                  len(full_s) * 0.3 <= len(part) < len(full_s), "%d of %d" % (len(part), len(full_s)))
            check(name + ": they are the intact recording's strides", prefix_of(part, full_s))

        # CSV with one malformed line: reported with its line number, reading goes on
        lines = open(gcsv).read().splitlines(True)
        bad_line = len(lines) // 2
        lines[bad_line - 1] = "12.5,L,1,2,3\n"
        bad = os.path.join(tmp, "bad.csv")
        with open(bad, "w") as f:
            f.writelines(lines)
        rc, objs, err = analyze(bad)
        check("malformed CSV line: exit 1", rc == 1, "rc=%d" % rc)
        check("malformed CSV line: stderr names file:line",
              ("bad.csv:%d" % bad_line) in err, err.strip())
        well_formed("malformed CSV", objs)
        check("malformed CSV line: the rest is analysed",
              len(strides(objs)) >= len(full_s) - 2, str(len(strides(objs))))

        rc, _, _ = analyze(os.path.join(tmp, "missing.csv"))
        check("missing file: exit 1", rc == 1)
        p = subprocess.run([GAITCTL, "analyze"], capture_output=True, text=True)
        check("no FILE: exit 2", p.returncode == 2)
        p = subprocess.run([GAITCTL, "analyze", "--rate", "abc", gcsv], capture_output=True)
        check("bad --rate: exit 2", p.returncode == 2)
        p = subprocess.run([GAITCTL, "analyze", "--frobnicate", gcsv], capture_output=True)
        check("unknown option: exit 2", p.returncode == 2)
        rc, objs, err = analyze(gcsv, "--rate", "204.8")
        check("--rate HZ accepted", rc == 0 and len(strides(objs)) == len(full_s), err)
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
