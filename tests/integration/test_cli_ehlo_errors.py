"""`mailprobe ehlo` when a step cannot complete (exit 3, one line naming the step) and bad input
(exit 2). Hostile peers come from tests/support/peers.py; everything listens on 127.0.2.x."""

from __future__ import annotations

import contextlib
import json
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from mailprobe.cli.app import main
from tests.support.peers import PeerServer, SmtpPeer


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("MAILPROBE_CONFIG", "MAILPROBE_HOST", "MAILPROBE_SENDER", "MAILPROBE_RECIPIENT"):
        monkeypatch.delenv(name, raising=False)
    for name in ("MAILPROBE_EXPECT", "MAILPROBE_HELO", "MAILPROBE_TIMEOUT", "MAILPROBE_PORT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("COLUMNS", "200")


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def error_of(err: str) -> str:
    lines = [line for line in err.splitlines() if line.startswith("mailprobe: error:")]
    assert len(lines) == 1, err
    return lines[0]


def probe_target(peer: PeerServer, timeout: str = "1") -> list[str]:
    return ["ehlo", peer.address, "--port", str(peer.port), "--timeout", timeout]


# -- could not complete (exit 3) -------------------------------------------------------------------


def test_tarpit_no_banner(capsys: pytest.CaptureFixture[str], tarpit_peer: PeerServer) -> None:
    code, _out, err = run(capsys, *probe_target(tarpit_peer))
    assert code == 3
    line = error_of(err)
    assert "banner failed" in line
    assert "no banner" in line and "1 s" in line


def test_garbage_talkers(capsys: pytest.CaptureFixture[str], garbage_peer: PeerServer) -> None:
    code, _out, err = run(capsys, *probe_target(garbage_peer))
    assert code == 1  # the server answered and was judged: not SMTP is a finding
    line = error_of(err)
    assert "banner failed" in line
    assert "not SMTP" in line
    assert len(line) < 400  # one readable line, not the 100 kB line


@pytest.mark.parametrize("fixture", ["banner_421_peer", "banner_554_peer"])
def test_refusing_banner(
    capsys: pytest.CaptureFixture[str], request: pytest.FixtureRequest, fixture: str
) -> None:
    peer: SmtpPeer = request.getfixturevalue(fixture)
    code, _out, err = run(capsys, *probe_target(peer))
    # 421: busy, try later (could not complete); 554: the server refuses us (a finding)
    assert code == (3 if "421" in fixture else 1)
    line = error_of(err)
    assert "banner failed" in line
    assert fixture[7:10] in line  # 421 / 554


def test_drop_in_the_middle_of_the_ehlo_reply(
    capsys: pytest.CaptureFixture[str], drop_mid_ehlo_peer: PeerServer
) -> None:
    code, out, err = run(capsys, *probe_target(drop_mid_ehlo_peer), "--json")
    assert code == 3
    document = json.loads(out)
    assert document["status"] == "incomplete"
    (error,) = document["errors"]
    assert error["step"] == "EHLO"
    assert "closed the connection" in error["message"]
    probe = document["results"]["probes"][0]
    assert probe["failure"]["step"] == "EHLO"
    # partial results: the banner and the transcript so far
    assert probe["banner_code"] == 220
    assert any(line["text"].startswith("EHLO ") for line in probe["transcript"])
    assert err == ""  # --json: nothing but JSON, errors inside it


def test_5xx_to_ehlo_and_helo(
    capsys: pytest.CaptureFixture[str], helo_refusing_peer: SmtpPeer
) -> None:
    code, _out, err = run(capsys, *probe_target(helo_refusing_peer))
    assert code == 1  # judged: the server refuses every greeting
    line = error_of(err)
    assert "HELO failed" in line
    assert "500" in line and "550" in line


def test_connection_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as sock:  # a port that is certainly closed: bound, never listening
        sock.bind(("127.0.2.30", 0))
        port = sock.getsockname()[1]
        code, _out, err = run(capsys, "ehlo", "127.0.2.30", "--port", str(port), "--timeout", "2")
    assert code == 3
    assert "connect failed" in error_of(err)
    assert "refused" in error_of(err)


@contextlib.contextmanager
def full_backlog(address: str) -> Iterator[int]:
    """A listening socket whose accept queue is full, so a new connect hangs (SYN dropped)."""
    server = socket.socket()
    server.bind((address, 0))
    server.listen(0)
    port = server.getsockname()[1]
    fillers = []
    try:
        for _ in range(8):
            filler = socket.socket()
            filler.setblocking(False)
            with contextlib.suppress(BlockingIOError):
                filler.connect((address, port))
            fillers.append(filler)
        yield port
    finally:
        for filler in fillers:
            filler.close()
        server.close()


def test_connect_timeout(capsys: pytest.CaptureFixture[str]) -> None:
    with full_backlog("127.0.2.31") as port:
        code, _out, err = run(capsys, "ehlo", "127.0.2.31", "--port", str(port), "--timeout", "1")
    assert code == 3
    line = error_of(err)
    # the kernel may drop the SYN (connect times out) or complete it with nobody to greet us
    assert "connect failed" in line or "banner failed" in line
    assert "1 s" in line


def test_dns_failure(capsys: pytest.CaptureFixture[str]) -> None:
    code, _out, err = run(capsys, "ehlo", "no-such-host.invalid", "--timeout", "2")
    assert code == 3
    assert "DNS failed no-such-host.invalid" in error_of(err)


def test_session_timeout(
    capsys: pytest.CaptureFixture[str], slow_banner_peer_factory: Callable[[float], SmtpPeer]
) -> None:
    peer = slow_banner_peer_factory(3.0)
    code, out, _err = run(
        capsys, *probe_target(peer, timeout="10"), "--session-timeout", "0.5", "--json"
    )
    assert code == 3
    document = json.loads(out)
    (error,) = document["errors"]
    assert error["step"] == "banner"
    assert "--session-timeout" in error["message"]


def test_starttls_handshake_failure(
    capsys: pytest.CaptureFixture[str], smtp_peer_factory: Callable[..., SmtpPeer]
) -> None:
    # advertises STARTTLS, says go ahead, then goes on talking plain text
    peer = smtp_peer_factory(
        ehlo=["PIPELINING", "STARTTLS"], rules={"STARTTLS": "220 2.0.0 Ready to start TLS"}
    )
    code, out, err = run(capsys, *probe_target(peer, timeout="3"))
    assert code == 1  # the server answered: a broken STARTTLS is a finding, as in check
    assert "STARTTLS failed" in error_of(err)
    assert "tls.handshake-failed" in out


def test_unreachable_json_envelope(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.2.30", 0))
        port = sock.getsockname()[1]
        code, out, _err = run(capsys, "--json", "ehlo", "127.0.2.30", "-p", str(port))
    assert code == 3
    document = json.loads(out)
    assert document["exit_code"] == 3
    assert document["errors"][0]["step"] == "connect"
    assert document["results"]["probes"][0]["transcript"]  # "connecting to ..." at least


# -- bad input (exit 2) ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["127.0.2.9", "--from", "a@b.test\r\nRCPT TO:<victim@x.test>"],
        ["127.0.2.9", "--from", "a@b.test\nDATA"],
        ["127.0.2.9", "--to", "x@y.test\rQUIT"],
        ["127.0.2.9", "--to", "x@y.test\x00"],
        ["127.0.2.9", "--helo", "me.test\r\nMAIL FROM:<x@y>"],
        ["127.0.2.9", "--helo", "bad\x1bname"],
        ["127.0.2.9", "--helo", "has space"],
        ["127.0.2.9", "--subject", "hi\r\nBcc: x@y.test"],
        [""],
        ["   "],
        ["127.0.2.9", "--port", "0"],
        ["127.0.2.9", "--port", "65536"],
        ["127.0.2.9", "--port", "-1"],
        ["127.0.2.9", "--expect", "no-such-profile"],
        ["127.0.2.9", "--expect", "postfix", "--expect-verbs", "A"],
        ["127.0.2.9", "--auth-mech", "GSSAPI", "--user", "u", "--password-env", "PW"],
        ["127.0.2.9", "--data"],
        ["127.0.2.9", "--all"],
        ["127.0.2.9", "--mx", "example.test"],
        ["127.0.2.9", "--user", "u"],  # no password source and stdin is not a terminal
        ["127.0.2.9", "--password-env", "PW"],  # password without --user
        ["127.0.2.9", "--user", "u", "--password-env", "UNSET_VARIABLE_FOR_TEST"],
        ["[127.0.2.9"],
        ["127.0.2.9", "--session-timeout", "0"],
    ],
)
def test_bad_input_exits_2(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, args: list[str]
) -> None:
    monkeypatch.setenv("PW", "x")
    monkeypatch.setattr("sys.stdin.isatty", lambda: False, raising=False)
    code, out, err = run(capsys, "ehlo", *args)
    assert code == 2, (out, err)
    assert error_of(err)
    assert out == ""


def test_no_target_says_how_to_give_one(capsys: pytest.CaptureFixture[str]) -> None:
    code, _out, err = run(capsys, "ehlo")
    assert code == 2
    line = error_of(err)
    assert "mailprobe ehlo HOST" in line and "--mx" in line


def test_default_host_from_config(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, exchange2000_peer: SmtpPeer
) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        f'host = "{exchange2000_peer.address}"\nport = {exchange2000_peer.port}\n'
        'expect = "exchange2000"\nhelo = "probe.test.example"\n'
    )
    code, out, _err = run(capsys, "ehlo", "--config", str(config), "--json")
    document: dict[str, Any] = json.loads(out)
    assert code == 0
    assert document["inputs"]["expect"] == "exchange2000"
    exchange2000_peer.wait_idle()
    assert "EHLO probe.test.example" in exchange2000_peer.transcript.received()


def test_password_on_the_command_line_warns(
    capsys: pytest.CaptureFixture[str], auth_peer: SmtpPeer
) -> None:
    code, _out, err = run(
        capsys,
        *probe_target(auth_peer, timeout="5"),
        "--user",
        "alice",
        "--password",
        "wrong-one",
    )
    assert "mailprobe: warning: --password" in err
    assert code == 1
