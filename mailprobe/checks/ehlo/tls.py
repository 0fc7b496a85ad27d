"""The TLS layer of a probe: what a handshake showed (``TlsReport``), and its judgement.

``tls_report(info, ...)`` summarises the engine's ``TlsInfo``; ``tls_findings(report, ...)``
judges trust, name, expiry and protocol version; ``starttls_not_offered`` is the one rule for a
server without STARTTLS.
"""

from __future__ import annotations

import dataclasses
import ssl
import time

from mailprobe.checks.ehlo.profiles import VerbProfile
from mailprobe.findings import make
from mailprobe.model import Finding, Severity
from mailprobe.smtp.tls import TlsInfo, whole_days

#: A certificate that expires within this many days earns ``tls.expires-soon``.
EXPIRES_SOON_DAYS = 14
_OLD_TLS = frozenset({"SSLv2", "SSLv3", "TLSv1", "TLSv1.1"})


@dataclasses.dataclass(frozen=True)
class TlsReport:
    """The TLS layer of a session: protocol, cipher, certificate, and how it was judged.

    ``mode`` is ``starttls`` or ``implicit``; ``not_after`` is ISO 8601 (UTC);
    ``verified`` False means the chain was not trusted (``verify_error`` says why) and the
    session went on only because of ``--insecure``.
    """

    mode: str
    version: str | None
    cipher: str | None
    subject: str | None
    issuer: str | None
    sans: tuple[str, ...]
    not_before: str | None
    not_after: str | None
    days_left: int | None
    verified: bool
    verify_error: str | None
    checked_name: str | None
    name_matches: bool | None


def _cert_time(text: str | None) -> float | None:
    if not text:
        return None
    try:
        return float(ssl.cert_time_to_seconds(text))
    except ValueError:
        return None


def _iso(seconds: float | None) -> str | None:
    if seconds is None:
        return None
    import datetime

    return datetime.datetime.fromtimestamp(seconds, datetime.UTC).isoformat()


def tls_report(
    info: TlsInfo, mode: str, verify_error: str | None = None, now: float | None = None
) -> TlsReport:
    """Summarise a ``TlsInfo`` (dates in ISO form, days until expiry)."""
    now = time.time() if now is None else now
    before = _cert_time(info.not_before)
    after = _cert_time(info.not_after)
    days_left = whole_days(after - now) if after is not None else None
    return TlsReport(
        mode=mode,
        version=info.version,
        cipher=info.cipher,
        subject=info.subject,
        issuer=info.issuer,
        sans=info.sans,
        not_before=_iso(before) if before is not None else info.not_before,
        not_after=_iso(after) if after is not None else info.not_after,
        days_left=days_left,
        verified=info.verified,
        verify_error=None if info.verified else (verify_error or info.verify_error),
        checked_name=info.checked_name,
        name_matches=info.name_matches,
    )


def tls_findings(
    tls: TlsReport, subject: str = "", expires_soon_days: int = EXPIRES_SOON_DAYS
) -> tuple[Finding, ...]:
    """Judge a TLS report: trust, name, expiry, protocol version."""
    findings: list[Finding] = []
    if not tls.verified:
        findings.append(
            Finding(
                Severity.FAIL,
                "tls.certificate-untrusted",
                f"certificate not trusted: {tls.verify_error or 'verification failed'} "
                "(continued because of --insecure)",
                "Install a certificate from a CA that senders trust, with the full chain "
                "(intermediates); test a private CA with --ca-file.",
                subject,
            )
        )
    if name_not_judged(tls):
        # Probed by address (like `telnet 192.0.2.25 25`): certificates name hosts, so a
        # mismatch says nothing about the server. Say what it names instead.
        names = ", ".join(tls.sans[:8]) or tls.subject or "no names"
        findings.append(
            Finding(
                Severity.INFO,
                "tls.name-not-checked",
                f"probed by address {tls.checked_name}; the certificate names {names}",
                "Probe the host name senders use (the MX name) to check that the certificate "
                "matches it.",
                subject,
            )
        )
    elif tls.name_matches is False:
        names = ", ".join(tls.sans[:8]) or tls.subject or "no names"
        findings.append(
            Finding(
                Severity.WARN,
                "tls.name-mismatch",
                f"certificate does not cover {tls.checked_name} (it names {names})",
                "Issue the certificate for the name clients connect to (the MX host name), "
                "or connect with the name the certificate carries.",
                subject,
            )
        )
    if tls.days_left is not None and tls.days_left < 0:
        findings.append(
            Finding(
                Severity.FAIL,
                "tls.expired",
                f"certificate expired on {tls.not_after} ({-tls.days_left} days ago)",
                "Renew the certificate and reload the mail server.",
                subject,
            )
        )
    elif tls.days_left is not None and tls.days_left < expires_soon_days:
        findings.append(
            Finding(
                Severity.WARN,
                "tls.expires-soon",
                f"certificate expires on {tls.not_after} ({tls.days_left} days left)",
                "Renew the certificate now (check that automatic renewal works).",
                subject,
            )
        )
    if tls.version in _OLD_TLS:
        findings.append(
            Finding(
                Severity.FAIL,
                "tls.old-version",
                f"the server negotiated {tls.version}",
                "Enable TLS 1.2 and 1.3 on the server; TLS 1.0/1.1 are deprecated (RFC 8996).",
                subject,
            )
        )
    from mailprobe.checks.tls_scan.grade import session_level

    # The suite's grade (the version has its own finding above: tls.old-version).
    level = session_level("TLSv1.2" if tls.version in _OLD_TLS else tls.version, tls.cipher)
    graded = f"{tls.version} {tls.cipher}: {level} by the NCSC-NL guidelines" if level else ""
    if level in ("insufficient", "phase-out"):
        code = "tls.grade-insufficient" if level == "insufficient" else "tls.grade-phase-out"
        findings.append(
            make(
                code,
                f"the session negotiated {graded} (the full enumeration: mailprobe tls)",
                subject=subject,
            )
        )
    if not findings:
        findings.append(
            Finding(
                Severity.OK,
                "tls.ok",
                f"{tls.version or 'TLS'} with a trusted certificate for {tls.checked_name}"
                + (f", {tls.days_left} days left" if tls.days_left is not None else "")
                + (f"; {graded}" if graded else ""),
                "",
                subject,
            )
        )
    return tuple(findings)


def starttls_not_offered(profile: VerbProfile | None, required: bool, subject: str) -> Finding:
    """``tls.not-offered``, by the one rule every command applies: fail when TLS was
    required, info when the expected profile makes TLS optional, warn otherwise."""
    optional = profile is not None and profile.starttls == "optional"
    if required:
        severity, summary = (
            Severity.FAIL,
            "STARTTLS was required but the server does not advertise it; stopped before "
            "anything else was sent",
        )
    else:
        severity = Severity.INFO if optional else Severity.WARN
        summary = (
            "the server does not offer STARTTLS: mail to it travels unencrypted, and MTA-STS "
            "and DANE cannot work"
            + (f" (optional in {profile.name})" if optional and profile else "")
        )
    from mailprobe.findings import make

    return make("tls.not-offered", summary, subject=subject, severity=severity)


def name_not_judged(tls: TlsReport) -> bool:
    """Whether the certificate's names are reported, not judged: the name checked was an
    address (probed by address without ``--tls-name``) that the certificate does not carry.

    Certificates name hosts, so such a mismatch says nothing about the server; the finding
    (``tls.name-not-checked``) and the terminal both say so, neither says "does not match".
    """
    return tls.name_matches is False and _is_address(tls.checked_name)


def _is_address(name: str | None) -> bool:
    import ipaddress

    try:
        ipaddress.ip_address((name or "").strip("[]"))
    except ValueError:
        return False
    return True
