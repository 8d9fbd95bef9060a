#!/usr/bin/env python3
"""Per-queue (x-message-ttl) and per-message (expiration) TTL (docs/rabbitmq-extensions-behaviour.md section 2)."""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from extlib import (Runner, ack, bodies, check, check_eq, connect_channel, consume, declare, deliveries, eventually,  # noqa: E402
                    get, get_all, pub, qdelete, qos, ready, reject, uniq, wait_count)

R = Runner("ttl")
P = uniq("ttl")
c = connect_channel(1)
c.open_channel(2)
_n = [0]


def fresh(args=None):
    _n[0] += 1
    q = f"{P}-{_n[0]}"
    declare(c, 1, q, args)
    return q


@R.case("x-message-ttl: ready messages expire at the TTL (count drops), later consumers never see them")
def _():
    q = fresh({"x-message-ttl": 400})
    t0 = time.monotonic()
    for i in range(3):
        pub(c, 1, q, f"m{i}")
    wait_count(c, 1, q, 3, timeout=0.3)
    eventually(lambda: ready(c, 1, q), lambda n: n == 0, "expired count", timeout=3)
    dt = time.monotonic() - t0
    check(dt >= 0.35, f"messages gone after {dt:.2f}s, before the 0.4 s TTL")
    consume(c, 2, q, "late", no_ack=True)
    check_eq(deliveries(c, 2, None, 0.3), [], "deliveries of expired messages")
    check_eq(get(c, 1, q), None, "basic.get after expiry")
    qdelete(c, 1, q)


@R.case("expiration property is delivered unchanged; x-message-ttl adds no expiration property")
def _():
    q = fresh({"x-message-ttl": 60000})
    pub(c, 1, q, "a", expiration="5000")
    pub(c, 1, q, "b")
    wait_count(c, 1, q, 2)
    ms = get_all(c, 1, q)
    check_eq([m.properties for m in ms], [{"expiration": "5000"}, {}], "properties")
    qdelete(c, 1, q)


@R.case("queue TTL and per-message TTL: the lower one wins")
def _():
    q1 = fresh({"x-message-ttl": 300})
    q2 = fresh({"x-message-ttl": 5000})
    t0 = time.monotonic()
    pub(c, 1, q1, "queue-ttl-lower", expiration="5000")
    pub(c, 1, q2, "msg-ttl-lower", expiration="300")
    wait_count(c, 1, q1, 1, timeout=0.25)
    wait_count(c, 1, q2, 1, timeout=0.25)
    eventually(lambda: (ready(c, 1, q1), ready(c, 1, q2)), lambda x: x == (0, 0), "both expired", timeout=3)
    check(time.monotonic() - t0 < 2.5, "expired by the lower TTL")
    qdelete(c, 1, q1)
    qdelete(c, 1, q2)


@R.case("per-message TTL behind the head: counted until it reaches the head, then dropped (never delivered)")
def _():
    q = fresh()
    pub(c, 1, q, "long", expiration="10000")
    pub(c, 1, q, "short", expiration="100")
    pub(c, 1, q, "none")
    wait_count(c, 1, q, 3)
    time.sleep(0.4)
    check_eq(ready(c, 1, q), 3, "count with an expired message behind the head")
    m = get(c, 1, q)
    check_eq((m.body, m.message_count), (b"long", 1), "first get (expired one dropped right after the fetch)")
    check_eq(ready(c, 1, q), 1, "count after the first get")
    m = get(c, 1, q)
    check_eq((m.body, m.message_count), (b"none", 0), "second get")
    check_eq(get(c, 1, q), None, "third get")
    qdelete(c, 1, q)


@R.case("per-message TTL: a consumer attached later skips expired messages")
def _():
    q = fresh()
    pub(c, 1, q, "long", expiration="10000")
    pub(c, 1, q, "short", expiration="100")
    pub(c, 1, q, "none")
    wait_count(c, 1, q, 3)
    time.sleep(0.4)
    tag = consume(c, 2, q, "", no_ack=True)
    check_eq(bodies(deliveries(c, 2, None, 0.5)), ["long", "none"], "delivered")
    c.rpc(2, "basic.cancel", "basic.cancel_ok", consumer_tag=tag)
    qdelete(c, 1, q)


@R.case("per-message TTL at the head expires on time (timer), also with nothing else in the queue")
def _():
    q = fresh()
    t0 = time.monotonic()
    pub(c, 1, q, "x", expiration="300")
    wait_count(c, 1, q, 1, timeout=0.25)
    eventually(lambda: ready(c, 1, q), lambda n: n == 0, "expired", timeout=3)
    check(time.monotonic() - t0 >= 0.25, "expired too early")
    qdelete(c, 1, q)


@R.case("TTL 0 (queue or message): dropped without a consumer, delivered to an idle consumer")
def _():
    q = fresh({"x-message-ttl": 0})
    pub(c, 1, q, "no-consumer")
    q2 = fresh()
    pub(c, 1, q2, "no-consumer", expiration="0")
    time.sleep(0.2)
    check_eq((ready(c, 1, q), ready(c, 1, q2)), (0, 0), "ready after TTL 0 publishes")
    consume(c, 2, q, "t0q", no_ack=True)
    consume(c, 2, q2, "t0m", no_ack=True)
    pub(c, 1, q, "idle-q")
    pub(c, 1, q2, "idle-m", expiration="0")
    d = deliveries(c, 2, 2, 2.0)
    check_eq(sorted((m.consumer_tag, m.body.decode(), m.properties.get("expiration")) for m in d),
             [("t0m", "idle-m", "0"), ("t0q", "idle-q", None)], "deliveries")
    for t in ("t0q", "t0m"):
        c.rpc(2, "basic.cancel", "basic.cancel_ok", consumer_tag=t)
    qdelete(c, 1, q)
    qdelete(c, 1, q2)


@R.case("TTL 0 with a consumer at its prefetch limit: the message expires (not delivered after the ack)")
def _():
    q = fresh({"x-message-ttl": 0})
    c.open_channel(3)
    qos(c, 3, 1)
    consume(c, 3, q, "busy")
    pub(c, 1, q, "p1")
    pub(c, 1, q, "p2")
    d = deliveries(c, 3, None, 0.5)
    check_eq(bodies(d), ["p1"], "first delivery")
    ack(c, 3, d[0].delivery_tag)
    check_eq(deliveries(c, 3, None, 0.5), [], "after ack")
    check_eq(ready(c, 1, q), 0, "ready")
    c.rpc(3, "channel.close", "channel.close_ok", reply_code=200, reply_text="")
    qdelete(c, 1, q)


@R.case("unacked messages do not expire; requeued after their TTL they expire at once")
def _():
    q = fresh({"x-message-ttl": 200})
    pub(c, 1, q, "held")
    wait_count(c, 1, q, 1)
    m = get(c, 1, q, no_ack=False)
    check(m is not None, "got the message")
    time.sleep(0.4)
    reject(c, 1, m.delivery_tag, requeue=True)
    time.sleep(0.1)
    check_eq(ready(c, 1, q), 0, "ready after requeue past TTL")
    check_eq(get(c, 1, q), None, "get after requeue past TTL")
    # requeued before the TTL: still there, redelivered
    pub(c, 1, q, "quick")
    wait_count(c, 1, q, 1)
    m = get(c, 1, q, no_ack=False)
    reject(c, 1, m.delivery_tag, requeue=True)
    m = eventually(lambda: get(c, 1, q), lambda x: x is not None, "requeued message", timeout=0.15, interval=0.01)
    check_eq((m.body, m.redelivered), (b"quick", True), "requeued before TTL")
    qdelete(c, 1, q)


@R.case("per-message TTL keeps counting while unacked: expiry is relative to the publish, not the requeue")
def _():
    q = fresh()
    t0 = time.monotonic()
    pub(c, 1, q, "abs", expiration="600")
    wait_count(c, 1, q, 1)
    m = get(c, 1, q, no_ack=False)
    time.sleep(max(0.0, 0.4 - (time.monotonic() - t0)))
    reject(c, 1, m.delivery_tag, requeue=True)
    eventually(lambda: ready(c, 1, q), lambda n: n == 0, "expired after requeue", timeout=2, interval=0.01)
    dt = time.monotonic() - t0
    check(0.5 <= dt < 0.85, f"expired {dt:.2f}s after publish (expected ~0.6 s; ~1.0 s would mean the TTL restarted)")
    qdelete(c, 1, q)


c.close()
R.finish()
