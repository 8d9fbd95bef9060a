#!/usr/bin/python3
"""pika-perf: one producer and one consumer on pika (BlockingConnection), for comparing client
throughput against the same broker as warren-perf and rmqc-perf (docs/benchmarks.md).

    bench/pika-perf/pika_perf.py [--uri amqp://guest:guest@127.0.0.1:5672/%2F] [--size 16]
                                 [--duration 10] [--prefetch 100] [--auto-ack] [--json]

The producer and the consumer are separate processes (pika is single-threaded), each with its
own connection, on the queue pika-perf-<pid> (deleted at the end). The producer publishes as
fast as it can; the consumer acks every delivery (or consumes with no-ack). Both run for
--duration seconds from a common start; the result is the number of messages each side handled
in that window. Needs python3-pika (Debian: /usr/bin/python3).
"""

import argparse
import json
import multiprocessing as mp
import os
import sys
import time

import pika


def producer(uri, queue, size, start_at, stop_at, result):
    conn = pika.BlockingConnection(pika.URLParameters(uri))
    ch = conn.channel()
    body = b"x" * size
    while time.monotonic() < start_at:
        time.sleep(0.001)
    sent = 0
    while time.monotonic() < stop_at:
        for _ in range(100):
            ch.basic_publish(exchange="", routing_key=queue, body=body)
        sent += 100
    result.put(("sent", sent))
    conn.close()


def consumer(uri, queue, prefetch, auto_ack, ready, window, result):
    """window: shared [start, stop] (monotonic seconds), set by main once this consumer is ready."""
    conn = pika.BlockingConnection(pika.URLParameters(uri))
    ch = conn.channel()
    if prefetch and not auto_ack:
        ch.basic_qos(prefetch_count=prefetch)
    counted = [0]

    def on_message(channel, method, properties, body):
        if window[0] <= time.monotonic() < window[1]:
            counted[0] += 1
        if not auto_ack:
            channel.basic_ack(method.delivery_tag)

    ch.basic_consume(queue=queue, on_message_callback=on_message, auto_ack=auto_ack)
    ready.set()
    while time.monotonic() < window[1]:
        conn.process_data_events(time_limit=0.1)
    result.put(("received", counted[0]))
    conn.close()


def main(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--uri", default="amqp://guest:guest@127.0.0.1:5672/%2F")
    p.add_argument("--size", type=int, default=16)
    p.add_argument("--duration", type=float, default=10.0)
    p.add_argument("--prefetch", type=int, default=100)
    p.add_argument("--auto-ack", action="store_true")
    p.add_argument("--json", action="store_true")
    a = p.parse_args(argv)

    queue = "pika-perf-%d" % os.getpid()
    setup = pika.BlockingConnection(pika.URLParameters(a.uri))
    setup.channel().queue_declare(queue=queue)
    ready, result = mp.Event(), mp.Queue()
    window = mp.Array("d", [float("inf"), float("inf")], lock=False)
    c = mp.Process(target=consumer, args=(a.uri, queue, a.prefetch, a.auto_ack, ready, window, result))
    c.start()
    if not ready.wait(30):
        c.kill()
        raise SystemExit("pika-perf: the consumer did not start")
    start_at = time.monotonic() + 0.5
    window[0], window[1] = start_at, start_at + a.duration
    pr = mp.Process(target=producer, args=(a.uri, queue, a.size, start_at, start_at + a.duration, result))
    pr.start()
    got = dict(result.get(timeout=a.duration + 60) for _ in range(2))
    pr.join(30)
    c.join(30)
    setup.channel().queue_delete(queue=queue)
    setup.close()
    if pr.exitcode != 0 or c.exitcode != 0:
        raise SystemExit("pika-perf: a worker failed (producer %s, consumer %s)" % (pr.exitcode, c.exitcode))
    res = {"sent": got["sent"], "received": got["received"], "seconds": a.duration,
           "sent_rate": got["sent"] / a.duration, "received_rate": got["received"] / a.duration}
    if a.json:
        print(json.dumps(res))
    else:
        print("sent %d (%.0f msg/s), received %d (%.0f msg/s) in %.2f s"
              % (res["sent"], res["sent_rate"], res["received"], res["received_rate"], a.duration))
    return 0


if __name__ == "__main__":
    mp.set_start_method("fork")
    sys.exit(main(sys.argv[1:]))
