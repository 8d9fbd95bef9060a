"""Shared fixture for the durability tests: a warren-broker process on a free loopback port with
a --data-dir that outlives it, killed with SIGKILL (or stopped with SIGTERM) and restarted.

Python 3 standard library (+ pika where a test imports it). Ports come from
tests/interop/harness.py's allocator, so parallel ctest runs never collide.
"""
import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "interop"))
import harness  # noqa: E402

HOST = "127.0.0.1"


def log(msg):
    print("durability: " + msg, file=sys.stderr, flush=True)


class Broker:
    def __init__(self, path, data_dir, workdir, extra=(), name="broker"):
        self.path = path
        self.data_dir = data_dir
        self.extra = list(extra)
        self.log_path = os.path.join(workdir, name + ".log")
        self.port, self.lock = harness.pick_ephemeral_port()
        self.proc = None

    def start(self):
        cmd = [self.path, "--port", str(self.port), "--bind", HOST, "--data-dir", self.data_dir,
               "--log-level", "info"] + self.extra
        with open(self.log_path, "ab") as logf:
            logf.write(("=== %s\n" % " ".join(cmd)).encode())
            logf.flush()
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=logf,
                                         stderr=subprocess.STDOUT, start_new_session=True)
        harness.wait_for_port(self.port, 60.0, lambda: None if self.proc.poll() is None
                              else harness.describe_status(self.proc.returncode))
        return self

    def kill9(self):
        if self.proc and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self.proc = None

    def stop(self):
        """SIGTERM; the broker must exit 0 within 20 s."""
        if not self.proc:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.kill9()
            raise AssertionError("broker did not stop within 20 s of SIGTERM")
        self.proc = None
        if rc != 0:
            raise AssertionError("broker exited with %s on SIGTERM" % harness.describe_status(rc))

    def restart(self, crash):
        if crash:
            self.kill9()
        else:
            self.stop()
        return self.start()

    def log_text(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def pika_params(self):
        import pika
        return pika.ConnectionParameters(HOST, self.port, heartbeat=0, blocked_connection_timeout=30)

    def env(self):
        e = dict(os.environ)
        e.update(AMQP_HOST=HOST, AMQP_PORT=str(self.port), AMQP_URL="amqp://guest:guest@%s:%d/" % (HOST, self.port))
        return e


class Context:
    def __init__(self, args, workdir):
        self.args = args
        self.workdir = workdir
        self.data_dir = os.path.join(workdir, "data")
        self.brokers = []

    def broker(self, extra=()):
        b = Broker(self.args.broker, self.data_dir, self.workdir, extra)
        self.brokers.append(b)
        return b.start()

    def load(self, broker, mode, *args, timeout=120, check=True):
        cmd = [self.args.load, mode, "--port", str(broker.port)] + [str(a) for a in args]
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        log("%s -> %d: %s %s" % (" ".join(cmd[1:]), p.returncode, p.stdout.strip(), p.stderr.strip()))
        if check and p.returncode != 0:
            raise AssertionError("amqp_load %s failed (%d): %s %s" % (mode, p.returncode, p.stdout, p.stderr))
        return p

    def load_async(self, broker, mode, *args):
        cmd = [self.args.load, mode, "--port", str(broker.port)] + [str(a) for a in args]
        return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def parse_summary(line):
    return {k: int(float(v)) for k, v in (kv.split("=") for kv in line.split())}


def check(cond, msg):
    if not cond:
        raise AssertionError(msg)


def main(test):
    ap = argparse.ArgumentParser()
    ap.add_argument("--broker", required=True)
    ap.add_argument("--load", required=True)
    ap.add_argument("--keep", action="store_true", help="keep the work dir")
    args = ap.parse_args()
    workdir = tempfile.mkdtemp(prefix="warren-durability-")
    ctx = Context(args, workdir)
    ok = False
    t0 = time.monotonic()
    try:
        test(ctx)
        ok = True
    except Exception:
        traceback.print_exc()
    finally:
        for b in ctx.brokers:
            b.kill9()
            if b.lock:
                b.lock.release()
        if not ok:
            for b in ctx.brokers[:1]:
                sys.stderr.write(b.log_text()[-20000:])
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    log("%s in %.1f s" % ("PASS" if ok else "FAIL", time.monotonic() - t0))
    sys.exit(0 if ok else 1)
