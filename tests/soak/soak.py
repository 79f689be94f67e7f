#!/usr/bin/python3
"""natter soak test (issue #5, docs/SECURITY.md "Soak"). Python standard library only.

Starts natter on 127.0.0.1:0 with a line listener, an IRC listener (PROTOCOL.md §8) and a web
listener (§9), and keeps a few hundred clients of both doors (--irc of them IRC, a third by
default) busy in one chat for --seconds, while new ones take the place of those that leave.
--ws of the clients of either door (a quarter by default) come in over a WebSocket instead: an
HTTP upgrade on GET /ws (a random key; the 101, Sec-WebSocket-Accept and the subprotocol
checked), then natter.line or text.ircv3.net (some binary.ircv3.net or none named, which is IRC
too). Their framing lives under the client's bytes (WsLink): each line sent becomes one masked
frame (some fragmented, some with a Ping between the fragments, some preceded by a Ping whose Pong
must come back, a registration burst sometimes as one message of several IRC lines), and each
message natter sends comes back to the client as its line with LF or CR LF, so line and IRC
clients behave and are checked exactly as over TCP. Every frame natter sends must be final,
unmasked, of the shortest length form and of the subprotocol's opcode, without a line end inside;
nothing may follow its Close, every goodbye ends with a Close (1000), and some WebSocket clients
leave by a Close of their own, which natter must echo (the same code) before it closes.

Line clients join, chat (lines, /me, long lines, /msg to either door), rename, switch rooms, set
and ask the topic, go idle until natter times them out, linger without a name, and leave (FIN,
half-close, reset or /quit). IRC clients register (some with CAP LS 302 and CAP REQ of
server-time, echo-message, multi-prefix, away-notify, message-tags, in several orders), JOIN and
PART several channels at once (JOIN 0 too), PRIVMSG, NOTICE and CTCP ACTION channels and nicks of
both doors (up to three targets, texts long enough for natter to split), change NICK, TOPIC and
AWAY, toggle capabilities, ask WHO, WHOIS, NAMES, TOPIC, MODE, LIST, ISON, LUSERS, CAP LIST and
PING, send to channels they are not in, answer natter's PINGs (some go quiet and only answer
them; some never answer and must get `ERROR :Closing link: Ping timeout`), never finish
registering, and leave by QUIT with or without words, FIN, half-close or reset. Then it checks:

- no text is lost, duplicated or misdelivered: every chat text (`soak ID SEQ`) is logged by its
  sender with where natter will deliver it (the rooms and nicks of its command, as natter will
  have them when it reads it), under which name and as what (line, action, notice). A receiver
  of either door must find what it got in that log: same sender name, kind and text, and a room
  or nick it is in or has (a line user's `NAME: soak ...`, `* NAME ...`, `-NAME- ...`,
  `[private] ...`; an IRC user's `:NAME!name@natter PRIVMSG #room :soak ...`, NOTICE, ACTION,
  long texts reassembled from the consecutive lines natter cut them into). Per room, between two
  events that may change who hears whom there (a join, part or leave of the sender, a room
  change of the receiver, seen in the receiver's own stream, which natter orders), the texts
  from one sender must be exactly the ones it sent there, consecutive and in order; private ones
  exactly the first ones sent to that name, in order;
- nobody gets a line it cannot account for: an IRC client tracks each channel's members and
  topic from its own stream (353 when it joins, then JOIN, PART, QUIT, NICK, TOPIC) and a line
  client its room's (the welcome's count, then joins, leaves, renames, lines), so a text or event
  from a non-member, a second JOIN or a second leave of anyone, a NICK or AWAY from someone
  sharing no channel fails. Every reply an IRC client gets must be the next one its own commands
  asked for (numerics addressed to its current nick, echo-message echoes, 401/403/404/301, PONG,
  WHO and NAMES listing exactly its view of a channel it is in, TOPIC and a line user's /topic its
  view of the topic, WHOIS the door and real name of the user); the QUIT text of a leaver (and
  `(WORDS)` of a line user's leave notice) must be the one §8.6 gives for how it left;
- every IRC line ends in CR LF, is at most 512 bytes without tags, is valid UTF-8 without control
  characters but \\x01, and starts with `@time=...` exactly when it relays an event to a client
  with server-time; every line-door line is valid UTF-8 without control characters;
- nobody is disconnected except as expected (idle, ping or registration timeout, its own leaving);
- the roll call: once the churn stops, every survivor sends --final lines to each room or channel
  it is in and one private line to the next survivor; each must reach exactly the survivors who
  should get it (counted per sender and room); every IRC survivor's view of its channels and
  every line survivor's /who must then match who is where, and members of a room agree on its
  topic;
- after everyone has left, natter's open fds are back to the baseline exactly and its RSS is back
  near it (within 2 MB; for an ASan build, whose quarantine this script sets to 16 MB, within
  64 MB: ASan's chunk headers and redzones about double what the quarantine holds); SIGTERM
  then gives exit status 0 and no sanitizer report (under ASan, LeakSanitizer checks for leaks
  at exit).

Behaviours are pluggable: each is a class with a door, a weight, the commands it needs, and act().
Line ones needing commands (/nick, /join, /quit, /msg, /me, /topic) are used only when natter's
/help lists them (issue #4); add one by writing a class and listing it in LINE_BEHAVIOURS or
IRC_BEHAVIOURS.

usage: tests/soak/soak.py [--bin build-asan/natter] [--seconds 60] [--clients 300] [--irc 0.33]
                          [--ws 0.25] [--seed N] [--behaviours chat,leave,...] [--report FILE]
Exit status 0 when every check passed, 1 otherwise (the failures are printed, by kind).
"""
import argparse
import base64
import collections
import hashlib
import json
import os
import random
import re
import selectors
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

PROMPT = b"Enter your name: "
IDLE_GOODBYE = "Disconnected: idle timeout."
NAME_GOODBYE = "Disconnected: no valid name given in time."
SANITIZER_MARKERS = (b"AddressSanitizer", b"LeakSanitizer", b"UndefinedBehaviorSanitizer",
                     b"runtime error:")
ROOMS = ("lobby", "r1", "r2", "r3")
QUARANTINE_MB = 16  # ASan's quarantine for natter under the soak, unless ASAN_OPTIONS sets one
CAPS = ("away-notify", "echo-message", "message-tags", "multi-prefix", "server-time")
PAD = "aé€𝄞"  # 1 to 4 bytes of UTF-8: natter must cut long texts for IRC between characters
MANY = 1 << 30
# WebSocket (RFC 6455; PROTOCOL.md §9.3)
WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
WS_CONT, WS_TEXT, WS_BINARY, WS_CLOSE, WS_PING, WS_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
WS_PING_SHARE = 0.03  # of the messages a WebSocket client sends, those a Ping goes before
WS_FRAG_SHARE = 0.05  # those sent in several frames
WS_CLOSE_SHARE = 0.4  # of the leaves of a WebSocket client, those by a WebSocket Close
WS_DRIBBLE_SHARE = 0.1  # of the WebSocket clients, those that write a few bytes at a time

NAME_RE = re.compile(r"u(\d+)n(\d+)$")
SAID_RE = re.compile(r"soak (\d+) (\d+)(?: \S+)?$")
LONG_HEAD_RE = re.compile(r"soak (\d+) (\d+) ")
FINAL_RE = re.compile(r"final (\d+) (\d+|p)$")
LINE_CONTROL_RE = re.compile("[\x00-\x1f\x7f-\x9f]")
IRC_CONTROL_RE = re.compile("[\x00\x02-\x1f\x7f-\x9f]")  # \x01 frames CTCP ACTION (§8.5)
TIME_RE = re.compile(r"time=\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
# What a line client sees (PROTOCOL.md §3.2, §7.5, §8.6)
SAY_RE = re.compile(r"(u\d+n\d+): (.*)$")
ACTION_RE = re.compile(r"\* (u\d+n\d+) (.*)$")
NOTE_RE = re.compile(r"-(u\d+n\d+)- (.*)$")
OTHERS = r"(nobody else is here|1 other person is here|(\d+) other people are here)"
WELCOME_RE = re.compile(r"Welcome to (\S+), (u\d+n\d+): " + OTHERS +
                        r"\. Type /help for the commands\.$")
NOW_IN_RE = re.compile(r"You are now in (\S+): " + OTHERS + "$")
ALREADY_RE = re.compile(r"You are already in (\S+)$")
RENAMED_RE = re.compile(r"(u\d+n\d+) is now known as (u\d+n\d+)$")
JOINED_CHAT_RE = re.compile(r"(u\d+n\d+) has joined the chat$")
JOINED_RE = re.compile(r"(u\d+n\d+) has joined (\S+)$")
LEFT_FOR_RE = re.compile(r"(u\d+n\d+) left for (\S+)$")
LEFT_CHAT_RE = re.compile(r"(u\d+n\d+) has left the chat(?: \((.*)\))?$")
LEFT_ROOM_RE = re.compile(r"(u\d+n\d+) has left (\S+)(?: \((.*)\))?$")
TOPIC_SET_RE = re.compile(r"(u\d+n\d+) set the topic: (.*)$")
TOPIC_CLEARED_RE = re.compile(r"(u\d+n\d+) cleared the topic$")
TOPIC_OF_RE = re.compile(r"Topic of (\S+): (.*)$")
NO_TOPIC_RE = re.compile(r"No topic is set for (\S+)$")
NO_USER_RE = re.compile(r"No such user: (\S+)$")
WHO_RE = re.compile(r"(\d+) in (\S+): (.*)$")
EVENT_COMMANDS = {"PRIVMSG", "NOTICE", "JOIN", "PART", "QUIT", "NICK", "TOPIC", "AWAY", "WALLOPS",
                  "TAGMSG"}  # what server-time stamps (§8.3)


def others_count(m, group):
    text = m.group(group)
    if text.startswith("nobody"):
        return 0
    return 1 if text.startswith("1 ") else int(m.group(group + 1))


def make_pad(rng, min_bytes, max_bytes):
    """A text of PAD characters, min_bytes to max_bytes of UTF-8 long."""
    want = rng.randint(min_bytes, max_bytes)
    out, n = [], 0
    while True:
        ch = rng.choice(PAD)
        k = len(ch.encode())
        if n + k > want:
            return "".join(out) or "a"
        out.append(ch)
        n += k


# --------------------------------------------------------------------------------------------
# The server


class Natter:
    """The natter process: started on port 0 with a line, an IRC and (web) a web listener, stderr
    to a file, seen through /proc."""

    def __init__(self, binary, args, workdir, env=None, web=True):
        self.log_path = os.path.join(workdir, "natter.log")
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen([binary, "--listen", "127.0.0.1:0",
                                      "--listen", "irc://127.0.0.1:0",
                                      *(["--listen", "http://127.0.0.1:0"] if web else []), *args],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=self._log, env=env)
        self.web_port = None
        deadline = time.monotonic() + 30
        while True:
            log = self.log()
            m = re.search(rb" info listening on 127\.0\.0\.1:(\d+)$", log, re.M)
            m_irc = re.search(rb" info listening on irc://127\.0\.0\.1:(\d+)$", log, re.M)
            m_web = re.search(rb" info listening on http://127\.0\.0\.1:(\d+)$", log, re.M)
            if m and m_irc and (m_web or not web):
                self.port = int(m.group(1))
                self.irc_port = int(m_irc.group(1))
                self.web_port = int(m_web.group(1)) if m_web else None
                break
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"natter did not start: {self.log()[-2000:].decode()}")
            time.sleep(0.01)

    def log(self):
        with open(self.log_path, "rb") as f:
            return f.read()

    def rss_kb(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def fd_count(self):
        return len(os.listdir(f"/proc/{self.proc.pid}/fd"))

    def stop(self):
        """SIGTERM; returns the exit status (killed after 30 s)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        self._log.close()
        return rc


# --------------------------------------------------------------------------------------------
# Clients: what both doors share


class Said:
    """One chat text a client sent: its kind ("say", "action", "notice"), the name natter will
    show for it, the rooms ("#lobby") and nicks ("@u7n2") natter will deliver it to, and its text
    when it is a long one."""
    __slots__ = ("kind", "name", "keys", "text")

    def __init__(self, kind, name, keys, text):
        self.kind, self.name, self.keys, self.text = kind, name, keys, text


def ws_mask(payload, key):
    """payload XOR the 4-byte key repeated (RFC 6455 §5.3), as one big integer: fast enough for
    every frame of a few hundred clients."""
    n = len(payload)
    if n == 0:
        return b""
    keys = (key * (n // 4 + 1))[:n]
    return (int.from_bytes(payload, "big") ^ int.from_bytes(keys, "big")).to_bytes(n, "big")


class WsLink:
    """A client's WebSocket (PROTOCOL.md §9.3, RFC 6455), under the bytes its door's code reads
    and writes: send_line() makes each line one masked message, on_bytes() hands each message
    natter sends on as its line with the door's line end (LF, or CR LF for IRC), so the client
    sees the bytes it would over TCP (the line door's prompt, the first message, has none there
    either). Control frames stay down here: Pings we send (their Pongs must come back, in
    order), natter's Close and our own."""

    def __init__(self, c, offer):
        self.c = c
        self.soak = soak = c.soak
        rng = soak.rng
        self.offer = offer  # the Sec-WebSocket-Protocol we offer ("" for none)
        # natter picks the first one it speaks, in our order; none offered is IRC, unnamed.
        self.want = next((p for p in (x.strip() for x in offer.split(","))
                          if p in ("natter.line", "text.ircv3.net", "binary.ircv3.net")), None)
        self.opcode = WS_BINARY if self.want == "binary.ircv3.net" else WS_TEXT
        self.eol = b"\n" if c.door == "line" else b"\r\n"
        self.open = False  # the 101 came
        self.head = b""  # of natter's answer, until its blank line
        self.held = []  # lines sent before the 101 (bytes sent before it are refused, §9.3)
        self.inbuf = b""  # frames partly received
        self.first = c.door == "line"  # the next message is the prompt: no LF after it
        self.pings = collections.deque()  # payloads of our Pings without their Pong yet
        self.close_sent = None  # our Close's echo as natter must send it, once sent
        self.close_got = None  # natter's Close's payload, once received
        if rng.random() < WS_DRIBBLE_SHARE:
            c.dribble = True
            c.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # each write a segment
            soak.stats["ws_dribblers"] += 1
        key = base64.b64encode(rng.randbytes(16))
        self.accept = base64.b64encode(hashlib.sha1(key + WS_GUID).digest()).decode()
        port = soak.server.web_port
        fields = [f"Host: 127.0.0.1:{port}", "Upgrade: websocket",
                  "Connection: " + rng.choice(["Upgrade", "keep-alive, Upgrade", "upgrade"]),
                  f"Sec-WebSocket-Key: {key.decode()}", "Sec-WebSocket-Version: 13"]
        if offer:
            fields.append(f"Sec-WebSocket-Protocol: {offer}")
        if rng.random() < 0.3:  # a browser's: its page's own origin is let in
            fields.append(f"Origin: http://127.0.0.1:{port}")
            soak.stats["ws_origin"] += 1
        if rng.random() < 0.3:  # what browsers offer; natter declines it (names none)
            fields.append("Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits")
            soak.stats["ws_deflate_offered"] += 1
        rng.shuffle(fields)
        c.outbuf += ("GET /ws HTTP/1.1\r\n" + "".join(f + "\r\n" for f in fields) +
                     "\r\n").encode()
        c.flush()

    def fail(self, what, kind="ws"):
        self.c.fail(f"WebSocket ({self.offer or 'no subprotocol'}): {what}", kind)

    def status(self):
        return ("no 101 yet" if not self.open else
                f"natter's Close {self.close_got!r}" if self.close_got is not None else
                "our Close sent" if self.close_sent is not None else "open")

    # -- sending

    def frame(self, opcode, payload, fin=True):
        """Queues one masked client frame (§5.2), the shortest length form."""
        n = len(payload)
        b0 = (0x80 if fin else 0) | opcode
        if n < 126:
            head = struct.pack("!BB", b0, 0x80 | n)
        elif n < 1 << 16:
            head = struct.pack("!BBH", b0, 0x80 | 126, n)
        else:
            head = struct.pack("!BBQ", b0, 0x80 | 127, n)
        key = self.soak.rng.randbytes(4)
        self.c.outbuf += head + key + ws_mask(payload, key)
        self.soak.stats["ws_frames_sent"] += 1

    def ping(self):
        """A Ping, from a regular client only: one that is leaving (its QUIT or half-close may
        be read first) could send it after natter stopped answering (§9.3: it lingers)."""
        if self.c.role != "regular":
            return False
        payload = self.soak.rng.randbytes(self.soak.rng.choice((0, 4, 16, 125)))  # 125: the most
        self.pings.append(payload)
        self.frame(WS_PING, payload)
        self.soak.stats["ws_pings"] += 1
        return True

    def send_line(self, data):
        if self.close_sent is not None:
            return  # nothing may follow our Close (§5.5.1); natter reads no more anyway
        if not self.open:
            self.held.append(data)
            return
        self.message(data)

    def message(self, data):
        """One message: mostly one frame; sometimes a Ping before it; sometimes fragments, cut
        anywhere (inside a UTF-8 character too: natter checks the text across them), some with
        a Ping between them (§5.4 lets control frames interleave), some with an empty last."""
        rng, stats = self.soak.rng, self.soak.stats
        if rng.random() < WS_PING_SHARE:
            self.ping()
        if len(data) < 2 or rng.random() >= WS_FRAG_SHARE:
            self.frame(self.opcode, data)
            return
        cuts = sorted(rng.sample(range(1, len(data)), rng.randint(1, min(4, len(data) - 1))))
        parts = [data[i:j] for i, j in zip([0] + cuts, cuts + [len(data)])]
        if rng.random() < 0.1:
            parts.append(b"")
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            self.frame(self.opcode if i == 0 else WS_CONT, part, fin=last)
            if not last and rng.random() < 0.2 and self.ping():
                stats["ws_ping_between_fragments"] += 1
        stats["ws_fragmented"] += 1
        stats["ws_fragments"] += len(parts)

    def close(self):
        """Our Close (§5.5.1): a code or none, maybe a reason; natter must echo the code alone."""
        rng = self.soak.rng
        code = rng.choice([None, 1000, 1000, 1001, 3000 + self.c.id % 1000, 4000])
        payload = b"" if code is None else struct.pack("!H", code)
        self.close_sent = payload
        if code is not None and rng.random() < 0.5:
            payload += f"soak bye {self.c.id} {PAD}".encode()
        self.frame(WS_CLOSE, payload)
        self.c.flush()
        self.soak.stats["ws_closes"] += 1

    # -- receiving

    def on_bytes(self, data):
        c = self.c
        if not self.open:
            self.head += data
            end = self.head.find(b"\r\n\r\n")
            if end < 0:
                if len(self.head) > 8192:
                    self.fail(f"no end to natter's answer: {self.head[:200]!r}", "ws-handshake")
                    c.close()
                return
            data = self.head[end + 4:]
            if not self.on_answer(self.head[:end].decode("latin-1")):
                c.close()
                return
            self.head = b""
        buf = self.inbuf + data if self.inbuf else data
        at, out, stats = 0, [], self.soak.stats
        while len(buf) - at >= 2:
            b0, b1 = buf[at], buf[at + 1]
            n, h = b1 & 0x7F, 2
            if n == 126:
                if len(buf) - at < 4:
                    break
                n, h, short = struct.unpack_from("!H", buf, at + 2)[0], 4, 126
            elif n == 127:
                if len(buf) - at < 10:
                    break
                n, h, short = struct.unpack_from("!Q", buf, at + 2)[0], 10, 1 << 16
            else:
                short = 0
            h += 4 if b1 & 0x80 else 0
            if len(buf) - at < h + n:
                break
            payload, op = buf[at + h:at + h + n], b0 & 0x0F
            at += h + n
            stats["ws_frames_received"] += 1
            if not b0 & 0x80 or b0 & 0x70 or b1 & 0x80 or n < short:
                self.fail(f"a frame not final, with RSV bits, masked or longer than it need be "
                          f"(§9.3): {bytes(buf[at - h - n:at - n])!r}")
            if self.close_got is not None:
                self.fail(f"a frame after natter's Close: opcode {op}, {payload[:80]!r}")
                continue
            if op == self.opcode:
                if b"\n" in payload or self.eol == b"\r\n" and b"\r" in payload:
                    self.fail(f"a line end inside a message: {payload[:100]!r}")
                if self.first:
                    self.first = False
                    out.append(payload if payload == PROMPT else payload + self.eol)
                else:
                    out.append(payload + self.eol)
            elif op == WS_PONG:
                want = self.pings.popleft() if self.pings else None
                if want is None:
                    self.fail(f"a Pong for no Ping: {payload!r}")
                elif payload != want:
                    self.fail(f"a Pong {payload!r}, the next Ping's is {want!r}")
                else:
                    stats["ws_pongs"] += 1
            elif op == WS_CLOSE:
                if out:
                    c.on_data(b"".join(out))
                    out = []
                self.on_close(payload)
            else:
                self.fail(f"a frame of opcode {op} (the subprotocol's is {self.opcode}): "
                          f"{payload[:80]!r}")
        self.inbuf = buf[at:]
        if out:
            c.on_data(b"".join(out))

    def on_answer(self, head):
        """natter's answer to the handshake (§9.3): whether it is the 101 it must be."""
        lines = head.split("\r\n")
        fields = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            fields.setdefault(name.strip().lower(), []).append(value.strip())

        def one(name):
            values = fields.get(name, [])
            return values[0] if len(values) == 1 else None if not values else values

        problems = []
        if lines[0] != "HTTP/1.1 101 Switching Protocols":
            problems.append(f"status {lines[0]!r}")
        if (one("upgrade") or "").lower() != "websocket":
            problems.append(f"Upgrade {one('upgrade')!r}")
        if "upgrade" not in [t.strip().lower() for t in str(one("connection")).split(",")]:
            problems.append(f"Connection {one('connection')!r}")
        if one("sec-websocket-accept") != self.accept:
            problems.append(f"Sec-WebSocket-Accept {one('sec-websocket-accept')!r}, expected "
                            f"{self.accept!r}")
        if one("sec-websocket-protocol") != self.want:
            problems.append(f"Sec-WebSocket-Protocol {one('sec-websocket-protocol')!r}, "
                            f"expected {self.want!r}")
        if "sec-websocket-extensions" in fields:
            problems.append(f"Sec-WebSocket-Extensions {fields['sec-websocket-extensions']!r}")
        if problems:
            self.fail(f"the handshake's answer: {'; '.join(problems)}: {head[:300]!r}",
                      "ws-handshake")
            return False
        self.open = True
        self.soak.stats["ws_upgraded"] += 1
        held, self.held = self.held, []
        if len(held) > 1 and self.c.door == "IRC" and self.soak.rng.random() < 0.3:
            # Several IRC lines in one message are taken too (§9.3): a registration burst.
            self.message(b"\r\n".join(held))
            self.soak.stats["ws_multiline"] += 1
        else:
            for data in held:
                self.message(data)
        self.c.flush()
        return True

    def on_close(self, payload):
        """natter's Close: the echo of ours (the same code, or none for none), or after its
        goodbye (1000; 1001 is only for the shutdown, after the soak's end). Any Ping sent before
        natter decided to close has had its Pong by then: control frames are answered in order."""
        stats = self.soak.stats
        self.close_got = payload
        if self.pings:
            self.fail(f"natter's Close {payload!r} ({self.c.role}, left by "
                      f"{self.c.leave_how}) before the Pongs of {len(self.pings)} Pings")
        if self.close_sent is not None:
            if payload != self.close_sent:
                self.fail(f"our Close {self.close_sent!r} echoed as {payload!r}", "ws-close")
            stats["ws_closes_echoed"] += 1
            return
        if payload != struct.pack("!H", 1000):
            self.fail(f"natter's Close {payload!r}, expected 1000", "ws-close")
        stats["ws_server_closes"] += 1
        if self.c.role != "leaving" and self.soak.rng.random() < 0.5:
            # The Close a browser sends back (§5.5.1); natter, lingering, reads it as the end.
            self.close_sent = payload
            self.frame(WS_CLOSE, payload)
            self.c.flush()
            stats["ws_server_closes_answered"] += 1


class Client:
    """One connection and what it has seen and said. Identity `id` never changes; its name is
    u<id>n<k>, k counting renames, so a name is never used twice in a run."""
    door = ""

    def __init__(self, soak, cid, role, port, ws=None):
        self.soak = soak
        self.id = cid
        self.role = role  # "regular", "idler", "lurker", "quitter", "leaving" (half-closed,
        # or after its WebSocket Close)
        self.was_lurker = role == "lurker"
        self.renames = 0  # names u<id>n0 .. u<id>n<renames> are (or may become) its
        self.name = f"u{cid}n0"  # as its own stream confirmed it
        self.send_name = self.name  # as natter will have it when it reads what we send now
        self.state = "new"
        self.inbuf = b""
        self.outbuf = b""
        self.leave_how = None  # "fin", "half", "rst", "quit", "quit:WORDS", "idle", "ping"
        self.last_line_at = time.monotonic()
        self.next_act = 0.0
        self.silent = False  # an idler that stopped talking
        self.expect_close = None  # the goodbye expected before natter's close; "" once seen
        self.tail = []  # the last lines received, for reports
        # What it said (for its receivers to check against)
        self.sent = 0  # chat texts sent ("soak ID SEQ"), numbered from 0
        self.said = {}  # seq -> Said
        self.first_in = {}  # key -> first seq sent there
        self.last_in = {}  # key -> last seq sent there
        self.succ = {}  # (key, seq) -> the next seq sent there
        self.topics_set = set()  # topic texts it set
        self.aways = set()  # away texts it set
        self.part_words = set()  # PART reasons it gave
        # What it received from others
        self.last_from = {}  # sender id -> {room key: last seq}: the current segments
        self.priv_last = {}  # (sender id, "@name") -> last seq
        self.departed = set()  # ids it saw leaving the chat
        self.finals = collections.Counter()  # (sender id, "#room" or "@") -> roll-call lines
        # ws: the Sec-WebSocket-Protocol offered ("": none) by a client of the web door, or None
        self.ws = None  # its WebSocket (a WsLink)
        self.dribble = False  # writes a few bytes at a time (some WebSocket clients)
        self.sock = socket.create_connection(
            ("127.0.0.1", soak.server.web_port if ws is not None else port), timeout=10)
        self.sock.setblocking(False)
        soak.sel.register(self.sock, selectors.EVENT_READ, self)
        if ws is not None:
            self.ws = WsLink(self, ws)  # the handshake goes first; what we send waits for the 101

    def fail(self, what, kind="check"):
        self.soak.fail(f"{self.name} ({self.door}): {what}", kind)

    # -- sending

    def send(self, line):
        if self.ws is not None:
            self.ws.send_line(line.encode())
        else:
            self.outbuf += line.encode() + (b"\r\n" if self.door == "IRC" else b"\n")
        self.last_line_at = time.monotonic()
        self.flush()

    def flush(self):
        try:
            while self.outbuf:
                if self.dribble:
                    # A few bytes per turn of the loop (the selector says when it may write):
                    # natter gets headers, payloads and UTF-8 characters cut across its reads.
                    n = self.sock.send(self.outbuf[:self.soak.rng.randint(1, 24)])
                    self.outbuf = self.outbuf[n:]
                    self.soak.stats["ws_dribbled_writes"] += 1
                    break
                n = self.sock.send(self.outbuf)
                self.outbuf = self.outbuf[n:]
        except BlockingIOError:
            pass
        except OSError:
            self.outbuf = b""
        events = selectors.EVENT_READ | (selectors.EVENT_WRITE if self.outbuf else 0)
        try:
            self.soak.sel.modify(self.sock, events, self)
        except (KeyError, ValueError):
            pass

    def record(self, kind, keys, text=None):
        """Logs the next chat text as sent to keys; returns its seq."""
        seq = self.sent
        self.sent += 1
        self.said[seq] = Said(kind, self.send_name, keys, text)
        for k in keys:
            last = self.last_in.get(k)
            if last is None:
                self.first_in[k] = seq
            else:
                self.succ[(k, last)] = seq
            self.last_in[k] = seq
        self.soak.stats["chat_sent"] += 1
        return seq

    def close(self, how="fin"):
        """We leave: FIN (close), or a reset."""
        if self.state == "gone":
            return
        self.soak.sel.unregister(self.sock)
        if how == "rst":
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\1\0\0\0\0\0\0\0")
        self.sock.close()
        self.gone()

    def half_close(self):
        """We stop sending (FIN) and read on until natter closes (PROTOCOL.md §5.1)."""
        try:
            self.sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        self.role = "leaving"

    def leave(self, how):
        """Leaves by FIN, half-close, reset or a WebSocket Close; a half-sent line would arrive as
        a line (§5.1), whereas a Close goes out after whatever is still queued, in order."""
        if self.outbuf and how not in ("rst", "ws"):
            how = "rst"
        self.leave_how = how
        self.soak.stats[f"left_{how}_{self.door}"] += 1
        if how == "half":
            self.half_close()
            if self.door == "line":
                self.expect_close = ""  # natter just closes (over a WebSocket: a Close, then)
            else:
                self.expect_close = {"Closing link: Connection closed"}
        elif how == "ws":
            # natter echoes the Close and ends the stream like a FIN (§9.3): no goodbye line.
            self.ws.close()
            self.role = "leaving"
            self.expect_close = ""
        else:
            self.close(how)

    def gone(self):
        self.state = "gone"
        self.soak.left(self)
        # What it received is checked; free it (what it said stays for its receivers).
        self.last_from = self.priv_last = self.departed = None

    # -- receiving

    def on_readable(self):
        try:
            data = self.sock.recv(1 << 16)
        except (ConnectionResetError, BlockingIOError) as e:
            data = None if isinstance(e, BlockingIOError) else b""
        if data is None:
            return
        if not data:
            self.on_eof()
            return
        if self.ws is not None:
            self.ws.on_bytes(data)  # its messages go on to on_data as lines
        else:
            self.on_data(data)

    def on_eof(self):
        soak = self.soak
        soak.sel.unregister(self.sock)
        self.sock.close()
        was = self.state
        if self.expect_close == "":
            soak.stats[f"closed_{self.role}_{self.door}"] += 1
            if self.ws is not None and self.ws.close_got is None:
                self.fail(f"({self.role}, {was}): natter closed the connection without a "
                          f"WebSocket Close; last lines {self.tail!r}", "ws-close")
        else:
            ws = f", WebSocket {self.ws.status()}" if self.ws is not None else ""
            self.fail(f"({self.role}, {was}{ws}): closed by natter unexpectedly; "
                      f"last lines {self.tail!r}", "closed")
        self.gone()

    def other(self, name):
        """The client whose name another line names, or None (a failure is reported)."""
        c = self.soak.owner(name)
        if c is None:
            self.fail(f"a line names {name}, who never was a client", "unknown-name")
        elif c.id in self.departed:
            self.fail(f"a line names {name}, whom it already saw leaving the chat", "after-leave")
        return c

    def end_segments_of(self, sid):
        self.last_from.pop(sid, None)

    def on_said(self, sid, seq, kind, shown, key, text):
        """A chat text "soak SID SEQ" from another client reached us for key ("#room", "@name")."""
        soak = self.soak
        if sid == self.id:
            self.fail(f"got its own text back: {text!r}", "own-line")
            return
        s = soak.everyone.get(sid)
        said = s.said.get(seq) if s is not None else None
        if said is None:
            self.fail(f"got {text!r} from {shown}, which u{sid} never sent", "never-sent")
            return
        if said.kind != kind or said.name != shown or text != (said.text or f"soak {sid} {seq}"):
            self.fail(f"got {kind} {text[:60]!r} from {shown}; sent as {said.kind} by "
                      f"{said.name}: {(said.text or '')[:60]!r}", "wrong-text")
        if key not in said.keys:
            self.fail(f"got u{sid} #{seq} ({kind}) via {key}, sent to {list(said.keys)}",
                      "misdelivered")
            return
        soak.stats["chat_received"] += 1
        if key[0] == "@":
            prev = self.priv_last.get((sid, key))
            want = s.first_in[key] if prev is None else s.succ.get((key, prev))
            self.priv_last[(sid, key)] = seq
        else:
            seg = self.last_from.get(sid)
            if seg is None:
                seg = self.last_from[sid] = {}
            prev = seg.get(key)
            want = None if prev is None else s.succ.get((key, prev))
            seg[key] = seq
        if want is None and prev is None:
            return
        soak.stats["chat_checked"] += 1
        if seq == want:
            return
        if prev is not None and seq <= prev:
            self.fail(f"from u{sid} via {key}: #{seq} after #{prev}: out of order or twice",
                      "order")
            return
        lost, k = 0, want
        while k is not None and k != seq and lost < 100000:
            lost += 1
            k = s.succ.get((key, k))
        what = "the first private text" if prev is None else f"#{prev}"
        self.fail(f"from u{sid} via {key}: {what} then #{seq}: {lost} lost", "lost")

    def on_final(self, m, shown, key):
        sid = int(m.group(1))
        s = self.soak.everyone.get(sid)
        if sid == self.id or s is None or shown != s.name or (m.group(2) == "p") != (key == "@"):
            self.fail(f"roll-call line {m.group(0)!r} from {shown} via {key}", "roll-call")
            return
        self.finals[(sid, key)] += 1


# --------------------------------------------------------------------------------------------
# The line door


class LineClient(Client):
    door = "line"

    def __init__(self, soak, cid, role, ws=None):
        super().__init__(soak, cid, role, soak.server.port, ws)
        self.state = "prompt"  # prompt -> naming -> named -> gone; a lurker: prompt -> lurking
        self.room = None  # known once natter confirmed it
        self.send_room = "lobby"  # where natter will have it when it reads what we send now
        self.pending = None  # ("join", room) or ("nick", new name) until natter confirms
        self.known = set()  # names seen in its room (itself not counted)
        self.unknown = 0  # others in the room whose names it has not seen yet
        self.topic = None  # its room's topic as its stream told it
        self.topic_next = False  # a "*** Topic: ***" line may come next (§7.6.1)
        self.topic_queries = 0
        self.msg_targets = set()
        self.who_pending = False
        self.who_reply = None

    def on_data(self, data):
        self.inbuf += data
        if self.state == "prompt":
            if len(self.inbuf) < len(PROMPT):
                return
            if not self.inbuf.startswith(PROMPT):
                self.fail(f"expected the prompt, got {self.inbuf[:80]!r}", "prompt")
            self.inbuf = self.inbuf[len(PROMPT):]
            if self.role == "lurker":
                self.state = "lurking"
                self.expect_close = NAME_GOODBYE
            else:
                self.state = "naming"
                self.send(self.name)
        *lines, self.inbuf = self.inbuf.split(b"\n")
        for raw in lines:
            try:
                line = raw.decode()
            except UnicodeDecodeError:
                self.fail(f"invalid UTF-8: {raw[:100]!r}", "utf-8")
                continue
            self.on_line(line)

    def on_line(self, line):
        self.tail = (self.tail + [line])[-5:]
        self.soak.stats["lines_received"] += 1
        if self.expect_close and line == self.expect_close:
            self.expect_close = ""  # seen: now the close may come
            return
        if LINE_CONTROL_RE.search(line):
            self.fail(f"a control character: {line[:100]!r}", "control")
        topic_next, self.topic_next = self.topic_next, False
        if line.startswith("*** ") and line.endswith(" ***"):
            body = line[4:-4]
            if topic_next and body.startswith("Topic: "):
                self.topic = body[7:]
                if not self.soak.is_topic(self.topic):
                    self.fail(f"a topic nobody set: {line!r}", "topic")
                return
            self.on_notice(body)
            return
        if self.state != "named":
            self.fail(f"before its welcome: {line!r}", "unexpected")
            return
        if line.startswith("[private] * "):
            m, kind, where = ACTION_RE.match(line, 10), "action", "private"
        elif line.startswith("[private] "):
            m, kind, where = SAY_RE.match(line, 10), "say", "private"
        elif line.startswith("* "):
            m, kind, where = ACTION_RE.match(line), "action", "room"
        elif line.startswith("-"):
            m, kind, where = NOTE_RE.match(line), "notice", "either"
        else:
            m, kind, where = SAY_RE.match(line), "say", "room"
        if m is None or not self.on_text(kind, m.group(1), m.group(2), where):
            self.fail(f"unexpected line {line!r}", "unexpected")

    def on_text(self, kind, shown, text, where):
        """A chat line from shown; False when its text is not the soak's."""
        if self.other(shown) is None:
            return True
        m = SAID_RE.match(text)
        if m:
            sid, seq = int(m.group(1)), int(m.group(2))
            room, me = "#" + self.room, "@" + self.name
            key = room if where == "room" else me
            if where == "either":  # a NOTICE: to the room or to us, the line is the same
                s = self.soak.everyone.get(sid)
                said = s.said.get(seq) if s else None
                keys = [k for k in (said.keys if said else ()) if k in (room, me)]
                if len(keys) == 2 and (sid, seq) in self.soak.notice_twice.setdefault(self.id,
                                                                                        set()):
                    key = keys[1]
                elif keys:
                    key = keys[0]
                    if len(keys) == 2:
                        self.soak.notice_twice[self.id].add((sid, seq))
                else:
                    key = room
            if key == room:
                self.member_seen(shown)
            self.on_said(sid, seq, kind, shown, key, text)
            return True
        m = FINAL_RE.match(text)
        if m and kind == "say" and where != "either":
            self.on_final(m, shown, "@" if where == "private" else "#" + self.room)
            if where == "room":
                self.member_seen(shown)
            return True
        return False

    # -- its room's members, as its stream told it

    def enter_room(self, others):
        self.known = set()
        self.unknown = others
        self.topic = None
        self.topic_next = True
        self.last_from.clear()  # a new room: every segment ends

    def member_seen(self, name):
        if name in self.known:
            return
        if self.unknown > 0:
            self.unknown -= 1
            self.known.add(name)
            return
        self.fail(f"{name} speaks in {self.room} without being there (as its stream told it)",
                  "non-member")
        self.known.add(name)

    def member_joined(self, name, c):
        if name in self.known:
            self.fail(f"{name} joined {self.room} twice", "twice")
        self.known.add(name)
        self.end_segments_of(c.id)

    def member_left(self, name, c):
        if name in self.known:
            self.known.discard(name)
        elif self.unknown > 0:
            self.unknown -= 1
        else:
            self.fail(f"{name} left {self.room} without being there (as its stream told it)",
                      "non-member")
        self.end_segments_of(c.id)

    def on_notice(self, body):
        soak = self.soak
        if self.state == "naming":
            # The first line after the name is the welcome (PROTOCOL.md §2.6): "*** Welcome to
            # lobby, NAME: ... ***"; everyone starts in the first room.
            m = WELCOME_RE.match(body)
            if not m or m.group(1) != ROOMS[0] or m.group(2) != self.name:
                self.fail(f"expected the welcome line, got {body!r}", "welcome")
            self.state = "named"
            self.room = ROOMS[0]
            self.enter_room(others_count(m, 3) if m else 0)
            soak.stats["joined_line"] += 1
            return
        m = NOW_IN_RE.match(body)
        if m:
            if self.pending != ("join", m.group(1)):
                self.fail(f"moved without asking: {body!r}", "unexpected")
            self.room = m.group(1)
            self.pending = None
            self.enter_room(others_count(m, 2))
            return
        m = ALREADY_RE.match(body)
        if m and self.pending == ("join", m.group(1)) and m.group(1) == self.room:
            self.pending = None
            return
        m = RENAMED_RE.match(body)
        if m:
            old, new = m.groups()
            if old == self.name:
                if self.pending != ("nick", new):
                    self.fail(f"renamed without asking: {body!r}", "unexpected")
                self.name = new
                self.pending = None
                return
            c = self.other(old)
            if c:
                soak.check_rename(self, old, new)
                self.member_left(old, c)
                self.known.add(new)
            return
        m = JOINED_CHAT_RE.match(body)
        if m:
            c = self.other(m.group(1))
            if c:
                if self.room != ROOMS[0]:
                    self.fail(f"{body!r} in {self.room}", "misdelivered")
                self.member_joined(m.group(1), c)
            return
        m = JOINED_RE.match(body)
        if m:
            c = self.other(m.group(1))
            if c:
                if m.group(2) != self.room or (c.door == "IRC" and m.group(2) == ROOMS[0]):
                    self.fail(f"{body!r} in {self.room}", "misdelivered")
                self.member_joined(m.group(1), c)
            return
        m = LEFT_FOR_RE.match(body)
        if m:
            c = self.other(m.group(1))
            if c:
                if c.door != "line" or m.group(2) == self.room or m.group(2) not in ROOMS:
                    self.fail(f"{body!r} in {self.room}", "misdelivered")
                self.member_left(m.group(1), c)
            return
        m = LEFT_CHAT_RE.match(body)
        if m:
            c = self.other(m.group(1))
            if c:
                self.member_left(m.group(1), c)
                self.departed.add(c.id)
                soak.check_leave(self, c, None, m.group(2))
            return
        m = LEFT_ROOM_RE.match(body)
        if m:
            c = self.other(m.group(1))
            if c:
                if c.door != "IRC" or m.group(2) != self.room or \
                        (m.group(3) is not None and m.group(3) not in c.part_words):
                    self.fail(f"{body!r} in {self.room}", "misdelivered")
                self.member_left(m.group(1), c)
            return
        m = TOPIC_SET_RE.match(body) or TOPIC_CLEARED_RE.match(body)
        if m:
            text = m.group(2) if m.re is TOPIC_SET_RE else None
            if m.group(1) != self.name:
                c = self.other(m.group(1))
                if c is None:
                    return
                self.member_seen(m.group(1))
            else:
                c = self
            if text is not None and text not in c.topics_set:
                self.fail(f"a topic {m.group(1)} did not set: {body!r}", "topic")
            self.topic = text
            return
        m = TOPIC_OF_RE.match(body) or NO_TOPIC_RE.match(body)
        if m:
            text = m.group(2) if m.re is TOPIC_OF_RE else None
            if self.topic_queries == 0 or m.group(1) != self.room or text != self.topic:
                self.fail(f"{body!r}; asked {self.topic_queries}, its view of the topic of "
                          f"{self.room}: {self.topic!r}", "topic")
            self.topic_queries = max(0, self.topic_queries - 1)
            return
        m = NO_USER_RE.match(body)
        if m and m.group(1) in self.msg_targets:
            return
        m = WHO_RE.match(body)
        if m and self.who_pending and m.group(2) == self.room:
            self.who_pending = False
            self.who_reply = (int(m.group(1)), body)
            return
        self.fail(f"unexpected notice {body!r}", "unexpected")

    def act(self, now, churn):
        soak = self.soak
        if self.state != "named" or self.silent or self.role != "regular":
            return
        b = soak.pick(soak.line_behaviours, now, self, churn)
        b.act(soak, self)


# --------------------------------------------------------------------------------------------
# The IRC door


class Msg:
    """One IRC line as received: tags, source, nick (of a user source), command, parameters."""
    __slots__ = ("raw", "tags", "src", "nick", "cmd", "params")


def parse_irc(line):
    m = Msg()
    m.raw = line
    m.tags = m.src = m.nick = None
    rest = line
    if rest.startswith("@"):
        sp = rest.find(" ")
        m.tags, rest = rest[1:sp], rest[sp + 1:]
    if rest.startswith(":"):
        sp = rest.find(" ")
        m.src, rest = rest[1:sp], rest[sp + 1:]
        bang = m.src.find("!")
        if bang > 0:
            m.nick = m.src[:bang]
    i = rest.find(" :")
    params = rest[:i].split(" ") + [rest[i + 2:]] if i >= 0 else rest.split(" ")
    m.cmd = params.pop(0)
    m.params = params
    return m


class Want:
    """What natter must send back for one command, in order (PROTOCOL.md §8): alternatives, each
    a list of steps (test, least, most). on(msg) sees every line it takes. A blocking one changes
    what the roll call counts on (channels, names, topics), so the run waits for it."""
    __slots__ = ("what", "alts", "states", "on", "blocking")

    def __init__(self, what, alts, on=None, blocking=False):
        self.what, self.alts, self.on, self.blocking = what, alts, on, blocking
        self.states = self._closure({(a, 0, 0) for a in range(len(alts))})

    def _closure(self, states):
        out, todo = set(), list(states)
        while todo:
            st = todo.pop()
            if st in out:
                continue
            out.add(st)
            a, i, n = st
            steps = self.alts[a]
            if i < len(steps) and n >= steps[i][1]:
                todo.append((a, i + 1, 0))
        return out

    def take(self, msg):
        nxt = set()
        for a, i, n in self.states:
            steps = self.alts[a]
            if i < len(steps) and n < steps[i][2] and steps[i][0](msg):
                nxt.add((a, i, n + 1))
        if not nxt:
            return False
        self.states = self._closure(nxt)
        return True

    def can_end(self):
        return any(i == len(self.alts[a]) for a, i, n in self.states)

    def is_over(self):
        return all(i == len(self.alts[a]) or n >= self.alts[a][i][2] for a, i, n in self.states)


class IrcClient(Client):
    door = "IRC"

    def __init__(self, soak, cid, role, ws=None):
        super().__init__(soak, cid, role, soak.server.irc_port, ws)
        self.realname = f"soak realname {cid}"
        self.state = "registering"  # registering -> named -> gone
        self.nick_sent = False
        self.caps = set()  # as its stream confirmed them
        self.caps_sent = set()  # as natter will have them when it reads what we send now
        self.chans = {}  # channel -> its members, as its stream told it
        self.topics = {}  # channel -> topic (None: none), as its stream told it
        self.sent_chans = []  # the channels natter will have it in, in order of entering
        self.queue = collections.deque()  # of Want, in the order of the commands
        self.loading = []  # names of the 353 lines of the JOIN under way
        self.collect = []  # of a WHO or NAMES reply under way
        self.assembling = None  # a text natter cut into several lines: [msg, full text]
        self.got_error = False
        self.pings = 0  # natter's PINGs received
        self.quiet_until = 0.0  # a quiet client sends nothing but PONGs until then
        self.quiet_since = 0.0
        self.quiet_pings = 0
        self.register()

    # -- what it sends

    def me(self):
        """The nick natter addresses replies to when it reads what we send now (§8)."""
        return self.send_name if self.nick_sent else "*"

    def cmd(self, line, *wants):
        self.send(line)
        for w in wants:
            if w is not None:
                self.queue.append(w)

    def register(self):
        rng = self.soak.rng
        nick, user = f"NICK {self.name}", f"USER u{self.id} 0 * :{self.realname}"
        if self.role == "lurker":
            # Never completes registration: natter gives up after --name-timeout (§8.2).
            self.expect_close = {"Closing link: Registration timed out"}
            how = rng.choice(["nothing", "nick", "user", "cap"])
            if how == "nick":
                self.nick_sent = True
                self.send(nick)
            elif how == "user":
                self.send(user)
            elif how == "cap":
                self.cmd("CAP LS 302", self.w_cap("LS", " ".join(CAPS)))
                self.nick_sent = True
                self.send(nick)
                self.send(user)  # registration waits for CAP END
            return
        caps = set(rng.sample(CAPS, rng.randint(1, len(CAPS))))
        if rng.random() < 0.5:
            caps = {"server-time", "echo-message", "multi-prefix"}
        req = " ".join(sorted(caps))
        flow = rng.choice(["plain", "plain", "ls", "ls", "req", "late"])
        self.soak.stats[f"irc_register_{flow}"] += 1
        if flow == "plain":
            caps = set()
            self.nick_sent = True
            self.send(nick)
            self.cmd(user, self.w_welcome())
        elif flow == "ls":
            self.cmd("CAP LS 302", self.w_cap("LS", " ".join(CAPS)))
            self.nick_sent = True
            self.send(nick)
            self.send(user)
            if rng.random() < 0.2:
                self.cmd("CAP REQ :server-time sasl", self.w_cap("NAK", "server-time sasl"))
            self.cmd(f"CAP REQ :{req}", self.w_cap("ACK", req))
            self.cmd("CAP END", self.w_welcome())
        elif flow == "req":
            self.nick_sent = True
            self.send(nick)
            self.cmd(f"CAP REQ :{req}", self.w_cap("ACK", req))
            self.send(user)
            self.cmd("CAP END", self.w_welcome())
        else:  # registered first, capabilities after (CAP works after registration too)
            self.nick_sent = True
            self.send(nick)
            self.cmd(user, self.w_welcome())
            self.cmd(f"CAP REQ :{req}", self.w_cap("ACK", req))
            self.send("CAP END")  # nothing: negotiation was never started
        self.caps_sent = set(caps)
        r = rng.random()  # channels right away, in the same burst (natter reads them in order)
        if r < 0.6:
            self.join([ROOMS[0]] + ([rng.choice(ROOMS[1:])] if rng.random() < 0.3 else []))
        elif r < 0.8:
            self.join([rng.choice(ROOMS[1:])])

    def say(self, kind, targets, long=False):
        """PRIVMSG, NOTICE or ACTION of a new soak text to targets (channels "#x" and nicks)."""
        keys = tuple(t if t[0] == "#" else "@" + t for t in targets
                     if t[0] != "#" or t[1:] in self.sent_chans)
        cmd = "NOTICE" if kind == "notice" else "PRIVMSG"
        seq = self.sent
        text = f"soak {self.id} {seq}"
        full = None
        if long:
            head = len(f"{cmd} {','.join(targets)} :{text} ".encode())
            full = text = text + " " + make_pad(self.soak.rng, 300, 510 - head)
        self.record(kind, keys, full)
        wire = f"\x01ACTION {text}\x01" if kind == "action" else text
        self.cmd(f"{cmd} {','.join(targets)} :{wire}",
                 *[self.w_message(cmd, t, wire) for t in targets])

    def join(self, chans):
        wants = []
        for ch in chans:
            if ch in self.sent_chans:
                continue  # joining a channel one is in does nothing (§8.4)
            self.sent_chans.append(ch)
            wants.append(self.w_join(ch))
        self.cmd("JOIN " + ",".join("#" + ch for ch in chans), *wants)
        self.soak.stats["irc_joins"] += len(wants)

    def part(self, chans, words=None):
        for ch in chans:
            self.sent_chans.remove(ch)
        if words:
            self.part_words.add(words)
        self.cmd("PART " + ",".join("#" + ch for ch in chans) + (f" :{words}" if words else ""),
                 *[self.w_part(ch, words) for ch in chans])
        self.soak.stats["irc_parts"] += len(chans)

    def part_all(self):
        """JOIN 0: a PART of every channel, in the order of entering (§8.4)."""
        chans, self.sent_chans = self.sent_chans, []
        self.cmd("JOIN 0", *[self.w_part(ch, None) for ch in chans])
        self.soak.stats["irc_parts"] += len(chans)

    def ping(self):
        tok = f"soak{self.id}"
        self.cmd(f"PING {tok}", Want("PONG", [[(
            lambda m: m.src == "natter" and m.cmd == "PONG" and m.params == ["natter", tok], 1,
            1)]]))

    # -- what natter must answer (PROTOCOL.md §8)

    def t_num(self, code, *want):
        """A test for ":natter CODE ME ...": each of want exact, None (any), or a predicate."""
        me = self.me()

        def test(m):
            if m.src != "natter" or m.cmd != code or len(m.params) != len(want) + 1 or \
                    m.params[0] != me:
                return False
            for w, p in zip(want, m.params[1:]):
                if w is not None and (not w(p) if callable(w) else w != p):
                    return False
            return True
        return test

    def t_code(self, code):
        me = self.me()
        return lambda m: m.src == "natter" and m.cmd == code and m.params[:1] == [me]

    def t_own(self, cmd, *params):
        params = list(params)
        return lambda m: m.nick == self.name and m.cmd == cmd and m.params == params

    def w_cap(self, sub, text):
        me = self.me()

        def on(m):
            if sub == "ACK":
                for cap in text.split():
                    if cap.startswith("-"):
                        self.caps.discard(cap[1:])
                    else:
                        self.caps.add(cap)
        return Want(f"CAP {sub}", [[(lambda m: m.src == "natter" and m.cmd == "CAP" and
                                     m.params == [me, sub, text], 1, 1)]], on)

    def w_welcome(self):
        """The welcome burst (§8.2)."""
        n = self.name

        def on(m):
            if m.cmd == "376":
                self.state = "named"
                self.soak.stats["joined_IRC"] += 1
        isint = str.isdigit
        steps = [(self.t_num("001", f"Welcome to the natter IRC network, {n}"), 1, 1),
                 (self.t_code("002"), 1, 1), (self.t_code("003"), 1, 1),
                 (self.t_num("004", "natter", None, "io", "n"), 1, 1), (self.t_code("005"), 1, 1),
                 (self.t_num("251", lambda t: re.match(
                     r"There are \d+ users and 0 invisible on 1 servers$", t)), 1, 1),
                 (self.t_num("252", isint, "operator(s) online"), 0, 1),
                 (self.t_num("254", isint, "channels formed"), 1, 1),
                 (self.t_num("255", lambda t: re.match(r"I have \d+ clients and 1 servers$", t)),
                  1, 1),
                 (self.t_num("375", "- natter Message of the day -"), 1, 1),
                 (self.t_code("372"), 1, 1), (self.t_num("376", "End of /MOTD command."), 1, 1)]
        return Want("the welcome burst", [steps], on, blocking=True)

    def w_join(self, ch):
        c = "#" + ch
        own = (self.t_own("JOIN", c), 1, 1)
        names = (self.t_num("353", "=", c, None), 1, MANY)
        end = (self.t_num("366", c, "End of /NAMES list."), 1, 1)
        topic = [(self.t_num("332", c, None), 1, 1),
                 (self.t_num("333", c, None, str.isdigit), 1, 1)]

        def on(m):
            if m.cmd == "JOIN":
                self.chans[ch] = set()
                self.topics[ch] = None
                self.loading = []
                for seg in self.last_from.values():
                    seg.pop(c, None)
            elif m.cmd == "332":
                self.topics[ch] = m.params[2]
                if not self.soak.is_topic(m.params[2]):
                    self.fail(f"a topic nobody set: {m.raw!r}", "topic")
            elif m.cmd == "333":
                if self.soak.owner(m.params[2]) is None:
                    self.fail(f"a topic setter who never was a client: {m.raw!r}", "topic")
            elif m.cmd == "353":
                self.loading += m.params[3].split(" ")
            elif m.cmd == "366":
                names = set(self.loading)
                if len(names) != len(self.loading) or self.name not in names:
                    self.fail(f"JOIN {c}: NAMES {self.loading}", "names")
                for name in names:
                    if name != self.name:
                        self.other(name)
                self.chans[ch] = names
        return Want(f"JOIN {c}", [[own] + topic + [names, end], [own, names, end]], on, True)

    def w_part(self, ch, words):
        c = "#" + ch

        def on(m):
            self.chans.pop(ch, None)
            self.topics.pop(ch, None)
            for seg in self.last_from.values():
                seg.pop(c, None)
        own = self.t_own("PART", c, words) if words else self.t_own("PART", c)
        return Want(f"PART {c}", [[(own, 1, 1)]], on, True)

    def w_message(self, cmd, target, wire):
        echo = "echo-message" in self.caps_sent
        own = (self.t_own(cmd, target, wire), 1, 1)
        if target[0] == "#":
            if target[1:] in self.sent_chans:
                return Want(f"the echo of {cmd} {target}", [[own]]) if echo else None
            if cmd == "NOTICE":
                return None  # NOTICE never gets an error back (§8.5)
            return Want(f"{cmd} {target} refused", [
                [(self.t_num("403", target, "No such channel"), 1, 1)],
                [(self.t_num("404", target, "Cannot send to channel"), 1, 1)]])
        if cmd == "NOTICE":
            return Want(f"the echo of NOTICE {target}", [[own], []]) if echo else None
        away = (self.t_num("301", target, lambda t: self.soak.is_away(target, t)), 0, 1)
        gone = [(self.t_num("401", target, "No such nick/channel"), 1, 1)]
        return Want(f"PRIVMSG {target}", [[own, away] if echo else [away], gone])

    def w_nick(self, new):
        def on(m):
            for names in self.chans.values():
                if self.name in names:
                    names.discard(self.name)
                    names.add(new)
            self.name = new
        return Want(f"NICK {new}", [[(self.t_own("NICK", new), 1, 1)]], on, True)

    def w_topic_set(self, ch, text):
        def on(m):
            self.topics[ch] = text or None
        return Want(f"TOPIC #{ch}", [[(self.t_own("TOPIC", "#" + ch, text), 1, 1)]], on, True)

    def w_topic_query(self, ch):
        c = "#" + ch

        def on(m):
            view = self.topics.get(ch)
            if m.cmd == "331" and view is not None or m.cmd == "332" and m.params[2] != view:
                self.fail(f"TOPIC {c}: {m.raw!r}; its view: {view!r}", "topic")
        return Want(f"TOPIC {c}", [[(self.t_num("331", c, "No topic is set"), 1, 1)],
                                   [(self.t_num("332", c, None), 1, 1),
                                    (self.t_num("333", c, None, str.isdigit), 1, 1)]], on)

    def w_who(self, mask):
        """WHO #room or WHO nick (§8.7): a 352 per member, then 315."""
        chan = mask if mask[0] == "#" else "*"

        def one(m):
            return self.t_num("352", chan, None, "natter", "natter", None, None, None)(m)

        def on(m):
            if m.cmd == "352":
                user, nick, flags, last = m.params[2], m.params[5], m.params[6], m.params[7]
                c = self.other(nick)
                if c and (user != nick.lower() or flags not in ("H", "G") or
                          last != "0 " + (c.realname if c.door == "IRC" else nick)):
                    self.fail(f"{m.raw!r} for {c.door} user {nick}", "who")
                self.collect.append(nick)
                return
            names, self.collect = self.collect, []
            self.check_list(f"WHO {mask}", mask, names)
        return Want(f"WHO {mask}", [[(one, 0, MANY if chan != "*" else 1),
                                     (self.t_num("315", mask, "End of /WHO list."), 1, 1)]], on)

    def w_names(self, ch):
        c = "#" + ch

        def on(m):
            if m.cmd == "353":
                self.collect += m.params[3].split(" ")
                return
            names, self.collect = self.collect, []
            self.check_list(f"NAMES {c}", c, names)
        end = (self.t_num("366", c, "End of /NAMES list."), 1, 1)
        return Want(f"NAMES {c}", [[(self.t_num("353", "=", c, None), 1, MANY), end], [end]], on)

    def check_list(self, what, mask, names):
        """A WHO or NAMES list: of a channel it is in, exactly its view; else known names."""
        if mask[0] == "#" and mask[1:] in self.chans:
            view = self.chans[mask[1:]]
            if set(names) != view or len(names) != len(view):
                self.fail(f"{what}: {sorted(names)} but its stream says {sorted(view)}",
                          "names")
            return
        for name in names:
            self.other(name)

    def w_whois(self, nick):
        """WHOIS (§8.7): its DOOR is `line` or `IRC`, with ` over WebSocket` from the web door."""
        c = self.soak.owner(nick)
        door = (c.door + (" over WebSocket" if c.ws is not None else "")) if c else None
        real = (c.realname if c.door == "IRC" else nick) if c else None
        steps = [(self.t_num("311", nick, nick.lower(), "natter", "*", real), 1, 1),
                 (self.t_num("319", nick, lambda t: all(
                     x[:1] == "#" and x[1:] in ROOMS for x in t.split(" "))), 0, MANY),
                 (self.t_num("312", nick, "natter", door), 1, 1),
                 (self.t_num("301", nick, lambda t: self.soak.is_away(nick, t)), 0, 1),
                 (self.t_num("318", nick, "End of /WHOIS list."), 1, 1)]
        gone = [(self.t_num("401", nick, "No such nick/channel"), 1, 1),
                (self.t_num("318", nick, "End of /WHOIS list."), 1, 1)]
        return Want(f"WHOIS {nick}", [steps, gone])

    # -- what it receives

    def on_data(self, data):
        self.inbuf += data
        *lines, self.inbuf = self.inbuf.split(b"\n")
        for raw in lines:
            self.on_raw(raw)

    def on_raw(self, raw):
        soak = self.soak
        soak.stats["lines_received"] += 1
        soak.stats["irc_lines_received"] += 1
        if not raw.endswith(b"\r"):
            self.fail(f"a line without CR LF: {raw[:100]!r}", "crlf")
        else:
            raw = raw[:-1]
        body = raw[raw.find(b" ") + 1:] if raw.startswith(b"@") else raw
        if len(body) + 2 > 512:
            self.fail(f"a line of {len(body) + 2} bytes without its tags: {raw[:80]!r}...",
                      "length")
        try:
            line = raw.decode()
        except UnicodeDecodeError:
            self.fail(f"invalid UTF-8: {raw[:100]!r}", "utf-8")
            return
        self.tail = (self.tail + [line])[-5:]
        if IRC_CONTROL_RE.search(line):
            self.fail(f"a control character: {line[:100]!r}", "control")
        if self.got_error:
            self.fail(f"a line after ERROR: {line!r}", "unexpected")
        m = parse_irc(line)
        is_event = m.nick is not None and m.cmd in EVENT_COMMANDS
        if is_event and "server-time" in self.caps:
            if m.tags is None or not TIME_RE.match(m.tags):
                self.fail(f"server-time, but tags {m.tags!r}: {line[:100]!r}", "tags")
        elif m.tags is not None:
            self.fail(f"tags it did not ask for: {line[:100]!r}", "tags")
        if self.assembling:
            a = self.assembling
            if m.src == a[0].src and m.cmd == a[0].cmd and len(m.params) == 2 and \
                    m.params[0] == a[0].params[0] and m.params[1] and \
                    a[1].startswith(a[0].params[1] + m.params[1]):
                a[0].params[1] += m.params[1]
                if a[0].params[1] == a[1]:
                    self.assembling = None
                    soak.stats["irc_long_reassembled"] += 1
                    self.dispatch(a[0])
                return
            self.fail(f"a text cut into lines is interrupted by {line[:100]!r}; so far "
                      f"{a[0].params[1][:40]!r}...", "split")
            self.assembling = None
        if m.cmd in ("PRIVMSG", "NOTICE") and m.nick and len(m.params) == 2:
            h = LONG_HEAD_RE.match(m.params[1])
            if h:
                s = soak.everyone.get(int(h.group(1)))
                said = s.said.get(int(h.group(2))) if s else None
                if said and said.text and m.params[1] != said.text and \
                        said.text.startswith(m.params[1]):
                    self.assembling = [m, said.text]
                    return
        self.dispatch(m)

    def dispatch(self, m):
        if m.src is None:
            if m.cmd == "PING" and m.params == ["natter"]:
                self.on_server_ping()
            elif m.cmd == "ERROR" and len(m.params) == 1 and self.expect_close and \
                    m.params[0] in self.expect_close:
                self.got_error = True
                self.expect_close = ""
                if self.leave_how == "ping" and not 1 <= self.pings <= 2:
                    self.fail(f"{m.raw!r} after {self.pings} PINGs", "ping")
            else:
                self.fail(f"unexpected {m.raw!r}", "unexpected")
            return
        if m.src == "natter" or m.nick == self.name:
            self.on_reply(m)
            return
        if m.nick is None or m.src != f"{m.nick}!{m.nick.lower()}@natter":
            self.fail(f"a bad source: {m.raw!r}", "unexpected")
            return
        if self.state != "named":
            self.fail(f"before registering: {m.raw!r}", "unexpected")
            return
        self.on_event(m)

    def on_server_ping(self):
        self.pings += 1
        self.soak.stats["irc_pings_received"] += 1
        if not self.silent:
            self.send("PONG :natter")

    def on_reply(self, m):
        """A numeric, CAP, PONG or one of our own events: the next thing our commands asked."""
        q = self.queue
        while q:
            w = q[0]
            if w.take(m):
                if w.on:
                    w.on(m)
                if w.is_over():
                    q.popleft()
                return
            if w.can_end():
                q.popleft()
                continue
            self.fail(f"waiting for {w.what}, got {m.raw!r}", "reply")
            q.popleft()
            return
        self.fail(f"unexpected {m.raw!r}", "reply")

    def in_view(self, nick):
        return any(nick in names for names in self.chans.values())

    def on_event(self, m):
        """Something another user did, seen in its channels (or said to it)."""
        soak = self.soak
        nick, cmd, p = m.nick, m.cmd, m.params
        c = self.other(nick)
        if c is None:
            return
        if cmd in ("PRIVMSG", "NOTICE") and len(p) == 2:
            target, text = p
            kind = "notice" if cmd == "NOTICE" else "say"
            if cmd == "PRIVMSG" and text.startswith("\x01ACTION ") and text.endswith("\x01"):
                kind, text = "action", text[8:-1]
            if target[0] == "#":
                key = target
                names = self.chans.get(target[1:])
                if names is None or nick not in names:
                    self.fail(f"{m.raw!r}, in {sorted(self.chans)}; from someone not in "
                              f"{target} as its stream told it" if names is not None else
                              f"{m.raw!r} for a channel it is not in {sorted(self.chans)}",
                              "non-member")
                    return
            elif target == self.name:
                key = "@" + self.name
            else:
                self.fail(f"{m.raw!r} addressed to another", "misdelivered")
                return
            s = SAID_RE.match(text)
            if s:
                self.on_said(int(s.group(1)), int(s.group(2)), kind, nick, key, text)
                return
            f = FINAL_RE.match(text)
            if f and kind == "say":
                self.on_final(f, nick, "@" if key[0] == "@" else key)
                return
            self.fail(f"unexpected text {m.raw!r}", "unexpected")
            return
        if cmd in ("JOIN", "PART", "TOPIC") and p and p[0][:1] == "#":
            ch = p[0][1:]
            names = self.chans.get(ch)
            if names is None:
                self.fail(f"{m.raw!r} for a channel it is not in {sorted(self.chans)}",
                          "misdelivered")
                return
            if cmd == "JOIN" and len(p) == 1:
                if nick in names:
                    self.fail(f"{m.raw!r}: joined twice", "twice")
                names.add(nick)
                seg = self.last_from.get(c.id)
                if seg:
                    seg.pop(p[0], None)
                return
            if nick not in names:
                self.fail(f"{m.raw!r} from someone not in {p[0]} as its stream told it",
                          "non-member")
                return
            if cmd == "PART" and len(p) <= 2:
                why = p[1] if len(p) == 2 else None
                ok = (why is None or why in c.part_words) if c.door == "IRC" else \
                    why is not None and why.startswith("left for ") and why[9:] in ROOMS and \
                    why[9:] != ch
                if not ok:
                    self.fail(f"{m.raw!r} from a {c.door} user", "unexpected")
                names.discard(nick)
                seg = self.last_from.get(c.id)
                if seg:
                    seg.pop(p[0], None)
                return
            if cmd == "TOPIC" and len(p) == 2:
                if p[1] and p[1] not in c.topics_set:
                    self.fail(f"{m.raw!r}: a topic {nick} did not set", "topic")
                self.topics[ch] = p[1] or None
                return
        elif cmd == "QUIT" and len(p) == 1:
            seen = False
            for names in self.chans.values():
                if nick in names:
                    names.discard(nick)
                    seen = True
            if not seen:
                self.fail(f"{m.raw!r} from someone sharing no channel with it (as its stream "
                          f"told it): seen leaving twice?", "twice")
            self.departed.add(c.id)
            self.last_from.pop(c.id, None)
            soak.check_leave(self, c, p[0], None)
            return
        elif cmd == "NICK" and len(p) == 1:
            if not self.in_view(nick):
                self.fail(f"{m.raw!r} from someone sharing no channel with it", "non-member")
            soak.check_rename(self, nick, p[0])
            for names in self.chans.values():
                if nick in names:
                    names.discard(nick)
                    names.add(p[0])
            return
        elif cmd == "AWAY" and len(p) <= 1:
            if "away-notify" not in self.caps or not self.in_view(nick) or \
                    (p and p[0] not in c.aways):
                self.fail(f"{m.raw!r} (caps {sorted(self.caps)})", "unexpected")
            return
        self.fail(f"unexpected {m.raw!r}", "unexpected")

    def act(self, now, churn):
        soak = self.soak
        if self.state != "named" or self.silent or self.role != "regular":
            return
        if self.quiet_until:
            if now < self.quiet_until:
                return
            # It said nothing but PONGs: natter must have PINGed it (§8.9; half the idle timeout).
            if now - self.quiet_since > soak.args.idle_timeout / 2 + 3.5 and \
                    self.pings == self.quiet_pings:
                self.fail(f"no PING in {now - self.quiet_since:.1f} s of silence", "ping")
            self.quiet_until = 0.0
        b = soak.pick(soak.irc_behaviours, now, self, churn)
        b.act(soak, self)


# --------------------------------------------------------------------------------------------
# Behaviours: what a named client does when its turn comes


class Behaviour:
    name = ""
    weight = 0
    needs = ()  # commands natter must list in /help (line door)

    def act(self, soak, c):
        raise NotImplementedError


class Chat(Behaviour):
    name, weight = "chat", 900

    def act(self, soak, c):
        seq = c.record("say", ("#" + c.send_room,))
        c.send(f"soak {c.id} {seq}")


class LongLine(Behaviour):
    """A line too long for one IRC message: IRC users get it in pieces (§8.6)."""
    name, weight = "long", 10

    def act(self, soak, c):
        seq = c.sent
        text = f"soak {c.id} {seq} " + make_pad(soak.rng, 400, 1500)
        c.record("say", ("#" + c.send_room,), text)
        c.send(text)
        soak.stats["long_sent"] += 1


class Me(Behaviour):
    name, weight, needs = "me", 20, ("me",)

    def act(self, soak, c):
        seq = c.record("action", ("#" + c.send_room,))
        c.send(f"/me soak {c.id} {seq}")


class Private(Behaviour):
    """A private line to someone of either door (§7.5); a gone name gets "No such user"."""
    name, weight, needs = "msg", 30, ("msg",)

    def act(self, soak, c):
        t = soak.pick_named(c)
        if t is None:
            return
        seq = c.record("say", ("@" + t.name,))
        c.msg_targets.add(t.name)
        c.send(f"/msg {t.name} soak {c.id} {seq}")
        soak.stats["privates_sent"] += 1


class Topic(Behaviour):
    name, weight, needs = "topic", 5, ("topic",)

    def act(self, soak, c):
        r = soak.rng.random()
        if r < 0.5:
            text = f"soak topic {c.id} {len(c.topics_set)}"
            c.topics_set.add(text)
            c.send(f"/topic {text}")
        elif r < 0.65:
            c.send("/topic -")
        else:
            c.topic_queries += 1
            c.send("/topic")
        soak.stats["topics"] += 1


class Leave(Behaviour):
    name, weight = "leave", 10

    def act(self, soak, c):
        how = soak.rng.choice(["fin", "rst", "half", "quit"] if "quit" in soak.commands else
                              ["fin", "rst", "half"])
        if c.ws is not None and soak.rng.random() < WS_CLOSE_SHARE:
            how = "ws"  # a WebSocket Close (§9.3)
        if how == "quit":
            words = soak.rng.choice(["soak", None])
            c.leave_how = f"quit:{words}" if words else "quit"
            soak.stats["left_quit_line"] += 1
            c.send(f"/quit {words}" if words else "/quit")
            c.role = "quitter"
            c.expect_close = ""  # natter just closes after /quit
        else:
            c.leave(how)


class Idle(Behaviour):
    """Stops talking until natter's idle timeout closes it (PROTOCOL.md §4.2)."""
    name, weight = "idle", 5

    def act(self, soak, c):
        c.silent = True
        c.role = "idler"
        c.leave_how = "idle"
        c.expect_close = IDLE_GOODBYE
        soak.stats["went_idle_line"] += 1


class Rename(Behaviour):
    name, weight, needs = "rename", 20, ("nick",)

    def act(self, soak, c):
        if c.pending:
            return
        c.renames += 1
        new = c.send_name = f"u{c.id}n{c.renames}"
        c.pending = ("nick", new)
        c.send("/nick " + new)
        soak.stats["renames"] += 1


class Rooms(Behaviour):
    name, weight, needs = "rooms", 30, ("join",)

    def act(self, soak, c):
        if c.pending:
            return
        room = c.send_room = soak.rng.choice([r for r in ROOMS if r != c.room])
        c.pending = ("join", room)
        c.send("/join " + room)
        soak.stats["room_switches"] += 1


class IrcChat(Behaviour):
    """PRIVMSG (sometimes NOTICE, ACTION, a long text, or to several channels at once) to its
    channels; in none, a PING."""
    name, weight = "chat", 900

    def act(self, soak, c):
        rng = soak.rng
        if not c.sent_chans:
            c.ping()
            return
        r = rng.random()
        targets = ["#" + ch for ch in rng.sample(c.sent_chans, min(len(c.sent_chans),
                                                                   rng.choice((2, 3))))] \
            if r < 0.1 else ["#" + rng.choice(c.sent_chans)]
        r = rng.random()
        kind = "notice" if r < 0.05 else "action" if r < 0.1 else "say"
        long = kind == "say" and r > 0.95
        c.say(kind, targets, long)
        soak.stats[f"irc_{kind}_sent" if not long else "irc_long_sent"] += 1


class IrcMsg(Behaviour):
    """PRIVMSG, NOTICE or ACTION to one or two users of either door, maybe with a channel."""
    name, weight = "msg", 40

    def act(self, soak, c):
        rng = soak.rng
        targets = []
        for _ in range(rng.choice((1, 1, 2))):
            t = soak.pick_named(c)
            if t is not None and t.name not in targets:
                targets.append(t.name)
        if not targets:
            return
        if c.sent_chans and rng.random() < 0.2:
            targets.insert(rng.randrange(len(targets) + 1), "#" + rng.choice(c.sent_chans))
        r = rng.random()
        c.say("notice" if r < 0.15 else "action" if r < 0.3 else "say", targets)
        soak.stats["privates_sent"] += 1


class IrcRooms(Behaviour):
    """JOIN one or several channels, PART one or several (with or without words), JOIN 0."""
    name, weight = "rooms", 30

    def act(self, soak, c):
        rng = soak.rng
        r = rng.random()
        out = [ch for ch in ROOMS if ch not in c.sent_chans]
        if (r < 0.5 or not c.sent_chans) and out:
            chans = rng.sample(out, rng.choice((1, 1, 2)) if len(out) > 1 else 1)
            if c.sent_chans and rng.random() < 0.1:
                chans.append(rng.choice(c.sent_chans))  # one it is in: nothing (§8.4)
            c.join(chans)
        elif r < 0.95 and c.sent_chans:
            chans = rng.sample(c.sent_chans, rng.choice((1, 1, 2)) if len(c.sent_chans) > 1
                               else 1)
            words = f"soak part {c.id} {len(c.part_words)}" if rng.random() < 0.5 else None
            c.part(chans, words)
        elif c.sent_chans:
            c.part_all()


class IrcRename(Behaviour):
    name, weight = "rename", 20

    def act(self, soak, c):
        c.renames += 1
        new = c.send_name = f"u{c.id}n{c.renames}"
        c.cmd(f"NICK {new}", c.w_nick(new))
        soak.stats["renames"] += 1


class IrcTopic(Behaviour):
    name, weight = "topic", 5

    def act(self, soak, c):
        if not c.sent_chans:
            return
        ch = soak.rng.choice(c.sent_chans)
        r = soak.rng.random()
        if r < 0.5:
            text = f"soak topic {c.id} {len(c.topics_set)}"
            c.topics_set.add(text)
            c.cmd(f"TOPIC #{ch} :{text}", c.w_topic_set(ch, text))
        elif r < 0.65:
            c.cmd(f"TOPIC #{ch} :", c.w_topic_set(ch, ""))
        else:
            c.cmd(f"TOPIC #{ch}", c.w_topic_query(ch))
        soak.stats["topics"] += 1


class IrcAway(Behaviour):
    name, weight = "away", 5

    def act(self, soak, c):
        if soak.rng.random() < 0.6:
            text = f"soak away {c.id} {len(c.aways)}"
            c.aways.add(text)
            c.cmd(f"AWAY :{text}", Want("306", [[(c.t_num(
                "306", "You have been marked as being away"), 1, 1)]]))
        else:
            c.cmd("AWAY", Want("305", [[(c.t_num(
                "305", "You are no longer marked as being away"), 1, 1)]]))
        soak.stats["aways"] += 1


class IrcQuery(Behaviour):
    """WHO, WHOIS, NAMES, TOPIC, MODE, LIST, ISON, LUSERS, CAP LIST or PING (§8.4, §8.7)."""
    name, weight = "query", 15

    def act(self, soak, c):
        rng = soak.rng
        what = rng.choice(["who", "who", "whonick", "whois", "whois", "names", "names", "topic",
                           "mode", "list", "ison", "lusers", "caplist", "ping"])
        soak.stats[f"irc_query_{what}"] += 1
        mine = c.sent_chans
        if what in ("who", "names", "mode", "topic") and not mine:
            what = "ping"
        t = soak.pick_named(c)
        nick = t.name if t else c.send_name
        if what == "who":
            ch = rng.choice(mine if rng.random() < 0.8 else ROOMS)
            c.cmd(f"WHO #{ch}", c.w_who("#" + ch))
        elif what == "whonick":
            c.cmd(f"WHO {nick}", c.w_who(nick))
        elif what == "whois":
            c.cmd(f"WHOIS {nick}", c.w_whois(nick))
        elif what == "names":
            ch = rng.choice(mine if rng.random() < 0.8 else ROOMS)
            c.cmd(f"NAMES #{ch}", c.w_names(ch))
        elif what == "topic":
            ch = rng.choice(mine)
            c.cmd(f"TOPIC #{ch}", c.w_topic_query(ch))
        elif what == "mode":
            ch = rng.choice(mine)
            c.cmd(f"MODE #{ch}", Want("MODE", [[(c.t_num("324", "#" + ch, "+n"), 1, 1),
                                                (c.t_num("329", "#" + ch, str.isdigit), 1, 1)]]))
        elif what == "list":
            c.cmd("LIST", Want("LIST", [[
                (c.t_num("321", "Channel", "Users  Name"), 1, 1),
                (c.t_num("322", lambda r: r[1:] in ROOMS, str.isdigit,
                         lambda t: t == "" or soak.is_topic(t)), 0, MANY),
                (c.t_num("323", "End of /LIST"), 1, 1)]]))
        elif what == "ison":
            asked = [nick, f"u{c.id}nx"]
            c.cmd("ISON " + " ".join(asked), Want("ISON", [[(c.t_num(
                "303", lambda t: t in ("", nick)), 1, 1)]]))
        elif what == "lusers":
            c.cmd("LUSERS", Want("LUSERS", [[
                (c.t_code("251"), 1, 1), (c.t_code("252"), 0, 1), (c.t_code("254"), 1, 1),
                (c.t_code("255"), 1, 1)]]))
        elif what == "caplist":
            me = c.me()

            def same(m):
                return m.src == "natter" and m.cmd == "CAP" and m.params[:2] == [me, "LIST"] \
                    and len(m.params) == 3 and set(m.params[2].split()) == c.caps
            c.cmd("CAP LIST", Want("CAP LIST", [[(same, 1, 1)]]))
        else:
            c.ping()


class IrcCaps(Behaviour):
    """Turns server-time, echo-message or away-notify on or off after registration (§8.3)."""
    name, weight = "caps", 3

    def act(self, soak, c):
        cap = soak.rng.choice(["server-time", "echo-message", "away-notify"])
        req = ("-" + cap) if cap in c.caps_sent else cap
        if req[0] == "-":
            c.caps_sent.discard(cap)
        else:
            c.caps_sent.add(cap)
        c.cmd(f"CAP REQ :{req}", c.w_cap("ACK", req))
        soak.stats["irc_caps_toggled"] += 1


class IrcRefused(Behaviour):
    """PRIVMSG to a channel it is not in (+n) or that does not exist: 404 or 403, nobody gets it."""
    name, weight = "refused", 3

    def act(self, soak, c):
        out = [ch for ch in ROOMS if ch not in c.sent_chans] + [f"nowhere{c.id}"]
        c.say("say", ["#" + soak.rng.choice(out)])
        soak.stats["irc_refused_sent"] += 1


class IrcLeave(Behaviour):
    name, weight = "leave", 10

    def act(self, soak, c):
        how = soak.rng.choice(["quit", "quit", "fin", "half", "rst"])
        if c.ws is not None and soak.rng.random() < WS_CLOSE_SHARE:
            how = "ws"  # a WebSocket Close (§9.3)
        if how == "quit":
            words = soak.rng.choice([f"soak bye {c.id}", None])
            c.leave_how = f"quit:{words}" if words else "quit"
            c.role = "quitter"
            c.expect_close = {f"Closing link: Quit: {words}" if words else "Closing link: Quit"}
            c.send(f"QUIT :{words}" if words else "QUIT")
            soak.stats["left_quit_IRC"] += 1
        else:
            c.leave(how)


class IrcIdle(Behaviour):
    """Never answers again: natter PINGs it, then closes it (§8.9)."""
    name, weight = "idle", 5

    def act(self, soak, c):
        c.silent = True
        c.role = "idler"
        c.leave_how = "ping"
        c.pings = 0
        c.expect_close = {"Closing link: Ping timeout"}
        soak.stats["went_idle_IRC"] += 1


class IrcQuiet(Behaviour):
    """Says nothing for a while but answers natter's PINGs, which keeps it in (§8.9)."""
    name, weight = "quiet", 5

    def act(self, soak, c):
        c.quiet_since = c.last_line_at
        c.quiet_until = time.monotonic() + soak.rng.uniform(5, 10)
        c.quiet_pings = c.pings
        soak.stats["irc_quiet"] += 1


# Lurkers are connections that never send a name (or never finish registering); they are a share
# of new connections rather than something a named client does, so --behaviours lurk turns them on.
LINE_BEHAVIOURS = [Chat(), Leave(), Idle(), Rename(), Rooms(), Private(), Me(), Topic(), LongLine()]
IRC_BEHAVIOURS = [IrcChat(), IrcLeave(), IrcIdle(), IrcRename(), IrcRooms(), IrcMsg(), IrcTopic(),
                  IrcAway(), IrcQuery(), IrcQuiet(), IrcCaps(), IrcRefused()]
BEHAVIOURS = LINE_BEHAVIOURS + IRC_BEHAVIOURS  # every one, of both doors
ALL_NAMES = sorted({b.name for b in BEHAVIOURS} | {"lurk"})


# --------------------------------------------------------------------------------------------
# The run


class Soak:
    def __init__(self, args):
        self.args = args
        self.rng = random.Random(args.seed)
        self.sel = selectors.DefaultSelector()
        self.clients = {}  # the connected ones
        self.everyone = {}  # every client of the run, by id, for what they said
        self.next_id = 0
        self.failures = []
        self.fail_kinds = collections.Counter()
        self.stats = collections.Counter()
        self.server = None
        self.commands = set()
        self.report = {}
        self.leave_reported = set()
        self.notice_twice = {}
        self.line_behaviours = self.irc_behaviours = None

    def fail(self, what, kind="check"):
        self.fail_kinds[kind] += 1
        if self.fail_kinds[kind] <= 10:
            print(f"FAIL [{kind}]:", what, file=sys.stderr)
        elif self.fail_kinds[kind] == 11:
            print(f"FAIL [{kind}]: more of this kind are counted, not printed", file=sys.stderr)
        self.failures.append((kind, what))

    def left(self, c):
        self.clients.pop(c.id, None)

    def owner(self, name):
        """The client that has or had name (u<id>n<k>), or None."""
        m = NAME_RE.match(name)
        c = self.everyone.get(int(m.group(1))) if m else None
        if c is None or c.was_lurker or int(m.group(2)) > c.renames:
            return None
        return c

    def is_topic(self, text):
        m = re.match(r"soak topic (\d+) \d+$", text)
        c = self.everyone.get(int(m.group(1))) if m else None
        return c is not None and text in c.topics_set

    def is_away(self, nick, text):
        c = self.owner(nick)
        return c is not None and text in c.aways

    def check_rename(self, viewer, old, new):
        mo, mn = NAME_RE.match(old), NAME_RE.match(new)
        if not mn or mo.group(1) != mn.group(1) or int(mn.group(2)) != int(mo.group(2)) + 1 or \
                self.owner(new) is None:
            viewer.fail(f"{old} is now {new}, not its next name", "rename")

    def check_leave(self, viewer, c, quit_text, line_words):
        """How c's leave shows (§8.6): the QUIT text, or a line user's "(WORDS)"; checked once
        per leaver, by the first viewer that sees it wrong."""
        how = c.leave_how
        if how is None:
            want = None
        elif how.startswith("quit"):
            words = how[5:] or None
            want = f"Quit: {words}" if words else "Quit"
        else:
            want = {"fin": "Connection closed", "half": "Connection closed",
                    "rst": "Connection closed", "ws": "Connection closed", "idle": "Idle timeout",
                    "ping": "Ping timeout"}[how]
        if quit_text is not None:
            got, ok = f"QUIT :{quit_text}", quit_text == want
            wanted = f"QUIT :{want}"
        else:
            words = how[5:] if how and how.startswith("quit:") else None
            got, ok = f"({line_words})" if line_words else "no words", line_words == words
            wanted = f"({words})" if words else "no words"
        self.stats["leaves_seen"] += 1
        if how is None:
            if c.id not in self.leave_reported:
                self.leave_reported.add(c.id)
                viewer.fail(f"saw {c.name} ({c.door}) leave ({got}), but it did not leave",
                            "leave")
        elif not ok and c.id not in self.leave_reported:
            self.leave_reported.add(c.id)
            viewer.fail(f"{c.name} ({c.door}) left by {how}: expected {wanted}, got {got} "
                        f"(PROTOCOL.md §8.6)", "quit-text")

    def spawn(self, role, door):
        cid = self.next_id
        self.next_id += 1
        ws = self.ws_offer(door) if self.rng.random() < self.args.ws else None
        c = (IrcClient if door == "IRC" else LineClient)(self, cid, role, ws)
        self.clients[cid] = c
        self.everyone[cid] = c
        self.stats["connections"] += 1
        self.stats[f"connections_{door}"] += 1
        if ws is not None:
            self.stats["ws_clients"] += 1
            self.stats[f"ws_clients_{door}"] += 1
        if role == "lurker":
            self.stats[f"lurkers_{door}"] += 1
        c.next_act = time.monotonic() + self.rng.uniform(0.2, self.args.interval)
        return c

    def ws_offer(self, door):
        """The Sec-WebSocket-Protocol a new WebSocket client offers: mostly its door's alone;
        some after one natter does not speak (it must pick the first it speaks); for IRC, some
        binary.ircv3.net (binary frames) and some none (IRC in text frames, unnamed, §9.3)."""
        r = self.rng.random()
        if door == "line":
            return "natter.line" if r < 0.8 else "x-soak.chat, natter.line" if r < 0.9 else \
                "natter.line, text.ircv3.net"
        if r < 0.1:
            self.stats["ws_no_subprotocol"] += 1
            return ""
        if r < 0.2:
            self.stats["ws_binary"] += 1
            return "binary.ircv3.net"
        return "text.ircv3.net" if r < 0.9 else "x-soak.chat, text.ircv3.net"

    def pick_named(self, exclude):
        named = [c for c in self.clients.values() if c.state == "named" and c is not exclude]
        return self.rng.choice(named) if named else None

    def pump(self, timeout):
        for key, events in self.sel.select(timeout=timeout):
            c = key.data
            if events & selectors.EVENT_WRITE:
                c.flush()
            if events & selectors.EVENT_READ and c.state != "gone":
                c.on_readable()

    def probe_commands(self):
        """The commands natter's /help lists (issue #4 adds them), as a set of names."""
        s = socket.create_connection(("127.0.0.1", self.server.port), timeout=10)
        s.sendall(b"soakprobe\n/help\n")
        data = b""
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and b"/quit" not in data and b"Unknown" not in data:
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                break
            if not chunk:
                break
            data += chunk
        s.close()
        return {m.decode() for m in re.findall(rb"\*\*\* /([a-z]+)", data)}

    def probe_ws(self):
        """One WebSocket handshake, up to the prompt, before the baseline: natter's first
        Sec-WebSocket-Accept is its first SHA-1, where OpenSSL 3 sets itself up (about 2.3 MB of
        RSS, once, kept until exit); the baseline is natter warmed up, as by the /help probe."""
        s = socket.create_connection(("127.0.0.1", self.server.web_port), timeout=10)
        key = base64.b64encode(self.rng.randbytes(16)).decode()
        s.sendall(f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{self.server.web_port}\r\n"
                  f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                  f"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: natter.line\r\n"
                  f"\r\n".encode())
        data = b""
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and PROMPT not in data:
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                break
            if not chunk:
                break
            data += chunk
        s.close()
        if PROMPT not in data:
            self.fail(f"the WebSocket probe got no prompt: {data[:300]!r}", "ws-handshake")

    def behaviours(self):
        wanted = set(self.args.behaviours.split(","))
        line = [b for b in LINE_BEHAVIOURS
                if b.name in wanted and all(n in self.commands for n in b.needs)]
        irc = [b for b in IRC_BEHAVIOURS if b.name in wanted]
        self.line_behaviours = (line, [b.weight for b in line])
        self.irc_behaviours = (irc, [b.weight for b in irc])
        return [f"{b.name} (line)" for b in line] + [f"{b.name} (IRC)" for b in irc]

    def pick(self, behaviours, now, c, churn):
        usable, weights = behaviours
        chat = usable[0] if usable and usable[0].name == "chat" else (LINE_BEHAVIOURS[0]
                                                                       if c.door == "line" else
                                                                       IRC_BEHAVIOURS[0])
        b = self.rng.choices(usable, weights)[0] if churn and usable else chat
        if now - c.last_line_at > self.args.idle_timeout / 3 and b.name != "chat":
            b = chat  # a regular client never goes idle by accident
        c.next_act = now + self.rng.uniform(0.2, self.args.interval)
        return b

    def run(self):
        a = self.args
        workdir = tempfile.mkdtemp(prefix="natter-soak-")
        env = dict(os.environ)
        if a.sanitized and "quarantine_size_mb" not in env.get("ASAN_OPTIONS", ""):
            # ASan keeps freed memory in a quarantine (256 MB by default) to catch use after
            # free; a smaller one still catches a use soon after the free (where close-path bugs
            # live) and lets the RSS check below mean something however long the soak runs.
            opts = env.get("ASAN_OPTIONS", "")
            env["ASAN_OPTIONS"] = (opts + ":" if opts else "") + \
                f"quarantine_size_mb={QUARANTINE_MB}"
        self.server = Natter(a.bin, ["--idle-timeout", str(a.idle_timeout),
                                     "--name-timeout", str(a.name_timeout)], workdir, env,
                             web=a.ws > 0)
        web = f" and http://{self.server.web_port}" if a.ws > 0 else ""
        print(f"soak: natter pid {self.server.proc.pid} on port {self.server.port}, "
              f"irc://{self.server.irc_port}{web}, log {self.server.log_path}, seed {a.seed}",
              file=sys.stderr)
        try:
            self._run()
        finally:
            for c in list(self.clients.values()):
                c.close()
            rc = self.server.stop()
        log = self.server.log()
        if rc != 0:
            self.fail(f"natter exit status {rc} after SIGTERM", "exit")
        found = [m.decode() for m in SANITIZER_MARKERS if m in log]
        if found:
            self.fail(f"sanitizer report in natter's stderr: {found}; see {self.server.log_path}",
                      "sanitizer")
        self.report["exit_status"] = rc
        self.report["failures"] = len(self.failures)
        self.report["failures_by_kind"] = dict(self.fail_kinds)
        return self.report

    def unsettled(self, c):
        if c.role != "regular" or c.state != "named":
            return True
        if c.door == "line":
            return c.pending is not None or c.topic_queries > 0
        return c.quiet_until or c.assembling or any(w.blocking for w in c.queue)

    def _run(self):
        a = self.args
        fds0 = self.server.fd_count()
        self.commands = self.probe_commands()
        if a.ws > 0:
            self.probe_ws()
        used = self.behaviours()
        lurk = "lurk" in a.behaviours.split(",")
        # The baseline: natter with no client (the probes' closes are asynchronous).
        if wait_fds(self.server, fds0, 10) != fds0:
            self.fail(f"the probe connection was not closed: fds {self.server.fd_count()}",
                      "fds")
        rss0 = self.server.rss_kb()
        t0 = time.monotonic()
        end = t0 + a.seconds
        next_print = t0 + 10
        peak_fds, peak_rss = fds0, rss0
        while time.monotonic() < end and len(self.failures) < a.max_failures:
            now = time.monotonic()
            # Keep about --clients connections: newcomers replace the ones that left.
            while len(self.clients) < a.clients:
                door = "IRC" if self.rng.random() < a.irc else "line"
                self.spawn("lurker" if lurk and self.rng.random() < 0.03 else "regular", door)
            for c in list(self.clients.values()):
                if c.next_act <= now:
                    c.act(now, churn=True)
            self.pump(0.02)
            self.stats["max_clients_at_once"] = max(self.stats["max_clients_at_once"],
                                                    len(self.clients))
            if now >= next_print:
                next_print += 10
                peak_fds = max(peak_fds, self.server.fd_count())
                peak_rss = max(peak_rss, self.server.rss_kb())
                print(f"soak: {now - t0:4.0f}s {len(self.clients)} clients, "
                      f"{self.stats['chat_sent']} sent, {self.stats['chat_received']} received, "
                      f"{self.stats['connections']} connections, RSS {self.server.rss_kb()} KiB, "
                      f"fds {self.server.fd_count()}, {len(self.failures)} failures",
                      file=sys.stderr)
        churn_seconds = time.monotonic() - t0

        # Wind down: lurkers go, idlers are timed out, leavers are let go, pending commands are
        # confirmed; the regular clients keep chatting meanwhile (so they do not go idle).
        for c in [c for c in self.clients.values() if c.role == "lurker"]:
            c.close()
        deadline = time.monotonic() + a.idle_timeout + a.name_timeout + 30
        while any(self.unsettled(c) for c in self.clients.values()):
            if time.monotonic() > deadline:
                stuck = [(c.name, c.door, c.role, c.state,
                          getattr(c, "pending", None) or [w.what for w in getattr(c, "queue", ())
                                                          if w.blocking][:3])
                         for c in self.clients.values() if self.unsettled(c)]
                self.fail(f"{len(stuck)} clients never settled, e.g. {stuck[:5]}", "settle")
                return
            now = time.monotonic()
            for c in list(self.clients.values()):
                if c.next_act <= now:
                    c.act(now, churn=False)
            self.pump(0.02)

        # The roll call: every survivor sends --final lines to each room or channel it is in,
        # and one private line to the next survivor; count what each receives, per sender.
        survivors = sorted(self.clients.values(), key=lambda c: c.id)
        where = {}  # room -> the names in it
        for c in survivors:
            for room in ([c.room] if c.door == "line" else list(c.chans)):
                where.setdefault(room, set()).add(c.name)
        expected = {}
        for c in survivors:
            rooms = [c.room] if c.door == "line" else list(c.chans)
            exp = collections.Counter()
            for room in rooms:
                for other in survivors:
                    if other is not c and other.name in where[room]:
                        exp[(other.id, "#" + room)] = a.final
            expected[c.id] = exp
            for k in range(a.final):
                if c.door == "line":
                    c.send(f"final {c.id} {k}")
                else:
                    for room in rooms:
                        c.cmd(f"PRIVMSG #{room} :final {c.id} {k}",
                              c.w_message("PRIVMSG", "#" + room, f"final {c.id} {k}"))
        if len(survivors) > 1:
            for i, c in enumerate(survivors):
                t = survivors[(i + 1) % len(survivors)]
                expected[t.id][(c.id, "@")] = 1
                if c.door == "line":
                    c.send(f"/msg {t.name} final {c.id} p")
                else:
                    c.cmd(f"PRIVMSG {t.name} :final {c.id} p",
                          c.w_message("PRIVMSG", t.name, f"final {c.id} p"))
        for c in survivors:
            if c.door == "line":
                c.who_pending = True
                c.send("/who")
        total = sum(sum(e.values()) for e in expected.values())
        deadline = time.monotonic() + 30
        keep_alive = time.monotonic() + 2
        while time.monotonic() < deadline and (
                sum(sum(c.finals.values()) for c in survivors) < total or
                any(c.who_pending for c in survivors if c.door == "line")):
            self.pump(0.05)
            if time.monotonic() > keep_alive:
                # Waiting for a lost line must not idle everyone out: an empty line is a sign
                # of life that natter ignores (§3.1); IRC clients answer natter's PINGs.
                keep_alive += 2
                for c in survivors:
                    if c.door == "line" and c.state != "gone":
                        c.send("")
        self.pump(0.5)  # anything extra would show now
        received = sum(sum(c.finals.values()) for c in survivors)
        short = [(c.name, sum(c.finals.values()), sum(expected[c.id].values()),
                  sorted(set(c.finals.items()) ^ set(expected[c.id].items()))[:4])
                 for c in survivors if c.finals != expected[c.id]]
        if short:
            self.fail(f"roll call: {len(short)} survivors got the wrong lines (name, got, "
                      f"expected, (sender, room, count) differing), e.g. {short[:5]}",
                      "roll-call")
        # Who is where, as each survivor's stream told it, and the topics.
        topics = {}
        for c in survivors:
            if c.state == "gone":
                continue
            if c.door == "line":
                truth = where.get(c.room, set())
                n, body = c.who_reply or (None, None)
                listed = set(body.split(": ", 1)[1].split(" and ")[0].split(", ")) if body \
                    else set()
                if n != len(truth) or (n <= 100 and listed != truth) or not listed <= truth or \
                        n != len(c.known) + c.unknown + 1 or not c.known <= truth:
                    self.fail(f"roll call: {c.name} /who {body!r}; in {c.room}: {sorted(truth)}; "
                              f"its stream: {sorted(c.known)} and {c.unknown} more", "roll-call")
                views = {c.room: c.topic}
            else:
                for ch, names in c.chans.items():
                    if names != where.get(ch, set()):
                        self.fail(f"roll call: {c.name} sees #{ch} as {sorted(names)}; in it: "
                                  f"{sorted(where.get(ch, ()))}", "roll-call")
                views = c.topics
                open_wants = [w.what for w in c.queue if not w.can_end()]
                if open_wants or c.assembling:
                    self.fail(f"{c.name}: never got {open_wants[:5]}", "reply")
            for room, topic in views.items():
                topics.setdefault(room, collections.Counter())[topic] += 1
        for room, seen in topics.items():
            if len(seen) > 1:
                self.fail(f"roll call: members of {room} disagree on its topic: {dict(seen)}",
                          "topic")

        # Everyone leaves; natter must be back to its baseline.
        for c in survivors:
            c.close()
        fds = wait_fds(self.server, fds0, 30)
        time.sleep(1)  # let the allocator settle
        rss = self.server.rss_kb()
        if fds != fds0:
            self.fail(f"open fds {fds} after everyone left, baseline {fds0}", "fds")
        if rss > rss0 + a.rss_slack_mb * 1024:
            self.fail(f"RSS {rss} KiB after everyone left, baseline {rss0} KiB "
                      f"(+{rss - rss0}, allowed +{a.rss_slack_mb * 1024})", "rss")
        self.report = dict(
            seconds=round(churn_seconds), clients=a.clients, irc_share=a.irc, ws_share=a.ws,
            seed=a.seed,
            behaviours=used + (["lurk"] if lurk else []),
            commands=sorted(self.commands), binary=a.bin,
            rooms={room: len(names) for room, names in sorted(where.items())},
            survivors=len(survivors),
            survivors_IRC=sum(1 for c in survivors if c.door == "IRC"),
            survivors_ws=sum(1 for c in survivors if c.ws is not None),
            roll_call_expected=total, roll_call_received=received, fds_before=fds0,
            fds_peak=peak_fds, fds_after=fds, rss_before_kb=rss0, rss_peak_kb=peak_rss,
            rss_after_kb=rss, **dict(sorted(self.stats.items())))


def wait_fds(server, target, timeout):
    deadline = time.monotonic() + timeout
    fds = server.fd_count()
    while fds != target and time.monotonic() < deadline:
        time.sleep(0.05)
        fds = server.fd_count()
    return fds


def main():
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--bin", default=os.environ.get("NATTER_BIN",
                                                   os.path.join(repo, "build-asan", "natter")))
    p.add_argument("--seconds", type=float, default=60)
    p.add_argument("--clients", type=int, default=300)
    p.add_argument("--irc", type=float, default=0.33, help="the share of IRC clients")
    p.add_argument("--ws", type=float, default=0.25,
                   help="the share of clients (of either door) that come in over a WebSocket "
                        "(0: no web listener)")
    p.add_argument("--interval", type=float, default=3.0,
                   help="a client acts every 0.2 to this many seconds")
    p.add_argument("--idle-timeout", type=float, default=8)
    p.add_argument("--name-timeout", type=float, default=5)
    p.add_argument("--final", type=int, default=3, help="roll-call lines per survivor and room")
    p.add_argument("--seed", type=int, default=int(time.time()))
    p.add_argument("--behaviours", default=",".join(ALL_NAMES),
                   help=f"comma-separated, from {','.join(ALL_NAMES)}; those needing commands "
                        f"natter lacks are skipped")
    p.add_argument("--max-failures", type=int, default=500,
                   help="stop the churn after this many failures")
    p.add_argument("--rss-slack-mb", type=float, default=None,
                   help=f"RSS allowed above the baseline at the end (default 2; for an ASan "
                        f"build twice its quarantine, {QUARANTINE_MB} MB, + 32)")
    p.add_argument("--report", help="also write the report (JSON) here")
    a = p.parse_args()
    with open(a.bin, "rb") as f:
        a.sanitized = b"__asan_init" in f.read()
    if a.rss_slack_mb is None:
        a.rss_slack_mb = 2 * QUARANTINE_MB + 32 if a.sanitized else 2
    soak = Soak(a)
    report = soak.run()
    text = json.dumps(report, indent=1, sort_keys=True)
    print(text)
    if a.report:
        with open(a.report, "w") as f:
            f.write(text + "\n")
    if soak.failures:
        kinds = ", ".join(f"{k} {n}" for k, n in soak.fail_kinds.most_common())
        print(f"soak: FAILED, {len(soak.failures)} failures ({kinds}) (seed {a.seed})",
              file=sys.stderr)
        return 1
    print(f"soak: passed (seed {a.seed})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
