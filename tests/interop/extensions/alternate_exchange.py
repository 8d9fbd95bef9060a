#!/usr/bin/env python3
"""Alternate exchanges, the alternate-exchange exchange argument (docs/rabbitmq-extensions-behaviour.md section 7)."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from extlib import (Runner, bind, bodies, check, check_eq, confirm_select, connect_channel, declare, get_all,  # noqa: E402
                    qdelete, uniq, wait_count, xdeclare, xdelete)

R = Runner("alternate_exchange")
P = uniq("ae")
c = connect_channel(1)
confirm_select(c, 1)
_n = [0]
CLEANUP_Q, CLEANUP_X = [], []
seq = [0]


def nm(tag):
    _n[0] += 1
    return f"{P}-{_n[0]}-{tag}"


def queue(tag):
    q = nm(tag)
    declare(c, 1, q)
    CLEANUP_Q.append(q)
    return q


def exchange(tag, type="direct", args=None, **flags):
    x = nm(tag)
    xdeclare(c, 1, x, type, args, **flags)
    CLEANUP_X.append(x)
    return x


def publish(exchange, rk, body, mandatory=True, props=None):
    """Publish in confirm mode; returns [('return', code, text, exchange, rk) ...] + ['ack'|'nack']."""
    c.publish(1, exchange, rk, body.encode(), props, mandatory=mandatory)
    seq[0] += 1
    out = []
    while True:
        m = c.wait_for(1, ("basic.ack", "basic.nack", "basic.return"))
        if m.name == "basic.return":
            out.append(("return", m.reply_code, m.reply_text, m.exchange, m.routing_key, m.body.decode()))
            continue
        check(m.name in ("basic.ack", "basic.nack"), f"unexpected {m!r}")
        check_eq(m.delivery_tag, seq[0], "confirm tag")
        out.append(m.name[6:])
        return out


def ae_setup():
    ae = exchange("ae", "fanout")
    aq = queue("aq")
    bind(c, 1, aq, ae)
    return ae, aq


@R.case("unroutable message goes to the AE; delivered with the original exchange and routing key")
def _():
    ae, aq = ae_setup()
    x = exchange("x", "direct", {"alternate-exchange": ae})
    mq = queue("mq")
    bind(c, 1, mq, x, "k")
    check_eq(publish(x, "k", "routed", mandatory=False), ["ack"], "routed publish")
    check_eq(publish(x, "other", "unrouted", mandatory=False, props={"headers": {"h": 1}}), ["ack"], "unrouted")
    wait_count(c, 1, aq, 1)
    check_eq(bodies(get_all(c, 1, mq)), ["routed"], "main queue")
    ms = get_all(c, 1, aq)
    check_eq([(m.exchange, m.routing_key, m.body, m.properties.get("headers")) for m in ms],
             [(x, "other", b"unrouted", {"h": 1})], "AE queue")


@R.case("mandatory + AE that routes it: no basic.return")
def _():
    ae, aq = ae_setup()
    x = exchange("x", "direct", {"alternate-exchange": ae})
    check_eq(publish(x, "other", "mand"), ["ack"], "confirms/returns")
    wait_count(c, 1, aq, 1)


@R.case("AE missing or routing nowhere: basic.return 312 NO_ROUTE with the original exchange/key")
def _():
    x = exchange("x", "direct", {"alternate-exchange": nm("nosuch")})
    check_eq(publish(x, "zz", "m"), [("return", 312, "NO_ROUTE", x, "zz", "m"), "ack"], "missing AE, mandatory")
    check_eq(publish(x, "zz", "m", mandatory=False), ["ack"], "missing AE, not mandatory")
    ae3 = exchange("ae3", "direct")
    x3 = exchange("x3", "direct", {"alternate-exchange": ae3})
    check_eq(publish(x3, "zz", "m"), [("return", 312, "NO_ROUTE", x3, "zz", "m"), "ack"], "AE routes nowhere")


@R.case("AE chain: x -> ae4 (no match) -> ae (fanout) is followed")
def _():
    ae, aq = ae_setup()
    ae4 = exchange("ae4", "direct", {"alternate-exchange": ae})
    x4 = exchange("x4", "direct", {"alternate-exchange": ae4})
    check_eq(publish(x4, "zz", "chain"), ["ack"], "confirms/returns")
    wait_count(c, 1, aq, 1)
    ms = get_all(c, 1, aq)
    check_eq([(m.exchange, m.routing_key, m.body) for m in ms], [(x4, "zz", b"chain")], "delivered")


@R.case("AE cycles (x5 <-> x6, self) end without error: NO_ROUTE; a binding inside the cycle still routes")
def _():
    x5, x6 = nm("x5"), nm("x6")
    xdeclare(c, 1, x5, "direct", {"alternate-exchange": x6})
    xdeclare(c, 1, x6, "direct", {"alternate-exchange": x5})
    CLEANUP_X.extend([x5, x6])
    check_eq(publish(x5, "zz", "cycle"), [("return", 312, "NO_ROUTE", x5, "zz", "cycle"), "ack"], "cycle")
    x7 = nm("x7")
    xdeclare(c, 1, x7, "direct", {"alternate-exchange": x7})
    CLEANUP_X.append(x7)
    check_eq(publish(x7, "zz", "self"), [("return", 312, "NO_ROUTE", x7, "zz", "self"), "ack"], "self")
    mq = queue("mq")
    bind(c, 1, mq, x6, "zz")
    check_eq(publish(x5, "zz", "cyc2"), ["ack"], "binding in x6")
    wait_count(c, 1, mq, 1)
    ms = get_all(c, 1, mq)
    check_eq([(m.exchange, m.body) for m in ms], [(x5, b"cyc2")], "delivered via x6")


@R.case("AE '' does not use the default exchange; an internal exchange works as AE")
def _():
    aq = queue("aq")
    x8 = exchange("x8", "direct", {"alternate-exchange": ""})
    check_eq(publish(x8, aq, "ae-empty"), [("return", 312, "NO_ROUTE", x8, aq, "ae-empty"), "ack"], "AE ''")
    ai = exchange("ai", "fanout", internal=True)
    bind(c, 1, aq, ai)
    x9 = exchange("x9", "direct", {"alternate-exchange": ai})
    check_eq(publish(x9, "zz", "ae-internal"), ["ack"], "internal AE")
    wait_count(c, 1, aq, 1)
    check_eq(bodies(get_all(c, 1, aq)), ["ae-internal"], "AE queue")


@R.case("a message routed only by its CC header does not go to the AE")
def _():
    ae, aq = ae_setup()
    x = exchange("x", "direct", {"alternate-exchange": ae})
    mq = queue("mq")
    bind(c, 1, mq, x, "k")
    check_eq(publish(x, "zz", "cc", props={"headers": {"CC": ["k"]}}), ["ack"], "confirms")
    wait_count(c, 1, mq, 1)
    check_eq(bodies(get_all(c, 1, aq)), [], "AE queue")


try:
    for q in CLEANUP_Q:
        qdelete(c, 1, q)
    for x in CLEANUP_X:
        xdelete(c, 1, x)
    c.close()
except Exception as e:  # noqa: BLE001
    print(f"  (cleanup failed: {e})")
R.finish()
