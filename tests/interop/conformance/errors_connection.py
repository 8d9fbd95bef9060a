#!/usr/bin/env python3
"""Connection establishment: protocol header, authentication, tuning, heartbeats (docs section 6), raw sockets.

Many of these cases wait for RabbitMQ's 3 s / 10 s handshake delays, so they run in parallel threads.
"""
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from amqp_raw import (WARREN, FRAME_HEARTBEAT, PROTOCOL_HEADER, Conn, ConnectionClosed, Runner,  # noqa: E402
                      check, check_eq, decode_method, enc_table, expect_conn_error, expect_silent_close)

R = Runner("errors_connection")
AUTH_TEXT = ("ACCESS_REFUSED - Login was refused using authentication mechanism PLAIN. For details see the "
             "broker logfile.")
CAPS = {"capabilities": {"authentication_failure_close": True}}
PLAIN_OK = b"\x00guest\x00guest"


def handshake_refused(c, code, text, class_id, method_id):
    """Warren answers handshake errors with connection.close at once (RabbitMQ: silent close after 3 s)."""
    expect_conn_error(c, code, text, class_id, method_id, timeout=2)
    c.sock.close()


def silent_close_after(c, low, high):
    dt = expect_silent_close(c, high + 2)
    check(low <= dt <= high, f"silent close after {dt:.2f}s, expected {low}-{high}s")
    return dt


def started(props=None, mech="PLAIN", resp=PLAIN_OK, locale="en_US"):
    """Connection with start-ok sent; returns (conn, first reply or None)."""
    c = Conn(timeout=15)
    c.send_raw(PROTOCOL_HEADER)
    m = c.recv()
    check_eq(m.name, "connection.start", "first method")
    c.send_method(0, "connection.start_ok", client_properties=props if props is not None else {},
                  mechanism=mech, response=resp, locale=locale)
    return c


def tuned(**tune):
    c = started()
    m = c.recv()
    check_eq(m.name, "connection.tune", "after start-ok")
    args = dict(channel_max=2047, frame_max=131072, heartbeat=0)
    args.update(tune)
    c.send_method(0, "connection.tune_ok", **args)
    return c


# ------------------------------------------------------------------ cases (functions, run in parallel)

def bad_headers():
    for hdr in (b"AMQP\x00\x00\x09\x00", b"AMQP\x00\x00\x09\x02", b"AMQP\x00\x00\x0a\x00", b"AMQP\x00\x00\x08\x00",
                b"AMQP\x00\x01\x00\x00", b"AMQP\x03\x01\x00\x00", b"HTTP/1.1\r\n", b"GET / HTTP/1.1\r\n\r\n",
                b"XXXXXXXX"):
        c = Conn(timeout=5)
        c.send_raw(hdr)
        got = c.read_bytes(8, timeout=2)
        check_eq(got, PROTOCOL_HEADER, f"reply to header {hdr!r}")
        dt = expect_silent_close(c, 2)
        check(dt < 1, f"close after {dt:.2f}s for {hdr!r}")
        c.sock.close()


def legacy_headers():
    if WARREN:  # Warren speaks 0-9-1 only: AMQP 0-9 / 0-8 headers get the 0-9-1 header back
        for hdr in (b"AMQP\x01\x01\x00\x09", b"AMQP\x01\x01\x09\x01"):
            c = Conn(timeout=5)
            c.send_raw(hdr)
            check_eq(c.read_bytes(8, timeout=2), PROTOCOL_HEADER, f"reply to header {hdr!r}")
            c.sock.close()
        return
    for hdr, ver, caps_empty in ((b"AMQP\x01\x01\x00\x09", (0, 9), False), (b"AMQP\x01\x01\x09\x01", (8, 0), True)):
        c = Conn(timeout=5)
        c.send_raw(hdr)
        ftype, ch, payload = c.read_frame()
        m = decode_method(ch, payload)
        check_eq((m.name, m.version_major, m.version_minor), ("connection.start",) + ver, f"start for {hdr!r}")
        check_eq(m.server_properties["capabilities"] == {}, caps_empty, f"empty capabilities for {hdr!r}")
        c.sock.close()


def short_header():
    c = Conn(timeout=15)
    c.send_raw(b"AMQP")
    silent_close_after(c, 9, 11.5)


def no_header():
    c = Conn(timeout=15)
    silent_close_after(c, 9, 11.5)


def missing_vhost():
    c = tuned()
    c.send_method(0, "connection.open", virtual_host="nosuch")
    expect_conn_error(c, 530, "NOT_ALLOWED - vhost nosuch not found", 10, 40)
    c.sock.close()


def bad_password_with_cap_close_ok():
    for user, pw in (("guest", "wrong"), ("nobody", "x")):
        c = started(props=CAPS, resp=b"\x00" + user.encode() + b"\x00" + pw.encode())
        t0 = time.monotonic()
        expect_conn_error(c, 403, AUTH_TEXT, 0, 0, timeout=1)  # sends close-ok
        check(time.monotonic() - t0 < 0.5, "close must be immediate")
        dt = expect_silent_close(c, 2)
        check(dt < 0.5, f"socket dropped {dt:.2f}s after close-ok")


def bad_password_with_cap_no_close_ok():
    c = started(props=CAPS, resp=b"\x00guest\x00wrong")
    m = c.recv(timeout=1)
    check_eq((m.name, m.reply_code, m.reply_text), ("connection.close", 403, AUTH_TEXT), "close")
    silent_close_after(c, 2.5, 4.5)


def bad_password_without_cap():
    c = started(props={"product": "x"}, resp=b"\x00guest\x00wrong")
    silent_close_after(c, 0, 1) if WARREN else silent_close_after(c, 2.5, 4.5)


def bad_mechanism():
    c = started(props=CAPS, mech="FOO", resp=b"x")
    if WARREN:
        return handshake_refused(c, 503, "COMMAND_INVALID - unknown authentication mechanism 'FOO'", 10, 11)
    silent_close_after(c, 2.5, 4.5)


def lowercase_mechanism():
    c = started(props=CAPS, mech="plain")
    if WARREN:
        return handshake_refused(c, 503, "COMMAND_INVALID - unknown authentication mechanism 'plain'", 10, 11)
    silent_close_after(c, 2.5, 4.5)


def garbage_plain_response():
    c = started(props=CAPS, resp=b"garbage")
    if WARREN:
        return handshake_refused(c, 403, AUTH_TEXT, 0, 0)
    silent_close_after(c, 2.5, 4.5)


def amqplain_and_odd_locale():
    c = started(mech="AMQPLAIN", resp=enc_table({"LOGIN": "guest", "PASSWORD": "guest"})[4:])
    check_eq(c.recv().name, "connection.tune", "AMQPLAIN")
    c.sock.close()
    c = started(locale="xx_XX")
    check_eq(c.recv().name, "connection.tune", "locale xx_XX")
    c.sock.close()


def bad_tune(**tune):
    def run():
        c = tuned(**tune)
        c.send_method(0, "connection.open", virtual_host="/")
        if WARREN:
            # Warren: 0 means "no limit" (the server's), a channel_max above 2047 is lowered,
            # and frame_max outside 4096..131072 is a clear 530.
            fm = tune.get("frame_max", 131072)
            if fm and fm > 131072:
                return handshake_refused(c, 530, f"NOT_ALLOWED - frame_max={fm} > 131072 max size", 10, 31)
            if fm and fm < 4096:
                return handshake_refused(c, 530, f"NOT_ALLOWED - frame_max={fm} < 4096 min size", 10, 31)
            check_eq(c.recv().name, "connection.open_ok", f"tune {tune}")
            return c.close()
        silent_close_after(c, 2.5, 4.5)
    return run


def good_tunes():
    for tune in (dict(frame_max=4096), dict(channel_max=1), dict(heartbeat=1000)):
        c = tuned(**tune)
        c.send_method(0, "connection.open", virtual_host="/")
        check_eq(c.recv().name, "connection.open_ok", f"tune {tune}")
        c.close()


def open_without_tune_ok():
    c = started()
    check_eq(c.recv().name, "connection.tune", "tune")
    c.send_method(0, "connection.open", virtual_host="/")
    if WARREN:
        return handshake_refused(c, 503, "COMMAND_INVALID - unexpected method connection.open during "
                                 "connection handshake", 10, 40)
    silent_close_after(c, 2.5, 4.5)


def tune_ok_instead_of_start_ok():
    c = Conn(timeout=15)
    c.send_raw(PROTOCOL_HEADER)
    c.recv()
    c.send_method(0, "connection.tune_ok", channel_max=2047, frame_max=131072)
    if WARREN:
        return handshake_refused(c, 503, "COMMAND_INVALID - unexpected method connection.tune-ok during "
                                 "connection handshake", 10, 31)
    silent_close_after(c, 2.5, 4.5)


def channel_open_before_start_ok():
    c = Conn(timeout=15)
    c.send_raw(PROTOCOL_HEADER)
    c.recv()
    c.send_method(1, "channel.open")
    if WARREN:
        return handshake_refused(c, 503, "COMMAND_INVALID - unexpected method channel.open during "
                                 "connection handshake", 20, 10)
    silent_close_after(c, 2.5, 4.5)


def channel_open_before_connection_open():
    c = tuned()
    c.send_method(1, "channel.open")
    expect_conn_error(c, 505, "UNEXPECTED_FRAME - type 1, all octets = <<0,20,0,10,0>>", 0, 0)
    c.sock.close()


def heartbeat_silent_client():
    c = Conn(timeout=15)
    check_eq(c.handshake(heartbeat=1).name, "connection.open_ok", "handshake")
    t0 = time.monotonic()
    beats = []
    try:
        while True:
            ftype, ch, payload = c.read_frame(timeout=6)
            check_eq((ftype, ch, payload), (FRAME_HEARTBEAT, 0, b""), "only heartbeat frames expected")
            beats.append(time.monotonic() - t0)
    except ConnectionClosed:
        dt = time.monotonic() - t0
    check(2.3 <= dt <= 4.0, f"closed after {dt:.2f}s, expected ~3s")
    check(len(beats) >= 4, f"expected heartbeats every ~0.5s, got {len(beats)} at {beats}")
    gaps = [b - a for a, b in zip(beats, beats[1:])]
    check(all(0.3 <= g <= 0.7 for g in gaps), f"heartbeat gaps {gaps}")


def heartbeat_active_client():
    c = Conn(timeout=15)
    check_eq(c.handshake(heartbeat=1).name, "connection.open_ok", "handshake")
    t0 = time.monotonic()
    while time.monotonic() - t0 < 4:
        c.send_frame(FRAME_HEARTBEAT, 0, b"")
        try:
            c.read_frame(timeout=0.4)
        except TimeoutError:
            pass
    c.open_channel(1)  # still alive
    c.close()


def heartbeat_zero():
    c = Conn(timeout=15)
    check_eq(c.handshake(heartbeat=0).name, "connection.open_ok", "handshake")
    try:
        f = c.read_frame(timeout=2)
        raise AssertionError(f"unexpected frame {f}")
    except TimeoutError:
        pass
    c.close()


CASES = [
    ("bad protocol headers -> server sends AMQP\\x00\\x00\\x09\\x01 and closes at once", bad_headers),
    ("legacy headers AMQP 1 1 0 9 / AMQP 1 1 9 1 -> connection.start 0-9 / 8-0", legacy_headers),
    ("only 4 header bytes -> silent close after ~10 s", short_header),
    ("nothing sent -> silent close after ~10 s", no_header),
    ("connection.open to a missing vhost -> 530 NOT_ALLOWED (10/40)", missing_vhost),
    ("wrong password/user with authentication_failure_close -> immediate 403 (0/0); socket dropped on close-ok",
     bad_password_with_cap_close_ok),
    ("wrong password with capability, no close-ok -> socket dropped after ~3 s", bad_password_with_cap_no_close_ok),
    ("wrong password without capability -> silent close after ~3 s", bad_password_without_cap),
    ("unknown mechanism FOO -> silent close after ~3 s", bad_mechanism),
    ("mechanism 'plain' (lower case) -> silent close after ~3 s", lowercase_mechanism),
    ("malformed PLAIN response -> silent close after ~3 s", garbage_plain_response),
    ("AMQPLAIN works; locale xx_XX accepted", amqplain_and_odd_locale),
    ("tune-ok channel_max=0 -> silent close ~3 s", bad_tune(channel_max=0)),
    ("tune-ok channel_max=3000 -> silent close ~3 s", bad_tune(channel_max=3000)),
    ("tune-ok frame_max=0 -> silent close ~3 s", bad_tune(frame_max=0)),
    ("tune-ok frame_max=200000 -> silent close ~3 s", bad_tune(frame_max=200000)),
    ("tune-ok frame_max=4095 -> silent close ~3 s", bad_tune(frame_max=4095)),
    ("tune-ok frame_max=4096 / channel_max=1 / heartbeat=1000 accepted", good_tunes),
    ("connection.open without tune-ok -> silent close ~3 s", open_without_tune_ok),
    ("tune-ok instead of start-ok -> silent close ~3 s", tune_ok_instead_of_start_ok),
    ("channel.open before start-ok -> silent close ~3 s", channel_open_before_start_ok),
    ("channel.open after tune-ok, before connection.open -> 505 (0/0)", channel_open_before_connection_open),
    ("heartbeat=1, silent client: heartbeats every 0.5 s, then silent close ~3 s after open-ok",
     heartbeat_silent_client),
    ("heartbeat=1 with client heartbeats stays open", heartbeat_active_client),
    ("heartbeat=0: no heartbeat frames", heartbeat_zero),
]

with ThreadPoolExecutor(max_workers=len(CASES)) as pool:
    futures = [(label, pool.submit(fn)) for label, fn in CASES]
    for label, fut in futures:
        R.case(label)(lambda fut=fut: fut.result(timeout=30))
R.finish()
