"""No AUTH secret ever leaves `mailprobe ehlo`: not the password, not its base64 form (padded or
not), not the AUTH PLAIN blob, not the CRAM-MD5 answer — in the terminal, --json, --transcript,
error lines and -v output, even when a hostile server echoes them back.

``echo_rule`` (also used by the relay-test and check tests of the redaction boundary) scripts a
server that echoes the credentials in its AUTH replies, each echo between ``<<`` and ``>>`` (or
after ``<<|`` up to the end of the line): whatever reaches an output there must be ``********``.
"""

from __future__ import annotations

import base64
import os
import re
import stat
from collections.abc import Callable
from pathlib import Path

import pytest

from mailprobe.cli.app import main
from mailprobe.text import clean_line
from tests.support.peers import (
    AUTH_PASSWORD,
    AUTH_USER,
    PeerConnection,
    PeerServer,
    Rule,
    RuleResult,
    SmtpCommand,
    SmtpPeer,
)
from tests.support.postfix import PostfixInstance

#: Passwords a server may echo: plain, one character, spaces around and inside, NBSP and a
#: zero-width space, non-ASCII letters.
ECHO_PASSWORDS = ["s3cret-pass", "a", " p w ", "p\u00a0w\u200bd", "p\u00e4ssw\u00f6rd"]


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith("MAILPROBE_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("COLUMNS", "300")


def forms(user: str, password: str) -> list[str]:
    """Every shape of the secret that must never appear (those of 3 characters or more: a
    shorter one, like the password "a", is checked where it was echoed, see ``assert_echoes``)."""
    b64 = base64.b64encode(password.encode()).decode()
    plain = base64.b64encode(f"\0{user}\0{password}".encode()).decode()
    shown = [password, clean_line(password), " ".join(password.split()), ascii(password)[1:-1]]
    every = [*shown, b64, b64.rstrip("="), plain, plain.rstrip("=")]
    return [form for form in dict.fromkeys(every) if len(form.strip()) >= 3]


def all_outputs(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, args: list[str]
) -> tuple[list[int], str]:
    """Run human, -v and --json modes, each with --transcript; everything printed or written.
    A transcript file written is readable by its owner only (0600)."""
    texts: list[str] = []
    codes: list[int] = []
    for index, extra in enumerate(([], ["-v"], ["--json"], ["-vv", "--json"])):
        path = tmp_path / f"transcript{index}.txt"
        codes.append(main([*args, *extra, "--transcript", str(path)]))
        out, err = capsys.readouterr()
        texts += [out, err, path.read_text() if path.exists() else ""]
        if path.exists():
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, oct(path.stat().st_mode)
    return codes, "\n".join(texts)


def assert_clean(text: str, user: str, password: str) -> None:
    for form in forms(user, password):
        assert form not in text, f"secret form {form!r} leaked"


# -- a server that echoes the credentials ---------------------------------------------------


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _unb64(text: str) -> str:
    return base64.b64decode(text.strip()).decode("utf-8", "replace")


def echo_lines(user: str, password: str) -> list[str]:
    """The texts a hostile server says back: every form of the secret, marked."""
    b64, plain = _b64(password), _b64(f"\0{user}\0{password}")
    return [
        f"2.7.0 you said <<{password}>>",
        f"2.7.0 base64 <<{b64}>> <<{b64.rstrip('=')}>>",
        f"2.7.0 PLAIN <<{plain}>> <<{plain.rstrip('=')}>>",
        f"2.7.0 welcome <<|{password}",  # at the end of the line (where replies get stripped)
    ]


def echo_rule(user: str, password: str, *, garbage: bool = False) -> Rule:
    """AUTH PLAIN and LOGIN for ``user``/``password``; the reply to the credentials echoes
    them: a 235 (or, with ``garbage``, a line without a code). Outside an authenticated
    session a RCPT is refused (a closed relay)."""

    def answer(cmd: SmtpCommand, got_user: str, got_password: str) -> RuleResult:
        cmd.session.scratch.pop("login", None)
        texts = echo_lines(got_user, got_password)
        if garbage:
            return [f"you sent {' '.join(texts)}"]
        if (got_user, got_password) == (user, password):
            cmd.session.authenticated = got_user
            return [f"235-{t}" for t in texts[:-1]] + [f"235 {texts[-1]}"]
        return [f"535-{t}" for t in texts[:-1]] + [f"535 {texts[-1]}"]

    def rule(cmd: SmtpCommand) -> RuleResult:
        state = cmd.session.scratch.get("login")
        if state == "user":
            cmd.session.scratch["login"] = ("password", _unb64(cmd.line))
            return "334 UGFzc3dvcmQ6"
        if isinstance(state, tuple):
            return answer(cmd, state[1], _unb64(cmd.line))
        if cmd.verb == "AUTH":
            mechanism, _, initial = cmd.argument.partition(" ")
            if mechanism.upper() == "LOGIN":
                cmd.session.scratch["login"] = "user"
                return "334 VXNlcm5hbWU6"
            if mechanism.upper() == "PLAIN" and initial:
                _authzid, got_user, got_password = _unb64(initial).split("\0")
                return answer(cmd, got_user, got_password)
            return "504 5.5.4 Unrecognized authentication type"
        if cmd.verb == "RCPT" and not cmd.session.authenticated:
            return "554 5.7.1 Relay access denied"
        return None

    return rule


_MARKED = re.compile(r"<<(?!\|)(.*?)>>")
_MARKED_TO_END = re.compile(r"<<\|([^\n\"]*)")


def assert_echoes(text: str, user: str, password: str, at_least: int = 1) -> None:
    """Every echo of the server reached the outputs as ``********`` (and nothing of it)."""
    marked = _MARKED.findall(text)
    to_end = [m.strip() for m in _MARKED_TO_END.findall(text)]
    assert len(marked) >= at_least, text[-3000:]
    assert set(marked) == {"********"}, set(marked)
    assert all(m.startswith("********") for m in to_end), set(to_end)  # then the renderer's
    assert_clean(text, user, password)


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


@pytest.mark.parametrize("password", ECHO_PASSWORDS)
@pytest.mark.parametrize("mechanism", ["PLAIN", "LOGIN"])
def test_every_echoed_form_is_redacted(
    capsys: pytest.CaptureFixture[str],
    smtp_peer_factory: Callable[..., SmtpPeer],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    mechanism: str,
    password: str,
) -> None:
    peer = smtp_peer_factory(auth_users={AUTH_USER: password}, rules=echo_rule(AUTH_USER, password))
    monkeypatch.setenv("PROBE_PW", password)
    args = ["ehlo", peer.address, "-p", str(peer.port), "--timeout", "5", "--user", AUTH_USER]
    args += ["--password-env", "PROBE_PW", "--auth-mech", mechanism]
    codes, text = all_outputs(capsys, tmp_path, args)
    assert codes == [1, 1, 1, 1]  # AUTH over plaintext
    assert "235" in text
    assert_echoes(text, AUTH_USER, password, at_least=4 * 4)  # 4 echoes in every run


@pytest.mark.parametrize("password", ECHO_PASSWORDS)
def test_echo_in_a_garbage_reply_is_redacted(
    capsys: pytest.CaptureFixture[str],
    smtp_peer_factory: Callable[..., SmtpPeer],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    password: str,
) -> None:
    peer = smtp_peer_factory(
        auth_users={AUTH_USER: password}, rules=echo_rule(AUTH_USER, password, garbage=True)
    )
    monkeypatch.setenv("PROBE_PW", password)
    args = ["ehlo", peer.address, "-p", str(peer.port), "--timeout", "3", "--user", AUTH_USER]
    args += ["--password-env", "PROBE_PW", "--auth-mech", "PLAIN"]
    codes, text = all_outputs(capsys, tmp_path, args)
    assert codes == [1, 1, 1, 1]
    assert "not SMTP" in text
    assert_echoes(text, AUTH_USER, password)


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
