#!/usr/bin/python3
# Tutorial 2, "Work queues": the worker (prefetch 1, manual acks, one second per '.').
# Added for testing: WORKER_SECONDS_PER_DOT scales the sleep (default 1, as in the tutorial).
import os
import sys

import pika

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import amqp_env  # noqa: E402  (broker address from AMQP_HOST/AMQP_PORT instead of localhost)

import time

SECONDS_PER_DOT = float(os.environ.get('WORKER_SECONDS_PER_DOT', '1'))


def main():
    connection = pika.BlockingConnection(amqp_env.params())
    channel = connection.channel()

    channel.queue_declare(queue='task_queue', durable=True)
    print(' [*] Waiting for messages. To exit press CTRL+C')

    def callback(ch, method, properties, body):
        print(f" [x] Received {body.decode()}")
        time.sleep(body.count(b'.') * SECONDS_PER_DOT)
        print(" [x] Done")
        ch.basic_ack(delivery_tag=method.delivery_tag)

    channel.basic_qos(prefetch_count=1)
    channel.basic_consume(queue='task_queue', on_message_callback=callback)

    channel.start_consuming()


if __name__ == '__main__':
    try:
        main()
    except KeyboardInterrupt:
        print('Interrupted')
        try:
            sys.exit(0)
        except SystemExit:
            os._exit(0)
