"""Regression: a remote crash by a reader that never reads and asks for long replies.

The flat design dropped a client the moment a reply took it over --max-output, in the middle of
the command: a reply to /rooms freed the room being walked when the client was its last member
(STYLE.md "Ownership and lifetime" rule 2). T sends its name, moves to a room of its own, then a
pile of commands with multi-line replies in one send, and never reads: one of those replies takes
it over --max-output. natter must mark it, drop it at the safe point (leave reason `slow`), and go
on serving everybody else (PROTOCOL.md §4.3, §7.3, §7.2).

The setup makes the replies long and the buffers short, so the cut is certain and comes in the
middle of the pile: --sndbuf 4096 on natter's side, SO_RCVBUF 2048 on T's, other clients in
rooms of their own with long names (each /rooms and /who * reply walks every room), and 200
commands (10 to 180 KB of replies against some 16 KB of kernel buffers and a 1 KB cap).
"""
import re

import pytest

from chat_helpers import barrier, join_room, notice
from conftest import PROMPT, WAIT

N_COMMANDS = 200
N_ROOMS = 8
SLOW_MSG = b"Disconnected: too slow to receive messages.\n"


def long_rooms(server):
    """N_ROOMS clients, each alone in a room: 32-character names and 31-character rooms."""
    helpers = []
    for i in range(N_ROOMS):
        name = f"helper-{i:02d}-with-a-long-name-xyz"[:32]
        room = f"room-{i:02d}-with-a-long-name-abcdef"[:31]
        h = server.join(name)
        join_room(h, room)
        helpers.append(h)
    return helpers


@pytest.mark.parametrize("command", [b"/rooms", b"/who *", b"/help"], ids=["rooms", "who", "help"])
def test_reader_cut_off_in_the_middle_of_long_replies(start_server, command):
    # PROTOCOL.md §4.3, §7.3; STYLE.md "Ownership and lifetime" rule 2
    server = start_server("--max-output", "1024", "--rate", "0", "--sndbuf", "4096")
    helpers = long_rooms(server)

    t = server.connect(rcvbuf=2048, label="T")
    t.send_raw(b"T\n/join solo\n/x\n" + (command + b"\n") * N_COMMANDS)
    # T never reads until it is gone: natter cuts it as a slow consumer.
    server.wait_log(rb" conn=\d+ peer=\S+:%d name=T left: slow$" % t.local_port)

    # Still running, still serving: a newcomer and another talk both ways.
    assert server.running(), "natter exited after the slow reader was cut"
    bob = server.join("Bob")
    carol = server.join("Carol")
    bob.expect_line(notice("Carol has joined the chat"))
    bob.send("Hi Carol, still up?")
    carol.expect_line("Bob: Hi Carol, still up?")
    carol.send("Still up, Bob.")
    bob.expect_line("Carol: Still up, Bob.")
    for c in (bob, carol):
        barrier(c)
    # T is gone, and the rooms it walked are intact: everybody is where they were, T nowhere.
    carol.send("/who *")
    lines = [carol.read_line() for _ in range(1 + N_ROOMS + 1)]
    assert lines[0] == b"*** %d people in %d rooms: ***\n" % (N_ROOMS + 2, N_ROOMS + 1), lines
    assert not any(b" T," in ln or b" T ***" in ln or b"solo" in ln for ln in lines), lines
    barrier(carol)
    for h in helpers:
        barrier(h)

    # What T got before the cut is the start of what it asked for; then natter closed it.
    data = t.read_until_closed()
    assert data.startswith(PROMPT), data[:200]
    assert data.count(b"\n") < 4 + N_COMMANDS * 3, "T got every reply: it was not cut in time"
    assert len(re.findall(rb"name=T left:", server.log())) == 1, "T left more than once"

    server.close_clients()
    assert server.stop() == 0


def test_reader_cut_off_in_mixed_long_replies(start_server):
    # PROTOCOL.md §4.3: the three commands mixed in one pile; natter keeps serving and exits 0.
    server = start_server("--max-output", "1024", "--rate", "0", "--sndbuf", "4096")
    long_rooms(server)
    t = server.connect(rcvbuf=2048, label="T")
    t.send_raw(b"T\n/join solo\n" + b"/who *\n/rooms\n/help\n" * N_COMMANDS)
    server.wait_log(rb"peer=\S+:%d name=T left: slow$" % t.local_port, timeout=WAIT)
    alice = server.join("Alice")
    bob = server.join("Bob")
    alice.expect_line(notice("Bob has joined the chat"))
    alice.send("ping")
    bob.expect_line("Alice: ping")
    t.read_until_closed()
    server.close_clients()
    assert server.stop() == 0
