"""DMARC (RFC 7489): the ``_dmarc`` record, its tags, its policy and its report addresses.

The organisational-domain fallback of §6.6.3 needs the Public Suffix List, which mailprobe
does not carry: when a subdomain has no record, the finding says receivers may use the
parent's policy instead of looking it up.
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
from collections.abc import Mapping

from mailprobe.checks.policy._lookup import QueryResolver, fqdn, lookup_txt
from mailprobe.checks.policy._text import shown, tag_list
from mailprobe.checks.policy.catalog import FAIL, finding
from mailprobe.model import Failure, Finding
from mailprobe.text import is_digits

POLICIES = ("none", "quarantine", "reject")
_STRENGTH = {"none": 0, "quarantine": 1, "reject": 2}
_POLICY_CODES = {
    "none": "dmarc.policy-none",
    "quarantine": "dmarc.policy-quarantine",
    "reject": "dmarc.policy-reject",
}
_VERSION = re.compile(r"v[ \t]*=[ \t]*DMARC1[ \t]*(;|$)")
_URI = re.compile(r"(?P<uri>[A-Za-z][A-Za-z0-9+.\-]*:[^!\s]+)(?:!(?P<size>[0-9]+[kmgtKMGT]?))?")
_ADDRESS = re.compile(r"[^@\s,;]+@(?P<domain>[A-Za-z0-9](?:[A-Za-z0-9\-.]*[A-Za-z0-9])?)")
#: Tags defined by RFC 7489, plus np/psd/t of the DMARCbis drafts, which receivers may know.
KNOWN_TAGS = frozenset(
    {"v", "p", "sp", "pct", "rua", "ruf", "adkim", "aspf", "fo", "rf", "ri", "np", "psd", "t"}
)


@dataclasses.dataclass(frozen=True)
class DmarcRecord:
    """A parsed DMARC record. ``tags`` maps lower-cased tag names to values as written;
    ``errors`` make the record unusable, ``warnings`` are bad tag values a receiver ignores.
    Defaults from RFC 7489 apply where a tag is absent (pct 100, adkim/aspf r)."""

    text: str
    tags: Mapping[str, str]
    policy: str | None = None
    subdomain_policy: str | None = None
    percent: int = 100
    aggregate_report_uris: tuple[str, ...] = ()
    failure_report_uris: tuple[str, ...] = ()
    dkim_alignment: str = "r"
    spf_alignment: str = "r"
    failure_options: str = "0"
    errors: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    unknown_tags: tuple[str, ...] = ()

    @property
    def valid(self) -> bool:
        return not self.errors


def is_dmarc_candidate(text: str) -> bool:
    """True for TXT text meant as a DMARC record (starts with ``v=DMARC``, any case), so a
    broken one is reported as broken instead of missing."""
    return bool(re.match(r"v\s*=\s*dmarc", text.strip(), re.I))


def parse_dmarc(text: str) -> DmarcRecord:
    """Parse DMARC record text; never raises."""
    pairs, syntax = tag_list(text)
    errors: list[str] = list(syntax)
    warnings: list[str] = []
    tags: dict[str, str] = {}
    for name, value in pairs:
        key = name.lower()
        if key in tags:
            warnings.append(f"tag {shown(key, 20)} appears more than once (first one used)")
            continue
        tags[key] = value
    if not _VERSION.match(text.strip()):
        errors.insert(0, "the record must start with v=DMARC1 (exactly, then ';')")
    fields: dict[str, object] = {}

    policy = tags.get("p")
    if policy is None:
        errors.append("the required p= tag is missing")
    elif policy.lower() not in POLICIES:
        errors.append(f"p={shown(policy, 30, quote=False)} is not none, quarantine or reject")
    else:
        fields["policy"] = policy.lower()
    if "sp" in tags:
        if tags["sp"].lower() in POLICIES:
            fields["subdomain_policy"] = tags["sp"].lower()
        else:
            warnings.append(f"sp={shown(tags['sp'], 30, quote=False)} is not a valid policy")
    if "pct" in tags:
        raw = tags["pct"]
        if is_digits(raw) and int(raw) <= 100:
            fields["percent"] = int(raw)
        else:
            warnings.append(f"pct={shown(raw, 30, quote=False)} must be a number from 0 to 100")
    for tag, field in (("adkim", "dkim_alignment"), ("aspf", "spf_alignment")):
        if tag in tags:
            if tags[tag].lower() in ("r", "s"):
                fields[field] = tags[tag].lower()
            else:
                warnings.append(f"{tag}={shown(tags[tag], 30, quote=False)} must be r or s")
    if "fo" in tags:
        options = [o.strip() for o in tags["fo"].split(":")]
        if all(o in ("0", "1", "d", "s") for o in options):
            fields["failure_options"] = ":".join(options)
        else:
            warnings.append(f"fo={shown(tags['fo'], 30, quote=False)} must use 0, 1, d, s")
    if "ri" in tags and not is_digits(tags["ri"]):
        warnings.append(f"ri={shown(tags['ri'], 30, quote=False)} must be a number of seconds")
    for tag, field in (("rua", "aggregate_report_uris"), ("ruf", "failure_report_uris")):
        if tag in tags:
            uris, problems = parse_report_uris(tags[tag])
            fields[field] = uris
            warnings.extend(f"{tag}: {p}" for p in problems)
    unknown = tuple(k for k in tags if k not in KNOWN_TAGS)
    return DmarcRecord(
        text=text,
        tags=tags,
        errors=tuple(errors),
        warnings=tuple(warnings),
        unknown_tags=unknown,
        **fields,  # type: ignore[arg-type]
    )


def parse_report_uris(value: str) -> tuple[tuple[str, ...], list[str]]:
    """Split a rua/ruf value into URIs (size suffixes ``!10m`` dropped) and problems: each
    must be a ``mailto:`` URI with an address (§6.2)."""
    uris: list[str] = []
    problems: list[str] = []
    for item in value.split(","):
        item = item.strip()
        if not item:
            problems.append("empty entry in the URI list")
            continue
        match = _URI.fullmatch(item)
        if match is None:
            problems.append(f"{shown(item, 60)} is not a URI (e.g. mailto:dmarc@example.org)")
            continue
        uri = match.group("uri")
        if not uri.lower().startswith("mailto:"):
            problems.append(f"{shown(uri, 60)} is not a mailto: URI; receivers only send mail")
        elif not _ADDRESS.fullmatch(uri[7:]):
            problems.append(f"{shown(uri, 60)} does not hold a mail address")
        uris.append(uri)
    return tuple(uris), problems


def report_domain(uri: str) -> str | None:
    """The domain of a ``mailto:`` report URI, or None."""
    if not uri.lower().startswith("mailto:"):
        return None
    match = _ADDRESS.fullmatch(uri[7:].split("?", 1)[0])
    return fqdn(match.group("domain")) if match else None


@dataclasses.dataclass(frozen=True)
class DmarcReport:
    """What ``_dmarc.DOMAIN`` holds: every DMARC-looking record as published (``records``,
    kept even when invalid), the parsed one when there is exactly one, and the findings."""

    domain: str
    name: str
    records: tuple[str, ...] = ()
    record: str | None = None
    parsed: DmarcRecord | None = None
    unauthorized_report_domains: tuple[str, ...] = ()
    findings: tuple[Finding, ...] = ()
    failures: tuple[Failure, ...] = ()


async def check_dmarc(domain: str, resolver: QueryResolver) -> DmarcReport:
    """Check the DMARC record of ``domain``: presence, syntax, policy, report addresses (and
    whether external report domains authorise receiving the reports, RFC 7489 §7.1)."""
    domain = fqdn(domain)
    name = f"_dmarc.{domain}"
    found = await lookup_txt(resolver, name, "dmarc TXT")
    if found.failure is not None:
        return DmarcReport(domain, name, failures=(found.failure,))
    records = tuple(t for t in found.texts if is_dmarc_candidate(t))
    if not records:
        findings = [finding("dmarc.missing", f"{name} has no DMARC record", domain=domain)]
        if domain.count(".") >= 2:
            findings.append(
                finding(
                    "dmarc.organizational-domain",
                    f"receivers may apply the DMARC policy of a parent domain of {domain} "
                    "(not checked)",
                    domain=domain,
                )
            )
        return DmarcReport(domain, name, findings=tuple(findings))
    if len(records) > 1:
        listed = "; ".join(shown(r, 60) for r in records)
        return DmarcReport(
            domain,
            name,
            records=records,
            findings=(
                finding(
                    "dmarc.multiple",
                    f"{name} has {len(records)} DMARC records: {listed}",
                    domain=domain,
                ),
            ),
        )
    record = records[0]
    parsed = parse_dmarc(record)
    findings = _record_findings(domain, name, parsed)
    unauthorized: list[str] = []
    failures: list[Failure] = []
    external = sorted(
        {
            d
            for uri in parsed.aggregate_report_uris + parsed.failure_report_uris
            if (d := report_domain(uri)) and not _related(d, domain)
        }
    )
    if external:
        checks = await asyncio.gather(
            *(lookup_txt(resolver, f"{domain}._report._dmarc.{d}", "dmarc TXT") for d in external)
        )
        for target, result in zip(external, checks, strict=True):
            if result.failure is not None:
                failures.append(result.failure)
            elif not any(t.strip().startswith("v=DMARC1") for t in result.texts):
                unauthorized.append(target)
        if unauthorized:
            findings.append(
                finding(
                    "dmarc.report-not-authorized",
                    f"report domain(s) {', '.join(unauthorized)} do not publish "
                    f"{domain}._report._dmarc.<domain>: reports for {domain} will not be sent",
                    domain=domain,
                )
            )
    if not any(f.severity is FAIL for f in findings):
        findings.insert(0, finding("dmarc.valid", f"DMARC record of {domain}: {shown(record)}"))
    return DmarcReport(
        domain,
        name,
        records=records,
        record=record,
        parsed=parsed,
        unauthorized_report_domains=tuple(unauthorized),
        findings=tuple(findings),
        failures=tuple(failures),
    )


def _related(one: str, other: str) -> bool:
    """Same name, or one under the other: taken as the same organisation (without the Public
    Suffix List this is the safe approximation of RFC 7489 §7.1)."""
    return one == other or one.endswith("." + other) or other.endswith("." + one)


def _record_findings(domain: str, name: str, parsed: DmarcRecord) -> list[Finding]:
    findings: list[Finding] = []
    other_errors = [e for e in parsed.errors if "p= tag is missing" not in e]
    if other_errors:
        findings.append(
            finding(
                "dmarc.syntax",
                f"DMARC record at {name} is invalid: " + "; ".join(other_errors[:3]),
                domain=domain,
            )
        )
    if "p" not in parsed.tags:
        findings.append(
            finding(
                "dmarc.no-policy",
                f"DMARC record at {name} has no p= tag"
                + (
                    " (receivers treat it as p=none because rua= is valid)"
                    if parsed.aggregate_report_uris
                    else ""
                ),
                domain=domain,
            )
        )
    uri_problems = [w for w in parsed.warnings if w.startswith(("rua:", "ruf:"))]
    tag_problems = [w for w in parsed.warnings if not w.startswith(("rua:", "ruf:"))]
    if tag_problems:
        findings.append(
            finding("dmarc.bad-tag", f"DMARC record of {domain}: " + "; ".join(tag_problems[:3]))
        )
    if uri_problems:
        findings.append(
            finding(
                "dmarc.bad-uri",
                f"DMARC report addresses of {domain}: " + "; ".join(uri_problems[:3]),
                domain=domain,
            )
        )
    if parsed.unknown_tags:
        listed = ", ".join(shown(t, 20, quote=False) for t in parsed.unknown_tags[:5])
        findings.append(finding("dmarc.unknown-tag", f"DMARC record of {domain}: {listed}"))
    policy = parsed.policy
    reports = ", ".join(parsed.aggregate_report_uris) or "nowhere"
    if policy is not None:
        code = _POLICY_CODES[policy]
        findings.append(
            finding(
                code,
                f"DMARC policy of {domain} is p={policy} (aggregate reports to {reports})",
            )
        )
        sub = parsed.subdomain_policy
        if sub is not None and _STRENGTH[sub] < _STRENGTH[policy]:
            findings.append(
                finding(
                    "dmarc.subdomain-policy-weaker",
                    f"DMARC of {domain}: sp={sub} is weaker than p={policy}",
                )
            )
        if parsed.percent < 100 and policy != "none":
            findings.append(
                finding(
                    "dmarc.pct-partial",
                    f"DMARC of {domain} applies p={policy} to {parsed.percent}% of failing mail",
                )
            )
    if not parsed.aggregate_report_uris:
        findings.append(
            finding(
                "dmarc.no-rua",
                f"DMARC of {domain} asks for no aggregate reports (no rua=)",
                domain=domain,
            )
        )
    return findings
