#!/usr/bin/env python3
"""`gaitctl analyze` against the simulator's ground truth (`gaitctl simulate --truth`): stride
recall, IC / toe-off timing, contact symmetry index and cadence, for a symmetric run, a run with
left contact +8 % and a stand/walk/run/walk session. Acceptance bounds of the issue: recall
>= 0.995, IC and toe-off P95 |error| <= 6 ms (IC <= 10 ms in the session with walking, whose
touch-down scatter is 5 ms sd), contact SI within 0.5 pp of the truth's, cadence within 0.5
steps/min. Strides are matched per foot by t_ic within 100 ms. Stride length against the true
heel travel (the truth's stride_length_m): regression bounds P95 <= 7 %, |bias| <= 5 %, <= 2 %
null."""
import csv
import json
import os
import subprocess
import sys
import tempfile

BIN = os.environ.get("GAITD_BIN", "build/bin")
GAITCTL = os.path.join(BIN, "gaitctl")


def percentile(v, q):
    v = sorted(v)
    k = (len(v) - 1) * q / 100.0
    i = int(k)
    j = min(i + 1, len(v) - 1)
    return v[i] + (v[j] - v[i]) * (k - i)


def load_truth(path):
    with open(path) as f:
        rows = [l for l in f if not l.startswith("#")]
    return [dict(foot=r["foot"], act=r["activity"], t_ic=float(r["t_ic"]), t_to=float(r["t_to"]),
                 t_next_ic=float(r["t_next_ic"]),
                 length=float(r["stride_length_m"]) if r.get("stride_length_m") else None)
            for r in csv.DictReader(rows)]


def si(l, r):
    return 100.0 * (l - r) / (0.5 * (l + r))


def score(truth, det):
    byfoot = {f: sorted((d for d in det if d["foot"] == f), key=lambda d: d["t_ic"]) for f in "LR"}
    ic, to, used, lerr = [], [], set(), []
    for r in truth:
        best = None
        for d in byfoot[r["foot"]]:
            e = d["t_ic"] - r["t_ic"]
            if abs(e) <= 0.1 and id(d) not in used and (best is None or abs(e) < abs(best[1])):
                best = (d, e)
        if best:
            used.add(id(best[0]))
            ic.append(1000 * best[1])
            to.append(1000 * (best[0]["t_to"] - r["t_to"]))
            # stride length error, % of the true heel travel (None: the analysis left it null)
            ln = best[0].get("stride_length_m")
            lerr.append(None if ln is None else 100.0 * (ln - r["length"]) / r["length"])
    return ic, to, lerr


def session(name, args, fails, ic_p95=6.0, len_p95=None, len_bias=None):
    with tempfile.TemporaryDirectory() as tmp:
        out, tru = os.path.join(tmp, "s.csv"), os.path.join(tmp, "t.csv")
        p = subprocess.run([GAITCTL, "simulate", *args, "--truth", tru, out],
                           capture_output=True, text=True, timeout=200)
        if p.returncode != 0:
            fails.append("%s: simulate failed: %s" % (name, p.stderr.strip()))
            return
        a = subprocess.run([GAITCTL, "analyze", out], capture_output=True, text=True, timeout=200)
        truth = load_truth(tru)
    if a.returncode != 0:
        fails.append("%s: analyze exit %d: %s" % (name, a.returncode, a.stderr.strip()))
        return
    objs = [json.loads(l) for l in a.stdout.splitlines()]
    det = [o for o in objs if o["type"] == "stride"]
    summ = objs[-1]
    ic, to, lerr = score(truth, det)
    recall = len(ic) / len(truth)
    aic, ato = [abs(x) for x in ic], [abs(x) for x in to]
    # the summary covers the running strides when there are any (CONTRACT.md)
    run = [r for r in truth if r["act"] == "run"] or truth
    c = {f: [r["t_to"] - r["t_ic"] for r in run if r["foot"] == f] for f in "LR"}
    si_true = si(sum(c["L"]) / len(c["L"]), sum(c["R"]) / len(c["R"]))
    cad_true = 120.0 / (sum(r["t_next_ic"] - r["t_ic"] for r in run) / len(run))
    si_det = summ["symmetry"]["contact_si_pct"]
    cad = summ["cadence_spm"]
    print("%s: truth=%d det=%d recall=%.4f IC median=%.2f P95=%.2f bias=%.2f ms; TO median=%.2f "
          "P95=%.2f bias=%.2f ms; contact SI %.2f (truth %.2f); cadence %.2f (truth %.2f)" %
          (name, len(truth), len(det), recall, percentile(aic, 50), percentile(aic, 95),
           sum(ic) / len(ic), percentile(ato, 50), percentile(ato, 95), sum(to) / len(to),
           si_det, si_true, cad, cad_true))
    lv = [x for x in lerr if x is not None]
    nulls = (len(lerr) - len(lv)) / len(lerr)
    lp95 = percentile([abs(x) for x in lv], 95)
    lbias = sum(lv) / len(lv)
    print("%s: stride length |error| median %.2f %% P95 %.2f %% bias %+.2f %%, null %.3f" %
          (name, percentile([abs(x) for x in lv], 50), lp95, lbias, nulls))
    checks = []
    if len_p95 is not None:
        checks += [("stride length P95 <= %g %%" % len_p95, lp95 <= len_p95),
                   ("|stride length bias| <= %g %%" % len_bias, abs(lbias) <= len_bias),
                   ("stride length null <= 2 %", nulls <= 0.02)]
    for label, ok in checks + [("recall >= 0.995", recall >= 0.995),
                      ("IC P95 <= %g ms" % ic_p95, percentile(aic, 95) <= ic_p95),
                      ("TO P95 <= 6 ms", percentile(ato, 95) <= 6.0),
                      ("contact SI within 0.5 pp", abs(si_det - si_true) <= 0.5),
                      ("cadence within 0.5 spm", abs(cad - cad_true) <= 0.5)]:
        if not ok:
            fails.append("%s: %s" % (name, label))


def main():
    fails = []
    # stride length (ZUPT integration) against the true heel travel: regression bounds from the
    # values measured on 2026-11-29 with a margin (P95 4.2-4.5 %, bias -1.5 to -3.1 %, 0-0.2 %
    # null; METRICS.md section 3)
    session("symmetric run 500 Hz", ["--duration", "300", "--seed", "101"], fails,
            len_p95=7.0, len_bias=5.0)
    session("left contact +8 %", ["--duration", "300", "--seed", "102", "--contact-scale",
                                  "1.08,1"], fails, len_p95=7.0, len_bias=5.0)
    # walking strides: the model's touch-down scatter is 5 ms (SIMULATOR.md), the IC bound stays 10
    session("stand/walk/run/walk", ["--plan", "stand:5,walk:60,run:120@180,walk:30",
                                    "--seed", "103"], fails, ic_p95=10.0, len_p95=7.0,
            len_bias=5.0)
    for f in fails:
        print("FAIL:", f)
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
