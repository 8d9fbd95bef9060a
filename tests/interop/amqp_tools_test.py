#!/usr/bin/python3
"""Debian's amqp-tools (rabbitmq-c's command-line clients) against the broker:
amqp-declare-queue, amqp-publish, amqp-get, amqp-consume (-c count) and amqp-delete-queue.
Every body published must come back, in order, once."""
import os
import shutil
import subprocess
import time

import pika

from driverlib import check, connect, fail, log, main, ready_count

HOST = os.environ.get("AMQP_HOST", "127.0.0.1")
PORT = os.environ.get("AMQP_PORT", "5672")
CONN = ["--server", HOST, "--port", PORT]
QUEUE = "warren.tools"


def tool(name, *args, stdin=None, status=0, timeout=15):
    """Run an amqp-tools program; returns its stdout (bytes)."""
    argv = [name] + CONN + list(args)
    try:
        r = subprocess.run(argv, input=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=timeout)
    except subprocess.TimeoutExpired:
        fail("%s did not finish within %d s" % (" ".join(argv), timeout))
    if status is not None and r.returncode != status:
        fail("%s exited with status %d, want %d; stderr: %s"
             % (" ".join(argv), r.returncode, status, r.stderr.decode(errors="replace").strip()))
    return r


def test():
    for t in ("amqp-declare-queue", "amqp-publish", "amqp-get", "amqp-consume", "amqp-delete-queue"):
        check(shutil.which(t), "%s not found: apt-get install amqp-tools" % t)

    # declare: a named durable queue, and a server-named one
    out = tool("amqp-declare-queue", "-q", QUEUE, "-d").stdout.decode().strip()
    check(out == QUEUE, "amqp-declare-queue printed %r, want %r" % (out, QUEUE))
    out = tool("amqp-declare-queue", "-q", QUEUE, "-d").stdout.decode().strip()
    check(out == QUEUE, "redeclaring printed %r, want %r" % (out, QUEUE))
    gen = tool("amqp-declare-queue", "-q", "").stdout.decode().strip()
    check(gen.startswith("amq.gen-"), "a server-named queue is called %r, want amq.gen-*" % gen)

    # publish: -b bodies with properties, and -l one message per stdin line
    tool("amqp-publish", "-r", QUEUE, "-b", "hello one", "-p", "-C", "text/plain", "-H", "x-tool: amqp-publish")
    tool("amqp-publish", "-r", QUEUE, "-b", "hello two")
    tool("amqp-publish", "-r", QUEUE, "-l", stdin=b"line a\nline b\nline c\n")
    tool("amqp-publish", "-r", gen, "-b", "to the server-named queue")
    conn = connect()
    ch = conn.channel()
    n = ready_count(ch, QUEUE)
    check(n == 5, "%s holds %d ready messages after 5 publishes" % (QUEUE, n))

    # the properties came through: look with pika, then put the message back (a requeued
    # message goes back to the head of the queue, as RabbitMQ does)
    method, props, body = ch.basic_get(QUEUE, auto_ack=False)
    check(body == b"hello one", "basic.get returned %r, want b'hello one'" % body)
    check(props.delivery_mode == 2, "amqp-publish -p: delivery_mode %r, want 2" % props.delivery_mode)
    check(props.content_type == "text/plain", "amqp-publish -C: content_type %r" % props.content_type)
    hdr = (props.headers or {}).get("x-tool")
    check(hdr in ("amqp-publish", b"amqp-publish"), "amqp-publish -H: headers %r" % props.headers)
    ch.basic_nack(method.delivery_tag, requeue=True)

    # get: one message at a time, body on stdout
    got = tool("amqp-get", "-q", QUEUE).stdout
    check(got == b"hello one", "amqp-get returned %r, want b'hello one'" % got)
    got = tool("amqp-get", "-q", gen).stdout
    check(got == b"to the server-named queue", "amqp-get %s returned %r" % (gen, got))

    # consume: -c stops after that many; the command (cat) gets each body on stdin
    out = tool("amqp-consume", "-q", QUEUE, "-c", "2", "-p", "1", "cat").stdout
    # (amqp-publish -l keeps each line's newline in the body)
    check(out == b"hello twoline a\n", "amqp-consume -c 2 printed %r, want b'hello twoline a\\n'" % out)
    out = tool("amqp-consume", "-q", QUEUE, "-c", "2", "-A", "cat").stdout
    check(out == b"line b\nline c\n", "amqp-consume -c 2 -A printed %r, want b'line b\\nline c\\n'" % out)
    n = ready_count(ch, QUEUE)
    check(n == 0, "%s holds %d ready messages after consuming everything" % (QUEUE, n))

    # amqp-get on an empty queue fails without hanging
    r = tool("amqp-get", "-q", QUEUE, status=None)
    check(r.returncode != 0 and r.stdout == b"", "amqp-get on an empty queue: status %d, output %r"
          % (r.returncode, r.stdout))

    # consume from an exchange: amqp-consume declares and binds its own queue; publish
    # (mandatory, confirmed) until the binding exists, then one more
    p = subprocess.Popen(["amqp-consume"] + CONN + ["-e", "amq.topic", "-r", "tools.#", "-c", "2", "cat"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        ch.confirm_delivery()
        deadline = time.monotonic() + 10
        while True:
            try:
                ch.basic_publish("amq.topic", "tools.probe", b"probe;", mandatory=True)
                break
            except pika.exceptions.UnroutableError:
                check(time.monotonic() < deadline, "amqp-consume -e amq.topic never bound its queue")
                time.sleep(0.05)
        tool("amqp-publish", "-e", "amq.topic", "-r", "tools.x.y", "-b", "via topic")
        try:
            out, err = p.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            fail("amqp-consume -e amq.topic -c 2 did not exit")
        check(p.returncode == 0, "amqp-consume -e exited with %d: %s" % (p.returncode, err.decode(errors="replace")))
        check(out == b"probe;via topic", "amqp-consume -e amq.topic printed %r" % out)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()

    # delete: prints the number of messages the queue held
    tool("amqp-publish", "-r", QUEUE, "-b", "left behind")
    out = tool("amqp-delete-queue", "-q", QUEUE).stdout.decode().strip()
    check(out == "1", "amqp-delete-queue printed %r, want '1'" % out)
    try:
        ch2 = conn.channel()
        ch2.queue_declare(QUEUE, passive=True)
        fail("%s still exists after amqp-delete-queue" % QUEUE)
    except pika.exceptions.ChannelClosedByBroker as e:
        check(e.reply_code == 404, "passive declare of a deleted queue: %d, want 404" % e.reply_code)
    conn.close()
    log("amqp-declare-queue, amqp-publish, amqp-get, amqp-consume, amqp-delete-queue: ok")


if __name__ == "__main__":
    main(test)
