"""The web door's HTTP side, black-box (PROTOCOL.md §9.1-§9.3, SECURITY.md "Hostile clients"):
the bundled client with its security headers and ETags, /healthz, /metrics's address check, the
strict request parser's answers byte for byte, keep-alive and its 100-request limit, pipelining,
slow heads, https://, the WebSocket handshake's refusals and the Origin rule, and refused
connections answered in HTTP.

Requests are written by hand (web_helpers.request) and answers read byte by byte
(web_helpers.read_response), so what is checked is what a browser or curl gets on the wire.
"""
import re
import select
import time

import pytest

from chat_helpers import join_from, notice
from conftest import PROMPT, WAIT, scaled, tls_client_context
from web_helpers import (CSP, TEXT, WEB, WEB_DIR, WEB_TLS, accept_of, connect_from,
                         expect_answer_then_close, frame, get, natter_version, read_head,
                         read_response, request, scrape, ws_open, ws_request)
from web_helpers import start_web  # noqa: F401 (a fixture, used by its name)


HEALTH = b"ok\n"
NOT_FOUND = b"Not found.\n"
# cmake/embed-web.cmake's types, by file name extension
TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
         ".mjs": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
         ".svg": "image/svg+xml", ".png": "image/png", ".ico": "image/x-icon",
         ".json": "application/json", ".webmanifest": "application/manifest+json",
         ".txt": "text/plain; charset=utf-8"}
ORIGIN_REFUSED = b"This page's origin may not open a WebSocket here (see --web-origin).\n"


@pytest.fixture
def web(start_web):
    return start_web()


def text_head(r, status, reason, body, connection, extra=""):
    """The head natter sends with a text answer (errors, /healthz), field by field in order;
    the Date is r's own (it is checked for its form by read_response)."""
    return (f"HTTP/1.1 {status} {reason}\r\nServer: natter/{natter_version()}\r\n"
            f"Date: {r.header('Date')}\r\nContent-Type: text/plain; charset=utf-8\r\n"
            f"Content-Length: {len(body)}\r\nConnection: {connection}\r\n"
            f"X-Content-Type-Options: nosniff\r\nContent-Security-Policy: {CSP}\r\n"
            f"{extra}\r\n").encode()


def http(server, addr=None, label=None):
    """A connection to the first web address (or number addr)."""
    if addr is None:
        addr = server.web("http") if "http" in server.schemes else server.web("https")
    return server.connect(addr, label=label)


# -- the bundled client (§9.2)


def test_index_page_with_security_headers(web):  # PROTOCOL.md §9.2
    c = http(web)
    r = get(c, "/")
    assert (r.status, r.reason) == (200, "OK")
    assert r.body == (WEB_DIR / "index.html").read_bytes(), "/ is not web/index.html (rebuilt?)"
    assert r.header("Content-Type") == "text/html; charset=utf-8"
    assert r.header("Content-Length") == str(len(r.body))
    assert r.header("Content-Security-Policy") == CSP
    assert r.header("X-Content-Type-Options") == "nosniff"
    assert r.header("Cache-Control") == "no-cache"
    assert re.fullmatch(r'"[0-9a-f]{16}"', r.header("ETag")), r.head
    assert r.header("Connection") == "keep-alive"
    # The head, field by field in order (Date is the only part that changes).
    date = r.header("Date")
    assert r.head == (
        f"HTTP/1.1 200 OK\r\nServer: natter/{natter_version()}\r\nDate: {date}\r\n"
        f"Content-Type: text/html; charset=utf-8\r\nContent-Length: {len(r.body)}\r\n"
        f"Connection: keep-alive\r\nX-Content-Type-Options: nosniff\r\n"
        f"Content-Security-Policy: {CSP}\r\nCache-Control: no-cache\r\n"
        f"ETag: {r.header('ETag')}\r\n\r\n").encode()
    again = get(c, "/index.html")  # the same connection: kept alive
    assert again.body == r.body and again.header("ETag") == r.header("ETag")


def test_every_file_of_the_client_is_served_with_its_type(web):  # PROTOCOL.md §9.2
    files = sorted(p for p in WEB_DIR.iterdir() if p.is_file())
    assert files, f"no files in {WEB_DIR}"
    c = http(web)
    etags = set()
    for path in files:
        r = get(c, f"/{path.name}")
        assert r.status == 200, f"/{path.name}: {r!r}"
        assert r.body == path.read_bytes(), f"/{path.name} differs from web/{path.name} (rebuilt?)"
        assert r.header("Content-Type") == TYPES[path.suffix], f"/{path.name}: {r.head!r}"
        assert r.header("Cache-Control") == "no-cache"
        etags.add(r.header("ETag"))
    assert len(etags) == len(files), "two files share an ETag"
    # A query string does not change what is served.
    r = get(c, "/app.js?v=2")
    assert r.status == 200 and r.body == (WEB_DIR / "app.js").read_bytes()


def test_head_has_the_headers_of_get_and_no_body(web):  # PROTOCOL.md §9.1, RFC 9110 §9.3.2
    c = http(web)
    for target in ("/", "/healthz", "/metrics", "/nope"):
        g = get(c, target)
        h = get(c, target, method="HEAD")
        assert h.status == g.status, target
        # The next response on the connection starts right after the head: no body was sent.
        assert h.header("Content-Type") == g.header("Content-Type")
        if target != "/metrics":  # its length changes between two scrapes
            assert h.header("Content-Length") == g.header("Content-Length"), target
        assert h.header("ETag") == g.header("ETag")
    assert get(c, "/healthz").body == HEALTH
    c.expect_silence(0.1)


def test_etag_and_if_none_match(web):  # PROTOCOL.md §9.2, RFC 9110 §13.1.2
    c = http(web)
    etag = get(c, "/").header("ETag")
    r = get(c, "/", headers=(("If-None-Match", etag),))
    assert (r.status, r.reason) == (304, "Not Modified")
    assert r.header("ETag") == etag
    assert r.header("Cache-Control") == "no-cache"
    assert r.header("Content-Length") is None
    assert r.header("Connection") == "keep-alive"
    # No body follows a 304: the next answer comes right after its head.
    assert get(c, "/healthz").body == HEALTH
    r = get(c, "/", headers=(("If-None-Match", '"0000000000000000"'),))
    assert r.status == 200 and r.body == (WEB_DIR / "index.html").read_bytes()
    # HEAD with a matching ETag is a 304 too.
    r = get(c, "/", method="HEAD", headers=(("If-None-Match", etag),))
    assert r.status == 304
    c.expect_silence(0.1)


def test_etag_is_the_same_across_restarts(start_web):  # PROTOCOL.md §9.2
    a, b = start_web(), start_web()
    assert get(http(a), "/").header("ETag") == get(http(b), "/").header("ETag")


def test_304_carries_date(web):
    # RFC 9110 §6.6.1: an origin server with a clock MUST send Date in every 2xx, 3xx and 4xx
    # response; §15.4.5: a 304 MUST carry the Date a 200 would have. natter's 304 has none.
    c = http(web)
    etag = get(c, "/").header("ETag")
    r = get(c, "/", headers=(("If-None-Match", etag),))
    assert r.status == 304
    assert r.header("Date") is not None, f"304 without Date: {r.head!r}"


def test_if_none_match_list_and_star(web):
    # RFC 9110 §13.1.2: If-None-Match is a list ("a", "b"), or *; a weak comparison is used, so
    # W/"etag" matches too. natter compares the whole field with its ETag.
    c = http(web)
    etag = get(c, "/").header("ETag")
    for value in (f'"0000000000000000", {etag}', "*", f"W/{etag}"):
        r = get(c, "/", headers=(("If-None-Match", value),))
        assert r.status == 304, f"If-None-Match: {value}: got {r.status}"


# -- /healthz and /metrics (§9.4)


def test_healthz_answers_anyone(start_web):  # PROTOCOL.md §9.4
    server = start_web("--metrics-allow", "10.0.0.0/8")
    c = http(server)
    r = get(c, "/healthz")
    assert (r.status, r.body) == (200, HEALTH)
    assert r.head == text_head(r, 200, "OK", HEALTH, "keep-alive", "Cache-Control: no-store\r\n")
    r = get(c, "/healthz?probe=1", method="HEAD")
    assert r.status == 200 and r.header("Content-Length") == "3"


def test_metrics_refused_outside_metrics_allow(start_web):  # PROTOCOL.md §9.4
    server = start_web("--metrics-allow", "10.0.0.0/8")
    c = http(server)
    r = get(c, "/metrics")
    body = b"Forbidden: this address is not in --metrics-allow.\n"
    assert (r.status, r.reason, r.body) == (403, "Forbidden", body)
    assert r.head == text_head(r, 403, "Forbidden", body, "keep-alive")
    server.wait_log(rb" info conn=\d+ peer=127\.0\.0\.1:%d http: /metrics refused "
                    rb"\(not in --metrics-allow\)$" % c.local_port)
    assert get(c, "/healthz").body == HEALTH  # the connection stays
    assert b"natter_" not in r.body


def test_metrics_allow_is_an_address_block(start_web):  # PROTOCOL.md §9.4, OPERATIONS.md
    server = start_web("--metrics-allow", "127.0.0.2/32", "--metrics-allow", "10.0.0.0/8")
    addr = server.web("http")
    allowed = connect_from(server, "127.0.0.2", addr)
    r = get(allowed, "/metrics")
    assert r.status == 200 and b"natter_build_info" in r.body
    for source in ("127.0.0.1", "127.0.0.3"):
        assert get(connect_from(server, source, addr), "/metrics").status == 403, source


def test_metrics_allowed_from_loopback_by_default(web):  # PROTOCOL.md §9.4
    r = get(http(web), "/metrics")
    assert r.status == 200
    assert r.header("Content-Type") == "text/plain; version=0.0.4; charset=utf-8"
    assert r.header("Cache-Control") == "no-store"
    assert b"\nnatter_build_info{version=\"%s\"} 1\n" % natter_version().encode() in r.body


# -- 404, keep-alive, pipelining (§9.1)


@pytest.mark.parametrize("target", ["/nope", "/index.htm", "/index.html/", "/../web/index.html",
                                    "/WS", "/ws/", "/metrics/x", "http://127.0.0.1/nope"])
def test_unknown_path_is_404_and_the_connection_stays(web, target):  # PROTOCOL.md §9.1
    c = http(web)
    r = get(c, target)
    assert (r.status, r.reason, r.body) == (404, "Not Found", NOT_FOUND)
    assert r.head == text_head(r, 404, "Not Found", NOT_FOUND, "keep-alive")
    assert get(c, "/healthz").body == HEALTH


def test_absolute_form_target(web):  # RFC 9112 §3.2.2
    c = http(web)
    host = web.authority(web.web("http"))
    assert get(c, f"http://{host}/healthz").body == HEALTH
    assert get(c, f"http://{host}").body == (WEB_DIR / "index.html").read_bytes()


def test_keep_alive_ends_at_the_100th_request(web):  # PROTOCOL.md §9.1
    c = http(web)
    for i in range(1, 100):
        r = get(c, "/healthz")
        assert r.header("Connection") == "keep-alive", f"answer {i}: {r.head!r}"
    c.send_raw(request("/healthz"))
    expect_answer_then_close(c, 200, HEALTH)


def test_pipelined_requests_answered_in_order_up_to_the_limit(web):  # PROTOCOL.md §9.1
    # 101 requests in one write: 100 answers, the last saying close, then the close; the 101st
    # is never answered.
    # Each request is padded to about 200 bytes: 20 KB in all, more than the 8 KiB head buffer
    # holds at once.
    c = http(web)
    targets = ["/healthz", "/nope", "/favicon.svg"]
    pad = (("X-Pad", "p" * 150),)
    c.send_raw(b"".join(request(targets[i % 3], headers=pad) for i in range(101)))
    for i in range(99):
        r = read_response(c)
        assert r.status == (200, 404, 200)[i % 3], f"answer {i + 1}: {r!r}"
        assert r.header("Connection") == "keep-alive"
    r = read_response(c)
    assert r.status == 200 and r.body == HEALTH and r.header("Connection") == "close"
    c.expect_closed()


def test_pipelined_requests_across_writes(web):  # RFC 9112 §9.3.2
    c = http(web)
    first, second = request("/healthz"), request("/nope", method="HEAD")
    data = first + second + request("/healthz")
    c.send_raw(data[:10])
    c.expect_silence(0.05)
    cut = len(first) + len(second) // 2  # the first request and half the second
    c.send_raw(data[10:cut])
    r = read_response(c)
    assert r.body == HEALTH
    c.expect_silence(0.05)
    c.send_raw(data[cut:])
    assert read_response(c, "HEAD").status == 404
    assert read_response(c).body == HEALTH
    c.expect_silence(0.05)


def test_connection_close_and_http_1_0(web):  # RFC 9112 §9.3
    c = http(web)
    c.send_raw(request("/healthz", headers=(("Connection", "close"),)))
    expect_answer_then_close(c, 200, HEALTH)
    # HTTP/1.0: closed after the answer unless it asks for keep-alive; no Host needed.
    c = http(web)
    c.send_raw(request("/healthz", host=None, version="HTTP/1.0"))
    expect_answer_then_close(c, 200, HEALTH)
    c = http(web)
    r = get(c, "/healthz", host=None, version="HTTP/1.0", headers=(("Connection", "keep-alive"),))
    assert r.header("Connection") == "keep-alive"
    assert get(c, "/healthz").body == HEALTH


def test_empty_lines_before_a_request_are_skipped(web):  # RFC 9112 §2.2
    c = http(web)
    c.send_raw(b"\r\n\n" + request("/healthz"))
    assert read_response(c).body == HEALTH


# -- the parser's refusals: an answer, then the close (§9.1)

TOO_LONG_LINE = b"The request line is longer than 4096 bytes.\n"
TOO_BIG_HEAD = b"The request head is over 8192 bytes or 64 header lines.\n"
MALFORMED = b"Malformed request.\n"
BAD_VERSION = b"Only HTTP/1.1 and HTTP/1.0 are served here.\n"
BAD_METHOD = b"Only GET and HEAD are served here.\n"

REFUSED = [
    ("no Host", b"GET / HTTP/1.1\r\n\r\n", 400, MALFORMED),
    ("two Hosts", b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400, MALFORMED),
    ("empty Host", b"GET / HTTP/1.1\r\nHost:\r\n\r\n", 400, MALFORMED),
    ("bad Host", b"GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400, MALFORMED),
    ("a body", b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello", 400, MALFORMED),
    ("chunked", b"GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400,
     MALFORMED),
    ("space before colon", b"GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400, MALFORMED),
    ("folded line", b"GET / HTTP/1.1\r\nHost: a\r\nX-A: b\r\n  c\r\n\r\n", 400, MALFORMED),
    ("bare CR", b"GET / HTTP/1.1\r\nHost: a\rX: b\r\n\r\n", 400, MALFORMED),
    ("control byte", b"GET / HTTP/1.1\r\nHost: a\r\nX-A: \x01\r\n\r\n", 400, MALFORMED),
    ("two spaces", b"GET  / HTTP/1.1\r\nHost: a\r\n\r\n", 400, MALFORMED),
    ("relative target", b"GET index.html HTTP/1.1\r\nHost: a\r\n\r\n", 400, MALFORMED),
    ("not HTTP", b"GET / FTP/1.1\r\nHost: a\r\n\r\n", 400, MALFORMED),
    ("binary", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n", 400, MALFORMED),
    ("HTTP/2.0", b"GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505, BAD_VERSION),
    ("HTTP/1.2", b"GET / HTTP/1.2\r\nHost: a\r\n\r\n", 505, BAD_VERSION),
    ("HTTP/0.9", b"GET / HTTP/0.9\r\n\r\n", 505, BAD_VERSION),
    ("POST", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nhi", 405, BAD_METHOD),
    ("PUT", b"PUT /x HTTP/1.1\r\nHost: a\r\n\r\n", 405, BAD_METHOD),
    ("OPTIONS", b"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n", 405, BAD_METHOD),
    ("lower-case get", b"get / HTTP/1.1\r\nHost: a\r\n\r\n", 405, BAD_METHOD),
    ("long request line", b"GET /" + b"a" * 4100 + b" HTTP/1.1\r\nHost: a\r\n\r\n", 414,
     TOO_LONG_LINE),
    ("65 fields", b"GET / HTTP/1.1\r\nHost: a\r\n" + b"".join(b"X-%d: y\r\n" % i
                                                              for i in range(64)) + b"\r\n",
     431, TOO_BIG_HEAD),
    ("head over 8 KiB", b"GET / HTTP/1.1\r\nHost: a\r\nX-Big: " + b"b" * 8200 + b"\r\n\r\n", 431,
     TOO_BIG_HEAD),
]


@pytest.mark.parametrize("sent,status,body", [r[1:] for r in REFUSED], ids=[r[0] for r in REFUSED])
def test_parser_refusal_is_answered_then_closed(web, sent, status, body):  # PROTOCOL.md §9.1
    c = http(web)
    # A good request pipelined behind the bad one is never answered.
    c.send_raw(sent + request("/healthz"))
    r = expect_answer_then_close(c, status, body)
    reason = {400: "Bad Request", 405: "Method Not Allowed", 414: "URI Too Long",
              431: "Request Header Fields Too Large", 505: "HTTP Version Not Supported"}[status]
    assert r.head == text_head(r, status, reason, body, "close",
                               "Allow: GET, HEAD\r\n" if status == 405 else "")


def test_64_fields_are_fine(web):  # PROTOCOL.md §9.1: at most 64 fields
    c = http(web)
    fields = tuple((f"X-{i}", "y") for i in range(63))  # and Host
    assert get(c, "/healthz", headers=fields).body == HEALTH


def test_over_long_request_line_refused_before_its_end(web):  # PROTOCOL.md §9.1
    # 414 as soon as the line is over 4096 bytes, without waiting for its end.
    c = http(web)
    c.send_raw(b"GET /" + b"a" * 5000)
    expect_answer_then_close(c, 414, TOO_LONG_LINE)


def test_over_big_head_refused_before_its_end(web):  # PROTOCOL.md §9.1
    c = http(web)
    c.send_raw(b"GET / HTTP/1.1\r\nHost: a\r\n" + b"X-Pad: " + b"p" * 9000)
    expect_answer_then_close(c, 431, TOO_BIG_HEAD)


# -- slow heads (§9.1; SECURITY.md: slowloris over HTTP)


def drip(client, data, interval, deadline):
    """Sends data a byte at a time every interval seconds until it is all sent or the server
    closed; returns (bytes sent, the time the close was seen or None)."""
    sent = 0
    while sent < len(data) and time.monotonic() < deadline:
        try:
            client.sock.sendall(data[sent:sent + 1])
        except (BrokenPipeError, ConnectionResetError):
            return sent, time.monotonic()
        sent += 1
        ready, _, _ = select.select([client.sock], [], [], interval)
        if ready:
            return sent, time.monotonic()
    return sent, None


def test_head_dripped_slower_than_the_deadline_is_closed(start_web):  # PROTOCOL.md §9.1
    server = start_web("--name-timeout", "1")
    c = http(server)
    t0 = time.monotonic()
    data = request("/healthz")  # 34 bytes at 10 a second: 3.4 s, past the 1 s deadline
    sent, closed_at = drip(c, data, 0.1, t0 + scaled(3) + 2)
    assert closed_at is not None, "the dripped head was never cut"
    assert sent < len(data)
    took = closed_at - t0
    assert 0.9 <= took <= scaled(1) + 1.5, f"closed after {took:.2f}s, deadline 1 s"
    c.expect_closed()  # no answer, just the close


def test_head_in_pieces_within_the_deadline_is_answered(start_web):  # PROTOCOL.md §9.1
    server = start_web("--name-timeout", "1")
    c = http(server)
    data = request("/healthz")
    sent, closed_at = drip(c, data, 0.01, time.monotonic() + scaled(5))
    assert sent == len(data)
    assert read_response(c).body == HEALTH


def test_idle_keep_alive_connection_is_closed(start_web):  # PROTOCOL.md §9.1
    server = start_web("--name-timeout", "1")
    c = http(server)
    t0 = time.monotonic()
    # Each request gets the whole second again: three, 0.6 s apart, outlive one deadline.
    for _ in range(3):
        assert get(c, "/healthz").body == HEALTH
        c.expect_silence(0.6)
    t1 = time.monotonic()
    assert t1 - t0 > 1.5
    c.expect_closed(timeout=scaled(1) + 1)
    took = time.monotonic() - t1
    assert took <= scaled(1) + 0.5, f"idle connection closed {took + 0.6:.2f}s after the answer"


def test_connection_that_sends_nothing_is_closed(start_web):  # PROTOCOL.md §9.1
    server = start_web("--name-timeout", "1")
    c = http(server)
    t0 = time.monotonic()
    c.expect_closed(timeout=scaled(1) + 1)
    assert time.monotonic() - t0 >= 0.9


@pytest.mark.test_timeout(40)
def test_heads_get_10_s_at_most(start_web):  # PROTOCOL.md §9.1
    # With a longer name timeout the HTTP deadline is 10 s: a silent connection and one that
    # sent half a head are both closed then, without an answer.
    server = start_web("--name-timeout", "60")
    silent, half = http(server, label="silent"), http(server, label="half")
    t0 = time.monotonic()
    half.send_raw(request("/healthz")[:20])
    for c in (silent, half):
        c.expect_closed(timeout=10 + scaled(2))
        took = time.monotonic() - t0
        assert 9.5 <= took <= 10 + scaled(2), f"{c.label}: closed after {took:.1f}s"


# -- slow HTTP readers (§4.3 on the web door)


@pytest.mark.test_timeout(40)
def test_http_reader_over_max_output_is_cut_at_once(start_web):  # PROTOCOL.md §4.3
    # 60 pipelined requests for the biggest file, never read: about 2 MB of answers against a
    # 64 KiB --max-output. Like any reader over its cap, the connection is cut at once and
    # counted (natter_slow_consumers_total{reason="output"}). natter drops its queue and marks
    # the connection, but nothing closes it: the client gets nothing and the connection hangs
    # until the 10 s HTTP deadline closes it as idle, uncounted.
    server = start_web("--sndbuf", "4096", "--max-output", "65536")
    m0 = scrape(server)
    big = max((p for p in WEB_DIR.iterdir() if p.is_file()), key=lambda p: p.stat().st_size)
    c = server.connect(0, rcvbuf=4096, label="hog")
    t0 = time.monotonic()
    c.send_raw(b"".join(request(f"/{big.name}") for _ in range(60)))
    data = c.read_until_closed(timeout=scaled(3) + 1)
    took = time.monotonic() - t0
    assert took < scaled(3), f"cut after {took:.1f}s"
    assert b"Disconnected" not in data
    m1 = scrape(server)
    assert m1.get("natter_slow_consumers_total", reason="output") - \
        m0.get("natter_slow_consumers_total", reason="output") == 1


def test_stalled_http_reader_gets_no_chat_line(start_web):  # PROTOCOL.md §4.3
    # A reader that takes nothing for --stall-timeout is cut off. The line door's goodbye
    # (`Disconnected: too slow to receive messages.`) is not HTTP: an HTTP client must get a
    # prefix of its answers and the close, nothing else.
    server = start_web("--sndbuf", "4096", "--stall-timeout", "1")
    c = server.connect(0, rcvbuf=4096, label="stalled")
    c.send_raw(b"".join(request("/app.js") for _ in range(3)))
    server.wait_log(rb" warn conn=\d+ peer=127\.0\.0\.1:%d cut off: stalled " % c.local_port,
                    timeout=scaled(3) + WAIT)
    data = c.read_until_closed(timeout=scaled(5))
    assert b"Disconnected: too slow" not in data, f"HTTP stream ends with {data[-60:]!r}"
    assert data.startswith(b"HTTP/1.1 200 OK\r\n")


# -- https:// (§9.1)


def test_https_serves_the_client_with_the_tls_certificate(start_web, tls_cert):  # PROTOCOL.md §9
    server = start_web(listen=(WEB_TLS,), tls=tls_cert)
    c = server.connect(0, tls_context=tls_client_context(cafile=tls_cert.cert))
    assert c.peer_cert_der() == tls_cert.der
    r = get(c, "/", host=server.authority(0))
    assert r.status == 200 and r.body == (WEB_DIR / "index.html").read_bytes()
    assert r.header("Content-Security-Policy") == CSP
    assert get(c, "/healthz").body == HEALTH
    assert get(c, "/metrics").status == 200
    # The page's own origin is https:// here.
    ws = ws_open(server, 0, origin=server.origin(0), tls_context=tls_client_context())
    ws.expect_bytes(PROMPT)
    c2 = server.connect(0)
    c2.send_raw(ws_request(server, 0, origin=f"http://{server.authority(0)}"))
    expect_answer_then_close(c2, 403, ORIGIN_REFUSED)


def test_plain_http_to_https_is_closed(start_web, tls_cert):  # PROTOCOL.md §1
    server = start_web(listen=(WEB_TLS,), tls=tls_cert)
    c = server.connect(0, tls=False)
    c.send_raw(request("/healthz"))
    assert b"HTTP/1.1" not in c.read_until_closed()


# -- the WebSocket handshake (§9.3, RFC 6455 §4.2)


def test_handshake_accept_key_of_rfc_6455(web):  # RFC 6455 §1.3
    c = http(web)
    key = "dGhlIHNhbXBsZSBub25jZQ=="
    c.send_raw(ws_request(web, 0, protocols=["natter.line"], key=key))
    head = read_head(c)
    assert accept_of(key) == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
    assert head == (f"HTTP/1.1 101 Switching Protocols\r\nServer: natter/{natter_version()}\r\n"
                    "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                    "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
                    "Sec-WebSocket-Protocol: natter.line\r\n\r\n").encode()
    web.wait_log(rb" info conn=\d+ peer=127\.0\.0\.1:%d websocket: natter\.line$" % c.local_port)


@pytest.mark.parametrize("offered,chosen", [
    (["natter.line"], "natter.line"),
    (["text.ircv3.net"], "text.ircv3.net"),
    (["binary.ircv3.net"], "binary.ircv3.net"),
    (["text.ircv3.net", "natter.line"], "text.ircv3.net"),  # the client's order
    (["chat.example", "natter.line"], "natter.line"),
    (["chat.example"], None),
    (None, None),
])
def test_subprotocol_choice(web, offered, chosen):  # PROTOCOL.md §9.3
    ws = ws_open(web, protocols=offered)  # checks the 101 names chosen (or nothing)
    if chosen == "natter.line":
        ws.expect_bytes(PROMPT)
    else:  # the IRC door: nothing until the client registers
        ws.send("PING x")
        ws.expect_line(":natter PONG natter :x")


def test_browser_style_handshakes(web):  # RFC 6455 §4.1, RFC 9110 §7.6.1
    # Firefox sends `Connection: keep-alive, Upgrade`; tokens are case-insensitive.
    c = http(web)
    key = "AQIDBAUGBwgJCgsMDQ4PEA=="
    c.send_raw(request("/ws?x=1", host=web.authority(0), headers=(
        ("Connection", "keep-alive, Upgrade"), ("Upgrade", "WebSocket"),
        ("Sec-WebSocket-Version", "13"), ("Sec-WebSocket-Key", key),
        ("Sec-WebSocket-Protocol", "natter.line"), ("Origin", web.origin(0)),
        ("User-Agent", "Mozilla/5.0"), ("Accept-Encoding", "gzip, deflate"))))
    head = read_head(c)
    assert head.startswith(b"HTTP/1.1 101 Switching Protocols\r\n"), head
    assert f"Sec-WebSocket-Accept: {accept_of(key)}\r\n".encode() in head


def test_handshake_on_a_kept_alive_connection(web):  # PROTOCOL.md §9.1, §9.3
    c = http(web)
    assert get(c, "/healthz").body == HEALTH
    assert get(c, "/").status == 200
    key = "AQIDBAUGBwgJCgsMDQ4PEA=="
    c.send_raw(ws_request(web, 0, protocols=["natter.line"], key=key))
    head = read_head(c)
    assert head.startswith(b"HTTP/1.1 101 Switching Protocols\r\n"), head
    assert f"Sec-WebSocket-Accept: {accept_of(key)}\r\n".encode() in head


def test_permessage_deflate_is_declined(web):  # PROTOCOL.md §9.3, RFC 7692 §5
    ws = ws_open(web, headers=(("Sec-WebSocket-Extensions",
                                "permessage-deflate; client_max_window_bits"),))
    assert b"Sec-WebSocket-Extensions" not in ws.response  # ws_open checked the 101 exactly
    ws.expect_bytes(PROMPT)


def test_ws_without_upgrade_is_426_and_the_connection_stays(web):  # PROTOCOL.md §9.3
    c = http(web)
    r = get(c, "/ws", host=web.authority(0))
    body = b"This is natter's WebSocket endpoint: connect with a WebSocket client.\n"
    assert (r.status, r.reason, r.body) == (426, "Upgrade Required", body)
    assert r.head == text_head(r, 426, "Upgrade Required", body, "keep-alive",
                               "Upgrade: websocket\r\n")
    r = get(c, "/ws", headers=(("Upgrade", "websocket"),))  # no Connection: Upgrade
    assert r.status == 426
    r = get(c, "/ws", headers=(("Connection", "Upgrade"),))  # no Upgrade
    assert r.status == 426
    assert get(c, "/healthz").body == HEALTH


def refused_handshake(server, sent, status, body):
    c = http(server)
    c.send_raw(sent)
    r = expect_answer_then_close(c, status, body)
    server.wait_log(rb" info conn=\d+ peer=127\.0\.0\.1:%d websocket: refused %d: %s$"
                    % (c.local_port, status, re.escape(body.rstrip(b"\n"))))
    return r


@pytest.mark.parametrize("version", ["12", "8", "13, 8", None])
def test_ws_version_other_than_13_is_426(web, version):  # RFC 6455 §4.4
    body = b"Only WebSocket version 13 (RFC 6455) is spoken here.\n"
    r = refused_handshake(web, ws_request(web, 0, version=version), 426, body)
    assert r.header("Sec-WebSocket-Version") == "13"
    assert r.head == text_head(r, 426, "Upgrade Required", body, "close",
                               "Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n")


def test_ws_version_426_names_the_upgrade(web):
    # RFC 9110 §15.5.22: a server MUST send an Upgrade field in a 426 response. The 426 for a
    # missing Upgrade has `Upgrade: websocket`; the one for a wrong version has none.
    c = http(web)
    c.send_raw(ws_request(web, 0, version="12"))
    r = expect_answer_then_close(c, 426)
    assert r.header("Upgrade") == "websocket", r.head


@pytest.mark.parametrize("key", ["", "abc", "dGhlIHNhbXBsZSBub25jZQ", "dGhlIHNhbXBsZSBub25jZR==",
                                 "dGhlIHNhbXBsZSBub25jZQ==dGhl", "dGhlIHNhbXBsZSBub25j*Q=="])
def test_bad_key_is_400(web, key):  # RFC 6455 §4.2.1: 16 bytes in base64
    refused_handshake(web, ws_request(web, 0, key=key), 400,
                      b"Sec-WebSocket-Key must be 16 bytes in base64.\n")


def test_missing_key_is_400(web):  # RFC 6455 §4.2.1
    sent = request("/ws", host=web.authority(0), headers=(
        ("Upgrade", "websocket"), ("Connection", "Upgrade"), ("Sec-WebSocket-Version", "13")))
    refused_handshake(web, sent, 400, b"Sec-WebSocket-Key must be 16 bytes in base64.\n")


def test_handshake_must_be_get_in_http_1_1(web):  # RFC 6455 §4.1
    body = b"A WebSocket handshake is a GET in HTTP/1.1.\n"
    refused_handshake(web, ws_request(web, 0, method="HEAD"), 400, body)
    refused_handshake(web, ws_request(web, 0, http="HTTP/1.0"), 400, body)


def test_data_before_the_101_is_400(web):  # RFC 6455 §4.1: the client waits for the 101
    refused_handshake(web, ws_request(web, 0, protocols=["natter.line"]) + frame(TEXT, "Alice"),
                      400, b"Data came before the handshake's answer.\n")
    # A second request pipelined behind the handshake is data too.
    refused_handshake(web, ws_request(web, 0) + request("/healthz"), 400,
                      b"Data came before the handshake's answer.\n")


# -- Origin (§9.3; SECURITY.md: cross-site WebSocket hijacking)


def test_origin_of_the_page_itself_is_let_in(web):  # PROTOCOL.md §9.3
    ws_open(web, origin=web.origin(0)).expect_bytes(PROMPT)
    port = web.addresses[0][1]
    # The Host decides the page's origin: a page loaded as localhost is localhost's.
    c = http(web)
    c.send_raw(ws_request(web, 0, host=f"localhost:{port}", origin=f"http://LocalHost:{port}"))
    assert read_head(c).startswith(b"HTTP/1.1 101 ")


def test_no_origin_is_let_in(web):  # PROTOCOL.md §9.3: not a browser
    ws_open(web, origin=None).expect_bytes(PROMPT)


@pytest.mark.parametrize("origin", [
    "http://evil.example", "https://127.0.0.1:{port}", "http://127.0.0.1:{other}",
    "http://localhost:{port}", "null", "file://", "http://127.0.0.1:{port}/", "",
    "http://127.0.0.1:{port}.evil.example",
])
def test_foreign_origin_is_403(web, origin):  # PROTOCOL.md §9.3
    port = web.addresses[0][1]
    sent = ws_request(web, 0, origin=origin.format(port=port, other=port + 1 if port < 65535
                                                   else port - 1))
    r = refused_handshake(web, sent, 403, ORIGIN_REFUSED)
    assert r.head == text_head(r, 403, "Forbidden", ORIGIN_REFUSED, "close")


def test_web_origin_lets_other_pages_in(start_web):  # PROTOCOL.md §9.3, OPERATIONS.md
    server = start_web("--web-origin", "https://chat.example.org",
                       "--web-origin", "http://127.0.0.1:9999")
    for origin in ("https://chat.example.org", "https://chat.example.org:443",
                   "HTTPS://Chat.Example.ORG", "http://127.0.0.1:9999", server.origin(0)):
        ws = ws_open(server, origin=origin)
        ws.expect_bytes(PROMPT)
        ws.close()
    for origin in ("http://chat.example.org", "https://chat.example.org:8443",
                   "https://www.chat.example.org", "https://example.org", "http://127.0.0.1"):
        refused_handshake(server, ws_request(server, 0, origin=origin), 403, ORIGIN_REFUSED)


# -- refused connections answer in HTTP (§4.4 on the web door)


def test_banned_address_gets_403(start_web, tmp_path):  # PROTOCOL.md §4.4, §7.10
    state = tmp_path / "state"
    state.mkdir()
    (state / "bans").write_text("# natter's ban list: one address a line (written by natter; "
                                "/ban and /unban)\n127.0.0.3\n")
    server = start_web("--state-dir", state, listen=(WEB, "127.0.0.1:0"))
    c = connect_from(server, "127.0.0.3", server.web("http"))
    body = b"You are banned from this server.\n"
    r = expect_answer_then_close(c, 403, body)
    assert r.head == text_head(r, 403, "Forbidden", body, "close")
    server.wait_log(rb" warn conn=\d+ peer=127\.0\.0\.3:%d refused: banned$" % c.local_port)
    assert get(connect_from(server, "127.0.0.4", server.web("http")), "/healthz").body == HEALTH


def test_too_many_from_one_address_gets_429(start_web):  # PROTOCOL.md §4.4
    server = start_web("--max-per-ip", "2", "--no-loopback-exempt", listen=("127.0.0.1:0", WEB))
    line = join_from(server, "Line", "127.0.0.2")  # the cap counts every door
    held = connect_from(server, "127.0.0.2", server.web("http"))
    assert get(held, "/healthz").body == HEALTH
    c = connect_from(server, "127.0.0.2", server.web("http"))
    body = b"Too many connections from your address.\n"
    r = expect_answer_then_close(c, 429, body)
    assert r.head == text_head(r, 429, "Too Many Requests", body, "close")
    server.wait_log(rb" warn conn=\d+ peer=127\.0\.0\.2:%d refused: too many connections from "
                    rb"the address$" % c.local_port)
    # Other addresses are counted apart.
    assert get(connect_from(server, "127.0.0.3", server.web("http")), "/healthz").body == HEALTH
    line.send("/who")
    line.expect_line(notice("1 in lobby: Line"))


def test_full_server_gets_503(start_web):  # PROTOCOL.md §4.4
    server = start_web("--max-clients", "1", listen=(WEB, "127.0.0.1:0"))
    alice = server.join("Alice", addr=server.address_of("tcp"))
    c = http(server)
    body = b"Server is full, try again later.\n"
    r = expect_answer_then_close(c, 503, body)
    assert r.head == text_head(r, 503, "Service Unavailable", body, "close",
                               "Retry-After: 10\r\n")
    alice.close()
    server.wait_log(rb"name=Alice left: closed$")
    deadline = time.monotonic() + WAIT
    while True:  # the place is given back in the close callback, a loop turn later
        c = http(server)
        r = get(c, "/healthz")
        if r.status == 200 or time.monotonic() > deadline:
            break
        c.expect_closed()
    assert r.status == 200 and r.body == HEALTH


def test_web_and_line_on_one_server(start_web):  # PROTOCOL.md §9
    server = start_web(listen=("127.0.0.1:0", WEB, "irc://127.0.0.1:0"))
    assert server.schemes == ["tcp", "http", "irc"]
    line = server.connect(server.address_of("tcp"))
    line.expect_bytes(PROMPT)
    irc = server.connect(server.address_of("irc"))
    irc.send_raw(b"PING x\r\n")
    irc.expect_line(b":natter PONG natter :x\r")
    assert get(http(server), "/healthz").body == HEALTH
    # An HTTP request on the line door is a (refused) name, not a page.
    line.send_raw(request("/healthz")[:23])
    line.expect_line("Name cannot contain spaces.")
