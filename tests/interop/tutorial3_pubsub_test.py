#!/usr/bin/python3
"""Tutorial 3, "Publish/Subscribe": emit_log.py / receive_logs.py on the fanout 'logs'.

A message emitted before anyone subscribed is dropped (no queue is bound); then two
subscribers, each with its own exclusive server-named queue, both get every message, in
order, and nothing else."""
import ast
import re

from driverlib import check, log, main, run_tutorial, tutorial

MESSAGES = ["info: first", "warning: second", "error: third", "info: fourth"]


def test():
    run_tutorial("emit_log (nobody listening)", "emit_log.py", "lost:", "nobody", "bound")

    receivers = [tutorial("receive_logs #%d" % i, "receive_logs.py") for i in (1, 2)]
    for r in receivers:
        r.wait_for(r"\[\*\] Waiting for logs", timeout=20)

    for m in MESSAGES:
        e = run_tutorial("emit_log", "emit_log.py", *m.split(" "))
        check(e.matching(r"\[x\] Sent " + re.escape(m) + "$"), "emit_log.py did not print ' [x] Sent %s'" % m)
    run_tutorial("emit_log (default message)", "emit_log.py")
    want = MESSAGES + ["info: Hello World!"]

    for r in receivers:
        r.wait_for(r"\[x\] b", timeout=10, count=len(want))
    for r in receivers:
        rc = r.interrupt()
        check(rc == 0, "%s exited with status %d after Ctrl+C" % (r.name, rc))
        got = [ast.literal_eval(m.group(1)).decode() for m in r.matching(r"\[x\] (b'.*'|b\".*\")$")]
        check(got == want, "%s got %r, want %r" % (r.name, got, want))
    log("both subscribers got all %d messages" % len(want))


if __name__ == "__main__":
    main(test)
