#!/usr/bin/python3
"""Torn and corrupt tails on a real data dir: after truncating or corrupting the last segment
at random offsets, the broker starts, reports the damage in one log line, and keeps exactly the
messages whose records lie entirely before the damage (all earlier segments intact)."""
import os
import random
import shutil
import struct

from durability_fixture import Broker, check, log, main, parse_summary

N = 6000
SIZE = 300


def record_ends(path):
    with open(path, "rb") as f:
        data = f.read()
    check(data[:8] == b"WRNSEG01", "segment magic")
    ends, off = [], 8
    while off + 8 <= len(data):
        (length,) = struct.unpack_from("<I", data, off)
        off += 8 + length
        ends.append(off)
    return data, ends


def test(ctx):
    rng = random.Random(int(os.environ.get("WARREN_TORN_SEED", "777")))
    args = ["--segment-size", "262144"]
    b = ctx.broker(args)
    ctx.load(b, "publish", "--queue", "torn", "--count", N, "--size", SIZE, "--window", 256)
    b.stop()
    segdir = os.path.join(ctx.data_dir, "segments")
    segs = sorted(os.listdir(segdir))
    check(len(segs) >= 3, "expected several segments, got %r" % segs)
    before = sum(len(record_ends(os.path.join(segdir, s))[1]) for s in segs[:-1])
    data, ends = record_ends(os.path.join(segdir, segs[-1]))
    check(before + len(ends) == N, "records on disk: %d" % (before + len(ends)))
    cases = [("truncate", rng.randrange(9, len(data))) for _ in range(3)]
    cases += [("corrupt", rng.randrange(8, len(data))) for _ in range(3)]
    cases += [("truncate", ends[len(ends) // 2])]  # on a record boundary: nothing to report
    for i, (how, at) in enumerate(cases):
        copy = os.path.join(ctx.workdir, "copy%d" % i)
        shutil.copytree(ctx.data_dir, copy)
        path = os.path.join(copy, "segments", segs[-1])
        with open(path, "r+b") as f:
            if how == "truncate":
                f.truncate(at)
            else:
                f.seek(at)
                f.write(bytes([data[at] ^ (1 + rng.randrange(255))]))
        want = before + sum(1 for e in ends if e <= at)
        nb = Broker(ctx.args.broker, copy, ctx.workdir, args, name="copy%d" % i)
        ctx.brokers.append(nb)
        nb.start()
        got = parse_summary(ctx.load(nb, "drain", "--queue", "torn", "--confirmed", want, "--published", want).stdout)
        check(got["count"] == want, "%s at %d: %d messages, want %d" % (how, at, got["count"], want))
        damaged = at not in ends
        reported = [l for l in nb.log_text().splitlines() if "record at offset" in l]
        check(len(reported) == (1 if damaged else 0), "%s at %d: log %r" % (how, at, reported))
        nb.stop()
        log("%s at %d of %d: %d messages kept; %s" % (how, at, len(data), want, reported[0] if reported else "clean"))


if __name__ == "__main__":
    main(test)
