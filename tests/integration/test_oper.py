"""Operators: /oper, /kick, /ban, /unban, /bans, /wall, and what non-operators get
(PROTOCOL.md §4.4, §7.1, §7.10; OPERATIONS.md "Operators", "Logs")."""
import re

import pytest

from chat_helpers import (OPER_COMMANDS, barrier, connect_from, denied, join_from, join_room,
                          notice, usage)
from conftest import PROMPT

PASSWORD = "Tr0ub4dor&3"
BANNED = b"You are banned from this server.\n"


@pytest.fixture
def password_file(tmp_path):
    path = tmp_path / "oper-password"
    path.write_text(PASSWORD + "\n")
    path.chmod(0o600)
    return path


@pytest.fixture
def oper_server(start_server, password_file):
    return start_server("--oper-password-file", password_file)


def make_oper(server, client):
    client.send(f"/oper {PASSWORD}")
    client.expect_line(notice("You are now an operator"))


def lobby(server, *names):
    """Joins names in order; each client has read every later join notice."""
    clients = []
    for name in names:
        c = server.join(name)
        for other in clients:
            other.expect_line(notice(f"{name} has joined the chat"))
        clients.append(c)
    return clients


def assert_password_not_logged(server, *secrets):
    log = server.log()
    for s in secrets:
        assert s.encode() not in log, f"{s!r} appears in natter's log"


# -- /oper


def test_oper_with_the_right_password(oper_server):  # PROTOCOL.md §7.10
    alice, bob = lobby(oper_server, "Alice", "Bob")
    alice.send(f"/oper {PASSWORD}")
    alice.expect_line(notice("You are now an operator"))
    oper_server.wait_log(rb" info conn=\d+ peer=127\.0\.0\.1:%d name=Alice is now an operator$"
                         % alice.local_port)
    barrier(bob)
    alice.send("/bans")
    alice.expect_line(notice("No banned addresses"))
    assert_password_not_logged(oper_server, PASSWORD)


def test_oper_password_argument_is_trimmed(oper_server):  # PROTOCOL.md §3.1, §7.10
    alice, = lobby(oper_server, "Alice")
    alice.send(f"/OPER    {PASSWORD}   ")
    alice.expect_line(notice("You are now an operator"))


@pytest.mark.parametrize("guess", ["guess-1", PASSWORD.lower(), PASSWORD + "x", PASSWORD[:-1],
                                   f"{PASSWORD} {PASSWORD}"])
def test_oper_with_a_wrong_password(oper_server, guess):  # PROTOCOL.md §7.10, OPERATIONS.md
    alice, bob = lobby(oper_server, "Alice", "Bob")
    alice.send(f"/oper {guess}")
    alice.expect_line(notice("Permission denied"))
    barrier(alice)  # only that line
    barrier(bob)
    oper_server.wait_log(rb" warn conn=\d+ peer=127\.0\.0\.1:%d name=Alice /oper: wrong password$"
                         % alice.local_port)
    assert b"is now an operator" not in oper_server.log()
    # Still not an operator.
    alice.send("/bans")
    alice.expect_line(denied("bans"))
    alice.send("/kick Bob")
    alice.expect_line(denied("kick"))
    assert_password_not_logged(oper_server, PASSWORD, guess)


def test_wrong_then_right_password(oper_server):  # PROTOCOL.md §7.10
    alice, = lobby(oper_server, "Alice")
    alice.send("/oper nope")
    alice.expect_line(notice("Permission denied"))
    make_oper(oper_server, alice)


def test_oper_without_a_password_file(server):  # PROTOCOL.md §7.10
    alice, bob = lobby(server, "Alice", "Bob")
    for guess in ("anything", "x", "none"):
        alice.send(f"/oper {guess}")
        alice.expect_line(notice("Permission denied"))
    server.wait_log(rb" warn conn=\d+ peer=127\.0\.0\.1:%d name=Alice /oper: wrong password$"
                    % alice.local_port, count=3)
    alice.send("/wall hello")
    alice.expect_line(denied("wall"))
    barrier(bob)


def test_oper_without_a_password_is_a_usage_error(oper_server):  # PROTOCOL.md §7.1, §7.2
    alice, = lobby(oper_server, "Alice")
    alice.send("/oper")
    alice.expect_line(usage("/oper PASSWORD"))
    barrier(alice)


def test_operator_status_is_per_connection(oper_server):  # PROTOCOL.md §7.10
    alice, bob = lobby(oper_server, "Alice", "Bob")
    make_oper(oper_server, alice)
    bob.send("/bans")
    bob.expect_line(denied("bans"))
    # It goes with the connection, not the name.
    alice.send("/nick Alicia")
    alice.expect_line(notice("Alice is now known as Alicia"))
    bob.expect_line(notice("Alice is now known as Alicia"))
    alice.send("/bans")
    alice.expect_line(notice("No banned addresses"))
    alice.send("/quit")
    bob.expect_line(notice("Alicia has left the chat"))
    again = oper_server.join("Alice")
    bob.expect_line(notice("Alice has joined the chat"))
    again.send("/bans")
    again.expect_line(denied("bans"))


# -- non-operators


@pytest.mark.parametrize("line, word", [
    ("/kick Bob", "kick"),
    ("/kick Bob because", "kick"),
    ("/kick", "kick"),
    ("/ban Bob", "ban"),
    ("/ban", "ban"),
    ("/unban 127.0.0.1", "unban"),
    ("/unban", "unban"),
    ("/bans", "bans"),
    ("/wall hello everyone", "wall"),
    ("/wall", "wall"),
])
def test_non_operator_gets_permission_denied(oper_server, line, word):  # PROTOCOL.md §7.1
    alice, bob = lobby(oper_server, "Alice", "Bob")
    alice.send(line)
    alice.expect_line(denied(word))
    barrier(bob)
    bob.send("still here")
    alice.expect_line("Bob: still here")
    assert b"kicked" not in oper_server.log() and b"banned" not in oper_server.log()


def test_every_operator_command_is_denied(server):  # PROTOCOL.md §7.1, §7.2
    alice, = lobby(server, "Alice")
    for word in OPER_COMMANDS:
        alice.send(f"/{word} x")
        alice.expect_line(denied(word))


# -- /kick


def test_kick_with_reason(oper_server):  # PROTOCOL.md §7.10, OPERATIONS.md "Logs"
    alice, bob, carol = lobby(oper_server, "Alice", "Bob", "Carol")
    dave = oper_server.join("Dave")
    for c in (alice, bob, carol):
        c.expect_line(notice("Dave has joined the chat"))
    join_room(dave, "den")
    for c in (alice, bob, carol):
        c.expect_line(notice("Dave left for den"))
    make_oper(oper_server, alice)
    alice.send("/kick Bob  flooding the   room ")
    assert bob.read_until_closed() == b"*** You were kicked by Alice (flooding the   room) ***\n"
    assert not bob.reset
    carol.expect_line(notice("Bob was kicked by Alice (flooding the   room)"))
    alice.expect_line(notice("Bob was kicked by Alice (flooding the   room)"))
    oper_server.wait_log(rb" info conn=\d+ peer=127\.0\.0\.1:%d name=Bob was kicked by Alice "
                         rb"\(flooding the   room\)$" % bob.local_port)
    oper_server.wait_log(rb"name=Bob left: kicked$")
    barrier(dave)  # another room
    barrier(carol)  # no "has left the chat" as well
    barrier(alice)
    # The name is free again.
    oper_server.join("Bob")
    carol.expect_line(notice("Bob has joined the chat"))


def test_kick_without_reason(oper_server):  # PROTOCOL.md §7.10
    alice, bob, carol = lobby(oper_server, "Alice", "Bob", "Carol")
    make_oper(oper_server, alice)
    alice.send("/kick Bob")
    assert bob.read_until_closed() == b"*** You were kicked by Alice ***\n"
    carol.expect_line(notice("Bob was kicked by Alice"))
    alice.expect_line(notice("Bob was kicked by Alice"))
    barrier(carol)
    barrier(alice)


def test_kick_from_another_room(oper_server):  # PROTOCOL.md §7.10
    alice, bob, carol, dave = lobby(oper_server, "Alice", "Bob", "Carol", "Dave")
    make_oper(oper_server, alice)
    join_room(alice, "ops")
    for c in (bob, carol, dave):
        c.expect_line(notice("Alice left for ops"))
    join_room(dave, "attic")
    for c in (bob, carol):
        c.expect_line(notice("Dave left for attic"))
    alice.send("/kick Bob bye")
    assert bob.read_until_closed() == b"*** You were kicked by Alice (bye) ***\n"
    carol.expect_line(notice("Bob was kicked by Alice (bye)"))
    alice.expect_line(notice("Bob was kicked by Alice (bye)"))
    barrier(dave)
    barrier(alice)
    barrier(carol)


def test_kick_matches_the_name_case_insensitively(oper_server):  # PROTOCOL.md §2.2, §7.10
    alice, bob, carol = lobby(oper_server, "Alice", "Bob", "Carol")
    make_oper(oper_server, alice)
    alice.send("/kick BOB")
    assert bob.read_until_closed() == b"*** You were kicked by Alice ***\n"
    carol.expect_line(notice("Bob was kicked by Alice"))


def test_kick_errors(oper_server):  # PROTOCOL.md §7.1
    alice, bob = lobby(oper_server, "Alice", "Bob")
    make_oper(oper_server, alice)
    alice.send("/kick Nobody some reason")
    alice.expect_line(notice("No such user: Nobody"))
    alice.send("/kick")
    alice.expect_line(usage("/kick NAME [REASON]"))
    alice.send("/kick    ")
    alice.expect_line(usage("/kick NAME [REASON]"))
    barrier(bob)


# -- /ban, /bans, /unban


def test_ban_refuses_the_address_until_unban(oper_server):  # PROTOCOL.md §4.4, §7.10
    server = oper_server
    alice, carol = lobby(server, "Alice", "Carol")
    bob = join_from(server, "Bob", "127.0.0.3")
    bob2 = join_from(server, "Bob2", "127.0.0.3")
    for c in (alice, carol):
        c.expect_line(notice("Bob has joined the chat"))
        c.expect_line(notice("Bob2 has joined the chat"))
    bob.expect_line(notice("Bob2 has joined the chat"))
    make_oper(server, alice)
    alice.send("/bans")
    alice.expect_line(notice("No banned addresses"))

    alice.send("/ban Bob")
    assert bob.read_until_closed() == b"*** You were banned by Alice ***\n"
    assert not bob.reset
    for c in (alice, carol, bob2):
        c.expect_line(notice("Bob was banned by Alice"))
    server.wait_log(rb" info conn=\d+ peer=127\.0\.0\.1:%d name=Alice banned 127\.0\.0\.3$"
                    % alice.local_port)
    server.wait_log(rb"name=Bob left: banned$")
    for c in (alice, carol):
        barrier(c)

    # The address is refused: one line, no prompt, then the close.
    again = connect_from(server, "127.0.0.3", label="again")
    assert again.read_until_closed() == BANNED
    assert not again.reset
    server.wait_log(rb" warn conn=\d+ peer=127\.0\.0\.3:%d refused: banned$" % again.local_port)
    # Other connections from the address stay; other addresses are fine.
    bob2.send("I am still here")
    alice.expect_line("Bob2: I am still here")
    carol.expect_line("Bob2: I am still here")
    for source in ("127.0.0.1", "127.0.0.2"):
        other = connect_from(server, source)
        other.expect_bytes(PROMPT)
        other.close()

    alice.send("/bans")
    alice.expect_line(notice("Banned addresses: 127.0.0.3"))
    alice.send("/unban 127.0.0.3")
    alice.expect_line(notice("127.0.0.3 is no longer banned"))
    server.wait_log(rb" info conn=\d+ peer=127\.0\.0\.1:%d name=Alice unbanned 127\.0\.0\.3$"
                    % alice.local_port)
    alice.send("/bans")
    alice.expect_line(notice("No banned addresses"))
    alice.send("/unban 127.0.0.3")
    alice.expect_line(notice("127.0.0.3 is not banned"))
    back = join_from(server, "Bob", "127.0.0.3")
    for c in (alice, carol, bob2):
        c.expect_line(notice("Bob has joined the chat"))
    barrier(back)


def test_bans_lists_every_banned_address(oper_server):  # PROTOCOL.md §7.10
    server = oper_server
    alice, = lobby(server, "Alice")
    make_oper(server, alice)
    x = join_from(server, "X", "127.0.0.3")
    alice.expect_line(notice("X has joined the chat"))
    y = join_from(server, "Y", "127.0.0.4")
    alice.expect_line(notice("Y has joined the chat"))
    x.expect_line(notice("Y has joined the chat"))
    alice.send("/ban X")
    x.read_until_closed()
    alice.expect_line(notice("X was banned by Alice"))
    y.expect_line(notice("X was banned by Alice"))
    alice.send("/ban Y")
    y.read_until_closed()
    alice.expect_line(notice("Y was banned by Alice"))
    alice.send("/bans")
    line = alice.read_line()
    m = re.fullmatch(rb"\*\*\* Banned addresses: (.*) \*\*\*\n", line)
    assert m, line
    assert sorted(m.group(1).split(b", ")) == [b"127.0.0.3", b"127.0.0.4"]
    alice.send("/unban 127.0.0.3")
    alice.expect_line(notice("127.0.0.3 is no longer banned"))
    alice.send("/bans")
    alice.expect_line(notice("Banned addresses: 127.0.0.4"))
    assert connect_from(server, "127.0.0.4").read_until_closed() == BANNED
    connect_from(server, "127.0.0.3").expect_bytes(PROMPT)


def test_ban_from_another_room(oper_server):  # PROTOCOL.md §7.10
    server = oper_server
    alice, carol = lobby(server, "Alice", "Carol")
    bob = join_from(server, "Bob", "127.0.0.3")
    for c in (alice, carol):
        c.expect_line(notice("Bob has joined the chat"))
    make_oper(server, alice)
    join_room(alice, "ops")
    for c in (bob, carol):
        c.expect_line(notice("Alice left for ops"))
    alice.send("/ban bob")
    assert bob.read_until_closed() == b"*** You were banned by Alice ***\n"
    carol.expect_line(notice("Bob was banned by Alice"))
    alice.expect_line(notice("Bob was banned by Alice"))


def test_ban_errors(oper_server):  # PROTOCOL.md §7.1, §7.2
    alice, bob = lobby(oper_server, "Alice", "Bob")
    make_oper(oper_server, alice)
    alice.send("/ban Nobody")
    alice.expect_line(notice("No such user: Nobody"))
    alice.send("/ban")
    alice.expect_line(usage("/ban NAME"))
    alice.send("/ban Bob for a reason")  # /ban takes no reason
    alice.expect_line(usage("/ban NAME"))
    alice.send("/unban")
    alice.expect_line(usage("/unban ADDRESS"))
    alice.send("/unban 127.0.0.3 127.0.0.4")
    alice.expect_line(usage("/unban ADDRESS"))
    alice.send("/bans")
    alice.expect_line(notice("No banned addresses"))
    barrier(bob)


def test_bans_with_an_argument_is_a_usage_error(oper_server):  # PROTOCOL.md §7.1, §7.2
    alice, = lobby(oper_server, "Alice")
    make_oper(oper_server, alice)
    alice.send("/bans extra")
    alice.expect_line(usage("/bans"))


# -- /wall


def test_wall_reaches_every_named_client_in_every_room(start_server, password_file):  # §7.10
    server = start_server("--oper-password-file", password_file, "--history", "5")
    alice, bob, carol, dave = lobby(server, "Alice", "Bob", "Carol", "Dave")
    join_room(bob, "red")
    for c in (alice, carol, dave):
        c.expect_line(notice("Bob left for red"))
    join_room(carol, "blue")
    for c in (alice, dave):
        c.expect_line(notice("Carol left for blue"))
    pending = server.connect(label="pending")
    pending.expect_bytes(PROMPT)
    make_oper(server, alice)
    alice.send("/wall  server restart at 5  ")
    for c in (alice, bob, carol, dave):
        c.expect_line(notice("Notice from Alice: server restart at 5"))
    # Not for a client without a name yet, and not kept in history.
    pending.send("Eve")
    pending.expect_welcome("Eve")
    barrier(pending)
    for c in (alice, dave):
        c.expect_line(notice("Eve has joined the chat"))
        barrier(c)
    alice.send("/wall")
    alice.expect_line(usage("/wall TEXT"))
    for c in (bob, carol):
        barrier(c)


# -- configuration


def test_missing_password_file_is_a_usage_error(run_natter, tmp_path):  # OPERATIONS.md
    res = run_natter("--listen", "127.0.0.1:0", "--oper-password-file", tmp_path / "missing")
    assert res.returncode == 2, res
    assert b"--oper-password-file" in res.stderr, res


def test_empty_password_file_is_a_usage_error(run_natter, tmp_path):  # OPERATIONS.md
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    res = run_natter("--listen", "127.0.0.1:0", "--oper-password-file", empty)
    assert res.returncode == 2, res
    assert b"--oper-password-file" in res.stderr, res


def test_password_is_the_first_line_only(start_server, tmp_path):  # PROTOCOL.md §7.10
    path = tmp_path / "pw"
    path.write_text("first-line\nsecond-line\n")
    server = start_server("--oper-password-file", path)
    alice, = lobby(server, "Alice")
    alice.send("/oper second-line")
    alice.expect_line(notice("Permission denied"))
    alice.send("/oper first-line")
    alice.expect_line(notice("You are now an operator"))
    assert_password_not_logged(server, "first-line", "second-line")
