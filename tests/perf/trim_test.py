#!/usr/bin/python3
"""warren-broker --trim-mb: after a backlog is deleted, the broker hands the freed memory back to
the OS within a few seconds; with --trim-mb 0 it keeps it (the control that shows this test
can fail). Usage: trim_test.py WARREN_BROKER WARREN_PERF"""
import subprocess
import sys
import time

MESSAGES = 120000  # 1 KiB each: ~210 MB of broker heap at the peak


def under_asan(pid):
    """ASan replaces glibc's malloc with its own allocator, and malloc_trim has nothing to act
    on there: the test does not apply to a sanitizer build."""
    with open("/proc/%d/maps" % pid) as f:
        return "libasan" in f.read()


class Skip(Exception):
    pass


def rss_kb(pid, field="VmRSS"):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError("no %s for pid %d" % (field, pid))


def run(broker, perf, trim_mb):
    b = subprocess.Popen([broker, "--port", "0", "--bind", "127.0.0.1", "--log-level", "warning",
                          "--trim-mb", str(trim_mb)], stdout=subprocess.PIPE, text=True)
    try:
        line = b.stdout.readline()
        if "listening on" not in line:
            raise RuntimeError("broker did not start: %r" % line)
        port = int(line.rsplit(":", 1)[1])
        if under_asan(b.pid):
            raise Skip()
        base = rss_kb(b.pid)
        # One producer, no consumer: the queue holds every message until warren-perf's
        # teardown deletes it.
        subprocess.run([perf, "--uri", "amqp://guest:guest@127.0.0.1:%d" % port, "-x", "1", "-y", "0",
                        "-s", "1024", "-C", str(MESSAGES), "-c", "1000", "-z", "60", "--json"],
                       check=True, stdout=subprocess.DEVNULL, timeout=90)
        peak = rss_kb(b.pid, "VmHWM")
        rss = rss_kb(b.pid)
        deadline = time.monotonic() + 4.0
        while time.monotonic() < deadline:
            time.sleep(0.2)
            rss = rss_kb(b.pid)
        print("trim-mb %d: RSS %d kB at start, peak %d kB, %d kB 4 s after the delete" % (trim_mb, base, peak, rss))
        return base, peak, rss
    finally:
        b.terminate()
        b.wait(timeout=10)


def main():
    broker, perf = sys.argv[1], sys.argv[2]
    try:
        base, peak, rss = run(broker, perf, 16)
    except Skip:
        print("SKIP: the broker runs under AddressSanitizer, whose allocator malloc_trim does not manage")
        return 0
    grown = peak - base
    if grown < 50000:
        print("FAIL: the backlog did not grow the broker (peak %d kB over %d kB)" % (peak, base))
        return 1
    if rss - base > grown // 4:
        print("FAIL: memory not returned: %d kB of the %d kB grown still resident" % (rss - base, grown))
        return 1
    cbase, cpeak, crss = run(broker, perf, 0)
    if crss - cbase < (cpeak - cbase) // 2:
        print("FAIL: control without trimming gave its memory back anyway: the test proves nothing")
        return 1
    print("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
