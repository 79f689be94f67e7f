"""Black-box fixtures for natter: start the real binary on port 0 and talk to it over TCP.

Run: /usr/bin/python3 -m pytest tests/integration   (the python3 first on PATH has no pytest)
Env: NATTER_BIN            the binary (default <repo>/build/natter)
     NATTER_TIMEOUT_SCALE  multiplies every deadline (default 3 for a sanitizer build, else 1)
     NATTER_SANITIZED=1    says the binary is a sanitizer build (also detected from its symbols)
     NATTER_WRAPPER        a command line to run the binary under, e.g. "valgrind
                           --error-exitcode=99 --leak-check=full" (make test-valgrind)
     NATTER_LONG=1         hostile-client and resource tests run their long versions

TLS (PROTOCOL.md §1): a `listening on tls://HOST:PORT` address is recorded with its scheme
(Server.schemes), and Server.connect/join to it open a TLS connection (Python's ssl, no
certificate check unless the test passes its own context) behind the same Client API. The
session fixture tls_cert is a throwaway self-signed certificate (openssl CLI); make_cert makes
more; start_server(..., tls=CERT) adds --tls-cert and --tls-key.

Every wait has a deadline; nothing sleeps and hopes. The server's stderr goes to a file (a full
pipe would block a chatty server). Teardown closes the test's clients, stops each server with
SIGTERM, requires exit status 0 (unless the test stopped it itself) and no sanitizer report in its
stderr.
"""
import ctypes
import os
import re
import resource
import shlex
import signal
import socket
import ssl
import subprocess
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
NATTER_BIN = os.environ.get("NATTER_BIN", str(REPO / "build" / "natter"))
def _find_howto_dir():
    """The HOWTO's reference programs live beside the repository in the team's shared/ folder
    (../shared/howto from a checkout in the workplace, /work/shared/howto for a clone elsewhere
    on the same machine, as CI makes); NATTER_HOWTO_DIR overrides."""
    if os.environ.get("NATTER_HOWTO_DIR"):
        return Path(os.environ["NATTER_HOWTO_DIR"])
    for d in (REPO.parent / "shared" / "howto", Path("/work/shared/howto")):
        if (d / "howto_chat.py").exists():
            return d
    return REPO.parent / "shared" / "howto"


HOWTO_DIR = _find_howto_dir()
# Prefix for every natter command line (valgrind, strace...); empty = run the binary itself.
WRAPPER = shlex.split(os.environ.get("NATTER_WRAPPER", ""))
UNDER_VALGRIND = any("valgrind" in os.path.basename(w) for w in WRAPPER[:1])
LONG = os.environ.get("NATTER_LONG") == "1"

PROMPT = b"Enter your name: "
# PROTOCOL.md §2.6: the newcomer's one welcome line.
WELCOME = re.compile(rb"\*\*\* Welcome to lobby, (.+): (?:nobody else is here|1 other person is here"
                     rb"|\d+ other people are here)\. Type /help for the commands\. \*\*\*\n")
SANITIZER_MARKERS = (
    b"AddressSanitizer",
    b"LeakSanitizer",
    b"UndefinedBehaviorSanitizer",
    b"ThreadSanitizer",
    b"MemorySanitizer",
    b"runtime error:",
    # valgrind memcheck (NATTER_WRAPPER): errors, and leaks with --leak-check=full
    b"Invalid read of size",
    b"Invalid write of size",
    b"Invalid free()",
    b"Mismatched free()",
    b"depends on uninitialised value",
    b"contains uninitialised byte",
    b"are definitely lost in loss record",
)


def _detect_scale():
    env = os.environ.get("NATTER_TIMEOUT_SCALE")
    if env:
        return float(env)
    if os.environ.get("NATTER_SANITIZED") == "1":
        return 3.0
    try:
        with open(NATTER_BIN, "rb") as f:
            data = f.read()
    except OSError:
        return 1.0
    if b"__asan_init" in data or b"__ubsan_handle" in data or b"__tsan_init" in data:
        return 3.0
    return 1.0


SCALE = _detect_scale()
# Default deadline for one expected event (a line, a close, a log line).
WAIT = 5.0 * SCALE


def scaled(seconds):
    """A deadline in seconds, stretched for slow (sanitizer) builds."""
    return seconds * SCALE


def pytest_configure(config):
    config.addinivalue_line("markers", "test_timeout(seconds): per-test limit before SCALE")


def pytest_collection_modifyitems(config, items):
    # Every test is bounded in time: 30 s unless it says otherwise with
    # @pytest.mark.test_timeout(N); both are stretched by SCALE. The signal method raises inside
    # the test, so fixture teardown still stops the servers it started.
    for item in items:
        try:
            Path(str(item.fspath)).resolve().relative_to(HERE)
        except ValueError:
            continue
        m = item.get_closest_marker("test_timeout")
        seconds = m.args[0] if m else 30
        item.add_marker(pytest.mark.timeout(seconds * SCALE, method="signal"))
        if UNDER_VALGRIND and item.originalname in NOT_UNDER_VALGRIND:
            item.add_marker(pytest.mark.skip(reason=NOT_UNDER_VALGRIND[item.originalname]))


# Tests that cannot mean the same under valgrind (make test-valgrind): valgrind keeps some of the
# process's descriptors for itself and lowers the open-file limit natter sees, so tests of
# natter's behaviour at an exact limit measure valgrind instead.
_VALGRIND_FDS = "valgrind takes descriptors from the open-file limit natter sees"
NOT_UNDER_VALGRIND = {
    "test_default_max_clients_follows_open_file_limit": _VALGRIND_FDS,
    "test_out_of_file_descriptors": _VALGRIND_FDS,
    "test_low_open_file_limit": _VALGRIND_FDS,
}


def _check_binary():
    if not os.access(NATTER_BIN, os.X_OK):
        pytest.fail(f"natter binary not found or not executable: {NATTER_BIN} (set NATTER_BIN)",
                    pytrace=False)


def _preexec(rlimit_nofile):
    def fn():
        # Die with the test process, so a crashed pytest leaves no server behind.
        try:
            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        except Exception:
            pass
        if rlimit_nofile is not None:
            soft, hard = rlimit_nofile
            resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    return fn


def sanitizer_reports(data):
    """The sanitizer markers found in a stderr dump."""
    return [m.decode() for m in SANITIZER_MARKERS if m in data]


# --------------------------------------------------------------------------------------------
# Client


class Client:
    """One TCP connection with a read buffer. Every read has a deadline."""

    def __init__(self, sock, label):
        self.sock = sock
        self.label = label
        self.buf = bytearray()
        self.eof = False
        self.reset = False
        self.tls_error = None  # the ssl.SSLError that ended a TLS connection, if one did
        self._port = None

    @property
    def local_port(self):
        if self._port is None:
            self._port = self.sock.getsockname()[1]
        return self._port

    def __repr__(self):
        return f"<Client {self.label}>"

    # -- sending

    def send(self, text):
        """Sends text (str or bytes) followed by LF."""
        if isinstance(text, str):
            text = text.encode("utf-8")
        self.sock.sendall(text + b"\n")

    def send_raw(self, data):
        self.sock.sendall(data)

    # -- reading

    def _fill(self, deadline):
        """Reads once. Returns False when the deadline passed without data or EOF."""
        if self.eof:
            return True
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        self.sock.settimeout(remaining)
        try:
            data = self.sock.recv(1 << 16)
        except socket.timeout:
            return False
        except ConnectionResetError:
            self.eof = True
            self.reset = True
            return True
        except ssl.SSLError as e:
            # A TLS connection the server ended with an alert or a broken record: closed.
            self.eof = True
            self.tls_error = e
            return True
        finally:
            self.sock.settimeout(None)
        if data:
            self._take(data)
        else:
            self.eof = True
            self._at_eof()
        return True

    def _take(self, data):
        """What a read brought: lines for read_line (a subclass may decode them first)."""
        self.buf += data

    def _at_eof(self):
        """The peer closed (a subclass may check what was left)."""

    def read_line(self, timeout=None):
        """Returns one line including its LF; fails on timeout or close."""
        limit = WAIT if timeout is None else timeout
        deadline = time.monotonic() + limit
        while True:
            i = self.buf.find(b"\n")
            if i >= 0:
                line = bytes(self.buf[: i + 1])
                del self.buf[: i + 1]
                return line
            if self.eof:
                pytest.fail(f"{self.label}: connection closed{' (RST)' if self.reset else ''} "
                            f"before a complete line; pending bytes {bytes(self.buf)!r}",
                            pytrace=False)
            if not self._fill(deadline):
                pytest.fail(f"{self.label}: no complete line within {limit:.1f}s; "
                            f"pending bytes {bytes(self.buf)!r}", pytrace=False)

    def expect_welcome(self, name, timeout=None):
        """Reads the one welcome line a newcomer gets after its name (PROTOCOL.md §2.6)."""
        if isinstance(name, str):
            name = name.encode("utf-8")
        line = self.read_line(timeout)
        m = WELCOME.fullmatch(line)
        assert m and m.group(1) == name, f"{self.label}: expected the welcome line, got {line!r}"

    def expect_line(self, expected, timeout=None):
        """Reads exactly one line and asserts it equals expected (str or bytes, without LF)."""
        if isinstance(expected, str):
            expected = expected.encode("utf-8")
        want = expected + b"\n"
        got = self.read_line(timeout)
        assert got == want, f"{self.label}: expected line {want!r}, got {got!r}"

    def expect_bytes(self, expected, timeout=None):
        """Reads exactly len(expected) bytes and asserts they equal expected."""
        deadline = time.monotonic() + (WAIT if timeout is None else timeout)
        while len(self.buf) < len(expected):
            if not expected.startswith(bytes(self.buf)):
                break
            if self.eof:
                break
            if not self._fill(deadline):
                break
        got = bytes(self.buf[: len(expected)])
        assert got == expected, (f"{self.label}: expected bytes {expected!r}, got {got!r}"
                                 f"{' then EOF' if self.eof else ''}")
        del self.buf[: len(expected)]

    def expect_silence(self, seconds):
        """Asserts nothing arrives (no byte, no close) for the given time."""
        deadline = time.monotonic() + seconds
        while not self.buf and not self.eof:
            if not self._fill(deadline):
                return
        pytest.fail(f"{self.label}: expected silence for {seconds}s, got {bytes(self.buf)!r}"
                    f"{' and EOF' if self.eof else ''}", pytrace=False)

    def expect_closed(self, timeout=None):
        """Asserts the server closes the connection (FIN) with no further byte."""
        deadline = time.monotonic() + (WAIT if timeout is None else timeout)
        while not self.buf and not self.eof:
            if not self._fill(deadline):
                pytest.fail(f"{self.label}: connection still open after "
                            f"{WAIT if timeout is None else timeout:.1f}s", pytrace=False)
        assert not self.buf, f"{self.label}: expected close, got bytes {bytes(self.buf)!r}"
        assert not self.reset, f"{self.label}: connection reset (RST) instead of a close (FIN)"

    def read_until_closed(self, timeout=None):
        """Returns every byte up to the close (FIN or RST; self.reset tells which)."""
        deadline = time.monotonic() + (WAIT if timeout is None else timeout)
        while not self.eof:
            if not self._fill(deadline):
                pytest.fail(f"{self.label}: connection still open after "
                            f"{WAIT if timeout is None else timeout:.1f}s; "
                            f"got {len(self.buf)} bytes, last {bytes(self.buf[-200:])!r}",
                            pytrace=False)
        data = bytes(self.buf)
        self.buf.clear()
        return data

    @property
    def is_tls(self):
        return isinstance(self.sock, ssl.SSLSocket)

    def peer_cert_der(self):
        """The certificate the server presented (DER), for a TLS client."""
        return self.sock.getpeercert(binary_form=True)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def close_with_reset(self):
        """Closes with RST (SO_LINGER 0) instead of FIN."""
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        self.close()


def open_client(host, port, family=socket.AF_INET, rcvbuf=None, label=None, timeout=None):
    """Connects to host:port and returns a Client. rcvbuf is set before connect (so the window
    the peer sees is small from the start)."""
    sock = socket.socket(family, socket.SOCK_STREAM)
    if rcvbuf is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.settimeout(WAIT if timeout is None else timeout)
    sock.connect((host, port))
    sock.settimeout(None)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    c = Client(sock, label or f"client:{sock.getsockname()[1]}")
    c.local_port  # remembered, so it can be named after the close
    return c


# --------------------------------------------------------------------------------------------
# TLS


def tls_client_context(cafile=None, minimum=None, maximum=None):
    """A client SSLContext: no certificate check, or verifying against cafile (the test's own
    self-signed certificate; host names are not checked: tests connect to 127.0.0.1).
    minimum/maximum: ssl.TLSVersion bounds."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    if cafile is None:
        ctx.verify_mode = ssl.CERT_NONE
    else:
        ctx.load_verify_locations(cafile=str(cafile))
    if minimum is not None:
        ctx.minimum_version = minimum
    if maximum is not None:
        ctx.maximum_version = maximum
    return ctx


def open_tls_client(host, port, family=socket.AF_INET, rcvbuf=None, label=None, timeout=None,
                    context=None):
    """Like open_client, then a TLS handshake (deadline WAIT) with context (default: no
    certificate check). Returns a Client over the ssl.SSLSocket; a failed handshake raises
    ssl.SSLError or OSError (the socket is closed)."""
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        if rcvbuf is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        sock.settimeout(WAIT if timeout is None else timeout)
        sock.connect((host, port))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        tls = (context or tls_client_context()).wrap_socket(sock, do_handshake_on_connect=False)
    except BaseException:
        sock.close()
        raise
    try:
        tls.do_handshake()  # under the connect's deadline
    except BaseException:
        tls.close()
        raise
    tls.settimeout(None)
    c = Client(tls, label or f"tls-client:{tls.getsockname()[1]}")
    c.local_port
    return c


class Cert:
    """A self-signed certificate and its key on disk (PEM), with the certificate's DER."""

    def __init__(self, cert, key, cn):
        self.cert, self.key, self.cn = Path(cert), Path(key), cn
        self.der = ssl.PEM_cert_to_DER_cert(self.cert.read_text())

    def args(self):
        return ["--tls-cert", str(self.cert), "--tls-key", str(self.key)]

    def __repr__(self):
        return f"<Cert CN={self.cn} {self.cert}>"


def make_cert(directory, cn="localhost", stem=None):
    """Makes a throwaway self-signed P-256 certificate and key with the openssl CLI in directory
    (files STEM.crt and STEM.key, STEM defaulting to cn) and returns a Cert."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    stem = stem or cn
    cert, key = directory / f"{stem}.crt", directory / f"{stem}.key"
    try:
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec",
                        "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                        "-keyout", str(key), "-out", str(cert), "-days", "2",
                        "-subj", f"/CN={cn}"],
                       check=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, timeout=60)
    except FileNotFoundError:
        pytest.skip("the openssl command is not installed (apt-get install openssl)")
    except subprocess.CalledProcessError as e:
        pytest.fail(f"openssl req failed: {e.stderr.decode(errors='replace')}", pytrace=False)
    return Cert(cert, key, cn)


@pytest.fixture(scope="session")
def tls_cert(tmp_path_factory):
    """One throwaway self-signed certificate (CN=localhost) for the whole session. Tests that
    change the files (SIGHUP reload) copy it or make their own."""
    return make_cert(tmp_path_factory.mktemp("tls"), "localhost")


# --------------------------------------------------------------------------------------------
# Server

# `listening on HOST:PORT` (plain TCP) or `listening on SCHEME://HOST:PORT` (tls, irc, ircs,
# http, https); HOST may be [IPv6].
LISTEN_RE = re.compile(rb" info listening on (?:(tls|irc|ircs|http|https)://)?"
                       rb"(\[[^\]\s]+\]|[^\s:/\[\]]+):(\d+)$", re.M)


class Server:
    """A running natter process with its stderr in a file."""

    def __init__(self, argv, log_path, rlimit_nofile=None, env=None):
        self.argv = argv
        self.log_path = log_path
        self.stdout_path = Path(str(log_path) + ".stdout")
        self.clients = []
        self.addresses = []  # (host, port, family) in log order
        self.schemes = []  # "tcp", "tls", "irc" or "ircs", one per address
        self.returncode = None
        self._log_file = open(log_path, "wb")
        self._out_file = open(self.stdout_path, "wb")
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=self._out_file,
                                     stderr=self._log_file, close_fds=True,
                                     preexec_fn=_preexec(rlimit_nofile),
                                     env=None if env is None else {**os.environ, **env})

    # -- the log

    def log(self):
        """Everything the server wrote to stderr so far."""
        with open(self.log_path, "rb") as f:
            return f.read()

    def wait_log(self, pattern, count=1, timeout=None):
        """Waits until the regex pattern (bytes or str) matches count times in the log; returns
        the matches."""
        if isinstance(pattern, str):
            pattern = pattern.encode("utf-8")
        rx = pattern if isinstance(pattern, re.Pattern) else re.compile(pattern, re.M)
        deadline = time.monotonic() + (WAIT if timeout is None else timeout)
        while True:
            matches = list(rx.finditer(self.log()))
            if len(matches) >= count:
                return matches
            if self.proc.poll() is not None:
                matches = list(rx.finditer(self.log()))
                if len(matches) >= count:
                    return matches
                pytest.fail(f"natter exited ({self.proc.returncode}) before logging "
                            f"{pattern!r}; log:\n{self.log().decode(errors='replace')}",
                            pytrace=False)
            if time.monotonic() > deadline:
                pytest.fail(f"log has {len(matches)} of {count} lines matching {pattern!r}; "
                            f"log:\n{self.log()[-3000:].decode(errors='replace')}",
                            pytrace=False)
            time.sleep(0.005)

    def wait_listening(self, n):
        matches = self.wait_log(LISTEN_RE, count=n, timeout=scaled(10))
        for m in matches:
            host = m.group(2).decode()
            family = socket.AF_INET
            if host.startswith("["):
                host, family = host[1:-1], socket.AF_INET6
            self.addresses.append((host, int(m.group(3)), family))
            self.schemes.append(m.group(1).decode() if m.group(1) else "tcp")

    def address_of(self, scheme):
        """The number of the first listening address with scheme ("tcp", "tls", "irc", "ircs",
        "http", "https")."""
        try:
            return self.schemes.index(scheme)
        except ValueError:
            pytest.fail(f"natter listens on no {scheme} address: {self.schemes}", pytrace=False)

    @property
    def host(self):
        return self.addresses[0][0]

    @property
    def port(self):
        return self.addresses[0][1]

    # -- clients

    def connect(self, addr=0, rcvbuf=None, label=None, tls=None, tls_context=None):
        """Opens a connection (no prompt read) to listening address number addr: TLS (handshake
        done, with tls_context or no certificate check) when that address is a tls://, ircs:// or
        https:// one, plain TCP otherwise; tls=False forces plain TCP (raw bytes to a TLS port)."""
        host, port, family = self.addresses[addr]
        if tls is None:
            tls = self.schemes[addr] in ("tls", "ircs", "https")
        if tls:
            c = open_tls_client(host, port, family, rcvbuf=rcvbuf, label=label,
                                context=tls_context)
        else:
            c = open_client(host, port, family, rcvbuf=rcvbuf, label=label)
        self.clients.append(c)
        return c

    def join(self, name, addr=0, rcvbuf=None, line=None, tls_context=None):
        """Connects, reads the prompt byte-exact, sends name and waits until natter logs that
        this connection joined as name (OPERATIONS.md, "name accepted"). line overrides the
        bytes sent (e.g. b"Alice\\r\\n")."""
        c = self.connect(addr, rcvbuf=rcvbuf, label=name, tls_context=tls_context)
        c.expect_bytes(PROMPT)
        raw = name.encode("utf-8") if isinstance(name, str) else name
        c.send_raw(line if line is not None else raw + b"\n")
        self.wait_joined(raw, c)
        return c

    def wait_joined(self, name, client):
        """Waits for natter's "joined as" log line, then reads the welcome line that is the
        newcomer's first line (PROTOCOL.md §2.6)."""
        if isinstance(name, str):
            name = name.encode("utf-8")
        self.wait_log(rb"peer=\S*:%d joined as %s$" % (client.local_port, re.escape(name)))
        client.expect_welcome(name)

    def close_clients(self):
        for c in self.clients:
            c.close()

    # -- the process, seen from /proc (tests/integration/test_hostile.py, test_resources.py)

    def proc_status(self):
        """/proc/PID/status as a dict of its fields (values as strings)."""
        fields = {}
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                key, _, value = line.partition(":")
                fields[key] = value.strip()
        return fields

    def rss_kb(self):
        """Resident set size now (VmRSS), in KiB."""
        return int(self.proc_status()["VmRSS"].split()[0])

    def peak_rss_kb(self):
        """Highest resident set size since the start (VmHWM), in KiB."""
        return int(self.proc_status()["VmHWM"].split()[0])

    def fd_count(self):
        """Open file descriptors now: the entries of /proc/PID/fd."""
        return len(os.listdir(f"/proc/{self.proc.pid}/fd"))

    # -- stopping

    def running(self):
        return self.proc.poll() is None

    def signal(self, sig):
        if self.proc.poll() is None:
            os.kill(self.proc.pid, sig)

    def wait_exit(self, timeout=None):
        """Waits for the exit; kills -9 and fails when it hangs. Returns the exit status."""
        try:
            rc = self.proc.wait(timeout=scaled(10) if timeout is None else timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            self._close_files()
            pytest.fail(f"natter did not exit in time and was killed; log tail:\n"
                        f"{self.log()[-3000:].decode(errors='replace')}", pytrace=False)
        self.returncode = rc
        self._close_files()
        return rc

    def stop(self, sig=None, expect_rc=0, timeout=None):
        """Signals the server, waits for its exit and asserts the status and a clean stderr."""
        if self.returncode is None:
            self.signal(signal.SIGTERM if sig is None else sig)
            # Shutdown may flush for up to 5 s (PROTOCOL.md §4.5).
            self.wait_exit(scaled(10) + 5 if timeout is None else timeout)
        rc = self.returncode
        if expect_rc is not None:
            assert rc == expect_rc, (f"natter exit status {rc}, expected {expect_rc}; log tail:\n"
                                     f"{self.log()[-3000:].decode(errors='replace')}")
        self.assert_no_sanitizer_report()
        return rc

    def assert_no_sanitizer_report(self):
        found = sanitizer_reports(self.log())
        assert not found, f"sanitizer report in natter's stderr ({found}):\n" \
                          f"{self.log()[-6000:].decode(errors='replace')}"

    def _close_files(self):
        for f in (self._log_file, self._out_file):
            if not f.closed:
                f.close()

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._close_files()


def count_listen_args(args):
    """How many addresses args give: "-l X", "--listen X", "--listen=X", "-lX", any scheme. The
    value after "-l"/"--listen" is skipped, so a value that starts with "-l" is not counted
    twice."""
    n, skip = 0, False
    for a in map(str, args):
        if skip:
            skip = False
        elif a in ("-l", "--listen"):
            n, skip = n + 1, True
        elif a.startswith("--listen=") or (a.startswith("-l") and not a.startswith("--")):
            n += 1
    return n


@pytest.fixture
def start_server(tmp_path):
    """Factory: start_server(*args, listen=("127.0.0.1:0",), rlimit_nofile=None, env=None,
    tls=None, pace=False, server_class=Server) (env: variables added to natter's environment;
    tls: a Cert, whose files are given as --tls-cert and --tls-key; server_class: Server or a
    subclass with more helpers, web_helpers.WebServer) starts natter with --listen for each address ([tcp://]
    or tls://) plus args (and --rate 0 unless args set --rate or pace is true) and waits for
    every `listening on`
    line. Teardown sends SIGTERM to each server still running, requires exit 0 and no sanitizer
    report."""
    _check_binary()
    servers = []

    def start(*args, listen=("127.0.0.1:0",), rlimit_nofile=None, env=None, tls=None,
              pace=False, server_class=Server):
        argv = [*WRAPPER, NATTER_BIN]
        for addr in listen:
            argv += ["--listen", addr]
        if tls is not None:
            argv += tls.args()
        argv += [str(a) for a in args]
        # Flood control (PROTOCOL.md §7.9) paces a client to 10 lines a second by default; tests
        # of anything else send faster than that, so they turn it off unless they set --rate
        # (or pace=True: a --config file says).
        if "--rate" not in argv and not pace:
            argv += ["--rate", "0"]
        s = server_class(argv, tmp_path / f"natter-{len(servers)}.log",
                         rlimit_nofile=rlimit_nofile, env=env)
        servers.append(s)
        # Addresses given in args ("-l", "--listen X", "--listen=X", "-lX") are bound too: wait
        # for their lines as well, or a slow start (valgrind) reads the log before they are in.
        s.wait_listening(len(listen) + count_listen_args(args))
        return s

    yield start

    problems = []
    for s in servers:
        try:
            # Clients first: a client left open would hold natter in its 2 s linger (§4.6).
            # Shutdown with clients connected has tests of its own.
            s.close_clients()
            if s.returncode is None:
                s.signal(signal.SIGTERM)
                try:
                    s.proc.wait(timeout=scaled(10) + 5)
                except subprocess.TimeoutExpired:
                    s.kill()
                    problems.append(f"{s.argv}: did not exit after SIGTERM; killed with SIGKILL")
                    continue
                s.returncode = s.proc.returncode
                if s.returncode != 0:
                    problems.append(f"{s.argv}: exit status {s.returncode} after SIGTERM, "
                                    f"expected 0; log tail:\n"
                                    f"{s.log()[-2000:].decode(errors='replace')}")
            found = sanitizer_reports(s.log())
            if found:
                problems.append(f"{s.argv}: sanitizer report {found}:\n"
                                f"{s.log()[-6000:].decode(errors='replace')}")
        finally:
            s.close_clients()
            s.kill()
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)


@pytest.fixture
def server(start_server):
    """natter with its defaults on 127.0.0.1:0."""
    return start_server()


class Result:
    def __init__(self, returncode, stdout, stderr):
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr

    def __repr__(self):
        return f"<exit {self.returncode} stdout={self.stdout!r} stderr={self.stderr!r}>"


@pytest.fixture
def run_natter(tmp_path):
    """run_natter(*argv, timeout=None) runs natter with exactly argv (no --listen added) to its
    exit and returns Result(returncode, stdout, stderr); asserts no sanitizer report."""
    _check_binary()
    count = [0]

    def run(*argv, timeout=None):
        count[0] += 1
        out_path = tmp_path / f"run-{count[0]}.stdout"
        err_path = tmp_path / f"run-{count[0]}.stderr"
        with open(out_path, "wb") as out, open(err_path, "wb") as err:
            proc = subprocess.Popen([*WRAPPER, NATTER_BIN, *[str(a) for a in argv]],
                                    stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                    close_fds=True, preexec_fn=_preexec(None))
            try:
                rc = proc.wait(timeout=scaled(10) if timeout is None else timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                pytest.fail(f"natter {argv} did not exit in time; stderr "
                            f"{err_path.read_bytes()[-2000:]!r}", pytrace=False)
        res = Result(rc, out_path.read_bytes(), err_path.read_bytes())
        found = sanitizer_reports(res.stderr)
        assert not found, f"sanitizer report {found}:\n{res.stderr.decode(errors='replace')}"
        return res

    return run
