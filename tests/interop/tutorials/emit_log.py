#!/usr/bin/python3
# Tutorial 3, "Publish/Subscribe": the producer, to the fanout exchange 'logs'.
import os
import sys

import pika

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import amqp_env  # noqa: E402  (broker address from AMQP_HOST/AMQP_PORT instead of localhost)

connection = pika.BlockingConnection(amqp_env.params())
channel = connection.channel()

channel.exchange_declare(exchange='logs', exchange_type='fanout')

message = ' '.join(sys.argv[1:]) or "info: Hello World!"
channel.basic_publish(exchange='logs', routing_key='', body=message)
print(f" [x] Sent {message}")
connection.close()
