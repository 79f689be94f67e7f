"""Helpers for the web door's black-box tests (test_web.py, test_websocket.py, test_metrics.py):
HTTP/1.1 requests and responses read byte by byte, and WebSocket clients that write their own
frames (RFC 6455), so a test controls every bit a browser would send and checks every bit natter
answers.

- start_web: conftest's start_server (same teardown: SIGTERM, exit 0, no sanitizer report) with
  WebServer's helpers, on an http:// listener by default; Server.connect(addr) opens TLS for an
  https:// address.
- request(...) builds a request head; read_response(client) reads one response (the head
  byte-exact in Response.head, the body by its Content-Length) and checks the headers every
  answer carries.
- ws_open(server, ...) does the handshake on /ws and returns a WsClient: a conftest Client whose
  reads decode natter's frames. Each data message is one line of its door: read_line() returns
  the message and the door's line end (LF, or CR LF for IRC), so expect_line, expect_welcome,
  expect_silence and irc_helpers' Irc work unchanged, while send() sends one text frame. Every
  frame natter sends is checked on the way in: FIN set, no RSV bit, not masked, the shortest
  length form, the opcode of the subprotocol, no line end inside a message, nothing after Close.
- frame(...) builds a client frame, masked or not, with any header a test wants.
- WebDoors(server) for a server on DOORS: .line(name) (nc), .ws(name) (natter.line),
  .irc(nick) (IRC over TCP), .ws_irc(nick) (IRC over a WebSocket).
- Metrics(text) parses /metrics strictly (every line a sample, # HELP or # TYPE); scrape(server)
  fetches and parses it.
"""
import base64
import hashlib
import os
import re
import socket
import struct
import subprocess
import time
from email.utils import parsedate_to_datetime

import pytest

import conftest
from conftest import NATTER_BIN, PROMPT, WAIT, Client, Server, scaled
from irc_helpers import Irc

WEB = "http://127.0.0.1:0"
WEB_TLS = "https://127.0.0.1:0"
DOORS = ("127.0.0.1:0", "irc://127.0.0.1:0", WEB)  # WebDoors' listeners
WEB_DIR = conftest.REPO / "web"
GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
# PROTOCOL.md §9.2: what every answer of the web door says about its content.
CSP = ("default-src 'self'; connect-src 'self'; img-src 'self' data:; style-src 'self'; "
       "script-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")

# Close codes (RFC 6455 §7.4.1)
NORMAL, GOING_AWAY, PROTOCOL_ERROR, BAD_DATA, TOO_BIG = 1000, 1001, 1002, 1007, 1009
TEXT, BINARY, CONT, CLOSE, PING, PONG = 0x1, 0x2, 0x0, 0x8, 0x9, 0xA


# --------------------------------------------------------------------------------------------
# The server


class WebServer(Server):
    """conftest's Server with the web door's helpers."""

    def web(self, scheme="http"):
        """The number of the first address of scheme (http or https)."""
        return self.address_of(scheme)

    def authority(self, addr):
        """HOST:PORT of listening address number addr, as a Host header gives it."""
        host, port, family = self.addresses[addr]
        return f"[{host}]:{port}" if family == socket.AF_INET6 else f"{host}:{port}"

    def origin(self, addr):
        """The page's own origin for listening address number addr."""
        scheme = "https" if self.schemes[addr] == "https" else "http"
        return f"{scheme}://{self.authority(addr)}"


@pytest.fixture
def start_web(start_server):
    """start_web(*args, listen=(WEB,), tls=None, pace=False, env=None): conftest's start_server
    (same teardown) with WebServer's helpers, on the web door by default."""

    def start(*args, listen=(WEB,), **kwargs):
        return start_server(*args, listen=listen, server_class=WebServer, **kwargs)

    return start


def connect_from(server, source, addr, label=None):
    """A plain TCP connection to listening address number addr from local address source
    (127.0.0.2...). The server's teardown closes it."""
    host, port, family = server.addresses[addr]
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.bind((source, 0))
        sock.settimeout(WAIT)
        sock.connect((host, port))
    except OSError:
        sock.close()
        raise
    sock.settimeout(None)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    c = Client(sock, label or f"{source}:{sock.getsockname()[1]}")
    c.local_port
    server.clients.append(c)
    return c


# --------------------------------------------------------------------------------------------
# HTTP


def request(target="/", method="GET", host="127.0.0.1", headers=(), version="HTTP/1.1"):
    """A request head (bytes): the request line, Host (unless host is None), headers (pairs, in
    order) and the blank line, every line ending in CR LF."""
    lines = [f"{method} {target} {version}"]
    if host is not None:
        lines.append(f"Host: {host}")
    lines += [f"{k}: {v}" for k, v in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


class Response:
    def __init__(self, version, status, reason, headers, body, head):
        self.version, self.status, self.reason = version, status, reason
        self.headers = headers  # [(name, value)] as sent
        self.body = body
        self.head = head  # the head's bytes, blank line included

    def all(self, name):
        return [v for k, v in self.headers if k.lower() == name.lower()]

    def header(self, name):
        """The value of the one field called name, or None; fails when there are several."""
        values = self.all(name)
        assert len(values) <= 1, f"{len(values)} {name} fields in {self.head!r}"
        return values[0] if values else None

    def __repr__(self):
        return f"<Response {self.status} {self.reason} {self.headers} body={self.body[:80]!r}>"


STATUS_LINE = re.compile(rb"HTTP/1\.1 (\d{3}) ([^\r\n]+)")
FIELD_LINE = re.compile(rb"([!#$%&'*+.^_`|~0-9A-Za-z-]+): ([^\r\n]*[^\r\n ]|)")


def read_head(client, timeout=None):
    """The next response head from client (bytes up to and with the blank line)."""
    deadline = time.monotonic() + (WAIT if timeout is None else timeout)
    while True:
        i = client.buf.find(b"\r\n\r\n")
        if i >= 0:
            head = bytes(client.buf[: i + 4])
            del client.buf[: i + 4]
            return head
        if client.eof:
            pytest.fail(f"{client.label}: closed before a whole response head; got "
                        f"{bytes(client.buf)!r}", pytrace=False)
        if not client._fill(deadline):
            pytest.fail(f"{client.label}: no whole response head in time; got "
                        f"{bytes(client.buf)!r}", pytrace=False)


def read_response(client, method="GET", timeout=None):
    """Reads one response. The head must be well-formed HTTP/1.1 (CR LF line ends, one field a
    line); the body is Content-Length bytes (none for HEAD, 1xx and 304). Every answer but 101
    and 304 has the fields natter always sends (Server, a Date, Content-Type, Content-Length,
    Connection, nosniff, the CSP)."""
    head = read_head(client, timeout)
    lines = head[:-4].split(b"\r\n")
    m = STATUS_LINE.fullmatch(lines[0])
    assert m, f"{client.label}: bad status line {lines[0]!r}"
    status, reason = int(m.group(1)), m.group(2).decode()
    headers = []
    for line in lines[1:]:
        f = FIELD_LINE.fullmatch(line)
        assert f, f"{client.label}: bad field line {line!r} in {head!r}"
        headers.append((f.group(1).decode(), f.group(2).decode()))
    r = Response("HTTP/1.1", status, reason, headers, b"", head)
    if status not in (101, 304):
        assert r.header("Server") == f"natter/{natter_version()}", head
        parsedate_to_datetime(r.header("Date"))  # an IMF-fixdate
        assert re.fullmatch(r"\w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT", r.header("Date")), head
        assert r.header("Content-Type"), head
        assert r.header("X-Content-Type-Options") == "nosniff", head
        assert r.header("Content-Security-Policy") == CSP, head
        assert r.header("Connection") in ("keep-alive", "close"), head
    length = r.header("Content-Length")
    if status == 304 or 100 <= status < 200:
        assert length is None, f"{status} with a Content-Length: {head!r}"
        return r
    assert length is not None and length.isdigit(), f"no Content-Length in {head!r}"
    if method == "HEAD":
        return r
    n = int(length)
    deadline = time.monotonic() + (WAIT if timeout is None else timeout)
    while len(client.buf) < n:
        if client.eof or not client._fill(deadline):
            pytest.fail(f"{client.label}: body of {n} bytes cut at {len(client.buf)}",
                        pytrace=False)
    r.body = bytes(client.buf[:n])
    del client.buf[:n]
    return r


def get(client, target="/", method="GET", **kw):
    """Sends one request (request(...)) and reads its response."""
    client.send_raw(request(target, method, **kw))
    return read_response(client, method)


def expect_answer_then_close(client, status, body=None, method="GET"):
    """Reads a response of status that says Connection: close, then the close (FIN) with no
    byte after it. Returns the response."""
    r = read_response(client, method)
    assert r.status == status, f"{client.label}: expected {status}, got {r!r}"
    if body is not None:
        assert r.body == body, f"{client.label}: body {r.body!r}, expected {body!r}"
    assert r.header("Connection") == "close", r.head
    client.expect_closed()
    return r


_VERSION = []


def natter_version():
    if not _VERSION:
        out = subprocess.run([NATTER_BIN, "--version"], capture_output=True, timeout=scaled(10),
                             check=True).stdout.decode()
        _VERSION.append(re.match(r"natter (\S+)", out).group(1))
    return _VERSION[0]


# --------------------------------------------------------------------------------------------
# WebSocket frames


def accept_of(key):
    """Sec-WebSocket-Accept for key (RFC 6455 §4.2.2)."""
    return base64.b64encode(hashlib.sha1(key.encode() + GUID).digest()).decode()


def new_key():
    return base64.b64encode(os.urandom(16)).decode()


def frame(opcode, payload=b"", fin=True, mask=True, rsv=0, length=None, key=None):
    """A client frame: FIN, RSV bits (rsv is 0-7: RSV1 is 4), opcode, the shortest length form of
    length (default: len(payload)), the masking key when mask (random unless key), the payload
    masked."""
    if isinstance(payload, str):
        payload = payload.encode()
    n = len(payload) if length is None else length
    b0 = (0x80 if fin else 0) | (rsv & 7) << 4 | opcode
    mbit = 0x80 if mask else 0
    if n < 126:
        head = struct.pack("!BB", b0, mbit | n)
    elif n < 1 << 16:
        head = struct.pack("!BBH", b0, mbit | 126, n)
    else:
        head = struct.pack("!BBQ", b0, mbit | 127, n)
    if not mask:
        return head + payload
    k = key if key is not None else os.urandom(4)
    return head + k + bytes(b ^ k[i & 3] for i, b in enumerate(payload))


def close_payload(code=None, reason=b""):
    return b"" if code is None else struct.pack("!H", code) + reason


class Frame:
    def __init__(self, opcode, payload, raw):
        self.opcode, self.payload, self.raw = opcode, payload, raw

    @property
    def code(self):
        """A Close frame's code (None without one)."""
        return struct.unpack("!H", self.payload[:2])[0] if len(self.payload) >= 2 else None

    def __repr__(self):
        return f"<Frame op={self.opcode:#x} {self.payload[:80]!r}>"


def parse_server_frame(buf, label):
    """(Frame, size) for the server frame at the start of buf, or None when incomplete. Fails on
    anything RFC 6455 forbids a server (§5.1 mask, §5.2 RSV and length forms, §5.5 control
    frames)."""
    if len(buf) < 2:
        return None
    b0, b1 = buf[0], buf[1]
    assert b0 & 0x70 == 0, f"{label}: server frame with an RSV bit: {bytes(buf[:16])!r}"
    assert b1 & 0x80 == 0, f"{label}: masked server frame: {bytes(buf[:16])!r}"
    assert b0 & 0x80, f"{label}: fragmented server frame (natter sends whole messages): " \
                      f"{bytes(buf[:16])!r}"
    opcode = b0 & 0x0F
    assert opcode in (TEXT, BINARY, CLOSE, PING, PONG), f"{label}: opcode {opcode:#x}"
    n, at = b1 & 0x7F, 2
    if n == 126:
        if len(buf) < 4:
            return None
        n, at = struct.unpack("!H", buf[2:4])[0], 4
        assert n >= 126, f"{label}: {n} bytes in the 16-bit length form"
    elif n == 127:
        if len(buf) < 10:
            return None
        n, at = struct.unpack("!Q", buf[2:10])[0], 10
        assert n >= 1 << 16, f"{label}: {n} bytes in the 64-bit length form"
    if opcode >= CLOSE:
        assert n <= 125, f"{label}: control frame of {n} bytes"
    if len(buf) < at + n:
        return None
    return Frame(opcode, bytes(buf[at:at + n]), bytes(buf[:at + n])), at + n


class WsClient(Client):
    """A WebSocket after the handshake, seen as a stream of lines: each data message natter sends
    is one line of its door (line end `eol` added here, after checking the message holds none).
    Control frames go to self.controls; the Close to self.close_frame (and nothing may follow it).
    send(text) sends one text frame, send_raw(lines) one a line, send_frame(...) any frame and
    write(bytes) raw bytes."""

    def __init__(self, plain, response, eol=b"\n", opcode=TEXT):
        super().__init__(plain.sock, plain.label)
        self._port = plain.local_port
        self.response = response
        self.eol = eol
        self.opcode = opcode  # what every data frame of natter's must be
        self.raw = bytearray(plain.buf)  # bytes after the 101 belong to the frame stream
        plain.buf.clear()
        self.frames = []  # every frame received, in order
        self.controls = []  # Ping, Pong and Close frames not yet looked at
        self.close_frame = None
        self._decode()

    def _decode(self):
        while True:
            got = parse_server_frame(self.raw, self.label)
            if got is None:
                return
            f, size = got
            del self.raw[:size]
            assert self.close_frame is None, \
                f"{self.label}: a frame after the Close: {f!r}"
            self.frames.append(f)
            if f.opcode in (TEXT, BINARY):
                assert f.opcode == self.opcode, \
                    f"{self.label}: data frame of opcode {f.opcode:#x}, expected " \
                    f"{self.opcode:#x}: {f!r}"
                assert b"\n" not in f.payload and b"\r" not in f.payload, \
                    f"{self.label}: a line end inside a message: {f.payload!r}"
                if f.opcode == TEXT:
                    try:
                        f.payload.decode("utf-8")
                    except UnicodeDecodeError:
                        pytest.fail(f"{self.label}: text frame not UTF-8: {f.payload!r}",
                                    pytrace=False)
                self.buf += f.payload + self.eol
            else:
                if f.opcode == CLOSE:
                    self.close_frame = f
                self.controls.append(f)

    def _take(self, data):
        """Bytes read are frames: every whole one is decoded (conftest's Client._fill reads)."""
        self.raw += data
        self._decode()

    def _at_eof(self):
        assert not self.raw, f"{self.label}: closed inside a frame: {bytes(self.raw)!r}"

    # -- sending

    def send(self, text):
        """One text message holding text (no line end added)."""
        self.write(frame(TEXT, text.encode() if isinstance(text, str) else text))

    def send_raw(self, data):
        """data as a line stream (as Client.send_raw, for irc_helpers' Irc): each line, its LF
        and a CR before it taken off, is one text message, and so is a rest without LF."""
        lines = data.split(b"\n")
        if lines[-1] == b"":
            lines.pop()
        self.write(b"".join(frame(TEXT, line[:-1] if line.endswith(b"\r") else line)
                            for line in lines))

    def send_frame(self, opcode, payload=b"", **kw):
        self.write(frame(opcode, payload, **kw))

    def write(self, data):
        """Raw bytes onto the socket (frames made by frame())."""
        self.sock.sendall(data)

    # -- reading

    def expect_line(self, expected, timeout=None):
        """The next message is exactly expected (str or bytes)."""
        if isinstance(expected, str):
            expected = expected.encode("utf-8")
        got = self.read_line(timeout)
        assert got == expected + self.eol, \
            f"{self.label}: expected the message {expected!r}, got {got[:-len(self.eol)]!r}"

    def expect_bytes(self, expected, timeout=None):
        """The next message is exactly expected (the prompt: `Enter your name: `)."""
        got = self.read_line(timeout)
        assert got == expected + self.eol, \
            f"{self.label}: expected the message {expected!r}, got {got[:-len(self.eol)]!r}"

    def expect_control(self, opcode, payload=None, timeout=None):
        """Waits for the next control frame; asserts its opcode (and payload). Data messages
        that come first stay in self.buf."""
        deadline = time.monotonic() + (WAIT if timeout is None else timeout)
        while not self.controls:
            if self.eof:
                pytest.fail(f"{self.label}: closed before a control frame "
                            f"(data {bytes(self.buf)!r})", pytrace=False)
            if not self._fill(deadline):
                pytest.fail(f"{self.label}: no control frame in time (data "
                            f"{bytes(self.buf[-200:])!r})", pytrace=False)
        f = self.controls.pop(0)
        assert f.opcode == opcode, f"{self.label}: expected control {opcode:#x}, got {f!r}"
        if payload is not None:
            assert f.payload == payload, f"{self.label}: {f!r}, expected payload {payload!r}"
        return f

    def expect_ws_close(self, code, timeout=None, data=b""):
        """natter's Close frame with code (None: no code) and no reason, preceded by exactly the
        messages data (bytes, lines with eol), then the TCP close (FIN) with nothing after it."""
        deadline = time.monotonic() + (WAIT if timeout is None else timeout)
        while self.close_frame is None:
            if self.eof:
                pytest.fail(f"{self.label}: TCP closed without a Close frame; data "
                            f"{bytes(self.buf[-200:])!r}", pytrace=False)
            if not self._fill(deadline):
                pytest.fail(f"{self.label}: no Close frame in time; data "
                            f"{bytes(self.buf[-200:])!r}", pytrace=False)
        assert bytes(self.buf) == data, \
            f"{self.label}: before the Close: {bytes(self.buf)!r}, expected {data!r}"
        self.buf.clear()
        want = close_payload(code)
        assert self.close_frame.payload == want, \
            f"{self.label}: Close {self.close_frame.payload!r}, expected {want!r}"
        others = [f for f in self.controls if f is not self.close_frame]
        assert not others, f"{self.label}: control frames before the Close: {others}"
        self.controls.clear()
        while not self.eof:
            if not self._fill(deadline):
                pytest.fail(f"{self.label}: TCP still open {WAIT:.1f}s after the Close",
                            pytrace=False)
        assert not self.reset, f"{self.label}: RST instead of a FIN after the Close"

    def close_ws(self, code=NORMAL):
        """Sends a Close frame (the client's closing handshake)."""
        self.send_frame(CLOSE, close_payload(code))


def ws_request(server, addr, protocols=None, origin=None, host=None, key=None, path="/ws",
               headers=(), version="13", method="GET", http="HTTP/1.1"):
    """The handshake request (bytes) a browser would send, with each part replaceable; a None
    part is left out (version=None: no Sec-WebSocket-Version)."""
    h = [("Upgrade", "websocket"), ("Connection", "Upgrade")]
    h.append(("Sec-WebSocket-Key", key if key is not None else new_key()))
    if version is not None:
        h.append(("Sec-WebSocket-Version", version))
    if protocols:
        h.append(("Sec-WebSocket-Protocol", ", ".join(protocols)))
    if origin is not None:
        h.append(("Origin", origin))
    h += list(headers)
    return request(path, method, host=server.authority(addr) if host is None else host,
                   headers=h, version=http)


def ws_open(server, addr=None, protocols=("natter.line",), origin=None, label=None,
            rcvbuf=None, tls_context=None, headers=(), after=b""):
    """Connects to web address number addr (default: the first http one), hands shakes with
    subprotocols protocols, checks the 101 byte for byte (RFC 6455 §4.2.2; the subprotocol natter
    picks: the first of protocols it speaks, in the client's order) and returns a WsClient whose
    line end is that door's. after: bytes sent in the same write as the request."""
    if addr is None:
        addr = server.web("https") if "https" in server.schemes and "http" not in server.schemes \
            else server.web("http")
    c = server.connect(addr, rcvbuf=rcvbuf, label=label, tls_context=tls_context)
    key = new_key()
    c.send_raw(ws_request(server, addr, protocols, origin, key=key, headers=headers) + after)
    head = read_head(c)
    spoken = [p for p in (protocols or ()) if p in ("natter.line", "text.ircv3.net",
                                                    "binary.ircv3.net")]
    chosen = spoken[0] if spoken else None
    want = (f"HTTP/1.1 101 Switching Protocols\r\nServer: natter/{natter_version()}\r\n"
            f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: "
            f"{accept_of(key)}\r\n"
            + (f"Sec-WebSocket-Protocol: {chosen}\r\n" if chosen else "") + "\r\n").encode()
    assert head == want, f"{c.label}: the 101 differs:\n  got  {head!r}\n  want {want!r}"
    ws = WsClient(c, head, eol=b"\n" if chosen == "natter.line" else b"\r\n",
                  opcode=BINARY if chosen == "binary.ircv3.net" else TEXT)
    server.clients[server.clients.index(c)] = ws
    return ws


def ws_join(server, name, addr=None, **kw):
    """A line user over WebSocket (natter.line): the prompt message, the name, the join log line
    and the welcome (PROTOCOL.md §2.1, §2.6)."""
    ws = ws_open(server, addr, label=name, **kw)
    ws.expect_bytes(PROMPT)
    ws.send(name)
    server.wait_joined(name, ws)
    return ws


class WebDoors:
    """One server with a line, an IRC and a web address (listen=DOORS), and its users."""

    def __init__(self, server):
        self.server = server
        self.tcp, self.irc_addr, self.web = (server.address_of(s) for s in ("tcp", "irc", "http"))

    def line(self, name):
        """A line user on nc (TCP), named."""
        c = self.server.connect(self.tcp, label=name)
        c.expect_bytes(PROMPT)
        c.send(name)
        self.server.wait_joined(name, c)
        return c

    def ws(self, name, **kw):
        """A line user over a natter.line WebSocket, named."""
        return ws_join(self.server, name, self.web, **kw)

    def irc(self, nick):
        """An IRC user over TCP, registered."""
        c = Irc(self.server.connect(self.irc_addr, label=nick))
        c.register(nick)
        return c

    def ws_irc(self, nick, protocol="text.ircv3.net"):
        """An IRC user over a WebSocket, registered."""
        c = Irc(ws_open(self.server, self.web, protocols=[protocol], label=nick))
        c.register(nick)
        return c


class WsTarget:
    """A server as chat_helpers.howto_transcript sees one, whose connections are natter.line
    WebSockets."""

    def __init__(self, server, addr=None):
        self.server, self.addr = server, addr

    def connect(self, label=None, **kw):
        return ws_open(self.server, self.addr, label=label, **kw)

    def wait_joined(self, name, client):
        self.server.wait_joined(name, client)


# --------------------------------------------------------------------------------------------
# Prometheus text format (version 0.0.4)

METRIC_NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*"'
SAMPLE = re.compile(rf"({METRIC_NAME})(?:\{{((?:{LABEL})(?:,{LABEL})*)?\}})? "
                    r"([-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?|[-+]?Inf|NaN)"
                    r"(?: -?\d+)?")
HELP = re.compile(rf"# HELP ({METRIC_NAME}) (.*)")
TYPE = re.compile(rf"# TYPE ({METRIC_NAME}) (counter|gauge|histogram|summary|untyped)")


class Metrics:
    """A parsed /metrics body: samples[(name, frozenset of (label, value))] = float."""

    def __init__(self, text):
        self.text = text
        self.samples = {}
        self.types = {}
        self.helps = {}
        assert text.endswith("\n"), "the exposition must end with a line end"
        for line in text[:-1].split("\n"):
            if line.startswith("#"):
                m = HELP.fullmatch(line)
                if m:
                    assert m.group(1) not in self.helps, f"second HELP: {line!r}"
                    assert m.group(1) not in self.seen_names(), f"HELP after samples: {line!r}"
                    self.helps[m.group(1)] = m.group(2)
                    continue
                m = TYPE.fullmatch(line)
                assert m, f"a comment that is neither # HELP nor # TYPE: {line!r}"
                assert m.group(1) not in self.types, f"second TYPE: {line!r}"
                assert m.group(1) not in self.seen_names(), f"TYPE after samples: {line!r}"
                self.types[m.group(1)] = m.group(2)
                continue
            m = SAMPLE.fullmatch(line)
            assert m, f"not a valid sample line: {line!r}"
            name = m.group(1)
            assert name in self.types, f"sample without a # TYPE before it: {line!r}"
            labels = frozenset(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"',
                                          m.group(2) or ""))
            key = (name, labels)
            assert key not in self.samples, f"sample repeated: {line!r}"
            self.samples[key] = float(m.group(3))
            if self.types[name] == "counter":
                assert self.samples[key] >= 0, f"negative counter: {line!r}"
        for name in self.types:
            assert name in self.seen_names(), f"# TYPE {name} without a sample"

    def seen_names(self):
        return {name for name, _ in self.samples}

    def get(self, name, **labels):
        key = (name, frozenset(labels.items()))
        assert key in self.samples, f"no sample {name}{labels or ''} in:\n{self.text}"
        return self.samples[key]


def scrape(server, addr=None, client=None):
    """GET /metrics (a new connection unless client); returns Metrics."""
    if addr is None:
        addr = server.web("http") if "http" in server.schemes else server.web("https")
    c = client or server.connect(addr, label="scraper")
    r = get(c, "/metrics", host=server.authority(addr),
            headers=() if client else (("Connection", "close"),))
    assert r.status == 200, r
    assert r.header("Content-Type") == "text/plain; version=0.0.4; charset=utf-8", r.head
    if client is None:
        c.expect_closed()
        c.close()
    return Metrics(r.body.decode("utf-8"))
