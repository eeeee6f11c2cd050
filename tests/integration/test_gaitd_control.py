#!/usr/bin/env python3
"""gaitd's control endpoint and command line: {"cmd":"status"} and {"cmd":"ping"} answer, and
malformed JSON, a non-object, a missing "cmd" and an unknown command each get an error reply
with a code while the daemon keeps serving; --help, bad options (exit 2); `gaitctl watch --count/--timeout` print JSON lines with "topic".
commands(): every control command through a REQ client (and its gaitctl subcommand) against a
gaitd with a catalog and a configuration file: status, pods, assign, sessions, summary (by id
and by recording path, paths outside the data directory refused with bad_path), start / stop /
runs / sync (unavailable without USB; with USB in test_usb_acceptance.py); wrong types and
missing fields get bad_request naming the field, oversized requests too_large, the daemon keeps
serving; pairings from the config file and from assign, remembered after a restart (the
catalog wins over the file)."""
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time

import zmq

from gaitdtest import BIN, check, daemon_dir, request




def main():
    gaitd = os.path.join(BIN, "gaitd")
    gaitctl = os.path.join(BIN, "gaitctl")
    h = subprocess.run([gaitd, "--help"], capture_output=True, text=True, timeout=10)
    check(h.returncode == 0 and "--sim-asym" in h.stdout and "--replay" in h.stdout, "--help")
    b = subprocess.run([gaitd, "--no-such-option"], capture_output=True, text=True, timeout=10)
    check(b.returncode == 2 and "--no-such-option" in b.stderr, "bad option: %r" % b.stderr)
    b = subprocess.run([gaitd, "--simulate", "1", "--sim-asym", "3:contact=1.1,1"],
                       capture_output=True, text=True, timeout=10)
    check(b.returncode == 2, "asymmetry for an athlete that is not simulated")
    b = subprocess.run([gaitd, "--replay", "/nonexistent.gaitrec", "--pub", "inproc://x",
                        "--control", "inproc://y"], capture_output=True, text=True, timeout=10)
    check(b.returncode == 1 and "/nonexistent.gaitrec" in b.stderr, "missing replay file")

    tmp = tempfile.mkdtemp(prefix="gaitd-ctl-")
    pub, ctl = "ipc://%s/pub" % tmp, "ipc://%s/ctl" % tmp
    d = subprocess.Popen([gaitd, "--pub", pub, "--control", ctl,
                          "--status-period", "0.2", "--simulate", "1", "--speed", "1"],
                         stderr=subprocess.PIPE, text=True)
    ctx = zmq.Context()
    try:
        req = ctx.socket(zmq.REQ)
        req.setsockopt(zmq.LINGER, 0)
        req.setsockopt(zmq.RCVTIMEO, 5000)
        req.connect(ctl)

        def ask(raw):
            req.send(raw)
            return json.loads(req.recv())

        r = ask(b'{"cmd":"ping"}')
        check(r == {"ok": True, "pong": True}, "ping: %r" % r)
        cases = [(b"{not json", "bad_json"), (b"", "bad_json"), (b"[1,2,3]", "bad_json"),
                 (b'{"command":"status"}', "bad_request"), (b'{"cmd":42}', "bad_request"),
                 (b'{"cmd":"reboot"}', "unknown_command")]
        for raw, code in cases:
            r = ask(raw)
            check(r.get("ok") is False, "%r: %r" % (raw, r))
            check(r["error"]["code"] == code, "%r: code %r, want %s" % (raw, r["error"], code))
            check(isinstance(r["error"]["message"], str) and r["error"]["message"], "message")
            r = ask(b'{"cmd":"status"}')
            check(r.get("ok") is True, "status after %r: %r" % (raw, r))
        check(r["daemon"]["version"], "daemon version")
        check([a["athlete"] for a in r["athletes"]] == ["sim1"], "athletes %r" % r["athletes"])
        check(r["athletes"][0]["type"] == "status", "athlete status")

        # gaitctl watch: --count N lines of JSON with the topic, then --timeout with no match.
        w = subprocess.run([gaitctl, "watch", "--count", "3", "--timeout", "20", pub,
                            "gait/sim1/status"], capture_output=True, text=True, timeout=30)
        check(w.returncode == 0, "watch exit %d: %s" % (w.returncode, w.stderr))
        lines = w.stdout.splitlines()
        check(len(lines) == 3, "watch --count 3 printed %r" % lines)
        for ln in lines:
            o = json.loads(ln)
            check(o["topic"] == "gait/sim1/status" and o["type"] == "status", ln)
            check(list(o)[0] == "topic", "topic comes first: %s" % ln)
        t0 = time.time()
        w = subprocess.run([gaitctl, "watch", "--timeout", "1", pub, "gait/nobody/"],
                           capture_output=True, text=True, timeout=30)
        check(w.returncode == 0 and w.stdout == "", "watch --timeout: %r" % w.stdout)
        check(time.time() - t0 < 5, "watch --timeout 1 took %.1f s" % (time.time() - t0))
        w = subprocess.run([gaitctl, "watch"], capture_output=True, text=True, timeout=10)
        check(w.returncode == 2, "watch without endpoint: exit %d" % w.returncode)
        req.close()
    finally:
        d.send_signal(signal.SIGTERM)
        try:
            rc = d.wait(timeout=10)
        except subprocess.TimeoutExpired:
            d.kill()
            rc = None
        err = d.stderr.read()
        ctx.term()
        shutil.rmtree(tmp, ignore_errors=True)
    check(rc == 0, "gaitd exit %r: %s" % (rc, err))
    print("ok")


def commands():
    gaitd = os.path.join(BIN, "gaitd")
    gaitctl = os.path.join(BIN, "gaitctl")
    tmp = tempfile.mkdtemp(prefix="gaitd-cmds-")
    dd = daemon_dir(tmp, "[pods]\nP0001 = anna:L\nP0002 = anna:R\nP0003 = ben:L\n")
    data, db, pub, ctl, cfg = dd.data, dd.db, dd.pub, dd.ctl, dd.cfg
    # one finished session in the catalog (simulated, as fast as possible)
    r = subprocess.run([gaitd, "--config", cfg, "--simulate", "1", "--speed", "0", "--duration", "30"],
                       capture_output=True, text=True, timeout=120)
    check(r.returncode == 0, "simulated session: %s" % r.stderr[-2000:])
    ctx = zmq.Context()

    def start():
        d = subprocess.Popen([gaitd, "--config", cfg], stderr=subprocess.PIPE, text=True)
        t0 = time.time()
        while time.time() - t0 < 30:
            try:
                if request(ctx, ctl, b'{"cmd":"ping"}', timeout_ms=500).get("pong"):
                    return d
            except zmq.error.Again:
                pass
            if d.poll() is not None:
                fail("gaitd ended: %s" % d.stderr.read())
        check(False, "gaitd does not answer")

    def stop(d):
        d.send_signal(signal.SIGTERM)
        rc = d.wait(timeout=20)
        err = d.stderr.read()
        check(rc == 0, "gaitd exit %r: %s" % (rc, err[-2000:]))

    def ask(raw):
        r = request(ctx, ctl, raw if isinstance(raw, bytes) else json.dumps(raw).encode(),
                    timeout_ms=10000)
        ping = request(ctx, ctl, b'{"cmd":"ping"}', timeout_ms=10000)
        check(ping.get("pong") is True, "not serving after %r" % raw)
        return r

    def ctl_cmd(*args):
        return subprocess.run([gaitctl] + list(args) + ["--control", ctl], capture_output=True,
                              text=True, timeout=30)

    def err_code(raw, code, field=None):
        r = ask(raw)
        check(r.get("ok") is False and r["error"]["code"] == code, "%r: %r (want %s)" % (raw, r, code))
        if field:
            check('"%s"' % field in r["error"]["message"], "%r: message %r does not name %s"
                  % (raw, r["error"]["message"], field))

    d = start()
    try:
        r = ask({"cmd": "status"})
        check(r["ok"] and r["catalog"] == db and r["usb"] is None, "status %r" % r)
        pods = {p["serial"]: p for p in ask({"cmd": "pods"})["pods"]}
        check(pods["P0001"]["athlete"] == "anna" and pods["P0001"]["foot"] == "L"
              and pods["P0003"]["athlete"] == "ben", "config pairings %r" % pods)
        check(not pods["P0001"]["connected"], "no USB: not connected")
        # assign: a new pod, and a config pod moved to another athlete
        r = ask({"cmd": "assign", "serial": "P0009", "athlete": "carl", "foot": "R"})
        check(r["ok"] and r["remembered"] is True, "assign %r" % r)
        g = ctl_cmd("assign", "P0003", "dora", "R")
        check(g.returncode == 0 and "dora" in g.stdout, "gaitctl assign: %r %r" % (g.stdout, g.stderr))
        g = ctl_cmd("pods")
        check(g.returncode == 0 and "carl" in g.stdout and "dora" in g.stdout, "gaitctl pods %r" % g.stdout)
        # sessions and summary
        r = ask({"cmd": "sessions"})
        check(len(r["sessions"]) == 1 and r["sessions"][0]["athlete"] == "sim1", "sessions %r" % r)
        s1 = r["sessions"][0]
        check(ask({"cmd": "sessions", "athlete": "nobody"})["sessions"] == [], "sessions of nobody")
        r = ask({"cmd": "summary", "id": s1["id"]})
        check(r["session"]["id"] == s1["id"] and r["summary"]["type"] == "summary"
              and isinstance(r["focus"], list), "summary %r" % r)
        rec = os.path.basename(s1["recording"])
        r = ask({"cmd": "summary", "recording": rec})
        check(r["ok"] and r["session"]["id"] == s1["id"], "summary by recording %r" % r)
        g = ctl_cmd("summary", str(s1["id"]))
        check(g.returncode == 0 and "cadence" in g.stdout, "gaitctl summary %r" % g.stdout)
        g = ctl_cmd("sessions", "sim1")
        check(g.returncode == 0 and "sim1" in g.stdout, "gaitctl sessions --control %r" % g.stdout)
        g = ctl_cmd("status", "--json")
        check(g.returncode == 0 and json.loads(g.stdout)["ok"] is True, "gaitctl status --json")
        # errors; the daemon keeps serving after each (ask checks a ping)
        err_code({"cmd": "summary", "recording": "../catalog.db"}, "bad_path")
        err_code({"cmd": "summary", "recording": "/etc/passwd"}, "bad_path")
        err_code({"cmd": "summary", "id": 999999}, "not_found")
        err_code({"cmd": "summary", "recording": "nothing.gaitrec"}, "not_found")
        err_code({"cmd": "summary"}, "bad_request", "id")
        err_code({"cmd": "summary", "id": "1"}, "bad_request", "id")
        err_code({"cmd": "assign", "serial": 5, "athlete": "x", "foot": "L"}, "bad_request", "serial")
        err_code({"cmd": "assign", "serial": "P1", "foot": "L"}, "bad_request", "athlete")
        err_code({"cmd": "assign", "serial": "P1", "athlete": "x", "foot": "left"}, "bad_request", "foot")
        err_code({"cmd": "assign", "serial": "P/1", "athlete": "x", "foot": "L"}, "bad_request", "serial")
        err_code({"cmd": "sessions", "athlete": ["a"]}, "bad_request", "athlete")
        err_code({"cmd": "sessions", "limit": "ten"}, "bad_request", "limit")
        err_code({"cmd": "runs"}, "bad_request", "serial")
        err_code({"cmd": "start", "athlete": 3}, "bad_request", "athlete")
        err_code({"cmd": "start", "athlete": "anna"}, "unavailable")
        err_code({"cmd": "stop", "athlete": "anna"}, "unavailable")
        err_code({"cmd": "runs", "serial": "P0001"}, "unavailable")
        err_code({"cmd": "sync"}, "unavailable")
        err_code({"cmd": "erase", "serial": "P0001", "run_id": 1}, "unavailable")
        err_code({"cmd": "erase", "serial": "P0001"}, "bad_request", "run_id")
        err_code({"cmd": "erase", "serial": "P0001", "run_id": 0}, "bad_request", "run_id")
        err_code(b"{\"cmd\":\"status\"", "bad_json")
        err_code(b"\xff\xfe", "bad_json")
        err_code(b'{"cmd":"format_disk"}', "unknown_command")
        err_code(b'{"cmd":"status","pad":"' + b"x" * 200000 + b'"}', "too_large")
        g = ctl_cmd("start", "anna")
        check(g.returncode == 1 and "unavailable" in g.stderr, "gaitctl start without USB: %r" % g.stderr)
        g = ctl_cmd("assign", "P1", "x")
        check(g.returncode == 2, "gaitctl assign with 2 arguments: exit %d" % g.returncode)
    finally:
        if d.poll() is None:
            stop(d)
    # restart: pairings from assign remembered (the catalog wins over the file for P0003)
    d = start()
    try:
        pods = {p["serial"]: p for p in ask({"cmd": "pods"})["pods"]}
        check(pods["P0009"]["athlete"] == "carl" and pods["P0009"]["foot"] == "R", "P0009 %r" % pods)
        check(pods["P0003"]["athlete"] == "dora" and pods["P0003"]["foot"] == "R", "P0003 %r" % pods)
        check(pods["P0001"]["athlete"] == "anna", "P0001 %r" % pods)
    finally:
        stop(d)
        ctx.term()
        shutil.rmtree(tmp, ignore_errors=True)
    g = subprocess.run([gaitctl, "status", "--control", "ipc://%s/none" % tmp, "--timeout", "0.5"],
                       capture_output=True, text=True, timeout=30)
    check(g.returncode == 1 and "no answer" in g.stderr, "gaitctl without a daemon: %r" % g.stderr)
    print("commands ok")


if __name__ == "__main__":
    main()
    commands()
