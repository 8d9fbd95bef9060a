#!/usr/bin/python3
"""Tutorial 1, "Hello World!": send.py / receive.py on the 'hello' queue.

A message sent before any consumer exists waits in the queue (declare-ok counts it);
receive.py then gets it, and the ones sent while it runs; Ctrl+C stops it cleanly."""
from driverlib import check, connect, log, main, ready_count, run_tutorial, tutorial

BODY = r"\[x\] Received b'Hello World!'$"


def test():
    s = run_tutorial("send #1", "send.py")
    check(s.matching(r"\[x\] Sent 'Hello World!'"), "send.py printed no ' [x] Sent' line")

    conn = connect()
    ch = conn.channel()
    n = ready_count(ch, "hello")
    check(n == 1, "queue 'hello' holds %d ready message(s) after one send, want 1" % n)

    r = tutorial("receive", "receive.py")
    r.wait_for(r"\[\*\] Waiting for messages", timeout=20)
    r.wait_for(BODY, timeout=10, count=1)
    log("the message sent before the consumer came arrived")

    for i in (2, 3):
        run_tutorial("send #%d" % i, "send.py")
    r.wait_for(BODY, timeout=10, count=3)

    rc = r.interrupt()
    check(rc == 0, "receive.py exited with status %d after Ctrl+C, want 0" % rc)
    check(r.matching(r"^Interrupted$"), "receive.py did not print 'Interrupted'")
    got = len(r.matching(BODY))
    check(got == 3, "receive.py got %d messages, want 3" % got)
    n = ready_count(ch, "hello")
    check(n == 0, "queue 'hello' holds %d ready message(s) at the end, want 0" % n)
    conn.close()


if __name__ == "__main__":
    main(test)
