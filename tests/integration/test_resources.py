"""Resource exhaustion (issue #5, docs/SECURITY.md "Limits"): a low open-file limit, and memory
that follows the configured caps, not what peers send. Measured from /proc/PID like
test_hostile.py, whose helpers this file shares."""
import errno
import selectors
import socket
import time

import pytest

from conftest import PROMPT, WAIT, scaled
from test_hostile import CHECK_RSS, RSS_SLACK_KB, Baseline, pick, warm_up

FULL = b"Server is full, try again later.\n"


def connect_all(server, n):
    """Starts n connections at once (non-blocking); returns their sockets."""
    socks = []
    for _ in range(n):
        s = socket.socket()
        s.setblocking(False)
        err = s.connect_ex((server.host, server.port))
        assert err in (0, errno.EINPROGRESS), f"connect: {errno.errorcode.get(err)}"
        socks.append(s)
    return socks


def outcomes(socks, timeout):
    """Reads every socket until it shows the prompt (kept open) or is closed. Returns
    (prompted, full, shed): the prompted sockets, the count of "server full" goodbyes (PROTOCOL.md
    §4.4), and the count of closes without a byte (natter out of descriptors: libuv accepted and
    closed the connection at once)."""
    sel = selectors.DefaultSelector()
    bufs = {}
    for s in socks:
        sel.register(s, selectors.EVENT_READ)
        bufs[s] = b""
    prompted, full, shed = [], 0, 0
    pending = len(socks)
    deadline = time.monotonic() + timeout
    while pending:
        assert time.monotonic() < deadline, f"{pending} connections neither prompted nor closed"
        for key, _ in sel.select(timeout=0.1):
            s = key.fileobj
            try:
                data = s.recv(4096)
            except BlockingIOError:
                continue
            except ConnectionResetError:
                data = b""
            bufs[s] += data
            got = bufs[s]
            if got == PROMPT:
                prompted.append(s)
            elif got == FULL:
                full += 1
                s.close()  # at once, so natter need not linger on it (§4.6)
            elif not data and got == b"":
                shed += 1
                s.close()
            elif data and (PROMPT.startswith(got) or FULL.startswith(got)):
                continue  # more to come
            else:
                pytest.fail(f"unexpected {'close after ' if not data else ''}bytes {got!r}")
            sel.unregister(s)
            pending -= 1
    sel.close()
    return prompted, full, shed


def join_all(server, socks, tag):
    """Names every prompted socket and checks a line from the first reaches the last."""
    for i, s in enumerate(socks):
        s.setblocking(True)
        s.settimeout(WAIT)
        s.sendall(b"%s%d\n" % (tag.encode(), i))
    server.wait_log(rb" joined as %s%d$" % (tag.encode(), len(socks) - 1))
    first, last = socks[0], socks[-1]
    first.sendall(b"hello from the first\n")
    want = b"%s0: hello from the first\n" % tag.encode()
    got = b""
    deadline = time.monotonic() + WAIT
    while want not in got:
        assert time.monotonic() < deadline, f"the last client never got the line; got {got!r}"
        try:
            got += last.recv(65536)
        except socket.timeout:
            pass


@pytest.mark.parametrize("max_clients", [None, 1000], ids=["default-max-clients", "over-limit"])
@pytest.mark.test_timeout(90)
def test_low_open_file_limit(start_server, max_clients):
    # OPERATIONS.md "Start-up", PROTOCOL.md §4.4: under `ulimit -n 64`, 200 clients at once.
    # With the default --max-clients (64 - 32) the extra ones get "server full"; with a cap
    # above the limit natter runs out of descriptors and libuv sheds them (accept + close).
    # Either way: no crash, those held are served, and when they leave natter accepts again.
    args = [] if max_clients is None else ["--max-clients", max_clients]
    server = start_server(*args, rlimit_nofile=(64, 64))
    base = Baseline(server)
    rounds = []
    for r in range(2):
        socks = connect_all(server, 200)
        try:
            prompted, full, shed = outcomes(socks, scaled(30))
            assert server.running()
            if max_clients is None:
                assert len(prompted) == 64 - 32, f"held {len(prompted)} with max-clients 32"
                assert full > 0, "nobody was told the server is full"
            else:
                assert 20 <= len(prompted) < 64 and shed > 0, \
                    f"held {len(prompted)}, shed {shed}, full {full}"
            assert len(prompted) + full + shed == 200
            rounds.append(dict(held=len(prompted), full=full, shed=shed))
            # Those held are served as usual.
            join_all(server, prompted, f"R{r}x")
        finally:
            for s in socks:
                s.close()
        # Once they leave, natter takes new clients again (the next round is the proof).
        base.settle(f"low-fd round {r}")
    server.wait_log(r"max-clients" if max_clients else r"starting")
    base.back_to_it(f"low-open-file-limit-{'default' if max_clients is None else 'over'}",
                    rss_ref_kb=None, rss_slack_kb=RSS_SLACK_KB, nofile=64, clients=200,
                    rounds=rounds)


@pytest.mark.test_timeout(120)
def test_input_memory_is_bounded_by_max_line(start_server):
    # OPERATIONS.md "Limits": a client's partial line costs at most --max-line + 1 bytes, no
    # matter how much it sends; an over-long line is discarded as it comes, not kept.
    n = pick(200, long=1000, valgrind=50)
    max_line = 4096
    server = start_server("--max-line", max_line)
    warm_up(server)
    clients = []
    base = Baseline(server)
    for i in range(n):
        clients.append(server.join(f"P{i}"))
    joined_rss = server.rss_kb()
    # 1. Everybody holds a partial line just under the cap.
    for c in clients:
        c.send_raw(b"p" * (max_line - 1))
    time.sleep(0.2)
    partial_rss = server.rss_kb()
    # 2. Everybody sends 100 x the cap more, still without a newline: over the cap, discarded.
    chunk = b"q" * (64 * 1024)
    for _ in range(100 * max_line // len(chunk)):
        for c in clients:
            c.send_raw(chunk)
    for c in clients:
        c.send_raw(b"\n")
    reply = b"Line too long (more than %d bytes); not sent.\n" % max_line
    for c in clients:
        line = c.read_line(timeout=scaled(30))
        while line.startswith(b"*** P") and line.endswith(b" has joined the chat ***\n"):
            line = c.read_line(timeout=scaled(30))
        assert line == reply, f"{c.label}: got {line!r}"
    flooded_rss = server.rss_kb()
    peak = base.peak_above()
    figures = dict(clients=n, max_line=max_line, rss_joined_kb=joined_rss,
                   rss_partial_kb=partial_rss, rss_flooded_kb=flooded_rss,
                   bytes_per_client=100 * max_line + max_line, rss_peak_above_kb=peak)
    for c in clients:
        c.close()
    server.clients.clear()
    base.back_to_it("input-bounded", rss_ref_kb=max(partial_rss, flooded_rss), **figures)
    if CHECK_RSS:
        # Partial lines: one buffer of max_line + 1 bytes each, plus malloc's rounding.
        per_client = (partial_rss - joined_rss) * 1024 / n
        assert per_client <= max_line + 1 + 512, \
            f"a partial line costs {per_client:.0f} bytes a client, cap {max_line + 1}"
        # 100 x more input: no more memory (what the flood allocated was freed again).
        assert flooded_rss <= partial_rss + RSS_SLACK_KB, \
            f"RSS went from {partial_rss} to {flooded_rss} KiB while {n} clients each sent " \
            f"{100 * max_line} bytes without a newline"


@pytest.mark.test_timeout(120)
def test_output_memory_is_bounded_by_max_output(start_server):
    # OPERATIONS.md "Limits", PROTOCOL.md §4.3: readers that never read cost at most
    # --max-output each, and far less in practice: a broadcast line is one shared message, so
    # many stalled readers hold references to the same lines, not copies.
    hogs = pick(50, long=200, valgrind=10)
    max_output = 65536
    server = start_server("--sndbuf", "4096", "--max-output", max_output)
    warm_up(server)
    sender = server.join("Sender")
    base = Baseline(server)
    stalled = [server.join(f"Hog{i}", rcvbuf=4096) for i in range(hogs)]
    payload = b"z" * 100
    lines = 4 * max_output // len(payload)
    sender.send_raw(b"".join(b"%06d %s\n" % (i, payload) for i in range(lines)))
    server.wait_log(r"name=Hog\d+ left: slow$", count=hogs, timeout=scaled(30))
    peak = base.peak_above()
    for c in stalled:
        c.close()
    server.clients[:] = [sender]
    base.back_to_it("output-bounded", rss_ref_kb=base.rss + peak, stalled=hogs,
                    max_output=max_output, lines=lines, rss_peak_above_kb=peak)
    if CHECK_RSS:
        assert peak <= hogs * max_output // 1024 + RSS_SLACK_KB, \
            f"{hogs} stalled readers raised RSS by {peak} KiB, more than {hogs} x --max-output"


def commands(server):
    """The commands natter's /help lists (PROTOCOL.md §7), as a set of names."""
    c = server.join("Helper")
    c.send("/help")
    names = set()
    line = c.read_line()
    while line.startswith(b"*** /") or line.startswith(b"*** Commands"):
        if line.startswith(b"*** /"):
            names.add(line[5:].split()[0].decode())
        try:
            line = c.read_line(timeout=0.3)
        except pytest.fail.Exception:
            break
    c.close()
    server.wait_log(r"name=Helper left: ")
    return names


@pytest.mark.test_timeout(120)
def test_room_and_name_churn_is_bounded(start_server):
    # One client creates thousands of rooms, one after another, each with a line of history,
    # then renames itself thousands of times: an empty room (and its history) and an old name
    # must be freed, not kept, so memory stays flat (a registry of taken names keeps tombstones
    # only until it is rebuilt).
    n = pick(5000, long=50000, valgrind=500)
    server = start_server("--history", "10")
    if not {"join", "nick"} <= commands(server):
        pytest.skip("natter has no /join and /nick (issue #4)")
    roamer = server.join("Roamer")
    base = Baseline(server)
    rss = []
    for what, make in (("rooms", lambda i: b"/join room%d\nhistory line %d\n" % (i, i)),
                       ("renames", lambda i: b"/nick roamer%d\n" % i)):
        for r in range(2):
            # In steps of 1000, reading the replies in between: the roamer must not become a
            # slow consumer of its own replies (§4.3).
            for start in range(r * n, r * n + n, 1000):
                end = min(r * n + n, start + 1000)
                roamer.send_raw(b"".join(make(i) for i in range(start, end)))
                want = b"*** You are now in room%d:" % (end - 1) if what == "rooms" else \
                    b"*** roamer%d is now known as roamer%d ***\n" % (end - 2, end - 1)
                if what == "renames" and end - 1 == 0:
                    want = b"*** Roamer is now known as roamer0 ***\n"
                deadline = time.monotonic() + scaled(60)
                while True:
                    line = roamer.read_line(timeout=max(0.1, deadline - time.monotonic()))
                    if line.startswith(want):
                        break
            rss.append(server.rss_kb())
    got = base.back_to_it("room-and-name-churn", rss_ref_kb=rss[0], changes=n, rounds=2,
                          rss_rounds_kb=rss)
    if CHECK_RSS:
        assert rss[1] <= rss[0] + RSS_SLACK_KB and rss[3] <= rss[2] + RSS_SLACK_KB, \
            f"RSS by round (rooms, rooms, renames, renames): {rss} KiB"
    assert got["fds_after"] == got["fds_before"]


@pytest.mark.test_timeout(120)
def test_paced_clients_memory_is_bounded(start_server):
    # PROTOCOL.md §7.9, OPERATIONS.md "Limits": a client over its rate is paused with the unread
    # rest of one read (at most 64 KiB) kept for later; it costs no more however much it sends.
    n = pick(100, long=500, valgrind=20)
    read_size = 64 * 1024
    server = start_server("--rate", "10", "--burst", "20")
    warm_up(server)
    clients = [server.join(f"Pace{i}") for i in range(n)]
    for c in clients:
        c.sock.setblocking(False)
    base = Baseline(server)
    # Empty lines: each costs a token (every line counts) but relays nothing, so nobody's output
    # grows; 4 reads' worth each, more than the kernel's buffers hold at once.
    burst = b"\n" * (4 * read_size)
    sent = [0] * n
    deadline = time.monotonic() + scaled(30)
    while min(sent) < len(burst) and time.monotonic() < deadline:
        for i, c in enumerate(clients):
            try:
                sent[i] += c.sock.send(burst[sent[i]:])
            except BlockingIOError:
                pass
        if server.fd_count() < base.fds:
            break
        time.sleep(0.01)
    time.sleep(0.5)
    held = server.rss_kb()
    peak = base.peak_above()
    assert server.running()
    from test_hostile import measure
    measure("paced-bounded", clients=n, bytes_sent_min=min(sent), bytes_sent_total=sum(sent),
            rss_before_kb=base.rss, rss_held_kb=held, rss_peak_above_kb=peak, rate=10, burst=20)
    # Still served: a newcomer joins and talks while they are paused.
    late = server.join("Late")
    other = server.join("Other")
    late.expect_line("*** Other has joined the chat ***")
    other.send("not paused")
    late.expect_line("Other: not paused")
    # (What happens to their connections once they leave: test_hostile.py,
    # test_paced_client_that_leaves_is_let_go.)
    if CHECK_RSS:
        bound = n * (read_size + 4097 + 1024) // 1024
        assert peak <= bound + RSS_SLACK_KB, \
            f"{n} paused clients raised RSS by {peak} KiB, more than {bound} KiB"
