#!/usr/bin/python3
"""Tutorial 6, "RPC": rpc_server.py / rpc_client.py over 'rpc_queue'.

Each client declares an exclusive server-named callback queue, sends requests with
reply_to and a fresh correlation_id, and waits for the matching answer. Two clients run at
the same time against one server (prefetch 1): every answer must be fib(n) and reach the
client that asked."""
from driverlib import check, log, main, tutorial


def fib(n):
    a, b = 0, 1
    for _ in range(n):
        a, b = b, a + b
    return a


CLIENTS = {
    "client A": [0, 1, 2, 10, 20],
    "client B": [3, 5, 15, 22, 7],
}


def test():
    server = tutorial("rpc_server", "rpc_server.py")
    server.wait_for(r"\[x\] Awaiting RPC requests", timeout=20)

    clients = {name: tutorial(name, "rpc_client.py", *ns, env={"RPC_TIMEOUT": "20"})
               for name, ns in CLIENTS.items()}
    for name, c in clients.items():
        c.expect_exit(40)
        asked = [int(m.group(1)) for m in c.matching(r"\[x\] Requesting fib\((\d+)\)$")]
        got = [int(m.group(1)) for m in c.matching(r"\[\.\] Got (-?\d+)$")]
        check(asked == CLIENTS[name], "%s asked for %r, want %r" % (name, asked, CLIENTS[name]))
        want = [fib(n) for n in CLIENTS[name]]
        check(got == want, "%s got %r, want %r" % (name, got, want))
        log("%s: fib%r = %r" % (name, tuple(CLIENTS[name]), got))

    served = [int(m.group(1)) for m in server.matching(r"\[\.\] fib\((\d+)\)$")]
    every = sorted(n for ns in CLIENTS.values() for n in ns)
    check(sorted(served) == every, "server computed %r, want %r" % (sorted(served), every))
    rc = server.interrupt()
    check(rc == 0, "rpc_server.py exited with status %d after Ctrl+C" % rc)


if __name__ == "__main__":
    main(test)
