"""Slow consumers (PROTOCOL.md §4.3): one stalled reader never delays the others."""
import time

import pytest

from conftest import scaled

GOODBYE = b"Disconnected: too slow to receive messages.\n"


def check_cut_transcript(got, expected_stream, label):
    """A cut-off client saw a byte prefix of what it would have got, optionally ended by the
    goodbye line after a whole line; never all of it."""
    body = got[:-len(GOODBYE)] if got.endswith(GOODBYE) else got
    if got.endswith(GOODBYE):
        assert body == b"" or body.endswith(b"\n"), \
            f"{label}: goodbye line glued to a cut line: {got[-200:]!r}"
    assert expected_stream.startswith(body), \
        f"{label}: not a prefix of its stream; diverges at byte " \
        f"{next(i for i in range(len(body)) if body[i] != expected_stream[i])}"
    assert len(body) < len(expected_stream), f"{label}: got everything, was never cut off"


@pytest.mark.test_timeout(60)
def test_stalled_reader_is_cut_off_and_others_get_everything(start_server):
    # PROTOCOL.md §3.3, §4.1, §4.3
    server = start_server("--sndbuf", "4096", "--max-output", "65536")
    slow = server.join("Slow", rcvbuf=4096)  # never reads again
    fast = server.join("Fast")
    sender = server.join("Sender")
    fast.expect_line("*** Sender has joined the chat ***")

    n = 12000
    payload = [b"message %05d %s" % (i, b"x" * 40) for i in range(n)]
    want = [b"Sender: " + p + b"\n" for p in payload]
    notice = b"*** Slow has left the chat ***\n"

    # The sender keeps at most `window` lines ahead of what Fast has read, so Fast itself is never
    # over its cap; Slow, which reads nothing, falls behind by everything.
    window, batch = 400, 100
    sent, got, notices = 0, [], 0
    deadline = time.monotonic() + scaled(40)
    while len(got) - notices < n:
        assert time.monotonic() < deadline, \
            f"Fast received {len(got)} lines of {n} + 1 in time; sent {sent}"
        if sent < n and sent - (len(got) - notices) < window:
            sender.send_raw(b"".join(p + b"\n" for p in payload[sent:sent + batch]))
            sent += batch
            fast._fill(time.monotonic() + 0.001)
        else:
            fast._fill(time.monotonic() + 0.1)
        assert not fast.eof, f"Fast was disconnected after {len(got)} lines: " \
                             f"{bytes(fast.buf[-200:])!r}"
        while b"\n" in fast.buf:
            got.append(fast.read_line())
            notices += got[-1] == notice

    if notices == 0:
        got.append(fast.read_line())  # the notice, late (the check below says so)
    assert got.count(notice) == 1, "Fast must get Slow's leave notice exactly once"
    at = got.index(notice)
    assert got[:at] + got[at + 1:] == want, "Fast did not get every line in order"
    # "at once": the notice comes while the flood goes on, not after it.
    assert at < n - 1000, f"Slow's leave notice came only after {at} of {n} lines"
    sender.expect_line(notice[:-1])
    fast.expect_silence(0.05)
    server.wait_log(r"name=Slow left: slow$")

    stream = (b"*** Fast has joined the chat ***\n*** Sender has joined the chat ***\n"
              + b"".join(want))
    check_cut_transcript(slow.read_until_closed(timeout=scaled(10)), stream, "Slow")


@pytest.mark.test_timeout(60)
def test_stalled_reader_does_not_delay_a_sender(start_server):  # PROTOCOL.md §4.3
    # Two stalled readers; the sender's lines still reach a third, live client promptly, one by
    # one, while the stalled ones are being cut.
    server = start_server("--sndbuf", "4096", "--max-output", "32768")
    stalled = [server.join(f"Stalled{i}", rcvbuf=4096) for i in range(2)]
    live = server.join("Live")
    sender = server.join("Sender")
    live.expect_line("*** Sender has joined the chat ***")
    big = b"y" * 1000
    left = set()
    for i in range(300):
        sender.send(b"%04d %s" % (i, big))
        line = live.read_line(timeout=scaled(2))
        while line.startswith(b"*** Stalled"):
            left.add(line)
            line = live.read_line(timeout=scaled(2))
        assert line == b"Sender: %04d %s\n" % (i, big)
    while len(left) < 2:
        left.add(live.read_line())
    assert left == {b"*** Stalled0 has left the chat ***\n", b"*** Stalled1 has left the chat ***\n"}
    for c in stalled:
        c.read_until_closed(timeout=scaled(10))


@pytest.mark.test_timeout(60)
def test_echo_client_that_never_reads_is_cut_off(start_server):  # PROTOCOL.md §4.3, §6
    server = start_server("--echo", "--sndbuf", "4096", "--max-output", "65536")
    hog = server.connect(rcvbuf=4096, label="hog")
    other = server.connect(label="other")
    line = b"e" * 99 + b"\n"
    hog.sock.setblocking(False)
    sent = 0
    deadline = time.monotonic() + scaled(20)
    # Send up to 4 MB without reading; natter must cut the connection long before.
    while sent < 4 << 20 and time.monotonic() < deadline:
        try:
            sent += hog.sock.send(line * 100)
        except BlockingIOError:
            time.sleep(0.001)
        except (BrokenPipeError, ConnectionResetError):
            break
    hog.sock.setblocking(True)
    other.send("still served")
    other.expect_line("still served")
    server.wait_log(r"Connection from 127\.0\.0\.1:%d closed$" % hog.local_port)
    got = hog.read_until_closed(timeout=scaled(10))
    check_cut_transcript(got, line * (sent // len(line) + 1), "hog")
