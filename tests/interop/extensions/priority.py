#!/usr/bin/env python3
"""Priority queues: x-max-priority and the priority property (docs/rabbitmq-extensions-behaviour.md section 6)."""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from extlib import (WARREN, Runner, ack, bodies, check_eq, connect_channel, consume, declare, deliveries, expect_ok, get,  # noqa: E402
                    get_all, nack, pub, qdelete, qos, ready, reject, uniq, wait_count)

R = Runner("priority")
P = uniq("prio")
c = connect_channel(1)
_n = [0]
CLEANUP = []

ORDER = [(None, "n0"), (1, "p1"), (5, "p5"), (9, "p9"), (0, "p0"), (3, "p3"), (255, "p255"), (5, "p5b"),
         (None, "n1"), (6, "p6")]


def queue(args=None):
    _n[0] += 1
    q = f"{P}-{_n[0]}"
    declare(c, 1, q, args)
    CLEANUP.append(q)
    return q


def part_a_missing(args, publish, want_ready):
    """Warren only: True when a feature of issue 5 part A (x-max-length, per-message TTL) is not
    built yet, probed on a scratch queue; the cases that combine it with priorities then skip."""
    if not WARREN:
        return False
    q = queue(args)
    publish(q)
    time.sleep(0.2)
    missing = ready(c, 1, q) != want_ready
    qdelete(c, 1, q)
    CLEANUP.remove(q)
    return missing


def skip(label, why):
    print(f"  skip {label}: {why}")


def publish_all(q, order=ORDER):
    for p, b in order:
        if p is None:
            pub(c, 1, q, b)
        else:
            pub(c, 1, q, b, priority=p)
    wait_count(c, 1, q, len(order))


@R.case("x-max-priority 5: highest first, priorities above max count as max (FIFO among them), none = 0")
def _():
    q = queue({"x-max-priority": 5})
    publish_all(q)
    ms = get_all(c, 1, q)
    check_eq([(m.body.decode(), m.properties.get("priority")) for m in ms],
             [("p5", 5), ("p9", 9), ("p255", 255), ("p5b", 5), ("p6", 6), ("p3", 3), ("p1", 1), ("n0", None),
              ("p0", 0), ("n1", None)], "order (priority property delivered unchanged)")


@R.case("no x-max-priority, or x-max-priority 0: priorities ignored (FIFO)")
def _():
    for args in ({}, {"x-max-priority": 0}):
        q = queue(args)
        publish_all(q)
        check_eq(bodies(get_all(c, 1, q)), [b for _, b in ORDER], f"order with {args}")


@R.case("consumer with prefetch 2: gets the highest; later higher-priority messages overtake")
def _():
    q = queue({"x-max-priority": 5})
    publish_all(q)
    c.open_channel(2)
    qos(c, 2, 2)
    consume(c, 2, q, "t")
    d = deliveries(c, 2, 2, 1.0)
    check_eq(bodies(d), ["p5", "p9"], "first two")
    pub(c, 1, q, "late0")
    pub(c, 1, q, "late5", priority=5)
    wait_count(c, 1, q, 10)
    ack(c, 2, d[-1].delivery_tag, multiple=True)
    d = deliveries(c, 2, 2, 1.0)
    check_eq(bodies(d), ["p255", "p5b"], "after ack")
    nack(c, 2, d[-1].delivery_tag, multiple=True, requeue=True)
    d = deliveries(c, 2, 2, 1.0)
    check_eq([(m.body.decode(), m.redelivered) for m in d], [("p255", True), ("p5b", True)], "requeued go first")
    expect_ok(c, 2, "basic.cancel", "basic.cancel_ok", consumer_tag="t")
    # the 2 unacked stay unacked on channel 2; the rest:
    check_eq(bodies(get_all(c, 1, q)), ["p6", "late5", "p3", "p1", "n0", "p0", "n1", "late0"], "remaining")
    expect_ok(c, 2, "channel.close", "channel.close_ok", reply_code=200, reply_text="")


@R.case("requeue within one priority: back to the original positions")
def _():
    q = queue({"x-max-priority": 5})
    for b in ("a", "b", "c"):
        pub(c, 1, q, b, priority=2)
    wait_count(c, 1, q, 3)
    g = [get(c, 1, q, no_ack=False) for _ in range(3)]
    reject(c, 1, g[2].delivery_tag, requeue=True)
    reject(c, 1, g[0].delivery_tag, requeue=True)
    pub(c, 1, q, "d", priority=2)
    pub(c, 1, q, "low", priority=1)
    wait_count(c, 1, q, 4)
    check_eq([(m.body.decode(), m.redelivered) for m in get_all(c, 1, q)],
             [("a", True), ("c", True), ("d", False), ("low", False)], "order")
    expect_ok(c, 1, "basic.recover", "basic.recover_ok", requeue=True)
    check_eq([(m.body.decode(), m.redelivered) for m in get_all(c, 1, q)], [("b", True)], "recovered")


ML_LABEL = "x-max-length with priorities: drop-head drops the highest-priority message"
TTL_LABEL = "per-message TTL in a priority queue: an expired low-priority message waits behind the high one"
NO_MAXLEN = part_a_missing({"x-max-length": 1}, lambda q: [pub(c, 1, q, b) for b in ("a", "b")], 1)
NO_TTL = part_a_missing({}, lambda q: pub(c, 1, q, "e", expiration="10"), 0)


@R.case(ML_LABEL) if not NO_MAXLEN else (lambda fn: skip(ML_LABEL, "Warren has no x-max-length yet"))
def _():
    q = queue({"x-max-priority": 5, "x-max-length": 2})
    pub(c, 1, q, "low", priority=1)
    pub(c, 1, q, "high", priority=5)
    pub(c, 1, q, "mid", priority=3)
    time.sleep(0.2)
    check_eq(bodies(get_all(c, 1, q)), ["mid", "low"], "kept")


@R.case(TTL_LABEL) if not NO_TTL else (lambda fn: skip(TTL_LABEL, "Warren has no per-message TTL yet"))
def _():
    q = queue({"x-max-priority": 5})
    pub(c, 1, q, "high", priority=5, expiration="100000")
    wait_count(c, 1, q, 1)  # high is the head before lowexp arrives
    pub(c, 1, q, "lowexp", priority=1, expiration="50")
    wait_count(c, 1, q, 2)
    time.sleep(0.2)
    check_eq(ready(c, 1, q), 2, "count with the expired one behind")
    check_eq(bodies(get_all(c, 1, q)), ["high"], "delivered")


for q in CLEANUP:
    qdelete(c, 1, q)
c.close()
R.finish()
