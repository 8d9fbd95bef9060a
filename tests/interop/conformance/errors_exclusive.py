#!/usr/bin/env python3
"""Exclusive queues accessed from another connection (docs/rabbitmq-behaviour.md section 3), raw AMQP."""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from amqp_raw import (Runner, check_eq, connect_channel, expect_ch_error, expect_ok, uniq, wait_ready)  # noqa: E402

R = Runner("errors_exclusive")
P = uniq("excl")
LOCKED = ("RESOURCE_LOCKED - cannot obtain exclusive access to locked queue '{}' in vhost '/'. It could be "
          "originally declared on another connection or the exclusive property value does not match that of "
          "the original declaration.")

owner = connect_channel(1)
EQ = f"{P}-q"
expect_ok(owner, 1, "queue.declare", "queue.declare_ok", queue=EQ, exclusive=True)
expect_ok(owner, 1, "queue.bind", "queue.bind_ok", queue=EQ, exchange="amq.direct", routing_key=EQ)
owner.publish(1, "", EQ, b"hello")
wait_ready(owner, 1, EQ, 1)
GEN = expect_ok(owner, 1, "queue.declare", "queue.declare_ok", queue="", exclusive=True).queue
other = connect_channel(1)


def locked(method, cls, mth, name=EQ, **args):
    expect_ch_error(other, 1, method, 405, LOCKED.format(name), cls, mth, **args)


@R.case("queue.declare from another connection (exclusive / non-exclusive / passive) -> 405")
def _():
    locked("queue.declare", 50, 10, queue=EQ, exclusive=True)
    locked("queue.declare", 50, 10, queue=EQ)
    locked("queue.declare", 50, 10, queue=EQ, passive=True)


@R.case("basic.consume from another connection -> 405 (60/20)")
def _():
    locked("basic.consume", 60, 20, queue=EQ)


@R.case("queue.bind from another connection -> 405 (50/20)")
def _():
    locked("queue.bind", 50, 20, queue=EQ, exchange="amq.fanout", routing_key="k")


@R.case("queue.unbind of an existing binding from another connection -> 405 (50/50)")
def _():
    locked("queue.unbind", 50, 50, queue=EQ, exchange="amq.direct", routing_key=EQ)


@R.case("queue.unbind of a non-existent binding from another connection is ok (no exclusivity check)")
def _():
    expect_ok(other, 1, "queue.unbind", "queue.unbind_ok", queue=EQ, exchange="amq.direct", routing_key="nope")


@R.case("queue.delete from another connection -> 405 (50/40)")
def _():
    locked("queue.delete", 50, 40, queue=EQ)


@R.case("queue.purge from another connection -> 405 (50/30)")
def _():
    locked("queue.purge", 50, 30, queue=EQ)


@R.case("basic.get from another connection -> 405 (60/70)")
def _():
    locked("basic.get", 60, 70, queue=EQ)


@R.case("passive declare of another connection's exclusive amq.gen queue -> 405")
def _():
    locked("queue.declare", 50, 10, name=GEN, queue=GEN, passive=True)


@R.case("owner still sees its queue intact (message and binding)")
def _():
    m = expect_ok(owner, 1, "queue.declare", "queue.declare_ok", queue=EQ, passive=True)
    check_eq(m.message_count, 1, "message_count")


@R.case("exclusive queue survives closing the declaring channel")
def _():
    expect_ok(owner, 1, "channel.close", "channel.close_ok")
    owner.open_channel(1)
    expect_ok(owner, 1, "queue.declare", "queue.declare_ok", queue=EQ, passive=True)


@R.case("exclusive queue is deleted when its connection closes")
def _():
    owner.close()
    deadline = time.monotonic() + 3
    while True:
        try:
            expect_ch_error(other, 1, "queue.declare", 404, f"NOT_FOUND - no queue '{EQ}' in vhost '/'", 50, 10,
                            queue=EQ, passive=True)
            break
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


other.close()
R.finish()
