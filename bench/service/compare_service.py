#!/usr/bin/python3
"""The worker framework's figures, in one run (docs/benchmarks.md, "Worker services").

    bench/service/compare_service.py [--build-dir build/release] [--runs 5] [--rpc-calls 100000]
                                     [--only worker|rpc]

1. worker vs plain consume(): warren-service-perf worker (16 B, prefetch 100, a backlog of
   200,000 messages, the two alternating) on the embedded broker and through warren-broker.
2. RPC round trips per second with 100 calls in flight (server and client in one process, two
   connections): through warren-broker and through a private RabbitMQ node, the same client,
   interleaved run by run (the other broker is stopped with SIGSTOP meanwhile). Twice: with the
   server and the client on threads of their own (as in two processes; the figure the goal is
   about) and on one shared thread (which then bounds the rate).
3. One RPC call at a time on the embedded broker: p50/p99.

Python 3 standard library only; both brokers are stopped on exit.
"""
import argparse
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
os.environ.setdefault("WARREN_INTEROP_RABBITMQ_PORTS", "5960-5990")
sys.path.insert(0, os.path.join(ROOT, "tools"))
import harness  # noqa: E402  (RabbitMQ node handling shared with the interop tests)

HOST = "127.0.0.1"


def log(msg):
    print("compare_service: " + msg, file=sys.stderr, flush=True)


def perf(build, *args, timeout=600):
    exe = os.path.join(build, "bench", "service", "warren-service-perf")
    out = subprocess.run([exe] + [str(a) for a in args], capture_output=True, text=True, timeout=timeout)
    if out.returncode != 0:
        raise SystemExit("warren-service-perf %s failed:\n%s%s" % (" ".join(map(str, args)), out.stdout, out.stderr))
    return out.stdout


def field(text, name):
    m = re.search(r"\b%s=([0-9.]+)" % name, text)
    if not m:
        raise SystemExit("no %s in:\n%s" % (name, text))
    return float(m.group(1))


class Warren:
    def __init__(self, build, workdir):
        self.path = os.path.join(build, "services", "warren-broker", "warren-broker")
        self.workdir = workdir

    def start(self):
        self.port, self.lock = harness.pick_ephemeral_port()
        self.log = open(os.path.join(self.workdir, "warren.log"), "wb")
        self.proc = subprocess.Popen([self.path, "--port", str(self.port), "--bind", HOST, "--log-level", "warning"],
                                     stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        harness.wait_for_port(self.port, 15, lambda: None if self.proc.poll() is None else "exited")
        self.pids = [self.proc.pid]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(15)
        self.lock.release()


class RabbitMQ:
    def __init__(self, workdir):
        self.node = harness.RabbitMQNode(workdir)

    def start(self):
        self.node.start()
        self.port = self.node.port
        marker = ("WARREN_HARNESS_NODE=" + self.node.base).encode()
        self.pids = []
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                with open("/proc/%s/environ" % pid, "rb") as f:
                    if marker in f.read().split(b"\0"):
                        self.pids.append(int(pid))
            except OSError:
                pass

    def stop(self):
        self.node.stop()


def pause(broker, on):
    for pid in broker.pids:
        try:
            os.kill(pid, signal.SIGSTOP if on else signal.SIGCONT)
        except ProcessLookupError:
            pass


def uri(port):
    return "amqp://guest:guest@%s:%d/%%2F" % (HOST, port)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--build-dir", default=os.path.join(ROOT, "build", "release"))
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--rpc-calls", type=int, default=100000,
                   help="calls per RPC run (long enough that start-up does not count: 20,000 took "
                        "0.3 s through warren-broker)")
    p.add_argument("--only", choices=["worker", "rpc"], help="run only the worker or only the RPC figures")
    a = p.parse_args()
    work = tempfile.mkdtemp(prefix="warren-compare-service-")
    warren, rabbit = Warren(a.build_dir, work), RabbitMQ(work)
    warren.start()
    rabbit.start()
    try:
        rows = []
        pause(rabbit, True)
        for where, u in (("embedded", "embedded://"), ("warren-broker", uri(warren.port))):
            if a.only == "rpc":
                break
            out = perf(a.build_dir, "worker", "--uri", u, "--messages", 200000, "--prefetch", 100, "--size", 16,
                       "--runs", a.runs)
            log(out.strip().replace("\n", " | "))
            rows.append(("worker vs plain consume(), 16 B, prefetch 100, %s" % where,
                         "plain %.0f msg/s, worker %.0f msg/s" % (field(out, "plain_msgs_per_s"),
                                                                  field(out, "worker_msgs_per_s")),
                         "%.2f" % field(out, "worker_vs_plain")))
        pause(rabbit, False)
        for threads, how in ((2, "server and client on threads of their own"),
                             (1, "server and client on one thread")):
            if a.only == "worker":
                break
            rates = {"warren": [], "rabbitmq": []}
            for run in range(a.runs):
                order = [("warren", warren, rabbit), ("rabbitmq", rabbit, warren)]
                if run % 2:
                    order.reverse()
                for name, b, other in order:
                    pause(other, True)
                    out = perf(a.build_dir, "rpc", "--uri", uri(b.port), "--calls", a.rpc_calls, "--concurrency", 100,
                               "--runs", 1, "--threads", threads)
                    pause(other, False)
                    rates[name].append(field(out, "calls_per_s"))
                    log("run %d %s, %d thread(s): %.0f calls/s" % (run + 1, name, threads, rates[name][-1]))
            w, r = statistics.median(rates["warren"]), statistics.median(rates["rabbitmq"])
            rows.append(("RPC round trips/s, 100 in flight, %s" % how,
                         "warren-broker %.0f, RabbitMQ %.0f (runs: %s; %s)" % (
                             w, r, ", ".join("%.0f" % x for x in rates["warren"]),
                             ", ".join("%.0f" % x for x in rates["rabbitmq"])),
                         "%.1f x" % (w / r)))
        if a.only != "worker":
            pause(rabbit, True)
            out = perf(a.build_dir, "rpc-latency", "--uri", "embedded://", "--calls", 5000)
            rows.append(("one RPC call at a time, embedded",
                         "p50 %.0f us, p99 %.0f us" % (field(out, "p50_us"), field(out, "p99_us")), ""))
            pause(rabbit, False)
        print("| scenario | measured | ratio |\n|---|---|---|")
        for row in rows:
            print("| %s | %s | %s |" % row)
    finally:
        pause(rabbit, False)
        warren.stop()
        rabbit.stop()


if __name__ == "__main__":
    main()
