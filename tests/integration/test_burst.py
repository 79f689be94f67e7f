"""Bursts: a reader that keeps reading loses nothing, a stalled one is cut, memory stays bounded.

PROTOCOL.md §3.3 (order and loss) and §4.3 (slow consumers): a reader that keeps reading is
never cut off below --max-output however far a burst puts it behind; a reader whose socket takes
nothing for --stall-timeout is; all backlogs together stay under --max-output-total, shared lines
counted once, by cutting the largest. natter's --sndbuf keeps the kernel's share small, so the
backlog is natter's own (STYLE.md "Ownership and lifetime" rule 5).

These are correctness tests with generous deadlines, not benchmarks: nothing here is timed.
"""
import os
import re
import threading

import pytest

from chat_helpers import BARRIER_WORD, barrier, notice, unknown
from conftest import SCALE, WAIT, scaled

N_LINES = 30_000
LINE_BYTES = 200  # with its LF


def burst_line(i):
    """Line i of the burst, LF included: its index, then a filler that also depends on it, so a
    line cut, doubled, swapped or spliced with another shows."""
    head = b"%06d " % i
    fill = (b"%06d-" % (i * 7919 % 1_000_000)) * (LINE_BYTES // 7 + 1)
    return head + fill[: LINE_BYTES - 1 - len(head)] + b"\n"


class Sender(threading.Thread):
    """Sends data over client's socket in its own thread (sendall, no deadline of its own: the
    test's time limit bounds it, and teardown closing the socket ends it)."""

    def __init__(self, client, data):
        super().__init__(daemon=True)
        self.client, self.data, self.error = client, data, None

    def run(self):
        try:
            self.client.sock.sendall(self.data)
        except BaseException as e:  # reported by finish()
            self.error = e

    def finish(self, timeout):
        self.join(timeout)
        assert not self.is_alive(), f"{self.client.label}: sending not done after {timeout:.0f}s"
        if self.error is not None:
            raise AssertionError(f"{self.client.label}: sending failed: {self.error!r}")


def read_through_barrier(client, allowed, timeout=None):
    """Sends the barrier command and reads lines until its reply; every line before it must be
    in allowed (a set of bytes lines, LF included). Returns those lines."""
    client.send("/" + BARRIER_WORD)
    reply = (unknown(BARRIER_WORD) + "\n").encode()
    before = []
    while True:
        line = client.read_line(timeout)
        if line == reply:
            return before
        assert line in allowed, f"{client.label}: unexpected line {line!r} before the barrier"
        before.append(line)


@pytest.mark.test_timeout(120)
def test_30000_line_burst_reaches_a_reader_whole_while_a_stalled_one_is_cut(start_server):
    # PROTOCOL.md §3.3, §4.3
    server = start_server("--rate", "0", "--sndbuf", "65536")
    alice = server.join("Alice")
    bob = server.join("Bob")
    carol = server.join("Carol", rcvbuf=4096)
    alice.expect_line(notice("Bob has joined the chat"))
    alice.expect_line(notice("Carol has joined the chat"))
    bob.expect_line(notice("Carol has joined the chat"))
    # Carol reads nothing from here on.

    carol_left = (notice("Carol has left the chat") + "\n").encode()
    sender = Sender(alice, b"".join(burst_line(i) for i in range(N_LINES)))
    sender.start()
    # Bob reads as fast as he can, here, while Alice sends in her thread. A line is due every
    # few microseconds; the per-line deadline is only for a natter that stopped sending.
    seen_carol_left = 0
    i = 0
    while i < N_LINES:
        line = bob.read_line(timeout=scaled(20))
        if line == carol_left:
            seen_carol_left += 1
            continue
        want = b"Alice: " + burst_line(i)
        if line != want:
            pytest.fail(f"Bob: line {i} of the burst: expected {want!r}, got {line!r}",
                        pytrace=False)
        i += 1
    sender.finish(scaled(30))

    # Carol took nothing for --stall-timeout (default 5 s) with output waiting: cut off.
    [m] = server.wait_log(rb" conn=\d+ peer=\S+:%d name=Carol left: (stalled|slow)$"
                          % carol.local_port, timeout=scaled(5) + WAIT)
    if m.group(1) == b"stalled":
        server.wait_log(rb" conn=\d+ peer=\S+:%d cut off: stalled" % carol.local_port)
    if not seen_carol_left:
        bob.expect_line(carol_left.rstrip(b"\n"), timeout=WAIT)
    else:
        assert seen_carol_left == 1, f"Bob saw Carol leave {seen_carol_left} times"
    alice.expect_line(carol_left.rstrip(b"\n"))
    # Nothing more for Bob, nothing else for Alice: both still in, both still served.
    barrier(bob)
    barrier(alice)
    bob.send("got all 30000")
    alice.expect_line("Bob: got all 30000")
    alice.send("good")
    bob.expect_line("Alice: good")
    log = server.log()
    assert b"name=Bob left" not in log, "Bob was cut off although he kept reading"
    assert b"name=Alice left" not in log, "Alice was cut off"
    # natter closed Carol's connection (what reached her first does not matter).
    carol.read_until_closed(timeout=WAIT)


@pytest.mark.test_timeout(120)
def test_memory_stays_bounded_under_max_output_total_with_many_readers_behind(start_server):
    # PROTOCOL.md §4.3: all backlogs together, shared lines counted once, past
    # --max-output-total: the largest backlog is cut first (leave reason `memory`).
    total_cap = 2_000_000
    n_readers = 20
    paste = b"".join(b"%05d " % i + b"m" * 993 + b"\n" for i in range(3000))  # 3 MB
    env = None
    if SCALE > 1:
        # A sanitizer build keeps freed blocks in a quarantine (256 MB by default for ASan):
        # RSS would measure the quarantine, not natter. Keep it small for this server.
        opts = os.environ.get("ASAN_OPTIONS", "")
        env = {"ASAN_OPTIONS": (opts + ":" if opts else "") + "quarantine_size_mb=1"}
    server = start_server("--max-output-total", str(total_cap), "--max-output", "8388608",
                          "--sndbuf", "4096", "--stall-timeout", "0", env=env)
    readers = [server.join(f"R{i:02d}", rcvbuf=2048) for i in range(n_readers)]
    paster = server.join("Paster")
    # The readers read nothing from here on (the join notices they got fit their socket).
    base_kb = server.rss_kb()

    paster.sock.settimeout(scaled(60))  # natter reads a paster at its own pace; bound it
    paster.sock.sendall(paste)
    paster.sock.settimeout(None)
    # The cut comes while natter relays the paste: wait for it, then for the paste to be done
    # (the barrier's reply comes after natter handled every line before it).
    server.wait_log(rb" conn=\d+ peer=\S+ cut off: the largest backlog", timeout=scaled(30))
    server.wait_log(rb"name=R\d\d left: memory$", timeout=scaled(30))
    left = {(notice(f"R{i:02d} has left the chat") + "\n").encode() for i in range(n_readers)}
    read_through_barrier(paster, left, timeout=scaled(30))
    peak_kb = server.peak_rss_kb()
    grew_kb = peak_kb - base_kb

    # 20 own copies of the 3 MB paste would be 60 MB. The cap is 2 MB for all backlogs
    # together; allow for natter's read buffers, queue entries and allocator slack (and, for a
    # sanitizer build, its redzones and shadow memory; under valgrind, its own bookkeeping).
    bound_kb = 16 * 1024 if SCALE == 1 else 32 * 1024
    assert grew_kb < bound_kb, (f"natter's RSS grew by {grew_kb} KiB (from {base_kb} to a peak of "
                                f"{peak_kb}) for a 3 MB paste to {n_readers} readers with "
                                f"--max-output-total {total_cap}: backlogs are not bounded")
    log = server.log()
    cut = re.findall(rb"name=(R\d\d) left: memory$", log, re.M)
    assert cut, "no reader was cut with reason memory"
    assert b"name=Paster left" not in log, "the paster was cut off"
    assert not re.search(rb"name=R\d\d left: (slow|stalled)$", log, re.M), \
        "a reader was cut for another reason than memory"

    # Still serving: a newcomer and the paster talk both ways.
    newcomer = server.join("Newcomer")
    while True:  # the paster may still get the leave notices of readers cut at the end
        line = paster.read_line()
        if line == (notice("Newcomer has joined the chat") + "\n").encode():
            break
        assert line in left, f"Paster: unexpected line {line!r}"
    paster.send("hello newcomer")
    newcomer.expect_line("Paster: hello newcomer")
    newcomer.send("hello paster")
    paster.expect_line("Newcomer: hello paster")
    # Every cut reader's connection was closed.
    for r in readers:
        if r.label.encode() in cut:
            r.read_until_closed(timeout=WAIT)
