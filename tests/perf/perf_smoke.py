#!/usr/bin/python3
"""Runs warren-perf briefly against $AMQP_URL (set by tests/interop/harness.py) and checks
that it reports sane numbers. No timing assertions: the machine may be busy."""

import json
import os
import subprocess
import sys


def run(perf, args):
    # AMQP_URL ends in "/", which Warren's client reads as the vhost "" (RFC 3986 style); build
    # the URI without a path, i.e. the default vhost "/".
    uri = "amqp://guest:guest@%s:%s" % (os.environ["AMQP_HOST"], os.environ["AMQP_PORT"])
    cmd = [perf, "--uri", uri, "--json"] + args
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=20)
    if p.returncode != 0:
        sys.exit("warren-perf %s failed (%d):\n%s" % (" ".join(args), p.returncode, p.stderr.decode()))
    lines = p.stdout.decode().strip().splitlines()
    if not lines:
        sys.exit("warren-perf printed nothing")
    return json.loads(lines[-1])


def check(r, latency):
    assert r["sent"] > 0, r
    assert r["received"] > 0, r
    assert r["received"] <= r["sent"], r
    assert r["failures"] == 0, r
    assert r["send_rate"] > 0 and r["receive_rate"] > 0, r
    if latency:
        lat = r["latency_us"]
        assert lat["count"] > 0, r
        assert 0 <= lat["p50"] <= lat["p99"] <= lat["max"], r


def main():
    perf = sys.argv[1]
    # as fast as possible, manual acks with prefetch, multi-ack
    check(run(perf, ["-z", "2", "-s", "16", "-Q", "100", "-A", "10"]), False)
    # fixed rate: latency percentiles, with confirms
    check(run(perf, ["-z", "2", "-s", "64", "-r", "200", "-c", "16", "-a"]), True)
    print("perf smoke: ok")


if __name__ == "__main__":
    main()
