"""The Debian package (debian/, `make deb`) on this machine: install it, check what it put where,
run the installed natter as a chat server, remove it (the conffile stays), purge it (nothing
stays). Run by `make test-package` (after `make deb`) as root:

    /usr/bin/python3 -m pytest tests/package

It changes the machine's dpkg database, so it refuses to run over an installed natter, and
purges what it installed however it ends. The tests run in file order: the last one removes
and purges. NATTER_DEB names another .deb (default: the one in build-deb/).
"""
import glob
import os
import re
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = "natter"
CONFFILE = "/etc/natter/natter.conf"
BINARY = "/usr/bin/natter"
UNIT = "/lib/systemd/system/natter.service"
# deb-systemd-helper enables the service on install whether or not systemd runs (it does not in
# a container: then the postinst only skips the start).
ENABLED = "/etc/systemd/system/multi-user.target.wants/natter.service"
MAN_PAGES = ("/usr/share/man/man1/natter.1.gz", "/usr/share/man/man1/natter-bench.1.gz",
             "/usr/share/man/man5/natter.conf.5.gz")
TIMEOUT = 120  # seconds for dpkg, lintian and the like
WAIT = 5.0  # seconds for one expected reply from the server
PROMPT = b"Enter your name: "


def run(*argv, timeout=TIMEOUT, check=True):
    """Runs argv, returns the CompletedProcess (text, stdout and stderr captured)."""
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                          env=dict(os.environ, LC_ALL="C.UTF-8"))
    if check and proc.returncode != 0:
        pytest.fail(f"{' '.join(argv)} exited {proc.returncode}:\n{proc.stdout}{proc.stderr}")
    return proc


def deb_path():
    """The .deb under test: $NATTER_DEB, or the one natter_*.deb in build-deb/."""
    if os.environ.get("NATTER_DEB"):
        return os.environ["NATTER_DEB"]
    debs = glob.glob(str(ROOT / "build-deb" / f"{PACKAGE}_*.deb"))
    if len(debs) != 1:
        pytest.fail(f"expected one build-deb/{PACKAGE}_*.deb, found {debs}: run make deb")
    return debs[0]


def is_installed():
    """True when dpkg has natter installed (or half-installed: anything but not-installed)."""
    proc = run("dpkg-query", "-W", "-f=${db:Status-Status}", PACKAGE, check=False)
    return proc.returncode == 0 and proc.stdout not in ("", "not-installed")


@pytest.fixture(scope="module")
def installed():
    """dpkg -i the package; purges it at the end if it is still installed. Fails (never skips)
    when not root or when a natter package is installed already: that one is not ours to
    replace or purge."""
    if os.geteuid() != 0:
        pytest.fail("tests/package installs the package with dpkg -i and purges it: run it as "
                    "root (sudo make test-package)")
    if is_installed():
        pytest.fail(f"a package named {PACKAGE} is installed already "
                    f"({run('dpkg-query', '-W', PACKAGE, check=False).stdout.strip()}); "
                    f"this test would replace and purge it: remove it first (dpkg -P {PACKAGE})")
    deb = deb_path()
    try:
        run("dpkg", "-i", deb)
        yield deb
    finally:
        if is_installed():
            run("dpkg", "-P", PACKAGE, check=False)


def test_lintian_reports_no_errors():
    # --fail-on none: the exit status says only whether lintian ran; the tags are judged here.
    proc = run("lintian", "--fail-on", "none", "--tag-display-limit", "0", deb_path())
    tags = [line for line in proc.stdout.splitlines() if re.match(r"^[A-Z]: ", line)]
    print("lintian:\n" + "\n".join(tags or ["(no tags)"]))  # the warnings, for the record
    assert not [t for t in tags if t.startswith("E: ")], "\n".join(tags)


def test_files_are_where_they_belong(installed):
    listed = set(run("dpkg", "-L", PACKAGE).stdout.splitlines())
    for path in (BINARY, "/usr/bin/natter-bench", UNIT, CONFFILE) + MAN_PAGES:
        assert path in listed, f"dpkg -L {PACKAGE} does not list {path}"
        assert os.path.exists(path), path
    # /etc/natter/natter.conf is a conffile: dpkg keeps it on remove, and an admin's edit
    # survives an upgrade.
    conffiles = run("dpkg-query", "-W", "-f=${Conffiles}", PACKAGE).stdout
    assert CONFFILE in conffiles.split(), conffiles
    assert os.path.islink(ENABLED), "the postinst did not enable natter.service"
    # systemd's StateDirectory= makes /var/lib/natter; the package ships no state.
    assert not [p for p in listed if p.startswith("/var/lib/natter")]


def test_units_pass_systemd_analyze_verify(installed):
    # systemd's own check of the installed units: every key known, every value parsed, the
    # binaries they name there. It warns on stderr and still exits 0 for an unknown key.
    proc = run("systemd-analyze", "verify", UNIT, UNIT.replace(".service", ".socket"),
               check=False)
    assert proc.returncode == 0 and proc.stderr == "" and proc.stdout == "", \
        f"systemd-analyze verify: {proc.returncode}\n{proc.stdout}{proc.stderr}"


def test_version_is_the_packages(installed):
    version = run("dpkg-query", "-W", "-f=${Version}", PACKAGE).stdout
    out = run(BINARY, "--version", timeout=10).stdout
    assert out.startswith(f"natter {version} "), out


@pytest.mark.parametrize("page", MAN_PAGES)
def test_man_page_renders_without_warnings(installed, page):
    proc = subprocess.run(["man", "--warnings", "-E", "UTF-8", "-l", page], capture_output=True,
                          text=True, timeout=60,
                          env=dict(os.environ, LC_ALL="C.UTF-8", MANWIDTH="80", MANROFFSEQ=""))
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == "", f"{page}: man --warnings:\n{proc.stderr}"
    assert "natter" in proc.stdout


def test_packaged_config_is_valid(installed):
    proc = run(BINARY, "--check-config", "--config", CONFFILE, timeout=10)
    assert "the configuration is valid" in proc.stderr + proc.stdout


class Client:
    """One chat connection; reads are checked byte for byte against what is expected."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
        self.buf = b""

    def send(self, data):
        self.sock.sendall(data)

    def expect(self, want):
        """Reads until len(want) bytes are in, then asserts they are want; leaves the rest."""
        deadline = time.monotonic() + WAIT
        while len(self.buf) < len(want) and want.startswith(self.buf):
            left = deadline - time.monotonic()
            if left <= 0:
                break
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(4096)
            except socket.timeout:
                break
            if not chunk:
                break
            self.buf += chunk
        got, self.buf = self.buf[:len(want)], self.buf[len(want):]
        assert got == want, f"expected {want!r}, got {got!r}"

    def close(self):
        self.sock.close()


def welcome(name, others):
    """PROTOCOL.md §2.6: the newcomer's one welcome line."""
    return f"*** Welcome to lobby, {name}: {others}. Type /help for the commands. ***\n".encode()


def test_installed_binary_serves_the_chat(installed, tmp_path):
    log_path = tmp_path / "natter.log"
    # stderr to a file, not a pipe: a full pipe would block the server.
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([BINARY, "--listen", "127.0.0.1:0"], stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=log)
    clients = []
    try:
        port, deadline = None, time.monotonic() + WAIT
        while port is None and time.monotonic() < deadline and proc.poll() is None:
            m = re.search(rb"listening on 127\.0\.0\.1:(\d+)\n", log_path.read_bytes())
            if m:
                port = int(m.group(1))
            else:
                time.sleep(0.02)
        assert port, f"no 'listening on' line:\n{log_path.read_text(errors='replace')}"

        alice = Client(port)
        clients.append(alice)
        alice.expect(PROMPT)
        alice.send(b"Alice\n")
        alice.expect(welcome("Alice", "nobody else is here"))  # Alice is in before Bob comes

        bob = Client(port)
        clients.append(bob)
        bob.expect(PROMPT)
        bob.send(b"Bob\n")
        bob.expect(welcome("Bob", "1 other person is here"))
        alice.expect(b"*** Bob has joined the chat ***\n")

        bob.send(b"hello\n")
        alice.expect(b"Bob: hello\n")
        # The barrier (tests/integration/chat_helpers.py): natter handles Bob's lines in order,
        # so when the reply to /zz is the next thing Bob reads, his own line never came back.
        bob.send(b"/zz\n")
        bob.expect(b"*** Unknown command: /zz. Type /help for the commands. ***\n")

        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0, log_path.read_text(errors="replace")
    finally:
        for c in clients:
            c.close()
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)


def unit_commands(path):
    """The ExecStartPre, ExecStart and ExecReload command lines of the unit at path."""
    cmds = {}
    for line in Path(path).read_text().splitlines():
        key, sep, value = line.partition("=")
        if sep and key in ("ExecStartPre", "ExecStart", "ExecReload"):
            cmds[key] = value.split()
    return cmds


def notified(sock, want):
    """Reads sd_notify datagrams until one holds the line want; returns them all."""
    got = []
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        sock.settimeout(deadline - time.monotonic())
        try:
            got.append(sock.recv(4096).decode())
        except socket.timeout:
            break
        if want in got[-1].split("\n"):
            return got
    pytest.fail(f"no {want!r} from natter; got {got}")


def wait_log(path, pattern):
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        m = re.search(pattern, path.read_bytes(), re.M)
        if m:
            return m
        time.sleep(0.02)
    pytest.fail(f"no {pattern!r} in the log:\n{path.read_text(errors='replace')}")


def test_the_service_started_reloaded_and_stopped_as_systemd_does(installed, tmp_path):
    # No systemd runs in this container, so the unit's own command lines are run the way
    # systemd would: ExecStartPre, then ExecStart with NOTIFY_SOCKET (Type=notify), an edit of
    # the conffile applied by ExecReload, and SIGTERM. The person's steps, in order.
    cmds = unit_commands(UNIT)
    assert cmds["ExecStart"][0] == BINARY and "--config" in cmds["ExecStart"], cmds
    conf = Path(CONFFILE)
    packaged = conf.read_text()
    # Edit 1: listen on free ports (8888, 6667 and 8080 may be taken on a build machine).
    edited = re.sub(r"^listen = (irc://|http://)?127\.0\.0\.1:\d+$",
                    r"listen = \g<1>127.0.0.1:0", packaged, flags=re.M)
    assert edited.count(":0\n") == 3, edited
    conf.write_text(edited)
    run(*cmds["ExecStartPre"], timeout=10)
    notify_path = str(tmp_path / "notify.sock")
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(notify_path)
    log_path = tmp_path / "natter.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmds["ExecStart"], stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=log,
                                env=dict(os.environ, NOTIFY_SOCKET=notify_path))
    clients = []
    try:
        assert notified(notify, "READY=1")[-1] == "READY=1\nSTATUS=serving on 3 listeners"
        port = int(wait_log(log_path, rb" info listening on 127\.0\.0\.1:(\d+)$").group(1))
        alice = Client(port)
        clients.append(alice)
        alice.expect(PROMPT)
        alice.send(b"Alice\n")
        alice.expect(welcome("Alice", "nobody else is here"))
        alice.send(b"x" * 150 + b"\n/zz\n")  # a line of 150 bytes is a chat line
        alice.expect(b"*** Unknown command: /zz. Type /help for the commands. ***\n")
        # Edit 2: a smaller max-line, applied by the unit's ExecReload while Alice stays.
        conf.write_text(edited + "max-line = 100\n")
        reload = [str(proc.pid) if a == "$MAINPID" else a for a in cmds["ExecReload"]]
        run(*reload, timeout=10)
        assert notified(notify, "RELOADING=1") == ["RELOADING=1"]
        assert notified(notify, "READY=1") == ["READY=1"]
        wait_log(log_path, rb" info reload: max-line 4096 -> 100$")
        alice.send(b"x" * 150 + b"\n")
        alice.expect(b"Line too long (more than 100 bytes); not sent.\n")
        proc.send_signal(signal.SIGTERM)  # systemctl stop
        assert notified(notify, "STOPPING=1") == ["STOPPING=1"]
        assert proc.wait(timeout=10) == 0, log_path.read_text(errors="replace")
        assert os.path.isdir("/var/lib/natter"), "--state-dir /var/lib/natter was not made"
    finally:
        for c in clients:
            c.close()
        notify.close()
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)


def test_remove_keeps_the_conffile_and_purge_removes_it(installed):
    run("dpkg", "-r", PACKAGE)
    assert not os.path.exists(BINARY)
    assert not os.path.exists(UNIT)
    assert os.path.isfile(CONFFILE), "dpkg -r must leave the conffile"
    assert run("dpkg-query", "-W", "-f=${db:Status-Status}", PACKAGE).stdout == "config-files"

    run("dpkg", "-P", PACKAGE)
    assert not os.path.exists("/etc/natter"), os.listdir("/etc/natter")
    for path in MAN_PAGES + ("/usr/share/doc/natter", "/var/lib/natter"):
        assert not os.path.exists(path), path
    assert not os.path.lexists(ENABLED), "the purge left natter.service enabled"
    status = run("dpkg", "-s", PACKAGE, check=False)
    assert status.returncode != 0
    assert "is not installed" in status.stderr, status.stderr
