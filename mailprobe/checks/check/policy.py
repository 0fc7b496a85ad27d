"""The policy step of ``mailprobe check``: its lookups, started early, and the DANE finish.

``_policy_lookups`` runs everything that needs no certificate (SPF, DMARC, MTA-STS, TLS-RPT,
DKIM) as soon as the exchangers are known, alongside the SMTP step, and asks for the TLSA
records so that DANE later gets its answers from the cache. ``_policy_finish`` matches the
TLSA records against the certificates the SMTP step saw and assembles the ``PolicyReport``
(``checks.policy``).
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
from collections.abc import Sequence
from typing import TYPE_CHECKING

from mailprobe.checks.check.model import CheckOptions, Target

if TYPE_CHECKING:
    import ssl

    from mailprobe.checks.policy import (
        DkimReport,
        DmarcReport,
        MtaStsReport,
        PolicyReport,
        SpfReport,
        TlsRptReport,
    )
    from mailprobe.dns import Resolver


def _tlsa_hosts(targets: Sequence[Target]) -> list[str]:
    """Exchangers that can have TLSA records: host names, not IP literals (mx.ip-literal
    already reports those; _25._tcp.<address> is no name to ask)."""
    import ipaddress

    names = []
    for target in targets:
        try:
            ipaddress.ip_address(target.host.strip("[]"))
        except ValueError:
            names.append(target.host)
    return names


@dataclasses.dataclass(frozen=True)
class _Lookups:
    spf: SpfReport
    dmarc: DmarcReport
    mta_sts: MtaStsReport
    tls_rpt: TlsRptReport
    dkim: tuple[DkimReport, ...]


@functools.lru_cache(maxsize=4)
def _https_context(ca_file: str) -> ssl.SSLContext:
    """The MTA-STS fetch's TLS context trusting ``ca_file`` (one per run, not per domain)."""
    import ssl

    return ssl.create_default_context(cafile=ca_file)


async def _policy_lookups(
    domain: str, resolver: Resolver, targets: Sequence[Target], opts: CheckOptions
) -> _Lookups:
    """Everything of the policy step that does not need a certificate, run now."""

    from mailprobe.checks.policy import (
        check_dkim,
        check_dmarc,
        check_mta_sts,
        check_spf,
        check_tlsrpt,
    )

    hosts = _tlsa_hosts(targets)
    addresses = list(dict.fromkeys(a for t in targets for a in t.addresses))
    verify: ssl.SSLContext | bool = True
    if opts.ca_file:
        verify = _https_context(opts.ca_file)
    tlsa = [resolver.query(f"_25._tcp.{h}", "TLSA") for h in hosts]
    spf, dmarc, mta_sts, tls_rpt, dkim, _tlsa = await asyncio.gather(
        check_spf(domain, resolver, addresses, null_mx=not targets),
        check_dmarc(domain, resolver),
        check_mta_sts(
            domain,
            resolver,
            hosts,
            mta_sts_url=opts.mta_sts_url,
            verify=verify,
            timeout=opts.timeout,
        ),
        check_tlsrpt(domain, resolver),
        asyncio.gather(*(check_dkim(domain, s, resolver) for s in opts.dkim_selectors)),
        asyncio.gather(*tlsa),
    )
    return _Lookups(spf, dmarc, mta_sts, tls_rpt, tuple(dkim))


async def _policy_finish(
    domain: str,
    resolver: Resolver,
    targets: Sequence[Target],
    lookups: asyncio.Future[_Lookups],
    certificates: dict[str, list[bytes]],
) -> PolicyReport:
    """DANE with the certificates the SMTP step saw, and the whole policy report."""
    from mailprobe.checks.policy import PolicyReport, check_dane

    found = await lookups
    hosts = _tlsa_hosts(targets)
    dane = await asyncio.gather(*(check_dane(h, resolver, certificates.get(h)) for h in hosts))
    return PolicyReport(
        domain,
        tuple(t.host for t in targets),
        tuple(dict.fromkeys(a for t in targets for a in t.addresses)),
        found.spf,
        found.dmarc,
        found.mta_sts,
        found.tls_rpt,
        tuple(dane),
        found.dkim,
    )
