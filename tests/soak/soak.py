#!/usr/bin/python3
"""natter soak test (issue #5, docs/SECURITY.md "Soak"). Python standard library only.

Starts natter on 127.0.0.1:0 and keeps a few hundred clients busy for --seconds: they join,
chat, rename, switch rooms, go idle until natter times them out, linger without a name, and
leave (FIN, reset or /quit), at random, while new ones take their place. Then it checks:

- no line was lost: every line a client receives from another is numbered by its sender, and
  between two events that may change who hears whom (a join, leave, rename or room change, seen
  in the receiver's own stream, which natter orders) the numbers from each sender must be
  consecutive and increasing;
- the roll call: once the churn stops, every surviving client sends --final lines; each must
  reach every other survivor in its room, exactly (the counts are printed);
- nobody is disconnected except as expected (idle or name timeout, its own leaving), and no
  client gets a line it cannot account for;
- after everyone has left, natter's open fds are back to the baseline exactly and its RSS is back
  near it (within 2 MB; for an ASan build, whose quarantine this script sets to 32 MB, within
  64 MB); SIGTERM then gives exit status 0 and no sanitizer report (under ASan, LeakSanitizer
  checks for leaks at exit).

Behaviours are pluggable: each is a class with a weight, the commands it needs, and act(). The
ones needing commands (/nick, /join, /quit) are used only when natter's /help lists them (issue
#4); add a new behaviour (e.g. /msg) by writing a class and listing it in BEHAVIOURS.

usage: tests/soak/soak.py [--bin build-asan/natter] [--seconds 60] [--clients 300] [--seed N]
                          [--behaviours chat,leave,idle,lurk,rename,rooms] [--report FILE]
Exit status 0 when every check passed, 1 otherwise (the failures are printed).
"""
import argparse
import json
import os
import random
import re
import selectors
import signal
import socket
import subprocess
import sys
import tempfile
import time

PROMPT = b"Enter your name: "
IDLE_GOODBYE = b"Disconnected: idle timeout.\n"
NAME_GOODBYE = b"Disconnected: no valid name given in time.\n"
SANITIZER_MARKERS = (b"AddressSanitizer", b"LeakSanitizer", b"UndefinedBehaviorSanitizer",
                     b"runtime error:")
CHAT_RE = re.compile(rb"^(u\d+n\d+): soak (\d+) (\d+)$")
FINAL_RE = re.compile(rb"^(u\d+n\d+): final (\d+) (\d+)$")
ID_RE = re.compile(rb"u(\d+)n\d+")
ROOMS = ("lobby", "r1", "r2", "r3")
QUARANTINE_MB = 32  # ASan's quarantine for natter under the soak, unless ASAN_OPTIONS sets one


# --------------------------------------------------------------------------------------------
# The server


class Natter:
    """The natter process: started on port 0, stderr to a file, seen through /proc."""

    def __init__(self, binary, args, workdir, env=None):
        self.log_path = os.path.join(workdir, "natter.log")
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen([binary, "--listen", "127.0.0.1:0", *args],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=self._log, env=env)
        deadline = time.monotonic() + 30
        while True:
            m = re.search(rb" info listening on 127\.0\.0\.1:(\d+)$", self.log(), re.M)
            if m:
                self.port = int(m.group(1))
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
# Clients


class Client:
    """One connection and what it has seen. Identity `id` never changes; its name is
    u<id>n<k>, k counting renames, so a name is never used twice in a run."""

    def __init__(self, soak, cid, role):
        self.soak = soak
        self.id = cid
        self.role = role  # "regular", "idler" (goes silent at some point), "lurker" (no name)
        self.renames = 0
        self.name = f"u{cid}n0"
        self.room = None  # known once natter confirmed it
        self.state = "prompt"  # prompt -> naming -> named -> gone; a lurker: prompt -> lurking
        self.inbuf = b""
        self.outbuf = b""
        self.sent = 0  # chat lines sent ("soak ID SEQ"), numbered from 0
        self.finals_got = 0
        self.last_line_at = time.monotonic()
        self.next_act = 0.0
        self.pending = None  # ("join", room) or ("nick", new name) until natter confirms
        self.silent = False  # an idler that stopped talking
        self.expect_close = None  # the goodbye expected before natter's close
        self.last_from = {}  # sender id -> last seq received in the current segment
        self.tail = []  # the last lines received, for reports
        self.sock = socket.create_connection(("127.0.0.1", soak.server.port), timeout=10)
        self.sock.setblocking(False)
        soak.sel.register(self.sock, selectors.EVENT_READ, self)

    # -- sending

    def send(self, line):
        self.outbuf += line + b"\n"
        self.last_line_at = time.monotonic()
        self.flush()

    def flush(self):
        try:
            while self.outbuf:
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

    def close(self, how="fin"):
        """We leave: FIN, or a reset."""
        if self.state == "gone":
            return
        self.soak.sel.unregister(self.sock)
        if how == "rst":
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\1\0\0\0\0\0\0\0")
        self.sock.close()
        self.state = "gone"
        self.soak.left(self)

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
        self.inbuf += data
        if self.state == "prompt":
            if len(self.inbuf) < len(PROMPT):
                return
            if not self.inbuf.startswith(PROMPT):
                self.soak.fail(f"{self.name}: expected the prompt, got {self.inbuf[:80]!r}")
            self.inbuf = self.inbuf[len(PROMPT):]
            if self.role == "lurker":
                self.state = "lurking"
                self.expect_close = NAME_GOODBYE
            else:
                self.state = "naming"
                self.send(self.name.encode())
        *lines, self.inbuf = self.inbuf.split(b"\n")
        for line in lines:
            self.on_line(line)

    def on_line(self, line):
        soak = self.soak
        self.tail = (self.tail + [line])[-5:]
        soak.stats["lines_received"] += 1
        if self.expect_close is not None and line + b"\n" == self.expect_close:
            self.expect_close = b""  # seen: now the close may come
            return
        if line.startswith(b"*** ") and line.endswith(b" ***"):
            self.on_notice(line)
            return
        m = CHAT_RE.match(line)
        if m:
            self.on_chat(m, line)
            return
        m = FINAL_RE.match(line)
        if m:
            if int(m.group(2)) == self.id:
                soak.fail(f"{self.name}: got its own line back: {line!r}")
            self.finals_got += 1
            return
        soak.fail(f"{self.name}: unexpected line {line!r}")

    def on_notice(self, line):
        ids = {int(i) for i in ID_RE.findall(line)}
        if self.state == "naming":
            # The first line after the name is the welcome (PROTOCOL.md §2.6): "*** Welcome to
            # lobby, NAME: ... ***"; everyone starts in the first room.
            if self.name.encode() not in line:
                self.soak.fail(f"{self.name}: expected the welcome line, got {line!r}")
            self.state = "named"
            self.room = ROOMS[0]
            self.soak.stats["joined"] += 1
        elif self.pending and self.pending[0] == "join" and (
                line.startswith(b"*** You are now in %s:" % self.pending[1].encode())
                or line == b"*** You are already in %s ***" % self.pending[1].encode()):
            self.room = self.pending[1]
            self.pending = None
        elif self.pending and self.pending[0] == "nick" and \
                line == b"*** %s is now known as %s ***" % (self.name.encode(),
                                                           self.pending[1].encode()):
            self.name = self.pending[1]
            self.pending = None
        # Who hears whom may have changed: a notice about others ends the segments of the
        # senders it names; one about us, or naming nobody (a reply to us), ends them all.
        if self.id in ids or not ids:
            self.last_from.clear()
        else:
            for i in ids:
                self.last_from.pop(i, None)

    def on_chat(self, m, line):
        soak = self.soak
        name, sender, seq = m.group(1), int(m.group(2)), int(m.group(3))
        if sender == self.id:
            soak.fail(f"{self.name}: got its own line back: {line!r}")
            return
        if int(ID_RE.match(name).group(1)) != sender:
            soak.fail(f"{self.name}: line under the wrong name: {line!r}")
        soak.stats["chat_received"] += 1
        prev = self.last_from.get(sender)
        if prev is not None:
            if seq <= prev:
                soak.fail(f"{self.name}: from u{sender} #{seq} after #{prev}: out of order")
            elif seq != prev + 1:
                soak.fail(f"{self.name}: from u{sender} #{prev} then #{seq}: "
                          f"{seq - prev - 1} lost")
            soak.stats["chat_checked"] += 1
        self.last_from[sender] = seq

    def on_eof(self):
        soak = self.soak
        soak.sel.unregister(self.sock)
        self.sock.close()
        was = self.state
        self.state = "gone"
        if self.expect_close == b"":
            soak.stats["timed_out_" + self.role] += 1
        else:
            soak.fail(f"{self.name} ({self.role}, {was}): closed by natter unexpectedly; "
                      f"last lines {self.tail!r}")
        soak.left(self)


# --------------------------------------------------------------------------------------------
# Behaviours: what a named client does when its turn comes


class Behaviour:
    name = ""
    weight = 0
    needs = ()  # commands natter must list in /help

    def act(self, soak, c):
        raise NotImplementedError


class Chat(Behaviour):
    name, weight = "chat", 900

    def act(self, soak, c):
        c.send(b"soak %d %d" % (c.id, c.sent))
        c.sent += 1
        soak.stats["chat_sent"] += 1


class Leave(Behaviour):
    name, weight = "leave", 10

    def act(self, soak, c):
        how = soak.rng.choice(["fin", "rst", "quit"] if "quit" in soak.commands else
                              ["fin", "rst"])
        soak.stats["left_" + how] += 1
        if how == "quit":
            c.send(b"/quit soak")
            c.role = "quitter"
            c.expect_close = b""  # natter just closes after /quit
        else:
            c.close(how)


class Idle(Behaviour):
    """Stops talking until natter's idle timeout closes it (PROTOCOL.md §4.2)."""
    name, weight = "idle", 5

    def act(self, soak, c):
        c.silent = True
        c.role = "idler"
        c.expect_close = IDLE_GOODBYE
        soak.stats["went_idle"] += 1


class Rename(Behaviour):
    name, weight, needs = "rename", 20, ("nick",)

    def act(self, soak, c):
        if c.pending:
            return
        c.renames += 1
        new = f"u{c.id}n{c.renames}"
        c.pending = ("nick", new)
        c.send(b"/nick " + new.encode())
        soak.stats["renames"] += 1


class Rooms(Behaviour):
    name, weight, needs = "rooms", 30, ("join",)

    def act(self, soak, c):
        if c.pending:
            return
        room = soak.rng.choice([r for r in ROOMS if r != c.room])
        c.pending = ("join", room)
        c.send(b"/join " + room.encode())
        soak.stats["room_switches"] += 1


# Lurkers are connections that never send a name; they are a share of new connections rather
# than something a named client does, so --behaviours lurk turns them on.
BEHAVIOURS = [Chat(), Leave(), Idle(), Rename(), Rooms()]
ALL_NAMES = [b.name for b in BEHAVIOURS] + ["lurk"]


# --------------------------------------------------------------------------------------------
# The run


class Soak:
    def __init__(self, args):
        self.args = args
        self.rng = random.Random(args.seed)
        self.sel = selectors.DefaultSelector()
        self.clients = {}
        self.next_id = 0
        self.failures = []
        self.stats = {k: 0 for k in (
            "connections", "joined", "lines_received", "chat_sent", "chat_received",
            "chat_checked", "left_fin", "left_rst", "left_quit", "went_idle", "renames",
            "room_switches", "lurkers", "timed_out_idler", "timed_out_lurker",
            "timed_out_quitter", "max_clients_at_once")}
        self.server = None
        self.commands = set()
        self.report = {}

    def fail(self, what):
        if len(self.failures) < 50:
            print("FAIL:", what, file=sys.stderr)
        self.failures.append(what)

    def left(self, c):
        self.clients.pop(c.id, None)

    def spawn(self, role):
        cid = self.next_id
        self.next_id += 1
        c = Client(self, cid, role)
        self.clients[cid] = c
        self.stats["connections"] += 1
        if role == "lurker":
            self.stats["lurkers"] += 1
        c.next_act = time.monotonic() + self.rng.uniform(0.2, self.args.interval)
        return c

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

    def behaviours(self):
        wanted = set(self.args.behaviours.split(","))
        usable = [b for b in BEHAVIOURS
                  if b.name in wanted and all(n in self.commands for n in b.needs)]
        return usable, [b.weight for b in usable]

    def act(self, c, now, usable, weights, churn):
        if c.state != "named" or c.silent or c.role == "quitter":
            return
        idle_limit = self.args.idle_timeout / 3
        if not churn:
            b = BEHAVIOURS[0]  # only chat while the run winds down
        else:
            b = self.rng.choices(usable, weights)[0]
        if now - c.last_line_at > idle_limit and b.name != "chat":
            b = BEHAVIOURS[0]  # a regular client never goes idle by accident
        b.act(self, c)
        c.next_act = now + self.rng.uniform(0.2, self.args.interval)

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
                                     "--name-timeout", str(a.name_timeout)], workdir, env)
        print(f"soak: natter pid {self.server.proc.pid} on port {self.server.port}, "
              f"log {self.server.log_path}", file=sys.stderr)
        try:
            self._run()
        finally:
            for c in list(self.clients.values()):
                c.close()
            rc = self.server.stop()
        log = self.server.log()
        if rc != 0:
            self.fail(f"natter exit status {rc} after SIGTERM")
        found = [m.decode() for m in SANITIZER_MARKERS if m in log]
        if found:
            self.fail(f"sanitizer report in natter's stderr: {found}; see {self.server.log_path}")
        self.report["exit_status"] = rc
        return self.report

    def _run(self):
        a = self.args
        fds0 = self.server.fd_count()
        self.commands = self.probe_commands()
        usable, weights = self.behaviours()
        lurk = "lurk" in a.behaviours.split(",")
        # The baseline: natter with no client (the probe's close is asynchronous).
        if wait_fds(self.server, fds0, 10) != fds0:
            self.fail(f"the probe connection was not closed: fds {self.server.fd_count()}")
        rss0 = self.server.rss_kb()
        t0 = time.monotonic()
        end = t0 + a.seconds
        next_print = t0 + 10
        peak_fds, peak_rss = fds0, rss0
        while time.monotonic() < end and len(self.failures) < 50:
            now = time.monotonic()
            # Keep about --clients connections: newcomers replace the ones that left.
            while len(self.clients) < a.clients:
                self.spawn("lurker" if lurk and self.rng.random() < 0.03 else "regular")
            for c in list(self.clients.values()):
                if c.next_act <= now:
                    self.act(c, now, usable, weights, churn=True)
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

        # Wind down: lurkers go, idlers are timed out, pending commands are confirmed; the
        # regular clients keep chatting meanwhile (so they do not go idle themselves).
        for c in [c for c in self.clients.values() if c.role == "lurker"]:
            c.close()
        deadline = time.monotonic() + a.idle_timeout + a.name_timeout + 30
        while any(c.role in ("idler", "quitter") or c.pending or c.state != "named"
                  for c in self.clients.values()):
            if time.monotonic() > deadline:
                stuck = [(c.name, c.role, c.state, c.pending) for c in self.clients.values()
                         if c.role in ("idler", "quitter") or c.pending or c.state != "named"]
                self.fail(f"{len(stuck)} clients never settled, e.g. {stuck[:5]}")
                return
            now = time.monotonic()
            for c in list(self.clients.values()):
                if c.next_act <= now:
                    self.act(c, now, usable, weights, churn=False)
            self.pump(0.02)

        # The roll call: every survivor sends --final lines; count what each receives.
        survivors = list(self.clients.values())
        per_room = {}
        for c in survivors:
            per_room[c.room] = per_room.get(c.room, 0) + 1
        for c in survivors:
            for k in range(a.final):
                c.send(b"final %d %d" % (c.id, k))
        expected = sum(a.final * (per_room[c.room] - 1) for c in survivors)
        deadline = time.monotonic() + 30
        while sum(c.finals_got for c in survivors) < expected and time.monotonic() < deadline:
            self.pump(0.05)
        self.pump(0.5)  # anything extra would show now
        received = sum(c.finals_got for c in survivors)
        short = [(c.name, c.finals_got, a.final * (per_room[c.room] - 1)) for c in survivors
                 if c.finals_got != a.final * (per_room[c.room] - 1)]
        if short:
            self.fail(f"roll call: {len(short)} survivors got the wrong count "
                      f"(name, got, expected), e.g. {short[:5]}")

        # Everyone leaves; natter must be back to its baseline.
        for c in survivors:
            c.close()
        fds = wait_fds(self.server, fds0, 30)
        time.sleep(1)  # let the allocator settle
        rss = self.server.rss_kb()
        if fds != fds0:
            self.fail(f"open fds {fds} after everyone left, baseline {fds0}")
        if rss > rss0 + a.rss_slack_mb * 1024:
            self.fail(f"RSS {rss} KiB after everyone left, baseline {rss0} KiB "
                      f"(+{rss - rss0}, allowed +{a.rss_slack_mb * 1024})")
        self.report = dict(
            seconds=round(churn_seconds), clients=a.clients, seed=a.seed,
            behaviours=[b.name for b in usable] + (["lurk"] if lurk else []),
            commands=sorted(self.commands), binary=a.bin, rooms=per_room,
            survivors=len(survivors), roll_call_expected=expected,
            roll_call_received=received, fds_before=fds0, fds_peak=peak_fds, fds_after=fds,
            rss_before_kb=rss0, rss_peak_kb=peak_rss, rss_after_kb=rss,
            failures=len(self.failures), **self.stats)


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
    p.add_argument("--interval", type=float, default=3.0,
                   help="a client acts every 0.2 to this many seconds")
    p.add_argument("--idle-timeout", type=float, default=8)
    p.add_argument("--name-timeout", type=float, default=5)
    p.add_argument("--final", type=int, default=3, help="roll-call lines per survivor")
    p.add_argument("--seed", type=int, default=int(time.time()))
    p.add_argument("--behaviours", default=",".join(ALL_NAMES),
                   help=f"comma-separated, from {','.join(ALL_NAMES)}; those needing commands "
                        f"natter lacks are skipped")
    p.add_argument("--rss-slack-mb", type=float, default=None,
                   help=f"RSS allowed above the baseline at the end (default 2; for an ASan "
                        f"build its quarantine, {QUARANTINE_MB} MB, + 32)")
    p.add_argument("--report", help="also write the report (JSON) here")
    a = p.parse_args()
    with open(a.bin, "rb") as f:
        a.sanitized = b"__asan_init" in f.read()
    if a.rss_slack_mb is None:
        a.rss_slack_mb = QUARANTINE_MB + 32 if a.sanitized else 2
    soak = Soak(a)
    report = soak.run()
    text = json.dumps(report, indent=1, sort_keys=True)
    print(text)
    if a.report:
        with open(a.report, "w") as f:
            f.write(text + "\n")
    if soak.failures:
        print(f"soak: FAILED, {len(soak.failures)} failures (seed {a.seed})", file=sys.stderr)
        return 1
    print(f"soak: passed (seed {a.seed})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
