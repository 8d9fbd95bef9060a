#!/usr/bin/env python3
"""Single active consumer, x-single-active-consumer (docs/rabbitmq-extensions-behaviour.md section 9)."""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from extlib import (Runner, ack, check, check_eq, close_tuple, connect_channel, consume, counts, declare,  # noqa: E402
                    deliveries, expect_ok, get, pub, qdelete, qos, uniq, wait_count)

R = Runner("single_active_consumer")
P = uniq("sac")
_n = [0]
SAC = {"x-single-active-consumer": True}


def setup(nch):
    _n[0] += 1
    q = f"{P}-{_n[0]}"
    c = connect_channel(1)
    for ch in range(2, 2 + nch):
        c.open_channel(ch)
    declare(c, 1, q, SAC)
    return c, q


def got(c, n=None, timeout=0.5):
    return [(m.consumer_tag, m.body.decode()) for m in deliveries(c, None, n, timeout)]


def close_ch(c, ch):
    expect_ok(c, ch, "channel.close", "channel.close_ok", reply_code=200, reply_text="")


@R.case("three consumers: all get consume-ok and count, only the first registered gets deliveries")
def _():
    c, q = setup(3)
    for ch, t in ((2, "c2"), (3, "c3"), (4, "c4")):
        check_eq(consume(c, ch, q, t), t, "consume-ok tag")
    check_eq(counts(c, 1, q), (0, 3), "message/consumer count")
    for i in range(4):
        pub(c, 1, q, f"m{i}")
    check_eq(got(c, 4), [("c2", f"m{i}") for i in range(4)], "deliveries")
    qdelete(c, 1, q)
    c.close()


@R.case("active consumer cancels with unacked messages: the next one is active at once; unacked follow on close")
def _():
    c, q = setup(3)
    for ch, t in ((2, "c2"), (3, "c3"), (4, "c4")):
        consume(c, ch, q, t)
    for i in range(3):
        pub(c, 1, q, f"m{i}")
    check_eq(got(c, 3), [("c2", f"m{i}") for i in range(3)], "deliveries")
    expect_ok(c, 2, "basic.cancel", "basic.cancel_ok", consumer_tag="c2")
    check_eq(got(c, None, 0.3), [], "cancel does not requeue")
    pub(c, 1, q, "n0")
    check_eq(got(c, None, 0.4), [("c3", "n0")], "new message to the next consumer while c2 still holds 3 unacked")
    close_ch(c, 2)
    d = deliveries(c, None, 3, 1.0)
    check_eq([(m.consumer_tag, m.body.decode(), m.redelivered) for m in d],
             [("c3", f"m{i}", True) for i in range(3)], "c2's unacked requeued to c3")
    close_ch(c, 3)
    d = deliveries(c, None, 4, 1.0)
    check_eq([(m.consumer_tag, m.body.decode(), m.redelivered) for m in d],
             [("c4", "m0", True), ("c4", "m1", True), ("c4", "m2", True), ("c4", "n0", True)],
             "c3's unacked to c4 (original order)")
    check_eq(counts(c, 1, q), (0, 1), "counts")
    qdelete(c, 1, q)
    c.close()


@R.case("activation follows registration order; a re-subscribed consumer goes to the back")
def _():
    c, q = setup(3)
    for ch, t in ((2, "a"), (3, "b"), (4, "c")):
        consume(c, ch, q, t, no_ack=True)
    expect_ok(c, 3, "basic.cancel", "basic.cancel_ok", consumer_tag="b")
    expect_ok(c, 2, "basic.cancel", "basic.cancel_ok", consumer_tag="a")
    consume(c, 2, q, "a2", no_ack=True)
    pub(c, 1, q, "x")
    check_eq(got(c, None, 0.4), [("c", "x")], "after cancelling b and a")
    expect_ok(c, 4, "basic.cancel", "basic.cancel_ok", consumer_tag="c")
    pub(c, 1, q, "y")
    check_eq(got(c, None, 0.4), [("a2", "y")], "after cancelling c")
    qdelete(c, 1, q)
    c.close()


@R.case("x-priority is ignored for activation: the first registered is active")
def _():
    c, q = setup(2)
    consume(c, 2, q, "low", args={"x-priority": 1}, no_ack=True)
    consume(c, 3, q, "high", args={"x-priority": 10}, no_ack=True)
    pub(c, 1, q, "p")
    check_eq(got(c, None, 0.4), [("low", "p")], "deliveries")
    qdelete(c, 1, q)
    c.close()


@R.case("active consumer at its prefetch limit: the others still get nothing; basic.get bypasses SAC")
def _():
    c, q = setup(2)
    qos(c, 2, 1)
    consume(c, 2, q, "a")
    consume(c, 3, q, "b")
    for i in range(3):
        pub(c, 1, q, f"x{i}")
    d = deliveries(c, None, None, 0.5)
    check_eq([(m.consumer_tag, m.body.decode()) for m in d], [("a", "x0")], "deliveries")
    wait_count(c, 1, q, 2)
    m = get(c, 1, q)
    check_eq(m.body, b"x1", "basic.get")
    ack(c, 2, d[0].delivery_tag)
    check_eq(got(c, None, 0.4), [("a", "x2")], "after ack")
    qdelete(c, 1, q)
    c.close()


@R.case("exclusive consume on a SAC queue with consumers -> 403; queue delete cancels every consumer")
def _():
    c, q = setup(3)
    consume(c, 2, q, "a")
    consume(c, 3, q, "b")
    c.send_method(4, "basic.consume", queue=q, consumer_tag="ex", exclusive=True)
    m = c.wait_for(4, "basic.consume_ok")
    check(m.name == "channel.close", f"expected channel.close, got {m!r}")
    c.send_method(4, "channel.close_ok")
    check_eq(close_tuple(m), (403, f"ACCESS_REFUSED - queue '{q}' in vhost '/' in exclusive use", 60, 20), "close")
    qdelete(c, 1, q)
    time.sleep(0.2)
    cancels = sorted((m.channel, m.consumer_tag) for m in c.drain(0.3) if m.name == "basic.cancel")
    check_eq(cancels, [(2, "a"), (3, "b")], "server basic.cancel")
    c.close()


@R.case("redeclare with a different x-single-active-consumer -> 406 inequivalent")
def _():
    c, q = setup(0)
    c.send_method(1, "queue.declare", queue=q, arguments={"x-single-active-consumer": False})
    m = c.wait_for(1, "queue.declare_ok")
    check(m.name == "channel.close", f"expected channel.close, got {m!r}")
    c.send_method(1, "channel.close_ok")
    check_eq(close_tuple(m), (406, f"PRECONDITION_FAILED - inequivalent arg 'x-single-active-consumer' for queue '{q}' "
                                   f"in vhost '/': received 'false' but current is 'true'", 50, 10), "close")
    c.open_channel(1)
    qdelete(c, 1, q)
    c.close()


R.finish()
