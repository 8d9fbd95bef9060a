#!/usr/bin/env python3
"""Run every extension script against AMQP_HOST:AMQP_PORT; print per-script result and runtime.

Exit status is non-zero if any script fails. Each script gets a hard 60 s limit.
consumer_timeout.py skips itself (exit 0) unless CONSUMER_TIMEOUT_MS is set (see README.md).
Usage: run_all.py [-j N] [SCRIPT ...]   (-j runs N scripts at a time against the same broker)
"""
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPTS = ["arguments.py", "ttl.py", "queue_expiry.py", "dead_letter.py", "max_length.py", "priority.py",
           "alternate_exchange.py", "direct_reply_to.py", "single_active_consumer.py", "consumer_priority.py",
           "consumer_timeout.py", "quorum.py"]


def run(name):
    t0 = time.monotonic()
    try:
        p = subprocess.run([sys.executable, os.path.join(HERE, name)], capture_output=True, text=True, timeout=60)
        rc, out = p.returncode, p.stdout + p.stderr
    except subprocess.TimeoutExpired as e:
        out = e.stdout.decode(errors="replace") if isinstance(e.stdout, bytes) else (e.stdout or "")
        rc = "timeout"
    return name, rc, out, time.monotonic() - t0


def main(argv):
    jobs = 1
    if argv[:1] == ["-j"]:
        jobs, argv = int(argv[1]), argv[2:]
    scripts = argv or SCRIPTS
    failed = []
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        for name, rc, out, dt in pool.map(run, scripts):
            skipped = rc == 0 and ": SKIP" in out
            status = "SKIP" if skipped else "PASS" if rc == 0 else f"FAIL ({rc})"
            print(f"{status:12} {dt:6.1f}s  {name}", flush=True)
            if rc != 0:
                failed.append(name)
                print("    " + "\n    ".join(out.strip().splitlines()[-20:]))
    print(f"{len(scripts) - len(failed)}/{len(scripts)} scripts passed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
