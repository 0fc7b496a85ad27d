"""The resolver every check uses: servers in turn, timeouts, the in-run cache, and lookups.

``Resolver`` asks its servers one after the other (a timeout, SERVFAIL or REFUSED moves on to
the next) within a per-try ``timeout`` and an overall ``lifetime``, over UDP (TCP when the
answer is truncated or ``tcp`` is set) or DoH, and caches every answer for the run, sharing
identical in-flight lookups. ``resolve_exchangers`` and ``addresses`` are the MX and A/AAAA
lookups other commands build on.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

import dns.exception
import dns.message
import dns.name
import dns.rdatatype

from mailprobe.dns.answer import DnsAnswer, DnsServer, DnsStatus, mx_records, raise_for_status
from mailprobe.dns.names import parse_doh_url, parse_server, system_servers
from mailprobe.dns.transport import _doh_post, _tcp_exchange, _UdpPool
from mailprobe.dns.wire import RdType, _build_query, _fast_interpret, _interpret, _rdtype
from mailprobe.errors import StepTimeout, translate

if TYPE_CHECKING:
    import httpx

    from mailprobe.config import Settings


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
        return await _doh_post(self._http, server, wire, timeout)


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
