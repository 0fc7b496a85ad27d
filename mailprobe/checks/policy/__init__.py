"""Policy records of a mail domain: SPF, DMARC, MTA-STS, TLS-RPT, DANE and DKIM.

Each check is an ``async`` function taking plain inputs and a resolver
(``mailprobe.dns.Resolver``) and returning a frozen report with the records as published
(kept even when broken), what was parsed from them, findings with stable codes (see
the catalogue ``mailprobe.findings``) and ``Failure`` values for lookups that could not
complete: a timeout is never reported as a missing record.

::

    check_spf(domain, resolver, exchanger_addresses)        -> SpfReport
    evaluate_spf(address, domain, resolver)                  -> (SpfEvaluation, [Failure])
    check_dmarc(domain, resolver)                            -> DmarcReport
    check_mta_sts(domain, resolver, exchangers, mta_sts_url=, verify=, timeout=)
                                                             -> MtaStsReport
    check_tlsrpt(domain, resolver)                           -> TlsRptReport
    check_dane(exchanger, resolver, certificate_chain)       -> DaneReport
    check_dkim(domain, selector, resolver)                   -> DkimReport
    check_policies(domain, resolver, ...)                    -> PolicyReport (all of them)

Pure parsers (never raise): ``parse_spf``, ``parse_dmarc``, ``parse_mta_sts_record``,
``parse_mta_sts_policy``, ``parse_tlsrpt``, ``parse_tlsa``, ``parse_dkim_key``; and
``mx_matches``, ``match_tlsa``, ``association``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import ipaddress
import ssl
from collections.abc import Iterable, Mapping, Sequence

from mailprobe.checks.policy._lookup import QueryResolver, fqdn
from mailprobe.checks.policy.dane import (
    DaneMatch,
    DaneReport,
    TlsaRecord,
    association,
    check_dane,
    match_tlsa,
    parse_tlsa,
)
from mailprobe.checks.policy.dkim import DkimKey, DkimReport, check_dkim, parse_dkim_key
from mailprobe.checks.policy.dmarc import DmarcRecord, DmarcReport, check_dmarc, parse_dmarc
from mailprobe.checks.policy.mtasts import (
    MtaStsPolicy,
    MtaStsRecord,
    MtaStsReport,
    PolicyFetch,
    check_mta_sts,
    fetch_policy,
    mx_matches,
    parse_mta_sts_policy,
    parse_mta_sts_record,
)
from mailprobe.checks.policy.spf import (
    SpfEvaluation,
    SpfInclude,
    SpfReport,
    check_spf,
    evaluate_spf,
)
from mailprobe.checks.policy.spf_syntax import SpfRecord, SpfTerm, parse_spf
from mailprobe.checks.policy.tlsrpt import TlsRptRecord, TlsRptReport, check_tlsrpt, parse_tlsrpt
from mailprobe.model import Failure, Finding

__all__ = [
    "DaneMatch",
    "DaneReport",
    "DkimKey",
    "DkimReport",
    "DmarcRecord",
    "DmarcReport",
    "MtaStsPolicy",
    "MtaStsRecord",
    "MtaStsReport",
    "PolicyFetch",
    "PolicyReport",
    "QueryResolver",
    "SpfEvaluation",
    "SpfInclude",
    "SpfRecord",
    "SpfReport",
    "SpfTerm",
    "TlsRptRecord",
    "TlsRptReport",
    "TlsaRecord",
    "association",
    "check_dane",
    "check_dkim",
    "check_dmarc",
    "check_mta_sts",
    "check_policies",
    "check_spf",
    "check_tlsrpt",
    "evaluate_spf",
    "fetch_policy",
    "match_tlsa",
    "mx_matches",
    "parse_dkim_key",
    "parse_dmarc",
    "parse_mta_sts_policy",
    "parse_mta_sts_record",
    "parse_spf",
    "parse_tlsa",
    "parse_tlsrpt",
]


_Part = SpfReport | DmarcReport | MtaStsReport | TlsRptReport | DaneReport | DkimReport


@dataclasses.dataclass(frozen=True)
class PolicyReport:
    """All policy checks of one domain (step 5 of ``mailprobe check``).

    ``exchangers`` and ``exchanger_addresses`` are what the checks used (given, or looked
    up); ``failures`` holds lookups of those that could not complete.
    """

    domain: str
    exchangers: tuple[str, ...]
    exchanger_addresses: tuple[str, ...]
    spf: SpfReport
    dmarc: DmarcReport
    mta_sts: MtaStsReport
    tls_rpt: TlsRptReport
    dane: tuple[DaneReport, ...] = ()
    dkim: tuple[DkimReport, ...] = ()
    failures: tuple[Failure, ...] = ()

    def _parts(self) -> list[_Part]:
        return [self.spf, self.dmarc, self.mta_sts, self.tls_rpt, *self.dane, *self.dkim]

    def all_findings(self) -> tuple[Finding, ...]:
        """Every finding of every part, in report order."""
        return tuple(f for part in self._parts() for f in part.findings)

    def all_failures(self) -> tuple[Failure, ...]:
        """Every failure of every part (and of the exchanger lookups)."""
        seen: list[Failure] = list(self.failures)
        for part in self._parts():
            seen.extend(f for f in part.failures if f not in seen)
        return tuple(seen)


async def check_policies(
    domain: str,
    resolver: QueryResolver,
    *,
    exchangers: Sequence[str] | None = None,
    exchanger_addresses: Iterable[str] | None = None,
    certificates: Mapping[str, Sequence[bytes]] | None = None,
    dkim_selectors: Sequence[str] = (),
    mta_sts_url: str | None = None,
    verify: ssl.SSLContext | bool | str = True,
    timeout: float = 10.0,
) -> PolicyReport:
    """Run every policy check of ``domain`` concurrently.

    ``exchangers`` (MX host names) and ``exchanger_addresses`` are looked up when None.
    ``certificates`` maps an exchanger to the DER chain it presented after STARTTLS, for
    the DANE comparison (exchangers without one get ``dane.not-checked``).
    """
    domain = fqdn(domain)
    failures: list[Failure] = []
    if exchangers is None:
        hosts, failure = await _mx_hosts(domain, resolver)
        if failure is not None:
            failures.append(failure)
    else:
        hosts = [fqdn(h) for h in exchangers]
    if exchanger_addresses is None:
        addresses, address_failures = await _addresses(hosts, resolver)
        failures.extend(address_failures)
    else:
        addresses = [str(a) for a in exchanger_addresses]
    chains = {fqdn(k): v for k, v in (certificates or {}).items()}
    spf, dmarc, mta_sts, tls_rpt, dane, dkim = await asyncio.gather(
        check_spf(domain, resolver, addresses),
        check_dmarc(domain, resolver),
        check_mta_sts(
            domain, resolver, hosts, mta_sts_url=mta_sts_url, verify=verify, timeout=timeout
        ),
        check_tlsrpt(domain, resolver),
        asyncio.gather(*(check_dane(h, resolver, chains.get(h)) for h in hosts)),
        asyncio.gather(*(check_dkim(domain, s, resolver) for s in dkim_selectors)),
    )
    return PolicyReport(
        domain,
        tuple(hosts),
        tuple(addresses),
        spf,
        dmarc,
        mta_sts,
        tls_rpt,
        tuple(dane),
        tuple(dkim),
        tuple(failures),
    )


async def _mx_hosts(domain: str, resolver: QueryResolver) -> tuple[list[str], Failure | None]:
    answer = await resolver.query(domain, "MX")
    if answer.status.failed:
        return [], answer.failure("policy MX")
    hosts: list[tuple[int, str]] = []
    for rdata in answer.rdata():
        host = fqdn(str(rdata.exchange))
        if host:
            hosts.append((int(rdata.preference), host))
    return [h for _, h in sorted(set(hosts))], None


async def _addresses(
    hosts: Sequence[str], resolver: QueryResolver
) -> tuple[list[str], list[Failure]]:
    queries = [resolver.query(h, kind) for h in hosts for kind in ("A", "AAAA")]
    answers = await asyncio.gather(*queries)
    found: list[str] = []
    failures: list[Failure] = []
    for answer in answers:
        if answer.status.failed:
            failures.append(answer.failure(f"policy {answer.rdtype}"))
            continue
        for rdata in answer.rdata():
            text = str(ipaddress.ip_address(rdata.address))
            if text not in found:
                found.append(text)
    return found, failures
