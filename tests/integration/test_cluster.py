"""Several nodes, one chat (PROTOCOL.md §10, issue #11), black-box: real natter nodes linked
through a real redis-server of the test's own, clients through the line and IRC doors.

Every wait has a deadline; Redis and the nodes are stopped by PID (cluster_helpers)."""
import os
import re
import signal
import socket
import subprocess
import threading
import time
import urllib.request

import pytest

from chat_helpers import connect_from, join_from
from cluster_helpers import free_port, link, redis, start_node  # noqa: F401 (a fixture)
from conftest import NATTER_BIN, PROMPT, REPO, WAIT, open_client, scaled
from irc_helpers import Doors, from_


BANNED = b"You are banned from this server.\n"
CLOCK = rb"\d\d:\d\d:\d\dZ"
UNREACHABLE = re.compile(rb"\*\*\* The other nodes are unreachable since " + CLOCK +
                         rb"; this node goes on alone \*\*\*\n")
BACK = re.compile(rb"\*\*\* The other nodes are back; lines from them between " + CLOCK +
                  rb" and " + CLOCK + rb" may be missing \*\*\*\n")


def nodes(start_server, redis, *names, args=()):
    ns = [start_node(start_server, redis, n, *args) for n in names]
    link(ns)
    return ns


WHO = re.compile(rb"\*\*\* (\d+) in lobby: (.*) \*\*\*\n")


def wait_who(client, names):
    """Asks /who until the lobby holds exactly names (the snapshots of the other nodes come in
    their own time after a link comes back); lines in between are skipped."""
    deadline = time.monotonic() + WAIT
    while True:
        client.send("/who")
        while True:
            line = client.read_line()
            m = WHO.fullmatch(line)
            if m:
                break
        got = set(m.group(2).decode().split(", "))
        if got == names and int(m.group(1)) == len(names):
            return
        assert time.monotonic() < deadline, f"{client.label}: /who says {line!r}, want {names}"
        time.sleep(0.1)


def wait_known(node, nick):
    """Waits until node knows nick (a user of another node: what it said of itself takes a moment
    to come), asking with IRC's ISON from a probe in no room, which no room counts."""
    probe = Doors(node).irc(f"probe{nick}"[:30])
    deadline = time.monotonic() + WAIT
    while True:
        probe.send(f"ISON {nick}")
        line = probe.read_until(lambda l: b" 303 " in l)[-1]
        if line.split(b":")[-1].split() == [nick.encode()]:
            break
        assert time.monotonic() < deadline, f"{node.node} never heard of {nick}"
        time.sleep(0.05)
    probe.send("QUIT")
    probe.read_until_closed()


def expect_match(client, rx, timeout=None):
    line = client.read_line(timeout)
    assert rx.fullmatch(line), f"{client.label}: expected {rx.pattern!r}, got {line!r}"
    return line


def test_one_chat_across_three_nodes_and_two_doors(start_server, redis):
    north, south, east = nodes(start_server, redis, "north", "south", "east")
    alice = Doors(north).line("Alice")
    wait_known(south, "Alice")
    bob_c = south.connect(south.address_of("tcp"), label="Bob")
    bob_c.expect_bytes(PROMPT)
    bob_c.send("Bob")
    # The welcome counts the whole cluster.
    bob_c.expect_line(b"*** Welcome to lobby, Bob: 1 other person is here. "
                      b"Type /help for the commands. ***")
    bob = bob_c
    alice.expect_line(b"*** Bob has joined the chat ***")
    carol = Doors(east).irc("carol")
    carol.send("JOIN #lobby")
    lines = carol.read_until(lambda l: b" 366 " in l)
    names = [l for l in lines if b" 353 " in l]
    assert names and set(names[0].split(b":")[-1].split()) == {b"Alice", b"Bob", b"carol"}
    alice.expect_line(b"*** carol has joined the chat ***")
    bob.expect_line(b"*** carol has joined the chat ***")

    # Lines, each in its reader's own format, not back to the sender.
    alice.send("hi all")
    bob.expect_line(b"Alice: hi all")
    carol.expect_untimed(from_("Alice", "PRIVMSG #lobby :hi all"))
    carol.send("PRIVMSG #lobby :hello from IRC")
    alice.expect_line(b"carol: hello from IRC")
    bob.expect_line(b"carol: hello from IRC")
    bob.send("/me waves")
    alice.expect_line(b"* Bob waves")
    carol.expect_untimed(from_("Bob", "PRIVMSG #lobby :\x01ACTION waves\x01"))
    alice.expect_silence(0.2)

    # Private messages to whoever is online anywhere.
    bob.send("/msg Alice psst")
    alice.expect_line(b"[private] Bob: psst")
    carol.send("PRIVMSG Bob :hi bob")
    bob.expect_line(b"[private] carol: hi bob")
    alice.send("/msg carol to irc")
    carol.expect_untimed(from_("Alice", "PRIVMSG carol :to irc"))

    # /who * names each user's node; /who and /rooms count the cluster.
    bob.send("/who *")
    bob.expect_line(b"*** 3 people in 1 room: ***")
    bob.expect_line(b"*** lobby (3): Alice (north), Bob (south), carol (east) ***")
    alice.send("/who")
    alice.expect_line(b"*** 3 in lobby: Alice, Bob, carol ***")

    # Renames, rooms and leaves.
    bob.send("/nick Robert")
    bob.expect_line(b"*** Bob is now known as Robert ***")
    alice.expect_line(b"*** Bob is now known as Robert ***")
    carol.expect_untimed(from_("Bob", "NICK :Robert"))
    alice.send("/join rust")
    alice.expect_line(b"*** You are now in rust: nobody else is here ***")
    bob.expect_line(b"*** Alice left for rust ***")
    carol.expect_untimed(from_("Alice", "PART #lobby :left for rust"))
    carol.send("JOIN #rust")
    carol.read_until(lambda l: b" 366 " in l)
    alice.expect_line(b"*** carol has joined rust ***")
    carol.send("PRIVMSG #rust :in rust")
    alice.expect_line(b"carol: in rust")
    bob.expect_silence(0.2)
    bob.send("/quit see you")
    bob.expect_closed()
    carol.expect_untimed(from_("Robert", "QUIT :Quit: see you"))
    carol.send("QUIT :bye")
    alice.expect_line(b"*** carol has left the chat (bye) ***")


def test_names_are_unique_across_nodes_both_ways(start_server, redis):
    north, south = nodes(start_server, redis, "north", "south")
    Doors(north).line("Alice")
    c = south.connect(south.address_of("tcp"), label="dup")
    c.expect_bytes(PROMPT)
    c.send("aLiCe")
    c.expect_bytes(b'Name "aLiCe" is already taken.\n' + PROMPT)
    irc = Doors(south).connect("irc-dup")
    irc.send("NICK ALICE")
    irc.send("USER a 0 * :a")
    irc.expect_match(rb":natter 433 \* ALICE :Nickname is already in use")
    # A rename into a name held on another node is refused too.
    bob = Doors(south).line("Bob")
    bob.send("/nick alice")
    bob.expect_line(b'*** Name "alice" is already taken. ***')


def test_a_race_for_one_name_on_two_nodes_has_one_winner(start_server, redis):
    north, south = nodes(start_server, redis, "north", "south")
    rounds = 30
    for i in range(rounds):
        a = north.connect(north.address_of("tcp"), label=f"north-{i}")
        b = south.connect(south.address_of("tcp"), label=f"south-{i}")
        a.expect_bytes(PROMPT)
        b.expect_bytes(PROMPT)
        name = f"Racer{i}".encode()
        barrier = threading.Barrier(2)

        def send(c):
            barrier.wait()
            c.send_raw(name + b"\n")

        threads = [threading.Thread(target=send, args=(c,)) for c in (a, b)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        answers = [a.read_line(), b.read_line()]
        won = [x for x in answers if x.startswith(b"*** Welcome to lobby, " + name + b":")]
        lost = [x for x in answers if x == b'Name "' + name + b'" is already taken.\n']
        assert len(won) == 1 and len(lost) == 1, f"round {i}: {answers!r}"
        a.close()
        b.close()


def test_a_killed_node_frees_its_names_and_its_users_leave(start_server, redis):
    north, south = nodes(start_server, redis, "north", "south")
    alice = Doors(north).line("Alice")
    Doors(south).line("Bob")
    alice.expect_line(b"*** Bob has joined the chat ***")
    south.signal(signal.SIGKILL)
    south.wait_exit()
    start = time.monotonic()
    alice.expect_line(b"*** Bob has left the chat ***", timeout=scaled(10))
    assert time.monotonic() - start < scaled(10)
    north.wait_log(r"node south is silent")
    # The name is free again, here and on a new node.
    Doors(north).line("Bob")
    alice.expect_line(b"*** Bob has joined the chat ***")


def test_redis_lost_and_back_is_told_and_service_goes_on(start_server, redis):
    north, south = nodes(start_server, redis, "north", "south")
    alice = Doors(north).line("Alice")
    bob = Doors(south).line("Bob")
    alice.expect_line(b"*** Bob has joined the chat ***")
    redis.kill()
    start = time.monotonic()
    expect_match(alice, UNREACHABLE, timeout=scaled(5))
    expect_match(bob, UNREACHABLE, timeout=scaled(5))
    assert time.monotonic() - start < scaled(5)
    # Alone, each node serves its own clients; the others are not listed.
    ann = Doors(north).line("Ann")
    alice.expect_line(b"*** Ann has joined the chat ***")
    ann.send("local line")
    alice.expect_line(b"Ann: local line")
    alice.send("/who")
    alice.expect_line(b"*** 2 in lobby: Alice, Ann ***")
    redis.start()
    expect_match(alice, BACK, timeout=scaled(15))
    expect_match(bob, BACK, timeout=scaled(15))
    expect_match(ann, BACK)  # she came while this node was alone: lines may be missing too
    link([north, south])
    # Normal service: the snapshots put everyone back.
    wait_who(bob, {"Alice", "Ann", "Bob"})
    wait_who(alice, {"Alice", "Ann", "Bob"})
    alice.send("hello again")
    bob.expect_line(b"Alice: hello again")
    ann.expect_line(b"Alice: hello again")


def test_a_stopped_redis_never_stalls_local_delivery(start_server, redis):
    north, south = nodes(start_server, redis, "north", "south")
    alice = Doors(north).line("Alice")
    ann = Doors(north).line("Ann")
    bob = Doors(south).line("Bob")
    alice.expect_line(b"*** Ann has joined the chat ***")
    alice.expect_line(b"*** Bob has joined the chat ***")
    ann.expect_line(b"*** Bob has joined the chat ***")
    redis.pause()
    try:
        for i in range(20):
            t0 = time.monotonic()
            ann.send(f"line {i}")
            alice.expect_line(f"Ann: line {i}".encode())
            assert time.monotonic() - t0 < scaled(0.5), "local delivery waited for Redis"
            time.sleep(0.05)
    finally:
        redis.resume()
    # What waited in the queue goes out once Redis runs again, in order.
    for i in range(20):
        bob.expect_line(f"Ann: line {i}".encode(), timeout=scaled(10))


def test_a_node_started_without_redis_serves_alone_then_joins(start_server, redis):
    redis.kill()
    north = start_node(start_server, redis, "north", wait_linked=False)
    alice = Doors(north).line("Alice")
    ann = Doors(north).line("Ann")
    alice.expect_line(b"*** Ann has joined the chat ***")
    ann.send("alone but fine")
    alice.expect_line(b"Ann: alone but fine")
    redis.start()
    north.wait_log(r"cluster: linked through Redis as north$", timeout=scaled(15))
    expect_match(alice, BACK)
    south = start_node(start_server, redis, "south")
    link([north, south])
    bob = Doors(south).line("Bob")
    bob.send("/who")
    bob.expect_line(b"*** 3 in lobby: Alice, Ann, Bob ***")
    bob.send("hi")
    alice.expect_line(b"*** Bob has joined the chat ***")
    alice.expect_line(b"Bob: hi")


def test_a_name_taken_on_both_sides_while_apart_is_settled_by_the_earlier_claim(
        start_server, redis):
    north, south = nodes(start_server, redis, "north", "south")
    watcher = Doors(north).line("Watcher")
    redis.kill()
    expect_match(watcher, UNREACHABLE, timeout=scaled(5))
    first = Doors(north).line("Zed")
    time.sleep(0.05)
    second_c = south.connect(south.address_of("tcp"), label="Zed-south")
    second_c.expect_bytes(PROMPT)
    second_c.send("zed")
    second_c.expect_welcome("zed")  # alone, south gives the name too
    redis.start()
    expect_match(second_c, BACK, timeout=scaled(15))
    # The later claim (south's) is renamed, on every node alike.
    second_c.expect_line(b"*** zed was taken on another node; you are now zed-2 ***",
                         timeout=scaled(10))
    second_c.expect_line(b"*** zed is now known as zed-2 ***")
    wait_who(first, {"Watcher", "Zed", "zed-2"})
    wait_who(second_c, {"Watcher", "Zed", "zed-2"})
    first.send("/msg zed-2 you are the second")
    second_c.expect_line(b"[private] Zed: you are the second")


def test_kick_and_wall_reach_users_on_other_nodes(start_server, redis, tmp_path):
    pw = tmp_path / "oper"
    pw.write_text("s3cret\n")
    north, south = nodes(start_server, redis, "north", "south",
                         args=("--oper-password-file", pw))
    op = Doors(north).line("Op")
    bob = Doors(south).line("Bob")
    op.expect_line(b"*** Bob has joined the chat ***")
    carl = Doors(south).line("Carl")
    op.expect_line(b"*** Carl has joined the chat ***")
    bob.expect_line(b"*** Carl has joined the chat ***")
    op.send("/oper s3cret")
    op.expect_line(b"*** You are now an operator ***")
    op.send("/wall maintenance at noon")
    op.expect_line(b"*** Notice from Op: maintenance at noon ***")
    bob.expect_line(b"*** Notice from Op: maintenance at noon ***")
    carl.expect_line(b"*** Notice from Op: maintenance at noon ***")
    op.send("/kick Bob spamming")
    bob.expect_line(b"*** You were kicked by Op (spamming) ***")
    bob.expect_closed()
    op.expect_line(b"*** Bob was kicked by Op (spamming) ***")
    carl.expect_line(b"*** Bob was kicked by Op (spamming) ***")
    op.expect_silence(0.3)
    carl.expect_silence(0.3)


def test_history_is_shared_across_nodes(start_server, redis):
    north, south = nodes(start_server, redis, "north", "south", args=("--history", "5"))
    alice = Doors(north).line("Alice")
    for i in range(3):
        alice.send(f"line {i}")
    # Wait until south has them: a user there sees the last one live.
    bob = Doors(south).line("Bob")
    alice.expect_line(b"*** Bob has joined the chat ***")
    got = [bob.read_line() for _ in range(3)]
    assert got == [f"Alice: line {i}\n".encode() for i in range(3)]
    bob.send("/me is here too")
    alice.expect_line(b"* Bob is here too")
    # A node that starts later gets the rooms' past from a node that was there.
    east = start_node(start_server, redis, "east", "--history", "5")
    link([north, south, east])
    east.wait_log(r"cluster: the rooms' past came from node (north|south): 4 lines$")
    carol = Doors(east).line("Carol")
    got = [carol.read_line() for _ in range(4)]
    assert got == [f"Alice: line {i}\n".encode() for i in range(3)] + [b"* Bob is here too\n"]
    carol.expect_silence(0.2)


def test_nodes_on_two_databases_are_two_chats(start_server, redis):
    url = redis.url
    north = start_server("--redis", url + "/1", "--node-name", "north", listen=("127.0.0.1:0",))
    south = start_server("--redis", url + "/2", "--node-name", "south", listen=("127.0.0.1:0",))
    north.wait_log(r"linked through Redis as north$")
    south.wait_log(r"linked through Redis as south$")
    alice = north.join("Alice")
    alice_too = south.join("Alice")  # another chat: the name is free there
    alice.send("only north")
    alice_too.expect_silence(0.5)
    assert b"node south is here" not in north.log()


def test_bad_redis_options_are_usage_errors(run_natter):
    for args, why in [
        (["--redis", "http://x"], b"--redis: "),
        (["--redis", "redis://127.0.0.1:6379/16"], b"--redis: "),
        (["--node-name", "bad name"], b"--node-name: must be 1-64 letters"),
        (["--node-name", "x" * 65], b"--node-name: must be 1-64 letters"),
        (["--redis-queue", "10"], b"--redis-queue"),
    ]:
        r = run_natter(*args)
        assert r.returncode == 2, (args, r)
        assert why in r.stderr, (args, r)


def test_bans_apply_on_every_node_and_outlive_the_node_that_made_them(start_server, redis,
                                                                       tmp_path):
    pw = tmp_path / "oper"
    pw.write_text("s3cret\n")
    north, south = nodes(start_server, redis, "north", "south",
                         args=("--oper-password-file", pw))
    op = Doors(north).line("Op")
    mallory = join_from(south, "Mallory", "127.0.0.3")
    op.expect_line(b"*** Mallory has joined the chat ***")
    op.send("/oper s3cret")
    op.expect_line(b"*** You are now an operator ***")
    # A user of another node: its own node bans its address, and every node refuses it.
    op.send("/ban Mallory")
    assert mallory.read_until_closed() == b"*** You were banned by Op ***\n"
    op.expect_line(b"*** Mallory was banned by Op ***")
    south.wait_log(r"name=Mallory left: banned$")
    north.wait_log(r"cluster: 127\.0\.0\.3 banned on another node$")
    for node in (north, south):
        again = connect_from(node, "127.0.0.3", label="again")
        assert again.read_until_closed() == BANNED
    assert b"127.0.0.3" in redis.command("SMEMBERS", "natter:0:bans")
    # A node that comes later gets the bans from Redis.
    east = start_node(start_server, redis, "east")
    east.wait_log(r"cluster: 127\.0\.0\.3 banned on another node$")
    again = connect_from(east, "127.0.0.3", label="again-east")
    assert again.read_until_closed() == BANNED
    # /unban on any node lifts it everywhere.
    op.send("/unban 127.0.0.3")
    op.expect_line(b"*** 127.0.0.3 is no longer banned ***")
    south.wait_log(r"cluster: 127\.0\.0\.3 unbanned on another node$")
    east.wait_log(r"cluster: 127\.0\.0\.3 unbanned on another node$")
    back = join_from(south, "Mallory", "127.0.0.3")
    back.send("/who")
    assert back.read_line().startswith(b"*** 2 in lobby")
    assert b"127.0.0.3" not in redis.command("SMEMBERS", "natter:0:bans")


def test_metrics_say_whether_the_node_is_linked(start_server, redis):
    def metrics(node):
        host, port, _ = node.addresses[node.address_of("http")]
        with urllib.request.urlopen(f"http://{host}:{port}/metrics", timeout=WAIT) as r:
            text = r.read().decode()
        return {l.split(" ")[0]: float(l.split(" ")[1]) for l in text.splitlines()
                if l.startswith("natter_cluster_") or l.startswith("natter_named")}

    listen = ("127.0.0.1:0", "http://127.0.0.1:0")
    north = start_server("--redis", redis.url, "--node-name", "north", listen=listen)
    north.node = "north"
    south = start_server("--redis", redis.url, "--node-name", "south", listen=listen)
    south.node = "south"
    north.wait_log(r"linked through Redis as north$")
    link([north, south])
    alice = north.join("Alice")
    south.join("Bob")
    alice.expect_line(b"*** Bob has joined the chat ***")
    alice.send("hello")
    deadline = time.monotonic() + WAIT
    while True:
        m = metrics(south)
        if m.get("natter_cluster_events_received_total", 0) >= 2 or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert m["natter_cluster_linked"] == 1
    assert m["natter_cluster_nodes"] == 1
    assert m["natter_cluster_remote_users"] == 1
    assert m["natter_named_clients"] == 1  # this node's own
    assert m["natter_cluster_events_received_total"] >= 2  # Alice's join and line
    assert m["natter_cluster_outages_total"] == 0
    n = metrics(north)
    assert n["natter_cluster_events_published_total"] >= 2
    assert n["natter_cluster_name_claims_total"] == 1
    redis.kill()
    deadline = time.monotonic() + scaled(5)
    while metrics(north)["natter_cluster_linked"] != 0:
        assert time.monotonic() < deadline, "still linked after Redis went away"
        time.sleep(0.05)
    m = metrics(north)
    assert m["natter_cluster_outages_total"] == 1
    assert m["natter_cluster_nodes"] == 0 and m["natter_cluster_remote_users"] == 0


def test_make_run_cluster_is_one_chat_on_two_ports_and_ctrl_c_stops_all_three(tmp_path):
    ports = {k: [free_port(), free_port()] for k in ("LINE", "IRC", "WEB")}
    env = {**os.environ, "REDIS_PORT": str(free_port()), "NATTER": NATTER_BIN,
           **{f"{k}_PORTS": " ".join(map(str, v)) for k, v in ports.items()}}
    log = open(tmp_path / "run-cluster.log", "wb")
    proc = subprocess.Popen(["bash", str(REPO / "scripts" / "run-cluster.sh"), "--rate", "0"],
                            env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + scaled(15)
        while (tmp_path / "run-cluster.log").read_bytes().count(b" is here") < 2:
            assert time.monotonic() < deadline and proc.poll() is None, \
                (tmp_path / "run-cluster.log").read_bytes().decode(errors="replace")
            time.sleep(0.05)
        alice = open_client("127.0.0.1", ports["LINE"][0], label="Alice")
        bob = open_client("127.0.0.1", ports["LINE"][1], label="Bob")
        for c, name in ((alice, "Alice"), (bob, "Bob")):
            c.expect_bytes(PROMPT)
            c.send(name)
            c.expect_welcome(name)
        alice.expect_line(b"*** Bob has joined the chat ***")
        bob.send("hello from 8889")
        alice.expect_line(b"Bob: hello from 8889")
        alice.close()
        bob.close()
    finally:
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C does: the whole foreground group
        try:
            proc.wait(timeout=scaled(15))
        finally:
            log.close()
    # All three are gone: nothing is left in the group, nothing listens.
    deadline = time.monotonic() + scaled(5)
    while True:
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            break
        assert time.monotonic() < deadline, "a process of make run-cluster is still running"
        time.sleep(0.05)
    for port in ports["LINE"] + [int(env["REDIS_PORT"])]:
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", port), timeout=1).close()


def test_a_node_restarted_under_its_name_frees_what_it_no_longer_holds(start_server, redis):
    north, south = nodes(start_server, redis, "north", "south")
    bob = Doors(south).line("Bob")
    Doors(north).line("Alice")
    bob.expect_line(b"*** Alice has joined the chat ***")
    north.signal(signal.SIGKILL)
    north.wait_exit()
    # Back at once, under the same name (its liveness key has not expired): its snapshot no
    # longer names Alice, so she leaves, and her name is free.
    again = start_node(start_server, redis, "north")
    bob.expect_line(b"*** Alice has left the chat ***", timeout=scaled(5))
    Doors(south).line("Alice")
    Doors(again).line("Carol")
    bob.expect_line(b"*** Alice has joined the chat ***")
    bob.expect_line(b"*** Carol has joined the chat ***")


def test_what_overflows_the_queue_to_redis_is_counted_and_told_as_missing(start_server, redis):
    north, south = nodes(start_server, redis, "north", "south", args=("--redis-queue", "65536"))
    alice = Doors(north).line("Alice")
    ann = Doors(north).line("Ann")
    bob = Doors(south).line("Bob")
    alice.expect_line(b"*** Ann has joined the chat ***")
    alice.expect_line(b"*** Bob has joined the chat ***")
    redis.pause()
    try:
        # Far more than the kernel's buffers and the 64 KiB queue hold, sent at once.
        line = "x" * 4000
        ann.send_raw(("\n".join(f"{i} {line}" for i in range(3000)) + "\n").encode())
        # Local delivery goes on meanwhile.
        for i in range(3000):
            assert alice.read_line(timeout=scaled(10)).startswith(f"Ann: {i} ".encode())
        north.wait_log(r"cluster: the queue to Redis is full \(--redis-queue\)|"
                       r"cluster: the link to Redis is down", timeout=scaled(10))
    finally:
        redis.resume()
    # South's users are told that lines of north may be missing: as a gap in north's messages,
    # or, if the stop lasted long enough for the links to notice, as the outage's span.
    deadline = time.monotonic() + scaled(15)
    told = False
    while not told:
        got = bob.read_line(timeout=max(0.1, deadline - time.monotonic()))
        told = (re.fullmatch(rb"\*\*\* Lines from node north between " + CLOCK + rb" and " +
                             CLOCK + rb" may be missing \*\*\*\n", got) is not None or
                BACK.fullmatch(got) is not None)
    north.wait_log(r"messages for the other nodes (were|are) dropped")
