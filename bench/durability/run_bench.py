#!/usr/bin/python3
"""Durability benchmark: confirmed persistent messages per second to one durable queue, Warren
vs a private RabbitMQ 3.10 node, same client (bench/amqp-load, warren-amqp-load: 1 connection,
1 channel, confirm window 256), interleaved rounds; then Warren's recovery time for 1 M messages.

    cmake --preset release && cmake --build --preset release --target warren-broker warren-amqp-load
    bench/durability/run_bench.py --broker build/release/services/warren-broker/warren-broker \\
        --load build/release/bench/amqp-load/warren-amqp-load [--rounds 3] [--count 100000]

Loopback only; RabbitMQ ports come from 5870-5890; every node it starts is stopped.
"""
import argparse
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tools"))
os.environ.setdefault("WARREN_INTEROP_RABBITMQ_PORTS", "5870-5890")
import harness  # noqa: E402


def load(args, port, *extra):
    cmd = [args.load, "publish", "--port", str(port)] + [str(a) for a in extra]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    if p.returncode != 0:
        raise RuntimeError("%s: %s %s" % (cmd, p.stdout, p.stderr))
    return dict(kv.split("=") for kv in p.stdout.split())


def start_warren(args, data, port, log_path):
    cmd = [args.broker, "--port", str(port), "--data-dir", data, "--log-level", "info"]
    logf = open(log_path, "ab")
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=logf, stderr=subprocess.STDOUT, start_new_session=True)
    harness.wait_for_port(port, 120, lambda: None if proc.poll() is None else "ended")
    return proc, time.monotonic() - t0


def stop(proc, sig=signal.SIGTERM):
    proc.send_signal(sig)
    proc.wait(60)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--broker", required=True)
    ap.add_argument("--load", required=True)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--count", type=int, default=100000)
    ap.add_argument("--recovery-count", type=int, default=1000000)
    ap.add_argument("--skip-rabbitmq", action="store_true")
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="warren-bench-durability-")
    wport, wlock = harness.pick_ephemeral_port()
    rmq = None
    results = {"warren": [], "rabbitmq": []}
    try:
        warren, _ = start_warren(args, os.path.join(work, "data"), wport, os.path.join(work, "warren.log"))
        if not args.skip_rabbitmq:
            rmq = harness.RabbitMQNode(work)
            rmq.start()
        for r in range(args.rounds):
            for name, port in [("warren", wport), ("rabbitmq", rmq.port if rmq else None)]:
                if port is None:
                    continue
                res = load(args, port, "--queue", "bench%d" % r, "--count", args.count, "--size", 1024,
                           "--window", 256)
                results[name].append(float(res["rate"]))
                print("round %d %-8s %8.0f msg/s" % (r, name, float(res["rate"])), flush=True)
        stop(warren)
        for name, rates in results.items():
            if rates:
                print("%-8s median %8.0f msg/s  (%s)" % (name, statistics.median(rates),
                                                      ", ".join("%.0f" % x for x in rates)))
        if results["rabbitmq"]:
            print("ratio    %.2fx" % (statistics.median(results["warren"]) / statistics.median(results["rabbitmq"])))

        # Recovery of 1 M messages (1 KiB) from a fresh data dir, after SIGKILL.
        data = os.path.join(work, "recovery")
        warren, _ = start_warren(args, data, wport, os.path.join(work, "recovery.log"))
        load(args, wport, "--queue", "recovery", "--count", args.recovery_count, "--size", 1024, "--window", 1024)
        stop(warren, signal.SIGKILL)
        disk = sum(os.path.getsize(os.path.join(data, "segments", f)) for f in os.listdir(os.path.join(data, "segments")))
        warren, ready = start_warren(args, data, wport, os.path.join(work, "recovery.log"))
        with open(os.path.join(work, "recovery.log")) as f:
            line = [l for l in f if "recovered" in l][-1].strip()
        ms = re.search(r"in (\d+) ms", line).group(1)
        print("recovery: %d messages (%.0f MiB of segments): store.recover %s ms; process start to "
              "accepting connections %.2f s" % (args.recovery_count, disk / 1048576.0, ms, ready))
        stop(warren)
    finally:
        if rmq:
            rmq.stop()
        wlock.release()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
