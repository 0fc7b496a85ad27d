"""Sending a query and receiving the answer: UDP socket pool, TCP, DNS over HTTPS.

UDP queries to a server go through a small pool of connected sockets (``_UdpPool``) opened once
per run, matched to answers by random query id and the echoed question, sent again once halfway
through the timeout. ``_tcp_exchange`` asks over a fresh TCP connection (for truncated answers
and ``--tcp``); ``_doh_post`` posts the query to a DoH URL with the caller's HTTP client.
"""

from __future__ import annotations

import asyncio
import secrets
import struct
from typing import TYPE_CHECKING, Any

from mailprobe.dns.answer import DnsServer

if TYPE_CHECKING:
    import httpx

_UDP_SOCKETS_PER_SERVER = 4


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


async def _doh_post(
    client: httpx.AsyncClient, server: DnsServer, wire: bytes, timeout: float
) -> bytes:
    """One query to a DNS-over-HTTPS URL (RFC 8484 POST); non-200 raises ``_DohHttpError``."""
    import httpx

    assert server.url is not None
    response = await client.post(
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
