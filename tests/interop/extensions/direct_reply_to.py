#!/usr/bin/env python3
"""Direct reply-to, the amq.rabbitmq.reply-to pseudo-queue (docs/rabbitmq-extensions-behaviour.md section 8)."""
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from extlib import (Runner, check, check_eq, close_tuple, confirm_select, connect_channel, consume, declare,  # noqa: E402
                    deliveries, eventually, expect_ok, get, qdelete, uniq)

R = Runner("direct_reply_to")
P = uniq("rt")
RT = "amq.rabbitmq.reply-to"
NAME_RE = r"amq\.rabbitmq\.reply-to\.[A-Za-z0-9+/=_-]+\.[A-Za-z0-9+/=_-]+"
srv = connect_channel(1)
srv.open_channel(2)
confirm_select(srv, 2)
RPC = f"{P}-rpc"
declare(srv, 1, RPC)
seq = [0]


def request(c, ch, body="req", props=None):
    """Publish a request with reply_to=amq.rabbitmq.reply-to; return the reply_to value the server sees."""
    p = {"reply_to": RT}
    p.update(props or {})
    c.publish(ch, "", RPC, body.encode(), p)
    m = eventually(lambda: get(srv, 1, RPC), lambda x: x is not None, "request", 2)
    return m


def reply(rt, body, mandatory=False, exchange=""):
    """Publish a reply from the server connection in confirm mode; returns ['return:<code> <text>' ..., 'ack']."""
    srv.publish(2, exchange, rt, body.encode(), {"correlation_id": "c1", "headers": {"a": 1}}, mandatory=mandatory)
    seq[0] += 1
    out = []
    while True:
        m = srv.wait_for(2, ("basic.ack", "basic.nack", "basic.return"))
        if m.name == "basic.return":
            out.append(f"return:{m.reply_code} {m.reply_text} {m.exchange!r} {m.routing_key == rt}")
            continue
        check(m.name in ("basic.ack", "basic.nack"), f"unexpected {m!r}")
        check_eq(m.delivery_tag, seq[0], "confirm tag")
        out.append(m.name[6:])
        return out


def expect_close(c, ch, want):
    m = c.wait_for(ch, (), timeout=3)
    check(m.name == "channel.close", f"expected channel.close, got {m!r}")
    c.send_method(ch, "channel.close_ok")
    check_eq(close_tuple(m), want, "channel.close")


@R.case("consume with no_ack=false -> 406 reply consumer cannot acknowledge (60/20)")
def _():
    with connect_channel(1) as c:
        c.send_method(1, "basic.consume", queue=RT, consumer_tag="", no_ack=False)
        expect_close(c, 1, (406, "PRECONDITION_FAILED - reply consumer cannot acknowledge", 60, 20))


@R.case("publish with reply_to=amq.rabbitmq.reply-to without a consumer on that channel -> 406 (60/40)")
def _():
    with connect_channel(1) as c:
        c.publish(1, "", RPC, b"req", {"reply_to": RT})
        expect_close(c, 1, (406, "PRECONDITION_FAILED - fast reply consumer does not exist", 60, 40))
        c.open_channel(1)
        consume(c, 1, RT, "", no_ack=True)
        c.open_channel(2)
        c.publish(2, "", RPC, b"req", {"reply_to": RT})  # consumer exists, but on another channel
        expect_close(c, 2, (406, "PRECONDITION_FAILED - fast reply consumer does not exist", 60, 40))
    time.sleep(0.1)
    check_eq(get(srv, 1, RPC), None, "no request was enqueued")


@R.case("second reply consumer on the same channel -> 406 reply consumer already set (60/20)")
def _():
    with connect_channel(1) as c:
        consume(c, 1, RT, "", no_ack=True)
        c.send_method(1, "basic.consume", queue=RT, consumer_tag="", no_ack=True)
        expect_close(c, 1, (406, "PRECONDITION_FAILED - reply consumer already set", 60, 20))
        c.open_channel(1)
        c.open_channel(3)
        c.send_method(3, "basic.consume", queue=RT, consumer_tag="", no_ack=True, exclusive=True)
        m = c.wait_for(3, "basic.consume_ok")
        check_eq(m.name, "basic.consume_ok", "exclusive reply consumer on another channel")


@R.case("round trip: reply_to rewritten to amq.rabbitmq.reply-to.<a>.<b>; reply delivered to the consumer")
def _():
    with connect_channel(1) as c:
        tag = consume(c, 1, RT, "mytag", no_ack=True)
        check_eq(tag, "mytag", "consumer tag echoed")
        g = request(c, 1, props={"correlation_id": "c1"})
        rt = g.properties["reply_to"]
        check(re.fullmatch(NAME_RE, rt), f"reply_to {rt!r}")
        check_eq(g.properties["correlation_id"], "c1", "other properties untouched")
        check_eq(reply(rt, "resp"), ["ack"], "reply confirm")
        d = deliveries(c, 1, 1, 2.0)
        check_eq(len(d), 1, "reply deliveries")
        m = d[0]
        check_eq((m.consumer_tag, m.delivery_tag, m.redelivered, m.exchange, m.routing_key, m.body),
                 ("mytag", 1, False, "", rt, b"resp"), "reply delivery")
        check_eq({k: v for k, v in m.properties.items() if k != "_theaders"},
                 {"correlation_id": "c1", "headers": {"a": 1}}, "reply properties")
        g2 = request(c, 1, "req2")
        check_eq(g2.properties["reply_to"], rt, "same reply_to for the next request")


@R.case("reply with mandatory=true is delivered AND returned (312 NO_ROUTE)")
def _():
    with connect_channel(1) as c:
        consume(c, 1, RT, "", no_ack=True)
        rt = request(c, 1).properties["reply_to"]
        check_eq(reply(rt, "resp-m", mandatory=True), ["return:312 NO_ROUTE '' True", "ack"], "replier sees")
        check_eq([m.body for m in deliveries(c, 1, 1, 2.0)], [b"resp-m"], "client got the reply")


@R.case("reply via another exchange (amq.direct) is not delivered")
def _():
    with connect_channel(1) as c:
        consume(c, 1, RT, "", no_ack=True)
        rt = request(c, 1).properties["reply_to"]
        check_eq(reply(rt, "x", mandatory=True, exchange="amq.direct"), ["return:312 NO_ROUTE 'amq.direct' True", "ack"],
                 "replier sees")
        check_eq(deliveries(c, 1, None, 0.3), [], "client deliveries")


@R.case("stale reply-to (after cancel, after re-consume, after close) and bogus names: dropped / NO_ROUTE")
def _():
    c = connect_channel(1)
    tag = consume(c, 1, RT, "", no_ack=True)
    rt = request(c, 1).properties["reply_to"]
    expect_ok(c, 1, "basic.cancel", "basic.cancel_ok", consumer_tag=tag)
    check_eq(reply(rt, "after-cancel", mandatory=True), ["return:312 NO_ROUTE '' True", "ack"], "after cancel")
    consume(c, 1, RT, "", no_ack=True)
    rt2 = request(c, 1).properties["reply_to"]
    check(rt2 != rt, "a new consumer gets a new reply-to name")
    check_eq(rt2.rsplit(".", 1)[0], rt.rsplit(".", 1)[0], "same channel part")
    check_eq(reply(rt, "old-name", mandatory=True), ["return:312 NO_ROUTE '' True", "ack"], "old name after re-consume")
    check_eq(reply(rt2, "new-name"), ["ack"], "new name")
    check_eq([m.body for m in deliveries(c, 1, None, 0.5)], [b"new-name"], "client deliveries")
    c.close()
    check_eq(reply(rt2, "after-close", mandatory=True), ["return:312 NO_ROUTE '' True", "ack"], "after close")
    check_eq(reply(rt2, "after-close"), ["ack"], "after close, not mandatory")
    bog = RT + ".garbage"
    srv.publish(2, "", bog, b"x", None, mandatory=True)
    seq[0] += 1
    m = srv.wait_for(2, ("basic.return",))
    check_eq((m.name, m.reply_code, m.reply_text, m.routing_key), ("basic.return", 312, "NO_ROUTE", bog), "bogus name")
    srv.wait_for(2, "basic.ack")


@R.case("other reply_to values starting with the prefix pass through unchanged")
def _():
    with connect_channel(1) as c:
        c.publish(1, "", RPC, b"weird", {"reply_to": RT + ".foo"})
        m = eventually(lambda: get(srv, 1, RPC), lambda x: x is not None, "request", 2)
        check_eq(m.properties, {"reply_to": RT + ".foo"}, "properties")


@R.case("queue.declare of amq.rabbitmq.reply-to (passive or not): ok, 0 messages, 1 consumer")
def _():
    with connect_channel(1) as c:
        for passive in (True, False):
            m = expect_ok(c, 1, "queue.declare", "queue.declare_ok", queue=RT, passive=passive)
            check_eq((m.queue, m.message_count, m.consumer_count), (RT, 0, 1), f"passive={passive}")
        consume(c, 1, RT, "", no_ack=True)
        rt = request(c, 1).properties["reply_to"]
        m = expect_ok(srv, 1, "queue.declare", "queue.declare_ok", queue=rt, passive=True)
        check_eq((m.queue, m.message_count, m.consumer_count), (rt, 0, 1), "passive declare of a live name")
        bog = RT + ".garbage"
        srv.send_method(1, "queue.declare", queue=bog, passive=True)
        m = srv.wait_for(1, "queue.declare_ok")
        check(m.name == "channel.close", f"expected channel.close, got {m!r}")
        srv.send_method(1, "channel.close_ok")
        srv.open_channel(1)
        check_eq(close_tuple(m), (404, f"NOT_FOUND - no queue '{bog}' in vhost '/'", 50, 10), "bogus name")


@R.case("basic.get / queue.bind / queue.purge on amq.rabbitmq.reply-to -> 404; queue.delete -> ok")
def _():
    with connect_channel(1) as c:
        nf = f"NOT_FOUND - no queue '{RT}' in vhost '/'"
        for method, args, ids in (("basic.get", {"queue": RT, "no_ack": True}, (60, 70)),
                                  ("queue.bind", {"queue": RT, "exchange": "amq.direct", "routing_key": "x"}, (50, 20)),
                                  ("queue.purge", {"queue": RT}, (50, 30))):
            c.send_method(1, method, **args)
            expect_close(c, 1, (404, nf) + ids)
            c.open_channel(1)
        m = expect_ok(c, 1, "queue.delete", "queue.delete_ok", queue=RT)
        check_eq(m.message_count, 0, "delete-ok message_count")


qdelete(srv, 1, RPC)
srv.close()
R.finish()
