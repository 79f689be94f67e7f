"""The HOWTO's chat, byte for byte, and natter against the HOWTO's own server (the reference)."""
import re
import signal
import subprocess
import sys
import time

import pytest

from chat_helpers import howto_transcript
from conftest import HOWTO_DIR, PROMPT, open_client, scaled


def test_howto_transcript(server):  # PROTOCOL.md §2.1, §2.6, §3.1, §3.2, §4.1
    howto_transcript(server)


def test_message_reaches_others_not_sender(server):  # PROTOCOL.md §3.2
    alice, bob = server.join("Alice"), server.join("Bob")
    alice.expect_line("*** Bob has joined the chat ***")
    bob.send("Hi Alice!")
    alice.expect_line("Bob: Hi Alice!")
    bob.expect_silence(0.2)


def test_newcomer_sees_only_later_events(server):  # PROTOCOL.md §2.6, §3.3
    alice = server.join("Alice")
    bob = server.join("Bob")
    alice.expect_line("*** Bob has joined the chat ***")
    alice.send("before Carol")
    bob.expect_line("Alice: before Carol")
    carol = server.join("Carol")
    alice.expect_line("*** Carol has joined the chat ***")
    bob.expect_line("*** Carol has joined the chat ***")
    carol.expect_silence(0.1)
    alice.send("after Carol")
    bob.expect_line("Alice: after Carol")
    carol.expect_line("Alice: after Carol")


def test_leaving_before_naming_causes_no_notice(server):  # PROTOCOL.md §2.5
    alice = server.join("Alice")
    ghost = server.connect(label="ghost")
    ghost.expect_bytes(PROMPT)
    ghost.close()
    typist = server.connect(label="typist")
    typist.expect_bytes(PROMPT)
    typist.send_raw(b"Half-typed na")  # no LF: not a name yet
    typist.close()
    refused = server.connect(label="refused")
    refused.expect_bytes(PROMPT)
    refused.send("/bad")
    refused.expect_line("Name cannot start with '/', '#', '~', '&', '%', '+' or '-'.")
    refused.expect_bytes(PROMPT)
    refused.close()
    # A later event proves the server went past those closes without telling Alice anything.
    bob = server.join("Bob")
    alice.expect_line("*** Bob has joined the chat ***")
    alice.expect_silence(0.1)
    assert bob


# ---------------------------------------------------------------------------------------------
# Differential: the same script against howto_chat.py (the reference) and natter; every byte each
# client receives must be the same.


class ReferenceServer:
    """howto_chat.py run as a process; joins are confirmed from its stdout."""

    def __init__(self, tmp_path, idle=None):
        script = HOWTO_DIR / "howto_chat.py"
        if not script.exists():
            pytest.fail(f"reference server not found: {script} (set NATTER_HOWTO_DIR)",
                        pytrace=False)
        self.out_path = tmp_path / "howto.stdout"
        self._out = open(self.out_path, "wb")
        argv = [sys.executable, "-u", str(script), "0"] + ([str(idle)] if idle else [])
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=self._out,
                                     stderr=subprocess.STDOUT)
        self.clients = []
        m = self._wait(rb"Chat server running on \('127\.0\.0\.1', (\d+)\)")
        self.port = int(m.group(1))

    def _wait(self, pattern):
        deadline = time.monotonic() + scaled(10)
        while True:
            m = re.search(pattern, self.out_path.read_bytes())
            if m:
                return m
            if time.monotonic() > deadline or self.proc.poll() is not None:
                pytest.fail(f"reference server: no {pattern!r} in "
                            f"{self.out_path.read_bytes()!r}", pytrace=False)
            time.sleep(0.005)

    def connect(self, label):
        c = open_client("127.0.0.1", self.port, label=label)
        self.clients.append(c)
        return c

    def join(self, name):
        c = self.connect(name)
        c.expect_bytes(PROMPT)
        c.send(name)
        self._wait(rb"%s \(\('127\.0\.0\.1', %d\)\) has joined" % (name.encode(), c.local_port))
        return c

    def stop(self):
        for c in self.clients:
            c.close()
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=scaled(10))
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._out.close()


class NatterTarget:
    def __init__(self, server):
        self.server = server

    def connect(self, label):
        return self.server.connect(label=label)

    def join(self, name):
        return self.server.join(name)


def chat_script(target):
    """The HOWTO session. Returns what each client received, in order, as (who, bytes)."""
    got = []
    alice = target.join("Alice")
    bob = target.join("Bob")
    got.append(("Alice", alice.read_line()))
    bob.send("Hi Alice!")
    got.append(("Alice", alice.read_line()))
    alice.send("Hello Bob!")
    got.append(("Bob", bob.read_line()))
    bob.send("")
    bob.send(" \t ")
    bob.send("   padded   ")
    got.append(("Alice", alice.read_line()))
    alice.send("ünïcödé ✓ Σοφία")
    got.append(("Bob", bob.read_line()))
    bob.send_raw(b"crlf line\r\n")
    got.append(("Alice", alice.read_line()))
    carol = target.join("Carol")
    got.append(("Alice", alice.read_line()))
    got.append(("Bob", bob.read_line()))
    carol.send("three of us")
    got.append(("Alice", alice.read_line()))
    got.append(("Bob", bob.read_line()))
    bob.close()
    got.append(("Alice", alice.read_line()))
    got.append(("Carol", carol.read_line()))
    alice.expect_silence(0.1)
    carol.expect_silence(0.1)
    return got


def idle_script(target):
    got = []
    alice = target.join("Alice")
    got.append(("Alice", alice.read_until_closed(timeout=scaled(5))))
    return got


@pytest.mark.parametrize("script", [chat_script, idle_script], ids=["chat", "idle"])
def test_same_bytes_as_reference_server(start_server, tmp_path, script):
    # PROTOCOL.md §2.1, §2.6, §3.1, §3.2, §4.1, §4.2: where the HOWTO defines behaviour, natter
    # sends the same bytes. The idle script uses a 0.3 s idle timeout on both.
    ref = ReferenceServer(tmp_path, idle=0.3 if script is idle_script else None)
    try:
        want = script(ref)
    finally:
        ref.stop()
    args = ("--idle-timeout", "0.3") if script is idle_script else ()
    got = script(NatterTarget(start_server(*args)))
    assert got == want
