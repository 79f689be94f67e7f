"""A raw IRC client for the IRC door's black-box tests (PROTOCOL.md §8), on top of conftest's
Client (so TLS, deadlines and the teardown work unchanged).

- Irc(client): send(line) adds CR LF; read() returns one line without its CR LF and fails unless
  it ended with CR LF, holds no other CR, LF or NUL (§8: every line ends with CR LF; §8.9: no
  parameter can start a second line) and is at most 512 bytes with its CR LF, tags not counted
  (RFC 2812 §2.3, which §8 follows); expect(line) is byte-exact; expect_match(regex) fullmatches;
  expect_timed(line) requires the `@time=` tag of server-time (§8.3) and returns its time;
  read_untimed()/expect_untimed(line) skip such a tag when a test does not care about it;
  read_until(predicate) collects lines up to the first that satisfies it; barrier() is a PING
  whose PONG must be the next line, which proves nothing else was queued before it.
  Nothing is answered automatically: a test of PING sees the PING (read_until(...,
  answer_pings=True) answers them only when asked).
- register(nick, caps=None) and join(channel) walk through registration (to 376) and JOIN (to
  366); welcome_burst() builds the exact lines of §8.2 a test compares with.
- Doors(server): one server with a line and an IRC address; .line(name) joins a line user,
  .irc(nick, caps) connects (and registers) an IRC user.
"""
import calendar
import re
import subprocess
import time

import pytest

from conftest import NATTER_BIN, PROMPT, WAIT, scaled

CRLF = b"\r\n"
# The longest IRC message without CR LF and tags (RFC 2812 §2.3: 512 with CR LF).
MAX_MESSAGE = 510
# PROTOCOL.md §8.3
CAPS = "away-notify echo-message message-tags multi-prefix server-time"
# PROTOCOL.md §8.2, the 005 line after ME
ISUPPORT = ("AWAYLEN=200 CASEMAPPING=ascii CHANLIMIT=#:50 CHANMODES=,,,n CHANNELLEN=129 "
            "CHANTYPES=# NETWORK=natter NICKLEN=128 PREFIX=(o)@ "
            "TARGMAX=JOIN:,PART:,PRIVMSG:4,NOTICE:4,TAGMSG:4,NAMES:1,WHOIS:1,USERHOST:5,ISON: "
            "TOPICLEN=300 UTF8ONLY :are supported by this server")
# `@time=YYYY-MM-DDTHH:MM:SS.mmmZ ` (§8.3 server-time) at the start of a line.
TIME_TAG = re.compile(rb"@time=(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z) ")
LISTEN = ("127.0.0.1:0", "irc://127.0.0.1:0")
LISTEN_TLS = ("127.0.0.1:0", "ircs://127.0.0.1:0")


def b(text):
    return text.encode("utf-8") if isinstance(text, str) else bytes(text)


def user_of(nick):
    """USER in a source: the nick in ASCII lower case (PROTOCOL.md §8)."""
    return "".join(ch.lower() if "A" <= ch <= "Z" else ch for ch in nick)


def source(nick):
    """A user's source, NICK!USER@natter (PROTOCOL.md §8)."""
    return f"{nick}!{user_of(nick)}@natter"


def from_(nick, rest):
    """A message from nick: ':NICK!USER@natter REST'."""
    return f":{source(nick)} {rest}"


def parse_time(stamp):
    """Seconds since the epoch of a server-time stamp (bytes or str, YYYY-MM-DDTHH:MM:SS.mmmZ)."""
    if isinstance(stamp, bytes):
        stamp = stamp.decode()
    whole, ms = stamp[:-1].split(".")
    return calendar.timegm(time.strptime(whole, "%Y-%m-%dT%H:%M:%S")) + int(ms) / 1000


def split_time(line):
    """(time string or None, line without the @time tag) for one received line (bytes)."""
    m = TIME_TAG.match(line)
    if m:
        return m.group(1).decode(), line[m.end():]
    return None, line


_VERSION = []


def natter_version():
    """VERSION of `natter --version` ("natter 0.1.0 (libuv ...)"), for 002 and 004."""
    if not _VERSION:
        out = subprocess.run([NATTER_BIN, "--version"], capture_output=True, timeout=scaled(10),
                             check=True).stdout.decode()
        m = re.match(r"natter (\S+)", out)
        assert m, f"natter --version printed {out!r}"
        _VERSION.append(m.group(1))
    return _VERSION[0]


def welcome_burst(nick, users, opers=0, channels=0):
    """The exact welcome burst of PROTOCOL.md §8.2 for nick, as a list of str or compiled
    regexes (003's date): users counts every user of every door, the newcomer included."""
    v = natter_version()
    lines = [
        f":natter 001 {nick} :Welcome to the natter IRC network, {nick}",
        f":natter 002 {nick} :Your host is natter, running version natter-{v}",
        re.compile(re.escape(f":natter 003 {nick} :This server was created ").encode()
                   + rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"),
        f":natter 004 {nick} natter natter-{v} io n",
        f":natter 005 {nick} {ISUPPORT}",
    ]
    lines += lusers(nick, users, opers, channels)
    lines += motd(nick)
    return lines


def lusers(nick, users, opers=0, channels=0):
    lines = [f":natter 251 {nick} :There are {users} users and 0 invisible on 1 servers"]
    if opers:
        lines.append(f":natter 252 {nick} {opers} :operator(s) online")
    lines += [f":natter 254 {nick} {channels} :channels formed",
              f":natter 255 {nick} :I have {users} clients and 1 servers"]
    return lines


def motd(nick):
    return [f":natter 375 {nick} :- natter Message of the day -",
            f":natter 372 {nick} :- Rooms are channels: people on nc and telnet arrive in #lobby.",
            f":natter 376 {nick} :End of /MOTD command."]


def _matches(expected, got):
    if isinstance(expected, re.Pattern):
        return expected.fullmatch(got) is not None
    return b(expected) == got


class Irc:
    """One IRC connection. Every read has a deadline (WAIT unless given)."""

    def __init__(self, client, nick=None):
        self.c = client
        self.nick = nick

    def __repr__(self):
        return f"<Irc {self.c.label}>"

    @property
    def label(self):
        return self.c.label

    @property
    def local_port(self):
        return self.c.local_port

    # -- sending

    def send(self, line):
        """Sends one line (str or bytes) followed by CR LF."""
        self.c.send_raw(b(line) + CRLF)

    def send_raw(self, data):
        self.c.send_raw(data)

    # -- reading

    def read(self, timeout=None):
        """One line without its CR LF (bytes). Fails on timeout, on a close, on a line that does
        not end with CR LF, on a CR or NUL inside a line (§8, §8.9), and on a message over 512
        bytes with its CR LF, tags not counted (RFC 2812 §2.3, which §8 follows)."""
        line = self.c.read_line(timeout)
        assert line.endswith(CRLF), f"{self.label}: line without CR LF: {line!r}"
        body = line[:-2]
        assert b"\r" not in body and b"\0" not in body, \
            f"{self.label}: CR or NUL inside a line: {line!r}"
        message = body.split(b" ", 1)[-1] if body.startswith(b"@") else body
        assert len(message) <= MAX_MESSAGE, \
            f"{self.label}: a message of {len(message) + 2} bytes with CR LF (at most 512): " \
            f"{body[:100]!r}...{body[-40:]!r}"
        return body

    def expect(self, expected, timeout=None):
        """Reads one line and asserts it is expected (str, bytes or compiled regex), byte for
        byte, without CR LF. Returns the line."""
        got = self.read(timeout)
        assert _matches(expected, got), f"{self.label}: expected {_show(expected)}, got {got!r}"
        return got

    def expect_lines(self, expected, timeout=None):
        """expect() for each of a list, in order."""
        return [self.expect(e, timeout) for e in expected]

    def expect_match(self, pattern, timeout=None):
        """Reads one line and fullmatches the regex pattern (str or bytes); returns the match."""
        rx = re.compile(b(pattern))
        got = self.read(timeout)
        m = rx.fullmatch(got)
        assert m, f"{self.label}: expected a line matching {rx.pattern!r}, got {got!r}"
        return m

    def expect_timed(self, expected, timeout=None):
        """Reads one line that must start with the server-time tag (§8.3) followed by expected
        (str, bytes or regex); returns the tag's time in seconds since the epoch."""
        got = self.read(timeout)
        stamp, rest = split_time(got)
        assert stamp is not None, f"{self.label}: no @time tag on {got!r} (expected " \
                                  f"@time=... {_show(expected)})"
        assert _matches(expected, rest), \
            f"{self.label}: expected @time=... {_show(expected)}, got {got!r}"
        return parse_time(stamp)

    def read_untimed(self, timeout=None):
        """read() with a leading server-time tag, if any, skipped."""
        return split_time(self.read(timeout))[1]

    def expect_untimed(self, expected, timeout=None):
        """expect() of the line after its server-time tag, if it has one."""
        got = self.read_untimed(timeout)
        assert _matches(expected, got), f"{self.label}: expected {_show(expected)}, got {got!r}"
        return got

    def read_until(self, predicate, timeout=None, answer_pings=False):
        """Reads lines until predicate(line) is true (line: bytes without CR LF) and returns
        them all, that last one included. One deadline for the whole wait. answer_pings: a
        `PING :TOKEN` is answered with `PONG :TOKEN` (and kept in the list)."""
        limit = WAIT if timeout is None else timeout
        deadline = time.monotonic() + limit
        lines = []
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                pytest.fail(f"{self.label}: no awaited line within {limit:.1f}s; got "
                            f"{lines[-20:]!r}", pytrace=False)
            line = self.read(left)
            lines.append(line)
            if answer_pings and line.startswith(b"PING "):
                self.send(b"PONG " + line[5:])
            if predicate(line):
                return lines

    def read_until_line(self, expected, timeout=None, answer_pings=False):
        """read_until the line equal to expected (str, bytes or regex)."""
        return self.read_until(lambda line: _matches(expected, line), timeout, answer_pings)

    def poll(self, seconds, answer_pings=False):
        """The complete lines that arrive within seconds, maybe none (never fails on the
        time); answer_pings as for read_until. Stops early at a close."""
        deadline = time.monotonic() + seconds
        lines = []
        while True:
            while b"\n" in self.c.buf:
                line = self.read()
                lines.append(line)
                if answer_pings and line.startswith(b"PING "):
                    self.send(b"PONG " + line[5:])
            if self.c.eof or not self.c._fill(deadline):
                return lines

    def expect_silence(self, seconds):
        self.c.expect_silence(seconds)

    def barrier(self, token="barrier", timeout=None):
        """PING TOKEN; its PONG (§8.9) must be the next line: nothing was queued for this client
        before the server read the PING. Use after another client saw a line arrive, to prove
        it did not reach this one."""
        self.send(f"PING {token}")
        self.expect(f":natter PONG natter :{token}", timeout)

    def expect_error(self, reason, timeout=None):
        """`ERROR :Closing link: REASON`, then the close (FIN)."""
        self.expect(f"ERROR :Closing link: {reason}", timeout)
        self.c.expect_closed(timeout)

    def expect_closed(self, timeout=None):
        self.c.expect_closed(timeout)

    def read_until_closed(self, timeout=None):
        return self.c.read_until_closed(timeout)

    def close(self):
        self.c.close()

    # -- registration and channels

    def register(self, nick, caps=None, user=None, realname=None, burst=None):
        """Registers as nick (PROTOCOL.md §8.2): with caps (a list or a space-separated str),
        CAP LS 302 and CAP REQ first (each answered before the next is sent, so ME is `*`),
        then NICK, USER and CAP END; without, NICK and USER. Reads the welcome burst to 376;
        burst (a list as welcome_burst gives) is compared line by line. Returns the burst."""
        if caps is not None:
            if not isinstance(caps, str):
                caps = " ".join(caps)
            self.send("CAP LS 302")
            self.expect(f":natter CAP * LS :{CAPS}")
            if caps:
                self.send(f"CAP REQ :{caps}")
                self.expect(f":natter CAP * ACK :{caps}")
        self.send(f"NICK {nick}")
        self.send(f"USER {user or user_of(nick)} 0 * :{realname or nick}")
        if caps is not None:
            self.send("CAP END")
        self.nick = nick
        return self.expect_burst(nick, burst)

    def expect_burst(self, nick, burst=None):
        """Reads the welcome burst: 001 first, up to 376; compared with burst when given."""
        first = self.expect(f":natter 001 {nick} :Welcome to the natter IRC network, {nick}")
        lines = [first] + self.read_until_line(f":natter 376 {nick} :End of /MOTD command.")
        if burst is not None:
            assert len(lines) == len(burst) and all(map(_matches, burst, lines)), \
                f"{self.label}: welcome burst differs:\n  expected {[_show(x) for x in burst]}" \
                f"\n  got      {lines}"
        self.nick = nick
        return lines

    def join(self, channel, names=None, topic=None):
        """JOIN channel (PROTOCOL.md §8.4) and read through 366. The first line must be the
        JOIN echo (a server-time tag allowed); names (list) and topic (text, or None for none:
        no 332/333 then) are checked when names is given. Returns the lines after the echo."""
        self.send(f"JOIN {channel}")
        _, echo = split_time(self.read())
        assert echo == b(from_(self.nick, f"JOIN {channel}")), \
            f"{self.label}: expected the JOIN echo for {channel}, got {echo!r}"
        end = f":natter 366 {self.nick} {channel} :End of /NAMES list."
        lines = self.read_until_line(end)
        if names is not None:
            want = []
            if topic is not None:
                want += [f":natter 332 {self.nick} {channel} :{topic}",
                         re.compile(re.escape(f":natter 333 {self.nick} {channel} ").encode()
                                    + rb"\S+ \d+")]
            want += [f":natter 353 {self.nick} = {channel} :{' '.join(names)}", end]
            assert len(lines) == len(want) and all(map(_matches, want, lines)), \
                f"{self.label}: JOIN {channel}: expected {[_show(x) for x in want]}, got {lines}"
        return lines


def _show(expected):
    if isinstance(expected, re.Pattern):
        return f"/{expected.pattern!r}/"
    return repr(b(expected))


class Doors:
    """A server listening on a line address and an IRC (or IRCS) address."""

    def __init__(self, server, irc_scheme="irc"):
        self.server = server
        self.tcp = server.address_of("tcp")
        self.irc_addr = server.address_of(irc_scheme)

    def line(self, name, rcvbuf=None):
        """A line user named name: the prompt, the name, the welcome line (PROTOCOL.md §2.1,
        §2.6). The welcome is the newcomer's first line, so it alone says the name was taken;
        the log line Server.join waits for is not needed."""
        c = self.server.connect(self.tcp, rcvbuf=rcvbuf, label=name)
        c.expect_bytes(PROMPT)
        c.send(name)
        c.expect_welcome(name)
        return c

    def connect(self, label="irc", rcvbuf=None):
        """A raw IRC connection, not registered."""
        return Irc(self.server.connect(self.irc_addr, rcvbuf=rcvbuf, label=label))

    def irc(self, nick, caps=None, rcvbuf=None, **kw):
        """An IRC user registered as nick (Irc.register)."""
        c = self.connect(label=nick, rcvbuf=rcvbuf)
        c.register(nick, caps, **kw)
        return c
