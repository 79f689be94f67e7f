"""The web door's WebSockets, black-box (PROTOCOL.md §9.3, RFC 6455): the HOWTO's chat over
natter.line byte for byte, the IRC door over text.ircv3.net and binary.ircv3.net, every door in
one room, every frame rule (masks, UTF-8, sizes, control frames, fragments, the closing
handshake), slow readers and ping floods cut off while the others lose nothing, and the
goodbyes (a text message, then a Close).

Frames are written by hand (web_helpers.frame) and natter's are checked bit by bit as they arrive
(web_helpers.WsClient); one test drives a real client library (python3-websockets) end to end.
"""
import asyncio
import re
import signal
import time

import pytest

from chat_helpers import barrier, howto_transcript, join_room, notice
from conftest import PROMPT, WAIT, scaled
from irc_helpers import Irc, from_, welcome_burst
from test_howto import ReferenceServer, chat_script
from web_helpers import (BAD_DATA, BINARY, CLOSE, CONT, DOORS, GOING_AWAY, NORMAL, PING, PONG,
                         PROTOCOL_ERROR, TEXT, TOO_BIG, WEB_TLS, WebDoors, WsTarget, close_payload,
                         frame, get, ws_join, ws_open)
from web_helpers import start_web  # noqa: F401 (a fixture, used by its name)


TOO_LONG_4096 = "Line too long (more than 4096 bytes); not sent."
CLOSED_WITH = rb" info conn=\d+ peer=127\.0\.0\.1:%d websocket: closed with %s$"


@pytest.fixture
def doors(start_web):
    return WebDoors(start_web(listen=DOORS))


def pair(doors):
    """Nick on nc (TCP) and Wendy over a WebSocket, both in the lobby."""
    nick = doors.line("Nick")
    wendy = doors.ws("Wendy")
    nick.expect_line(notice("Wendy has joined the chat"))
    return nick, wendy


# -- the HOWTO over natter.line (§9.3: one line per text message, no LF)


def test_howto_transcript_over_websocket(doors):  # PROTOCOL.md §2.1, §2.6, §3.2, §4.1, §9.3
    alice = howto_transcript(WsTarget(doors.server, doors.web))
    # Every frame natter sent was one whole unmasked text frame (WsClient checked each): the
    # prompt, then the lines of the transcript.
    sent = [f.payload for f in alice.frames]
    assert sent[0] == PROMPT and re.fullmatch(rb"\*\*\* Welcome to lobby, Alice: .*", sent[1])
    assert sent[2:] == [b"*** Bob has joined the chat ***", b"Bob: Hi Alice!",
                        b"Bob: How are you?", b"*** Bob has left the chat ***"]
    assert all(f.raw[0] == 0x81 and f.raw[1] == len(f.payload) for f in alice.frames)


class WsJoin:
    """test_howto's target (join, connect) over natter.line WebSockets."""

    def __init__(self, server, addr):
        self.server, self.addr = server, addr

    def connect(self, label):
        return ws_open(self.server, self.addr, label=label)

    def join(self, name):
        return ws_join(self.server, name, self.addr)


def test_same_bytes_as_the_howto_reference_server(start_web, tmp_path):
    # PROTOCOL.md §2.1, §2.6, §3.1, §3.2, §4.1, §9.3: test_howto's script against howto_chat.py
    # over TCP and against natter over WebSockets; every line each client receives is the same.
    ref = ReferenceServer(tmp_path)
    try:
        want = chat_script(ref)
    finally:
        ref.stop()
    got = chat_script(WsJoin(start_web(), 0))
    assert got == want


def test_howto_transcript_over_wss(start_web, tls_cert):  # PROTOCOL.md §1, §9.3
    server = start_web(listen=(WEB_TLS,), tls=tls_cert)
    alice = howto_transcript(WsTarget(server, 0))
    assert alice.is_tls


def test_the_same_bytes_as_nc_sees(doors):  # PROTOCOL.md §9.3: the line protocol, framed
    # What a WebSocket user receives, message by message, is what an nc user receives, line by
    # line, for the same events.
    watcher_tcp = doors.line("Tina")
    watcher_ws = doors.ws("Wes")
    watcher_tcp.expect_line(notice("Wes has joined the chat"))
    talker = doors.line("Tom")
    talker.send("plain text ünïcödé ✓")
    talker.send("/me waves")
    talker.send("//slash")
    talker.send("\x1b[31mred\x1b[0m and \x07bells")
    talker.send("/nick Thomas")
    talker.send("x" * 5000)  # over --max-line: only Tom hears about it
    talker.send("/quit bye")
    want = [notice("Tom has joined the chat"), "Tom: plain text ünïcödé ✓", "* Tom waves",
            "Tom: /slash", "Tom: red and bells", notice("Tom is now known as Thomas"),
            notice("Thomas has left the chat (bye)")]
    for line in want:
        watcher_tcp.expect_line(line)
        watcher_ws.expect_line(line)
    barrier(watcher_tcp)
    barrier(watcher_ws)


def test_prompt_and_refused_names_over_websocket(doors):  # PROTOCOL.md §2.1, §2.3
    ws = ws_open(doors.server, doors.web, label="ws")
    ws.expect_bytes(PROMPT)
    ws.send("bad name")
    ws.expect_line("Name cannot contain spaces.")
    ws.expect_bytes(PROMPT)
    ws.send("")
    ws.expect_line("Name cannot be empty.")
    ws.expect_bytes(PROMPT)
    ws.send("Wendy")
    doors.server.wait_joined("Wendy", ws)


def test_name_timeout_goodbye_then_close(start_web):  # PROTOCOL.md §2.4, §9.3
    server = start_web("--name-timeout", "0.5")
    ws = ws_open(server, 0)
    ws.expect_bytes(PROMPT)
    ws.expect_ws_close(NORMAL, timeout=scaled(0.5) + WAIT,
                       data=b"Disconnected: no valid name given in time.\n")


def test_irc_registration_timeout_over_websocket(start_web):  # PROTOCOL.md §8.2, §9.3
    server = start_web("--name-timeout", "0.5")
    ws = ws_open(server, 0, protocols=["text.ircv3.net"])
    ws.send("NICK late")
    ws.expect_ws_close(NORMAL, timeout=scaled(0.5) + WAIT,
                       data=b"ERROR :Closing link: Registration timed out\r\n")


def test_quit_goodbye_then_close(doors):  # PROTOCOL.md §7.7, §9.3
    nick, wendy = pair(doors)
    wendy.send("/quit see you")
    nick.expect_line(notice("Wendy has left the chat (see you)"))
    wendy.expect_ws_close(NORMAL)


def test_a_real_client_library(doors):  # PROTOCOL.md §9.3, RFC 6455, RFC 7692
    # python3-websockets (10.4 in Debian 12) offers permessage-deflate by default and checks
    # every frame natter sends.
    import websockets

    server = doors.server
    nick = doors.line("Nick")
    uri = f"ws://{server.authority(doors.web)}/ws"

    async def session():
        async with websockets.connect(uri, subprotocols=["natter.line"],
                                      origin=server.origin(doors.web),
                                      open_timeout=WAIT, close_timeout=WAIT) as ws:
            assert ws.subprotocol == "natter.line"
            assert ws.extensions == [], "permessage-deflate was not declined"
            assert await asyncio.wait_for(ws.recv(), WAIT) == "Enter your name: "
            await ws.send("Lib")
            welcome = await asyncio.wait_for(ws.recv(), WAIT)
            assert welcome == ("*** Welcome to lobby, Lib: 1 other person is here. "
                               "Type /help for the commands. ***")
            nick.expect_line(notice("Lib has joined the chat"))
            nick.send("hello library")
            assert await asyncio.wait_for(ws.recv(), WAIT) == "Nick: hello library"
            await ws.send("hello nc ✓")
            nick.expect_line("Lib: hello nc ✓")
            pong = await ws.ping(b"are you there")
            await asyncio.wait_for(pong, WAIT)
            await ws.send("/who")
            assert await asyncio.wait_for(ws.recv(), WAIT) == notice("2 in lobby: Nick, Lib")
        assert ws.close_code == NORMAL  # natter echoed the Close

    asyncio.run(asyncio.wait_for(session(), WAIT * 3))
    nick.expect_line(notice("Lib has left the chat"))


# -- the IRC door over WebSocket (§9.3)


@pytest.mark.parametrize("protocol", ["text.ircv3.net", "binary.ircv3.net", None])
def test_irc_registration_and_chat_over_websocket(doors, protocol):  # PROTOCOL.md §8.2, §9.3
    server = doors.server
    nick = doors.line("Nick")
    ws = ws_open(server, doors.web, protocols=[protocol] if protocol else None, label="Iris")
    assert ws.opcode == (BINARY if protocol == "binary.ircv3.net" else TEXT)
    iris = Irc(ws)
    iris.send("CAP LS 302")
    iris.expect(":natter CAP * LS :away-notify echo-message message-tags multi-prefix "
                "server-time")
    iris.send("NICK Iris")
    iris.send("USER iris 0 * :Iris Web")
    iris.send("CAP END")
    iris.expect_burst("Iris", welcome_burst("Iris", users=2, channels=1))
    iris.join("#lobby", names=["Nick", "Iris"])
    nick.expect_line(notice("Iris has joined the chat"))
    nick.send("hi Iris")
    iris.expect(from_("Nick", "PRIVMSG #lobby :hi Iris"))
    iris.send("PRIVMSG #lobby :hi Nick")
    nick.expect_line("Iris: hi Nick")
    iris.send("PRIVMSG Nick :\x01ACTION waves\x01")
    nick.expect_line("[private] * Iris waves")
    iris.send("PING :tok")
    iris.expect(":natter PONG natter :tok")
    iris.send("QUIT :off to bed")
    nick.expect_line(notice("Iris has left the chat (off to bed)"))
    ws.expect_ws_close(NORMAL, data=b"ERROR :Closing link: Quit: off to bed\r\n")


def test_every_door_in_one_room(doors):  # PROTOCOL.md §8.6, §9.3
    # Nick on nc, Wendy over a natter.line WebSocket, Ivan on IRC over TCP, Iris on IRC over a
    # WebSocket: each sees the others' lines in its own door's format.
    nick = doors.line("Nick")
    wendy = doors.ws("Wendy")
    nick.expect_line(notice("Wendy has joined the chat"))
    ivan = doors.irc("Ivan")
    ivan.join("#lobby", names=["Nick", "Wendy", "Ivan"])
    iris = doors.ws_irc("Iris")
    iris.join("#lobby", names=["Nick", "Wendy", "Ivan", "Iris"])
    for c in (nick, wendy):
        c.expect_line(notice("Ivan has joined the chat"))
        c.expect_line(notice("Iris has joined the chat"))
    ivan.expect(from_("Iris", "JOIN #lobby"))

    wendy.send("hi from the browser")
    nick.expect_line("Wendy: hi from the browser")
    for c in (ivan, iris):
        c.expect(from_("Wendy", "PRIVMSG #lobby :hi from the browser"))
    nick.send("hi from nc")
    wendy.expect_line("Nick: hi from nc")
    for c in (ivan, iris):
        c.expect(from_("Nick", "PRIVMSG #lobby :hi from nc"))
    ivan.send("PRIVMSG #lobby :hi from irc")
    for c in (nick, wendy):
        c.expect_line("Ivan: hi from irc")
    iris.expect(from_("Ivan", "PRIVMSG #lobby :hi from irc"))
    iris.send("PRIVMSG #lobby :hi from irc over ws")
    for c in (nick, wendy):
        c.expect_line("Iris: hi from irc over ws")
    ivan.expect(from_("Iris", "PRIVMSG #lobby :hi from irc over ws"))
    wendy.send("/me waves")
    nick.expect_line("* Wendy waves")
    for c in (ivan, iris):
        c.expect(from_("Wendy", "PRIVMSG #lobby :\x01ACTION waves\x01"))
    ivan.send("PRIVMSG Wendy :psst")
    wendy.expect_line("[private] Ivan: psst")
    wendy.send("/msg Iris back at you")
    iris.expect(from_("Wendy", "PRIVMSG Iris :back at you"))
    ivan.send("WHOIS Wendy")
    ivan.expect(":natter 311 Ivan Wendy wendy natter * :Wendy")
    ivan.expect(":natter 319 Ivan Wendy :#lobby")
    ivan.expect(":natter 312 Ivan Wendy natter :line over WebSocket")
    ivan.expect(":natter 318 Ivan Wendy :End of /WHOIS list.")
    # Wendy closes her tab: a Close frame.
    wendy.close_ws(NORMAL)
    wendy.expect_ws_close(NORMAL)
    nick.expect_line(notice("Wendy has left the chat"))
    for c in (ivan, iris):
        c.expect(from_("Wendy", "QUIT :Connection closed"))
    barrier(nick)
    ivan.barrier()
    iris.barrier()


def test_rooms_over_websocket(doors):  # PROTOCOL.md §7.6, §9.3
    nick, wendy = pair(doors)
    join_room(wendy, "attic")
    nick.expect_line(notice("Wendy left for attic"))
    join_room(nick, "attic", others="1 other person is here")
    wendy.expect_line(notice("Nick has joined attic"))
    nick.send("up here")
    wendy.expect_line("Nick: up here")


# -- frames (RFC 6455 §5)


def failed_with(doors, ws, code, what, others=()):
    """ws gets natter's Close with code, then the TCP close; the log says why; the others see the
    leave notice of a named user."""
    ws.expect_ws_close(code)
    doors.server.wait_log(CLOSED_WITH % (ws.local_port, re.escape(what.encode())))
    for c in others:
        c.expect_line(notice(f"{ws.label} has left the chat"))


PROTOCOL_ERRORS = [
    ("unmasked", frame(TEXT, "hi", mask=False)),
    ("RSV1 (no deflate agreed)", frame(TEXT, "hi", rsv=4)),
    ("RSV3", frame(TEXT, "hi", rsv=1)),
    ("opcode 3", frame(0x3, "hi")),
    ("opcode 0xB", frame(0xB, "")),
    ("ping of 126 bytes", frame(PING, b"p" * 126)),
    ("fragmented ping", frame(PING, b"p", fin=False)),
    ("fragmented close", frame(CLOSE, close_payload(NORMAL), fin=False)),
    ("continuation first", frame(CONT, "lo")),
    ("text inside a message", frame(TEXT, "Hel", fin=False) + frame(TEXT, "lo")),
    ("binary inside a message", frame(TEXT, "Hel", fin=False) + frame(BINARY, "lo")),
    ("64-bit length with its top bit", frame(BINARY, length=1 << 63)[:14]),
    ("close of 1 byte", frame(CLOSE, b"\x03")),
    ("close code 1005", frame(CLOSE, close_payload(1005))),
    ("close code 999", frame(CLOSE, close_payload(999))),
    ("close code 2000", frame(CLOSE, close_payload(2000))),
    ("close reason not UTF-8", frame(CLOSE, close_payload(NORMAL, b"\xff"))),
]


@pytest.mark.parametrize("sent", [p[1] for p in PROTOCOL_ERRORS],
                         ids=[p[0] for p in PROTOCOL_ERRORS])
def test_protocol_error_is_closed_with_1002(doors, sent):  # RFC 6455 §5.1-§5.5, §7.4
    nick, wendy = pair(doors)
    wendy.write(sent)
    # (A message left unfinished by the error: test_nothing_of_an_unfinished_message_...)
    unfinished = sent[0] & 0x80 == 0
    failed_with(doors, wendy, PROTOCOL_ERROR, "1002 protocol error",
                others=() if unfinished else [nick])


def test_unmasked_frame_before_a_name(doors):  # RFC 6455 §5.1
    ws = ws_open(doors.server, doors.web)
    ws.expect_bytes(PROMPT)
    ws.write(frame(TEXT, "Alice", mask=False))
    failed_with(doors, ws, PROTOCOL_ERROR, "1002 protocol error")


@pytest.mark.parametrize("sent", [
    frame(TEXT, b"caf\xe9"),  # Latin-1
    frame(TEXT, b"\xed\xa0\x80"),  # a surrogate
    frame(TEXT, b"\xc0\xaf"),  # overlong
    frame(TEXT, b"\xe2\x82"),  # cut at the end of the message
    frame(TEXT, b"ok \xe2\x82", fin=False) + frame(CONT, b"(x"),  # bad across fragments
    frame(TEXT, b"\xf4\x90\x80\x80"),  # past U+10FFFF
], ids=["latin-1", "surrogate", "overlong", "cut", "across fragments", "past 10FFFF"])
def test_invalid_utf8_text_is_closed_with_1007(doors, sent):  # RFC 6455 §5.6, §8.1
    nick, wendy = pair(doors)
    wendy.write(sent)
    failed_with(doors, wendy, BAD_DATA, "1007 text message not UTF-8")
    wendy.close()
    doors.server.wait_log(rb"name=Wendy left: ")


UNFINISHED = [
    ("1002 inside a fragmented message", frame(TEXT, "Hel", fin=False) + frame(TEXT, "lo"),
     PROTOCOL_ERROR),
    ("1007 after valid bytes", frame(TEXT, b"caf\xe9"), BAD_DATA),
    ("1009 in a continuation", frame(TEXT, "start", fin=False) + frame(CONT, length=2 << 20),
     TOO_BIG),
    ("TCP close", frame(TEXT, "last words", fin=False), None),
    ("Close frame",
     frame(TEXT, "never finished", fin=False) + frame(CLOSE, close_payload(NORMAL)), NORMAL),
]


@pytest.mark.parametrize("sent,code", [u[1:] for u in UNFINISHED], ids=[u[0] for u in UNFINISHED])
def test_nothing_of_an_unfinished_message_reaches_anyone(doors, sent, code):
    # RFC 6455 §5.4, §7.1.7: a message is whole only with its FIN frame; a connection failed (or
    # closed) before that has sent no message. natter passes what it decoded of the message up
    # to the door, which takes the rest without a line end as a last line at the end of input
    # (§5.1, meant for nc), so Nick gets "Wendy: Hel" before the leave notice.
    nick, wendy = pair(doors)
    wendy.write(sent)
    if code is None:
        wendy.close()
    else:
        wendy.expect_ws_close(code)
    nick.expect_line(notice("Wendy has left the chat"))
    barrier(nick)


def test_unfinished_irc_message_is_not_run(doors):  # RFC 6455 §5.4, PROTOCOL.md §8.9
    # The same over the IRC door: half a PRIVMSG must not be sent when the connection fails.
    nick = doors.line("Nick")
    iris = doors.ws_irc("Iris")
    iris.join("#lobby")
    nick.expect_line(notice("Iris has joined the chat"))
    iris.c.write(frame(TEXT, "PRIVMSG #lobby :half a", fin=False) + frame(CONT, b"\xff"))
    iris.c.expect_ws_close(BAD_DATA)
    nick.expect_line(notice("Iris has left the chat"))
    barrier(nick)


def test_utf8_split_across_fragments_is_fine(doors):  # RFC 6455 §5.6
    nick, wendy = pair(doors)
    wendy.write(frame(TEXT, b"price: \xe2", fin=False) + frame(CONT, b"\x82", fin=False)
                + frame(CONT, b"\xac 5"))
    nick.expect_line("Wendy: price: € 5")


@pytest.mark.parametrize("declared", [(1 << 20) + 1, 100 << 20, (1 << 63) - 1])
def test_frame_over_1_mib_is_closed_with_1009_at_once(doors, declared):  # PROTOCOL.md §9.3
    # Only the header is sent: natter answers before any of the payload comes.
    nick, wendy = pair(doors)
    t0 = time.monotonic()
    wendy.write(frame(TEXT, length=declared))  # 2 + 8 length + 4 mask bytes, no payload
    failed_with(doors, wendy, TOO_BIG, "1009 frame over 1 MiB", others=[nick])
    assert time.monotonic() - t0 < scaled(2), "1009 came late"
    barrier(nick)


def test_frame_of_exactly_1_mib_is_an_over_long_line(doors):  # PROTOCOL.md §3.4, §9.3
    # 1 MiB is the frame limit; the message is then the line door's over-long line.
    nick, wendy = pair(doors)
    wendy.send(b"y" * (1 << 20))
    wendy.expect_line(TOO_LONG_4096)
    wendy.send("still here")
    nick.expect_line("Wendy: still here")
    barrier(wendy)


def test_message_over_max_line(start_web):  # PROTOCOL.md §3.4, §9.3
    server = start_web("--max-line", "100", listen=DOORS)
    doors = WebDoors(server)
    nick, wendy = pair(doors)
    wendy.send("a" * 101)
    wendy.expect_line("Line too long (more than 100 bytes); not sent.")
    wendy.send("b" * 100)
    nick.expect_line("Wendy: " + "b" * 100)
    # In fragments, the limit is the message's: said once, the rest of the message dropped.
    wendy.write(frame(TEXT, "c" * 60, fin=False) + frame(CONT, "c" * 60, fin=False))
    wendy.expect_line("Line too long (more than 100 bytes); not sent.")
    wendy.write(b"".join(frame(CONT, "c" * 60, fin=False) for _ in range(50)))
    wendy.write(frame(CONT, "end"))
    wendy.send("after")
    nick.expect_line("Wendy: after")
    barrier(wendy)
    barrier(nick)


def test_irc_message_over_510_bytes_is_417(doors):  # PROTOCOL.md §8.9, §9.3
    nick = doors.line("Nick")
    iris = doors.ws_irc("Iris")
    iris.join("#lobby")
    nick.expect_line(notice("Iris has joined the chat"))
    iris.c.send("PRIVMSG #lobby :" + "z" * 500)
    iris.expect(":natter 417 Iris :Input line was too long")
    iris.send("PRIVMSG #lobby :short")
    nick.expect_line("Iris: short")
    iris.barrier()


def test_fragments_are_joined(doors):  # RFC 6455 §5.4
    nick, wendy = pair(doors)
    wendy.write(frame(TEXT, "Hel", fin=False) + frame(CONT, "", fin=False)
                + frame(CONT, "lo, ", fin=False) + frame(CONT, "world"))
    nick.expect_line("Wendy: Hello, world")
    # Byte by byte: the decoder takes frames in any pieces.
    data = frame(TEXT, "drip", fin=False) + frame(CONT, "ped")
    for i in range(len(data)):
        wendy.write(data[i:i + 1])
    nick.expect_line("Wendy: dripped")


def test_control_frames_between_fragments(doors):  # RFC 6455 §5.4, §5.5.2
    nick, wendy = pair(doors)
    wendy.write(frame(TEXT, "Hel", fin=False) + frame(PING, b"mid") + frame(PONG, b"x")
                + frame(CONT, "lo"))
    wendy.expect_control(PONG, b"mid")
    nick.expect_line("Wendy: Hello")


def test_ping_gets_a_pong_with_its_payload(doors):  # RFC 6455 §5.5.2, §5.5.3
    nick, wendy = pair(doors)
    for payload in (b"", b"hello", bytes(range(125))):
        wendy.send_frame(PING, payload)
        wendy.expect_control(PONG, payload)
    # Several at once, answered in order.
    wendy.write(b"".join(frame(PING, b"%d" % i) for i in range(10)))
    for i in range(10):
        wendy.expect_control(PONG, b"%d" % i)
    # A Pong nobody asked for is ignored.
    wendy.send_frame(PONG, b"unsolicited")
    barrier(wendy)
    assert not wendy.controls
    wendy.send("still chatting")
    nick.expect_line("Wendy: still chatting")


@pytest.mark.parametrize("payload,echo", [
    (close_payload(NORMAL, b"bye"), close_payload(NORMAL)),
    (close_payload(GOING_AWAY), close_payload(GOING_AWAY)),
    (close_payload(4000, "ünïcödé".encode()), close_payload(4000)),
    (close_payload(3000), close_payload(3000)),
    (b"", b""),
], ids=["1000 with a reason", "1001", "4000", "3000", "no code"])
def test_client_close_is_echoed_then_tcp_closed(doors, payload, echo):  # RFC 6455 §5.5.1
    nick, wendy = pair(doors)
    wendy.send_frame(CLOSE, payload)
    wendy.expect_ws_close(None if not echo else int.from_bytes(echo, "big"))
    nick.expect_line(notice("Wendy has left the chat"))
    doors.server.wait_log(rb"name=Wendy left: closed$")


def test_nothing_counts_after_the_client_close(doors):  # RFC 6455 §5.5.1
    nick, wendy = pair(doors)
    wendy.write(frame(CLOSE, close_payload(NORMAL)) + frame(TEXT, "after the close"))
    wendy.expect_ws_close(NORMAL)
    nick.expect_line(notice("Wendy has left the chat"))
    barrier(nick)


# -- slow readers (§4.3) and shutdown (§4.5)


@pytest.mark.test_timeout(60)
def test_websocket_that_stops_reading_is_cut_off(start_web):  # PROTOCOL.md §4.3, §9.3
    server = start_web("--sndbuf", "4096", "--max-output", "65536", listen=DOORS)
    doors = WebDoors(server)
    alice = doors.line("Alice")
    bob = doors.line("Bob")
    slow = doors.ws("Slow", rcvbuf=4096)
    alice.expect_line(notice("Bob has joined the chat"))
    for c in (alice, bob):
        c.expect_line(notice("Slow has joined the chat"))
    # Slow reads nothing from here on; Alice floods in chunks that Bob reads as they come (the
    # way test_tls.py does: a reader is protected only below --max-output).
    n, chunk = 3000, 50
    lines = [b"flood %04d " % i + b"x" * 140 for i in range(n)]
    slow_left = (notice("Slow has left the chat") + "\n").encode()
    got, notices = 0, 0
    for start in range(0, n, chunk):
        alice.send_raw(b"".join(line + b"\n" for line in lines[start:start + chunk]))
        while got < start + chunk:
            line = bob.read_line(timeout=scaled(20))
            if line == slow_left:
                notices += 1
                continue
            assert line == b"Alice: " + lines[got] + b"\n", f"Bob: flood line {got}: {line!r}"
            got += 1
    server.wait_log(rb" conn=\d+ peer=\S+:%d name=Slow left: (slow|stalled)$" % slow.local_port,
                    timeout=scaled(5) + WAIT)
    if notices == 0:
        bob.expect_line(slow_left.rstrip(b"\n"))
    alice.expect_line(slow_left.rstrip(b"\n"))
    bob.send("still here")
    alice.expect_line("Bob: still here")
    # Slow's stream, read now: whole frames (WsClient checks every one), a prefix of what it
    # would have got, then the goodbye and a Close, or the close alone.
    slow.sock.settimeout(None)
    deadline = time.monotonic() + scaled(10)
    while not slow.eof and slow._fill(deadline):
        pass
    assert slow.eof, "Slow's connection was not closed"
    got_lines = bytes(slow.buf).split(b"\n")[:-1]
    goodbye = b"Disconnected: too slow to receive messages."
    if slow.close_frame is not None:
        assert slow.close_frame.payload == close_payload(1008)  # PROTOCOL.md §9.3: cut off
        if got_lines and got_lines[-1] == goodbye:
            got_lines.pop()
    assert len(got_lines) < n, "Slow got everything: never cut off"
    assert got_lines == [b"Alice: " + line for line in lines[:len(got_lines)]], \
        "Slow's messages are not a prefix of the flood"


@pytest.mark.test_timeout(60)
def test_ping_flood_that_never_reads_is_cut_off(start_web):  # SECURITY.md: ping floods
    server = start_web("--sndbuf", "4096", "--max-output", "65536", listen=DOORS)
    doors = WebDoors(server)
    nick = doors.line("Nick")
    hog = doors.ws("Hog", rcvbuf=4096)
    nick.expect_line(notice("Hog has joined the chat"))
    ping = frame(PING, b"p" * 125) * 64
    hog.sock.setblocking(False)
    sent = 0
    deadline = time.monotonic() + scaled(20)
    while sent < 8 << 20 and time.monotonic() < deadline:
        try:
            sent += hog.sock.send(ping)
        except BlockingIOError:
            if server.log().find(b"name=Hog left") >= 0:
                break
            time.sleep(0.001)
        except (BrokenPipeError, ConnectionResetError):
            break
    hog.sock.setblocking(True)
    server.wait_log(rb"name=Hog left: (slow|stalled)$", timeout=scaled(5) + WAIT)
    nick.expect_line(notice("Hog has left the chat"))
    nick.send("/who")
    nick.expect_line(notice("1 in lobby: Nick"))


def test_shutdown_goodbye_and_close_1001(doors):  # PROTOCOL.md §4.5, §8.9, §9.3
    server = doors.server
    nick, wendy = pair(doors)
    iris = doors.ws_irc("Iris")
    iris.join("#lobby")
    unnamed = ws_open(server, doors.web, label="unnamed")
    unnamed.expect_bytes(PROMPT)
    for c in (nick, wendy):
        c.expect_line(notice("Iris has joined the chat"))
    server.signal(signal.SIGTERM)
    wendy.expect_ws_close(GOING_AWAY, data=b"*** Server is shutting down ***\n")
    unnamed.expect_ws_close(GOING_AWAY, data=b"*** Server is shutting down ***\n")
    iris.c.expect_ws_close(GOING_AWAY,
                           data=b"ERROR :Closing link: Server shutting down\r\n")
    assert nick.read_until_closed() == b"*** Server is shutting down ***\n"
    server.close_clients()  # natter waits for the peers' close, up to its flush deadline
    assert server.wait_exit() == 0
    server.assert_no_sanitizer_report()


def test_http_connection_at_shutdown_gets_no_chat_line(start_web):  # PROTOCOL.md §4.5, §9.1
    # An idle keep-alive HTTP connection is closed at shutdown. natter sends it the line door's
    # `*** Server is shutting down ***` line, which is no HTTP response.
    server = start_web()
    c = server.connect(0)
    assert get(c, "/healthz").status == 200
    server.signal(signal.SIGTERM)
    got = c.read_until_closed()
    c.close()
    assert server.wait_exit() == 0
    assert got == b"", f"an HTTP client got {got!r} at shutdown"


def test_many_websockets_at_once(doors):  # PROTOCOL.md §3.2, §3.3
    nick = doors.line("Nick")
    users = []
    for i in range(20):
        users.append(doors.ws(f"W{i:02d}"))
        nick.expect_line(notice(f"W{i:02d} has joined the chat"))
    for i, u in enumerate(users):
        for j in range(i + 1, 20):
            u.expect_line(notice(f"W{j:02d} has joined the chat"))
    for i, u in enumerate(users):
        u.send(f"hello {i}")
    # Lines of different senders come in the order natter read them (§3.3): compare as sets.
    want = {f"W{i:02d}: hello {i}\n".encode() for i in range(20)}
    assert {nick.read_line() for _ in range(20)} == want
    for i, u in enumerate(users):
        assert {u.read_line() for _ in range(19)} == want - {f"W{i:02d}: hello {i}\n".encode()}
        barrier(u)
