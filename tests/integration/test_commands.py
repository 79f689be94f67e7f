"""Commands: /help, /who, /nick, /me, /msg, /quit, the // escape, unknown commands and usage
errors (PROTOCOL.md §3.2, §7, §7.1-§7.5, §7.7). Rooms, /rooms and history: test_rooms.py;
operators: test_oper.py."""
import pytest

from chat_helpers import (HELP_LINES, barrier, join_room, notice, unknown, usage)


@pytest.fixture
def trio(server):
    """Alice, Bob and Carol in the lobby; each has seen the later ones join."""
    alice, bob = server.join("Alice"), server.join("Bob")
    alice.expect_line(notice("Bob has joined the chat"))
    carol = server.join("Carol")
    alice.expect_line(notice("Carol has joined the chat"))
    bob.expect_line(notice("Carol has joined the chat"))
    return alice, bob, carol


# -- /help


@pytest.mark.parametrize("line", ["/help", "/HELP", "/Help", "/hElP"])
def test_help_lists_every_command_in_order(server, line):  # PROTOCOL.md §7, §7.2
    alice = server.join("Alice")
    alice.send(line)
    for want in HELP_LINES:
        alice.expect_line(want)
    barrier(alice)


def test_help_reaches_only_the_asker(trio):  # PROTOCOL.md §7
    alice, bob, carol = trio
    alice.send("/help")
    for want in HELP_LINES:
        alice.expect_line(want)
    alice.send("after help")
    bob.expect_line("Alice: after help")
    carol.expect_line("Alice: after help")


# -- /who


def test_who_alone(server):  # PROTOCOL.md §7.3
    alice = server.join("Alice")
    alice.send("/who")
    alice.expect_line(notice("1 in lobby: Alice"))


def test_who_lists_the_room_in_entry_order(trio):  # PROTOCOL.md §7.3
    alice, bob, carol = trio
    carol.send("/who")
    carol.expect_line(notice("3 in lobby: Alice, Bob, Carol"))
    # Alice leaves the lobby and comes back: she is now the last to have entered it.
    join_room(alice, "den")
    bob.expect_line(notice("Alice left for den"))
    carol.expect_line(notice("Alice left for den"))
    join_room(alice, "lobby", "2 other people are here")
    bob.expect_line(notice("Alice has joined lobby"))
    carol.expect_line(notice("Alice has joined lobby"))
    bob.send("/WHO")
    bob.expect_line(notice("3 in lobby: Bob, Carol, Alice"))
    barrier(alice)


def test_who_star_lists_everyone_by_room_in_creation_order(trio):  # PROTOCOL.md §7.3, §7.6
    alice, bob, carol = trio
    join_room(bob, "zeta")
    alice.expect_line(notice("Bob left for zeta"))
    carol.expect_line(notice("Bob left for zeta"))
    join_room(carol, "alpha")
    alice.expect_line(notice("Carol left for alpha"))
    join_room(alice, "alpha", "1 other person is here")
    carol.expect_line(notice("Alice has joined alpha"))
    # The lobby lost its last member and is forgotten; zeta was created before alpha.
    alice.send("/who *")
    alice.expect_line(notice("3 people in 2 rooms:"))
    alice.expect_line(notice("zeta (1): Bob"))
    alice.expect_line(notice("alpha (2): Carol, Alice"))
    barrier(alice)
    barrier(bob)
    barrier(carol)


def test_who_star_counts(server):  # PROTOCOL.md §7.3
    alice = server.join("Alice")
    alice.send("/who *")
    alice.expect_line(notice("1 person in 1 room:"))
    alice.expect_line(notice("lobby (1): Alice"))
    bob = server.join("Bob")
    alice.expect_line(notice("Bob has joined the chat"))
    carol = server.join("Carol")
    alice.expect_line(notice("Carol has joined the chat"))
    bob.expect_line(notice("Carol has joined the chat"))
    join_room(bob, "zeta")
    alice.expect_line(notice("Bob left for zeta"))
    carol.expect_line(notice("Bob left for zeta"))
    join_room(carol, "Alpha")
    alice.expect_line(notice("Carol left for Alpha"))
    dave = server.join("Dave")
    alice.expect_line(notice("Dave has joined the chat"))
    join_room(dave, "alpha", "1 other person is here", shown="Alpha")
    alice.expect_line(notice("Dave left for Alpha"))
    carol.expect_line(notice("Dave has joined Alpha"))
    dave.send("/who *")
    dave.expect_line(notice("4 people in 3 rooms:"))
    dave.expect_line(notice("lobby (1): Alice"))
    dave.expect_line(notice("zeta (1): Bob"))
    dave.expect_line(notice("Alpha (2): Carol, Dave"))
    barrier(dave)


@pytest.mark.parametrize("line", ["/who x", "/who **", "/who * *", "/who lobby"])
def test_who_with_a_wrong_argument_is_a_usage_error(server, line):  # PROTOCOL.md §7.1, §7.2
    alice = server.join("Alice")
    alice.send(line)
    alice.expect_line(usage("/who [*]"))
    barrier(alice)


# -- /nick


def test_nick_renames_and_tells_the_room_and_the_renamer(start_server):  # PROTOCOL.md §7.4
    server = start_server()
    alice, bob = server.join("Alice"), server.join("Bob")
    alice.expect_line(notice("Bob has joined the chat"))
    carol = server.join("Carol")
    alice.expect_line(notice("Carol has joined the chat"))
    bob.expect_line(notice("Carol has joined the chat"))
    join_room(carol, "den")
    alice.expect_line(notice("Carol left for den"))
    bob.expect_line(notice("Carol left for den"))
    alice.send("/nick Alicia")
    alice.expect_line(notice("Alice is now known as Alicia"))
    bob.expect_line(notice("Alice is now known as Alicia"))
    barrier(carol)  # another room: not told
    server.wait_log(rb" info conn=\d+ peer=127\.0\.0\.1:%d renamed Alice to Alicia$"
                    % alice.local_port)
    alice.send("hello")
    bob.expect_line("Alicia: hello")
    bob.send("/who")
    bob.expect_line(notice("2 in lobby: Alicia, Bob"))
    bob.send("/msg alicia psst")
    alice.expect_line("[private] Bob: psst")
    bob.send("/msg Alice psst")
    bob.expect_line(notice("No such user: Alice"))
    barrier(alice)


def test_nick_old_name_is_free_at_once_new_name_is_taken(server):  # PROTOCOL.md §2.2, §7.4
    alice = server.join("Alice")
    alice.send("/nick Alicia")
    alice.expect_line(notice("Alice is now known as Alicia"))
    newcomer = server.join("alice")
    alice.expect_line(notice("alice has joined the chat"))
    other = server.connect(label="other")
    other.expect_bytes(b"Enter your name: ")
    other.send("ALICIA")
    other.expect_line('Name "ALICIA" is already taken.')
    other.expect_bytes(b"Enter your name: ")
    barrier(newcomer)


@pytest.mark.parametrize("new", ["Bob", "bob", "BOB", "bOb"])
def test_nick_taken_case_insensitively(trio, new):  # PROTOCOL.md §2.2, §7.4
    alice, bob, carol = trio
    alice.send(f"/nick {new}")
    alice.expect_line(notice(f'Name "{new}" is already taken.'))
    barrier(bob)
    barrier(carol)
    alice.send("still Alice")
    bob.expect_line("Alice: still Alice")


def test_nick_taken_unicode_folding(server):  # PROTOCOL.md §2.2, §7.4
    sofia = server.join("Σοφία")
    alice = server.join("Alice")
    sofia.expect_line(notice("Alice has joined the chat"))
    alice.send("/nick σοφία")
    alice.expect_line(notice('Name "σοφία" is already taken.'))
    barrier(sofia)


@pytest.mark.parametrize("new", ["ALICE", "alice", "aLiCe"])
def test_nick_case_change_of_own_name_is_allowed(trio, new):  # PROTOCOL.md §7.4
    alice, bob, carol = trio
    alice.send(f"/nick {new}")
    for c in (alice, bob, carol):
        c.expect_line(notice(f"Alice is now known as {new}"))
    alice.send("hi")
    bob.expect_line(f"{new}: hi")


def test_nick_same_name(trio):  # PROTOCOL.md §7.4
    alice, bob, carol = trio
    alice.send("/nick Alice")
    alice.expect_line(notice("You are already Alice"))
    barrier(bob)
    barrier(alice)


REFUSED_NICKS = [
    # (the bytes after "/nick ", the §2.3 line). The line is sanitized first (§5.3), so control
    # characters that sanitizing removes never reach the name check; U+FEFF and U+FFFD do.
    ("a" * 33, "Name is too long (at most 32 characters)."),
    ("é" * 33, "Name is too long (at most 32 characters)."),
    ("two words", "Name cannot contain spaces."),
    ("tab\there", "Name cannot contain spaces."),  # TAB becomes a space (§5.3)
    ("nb\u00a0sp", "Name cannot contain spaces."),
    ("ideo\u3000space", "Name cannot contain spaces."),
    ("line\u2028sep", "Name cannot contain spaces."),
    ("bom\ufeff", "Name cannot contain control characters."),
    ("bad\ufffd", "Name cannot contain control characters."),
    ("/slash", "Name cannot start with '/', '#', '~', '&', '%', '+' or '-'."),
    ("*star", "Name cannot contain ',', '*', '?', '.', '!', '@' or ':'."),
    ("#hash", "Name cannot start with '/', '#', '~', '&', '%', '+' or '-'."),
]


@pytest.mark.parametrize("new, why", REFUSED_NICKS, ids=[w.split()[2] + "-" + str(i)
                                                          for i, (_, w) in
                                                          enumerate(REFUSED_NICKS)])
def test_nick_invalid_names_are_refused(trio, new, why):  # PROTOCOL.md §2.2, §2.3, §7.4
    alice, bob, carol = trio
    alice.send(f"/nick {new}")
    alice.expect_line(notice(why))
    barrier(bob)
    alice.send("/who")
    alice.expect_line(notice("3 in lobby: Alice, Bob, Carol"))


def test_nick_invalid_utf8_becomes_fffd_and_is_refused(trio):  # PROTOCOL.md §5.3, §7.4
    alice, bob, carol = trio
    alice.send(b"/nick caf\xe9")
    alice.expect_line(notice("Name cannot contain control characters."))
    barrier(bob)


def test_nick_32_code_points_is_fine(trio):  # PROTOCOL.md §2.2, §7.4
    alice, bob, carol = trio
    new = "é" * 32
    alice.send(f"/nick {new}")
    alice.expect_line(notice(f"Alice is now known as {new}"))
    bob.expect_line(notice(f"Alice is now known as {new}"))


@pytest.mark.parametrize("line", ["/nick", "/nick   ", "/NICK"])
def test_nick_without_a_name_is_a_usage_error(trio, line):  # PROTOCOL.md §7.1
    alice, bob, carol = trio
    alice.send(line)
    alice.expect_line(usage("/nick NEW"))
    barrier(bob)


def test_nick_argument_is_trimmed(trio):  # PROTOCOL.md §3.1, §7
    alice, bob, carol = trio
    alice.send("/nick    Alicia   ")
    alice.expect_line(notice("Alice is now known as Alicia"))
    bob.expect_line(notice("Alice is now known as Alicia"))


# -- /me


def test_me_reaches_the_room_but_not_the_sender(trio):  # PROTOCOL.md §7.5
    alice, bob, carol = trio
    alice.send("/me waves at everyone")
    bob.expect_line("* Alice waves at everyone")
    carol.expect_line("* Alice waves at everyone")
    barrier(alice)


def test_me_stays_in_its_room(trio):  # PROTOCOL.md §7.5, §7.6
    alice, bob, carol = trio
    join_room(carol, "den")
    alice.expect_line(notice("Carol left for den"))
    bob.expect_line(notice("Carol left for den"))
    alice.send("/ME   dances  wildly  ")
    bob.expect_line("* Alice dances  wildly")
    barrier(carol)
    barrier(alice)


@pytest.mark.parametrize("line", ["/me", "/me    "])
def test_me_without_an_action_is_a_usage_error(trio, line):  # PROTOCOL.md §7.1
    alice, bob, carol = trio
    alice.send(line)
    alice.expect_line(usage("/me ACTION"))
    barrier(bob)


# -- /msg


def test_msg_reaches_only_its_target(trio):  # PROTOCOL.md §7.5
    alice, bob, carol = trio
    alice.send("/msg Bob hi there")
    bob.expect_line("[private] Alice: hi there")
    barrier(carol)
    barrier(alice)


def test_msg_crosses_rooms(trio):  # PROTOCOL.md §7.5, §7.6
    alice, bob, carol = trio
    join_room(bob, "den")
    alice.expect_line(notice("Bob left for den"))
    carol.expect_line(notice("Bob left for den"))
    join_room(carol, "attic")
    alice.expect_line(notice("Carol left for attic"))
    alice.send("/msg Bob  from  the lobby ")
    bob.expect_line("[private] Alice: from  the lobby")
    bob.send("/msg Carol from the den")
    carol.expect_line("[private] Bob: from the den")
    carol.send("/MSG alice from the attic")
    alice.expect_line("[private] Carol: from the attic")
    for c in (alice, bob, carol):
        barrier(c)


def test_msg_unknown_user(trio):  # PROTOCOL.md §7.1
    alice, bob, carol = trio
    alice.send("/msg Nobody hello?")
    alice.expect_line(notice("No such user: Nobody"))
    barrier(bob)


def test_msg_to_a_client_without_a_name_yet(trio, server):  # PROTOCOL.md §2.2, §7.1
    alice, bob, carol = trio
    pending = server.connect(label="pending")
    pending.expect_bytes(b"Enter your name: ")
    alice.send("/msg pending hello?")
    alice.expect_line(notice("No such user: pending"))
    pending.send("Dave")
    pending.expect_welcome("Dave")


@pytest.mark.parametrize("line", ["/msg", "/msg   ", "/msg Bob", "/msg Bob   "])
def test_msg_usage_errors(trio, line):  # PROTOCOL.md §7.1
    alice, bob, carol = trio
    alice.send(line)
    alice.expect_line(usage("/msg NAME TEXT"))
    barrier(bob)


# -- /quit


def test_quit_without_reason(start_server):  # PROTOCOL.md §7.7
    server = start_server()
    alice, bob = server.join("Alice"), server.join("Bob")
    alice.expect_line(notice("Bob has joined the chat"))
    carol = server.join("Carol")
    alice.expect_line(notice("Carol has joined the chat"))
    bob.expect_line(notice("Carol has joined the chat"))
    join_room(carol, "den")
    alice.expect_line(notice("Carol left for den"))
    bob.expect_line(notice("Carol left for den"))
    alice.send("/quit")
    alice.expect_closed()
    bob.expect_line(notice("Alice has left the chat"))
    server.wait_log(rb" info conn=\d+ peer=127\.0\.0\.1:%d name=Alice left: quit$"
                    % alice.local_port)
    barrier(carol)
    # The name is free again.
    server.join("alice")
    bob.expect_line(notice("alice has joined the chat"))


@pytest.mark.parametrize("line, reason", [
    ("/quit gotta go", "gotta go"),
    ("/QUIT   back  soon  ", "back  soon"),
    ("/Quit :)", ":)"),
])
def test_quit_with_reason(trio, line, reason):  # PROTOCOL.md §7.7
    alice, bob, carol = trio
    alice.send(line)
    alice.expect_closed()
    bob.expect_line(notice(f"Alice has left the chat ({reason})"))
    carol.expect_line(notice(f"Alice has left the chat ({reason})"))


def test_lines_after_quit_are_not_relayed(trio):  # PROTOCOL.md §4.6, §7.7
    alice, bob, carol = trio
    alice.send_raw(b"/quit\nafter quit\n")
    alice.expect_closed()
    bob.expect_line(notice("Alice has left the chat"))
    barrier(bob)


# -- the // escape, unknown commands, commands never relayed


@pytest.mark.parametrize("line, relayed", [
    ("//shrug", "/shrug"),
    ("//", "/"),
    ("///x", "//x"),
    ("// spaced out", "/ spaced out"),
    ("//help", "/help"),
    ("//quit now", "/quit now"),
    ("  //trimmed  ", "/trimmed"),
])
def test_double_slash_sends_text(trio, line, relayed):  # PROTOCOL.md §3.2, §7
    alice, bob, carol = trio
    alice.send(line)
    bob.expect_line(f"Alice: {relayed}")
    carol.expect_line(f"Alice: {relayed}")
    barrier(alice)


@pytest.mark.parametrize("line, word", [
    ("/frobnicate", "frobnicate"),
    ("/frobnicate with args", "frobnicate"),
    ("/FROB", "FROB"),
    ("/helpme", "helpme"),
    ("/whois Bob", "whois"),
    ("/é", "é"),
    ("   /spaced   ", "spaced"),
])
def test_unknown_command(trio, line, word):  # PROTOCOL.md §7, §7.1
    alice, bob, carol = trio
    alice.send(line)
    alice.expect_line(unknown(word))
    barrier(bob)
    barrier(carol)


@pytest.mark.parametrize("line", ["/", "/ text after a space", "/   "])
def test_slash_without_a_word_is_an_unknown_command(trio, line):  # PROTOCOL.md §7, §7.1
    alice, bob, carol = trio
    alice.send(line)
    alice.expect_line(unknown(""))
    barrier(bob)


def test_command_word_after_sanitizing(trio):  # PROTOCOL.md §5.3, §7
    # Escape sequences and controls go first; the line is then a /me command.
    alice, bob, carol = trio
    alice.send(b"\x1b[1m/me\x1b[0m bows\x07")
    bob.expect_line("* Alice bows")
    barrier(alice)


@pytest.mark.parametrize("line, want", [
    ("/help extra", usage("/help")),
    ("/rooms extra", usage("/rooms")),
])
def test_surplus_arguments_are_a_usage_error(trio, line, want):  # PROTOCOL.md §7.1, §7.2
    alice, bob, carol = trio
    alice.send(line)
    alice.expect_line(want)
    barrier(alice)


def test_commands_never_reach_others_as_text(trio):  # PROTOCOL.md §7
    alice, bob, carol = trio
    for line in ("/help", "/who", "/who *", "/rooms", "/nick Alice", "/join lobby",
                 "/msg Nobody x", "/unknown", "/oper x", "/bans", "/kick Bob", "/wall hi"):
        alice.send(line)
    alice.send("done")
    bob.expect_line("Alice: done")
    carol.expect_line("Alice: done")
