#!/usr/bin/env python3
"""Run every conformance script against AMQP_HOST:AMQP_PORT; print per-script result and runtime.

Exit status is non-zero if any script fails. Each script gets a hard 120 s limit.
Set CONFORMANCE_SLOW=1 to include close_timeouts.py (~31 s).
"""
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPTS = ["server_properties.py", "errors_declare.py", "errors_exclusive.py", "errors_basic.py",
           "errors_channel.py", "raw_frames.py", "errors_connection.py", "qos_and_requeue.py", "topic_routing.py",
           "headers_exchange.py", "lifecycle.py", "max_message_size.py", "close_timeouts.py"]

failed = []
for name in SCRIPTS:
    t0 = time.monotonic()
    try:
        p = subprocess.run([sys.executable, os.path.join(HERE, name)], capture_output=True, text=True, timeout=120)
        rc, out = p.returncode, p.stdout + p.stderr
    except subprocess.TimeoutExpired as e:
        rc, out = "timeout", (e.stdout or b"").decode(errors="replace") if isinstance(e.stdout, bytes) else (e.stdout or "")
    dt = time.monotonic() - t0
    status = "PASS" if rc == 0 else f"FAIL ({rc})"
    print(f"{status:12} {dt:6.1f}s  {name}")
    if rc != 0:
        failed.append(name)
        print("    " + "\n    ".join(out.strip().splitlines()[-15:]))
print(f"{len(SCRIPTS) - len(failed)}/{len(SCRIPTS)} scripts passed")
sys.exit(1 if failed else 0)
