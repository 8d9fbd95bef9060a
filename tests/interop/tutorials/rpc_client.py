#!/usr/bin/python3
# Tutorial 6, "RPC": the client, with an exclusive callback queue and a correlation id.
# Added for testing: the numbers to ask for come from argv (default 30, as in the
# tutorial), and call() gives up after RPC_TIMEOUT seconds instead of waiting forever.
import os
import sys

import pika

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import amqp_env  # noqa: E402  (broker address from AMQP_HOST/AMQP_PORT instead of localhost)

import time
import uuid

RPC_TIMEOUT = float(os.environ.get('RPC_TIMEOUT', '30'))


class FibonacciRpcClient(object):

    def __init__(self):
        self.connection = pika.BlockingConnection(amqp_env.params())

        self.channel = self.connection.channel()

        result = self.channel.queue_declare(queue='', exclusive=True)
        self.callback_queue = result.method.queue

        self.channel.basic_consume(
            queue=self.callback_queue,
            on_message_callback=self.on_response,
            auto_ack=True)

        self.response = None
        self.corr_id = None

    def on_response(self, ch, method, props, body):
        if self.corr_id == props.correlation_id:
            self.response = body

    def call(self, n):
        self.response = None
        self.corr_id = str(uuid.uuid4())
        self.channel.basic_publish(
            exchange='',
            routing_key='rpc_queue',
            properties=pika.BasicProperties(
                reply_to=self.callback_queue,
                correlation_id=self.corr_id,
            ),
            body=str(n))
        deadline = time.monotonic() + RPC_TIMEOUT
        while self.response is None:
            if time.monotonic() > deadline:
                raise TimeoutError(f"no answer to fib({n}) within {RPC_TIMEOUT} s")
            self.connection.process_data_events(time_limit=1)
        return int(self.response)


fibonacci_rpc = FibonacciRpcClient()

for n in [int(a) for a in sys.argv[1:]] or [30]:
    print(f" [x] Requesting fib({n})")
    response = fibonacci_rpc.call(n)
    print(f" [.] Got {response}")
