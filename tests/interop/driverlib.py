"""Helpers for the interop driver tests: run client programs as subprocesses, read their
output line by line, wait for lines with deadlines, stop them, and fail loudly.
Nothing here can block forever: every wait has a timeout, and fail() kills every process
started through this module."""

import atexit
import os
import re
import signal
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TUTORIALS = os.path.join(HERE, "tutorials")
PYTHON = sys.executable or "/usr/bin/python3"

_procs = []


class TestFailure(Exception):
    pass


def fail(msg):
    raise TestFailure(msg)


def check(cond, msg):
    if not cond:
        fail(msg)


def log(msg):
    print("[driver %s] %s" % (time.strftime("%H:%M:%S"), msg), flush=True)


class Proc:
    """A client program with its stdout+stderr collected line by line by a thread."""

    def __init__(self, name, argv, env=None):
        self.name = name
        self.argv = argv
        self.lines = []
        self._cond = threading.Condition()
        self._eof = False
        full_env = dict(os.environ)
        full_env["PYTHONUNBUFFERED"] = "1"
        if env:
            full_env.update(env)
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, env=full_env)
        _procs.append(self)
        self._thread = threading.Thread(target=self._reader, daemon=True)
        self._thread.start()

    def _reader(self):
        for raw in self.proc.stdout:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            with self._cond:
                self.lines.append(line)
                self._cond.notify_all()
        with self._cond:
            self._eof = True
            self._cond.notify_all()

    def snapshot(self):
        with self._cond:
            return list(self.lines)

    def matching(self, pattern):
        rx = re.compile(pattern)
        return [m for m in (rx.search(l) for l in self.snapshot()) if m]

    def wait_for(self, pattern, timeout, count=1):
        """Wait until `count` lines match the regex `pattern`; returns the matches."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                found = [m for m in (rx.search(l) for l in self.lines) if m]
                if len(found) >= count:
                    return found
                if self._eof:
                    fail("%s ended (%s) before printing %d line(s) matching %r"
                         % (self.name, self._status(), count, pattern))
                left = deadline - time.monotonic()
                if left <= 0:
                    fail("%s: no %d line(s) matching %r within %.0f s (got %d)"
                         % (self.name, count, pattern, timeout, len(found)))
                self._cond.wait(min(left, 0.5))

    def _status(self):
        rc = self.proc.poll()
        return "running" if rc is None else "exit status %d" % rc

    def wait(self, timeout):
        """Wait for the program to exit; returns its status. Kills it and fails on timeout."""
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            fail("%s did not exit within %.0f s" % (self.name, timeout))
        self._thread.join(5)
        return rc

    def expect_exit(self, timeout, status=0):
        rc = self.wait(timeout)
        check(rc == status, "%s exited with status %s, want %d" % (self.name, rc, status))

    def interrupt(self, timeout=10):
        """Ctrl+C, as the tutorials say ("To exit press CTRL+C"); returns the status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        return self.wait(timeout)

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                pass

    def dump(self):
        print("---- output of %s (%s): %s" % (self.name, self._status(), " ".join(self.argv)))
        for l in self.snapshot():
            print("    | " + l)


def python(name, script, *args, env=None):
    """Start a Python client program (a path relative to tests/interop/)."""
    return Proc(name, [PYTHON, "-u", os.path.join(HERE, script)] + [str(a) for a in args], env=env)


def run(name, argv, timeout=30, status=0, env=None):
    """Run a program to completion; returns its Proc (fails on timeout or bad status)."""
    p = Proc(name, argv, env=env)
    p.expect_exit(timeout, status)
    return p


def run_python(name, script, *args, timeout=30, status=0, env=None):
    p = python(name, script, *args, env=env)
    p.expect_exit(timeout, status)
    return p


def _cleanup():
    for p in _procs:
        p.kill()


atexit.register(_cleanup)


def main(test, name=None):
    """Run test() and exit 0 on success; on failure print why, dump every program's
    output and exit 1."""
    name = name or os.path.basename(sys.argv[0])
    t0 = time.monotonic()
    try:
        test()
    except TestFailure as e:
        print("FAIL %s: %s" % (name, e), flush=True)
        for p in _procs:
            p.dump()
        _cleanup()
        sys.exit(1)
    except BaseException:
        import traceback
        traceback.print_exc()
        print("FAIL %s: unexpected exception" % name, flush=True)
        for p in _procs:
            p.dump()
        _cleanup()
        sys.exit(1)
    _cleanup()
    print("PASS %s (%.1f s)" % (name, time.monotonic() - t0), flush=True)
    sys.exit(0)


# --------------------------------------------------------------------------------------
# a pika connection of the driver's own, to look at queues


def connect():
    import pika
    import amqp_env
    return pika.BlockingConnection(amqp_env.params())


def ready_count(channel, queue):
    """Messages ready in `queue` (queue.declare-ok message-count, from a passive declare:
    messages delivered but not yet acked are not counted)."""
    return channel.queue_declare(queue=queue, passive=True).method.message_count


def tutorial(name, script, *args, env=None):
    return python(name, os.path.join("tutorials", script), *args, env=env)


def run_tutorial(name, script, *args, timeout=30, env=None):
    return run_python(name, os.path.join("tutorials", script), *args, timeout=timeout, env=env)
