"""Rooms and history: /join, /rooms, several rooms at once, rooms forgotten when empty, and the
history a newcomer gets (PROTOCOL.md §2.6, §7.3, §7.6, §7.8)."""
import re
import threading

import pytest

from chat_helpers import barrier, join_room, notice, usage


def lobby(server, *names):
    """Joins names in order; each client has read every later join notice."""
    clients = []
    for name in names:
        c = server.join(name)
        for other in clients:
            other.expect_line(notice(f"{name} has joined the chat"))
        clients.append(c)
    return clients


def move(client, room, old_members, new_members, shown=None):
    """client joins room: checks the notice in the old room, the one in the new room and the
    mover's own line (PROTOCOL.md §7.6). Members are the clients already there."""
    shown = shown or room
    n = len(new_members)
    others = ("nobody else is here" if n == 0 else "1 other person is here" if n == 1
              else f"{n} other people are here")
    join_room(client, room, others, shown)
    for c in old_members:
        c.expect_line(notice(f"{client.label} left for {shown}"))
    for c in new_members:
        c.expect_line(notice(f"{client.label} has joined {shown}"))


# -- /join


def test_join_notices_to_old_room_new_room_and_mover(server):  # PROTOCOL.md §7.6
    alice, bob, carol, dave = lobby(server, "Alice", "Bob", "Carol", "Dave")
    alice.send("/join den")
    alice.expect_line(notice("You are now in den: nobody else is here"))
    for c in (bob, carol, dave):
        c.expect_line(notice("Alice left for den"))
    bob.send("/join den")
    bob.expect_line(notice("You are now in den: 1 other person is here"))
    alice.expect_line(notice("Bob has joined den"))
    carol.expect_line(notice("Bob left for den"))
    dave.expect_line(notice("Bob left for den"))
    carol.send("/join den")
    carol.expect_line(notice("You are now in den: 2 other people are here"))
    alice.expect_line(notice("Carol has joined den"))
    bob.expect_line(notice("Carol has joined den"))
    dave.expect_line(notice("Carol left for den"))
    for c in (alice, bob, carol, dave):
        barrier(c)
    # Back to the lobby: the same notices, never "has joined the chat" again.
    alice.send("/join lobby")
    alice.expect_line(notice("You are now in lobby: 1 other person is here"))
    dave.expect_line(notice("Alice has joined lobby"))
    bob.expect_line(notice("Alice left for lobby"))
    carol.expect_line(notice("Alice left for lobby"))
    for c in (alice, bob, carol, dave):
        barrier(c)


def test_join_matches_case_insensitively_and_keeps_the_creators_spelling(server):  # §7.6
    alice, bob, carol = lobby(server, "Alice", "Bob", "Carol")
    move(bob, "CoffeeRoom", [alice, carol], [])
    alice.send("/join COFFEEROOM")
    alice.expect_line(notice("You are now in CoffeeRoom: 1 other person is here"))
    carol.expect_line(notice("Alice left for CoffeeRoom"))
    bob.expect_line(notice("Alice has joined CoffeeRoom"))
    move(carol, "coffeeroom", [], [bob, alice], shown="CoffeeRoom")
    carol.send("/who")
    carol.expect_line(notice("3 in CoffeeRoom: Bob, Alice, Carol"))
    carol.send("/rooms")
    carol.expect_line(notice("1 room:"))
    carol.expect_line(notice("CoffeeRoom: 3"))


def test_join_unicode_room_case_insensitively(server):  # PROTOCOL.md §2.2, §7.6
    alice, bob = lobby(server, "Alice", "Bob")
    move(alice, "Σοφία", [bob], [])
    move(bob, "ΣΟΦΊΑ", [], [alice], shown="Σοφία")


@pytest.mark.parametrize("line, room", [
    ("/join lobby", "lobby"),
    ("/join LOBBY", "lobby"),
    ("/JOIN Lobby", "lobby"),
])
def test_join_own_room(server, line, room):  # PROTOCOL.md §7.6
    alice, bob = lobby(server, "Alice", "Bob")
    alice.send(line)
    alice.expect_line(notice(f"You are already in {room}"))
    barrier(bob)
    barrier(alice)


def test_join_own_room_keeps_the_creators_spelling(server):  # PROTOCOL.md §7.6
    alice, bob = lobby(server, "Alice", "Bob")
    move(alice, "Den", [bob], [])
    alice.send("/join dEN")
    alice.expect_line(notice("You are already in Den"))
    barrier(alice)


REFUSED_ROOMS = [
    # (the room after "/join ", the refusal): the §2.2 rules with "Room name" (§7.6)
    ("a" * 33, "Room name is too long (at most 32 characters)."),
    ("two words", "Room name cannot contain spaces."),
    ("tab\there", "Room name cannot contain spaces."),
    ("nb\u00a0sp", "Room name cannot contain spaces."),
    ("bom\ufeffx", "Room name cannot contain control characters."),
    ("bad\ufffd", "Room name cannot contain control characters."),
    ("/root", "Room name cannot start with '/', '#', '~', '&', '%', '+' or '-'."),
    ("*star", "Room name cannot contain ',', '*', '?', '.', '!', '@' or ':'."),
    ("#general", "Room name cannot start with '/', '#', '~', '&', '%', '+' or '-'."),
    ("a.b", "Room name cannot contain ',', '*', '?', '.', '!', '@' or ':'."),
]


@pytest.mark.parametrize("room, why", REFUSED_ROOMS,
                         ids=[f"{i}-{w.split()[3]}" for i, (_, w) in enumerate(REFUSED_ROOMS)])
def test_join_invalid_room_names_are_refused(server, room, why):  # PROTOCOL.md §2.2, §7.6
    alice, bob = lobby(server, "Alice", "Bob")
    alice.send(f"/join {room}")
    alice.expect_line(notice(why))
    barrier(bob)
    alice.send("/who")
    alice.expect_line(notice("2 in lobby: Alice, Bob"))
    alice.send("/rooms")
    alice.expect_line(notice("1 room:"))
    alice.expect_line(notice("lobby: 2"))


def test_join_room_of_32_code_points(server):  # PROTOCOL.md §2.2, §7.6
    alice, = lobby(server, "Alice")
    join_room(alice, "ж" * 32)


@pytest.mark.parametrize("line", ["/join", "/join    ", "/JOIN"])
def test_join_without_a_room_is_a_usage_error(server, line):  # PROTOCOL.md §7.1
    alice, bob = lobby(server, "Alice", "Bob")
    alice.send(line)
    alice.expect_line(usage("/join ROOM"))
    barrier(bob)


def test_join_argument_is_trimmed(server):  # PROTOCOL.md §3.1, §7
    alice, bob = lobby(server, "Alice", "Bob")
    alice.send("/join    den   ")
    alice.expect_line(notice("You are now in den: nobody else is here"))
    bob.expect_line(notice("Alice left for den"))


# -- rooms are forgotten when empty


def test_empty_room_is_forgotten_with_its_history(start_server):  # PROTOCOL.md §7.6, §7.8
    server = start_server("--history", "3")
    alice, bob, carol = lobby(server, "Alice", "Bob", "Carol")
    move(alice, "Den", [bob, carol], [])
    move(bob, "den", [carol], [alice], shown="Den")
    alice.send("kept in Den")
    bob.expect_line("Alice: kept in Den")
    carol.send("/rooms")
    carol.expect_line(notice("2 rooms:"))
    assert sorted([carol.read_line(), carol.read_line()]) == [
        b"*** Den: 2 ***\n", b"*** lobby: 1 ***\n"]
    move(alice, "lobby", [bob], [carol])
    move(bob, "lobby", [], [carol, alice])
    bob.send("/rooms")
    bob.expect_line(notice("1 room:"))
    bob.expect_line(notice("lobby: 3"))
    bob.send("/who *")
    bob.expect_line(notice("3 people in 1 room:"))
    bob.expect_line(notice("lobby (3): Carol, Alice, Bob"))
    # Re-created with a new spelling and no history.
    move(carol, "den", [alice, bob], [])
    barrier(carol)


def test_lobby_is_forgotten_and_recreated_too(start_server):  # PROTOCOL.md §2.6, §7.6, §7.8
    server = start_server("--history", "3")
    alice, = lobby(server, "Alice")
    alice.send("nobody hears this")
    join_room(alice, "den")
    alice.send("/rooms")
    alice.expect_line(notice("1 room:"))
    alice.expect_line(notice("den: 1"))
    bob = server.join("Bob")  # a new lobby: no history
    barrier(bob)
    bob.send("/who *")
    bob.expect_line(notice("2 people in 2 rooms:"))
    bob.expect_line(notice("den (1): Alice"))
    bob.expect_line(notice("lobby (1): Bob"))


def test_room_is_forgotten_when_its_last_member_disconnects(server):  # PROTOCOL.md §7.6
    alice, bob = lobby(server, "Alice", "Bob")
    move(alice, "den", [bob], [])
    alice.close()
    server.wait_log(rb"name=Alice left: closed$")
    bob.send("/rooms")
    bob.expect_line(notice("1 room:"))
    bob.expect_line(notice("lobby: 1"))


# -- /rooms


def test_rooms(server):  # PROTOCOL.md §7.3
    alice, bob, carol, dave = lobby(server, "Alice", "Bob", "Carol", "Dave")
    alice.send("/rooms")
    alice.expect_line(notice("1 room:"))
    alice.expect_line(notice("lobby: 4"))
    move(bob, "red", [alice, carol, dave], [])
    move(carol, "blue", [alice, dave], [])
    move(dave, "blue", [alice], [carol])
    dave.send("/ROOMS")
    dave.expect_line(notice("3 rooms:"))
    got = sorted(dave.read_line() for _ in range(3))  # §7.3 gives no order for /rooms
    assert got == sorted([b"*** lobby: 1 ***\n", b"*** red: 1 ***\n", b"*** blue: 2 ***\n"])
    barrier(dave)


# -- several rooms at once


def test_three_rooms_traffic_never_crosses(server):  # PROTOCOL.md §3.2, §7.5, §7.6
    names = ["L1", "L2", "R1", "R2", "B1", "B2"]
    clients = dict(zip(names, lobby(server, *names)))
    everyone = list(clients.values())
    move(clients["R1"], "red", [c for c in everyone if c.label != "R1"], [])
    lobby_now = [clients[n] for n in ("L1", "L2", "R2", "B1", "B2")]
    move(clients["R2"], "red", [c for c in lobby_now if c.label != "R2"], [clients["R1"]])
    lobby_now = [clients[n] for n in ("L1", "L2", "B1", "B2")]
    move(clients["B1"], "blue", [c for c in lobby_now if c.label != "B1"], [])
    lobby_now = [clients[n] for n in ("L1", "L2", "B2")]
    move(clients["B2"], "blue", [c for c in lobby_now if c.label != "B2"], [clients["B1"]])
    rooms = {"lobby": ("L1", "L2"), "red": ("R1", "R2"), "blue": ("B1", "B2")}
    # Everyone talks at once, interleaved, 20 lines each plus a /me; then a rename.
    for i in range(20):
        for n in names:
            clients[n].send(f"{n} line {i}")
    for n in names:
        clients[n].send(f"/me acts in {n}")
    for room, (a, b) in rooms.items():
        for sender, receiver in ((a, b), (b, a)):
            rx = clients[receiver]
            for i in range(20):
                rx.expect_line(f"{sender}: {sender} line {i}")
            rx.expect_line(f"* {sender} acts in {sender}")
    for c in everyone:
        barrier(c)
    clients["R1"].send("/nick Red1")
    clients["R1"].expect_line(notice("R1 is now known as Red1"))
    clients["R2"].expect_line(notice("R1 is now known as Red1"))
    for c in everyone:
        barrier(c)
    # /msg crosses rooms; /who sees only its room.
    clients["L1"].send("/msg Red1 hi red")
    clients["R1"].expect_line("[private] L1: hi red")
    clients["B2"].send("/who")
    clients["B2"].expect_line(notice("2 in blue: B1, B2"))
    for c in everyone:
        barrier(c)


def test_leave_notice_only_in_the_leavers_room(server):  # PROTOCOL.md §4.1, §7.6
    alice, bob, carol = lobby(server, "Alice", "Bob", "Carol")
    move(alice, "den", [bob, carol], [])
    move(bob, "den", [carol], [alice])
    bob.close()
    alice.expect_line(notice("Bob has left the chat"))
    barrier(carol)
    barrier(alice)


def test_newcomer_joins_the_lobby_whatever_others_do(server):  # PROTOCOL.md §2.6, §7.6
    alice, bob = lobby(server, "Alice", "Bob")
    move(alice, "den", [bob], [])
    carol = server.join("Carol")
    bob.expect_line(notice("Carol has joined the chat"))
    barrier(alice)
    carol.send("/who")
    carol.expect_line(notice("2 in lobby: Bob, Carol"))


def test_welcome_counts_the_lobby_only(server):  # PROTOCOL.md §2.6
    alice, bob, carol = lobby(server, "Alice", "Bob", "Carol")
    move(alice, "den", [bob, carol], [])
    move(bob, "den", [carol], [alice])
    dave = server.connect(label="Dave")
    dave.expect_bytes(b"Enter your name: ")
    dave.send("Dave")
    dave.expect_line("*** Welcome to lobby, Dave: 1 other person is here. "
                     "Type /help for the commands. ***")


# -- history


def test_no_history_by_default(server):  # PROTOCOL.md §7.8
    alice, bob = lobby(server, "Alice", "Bob")
    alice.send("before Carol")
    bob.expect_line("Alice: before Carol")
    carol = server.join("Carol")
    barrier(carol)


def test_history_replays_the_last_n_in_order_before_live_lines(start_server):  # §7.8
    server = start_server("--history", "3")
    alice, bob = lobby(server, "Alice", "Bob")
    for i in range(1, 6):
        alice.send(f"chat {i}")
    for i in range(1, 6):
        bob.expect_line(f"Alice: chat {i}")
    bob.send("/me nods")
    alice.expect_line("* Bob nods")
    alice.send("chat 6")
    bob.expect_line("Alice: chat 6")
    # Neither private lines nor notices are kept: a /msg, a rename, a join, a leave.
    alice.send("/msg Bob private 1")
    bob.expect_line("[private] Alice: private 1")
    eve = server.join("Eve")
    for c in (alice, bob):
        c.expect_line(notice("Eve has joined the chat"))
    for line in ("Alice: chat 5", "* Bob nods", "Alice: chat 6"):
        eve.expect_line(line)
    eve.send("/nick Eva")
    for c in (alice, bob, eve):
        c.expect_line(notice("Eve is now known as Eva"))
    eve.send("/quit")
    for c in (alice, bob):
        c.expect_line(notice("Eva has left the chat"))
    carol = server.join("Carol")
    carol.expect_line("Alice: chat 5")
    carol.expect_line("* Bob nods")
    carol.expect_line("Alice: chat 6")
    alice.send("live")
    carol.expect_line("Alice: live")
    barrier(carol)


def test_history_fewer_lines_than_n(start_server):  # PROTOCOL.md §7.8
    server = start_server("--history", "5")
    alice, bob = lobby(server, "Alice", "Bob")
    alice.send("one")
    alice.send("/me two")
    bob.expect_line("Alice: one")
    bob.expect_line("* Alice two")
    carol = server.join("Carol")
    carol.expect_line("Alice: one")
    carol.expect_line("* Alice two")
    barrier(carol)


def test_history_of_each_room_after_the_you_are_now_in_line(start_server):  # §7.6, §7.8
    server = start_server("--history", "2")
    alice, bob, carol = lobby(server, "Alice", "Bob", "Carol")
    move(alice, "den", [bob, carol], [])
    alice.send("den 1")
    alice.send("den 2")
    alice.send("den 3")
    bob.send("lobby 1")
    carol.expect_line("Bob: lobby 1")
    alice.send("/who")  # Alice's lines are handled once this reply arrives
    alice.expect_line(notice("1 in den: Alice"))
    carol.send("/join DEN")
    carol.expect_line(notice("You are now in den: 1 other person is here"))
    carol.expect_line("Alice: den 2")
    carol.expect_line("Alice: den 3")
    alice.expect_line(notice("Carol has joined den"))
    bob.expect_line(notice("Carol left for den"))
    alice.send("den live")
    carol.expect_line("Alice: den live")
    # Back to the lobby: its own history, which has no den line in it.
    carol.send("/join lobby")
    carol.expect_line(notice("You are now in lobby: 1 other person is here"))
    carol.expect_line("Bob: lobby 1")
    barrier(carol)


def test_history_keeps_escaped_slash_lines(start_server):  # PROTOCOL.md §3.2, §7.8
    server = start_server("--history", "3")
    alice, bob = lobby(server, "Alice", "Bob")
    alice.send("//shrug")
    bob.expect_line("Alice: /shrug")
    alice.send("/help")
    alice.expect_line(notice("Commands (start a line with // to send one that begins with /):"))
    carol = server.join("Carol")
    carol.expect_line("Alice: /shrug")
    barrier(carol)


@pytest.mark.test_timeout(60)
@pytest.mark.parametrize("round_", range(5))
def test_history_no_gap_no_duplicate_while_a_newcomer_joins(start_server, round_):  # §3.3, §7.8
    """Alice talks without pause while Carol joins: what Carol sees (history, then live) is one
    run of consecutive lines ending at Alice's last: nothing missed, nothing twice."""
    server = start_server("--history", "3")
    alice, bob = lobby(server, "Alice", "Bob")
    for i in range(10):
        alice.send(f"m{i}")
    for i in range(10):
        bob.expect_line(f"Alice: m{i}")
    total = 400
    errors = []

    def talk():
        try:
            for i in range(10, total):
                alice.send(f"m{i}")
                threading.Event().wait(0.001)  # spread the lines over the join
            alice.send("END")
        except OSError as e:
            errors.append(e)

    # Carol joins while Alice is mid-stream: after Bob saw line `start`, at a different point
    # in each round.
    start = 50 + 60 * round_
    t = threading.Thread(target=talk)
    t.start()
    try:
        for i in range(10, start + 1):
            bob.expect_line(f"Alice: m{i}")
        carol = server.join("Carol")
        seen = []
        while True:
            line = carol.read_line()
            if line == b"Alice: END\n":
                break
            seen.append(line)
    finally:
        t.join()
    assert not errors
    nums = []
    for line in seen:
        m = re.fullmatch(rb"Alice: m(\d+)\n", line)
        assert m, f"unexpected line for Carol: {line!r}"
        nums.append(int(m.group(1)))
    assert nums, "Carol saw no line at all"
    assert nums == list(range(nums[0], total)), (
        f"Carol's lines are not one consecutive run to m{total - 1}: {nums}")
    # History is the last 3 before the join, and the server had handled m{start} by then.
    assert nums[0] >= start - 2
    # Bob, already there, gets every line once, in order, and the join notice once among them.
    bob_seen = []
    while True:
        line = bob.read_line()
        if line == b"Alice: END\n":
            break
        bob_seen.append(line)
    joined = notice("Carol has joined the chat").encode() + b"\n"
    assert bob_seen.count(joined) == 1
    bob_seen.remove(joined)
    assert bob_seen == [b"Alice: m%d\n" % i for i in range(start + 1, total)]
