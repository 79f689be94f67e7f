"""Bans outlive a restart with --state-dir: DIR/bans, written atomically on every change, loaded
at start, a damaged line reported and skipped (OPERATIONS.md "State", issue #12)."""
import signal
import subprocess

from chat_helpers import connect_from, join_from, notice
from conftest import NATTER_BIN, PROMPT, scaled

PASSWORD = "s3cret-state"
BANNED = b"You are banned from this server.\n"
HEADER = "# natter's ban list: one address a line (written by natter; /ban and /unban)\n"


def oper_file(tmp_path):
    path = tmp_path / "oper-password"
    path.write_text(PASSWORD + "\n")
    return path


def stop(server):
    server.close_clients()
    server.signal(signal.SIGTERM)
    assert server.proc.wait(timeout=scaled(10) + 5) == 0
    server.returncode = 0


def test_a_ban_outlives_a_restart_and_an_unban_too(start_server, tmp_path):
    state = tmp_path / "state"  # does not exist yet: natter creates it
    pw = oper_file(tmp_path)
    server = start_server("--state-dir", state, "--oper-password-file", pw)
    server.wait_log(rb" info state: created .*/state$")
    server.wait_log(rb" info state: 0 banned addresses loaded from .*/state/bans$")
    alice = server.join("Alice")
    bob = join_from(server, "Bob", "127.0.0.3")
    alice.expect_line(notice("Bob has joined the chat"))
    alice.send(f"/oper {PASSWORD}")
    alice.expect_line(notice("You are now an operator"))
    alice.send("/ban Bob")
    assert bob.read_until_closed() == b"*** You were banned by Alice ***\n"
    alice.expect_line(notice("Bob was banned by Alice"))
    assert (state / "bans").read_text() == HEADER + "127.0.0.3\n"
    assert not (state / "bans.tmp").exists()
    stop(server)

    again = start_server("--state-dir", state, "--oper-password-file", pw)
    again.wait_log(rb" info state: 1 banned address loaded from .*/state/bans$")
    refused = connect_from(again, "127.0.0.3", label="refused")
    assert refused.read_until_closed() == BANNED
    fine = connect_from(again, "127.0.0.4", label="fine")
    fine.expect_bytes(PROMPT)
    carol = again.join("Carol")
    carol.send(f"/oper {PASSWORD}")
    carol.expect_line(notice("You are now an operator"))
    carol.send("/unban 127.0.0.3")
    carol.expect_line(notice("127.0.0.3 is no longer banned"))
    assert (state / "bans").read_text() == HEADER
    stop(again)

    third = start_server("--state-dir", state)
    third.wait_log(rb" info state: 0 banned addresses loaded from .*/state/bans$")
    back = connect_from(third, "127.0.0.3", label="back")
    back.expect_bytes(PROMPT)


def test_a_damaged_ban_list_is_reported_line_by_line_and_the_rest_loaded(start_server, tmp_path):
    state = tmp_path / "state"
    state.mkdir()
    (state / "bans").write_bytes(b"# a comment\n127.0.0.5\nnot-an-address\n\n  ::1x  \n"
                                 b"bad\x00byte\n  127.0.0.6  \n2001:db8::1\n\xff\xfe\n")
    server = start_server("--state-dir", state)
    server.wait_log(rb" warn state: .*/bans:3: not an address, skipped: 'not-an-address'$")
    server.wait_log(rb" warn state: .*/bans:5: not an address, skipped: '::1x'$")
    server.wait_log(rb" warn state: .*/bans:6: not an address, skipped: '\(a NUL byte\)'$")
    server.wait_log(rb" warn state: .*/bans:9: not an address, skipped: ")
    server.wait_log(rb" info state: 3 banned addresses loaded from .*/bans$")
    for ip in ("127.0.0.5", "127.0.0.6"):
        c = connect_from(server, ip, label=ip)
        assert c.read_until_closed() == BANNED
    ok = connect_from(server, "127.0.0.7", label="ok")
    ok.expect_bytes(PROMPT)


def test_a_state_dir_that_is_a_file_is_a_configuration_error(tmp_path):
    not_dir = tmp_path / "plain-file"
    not_dir.write_text("x")
    p = subprocess.run([NATTER_BIN, "--listen", "127.0.0.1:0", "--state-dir", str(not_dir)],
                       capture_output=True, timeout=scaled(10) + 5)
    assert p.returncode == 2
    assert b"--state-dir: cannot read " in p.stderr or b"--state-dir: cannot create" in p.stderr
    check = subprocess.run([NATTER_BIN, "-n", "--state-dir", str(not_dir)], capture_output=True,
                           timeout=scaled(10) + 5)
    assert check.returncode == 2
    assert f"natter: --state-dir: {not_dir} is not a directory\n".encode() in check.stderr
