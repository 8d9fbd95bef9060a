#!/usr/bin/env python3
"""Default max_message_size (128 MiB) enforcement (docs/rabbitmq-behaviour.md section 4), raw AMQP.

Sends ~256 MiB over loopback (about 2 s).
"""
import os
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from amqp_raw import (FRAME_HEADER, Runner, check_eq, connect_channel, expect_ok, wait_ready)  # noqa: E402

R = Runner("max_message_size")
LIMIT = 134217728


@R.case("a body of exactly 134217728 bytes is accepted")
def _():
    with connect_channel(1) as c:
        q = expect_ok(c, 1, "queue.declare", "queue.declare_ok", queue="", exclusive=True).queue
        c.publish(1, "", q, bytes(LIMIT))
        wait_ready(c, 1, q, 1, timeout=60)
        expect_ok(c, 1, "queue.purge", "queue.purge_ok", queue=q, timeout=30)


@R.case("a content header announcing 134217729 bytes alone triggers nothing")
def _():
    with connect_channel(1) as c:
        c.send_method(1, "basic.publish", exchange="", routing_key="nowhere")
        c.send_frame(FRAME_HEADER, 1, struct.pack(">HHQH", 60, 0, LIMIT + 1, 0))
        check_eq(c.drain(0.5), [], "reaction to the header")


@R.case("a body of 134217729 bytes -> channel.close 406 after the whole body")
def _():
    with connect_channel(1) as c:
        q = expect_ok(c, 1, "queue.declare", "queue.declare_ok", queue="", exclusive=True).queue
        c.publish(1, "", q, bytes(LIMIT + 1))
        m = c.wait_for(1, (), timeout=60)
        check_eq((m.name, m.reply_code, m.reply_text, m.f["class_id"], m.f["method_id"]),
                 ("channel.close", 406, f"PRECONDITION_FAILED - message size {LIMIT + 1} is larger than configured "
                  f"max size {LIMIT}", 60, 40), "close")


R.finish()
