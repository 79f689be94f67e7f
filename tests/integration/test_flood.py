"""Flood control and the per-address cap (PROTOCOL.md §4.4, §7.9; OPERATIONS.md "Limits").

The token bucket lives in conn.c, which needs libuv and a socket, so it is tested here, black-box:
what a client sees and when. Timing asserts are generous lower bounds (pacing can only make lines
later) and loose upper bounds; nothing depends on a tight schedule.
"""
import time

import pytest

from chat_helpers import barrier, connect_from, join_from, notice
from conftest import PROMPT, WAIT, scaled

TOO_MANY = b"Too many connections from your address.\n"


def pair(server):
    alice, bob = server.join("Alice"), server.join("Bob")
    alice.expect_line(notice("Bob has joined the chat"))
    return alice, bob


def full_bucket():
    """Waits long enough for any bucket at --rate 10 to be full again (the name line took a
    token). The bucket is time-based, so this is a wait for a known state, not a hope."""
    time.sleep(0.3)


# -- flood control


@pytest.mark.test_timeout(100)
def test_paste_of_500_lines_arrives_complete_and_in_order(start_server):  # PROTOCOL.md §7.9
    """500 lines in one send at --rate 10 --burst 20: about 48 s of pacing. Meanwhile the others
    chat undelayed, Alice still receives, and she is not disconnected."""
    server = start_server("--rate", "10", "--burst", "20")
    alice, bob = pair(server)
    carol = server.join("Carol")
    alice.expect_line(notice("Carol has joined the chat"))
    bob.expect_line(notice("Carol has joined the chat"))
    full_bucket()
    paste = b"".join(b"paste line %03d of 500\n" % i for i in range(1, 501))
    started = time.monotonic()
    alice.send_raw(paste)
    expected = [b"Alice: paste line %03d of 500\n" % i for i in range(1, 501)]

    def read_paste(client, upto, extra):
        """Reads client's lines until paste line upto; returns the non-paste lines."""
        others = []
        while len(got[client.label]) < upto:
            line = client.read_line(timeout=scaled(3))  # a paced line is due every 0.1 s
            if line.startswith(b"Alice: paste line "):
                got[client.label].append(line)
            else:
                others.append(line)
        extra.extend(others)
        return others

    got = {"Bob": [], "Carol": []}
    extra = {"Bob": [], "Carol": []}
    # Wait until pacing has clearly started (line 60 is due ~4 s in), then talk.
    read_paste(bob, 60, extra["Bob"])
    assert time.monotonic() - started >= 3.0, "60 lines arrived too fast: no pacing"
    carol.send("Carol while Alice is paced")
    # Alice's reading is paused, but she still receives, and at once: her output is not paced
    # (the paste has some 40 s to go).
    alice.expect_line("Carol: Carol while Alice is paced", timeout=scaled(2))
    # Bob gets Carol's line among Alice's paced ones, long before the paste ends.
    others = read_paste(bob, 100, extra["Bob"])
    assert others == [b"Carol: Carol while Alice is paced\n"], others
    read_paste(carol, 100, extra["Carol"])
    for c in (bob, carol):
        read_paste(c, 500, extra[c.label])
    elapsed = time.monotonic() - started
    assert got["Bob"] == expected
    assert got["Carol"] == expected
    assert extra["Carol"] == []
    # 480 lines past the burst at 10 a second: 48 s; anything much shorter means no pacing.
    assert elapsed >= 40.0, f"500 lines took {elapsed:.1f}s: not paced at --rate 10"
    # Still connected, still served; nothing lost, nobody told she left.
    alice.send("/who")
    alice.expect_line(notice("3 in lobby: Alice, Bob, Carol"))
    assert b"name=Alice left" not in server.log()
    barrier(bob)


def test_first_burst_lines_arrive_at_once_then_paced(start_server):  # PROTOCOL.md §7.9
    server = start_server("--rate", "10", "--burst", "20")
    alice, bob = pair(server)
    full_bucket()
    alice.send_raw(b"".join(b"line %d\n" % i for i in range(1, 41)))
    arrivals = []
    for i in range(1, 41):
        bob.expect_line(f"Alice: line {i}", timeout=scaled(3))
        arrivals.append(time.monotonic())
    burst = arrivals[19] - arrivals[0]
    paced = arrivals[39] - arrivals[19]
    # At once: 20 paced lines would take 1.9 s. Paced: 20 more lines at 10/s take 2 s.
    assert burst < 1.0, f"the first 20 lines took {burst:.2f}s"
    assert paced >= 1.5, f"lines 21-40 took {paced:.2f}s, expected about 2 s"
    assert paced < 2.0 + WAIT, f"lines 21-40 took {paced:.2f}s, expected about 2 s"


def test_burst_after_a_long_idle_is_still_at_most_burst(start_server):  # PROTOCOL.md §7.9
    """A bucket holds --burst tokens at most: time spent full earns nothing. After 3 s of
    silence (the bucket refilled long ago), 40 lines are still 20 at once, then 20 paced."""
    server = start_server("--rate", "10", "--burst", "20")
    alice, bob = pair(server)
    time.sleep(3.0)  # the state under test: a bucket that has been full for a while
    t0 = time.monotonic()
    alice.send_raw(b"".join(b"line %d\n" % i for i in range(1, 41)))
    for i in range(1, 41):
        bob.expect_line(f"Alice: line {i}", timeout=scaled(3))
    took = time.monotonic() - t0
    assert took >= 1.5, f"40 lines took {took:.2f}s: more than --burst 20 went at once"


def test_commands_count_against_the_bucket(start_server):  # PROTOCOL.md §7.9
    server = start_server("--rate", "10", "--burst", "5")
    alice, bob = pair(server)
    full_bucket()
    t0 = time.monotonic()
    alice.send_raw(b"/nosuch\n" * 20 + b"".join(b"chat %d\n" % i for i in range(5)))
    for _ in range(20):
        alice.expect_line("*** Unknown command: /nosuch. Type /help for the commands. ***",
                          timeout=scaled(3))
    for i in range(5):
        bob.expect_line(f"Alice: chat {i}", timeout=scaled(3))
    # 25 lines, a burst of 5: 20 tokens to wait for, 2 s at 10/s. Were commands free, the chat
    # lines would arrive at once.
    took = time.monotonic() - t0
    assert took >= 1.0, f"20 commands and 5 chat lines took {took:.2f}s"


def test_refused_names_count_against_the_bucket(start_server):  # PROTOCOL.md §2.3, §7.9
    server = start_server("--rate", "10", "--burst", "1")
    c = server.connect(label="Dave")
    c.expect_bytes(PROMPT)
    full_bucket()
    t0 = time.monotonic()
    c.send_raw(b"#1\n#2\n#3\n#4\nDave\n")
    for _ in range(4):
        c.expect_line("Name cannot start with '/', '#', '~', '&', '%', '+' or '-'.", timeout=scaled(3))
        c.expect_bytes(PROMPT, timeout=scaled(3))
    c.expect_welcome("Dave", timeout=scaled(3))
    # 5 lines, a burst of 1: 4 tokens to wait for, 0.4 s at 10/s.
    took = time.monotonic() - t0
    assert took >= 0.2, f"4 refused names and a good one took {took:.2f}s"


def test_paced_client_is_not_disconnected_and_loses_nothing(start_server):  # PROTOCOL.md §7.9
    server = start_server("--rate", "20", "--burst", "1")
    alice, bob = pair(server)
    alice.send_raw(b"".join(b"m%d\n" % i for i in range(60)))
    alice.send("/quit done")
    for i in range(60):
        bob.expect_line(f"Alice: m{i}", timeout=scaled(3))
    bob.expect_line(notice("Alice has left the chat (done)"), timeout=scaled(3))
    alice.expect_closed()


@pytest.mark.parametrize("args", [("--rate", "0"), ("--rate", "10", "--burst", "0")])
def test_rate_or_burst_0_turns_flood_control_off(start_server, args):  # PROTOCOL.md §7.9
    server = start_server(*args)
    alice, bob = pair(server)
    t0 = time.monotonic()
    alice.send_raw(b"".join(b"m%d\n" % i for i in range(300)))
    for i in range(300):
        bob.expect_line(f"Alice: m{i}")
    # Paced at 10/s with a burst of 20 this would take 28 s.
    assert time.monotonic() - t0 < 10.0


def test_echo_mode_has_no_flood_control(start_server):  # PROTOCOL.md §6, §7.9
    server = start_server("--echo", "--rate", "10", "--burst", "2")
    c = server.connect()
    t0 = time.monotonic()
    c.send_raw(b"".join(b"e%d\n" % i for i in range(100)))
    for i in range(100):
        c.expect_line(f"e{i}")
    # Paced at 10/s with a burst of 2 this would take 9.8 s.
    assert time.monotonic() - t0 < 5.0


# -- the per-address cap (§4.4)


def connect_once_freed(server, source, label):
    """Connects from source once natter has given back the place of a connection that just left.

    natter logs a leave (`left: closed`, `closed before naming`) when it sees the close, but gives
    the address's place back only in the connection's close callback, a few loop turns later;
    under valgrind that can be long after the log line. So a connection made right after the log
    line may still be refused. A refused connection takes no place (this is what the test
    checks), so trying again until one gets the prompt, within a scaled deadline, waits for the
    condition instead of hoping it holds already. Returns the client with its prompt read."""
    deadline = time.monotonic() + WAIT
    tries = 0
    while True:
        tries += 1
        c = connect_from(server, source, label=f"{label}#{tries}")
        c.label = label
        while len(c.buf) < len(PROMPT) and not c.eof and c._fill(deadline):
            if not PROMPT.startswith(bytes(c.buf[: len(PROMPT)])):
                break
        if bytes(c.buf[: len(PROMPT)]) == PROMPT:
            del c.buf[: len(PROMPT)]
            return c
        # Not the prompt: the refusal, then the close (read it all, so nothing is left half-said).
        # read_until_closed() returns what is buffered too: never add c.buf to it.
        got = c.read_until_closed()
        c.close()
        assert got == TOO_MANY, f"{label}: expected the prompt or {TOO_MANY!r}, got {got!r}"
        if time.monotonic() > deadline:
            pytest.fail(f"{label}: still refused {WAIT:.1f}s after the place was freed "
                        f"({tries} tries)", pytrace=False)
        time.sleep(0.01)


def join_once_freed(server, name, source):
    """join_from, after connect_once_freed."""
    c = connect_once_freed(server, source, name)
    c.send(name)
    server.wait_joined(name, c)
    return c


def test_per_ip_cap_from_a_non_exempt_address(start_server):  # PROTOCOL.md §4.4
    server = start_server("--max-per-ip", "2", "--no-loopback-exempt", "--log-level", "debug")
    first = join_from(server, "First", "127.0.0.2")
    second = connect_from(server, "127.0.0.2", label="second")  # unnamed counts too
    second.expect_bytes(PROMPT)
    third = connect_from(server, "127.0.0.2", label="third")
    assert third.read_until_closed() == TOO_MANY
    assert not third.reset, "refused with RST instead of a close"
    server.wait_log(rb" warn conn=\d+ peer=127\.0\.0\.2:%d refused: too many connections "
                    rb"from the address$" % third.local_port)
    # Other addresses are counted apart.
    other = join_from(server, "Other", "127.0.0.3")
    first.expect_line(notice("Other has joined the chat"))
    local = server.join("Local")
    first.expect_line(notice("Local has joined the chat"))
    other.expect_line(notice("Local has joined the chat"))
    # A refused connection took no place: after one leaves, exactly one more gets in.
    first.close()
    server.wait_log(rb"name=First left: closed$")
    fourth = join_once_freed(server, "Fourth", "127.0.0.2")
    for c in (other, local):
        c.expect_line(notice("First has left the chat"))
        c.expect_line(notice("Fourth has joined the chat"))
    fifth = connect_from(server, "127.0.0.2", label="fifth")
    assert fifth.read_until_closed() == TOO_MANY
    # The unnamed one leaving frees its place too (its close is logged at debug level).
    second.close()
    server.wait_log(rb" debug conn=\d+ peer=127\.0\.0\.2:%d closed before naming: "
                    % second.local_port)
    connect_once_freed(server, "127.0.0.2", "sixth")  # it holds the second place
    seventh = connect_from(server, "127.0.0.2", label="seventh")
    assert seventh.read_until_closed() == TOO_MANY
    for c in (other, local, fourth):
        barrier(c)


def test_per_ip_cap_applies_per_connection_not_per_name(start_server):  # PROTOCOL.md §4.4
    server = start_server("--max-per-ip", "1", "--no-loopback-exempt")
    a = connect_from(server, "127.0.0.2")
    a.expect_bytes(PROMPT)
    b = connect_from(server, "127.0.0.2")
    assert b.read_until_closed() == TOO_MANY


@pytest.mark.parametrize("source", ["127.0.0.1", "127.0.0.2"])
def test_loopback_is_exempt_by_default(start_server, source):  # PROTOCOL.md §4.4
    server = start_server("--max-per-ip", "2")
    clients = [join_from(server, f"U{i}", source) for i in range(5)]
    clients[-1].send("/who")
    clients[-1].expect_line(notice("5 in lobby: U0, U1, U2, U3, U4"))


def test_max_per_ip_0_is_no_limit(start_server):  # OPERATIONS.md "Options"
    server = start_server("--max-per-ip", "0", "--no-loopback-exempt")
    clients = [join_from(server, f"U{i}", "127.0.0.2") for i in range(20)]
    clients[-1].send("/who")
    clients[-1].expect_line(notice("20 in lobby: " + ", ".join(f"U{i}" for i in range(20))))
