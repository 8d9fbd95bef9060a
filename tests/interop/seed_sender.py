#!/usr/bin/python3
"""The seed document's sender, as written there: talks to the 'direct_logs' direct
exchange, never to a queue, and marks every message persistent (delivery_mode 2).

    seed_sender.py [severity] [message...]

Only the broker address is configurable (AMQP_HOST/AMQP_PORT, see amqp_env.py); severity
and message come from argv as in the tutorial the seed follows (defaults: info, Hello World!).
"""
import os
import sys

import pika

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import amqp_env  # noqa: E402

severity = sys.argv[1] if len(sys.argv) > 1 else 'info'
message = ' '.join(sys.argv[2:]) or 'Hello World!'

# channel
connection = pika.BlockingConnection(amqp_env.params())
channel = connection.channel()

# exchange
channel.exchange_declare(exchange='direct_logs', exchange_type='direct')

channel.basic_publish(
    exchange='direct_logs',                                    # talk to the exchange
    routing_key=severity,                                      # send to the routing
    body=message,                                              # message to be send
    properties=pika.BasicProperties(
        delivery_mode = 2,                                     # make message persistent
    )
)
print(" [x] Sent %r:%r" % (severity, message))
connection.close()
