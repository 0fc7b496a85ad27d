"""`mailprobe ports`: which mail-related TCP ports of a host answer, and what speaks on them.

Every port is probed concurrently (bounded), each step with its own time limit:

1. TCP connect: ``open``, ``closed`` (refused), ``filtered`` (no answer in time) or ``error``,
   with the connect latency.
2. On an open port, the service is identified from what it says first (a bounded read within
   the greeting wait): ``+OK`` POP3, ``* OK`` IMAP, ``200``/``201`` NNTP, ``HTTP/``; a silent
   port is sent ``HEAD / HTTP/1.0`` when HTTP is plausible there; LDAP, Global Catalog and DNS
   ports are silent by design. Ports that wrap their protocol in TLS (465, 993, 995, 636, 3269,
   563, 443) are identified after a TLS handshake, whose version and certificate are reported.
3. SMTP greetings (``220``) are read through the one SMTP engine, ``SmtpSession``: ports 25,
   587 and 465 are probed by it from the start (greeting, EHLO on the plain ports to see
   STARTTLS, QUIT); another port whose first line is ``220`` is probed by it once more.

Nothing peer-controlled is interpreted beyond its first line; greetings are kept as sent
(``peer_line``: cut, never changed) and shown through ``show_controls`` by the renderer.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import ipaddress
import re
import socket
import ssl
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal

from mailprobe.errors import UsageError
from mailprobe.findings import make
from mailprobe.model import ExitCode, Failure, Finding, Severity
from mailprobe.outcome import exit_code
from mailprobe.text import peer_line

if TYPE_CHECKING:
    from mailprobe.smtp.session import SmtpSession

PortState = Literal["open", "closed", "filtered", "error"]
#: What was identified on an open port ("" for a port that is not open).
Service = Literal["smtp", "pop3", "imap", "nntp", "http", "silent", "unknown", "closed-at-once", ""]

#: Largest number of ports one run probes.
MAX_PORTS = 1024
#: Bytes read of a greeting (the first line is what counts).
GREETING_BYTES = 1024


@dataclasses.dataclass(frozen=True)
class KnownPort:
    """A port mailprobe knows: the service usually there and how it behaves."""

    port: int
    name: str
    description: str
    #: The protocol expected: smtp, pop3, imap, nntp, http (speak first or answer HEAD), or
    #: ldap, dns, lsa (silent: the client speaks first in a binary protocol).
    expect: str
    tls: bool = False


#: The ports of the Exchange 2000 transport guide's table of ports (Table 7), plus submission
#: (587) and SMTPS (465).
KNOWN_PORTS: dict[int, KnownPort] = {
    p.port: p
    for p in (
        KnownPort(25, "SMTP", "mail from other servers (MX)", "smtp"),
        KnownPort(53, "DNS", "DNS over TCP (domain controllers)", "dns"),
        KnownPort(691, "SMTP/LSA", "Exchange routing engine link state (RESvc)", "lsa"),
        KnownPort(389, "LDAP", "Active Directory, ADC and Exchange 5.5 directory", "ldap"),
        KnownPort(636, "LDAP/SSL", "LDAP inside TLS", "ldap", tls=True),
        KnownPort(379, "LDAP/SRS", "Exchange Site Replication Service", "ldap"),
        KnownPort(390, "LDAP/5.5", "Exchange 5.5 LDAP moved off a domain controller", "ldap"),
        KnownPort(3268, "LDAP/GC", "Active Directory global catalog", "ldap"),
        KnownPort(3269, "LDAP/GC-SSL", "global catalog inside TLS", "ldap", tls=True),
        KnownPort(143, "IMAP4", "mailbox access, plain (STARTTLS possible)", "imap"),
        KnownPort(993, "IMAP4/SSL", "mailbox access inside TLS", "imap", tls=True),
        KnownPort(110, "POP3", "mailbox download, plain (STLS possible)", "pop3"),
        KnownPort(995, "POP3/SSL", "mailbox download inside TLS", "pop3", tls=True),
        KnownPort(119, "NNTP", "news (public folders)", "nntp"),
        KnownPort(563, "NNTP/SSL", "news inside TLS", "nntp", tls=True),
        KnownPort(80, "HTTP", "web access (OWA)", "http"),
        KnownPort(443, "HTTP/SSL", "web access inside TLS (OWA, ActiveSync)", "http", tls=True),
        KnownPort(587, "Submission", "mail from clients (SMTP AUTH, STARTTLS)", "smtp"),
        KnownPort(465, "SMTPS", "mail from clients inside TLS", "smtp", tls=True),
    )
}
#: The guide's Table 7 in its order, then submission and SMTPS.
EXCHANGE_PORTS: tuple[int, ...] = (
    *(25, 53, 691, 389, 636, 379, 390, 3268, 3269, 143, 993, 110, 995, 119, 563, 80, 443),
    *(587, 465),
)
PROFILES: dict[str, tuple[int, ...]] = {
    "mail": (25, 465, 587, 110, 995, 143, 993),
    "exchange": EXCHANGE_PORTS,
    "all": tuple(sorted(KNOWN_PORTS)),
}
#: Protocols whose server speaks first (a silent port there is a finding).
_SPEAKS_FIRST = ("smtp", "pop3", "imap", "nntp")
#: Protocols that are silent by design, and how a silent port is described.
_SILENT = {
    "ldap": "silent (LDAP/Global Catalog expected)",
    "dns": "silent (DNS over TCP expected)",
    "lsa": "silent (Exchange link state expected)",
}
_SMTP_ENGINE_PORTS = (25, 587, 465)
_NNTP = re.compile(r"^20[01](?:[ -]|$)")


@dataclasses.dataclass(frozen=True)
class PortTls:
    """The TLS handshake on a TLS-wrapped port: negotiated version and the certificate."""

    version: str | None
    cipher: str | None
    subject: str | None
    issuer: str | None
    not_after: str | None


@dataclasses.dataclass(frozen=True)
class PortResult:
    """One port: reachable or not, how fast, and what answered."""

    port: int
    #: The service usually on this port ("SMTP", "POP3/SSL"; "" for a port mailprobe does not
    #: know).
    usual: str
    state: PortState
    #: Time the TCP connect took (None when there was no connection).
    latency_ms: float | None
    #: What was identified from the first words (see ``Service``).
    service: Service
    #: The first line the service sent (or answered to HEAD), exactly as sent (cut if long).
    greeting: str = ""
    #: mailprobe's words about the service ("STARTTLS offered", "silent (LDAP... expected)").
    detail: str = ""
    tls: PortTls | None = None
    #: Plain SMTP ports: whether EHLO offered STARTTLS (None: not asked or no EHLO reply).
    starttls: bool | None = None
    #: Why the connect or a later step failed ("" when nothing failed).
    message: str = ""


@dataclasses.dataclass(frozen=True)
class PortsReport:
    """Everything ``mailprobe ports`` found on one host."""

    host: str
    #: The address probed (None when the name could not be resolved).
    address: str | None
    profile: str | None
    ports: tuple[int, ...]
    results: tuple[PortResult, ...]
    findings: tuple[Finding, ...]
    failures: tuple[Failure, ...]
    exit_code: ExitCode
    seconds: float


@dataclasses.dataclass(frozen=True)
class PortsOptions:
    """How to probe: time limits, concurrency, the HELO name, and whether the host is an MX."""

    timeout: float = 10.0
    greeting_wait: float = 3.0
    concurrency: int = 32
    helo: str = "localhost"
    expect_mx: bool = False


# -- input ---------------------------------------------------------------------------------------


def parse_ports(text: str) -> tuple[int, ...]:
    """``25,587,1000-1010`` -> the ports, sorted and once each; ``UsageError`` (one line) for
    an empty item, a non-number, a port outside 1-65535 or more than ``MAX_PORTS`` ports."""
    found: set[int] = set()
    if not text.strip():
        raise UsageError("--ports is empty: give ports like 25,587,1000-1010")
    for item in text.split(","):
        item = item.strip()
        if not item:
            raise UsageError(f"--ports {text!r}: an empty item (two commas, or a comma at an end)")
        low_text, dash, high_text = item.partition("-")
        low = _port_number(low_text.strip(), text)
        high = _port_number(high_text.strip(), text) if dash else low
        if high < low:
            raise UsageError(f"--ports: range {item!r} runs backwards")
        if high - low + 1 > MAX_PORTS:
            raise UsageError(f"--ports: more than {MAX_PORTS} ports in one run")
        found.update(range(low, high + 1))
        if len(found) > MAX_PORTS:
            raise UsageError(f"--ports: more than {MAX_PORTS} ports in one run")
    return tuple(sorted(found))


def _port_number(text: str, whole: str) -> int:
    if not (text.isascii() and text.isdigit()):
        raise UsageError(f"--ports {whole!r}: {text!r} is not a port number (1-65535)")
    number = int(text)
    if not 1 <= number <= 65535:
        raise UsageError(f"--ports: {number} is outside 1-65535")
    return number


# -- probing -------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def tls_context() -> ssl.SSLContext:
    """A client context that completes a handshake with anything (identification, not a
    verdict: old versions and suites allowed, the certificate read but not verified)."""
    import warnings

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with warnings.catch_warnings(), contextlib.suppress(ValueError, ssl.SSLError):
        warnings.simplefilter("ignore", DeprecationWarning)  # TLS 1.0: to name it, not to use
        context.minimum_version = ssl.TLSVersion.TLSv1
        context.set_ciphers("ALL:@SECLEVEL=0")
    return context


async def resolve(host: str, timeout: float) -> str:
    """The address to probe: ``host`` itself when it is one, else its first address from the
    system resolver; ``DnsFailure`` when there is none."""
    from mailprobe.errors import translate

    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        pass
    loop = asyncio.get_running_loop()
    try:
        infos = await asyncio.wait_for(
            loop.getaddrinfo(host, None, type=socket.SOCK_STREAM), timeout
        )
    except (OSError, TimeoutError) as exc:
        raise translate(exc, "DNS", host, None, timeout) from None
    families = sorted(infos, key=lambda info: info[0] != socket.AF_INET)
    return str(families[0][4][0])


async def probe_host(
    host: str, ports: Sequence[int], opts: PortsOptions, profile: str | None = None
) -> PortsReport:
    """Probe ``ports`` of ``host`` and judge what answered."""
    from mailprobe.errors import ProbeError

    started = time.monotonic()
    try:
        address = await resolve(host, opts.timeout)
    except ProbeError as exc:
        failure = dataclasses.replace(
            exc.failure, message=f"cannot resolve {host}: " + (exc.failure.message)
        )
        return PortsReport(
            host, None, profile, tuple(ports), (), (), (failure,), exit_code((), (failure,)),
            round(time.monotonic() - started, 3),
        )  # fmt: skip
    limit = asyncio.Semaphore(max(1, opts.concurrency))

    async def one(port: int) -> PortResult:
        async with limit:
            return await probe_port(host, address, port, opts)

    results = tuple(await asyncio.gather(*(one(port) for port in ports)))
    findings = judge(host, results, opts)
    failures: tuple[Failure, ...] = ()
    if results and all(r.state in ("filtered", "error") for r in results):
        failures = (
            Failure(
                "connect",
                f"nothing answered on any of the {len(results)} ports within "
                f"{opts.timeout:g} s (no open or refused port): the host is down, or a "
                "firewall drops everything",
                address,
                None,
                opts.timeout,
            ),
        )
    return PortsReport(
        host,
        address,
        profile,
        tuple(ports),
        results,
        findings,
        failures,
        exit_code(findings, failures),
        round(time.monotonic() - started, 3),
    )


async def probe_port(host: str, address: str, port: int, opts: PortsOptions) -> PortResult:
    """Connect to one port and identify what answers."""
    known = KNOWN_PORTS.get(port)
    usual = known.name if known else ""
    if port in _SMTP_ENGINE_PORTS:
        result = await smtp_probe(host, address, port, opts, implicit=port == 465, usual=usual)
        if result.state != "open" or result.service != "unknown" or result.tls is not None:
            return result
        # Not SMTP: connect once more and name what it is from its first line.
        other = await _connect_and_identify(host, address, port, usual, False, opts, smtp=False)
        if other.state != "open" or other.service in ("unknown", "smtp"):
            return result
        return dataclasses.replace(other, message=result.message)
    return await _connect_and_identify(
        host, address, port, usual, known is not None and known.tls, opts
    )


async def _connect_and_identify(
    host: str,
    address: str,
    port: int,
    usual: str,
    tls: bool,
    opts: PortsOptions,
    *,
    smtp: bool = True,
) -> PortResult:
    """Connect (timed) and identify the service; ``smtp``: a 220 is read by the SMTP engine."""
    loop = asyncio.get_running_loop()
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setblocking(False)
    began = time.monotonic()
    try:
        await asyncio.wait_for(loop.sock_connect(sock, (address, port)), opts.timeout)
    except ConnectionRefusedError:
        sock.close()
        return PortResult(port, usual, "closed", None, "", message="connection refused")
    except TimeoutError:
        sock.close()
        return PortResult(
            port, usual, "filtered", None, "", message=f"no answer within {opts.timeout:g} s"
        )
    except OSError as exc:
        sock.close()
        return PortResult(port, usual, "error", None, "", message=exc.strerror or str(exc))
    latency = round((time.monotonic() - began) * 1000, 1)
    return await _identify(host, address, port, sock, latency, usual, tls, opts, smtp)


async def _identify(
    host: str,
    address: str,
    port: int,
    sock: socket.socket,
    latency: float,
    usual: str,
    tls: bool,
    opts: PortsOptions,
    smtp: bool = True,
) -> PortResult:
    base = PortResult(port, usual, "open", latency, "")
    try:
        opened = asyncio.open_connection(
            sock=sock,
            ssl=tls_context() if tls else None,
            server_hostname=_sni(host) if tls else None,
            ssl_handshake_timeout=opts.timeout if tls else None,
        )
        reader, writer = await asyncio.wait_for(opened, opts.timeout)
    except (OSError, TimeoutError, ssl.SSLError) as exc:
        sock.close()
        what = "no TLS handshake in time" if isinstance(exc, TimeoutError) else _error(exc)
        return dataclasses.replace(
            base, service="unknown", message=f"TLS handshake failed: {what}" if tls else what
        )
    port_tls = _tls_of(writer) if tls else None
    base = dataclasses.replace(base, tls=port_tls)
    try:
        first, eof = await _first_line(reader, opts.greeting_wait)
        if first.startswith("220") and smtp:
            with contextlib.suppress(OSError):
                writer.write(b"QUIT\r\n")
            _abort(writer)
            await asyncio.sleep(0)
            engine = await smtp_probe(host, address, port, opts, implicit=tls, usual=usual)
            return dataclasses.replace(engine, latency_ms=latency, tls=engine.tls or port_tls)
        if first:
            return dataclasses.replace(base, service=_classify(first), greeting=peer_line(first))
        if eof:
            return dataclasses.replace(
                base,
                service="closed-at-once",
                detail="the server closed the connection without a word",
            )
        known = KNOWN_PORTS.get(port)
        expect = known.expect if known else ""
        if expect in _SILENT:
            return dataclasses.replace(base, service="silent", detail=_SILENT[expect])
        if expect in ("http", ""):
            writer.write(f"HEAD / HTTP/1.0\r\nHost: {_host_header(host)}\r\n\r\n".encode())
            answer, _ = await _first_line(reader, opts.timeout)
            if answer:
                service = "http" if answer.startswith("HTTP/") else _classify(answer)
                detail = "answered HEAD /" if service == "http" else "answered HEAD / oddly"
                return dataclasses.replace(
                    base, service=service, greeting=peer_line(answer), detail=detail
                )
            return dataclasses.replace(base, service="silent", detail="no answer to HEAD /")
        return dataclasses.replace(
            base,
            service="silent",
            detail=f"no greeting within {opts.greeting_wait:g} s",
        )
    except OSError as exc:
        return dataclasses.replace(base, service="unknown", message=_error(exc))
    finally:
        _abort(writer)
        await asyncio.sleep(0)  # let the transport close its socket before the loop ends


async def smtp_probe(
    host: str, address: str, port: int, opts: PortsOptions, *, implicit: bool, usual: str
) -> PortResult:
    """The greeting (and, on a plain port, EHLO's STARTTLS) through the SMTP engine."""
    from mailprobe.errors import ProbeError
    from mailprobe.smtp.session import SmtpSession

    session = SmtpSession(
        host,
        port,
        address=address,
        helo_name=opts.helo,
        timeout=opts.timeout,
        implicit_tls=implicit,
        tls_verify=False,
        tls_context=tls_context(),
        tls_server_name=_sni(host) or None,
        greeting_retries=0,
    )
    try:
        banner = await session.open()
    except ProbeError as exc:
        session.close()
        return _smtp_failure(session, port, usual, exc.failure)
    latency = _connect_ms(session)
    greeting = f"{banner.code} {banner.lines[0]}" if banner.lines else str(banner.code)
    result = PortResult(
        port,
        usual,
        "open",
        latency,
        "smtp",
        greeting=peer_line(greeting),
        tls=_port_tls(session),
    )
    if not implicit:
        try:
            await session.hello()
            offered = session.supports("STARTTLS")
            result = dataclasses.replace(
                result,
                starttls=offered,
                detail="STARTTLS offered" if offered else "no STARTTLS in the EHLO reply",
            )
        except ProbeError as exc:
            result = dataclasses.replace(result, message=f"EHLO: {exc.failure.message}")
    await session.quit()
    session.close()
    return result


def _smtp_failure(session: SmtpSession, port: int, usual: str, failure: Failure) -> PortResult:
    kind = failure.kind
    if kind == "connect-refused":
        return PortResult(port, usual, "closed", None, "", message="connection refused")
    if kind == "connect-timeout":
        return PortResult(
            port, usual, "filtered", None, "", message=f"no answer within {session.timeout:g} s"
        )
    if kind in ("connect-failed", "no-address"):
        return PortResult(port, usual, "error", None, "", message=failure.message)
    latency = _connect_ms(session)
    banner = session.banner
    greeting = ""
    if banner is not None and banner.lines:
        greeting = peer_line(f"{banner.code} {banner.lines[0]}")
    service: Service = "smtp" if kind in ("greeting-refused", "greeting-deferred") else "unknown"
    message = failure.message
    if kind in ("tls-handshake-failed", "certificate-untrusted"):
        message = "TLS handshake failed: " + message.removeprefix("the TLS handshake failed: ")
    elif kind == "no-banner":
        service = "silent"
    elif kind == "dropped":
        service = "closed-at-once"
    return PortResult(
        port,
        usual,
        "open",
        latency,
        service,
        greeting=greeting,
        tls=_port_tls(session),
        message=message,
    )


def _connect_ms(session: SmtpSession) -> float | None:
    for timing in session.timings:
        if timing.step == "connect" and timing.ok:
            return round(timing.seconds * 1000, 1)
    return None


def _port_tls(session: SmtpSession) -> PortTls | None:
    info = session.tls
    if info is None or info.version is None:
        return None
    return PortTls(info.version, info.cipher, info.subject, info.issuer, info.not_after)


def _tls_of(writer: asyncio.StreamWriter) -> PortTls | None:
    from mailprobe.smtp.tls import decode_der_certificate, tls_info_from_cert

    ssl_object = writer.get_extra_info("ssl_object")
    if not isinstance(ssl_object, ssl.SSLObject | ssl.SSLSocket):
        return None
    der = ssl_object.getpeercert(binary_form=True)
    decoded = decode_der_certificate(der) if der else None
    cipher = ssl_object.cipher()
    info = tls_info_from_cert(
        decoded or {},
        version=ssl_object.version(),
        cipher=cipher[0] if cipher else None,
        verified=False,
        checked_name=None,
    )
    return PortTls(info.version, info.cipher, info.subject, info.issuer, info.not_after)


async def _first_line(reader: asyncio.StreamReader, wait: float) -> tuple[str, bool]:
    """The first line a peer sends within ``wait`` seconds (at most ``GREETING_BYTES``), and
    whether the peer closed the connection."""
    data = b""
    deadline = time.monotonic() + wait
    eof = False
    while b"\n" not in data and len(data) < GREETING_BYTES:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        try:
            chunk = await asyncio.wait_for(reader.read(GREETING_BYTES - len(data)), left)
        except TimeoutError:
            break
        if not chunk:
            eof = True
            break
        data += chunk
    line = data.split(b"\n", 1)[0].rstrip(b"\r")
    return line.decode("utf-8", "replace"), eof


def _classify(line: str) -> Service:
    if line.startswith(("+OK", "-ERR")):
        return "pop3"
    if line.startswith(("* OK", "* PREAUTH", "* BYE")):
        return "imap"
    if _NNTP.match(line):
        return "nntp"
    if line.startswith("HTTP/"):
        return "http"
    if line.startswith("220"):
        return "smtp"
    return "unknown"


def _abort(writer: asyncio.StreamWriter) -> None:
    transport = writer.transport
    if not transport.is_closing():
        transport.abort()


def _error(exc: BaseException) -> str:
    from mailprobe.text import clean_line

    if isinstance(exc, ssl.SSLError):
        return clean_line(exc.reason or str(exc), 200)
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return clean_line(str(exc) or type(exc).__name__, 200)


def _sni(host: str) -> str:
    """The server name to send in TLS: the host name, none for an address."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return host
    return ""


def _host_header(host: str) -> str:
    return f"[{host}]" if ":" in host else host


# -- judging -------------------------------------------------------------------------------------


def expected_service(port: int) -> str:
    """The protocol usually on ``port`` ("" when mailprobe does not know the port)."""
    known = KNOWN_PORTS.get(port)
    return known.expect if known else ""


def judge(host: str, results: Sequence[PortResult], opts: PortsOptions) -> tuple[Finding, ...]:
    """The findings about what the host exposes."""
    by_port = {r.port: r for r in results}
    out: list[Finding] = []

    def subject(port: int) -> str:
        return f"{host} port {port}"

    for plain, wrapped, code, name in ((110, 995, "ports.pop3-plain", "POP3"),
                                       (143, 993, "ports.imap-plain", "IMAP")):  # fmt: skip
        here = by_port.get(plain)
        if here is None or here.state != "open":
            continue
        tls = by_port.get(wrapped)
        if tls is not None and tls.state == "open":
            out.append(
                make(
                    code,
                    f"{name} without TLS is open on port {plain} beside {name} over TLS on "
                    f"{wrapped}: clients set up for port {plain} may still send passwords in "
                    "the clear",
                    subject=subject(plain),
                    severity=Severity.INFO,
                )
            )
        else:
            why = "was not probed" if tls is None else f"is {tls.state}"
            out.append(
                make(
                    code,
                    f"{name} is open on port {plain} without TLS while port {wrapped} ({name} "
                    f"over TLS) {why}",
                    subject=subject(plain),
                    severity=Severity.WARN if tls is not None else Severity.INFO,
                )
            )
    smtp = by_port.get(25)
    if smtp is not None and smtp.state != "open":
        out.append(
            make(
                "ports.smtp-closed",
                f"port 25 is {smtp.state}"
                + (": other servers cannot deliver mail to this host" if opts.expect_mx else ""),
                subject=subject(25),
                severity=Severity.FAIL if opts.expect_mx else Severity.INFO,
            )
        )
    submission = by_port.get(587)
    if submission is not None and submission.service == "smtp" and submission.starttls is False:
        out.append(
            make(
                "ports.submission-no-starttls",
                "port 587 (submission) answers SMTP but does not offer STARTTLS: clients would "
                "send their passwords and mail in the clear",
                subject=subject(587),
            )
        )
    for result in results:
        if result.state != "open":
            continue
        expect = expected_service(result.port)
        if result.message.startswith("TLS handshake failed"):
            out.append(
                make(
                    "ports.tls-failed",
                    f"port {result.port} is open but {result.message[0].lower()}"
                    f"{result.message[1:]}",
                    subject=subject(result.port),
                )
            )
            continue
        if result.service == "silent" and expect in _SPEAKS_FIRST:
            out.append(
                make(
                    "ports.no-greeting",
                    f"port {result.port} accepts connections but its {expect.upper()} "
                    f"greeting did not come ({result.message or result.detail})",
                    subject=subject(result.port),
                )
            )
        elif _unexpected(result, expect):
            said = result.greeting or result.detail or result.message or result.service
            out.append(
                make(
                    "ports.unexpected-service",
                    f"port {result.port} ({result.usual}) answers "
                    f"{_service_name(result.service)}, not {expect.upper()}: {said}",
                    subject=subject(result.port),
                )
            )
    filtered = [r.port for r in results if r.state == "filtered"]
    if filtered and len(filtered) < len(results):
        out.append(
            make(
                "ports.filtered",
                f"no answer at all within {opts.timeout:g} s on port"
                f"{'s' if len(filtered) > 1 else ''} {', '.join(map(str, filtered))}: a "
                "firewall drops the connection attempts",
                subject=host,
            )
        )
    refused = sum(1 for r in results if r.state == "closed")
    if refused and not any(r.state == "open" for r in results):
        others = len(results) - refused
        out.append(
            make(
                "ports.none-open",
                f"no port probed is open: {refused} refused"
                + (f", {others} gave no answer" if others else ""),
                subject=host,
            )
        )
    return tuple(out)


def _unexpected(result: PortResult, expect: str) -> bool:
    if result.service in ("", "silent", "closed-at-once"):
        return False
    if expect in _SPEAKS_FIRST or expect == "http":
        return result.service != expect
    if expect in _SILENT:  # binary protocols: a text greeting there is something else
        return result.service != "unknown" or bool(result.greeting)
    return False


def _service_name(service: str) -> str:
    return {"unknown": "something else"}.get(service, service.upper())
