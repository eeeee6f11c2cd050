#!/usr/bin/env python3
"""Security of gaitd's feeds and control (issue 6, daemon/SECURITY.md), with the real gaitd and
pyzmq clients in this (another) process:

1. `gaitctl keygen` writes NAME.key (0600 even under umask 000) and NAME.pub; no overwrite.
2. Configuration mistakes in [security] / [client] stop gaitd with exit 2 and name the file and
   line (a world-readable server key, a malformed client key, a missing key file).
3. gaitd with CURVE (two simulated athletes, a catalog):
   - an authorised key ("coach", feeds = *, control = yes) receives both athletes' feeds and
     runs a state-changing command (assign);
   - a key allowed sim1 only ("viewer", control = read) receives sim1's messages and none of
     sim2's, even when subscribing to everything or to gait/sim2/ explicitly; it may run status
     but gets "forbidden" for assign;
   - a key with control = no is refused on the control endpoint; an unknown key can neither
     subscribe nor control, and is refused and logged (its key, the endpoint, its address); an
     impostor (a listed public key without its secret) and plaintext clients get nothing;
   - gaitctl watch / status / assign with --server-key/--client-key (and $GAITD_*_KEY);
   - the secret keys never appear in the log; SIGTERM still exits 0.
4. Loopback by default: gaitd without --pub/--control listens on 127.0.0.1 only (its sockets in
   /proc/net/tcp; a connection to a non-loopback address of this machine is refused); a
   plaintext endpoint beyond loopback gets a warning, a CURVE one does not.
"""
import json
import os
import re
import signal
import socket
import subprocess
import tempfile
import time

import zmq

from gaitdtest import BIN, check, fail

GAITD = os.path.join(BIN, "gaitd")
GAITCTL = os.path.join(BIN, "gaitctl")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def read_key(path, name):
    """The value of 'name = ...' in a gaitctl keygen file, as bytes."""
    with open(path) as f:
        for ln in f:
            m = re.match(r"^%s = (\S{40})$" % name, ln.strip())
            if m:
                return m.group(1).encode()
    fail("%s: no %s" % (path, name))


def keygen(tmp, name, umask=None):
    prefix = os.path.join(tmp, name)
    r = subprocess.run([GAITCTL, "keygen", prefix], capture_output=True, text=True, timeout=20,
                       preexec_fn=(lambda: os.umask(umask)) if umask is not None else None)
    check(r.returncode == 0, "keygen %s: %s" % (name, r.stderr))
    pub, sec = read_key(prefix + ".key", "public-key"), read_key(prefix + ".key", "secret-key")
    check(read_key(prefix + ".pub", "public-key") == pub, "keygen %s: .pub and .key differ" % name)
    check(pub.decode() in r.stdout, "keygen prints the public key: %r" % r.stdout)
    return {"pub": pub, "sec": sec, "key": prefix + ".key", "pubfile": prefix + ".pub"}


def part_keygen(tmp):
    k = keygen(tmp, "umask0", umask=0)
    check(os.stat(k["key"]).st_mode & 0o777 == 0o600, "secret key mode %o under umask 000"
          % (os.stat(k["key"]).st_mode & 0o777))
    r = subprocess.run([GAITCTL, "keygen", os.path.join(tmp, "umask0")], capture_output=True,
                       text=True, timeout=20)
    check(r.returncode == 1 and "already exists" in r.stderr, "keygen overwrite: %r" % r.stderr)
    check(read_key(k["key"], "secret-key") == k["sec"], "the old key stays")
    r = subprocess.run([GAITCTL, "keygen"], capture_output=True, text=True, timeout=20)
    check(r.returncode == 2, "keygen without NAME: exit %d" % r.returncode)


def write(path, text, mode=0o644):
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)


def config_errors(tmp, keys):
    """Each mistake: exit 2 before starting, naming the file, line and key."""
    srv = keys["server"]
    open_key = os.path.join(tmp, "open.key")
    with open(srv["key"]) as f:
        write(open_key, f.read(), 0o644)
    cases = [
        ("[security]\nserver_key = %s\n[client coach]\npublic_key = %s\n"
         % (open_key, keys["coach"]["pub"].decode()),
         ":2: [security] server_key: %s: mode 0644: a secret key file must be readable by its "
         "owner only" % open_key),
        ("[security]\nserver_key = %s\n\n[client coach]\npublic_key = %s\n"
         % (srv["key"], keys["coach"]["pub"].decode()[:39]),
         ":5: [client coach] public_key: expected 40 Z85 characters, got 39"),
        ("[security]\nserver_key = %s\n[client coach]\npublic_key_file = %s/nope.pub\n"
         % (srv["key"], tmp),
         ":4: [client coach] public_key_file: %s/nope.pub: cannot open the key file" % tmp),
        ("[security]\nserver_key = %s\n" % srv["key"],
         ":2: [security] server_key: no [client NAME] section"),
        ("[security]\nserver_key = %s\n[client coach]\npublic_key = %s\ncontrol = admin\n"
         % (srv["key"], keys["coach"]["pub"].decode()),
         ":5: [client coach] control: expected no, read"),
        ("[security]\nserver_key = %s\n[client coach]\npublic_key_file = %s\n"
         % (srv["key"], srv["key"]),
         ":4: [client coach]: this is gaitd's own key"),
    ]
    for i, (text, want) in enumerate(cases):
        cfg = os.path.join(tmp, "bad%d.ini" % i)
        write(cfg, text)
        r = subprocess.run([GAITD, "--config", cfg, "--pub", "inproc://p", "--control",
                            "inproc://c"], capture_output=True, text=True, timeout=20)
        check(r.returncode == 2, "bad config %d: exit %d (%s)" % (i, r.returncode, r.stderr))
        check(cfg + want in r.stderr, "bad config %d: %r does not contain %r"
              % (i, r.stderr, cfg + want))


class Client:
    def __init__(self, ctx, kind, ep, server_pub=None, pub=None, sec=None):
        self.s = ctx.socket(kind)
        self.s.setsockopt(zmq.LINGER, 0)
        if kind == zmq.SUB:
            self.s.setsockopt(zmq.RCVHWM, 100000)
        if server_pub:
            self.s.curve_serverkey = server_pub
            self.s.curve_publickey = pub
            self.s.curve_secretkey = sec
        self.s.connect(ep)
        self.topics = []

    def drain(self):
        while self.s.poll(0):
            parts = self.s.recv_multipart()
            self.topics.append(parts[0].decode())

    def ask(self, req, timeout_ms):
        """One request; the reply as a dict, or None if none came within timeout_ms."""
        self.s.send(json.dumps(req).encode())
        if not self.s.poll(timeout_ms):
            return None
        return json.loads(self.s.recv())


def main_run(tmp, keys):
    fport, cport = free_port(), free_port()
    pub_ep, ctl_ep = "tcp://127.0.0.1:%d" % fport, "tcp://127.0.0.1:%d" % cport
    srv = keys["server"]
    cfg = os.path.join(tmp, "gaitd.ini")
    write(cfg, """# gaitd with CURVE for remote coaches (test_gaitd_curve.py)
[daemon]
pub = %s
control = %s

[security]
server_key = %s

[client coach]
public_key_file = %s
feeds = *
control = yes

[client viewer]
public_key = %s
feeds = sim1
control = read

[client feedonly]
public_key = %s
feeds = sim2
""" % (pub_ep, ctl_ep, srv["key"], keys["coach"]["pubfile"], keys["viewer"]["pub"].decode(),
       keys["feedonly"]["pub"].decode()))
    logpath = os.path.join(tmp, "gaitd.log")
    logf = open(logpath, "w")
    d = subprocess.Popen([GAITD, "--config", cfg, "--simulate", "2", "--speed", "1",
                          "--status-period", "0.2", "--db", os.path.join(tmp, "cat.db")],
                         stderr=logf)
    ctx = zmq.Context()
    sp = srv["pub"]

    def curve(kind, ep, who, secret_of=None):
        k = keys[who]
        return Client(ctx, kind, ep, sp, k["pub"], keys[secret_of or who]["sec"])

    clients = []
    try:
        coach = curve(zmq.SUB, pub_ep, "coach")
        viewer = curve(zmq.SUB, pub_ep, "viewer")
        viewer2 = curve(zmq.SUB, pub_ep, "viewer")
        stranger = curve(zmq.SUB, pub_ep, "stranger")
        impostor = curve(zmq.SUB, pub_ep, "coach", secret_of="stranger")
        plain = Client(ctx, zmq.SUB, pub_ep)
        clients = [coach, viewer, viewer2, stranger, impostor, plain]
        for c in (coach, viewer, stranger, impostor, plain):
            c.s.setsockopt(zmq.SUBSCRIBE, b"")
        viewer2.s.setsockopt(zmq.SUBSCRIBE, b"gait/sim2/")
        poller = zmq.Poller()
        for c in clients:
            poller.register(c.s, zmq.POLLIN)

        def sim(c, a):
            return [t for t in c.topics if t.startswith("gait/%s/" % a)]
        t0 = time.time()
        while len(sim(coach, "sim2")) < 30 or len(sim(viewer, "sim1")) < 10:
            if time.time() - t0 > 120:
                fail("feeds: coach %d sim1 / %d sim2, viewer %d messages"
                     % (len(sim(coach, "sim1")), len(sim(coach, "sim2")), len(viewer.topics)))
            if d.poll() is not None:
                fail("gaitd exited %r" % d.returncode)
            poller.poll(200)
            for c in clients:
                c.drain()
        check(sim(coach, "sim1"), "coach receives sim1")
        check(all(t.startswith("gait/sim1/") for t in viewer.topics),
              "viewer (sim1 only) received %r" % sorted(set(viewer.topics) - set(sim(viewer, "sim1"))))
        check(not viewer2.topics, "viewer subscribed to gait/sim2/ received %r" % viewer2.topics[:5])
        for name, c in (("unknown key", stranger), ("impostor", impostor), ("plaintext", plain)):
            check(not c.topics, "%s received %r" % (name, c.topics[:5]))
        print("feeds: coach %d (sim1 %d, sim2 %d), viewer %d (all sim1); unknown key, impostor, "
              "plaintext, viewer on gait/sim2/: 0" % (len(coach.topics), len(sim(coach, "sim1")),
                                                      len(sim(coach, "sim2")), len(viewer.topics)))

        # control
        cc = curve(zmq.REQ, ctl_ep, "coach")
        vc = curve(zmq.REQ, ctl_ep, "viewer")
        clients += [cc, vc]
        r = cc.ask({"cmd": "status"}, 20000)
        check(r and r["ok"] and [a["athlete"] for a in r["athletes"]] == ["sim1", "sim2"],
              "coach status %r" % r)
        assign = {"cmd": "assign", "serial": "P0001", "athlete": "anna", "foot": "L"}
        r = cc.ask(assign, 20000)
        check(r == {"ok": True} or (r and r.get("ok") is True), "coach assign %r" % r)
        r = vc.ask({"cmd": "status"}, 20000)
        check(r and r["ok"] is True, "viewer status %r" % r)
        r = vc.ask(dict(assign, serial="P0002"), 20000)
        check(r and r["ok"] is False and r["error"]["code"] == "forbidden" and
              "viewer" in r["error"]["message"], "viewer assign %r" % r)
        # every state-changing command: forbidden to the read-only key, passed on to the
        # command for the coach (here refused by the command itself: no USB, no such athlete)
        for req in ({"cmd": "start", "athlete": "nobody"}, {"cmd": "stop", "athlete": "nobody"},
                    {"cmd": "sync", "serial": "NOPE"}, {"cmd": "erase", "serial": "NOPE",
                                                        "run_id": 1}):
            r = vc.ask(req, 20000)
            check(r and r["ok"] is False and r["error"]["code"] == "forbidden",
                  "viewer %r: %r" % (req, r))
            r = cc.ask(req, 20000)
            check(r and (r["ok"] is True or r["error"]["code"] != "forbidden"),
                  "coach %r: %r" % (req, r))
        r = vc.ask({"cmd": "pods"}, 20000)
        serials = [p["serial"] for p in r["pods"]]
        check(r["ok"] and "P0001" in serials and "P0002" not in serials,
              "only the coach's assign happened: %r" % serials)
        # refused on the control endpoint: no reply at all (the connection never completes)
        for who, secret_of in (("feedonly", None), ("stranger", None), ("viewer", "stranger")):
            c = curve(zmq.REQ, ctl_ep, who, secret_of)
            clients.append(c)
            r = c.ask({"cmd": "status"}, 3000)
            check(r is None, "%s on control got %r" % (who, r))
        c = Client(ctx, zmq.REQ, ctl_ep)
        clients.append(c)
        check(c.ask({"cmd": "ping"}, 3000) is None, "plaintext control answered")

        # gaitctl with keys
        kargs = ["--server-key", srv["pubfile"], "--client-key"]
        w = subprocess.run([GAITCTL, "watch", "--count", "5", "--timeout", "60"] + kargs +
                           [keys["viewer"]["key"], pub_ep], capture_output=True, text=True,
                           timeout=90)
        lines = [json.loads(x) for x in w.stdout.splitlines()]
        check(w.returncode == 0 and len(lines) == 5 and
              all(x["topic"].startswith("gait/sim1/") for x in lines),
              "gaitctl watch as viewer: %d %r %s" % (w.returncode, lines[:2], w.stderr))
        w = subprocess.run([GAITCTL, "watch", "--timeout", "3", pub_ep], capture_output=True,
                           text=True, timeout=30)
        check(w.returncode == 0 and not w.stdout, "gaitctl watch without keys: %r" % w.stdout[:200])
        w = subprocess.run([GAITCTL, "watch", "--timeout", "3", "--server-key", srv["pubfile"],
                            pub_ep], capture_output=True, text=True, timeout=30)
        check(w.returncode == 2 and "both" in w.stderr, "watch with one key: %r" % w.stderr)
        s = subprocess.run([GAITCTL, "status", "--json", "--control", ctl_ep] + kargs +
                           [keys["coach"]["key"]], capture_output=True, text=True, timeout=30)
        check(s.returncode == 0 and json.loads(s.stdout)["ok"], "gaitctl status: %s" % s.stderr)
        env = dict(os.environ, GAITD_SERVER_KEY=srv["pubfile"],
                   GAITD_CLIENT_KEY=keys["viewer"]["key"], GAITD_CONTROL=ctl_ep)
        s = subprocess.run([GAITCTL, "assign", "P0003", "ben", "R"], capture_output=True,
                           text=True, timeout=30, env=env)
        check(s.returncode == 1 and "forbidden" in s.stderr, "gaitctl assign as viewer: %d %r"
              % (s.returncode, s.stderr))
        s = subprocess.run([GAITCTL, "status", "--client-key", keys["stranger"]["key"],
                            "--timeout", "2"], capture_output=True, text=True, timeout=30, env=env)
        check(s.returncode == 1 and "no answer" in s.stderr, "gaitctl status, unknown key: %r"
              % s.stderr)
        s = subprocess.run([GAITCTL, "status", "--client-key", keys["server"]["pubfile"]],
                           capture_output=True, text=True, timeout=30, env=env)
        check(s.returncode == 1 and "secret" in s.stderr, "a .pub as client key: %r" % s.stderr)

        d.send_signal(signal.SIGTERM)
        rc = d.wait(timeout=60)
        check(rc == 0, "gaitd exit %r" % rc)
    finally:
        for c in clients:
            c.s.close()
        ctx.term()
        if d.poll() is None:
            d.kill()
            d.wait()
        logf.close()
    log = open(logpath).read()
    wants = [
        "CURVE on: server key %s, 3 client key(s) allowed" % srv["pub"].decode(),
        "refused CURVE key %s on feeds from 127.0.0.1: key not in the allow-list"
        % keys["stranger"]["pub"].decode(),
        "refused CURVE key %s on control from 127.0.0.1: key not in the allow-list"
        % keys["stranger"]["pub"].decode(),
        "refused CURVE key %s on control from 127.0.0.1: client feedonly may not use the control "
        "endpoint (control = no)" % keys["feedonly"]["pub"].decode(),
        "on feeds from %s: the client" % pub_ep,           # plaintext: failed handshake
        "on feeds from %s: cryptographic error: a wrong key" % pub_ep,   # the impostor
        "coach (key %s) connected to feeds from 127.0.0.1" % keys["coach"]["pub"].decode(),
        "viewer (key %s) connected to control" % keys["viewer"]["pub"].decode(),
        "subscription 'gait/sim2/' of viewer refused: not among its feeds",
        "refused 'assign' changes the daemon's state: client 'viewer' is not allowed",
    ]
    for w in wants:
        check(w in log, "gaitd's log has no %r:\n%s" % (w, log[-6000:]))
    for name, k in keys.items():
        check(k["sec"].decode() not in log, "the secret key of %s is in the log" % name)
    check("listens beyond loopback" not in log, "warning for a loopback CURVE endpoint")
    print("refusals logged: %d lines" % len([x for x in log.splitlines() if "refused" in x]))


def listening(pid):
    """(address, port) of every TCP socket of process pid in LISTEN state."""
    inodes = set()
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            t = os.readlink("/proc/%d/fd/%s" % (pid, fd))
        except OSError:
            continue
        m = re.match(r"socket:\[(\d+)\]", t)
        if m:
            inodes.add(m.group(1))
    out = []
    for table in ("tcp", "tcp6"):
        with open("/proc/%d/net/%s" % (pid, table)) as f:
            next(f)
            for ln in f:
                col = ln.split()
                if col[3] != "0A" or col[9] not in inodes:
                    continue
                addr, port = col[1].split(":")
                if table == "tcp":
                    ip = socket.inet_ntop(socket.AF_INET, bytes.fromhex(addr)[::-1])
                else:
                    b = bytes.fromhex(addr)
                    ip = socket.inet_ntop(socket.AF_INET6, b"".join(b[i:i + 4][::-1]
                                                                   for i in range(0, 16, 4)))
                out.append((ip, int(port, 16)))
    return out


def local_addresses():
    """This machine's IPv4 addresses outside 127/8 (`ip -4 -o addr`), maybe none."""
    try:
        r = subprocess.run(["ip", "-4", "-o", "addr", "show"], capture_output=True, text=True,
                           timeout=10)
    except OSError:
        return []
    return [m for m in re.findall(r"inet (\d+\.\d+\.\d+\.\d+)/", r.stdout)
            if not m.startswith("127.")]


def wait_listening(d, n, timeout=30):
    t0 = time.time()
    while time.time() - t0 < timeout:
        if d.poll() is not None:
            return None
        socks = listening(d.pid)
        if len(socks) >= n:
            return socks
        time.sleep(0.1)
    return listening(d.pid)


def part_loopback(tmp, keys):
    lan = local_addresses()
    # 1. the defaults (tcp://127.0.0.1:5556 / 5557); the ports may be taken by something else
    d = subprocess.Popen([GAITD, "--log-level", "info"], stderr=subprocess.PIPE, text=True)
    try:
        socks = wait_listening(d, 2)
        if socks is None:
            err = d.stderr.read()
            check("Address already in use" in err, "gaitd with the default endpoints: %s" % err)
            print("SKIP default endpoints: ports 5556/5557 in use on this machine")
        else:
            check(sorted(socks) == [("127.0.0.1", 5556), ("127.0.0.1", 5557)],
                  "default endpoints listen on %r" % socks)
            for ip in lan:
                for port in (5556, 5557):
                    s = socket.socket()
                    s.settimeout(10)
                    try:
                        s.connect((ip, port))
                        fail("default endpoint reachable on %s:%d" % (ip, port))
                    except ConnectionRefusedError:
                        pass
                    finally:
                        s.close()
            print("default endpoints: %r; refused on %s" % (socks, lan or "(no other address)"))
        if d.poll() is None:
            d.send_signal(signal.SIGTERM)
            check(d.wait(timeout=30) == 0, "gaitd exit")
    finally:
        if d.poll() is None:
            d.kill()
            d.wait()
    # 2. plaintext beyond loopback: a warning; with CURVE: none
    port = free_port()
    d = subprocess.run([GAITD, "--pub", "tcp://*:%d" % port, "--control", "inproc://c",
                        "--replay", os.path.join(os.environ.get("GAITD_TEST_DATA", "tests/data"),
                                                 "nonexistent.gaitrec")],
                       capture_output=True, text=True, timeout=30)
    check("tcp://*:%d listens beyond loopback without CURVE" % port in d.stderr,
          "no warning for a plaintext wildcard endpoint: %s" % d.stderr)
    cfg = os.path.join(tmp, "wide.ini")
    write(cfg, "[security]\nserver_key = %s\n[client coach]\npublic_key = %s\nfeeds = *\n"
          % (keys["server"]["key"], keys["coach"]["pub"].decode()))
    d = subprocess.Popen([GAITD, "--config", cfg, "--pub", "tcp://*:%d" % port, "--control",
                          "tcp://*:%d" % free_port()], stderr=subprocess.PIPE, text=True)
    try:
        socks = wait_listening(d, 2)
        check(socks is not None and len(socks) == 2, "CURVE gaitd on tcp://*: %r" % socks)
        d.send_signal(signal.SIGTERM)
        check(d.wait(timeout=30) == 0, "gaitd exit")
        err = d.stderr.read()
        check("listens beyond loopback" not in err and "CURVE on" in err, err)
    finally:
        if d.poll() is None:
            d.kill()
            d.wait()


def main():
    tmp = tempfile.mkdtemp(prefix="gaitd-curve-")
    part_keygen(tmp)
    keys = {n: keygen(tmp, n) for n in ("server", "coach", "viewer", "feedonly", "stranger")}
    config_errors(tmp, keys)
    main_run(tmp, keys)
    part_loopback(tmp, keys)
    print("OK")


if __name__ == "__main__":
    main()
