"""natter-bench, the load generator: it counts and checks every delivery.

These tests run build/natter-bench briefly against natter and assert what it must get right:
no loss, duplicates, reordering or corruption, and deliveries equal to messages sent times
receivers. They never assert speed (STYLE.md: benchmarks are measurements). One test runs it
against a deliberately faulty server to check that it notices each kind of fault; one against a
WebSocket server that fragments messages and pings in between, as RFC 6455 lets a server do.

Several --port values spread the receivers and senders over the nodes of a cluster: one test
runs natter-bench against two natter nodes linked through a redis-server of its own
(cluster_helpers: a free loopback port, killed by PID at teardown).

--ws runs against natter's web door (natter.line and text.ircv3.net) and, with --proto ws,
against bench/ws/broadcast.js, the npm ws server bench/compare measures natter against: node is
required (scripts/install-deps.sh bench installs it and runs npm ci in bench/ws; the test runs
npm ci itself when bench/ws/node_modules has no ws).

Env: NATTER_BENCH  the binary (default <repo>/build/natter-bench)
"""
import base64
import hashlib
import json
import os
import re
import shutil
import socket
import socketserver
import struct
import subprocess
import threading
import time

import pytest

from cluster_helpers import link, redis, start_node  # noqa: F401 (redis is a fixture)
from conftest import NATTER_BIN, REPO, scaled
from web_helpers import WEB, WEB_TLS, start_web  # noqa: F401 (a fixture)

NATTER_BENCH = os.environ.get("NATTER_BENCH", str(REPO / "build" / "natter-bench"))


def no_flood_control():
    """natter's flood control paces every client to a few lines a second (OPERATIONS.md,
    --rate/--burst); a load generator measures natter with it off, where it has it."""
    try:
        out = subprocess.run([NATTER_BIN, "--help"], capture_output=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return ["--rate", 0, "--burst", 0] if b"--rate" in out and b"--burst" in out else []


@pytest.fixture
def server(start_server):
    """natter on 127.0.0.1:0 with its defaults, flood control off."""
    return start_server(*no_flood_control())


def bench(*args, timeout=60):
    """Runs natter-bench with args (plus --json --quiet) to its exit; returns (exit status,
    the JSON figures or None, stdout, stderr)."""
    if not os.access(NATTER_BENCH, os.X_OK):
        pytest.fail(f"natter-bench not found or not executable: {NATTER_BENCH} (build it: "
                    f"cmake --build --preset release, or set NATTER_BENCH)", pytrace=False)
    argv = [NATTER_BENCH, "--json", "--quiet", *[str(a) for a in args]]
    # natter-bench stops by itself; the timeout is only a guard.
    p = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True,
                       timeout=scaled(timeout))
    out, err = p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")
    figures = None
    for line in out.splitlines():
        if line.startswith("{"):
            figures = json.loads(line)
    return p.returncode, figures, out, err


def assert_clean(rc, r, out, err):
    assert r is not None, f"no JSON line; exit {rc}\nstdout:\n{out}\nstderr:\n{err}"
    bad = {k: r[k] for k in ("loss", "dups", "reorders", "corrupt", "unexpected", "goodbyes",
                             "closed", "senders_closed") if r[k] != 0}
    assert not bad, f"natter-bench found {bad}\n{out}"
    assert r["ok"] is True and rc == 0, f"exit {rc}\n{out}\n{err}"


def run_args(server, *extra):
    return ["--port", server.port, "--server-pid", server.proc.pid, "--duration", 1,
            "--warmup", 0.3, *extra]


def test_throughput_counts_every_delivery(server):
    rc, r, out, err = bench(*run_args(server, "--mode", "throughput", "--receivers", 20,
                                      "--senders", 2))
    assert_clean(rc, r, out, err)
    assert r["sent"] > 0
    assert r["total_deliveries"] == r["sent"] * 20 == r["expected_deliveries"]
    assert r["deliveries"] > 0 and r["latency_samples"] > 0
    # natter delivers each sender's lines to the other sender too (PROTOCOL.md §3.2); the
    # marker client's leave notice is one more line for each.
    assert r["sender_lines"] >= r["sent"]
    assert r["server_cpu_us_per_delivery"] is not None and r["rss_kib"] > 0


def test_throughput_with_two_workers(server):
    # Receivers split over two threads: the senders' windows are shared between them.
    rc, r, out, err = bench(*run_args(server, "--mode", "throughput", "--receivers", 21,
                                      "--senders", 3, "--workers", 2, "--window", 4))
    assert_clean(rc, r, out, err)
    assert r["sent"] > 0 and r["total_deliveries"] == r["sent"] * 21


def test_latency_mode_keeps_the_schedule(server):
    rc, r, out, err = bench(*run_args(server, "--mode", "latency", "--receivers", 10,
                                      "--senders", 2, "--rate", 200))
    assert_clean(rc, r, out, err)
    assert r["total_deliveries"] == r["sent"] * 10
    # The schedule is kept whatever the latency: 200/s over 1 s plus the warmup.
    assert 200 <= r["sent"] <= 200 * 1.3 + 5 + 200 * 2
    assert r["p50_us"] is not None and r["p50_us"] <= r["p99_us"] <= r["max_us"]


def test_connections_mode_every_client_gets_the_broadcast(server):
    rc, r, out, err = bench(*run_args(server, "--mode", "connections", "--receivers", 200,
                                      "--settle", 0.2))
    assert_clean(rc, r, out, err)
    assert r["bcast_received"] == 200 == r["total_deliveries"]
    assert r["rss_per_conn_kib"] is not None


@pytest.mark.test_timeout(60)
def test_stalled_mode_sees_natter_cut_the_slow_reader(start_server):
    # A small output cap and send buffer make natter drop the stalled reader within
    # milliseconds (PROTOCOL.md §4.3); the others must lose nothing.
    server = start_server("--max-output", 65536, "--sndbuf", 16384, *no_flood_control())
    rc, r, out, err = bench(*run_args(server, "--mode", "stalled", "--receivers", 20,
                                      "--senders", 2, "--stalled", 1))
    assert_clean(rc, r, out, err)
    assert r["total_deliveries"] == r["sent"] * 19
    assert r["stalled_cut"] == 1 and r["stalled_left"] == 1, out
    assert r["cut_seen_by"] == "leave notice"
    assert len(r["per_second"]) >= 1


def test_irc_proto_counts_every_delivery_and_times_a_join_storm(start_server):
    # --proto irc against natter's IRC door (PROTOCOL.md §8): NICK and USER, the end of the
    # MOTD, JOIN and its 366, then PRIVMSGs to the channel; joins mode ends at the last 366.
    server = start_server(*no_flood_control(), listen=("irc://127.0.0.1:0",))
    rc, r, out, err = bench(*run_args(server, "--proto", "irc", "--mode", "throughput",
                                      "--receivers", 20, "--senders", 2))
    assert_clean(rc, r, out, err)
    assert r["proto"] == "irc" and r["sent"] > 0
    assert r["total_deliveries"] == r["sent"] * 20 == r["expected_deliveries"]
    rc, r, out, err = bench(*run_args(server, "--proto", "irc", "--mode", "joins",
                                      "--receivers", 50))
    assert_clean(rc, r, out, err)
    assert r["mode"] == "joins" and r["receivers"] == 50 and r["sent"] == 0
    assert r["setup_s"] > 0 and r["joins_per_s"] > 0 and r["rss_kib"] > 0


def cluster_of_two(start_server, redis):
    """Two natter nodes, north and south, linked through redis, flood control off."""
    nodes = [start_node(start_server, redis, name, *no_flood_control())
             for name in ("north", "south")]
    link(nodes)
    return nodes


def test_two_ports_spread_receivers_and_senders_over_two_cluster_nodes(start_server, redis):
    # Receiver i on the (i mod 2)-th --port, sender j on the (j mod 2)-th: every line crosses
    # Redis to the receivers of the other node (PROTOCOL.md §10).
    north, south = cluster_of_two(start_server, redis)
    rc, r, out, err = bench("--port", north.port, "--port", south.port,
                            "--server-pid", north.proc.pid, "--server-pid", south.proc.pid,
                            "--server-pid", redis.proc.pid, "--duration", 1, "--warmup", 0.3,
                            "--mode", "throughput", "--receivers", 21, "--senders", 3)
    assert_clean(rc, r, out, err)
    assert r["ports"] == [north.port, south.port] and r["sender_ports"] == []
    assert r["sent"] > 0 and r["total_deliveries"] == r["sent"] * 21 == r["expected_deliveries"]
    n, s = r["per_port"]
    assert (n["port"], n["receivers"], n["senders"]) == (north.port, 11, 2), r["per_port"]
    assert (s["port"], s["receivers"], s["senders"]) == (south.port, 10, 1), r["per_port"]
    # Both nodes' senders sent, and the receivers of each node got every line of both.
    assert n["sent"] > 0 and s["sent"] > 0 and n["sent"] + s["sent"] == r["sent"]
    assert n["deliveries"] == r["sent"] * 11 and s["deliveries"] == r["sent"] * 10
    assert n["window_deliveries"] > 0 and s["window_deliveries"] > 0
    assert n["latency_samples"] > 0 and s["latency_samples"] > 0
    # Each process is sampled; the server figures are their sum.
    assert [p["pid"] for p in r["servers"]] == [north.proc.pid, south.proc.pid, redis.proc.pid]
    assert r["server_cpu_us"] == sum(p["cpu_us"] for p in r["servers"])
    assert r["rss_kib"] == sum(p["rss_kib"] for p in r["servers"])
    assert f"127.0.0.1:{north.port},{south.port}" in out
    assert re.search(rf"port {north.port} +11 receivers, 2 senders", out), out
    assert re.search(rf"port {south.port} +10 receivers, 1 senders", out), out
    assert f"server pid {redis.proc.pid}" in out


def test_sender_port_puts_the_senders_on_another_node(start_server, redis):
    # Senders on north, receivers on south: every delivery crossed Redis.
    north, south = cluster_of_two(start_server, redis)
    rc, r, out, err = bench("--port", south.port, "--sender-port", north.port,
                            "--server-pid", south.proc.pid, "--duration", 1, "--warmup", 0.3,
                            "--mode", "latency", "--receivers", 10, "--senders", 2,
                            "--rate", 200)
    assert_clean(rc, r, out, err)
    assert r["ports"] == [south.port] and r["sender_ports"] == [north.port]
    assert r["sent"] > 0 and r["total_deliveries"] == r["sent"] * 10
    assert r["per_port"][0]["receivers"] == 10 and r["per_port"][0]["senders"] == 0
    assert r["per_sender_port"] == [{"port": north.port, "senders": 2, "sent": r["sent"]}]
    assert r["p50_us"] is not None and r["p50_us"] <= r["p99_us"] <= r["max_us"]
    assert f"(senders on {north.port})" in out


def test_usage_errors_exit_2():
    for args in (["--mode", "sideways"], ["--receivers", "0"], ["--size", "10"],
                 ["--bogus"], ["--mode", "stalled", "--receivers", "2", "--stalled", "2"],
                 ["--proto", "irc", "--size", "401"], ["--ws", "--proto", "redis"],
                 ["--ws-path", "/chat"], ["--ws", "--ws-path", "chat"],
                 ["--ws", "--ws-protocol", "a,b"], ["--port", "0"], ["--port", "1"] * 17,
                 ["--mode", "connections", "--sender-port", "8888"]):
        rc, _r, _out, err = bench(*args, timeout=10)
        assert rc == 2, (args, err)
        assert "natter-bench:" in err
    rc, _r, out, _err = bench("--help", timeout=10)
    assert rc == 0 and "--mode" in out and "--workers" in out


# --------------------------------------------------------------------------------------------
# A faulty natter-protocol server: natter-bench must notice each fault.


class FaultyChat(socketserver.ThreadingTCPServer):
    """The chat protocol (prompt, name, join notices, "NAME: TEXT" to everyone else), except
    that the 5th message line to the receiver named r0_* is dropped, the 10th is sent twice,
    the 15th and 16th are swapped and one byte of the 20th is changed."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), FaultyHandler)
        self.lock = threading.Lock()
        self.clients = {}  # name -> handler

    def broadcast(self, line, sender=None):
        with self.lock:
            targets = [h for n, h in self.clients.items() if n != sender]
        for h in targets:
            h.deliver(line, is_message=sender is not None)


class FaultyHandler(socketserver.StreamRequestHandler):
    def setup(self):
        super().setup()
        self.name = None
        self.count = 0
        self.held = None
        self.send_lock = threading.Lock()

    def raw_send(self, data):
        with self.send_lock:
            try:
                self.request.sendall(data)
            except OSError:
                pass

    def deliver(self, line, is_message):
        if not (is_message and self.name.startswith("r0_")):
            self.raw_send(line)
            return
        with self.send_lock:
            self.count += 1
            n = self.count
        if n == 5:
            return
        if n == 10:
            self.raw_send(line + line)
        elif n == 15:
            self.held = line
        elif n == 16:
            self.raw_send(line + self.held)
        elif n == 20:
            self.raw_send(line[:-10] + (b"#" if line[-10:-9] != b"#" else b"$") + line[-9:])
        else:
            self.raw_send(line)

    def handle(self):
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.raw_send(b"Enter your name: ")
        name = self.rfile.readline().strip().decode()
        if not name:
            return
        self.name = name
        with self.server.lock:
            self.server.clients[name] = self
        self.server.broadcast(f"*** {name} has joined the chat ***\n".encode())
        try:
            for line in self.rfile:
                text = line.strip()
                if text:
                    self.server.broadcast(name.encode() + b": " + text + b"\n", sender=name)
        except OSError:
            pass
        finally:
            with self.server.lock:
                self.server.clients.pop(name, None)
            self.server.broadcast(f"*** {name} has left the chat ***\n".encode())


def test_detects_loss_duplicates_reordering_and_corruption():
    srv = FaultyChat()
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    try:
        port = srv.server_address[1]
        rc, r, out, err = bench("--port", port, "--mode", "throughput", "--receivers", 2,
                                "--senders", 1, "--window", 4, "--duration", 0.5,
                                "--warmup", 0.5)
    finally:
        srv.shutdown()
        srv.server_close()
    assert r is not None, f"exit {rc}\n{out}\n{err}"
    assert rc == 1 and r["ok"] is False, out
    assert r["sent"] >= 20, out
    assert (r["dups"], r["reorders"], r["corrupt"]) == (1, 1, 1), out
    # the dropped line and the corrupted one (never counted as delivered)
    assert r["loss"] == 2, out
    assert r["total_deliveries"] == 2 * r["sent"] - 2, out


# --------------------------------------------------------------------------------------------
# WebSocket (--ws): natter's web door, npm ws, and a server that fragments and pings.


def test_ws_natter_line_counts_every_delivery(start_web):
    # GET /ws with Sec-WebSocket-Protocol natter.line: the line protocol, one text message per
    # line without its LF; every client frame masked.
    server = start_web(*no_flood_control(), listen=(WEB,))
    rc, r, out, err = bench(*run_args(server, "--ws", "--mode", "throughput", "--receivers", 5,
                                      "--senders", 2))
    assert_clean(rc, r, out, err)
    assert r["ws"] is True and r["ws_protocol"] == "natter.line" and r["proto"] == "natter"
    assert r["deliveries"] > 0 and r["sent"] > 0
    assert r["total_deliveries"] == r["sent"] * 5 == r["expected_deliveries"]
    assert r["sender_lines"] >= r["sent"]


def test_ws_irc_and_connections_through_the_web_door(start_web):
    # text.ircv3.net: the IRC door over WebSocket; and connections mode, whose marker client
    # (the broadcaster) upgrades too.
    server = start_web(*no_flood_control(), listen=(WEB,))
    rc, r, out, err = bench(*run_args(server, "--ws", "--proto", "irc", "--receivers", 5,
                                      "--senders", 2))
    assert_clean(rc, r, out, err)
    assert r["ws_protocol"] == "text.ircv3.net" and r["deliveries"] > 0
    assert r["total_deliveries"] == r["sent"] * 5
    rc, r, out, err = bench(*run_args(server, "--ws", "--mode", "connections", "--receivers", 20,
                                      "--settle", 0.2))
    assert_clean(rc, r, out, err)
    assert r["bcast_received"] == 20


def test_wss_through_the_https_door(start_web, tls_cert):
    # --tls --ws: the upgrade and the frames inside TLS.
    server = start_web(*no_flood_control(), listen=(WEB_TLS,), tls=tls_cert)
    rc, r, out, err = bench(*run_args(server, "--tls", "--ws", "--receivers", 5, "--senders", 2))
    assert_clean(rc, r, out, err)
    assert r["tls"] is True and r["ws"] is True and r["total_deliveries"] == r["sent"] * 5


def test_ws_refused_upgrade_is_a_setup_error(server):
    # A line-protocol port answers a WebSocket request with its prompt, not a 101.
    rc, r, out, err = bench("--ws", "--port", server.port, "--receivers", 2, "--senders", 1,
                            "--duration", 0.5, "--warmup", 0, "--setup-timeout", 5)
    assert rc == 1 and r is not None and r["ok"] is False, out
    assert "101" in r["error"], r["error"]


BROADCAST_JS = REPO / "bench" / "ws" / "broadcast.js"


@pytest.fixture
def node_broadcast(tmp_path):
    """bench/ws/broadcast.js on 127.0.0.1:0; yields (process, port); stopped with SIGTERM,
    which it must exit 0 on."""
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is not on PATH (Node 20 comes with the machine; see "
                    "scripts/install-deps.sh bench)", pytrace=False)
    ws_dir = BROADCAST_JS.parent
    if not (ws_dir / "node_modules" / "ws" / "package.json").exists():
        # What scripts/install-deps.sh bench does: the committed package-lock.json.
        p = subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=ws_dir,
                           stdin=subprocess.DEVNULL, capture_output=True, timeout=300)
        if p.returncode != 0:
            pytest.fail(f"npm ci in {ws_dir} failed: {p.stderr.decode(errors='replace')}",
                        pytrace=False)
    log_path = tmp_path / "broadcast.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([node, str(BROADCAST_JS), "--port", "0"],
                                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + scaled(10)
        port = None
        while port is None:
            m = re.search(rb"listening on ws://127\.0\.0\.1:(\d+)", log_path.read_bytes())
            if m:
                port = int(m.group(1))
            elif proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"broadcast.js did not start: {log_path.read_bytes()!r}",
                            pytrace=False)
            else:
                time.sleep(0.01)
        yield proc, port
    finally:
        if proc.poll() is None:
            proc.terminate()
        try:
            rc = proc.wait(timeout=scaled(10))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            rc = None
    assert rc == 0, f"broadcast.js exit {rc}: {log_path.read_bytes()!r}"


def test_ws_proto_against_node_ws_broadcast(node_broadcast):
    proc, port = node_broadcast
    rc, r, out, err = bench("--proto", "ws", "--port", port, "--server-pid", proc.pid,
                            "--receivers", 5, "--senders", 2, "--duration", 1, "--warmup", 0.3)
    assert_clean(rc, r, out, err)
    assert r["proto"] == "ws" and r["ws"] is True and r["ws_protocol"] is None
    assert r["deliveries"] > 0 and r["total_deliveries"] == r["sent"] * 5
    # broadcast.js sends to every other client: the senders get each other's lines
    assert r["sender_lines"] == r["sent"]
    rc, r, out, err = bench("--proto", "ws", "--port", port, "--mode", "connections",
                            "--receivers", 20, "--settle", 0.2)
    assert_clean(rc, r, out, err)
    assert r["bcast_received"] == 20


def ws_accept(key):
    return base64.b64encode(hashlib.sha1(key + b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11")
                            .digest()).decode()


def ws_frame(opcode, payload, fin=True):
    """An unmasked server frame (RFC 6455 §5.2), the shortest length form."""
    head = bytes([(0x80 if fin else 0) | opcode])
    n = len(payload)
    if n < 126:
        head += bytes([n])
    elif n < 65536:
        head += bytes([126]) + struct.pack("!H", n)
    else:
        head += bytes([127]) + struct.pack("!Q", n)
    return head + payload


class FragmentingWs(socketserver.ThreadingTCPServer):
    """broadcast.js's protocol with RFC 6455 done by hand, so that natter-bench meets what a
    server may send: every third message to a client comes in three fragments (text, then two
    continuations) with a ping between the first two, so a control frame interleaves with a
    fragmented message. It checks what natter-bench sends: every frame masked, every pong the
    payload of a ping."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), FragmentingWsHandler)
        self.lock = threading.Lock()
        self.clients = {}
        self.pings = {}  # payload -> handler, for the pong check
        self.pongs = 0
        self.bad = []  # what natter-bench sent that it should not have

    def note_bad(self, what):
        with self.lock:
            self.bad.append(what)


class FragmentingWsHandler(socketserver.StreamRequestHandler):
    def setup(self):
        super().setup()
        self.name = None
        self.count = 0
        self.send_lock = threading.Lock()

    def send(self, data):
        with self.send_lock:
            try:
                self.request.sendall(data)
            except OSError:
                pass

    def deliver(self, text):
        with self.send_lock:
            self.count += 1
            n = self.count
        if n % 3:
            self.send(ws_frame(0x1, text))
            return
        token = f"{id(self)}-{n}".encode()
        with self.server.lock:
            self.server.pings[token] = self
        a, b = len(text) // 3, 2 * len(text) // 3
        self.send(ws_frame(0x1, text[:a], fin=False) + ws_frame(0x9, token)
                  + ws_frame(0x0, text[a:b], fin=False) + ws_frame(0x0, text[b:]))

    def read_frame(self):
        head = self.rfile.read(2)
        if len(head) < 2:
            return None, None
        opcode, masked, n = head[0] & 0x0F, head[1] & 0x80, head[1] & 0x7F
        if n == 126:
            n = struct.unpack("!H", self.rfile.read(2))[0]
        elif n == 127:
            n = struct.unpack("!Q", self.rfile.read(8))[0]
        if not head[0] & 0x80:
            self.server.note_bad(f"a fragmented client frame, opcode {opcode}")
        if not masked:
            self.server.note_bad(f"an unmasked client frame, opcode {opcode}")
            return opcode, self.rfile.read(n)
        key = self.rfile.read(4)
        data = self.rfile.read(n)
        return opcode, bytes(b ^ key[i % 4] for i, b in enumerate(data))

    def handle(self):
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        head = b""
        while not head.endswith(b"\r\n\r\n"):
            line = self.rfile.readline()
            if not line:
                return
            head += line
        m = re.search(rb"^Sec-WebSocket-Key: *(\S+)\r$", head, re.M | re.I)
        if not head.startswith(b"GET /ws HTTP/1.1\r\n") or m is None:
            self.server.note_bad(f"upgrade request {head!r}")
            return
        if re.search(rb"^Sec-WebSocket-Protocol:", head, re.M | re.I):
            self.server.note_bad("a subprotocol asked for with --proto ws")
        self.send(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                  b"Connection: Upgrade\r\nSec-WebSocket-Accept: "
                  + ws_accept(m.group(1)).encode() + b"\r\n\r\n")
        try:
            while True:
                opcode, data = self.read_frame()
                if opcode is None or opcode == 0x8:
                    break
                if opcode == 0xA:
                    with self.server.lock:
                        if self.server.pings.pop(data, None) is self:
                            self.server.pongs += 1
                        else:
                            self.server.bad.append(f"a pong with payload {data!r}")
                    continue
                if opcode != 0x1:
                    self.server.note_bad(f"opcode {opcode}")
                    continue
                if self.name is None:
                    self.name = data
                    with self.server.lock:
                        self.server.clients[id(self)] = self
                    continue
                with self.server.lock:
                    others = [h for k, h in self.server.clients.items() if k != id(self)]
                line = self.name + b": " + data
                for h in others:
                    h.deliver(line)
        except OSError:
            pass
        finally:
            with self.server.lock:
                self.server.clients.pop(id(self), None)


def test_ws_fragments_and_pings_are_decoded_and_answered():
    srv = FragmentingWs()
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    try:
        # 200-byte payloads: "sN_TAG: " + 200 bytes needs the 16-bit length form
        rc, r, out, err = bench("--proto", "ws", "--port", srv.server_address[1],
                                "--receivers", 3, "--senders", 2, "--size", 200,
                                "--duration", 0.5, "--warmup", 0.2)
        assert_clean(rc, r, out, err)
        assert r["sent"] > 0 and r["total_deliveries"] == r["sent"] * 3
        assert r["ws_pings"] > 0, out
        # Every ping natter-bench saw was answered with its payload (wait for the last
        # pongs to be read; one sent as the run ended may be lost with the close).
        deadline = time.monotonic() + scaled(5)
        while srv.pongs < r["ws_pings"] - 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        with srv.lock:
            assert not srv.bad, srv.bad[:5]
            assert r["ws_pings"] - 2 <= srv.pongs <= r["ws_pings"], (srv.pongs, r["ws_pings"])
    finally:
        srv.shutdown()
        srv.server_close()
