"""Choosing a name: the rules, the refusals, uniqueness, the limits on trying."""
import time

import pytest

from conftest import PROMPT, scaled

EMPTY = "Name cannot be empty."
TOO_LONG = "Name is too long (at most 32 characters)."
BAD_UTF8 = "Name is not valid UTF-8."
SPACES = "Name cannot contain spaces."
CONTROL = "Name cannot contain control characters."
BAD_START = "Name cannot start with '/', '#', '~', '&', '%', '+' or '-'."
BAD_CHAR = "Name cannot contain ',', '*', '?', '.', '!', '@' or ':'."
TOO_MANY = "Too many invalid names; disconnecting."


def new_client(server, label="newcomer"):
    c = server.connect(label=label)
    c.expect_bytes(PROMPT)
    return c


@pytest.mark.parametrize("line, reason", [
    (b"", EMPTY),
    (b"   ", EMPTY),
    (b" \t \r", EMPTY),
    (b"\x0b\x0c", EMPTY),                      # VT and FF are trimmed too (§2.2)
    (b"A" * 33, TOO_LONG),
    ("é".encode() * 33, TOO_LONG),             # 33 code points, 66 bytes
    ("😀".encode() * 33, TOO_LONG),
    (b"Al\xe9", BAD_UTF8),                     # Latin-1, not UTF-8
    (b"\xc3(", BAD_UTF8),
    (b"x\xc0\xaf", BAD_UTF8),                  # overlong '/'
    (b"x\xed\xa0\x80", BAD_UTF8),              # surrogate
    (b"x\xf4\x90\x80\x80", BAD_UTF8),          # above U+10FFFF
    (b"truncated\xe2\x82", BAD_UTF8),
    (b"Al ice", SPACES),
    (b"Al\tice", SPACES),                      # whitespace and control: a space (§2.2)
    ("Al\u0085ice".encode(), SPACES),
    ("Al\u00a0ice".encode(), SPACES),
    ("Al\u1680ice".encode(), SPACES),
    ("Al\u2000ice".encode(), SPACES),
    ("Al\u200aice".encode(), SPACES),
    ("Al\u2028ice".encode(), SPACES),
    ("Al\u2029ice".encode(), SPACES),
    ("Al\u202fice".encode(), SPACES),
    ("Al\u205fice".encode(), SPACES),
    ("Al\u3000ice".encode(), SPACES),
    (b"Al\x00ice", CONTROL),
    (b"Al\x01ice", CONTROL),
    (b"Al\x1b[31mice", CONTROL),
    (b"Al\x07ice", CONTROL),
    (b"Al\x7fice", CONTROL),
    ("Al\u0080ice".encode(), CONTROL),
    ("Al\u009bice".encode(), CONTROL),
    ("Al\u202eice".encode(), CONTROL),         # RIGHT-TO-LEFT OVERRIDE
    ("Al\u202aice".encode(), CONTROL),
    ("Al\u2066ice".encode(), CONTROL),
    ("Al\u2069ice".encode(), CONTROL),
    ("\ufeffAlice".encode(), CONTROL),         # BOM
    ("Al\ufffdice".encode(), CONTROL),         # a valid U+FFFD is refused too
    (b"/alice", BAD_START),
    (b"*alice", BAD_CHAR),
    (b"#alice", BAD_START),
    (b"  /alice", BAD_START),                  # checked after trimming
], ids=lambda v: repr(v)[:40] if isinstance(v, bytes) else None)
def test_refused_name_gets_reason_then_prompt(server, line, reason):  # PROTOCOL.md §2.2, §2.3
    observer = server.join("Observer")
    c = new_client(server)
    c.send(line)
    c.expect_line(reason)
    c.expect_bytes(PROMPT)
    c.expect_silence(0.05)
    # Still at the prompt: a valid name now works, and only it is announced.
    c.send("Valid")
    observer.expect_line("*** Valid has joined the chat ***")


@pytest.mark.parametrize("name", [
    "A" * 32,
    "é" * 32,                 # 32 code points, 64 bytes
    "😀" * 32,                # 32 code points, 128 bytes
    "x",
    "Σοφία",
    "中文名字",
    "a/b#c~d-e",              # only the first character is restricted for these
    "Zoë-O'Brien_2",
])
def test_valid_names(server, name):  # PROTOCOL.md §2.2, §2.6
    observer = server.join("Observer")
    server.join(name)
    observer.expect_line(f"*** {name} has joined the chat ***")


def test_name_is_trimmed_and_crlf_accepted(server):  # PROTOCOL.md §1, §2.2, §5.1
    observer = server.join("Observer")
    c = new_client(server)
    c.send_raw(b"Alice\r\n")
    observer.expect_line("*** Alice has joined the chat ***")
    c.expect_welcome("Alice")
    c2 = new_client(server)
    c2.send_raw(b" \t Bob \t\r\n")
    observer.expect_line("*** Bob has joined the chat ***")
    c2.expect_welcome("Bob")
    c.send("hi")
    observer.expect_line("Alice: hi")
    c2.expect_line("Alice: hi")


@pytest.mark.parametrize("first, second", [
    ("Alice", "alice"),
    ("Alice", "ALICE"),
    ("alice", "aLiCe"),
    ("Σοφία", "σοφία"),
    ("σοφία", "ΣΟΦΊΑ"),
    ("ÉMILE", "émile"),
    ("Ødegaard", "øDEGAARD"),
    ("ЖЕНЯ", "женя"),
])
def test_names_are_unique_case_insensitively(server, first, second):  # PROTOCOL.md §2.2, §2.3
    observer = server.join("Observer")
    server.join(first)
    observer.expect_line(f"*** {first} has joined the chat ***")
    c = new_client(server)
    c.send(second)
    c.expect_line(f'Name "{second}" is already taken.')
    c.expect_bytes(PROMPT)
    observer.expect_silence(0.05)


def test_taken_name_is_checked_after_trimming(server):  # PROTOCOL.md §2.2, §2.3
    server.join("Alice")
    c = new_client(server)
    c.send("  alice  ")
    c.expect_line('Name "alice" is already taken.')
    c.expect_bytes(PROMPT)


def test_name_freed_after_leave_can_be_reused(server):  # PROTOCOL.md §2.2, §4.1
    observer = server.join("Observer")
    alice = server.join("Alice")
    observer.expect_line("*** Alice has joined the chat ***")
    alice.close()
    observer.expect_line("*** Alice has left the chat ***")
    server.join("aLICE")
    observer.expect_line("*** aLICE has joined the chat ***")


def test_unnamed_client_holds_no_name(server):  # PROTOCOL.md §2.2
    # A client still at the prompt (or refused) does not reserve anything.
    observer = server.join("Observer")
    c = new_client(server)
    c.send("Al ice")
    c.expect_line(SPACES)
    c.expect_bytes(PROMPT)
    server.join("Al")
    observer.expect_line("*** Al has joined the chat ***")


def test_two_clients_racing_for_one_name(server):  # PROTOCOL.md §2.2
    observer = server.join("Observer")
    a, b = new_client(server, "a"), new_client(server, "b")
    a.send_raw(b"Twin\n")
    b.send_raw(b"twin\n")
    joined = observer.read_line()
    assert joined in (b"*** Twin has joined the chat ***\n", b"*** twin has joined the chat ***\n")
    loser, name = (b, "twin") if joined.startswith(b"*** Twin") else (a, "Twin")
    loser.expect_line(f'Name "{name}" is already taken.')
    loser.expect_bytes(PROMPT)
    observer.expect_silence(0.05)


def test_five_refused_names_disconnect(server):  # PROTOCOL.md §2.3, §4.6
    observer = server.join("Observer")
    c = new_client(server)
    for line, reason in [(b"", EMPTY), (b"/x", BAD_START), (b"a b", SPACES),
                         (b"Observer", 'Name "Observer" is already taken.')]:
        c.send(line)
        c.expect_line(reason)
        c.expect_bytes(PROMPT)
    c.send(b"A" * 40)
    c.expect_line(TOO_LONG)
    c.expect_line(TOO_MANY)
    c.expect_closed()
    observer.expect_silence(0.1)  # §2.5: no notice for a client that never joined
    server.join("Next")  # the server goes on
    observer.expect_line("*** Next has joined the chat ***")


def test_valid_name_after_four_refusals_is_accepted(server):  # PROTOCOL.md §2.3
    observer = server.join("Observer")
    c = new_client(server)
    for _ in range(4):
        c.send("")
        c.expect_line(EMPTY)
        c.expect_bytes(PROMPT)
    c.send("Fifth")
    observer.expect_line("*** Fifth has joined the chat ***")


def test_too_long_name_line_is_refused_with_line_cap_reply(start_server):
    # PROTOCOL.md §3.4: an over-long name line gets the line-cap reply only, counts as a refused
    # name, and the rest of the line is discarded.
    server = start_server("--max-line", "16")
    observer = server.join("Observer")
    c = new_client(server)
    c.send_raw(b"N" * 17)
    c.expect_line("Line too long (more than 16 bytes); not sent.")
    c.expect_bytes(PROMPT)
    c.send_raw(b"N" * 30 + b"\n")  # the rest of the same line
    c.expect_silence(0.1)
    c.send("Short")
    observer.expect_line("*** Short has joined the chat ***")


def test_too_long_name_lines_count_as_refusals(start_server):  # PROTOCOL.md §2.3, §3.4
    server = start_server("--max-line", "16")
    c = new_client(server)
    for _ in range(4):
        c.send(b"N" * 20)
        c.expect_line("Line too long (more than 16 bytes); not sent.")
        c.expect_bytes(PROMPT)
    c.send(b"N" * 20)
    c.expect_line("Line too long (more than 16 bytes); not sent.")
    c.expect_line(TOO_MANY)
    c.expect_closed()


def test_name_timeout_fractional(start_server):  # PROTOCOL.md §2.4, §2.5, §4.6
    server = start_server("--name-timeout", "0.3")
    observer = server.join("Observer")  # joined within 0.3 s, so it stays
    t0 = time.monotonic()
    c = new_client(server)
    c.expect_line("Disconnected: no valid name given in time.", timeout=scaled(3))
    elapsed = time.monotonic() - t0
    c.expect_closed()
    assert elapsed >= 0.25, f"name timeout fired after {elapsed:.3f}s, before 0.3s"
    observer.expect_silence(0.1)


def test_name_timeout_is_not_reset_by_refused_names(start_server):  # PROTOCOL.md §2.4
    server = start_server("--name-timeout", "2")
    t0 = time.monotonic()
    c = new_client(server)
    for at in (0.6, 1.2, 1.8):
        time.sleep(max(0.0, t0 + at - time.monotonic()))  # pacing the client, not waiting
        c.send("")
        c.expect_line(EMPTY)
        c.expect_bytes(PROMPT)
    c.expect_line("Disconnected: no valid name given in time.", timeout=scaled(3))
    elapsed = time.monotonic() - t0
    c.expect_closed()
    # Counted from the connect: about 2 s. Restarted by a refusal it would be 3.8 s.
    assert 1.9 <= elapsed < 3.0, f"name timeout fired {elapsed:.3f}s after connect, expected ~2s"


def test_name_timeout_spares_named_clients(start_server):  # PROTOCOL.md §2.4
    server = start_server("--name-timeout", "0.3")
    alice = server.join("Alice")
    bob = server.join("Bob")
    alice.expect_line("*** Bob has joined the chat ***")
    deadline = time.monotonic() + 0.6
    while time.monotonic() < deadline:
        alice.expect_silence(0.1)
    bob.send("still here")
    alice.expect_line("Bob: still here")
