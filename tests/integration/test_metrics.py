"""/metrics, black-box (PROTOCOL.md §9.4, OPERATIONS.md "Metrics"): the Prometheus text format
(version 0.0.4), line by line, and every counter and gauge checked against what the test did on
the wire: clients by door, names, rooms, chat lines, deliveries, encodings, bytes written (to the
byte), slow consumers, refusals, TLS failures, flood pauses, HTTP requests, WebSocket upgrades,
the build and the process.

Counters are compared as differences between two scrapes, so nothing depends on what the start
did; gauges are read when the server is quiet (every expected line has arrived).
"""
import time

import pytest

from chat_helpers import barrier, join_from, notice, unknown
from conftest import PROMPT, WAIT, scaled
from irc_helpers import Irc, from_
from web_helpers import (DOORS, WEB, WEB_TLS, Metrics, WebDoors, connect_from, get,
                         natter_version, request, scrape, ws_join, ws_open)
from web_helpers import start_web  # noqa: F401 (a fixture, used by its name)


FAMILIES = {
    "natter_clients": "gauge",
    "natter_named_clients": "gauge",
    "natter_rooms": "gauge",
    "natter_connections_accepted_total": "counter",
    "natter_connections_refused_total": "counter",
    "natter_lines_received_total": "counter",
    "natter_deliveries_total": "counter",
    "natter_events_encoded_total": "counter",
    "natter_written_bytes_total": "counter",
    "natter_slow_consumers_total": "counter",
    "natter_flood_pauses_total": "counter",
    "natter_tls_handshake_failures_total": "counter",
    "natter_http_requests_total": "counter",
    "natter_websocket_upgrades_total": "counter",
    "natter_uptime_seconds": "gauge",
    "natter_build_info": "gauge",
    "process_resident_memory_bytes": "gauge",
    "process_open_fds": "gauge",
    "process_start_time_seconds": "gauge",
}


@pytest.fixture
def world(start_web):
    return WebDoors(start_web(listen=DOORS))


def wait_metrics(server, check, what):
    """Scrapes until check(metrics) is true (a close is seen by natter a loop turn after the
    client's close); returns the metrics."""
    deadline = time.monotonic() + WAIT
    while True:
        m = scrape(server)
        if check(m):
            return m
        assert time.monotonic() < deadline, f"{what}; last scrape:\n{m.text}"
        time.sleep(0.02)


def delta(after, before, name, **labels):
    return after.get(name, **labels) - before.get(name, **labels)


# -- the format


def test_metrics_is_prometheus_text(world):  # PROTOCOL.md §9.4
    m = scrape(world.server)  # Metrics() checks every line: a sample, # HELP or # TYPE
    assert m.types == FAMILIES
    assert set(m.helps) == set(FAMILIES) and all(m.helps.values())
    assert {n for n, _ in m.samples} == set(FAMILIES)
    assert {dict(labels)["door"] for n, labels in m.samples if n == "natter_clients"} == \
        {"line", "irc", "ws", "http"}
    assert {dict(labels)["reason"] for n, labels in m.samples
            if n == "natter_connections_refused_total"} == {"banned", "per_ip", "full"}
    assert {dict(labels)["reason"] for n, labels in m.samples
            if n == "natter_slow_consumers_total"} == {"output", "stalled", "memory"}
    # Each family's samples follow its # HELP and # TYPE lines, none elsewhere.
    current = None
    for line in m.text.splitlines():
        if line.startswith("# HELP "):
            current = line.split()[2]
        elif not line.startswith("#"):
            assert line.split("{")[0].split(" ")[0] == current, line


def test_build_info_and_process_metrics(world):  # PROTOCOL.md §9.4
    server = world.server
    t0 = time.time()
    c = server.connect(world.web, label="scraper")
    m = scrape(server, client=c)  # kept open: the fds counted are those of now
    assert m.get("natter_build_info", version=natter_version()) == 1
    rss = server.rss_kb() * 1024
    got = m.get("process_resident_memory_bytes")
    assert 0.75 * rss <= got <= 1.25 * rss + (1 << 20), f"RSS {got}, /proc says {rss}"
    assert m.get("process_open_fds") == server.fd_count()
    start = m.get("process_start_time_seconds")
    # The process started before this test began and at most a few seconds before.
    assert t0 - scaled(10) <= start <= t0 + 0.01, f"start {start}, test began {t0}"
    assert sum(line.startswith("process_start_time_seconds ")
               for line in m.text.splitlines()) == 1
    assert 0 <= m.get("natter_uptime_seconds") <= time.time() - start + 1
    # The start time stays put between scrapes.
    assert scrape(server, client=c).get("process_start_time_seconds") == start
    # Open fds follow the connections: five more, then back.
    extra = [server.connect(world.tcp) for _ in range(5)]
    for e in extra:
        e.expect_bytes(PROMPT)
    assert scrape(server, client=c).get("process_open_fds") == server.fd_count()
    assert scrape(server, client=c).get("process_open_fds") == m.get("process_open_fds") + 5
    for e in extra:
        e.close()
    wait_metrics(server, lambda x: x.get("process_open_fds") == m.get("process_open_fds") + 1,
                 "fds not back after the closes")  # + 1: this scrape's own connection


# -- the chat gauges


def test_clients_by_door_names_and_rooms(world):  # PROTOCOL.md §9.4
    server = world.server
    m = scrape(server)
    for door in ("line", "irc", "ws"):
        assert m.get("natter_clients", door=door) == 0
    assert m.get("natter_clients", door="http") == 1  # the scrape's own connection
    assert m.get("natter_named_clients") == 0 and m.get("natter_rooms") == 0

    alice, bob = world.line("Alice"), world.line("Bob")
    unnamed = server.connect(world.tcp, label="unnamed")
    unnamed.expect_bytes(PROMPT)
    ivan = world.irc("Ivan")
    unregistered = server.connect(world.irc_addr, label="unregistered")
    wendy = ws_join(server, "Wendy", world.web)
    iris = Irc(ws_open(server, world.web, protocols=["text.ircv3.net"], label="Iris"))
    iris.register("Iris")
    idle_http = server.connect(world.web, label="idle-http")
    assert get(idle_http, "/healthz").status == 200
    m = scrape(server)
    assert m.get("natter_clients", door="line") == 3
    assert m.get("natter_clients", door="irc") == 2
    assert m.get("natter_clients", door="ws") == 2
    assert m.get("natter_clients", door="http") == 2  # idle-http and the scrape
    assert m.get("natter_named_clients") == 5
    assert m.get("natter_rooms") == 1  # lobby: IRC users are in no channel yet

    alice.expect_line(notice("Bob has joined the chat"))
    alice.expect_line(notice("Wendy has joined the chat"))
    ivan.join("#lobby")
    alice.expect_line(notice("Ivan has joined the chat"))
    alice.send("/join attic")
    alice.expect_line(notice("You are now in attic: nobody else is here"))
    iris.send("JOIN #cellar")
    iris.read_until_line(":natter 366 Iris #cellar :End of /NAMES list.")
    m = scrape(server)
    assert m.get("natter_rooms") == 3

    for c in (alice, unnamed, unregistered, wendy, iris.c, idle_http):
        c.close()
    m = wait_metrics(server, lambda x: x.get("natter_clients", door="ws") == 0
                     and x.get("natter_clients", door="line") == 1
                     and x.get("natter_clients", door="irc") == 1
                     and x.get("natter_clients", door="http") == 1, "clients not back")
    assert m.get("natter_named_clients") == 2  # Bob and Ivan
    assert m.get("natter_rooms") == 1  # attic and cellar are gone with their last member
    assert bob


# -- the chat counters


def test_lines_deliveries_encodings_and_bytes(world):  # PROTOCOL.md §9.4
    server = world.server
    alice, bob = world.line("Alice"), world.line("Bob")
    alice.expect_line(notice("Bob has joined the chat"))
    wendy = ws_join(server, "Wendy", world.web)
    for c in (alice, bob):
        c.expect_line(notice("Wendy has joined the chat"))
    ivan = world.irc("Ivan")
    ivan.join("#lobby")
    for c in (alice, bob, wendy):
        c.expect_line(notice("Ivan has joined the chat"))

    scraper = server.connect(world.web, label="scraper")
    scraper.send_raw(request("/metrics", host=server.authority(world.web),
                             headers=(("Connection", "close"),)))
    raw0 = scraper.read_until_closed()
    body0 = raw0.split(b"\r\n\r\n", 1)[1]
    m0 = Metrics(body0.decode())

    # Alice: two lines and an action; commands and blank lines are not chat lines.
    frames0 = len(wendy.frames)
    for text in ("one", "two", "/me waves", "   ", "/who", "/zz"):
        alice.send(text)
    received = 0
    for text, action in (("one", False), ("two", False), ("waves", True)):
        line = (f"* Alice {text}" if action else f"Alice: {text}")
        bob.expect_line(line)
        wendy.expect_line(line)
        irc_text = f"\x01ACTION {text}\x01" if action else text
        ivan.expect(from_("Alice", f"PRIVMSG #lobby :{irc_text}"))
        received += len(line) + 1 + len(from_("Alice", f"PRIVMSG #lobby :{irc_text}")) + 2
    for reply in (notice("4 in lobby: Alice, Bob, Wendy, Ivan"), unknown("zz")):
        alice.expect_line(reply)
        received += len(reply.encode()) + 1
    # Ivan says one line on IRC.
    ivan.send("PRIVMSG #lobby :hey")
    for c in (alice, bob, wendy):
        c.expect_line("Ivan: hey")
    received += 2 * len("Ivan: hey\n")
    received += sum(len(f.raw) for f in wendy.frames[frames0:])

    m1 = scrape(server)
    assert delta(m1, m0, "natter_lines_received_total") == 4
    # Every chat line reached the 3 others; /who and /zz are one reply each.
    assert delta(m1, m0, "natter_deliveries_total") == 4 * 3 + 2
    # An event is encoded once per format that receives it (line, line over WebSocket, IRC),
    # not once per recipient; each reply once.
    assert delta(m1, m0, "natter_events_encoded_total") == 3 * 3 + 2 + 2
    # Everything written between the two scrapes: the first scrape's answer and the chat.
    assert delta(m1, m0, "natter_written_bytes_total") == len(raw0) + received


def test_slow_consumer_is_counted(start_web):  # PROTOCOL.md §4.3, §9.4
    server = start_web("--sndbuf", "4096", "--max-output", "65536", listen=DOORS)
    world = WebDoors(server)
    alice = world.line("Alice")
    slow = ws_join(server, "Slow", world.web, rcvbuf=4096)
    alice.expect_line(notice("Slow has joined the chat"))
    m0 = scrape(server)
    line = b"z" * 1000 + b"\n"
    for _ in range(10):  # 1 MB in bursts of 100 KB; nobody but Slow receives them
        alice.send_raw(line * 100)
    server.wait_log(rb"peer=127\.0\.0\.1:%d name=Slow left: (slow|stalled)$" % slow.local_port,
                    timeout=scaled(5) + WAIT)
    alice.expect_line(notice("Slow has left the chat"))
    # Alice's lines are handled in order: the reply to a command after them means all of them
    # were (the cut can come while most are still unread, on a slow build).
    barrier(alice, timeout=scaled(10) + WAIT)
    m1 = scrape(server)
    cut = sum(delta(m1, m0, "natter_slow_consumers_total", reason=r)
              for r in ("output", "stalled", "memory"))
    assert cut == 1
    assert delta(m1, m0, "natter_slow_consumers_total", reason="memory") == 0
    assert delta(m1, m0, "natter_lines_received_total") == 1000


def test_per_ip_refusals_are_counted(start_web):  # PROTOCOL.md §4.4, §9.4
    server = start_web("--max-per-ip", "1", "--no-loopback-exempt", listen=DOORS)
    m0 = scrape(server)  # from 127.0.0.1, which has no other connection
    first = join_from(server, "First", "127.0.0.2")
    for _ in range(2):
        c = connect_from(server, "127.0.0.2", server.address_of("tcp"))
        assert c.read_until_closed() == b"Too many connections from your address.\n"
    c = connect_from(server, "127.0.0.2", server.address_of("http"))
    r = c.read_until_closed()
    assert r.startswith(b"HTTP/1.1 429 Too Many Requests\r\n"), r
    irc = connect_from(server, "127.0.0.2", server.address_of("irc"))
    assert irc.read_until_closed().startswith(b"ERROR :")
    m1 = scrape(server)
    assert delta(m1, m0, "natter_connections_refused_total", reason="per_ip") == 4
    assert delta(m1, m0, "natter_connections_refused_total", reason="banned") == 0
    assert delta(m1, m0, "natter_connections_refused_total", reason="full") == 0
    # Accepted counts every connection, refused ones too: four, First and m1's own.
    assert delta(m1, m0, "natter_connections_accepted_total") == 6
    assert first


def test_tls_handshake_failures_are_counted(start_web, tls_cert):  # PROTOCOL.md §1, §9.4
    server = start_web(listen=(WEB, "tls://127.0.0.1:0", WEB_TLS), tls=tls_cert)
    m0 = scrape(server)
    plain = server.connect(server.address_of("tls"), tls=False, label="plain-to-tls")
    plain.send_raw(b"Alice\n")
    plain.read_until_closed()
    server.wait_log(rb"peer=127\.0\.0\.1:%d tls: handshake failed" % plain.local_port)
    plain_http = server.connect(server.address_of("https"), tls=False, label="http-to-https")
    plain_http.send_raw(request("/healthz"))
    plain_http.read_until_closed()
    server.wait_log(rb"peer=127\.0\.0\.1:%d tls: handshake failed" % plain_http.local_port)
    m1 = scrape(server)
    assert delta(m1, m0, "natter_tls_handshake_failures_total") == 2
    # A good TLS client is no failure; /metrics over https:// is the same text.
    m2 = scrape(server, server.address_of("https"))
    assert delta(m2, m1, "natter_tls_handshake_failures_total") == 0


def test_flood_pauses_are_counted(start_web):  # PROTOCOL.md §7.9, §9.4
    server = start_web("--rate", "20", "--burst", "2", listen=DOORS)
    world = WebDoors(server)
    alice, bob = world.line("Alice"), world.line("Bob")
    alice.expect_line(notice("Bob has joined the chat"))
    time.sleep(0.2)  # the bucket refills after the name line (time-based: a known state)
    m0 = scrape(server)
    bob.send_raw(b"".join(b"paced %d\n" % i for i in range(8)))
    for i in range(8):
        alice.expect_line(f"Bob: paced {i}", timeout=scaled(2))
    m1 = scrape(server)
    assert delta(m1, m0, "natter_flood_pauses_total") >= 1
    assert delta(m1, m0, "natter_lines_received_total") == 8


def test_http_requests_and_upgrades_are_counted(world):  # PROTOCOL.md §9.4
    server = world.server
    m0 = scrape(server)
    c = server.connect(world.web)
    for target in ("/", "/healthz", "/nope"):
        get(c, target)
    get(c, "/", method="HEAD")
    bad = server.connect(world.web)
    bad.send_raw(b"BREW /pot HTTP/1.1\r\nHost: x\r\n\r\n")
    assert bad.read_until_closed().startswith(b"HTTP/1.1 405 ")
    ws_join(server, "Wendy", world.web)
    Irc(ws_open(server, world.web, protocols=["binary.ircv3.net"])).register("Iris")
    m1 = scrape(server)
    # Four requests on c, the refused one, the two handshakes and m1's own.
    assert delta(m1, m0, "natter_http_requests_total") == 4 + 1 + 2 + 1
    assert delta(m1, m0, "natter_websocket_upgrades_total") == 2
    assert m1.get("natter_clients", door="ws") == 2
