#!/usr/bin/python3
"""The seed document's receiver, as written there: a server-named, exclusive, durable
queue bound to 'direct_logs' by severity, basic_qos(prefetch_count=1), manual acks, and a
callback that sleeps one second per '.' in the body.

    seed_receiver.py [--count N] [--timeout S] severity [severity...]

Added for testing only: the broker address comes from AMQP_HOST/AMQP_PORT, the receiver
binds every severity given, prints " [*] Waiting for logs." once bound, and stops after N
messages (exit 0) or, if they have not all come within S seconds, exits 2.
"""
import argparse
import os
import sys
import time

import pika

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import amqp_env  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument('--count', type=int, default=0, help='stop after this many messages (0: never)')
ap.add_argument('--timeout', type=float, default=60, help='give up after this many seconds')
ap.add_argument('severities', nargs='+')
args = ap.parse_args()

# same as sender
# channel
connection = pika.BlockingConnection(amqp_env.params())
channel = connection.channel()

# exchange
channel.exchange_declare(exchange='direct_logs', exchange_type='direct')

# queue
# we need to make sure that the queue will survive a RabbitMQ node restart(durable)
# Secondly, once the consumer connection is closed, the queue should be deleted. There's an exclusive flag for that:
result = channel.queue_declare(queue='', exclusive=True, durable=True)
queue_name = result.method.queue
# connect the queue with the exchange, receive only the message that match the routing_key
for severity in args.severities:
    channel.queue_bind(exchange='direct_logs', queue=queue_name, routing_key=severity)
print(' [*] Waiting for logs.')

received = 0


def callback(ch, method, properties, body):
    global received
    print(" [x] Received %r" % body)
    time.sleep(body.count(b'.'))
    print(" [x] Done")
    ch.basic_ack(delivery_tag = method.delivery_tag)
    received += 1
    if args.count and received >= args.count:
        ch.stop_consuming()


def give_up():
    print(" [!] Timed out after %.0f s with %d message(s)" % (args.timeout, received))
    sys.exit(2)


# we can use the Channel#basic_qos channel method with the prefetch_count=1 setting.
# This uses the basic.qos protocol method to tell RabbitMQ not to give more than one message to a worker at a time.
# Or, in other words, don't dispatch a new message to a worker until it has processed and acknowledged the previous one.
#  Instead, it will dispatch it to the next worker that is not still busy
channel.basic_qos(prefetch_count=1)

# Manual message acknowledgments are turned on by default.
# In previous examples we explicitly turned them off via the auto_ack=True flag.
# It's time to remove this flag and send a proper acknowledgment from the worker,
# once we're done with a task.
channel.basic_consume(queue=queue_name, on_message_callback=callback)
connection.call_later(args.timeout, give_up)
channel.start_consuming()
connection.close()
print(" [*] Received %d message(s), bye" % received)
