"""Reloading a running server: SIGHUP re-reads --config and the command line and applies what can
change live (OPERATIONS.md "Reloading").

Each test starts natter with a config file of its own (and no --listen on the command line, so
the file's addresses are the listeners), rewrites the file, sends SIGHUP and waits for the
reload's log lines; then it checks, on the wire, that clients connected before the reload are
still there and live under the new values, and that a broken reload changed nothing. The
fixture's `--rate 0` is on the command line, which overrides the file, except where a test
asks for the file's flood control (pace=True).
"""
import re
import signal
import socket
import time

import pytest

from chat_helpers import barrier, connect_from, join_from, notice
from conftest import PROMPT, make_cert, open_client, scaled
from irc_helpers import Irc, from_

TOO_MANY = b"Too many connections from your address.\n"


def write(path, *lines):
    path.write_text("".join(line + "\n" for line in lines))


def start(start_server, conf, *args, n, pace=False):
    """natter with --config conf and args, waiting for the file's n listeners; pace: the file's
    flood control holds (no --rate 0 on the command line)."""
    server = start_server("--config", conf, *args, listen=(), pace=pace)
    server.addresses, server.schemes = [], []
    server.wait_listening(n)
    return server


def started_with(start_server, tmp_path, *lines, n=1):
    """Writes lines as tmp_path/natter.conf and starts natter on it; returns (conf, server)."""
    conf = tmp_path / "natter.conf"
    write(conf, *lines)
    return conf, start(start_server, conf, n=n)


def reload(server, count=1):
    """SIGHUP; waits for the count-th reload to have been received and finished."""
    server.signal(signal.SIGHUP)
    server.wait_log(rb" info received SIGHUP, reloading$", count=count)
    # The reload runs whole in the signal's callback, before the loop accepts anything else: a
    # prompt on a new connection proves it is over.
    c = open_client(*server.addresses[0][:2], label="after-reload")
    c.expect_bytes(PROMPT)
    c.close()


def reload_lines(server):
    return re.findall(rb" (info|warn|error) (reload: .*)$", server.log(), re.M)


# -- a changed option applies to the clients already connected


def test_changed_limits_apply_to_connected_clients(start_server, tmp_path):
    conf, server = started_with(start_server, tmp_path,
                                "listen = 127.0.0.1:0", "max-line = 4096", "history = 0")
    alice, bob = server.join("Alice"), server.join("Bob")
    alice.expect_line(notice("Bob has joined the chat"))
    alice.send("x" * 50)
    bob.expect_line("Alice: " + "x" * 50)

    write(conf, "listen = 127.0.0.1:0", "max-line = 20", "history = 2")
    reload(server)
    assert reload_lines(server) == [(b"info", b"reload: max-line 4096 -> 20"),
                                    (b"info", b"reload: history 0 -> 2")]
    # Alice, connected before, is held to the new cap; her connection stays.
    alice.send("y" * 21)
    alice.expect_line("Line too long (more than 20 bytes); not sent.")
    alice.send("y" * 20)
    bob.expect_line("Alice: " + "y" * 20)
    bob.send("from bob")
    alice.expect_line("Bob: from bob")
    # The room now keeps 2 lines: a newcomer gets them.
    carol = server.join("Carol")
    carol.expect_line("Alice: " + "y" * 20)
    carol.expect_line("Bob: from bob")
    barrier(carol)
    alice.expect_line(notice("Carol has joined the chat"))
    barrier(alice)


def test_a_line_pending_when_max_line_shrinks_is_refused(start_server, tmp_path):
    conf, server = started_with(start_server, tmp_path, "listen = 127.0.0.1:0")
    alice, bob = server.join("Alice"), server.join("Bob")
    alice.expect_line(notice("Bob has joined the chat"))
    # No LF yet. Whether natter reads these bytes before the reload (a pending line that turns
    # out too long: the unit tests of the framer cover that path) or after it, the line is over
    # the new cap when its LF comes.
    alice.send_raw(b"z" * 30)
    write(conf, "listen = 127.0.0.1:0", "max-line = 10")
    reload(server)
    alice.send_raw(b"\n")
    alice.expect_line("Line too long (more than 10 bytes); not sent.")
    alice.send("short")
    bob.expect_line("Alice: short")


def test_idle_timeout_lowered_cuts_a_client_idle_since_before(start_server, tmp_path):
    conf, server = started_with(start_server, tmp_path,
                                "listen = 127.0.0.1:0", "idle-timeout = 300")
    alice, bob = server.join("Alice"), server.join("Bob")
    alice.expect_line(notice("Bob has joined the chat"))
    write(conf, "listen = 127.0.0.1:0", "idle-timeout = 1")
    reload(server)
    assert (b"info", b"reload: idle-timeout 300 -> 1") in reload_lines(server)
    # Both have been idle for less than a second of the new timeout, or more: either way they
    # go within about a second, with the HOWTO's goodbye.
    for c in (alice, bob):
        assert c.read_until_closed(timeout=scaled(5)).endswith(b"Disconnected: idle timeout.\n")


def test_idle_timeout_turned_on_starts_from_the_reload(start_server, tmp_path):
    conf, server = started_with(start_server, tmp_path, "listen = 127.0.0.1:0", "idle-timeout = 0")
    alice = server.join("Alice")
    write(conf, "listen = 127.0.0.1:0", "idle-timeout = 1.5")
    reload(server)
    assert (b"info", b"reload: idle-timeout 0 -> 1.5") in reload_lines(server)
    assert alice.read_until_closed(timeout=scaled(6)).endswith(b"Disconnected: idle timeout.\n")
    server.wait_log(rb"name=Alice left: idle$")


def test_irc_pings_follow_a_reloaded_idle_timeout(start_server, tmp_path):
    conf, server = started_with(start_server, tmp_path,
                                "listen = 127.0.0.1:0", "listen = irc://127.0.0.1:0",
                                "idle-timeout = 0", n=2)
    carol = Irc(server.connect(server.address_of("irc"), label="carol"))
    carol.register("carol")
    write(conf, "listen = 127.0.0.1:0", "listen = irc://127.0.0.1:0", "idle-timeout = 2")
    reload(server)
    # Half of the idle timeout later, natter PINGs; unanswered, it closes with ERROR.
    carol.expect("PING :natter", timeout=scaled(5))
    carol.expect_error("Ping timeout", timeout=scaled(5))


def test_flood_control_turned_on_paces_a_connected_client(start_server, tmp_path):
    conf = tmp_path / "natter.conf"
    write(conf, "listen = 127.0.0.1:0", "rate = 0")
    server = start(start_server, conf, n=1, pace=True)
    alice, bob = server.join("Alice"), server.join("Bob")
    alice.expect_line(notice("Bob has joined the chat"))
    write(conf, "listen = 127.0.0.1:0", "rate = 2", "burst = 2")
    reload(server)
    assert reload_lines(server) == [(b"info", b"reload: rate 0 -> 2"),
                                    (b"info", b"reload: burst 20 -> 2")]
    # Alice's next lines: two at once (the burst), then one each half second, none lost.
    alice.send_raw(b"".join(b"line %d\n" % i for i in range(1, 51)))
    bob.expect_line("Alice: line 1")
    bob.expect_line("Alice: line 2")
    bob.expect_silence(0.3)
    bob.expect_line("Alice: line 3", timeout=scaled(3))
    # Off again while 47 lines wait (23 s at this pace): they are let go at once.
    write(conf, "listen = 127.0.0.1:0", "rate = 0")
    reload(server, count=2)
    # Still paced, they would take 23.5 s; let go, well under 12 s even under valgrind.
    deadline = time.monotonic() + 12
    for i in range(4, 51):
        bob.expect_line(f"Alice: line {i}", timeout=max(0.1, deadline - time.monotonic()))


def test_operator_password_file_reread(start_server, tmp_path):
    pw = tmp_path / "oper.pw"
    pw.write_text("old-secret\n")
    conf, server = started_with(start_server, tmp_path,
                                "listen = 127.0.0.1:0", f"oper-password-file = {pw}")
    alice = server.join("Alice")
    pw.write_text("new-secret\n")
    reload(server)
    assert reload_lines(server) == [(b"info", b"reload: operator password changed")]
    alice.send("/oper old-secret")
    alice.expect_line(notice("Permission denied"))
    alice.send("/oper new-secret")
    alice.expect_line(notice("You are now an operator"))


def test_log_level_reloaded(start_server, tmp_path):
    conf, server = started_with(start_server, tmp_path, "listen = 127.0.0.1:0")
    c = server.connect(label="unnamed")
    c.expect_bytes(PROMPT)
    c.close()
    assert b" debug " not in server.log()
    write(conf, "listen = 127.0.0.1:0", "log-level = debug")
    reload(server)
    assert (b"info", b"reload: log-level info -> debug") in reload_lines(server)
    c = server.connect(label="unnamed")
    c.expect_bytes(PROMPT)
    c.close()
    server.wait_log(rb" debug conn=\d+ peer=\S+ closed before naming: ")


def test_max_per_ip_reloaded_counts_those_connected(start_server, tmp_path):
    conf, server = started_with(start_server, tmp_path,
                                "listen = 127.0.0.1:0", "max-per-ip = 0",
                                "no-loopback-exempt = yes")
    first = join_from(server, "First", "127.0.0.5")
    second = join_from(server, "Second", "127.0.0.5")
    write(conf, "listen = 127.0.0.1:0", "max-per-ip = 2", "no-loopback-exempt = yes")
    reload(server)
    assert (b"info", b"reload: max-per-ip 0 -> 2") in reload_lines(server)
    # The two already connected fill the address's two places.
    third = connect_from(server, "127.0.0.5", label="third")
    assert third.read_until_closed() == TOO_MANY
    first.send("still here")
    second.expect_line("First: still here")


# -- listeners


def test_listeners_added_and_removed(start_server, tmp_path):
    conf, server = started_with(start_server, tmp_path,
                                "listen = 127.0.0.1:0", "listen = irc://127.0.0.1:0", n=2)
    irc_host, irc_port, _ = server.addresses[server.address_of("irc")]
    carol = Irc(server.connect(server.address_of("irc"), label="carol"))
    carol.register("carol")
    carol.join("#lobby")
    alice = server.join("Alice")
    carol.expect(from_("Alice", "JOIN #lobby"))

    # The IRC listener goes, a second line listener comes.
    write(conf, "listen = 127.0.0.1:0", "listen = 127.0.0.2:0")
    reload(server)
    [m] = server.wait_log(rb" info reload: listening on 127\.0\.0\.2:(\d+)$")
    new_port = int(m.group(1))
    assert (b"info", b"reload: stopped listening on irc://127.0.0.1:%d; its clients stay"
            % irc_port) in reload_lines(server)
    # The new address answers with the prompt.
    bob = open_client("127.0.0.2", new_port, label="Bob")
    bob.expect_bytes(PROMPT)
    bob.send("Bob")
    bob.expect_welcome("Bob")
    # The old IRC address refuses; carol, who came through it, stays and chats.
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((irc_host, irc_port), timeout=scaled(2)).close()
    carol.expect(from_("Bob", "JOIN #lobby"))
    carol.send("PRIVMSG #lobby :still here")
    alice.expect_line(notice("Bob has joined the chat"))
    alice.expect_line("carol: still here")
    bob.expect_line("carol: still here")

    # And it can come back on a reload.
    write(conf, "listen = 127.0.0.1:0", "listen = 127.0.0.2:0", "listen = irc://127.0.0.1:0")
    reload(server, count=2)
    server.wait_log(rb" info reload: listening on irc://127\.0\.0\.1:\d+$")


def test_a_listener_that_cannot_bind_changes_nothing(start_server, tmp_path):
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    taken = busy.getsockname()[1]
    conf, server = started_with(start_server, tmp_path, "listen = 127.0.0.1:0", "max-line = 4096")
    alice = server.join("Alice")
    try:
        write(conf, "listen = 127.0.0.1:0", "listen = 127.0.0.3:0",
              f"listen = 127.0.0.1:{taken}", "max-line = 10")
        reload(server)
        server.wait_log(rb" error reload: the configuration has errors; nothing changed$")
    finally:
        busy.close()
    lines = reload_lines(server)
    assert (b"error", b"reload: cannot listen on 127.0.0.1:%d: address already in use" % taken) \
        in lines
    assert not any(b"max-line" in text for _, text in lines), lines
    # The listener opened before the failing one was closed again; the old limit holds.
    port3 = int(re.search(rb"reload: listening on 127\.0\.0\.3:(\d+)", server.log()).group(1))
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.3", port3), timeout=scaled(2)).close()
    alice.send("x" * 50)
    barrier(alice)


# -- errors change nothing; what cannot change live is said


def test_broken_reload_changes_nothing_and_names_every_error(start_server, tmp_path):
    conf, server = started_with(start_server, tmp_path,
                                "listen = 127.0.0.1:0", "max-line = 4096", "history = 1")
    alice, bob = server.join("Alice"), server.join("Bob")
    alice.expect_line(notice("Bob has joined the chat"))
    write(conf, "listen = 127.0.0.1:0", "max-line = 10", "history = many", "bogus = 1",
          "idle-timeout = 1")
    reload(server)
    server.wait_log(rb" error reload: the configuration has errors; nothing changed$")
    path = str(conf).encode()
    assert reload_lines(server) == [
        (b"error", b"reload: %s:3: --history: must be a whole number from 0 to 10000, "
                   b"got 'many'" % path),
        (b"error", b"reload: %s:4: unknown option 'bogus' (see --help)" % path),
        (b"error", b"reload: the configuration has errors; nothing changed"),
    ]
    # max-line is still 4096, history still 1, idle-timeout still 300.
    alice.send("x" * 50)
    bob.expect_line("Alice: " + "x" * 50)
    carol = server.join("Carol")
    carol.expect_line("Alice: " + "x" * 50)
    barrier(carol)


def test_a_missing_config_file_changes_nothing(start_server, tmp_path):
    conf, server = started_with(start_server, tmp_path, "listen = 127.0.0.1:0")
    alice = server.join("Alice")
    conf.unlink()
    reload(server)
    server.wait_log(rb" error reload: the configuration has errors; nothing changed$")
    assert re.search(rb" error reload: --config: cannot read '%s': No such file or directory$"
                     % re.escape(str(conf).encode()), server.log(), re.M), server.log()
    barrier(alice)


def test_option_that_needs_a_restart_is_named_and_the_rest_applied(start_server, tmp_path):
    conf, server = started_with(start_server, tmp_path, "listen = 127.0.0.1:0")
    alice = server.join("Alice")
    state = tmp_path / "state"
    write(conf, "listen = 127.0.0.1:0", "echo = yes", f"state-dir = {state}", "max-line = 30")
    reload(server)
    assert reload_lines(server) == [
        (b"warn", b"reload: echo no -> yes needs a restart; no stays until then"),
        (b"info", b"reload: max-line 4096 -> 30"),
        (b"warn", b"reload: state-dir none -> %s needs a restart; none stays until then"
                  % str(state).encode()),
    ]
    assert not state.exists()
    # Still the chat, not echo; the new max-line holds.
    bob = server.join("Bob")
    alice.expect_line(notice("Bob has joined the chat"))
    alice.send("w" * 31)
    alice.expect_line("Line too long (more than 30 bytes); not sent.")


def test_reload_without_changes_says_so(start_server, tmp_path):
    server = start_server()
    alice = server.join("Alice")
    reload(server)
    assert reload_lines(server) == [(b"info", b"reload: nothing changed")]
    barrier(alice)


def test_tls_listener_added_by_a_reload(start_server, tmp_path):
    cert = make_cert(tmp_path, "localhost")
    conf, server = started_with(start_server, tmp_path, "listen = 127.0.0.1:0")
    write(conf, "listen = 127.0.0.1:0", "listen = tls://127.0.0.1:0", f"tls-cert = {cert.cert}",
          f"tls-key = {cert.key}")
    reload(server)
    [m] = server.wait_log(rb" info reload: listening on tls://127\.0\.0\.1:(\d+)$")
    assert (b"info", b"reload: TLS certificate %s and key %s loaded"
            % (str(cert.cert).encode(), str(cert.key).encode())) in reload_lines(server)
    server.addresses.append(("127.0.0.1", int(m.group(1)), socket.AF_INET))
    server.schemes.append("tls")
    c = server.connect(server.address_of("tls"), label="tls")
    assert c.is_tls
    c.expect_bytes(PROMPT)
