"""``run_check(domain, resolver, options)``: the checklist run, steps overlapping, and its report.

``run_check`` starts the DNS step, reads the exchangers (``_targets``), starts the policy
lookups and one ``_Exchange`` per exchanger (each starting its relay battery with ``_relay``),
then assembles the steps, skipping those whose step failed, and the summary.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from mailprobe.checks.check.exchange import _exchanges
from mailprobe.checks.check.model import STEPS, CheckOptions, CheckReport, Target
from mailprobe.checks.check.policy import _Lookups, _policy_finish, _policy_lookups
from mailprobe.checks.check.shared import ExchangerCache, rename_finding
from mailprobe.checks.check.steps import make_step, soften_private, summarize
from mailprobe.checks.ehlo import get_profile
from mailprobe.errors import ProbeError
from mailprobe.model import Finding, Severity

if TYPE_CHECKING:
    from mailprobe.checks.blocklist import CheckedItem, ZoneHealth
    from mailprobe.checks.check.model import SmtpCheck
    from mailprobe.checks.policy import PolicyReport
    from mailprobe.checks.relay import RelayReport
    from mailprobe.checks.tls_scan.model import TlsScanReport
    from mailprobe.dns import Resolver

Progress = Callable[[str, str], None]


def _no_progress(step: str, state: str) -> None:
    return None


async def _targets(domain: str, resolver: Resolver) -> tuple[list[Target] | None, str | None]:
    """The exchangers and addresses to test, or why there are none."""
    from mailprobe.dns import addresses, resolve_exchangers

    try:
        found = await resolve_exchangers(domain, resolver)
    except ProbeError as exc:
        return None, f"the MX lookup failed ({exc.failure.message})"
    if not found:
        return [], "the domain publishes a null MX (it accepts no mail)"

    async def one(preference: int, host: str) -> Target:
        try:
            addrs = await addresses(host, resolver)
        except ProbeError:
            addrs = []
        return Target(preference, host, tuple(addrs))

    targets = list(await asyncio.gather(*(one(p, h) for p, h in found)))
    return targets, None


async def run_check(
    domain: str,
    resolver: Resolver,
    options: CheckOptions | None = None,
    progress: Progress = _no_progress,
) -> CheckReport:
    """Run the whole checklist for ``domain`` and return the report (never prints).

    Raises ``UsageError`` only for a malformed domain or profile; network trouble is in the
    report as findings and failures. ``progress(step, state)`` is called with state
    ``running``, ``done`` or ``skipped`` as steps start and end (for a live display).
    """
    from mailprobe.checks.mx import MxOptions, check_mx
    from mailprobe.dns import parse_domain

    opts = options or CheckOptions()
    if opts.limits is None:
        opts = dataclasses.replace(opts, limits=opts.new_limits())
    if opts.cache is None:
        private = ExchangerCache(keep_sessions=False)
        try:
            return await run_check(
                domain, resolver, dataclasses.replace(opts, cache=private), progress
            )
        finally:
            await private.aclose()
    cache = opts.cache
    ascii_name, unicode_name = parse_domain(domain)
    if opts.expect:
        get_profile(opts.expect)  # a bad profile is a usage error before any connection
    started = time.monotonic()
    for name in STEPS:
        progress(name, "waiting")
    progress("dns", "running")
    mx_task = asyncio.ensure_future(
        check_mx(ascii_name, [resolver], MxOptions(connect=False, timeout=opts.timeout))
    )
    targets, no_target_reason = await _targets(ascii_name, resolver)

    # Policy lookups start now, alongside SMTP; DANE lookups too (answers cached for later).
    policy_task: asyncio.Future[_Lookups] | None = None
    if targets is not None:
        policy_task = asyncio.ensure_future(_policy_lookups(ascii_name, resolver, targets, opts))
        progress("policy", "running")

    blocklist_task: asyncio.Task[_Blocklisted] | None = None
    if targets is not None and opts.blocklist:
        blocklist_task = asyncio.ensure_future(_blocklists(ascii_name, targets, resolver, opts))
        progress("blocklist", "running")

    exchanges = _exchanges(targets or [], ascii_name, opts)
    relay_tasks: list[asyncio.Task[RelayReport]] = []

    def start_relay(host: str, address: str) -> asyncio.Task[RelayReport]:
        if not relay_tasks:
            progress("relay", "running")
        key = (address, opts.smtp_port)
        if key not in cache.relay:

            async def battery() -> tuple[str, str, RelayReport]:
                return ascii_name, host, await _relay(host, address, ascii_name, opts)

            cache.relay[key] = asyncio.ensure_future(battery())
        task = asyncio.ensure_future(_shared_relay(cache.relay[key], host, ascii_name))
        relay_tasks.append(task)
        return task

    if exchanges:
        progress("reachability", "running")
        progress("smtp", "running")
    exchange_run = asyncio.gather(*(ex.run(start_relay) for ex in exchanges))
    try:
        mx_report = await mx_task
    except BaseException:
        exchange_run.cancel()
        raise
    progress("dns", "done")
    await exchange_run
    progress("reachability", "done" if exchanges else "skipped")
    progress("smtp", "done" if exchanges else "skipped")
    progress("relay", "done" if relay_tasks else "skipped")

    # --- assemble the steps
    scanned: TlsScanReport | None = None
    dns_findings = list(mx_report.findings)
    if opts.allow_private:
        dns_findings = list(soften_private(dns_findings))
    # Lookup failures are in the MX report already; NXDOMAIN and friends are findings there.
    dns_failures = list(mx_report.failures)
    steps = [make_step("dns", dns_findings, dns_failures)]

    if not exchanges:
        reason = no_target_reason or "no exchanger to test"
        for name in ("reachability", "smtp", "relay"):
            steps.append(make_step(name, skipped=f"DNS step: {reason}"))
    else:
        unreachable = [ex.skipped for ex in exchanges if ex.skipped]
        if any(ex.target.addresses for ex in exchanges):
            steps.append(
                make_step(
                    "reachability",
                    [f for ex in exchanges for f in ex.reach_findings],
                    [f for ex in exchanges for f in ex.reach_failures],
                    skipped_parts=[
                        ex.skipped for ex in exchanges if ex.skipped and not ex.target.addresses
                    ],
                )
            )
        else:
            # Nothing to reach is not "reachable": the DNS step says why (dangling names).
            steps.append(make_step("reachability", skipped="DNS step: no exchanger has an address"))
        smtp_checks = [ex.smtp for ex in exchanges if ex.smtp is not None]
        if opts.tls_scan and smtp_checks:
            scanned = await _tls_scan(ascii_name, smtp_checks, opts)
        if smtp_checks:
            steps.append(
                make_step(
                    "smtp",
                    [f for c in smtp_checks for f in c.findings]
                    + _rcpt_note(opts, ascii_name)
                    + list(scanned.findings if scanned is not None else ()),
                    [c.failure for c in smtp_checks if c.failure is not None],
                    skipped_parts=unreachable,
                )
            )
        else:
            steps.append(make_step("smtp", skipped="Reachability step: no exchanger greeted"))
        if not opts.relay:
            steps.append(make_step("relay", skipped="--no-relay"))
        elif not relay_tasks:
            steps.append(make_step("relay", skipped="Reachability step: no exchanger greeted"))
        else:
            relays = [ex.relay for ex in exchanges if ex.relay is not None]
            steps.append(
                make_step(
                    "relay",
                    [f for r in relays for f in r.findings],
                    [f for r in relays for f in r.failures],
                    skipped_parts=unreachable,
                )
            )

    blocklisted = _Blocklisted((), ())
    scanned_servers = scanned.servers if scanned is not None else ()
    if not opts.blocklist:
        steps.append(make_step("blocklist", skipped="--no-blocklist"))
        progress("blocklist", "skipped")
    elif blocklist_task is None:
        steps.append(
            make_step("blocklist", skipped=f"DNS step: {no_target_reason or 'MX lookup failed'}")
        )
        progress("blocklist", "skipped")
    else:
        from mailprobe.checks.blocklist import item_findings, zone_findings

        blocklisted = await blocklist_task
        steps.append(
            make_step(
                "blocklist",
                item_findings(blocklisted.items)
                + zone_findings(blocklisted.zones, blocklisted.items),
            )
        )
        progress("blocklist", "done")

    policy: PolicyReport | None = None
    if policy_task is None:
        steps.append(
            make_step("policy", skipped=f"DNS step: {no_target_reason or 'MX lookup failed'}")
        )
        progress("policy", "skipped")
    else:
        certificates = {
            ex.target.host: [ex.smtp._certificate]
            for ex in exchanges
            if ex.smtp is not None and ex.smtp._certificate is not None
        }
        policy = await _policy_finish(
            ascii_name, resolver, targets or [], policy_task, certificates
        )
        steps.append(make_step("policy", policy.all_findings(), policy.all_failures()))
        progress("policy", "done")

    ordered = sorted(steps, key=lambda s: list(STEPS).index(s.name))
    return CheckReport(
        domain=domain,
        domain_ascii=ascii_name,
        domain_unicode=unicode_name,
        dns_servers=tuple(s.label for s in resolver.servers),
        exchangers=tuple(targets or ()),
        steps=tuple(ordered),
        dns=mx_report,
        reachability=tuple(r for ex in exchanges for r in ex.reach),
        smtp=tuple(ex.smtp for ex in exchanges if ex.smtp is not None),
        relay=tuple(ex.relay for ex in exchanges if ex.relay is not None),
        policy=policy,
        summary=summarize(ordered),
        seconds=round(time.monotonic() - started, 3),
        blocklist=blocklisted.items,
        blocklist_zones=blocklisted.zones,
        tls_scan=scanned_servers,
    )


async def _tls_scan(domain: str, checks: Sequence[SmtpCheck], opts: CheckOptions) -> TlsScanReport:
    """``--tls-scan``: the enumeration of ``mailprobe tls`` on each exchanger that offered
    STARTTLS, on the address its SMTP step used."""
    from mailprobe.checks.tls_scan.report import check_tls
    from mailprobe.checks.tls_scan.scan import Target

    targets = [
        Target(c.host, c.address, c.port, "starttls")
        for c in checks
        if c.failure is None and c.starttls_offered
    ]
    return await check_tls(
        domain, targets, helo=opts.helo, timeout=opts.timeout, ca_file=opts.ca_file
    )


@dataclasses.dataclass(frozen=True)
class _Blocklisted:
    items: tuple[CheckedItem, ...]
    zones: tuple[ZoneHealth, ...]


async def _blocklists(
    domain: str, targets: Sequence[Target], resolver: Resolver, opts: CheckOptions
) -> _Blocklisted:
    """The blocklist step: every public exchanger address, and the domain on domain lists.
    Loopback, private and other non-public addresses are not asked (public lists know nothing
    of them, and 127.0.0.2 is every list's test point). The run's resolver caches the answers,
    so an address shared by many domains of a batch is looked up once."""
    import ipaddress

    from mailprobe.checks.blocklist import Session, select_lists

    session = Session(select_lists(opts.blocklist_zones), resolver)
    items: dict[str, str] = {}
    for target in targets:
        for address in target.addresses:
            if ipaddress.ip_address(address).is_global:
                items.setdefault(address, target.host)
    items[domain] = ""
    try:
        checked = await asyncio.gather(*(session.check_item(i, s) for i, s in items.items()))
        return _Blocklisted(tuple(checked), await session.zones())
    finally:
        await session.aclose()


def _rcpt_note(opts: CheckOptions, domain: str) -> list[Finding]:
    if opts.rcpt:
        return []
    return [
        Finding(
            Severity.INFO,
            "smtp.recipient-not-tested",
            f"no recipient of {domain} was tested besides postmaster (give one with --to)",
            "",
            domain,
        )
    ]


async def _shared_relay(
    battery: asyncio.Task[tuple[str, str, RelayReport]], host: str, domain: str
) -> RelayReport:
    """The run's relay battery of an address, as ``domain`` (knowing it as ``host``) sees it:
    a battery another domain's run produced is reused, with a note saying whose it is."""
    owner, owner_host, report = await asyncio.shield(battery)
    if owner == domain:
        return report
    findings = [rename_finding(f, owner_host, host) for f in report.findings]
    subject = f"{host} [{report.address}]" if report.address else host
    findings.append(
        Finding(
            Severity.INFO,
            "check.shared-exchanger",
            f"{subject}: relay battery shared with {owner} (same exchanger address, run once "
            f"for the batch with {owner} as its own domain)",
            "",
            subject,
        )
    )
    return dataclasses.replace(report, target=host, findings=tuple(findings))


async def _relay(host: str, address: str, domain: str, opts: CheckOptions) -> RelayReport:
    from mailprobe.checks.relay import RelayOptions, check_relay

    options = RelayOptions(
        port=opts.smtp_port,
        address=address,
        domain=domain,
        domain_source="checked domain",
        helo=opts.helo,
        connections=opts.connections,
        timeout=opts.timeout,
        session_timeout=opts.session_timeout,
        ca_file=opts.ca_file,
        limits=opts.limits,
    )
    report = await check_relay(host, options)
    # "relay EHLO", like "smtp EHLO": which part of the check the failed step belongs to
    failures = tuple(dataclasses.replace(f, step=f"relay {f.step}") for f in report.failures)
    return dataclasses.replace(report, failures=failures)
