#!/usr/bin/python3
"""Warren vs RabbitMQ, side by side, on this machine.

    bench/compare/compare.py [--build-dir build/perf] [--runs 5] [--duration 10] [--quick]
                             [--only NAME[,NAME...]] [--json-out FILE] [--baseline PATH]

Starts warren-broker and a private RabbitMQ node (free loopback ports, their own data
directories), runs the same scenarios against each with warren-perf, interleaved (the order
of the two brokers alternates from run to run; before each run it waits, up to 30 s, until
neither broker uses more than a tenth of a core, and it stops the other broker with SIGSTOP for
the length of the run), and prints a table of medians, Warren/RabbitMQ
ratios, and the CPU seconds the client and the broker used per run (from /proc). One scenario
also runs through rmqc-perf (rabbitmq-c), a client that is neither broker's own. Two scenarios
(64 KiB auto-ack, latency at 1,000 msg/s) also run through warren-floor, a byte relay between
three threads with no broker at all (both brokers stopped meanwhile): the machine's own limit for
those scenarios, in the same run.

With --baseline PATH (a warren-broker binary built from an older commit) a third broker,
"before", runs every scenario in the same interleaved rounds, and the table adds the before/now
ratio: a before/after comparison of a change to the broker with the same client and the same
machine state.

Python 3 standard library only. Both brokers are stopped on exit, also on Ctrl-C.
"""

import argparse
import json
import os
import resource
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
os.environ.setdefault("WARREN_INTEROP_RABBITMQ_PORTS", "5900-5950")
sys.path.insert(0, os.path.join(ROOT, "tools"))
import harness  # noqa: E402  (RabbitMQ node handling shared with the interop tests)

HOST = "127.0.0.1"
CLK_TCK = os.sysconf("SC_CLK_TCK")


def log(msg):
    print("compare: " + msg, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------
# brokers


def proc_cpu(pid):
    """CPU seconds (user + system) of a process and its threads."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK
    except (OSError, IndexError, ValueError):
        return 0.0


def proc_rss_kb(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


class Warren:
    def __init__(self, path, workdir, persistent, name="warren"):
        self.name = name
        self.path = path
        self.workdir = os.path.join(workdir, name)
        os.makedirs(self.workdir, exist_ok=True)
        self.persistent = persistent
        self.proc = None

    def start(self):
        self.port, self.lock = harness.pick_ephemeral_port()
        args = [self.path, "--port", str(self.port), "--bind", HOST, "--log-level", "warning"]
        if self.persistent:
            data = os.path.join(self.workdir, "warren-data")
            os.makedirs(data, exist_ok=True)
            args += ["--data-dir", data]
        self.log = open(os.path.join(self.workdir, "warren.log"), "wb")
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        harness.wait_for_port(self.port, 15, lambda: None if self.proc.poll() is None else "exited")
        self.pid = self.proc.pid
        log("%s: warren-broker pid %d on %s:%d" % (self.name, self.pid, HOST, self.port))

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if getattr(self, "lock", None):
            self.lock.release()


class PerfNode(harness.RabbitMQNode):
    """The interop harness's private node, named perf<port>@localhost."""

    @property
    def node(self):
        return None if self.port is None else "perf%d@localhost" % self.port

    @node.setter
    def node(self, value):
        pass


class RabbitMQ:
    name = "rabbitmq"

    def __init__(self, workdir):
        self.node = PerfNode(workdir)

    def start(self):
        self.node.start()
        self.port = self.node.port
        self.pid = self._beam_pid()
        log("RabbitMQ node %s (beam pid %s) on %s:%d" % (self.node.node, self.pid, HOST, self.port))

    def _beam_pid(self):
        marker = ("WARREN_HARNESS_NODE=" + self.node.base).encode()
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                with open("/proc/%s/comm" % pid, "rb") as f:
                    comm = f.read().strip()
                with open("/proc/%s/environ" % pid, "rb") as f:
                    env = f.read().split(b"\0")
            except OSError:
                continue
            if comm == b"beam.smp" and marker in env:
                return int(pid)
        raise harness.HarnessError("cannot find the node's beam.smp process")

    def stop(self):
        self.node.stop()


# --------------------------------------------------------------------------------------
# scenarios: (name, what it measures, warren-perf arguments, metric)

def scenarios(persistent_ok):
    m = ["-Q", "100"]
    s = [
        ("16B auto-ack", ["-s", "16", "-a"], "receive_rate"),
        ("16B manual ack", ["-s", "16"] + m, "receive_rate"),
        ("1KiB auto-ack", ["-s", "1024", "-a"], "receive_rate"),
        ("1KiB manual ack", ["-s", "1024"] + m, "receive_rate"),
        ("64KiB auto-ack", ["-s", "65536", "-a"], "receive_rate"),
        ("64KiB manual ack", ["-s", "65536"] + m, "receive_rate"),
        ("persistent 1KiB confirms, consumer", ["-s", "1024", "-f", "-c", "256"] + m, "confirm_rate"),
        ("persistent 1KiB confirms, no consumer", ["-s", "1024", "-f", "-c", "256", "-y", "0"], "confirm_rate"),
        ("fanout x10 16B manual ack", ["-s", "16", "-t", "fanout", "-q", "10", "-y", "10"] + m, "receive_rate"),
        ("16 producers 16 consumers 16 queues", ["-s", "16", "-x", "16", "-y", "16", "-q", "16"] + m,
         "receive_rate"),
        ("latency p99 at 1000 msg/s (us)", ["-s", "16", "-r", "1000"] + m, "p99"),
        ("1 -> 1000 queues 16B auto-ack", ["-s", "16", "-a", "-q", "1000"], "receive_rate"),
        ("1 -> 10000 queues 16B auto-ack", ["-s", "16", "-a", "-q", "10000"], "receive_rate"),
    ]
    if not persistent_ok:
        s = [x for x in s if "persistent" not in x[0]]
    return s


# warren-floor arguments for the scenarios that have a machine floor (bench/floor/floor.cpp).
FLOORS = {
    "64KiB auto-ack": ["throughput", "--size", "65536"],
    "latency p99 at 1000 msg/s (us)": ["latency", "--size", "16", "--rate", "1000"],
}


def run_client(cmd, timeout):
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    try:
        p = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=timeout)
    except subprocess.TimeoutExpired:
        return None, 0.0, "timeout"
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    out = p.stdout.decode(errors="replace").strip().splitlines()
    try:
        return json.loads(out[-1]), cpu, None
    except (IndexError, ValueError):
        return None, cpu, (p.stderr.decode(errors="replace")[-500:] or "no output")


def settle(brokers, limit_s=30.0, window_s=0.5, idle_share=0.1):
    """Waits until no broker uses more than `idle_share` of a core (over `window_s`), at most
    `limit_s`: a broker still working off the previous run (RabbitMQ deleting a large queue,
    garbage collection) would otherwise take CPU from the next run, whichever broker it is for.
    Returns the seconds waited."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < limit_s:
        before = [proc_cpu(b.pid) for b in brokers]
        time.sleep(window_s)
        busy = [(proc_cpu(b.pid) - c) / window_s for b, c in zip(brokers, before)]
        if max(busy) <= idle_share:
            break
    return time.monotonic() - t0


class Alone:
    """Stops (SIGSTOP) the other brokers for the length of a run, so that the measured broker
    has the machine to itself: an idle RabbitMQ node still wakes its schedulers (timers,
    statistics) and spins after each wake-up, which shows in the other broker's tail latency."""

    def __init__(self, brokers, measured, enabled):
        self.others = [b for b in brokers if b is not measured] if enabled else []

    def __enter__(self):
        for b in self.others:
            os.kill(b.pid, signal.SIGSTOP)
        return self

    def __exit__(self, *exc):
        for b in self.others:
            os.kill(b.pid, signal.SIGCONT)
        return False


def measured_run(results, brokers, name, measured, isolate, cmd, metric, timeout, run):
    """Waits for the brokers to go idle, runs `cmd` against `measured` (None: warren-floor)
    with the other brokers stopped (all of them for warren-floor), records and logs the result."""
    waited = settle(brokers)
    if waited > 5:
        log("waited %.0f s for the brokers to go idle" % waited)
    with Alone(brokers, measured, isolate or measured is None):
        r = measure(measured, cmd, metric, timeout)
    label = measured.name if measured else "floor"
    results["scenarios"].setdefault(name, {"metric": metric}).setdefault(label, []).append(r)
    log("run %d %-40s %-8s %s" % (run + 1, name, label, fmt_value(metric, r and r["value"])))


def measure(broker, cmd, metric, timeout):
    """One run of `cmd` against `broker` (None: warren-floor, no broker)."""
    b0 = proc_cpu(broker.pid) if broker else 0.0
    res, client_cpu, err = run_client(cmd, timeout)
    broker_cpu = proc_cpu(broker.pid) - b0 if broker else 0.0
    if res is None:
        log("%s: failed: %s" % (broker.name if broker else "warren-floor", err))
        return None
    if metric == "p99":
        value = res.get("latency_us", {}).get("p99")
    else:
        value = res.get(metric)
    return {"value": value, "client_cpu": client_cpu, "broker_cpu": broker_cpu, "raw": res}


# --------------------------------------------------------------------------------------
# idle connections and queued messages (broker memory)


def amqp_handshake(port):
    """Opens one AMQP connection (PLAIN guest/guest) and leaves it idle."""
    s = socket.create_connection((HOST, port), timeout=30)
    # Without NODELAY, tune-ok + open as two small writes wait ~40 ms for a delayed ACK.
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s.sendall(b"AMQP\x00\x00\x09\x01")

    def read_frame():
        hdr = b""
        while len(hdr) < 7:
            chunk = s.recv(7 - len(hdr))
            if not chunk:
                raise OSError("closed during handshake")
            hdr += chunk
        size = struct.unpack(">I", hdr[3:7])[0]
        body = b""
        while len(body) < size + 1:
            chunk = s.recv(size + 1 - len(body))
            if not chunk:
                raise OSError("closed during handshake")
            body += chunk
        return hdr[0], body[:-1]

    def method(cls, mid, args):
        payload = struct.pack(">HH", cls, mid) + args
        return struct.pack(">BHI", 1, 0, len(payload)) + payload + b"\xce"

    def shortstr(x):
        return struct.pack(">B", len(x)) + x

    def longstr(x):
        return struct.pack(">I", len(x)) + x

    read_frame()  # connection.start
    s.sendall(method(10, 11, struct.pack(">I", 0) + shortstr(b"PLAIN") + longstr(b"\0guest\0guest")
                     + shortstr(b"en_US")))
    _, tune = read_frame()
    channel_max, frame_max, _hb = struct.unpack(">HIH", tune[4:12])
    s.sendall(method(10, 31, struct.pack(">HIH", channel_max, frame_max, 0))
              + method(10, 40, shortstr(b"/") + shortstr(b"") + b"\x00"))
    read_frame()  # connection.open-ok
    return s


def idle_connections(broker, count, deadline_s=180):
    time.sleep(1)
    before = proc_rss_kb(broker.pid)
    socks = []
    t0 = time.monotonic()
    err = None
    for _ in range(count):
        if time.monotonic() - t0 > deadline_s:
            err = "stopped after %d s" % deadline_s
            break
        try:
            socks.append(amqp_handshake(broker.port))
        except OSError as e:
            err = str(e)
            break
    time.sleep(2)
    after = proc_rss_kb(broker.pid)
    for s in socks:
        s.close()
    n = len(socks)
    return {"opened": n, "rss_before_kb": before, "rss_after_kb": after,
            "bytes_per_connection": (after - before) * 1024 / n if n else None, "error": err}


def queued_messages(broker, perf, count, timeout):
    queue_args = ["-x", "1", "-y", "0", "-s", "1024", "-C", str(count), "-c", "1000", "-z", str(timeout - 30)]
    time.sleep(1)
    before = proc_rss_kb(broker.pid)
    # The queue must stay: run the producer with a fixed prefix and no deletion by
    # measuring RSS from a concurrent sampler while the run is still alive.
    cmd = [perf, "--uri", "amqp://guest:guest@%s:%d" % (HOST, broker.port), "--json"] + queue_args
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    peak = before
    t0 = time.monotonic()
    while p.poll() is None and time.monotonic() - t0 < timeout:
        peak = max(peak, proc_rss_kb(broker.pid))
        time.sleep(0.2)
    if p.poll() is None:
        p.kill()
    out, _ = p.communicate()
    try:
        res = json.loads(out.decode().strip().splitlines()[-1])
    except (IndexError, ValueError):
        res = {}
    sent = res.get("sent", 0)
    return {"sent": sent, "rss_before_kb": before, "rss_peak_kb": peak,
            "bytes_per_message": (peak - before) * 1024 / sent if sent else None,
            "seconds": time.monotonic() - t0}


# --------------------------------------------------------------------------------------


def fmt_value(metric, v):
    if v is None:
        return "-"
    if metric == "p99":
        return "%.0f us" % v
    if v >= 1e6:
        return "%.2f M/s" % (v / 1e6)
    return "%.1f k/s" % (v / 1e3)


def median_of(results, key):
    vals = [r[key] for r in results if r is not None and r.get(key) is not None]
    return statistics.median(vals) if vals else None


def main(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--build-dir", default=os.path.join(ROOT, "build", "perf"))
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--duration", type=float, default=10.0)
    p.add_argument("--quick", action="store_true", help="2 runs of 3 s, smaller memory scenarios")
    p.add_argument("--only", default="", help="comma-separated substrings of scenario names")
    p.add_argument("--skip-memory", action="store_true", help="skip idle connections and queued messages")
    p.add_argument("--json-out", help="write all results to this file")
    p.add_argument("--no-isolate", dest="isolate", action="store_false",
                   help="leave the other broker running during a run (default: SIGSTOP it)")
    p.add_argument("--baseline", metavar="PATH",
                   help="an older warren-broker binary, measured as 'before' in the same rounds")
    a = p.parse_args(argv)
    if a.quick:
        a.runs, a.duration = 2, 3.0
    runs = max(1, min(a.runs, 50))
    duration = max(1.0, min(a.duration, 600.0))
    perf = os.path.join(a.build_dir, "services", "warren-perf", "warren-perf")
    rmqc = os.path.join(a.build_dir, "bench", "rmqc-perf", "rmqc-perf")
    floor = os.path.join(a.build_dir, "bench", "floor", "warren-floor")
    wb = os.path.join(a.build_dir, "services", "warren-broker", "warren-broker")
    for path in (perf, wb):
        if not os.path.exists(path):
            sys.exit("compare: %s not found (build with: cmake --build %s)" % (path, a.build_dir))
    helptext = subprocess.run([wb, "--help"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT).stdout.decode()
    persistent_ok = "--data-dir" in helptext
    if not persistent_ok:
        log("warren-broker has no --data-dir: the persistent scenarios are pending")

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, 65536) if hard != resource.RLIM_INFINITY else 65536
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    fd_limit = resource.getrlimit(resource.RLIMIT_NOFILE)[0]

    workdir = tempfile.mkdtemp(prefix="warren-compare-")
    warren = Warren(wb, workdir, persistent_ok)
    rabbit = RabbitMQ(workdir)
    brokers = [warren, rabbit]
    if a.baseline:
        if not os.path.exists(a.baseline):
            sys.exit("compare: --baseline %s not found" % a.baseline)
        brokers.append(Warren(a.baseline, workdir, persistent_ok, name="before"))
    results = {"machine": machine(), "runs": runs, "duration": duration, "fd_limit": fd_limit,
               "isolate": a.isolate,
               "scenarios": {}, "memory": {}}

    def on_signal(signum, frame):
        raise KeyboardInterrupt()
    signal.signal(signal.SIGTERM, on_signal)
    try:
        for b in brokers:
            b.start()
        # Memory first, on fresh brokers: RSS is not given back after the throughput runs.
        if not a.skip_memory and not a.only:
            conns = 1000 if a.quick else 10000
            msgs = 100000 if a.quick else 1000000
            for b in brokers:
                results["memory"].setdefault("idle connections", {})[b.name] = idle_connections(b, conns)
                log("%s idle connections: %s" % (b.name, results["memory"]["idle connections"][b.name]))
            for b in brokers:
                results["memory"].setdefault("queued 1KiB messages", {})[b.name] = queued_messages(b, perf, msgs, 600)
                log("%s queued messages: %s" % (b.name, results["memory"]["queued 1KiB messages"][b.name]))
        chosen = [s for s in scenarios(persistent_ok)
                  if not a.only or any(x.strip().lower() in s[0].lower() for x in a.only.split(","))]
        timeout = duration + 120
        for run in range(runs):
            order = brokers if run % 2 == 0 else brokers[::-1]
            for name, args, metric in chosen:
                for b in order:
                    cmd = [perf, "--uri", "amqp://guest:guest@%s:%d" % (HOST, b.port), "--json",
                           "-z", str(duration)] + args
                    measured_run(results, brokers, name, b, a.isolate, cmd, metric, timeout, run)
                if name in FLOORS and os.path.exists(floor):
                    cmd = [floor] + FLOORS[name] + ["--duration", str(duration), "--json"]
                    measured_run(results, brokers, name, None, a.isolate, cmd, metric, timeout, run)
            if os.path.exists(rmqc) and not a.only:
                name = "rmqc-perf 16B manual ack"
                for b in order:
                    cmd = [rmqc, "--port", str(b.port), "--json", "--duration", str(duration), "--size", "16",
                           "--prefetch", "100"]
                    measured_run(results, brokers, name, b, a.isolate, cmd, "receive_rate", timeout, run)
    except KeyboardInterrupt:
        log("interrupted")
    finally:
        for b in brokers:
            try:
                b.stop()
            except Exception as e:  # report and keep stopping the others
                log("stopping %s: %s" % (b.name, e))
    print_table(results)
    if a.json_out:
        with open(a.json_out, "w") as f:
            json.dump(results, f, indent=1)
    return 0


def machine():
    model = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        mem_kb = int(f.readline().split()[1])
    return {"nproc": os.cpu_count(), "cpu": model, "memory_gb": round(mem_kb / 1024 / 1024, 1)}


def print_table(results):
    m = results["machine"]
    print("\nmachine: %d cores, %s, %.1f GB; %d runs of %.0f s each, medians"
          % (m["nproc"], m["cpu"], m["memory_gb"], results["runs"], results["duration"]))
    print("| scenario | Warren | RabbitMQ | Warren ÷ RabbitMQ | CPU s client/broker (Warren) | CPU s client/broker (RabbitMQ) "
          "| machine floor (warren-floor, no broker) |")
    print("|---|---|---|---|---|---|---|")
    before_rows = []
    for name, d in results["scenarios"].items():
        metric = d["metric"]
        if "before" in d:
            before_rows.append((name, metric, median_of(d["before"], "value"), median_of(d.get("warren", []), "value"),
                                d["before"], d.get("warren", [])))
        w, r = d.get("warren", []), d.get("rabbitmq", [])
        wv, rv = median_of(w, "value"), median_of(r, "value")
        if wv and rv:
            ratio = (rv / wv) if metric == "p99" else (wv / rv)
            ratio_s = "%.1f×%s" % (ratio, " (lower latency)" if metric == "p99" else "")
        else:
            ratio_s = "-"

        def cpu(rs):
            c, b = median_of(rs, "client_cpu"), median_of(rs, "broker_cpu")
            return "-" if c is None else "%.1f / %.1f" % (c, b)
        fv = median_of(d.get("floor", []), "value")
        print("| %s | %s | %s | %s | %s | %s | %s |" % (name, fmt_value(metric, wv), fmt_value(metric, rv), ratio_s,
                                                       cpu(w), cpu(r), fmt_value(metric, fv)))
    if before_rows:
        print("\n| scenario | before (--baseline) | now | now ÷ before | runs before | runs now |\n|---|---|---|---|---|---|")
        for name, metric, bv, nv, bs, ns in before_rows:
            if bv and nv:
                ratio = (bv / nv) if metric == "p99" else (nv / bv)
                ratio_s = "%.2f×%s" % (ratio, " (lower latency)" if metric == "p99" else "")
            else:
                ratio_s = "-"

            def each(rs):
                return ", ".join(fmt_value(metric, r and r["value"]) for r in rs)
            print("| %s | %s | %s | %s | %s | %s |" % (name, fmt_value(metric, bv), fmt_value(metric, nv), ratio_s,
                                                       each(bs), each(ns)))
    mem = results.get("memory", {})
    if mem:
        print("\n| memory | Warren | RabbitMQ |\n|---|---|---|")
        ic = mem.get("idle connections", {})
        if ic:
            def f(x):
                if not x or not x.get("opened"):
                    return "-"
                s = "%.1f KB/conn (%d opened)" % (x["bytes_per_connection"] / 1000, x["opened"])
                return s + (", " + x["error"] if x.get("error") else "")
            print("| idle connections | %s | %s |" % (f(ic.get("warren")), f(ic.get("rabbitmq"))))
        qm = mem.get("queued 1KiB messages", {})
        if qm:
            def g(x):
                if not x or not x.get("sent"):
                    return "-"
                return "%.0f B/msg (%d msgs)" % (x["bytes_per_message"], x["sent"])
            print("| queued 1 KiB messages | %s | %s |" % (g(qm.get("warren")), g(qm.get("rabbitmq"))))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
