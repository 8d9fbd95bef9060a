#!/usr/bin/env python3
"""The pika session recorded in pika_session.txt (tools/amqp_capture.py between this script and a
warren-broker; see README.md). Names are client-chosen so that a replay needs no server reply."""
import os
import sys

import pika

url = os.environ.get("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/%2F?heartbeat=0&frame_max=4096")
conn = pika.BlockingConnection(pika.URLParameters(url))
ch = conn.channel()
ch.exchange_declare("rec.direct", exchange_type="direct")
ch.exchange_declare("rec.topic", exchange_type="topic", durable=False, auto_delete=True)
for q in ("rec.a", "rec.b", "rec.dlq"):
    ch.queue_delete(q)
ch.queue_declare("rec.dlq")
ch.queue_declare("rec.a", arguments={"x-dead-letter-exchange": "", "x-dead-letter-routing-key": "rec.dlq"})
ch.queue_declare("rec.b", arguments={"x-max-length": 3})
ch.queue_bind("rec.a", "rec.direct", "k.a")
ch.queue_bind("rec.b", "rec.topic", "k.#")
ch.confirm_delivery()
props = pika.BasicProperties(content_type="text/plain", headers={"h": 1, "s": "x"}, delivery_mode=1,
                             correlation_id="c-1", message_id="m-1")
for i in range(20):
    ch.basic_publish("rec.direct", "k.a", ("body %d " % i).encode() * (i + 1), props)
for i in range(6):
    ch.basic_publish("rec.topic", "k.x.%d" % i, b"t" * 1000 * i)
try:
    ch.basic_publish("rec.direct", "nowhere", b"unroutable", mandatory=True)
except pika.exceptions.UnroutableError:
    pass
ch.basic_publish("", "rec.a", b"x" * 9000)  # three body frames at frame_max 4096
m = ch.basic_get("rec.a", auto_ack=False)
ch.basic_nack(m[0].delivery_tag, requeue=False)  # dead-lettered to rec.dlq
ch.basic_qos(prefetch_count=5)
got = []


def on_message(c, method, properties, body):
    got.append(method.delivery_tag)
    if len(got) % 3 == 0:
        c.basic_ack(method.delivery_tag, multiple=True)
    elif len(got) % 7 == 0:
        c.basic_reject(method.delivery_tag, requeue=True)


ch.basic_consume("rec.a", on_message, consumer_tag="rec.ctag.a")
while len(got) < 15:
    conn.process_data_events(time_limit=1)
ch.basic_cancel("rec.ctag.a")
ch.basic_recover(requeue=True)
ch.queue_purge("rec.b")
ch.queue_unbind("rec.b", "rec.topic", "k.#")
ch2 = conn.channel()
ch2.tx_select()
ch2.basic_publish("", "rec.dlq", b"in a transaction")
ch2.tx_commit()
ch2.close()
ch.queue_delete("rec.b")
ch.queue_delete("rec.a")
ch.exchange_delete("rec.direct")
conn.close()
print("pika session done", file=sys.stderr)
