#!/usr/bin/python3
"""Driver for the seed's sender and receiver (direct_logs, persistent messages,
server-named exclusive durable queues, prefetch 1, manual acks).

Three receivers: 'error', 'info'+'warning', and a second 'error' one; the sender then
publishes info/warning/error/debug messages (debug goes nowhere, so the broker must drop
it). Each receiver must get exactly its severities' messages, in publish order, once each.
"""
import ast

from driverlib import check, log, main, python, run_python

MESSAGES = [
    ("info", "info one"),
    ("error", "error one"),
    ("debug", "debug one"),
    ("warning", "warning one."),  # one '.': the receiver sleeps 1 s on it, as the seed does
    ("info", "info two"),
    ("debug", "debug two"),
    ("error", "error two"),
    ("warning", "warning two"),
    ("error", "error three"),
    ("info", "info three"),
]

RECEIVERS = {
    "errors": ["error"],
    "info+warning": ["info", "warning"],
    "errors-again": ["error"],
}


def test():
    receivers = {}
    for name, severities in RECEIVERS.items():
        want = [m for s, m in MESSAGES if s in severities]
        p = python("receiver " + name, "seed_receiver.py", "--count", len(want), "--timeout", 40, *severities)
        receivers[name] = (p, want)
    for p, _ in receivers.values():
        p.wait_for(r"\[\*\] Waiting for logs", timeout=20)
    log("receivers bound; sending %d messages" % len(MESSAGES))

    for severity, message in MESSAGES:
        s = run_python("sender %s" % severity, "seed_sender.py", severity, *message.split(" "), timeout=20)
        check(s.matching(r"\[x\] Sent"), "sender printed no ' [x] Sent' line")

    for name, (p, want) in receivers.items():
        p.expect_exit(45)
        got = [ast.literal_eval(m.group(1)).decode() for m in p.matching(r"\[x\] Received (b'.*'|b\".*\")$")]
        check(got == want, "receiver %s got %r, want %r" % (name, got, want))
        done = p.matching(r"\[x\] Done")
        check(len(done) == len(want), "receiver %s acked %d of %d messages" % (name, len(done), len(want)))
        log("receiver %s got %d messages: ok" % (name, len(got)))


if __name__ == "__main__":
    main(test)
