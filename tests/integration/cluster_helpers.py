"""Helpers for the cluster's black-box tests (PROTOCOL.md §10, issue #11): a real redis-server of
the test's own, and natter nodes linked through it.

- Redis: redis-server on a free loopback port, no persistence, in the test's tmp directory;
  stop() (SIGTERM), kill() (SIGKILL), pause()/resume() (SIGSTOP/SIGCONT) and start() again on the
  same port. Every signal goes to its own PID; teardown kills what is left.
- start_node(redis, name, *args): natter with --redis and --node-name on a line and an IRC
  address, waiting for "cluster: linked"; link(nodes) waits until every node has heard of
  every other ("cluster: node X is here").
"""
import os
import signal
import socket
import subprocess
import time

import pytest

from conftest import WAIT, scaled

REDIS_BIN = "/usr/bin/redis-server"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Redis:
    def __init__(self, directory, port=None):
        self.dir = directory
        self.port = port or free_port()
        self.proc = None
        self.starts = 0

    @property
    def url(self):
        return f"redis://127.0.0.1:{self.port}"

    def start(self):
        self.starts += 1
        log = open(self.dir / f"redis-{self.starts}.log", "wb")
        self.proc = subprocess.Popen(
            [REDIS_BIN, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.dir), "--daemonize", "no"],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, close_fds=True)
        log.close()
        deadline = time.monotonic() + scaled(10)
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(64).startswith(b"+PONG"):
                        return self
            except OSError:
                pass
            if self.proc.poll() is not None:
                pytest.fail(f"redis-server exited ({self.proc.returncode})", pytrace=False)
            time.sleep(0.02)
        pytest.fail("redis-server did not answer PING", pytrace=False)

    def command(self, *args):
        """One command, the raw RESP answer (enough for the tests' checks)."""
        out = b"*%d\r\n" % len(args)
        for a in args:
            a = a.encode() if isinstance(a, str) else a
            out += b"$%d\r\n%s\r\n" % (len(a), a)
        with socket.create_connection(("127.0.0.1", self.port), timeout=WAIT) as s:
            s.sendall(out)
            time.sleep(0.05)
            return s.recv(1 << 16)

    def _signal(self, sig):
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, sig)

    def pause(self):
        self._signal(signal.SIGSTOP)

    def resume(self):
        self._signal(signal.SIGCONT)

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self._signal(signal.SIGCONT)
            self._signal(signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self):
        self.kill()


@pytest.fixture
def redis(tmp_path):
    r = Redis(tmp_path).start()
    yield r
    r.kill()


LISTEN = ("127.0.0.1:0", "irc://127.0.0.1:0")


def start_node(start_server, redis, name, *args, wait_linked=True):
    s = start_server("--redis", redis.url, "--node-name", name, *args, listen=LISTEN)
    s.node = name
    if wait_linked:
        s.wait_log(rf"cluster: linked through Redis as {name}$", timeout=scaled(10))
    return s


def link(nodes):
    """Waits until every node has heard of every other."""
    for s in nodes:
        for o in nodes:
            if o is not s:
                s.wait_log(rf"cluster: node {o.node} is here$", timeout=scaled(10))
