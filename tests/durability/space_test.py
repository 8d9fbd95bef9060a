#!/usr/bin/python3
"""Disk use stays proportional to what is queued: 2 GiB of persistent 64 KiB messages are
published (with confirms) and consumed (with acks) through one durable queue while the data
dir is sampled; it must stay under 200 MiB throughout (default 64 MiB segments), and shrink to
at most one segment once everything is settled."""
import os
import threading
import time

from durability_fixture import check, log, main, parse_summary

SIZE = 64 * 1024
COUNT = 2 * 1024 * 1024 * 1024 // SIZE
LIMIT = 200 * 1024 * 1024


def disk_use(path):
    total = 0
    for root, _, files in os.walk(path):
        for f in files:
            try:
                total += os.stat(os.path.join(root, f)).st_blocks * 512
            except OSError:
                pass  # deleted meanwhile
    return total


def test(ctx):
    b = ctx.broker()
    peak = [0]
    done = threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], disk_use(ctx.data_dir))
            time.sleep(0.02)

    t = threading.Thread(target=sample)
    t.start()
    try:
        out = ctx.load(b, "pump", "--queue", "space", "--count", COUNT, "--size", SIZE, "--window", 64,
                       timeout=110).stdout
    finally:
        done.set()
        t.join()
    got = parse_summary(out)
    check(got["consumed"] == COUNT and got["confirmed"] == COUNT, "pump: %r" % got)
    log("2 GiB through the queue: peak disk use %.1f MiB" % (peak[0] / 1048576.0))
    check(peak[0] < LIMIT, "peak disk use %d bytes >= %d" % (peak[0], LIMIT))
    time.sleep(0.5)  # the last acks ride on a lazy sync
    b.restart(crash=False)
    end = disk_use(ctx.data_dir)
    log("after restart: %.1f MiB on disk" % (end / 1048576.0))
    check(end <= 64 * 1024 * 1024 + 65536, "settled data left on disk: %d bytes" % end)
    got = parse_summary(ctx.load(b, "drain", "--queue", "space").stdout)
    check(got["count"] == 0, "acked messages came back: %r" % got)


if __name__ == "__main__":
    main(test)
