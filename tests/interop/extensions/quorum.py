#!/usr/bin/env python3
"""Quorum queues (`x-queue-type: quorum`): declare properties and arguments, redeclare equivalence, the
x-delivery-count header, x-delivery-limit (dead-lettering with reason delivery_limit, or dropping), requeue order,
global qos, length limits (docs/rabbitmq-extensions-behaviour.md section 14)."""
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from extlib import (Runner, TestFailure, bind, bodies, check, check_eq, close_tuple, confirm_select,  # noqa: E402
                    connect_channel, consume, counts, deliveries, eventually, expect_ok, get, get_all, nack, plain,
                    pub, qdelete, ready, reject, ttable_get, uniq, wait_count, xdeclare, xdelete)

R = Runner("quorum")
P = uniq("qq")
c = connect_channel(1)
_n = [0]
CLEANUP_Q, CLEANUP_X = [], []


def name(tag):
    _n[0] += 1
    return f"{P}-{_n[0]}-{tag}"


def qargs(**kw):
    a = {"x-queue-type": "quorum"}
    a.update({k.replace("_", "-"): v for k, v in kw.items()})
    return a


def try_declare(q, args, durable=True, **flags):
    """queue.declare -> ('ok', message_count, consumer_count) or the close tuple (channel re-opened)."""
    c.send_method(1, "queue.declare", queue=q, arguments=args, durable=durable, **flags)
    m = c.wait_for(1, "queue.declare_ok")
    if m.name == "channel.close":
        c.send_method(1, "channel.close_ok")
        c.open_channel(1)
        return close_tuple(m)
    check(m.name == "queue.declare_ok", f"declare {q} {args}: unexpected {m!r}")
    return ("ok", m.message_count, m.consumer_count)


def probe(q, args, **flags):
    """Declare; delete again when it worked. 'ok' or the close tuple."""
    got = try_declare(q, args, **flags)
    if got[0] == "ok":
        qdelete(c, 1, q)
        return "ok"
    return got


def queue(tag, args=None, quorum=True):
    q = name(tag)
    a = qargs() if quorum else {}
    a.update(args or {})
    got = try_declare(q, a)
    check_eq(got[0], "ok", f"declare {q}")
    CLEANUP_Q.append(q)
    return q


def dlx_pair(dq_quorum=False):
    dlx = name("dlx")
    xdeclare(c, 1, dlx, "fanout")
    CLEANUP_X.append(dlx)
    dq = queue("dq", quorum=dq_quorum)
    bind(c, 1, dq, dlx)
    return dlx, dq


def invalid(q, arg, reason):
    return (406, f"PRECONDITION_FAILED - invalid arg '{arg}' for queue '{q}' in vhost '/': {reason}", 50, 10)


def refused(q, arg, qtype="rabbit_quorum_queue"):
    return (406, f"PRECONDITION_FAILED - invalid arg '{arg}' for queue '{q}' in vhost '/' of queue type {qtype}", 50,
            10)


def prop(q, what):
    return (406, f"PRECONDITION_FAILED - invalid property '{what}' for queue '{q}' in vhost '/'", 50, 10)


def inequivalent(q, arg, detail):
    return (406, f"PRECONDITION_FAILED - inequivalent arg '{arg}' for queue '{q}' in vhost '/': {detail}", 50, 10)


def fetch(q, no_ack=False, timeout=3.0):
    return eventually(lambda: get(c, 1, q, no_ack=no_ack), lambda x: x is not None, f"message in {q}", timeout)


def theaders(m):
    return m.properties.get("_theaders")


def count_header(m):
    return m.properties.get("headers", {}).get("x-delivery-count")


def get_rounds(q, settle, limit=8, timeout=0.8):
    """basic.get (no_ack=false) + settle(m) until the queue stays empty; the x-delivery-count of each get.
    RabbitMQ applies a quorum queue's returns asynchronously: on a loaded machine a returned message can
    take longer than `timeout` to be back, so a case whose rounds end by the limit waits longer."""
    seen = []
    while len(seen) < limit:
        try:
            m = fetch(q, timeout=timeout)
        except TestFailure:
            break
        seen.append(count_header(m))
        settle(m)
    return seen


def requeue(m):
    reject(c, 1, m.delivery_tag, requeue=True)


# ---------------------------------------------------------------- declare

@R.case("durable quorum queue: declare-ok 0/0; non-durable/exclusive/auto-delete -> 406 invalid property, "
        "auto-delete before exclusive-owner before non-durable")
def _():
    q = name("props")
    check_eq(probe(q, qargs()), "ok", "durable")
    cases = [({"durable": False}, "non-durable"), ({"exclusive": True}, "exclusive-owner"),
             ({"auto_delete": True}, "auto-delete"), ({"exclusive": True, "auto_delete": True}, "auto-delete"),
             ({"durable": False, "exclusive": True}, "exclusive-owner"),
             ({"durable": False, "auto_delete": True}, "auto-delete")]
    for flags, what in cases:
        durable = flags.pop("durable", True)
        check_eq(probe(q, qargs(), durable=durable, **flags), prop(q, what), f"flags {flags} durable={durable}")


@R.case("server-named quorum queue -> 406 'Cannot declare a server-named queue for type rabbit_quorum_queue'")
def _():
    for durable in (True, False):
        check_eq(probe("", qargs(), durable=durable),
                 (406, "PRECONDITION_FAILED - Cannot declare a server-named queue for type rabbit_quorum_queue", 50,
                  10), f"durable={durable}")


@R.case("arguments are checked before the properties; x-queue-type itself is checked first")
def _():
    q = name("argfirst")
    check_eq(probe(q, qargs(x_message_ttl="bad"), durable=False),
             invalid(q, "x-message-ttl", '"expected integer, got longstr"'), "bad ttl, non-durable")
    check_eq(probe(q, qargs(x_max_priority=5), durable=False, exclusive=True, auto_delete=True),
             refused(q, "x-max-priority"), "refused arg, all bad properties")
    check_eq(probe(q, {"x-queue-type": "Quorum"}),
             invalid(q, "x-queue-type", "\"unsupported queue type 'Quorum'\""), "type name is case-sensitive")


@R.case("classic-only arguments are refused 'of queue type rabbit_quorum_queue', whatever their value, the first "
        "in table order")
def _():
    q = name("refused")
    for arg, value in (("x-max-priority", 5), ("x-max-priority", "bad"), ("x-queue-mode", "lazy"),
                       ("x-queue-mode", "default"), ("x-max-age", "1h"), ("x-queue-master-locator", "min-masters"),
                       ("x-initial-cluster-size", 3), ("x-stream-max-segment-size-bytes", 5)):
        check_eq(probe(q, qargs(**{arg.replace("-", "_"): value})), refused(q, arg), f"{arg}={value!r}")
    check_eq(probe(q, {"x-stream-max-segment-size-bytes": 1, "x-max-priority": 5, "x-queue-mode": "lazy",
                       "x-queue-type": "quorum"}), refused(q, "x-stream-max-segment-size-bytes"), "first in table")
    check_eq(probe(q, {"x-queue-master-locator": "min-masters", "x-queue-type": "quorum", "x-max-age": "1h"}),
             refused(q, "x-queue-master-locator"), "first in table (2)")


@R.case("accepted arguments, incl. x-delivery-limit of any type and value, x-overflow reject-publish-dlx")
def _():
    q = name("accepted")
    for arg, value in (("x-max-length", 5), ("x-max-length-bytes", 5), ("x-overflow", "drop-head"),
                       ("x-overflow", "reject-publish"), ("x-overflow", "reject-publish-dlx"),
                       ("x-message-ttl", 1000), ("x-message-ttl", 0), ("x-expires", 60000),
                       ("x-single-active-consumer", True), ("x-dead-letter-exchange", "dx"),
                       ("x-delivery-limit", 3), ("x-delivery-limit", 0), ("x-delivery-limit", -1),
                       ("x-delivery-limit", "3"), ("x-delivery-limit", 1.5), ("x-delivery-limit", True),
                       ("x-delivery-limit", ("l", 2**40)), ("x-max-in-memory-length", 5),
                       ("x-max-in-memory-bytes", 5), ("x-quorum-initial-group-size", 3),
                       ("x-quorum-initial-group-size", 7), ("x-dead-letter-strategy", "at-most-once"),
                       ("x-dead-letter-strategy", "at-least-once"), ("x-queue-leader-locator", "balanced"),
                       ("x-queue-leader-locator", "client-local"), ("x-consumer-timeout", 5), ("x-foo", "bar")):
        check_eq(probe(q, qargs(**{arg.replace("-", "_"): value})), "ok", f"{arg}={value!r}")


@R.case("quorum-only argument validation texts")
def _():
    q = name("qval")
    for arg, value, reason in (
            ("x-max-in-memory-length", -1, "{value_negative,-1}"),
            ("x-max-in-memory-length", "a", '"expected integer, got longstr"'),
            ("x-max-in-memory-bytes", -1, "{value_negative,-1}"),
            ("x-quorum-initial-group-size", 0, "{value_zero,0}"),
            ("x-quorum-initial-group-size", -1, "{value_negative,-1}"),
            ("x-quorum-initial-group-size", "a", '"expected integer, got longstr"'),
            ("x-dead-letter-strategy", "foo", "invalid_dlx_strategy"),
            ("x-dead-letter-strategy", 1, "{unacceptable_type,signedint}"),
            ("x-queue-leader-locator", "foo", "invalid_queue_locator_arg"),
            ("x-message-ttl", 315360000001, "{value_too_large,315360000001}"),
            ("x-expires", 0, "{value_zero,0}"),
            ("x-single-active-consumer", "a", "{unacceptable_type,longstr}"),
            ("x-overflow", "bad", "invalid_overflow"),
            ("x-dead-letter-routing-key", "k", "routing_key_but_no_dlx_defined")):
        check_eq(probe(q, qargs(**{arg.replace("-", "_"): value})), invalid(q, arg, reason), f"{arg}={value!r}")
    check_eq(probe(q, qargs(x_dead_letter_exchange=5)),
             (406, f"PRECONDITION_FAILED - invalid type 'signedint' for arg 'x-dead-letter-exchange' in queue '{q}' "
                   f"in vhost '/'", 50, 10), "DLX type")


@R.case("order of validation of a new quorum queue")
def _():
    q = name("order")
    bad = {"x-queue-mode": "bad", "x-single-active-consumer": "bad", "x-overflow": "bad", "x-max-priority": "bad",
           "x-max-length-bytes": "bad", "x-max-length": "bad", "x-dead-letter-routing-key": 5,
           "x-dead-letter-exchange": 5, "x-message-ttl": "bad", "x-expires": "bad", "x-max-in-memory-length": "bad",
           "x-max-in-memory-bytes": "bad", "x-quorum-initial-group-size": "bad", "x-queue-leader-locator": "bad",
           "x-dead-letter-strategy": "bad", "x-max-age": "bad", "x-queue-master-locator": "min-masters",
           "x-delivery-limit": "bad", "x-initial-cluster-size": 1, "x-stream-max-segment-size-bytes": 1,
           "x-queue-type": "quorum"}
    good = {"x-single-active-consumer": True, "x-overflow": "drop-head", "x-max-length-bytes": 5, "x-max-length": 5,
            "x-dead-letter-routing-key": "k", "x-dead-letter-exchange": "e", "x-message-ttl": 5, "x-expires": 5000,
            "x-max-in-memory-length": 5, "x-max-in-memory-bytes": 5, "x-quorum-initial-group-size": 1,
            "x-queue-leader-locator": "balanced", "x-dead-letter-strategy": "at-most-once"}
    order, cur = [], dict(bad)
    for _ in range(30):
        got = probe(q, cur, durable=False)
        if got == "ok":
            break
        k = re.search(r"'(x-[a-z-]+)'", got[1])
        if not k:
            order.append(got[1])
            break
        order.append(k.group(1))
        if k.group(1) in good:
            cur[k.group(1)] = good[k.group(1)]
        else:
            del cur[k.group(1)]
    check_eq(order, ["x-dead-letter-exchange", "x-expires", "x-message-ttl", "x-dead-letter-routing-key",
                     "x-dead-letter-strategy", "x-max-length", "x-max-length-bytes", "x-max-in-memory-length",
                     "x-max-in-memory-bytes", "x-overflow", "x-single-active-consumer", "x-quorum-initial-group-size",
                     "x-queue-leader-locator", "x-queue-mode", "x-max-priority", "x-max-age",
                     "x-queue-master-locator", "x-initial-cluster-size", "x-stream-max-segment-size-bytes",
                     f"PRECONDITION_FAILED - invalid property 'non-durable' for queue '{q}' in vhost '/'"], "order")


@R.case("classic queue: x-dead-letter-strategy is refused 'of queue type rabbit_classic_queue'")
def _():
    q = name("classic")
    for value in ("at-least-once", "foo"):
        check_eq(probe(q, {"x-dead-letter-strategy": value}), refused(q, "x-dead-letter-strategy",
                                                                       "rabbit_classic_queue"), value)


@R.case("redeclare: equivalence texts and order; classic-only and unknown args ignored; passive checks nothing")
def _():
    q = name("eq")
    orig = qargs(x_delivery_limit=3, x_max_length=10, x_max_length_bytes=100, x_overflow="reject-publish",
                 x_dead_letter_exchange="dx", x_dead_letter_routing_key="rk", x_max_in_memory_length=5,
                 x_max_in_memory_bytes=500, x_quorum_initial_group_size=3, x_dead_letter_strategy="at-most-once",
                 x_queue_leader_locator="balanced", x_message_ttl=1000, x_expires=100000,
                 x_single_active_consumer=True)
    check_eq(try_declare(q, orig)[0], "ok", "declare")
    CLEANUP_Q.append(q)

    def w(**kw):
        a = dict(orig)
        for k, v in kw.items():
            k = k.replace("_", "-")
            if v is ...:
                a.pop(k)
            else:
                a[k] = v
        return a
    cases = [
        (w(), {}, ("ok", 0, 0)),
        (w(x_queue_type=...), {},
         inequivalent(q, "x-queue-type", "received none but current is the value 'quorum' of type 'longstr'")),
        (w(x_queue_type="classic"), {}, inequivalent(q, "x-queue-type", "received 'classic' but current is 'quorum'")),
        (w(x_delivery_limit=4), {}, inequivalent(q, "x-delivery-limit", "received '4' but current is '3'")),
        (w(x_delivery_limit=...), {},
         inequivalent(q, "x-delivery-limit", "received none but current is the value '3' of type 'signedint'")),
        (w(x_delivery_limit="3"), {}, inequivalent(q, "x-delivery-limit", "received '3' but current is '3'")),
        (w(x_delivery_limit=("l", 3)), {}, ("ok", 0, 0)),
        (w(x_max_in_memory_length=...), {},
         inequivalent(q, "x-max-in-memory-length", "received none but current is the value '5' of type 'signedint'")),
        (w(x_quorum_initial_group_size=5), {},
         inequivalent(q, "x-quorum-initial-group-size", "received '5' but current is '3'")),
        (w(x_dead_letter_strategy="at-least-once"), {},
         inequivalent(q, "x-dead-letter-strategy", "received 'at-least-once' but current is 'at-most-once'")),
        (w(x_queue_leader_locator=...), {},
         inequivalent(q, "x-queue-leader-locator",
                      "received none but current is the value 'balanced' of type 'longstr'")),
        (w(x_max_priority=5, x_queue_mode="lazy", x_max_age="1h", x_consumer_timeout=5), {}, ("ok", 0, 0)),
        (w(), {"durable": False}, inequivalent(q, "durable", "received 'false' but current is 'true'")),
        (w(), {"auto_delete": True}, inequivalent(q, "auto_delete", "received 'true' but current is 'false'")),
        (w(), {"exclusive": True},
         (405, f"RESOURCE_LOCKED - cannot obtain exclusive access to locked queue '{q}' in vhost '/'. It could be "
               f"originally declared on another connection or the exclusive property value does not match that of "
               f"the original declaration.", 50, 10)),
        ({"x-max-priority": "x"}, {"passive": True, "durable": False, "exclusive": True}, ("ok", 0, 0)),
    ]
    for args, flags, want in cases:
        flags = dict(flags)
        durable = flags.pop("durable", True)
        check_eq(try_declare(q, args, durable=durable, **flags), want, f"redeclare {args} {flags}")
    # the order in which differences are reported
    wrong = {"x-queue-type": "stream", "x-delivery-limit": 4, "x-max-length": 11, "x-max-length-bytes": 101,
             "x-overflow": "drop-head", "x-dead-letter-exchange": "dy", "x-dead-letter-routing-key": "rk2",
             "x-max-in-memory-length": 6, "x-max-in-memory-bytes": 501, "x-quorum-initial-group-size": 4,
             "x-dead-letter-strategy": "at-least-once", "x-queue-leader-locator": "client-local",
             "x-message-ttl": 1001, "x-expires": 100001, "x-single-active-consumer": False}
    order, cur = [], dict(wrong)
    for _ in range(20):
        got = try_declare(q, cur)
        if got[0] == "ok":
            break
        k = re.search(r"inequivalent arg '([a-z-]+)'", got[1]).group(1)
        order.append(k)
        cur[k] = orig[k]
    check_eq(order, ["x-dead-letter-exchange", "x-dead-letter-routing-key", "x-dead-letter-strategy", "x-expires",
                     "x-max-length", "x-max-length-bytes", "x-max-in-memory-length", "x-max-in-memory-bytes",
                     "x-overflow", "x-single-active-consumer", "x-queue-type", "x-quorum-initial-group-size",
                     "x-delivery-limit", "x-message-ttl", "x-queue-leader-locator"], "equivalence order")


# ---------------------------------------------------------------- x-delivery-count

@R.case("basic.get: x-delivery-count (l) on every get, 0 first; headers re-sorted by key; redelivered after a return")
def _():
    q = queue("get")
    pub(c, 1, q, "m1", headers={"z": 1, "a": ("S", b"x")})
    got = []
    for _ in range(3):
        m = fetch(q)
        got.append((m.redelivered, m.message_count, theaders(m)))
        requeue(m)
    m = fetch(q, no_ack=True)
    got.append((m.redelivered, m.message_count, theaders(m)))
    check_eq(got, [(r, 0, [("a", ("S", b"x")), ("x-delivery-count", ("l", n)), ("z", ("I", 1))])
                   for r, n in ((False, 0), (True, 1), (True, 2), (True, 3))], "gets")
    c.publish(1, "", q, b"np", None)
    m = fetch(q, no_ack=True)
    check_eq(m.properties, {"headers": {"x-delivery-count": 0}, "_theaders": [("x-delivery-count", ("l", 0))]},
             "message without properties (no_ack get)")
    pub(c, 1, q, "own", headers={"x-delivery-count": 7}, priority=3)
    m = fetch(q, no_ack=True)
    check_eq((theaders(m), m.properties.get("priority")), ([("x-delivery-count", ("l", 0))], 3),
             "a publisher's x-delivery-count is replaced")


@R.case("consumer: no x-delivery-count on the first delivery (headers as published); from the first return on, "
        "x-delivery-count = returns, headers sorted")
def _():
    q = queue("consume")
    pub(c, 1, q, "h", headers={"z": 1, "a": 2})
    c.publish(1, "", q, b"np", None)
    tag = consume(c, 1, q)
    first = deliveries(c, 1, 2, 2)
    check_eq([(d.body, d.redelivered, theaders(d)) for d in first],
             [(b"h", False, [("z", ("I", 1)), ("a", ("I", 2))]), (b"np", False, None)], "first deliveries")
    for d in first:
        nack(c, 1, d.delivery_tag)
    again = deliveries(c, 1, 2, 2)
    check_eq([(d.body, d.redelivered, theaders(d)) for d in again],
             [(b"h", True, [("a", ("I", 2)), ("x-delivery-count", ("l", 1)), ("z", ("I", 1))]),
              (b"np", True, [("x-delivery-count", ("l", 1))])], "redeliveries")
    for d in again:
        reject(c, 1, d.delivery_tag, requeue=True)
    third = deliveries(c, 1, 2, 2)
    check_eq([count_header(d) for d in third], [2, 2], "third deliveries")
    for d in third:
        c.send_method(1, "basic.ack", delivery_tag=d.delivery_tag, multiple=False)
    expect_ok(c, 1, "basic.cancel", "basic.cancel_ok", consumer_tag=tag)


@R.case("a classic queue leaves x-delivery-count alone")
def _():
    q = queue("classic", quorum=False)
    pub(c, 1, q, "c", headers={"x-delivery-count": 5})
    requeue(fetch(q))
    check_eq(theaders(fetch(q, no_ack=True)), [("x-delivery-count", ("I", 5))], "classic redelivery")


@R.case("requeued messages go to the back of the queue, in the order they were returned")
def _():
    q = queue("order")
    for b in "abcd":
        pub(c, 1, q, b)
    wait_count(c, 1, q, 4)
    ms = [fetch(q) for _ in range(3)]
    for i in (1, 0, 2):
        requeue(ms[i])
    wait_count(c, 1, q, 4)
    check_eq([(m.body, m.redelivered) for m in get_all(c, 1, q)],
             [(b"d", False), (b"b", True), (b"a", True), (b"c", True)], "after rejecting b, a, c")
    for b in "efg":
        pub(c, 1, q, b)
    wait_count(c, 1, q, 3)
    ms = [fetch(q) for _ in range(3)]
    nack(c, 1, ms[2].delivery_tag, multiple=True)
    wait_count(c, 1, q, 3)
    check_eq(bodies(get_all(c, 1, q)), ["e", "f", "g"], "nack multiple: tag order")


@R.case("basic.recover, channel close and connection close count as returns")
def _():
    q = queue("returns")
    pub(c, 1, q, "r")
    fetch(q)
    expect_ok(c, 1, "basic.recover", "basic.recover_ok", requeue=True)
    m = fetch(q)
    got = [(m.redelivered, count_header(m))]
    c.open_channel(2)
    requeue(m)
    eventually(lambda: get(c, 2, q, no_ack=False), lambda x: x is not None, "message on ch 2", 3)
    expect_ok(c, 2, "channel.close", "channel.close_ok", reply_code=200, reply_text="bye", class_id=0, method_id=0)
    m = fetch(q)
    got.append((m.redelivered, count_header(m)))
    requeue(m)
    c2 = connect_channel(1)
    eventually(lambda: get(c2, 1, q, no_ack=False), lambda x: x is not None, "message on c2", 3)
    c2.close()
    m = fetch(q, no_ack=True)
    got.append((m.redelivered, count_header(m)))
    check_eq(got, [(True, 1), (True, 3), (True, 5)], "after recover / reject+channel close / reject+connection close")


# ---------------------------------------------------------------- x-delivery-limit

@R.case("x-delivery-limit N: delivered N+1 times, dropped at the (N+1)th return (no DLX); 0 and -1 after the "
        "first; non-integers: 1.5 acts as 1.5, '3' and true are no limit")
def _():
    for limit, want in ((2, [0, 1, 2]), (0, [0]), (-1, [0]), (("l", 1), [0, 1]), (("b", 1), [0, 1]),
                        (1.5, [0, 1]), ("3", list(range(6))), (True, list(range(6)))):
        q = queue("lim", {"x-delivery-limit": limit})
        pub(c, 1, q, "x")
        kept = len(want) == 6  # never limited: still there after six rounds
        seen = get_rounds(q, requeue, limit=6, timeout=3.0 if kept else 2.0)
        if kept:
            wait_count(c, 1, q, 1)
        check_eq((seen, ready(c, 1, q)), (want, 1 if kept else 0), f"x-delivery-limit={limit!r}")


@R.case("x-delivery-limit with a DLX: reason delivery_limit, first-death x-death bytes, headers sorted, "
        "expiration removed, no x-delivery-count")
def _():
    dlx, dq = dlx_pair()
    q = queue("src", {"x-delivery-limit": 1, "x-dead-letter-exchange": dlx})
    pub(c, 1, q, "dl", headers={"z": 1, "a": 2}, expiration="60000", priority=4, message_id="mid")
    check_eq(get_rounds(q, requeue), [0, 1], "rounds")
    m = fetch(dq, no_ack=True)
    check_eq((m.exchange, m.routing_key, m.redelivered, m.body), (dlx, q, False, b"dl"), "delivery fields")
    check_eq({k: v for k, v in m.properties.items() if k not in ("headers", "_theaders")},
             {"priority": 4, "message_id": "mid"}, "properties")
    th = theaders(m)
    check_eq([(k, v[0]) for k, v in th],
             [("a", "I"), ("x-death", "A"), ("x-first-death-exchange", "S"), ("x-first-death-queue", "S"),
              ("x-first-death-reason", "S"), ("z", "I")], "header keys")
    xd = ttable_get(th, "x-death")[1]
    check_eq(len(xd), 1, "x-death entries")
    check_eq([(k, v[0]) for k, v in xd[0][1]],
             [("count", "l"), ("reason", "S"), ("queue", "S"), ("time", "T"), ("exchange", "S"),
              ("routing-keys", "A"), ("original-expiration", "S")], "x-death entry keys")
    e = plain(xd[0])
    e.pop("time")
    check_eq(e, {"count": 1, "reason": b"delivery_limit", "queue": q.encode(), "exchange": b"",
                 "routing-keys": [q.encode()], "original-expiration": b"60000"}, "x-death entry")
    h = m.properties["headers"]
    check_eq((h["x-first-death-reason"], h["x-first-death-queue"], h["x-first-death-exchange"]),
             (b"delivery_limit", q.encode(), b""), "x-first-death-*")


@R.case("x-delivery-limit via consumer nacks, with x-dead-letter-routing-key; reject requeue=false is 'rejected'")
def _():
    dlx = name("dlxd")
    xdeclare(c, 1, dlx, "direct")
    CLEANUP_X.append(dlx)
    dq = queue("dq", quorum=False)
    bind(c, 1, dq, dlx, "rk")
    q = queue("src", {"x-delivery-limit": 1, "x-dead-letter-exchange": dlx, "x-dead-letter-routing-key": "rk"})
    pub(c, 1, q, "c")
    tag = consume(c, 1, q)
    seen = []
    for _ in range(3):
        ds = deliveries(c, 1, 1, 0.8)
        if not ds:
            break
        seen.append((ds[0].redelivered, count_header(ds[0])))
        nack(c, 1, ds[0].delivery_tag)
    check_eq(seen, [(False, None), (True, 1)], "deliveries")
    expect_ok(c, 1, "basic.cancel", "basic.cancel_ok", consumer_tag=tag)
    m = fetch(dq, no_ack=True)
    check_eq((m.routing_key, plain(ttable_get(theaders(m), "x-death"))[0]["reason"]), ("rk", b"delivery_limit"),
             "dead-lettered")
    pub(c, 1, q, "rq")
    requeue(fetch(q))
    reject(c, 1, fetch(q).delivery_tag, requeue=False)
    m = fetch(dq, no_ack=True)
    check_eq(([k for k, _ in theaders(m)], plain(ttable_get(theaders(m), "x-death"))[0]["reason"]),
             (["x-death", "x-first-death-exchange", "x-first-death-queue", "x-first-death-reason"], b"rejected"),
             "rejected after one return")


@R.case("x-delivery-limit counts channel closes and basic.recover")
def _():
    dlx, dq = dlx_pair()
    q = queue("src", {"x-delivery-limit": 1, "x-dead-letter-exchange": dlx})
    pub(c, 1, q, "cl")
    seen = []
    for _ in range(3):
        c.open_channel(3)
        m = None
        try:
            m = eventually(lambda: get(c, 3, q, no_ack=False), lambda x: x is not None, "m", 0.8)
            seen.append(count_header(m))
        except TestFailure:
            pass
        expect_ok(c, 3, "channel.close", "channel.close_ok", reply_code=200, reply_text="x", class_id=0,
                  method_id=0)
        if m is None:
            break
    check_eq(seen, [0, 1], "gets before the channel closes")
    check_eq(plain(ttable_get(theaders(fetch(dq, no_ack=True)), "x-death"))[0]["reason"], b"delivery_limit",
             "dead-lettered after channel closes")
    pub(c, 1, q, "rc")
    seen = []
    for _ in range(3):
        try:
            seen.append(count_header(fetch(q, timeout=0.8)))
        except TestFailure:
            break
        expect_ok(c, 1, "basic.recover", "basic.recover_ok", requeue=True)
    check_eq(seen, [0, 1], "gets before basic.recover")
    check_eq(fetch(dq, no_ack=True).body, b"rc", "dead-lettered after basic.recover")


@R.case("x-delivery-limit 0 with a DLX routing back into the same queue: dropped (cycle)")
def _():
    x = name("back")
    xdeclare(c, 1, x, "fanout")
    CLEANUP_X.append(x)
    q = queue("loop", {"x-delivery-limit": 0, "x-dead-letter-exchange": x})
    bind(c, 1, q, x)
    pub(c, 1, q, "loop")
    check_eq(get_rounds(q, requeue), [0], "rounds")
    time.sleep(0.3)
    check_eq(ready(c, 1, q), 0, "queue")


# ---------------------------------------------------------------- qos, counts, priorities, limits

def conn_case(fn):
    """Run fn(c2) on a new connection; returns ('ok') or the connection.close tuple."""
    c2 = connect_channel(1)
    try:
        m = fn(c2)
        if m.name == "connection.close":
            c2.send_method(0, "connection.close_ok")
            c2.closed_by_peer = True
            return ("conn",) + close_tuple(m)
        if m.name == "channel.close":
            return ("ch",) + close_tuple(m)
        return m.name
    finally:
        c2.close()


@R.case("basic.qos global=true (count > 0) then consume -> connection.close 540 '... does not support global qos' "
        "(60/20); global 0, qos after consume, other channels and basic.get are fine")
def _():
    q = queue("qos")

    def qos_consume(counts_, no_ack=False, consume_ch=1):
        def fn(c2):
            for n in counts_:
                expect_ok(c2, 1, "basic.qos", "basic.qos_ok", prefetch_count=n, **{"global": True})
            if consume_ch != 1:
                c2.open_channel(consume_ch)
            c2.send_method(consume_ch, "basic.consume", queue=q, consumer_tag="t", no_ack=no_ack, arguments={})
            return c2.wait_for(consume_ch, "basic.consume_ok")
        return fn
    refusal = ("conn", 540, f"NOT_IMPLEMENTED - queue '{q}' in vhost '/' does not support global qos", 60, 20)
    check_eq(conn_case(qos_consume([5])), refusal, "global 5")
    check_eq(conn_case(qos_consume([5], no_ack=True)), refusal, "global 5, no_ack consumer")
    check_eq(conn_case(qos_consume([0])), "basic.consume_ok", "global 0")
    check_eq(conn_case(qos_consume([5, 0])), "basic.consume_ok", "global 5 then 0")
    check_eq(conn_case(qos_consume([5], consume_ch=2)), "basic.consume_ok", "global qos on another channel")

    def after(c2):
        consume(c2, 1, q)
        c2.send_method(1, "basic.qos", prefetch_count=5, **{"global": True})
        return c2.wait_for(1, "basic.qos_ok")
    check_eq(conn_case(after), "basic.qos_ok", "qos global after consume")

    def get_(c2):
        expect_ok(c2, 1, "basic.qos", "basic.qos_ok", prefetch_count=5, **{"global": True})
        c2.send_method(1, "basic.get", queue=q, no_ack=True)
        return c2.wait_for(1, ("basic.get_ok", "basic.get_empty"))
    check_eq(conn_case(get_), "basic.get_empty", "basic.get")


@R.case("counts: message_count = ready; every unacked basic.get counts as a consumer until settled; purge")
def _():
    q = queue("counts")
    for b in "123":
        pub(c, 1, q, b)
    wait_count(c, 1, q, 3)
    c.open_channel(2)
    m1 = fetch(q)
    got = [counts(c, 1, q)]
    m2 = fetch(q)
    got.append(counts(c, 1, q))
    m3 = eventually(lambda: get(c, 2, q, no_ack=False), lambda x: x is not None, "get on ch 2", 3)
    got.append(counts(c, 1, q))
    c.send_method(1, "basic.ack", delivery_tag=m1.delivery_tag, multiple=False)
    got.append(eventually(lambda: counts(c, 1, q), lambda x: x[1] == 2, "after ack"))
    reject(c, 1, m2.delivery_tag, requeue=True)
    got.append(eventually(lambda: counts(c, 1, q), lambda x: x[1] == 1, "after reject"))
    expect_ok(c, 2, "channel.close", "channel.close_ok", reply_code=200, reply_text="x", class_id=0, method_id=0)
    got.append(eventually(lambda: counts(c, 1, q), lambda x: x[1] == 0, "after channel close"))
    check_eq(got, [(2, 1), (1, 2), (0, 3), (0, 2), (1, 1), (2, 0)], "(messages, consumers)")
    tag = consume(c, 1, q, no_ack=True)
    check_eq(len(deliveries(c, 1, 2, 2)), 2, "deliveries")
    check_eq(counts(c, 1, q), (0, 1), "with a consumer")
    expect_ok(c, 1, "basic.cancel", "basic.cancel_ok", consumer_tag=tag)
    pub(c, 1, q, "p1")
    pub(c, 1, q, "p2")
    wait_count(c, 1, q, 2)
    check_eq(expect_ok(c, 1, "queue.purge", "queue.purge_ok", queue=q).message_count, 2, "purge")


@R.case("priority property is ignored (FIFO), delivered unchanged")
def _():
    q = queue("prio")
    for p in (1, 9, 5):
        pub(c, 1, q, f"p{p}", priority=p)
    wait_count(c, 1, q, 3)
    check_eq([(m.body, m.properties.get("priority")) for m in get_all(c, 1, q)],
             [(b"p1", 1), (b"p9", 9), (b"p5", 5)], "order")


@R.case("x-max-length drop-head; reject-publish-dlx acts as drop-head (dead-letters the head, reason maxlen)")
def _():
    q = queue("dh", {"x-max-length": 2})
    for b in "abcd":
        pub(c, 1, q, b)
    wait_count(c, 1, q, 2)
    check_eq(bodies(get_all(c, 1, q)), ["c", "d"], "drop-head")
    dlx, dq = dlx_pair()
    q = queue("rpd", {"x-max-length": 1, "x-overflow": "reject-publish-dlx", "x-dead-letter-exchange": dlx})
    ch = 5
    c.open_channel(ch)
    confirm_select(c, ch)
    for b in "ab":
        pub(c, ch, q, b)
        check_eq(c.wait_for(ch, ("basic.ack", "basic.nack")).name, "basic.ack", f"confirm of {b}")
    check_eq(bodies(get_all(c, 1, q)), ["b"], "queue")
    m = fetch(dq, no_ack=True)
    check_eq((m.body, plain(ttable_get(theaders(m), "x-death"))[0]["reason"]), (b"a", b"maxlen"), "dead-lettered")


@R.case("x-overflow reject-publish: a publish is refused only once the queue is over its limit (holds limit + 1); "
        "basic.nack requeue=true")
def _():
    ch = 6
    c.open_channel(ch)
    confirm_select(c, ch)
    for args, msgs, accepted in (({"x-max-length": 2}, "abcde", "abc"),
                                 ({"x-max-length-bytes": 3}, ["ab", "cd", "e", "f"], ["ab", "cd"])):
        q = queue("rp", dict(args, **{"x-overflow": "reject-publish"}))
        got = []
        for b in msgs:
            pub(c, ch, q, b)
            m = c.wait_for(ch, ("basic.ack", "basic.nack"))
            got.append((m.name, m.f.get("requeue")))
        want = [("basic.ack", None) if b in accepted else ("basic.nack", True) for b in msgs]
        check_eq(got, want, f"confirms {args}")
        check_eq(bodies(get_all(c, 1, q)), list(accepted), f"queue {args}")
        pub(c, ch, q, "again")
        check_eq(c.wait_for(ch, ("basic.ack", "basic.nack")).name, "basic.ack", "accepted again once emptied")


try:
    for q in CLEANUP_Q:
        qdelete(c, 1, q)
    for x in CLEANUP_X:
        xdelete(c, 1, x)
    c.close()
except Exception as e:  # noqa: BLE001
    print(f"  (cleanup failed: {e})")
R.finish()
