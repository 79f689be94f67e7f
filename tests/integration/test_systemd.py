"""systemd: sd_notify(3) messages natter sends to NOTIFY_SOCKET (Type=notify): READY after the
listeners are bound, RELOADING and READY around a SIGHUP, STOPPING at shutdown, WATCHDOG at half
of WATCHDOG_USEC (OPERATIONS.md "systemd", issue #12)."""
import signal
import socket

import pytest

from conftest import scaled


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

