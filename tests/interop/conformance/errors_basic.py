#!/usr/bin/env python3
"""basic.* / confirm / tx errors and publish outcomes (docs/rabbitmq-behaviour.md section 4), raw AMQP."""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from amqp_raw import (Runner, check, check_eq, connect_channel, expect_ch_error, expect_conn_error,  # noqa: E402
                      expect_ok, uniq, wait_ready)

R = Runner("errors_basic")
P = uniq("basic")
V = "vhost '/'"
GET = ("basic.get_ok", "basic.get_empty")

c = connect_channel(1)
created = []


def fresh_queue(suffix, n=0):
    name = f"{P}-{suffix}"
    expect_ok(c, 1, "queue.declare", "queue.declare_ok", queue=name)
    created.append(name)
    for i in range(n):
        c.publish(1, "", name, f"m{i + 1}")
    wait_ready(c, 1, name, n)
    return name


def ack_error(ch_conn, method, tag, mth, **args):
    ch_conn.send_method(1, method, delivery_tag=tag, **args)
    m = ch_conn.wait_for(1, ())
    check(m.name == "channel.close", f"{method} tag {tag}: expected channel.close, got {m!r}")
    ch_conn.send_method(1, "channel.close_ok")
    ch_conn.open_channel(1)
    check_eq((m.reply_code, m.reply_text, m.f["class_id"], m.f["method_id"]),
             (406, f"PRECONDITION_FAILED - unknown delivery tag {tag}", 60, mth), f"{method} close")


@R.case("basic.ack / nack / reject of an unknown tag -> 406 unknown delivery tag")
def _():
    ack_error(c, "basic.ack", 5, 80)
    ack_error(c, "basic.ack", 7, 80, multiple=True)
    ack_error(c, "basic.nack", 7, 120, requeue=True)
    ack_error(c, "basic.nack", 7, 120, multiple=True, requeue=True)
    ack_error(c, "basic.reject", 7, 90, requeue=True)


@R.case("double ack -> 406 unknown delivery tag")
def _():
    q = fresh_queue("dbl", 1)
    m = expect_ok(c, 1, "basic.get", GET, queue=q)
    c.send_method(1, "basic.ack", delivery_tag=m.delivery_tag)
    ack_error(c, "basic.ack", m.delivery_tag, 80)


@R.case("ack of a no-ack delivery -> 406")
def _():
    q = fresh_queue("noack", 1)
    m = expect_ok(c, 1, "basic.get", GET, queue=q, no_ack=True)
    check_eq(m.name, "basic.get_ok", "get")
    ack_error(c, "basic.ack", m.delivery_tag, 80)


@R.case("ack multiple=true tag=0 acks everything outstanding (and is ok with nothing outstanding)")
def _():
    q = fresh_queue("ack0", 3)
    for _ in range(3):
        check_eq(expect_ok(c, 1, "basic.get", GET, queue=q).name, "basic.get_ok", "get")
    c.send_method(1, "basic.ack", delivery_tag=0, multiple=True)
    c.send_method(1, "basic.ack", delivery_tag=0, multiple=True)  # nothing outstanding: still fine
    expect_ok(c, 1, "channel.close", "channel.close_ok", reply_code=200)
    c.open_channel(1)
    m = expect_ok(c, 1, "queue.declare", "queue.declare_ok", queue=q, passive=True)
    check_eq(m.message_count, 0, "messages left after ack-all and channel close")


@R.case("ack multiple=false tag=0 -> 406 unknown delivery tag 0")
def _():
    ack_error(c, "basic.ack", 0, 80)


@R.case("basic.consume on a missing queue -> 404")
def _():
    expect_ch_error(c, 1, "basic.consume", 404, f"NOT_FOUND - no queue '{P}-none' in {V}", 60, 20, queue=f"{P}-none")


@R.case("duplicate consumer tag on one channel -> connection.close 530")
def _():
    q = fresh_queue("dup")
    with connect_channel(1) as o:
        expect_ok(o, 1, "basic.consume", "basic.consume_ok", queue=q, consumer_tag="dup")
        o.send_method(1, "basic.consume", queue=q, consumer_tag="dup")
        expect_conn_error(o, 530, "NOT_ALLOWED - attempt to reuse consumer tag 'dup'", 60, 20)


@R.case("exclusive consume on a consumed queue, and consume on an exclusively consumed queue -> 403")
def _():
    text = f"ACCESS_REFUSED - queue '{P}-{{}}' in {V} in exclusive use"
    q = fresh_queue("ex1")
    with connect_channel(1) as a, connect_channel(1) as b:
        expect_ok(a, 1, "basic.consume", "basic.consume_ok", queue=q, consumer_tag="a")
        expect_ch_error(b, 1, "basic.consume", 403, text.format("ex1"), 60, 20, queue=q, consumer_tag="b",
                        exclusive=True)
        expect_ch_error(a, 1, "basic.consume", 403, text.format("ex1"), 60, 20, queue=q, consumer_tag="a2",
                        exclusive=True)
    q = fresh_queue("ex2")
    with connect_channel(1) as a, connect_channel(1) as b:
        expect_ok(a, 1, "basic.consume", "basic.consume_ok", queue=q, consumer_tag="a", exclusive=True)
        expect_ch_error(b, 1, "basic.consume", 403, text.format("ex2"), 60, 20, queue=q, consumer_tag="b")
        expect_ch_error(a, 1, "basic.consume", 403, text.format("ex2"), 60, 20, queue=q, consumer_tag="a2")


@R.case("basic.get on a queue with an exclusive consumer is allowed (get-empty once all were delivered)")
def _():
    q = fresh_queue("exget")
    with connect_channel(1) as a, connect_channel(1) as b:
        expect_ok(a, 1, "basic.consume", "basic.consume_ok", queue=q, consumer_tag="a", exclusive=True)
        a.publish(1, "", q, b"m1")
        d = a.wait_for(1, "basic.deliver")
        check_eq(d.name, "basic.deliver", "delivery to exclusive consumer")
        check_eq(expect_ok(b, 1, "basic.get", GET, queue=q).name, "basic.get_empty", "get")
        a.publish(1, "", q, b"m2")  # unlimited prefetch: goes to the consumer too
        a.wait_for(1, "basic.deliver")
        check_eq(expect_ok(b, 1, "basic.get", GET, queue=q).name, "basic.get_empty", "get")


@R.case("basic.get on a consumed queue with prefetch 1 gets the next ready message")
def _():
    q = fresh_queue("cget", 3)
    with connect_channel(1) as a, connect_channel(1) as b:
        expect_ok(a, 1, "basic.qos", "basic.qos_ok", prefetch_count=1)
        expect_ok(a, 1, "basic.consume", "basic.consume_ok", queue=q, consumer_tag="a")
        check_eq(a.wait_for(1, "basic.deliver").body, b"m1", "consumer got")
        m = expect_ok(b, 1, "basic.get", GET, queue=q)
        check_eq((m.name, m.body, m.message_count), ("basic.get_ok", b"m2", 1), "get")


@R.case("basic.cancel of an unknown tag -> cancel-ok")
def _():
    m = expect_ok(c, 1, "basic.cancel", "basic.cancel_ok", consumer_tag="nope")
    check_eq(m.consumer_tag, "nope", "echoed tag")


@R.case("basic.qos prefetch_size != 0 -> connection.close 540")
def _():
    for glob in (False, True):
        with connect_channel(1) as o:
            o.send_method(1, "basic.qos", prefetch_size=1000, prefetch_count=5, **{"global": glob})
            expect_conn_error(o, 540, "NOT_IMPLEMENTED - prefetch_size!=0 (1000)", 60, 10)


@R.case("basic.qos with the same values twice is ok")
def _():
    expect_ok(c, 1, "basic.qos", "basic.qos_ok", prefetch_count=5)
    expect_ok(c, 1, "basic.qos", "basic.qos_ok", prefetch_count=5)


@R.case("basic.recover requeue=false -> connection.close 540; recover-async requeue=true accepted silently")
def _():
    with connect_channel(1) as o:
        o.send_method(1, "basic.recover_async", requeue=True)
        expect_ok(o, 1, "basic.qos", "basic.qos_ok", prefetch_count=1)  # nothing was sent in between
        o.send_method(1, "basic.recover", requeue=False)
        expect_conn_error(o, 540, "NOT_IMPLEMENTED - requeue=false", 60, 110)


@R.case("channel.flow active=false -> connection.close 540; active=true -> flow-ok")
def _():
    m = expect_ok(c, 1, "channel.flow", "channel.flow_ok", active=True)
    check_eq(m.active, True, "flow-ok active")
    with connect_channel(1) as o:
        o.send_method(1, "channel.flow", active=False)
        expect_conn_error(o, 540, "NOT_IMPLEMENTED - active=false", 20, 20)


@R.case("publish to a missing exchange -> channel.close 404 promptly; later methods dropped until close-ok")
def _():
    t0 = time.monotonic()
    c.publish(1, f"{P}-nx", "k", b"x")
    c.send_method(1, "basic.qos", prefetch_count=1)  # must be ignored
    m = c.wait_for(1, "basic.qos_ok", timeout=2)
    dt = time.monotonic() - t0
    check_eq((m.name, m.reply_code, m.reply_text, m.f["class_id"], m.f["method_id"]),
             ("channel.close", 404, f"NOT_FOUND - no exchange '{P}-nx' in {V}", 60, 40), "close")
    check(dt < 1.0, f"close took {dt:.2f}s")
    extra = c.drain(0.3)
    check(extra == [], f"methods after channel.close must be dropped, got {extra}")
    c.send_method(1, "channel.close_ok")
    c.open_channel(1)


@R.case("publish to a missing exchange in confirm mode -> channel.close 404, no nack")
def _():
    with connect_channel(1) as o:
        expect_ok(o, 1, "confirm.select", "confirm.select_ok")
        o.publish(1, f"{P}-nx", "k", b"x")
        ms = o.drain(0.5)
        check_eq([m.name for m in ms], ["channel.close"], "methods received")
        check_eq((ms[0].reply_code, ms[0].f["method_id"]), (404, 40), "close")


@R.case("mandatory publish, unroutable -> basic.return 312 NO_ROUTE with content")
def _():
    c.publish(1, "amq.direct", "nowhere", b"body1", mandatory=True)
    c.publish(1, "", f"{P}-noq", b"body2", mandatory=True)
    r1 = c.wait_for(1, "basic.return")
    r2 = c.wait_for(1, "basic.return")
    check_eq((r1.reply_code, r1.reply_text, r1.exchange, r1.routing_key, r1.body),
             (312, "NO_ROUTE", "amq.direct", "nowhere", b"body1"), "return 1")
    check_eq((r2.reply_code, r2.reply_text, r2.exchange, r2.routing_key, r2.body),
             (312, "NO_ROUTE", "", f"{P}-noq", b"body2"), "return 2")


@R.case("confirm mode: unroutable mandatory -> basic.return then basic.ack; non-mandatory -> ack")
def _():
    with connect_channel(1) as o:
        expect_ok(o, 1, "confirm.select", "confirm.select_ok")
        o.publish(1, "amq.direct", "nowhere", b"x", mandatory=True)
        o.publish(1, "amq.direct", "nowhere", b"y")
        ms = o.drain(0.5)
        check_eq([(m.name, m.f.get("delivery_tag")) for m in ms],
                 [("basic.return", None), ("basic.ack", 1), ("basic.ack", 2)], "sequence")
        check_eq([m.f.get("multiple") for m in ms[1:]], [False, False], "multiple flags")


@R.case("publish to an internal exchange -> 403")
def _():
    n = f"{P}-int"
    expect_ok(c, 1, "exchange.declare", "exchange.declare_ok", exchange=n, type="fanout", internal=True)
    c.publish(1, n, "k", b"x")
    m = c.wait_for(1, ())
    c.send_method(1, "channel.close_ok")
    c.open_channel(1)
    expect_ok(c, 1, "exchange.delete", "exchange.delete_ok", exchange=n)
    check_eq((m.name, m.reply_code, m.reply_text, m.f["class_id"], m.f["method_id"]),
             ("channel.close", 403, f"ACCESS_REFUSED - cannot publish to internal exchange '{n}' in {V}", 60, 40),
             "close")


@R.case("publish immediate=true -> connection.close 540")
def _():
    with connect_channel(1) as o:
        o.publish(1, "amq.direct", "nowhere", b"x", immediate=True)
        expect_conn_error(o, 540, "NOT_IMPLEMENTED - immediate=true", 60, 40)


@R.case("confirm.select on tx channel / tx.select on confirm channel -> 406")
def _():
    expect_ok(c, 1, "tx.select", "tx.select_ok")
    expect_ok(c, 1, "tx.select", "tx.select_ok")  # twice is fine
    expect_ch_error(c, 1, "confirm.select", 406, "PRECONDITION_FAILED - cannot switch from tx to confirm mode", 85, 10)
    expect_ok(c, 1, "confirm.select", "confirm.select_ok")
    expect_ok(c, 1, "confirm.select", "confirm.select_ok")  # twice is fine
    expect_ch_error(c, 1, "tx.select", 406, "PRECONDITION_FAILED - cannot switch from confirm to tx mode", 90, 10)


@R.case("tx.commit / tx.rollback without tx.select -> 406 channel is not transactional")
def _():
    expect_ch_error(c, 1, "tx.commit", 406, "PRECONDITION_FAILED - channel is not transactional", 90, 20)
    expect_ch_error(c, 1, "tx.rollback", 406, "PRECONDITION_FAILED - channel is not transactional", 90, 30)


for n in created:
    c.send_method(1, "queue.delete", queue=n, nowait=True)
c.close()
R.finish()
