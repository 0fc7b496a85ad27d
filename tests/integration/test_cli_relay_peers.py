"""`mailprobe relay-test` against scripted SMTP peers on 127.0.3.x (tests/support/peers.py)."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from mailprobe.cli.app import main
from tests.support.peers import (
    AUTH_PASSWORD,
    AUTH_USER,
    RELAY_ADDRESS,
    SmtpCommand,
    drop_after_rejections_rules,
    mid_battery_421_rules,
)


def _run_json(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any]]:
    code = main(["relay-test", "--json", *args])
    captured = capsys.readouterr()
    return code, json.loads(captured.out)


def _report(doc: dict[str, Any]) -> dict[str, Any]:
    reports = doc["results"]["reports"]
    assert len(reports) == 1
    report: dict[str, Any] = reports[0]
    return report


def _codes(report: dict[str, Any]) -> set[str]:
    return {f["code"] for f in report["findings"]}


def _target(peer: Any) -> list[str]:
    return [peer.address, "--port", str(peer.port)]


# -- verdicts ---------------------------------------------------------------------------------


def test_percent_hack_only_is_open_naming_the_variants(
    percent_hack_peer: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    code, doc = _run_json(capsys, *_target(percent_hack_peer))
    report = _report(doc)
    assert code == 1
    assert report["verdict"] == "open"
    accepted = set(report["accepted_variants"])
    assert {"percent-own", "percent-host", "percent-literal"} <= accepted
    assert all(name.startswith("percent") for name in accepted)
    assert "plain" not in accepted
    assert "relay.open" in _codes(report)
    open_finding = next(f for f in report["findings"] if f["code"] == "relay.open")
    assert "percent-literal" in open_finding["summary"]
    assert not percent_hack_peer.transcript.saw_data()


def test_exchange_style_sender_ok_then_550_is_closed(
    exchange_relay_denied_peer: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    code, doc = _run_json(capsys, *_target(exchange_relay_denied_peer))
    report = _report(doc)
    assert report["verdict"] == "closed", report["reason"]
    assert code == 0
    plain = next(v for v in report["variants"] if v["name"] == "plain")
    assert plain["mail_reply"]["code"] == 250  # 250 to MAIL alone never means relay
    assert plain["rcpt_reply"]["code"] == 550
    assert plain["rcpt_reply"]["enhanced_code"] == "5.7.1"
    assert plain["outcome"] == "rejected"
    assert report["own_domain"] == "example.com"
    assert report["server_name"] == "mail1.example.com"


def test_accept_everything_at_rcpt_is_inconclusive_without_send(
    reject_at_data_peer: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    # Made-up local recipients and external ones are all accepted at RCPT: RCPT replies say
    # nothing (anti-harvesting set-ups, Exim acl_smtp_predata): never OPEN from them alone.
    code, doc = _run_json(capsys, *_target(reject_at_data_peer))
    report = _report(doc)
    assert code == 1
    assert report["verdict"] == "inconclusive"
    assert "accepts every recipient at RCPT" in report["reason"]
    assert "confirm with --send" in report["reason"]
    codes = _codes(report)
    assert "relay.accepts-unknown-recipients" in codes
    assert report["sent"] is None and report["sends"] == []
    evidence = {v["name"]: v["evidence"] for v in report["variants"]}
    assert evidence["plain"] == "accepted-external"
    assert evidence["percent-own"] == "unconfirmed-local"  # the own domain takes any local part
    assert "plain" in report["deciding_variants"]
    assert not reject_at_data_peer.transcript.saw_data()


def test_send_refused_at_data_for_every_variant_is_closed(
    reject_at_data_peer: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    code, doc = _run_json(
        capsys, *_target(reject_at_data_peer), "--send", "--to", "me@mailbox.example"
    )
    report = _report(doc)
    assert report["verdict"] == "closed", report["reason"]
    assert "at DATA" in report["reason"]
    sends = report["sends"]
    external = [v for v in report["variants"] if v["evidence"] == "refused-at-data"]
    assert len(sends) == len(external) >= 1
    assert {s["outcome"] for s in sends} == {"rejected-at-data"}
    assert report["sent"]["data_reply"]["code"] == 550
    assert "relay.data-rejected" in _codes(report)
    assert "relay.rcpt-only" not in _codes(report)
    # own-domain forms at a server that takes any local part would be local deliveries
    assert not any("@mail" in s["rcpt_to"] and "%" in s["rcpt_to"] for s in sends)
    data_commands = [c for c in reject_at_data_peer.transcript.commands() if c.upper() == "DATA"]
    assert len(data_commands) == len(sends)  # one message per accepted variant, to --to only
    assert all("mailbox.example" in s["rcpt_to"].lower() for s in sends)
    assert code == 0  # CLOSED; refusing at DATA is advice (relay.data-rejected is info)


def test_drop_after_three_rejections_reconnects_and_completes(
    drop_after_rejections_peer: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    code, doc = _run_json(capsys, *_target(drop_after_rejections_peer), "--relay-only")
    report = _report(doc)
    assert report["verdict"] == "closed", report["reason"]
    assert code == 0
    assert report["reconnects"] >= 1
    assert all(v["outcome"] == "rejected" for v in report["variants"])
    assert "relay.reconnects" in _codes(report)
    assert drop_after_rejections_peer.transcript.connections() > 4


def test_drop_with_421_after_three_rejections_completes(
    smtp_peer_factory: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    peer = smtp_peer_factory(
        address=RELAY_ADDRESS,
        hostname="mail.relay.test",
        rules=drop_after_rejections_rules(3, say_421=True),
    )
    code, doc = _run_json(capsys, *_target(peer), "--relay-only", "--connections", "2")
    report = _report(doc)
    assert report["verdict"] == "closed", report["reason"]
    assert code == 0
    assert report["reconnects"] >= 1


def test_421_mid_battery_is_respected_and_battery_completes(
    mid_battery_421_peer: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    code, doc = _run_json(capsys, *_target(mid_battery_421_peer))
    report = _report(doc)
    assert report["verdict"] == "closed", report["reason"]
    assert code == 0
    assert report["reconnects"] >= 1
    # after a 421 the connection is never used again
    transcript = mid_battery_421_peer.transcript
    for number in range(1, transcript.connections() + 1):
        sent = transcript.sent(number)
        if any(line.startswith("421") for line in sent):
            assert sent[-1].startswith("421")


def test_421_for_good_is_inconclusive(
    smtp_peer_factory: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    peer = smtp_peer_factory(
        address=RELAY_ADDRESS,
        hostname="mail.relay.test",
        rules=mid_battery_421_rules(12, per_connection=False),
    )
    code, doc = _run_json(capsys, *_target(peer), "--relay-only", "--connections", "2")
    report = _report(doc)
    assert code == 1
    assert report["verdict"] == "inconclusive"
    assert "not tested" in report["reason"] or "could not" in report["reason"]
    assert any(v["outcome"] == "not-tested" for v in report["variants"])
    assert "relay.inconclusive" in _codes(report)


def test_greylisting_4xx_is_inconclusive(
    smtp_peer_factory: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    def rule(cmd: SmtpCommand) -> str | None:
        if cmd.verb == "RCPT":
            return "450 4.2.0 <x>: Recipient address rejected: Greylisted, try again later"
        return None

    peer = smtp_peer_factory(address=RELAY_ADDRESS, hostname="mail.relay.test", rules=rule)
    code, doc = _run_json(capsys, *_target(peer), "--relay-only")
    report = _report(doc)
    assert code == 1
    assert report["verdict"] == "inconclusive"
    assert "deferred" in report["reason"]


def test_530_authentication_required_is_closed(
    smtp_peer_factory: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    peer = smtp_peer_factory(
        address=RELAY_ADDRESS,
        hostname="mail.relay.test",
        rules={"MAIL": "530 5.7.0 Authentication required"},
    )
    code, doc = _run_json(capsys, *_target(peer), "--relay-only")
    report = _report(doc)
    assert report["verdict"] == "closed"
    assert code == 0
    assert {v["outcome"] for v in report["variants"]} == {"auth-required"}
    assert "relay.auth-required" in _codes(report)


def test_helo_only_server_is_tested(
    smtp_peer_factory: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    def rule(cmd: SmtpCommand) -> str | None:
        if cmd.verb == "EHLO":
            return "500 5.5.1 Command unrecognized"
        if cmd.verb == "RCPT" and "%" in (cmd.address or ""):
            return None
        if cmd.verb == "RCPT":
            return "550 5.7.1 Relaying denied"
        return None

    peer = smtp_peer_factory(address=RELAY_ADDRESS, hostname="old.relay.test", rules=rule)
    code, doc = _run_json(capsys, *_target(peer), "--relay-only")
    report = _report(doc)
    assert report["verdict"] == "open"
    assert "percent-own" in report["accepted_variants"]
    assert code == 1


def test_mail_from_refused_is_not_counted_as_tested(
    smtp_peer_factory: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    def rule(cmd: SmtpCommand) -> str | None:
        if cmd.verb == "MAIL" and cmd.address == "":
            return "550 5.7.1 Null sender refused"
        if cmd.verb == "RCPT":
            return "554 5.7.1 Relay access denied"
        return None

    peer = smtp_peer_factory(address=RELAY_ADDRESS, hostname="mail.relay.test", rules=rule)
    code, doc = _run_json(capsys, *_target(peer), "--relay-only")
    report = _report(doc)
    null = next(v for v in report["variants"] if v["name"] == "null-sender")
    assert null["outcome"] == "mail-refused"
    assert null["rcpt_reply"] is None
    assert report["verdict"] == "closed"
    assert "not tested because MAIL FROM was refused" in report["reason"]
    assert "relay.not-tested" in _codes(report)
    assert code == 0


# -- authenticated relay, enumeration ---------------------------------------------------------


def _auth_relay_rule(cmd: SmtpCommand) -> str | None:
    if cmd.verb == "RCPT" and cmd.session.sender is not None and not cmd.session.authenticated:
        return "554 5.7.1 Relay access denied"
    return None


def test_authenticated_session_may_relay(
    smtp_peer_factory: Any,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    peer = smtp_peer_factory(
        address=RELAY_ADDRESS,
        hostname="mail.relay.test",
        auth_users={AUTH_USER: AUTH_PASSWORD},
        rules=_auth_relay_rule,
    )
    monkeypatch.setenv("RELAY_TEST_PW", AUTH_PASSWORD)
    transcript = tmp_path / "relay.txt"
    code, doc = _run_json(
        capsys,
        *_target(peer),
        "--relay-only",
        "--user",
        AUTH_USER,
        "--password-env",
        "RELAY_TEST_PW",
        "--transcript",
        str(transcript),
    )
    report = _report(doc)
    assert report["verdict"] == "closed"
    auth = report["authenticated"]
    assert auth["outcome"] == "accepted"
    assert auth["auth_reply"]["code"] == 235
    assert "relay.auth-relay-allowed" in _codes(report)
    assert code == 0
    text = transcript.read_text()
    assert AUTH_PASSWORD not in text
    assert "authenticated session" in text
    assert AUTH_PASSWORD not in json.dumps(doc)
    assert doc["inputs"]["password_source"] == "env:RELAY_TEST_PW"


def test_wrong_password_is_a_warning(
    smtp_peer_factory: Any, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    peer = smtp_peer_factory(
        address=RELAY_ADDRESS,
        hostname="mail.relay.test",
        auth_users={AUTH_USER: AUTH_PASSWORD},
        rules=_auth_relay_rule,
    )
    secret = tmp_path / "pw"
    secret.write_text("wrong-password\n")
    code, doc = _run_json(
        capsys, *_target(peer), "--relay-only", "--user", AUTH_USER, "--password-file", str(secret)
    )
    report = _report(doc)
    assert report["authenticated"]["outcome"] == "auth-failed"
    assert "relay.auth-failed" in _codes(report)
    assert code == 1


def test_vrfy_enumeration_is_reported(
    smtp_peer_factory: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    def rule(cmd: SmtpCommand) -> str | None:
        if cmd.verb == "VRFY":
            if cmd.argument == "postmaster@relay.test":
                return "250 2.1.5 Postmaster <postmaster@relay.test>"
            return "550 5.1.1 User unknown"
        if cmd.verb == "EXPN":
            return "250 2.1.5 Alice <alice@relay.test>"
        if cmd.verb == "RCPT":
            return "550 5.7.1 Relaying denied"
        return None

    peer = smtp_peer_factory(address=RELAY_ADDRESS, hostname="mail.relay.test", rules=rule)
    code, doc = _run_json(capsys, *_target(peer))
    report = _report(doc)
    assert report["enumeration"]["vrfy_reveals_users"] is True
    assert report["enumeration"]["expn_enabled"] is True
    codes = _codes(report)
    assert {"relay.vrfy-enumeration", "relay.expn-enabled"} <= codes
    assert report["verdict"] == "closed"
    assert code == 0  # information only


# -- output ------------------------------------------------------------------------------------


def test_json_shape(exchange_relay_denied_peer: Any, capsys: pytest.CaptureFixture[str]) -> None:
    code, doc = _run_json(capsys, *_target(exchange_relay_denied_peer))
    assert doc["command"] == "relay-test"
    assert doc["exit_code"] == code
    assert set(doc) >= {"schema_version", "tool", "inputs", "exit_code", "status", "results"}
    results = doc["results"]
    assert set(results) == {"mx_domain", "verdict", "reason", "reports", "failures"}
    report = _report(doc)
    assert set(report) == {
        "target",
        "address",
        "port",
        "verdict",
        "reason",
        "accepted_variants",
        "server_name",
        "own_domain",
        "own_domain_source",
        "address_literal",
        "external_domain",
        "variants",
        "probes",
        "skipped",
        "enumeration",
        "authenticated",
        "sent",
        "connections_opened",
        "reconnects",
        "seconds",
        "findings",
        "failures",
        "deciding_variants",
        "sends",
        "desynced_sessions",
    }
    variant = report["variants"][0]
    assert set(variant) == {
        "name",
        "group",
        "kind",
        "title",
        "mail_from",
        "rcpt_to",
        "outcome",
        "mail_reply",
        "rcpt_reply",
        "connection",
        "attempts",
        "note",
        "evidence",
    }
    assert set(variant["rcpt_reply"]) == {"code", "lines", "enhanced_code"}
    names = [v["name"] for v in report["variants"]]
    assert len(names) == len(set(names)) >= 16
    assert {p["name"] for p in report["probes"]} == {
        "local-postmaster",
        "local-unknown",
        "internal-spoof",
    }
    assert report["address_literal"] == f"[{RELAY_ADDRESS}]"


def test_human_output_and_transcript(
    percent_hack_peer: Any,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.setenv("COLUMNS", "220")
    transcript = tmp_path / "t.txt"
    code = main(
        [
            "relay-test",
            *_target(percent_hack_peer),
            "--no-color",
            "--transcript",
            str(transcript),
        ]
    )
    out = capsys.readouterr().out
    assert code == 1
    assert "Verdict: OPEN RELAY" in out
    assert "ACCEPTED" in out
    assert "<relaytest%example.net@relay.test>" in out
    text = transcript.read_text()
    assert text.count("# mailprobe relay-test") >= 2
    assert "C: RCPT TO:<relaytest%example.net@relay.test>" in text
    assert "connection 1" in text


def test_unreachable_server_exits_3(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.3.11", 0))
        port = probe.getsockname()[1]
    code = main(["relay-test", "127.0.3.11", "--port", str(port), "--timeout", "2"])
    captured = capsys.readouterr()
    assert code == 3
    assert "connection refused" in captured.err


def test_subprocess_json(exchange_relay_denied_peer: Any) -> None:
    env = {**os.environ, "NO_COLOR": "1"}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mailprobe",
            "relay-test",
            *_target(exchange_relay_denied_peer),
            "--json",
            "--relay-only",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["results"]["verdict"] == "closed"


# -- bad input ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("--domain", "example.org\r\nRCPT TO:<x@evil.example>"),
        ("--external", "example.net\nDATA"),
        ("--to", "me@example.net\r\nDATA"),
        ("--from", "probe\x00"),
        ("--domain", "exa\x1bmple.org"),
        ("--to", "not-an-address"),
        ("--domain", "bad domain"),
    ],
)
def test_bad_input_is_refused(option: str, value: str, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["relay-test", "127.0.3.12", "--port", "1", option, value])
    captured = capsys.readouterr()
    assert code == 2
    assert captured.err.startswith("mailprobe: error:")
    assert "\r" not in captured.err and captured.err.count("\n") == 1


def test_no_target_says_how_to_give_one(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    monkeypatch.delenv("MAILPROBE_HOST", raising=False)
    monkeypatch.delenv("MAILPROBE_CONFIG", raising=False)
    code = main(["relay-test"])
    err = capsys.readouterr().err
    assert code == 2
    assert "relay-test HOST" in err and "--mx DOMAIN" in err


def test_send_needs_to(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["relay-test", "127.0.3.12", "--send"])
    assert code == 2
    assert "--send needs --to" in capsys.readouterr().err


# -- targets: --mx, IPv6, one connection, STARTTLS ------------------------------------------------


def test_mx_tests_every_exchanger(
    smtp_peer_factory: Any,
    dns_server: Any,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from tests.support.peers import exchange_relay_denied_rules, percent_hack_rules

    first = smtp_peer_factory(
        address="127.0.3.13",
        hostname="mx1.relay.test",
        rules=percent_hack_rules(["relay.test", "[127.0.3.13]"]),
    )
    second = smtp_peer_factory(
        address="127.0.3.14",
        port=first.port,
        hostname="mx2.relay.test",
        rules=exchange_relay_denied_rules(["relay.test"]),
    )
    zone = f"@ MX 10 mx1\n@ MX 20 mx2\nmx1 A {first.address}\nmx2 A {second.address}\n"
    dns = dns_server({"relay.test": zone}, address="127.0.3.53")
    monkeypatch.setenv("MAILPROBE_DNS_SERVER", dns.spec)
    code, doc = _run_json(capsys, "--mx", "relay.test", "--port", str(first.port), "--relay-only")
    results = doc["results"]
    assert code == 1
    assert results["mx_domain"] == "relay.test"
    assert results["verdict"] == "open"
    assert "mx1.relay.test" in results["reason"]
    verdicts = {r["target"]: r["verdict"] for r in results["reports"]}
    assert verdicts == {"mx1.relay.test": "open", "mx2.relay.test": "closed"}
    assert {r["own_domain"] for r in results["reports"]} == {"relay.test"}
    assert {r["own_domain_source"] for r in results["reports"]} == {"--mx"}
    assert doc["inputs"]["mx"] == "relay.test"


def test_mx_null_exits_3(dns_server: Any, capsys: pytest.CaptureFixture[str]) -> None:
    dns = dns_server({"nomail.test": "@ MX 0 .\n"}, address="127.0.3.53")
    code = main(["relay-test", "--mx", "nomail.test", "--dns-server", dns.spec])
    err = capsys.readouterr().err
    assert code == 3
    assert "null MX" in err
    assert [q for q in dns.queries if "nomail.test" in str(q)]  # asked the server we named


def test_bad_dns_server_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["relay-test", "--mx", "example.org", "--dns-server", "not-an-ip"]) == 2
    assert "not-an-ip" in capsys.readouterr().err


def test_ipv6_address_literal(smtp_peer_factory: Any, capsys: pytest.CaptureFixture[str]) -> None:
    from tests.support.peers import percent_hack_rules

    try:
        peer = smtp_peer_factory(
            address="::1",
            hostname="mail.relay.test",
            rules=percent_hack_rules(["relay.test", "[IPv6:::1]"]),
        )
    except OSError:
        pytest.skip("no IPv6 loopback")
    code, doc = _run_json(capsys, "::1", "--port", str(peer.port), "--relay-only")
    report = _report(doc)
    assert report["address_literal"] == "[IPv6:::1]"
    literal = next(v for v in report["variants"] if v["name"] == "percent-literal")
    assert literal["rcpt_to"] == "relaytest%example.net@[IPv6:::1]"
    assert literal["outcome"] == "accepted"
    assert code == 1


def test_one_connection_still_completes(
    exchange_relay_denied_peer: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    code, doc = _run_json(
        capsys, *_target(exchange_relay_denied_peer), "--connections", "1", "--relay-only"
    )
    report = _report(doc)
    assert report["verdict"] == "closed"
    assert code == 0
    # at most 8 errors per session: 28 rejections need at least 4 sessions
    assert report["connections_opened"] >= 4
    assert {v["connection"] for v in report["variants"]} >= {"connection 1", "connection 2"}


def test_starttls_sessions_and_authenticated_relay_over_tls(
    smtp_peer_factory: Any,
    server_cert: Any,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    from tests.support.peers import POSTFIX_EHLO

    peer = smtp_peer_factory(
        address=RELAY_ADDRESS,
        hostname="mail.relay.test",
        tls_context=server_cert.server_context(),
        ehlo_after_tls=[*POSTFIX_EHLO, "AUTH PLAIN LOGIN"],
        auth_users={AUTH_USER: AUTH_PASSWORD},
        advertise_auth=False,
        rules=_auth_relay_rule,
    )
    monkeypatch.setenv("RELAY_TEST_PW", AUTH_PASSWORD)
    transcript = tmp_path / "t.txt"
    code, doc = _run_json(
        capsys,
        *_target(peer),
        "--relay-only",
        "--starttls",
        "--user",
        AUTH_USER,
        "--password-env",
        "RELAY_TEST_PW",
        "--transcript",
        str(transcript),
    )
    report = _report(doc)
    assert report["verdict"] == "closed"
    assert report["authenticated"]["tls"] is True
    assert report["authenticated"]["mechanism"] == "PLAIN"
    assert report["authenticated"]["outcome"] == "accepted"
    assert code == 0
    text = transcript.read_text()
    assert text.count("C: STARTTLS") >= 2
    assert "AUTH PLAIN ********" in text
    for output in (text, json.dumps(doc)):
        for secret in _secret_forms(AUTH_USER, AUTH_PASSWORD):
            assert secret not in output


def test_own_domain_from_ptr_when_the_greeting_has_no_name(
    smtp_peer_factory: Any,
    dns_server: Any,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    peer = smtp_peer_factory(
        address="127.0.3.15",
        hostname="localhost",
        banner="220 ESMTP service ready",
        rules={"RCPT": "550 5.7.1 Relaying denied"},
    )
    dns = dns_server(
        {"3.0.127.in-addr.arpa": "15 PTR smtp.ptr-relay.test.\n"}, address="127.0.3.53"
    )
    monkeypatch.setenv("MAILPROBE_DNS_SERVER", dns.spec)
    code, doc = _run_json(capsys, *_target(peer), "--relay-only")
    report = _report(doc)
    assert report["server_name"] is None
    assert report["own_domain"] == "ptr-relay.test"
    assert report["own_domain_source"] == "ptr"
    skipped = {s["name"] for s in report["skipped"]}
    assert "percent-host" in skipped
    assert report["verdict"] == "closed"
    assert code == 0


def test_battery_past_the_session_timeout_is_inconclusive(
    peer_factory: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    async def slow_rcpt(conn: Any) -> None:
        await conn.send_lines(["220 mail.relay.test ESMTP slow"])
        while (line := await conn.readline()) is not None:
            verb = line.split(" ", 1)[0].upper()
            if verb == "EHLO":
                await conn.send_lines(["250-mail.relay.test", "250 ENHANCEDSTATUSCODES"])
            elif verb == "RCPT":
                await asyncio.sleep(0.4)
                await conn.send_lines(["550 5.7.1 Relaying denied"])
            elif verb == "QUIT":
                await conn.send_lines(["221 2.0.0 Bye"])
                await conn.close()
                return
            else:
                await conn.send_lines(["250 2.0.0 Ok"])

    peer = peer_factory.raw(slow_rcpt, address=RELAY_ADDRESS)
    code, doc = _run_json(capsys, *_target(peer), "--relay-only", "--session-timeout", "1")
    report = _report(doc)
    assert code == 1
    assert report["verdict"] == "inconclusive"
    assert "did not finish within 1 s" in report["reason"]
    outcomes = {v["outcome"] for v in report["variants"]}
    assert "rejected" in outcomes and "not-tested" in outcomes


def _secret_forms(user: str, password: str) -> list[str]:
    """The password as typed and in every base64 form AUTH LOGIN/PLAIN would send it."""
    import base64

    forms = [password]
    for raw in (password, f"\0{user}\0{password}"):
        encoded = base64.b64encode(raw.encode()).decode()
        forms += [encoded, encoded.rstrip("=")]
    return forms


def test_to_in_the_servers_own_domain_is_refused(
    exchange_relay_denied_peer: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    # Every "relay" would be a local delivery: the test would prove nothing.
    code = main(["relay-test", *_target(exchange_relay_denied_peer), "--to", "someone@example.com"])
    err = capsys.readouterr().err
    assert code == 2
    assert "--to domain example.com is the server's own" in err
