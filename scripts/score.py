#!/usr/bin/python3
"""Scores `gaitctl analyze` output against ground truth.

usage: score.py TRUTH.csv ANALYZE.jsonl [--json] [--true-clock]
                [--min-recall X] [--min-precision X] [--max-ic-p95-ms MS] [--max-to-p95-ms MS]
                [--max-contact-p95-ms MS] [--max-contact-si-err-pp PP] [--max-cadence-err-spm S]
       score.py --self-test

TRUTH.csv: `foot,activity,t_ic,t_to,t_next_ic` rows (from `gaitctl simulate --truth` or
scripts/gaitmap_to_csv.py); '#' lines are comments. A comment `# clock_offset_s: L,R` (written by
gaitctl simulate) gives the pods' clock offsets: the truth is on the true clock, the CSV that was
analysed on each pod's clock, so truth times of a foot are shifted by its offset before matching
(--true-clock: do not).
ANALYZE.jsonl: JSON lines from `gaitctl analyze`: {"type":"stride","foot":"L","t_ic":..,"t_to":..,
"t_next_ic":..,"contact_s":..,"stride_s":..} per stride and one {"type":"summary",
"cadence_spm":..,"symmetry":{"contact_si_pct":..,...}}.

Matching: per foot, each truth stride is matched one-to-one to the detected stride with the
nearest t_ic within 50 % of the truth stride time (closest pairs first).
recall = matched truth strides / truth strides. precision = matched / detected strides of that
foot whose t_ic lies within the truth's span (first truth IC - half a stride .. last truth IC +
half a stride), since truth may cover only part of a recording.
Errors (detected - truth, ms) of IC, toe-off, contact time and stride time: |error| median, P95,
max, and bias (mean signed error).
Symmetry and cadence: computed from truth over running strides if the truth has any, else over
all strides (the rule of the summary, ../shared/CONTRACT.md); SI = 100 (L - R) / (0.5 (L + R)) of
mean contact / stride / step time; truth cadence = 120 / mean stride time over both feet. Compared
with the summary's figures (percentage points, steps/min).
Threshold options make the exit status 1 when violated (a regression test); 2 = bad usage or
unreadable input. Standard library only.
"""
import argparse
import json
import math
import os
import signal
import sys
import tempfile


class InputError(Exception):
    pass


def load_truth(path):
    """Returns (strides, offsets): strides as dicts foot, activity, t_ic, t_to, t_next_ic."""
    out, offsets = [], [0.0, 0.0]
    with open(path) as f:
        for lineno, line in enumerate(f, start=1):
            line = line.strip()
            if not line:
                continue
            if line.startswith("#"):
                body = line[1:].strip()
                if body.startswith("clock_offset_s:"):
                    try:
                        offsets = [float(x) for x in body.split(":", 1)[1].split(",")]
                        if len(offsets) != 2:
                            raise ValueError
                    except ValueError:
                        raise InputError("%s:%d: bad clock_offset_s comment" % (path, lineno))
                continue
            p = [x.strip() for x in line.split(",")]
            if p[0] == "foot":
                continue
            if len(p) not in (5, 6) or p[0] not in ("L", "R"):
                raise InputError("%s:%d: expected foot,activity,t_ic,t_to,t_next_ic"
                                 "[,stride_length_m]" % (path, lineno))
            try:
                t = [float(x) for x in p[2:]]
            except ValueError:
                raise InputError("%s:%d: not a number" % (path, lineno))
            out.append(dict(foot=p[0], activity=p[1], t_ic=t[0], t_to=t[1], t_next_ic=t[2],
                            stride_length_m=t[3] if len(t) > 3 else None))
    return out, offsets


def load_analysis(path):
    strides, summary = [], None
    with open(path) as f:
        for lineno, line in enumerate(f, start=1):
            line = line.strip()
            if not line:
                continue
            try:
                o = json.loads(line)
            except ValueError as e:
                raise InputError("%s:%d: not JSON: %s" % (path, lineno, e))
            if not isinstance(o, dict):
                raise InputError("%s:%d: not a JSON object" % (path, lineno))
            if o.get("type") == "stride":
                if o.get("foot") not in ("L", "R") or not isinstance(o.get("t_ic"), (int, float)):
                    raise InputError("%s:%d: stride without foot or t_ic" % (path, lineno))
                strides.append(o)
            elif o.get("type") == "summary":
                summary = o
    return strides, summary


def num(x):
    return float(x) if isinstance(x, (int, float)) and math.isfinite(x) else None


def percentile(v, q):
    v = sorted(v)
    if not v:
        return None
    k = (len(v) - 1) * q / 100.0
    i = int(math.floor(k))
    j = min(i + 1, len(v) - 1)
    return v[i] + (v[j] - v[i]) * (k - i)


def err_stats(errs_s):
    """errs_s: signed errors in seconds -> dict in ms."""
    if not errs_s:
        return dict(n=0, median_ms=None, p95_ms=None, max_ms=None, bias_ms=None)
    a = [abs(e) * 1000.0 for e in errs_s]
    return dict(n=len(a), median_ms=percentile(a, 50), p95_ms=percentile(a, 95), max_ms=max(a),
                bias_ms=1000.0 * sum(errs_s) / len(errs_s))


def len_stats(errs, truths):
    """errs: signed length (or speed) errors, truths: the true values -> |error| median, P95,
    bias, in units and in % of the truth."""
    if not errs:
        return dict(n=0, median=None, p95=None, bias=None, median_pct=None, p95_pct=None,
                    bias_pct=None)
    a = [abs(e) for e in errs]
    pc = [100.0 * e / t for e, t in zip(errs, truths)]
    ap = [abs(x) for x in pc]
    return dict(n=len(a), median=percentile(a, 50), p95=percentile(a, 95),
                bias=sum(errs) / len(errs), median_pct=percentile(ap, 50),
                p95_pct=percentile(ap, 95), bias_pct=sum(pc) / len(pc))


def si(l, r):
    if l is None or r is None or l + r == 0:
        return None
    return 100.0 * (l - r) / (0.5 * (l + r))


def mean(v):
    return sum(v) / len(v) if v else None


def truth_figures(truth):
    """Symmetry and cadence from truth (running strides if any, else all)."""
    sel = [s for s in truth if s["activity"] == "run"] or truth
    by = {f: [s for s in sel if s["foot"] == f] for f in "LR"}
    contact = {f: mean([s["t_to"] - s["t_ic"] for s in by[f]]) for f in "LR"}
    stride = {f: mean([s["t_next_ic"] - s["t_ic"] for s in by[f]]) for f in "LR"}
    # step time of a foot: its IC minus the other foot's latest IC before it (all truth ICs)
    ics = {f: sorted(s["t_ic"] for s in truth if s["foot"] == f) for f in "LR"}
    step = {}
    for f, o in (("L", "R"), ("R", "L")):
        v = []
        for s in by[f]:
            prev = [t for t in ics[o] if t < s["t_ic"]]
            if prev and s["t_ic"] - prev[-1] < (s["t_next_ic"] - s["t_ic"]):
                v.append(s["t_ic"] - prev[-1])
        step[f] = mean(v)
    all_stride = [s["t_next_ic"] - s["t_ic"] for s in sel]
    return dict(
        subset="run" if any(s["activity"] == "run" for s in truth) else "all",
        contact_si_pct=si(contact["L"], contact["R"]),
        stride_si_pct=si(stride["L"], stride["R"]),
        step_si_pct=si(step["L"], step["R"]),
        cadence_spm=120.0 / mean(all_stride) if all_stride else None,
        contact_s={f: contact[f] for f in "LR"})


def match_foot(truth, det):
    """One-to-one nearest-t_ic matching; returns list of (truth, det) pairs."""
    cand = []
    for i, t in enumerate(truth):
        tol = 0.5 * (t["t_next_ic"] - t["t_ic"])
        for j, d in enumerate(det):
            dt = abs(d["t_ic"] - t["t_ic"])
            if dt <= tol:
                cand.append((dt, i, j))
    cand.sort()
    ti, dj, pairs = set(), set(), []
    for _, i, j in cand:
        if i in ti or j in dj:
            continue
        ti.add(i)
        dj.add(j)
        pairs.append((truth[i], det[j]))
    return pairs


def score(truth, offsets, strides, summary, true_clock=False):
    if not true_clock:
        shifted = []
        for s in truth:
            o = offsets[0 if s["foot"] == "L" else 1]
            shifted.append(dict(s, t_ic=s["t_ic"] + o, t_to=s["t_to"] + o,
                                t_next_ic=s["t_next_ic"] + o))
        truth_m = shifted
    else:
        truth_m = truth
    res = dict(truth_strides=len(truth), detected_strides=len(strides), feet={})
    errs = dict(ic=[], to=[], contact=[], stride=[])
    lerr, ltru, serr, stru = [], [], [], []
    n_len_truth = n_len_null = 0
    n_match = n_det_in = 0
    for f in "LR":
        tf = sorted([s for s in truth_m if s["foot"] == f], key=lambda s: s["t_ic"])
        df = sorted([s for s in strides if s["foot"] == f], key=lambda s: s["t_ic"])
        pairs = match_foot(tf, df)
        if tf:
            strides_t = sorted(s["t_next_ic"] - s["t_ic"] for s in tf)
            half = 0.5 * strides_t[len(strides_t) // 2]
            lo, hi = tf[0]["t_ic"] - half, tf[-1]["t_ic"] + half
            det_in = [d for d in df if lo <= d["t_ic"] <= hi]
        else:
            det_in = []
        for t, d in pairs:
            errs["ic"].append(d["t_ic"] - t["t_ic"])
            to = num(d.get("t_to"))
            if to is not None:
                errs["to"].append(to - t["t_to"])
            c = num(d.get("contact_s"))
            if c is None and to is not None:
                c = to - d["t_ic"]
            if c is not None:
                errs["contact"].append(c - (t["t_to"] - t["t_ic"]))
            st = num(d.get("stride_s"))
            if st is None and num(d.get("t_next_ic")) is not None:
                st = d["t_next_ic"] - d["t_ic"]
            if st is not None:
                errs["stride"].append(st - (t["t_next_ic"] - t["t_ic"]))
            tl = t.get("stride_length_m")
            if tl is not None and tl > 0:
                n_len_truth += 1
                dl = num(d.get("stride_length_m"))
                if dl is None:
                    n_len_null += 1
                else:
                    lerr.append(dl - tl)
                    ltru.append(tl)
                    tsp = tl / (t["t_next_ic"] - t["t_ic"])
                    ds = num(d.get("speed_mps"))
                    if ds is not None:
                        serr.append(ds - tsp)
                        stru.append(tsp)
        res["feet"][f] = dict(truth=len(tf), detected=len(df), detected_in_span=len(det_in),
                              matched=len(pairs))
        n_match += len(pairs)
        n_det_in += len(det_in)
    res["matched"] = n_match
    res["detected_in_span"] = n_det_in
    res["recall"] = n_match / len(truth) if truth else None
    res["precision"] = n_match / n_det_in if n_det_in else None
    for k in errs:
        res[k + "_error"] = err_stats(errs[k])
    # stride length and speed (truth with lengths only): matched strides with a true length,
    # those the analysis left null, and the errors of the others
    res["length"] = dict(truth_n=n_len_truth, null_n=n_len_null, error_m=len_stats(lerr, ltru),
                         speed_error_mps=len_stats(serr, stru))
    tfig = truth_figures(truth) if truth else {}
    sym = (summary or {}).get("symmetry") or {}
    res["symmetry"] = {}
    for key in ("contact_si_pct", "stride_si_pct", "step_si_pct"):
        tv, dv = tfig.get(key), num(sym.get(key))
        res["symmetry"][key] = dict(truth=tv, analysis=dv,
                                    error_pp=(dv - tv) if tv is not None and dv is not None else None)
    tc, dc = tfig.get("cadence_spm"), num((summary or {}).get("cadence_spm"))
    res["cadence"] = dict(truth_spm=tc, analysis_spm=dc,
                          error_spm=(dc - tc) if tc is not None and dc is not None else None)
    res["truth_subset"] = tfig.get("subset")
    res["has_summary"] = summary is not None
    return res


def straights(strides):
    """Per foot, the runs of consecutive strides (by index) not flagged turning, split at the
    turning ones (and at a missing index): sum of stride_length_m, count, nulls; plus the turning
    strides. For recordings without a length reference (gaitmap: 2 x 20 m with one turn)."""
    out = {}
    for f in "LR":
        st = sorted([s for s in strides if s["foot"] == f], key=lambda s: s.get("index", 0))
        runs, turns, cur, prev = [], [], None, None
        for s in st:
            gap = prev is not None and s.get("index", 0) != prev + 1
            prev = s.get("index", 0)
            if s.get("turning") is True:
                turns.append(dict(index=s.get("index"), t_ic=s["t_ic"], turn_deg=num(s.get("turn_deg")),
                                  stride_length_m=num(s.get("stride_length_m"))))
                cur = None
                continue
            if cur is None or gap:
                cur = dict(first=s.get("index"), t_start=s["t_ic"], n=0, nulls=0, sum_m=0.0)
                runs.append(cur)
            cur["n"] += 1
            cur["t_end"] = s.get("t_next_ic", s["t_ic"])
            ln = num(s.get("stride_length_m"))
            if ln is None:
                cur["nulls"] += 1
            else:
                cur["sum_m"] += ln
        out[f] = dict(straights=runs, turning=turns)
    return out


def print_straights(sg, out):
    out.write("stride lengths per straight (runs of strides not flagged turning):\n")
    for f in "LR":
        for r in sg[f]["straights"]:
            out.write("  %s: strides %d.. (%d, %d null), t %.2f-%.2f s: sum %.2f m\n"
                      % (f, r["first"], r["n"], r["nulls"], r["t_start"], r["t_end"], r["sum_m"]))
        for t in sg[f]["turning"]:
            out.write("  %s: stride %s at t %.2f s turning: %s deg, length %s m\n"
                      % (f, t["index"], t["t_ic"], fmt(t["turn_deg"], "%+.1f"),
                         fmt(t["stride_length_m"], "%.2f")))
    tot = {}
    for f in "LR":
        tot[f] = (sum(r["sum_m"] for r in sg[f]["straights"]) +
                  sum(t["stride_length_m"] or 0.0 for t in sg[f]["turning"]))
    out.write("  all strides: L %.2f m, R %.2f m, L - R %+.2f m\n"
              % (tot["L"], tot["R"], tot["L"] - tot["R"]))
    ls, rs = sg["L"]["straights"], sg["R"]["straights"]
    if len(ls) == len(rs):
        for i, (a, b) in enumerate(zip(ls, rs)):
            mean = 0.5 * (a["sum_m"] + b["sum_m"])
            out.write("  straight %d: L %.2f m, R %.2f m, L - R %+.2f m (%+.1f %% of the mean)\n"
                      % (i + 1, a["sum_m"], b["sum_m"], a["sum_m"] - b["sum_m"],
                         100.0 * (a["sum_m"] - b["sum_m"]) / mean if mean else 0.0))


def fmt(x, spec="%.1f"):
    return "-" if x is None else spec % x


def print_human(r, out):
    out.write("strides: truth %d, detected %d (%d inside the truth's span), matched %d\n"
              % (r["truth_strides"], r["detected_strides"], r["detected_in_span"], r["matched"]))
    for f in "LR":
        x = r["feet"][f]
        out.write("  %s: truth %d, detected %d (in span %d), matched %d\n"
                  % (f, x["truth"], x["detected"], x["detected_in_span"], x["matched"]))
    out.write("recall %s  precision %s\n" % (fmt(r["recall"], "%.3f"), fmt(r["precision"], "%.3f")))
    out.write("%-9s %6s %9s %9s %9s %9s\n" % ("error", "n", "median", "P95", "max", "bias"))
    for k, name in (("ic", "IC"), ("to", "toe-off"), ("contact", "contact"), ("stride", "stride")):
        e = r[k + "_error"]
        out.write("%-9s %6d %6s ms %6s ms %6s ms %6s ms\n"
                  % (name, e["n"], fmt(e["median_ms"]), fmt(e["p95_ms"]), fmt(e["max_ms"]),
                     fmt(e["bias_ms"], "%+.1f")))
    out.write("symmetry (truth over %s strides vs summary):\n" % (r["truth_subset"] or "-"))
    for k, v in r["symmetry"].items():
        out.write("  %-15s truth %7s %%  analysis %7s %%  error %7s pp\n"
                  % (k, fmt(v["truth"], "%+.2f"), fmt(v["analysis"], "%+.2f"),
                     fmt(v["error_pp"], "%+.2f")))
    ln = r["length"]
    if ln["truth_n"]:
        e, sp = ln["error_m"], ln["speed_error_mps"]
        out.write("stride length: %d matched strides with a true length, %d null; |error| median "
                  "%s m (%s %%), P95 %s m (%s %%), bias %s m (%s %%)\n"
                  % (ln["truth_n"], ln["null_n"], fmt(e["median"], "%.3f"),
                     fmt(e["median_pct"], "%.1f"), fmt(e["p95"], "%.3f"),
                     fmt(e["p95_pct"], "%.1f"), fmt(e["bias"], "%+.3f"),
                     fmt(e["bias_pct"], "%+.1f")))
        out.write("speed: |error| median %s m/s (%s %%), P95 %s m/s (%s %%), bias %s m/s (%s %%)\n"
                  % (fmt(sp["median"], "%.3f"), fmt(sp["median_pct"], "%.1f"),
                     fmt(sp["p95"], "%.3f"), fmt(sp["p95_pct"], "%.1f"),
                     fmt(sp["bias"], "%+.3f"), fmt(sp["bias_pct"], "%+.1f")))
    c = r["cadence"]
    out.write("cadence: truth %s, analysis %s, error %s steps/min\n"
              % (fmt(c["truth_spm"]), fmt(c["analysis_spm"]), fmt(c["error_spm"], "%+.2f")))
    if not r["has_summary"]:
        out.write("(no summary object in the analysis)\n")


def check(r, a):
    """Returns the list of violated thresholds."""
    bad = []

    def over(name, value, limit, higher_is_bad=True):
        if limit is None:
            return
        if value is None:
            bad.append("%s: no value (limit %g)" % (name, limit))
        elif (value > limit) if higher_is_bad else (value < limit):
            bad.append("%s = %.4g, limit %g" % (name, value, limit))

    over("recall", r["recall"], a.min_recall, False)
    over("precision", r["precision"], a.min_precision, False)
    over("IC P95 ms", r["ic_error"]["p95_ms"], a.max_ic_p95_ms)
    over("toe-off P95 ms", r["to_error"]["p95_ms"], a.max_to_p95_ms)
    over("contact P95 ms", r["contact_error"]["p95_ms"], a.max_contact_p95_ms)
    e = r["symmetry"]["contact_si_pct"]["error_pp"]
    over("|contact SI error| pp", abs(e) if e is not None else None, a.max_contact_si_err_pp)
    e = r["cadence"]["error_spm"]
    over("|cadence error| spm", abs(e) if e is not None else None, a.max_cadence_err_spm)
    ln = r["length"]
    over("stride length |error| P95 %", ln["error_m"]["p95_pct"], a.max_length_p95_pct)
    b = ln["error_m"]["bias_pct"]
    over("|stride length bias| %", abs(b) if b is not None else None, a.max_length_bias_pct)
    if a.max_length_null_frac is not None:
        frac = ln["null_n"] / ln["truth_n"] if ln["truth_n"] else None
        over("stride length null fraction", frac, a.max_length_null_frac)
    return bad


def self_test():
    """Synthetic truth and detections with known errors."""
    ok = True

    def expect(cond, what):
        nonlocal ok
        if not cond:
            sys.stderr.write("self-test FAILED: %s\n" % what)
            ok = False

    d = tempfile.mkdtemp()
    tp, jp = os.path.join(d, "t.csv"), os.path.join(d, "a.jsonl")
    with open(tp, "w") as f:
        f.write("# clock_offset_s: 0.000000,0.100000\nfoot,activity,t_ic,t_to,t_next_ic\n")
        for i in range(10):
            f.write("L,run,%.6f,%.6f,%.6f\n" % (1.0 + 0.7 * i, 1.0 + 0.7 * i + 0.26, 1.7 + 0.7 * i))
            f.write("R,run,%.6f,%.6f,%.6f\n" % (1.35 + 0.7 * i, 1.35 + 0.7 * i + 0.24,
                                                 2.05 + 0.7 * i))
    with open(jp, "w") as f:
        for i in range(10):
            if i == 3:
                continue  # a missed left stride
            t = 1.0 + 0.7 * i + 0.004
            f.write(json.dumps(dict(type="stride", foot="L", t_ic=t, t_to=t + 0.25,
                                    t_next_ic=t + 0.7, stride_s=0.7, contact_s=0.25)) + "\n")
        for i in range(10):
            t = 1.45 + 0.7 * i - 0.002  # pod clock of R is +0.1 s
            f.write(json.dumps(dict(type="stride", foot="R", t_ic=t, t_to=t + 0.24,
                                    t_next_ic=t + 0.7, stride_s=0.7, contact_s=0.24)) + "\n")
        f.write(json.dumps(dict(type="stride", foot="R", t_ic=30.0, t_to=30.2, t_next_ic=30.7,
                                stride_s=0.7, contact_s=0.2)) + "\n")  # outside the span
        f.write(json.dumps(dict(type="stride", foot="R", t_ic=3.9, t_to=4.1, t_next_ic=4.6,
                                stride_s=0.7, contact_s=0.2)) + "\n")  # false positive in span
        f.write(json.dumps(dict(type="summary", cadence_spm=171.0,
                                symmetry=dict(contact_si_pct=4.0))) + "\n")
    truth, offs = load_truth(tp)
    strides, summ = load_analysis(jp)
    r = score(truth, offs, strides, summ)
    expect(r["matched"] == 19, "matched %d != 19" % r["matched"])
    expect(abs(r["recall"] - 0.95) < 1e-9, "recall %s" % r["recall"])
    expect(abs(r["precision"] - 19 / 20.0) < 1e-9, "precision %s" % r["precision"])
    e = r["ic_error"]
    expect(abs(e["max_ms"] - 4.0) < 1e-6 and abs(e["median_ms"] - 2.0) < 1e-6,
           "IC error %s" % e)
    expect(abs(e["bias_ms"] - (9 * 4.0 - 10 * 2.0) / 19) < 1e-6, "IC bias %s" % e["bias_ms"])
    expect(abs(r["to_error"]["max_ms"] - 6.0) < 1e-6, "toe-off error %s" % r["to_error"])
    expect(abs(r["contact_error"]["max_ms"] - 10.0) < 1e-6 and
           abs(r["contact_error"]["median_ms"]) < 1e-6, "contact error %s" % r["contact_error"])
    si_t = 100 * (0.26 - 0.24) / 0.25
    expect(abs(r["symmetry"]["contact_si_pct"]["truth"] - si_t) < 1e-6, "truth contact SI")
    expect(abs(r["symmetry"]["contact_si_pct"]["error_pp"] - (4.0 - si_t)) < 1e-6, "SI error")
    expect(abs(r["cadence"]["truth_spm"] - 120 / 0.7) < 1e-6, "truth cadence")
    # without the clock offset, right strides are 100 ms off: still matched (tolerance 350 ms)
    r2 = score(truth, offs, strides, summ, true_clock=True)
    expect(abs(r2["ic_error"]["max_ms"] - 98.0) < 1e-6, "true-clock IC error")
    a = argparse.Namespace(min_recall=0.99, min_precision=None, max_ic_p95_ms=5.0,
                           max_to_p95_ms=None, max_contact_p95_ms=None,
                           max_contact_si_err_pp=None, max_cadence_err_spm=None,
                           max_length_p95_pct=None, max_length_bias_pct=None,
                           max_length_null_frac=None)
    expect(len(check(r, a)) == 1, "threshold check %s" % check(r, a))
    expect(r["length"]["truth_n"] == 0, "5-column truth has no lengths")
    # 6-column truth (stride_length_m): length and speed errors
    with open(tp, "w") as f:
        f.write("foot,activity,t_ic,t_to,t_next_ic,stride_length_m\n")
        for i in range(4):
            f.write("L,run,%.6f,%.6f,%.6f,2.0000\n" % (1.0 + i, 1.25 + i, 2.0 + i))
    with open(jp, "w") as f:
        for i, ln in enumerate((2.1, 1.9, None, 2.2)):
            f.write(json.dumps(dict(type="stride", foot="L", t_ic=1.0 + i, t_to=1.25 + i,
                                    t_next_ic=2.0 + i, stride_s=1.0, stride_length_m=ln,
                                    speed_mps=ln)) + "\n")
    truth, offs = load_truth(tp)
    strides, summ = load_analysis(jp)
    r3 = score(truth, offs, strides, summ)
    L3 = r3["length"]
    expect(L3["truth_n"] == 4 and L3["null_n"] == 1, "length counts %s" % L3)
    expect(abs(L3["error_m"]["median"] - 0.1) < 1e-9 and
           abs(L3["error_m"]["bias"] - 0.2 / 3) < 1e-9 and
           abs(L3["error_m"]["bias_pct"] - 10.0 / 3) < 1e-9, "length errors %s" % L3)
    expect(abs(L3["speed_error_mps"]["median"] - 0.1) < 1e-9, "speed errors %s" % L3)
    sys.stdout.write("score.py self-test: %s\n" % ("1 passed, 0 failed" if ok else "0 passed, 1 failed"))
    return 0 if ok else 1


def main(argv):
    if hasattr(signal, "SIGPIPE"):
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # quiet when piped into head
    if "--self-test" in argv[1:]:
        return self_test()
    ap = argparse.ArgumentParser(description="Score gaitctl analyze output against ground truth.")
    ap.add_argument("truth")
    ap.add_argument("analysis")
    ap.add_argument("--json", action="store_true", help="machine-readable output")
    ap.add_argument("--true-clock", action="store_true",
                    help="do not shift truth by the clock offsets named in its comments")
    ap.add_argument("--min-recall", type=float, help="fraction 0..1")
    ap.add_argument("--min-precision", type=float, help="fraction 0..1")
    ap.add_argument("--max-ic-p95-ms", type=float)
    ap.add_argument("--max-to-p95-ms", type=float)
    ap.add_argument("--max-contact-p95-ms", type=float)
    ap.add_argument("--max-contact-si-err-pp", type=float)
    ap.add_argument("--max-cadence-err-spm", type=float)
    ap.add_argument("--straights", action="store_true",
                    help="also print stride-length sums per straight and the turning strides")
    ap.add_argument("--max-length-p95-pct", type=float,
                    help="stride length |error| P95, %% of the true length")
    ap.add_argument("--max-length-bias-pct", type=float, help="|mean stride length error|, %%")
    ap.add_argument("--max-length-null-frac", type=float,
                    help="fraction of matched strides with a true length left null")
    a = ap.parse_args(argv[1:])
    try:
        truth, offs = load_truth(a.truth)
        strides, summ = load_analysis(a.analysis)
    except (OSError, InputError) as e:
        sys.stderr.write("score.py: %s\n" % e)
        return 2
    r = score(truth, offs, strides, summ, a.true_clock)
    bad = check(r, a)
    r["violations"] = bad
    if a.straights:
        r["straights"] = straights(strides)
    if a.json:
        sys.stdout.write(json.dumps(r, sort_keys=True) + "\n")
    else:
        print_human(r, sys.stdout)
        if a.straights:
            print_straights(r["straights"], sys.stdout)
        for b in bad:
            sys.stdout.write("FAIL: %s\n" % b)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
