"""Shared helpers of the integration tests that drive the real gaitd and gaitctl binaries."""
import json
import os
import sys

import zmq

BIN = os.environ.get("GAITD_BIN", "build/bin")


def fail(msg):
    """Reports a failed check and ends the test with exit status 1."""
    print("FAIL:", msg)
    sys.exit(1)


def check(cond, msg):
    if not cond:
        fail(msg)


def request(ctx, endpoint, payload, timeout_ms=3000):
    """Sends one control request (bytes) on a fresh REQ socket and returns the decoded reply."""
    s = ctx.socket(zmq.REQ)
    s.setsockopt(zmq.LINGER, 0)
    s.setsockopt(zmq.RCVTIMEO, timeout_ms)
    s.connect(endpoint)
    s.send(payload)
    try:
        return json.loads(s.recv())
    finally:
        s.close()


def subscriber(ctx, endpoint, prefix=b""):
    """A SUB socket connected to a gaitd feed endpoint, subscribed to prefix, with a receive
    high-water mark large enough that a test reading in bursts loses nothing."""
    sub = ctx.socket(zmq.SUB)
    sub.setsockopt(zmq.RCVHWM, 100000)
    sub.setsockopt(zmq.LINGER, 0)
    sub.connect(endpoint)
    sub.setsockopt(zmq.SUBSCRIBE, prefix)
    return sub
