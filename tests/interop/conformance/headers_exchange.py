#!/usr/bin/env python3
"""Headers exchange matching (docs/rabbitmq-behaviour.md section 10): raw AMQP for exact field types, plus pika."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from amqp_raw import HOST, PORT, Runner, check_eq, connect_channel, expect_ok, uniq  # noqa: E402

R = Runner("headers_exchange")
X = uniq("headers")
# message name -> headers table (None = no headers property). ("t", v) tuples force a field type.
MSGS = {
    "noheaders": None, "empty": {}, "a1": {"a": 1}, "a1b2": {"a": 1, "b": 2}, "b2": {"b": 2}, "a1b3": {"a": 1, "b": 3},
    "astr1": {"a": "1"}, "along1": {"a": ("l", 1)}, "atrue": {"a": True}, "avoid": {"a": None},
    "adbl1": {"a": 1.0}, "abyte1": {"a": ("b", 1)}, "ashort1": {"a": ("s", 1)}, "xfoo": {"x-foo": "bar"},
    "a1xfoo": {"a": 1, "x-foo": "bar"}, "a2": {"a": 2}, "ats1": {"a": ("T", 1)}, "abin1": {"a": ("x", b"1")},
    "aflt15": {"a": ("f", 1.5)}, "adbl15": {"a": ("d", 1.5)}, "arr": {"a": [1, 2]}, "arrl": {"a": [("l", 1), 2]},
    "tbl": {"a": {"b": 1}}, "neg1": {"a": ("b", -1)}, "u32max": {"a": ("i", 4294967295)},
}
ALL = list(MSGS)
NUM1 = ["a1", "a1b2", "a1b3", "along1", "adbl1", "abyte1", "ashort1", "a1xfoo", "ats1"]
BINDINGS = {
    "no arguments: matches every message, even without headers": ({}, ALL),
    "{x-match: all} only: matches every message": ({"x-match": "all"}, ALL),
    "{x-match: any} only: matches nothing": ({"x-match": "any"}, []),
    "{x-match: any, x-foo: bar}: x- keys ignored -> matches nothing": ({"x-match": "any", "x-foo": "bar"}, []),
    "{x-foo: bar} (all): x- keys ignored -> matches everything": ({"x-foo": "bar"}, ALL),
    "{a: 1} (default all): numeric values compare by value across types (I,l,b,s,d,T)": ({"a": 1}, NUM1),
    "{a: 1 as long}: same set": ({"a": ("l", 1)}, NUM1),
    "{a: 1.0 double}: same set": ({"a": 1.0}, NUM1),
    "{a: 1, x-foo: bar}: same as {a: 1}": ({"a": 1, "x-foo": "bar"}, NUM1),
    "{x-match: all, a: 1, b: 2}": ({"x-match": "all", "a": 1, "b": 2}, ["a1b2"]),
    "{x-match: any, a: 1, b: 2}": ({"x-match": "any", "a": 1, "b": 2}, NUM1[:3] + ["b2"] + NUM1[3:]),
    "{a: '1'} longstr: matches longstr '1' and byte-array '1', not numbers": ({"a": "1"}, ["astr1", "abin1"]),
    "{a: true}: only boolean true": ({"a": True}, ["atrue"]),
    "{a: void}: any message having header a": ({"a": None}, [m for m, h in MSGS.items() if h and "a" in h]),
    "{a: 1.5 double}: matches float 1.5 too": ({"a": ("d", 1.5)}, ["aflt15", "adbl15"]),
    "{a: [1, 2]}: arrays compare element types strictly": ({"a": [1, 2]}, ["arr"]),
    "{a: {b: 1}}: nested table": ({"a": {"b": 1}}, ["tbl"]),
    "{a: -1}: matches signed byte -1, not uint32 max": ({"a": -1}, ["neg1"]),
    "{x-match: all-with-x, x-foo: bar}: x- keys compared": ({"x-match": "all-with-x", "x-foo": "bar"},
                                                           ["xfoo", "a1xfoo"]),
    "{x-match: any-with-x, x-foo: bar, a: 2}": ({"x-match": "any-with-x", "x-foo": "bar", "a": 2},
                                               ["xfoo", "a1xfoo", "a2"]),
}
# keep expected lists in publish order
for label, (args, exp) in BINDINGS.items():
    BINDINGS[label] = (args, [m for m in ALL if m in exp])

c = connect_channel(1)
expect_ok(c, 1, "exchange.declare", "exchange.declare_ok", exchange=X, type="headers", auto_delete=True)
queues = {}
for label, (args, _exp) in BINDINGS.items():
    q = expect_ok(c, 1, "queue.declare", "queue.declare_ok", queue="", exclusive=True).queue
    expect_ok(c, 1, "queue.bind", "queue.bind_ok", queue=q, exchange=X, routing_key="", arguments=args)
    queues[label] = q
expect_ok(c, 1, "confirm.select", "confirm.select_ok")
for name, headers in MSGS.items():
    c.publish(1, X, "any-key", name, props={} if headers is None else {"headers": headers})
# confirms for messages routed to several queues may arrive out of order and mix multiple=true/false
confirmed = set()
while len(confirmed) < len(MSGS):
    m = c.wait_for(1, "basic.ack")
    check_eq(m.name, "basic.ack", "confirm")
    confirmed |= set(range(1, m.delivery_tag + 1)) if m.multiple else {m.delivery_tag}


def drain(q):
    out = []
    while True:
        m = expect_ok(c, 1, "basic.get", ("basic.get_ok", "basic.get_empty"), queue=q, no_ack=True)
        if m.name != "basic.get_ok":
            return out
        out.append(m.body.decode())


for label, (args, expected) in BINDINGS.items():
    R.case(label)(lambda lb=label, e=expected: check_eq(drain(queues[lb]), e, "matched messages"))


@R.case("pika: x-match any binding routes by headers; non-matching message not delivered")
def _():
    import pika
    conn = pika.BlockingConnection(pika.ConnectionParameters(host=HOST, port=PORT, socket_timeout=5,
                                                             blocked_connection_timeout=5, stack_timeout=10))
    try:
        ch = conn.channel()
        q = ch.queue_declare("", exclusive=True).method.queue
        ch.queue_bind(q, X, arguments={"x-match": "any", "k1": "v1", "k2": 7})
        ch.confirm_delivery()
        for body, h in ((b"yes1", {"k1": "v1"}), (b"no", {"k1": "v2"}), (b"yes2", {"k2": 7, "z": 1})):
            ch.basic_publish(X, "", body, pika.BasicProperties(headers=h))
        got = []
        while True:
            method, _p, body = ch.basic_get(q, auto_ack=True)
            if method is None:
                break
            got.append(body)
        check_eq(got, [b"yes1", b"yes2"], "pika routed")
    finally:
        conn.close()


c.close()
R.finish()
