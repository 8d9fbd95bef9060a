#!/usr/bin/env python3
# The seed's receiver, unchanged but for the broker address (AMQP_HOST / AMQP_PORT) and an
# optional message count after which it stops (so that a demo or a test can end).
# usage: receiver.py [--count N] SEVERITY...
import os
import sys
import time

import pika

args = sys.argv[1:]
count = None
if len(args) >= 2 and args[0] == '--count':
    count = int(args[1])
    args = args[2:]
severities = args or ['info']

# channel
connection = pika.BlockingConnection(pika.ConnectionParameters(
    os.environ.get('AMQP_HOST', 'localhost'), int(os.environ.get('AMQP_PORT', '5672'))))
channel = connection.channel()

# exchange
channel.exchange_declare(exchange='direct_logs', exchange_type='direct')

# queue: server-named, exclusive (deleted with this connection), durable
result = channel.queue_declare(queue='', exclusive=True, durable=True)
queue_name = result.method.queue
for severity in severities:
    # receive only the messages that match the routing_key
    channel.queue_bind(exchange='direct_logs', queue=queue_name, routing_key=severity)

received = 0


def callback(ch, method, properties, body):
    global received
    print(" [x] Received %r:%r" % (method.routing_key, body), flush=True)
    time.sleep(body.count(b'.') * 0.1)
    print(" [x] Done", flush=True)
    ch.basic_ack(delivery_tag=method.delivery_tag)
    received += 1
    if count is not None and received >= count:
        ch.stop_consuming()


# fair dispatch: at most one unacknowledged message per worker
channel.basic_qos(prefetch_count=1)
channel.basic_consume(queue=queue_name, on_message_callback=callback)
print(' [*] Waiting for %s logs on %s' % (', '.join(severities), queue_name), flush=True)
channel.start_consuming()
connection.close()
