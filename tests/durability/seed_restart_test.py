#!/usr/bin/python3
"""The seed's pika programs across a broker crash: a named durable queue bound to the seed's
direct_logs keeps the seed sender's persistent messages; the seed receiver's exclusive
server-named queue and the transient direct_logs exchange do not survive (as in RabbitMQ); the
seed programs work again after the restart."""
import os
import re
import subprocess
import sys
import time

import pika

from durability_fixture import HERE, check, log, main

SEED = os.path.join(HERE, "..", "..", "examples", "python-seed")
PY = sys.executable


def seed(b, script, *args, background=False):
    cmd = [PY, os.path.join(SEED, script)] + list(args)
    if background:
        return subprocess.Popen(cmd, env=b.env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    p = subprocess.run(cmd, env=b.env(), capture_output=True, text=True, timeout=30)
    check(p.returncode == 0, "%s failed: %s %s" % (script, p.stdout, p.stderr))
    return p.stdout


def start_receiver(b, *args):
    r = seed(b, "receiver.py", *args, background=True)
    line = r.stdout.readline()
    m = re.search(r"Waiting for .* logs on (\S+)", line)
    check(m, "receiver printed %r" % line)
    return r, m.group(1)


def test(ctx):
    b = ctx.broker()
    conn = pika.BlockingConnection(b.pika_params())
    ch = conn.channel()
    ch.exchange_declare("direct_logs", "direct")  # as the seed declares it: transient
    ch.queue_declare("seed_errors", durable=True)
    ch.queue_bind("seed_errors", "direct_logs", "error")
    conn.close()
    receiver, receiver_queue = start_receiver(b, "--count", "2", "error")
    seed(b, "sender.py", "error", "first", "error")
    seed(b, "sender.py", "info", "just", "info")
    seed(b, "sender.py", "error", "second", "error")
    out, _ = receiver.communicate(timeout=30)
    check(out.count("[x] Done") == 2, "seed receiver output: %r" % out)
    time.sleep(0.5)  # the seed sender uses no confirms: give the store a moment to write
    b.restart(crash=True)

    conn = pika.BlockingConnection(b.pika_params())
    ch = conn.channel()
    check(ch.queue_declare("seed_errors", passive=True).method.message_count == 2, "seed_errors lost messages")
    bodies = [ch.basic_get("seed_errors", auto_ack=True)[2] for _ in range(2)]
    check(bodies == [b"first error", b"second error"], "bodies after restart: %r" % bodies)
    conn.close()
    for kind, name in [("queue", receiver_queue), ("exchange", "direct_logs")]:
        conn = pika.BlockingConnection(b.pika_params())
        try:
            ch = conn.channel()
            (ch.queue_declare if kind == "queue" else ch.exchange_declare)(name, passive=True)
            raise AssertionError("%s %s survived the restart" % (kind, name))
        except pika.exceptions.ChannelClosedByBroker as e:
            check(e.reply_code == 404, "unexpected %r" % e)
        finally:
            if conn.is_open:
                conn.close()
    # The seed's programs work as before on the restarted broker.
    receiver, _ = start_receiver(b, "--count", "1", "error")
    seed(b, "sender.py", "error", "after", "restart")
    out, _ = receiver.communicate(timeout=30)
    check("after restart" in out, "receiver after restart: %r" % out)
    log("seed programs across a crash: ok")


if __name__ == "__main__":
    main(test)
