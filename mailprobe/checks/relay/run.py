"""The entry points: run the relay battery and put the report together.

``check_relay(host, options)`` tests one server address: it opens a first session, learns the
names the variants are built from (the greeting's host name, the own domain, the address
literal), queues the variants on a ``battery._Battery`` and runs its workers within
``session_timeout``, then decides the verdict and the findings and returns a ``RelayReport``.
``check_relay_exchangers`` and ``check_relay_mx`` test every address of every exchanger, one
after the other; ``combine_reports`` makes one ``RelayRun`` of them. Nothing here prints.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from mailprobe.checks.relay.battery import _Battery, _Item, _result, _why
from mailprobe.checks.relay.findings import relay_findings
from mailprobe.checks.relay.model import (
    ConnectionTranscript,
    RelayOptions,
    RelayReport,
    RelayRun,
    SendResult,
    VariantResult,
)
from mailprobe.checks.relay.names import (
    _HOST_NAME,
    _is_ip,
    address_literal,
    parent_domain,
    server_name_from_greeting,
)
from mailprobe.checks.relay.variants import Variant, build_variants
from mailprobe.checks.relay.verdict import combine_reports, is_local_recipient, judge
from mailprobe.errors import InputError, ProbeError
from mailprobe.model import Failure, hostport
from mailprobe.smtp.failures import failure_finding, is_incomplete

if TYPE_CHECKING:
    from mailprobe.dns import Resolver


async def check_relay(host: str, options: RelayOptions | None = None) -> RelayReport:
    """Run the whole relay battery against one server and return the report.

    Never prints. Bad options raise ``UsageError``; a server that cannot be reached at all is
    reported as a ``Failure`` in the report (exit 3); later troubles make it INCONCLUSIVE.
    """
    opts = (options or RelayOptions()).validated()
    started = time.monotonic()
    battery = _Battery(host, opts, opts.address)
    try:
        first = await battery.connect()
    except ProbeError as exc:
        battery.close_all()
        return _unreachable(host, opts, exc.failure, battery, started)

    session = first.session
    server_name = server_name_from_greeting(session.banner, session.ehlo_reply)
    own_domain, source = await _own_domain(opts, server_name, session.address, host)
    literal = address_literal(session.address) if session.address else None
    names = opts.names(own_domain, server_name, literal)
    local = tuple(d for d in (own_domain, server_name, literal) if d)
    if is_local_recipient(f"x@{names.external_domain}", local):
        # Every "relay" would be a local delivery: the test would prove nothing.
        battery.close_all()
        field = "to" if opts.to else "external"
        raise InputError(
            field,
            f"domain {names.external_domain} is the server's own ({', '.join(local)}): "
            "every variant would be a local delivery, not a relay; use a domain the server "
            "does not receive mail for",
        )
    battery.names = names
    variants, skipped = build_variants(names)
    relay_variants = tuple(v for v in variants if v.kind == "relay")
    # The catch-all probe always runs: without it an accepted own-domain form could not be
    # told from a relay (--relay-only drops only the other extra checks).
    probe_variants = tuple(
        v for v in variants if v.kind == "probe" and (opts.probes or v.name == "local-unknown")
    )

    battery.queue.extend(_Item("variant", v) for v in relay_variants)
    battery.queue.extend(_Item("variant", v) for v in probe_variants)
    if opts.probes:
        battery.queue.append(_Item("enumeration"))
    if opts.user is not None:
        battery.queue.append(_Item("auth"))

    workers = [battery.worker(first)]
    workers.extend(battery.worker(None) for _ in range(max(0, opts.connections - 1)))
    sends: list[SendResult] = []
    local_domains = tuple(d for d in (own_domain, server_name, literal) if d)
    try:
        async with asyncio.timeout(opts.session_timeout):
            await asyncio.gather(*workers)
            if opts.send:
                # One message per accepted variant until one is accepted for delivery: a
                # refusal at DATA proves only that variant. Own-domain forms are not sent: a
                # message the server takes for its own domain may be a local delivery, which
                # proves nothing about relaying (their RCPT evidence stands).
                for variant in relay_variants:
                    result = battery.results.get(variant.name)
                    if result is None or result.outcome != "accepted":
                        continue
                    if is_local_recipient(variant.rcpt_to, local_domains):
                        continue
                    sends.append(await battery.send(result))
                    if sends[-1].outcome == "accepted":
                        break
    except TimeoutError:
        battery.stop(f"the battery did not finish within {opts.session_timeout:g} s")
    finally:
        battery.close_all()

    probe_results = tuple(_final(battery, v, battery.stop_reason) for v in probe_variants)
    variant_results, verdict, reason, deciding = judge(
        tuple(_final(battery, v, battery.stop_reason) for v in relay_variants),
        local_domains=local_domains,
        catch_all=_catch_all(battery),
        sends=sends,
        stop_reason=battery.stop_reason,
    )
    sent = next((s for s in sends if s.outcome == "accepted"), sends[-1] if sends else None)
    findings = relay_findings(
        verdict=verdict,
        reason=reason,
        variants=variant_results,
        probes=probe_results,
        skipped=tuple(s for s in skipped),
        address=battery.address,
        own_domain=own_domain,
        enumeration=battery.enumeration,
        authenticated=battery.authenticated,
        sent=sent,
        reconnects=battery.reconnects,
        desynced=battery.desynced,
        reply_seconds=_reply_seconds(battery),
        throttled=sum(1 for conn in battery.conns if conn.session.throttled),
    )
    return RelayReport(
        target=host,
        address=battery.address,
        port=opts.port,
        verdict=verdict,
        reason=reason,
        accepted_variants=tuple(v.name for v in variant_results if v.outcome == "accepted"),
        server_name=server_name,
        own_domain=own_domain,
        own_domain_source=source,
        address_literal=literal,
        external_domain=names.external_domain,
        variants=variant_results,
        probes=probe_results,
        skipped=skipped,
        enumeration=battery.enumeration,
        authenticated=battery.authenticated,
        sent=sent,
        connections_opened=len(battery.conns),
        reconnects=battery.reconnects,
        seconds=round(time.monotonic() - started, 3),
        findings=findings,
        deciding_variants=deciding,
        sends=tuple(sends),
        desynced_sessions=battery.desynced,
        _transcripts=_transcripts(battery),
    )


def _reply_seconds(battery: _Battery) -> float | None:
    """The average time the server took to answer MAIL, RCPT and RSET (None: no reply)."""
    times = [
        timing.seconds
        for conn in battery.conns
        for timing in conn.session.timings
        if timing.step in ("MAIL", "RCPT", "RSET")
    ]
    return sum(times) / len(times) if times else None


def _catch_all(battery: _Battery) -> bool:
    """Whether the server accepted the made-up local recipient (probe ``local-unknown``)."""
    probe = battery.results.get("local-unknown")
    return probe is not None and probe.outcome == "accepted"


async def check_relay_exchangers(
    exchangers: Sequence[tuple[str, Sequence[str]]], options: RelayOptions | None = None
) -> tuple[RelayReport, ...]:
    """Run the battery against every address of every exchanger, one after the other.

    ``exchangers`` is ``[(host name, [addresses])]`` as resolved by the caller. An exchanger
    without addresses is reported as unreachable.
    """
    opts = options or RelayOptions()
    reports: list[RelayReport] = []
    for name, addresses in exchangers:
        if not addresses:
            failure = Failure("DNS", "the exchanger has no address", name, opts.port, None)
            battery = _Battery(name, opts, None)
            reports.append(_unreachable(name, opts, failure, battery, time.monotonic()))
            continue
        for address in addresses:
            reports.append(await check_relay(name, dataclasses.replace(opts, address=address)))
    return tuple(reports)


async def check_relay_mx(domain: str, options: RelayOptions, resolver: Resolver) -> RelayRun:
    """``--mx DOMAIN``: the battery against every address of every exchanger of ``domain``.

    A failed MX lookup raises ``DnsFailure``/``StepTimeout`` (exit 3); a null MX is reported
    as a failure (nothing to test).
    """
    from mailprobe.dns import addresses, resolve_exchangers

    hosts = await resolve_exchangers(domain, resolver)
    if not hosts:
        failure = Failure("dns MX", f"{domain} has a null MX: it receives no mail", domain)
        return combine_reports(domain, (), (failure,))
    resolved: list[tuple[str, Sequence[str]]] = []
    for _preference, host in hosts:
        try:
            found = await addresses(host, resolver)
        except ProbeError:
            found = []
        resolved.append((host, found))
    return combine_reports(domain, await check_relay_exchangers(resolved, options))


def _accepted(battery: _Battery, variant: Variant) -> bool:
    result = battery.results.get(variant.name)
    return result is not None and result.outcome == "accepted"


def _final(battery: _Battery, variant: Variant, stop_reason: str | None) -> VariantResult:
    result = battery.results.get(variant.name)
    if result is not None:
        return result
    note = stop_reason or battery.last_drop or "the battery stopped before this variant"
    return _result(variant, "not-tested", note=note)


async def _own_domain(
    opts: RelayOptions, server_name: str | None, address: str | None, host: str
) -> tuple[str | None, str]:
    if opts.domain:
        return opts.domain.rstrip(".").lower(), opts.domain_source
    if server_name:
        return parent_domain(server_name), "greeting"
    if address and opts.ptr_lookup is not None:
        try:
            ptr = await opts.ptr_lookup(address)
        except ProbeError:
            ptr = None
        if ptr and _HOST_NAME.match(ptr):
            return parent_domain(ptr), "ptr"
    if not _is_ip(host) and _HOST_NAME.match(host):
        return parent_domain(host), "target"
    return None, "unknown"


def _transcripts(battery: _Battery) -> tuple[ConnectionTranscript, ...]:
    return tuple(
        ConnectionTranscript(
            label=conn.label,
            address=conn.session.address,
            port=conn.session.port,
            items=tuple(conn.items),
            lines=tuple(conn.session.transcript),
        )
        for conn in battery.conns
    )


def _unreachable(
    host: str, opts: RelayOptions, failure: Failure, battery: _Battery, started: float
) -> RelayReport:
    reason = (
        f"the server could not be reached: {_why(failure)}"
        if is_incomplete(failure)
        else f"the server did not let the battery start: {_why(failure)}"
    )
    where = battery.address or opts.address or host
    failed = failure_finding(failure, hostport(where, opts.port))
    return RelayReport(
        target=host,
        address=battery.address or opts.address,
        port=opts.port,
        verdict="inconclusive",
        reason=reason,
        accepted_variants=(),
        server_name=None,
        own_domain=opts.domain,
        own_domain_source=opts.domain_source if opts.domain else "unknown",
        address_literal=None,
        external_domain=opts.names(None, None, None).external_domain,
        variants=(),
        probes=(),
        skipped=(),
        enumeration=None,
        authenticated=None,
        sent=None,
        connections_opened=len(battery.conns),
        reconnects=0,
        seconds=round(time.monotonic() - started, 3),
        findings=(failed,) if failed is not None else (),
        failures=(failure,),
        desynced_sessions=1 if failure.kind == "desync" else 0,
        _transcripts=_transcripts(battery),
    )
