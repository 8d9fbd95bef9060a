#!/usr/bin/env python3
"""Consumer priorities, the x-priority consumer argument (docs/rabbitmq-extensions-behaviour.md section 10)."""
import os
import sys
from collections import Counter

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from extlib import (Runner, ack, check_eq, connect_channel, consume, declare, deliveries, pub, qdelete,  # noqa: E402
                    qos, uniq, wait_count)

R = Runner("consumer_priority")
P = uniq("cp")
_n = [0]


def setup(nch):
    _n[0] += 1
    q = f"{P}-{_n[0]}"
    c = connect_channel(1)
    for ch in range(2, 2 + nch):
        c.open_channel(ch)
    declare(c, 1, q)
    return c, q


@R.case("high-priority consumer gets messages while it has credit; then lower ones; again after its ack")
def _():
    c, q = setup(3)
    qos(c, 2, 2)
    consume(c, 2, q, "hi", args={"x-priority": 10})
    qos(c, 3, 10)
    consume(c, 3, q, "lo", args={"x-priority": 1})
    qos(c, 4, 10)
    consume(c, 4, q, "lo2", args={"x-priority": 1})
    for i in range(8):
        pub(c, 1, q, f"m{i}")
    # (deliveries to different channels may interleave on the socket: compare per consumer)
    d = deliveries(c, None, 8, 2.0)
    check_eq(len(d), 8, "deliveries")
    check_eq([m.body.decode() for m in d if m.consumer_tag == "hi"], ["m0", "m1"], "hi gets the first two")
    rest = Counter(m.consumer_tag for m in d if m.consumer_tag != "hi")
    check_eq(sorted(rest), ["lo", "lo2"], "the rest shared by the equal lower-priority consumers")
    hi = [m for m in d if m.consumer_tag == "hi"]
    ack(c, 2, hi[-1].delivery_tag, multiple=True)
    for i in range(3):
        pub(c, 1, q, f"n{i}")
    d = deliveries(c, None, 3, 2.0)
    check_eq(len(d), 3, "deliveries after the ack")
    check_eq([m.body.decode() for m in d if m.consumer_tag == "hi"], ["n0", "n1"], "after hi's ack")
    check_eq([(m.consumer_tag in ("lo", "lo2"), m.body.decode()) for m in d if m.consumer_tag != "hi"],
             [(True, "n2")], "third after the ack")
    qdelete(c, 1, q)
    c.close()


@R.case("backlog: each freed slot goes to the highest-priority consumer with credit at that moment")
def _():
    c, q = setup(2)
    for i in range(6):
        pub(c, 1, q, f"b{i}")
    wait_count(c, 1, q, 6)
    qos(c, 2, 1)
    qos(c, 3, 1)
    consume(c, 3, q, "lo", args={"x-priority": -5})  # alone at first: takes b0
    consume(c, 2, q, "hi", args={"x-priority": 5})
    d = deliveries(c, None, 2, 1.0)
    check_eq(sorted((m.consumer_tag, m.body.decode()) for m in d), [("hi", "b1"), ("lo", "b0")], "start")
    by = {m.consumer_tag: m for m in d}
    ack(c, 2, by["hi"].delivery_tag)  # hi acks first: hi gets the next
    check_eq([(m.consumer_tag, m.body.decode()) for m in deliveries(c, None, 1, 1.0)], [("hi", "b2")], "hi acked")
    ack(c, 3, by["lo"].delivery_tag)  # lo acks while hi is busy: lo gets one
    check_eq([(m.consumer_tag, m.body.decode()) for m in deliveries(c, None, 1, 1.0)], [("lo", "b3")], "lo acked")
    qdelete(c, 1, q)
    c.close()


@R.case("negative priority is below the default 0")
def _():
    c, q = setup(2)
    consume(c, 2, q, "neg", args={"x-priority": -1}, no_ack=True)
    consume(c, 3, q, "zero", no_ack=True)
    for i in range(3):
        pub(c, 1, q, f"z{i}")
    check_eq([m.consumer_tag for m in deliveries(c, None, 3, 1.0)], ["zero"] * 3, "deliveries")
    qdelete(c, 1, q)
    c.close()


@R.case("equal priorities with prefetch 1: one message each; the lower-priority consumer gets none")
def _():
    c, q = setup(4)
    for ch in (2, 3, 4):
        qos(c, ch, 1)
        consume(c, ch, q, f"c{ch}", args={"x-priority": 3})
    consume(c, 5, q, "low", no_ack=True)
    for i in range(3):
        pub(c, 1, q, f"r{i}")
    d = deliveries(c, None, 3, 1.0)
    check_eq(sorted(m.consumer_tag for m in d), ["c2", "c3", "c4"], "prefetch 1 each")
    qdelete(c, 1, q)
    c.close()


R.finish()
