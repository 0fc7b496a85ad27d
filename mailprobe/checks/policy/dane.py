"""DANE for SMTP (RFC 6698, RFC 7672): TLSA records at ``_25._tcp.<exchanger>`` and whether a
presented certificate chain matches them.

Only DANE-EE (usage 3) and DANE-TA (usage 2) count for SMTP; PKIX usages 0/1 are reported as
unusable. A DANE-TA record is compared with the certificates the server presented after the
leaf; the path from that trust anchor to the leaf (signatures, names) is not validated here.
TLSA answers count only when DNSSEC-validated: without the AD flag a mismatch is information,
not a failure.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Sequence

from mailprobe.checks.policy._lookup import QueryResolver, fqdn
from mailprobe.checks.policy._text import is_hostname, shown
from mailprobe.checks.policy.catalog import FAIL, INFO, finding
from mailprobe.checks.policy.der import spki_from_certificate
from mailprobe.model import Failure, Finding

USAGES = {0: "PKIX-TA", 1: "PKIX-EE", 2: "DANE-TA", 3: "DANE-EE"}
SELECTORS = {0: "Cert", 1: "SPKI"}
MATCHING_TYPES = {0: "Full", 1: "SHA2-256", 2: "SHA2-512"}
_DIGEST_SIZES = {1: 32, 2: 64}


@dataclasses.dataclass(frozen=True)
class TlsaRecord:
    """One TLSA record: usage, selector, matching type and the association data (hex, lower
    case). ``problem`` says why SMTP senders would not use it (empty when usable)."""

    usage: int
    selector: int
    matching_type: int
    data: str
    problem: str = ""

    @property
    def usable(self) -> bool:
        return not self.problem

    @property
    def text(self) -> str:
        return f"{self.usage} {self.selector} {self.matching_type} {self.data}"

    @property
    def description(self) -> str:
        """E.g. ``DANE-EE SPKI SHA2-256``."""
        return " ".join(
            table.get(value, str(value))
            for table, value in (
                (USAGES, self.usage),
                (SELECTORS, self.selector),
                (MATCHING_TYPES, self.matching_type),
            )
        )


def parse_tlsa(text: str) -> TlsaRecord:
    """Parse a TLSA record in presentation form (``3 1 1 ab12…``, hex possibly split by
    spaces); never raises: unreadable text gives a record with ``problem`` set."""
    fields = text.split()
    if len(fields) < 4 or not all(f.isascii() and f.isdigit() for f in fields[:3]):
        return TlsaRecord(-1, -1, -1, "", f"unreadable TLSA record {shown(text, 60)}")
    usage, selector, mtype = (int(f) for f in fields[:3])
    raw = "".join(fields[3:]).lower()
    try:
        data = bytes.fromhex(raw)
    except ValueError:
        return TlsaRecord(usage, selector, mtype, "", "association data is not hexadecimal")
    problem = ""
    if usage in (0, 1):
        problem = f"usage {usage} ({USAGES[usage]}) is not used for SMTP (RFC 7672 §3.1.3)"
    elif usage not in USAGES:
        problem = f"unknown usage {usage}"
    elif selector not in SELECTORS:
        problem = f"unknown selector {selector}"
    elif mtype not in MATCHING_TYPES:
        problem = f"unknown matching type {mtype}"
    elif mtype in _DIGEST_SIZES and len(data) != _DIGEST_SIZES[mtype]:
        problem = (
            f"{MATCHING_TYPES[mtype]} data must be {_DIGEST_SIZES[mtype]} bytes, not {len(data)}"
        )
    elif not data:
        problem = "empty association data"
    return TlsaRecord(usage, selector, mtype, data.hex(), problem)


def association(certificate: bytes, selector: int, matching_type: int) -> str:
    """The association data (hex) of a DER certificate for a selector and matching type.
    Raises ValueError for an unreadable certificate or unknown parameters."""
    if selector == 0:
        content = bytes(certificate)
    elif selector == 1:
        content = spki_from_certificate(certificate)
    else:
        raise ValueError(f"unknown selector {selector}")
    if matching_type == 0:
        return content.hex()
    if matching_type == 1:
        return hashlib.sha256(content).hexdigest()
    if matching_type == 2:
        return hashlib.sha512(content).hexdigest()
    raise ValueError(f"unknown matching type {matching_type}")


@dataclasses.dataclass(frozen=True)
class DaneMatch:
    """The outcome of comparing a certificate chain with TLSA records."""

    matched: bool
    matched_records: tuple[TlsaRecord, ...] = ()
    usable_records: int = 0
    detail: str = ""


def match_tlsa(records: Sequence[TlsaRecord], chain: Sequence[bytes]) -> DaneMatch:
    """Compare a presented chain (DER, leaf first) with TLSA records: DANE-EE against the
    leaf, DANE-TA against the certificates after it. Never raises."""
    usable = [r for r in records if r.usable]
    if not chain:
        return DaneMatch(False, (), len(usable), "no certificate presented")
    if not usable:
        return DaneMatch(False, (), 0, "no usable TLSA record")
    matched: list[TlsaRecord] = []
    unreadable: list[int] = []
    for record in usable:
        candidates = [(0, chain[0])] if record.usage == 3 else list(enumerate(chain))[1:]
        for index, certificate in candidates:
            try:
                data = association(certificate, record.selector, record.matching_type)
            except ValueError:
                unreadable.append(index)
                continue
            if data == record.data:
                matched.append(record)
                break
    if matched:
        return DaneMatch(True, tuple(matched), len(usable), matched[0].description)
    detail = "no TLSA record matches the presented certificate"
    if unreadable:
        detail += f" (certificate #{min(unreadable)} could not be read)"
    if any(r.usage == 2 for r in usable) and len(chain) == 1:
        detail += "; the server sent no intermediate/trust-anchor certificate for DANE-TA"
    return DaneMatch(False, (), len(usable), detail)


@dataclasses.dataclass(frozen=True)
class DaneReport:
    """TLSA records of one exchanger and, when a chain was given, the comparison.

    ``authenticated`` is the AD flag of the TLSA answer; ``match`` is None when nothing was
    compared.
    """

    exchanger: str
    name: str
    records: tuple[TlsaRecord, ...] = ()
    authenticated: bool = False
    match: DaneMatch | None = None
    findings: tuple[Finding, ...] = ()
    failures: tuple[Failure, ...] = ()


async def check_dane(
    exchanger: str,
    resolver: QueryResolver,
    certificate_chain: Sequence[bytes] | None = None,
    *,
    port: int = 25,
) -> DaneReport:
    """Look up the TLSA records of ``exchanger`` and compare ``certificate_chain`` (DER, leaf
    first, as presented after STARTTLS) with them when given."""
    host = fqdn(exchanger)
    name = f"_{port}._tcp.{host}"
    if not is_hostname(name):
        summary = f"{name} cannot hold TLSA records (not a valid DNS name)"
        return DaneReport(host, name, findings=(finding("dane.missing", summary, subject=host),))
    answer = await resolver.query(name, "TLSA")
    if answer.status.failed:
        return DaneReport(host, name, failures=(answer.failure("dane TLSA"),))
    if not answer.ok:
        return DaneReport(
            host,
            name,
            findings=(finding("dane.missing", f"{name} has no TLSA records", subject=host),),
        )
    records = tuple(parse_tlsa(text) for text in answer.records)
    authenticated = bool(answer.authenticated)
    findings: list[Finding] = []
    unusable = [r for r in records if not r.usable]
    if unusable:
        findings.append(
            finding(
                "dane.unusable-record",
                f"{name}: " + "; ".join(r.problem for r in unusable[:3]),
                subject=host,
            )
        )
    if not authenticated:
        findings.append(
            finding(
                "dane.not-authenticated",
                f"TLSA records of {host} were not DNSSEC-authenticated (no AD flag)",
                subject=host,
            )
        )
    match: DaneMatch | None = None
    if certificate_chain is None:
        findings.append(
            finding("dane.not-checked", f"certificate of {host} not compared", subject=host)
        )
    elif any(r.usable for r in records):
        match = match_tlsa(records, certificate_chain)
        if match.matched:
            findings.append(
                finding(
                    "dane.match",
                    f"certificate of {host} matches its TLSA record ({match.detail})"
                    + ("" if authenticated else ", not DNSSEC-authenticated"),
                    subject=host,
                )
            )
        else:
            findings.append(
                finding(
                    "dane.mismatch",
                    f"certificate of {host} does not match its TLSA records: {match.detail}",
                    subject=host,
                    severity=FAIL if authenticated else INFO,
                )
            )
    return DaneReport(host, name, records, authenticated, match, tuple(findings))
