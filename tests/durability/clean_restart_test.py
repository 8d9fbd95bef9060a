#!/usr/bin/python3
"""Clean restart (SIGTERM, then start on the same --data-dir), with pika: durable exchanges,
queues, bindings (queue and exchange-to-exchange) and persistent messages come back with exact
counts and order; transient messages, non-durable/exclusive/auto-delete queues, transient
exchanges, deleted queues and removed bindings do not."""
import pika

from durability_fixture import check, log, main

PERSISTENT = pika.BasicProperties(delivery_mode=2)


def gone(conn_params, kind, name):
    conn = pika.BlockingConnection(conn_params)
    try:
        ch = conn.channel()
        if kind == "queue":
            ch.queue_declare(name, passive=True)
        else:
            ch.exchange_declare(name, passive=True)
        return False
    except pika.exceptions.ChannelClosedByBroker as e:
        return e.reply_code == 404
    finally:
        if conn.is_open:
            conn.close()


def setup(b):
    conn = pika.BlockingConnection(b.pika_params())
    ch = conn.channel()
    ch.confirm_delivery()
    ch.exchange_declare("dx", "direct", durable=True)
    ch.exchange_declare("tx", "topic", durable=True)
    ch.exchange_declare("nx", "fanout", durable=False)
    ch.queue_declare("dq", durable=True)
    ch.queue_declare("dq2", durable=True)
    ch.queue_declare("nq", durable=False)
    ch.queue_declare("adq", durable=True, auto_delete=True)
    ch.queue_declare("deleted", durable=True)
    ch.queue_bind("dq", "dx", "k")
    ch.queue_bind("dq2", "tx", "a.#")
    ch.queue_bind("dq", "dx", "unbound-later")
    ch.queue_unbind("dq", "dx", "unbound-later")
    ch.exchange_bind(destination="tx", source="dx", routing_key="a.e2e")
    ch.queue_delete("deleted")
    excl = ch.queue_declare("", durable=True, exclusive=True).method.queue
    for i in range(50):
        ch.basic_publish("dx", "k", b"p%d" % i, PERSISTENT)
        if i % 3 == 0:
            ch.basic_publish("dx", "k", b"t%d" % i)  # transient: gone after restart
    for i in range(30):
        ch.basic_publish("tx", "a.b", b"q%d" % i, PERSISTENT)
    for i in range(10):
        ch.basic_publish("", "nq", b"n%d" % i, PERSISTENT)  # persistent, but the queue is not durable
        ch.basic_publish("", excl, b"x%d" % i, PERSISTENT)
    ch.basic_publish("", "adq", b"ad", PERSISTENT)
    check(ch.queue_declare("dq", passive=True).method.message_count == 67, "dq before restart")
    conn.close()
    return excl


def verify(b, excl):
    params = b.pika_params()
    for kind, name in [("queue", "nq"), ("queue", excl), ("queue", "adq"), ("queue", "deleted"),
                       ("exchange", "nx")]:
        check(gone(params, kind, name), "%s %s survived the restart" % (kind, name))
    conn = pika.BlockingConnection(params)
    ch = conn.channel()
    ch.exchange_declare("dx", passive=True)
    ch.exchange_declare("tx", passive=True)
    for q, prefix, n in [("dq", b"p", 50), ("dq2", b"q", 30)]:
        count = ch.queue_declare(q, passive=True).method.message_count
        check(count == n, "%s has %d messages after restart, want %d" % (q, count, n))
        for i in range(n):
            m, props, body = ch.basic_get(q, auto_ack=True)
            check(body == prefix + b"%d" % i, "%s message %d is %r" % (q, i, body))
            check(not m.redelivered, "never-delivered message flagged redelivered")
            check(props.delivery_mode == 2, "properties lost")
    # bindings still route: dx -k-> dq; dx -a.e2e-> tx -a.#-> dq2; the unbound key does not
    ch.confirm_delivery()
    ch.basic_publish("dx", "k", b"after", PERSISTENT)
    ch.basic_publish("dx", "a.e2e", b"e2e", PERSISTENT)
    ch.basic_publish("dx", "unbound-later", b"nowhere", PERSISTENT)
    check(ch.basic_get("dq", auto_ack=True)[2] == b"after", "dx->dq binding lost")
    check(ch.basic_get("dq2", auto_ack=True)[2] == b"e2e", "dx->tx exchange binding lost")
    check(ch.queue_declare("dq", passive=True).method.message_count == 0, "unbound binding came back")
    conn.close()


def test(ctx):
    b = ctx.broker()
    excl = setup(b)
    b.restart(crash=False)
    verify(b, excl)
    log("clean restart: ok")
    b.restart(crash=False)  # nothing was left: still nothing, topology still there
    conn = pika.BlockingConnection(b.pika_params())
    ch = conn.channel()
    check(ch.queue_declare("dq", passive=True).method.message_count == 0, "consumed messages came back")
    conn.close()


if __name__ == "__main__":
    main(test)
