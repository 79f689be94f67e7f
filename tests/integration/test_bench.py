"""natter-bench, the load generator: it counts and checks every delivery.

These tests run build/natter-bench briefly against natter and assert what it must get right:
no loss, duplicates, reordering or corruption, and deliveries equal to messages sent times
receivers. They never assert speed (STYLE.md: benchmarks are measurements). One test runs it
against a deliberately faulty server to check that it notices each kind of fault.

Env: NATTER_BENCH  the binary (default <repo>/build/natter-bench)
"""
import json
import os
import socket
import socketserver
import subprocess
import threading

import pytest

from conftest import NATTER_BIN, REPO, scaled

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


def test_usage_errors_exit_2():
    for args in (["--mode", "sideways"], ["--receivers", "0"], ["--size", "10"],
                 ["--bogus"], ["--mode", "stalled", "--receivers", "2", "--stalled", "2"],
                 ["--proto", "irc", "--size", "401"]):
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
