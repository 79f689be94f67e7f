"""Chatting: sanitizing, trimming, framing, the line cap, order, idle timeout, leaving."""
import time

import pytest

from conftest import scaled

FFFD = "\ufffd"


@pytest.fixture
def pair(server):
    """Alice and Bob, both named; Alice has seen Bob join."""
    alice, bob = server.join("Alice"), server.join("Bob")
    alice.expect_line("*** Bob has joined the chat ***")
    return alice, bob


def relays(sender, receiver, raw, expected):
    """Sends raw (bytes, LF added) from sender, then a marker line; asserts receiver gets
    'NAME: expected' (or nothing when expected is None) and then the marker."""
    sender.send(raw)
    sender.send("-- marker --")
    name = sender.label
    if expected is not None:
        receiver.expect_line(f"{name}: {expected}".encode("utf-8"))
    receiver.expect_line(f"{name}: -- marker --")


SANITIZE_CASES = [
    # PROTOCOL.md §5.3 terminal escape sequences, removed whole
    ("csi-color", b"\x1b[31mred\x1b[0m text", "red text"),
    ("csi-clear-home", b"a\x1b[2J\x1b[Hb", "ab"),
    ("csi-private", b"a\x1b[?25lb\x1b[?1049hc", "abc"),
    ("csi-intermediate", b"a\x1b[1 qb", "ab"),
    ("csi-cursor-move", b"left\x1b[10Dright\x1b[1A", "leftright"),
    ("osc-bel", b"a\x1b]0;evil title\x07b", "ab"),
    ("osc-st-hyperlink", b"a\x1b]8;;http://evil/\x1b\\link\x1b]8;;\x1b\\b", "alinkb"),
    ("dcs", b"a\x1bPq#0;2;0;0;0#0~~\x1b\\b", "ab"),
    ("sos-pm-apc", b"a\x1bXsos\x1b\\b\x1b^pm\x1b\\c\x1b_apc\x1b\\d", "abcd"),
    ("esc-two-byte", b"a\x1bcb\x1b7c\x1b=d\x1b>e", "abcde"),
    # ESC, intermediates 0x20-0x2F, then one final byte: ESC ( B is three bytes.
    ("esc-charset-is-three-bytes", b"a\x1b(Bb", "ab"),
    ("c1-csi", "a\u009b31mb".encode(), "ab"),
    ("c1-osc", "a\u009d0;title\u0007b".encode(), "ab"),
    ("c1-dcs", "a\u0090data\u001b\\b".encode(), "ab"),
    ("c1-apc", "a\u009fapc\u001b\\b".encode(), "ab"),
    ("c1-pm", "a\u009epm\u001b\\b".encode(), "ab"),
    ("c1-sos", "a\u0098sos\u001b\\b".encode(), "ab"),
    ("unterminated-csi-at-end", b"ok\x1b[", "ok"),
    ("unterminated-osc-at-end", b"ok\x1b]0;title", "ok"),
    ("lone-esc-at-end", b"ok\x1b", "ok"),
    # C0, DEL, C1
    ("bel", b"ding\x07dong", "dingdong"),
    ("nul", b"a\x00b", "ab"),
    ("c0", b"a\x01\x02\x08\x0b\x0c\x0e\x1a\x1c\x1fb", "ab"),
    ("cr-inside", b"a\rb", "ab"),
    ("del", b"a\x7fb", "ab"),
    ("c1", "a\u0080\u0085\u008d\u0094b".encode(), "ab"),
    # TAB
    ("tab", b"a\tb\t\tc", "a b  c"),
    ("tab-trimmed", b"\t x \t", "x"),
    # bidirectional controls
    ("bidi", "a\u202eb\u202dc\u2066d\u2069e\u202a\u202b\u202cf\u2067\u2068g".encode(), "abcdefg"),
    # invalid UTF-8: one U+FFFD per maximal invalid subpart, as Python's errors="replace"
    ("latin1", b"caf\xe9", "caf" + FFFD),
    ("bad-continuation", b"a\xc3(b", "a" + FFFD + "(b"),
    ("truncated-at-end", b"euro\xe2\x82", "euro" + FFFD),
    ("truncated-4byte", b"x\xf0\x9f\x98y", "x" + FFFD + "y"),
    ("overlong", b"\xc0\xafz", FFFD * 2 + "z"),
    ("overlong-3byte", b"\xe0\x80\xafz", FFFD * 3 + "z"),
    ("surrogate", b"s\xed\xa0\x80s", "s" + FFFD * 3 + "s"),
    ("above-max", b"m\xf4\x90\x80\x80m", "m" + FFFD * 4 + "m"),
    ("f8-lead", b"q\xf8\x88\x80\x80\x80q", "q" + FFFD * 5 + "q"),
    ("lone-continuations", b"c\x80\xbfc", "c" + FFFD * 2 + "c"),
    ("valid-then-invalid", "é".encode() + b"\xa9\xc3", "é" + FFFD * 2),
    # kept as is
    ("unicode", "héllo wörld 😀 Σοφία 中文 ∑".encode(), "héllo wörld 😀 Σοφία 中文 ∑"),
    ("nbsp-not-trimmed", "\u00a0x\u00a0".encode(), "\u00a0x\u00a0"),
    ("printable-ascii", bytes(range(0x20, 0x7f)), bytes(range(0x20, 0x7f)).decode().strip()),
    # PROTOCOL.md §3.1 trimming after sanitizing
    ("trim", b"   spaced   out   ", "spaced   out"),
    ("trim-after-escapes", b"\x1b[1m  hi  \x1b[0m", "hi"),
    ("trim-after-controls", b"\x07 \x00 hi \x07", "hi"),
    # PROTOCOL.md §5.2 telnet IAC
    ("iac-will", b"hi \xff\xfb\x01there", "hi there"),
    ("iac-do-dont-wont", b"a\xff\xfd\x03b\xff\xfe\x01c\xff\xfc\x22d", "abcd"),
    ("iac-iac", b"x\xff\xffy", "x" + FFFD + "y"),
    ("iac-sb", b"a\xff\xfa\x18\x00xterm\xff\xf0b", "ab"),
    ("iac-two-byte", b"a\xff\xf1b\xff\xf9c\xff\xf4d", "abcd"),
]


@pytest.mark.parametrize("raw, expected", [c[1:] for c in SANITIZE_CASES],
                         ids=[c[0] for c in SANITIZE_CASES])
def test_sanitized_relay(pair, raw, expected):  # PROTOCOL.md §3.1, §5.2, §5.3
    alice, bob = pair
    relays(alice, bob, raw, expected)


@pytest.mark.parametrize("raw", [
    b"\x1b[2J\x1b[H",
    b"\x07\x07\x07",
    b" \t  ",
    b" \t \r",
    b"\x00",
    "\u202e\u2066".encode(),
    b"\xff\xfb\x01",            # only telnet negotiation
    b"\x1b]0;title\x07   ",
], ids=repr)
def test_line_empty_after_sanitizing_is_ignored(pair, raw):  # PROTOCOL.md §3.1
    alice, bob = pair
    relays(alice, bob, raw, None)


def test_crlf_line(pair):  # PROTOCOL.md §1, §5.1
    alice, bob = pair
    alice.send_raw(b"hello\r\n")
    bob.expect_line("Alice: hello")
    alice.send_raw(b"one\r\ntwo\r\n\r\nthree\n")
    bob.expect_line("Alice: one")
    bob.expect_line("Alice: two")
    bob.expect_line("Alice: three")


def test_many_lines_in_one_send(pair):  # PROTOCOL.md §5.1
    alice, bob = pair
    alice.send_raw(b"".join(b"line %d\n" % i for i in range(50)))
    for i in range(50):
        bob.expect_line(f"Alice: line {i}")


def test_bytes_split_across_sends(pair):  # PROTOCOL.md §5.1, §5.2, §5.3
    alice, bob = pair
    # Pauses between the pieces make separate reads likely; the result must not depend on it.
    pieces = [
        ([b"par", b"tial li", b"ne\n"], "partial line"),
        ([b"\xc3", b"\xa9t\xc3", b"\xa9\n"], "été"),                # UTF-8 split
        ([b"\xf0\x9f", b"\x98", b"\x80!\n"], "😀!"),
        ([b"a\x1b", b"[31", b"mb\n"], "ab"),                       # CSI split
        ([b"a\x1b]0;ti", b"tle\x07b\n"], "ab"),                    # OSC split
        ([b"hi \xff", b"\xfb", b"\x01there\n"], "hi there"),       # IAC split
        ([b"x\xff", b"\xffy\n"], "x" + FFFD + "y"),
        ([b"a\xff\xfa\x18", b"xterm", b"\xff", b"\xf0b\n"], "ab"),
        ([b"crlf\r", b"\n"], "crlf"),
    ]
    for parts, expected in pieces:
        for p in parts:
            alice.send_raw(p)
            time.sleep(0.02)
        bob.expect_line(f"Alice: {expected}")


def test_escape_sequence_is_cut_at_end_of_line(pair):  # PROTOCOL.md §5.3
    alice, bob = pair
    alice.send(b"a\x1b]0;unterminated title")
    alice.send("b")
    alice.send(b"c\x1bP dcs never ends")
    alice.send("d")
    alice.send(b"e\x1b[")
    alice.send("[f")
    bob.expect_line("Alice: a")
    bob.expect_line("Alice: b")
    bob.expect_line("Alice: c")
    bob.expect_line("Alice: d")
    bob.expect_line("Alice: e")
    bob.expect_line("Alice: [f")


def test_telnet_sequences_are_removed_before_framing(pair):  # PROTOCOL.md §1, §5.2
    alice, bob = pair
    # An LF inside a subnegotiation or right after IAC is part of the telnet command, not a line
    # end.
    alice.send_raw(b"a\xff\xfa\x01\n\xff\xf0b\n")
    bob.expect_line("Alice: ab")
    alice.send_raw(b"c\xff\nd\n")
    bob.expect_line("Alice: cd")
    alice.send_raw(b"e\xff\xfb\nf\n")
    bob.expect_line("Alice: ef")


def test_telnet_negotiation_alone_reaches_nobody(server):  # PROTOCOL.md §1, §5.2
    alice = server.join("Alice")
    # What a telnet client sends on connect, before the name, then its CRLF name.
    c = server.connect(label="telnet")
    c.expect_bytes(b"Enter your name: ")
    c.send_raw(b"\xff\xfb\x1f\xff\xfb\x20\xff\xfb\x18\xff\xfb\x27\xff\xfd\x01\xff\xfb\x03"
               b"\xff\xfd\x03\xff\xfa\x1f\x00\x50\x00\x18\xff\xf0Tel\r\n")
    alice.expect_line("*** Tel has joined the chat ***")
    c.send_raw(b"\xff\xfd\x01hello\r\n")
    alice.expect_line("Tel: hello")


def test_partial_line_at_close_is_the_last_line(pair):  # PROTOCOL.md §5.1, as the HOWTO
    alice, bob = pair
    bob.send_raw(b"no newline at the end")
    bob.close()
    alice.expect_line("Bob: no newline at the end")
    alice.expect_line("*** Bob has left the chat ***")
    alice.expect_silence(0.1)


def test_over_long_partial_line_at_close_is_not_sent(start_server):  # PROTOCOL.md §3.4, §5.1
    server = start_server("--max-line", "8")
    alice, bob = server.join("Alice"), server.join("Bob")
    alice.expect_line("*** Bob has joined the chat ***")
    bob.send_raw(b"x" * 20)
    bob.expect_line("Line too long (more than 8 bytes); not sent.")
    bob.close()
    alice.expect_line("*** Bob has left the chat ***")
    alice.expect_silence(0.1)


# --- PROTOCOL.md §3.4 over-long lines


def test_line_at_cap_is_relayed_over_cap_is_refused(start_server):  # PROTOCOL.md §3.4
    server = start_server("--max-line", "16")
    alice, bob = server.join("Alice"), server.join("Bob")
    alice.expect_line("*** Bob has joined the chat ***")
    alice.send(b"x" * 16)
    bob.expect_line(b"Alice: " + b"x" * 16)
    alice.send_raw(b"y" * 16 + b"\r\n")  # the CR is not content
    bob.expect_line(b"Alice: " + b"y" * 16)
    alice.send(b"z" * 17)
    alice.expect_line("Line too long (more than 16 bytes); not sent.")
    alice.send("after")
    bob.expect_line("Alice: after")
    alice.expect_silence(0.05)


def test_line_cap_counts_raw_bytes(start_server):  # PROTOCOL.md §3.4
    server = start_server("--max-line", "16")
    alice, bob = server.join("Alice"), server.join("Bob")
    alice.expect_line("*** Bob has joined the chat ***")
    alice.send(b"\x80" * 16)  # 16 bytes in, 48 bytes out: relayed
    bob.expect_line(b"Alice: " + FFFD.encode() * 16)
    alice.send("é" * 9)  # 9 characters, 18 bytes: too long
    alice.expect_line("Line too long (more than 16 bytes); not sent.")
    alice.send("ok")
    bob.expect_line("Alice: ok")


def test_over_long_line_split_across_sends(start_server):  # PROTOCOL.md §3.4
    server = start_server("--max-line", "16")
    alice, bob = server.join("Alice"), server.join("Bob")
    alice.expect_line("*** Bob has joined the chat ***")
    for part in (b"a" * 10, b"b" * 10, b"c" * 10, b"d" * 30, b"tail-not-a-line"):
        alice.send_raw(part)
        time.sleep(0.02)
    alice.send_raw(b"\nnext\n")
    alice.expect_line("Line too long (more than 16 bytes); not sent.")
    bob.expect_line("Alice: next")
    alice.expect_silence(0.1)  # the reply came once
    bob.expect_silence(0.05)


def test_over_long_lines_repeatedly(start_server):  # PROTOCOL.md §3.4
    server = start_server("--max-line", "16")
    alice, bob = server.join("Alice"), server.join("Bob")
    alice.expect_line("*** Bob has joined the chat ***")
    alice.send_raw(b"".join([b"L" * 40 + b"\n", b"ok1\n", b"M" * 17 + b"\r\n", b"ok2\n",
                             b"N" * 5000 + b"\n", b"ok3\n"]))
    for _ in range(3):
        alice.expect_line("Line too long (more than 16 bytes); not sent.")
    bob.expect_line("Alice: ok1")
    bob.expect_line("Alice: ok2")
    bob.expect_line("Alice: ok3")
    alice.expect_silence(0.05)


def test_default_line_cap_is_4096(pair):  # PROTOCOL.md §3.4
    alice, bob = pair
    alice.send(b"k" * 4096)
    bob.expect_line(b"Alice: " + b"k" * 4096)
    alice.send(b"k" * 4097)
    alice.expect_line("Line too long (more than 4096 bytes); not sent.")
    alice.send("fine")
    bob.expect_line("Alice: fine")


# --- PROTOCOL.md §3.3 order


def test_order_from_one_sender(pair):  # PROTOCOL.md §3.3
    alice, bob = pair
    n = 2000
    alice.send_raw(b"".join(b"msg %05d\n" % i for i in range(n)))
    for i in range(n):
        bob.expect_line(b"Alice: msg %05d" % i)


def test_order_from_several_senders(server):  # PROTOCOL.md §3.3
    names = ["Ann", "Ben", "Cat", "Dan"]
    clients = {}
    for name in names:
        clients[name] = server.join(name)
    for i, name in enumerate(names):
        for later in names[i + 1:]:
            clients[name].expect_line(f"*** {later} has joined the chat ***")
    n = 300
    # Each sender's lines go out in a few chunks, interleaved with the others'.
    for chunk in range(0, n, 50):
        for name in names:
            clients[name].send_raw(b"".join(b"%s %04d\n" % (name.encode(), i)
                                            for i in range(chunk, chunk + 50)))
    for me in names:
        others = [x for x in names if x != me]
        nxt = {x: 0 for x in others}
        for _ in range(n * len(others)):
            line = clients[me].read_line()
            sender, _, rest = line.partition(b": ")
            sender = sender.decode()
            assert sender in nxt, f"{me}: unexpected line {line!r}"
            assert rest == b"%s %04d\n" % (sender.encode(), nxt[sender]), \
                f"{me}: out of order from {sender}: {line!r}, expected #{nxt[sender]}"
            nxt[sender] += 1
        clients[me].expect_silence(0.05)


# --- PROTOCOL.md §4 leaving


def test_leave_notice_on_eof(server):  # PROTOCOL.md §4.1
    alice, bob, carol = server.join("Alice"), server.join("Bob"), server.join("Carol")
    alice.expect_line("*** Bob has joined the chat ***")
    alice.expect_line("*** Carol has joined the chat ***")
    bob.expect_line("*** Carol has joined the chat ***")
    bob.close()
    alice.expect_line("*** Bob has left the chat ***")
    carol.expect_line("*** Bob has left the chat ***")
    server.wait_log(r"name=Bob left: closed$")


def test_leave_notice_on_reset(server):  # PROTOCOL.md §4.1
    alice, bob = server.join("Alice"), server.join("Bob")
    alice.expect_line("*** Bob has joined the chat ***")
    bob.close_with_reset()
    alice.expect_line("*** Bob has left the chat ***")
    server.wait_log(r"name=Bob left: error$")


def test_half_closed_sender_still_delivers(server):  # PROTOCOL.md §3.3, §4.1
    # A client that sends its last lines and shuts down its side: every complete line is
    # relayed before its leave notice.
    alice, bob = server.join("Alice"), server.join("Bob")
    alice.expect_line("*** Bob has joined the chat ***")
    bob.send_raw(b"last words\nreally last\n")
    bob.sock.shutdown(1)  # SHUT_WR
    alice.expect_line("Bob: last words")
    alice.expect_line("Bob: really last")
    alice.expect_line("*** Bob has left the chat ***")


def test_idle_timeout_fractional(start_server):  # PROTOCOL.md §4.1, §4.2, §4.6
    server = start_server("--idle-timeout", "0.3")
    alice = server.join("Alice")
    t0 = time.monotonic()
    bob = server.join("Bob")
    alice.expect_line("*** Bob has joined the chat ***")
    # Bob keeps talking (every 0.1 s); Alice only listens, which is not activity.
    disconnected = b"Disconnected: idle timeout.\n"
    lines = []
    deadline = time.monotonic() + scaled(3)
    while disconnected not in lines:
        assert time.monotonic() < deadline, f"no idle timeout for Alice; last lines {lines[-3:]}"
        assert not alice.eof, f"Alice closed without the idle line; last lines {lines[-3:]}"
        next_ping = time.monotonic() + 0.1
        bob.send("ping")
        while time.monotonic() < next_ping and disconnected not in lines:
            alice._fill(next_ping)
            while b"\n" in alice.buf:
                lines.append(alice.read_line())
    elapsed = time.monotonic() - t0
    assert lines[-1] == disconnected
    assert set(lines[:-1]) <= {b"Bob: ping\n"}, f"Alice got {lines!r}"
    alice.expect_closed()
    assert elapsed >= 0.25, f"idle timeout after {elapsed:.3f}s, before 0.3s"
    # The notice goes out when Alice is disconnected (as in the HOWTO), not when her socket is
    # finally closed: she keeps hers open here, and the linger is 2 s (§4.6). Bob keeps talking
    # so his own idle timeout stays away.
    deadline = time.monotonic() + 1.5
    while not bob.buf:
        assert time.monotonic() < deadline, "Bob got no leave notice within 1.5 s of Alice's idle line"
        bob.send("ping")
        bob._fill(time.monotonic() + 0.1)
    bob.expect_line("*** Alice has left the chat ***")
    server.wait_log(r"name=Alice left: idle$")


def test_idle_timeout_counts_complete_lines_only(start_server):  # PROTOCOL.md §4.2
    server = start_server("--idle-timeout", "0.4")
    alice = server.join("Alice")
    t0 = time.monotonic()
    # Bytes without an LF are not a complete line: they do not keep Alice alive.
    while not alice.buf and not alice.eof:
        alice.send_raw(b"x")
        alice._fill(time.monotonic() + 0.1)
        assert time.monotonic() - t0 < scaled(3), "no idle timeout while sending partial lines"
    alice.expect_line("Disconnected: idle timeout.")
    alice.expect_closed()


def test_idle_timeout_reset_by_blank_lines(start_server):  # PROTOCOL.md §4.2
    # A blank line is a complete line (the HOWTO's readline() returns it too).
    server = start_server("--idle-timeout", "0.4")
    alice, bob = server.join("Alice"), server.join("Bob")
    alice.expect_line("*** Bob has joined the chat ***")
    end = time.monotonic() + 1.2
    while time.monotonic() < end:
        alice.send("")
        bob.send("")
        alice.expect_silence(0.1)
    bob.send("still here")
    alice.expect_line("Bob: still here")


def test_log_messages(start_server):  # OPERATIONS.md "Logs", --log-messages
    server = start_server("--log-messages")
    alice, bob = server.join("Alice"), server.join("Bob")
    alice.expect_line("*** Bob has joined the chat ***")
    bob.send(b"hello \x1b[31mworld\x07")
    alice.expect_line("Bob: hello world")
    server.wait_log(r" info conn=\d+ Bob: hello world$")


def test_messages_not_logged_by_default(server):  # OPERATIONS.md "Logs"
    alice, bob = server.join("Alice"), server.join("Bob")
    alice.expect_line("*** Bob has joined the chat ***")
    bob.send("secret text")
    alice.expect_line("Bob: secret text")
    bob.close()
    alice.expect_line("*** Bob has left the chat ***")
    server.wait_log(r"name=Bob left: closed$")
    assert b"secret text" not in server.log()
