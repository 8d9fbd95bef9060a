#!/usr/bin/env python3
"""Auto-delete / exclusive lifecycle, consumer cancel notification, message counts (docs sections 11, 12)."""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from amqp_raw import (HOST, PORT, Conn, Runner, check, check_eq, connect_channel, expect_ok, uniq,
                      wait_ready)  # noqa: E402

R = Runner("lifecycle")
P = uniq("life")
probe = connect_channel(1)  # used to test existence from outside


def q_exists(name, conn=None):
    c = conn or probe
    c.send_method(1, "queue.declare", queue=name, passive=True)
    m = c.wait_for(1, "queue.declare_ok")
    if m.name == "channel.close":
        c.send_method(1, "channel.close_ok")
        c.open_channel(1)
        check_eq(m.reply_code, 404, f"passive declare of {name}: {m.reply_text}")
        return False
    return True


def x_exists(name):
    probe.send_method(1, "exchange.declare", exchange=name, type="direct", passive=True)
    m = probe.wait_for(1, "exchange.declare_ok")
    if m.name == "channel.close":
        probe.send_method(1, "channel.close_ok")
        probe.open_channel(1)
        check_eq(m.reply_code, 404, f"passive declare of {name}: {m.reply_text}")
        return False
    return True


def eventually(fn, expected, what, timeout=2.0):
    deadline = time.monotonic() + timeout
    while True:
        got = fn()
        if got == expected or time.monotonic() > deadline:
            check_eq(got, expected, what)
            return
        time.sleep(0.05)


@R.case("fresh auto-delete queue that never had a consumer stays (also after its connection closes)")
def _():
    n = f"{P}-ad0"
    with connect_channel(1) as c:
        expect_ok(c, 1, "queue.declare", "queue.declare_ok", queue=n, auto_delete=True)
        expect_ok(c, 1, "basic.get", ("basic.get_ok", "basic.get_empty"), queue=n)
    time.sleep(0.3)
    check(q_exists(n), "queue should still exist")
    expect_ok(probe, 1, "queue.delete", "queue.delete_ok", queue=n)


@R.case("auto-delete queue: survives cancel of 1 of 2 consumers, deleted on cancel of the last")
def _():
    n = f"{P}-ad1"
    with connect_channel(1) as c:
        expect_ok(c, 1, "queue.declare", "queue.declare_ok", queue=n, auto_delete=True)
        expect_ok(c, 1, "basic.consume", "basic.consume_ok", queue=n, consumer_tag="t1")
        expect_ok(c, 1, "basic.consume", "basic.consume_ok", queue=n, consumer_tag="t2")
        expect_ok(c, 1, "basic.cancel", "basic.cancel_ok", consumer_tag="t1")
        time.sleep(0.2)
        check(q_exists(n), "queue should survive the first cancel")
        expect_ok(c, 1, "basic.cancel", "basic.cancel_ok", consumer_tag="t2")
        eventually(lambda: q_exists(n), False, "queue exists after last cancel")


@R.case("auto-delete queue deleted when the last consumer's channel closes")
def _():
    n = f"{P}-ad2"
    with connect_channel(1) as c:
        expect_ok(c, 1, "queue.declare", "queue.declare_ok", queue=n, auto_delete=True)
        c.open_channel(2)
        expect_ok(c, 2, "basic.consume", "basic.consume_ok", queue=n, consumer_tag="t1")
        expect_ok(c, 2, "channel.close", "channel.close_ok", reply_code=200)
        eventually(lambda: q_exists(n), False, "queue exists after consumer channel closed")


@R.case("auto-delete exchange: fresh stays; unbind 1 of 2 stays; unbind last -> deleted")
def _():
    x = f"{P}-adx1"
    q = f"{P}-adxq"
    c = probe
    expect_ok(c, 1, "exchange.declare", "exchange.declare_ok", exchange=x, type="direct", auto_delete=True)
    time.sleep(0.2)
    check(x_exists(x), "fresh auto-delete exchange should exist")
    expect_ok(c, 1, "queue.declare", "queue.declare_ok", queue=q)
    expect_ok(c, 1, "queue.bind", "queue.bind_ok", queue=q, exchange=x, routing_key="a")
    expect_ok(c, 1, "queue.bind", "queue.bind_ok", queue=q, exchange=x, routing_key="b")
    expect_ok(c, 1, "queue.unbind", "queue.unbind_ok", queue=q, exchange=x, routing_key="a")
    check(x_exists(x), "exchange should survive the first unbind")
    expect_ok(c, 1, "queue.unbind", "queue.unbind_ok", queue=q, exchange=x, routing_key="b")
    eventually(lambda: x_exists(x), False, "exchange exists after last unbind")
    expect_ok(c, 1, "queue.delete", "queue.delete_ok", queue=q)


@R.case("auto-delete exchange deleted when its only bound queue is deleted")
def _():
    x, q = f"{P}-adx2", f"{P}-adxq2"
    c = probe
    expect_ok(c, 1, "exchange.declare", "exchange.declare_ok", exchange=x, type="direct", auto_delete=True)
    expect_ok(c, 1, "queue.declare", "queue.declare_ok", queue=q)
    expect_ok(c, 1, "queue.bind", "queue.bind_ok", queue=q, exchange=x, routing_key="a")
    expect_ok(c, 1, "queue.delete", "queue.delete_ok", queue=q)
    eventually(lambda: x_exists(x), False, "exchange exists after its queue was deleted")


@R.case("auto-delete exchange: last e2e binding removed -> deleted as source, kept as destination")
def _():
    c = probe
    src, dst = f"{P}-adx3", f"{P}-adx4"
    for x in (src, dst):
        expect_ok(c, 1, "exchange.declare", "exchange.declare_ok", exchange=x, type="direct", auto_delete=True)
    expect_ok(c, 1, "exchange.bind", "exchange.bind_ok", destination="amq.fanout", source=src, routing_key="a")
    expect_ok(c, 1, "exchange.bind", "exchange.bind_ok", destination=dst, source="amq.fanout", routing_key="a")
    expect_ok(c, 1, "exchange.unbind", "exchange.unbind_ok", destination="amq.fanout", source=src, routing_key="a")
    expect_ok(c, 1, "exchange.unbind", "exchange.unbind_ok", destination=dst, source="amq.fanout", routing_key="a")
    eventually(lambda: x_exists(src), False, "source exchange exists")
    time.sleep(0.2)
    check(x_exists(dst), "destination-only auto-delete exchange should survive")
    expect_ok(c, 1, "exchange.delete", "exchange.delete_ok", exchange=dst)


@R.case("exclusive queue survives its channel closing and is deleted when the connection closes")
def _():
    n = f"{P}-ex"
    c = connect_channel(1)
    expect_ok(c, 1, "queue.declare", "queue.declare_ok", queue=n, exclusive=True)
    expect_ok(c, 1, "channel.close", "channel.close_ok", reply_code=200)
    c.open_channel(1)
    check(q_exists(n, c), "exclusive queue should survive its channel")
    c.close()
    eventually(lambda: q_exists(n), False, "exclusive queue exists after connection close")


@R.case("server basic.cancel (nowait=true) when a consumed queue is deleted by another connection; channel usable")
def _():
    n = f"{P}-cn1"
    with connect_channel(1) as c:  # advertises consumer_cancel_notify
        expect_ok(c, 1, "queue.declare", "queue.declare_ok", queue=n)
        expect_ok(c, 1, "basic.consume", "basic.consume_ok", queue=n, consumer_tag="ctn")
        expect_ok(probe, 1, "queue.delete", "queue.delete_ok", queue=n)
        m = c.wait_for(1, "basic.cancel", timeout=2)
        check_eq((m.name, m.consumer_tag, m.nowait), ("basic.cancel", "ctn", True), "server cancel")
        expect_ok(c, 1, "basic.qos", "basic.qos_ok", prefetch_count=1)
        m = expect_ok(c, 1, "basic.cancel", "basic.cancel_ok", consumer_tag="ctn")
        check_eq(m.consumer_tag, "ctn", "cancel-ok tag")


@R.case("server basic.cancel also when the consumer's own channel deletes the queue")
def _():
    n = f"{P}-cn2"
    with connect_channel(1) as c:
        expect_ok(c, 1, "queue.declare", "queue.declare_ok", queue=n)
        expect_ok(c, 1, "basic.consume", "basic.consume_ok", queue=n, consumer_tag="own")
        expect_ok(c, 1, "queue.delete", "queue.delete_ok", queue=n)
        m = c.wait_for(1, "basic.cancel", timeout=2)
        check_eq((m.name, m.consumer_tag), ("basic.cancel", "own"), "server cancel")


@R.case("no server basic.cancel without the consumer_cancel_notify capability")
def _():
    n = f"{P}-cn3"
    c = Conn()
    check_eq(c.handshake(client_properties={"product": "no-caps"}).name, "connection.open_ok", "handshake")
    c.open_channel(1)
    expect_ok(c, 1, "queue.declare", "queue.declare_ok", queue=n)
    expect_ok(c, 1, "basic.consume", "basic.consume_ok", queue=n, consumer_tag="ctn")
    expect_ok(probe, 1, "queue.delete", "queue.delete_ok", queue=n)
    got = c.drain(0.5)
    check_eq(got, [], "methods received")
    c.close()


@R.case("pika (consumer_cancel_notify) gets its on_cancel callback when the queue is deleted")
def _():
    import pika
    n = f"{P}-cn4"
    conn = pika.BlockingConnection(pika.ConnectionParameters(host=HOST, port=PORT, socket_timeout=5,
                                                             blocked_connection_timeout=5, stack_timeout=10))
    try:
        ch = conn.channel()
        ch.queue_declare(n)
        cancelled = []
        ch.add_on_cancel_callback(lambda frame: cancelled.append(frame.method.consumer_tag))
        tag = ch.basic_consume(n, lambda *a: None, consumer_tag="pika-ctag")
        expect_ok(probe, 1, "queue.delete", "queue.delete_ok", queue=n)
        deadline = time.monotonic() + 2
        while not cancelled and time.monotonic() < deadline:
            conn.process_data_events(time_limit=0.1)
        check_eq(cancelled, [tag], "cancelled consumer tags")
        check(ch.is_open, "channel should stay open")
    finally:
        conn.close()


@R.case("declare-ok / purge-ok / delete-ok count ready messages only; consumer_count counts consumers")
def _():
    n = f"{P}-cnt"
    c = probe
    expect_ok(c, 1, "queue.declare", "queue.declare_ok", queue=n)
    for i in range(5):
        c.publish(1, "", n, f"m{i}")
    m = wait_ready(c, 1, n, 5)  # publishes are enqueued asynchronously
    check_eq((m.message_count, m.consumer_count), (5, 0), "5 ready")
    with connect_channel(1) as k:
        expect_ok(k, 1, "basic.qos", "basic.qos_ok", prefetch_count=2)
        expect_ok(k, 1, "basic.consume", "basic.consume_ok", queue=n, consumer_tag="k")
        k.wait_for(1, "basic.deliver")
        k.wait_for(1, "basic.deliver")
        m = expect_ok(c, 1, "queue.declare", "queue.declare_ok", queue=n, passive=True)
        check_eq((m.message_count, m.consumer_count), (3, 1), "3 ready + 2 unacked")
        m = expect_ok(c, 1, "queue.purge", "queue.purge_ok", queue=n)
        check_eq(m.message_count, 3, "purge-ok count")
        for i in range(4):
            c.publish(1, "", n, f"n{i}")
        m = wait_ready(c, 1, n, 4)
        check_eq((m.message_count, m.consumer_count), (4, 1), "4 ready (consumer full) + 2 unacked")
        m = expect_ok(c, 1, "queue.delete", "queue.delete_ok", queue=n)
        check_eq(m.message_count, 4, "delete-ok count")
        m = k.wait_for(1, "basic.cancel", timeout=2)
        check_eq(m.name, "basic.cancel", "consumer notified")


@R.case("get-ok message_count = ready messages left; delete-ok with 1 ready + 2 unacked -> 1")
def _():
    n = f"{P}-cnt2"
    c = probe
    expect_ok(c, 1, "queue.declare", "queue.declare_ok", queue=n)
    for i in range(3):
        c.publish(1, "", n, f"m{i}")
    wait_ready(c, 1, n, 3)
    GET = ("basic.get_ok", "basic.get_empty")
    m1 = expect_ok(c, 1, "basic.get", GET, queue=n)
    m2 = expect_ok(c, 1, "basic.get", GET, queue=n)
    check_eq((m1.message_count, m2.message_count, m2.delivery_tag), (2, 1, 2), "get-ok counts")
    m = expect_ok(c, 1, "queue.delete", "queue.delete_ok", queue=n)
    check_eq(m.message_count, 1, "delete-ok count")
    c.send_method(1, "basic.ack", delivery_tag=0, multiple=True)  # ack of messages of a deleted queue is fine
    expect_ok(c, 1, "basic.qos", "basic.qos_ok", prefetch_count=0)


probe.close()
R.finish()
