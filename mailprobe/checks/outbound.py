"""`mailprobe outbound`: can this machine send mail out? The outbound checklist, step by step.

Steps, each reported as catalogued ``outbound.*`` findings:

1. DNS: the configured resolver (``--server``, the config's ``dns_server``, else the system
   resolver) resolves the MX of an external domain; when it is not the system resolver, the
   system resolver (or ``--system-server``) is asked too and the answers compared.
2. Port 25: each exchanger's first address is opened on port 25 through the SMTP engine
   (connect and banner, concurrently, bounded). When no exchanger accepts a TCP connection on
   25 but one answers on another port (587, 443), outbound port 25 is probably blocked by the
   network or the provider. A server that accepts and stays silent is a tarpit, said as such.
3. Identity: the HELO name is fully qualified and resolves; the outbound address (found with a
   UDP ``connect()`` toward the first exchanger: no packet is sent) has a PTR name, and that
   name resolves back to the address (forward-confirmed).
4. Smarthost (``--smarthost``): a submission session (STARTTLS on 587, or implicit TLS on 465),
   AUTH as in ``ehlo``, MAIL FROM and RCPT TO accepted, then RSET and QUIT: nothing is sent.

Results are frozen dataclasses (the JSON of ``--json``); nothing here prints or exits.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import ipaddress
import socket
import time
from typing import TYPE_CHECKING

from mailprobe.errors import ProbeError
from mailprobe.findings import make
from mailprobe.model import ExitCode, Failure, Finding, Severity
from mailprobe.outcome import exit_code

if TYPE_CHECKING:
    from mailprobe.checks.ehlo import EhloReport
    from mailprobe.dns import Resolver

#: Exchangers probed at once on port 25.
EXCHANGERS_AT_ONCE = 8
#: At most this many exchangers are probed (the best ones).
MAX_EXCHANGERS = 10
#: Failure kinds of the engine that mean no TCP connection was made.
_NOT_CONNECTED = frozenset({"no-address", "connect-refused", "connect-timeout", "connect-failed"})


@dataclasses.dataclass(frozen=True)
class MxAnswer:
    """One resolver's answer to the MX question."""

    #: ``ADDR:PORT`` of each server asked, or "system" for the system resolver.
    servers: tuple[str, ...]
    #: ok, nxdomain, nodata, servfail, refused, timeout, error (as ``DnsStatus``), or null-mx.
    status: str
    #: ``PREF HOST`` of each exchanger, best first.
    exchangers: tuple[str, ...]
    message: str = ""


@dataclasses.dataclass(frozen=True)
class DnsStep:
    """Step 1: the MX of ``domain`` through the configured resolver, and the system's."""

    domain: str
    configured: MxAnswer
    #: None when the configured resolver is the system resolver (nothing to compare).
    system: MxAnswer | None
    #: Whether both resolvers gave the same exchangers (None: not compared).
    agree: bool | None


@dataclasses.dataclass(frozen=True)
class PortAnswer:
    """A plain TCP connect to another port of an exchanger (587, 443)."""

    port: int
    open: bool
    message: str


@dataclasses.dataclass(frozen=True)
class ExchangerProbe:
    """Port 25 of one exchanger's first address."""

    preference: int
    host: str
    address: str | None
    port: int
    #: greeted (a 2xx banner), failed (see ``failure_kind``), no-address.
    status: str
    banner: str | None
    #: The engine's failure class (``mailprobe.smtp.failures``), "" when greeted.
    failure_kind: str
    message: str
    seconds: float | None
    #: Other ports tried when port 25 took no TCP connection.
    other_ports: tuple[PortAnswer, ...] = ()


@dataclasses.dataclass(frozen=True)
class Port25Step:
    """Step 2: port 25 of the exchangers."""

    port: int
    exchangers: tuple[ExchangerProbe, ...]
    #: open (an exchanger greeted), blocked (no TCP on 25, another port answers), no-greeting
    #: (TCP connects, no exchanger greets), unreachable (nothing answers), not-tested.
    verdict: str


@dataclasses.dataclass(frozen=True)
class IdentityStep:
    """Step 3: the HELO name and the PTR of the outbound address."""

    helo: str
    helo_fqdn: bool
    helo_addresses: tuple[str, ...]
    #: The local address the kernel picks toward the first exchanger (None: no route known).
    source_address: str | None
    source_private: bool
    ptr_names: tuple[str, ...]
    #: Whether a PTR name resolves back to the address (None: not checked).
    ptr_confirmed: bool | None
    #: Whether the HELO name is one of the PTR names (None: not checked).
    ptr_matches_helo: bool | None


@dataclasses.dataclass(frozen=True)
class SmarthostStep:
    """Step 4: a submission session with the smarthost, up to RCPT TO, nothing sent."""

    host: str
    port: int
    #: starttls or implicit.
    mode: str
    address: str | None
    sender: str
    recipient: str
    accepted: bool
    #: The session as ``ehlo`` reports it (transcript redacted).
    session: EhloReport | None


@dataclasses.dataclass(frozen=True)
class OutboundReport:
    """Everything ``mailprobe outbound`` found (the ``results`` of ``--json``)."""

    to_domain: str
    dns: DnsStep
    port25: Port25Step
    identity: IdentityStep
    smarthost: SmarthostStep | None
    findings: tuple[Finding, ...]
    failures: tuple[Failure, ...]
    exit_code: ExitCode


@dataclasses.dataclass(frozen=True)
class OutboundRequest:
    """What to check (validated by the CLI)."""

    to_domain: str
    helo: str
    port: int = 25
    other_ports: tuple[int, ...] = (587, 443)
    timeout: float = 10.0
    session_timeout: float = 60.0
    #: The system resolver's servers to compare with (None: the configured one is the system's).
    compare: bool = False
    smarthost: SmarthostRequest | None = None


@dataclasses.dataclass(frozen=True)
class SmarthostRequest:
    """The smarthost session to run."""

    host: str
    port: int
    implicit_tls: bool
    sender: str
    recipient: str
    user: str | None = None
    password: str | None = dataclasses.field(default=None, repr=False)
    auth_mechanism: str | None = None
    ca_file: str | None = None


class _Collect:
    def __init__(self) -> None:
        self.findings: list[Finding] = []
        self.failures: list[Failure] = []

    def add(
        self, code: str, summary: str, subject: str = "", severity: Severity | None = None
    ) -> None:
        self.findings.append(make(code, summary, subject=subject, severity=severity))


async def check_outbound(
    request: OutboundRequest, resolver: Resolver, system: Resolver | None
) -> OutboundReport:
    """Run the four steps; never raises ``ProbeError`` (failures are in the report)."""
    out = _Collect()
    dns_step, exchangers = await _dns_step(request.to_domain, resolver, system, out)
    port25 = await _port25_step(request, exchangers, resolver, out)
    first = next((e.address for e in port25.exchangers if e.address), None)
    smarthost_address: str | None = None
    if request.smarthost is not None:
        smarthost_address = await _smarthost_address(request.smarthost.host, resolver, out)
    identity = await _identity_step(
        request.helo, first or smarthost_address, request.port, resolver, out
    )
    smarthost = None
    if request.smarthost is not None:
        smarthost = await _smarthost_step(request, smarthost_address, out)
    findings = tuple(sorted(out.findings, key=lambda f: -f.severity.rank))
    failures = tuple(out.failures)
    return OutboundReport(
        request.to_domain,
        dns_step,
        port25,
        identity,
        smarthost,
        findings,
        failures,
        exit_code(findings, failures),
    )


# -- step 1: DNS --------------------------------------------------------------------------------


async def _mx_answer(domain: str, resolver: Resolver, label: tuple[str, ...]) -> MxAnswer:
    from mailprobe.dns import DnsStatus, mx_records

    answer = await resolver.query(domain, "MX")
    records = sorted(set(mx_records(answer)), key=lambda item: (item[0], item[1]))
    status = answer.status.value
    if answer.status is DnsStatus.OK and len(records) == 1 and records[0][1] == ".":
        status = "null-mx"
    shown = tuple(f"{pref} {host}" for pref, host in records if host != ".")
    return MxAnswer(label, status, shown, answer.message)


def _labels(resolver: Resolver) -> tuple[str, ...]:
    return tuple(s.label for s in resolver.servers)


async def _dns_step(
    domain: str, resolver: Resolver, system: Resolver | None, out: _Collect
) -> tuple[DnsStep, list[tuple[int, str]]]:
    from mailprobe.dns import resolve_exchangers

    configured = await _mx_answer(domain, resolver, _labels(resolver))
    exchangers: list[tuple[int, str]] = []
    if configured.status == "ok":
        exchangers = [(int(p), h) for p, h in (e.split(" ", 1) for e in configured.exchangers)]
        out.add(
            "outbound.mx-resolved",
            f"the configured DNS server ({', '.join(configured.servers)}) resolves the MX of "
            f"{domain}: {', '.join(configured.exchangers)}",
            domain,
        )
    elif configured.status == "null-mx":
        out.add(
            "outbound.null-mx",
            f"{domain} publishes a null MX: it accepts no mail, so port 25 cannot be tested "
            "against it",
            domain,
        )
    elif configured.status == "nodata":
        try:  # the implicit MX: the domain's own address (RFC 5321 5.1)
            exchangers = await resolve_exchangers(domain, resolver)
        except ProbeError:
            exchangers = []
        if exchangers:
            out.add(
                "outbound.mx-resolved",
                f"{domain} has no MX record; its own address serves as the exchanger",
                domain,
            )
        else:
            out.add("outbound.mx-failed", f"{domain} has no MX record and no address", domain)
    else:
        what = configured.message or configured.status
        out.add(
            "outbound.mx-failed",
            f"the configured DNS server ({', '.join(configured.servers)}) cannot resolve the "
            f"MX of {domain}: {what}",
            domain,
        )
        if configured.status != "nxdomain":  # a server that gave no verdict: incomplete
            out.failures.append(Failure("dns MX", f"{domain}: {what}", timeout=resolver.timeout))
    system_answer: MxAnswer | None = None
    agree: bool | None = None
    if system is not None:
        system_answer = await _mx_answer(domain, system, _labels(system))
        agree = (system_answer.status, system_answer.exchangers) == (
            configured.status,
            configured.exchangers,
        )
        if system_answer.status not in ("ok", "null-mx", "nodata", "nxdomain"):
            out.add(
                "outbound.system-resolver-failed",
                f"the system resolver ({', '.join(s.label for s in system.servers)}) did not "
                f"answer the MX question for {domain}: "
                f"{system_answer.message or system_answer.status}",
                domain,
            )
        elif agree:
            out.add(
                "outbound.resolvers-agree",
                f"the system resolver gives the same answer for the MX of {domain}",
                domain,
            )
        else:
            out.add(
                "outbound.resolvers-differ",
                f"the system resolver answers {_said(system_answer)} for the MX of {domain}, "
                f"the configured server {_said(configured)}",
                domain,
            )
    return DnsStep(domain, configured, system_answer, agree), exchangers


def _said(answer: MxAnswer) -> str:
    if answer.exchangers:
        return ", ".join(answer.exchangers)
    return answer.status.upper()


# -- step 2: port 25 ------------------------------------------------------------------------------


async def _port25_step(
    request: OutboundRequest,
    exchangers: list[tuple[int, str]],
    resolver: Resolver,
    out: _Collect,
) -> Port25Step:
    if not exchangers:
        return Port25Step(request.port, (), "not-tested")
    limit = asyncio.Semaphore(EXCHANGERS_AT_ONCE)

    async def one(pref: int, host: str) -> ExchangerProbe:
        async with limit:
            return await _probe_exchanger(request, pref, host, resolver)

    probes = list(await asyncio.gather(*(one(p, h) for p, h in exchangers[:MAX_EXCHANGERS])))
    port = request.port
    greeted = [p for p in probes if p.status == "greeted"]
    connected = [p for p in probes if p.status == "failed" and p.failure_kind not in _NOT_CONNECTED]
    tried = [p for p in probes if p.address is not None]
    if greeted:
        verdict = "open"
        out.add(
            "outbound.port25-open",
            f"port {port} reaches the exchangers of {request.to_domain}: {len(greeted)} of "
            f"{len(probes)} greeted ({', '.join(p.host for p in greeted)})",
            request.to_domain,
        )
        return Port25Step(port, tuple(probes), verdict)
    if connected:
        for probe in connected:
            _failure(probe, out)
        out.add(
            "outbound.port25-no-greeting",
            f"port {port} connects to {len(connected)} of {len(probes)} exchangers of "
            f"{request.to_domain}, but none greets: "
            + "; ".join(f"{p.host}: {p.message}" for p in connected),
            request.to_domain,
        )
        return Port25Step(port, tuple(probes), "no-greeting")
    # No TCP connection on 25 anywhere: does anything else answer?
    probes = list(await asyncio.gather(*(_other_ports(request, p) for p in probes)))
    answering = [p for p in probes if any(o.open for o in p.other_ports)]
    if answering:
        ports = sorted({o.port for p in answering for o in p.other_ports if o.open})
        several = len(tried) > 1
        out.add(
            "outbound.port25-blocked",
            f"no exchanger of {request.to_domain} accepts a connection on port {port} "
            f"({len(tried)} tried), but {len(answering)} answer on port "
            f"{', '.join(map(str, ports))}: outbound port {port} is probably blocked by this "
            "network or its provider",
            request.to_domain,
            severity=Severity.FAIL if several else Severity.WARN,
        )
        return Port25Step(port, tuple(probes), "blocked")
    for probe in probes:
        _failure(probe, out)
    if not tried:
        out.add(
            "outbound.port25-unreachable",
            f"no exchanger of {request.to_domain} has an address: nothing to connect to",
            request.to_domain,
        )
        return Port25Step(port, tuple(probes), "unreachable")
    others = ", ".join(str(p) for p in request.other_ports) or "no other port"
    out.add(
        "outbound.port25-unreachable",
        f"no exchanger of {request.to_domain} answers on port {port} nor on {others}: this "
        "host reaches none of them",
        request.to_domain,
    )
    return Port25Step(port, tuple(probes), "unreachable")


def _failure(probe: ExchangerProbe, out: _Collect) -> None:
    from mailprobe.smtp.failures import failure_finding

    subject = probe.host if probe.address is None else f"{probe.host} ({probe.address})"
    failure = Failure(
        "connect" if probe.failure_kind in _NOT_CONNECTED else "banner",
        probe.message,
        probe.address or probe.host,
        probe.port,
        kind=probe.failure_kind,
    )
    finding = failure_finding(failure, subject)
    if finding is not None:
        out.findings.append(finding)
    out.failures.append(failure)


async def _probe_exchanger(
    request: OutboundRequest, pref: int, host: str, resolver: Resolver
) -> ExchangerProbe:
    from mailprobe.dns import addresses
    from mailprobe.smtp.session import SmtpSession

    try:
        found = await addresses(host, resolver)
    except ProbeError as exc:
        return ExchangerProbe(
            pref, host, None, request.port, "no-address", None, "no-address",
            exc.failure.message, None,
        )  # fmt: skip
    if not found:
        return ExchangerProbe(
            pref, host, None, request.port, "no-address", None, "no-address",
            f"{host} has no address", None,
        )  # fmt: skip
    address = found[0]
    started = time.monotonic()
    session = SmtpSession(
        host, request.port, address=address, helo_name=request.helo, timeout=request.timeout,
        greeting_retries=0,
    )  # fmt: skip
    try:
        async with session:
            banner = await session.open()
            seconds = round(time.monotonic() - started, 4)
            await session.quit()
    except ProbeError as exc:
        return ExchangerProbe(
            pref, host, address, request.port, "failed", None,
            exc.failure.kind or "dropped", exc.failure.message,
            round(time.monotonic() - started, 4),
        )  # fmt: skip
    from mailprobe.text import clean_line

    text = clean_line(f"{banner.code} {banner.text}")
    return ExchangerProbe(pref, host, address, request.port, "greeted", text, "", "", seconds)


async def _other_ports(request: OutboundRequest, probe: ExchangerProbe) -> ExchangerProbe:
    if probe.address is None or not request.other_ports:
        return probe
    answers = await asyncio.gather(
        *(_tcp_connect(probe.address, port, request.timeout) for port in request.other_ports)
    )
    return dataclasses.replace(probe, other_ports=tuple(answers))


async def _tcp_connect(address: str, port: int, timeout: float) -> PortAnswer:
    """A TCP connection opened and closed at once (no byte sent): does the port answer?"""
    try:
        _reader, writer = await asyncio.wait_for(asyncio.open_connection(address, port), timeout)
    except TimeoutError:
        return PortAnswer(port, False, f"no TCP connection within {timeout:g} s")
    except ConnectionRefusedError:
        return PortAnswer(port, False, "connection refused")
    except OSError as exc:
        return PortAnswer(port, False, exc.strerror or "cannot connect")
    writer.close()
    with contextlib.suppress(OSError, TimeoutError):
        await asyncio.wait_for(writer.wait_closed(), timeout)
    return PortAnswer(port, True, "connection accepted")


# -- step 3: HELO name and PTR ---------------------------------------------------------------------


def outbound_address(destination: str, port: int = 25) -> str | None:
    """The local address the kernel would use toward ``destination`` (a UDP ``connect()``
    picks the route; no packet is sent). None when there is no route."""
    family = socket.AF_INET6 if ":" in destination else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_DGRAM) as sock:
            sock.connect((destination, port))
            return str(sock.getsockname()[0])
    except OSError:
        return None


def _is_private(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    return ip.is_private or ip.is_loopback or ip.is_link_local


async def _identity_step(
    helo: str, toward: str | None, port: int, resolver: Resolver, out: _Collect
) -> IdentityStep:
    from mailprobe.dns import addresses, host_records, reverse_name

    literal = helo.startswith("[")
    name = helo.rstrip(".").lower()
    fqdn = not literal and "." in name
    helo_addresses: tuple[str, ...] = ()
    if literal:
        out.add(
            "outbound.helo-not-fqdn",
            f"the HELO name {helo} is an address literal: many receivers want a fully "
            "qualified host name",
            helo,
        )
    elif not fqdn:
        out.add(
            "outbound.helo-not-fqdn",
            f"the HELO name {helo!r} is not fully qualified (no domain part)",
            helo,
        )
    else:
        try:
            helo_addresses = tuple(await addresses(name, resolver))
        except ProbeError as exc:
            out.failures.append(exc.failure)
        else:
            if helo_addresses:
                out.add(
                    "outbound.helo-ok",
                    f"the HELO name {helo} is fully qualified and resolves to "
                    f"{', '.join(helo_addresses)}",
                    helo,
                )
            else:
                out.add(
                    "outbound.helo-no-address",
                    f"the HELO name {helo} does not resolve (no A or AAAA record)",
                    helo,
                )
    source = outbound_address(toward, port) if toward else None
    if source is None:
        out.add(
            "outbound.source-unknown",
            "no outbound address found (no exchanger address to route toward): PTR not checked",
        )
        return IdentityStep(helo, fqdn, helo_addresses, None, False, (), None, None)
    private = _is_private(source)
    if private:
        out.add(
            "outbound.source-private",
            f"this host sends from {source}, a private address: receivers see the public "
            "address it is translated to (NAT), whose PTR must be checked from outside",
            source,
        )
    answer = await resolver.query(reverse_name(source), "PTR")
    if answer.status.failed:
        out.failures.append(answer.failure("dns PTR"))
        return IdentityStep(helo, fqdn, helo_addresses, source, private, (), None, None)
    names = tuple(host_records(answer)) if answer.ok else ()
    if not names:
        out.add(
            "outbound.ptr-missing",
            f"the outbound address {source} has no PTR record: many receivers refuse or "
            "score down mail from it",
            source,
        )
        return IdentityStep(helo, fqdn, helo_addresses, source, private, (), None, None)
    confirmed = False
    for ptr_name in names:
        try:
            back = await addresses(ptr_name, resolver)
        except ProbeError:
            back = []
        if any(ipaddress.ip_address(b) == ipaddress.ip_address(source) for b in back):
            confirmed = True
            break
    matches = name in {n.rstrip(".").lower() for n in names} if not literal else None
    if confirmed:
        out.add(
            "outbound.ptr-confirmed",
            f"the outbound address {source} has the PTR {', '.join(names)}, which resolves "
            "back to it (forward-confirmed)",
            source,
        )
    else:
        out.add(
            "outbound.ptr-not-confirmed",
            f"the PTR of the outbound address {source} ({', '.join(names)}) does not resolve "
            "back to it",
            source,
        )
    if matches is False:
        out.add(
            "outbound.ptr-helo-differs",
            f"the HELO name {helo} is not the PTR name of {source} ({', '.join(names)})",
            source,
        )
    return IdentityStep(helo, fqdn, helo_addresses, source, private, names, confirmed, matches)


# -- step 4: the smarthost ------------------------------------------------------------------------


async def _smarthost_address(host: str, resolver: Resolver, out: _Collect) -> str | None:
    from mailprobe.dns import addresses

    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        pass
    try:
        found = await addresses(host, resolver)
    except ProbeError as exc:
        out.failures.append(exc.failure)
        return None
    if not found:
        out.add("smtp.no-address", f"{host}: the smarthost name has no address", host)
        out.failures.append(Failure("DNS", f"{host}: no address", host, kind="no-address"))
        return None
    return found[0]


async def _smarthost_step(
    request: OutboundRequest, address: str | None, out: _Collect
) -> SmarthostStep:
    from mailprobe.checks.ehlo import EhloRequest, probe_ehlo

    smart = request.smarthost
    assert smart is not None
    mode = "implicit" if smart.implicit_tls else "starttls"
    if address is None:
        return SmarthostStep(
            smart.host, smart.port, mode, None, smart.sender, smart.recipient, False, None
        )
    ehlo = EhloRequest(
        host=smart.host,
        port=smart.port,
        address=address,
        helo_name=request.helo,
        implicit_tls=smart.implicit_tls,
        starttls=None if smart.implicit_tls else True,
        ca_file=smart.ca_file,
        user=smart.user,
        password=smart.password,
        auth_mechanism=smart.auth_mechanism,
        sender=smart.sender,
        recipients=(smart.recipient,),
        send_data=False,
        timeout=request.timeout,
        session_timeout=request.session_timeout,
    )
    report = await probe_ehlo(ehlo)
    where = f"{smart.host}:{smart.port}"
    auth_ok = smart.user is None or (report.auth is not None and report.auth.succeeded)
    mail_ok = report.mail is not None and report.mail.outcome == "accepted"
    rcpt_ok = bool(report.rcpt) and all(r.outcome == "accepted" for r in report.rcpt)
    accepted = report.failure is None and auth_ok and mail_ok and rcpt_ok
    for finding in report.findings:
        if finding.severity in (Severity.WARN, Severity.FAIL) or finding.code.startswith("auth."):
            out.findings.append(finding)
    if report.failure is not None:
        out.failures.append(report.failure)
    if accepted:
        out.add(
            "outbound.smarthost-accepted",
            f"the smarthost {where} accepts {smart.sender} -> {smart.recipient}"
            + (f" after AUTH as {smart.user}" if smart.user else "")
            + " (nothing sent: RSET, QUIT)",
            where,
        )
    else:
        out.add(
            "outbound.smarthost-refused",
            f"the smarthost {where} does not take the test envelope: {_why(report, smart)}",
            where,
        )
    return SmarthostStep(
        smart.host, smart.port, mode, address, smart.sender, smart.recipient, accepted, report
    )


def _why(report: EhloReport, smart: SmarthostRequest) -> str:
    if report.failure is not None:
        return report.failure.message
    if smart.user is not None and (report.auth is None or not report.auth.succeeded):
        if report.auth is not None and report.auth.reply is not None:
            reply = report.auth.reply
            return f"AUTH failed: {reply.code} {reply.text}"
        return "AUTH was not possible"
    if report.mail is None:
        return "MAIL FROM was not sent"
    if report.mail.outcome != "accepted":
        return f"MAIL FROM answered {report.mail.code} {report.mail.text}"
    for rcpt in report.rcpt:
        if rcpt.outcome != "accepted":
            return f"RCPT TO answered {rcpt.code} {rcpt.text}"
    return "no recipient was accepted"
