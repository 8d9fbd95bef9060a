#!/usr/bin/env python3
"""Length limits: x-max-length, x-max-length-bytes, x-overflow drop-head / reject-publish / reject-publish-dlx
(docs/rabbitmq-extensions-behaviour.md section 5)."""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from extlib import (Runner, bind, bodies, check, check_eq, close_tuple, confirm_select, connect_channel, consume,  # noqa: E402
                    declare, deliveries, eventually, expect_ok, get, get_all, plain, pub, qdelete, ready, reject,
                    ttable_get, uniq, wait_count, xdeclare, xdelete)

R = Runner("max_length")
P = uniq("ml")
c = connect_channel(1)
_n = [0]
CLEANUP_Q, CLEANUP_X = [], []
_ch = [10]


def queue(tag, args=None):
    _n[0] += 1
    q = f"{P}-{_n[0]}-{tag}"
    declare(c, 1, q, args)
    CLEANUP_Q.append(q)
    return q


def dlx_pair():
    _n[0] += 1
    dlx = f"{P}-{_n[0]}-dlx"
    xdeclare(c, 1, dlx, "fanout")
    CLEANUP_X.append(dlx)
    dq = queue("dq")
    bind(c, 1, dq, dlx)
    return dlx, dq


def confirm_channel():
    _ch[0] += 1
    ch = _ch[0]
    c.open_channel(ch)
    confirm_select(c, ch)
    return ch


_seq = {}


def confirms(ch, n, timeout=3.0):
    """Publisher confirms on ch up to sequence number n: ['ack'|'nack', ...] for the sequence numbers after those
    returned by the previous call.  multiple=true covers every outstanding number <= tag (RabbitMQ sets it at random
    depending on timing, so it is not asserted)."""
    first = _seq.get(ch, 0) + 1
    res = {}
    deadline = time.monotonic() + timeout
    while len(res) < n - first + 1:
        m = c.wait_for(ch, ("basic.ack", "basic.nack", "basic.return"), max(0.001, deadline - time.monotonic()))
        check(m.name in ("basic.ack", "basic.nack"), f"expected a confirm, got {m!r}")
        kind = m.name[6:]
        for s_ in (range(first, m.delivery_tag + 1) if m.multiple else [m.delivery_tag]):
            res.setdefault(s_, kind)
    _seq[ch] = n
    return [res[s_] for s_ in range(first, n + 1)]


@R.case("drop-head (default): oldest ready messages dropped and dead-lettered (maxlen); publisher acked")
def _():
    dlx, dq = dlx_pair()
    q = queue("dh", {"x-max-length": 3, "x-dead-letter-exchange": dlx})
    ch = confirm_channel()
    for i in range(5):
        pub(c, ch, q, f"m{i}")
    check_eq(confirms(ch, 5), ["ack"] * 5, "confirms")
    wait_count(c, 1, dq, 2)
    check_eq(bodies(get_all(c, 1, q)), ["m2", "m3", "m4"], "kept")
    ms = get_all(c, 1, dq)
    check_eq(bodies(ms), ["m0", "m1"], "dead-lettered")
    e = plain(ttable_get(ms[0].properties["_theaders"], "x-death"))[0]
    check_eq((e["reason"], e["queue"], e["count"]), (b"maxlen", q.encode(), 1), "x-death")
    check_eq(ms[0].properties["headers"]["x-first-death-reason"], b"maxlen", "x-first-death-reason")


@R.case("x-max-length 0: dropped unless a consumer takes it immediately")
def _():
    q = queue("zero", {"x-max-length": 0})
    pub(c, 1, q, "x")
    time.sleep(0.1)
    check_eq(ready(c, 1, q), 0, "ready")
    c.open_channel(2)
    consume(c, 2, q, "z", no_ack=True)
    pub(c, 1, q, "y")
    check_eq(bodies(deliveries(c, 2, 1, 1.0)), ["y"], "delivered to the consumer")
    expect_ok(c, 2, "channel.close", "channel.close_ok", reply_code=200, reply_text="")


@R.case("only ready messages count: 2 unacked + 2 new fit in x-max-length 2")
def _():
    q = queue("ua", {"x-max-length": 2})
    pub(c, 1, q, "u0")
    pub(c, 1, q, "u1")
    wait_count(c, 1, q, 2)
    c.open_channel(3)
    g = [get(c, 3, q, no_ack=False) for _ in range(2)]
    check_eq([m.body for m in g], [b"u0", b"u1"], "held unacked")
    pub(c, 1, q, "n0")
    pub(c, 1, q, "n1")
    wait_count(c, 1, q, 2)
    pub(c, 1, q, "n2")
    time.sleep(0.1)
    check_eq(ready(c, 1, q), 2, "ready after a third new one")
    # requeue of the 2 unacked into the full queue: they go back to the head, and the head is dropped
    expect_ok(c, 3, "channel.close", "channel.close_ok", reply_code=200, reply_text="")
    time.sleep(0.2)
    check_eq(bodies(get_all(c, 1, q)), ["n1", "n2"], "after requeue into the full queue")


@R.case("drop-head + requeue: requeued message returns to the head and is the one dropped")
def _():
    q = queue("rq", {"x-max-length": 1})
    pub(c, 1, q, "a")
    wait_count(c, 1, q, 1)
    m = get(c, 1, q, no_ack=False)
    pub(c, 1, q, "b")
    pub(c, 1, q, "c")
    wait_count(c, 1, q, 1)
    reject(c, 1, m.delivery_tag, requeue=True)
    time.sleep(0.2)
    check_eq(bodies(get_all(c, 1, q)), ["c"], "kept")


@R.case("x-max-length-bytes counts body bytes only (headers ignored); empty bodies count 0")
def _():
    q = queue("bytes", {"x-max-length-bytes": 10})
    pub(c, 1, q, "12345", headers={"big": "x" * 1000})
    pub(c, 1, q, "67890")
    wait_count(c, 1, q, 2)
    pub(c, 1, q, "a")
    eventually(lambda: ready(c, 1, q), lambda n: n == 2, "count after +1 byte", timeout=2)
    check_eq(bodies(get_all(c, 1, q)), ["67890", "a"], "head dropped")
    pub(c, 1, q, "x" * 11)
    time.sleep(0.1)
    check_eq(ready(c, 1, q), 0, "an 11-byte body alone is dropped")
    for b in ("", "", "x" * 10, ""):
        pub(c, 1, q, b)
    wait_count(c, 1, q, 4)
    check_eq(bodies(get_all(c, 1, q)), ["", "", "x" * 10, ""], "empties + 10 bytes")


@R.case("reject-publish without confirms: refused messages silently discarded, not dead-lettered")
def _():
    dlx, dq = dlx_pair()
    q = queue("rp", {"x-max-length": 2, "x-overflow": "reject-publish", "x-dead-letter-exchange": dlx})
    for i in range(4):
        pub(c, 1, q, f"r{i}")
    expect_ok(c, 1, "basic.qos", "basic.qos_ok")
    time.sleep(0.2)
    check_eq(bodies(get_all(c, 1, q)), ["r0", "r1"], "kept")
    check_eq(ready(c, 1, dq), 0, "dead-lettered")


@R.case("reject-publish with confirms: ack, ack, nack, nack (unacked messages don't count)")
def _():
    dlx, dq = dlx_pair()
    q = queue("rpc", {"x-max-length": 2, "x-overflow": "reject-publish", "x-dead-letter-exchange": dlx})
    ch = confirm_channel()
    for i in range(4):
        pub(c, ch, q, f"c{i}")
    check_eq(confirms(ch, 4), ["ack", "ack", "nack", "nack"],
             "confirms")
    c.open_channel(4)
    held = [get(c, 4, q, no_ack=False) for _ in range(2)]
    check_eq([m.body for m in held], [b"c0", b"c1"], "held")
    for i in range(3):
        pub(c, ch, q, f"d{i}")
    check_eq(confirms(ch, 7), ["ack", "ack", "nack"], "with 2 unacked")
    # requeue of the 2 unacked is not refused: the queue exceeds its limit
    expect_ok(c, 4, "channel.close", "channel.close_ok", reply_code=200, reply_text="")
    wait_count(c, 1, q, 4)
    check_eq(bodies(get_all(c, 1, q)), ["c0", "c1", "d0", "d1"], "after requeue (4 > x-max-length 2)")
    check_eq(ready(c, 1, dq), 0, "nothing dead-lettered")


@R.case("reject-publish: mandatory to a full queue -> nack only, no basic.return")
def _():
    q = queue("rpm", {"x-max-length": 1, "x-overflow": "reject-publish"})
    ch = confirm_channel()
    pub(c, ch, q, "fill")
    c.publish(ch, "", q, b"mand", None, mandatory=True)
    check_eq(confirms(ch, 2), ["ack", "nack"], "confirms")
    check_eq([m.name for m in c.drain(0.3) if m.channel == ch], [], "nothing else")


@R.case("reject-publish: routed to a full and a free queue -> free queue gets it, publisher gets nack")
def _():
    full = queue("full", {"x-max-length": 1, "x-overflow": "reject-publish"})
    free = queue("free")
    _n[0] += 1
    fan = f"{P}-{_n[0]}-fan"
    xdeclare(c, 1, fan, "fanout")
    CLEANUP_X.append(fan)
    bind(c, 1, full, fan)
    bind(c, 1, free, fan)
    ch = confirm_channel()
    pub(c, ch, "", "first", exchange=fan)
    pub(c, ch, "", "second", exchange=fan)
    check_eq(confirms(ch, 2), ["ack", "nack"], "confirms")
    check_eq(bodies(get_all(c, 1, free)), ["first", "second"], "free queue")
    check_eq(bodies(get_all(c, 1, full)), ["first"], "full queue")


@R.case("reject-publish-dlx: refused message nacked and dead-lettered with reason maxlen")
def _():
    dlx, dq = dlx_pair()
    q = queue("rpd", {"x-max-length": 2, "x-overflow": "reject-publish-dlx", "x-dead-letter-exchange": dlx})
    ch = confirm_channel()
    for i in range(4):
        pub(c, ch, q, f"x{i}", expiration="60000")
    check_eq(confirms(ch, 4), ["ack", "ack", "nack", "nack"],
             "confirms")
    wait_count(c, 1, dq, 2)
    check_eq(bodies(get_all(c, 1, q)), ["x0", "x1"], "kept")
    ms = get_all(c, 1, dq)
    check_eq(bodies(ms), ["x2", "x3"], "dead-lettered")
    xd = ttable_get(ms[0].properties["_theaders"], "x-death")
    check_eq([k for k, _ in xd[1][0][1]],
             ["count", "reason", "queue", "time", "exchange", "routing-keys", "original-expiration"], "x-death keys")
    e = plain(xd)[0]
    check_eq((e["reason"], e["queue"], e["original-expiration"]), (b"maxlen", q.encode(), b"60000"), "x-death")
    check("expiration" not in ms[0].properties, "expiration removed")


@R.case("reject-publish with x-max-length-bytes: refused by body size")
def _():
    q = queue("rpb", {"x-max-length-bytes": 10, "x-overflow": "reject-publish"})
    ch = confirm_channel()
    for b in ("x" * 6, "y" * 4, "z", "w" * 11):
        pub(c, ch, q, b)
    check_eq(confirms(ch, 4), ["ack", "ack", "nack", "nack"],
             "confirms")
    get_all(c, 1, q)
    pub(c, ch, q, "w" * 11)
    check_eq(confirms(ch, 5), ["nack"], "an 11-byte body into the empty queue")


@R.case("reject-publish in a tx channel: tx.commit -> 406 partial tx completion (90/20)")
def _():
    q = queue("tx", {"x-max-length": 1, "x-overflow": "reject-publish"})
    c.open_channel(5)
    expect_ok(c, 5, "tx.select", "tx.select_ok")
    for i in range(3):
        pub(c, 5, q, f"t{i}")
    c.send_method(5, "tx.commit")
    m = c.wait_for(5, "tx.commit_ok")
    check(m.name == "channel.close", f"expected channel.close, got {m!r}")
    c.send_method(5, "channel.close_ok")
    check_eq(close_tuple(m), (406, "PRECONDITION_FAILED - partial tx completion", 90, 20), "close")
    time.sleep(0.1)
    check_eq(bodies(get_all(c, 1, q)), ["t0"], "enqueued")
    c.open_channel(5)
    expect_ok(c, 5, "tx.select", "tx.select_ok")
    pub(c, 5, q, "single")
    expect_ok(c, 5, "tx.commit", "tx.commit_ok")
    pub(c, 5, q, "over")
    c.send_method(5, "tx.commit")
    m = c.wait_for(5, "tx.commit_ok")
    check(m.name == "channel.close", f"second commit: expected channel.close, got {m!r}")
    c.send_method(5, "channel.close_ok")
    check_eq(close_tuple(m), (406, "PRECONDITION_FAILED - partial tx completion", 90, 20), "close (single)")


try:
    for q in CLEANUP_Q:
        qdelete(c, 1, q)
    for x in CLEANUP_X:
        xdelete(c, 1, x)
    c.close()
except Exception as e:  # noqa: BLE001
    print(f"  (cleanup failed: {e})")
R.finish()
