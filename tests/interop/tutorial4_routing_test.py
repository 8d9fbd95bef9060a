#!/usr/bin/python3
"""Tutorial 4, "Routing": emit_log_direct.py / receive_logs_direct.py on 'direct_logs'.

One subscriber binds 'error' only (the tutorial's "save errors to disk"), the other
'info', 'warning' and 'error' (one queue, three bindings). Each must get exactly the
messages of its severities, once each, in order; 'debug' messages go nowhere."""
import ast

from driverlib import check, log, main, run_tutorial, tutorial

MESSAGES = [
    ("info", "Run. Run. Or it will explode."),
    ("error", "Run. Run. Or it will explode."),
    ("warning", "disk 91% full"),
    ("debug", "nobody wants this"),
    ("error", "disk full"),
    ("info", "cleanup started"),
]
SUBSCRIBERS = {
    "errors only": ["error"],
    "info+warning+error": ["info", "warning", "error"],
}


def test():
    subs = {}
    for name, severities in SUBSCRIBERS.items():
        subs[name] = tutorial("receive_logs_direct " + name, "receive_logs_direct.py", *severities)
    for p in subs.values():
        p.wait_for(r"\[\*\] Waiting for logs", timeout=20)

    for severity, message in MESSAGES:
        e = run_tutorial("emit_log_direct " + severity, "emit_log_direct.py", severity, *message.split(" "))
        check(e.matching(r"\[x\] Sent %s:" % severity), "emit_log_direct.py printed no ' [x] Sent' line")

    for name, p in subs.items():
        want = [(s, m) for s, m in MESSAGES if s in SUBSCRIBERS[name]]
        p.wait_for(r"\[x\] \w+:b", timeout=10, count=len(want))
    for name, p in subs.items():
        want = [(s, m) for s, m in MESSAGES if s in SUBSCRIBERS[name]]
        rc = p.interrupt()
        check(rc == 0, "%s exited with status %d after Ctrl+C" % (p.name, rc))
        got = [(m.group(1), ast.literal_eval(m.group(2)).decode())
               for m in p.matching(r"\[x\] (\w*):(b'.*'|b\".*\")$")]
        check(got == want, "%s got %r, want %r" % (p.name, got, want))
        log("%s got its %d messages" % (name, len(want)))


if __name__ == "__main__":
    main(test)
