"""Helpers for the RabbitMQ-extension scripts: re-exports the raw client of ../conformance/amqp_raw.py and adds
typed field-table decoding (to assert exact header types and key order, e.g. of `x-death`), polling helpers and
small wrappers for declare / publish / get / consume.

Typed values: every field value is decoded as a pair (type_char, value); a table is a list of (key, typed) pairs in
wire order, an array a list of typed values.  `plain()` turns a typed value back into plain Python values.
"""

import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "conformance"))
import amqp_raw  # noqa: E402
from amqp_raw import (BASIC_PROPS, DEFAULT_TIMEOUT, HOST, PORT, WARREN, Conn, ConnectionClosed, Reader,  # noqa: E402,F401
                      TestFailure, check, check_eq, connect, connect_channel, encode_method, expect_ch_error,
                      expect_conn_error, expect_ok, frame, uniq, wait_ready, FRAME_METHOD, FRAME_HEADER, FRAME_BODY)


# ---------------------------------------------------------------- typed tables

class TypedReader(Reader):
    def ttable(self):
        r = TypedReader(self.longstr())
        out = []
        while r.p < len(r.d):
            k = r.shortstr()
            out.append((k, r.tvalue()))
        return out

    def tvalue(self):
        t = chr(self.d[self.p])
        if t == "F":
            self.p += 1
            return ("F", self.ttable())
        if t == "A":
            self.p += 1
            r = TypedReader(self.longstr())
            out = []
            while r.p < len(r.d):
                out.append(r.tvalue())
            return ("A", out)
        return (t, self.value())


def plain(tv):
    """typed value -> plain python (tables become dicts, arrays lists)."""
    t, v = tv
    if t == "F":
        return {k: plain(x) for k, x in v}
    if t == "A":
        return [plain(x) for x in v]
    return v


def ttable_get(tt, key):
    for k, v in tt:
        if k == key:
            return v
    raise KeyError(key)


def decode_props_typed(r):
    """Like amqp_raw.decode_props, but also stores the headers table typed under '_theaders'."""
    r = r if isinstance(r, TypedReader) else _retype(r)
    flags = r.unpack(">H")
    props = {}
    for i, (name, t) in enumerate(BASIC_PROPS):
        if flags & (1 << (15 - i)):
            if t == "S":
                props[name] = r.shortstr()
            elif t == "T":
                tt = r.ttable()
                props["_theaders"] = tt
                props[name] = {k: plain(v) for k, v in tt}
            elif t == "o":
                props[name] = r.unpack("B")
            elif t == "L":
                props[name] = r.unpack(">Q")
    return props


def _retype(r):
    tr = TypedReader(r.d)
    tr.p = r.p
    # keep the original reader in step: Conn.next_method does not reuse it after decode_props
    return tr


amqp_raw.decode_props = decode_props_typed  # Conn.next_method looks it up at call time


# ---------------------------------------------------------------- small helpers

def eventually(fn, pred, what, timeout=5.0, interval=0.05):
    """Poll fn() until pred(result) holds; fail with the last value after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        got = fn()
        if pred(got):
            return got
        if time.monotonic() > deadline:
            raise TestFailure(f"{what}: condition not reached within {timeout}s, last value {got!r}")
        time.sleep(interval)


def declare(c, ch, queue, args=None, **flags):
    m = expect_ok(c, ch, "queue.declare", "queue.declare_ok", queue=queue, arguments=args or {}, **flags)
    return m


def xdeclare(c, ch, name, type="direct", args=None, **flags):
    return expect_ok(c, ch, "exchange.declare", "exchange.declare_ok", exchange=name, type=type,
                     arguments=args or {}, **flags)


def bind(c, ch, queue, exchange, rk="", args=None):
    return expect_ok(c, ch, "queue.bind", "queue.bind_ok", queue=queue, exchange=exchange, routing_key=rk,
                     arguments=args or {})


def qdelete(c, ch, queue):
    return expect_ok(c, ch, "queue.delete", "queue.delete_ok", queue=queue)


def xdelete(c, ch, name):
    return expect_ok(c, ch, "exchange.delete", "exchange.delete_ok", exchange=name)


def counts(c, ch, queue):
    """(message_count, consumer_count) via passive declare."""
    m = expect_ok(c, ch, "queue.declare", "queue.declare_ok", queue=queue, passive=True)
    return m.message_count, m.consumer_count


def ready(c, ch, queue):
    return counts(c, ch, queue)[0]


def wait_count(c, ch, queue, n, timeout=5.0):
    return eventually(lambda: ready(c, ch, queue), lambda x: x == n, f"ready count of {queue} == {n}", timeout)


def get(c, ch, queue, no_ack=True):
    """basic.get -> get_ok Method (with .body/.properties) or None for get_empty."""
    m = expect_ok(c, ch, "basic.get", ("basic.get_ok", "basic.get_empty"), queue=queue, no_ack=no_ack)
    return m if m.name == "basic.get_ok" else None


def get_all(c, ch, queue, no_ack=True, limit=10000):
    out = []
    while len(out) < limit:
        m = get(c, ch, queue, no_ack)
        if m is None:
            return out
        out.append(m)
    return out


def bodies(ms):
    return [m.body.decode() for m in ms]


def pub(c, ch, queue_or_rk, body, exchange="", **props):
    """Publish with properties given as keyword arguments (e.g. expiration='100', priority=3, headers={...})."""
    c.publish(ch, exchange, queue_or_rk, body, props or None)


def confirm_select(c, ch):
    return expect_ok(c, ch, "confirm.select", "confirm.select_ok")


def consume(c, ch, queue, tag="", no_ack=False, args=None, exclusive=False):
    m = expect_ok(c, ch, "basic.consume", "basic.consume_ok", queue=queue, consumer_tag=tag, no_ack=no_ack,
                  arguments=args or {}, exclusive=exclusive)
    return m.consumer_tag


def qos(c, ch, n, global_=False):
    return expect_ok(c, ch, "basic.qos", "basic.qos_ok", prefetch_count=n, **{"global": global_})


def deliveries(c, ch=None, n=None, timeout=1.0):
    """Collect basic.deliver methods (optionally only on `ch`) until n arrived or `timeout` s of quiet.
    Other methods stay queued in c.pending."""
    out = []
    deadline = time.monotonic() + timeout
    keep = []
    # take from pending first
    for m in list(c.pending):
        if m.name == "basic.deliver" and (ch is None or m.channel == ch) and (n is None or len(out) < n):
            out.append(m)
            c.pending.remove(m)
    while n is None or len(out) < n:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        try:
            m = c.next_method(left)
        except TimeoutError:
            break
        if m.name == "basic.deliver" and (ch is None or m.channel == ch):
            out.append(m)
        else:
            keep.append(m)
    c.pending.extend(keep)
    return out


def ack(c, ch, tag, multiple=False):
    c.send_method(ch, "basic.ack", delivery_tag=tag, multiple=multiple)


def nack(c, ch, tag, multiple=False, requeue=True):
    c.send_method(ch, "basic.nack", delivery_tag=tag, multiple=multiple, requeue=requeue)


def reject(c, ch, tag, requeue=True):
    c.send_method(ch, "basic.reject", delivery_tag=tag, requeue=requeue)


def exists(c, ch, queue):
    c.send_method(ch, "queue.declare", queue=queue, passive=True)
    m = c.wait_for(ch, "queue.declare_ok")
    if m.name == "channel.close":
        c.send_method(ch, "channel.close_ok")
        c.open_channel(ch)
        check_eq(m.reply_code, 404, f"passive declare of {queue}: {m.reply_text}")
        return False
    return True


def close_tuple(m):
    return (m.reply_code, m.reply_text, m.f["class_id"], m.f["method_id"])


class Runner(amqp_raw.Runner):
    """amqp_raw.Runner that also prints each case's duration."""

    def case(self, label):
        def deco(fn):
            self.count += 1
            t0 = time.monotonic()
            try:
                fn()
                print(f"  ok   {label} ({time.monotonic() - t0:.1f}s)", flush=True)
            except Exception as e:  # noqa: BLE001 - report any failure uniformly
                self.failures.append((label, e))
                print(f"  FAIL {label} ({time.monotonic() - t0:.1f}s): {type(e).__name__}: {e}", flush=True)
            return fn
        return deco
