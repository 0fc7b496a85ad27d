"""Sending a query and receiving the answer: socket budget, UDP socket pool, TCP, DNS over HTTPS.

UDP queries to a server go through a small pool of connected sockets (``_UdpPool``) opened once
per run, matched to answers by random query id and the echoed question, sent again once halfway
through the timeout. ``_tcp_exchange`` asks over a fresh TCP connection (for truncated answers
and ``--tcp``); ``_doh_post`` posts the query to a DoH URL with the caller's HTTP client, within
one deadline for connect, headers and body, and reads at most ``DOH_RESPONSE_CAP`` bytes.

File descriptors: every socket the resolver opens (UDP pool, TCP, DoH) first takes a slot of
the ``socket_budget()`` of the running event loop, at most the soft RLIMIT_NOFILE minus a
reserve for everything else (standard streams, SMTP probes, idle DoH keep-alive connections),
so a batch of thousands of lookups waits for a free socket instead of failing with EMFILE.
``_Slots`` is the counter behind it; it also limits the queries in flight per UDP pool, per TCP
server and per DoH client.
"""

from __future__ import annotations

import asyncio
import collections
import errno
import secrets
import struct
import weakref
from typing import TYPE_CHECKING, Any

from mailprobe.dns.answer import DnsServer
from mailprobe.text import is_digits

if TYPE_CHECKING:
    import httpx

_UDP_SOCKETS_PER_SERVER = 4
#: UDP queries waiting for an answer from one server at once (more only overflow its buffers).
_UDP_IN_FLIGHT = 128
#: TCP connections open to one server at once (servers limit TCP clients, e.g. BIND 150).
_TCP_PER_SERVER = 64
#: Connections of one DoH client (httpx pool size; requests beyond wait for a free one).
DOH_CONNECTIONS = 16
#: The largest DoH answer read: no DNS message is longer than 65535 bytes.
DOH_RESPONSE_CAP = 65535

#: Sockets left to the rest of the program: at least this many, or a quarter of the limit.
_RESERVE_MIN = 64
_SOCKETS_MIN = 4
_SOCKETS_MAX = 1024

#: errno values that describe this machine, not the server: such failures are never cached.
_LOCAL_ERRNOS = frozenset(
    {errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM, errno.EADDRINUSE, errno.EADDRNOTAVAIL}
)


def socket_limit(soft: int | None = None) -> int:
    """Sockets the resolver may hold open at once: the soft RLIMIT_NOFILE (``soft``, else read
    with ``resource.getrlimit``) minus a reserve, within 4..1024."""
    if soft is None:
        try:
            import resource
        except ImportError:  # pragma: no cover - no resource module (Windows)
            return _SOCKETS_MAX
        try:
            soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        except (OSError, ValueError):  # pragma: no cover
            return _SOCKETS_MAX
        if soft == resource.RLIM_INFINITY:
            return _SOCKETS_MAX
    if soft < 0:
        return _SOCKETS_MAX
    reserve = max(_RESERVE_MIN, soft // 4)
    return max(_SOCKETS_MIN, min(_SOCKETS_MAX, soft - reserve))


class _Slots:
    """A counter of ``capacity`` slots; waiters are served first come, first served."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.in_use = 0
        self._waiters: collections.deque[asyncio.Future[None]] = collections.deque()

    def try_acquire(self) -> bool:
        """Take a slot if one is free and nobody waits; never blocks."""
        if self.in_use < self.capacity and not self._waiters:
            self.in_use += 1
            return True
        return False

    async def acquire(self) -> None:
        """Take a slot, waiting for one to be released."""
        if self.try_acquire():
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(future)
        try:
            await future  # ``release`` hands its slot over: ``in_use`` stays the same
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():
                self.release()  # handed over, then cancelled before running: give it back
            raise

    def release(self) -> None:
        """Give a slot back (to the first waiter, if any)."""
        while self._waiters:
            future = self._waiters.popleft()
            if not future.done():
                future.set_result(None)
                return
        self.in_use = max(0, self.in_use - 1)


_BUDGETS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Slots] = weakref.WeakKeyDictionary()


def socket_budget() -> _Slots:
    """The socket budget of the running event loop, shared by every resolver of the run."""
    loop = asyncio.get_running_loop()
    budget = _BUDGETS.get(loop)
    if budget is None:
        budget = _BUDGETS[loop] = _Slots(socket_limit())
    return budget


def is_local_error(exc: BaseException) -> bool:
    """True for an OS error of this machine (EMFILE, ENOBUFS…), also wrapped by httpx."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno in _LOCAL_ERRNOS:
            return True
        current = current.__cause__ or current.__context__
    return False


class _UdpChannel(asyncio.DatagramProtocol):
    """One connected UDP socket; answers are matched by id and echoed question."""

    def __init__(self) -> None:
        self.transport: asyncio.DatagramTransport | None = None
        self.pending: dict[int, tuple[bytes, asyncio.Future[bytes]]] = {}
        self.closed = False

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
        self.closed = True
        self._fail_all(exc or ConnectionError("socket closed"))


class _UdpPool:
    """A few connected UDP sockets to one server, opened on first use, reused for the run.

    Each socket holds a slot of the socket budget until ``close``; the first one is waited
    for (``ready``), the others are opened only when the budget has a slot free."""

    def __init__(self, server: DnsServer) -> None:
        self.server = server
        self.channels: list[_UdpChannel] = []
        self.next = 0
        self.lock = asyncio.Lock()
        self.opening = False
        self.in_flight = _Slots(_UDP_IN_FLIGHT)
        self._budget: _Slots | None = None

    async def ready(self) -> None:
        """Make sure one socket is open (waiting for a budget slot if none is free)."""
        self._drop_closed()
        if self.channels:
            return
        async with self.lock:
            if not self.channels:
                budget = self._budget = socket_budget()
                await budget.acquire()
                await self._open(budget)

    async def _open(self, budget: _Slots) -> _UdpChannel:
        loop = asyncio.get_running_loop()
        try:
            _transport, protocol = await loop.create_datagram_endpoint(
                _UdpChannel, remote_addr=(self.server.address, self.server.port)
            )
        except BaseException:
            budget.release()
            raise
        self.channels.append(protocol)
        return protocol

    def _drop_closed(self) -> None:
        alive = [channel for channel in self.channels if not channel.closed]
        if len(alive) != len(self.channels) and self._budget is not None:
            for _dead in range(len(self.channels) - len(alive)):
                self._budget.release()
        self.channels = alive

    async def _channel(self) -> _UdpChannel:
        await self.ready()
        if len(self.channels) < _UDP_SOCKETS_PER_SERVER and not self.opening:
            budget = socket_budget()
            if budget.try_acquire():  # more sockets only while the budget has room
                self.opening = True
                try:
                    return await self._open(budget)
                except OSError:
                    pass  # out of descriptors after all: the open sockets will do
                finally:
                    self.opening = False
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
            if self._budget is not None:
                self._budget.release()
        self.channels.clear()


async def _tcp_exchange(server: DnsServer, wire: bytes, timeout: float) -> bytes:
    """One query over a fresh TCP connection, bounded by ``timeout`` as a whole (connect, send
    and every byte of the answer). The caller holds a socket budget slot."""
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


class DohError(Exception):
    """The DoH server answered, but not with a usable DNS message (status, size, encoding)."""


async def _doh_post(
    client: httpx.AsyncClient, server: DnsServer, wire: bytes, timeout: float
) -> bytes:
    """One query to a DNS-over-HTTPS URL (RFC 8484 POST) within ``timeout`` as a whole: connect,
    headers and the whole body. A body over ``DOH_RESPONSE_CAP`` bytes, a status other than 200
    or a compressed body raise ``DohError``; the caller holds a socket budget slot."""
    import httpx

    assert server.url is not None
    headers = {
        "content-type": "application/dns-message",
        "accept": "application/dns-message",
        "accept-encoding": "identity",
    }
    async with asyncio.timeout(timeout):
        request = client.build_request(
            "POST", server.url, content=wire, headers=headers, timeout=httpx.Timeout(timeout)
        )
        response = await client.send(request, stream=True)
        try:
            if response.status_code != 200:
                raise DohError(f"HTTP status {response.status_code} from the DoH server")
            encoding = response.headers.get("content-encoding", "identity").strip().lower()
            if encoding not in ("", "identity"):
                raise DohError(f"DoH answer is compressed ({encoding[:40]}); asked for identity")
            declared = response.headers.get("content-length", "")
            if is_digits(declared) and int(declared) > DOH_RESPONSE_CAP:
                raise DohError(_too_big(int(declared)))
            body = bytearray()
            async for chunk in response.aiter_raw():
                body += chunk
                if len(body) > DOH_RESPONSE_CAP:
                    raise DohError(_too_big(None))
            return bytes(body)
        finally:
            await response.aclose()


def _too_big(size: int | None) -> str:
    cap = f"the 64 kB response cap ({DOH_RESPONSE_CAP} bytes)"
    if size is None:
        return f"DoH answer larger than {cap}"
    return f"DoH answer of {size} bytes is larger than {cap}"
