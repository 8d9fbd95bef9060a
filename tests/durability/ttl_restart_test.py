#!/usr/bin/python3
"""TTL and dead-lettering across a restart (docs/rabbitmq-extensions-behaviour.md section 12): a
durable queue with x-message-ttl keeps its arguments; a persistent message in it expires TTL ms
after its *publish* (the TTL keeps counting across the restart), and so does one with an
`expiration` property; the expired messages are dead-lettered with their x-death headers into a
durable queue, where they survive a second restart unchanged; transient messages are lost."""
import time

import pika

from durability_fixture import check, log, main

TTL_MS = 6000


def count(ch, q):
    return ch.queue_declare(q, passive=True).method.message_count


def test(ctx):
    b = ctx.broker()
    conn = pika.BlockingConnection(b.pika_params())
    ch = conn.channel()
    ch.confirm_delivery()
    ch.queue_declare("dead", durable=True)
    ch.queue_declare("ttl", durable=True, arguments={"x-message-ttl": TTL_MS, "x-dead-letter-exchange": "",
                                                      "x-dead-letter-routing-key": "dead"})
    ch.queue_declare("per-msg", durable=True, arguments={"x-dead-letter-exchange": "",
                                                         "x-dead-letter-routing-key": "dead"})
    t0 = time.monotonic()
    ch.basic_publish("", "ttl", b"persistent", pika.BasicProperties(delivery_mode=2))
    ch.basic_publish("", "ttl", b"transient")
    ch.basic_publish("", "per-msg", b"expiring", pika.BasicProperties(delivery_mode=2, expiration=str(TTL_MS)))
    check(count(ch, "ttl") == 2, "ttl holds 2 before the restart")
    conn.close()

    # Down for 2 s: a TTL restarted at recovery would expire >= 2 s late.
    b.stop()
    time.sleep(2.0)
    b.start()
    conn = pika.BlockingConnection(b.pika_params())
    ch = conn.channel()
    check(count(ch, "ttl") == 1, "only the persistent message survives")
    check(count(ch, "per-msg") == 1, "the message with an expiration survives")
    # Redeclaring with the same arguments works (they were persisted); other ones are refused.
    ch.queue_declare("ttl", durable=True, arguments={"x-message-ttl": TTL_MS, "x-dead-letter-exchange": "",
                                                      "x-dead-letter-routing-key": "dead"})
    # Expiry counts from the publish, not from the restart.
    while time.monotonic() - t0 < TTL_MS / 1000 - 1.0:
        check(count(ch, "ttl") == 1, "expired too early")
        time.sleep(0.2)
    deadline = t0 + TTL_MS / 1000 + 1.0
    while (count(ch, "ttl") or count(ch, "per-msg")) and time.monotonic() < deadline:
        time.sleep(0.05)
    elapsed = time.monotonic() - t0
    check(count(ch, "ttl") == 0 and count(ch, "per-msg") == 0, "not expired %.1f s after the publish" % elapsed)
    log("expired %.2f s after the publish (TTL %d ms, restart in between)" % (elapsed, TTL_MS))
    check(count(ch, "dead") == 2, "both dead-lettered into the durable queue")
    # Dead-lettered copies are not confirmed to anyone, so a crash may lose the last ones, as in
    # RabbitMQ (docs/durability.md). A confirmed publish is a barrier: the store writes records in
    # order, so its confirm means the dead-lettered copies before it are on disk too. Without it a
    # loaded machine could delay the store thread past the kill below.
    ch.confirm_delivery()
    ch.queue_declare("barrier", durable=True)
    ch.basic_publish("", "barrier", b"barrier", pika.BasicProperties(delivery_mode=2))
    conn.close()

    b.restart(crash=True)
    conn = pika.BlockingConnection(b.pika_params())
    ch = conn.channel()
    check(count(ch, "barrier") == 1, "the confirmed barrier message survives the crash")
    got = {}
    for _ in range(2):
        m, props, body = ch.basic_get("dead", auto_ack=True)
        check(m is not None, "dead-lettered message lost in the restart")
        got[body] = props
    check(set(got) == {b"persistent", b"expiring"}, "dead-lettered bodies: %r" % list(got))
    for body, props in got.items():
        d = props.headers["x-death"][0]
        check(d["reason"] == "expired" and d["count"] == 1, "%r x-death %r" % (body, d))
        check(props.headers["x-first-death-reason"] == "expired", "%r x-first-death-reason" % body)
        check(props.expiration is None, "%r keeps no expiration" % body)
    check(got[b"persistent"].headers["x-death"][0]["queue"] == "ttl", "queue in x-death")
    check(got[b"expiring"].headers["x-death"][0]["original-expiration"] == str(TTL_MS), "original-expiration")
    conn.close()


if __name__ == "__main__":
    main(test)
