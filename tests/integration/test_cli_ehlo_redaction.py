"""No AUTH secret ever leaves `mailprobe ehlo`: not the password, not its base64 form (padded or
not), not the AUTH PLAIN blob, not the CRAM-MD5 answer — in the terminal, --json, --transcript,
error lines and -v output, even when a hostile server echoes them back."""

from __future__ import annotations

import base64
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from mailprobe.cli.app import main
from tests.support.peers import AUTH_PASSWORD, AUTH_USER, PeerConnection, PeerServer, SmtpPeer
from tests.support.postfix import PostfixInstance


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith("MAILPROBE_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("COLUMNS", "300")


def forms(user: str, password: str) -> list[str]:
    """Every shape of the secret that must never appear."""
    b64 = base64.b64encode(password.encode()).decode()
    plain = base64.b64encode(f"\0{user}\0{password}".encode()).decode()
    return [password, b64, b64.rstrip("="), plain, plain.rstrip("=")]


def all_outputs(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, args: list[str]
) -> tuple[list[int], str]:
    """Run human, -v and --json modes, each with --transcript; everything printed or written."""
    texts: list[str] = []
    codes: list[int] = []
    for index, extra in enumerate(([], ["-v"], ["--json"], ["-vv", "--json"])):
        path = tmp_path / f"transcript{index}.txt"
        codes.append(main([*args, *extra, "--transcript", str(path)]))
        out, err = capsys.readouterr()
        texts += [out, err, path.read_text() if path.exists() else ""]
    return codes, "\n".join(texts)


def assert_clean(text: str, user: str, password: str) -> None:
    for form in forms(user, password):
        assert form not in text, f"secret form {form!r} leaked"


@pytest.mark.parametrize("mechanism", ["LOGIN", "PLAIN", "CRAM-MD5"])
def test_no_secret_in_any_output(
    capsys: pytest.CaptureFixture[str],
    auth_peer: SmtpPeer,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    mechanism: str,
) -> None:
    monkeypatch.setenv("PROBE_PW", AUTH_PASSWORD)
    args = ["ehlo", auth_peer.address, "-p", str(auth_peer.port), "--timeout", "5"]
    args += ["--user", AUTH_USER, "--password-env", "PROBE_PW", "--auth-mech", mechanism]
    codes, text = all_outputs(capsys, tmp_path, args)
    assert codes == [1, 1, 1, 1]  # AUTH over plaintext is a finding
    assert "********" in text
    assert_clean(text, AUTH_USER, AUTH_PASSWORD)
    # the server did receive the real thing
    assert all(attempt.success for attempt in auth_peer.auth_attempts)


def test_secret_echoed_by_the_server_is_redacted(
    capsys: pytest.CaptureFixture[str],
    smtp_peer_factory: Callable[..., SmtpPeer],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    peer = smtp_peer_factory(
        auth_users={AUTH_USER: AUTH_PASSWORD},
        rules=lambda cmd: (
            f"535 5.7.8 bad credentials: {cmd.argument}" if cmd.verb == "AUTH" else None
        ),
    )
    monkeypatch.setenv("PROBE_PW", AUTH_PASSWORD)
    args = ["ehlo", peer.address, "-p", str(peer.port), "--timeout", "5", "--user", AUTH_USER]
    args += ["--password-env", "PROBE_PW", "--auth-mech", "PLAIN"]
    codes, text = all_outputs(capsys, tmp_path, args)
    assert codes == [1, 1, 1, 1]
    assert "bad credentials: PLAIN ********" in text
    assert_clean(text, AUTH_USER, AUTH_PASSWORD)


async def _echo_then_garbage(conn: PeerConnection) -> None:
    """AUTH LOGIN prompts, then the password echoed in a reply line without a code."""
    await conn.send_lines(["220 echo.test ESMTP"])
    line = await conn.readline()
    await conn.send_lines(["250-echo.test", "250 AUTH LOGIN"])
    line = await conn.readline()  # AUTH LOGIN
    await conn.send_lines(["334 VXNlcm5hbWU6"])
    line = await conn.readline()  # user
    await conn.send_lines(["334 UGFzc3dvcmQ6"])
    line = await conn.readline()  # password, base64
    decoded = base64.b64decode(line or "").decode("utf-8", "replace")
    await conn.send_lines([f"you sent {line} which is {decoded}"])
    await conn.hold(5)


def test_secret_in_a_garbage_reply_is_redacted_in_the_error(
    capsys: pytest.CaptureFixture[str],
    peer_factory: object,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    peer: PeerServer = peer_factory.raw(_echo_then_garbage)  # type: ignore[attr-defined]
    monkeypatch.setenv("PROBE_PW", AUTH_PASSWORD)
    args = ["ehlo", peer.address, "-p", str(peer.port), "--timeout", "3", "--user", AUTH_USER]
    args += ["--password-env", "PROBE_PW"]
    codes, text = all_outputs(capsys, tmp_path, args)
    assert codes == [1, 1, 1, 1]  # a reply that is not SMTP: a finding (smtp.not-smtp)
    assert "AUTH failed" in text
    assert_clean(text, AUTH_USER, AUTH_PASSWORD)


@pytest.mark.postfix
def test_no_secret_with_real_postfix_sasl(
    capsys: pytest.CaptureFixture[str],
    postfix_tls: PostfixInstance,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    assert postfix_tls.tls_cert is not None and postfix_tls.sasl_password is not None
    password = postfix_tls.sasl_password
    user = str(postfix_tls.sasl_user)
    monkeypatch.setenv("PROBE_PW", password)
    args = ["ehlo", postfix_tls.address, "-p", str(postfix_tls.port), "--timeout", "10"]
    args += ["--ca-file", str(postfix_tls.tls_cert.ca), "--user", user]
    args += ["--password-env", "PROBE_PW", "--auth-mech", "PLAIN"]
    codes, text = all_outputs(capsys, tmp_path, args)
    assert codes == [0, 0, 0, 0], text[-3000:]
    assert "235" in text
    assert_clean(text, user, password)
