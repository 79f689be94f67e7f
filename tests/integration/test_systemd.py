"""systemd: sd_notify(3) messages natter sends to NOTIFY_SOCKET (Type=notify): READY after the
listeners are bound, RELOADING and READY around a SIGHUP, STOPPING at shutdown, WATCHDOG at half
of WATCHDOG_USEC; and log lines for the journal when stderr is its stream (JOURNAL_STREAM)
(OPERATIONS.md "systemd", issue #12)."""
import os
import re
import signal
import socket
import subprocess
import time

import pytest

from conftest import NATTER_BIN, scaled


@pytest.fixture
def notify_socket(tmp_path):
    path = str(tmp_path / "notify.sock")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(path)
    yield s, path
    s.close()


def receive(sock, want, timeout=None):
    """Reads datagrams until one contains the line want; returns every message read."""
    sock.settimeout(scaled(5) if timeout is None else timeout)
    got = []
    while True:
        try:
            msg = sock.recv(4096).decode()
        except socket.timeout:
            pytest.fail(f"no {want!r} from natter; got {got}")
        got.append(msg)
        if want in msg.split("\n"):
            return got


def test_ready_reloading_stopping(start_server, notify_socket):
    sock, path = notify_socket
    server = start_server(listen=("127.0.0.1:0", "irc://127.0.0.1:0"),
                          env={"NOTIFY_SOCKET": path})
    got = receive(sock, "READY=1")
    # READY comes once both listeners are bound (start_server saw both `listening on` lines
    # after it, or before: either way nothing else was sent first).
    assert got == ["READY=1\nSTATUS=serving on 2 listeners"]
    server.signal(signal.SIGHUP)
    assert receive(sock, "RELOADING=1") == ["RELOADING=1"]
    assert receive(sock, "READY=1") == ["READY=1"]
    c = server.join("Alice")
    c.close()
    server.signal(signal.SIGTERM)
    assert receive(sock, "STOPPING=1") == ["STOPPING=1"]
    assert server.proc.wait(timeout=scaled(10) + 5) == 0
    server.returncode = 0


def test_watchdog_pings_at_half_the_interval(start_server, notify_socket):
    sock, path = notify_socket
    start_server(env={"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "200000"})
    receive(sock, "READY=1")
    sock.settimeout(scaled(2))
    pings = [sock.recv(4096).decode() for _ in range(3)]  # about every 100 ms
    assert pings == ["WATCHDOG=1"] * 3



def run_with_stderr(tmp_path, env_for):
    """Starts natter with stderr on a file and env_for(stat of that file) added, waits for its
    `listening on`, stops it; returns its log."""
    log = tmp_path / "natter.log"
    with open(log, "wb") as f:
        st = os.fstat(f.fileno())
        env = {**os.environ, **env_for(st)}
        env.pop("NOTIFY_SOCKET", None)
        p = subprocess.Popen([NATTER_BIN, "--listen", "127.0.0.1:0"], stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=f, env=env)
        try:
            deadline = time.monotonic() + scaled(10)
            while b"listening on" not in log.read_bytes():
                assert p.poll() is None and time.monotonic() < deadline, log.read_bytes()
                time.sleep(0.01)
            p.send_signal(signal.SIGTERM)
            assert p.wait(timeout=scaled(10) + 5) == 0
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
    return log.read_text()


def test_on_the_journal_lines_have_its_level_prefix_and_no_timestamp(tmp_path):
    text = run_with_stderr(tmp_path, lambda st: {"JOURNAL_STREAM": f"{st.st_dev}:{st.st_ino}"})
    lines = text.splitlines()
    assert lines and all(re.fullmatch(r"<[3467]>(error|warn|info|debug) .+", ln) for ln in lines)
    assert re.search(r"^<6>info listening on 127\.0\.0\.1:\d+$", text, re.M)
    assert "<6>info shutdown complete" in lines


def test_a_journal_stream_that_is_not_stderr_keeps_the_timestamps(tmp_path):
    # A child of a service whose stderr was redirected inherits JOURNAL_STREAM, not the stream.
    text = run_with_stderr(tmp_path, lambda st: {"JOURNAL_STREAM": f"{st.st_dev}:{st.st_ino + 1}"})
    assert re.search(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z info listening on ", text, re.M)
    assert "<6>" not in text
