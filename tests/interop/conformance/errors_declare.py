#!/usr/bin/env python3
"""Declare / delete / bind errors (docs/rabbitmq-behaviour.md sections 1 and 2), raw AMQP."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from amqp_raw import (Runner, check, check_eq, connect_channel, expect_ch_error, expect_conn_error,  # noqa: E402
                      expect_ok, uniq, wait_ready)

R = Runner("errors_declare")
P = uniq("decl")
V = "vhost '/'"
LOCKED = ("RESOURCE_LOCKED - cannot obtain exclusive access to locked queue '{}' in vhost '/'. It could be "
          "originally declared on another connection or the exclusive property value does not match that of "
          "the original declaration.")
DEFAULT_X = "ACCESS_REFUSED - operation not permitted on the default exchange"

c = connect_channel(1)
created_q, created_x = [], []


def q(name, **kw):
    expect_ok(c, 1, "queue.declare", "queue.declare_ok", queue=name, **kw)
    created_q.append(name)
    return name


def x(name, type="direct", **kw):
    expect_ok(c, 1, "exchange.declare", "exchange.declare_ok", exchange=name, type=type, **kw)
    created_x.append(name)
    return name


@R.case("queue.declare passive on a missing queue -> 404")
def _():
    expect_ch_error(c, 1, "queue.declare", 404, f"NOT_FOUND - no queue '{P}-none' in {V}", 50, 10,
                    queue=f"{P}-none", passive=True)


@R.case("queue.declare passive with empty name -> 404 no queue ''")
def _():
    q(f"{P}-pe")  # even right after a declare on the same channel
    expect_ch_error(c, 1, "queue.declare", 404, f"NOT_FOUND - no queue '' in {V}", 50, 10, queue="", passive=True)


@R.case("queue.declare passive ignores durable/exclusive/auto_delete flags")
def _():
    n = q(f"{P}-pf")
    m = expect_ok(c, 1, "queue.declare", "queue.declare_ok", queue=n, passive=True, durable=True, exclusive=True,
                  auto_delete=True)
    check_eq(m.queue, n, "queue name")


@R.case("redeclare queue with different durable -> 406 inequivalent arg 'durable'")
def _():
    n = q(f"{P}-d1")
    expect_ch_error(c, 1, "queue.declare", 406, f"PRECONDITION_FAILED - inequivalent arg 'durable' for queue '{n}' "
                    f"in {V}: received 'true' but current is 'false'", 50, 10, queue=n, durable=True)
    n = q(f"{P}-d2", durable=True)
    expect_ch_error(c, 1, "queue.declare", 406, f"PRECONDITION_FAILED - inequivalent arg 'durable' for queue '{n}' "
                    f"in {V}: received 'false' but current is 'true'", 50, 10, queue=n, durable=False)


@R.case("redeclare queue with different auto_delete -> 406")
def _():
    n = q(f"{P}-ad")
    expect_ch_error(c, 1, "queue.declare", 406, f"PRECONDITION_FAILED - inequivalent arg 'auto_delete' for queue "
                    f"'{n}' in {V}: received 'true' but current is 'false'", 50, 10, queue=n, auto_delete=True)


@R.case("redeclare queue with exclusive=true (same and other connection) -> 405 RESOURCE_LOCKED")
def _():
    n = q(f"{P}-ex")
    expect_ch_error(c, 1, "queue.declare", 405, LOCKED.format(n), 50, 10, queue=n, exclusive=True)
    with connect_channel(1) as o:
        expect_ch_error(o, 1, "queue.declare", 405, LOCKED.format(n), 50, 10, queue=n, exclusive=True)


@R.case("redeclare exclusive queue with exclusive=false on the owning connection -> 405")
def _():
    n = f"{P}-ex2"
    expect_ok(c, 1, "queue.declare", "queue.declare_ok", queue=n, exclusive=True)
    expect_ch_error(c, 1, "queue.declare", 405, LOCKED.format(n), 50, 10, queue=n)


@R.case("redeclare queue with different x- arguments -> 406 (texts per case)")
def _():
    n = q(f"{P}-a1")
    expect_ch_error(c, 1, "queue.declare", 406, f"PRECONDITION_FAILED - inequivalent arg 'x-max-length' for queue "
                    f"'{n}' in {V}: received the value '10' of type 'signedint' but current is none", 50, 10,
                    queue=n, arguments={"x-max-length": 10})
    n = q(f"{P}-a2", arguments={"x-max-length": 10})
    expect_ch_error(c, 1, "queue.declare", 406, f"PRECONDITION_FAILED - inequivalent arg 'x-max-length' for queue "
                    f"'{n}' in {V}: received '11' but current is '10'", 50, 10,
                    queue=n, arguments={"x-max-length": 11})
    expect_ch_error(c, 1, "queue.declare", 406, f"PRECONDITION_FAILED - inequivalent arg 'x-max-length' for queue "
                    f"'{n}' in {V}: received none but current is the value '10' of type 'signedint'", 50, 10,
                    queue=n)
    # same numeric value with a different integer type is equivalent
    expect_ok(c, 1, "queue.declare", "queue.declare_ok", queue=n, arguments={"x-max-length": ("l", 10)})
    n = q(f"{P}-a3", arguments={"x-message-ttl": 1000})
    expect_ch_error(c, 1, "queue.declare", 406, f"PRECONDITION_FAILED - inequivalent arg 'x-message-ttl' for queue "
                    f"'{n}' in {V}: received '2000' but current is '1000'", 50, 10,
                    queue=n, arguments={"x-message-ttl": 2000})


@R.case("redeclare queue with a different non-x- argument is accepted")
def _():
    n = q(f"{P}-a4", arguments={"foo": 1})
    expect_ok(c, 1, "queue.declare", "queue.declare_ok", queue=n, arguments={"foo": 2})


@R.case("client-named queue with amq. prefix -> 403; passive -> 404")
def _():
    for n in ("amq.foo", "amq.gen-xyz"):
        expect_ch_error(c, 1, "queue.declare", 403,
                        f"ACCESS_REFUSED - queue name '{n}' contains reserved prefix 'amq.*'", 50, 10, queue=n)
    expect_ch_error(c, 1, "queue.declare", 404, f"NOT_FOUND - no queue 'amq.foo' in {V}", 50, 10,
                    queue="amq.foo", passive=True)


@R.case("server-named queue: amq.gen- + 22 chars; redeclare by name -> 403 (owner and others); passive ok")
def _():
    import re
    m = expect_ok(c, 1, "queue.declare", "queue.declare_ok", queue="")
    n = m.queue
    check(re.fullmatch(r"amq\.gen-[A-Za-z0-9_-]{22}", n) is not None, f"unexpected generated name {n!r}")
    created_q.append(n)
    text = f"ACCESS_REFUSED - queue name '{n}' contains reserved prefix 'amq.*'"
    expect_ch_error(c, 1, "queue.declare", 403, text, 50, 10, queue=n)
    with connect_channel(1) as o:
        expect_ch_error(o, 1, "queue.declare", 403, text, 50, 10, queue=n)
        expect_ch_error(o, 1, "queue.declare", 403, text, 50, 10, queue=n, exclusive=True)
        m = expect_ok(o, 1, "queue.declare", "queue.declare_ok", queue=n, passive=True)
        check_eq(m.queue, n, "passive declare name")


@R.case("queue name of 255 characters is accepted")
def _():
    n = q((P + "-" + "q" * 255)[:255])
    check_eq(len(n), 255, "name length")


@R.case("exchange.declare passive on a missing exchange -> 404; passive ignores type")
def _():
    expect_ch_error(c, 1, "exchange.declare", 404, f"NOT_FOUND - no exchange '{P}-nx' in {V}", 40, 10,
                    exchange=f"{P}-nx", type="direct", passive=True)
    n = x(f"{P}-xp")
    expect_ok(c, 1, "exchange.declare", "exchange.declare_ok", exchange=n, type="fanout", passive=True)


@R.case("redeclare exchange with different type/durable/auto_delete/internal/args -> 406")
def _():
    n = x(f"{P}-x1")
    pre = f"PRECONDITION_FAILED - inequivalent arg '{{}}' for exchange '{n}' in {V}: "
    expect_ch_error(c, 1, "exchange.declare", 406, pre.format("type") + "received 'fanout' but current is 'direct'",
                    40, 10, exchange=n, type="fanout")
    for flag in ("durable", "auto_delete", "internal"):
        expect_ch_error(c, 1, "exchange.declare", 406, pre.format(flag) + "received 'true' but current is 'false'",
                        40, 10, exchange=n, type="direct", **{flag: True})
    expect_ch_error(c, 1, "exchange.declare", 406, pre.format("alternate-exchange") +
                    "received the value 'foo' of type 'longstr' but current is none",
                    40, 10, exchange=n, type="direct", arguments={"alternate-exchange": "foo"})


@R.case("exchange.declare with unknown type -> connection.close 503")
def _():
    for typ, text in (("x-foo", "COMMAND_INVALID - unknown exchange type 'x-foo'"),
                      ("foo", "COMMAND_INVALID - invalid exchange type 'foo'"),
                      ("", "COMMAND_INVALID - invalid exchange type ''")):
        with connect_channel(1) as o:
            o.send_method(1, "exchange.declare", exchange=f"{P}-ut", type=typ)
            expect_conn_error(o, 503, text, 40, 10)


@R.case("exchange named amq.foo -> 403; passive -> 404")
def _():
    expect_ch_error(c, 1, "exchange.declare", 403,
                    "ACCESS_REFUSED - exchange name 'amq.foo' contains reserved prefix 'amq.*'", 40, 10,
                    exchange="amq.foo", type="direct")
    expect_ch_error(c, 1, "exchange.declare", 404, f"NOT_FOUND - no exchange 'amq.foo' in {V}", 40, 10,
                    exchange="amq.foo", type="direct", passive=True)


@R.case("redeclare amq.direct: durable ok, non-durable 406")
def _():
    expect_ok(c, 1, "exchange.declare", "exchange.declare_ok", exchange="amq.direct", type="direct", durable=True)
    expect_ch_error(c, 1, "exchange.declare", 406, "PRECONDITION_FAILED - inequivalent arg 'durable' for exchange "
                    f"'amq.direct' in {V}: received 'false' but current is 'true'", 40, 10,
                    exchange="amq.direct", type="direct")


@R.case("default exchange: declare/passive/delete -> 403")
def _():
    expect_ch_error(c, 1, "exchange.declare", 403, DEFAULT_X, 40, 10, exchange="", type="direct", durable=True)
    expect_ch_error(c, 1, "exchange.declare", 403, DEFAULT_X, 40, 10, exchange="", type="direct", passive=True)
    expect_ch_error(c, 1, "exchange.delete", 403, DEFAULT_X, 40, 20, exchange="")


@R.case("delete amq.direct -> 403 system exchange")
def _():
    expect_ch_error(c, 1, "exchange.delete", 403,
                    f"ACCESS_REFUSED - deletion of system exchange 'amq.direct' in {V} not allowed", 40, 20,
                    exchange="amq.direct")


@R.case("exchange.delete of a missing exchange is ok (also if-unused)")
def _():
    expect_ok(c, 1, "exchange.delete", "exchange.delete_ok", exchange=f"{P}-nx")
    expect_ok(c, 1, "exchange.delete", "exchange.delete_ok", exchange=f"{P}-nx", if_unused=True)


@R.case("exchange.delete if-unused: in use as queue-binding source / e2e source -> 406; e2e destination ok")
def _():
    n = x(f"{P}-xu1")
    qq = q(f"{P}-xuq")
    expect_ok(c, 1, "queue.bind", "queue.bind_ok", queue=qq, exchange=n, routing_key="k")
    expect_ch_error(c, 1, "exchange.delete", 406, f"PRECONDITION_FAILED - exchange '{n}' in {V} in use", 40, 20,
                    exchange=n, if_unused=True)
    n2 = x(f"{P}-xu2")
    expect_ok(c, 1, "exchange.bind", "exchange.bind_ok", destination="amq.fanout", source=n2, routing_key="k")
    expect_ch_error(c, 1, "exchange.delete", 406, f"PRECONDITION_FAILED - exchange '{n2}' in {V} in use", 40, 20,
                    exchange=n2, if_unused=True)
    n3 = x(f"{P}-xu3")
    expect_ok(c, 1, "exchange.bind", "exchange.bind_ok", destination=n3, source="amq.fanout", routing_key="k")
    expect_ok(c, 1, "exchange.delete", "exchange.delete_ok", exchange=n3, if_unused=True)
    expect_ch_error(c, 1, "exchange.declare", 404, f"NOT_FOUND - no exchange '{n3}' in {V}", 40, 10,
                    exchange=n3, type="direct", passive=True)


@R.case("queue.delete of a missing queue is ok with message_count 0")
def _():
    m = expect_ok(c, 1, "queue.delete", "queue.delete_ok", queue=f"{P}-none")
    check_eq(m.message_count, 0, "message_count")
    m = expect_ok(c, 1, "queue.delete", "queue.delete_ok", queue=f"{P}-none", if_unused=True, if_empty=True)
    check_eq(m.message_count, 0, "message_count")


@R.case("queue.delete if-empty / if-unused failing -> 406 (if-unused wins when both)")
def _():
    n = q(f"{P}-qe")
    c.publish(1, "", n, b"x")
    wait_ready(c, 1, n, 1)
    expect_ch_error(c, 1, "queue.delete", 406, f"PRECONDITION_FAILED - queue '{n}' in {V} not empty", 50, 40,
                    queue=n, if_empty=True)
    with connect_channel(1) as o:
        expect_ok(o, 1, "basic.consume", "basic.consume_ok", queue=n, consumer_tag="t")
        expect_ch_error(c, 1, "queue.delete", 406, f"PRECONDITION_FAILED - queue '{n}' in {V} in use", 50, 40,
                        queue=n, if_unused=True)
        expect_ch_error(c, 1, "queue.delete", 406, f"PRECONDITION_FAILED - queue '{n}' in {V} in use", 50, 40,
                        queue=n, if_unused=True, if_empty=True)


@R.case("queue.purge of a missing queue -> 404")
def _():
    expect_ch_error(c, 1, "queue.purge", 404, f"NOT_FOUND - no queue '{P}-none' in {V}", 50, 30, queue=f"{P}-none")


@R.case("bind/unbind with the default exchange -> 403")
def _():
    n = q(f"{P}-b0")
    expect_ch_error(c, 1, "queue.bind", 403, DEFAULT_X, 50, 20, queue=n, exchange="", routing_key=n)
    expect_ch_error(c, 1, "queue.unbind", 403, DEFAULT_X, 50, 50, queue=n, exchange="", routing_key=n)
    n2 = x(f"{P}-xb0")
    expect_ch_error(c, 1, "exchange.bind", 403, DEFAULT_X, 40, 30, destination=n2, source="", routing_key="k")
    expect_ch_error(c, 1, "exchange.bind", 403, DEFAULT_X, 40, 30, destination="", source=n2, routing_key="k")


@R.case("bind with missing exchange / queue / both -> 404 (exchange reported first)")
def _():
    n = q(f"{P}-b1")
    expect_ch_error(c, 1, "queue.bind", 404, f"NOT_FOUND - no exchange '{P}-nx' in {V}", 50, 20,
                    queue=n, exchange=f"{P}-nx", routing_key="k")
    expect_ch_error(c, 1, "queue.bind", 404, f"NOT_FOUND - no queue '{P}-nq' in {V}", 50, 20,
                    queue=f"{P}-nq", exchange="amq.direct", routing_key="k")
    expect_ch_error(c, 1, "queue.bind", 404, f"NOT_FOUND - no exchange '{P}-nx' in {V}", 50, 20,
                    queue=f"{P}-nq", exchange=f"{P}-nx", routing_key="k")
    n2 = x(f"{P}-xb1")
    expect_ch_error(c, 1, "exchange.bind", 404, f"NOT_FOUND - no exchange '{P}-nx' in {V}", 40, 30,
                    destination=n2, source=f"{P}-nx", routing_key="k")
    expect_ch_error(c, 1, "exchange.bind", 404, f"NOT_FOUND - no exchange '{P}-nx' in {V}", 40, 30,
                    destination=f"{P}-nx", source=n2, routing_key="k")


@R.case("queue.bind with empty queue name on a fresh channel -> 404 no previously declared queue")
def _():
    expect_ch_error(c, 1, "queue.bind", 404, "NOT_FOUND - no previously declared queue", 50, 20,
                    queue="", exchange="amq.direct", routing_key="k")


@R.case("unbind of non-existent binding / missing queue / missing exchange is ok")
def _():
    n = q(f"{P}-u1")
    expect_ok(c, 1, "queue.unbind", "queue.unbind_ok", queue=n, exchange="amq.direct", routing_key="zzz")
    expect_ok(c, 1, "queue.unbind", "queue.unbind_ok", queue=f"{P}-nq", exchange="amq.direct", routing_key="k")
    expect_ok(c, 1, "queue.unbind", "queue.unbind_ok", queue=n, exchange=f"{P}-nx", routing_key="k")
    n2 = x(f"{P}-xu")
    expect_ok(c, 1, "exchange.unbind", "exchange.unbind_ok", destination=n2, source="amq.direct", routing_key="k")


@R.case("headers binding with invalid x-match -> 406")
def _():
    n = q(f"{P}-hm")
    expect_ch_error(c, 1, "queue.bind", 406, 'PRECONDITION_FAILED - Invalid x-match field value <<"foo">>; '
                    "expected all, any, all-with-x, or any-with-x", 50, 20,
                    queue=n, exchange="amq.headers", routing_key="", arguments={"x-match": "foo"})


for n in created_q:
    c.send_method(1, "queue.delete", queue=n, nowait=True)
for n in created_x:
    c.send_method(1, "exchange.delete", exchange=n, nowait=True)
c.close()
R.finish()
