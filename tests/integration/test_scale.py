"""Many clients, the client cap, and running out of file descriptors."""
import errno
import selectors
import signal
import socket
import time

import pytest

from conftest import PROMPT, WAIT, scaled

SHUTDOWN = b"*** Server is shutting down ***\n"


class Peer:
    __slots__ = ("sock", "name", "buf", "eof")

    def __init__(self, sock, name):
        self.sock, self.name, self.buf, self.eof = sock, name, bytearray(), False


@pytest.mark.test_timeout(120)
def test_2000_clients_all_receive_a_broadcast(start_server):
    # PROTOCOL.md §2.1, §2.6, §3.2, §3.3, §4.5
    n, wave = 2000, 100
    server = start_server()
    watcher = server.join("Watcher")
    sel = selectors.DefaultSelector()
    peers = []
    deadline = time.monotonic() + scaled(60)

    def pump(done):
        while not done():
            assert time.monotonic() < deadline, "2000-client test ran out of time"
            for key, _ in sel.select(timeout=0.1):
                p = key.data
                try:
                    data = p.sock.recv(1 << 16)
                except BlockingIOError:
                    continue
                if not data:
                    p.eof = True
                    sel.unregister(p.sock)
                    p.sock.close()  # so natter need not linger on it (§4.6)
                    continue
                p.buf += data

    try:
        for start in range(0, n, wave):
            batch = []
            for i in range(start, start + wave):
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                s.setblocking(False)
                err = s.connect_ex((server.host, server.port))
                assert err in (0, errno.EINPROGRESS), f"connect: {errno.errorcode.get(err)}"
                p = Peer(s, b"user%04d" % i)
                sel.register(s, selectors.EVENT_READ, p)
                batch.append(p)
                peers.append(p)
            pump(lambda: all(len(p.buf) >= len(PROMPT) or p.eof for p in batch))
            for p in batch:
                assert bytes(p.buf) == PROMPT, f"{p.name}: expected the prompt, got {bytes(p.buf)!r}"
                assert p.sock.send(p.name + b"\n") == len(p.name) + 1
        # Every join is announced to the Watcher (who joined first) in the server's order.
        watcher.sock.setblocking(False)
        wpeer = Peer(watcher.sock, b"Watcher")
        sel.register(watcher.sock, selectors.EVENT_READ, wpeer)
        pump(lambda: wpeer.buf.count(b"\n") >= n or wpeer.eof)
        notices = bytes(wpeer.buf).splitlines(keepends=True)
        assert len(notices) == n, f"Watcher: {len(notices)} lines, expected {n} join notices"
        names = {p.name for p in peers}
        order = []
        for line in notices:
            assert line.startswith(b"*** ") and line.endswith(b" has joined the chat ***\n"), line
            order.append(line[4:-len(b" has joined the chat ***\n")])
        assert sorted(order) == sorted(names), "join notices do not match the names sent"

        sender = server.join("Sender")
        sender.send("hello, 2000 clients")
        tail = b"*** Sender has joined the chat ***\nSender: hello, 2000 clients\n"
        everyone = peers + [wpeer]
        pump(lambda: all(p.buf.endswith(tail) or p.eof for p in everyone))

        position = {name: i for i, name in enumerate(order)}
        for p in peers:
            rest = b"".join(notices[position[p.name] + 1:])
            # §2.6: the welcome counts the Watcher and everyone who joined before p.
            others = 1 + position[p.name]
            who = b"1 other person is here" if others == 1 else b"%d other people are here" % others
            welcome = b"*** Welcome to lobby, %s: %s. Type /help for the commands. ***\n" % (
                p.name, who)
            want = PROMPT + welcome + rest + tail
            assert bytes(p.buf) == want, \
                f"{p.name.decode()}: {len(p.buf)} bytes, expected {len(want)}; " \
                f"last {bytes(p.buf[-120:])!r}"
            p.buf.clear()
        assert bytes(wpeer.buf) == b"".join(notices) + tail
        wpeer.buf.clear()
        sender.expect_silence(0.05)
        sender.sock.setblocking(False)
        speer = Peer(sender.sock, b"Sender")
        sel.register(sender.sock, selectors.EVENT_READ, speer)
        everyone.append(speer)

        # Shutdown with 2000 clients: every one gets the line, then EOF (PROTOCOL.md §4.5).
        server.signal(signal.SIGTERM)
        pump(lambda: all(p.eof for p in everyone))
        server.wait_exit()
        bad = [p.name for p in everyone if bytes(p.buf) != SHUTDOWN]
        assert not bad, f"{len(bad)} clients did not get exactly the shutdown line, e.g. " \
                        f"{bad[0]!r}: {bytes(next(p.buf for p in everyone if p.name == bad[0]))!r}"
        server.stop()
    finally:
        for p in peers:
            p.sock.close()
        sel.close()


def test_max_clients(start_server):  # PROTOCOL.md §4.4, §4.6
    server = start_server("--max-clients", "3")
    alice = server.join("Alice")
    unnamed = server.connect(label="unnamed")
    unnamed.expect_bytes(PROMPT)
    bob = server.join("Bob")
    alice.expect_line("*** Bob has joined the chat ***")

    fourth = server.connect(label="fourth")
    fourth.expect_line("Server is full, try again later.")
    fourth.expect_closed()
    server.wait_log(r" warn conn=\d+ peer=127\.0\.0\.1:%d refused: server full$"
                    % fourth.local_port)
    alice.expect_silence(0.05)  # no notice for a refused connection

    # The three keep working.
    bob.send("we are three")
    alice.expect_line("Bob: we are three")
    unnamed.send("Carol")
    alice.expect_line("*** Carol has joined the chat ***")

    # When one leaves, a new connection is prompted again.
    bob.close()
    alice.expect_line("*** Bob has left the chat ***")
    c = wait_for_prompt(server)
    c.send("Dave")
    alice.expect_line("*** Dave has joined the chat ***")


def wait_for_prompt(server, timeout=None):
    """Connects until natter prompts (it may still be closing a connection); returns the client."""
    deadline = time.monotonic() + (WAIT if timeout is None else timeout)
    outcomes = []
    while True:
        c = server.connect(label="retry")
        while len(c.buf) < len(PROMPT) and not c.eof and c._fill(time.monotonic() + WAIT):
            pass
        if bytes(c.buf[:len(PROMPT)]) == PROMPT:
            del c.buf[:len(PROMPT)]
            return c
        outcomes.append(bytes(c.buf) + (b"<EOF>" if c.eof else b""))
        c.close()
        assert time.monotonic() < deadline, f"never prompted again; got {outcomes[-3:]}"
        time.sleep(0.02)


def prompted_or_closed(client):
    """True when natter prompts client, False when it closes it at once (accept + close)."""
    deadline = time.monotonic() + WAIT
    while len(client.buf) < len(PROMPT) and not client.eof:
        assert client._fill(deadline), f"{client.label}: neither prompted nor closed"
    if client.eof and not client.buf:
        return False
    assert bytes(client.buf) == PROMPT, f"{client.label}: got {bytes(client.buf)!r}"
    del client.buf[:]
    return True


@pytest.mark.test_timeout(60)
def test_out_of_file_descriptors(start_server):
    # OPERATIONS.md "Start-up": past the open-file limit natter meets EMFILE, survives, closes
    # the new connections at once, logs at most once per second, and accepts again later.
    server = start_server("--max-clients", "1000", rlimit_nofile=(64, 64))
    server.wait_log(r" warn .*max-clients")
    held, refused = [], 0
    t0 = time.monotonic()
    for i in range(200):
        c = server.connect(label=f"c{i}")
        if prompted_or_closed(c):
            assert refused == 0, "prompted again right after an EMFILE refusal"
            held.append(c)
        else:
            refused += 1
            c.close()
            if refused == 20:
                break
    elapsed = time.monotonic() - t0
    assert 20 <= len(held) < 64, f"held {len(held)} clients with 64 descriptors"
    assert refused == 20, f"never ran out of descriptors: held {len(held)}"
    assert server.running()

    # The clients it holds are served as usual.
    a, b = held[0], held[1]
    a.send("Ann")
    server.wait_joined("Ann", a)
    b.send("Ben")
    server.wait_joined("Ben", b)
    a.expect_line("*** Ben has joined the chat ***")
    b.send("still alive")
    a.expect_line("Ben: still alive")

    # After some leave, new connections are accepted again.
    for c in held[2:12]:
        c.close()
    c = wait_for_prompt(server, timeout=scaled(10))
    c.send("Cy")
    a.expect_line("*** Cy has joined the chat ***")
    b.expect_line("*** Cy has joined the chat ***")

    # The shedding was logged, at most once a second.
    accept_failed = server.wait_log(r" warn open-file limit 64 nearly reached with \d+ connections: "
                                    r"new connections are shed$")
    assert len(accept_failed) <= elapsed + 2, \
        f"{len(accept_failed)} 'accept failed' lines in {elapsed:.1f}s (at most one a second)"
