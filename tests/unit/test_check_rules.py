"""Pure parts of ``mailprobe check``: server guess, step status, summary, --allow-private,
and the renderers fed with a hand-made report (``sample_report``, reused by the HTML test)."""

from __future__ import annotations

import io
import json

import pytest
from rich.console import Console

from mailprobe.checks.check import (
    CheckReport,
    Reachability,
    ServerGuess,
    SmtpCheck,
    Target,
    guess_server,
    make_step,
    soften_private,
    summarize,
)
from mailprobe.checks.ehlo import CommandResult
from mailprobe.model import Failure, Finding, Severity, envelope
from mailprobe.render.check import render_check
from mailprobe.render.html import render_html
from mailprobe.smtp.session import TranscriptLine

EVIL_BANNER = "mx.evil.test ESMTP <script>console.error('pwned')</script> & <b>bold</b>"


def finding(severity: Severity, code: str, fix: str = "", subject: str = "x") -> Finding:
    return Finding(severity, code, f"summary of {code}", fix, subject)


@pytest.mark.parametrize(
    ("banner", "key", "profile"),
    [
        ("mail.example.org ESMTP Postfix (Debian/GNU)", "postfix", "postfix"),
        ("mx.example.org ESMTP Exim 4.96 Tue, 24 Nov 2026 10:00:00 +0000", "exim", None),
        ("mx.example.org ESMTP Sendmail 8.17.1/8.17.1; Tue, 24 Nov 2026", "sendmail", None),
        (
            "AM0PR01MB1234.eurprd01.prod.exchangelabs.com Microsoft ESMTP MAIL Service ready "
            "at Tue, 24 Nov 2026 10:00:00 +0000 [x.mail.protection.outlook.com]",
            "microsoft365",
            "exchange-internet",
        ),
        (
            "EXCH1.corp.example Microsoft ESMTP MAIL Service, Version: 6.0.3790.3959 ready",
            "exchange2003",
            "exchange2003",
        ),
        (
            "mail.corp.example Microsoft ESMTP MAIL Service, Version: 5.0.2195.6713 ready",
            "exchange2000",
            "exchange2000",
        ),
        (
            "ex2019.corp.example Microsoft ESMTP MAIL Service ready at Tue, 24 Nov 2026",
            "exchange",
            "exchange-internet",
        ),
        ("mx.google.com ESMTP d2e1a72fcca58-7 - gsmtp", "google", None),
        ("mail.example.org ESMTP OpenSMTPD", "opensmtpd", None),
        ("mx.example.org ESMTP Haraka/3.0.3 ready", "haraka", None),
    ],
)
def test_guess_server(banner: str, key: str, profile: str | None) -> None:
    guess = guess_server(banner)
    assert guess is not None
    assert (guess.key, guess.profile, guess.source) == (key, profile, "banner")


def test_guess_unknown_server() -> None:
    assert guess_server("mail.example.org ESMTP ready") is None
    assert guess_server("") is None


def test_guess_from_greeting_when_banner_is_bare() -> None:
    guess = guess_server("mx ESMTP", "mx.example.org Postfix")
    assert guess is not None and guess.key == "postfix"


def test_step_status() -> None:
    ok, info = finding(Severity.OK, "mx.ok"), finding(Severity.INFO, "mx.single")
    assert make_step("dns", [ok, info]).status == "ok"
    assert make_step("dns", [finding(Severity.WARN, "mx.ptr-missing")]).status == "problem"
    failure = Failure("reachability", "refused", "127.0.4.9", 25)
    assert make_step("dns", [finding(Severity.FAIL, "mx.null-mixed")], [failure]).status == (
        "incomplete"
    )
    skipped = make_step("relay", skipped="--no-relay")
    assert (skipped.status, skipped.reason, skipped.findings) == ("skipped", "--no-relay", ())


def test_step_findings_sorted_worst_first() -> None:
    step = make_step(
        "smtp",
        [
            finding(Severity.OK, "tls.ok"),
            finding(Severity.FAIL, "tls.expired"),
            finding(Severity.WARN, "tls.expires-soon"),
        ],
    )
    assert [f.code for f in step.findings] == ["tls.expired", "tls.expires-soon", "tls.ok"]


def test_summary_top_fixes_fail_first_deduplicated() -> None:
    steps = [
        make_step("dns", [finding(Severity.WARN, "mx.ptr-missing", "publish PTR")]),
        make_step(
            "smtp",
            [
                finding(Severity.WARN, "tls.not-offered", "enable STARTTLS", "mx1"),
                finding(Severity.WARN, "tls.not-offered", "enable STARTTLS", "mx2"),
                finding(Severity.INFO, "check.server-guess", "nothing"),
            ],
        ),
        make_step("relay", [finding(Severity.FAIL, "relay.open", "close the relay")]),
        make_step("policy", [finding(Severity.FAIL, "spf.multiple", "merge SPF")]),
    ]
    summary = summarize(steps)
    assert [f.code for f in summary.top_fixes] == ["relay.open", "spf.multiple", "mx.ptr-missing"]
    assert summary.counts == {"ok": 0, "info": 1, "warn": 3, "fail": 2}
    assert (summary.exit_code, summary.status) == (1, "problem")


def test_summary_exit_codes() -> None:
    assert summarize([make_step("dns", [finding(Severity.OK, "mx.ok")])]).exit_code == 0
    failure = Failure("reachability", "refused", "127.0.4.9", 25)
    incomplete = summarize([make_step("reachability", [], [failure])])
    assert (incomplete.exit_code, incomplete.status, incomplete.failures) == (3, "incomplete", 1)
    assert summarize([make_step("relay", skipped="--no-relay")]).exit_code == 0


def test_soften_private_touches_only_non_public_findings() -> None:
    findings = [
        finding(Severity.WARN, "mx.non-public-address"),
        finding(Severity.FAIL, "mx.no-public-exchanger"),
        finding(Severity.WARN, "mx.ptr-missing"),
    ]
    softened = soften_private(findings)
    assert [f.severity for f in softened] == [Severity.INFO, Severity.INFO, Severity.WARN]
    assert softened[0].summary.endswith("(accepted with --allow-private)")


# --- a hand-made report for the renderers --------------------------------------------------


def sample_report(banner: str = EVIL_BANNER) -> CheckReport:
    """A report with hostile peer text in the banner, a reply and the transcript."""
    subject = "mx.evil.test 127.0.4.7:25"
    smtp = SmtpCheck(
        host="mx.evil.test",
        address="127.0.4.7",
        port=25,
        server=None,
        greeting_command="EHLO",
        advertised=("PIPELINING", "SIZE", "<img src=x onerror=alert(1)>"),
        advertised_after_tls=(),
        comparison=None,
        starttls_offered=False,
        tls=None,
        mail=CommandResult("MAIL FROM:<>", 250, "2.1.0", "Ok", "accepted", None),
        postmaster=CommandResult(
            "RCPT TO:<postmaster@evil.test>",
            550,
            "5.1.1",
            "<script>alert('rcpt')</script> no such user",
            "rejected",
            None,
        ),
        recipient=None,
        findings=(),
        failure=None,
        transcript=(
            TranscriptLine(0.0, "note", "connecting to 127.0.4.7:25"),
            TranscriptLine(0.01, "server", f"220 {banner}"),
            TranscriptLine(0.02, "client", "EHLO probe.test"),
        ),
    )
    steps = [
        make_step(
            "dns", [Finding(Severity.OK, "mx.ok", "1 exchanger(s) resolve", "", "evil.test")]
        ),
        make_step(
            "reachability",
            [Finding(Severity.OK, "check.latency", f"{subject} greets in 3 ms", "", subject)],
        ),
        make_step(
            "smtp",
            [
                Finding(
                    Severity.WARN,
                    "tls.not-offered",
                    "the exchanger does not offer STARTTLS",
                    "Enable STARTTLS.",
                    subject,
                ),
                Finding(
                    Severity.FAIL,
                    "smtp.postmaster-rejected",
                    "RCPT TO:<postmaster@evil.test> rejected: 550 5.1.1 "
                    "<script>alert('rcpt')</script> no such user",
                    "Create the postmaster mailbox.",
                    subject,
                ),
            ],
        ),
        make_step("relay", skipped="--no-relay"),
        make_step(
            "policy",
            [
                Finding(
                    Severity.FAIL,
                    "spf.multiple",
                    'two SPF records: "v=spf1 <script>x</script> -all"',
                    "Merge them.",
                    "evil.test",
                )
            ],
        ),
    ]
    return CheckReport(
        domain="evil.test",
        domain_ascii="evil.test",
        domain_unicode="evil.test",
        dns_servers=("127.0.4.53:53",),
        exchangers=(Target(10, "mx.evil.test", ("127.0.4.7",)),),
        steps=tuple(steps),
        dns=None,
        reachability=(
            Reachability("mx.evil.test", "127.0.4.7", 25, "banner", 1.0, 2.0, (banner,), 220),
        ),
        smtp=(smtp,),
        relay=(),
        policy=None,
        summary=summarize(steps),
        seconds=0.5,
    )


def test_sample_report_json_shape() -> None:
    report = sample_report()
    doc = envelope("check", {"domain": "evil.test"}, report, report.exit_code)
    results = json.loads(json.dumps(doc))["results"]
    assert set(results) == {
        "domain",
        "domain_ascii",
        "domain_unicode",
        "dns_servers",
        "exchangers",
        "steps",
        "dns",
        "reachability",
        "smtp",
        "relay",
        "policy",
        "summary",
        "seconds",
        "blocklist",
        "blocklist_zones",
        "tls_scan",
        "changes",
    }
    assert "_certificate" not in results["smtp"][0]
    assert results["steps"][3] == {
        "name": "relay",
        "title": "Relay",
        "status": "skipped",
        "reason": "--no-relay",
        "skipped_parts": [],
        "findings": [],
        "failures": [],
    }
    assert results["summary"]["top_fixes"][0]["code"] in (
        "smtp.postmaster-rejected",
        "spf.multiple",
    )
    assert doc["exit_code"] == 1


def test_html_escapes_peer_text() -> None:
    page = render_html([sample_report()])
    assert "<script" not in page.lower()
    assert "<img" not in page and "<b>bold</b>" not in page
    assert "&lt;script&gt;console.error(&#x27;pwned&#x27;)&lt;/script&gt;" in page
    assert page.startswith("<!DOCTYPE html>")
    assert "http://" not in page and "https://" not in page  # no external assets
    for title in ("DNS", "Reachability", "SMTP", "Relay", "Policy records", "Summary"):
        assert f"{title} <span class=" in page


def test_terminal_report_prints_peer_text_literally() -> None:
    buffer = io.StringIO()
    console = Console(file=buffer, width=200, no_color=True, highlight=False)
    render_check(console, sample_report())
    out = buffer.getvalue()
    assert "<b>bold</b>" in out and "[/" not in out
    assert "4. Relay  SKIPPED (--no-relay)" in out
    assert "6. Summary  PROBLEMS FOUND" in out


def test_server_guess_dataclass_in_report() -> None:
    guess = ServerGuess("postfix", "Postfix", "postfix", "banner")
    assert guess.profile == "postfix"


def test_no_local_route_for_loopback_is_empty() -> None:
    from mailprobe.checks.check import _no_local_route

    assert _no_local_route("127.0.4.1", 25) == ""
