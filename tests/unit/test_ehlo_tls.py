"""Judging a TLS handshake: dates, trust, name, version (pure functions)."""

from __future__ import annotations

import ssl

from mailprobe.checks.ehlo import tls_findings, tls_report
from mailprobe.model import Severity
from mailprobe.smtp.tls import TlsInfo

NOW = ssl.cert_time_to_seconds("Jun  1 00:00:00 2026 GMT")


def info(**changes: object) -> TlsInfo:
    values: dict[str, object] = {
        "version": "TLSv1.3",
        "cipher": "TLS_AES_256_GCM_SHA384",
        "subject": "commonName=mail.example.org",
        "issuer": "organizationName=Test CA",
        "sans": ("mail.example.org",),
        "not_before": "Jan  1 00:00:00 2026 GMT",
        "not_after": "Jan  1 00:00:00 2027 GMT",
        "verified": True,
        "verify_error": None,
        "checked_name": "mail.example.org",
        "name_matches": True,
    }
    values.update(changes)
    return TlsInfo(**values)  # type: ignore[arg-type]


def codes(tls_info: TlsInfo, verify_error: str | None = None) -> dict[str, Severity]:
    report = tls_report(tls_info, "starttls", verify_error, now=NOW)
    return {f.code: f.severity for f in tls_findings(report, "mx:25")}


def test_report_dates() -> None:
    report = tls_report(info(), "starttls", now=NOW)
    assert report.not_after == "2027-01-01T00:00:00+00:00"
    assert report.not_before == "2026-01-01T00:00:00+00:00"
    assert report.days_left == 214
    assert report.verify_error is None


def test_healthy() -> None:
    assert codes(info()) == {"tls.ok": Severity.OK}


def test_expired_and_expiring() -> None:
    assert codes(info(not_after="May  1 00:00:00 2026 GMT"))["tls.expired"] is Severity.FAIL
    soon = codes(info(not_after="Jun 10 00:00:00 2026 GMT"))
    assert soon == {"tls.expires-soon": Severity.WARN}


def test_untrusted_keeps_the_reason() -> None:
    found = codes(info(verified=False), verify_error="self-signed certificate")
    assert found["tls.certificate-untrusted"] is Severity.FAIL
    report = tls_report(info(verified=False), "starttls", "self-signed certificate", now=NOW)
    assert report.verify_error == "self-signed certificate"
    summary = tls_findings(report)[0].summary
    assert "self-signed certificate" in summary


def test_name_mismatch_and_old_version() -> None:
    found = codes(info(name_matches=False, version="TLSv1"))
    assert found == {"tls.name-mismatch": Severity.WARN, "tls.old-version": Severity.FAIL}


def test_unreadable_dates_are_kept_as_text() -> None:
    report = tls_report(info(not_after="garbage"), "implicit", now=NOW)
    assert report.not_after == "garbage"
    assert report.days_left is None
