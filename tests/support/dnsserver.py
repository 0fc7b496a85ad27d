"""A real authoritative DNS server on loopback, serving zones written by a test.

Built on dnspython: each zone is parsed from zone-file text with ``dns.zone.from_text`` and
answered over UDP and TCP on the same port, from a background thread with its own event loop
(so it serves both synchronous tests and the in-process CLI, which runs ``asyncio.run``).

Answers behave like an authoritative server: the AA flag is set, a missing name gives NXDOMAIN
with the zone's SOA in the authority section, an existing name without the asked type gives
NODATA (NOERROR, empty answer, SOA in authority), empty non-terminals are NODATA, ``*`` wildcards
are expanded, a CNAME is returned for any other type and chased through every zone this server
holds, UDP answers larger than the client's limit (512 bytes, or its EDNS payload size) are
truncated with TC set so the client retries over TCP. A query for a name outside every zone is
REFUSED. Several zones (forward and reverse, e.g. ``1.1.0.127.in-addr.arpa``) may be served by
one server. A CNAME chain that comes back to a name already in it stops there: the answer holds
each CNAME of the loop once, with NOERROR (as BIND answers), for the client to name the loop.

Misbehaving modes, for the client's limits: ``delay`` (every answer late), ``tcp_drip`` (TCP
answers one byte at a time), ``tcp_truncated`` (TC set even over TCP), ``chase_cnames=False``
(a CNAME answer stops at the first CNAME, without SOA: the client must follow the chain itself,
one query per name), and extended RCODEs such as ``rcodes={(name, "MX"): "BADVERS"}`` (the
upper bits go into the OPT record).

API (plain functions, usable outside pytest too)::

    handle = start_dns_server(
        {"example.test": ZONE_TEXT, "1.0.127.in-addr.arpa": REVERSE_TEXT},
        address="127.0.1.1",        # any 127.0.0.0/8 address, or "::1"
        port=0,                     # 0: a free port, the same one for UDP and TCP
        authenticated=False,        # True: set AD in every answer (a "validating resolver")
        rcode=None,                 # e.g. "SERVFAIL" / "REFUSED": answer every query with it
        rcodes={("bad.example.test", "A"): "SERVFAIL"},   # per (name, type); type "*" = any
        udp=True,                   # False: no UDP socket (a TCP-only server)
        delay=0.0,                  # seconds before every answer (UDP and TCP)
        tcp_drip=0.0,               # TCP answers sent one byte every tcp_drip seconds
        tcp_truncated=False,        # True: TC set in TCP answers too (answer section dropped)
        chase_cnames=True,          # False: answer only the first CNAME of a chain
    )
    handle.address, handle.port    # where it listens
    handle.spec                    # "127.0.1.1:40000" or "[::1]:40000", for --server
    handle.queries                 # list of (name, type, "udp"|"tcp") received, in order
    handle.set_zone("example.test", NEW_TEXT)   # replace or add a zone while running
    handle.answer_wire(query_bytes)   # the response to a wire query, without a socket (for a
                                      # DoH route of tests/support/https.py); logged as "doh"
    handle.stop()                  # idempotent; also a context manager

    silent = start_silent_server(address="127.0.1.9", port=0)
    # binds UDP and TCP, reads every query and never answers (for timeout tests)
    silent.address, silent.port, silent.spec, silent.stop()

Zone text: ``$ORIGIN`` is the zone name (given by the dict key), relative names work,
``$TTL 3600`` is assumed when no ``$TTL`` is given, and a SOA and NS record are added at the
apex when the text has none (``SOA ns.<zone>. hostmaster.<zone>. 1 3600 600 86400 300``).

pytest fixtures (registered by tests/conftest.py):

- ``dns_server``: a factory with the signature of ``start_dns_server``; every server it started
  is stopped at teardown.
- ``silent_dns_server``: a factory with the signature of ``start_silent_server``; same teardown.

Loopback split: mx/DNS tests use 127.0.1.x; other areas pass their own range as ``address``
(e.g. policy tests 127.0.5.x). Every port is chosen by the kernel, so servers never collide.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import threading
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.node
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import dns.zone

__all__ = ["DnsServerHandle", "SilentServerHandle", "start_dns_server", "start_silent_server"]

_START_TIMEOUT = 5.0
_STOP_TIMEOUT = 5.0
_TCP_READ_TIMEOUT = 10.0
_MAX_CNAME_HOPS = 8


def _spec(address: str, port: int) -> str:
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"


def _parse_zone(origin: str, text: str) -> dns.zone.Zone:
    """Parse zone text, adding $TTL and a SOA/NS at the apex when the test left them out."""
    origin_name = dns.name.from_text(origin)
    if "$TTL" not in text:
        text = "$TTL 3600\n" + text
    zone = dns.zone.from_text(text, origin=origin_name, relativize=False, check_origin=False)
    apex = origin_name.to_text()
    with zone.writer() as txn:
        if txn.get(origin_name, dns.rdatatype.SOA) is None:
            soa = dns.rrset.from_text(
                origin_name, 3600, "IN", "SOA", f"ns.{apex} hostmaster.{apex} 1 3600 600 86400 300"
            )
            txn.add(soa)
        if txn.get(origin_name, dns.rdatatype.NS) is None:
            txn.add(dns.rrset.from_text(origin_name, 3600, "IN", "NS", f"ns.{apex}"))
    return zone


class _Answerer:
    """Turns a query into an authoritative response from a set of zones (no I/O)."""

    def __init__(
        self,
        zones: Mapping[str, str],
        authenticated: bool,
        rcode: str | None,
        rcodes: Mapping[tuple[str, str], str],
        chase_cnames: bool = True,
    ) -> None:
        self.lock = threading.Lock()
        self.chase_cnames = chase_cnames
        self.zones: dict[dns.name.Name, dns.zone.Zone] = {}
        for origin, text in zones.items():
            self.set_zone(origin, text)
        self.authenticated = authenticated
        self.rcode = dns.rcode.from_text(rcode) if rcode else None
        self.rcodes = {
            (dns.name.from_text(name), kind.upper()): dns.rcode.from_text(code)
            for (name, kind), code in rcodes.items()
        }

    def set_zone(self, origin: str, text: str) -> None:
        zone = _parse_zone(origin, text)
        with self.lock:
            self.zones[zone.origin] = zone  # type: ignore[index]

    def _zone_for(self, name: dns.name.Name) -> dns.zone.Zone | None:
        best: dns.zone.Zone | None = None
        best_len = -1
        for origin, zone in self.zones.items():
            if name.is_subdomain(origin) and len(origin) > best_len:
                best, best_len = zone, len(origin)
        return best

    def respond(self, query: dns.message.Message) -> dns.message.Message:
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA
        if self.authenticated:
            response.flags |= dns.flags.AD
        if query.opcode() != 0 or len(query.question) != 1:
            response.set_rcode(dns.rcode.NOTIMP if query.opcode() != 0 else dns.rcode.FORMERR)
            return response
        question = query.question[0]
        qname, qtype = question.name, question.rdtype
        if self.rcode is not None:
            response.set_rcode(self.rcode)
            return response
        forced = self.rcodes.get((qname, dns.rdatatype.to_text(qtype))) or self.rcodes.get(
            (qname, "*")
        )
        if forced is not None:
            response.set_rcode(forced)
            return response
        with self.lock:
            self._fill(response, qname, qtype)
        return response

    def _fill(self, response: dns.message.Message, qname: dns.name.Name, qtype: int) -> None:
        name = qname
        seen = {qname}
        for _hop in range(_MAX_CNAME_HOPS):
            zone = self._zone_for(name)
            if zone is None:
                if name == qname:
                    response.flags &= ~dns.flags.AA
                    response.set_rcode(dns.rcode.REFUSED)
                return  # a CNAME pointing outside our zones: the client follows it
            node = self._find_node(zone, name)
            if node is None:
                # also after a CNAME: the rcode describes the last name (RFC 6604)
                response.set_rcode(dns.rcode.NXDOMAIN)
                self._add_soa(response, zone)
                return
            if qtype == dns.rdatatype.ANY:
                for rdataset in node.rdatasets:
                    response.answer.append(self._rrset(name, rdataset))
                return
            rdataset = node.get_rdataset(dns.rdataclass.IN, qtype)
            if rdataset is not None:
                response.answer.append(self._rrset(name, rdataset))
                return
            cname = node.get_rdataset(dns.rdataclass.IN, dns.rdatatype.CNAME)
            if cname is not None and qtype != dns.rdatatype.CNAME:
                response.answer.append(self._rrset(name, cname))
                name = cname[0].target  # type: ignore[attr-defined]
                if name in seen or not self.chase_cnames:
                    return  # a loop (each CNAME once), or the client follows the chain itself
                seen.add(name)
                continue
            self._add_soa(response, zone)  # NODATA
            return
        response.set_rcode(dns.rcode.SERVFAIL)  # a chain longer than _MAX_CNAME_HOPS

    @staticmethod
    def _rrset(name: dns.name.Name, rdataset: Any) -> dns.rrset.RRset:
        rrset = dns.rrset.RRset(name, rdataset.rdclass, rdataset.rdtype)
        rrset.update(rdataset)
        rrset.ttl = rdataset.ttl
        return rrset

    @staticmethod
    def _find_node(zone: dns.zone.Zone, name: dns.name.Name) -> Any:
        """The node for ``name``: exact, an empty non-terminal (empty node), or a wildcard."""
        node = zone.get_node(name)
        if node is not None:
            return node
        if any(other.is_subdomain(name) for other in zone.nodes):
            return dns.node.Node()  # empty non-terminal: NODATA, not NXDOMAIN
        origin = zone.origin
        assert origin is not None
        parent = name.parent()
        while parent.is_subdomain(origin):
            wildcard = zone.get_node(dns.name.Name((b"*", *parent.labels)))
            if wildcard is not None:
                return wildcard
            if zone.get_node(parent) is not None or parent == origin:
                break
            parent = parent.parent()
        return None

    @staticmethod
    def _add_soa(response: dns.message.Message, zone: dns.zone.Zone) -> None:
        origin = zone.origin
        assert origin is not None
        soa = zone.get_rdataset(origin, dns.rdatatype.SOA)
        if soa is None:
            return
        rrset = _Answerer._rrset(origin, soa)
        rrset.ttl = min(soa.ttl, soa[0].minimum)  # type: ignore[attr-defined]  # RFC 2308
        response.authority.append(rrset)


def _bind_pair(address: str, port: int) -> tuple[socket.socket, socket.socket]:
    """A UDP and a TCP socket on the same address and port (retrying when port is 0)."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    last_error: OSError | None = None
    for _attempt in range(20):
        udp = socket.socket(family, socket.SOCK_DGRAM)
        udp.bind((address, port))
        chosen = udp.getsockname()[1]
        tcp = socket.socket(family, socket.SOCK_STREAM)
        tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            tcp.bind((address, chosen))
        except OSError as exc:
            udp.close()
            tcp.close()
            last_error = exc
            if port != 0:
                raise
            continue
        tcp.listen(64)
        udp.setblocking(False)
        tcp.setblocking(False)
        return udp, tcp
    raise OSError(f"no free port pair on {address}: {last_error}")


class _LoopThread:
    """A background thread running an event loop, started and stopped with bounded waits."""

    def __init__(self, name: str, setup: Callable[[asyncio.AbstractEventLoop], Any]) -> None:
        self._setup = setup
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._stop: asyncio.Event | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.thread = threading.Thread(target=self._run, name=name, daemon=True)
        self.thread.start()
        if not self._ready.wait(_START_TIMEOUT):
            raise RuntimeError(f"{name} did not start within {_START_TIMEOUT} s")
        if self._error is not None:
            raise self._error

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self.loop = loop
        try:
            loop.run_until_complete(self._main())
        finally:
            with contextlib.suppress(Exception):
                loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    async def _main(self) -> None:
        self._stop = asyncio.Event()
        cleanup: Callable[[], Any] | None = None
        try:
            cleanup = await self._setup(asyncio.get_running_loop())
        except BaseException as exc:
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        try:
            await self._stop.wait()
        finally:
            if cleanup is not None:
                await cleanup()
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            if tasks:
                await asyncio.wait(tasks, timeout=_STOP_TIMEOUT)

    def stop(self) -> None:
        if self.loop is not None and self._stop is not None and self.thread.is_alive():
            with contextlib.suppress(RuntimeError):
                self.loop.call_soon_threadsafe(self._stop.set)
        self.thread.join(_STOP_TIMEOUT)


class _UdpProtocol(asyncio.DatagramProtocol):
    def __init__(self, handle: DnsServerHandle) -> None:
        self.handle = handle
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: Any) -> None:
        reply = self.handle._answer(data, "udp")
        if reply is None or self.transport is None:
            return
        if self.handle.delay:
            loop = asyncio.get_running_loop()
            loop.call_later(self.handle.delay, self._send, reply, addr)
        else:
            self.transport.sendto(reply, addr)

    def _send(self, reply: bytes, addr: Any) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.sendto(reply, addr)

    def error_received(self, exc: Exception) -> None:  # ICMP errors: ignore
        pass


class DnsServerHandle:
    """A running authoritative server; see the module docstring."""

    def __init__(
        self,
        zones: Mapping[str, str],
        address: str,
        port: int,
        authenticated: bool,
        rcode: str | None,
        rcodes: Mapping[tuple[str, str], str],
        udp: bool,
        delay: float = 0.0,
        tcp_drip: float = 0.0,
        tcp_truncated: bool = False,
        chase_cnames: bool = True,
    ) -> None:
        self.answerer = _Answerer(zones, authenticated, rcode, rcodes, chase_cnames)
        self.delay = delay
        self.tcp_drip = tcp_drip
        self.tcp_truncated = tcp_truncated
        self.queries: list[tuple[str, str, str]] = []
        udp_sock, tcp_sock = _bind_pair(address, port)
        self.address: str = address
        self.port: int = tcp_sock.getsockname()[1]
        self.spec = _spec(address, self.port)
        if not udp:
            udp_sock.close()
        self._udp_sock: socket.socket | None = udp_sock if udp else None
        self._tcp_sock = tcp_sock
        self._thread = _LoopThread(f"dns-server {self.spec}", self._setup)
        self._stopped = False

    async def _setup(self, loop: asyncio.AbstractEventLoop) -> Callable[[], Any]:
        transport = None
        if self._udp_sock is not None:
            transport, _ = await loop.create_datagram_endpoint(
                lambda: _UdpProtocol(self), sock=self._udp_sock
            )
        server = await asyncio.start_server(self._serve_tcp, sock=self._tcp_sock)

        async def cleanup() -> None:
            if transport is not None:
                transport.close()
            server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(server.wait_closed(), _STOP_TIMEOUT)

        return cleanup

    def _answer(self, wire: bytes, transport: str) -> bytes | None:
        try:
            query = dns.message.from_wire(wire)
        except dns.exception.DNSException:
            return None
        if query.question:
            q = query.question[0]
            self.queries.append(
                (q.name.to_text().rstrip(".") or ".", dns.rdatatype.to_text(q.rdtype), transport)
            )
        try:
            response = self.answerer.respond(query)
        except Exception:  # a bug in this server must show as SERVFAIL, not as a timeout
            response = dns.message.make_response(query)
            response.set_rcode(dns.rcode.SERVFAIL)
        if transport == "tcp" and self.tcp_truncated:
            broken = dns.message.make_response(query)  # TC even over TCP: a broken server
            broken.flags |= dns.flags.TC | (response.flags & (dns.flags.AA | dns.flags.AD))
            broken.set_rcode(response.rcode())
            return broken.to_wire()
        if transport in ("tcp", "doh"):
            return response.to_wire(max_size=65535)
        limit = max(512, query.payload) if query.edns >= 0 else 512
        try:
            return response.to_wire(max_size=limit)
        except dns.exception.TooBig:
            short = dns.message.make_response(query)
            short.flags |= dns.flags.TC | (response.flags & (dns.flags.AA | dns.flags.AD))
            short.set_rcode(response.rcode())
            return short.to_wire()

    async def _serve_tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                header = await asyncio.wait_for(reader.readexactly(2), _TCP_READ_TIMEOUT)
                (length,) = struct.unpack("!H", header)
                wire = await asyncio.wait_for(reader.readexactly(length), _TCP_READ_TIMEOUT)
                reply = self._answer(wire, "tcp")
                if reply is None:
                    break
                if self.delay:
                    await asyncio.sleep(self.delay)
                data = struct.pack("!H", len(reply)) + reply
                if self.tcp_drip:
                    for index in range(len(data)):
                        writer.write(data[index : index + 1])
                        await writer.drain()
                        await asyncio.sleep(self.tcp_drip)
                else:
                    writer.write(data)
                    await writer.drain()
        except (asyncio.IncompleteReadError, TimeoutError, ConnectionError):
            pass
        except asyncio.CancelledError:
            pass  # server stopping; returning normally keeps asyncio's stream callback quiet
        finally:
            writer.close()

    def set_zone(self, origin: str, text: str) -> None:
        """Add or replace one zone while the server runs."""
        self.answerer.set_zone(origin, text)

    def answer_wire(self, query: bytes) -> bytes:
        """The response to a query in wire form, without a socket (a DoH route answers with
        it); an unreadable query gets an empty response."""
        return self._answer(query, "doh") or b""

    def stop(self) -> None:
        """Stop serving and close the sockets (idempotent, bounded wait)."""
        if self._stopped:
            return
        self._stopped = True
        self._thread.stop()
        for sock in (self._udp_sock, self._tcp_sock):
            if sock is not None:
                sock.close()

    def __enter__(self) -> DnsServerHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<DnsServerHandle {self.spec}>"


class _SilentUdp(asyncio.DatagramProtocol):
    def datagram_received(self, data: bytes, addr: Any) -> None:
        pass  # read and ignore: the client times out

    def error_received(self, exc: Exception) -> None:
        pass


class SilentServerHandle:
    """UDP and TCP sockets that accept queries and never answer; see the module docstring."""

    def __init__(self, address: str, port: int) -> None:
        udp_sock, tcp_sock = _bind_pair(address, port)
        self.address: str = address
        self.port: int = tcp_sock.getsockname()[1]
        self.spec = _spec(address, self.port)
        self._socks = (udp_sock, tcp_sock)
        self._thread = _LoopThread(f"silent-dns {self.spec}", self._setup)
        self._stopped = False

    async def _setup(self, loop: asyncio.AbstractEventLoop) -> Callable[[], Any]:
        udp_sock, tcp_sock = self._socks
        transport, _ = await loop.create_datagram_endpoint(_SilentUdp, sock=udp_sock)

        async def swallow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                while await asyncio.wait_for(reader.read(4096), _TCP_READ_TIMEOUT * 6):
                    pass
            except (TimeoutError, ConnectionError, asyncio.CancelledError):
                pass
            finally:
                writer.close()

        server = await asyncio.start_server(swallow, sock=tcp_sock)

        async def cleanup() -> None:
            transport.close()
            server.close()

        return cleanup

    def stop(self) -> None:
        """Close the sockets (idempotent, bounded wait)."""
        if self._stopped:
            return
        self._stopped = True
        self._thread.stop()
        for sock in self._socks:
            sock.close()

    def __enter__(self) -> SilentServerHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_dns_server(
    zones: Mapping[str, str],
    address: str = "127.0.1.1",
    port: int = 0,
    *,
    authenticated: bool = False,
    rcode: str | None = None,
    rcodes: Mapping[tuple[str, str], str] | None = None,
    udp: bool = True,
    delay: float = 0.0,
    tcp_drip: float = 0.0,
    tcp_truncated: bool = False,
    chase_cnames: bool = True,
) -> DnsServerHandle:
    """Start an authoritative server for ``zones`` ({origin: zone text}); see the module doc."""
    return DnsServerHandle(
        zones,
        address,
        port,
        authenticated,
        rcode,
        rcodes or {},
        udp,
        delay=delay,
        tcp_drip=tcp_drip,
        tcp_truncated=tcp_truncated,
        chase_cnames=chase_cnames,
    )


def start_silent_server(address: str = "127.0.1.9", port: int = 0) -> SilentServerHandle:
    """Start a server that reads every query (UDP and TCP) and never answers."""
    return SilentServerHandle(address, port)


# --- pytest fixtures -------------------------------------------------------------------------

try:
    import pytest
except ImportError:  # pragma: no cover - usable without pytest
    pytest = None  # type: ignore[assignment]

if pytest is not None:

    @pytest.fixture
    def dns_server() -> Iterator[Callable[..., DnsServerHandle]]:
        """A factory like ``start_dns_server``; every server is stopped at teardown."""
        started: list[DnsServerHandle] = []

        def factory(zones: Mapping[str, str], *args: Any, **kwargs: Any) -> DnsServerHandle:
            handle = start_dns_server(zones, *args, **kwargs)
            started.append(handle)
            return handle

        yield factory
        for handle in started:
            handle.stop()

    @pytest.fixture
    def silent_dns_server() -> Iterator[Callable[..., SilentServerHandle]]:
        """A factory like ``start_silent_server``; every server is stopped at teardown."""
        started: list[SilentServerHandle] = []

        def factory(*args: Any, **kwargs: Any) -> SilentServerHandle:
            handle = start_silent_server(*args, **kwargs)
            started.append(handle)
            return handle

        yield factory
        for handle in started:
            handle.stop()
