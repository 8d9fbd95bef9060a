#!/usr/bin/env python3
# The seed's sender, unchanged but for the broker address (AMQP_HOST / AMQP_PORT).
# usage: sender.py SEVERITY MESSAGE...
import os
import sys

import pika

severity = sys.argv[1] if len(sys.argv) > 1 else 'info'
message = ' '.join(sys.argv[2:]) or 'Hello World!'

# channel
connection = pika.BlockingConnection(pika.ConnectionParameters(
    os.environ.get('AMQP_HOST', 'localhost'), int(os.environ.get('AMQP_PORT', '5672'))))
channel = connection.channel()

# exchange
channel.exchange_declare(exchange='direct_logs', exchange_type='direct')

channel.basic_publish(
    exchange='direct_logs',                                    # talk to the exchange
    routing_key=severity,                                      # send to the routing
    body=message,                                              # message to be send
    properties=pika.BasicProperties(
        delivery_mode=2,                                       # make message persistent
    )
)
print(" [x] Sent %r:%r" % (severity, message))
connection.close()
