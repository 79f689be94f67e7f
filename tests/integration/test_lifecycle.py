"""Start-up, flags, usage errors, listening addresses, signals and shutdown."""
import re
import signal
import socket
import time

import pytest

from conftest import NATTER_BIN, PROMPT, WAIT, Server, _check_binary, open_client, scaled

SHUTDOWN = "*** Server is shutting down ***"
ALL_FLAGS = ["-l", "--listen", "--echo", "--idle-timeout", "--name-timeout", "--max-clients",
             "--max-line", "--max-output", "--sndbuf", "--log-level", "--log-messages",
             "--version", "-h", "--help"]


# --- signals and shutdown


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_shutdown_tells_every_client(start_server, sig):  # PROTOCOL.md §4.5, §4.6
    server = start_server()
    alice, bob = server.join("Alice"), server.join("Bob")
    alice.expect_line("*** Bob has joined the chat ***")
    unnamed = server.connect(label="unnamed")
    unnamed.expect_bytes(PROMPT)
    typing = server.connect(label="typing")
    typing.expect_bytes(PROMPT)
    typing.send_raw(b"half a na")
    bob.send_raw(b"half a line")
    server.signal(sig)
    for c in (alice, bob, unnamed, typing):
        c.expect_line(SHUTDOWN)  # and no leave notice before or after it
        c.expect_closed(timeout=scaled(7))
        c.close()
    assert server.wait_exit() == 0
    server.stop()  # asserts exit 0 and a clean stderr
    name = "SIGTERM" if sig == signal.SIGTERM else "SIGINT"
    log = server.log()
    assert re.search(rb" info received %s, shutting down\n" % name.encode(), log), log
    assert re.search(rb" info shutdown complete\n", log), log
    assert b"left: quit" not in log and b"left: closed" not in log


def test_shutdown_with_no_clients(start_server):  # OPERATIONS.md "Exit status"
    server = start_server()
    assert server.stop() == 0


@pytest.mark.test_timeout(45)
def test_shutdown_flushes_at_most_5_seconds(start_server):  # PROTOCOL.md §4.5
    server = start_server("--sndbuf", "4096")
    stalled = server.join("Stalled", rcvbuf=4096)  # never reads
    sender = server.join("Sender")
    # About 200 KB for Stalled: over what the kernel holds, under the 1 MiB output cap.
    sender.send_raw(b"".join(b"%04d %s\n" % (i, b"z" * 1000) for i in range(200)))
    sender.expect_silence(0.3)  # natter reads and queues it meanwhile
    t0 = time.monotonic()
    server.signal(signal.SIGTERM)
    sender.expect_line(SHUTDOWN)
    sender.expect_closed(timeout=scaled(7))
    sender.close()
    # OPERATIONS.md "Signals": the listeners close first; natter is still flushing to Stalled.
    assert server.running()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((server.host, server.port), timeout=WAIT).close()
    rc = server.wait_exit(timeout=scaled(5) + 5)
    elapsed = time.monotonic() - t0
    assert rc == 0
    assert elapsed < 5 + scaled(2), f"shutdown took {elapsed:.2f}s, more than 5 s of flushing"
    server.stop()
    assert b"left: slow" not in server.log(), "Stalled was cut as slow; the test needs more room"
    stalled.read_until_closed(timeout=scaled(5))


@pytest.mark.test_timeout(45)
def test_shutdown_flush_reaches_a_reader_that_takes_3_seconds(start_server):
    # PROTOCOL.md §4.5: "the server flushes output for at most 5 seconds": a client that drains
    # its backlog in about 3.5 s gets all of it, then the shutdown line, then EOF.
    server = start_server("--sndbuf", "4096")
    lagging = server.join("Lagging", rcvbuf=4096)
    fast = server.join("Fast")
    sender = server.join("Sender")
    fast.expect_line("*** Sender has joined the chat ***")
    lines = [b"%04d %s\n" % (i, b"w" * 1000) for i in range(200)]  # ~200 KB, under 1 MiB
    sender.send_raw(b"".join(lines))
    for line in lines:
        fast.expect_line(b"Sender: " + line[:-1])  # natter has read (and queued) every line
    server.signal(signal.SIGTERM)
    t0 = time.monotonic()
    for c in (fast, sender):
        c.expect_line(SHUTDOWN)
        c.expect_closed(timeout=scaled(7))
        c.close()
    got = bytearray()
    lagging.sock.settimeout(scaled(10))
    while True:  # at most 60 KB/s, so about 3.4 s for the backlog
        chunk = lagging.sock.recv(6000)
        if not chunk:
            break
        got += chunk
        time.sleep(max(0.0, t0 + len(got) / 60000 - time.monotonic()))
    elapsed = time.monotonic() - t0
    lagging.close()  # natter then need not wait for the peer after its FIN (§4.6)
    want = (b"*** Fast has joined the chat ***\n*** Sender has joined the chat ***\n"
            + b"".join(b"Sender: " + line for line in lines) + SHUTDOWN.encode() + b"\n")
    assert bytes(got) == want, \
        f"Lagging got {len(got)} of {len(want)} bytes in {elapsed:.2f}s; last {bytes(got[-80:])!r}"
    assert server.wait_exit(timeout=scaled(5) + 5) == 0
    server.stop()


def test_second_signal_exits_at_once_with_1(start_server):  # OPERATIONS.md "Signals"
    server = start_server("--sndbuf", "4096")
    server.join("Stalled", rcvbuf=4096)  # never reads, so the flush cannot finish
    sender = server.join("Sender")
    sender.send_raw(b"".join(b"%04d %s\n" % (i, b"z" * 1000) for i in range(200)))
    sender.expect_silence(0.3)
    server.signal(signal.SIGTERM)
    server.wait_log(r" info received SIGTERM, shutting down$")
    t0 = time.monotonic()
    server.signal(signal.SIGINT)
    rc = server.wait_exit(timeout=scaled(3))
    assert rc == 1, f"exit status {rc} after a second signal, expected 1"
    assert time.monotonic() - t0 < scaled(2)
    server.stop(expect_rc=1)


# --- usage


@pytest.mark.parametrize("argv, flag", [
    (["--max-line", "0"], "--max-line"),
    (["--max-line", "abc"], "--max-line"),
    (["--max-line"], "--max-line"),
    (["--idle-timeout", "-1"], "--idle-timeout"),
    (["--idle-timeout", "soon"], "--idle-timeout"),
    (["--name-timeout", "-0.5"], "--name-timeout"),
    (["--max-output", "1k"], "--max-output"),
    (["--max-clients", "-3"], "--max-clients"),
    (["--sndbuf", "12x"], "--sndbuf"),
    (["--listen", "nonsense"], "--listen"),
    (["--listen", "127.0.0.1"], "--listen"),
    (["--listen", "127.0.0.1:70000"], "--listen"),
    (["--listen", "[::1]"], "--listen"),
    (["-l", "nonsense"], "-l"),
    (["--log-level", "verbose"], "--log-level"),
    (["--frobnicate"], "--frobnicate"),
    (["--listen", "127.0.0.1:0", "--bogus-flag", "1"], "--bogus-flag"),
], ids=lambda v: " ".join(v) if isinstance(v, list) else None)
def test_usage_error_exits_2_and_names_the_flag(run_natter, argv, flag):  # OPERATIONS.md
    res = run_natter(*argv)
    assert res.returncode == 2, res
    assert flag.encode() in res.stderr, res
    assert b"listening on" not in res.stderr, res


def test_every_usage_error_is_reported(run_natter):  # OPERATIONS.md "Exit status"
    res = run_natter("--max-line", "0", "--idle-timeout", "-1", "--listen", "nonsense")
    assert res.returncode == 2, res
    for flag in (b"--max-line", b"--idle-timeout", b"--listen"):
        assert flag in res.stderr, res


def test_listen_at_most_16_times(run_natter):  # OPERATIONS.md "Options"
    argv = []
    for _ in range(17):
        argv += ["--listen", "127.0.0.1:0"]
    res = run_natter(*argv)
    assert res.returncode == 2, res
    assert b"--listen" in res.stderr, res


def test_help_lists_every_flag(run_natter):  # OPERATIONS.md "Options"
    for flag in ("--help", "-h"):
        res = run_natter(flag)
        assert res.returncode == 0, res
        missing = [f for f in ALL_FLAGS if not re.search(rb"(^|[\s,])%s\b" % re.escape(f.encode()),
                                                          res.stdout)]
        assert not missing, f"{flag}: --help output lacks {missing}:\n{res.stdout.decode()}"


def test_version(run_natter, start_server):  # OPERATIONS.md "Exit status", "Logs"
    res = run_natter("--version")
    assert res.returncode == 0, res
    m = re.match(rb"natter (\S+)", res.stdout)
    assert m, res
    server = start_server("--max-clients", "7")
    server.wait_log(rb" info natter %s starting: chat mode, max-clients 7$" % re.escape(m.group(1)))


def test_address_in_use_exits_1(run_natter):  # OPERATIONS.md "Exit status"
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    port = taken.getsockname()[1]
    try:
        res = run_natter("--listen", f"127.0.0.1:{port}")
    finally:
        taken.close()
    assert res.returncode == 1, res
    assert f"cannot listen on 127.0.0.1:{port}: address already in use".encode() in res.stderr, res


def test_second_address_in_use_exits_1(run_natter):  # OPERATIONS.md "Exit status"
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    port = taken.getsockname()[1]
    try:
        res = run_natter("--listen", "127.0.0.1:0", "--listen", f"127.0.0.1:{port}")
    finally:
        taken.close()
    assert res.returncode == 1, res
    assert f"cannot listen on 127.0.0.1:{port}: address already in use".encode() in res.stderr, res


def test_default_max_clients_follows_open_file_limit(start_server):  # OPERATIONS.md "Start-up"
    # The soft limit is raised to the hard one (200), and max-clients is that minus 32.
    server = start_server(rlimit_nofile=(100, 200))
    server.wait_log(r" info natter \S+ starting: chat mode, max-clients 168$")


# --- listening addresses


def have_ipv6_loopback():
    try:
        s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    except OSError:
        return False
    try:
        s.bind(("::1", 0))
        return True
    except OSError:
        return False
    finally:
        s.close()


# An environment check, not a hidden skip: a machine without ::1 cannot run this test at all.
needs_ipv6 = pytest.mark.skipif(not have_ipv6_loopback(), reason="no IPv6 loopback (::1) here")


@needs_ipv6
def test_ipv6(start_server):  # PROTOCOL.md §1, OPERATIONS.md "Start-up"
    server = start_server(listen=("[::1]:0",))
    assert server.addresses[0][0] == "::1" and server.addresses[0][2] == socket.AF_INET6
    alice, bob = server.join("Alice"), server.join("Bob")
    alice.expect_line("*** Bob has joined the chat ***")
    bob.send("over IPv6")
    alice.expect_line("Bob: over IPv6")
    server.wait_log(r"peer=\[::1\]:%d joined as Bob$" % bob.local_port)


def test_two_listen_addresses(start_server):  # PROTOCOL.md §1
    server = start_server(listen=("127.0.0.1:0", "127.0.0.2:0"))
    assert [a[0] for a in server.addresses] == ["127.0.0.1", "127.0.0.2"]
    alice = server.join("Alice", addr=0)
    bob = server.join("Bob", addr=1)
    alice.expect_line("*** Bob has joined the chat ***")
    bob.send("from the second address")
    alice.expect_line("Bob: from the second address")
    alice.send("from the first")
    bob.expect_line("Alice: from the first")


@needs_ipv6
def test_ipv4_and_ipv6_together(start_server):  # PROTOCOL.md §1
    server = start_server("-l", "[::1]:0")
    assert len(server.addresses) == 2 and server.addresses[1][0] == "::1"
    alice = server.join("Alice", addr=0)
    bob = server.join("Bob", addr=1)
    alice.expect_line("*** Bob has joined the chat ***")
    bob.send("hello v4")
    alice.expect_line("Bob: hello v4")


def test_fixed_port(start_server):  # OPERATIONS.md "Start-up"
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    server = start_server(listen=(f"127.0.0.1:{port}",))
    assert server.port == port
    server.join("Alice")


# --- logs


def test_log_levels(start_server):  # OPERATIONS.md "Logs"
    server = start_server("--log-level", "debug")
    c = server.connect(label="unnamed")
    c.expect_bytes(PROMPT)
    port = c.local_port
    c.close()
    server.wait_log(r" debug conn=\d+ peer=127\.0\.0\.1:%d closed before naming: \S+$" % port)
    alice = server.join("Alice")
    port = alice.local_port
    alice.close()
    server.wait_log(r" info conn=\d+ peer=127\.0\.0\.1:%d name=Alice left: closed$" % port)
    line_re = re.compile(rb"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (error|warn|info|debug) \S")
    for line in server.log().splitlines():
        assert line_re.match(line), f"malformed log line {line!r}"


def test_log_level_warn_hides_info(tmp_path):  # OPERATIONS.md "Logs"
    # Without info lines there is no `listening on` to read the port from: pick a free one.
    _check_binary()
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    server = Server([NATTER_BIN, "--listen", f"127.0.0.1:{port}", "--log-level", "warn"],
                    tmp_path / "warn.log")
    try:
        deadline = time.monotonic() + scaled(10)
        while True:
            try:
                c = open_client("127.0.0.1", port, label="Alice")
                break
            except ConnectionRefusedError:
                assert time.monotonic() < deadline and server.running(), server.log()
                time.sleep(0.01)
        c.expect_bytes(PROMPT)
        c.send("Alice")
        c.expect_welcome("Alice")
        c2 = open_client("127.0.0.1", port, label="Bob")
        c2.expect_bytes(PROMPT)
        c2.send("Bob")
        c2.expect_welcome("Bob")
        c.expect_line("*** Bob has joined the chat ***")
        c.close()
        c2.expect_line("*** Alice has left the chat ***")
        c2.close()
        assert server.stop() == 0
        assert not re.search(rb" (info|debug) ", server.log()), server.log()
    finally:
        server.kill()


# --- PROTOCOL.md §4.6 how a close happens


@pytest.mark.test_timeout(40)
def test_goodbye_half_closes_then_closes_after_2_seconds(start_server):  # PROTOCOL.md §4.6
    server = start_server("--name-timeout", "0.2")
    c = server.connect(label="slowpoke")
    c.expect_bytes(PROMPT)
    c.expect_line("Disconnected: no valid name given in time.", timeout=scaled(3))
    t0 = time.monotonic()
    c.expect_closed()  # FIN
    # Input after the goodbye is read and discarded: no reply, no reset yet.
    c.send_raw(b"Alice\nhello\n")
    c.expect_closed()
    # Then natter closes for good within about 2 s; data sent after that is answered with RST.
    deadline = t0 + 2 + scaled(3)
    while True:
        time.sleep(0.1)
        try:
            c.sock.send(b"x")
            c.sock.settimeout(0.05)
            data = c.sock.recv(100)
            assert data == b"", f"got {data!r} after the goodbye"
        except socket.timeout:
            pass
        except (ConnectionResetError, BrokenPipeError):
            break
        finally:
            c.sock.settimeout(None)
        assert time.monotonic() < deadline, "natter never closed the half-closed connection"
    elapsed = time.monotonic() - t0
    assert elapsed > 1.5, f"closed {elapsed:.2f}s after the goodbye, before the 2 s linger"
