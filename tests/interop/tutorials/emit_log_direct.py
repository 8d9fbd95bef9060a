#!/usr/bin/python3
# Tutorial 4, "Routing": the producer, to the direct exchange 'direct_logs'.
import os
import sys

import pika

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import amqp_env  # noqa: E402  (broker address from AMQP_HOST/AMQP_PORT instead of localhost)

connection = pika.BlockingConnection(amqp_env.params())
channel = connection.channel()

channel.exchange_declare(exchange='direct_logs', exchange_type='direct')

severity = sys.argv[1] if len(sys.argv) > 1 else 'info'
message = ' '.join(sys.argv[2:]) or 'Hello World!'
channel.basic_publish(
    exchange='direct_logs', routing_key=severity, body=message)
print(f" [x] Sent {severity}:{message}")
connection.close()
