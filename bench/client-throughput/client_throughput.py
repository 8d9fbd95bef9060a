#!/usr/bin/python3
"""Client throughput: one producer and one consumer through four clients, medians of N runs.

    bench/client-throughput/client_throughput.py [--build-dir build/release] [--runs 3]
                                                 [--duration 5] [--size 16] [--prefetch 100]

Clients (each: 1 producer connection, 1 consumer connection, manual acks, prefetch 100,
messages of --size bytes, as fast as possible for --duration seconds):
  warren embedded   warren-perf --embedded (Warren's client + an in-process broker, one thread)
  warren tcp        warren-perf --uri ... (Warren's client, 2 threads) against warren-broker
  rabbitmq-c        rmqc-perf against the same warren-broker
  pika              bench/pika-perf/pika_perf.py against the same warren-broker
One warren-broker process (free loopback port) serves every TCP run; the order of the clients
rotates from run to run. Prints messages received per second (consumer side), per run and the
median. Python 3 standard library only (pika for its row).
"""

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tools"))
import harness  # noqa: E402

HOST = "127.0.0.1"


def log(msg):
    print("client-throughput: " + msg, file=sys.stderr, flush=True)


def start_broker(path, workdir):
    port, lock = harness.pick_ephemeral_port()
    logf = open(os.path.join(workdir, "warren.log"), "wb")
    proc = subprocess.Popen([path, "--port", str(port), "--bind", HOST, "--log-level", "warning"],
                            stdin=subprocess.DEVNULL, stdout=logf, stderr=subprocess.STDOUT,
                            start_new_session=True)
    harness.wait_for_port(port, 15, lambda: None if proc.poll() is None else "exited")
    return proc, port, lock


def run_json(cmd, timeout):
    p = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=timeout)
    lines = p.stdout.decode(errors="replace").strip().splitlines()
    if p.returncode != 0 or not lines:
        raise RuntimeError("%s failed (%d): %s" % (cmd[0], p.returncode, p.stderr.decode(errors="replace")[-400:]))
    return json.loads(lines[-1])


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build-dir", default=os.path.join(ROOT, "build", "release"))
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--duration", type=float, default=5.0)
    ap.add_argument("--size", type=int, default=16)
    ap.add_argument("--prefetch", type=int, default=100)
    a = ap.parse_args(argv)

    perf = os.path.join(a.build_dir, "services", "warren-perf", "warren-perf")
    rmqc = os.path.join(a.build_dir, "bench", "rmqc-perf", "rmqc-perf")
    broker_path = os.path.join(a.build_dir, "services", "warren-broker", "warren-broker")
    pika_perf = os.path.join(ROOT, "bench", "pika-perf", "pika_perf.py")
    d, s, q = str(a.duration), str(a.size), str(a.prefetch)
    workdir = tempfile.mkdtemp(prefix="warren-client-throughput-")
    proc, port, lock = start_broker(broker_path, workdir)
    uri = "amqp://guest:guest@%s:%d" % (HOST, port)
    log("warren-broker pid %d on %s:%d" % (proc.pid, HOST, port))
    clients = [
        ("warren embedded", [perf, "--embedded", "-x", "1", "-y", "1", "-s", s, "-Q", q, "-z", d, "--json"],
         "receive_rate"),
        ("warren tcp", [perf, "--uri", uri, "-x", "1", "-y", "1", "-s", s, "-Q", q, "-z", d, "--json"],
         "receive_rate"),
        ("rabbitmq-c", [rmqc, "--host", HOST, "--port", str(port), "--producers", "1", "--consumers", "1",
                        "--size", s, "--prefetch", q, "--duration", d, "--json"], None),
        ("pika", ["/usr/bin/python3", pika_perf, "--uri", uri + "/%2F", "--size", s, "--prefetch", q,
                  "--duration", d, "--json"], "received_rate"),
    ]
    results = {name: [] for name, _, _ in clients}
    try:
        for run in range(a.runs):
            order = clients[run % len(clients):] + clients[:run % len(clients)]
            for name, cmd, key in order:
                res = run_json(cmd, a.duration + 120)
                rate = res[key] if key else res["received"] / res["seconds"]
                results[name].append(rate)
                log("run %d %-16s %10.0f msg/s received" % (run + 1, name, rate))
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
        lock.release()
    print("| client | broker | runs (msg/s received) | median |")
    print("|---|---|---|---|")
    for name, _, _ in clients:
        runs = results[name]
        print("| %s | %s | %s | **%.1f k/s** |" % (
            name, "embedded (in process)" if "embedded" in name else "warren-broker (TCP)",
            ", ".join("%.1f k" % (r / 1000) for r in runs), statistics.median(runs) / 1000))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
