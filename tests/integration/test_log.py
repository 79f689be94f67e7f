"""The log never stalls the chat (OPERATIONS.md "Logging").

natter's stderr on a pipe that nobody reads (a stuck supervisor or journal): once the pipe is
full, log lines wait in natter's own bounded buffer, then are dropped and counted, and the chat
goes on for everyone. When the reader comes back it gets whole lines, then one line saying how
many were dropped where they are missing.
"""
import os
import re
import select
import signal
import subprocess
import time

import pytest

from conftest import NATTER_BIN, PROMPT, WRAPPER, _check_binary, _preexec, open_client, \
    sanitizer_reports, scaled

N_LINES = 4000
TEXT_BYTES = 200  # each line's text: with --log-messages, about 250 bytes of log each
LOG_LINE = re.compile(rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (error|warn|info|debug) .*\n")
DROPPED = re.compile(rb" warn (\d+) log lines dropped: stderr was not read fast enough\n")
LISTEN = re.compile(rb" info listening on 127\.0\.0\.1:(\d+)\n")


def text(i):
    return (b"%05d " % i + b"x" * TEXT_BYTES)[:TEXT_BYTES]


class PipeReader:
    """The read end of natter's stderr, read only when the test says so."""

    def __init__(self, fd):
        self.fd = fd
        self.data = bytearray()

    def read_until(self, pattern, timeout):
        deadline = time.monotonic() + timeout
        while True:
            m = pattern.search(self.data)
            if m:
                return m
            left = deadline - time.monotonic()
            if left <= 0:
                pytest.fail(f"no {pattern.pattern!r} on natter's stderr within {timeout:.0f}s; "
                            f"tail {bytes(self.data[-1500:])!r}", pytrace=False)
            ready, _, _ = select.select([self.fd], [], [], min(left, 0.5))
            if ready:
                chunk = os.read(self.fd, 65536)
                if not chunk:
                    pytest.fail(f"natter's stderr closed before {pattern.pattern!r}",
                                pytrace=False)
                self.data += chunk


def join(port, name):
    c = open_client("127.0.0.1", port, label=name)
    c.expect_bytes(PROMPT)
    c.send(name)
    c.expect_welcome(name)
    return c


def test_unread_stderr_drops_and_counts_log_lines_and_the_chat_goes_on():
    _check_binary()
    rfd, wfd = os.pipe()
    proc = subprocess.Popen([*WRAPPER, NATTER_BIN, "--listen", "127.0.0.1:0", "--rate", "0",
                             "--log-messages"],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=wfd,
                            close_fds=True, preexec_fn=_preexec(None))
    os.close(wfd)
    log = PipeReader(rfd)
    clients = []
    try:
        port = int(log.read_until(LISTEN, scaled(10)).group(1))
        # From here nobody reads natter's stderr until the chat is over.
        bob = join(port, "Bob")
        alice = join(port, "Alice")
        clients += [bob, alice]
        bob.expect_line("*** Alice has joined the chat ***")
        for start in range(0, N_LINES, 500):
            alice.send_raw(b"".join(text(i) + b"\n" for i in range(start, start + 500)))
            # Bob keeps reading, so neither he nor Alice is ever behind by much.
            for i in range(start, start + 500):
                bob.expect_line(b"Alice: " + text(i), timeout=scaled(10))
        # About 1 MB of log was written to a pipe that holds 64 KiB, and the server still
        # serves a newcomer, and a line from her reaches Bob.
        carol = join(port, "Carol")
        clients.append(carol)
        bob.expect_line("*** Carol has joined the chat ***")
        carol.send("still here")
        bob.expect_line("Carol: still here")
        alice.expect_line("*** Carol has joined the chat ***")
        alice.expect_line("Carol: still here")

        # The reader comes back: whole lines, then the count of what is missing.
        m = log.read_until(DROPPED, scaled(20))
        dropped = int(m.group(1))
        before = bytes(log.data[: log.data.rfind(b"\n", 0, m.start()) + 1])
        lines = before.splitlines(keepends=True)
        for line in lines:
            assert LOG_LINE.fullmatch(line), f"not a whole log line: {line[:300]!r}"
        said = sum(1 for line in lines if b" info conn=" in line and b" Alice: " in line)
        # Each of Alice's lines was either logged or counted as dropped; past the count, only the
        # few events around Carol's arrival (her join, her line) may be among the dropped.
        assert 0 < dropped and said < N_LINES, (dropped, said)
        assert N_LINES <= said + dropped <= N_LINES + 4, (said, dropped)
    finally:
        for c in clients:
            c.close()
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        # Read what is left, so the end of the log gets out.
        deadline = time.monotonic() + scaled(10) + 5
        while time.monotonic() < deadline:
            ready, _, _ = select.select([rfd], [], [], 0.2)
            if ready:
                chunk = os.read(rfd, 65536)
                if not chunk:
                    break
                log.data += chunk
            elif proc.poll() is not None:
                break
        try:
            rc = proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            rc = None
        os.close(rfd)
    assert rc == 0, f"natter exit status {rc} after SIGTERM; tail {bytes(log.data[-1500:])!r}"
    assert b" info shutdown complete\n" in log.data
    assert not sanitizer_reports(bytes(log.data)), bytes(log.data[-6000:])
