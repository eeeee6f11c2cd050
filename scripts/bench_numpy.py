#!/usr/bin/python3
"""Vectorised numpy implementation of libgaitdsp's analysis (dsp/METRICS.md), for scripts/bench.

usage: bench_numpy.py CSV [--npz CACHE] [--json]

Reads a gait CSV v1 (time_s,foot,acc_x..gyr_z; np.loadtxt, timed separately as "load") or a
cached .npz of the same arrays, then runs, per foot, the same steps as dsp/ on whole arrays:
block-averaged pitch rate, 10 s Hann-windowed zero-padded FFT every 1 s with band peak, harmonic
check, log-parabolic sub-bin interpolation and the strength gate; swing-peak lobes below
-max(50, 0.25 x mean peak) with 0.6-period separation; IC = first upward zero crossing after a swing
peak (interpolated); toe-off = fall through 0.85 x push-off peak before the last downward zero
crossing; stride validity; impact, push-off, swing peak; stance metrics from the foot-flat point
(strike angle, braking, pronation excursion and velocity); clock offset (running median over
strides) and step times. Per-stride Python loops are avoided: segment reductions use
np.*.reduceat, cumulative sums and searchsorted. Differences to the streaming C code: the spectrum
starts with the first full 10 s window (C: 5 s), and the swing threshold uses the mean peak of the
whole foot instead of a running mean. Prints stride counts and summary means so the two can be
compared, and the time of the analysis alone ("analyse") and of reading the file ("load").
Standard library + numpy only.
"""
import argparse
import json
import math
import sys
import time

import numpy as np

G0 = 9.80665


def load_csv(path):
    hdr = 0
    with open(path, "rb") as f:
        for line in f:
            if line.startswith(b"#") or line.startswith(b"time_s"):
                hdr += 1
            else:
                break
    num = np.loadtxt(path, delimiter=",", skiprows=hdr, usecols=(0, 2, 3, 4, 5, 6, 7),
                     dtype=np.float64)
    foot = np.loadtxt(path, delimiter=",", skiprows=hdr, usecols=(1,), dtype="S1")
    return num, foot == b"R"


def segment_arg(values, starts, ends, fn):
    """Index of fn (np.minimum / np.maximum) of values[s:e] per segment (first on ties).
    Segments must be non-empty. Vectorised with reduceat over the concatenated ranges."""
    lens = ends - starts
    idx = np.repeat(starts - np.concatenate(([0], np.cumsum(lens)[:-1])), lens) + \
        np.arange(lens.sum())
    v = values[idx]
    offs = np.concatenate(([0], np.cumsum(lens)[:-1]))
    red = fn.reduceat(v, offs)
    seg = np.repeat(np.arange(len(starts)), lens)
    hit = np.flatnonzero(v == red[seg])
    _, first = np.unique(seg[hit], return_index=True)
    return idx[hit[first]], red


def spectrum_f0(gy, rate, fmin=0.4, fmax=2.2, win_s=10.0, hop_s=1.0):
    """Stride fundamental per hop (Hz, NAN = none) and the sample index each estimate holds from."""
    d = max(1, int(rate // 64))
    fs = rate / d
    nb = len(gy) // d
    dec = gy[: nb * d].reshape(nb, d).mean(axis=1)
    w = int(round(win_s * fs))
    hop = int(round(hop_s * fs))
    cap = int(math.ceil(win_s * 128.0)) + 1
    nfft = 64
    while nfft < 4 * cap:
        nfft *= 2
    if nb < w:
        return np.zeros(0), np.zeros(0, dtype=np.int64)
    ends = np.arange(w, nb + 1, hop)
    hann = 0.5 - 0.5 * np.cos(2 * np.pi * (np.arange(w) + 0.5) / w)
    view = np.lib.stride_tricks.sliding_window_view(dec, w)
    df = fs / nfft
    klo = max(1, int(math.ceil(max(fmin, 2.0 * fs / w) / df)))
    khi = int(math.floor(fmax / df))
    lobe = 2.0 * nfft / w
    out = np.full(len(ends), np.nan)
    for c0 in range(0, len(ends), 256):  # blocks bound the memory of the power matrix
        e = ends[c0: c0 + 256]
        x = view[e - w].astype(np.float32)
        x = x - x.mean(axis=1, keepdims=True)
        rms = np.sqrt((x * x).mean(axis=1))
        p = np.abs(np.fft.rfft(x * hann.astype(np.float32), n=nfft, axis=1)) ** 2
        seg = p[:, klo - 1: khi + 2]
        locmax = (seg[:, 1:-1] >= seg[:, :-2]) & (seg[:, 1:-1] >= seg[:, 2:])
        cand = np.where(locmax, seg[:, 1:-1], -1.0)
        kp = klo + np.argmax(cand, axis=1)
        rows = np.arange(len(e))
        top = p[rows, kp]
        kf = kp.copy()
        for h in (4, 3, 2):
            undecided = (kf == kp) & (kp / h >= klo)
            ok = undecided.copy()
            strongest = np.zeros(len(e))
            k1 = np.zeros(len(e), dtype=np.int64)
            for m in range(1, h):
                kc = kp * m / h
                lo = np.maximum(1, np.floor(kc - 0.5 * lobe)).astype(np.int64)
                span = int(math.ceil(lobe)) + 2
                cols = lo[:, None] + np.arange(span)[None, :]
                hi = np.ceil(kc + 0.5 * lobe).astype(np.int64)
                valid = cols <= hi[:, None]
                pv = p[rows[:, None], cols]
                pl = p[rows[:, None], cols - 1]
                pr = p[rows[:, None], cols + 1]
                lm = valid & (pv >= pl) & (pv >= pr)
                best = np.where(lm, pv, -1.0)
                j = np.argmax(best, axis=1)
                bv = best[rows, j]
                ok &= bv >= 0.02 * top
                strongest = np.maximum(strongest, np.where(bv > 0, bv, 0))
                if m == 1:
                    k1 = cols[rows, j]
            take = ok & (strongest >= 0.10 * top)
            kf = np.where(take, k1, kf)
        a = np.log(p[rows, kf - 1] + 1e-30)
        b = np.log(p[rows, kf] + 1e-30)
        c = np.log(p[rows, kf + 1] + 1e-30)
        den = a - 2 * b + c
        dlt = np.where(den < 0, np.clip(0.5 * (a - c) / np.where(den < 0, den, -1), -0.5, 0.5), 0)
        f0 = (kf + dlt) * df
        # strength: power within the main lobes of the first 4 harmonics / band power
        topk = min(khi * 4, nfft // 2)
        csum = np.cumsum(p, axis=1)
        band = csum[:, topk] - csum[:, klo - 1]
        harm = np.zeros(len(e))
        for h in range(1, 5):
            kc = f0 / df * h
            lo = np.maximum(1, kc - lobe).astype(np.int64)
            hi = np.minimum((kc + lobe).astype(np.int64), nfft // 2)
            harm += csum[rows, hi] - csum[rows, lo - 1]
        strength = np.minimum(1.0, harm / np.maximum(band, 1e-30))
        good = (rms >= 10.0) & (strength >= 0.5)
        out[c0: c0 + len(e)] = np.where(good, f0, np.nan)
    return out, (ends * d - 1).astype(np.int64)


def analyse_foot(t, a, g, rate, foot):
    gy = g[:, 1].astype(np.float64)
    n = len(gy)
    f0, at = spectrum_f0(gy, rate)
    if not np.isfinite(f0).any():
        return None
    # period per sample: latest valid estimate (kept), before the first: the first
    idx = np.where(np.isfinite(f0), np.arange(len(f0)), -1)
    idx = np.maximum.accumulate(idx)
    per = np.where(idx >= 0, 1.0 / f0[np.maximum(idx, 0)], np.nan)
    first = np.flatnonzero(np.isfinite(per))[0]
    per[:first] = per[first]
    period = per[np.clip(np.searchsorted(at, np.arange(n)) - 1, 0, len(per) - 1)]
    # swing lobes below -50 deg/s, their deepest sample; then the relative threshold
    neg = gy < -50.0
    dn = np.diff(neg.astype(np.int8))
    s0 = np.flatnonzero(dn == 1) + 1
    s1 = np.flatnonzero(dn == -1) + 1
    if neg[0]:
        s0 = np.concatenate(([0], s0))
    if neg[-1]:
        s1 = np.concatenate((s1, [n]))
    pk, val = segment_arg(gy, s0, s1, np.minimum)
    amp = np.mean(-val)
    keep = -val >= max(50.0, 0.25 * amp)
    pk, val = pk[keep], val[keep]
    # separation 0.6 period: of two peaks closer than that, the deeper stays (one pass)
    close = np.diff(pk) < 0.6 * period[pk[1:]] * rate
    drop = np.zeros(len(pk), dtype=bool)
    drop[1:] |= close & (val[1:] >= val[:-1])
    drop[:-1] |= close & (val[:-1] > val[1:])
    pk = pk[~drop]
    # IC: first upward zero crossing after each swing peak
    zu = np.flatnonzero((gy[:-1] < 0) & (gy[1:] >= 0))
    zd = np.flatnonzero((gy[:-1] >= 0) & (gy[1:] < 0))
    j = np.searchsorted(zu, pk)
    ok = j < len(zu)
    pk, ici = pk[ok], zu[j[ok]]
    ict = t[ici] + (-gy[ici]) / (gy[ici + 1] - gy[ici]) * (t[ici + 1] - t[ici])
    # strides: IC of peak k-1 to IC of peak k; toe-off before peak k
    a_i, b_i, s_k = ici[:-1], ici[1:], pk[1:]
    t_ic, t_nx = ict[:-1], ict[1:]
    jz = np.searchsorted(zd, s_k) - 1
    z = zd[np.maximum(jz, 0)]
    ok = (jz >= 0) & (z > a_i + 2)
    a_i, b_i, s_k, t_ic, t_nx, z = a_i[ok], b_i[ok], s_k[ok], t_ic[ok], t_nx[ok], z[ok]
    frm = a_i + (z - a_i) // 2
    p_i, pv = segment_arg(gy, frm, z + 1, np.maximum)
    thr = 0.85 * pv
    # first k in [p, z] with gy[k] >= thr and gy[k+1] < thr
    lens = z - p_i + 1
    rng = np.repeat(p_i - np.concatenate(([0], np.cumsum(lens)[:-1])), lens) + np.arange(lens.sum())
    seg = np.repeat(np.arange(len(p_i)), lens)
    th = thr[seg]
    hit = np.flatnonzero((gy[rng] >= th) & (gy[rng + 1] < th))
    useg, fh = np.unique(seg[hit], return_index=True)
    k = rng[hit[fh]]
    sel = useg
    f = (thr[sel] - gy[k]) / (gy[k + 1] - gy[k])
    t_to = t[k] + f * (t[k + 1] - t[k])
    a_i, b_i, s_k, t_ic, t_nx, pv = a_i[sel], b_i[sel], s_k[sel], t_ic[sel], t_nx[sel], pv[sel]
    stride = t_nx - t_ic
    T = period[b_i]
    last = np.concatenate(([np.nan], stride[:-1]))
    tmin = np.where(np.isfinite(last), np.minimum(T, last), T)
    tmax = np.where(np.isfinite(last), np.maximum(T, last), T)
    good = (t_to > t_ic) & (t_to < t_nx) & (stride >= np.maximum(0.5 * tmin, 1 / 3.3)) & \
        (stride <= np.minimum(1.75 * tmax, 1.5 / 0.4))
    a_i, b_i, s_k, t_ic, t_nx, t_to, pv = (x[good] for x in (a_i, b_i, s_k, t_ic, t_nx, t_to, pv))
    contact = t_to - t_ic
    # per-stride metrics by segment reductions
    an = np.sqrt((a.astype(np.float64) ** 2).sum(axis=1))
    gn = np.sqrt((g.astype(np.float64) ** 2).sum(axis=1))
    i0 = a_i + 1
    i_imp = np.searchsorted(t, t_ic + 0.060, side="right")
    _, impact = segment_arg(an, i0, np.maximum(i_imp, i0 + 1), np.maximum)
    i1 = np.searchsorted(t, t_to, side="right") - 1
    ihalf = np.searchsorted(t, t_ic + 0.5 * contact)
    _, push = segment_arg(gy, ihalf, np.maximum(i1 + 1, ihalf + 1), np.maximum)
    swing_peak = -gy[s_k]
    # foot-flat: window of w samples with least summed |gyr| in [i0, i1]
    w = np.maximum(1, np.round(0.2 * contact * rate).astype(np.int64))
    cg = np.concatenate(([0.0], np.cumsum(gn)))
    lens = np.maximum(i1 - w + 2 - i0, 1)
    rng = np.repeat(i0 - np.concatenate(([0], np.cumsum(lens)[:-1])), lens) + np.arange(lens.sum())
    seg = np.repeat(np.arange(len(i0)), lens)
    sums = cg[rng + w[seg]] - cg[rng]
    offs = np.concatenate(([0], np.cumsum(lens)[:-1]))
    mins = np.minimum.reduceat(sums, offs)
    hit = np.flatnonzero(sums == mins[seg])
    _, fh = np.unique(seg[hit], return_index=True)
    m = rng[hit[fh]] + w // 2
    # pitch (deg) by cumulative trapezoid, 0 at m; pitch at IC from the lead to sample i0
    dt = 1.0 / rate
    cth = np.concatenate(([0.0], np.cumsum(0.5 * (gy[:-1] + gy[1:]) * dt)))
    lead = t[i0] - t_ic
    th_i0 = cth[i0] - cth[m]
    strike = -(th_i0 - 0.5 * gy[i0] * lead)
    # braking over [i0, t_ic + contact/2]
    ib = np.maximum(np.searchsorted(t, t_ic + 0.5 * contact, side="right"), i0 + 1)
    lens = ib - i0
    rng = np.repeat(i0 - np.concatenate(([0], np.cumsum(lens)[:-1])), lens) + np.arange(lens.sum())
    seg = np.repeat(np.arange(len(i0)), lens)
    thk = cth[rng] - cth[m[seg]]
    dec = -(a[rng, 0] + G0 * np.sin(np.radians(thk)))
    brake = np.maximum(np.maximum.reduceat(dec, np.concatenate(([0], np.cumsum(lens)[:-1]))), 0)
    brake /= G0
    # pronation: roll integral from IC, eversion positive (+gyr_x left, -gyr_x right)
    sg = 1.0 if foot == 0 else -1.0
    gx = sg * g[:, 0].astype(np.float64)
    crl = np.concatenate(([0.0], np.cumsum(0.5 * (gx[:-1] + gx[1:]) * dt)))
    lens = i1 - i0 + 1
    rng = np.repeat(i0 - np.concatenate(([0], np.cumsum(lens)[:-1])), lens) + np.arange(lens.sum())
    seg = np.repeat(np.arange(len(i0)), lens)
    roll = crl[rng] - crl[i0[seg]] + 0.5 * gx[i0[seg]] * lead[seg]
    offs = np.concatenate(([0], np.cumsum(lens)[:-1]))
    pron = np.maximum(np.maximum.reduceat(roll, offs), 0)
    h = int(round(0.010 * rate))
    cx = np.concatenate(([0.0], np.cumsum(gx)))
    lo = np.clip(rng - h, 0, n)
    hi = np.clip(rng + h + 1, 0, n)
    mv = (cx[hi] - cx[lo]) / (2 * h + 1)
    inside = (rng - h >= i0[seg]) & (rng + h <= i1[seg])
    pvel = np.maximum(np.maximum.reduceat(np.where(inside, mv, -np.inf), offs), 0)
    return dict(t_ic=t_ic, t_to=t_to, t_next_ic=t_nx, stride_s=t_nx - t_ic, contact_s=contact,
                impact_g=impact / G0, pushoff_dps=push, swing_peak_dps=swing_peak,
                strike_angle_deg=strike, braking_g=brake, pronation_deg=pron,
                pronation_vel_dps=pvel, f0=f0)


def step_times(L, R):
    """Clock offset (median of mid-stride deviations, R minus L) and step times per foot."""
    def dev(A, B):
        mid = 0.5 * (A["t_ic"] + A["t_next_ic"])
        j = np.clip(np.searchsorted(B["t_ic"], mid), 1, len(B["t_ic"]) - 1)
        lo, hi = B["t_ic"][j - 1], B["t_ic"][j]
        near = np.where(mid - lo < hi - mid, lo, hi)
        return near - mid
    d = np.concatenate((dev(L, R), -dev(R, L)))
    off = float(np.median(d)) if len(d) else 0.0
    out = {}
    for name, A, B, sh in (("L", L, R, -off), ("R", R, L, off)):
        other = B["t_ic"] + sh
        j = np.searchsorted(other, A["t_ic"]) - 1
        st = np.where(j >= 0, A["t_ic"] - other[np.maximum(j, 0)], np.nan)
        st[st >= A["stride_s"]] = np.nan
        out[name] = st
    return off, out


def analyse(num, is_r):
    res = {}
    for foot, mask in ((0, ~is_r), (1, is_r)):
        x = num[mask]
        t = x[:, 0]
        rate = (len(t) - 1) / (t[-1] - t[0])
        res["LR"[foot]] = analyse_foot(t, x[:, 1:4].astype(np.float32),
                                       x[:, 4:7].astype(np.float32), rate, foot)
    off, steps = step_times(res["L"], res["R"])
    return res, off, steps


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("csv")
    ap.add_argument("--npz", help="cache of the parsed arrays (written if missing)")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    t0 = time.perf_counter()
    num = is_r = None
    if a.npz:
        try:
            z = np.load(a.npz)
            num, is_r = z["num"], z["is_r"]
        except OSError:
            pass
    if num is None:
        num, is_r = load_csv(a.csv)
        if a.npz:
            np.savez(a.npz, num=num, is_r=is_r)
    t1 = time.perf_counter()
    res, off, steps = analyse(num, is_r)
    t2 = time.perf_counter()
    summ = {"load_s": t1 - t0, "analyse_s": t2 - t1, "samples": int(len(num)),
            "clock_offset_s": off}
    for f in "LR":
        r = res[f]
        summ[f] = {"n": int(len(r["t_ic"])), "contact_s": float(np.mean(r["contact_s"])),
                   "stride_s": float(np.mean(r["stride_s"])),
                   "strike_angle_deg": float(np.mean(r["strike_angle_deg"])),
                   "pronation_deg": float(np.mean(r["pronation_deg"])),
                   "step_s": float(np.nanmean(steps[f]))}
    if a.json:
        print(json.dumps(summ))
    else:
        for k, v in summ.items():
            print(k, v)
    return 0


if __name__ == "__main__":
    sys.exit(main())
