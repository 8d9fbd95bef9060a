#!/usr/bin/python3
"""Run one interop test command against a freshly started broker.

    harness.py --broker /path/to/warren-broker [--broker-arg X ...] [--timeout S] -- CMD ARGS...
    harness.py --rabbitmq [--timeout S] -- CMD ARGS...

The harness picks a free loopback port, starts the broker on it (Warren, or a private
RabbitMQ node for checking an expectation against the real thing), waits until the port
accepts connections, runs CMD with AMQP_HOST, AMQP_PORT and AMQP_URL set, then stops the
broker. Warren must exit with status 0 within 10 s of SIGTERM; a crash, a hang or a
non-zero exit is a test failure. The broker's log is printed on any failure.

Exit status: CMD's status, or 1 when the broker failed (even if CMD passed).
Python 3 standard library only.
"""

import argparse
import fcntl
import os
import random
import shutil
import signal
import socket
import string
import subprocess
import sys
import tempfile
import time

HOST = "127.0.0.1"
BROKER_START_TIMEOUT = 15.0
BROKER_STOP_TIMEOUT = 10.0
RABBITMQ_START_TIMEOUT = 60.0
RABBITMQ_STOP_TIMEOUT = 30.0
# RabbitMQ nodes need port+20000 for Erlang distribution (<= 65535), so they are taken
# from a fixed range; override with WARREN_INTEROP_RABBITMQ_PORTS=LO-HI.
DEFAULT_RABBITMQ_PORTS = "5700-5760"
RABBITMQ_LIB = "/usr/lib/rabbitmq/bin"


def log(msg):
    print("harness: " + msg, file=sys.stderr, flush=True)


class HarnessError(Exception):
    pass


class NodeEnded(HarnessError):
    pass


# --------------------------------------------------------------------------------------
# ports


def port_is_free(port, host=HOST):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind((host, port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def ephemeral_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind((HOST, 0))
        return s.getsockname()[1]
    finally:
        s.close()


class PortLock:
    """An flock on /tmp/warren-interop-port-P.lock, held while the port is in use, so that
    harnesses running in parallel (ctest -j) never pick the same port."""

    def __init__(self, port):
        self.port = port
        path = "/tmp/warren-interop-port-%d.lock" % port
        # read-only is enough for flock, and works on a lock file another user created
        self.fd = os.open(path, os.O_CREAT | os.O_RDONLY, 0o644)
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(self.fd)
            raise

    def release(self):
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


def pick_ephemeral_port():
    for _ in range(50):
        port = ephemeral_port()
        try:
            lock = PortLock(port)
        except OSError:
            continue
        if port_is_free(port):
            return port, lock
        lock.release()
    raise HarnessError("could not find a free loopback port")


def pick_rabbitmq_ports(avoid=()):
    spec = os.environ.get("WARREN_INTEROP_RABBITMQ_PORTS", DEFAULT_RABBITMQ_PORTS)
    try:
        lo, hi = (int(x) for x in spec.split("-"))
    except ValueError:
        raise HarnessError("bad WARREN_INTEROP_RABBITMQ_PORTS %r (want LO-HI)" % spec)
    for port in range(lo, hi + 1):
        if port in avoid:
            continue
        try:
            lock = PortLock(port)
        except OSError:
            continue
        dist = port + 20000
        if port_is_free(port) and dist <= 65535 and port_is_free(dist, "0.0.0.0"):
            return port, dist, lock
        if port_is_free(port):
            # dist port taken: any free port will do for distribution
            return port, ephemeral_port(), lock
        lock.release()
    raise HarnessError("no free port in %s for a RabbitMQ node" % spec)


def wait_for_port(port, timeout, alive):
    """Wait until HOST:port accepts a TCP connection. alive() -> None while the server
    process runs, else a description of how it ended."""
    deadline = time.monotonic() + timeout
    while True:
        ended = alive()
        if ended is not None:
            raise HarnessError("broker ended before accepting connections: " + ended)
        try:
            with socket.create_connection((HOST, port), timeout=1.0):
                return
        except OSError:
            pass
        if time.monotonic() >= deadline:
            raise HarnessError("broker did not accept connections on %s:%d within %.0f s"
                               % (HOST, port, timeout))
        time.sleep(0.05)


def describe_status(rc):
    if rc is None:
        return "still running"
    if rc < 0:
        try:
            return "killed by signal %s" % signal.Signals(-rc).name
        except ValueError:
            return "killed by signal %d" % -rc
    return "exit status %d" % rc


def kill_group(pgid, sig=signal.SIGKILL):
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


# --------------------------------------------------------------------------------------
# Warren


class WarrenBroker:
    def __init__(self, path, extra_args, workdir):
        self.path = path
        self.extra_args = list(extra_args)
        self.workdir = workdir
        self.log_path = os.path.join(workdir, "broker.log")
        self.proc = None
        self.port = None
        self.lock = None

    def start(self):
        if not (os.path.isfile(self.path) and os.access(self.path, os.X_OK)):
            raise HarnessError("broker %s is not an executable file" % self.path)
        args = self.extra_args
        if "--log-level" not in args and not any(a.startswith("--log-level=") for a in args):
            args = ["--log-level", "info"] + args
        for attempt in range(3):
            self.port, self.lock = pick_ephemeral_port()
            cmd = [self.path, "--port", str(self.port), "--bind", HOST] + args
            log("starting %s" % " ".join(cmd))
            with open(self.log_path, "ab") as logf:
                logf.write(("=== %s\n" % " ".join(cmd)).encode())
                logf.flush()
                self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=logf,
                                             stderr=subprocess.STDOUT, start_new_session=True)
            try:
                wait_for_port(self.port, BROKER_START_TIMEOUT, self._ended)
                return
            except HarnessError:
                # Someone took the port between our check and the broker's bind: retry.
                if self.proc.poll() is not None and "in use" in self.log_text().lower() and attempt < 2:
                    log("port %d was taken, retrying on another port" % self.port)
                    self.lock.release()
                    continue
                raise

    def _ended(self):
        rc = self.proc.poll()
        return None if rc is None else describe_status(rc)

    def stop(self):
        """SIGTERM; the broker must exit 0 within BROKER_STOP_TIMEOUT. Returns an error
        description or None."""
        if self.proc is None:
            return None
        try:
            rc = self.proc.poll()
            if rc is not None:
                return "broker died during the test (%s)" % describe_status(rc)
            t0 = time.monotonic()
            self.proc.send_signal(signal.SIGTERM)
            try:
                rc = self.proc.wait(BROKER_STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                kill_group(self.proc.pid)
                self.proc.wait()
                return "broker did not exit within %.0f s of SIGTERM (killed)" % BROKER_STOP_TIMEOUT
            log("broker exited (%s) %.2f s after SIGTERM" % (describe_status(rc), time.monotonic() - t0))
            if rc != 0:
                return "broker ended with %s after SIGTERM (want exit status 0)" % describe_status(rc)
            return None
        finally:
            kill_group(self.proc.pid)  # stragglers in the broker's process group
            if self.lock:
                self.lock.release()

    def log_text(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError as e:
            return "(no log: %s)" % e

    def dump_log(self):
        log("---- broker log %s ----" % self.log_path)
        sys.stderr.write(self.log_text())
        log("---- end of broker log ----")


# --------------------------------------------------------------------------------------
# RabbitMQ (private node)


class RabbitMQNode:
    def __init__(self, workdir):
        self.workdir = workdir
        self.base = os.path.join(workdir, "rmq")
        self.log_path = os.path.join(workdir, "rabbitmq-server.out")
        self.proc = None
        self.port = None
        self.lock = None
        self.node = None
        self.as_root = os.geteuid() == 0
        # WARREN_RABBITMQ_CONFIG=/path/x.config (classic Erlang terms) or /path/x.conf (sysctl format): a config
        # file for the node, e.g. a short consumer_timeout for tests/interop/extensions/consumer_timeout.py
        self.config_src = os.environ.get("WARREN_RABBITMQ_CONFIG") or None
        self.config_path = None

    def _env(self):
        env = dict(os.environ)
        b = self.base
        env.update({
            "RABBITMQ_NODENAME": self.node,
            "RABBITMQ_NODE_IP_ADDRESS": HOST,
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            # the CLI tools' own distribution ports, away from the default 35672-35682
            "RABBITMQ_CTL_DIST_PORT_MIN": str(self.port + 30000),
            "RABBITMQ_CTL_DIST_PORT_MAX": str(self.port + 30010),
            "ERL_EPMD_ADDRESS": HOST,
            "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": "-kernel inet_dist_use_interface {127,0,0,1}",
            "RABBITMQ_MNESIA_BASE": os.path.join(b, "mnesia"),
            "RABBITMQ_LOG_BASE": os.path.join(b, "log"),
            "RABBITMQ_PID_FILE": os.path.join(b, "pid"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": os.path.join(b, "enabled_plugins"),
            "RABBITMQ_CONFIG_FILE": self.config_path or os.path.join(b, "none"),
            "RABBITMQ_ADVANCED_CONFIG_FILE": os.path.join(b, "none-advanced.config"),
            "RABBITMQ_CONF_ENV_FILE": os.path.join(b, "rabbitmq-env.conf"),
            # marks every process of this node, to find stragglers
            "WARREN_HARNESS_NODE": self.base,
        })
        if self.as_root:
            env["HOME"] = "/var/lib/rabbitmq"  # the rabbitmq user's Erlang cookie
        else:
            env["HOME"] = self.base  # a cookie of our own
        return env

    def _popen_user(self):
        return {"user": "rabbitmq", "group": "rabbitmq", "extra_groups": []} if self.as_root else {}

    def start(self):
        if not os.path.exists(os.path.join(RABBITMQ_LIB, "rabbitmq-server")):
            raise HarnessError("RabbitMQ is not installed (%s/rabbitmq-server missing); "
                               "apt-get install rabbitmq-server" % RABBITMQ_LIB)
        tried = []
        t0 = time.monotonic()
        deadline = t0 + RABBITMQ_START_TIMEOUT
        while True:
            self.port, self.dist_port, self.lock = pick_rabbitmq_ports(tried)
            tried.append(self.port)
            try:
                self._start_once(deadline)
                log("RabbitMQ node up in %.1f s" % (time.monotonic() - t0))
                return
            except NodeEnded as e:
                # e.g. a port taken by someone else between our check and the node's bind
                if len(tried) >= 3 or time.monotonic() > deadline - 10:
                    raise HarnessError(str(e))
                log("%s; retrying on another port" % e)
                self.dump_log()
                self.stop()

    def _start_once(self, deadline):
        self.node = "warren%d@localhost" % self.port
        self.base = os.path.join(self.workdir, "rmq%d" % self.port)
        self.log_path = os.path.join(self.workdir, "rabbitmq-server-%d.out" % self.port)
        for d in ("mnesia", "log"):
            os.makedirs(os.path.join(self.base, d))
        with open(os.path.join(self.base, "enabled_plugins"), "w") as f:
            f.write("[].\n")
        open(os.path.join(self.base, "rabbitmq-env.conf"), "w").close()
        if self.config_src:
            ext = ".config" if self.config_src.endswith(".config") else ".conf"
            self.config_path = os.path.join(self.base, "rabbitmq" + ext)
            shutil.copyfile(self.config_src, self.config_path)
            log("RabbitMQ config file %s (from WARREN_RABBITMQ_CONFIG)" % self.config_src)
        if not self.as_root:
            # HOME is self.base: write the Erlang cookie before the node and the CLI race to
            # create different ones
            cookie = os.path.join(self.base, ".erlang.cookie")
            fd = os.open(cookie, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o400)
            os.write(fd, "".join(random.choice(string.ascii_uppercase) for _ in range(20)).encode())
            os.close(fd)
        if self.as_root:
            shutil.chown(self.workdir, "rabbitmq", "rabbitmq")
            for root, dirs, files in os.walk(self.base):
                shutil.chown(root, "rabbitmq", "rabbitmq")
                for n in files:
                    shutil.chown(os.path.join(root, n), "rabbitmq", "rabbitmq")
        log("starting RabbitMQ node %s on %s:%d (dist port %d)"
            % (self.node, HOST, self.port, self.dist_port))
        with open(self.log_path, "ab") as logf:
            self.proc = subprocess.Popen([os.path.join(RABBITMQ_LIB, "rabbitmq-server")],
                                         stdin=subprocess.DEVNULL, stdout=logf,
                                         stderr=subprocess.STDOUT, env=self._env(),
                                         cwd=self.base, start_new_session=True,
                                         **self._popen_user())
        # The node first registers with epmd, then boots; await_startup fails at once while
        # the node is not reachable yet, so retry it until the deadline.
        while True:
            ended = self._ended()
            if ended is not None:
                raise NodeEnded("RabbitMQ node %s ended during start-up (%s)" % (self.node, ended))
            left = deadline - time.monotonic()
            if left <= 0:
                raise HarnessError("RabbitMQ node %s did not start within %.0f s (see its log below)"
                                   % (self.node, RABBITMQ_START_TIMEOUT))
            r = self.ctl(["await_startup", "--timeout", str(max(1, int(left)))], timeout=left + 5)
            if r is not None and r.returncode == 0:
                break
            time.sleep(0.5)
        try:
            wait_for_port(self.port, max(1.0, deadline - time.monotonic()), self._ended)
        except HarnessError as e:
            if self._ended() is not None:
                raise NodeEnded(str(e))
            raise

    def ctl(self, args, timeout=30):
        cmd = [os.path.join(RABBITMQ_LIB, "rabbitmqctl"), "-n", self.node] + args
        try:
            return subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, env=self._env(), cwd=self.base,
                                  timeout=timeout, **self._popen_user())
        except subprocess.TimeoutExpired:
            return None

    def _ended(self):
        rc = self.proc.poll()
        return None if rc is None else describe_status(rc)

    def stop(self):
        if self.proc is None:
            return None
        try:
            rc = self.proc.poll()
            if rc is not None:
                return "RabbitMQ node died during the test (%s)" % describe_status(rc)
            t0 = time.monotonic()
            r = self.ctl(["stop"], timeout=RABBITMQ_STOP_TIMEOUT)
            if r is None or r.returncode != 0:
                log("rabbitmqctl stop failed: %s" % ("timeout" if r is None else r.stdout.decode(errors="replace")))
                self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(RABBITMQ_STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                log("RabbitMQ node did not stop, killing it")
            log("RabbitMQ node stopped in %.1f s" % (time.monotonic() - t0))
            return None
        finally:
            kill_group(self.proc.pid)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                pass
            self._kill_stragglers()
            if self.lock:
                self.lock.release()

    def _kill_stragglers(self):
        """Kill any process still carrying this node's marker (never epmd, which other
        nodes share)."""
        marker = ("WARREN_HARNESS_NODE=" + self.base).encode()
        for pid in os.listdir("/proc"):
            if not pid.isdigit() or int(pid) == os.getpid():
                continue
            try:
                with open("/proc/%s/environ" % pid, "rb") as f:
                    env = f.read().split(b"\0")
                with open("/proc/%s/comm" % pid, "rb") as f:
                    comm = f.read().strip()
            except OSError:
                continue
            if marker in env and comm != b"epmd":
                log("killing straggler pid %s (%s)" % (pid, comm.decode(errors="replace")))
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except OSError:
                    pass

    def dump_log(self):
        paths = [self.log_path]
        logdir = os.path.join(self.base, "log")
        if os.path.isdir(logdir):
            paths += sorted(os.path.join(logdir, n) for n in os.listdir(logdir) if n.endswith(".log"))
        for p in paths:
            log("---- %s (last 20000 bytes) ----" % p)
            try:
                with open(p, "rb") as f:
                    data = f.read()
                sys.stderr.write(data[-20000:].decode("utf-8", "replace"))
            except OSError as e:
                log("(cannot read: %s)" % e)
        log("---- end of RabbitMQ logs ----")


# --------------------------------------------------------------------------------------


def run_command(cmd, env, timeout):
    """Run CMD in its own process group; on timeout kill the whole group. Returns its
    exit status (124 on timeout)."""
    t0 = time.monotonic()
    try:
        proc = subprocess.Popen(cmd, env=env, start_new_session=True)
    except OSError as e:
        log("cannot run %s: %s" % (cmd[0], e))
        return 127
    try:
        rc = proc.wait(timeout)
    except subprocess.TimeoutExpired:
        log("command timed out after %.0f s, killing it" % timeout)
        kill_group(proc.pid, signal.SIGTERM)
        try:
            proc.wait(3)
        except subprocess.TimeoutExpired:
            pass
        kill_group(proc.pid)
        proc.wait()
        rc = 124
    finally:
        if proc.returncode is None:  # interrupted: take the command down with us
            kill_group(proc.pid)
            proc.wait()
    kill_group(proc.pid)  # leftovers of the command (its children)
    if rc < 0:
        log("command %s" % describe_status(rc))
        rc = 128 - rc
    log("command exited with status %d after %.2f s" % (rc, time.monotonic() - t0))
    return rc


def parse_args(argv):
    if "--" not in argv:
        raise SystemExit("usage: harness.py (--broker PATH [--broker-arg X]... | --rabbitmq) "
                         "[--timeout S] -- CMD ARGS...")
    i = argv.index("--")
    own, cmd = argv[:i], argv[i + 1:]
    # "--broker-arg --x" would make argparse take --x for an option: glue the pairs
    glued = []
    it = iter(own)
    for a in it:
        if a == "--broker-arg":
            glued.append("--broker-arg=" + next(it, ""))
        else:
            glued.append(a)
    own = glued
    p = argparse.ArgumentParser(prog="harness.py", description=__doc__.split("\n\n")[0])
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--broker", help="path to the warren-broker executable")
    g.add_argument("--rabbitmq", action="store_true", help="run against a private RabbitMQ node")
    p.add_argument("--broker-arg", action="append", default=[], help="extra broker argument (repeatable)")
    p.add_argument("--timeout", type=float, default=120.0, help="timeout of CMD in seconds (default 120)")
    p.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = p.parse_args(own)
    if not cmd:
        p.error("no command after --")
    return args, cmd


def main(argv):
    args, cmd = parse_args(argv)
    workdir = tempfile.mkdtemp(prefix="warren-interop-")
    broker = RabbitMQNode(workdir) if args.rabbitmq else WarrenBroker(args.broker, args.broker_arg, workdir)

    def on_signal(signum, frame):
        raise KeyboardInterrupt("signal %d" % signum)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)

    failed = False
    status = 1
    try:
        try:
            broker.start()
        except HarnessError as e:
            log("ERROR: %s" % e)
            failed = True
            broker.stop()
            return 1
        env = dict(os.environ)
        env.update({
            "AMQP_HOST": HOST,
            "AMQP_PORT": str(broker.port),
            "AMQP_URL": "amqp://guest:guest@%s:%d/" % (HOST, broker.port),
            # Conformance scripts apply Warren's documented differences (docs/broker.md) when
            # they talk to Warren rather than to RabbitMQ.
            "AMQP_SERVER": "rabbitmq" if args.rabbitmq else "warren",
        })
        log("running %s with AMQP_URL=%s" % (" ".join(cmd), env["AMQP_URL"]))
        status = run_command(cmd, env, args.timeout)
        if status != 0:
            failed = True
        err = broker.stop()
        if err:
            log("ERROR: %s" % err)
            failed = True
            if status == 0:
                status = 1
        return status
    except KeyboardInterrupt as e:
        log("interrupted (%s), stopping the broker" % e)
        failed = True
        try:
            broker.stop()
        except Exception:
            pass
        return 1
    finally:
        if failed:
            broker.dump_log()
            log("FAILED (kept %s)" % workdir)
        elif args.keep:
            log("kept %s" % workdir)
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
