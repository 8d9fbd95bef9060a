#!/usr/bin/env python3
"""Queue expiry, x-expires (docs/rabbitmq-extensions-behaviour.md section 3).

Existence is probed with a mandatory publish in confirm mode (basic.return NO_ROUTE once the queue is gone), because
a passive declare would itself reset the expiry timer.  The cases run concurrently (one thread each, own connections)
to keep the script short."""
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from extlib import (Runner, check, check_eq, close_tuple, confirm_select, connect_channel, consume, declare,  # noqa: E402
                    deliveries, expect_ok, get, pub, qdelete, uniq, bind)

R = Runner("queue_expiry")
P = uniq("qexp")
EXPIRES = 600


class Probe:
    def __init__(self):
        self.c = connect_channel(1)
        confirm_select(self.c, 1)

    def alive(self, q):
        self.c.publish(1, "", q, b"probe", None, mandatory=True)
        m = self.c.wait_for(1, ("basic.ack", "basic.return", "basic.nack"))
        if m.name == "basic.return":
            check_eq((m.reply_code, m.reply_text), (312, "NO_ROUTE"), "return")
            self.c.wait_for(1, "basic.ack")
            return False
        check_eq(m.name, "basic.ack", "probe confirm")
        return True

    def lifetime(self, q, t0, limit=4.0):
        """Seconds from t0 until q is gone (None if still there after `limit` s)."""
        while time.monotonic() - t0 < limit:
            if not self.alive(q):
                return time.monotonic() - t0
            time.sleep(0.02)
        return None


def keeps_alive(action, n=6, interval=0.25):
    """Declare q with x-expires, run action(c, q, i) every `interval` s for n rounds (longer than x-expires), then
    measure how long the queue lives after the last action.  Returns (alive_during_actions, life_after).
    The interval keeps the actions >= 100 ms away from an expiry at 0.6 s (an action racing with the deletion
    could see the queue half-deleted)."""
    c = connect_channel(1)
    probe = Probe()
    q = uniq(f"{P}-k")
    try:
        declare(c, 1, q, {"x-expires": EXPIRES})
        alive_all = True
        for i in range(n):
            time.sleep(interval)
            if not probe.alive(q):
                alive_all = False
                break
            action(c, q, i)
        life = probe.lifetime(q, time.monotonic()) if alive_all else None
        return alive_all, life
    finally:
        if alive_all:
            qdelete(c, 1, q)
        c.close()
        probe.c.close()


def check_life(life, what):
    check(life is not None and EXPIRES / 1000 - 0.15 <= life <= EXPIRES / 1000 + 0.6,
          f"{what}: queue lived {life!r}s, expected about {EXPIRES / 1000}s")


def resets(action, what):
    alive, life = keeps_alive(action)
    check(alive, f"{what}: queue expired although it was used every 0.25 s")
    check_life(life, f"{what}: after the last use")


def does_not_reset(action, what):
    alive, _ = keeps_alive(action)
    check(not alive, f"{what}: queue did not expire (the action must not reset x-expires)")


CASES = []


def case(label):
    def deco(fn):
        CASES.append((label, fn))
        return fn
    return deco


@case("unused queue (empty or with messages) is deleted after x-expires")
def _():
    c = connect_channel(1)
    probe = Probe()
    q1, q2 = f"{P}-empty", f"{P}-msgs"
    t0 = time.monotonic()
    declare(c, 1, q1, {"x-expires": EXPIRES})
    declare(c, 1, q2, {"x-expires": EXPIRES})
    pub(c, 1, q2, "m")
    check_life(probe.lifetime(q1, t0), "empty queue")
    check_life(probe.lifetime(q2, t0), "queue with a message")
    c.close()
    probe.c.close()


@case("passive queue.declare resets the timer")
def _():
    resets(lambda c, q, i: expect_ok(c, 1, "queue.declare", "queue.declare_ok", queue=q, passive=True),
           "passive declare")


@case("redeclare resets the timer")
def _():
    resets(lambda c, q, i: declare(c, 1, q, {"x-expires": EXPIRES}), "redeclare")


@case("basic.get (get-empty) resets the timer")
def _():
    resets(lambda c, q, i: get(c, 1, q), "basic.get")


@case("basic.consume + basic.cancel resets the timer")
def _():
    def act(c, q, i):
        t = consume(c, 1, q, f"t{i}")
        expect_ok(c, 1, "basic.cancel", "basic.cancel_ok", consumer_tag=t)
    resets(act, "consume+cancel")


@case("basic.publish, queue.purge, queue.bind do not reset the timer")
def _():
    does_not_reset(lambda c, q, i: pub(c, 1, q, "x"), "publish")
    does_not_reset(lambda c, q, i: expect_ok(c, 1, "queue.purge", "queue.purge_ok", queue=q), "purge")
    does_not_reset(lambda c, q, i: bind(c, 1, q, "amq.direct", f"k{i}"), "bind")


@case("a consumer keeps the queue; it expires x-expires after the last cancel")
def _():
    c = connect_channel(1)
    probe = Probe()
    q = f"{P}-cons"
    declare(c, 1, q, {"x-expires": EXPIRES})
    t = consume(c, 1, q, "keeper")
    time.sleep(EXPIRES / 1000 * 2)
    check(probe.alive(q), "queue with a consumer expired")
    expect_ok(c, 1, "basic.cancel", "basic.cancel_ok", consumer_tag=t)
    check_life(probe.lifetime(q, time.monotonic()), "after cancel")
    c.close()
    probe.c.close()


@case("unacked messages (basic.get or a cancelled consumer) do not keep the queue alive")
def _():
    c = connect_channel(1)
    probe = Probe()
    q = f"{P}-unacked"
    declare(c, 1, q, {"x-expires": EXPIRES})
    pub(c, 1, q, "m1")
    pub(c, 1, q, "m2")
    time.sleep(0.1)
    m = get(c, 1, q, no_ack=False)
    check(m is not None, "got m1")
    t = consume(c, 1, q, "c")
    d = deliveries(c, 1, 1, 1.0)
    check_eq([x.body for x in d], [b"m2"], "delivery")
    expect_ok(c, 1, "basic.cancel", "basic.cancel_ok", consumer_tag=t)
    check_life(probe.lifetime(q, time.monotonic()), "queue with 2 unacked messages")
    c.close()
    probe.c.close()


@case("redeclare with a different x-expires -> 406 inequivalent")
def _():
    c = connect_channel(1)
    q = f"{P}-ineq"
    declare(c, 1, q, {"x-expires": 5000})
    c.send_method(1, "queue.declare", queue=q, arguments={"x-expires": 6000})
    m = c.wait_for(1, "queue.declare_ok")
    check(m.name == "channel.close", f"expected channel.close, got {m!r}")
    c.send_method(1, "channel.close_ok")
    c.open_channel(1)
    check_eq(close_tuple(m), (406, f"PRECONDITION_FAILED - inequivalent arg 'x-expires' for queue '{q}' in vhost '/': "
                                   f"received '6000' but current is '5000'", 50, 10), "close")
    qdelete(c, 1, q)
    c.close()


# run all cases concurrently, report in order
results = {}


def run(label, fn):
    try:
        fn()
        results[label] = None
    except Exception as e:  # noqa: BLE001
        import traceback
        results[label] = RuntimeError(f"{type(e).__name__}: {e}\n{traceback.format_exc()}")


threads = [threading.Thread(target=run, args=(label, fn), daemon=True) for label, fn in CASES]
for t in threads:
    t.start()
for t in threads:
    t.join(20)
for label, fn in CASES:
    def report(label=label):
        if label not in results:
            raise TimeoutError("case did not finish within 20 s")
        if results[label] is not None:
            raise results[label]
    R.case(label)(report)
R.finish()
