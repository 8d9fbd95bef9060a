#!/usr/bin/env python3
"""basic.qos semantics and requeue ordering (docs/rabbitmq-behaviour.md sections 7 and 8), raw AMQP."""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from amqp_raw import Runner, check_eq, connect_channel, expect_ok, wait_ready  # noqa: E402

R = Runner("qos_and_requeue")
GET = ("basic.get_ok", "basic.get_empty")


def setup(nqueues=1, n=10):
    """New connection with channel 1 and `nqueues` exclusive queues holding m1..m<n>."""
    c = connect_channel(1)
    qs = []
    for _ in range(nqueues):
        q = expect_ok(c, 1, "queue.declare", "queue.declare_ok", queue="", exclusive=True).queue
        for i in range(n):
            c.publish(1, "", q, f"m{i + 1}")
        qs.append(q)
        wait_ready(c, 1, q, n)
    return c, qs


def deliveries(c, t=0.4):
    return [m for m in c.drain(t) if m.name == "basic.deliver"]


def per_tag(ds):
    out = {}
    for m in ds:
        out[m.consumer_tag] = out.get(m.consumer_tag, 0) + 1
    return out


def consume(c, q, tag, ch=1, **kw):
    expect_ok(c, ch, "basic.consume", "basic.consume_ok", queue=q, consumer_tag=tag, **kw)


@R.case("qos global=false applies per consumer (2 + 2)")
def _():
    c, (q1, q2) = setup(2)
    expect_ok(c, 1, "basic.qos", "basic.qos_ok", prefetch_count=2)
    consume(c, q1, "a")
    consume(c, q2, "b")
    check_eq(per_tag(deliveries(c)), {"a": 2, "b": 2}, "deliveries per consumer")
    c.close()


@R.case("qos global=true applies per channel (3 in total)")
def _():
    c, (q1, q2) = setup(2)
    expect_ok(c, 1, "basic.qos", "basic.qos_ok", prefetch_count=3, **{"global": True})
    consume(c, q1, "a")
    consume(c, q2, "b")
    check_eq(sum(per_tag(deliveries(c)).values()), 3, "total deliveries")
    c.close()


@R.case("per-consumer limit is captured at consume time (qos 2, consume a, qos 4, consume b -> 2 + 4)")
def _():
    c, (q1, q2) = setup(2)
    expect_ok(c, 1, "basic.qos", "basic.qos_ok", prefetch_count=2)
    consume(c, q1, "a")
    expect_ok(c, 1, "basic.qos", "basic.qos_ok", prefetch_count=4)
    consume(c, q2, "b")
    check_eq(per_tag(deliveries(c)), {"a": 2, "b": 4}, "deliveries per consumer")
    c.close()


@R.case("raising per-consumer qos after consume does not affect the existing consumer")
def _():
    c, (q,) = setup(1)
    expect_ok(c, 1, "basic.qos", "basic.qos_ok", prefetch_count=2)
    consume(c, q, "a")
    check_eq(len(deliveries(c)), 2, "initial")
    expect_ok(c, 1, "basic.qos", "basic.qos_ok", prefetch_count=5)
    check_eq(len(deliveries(c)), 0, "after raising qos")
    c.close()


@R.case("global 5 + per-consumer 2 with two consumers -> 2 + 2")
def _():
    c, (q1, q2) = setup(2)
    expect_ok(c, 1, "basic.qos", "basic.qos_ok", prefetch_count=5, **{"global": True})
    expect_ok(c, 1, "basic.qos", "basic.qos_ok", prefetch_count=2)
    consume(c, q1, "a")
    consume(c, q2, "b")
    check_eq(per_tag(deliveries(c)), {"a": 2, "b": 2}, "deliveries per consumer")
    c.close()


@R.case("prefetch 0 = unlimited")
def _():
    c, (q,) = setup(1)
    expect_ok(c, 1, "basic.qos", "basic.qos_ok", prefetch_count=0)
    consume(c, q, "a")
    check_eq(len(deliveries(c)), 10, "deliveries")
    c.close()


@R.case("prefetch does not limit basic.get")
def _():
    c, (q,) = setup(1, 5)
    expect_ok(c, 1, "basic.qos", "basic.qos_ok", prefetch_count=1)
    names = [expect_ok(c, 1, "basic.get", GET, queue=q).name for _ in range(3)]
    check_eq(names, ["basic.get_ok"] * 3, "gets")
    c.close()


@R.case("unacked m1..m5, channel closed -> redelivered in original order with redelivered=true")
def _():
    c, (q,) = setup(1, 5)
    c.open_channel(2)
    consume(c, q, "x", ch=2)
    check_eq([m.body for m in deliveries(c)], [b"m1", b"m2", b"m3", b"m4", b"m5"], "first delivery")
    expect_ok(c, 2, "channel.close", "channel.close_ok", reply_code=200)
    consume(c, q, "y", no_ack=True)
    got = [(m.body, m.redelivered, m.delivery_tag) for m in deliveries(c)]
    check_eq(got, [(f"m{i}".encode(), True, i) for i in range(1, 6)], "redelivery")
    c.close()


@R.case("nack(m3, requeue) with an active consumer -> m3 redelivered at once, redelivered=true, new tag 6")
def _():
    c, (q,) = setup(1, 5)
    consume(c, q, "x")
    check_eq(len(deliveries(c)), 5, "initial")
    c.send_method(1, "basic.nack", delivery_tag=3, requeue=True)
    got = [(m.body, m.redelivered, m.delivery_tag) for m in deliveries(c)]
    check_eq(got, [(b"m3", True, 6)], "redelivery")
    c.close()


@R.case("requeued messages return to their original position (reject m4, nack m2 -> get m2, m4)")
def _():
    c, (q,) = setup(1, 6)
    for _ in range(5):
        expect_ok(c, 1, "basic.get", GET, queue=q)
    c.send_method(1, "basic.reject", delivery_tag=4, requeue=True)
    c.send_method(1, "basic.nack", delivery_tag=2, requeue=True)
    time.sleep(0.1)
    got = []
    for _ in range(4):
        m = expect_ok(c, 1, "basic.get", GET, queue=q)
        got.append((m.body, m.redelivered, m.message_count) if m.name == "basic.get_ok" else "empty")
    check_eq(got, [(b"m2", True, 2), (b"m4", True, 1), (b"m6", False, 0), "empty"], "get order")
    c.close()


@R.case("nack multiple of everything -> original order")
def _():
    c, (q,) = setup(1, 5)
    for _ in range(5):
        expect_ok(c, 1, "basic.get", GET, queue=q)
    c.send_method(1, "basic.nack", delivery_tag=5, multiple=True, requeue=True)
    got = [expect_ok(c, 1, "basic.get", GET, queue=q, no_ack=True).body for _ in range(5)]
    check_eq(got, [b"m1", b"m2", b"m3", b"m4", b"m5"], "order")
    c.close()


@R.case("basic.recover(requeue=true) with an active consumer -> all redelivered in order, tags 6..10")
def _():
    c, (q,) = setup(1, 5)
    consume(c, q, "x")
    check_eq(len(deliveries(c)), 5, "initial")
    c.send_method(1, "basic.recover", requeue=True)
    ms = c.drain(0.4)
    names = [m.name for m in ms]
    check_eq(sorted(set(names)), ["basic.deliver", "basic.recover_ok"], "methods")
    got = [(m.body, m.redelivered, m.delivery_tag) for m in ms if m.name == "basic.deliver"]
    check_eq(got, [(f"m{i}".encode(), True, i + 5) for i in range(1, 6)], "redeliveries")
    c.close()


@R.case("cancel + recover(requeue) -> next consumer gets m1..m5 redelivered")
def _():
    c, (q,) = setup(1, 5)
    consume(c, q, "x")
    check_eq(len(deliveries(c)), 5, "initial")
    expect_ok(c, 1, "basic.cancel", "basic.cancel_ok", consumer_tag="x")
    expect_ok(c, 1, "basic.recover", "basic.recover_ok", requeue=True)
    c.open_channel(2)
    consume(c, q, "z", ch=2, no_ack=True)
    check_eq([(m.body, m.redelivered) for m in deliveries(c)], [(f"m{i}".encode(), True) for i in range(1, 6)],
             "redeliveries")
    c.close()


R.finish()
