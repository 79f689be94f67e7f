"""Echo mode (PROTOCOL.md §6): the HOWTO's echo server."""
import signal
import time

import pytest

from conftest import scaled


@pytest.fixture
def echo(start_server):
    return start_server("--echo")


def test_no_prompt_and_lines_come_back(echo):  # PROTOCOL.md §6
    c = echo.connect()
    c.expect_silence(0.2)  # no prompt
    c.send("hello")
    c.expect_line("hello")
    c.send("  spaces are kept  ")
    c.expect_line("  spaces are kept  ")


def test_bytes_come_back_untouched(echo):  # PROTOCOL.md §5.2, §6
    c = echo.connect()
    lines = [
        b"with cr\r\n",
        b"\r\r\n",
        b"\n",
        b"\x1b[31mred\x1b[0m \x07\x00\x7f\tTAB\n",
        b"\xff\xfb\x01 telnet \xff\xff\n",
        b"\xc3( \xed\xa0\x80 \xc0\xaf\n",
        "\u202eΣοφία 😀\u0085\n".encode(),
        bytes(range(0, 10)) + bytes(range(11, 256)) + b"\n",
    ]
    for line in lines:
        c.send_raw(line)
        c.expect_bytes(line)
    c.send_raw(b"".join(lines))
    c.expect_bytes(b"".join(lines))
    c.expect_silence(0.05)


def test_partial_line_waits_for_its_lf(echo):  # PROTOCOL.md §5.1, §6
    c = echo.connect()
    c.send_raw(b"abc")
    c.expect_silence(0.2)
    c.send_raw(b"def\r")
    c.expect_silence(0.05)
    c.send_raw(b"\nnext")
    c.expect_bytes(b"abcdef\r\n")
    c.expect_silence(0.05)


def test_clients_are_independent(echo):  # PROTOCOL.md §6
    a, b = echo.connect(label="a"), echo.connect(label="b")
    a.send("from a")
    b.send("from b")
    a.expect_line("from a")
    b.expect_line("from b")
    a.expect_silence(0.05)
    b.expect_silence(0.05)


def test_many_lines_in_order(echo):  # PROTOCOL.md §3.3, §6
    c = echo.connect()
    data = b"".join(b"echo line %05d\n" % i for i in range(5000))
    c.send_raw(data)
    c.expect_bytes(data, timeout=scaled(10))


def test_line_cap(start_server):  # PROTOCOL.md §3.4, §6
    server = start_server("--echo", "--max-line", "16")
    c = server.connect()
    c.send_raw(b"x" * 16 + b"\r\n")  # the CR is not content
    c.expect_bytes(b"x" * 16 + b"\r\n")
    c.send_raw(b"y" * 17 + b"\n")
    c.expect_line("Line too long (more than 16 bytes); not sent.")
    for part in (b"z" * 10, b"z" * 10, b"z" * 10):
        c.send_raw(part)
        time.sleep(0.02)
    c.send_raw(b"zz\nafter\n")
    c.expect_line("Line too long (more than 16 bytes); not sent.")
    c.expect_line("after")
    c.expect_silence(0.05)


def test_log_lines(echo):  # OPERATIONS.md "Logs", PROTOCOL.md §6
    c = echo.connect()
    port = c.local_port
    echo.wait_log(r" info New connection from 127\.0\.0\.1:%d$" % port)
    c.send("bye")
    c.expect_line("bye")
    c.close()
    echo.wait_log(r" info Connection from 127\.0\.0\.1:%d closed$" % port)
    echo.wait_log(r" info natter \S+ starting: echo mode")


def test_idle_timeout(start_server):  # PROTOCOL.md §4.2, §6
    server = start_server("--echo", "--idle-timeout", "0.3")
    c = server.connect()
    t0 = time.monotonic()
    c.send("ping")
    c.expect_line("ping")
    c.expect_line("Disconnected: idle timeout.", timeout=scaled(3))
    assert time.monotonic() - t0 >= 0.25
    c.expect_closed()


def test_server_full(start_server):  # PROTOCOL.md §4.4, §6
    server = start_server("--echo", "--max-clients", "1")
    a = server.connect(label="a")
    a.send("first")
    a.expect_line("first")
    b = server.connect(label="b")
    b.expect_line("Server is full, try again later.")
    b.expect_closed()
    a.send("still")
    a.expect_line("still")


def test_shutdown(start_server):  # PROTOCOL.md §4.5, §6
    server = start_server("--echo")
    a, b = server.connect(label="a"), server.connect(label="b")
    a.send("x")
    a.expect_line("x")
    b.send_raw(b"partial")
    server.wait_log(r"New connection from 127\.0\.0\.1:%d$" % b.local_port)
    server.signal(signal.SIGTERM)
    for c in (a, b):
        c.expect_line("*** Server is shutting down ***")
        c.expect_closed(timeout=scaled(7))
        c.close()
    assert server.wait_exit() == 0
    server.stop()
