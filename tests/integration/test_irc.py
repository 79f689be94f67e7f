"""The IRC door (PROTOCOL.md §8), black-box: what an IRC client sees on the wire, byte for byte,
and what line users see of IRC users and the other way round.

Every server here listens on a line address and an irc:// (or ircs://) one; irc_helpers' Irc
client checks that every line ends with CR LF and carries no other CR or NUL. Proofs that
something did not arrive use barriers (a PING whose PONG must come next, a line command whose
reply must come next) rather than sleeps.
"""
import calendar
import re
import signal
import socket
import time

import pytest

from chat_helpers import barrier, connect_from, join_room, notice
from conftest import PROMPT, WAIT, scaled
from irc_helpers import (CAPS, LISTEN, LISTEN_TLS, Doors, Irc, from_, lusers, motd,
                         welcome_burst)

PASSWORD = "Tr0ub4dor&3"
NOT_OPER = "Permission Denied- You're not an IRC operator"


@pytest.fixture
def doors(start_server):
    return Doors(start_server(listen=LISTEN))


@pytest.fixture
def password_file(tmp_path):
    path = tmp_path / "oper-password"
    path.write_text(PASSWORD + "\n")
    path.chmod(0o600)
    return path


@pytest.fixture
def oper_doors(start_server, password_file):
    return Doors(start_server("--oper-password-file", password_file, listen=LISTEN))


def in_lobby(doors, *names):
    """Line users in the lobby, in order; each has read the later join notices."""
    users = []
    for name in names:
        c = doors.line(name)
        for other in users:
            other.expect_line(notice(f"{name} has joined the chat"))
        users.append(c)
    return users


def irc_in(doors, nick, channel, line_watchers=(), irc_watchers=(), caps=None, names=None):
    """An IRC user registered as nick who JOINs channel; line_watchers (in that room) read
    their arrival notice (§8.6), irc_watchers (in that channel) the JOIN."""
    c = doors.irc(nick, caps)
    c.join(channel, names=names)
    room = channel[1:]
    for w in line_watchers:
        w.expect_line(notice(f"{nick} has joined the chat" if room == "lobby"
                             else f"{nick} has joined {room}"))
    for w in irc_watchers:
        w.expect(from_(nick, f"JOIN {channel}"))
    return c


def oper_up(c):
    """OPER on IRC (§8.8)."""
    c.send(f"OPER {c.nick} {PASSWORD}")
    c.expect(f":natter 381 {c.nick} :You are now an IRC operator")


def line_oper(client):
    client.send(f"/oper {PASSWORD}")
    client.expect_line(notice("You are now an operator"))


# ============================================================================================
# Registration


def test_welcome_burst_on_an_empty_server(doors):  # PROTOCOL.md §8.2
    started = time.time()
    c = doors.connect("bob")
    c.send("NICK bob")
    c.send("USER bob 0 * :Bob Real")
    lines = c.expect_burst("bob", welcome_burst("bob", users=1, channels=0))
    created = re.search(rb"created (\S+)Z$", lines[2]).group(1).decode()
    t = calendar.timegm(time.strptime(created, "%Y-%m-%dT%H:%M:%S"))
    assert started - 30 <= t <= time.time() + 1, f"003 says {created}Z"
    c.barrier()


def test_welcome_burst_counts_users_opers_and_rooms_of_every_door(oper_doors):  # PROTOCOL.md §8.2
    alice, bob = in_lobby(oper_doors, "Alice", "Bob")
    line_oper(alice)
    join_room(bob, "den")
    alice.expect_line(notice("Bob left for den"))
    c = oper_doors.irc("carol", burst=welcome_burst("carol", users=3, opers=1, channels=2))
    # Registration alone puts an IRC user in no channel (§8.1): no line user hears of it.
    barrier(alice)
    barrier(bob)
    c.send("LUSERS")
    c.expect_lines(lusers("carol", users=3, opers=1, channels=2))
    c.send("MOTD")
    c.expect_lines(motd("carol"))
    c.barrier()


def test_registration_with_cap_waits_for_cap_end(doors):  # PROTOCOL.md §8.2, §8.3
    c = doors.connect()
    c.send("CAP LS 302")
    c.expect(f":natter CAP * LS :{CAPS}")
    c.send("NICK bob")
    c.send("USER bob 0 * :bob")
    c.barrier("pre")  # PING works before registration, and no 001 came before its PONG
    c.send("CAP END")
    c.expect_burst("bob", welcome_burst("bob", users=1))


def test_cap_req_alone_starts_negotiation(doors):  # PROTOCOL.md §8.2
    c = doors.connect()
    c.send("NICK bob")
    c.send("CAP REQ :server-time")
    c.expect(re.compile(rb":natter CAP (\*|bob) ACK :server-time"))
    c.send("USER bob 0 * :bob")
    c.barrier()
    c.send("CAP END")
    c.expect_burst("bob", welcome_burst("bob", users=1))


def test_user_before_nick(doors):  # PROTOCOL.md §8.2
    c = doors.connect()
    c.send("USER bob 0 * :Bob")
    c.barrier()
    c.send("NICK bob")
    c.expect_burst("bob", welcome_burst("bob", users=1))


def test_second_nick_before_registration_wins(doors):  # PROTOCOL.md §8.2
    c = doors.connect()
    c.send("CAP LS 302")
    c.expect(f":natter CAP * LS :{CAPS}")
    c.send("NICK first")
    c.send("NICK second")
    c.send("USER x 0 * :x")
    c.send("CAP END")
    c.expect_burst("second", welcome_burst("second", users=1))
    doors.line("first")  # never claimed


def test_pass_first_like_weechat(doors):  # PROTOCOL.md §8.2 (PASS ignored), §8.3
    c = doors.connect()
    c.send_raw(b"PASS hunter2\r\nCAP LS 302\r\nNICK bob\r\nUSER bob 0 * :bob\r\n")
    c.expect(f":natter CAP * LS :{CAPS}")
    c.send("CAP REQ :message-tags server-time")
    c.expect(re.compile(rb":natter CAP (\*|bob) ACK :message-tags server-time"))
    c.send("CAP END")
    c.expect_burst("bob", welcome_burst("bob", users=1))


def test_lower_case_commands_like_hexchat(doors):  # PROTOCOL.md §8.2, §8.5
    alice, = in_lobby(doors, "Alice")
    c = doors.connect()
    c.send_raw(b"cap ls 302\r\nnick bob\r\nuser bob 0 * :bob\r\n")
    c.expect(f":natter CAP * LS :{CAPS}")
    c.send("cap end")
    c.expect_burst("bob", welcome_burst("bob", users=2, channels=1))
    c.send("join #lobby")
    c.expect(from_("bob", "JOIN #lobby"))
    c.expect(":natter 353 bob = #lobby :Alice bob")
    c.expect(":natter 366 bob #lobby :End of /NAMES list.")
    alice.expect_line(notice("bob has joined the chat"))
    c.send("privmsg #lobby :lower case works")
    alice.expect_line("bob: lower case works")


def test_commands_before_registration_get_451(doors):  # PROTOCOL.md §8.2
    c = doors.connect()
    for line in ("JOIN :", "PRIVMSG #lobby :hi", "WHOIS bob", "LIST"):
        c.send(line)
        c.expect(":natter 451 * :You have not registered")
    c.send("PONG :x")  # PONG is allowed and answered with nothing
    c.barrier()
    c.send("NICK bob")
    c.send("USER bob 0 * :bob")
    c.expect_burst("bob")


def test_mode_plus_i_right_after_welcome(doors):  # PROTOCOL.md §8.4 (user modes)
    c = doors.connect()
    c.send_raw(b"NICK bob\r\nUSER bob 0 * :bob\r\nMODE bob +i\r\n")
    c.expect_burst("bob")
    c.expect(":natter 221 bob +i")
    c.send("MODE bob -i+w")
    c.expect(":natter 221 bob +i")  # nothing changes


def test_refused_nicks_and_retry(doors):  # PROTOCOL.md §8.2, §2.2
    alice, = in_lobby(doors, "Alice")
    c = doors.connect()
    c.send("NICK")
    c.expect(":natter 431 * :No nickname given")
    c.send("NICK " + "n" * 33)
    c.expect(f":natter 432 * {'n' * 33} :Erroneous nickname: "
             "Name is too long (at most 32 characters).")
    c.send("NICK a,b")
    c.expect(":natter 432 * a,b :Erroneous nickname: "
             "Name cannot contain ',', '*', '?', '.', '!', '@' or ':'.")
    c.send("USER x 0 * :x")
    c.send("NICK alice")  # the line user's name, folded (§8.1)
    c.expect(":natter 433 * alice :Nickname is already in use")
    c.send("NICK bob")
    c.expect_burst("bob", welcome_burst("bob", users=2, channels=1))
    barrier(alice)


def test_fifth_refused_nick_closes_the_connection(doors):  # PROTOCOL.md §8.2
    c = doors.connect()
    bad = [("n" * 33, "Name is too long (at most 32 characters)."),
           ("a,b", "Name cannot contain ',', '*', '?', '.', '!', '@' or ':'."),
           ("#chan", "Name cannot start with '/', '#', '~', '&', '%', '+' or '-'."),
           ("-x", "Name cannot start with '/', '#', '~', '&', '%', '+' or '-'."),
           ("a*b", "Name cannot contain ',', '*', '?', '.', '!', '@' or ':'.")]
    c.send("USER x 0 * :x")
    for nick, why in bad:
        c.send(f"NICK {nick}")
        c.expect(f":natter 432 * {nick} :Erroneous nickname: {why}")
    c.expect_error("Too many refused nicknames")


def test_quit_before_registration(doors):  # PROTOCOL.md §8.2, §8.9, §2.5
    alice, = in_lobby(doors, "Alice")
    c = doors.connect()
    c.send("NICK early")
    c.send("QUIT :changed my mind")
    c.expect_error("Quit: changed my mind")
    barrier(alice)  # nobody hears of it
    doors.line("early")  # and the nick was never claimed


def test_nick_of_32_four_byte_characters(doors):  # PROTOCOL.md §8.1 (NICKLEN=128 bytes), §2.2
    c = doors.connect()
    c.send("NICK " + "\U0001F600" * 33)
    c.expect(f":natter 432 * {chr(0x1F600) * 33} :Erroneous nickname: "
             "Name is too long (at most 32 characters).")
    nick = "\U0001F600" * 32
    c.send(f"NICK {nick}")
    c.send("USER x 0 * :x")
    c.expect_burst(nick)
    room = "#" + "\u00e9" * 32  # CHANNELLEN=129: '#' and 32 characters of up to 4 bytes
    c.join(room, names=[nick])
    c.send(f"PRIVMSG {room} :ok")
    c.barrier()


def test_nick_taken_while_registration_waits_gets_433_then(doors):  # PROTOCOL.md §8.2
    c = doors.connect()
    c.send("CAP LS 302")
    c.expect(f":natter CAP * LS :{CAPS}")
    c.send("NICK carol")
    c.send("USER carol 0 * :carol")
    c.barrier()
    carol = doors.line("Carol")  # not claimed yet: the line user may take it
    c.send("CAP END")
    # ME: `*` (the nick was never claimed) or the pending nick; §8 leaves it open.
    c.expect(re.compile(rb":natter 433 (\*|carol) carol :Nickname is already in use"))
    c.send("NICK carol2")
    c.expect_burst("carol2", welcome_burst("carol2", users=2, channels=1))
    barrier(carol)


def test_registration_timeout(start_server):  # PROTOCOL.md §8.2
    doors = Doors(start_server("--name-timeout", "0.5", listen=LISTEN))
    ok = doors.irc("ok")
    started = time.monotonic()
    c = doors.connect()
    c.send("NICK bob")
    c.expect("ERROR :Closing link: Registration timed out", timeout=scaled(3))
    assert time.monotonic() - started >= 0.4, "registration timed out early"
    c.expect_closed()
    ok.barrier()  # a registered client is not timed out


def test_cap_ls_req_ack_nak_list_and_410(doors):  # PROTOCOL.md §8.3
    c = doors.connect()
    c.send("CAP LS")
    c.expect(f":natter CAP * LS :{CAPS}")
    c.send("CAP LIST")
    c.expect(":natter CAP * LIST :")
    c.send("CAP REQ :server-time echo-message")
    c.expect(":natter CAP * ACK :server-time echo-message")
    c.send("CAP REQ :multi-prefix sasl")
    c.expect(":natter CAP * NAK :multi-prefix sasl")
    c.send("CAP LIST")
    m = c.expect_match(rb":natter CAP \* LIST :(.*)")
    assert sorted(m.group(1).split()) == [b"echo-message", b"server-time"]  # NAK changed nothing
    c.send("CAP REQ :-echo-message")
    c.expect(":natter CAP * ACK :-echo-message")
    c.send("CAP LIST")
    c.expect(":natter CAP * LIST :server-time")
    c.send("CAP BOGUS")
    c.expect(":natter 410 * BOGUS :Invalid CAP command")
    c.send("NICK bob")
    c.send("USER bob 0 * :bob")
    c.send("CAP END")
    c.expect_burst("bob")
    # CAP after registration, with ME the nick
    c.send("CAP REQ :away-notify")
    c.expect(":natter CAP bob ACK :away-notify")
    c.send("CAP LIST")
    m = c.expect_match(rb":natter CAP bob LIST :(.*)")
    assert sorted(m.group(1).split()) == [b"away-notify", b"server-time"]
    c.send("CAP LS 302")
    c.expect(f":natter CAP bob LS :{CAPS}")
    c.send("CAP FOO")
    c.expect(":natter 410 bob FOO :Invalid CAP command")


def test_user_needs_four_parameters_and_no_reregistration(doors):  # PROTOCOL.md §8.2
    c = doors.connect()
    c.send("NICK bob")
    c.send("USER bob 0 *")
    # ME: `*` or the pending nick (not claimed yet, §8.2); §8 leaves it open.
    c.expect(re.compile(rb":natter 461 (\*|bob) USER :Not enough parameters"))
    c.send("USER bob 0 * :Bob Real")
    c.expect_burst("bob")
    c.send("USER bob 0 * :again")
    c.expect(":natter 462 bob :You may not reregister")
    c.send("PASS secret")
    c.expect(":natter 462 bob :You may not reregister")


# ============================================================================================
# One set of names (§8.1)


def test_nick_collisions_across_doors(doors):  # PROTOCOL.md §8.1, §2.2, §7.4
    alice, = in_lobby(doors, "Alice")
    c = doors.connect()
    c.send("NICK alice")
    c.send("USER alice 0 * :alice")
    c.expect(":natter 433 * alice :Nickname is already in use")
    c.send("NICK ALICE")
    c.expect(":natter 433 * ALICE :Nickname is already in use")
    c.send("NICK Carol")
    c.expect_burst("Carol")
    # The IRC user's name blocks a line user at the prompt ...
    line = doors.server.connect(doors.tcp, label="late")
    line.expect_bytes(PROMPT)
    line.send("CAROL")
    line.expect_line('Name "CAROL" is already taken.')
    line.expect_bytes(PROMPT)
    line.send("Dave")
    line.expect_welcome("Dave")
    alice.expect_line(notice("Dave has joined the chat"))
    # ... and for /nick
    line.send("/nick carol")
    line.expect_line(notice('Name "carol" is already taken.'))
    # An IRC rename onto a line user's name
    c.send("NICK dave")
    c.expect(":natter 433 Carol dave :Nickname is already in use")
    c.barrier()
    barrier(alice)


def test_unicode_folding_collides_across_doors(doors):  # PROTOCOL.md §8.1
    sofia = doors.line("Σοφία")
    c = doors.connect()
    c.send("NICK ΣΟΦΊΑ".encode())
    c.send("USER s 0 * :s")
    c.expect(":natter 433 * ΣΟΦΊΑ :Nickname is already in use".encode())
    c.send("NICK σοφία".encode())
    c.expect(":natter 433 * σοφία :Nickname is already in use".encode())
    c.send("NICK Zoë".encode())
    c.expect_burst("Zoë")
    c.join("#lobby", names=["Σοφία", "Zoë"])
    sofia.expect_line(notice("Zoë has joined the chat"))
    watcher = irc_in(doors, "w", "#lobby", [sofia], [c])
    c.send("PRIVMSG #lobby :γειά")
    watcher.expect(":Zoë!zoë@natter PRIVMSG #lobby :γειά")  # USER: ASCII letters lowered only
    sofia.expect_line("Zoë: γειά")
    sofia.send("καλημέρα")
    watcher.expect(":Σοφία!Σοφία@natter PRIVMSG #lobby :καλημέρα")
    c.expect(":Σοφία!Σοφία@natter PRIVMSG #lobby :καλημέρα")
    line = doors.server.connect(doors.tcp, label="late")
    line.expect_bytes(PROMPT)
    line.send("ZOË")
    line.expect_line('Name "ZOË" is already taken.')
    barrier(sofia)


def test_name_is_free_again_after_quit(doors):  # PROTOCOL.md §8.1, §7.4, §8.6
    alice, = in_lobby(doors, "Alice")
    c = doors.irc("Carol")  # in no channel: shares none with anybody
    c.send("QUIT :bye")
    c.expect_error("Quit: bye")
    barrier(alice)  # so nobody sees the QUIT
    doors.line("carol")  # accepted: joined as carol


# ============================================================================================
# Channels (§8.4, §8.6)


def test_join_lobby_shows_every_member_and_line_users_see_the_arrival(doors):
    # PROTOCOL.md §8.4, §8.6
    alice, bob = in_lobby(doors, "Alice", "Bob")
    carol = doors.irc("carol")
    barrier(alice)  # nothing yet: carol is in no channel
    carol.join("#lobby", names=["Alice", "Bob", "carol"])
    for c in (alice, bob):
        c.expect_line(notice("carol has joined the chat"))
    dave = irc_in(doors, "dave", "#lobby", [alice, bob], [carol],
                  names=["Alice", "Bob", "carol", "dave"])
    # A line user arriving is a JOIN #lobby for IRC users.
    eve = doors.line("Eve")
    for c in (carol, dave):
        c.expect(from_("Eve", "JOIN #lobby"))
    for c in (alice, bob):
        c.expect_line(notice("Eve has joined the chat"))
    # Joining a channel one is in does nothing.
    carol.send("JOIN #lobby")
    carol.barrier()
    dave.barrier()
    barrier(alice)
    # Line users list IRC members of their room.
    eve.send("/who")
    eve.expect_line(notice("5 in lobby: Alice, Bob, carol, dave, Eve"))


def test_join_other_room_and_line_users_moving(doors):  # PROTOCOL.md §8.4, §8.6
    alice, bob = in_lobby(doors, "Alice", "Bob")
    carol = irc_in(doors, "carol", "#lobby", [alice, bob])
    join_room(alice, "other")
    bob.expect_line(notice("Alice left for other"))
    carol.expect(from_("Alice", "PART #lobby :left for other"))
    carol.join("#other", names=["Alice", "carol"])
    alice.expect_line(notice("carol has joined other"))
    barrier(bob)
    # A line user moving between two channels the IRC user is in: PART, then JOIN.
    alice.send("/join lobby")
    alice.expect_line(notice("You are now in lobby: 2 other people are here"))
    carol.expect(from_("Alice", "PART #other :left for lobby"))
    carol.expect(from_("Alice", "JOIN #lobby"))
    bob.expect_line(notice("Alice has joined lobby"))
    carol.barrier()


def test_channel_names_compare_case_insensitively(doors):  # PROTOCOL.md §8.1, §7.6
    alice, = in_lobby(doors, "Alice")
    carol = doors.irc("carol")
    carol.send("JOIN #LOBBY")
    carol.expect(from_("carol", "JOIN #lobby"))  # the room's own spelling
    carol.expect(":natter 353 carol = #lobby :Alice carol")
    carol.expect(":natter 366 carol #lobby :End of /NAMES list.")
    alice.expect_line(notice("carol has joined the chat"))
    carol.send("JOIN #CoffeeRoom")
    carol.read_until_line(":natter 366 carol #CoffeeRoom :End of /NAMES list.")
    alice.send("/join coffeeroom")
    alice.expect_line(notice("You are now in CoffeeRoom: 1 other person is here"))
    carol.expect(from_("Alice", "PART #lobby :left for CoffeeRoom"))
    carol.expect(from_("Alice", "JOIN #CoffeeRoom"))
    carol.send("PRIVMSG #coffeeroom :hi")
    alice.expect_line("carol: hi")


def test_names_in_several_353_lines(doors):  # PROTOCOL.md §8.4
    names = [f"member{i:02d}" + "x" * 20 for i in range(30)]
    watchers = []
    for name in names:
        c = doors.line(name)
        for w in watchers:
            w.expect_line(notice(f"{name} has joined the chat"))
        watchers.append(c)
    carol = doors.irc("carol")
    carol.send("JOIN #lobby")
    carol.expect(from_("carol", "JOIN #lobby"))
    lines = carol.read_until_line(":natter 366 carol #lobby :End of /NAMES list.")
    assert len(lines) >= 3, f"{len(names) + 1} names of 28 bytes in {len(lines) - 1} 353 lines"
    listed = []
    for line in lines[:-1]:
        assert line.startswith(b":natter 353 carol = #lobby :"), line
        assert len(line) + 2 <= 512, f"a 353 of {len(line) + 2} bytes"
        listed += line.split(b" :", 1)[1].decode().split(" ")
    assert listed == names + ["carol"]


def test_join_several_and_join_zero(doors):  # PROTOCOL.md §8.4
    carol = doors.irc("carol")
    carol.send("JOIN #a,#b")
    for ch in ("#a", "#b"):
        carol.expect(from_("carol", f"JOIN {ch}"))
        carol.expect(f":natter 353 carol = {ch} :carol")
        carol.expect(f":natter 366 carol {ch} :End of /NAMES list.")
    carol.send("JOIN 0")
    for ch in ("#a", "#b"):
        carol.expect(re.compile(re.escape(from_("carol", f"PART {ch}")).encode() + rb"( :.*)?"))
    carol.send("JOIN #c,#d key1,key2")  # keys ignored
    for ch in ("#c", "#d"):
        carol.expect(from_("carol", f"JOIN {ch}"))
        carol.expect(f":natter 353 carol = {ch} :carol")
        carol.expect(f":natter 366 carol {ch} :End of /NAMES list.")
    carol.send("PART #c,#d :both")
    for ch in ("#c", "#d"):
        carol.expect(from_("carol", f"PART {ch} :both"))
    carol.send("WHOIS carol")
    carol.expect(":natter 311 carol carol carol natter * :carol")
    carol.expect(":natter 312 carol carol natter :IRC")  # no 319: in no channel
    carol.expect(":natter 318 carol carol :End of /WHOIS list.")


def test_join_errors_403_and_405(doors):  # PROTOCOL.md §8.4, §7.6
    c = doors.irc("carol")
    c.send("JOIN lobby")
    c.expect(":natter 403 carol lobby :No such channel (channel names start with #)")
    long = "#" + "r" * 33
    c.send(f"JOIN {long}")
    c.expect(f":natter 403 carol {long} :No such channel "
             "(Room name is too long (at most 32 characters).)")
    c.send("JOIN #a*b")
    c.expect(":natter 403 carol #a*b :No such channel "
             "(Room name cannot contain ',', '*', '?', '.', '!', '@' or ':'.)")
    c.send("JOIN " + ",".join(f"#c{i}" for i in range(1, 51)))
    for i in range(1, 51):
        c.expect(from_("carol", f"JOIN #c{i}"))
        c.expect(f":natter 353 carol = #c{i} :carol")
        c.expect(f":natter 366 carol #c{i} :End of /NAMES list.")
    c.send("JOIN #c51")
    c.expect(":natter 405 carol #c51 :You have joined too many channels")
    c.send("JOIN")
    c.expect(":natter 461 carol JOIN :Not enough parameters")


def test_topic_across_doors(doors):  # PROTOCOL.md §8.4, §8.6, §7.6.1
    alice, = in_lobby(doors, "Alice")
    carol = irc_in(doors, "carol", "#lobby", [alice], names=["Alice", "carol"])  # no 332/333
    carol.send("TOPIC #lobby")
    carol.expect(":natter 331 carol #lobby :No topic is set")
    alice.send("/topic Welcome all")
    alice.expect_line(notice("Alice set the topic: Welcome all"))
    carol.expect(from_("Alice", "TOPIC #lobby :Welcome all"))
    before = int(time.time())
    dave = doors.irc("dave")
    dave.send("JOIN #lobby")
    dave.expect(from_("dave", "JOIN #lobby"))
    dave.expect(":natter 332 dave #lobby :Welcome all")
    m = dave.expect_match(rb":natter 333 dave #lobby Alice (\d+)")
    assert before - 5 <= int(m.group(1)) <= time.time() + 1
    dave.expect(":natter 353 dave = #lobby :Alice carol dave")
    dave.expect(":natter 366 dave #lobby :End of /NAMES list.")
    alice.expect_line(notice("dave has joined the chat"))
    carol.expect(from_("dave", "JOIN #lobby"))
    carol.send("TOPIC #lobby")
    carol.expect(":natter 332 carol #lobby :Welcome all")
    carol.expect(re.compile(rb":natter 333 carol #lobby Alice \d+"))
    # Set from IRC: the setter gets it back, line users get the notice.
    carol.send("TOPIC #lobby :From IRC, with: colons")
    for c in (carol, dave):
        c.expect(from_("carol", "TOPIC #lobby :From IRC, with: colons"))
    alice.expect_line(notice("carol set the topic: From IRC, with: colons"))
    bob = doors.line("Bob")
    bob.expect_line(notice("Topic: From IRC, with: colons"))
    for c in (carol, dave):
        c.expect(from_("Bob", "JOIN #lobby"))
    alice.expect_line(notice("Bob has joined the chat"))
    # Too long, then exactly 300 bytes
    carol.send("TOPIC #lobby :" + "t" * 301)
    carol.expect(":natter 417 carol :Topic too long (at most 300 bytes)")
    barrier(alice)
    carol.send("TOPIC #lobby :" + "t" * 300)
    carol.expect(from_("carol", "TOPIC #lobby :" + "t" * 300))
    dave.expect(from_("carol", "TOPIC #lobby :" + "t" * 300))
    alice.expect_line(notice("carol set the topic: " + "t" * 300))
    bob.expect_line(notice("carol set the topic: " + "t" * 300))
    # Cleared from IRC, then set and cleared from the line door
    carol.send("TOPIC #lobby :")
    for c in (carol, dave):
        c.expect(from_("carol", "TOPIC #lobby :"))
    for c in (alice, bob):
        c.expect_line(notice("carol cleared the topic"))
    carol.send("TOPIC #lobby")
    carol.expect(":natter 331 carol #lobby :No topic is set")
    alice.send("/topic again")
    for c in (alice, bob):
        c.expect_line(notice("Alice set the topic: again"))
    alice.send("/topic -")
    for c in (alice, bob):
        c.expect_line(notice("Alice cleared the topic"))
    for c in (carol, dave):
        c.expect(from_("Alice", "TOPIC #lobby :again"))
        c.expect(from_("Alice", "TOPIC #lobby :"))
    carol.send("TOPIC")
    carol.expect(":natter 461 carol TOPIC :Not enough parameters")


def test_room_forgets_its_topic_when_the_last_member_leaves(doors):  # PROTOCOL.md §7.6.1
    carol = doors.irc("carol")
    carol.join("#den", names=["carol"])
    carol.send("TOPIC #den :short lived")
    carol.expect(from_("carol", "TOPIC #den :short lived"))
    carol.send("PART #den")
    carol.expect(from_("carol", "PART #den"))
    carol.send("LIST")
    carol.expect(":natter 321 carol Channel :Users  Name")
    carol.expect(":natter 323 carol :End of /LIST")
    carol.join("#den", names=["carol"])  # no 332/333
    carol.send("TOPIC #den")
    carol.expect(":natter 331 carol #den :No topic is set")


def test_part_with_and_without_reason(doors):  # PROTOCOL.md §8.4, §8.6
    alice, = in_lobby(doors, "Alice")
    carol = irc_in(doors, "carol", "#lobby", [alice])
    dave = irc_in(doors, "dave", "#lobby", [alice], [carol])
    carol.send("PART #lobby :bye for now")
    for c in (carol, dave):
        c.expect(from_("carol", "PART #lobby :bye for now"))
    alice.expect_line(notice("carol has left lobby (bye for now)"))
    carol.send("JOIN #lobby")
    carol.read_until_line(":natter 366 carol #lobby :End of /NAMES list.")
    dave.expect(from_("carol", "JOIN #lobby"))
    alice.expect_line(notice("carol has joined the chat"))
    carol.send("PART #lobby")
    for c in (carol, dave):
        c.expect(from_("carol", "PART #lobby"))
    alice.expect_line(notice("carol has left lobby"))
    # errors
    bob = doors.line("Bob")
    join_room(bob, "other")
    carol.send("PART #other")
    carol.expect(":natter 442 carol #other :You're not on that channel")
    carol.send("PART #nope")
    carol.expect(":natter 403 carol #nope :No such channel")
    carol.send("PART")
    carol.expect(":natter 461 carol PART :Not enough parameters")


def test_quit_with_and_without_reason(doors):  # PROTOCOL.md §8.6, §8.9
    alice, = in_lobby(doors, "Alice")
    carol = irc_in(doors, "carol", "#lobby", [alice])
    dave = irc_in(doors, "dave", "#lobby", [alice], [carol])
    eve = irc_in(doors, "eve", "#lobby", [alice], [carol, dave])
    carol.send("QUIT :gone fishing")
    carol.expect_error("Quit: gone fishing")
    for c in (dave, eve):
        c.expect(from_("carol", "QUIT :Quit: gone fishing"))
    alice.expect_line(notice("carol has left the chat (gone fishing)"))
    dave.send("QUIT")
    dave.expect_error("Quit")
    eve.expect(from_("dave", "QUIT :Quit"))
    alice.expect_line(notice("dave has left the chat"))
    eve.barrier()
    barrier(alice)


def test_long_quit_words_are_cut_between_characters(doors):  # PROTOCOL.md §8.9
    # 168 euro signs (3 bytes each, 504 bytes): the ERROR line has room for 160 and a bit of the
    # 161st; it must stop before it, not inside it (found by fuzz_chat).
    carol = irc_in(doors, "carol", "#lobby")
    carol.send("QUIT :" + "\u20ac" * 168)
    line = carol.read()
    assert line == ("ERROR :Closing link: Quit: " + "\u20ac" * 160).encode(), line
    line.decode("utf-8")  # whole characters only
    carol.expect_closed()


def test_line_users_leaving_seen_by_irc(doors):  # PROTOCOL.md §8.6
    alice, bob, dora = in_lobby(doors, "Alice", "Bob", "Dora")
    carol = irc_in(doors, "carol", "#lobby", [alice, bob, dora])
    alice.send("/quit see you")
    carol.expect(from_("Alice", "QUIT :Quit: see you"))
    bob.send("/quit")
    carol.expect(from_("Bob", "QUIT :Quit"))
    # Dora reads all that was sent to her, so her close is a clean FIN, not a reset.
    dora.expect_line(notice("Alice has left the chat (see you)"))
    dora.expect_line(notice("Bob has left the chat"))
    barrier(dora)
    port = dora.local_port
    dora.close()
    carol.expect(from_("Dora", "QUIT :Connection closed"))
    doors.server.wait_log(rb" info conn=\d+ peer=127\.0\.0\.1:%d name=Dora left: closed$" % port)
    carol.barrier()


def test_irc_users_closing_without_quit(doors):  # PROTOCOL.md §8.6, §8.9
    alice, = in_lobby(doors, "Alice")
    carol = irc_in(doors, "carol", "#lobby", [alice])
    dave = irc_in(doors, "dave", "#lobby", [alice], [carol])
    eve = irc_in(doors, "eve", "#lobby", [alice], [carol, dave])
    # dave half-closes after reading everything: natter says why it closes, then closes.
    dave.barrier()
    dave.c.sock.shutdown(socket.SHUT_WR)
    dave.expect_error("Connection closed")
    for c in (carol, eve):
        c.expect(from_("dave", "QUIT :Connection closed"))
    alice.expect_line(notice("dave has left the chat"))
    # eve just closes (FIN) after reading everything.
    eve.barrier()
    port = eve.c.local_port
    eve.close()
    carol.expect(from_("eve", "QUIT :Connection closed"))
    alice.expect_line(notice("eve has left the chat"))
    doors.server.wait_log(rb" info conn=\d+ peer=127\.0\.0\.1:%d name=eve left: closed$" % port)
    carol.barrier()
    barrier(alice)


def test_quit_seen_once_by_a_user_sharing_two_channels(doors):  # PROTOCOL.md §8.6
    alice, = in_lobby(doors, "Alice")
    carol = irc_in(doors, "carol", "#lobby", [alice])
    dave = irc_in(doors, "dave", "#lobby", [alice], [carol])
    carol.join("#den")
    dave.join("#den")
    carol.expect(from_("dave", "JOIN #den"))
    dave.send("NICK david")
    dave.expect(from_("dave", "NICK :david"))
    carol.expect(from_("dave", "NICK :david"))  # once, too
    alice.expect_line(notice("dave is now known as david"))
    carol.barrier()
    dave.send("QUIT :bye")
    dave.expect_error("Quit: bye")
    carol.expect(from_("david", "QUIT :Quit: bye"))
    carol.barrier()
    alice.expect_line(notice("david has left the chat (bye)"))
    barrier(alice)


# ============================================================================================
# Messages (§8.5, §8.6)


def test_privmsg_both_ways(doors):  # PROTOCOL.md §8.5, §8.6
    alice, = in_lobby(doors, "Alice")
    bob = irc_in(doors, "bob", "#lobby", [alice])
    carol = irc_in(doors, "carol", "#lobby", [alice], [bob])
    far = doors.line("Far")
    for c in (bob, carol):
        c.expect(from_("Far", "JOIN #lobby"))
    alice.expect_line(notice("Far has joined the chat"))
    join_room(far, "far")
    alice.expect_line(notice("Far left for far"))
    for c in (bob, carol):
        c.expect(from_("Far", "PART #lobby :left for far"))
    alice.send("hi")
    for c in (bob, carol):
        c.expect(from_("Alice", "PRIVMSG #lobby :hi"))
    bob.send("PRIVMSG #lobby :hello there")
    alice.expect_line("bob: hello there")
    carol.expect(from_("bob", "PRIVMSG #lobby :hello there"))
    bob.send("PRIVMSG #lobby ::-) a leading colon")
    alice.expect_line("bob: :-) a leading colon")
    carol.expect(from_("bob", "PRIVMSG #lobby ::-) a leading colon"))
    bob.send("PRIVMSG #lobby word")
    alice.expect_line("bob: word")
    carol.expect(from_("bob", "PRIVMSG #lobby :word"))
    bob.barrier()  # the sender got nothing back
    barrier(far)  # another room got nothing


def test_ctcp_action_and_me(doors):  # PROTOCOL.md §8.5, §8.6
    alice, = in_lobby(doors, "Alice")
    bob = irc_in(doors, "bob", "#lobby", [alice])
    carol = irc_in(doors, "carol", "#lobby", [alice], [bob])
    alice.send("/me waves")
    for c in (bob, carol):
        c.expect(from_("Alice", "PRIVMSG #lobby :\x01ACTION waves\x01"))
    bob.send("PRIVMSG #lobby :\x01ACTION waves back\x01")
    alice.expect_line("* bob waves back")
    carol.expect(from_("bob", "PRIVMSG #lobby :\x01ACTION waves back\x01"))
    # Other CTCP requests are not relayed.
    bob.send("PRIVMSG #lobby :\x01VERSION\x01")
    bob.send("PRIVMSG Alice :\x01PING 123\x01")
    bob.send("PRIVMSG carol :\x01VERSION\x01")
    bob.barrier()
    carol.barrier()
    barrier(alice)


def test_private_messages_both_ways(doors):  # PROTOCOL.md §8.5, §8.6
    alice, = in_lobby(doors, "Alice")
    bob = doors.irc("bob")  # in no channel: private messages reach him anyway
    carol = doors.irc("carol")
    join_room(alice, "den")  # and in any room
    alice.send("/msg bob hi there")
    bob.expect(from_("Alice", "PRIVMSG bob :hi there"))
    bob.send("PRIVMSG Alice :hey")
    alice.expect_line("[private] bob: hey")
    bob.send("PRIVMSG Alice :\x01ACTION waves\x01")
    alice.expect_line("[private] * bob waves")
    bob.send("PRIVMSG carol :psst")
    carol.expect(from_("bob", "PRIVMSG carol :psst"))
    carol.send("PRIVMSG bob :\x01ACTION nods\x01")
    bob.expect(from_("carol", "PRIVMSG bob :\x01ACTION nods\x01"))
    # Several targets, in order
    carol.join("#lobby")
    bob.join("#lobby")
    carol.expect(from_("bob", "JOIN #lobby"))
    bob.send("PRIVMSG carol,Alice,#lobby :to all three")
    carol.expect(from_("bob", "PRIVMSG carol :to all three"))
    carol.expect(from_("bob", "PRIVMSG #lobby :to all three"))
    alice.expect_line("[private] bob: to all three")
    bob.barrier()
    barrier(alice)


def test_notice_to_room_and_user_and_never_an_error(doors):  # PROTOCOL.md §8.5, §8.6
    alice, = in_lobby(doors, "Alice")
    bob = irc_in(doors, "bob", "#lobby", [alice])
    carol = irc_in(doors, "carol", "#lobby", [alice], [bob])
    bob.send("NOTICE #lobby :note this")
    alice.expect_line("-bob- note this")
    carol.expect(from_("bob", "NOTICE #lobby :note this"))
    bob.send("NOTICE Alice :just you")
    alice.expect_line("-bob- just you")
    bob.send("NOTICE carol :you too")
    carol.expect(from_("bob", "NOTICE carol :you too"))
    for line in ("NOTICE nosuch :x", "NOTICE #nope :x", "NOTICE", "NOTICE #lobby"):
        bob.send(line)
    bob.barrier()
    carol.barrier()
    barrier(alice)


def test_privmsg_errors(doors):  # PROTOCOL.md §8.5, §8.4 (+n)
    alice, = in_lobby(doors, "Alice")
    join_room(alice, "other")
    bob = irc_in(doors, "bob", "#lobby")
    bob.send("PRIVMSG nosuch :hi")
    bob.expect(":natter 401 bob nosuch :No such nick/channel")
    bob.send("PRIVMSG #nosuch :hi")
    bob.expect(":natter 403 bob #nosuch :No such channel")
    bob.send("PRIVMSG #other :hi")
    bob.expect(":natter 404 bob #other :Cannot send to channel")
    bob.send("PRIVMSG")
    bob.expect(":natter 411 bob :No recipient given (PRIVMSG)")
    bob.send("PRIVMSG #lobby")
    bob.expect(":natter 412 bob :No text to send")
    barrier(alice)


def test_echo_message(doors):  # PROTOCOL.md §8.3
    alice, = in_lobby(doors, "Alice")
    bob = irc_in(doors, "bob", "#lobby", [alice], caps="echo-message message-tags")
    carol = irc_in(doors, "carol", "#lobby", [alice], [bob], caps="message-tags")
    bob.send("PRIVMSG #lobby :hi all")
    bob.expect(from_("bob", "PRIVMSG #lobby :hi all"))
    carol.expect(from_("bob", "PRIVMSG #lobby :hi all"))
    alice.expect_line("bob: hi all")
    bob.send("PRIVMSG Alice :psst")
    bob.expect(from_("bob", "PRIVMSG Alice :psst"))
    alice.expect_line("[private] bob: psst")
    bob.send("NOTICE #lobby :noted")
    bob.expect(from_("bob", "NOTICE #lobby :noted"))
    carol.expect(from_("bob", "NOTICE #lobby :noted"))
    alice.expect_line("-bob- noted")
    bob.send("@+typing=active TAGMSG #lobby")
    bob.expect("@+typing=active " + from_("bob", "TAGMSG #lobby"))
    carol.expect("@+typing=active " + from_("bob", "TAGMSG #lobby"))
    # Without echo-message nothing comes back.
    carol.send("PRIVMSG #lobby :no echo")
    bob.expect(from_("carol", "PRIVMSG #lobby :no echo"))
    alice.expect_line("carol: no echo")
    carol.barrier()
    barrier(alice)


def test_server_time_on_relayed_messages_only(oper_doors):  # PROTOCOL.md §8.3
    doors = oper_doors
    alice, = in_lobby(doors, "Alice")
    bob = doors.irc("bob", caps="server-time away-notify")

    def timed(expected):
        t0 = time.time()
        t = bob.expect_timed(expected)
        assert t0 - 2 <= t <= time.time() + 1, f"@time {t} is not now ({time.time()})"

    bob.send("JOIN #lobby")
    timed(from_("bob", "JOIN #lobby"))  # one's own JOIN is an event too
    bob.expect(":natter 353 bob = #lobby :Alice bob")  # numerics carry no tag
    bob.expect(":natter 366 bob #lobby :End of /NAMES list.")
    alice.expect_line(notice("bob has joined the chat"))
    bob.barrier()  # nor does a PONG

    alice.send("hi")
    timed(from_("Alice", "PRIVMSG #lobby :hi"))
    alice.send("/me waves")
    timed(from_("Alice", "PRIVMSG #lobby :\x01ACTION waves\x01"))
    alice.send("/msg bob private")
    timed(from_("Alice", "PRIVMSG bob :private"))
    alice.send("/nick Alicia")
    timed(from_("Alice", "NICK :Alicia"))
    alice.send("/topic T")
    timed(from_("Alicia", "TOPIC #lobby :T"))
    carol = doors.line("Carol")
    timed(from_("Carol", "JOIN #lobby"))
    carol.send("/join den")
    timed(from_("Carol", "PART #lobby :left for den"))
    dave = irc_in(doors, "dave", "#lobby")
    timed(from_("dave", "JOIN #lobby"))
    dave.send("NOTICE #lobby :n")
    timed(from_("dave", "NOTICE #lobby :n"))
    dave.send("AWAY :away")
    dave.expect(":natter 306 dave :You have been marked as being away")
    timed(from_("dave", "AWAY :away"))
    oper_up(dave)
    dave.send("WALLOPS :w")
    timed(from_("dave", "WALLOPS :w"))
    dave.send("PART #lobby :p")
    timed(from_("dave", "PART #lobby :p"))
    dave.send("JOIN #lobby")
    timed(from_("dave", "JOIN #lobby"))
    dave.send("QUIT :q")
    timed(from_("dave", "QUIT :Quit: q"))
    bob.send("NICK robert")
    timed(from_("bob", "NICK :robert"))
    bob.barrier()


def test_history_replayed_to_irc_on_join(start_server):  # PROTOCOL.md §8.4, §7.8, §8.3
    doors = Doors(start_server("--history", "10", listen=LISTEN))
    alice, = in_lobby(doors, "Alice")
    bob = irc_in(doors, "bob", "#lobby", [alice])
    alice.send("one")
    bob.expect(from_("Alice", "PRIVMSG #lobby :one"))
    alice.send("/me two")
    bob.expect(from_("Alice", "PRIVMSG #lobby :\x01ACTION two\x01"))
    bob.send("PRIVMSG #lobby :three")
    alice.expect_line("bob: three")
    alice.send("/msg bob not kept")
    bob.expect(from_("Alice", "PRIVMSG bob :not kept"))
    alice.send("/nick Alicia")  # history keeps who said it then
    alice.expect_line(notice("Alice is now known as Alicia"))
    bob.expect(from_("Alice", "NICK :Alicia"))
    said = time.time()
    # Let the clock move on, so that "when it was said" differs from "when replayed".
    time.sleep(0.3)
    history = [from_("Alice", "PRIVMSG #lobby :one"),
               from_("Alice", "PRIVMSG #lobby :\x01ACTION two\x01"),
               from_("bob", "PRIVMSG #lobby :three")]
    carol = doors.irc("carol", caps="server-time")
    carol.join("#lobby", names=["Alicia", "bob", "carol"])
    times = [carol.expect_timed(h) for h in history]
    assert times == sorted(times), f"history out of order: {times}"
    assert said - 5 <= times[0] and times[-1] <= said + 0.05, \
        f"history times {times} are not when the lines were said (~{said})"
    carol.barrier()
    dave = doors.irc("dave")
    dave.join("#lobby")
    dave.expect_lines(history)
    dave.barrier()
    alice.expect_line(notice("carol has joined the chat"))
    alice.expect_line(notice("dave has joined the chat"))
    # Line users get IRC lines in their history too.
    eve = doors.line("Eve")
    eve.expect_line("Alice: one")
    eve.expect_line("* Alice two")
    eve.expect_line("bob: three")
    barrier(eve)
    alice.expect_line(notice("Eve has joined the chat"))


def test_message_tags_relayed_only_to_message_tags_clients(doors):  # PROTOCOL.md §8.3, §8.5
    alice, = in_lobby(doors, "Alice")
    bob = irc_in(doors, "bob", "#lobby", [alice], caps="message-tags")
    carol = irc_in(doors, "carol", "#lobby", [alice], [bob], caps="message-tags")
    dave = irc_in(doors, "dave", "#lobby", [alice], [bob, carol])
    bob.send("@+example.com/x=1;+y PRIVMSG #lobby :tagged")
    carol.expect("@+example.com/x=1;+y " + from_("bob", "PRIVMSG #lobby :tagged"))
    dave.expect(from_("bob", "PRIVMSG #lobby :tagged"))
    alice.expect_line("bob: tagged")
    # Only client tags (+) are relayed.
    bob.send("@label=l1;+a=b PRIVMSG #lobby :client tags only")
    carol.expect("@+a=b " + from_("bob", "PRIVMSG #lobby :client tags only"))
    dave.expect(from_("bob", "PRIVMSG #lobby :client tags only"))
    alice.expect_line("bob: client tags only")
    # TAGMSG reaches message-tags clients only.
    bob.send("@+typing=active TAGMSG #lobby")
    carol.expect("@+typing=active " + from_("bob", "TAGMSG #lobby"))
    bob.send("@+typing=paused TAGMSG carol")
    carol.expect("@+typing=paused " + from_("bob", "TAGMSG carol"))
    bob.send("@+typing=active TAGMSG Alice")
    bob.send("@+typing=active TAGMSG dave")
    bob.barrier()
    carol.barrier()
    dave.barrier()
    barrier(alice)
    # Tags on a private message
    bob.send("@+reply=1 PRIVMSG carol :hi")
    carol.expect("@+reply=1 " + from_("bob", "PRIVMSG carol :hi"))
    bob.send("@+reply=1 PRIVMSG dave :hi")
    dave.expect(from_("bob", "PRIVMSG dave :hi"))


def read_pieces(c, prefix, total):
    """Reads PRIVMSGs that start with prefix until total bytes of text came; checks each is at
    most 512 bytes with CR LF and whole UTF-8 (PROTOCOL.md §8.6). Returns (text, pieces)."""
    got, pieces = b"", 0
    while len(got) < total:
        line = c.read()
        pieces += 1
        assert line.startswith(prefix), f"piece {pieces}: {line[:80]!r}"
        assert len(line) + 2 <= 512, f"piece {pieces} is {len(line) + 2} bytes with CR LF"
        part = line[len(prefix):]
        assert part, f"piece {pieces} is empty"
        part.decode("utf-8")  # each piece is whole UTF-8: cut at character boundaries
        got += part
    return got, pieces


def long_text(nbytes):
    """About nbytes of multi-byte UTF-8 (2, 3 and 4-byte characters), nothing to trim."""
    unit = "Grüße, 日本語 😀 ünïcödé "
    text = (unit * (nbytes // 20 + 1)).encode()[:nbytes].decode("utf-8", errors="ignore")
    return text.strip() + "!"


def test_long_line_user_line_reaches_irc_in_pieces(doors):  # PROTOCOL.md §8.6
    alice, = in_lobby(doors, "Alice")
    bob = irc_in(doors, "bob", "#lobby", [alice])
    text = long_text(1500)
    assert len(text.encode()) > 1400
    alice.send(text)
    got, pieces = read_pieces(bob, from_("Alice", "PRIVMSG #lobby :").encode(),
                              len(text.encode()))
    assert pieces >= 3, f"1500 bytes in {pieces} pieces"
    assert got == text.encode(), "the pieces do not reassemble to the line"
    alice.send("after")
    bob.expect(from_("Alice", "PRIVMSG #lobby :after"))
    # A private one too
    alice.send(f"/msg bob {text}")
    got, _ = read_pieces(bob, from_("Alice", "PRIVMSG bob :").encode(), len(text.encode()))
    assert got == text.encode()
    bob.barrier()


def test_long_line_from_a_long_name_still_fits(doors):  # PROTOCOL.md §8.6, §8.1
    name = "\U0001F600" * 32  # 128 bytes of name, and 128 more of USER
    long_name = doors.line(name)
    bob = irc_in(doors, "bob", "#lobby", [long_name])
    text = long_text(3000)
    long_name.send(text)
    prefix = from_(name, "PRIVMSG #lobby :").encode()
    assert len(prefix) > 250
    got, pieces = read_pieces(bob, prefix, len(text.encode()))
    assert got == text.encode() and pieces >= 12, pieces
    bob.barrier()


# ============================================================================================
# Renames and queries (§8.6, §8.7)


def test_renames_both_ways(doors):  # PROTOCOL.md §8.6, §7.4, §8.2
    alice, dave = in_lobby(doors, "Alice", "Dave")
    bob = irc_in(doors, "bob", "#lobby", [alice, dave])
    carol = irc_in(doors, "carol", "#lobby", [alice, dave], [bob])
    alice.send("/nick Alicia")
    for c in (alice, dave):
        c.expect_line(notice("Alice is now known as Alicia"))
    for c in (bob, carol):
        c.expect(from_("Alice", "NICK :Alicia"))
    bob.send("NICK Robert")
    for c in (bob, carol):
        c.expect(":bob!bob@natter NICK :Robert")
    for c in (alice, dave):
        c.expect_line(notice("bob is now known as Robert"))
    bob.send("PRIVMSG #lobby :new name")
    carol.expect(":Robert!robert@natter PRIVMSG #lobby :new name")
    alice.expect_line("Robert: new name")
    dave.expect_line("Robert: new name")
    # A change of case of one's own name is fine.
    bob.send("NICK ROBERT")
    bob.expect(":Robert!robert@natter NICK :ROBERT")
    carol.expect(":Robert!robert@natter NICK :ROBERT")
    alice.expect_line(notice("Robert is now known as ROBERT"))
    dave.expect_line(notice("Robert is now known as ROBERT"))
    # Old names are free at once, for either door.
    doors.line("bob")
    for c in (alice, dave):
        c.expect_line(notice("bob has joined the chat"))
    for c in (bob, carol):
        c.expect(from_("bob", "JOIN #lobby"))
    carol.send("NICK Alice")
    for c in (carol, bob):
        c.expect(":carol!carol@natter NICK :Alice")
    for c in (alice, dave):
        c.expect_line(notice("carol is now known as Alice"))
    # Refusals after registration, as many as you like: the connection stays.
    for _ in range(6):
        carol.send("NICK Dave")
        carol.expect(":natter 433 Alice Dave :Nickname is already in use")
    carol.send("NICK")
    carol.expect(":natter 431 Alice :No nickname given")
    carol.send("NICK a,b")
    carol.expect(":natter 432 Alice a,b :Erroneous nickname: "
                 "Name cannot contain ',', '*', '?', '.', '!', '@' or ':'.")
    carol.barrier()
    # An IRC user in no channel still sees its own rename, and nobody else does.
    lone = doors.irc("lone")
    lone.send("NICK alone")
    lone.expect(from_("lone", "NICK :alone"))
    for c in (bob, carol):
        c.barrier()
    barrier(dave)


def test_names_and_list(oper_doors):  # PROTOCOL.md §8.4
    alice, bob = in_lobby(oper_doors, "Alice", "Bob")
    line_oper(alice)
    join_room(bob, "other")
    alice.expect_line(notice("Bob left for other"))
    carol = irc_in(oper_doors, "carol", "#lobby", [alice], names=["@Alice", "carol"])
    dave = irc_in(oper_doors, "dave", "#lobby", [alice], [carol], caps="multi-prefix",
                  names=["@Alice", "carol", "dave"])
    carol.send("NAMES #lobby")
    carol.expect(":natter 353 carol = #lobby :@Alice carol dave")
    carol.expect(":natter 366 carol #lobby :End of /NAMES list.")
    carol.send("NAMES #other")  # not a member: still listed
    carol.expect(":natter 353 carol = #other :Bob")
    carol.expect(":natter 366 carol #other :End of /NAMES list.")
    carol.send("NAMES #nope")
    carol.expect(":natter 366 carol #nope :End of /NAMES list.")
    alice.send("/topic Lobby talk")
    alice.expect_line(notice("Alice set the topic: Lobby talk"))
    for c in (carol, dave):
        c.expect(from_("Alice", "TOPIC #lobby :Lobby talk"))
    carol.send("LIST")
    carol.expect(":natter 321 carol Channel :Users  Name")
    rows = {carol.read(), carol.read()}
    assert rows == {b":natter 322 carol #lobby 3 :Lobby talk", b":natter 322 carol #other 1 :"}
    carol.expect(":natter 323 carol :End of /LIST")
    carol.send("LIST #other,#nope")
    carol.expect(":natter 321 carol Channel :Users  Name")
    carol.expect(":natter 322 carol #other 1 :")
    carol.expect(":natter 323 carol :End of /LIST")


def test_who(oper_doors):  # PROTOCOL.md §8.7
    alice, = in_lobby(oper_doors, "Alice")
    carol = irc_in(oper_doors, "carol", "#lobby", [alice])
    dave = irc_in(oper_doors, "Dave", "#lobby", [alice], [carol])
    oper_up(dave)
    dave.send("AWAY :brb")
    dave.expect(":natter 306 Dave :You have been marked as being away")
    carol.send("WHO #lobby")
    carol.expect(":natter 352 carol #lobby alice natter natter Alice H :0 Alice")
    carol.expect(":natter 352 carol #lobby carol natter natter carol H :0 carol")
    carol.expect(":natter 352 carol #lobby dave natter natter Dave G*@ :0 Dave")
    carol.expect(":natter 315 carol #lobby :End of /WHO list.")
    carol.send("WHO Alice")
    carol.expect(":natter 352 carol * alice natter natter Alice H :0 Alice")
    carol.expect(":natter 315 carol Alice :End of /WHO list.")


def test_source_user_is_the_lower_case_nick_not_the_user_parameter(doors):  # PROTOCOL.md §8
    alice, = in_lobby(doors, "Alice")
    c = doors.connect()
    c.send("NICK BoB")
    c.send("USER someone 0 * :Real Name Here")
    c.expect_burst("BoB")
    c.join("#lobby", names=["Alice", "BoB"])
    alice.expect_line(notice("BoB has joined the chat"))
    other = irc_in(doors, "other", "#lobby", [alice])
    c.send("PRIVMSG #lobby :hi")
    other.expect(":BoB!bob@natter PRIVMSG #lobby :hi")
    other.send("WHO BoB")
    other.expect(":natter 352 other * bob natter natter BoB H :0 Real Name Here")
    other.expect(":natter 315 other BoB :End of /WHO list.")


def test_whois_line_user_and_irc_user(oper_doors):  # PROTOCOL.md §8.7
    alice, = in_lobby(oper_doors, "Alice")
    carol = irc_in(oper_doors, "carol", "#lobby", [alice])
    dave = oper_doors.irc("dave", realname="Dave Real")
    dave.join("#lobby")
    carol.expect(from_("dave", "JOIN #lobby"))
    alice.expect_line(notice("dave has joined the chat"))
    dave.join("#den")
    oper_up(dave)
    dave.send("AWAY :at lunch")
    dave.expect(":natter 306 dave :You have been marked as being away")
    carol.send("WHOIS Alice")
    carol.expect(":natter 311 carol Alice alice natter * :Alice")
    carol.expect(":natter 319 carol Alice :#lobby")
    carol.expect(":natter 312 carol Alice natter :line")
    carol.expect(":natter 318 carol Alice :End of /WHOIS list.")
    carol.send("WHOIS dave")
    carol.expect(":natter 311 carol dave dave natter * :Dave Real")
    carol.expect(":natter 319 carol dave :@#lobby @#den")
    carol.expect(":natter 312 carol dave natter :IRC")
    carol.expect(":natter 313 carol dave :is an IRC operator")
    carol.expect(":natter 301 carol dave :at lunch")
    carol.expect(":natter 318 carol dave :End of /WHOIS list.")
    carol.send("WHOIS nosuch")
    carol.expect(":natter 401 carol nosuch :No such nick/channel")
    carol.expect(":natter 318 carol nosuch :End of /WHOIS list.")


def test_channel_and_user_modes(oper_doors):  # PROTOCOL.md §8.4
    started = time.time()
    alice, = in_lobby(oper_doors, "Alice")
    carol = irc_in(oper_doors, "carol", "#lobby", [alice])
    carol.send("MODE #lobby")
    carol.expect(":natter 324 carol #lobby +n")
    m = carol.expect_match(rb":natter 329 carol #lobby (\d+)")
    assert int(started) - 2 <= int(m.group(1)) <= time.time() + 1
    carol.send("MODE #lobby b")
    carol.expect(":natter 368 carol #lobby :End of channel ban list")
    carol.send("MODE #lobby +m")
    carol.expect(":natter 482 carol #lobby :You're not a channel operator")
    carol.send("MODE Alice")
    carol.expect(":natter 502 carol :Can't change mode for other users")
    carol.send("MODE carol")
    carol.expect(":natter 221 carol +i")
    oper_up(carol)
    carol.send("MODE carol -o")
    carol.expect(":natter 221 carol +io")
    carol.send("MODE")
    carol.expect(":natter 461 carol MODE :Not enough parameters")
    barrier(alice)
    # Adding a ban is a change, not the list query `MODE #room b`.
    carol.send("MODE #lobby +b x!*@*")
    carol.expect(":natter 482 carol #lobby :You're not a channel operator")


def test_userhost_and_ison(oper_doors):  # PROTOCOL.md §8.7
    alice, = in_lobby(oper_doors, "Alice")
    line_oper(alice)
    bob = oper_doors.irc("bob")
    carol = oper_doors.irc("carol")
    carol.send("USERHOST Alice bob nosuch")
    carol.expect(":natter 302 carol :Alice*=+alice@natter bob=+bob@natter")
    bob.send("AWAY :gone")
    bob.expect(":natter 306 bob :You have been marked as being away")
    carol.send("USERHOST bob")
    carol.expect(":natter 302 carol :bob=-bob@natter")
    carol.send("ISON alice nosuch BOB carol")
    carol.expect(":natter 303 carol :Alice bob carol")
    carol.send("ISON nosuch")
    carol.expect(":natter 303 carol :")


def test_userhost_reply_too_long_for_one_line_is_split_not_cut(doors):  # PROTOCOL.md §8, §8.7
    # Every line is an IRC message of at most 512 bytes (RFC 1459/2812, which §8 follows);
    # a reply that does not fit one must still answer everything asked, whole, as 353 does
    # (§8.4): no entry cut in half, none left out.
    longs = [chr(0x1F600 + i) * 32 for i in range(3)]  # 128-byte nicks
    for n in longs:
        doors.irc(n)
    bob = doors.irc("bob")
    bob.send("USERHOST " + " ".join(longs))
    bob.send("PING end")
    lines = bob.read_until_line(":natter PONG natter :end")[:-1]
    entries = []
    for line in lines:
        assert line.startswith(b":natter 302 bob :") and len(line) + 2 <= 512, line[:60]
        entries += line.split(b" :", 1)[1].decode().split(" ")
    assert entries == [f"{n}=+{n}@natter" for n in longs], entries


def test_whois_lists_every_channel_of_a_user_in_50(doors):  # PROTOCOL.md §8, §8.7
    # As above: 50 channels of 32-character names do not fit one 319; all must be listed.
    bob = doors.irc("bob")
    rooms = [f"#{i:02d}" + "r" * 30 for i in range(50)]
    member = doors.irc("member")
    member.send("JOIN " + ",".join(rooms[:10]))
    for r in rooms[:10]:
        member.read_until_line(f":natter 366 member {r} :End of /NAMES list.")
    for r in rooms[10:]:
        member.join(r)
    bob.send("WHOIS member")
    bob.expect(":natter 311 bob member member natter * :member")
    lines = bob.read_until(lambda line: not line.startswith(b":natter 319 "))
    assert lines[-1] == b":natter 312 bob member natter :IRC", lines[-1]
    listed = []
    for line in lines[:-1]:
        assert line.startswith(b":natter 319 bob member :") and len(line) + 2 <= 512, line[:60]
        listed += line.split(b" :", 1)[1].decode().split(" ")
    assert listed == rooms, f"319 lists {len(listed)} of 50 channels"
    bob.expect(":natter 318 bob member :End of /WHOIS list.")


def test_away_301_and_away_notify(doors):  # PROTOCOL.md §8.3, §8.5, §8.7
    alice, = in_lobby(doors, "Alice")
    bob = irc_in(doors, "bob", "#lobby", [alice])
    carol = irc_in(doors, "carol", "#lobby", [alice], [bob], caps="away-notify")
    dave = irc_in(doors, "dave", "#lobby", [alice], [bob, carol])
    bob.send("AWAY :out for lunch")
    bob.expect(":natter 306 bob :You have been marked as being away")
    carol.expect(from_("bob", "AWAY :out for lunch"))
    dave.send("PRIVMSG bob :are you there?")
    bob.expect(from_("dave", "PRIVMSG bob :are you there?"))
    dave.expect(":natter 301 dave bob :out for lunch")
    dave.send("PRIVMSG #lobby :channel text gets no 301")
    bob.expect(from_("dave", "PRIVMSG #lobby :channel text gets no 301"))
    alice.expect_line("dave: channel text gets no 301")
    carol.expect(from_("dave", "PRIVMSG #lobby :channel text gets no 301"))
    dave.barrier()
    dave.send("WHO bob")
    dave.expect(":natter 352 dave * bob natter natter bob G :0 bob")
    dave.expect(":natter 315 dave bob :End of /WHO list.")
    bob.send("AWAY")
    bob.expect(":natter 305 bob :You are no longer marked as being away")
    carol.expect(from_("bob", "AWAY"))
    dave.send("PRIVMSG bob :back?")
    bob.expect(from_("dave", "PRIVMSG bob :back?"))
    dave.barrier()
    # At most 200 bytes are kept.
    bob.send("AWAY :" + "z" * 250)
    bob.expect(":natter 306 bob :You have been marked as being away")
    carol.expect(from_("bob", "AWAY :" + "z" * 200))
    dave.send("PRIVMSG bob :x")
    dave.expect(":natter 301 dave bob :" + "z" * 200)
    # Line users never see AWAY.
    dave.barrier()
    barrier(alice)


# ============================================================================================
# Operators (§8.8)


def test_oper_right_and_wrong_password(oper_doors):  # PROTOCOL.md §8.8
    c = oper_doors.irc("bob")
    c.send("OPER bob wrong")
    c.expect(":natter 464 bob :Password incorrect")
    oper_doors.server.wait_log(rb" warn .*peer=127\.0\.0\.1:%d .*wrong password$" % c.local_port)
    c.send("MODE bob")
    c.expect(":natter 221 bob +i")
    c.send("OPER")
    c.expect(":natter 461 bob OPER :Not enough parameters")
    c.send(f"OPER anyname {PASSWORD}")
    c.expect(":natter 381 bob :You are now an IRC operator")
    c.send("MODE bob")
    c.expect(":natter 221 bob +io")
    assert PASSWORD.encode() not in oper_doors.server.log()
    d = oper_doors.irc("carol", burst=welcome_burst("carol", users=2, opers=1))
    d.send("USERHOST bob")
    d.expect(":natter 302 carol :bob*=+bob@natter")


def test_oper_without_a_password_file(doors):  # PROTOCOL.md §8.8, §7.10
    c = doors.irc("bob")
    c.send("OPER bob anything")
    c.expect(":natter 464 bob :Password incorrect")


def test_kick_by_irc_oper_disconnects_line_and_irc_users(oper_doors):  # PROTOCOL.md §8.8, §8.6
    alice, bob = in_lobby(oper_doors, "Alice", "Bob")
    op = irc_in(oper_doors, "op", "#lobby", [alice, bob])
    carol = irc_in(oper_doors, "carol", "#lobby", [alice, bob], [op])
    oper_up(op)
    op.send("KICK #lobby Alice :spamming")
    assert alice.read_until_closed() == b"*** You were kicked by op (spamming) ***\n"
    bob.expect_line(notice("Alice was kicked by op (spamming)"))
    for c in (op, carol):
        c.expect(from_("Alice", "QUIT :Kicked by op (spamming)"))
    op.send("KICK #lobby carol")
    carol.expect_error("Kicked by op")
    op.expect(from_("carol", "QUIT :Kicked by op"))
    bob.expect_line(notice("carol was kicked by op"))
    op.barrier()
    barrier(bob)


def test_kick_by_non_oper_gets_481(oper_doors):  # PROTOCOL.md §8.8
    alice, = in_lobby(oper_doors, "Alice")
    carol = irc_in(oper_doors, "carol", "#lobby", [alice])
    carol.send("KICK #lobby Alice :no")
    carol.expect(f":natter 481 carol :{NOT_OPER}")
    carol.send("WALLOPS :hello")
    carol.expect(f":natter 481 carol :{NOT_OPER}")
    barrier(alice)
    alice.send("still here")
    carol.expect(from_("Alice", "PRIVMSG #lobby :still here"))


def test_line_oper_kicks_an_irc_user(oper_doors):  # PROTOCOL.md §7.10, §8.6, §8.8
    op, bob = in_lobby(oper_doors, "Op", "Bob")
    line_oper(op)
    carol = irc_in(oper_doors, "carol", "#lobby", [op, bob])
    dave = irc_in(oper_doors, "dave", "#lobby", [op, bob], [carol])
    op.send("/kick carol flooding")
    carol.expect_error("Kicked by Op (flooding)")
    dave.expect(from_("carol", "QUIT :Kicked by Op (flooding)"))
    for c in (op, bob):
        c.expect_line(notice("carol was kicked by Op (flooding)"))
    dave.barrier()


def test_wallops_and_wall_across_doors(oper_doors):  # PROTOCOL.md §8.8, §8.6, §7.10
    alice, bob = in_lobby(oper_doors, "Alice", "Bob")
    join_room(bob, "den")
    alice.expect_line(notice("Bob left for den"))
    op = irc_in(oper_doors, "op", "#lobby", [alice])
    carol = irc_in(oper_doors, "carol", "#lobby", [alice], [op])
    oper_up(op)
    op.send("WALLOPS :maintenance at noon")
    for c in (alice, bob):
        c.expect_line(notice("Notice from op: maintenance at noon"))
    carol.expect(from_("op", "WALLOPS :maintenance at noon"))
    # The operator's own copy, as /wall gives one to its sender.
    op.expect(from_("op", "WALLOPS :maintenance at noon"))
    op.barrier()
    line_oper(alice)
    alice.send("/wall from the line")
    for c in (alice, bob):
        c.expect_line(notice("Notice from Alice: from the line"))
    for c in (op, carol):
        c.expect(from_("Alice", "WALLOPS :from the line"))
    carol.barrier()


def test_ban_across_doors(oper_doors):  # PROTOCOL.md §7.10, §4.4, §8.6
    server = oper_doors.server
    op, bob = in_lobby(oper_doors, "Op", "Bob")
    line_oper(op)
    carol = irc_in(oper_doors, "carol", "#lobby", [op, bob])
    victim = Irc(connect_from(server, "127.0.0.2", addr=oper_doors.irc_addr, label="victim"))
    victim.register("victim")
    victim.join("#lobby")
    carol.expect(from_("victim", "JOIN #lobby"))
    for c in (op, bob):
        c.expect_line(notice("victim has joined the chat"))
    op.send("/ban victim")
    victim.expect_error("Banned by Op")
    carol.expect(from_("victim", "QUIT :Banned by Op"))
    for c in (op, bob):
        c.expect_line(notice("victim was banned by Op"))
    # Refused at both doors now, and never registered.
    again = Irc(connect_from(server, "127.0.0.2", addr=oper_doors.irc_addr, label="again"))
    again.send_raw(b"NICK again\r\nUSER again 0 * :again\r\n")
    data = again.read_until_closed()
    assert b" 001 " not in data, f"a banned address registered: {data!r}"
    assert data == b"" or re.fullmatch(rb"ERROR :Closing link: [^\r\n]+\r\n", data), \
        f"refusal is not one ERROR line: {data!r}"
    line = connect_from(server, "127.0.0.2", addr=oper_doors.tcp, label="line-again")
    assert line.read_until_closed() == b"You are banned from this server.\n"
    op.send("/unban 127.0.0.2")
    op.expect_line(notice("127.0.0.2 is no longer banned"))
    back = Irc(connect_from(server, "127.0.0.2", addr=oper_doors.irc_addr, label="back"))
    back.register("victim")
    carol.barrier()


# ============================================================================================
# Liveness, limits, leaving (§8.9)


def test_ping_pong(doors):  # PROTOCOL.md §8.9
    c = doors.irc("bob")
    c.send("PING x")
    c.expect(":natter PONG natter :x")
    c.send("PING :two words")
    c.expect(":natter PONG natter :two words")
    c.send("PING")
    c.expect(":natter 409 bob :No origin specified")
    c.send("PONG :natter")  # unsolicited: nothing comes back
    c.barrier()


def test_server_pings_an_idle_client_then_times_it_out(start_server):  # PROTOCOL.md §8.9
    doors = Doors(start_server("--idle-timeout", "1", listen=LISTEN))
    watcher = doors.irc("watcher")  # answers its PINGs while bob waits for his
    watcher.join("#lobby")
    seen = []

    def next_line_of(c, timeout):
        """c's next line, while the watcher is kept alive; its other lines go to seen."""
        deadline = time.monotonic() + timeout
        while b"\n" not in c.c.buf:
            assert time.monotonic() < deadline and not c.c.eof, \
                f"bob: no line within {timeout:.1f}s (eof={c.c.eof})"
            seen.extend(x for x in watcher.poll(0.01, answer_pings=True)
                        if not x.startswith(b"PING "))
            c.c._fill(time.monotonic() + 0.02)
        return c.read()

    c = doors.irc("bob")
    c.join("#lobby")
    started = time.monotonic()  # bob's last line
    line = next_line_of(c, scaled(3))
    pinged = time.monotonic()
    assert line == b"PING :natter", f"bob: expected the server's PING, got {line!r}"
    assert pinged - started >= 0.4, f"PING after {pinged - started:.2f}s of a 1 s idle timeout"
    line = next_line_of(c, scaled(3))
    assert line == b"ERROR :Closing link: Ping timeout", f"bob: got {line!r}"
    assert time.monotonic() - pinged >= 0.4, "closed before the PING could be answered"
    c.expect_closed()
    deadline = time.monotonic() + scaled(3)
    quit_line = from_("bob", "QUIT :Ping timeout").encode()
    while quit_line not in seen:
        assert time.monotonic() < deadline, f"watcher never saw bob's QUIT: {seen}"
        seen.extend(watcher.poll(0.05, answer_pings=True))
    assert [x for x in seen if not x.startswith(b"PING ")] == \
        [from_("bob", "JOIN #lobby").encode(), quit_line]


@pytest.mark.test_timeout(40)
def test_client_answering_pings_stays_connected(start_server):  # PROTOCOL.md §8.9
    doors = Doors(start_server("--idle-timeout", "1", listen=LISTEN))
    c = doors.irc("bob")
    pings = 0
    end = time.monotonic() + 3.5
    while time.monotonic() < end:
        line = c.read(timeout=scaled(2))
        assert line == b"PING :natter", f"unexpected {line!r}"
        pings += 1
        c.send("PONG :natter")
    assert pings >= 3, f"{pings} PINGs in 3.5 s of a 1 s idle timeout"
    c.barrier()


def test_long_texts_from_a_long_nick_fit_irc_messages(doors):  # PROTOCOL.md §8, §8.5, §8.6
    # A 128-byte nick makes a 258-byte source. Texts that would not fit one message with it
    # reach IRC users in messages of at most 512 bytes (Irc.read checks each): a PRIVMSG in
    # pieces that reassemble, a QUIT reason cut at a character boundary; line users get all.
    alice, = in_lobby(doors, "Alice")
    watcher = irc_in(doors, "watcher", "#lobby", [alice])
    nick = "\U0001F600" * 32
    long = irc_in(doors, nick, "#lobby", [alice], [watcher])
    text = "é" * 240  # 480 bytes: the most a 510-byte PRIVMSG line can carry
    long.send(f"PRIVMSG #lobby :{text}")
    alice.expect_line(f"{nick}: {text}")
    got, pieces = read_pieces(watcher, from_(nick, "PRIVMSG #lobby :").encode(),
                              len(text.encode()))
    assert got == text.encode() and pieces >= 2
    words = "ü" * 200
    long.send(f"QUIT :{words}")
    long.expect_error(f"Quit: {words}")
    alice.expect_line(notice(f"{nick} has left the chat ({words})"))
    line = watcher.read()
    prefix = from_(nick, "QUIT :").encode()
    assert line.startswith(prefix), line[:80]
    reason = line[len(prefix):].decode("utf-8")  # whole characters
    assert f"Quit: {words}".startswith(reason) and len(reason) > 100, reason
    watcher.barrier()


def test_over_long_line_gets_417_and_the_connection_stays(doors):  # PROTOCOL.md §8.9
    alice, = in_lobby(doors, "Alice")
    bob = irc_in(doors, "bob", "#lobby", [alice])
    head = "PRIVMSG #lobby :"
    bob.send(head + "x" * (510 - len(head)))  # 510 bytes: fine
    alice.expect_line("bob: " + "x" * (510 - len(head)))
    bob.send(head + "y" * (511 - len(head)))
    bob.expect(":natter 417 bob :Input line was too long")
    bob.send(head + "z" * 2000)
    bob.expect(":natter 417 bob :Input line was too long")
    # Tags do not count against the 510 bytes; more than 8191 bytes of them do get 417.
    bob.send("@+t=" + "a" * 1000 + " " + head + "w" * (510 - len(head)))
    alice.expect_line("bob: " + "w" * (510 - len(head)))
    bob.send("@+t=" + "a" * 9000 + " " + head + "v")
    bob.expect(":natter 417 bob :Input line was too long")
    bob.send("@+t=" + "a" * 4200 + " " + head + "u")  # client tags over 4094 bytes
    bob.expect(":natter 417 bob :Input line was too long")
    # 100 KB in pieces before its LF: one 417, the rest of the line discarded
    bob.send_raw(head.encode() + b"q" * 50000)
    bob.send_raw(b"q" * 50000 + b"\r\n")
    bob.expect(":natter 417 bob :Input line was too long")
    bob.barrier()
    barrier(alice)
    bob.send(head + "still connected")
    alice.expect_line("bob: still connected")


def test_nul_and_cr_never_start_a_second_line(doors):  # PROTOCOL.md §8.9, §5.3
    alice, = in_lobby(doors, "Alice")
    bob = irc_in(doors, "bob", "#lobby", [alice])
    carol = irc_in(doors, "carol", "#lobby", [alice], [bob], caps="message-tags")
    bob.send_raw(b"PRIVMSG #lobby :a\rPRIVMSG #lobby :injected\x00b\r\n")
    alice.expect_line("bob: aPRIVMSG #lobby :injectedb")
    carol.expect(from_("bob", "PRIVMSG #lobby :aPRIVMSG #lobby :injectedb"))
    bob.send_raw(b"PRIVMSG Alice :x\r\x00QUIT\r\n")
    alice.expect_line("[private] bob: xQUIT")
    # From a line user
    alice.send(b"one\rPRIVMSG #lobby :two\x00three")
    carol.expect(from_("Alice", "PRIVMSG #lobby :onePRIVMSG #lobby :twothree"))
    bob.expect(from_("Alice", "PRIVMSG #lobby :onePRIVMSG #lobby :twothree"))
    # In a topic, a nick, a channel name, a tag value
    bob.send_raw(b"TOPIC #lobby :t1\rt2\x00t3\r\n")
    for c in (bob, carol):
        c.expect(from_("bob", "TOPIC #lobby :t1t2t3"))
    alice.expect_line(notice("bob set the topic: t1t2t3"))
    bob.send_raw(b"JOIN #a\x00b\r\n")
    bob.expect_match(rb":natter 403 bob \S+ :No such channel "
                     rb"\(Room name cannot contain control characters\.\)")
    bob.send_raw(b"@+bad=a\rb;+good=1 PRIVMSG #lobby :tags\r\n")
    carol.expect("@+good=1 " + from_("bob", "PRIVMSG #lobby :tags"))
    alice.expect_line("bob: tags")
    for c in (bob, carol):
        c.barrier()
    barrier(alice)
    # CR is whitespace, refused as a space (§2.2); NUL a control character. Neither may come
    # back raw in the echoed nick (Irc.read fails on a CR or NUL inside a line).
    bob.send_raw(b"NICK ev\ril\r\n")
    bob.expect_match(rb":natter 432 bob \S+ :Erroneous nickname: Name cannot contain spaces\.")
    bob.send_raw(b"NICK ev\x00il\r\n")
    bob.expect_match(rb":natter 432 bob \S+ :Erroneous nickname: "
                     rb"Name cannot contain control characters\.")


def test_formatting_codes_are_stripped_for_everyone(doors):  # PROTOCOL.md §8.5, §5.3
    alice, = in_lobby(doors, "Alice")
    bob = irc_in(doors, "bob", "#lobby", [alice])
    carol = irc_in(doors, "carol", "#lobby", [alice], [bob])
    bob.send(b"PRIVMSG #lobby :\x02bold\x02 \x0304,12red\x03 \x1ditalic\x1d \x1funder\x1f "
             b"\x04FF00FFhex\x04 \x11mono\x11 \x16rev\x16 \x1estrike\x1e\x0f end")
    alice.expect_line("bob: bold red italic under hex mono rev strike end")
    carol.expect(from_("bob", "PRIVMSG #lobby :bold red italic under hex mono rev strike end"))
    bob.send(b"PRIVMSG #lobby :\x033green\x03 and \x0312,1blue")
    alice.expect_line("bob: green and blue")
    carol.expect(from_("bob", "PRIVMSG #lobby :green and blue"))
    # Only formatting: empty after stripping, so not sent. (What the sender gets is not
    # specified: nothing, or 412 as for no text.)
    bob.send(b"PRIVMSG #lobby :\x02\x0f\x0304\x1f")
    bob.send(b"PRIVMSG #lobby :after")
    alice.expect_line("bob: after")
    carol.expect(from_("bob", "PRIVMSG #lobby :after"))
    bob.send("PING f")
    extra = bob.read_until_line(":natter PONG natter :f")
    assert extra[:-1] in ([], [b":natter 412 bob :No text to send"]), extra
    # A line user's control bytes never reach IRC.
    alice.send(b"\x02bold\x02 \x1funder\x1f \x1b[31mred\x1b[0m")
    for c in (bob, carol):
        c.expect(from_("Alice", "PRIVMSG #lobby :bold under red"))


@pytest.mark.test_timeout(40)
def test_flood_is_paced_never_dropped(start_server):  # PROTOCOL.md §8.9, §7.9
    doors = Doors(start_server("--rate", "20", "--burst", "10", listen=LISTEN))
    alice, = in_lobby(doors, "Alice")
    carol = irc_in(doors, "carol", "#lobby", [alice])
    bob = irc_in(doors, "bob", "#lobby", [alice], [carol])
    time.sleep(0.6)  # the bucket is time-based: full again after 10 / 20 s (a known state)
    n = 50
    started = time.monotonic()
    bob.send_raw(b"".join(b"PRIVMSG #lobby :flood %02d\r\n" % i for i in range(n)))
    for i in range(n):
        alice.expect_line(f"bob: flood {i:02d}", timeout=scaled(5))
    elapsed = time.monotonic() - started
    for i in range(n):
        carol.expect(from_("bob", f"PRIVMSG #lobby :flood {i:02d}"))
    # 50 lines with a burst of 10 at 20 a second: at least ~2 s.
    assert elapsed >= 1.6, f"50 lines arrived in {elapsed:.2f}s: not paced"
    assert elapsed < scaled(10), f"50 lines took {elapsed:.2f}s"
    bob.barrier(timeout=scaled(3))  # still connected
    carol.barrier()


@pytest.mark.test_timeout(60)
def test_slow_irc_reader_is_cut_with_sendq_exceeded(start_server):  # PROTOCOL.md §8.9, §4.3
    doors = Doors(start_server("--sndbuf", "4096", "--max-output", "65536", listen=LISTEN))
    alice, = in_lobby(doors, "Alice")
    fast = irc_in(doors, "fast", "#lobby", [alice])
    slow = doors.irc("slow", rcvbuf=4096)
    slow.join("#lobby")
    fast.expect(from_("slow", "JOIN #lobby"))
    alice.expect_line(notice("slow has joined the chat"))
    # slow reads nothing from here on; Alice floods in chunks, each sent once fast has read
    # the one before (as test_tls's slow reader test, for the same reason).
    n, chunk = 3000, 50
    lines = [b"flood %04d " % i + b"x" * 140 for i in range(n)]
    quit_line = from_("slow", "QUIT :SendQ exceeded").encode()
    prefix = from_("Alice", "PRIVMSG #lobby :").encode()
    got, quits = 0, 0
    for start in range(0, n, chunk):
        alice.send_raw(b"".join(x + b"\n" for x in lines[start:start + chunk]))
        while got < start + chunk:
            line = fast.read(timeout=scaled(20))
            if line == quit_line:
                quits += 1
                continue
            assert line == prefix + lines[got], f"fast: flood line {got}: got {line!r}"
            got += 1
    if quits == 0:
        fast.expect(quit_line, timeout=scaled(5) + WAIT)
        quits = 1
    assert quits == 1
    data = slow.read_until_closed(timeout=scaled(10))
    assert data.endswith(b"\r\nERROR :Closing link: SendQ exceeded\r\n"), \
        f"slow reader's stream ends {data[-120:]!r}"
    fast.barrier()
    alice.send("still here")
    fast.expect(from_("Alice", "PRIVMSG #lobby :still here"))


def test_unknown_command_and_missing_parameters(doors):  # PROTOCOL.md §8.9
    c = doors.irc("bob")
    c.send("FROBNICATE now")
    c.expect(":natter 421 bob FROBNICATE :Unknown command")
    c.send("KILL bob :no")  # not supported (§8.10)
    c.expect(":natter 421 bob KILL :Unknown command")
    for line, cmd in (("JOIN", "JOIN"), ("PART", "PART"), ("TOPIC", "TOPIC"),
                      ("OPER x", "OPER"), ("USERHOST", "USERHOST"), ("ISON", "ISON")):
        c.send(line)
        c.expect(f":natter 461 bob {cmd} :Not enough parameters")
    c.barrier()


def test_shutdown_tells_irc_users(doors):  # PROTOCOL.md §8.9, §4.5
    alice, = in_lobby(doors, "Alice")
    bob = irc_in(doors, "bob", "#lobby", [alice])
    doors.server.signal(signal.SIGTERM)
    bob.expect_error("Server shutting down", timeout=scaled(10))
    assert alice.read_until_closed(timeout=scaled(10)) == b"*** Server is shutting down ***\n"
    bob.close()
    alice.close()
    doors.server.wait_exit()
    doors.server.stop()  # exit status 0, no sanitizer report


# ============================================================================================
# TLS (§8, §1)


def test_ircs_registration_and_chat_with_a_line_user(start_server, tls_cert):
    # PROTOCOL.md §8 (ircs://), §1
    doors = Doors(start_server(listen=LISTEN_TLS, tls=tls_cert), irc_scheme="ircs")
    alice, = in_lobby(doors, "Alice")
    bob = doors.irc("bob", caps="server-time",
                    burst=welcome_burst("bob", users=2, channels=1))
    assert bob.c.is_tls
    bob.join("#lobby", names=["Alice", "bob"])
    alice.expect_line(notice("bob has joined the chat"))
    bob.send("PRIVMSG #lobby :over TLS")
    alice.expect_line("bob: over TLS")
    alice.send("plain to TLS")
    bob.expect_timed(from_("Alice", "PRIVMSG #lobby :plain to TLS"))
    bob.send("QUIT :done")
    bob.expect_error("Quit: done")
    alice.expect_line(notice("bob has left the chat (done)"))


def test_line_who_star_names_irc_users_in_no_channel(doors):  # PROTOCOL.md §7.3, §8.1
    alice, = in_lobby(doors, "Alice")
    loner = doors.irc("loner")  # registered, in no channel
    irc_in(doors, "joined", "#lobby", [alice])
    alice.send("/who *")
    alice.expect_line(notice("3 people in 1 room:"))
    alice.expect_line(notice("lobby (2): Alice, joined"))
    alice.expect_line(notice("in no room (1): loner"))
    loner.send("JOIN #lobby")
    alice.expect_line(notice("loner has joined the chat"))
    alice.send("/who *")
    alice.expect_line(notice("3 people in 1 room:"))
    alice.expect_line(notice("lobby (3): Alice, joined, loner"))
    alice.send("/rooms")  # nothing about IRC users left over from the /who *
    alice.expect_line(notice("1 room:"))
