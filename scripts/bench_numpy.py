#!/usr/bin/python3
"""Vectorised numpy implementation of `gaitctl analyze` on a .gaitrec (dsp/METRICS.md), for
scripts/bench.

usage: bench_numpy.py FILE.gaitrec [--json]

The same work as gaitctl, end to end, timed from opening the file to the summary:
  read     the recording (proto/RECORDING.md): header CRC, every chunk's CRC-32 and index, the
           records, every pod frame's own CRC-32 (zlib.crc32: the same IEEE CRC), frame fields
           (version, type, payload length), sample frames' samples (int16, one gather)
  units    raw counts to SI with each frame's ranges and the pod calibration (dsp_raw_to_si, in
           double like the C code), times (t_dev_us + clock_offset_us + i * 1e6 / rate) * 1e-6,
           samples that do not advance in time dropped (daemon/input.c)
  spectrum per foot: the rate from the first 32 intervals, gyr_y block-averaged by
           floor(rate / 32), the same schedule as dsp_pipeline.c (first estimate after 5 s of
           signal, then every ceil(1 s x fs) blocks, window min(10 s, what there is)), Hann
           window, zero-padded float32 FFT of the same size (4096), band peak, harmonic check,
           log-parabolic sub-bin interpolation, rms and strength gates, the hold of the last
           period over short irregular spells; the L/R phase of the fundamental and the spectral
           similarity each hop
  events   swing peaks: lobes below -max(50, 0.25 x the running mean of the previous peaks,
           updated 0.8/0.2 per peak as dsp_events.c), deepest sample, 0.6-period separation
           (period = the spectral estimate in force at the peak, or the last stride if shorter);
           IC = first upward zero crossing after a swing peak (interpolated); toe-off = fall
           through 0.85 x push-off peak after it, before the last downward crossing; stride
           plausibility against the period and the previous stride
  metrics  impact, push-off, swing peak, foot-flat point, strike angle, braking (with gravity
           removed by the integrated pitch), pronation excursion and 20 ms velocity, mode;
           stride length, speed, turn and clearance (dsp_traj.c: the next stance's still window,
           start attitude from gravity, ~50 Hz blocks with an exact quaternion each, gravity
           removed, ZUPT; the blocks of every stride of a foot advanced together, one numpy step
           per block index), the honesty checks, turning;
           clock offset (median of mid-stride deviations, applied from 50 ms) and step / flight
           times
  summary  per foot: means and CV of every metric (the C summary keeps sums only: no medians);
           symmetry indices; cadence (events and FFT); first/last third drift; n_turning and the
           straight window (main strides not turning)
Per-sample work is whole-array numpy (segment reductions with reduceat, cumulative sums,
searchsorted, strided windows); Python loops run over chunks, frames, spectra blocks of 256 and
swing peaks only (the running threshold is sequential by definition). What the C code does and
this does not: the streaming order effects (step times are taken when the other foot allows; the
offset is a running median of 31 strides), saturation flags, and the focus areas of the summary.
Standard library + numpy only.
"""
import argparse
import json
import math
import struct
import sys
import time
import zlib

import numpy as np

G0 = 9.80665
MIN_HZ, MAX_HZ = 0.4, 2.2


class Damage(Exception):
    pass


# ---- reading (RECORDING.md, POD-PROTOCOL.md) ----

def read_gaitrec(path):
    """Returns (header pods, list per pod of frame arrays) after verifying every CRC."""
    with open(path, "rb") as f:
        buf = f.read()
    mv = memoryview(buf)
    if buf[:8] != b"GAITREC1":
        raise Damage("magic")
    ver, hlen = struct.unpack_from("<HI", buf, 8)
    if zlib.crc32(mv[8:14 + hlen]) != struct.unpack_from("<I", buf, 14 + hlen)[0]:
        raise Damage("header CRC")
    h = 14
    npods = buf[h + 104]
    pods = []
    for p in range(npods):
        o = h + 105 + 67 * p
        foot = chr(buf[o + 16])
        rate, acc_g, gyr_dps = struct.unpack_from("<HHH", buf, o + 17)
        cal = np.frombuffer(buf, "<f4", 9, o + 23).astype(np.float64)
        off_us = struct.unpack_from("<q", buf, o + 59)[0]
        pods.append(dict(foot=foot, acc_bias=cal[0:3], acc_scale=cal[3:6], gyr_bias=cal[6:9],
                         off_us=off_us))
    pos = 14 + hlen + 4
    # per sample frame: pod, payload offset (of the samples), n, t_dev_us, rate, ranges
    fr_pod, fr_off, fr_n, fr_t, fr_rate, fr_acc, fr_gyr = [], [], [], [], [], [], []
    crc32 = zlib.crc32
    unpack = struct.unpack_from
    index = 0
    n_total = len(buf)
    while pos < n_total:
        if buf[pos:pos + 4] != b"CHNK":
            raise Damage("chunk magic at %d" % pos)
        ci, plen = unpack("<II", buf, pos + 4)
        end = pos + 12 + plen
        if end + 4 > n_total or plen > (1 << 20):
            raise Damage("chunk %d truncated" % ci)
        if crc32(mv[pos + 4:end]) != unpack("<I", buf, end)[0]:
            raise Damage("chunk %d CRC" % ci)
        if ci != index:
            raise Damage("chunk index %d, expected %d" % (ci, index))
        index += 1
        i = pos + 12
        while i < end:
            pod, flen = unpack("<BH", buf, i)
            fo = i + 3
            if pod >= npods or flen == 0 or fo + flen > end:
                raise Damage("bad record at %d" % i)
            # pod frame: sync, version, type, payload length, payload, CRC
            s0, s1, fver, ftype, pl = unpack("<BBBBH", buf, fo)
            if s0 != 0xA5 or s1 != 0x5A or 10 + pl != flen or fver != 1:
                raise Damage("bad pod frame at %d" % i)
            if crc32(mv[fo + 2:fo + 6 + pl]) != unpack("<I", buf, fo + 6 + pl)[0]:
                raise Damage("pod frame CRC at %d" % i)
            if ftype == 0xC0:
                t_dev, rate, ag, gd, n = unpack("<QHHHH", buf, fo + 10)
                if pl != 24 + 12 * n or n == 0 or rate == 0:
                    raise Damage("sample frame length at %d" % i)
                fr_pod.append(pod)
                fr_off.append(fo + 30)
                fr_n.append(n)
                fr_t.append(t_dev)
                fr_rate.append(rate)
                fr_acc.append(ag)
                fr_gyr.append(gd)
            i = fo + flen
        pos = end + 4
    return buf, pods, [np.array(x) for x in (fr_pod, fr_off, fr_n, fr_t, fr_rate, fr_acc, fr_gyr)]


def samples_of_pod(buf, pod, frames, p):
    """SI samples (t, acc[n,3], gyr[n,3]) of pod p, as input_frame_to_samples makes them."""
    fr_pod, fr_off, fr_n, fr_t, fr_rate, fr_acc, fr_gyr = frames
    sel = fr_pod == p
    off, n, tdev = fr_off[sel], fr_n[sel], fr_t[sel]
    rate, ag, gd = fr_rate[sel], fr_acc[sel], fr_gyr[sel]
    total = int(n.sum())
    # each frame's samples are contiguous: one slice per frame, one concatenation
    mv = memoryview(buf)
    raw = np.frombuffer(b"".join([mv[o:o + 12 * k] for o, k in zip(off.tolist(), n.tolist())]),
                        "<i2").reshape(total, 6)
    uniform = (n == n[0]).all() and (rate == rate[0]).all() and (ag == ag[0]).all() and \
        (gd == gd[0]).all()
    # in double as dsp_raw_to_si, in place (no fresh temporaries), then to float32
    acc = raw[:, 0:3].astype(np.float64)
    gyr = raw[:, 3:6].astype(np.float64)
    if uniform:                     # the usual case: one set of ranges for the whole pod
        acc *= ag[0] * G0 / 32768.0
        gyr *= gd[0] / 32768.0
    else:
        acc *= np.repeat(ag * G0 / 32768.0, n)[:, None]
        gyr *= np.repeat(gd / 32768.0, n)[:, None]
    acc *= pod["acc_scale"]
    acc -= pod["acc_bias"]
    gyr -= pod["gyr_bias"]
    acc, gyr = acc.astype(np.float32), gyr.astype(np.float32)
    base_us = tdev.astype(np.float64) + float(pod["off_us"])
    if uniform:
        t = (base_us[:, None] + np.arange(n[0]) * (1e6 / rate[0])).ravel()
    else:
        i_in = np.arange(total) - np.repeat(np.cumsum(n) - n, n)
        t = np.repeat(base_us, n) + i_in * np.repeat(1e6 / rate, n)
    t *= 1e-6
    # samples that do not advance in time are dropped (frames overlapping what came before)
    if not (t[1:] > t[:-1]).all():
        prev = np.maximum.accumulate(np.concatenate(([-np.inf], t[:-1])))
        keep = t > prev
        t, acc, gyr = t[keep], acc[keep], gyr[keep]
    return t, acc, gyr


# ---- spectrum (dsp_spectrum.c, dsp_pipeline.c update_f0 / cross_spectral) ----

NFFT = 4096  # power of two >= 4 x (ceil(10 s x 64 Hz) + 1), as dsp_pipeline_new sizes it


def spectra(dec, fs, ends, lens):
    """f0 (NAN = none) and the amplitude spectra of the windows dec[e-l:e] (one length l per
    call: the Hann window depends on it)."""
    n_out = len(ends)
    f0 = np.full(n_out, np.nan)
    amp_top = int(4.0 * MAX_HZ / (fs / NFFT)) + 1
    amps = np.zeros((n_out, amp_top), dtype=np.float32)
    w = int(lens)
    f_lo = MIN_HZ
    if w / fs * f_lo < 2.0:
        f_lo = 2.0 * fs / w
    df = fs / NFFT
    nb = NFFT // 2 + 1
    klo = max(1, int(math.ceil(f_lo / df)))
    khi = int(math.floor(MAX_HZ / df))
    if khi + 2 >= nb:
        khi = nb - 3
    need = 4.0 * MAX_HZ / df + 4.0 * NFFT / w + 3.0
    pow_n = int(need) if need < nb else nb
    lobe = 2.0 * NFFT / w
    hann = (0.5 - 0.5 * np.cos(2.0 * np.pi * (np.arange(w) + 0.5) / w)).astype(np.float32)
    view = np.lib.stride_tricks.sliding_window_view(dec, w)
    for c0 in range(0, n_out, 256):
        e = ends[c0:c0 + 256]
        x = view[e - w]
        mean = x.astype(np.float64).mean(axis=1)
        rms = np.sqrt(((x - mean[:, None]) ** 2).mean(axis=1))
        xin = (x - mean[:, None].astype(np.float32)) * hann
        X = np.fft.rfft(xin, n=NFFT, axis=1)[:, :pow_n]
        p = (X.real.astype(np.float32) ** 2 + X.imag.astype(np.float32) ** 2)
        rows = np.arange(len(e))
        seg = p[:, klo - 1:khi + 2]
        locmax = (seg[:, 1:-1] >= seg[:, :-2]) & (seg[:, 1:-1] >= seg[:, 2:])
        cand = np.where(locmax, seg[:, 1:-1], -1.0)
        has = locmax.any(axis=1)
        kp = klo + np.argmax(cand, axis=1)
        top = p[rows, kp]
        kf = kp.copy()
        for h in (4, 3, 2):
            undecided = (kf == kp) & (kp / h >= klo)
            ok = undecided.copy()
            strongest = np.zeros(len(e), dtype=np.float32)
            k1 = np.zeros(len(e), dtype=np.int64)
            for m in range(1, h):
                kc = kp * m / h
                lo = np.maximum(1.0, np.floor(kc - 0.5 * lobe)).astype(np.int64)
                hi = np.ceil(kc + 0.5 * lobe).astype(np.int64)
                span = int(math.ceil(lobe)) + 2
                cols = np.minimum(lo[:, None] + np.arange(span)[None, :], pow_n - 2)
                valid = (cols <= hi[:, None]) & (hi[:, None] + 1 < nb)
                pv = p[rows[:, None], cols]
                lm = valid & (pv >= p[rows[:, None], cols - 1]) & (pv >= p[rows[:, None], cols + 1])
                best = np.where(lm, pv, -1.0)
                j = np.argmax(best, axis=1)
                bv = best[rows, j]
                ok &= bv >= 0.02 * top
                strongest = np.maximum(strongest, np.where(bv > 0, bv, 0))
                if m == 1:
                    k1 = cols[rows, j]
            take = ok & (strongest >= 0.10 * top)
            kf = np.where(take, k1, kf)
        a = np.log(p[rows, kf - 1].astype(np.float64) + 1e-30)
        b = np.log(p[rows, kf].astype(np.float64) + 1e-30)
        c = np.log(p[rows, kf + 1].astype(np.float64) + 1e-30)
        den = a - 2 * b + c
        dlt = np.where(den < 0, np.clip(0.5 * (a - c) / np.where(den < 0, den, -1), -0.5, 0.5), 0)
        f = (kf + dlt) * df
        topk = min(khi * 4, pow_n - 1)
        csum = np.cumsum(p, axis=1, dtype=np.float64)
        band = csum[:, topk] - csum[:, klo - 1]
        harm = np.zeros(len(e))
        for h in range(1, 5):
            kc = f / df * h
            lo = np.maximum(1.0, kc - lobe).astype(np.int64)
            hi = np.minimum((kc + lobe).astype(np.int64), pow_n - 1)
            harm += np.where(hi >= lo, csum[rows, hi] - csum[rows, lo - 1], 0.0)
        strength = np.minimum(1.0, harm / np.maximum(band, 1e-300))
        good = has & (rms >= 10.0) & (strength >= 0.5)
        f0[c0:c0 + len(e)] = np.where(good, f, np.nan)
        amps[c0:c0 + len(e)] = np.sqrt(p[:, :amp_top])
    return f0, amps


def foot_spectrum(gy, t, rate):
    """Per foot: stride frequency schedule as dsp_pipeline.c. Returns the decimated signal and
    per estimate: sample index it takes effect at, f0 held (NAN: none), raw f0, amp spectra."""
    d = int(math.floor(rate / 32.0)) if rate >= 32.0 else 1
    fs = rate / d
    nb = len(gy) // d
    dec = gy[:nb * d].astype(np.float64).reshape(nb, d).mean(axis=1).astype(np.float32)
    t_dec = t[d - 1:nb * d:d] - 0.5 * (d - 1) / rate        # block centres (spec_t_end)
    first = int(5.0 * fs)
    hop = int(math.ceil(fs * 1.0 - 1e-12))
    if hop < fs:
        hop += 1
    ends = np.arange(first, nb + 1, hop) if nb >= first else np.zeros(0, dtype=np.int64)
    want = int(10.0 * fs + 0.5)
    lens = np.minimum(ends, want)
    f0 = np.full(len(ends), np.nan)
    amp_top = int(4.0 * MAX_HZ / (fs / NFFT)) + 1
    amps = np.zeros((len(ends), amp_top), dtype=np.float32)
    for L in np.unique(lens):
        m = lens == L
        f0[m], amps[m] = spectra(dec, fs, ends[m], L)
    # hold: an invalid estimate keeps the last valid one for up to 10 s
    t_est = t[np.minimum(ends * d - 1, len(t) - 1)] if len(ends) else np.zeros(0)
    idx = np.where(np.isfinite(f0), np.arange(len(f0)), -1)
    idx = np.maximum.accumulate(idx) if len(idx) else idx
    held = np.where(idx >= 0, f0[np.maximum(idx, 0)], np.nan)
    stale = (idx >= 0) & (t_est - t_est[np.maximum(idx, 0)] > 10.0)
    held[stale] = np.nan
    return dict(dec=dec, t_dec=t_dec, fs=fs, d=d, ends=ends, lens=lens, f0=f0, held=held,
                amps=amps, at=ends * d - 1)


def cross_spectral(L, R, off):
    """L/R phase offset of the fundamental (degrees, per hop) and spectral similarity."""
    n = min(len(L["ends"]), len(R["ends"]))
    if n == 0:
        return np.nan, np.nan
    fl, fr = L["held"][:n], R["held"][:n]
    ok = np.isfinite(fl) & np.isfinite(fr) & (L["lens"][:n] == R["lens"][:n])
    ok &= L["lens"][:n] >= 16
    if not ok.any():
        return np.nan, np.nan
    hz = 0.5 * (fl + fr)
    res = []
    for F in (L, R):
        w = F["lens"][:n]
        full = w == w.max()
        ends = F["ends"][:n]
        W = int(w.max())
        hann = 0.5 - 0.5 * np.cos(2.0 * np.pi * (np.arange(W) + 0.5) / W)
        view = np.lib.stride_tricks.sliding_window_view(F["dec"], W)
        x = view[np.maximum(ends - W, 0)] * hann
        tt = np.lib.stride_tricks.sliding_window_view(F["t_dec"], W)[np.maximum(ends - W, 0)]
        res.append((x, tt, full))
    t_ref = res[0][1][:, -1:]
    (xl, tl, fl_ok), (xr, tr, fr_ok) = res
    ok &= fl_ok & fr_ok
    el = np.exp(-2j * np.pi * hz[:, None] * (tl - t_ref))
    er = np.exp(-2j * np.pi * hz[:, None] * (tr - off - t_ref))
    XL = (xl * el).sum(axis=1)
    XR = (xr * er).sum(axis=1)
    cross = XL * np.conj(XR)
    ph = np.angle(cross[ok].sum() / max(1, ok.sum())) if ok.any() else np.nan
    deg = (math.degrees(ph) + 360.0) % 360.0 if np.isfinite(ph) else np.nan
    aL, aR = L["amps"][:n][ok, 1:].astype(np.float64), R["amps"][:n][ok, 1:].astype(np.float64)
    sim = (aL * aR).sum(axis=1) / np.sqrt((aL * aL).sum(axis=1) * (aR * aR).sum(axis=1))
    return deg, float(np.nanmean(sim)) if len(sim) else np.nan


# ---- events and stride metrics (dsp_events.c) ----

def segment_arg(values, starts, ends, fn):
    """Index of fn (np.minimum / np.maximum) of values[s:e] per non-empty segment (first on
    ties) and the value."""
    lens = ends - starts
    offs = np.concatenate(([0], np.cumsum(lens)[:-1]))
    idx = np.repeat(starts - offs, lens) + np.arange(lens.sum())
    v = values[idx]
    red = fn.reduceat(v, offs)
    seg = np.repeat(np.arange(len(starts)), lens)
    hit = np.flatnonzero(v == red[seg])
    _, first = np.unique(seg[hit], return_index=True)
    return idx[hit[first]], red


def ranges(starts, ends):
    """Concatenated index ranges [s, e) and the segment of each index."""
    lens = np.maximum(ends - starts, 0)
    offs = np.concatenate(([0], np.cumsum(lens)[:-1]))
    idx = np.repeat(starts - offs, lens) + np.arange(lens.sum())
    return idx, np.repeat(np.arange(len(starts)), lens), offs, lens


D2R = math.pi / 180.0


def qmul(a, b):
    """Quaternion products of (w, x, y, z) rows."""
    aw, ax, ay, az = a.T
    bw, bx, by, bz = b.T
    return np.stack((aw * bw - ax * bx - ay * by - az * bz, aw * bx + ax * bw + ay * bz - az * by,
                     aw * by - ax * bz + ay * bw + az * bx, aw * bz + ax * by - ay * bx + az * bw),
                    axis=1)


def heading(q):
    """Heading (deg) of the body x axis in the level frame (any non-zero scale of q)."""
    return np.degrees(np.arctan2(2.0 * (q[:, 1] * q[:, 2] + q[:, 0] * q[:, 3]),
                                 1.0 - 2.0 * (q[:, 2] ** 2 + q[:, 3] ** 2)))


def trajectories(t, acc, gyr, gn, cg, rate, jb0, w, b_i, contact, stride, n):
    """Stride length, speed, turn, clearance and turning per stride (dsp_events_traj +
    dsp_traj_run): from the stride's still window (start jb0, w samples) to the least-|gyr|
    w-window in [next IC + 1, next IC + 1 + round(0.6 x contact x rate)]."""
    k = len(jb0)
    length = np.full(k, np.nan)
    turn = np.full(k, np.nan)
    clear = np.full(k, np.nan)
    lo = b_i + 1
    hi = b_i + 1 + (0.6 * contact * rate + 0.5).astype(np.int64)
    ok = (w >= 1) & (hi < n) & (hi + 1 >= lo + w) & (hi + 1 - lo <= 2048)
    if not ok.any():
        return dict(stride_length_m=length, speed_mps=length.copy(), turn_deg=turn,
                    clearance_m=clear, turning=np.zeros(k, bool))
    sel = np.flatnonzero(ok)
    idx, seg, offs, lens = ranges(lo[sel], hi[sel] - w[sel] + 2)
    sums = cg[idx + w[sel][seg]] - cg[idx]
    mins = np.minimum.reduceat(sums, offs)
    hit = np.flatnonzero(sums == mins[seg])
    _, fh = np.unique(seg[hit], return_index=True)
    jb1 = idx[hit[fh]]
    ws, j0 = w[sel], jb0[sel]
    g0 = (cg[j0 + ws] - cg[j0]) / ws
    m0, m1 = j0 + ws // 2, jb1 + ws // 2
    good = (g0 <= 150.0) & (mins / ws <= 150.0) & \
        (np.abs((t[m1] - t[m0]) * rate - (m1 - m0)) < 1.5)
    sel, ws, j0, m0, m1 = sel[good], ws[good], j0[good], m0[good], m1[good]
    if len(sel) == 0:
        return dict(stride_length_m=length, speed_mps=length.copy(), turn_deg=turn,
                    clearance_m=clear, turning=np.zeros(k, bool))
    # start attitude: the mean specific force over the start still window
    idx, seg, offs, lens = ranges(j0, j0 + ws)
    f0 = np.add.reduceat(acc[idx], offs, axis=0, dtype=np.float64)
    f0 /= np.linalg.norm(f0, axis=1)[:, None]
    q = np.stack((1.0 + f0[:, 2], f0[:, 1], -f0[:, 0], np.zeros(len(f0))), axis=1)
    q /= np.linalg.norm(q, axis=1)[:, None]
    h0 = heading(q)
    d = max(1, int(rate / 50.0 + 0.5))
    dt = 1.0 / rate
    nbk = (m1 - m0 + d - 1) // d
    # block sums of samples m0 + 1 .. m1 of every stride, d samples each (the last shorter)
    idx, seg, offs, lens = ranges(m0 + 1, m1 + 1)
    bj, bseg, boffs, _ = ranges(np.zeros(len(nbk), np.int64), nbk)
    bstart = offs[bseg] + bj * d
    bcnt = np.diff(np.append(bstart, len(idx)))
    GS = np.add.reduceat(gyr[idx], bstart, axis=0, dtype=np.float64)
    AS = np.add.reduceat(acc[idx], bstart, axis=0, dtype=np.float64)
    v = np.zeros((len(sel), 3))
    p = np.zeros((len(sel), 3))
    tau = np.zeros(len(sel))
    zb = np.zeros((len(sel), int(nbk.max())))
    tb = np.zeros_like(zb)
    for j in range(int(nbk.max())):
        act = j < nbk
        row = np.where(act, boffs + j, 0)
        m = np.where(act, bcnt[row], 1)
        a = GS[row] * (0.5 * D2R * dt)
        x = np.linalg.norm(a, axis=1)
        sn = np.where(x > 0, np.sin(x) / np.where(x > 0, x, 1), 1.0)
        dq = np.column_stack((np.cos(x), sn[:, None] * a))
        q1 = qmul(q, dq)
        qs = q + q1
        qs /= np.linalg.norm(qs, axis=1)[:, None]
        f = AS[row] / m[:, None]
        u = qs[:, 1:]
        tt = np.cross(u, f)
        fl = f + 2.0 * qs[:, :1] * tt + 2.0 * np.cross(u, tt)
        fl[:, 2] -= G0
        h = (m * dt)[:, None]
        vn = v + fl * h
        pn = p + 0.5 * (v + vn) * h
        a1 = act[:, None]
        q = np.where(a1, q1, q)
        p = np.where(a1, pn, p)
        v = np.where(a1, vn, v)
        tau = np.where(act, tau + m * dt, tau)
        zb[:, j] = np.where(act, p[:, 2], -np.inf)
        tb[:, j] = tau
    px = p[:, 0] - 0.5 * v[:, 0] * tau
    py = p[:, 1] - 0.5 * v[:, 1] * tau
    ln = np.hypot(px, py)
    vres = np.linalg.norm(v, axis=1)
    tn = heading(q) - h0
    tn = np.where(tn > 180.0, tn - 360.0, np.where(tn <= -180.0, tn + 360.0, tn))
    kz = 0.5 * v[:, 2] / tau
    cl = np.maximum(np.max(zb - kz[:, None] * tb ** 2, axis=1), 0.0)
    honest = 0.5 * vres * tau <= 0.5 * ln + 0.1
    sel = sel[honest]
    length[sel], turn[sel], clear[sel] = ln[honest], tn[honest], cl[honest]
    return dict(stride_length_m=length, speed_mps=length / stride, turn_deg=turn,
                clearance_m=clear, turning=np.abs(turn) > 20.0)


def analyse_foot(t, acc, gyr, rate, foot, sp):
    gy = gyr[:, 1]
    n = len(gy)
    if not np.isfinite(sp["held"]).any():
        return None
    # the period in force at each sample
    est = np.searchsorted(sp["at"], np.arange(n), side="right") - 1
    f_at = np.where(est >= 0, sp["held"][np.maximum(est, 0)], np.nan)
    period = 1.0 / f_at
    # swing lobes below the floor, their deepest sample
    neg = gy < -50.0
    dn = np.diff(neg.astype(np.int8))
    s0 = np.flatnonzero(dn == 1) + 1
    s1 = np.flatnonzero(dn == -1) + 1
    if neg[0]:
        s0 = np.concatenate(([0], s0))
    if neg[-1]:
        s1 = np.concatenate((s1, [n]))
    pk, val = segment_arg(gy, s0, s1, np.minimum)
    ok = np.isfinite(period[pk])
    pk, val = pk[ok], val[ok]
    # the running threshold (0.8/0.2 mean of accepted peaks) and the separation, peak by peak
    keep = np.zeros(len(pk), dtype=bool)
    amp = 0.0
    lk = -1                                               # last kept peak
    sep_n = (0.6 * period[pk] * rate + 0.5).astype(np.int64).tolist()
    pkl, mags = pk.tolist(), (-val.astype(np.float64)).tolist()
    for j in range(len(pkl)):
        mag = mags[j]
        if mag < max(50.0, 0.25 * amp):
            continue
        if lk >= 0 and pkl[j] - pkl[lk] < sep_n[j]:
            if mag > mags[lk]:  # of two close peaks the deeper stays
                keep[lk] = False
                keep[j] = True
                lk = j
            continue
        keep[j] = True
        amp = 0.8 * amp + 0.2 * mag if amp > 0 else mag
        lk = j
    pk = pk[keep]
    # IC: first upward zero crossing after each swing peak (interpolated)
    up = np.flatnonzero((gy[:-1] < 0) & (gy[1:] >= 0))
    dz = np.flatnonzero((gy[:-1] >= 0) & (gy[1:] < 0))
    j = np.searchsorted(up, pk)
    ok = j < len(up)
    pk, ici = pk[ok], up[j[ok]]
    g0, g1 = gy[ici].astype(np.float64), gy[ici + 1].astype(np.float64)
    fr = np.clip(np.where(g1 != g0, -g0 / np.where(g1 != g0, g1 - g0, 1), 0), 0, 1)
    ict = t[ici] + fr * (t[ici + 1] - t[ici])
    # strides: IC of peak k-1 to IC of peak k; toe-off before peak k
    a_i, b_i, s_k, t_ic, t_nx = ici[:-1], ici[1:], pk[1:], ict[:-1], ict[1:]
    jz = np.searchsorted(dz, s_k) - 1
    z = dz[np.maximum(jz, 0)]
    ok = (jz >= 0) & (z > a_i)
    a_i, b_i, s_k, t_ic, t_nx, z = (x[ok] for x in (a_i, b_i, s_k, t_ic, t_nx, z))
    frm = a_i + (z - a_i) // 2
    p_i, pv = segment_arg(gy, frm, z + 1, np.maximum)
    thr = (0.85 * pv.astype(np.float64)).astype(np.float32)
    idx, seg, offs, lens = ranges(p_i, z + 1)
    hit = np.flatnonzero((gy[idx] >= thr[seg]) & (gy[idx + 1] < thr[seg]))
    sel, fh = np.unique(seg[hit], return_index=True)
    k = idx[hit[fh]]
    gk, gk1 = gy[k].astype(np.float64), gy[k + 1].astype(np.float64)
    f = np.clip((thr[sel] - gk) / np.where(gk1 != gk, gk1 - gk, 1), 0, 1)
    t_to = t[k] + f * (t[k + 1] - t[k])
    a_i, b_i, s_k, t_ic, t_nx = (x[sel] for x in (a_i, b_i, s_k, t_ic, t_nx))
    pos = pv[sel] > 0
    a_i, b_i, s_k, t_ic, t_nx, t_to = (x[pos] for x in (a_i, b_i, s_k, t_ic, t_nx, t_to))
    stride = t_nx - t_ic
    T = period[b_i]
    prev = np.concatenate(([np.nan], stride[:-1]))
    tmin = np.where(np.isfinite(prev), np.minimum(T, prev), T)
    tmax = np.where(np.isfinite(prev), np.maximum(T, prev), T)
    good = (t_to > t_ic) & (t_to < t_nx) & \
        (stride >= np.maximum(0.5 * tmin, 1.0 / (1.5 * MAX_HZ))) & \
        (stride <= np.minimum(1.75 * tmax, 1.5 / MIN_HZ))
    a_i, b_i, s_k, t_ic, t_nx, t_to = (x[good] for x in (a_i, b_i, s_k, t_ic, t_nx, t_to))
    contact = t_to - t_ic
    stride = t_nx - t_ic
    # per-stride metrics by segment reductions
    an = np.sqrt((acc * acc).sum(axis=1, dtype=np.float32))
    gn = np.sqrt((gyr * gyr).sum(axis=1, dtype=np.float32))
    i_imp = np.searchsorted(t, t_ic + 0.060, side="right")
    _, impact = segment_arg(an, a_i, np.maximum(np.minimum(i_imp, b_i + 1), a_i + 1), np.maximum)
    i1 = np.maximum(np.searchsorted(t, t_to, side="right") - 1, a_i + 1)
    ihalf = np.searchsorted(t, t_ic + 0.5 * contact)
    _, push = segment_arg(gy, ihalf, np.maximum(i1 + 1, ihalf + 1), np.maximum)
    swing_peak = -gy[s_k]
    i0 = a_i + 1
    dt = 1.0 / rate
    # foot-flat: the w-sample window of least summed |gyr| in [i0, i1]
    w = np.maximum(1, (0.2 * contact * rate + 0.5).astype(np.int64))
    okm = i1 >= i0 + w + 2
    cg = np.concatenate(([0.0], np.cumsum(gn, dtype=np.float64)))
    idx, seg, offs, lens = ranges(i0, np.maximum(i1 - w + 2, i0 + 1))
    sums = cg[idx + w[seg]] - cg[idx]
    mins = np.minimum.reduceat(sums, offs)
    hit = np.flatnonzero(sums == mins[seg])
    _, fh = np.unique(seg[hit], return_index=True)
    m = idx[hit[fh]] + w // 2
    gy64 = gy.astype(np.float64)
    cth = np.concatenate(([0.0], np.cumsum(0.5 * (gy64[:-1] + gy64[1:]) * dt)))
    lead = t[i0] - t_ic
    th0 = 0.5 * gy64[i0] * lead
    th_m = th0 + cth[m] - cth[i0]
    strike = np.where(okm, th_m, np.nan)
    th_ic = -th_m
    # braking over the first half of the contact, pitch from IC
    ib = np.maximum(np.searchsorted(t, t_ic + 0.5 * contact, side="right"), i0 + 1)
    idx, seg, offs, lens = ranges(i0, ib)
    th = th_ic[seg] + th0[seg] + cth[idx] - cth[i0[seg]]
    dec_ = -(acc[idx, 0] + G0 * np.sin(np.radians(th)))
    brake = np.maximum(np.maximum.reduceat(dec_, offs), 0.0) / G0
    brake = np.where(okm, brake, np.nan)
    # pronation: roll integral from IC (eversion positive), 20 ms mean rate
    sg = 1.0 if foot == 0 else -1.0
    gx = sg * gyr[:, 0].astype(np.float64)
    crl = np.concatenate(([0.0], np.cumsum(0.5 * (gx[:-1] + gx[1:]) * dt)))
    idx, seg, offs, lens = ranges(i0, i1 + 1)
    roll = 0.5 * gx[i0[seg]] * lead[seg] + crl[idx] - crl[i0[seg]]
    pron = np.where(okm, np.maximum(np.maximum.reduceat(roll, offs), 0.0), np.nan)
    h = int(0.5 * 0.020 * rate + 0.5)
    cx = np.concatenate(([0.0], np.cumsum(gx)))
    lo = np.clip(idx - 2 * h, 0, n)
    mv = (cx[idx + 1] - cx[lo]) / (2 * h + 1)
    inside = idx >= i0[seg] + 2 * h
    pvel = np.maximum(np.maximum.reduceat(np.where(inside, mv, -np.inf), offs), 0.0)
    pvel = np.where(okm, pvel, np.nan)
    duty = contact / stride
    cad = 120.0 / stride
    mode = np.where((duty < 0.5) | ((duty < 0.55) & (cad > 150.0)), 2, 1)
    tr = trajectories(t, acc, gyr, gn, cg, rate, np.where(okm, m - w // 2, 0), np.where(okm, w, 0),
                      b_i, contact, stride, n)
    return dict(t_ic=t_ic, t_to=t_to, t_next_ic=t_nx, stride_s=stride, contact_s=contact,
                swing_s=t_nx - t_to, duty=duty, cadence_spm=cad, impact_g=impact / G0,
                pushoff_dps=push.astype(np.float64), swing_peak_dps=swing_peak.astype(np.float64),
                braking_g=brake, strike_angle_deg=strike, pronation_deg=pron,
                pronation_vel_dps=pvel, mode=mode, **tr)


def step_times(L, R):
    """Clock offset (median of mid-stride deviations, R clock minus L, used from 50 ms) and
    step / flight times per foot."""
    def dev(A, B):
        if len(A["t_ic"]) == 0 or len(B["t_ic"]) < 2:
            return np.zeros(0)
        mid = 0.5 * (A["t_ic"] + A["t_next_ic"])
        j = np.clip(np.searchsorted(B["t_ic"], mid), 1, len(B["t_ic"]) - 1)
        lo, hi = B["t_ic"][j - 1], B["t_ic"][j]
        near = np.where(mid - lo < hi - mid, lo, hi)
        okd = hi - lo <= 1.5 * (A["t_next_ic"] - A["t_ic"])
        return (near - mid)[okd]
    d = np.concatenate((dev(L, R), -dev(R, L)))
    off = float(np.median(d)) if len(d) >= 5 else 0.0
    used = off if abs(off) >= 0.05 else 0.0
    for A, B, sh in ((L, R, -used), (R, L, used)):
        other = B["t_ic"] + sh
        j = np.searchsorted(other, A["t_ic"]) - 1
        st = np.where(j >= 0, A["t_ic"] - other[np.maximum(j, 0)], np.nan)
        st[st >= A["stride_s"]] = np.nan
        A["step_s"] = st
        jn = np.searchsorted(other, A["t_ic"], side="right")
        nxt = np.where(jn < len(other), other[np.minimum(jn, len(other) - 1)], np.nan)
        fl = np.where(nxt < A["t_next_ic"], np.maximum(nxt - A["t_to"], 0.0), np.nan)
        A["flight_s"] = fl
    return off


METRICS = ("stride_s", "contact_s", "swing_s", "step_s", "flight_s", "duty", "cadence_spm",
           "impact_g", "braking_g", "pushoff_dps", "swing_peak_dps", "strike_angle_deg",
           "pronation_deg", "pronation_vel_dps", "stride_length_m", "speed_mps")


def si(l, r):
    m = 0.5 * (l + r)
    return 100.0 * (l - r) / m if m else np.nan


def stats(res, mask_fn):
    out = {}
    for f in "LR":
        A = res[f]
        sel = mask_fn(A)
        d = {"n": int(sel.sum())}
        for k in METRICS:
            v = A[k][sel]
            v = v[np.isfinite(v)]
            d[k] = float(v.mean()) if len(v) else None
            d[k + "_cv_pct"] = float(100.0 * v.std(ddof=1) / abs(v.mean())) \
                if len(v) >= 2 and v.mean() != 0 else None
        out[f] = d
    sym = {}
    for k in METRICS:
        l, r = out["L"][k], out["R"][k]
        sym[k] = si(l, r) if l is not None and r is not None else None
    n = out["L"]["n"] + out["R"]["n"]
    tot = sum(float(res[f]["stride_s"][mask_fn(res[f])].sum()) for f in "LR")
    out["cadence_spm"] = 120.0 / (tot / n) if n else None
    out["symmetry"] = sym
    return out


def analyse(path):
    buf, pods, frames = read_gaitrec(path)
    res, spec = {}, {}
    for p, pod in enumerate(pods):
        foot = 0 if pod["foot"] == "L" else 1
        if "LR"[foot] in res:
            continue
        t, acc, gyr = samples_of_pod(buf, pod, frames, p)
        rate = 32.0 / (t[32] - t[0])
        sp = foot_spectrum(gyr[:, 1], t, rate)
        spec["LR"[foot]] = sp
        res["LR"[foot]] = analyse_foot(t, acc, gyr, rate, foot, sp)
    del buf
    off = step_times(res["L"], res["R"])
    phase, simil = cross_spectral(spec["L"], spec["R"], off if abs(off) >= 0.05 else 0.0)
    n_run = sum(int((res[f]["mode"] == 2).sum()) for f in "LR")
    main_mask = (lambda A: A["mode"] == 2) if n_run else (lambda A: np.ones(len(A["t_ic"]), bool))
    summ = stats(res, main_mask)
    summ["n_turning"] = int(sum(res[f]["turning"].sum() for f in "LR"))
    summ["straight"] = stats(res, lambda A: main_mask(A) & ~A["turning"])
    fft_hz = np.nanmean([np.nanmean(spec[f]["f0"]) for f in "LR"])
    summ["cadence_fft_spm"] = float(120.0 * fft_hz)
    summ["phase_offset_deg"] = phase
    summ["spectral_similarity"] = simil
    summ["clock_offset_s"] = off
    # drift: first and last thirds of the span of main strides, per 10 minutes
    t_all = np.concatenate([res[f]["t_ic"][main_mask(res[f])] for f in "LR"])
    if len(t_all):
        t0, t1 = t_all.min(), t_all.max()
        c1, c2 = t0 + (t1 - t0) / 3, t1 - (t1 - t0) / 3
        first = stats(res, lambda A: main_mask(A) & (A["t_ic"] < c1))
        lastt = stats(res, lambda A: main_mask(A) & (A["t_ic"] >= c2))
        per10 = 600.0 / (2.0 / 3.0 * (t1 - t0)) if t1 > t0 else np.nan
        summ["drift_per_10min"] = {
            k: (np.nanmean([lastt[f][k] or np.nan for f in "LR"]) -
                np.nanmean([first[f][k] or np.nan for f in "LR"])) * per10 for k in METRICS}
    return res, summ


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("gaitrec")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    t0 = time.perf_counter()
    res, summ = analyse(a.gaitrec)
    t1 = time.perf_counter()
    out = {"analyse_s": t1 - t0,
           "L": {"n": int(len(res["L"]["t_ic"]))}, "R": {"n": int(len(res["R"]["t_ic"]))},
           "cadence_spm": summ["cadence_spm"], "symmetry": summ["symmetry"],
           "clock_offset_s": summ["clock_offset_s"], "phase_offset_deg": summ["phase_offset_deg"],
           "spectral_similarity": summ["spectral_similarity"],
           "cadence_fft_spm": summ["cadence_fft_spm"]}
    for f in "LR":
        for k in ("contact_s", "stride_s", "step_s", "strike_angle_deg", "pronation_deg",
                  "stride_length_m", "speed_mps"):
            out[f][k] = summ[f][k]
    out["n_turning"] = summ["n_turning"]
    print(json.dumps(out, default=float) if a.json else json.dumps(out, indent=1, default=float))
    return 0


if __name__ == "__main__":
    sys.exit(main())
