#!/usr/bin/python3
"""`gaitctl report` end to end (issue 5): a simulated run with right push-off 25 % weaker ->
a gaitd recording (`gaitctl convert`) -> `gaitctl report REC -o report.html` -> checks of the
self-contained HTML (no scripts, no external resources; SVG plots of cadence, contact time,
symmetry and spectra; front and back body maps with the right calf shaded; evidence; the
disclaimer) -> rendered in a real headless browser (Debian's chromium): the DOM as chromium
parsed it holds the plots and the shaded body-map regions, and a screenshot (PNG decoded here
with zlib) is the expected size, far from blank, with the focus shading's red present.
Also: a symmetric run's report says no area stands out; exit statuses 1 (missing file) and 2.

usage: test_focus_report_html.py [REPORT_TOOL]  (default: `gaitctl report`)"""
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import zlib

BIN = os.environ.get("GAITD_BIN", "build/bin")
GAITCTL = os.path.join(BIN, "gaitctl")
W, H = 1200, 2000

failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what)


def report_cmd():
    return [sys.argv[1]] if len(sys.argv) > 1 else [GAITCTL, "report"]


def run(cmd, timeout=200):
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if p.returncode != 0:
        raise SystemExit("FAIL: %s: exit %d: %s" % (" ".join(cmd), p.returncode, p.stderr))
    return p


def chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        p = shutil.which(name)
        if p:
            return p
    raise SystemExit("FAIL: no chromium found (scripts/setup installs Debian's chromium)")


def browser(args, tmp):
    profile = tempfile.mkdtemp(dir=tmp)
    return run([chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--hide-scrollbars",
                "--user-data-dir=" + profile, *args], timeout=120)


def paeth(a, b, c):
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    return a if pa <= pb and pa <= pc else (b if pb <= pc else c)


def decode_png(path):
    """Returns (width, height, channels, rows of bytes) of an 8-bit non-interlaced PNG."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG")
    pos, idat, hdr = 8, b"", None
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            hdr = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    w, h, depth, ctype, _, _, interlace = hdr
    if depth != 8 or interlace:
        raise ValueError("unsupported PNG (depth %d, interlace %d)" % (depth, interlace))
    ch = {2: 3, 6: 4, 0: 1, 4: 2}[ctype]
    raw = zlib.decompress(idat)
    stride = w * ch
    rows, prev, i = [], bytearray(stride), 0
    for _ in range(h):
        ft, line = raw[i], bytearray(raw[i + 1:i + 1 + stride])
        i += 1 + stride
        if ft == 1:
            for x in range(ch, stride):
                line[x] = (line[x] + line[x - ch]) & 255
        elif ft == 2:
            line = bytearray((a + b) & 255 for a, b in zip(line, prev))
        elif ft == 3:
            for x in range(stride):
                left = line[x - ch] if x >= ch else 0
                line[x] = (line[x] + ((left + prev[x]) >> 1)) & 255
        elif ft == 4:
            for x in range(stride):
                left = line[x - ch] if x >= ch else 0
                ul = prev[x - ch] if x >= ch else 0
                line[x] = (line[x] + paeth(left, prev[x], ul)) & 255
        rows.append(line)
        prev = line
    return w, h, ch, rows


def main():
    with tempfile.TemporaryDirectory() as tmp:
        csv = os.path.join(tmp, "run.csv")
        rec = os.path.join(tmp, "run.gaitrec")
        html = os.path.join(tmp, "report.html")
        run([GAITCTL, "simulate", "--seed", "4", "--duration", "420", "--pushoff-scale",
             "1,0.75", "--athlete", "ana", csv])
        run([GAITCTL, "convert", csv, rec])
        p = run([*report_cmd(), rec, "-o", html])
        with open(html, encoding="utf-8") as f:
            doc = f.read()

        # self-contained, no scripts
        check(doc.startswith("<!DOCTYPE html>"), "doctype")
        check("<script" not in doc.lower(), "no scripts")
        check(not re.search(r"""(src|href)\s*=\s*["']?(https?:|//|file:)""", doc),
              "no external resources")
        check("@import" not in doc and "url(" not in doc, "no CSS imports")
        for pid in ("plot-cadence", "plot-contact", "plot-symmetry", "plot-spectra",
                    "body-front", "body-back"):
            check('id="%s"' % pid in doc, "element #%s" % pid)
        check(doc.count("<polyline") >= 8, "plot lines (%d)" % doc.count("<polyline"))
        check("Training aid, not a diagnosis" in doc, "disclaimer")
        check("Right push-off about" in doc and "weaker than left" in doc, "evidence")
        m = re.search(r'<li class="focus-item" data-area="([a-z_]+)" data-side="(\w+)"', doc)
        check(m and m.group(1) == "calves" and m.group(2) == "R", "first focus item: calves R")
        check(re.search(r'class="region focus" id="area-calves-R" data-score="1\.00"', doc),
              "body map: right calf shaded with score 1.00")
        check(re.search(r'class="region" id="area-calves-L" data-score="0\.00"', doc),
              "body map: left calf not shaded")

        # what chromium makes of it
        dom = browser(["--dump-dom", "file://" + html], tmp).stdout
        check(dom.count("<svg") >= 6, "chromium DOM: %d svg elements" % dom.count("<svg"))
        check('id="area-calves-R"' in dom and 'id="focus-list"' in dom, "chromium DOM: body map")
        png = os.path.join(tmp, "report.png")
        browser(["--screenshot=" + png, "--window-size=%d,%d" % (W, H), "file://" + html], tmp)
        check(os.path.exists(png) and os.path.getsize(png) > 20000,
              "screenshot written (%s bytes)" % (os.path.getsize(png) if os.path.exists(png)
                                                 else "no"))
        w, h, ch, rows = decode_png(png)
        check((w, h) == (W, H), "screenshot size %dx%d" % (w, h))
        nonwhite = red = 0
        for y in range(0, h, 2):
            row = rows[y]
            for x in range(0, w * ch, 2 * ch):
                r, g, b = row[x], row[x + 1 if ch >= 3 else x], row[x + 2 if ch >= 3 else x]
                if r < 235 or g < 235 or b < 235:
                    nonwhite += 1
                if r > 150 and g < 90 and b < 80:
                    red += 1
        total = (h // 2) * (w // 2)
        print("screenshot %dx%d: %.1f %% non-white, %d red samples" % (w, h, 100.0 * nonwhite
                                                                       / total, red))
        check(nonwhite > 0.05 * total, "screenshot not blank (%.1f %% non-white)"
              % (100.0 * nonwhite / total))
        check(red > 300, "focus shading visible in the screenshot (%d red samples)" % red)

        # a symmetric, fresh run
        run([GAITCTL, "simulate", "--seed", "5", "--duration", "200", csv])
        run([*report_cmd(), csv, "-o", html])
        with open(html, encoding="utf-8") as f:
            doc = f.read()
        check("No massage focus area stands out" in doc, "symmetric run: nothing stands out")
        check('class="region focus"' not in doc, "symmetric run: no shaded region")

        # exit statuses
        p = subprocess.run([*report_cmd(), os.path.join(tmp, "missing.csv"), "-o", html],
                           capture_output=True, text=True)
        check(p.returncode == 1 and "missing.csv" in p.stderr, "missing input: exit 1, named")
        p = subprocess.run([*report_cmd()], capture_output=True, text=True)
        check(p.returncode == 2, "no arguments: exit 2")
    if failures:
        print("%d failure(s)" % len(failures))
        return 1
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
