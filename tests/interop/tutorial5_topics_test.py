#!/usr/bin/python3
"""Tutorial 5, "Topics": emit_log_topic.py / receive_logs_topic.py on 'topic_logs'.

Subscribers bind patterns ('#', 'kern.*', '*.critical', both of the last two at once, and
'a.#.b'); every subscriber must get exactly the messages whose routing key matches one of
its patterns, once each (a message matching two bindings of one queue arrives once), in
order. Matching is by dot-separated words: '*' is exactly one word, '#' zero or more; an
empty routing key has no words (so '#' matches it and '*.critical' does not), but an empty
word between dots is a word ('*.critical' matches '.critical', 'a.#.b' matches 'a..b')."""
import ast
import re

from driverlib import check, log, main, run_tutorial, tutorial

SUBSCRIBERS = {
    "all": ["#"],
    "kern": ["kern.*"],
    "critical": ["*.critical"],
    "kern+critical": ["kern.*", "*.critical"],
    "a..b": ["a.#.b"],
}
KEYS = [
    "kern.critical",   # kern.* and *.critical: once for kern+critical
    "kern.info",
    "cron.critical",
    "kern",            # kern.* needs exactly two words
    "kern.info.disk",
    "critical",
    "anonymous.info",  # emit_log_topic.py's default key
    "a.b",             # '#' may match zero words
    "a.x.b",
    "a.x.y.b",
    "a.b.c",
    "x.a.b",
    "",                # no words at all
    ".critical",       # an empty first word is still a word: '*' matches it
    "a..b",            # an empty middle word: a.#.b matches
]


def words_match(pattern, words):
    if not pattern:
        return not words
    head, rest = pattern[0], pattern[1:]
    if head == "#":
        return any(words_match(rest, words[i:]) for i in range(len(words) + 1))
    if not words:
        return False
    return (head == "*" or head == words[0]) and words_match(rest, words[1:])


def matches(pattern, key):
    return words_match(pattern.split("."), key.split(".") if key else [])


def test():
    # the reference matcher agrees with the tutorial's examples
    assert matches("*.orange.*", "quick.orange.rabbit") and not matches("*.*.rabbit", "quick.orange.fox")
    assert matches("lazy.#", "lazy.orange.male.rabbit") and not matches("*.orange.*", "quick.orange.male.rabbit")

    subs = {}
    for name, patterns in SUBSCRIBERS.items():
        subs[name] = tutorial("receive_logs_topic " + name, "receive_logs_topic.py", *patterns)
    for p in subs.values():
        p.wait_for(r"\[\*\] Waiting for logs", timeout=20)

    sent = []
    for i, key in enumerate(KEYS):
        body = "message %d" % i
        if key == "anonymous.info":
            e = run_tutorial("emit_log_topic (default key)", "emit_log_topic.py")
            body = "Hello World!"
        else:
            e = run_tutorial("emit_log_topic " + key, "emit_log_topic.py", key, *body.split(" "))
        check(e.matching(r"\[x\] Sent " + re.escape(key) + ":"), "emit_log_topic.py printed no ' [x] Sent %s:' line" % key)
        sent.append((key, body))

    for name, p in subs.items():
        want = [(k, b) for k, b in sent if any(matches(pat, k) for pat in SUBSCRIBERS[name])]
        p.wait_for(r"\[x\] .*:b", timeout=10, count=len(want))
    for name, p in subs.items():
        want = [(k, b) for k, b in sent if any(matches(pat, k) for pat in SUBSCRIBERS[name])]
        rc = p.interrupt()
        check(rc == 0, "%s exited with status %d after Ctrl+C" % (p.name, rc))
        got = [(m.group(1), ast.literal_eval(m.group(2)).decode())
               for m in p.matching(r"\[x\] ([\w.]*):(b'.*'|b\".*\")$")]
        check(got == want, "%s (%s) got %r, want %r" % (p.name, " ".join(SUBSCRIBERS[name]), got, want))
        log("%-14s %-22s got %s" % (name, " ".join(SUBSCRIBERS[name]), [k for k, _ in got]))


if __name__ == "__main__":
    main(test)
