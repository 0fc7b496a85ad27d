"""The resolver every check uses: servers in turn, timeouts, the in-run cache, and lookups.

``Resolver`` asks its servers one after the other (a timeout, SERVFAIL, REFUSED or error moves
on to the next) within a per-try ``timeout`` and an overall ``lifetime``, over UDP (TCP when the
answer is truncated or ``tcp`` is set) or DoH, and caches every answer for the run, sharing
identical in-flight lookups. ``resolve_exchangers`` and ``addresses`` are the MX and A/AAAA
lookups other commands build on.

Time: one try at one server is one step of at most ``timeout`` seconds, the TCP retry of a
truncated UDP answer included; one lookup (every server, every CNAME the servers left open) has
``lifetime`` seconds, after which it is a TIMEOUT answer. Time spent waiting for a free socket
(the run's socket budget, see ``transport``) is not counted: that is this machine's queue, not
the server's slowness; the caller's overall deadline (e.g. the session timeout) still bounds it.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING

import dns.exception
import dns.message
import dns.name
import dns.rdatatype

from mailprobe.dns.answer import DnsAnswer, DnsServer, DnsStatus, mx_records, raise_for_status
from mailprobe.dns.names import configured_server, parse_doh_url, parse_server, system_servers
from mailprobe.dns.transport import (
    _TCP_PER_SERVER,
    DOH_CONNECTIONS,
    DohError,
    _doh_post,
    _Slots,
    _tcp_exchange,
    _UdpPool,
    is_local_error,
    socket_budget,
)
from mailprobe.dns.wire import (
    RdType,
    _build_query,
    _fast_interpret,
    _interpret,
    _rdtype,
    loop_message,
)
from mailprobe.errors import StepTimeout, translate

if TYPE_CHECKING:
    import httpx

    from mailprobe.config import Settings

#: CNAME targets a lookup follows when servers leave the chain open, one lookup each.
_MAX_FOLLOWS = 8


class _Clock:
    """The deadline of one lookup; waiting for a free socket moves it later."""

    def __init__(self, lifetime: float) -> None:
        self.lifetime = lifetime
        self.deadline = time.monotonic() + lifetime

    def remaining(self) -> float:
        return self.deadline - time.monotonic()


class _Step:
    """One try at one server: how long it may take, and when it ends."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.end = 0.0

    def start(self, timeout: float, clock: _Clock) -> float:
        """Start the step now: ``timeout`` or the lookup's time left, whichever is shorter;
        ``TimeoutError`` when the lookup has no time left."""
        self.seconds = min(timeout, clock.remaining())
        if self.seconds <= 0:
            raise TimeoutError
        self.end = time.monotonic() + self.seconds
        return self.seconds

    def timeout_text(self, timeout: float, lifetime: float) -> str:
        if self.seconds < timeout - max(0.01, timeout / 100):  # cut short by the lifetime
            return f"no answer within {lifetime:g} s, the time limit of the lookup"
        return f"no answer within {round(timeout, 3):g} s"


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
        self._tcp_slots: dict[DnsServer, _Slots] = {}
        self._http: httpx.AsyncClient | None = None
        self._doh_slots = _Slots(DOH_CONNECTIONS)

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
        elif (configured := configured_server(cfg)) is not None:
            parsed = [configured]
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
        """Ask for ``name`` (A-labels) and ``rdtype`` (``"MX"``); cached for the run, except
        failures of this machine (e.g. out of file descriptors), which are asked again."""
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
            cached = asyncio.ensure_future(self._guarded_lookup(qname, qtype))
            self._cache[key] = cached
            cached.add_done_callback(lambda done: self._forget_local(key, done))
        return await asyncio.shield(cached)

    def _forget_local(self, key: tuple[str, str], done: asyncio.Future[DnsAnswer]) -> None:
        kept = not done.cancelled() and done.exception() is None and not done.result()._local
        if not kept and self._cache.get(key) is done:
            del self._cache[key]

    async def _guarded_lookup(self, qname: str, qtype: RdType) -> DnsAnswer:
        """``_lookup`` that always returns a value (a bug here must not leave a task whose
        exception nobody retrieves, nor stop the run)."""
        try:
            return await self._lookup(qname, qtype, 0, _Clock(self.lifetime), ())
        except Exception as exc:
            message = f"internal error: {type(exc).__name__}: {exc}"
            type_text = dns.rdatatype.to_text(qtype)
            return DnsAnswer(qname, type_text, DnsStatus.ERROR, message=message, _local=True)

    async def _lookup(
        self, qname: str, qtype: RdType, depth: int, clock: _Clock, trail: tuple[str, ...]
    ) -> DnsAnswer:
        last: DnsAnswer | None = None
        for server in self.servers:
            if clock.remaining() <= 0:
                break
            answer, open_chain = await self._ask(server, qname, qtype, clock)
            if open_chain:
                return await self._follow(answer, qtype, depth, clock, trail)
            if answer._loop and trail:  # the loop as a whole, from the first name asked
                loop = (*trail, *answer._loop)
                answer = dataclasses.replace(answer, message=loop_message(loop), _loop=loop)
            if not answer.status.failed:
                return answer
            last = answer
        if last is None:
            message = f"no answer within {clock.lifetime:g} s"
            type_text = dns.rdatatype.to_text(qtype)
            last = DnsAnswer(qname, type_text, DnsStatus.TIMEOUT, message=message)
        if trail and not last._loop and last.status in (DnsStatus.TIMEOUT, DnsStatus.ERROR):
            chain = " -> ".join((*trail, qname))
            last = dataclasses.replace(last, message=f"{last.message} (CNAME chain {chain})")
        return last

    async def _follow(
        self, answer: DnsAnswer, qtype: RdType, depth: int, clock: _Clock, trail: tuple[str, ...]
    ) -> DnsAnswer:
        """Finish a CNAME chain the server left open (an authoritative server answering with a
        CNAME into a zone it does not hold), within the same lifetime."""
        names = (*trail, answer.name, *answer.cname_chain)
        target = names[-1]
        if target.lower() in {name.lower() for name in names[:-1]}:
            return dataclasses.replace(
                answer,
                status=DnsStatus.ERROR,
                message=loop_message(names),
                cname_chain=(),
                ttl=None,
                _loop=names,
            )
        if depth >= _MAX_FOLLOWS:
            message = f"CNAME chain too long (over {_MAX_FOLLOWS} lookups): {' -> '.join(names)}"
            return dataclasses.replace(answer, status=DnsStatus.ERROR, message=message, ttl=None)
        rest = await self._lookup(target, qtype, depth + 1, clock, names[:-1])
        if rest._loop:  # named from the first name asked already
            return dataclasses.replace(rest, name=answer.name, cname_chain=())
        return dataclasses.replace(
            rest, name=answer.name, cname_chain=answer.cname_chain + rest.cname_chain
        )

    @contextlib.asynccontextmanager
    async def _slots(self, clock: _Clock, *slots: _Slots) -> AsyncIterator[float]:
        """Hold one slot of each of ``slots`` (in order); yields the seconds waited for them,
        which are added to the lookup's deadline."""
        started = time.monotonic()
        held: list[_Slots] = []
        try:
            for slot in slots:
                await slot.acquire()
                held.append(slot)
            waited = time.monotonic() - started
            clock.deadline += waited
            yield waited
        finally:
            for slot in reversed(held):
                slot.release()

    def _tcp_limit(self, server: DnsServer) -> _Slots:
        slots = self._tcp_slots.get(server)
        if slots is None:
            slots = self._tcp_slots[server] = _Slots(_TCP_PER_SERVER)
        return slots

    async def _ask(
        self,
        server: DnsServer,
        qname: str,
        qtype: RdType,
        clock: _Clock,
    ) -> tuple[DnsAnswer, bool]:
        """One try at one server: the answer, and whether it ends in a CNAME left open."""
        name_text, type_text = qname, dns.rdatatype.to_text(qtype)

        def failed(status: DnsStatus, message: str, local: bool = False) -> tuple[DnsAnswer, bool]:
            answer = DnsAnswer(
                name_text,
                type_text,
                status,
                server=server.label,
                message=message,
                _server=server,
                _local=local,
            )
            return answer, False

        try:
            wire, question = _build_query(qname, qtype, self.dnssec)
        except (dns.exception.DNSException, ValueError) as exc:
            return failed(DnsStatus.ERROR, f"bad query: {exc}")

        self.queries_sent += 1
        step = _Step()
        try:
            data, transport = await self._exchange(server, wire, question, clock, step)
        except TimeoutError:
            return failed(DnsStatus.TIMEOUT, step.timeout_text(self.timeout, clock.lifetime))
        except ConnectionRefusedError:
            return failed(DnsStatus.ERROR, "connection refused (no DNS server on that port)")
        except asyncio.IncompleteReadError:
            return failed(DnsStatus.ERROR, "connection closed before the answer was complete")
        except DohError as exc:
            return failed(DnsStatus.ERROR, str(exc))
        except Exception as exc:  # every transport error becomes a value
            seconds = step.seconds or self.timeout
            problem = translate(exc, "dns", server.address, server.port or None, seconds)
            status = DnsStatus.TIMEOUT if isinstance(problem, StepTimeout) else DnsStatus.ERROR
            if is_local_error(exc):
                return failed(status, f"local error: {problem.failure.message}", local=True)
            return failed(status, problem.failure.message)
        if transport != "UDP" and len(data) > 3 and data[2] & 0x02:
            return failed(
                DnsStatus.ERROR,
                f"truncated answer (TC flag) over {transport}: the server could not send it whole",
            )
        fast = _fast_interpret(data, qname, qtype, server)
        if fast is not None:
            return fast
        try:
            message = dns.message.from_wire(data, ignore_trailing=True)
        except dns.exception.DNSException as exc:
            return failed(DnsStatus.ERROR, f"malformed answer ({exc})")
        return _interpret(message, dns.name.from_text(qname), qtype, server)

    async def _exchange(
        self, server: DnsServer, wire: bytes, question: bytes, clock: _Clock, step: _Step
    ) -> tuple[bytes, str]:
        """Send the query and read the answer within one step (at most ``timeout``, at most the
        lookup's time left, set in ``step``); returns the answer and the transport it came
        over. Raises ``TimeoutError`` when the step runs out, transport errors as they are."""
        budget = socket_budget()
        if server.url:
            async with self._slots(clock, self._doh_slots, budget):
                timeout = step.start(self.timeout, clock)
                return await self._doh_exchange(server, wire, timeout), "DoH"
        if self.tcp:
            async with self._slots(clock, self._tcp_limit(server), budget):
                timeout = step.start(self.timeout, clock)
                return await _tcp_exchange(server, wire, timeout), "TCP"
        pool = self._udp.get(server)
        if pool is None:
            pool = self._udp[server] = _UdpPool(server)
        # The in-flight slot by hand (this is the path of every UDP query): a free slot is
        # taken at once; waiting for one is added to the lookup's deadline, as in ``_slots``.
        slots = pool.in_flight
        started = time.monotonic()
        if not slots.try_acquire():
            await slots.acquire()
        try:
            await pool.ready()  # the first socket may wait for the budget: not timed
            clock.deadline += time.monotonic() - started
            timeout = step.start(self.timeout, clock)
            data = await pool.exchange(wire, question, timeout)
        finally:
            slots.release()
        if len(data) <= 3 or not data[2] & 0x02:
            return data, "UDP"
        # TC: ask again over TCP, within what is left of the same step
        async with self._slots(clock, self._tcp_limit(server), budget) as waited:
            left = step.end + waited - time.monotonic()
            if left <= 0:
                raise TimeoutError
            return await _tcp_exchange(server, wire, left), "TCP"

    async def _doh_exchange(self, server: DnsServer, wire: bytes, timeout: float) -> bytes:
        import httpx

        if self._http is None:
            limits = httpx.Limits(
                max_connections=DOH_CONNECTIONS, max_keepalive_connections=DOH_CONNECTIONS
            )
            self._http = httpx.AsyncClient(http2=False, limits=limits)
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
