#!/usr/bin/env python3
"""The direct reply-to RPC example of docs/broker.md, with pika (kept identical to the document,
plus a deadline): exits 0 when the reply arrives."""
import os
import time
import uuid

import pika

params = pika.ConnectionParameters(host=os.environ.get("AMQP_HOST", "127.0.0.1"),
                                   port=int(os.environ.get("AMQP_PORT", "5672")))

# The server: answers on whatever reply_to the request carries, through the default exchange.
server = pika.BlockingConnection(params).channel()
server.queue_declare(queue="rpc_queue")


def on_request(ch, method, props, body):
    ch.basic_publish(exchange="", routing_key=props.reply_to,
                     properties=pika.BasicProperties(correlation_id=props.correlation_id),
                     body=str(int(body) * 2).encode())
    ch.basic_ack(method.delivery_tag)


server.basic_consume(queue="rpc_queue", on_message_callback=on_request)

# The client: no reply queue to declare; consume (no-ack) from the pseudo-queue *before* publishing.
conn = pika.BlockingConnection(params)
client = conn.channel()
replies = {}
client.basic_consume(queue="amq.rabbitmq.reply-to", auto_ack=True,
                     on_message_callback=lambda ch, m, props, body: replies.update({props.correlation_id: body}))
corr = str(uuid.uuid4())
client.basic_publish(exchange="", routing_key="rpc_queue", body=b"21",
                     properties=pika.BasicProperties(reply_to="amq.rabbitmq.reply-to", correlation_id=corr))
deadline = time.monotonic() + 10
while corr not in replies:
    assert time.monotonic() < deadline, "no reply within 10 s"
    server.connection.process_data_events(time_limit=0.1)
    conn.process_data_events(time_limit=0.1)
print("21 * 2 =", replies[corr].decode())
server.queue_delete(queue="rpc_queue")
