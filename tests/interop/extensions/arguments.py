#!/usr/bin/env python3
"""Argument validation of the extensions (docs/rabbitmq-extensions-behaviour.md section 1): queue.declare x-args,
redeclare equivalence, the expiration property, consumer x-priority, alternate-exchange."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from extlib import (WARREN, Runner, check, check_eq, close_tuple, connect_channel, declare, expect_ok, pub,  # noqa: E402
                    qdelete, uniq, get_all, wait_count)

# Every case runs against Warren and RabbitMQ alike (an empty PENDING set: nothing is skipped).
PENDING = set()


def pending(what):
    if PENDING:
        print(f"arguments: SKIP on Warren until ext-b is merged: {what}")
        return True
    return False

R = Runner("arguments")
P = uniq("args")
c = connect_channel(1)


def try_declare(q, args, **flags):
    """queue.declare -> 'ok' (queue deleted again) or the close tuple (channel re-opened)."""
    c.send_method(1, "queue.declare", queue=q, arguments=args, **flags)
    m = c.wait_for(1, "queue.declare_ok")
    if m.name == "channel.close":
        c.send_method(1, "channel.close_ok")
        c.open_channel(1)
        return close_tuple(m)
    check(m.name == "queue.declare_ok", f"declare {q} {args}: unexpected {m!r}")
    if not flags.get("passive"):
        qdelete(c, 1, q)
    return "ok"


def invalid(q, arg, reason):
    return (406, f"PRECONDITION_FAILED - invalid arg '{arg}' for queue '{q}' in vhost '/': {reason}", 50, 10)


# (argument, value, expected reason or "ok"); values as accepted by amqp_raw.enc_value ((type, v) for explicit types)
CASES = [
    ("x-message-ttl", "abc", '"expected integer, got longstr"'),
    ("x-message-ttl", 1.5, '"expected integer, got double"'),
    ("x-message-ttl", ("f", 1.5), '"expected integer, got float"'),
    ("x-message-ttl", True, '"expected integer, got bool"'),
    ("x-message-ttl", ("T", 5), '"expected integer, got timestamp"'),
    ("x-message-ttl", ("x", b"1"), '"expected integer, got binary"'),
    ("x-message-ttl", None, '"expected integer, got void"'),
    ("x-message-ttl", {"a": 1}, '"expected integer, got table"'),
    ("x-message-ttl", [1], '"expected integer, got array"'),
    ("x-message-ttl", -1, "{value_negative,-1}"),
    ("x-message-ttl", 0, "ok"),
    ("x-message-ttl", ("b", 5), "ok"),
    ("x-message-ttl", ("B", 5), "ok"),
    ("x-message-ttl", ("s", 5), "ok"),
    ("x-message-ttl", ("u", 5), "ok"),
    ("x-message-ttl", ("i", 5), "ok"),
    ("x-message-ttl", ("l", 315360000000), "ok"),
    ("x-message-ttl", ("l", 315360000001), "{value_too_large,315360000001}"),
    ("x-expires", 0, "{value_zero,0}"),
    ("x-expires", -5, "{value_negative,-5}"),
    ("x-expires", "1", '"expected integer, got longstr"'),
    ("x-expires", 1, "ok"),
    ("x-expires", ("l", 315360000000), "ok"),
    ("x-expires", ("l", 315360000001), "{value_too_large,315360000001}"),
    ("x-max-length", -1, "{value_negative,-1}"),
    ("x-max-length", "5", '"expected integer, got longstr"'),
    ("x-max-length", 1.0, '"expected integer, got double"'),
    ("x-max-length", 0, "ok"),
    ("x-max-length", ("l", 2 ** 62), "ok"),
    ("x-max-length-bytes", -1, "{value_negative,-1}"),
    ("x-max-length-bytes", "5", '"expected integer, got longstr"'),
    ("x-max-length-bytes", 0, "ok"),
    ("x-max-priority", 256, "{max_value_exceeded,256}"),
    ("x-max-priority", 1000, "{max_value_exceeded,1000}"),
    ("x-max-priority", -1, "{value_negative,-1}"),
    ("x-max-priority", "5", '"expected integer, got longstr"'),
    ("x-max-priority", 0, "ok"),
    ("x-max-priority", ("b", 10), "ok"),
    ("x-overflow", "foo", "invalid_overflow"),
    ("x-overflow", 1, "{unacceptable_type,signedint}"),
    ("x-overflow", ("x", b"drop-head"), "{unacceptable_type,binary}"),
    ("x-overflow", ("b", 1), "{unacceptable_type,byte}"),
    ("x-overflow", ("B", 1), "{unacceptable_type,unsignedbyte}"),
    ("x-overflow", ("s", 1), "{unacceptable_type,short}"),
    ("x-overflow", ("u", 1), "{unacceptable_type,unsignedshort}"),
    ("x-overflow", ("i", 1), "{unacceptable_type,unsignedint}"),
    ("x-overflow", ("l", 1), "{unacceptable_type,long}"),
    ("x-overflow", ("f", 1.0), "{unacceptable_type,float}"),
    ("x-overflow", ("d", 1.0), "{unacceptable_type,double}"),
    ("x-overflow", ("T", 1), "{unacceptable_type,timestamp}"),
    ("x-overflow", None, "{unacceptable_type,void}"),
    ("x-overflow", True, "{unacceptable_type,bool}"),
    ("x-overflow", {"a": 1}, "{unacceptable_type,table}"),
    ("x-overflow", [1], "{unacceptable_type,array}"),
    ("x-overflow", "drop-head", "ok"),
    ("x-overflow", "reject-publish", "ok"),
    ("x-overflow", "reject-publish-dlx", "ok"),
    ("x-queue-mode", "foo", "\"unsupported queue mode 'foo'\""),
    ("x-queue-mode", 1, "{unacceptable_type,signedint}"),
    ("x-queue-mode", ("x", b"lazy"), "{unacceptable_type,binary}"),
    ("x-queue-mode", "lazy", "ok"),
    ("x-queue-mode", "default", "ok"),
    ("x-dead-letter-exchange", "", "ok"),
    ("x-dead-letter-exchange", "no-such-exchange", "ok"),
    ("x-dead-letter-routing-key", "rk", "routing_key_but_no_dlx_defined"),
    ("x-dead-letter-routing-key", "", "routing_key_but_no_dlx_defined"),
    ("x-dead-letter-routing-key", 1, "{unacceptable_type,signedint}"),
    ("x-single-active-consumer", "true", "{unacceptable_type,longstr}"),
    ("x-single-active-consumer", 1, "{unacceptable_type,signedint}"),
    ("x-single-active-consumer", ("b", 1), "{unacceptable_type,byte}"),
    ("x-single-active-consumer", True, "ok"),
    ("x-single-active-consumer", False, "ok"),
    ("x-queue-type", "foo", "\"unsupported queue type 'foo'\""),
    ("x-queue-type", 1, "{unacceptable_type,signedint}"),
    ("x-queue-type", ("x", b"classic"), "{unacceptable_type,binary}"),
    ("x-queue-type", "classic", "ok"),
    ("x-queue-master-locator", "min-masters", "ok"),
    ("x-foo", "anything", "ok"),
    ("foo", 1, "ok"),
]


@R.case("queue.declare: invalid x-argument values -> 406 'invalid arg' texts; valid ones accepted")
def _():
    errors = []
    for i, (arg, value, reason) in enumerate(CASES):
        if arg in PENDING:
            continue
        q = f"{P}-v{i}"
        got = try_declare(q, {arg: value})
        want = "ok" if reason == "ok" else invalid(q, arg, reason)
        if got != want:
            errors.append(f"{arg}={value!r}: expected {want!r}, got {got!r}")
    check(not errors, "\n    ".join([""] + errors))


@R.case("x-dead-letter-exchange of a non-string type -> 406 'invalid type' text")
def _():
    for value, tname in ((1, "signedint"), (("x", b"abc"), "binary"), ({"a": 1}, "table"), (None, "void")):
        q = f"{P}-dlxt"
        check_eq(try_declare(q, {"x-dead-letter-exchange": value}),
                 (406, f"PRECONDITION_FAILED - invalid type '{tname}' for arg 'x-dead-letter-exchange' in queue '{q}' "
                       f"in vhost '/'", 50, 10), f"x-dead-letter-exchange={value!r}")


@R.case("x-dead-letter-routing-key with a DLX: non-string -> unacceptable_type; string ok")
def _():
    q = f"{P}-dlrk"
    check_eq(try_declare(q, {"x-dead-letter-exchange": "e", "x-dead-letter-routing-key": ("x", b"r")}),
             invalid(q, "x-dead-letter-routing-key", "{unacceptable_type,binary}"), "binary routing key")
    check_eq(try_declare(q, {"x-dead-letter-exchange": "", "x-dead-letter-routing-key": "rk"}), "ok", "string key")


@R.case("quorum/stream-only arguments on a classic queue -> 'of queue type rabbit_classic_queue'")
def _():
    for arg, value in (("x-delivery-limit", 5), ("x-max-in-memory-length", 5), ("x-max-in-memory-bytes", 5),
                       ("x-max-age", "1h"), ("x-quorum-initial-group-size", 3), ("x-initial-cluster-size", 3),
                       ("x-stream-max-segment-size-bytes", 5), ("x-queue-leader-locator", "balanced")):
        q = f"{P}-qt"
        check_eq(try_declare(q, {arg: value}),
                 (406, f"PRECONDITION_FAILED - invalid arg '{arg}' for queue '{q}' in vhost '/' of queue type "
                       f"rabbit_classic_queue", 50, 10), arg)


@R.case("x-queue-type quorum/stream with durable=false -> 406 invalid property 'non-durable'")
def _():
    for t in ("quorum", "stream"):
        q = f"{P}-nd"
        check_eq(try_declare(q, {"x-queue-type": t}),
                 (406, f"PRECONDITION_FAILED - invalid property 'non-durable' for queue '{q}' in vhost '/'", 50, 10), t)


@R.case("order of validation: DLX type, x-queue-type, then x-expires, x-message-ttl, ... , type-specific last")
def _():
    q = f"{P}-ord"
    bad = {"x-queue-mode": "bad", "x-single-active-consumer": "bad", "x-overflow": "bad", "x-max-priority": "bad",
           "x-max-length-bytes": "bad", "x-max-length": "bad", "x-dead-letter-routing-key": 5,
           "x-dead-letter-exchange": 5, "x-message-ttl": "bad", "x-expires": "bad", "x-queue-type": "bad",
           "x-delivery-limit": 5}
    bad = {k: v for k, v in bad.items() if k not in PENDING}
    good = {"x-queue-mode": "lazy", "x-single-active-consumer": True, "x-overflow": "drop-head", "x-max-priority": 2,
            "x-max-length-bytes": 5, "x-max-length": 5, "x-dead-letter-routing-key": "k",
            "x-dead-letter-exchange": "e", "x-message-ttl": 5, "x-expires": 5000, "x-queue-type": "classic"}
    import re
    order = []
    cur = dict(bad)
    for _ in range(20):
        got = try_declare(q, cur)
        if got == "ok":
            break
        k = re.search(r"'(x-[a-z-]+)'", got[1]).group(1)
        order.append(k)
        if k in good:
            cur[k] = good[k]
        else:
            del cur[k]
    check_eq(order, [k for k in ["x-dead-letter-exchange", "x-queue-type", "x-expires", "x-message-ttl",
                                 "x-dead-letter-routing-key", "x-max-length", "x-max-length-bytes", "x-max-priority",
                                 "x-overflow", "x-queue-mode", "x-single-active-consumer", "x-delivery-limit"]
                     if k not in PENDING], "check order")


@R.case("server-named queue: same validation, text carries the amq.gen- name")
def _():
    got = try_declare("", {"x-message-ttl": "abc"}, exclusive=True)
    check(got != "ok", "expected a 406")
    import re
    check(got[0] == 406 and (got[2], got[3]) == (50, 10) and re.fullmatch(
        r"PRECONDITION_FAILED - invalid arg 'x-message-ttl' for queue 'amq\.gen-[A-Za-z0-9_-]{22}' in vhost '/': "
        r"\"expected integer, got longstr\"", got[1]), f"got {got!r}")


@R.case("passive declare ignores (invalid or different) arguments")
def _():
    q = f"{P}-passive"
    declare(c, 1, q)
    check_eq(try_declare(q, {"x-message-ttl": "abc"}, passive=True), "ok", "passive with invalid arg")
    check_eq(try_declare(q, {"x-message-ttl": 5}, passive=True), "ok", "passive with different arg")
    qdelete(c, 1, q)


@R.case("x-queue-master-locator with a bad value -> connection.close 541 INTERNAL_ERROR (0/0)")
def _():
    for value in ("foo", 1):
        c2 = connect_channel(1)
        try:
            c2.send_method(1, "queue.declare", queue=f"{P}-loc", arguments={"x-queue-master-locator": value})
            m = c2.wait_for(1, "queue.declare_ok")
            check(m.name == "connection.close", f"{value!r}: expected connection.close, got {m!r}")
            check_eq(close_tuple(m), (541, "INTERNAL_ERROR", 0, 0), f"x-queue-master-locator={value!r}")
            c2.send_method(0, "connection.close_ok")
            c2.closed_by_peer = True
        finally:
            c2.close()


def inequivalent(q, arg, detail):
    return (406, f"PRECONDITION_FAILED - inequivalent arg '{arg}' for queue '{q}' in vhost '/': {detail}", 50, 10)


@R.case("redeclare with different arguments -> 406 inequivalent texts (checked before validation)")
def _():
    q = f"{P}-eq"
    orig = {"x-message-ttl": 1000, "x-overflow": "reject-publish", "x-dead-letter-exchange": "dx",
            "x-max-priority": 5, "x-single-active-consumer": True, "x-queue-mode": "lazy"}
    declare(c, 1, q, orig)
    try:
        def with_(**kw):
            a = dict(orig)
            for k, v in kw.items():
                k = k.replace("_", "-")
                if v is ...:
                    a.pop(k)
                else:
                    a[k] = v
            return a
        cases = [
            (with_(x_message_ttl="abc"), inequivalent(q, "x-message-ttl", "received 'abc' but current is '1000'")),
            (with_(x_message_ttl=-1), inequivalent(q, "x-message-ttl", "received '-1' but current is '1000'")),
            (with_(x_message_ttl="1000"), inequivalent(q, "x-message-ttl", "received '1000' but current is '1000'")),
            (with_(x_message_ttl=True), inequivalent(q, "x-message-ttl", "received 'true' but current is '1000'")),
            (with_(x_message_ttl=1000.0), inequivalent(q, "x-message-ttl", "received '1.0e3' but current is '1000'")),
            (with_(x_overflow="drop-head"),
             inequivalent(q, "x-overflow", "received 'drop-head' but current is 'reject-publish'")),
            (with_(x_dead_letter_exchange="dy"),
             inequivalent(q, "x-dead-letter-exchange", "received 'dy' but current is 'dx'")),
            (with_(x_max_priority=6), inequivalent(q, "x-max-priority", "received '6' but current is '5'")),
            (with_(x_single_active_consumer=...),
             inequivalent(q, "x-single-active-consumer", "received none but current is the value 'true' of type 'bool'")),
            (with_(x_queue_mode=...),
             inequivalent(q, "x-queue-mode", "received none but current is the value 'lazy' of type 'longstr'")),
            (with_(x_queue_mode="default"), inequivalent(q, "x-queue-mode", "received 'default' but current is 'lazy'")),
            (with_(x_expires=5000),
             inequivalent(q, "x-expires", "received the value '5000' of type 'signedint' but current is none")),
            (with_(x_dead_letter_routing_key="k"),
             inequivalent(q, "x-dead-letter-routing-key", "received the value 'k' of type 'longstr' but current is none")),
            (with_(x_max_length_bytes=5),
             inequivalent(q, "x-max-length-bytes", "received the value '5' of type 'signedint' but current is none")),
            (with_(x_queue_type="quorum"),
             inequivalent(q, "x-queue-type", "received the value 'quorum' of type 'longstr' but current is none")),
            (with_(x_message_ttl=2000, x_overflow="drop-head"),
             inequivalent(q, "x-message-ttl", "received '2000' but current is '1000'")),
            (with_(x_message_ttl=("l", 1000)), "ok"),
            (with_(x_message_ttl=("b", 100), x_max_priority=("b", 5)),
             inequivalent(q, "x-message-ttl", "received '100' but current is '1000'")),
            (with_(x_queue_type="classic"), "ok"),
        ]
        errors = []
        for args, want in cases:
            c.send_method(1, "queue.declare", queue=q, arguments=args)
            m = c.wait_for(1, "queue.declare_ok")
            if m.name == "channel.close":
                c.send_method(1, "channel.close_ok")
                c.open_channel(1)
                got = close_tuple(m)
            else:
                got = "ok"
            if got != want:
                errors.append(f"{args}: expected {want!r}, got {got!r}")
        check(not errors, "\n    ".join([""] + errors))
    finally:
        qdelete(c, 1, q)


@R.case("redeclare: order of the equivalence checks")
def _():
    import re
    q = f"{P}-eqord"
    orig = {"x-expires": 100000, "x-message-ttl": 1000, "x-dead-letter-exchange": "a",
            "x-dead-letter-routing-key": "k", "x-max-length": 5, "x-max-length-bytes": 50, "x-max-priority": 3,
            "x-overflow": "reject-publish", "x-queue-mode": "lazy", "x-single-active-consumer": True,
            "x-queue-master-locator": "min-masters"}
    changed = {"x-expires": 100001, "x-message-ttl": 1001, "x-dead-letter-exchange": "b",
               "x-dead-letter-routing-key": "j", "x-max-length": 6, "x-max-length-bytes": 51, "x-max-priority": 4,
               "x-overflow": "drop-head", "x-queue-mode": "default", "x-single-active-consumer": False,
               "x-queue-master-locator": "random"}
    declare(c, 1, q, orig)
    try:
        cur, order = dict(changed), []
        for _ in range(20):
            c.send_method(1, "queue.declare", queue=q, arguments=cur)
            m = c.wait_for(1, "queue.declare_ok")
            if m.name != "channel.close":
                break
            c.send_method(1, "channel.close_ok")
            c.open_channel(1)
            k = re.search(r"inequivalent arg '([a-z-]+)'", m.reply_text).group(1)
            order.append(k)
            cur[k] = orig[k]
        check_eq(order, list(orig), "equivalence check order")
    finally:
        qdelete(c, 1, q)


@R.case("expiration property: invalid values -> 406 'invalid expiration' (60/40); odd valid ones accepted")
def _():
    q = f"{P}-exp"
    declare(c, 1, q)
    try:
        cases = [("abc", "no_integer"), ("", "no_integer"), (" 5", "no_integer"), ("-1", "{value_negative,-1}"),
                 ("1.5", '{leftover_string,".5"}'), ("5 ", '{leftover_string," "}'),
                 ("0x10", '{leftover_string,"x10"}'), ("1e3", '{leftover_string,"e3"}'),
                 ("315360000001", "{value_too_large,315360000001}"),
                 ("99999999999999", "{value_too_large,99999999999999}")]
        errors = []
        for value, reason in cases:
            pub(c, 1, q, "x", expiration=value)
            try:
                m = c.wait_for(1, (), timeout=2)
            except TimeoutError:
                errors.append(f"{value!r}: no channel.close")
                continue
            if m.name == "channel.close":
                c.send_method(1, "channel.close_ok")
                c.open_channel(1)
            want = (406, f"PRECONDITION_FAILED - invalid expiration '{value}': {reason}", 60, 40)
            if m.name != "channel.close" or close_tuple(m) != want:
                errors.append(f"{value!r}: expected {want!r}, got {m!r}")
        check(not errors, "\n    ".join([""] + errors))
        # accepted values (checked by publishing with long expirations and counting)
        for value in ("+5000", "007000", "315360000000"):
            pub(c, 1, q, value, expiration=value)
        wait_count(c, 1, q, 3)
        got = [(m.body.decode(), m.properties.get("expiration")) for m in get_all(c, 1, q)]
        check_eq(got, [("+5000", "+5000"), ("007000", "007000"), ("315360000000", "315360000000")],
                 "accepted expirations (delivered unchanged)")
        for value in ("0", "-0", "+0"):  # accepted, expire at once (no consumer)
            pub(c, 1, q, value, expiration=value)
        expect_ok(c, 1, "basic.qos", "basic.qos_ok")  # round trip: a 406 would have closed the channel
        wait_count(c, 1, q, 0)
    finally:
        qdelete(c, 1, q)


@R.case("invalid expiration is rejected even when unroutable; a missing exchange wins (404)")
def _():
    for exchange, rk, want in (("", f"{P}-nosuchq", (406, "PRECONDITION_FAILED - invalid expiration 'abc': no_integer", 60, 40)),
                               ("amq.direct", "zz", (406, "PRECONDITION_FAILED - invalid expiration 'abc': no_integer", 60, 40)),
                               (f"{P}-nox", "q", (404, f"NOT_FOUND - no exchange '{P}-nox' in vhost '/'", 60, 40))):
        c.publish(1, exchange, rk, b"x", {"expiration": "abc"})
        m = c.wait_for(1, (), timeout=2)
        check(m.name == "channel.close", f"expected channel.close, got {m!r}")
        c.send_method(1, "channel.close_ok")
        c.open_channel(1)
        check_eq(close_tuple(m), want, f"publish to {exchange!r}/{rk!r}")


@R.case("basic.consume x-priority: non-integers -> 406 (60/20); any integer ok")
def _():
    if pending("consumer arguments / alternate-exchange"):
        return
    q = f"{P}-cp"
    declare(c, 1, q)
    try:
        errors = []
        for value, tname in (("5", "longstr"), (1.5, "double"), (True, "bool"), (None, "void"), (("T", 1), "timestamp")):
            c.send_method(1, "basic.consume", queue=q, consumer_tag="", arguments={"x-priority": value})
            m = c.wait_for(1, "basic.consume_ok")
            want = (406, f"PRECONDITION_FAILED - invalid arg 'x-priority' for queue '{q}' in vhost '/': "
                         f"\"expected integer, got {tname}\"", 60, 20)
            if m.name == "channel.close":
                c.send_method(1, "channel.close_ok")
                c.open_channel(1)
            if m.name != "channel.close" or close_tuple(m) != want:
                errors.append(f"{value!r}: expected {want!r}, got {m!r}")
        for value in (5, -5, ("b", 1), ("l", 2 ** 40), ("l", -2 ** 31 - 1)):
            c.send_method(1, "basic.consume", queue=q, consumer_tag="", arguments={"x-priority": value})
            m = c.wait_for(1, "basic.consume_ok")
            if m.name != "basic.consume_ok":
                errors.append(f"{value!r}: expected consume-ok, got {m!r}")
                c.send_method(1, "channel.close_ok")
                c.open_channel(1)
            else:
                expect_ok(c, 1, "basic.cancel", "basic.cancel_ok", consumer_tag=m.consumer_tag)
        check(not errors, "\n    ".join([""] + errors))
    finally:
        qdelete(c, 1, q)


@R.case("other consumer arguments: x-cancel-on-ha-failover type, x-stream-offset on classic, unknown ok")
def _():
    if pending("consumer arguments / alternate-exchange"):
        return
    q = f"{P}-ca"
    declare(c, 1, q)
    try:
        for args, want in (({"x-cancel-on-ha-failover": "x"},
                            (406, f"PRECONDITION_FAILED - invalid arg 'x-cancel-on-ha-failover' for queue '{q}' in vhost "
                                  f"'/': {{unacceptable_type,longstr}}", 60, 20)),
                           ({"x-stream-offset": 5},
                            (406, f"PRECONDITION_FAILED - invalid arg 'x-stream-offset' for queue '{q}' in vhost '/' of "
                                  f"queue type rabbit_classic_queue", 60, 20)),
                           ({"x-foo": 1}, "ok")):
            c.send_method(1, "basic.consume", queue=q, consumer_tag="", arguments=args)
            m = c.wait_for(1, "basic.consume_ok")
            if m.name == "channel.close":
                c.send_method(1, "channel.close_ok")
                c.open_channel(1)
                got = close_tuple(m)
            else:
                expect_ok(c, 1, "basic.cancel", "basic.cancel_ok", consumer_tag=m.consumer_tag)
                got = "ok"
            check_eq(got, want, f"consume args {args}")
    finally:
        qdelete(c, 1, q)


@R.case("exchange.declare alternate-exchange of a non-string type -> 406 'invalid type' (40/10)")
def _():
    if pending("consumer arguments / alternate-exchange"):
        return
    for value, tname in ((1, "signedint"), (("x", b"foo"), "binary")):
        x = f"{P}-aex"
        c.send_method(1, "exchange.declare", exchange=x, type="direct", arguments={"alternate-exchange": value})
        m = c.wait_for(1, "exchange.declare_ok")
        check(m.name == "channel.close", f"expected channel.close, got {m!r}")
        c.send_method(1, "channel.close_ok")
        c.open_channel(1)
        check_eq(close_tuple(m), (406, f"PRECONDITION_FAILED - invalid type '{tname}' for arg 'alternate-exchange' in "
                                       f"exchange '{x}' in vhost '/'", 40, 10), f"alternate-exchange={value!r}")
    x = f"{P}-aeok"
    expect_ok(c, 1, "exchange.declare", "exchange.declare_ok", exchange=x, type="direct",
              arguments={"alternate-exchange": ""})
    expect_ok(c, 1, "exchange.delete", "exchange.delete_ok", exchange=x)


c.close()
R.finish()
