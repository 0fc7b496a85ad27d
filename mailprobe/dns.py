"""The one resolver wrapper every check uses: servers, transports, timeouts, cache.

Only commands that talk DNS import this module (it imports dnspython at module level); the CLI
imports it inside the command function, so ``mailprobe ndr`` never loads dnspython.

Results are values, not exceptions: ``Resolver.query`` always returns a ``DnsAnswer`` whose
``status`` is one of ``DnsStatus`` (ok, nxdomain, nodata, servfail, refused, timeout, error),
with the records, their TTL, which server answered, and the AA/AD flags.

API for checks and other commands::

    from mailprobe.dns import Resolver, parse_server, parse_domain, addresses, resolve_exchangers

    server = parse_server("127.0.1.1:5353")   # ADDR, ADDR:PORT, [v6]:PORT, v6; else UsageError
    ascii_name, unicode_name = parse_domain("bücher.example")   # IDNA 2008 A-label; UsageError

    async with Resolver([server], timeout=5, tcp=False, dnssec=False) as resolver:
        # Resolver(None): the nameservers of /etc/resolv.conf. For a CLI run use
        # Resolver.from_settings(cfg, servers=[...], doh=URL, tcp=..., dnssec=...): --server
        # values, else --doh, else the configured dns_server, else resolv.conf.
        # DoH by hand: Resolver([parse_doh_url("https://dns.example/dns-query")]).
        answer = await resolver.query("example.org", "MX")
        answer.status            # DnsStatus: OK NXDOMAIN NODATA SERVFAIL REFUSED TIMEOUT ERROR
        answer.records           # presentation text, e.g. ("10 mx1.example.org.",)
        answer.rdata()           # the dnspython rdata objects (not part of the JSON)
        answer.ttl, answer.server, answer.authenticated, answer.authoritative, answer.cname_chain
        answer.failure("dns MX") # a model.Failure naming the server, for a failed status
        raise_for_status(answer, "dns MX")   # StepTimeout / DnsFailure for failed, nxdomain, nodata

        hosts = await resolve_exchangers("example.org", resolver)
        #   [(10, "mx1.example.org"), (20, "mx2.example.org")], sorted by preference then name;
        #   no MX but addresses -> [(0, "example.org")] (the implicit MX of RFC 5321 5.1);
        #   null MX (RFC 7505) -> []; NXDOMAIN, SERVFAIL, REFUSED, timeout -> raises DnsFailure /
        #   StepTimeout (ProbeError, exit 3) whose Failure names the server.
        addrs = await addresses("mx1.example.org", resolver)
        #   IPv4 then IPv6 as text (A and AAAA asked concurrently); [] when the name has none;
        #   raises DnsFailure / StepTimeout only when a lookup failed and no address came back.
        strings = txt_strings(await resolver.query("_dmarc.example.org", "TXT"))
        mx_records(answer)       # [(10, "mx1.example.org"), ...] from an MX answer ("." = null)
        host_records(ptr_answer) # PTR/CNAME/NS targets, lower case, no final dot
        reverse_name("192.0.2.1")   # "1.2.0.192.in-addr.arpa"

Timeouts: ``timeout`` bounds one try at one server (the UDP query is sent again once halfway
through it); ``lifetime`` (default: ``timeout`` x number of servers) bounds one lookup across all
servers. With several servers (e.g. /etc/resolv.conf), a timeout, SERVFAIL or REFUSED moves on
to the next server. A truncated UDP answer is retried over TCP. ``--dnssec`` sets the DO bit and
AD flag; ``authenticated`` reports the AD flag of the answer (trust it only from a validating
resolver you reach over a trusted path).

Cache: a resolver remembers every answer for its lifetime (one run), failures included, and
identical concurrent queries share one in-flight lookup, so a batch asks each name once.
UDP queries to a server go through a small pool of connected sockets opened once per run,
matched to answers by random query id and the echoed question.
"""

from __future__ import annotations

import asyncio
import dataclasses
import enum
import ipaddress
import secrets
import socket
import struct
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype

from mailprobe.errors import DnsFailure, StepTimeout, UsageError, translate
from mailprobe.model import Failure

if TYPE_CHECKING:
    import httpx

    from mailprobe.config import Settings

__all__ = [
    "DnsAnswer",
    "DnsServer",
    "DnsStatus",
    "Resolver",
    "addresses",
    "host_records",
    "mx_records",
    "parse_domain",
    "parse_server",
    "raise_for_status",
    "resolve_exchangers",
    "reverse_name",
    "system_servers",
    "txt_strings",
]

_DEFAULT_PORT = 53
_EDNS_PAYLOAD = 1232  # the DNS flag day 2020 size: avoids IP fragmentation
_MAX_CNAME_HOPS = 12

RdType = dns.rdatatype.RdataType
_UDP_SOCKETS_PER_SERVER = 4


class DnsStatus(enum.Enum):
    """What became of one query."""

    OK = "ok"
    NXDOMAIN = "nxdomain"
    NODATA = "nodata"
    SERVFAIL = "servfail"
    REFUSED = "refused"
    TIMEOUT = "timeout"
    ERROR = "error"

    @property
    def failed(self) -> bool:
        """True when the server gave no usable verdict (SERVFAIL, REFUSED, timeout, error)."""
        return self in _FAILED


_FAILED = frozenset({DnsStatus.SERVFAIL, DnsStatus.REFUSED, DnsStatus.TIMEOUT, DnsStatus.ERROR})


@dataclasses.dataclass(frozen=True)
class DnsServer:
    """A server to ask: an address and port, or a DNS-over-HTTPS URL."""

    address: str
    port: int = _DEFAULT_PORT
    url: str | None = None

    @property
    def label(self) -> str:
        """``ADDR:PORT``, ``[v6]:PORT`` or the DoH URL, as shown to the user."""
        if self.url:
            return self.url
        if ":" in self.address:
            return f"[{self.address}]:{self.port}"
        return f"{self.address}:{self.port}"


@dataclasses.dataclass(frozen=True)
class DnsAnswer:
    """The outcome of one query: status, records (presentation text), TTL, who answered."""

    name: str
    rdtype: str
    status: DnsStatus
    records: tuple[str, ...] = ()
    ttl: int | None = None
    server: str = ""
    authoritative: bool = False
    authenticated: bool = False
    #: Names the answer went through by CNAME, in order (empty when the name had none).
    cname_chain: tuple[str, ...] = ()
    #: Why a failed status failed, in words ("no answer within 2 s").
    message: str = ""
    _rdata: tuple[Any, ...] = dataclasses.field(default=(), repr=False, compare=False)
    _server: DnsServer | None = dataclasses.field(default=None, repr=False, compare=False)
    #: The response and its question, kept to build ``rdata()`` on demand (fast path).
    _wire: bytes = dataclasses.field(default=b"", repr=False, compare=False)
    _question: tuple[str, str] = dataclasses.field(default=("", ""), repr=False, compare=False)

    @property
    def ok(self) -> bool:
        """True when records came back."""
        return self.status is DnsStatus.OK

    def rdata(self) -> tuple[Any, ...]:
        """The dnspython rdata objects of the records (MX .preference/.exchange, A .address…).

        Answers read by the fast wire parser build them here, on first use."""
        if not self._rdata and self._wire and self.records:
            qname = dns.name.from_text(self._question[0])
            qtype = dns.rdatatype.from_text(self._question[1])
            message = dns.message.from_wire(self._wire, ignore_trailing=True)
            server = self._server or DnsServer("0.0.0.0")
            full, _open = _interpret(message, qname, qtype, server)
            object.__setattr__(self, "_rdata", full._rdata)
        return self._rdata

    def describe(self, with_server: bool = True) -> str:
        """The status in words, naming the query (and the server unless ``with_server`` is
        false)."""
        what = f"{self.name} {self.rdtype}"
        where = f" from {self.server}" if self.server and with_server else ""
        texts = {
            DnsStatus.OK: f"{what}: {len(self.records)} record(s){where}",
            DnsStatus.NXDOMAIN: f"{what}: name does not exist (NXDOMAIN){where}",
            DnsStatus.NODATA: f"{what}: no {self.rdtype} records (NODATA){where}",
            DnsStatus.SERVFAIL: f"{what}: server failure (SERVFAIL){where}",
            DnsStatus.REFUSED: f"{what}: query refused (REFUSED){where}",
            DnsStatus.TIMEOUT: f"{what}: {self.message or 'no answer'}{where}",
            DnsStatus.ERROR: f"{what}: {self.message or 'error'}{where}",
        }
        return texts[self.status]

    def failure(self, step: str, timeout: float | None = None) -> Failure:
        """This answer as a ``Failure`` of ``step`` (for failed statuses)."""
        server = self._server
        host = server.url or server.address if server else (self.server or None)
        port = None if server is None or server.url else server.port
        message = self.describe(with_server=server is None)
        return Failure(step=step, message=message, host=host, port=port, timeout=timeout)


def raise_for_status(answer: DnsAnswer, step: str) -> DnsAnswer:
    """Return ``answer`` if it has records, else raise ``StepTimeout`` or ``DnsFailure``."""
    if answer.ok:
        return answer
    failure = answer.failure(step)
    if answer.status is DnsStatus.TIMEOUT:
        raise StepTimeout(failure)
    raise DnsFailure(failure)


def mx_records(answer: DnsAnswer) -> list[tuple[int, str]]:
    """(preference, host) of an MX answer; host in lower case without the final dot ("." for
    a null MX)."""
    found = []
    for record in answer.records:
        preference, _sep, host = record.partition(" ")
        found.append((int(preference), host.rstrip(".").lower() or "."))
    return found


def host_records(answer: DnsAnswer) -> list[str]:
    """Target names of a PTR, CNAME or NS answer, lower case, without the final dot."""
    return [record.rstrip(".").lower() or "." for record in answer.records]


def txt_strings(answer: DnsAnswer) -> list[str]:
    """Each TXT record of an answer as one string (its character-strings joined, UTF-8)."""
    return [b"".join(r.strings).decode("utf-8", "replace") for r in answer.rdata()]


# --- input parsing ---------------------------------------------------------------------------


def parse_server(text: str, default_port: int = _DEFAULT_PORT) -> DnsServer:
    """Parse ``ADDR``, ``ADDR:PORT``, ``[v6]:PORT`` or a bare IPv6 address; UsageError if bad."""
    raw = text.strip()
    if not raw:
        raise UsageError("DNS server is empty: give an IP address, ADDR:PORT or [v6]:PORT")
    port_text: str | None = None
    if raw.startswith("["):
        end = raw.find("]")
        if end < 0:
            raise UsageError(f"DNS server {text!r}: missing ']' after the IPv6 address")
        host, rest = raw[1:end], raw[end + 1 :]
        if rest:
            if not rest.startswith(":"):
                raise UsageError(f"DNS server {text!r}: expected ':PORT' after ']'")
            port_text = rest[1:]
    elif raw.count(":") == 1:
        host, port_text = raw.split(":")
    else:
        host = raw
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        raise UsageError(
            f"DNS server {text!r} is not an IP address (give ADDR, ADDR:PORT or [v6]:PORT)"
        ) from None
    if raw.startswith("[") and address.version != 6:
        raise UsageError(f"DNS server {text!r}: brackets are for IPv6 addresses only")
    port = default_port
    if port_text is not None:
        if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
            raise UsageError(f"DNS server {text!r}: port must be a number from 1 to 65535")
        port = int(port_text)
    return DnsServer(str(address), port)


def parse_doh_url(text: str) -> DnsServer:
    """Validate a DNS-over-HTTPS URL (``https://host/dns-query``; ``http://`` for tests)."""
    from urllib.parse import urlsplit

    raw = text.strip()
    try:
        parts = urlsplit(raw)
        port = parts.port
    except ValueError:
        raise UsageError(f"DoH URL {text!r}: not a valid URL") from None
    if parts.scheme.lower() not in ("https", "http") or not parts.hostname or " " in raw:
        raise UsageError(f"DoH URL {text!r}: expected https://HOST/PATH")
    default = 443 if parts.scheme.lower() == "https" else 80
    return DnsServer(address=parts.hostname, port=port or default, url=raw)


def system_servers(path: str = "/etc/resolv.conf") -> list[DnsServer]:
    """The nameservers of resolv.conf (127.0.0.1 when there are none or it cannot be read)."""
    servers: list[DnsServer] = []
    try:
        lines = Path(path).read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        lines = []
    for line in lines:
        parts = line.split()
        if len(parts) >= 2 and parts[0] == "nameserver":
            address = parts[1].split("%", 1)[0]  # drop an IPv6 zone index
            try:
                servers.append(DnsServer(str(ipaddress.ip_address(address))))
            except ValueError:
                continue
    return servers or [DnsServer("127.0.0.1")]


_LABEL_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-_")


def parse_domain(text: str) -> tuple[str, str]:
    """Validate a domain name typed by a user; return (A-label form, Unicode form).

    Unicode names are converted with IDNA 2008 (UTS 46 mapping) when the ``idna`` package is
    installed, else with Python's IDNA 2003 codec. Raises ``UsageError`` with one line.
    """
    raw = text.strip()
    if not raw:
        raise UsageError("domain name is empty")
    if any(ch.isspace() or not ch.isprintable() for ch in raw):
        raise UsageError(f"domain name {text!r} contains spaces or control characters")
    if raw.endswith(".") and raw != ".":
        raw = raw[:-1]
    if raw == "." or raw.startswith(".") or ".." in raw:
        raise UsageError(f"domain name {text!r} has an empty label")
    try:
        ipaddress.ip_address(raw.strip("[]"))
    except ValueError:
        pass
    else:
        raise UsageError(f"{text!r} is an IP address, not a domain name")
    ascii_name = raw.lower() if raw.isascii() else _to_ascii(raw, text)
    labels = ascii_name.split(".")
    for label in labels:
        if len(label) > 63:
            raise UsageError(
                f"domain name {_short(text)!r}: label of {len(label)} characters "
                "(at most 63 allowed)"
            )
        if not set(label) <= _LABEL_CHARS:
            bad = next(ch for ch in label if ch not in _LABEL_CHARS)
            raise UsageError(f"domain name {_short(text)!r}: character {bad!r} is not allowed")
        if label.startswith("-") or label.endswith("-"):
            raise UsageError(
                f"domain name {_short(text)!r}: label {label!r} starts or ends with a hyphen"
            )
    if len(ascii_name) > 253:
        raise UsageError(f"domain name {_short(text)!r} is longer than 253 characters")
    return ascii_name, _to_unicode(ascii_name, text)


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _to_ascii(name: str, original: str) -> str:
    try:
        import idna
    except ImportError:  # pragma: no cover - idna comes with httpx
        try:
            return name.encode("idna").decode("ascii").lower()
        except UnicodeError as exc:
            raise UsageError(f"domain name {_short(original)!r}: {exc}") from None
    try:
        return idna.encode(name, uts46=True).decode("ascii").lower()
    except idna.IDNAError as exc:
        raise UsageError(f"domain name {_short(original)!r} is not a valid IDN: {exc}") from None


def _to_unicode(ascii_name: str, original: str) -> str:
    if "xn--" not in ascii_name:
        return ascii_name
    try:
        import idna
    except ImportError:  # pragma: no cover
        try:
            return ascii_name.encode("ascii").decode("idna")
        except UnicodeError as exc:
            raise UsageError(f"domain name {_short(original)!r}: bad A-label ({exc})") from None
    try:
        return str(idna.decode(ascii_name))
    except idna.IDNAError as exc:
        raise UsageError(f"domain name {_short(original)!r}: bad A-label ({exc})") from None


def to_unicode(ascii_name: str) -> str:
    """The Unicode form of a host name from DNS (unchanged when it is not a valid A-label)."""
    if "xn--" not in ascii_name:
        return ascii_name
    try:
        return _to_unicode(ascii_name, ascii_name)
    except UsageError:
        return ascii_name


def reverse_name(address: str) -> str:
    """The in-addr.arpa / ip6.arpa name of an address (no trailing dot)."""
    return ipaddress.ip_address(address).reverse_pointer


# --- transports ------------------------------------------------------------------------------


def _name_wire(name: str) -> bytes:
    """Uncompressed wire form of a name given as text (absolute; final dot optional)."""
    if name in (".", ""):
        return b"\x00"
    if "\\" in name or not name.isascii():
        encoded = dns.name.from_text(name).to_wire()
        assert encoded is not None
        return encoded
    parts = []
    for label in (name[:-1] if name.endswith(".") else name).split("."):
        if not 0 < len(label) <= 63:
            raise ValueError(f"{name!r}: empty label or label longer than 63 characters")
        parts.append(bytes((len(label),)) + label.encode("ascii"))
    wire = b"".join(parts) + b"\x00"
    if len(wire) > 255:
        raise ValueError(f"{name!r}: longer than 255 octets")
    return wire


_RDTYPES: dict[str, RdType] = {}


def _rdtype(text: str) -> RdType:
    found = _RDTYPES.get(text)
    if found is None:
        found = _RDTYPES[text] = dns.rdatatype.from_text(text)
    return found


def _build_query(name: str, rdtype: int, dnssec: bool) -> tuple[bytes, bytes]:
    """Wire form of a query with id 0 (RD, EDNS0 with our payload size, DO/AD when asked),
    and its question section (to match answers against)."""
    flags = 0x0100 | (0x0020 if dnssec else 0)  # RD, AD
    header = struct.pack("!HHHHHH", 0, flags, 1, 0, 0, 1)
    question = _name_wire(name) + struct.pack("!HH", rdtype, 1)
    opt = b"\x00" + struct.pack("!HHBBHH", 41, _EDNS_PAYLOAD, 0, 0, 0x8000 if dnssec else 0, 0)
    return header + question + opt, question


class _UdpChannel(asyncio.DatagramProtocol):
    """One connected UDP socket; answers are matched by id and echoed question."""

    def __init__(self) -> None:
        self.transport: asyncio.DatagramTransport | None = None
        self.pending: dict[int, tuple[bytes, asyncio.Future[bytes]]] = {}

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: Any) -> None:
        if len(data) < 12:
            return
        entry = self.pending.get(int.from_bytes(data[:2], "big"))
        if entry is None:
            return
        question, future = entry
        qdcount = int.from_bytes(data[4:6], "big")
        echoed = data[12 : 12 + len(question)]
        if qdcount and echoed.lower() != question.lower():
            return  # not the answer to this query (or spoofed)
        if not future.done():
            future.set_result(data)

    def _fail_all(self, exc: BaseException) -> None:
        for _question, future in self.pending.values():
            if not future.done():
                future.set_exception(exc)

    def error_received(self, exc: Exception) -> None:
        self._fail_all(exc)  # ICMP port/host unreachable: cannot tell which query it was for

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail_all(exc or ConnectionError("socket closed"))


class _UdpPool:
    """A few connected UDP sockets to one server, opened on first use, reused for the run."""

    def __init__(self, server: DnsServer) -> None:
        self.server = server
        self.channels: list[_UdpChannel] = []
        self.next = 0
        self.lock = asyncio.Lock()

    async def _channel(self) -> _UdpChannel:
        if len(self.channels) < _UDP_SOCKETS_PER_SERVER:
            async with self.lock:
                if len(self.channels) < _UDP_SOCKETS_PER_SERVER:
                    loop = asyncio.get_running_loop()
                    _transport, protocol = await loop.create_datagram_endpoint(
                        _UdpChannel, remote_addr=(self.server.address, self.server.port)
                    )
                    self.channels.append(protocol)
                    return protocol
        self.next = (self.next + 1) % len(self.channels)
        return self.channels[self.next]

    async def exchange(self, wire: bytes, question: bytes, timeout: float) -> bytes:
        channel = await self._channel()
        transport = channel.transport
        assert transport is not None
        while True:
            qid = secrets.randbits(16)
            if qid not in channel.pending:
                break
        packet = qid.to_bytes(2, "big") + wire[2:]
        loop = asyncio.get_running_loop()
        future: asyncio.Future[bytes] = loop.create_future()
        channel.pending[qid] = (question, future)

        def expire() -> None:
            if not future.done():
                future.set_exception(TimeoutError())

        def resend() -> None:  # one retransmission halfway, against a lost datagram
            if not future.done() and not transport.is_closing():
                transport.sendto(packet)

        timers = [loop.call_later(timeout / 2, resend), loop.call_later(timeout, expire)]
        try:
            transport.sendto(packet)
            return await future
        finally:
            for timer in timers:
                timer.cancel()
            channel.pending.pop(qid, None)

    def close(self) -> None:
        for channel in self.channels:
            if channel.transport is not None:
                channel.transport.close()
        self.channels.clear()


async def _tcp_exchange(server: DnsServer, wire: bytes, timeout: float) -> bytes:
    """One query over a fresh TCP connection, bounded by ``timeout`` as a whole."""
    qid = secrets.randbits(16)
    packet = qid.to_bytes(2, "big") + wire[2:]
    async with asyncio.timeout(timeout):
        reader, writer = await asyncio.open_connection(server.address, server.port)
        try:
            writer.write(struct.pack("!H", len(packet)) + packet)
            await writer.drain()
            while True:
                (length,) = struct.unpack("!H", await reader.readexactly(2))
                data = await reader.readexactly(length)
                if data[:2] == packet[:2]:
                    return data
        finally:
            writer.close()


# --- the resolver ----------------------------------------------------------------------------


class Resolver:
    """Ask one or more servers, with per-try timeout, overall lifetime and an in-run cache."""

    def __init__(
        self,
        servers: Sequence[DnsServer] | None = None,
        *,
        timeout: float = 10.0,
        lifetime: float | None = None,
        tcp: bool = False,
        dnssec: bool = False,
    ) -> None:
        self.servers: list[DnsServer] = list(servers) if servers else system_servers()
        self.timeout = timeout
        self.lifetime = lifetime if lifetime is not None else timeout * len(self.servers)
        self.tcp = tcp
        self.dnssec = dnssec
        #: Queries actually sent (cache hits and shared in-flight lookups not counted).
        self.queries_sent = 0
        self._cache: dict[tuple[str, str], asyncio.Future[DnsAnswer]] = {}
        self._udp: dict[DnsServer, _UdpPool] = {}
        self._http: httpx.AsyncClient | None = None

    @classmethod
    def from_settings(
        cls,
        cfg: Settings,
        servers: Sequence[str] = (),
        *,
        doh: str | None = None,
        tcp: bool = False,
        dnssec: bool = False,
    ) -> Resolver:
        """A resolver for a CLI run: ``--server`` values (parsed), else ``--doh``, else the
        configured ``dns_server``, else the system resolver; timeout from the settings."""
        if servers:
            parsed = [parse_server(s) for s in servers]
        elif doh:
            parsed = [parse_doh_url(doh)]
        elif cfg.dns_server:
            parsed = [parse_server(cfg.dns_server)]
        else:
            parsed = system_servers()
        lifetime = min(cfg.timeout * len(parsed), max(cfg.session_timeout, cfg.timeout))
        return cls(parsed, timeout=cfg.timeout, lifetime=lifetime, tcp=tcp, dnssec=dnssec)

    async def __aenter__(self) -> Resolver:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the sockets and the HTTP client."""
        for pool in self._udp.values():
            pool.close()
        self._udp.clear()
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    def with_server(self, server: DnsServer) -> Resolver:
        """A resolver asking only ``server``, with the same options (its own cache)."""
        return Resolver(
            [server], timeout=self.timeout, lifetime=self.timeout, tcp=self.tcp, dnssec=self.dnssec
        )

    async def query(self, name: str, rdtype: str) -> DnsAnswer:
        """Ask for ``name`` (A-labels) and ``rdtype`` (``"MX"``); cached for the run."""
        key = (name.rstrip(".").lower(), rdtype.upper())
        cached = self._cache.get(key)
        if cached is not None and cached.done():
            return cached.result()
        if cached is None:
            qname = name[:-1] if name.endswith(".") and name != "." else name
            try:
                qtype = _rdtype(rdtype)
            except (dns.exception.DNSException, ValueError) as exc:
                return DnsAnswer(name, rdtype, DnsStatus.ERROR, message=f"bad query: {exc}")
            cached = asyncio.ensure_future(self._lookup(qname, qtype, 0))
            self._cache[key] = cached
        return await asyncio.shield(cached)

    async def _lookup(self, qname: str, qtype: RdType, depth: int) -> DnsAnswer:
        deadline = time.monotonic() + self.lifetime
        last: DnsAnswer | None = None
        for server in self.servers:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            answer, open_chain = await self._ask(server, qname, qtype, min(self.timeout, remaining))
            if open_chain:
                return await self._follow(answer, qtype, depth)
            if not answer.status.failed:
                return answer
            last = answer
        if last is None:
            return DnsAnswer(
                qname, dns.rdatatype.to_text(qtype), DnsStatus.TIMEOUT, message="no time"
            )
        return last

    async def _follow(self, answer: DnsAnswer, qtype: RdType, depth: int) -> DnsAnswer:
        """Finish a CNAME chain the server left open (an authoritative server answering with a
        CNAME into a zone it does not hold)."""
        if depth >= 4:
            return answer
        target = answer.cname_chain[-1]
        rest = await self._lookup(target, qtype, depth + 1)
        return dataclasses.replace(
            rest, name=answer.name, cname_chain=answer.cname_chain + rest.cname_chain
        )

    async def _ask(
        self,
        server: DnsServer,
        qname: str,
        qtype: RdType,
        timeout: float,
    ) -> tuple[DnsAnswer, bool]:
        """One try at one server: the answer, and whether it ends in a CNAME left open."""
        name_text, type_text = qname, dns.rdatatype.to_text(qtype)

        def failed(status: DnsStatus, message: str) -> tuple[DnsAnswer, bool]:
            answer = DnsAnswer(
                name_text, type_text, status, server=server.label, message=message, _server=server
            )
            return answer, False

        try:
            wire, question = _build_query(qname, qtype, self.dnssec)
        except (dns.exception.DNSException, ValueError) as exc:
            return failed(DnsStatus.ERROR, f"bad query: {exc}")

        self.queries_sent += 1
        try:
            if server.url:
                data = await self._doh_exchange(server, wire, timeout)
            elif self.tcp:
                data = await _tcp_exchange(server, wire, timeout)
            else:
                pool = self._udp.get(server)
                if pool is None:
                    pool = self._udp[server] = _UdpPool(server)
                data = await pool.exchange(wire, question, timeout)
                if len(data) > 3 and data[2] & 0x02:  # TC: ask again over TCP
                    data = await _tcp_exchange(server, wire, timeout)
        except TimeoutError:
            return failed(DnsStatus.TIMEOUT, f"no answer within {round(timeout, 3):g} s")
        except ConnectionRefusedError:
            return failed(DnsStatus.ERROR, "connection refused (no DNS server on that port)")
        except asyncio.IncompleteReadError:
            return failed(DnsStatus.ERROR, "connection closed before the answer was complete")
        except Exception as exc:  # every transport error becomes a value
            problem = translate(exc, "dns", server.address, server.port or None, timeout)
            status = DnsStatus.TIMEOUT if isinstance(problem, StepTimeout) else DnsStatus.ERROR
            return failed(status, problem.failure.message)
        fast = _fast_interpret(data, qname, qtype, server)
        if fast is not None:
            return fast
        try:
            message = dns.message.from_wire(data, ignore_trailing=True)
        except dns.exception.DNSException as exc:
            return failed(DnsStatus.ERROR, f"malformed answer ({exc})")
        return _interpret(message, dns.name.from_text(qname), qtype, server)

    async def _doh_exchange(self, server: DnsServer, wire: bytes, timeout: float) -> bytes:
        import httpx

        if self._http is None:
            self._http = httpx.AsyncClient(http2=False)
        assert server.url is not None
        response = await self._http.post(
            server.url,
            content=wire,
            headers={
                "content-type": "application/dns-message",
                "accept": "application/dns-message",
            },
            timeout=httpx.Timeout(timeout),
        )
        if response.status_code != 200:
            raise _DohHttpError(f"HTTP status {response.status_code} from the DoH server")
        return response.content


class _DohHttpError(Exception):
    pass


def _text(name: dns.name.Name) -> str:
    return str(name.to_text(omit_final_dot=True)) or "."


def _interpret(
    message: dns.message.Message,
    qname: dns.name.Name,
    qtype: RdType,
    server: DnsServer,
) -> tuple[DnsAnswer, bool]:
    """Turn a response into a ``DnsAnswer``, following the CNAME chain inside it; the flag says
    the chain stopped without data and without a SOA (the server did not chase it)."""
    rcode = message.rcode()
    flags = message.flags
    base: dict[str, Any] = {
        "name": _text(qname),
        "rdtype": dns.rdatatype.to_text(qtype),
        "server": server.label,
        "authoritative": bool(flags & dns.flags.AA),
        "authenticated": bool(flags & dns.flags.AD),
        "_server": server,
    }
    chain: list[str] = []
    current = qname
    final = None
    for _hop in range(_MAX_CNAME_HOPS):
        final = _find(message.answer, current, qtype)
        if final is not None or qtype == dns.rdatatype.CNAME:
            break
        cname = _find(message.answer, current, dns.rdatatype.CNAME)
        if cname is None:
            break
        current = cname[0].target
        chain.append(_text(current))
    negative_ttl = _negative_ttl(message)
    if rcode == dns.rcode.NXDOMAIN:
        status = DnsStatus.NXDOMAIN
        return DnsAnswer(status=status, ttl=negative_ttl, cname_chain=tuple(chain), **base), False
    if rcode == dns.rcode.SERVFAIL:
        return DnsAnswer(status=DnsStatus.SERVFAIL, **base), False
    if rcode == dns.rcode.REFUSED:
        return DnsAnswer(status=DnsStatus.REFUSED, **base), False
    if rcode != dns.rcode.NOERROR:
        message_text = f"answer code {dns.rcode.to_text(rcode)}"
        return DnsAnswer(status=DnsStatus.ERROR, message=message_text, **base), False
    if final is None or len(final) == 0:
        open_chain = bool(chain) and negative_ttl is None
        nodata = DnsAnswer(
            status=DnsStatus.NODATA, ttl=negative_ttl, cname_chain=tuple(chain), **base
        )
        return nodata, open_chain
    rdata = tuple(final)
    answer = DnsAnswer(
        status=DnsStatus.OK,
        records=tuple(r.to_text() for r in rdata),
        ttl=final.ttl,
        cname_chain=tuple(chain),
        _rdata=rdata,
        **base,
    )
    return answer, False


# --- fast path: answers made only of common record types, read without dnspython ----------

_A, _NS, _CNAME, _SOA, _PTR, _MX, _AAAA = 1, 2, 5, 6, 12, 15, 28
_FAST_TYPES = frozenset({_A, _NS, _CNAME, _PTR, _MX, _AAAA})
_PLAIN_BYTES = frozenset(range(0x21, 0x7F)) - frozenset(b'"().;\\@$')
_RR_HEADER = struct.Struct("!HHIH")


class _WireError(Exception):
    pass


def _read_name(data: bytes, offset: int) -> tuple[list[bytes], int]:
    """Labels of the (possibly compressed) name at ``offset`` and the offset after it."""
    labels: list[bytes] = []
    end = -1
    hops = 0
    size = len(data)
    while True:
        if offset >= size:
            raise _WireError("name runs past the end")
        length = data[offset]
        if length >= 0xC0:
            if offset + 1 >= size or hops > 32:
                raise _WireError("bad compression pointer")
            if end < 0:
                end = offset + 2
            offset = ((length & 0x3F) << 8) | data[offset + 1]
            hops += 1
            continue
        if length > 63:
            raise _WireError("unknown label type")
        offset += 1
        if length == 0:
            break
        labels.append(data[offset : offset + length])
        offset += length
    return labels, (end if end >= 0 else offset)


def _label_text(label: bytes) -> str:
    if all(byte in _PLAIN_BYTES for byte in label):
        return label.decode("ascii")
    out = []
    for byte in label:
        if byte in _PLAIN_BYTES:
            out.append(chr(byte))
        elif 0x21 <= byte < 0x7F:
            out.append("\\" + chr(byte))
        else:
            out.append(f"\\{byte:03d}")
    return "".join(out)


def _name_text(labels: list[bytes]) -> str:
    """Presentation form with the final dot, as dnspython writes it."""
    return ".".join(_label_text(label) for label in labels) + "."


def _rdata_text(data: bytes, rtype: int, start: int, length: int) -> str:
    if rtype == _A:
        if length != 4:
            raise _WireError("bad A record")
        return socket.inet_ntop(socket.AF_INET, data[start : start + 4])
    if rtype == _AAAA:
        if length != 16:
            raise _WireError("bad AAAA record")
        return socket.inet_ntop(socket.AF_INET6, data[start : start + 16])
    if rtype == _MX:
        (preference,) = struct.unpack_from("!H", data, start)
        labels, end = _read_name(data, start + 2)
        if end != start + length:
            raise _WireError("bad MX record")
        return f"{preference} {_name_text(labels)}"
    labels, end = _read_name(data, start)  # NS, CNAME, PTR
    if end != start + length:
        raise _WireError("bad name record")
    return _name_text(labels)


def _fast_interpret(
    data: bytes, qname: str, qtype: RdType, server: DnsServer
) -> tuple[DnsAnswer, bool] | None:
    """Read a response without dnspython when it holds only A, AAAA, MX, PTR, CNAME and NS
    answers (a batch's hot path); ``None`` means: use the full parser."""
    if int(qtype) not in _FAST_TYPES or "\\" in qname:
        return None
    try:
        if len(data) < 12:
            return None
        _qid, flags, qdcount, ancount, nscount, _arcount = struct.unpack_from("!6H", data)
        offset = 12
        for _ in range(qdcount):
            _labels, offset = _read_name(data, offset)
            offset += 4
        answers: list[tuple[str, int, int, str]] = []
        for _ in range(ancount):
            labels, offset = _read_name(data, offset)
            rtype, _rclass, ttl, rdlength = _RR_HEADER.unpack_from(data, offset)
            offset += 10
            if rtype not in _FAST_TYPES or offset + rdlength > len(data):
                return None
            owner = ".".join(_label_text(label) for label in labels).lower()
            answers.append((owner, rtype, ttl, _rdata_text(data, rtype, offset, rdlength)))
            offset += rdlength
        negative_ttl = None
        for _ in range(nscount):
            _labels, offset = _read_name(data, offset)
            rtype, _rclass, ttl, rdlength = _RR_HEADER.unpack_from(data, offset)
            offset += 10
            if rtype == _SOA:
                _mname, after = _read_name(data, offset)
                _rname, after = _read_name(data, after)
                minimum = struct.unpack_from("!5I", data, after)[4]
                negative_ttl = min(ttl, minimum)
            offset += rdlength
    except (_WireError, struct.error, ValueError, OSError):
        return None
    rcode = flags & 0x000F
    name_text = qname
    type_text = dns.rdatatype.to_text(qtype)
    base: dict[str, Any] = {
        "name": name_text,
        "rdtype": type_text,
        "server": server.label,
        "authoritative": bool(flags & 0x0400),
        "authenticated": bool(flags & 0x0020),
        "_server": server,
    }
    chain: list[str] = []
    current = name_text.lower() if name_text != "." else ""
    final: list[tuple[int, str]] = []
    for _hop in range(_MAX_CNAME_HOPS):
        final = [
            (ttl, text)
            for owner, rtype, ttl, text in answers
            if owner == current and rtype == qtype
        ]
        if final or qtype == _CNAME:
            break
        alias = next(
            (text for owner, rtype, _t, text in answers if owner == current and rtype == _CNAME),
            None,
        )
        if alias is None:
            break
        chain.append(alias.rstrip(".") or ".")
        current = alias.rstrip(".").lower()
    if rcode == 3:
        answer = DnsAnswer(
            status=DnsStatus.NXDOMAIN, ttl=negative_ttl, cname_chain=tuple(chain), **base
        )
        return answer, False
    if rcode == 2:
        return DnsAnswer(status=DnsStatus.SERVFAIL, **base), False
    if rcode == 5:
        return DnsAnswer(status=DnsStatus.REFUSED, **base), False
    if rcode != 0:
        return None  # let the full parser name the code (and read extended codes)
    if not final:
        open_chain = bool(chain) and negative_ttl is None
        nodata = DnsAnswer(
            status=DnsStatus.NODATA, ttl=negative_ttl, cname_chain=tuple(chain), **base
        )
        return nodata, open_chain
    records = tuple(dict.fromkeys(text for _ttl, text in final))
    answer = DnsAnswer(
        status=DnsStatus.OK,
        records=records,
        ttl=min(ttl for ttl, _text_ in final),
        cname_chain=tuple(chain),
        _wire=data,
        _question=(name_text, type_text),
        **base,
    )
    return answer, False


def _find(section: list[Any], name: dns.name.Name, rdtype: int) -> Any:
    for rrset in section:
        if rrset.rdtype == rdtype and rrset.name == name:
            return rrset
    return None


def _negative_ttl(message: dns.message.Message) -> int | None:
    for rrset in message.authority:
        if rrset.rdtype == dns.rdatatype.SOA:
            return int(min(rrset.ttl, rrset[0].minimum))
    return None


# --- helpers for other commands --------------------------------------------------------------


async def resolve_exchangers(domain: str, resolver: Resolver) -> list[tuple[int, str]]:
    """The mail exchangers of ``domain`` as (preference, host), best first.

    No MX but an address: the implicit MX ``[(0, domain)]`` (RFC 5321 5.1). Null MX: ``[]``.
    NXDOMAIN, SERVFAIL, REFUSED or timeout raise ``DnsFailure`` / ``StepTimeout``.
    """
    answer = await resolver.query(domain, "MX")
    if answer.status is DnsStatus.NODATA:
        if await addresses(domain, resolver):
            return [(0, domain)]
        raise_for_status(answer, "dns MX")
    raise_for_status(answer, "dns MX")
    exchangers = sorted(set(mx_records(answer)), key=lambda item: (item[0], item[1]))
    if len(exchangers) == 1 and exchangers[0][1] == ".":
        return []
    return [(pref, host) for pref, host in exchangers if host != "."]


async def addresses(host: str, resolver: Resolver) -> list[str]:
    """IPv4 then IPv6 addresses of ``host`` (A and AAAA asked concurrently).

    Returns ``[]`` when the name has no addresses or does not exist; raises ``DnsFailure`` /
    ``StepTimeout`` only when a lookup failed and no address came back at all.
    """
    a, aaaa = await asyncio.gather(resolver.query(host, "A"), resolver.query(host, "AAAA"))
    found = list(a.records) + list(aaaa.records)
    if not found:
        for answer in (a, aaaa):
            if answer.status.failed:
                raise_for_status(answer, f"dns {answer.rdtype}")
    return found
