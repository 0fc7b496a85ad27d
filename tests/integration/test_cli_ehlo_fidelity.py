"""Transcript fidelity and the certificate name lines of ``mailprobe ehlo``.

The server's exact reply text (runs of spaces, control characters) is kept in the JSON, in the
``--transcript`` file and in the terminal transcript (``-v``); the terminal shows a control
character as a visible escape (``\\x1b``), never raw. Probing by address without ``--tls-name``,
the certificate's names are reported, not judged: no "does NOT match" line.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mailprobe.cli.app import main
from tests.support.certs import TestCA
from tests.support.peers import PeerServer, SmtpPeer

T = "5"
SPACED = "220 mx.test  ESMTP  two  spaces"
ESC_BANNER = "220 mx.test ESMTP \x1b[2Jcleared"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("MAILPROBE_CONFIG", "MAILPROBE_HOST", "MAILPROBE_PORT", "MAILPROBE_TIMEOUT",
                 "MAILPROBE_HELO", "MAILPROBE_DNS_SERVER", "NO_COLOR"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("COLUMNS", "200")


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def target(peer: PeerServer) -> list[str]:
    return [peer.address, "--port", str(peer.port), "--timeout", T]


def probe_of(document: dict[str, Any]) -> dict[str, Any]:
    probes = document["results"]["probes"]
    assert len(probes) == 1
    probe: dict[str, Any] = probes[0]
    return probe


def server_lines(probe: dict[str, Any]) -> list[str]:
    return [line["text"] for line in probe["transcript"] if line["side"] == "server"]


# -- transcript fidelity ------------------------------------------------------------------


def test_double_spaces_are_kept_everywhere(
    capsys: pytest.CaptureFixture[str], smtp_peer_factory: Callable[..., SmtpPeer], tmp_path: Path
) -> None:
    peer = smtp_peer_factory(
        banner=SPACED,
        ehlo=["PIPELINING", "SIZE  10240000", "8BITMIME"],
    )
    _code, out, _err = run(capsys, "ehlo", *target(peer), "--json")
    probe = probe_of(json.loads(out))
    assert probe["banner"] == ["mx.test  ESMTP  two  spaces"]
    assert SPACED in server_lines(probe)
    assert "250-SIZE  10240000" in server_lines(probe)
    # parsing still works on the exact text
    assert probe["advertised"]["keywords"] == ["PIPELINING", "SIZE", "8BITMIME"]
    assert probe["advertised"]["size_limit"] == 10240000

    path = tmp_path / "session.txt"
    _code, out, _err = run(capsys, "ehlo", *target(peer), "-v", "--transcript", str(path))
    assert f" S: {SPACED}" in path.read_text()
    assert f" S: {SPACED}" in out
    assert " S: 250-SIZE  10240000" in out


def test_a_control_character_is_kept_in_json_and_shown_escaped(
    capsys: pytest.CaptureFixture[str], smtp_peer_factory: Callable[..., SmtpPeer], tmp_path: Path
) -> None:
    peer = smtp_peer_factory(banner=ESC_BANNER)
    _code, out, _err = run(capsys, "ehlo", *target(peer), "--json")
    assert "\x1b" not in out  # the JSON text itself carries the escape ...
    assert "\\u001b[2Jcleared" in out
    probe = probe_of(json.loads(out))  # ... which decodes to the exact text
    assert probe["banner"] == ["mx.test ESMTP \x1b[2Jcleared"]
    assert ESC_BANNER in server_lines(probe)

    path = tmp_path / "session.txt"
    _code, out, err = run(capsys, "ehlo", *target(peer), "-v", "--transcript", str(path))
    for text in (out, err, path.read_text()):
        assert "\x1b" not in text
    assert " S: 220 mx.test ESMTP \\x1b[2Jcleared" in out
    assert " S: 220 mx.test ESMTP \\x1b[2Jcleared" in path.read_text()


# -- certificate name lines ---------------------------------------------------------------


def test_probed_by_address_insecure_reports_names_without_judging(
    capsys: pytest.CaptureFixture[str], starttls_wrong_name_peer: SmtpPeer
) -> None:
    """``ehlo ADDRESS --insecure`` (the chain is not trusted here, no --ca-file): one thing is
    said about the name, that it was not checked, never "does NOT match ADDRESS"."""
    peer = starttls_wrong_name_peer
    _code, out, _err = run(capsys, "ehlo", *target(peer), "--insecure")
    assert "NOT trusted" in out
    assert "does NOT match" not in out
    assert f"not checked (probed by address {peer.address})" in out
    assert "wrong-name.test.example" in out  # the names are reported
    assert "tls.name-not-checked" in out


def test_probed_by_address_with_trusted_wrong_name(
    capsys: pytest.CaptureFixture[str], starttls_wrong_name_peer: SmtpPeer, test_ca: TestCA
) -> None:
    args = [*target(starttls_wrong_name_peer), "--ca-file", str(test_ca.ca_pem)]
    _code, out, _err = run(capsys, "ehlo", *args)
    assert "does NOT match" not in out
    assert "wrong-name.test.example" in out  # the names are reported
    assert "tls.name-not-checked" in out


def test_with_tls_name_the_name_is_judged(
    capsys: pytest.CaptureFixture[str], starttls_wrong_name_peer: SmtpPeer, test_ca: TestCA
) -> None:
    args = [*target(starttls_wrong_name_peer), "--ca-file", str(test_ca.ca_pem)]
    _code, out, _err = run(capsys, "ehlo", *args, "--tls-name", "mail.test.example")
    assert "does NOT match mail.test.example" in out
    assert "tls.name-mismatch" in out
    assert "not checked" not in out
