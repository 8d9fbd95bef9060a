#!/usr/bin/env python3
# Runs the seed's worker pattern end to end: two receivers (one for errors, one for info and
# warnings), then the sender publishes persistent messages for each severity. Each receiver
# prints what it got; the demo checks that every message reached the right receiver.
import os
import subprocess
import sys
import time

here = os.path.dirname(os.path.abspath(__file__))
py = '/usr/bin/python3'
plan = [('error', 'disk full...'), ('info', 'user logged in.'), ('warning', 'cpu hot..'),
        ('error', 'database down'), ('info', 'job finished')]
want_errors = sum(1 for s, _ in plan if s == 'error')
want_other = len(plan) - want_errors

receivers = [
    subprocess.Popen([py, os.path.join(here, 'receiver.py'), '--count', str(want_errors), 'error'],
                     stdout=subprocess.PIPE, text=True),
    subprocess.Popen([py, os.path.join(here, 'receiver.py'), '--count', str(want_other), 'info', 'warning'],
                     stdout=subprocess.PIPE, text=True),
]
time.sleep(1.0)  # let both receivers declare and bind their queues
for severity, text in plan:
    subprocess.run([py, os.path.join(here, 'sender.py'), severity, text], check=True)

ok = True
for name, r in zip(['errors receiver', 'info/warning receiver'], receivers):
    try:
        out, _ = r.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        r.kill()
        out, _ = r.communicate()
        ok = False
    print('--- %s:' % name)
    print(out, end='')
    ok = ok and r.returncode == 0
print('demo %s' % ('succeeded' if ok else 'FAILED'))
sys.exit(0 if ok else 1)
