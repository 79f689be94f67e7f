"""The config file and the configuration check: --config FILE, --check-config / -n
(OPERATIONS.md "Config file", "Exit status").

A server started with --config alone (no --listen on the command line) listens where its file
says and applies the file's options; the command line overrides the file. `natter -n` checks
everything start-up would, the password file and the TLS certificate and key included, prints
one line on stdout and exits 0, or every error on stderr and exits 2; it binds and starts
nothing, so the -n runs are plain subprocess runs with a deadline (they exit at once).
"""
import os
import re
import shutil
import socket
import subprocess

import pytest

from conftest import (LISTEN_RE, NATTER_BIN, WRAPPER, _check_binary, make_cert, sanitizer_reports,
                      scaled)

FINAL_ERROR = b"natter: the configuration has errors; nothing was started\n"
ENOENT = "No such file or directory"


def natter(*argv, cwd=None):
    """Runs natter with exactly argv (nothing added) to its exit, in cwd; returns the
    CompletedProcess (stdout and stderr as bytes). Fails when it does not exit in time or its
    stderr has a sanitizer report."""
    _check_binary()
    cmd = [*WRAPPER, os.path.abspath(NATTER_BIN), *[str(a) for a in argv]]
    try:
        p = subprocess.run(cmd, cwd=cwd, stdin=subprocess.DEVNULL, capture_output=True,
                           timeout=scaled(10))
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"{argv}: natter did not exit in time; stderr {e.stderr!r}", pytrace=False)
    found = sanitizer_reports(p.stderr)
    assert not found, f"sanitizer report {found}:\n{p.stderr.decode(errors='replace')}"
    return p


def write_conf(directory, text, name="natter.conf"):
    path = directory / name
    path.write_text(text)
    return path


def listening_from_file(start_server, *args, n):
    """Starts natter with args and no --listen of its own (the file's addresses), and waits
    for its n `listening on` lines."""
    server = start_server(*args, listen=())
    server.addresses, server.schemes = [], []  # start waited for none: count them here
    server.wait_listening(n)
    return server


def listening_lines(server):
    return LISTEN_RE.findall(server.log())


# -- a server started with a config file


def test_server_started_with_only_a_config_file(start_server, tmp_path):
    # OPERATIONS.md "Config file": the file's listen lines and options, nothing on the command
    # line but --config (start_server adds only --rate 0)
    conf = write_conf(tmp_path, "# natter.conf of this test\n"
                                "listen = 127.0.0.1:0\n"
                                "listen = \"irc://127.0.0.1:0\"   # the IRC door beside it\n"
                                "\n"
                                "max-line = 16\n"
                                "log-messages=no\n")
    server = listening_from_file(start_server, "--config", conf, n=2)
    assert "--listen" not in server.argv and "-l" not in server.argv, server.argv
    assert server.schemes == ["tcp", "irc"], server.schemes
    assert [a[0] for a in server.addresses] == ["127.0.0.1", "127.0.0.1"]
    assert all(a[1] != 0 for a in server.addresses)
    alice, bob = server.join("Alice"), server.join("Bob")
    alice.expect_line("*** Bob has joined the chat ***")
    alice.send(b"x" * 16)
    bob.expect_line(b"Alice: " + b"x" * 16)
    alice.send(b"z" * 17)  # over the file's max-line
    alice.expect_line("Line too long (more than 16 bytes); not sent.")
    bob.expect_silence(0.1)
    # the second address is the IRC door: no prompt, a 001 after registration
    irc = server.connect(1, label="irc")
    irc.send_raw(b"NICK carol\r\nUSER carol 0 * :Carol\r\n")
    first = irc.read_line()
    assert first.startswith(b":natter 001 carol "), first
    assert len(listening_lines(server)) == 2


def test_command_line_overrides_the_file_in_a_running_server(start_server, tmp_path):
    # OPERATIONS.md "Config file": a flag given on the command line wins
    conf = write_conf(tmp_path, "listen = 127.0.0.1:0\nmax-line = 16\n")
    server = listening_from_file(start_server, "--config", conf, "--max-line", "32", n=1)
    alice, bob = server.join("Alice"), server.join("Bob")
    alice.expect_line("*** Bob has joined the chat ***")
    alice.send(b"y" * 32)
    bob.expect_line(b"Alice: " + b"y" * 32)
    alice.send(b"z" * 33)
    alice.expect_line("Line too long (more than 32 bytes); not sent.")
    bob.expect_silence(0.1)


def test_command_line_listen_replaces_every_listen_of_the_file(start_server, tmp_path):
    # OPERATIONS.md "Config file": --listen on the command line replaces every listen line
    conf = write_conf(tmp_path, "listen = 127.0.0.2:0\nlisten = irc://127.0.0.3:0\n")
    server = start_server("--config", conf, listen=("127.0.0.1:0",))
    server.join("Alice")  # a round trip: start-up, which binds every listener, is over
    assert listening_lines(server) == [(b"", b"127.0.0.1", str(server.port).encode())], \
        server.log().decode(errors="replace")


def test_config_file_errors_at_start_exit_2_and_start_nothing(tmp_path):
    # OPERATIONS.md "Config file", "Exit status": every error, with the file, line and option
    write_conf(tmp_path, "listen = 127.0.0.1:0\nmax-line = 0\nbogus = 1\n")
    p = natter("--config", "natter.conf", cwd=tmp_path)
    assert p.returncode == 2, p
    lines = p.stderr.splitlines(keepends=True)
    assert lines[:2] == [
        b"natter: natter.conf:2: --max-line: must be a whole number from 1 to 1048576, got '0'\n",
        b"natter: natter.conf:3: unknown option 'bogus' (see --help)\n"], p.stderr
    assert b"listening on" not in p.stderr and b"starting" not in p.stderr, p.stderr


# -- natter -n


def test_check_config_valid_prints_the_line_and_exits_0(tmp_path):
    # OPERATIONS.md "Config file": the line, word for word
    write_conf(tmp_path, "# natter.conf\n"
                         "listen = 127.0.0.1:8888\n"
                         "listen = \"irc://127.0.0.1:6667\"     # repeatable options are repeated\n"
                         "idle-timeout = 600\n"
                         "log-messages = no                   # booleans: yes or no\n")
    want = (b"natter: the configuration is valid (natter.conf); 2 listeners: "
            b"tcp://127.0.0.1:8888 irc://127.0.0.1:6667\n")
    for argv in (["-n", "--config", "natter.conf"], ["--check-config", "--config", "natter.conf"],
                 ["--config=natter.conf", "-n"]):
        p = natter(*argv, cwd=tmp_path)
        assert p.returncode == 0, (argv, p)
        assert p.stdout == want, (argv, p)
        assert p.stderr == b"", (argv, p)  # started nothing, logged nothing


def test_check_config_names_the_file_as_given(tmp_path):
    conf = write_conf(tmp_path, "listen = 127.0.0.1:0\nlisten = irc://127.0.0.1:0\n")
    p = natter("-n", "--config", conf)
    assert p.returncode == 0, p
    assert p.stdout == (b"natter: the configuration is valid (%s); 2 listeners: "
                        b"tcp://127.0.0.1:0 irc://127.0.0.1:0\n" % str(conf).encode()), p


def test_check_config_binds_nothing(tmp_path):
    # OPERATIONS.md: "It binds nothing and starts nothing (a port in use is only found at start)"
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    port = taken.getsockname()[1]
    try:
        conf = write_conf(tmp_path, f"listen = 127.0.0.1:{port}\nlisten = irc://127.0.0.1:{port}\n")
        p = natter("-n", "--config", conf)
        assert p.returncode == 0, p
        assert p.stdout == (b"natter: the configuration is valid (%s); 2 listeners: "
                            b"tcp://127.0.0.1:%d irc://127.0.0.1:%d\n"
                            % (str(conf).encode(), port, port)), p
        assert p.stderr == b"", p
        # the port is in use indeed: starting for real finds it (exit 1)
        p = natter("--config", conf)
        assert p.returncode == 1, p
        assert f"cannot listen on 127.0.0.1:{port}: address already in use".encode() in p.stderr
    finally:
        taken.close()


def test_check_config_reports_every_file_error_and_exits_2(tmp_path):
    # OPERATIONS.md "Config file": the three example errors, at lines 7, 9 and 10
    write_conf(tmp_path, "# natter.conf\n"
                         "listen = 127.0.0.1:0\n"
                         "\n"
                         "idle-timeout = 600\n"
                         "log-messages = no\n"
                         "# pacing\n"
                         "rate = ten\n"
                         "burst = 20\n"
                         "bogus = 1\n"
                         "oops\n"
                         "history = 5\n")
    p = natter("-n", "--config", "natter.conf", cwd=tmp_path)
    assert p.returncode == 2, p
    assert p.stdout == b"", p
    assert p.stderr == (
        b"natter: natter.conf:7: --rate: must be a whole number from 0 to 1000000, got 'ten'\n"
        b"natter: natter.conf:9: unknown option 'bogus' (see --help)\n"
        b"natter: natter.conf:10: expected NAME = VALUE, got 'oops'\n" + FINAL_ERROR), p


def test_check_config_file_and_command_line_errors_together(tmp_path):
    write_conf(tmp_path, "listen = 127.0.0.1:0\nmax-line = 0\n")
    p = natter("-n", "--config", "natter.conf", "--rate", "ten", "--frobnicate", cwd=tmp_path)
    assert p.returncode == 2, p
    assert p.stdout == b"", p
    lines = p.stderr.splitlines(keepends=True)
    assert sorted(lines[:-1]) == sorted([
        b"natter: natter.conf:2: --max-line: must be a whole number from 1 to 1048576, got '0'\n",
        b"natter: --rate: must be a whole number from 0 to 1000000, got 'ten'\n",
        b"natter: unknown option '--frobnicate' (see --help)\n"]), p.stderr
    assert lines[-1] == FINAL_ERROR, p.stderr


def test_check_config_of_a_missing_file(tmp_path):
    p = natter("-n", "--config", "missing.conf", cwd=tmp_path)
    assert p.returncode == 2, p
    assert p.stdout == b"", p
    assert p.stderr == (f"natter: --config: cannot read 'missing.conf': {ENOENT}\n".encode()
                        + FINAL_ERROR), p
    p = natter("--config", "missing.conf", cwd=tmp_path)  # and at start
    assert p.returncode == 2, p
    assert p.stderr.startswith(f"natter: --config: cannot read 'missing.conf': {ENOENT}\n"
                               .encode()), p


def test_nothing_is_read_unless_config_names_it(tmp_path):
    # OPERATIONS.md "Config file": "nothing else is ever read unless --config names it"
    for name in ("natter.conf", ".natter.conf", "natter.cfg"):
        write_conf(tmp_path, "max-line = 0\nbogus = 1\n", name=name)
    p = natter("-n", cwd=tmp_path)
    assert p.returncode == 0, p
    assert p.stderr == b"", p
    assert re.fullmatch(rb"natter: the configuration is valid[^;\n]*; 3 listeners: "
                        rb"tcp://127\.0\.0\.1:8888 irc://127\.0\.0\.1:6667 "
                        rb"http://127\.0\.0\.1:8080\n", p.stdout), p


def tls_conf(tmp_path, cert, key):
    return write_conf(tmp_path, "listen = tls://127.0.0.1:0\n"
                                "listen = ircs://127.0.0.1:0\n"
                                f"tls-cert = {cert}\n"
                                f"tls-key = \"{key}\"\n")


def test_check_config_with_a_good_certificate_exits_0(tmp_path, tls_cert):
    # OPERATIONS.md: -n checks that the TLS certificate and key load
    conf = tls_conf(tmp_path, tls_cert.cert, tls_cert.key)
    p = natter("-n", "--config", conf)
    assert p.returncode == 0, p
    assert p.stdout == (b"natter: the configuration is valid (%s); 2 listeners: "
                        b"tls://127.0.0.1:0 ircs://127.0.0.1:0\n" % str(conf).encode()), p
    assert p.stderr == b"", p


BAD_TLS = {
    # case: (which file, how to spoil it, the reason line that natter prints (format: cert, key))
    "cert not PEM": ("cert", b"this is not a certificate\n",
                     r"natter: --tls-cert {cert}: not a PEM certificate \(.+\)"),
    "missing cert": ("cert", None, r"natter: --tls-cert {cert}: cannot read: " + ENOENT),
    "missing key": ("key", None, r"natter: --tls-key {key}: cannot read: " + ENOENT),
    "key not PEM": ("key", b"not a key\n", r"natter: --tls-key {key}: not a PEM private key.*"),
    "key of another cert": ("key", "other",
                            r"natter: --tls-key {key}: does not match the certificate in {cert}"),
}


@pytest.mark.parametrize("case", list(BAD_TLS))
def test_check_config_with_a_bad_certificate_or_key_exits_2(tmp_path, tls_cert, case):
    # OPERATIONS.md: -n loads the certificate and key; "Exit status": one that cannot be used is 2
    which, content, says = BAD_TLS[case]
    cert, key = tmp_path / "server.crt", tmp_path / "server.key"
    shutil.copyfile(tls_cert.cert, cert)
    shutil.copyfile(tls_cert.key, key)
    bad = cert if which == "cert" else key
    if content is None:
        bad.unlink()
    elif content == "other":
        shutil.copyfile(make_cert(tmp_path / "other", "other").key, bad)
    else:
        bad.write_bytes(content)
    conf = tls_conf(tmp_path, cert, key)
    p = natter("-n", "--config", conf)
    assert p.returncode == 2, p
    assert p.stdout == b"", p
    lines = p.stderr.decode(errors="replace").splitlines()
    want = says.format(cert=re.escape(str(cert)), key=re.escape(str(key)))
    assert len(lines) == 2 and re.fullmatch(want, lines[0]), (want, p.stderr)
    assert p.stderr.endswith(FINAL_ERROR), p


def test_check_config_with_a_bad_oper_password_file_exits_2(tmp_path):
    # OPERATIONS.md: -n checks the password file
    missing = tmp_path / "missing-password"
    conf = write_conf(tmp_path, f"listen = 127.0.0.1:0\noper-password-file = {missing}\n")
    p = natter("-n", "--config", conf)
    assert p.returncode == 2, p
    assert p.stdout == b"", p
    assert p.stderr == (f"natter: --oper-password-file: cannot read '{missing}': {ENOENT}\n"
                        .encode() + FINAL_ERROR), p

    empty = tmp_path / "empty-password"
    empty.write_bytes(b"\n")
    conf = write_conf(tmp_path, f"listen = 127.0.0.1:0\noper-password-file = {empty}\n")
    p = natter("-n", "--config", conf)
    assert p.returncode == 2, p
    assert p.stderr == (f"natter: --oper-password-file: '{empty}' must start with a password of "
                        f"1 to 255 bytes\n".encode() + FINAL_ERROR), p

    good = tmp_path / "password"
    good.write_text("Tr0ub4dor&3\n")
    conf = write_conf(tmp_path, f"listen = 127.0.0.1:0\noper-password-file = {good}\n")
    p = natter("-n", "--config", conf)
    assert p.returncode == 0, p
    assert p.stdout.startswith(b"natter: the configuration is valid ("), p


@pytest.mark.parametrize("errors", [("file", "password"), ("password", "tls"), ("file", "tls"),
                                    ("file", "password", "tls")], ids="+".join)
def test_check_config_prints_every_error_of_every_kind(tmp_path, tls_cert, errors):
    # OPERATIONS.md: -n "checks everything natter would check at start-up, the password file
    # and that the TLS certificate and key load included, prints every error"
    bad_cert = tmp_path / "bad.crt"
    bad_cert.write_bytes(b"this is not a certificate\n")
    missing = tmp_path / "missing-password"
    text = "listen = 127.0.0.1:0\n"
    want = []
    if "file" in errors:
        text += "rate = ten\n"
        want.append(r"natter: natter\.conf:2: --rate: must be a whole number from 0 to 1000000, "
                    r"got 'ten'")
    if "password" in errors:
        text += f"oper-password-file = {missing}\n"
        want.append(r"natter: --oper-password-file: cannot read '%s': %s"
                    % (re.escape(str(missing)), ENOENT))
    if "tls" in errors:
        text += f"listen = tls://127.0.0.1:0\ntls-cert = {bad_cert}\ntls-key = {tls_cert.key}\n"
        want.append(r"natter: --tls-cert %s: not a PEM certificate \(.+\)"
                    % re.escape(str(bad_cert)))
    write_conf(tmp_path, text)
    p = natter("-n", "--config", "natter.conf", cwd=tmp_path)
    assert p.returncode == 2, p
    assert p.stdout == b"", p
    lines = p.stderr.decode(errors="replace").splitlines()
    missing_lines = [w for w in want if not any(re.fullmatch(w, line) for line in lines)]
    assert not missing_lines, f"errors not reported: {missing_lines}; stderr:\n{p.stderr.decode()}"
    assert len(lines) == len(want) + 1, p.stderr
    assert p.stderr.endswith(FINAL_ERROR), p
