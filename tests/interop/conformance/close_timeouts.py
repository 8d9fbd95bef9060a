#!/usr/bin/env python3
"""Socket handling around connection.close (docs/rabbitmq-behaviour.md section 0), raw sockets.

Takes ~31 s (RabbitMQ's 30 s closing timeout), so it is skipped (exit 0) unless CONFORMANCE_SLOW=1.
"""
import os
import sys
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from amqp_raw import Runner, check, check_eq, connect, connect_channel, expect_silent_close  # noqa: E402

if os.environ.get("CONFORMANCE_SLOW") != "1":
    print("close_timeouts: skipped (takes ~31 s; set CONFORMANCE_SLOW=1 to run)")
    sys.exit(0)

R = Runner("close_timeouts")


def server_close_without_close_ok():
    c = connect_channel(1)
    c.send_method(1, "basic.qos", prefetch_size=5)  # -> connection.close 540
    m = c.recv()
    check_eq((m.name, m.reply_code), ("connection.close", 540), "close")
    dt = expect_silent_close(c, 40)
    check(28 <= dt <= 33, f"socket dropped after {dt:.1f}s, expected ~30s")


def client_close_socket_kept():
    c = connect()
    c.send_method(0, "connection.close", reply_code=200, reply_text="bye")
    m = c.recv()
    check_eq(m.name, "connection.close_ok", "reply")
    dt = expect_silent_close(c, 40)
    check(28 <= dt <= 33, f"socket dropped {dt:.1f}s after close-ok, expected ~30s")


def server_close_with_close_ok():
    c = connect_channel(1)
    c.send_method(1, "basic.qos", prefetch_size=5)
    m = c.recv()
    check_eq(m.name, "connection.close", "close")
    c.send_method(0, "connection.close_ok")
    dt = expect_silent_close(c, 5)
    check(dt < 0.5, f"socket dropped {dt:.2f}s after client close-ok")


CASES = [
    ("server connection.close, client never answers -> socket dropped after ~30 s", server_close_without_close_ok),
    ("client connection.close -> close-ok, socket left open until ~30 s", client_close_socket_kept),
    ("server connection.close + client close-ok -> socket dropped at once", server_close_with_close_ok),
]
with ThreadPoolExecutor(max_workers=len(CASES)) as pool:
    futures = [(label, pool.submit(fn)) for label, fn in CASES]
    for label, fut in futures:
        R.case(label)(lambda fut=fut: fut.result(timeout=60))
R.finish()
