#!/usr/bin/python3
"""Crash consistency: a publisher with confirms (window 256) streams 100,000 persistent 512-byte
messages to a durable queue; the broker is killed with SIGKILL mid-stream, restarted on the same
data dir, and every confirmed message must be there exactly once with its body intact
(unconfirmed ones may or may not be). Repeated at several kill points, on one data dir."""
import os
import random
import time

from durability_fixture import check, log, main, parse_summary

COUNT = 100000
KILL_POINTS = [500, 20000, 55000, 90000]


def confirmed_so_far(path):
    try:
        with open(path) as f:
            text = f.read().strip()
        return int(text) if text else 0
    except (OSError, ValueError):
        return 0


def test(ctx):
    rng = random.Random(int(os.environ.get("WARREN_CRASH_SEED", "4242")))
    b = ctx.broker()
    for round_no, point in enumerate(KILL_POINTS):
        queue = "crash%d" % round_no
        progress = os.path.join(ctx.workdir, "progress%d" % round_no)
        kill_at = point + rng.randrange(0, 2000)
        pub = ctx.load_async(b, "publish", "--queue", queue, "--count", COUNT, "--size", 512,
                             "--window", 256, "--progress", progress)
        deadline = time.monotonic() + 90
        while confirmed_so_far(progress) < kill_at:
            if pub.poll() is not None:
                raise AssertionError("publisher ended early: %s" % (pub.communicate(),))
            check(time.monotonic() < deadline, "publisher too slow: %d confirmed" % confirmed_so_far(progress))
            time.sleep(0.002)
        b.kill9()
        out, err = pub.communicate(timeout=30)
        check(pub.returncode == 3, "publisher should have lost its connection: %d %s" % (pub.returncode, err))
        summary = parse_summary(out.strip().splitlines()[-1])
        confirmed = confirmed_so_far(progress)
        b.start()
        recovery = [l for l in b.log_text().splitlines() if "recovered" in l or "torn" in l or "corrupt" in l]
        log("round %d: killed at %d confirmed / %d published; %s" % (
            round_no, confirmed, summary["published"], recovery[-1] if recovery else "?"))
        got = parse_summary(ctx.load(b, "drain", "--queue", queue, "--confirmed", confirmed,
                                     "--published", summary["published"]).stdout.strip())
        check(confirmed <= got["count"] <= summary["published"],
              "round %d: %d recovered, %d confirmed, %d published" % (round_no, got["count"], confirmed, summary["published"]))
    # Every drained message was acked: after a last crash nothing comes back.
    time.sleep(0.5)
    b.restart(crash=True)
    for round_no in range(len(KILL_POINTS)):
        got = parse_summary(ctx.load(b, "drain", "--queue", "crash%d" % round_no).stdout.strip())
        check(got["count"] == 0, "acked messages of round %d came back: %r" % (round_no, got))


if __name__ == "__main__":
    main(test)
