"""The redaction boundary of the CLI: no form of an AUTH secret leaves `relay-test` or `check`,
in the terminal, --json, -v and -vv output, error lines, tracebacks, the --transcript file and
the --html report, even when the server echoes the credentials (raw, base64, the PLAIN blob) in
its AUTH replies; and the files mailprobe writes are readable by their owner only (0600).

The echoing server and the checks come from ``test_cli_ehlo_redaction`` (the same rules for
``ehlo``): ``echo_rule`` marks every echo with ``<<...>>``, ``assert_echoes`` requires each to
arrive as ``********`` and no form of the secret anywhere.
"""

from __future__ import annotations

import json
import os
import stat
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mailprobe.cli.app import main
from mailprobe.cli.runtime import (
    error_line,
    print_traceback,
    redacted,
    reset_globals,
    warn_line,
    write_output_file,
)
from mailprobe.smtp.redact import REDACTED, run_redactor
from tests.integration.test_cli_ehlo_redaction import (
    ECHO_PASSWORDS,
    all_outputs,
    assert_clean,
    assert_echoes,
    echo_lines,
    echo_rule,
    forms,
)
from tests.support.peers import AUTH_USER, RELAY_ADDRESS, SmtpPeer
from tests.unit.test_check_rules import sample_report


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith("MAILPROBE_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("COLUMNS", "300")


def _relay_args(peer: SmtpPeer, mechanism: str) -> list[str]:
    return [
        "relay-test",
        peer.address,
        "--port",
        str(peer.port),
        "--relay-only",
        "--timeout",
        "5",
        "--user",
        AUTH_USER,
        "--password-env",
        "RELAY_PW",
        "--auth-mech",
        mechanism,
    ]


@pytest.mark.parametrize("password", ECHO_PASSWORDS)
@pytest.mark.parametrize("mechanism", ["PLAIN", "LOGIN"])
def test_relay_test_redacts_every_echoed_form(
    capsys: pytest.CaptureFixture[str],
    smtp_peer_factory: Callable[..., SmtpPeer],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    mechanism: str,
    password: str,
) -> None:
    peer = smtp_peer_factory(
        address=RELAY_ADDRESS,
        hostname="mail.relay.test",
        auth_users={AUTH_USER: password},
        rules=echo_rule(AUTH_USER, password),
    )
    monkeypatch.setenv("RELAY_PW", password)
    codes, text = all_outputs(capsys, tmp_path, _relay_args(peer, mechanism))
    assert len(set(codes)) == 1 and codes[0] in (0, 1), codes
    assert "authenticated session" in text
    assert '"code": 235' in text  # the authenticated check ran and its reply is in the JSON
    # the JSON (twice) and every transcript file hold the whole echo
    assert_echoes(text, AUTH_USER, password, at_least=len(echo_lines(AUTH_USER, password)) * 6)


@pytest.mark.parametrize("password", ECHO_PASSWORDS)
def test_relay_test_redacts_an_echo_in_a_garbage_reply(
    capsys: pytest.CaptureFixture[str],
    smtp_peer_factory: Callable[..., SmtpPeer],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    password: str,
) -> None:
    peer = smtp_peer_factory(
        address=RELAY_ADDRESS,
        hostname="mail.relay.test",
        auth_users={AUTH_USER: password},
        rules=echo_rule(AUTH_USER, password, garbage=True),
    )
    monkeypatch.setenv("RELAY_PW", password)
    codes, text = all_outputs(capsys, tmp_path, _relay_args(peer, "PLAIN"))
    assert len(set(codes)) == 1, codes
    assert "not SMTP" in text
    assert_echoes(text, AUTH_USER, password)


def test_relay_test_transcript_that_cannot_be_written_is_one_line(
    capsys: pytest.CaptureFixture[str],
    smtp_peer_factory: Callable[..., SmtpPeer],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    peer = smtp_peer_factory(
        address=RELAY_ADDRESS,
        hostname="mail.relay.test",
        auth_users={AUTH_USER: "s3cret-pass"},
        rules=echo_rule(AUTH_USER, "s3cret-pass"),
    )
    monkeypatch.setenv("RELAY_PW", "s3cret-pass")
    target = tmp_path / "missing-dir" / "t.txt"
    code = main([*_relay_args(peer, "PLAIN"), "-v", "--transcript", str(target)])
    out, err = capsys.readouterr()
    assert code == 2
    # refused before the run (a directory that does not exist), still one redacted line
    assert f"mailprobe: error: --transcript {target}: directory" in err
    assert "Traceback" in err  # -v
    assert_clean(out + err, AUTH_USER, "s3cret-pass")


# -- check: the HTML report -----------------------------------------------------------------


@pytest.mark.parametrize("password", ECHO_PASSWORDS)
def test_check_html_report_is_private_and_redacted(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    password: str,
) -> None:
    """check has no AUTH of its own; a run that had a secret (registered as read_password
    does) must still keep it out of the report, whatever renders it."""
    banner = " ".join(echo_lines(AUTH_USER, password))

    def fake_run(*_args: Any, **_kwargs: Any) -> list[Any]:
        run_redactor().add_credentials(AUTH_USER, password)
        return [sample_report(banner=banner)]

    monkeypatch.setattr("mailprobe.cli.check._run", fake_run)
    texts: list[str] = []
    for extra in ([], ["-vv"], ["--json"]):
        page = tmp_path / f"report{len(texts)}.html"
        code = main(["check", "evil.test", "--no-relay", "--html", str(page), *extra])
        out, err = capsys.readouterr()
        assert code in (0, 1, 3)
        assert stat.S_IMODE(page.stat().st_mode) == 0o600
        texts += [out, err, page.read_text()]
    text = "\n".join(texts).replace("&lt;", "<").replace("&gt;", ">").replace("&#x27;", "'")
    # the long forms are replaced anywhere (a banner is no AUTH reply: "a" stays "a" there)
    for form in forms(AUTH_USER, password):
        assert form not in text
    assert REDACTED in text


def test_check_html_that_cannot_be_written_is_one_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr("mailprobe.cli.check._run", lambda *a, **k: [sample_report()])
    page = tmp_path / "report.html"
    page.mkdir()  # a directory where the file should go
    code = main(["check", "evil.test", "--no-relay", "--html", str(page)])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith(f"mailprobe: error: --html {page}: is a directory")
    assert err.count("\n") == 1


# -- the output functions -------------------------------------------------------------------


@pytest.mark.parametrize("password", ECHO_PASSWORDS)
def test_error_warning_and_traceback_lines_are_redacted(
    capsys: pytest.CaptureFixture[str], password: str
) -> None:
    reset_globals()
    run_redactor().add_credentials(AUTH_USER, password)
    echoed = " ".join(echo_lines(AUTH_USER, password))
    error_line(f"the server said {echoed}")
    warn_line(f"the server said {echoed}")
    try:
        raise RuntimeError(f"boom {echoed} {password!r}")
    except RuntimeError:
        print_traceback()
    err = capsys.readouterr().err
    assert "Traceback" in err and "boom" in err
    for form in forms(AUTH_USER, password):
        assert form not in err
    assert REDACTED in err
    reset_globals()


@pytest.mark.parametrize("password", ECHO_PASSWORDS)
def test_json_is_redacted_as_a_tree_and_stays_json(
    capsys: pytest.CaptureFixture[str], password: str
) -> None:
    from mailprobe.cli.runtime import print_json

    reset_globals()
    run_redactor().add_credentials(AUTH_USER, password)
    transcript = [
        {"at": 0.0, "side": "client", "text": f"AUTH PLAIN {REDACTED}"},
        {"at": 0.1, "side": "server", "text": f"535 you said [{password}]"},
        {"at": 0.2, "side": "client", "text": "MAIL FROM:<a@b>"},
        {"at": 0.3, "side": "server", "text": "250 a ok"},
    ]
    print_json({"port": 25, "null": None, password: "key", "transcript": transcript})
    document = json.loads(capsys.readouterr().out)
    lines = [line["text"] for line in document["transcript"]]
    assert lines[1] == f"535 you said [{REDACTED}]"  # by position: even "a" as a token
    assert lines[3] == "250 a ok"  # outside an AUTH exchange a short secret is not searched
    assert password not in document or len(password.strip()) < 3
    reset_globals()


def test_redacted_keeps_what_holds_no_secret() -> None:
    reset_globals()
    report = sample_report()
    assert redacted(report) is report  # nothing registered: nothing walked
    run_redactor().add("mx.evil.test")
    clean = redacted(report)
    assert clean is not report and "mx.evil.test" not in repr(clean)
    reset_globals()


def test_files_are_created_for_the_owner_only(tmp_path: Path) -> None:
    reset_globals()
    run_redactor().add("s3cret-pass")
    path = tmp_path / "out.txt"
    old = os.umask(0)
    try:
        write_output_file(path, "a s3cret-pass b")
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text() == f"a {REDACTED} b"
    # an existing file that others could read is made private too
    path.chmod(0o644)
    write_output_file(path, "again")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    reset_globals()


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX modes")
def test_transcript_of_ehlo_is_private(
    capsys: pytest.CaptureFixture[str], smtp_peer_factory: Callable[..., SmtpPeer], tmp_path: Path
) -> None:
    peer = smtp_peer_factory()
    path = tmp_path / "t.txt"
    assert main(["ehlo", peer.address, "-p", str(peer.port), "--transcript", str(path)]) in (0, 1)
    capsys.readouterr()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
