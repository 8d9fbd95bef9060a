#!/usr/bin/env python3
"""Channel-number and connection-state errors after connection.open-ok (docs section 5, first part), raw AMQP."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from amqp_raw import (Conn, Runner, check, check_eq, connect, connect_channel, expect_conn_error,  # noqa: E402
                      expect_ok, assert_still_open)

R = Runner("errors_channel")
RUNNING = "CHANNEL_ERROR - unexpected method in connection state running"


def conn_error(send, code, text, cls, mth, channel_open=False):
    with (connect_channel(1) if channel_open else connect()) as c:
        send(c)
        expect_conn_error(c, code, text, cls, mth)


@R.case("channel.open on channel 0 -> 504 unexpected method in connection state running")
def _():
    conn_error(lambda c: c.send_method(0, "channel.open"), 504, RUNNING, 20, 10)


@R.case("non-connection method on channel 0 -> 504 (carries the method's ids)")
def _():
    conn_error(lambda c: c.send_method(0, "queue.declare", queue="x"), 504, RUNNING, 50, 10)


@R.case("channel.open on an already open channel -> 504 second 'channel.open' seen")
def _():
    conn_error(lambda c: c.send_method(1, "channel.open"), 504, "CHANNEL_ERROR - second 'channel.open' seen", 20, 10,
               channel_open=True)


@R.case("method on a never-opened channel -> 504 expected 'channel.open'")
def _():
    text = "CHANNEL_ERROR - expected 'channel.open'"
    conn_error(lambda c: c.send_method(3, "queue.declare", queue="x"), 504, text, 50, 10)
    conn_error(lambda c: c.send_method(3, "channel.close", reply_code=200), 504, text, 20, 40)
    conn_error(lambda c: c.send_method(3, "channel.close_ok"), 504, text, 20, 41)


@R.case("channel ids above channel_max open fine (2048, 65535; 11 with negotiated channel_max 10)")
def _():
    with connect() as c:
        check_eq(c.tune.channel_max, 2047, "server channel_max")
        for ch in (2047, 2048, 65535):
            m = c.open_channel(ch)
            check_eq(m.channel_id, b"", "open-ok channel_id")
        expect_ok(c, 65535, "queue.declare", "queue.declare_ok", queue="", exclusive=True)
    c = Conn()
    m = c.handshake(channel_max=10)
    check_eq(m.name, "connection.open_ok", "handshake")
    c.open_channel(10)
    c.open_channel(11)
    c.close()


@R.case("connection.open on channel 1 -> 503 COMMAND_INVALID - unimplemented method")
def _():
    conn_error(lambda c: c.send_method(1, "connection.open", virtual_host="/"), 503,
               "COMMAND_INVALID - unimplemented method", 10, 40, channel_open=True)


@R.case("unsolicited channel.close-ok on an open channel -> 503 unimplemented method")
def _():
    conn_error(lambda c: c.send_method(1, "channel.close_ok"), 503, "COMMAND_INVALID - unimplemented method", 20, 41,
               channel_open=True)


@R.case("second connection.open / tune-ok after open / close-ok / connection.blocked from client -> 504")
def _():
    conn_error(lambda c: c.send_method(0, "connection.open", virtual_host="/"), 504, RUNNING, 10, 40)
    conn_error(lambda c: c.send_method(0, "connection.tune_ok", channel_max=2047, frame_max=131072), 504, RUNNING,
               10, 31)
    conn_error(lambda c: c.send_method(0, "connection.close_ok"), 504, RUNNING, 10, 51)
    conn_error(lambda c: c.send_method(0, "connection.blocked", reason="x"), 504, RUNNING, 10, 60)


@R.case("channel error: methods before close-ok are dropped; the id can be reopened after close-ok")
def _():
    with connect_channel(1) as c:
        c.send_method(1, "queue.declare", queue="", passive=True)  # 404
        m = c.wait_for(1, ())
        check_eq((m.name, m.reply_code), ("channel.close", 404), "close")
        c.send_method(1, "queue.declare", queue="ignored")
        c.send_method(1, "basic.qos", prefetch_count=1)
        assert_still_open(c, 0.4)
        c.send_method(1, "channel.close_ok")
        c.open_channel(1)
        expect_ok(c, 1, "basic.qos", "basic.qos_ok", prefetch_count=1)


@R.case("client channel.close -> close-ok; client connection.close -> close-ok")
def _():
    with connect_channel(1) as c:
        expect_ok(c, 1, "channel.close", "channel.close_ok", reply_code=200, reply_text="bye")
        c.send_method(0, "connection.close", reply_code=200, reply_text="bye")
        m = c.wait_for(0, "connection.close_ok")
        check(m.name == "connection.close_ok", f"got {m!r}")
        c.closed_by_peer = True


R.finish()
