#!/usr/bin/python3
"""Writes the hand-made seed inputs, tests/fuzz/corpus/<harness>/seed-*. Run it again after
changing a harness's input format; inputs libFuzzer found (named by their SHA-1) stay."""
from pathlib import Path

CORPUS = Path(__file__).resolve().parent / "corpus"
IAC, SB, SE, NOP = b"\xff", b"\xfa", b"\xf0", b"\xf1"
WILL, WONT, DO, DONT = b"\xfb", b"\xfc", b"\xfd", b"\xfe"


def framer(strip, max_line_sel, chunk_sel, stream):
    # fuzz_framer.c: [flags: bit 0 strip_iac, bits 1-3 chunk size], [max_line], [seed hi, lo]
    return bytes([(1 if strip else 0) | (chunk_sel << 1), max_line_sel, 0x12, 0x34]) + stream


SEEDS = {
    "framer": {
        "lines": framer(True, 250, 7, b"hello\nworld\n"),
        "crlf": framer(True, 250, 0, b"Alice\r\nhi there\r\n\r\n"),
        "cr-inside": framer(False, 250, 3, b"a\rb\n\r\r\n"),
        "partial-at-end": framer(True, 250, 2, b"one\ntwo"),
        "cr-at-end": framer(True, 4, 1, b"abcd\r"),
        "over-long": framer(True, 3, 1, b"abcd\nabc\r\nab\nabcdefgh"),
        "over-long-cr": framer(False, 3, 4, b"abc\r\r\nabc\rx\nabc\r\n"),
        "max-line-1": framer(True, 255, 0, b"\n\r\nx\nxy\n"),
        "iac-iac": framer(True, 250, 1, b"caf" + IAC + IAC + b"\n"),
        "iac-options": framer(True, 250, 2, IAC + WILL + b"\x01" + IAC + DO + b"\x03Bob\r\n"),
        "iac-nop-before-lf": framer(True, 250, 3, b"x" + IAC + NOP + b"\n" + IAC + NOP + b"\n"),
        "iac-sb": framer(True, 250, 4, IAC + SB + b"\x18\x00xterm" + IAC + SE + b"name\n"),
        "iac-sb-escaped": framer(True, 250, 5,
                                 IAC + SB + b"\x01" + IAC + IAC + b"\n" + IAC + SE + b"ok\n"),
        "iac-sb-too-long": framer(True, 250, 6, IAC + SB + b"y" * 70 + b"\nafter\n"),
        "iac-at-end": framer(True, 250, 0, b"abc" + IAC),
        "iac-in-echo-mode": framer(False, 250, 1, IAC + WILL + b"\x01line\n"),
        "iac-in-over-long": framer(True, 2, 2, b"abc" + IAC + WILL + b"\x01def\nok\n"),
        "nul-bytes": framer(True, 16, 3, b"\x00\x00\n\x00a\x00\n"),
        "big-max-line": framer(True, 230, 7, b"x" * 300 + b"\n" + b"y" * 5000 + b"\nz\n"),
    },
    "text": {
        "ascii": b"Hello, world!",
        "utf8": "Grüße, Σοφία, 日本語, 🙂".encode(),
        "tab-del": b"a\tb\x7fc",
        "c0": bytes(range(0x20)) + b"end",
        "overlong": b"\xc0\x80 \xe0\x80\x80 \xf0\x80\x80\x80",
        "surrogate": b"\xed\xa0\x80\xed\xbf\xbf",
        "above-10ffff": b"\xf4\x90\x80\x80\xf5\x80",
        "truncated": b"\xe2\x82 \xf0\x9f\x99",
        "lone-continuation": b"\x80\xbf\xfe\xff",
        "csi": b"\x1b[31mred\x1b[0m \x1b[2J\x1b[H",
        "osc-bel": b"\x1b]0;title\x07after",
        "osc-st": b"\x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\",
        "dcs-apc": b"\x1bPq#0\x1b\\\x1b_apc\x1b\\\x1bXsos\x1b\\\x1b^pm\x1b\\",
        "esc-charset": b"\x1b(B\x1b)0\x1b#8\x1bc\x1b7x\x1b8",
        "c1-forms": "\u009b31m\u009d0;t\u009c\u0090q\u009c\u0085x".encode(),
        "bidi": "a\u202eb\u2066c\u2069d\u200fe\ufefff".encode(),
        "esc-cut": b"\x1b[",
        "esc-in-string": b"\x1b]0;a\x1b[1mb",
        "spaces": b"  \t\r\n\x0b\x0c x \x0c\x0b\n\r\t ",
        "invalid-in-csi": b"\x1b[1\xff2m",
    },
    "names": {
        "add-find-remove": b"\x00Alice\n\x00alice\n\x02ALICE\n\x03aLiCe\n\x02Alice\n",
        "greek": "\x00Σοφία\n\x00σοφία\n\x02ΣΟΦΊΑ\n\x03σοφία\n".encode(),
        "sigma-kelvin": "\x00ς\n\x00σ\n\x00\u212a\n\x00k\n\x02K\n".encode(),
        "fold-grows": ("\x00" + "\u023a" * 32 + "\n\x02" + "\u2c65" * 32 + "\n").encode(),
        "refused": b"\x00\n\x00   \n\x00a b\n\x00a\x01b\n\x00/nick\n\x00*x\n\x00#x\n\x00\xff\n",
        "too-long": b"\x00" + b"x" * 33 + b"\n\x00" + b"x" * 32 + b"\n\x02" + b"X" * 32 + b"\n",
        # 32 four-byte characters fill NT_NAME_MAX_BYTES; a 33rd used to be cut off by the fold,
        # so looking up the 33-character name found the 32-character one.
        "regression-fold-truncation":
            ("\x00" + "\U0001f600" * 32 + "\n\x02" + "\U0001f600" * 33 + "\n").encode(),
        "unicode-spaces": "\x00a\u00a0b\n\x00a\u3000b\n\x00a\u2028b\n\x00\u0085x\n".encode(),
        "bidi-bom": "\x00a\u202eb\n\x00\ufeffx\n\x00\ufffdx\n".encode(),
        "trimmed": b"\x00  Bob \r\n\x02bob\n\x03 BOB\t\n",
        "many": b"".join(b"\x00user%d\n" % i for i in range(40)) +
                b"".join(b"\x03user%d\n" % i for i in range(0, 40, 3)) +
                b"".join(b"\x02USER%d\n" % i for i in range(40)),
    },
    "config": {
        "listen-v4": b"\x00127.0.0.1:8888",
        "listen-v6": b"\x00[::1]:0",
        "listen-v6-mapped": b"\x00[::ffff:127.0.0.1]:65535",
        "listen-no-port": b"\x00127.0.0.1",
        "listen-bad-port": b"\x00127.0.0.1:65536",
        "listen-v6-no-brackets": b"\x00::1:80",
        "listen-v6-no-close": b"\x00[::1:80",
        "listen-name": b"\x00localhost:80",
        "listen-sign": b"\x00127.0.0.1:+80",
        "argv-defaults": b"\x01",
        "argv-all": b"\x01" + b"\x00".join([
            b"--listen", b"127.0.0.1:0", b"-l[::1]:0", b"--echo", b"--idle-timeout", b"0.25",
            b"--name-timeout=60", b"--max-clients", b"100", b"--max-line=512",
            b"--max-output", b"65536", b"--sndbuf", b"4096", b"--log-level", b"debug",
            b"--log-messages", b"--history", b"100", b"--rate=5", b"--burst", b"10",
            b"--max-per-ip", b"4", b"--no-loopback-exempt", b"--oper-password-file", b"/dev/null"]),
        "argv-errors": b"\x01" + b"\x00".join([
            b"--max-line", b"0", b"--idle-timeout", b"-1", b"--max-output", b"1k", b"--nope",
            b"stray", b"--echo=1", b"-x", b"--listen"]),
        "argv-17-listens": b"\x01" + b"\x00".join([b"--listen=127.0.0.1:0"] * 17),
        "argv-seconds": b"\x01" + b"\x00".join([
            b"--idle-timeout", b"0.0004", b"--name-timeout", b"31536000.0001",
            b"--idle-timeout=99999999999999999999", b"--name-timeout=1."]),
        "argv-help": b"\x01--help\x00--version",
    },
}


def chat(*records):
    """fuzz_chat.c's script: (client, bytes) sends, (client, "eof") half-closes, (client, "new")
    reconnects a closed client's slot."""
    out = b""
    for client, what in records:
        if what == "eof":
            out += bytes([8 | client])
        elif what == "new":
            out += bytes([12 | client])
        else:
            for i in range(0, len(what), 255):
                part = what[i:i + 255]
                out += bytes([client, len(part)]) + part
    return out


JOIN = [(0, b"Alice\n"), (1, b"Bob\r\n"), (2, b"Carol\n"), (3, b"Dave\n")]
SEEDS["command"] = {
    "plain": b"hello there",
    "escaped": b"//not a command",
    "slash": b"/",
    "nick": b"/nick Bob",
    "upper": b"/NICK  Bob  ",
    "msg": b"/msg Bob hi there",
    "join": b"/join room2",
    "me": b"/me waves",
    "quit": b"/quit gone fishing",
    "unknown": b"/frobnicate x",
    "oper": b"/oper secret",
    "kick": b"/kick Bob go away",
    "tab": b"/msg\tBob x",
    "empty": b"",
}
SEEDS["chat"] = {
    "join-and-talk": chat(*JOIN, (0, b"hello\n"), (1, b"hi Alice\n")),
    "commands": chat(*JOIN, (0, b"/nick Al\n/who\n/who *\n/rooms\n/help\n"),
                     (1, b"/join r1\n/me waves\n/msg Al psst\n/msg nobody x\n"),
                     (2, b"/join R1\nhi r1\n/join lobby\n"), (3, b"//slash text\n")),
    "oper": chat(*JOIN, (0, b"/oper pw\n/kick Bob bye\n/ban Carol\n/bans\n"),
                 (0, b"/unban 10.0.0.3\n/wall attention\n"), (1, "new"), (1, b"Bob2\n")),
    "refused-names": chat((0, b"\n \n/x\na b\n\xff\n" + b"n" * 40 + b"\n"),
                          (1, b"Alice\nalice\nALICE\n"), (1, "eof"), (1, "new")),
    "half-close": chat(*JOIN, (0, b"partial last line"), (0, "eof"), (0, "new"),
                       (0, b"Alice\n"), (1, "eof")),
    "quit": chat(*JOIN, (2, b"/quit so long\n"), (2, "new"), (2, b"Carol\n")),
    "over-long": chat(*JOIN, (0, b"x" * 100 + b"\nok\n"), (1, b"y" * 64 + b"\r\n")),
    "escapes": chat(*JOIN, (0, b"\x1b[31mred\x1b[0m \x1b]0;t\x07 \xe2\x80\xae bidi \x9b2J\n"),
                    (1, b"\xff\xfb\x01telnet\xff\xff\n\xff\xfa\x18x\xff\xf0ok\n")),
    "history": chat((0, b"Alice\n"), (0, b"one\ntwo\nthree\nfour\n"), (1, b"Bob\n"),
                    (1, b"/join r\n/join lobby\n")),
}
# fuzz_irc.c: one line as the IRC door's framer hands it over (no CR LF), as irssi and WeeChat
# send them; the last two reach the tag limits (8191, 4094 of client tags) and the body's (510).
SEEDS["irc"] = {
    "irssi-cap-ls": b"CAP LS 302",
    "irssi-nick": b"NICK alice",
    "irssi-user": b"USER alice alice 127.0.0.1 :Alice Liddell",
    "weechat-user": b"USER weechat 0 * :WeeChat 3.8",
    "cap-req": b"CAP REQ :away-notify echo-message message-tags multi-prefix server-time",
    "cap-end": b"CAP END",
    "join": b"JOIN #lobby,#dev,,#ops x",
    "privmsg": b"PRIVMSG #lobby :hello, world",
    "privmsg-tags": b"@+draft/reply=1234;msgid=x;+example.com/emoji=\\s:)\\: PRIVMSG #lobby :nice",
    "tagmsg-typing": b"@+typing=active TAGMSG #lobby",
    "ctcp-action": b"PRIVMSG #lobby :\x01ACTION waves at everyone\x01",
    "ctcp-version": b"NOTICE bob :\x01VERSION irssi v1.4.3",
    "formatting": b"PRIVMSG bob :\x02bold\x02 \x0304,01red\x03 \x031,x \x03,5 \x1ditalic\x1d "
                  b"\x04FF8800,000000hex\x04 \x0freset",
    "ping-pong": b"PONG natter :natter",
    "numeric-source": b":natter 001 alice :Welcome to natter",
    "fifteen-params": b"MODE #a 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 :17",
    "control-tags": b"@+a=\x01;+b=x\\r;+c=ok;;+d=\\\\r  PRIVMSG  #a  :x\r\x00y  ",
    "limits-tags": b"@+a=" + b"x" * 4091 + b";time=" + b"y" * 4089 + b" PRIVMSG #a :"
                   + b"z" * 498,
    "limits-over": b"  @" + b"+a=" + b"x" * 4092 + b" PRIVMSG #a :" + b"z" * 498,
}



# fuzz_cluster.c's script. Every string is given raw (0xF0, its length, its bytes), so a seed does
# not depend on the order of the harness's pools (mutations find those).
WIRE_TYPES = {"E": 0, "U": 4, "S": 6, "D": 7, "B": 9, "N": 10, "Y": 11, "H": 13}  # its types[]
WIRE_NODES = {"north": 0, "south": 1, "east": 2, "self": 255}
EV = {k: i for i, k in enumerate(
    "SAY ACTION PRIVATE JOIN ENTER PART LEAVE KICK BAN RENAME NOTICE WALL PRIVATE_ACTION NOTE "
    "PRIVATE_NOTE TOPIC AWAY TAGMSG".split())}  # enum nt_event_kind
EARLY, LATE = 0x00, 0x80  # time_ms 0 (before any local claim) and UINT64_MAX (after)
BEGIN, END = 0, 1  # the kinds of DONE: a snapshot's start and end (SYNC: 0 users, 1 history)


def raw(b):
    b = b.encode() if isinstance(b, str) else b
    return bytes([0xF0, len(b)]) + b


def wire(t, node, kind=0, actor_id=1, time=EARLY, room="", actor="", target="", text="",
         tags="", reason=""):
    """A structured message record: the harness encodes it as node would."""
    k = EV[kind] if isinstance(kind, str) else kind
    return (bytes([0, WIRE_TYPES[t], WIRE_NODES[node], k, actor_id, time]) + raw(room) +
            raw(actor) + raw(target) + raw(text) + raw(tags) + raw(reason))


def varint(v):
    out = b""
    while v >= 0x80:
        out += bytes([0x80 | (v & 0x7F)])
        v >>= 7
    return out + bytes([v])


def wire_bytes(t, node, seq, time, kind, actor_id, *strs):
    """lib/wire.c's encoding, for raw payloads."""
    b = b"nt\x01" + t.encode() + varint(len(node)) + node.encode()
    b += varint(seq) + varint(time) + varint(kind) + varint(actor_id)
    for x in (list(strs) + [b""] * 6)[:6]:
        x = x.encode() if isinstance(x, str) else x
        b += varint(len(x)) + x
    return b


def payload(b):
    """A raw payload record: the bytes go to nt_cluster_receive() as they are."""
    return (bytes([2, len(b)]) if len(b) < 256 else bytes([6, len(b) >> 8, len(b) & 0xFF])) + b


def local(client, b):
    """Local client 0-1 (line: alice, bob) or 2-3 (IRC: carol, dave) sends b."""
    return bytes([3 | client << 2, len(b)]) + b


SNAPSHOT_NORTH = (wire("D", "north", BEGIN) +
                  wire("U", "north", 0, 1, EARLY, actor="erin", target="lobby,rust") +
                  wire("U", "north", 1, 2, EARLY, actor="frank", target="lobby", text="lunch") +
                  wire("D", "north", END))
SEEDS["cluster"] = {
    "snapshot": SNAPSHOT_NORTH + wire("D", "south", BEGIN) +
                wire("U", "south", 0, 1, EARLY, actor="grace", target="go") +
                wire("D", "south", END) + wire("H", "north") + wire("H", "south"),
    "history": SNAPSHOT_NORTH +
               wire("Y", "north", "SAY", 0, room="lobby", actor="erin", text="before",
                    reason="self") +
               wire("Y", "north", "ACTION", 1, room="lobby", actor="zed", text="waved",
                    reason="self") +
               wire("Y", "north", "SAY", 0, room="rust", actor="erin", text="x", reason="other") +
               wire("Y", "north", len(EV), reason="self") + wire("S", "north", 1, target="self") +
               local(0, b"/join rust\n/join lobby\n"),
    "events": wire("U", "north", actor="erin") +
              wire("E", "north", "JOIN", room="lobby", actor="erin") +
              wire("E", "north", "SAY", room="lobby", actor="erin", text="hi all") +
              wire("E", "north", "ACTION", room="lobby", actor="erin", text="waves") +
              wire("E", "north", "PRIVATE", actor="erin", target="alice", text="psst") +
              wire("E", "north", "PRIVATE", actor="erin", target="dave", text="psst",
                   tags="+typing=done") +
              wire("E", "north", "ENTER", room="rust", actor="erin") +
              wire("E", "north", "TOPIC", room="rust", actor="erin", text="borrowck") +
              wire("E", "north", "AWAY", actor="erin", text="brb") +
              wire("E", "north", "NOTE", room="rust", actor="erin", text="note") +
              wire("E", "north", "TAGMSG", room="rust", actor="erin", tags="+typing=active") +
              wire("E", "north", "PART", room="rust", actor="erin", text="bye rust") +
              wire("E", "north", "RENAME", room="lobby", actor="erin", target="erin2") +
              wire("E", "north", "LEAVE", room="lobby", actor="erin2", text="so long",
                   reason="quit"),
    "clashes": wire("U", "north", 0, 1, EARLY, actor="alice", target="lobby") +
               wire("U", "south", 0, 1, LATE, actor="bob", target="lobby") +
               wire("U", "north", 0, 2, 0x01, actor="heidi") +
               wire("U", "south", 0, 2, 0x01, actor="HEIDI") +
               wire("E", "south", "RENAME", actor="bob", target="carol", time=EARLY) +
               local(0, b"/who *\n/nick heidi\n"),
    "kick-ban": wire("U", "north", 1, 1, actor="erin", target="lobby") +
                wire("E", "north", "KICK", room="lobby", actor="erin", target="bob",
                     text="out") +
                wire("E", "north", "BAN", room="lobby", actor="erin", target="carol") +
                wire("E", "north", "WALL", actor="erin", text="maintenance") +
                wire("N", "north", 1, text="10.0.0.9") + wire("N", "north", 0, text="10.0.0.9") +
                bytes([3 | 1 << 2 | 3 << 5]) + local(1, b"bob\n"),
    "bye-sync": SNAPSHOT_NORTH + wire("U", "south", actor="grace") +
                wire("S", "south", target="self") + wire("S", "south") +
                wire("D", "north", BEGIN) + wire("U", "north", 0, 1, actor="erin") +
                wire("D", "north", END) + wire("B", "north") + wire("D", "south", END) +
                wire("D", "south", BEGIN) + wire("D", "south", END) +
                wire("E", "self", "SAY", room="lobby", actor="alice", text="my own, back"),
    "raw": payload(wire_bytes("E", "north", 7, 1, EV["SAY"], 1, "lobby", "erin", "", "hi")) +
           payload(wire_bytes("U", "south", 1, 0, 0, 3, "", "ivan", "lobby,go")) +
           payload(b"nt\x02E") + payload(b"nt\x01Z\x05north") +
           payload(wire_bytes("H", "east", 1, 5, 0, 0)[:-2]) + payload(b"") +
           payload(wire_bytes("E", "north", 1, 1, EV["SAY"], 1, "lobby", "erin", "",
                              "x" * 300)),
    "locals": SNAPSHOT_NORTH +
              local(0, b"/who *\n/msg erin hi\n/join rust\nhello rust\n/oper pw\n/kick erin\n") +
              local(2, b"WHOIS frank\r\nPRIVMSG frank :hi\r\nAWAY :gone\r\nPART #lobby\r\n") +
              local(3, b"TOPIC #rust :new\r\nWHO #lobby\r\nNAMES #rust\r\nQUIT :bye\r\n") +
              local(1, b"/nick frank\n/wall x\n/quit\n") +
              wire("E", "north", "SAY", room="rust", actor="frank", text="still here?") +
              bytes([3 | 3 << 2 | 3 << 5]) + local(3, b"NICK dave\r\nUSER d 0 * :D\r\n"),
}


for harness, seeds in SEEDS.items():
    d = CORPUS / harness
    d.mkdir(parents=True, exist_ok=True)
    for name, data in seeds.items():
        (d / f"seed-{name}").write_bytes(data)
print("wrote", sum(len(s) for s in SEEDS.values()), "seeds")
