#!/usr/bin/python3
"""Acked messages do not come back after a crash (kill -9); delivered-but-unacked ones do,
flagged redelivered, in their original order; never-delivered ones come back unflagged."""
import time

import pika

from durability_fixture import check, log, main

PERSISTENT = pika.BasicProperties(delivery_mode=2)
N = 100


def test(ctx):
    b = ctx.broker()
    conn = pika.BlockingConnection(b.pika_params())
    ch = conn.channel()
    ch.confirm_delivery()
    ch.queue_declare("aq", durable=True)
    for i in range(N):
        ch.basic_publish("", "aq", b"%d" % i, PERSISTENT)
    # Take 70 (tags 1..70), ack 1..40 and 50, nack 60 with requeue=false; 41..49, 51..59, 61..70
    # stay unacked; 71..99 were never delivered.
    tags = []
    for _ in range(70):
        m, _, body = ch.basic_get("aq", auto_ack=False)
        tags.append((m.delivery_tag, int(body)))
    ch.basic_ack(40, multiple=True)
    ch.basic_ack(50)
    ch.basic_nack(60, requeue=False)
    ch.basic_qos(prefetch_count=1)  # a round trip: the acks above have reached the broker
    time.sleep(1.0)  # acks are recorded lazily (written at once, synced within 200 ms)
    b.restart(crash=True)  # the connection with the unacked deliveries dies with the broker

    want = [i for i in range(40, 70) if i not in (49, 59)] + list(range(70, N))
    conn = pika.BlockingConnection(b.pika_params())
    ch = conn.channel()
    count = ch.queue_declare("aq", passive=True).method.message_count
    check(count == len(want), "%d messages after the crash, want %d" % (count, len(want)))
    got = []
    for _ in range(count):
        m, _, body = ch.basic_get("aq", auto_ack=False)
        got.append((int(body), m.redelivered))
    check([g[0] for g in got] == want, "order/content after crash: %r" % got)
    for body, redelivered in got:
        check(redelivered == (body < 70), "message %d redelivered=%s" % (body, redelivered))
    # ack half of them, leave the rest unacked, clean stop: the acked ones stay gone
    ch.basic_ack(len(want) // 2, multiple=True)
    conn.close()  # unacked ones are requeued (still persisted)
    b.restart(crash=False)
    conn = pika.BlockingConnection(b.pika_params())
    ch = conn.channel()
    count = ch.queue_declare("aq", passive=True).method.message_count
    check(count == len(want) - len(want) // 2, "after second restart: %d" % count)
    first = ch.basic_get("aq", auto_ack=True)
    check(int(first[2]) == want[len(want) // 2] and first[0].redelivered, "first after second restart: %r" % (first,))
    conn.close()
    log("acks across restarts: ok")


if __name__ == "__main__":
    main(test)
