#!/usr/bin/env python3
"""Dead-lettering: when, the x-death / x-first-death-* headers (exact types and key order), routing keys, cycles
(docs/rabbitmq-extensions-behaviour.md section 4)."""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from extlib import (Runner, bind, check, check_eq, connect_channel, consume, declare, deliveries,  # noqa: E402
                    eventually, expect_ok, get, get_all, nack, plain, pub, qdelete, ready, reject, ttable_get, uniq,
                    wait_count, xdeclare, xdelete)

R = Runner("dead_letter")
P = uniq("dl")
c = connect_channel(1)
c.open_channel(2)
_n = [0]
CLEANUP_Q, CLEANUP_X = [], []


def name(tag):
    _n[0] += 1
    return f"{P}-{_n[0]}-{tag}"


def queue(tag, args=None):
    q = name(tag)
    declare(c, 1, q, args)
    CLEANUP_Q.append(q)
    return q


def exchange(tag, type="fanout", args=None):
    x = name(tag)
    xdeclare(c, 1, x, type, args)
    CLEANUP_X.append(x)
    return x


def dlx_pair():
    """A fanout DLX with one bound queue."""
    dlx = exchange("dlx")
    dq = queue("dq")
    bind(c, 1, dq, dlx)
    return dlx, dq


def kill(q, requeue=False, how="reject"):
    """Fetch the head of q without ack and reject/nack it."""
    m = eventually(lambda: get(c, 1, q, no_ack=False), lambda x: x is not None, f"message in {q}", timeout=2)
    if how == "reject":
        reject(c, 1, m.delivery_tag, requeue=requeue)
    else:
        nack(c, 1, m.delivery_tag, requeue=requeue)
    return m


def fetch(q, timeout=3.0):
    return eventually(lambda: get(c, 1, q), lambda x: x is not None, f"dead-lettered message in {q}", timeout)


def xdeath(m):
    return ttable_get(m.properties["_theaders"], "x-death")


def keys_types(entry):
    """[(key, type)] of one typed x-death entry."""
    check_eq(entry[0], "F", "x-death entry type")
    return [(k, v[0]) for k, v in entry[1]]


FIRST_KEYS = [("count", "l"), ("reason", "S"), ("queue", "S"), ("time", "T"), ("exchange", "S"),
              ("routing-keys", "A")]
SORTED_KEYS = [("count", "l"), ("exchange", "S"), ("queue", "S"), ("reason", "S"), ("routing-keys", "A"),
               ("time", "T")]


def check_first_death_headers(m, reason, q, exchange, rks, orig_exp=None, extra_before=(), extra_after=()):
    """Exact typed headers of a message after its first death."""
    now = time.time()
    th = m.properties["_theaders"]
    xd = xdeath(m)
    check_eq(xd[0], "A", "x-death type")
    check_eq(len(xd[1]), 1, "x-death entries")
    e = xd[1][0]
    want_keys = FIRST_KEYS + ([("original-expiration", "S")] if orig_exp is not None else [])
    check_eq(keys_types(e), want_keys, "x-death entry keys/types in wire order")
    v = plain(e)
    t = v.pop("time")
    check(abs(t - now) < 120, f"x-death time {t} is not 'now' ({now:.0f})")
    want = {"count": 1, "reason": reason.encode(), "queue": q.encode(), "exchange": exchange.encode(),
            "routing-keys": [k.encode() for k in rks]}
    if orig_exp is not None:
        want["original-expiration"] = orig_exp.encode()
    check_eq(v, want, "x-death entry values")
    check(all(x[0] == "S" for x in e[1][4][1][1]), "routing-keys elements are longstr")
    want_top = list(extra_before) + [
        ("x-death", "A"), ("x-first-death-exchange", "S"), ("x-first-death-queue", "S"),
        ("x-first-death-reason", "S")] + list(extra_after)
    check_eq([(k, tv[0]) for k, tv in th], want_top, "header keys/types in wire order")
    h = m.properties["headers"]
    check_eq((h["x-first-death-exchange"], h["x-first-death-queue"], h["x-first-death-reason"]),
             (exchange.encode(), q.encode(), reason.encode()), "x-first-death-* values")


@R.case("reject requeue=false: delivered via the DLX with exact x-death/x-first-death-*; expiration removed")
def _():
    dlx, dq = dlx_pair()
    src = queue("src", {"x-dead-letter-exchange": dlx})
    pub(c, 1, src, "r1", headers={"h": "v"}, expiration="60000", message_id="mid", priority=3, delivery_mode=2,
        correlation_id="cid", content_type="text/plain")
    kill(src)
    m = fetch(dq)
    check_eq((m.exchange, m.routing_key, m.redelivered, m.body), (dlx, src, False, b"r1"), "delivery fields")
    props = {k: v for k, v in m.properties.items() if k not in ("headers", "_theaders")}
    check_eq(props, {"content_type": "text/plain", "delivery_mode": 2, "priority": 3, "correlation_id": "cid",
                     "message_id": "mid"}, "properties (expiration removed, others kept)")
    check_first_death_headers(m, "rejected", src, "", [src], orig_exp="60000", extra_before=[("h", "S")])


@R.case("nack requeue=false, single and multiple: dead-lettered in order, reason rejected")
def _():
    dlx, dq = dlx_pair()
    src = queue("src", {"x-dead-letter-exchange": dlx})
    for i in range(4):
        pub(c, 1, src, f"n{i}")
    wait_count(c, 1, src, 4)
    tags = [get(c, 1, src, no_ack=False).delivery_tag for _ in range(4)]
    nack(c, 1, tags[0], multiple=False, requeue=False)
    nack(c, 1, tags[3], multiple=True, requeue=False)
    wait_count(c, 1, dq, 4)
    ms = get_all(c, 1, dq)
    check_eq([(m.body.decode(), m.properties["headers"]["x-death"][0]["reason"]) for m in ms],
             [(f"n{i}", b"rejected") for i in range(4)], "dead-lettered")
    check_eq(ready(c, 1, src), 0, "source ready")


@R.case("user headers are re-sorted by key when dead-lettering (plain delivery keeps the client's order)")
def _():
    dlx, dq = dlx_pair()
    src = queue("src", {"x-dead-letter-exchange": dlx})
    plainq = queue("plain")
    pub(c, 1, plainq, "o", headers={"z": 1, "a": 2, "x-death-foo": 3})
    m = fetch(plainq)
    check_eq([k for k, _ in m.properties["_theaders"]], ["z", "a", "x-death-foo"], "plain delivery header order")
    pub(c, 1, src, "o", headers={"z": 1, "a": 2, "x-death-foo": 3})
    kill(src)
    m = fetch(dq)
    check_eq([k for k, _ in m.properties["_theaders"]],
             ["a", "x-death", "x-death-foo", "x-first-death-exchange", "x-first-death-queue", "x-first-death-reason",
              "z"], "dead-lettered header order")


@R.case("expiry: queue TTL -> reason expired (no original-expiration); per-message TTL -> original-expiration")
def _():
    dlx, dq = dlx_pair()
    qt = queue("qttl", {"x-dead-letter-exchange": dlx, "x-message-ttl": 50})
    pub(c, 1, qt, "queue-ttl")
    m = fetch(dq)
    check_first_death_headers(m, "expired", qt, "", [qt])
    pub(c, 1, qt, "queue-ttl-with-expiration", expiration="10000")
    m = fetch(dq)
    check_first_death_headers(m, "expired", qt, "", [qt], orig_exp="10000")
    check("expiration" not in m.properties, "expiration property removed")
    mt = queue("mttl", {"x-dead-letter-exchange": dlx})
    pub(c, 1, mt, "msg-ttl", expiration="30", headers={"k": "v"})
    m = fetch(dq)
    check_first_death_headers(m, "expired", mt, "", [mt], orig_exp="30", extra_before=[("k", "S")])


@R.case("message requeued after its TTL passed while unacked: dead-lettered as expired")
def _():
    dlx, dq = dlx_pair()
    src = queue("src", {"x-dead-letter-exchange": dlx, "x-message-ttl": 200})
    pub(c, 1, src, "late")
    m = eventually(lambda: get(c, 1, src, no_ack=False), lambda x: x is not None, "message", 2)
    time.sleep(0.4)
    check_eq(ready(c, 1, dq), 0, "nothing dead-lettered while unacked")
    reject(c, 1, m.delivery_tag, requeue=True)
    d = fetch(dq)
    check_eq((d.body, d.properties["headers"]["x-death"][0]["reason"]), (b"late", b"expired"), "dead-lettered")
    check_eq(ready(c, 1, src), 0, "source")


@R.case("second death in the same queue/reason: count incremented (l), entry sorted by key, time not updated")
def _():
    loop = queue("loop", {"x-dead-letter-exchange": ""})  # rejects come back into the same queue
    pub(c, 1, loop, "t")
    kill(loop)  # death 1
    time.sleep(1.1)  # let the clock second change
    m1 = kill(loop)  # carries death 1; rejected again: death 2
    m = fetch(loop)
    xd = xdeath(m)
    check_eq(len(xd[1]), 1, "one entry")
    check_eq(keys_types(xd[1][0]), SORTED_KEYS, "entry keys after the second death (sorted)")
    v = plain(xd[1][0])
    check_eq((v["count"], v["reason"], v["queue"], v["exchange"], v["routing-keys"]),
             (2, b"rejected", loop.encode(), b"", [loop.encode()]), "entry values")
    t_first = plain(xdeath(m1)[1][0])["time"]
    check(abs(v["time"] - t_first) <= 1, "time is the first death's")
    check(v["time"] <= int(time.time()) - 1, f"time {v['time']} was updated on the 2nd death (now {time.time():.0f})")
    check_eq([k for k, _ in m.properties["_theaders"]],
             ["x-death", "x-first-death-exchange", "x-first-death-queue", "x-first-death-reason"], "headers")


@R.case("repeated (queue, reason) entry keeps its first exchange and routing-keys")
def _():
    x2 = exchange("x2", "direct")
    loop = queue("L", {"x-dead-letter-exchange": x2, "x-dead-letter-routing-key": "back"})
    bind(c, 1, loop, x2, "back")
    pub(c, 1, loop, "m")  # first arrival: default exchange, key <loop>; later arrivals: x2, key "back"
    arrivals = []
    for i in range(3):
        m = kill(loop)
        arrivals.append((m.exchange, m.routing_key))
    check_eq(arrivals, [("", loop), (x2, "back"), (x2, "back")], "arrivals")
    m = fetch(loop)
    e = plain(xdeath(m)[1][0])
    check_eq((len(xdeath(m)[1]), e["count"], e["exchange"], e["routing-keys"]), (1, 3, b"", [loop.encode()]),
             "entry after 3 deaths")


@R.case("reject loop into the same queue is never dropped: count 1, 2, 3, 4")
def _():
    loop = queue("loop", {"x-dead-letter-exchange": ""})
    pub(c, 1, loop, "rej")
    counts = []
    for i in range(4):
        m = kill(loop)
        counts.append([(e["count"], e["reason"]) for e in m.properties.get("headers", {}).get("x-death", [])])
    m = fetch(loop)
    counts.append([(e["count"], e["reason"]) for e in m.properties["headers"]["x-death"]])
    check_eq(counts, [[], [(1, b"rejected")], [(2, b"rejected")], [(3, b"rejected")], [(4, b"rejected")]],
             "x-death counts per round")


@R.case("chain: a new (queue, reason) entry is prepended, sorted by key; the older entry keeps its bytes")
def _():
    dlx = exchange("dlx", "topic")
    dlx2 = exchange("dlx2")
    dq = queue("dq")
    bind(c, 1, dq, dlx, "#")
    q3 = queue("q3")
    bind(c, 1, q3, dlx2)
    q2 = queue("q2", {"x-message-ttl": 50, "x-dead-letter-exchange": dlx2})
    bind(c, 1, q2, dlx, "chain")
    src2 = queue("src2", {"x-dead-letter-exchange": dlx, "x-dead-letter-routing-key": "chain"})
    pub(c, 1, src2, "chain", expiration="100000")
    kill(src2)
    m = fetch(q3)
    check_eq((m.exchange, m.routing_key), (dlx2, "chain"), "delivery via dlx2 with the key used last")
    xd = xdeath(m)[1]
    check_eq(len(xd), 2, "entries")
    check_eq(keys_types(xd[0]), SORTED_KEYS, "new entry (sorted)")
    check_eq(keys_types(xd[1]), FIRST_KEYS + [("original-expiration", "S")], "old entry (first-death order)")
    e0, e1 = plain(xd[0]), plain(xd[1])
    check_eq((e0["count"], e0["reason"], e0["queue"], e0["exchange"], e0["routing-keys"]),
             (1, b"expired", q2.encode(), dlx.encode(), [b"chain"]), "newest entry")
    check_eq((e1["count"], e1["reason"], e1["queue"], e1["exchange"], e1["routing-keys"], e1["original-expiration"]),
             (1, b"rejected", src2.encode(), b"", [src2.encode()], b"100000"), "oldest entry")
    h = m.properties["headers"]
    check_eq((h["x-first-death-exchange"], h["x-first-death-queue"], h["x-first-death-reason"]),
             (b"", src2.encode(), b"rejected"), "x-first-death-* unchanged")
    check_eq(get(c, 1, dq).body, b"chain", "the topic DLX also routed the first death to dq ('#')")


@R.case("repeat of an older (queue, reason) moves that entry to the front with count+1")
def _():
    a = name("a")
    b = name("b")
    declare(c, 1, a, {"x-message-ttl": 100, "x-dead-letter-exchange": "", "x-dead-letter-routing-key": b})
    declare(c, 1, b, {"x-dead-letter-exchange": "", "x-dead-letter-routing-key": a})
    CLEANUP_Q.extend([a, b])
    pub(c, 1, a, "mixed")
    rounds = []
    for i in range(3):
        m = eventually(lambda: get(c, 1, b, no_ack=False), lambda x: x is not None, "message in b", 3)
        rounds.append([(e["queue"].decode()[-1:], e["count"], e["reason"].decode())
                       for e in m.properties["headers"]["x-death"]])
        reject(c, 1, m.delivery_tag, requeue=False)
    check_eq(rounds, [[("a", 1, "expired")],
                      [("a", 2, "expired"), ("b", 1, "rejected")],
                      [("a", 3, "expired"), ("b", 2, "rejected")]], "x-death per round (never dropped: has a reject)")


@R.case("routing: original routing keys incl. CC and BCC, or x-dead-letter-routing-key alone")
def _():
    dlx = exchange("dlx", "direct")
    targets = {}
    for k in ("a", "b", "c", "k"):
        targets[k] = queue(f"t{k}")
        bind(c, 1, targets[k], dlx, k)
    xin = exchange("in", "direct")
    src = queue("src", {"x-dead-letter-exchange": dlx})
    src_rk = queue("srcrk", {"x-dead-letter-exchange": dlx, "x-dead-letter-routing-key": "k"})
    bind(c, 1, src, xin, "a")
    bind(c, 1, src_rk, xin, "a")
    c.publish(1, xin, "a", b"cc", {"headers": {"CC": ["b"], "BCC": ["c"]}})
    kill(src)
    kill(src_rk)
    got = {}
    time.sleep(0.2)
    for k, q in targets.items():
        for m in get_all(c, 1, q):
            got.setdefault(k, []).append(m)
    check_eq(sorted(got), ["a", "b", "c", "k"], "queues reached (c only via BCC)")
    check_eq([len(v) for v in got.values()], [1, 1, 1, 1], "one copy each")
    for k in ("a", "b", "c"):
        m = got[k][0]
        check_eq((m.exchange, m.routing_key), (dlx, "a"), f"delivery to t{k}")
        h = m.properties["headers"]
        check_eq(h.get("CC"), [b"b"], "CC header kept")
        check("BCC" not in h, "BCC header absent")
        check_eq(h["x-death"][0]["routing-keys"], [b"a", b"b"], "x-death routing-keys: key + CC, no BCC")
        check_eq(h["x-death"][0]["exchange"], xin.encode(), "x-death exchange")
        check_eq(h["x-first-death-exchange"], xin.encode(), "x-first-death-exchange")
    m = got["k"][0]
    check_eq((m.exchange, m.routing_key), (dlx, "k"), "delivery with x-dead-letter-routing-key")
    check_eq(m.properties["headers"]["x-death"][0]["routing-keys"], [b"a", b"b"], "x-death routing-keys (srcrk)")


@R.case("DLX missing or routing nowhere: the message is dropped silently")
def _():
    dlx = exchange("dlx", "direct")
    srcm = queue("missing", {"x-dead-letter-exchange": name("nosuch")})
    srcu = queue("unroutable", {"x-dead-letter-exchange": dlx, "x-dead-letter-routing-key": "nowhere"})
    pub(c, 1, srcm, "lost")
    pub(c, 1, srcu, "lost")
    kill(srcm)
    kill(srcu)
    expect_ok(c, 1, "basic.qos", "basic.qos_ok")  # no channel error
    time.sleep(0.2)
    check_eq((ready(c, 1, srcm), ready(c, 1, srcu)), (0, 0), "source queues")


@R.case("no dead-lettering on requeue, recover, channel close with unacked, purge, delete")
def _():
    dlx, dq = dlx_pair()
    src = queue("src", {"x-dead-letter-exchange": dlx})
    pub(c, 1, src, "rq")
    m = kill(src, requeue=True)
    m = eventually(lambda: get(c, 1, src, no_ack=False), lambda x: x is not None, "requeued", 2)
    nack(c, 1, m.delivery_tag, requeue=True)
    m = eventually(lambda: get(c, 1, src, no_ack=False), lambda x: x is not None, "requeued", 2)
    expect_ok(c, 1, "basic.recover", "basic.recover_ok", requeue=True)
    c2 = connect_channel(1)
    m = eventually(lambda: get(c2, 1, src, no_ack=False), lambda x: x is not None, "recovered", 2)
    c2.close()
    wait_count(c, 1, src, 1)
    expect_ok(c, 1, "queue.purge", "queue.purge_ok", queue=src)
    pub(c, 1, src, "del")
    wait_count(c, 1, src, 1)
    qdelete(c, 1, src)
    time.sleep(0.2)
    check_eq(ready(c, 1, dq), 0, "dead-lettered messages")


@R.case("cycle: TTL queue dead-lettering to itself drops the message at its first expiry")
def _():
    q = queue("self", {"x-message-ttl": 100, "x-dead-letter-exchange": ""})
    pub(c, 1, q, "self")
    wait_count(c, 1, q, 1)
    time.sleep(0.5)
    check_eq(ready(c, 1, q), 0, "ready after one TTL")


@R.case("cycle: two TTL queues dead-lettering into each other: A -> B, dropped when it expires in B")
def _():
    a, b = name("ca"), name("cb")
    declare(c, 1, a, {"x-message-ttl": 150, "x-dead-letter-exchange": "", "x-dead-letter-routing-key": b})
    declare(c, 1, b, {"x-message-ttl": 150, "x-dead-letter-exchange": "", "x-dead-letter-routing-key": a})
    CLEANUP_Q.extend([a, b])
    consume(c, 2, b, "spy", no_ack=True)  # a consumer on b takes it: shows the single A -> B hop
    pub(c, 1, a, "pure")
    d = deliveries(c, 2, None, 0.6)
    check_eq(len(d), 1, "deliveries on b")
    check_eq([(e["queue"], e["reason"], e["count"]) for e in d[0].properties["headers"]["x-death"]],
             [(a.encode(), b"expired", 1)], "x-death in b")
    expect_ok(c, 2, "basic.cancel", "basic.cancel_ok", consumer_tag="spy")
    pub(c, 1, a, "pure2")
    time.sleep(0.8)
    check_eq((ready(c, 1, a), ready(c, 1, b)), (0, 0), "after A -> B -> (A: cycle, dropped)")


@R.case("client-supplied x-death: updated, but no x-first-death-* headers are added")
def _():
    dq = queue("dq")
    src = queue("src", {"x-dead-letter-exchange": "", "x-dead-letter-routing-key": dq})
    pub(c, 1, src, "own", headers={"x-death": [{"queue": "elsewhere", "reason": "expired", "count": ("l", 7)}]})
    kill(src)
    m = fetch(dq)
    th = m.properties["_theaders"]
    check_eq([k for k, _ in th], ["x-death"], "headers")
    xd = xdeath(m)[1]
    check_eq(keys_types(xd[0]), SORTED_KEYS, "new entry (sorted)")
    check_eq(plain(xd[1]), {"queue": b"elsewhere", "reason": b"expired", "count": 7}, "client entry kept")


try:
    for q in CLEANUP_Q:
        qdelete(c, 1, q)
    for x in CLEANUP_X:
        xdelete(c, 1, x)
    c.close()
except Exception as e:  # noqa: BLE001
    print(f"  (cleanup failed: {e})")
R.finish()
