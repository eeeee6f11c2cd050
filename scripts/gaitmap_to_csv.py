#!/usr/bin/python3
"""Converts the gaitmap example recording to gaitd's formats.

usage: gaitmap_to_csv.py DATASET_DIR OUT.csv TRUTH.csv

DATASET_DIR holds imu_sample.csv and stride_events_sample.csv (gaitmap example_data, MIT licence;
a copy with its LICENSE is in tests/data/gaitmap). The IMU file has two header rows (sensor:
left_sensor/right_sensor, axis: acc_x..gyr_z) and the sample index in column 1; sample i is at
time i / 204.8 s. Its frame and units are already gaitd's (x toe, y left, z up, m/s^2, deg/s).

OUT.csv: gait CSV v1 (../shared/CONTRACT.md), rows in time order, L before R.
TRUTH.csv: the motion-capture reference in the truth format of `gaitctl simulate --truth`:
    foot,activity,t_ic,t_to,t_next_ic
activity walk. The reference events were found on the 100 Hz motion-capture frames and stored as
round(frame * 2.048) (gaitmap's example_data/extract_example_data.py); every index in the file is one
of those values, so the frame is recovered exactly, frame = round(index / 2.048), and the event time
is frame / 100 s (t_ic from pre_ic, t_to from tc, t_next_ic from ic). This removes the second
rounding to the 204.8 Hz grid (up to +-2.4 ms); the frame quantisation itself (+-5 ms) remains.
An index that is not such a value is an input error.
Standard library only. Exit 0 ok, 1 unreadable or malformed input, 2 bad usage.
"""
import csv
import os
import sys

FS = 204.8
FS_MOCAP = 100.0
AXES = ["acc_x", "acc_y", "acc_z", "gyr_x", "gyr_y", "gyr_z"]
SENSORS = (("L", "left_sensor"), ("R", "right_sensor"))


class InputError(Exception):
    pass


def convert_imu(src, dst):
    """Writes gait CSV v1 from gaitmap's imu_sample.csv. Returns the number of sample instants."""
    with open(src, newline="") as f:
        rows = list(csv.reader(f))
    if len(rows) < 3:
        raise InputError("%s: expected two header rows and data" % src)
    sensors, axes = rows[0], rows[1]
    col = {}
    for i in range(1, min(len(sensors), len(axes))):
        col[(sensors[i], axes[i])] = i
    for _, sensor in SENSORS:
        for a in AXES:
            if (sensor, a) not in col:
                raise InputError("%s: line 1-2: no column for %s %s" % (src, sensor, a))
    n = 0
    with open(dst, "w") as o:
        o.write("# gaitmap example_data (mad-lab-fau/gaitmap, MIT licence), walking, 204.8 Hz\n")
        o.write("# converted by scripts/gaitmap_to_csv.py: time_s = sample index / 204.8\n")
        o.write("time_s,foot,acc_x,acc_y,acc_z,gyr_x,gyr_y,gyr_z\n")
        for lineno, r in enumerate(rows[2:], start=3):
            if not r or not r[0].strip():
                continue
            try:
                idx = int(float(r[0]))
                vals = {k: float(r[c]) for k, c in col.items()}
            except (ValueError, IndexError):
                raise InputError("%s:%d: malformed row" % (src, lineno))
            t = idx / FS
            for foot, sensor in SENSORS:
                o.write("%.6f,%s,%s\n" % (t, foot, ",".join(
                    "%.9g" % vals[(sensor, a)] for a in AXES)))
            n += 1
    return n


def mocap_time(index):
    """Time (s) of a reference event stored as round(frame * 204.8 / 100): frame / 100."""
    frame = round(index * FS_MOCAP / FS)
    if round(frame * FS / FS_MOCAP) != index:
        raise ValueError("event index %g is not on the 100 Hz motion-capture grid" % index)
    return frame / FS_MOCAP


def convert_events(src, dst):
    """Writes the truth CSV from gaitmap's stride_events_sample.csv. Returns the stride count."""
    out = []
    with open(src, newline="") as f:
        for lineno, r in enumerate(csv.DictReader(f), start=2):
            try:
                foot = {"left": "L", "right": "R"}[r["foot"]]
                pre_ic, tc, ic = float(r["pre_ic"]), float(r["tc"]), float(r["ic"])
            except (KeyError, ValueError, TypeError):
                raise InputError("%s:%d: malformed stride event row" % (src, lineno))
            try:
                t = [mocap_time(v) for v in (pre_ic, tc, ic)]
            except ValueError as e:
                raise InputError("%s:%d: %s" % (src, lineno, e))
            out.append((t[0], foot, t[1], t[2]))
    out.sort()
    with open(dst, "w") as o:
        o.write("# gaitmap example_data reference (motion capture, 100 Hz frames); "
                "t = round(index/2.048)/100 for pre_ic, tc, ic\n")
        o.write("foot,activity,t_ic,t_to,t_next_ic\n")
        for t_ic, foot, t_to, t_next in out:
            o.write("%s,walk,%.6f,%.6f,%.6f\n" % (foot, t_ic, t_to, t_next))
    return len(out)


def main(argv):
    if len(argv) != 4 or argv[1] in ("-h", "--help"):
        sys.stderr.write(__doc__.split("\n\n")[1] + "\n")
        return 0 if len(argv) == 2 and argv[1] in ("-h", "--help") else 2
    ds, out_csv, truth_csv = argv[1:]
    try:
        n = convert_imu(os.path.join(ds, "imu_sample.csv"), out_csv)
        m = convert_events(os.path.join(ds, "stride_events_sample.csv"), truth_csv)
    except (OSError, InputError) as e:
        sys.stderr.write("gaitmap_to_csv: %s\n" % e)
        return 1
    sys.stderr.write("gaitmap_to_csv: %d samples per foot -> %s, %d strides -> %s\n"
                     % (n, out_csv, m, truth_csv))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
