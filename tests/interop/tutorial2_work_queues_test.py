#!/usr/bin/python3
"""Tutorial 2, "Work queues": new_task.py / worker.py on the durable 'task_queue'.

Tasks are queued first (persistent messages on a durable queue), then a slow worker
(0.1 s per '.') starts, and a fast one (0.01 s per '.') once the slow one is busy. With
basic_qos(prefetch_count=1) and manual acks the broker must dispatch fairly: the fast worker
does clearly more tasks, every task is done exactly once, and no worker ever holds more than
one unacknowledged message. The last point is checked from outside while the workers run:
  delivered = queued - ready (declare-ok message-count, which excludes unacked messages)
  delivered <= tasks the workers have printed " [x] Received" for + number of workers
(a worker prints Received before it acks, so acked <= received lines, and each worker may
hold at most one message it has not printed yet)."""
import time

import pika

from driverlib import check, connect, log, main, ready_count, tutorial

TASKS = 20
DOTS = "..."  # 0.3 s a task for the slow worker, 0.03 s for the fast one
SLOW_SECONDS_PER_DOT = "0.1"
FAST_SECONDS_PER_DOT = "0.01"


def test():
    conn = connect()
    ch = conn.channel()
    ch.queue_declare(queue="task_queue", durable=True)
    ch.queue_purge(queue="task_queue")

    bodies = ["Task %d%s" % (i, DOTS) for i in range(1, TASKS + 1)]
    # four producers at a time
    for i in range(0, TASKS, 4):
        batch = [tutorial("new_task #%d" % (j + 1), "new_task.py", *bodies[j].split(" "))
                 for j in range(i, min(i + 4, TASKS))]
        for p in batch:
            p.expect_exit(30)
            check(p.matching(r"\[x\] Sent Task"), "%s printed no ' [x] Sent' line" % p.name)
    n = ready_count(ch, "task_queue")
    check(n == TASKS, "task_queue holds %d ready messages after %d new_task runs" % (n, TASKS))

    workers = []

    def received_lines():
        return sum(len(w.matching(r"\[x\] Received ")) for w in workers)

    def sample():
        nworkers = len(workers)
        ready = ready_count(ch, "task_queue")
        delivered = TASKS - ready
        received = received_lines()  # read after the sample: can only be larger
        check(delivered <= received + nworkers,
              "prefetch 1 broken: %d tasks delivered, but the %d worker(s) have only "
              "printed %d ' [x] Received' lines" % (delivered, nworkers, received))
        return ready

    slow = tutorial("slow worker", "worker.py", env={"WORKER_SECONDS_PER_DOT": SLOW_SECONDS_PER_DOT})
    workers.append(slow)
    slow.wait_for(r"\[x\] Received ", timeout=20)
    samples = 0
    for _ in range(3):
        time.sleep(0.03)
        sample()
        samples += 1

    fast = tutorial("fast worker", "worker.py", env={"WORKER_SECONDS_PER_DOT": FAST_SECONDS_PER_DOT})
    workers.append(fast)
    deadline = time.monotonic() + 40
    while True:
        sample()
        samples += 1
        done = sum(len(w.matching(r"\[x\] Done")) for w in workers)
        if done >= TASKS:
            break
        check(time.monotonic() < deadline, "only %d of %d tasks done in time" % (done, TASKS))
        time.sleep(0.02)
    log("all %d tasks done; %d prefetch samples ok" % (TASKS, samples))
    time.sleep(0.3)  # nothing more may arrive

    got = {}
    for w in workers:
        rc = w.interrupt()
        check(rc == 0, "%s exited with status %d after Ctrl+C" % (w.name, rc))
        got[w.name] = [m.group(1) for m in w.matching(r"\[x\] Received (.*)$")]
        dones = len(w.matching(r"\[x\] Done"))
        check(dones == len(got[w.name]), "%s: %d Received but %d Done" % (w.name, len(got[w.name]), dones))
    everything = got["slow worker"] + got["fast worker"]
    check(sorted(everything) == sorted(bodies),
          "tasks done %r, want each of %r exactly once" % (sorted(everything), sorted(bodies)))
    ns, nf = len(got["slow worker"]), len(got["fast worker"])
    log("slow worker did %d tasks, fast worker %d" % (ns, nf))
    check(ns >= 1, "the slow worker did no task")
    # Without prefetch the slow worker, consuming first, would have taken every task. The
    # margin leaves room for a loaded machine, where the fast worker starts late.
    check(nf >= ns + 4, "unfair dispatch: fast worker did %d tasks, slow worker %d" % (nf, ns))
    n = ready_count(ch, "task_queue")
    check(n == 0, "task_queue holds %d ready messages at the end" % n)
    # the queue was declared durable: redeclaring it non-durable must fail (406)
    ch2 = conn.channel()
    try:
        ch2.queue_declare(queue="task_queue", durable=False)
        check(False, "redeclaring the durable task_queue as non-durable succeeded, want 406")
    except pika.exceptions.ChannelClosedByBroker as e:
        check(e.reply_code == 406, "redeclaring task_queue non-durable: got %d, want 406" % e.reply_code)
    conn.close()


if __name__ == "__main__":
    main(test)
