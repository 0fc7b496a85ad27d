"""`mailprobe ehlo` end to end against the scripted peers of tests/support/peers.py (127.0.2.x).

The CLI runs in-process through ``mailprobe.cli.app.main``; outputs are read with capsys.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mailprobe.cli.app import main
from tests.support.certs import ServerCert, TestCA
from tests.support.peers import AUTH_PASSWORD, AUTH_USER, PeerServer, SmtpPeer

T = "5"  # --timeout for peers that answer at once (generous: CI machines are busy)


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in (
        "MAILPROBE_CONFIG",
        "MAILPROBE_HOST",
        "MAILPROBE_PORT",
        "MAILPROBE_EXPECT",
        "MAILPROBE_SENDER",
        "MAILPROBE_RECIPIENT",
        "MAILPROBE_HELO",
        "MAILPROBE_TIMEOUT",
        "MAILPROBE_SESSION_TIMEOUT",
        "MAILPROBE_DNS_SERVER",
        "NO_COLOR",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("COLUMNS", "200")


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def run_json(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any]]:
    code, out, _err = run(capsys, *args, "--json")
    document = json.loads(out)
    assert document["exit_code"] == code
    return code, document


def target(peer: PeerServer) -> list[str]:
    return [peer.address, "--port", str(peer.port), "--timeout", T]


def probe_of(document: dict[str, Any]) -> dict[str, Any]:
    probes = document["results"]["probes"]
    assert len(probes) == 1
    probe: dict[str, Any] = probes[0]
    return probe


def codes(probe: dict[str, Any]) -> dict[str, str]:
    return {f["code"]: f["severity"] for f in probe["findings"]}


# -- verb profiles ------------------------------------------------------------------------------


def test_exchange2000_full_list_is_healthy(
    capsys: pytest.CaptureFixture[str], exchange2000_peer: SmtpPeer
) -> None:
    code, doc = run_json(capsys, "ehlo", *target(exchange2000_peer), "--expect", "exchange2000")
    probe = probe_of(doc)
    assert code == 0, probe["findings"]
    assert doc["status"] == "healthy"
    assert probe["comparison"]["missing"] == []
    assert probe["comparison"]["complete"] is True
    assert "ehlo.verbs-match" in codes(probe)
    assert probe["advertised"]["size_limit"] == 5242880
    assert probe["advertised"]["size_limit_mb"] == 5.0
    assert "LOGIN" in probe["advertised"]["auth_mechanisms"]
    assert "OK" not in probe["advertised"]["keywords"]
    assert probe["banner"][0].startswith("mail1.example.com Microsoft ESMTP")
    exchange2000_peer.wait_idle()
    assert exchange2000_peer.transcript.commands() == ["EHLO", "QUIT"]


def test_windows_smtp_alone_gets_the_sinks_diagnosis(
    capsys: pytest.CaptureFixture[str], windows_smtp_peer: SmtpPeer
) -> None:
    code, doc = run_json(capsys, "ehlo", *target(windows_smtp_peer), "--expect", "exchange2000")
    probe = probe_of(doc)
    assert code == 1
    found = codes(probe)
    assert found["ehlo.exchange-sinks-missing"] == "fail"
    assert set(probe["comparison"]["missing"]) >= {"X-EXPS", "X-LINK2STATE", "XEXCH50"}
    sinks = next(f for f in probe["findings"] if f["code"] == "ehlo.exchange-sinks-missing")
    assert "smtpreinstall" in sinks["fix"].lower()
    assert "metabase" in sinks["fix"]
    # the human output names the diagnosis too
    code, out, _ = run(capsys, "ehlo", *target(windows_smtp_peer), "--expect", "exchange2000")
    assert code == 1
    assert "ehlo.exchange-sinks-missing" in out
    assert "Windows SMTP service answers alone" in " ".join(out.split())  # however it wraps


def test_modern_exchange_profile_and_starttls(
    capsys: pytest.CaptureFixture[str], exchange_modern_peer: SmtpPeer, test_ca: TestCA
) -> None:
    code, doc = run_json(
        capsys,
        "ehlo",
        *target(exchange_modern_peer),
        "--expect",
        "exchange2016",
        "--ca-file",
        str(test_ca.ca_pem),
    )
    probe = probe_of(doc)
    assert probe["comparison"]["missing"] == [], probe["comparison"]
    assert probe["tls"]["verified"] is True
    assert probe["tls"]["name_matches"] is True
    assert probe["tls"]["version"].startswith("TLS")
    assert code == 0, probe["findings"]
    exchange_modern_peer.wait_idle()
    assert exchange_modern_peer.transcript.commands() == ["EHLO", "STARTTLS", "EHLO", "QUIT"]


def test_expect_verbs_reports_missing_and_unexpected(
    capsys: pytest.CaptureFixture[str], smtp_peer_factory: Callable[..., SmtpPeer]
) -> None:
    peer = smtp_peer_factory(ehlo=["PIPELINING", "SIZE 1000", "VRFY"])
    code, doc = run_json(capsys, "ehlo", *target(peer), "--expect-verbs", "pipelining,SIZE,DSN")
    probe = probe_of(doc)
    assert code == 1
    assert probe["comparison"]["missing"] == ["DSN"]
    assert probe["comparison"]["unexpected"] == ["VRFY"]
    assert codes(probe)["ehlo.unexpected-verbs"] == "warn"


def test_list_profiles(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "ehlo", "--list-profiles")
    assert code == 0
    for name in ("exchange2000", "exchange2003", "exchange2010", "exchange2019", "postfix"):
        assert name in out
    code, doc = run_json(capsys, "ehlo", "--list-profiles")
    names = [p["name"] for p in doc["results"]["profiles"]]
    assert "rfc5321" in names


# -- banner, EHLO/HELO ---------------------------------------------------------------------------


def test_multiline_banner(
    capsys: pytest.CaptureFixture[str], multiline_banner_peer: SmtpPeer
) -> None:
    _code, doc = run_json(capsys, "ehlo", *target(multiline_banner_peer), "--no-starttls")
    probe = probe_of(doc)
    assert probe["banner_code"] == 220
    assert len(probe["banner"]) == 3
    assert probe["banner"][1] == "This server is for tests only"
    assert doc["errors"] == []


def test_helo_fallback_is_said(
    capsys: pytest.CaptureFixture[str], ehlo_refusing_peer: SmtpPeer
) -> None:
    code, doc = run_json(capsys, "ehlo", *target(ehlo_refusing_peer))
    probe = probe_of(doc)
    assert code == 1
    assert probe["greeting_command"] == "HELO"
    assert "ehlo.helo-fallback" in codes(probe)
    code, out, _ = run(capsys, "ehlo", *target(ehlo_refusing_peer))
    assert "HELO fallback" in out


# -- STARTTLS -------------------------------------------------------------------------------------


def test_starttls_shows_certificate_and_verbs_after_tls(
    capsys: pytest.CaptureFixture[str], starttls_peer: SmtpPeer, server_cert: ServerCert
) -> None:
    code, doc = run_json(capsys, "ehlo", *target(starttls_peer), "--ca-file", str(server_cert.ca))
    probe = probe_of(doc)
    tls = probe["tls"]
    assert tls["verified"] is True
    assert tls["name_matches"] is True
    assert tls["checked_name"] == starttls_peer.address
    assert starttls_peer.address in tls["sans"]
    assert tls["days_left"] > 0
    assert tls["issuer"]
    assert probe["verbs_only_after_tls"] == ["AUTH"]
    assert code == 0, probe["findings"]
    _code, out, _ = run(capsys, "ehlo", *target(starttls_peer), "--ca-file", str(server_cert.ca))
    assert "only after TLS: AUTH" in out
    assert "days left" in out


def test_untrusted_certificate_stops_the_session(
    capsys: pytest.CaptureFixture[str], starttls_untrusted_peer: SmtpPeer
) -> None:
    code, doc = run_json(capsys, "ehlo", *target(starttls_untrusted_peer))
    probe = probe_of(doc)
    assert code == 1
    assert codes(probe)["tls.certificate-untrusted"] == "fail"
    assert probe["tls"] is None
    starttls_untrusted_peer.wait_idle()
    # nothing was sent after the failed handshake
    assert starttls_untrusted_peer.transcript.commands() == ["EHLO", "STARTTLS"]


def test_insecure_goes_on_and_reports(
    capsys: pytest.CaptureFixture[str], starttls_untrusted_peer: SmtpPeer
) -> None:
    code, doc = run_json(capsys, "ehlo", *target(starttls_untrusted_peer), "--insecure")
    probe = probe_of(doc)
    assert code == 1
    assert codes(probe)["tls.certificate-untrusted"] == "fail"
    tls = probe["tls"]
    assert tls["verified"] is False
    assert tls["verify_error"]
    assert tls["subject"]
    assert probe["advertised_after_tls"] is not None
    assert doc["errors"] == []


def test_name_mismatch_is_a_finding(
    capsys: pytest.CaptureFixture[str], starttls_wrong_name_peer: SmtpPeer, test_ca: TestCA
) -> None:
    code, doc = run_json(
        capsys, "ehlo", *target(starttls_wrong_name_peer), "--ca-file", str(test_ca.ca_pem),
        "--tls-name", "mail.test.example",
    )  # fmt: skip
    probe = probe_of(doc)
    assert code == 1
    assert doc["inputs"]["tls_name"] == "mail.test.example"
    assert probe["tls"]["verified"] is True
    assert probe["tls"]["checked_name"] == "mail.test.example"
    assert probe["tls"]["name_matches"] is False
    assert codes(probe)["tls.name-mismatch"] == "warn"
    assert "wrong-name.test.example" in probe["tls"]["sans"]


def test_probed_by_address_the_name_is_reported_not_judged(
    capsys: pytest.CaptureFixture[str], starttls_wrong_name_peer: SmtpPeer, test_ca: TestCA
) -> None:
    """Like `telnet 192.0.2.25 25`: certificates name hosts, so an address cannot match."""
    code, doc = run_json(
        capsys, "ehlo", *target(starttls_wrong_name_peer), "--ca-file", str(test_ca.ca_pem)
    )
    probe = probe_of(doc)
    assert probe["tls"]["name_matches"] is False
    found = codes(probe)
    assert found["tls.name-not-checked"] == "info"
    assert "tls.name-mismatch" not in found
    assert code == 0


def test_no_starttls_option(capsys: pytest.CaptureFixture[str], starttls_peer: SmtpPeer) -> None:
    _code, doc = run_json(capsys, "ehlo", *target(starttls_peer), "--no-starttls")
    probe = probe_of(doc)
    assert probe["tls"] is None
    starttls_peer.wait_idle()
    assert "STARTTLS" not in starttls_peer.transcript.commands()


def test_required_starttls_not_offered(
    capsys: pytest.CaptureFixture[str], smtp_peer_factory: Callable[..., SmtpPeer]
) -> None:
    peer = smtp_peer_factory()
    code, doc = run_json(capsys, "ehlo", *target(peer), "--starttls", "--from", "a@b.test")
    probe = probe_of(doc)
    assert code == 1
    assert codes(probe)["tls.not-offered"] == "fail"
    peer.wait_idle()
    assert "MAIL" not in peer.transcript.commands()


# -- AUTH -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("mechanism", ["LOGIN", "PLAIN", "CRAM-MD5"])
def test_auth_mechanisms(
    capsys: pytest.CaptureFixture[str],
    auth_peer: SmtpPeer,
    monkeypatch: pytest.MonkeyPatch,
    mechanism: str,
) -> None:
    monkeypatch.setenv("PROBE_PW", AUTH_PASSWORD)
    code, doc = run_json(
        capsys,
        "ehlo",
        *target(auth_peer),
        "--user",
        AUTH_USER,
        "--password-env",
        "PROBE_PW",
        "--auth-mech",
        mechanism,
    )
    probe = probe_of(doc)
    assert probe["auth"]["succeeded"] is True, probe["auth"]
    assert probe["auth"]["mechanism"] == mechanism
    assert probe["auth"]["over_tls"] is False
    assert codes(probe)["auth.plaintext"] == "warn"
    assert code == 1


def test_auth_best_mechanism_and_wrong_password(
    capsys: pytest.CaptureFixture[str], auth_peer: SmtpPeer, tmp_path: Path
) -> None:
    secret = tmp_path / "pw"
    secret.write_text("not-the-password\n")
    code, doc = run_json(
        capsys, "ehlo", *target(auth_peer), "--user", AUTH_USER, "--password-file", str(secret)
    )
    probe = probe_of(doc)
    assert probe["auth"]["mechanism"] == "CRAM-MD5"
    assert probe["auth"]["succeeded"] is False
    assert codes(probe)["auth.failed"] == "fail"
    assert probe["auth"]["reply"]["code"] == 535
    assert code == 1


def test_auth_login_as_the_guide(
    capsys: pytest.CaptureFixture[str], exchange2000_peer: SmtpPeer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PROBE_PW", AUTH_PASSWORD)
    code, doc = run_json(
        capsys,
        "ehlo",
        *target(exchange2000_peer),
        "--user",
        AUTH_USER,
        "--password-env",
        "PROBE_PW",
    )
    probe = probe_of(doc)
    assert probe["auth"]["mechanism"] == "LOGIN"
    assert probe["auth"]["succeeded"] is True
    # the transcript shows the 334 prompts and the base64 user name, never the password
    texts = [line["text"] for line in probe["transcript"]]
    assert "C: AUTH LOGIN" not in texts  # sides are fields, not prefixes
    assert "AUTH LOGIN" in texts
    assert any(t.startswith("334 VXNlcm5hbWU6") for t in texts)
    assert "YWxpY2U=" in texts  # base64 of alice
    assert "********" in texts
    assert code == 1  # the password crossed without TLS


def test_auth_only_after_starttls_explained(
    capsys: pytest.CaptureFixture[str], starttls_peer: SmtpPeer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PROBE_PW", AUTH_PASSWORD)
    code, doc = run_json(
        capsys,
        "ehlo",
        *target(starttls_peer),
        "--no-starttls",
        "--user",
        AUTH_USER,
        "--password-env",
        "PROBE_PW",
    )
    probe = probe_of(doc)
    assert code == 1
    finding = next(f for f in probe["findings"] if f["code"] == "auth.not-offered")
    assert "only after" in finding["summary"]
    starttls_peer.wait_idle()
    assert "AUTH" not in starttls_peer.transcript.commands()


def test_auth_after_starttls_succeeds(
    capsys: pytest.CaptureFixture[str],
    starttls_peer: SmtpPeer,
    server_cert: ServerCert,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PROBE_PW", AUTH_PASSWORD)
    code, doc = run_json(
        capsys,
        "ehlo",
        *target(starttls_peer),
        "--ca-file",
        str(server_cert.ca),
        "--user",
        AUTH_USER,
        "--password-env",
        "PROBE_PW",
    )
    probe = probe_of(doc)
    assert probe["auth"]["succeeded"] is True
    assert probe["auth"]["over_tls"] is True
    assert probe["auth"]["mechanism"] == "PLAIN"
    assert code == 0, probe["findings"]


# -- MAIL, RCPT, DATA -----------------------------------------------------------------------------


def test_envelope_without_data_ends_with_rset(
    capsys: pytest.CaptureFixture[str], smtp_peer_factory: Callable[..., SmtpPeer]
) -> None:
    peer = smtp_peer_factory(
        rules=lambda cmd: (
            "550 5.1.1 <nobody@x.test>: Recipient address rejected: User unknown"
            if cmd.verb == "RCPT" and "nobody" in cmd.argument
            else None
        )
    )
    code, doc = run_json(
        capsys,
        "ehlo",
        *target(peer),
        "--from",
        "probe@a.test",
        "--to",
        "someone@x.test",
        "--to",
        "<nobody@x.test>",
    )
    probe = probe_of(doc)
    assert code == 1
    assert probe["mail"]["outcome"] == "accepted"
    assert [r["outcome"] for r in probe["rcpt"]] == ["accepted", "rejected"]
    rejected = probe["rcpt"][1]
    assert rejected["enhanced_code"] == "5.1.1"
    assert rejected["explanation"]  # a title from the NDR table
    assert codes(probe)["smtp.rcpt-rejected"] == "warn"
    assert probe["message_sent"] is False
    peer.wait_idle()
    assert peer.transcript.commands() == ["EHLO", "MAIL", "RCPT", "RCPT", "RSET", "QUIT"]
    assert not peer.transcript.saw_data()


def test_data_sends_a_test_message(
    capsys: pytest.CaptureFixture[str], exchange2000_peer: SmtpPeer
) -> None:
    code, doc = run_json(
        capsys,
        "ehlo",
        *target(exchange2000_peer),
        "--from",
        "sfine@example.com",
        "--to",
        "tbremmer@contoso.com",
        "--data",
        "--subject",
        "hello there",
        "--expect",
        "exchange2000",
    )
    probe = probe_of(doc)
    assert probe["data"]["code"] == 250
    assert "Queued mail for delivery" in probe["data"]["text"]
    assert probe["message_sent"] is True
    exchange2000_peer.wait_idle()
    assert len(exchange2000_peer.messages) == 1
    message = exchange2000_peer.messages[0]
    assert b"Subject: hello there" in message
    assert b"Message-ID: " + probe["message_id"].encode() in message
    assert b"Date: " in message
    assert code == 0, probe["findings"]


def test_deferred_recipient(
    capsys: pytest.CaptureFixture[str], smtp_peer_factory: Callable[..., SmtpPeer]
) -> None:
    peer = smtp_peer_factory(
        rules={"RCPT": "450 4.2.0 <x@y.test>: Recipient address rejected: greylisted"}
    )
    code, doc = run_json(capsys, "ehlo", *target(peer), "--from", "a@b.test", "--to", "x@y.test")
    probe = probe_of(doc)
    assert probe["rcpt"][0]["outcome"] == "deferred"
    assert "smtp.rcpt-deferred" in codes(probe)
    assert code == 1


# -- transcript ----------------------------------------------------------------------------------


def test_transcript_file_and_markers(
    capsys: pytest.CaptureFixture[str], exchange2000_peer: SmtpPeer, tmp_path: Path
) -> None:
    path = tmp_path / "session.txt"
    _code, out, _ = run(capsys, "ehlo", *target(exchange2000_peer), "--transcript", str(path))
    text = path.read_text()
    assert " C: EHLO " in text
    assert " S: 250-mail1.example.com Hello" in text
    assert " C: QUIT" in text
    assert "timings:" in text
    assert " C: EHLO " in out and " S: 220 " in out


def test_options_before_and_after_the_subcommand(
    capsys: pytest.CaptureFixture[str], exchange2000_peer: SmtpPeer
) -> None:
    code1, out1, _ = run(capsys, "ehlo", *target(exchange2000_peer), "--json")
    code2, out2, _ = run(capsys, "--json", "ehlo", *target(exchange2000_peer))
    assert code1 == code2
    assert json.loads(out1)["command"] == json.loads(out2)["command"] == "ehlo"


def test_json_shape(capsys: pytest.CaptureFixture[str], exchange2000_peer: SmtpPeer) -> None:
    _code, doc = run_json(capsys, "ehlo", *target(exchange2000_peer))
    assert set(doc) >= {"schema_version", "command", "inputs", "exit_code", "status", "errors"}
    results = doc["results"]
    assert set(results) == {"mx_domain", "exchangers", "probes", "failure"}
    probe = probe_of(doc)
    for key in (
        "host",
        "address",
        "port",
        "helo_name",
        "banner",
        "greeting_command",
        "advertised",
        "advertised_after_tls",
        "verbs_only_after_tls",
        "comparison",
        "tls",
        "auth",
        "mail",
        "rcpt",
        "data",
        "findings",
        "failure",
        "transcript",
        "timings",
    ):
        assert key in probe
    line = probe["transcript"][0]
    assert set(line) == {"at", "side", "text"}
    assert {entry["side"] for entry in probe["transcript"]} >= {"client", "server"}
    assert probe["timings"][0]["step"] == "connect"
    ext = probe["advertised"]["extensions"][0]
    assert set(ext) == {"keyword", "params", "line", "legacy"}
    assert doc["inputs"]["port"] == exchange2000_peer.port
    assert doc["inputs"]["password_source"] is None


def test_password_prompt_on_a_terminal(
    capsys: pytest.CaptureFixture[str], auth_peer: SmtpPeer, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[str] = []

    def fake_getpass(prompt: str, stream: Any = None) -> str:
        asked.append(prompt)
        return AUTH_PASSWORD

    monkeypatch.setattr("sys.stdin.isatty", lambda: True, raising=False)
    monkeypatch.setattr("getpass.getpass", fake_getpass)
    _code, doc = run_json(capsys, "ehlo", *target(auth_peer), "--user", AUTH_USER)
    assert asked == [f"Password for {AUTH_USER}: "]
    probe = probe_of(doc)
    assert probe["auth"]["succeeded"] is True
    assert doc["inputs"]["password_source"] == "prompt"
