#!/usr/bin/python3
"""The worker-framework examples against a real broker (warren-broker or RabbitMQ, started by
harness.py): each is started with --uri, fed with pika, checked from the outside, stopped with
SIGTERM (drain, exit 0).

    service_examples_test.py BIN_DIR {task_worker|task_worker_drain|rpc|pipeline|pipeline_kill}
"""
import os
import signal
import sys
import time

import pika

from driverlib import Proc, check, connect, fail, log, main, ready_count

BIN = sys.argv[1]
CASE = sys.argv[2]
URI = os.environ["AMQP_URL"] + "%2F"  # the harness' URL ends in "/" (the vhost "")


def example(name, *args):
    return Proc(name, [os.path.join(BIN, "example_" + name), "--uri", URI] + [str(a) for a in args])


def terminate(p, timeout=20):
    p.proc.send_signal(signal.SIGTERM)
    rc = p.wait(timeout)
    check(rc == 0, "%s exited with status %d after SIGTERM" % (p.name, rc))


def wait_depth(ch, queue, n, timeout=30):
    deadline = time.monotonic() + timeout
    while True:
        got = ready_count(ch, queue)
        if got >= n:
            return got
        if time.monotonic() > deadline:
            fail("%s holds %d messages, want %d" % (queue, got, n))
        time.sleep(0.05)


def drain(ch, queue):
    out = []
    while True:
        m, props, body = ch.basic_get(queue, auto_ack=True)
        if m is None:
            return out
        out.append((body.decode(), props))


def publish(ch, queue, bodies, **props):
    for b in bodies:
        ch.basic_publish("", queue, b, pika.BasicProperties(delivery_mode=2, **props))


def fresh(ch, *queues):
    for q in queues:
        ch.queue_delete(q)


def task_worker():
    conn = connect()
    ch = conn.channel()
    q = "svc.jobs"
    fresh(ch, q, q + ".done", q + ".dlq", q + ".retry.1", q + ".retry.2")
    w = example("task_worker", "--queue", q, "--retry-delay-ms", 100, "--concurrency", 4)
    w.wait_for(r"\[\*\] waiting for tasks", timeout=20)
    publish(ch, q, ["ok:1", "fail:1:2", "fail:9:3", "sleep:200:4", "garbage"])
    wait_depth(ch, q + ".done", 3)
    wait_depth(ch, q + ".dlq", 2)
    done = sorted(b for b, _ in drain(ch, q + ".done"))
    check(done == ["1", "2", "4"], "done: %r" % done)
    dead = {b: p for b, p in drain(ch, q + ".dlq")}
    check(sorted(dead) == ["fail:9:3", "garbage"], "dead-lettered: %r" % sorted(dead))
    h = dead["fail:9:3"].headers
    check(h["x-attempts"] == 3, "x-attempts %r" % h.get("x-attempts"))
    check(h["x-exception-message"].startswith("simulated failure on attempt 3"), "x-exception-message %r" % h)
    check(h["x-original-exchange"] == "" and h["x-original-routing-key"] == q, "x-original-*: %r" % h)
    check(dead["fail:9:3"].delivery_mode == 2, "the dead letter keeps its properties")
    check(dead["garbage"].headers["x-attempts"] == 1, "an unknown task is not retried")
    terminate(w)
    w.wait_for(r"\[\*\] stopped: 3 done, 3 retried, 2 dead-lettered", timeout=1)
    conn.close()


def task_worker_drain():
    """SIGTERM while tasks run: within the drain deadline they finish; past it they are
    requeued, never lost. --quorum declares quorum queues (RabbitMQ's kind for clusters)."""
    conn = connect()
    ch = conn.channel()
    q = "svc.drain"
    fresh(ch, q, q + ".done", q + ".dlq", q + ".retry.1", q + ".retry.2")
    w = example("task_worker", "--queue", q, "--concurrency", 2, "--drain-ms", 5000, "--quorum")
    w.wait_for(r"\[\*\] waiting for tasks", timeout=20)
    publish(ch, q, ["sleep:800:a", "sleep:800:b", "ok:c", "ok:d"])
    time.sleep(0.3)  # both lanes busy with the sleeps (the oks wait behind them)
    terminate(w)
    done = sorted(b for b, _ in drain(ch, q + ".done"))
    left = ready_count(ch, q)
    check("a" in done and "b" in done, "the running tasks finished before the exit: %r" % done)
    check(len(done) + left == 4, "nothing lost: done %r, %d left in the queue" % (done, left))

    q2 = "svc.drain2"
    fresh(ch, q2, q2 + ".done", q2 + ".dlq", q2 + ".retry.1", q2 + ".retry.2")
    w2 = example("task_worker", "--queue", q2, "--concurrency", 2, "--drain-ms", 200, "--quorum")
    w2.wait_for(r"\[\*\] waiting for tasks", timeout=20)
    publish(ch, q2, ["sleep:60000:slow1", "sleep:60000:slow2"])
    time.sleep(0.5)
    t0 = time.monotonic()
    terminate(w2)
    check(time.monotonic() - t0 < 10, "the drain deadline was kept")
    wait_depth(ch, q2, 2, timeout=10)  # the unfinished tasks are back in their queue
    log("drain: %r done before the exit, %d left queued; past the deadline 2 requeued" % (done, left))
    for name in (q, q2):
        fresh(ch, name, name + ".done", name + ".dlq", name + ".retry.1", name + ".retry.2")
    conn.close()


def rpc():
    conn = connect()
    ch = conn.channel()
    fresh(ch, "svc.rpc")
    server = example("rpc_server", "--queue", "svc.rpc", "--concurrency", 8)
    server.wait_for(r"Awaiting RPC requests", timeout=20)
    client = example("rpc_client", "--queue", "svc.rpc", "--calls", 2000, "--concurrency", 100)
    client.expect_exit(120)
    line = client.wait_for(r"^calls=(\d+) ok=(\d+) errors=(\d+) timeouts=(\d+) p50_us=(\d+) p99_us=(\d+)$", 1)[0]
    check(line.group(1) == "2000" and line.group(2) == "2000", "summary: %s" % line.group(0))
    log(line.group(0))
    # A third-party client (pika), direct reply-to: an answer and an error reply.
    replies = {}

    def on_reply(_ch, _m, props, body):
        replies[props.correlation_id] = (body.decode(), props.headers or {})

    ch.basic_consume("amq.rabbitmq.reply-to", on_reply, auto_ack=True)
    for cid, body in (("c1", "30"), ("c2", "thirty")):
        ch.basic_publish("", "svc.rpc", body,
                         pika.BasicProperties(reply_to="amq.rabbitmq.reply-to", correlation_id=cid))
    deadline = time.monotonic() + 10
    while len(replies) < 2 and time.monotonic() < deadline:
        conn.process_data_events(time_limit=0.1)
    check(replies.get("c1", ("", {}))[0] == "832040", "fib(30) reply: %r" % (replies.get("c1"),))
    check("x-error" in replies.get("c2", ("", {}))[1], "an error reply carries x-error: %r" % (replies.get("c2"),))
    terminate(server)
    conn.close()


def pipeline():
    conn = connect()
    ch = conn.channel()
    queues = ["pipeline.in", "pipeline.1", "pipeline.2", "pipeline.out"]
    fresh(ch, *queues)
    p = example("pipeline")
    p.wait_for(r"pipeline running", timeout=20)
    inputs = ["in%d" % i for i in range(500)]
    publish(ch, "pipeline.in", inputs)
    wait_depth(ch, "pipeline.out", 500)
    out = drain(ch, "pipeline.out")
    check(sorted(b for b, _ in out) == sorted(i + "|1|2|3" for i in inputs), "every input went through once")
    check(all(props.delivery_mode == 2 for _, props in out), "outputs are persistent")
    terminate(p)
    fresh(ch, *queues)
    conn.close()


def pipeline_kill():
    """SIGKILL mid-stream, restart: no input is lost (some may come out twice)."""
    conn = connect()
    ch = conn.channel()
    queues = ["pipeline.in", "pipeline.1", "pipeline.2", "pipeline.out"]
    fresh(ch, *queues)
    for q in queues:
        ch.queue_declare(q, durable=True)
    inputs = ["k%d" % i for i in range(3000)]
    publish(ch, "pipeline.in", inputs)
    p = example("pipeline")
    p.wait_for(r"pipeline running", timeout=20)
    wait_depth(ch, "pipeline.out", 300)
    p.proc.send_signal(signal.SIGKILL)
    p.wait(10)
    mid = ready_count(ch, "pipeline.out")
    check(mid < 3000, "the pipeline was killed mid-stream (%d of 3000 out)" % mid)
    p2 = example("pipeline")
    p2.wait_for(r"pipeline running", timeout=20)
    seen = set()
    total = 0
    deadline = time.monotonic() + 60
    while len(seen) < 3000 and time.monotonic() < deadline:
        for b, _ in drain(ch, "pipeline.out"):
            seen.add(b)
            total += 1
        time.sleep(0.05)
    missing = [i for i in inputs if i + "|1|2|3" not in seen]
    check(not missing, "%d inputs lost after the kill, e.g. %r" % (len(missing), missing[:5]))
    terminate(p2)
    log("killed at %d outputs; after the restart all 3000 arrived (%d duplicates)" % (mid, total - 3000))
    fresh(ch, *queues)
    conn.close()


CASES = {f.__name__: f for f in (task_worker, task_worker_drain, rpc, pipeline, pipeline_kill)}

if __name__ == "__main__":
    main(CASES[CASE], name="service example %s" % CASE)
