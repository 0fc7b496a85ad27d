"""MX analysis: the exchangers of a domain, their addresses and reverse DNS, optional banner probes.

``check_mx`` returns an ``MxReport`` (a frozen dataclass: JSON field names are its field names)
with one ``ServerView`` per DNS server asked, every diagnosis as a ``Finding`` and every step
that could not complete as a ``Failure``. It never prints and never raises for network trouble.

Finding codes, with their severities and fixes, are in the catalogue (``mailprobe.findings``).
With ``--connect`` an address that does not greet gets the finding of its failure class
(``smtp.connect-refused``, ``smtp.no-banner``, ``smtp.not-smtp``, ...), the same as in every
other SMTP command (``mailprobe.smtp.failures``).

The low-TTL rule applies only to authoritative answers: a caching resolver shows the time left
in its cache, which says nothing about the configured TTL.
"""

from __future__ import annotations

import asyncio
import dataclasses
import ipaddress
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from mailprobe.dns import (
    DnsAnswer,
    DnsStatus,
    Resolver,
    host_records,
    mx_records,
    parse_domain,
    reverse_name,
    to_unicode,
)
from mailprobe.model import ExitCode, Failure, Finding, Severity
from mailprobe.outcome import exit_code
from mailprobe.smtp.failures import failure_finding, is_incomplete
from mailprobe.text import is_digits

if TYPE_CHECKING:
    from mailprobe.smtp.session import Reply, SmtpSession

#: MX TTLs below this many seconds (in an authoritative answer) are reported.
LOW_TTL_SECONDS = 300


@dataclasses.dataclass(frozen=True)
class BannerProbe:
    """``--connect``: what happened on TCP port 25 (or ``--smtp-port``) of one address."""

    port: int
    #: "banner" (220 greeting), "rejected" (another code), "no-banner", "refused", "timeout",
    #: "error".
    status: str
    latency_ms: float | None = None
    banner: str = ""
    banner_code: int | None = None
    banner_host: str | None = None
    host_matches: bool | None = None
    message: str = ""
    #: The failure, classified by the SMTP engine (None when the server greeted with 220).
    failure: Failure | None = None


@dataclasses.dataclass(frozen=True)
class ExchangerAddress:
    """One address of an exchanger, its scope, reverse DNS and optional banner probe."""

    address: str
    family: int
    #: "public", "private", "loopback", "link-local", "shared", "reserved", "multicast",
    #: "unspecified", "documentation", "ipv4-mapped".
    scope: str
    ptr: tuple[str, ...] = ()
    #: "confirmed", "mismatch", "missing", "unverified" (lookup failed).
    ptr_status: str = "missing"
    connect: BannerProbe | None = None


@dataclasses.dataclass(frozen=True)
class Exchanger:
    """One MX target (or the domain itself for the implicit MX)."""

    preference: int
    host: str
    host_unicode: str
    ip_literal: bool = False
    cname_chain: tuple[str, ...] = ()
    ipv4_status: str = "ok"
    ipv6_status: str = "ok"
    address_ttl: int | None = None
    addresses: tuple[ExchangerAddress, ...] = ()

    @property
    def ipv4(self) -> list[ExchangerAddress]:
        """IPv4 addresses."""
        return [a for a in self.addresses if a.family == 4]

    @property
    def ipv6(self) -> list[ExchangerAddress]:
        """IPv6 addresses."""
        return [a for a in self.addresses if a.family == 6]


@dataclasses.dataclass(frozen=True)
class ServerView:
    """What one DNS server says about the domain."""

    server: str
    server_name: str | None
    mx_status: str
    mx_ttl: int | None = None
    authoritative: bool = False
    authenticated: bool = False
    null_mx: bool = False
    exchangers: tuple[Exchanger, ...] = ()
    #: No MX: the domain itself, as senders use it (RFC 5321 5.1).
    implicit_mx: Exchanger | None = None
    findings: tuple[Finding, ...] = ()
    failures: tuple[Failure, ...] = ()


@dataclasses.dataclass(frozen=True)
class MxReport:
    """The MX diagnosis of one domain, from one or more DNS servers."""

    domain: str
    domain_ascii: str
    domain_unicode: str
    servers: tuple[ServerView, ...]
    #: Differences between the first server's answer and each other server's, in words.
    differences: tuple[str, ...] = ()
    findings: tuple[Finding, ...] = ()
    failures: tuple[Failure, ...] = ()

    @property
    def exit_code(self) -> ExitCode:
        """0 healthy, 1 problem found, 3 a lookup could not complete."""
        return exit_code(self.findings, self.failures)


@dataclasses.dataclass(frozen=True)
class MxOptions:
    """How far ``check_mx`` goes."""

    connect: bool = False
    smtp_port: int = 25
    timeout: float = 10.0
    #: Limit for the whole check of one domain (all servers, lookups and probes).
    session_timeout: float | None = None


class ProbeCache:
    """Banner probes shared by all domains and servers of a run (one connection per address)."""

    def __init__(self) -> None:
        self._probes: dict[tuple[str, int], asyncio.Future[BannerProbe]] = {}

    async def probe(self, address: str, port: int, timeout: float) -> BannerProbe:
        key = (address, port)
        future = self._probes.get(key)
        if future is None:
            future = asyncio.ensure_future(probe_banner(address, port, timeout))
            self._probes[key] = future
        return await asyncio.shield(future)


# --- the check -------------------------------------------------------------------------------


async def check_mx(
    domain: str,
    resolvers: Sequence[Resolver],
    options: MxOptions | None = None,
    probes: ProbeCache | None = None,
) -> MxReport:
    """Diagnose the MX setup of ``domain`` as seen by each resolver (one server each).

    Raises ``UsageError`` only for a malformed domain name; everything else is in the report.
    """
    opts = options or MxOptions()
    ascii_name, unicode_name = parse_domain(domain)
    cache = probes or ProbeCache()
    views = await asyncio.gather(*(_view(ascii_name, r, opts, cache) for r in resolvers))
    differences = _compare(views)
    findings: list[Finding] = []
    seen: set[tuple[str, str]] = set()
    for view in views:
        for finding in view.findings:
            if (finding.code, finding.subject) not in seen:
                seen.add((finding.code, finding.subject))
                findings.append(finding)
    failures = [failure for view in views for failure in view.failures]
    if differences:
        findings.append(
            Finding(
                Severity.WARN,
                "mx.servers-differ",
                f"the DNS servers give different answers for {ascii_name}: "
                + "; ".join(differences),
                "Make internal (split-horizon) and external DNS agree, or check that the server "
                "senders on the Internet ask is the one you expect.",
                ascii_name,
            )
        )
    if not failures and not any(f.severity in (Severity.WARN, Severity.FAIL) for f in findings):
        first = views[0]
        count = len(first.exchangers) or (1 if first.implicit_mx else 0)
        findings.append(
            Finding(
                Severity.OK,
                "mx.ok",
                f"{count} exchanger(s) resolve to public addresses with confirmed reverse DNS",
                subject=ascii_name,
            )
        )
    findings.sort(key=lambda f: -f.severity.rank)
    return MxReport(
        domain=domain,
        domain_ascii=ascii_name,
        domain_unicode=unicode_name,
        servers=tuple(views),
        differences=tuple(differences),
        findings=tuple(findings),
        failures=tuple(failures),
    )


async def check_batch(
    domains: Sequence[str],
    resolvers: Sequence[Resolver],
    options: MxOptions,
    concurrency: int,
    on_result: Callable[[int, MxReport], None],
) -> None:
    """Check many domains, at most ``concurrency`` at once; ``on_result(index, report)`` is
    called as each finishes (in completion order). Resolvers and banner probes are shared."""
    limit = asyncio.Semaphore(max(1, concurrency))
    probes = ProbeCache()

    async def one(index: int, domain: str) -> None:
        async with limit:
            try:
                async with asyncio.timeout(options.session_timeout):
                    report = await check_mx(domain, resolvers, options, probes)
            except TimeoutError:
                report = _timed_out(domain, options)
        on_result(index, report)

    await asyncio.gather(*(one(i, d) for i, d in enumerate(domains)))


def _timed_out(domain: str, options: MxOptions) -> MxReport:
    ascii_name, unicode_name = parse_domain(domain)
    limit = options.session_timeout
    failure = Failure(
        step="mx check",
        message=f"did not finish within {limit:g} s (session timeout)",
        host=ascii_name,
        timeout=limit,
    )
    return MxReport(domain, ascii_name, unicode_name, servers=(), failures=(failure,))


async def _server_name(resolver: Resolver) -> str | None:
    server = resolver.servers[0]
    if server.url:
        return server.address
    answer = await resolver.query(reverse_name(server.address), "PTR")
    names = host_records(answer)
    return names[0] if names else None


def _host(name: str) -> str:
    return name.rstrip(".").lower() or "."


class _Collector:
    """Findings and failures of one server view."""

    def __init__(self, server: str) -> None:
        self.server = server
        self.findings: list[Finding] = []
        self.failures: list[Failure] = []

    def add(self, severity: Severity, code: str, summary: str, fix: str, subject: str) -> None:
        self.findings.append(Finding(severity, code, summary, fix, subject))

    def fail(self, answer: DnsAnswer, step: str, timeout: float) -> None:
        self.failures.append(answer.failure(step, timeout))


async def _view(domain: str, resolver: Resolver, opts: MxOptions, probes: ProbeCache) -> ServerView:
    server = resolver.servers[0].label
    out = _Collector(server)
    name_task = asyncio.ensure_future(_server_name(resolver))
    mx = await resolver.query(domain, "MX")

    async def finish(**parts: Any) -> ServerView:
        return ServerView(
            server=server,
            server_name=await name_task,
            mx_status=mx.status.value,
            mx_ttl=mx.ttl,
            authoritative=mx.authoritative,
            authenticated=mx.authenticated,
            findings=tuple(out.findings),
            failures=tuple(out.failures),
            **parts,
        )

    if mx.status.failed:
        out.fail(mx, "dns MX", opts.timeout)
        return await finish()
    if mx.status is DnsStatus.NXDOMAIN:
        out.add(
            Severity.FAIL,
            "mx.domain-nxdomain",
            f"{domain} does not exist (NXDOMAIN from {server})",
            "Check the spelling; if the domain is yours, check its registration and delegation "
            "(NS records at the parent zone).",
            domain,
        )
        return await finish()
    if mx.status is DnsStatus.NODATA:
        implicit = await _exchanger(0, domain, resolver, opts, probes, out, implicit=True)
        fallback = ", ".join(a.address for a in implicit.addresses) or "none"
        out.add(
            Severity.WARN,
            "mx.none",
            f"{domain} has no MX records; senders fall back to its own address records "
            f"(implicit MX, RFC 5321 section 5.1): {fallback}",
            f"Publish an MX record, e.g. '{domain}. 3600 IN MX 10 mail.{domain}.', or a null MX "
            f"('{domain}. IN MX 0 .') if the domain receives no mail.",
            domain,
        )
        if not implicit.addresses and not out.failures:
            out.add(
                Severity.FAIL,
                "mx.no-route",
                f"{domain} has neither MX nor address records: mail to it cannot be delivered",
                "Publish an MX record pointing to a host with A/AAAA records.",
                domain,
            )
        _connect_verdict([implicit], opts, out, domain)
        return await finish(implicit_mx=implicit)

    records = sorted(mx_records(mx), key=lambda item: (item[0], item[1]))
    null = [r for r in records if r[1] == "."]
    if null:
        if len(records) == 1:
            out.add(
                Severity.WARN,
                "mx.null",
                f"{domain} publishes a null MX (RFC 7505): it declares that it accepts no mail",
                "Nothing to do if the domain should receive no mail; otherwise replace the "
                "'MX 0 .' record with real exchangers.",
                domain,
            )
            return await finish(null_mx=True)
        out.add(
            Severity.FAIL,
            "mx.null-mixed",
            f"{domain} mixes a null MX ('MX 0 .') with other MX records",
            "A null MX must be the only MX record (RFC 7505 section 3): remove it, or remove "
            "the others.",
            domain,
        )
        records = [r for r in records if r[1] != "."]
    _structure_findings(domain, records, mx, out)
    unique: dict[str, int] = {}
    for pref, host in records:
        unique.setdefault(host, pref)
    exchangers = await asyncio.gather(
        *(_exchanger(pref, host, resolver, opts, probes, out) for host, pref in unique.items())
    )
    exchangers = sorted(exchangers, key=lambda e: (e.preference, e.host))
    all_scopes = [a.scope for e in exchangers for a in e.addresses]
    if all_scopes and "public" not in all_scopes:
        out.add(
            Severity.FAIL,
            "mx.no-public-exchanger",
            f"no exchanger of {domain} has a public address: senders on the Internet cannot "
            "reach any of them",
            "Publish the public address of your mail gateway in external DNS.",
            domain,
        )
    _connect_verdict(exchangers, opts, out, domain)
    return await finish(exchangers=tuple(exchangers))


def _structure_findings(
    domain: str, records: list[tuple[int, str]], mx: DnsAnswer, out: _Collector
) -> None:
    hosts = [host for _pref, host in records]
    for host in sorted({h for h in hosts if hosts.count(h) > 1}):
        prefs = ", ".join(str(p) for p, h in records if h == host)
        out.add(
            Severity.WARN,
            "mx.duplicate-exchanger",
            f"{host} is listed more than once (preferences {prefs})",
            "Keep one MX record per exchanger; a duplicate adds no redundancy.",
            host,
        )
    distinct = sorted(set(hosts))
    if len(distinct) == 1:
        out.add(
            Severity.INFO,
            "mx.single",
            f"{domain} has one exchanger ({distinct[0]}): no backup exchanger",
            "Optional: add a second MX (higher preference) on another host or network so mail "
            "is queued elsewhere during an outage.",
            domain,
        )
    if records:
        best = records[0][0]
        top = sorted({h for p, h in records if p == best})
        if len(top) > 1:
            out.add(
                Severity.INFO,
                "mx.load-balanced",
                f"{len(top)} exchangers share preference {best}: senders spread mail across "
                f"them ({', '.join(top)})",
                "",
                domain,
            )
    if mx.ttl is not None and mx.authoritative and mx.ttl < LOW_TTL_SECONDS:
        out.add(
            Severity.WARN,
            "mx.low-ttl",
            f"the MX records of {domain} have a TTL of {mx.ttl} s (below {LOW_TTL_SECONDS} s)",
            "Use a TTL of an hour or more (e.g. 3600) unless a migration is under way; very "
            "low TTLs make delivery depend on every DNS lookup succeeding.",
            domain,
        )


def _is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def address_scope(address: str) -> str:
    """Where an address is reachable from: "public" or the kind of special-purpose range."""
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return "ipv4-mapped"
    if ip.is_loopback:
        return "loopback"
    if ip.is_link_local:
        return "link-local"
    if ip.is_multicast:
        return "multicast"
    if ip.is_unspecified:
        return "unspecified"
    if isinstance(ip, ipaddress.IPv4Address) and ip in _SHARED:
        return "shared"
    if any(ip in net for net in _DOCUMENTATION):
        return "documentation"
    if ip.is_reserved:
        return "reserved"
    if ip.is_private:
        return "private"
    if not ip.is_global:
        return "reserved"
    return "public"


_SHARED = ipaddress.IPv4Network("100.64.0.0/10")
_DOCUMENTATION = tuple(
    ipaddress.ip_network(n)
    for n in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32")
)


async def _exchanger(
    preference: int,
    host: str,
    resolver: Resolver,
    opts: MxOptions,
    probes: ProbeCache,
    out: _Collector,
    *,
    implicit: bool = False,
) -> Exchanger:
    unicode_host = to_unicode(host)
    if _is_ip_literal(host):
        out.add(
            Severity.FAIL,
            "mx.ip-literal",
            f"MX target {host} is an IP address, not a host name; senders look it up as a name "
            "and fail",
            f"Give the exchanger a name (e.g. mail.example.org IN A {host.strip('[]')}) and "
            "point the MX record at that name.",
            host,
        )
        return Exchanger(preference, host, unicode_host, ip_literal=True)
    a, aaaa = await asyncio.gather(resolver.query(host, "A"), resolver.query(host, "AAAA"))
    for answer in (a, aaaa):
        if answer.status.failed:
            out.fail(answer, f"dns {answer.rdtype}", opts.timeout)
    chain = a.cname_chain or aaaa.cname_chain
    if chain and not implicit:
        out.add(
            Severity.WARN,
            "mx.cname-target",
            f"MX target {host} is an alias (CNAME to {chain[-1]}); RFC 2181 section 10.3 "
            "forbids this and some senders then fail to deliver",
            f"Point the MX record at the canonical name {chain[-1]} instead of the alias.",
            host,
        )
    raw = [*a.records, *aaaa.records]
    what = "the domain" if implicit else "MX target"
    if not raw and not implicit:
        if DnsStatus.NXDOMAIN in (a.status, aaaa.status):
            out.add(
                Severity.FAIL,
                "mx.target-nxdomain",
                f"{what} {host} does not exist (NXDOMAIN): mail cannot be delivered to it",
                f"Create A/AAAA records for {host}, or point the MX record at an existing host.",
                host,
            )
        elif not a.status.failed and not aaaa.status.failed:
            out.add(
                Severity.FAIL,
                "mx.target-nodata",
                f"{what} {host} exists but has no A or AAAA records",
                f"Add an A (and AAAA) record for {host}.",
                host,
            )
    if aaaa.ok and a.status in (DnsStatus.NODATA, DnsStatus.NXDOMAIN):
        out.add(
            Severity.WARN,
            "mx.ipv6-only",
            f"{what} {host} has IPv6 addresses only: senders without IPv6 cannot reach it",
            f"Add an A record for {host}.",
            host,
        )
    unique = list(dict.fromkeys(str(ipaddress.ip_address(x)) for x in raw))
    scopes = {address: address_scope(address) for address in unique}
    for address, scope in scopes.items():
        if scope == "ipv4-mapped":
            out.add(
                Severity.WARN,
                "mx.ipv4-mapped",
                f"{host} has an AAAA record with an IPv4-mapped address ({address}); it is not a "
                "real IPv6 address",
                f"Remove that AAAA record; publish the IPv4 address as an A record of {host}.",
                address,
            )
    if unique and all(scope != "public" for scope in scopes.values()):
        kinds = ", ".join(sorted(set(scopes.values())))
        out.add(
            Severity.WARN,
            "mx.non-public-address",
            f"{host} resolves only to non-public addresses ({kinds}): unreachable from the "
            "Internet",
            "Publish the public address of the mail gateway in external DNS; keep internal "
            "addresses to internal DNS.",
            host,
        )
    reports = await asyncio.gather(
        *(_address(addr, scopes[addr], host, resolver, opts, probes, out) for addr in unique)
    )
    ttls = [t for t in (a.ttl if a.ok else None, aaaa.ttl if aaaa.ok else None) if t is not None]
    return Exchanger(
        preference=preference,
        host=host,
        host_unicode=unicode_host,
        cname_chain=chain,
        ipv4_status=a.status.value,
        ipv6_status=aaaa.status.value,
        address_ttl=min(ttls) if ttls else None,
        addresses=tuple(reports),
    )


async def _address(
    address: str,
    scope: str,
    host: str,
    resolver: Resolver,
    opts: MxOptions,
    probes: ProbeCache,
    out: _Collector,
) -> ExchangerAddress:
    family = ipaddress.ip_address(address).version
    probe_task = (
        asyncio.ensure_future(probes.probe(address, opts.smtp_port, opts.timeout))
        if opts.connect
        else None
    )
    names, ptr_status = await _reverse(address, family, host, resolver, out)
    probe = await probe_task if probe_task is not None else None
    if probe is not None:
        probe = _banner_findings(probe, address, host, out)
    return ExchangerAddress(address, family, scope, names, ptr_status, probe)


async def _reverse(
    address: str, family: int, host: str, resolver: Resolver, out: _Collector
) -> tuple[tuple[str, ...], str]:
    """PTR names of ``address`` and whether one of them resolves back to it (a failure here
    only affects this address)."""
    answer = await resolver.query(reverse_name(address), "PTR")
    if answer.status.failed:
        out.add(
            Severity.WARN,
            "mx.ptr-unverified",
            f"reverse DNS of {address} ({host}) could not be checked: {answer.describe()}",
            "Retry later or ask another DNS server (--server).",
            address,
        )
        return (), "unverified"
    names = tuple(host_records(answer))
    if not names:
        out.add(
            Severity.WARN,
            "mx.ptr-missing",
            f"{address} ({host}) has no PTR record; many receivers reject or score mail from "
            "addresses without reverse DNS",
            f"Ask whoever holds the address block to publish PTR {address} -> {host}.",
            address,
        )
        return (), "missing"
    forward_type = "A" if family == 4 else "AAAA"
    forwards = await asyncio.gather(*(resolver.query(n, forward_type) for n in names))
    target = ipaddress.ip_address(address)
    for forward in forwards:
        if any(ipaddress.ip_address(r) == target for r in forward.records):
            return names, "confirmed"
    if any(f.status.failed for f in forwards):
        out.add(
            Severity.WARN,
            "mx.ptr-unverified",
            f"the PTR name of {address} ({', '.join(names)}) could not be resolved back",
            "Retry later or ask another DNS server (--server).",
            address,
        )
        return names, "unverified"
    out.add(
        Severity.WARN,
        "mx.ptr-mismatch",
        f"{address} ({host}) has PTR {', '.join(names)}, which does not resolve back to "
        f"{address} (not forward-confirmed)",
        f"Make the PTR name resolve to {address} ({forward_type} record), or change the PTR "
        f"to {host}.",
        address,
    )
    return names, "mismatch"


# --- --connect -------------------------------------------------------------------------------


def clean_banner(text: str, limit: int = 200) -> str:
    """Peer text as one printable line of at most ``limit`` characters."""
    flat = "".join(ch if ch.isprintable() else " " for ch in text)
    flat = " ".join(flat.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def parse_banner(lines: Sequence[str]) -> tuple[int | None, str, str | None]:
    """Reply code, cleaned text and announced host name of an SMTP greeting."""
    if not lines:
        return None, "", None
    first = lines[0]
    code = int(first[:3]) if is_digits(first[:3]) else None
    texts = [line[4:] if is_digits(line[:3]) else line for line in lines]
    text = clean_banner(" | ".join(t.strip() for t in texts))
    words = texts[0].split()
    banner_host = _host(words[0]) if words and code is not None else None
    return code, text, banner_host


#: BannerProbe.status by failure kind of the SMTP engine.
_STATUS_BY_KIND = {
    "connect-refused": "refused",
    "connect-timeout": "timeout",
    "connect-failed": "error",
    "greeting-deferred": "rejected",
    "greeting-refused": "rejected",
}


async def probe_banner(address: str, port: int, timeout: float) -> BannerProbe:
    """Connect to ``address``:``port`` with the SMTP engine in banner-only mode (greeting,
    then QUIT), within ``timeout`` per step."""
    from mailprobe.errors import ProbeError
    from mailprobe.smtp.session import SmtpSession

    session = SmtpSession(address, port, address=address, timeout=timeout)
    try:
        banner = await session.open()
    except ProbeError as exc:
        failure = exc.failure
        reply = session.banner
        code, text, banner_host = parse_banner(_reply_lines(reply)) if reply else (None, "", None)
        return BannerProbe(
            port,
            _STATUS_BY_KIND.get(failure.kind, "no-banner"),
            _connect_ms(session),
            text,
            code,
            banner_host,
            message=failure.message,
            failure=failure,
        )
    finally:
        session.close()
    code, text, banner_host = parse_banner(_reply_lines(banner))
    probe = BannerProbe(port, "banner", _connect_ms(session), text, code, banner_host)
    await session.quit()
    return probe


def _reply_lines(reply: Reply) -> list[str]:
    return [f"{reply.code:03d} {line}" for line in reply.lines]


def _connect_ms(session: SmtpSession) -> float | None:
    for timing in session.timings:
        if timing.step == "connect" and timing.ok:
            return round(timing.seconds * 1000, 1)
    return None


def _banner_findings(probe: BannerProbe, address: str, host: str, out: _Collector) -> BannerProbe:
    where = f"{address} port {probe.port} ({host})"
    if probe.failure is not None:
        failed = failure_finding(probe.failure, where)
        if failed is not None:
            out.findings.append(dataclasses.replace(failed, subject=address))
        if is_incomplete(probe.failure):
            out.failures.append(probe.failure)
    if probe.banner_host is not None:
        matches = probe.banner_host == host
        probe = dataclasses.replace(probe, host_matches=matches)
        if not matches and probe.status == "banner":
            out.add(
                Severity.INFO,
                "mx.banner-host-mismatch",
                f"{where}: greeting names {probe.banner_host}, not {host}",
                "Optional: make the greeting name the exchanger's public name (e.g. Exchange "
                "receive connector FQDN, Postfix myhostname).",
                address,
            )
    return probe


def _connect_verdict(
    exchangers: Sequence[Exchanger], opts: MxOptions, out: _Collector, domain: str
) -> None:
    if not opts.connect:
        return
    probed = [a.connect for e in exchangers for a in e.addresses if a.connect is not None]
    if probed and not any(p.status == "banner" for p in probed):
        out.add(
            Severity.FAIL,
            "mx.unreachable",
            f"no exchanger address of {domain} answered with a 220 greeting on port "
            f"{opts.smtp_port}",
            f"Check the mail servers, firewalls and port forwarding for port {opts.smtp_port}.",
            domain,
        )


# --- comparison across servers ---------------------------------------------------------------


def _summary(view: ServerView) -> tuple[str, dict[str, tuple[int, tuple[str, ...]]]]:
    exchangers = list(view.exchangers)
    if view.implicit_mx is not None:
        exchangers.append(view.implicit_mx)
    return view.mx_status, {
        e.host: (e.preference, tuple(sorted(a.address for a in e.addresses))) for e in exchangers
    }


def _compare(views: Sequence[ServerView]) -> list[str]:
    """Differences between the first server's view and each other one, in words."""
    if len(views) < 2:
        return []
    first = views[0]
    status0, hosts0 = _summary(first)
    lines: list[str] = []
    for other in views[1:]:
        if other.failures or first.failures:
            continue  # a failed lookup is reported as such, not as a difference
        status1, hosts1 = _summary(other)
        a, b = first.server, other.server
        if status0 != status1:
            lines.append(f"MX lookup is {status0} at {a} but {status1} at {b}")
            continue
        for host in sorted(set(hosts0) | set(hosts1)):
            if host not in hosts1:
                lines.append(f"{host} is an exchanger at {a} only")
            elif host not in hosts0:
                lines.append(f"{host} is an exchanger at {b} only")
            else:
                (p0, addrs0), (p1, addrs1) = hosts0[host], hosts1[host]
                if p0 != p1:
                    lines.append(f"{host} has preference {p0} at {a} but {p1} at {b}")
                if addrs0 != addrs1:
                    lines.append(
                        f"{host} is {', '.join(addrs0) or 'unresolved'} at {a} but "
                        f"{', '.join(addrs1) or 'unresolved'} at {b}"
                    )
    return lines
