"""systemd: sd_notify(3) messages natter sends to NOTIFY_SOCKET (Type=notify): READY after the
listeners are bound, RELOADING and READY around a SIGHUP, STOPPING at shutdown, WATCHDOG at half
of WATCHDOG_USEC; and log lines for the journal when stderr is its stream (JOURNAL_STREAM)
(OPERATIONS.md "systemd", issue #12)."""
import contextlib
import os
import re
import signal
import socket
import subprocess
import time

import pytest

from conftest import NATTER_BIN, WRAPPER, sanitizer_reports, scaled


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



@contextlib.contextmanager
def natter_process(argv, log, env, pass_fds=()):
    """Runs argv (natter, maybe through a shell that execs it) with stderr on the file log and
    env, waits for its `listening on` and yields the Popen; then stops it with SIGTERM, which
    must end it with status 0. Kills it if it is still running however the block ends."""
    with open(log, "wb") as f:
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=f,
                             env=env, pass_fds=pass_fds)
    try:
        deadline = time.monotonic() + scaled(10)
        while b"listening on" not in log.read_bytes():
            assert p.poll() is None and time.monotonic() < deadline, log.read_bytes()
            time.sleep(0.01)
        yield p
        p.send_signal(signal.SIGTERM)
        assert p.wait(timeout=scaled(10) + 5) == 0
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


def run_with_stderr(tmp_path, env_for):
    """Starts natter with stderr on a file and env_for(stat of that file) added, waits for its
    `listening on`, stops it; returns its log."""
    log = tmp_path / "natter.log"
    log.touch()
    env = {**os.environ, **env_for(os.stat(log))}
    env.pop("NOTIFY_SOCKET", None)
    with natter_process([NATTER_BIN, "--listen", "127.0.0.1:0"], log, env):
        pass
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


# -- socket activation (dist/natter.socket, sd_listen_fds(3))


def listening_socket(host, kind=socket.SOCK_STREAM):
    s = socket.socket(socket.AF_INET, kind)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((host, 0))
    if kind == socket.SOCK_STREAM:
        s.listen(16)
    return s


def test_socket_activation_takes_the_sockets_of_its_listen_addresses(tmp_path):
    # As systemd does it: the sockets at descriptors 3, 4, ... with LISTEN_FDS=N and LISTEN_PID
    # set to natter's own pid (the shell sets it, then execs natter in the same process).
    line, irc = listening_socket("127.0.0.1"), listening_socket("127.0.0.1")
    stray, dgram = listening_socket("127.0.0.2"), listening_socket("127.0.0.1", socket.SOCK_DGRAM)
    socks = [line, irc, stray, dgram]
    port = [s.getsockname()[1] for s in socks]
    fds = [s.fileno() for s in socks]
    dups = " ".join(f"{3 + i}<&{fd} {fd}<&-" for i, fd in enumerate(fds))
    # bash: dash takes single-digit descriptors only in redirections.
    argv = ["/bin/bash", "-c", f'exec {dups}; LISTEN_FDS=4 LISTEN_PID=$$ exec "$@"', "bash",
            *WRAPPER, NATTER_BIN, "--listen", f"127.0.0.1:{port[0]}",
            "--listen", f"irc://127.0.0.1:{port[1]}", "--rate", "0"]
    log = tmp_path / "natter.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LISTEN_", "NOTIFY_"))}
    with natter_process(argv, log, env, pass_fds=fds):
        for s in socks:
            s.close()  # natter holds its own copies now
        deadline = time.monotonic() + scaled(10)
        while log.read_bytes().count(b"listening on") < 2:
            assert time.monotonic() < deadline, log.read_bytes()
            time.sleep(0.01)
        text = log.read_text()
        assert re.search(r" info socket activation: 4 sockets from systemd$", text, re.M), text
        assert re.search(r" warn socket activation: 127\.0\.0\.2:%d is not a --listen address; "
                         r"closed$" % port[2], text, re.M), text
        assert re.search(r" warn socket activation: descriptor 6 is not a listening TCP socket; "
                         r"closed$", text, re.M), text
        assert re.search(r" info listening on 127\.0\.0\.1:%d$" % port[0], text, re.M), text
        assert re.search(r" info listening on irc://127\.0\.0\.1:%d$" % port[1], text, re.M), text
        # Each socket speaks what its --listen says.
        with socket.create_connection(("127.0.0.1", port[0]), timeout=scaled(5)) as c:
            assert c.recv(64) == b"Enter your name: "
        with socket.create_connection(("127.0.0.1", port[1]), timeout=scaled(5)) as c:
            c.sendall(b"NICK carol\r\nUSER carol 0 * :Carol\r\n")
            got = b""
            while b"\r\n" not in got:
                chunk = c.recv(4096)
                assert chunk, got
                got += chunk
            assert got.startswith(b":natter 001 carol :Welcome"), got
        # The stray socket was closed by natter too: nobody listens there any more.
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.2", port[2]), timeout=scaled(2)).close()
    assert not sanitizer_reports(log.read_bytes())
