#!/usr/bin/env python3
"""Topic exchange routing edge cases (docs/rabbitmq-behaviour.md section 9), pika."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pika  # noqa: E402

from amqp_raw import HOST, PORT, Runner, check_eq, uniq  # noqa: E402

R = Runner("topic_routing")
KEYS = ["", "a", "a.b", "a..b", ".a", "a.", ".", "..", "a.b.c", "a.x.y.b", "b", "a.a.b", "a.b.b", "x.a.b", "A.b"]
ALL = KEYS
NONEMPTY = [k for k in KEYS if k != ""]
EXPECTED = {
    "": [""],
    "*": ["a", "b"],
    "#": ALL,
    "#.#": ALL,
    "#.*": NONEMPTY,
    "*.#": NONEMPTY,
    "a.*.#": ["a.b", "a..b", "a.", "a.b.c", "a.x.y.b", "a.a.b", "a.b.b"],
    "a.#.b": ["a.b", "a..b", "a.x.y.b", "a.a.b", "a.b.b"],
    "a.#.#.b": ["a.b", "a..b", "a.x.y.b", "a.a.b", "a.b.b"],
    "a.#": ["a", "a.b", "a..b", "a.", "a.b.c", "a.x.y.b", "a.a.b", "a.b.b"],
    "#.b": ["a.b", "a..b", "a.x.y.b", "b", "a.a.b", "a.b.b", "x.a.b", "A.b"],
    "*.*": ["a.b", ".a", "a.", ".", "A.b"],
    "a.*": ["a.b", "a."],
    "*.b": ["a.b", "A.b"],
    "a.b": ["a.b"],
    "a..b": ["a..b"],
    ".a": [".a"],
    "a.": ["a."],
    "..": [".."],
    "*..*": ["a..b", ".."],
    "a.*.*": ["a..b", "a.b.c", "a.a.b", "a.b.b"],
    "#.a.#": ["a", "a.b", "a..b", ".a", "a.", "a.b.c", "a.x.y.b", "a.a.b", "a.b.b", "x.a.b"],
    "a.b.c": ["a.b.c"],
    "A.b": ["A.b"],
}

params = pika.ConnectionParameters(host=HOST, port=PORT, socket_timeout=5, blocked_connection_timeout=5,
                                   stack_timeout=10)
conn = pika.BlockingConnection(params)
ch = conn.channel()
X = uniq("topic")
ch.exchange_declare(X, exchange_type="topic", auto_delete=True)
queues = {}
for pattern in EXPECTED:
    q = ch.queue_declare("", exclusive=True).method.queue
    ch.queue_bind(q, X, routing_key=pattern)
    queues[pattern] = q
ch.confirm_delivery()
for k in KEYS:
    ch.basic_publish(X, k, k.encode())


def drain(q):
    out = []
    while True:
        method, _props, body = ch.basic_get(q, auto_ack=True)
        if method is None:
            return out
        out.append(body.decode())


for pattern, expected in EXPECTED.items():
    R.case(f"pattern {pattern!r}")(lambda p=pattern, e=expected: check_eq(drain(queues[p]), e, f"keys matched by {p!r}"))


@R.case("mandatory publish 'a' to a topic exchange bound only with 'a.*' -> basic.return 312 NO_ROUTE")
def _():
    ch2 = conn.channel()
    x2 = uniq("topic2")
    ch2.exchange_declare(x2, exchange_type="topic", auto_delete=True)
    q = ch2.queue_declare("", exclusive=True).method.queue
    ch2.queue_bind(q, x2, routing_key="a.*")
    ch2.confirm_delivery()
    returned = None
    try:
        ch2.basic_publish(x2, "a", b"x", mandatory=True)
    except pika.exceptions.UnroutableError as e:
        returned = [(m.method.reply_code, m.method.reply_text, m.method.routing_key) for m in e.messages]
    check_eq(returned, [(312, "NO_ROUTE", "a")], "returned messages")
    ch2.queue_unbind(q, x2, routing_key="a.*")  # last binding removed -> the auto-delete exchange goes away


conn.close()
R.finish()
