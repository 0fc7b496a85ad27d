"""TLS-RPT (RFC 8460): the ``_smtp._tls`` record that tells senders where to report TLS
failures."""

from __future__ import annotations

import dataclasses
import re

from mailprobe.checks.policy._lookup import QueryResolver, fqdn, lookup_txt
from mailprobe.checks.policy._text import shown
from mailprobe.checks.policy.catalog import FAIL, finding
from mailprobe.model import Failure, Finding

_VERSION = re.compile(r"v=TLSRPTv1[ \t]*(;|$)")
_MAILTO = re.compile(r"mailto:[^@\s,;]+@[A-Za-z0-9](?:[A-Za-z0-9\-.]*[A-Za-z0-9])?", re.I)
_HTTPS = re.compile(r"https://[^\s,;/?#]+[^\s,;]*", re.I)
_EXT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,31}")


@dataclasses.dataclass(frozen=True)
class TlsRptRecord:
    """A parsed TLS-RPT record: the report URIs, ``errors`` (unusable record) and
    ``warnings`` (URIs senders cannot use)."""

    text: str
    rua: tuple[str, ...] = ()
    errors: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()

    @property
    def valid(self) -> bool:
        return not self.errors


def is_tlsrpt_candidate(text: str) -> bool:
    """True for TXT text meant as a TLS-RPT record (``v=TLSRPT`` in any case)."""
    return text.strip().lower().startswith("v=tlsrpt")


def parse_tlsrpt(text: str) -> TlsRptRecord:
    """Parse ``v=TLSRPTv1; rua=mailto:...,https://...`` (RFC 8460 §3); never raises."""
    errors: list[str] = []
    warnings: list[str] = []
    if not _VERSION.match(text):
        errors.append("the record must start with 'v=TLSRPTv1;' (exactly, case matters)")
    rua: list[str] = []
    seen_rua = False
    for part in (p.strip(" \t") for p in text.split(";")[1:]):
        if not part:
            continue
        name, sep, value = part.partition("=")
        if not sep or not _EXT_NAME.fullmatch(name):
            errors.append(f"malformed field {shown(part, 40)} (expected name=value)")
            continue
        if name != "rua":
            continue  # extensions are allowed and ignored
        if seen_rua:
            errors.append("rua= appears more than once")
            continue
        seen_rua = True
        for item in value.split(","):
            uri = item.strip(" \t")
            if not uri:
                warnings.append("empty entry in rua=")
            elif _MAILTO.fullmatch(uri) or _HTTPS.fullmatch(uri):
                rua.append(uri)
            else:
                warnings.append(f"{shown(uri, 60)} is not a mailto: or https: URI")
    if not seen_rua:
        errors.append("the required rua= field is missing")
    elif not rua:
        errors.append("rua= holds no usable mailto: or https: URI")
    return TlsRptRecord(text, tuple(rua), tuple(errors), tuple(warnings))


@dataclasses.dataclass(frozen=True)
class TlsRptReport:
    """TLS-RPT of a domain: every TLS-RPT-looking record as published, the parsed one when
    there is exactly one, and the findings."""

    domain: str
    name: str
    records: tuple[str, ...] = ()
    parsed: TlsRptRecord | None = None
    findings: tuple[Finding, ...] = ()
    failures: tuple[Failure, ...] = ()


async def check_tlsrpt(domain: str, resolver: QueryResolver) -> TlsRptReport:
    """Check the ``_smtp._tls.DOMAIN`` TLS-RPT record."""
    domain = fqdn(domain)
    name = f"_smtp._tls.{domain}"
    found = await lookup_txt(resolver, name, "tls-rpt TXT")
    if found.failure is not None:
        return TlsRptReport(domain, name, failures=(found.failure,))
    records = tuple(t for t in found.texts if is_tlsrpt_candidate(t))
    if not records:
        return TlsRptReport(
            domain,
            name,
            findings=(finding("tlsrpt.missing", f"{name} has no TLS-RPT record", domain=domain),),
        )
    if len(records) > 1:
        listed = "; ".join(shown(r, 60) for r in records)
        return TlsRptReport(
            domain,
            name,
            records=records,
            findings=(
                finding(
                    "tlsrpt.multiple",
                    f"{name} has {len(records)} TLS-RPT records: {listed}",
                    domain=domain,
                ),
            ),
        )
    parsed = parse_tlsrpt(records[0])
    findings: list[Finding] = []
    if parsed.errors:
        findings.append(
            finding(
                "tlsrpt.syntax",
                f"TLS-RPT record at {name} is invalid: " + "; ".join(parsed.errors[:3]),
                domain=domain,
            )
        )
    if parsed.warnings:
        findings.append(
            finding("tlsrpt.bad-uri", f"TLS-RPT of {domain}: " + "; ".join(parsed.warnings[:3]))
        )
    if not any(f.severity is FAIL for f in findings):
        findings.insert(
            0,
            finding("tlsrpt.valid", f"TLS-RPT of {domain}: reports to {', '.join(parsed.rua)}"),
        )
    return TlsRptReport(domain, name, records, parsed, tuple(findings))
