#!/usr/bin/env python3
"""consumer_timeout: a channel holding an unacked delivery too long (docs/rabbitmq-extensions-behaviour.md
section 11).

Needs a broker configured with a short consumer_timeout; tell the script with env CONSUMER_TIMEOUT_MS (e.g. 2000).
Without it the script prints SKIP and exits 0.  RabbitMQ checks the timeout on the channel tick
(channel_tick_interval, default 60 s), so the node must also have a short tick; use consumer_timeout.config:

    WARREN_RABBITMQ_CONFIG=$PWD/consumer_timeout.config CONSUMER_TIMEOUT_MS=2000 \\
        /usr/bin/python3 ../harness.py --rabbitmq -- /usr/bin/python3 consumer_timeout.py

The close must arrive between CONSUMER_TIMEOUT_MS and CONSUMER_TIMEOUT_MS + CONSUMER_TIMEOUT_SLACK_MS (default
1500) after the delivery.
"""
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from extlib import (WARREN, Runner, TestFailure, ack, check, check_eq, close_tuple, connect_channel, consume, counts, declare,  # noqa: E402
                    deliveries, eventually, get, pub, qdelete, uniq, wait_count)

if not os.environ.get("CONSUMER_TIMEOUT_MS"):
    print("consumer_timeout: SKIP (set CONSUMER_TIMEOUT_MS to the broker's consumer_timeout, e.g. 2000, and start the "
          "broker with it; see consumer_timeout.config)")
    sys.exit(0)

TIMEOUT = int(os.environ["CONSUMER_TIMEOUT_MS"]) / 1000.0
SLACK = int(os.environ.get("CONSUMER_TIMEOUT_SLACK_MS", "1500")) / 1000.0
R = Runner("consumer_timeout")
P = uniq("ct")
_n = [0]


def text(ch):
    return (f"PRECONDITION_FAILED - delivery acknowledgement on channel {ch} timed out. Timeout value used: "
            f"{int(TIMEOUT * 1000)} ms. This timeout value can be configured, see consumers doc guide to learn more")


def setup():
    _n[0] += 1
    q = f"{P}-{_n[0]}"
    c = connect_channel(1)
    declare(c, 1, q)
    return c, q


def wait_close(c, ch, t0):
    try:
        m = c.wait_for(ch, (), timeout=TIMEOUT + SLACK + 2)
    except TimeoutError:
        raise TestFailure(f"no channel.close within {TIMEOUT + SLACK + 2:.1f}s of the delivery: is the broker's "
                          f"consumer_timeout {TIMEOUT * 1000:.0f} ms (and, for RabbitMQ, channel_tick_interval short)?")
    dt = time.monotonic() - t0
    check(m.name == "channel.close", f"expected channel.close, got {m!r}")
    check_eq(close_tuple(m), (406, text(ch), 0, 0), "channel.close")
    check(TIMEOUT - 0.05 <= dt <= TIMEOUT + SLACK, f"close {dt:.2f}s after the delivery, expected "
          f"{TIMEOUT:.1f}..{TIMEOUT + SLACK:.1f}s")
    return m


CASES = []


def case(label):
    def deco(fn):
        CASES.append((label, fn))
        return fn
    return deco


@case("consumer with an unacked delivery past the timeout: 406 channel.close (0/0); messages requeued at once")
def _():
    c, q = setup()
    other = connect_channel(1)
    c.open_channel(2)
    consume(c, 2, q, "t")
    pub(c, 1, q, "m0")
    pub(c, 1, q, "m1")
    d = deliveries(c, 2, 2, 2.0)
    t0 = time.monotonic()
    check_eq([m.body for m in d], [b"m0", b"m1"], "deliveries")
    ack(c, 2, d[1].delivery_tag)  # acking the later one does not help
    wait_close(c, 2, t0)
    # requeued before our close-ok
    eventually(lambda: counts(other, 1, q), lambda x: x == (1, 0), "requeued before close-ok", timeout=1)
    c.send_method(2, "channel.close_ok")
    m = get(other, 1, q)
    check_eq((m.body, m.redelivered), (b"m0", True), "redelivered")
    c.open_channel(2)  # the channel id can be reused, the connection is fine
    qdelete(c, 1, q)
    c.close()
    other.close()


@case("without close-ok the same channel.close is sent again")
def _():
    if WARREN:  # deliberate difference (docs/broker.md): Warren sends the close once
        return
    c, q = setup()
    c.open_channel(3)
    consume(c, 3, q, "t")
    pub(c, 1, q, "z")
    deliveries(c, 3, 1, 2.0)
    t0 = time.monotonic()
    first = wait_close(c, 3, t0)
    m = c.wait_for(3, (), timeout=SLACK + 1.5)
    check_eq((m.name, close_tuple(m)), ("channel.close", close_tuple(first)), "repeated close")
    c.send_method(3, "channel.close_ok")
    qdelete(c, 1, q)
    c.close()


@case("unacked basic.get (no_ack=false) past the timeout: same close")
def _():
    c, q = setup()
    pub(c, 1, q, "g")
    wait_count(c, 1, q, 1)
    c.open_channel(4)
    m = get(c, 4, q, no_ack=False)
    t0 = time.monotonic()
    check_eq(m.body, b"g", "get")
    wait_close(c, 4, t0)
    c.send_method(4, "channel.close_ok")
    qdelete(c, 1, q)
    c.close()


@case("no_ack consumers and other channels are not affected; the connection stays open")
def _():
    c, q = setup()
    c.open_channel(2)
    consume(c, 2, q, "na", no_ack=True)
    q2 = q + "-acked"
    declare(c, 1, q2)
    c.open_channel(3)
    consume(c, 3, q2, "ok")
    pub(c, 1, q, "x")
    pub(c, 1, q2, "y")
    d = deliveries(c, None, 2, 2.0)
    for m in d:
        if m.channel == 3:
            ack(c, 3, m.delivery_tag)
    got = [m for m in c.drain(TIMEOUT + SLACK + 0.5) if m.name in ("channel.close", "connection.close")]
    check_eq(got, [], "closes")
    qdelete(c, 1, q)
    qdelete(c, 1, q2)
    c.close()


@case("queue argument x-consumer-timeout is accepted and ignored (the global timeout applies)")
def _():
    c, q0 = setup()
    q = q0 + "-xct"
    declare(c, 1, q, {"x-consumer-timeout": int(TIMEOUT * 1000 * 10)})
    c.open_channel(5)
    consume(c, 5, q, "xc")
    pub(c, 1, q, "q")
    deliveries(c, 5, 1, 2.0)
    t0 = time.monotonic()
    wait_close(c, 5, t0)
    c.send_method(5, "channel.close_ok")
    qdelete(c, 1, q)
    qdelete(c, 1, q0)
    c.close()


# the cases wait for the timeout: run them concurrently, report in order
results = {}


def run(label, fn):
    try:
        fn()
        results[label] = None
    except Exception as e:  # noqa: BLE001
        import traceback
        results[label] = RuntimeError(f"{type(e).__name__}: {e}\n{traceback.format_exc()}")


threads = [threading.Thread(target=run, args=(label, fn), daemon=True) for label, fn in CASES]
for t in threads:
    t.start()
for t in threads:
    t.join(TIMEOUT + SLACK + 15)
for label, fn in CASES:
    def report(label=label):
        if label not in results:
            raise TimeoutError("case did not finish in time")
        if results[label] is not None:
            raise results[label]
    R.case(label)(report)
R.finish()
