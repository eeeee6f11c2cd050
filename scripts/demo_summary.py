#!/usr/bin/env python3
"""Prints a readable table from gaitd feed messages saved as JSON lines (`gaitctl watch` output):
per athlete cadence, speed (mean of both feet), mean contact time L/R, symmetry indices and stride
counts from the session's summary message, then one verdict per athlete (asymmetric when |contact SI| >= threshold).

usage: demo_summary.py [--threshold PCT] FEED.jsonl
Exit status 1 when no summary message is found."""
import json
import math
import sys


def num(v):
    return v if isinstance(v, (int, float)) and math.isfinite(v) else None


def fmt(v, spec, signed=False):
    v = num(v)
    if v is None:
        return "-"
    return format(v, ("+" if signed else "") + spec)


def main(argv):
    threshold = 4.0
    args = argv[1:]
    if len(args) >= 2 and args[0] == "--threshold":
        threshold = float(args[1])
        args = args[2:]
    if len(args) != 1:
        print(__doc__.strip().splitlines()[-2], file=sys.stderr)
        return 2
    summaries, strides = {}, {}
    with open(args[0]) as f:
        for line in f:
            try:
                m = json.loads(line)
            except ValueError:
                continue
            a = m.get("athlete")
            if m.get("type") == "summary" and a:
                summaries[a] = m
            elif m.get("type") == "stride" and a:
                strides[a] = strides.get(a, 0) + 1
    if not summaries:
        print("demo: no summary message received", file=sys.stderr)
        return 1

    head = ("athlete", "cadence", "speed", "contact L", "contact R", "contact SI", "stride SI",
            "step SI", "strides L/R")
    unit = ("", "steps/min", "m/s", "ms", "ms", "%", "%", "%", "")
    rows = []
    for a in sorted(summaries):
        s = summaries[a]
        sym = s.get("symmetry") or {}
        L, R = s.get("L") or {}, s.get("R") or {}
        ns = s.get("n_strides") or {}
        cl, cr = num(L.get("contact_s")), num(R.get("contact_s"))
        sp = [num(((F.get("by_metric") or {}).get("speed_mps") or {}).get("mean")) for F in (L, R)]
        sp = [x for x in sp if x is not None]
        rows.append((a, fmt(s.get("cadence_spm"), ".1f"),
                     fmt(sum(sp) / len(sp) if sp else None, ".2f"),
                     fmt(cl * 1000 if cl is not None else None, ".0f"),
                     fmt(cr * 1000 if cr is not None else None, ".0f"),
                     fmt(sym.get("contact_si_pct"), ".1f", True),
                     fmt(sym.get("stride_si_pct"), ".1f", True),
                     fmt(sym.get("step_si_pct"), ".1f", True),
                     "%s/%s" % (ns.get("L", "-"), ns.get("R", "-"))))
    widths = [max(len(r[i]) for r in rows + [head, unit]) for i in range(len(head))]

    def line(r):
        return "  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                         for i, (c, w) in enumerate(zip(r, widths)))

    print()
    print("== Session summary (SI = 100 * (L - R) / mean(L, R); positive: left larger)")
    print(line(head))
    print(line(unit))
    print("  ".join("-" * w for w in widths))
    for r in rows:
        print(line(r))
    print()
    print("Verdict (asymmetric when |contact SI| >= %g %%):" % threshold)
    for a in sorted(summaries):
        s = summaries[a]
        si = num((s.get("symmetry") or {}).get("contact_si_pct"))
        cl = num((s.get("L") or {}).get("contact_s"))
        cr = num((s.get("R") or {}).get("contact_s"))
        if si is None or cl is None or cr is None:
            print("  %s: not enough strides of both feet for a verdict" % a)
        elif abs(si) >= threshold:
            side, longer = ("LEFT", cl / cr) if cl > cr else ("RIGHT", cr / cl)
            print("  %s: asymmetric \u2014 %s contact %.1f %% longer (contact SI %+.1f %%)"
                  % (a, side, (longer - 1.0) * 100.0, si))
        else:
            print("  %s: symmetric within \u00b1%g %% (contact SI %+.1f %%)" % (a, threshold, si))
    print()
    print("These indicators are training aids, not diagnoses.")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
