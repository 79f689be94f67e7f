"""Real IRC clients on the IRC door (PROTOCOL.md §8, issue #9): irssi and WeeChat from Debian's
packages (scripts/install-deps.sh test installs irssi, weechat-headless and tmux) join #lobby
beside a line user, exchange a line each way and show the member list.

- irssi runs in a private tmux server (its own socket and config, nothing of the user's): keys go
  in with `send-keys`, the screen comes back with `capture-pane`, polled until a pattern shows or
  a deadline passes. irssi has its own --home with a minimal config (no networks, no scripts, no
  autosave) and connects with -c/-p to natter alone.
- weechat-headless has no terminal and reads no stdin, and Debian's package has no fifo plugin
  (that is weechat-plugins). It loads only its irc and logger plugins; --run-command sets its
  options and connects, and later actions are the commands of weechat.signal.sigusr1 and sigusr2,
  which the test triggers with a signal. The logger writes every buffer to DIR/logs at once
  (flush_delay 0), and the test polls those files.
- Each client connects through a recording proxy (Recorder), so a failure shows the raw IRC
  traffic, what the client sent and what it waited for, beside its screen or log. The screen
  (irssi) or logs (WeeChat) and the traffic are saved in the test's tmp_path.

A missing client binary is a failure, not a skip: the packages belong to the test stage.
"""
import ctypes
import os
import re
import select
import shlex
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

import pytest

from conftest import WAIT, scaled

LISTEN = ("127.0.0.1:0", "irc://127.0.0.1:0")
LINE_NICK, IRSSI_NICK, WEECHAT_NICK = "Alice", "Ircy", "Weechy"


def require(binary):
    path = shutil.which(binary)
    if path is None:
        pytest.fail(f"{binary} is not installed: scripts/install-deps.sh test installs it",
                    pytrace=False)
    return path


def _die_with_test():
    # A crashed pytest leaves no client behind (PR_SET_PDEATHSIG, SIGKILL).
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)


def alive(pid):
    """True while pid exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False


def children(pid):
    """The PIDs of pid's children (Linux /proc)."""
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(c) for c in f.read().split()]
    except FileNotFoundError:
        return []


def wait_for(probe, what, timeout):
    """Polls probe() until it returns something true and returns that; fails after timeout
    naming what it waited for."""
    deadline = time.monotonic() + timeout
    while True:
        got = probe()
        if got:
            return got
        if time.monotonic() > deadline:
            pytest.fail(f"waited {timeout:.1f}s in vain for {what}", pytrace=False)
        time.sleep(0.05)


def expect_line_matching(client, pattern, timeout=None):
    """Reads one line of client (a conftest Client) and asserts that pattern (a bytes regex)
    fullmatches it without its LF."""
    line = client.read_line(timeout)
    assert re.fullmatch(pattern, line.rstrip(b"\n")), \
        f"{client.label}: expected a line matching {pattern!r}, got {line!r}"


# --------------------------------------------------------------------------------------------
# The recording proxy


class Recorder:
    """A loopback TCP proxy to (host, port) that records what passes, line by line with the time
    since start: `C>` from the client, `S>` from the server, `--` for opens and closes. One
    thread; stop() closes everything and writes the record to path."""

    def __init__(self, host, port, path):
        self.upstream = (host, port)
        self.path = path
        self.start = time.monotonic()
        self.records = []
        self.lock = threading.Lock()
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(4)
        self.port = self.listener.getsockname()[1]
        self.peer = {}  # socket -> the socket it forwards to
        self.tag = {}  # socket -> "C>" or "S>", the direction of what it reads
        self.partial = {}  # socket -> bytes read after its last LF
        self.stopping = False
        self.thread = threading.Thread(target=self._run, name="irc-recorder", daemon=True)
        self.thread.start()

    def _note(self, tag, data):
        with self.lock:
            self.records.append((time.monotonic() - self.start, tag, data))

    def _accept(self):
        client, _ = self.listener.accept()
        try:
            server = socket.create_connection(self.upstream, timeout=WAIT)
        except OSError as e:
            self._note("--", f"connect to {self.upstream} failed: {e}".encode())
            client.close()
            return
        for s in (client, server):
            s.settimeout(WAIT)
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.peer[client], self.peer[server] = server, client
        self.tag[client], self.tag[server] = "C>", "S>"
        self.partial[client] = self.partial[server] = b""
        self._note("--", b"open")

    def _read(self, s):
        try:
            data = s.recv(1 << 16)
        except OSError:
            data = b""
        tag, other = self.tag[s], self.peer[s]
        if data:
            *lines, self.partial[s] = (self.partial[s] + data).split(b"\n")
            for line in lines:
                self._note(tag, line + b"\n")
            try:
                other.sendall(data)
            except OSError:
                pass
            return
        if self.partial[s]:
            self._note(tag, self.partial[s])
            self.partial[s] = b""
        self._note("--", f"{'client' if tag == 'C>' else 'server'} closed".encode())
        try:
            other.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        del self.peer[s]
        s.close()
        if other not in self.peer:
            other.close()

    def _run(self):
        while not self.stopping:
            socks = [self.listener] + [s for s in self.peer if s.fileno() >= 0]
            try:
                readable, _, _ = select.select(socks, [], [], 0.05)
            except (OSError, ValueError):
                continue
            for s in readable:
                if s is self.listener:
                    self._accept()
                elif s in self.peer:
                    self._read(s)

    def text(self, last=None):
        """The record as text, the last `last` entries only when given."""
        with self.lock:
            records = list(self.records)
        if last is not None:
            records = records[-last:]
        return "".join(f"{t:7.3f} {tag} {data.decode('utf-8', 'replace').rstrip()!s}\n"
                       for t, tag, data in records)

    def stop(self):
        self.stopping = True
        self.thread.join(scaled(5))
        for s in list(self.peer) + [self.listener]:
            s.close()
        self.path.write_text(self.text())


# --------------------------------------------------------------------------------------------
# irssi in tmux


class Tmux:
    """A private tmux server (socket in a short temporary directory: a socket path has at most
    107 bytes), one detached session of a fixed size, no status line, and panes that stay after
    their program exits (so a crash still leaves its screen to capture)."""

    def __init__(self, name, width=200, height=50):
        self.name = name
        self.dir = tempfile.mkdtemp(prefix="nt-tmux-")
        self.socket = os.path.join(self.dir, "sock")
        self.conf = os.path.join(self.dir, "tmux.conf")
        with open(self.conf, "w") as f:
            f.write("set -g remain-on-exit on\nset -g status off\nset -g default-terminal screen\n"
                    "set -g history-limit 10000\n")
        self.width, self.height = width, height
        self.pids = []  # the pane's program, its children, the tmux server
        self.last = ""

    def tmux(self, *args, check=True):
        # -u: UTF-8 whatever our locale says, or tmux turns what it types and shows into "_".
        return subprocess.run(["tmux", "-u", "-S", self.socket, "-f", self.conf, *args],
                              stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=scaled(10), check=check)

    def start(self, argv, env, with_child=False):
        """Runs argv with exactly env (and nothing of ours) in the session's one pane.
        with_child: argv[0] is a wrapper that runs the program as its child (`timeout`), whose
        PID is recorded too."""
        command = shlex.join(["env", "-i", *(f"{k}={v}" for k, v in env.items()), *argv])
        self.tmux("new-session", "-d", "-s", self.name, "-x", str(self.width),
                  "-y", str(self.height), command)
        out = self.tmux("display-message", "-p", "-t", self.name, "#{pane_pid} #{pid}").stdout
        pane_pid, server_pid = map(int, out.split())
        self.pids = [pane_pid, server_pid]
        if with_child:
            self.pids[1:1] = wait_for(lambda: children(pane_pid), f"the child of {argv[0]}",
                                      scaled(5))

    def type(self, text):
        """Types text literally, then Enter."""
        self.tmux("send-keys", "-t", self.name, "-l", text)
        self.tmux("send-keys", "-t", self.name, "Enter")

    def capture(self):
        """The pane's text now (the last capture once the session is gone)."""
        res = self.tmux("capture-pane", "-p", "-J", "-t", self.name, check=False)
        if res.returncode == 0:
            self.last = res.stdout
        return self.last

    def pane_dead(self):
        res = self.tmux("display-message", "-p", "-t", self.name, "#{pane_dead}", check=False)
        return res.returncode != 0 or res.stdout.strip() == "1"

    def wait(self, pattern, what, timeout=None, count=1):
        """Polls the pane until pattern (a regex) is found count times; returns the pane."""
        rx = re.compile(pattern, re.M)

        def probe():
            pane = self.capture()
            return pane if len(rx.findall(pane)) >= count else None

        return wait_for(probe, what, WAIT if timeout is None else timeout)

    def stop(self):
        """Ends the session (SIGHUP to the pane) and the server, then makes sure every PID it
        recorded is gone, with SIGKILL for one that is not."""
        self.capture()
        self.tmux("kill-session", "-t", self.name, check=False)
        self.tmux("kill-server", check=False)
        for pid in self.pids:
            deadline = time.monotonic() + scaled(5)
            while alive(pid) and time.monotonic() < deadline:
                time.sleep(0.02)
            if alive(pid):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        shutil.rmtree(self.dir, ignore_errors=True)


IRSSI_CONFIG = """\
settings = {
  core = {
    real_name = "%(nick)s";
    user_name = "%(user)s";
    nick = "%(nick)s";
    settings_autosave = "no";
  };
  "fe-common/core" = { autolog = "no"; beep_msg_level = ""; };
  # irssi paces what it sends, 2.2 s a command after a burst; a test has no flood to fear.
  "irc/core" = { cmd_queue_speed = "50msec"; };
};
"""


class Irssi:
    """irssi as NICK in a tmux pane, connected to 127.0.0.1:port and nothing else: --home is a
    fresh directory in tmp_path with IRSSI_CONFIG (no networks to autoconnect, no scripts), HOME
    points there too, and `timeout` bounds its life should the test die without its teardown.
    start() runs it; stop() ends it, whatever start() got to."""

    def __init__(self, tmp_path, nick, port):
        self.nick, self.port = nick, port
        self.home = tmp_path / "irssi"
        self.home.mkdir()
        (self.home / "config").write_text(IRSSI_CONFIG % {"nick": nick, "user": nick.lower()})
        self.tmux = Tmux(f"irssi-{nick}")
        self.screen_path = tmp_path / "irssi-screen.txt"

    def start(self):
        nick, port = self.nick, self.port
        self.tmux.start(["timeout", "--foreground", "-s", "KILL", str(int(scaled(120))),
                         require("irssi"), f"--home={self.home}", f"--config={self.home}/config",
                         "-n", nick, "-c", "127.0.0.1", "-p", str(port)],
                        {"HOME": str(self.home), "TERM": "screen", "LANG": "C.UTF-8",
                         "PATH": os.environ.get("PATH", "/usr/bin:/bin")}, with_child=True)

    def type(self, text):
        self.tmux.type(text)

    def wait(self, pattern, what, timeout=None, count=1):
        return self.tmux.wait(pattern, f"{what} on irssi's screen", timeout, count)

    def screen(self):
        return self.tmux.capture()

    def save_screen(self):
        """Writes the screen now to irssi-screen.txt in tmp_path."""
        self.screen_path.write_text(self.screen())

    def stop(self):
        self.tmux.stop()
        if not self.screen_path.exists():
            self.screen_path.write_text(self.tmux.last)


# --------------------------------------------------------------------------------------------
# weechat-headless


class Weechat:
    """weechat-headless as NICK, connected to 127.0.0.1:port as server `natter`, joining #lobby.
    Its own --dir in tmp_path; only the irc and logger plugins; no scripts. SIGUSR1 makes it say
    `say` in #lobby, SIGUSR2 makes it ask for /names #lobby (weechat.signal.*)."""

    def __init__(self, tmp_path, nick, port, say):
        self.nick = nick
        self.dir = tmp_path / "weechat"
        self.dir.mkdir()
        self.logs = self.dir / "logs"
        srv = "irc.server.natter"
        commands = [
            "/set logger.file.flush_delay 0",
            # Show the NAMES reply (353) on joining, not only 366's count.
            '/set irc.look.display_join_message "329,332,333,353,366"',
            f'/set weechat.signal.sigusr1 "/msg -server natter #lobby {say}"',
            '/set weechat.signal.sigusr2 "/command -buffer irc.natter.#lobby irc /names #lobby"',
            f"/server add natter 127.0.0.1/{port}",
            f"/set {srv}.ssl off",
            f"/set {srv}.nicks {nick}",
            f"/set {srv}.username {nick.lower()}",
            f"/set {srv}.realname {nick}",
            f"/set {srv}.autojoin #lobby",
            f"/set {srv}.autoreconnect off",
            f"/set {srv}.anti_flood_prio_high 0",
            f"/set {srv}.anti_flood_prio_low 0",
            "/connect natter",
        ]
        argv = [require("weechat-headless"), "--dir", str(self.dir), "--no-script",
                "--plugins", "irc,logger"]
        for c in commands:
            argv += ["--run-command", c]
        self.out = open(tmp_path / "weechat.stdout", "wb")
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=self.out,
                                     stderr=subprocess.STDOUT, close_fds=True,
                                     env={**os.environ, "HOME": str(self.dir), "LANG": "C.UTF-8"},
                                     preexec_fn=_die_with_test)
        self.returncode = None

    def log(self, buffer):
        """The logger's file of buffer ("irc.natter.#lobby", "irc.server.natter",
        "core.weechat"), "" before it exists."""
        try:
            return (self.logs / f"{buffer}.weechatlog").read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def all_logs(self):
        return "".join(f"==> {name} <==\n{self.log(name)}\n" for name in
                       ("core.weechat", "irc.server.natter", "irc.natter.#lobby"))

    def wait(self, pattern, what, buffer="irc.natter.#lobby", timeout=None, count=1):
        """Polls buffer's log until pattern (a regex) is found count times; returns the log."""
        rx = re.compile(pattern, re.M)

        def probe():
            if self.proc.poll() is not None:
                pytest.fail(f"weechat exited ({self.proc.returncode}) before {what}",
                            pytrace=False)
            text = self.log(buffer)
            return text if len(rx.findall(text)) >= count else None

        return wait_for(probe, f"{what} in weechat's {buffer} log",
                        WAIT if timeout is None else timeout)

    def signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self):
        """SIGTERM (weechat.signal.sigterm: /quit); SIGKILL if it hangs. Returns its status."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(scaled(10))
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.out.close()
        self.returncode = self.proc.returncode
        return self.returncode


# --------------------------------------------------------------------------------------------
# The tests
#
# Each test: Alice on the line door first, then the client connects, JOINs #lobby, sees both nicks
# in the names of its JOIN, gets Alice's line, says one of its own (Alice sees `NICK: text`), asks
# for /names and quits (Alice sees it leave). The client's part is a function of the line user and
# the IRC address, so it can be tried against another IRC server too.

# One irssi line of a names listing: `HH:MM [ Alice] [ Ircy ]` (a cell per nick, mode first).
IRSSI_NAMES = r"^\d\d:\d\d(?: \[[ @+][^\]\s]+ *\])+\s*$"
# WeeChat's names in its log: `TIME<TAB>--<TAB>Nicks #lobby: [Alice Weechy]`.
WEECHAT_NAMES = r"\tNicks #lobby: \[.*\]$"


def notice(text):
    """A server line to a line user (PROTOCOL.md §7)."""
    return f"*** {text} ***"


def last_line(text, pattern):
    """The last line of text that pattern (a regex) finds something in, or ""."""
    lines = [line for line in text.splitlines() if re.search(pattern, line)]
    return lines[-1] if lines else ""


def assert_names(line, nicks, what):
    """Every nick appears in line as a whole word, maybe after a mode prefix (@ or +)."""
    missing = [n for n in nicks if not re.search(r"(?<![\w-])[@+]?%s(?![\w-])" % n, line)]
    assert not missing, f"{what} lacks {missing}: {line!r}"


def evidence(*parts):
    return "".join(f"\n--- {title} ---\n{text}" for title, text in parts)


def test_irssi_joins_lobby_and_talks_with_a_line_user(start_server, tmp_path):  # PROTOCOL.md §8
    server = start_server(listen=LISTEN)
    alice = server.join(LINE_NICK, addr=server.address_of("tcp"))
    host, port, _ = server.addresses[server.address_of("irc")]
    irssi_session(tmp_path, alice, host, port)


def irssi_session(tmp_path, line_user, host, port):
    """irssi's part: line_user (a Client in #lobby) and irssi, through a Recorder to host:port."""
    require("tmux")
    rec = Recorder(host, port, tmp_path / "irssi-traffic.txt")
    irssi, failure = Irssi(tmp_path, IRSSI_NICK, rec.port), None
    try:
        irssi.start()
        irssi.wait(r"-!- Welcome to the ", "the welcome (001)")
        irssi.type("/join #lobby")
        irssi.wait(r"-!- %s \[\S+\] has joined #lobby" % IRSSI_NICK, "the JOIN of #lobby")
        line_user.expect_line(notice(f"{IRSSI_NICK} has joined the chat"))
        # The names of the JOIN (353, 366): [Users #lobby], a line of nicks, the count.
        pane = irssi.wait(r"Irssi: #lobby: Total of 2 nicks", "the names of the JOIN")
        assert_names(last_line(pane, IRSSI_NAMES), (LINE_NICK, IRSSI_NICK),
                     "irssi's names of the JOIN")
        # irssi then asks for the channel's modes, who is in it and its bans (MODE, WHO,
        # MODE b) and says "synced" when every answer came: natter answered all it waited for.
        irssi.wait(r"Irssi: Join to #lobby was synced in ", "the end of the channel's sync",
                   scaled(10))

        line_user.send("hello from the line door")
        irssi.wait(r"<[ @+]?%s> hello from the line door$" % LINE_NICK, "the line user's line")
        irssi.type("hello from irssi")
        line_user.expect_line(f"{IRSSI_NICK}: hello from irssi")
        irssi.wait(r"<[ @+]?%s> hello from irssi$" % IRSSI_NICK, "irssi's own line")

        irssi.type("/names #lobby")
        pane = irssi.wait(r"Irssi: #lobby: Total of 2 nicks", "the /names listing", count=2)
        assert_names(last_line(pane, IRSSI_NAMES), (LINE_NICK, IRSSI_NICK), "irssi's /names")

        irssi.save_screen()  # the last screen: irssi clears it when it exits
        irssi.type("/quit see you")
        line_user.expect_line(notice(f"{IRSSI_NICK} has left the chat (see you)"))
        wait_for(irssi.tmux.pane_dead, "the exit of irssi after /quit", scaled(10))
    except (AssertionError, pytest.fail.Exception) as e:
        failure = f"{e}{evidence(('irssi screen', irssi.screen()))}"
    finally:
        irssi.stop()
        rec.stop()
    if failure:
        pytest.fail(f"{failure}{evidence(('IRC traffic', rec.text()))}", pytrace=False)


def test_weechat_joins_lobby_and_talks_with_a_line_user(start_server, tmp_path):  # PROTOCOL.md §8
    server = start_server(listen=LISTEN)
    alice = server.join(LINE_NICK, addr=server.address_of("tcp"))
    host, port, _ = server.addresses[server.address_of("irc")]
    weechat_session(tmp_path, alice, host, port)


def weechat_session(tmp_path, line_user, host, port):
    """WeeChat's part: line_user (a Client in #lobby) and WeeChat, through a Recorder."""
    rec = Recorder(host, port, tmp_path / "weechat-traffic.txt")
    wee, failure = None, None
    try:
        wee = Weechat(tmp_path, WEECHAT_NICK, rec.port, say="hello from weechat")
        wee.wait(r"\t-->\t%s \(\S+\) has joined #lobby$" % WEECHAT_NICK, "the JOIN")
        line_user.expect_line(notice(f"{WEECHAT_NICK} has joined the chat"))
        # The names of the JOIN: 353 (shown because of display_join_message), then 366's count.
        log = wee.wait(r"\tChannel #lobby: 2 nicks ", "the names of the JOIN")
        assert_names(last_line(log, WEECHAT_NAMES), (LINE_NICK, WEECHAT_NICK),
                     "weechat's names of the JOIN")

        line_user.send("hello from the line door")
        wee.wait(r"\t[@+]?%s\thello from the line door$" % LINE_NICK, "the line user's line")
        wee.signal(signal.SIGUSR1)  # weechat.signal.sigusr1: /msg #lobby ...
        line_user.expect_line(f"{WEECHAT_NICK}: hello from weechat")
        wee.wait(r"\t[@+]?%s\thello from weechat$" % WEECHAT_NICK, "its own line")

        wee.signal(signal.SIGUSR2)  # weechat.signal.sigusr2: /names #lobby
        log = wee.wait(WEECHAT_NAMES, "the /names listing", count=2)
        assert_names(last_line(log, WEECHAT_NAMES), (LINE_NICK, WEECHAT_NICK),
                     "weechat's /names")

        # WeeChat prints `=!=` for what it could not take: an option it does not know, an error
        # reply, a line it could not parse, a numeric in the wrong shape.
        for buffer in ("core.weechat", "irc.server.natter", "irc.natter.#lobby"):
            complaints = [line for line in wee.log(buffer).splitlines() if "\t=!=\t" in line]
            assert not complaints, f"weechat complained in {buffer}: {complaints}"

        # SIGTERM is weechat.signal.sigterm, /quit: QUIT with WeeChat's version as the words.
        assert wee.stop() == 0, f"weechat exit status {wee.returncode} after SIGTERM"
        expect_line_matching(line_user,
                             rb"\*\*\* %s has left the chat \(WeeChat [\w.-]+\) \*\*\*"
                             % WEECHAT_NICK.encode())
    except (AssertionError, pytest.fail.Exception) as e:
        failure = f"{e}{evidence(('weechat logs', wee.all_logs() if wee else ''))}"
    finally:
        if wee is not None:
            wee.stop()
        rec.stop()
    if failure:
        pytest.fail(f"{failure}{evidence(('IRC traffic', rec.text()))}", pytrace=False)
