"""Minimal raw AMQP 0-9-1 client used by the conformance scripts.

Gives byte-level control (exact close codes, texts, class/method ids, bad frames) that pika hides.
Every wait is bounded: the socket always has a timeout and every receive takes a deadline.

Broker address: env AMQP_HOST (default 127.0.0.1), AMQP_PORT (default 5672).
"""

import os
import socket
import struct
import sys
import time
from decimal import Decimal

HOST = os.environ.get("AMQP_HOST", "127.0.0.1")
PORT = int(os.environ.get("AMQP_PORT", "5672"))
# True when the harness started a Warren broker: scripts then expect Warren's documented
# deliberate differences (a clear connection.close where RabbitMQ drops the socket silently).
WARREN = os.environ.get("AMQP_SERVER") == "warren"
PROTOCOL_HEADER = b"AMQP\x00\x00\x09\x01"
FRAME_END = 0xCE
DEFAULT_TIMEOUT = 5.0

FRAME_METHOD, FRAME_HEADER, FRAME_BODY, FRAME_HEARTBEAT = 1, 2, 3, 8

# (class_id, method_id) -> (name, [(field, type)]).  Types: o=octet s=short l=long L=longlong
# S=shortstr X=longstr b=bit T=table
METHODS = {
    (10, 10): ("connection.start", [("version_major", "o"), ("version_minor", "o"),
                                    ("server_properties", "T"), ("mechanisms", "X"), ("locales", "X")]),
    (10, 11): ("connection.start_ok", [("client_properties", "T"), ("mechanism", "S"),
                                       ("response", "X"), ("locale", "S")]),
    (10, 20): ("connection.secure", [("challenge", "X")]),
    (10, 21): ("connection.secure_ok", [("response", "X")]),
    (10, 30): ("connection.tune", [("channel_max", "s"), ("frame_max", "l"), ("heartbeat", "s")]),
    (10, 31): ("connection.tune_ok", [("channel_max", "s"), ("frame_max", "l"), ("heartbeat", "s")]),
    (10, 40): ("connection.open", [("virtual_host", "S"), ("capabilities", "S"), ("insist", "b")]),
    (10, 41): ("connection.open_ok", [("known_hosts", "S")]),
    (10, 50): ("connection.close", [("reply_code", "s"), ("reply_text", "S"),
                                    ("class_id", "s"), ("method_id", "s")]),
    (10, 51): ("connection.close_ok", []),
    (10, 60): ("connection.blocked", [("reason", "S")]),
    (10, 61): ("connection.unblocked", []),
    (20, 10): ("channel.open", [("out_of_band", "S")]),
    (20, 11): ("channel.open_ok", [("channel_id", "X")]),
    (20, 20): ("channel.flow", [("active", "b")]),
    (20, 21): ("channel.flow_ok", [("active", "b")]),
    (20, 40): ("channel.close", [("reply_code", "s"), ("reply_text", "S"),
                                 ("class_id", "s"), ("method_id", "s")]),
    (20, 41): ("channel.close_ok", []),
    (40, 10): ("exchange.declare", [("ticket", "s"), ("exchange", "S"), ("type", "S"), ("passive", "b"),
                                    ("durable", "b"), ("auto_delete", "b"), ("internal", "b"),
                                    ("nowait", "b"), ("arguments", "T")]),
    (40, 11): ("exchange.declare_ok", []),
    (40, 20): ("exchange.delete", [("ticket", "s"), ("exchange", "S"), ("if_unused", "b"), ("nowait", "b")]),
    (40, 21): ("exchange.delete_ok", []),
    (40, 30): ("exchange.bind", [("ticket", "s"), ("destination", "S"), ("source", "S"),
                                 ("routing_key", "S"), ("nowait", "b"), ("arguments", "T")]),
    (40, 31): ("exchange.bind_ok", []),
    (40, 40): ("exchange.unbind", [("ticket", "s"), ("destination", "S"), ("source", "S"),
                                   ("routing_key", "S"), ("nowait", "b"), ("arguments", "T")]),
    (40, 51): ("exchange.unbind_ok", []),
    (50, 10): ("queue.declare", [("ticket", "s"), ("queue", "S"), ("passive", "b"), ("durable", "b"),
                                 ("exclusive", "b"), ("auto_delete", "b"), ("nowait", "b"),
                                 ("arguments", "T")]),
    (50, 11): ("queue.declare_ok", [("queue", "S"), ("message_count", "l"), ("consumer_count", "l")]),
    (50, 20): ("queue.bind", [("ticket", "s"), ("queue", "S"), ("exchange", "S"), ("routing_key", "S"),
                              ("nowait", "b"), ("arguments", "T")]),
    (50, 21): ("queue.bind_ok", []),
    (50, 30): ("queue.purge", [("ticket", "s"), ("queue", "S"), ("nowait", "b")]),
    (50, 31): ("queue.purge_ok", [("message_count", "l")]),
    (50, 40): ("queue.delete", [("ticket", "s"), ("queue", "S"), ("if_unused", "b"), ("if_empty", "b"),
                                ("nowait", "b")]),
    (50, 41): ("queue.delete_ok", [("message_count", "l")]),
    (50, 50): ("queue.unbind", [("ticket", "s"), ("queue", "S"), ("exchange", "S"), ("routing_key", "S"),
                                ("arguments", "T")]),
    (50, 51): ("queue.unbind_ok", []),
    (60, 10): ("basic.qos", [("prefetch_size", "l"), ("prefetch_count", "s"), ("global", "b")]),
    (60, 11): ("basic.qos_ok", []),
    (60, 20): ("basic.consume", [("ticket", "s"), ("queue", "S"), ("consumer_tag", "S"), ("no_local", "b"),
                                 ("no_ack", "b"), ("exclusive", "b"), ("nowait", "b"), ("arguments", "T")]),
    (60, 21): ("basic.consume_ok", [("consumer_tag", "S")]),
    (60, 30): ("basic.cancel", [("consumer_tag", "S"), ("nowait", "b")]),
    (60, 31): ("basic.cancel_ok", [("consumer_tag", "S")]),
    (60, 40): ("basic.publish", [("ticket", "s"), ("exchange", "S"), ("routing_key", "S"),
                                 ("mandatory", "b"), ("immediate", "b")]),
    (60, 50): ("basic.return", [("reply_code", "s"), ("reply_text", "S"), ("exchange", "S"),
                                ("routing_key", "S")]),
    (60, 60): ("basic.deliver", [("consumer_tag", "S"), ("delivery_tag", "L"), ("redelivered", "b"),
                                 ("exchange", "S"), ("routing_key", "S")]),
    (60, 70): ("basic.get", [("ticket", "s"), ("queue", "S"), ("no_ack", "b")]),
    (60, 71): ("basic.get_ok", [("delivery_tag", "L"), ("redelivered", "b"), ("exchange", "S"),
                                ("routing_key", "S"), ("message_count", "l")]),
    (60, 72): ("basic.get_empty", [("cluster_id", "S")]),
    (60, 80): ("basic.ack", [("delivery_tag", "L"), ("multiple", "b")]),
    (60, 90): ("basic.reject", [("delivery_tag", "L"), ("requeue", "b")]),
    (60, 100): ("basic.recover_async", [("requeue", "b")]),
    (60, 110): ("basic.recover", [("requeue", "b")]),
    (60, 111): ("basic.recover_ok", []),
    (60, 120): ("basic.nack", [("delivery_tag", "L"), ("multiple", "b"), ("requeue", "b")]),
    (85, 10): ("confirm.select", [("nowait", "b")]),
    (85, 11): ("confirm.select_ok", []),
    (90, 10): ("tx.select", []),
    (90, 11): ("tx.select_ok", []),
    (90, 20): ("tx.commit", []),
    (90, 21): ("tx.commit_ok", []),
    (90, 30): ("tx.rollback", []),
    (90, 31): ("tx.rollback_ok", []),
}
BY_NAME = {v[0]: (k, v[1]) for k, v in METHODS.items()}
CONTENT_METHODS = {"basic.deliver", "basic.get_ok", "basic.return"}

BASIC_PROPS = [("content_type", "S"), ("content_encoding", "S"), ("headers", "T"), ("delivery_mode", "o"),
               ("priority", "o"), ("correlation_id", "S"), ("reply_to", "S"), ("expiration", "S"),
               ("message_id", "S"), ("timestamp", "L"), ("type", "S"), ("user_id", "S"), ("app_id", "S"),
               ("cluster_id", "S")]


class TestFailure(Exception):
    pass


def _excepthook(etype, value, tb):
    """Uncaught errors outside a test case (e.g. broker unreachable during set-up): one clear line, exit 2."""
    import traceback
    traceback.print_exception(etype, value, tb, file=sys.stderr)
    print(f"FATAL ({os.path.basename(sys.argv[0])}): {etype.__name__}: {value}", file=sys.stderr)
    sys.exit(2)


sys.excepthook = _excepthook


def check(cond, msg):
    if not cond:
        raise TestFailure(msg)


def check_eq(actual, expected, what):
    if actual != expected:
        raise TestFailure(f"{what}: expected {expected!r}, got {actual!r}")


# ---------------------------------------------------------------- field tables

def enc_shortstr(s):
    if isinstance(s, str):
        s = s.encode()
    return struct.pack("B", len(s)) + s


def enc_longstr(s):
    if isinstance(s, str):
        s = s.encode()
    return struct.pack(">I", len(s)) + s


def enc_value(v):
    if isinstance(v, tuple) and len(v) == 2 and isinstance(v[0], str) and len(v[0]) == 1:
        t, x = v  # explicit type
        if t == "b": return b"b" + struct.pack(">b", x)
        if t == "B": return b"B" + struct.pack(">B", x)
        if t == "s": return b"s" + struct.pack(">h", x)
        if t == "u": return b"u" + struct.pack(">H", x)
        if t == "I": return b"I" + struct.pack(">i", x)
        if t == "i": return b"i" + struct.pack(">I", x)
        if t == "l": return b"l" + struct.pack(">q", x)
        if t == "f": return b"f" + struct.pack(">f", x)
        if t == "d": return b"d" + struct.pack(">d", x)
        if t == "T": return b"T" + struct.pack(">Q", x)
        if t == "S": return b"S" + enc_longstr(x)
        if t == "x": return b"x" + enc_longstr(x)
        if t == "V": return b"V"
        raise ValueError(t)
    if isinstance(v, bool): return b"t" + struct.pack("B", int(v))
    if isinstance(v, int): return b"l" + struct.pack(">q", v) if not (-2**31 <= v < 2**31) else b"I" + struct.pack(">i", v)
    if isinstance(v, float): return b"d" + struct.pack(">d", v)
    if isinstance(v, (str, bytes)): return b"S" + enc_longstr(v)
    if isinstance(v, dict): return b"F" + enc_table(v)
    if isinstance(v, list):
        body = b"".join(enc_value(x) for x in v)
        return b"A" + struct.pack(">I", len(body)) + body
    if v is None: return b"V"
    raise ValueError(f"cannot encode {v!r}")


def enc_table(d):
    body = b"".join(enc_shortstr(k) + enc_value(v) for k, v in (d or {}).items())
    return struct.pack(">I", len(body)) + body


class Reader:
    def __init__(self, data):
        self.d, self.p = data, 0

    def take(self, n):
        if self.p + n > len(self.d):
            raise ValueError("short read")
        r = self.d[self.p:self.p + n]
        self.p += n
        return r

    def unpack(self, fmt):
        return struct.unpack(fmt, self.take(struct.calcsize(fmt)))[0]

    def shortstr(self):
        return self.take(self.unpack("B")).decode("utf-8", "replace")

    def longstr(self):
        return self.take(self.unpack(">I"))

    def table(self):
        r = Reader(self.longstr())
        out = {}
        while r.p < len(r.d):
            k = r.shortstr()
            out[k] = r.value()
        return out

    def value(self):
        t = chr(self.take(1)[0])
        if t == "t": return bool(self.unpack("B"))
        if t == "b": return self.unpack(">b")
        if t == "B": return self.unpack(">B")
        if t == "s": return self.unpack(">h")
        if t == "u": return self.unpack(">H")
        if t == "I": return self.unpack(">i")
        if t == "i": return self.unpack(">I")
        if t == "l": return self.unpack(">q")
        if t == "f": return self.unpack(">f")
        if t == "d": return self.unpack(">d")
        if t == "D":
            scale = self.unpack("B"); val = self.unpack(">i")
            return Decimal(val).scaleb(-scale)
        if t == "S": return self.longstr()
        if t == "x": return self.longstr()
        if t == "T": return self.unpack(">Q")
        if t == "F": return self.table()
        if t == "V": return None
        if t == "A":
            r = Reader(self.longstr()); out = []
            while r.p < len(r.d):
                out.append(r.value())
            return out
        raise ValueError(f"unknown field type {t!r}")


# ---------------------------------------------------------------- methods

class Method:
    def __init__(self, channel, class_id, method_id, name, fields):
        self.channel, self.class_id, self.method_id, self.name = channel, class_id, method_id, name
        self.f = fields
        self.properties = None
        self.body = None

    def __getattr__(self, k):
        try:
            return self.__dict__["f"][k]
        except KeyError:
            raise AttributeError(k)

    def __repr__(self):
        extra = "" if self.body is None else f" body={self.body!r}"
        return f"<{self.name} ch={self.channel} {self.f}{extra}>"

    def close_tuple(self):
        return (self.reply_code, self.reply_text, self.class_id_f, self.method_id_f)

    @property
    def class_id_f(self):
        return self.f["class_id"]

    @property
    def method_id_f(self):
        return self.f["method_id"]


def encode_args(spec, args):
    out = b""
    bits, nbits = 0, 0
    for name, t in spec:
        v = args.get(name)
        if t == "b":
            if v:
                bits |= 1 << nbits
            nbits += 1
            continue
        if nbits:
            out += struct.pack("B", bits); bits = nbits = 0
        if t == "o": out += struct.pack("B", v or 0)
        elif t == "s": out += struct.pack(">H", v or 0)
        elif t == "l": out += struct.pack(">I", v or 0)
        elif t == "L": out += struct.pack(">Q", v or 0)
        elif t == "S": out += enc_shortstr(v or "")
        elif t == "X": out += enc_longstr(v or b"")
        elif t == "T": out += enc_table(v or {})
    if nbits:
        out += struct.pack("B", bits)
    return out


def encode_method(name, **args):
    (cid, mid), spec = BY_NAME[name]
    return struct.pack(">HH", cid, mid) + encode_args(spec, args)


def decode_method(channel, payload):
    r = Reader(payload)
    cid, mid = r.unpack(">H"), r.unpack(">H")
    if (cid, mid) not in METHODS:
        return Method(channel, cid, mid, f"unknown.{cid}.{mid}", {"raw": payload[4:]})
    name, spec = METHODS[(cid, mid)]
    fields = {}
    bits, bitpos = 0, 8
    for fname, t in spec:
        if t == "b":
            if bitpos == 8:
                bits, bitpos = r.unpack("B"), 0
            fields[fname] = bool(bits & (1 << bitpos)); bitpos += 1
            continue
        bitpos = 8
        if t == "o": fields[fname] = r.unpack("B")
        elif t == "s": fields[fname] = r.unpack(">H")
        elif t == "l": fields[fname] = r.unpack(">I")
        elif t == "L": fields[fname] = r.unpack(">Q")
        elif t == "S": fields[fname] = r.shortstr()
        elif t == "X": fields[fname] = r.longstr()
        elif t == "T": fields[fname] = r.table()
    return Method(channel, cid, mid, name, fields)


def encode_props(props):
    props = props or {}
    flags, out = 0, b""
    for i, (name, t) in enumerate(BASIC_PROPS):
        if name in props and props[name] is not None:
            flags |= 1 << (15 - i)
            v = props[name]
            if t == "S": out += enc_shortstr(v)
            elif t == "T": out += enc_table(v)
            elif t == "o": out += struct.pack("B", v)
            elif t == "L": out += struct.pack(">Q", v)
    return struct.pack(">H", flags) + out


def decode_props(r):
    flags = r.unpack(">H")
    props = {}
    for i, (name, t) in enumerate(BASIC_PROPS):
        if flags & (1 << (15 - i)):
            if t == "S": props[name] = r.shortstr()
            elif t == "T": props[name] = r.table()
            elif t == "o": props[name] = r.unpack("B")
            elif t == "L": props[name] = r.unpack(">Q")
    return props


def frame(ftype, channel, payload):
    return struct.pack(">BHI", ftype, channel, len(payload)) + payload + bytes([FRAME_END])


class ConnectionClosed(Exception):
    """The peer closed/reset the socket (no more frames)."""


class Conn:
    """A raw AMQP connection.  Unsolicited server methods are queued per channel."""

    def __init__(self, host=None, port=None, timeout=DEFAULT_TIMEOUT):
        self.host, self.port = host or HOST, port or PORT
        try:
            self.sock = socket.create_connection((self.host, self.port), timeout=timeout)
        except OSError as e:
            raise TestFailure(f"cannot connect to broker at {self.host}:{self.port}: {e}") from e
        self.sock.settimeout(timeout)
        self.buf = b""
        self.pending = []  # decoded frames not yet consumed
        self.frame_max = 131072
        self.start = None
        self.tune = None
        self.closed_by_peer = False
        self.send_timeout = 30.0

    # -------- low level
    def send_raw(self, data):
        self.sock.settimeout(self.send_timeout)  # _fill() leaves a possibly tiny receive timeout behind
        self.sock.sendall(data)

    def send_frame(self, ftype, channel, payload):
        self.send_raw(frame(ftype, channel, payload))

    def send_method(self, channel, name, **args):
        self.send_frame(FRAME_METHOD, channel, encode_method(name, **args))

    def _fill(self, deadline):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("timed out waiting for data from broker")
        self.sock.settimeout(remaining)
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            raise TimeoutError("timed out waiting for data from broker")
        except ConnectionResetError:
            self.closed_by_peer = True
            raise ConnectionClosed("connection reset by peer")
        if not data:
            self.closed_by_peer = True
            raise ConnectionClosed("connection closed by peer (EOF)")
        self.buf += data

    def read_bytes(self, n, timeout=DEFAULT_TIMEOUT):
        deadline = time.monotonic() + timeout
        while len(self.buf) < n:
            self._fill(deadline)
        r, self.buf = self.buf[:n], self.buf[n:]
        return r

    def read_frame(self, timeout=DEFAULT_TIMEOUT):
        """Returns (type, channel, payload)."""
        deadline = time.monotonic() + timeout
        while len(self.buf) < 7:
            self._fill(deadline)
        ftype, ch, size = struct.unpack(">BHI", self.buf[:7])
        while len(self.buf) < 8 + size:
            self._fill(deadline)
        payload, end = self.buf[7:7 + size], self.buf[7 + size]
        self.buf = self.buf[8 + size:]
        if end != FRAME_END:
            raise TestFailure(f"bad frame end from broker: {end:#x}")
        return ftype, ch, payload

    def next_method(self, timeout=DEFAULT_TIMEOUT):
        """Next method (with content assembled for content-bearing methods); skips heartbeats."""
        deadline = time.monotonic() + timeout
        while True:
            ftype, ch, payload = self.read_frame(max(0.001, deadline - time.monotonic()))
            if ftype == FRAME_HEARTBEAT:
                continue
            if ftype != FRAME_METHOD:
                raise TestFailure(f"unexpected frame type {ftype} on channel {ch}")
            m = decode_method(ch, payload)
            if m.name in CONTENT_METHODS:
                ftype, ch2, hp = self.read_frame(max(0.001, deadline - time.monotonic()))
                check(ftype == FRAME_HEADER, f"expected content header after {m.name}, got frame type {ftype}")
                r = Reader(hp)
                r.unpack(">H"); r.unpack(">H"); size = r.unpack(">Q")
                m.properties = decode_props(r)
                body = b""
                while len(body) < size:
                    ftype, ch3, bp = self.read_frame(max(0.001, deadline - time.monotonic()))
                    check(ftype == FRAME_BODY, f"expected body frame, got {ftype}")
                    body += bp
                m.body = body
            return m

    def recv(self, timeout=DEFAULT_TIMEOUT):
        if self.pending:
            return self.pending.pop(0)
        return self.next_method(timeout)

    def wait_for(self, channel, names, timeout=DEFAULT_TIMEOUT):
        """Wait for one of `names` on `channel`, or a channel.close on it, or a connection.close.
        Other methods are queued."""
        if isinstance(names, str):
            names = (names,)
        for i, m in enumerate(self.pending):
            if (m.channel == channel and (m.name in names or m.name == "channel.close")) \
                    or m.name == "connection.close":
                return self.pending.pop(i)
        deadline = time.monotonic() + timeout
        while True:
            m = self.next_method(max(0.001, deadline - time.monotonic()))
            if m.name == "connection.close":
                return m
            if m.channel == channel and (m.name in names or m.name == "channel.close"):
                return m
            self.pending.append(m)

    def rpc(self, channel, name, reply, timeout=DEFAULT_TIMEOUT, **args):
        self.send_method(channel, name, **args)
        return self.wait_for(channel, reply, timeout)

    def drain(self, timeout=0.3):
        """Collect everything that arrives within `timeout` seconds."""
        out = list(self.pending); self.pending = []
        deadline = time.monotonic() + timeout
        while True:
            try:
                out.append(self.next_method(max(0.001, deadline - time.monotonic())))
            except TimeoutError:
                return out

    # -------- handshake
    def handshake(self, user="guest", password="guest", vhost="/", heartbeat=0, channel_max=None,
                  frame_max=None, client_properties=None, open_vhost=True, timeout=DEFAULT_TIMEOUT):
        self.send_raw(PROTOCOL_HEADER)
        self.start = self.recv(timeout)
        check(self.start.name == "connection.start", f"expected connection.start, got {self.start}")
        props = client_properties if client_properties is not None else {
            "product": "warren-conformance",
            "capabilities": {"consumer_cancel_notify": True, "basic.nack": True,
                             "publisher_confirms": True, "connection.blocked": True,
                             "authentication_failure_close": True},
        }
        resp = b"\x00" + user.encode() + b"\x00" + password.encode()
        self.send_method(0, "connection.start_ok", client_properties=props, mechanism="PLAIN",
                         response=resp, locale="en_US")
        m = self.recv(timeout)
        if m.name != "connection.tune":
            return m
        self.tune = m
        cm = m.channel_max if channel_max is None else channel_max
        fm = m.frame_max if frame_max is None else frame_max
        self.frame_max = fm
        self.send_method(0, "connection.tune_ok", channel_max=cm, frame_max=fm, heartbeat=heartbeat)
        if not open_vhost:
            return m
        self.send_method(0, "connection.open", virtual_host=vhost)
        return self.recv(timeout)

    def open_channel(self, ch):
        m = self.rpc(ch, "channel.open", "channel.open_ok")
        check(m.name == "channel.open_ok", f"channel.open {ch} failed: {m}")
        return m

    def publish(self, ch, exchange, rk, body=b"", props=None, mandatory=False, immediate=False):
        if isinstance(body, str):
            body = body.encode()
        parts = [frame(FRAME_METHOD, ch, encode_method("basic.publish", exchange=exchange, routing_key=rk,
                                                        mandatory=mandatory, immediate=immediate)),
                 frame(FRAME_HEADER, ch, struct.pack(">HHQ", 60, 0, len(body)) + encode_props(props))]
        step = self.frame_max - 8
        view = memoryview(body)
        for i in range(0, len(body), step):
            parts.append(frame(FRAME_BODY, ch, bytes(view[i:i + step])))
            if len(parts) >= 256:
                self.send_raw(b"".join(parts)); parts = []
        if parts:
            self.send_raw(b"".join(parts))

    def close(self):
        try:
            if not self.closed_by_peer:
                self.send_method(0, "connection.close", reply_code=200, reply_text="bye")
                self.wait_for(0, "connection.close_ok", timeout=2)
        except Exception:
            pass
        try:
            self.sock.close()
        except Exception:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()


def connect(**kw):
    """Open a connection and complete the handshake; raise unless connection.open-ok."""
    c = Conn()
    m = c.handshake(**kw)
    check(m.name == "connection.open_ok", f"handshake failed: {m}")
    return c


def connect_channel(ch=1, **kw):
    c = connect(**kw)
    c.open_channel(ch)
    return c


def uniq(prefix):
    return f"{prefix}-{os.getpid()}-{time.monotonic_ns() % 10**9}"


# ---------------------------------------------------------------- tiny test runner

class Runner:
    def __init__(self, name):
        self.name = name
        self.failures = []
        self.count = 0
        self.t0 = time.monotonic()

    def case(self, label):
        def deco(fn):
            self.count += 1
            try:
                fn()
                print(f"  ok   {label}")
            except Exception as e:  # noqa: BLE001 - report any failure uniformly
                self.failures.append((label, e))
                print(f"  FAIL {label}: {type(e).__name__}: {e}")
            return fn
        return deco

    def finish(self):
        dt = time.monotonic() - self.t0
        if self.failures:
            print(f"{self.name}: {len(self.failures)} of {self.count} cases FAILED ({dt:.1f}s)")
            sys.exit(1)
        print(f"{self.name}: all {self.count} cases passed ({dt:.1f}s)")
        sys.exit(0)


def expect_channel_close(c, ch, m, code, text, class_id, method_id, text_match="exact"):
    """Assert `m` is channel.close with these values, then reply close-ok."""
    check(m.name == "channel.close", f"expected channel.close on ch {ch}, got {m}")
    got = (m.reply_code, m.reply_text, m.f["class_id"], m.f["method_id"])
    if text_match == "exact":
        check(got == (code, text, class_id, method_id),
              f"channel.close: expected {(code, text, class_id, method_id)!r}, got {got!r}")
    else:
        import re
        check((got[0], got[2], got[3]) == (code, class_id, method_id) and re.fullmatch(text, got[1]),
              f"channel.close: expected {(code, text, class_id, method_id)!r} (regex), got {got!r}")
    c.send_method(ch, "channel.close_ok")


def expect_connection_close(c, m, code, text, class_id, method_id, text_match="exact"):
    check(m.name == "connection.close", f"expected connection.close, got {m}")
    got = (m.reply_code, m.reply_text, m.f["class_id"], m.f["method_id"])
    if text_match == "exact":
        check(got == (code, text, class_id, method_id),
              f"connection.close: expected {(code, text, class_id, method_id)!r}, got {got!r}")
    else:
        import re
        check((got[0], got[2], got[3]) == (code, class_id, method_id) and re.fullmatch(text, got[1]),
              f"connection.close: expected {(code, text, class_id, method_id)!r} (regex), got {got!r}")
    try:
        c.send_method(0, "connection.close_ok")
    except OSError:
        pass


def _close_matches(m, code, text, class_id, method_id, regex):
    import re
    got = (m.reply_code, m.reply_text, m.f["class_id"], m.f["method_id"])
    if regex:
        return (got[0], got[2], got[3]) == (code, class_id, method_id) and re.fullmatch(text, got[1]) is not None
    return got == (code, text, class_id, method_id)


def expect_ch_error(c, ch, method, code, text, class_id, method_id, reply=None, regex=False, reopen=True,
                    timeout=DEFAULT_TIMEOUT, **args):
    """Send `method` on `ch`; assert a channel.close with exactly these values; ack it; re-open `ch`."""
    c.send_method(ch, method, **args)
    m = c.wait_for(ch, reply or (), timeout)
    check(m.name == "channel.close" and m.channel == ch,
          f"{method}: expected channel.close {code} on ch {ch}, got {m!r}")
    c.send_method(ch, "channel.close_ok")
    if reopen:
        c.open_channel(ch)
    check(_close_matches(m, code, text, class_id, method_id, regex),
          f"{method}: expected channel.close {(code, text, class_id, method_id)!r}, got "
          f"{(m.reply_code, m.reply_text, m.f['class_id'], m.f['method_id'])!r}")
    return m


def expect_conn_error(c, code, text, class_id, method_id, regex=False, timeout=DEFAULT_TIMEOUT):
    """Wait for connection.close with exactly these values (skipping anything else); reply close-ok."""
    deadline = time.monotonic() + timeout
    while True:
        m = c.next_method(max(0.001, deadline - time.monotonic()))
        if m.name == "connection.close":
            break
    check(m.channel == 0, f"connection.close on channel {m.channel}")
    check(_close_matches(m, code, text, class_id, method_id, regex),
          f"expected connection.close {(code, text, class_id, method_id)!r}, got "
          f"{(m.reply_code, m.reply_text, m.f['class_id'], m.f['method_id'])!r}")
    try:
        c.send_method(0, "connection.close_ok")
    except OSError:
        pass
    c.closed_by_peer = True
    return m


def expect_ok(c, ch, method, reply, timeout=DEFAULT_TIMEOUT, **args):
    c.send_method(ch, method, **args)
    m = c.wait_for(ch, reply, timeout)
    check(m.name != "channel.close" and m.name != "connection.close",
          f"{method}: expected {reply}, got {m!r}")
    return m


def expect_silent_close(c, timeout):
    """Assert the server drops the TCP connection within `timeout` s without sending any frame.
    Returns the elapsed time."""
    t0 = time.monotonic()
    deadline = t0 + timeout
    try:
        while True:
            c._fill(deadline)
            check(False, f"expected silent close, but server sent {c.buf[:80]!r}")
    except ConnectionClosed:
        return time.monotonic() - t0
    except TimeoutError:
        raise TestFailure(f"socket still open after {timeout}s (expected the server to drop it)")


def assert_still_open(c, seconds):
    """Assert nothing arrives and the socket stays open for `seconds`."""
    try:
        m = c.next_method(seconds)
        raise TestFailure(f"expected silence, got {m!r}")
    except TimeoutError:
        return


def wait_ready(c, ch, queue, n, timeout=2.0):
    """Poll passive queue.declare until `queue` has exactly `n` ready messages.

    Needed because RabbitMQ enqueues publishes asynchronously: a queue.declare / basic.get sent right after a
    basic.publish on the same channel may not see the message yet."""
    deadline = time.monotonic() + timeout
    while True:
        c.send_method(ch, "queue.declare", queue=queue, passive=True)
        m = c.wait_for(ch, "queue.declare_ok", timeout)
        check(m.name == "queue.declare_ok", f"passive declare of {queue} failed: {m!r}")
        if m.message_count == n:
            return m
        if time.monotonic() > deadline:
            raise TestFailure(f"queue {queue} has {m.message_count} ready messages, expected {n}")
        time.sleep(0.02)
