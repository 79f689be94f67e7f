"""Helpers for the command, room, flood-control and operator tests (PROTOCOL.md §4.4, §7).

- notice(text): a server line, "*** TEXT ***" (PROTOCOL.md §7).
- barrier(client): proves nothing else is queued for client (see its docstring).
- howto_transcript(server, **connect_args): the HOWTO's session, byte for byte, over any
  transport the server listens on.
- connect_from / join_from: a client bound to a chosen source address such as 127.0.0.2, for the
  per-address cap and bans (conftest's Server.connect cannot choose the source address).
"""
import socket

from conftest import PROMPT, WAIT, Client


def howto_transcript(server, **connect_args):
    """The HOWTO's session (PROTOCOL.md §2.1, §2.6, §3.1, §3.2, §4.1), byte for byte: Alice
    joins, then Bob; they greet; Bob's blank lines reach nobody and nothing comes back to a
    sender; Bob leaves. connect_args go to server.connect (a TLS context, say). Returns Alice,
    still connected."""
    alice = server.connect(label="Alice", **connect_args)
    alice.expect_bytes(b"Enter your name: ")
    alice.send("Alice")
    server.wait_joined("Alice", alice)
    alice.expect_silence(0.1)  # §2.6: the newcomer gets nothing

    bob = server.connect(label="Bob", **connect_args)
    bob.expect_bytes(b"Enter your name: ")
    bob.send("Bob")
    server.wait_joined("Bob", bob)  # §2.6: Bob's first line is his welcome
    alice.expect_line(b"*** Bob has joined the chat ***")

    bob.send("Hi Alice!")
    alice.expect_line(b"Bob: Hi Alice!")
    alice.send("Hello Bob!")
    bob.expect_line(b"Alice: Hello Bob!")

    # Blank lines are ignored: the next line Alice sees is the one after them.
    bob.send("")
    bob.send("    ")
    bob.send("How are you?")
    alice.expect_line(b"Bob: How are you?")
    bob.expect_silence(0.2)  # the sender gets nothing back

    bob.close()
    alice.expect_line(b"*** Bob has left the chat ***")
    alice.expect_silence(0.2)
    return alice

# PROTOCOL.md §7.2, in /help order: (USAGE, DESCRIPTION).
COMMANDS = [
    ("/help", "list the commands"),
    ("/who [*]", "who is in your room; with *, everyone, by room"),
    ("/nick NEW", "change your name"),
    ("/me ACTION", "tell your room what you do: * NAME ACTION"),
    ("/msg NAME TEXT", "a private message to NAME, in any room"),
    ("/join ROOM", "move to ROOM (created if new); everyone starts in lobby"),
    ("/rooms", "every room and how many are in it"),
    ("/topic [TEXT]", "show your room's topic, or set it (anyone in the room may)"),
    ("/quit [REASON]", "leave the chat"),
    ("/oper PASSWORD", "become an operator"),
    ("/kick NAME [REASON]", "disconnect NAME (operators)"),
    ("/ban NAME", "kick NAME and refuse their address until restart (operators)"),
    ("/unban ADDRESS", "lift a ban (operators)"),
    ("/bans", "list the banned addresses (operators)"),
    ("/wall TEXT", "a notice to everyone on the server (operators)"),
]
HELP_LINES = (["*** Commands (start a line with // to send one that begins with /): ***"]
              + [f"*** {usage} - {what} ***" for usage, what in COMMANDS])
OPER_COMMANDS = ("kick", "ban", "unban", "bans", "wall")


def notice(text):
    """A server line (PROTOCOL.md §7): "*** TEXT ***"."""
    return f"*** {text} ***"


def usage(text):
    """The usage-error reply of PROTOCOL.md §7.1."""
    return f"*** Usage: {text} ***"


def unknown(word):
    """The unknown-command reply of PROTOCOL.md §7.1."""
    return f"*** Unknown command: /{word}. Type /help for the commands. ***"


def denied(word):
    """The reply to an operator command from a non-operator (PROTOCOL.md §7.1)."""
    return f"*** Permission denied: /{word} is for operators ***"


BARRIER_WORD = "zz-barrier"


def barrier(client, timeout=None):
    """Sends an unknown command and asserts its reply is the next line client reads.

    natter handles one client's lines in order and queues a client's output in order, so when the
    reply comes first, nothing was queued for client before the server read the barrier. Use it
    after another client's line was seen to arrive elsewhere (so the server has handled it) to
    prove that line did not reach client, without sleeping. Needs flood control off or a token.
    """
    client.send("/" + BARRIER_WORD)
    client.expect_line(unknown(BARRIER_WORD), timeout)


def connect_from(server, source, addr=0, label=None, timeout=None):
    """Opens a raw connection (no prompt read) to listening address number addr from the local
    address source (e.g. "127.0.0.2": all of 127.0.0.0/8 is loopback on Linux). The server's
    teardown closes it."""
    host, port, family = server.addresses[addr]
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.bind((source, 0))
        sock.settimeout(WAIT if timeout is None else timeout)
        sock.connect((host, port))
    except OSError:
        sock.close()
        raise
    sock.settimeout(None)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    c = Client(sock, label or f"{source}:{sock.getsockname()[1]}")
    c.local_port  # remembered, so it can be named after the close
    server.clients.append(c)
    return c


def join_from(server, name, source):
    """Like Server.join, from the local address source."""
    c = connect_from(server, source, label=name)
    c.expect_bytes(PROMPT)
    c.send(name)
    server.wait_joined(name, c)
    return c


def join_room(client, room, others="nobody else is here", shown=None):
    """Sends /join room and reads the mover's line (PROTOCOL.md §7.6); shown is the room's name
    as its creator spelled it, when that differs from room."""
    client.send(f"/join {room}")
    client.expect_line(notice(f"You are now in {shown or room}: {others}"))
