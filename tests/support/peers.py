"""Scripted SMTP peers on loopback, as pytest fixtures.

Two layers, both running an asyncio server in a background thread with its own event loop:

- :class:`PeerServer` accepts TCP connections and runs ``handler(conn)`` for each, where ``conn`` is
  a :class:`PeerConnection` (``send``, ``reply``, ``readline``, ``starttls``, ``hold``, ``close``).
  Used directly for hostile peers (tarpit, garbage, drops).
- :class:`SmtpPeer` is a small SMTP server on top of it: banner, EHLO/HELO, STARTTLS, AUTH
  (LOGIN, PLAIN, CRAM-MD5), MAIL, RCPT, DATA, RSET, NOOP, VRFY, EXPN, QUIT, each reply decided by a
  ``rules`` callable (see :class:`SmtpCommand` and :data:`Rule`) before the default behaviour.

Every byte in either direction is recorded in a thread-safe :class:`Transcript`; reads have a
timeout, every session has an overall bound, and servers are closed at fixture teardown, so a
peer can never hang a test. Peers listen on port 0 (a free port) of a loopback address:
127.0.2.10 for ehlo-style peers, 127.0.3.10 for relay-style peers, unless told otherwise.

The scripted peers do not use aiosmtpd: its Controller cannot listen on port 0, makes a
self-test connection, and normalises replies, while these peers need byte-exact control over every
reply (Exchange reply texts, drops in the middle of a reply, banners that never come).
:class:`AiosmtpdPeer` (fixture ``aiosmtpd_peer``) wraps aiosmtpd where a complete, standard
SMTP implementation matters more (DATA handling, dot-stuffing, SMTPUTF8).

Quick use in a test::

    def test_something(exchange2000_peer):
        ...  # connect to exchange2000_peer.address, exchange2000_peer.port
        exchange2000_peer.wait_idle()
        assert not exchange2000_peer.transcript.saw_data()
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import hashlib
import hmac
import re
import secrets
import socket
import ssl
import threading
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:  # a runtime import would import the certs plugin before pytest registers it
    from tests.support.certs import ServerCert

EHLO_ADDRESS = "127.0.2.10"
RELAY_ADDRESS = "127.0.3.10"
READ_TIMEOUT = 10.0  # the peer closes a connection silent for this long
SESSION_TIMEOUT = 60.0  # and any connection open for this long
HOLD_TIMEOUT = 30.0  # tarpits / garbage talkers keep the line at most this long
MAX_LINE = 1024 * 1024

AUTH_USER = "alice"
AUTH_PASSWORD = "Tr0ub4dor&3-s3cret"  # distinctive, so redaction tests can grep for it

# ----------------------------------------------------------------------------------------------
# transcript


@dataclass(frozen=True)
class TranscriptLine:
    """One recorded chunk: ``direction`` is "recv" (client -> peer), "sent" or "event"."""

    connection: int
    direction: str
    data: bytes
    at: float

    @property
    def text(self) -> str:
        """The data decoded (UTF-8, errors replaced) without the trailing CRLF."""
        return self.data.decode("utf-8", "replace").rstrip("\r\n")


class Transcript:
    """Thread-safe record of everything a peer received and sent, per connection."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._lines: list[TranscriptLine] = []

    def add(self, connection: int, direction: str, data: bytes) -> None:
        """Record one chunk."""
        with self._lock:
            self._lines.append(TranscriptLine(connection, direction, data, time.monotonic()))

    def lines(self, connection: int | None = None) -> list[TranscriptLine]:
        """All recorded chunks in order (of one connection if given)."""
        with self._lock:
            return [
                line for line in self._lines if connection is None or line.connection == connection
            ]

    def received(self, connection: int | None = None) -> list[str]:
        """Lines the peer received from the client, without CRLF."""
        return [line.text for line in self.lines(connection) if line.direction == "recv"]

    def received_bytes(self, connection: int | None = None) -> bytes:
        """Everything the peer received, raw."""
        return b"".join(line.data for line in self.lines(connection) if line.direction == "recv")

    def sent(self, connection: int | None = None) -> list[str]:
        """Lines (or chunks) the peer sent, without CRLF."""
        return [line.text for line in self.lines(connection) if line.direction == "sent"]

    def events(self, connection: int | None = None) -> list[str]:
        """Peer-side events: "connect", "close", "tls", "tls-failed: ...", "timeout", ..."""
        return [line.text for line in self.lines(connection) if line.direction == "event"]

    def commands(self, connection: int | None = None) -> list[str]:
        """Upper-case verbs of the received command lines (message content excluded)."""
        verbs: list[str] = []
        for line in self.lines(connection):
            if line.direction == "recv-command":
                verbs.append(line.text.split(" ", 1)[0].upper())
        return verbs

    def saw_data(self) -> bool:
        """True if any client sent DATA or BDAT."""
        return any(verb in ("DATA", "BDAT") for verb in self.commands())

    def connections(self) -> int:
        """How many connections the peer accepted."""
        return sum(
            1 for line in self.lines() if line.direction == "event" and line.text == "connect"
        )

    def text(self) -> str:
        """The whole transcript as readable text (for failure messages)."""
        arrows = {"recv": "C:", "recv-command": "C:", "sent": "S:", "event": "--"}
        return "\n".join(
            f"#{line.connection} {arrows.get(line.direction, '?')} {line.text[:300]}"
            for line in self.lines()
            if line.direction != "recv-command"
        )

    def clear(self) -> None:
        """Forget everything recorded so far."""
        with self._lock:
            self._lines.clear()


# ----------------------------------------------------------------------------------------------
# raw server


class PeerConnection:
    """One client connection as seen by a peer handler; every I/O is recorded and bounded."""

    def __init__(
        self,
        number: int,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        transcript: Transcript,
        read_timeout: float,
        stopping: asyncio.Event,
    ) -> None:
        self.number = number
        self.reader = reader
        self.writer = writer
        self.transcript = transcript
        self.read_timeout = read_timeout
        self.stopping = stopping
        self.closed = False
        self.tls = False
        peer = writer.get_extra_info("peername")
        self.client_address: str = peer[0] if peer else "unknown"

    def record(self, direction: str, data: bytes) -> None:
        """Add a chunk to the peer's transcript under this connection's number."""
        self.transcript.add(self.number, direction, data)

    async def send(self, data: bytes | str) -> None:
        """Send raw bytes (a str is encoded as UTF-8 and sent as is, no CRLF added)."""
        if self.closed:
            return
        raw = data.encode() if isinstance(data, str) else data
        self.record("sent", raw)
        try:
            self.writer.write(raw)
            await asyncio.wait_for(self.writer.drain(), self.read_timeout)
        except (TimeoutError, OSError, RuntimeError):
            self.closed = True

    async def send_lines(self, lines: Sequence[str]) -> None:
        """Send full reply lines, each terminated by CRLF, in one write."""
        await self.send("".join(f"{line}\r\n" for line in lines))

    async def reply(self, code: int, *texts: str) -> None:
        """Send a (multi-line) reply: ``reply(250, "a", "b")`` -> ``250-a`` / ``250 b``."""
        texts = texts or ("",)
        lines = [
            f"{code}{'-' if i < len(texts) - 1 else ' '}{text}".rstrip()
            for i, text in enumerate(texts)
        ]
        await self.send_lines(lines)

    async def readline(self, timeout: float | None = None) -> str | None:
        """Read one line (CRLF stripped); None on EOF, timeout, overlong line or closed peer."""
        if self.closed:
            return None
        try:
            raw = await asyncio.wait_for(self.reader.readline(), timeout or self.read_timeout)
        except TimeoutError:
            self.record("event", b"timeout")
            return None
        except (OSError, ValueError, asyncio.LimitOverrunError, ssl.SSLError) as exc:
            self.record("event", f"read-error: {exc!r}".encode())
            return None
        if not raw:
            self.record("event", b"eof")
            return None
        self.record("recv", raw)
        return raw.decode("utf-8", "replace").rstrip("\r\n")

    async def starttls(self, context: ssl.SSLContext, ready_reply: str | None = None) -> bool:
        """Send ``ready_reply`` (e.g. "220 2.0.0 Ready to start TLS") and upgrade to TLS as the
        server side; False (and closed) when the handshake fails."""
        # Stop reading before the go-ahead, or the client's ClientHello could land in the plain
        # stream buffer before the TLS layer is in place (and the handshake would stall).
        self.writer.transport.pause_reading()
        if ready_reply is not None:
            await self.send_lines([ready_reply])
        try:
            await asyncio.wait_for(self.writer.start_tls(context), self.read_timeout)
        except (TimeoutError, OSError, ssl.SSLError, ConnectionError) as exc:
            self.record("event", f"tls-failed: {exc!r}".encode())
            self.closed = True
            return False
        self.tls = True
        self.record("event", b"tls")
        return True

    async def hold(self, seconds: float = HOLD_TIMEOUT) -> None:
        """Keep the line open without sending, until the client closes, ``seconds`` pass or the
        server stops; whatever the client sends meanwhile is recorded."""
        deadline = asyncio.get_running_loop().time() + seconds
        while not self.closed and not self.stopping.is_set():
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                self.record("event", b"hold-expired")
                return
            try:
                chunk = await asyncio.wait_for(self.reader.read(65536), min(remaining, 0.5))
            except TimeoutError:
                continue
            except (OSError, ssl.SSLError):
                return
            if not chunk:
                self.record("event", b"eof")
                return
            self.record("recv", chunk)

    async def close(self) -> None:
        """Close the connection (FIN), bounded."""
        if self.closed:
            return
        self.closed = True
        self.record("event", b"close")
        with contextlib.suppress(Exception):
            self.writer.close()
            await asyncio.wait_for(self.writer.wait_closed(), 2.0)

    async def abort(self) -> None:
        """Reset the connection at once (RST), dropping unsent data."""
        if self.closed:
            return
        self.closed = True
        self.record("event", b"abort")
        self.writer.transport.abort()


Handler = Callable[[PeerConnection], Awaitable[None]]


class PeerServer:
    """A TCP server running ``handler(conn)`` per connection in a background event loop thread."""

    def __init__(
        self,
        handler: Handler,
        address: str = EHLO_ADDRESS,
        port: int = 0,
        *,
        read_timeout: float = READ_TIMEOUT,
        session_timeout: float = SESSION_TIMEOUT,
        name: str = "peer",
    ) -> None:
        self.handler = handler
        self.address = address
        self.port = port
        self.read_timeout = read_timeout
        self.session_timeout = session_timeout
        self.name = name
        self.transcript = Transcript()
        self._count = 0
        self._active = 0
        self._count_lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.Server | None = None
        self._stopping: asyncio.Event | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.errors: list[BaseException] = []  # exceptions raised by the handler

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self, timeout: float = 10.0) -> PeerServer:
        """Start listening (bounded wait); ``self.port`` is the real port afterwards."""
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)
            try:
                self._stopping = asyncio.Event()
                self._server = loop.run_until_complete(
                    asyncio.start_server(self._serve, self.address, self.port, limit=MAX_LINE)
                )
                self.port = self._server.sockets[0].getsockname()[1]
            except BaseException as exc:  # reported to start()
                failure.append(exc)
                ready.set()
                loop.close()
                return
            ready.set()
            try:
                loop.run_forever()
            finally:
                loop.run_until_complete(self._shutdown())
                loop.close()

        self._thread = threading.Thread(target=run, name=f"peer-{self.name}", daemon=True)
        self._thread.start()
        if not ready.wait(timeout):
            raise RuntimeError(f"peer {self.name} did not start within {timeout}s")
        if failure:
            raise RuntimeError(f"peer {self.name} could not listen on {self.address}") from (
                failure[0]
            )
        return self

    async def _shutdown(self) -> None:
        assert self._stopping is not None
        self._stopping.set()
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=5.0)
        if self._server is not None:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._server.wait_closed(), 5.0)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the server, end every connection, join the thread (all bounded)."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        with contextlib.suppress(RuntimeError):  # loop already closed
            loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout)
        self._loop = None
        self._thread = None

    def __enter__(self) -> PeerServer:
        return self if self._thread else self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- connections ---------------------------------------------------------------------------

    @property
    def connections(self) -> int:
        """How many connections were accepted so far."""
        with self._count_lock:
            return self._count

    @property
    def active(self) -> int:
        """How many connections are open right now."""
        with self._count_lock:
            return self._active

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Wait (bounded) until no connection is open; True if idle. Call before asserting on
        the transcript, so the peer has processed everything the client sent."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.active == 0:
                return True
            time.sleep(0.02)
        return False

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with self._count_lock:
            self._count += 1
            self._active += 1
            number = self._count
        assert self._stopping is not None
        conn = PeerConnection(
            number, reader, writer, self.transcript, self.read_timeout, self._stopping
        )
        conn.record("event", b"connect")
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)  # type: ignore[arg-type]
        try:
            await asyncio.wait_for(self.handler(conn), self.session_timeout)
        except TimeoutError:
            conn.record("event", b"session-timeout")
        except asyncio.CancelledError:
            conn.record("event", b"cancelled")
        except (OSError, ssl.SSLError) as exc:  # the client went away or broke TLS
            conn.record("event", f"connection-error: {exc!r}".encode())
        except Exception as exc:  # a bug in the peer: reported at teardown
            self.errors.append(exc)
            conn.record("event", f"handler-error: {exc!r}".encode())
        finally:
            await conn.close()
            self._tasks.discard(task)  # type: ignore[arg-type]
            with self._count_lock:
                self._active -= 1


# ----------------------------------------------------------------------------------------------
# SMTP peer


@dataclass
class SmtpCommand:
    """One command as a rule sees it."""

    connection: int  # 1-based connection number on this peer
    index: int  # 1-based command number within the connection
    total: int  # 1-based command number across all connections of the peer
    line: str  # the raw line without CRLF
    verb: str  # upper-case first word: "EHLO", "MAIL", "RCPT", ...
    argument: str  # the rest of the line
    address: str | None  # MAIL FROM:<x> / RCPT TO:<x> -> x (None for other verbs)
    session: SmtpSession  # per-connection state (counters, sender, recipients, tls, ...)
    peer: SmtpPeer


class _Drop:
    def __repr__(self) -> str:
        return "DROP"


DROP = _Drop()
"""Rule result: close the connection without replying."""


@dataclass(frozen=True)
class Reply:
    """Rule result with options: reply ``lines`` (full lines, e.g. "250 OK"), then maybe close."""

    lines: tuple[str, ...]
    close: bool = False

    @classmethod
    def of(cls, *lines: str, close: bool = False) -> Reply:
        """``Reply.of("421 4.7.0 bye", close=True)``."""
        return cls(tuple(lines), close)


RuleResult = str | Sequence[str] | Reply | _Drop | None
Rule = Callable[[SmtpCommand], RuleResult]
"""A rule returns a full reply line ("550 5.7.1 no"), a list of lines, a :class:`Reply`, DROP,
or None for the peer's default behaviour."""


@dataclass
class SmtpSession:
    """Per-connection SMTP state, visible to rules."""

    helo: str | None = None
    sender: str | None = None
    recipients: list[str] = field(default_factory=list)
    tls: bool = False
    authenticated: str | None = None
    rejections: int = 0  # 4xx/5xx replies sent on this connection
    commands: int = 0
    scratch: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class AuthAttempt:
    """One AUTH exchange: what the client proved (``password`` None for CRAM-MD5)."""

    connection: int
    mechanism: str
    username: str | None
    password: str | None
    success: bool


@dataclass(frozen=True)
class SmtpStyle:
    """Reply texts of one server family. Fields may use {hostname}, {address}, {client}, {helo}."""

    helo: str = "250 {hostname}"
    ehlo_first: str = "{hostname}"
    mail: str = "250 2.1.0 Ok"
    rcpt: str = "250 2.1.5 Ok"
    data: str = "354 End data with <CR><LF>.<CR><LF>"
    queued: str = "250 2.0.0 Ok: queued as {queue_id}"
    rset: str = "250 2.0.0 Ok"
    noop: str = "250 2.0.0 Ok"
    quit: str = "221 2.0.0 Bye"
    vrfy: str = "252 2.0.0 {address}"
    expn: str = "502 5.5.1 EXPN not available"
    starttls: str = "220 2.0.0 Ready to start TLS"
    unknown: str = "502 5.5.2 Error: command not recognized"
    bad_sequence: str = "503 5.5.1 Error: need MAIL command"
    relay_denied: str = "554 5.7.1 <{address}>: Relay access denied"


POSTFIX_STYLE = SmtpStyle()
EXCHANGE_STYLE = SmtpStyle(
    helo="250 {hostname} Hello [{client}]",
    ehlo_first="{hostname} Hello [{client}]",
    mail="250 2.1.0 {address}....Sender OK",
    rcpt="250 2.1.5 {address} ",
    data="354 Start mail input; end with <CRLF>.<CRLF>",
    queued="250 2.6.0 <{queue_id}@{hostname}> Queued mail for delivery",
    rset="250 2.0.0 Resetting",
    noop="250 2.0.0 OK",
    quit="221 2.0.0 {hostname} Service closing transmission channel",
    vrfy="252 2.1.5 Cannot VRFY user, but will take message for <{address}>",
    expn="502 5.3.3 EXPN not supported",
    starttls="220 2.0.0 SMTP server ready",
    unknown="500 5.3.3 Unrecognized command",
    bad_sequence="503 5.5.2 Need mail command",
    relay_denied="550 5.7.1 Unable to relay for {address}",
)

EXCHANGE2000_BANNER = (
    "220 mail1.example.com Microsoft ESMTP MAIL Service, Version: 5.0.2195.1600 ready"
)
EXCHANGE2000_EHLO = (
    "TURN",
    "ATRN",
    "SIZE 5242880",
    "ETRN",
    "PIPELINING",
    "DSN",
    "ENHANCEDSTATUSCODES",
    "8bitmime",
    "BINARYMIME",
    "CHUNKING",
    "VRFY",
    "X-EXPS GSSAPI NTLM LOGIN",
    "X-EXPS=LOGIN",
    "AUTH GSSAPI NTLM LOGIN",
    "AUTH=LOGIN",
    "X-LINK2STATE",
    "XEXCH50",
    "OK",
)
WINDOWS_SMTP_EHLO = tuple(
    kw for kw in EXCHANGE2000_EHLO if not kw.startswith(("X-", "XEXCH")) and kw != "ATRN"
)
"""Windows (IIS) SMTP alone: the Exchange extensions (X-EXPS, X-LINK2STATE, XEXCH50) are gone."""
EXCHANGE_MODERN_BANNER = (
    "220 mail2.example.com Microsoft ESMTP MAIL Service ready at Mon, 1 Jan 2024 00:00:00 +0000"
)
EXCHANGE_MODERN_EHLO = (
    "SIZE 37748736",
    "PIPELINING",
    "DSN",
    "ENHANCEDSTATUSCODES",
    "STARTTLS",
    "X-ANONYMOUSTLS",
    "AUTH NTLM",
    "X-EXPS GSSAPI NTLM",
    "8BITMIME",
    "BINARYMIME",
    "CHUNKING",
    "XRDST",
    "XSHADOW",
    "XEXCH50",
    "SMTPUTF8",
)
POSTFIX_EHLO = (
    "PIPELINING",
    "SIZE 10240000",
    "VRFY",
    "ETRN",
    "ENHANCEDSTATUSCODES",
    "8BITMIME",
    "DSN",
    "CHUNKING",
)

_ADDRESS = re.compile(r"^(?:FROM|TO)\s*:\s*<([^>]*)>", re.IGNORECASE)
_ADDRESS_BARE = re.compile(r"^(?:FROM|TO)\s*:\s*(\S+)", re.IGNORECASE)


def _address_of(argument: str) -> str | None:
    match = _ADDRESS.match(argument) or _ADDRESS_BARE.match(argument)
    return match.group(1) if match else None


class SmtpPeer(PeerServer):
    """A scripted SMTP server; see the module docstring and ``smtp_peer_factory``."""

    def __init__(
        self,
        *,
        address: str = EHLO_ADDRESS,
        port: int = 0,
        hostname: str = "mail.test.example",
        banner: str | Sequence[str] | None = None,
        banner_delay: float = 0.0,
        ehlo: Sequence[str] = POSTFIX_EHLO,
        ehlo_after_tls: Sequence[str] | None = None,
        style: SmtpStyle = POSTFIX_STYLE,
        rules: Rule | Mapping[str, Any] | None = None,
        tls_context: ssl.SSLContext | None = None,
        auth_users: Mapping[str, str] | None = None,
        auth_mechanisms: Sequence[str] = ("LOGIN", "PLAIN", "CRAM-MD5"),
        advertise_auth: bool = True,
        read_timeout: float = READ_TIMEOUT,
        session_timeout: float = SESSION_TIMEOUT,
        name: str = "smtp",
    ) -> None:
        super().__init__(
            self._session,
            address,
            port,
            read_timeout=read_timeout,
            session_timeout=session_timeout,
            name=name,
        )
        self.hostname = hostname
        self.banner = [f"220 {hostname} ESMTP"] if banner is None else banner
        self.banner_delay = banner_delay
        self.ehlo = list(ehlo)
        self.ehlo_after_tls = None if ehlo_after_tls is None else list(ehlo_after_tls)
        self.style = style
        self.rules = _rule_from(rules)
        self.tls_context = tls_context
        self.auth_users = dict(auth_users or {})
        self.auth_mechanisms = [m.upper() for m in auth_mechanisms]
        self.advertise_auth = advertise_auth
        self.auth_attempts: list[AuthAttempt] = []
        self.messages: list[bytes] = []  # bodies received after DATA (only if DATA was accepted)
        self._total = 0
        self._total_lock = threading.Lock()

    # -- helpers -------------------------------------------------------------------------------

    def format(self, template: str, conn: PeerConnection, **values: str) -> str:
        """Fill a style template."""
        values.setdefault("address", "")
        values.setdefault("helo", "")
        values.setdefault("queue_id", "")
        return template.format(hostname=self.hostname, client=conn.client_address, **values)

    def ehlo_lines(self, conn: PeerConnection, session: SmtpSession) -> list[str]:
        """The full multi-line EHLO reply for this session state."""
        keywords = list(self.ehlo)
        if session.tls and self.ehlo_after_tls is not None:
            keywords = list(self.ehlo_after_tls)
        if session.tls:
            keywords = [kw for kw in keywords if kw.upper() != "STARTTLS"]
        elif self.tls_context is not None and not any(k.upper() == "STARTTLS" for k in keywords):
            keywords.append("STARTTLS")
        if (
            self.auth_users
            and self.advertise_auth
            and not any(kw.upper().startswith("AUTH") for kw in keywords)
        ):
            keywords.append("AUTH " + " ".join(self.auth_mechanisms))
        first = self.format(self.style.ehlo_first, conn, helo=session.helo or "")
        texts = [first, *keywords]
        return [f"250{'-' if i < len(texts) - 1 else ' '}{t}" for i, t in enumerate(texts)]

    # -- the session ---------------------------------------------------------------------------

    async def _session(self, conn: PeerConnection) -> None:
        if self.banner_delay:
            await asyncio.sleep(self.banner_delay)
        banner = [self.banner] if isinstance(self.banner, str) else list(self.banner)
        if banner:
            await conn.send_lines(banner)
            if banner[-1][:3] == "421":
                return
        session = SmtpSession()
        while not conn.closed:
            line = await conn.readline()
            if line is None:
                return
            conn.record("recv-command", line.encode())
            with self._total_lock:
                self._total += 1
                total = self._total
            session.commands += 1
            verb, _, argument = line.strip().partition(" ")
            verb = verb.upper()
            command = SmtpCommand(
                connection=conn.number,
                index=session.commands,
                total=total,
                line=line,
                verb=verb,
                argument=argument.strip(),
                address=_address_of(argument.strip()) if verb in ("MAIL", "RCPT") else None,
                session=session,
                peer=self,
            )
            result = self.rules(command) if self.rules else None
            if result is DROP:
                await conn.close()
                return
            if result is not None:
                reply = result if isinstance(result, Reply) else _as_reply(result)
                _track(session, command, reply)
                await self._send_reply(conn, session, reply.lines)
                if reply.close:
                    await conn.close()
                    return
                if verb == "DATA" and reply.lines and reply.lines[-1].startswith("354"):
                    await self._read_message(conn, session)
                continue
            await self._default(conn, session, command)

    async def _send_reply(
        self, conn: PeerConnection, session: SmtpSession, lines: Sequence[str]
    ) -> None:
        if lines and lines[-1][:1] in ("4", "5"):
            session.rejections += 1
        await conn.send_lines(lines)

    async def _default(self, conn: PeerConnection, session: SmtpSession, cmd: SmtpCommand) -> None:
        style = self.style
        verb = cmd.verb
        if verb == "EHLO":
            session.helo = cmd.argument
            session.sender, session.recipients = None, []
            await conn.send_lines(self.ehlo_lines(conn, session))
        elif verb == "HELO":
            session.helo = cmd.argument
            session.sender, session.recipients = None, []
            await conn.send_lines([self.format(style.helo, conn, helo=cmd.argument)])
        elif verb == "STARTTLS" and self.tls_context is not None and not session.tls:
            if await conn.starttls(self.tls_context, self.format(style.starttls, conn)):
                session.tls = True
                session.helo, session.sender, session.recipients = None, None, []
        elif verb == "AUTH" and self.auth_users and session.authenticated is None:
            await self._auth(conn, session, cmd)
        elif verb == "MAIL":
            session.sender, session.recipients = cmd.address, []
            await conn.send_lines([self.format(style.mail, conn, address=cmd.address or "")])
        elif verb == "RCPT":
            if session.sender is None:
                await self._send_reply(conn, session, [style.bad_sequence])
                return
            session.recipients.append(cmd.address or "")
            await conn.send_lines([self.format(style.rcpt, conn, address=cmd.address or "")])
        elif verb == "DATA":
            if not session.recipients:
                await self._send_reply(conn, session, ["554 5.5.1 Error: no valid recipients"])
                return
            await conn.send_lines([self.format(style.data, conn)])
            await self._read_message(conn, session)
        elif verb == "RSET":
            session.sender, session.recipients = None, []
            await conn.send_lines([self.format(style.rset, conn)])
        elif verb == "NOOP":
            await conn.send_lines([self.format(style.noop, conn)])
        elif verb == "VRFY":
            await conn.send_lines([self.format(style.vrfy, conn, address=cmd.argument)])
        elif verb == "EXPN":
            await self._send_reply(conn, session, [self.format(style.expn, conn)])
        elif verb == "QUIT":
            await conn.send_lines([self.format(style.quit, conn)])
            await conn.close()
        else:
            await self._send_reply(conn, session, [self.format(style.unknown, conn)])

    async def _read_message(self, conn: PeerConnection, session: SmtpSession) -> None:
        body: list[bytes] = []
        while True:
            line = await conn.readline()
            if line is None:
                return
            if line == ".":
                break
            if line.startswith(".."):  # undo dot-stuffing
                line = line[1:]
            body.append(line.encode() + b"\r\n")
        self.messages.append(b"".join(body))
        queue_id = secrets.token_hex(5).upper()
        await conn.send_lines([self.format(self.style.queued, conn, queue_id=queue_id)])
        session.sender, session.recipients = None, []

    async def _auth(self, conn: PeerConnection, session: SmtpSession, cmd: SmtpCommand) -> None:
        mechanism, _, initial = cmd.argument.partition(" ")
        mechanism = mechanism.upper()
        initial = initial.strip()
        if mechanism not in self.auth_mechanisms:
            await self._send_reply(conn, session, ["504 5.5.4 Unrecognized authentication type"])
            return

        async def ask(challenge: str) -> str | None:
            await conn.send_lines([f"334 {challenge}"])
            answer = await conn.readline()
            if answer is None or answer.strip() == "*":
                return None
            return answer.strip()

        def b64(text: str) -> str | None:
            try:
                return base64.b64decode(text, validate=True).decode("utf-8", "replace")
            except (binascii.Error, ValueError):
                return None

        user: str | None = None
        password: str | None = None
        success = False
        if mechanism == "PLAIN":
            blob = initial if initial and initial != "=" else await ask("")
            decoded = b64(blob) if blob else None
            if decoded is not None and decoded.count("\0") == 2:
                _authzid, user, password = decoded.split("\0")
                success = self.auth_users.get(user) == password
        elif mechanism == "LOGIN":
            raw_user = initial or await ask(base64.b64encode(b"Username:").decode())
            user = b64(raw_user) if raw_user else None
            raw_password = await ask(base64.b64encode(b"Password:").decode()) if user else None
            password = b64(raw_password) if raw_password else None
            success = user is not None and self.auth_users.get(user) == password
        else:  # CRAM-MD5
            challenge = f"<{secrets.randbelow(10**9)}.{int(time.time())}@{self.hostname}>"
            answer = await ask(base64.b64encode(challenge.encode()).decode())
            decoded = b64(answer) if answer else None
            if decoded and " " in decoded:
                user, digest = decoded.rsplit(" ", 1)
                secret = self.auth_users.get(user)
                if secret is not None:
                    expected = hmac.new(secret.encode(), challenge.encode(), hashlib.md5)
                    success = hmac.compare_digest(expected.hexdigest(), digest.lower())
        self.auth_attempts.append(AuthAttempt(conn.number, mechanism, user, password, success))
        if conn.closed:
            return
        if success:
            session.authenticated = user
            await conn.send_lines(["235 2.7.0 Authentication successful"])
        elif user is None and password is None and mechanism != "CRAM-MD5":
            await self._send_reply(conn, session, ["501 5.7.0 Authentication aborted or bad"])
        else:
            await self._send_reply(conn, session, ["535 5.7.8 Error: authentication failed"])


def _track(session: SmtpSession, command: SmtpCommand, reply: Reply) -> None:
    """Keep the session state right when a rule answers with a positive reply."""
    if not reply.lines or not reply.lines[-1].startswith("2"):
        return
    if command.verb == "MAIL":
        session.sender, session.recipients = command.address or "", []
    elif command.verb == "RCPT":
        session.recipients.append(command.address or "")
    elif command.verb in ("RSET", "EHLO", "HELO"):
        session.sender, session.recipients = None, []
        if command.verb != "RSET":
            session.helo = command.argument


def _as_reply(result: str | Sequence[str]) -> Reply:
    if isinstance(result, str):
        return Reply(tuple(result.split("\r\n")))
    return Reply(tuple(result))


def _rule_from(rules: Rule | Mapping[str, Any] | None) -> Rule | None:
    """A callable rule, or a table {verb: reply-or-callable} turned into one."""
    if rules is None or callable(rules):
        return rules
    table = {verb.upper(): action for verb, action in rules.items()}

    def rule(cmd: SmtpCommand) -> RuleResult:
        action = table.get(cmd.verb)
        if callable(action):
            result: RuleResult = action(cmd)
            return result
        return action  # type: ignore[no-any-return]

    return rule


# ----------------------------------------------------------------------------------------------
# ready-made relay rules


def _domain_of(address: str) -> str:
    return address.rpartition("@")[2].lower().rstrip(".")


def is_plain_local(address: str, domains: Sequence[str]) -> bool:
    """True for a plain ``user@domain`` with domain in ``domains`` (no %, !, quotes, routes)."""
    local, at, domain = address.rpartition("@")
    if not at or not local or any(c in local for c in '%!"@:'):
        return False
    return domain.lower().rstrip(".") in [d.lower() for d in domains]


def is_percent_hack(address: str, domains: Sequence[str]) -> bool:
    """True for ``user%external@own`` (own = one of ``domains``, e.g. the domain or ``[ip]``)."""
    local, at, domain = address.rpartition("@")
    if not at or "%" not in local or any(c in local for c in '!"@:'):
        return False
    return domain.lower().rstrip(".") in [d.lower() for d in domains]


def percent_hack_rules(domains: Sequence[str], accept_local: bool = False) -> Rule:
    """RCPT accepted only in the percent-hack form (and plain local if ``accept_local``)."""

    def rule(cmd: SmtpCommand) -> RuleResult:
        if cmd.verb != "RCPT" or cmd.session.sender is None:
            return None
        address = cmd.address or ""
        if is_percent_hack(address, domains) or (accept_local and is_plain_local(address, domains)):
            return None
        return f"554 5.7.1 <{address}>: Relay access denied"

    return rule


def exchange_relay_denied_rules(domains: Sequence[str], accept_local: bool = False) -> Rule:
    """250 to MAIL, ``550 5.7.1 Unable to relay for ...`` to every RCPT (but plain local ones if
    ``accept_local``)."""

    def rule(cmd: SmtpCommand) -> RuleResult:
        if cmd.verb != "RCPT" or cmd.session.sender is None:
            return None
        address = cmd.address or ""
        if accept_local and is_plain_local(address, domains):
            return None
        return f"550 5.7.1 Unable to relay for {address}"

    return rule


def reject_at_data_rules() -> Rule:
    """Every RCPT accepted, DATA refused with 550."""

    def rule(cmd: SmtpCommand) -> RuleResult:
        if cmd.verb == "DATA":
            return "550 5.7.1 Relaying denied: message refused at DATA"
        return None

    return rule


def drop_after_rejections_rules(rejections: int = 3, say_421: bool = False) -> Rule:
    """Every RCPT rejected with 554; after ``rejections`` of them on one connection, the next
    command gets no reply: the connection is dropped (or 421 then close, with ``say_421``)."""

    def rule(cmd: SmtpCommand) -> RuleResult:
        if cmd.session.rejections >= rejections and cmd.verb != "QUIT":
            if say_421:
                return Reply.of("421 4.7.0 Error: too many errors", close=True)
            return DROP
        if cmd.verb == "RCPT" and cmd.session.sender is not None:
            return f"554 5.7.1 <{cmd.address}>: Relay access denied"
        return None

    return rule


def mid_battery_421_rules(after: int = 5, per_connection: bool = True) -> Rule:
    """Normal replies (RCPT rejected with 554) for ``after`` commands, then ``421`` and close.
    ``per_connection=False`` counts commands across all connections of the peer, and once past
    the limit every later command on any connection gets the 421."""

    def rule(cmd: SmtpCommand) -> RuleResult:
        count = cmd.index if per_connection else cmd.total
        if count > after:
            return Reply.of(
                f"421 4.7.0 {cmd.peer.hostname} Too many connections or errors, try later",
                close=True,
            )
        if cmd.verb == "RCPT" and cmd.session.sender is not None:
            return f"554 5.7.1 <{cmd.address}>: Relay access denied"
        return None

    return rule


# ----------------------------------------------------------------------------------------------
# hostile raw handlers


def tarpit_handler(hold: float = HOLD_TIMEOUT) -> Handler:
    """Accept and never send a banner (the line is held up to ``hold`` seconds)."""

    async def handler(conn: PeerConnection) -> None:
        await conn.hold(hold)

    return handler


GARBAGE_KINDS = ("binary", "no-code", "long-line")
BINARY_GARBAGE = bytes([0x00, 0xFF, 0xFE, 0x16, 0x03, 0x01, 0x02, 0x00, 0x80, 0x1B]) * 8 + b"\r\n"
LONG_LINE_SIZE = 100 * 1024


def garbage_handler(kind: str, hold: float = HOLD_TIMEOUT) -> Handler:
    """A non-SMTP talker: ``binary`` bytes, a line ``no-code`` (text without a reply code, also
    answered to every command), or a 100 kB ``long-line`` without newline; then the line is held."""
    if kind not in GARBAGE_KINDS:
        raise ValueError(f"kind must be one of {GARBAGE_KINDS}")

    async def handler(conn: PeerConnection) -> None:
        if kind == "binary":
            await conn.send(BINARY_GARBAGE)
            await conn.hold(hold)
        elif kind == "long-line":
            await conn.send(b"A" * LONG_LINE_SIZE)
            await conn.hold(hold)
        else:
            await conn.send("Hello, this is not an SMTP server\r\n")
            while (await conn.readline()) is not None:
                await conn.send("what do you mean?\r\n")

    return handler


def drop_mid_reply_handler(hostname: str = "mail.test.example") -> Handler:
    """A normal banner; EHLO gets the first lines of a multi-line reply, then the line drops."""

    async def handler(conn: PeerConnection) -> None:
        await conn.send_lines([f"220 {hostname} ESMTP"])
        while (line := await conn.readline()) is not None:
            if line.upper().startswith(("EHLO", "HELO")):
                await conn.send_lines([f"250-{hostname}", "250-PIPELINING", "250-SIZE 10240000"])
                await conn.close()
                return
            await conn.send_lines(["503 5.5.1 Error: send HELO/EHLO first"])

    return handler


# ----------------------------------------------------------------------------------------------
# aiosmtpd: a complete, well-behaved SMTP implementation (DATA, dot-stuffing, SIZE, SMTPUTF8)


class AiosmtpdPeer:
    """An aiosmtpd server (Controller in its own thread) with an optional custom EHLO list.

    Use it where a real SMTP implementation matters more than byte-exact replies, e.g. to check
    what a client sends with DATA. ``messages`` holds aiosmtpd ``Envelope`` objects (``mail_from``,
    ``rcpt_tos``, ``content``); ``transcript`` records every line like the scripted peers.
    """

    def __init__(
        self,
        address: str = EHLO_ADDRESS,
        *,
        hostname: str = "mail.test.example",
        ehlo: Sequence[str] | None = None,
        tls_context: ssl.SSLContext | None = None,
        auth_users: Mapping[str, str] | None = None,
    ) -> None:
        from aiosmtpd.controller import Controller
        from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

        self.address = address
        self.hostname = hostname
        self.transcript = Transcript()
        self.messages: list[Any] = []
        self.auth_attempts: list[AuthAttempt] = []
        self._count = 0
        self._lock = threading.Lock()
        peer = self
        custom_ehlo = None if ehlo is None else list(ehlo)
        users = dict(auth_users or {})

        class Handler:
            async def handle_EHLO(
                self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
            ) -> list[str]:
                session.host_name = hostname
                if custom_ehlo is None:
                    return responses
                texts = [peer.hostname, *custom_ehlo]
                return [f"250{'-' if i < len(texts) - 1 else ' '}{t}" for i, t in enumerate(texts)]

            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
                peer.messages.append(envelope)
                return "250 2.0.0 Ok: queued"

        def authenticator(
            server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
        ) -> Any:
            if not isinstance(auth_data, LoginPassword):
                return AuthResult(success=False, handled=False)
            user = auth_data.login.decode("utf-8", "replace")
            password = auth_data.password.decode("utf-8", "replace")
            success = users.get(user) == password
            peer.auth_attempts.append(AuthAttempt(0, mechanism, user, password, success))
            return AuthResult(success=success)

        class RecordingSMTP(SMTP):  # type: ignore[misc]
            def connection_made(self, transport: asyncio.BaseTransport) -> None:
                if not hasattr(self, "_peer_number"):
                    with peer._lock:
                        peer._count += 1
                        self._peer_number = peer._count
                    peer.transcript.add(self._peer_number, "event", b"connect")
                else:
                    peer.transcript.add(self._peer_number, "event", b"tls")
                super().connection_made(transport)

            def data_received(self, data: bytes) -> None:
                peer.transcript.add(self._peer_number, "recv", data)
                for line in data.decode("utf-8", "replace").splitlines():
                    peer.transcript.add(self._peer_number, "recv-command", line.encode())
                super().data_received(data)

            async def push(self, status: Any) -> None:
                raw = status.encode() if isinstance(status, str) else status
                peer.transcript.add(self._peer_number, "sent", raw + b"\r\n")
                await super().push(status)

        class RecordingController(Controller):  # type: ignore[misc]
            def factory(self) -> Any:
                return RecordingSMTP(self.handler, **self.SMTP_kwargs)

        kwargs: dict[str, Any] = {}
        if tls_context is not None:
            kwargs["tls_context"] = tls_context
        if users:
            kwargs.update(authenticator=authenticator, auth_require_tls=False)
        # aiosmtpd's Controller cannot listen on port 0: pick a free port first
        with socket.socket() as probe:
            probe.bind((address, 0))
            self.port: int = probe.getsockname()[1]
        self._controller = RecordingController(
            Handler(), hostname=address, port=self.port, server_hostname=hostname, **kwargs
        )

    def start(self) -> AiosmtpdPeer:
        """Start the server; the Controller's own readiness connection is forgotten."""
        self._controller.start()
        self.transcript.clear()
        with self._lock:
            self._count = 0
        return self

    def stop(self) -> None:
        """Stop the server (bounded by aiosmtpd)."""
        with contextlib.suppress(Exception):
            self._controller.stop()

    @property
    def connections(self) -> int:
        """Connections accepted since start (the Controller's own probe excluded)."""
        with self._lock:
            return self._count

    def wait_idle(self, timeout: float = 2.0) -> bool:
        """Give the server a moment to process what the client sent (no open-connection count
        is available from aiosmtpd, so this waits until the transcript stops growing)."""
        deadline = time.monotonic() + timeout
        seen = -1
        while time.monotonic() < deadline:
            now = len(self.transcript.lines())
            if now == seen:
                return True
            seen = now
            time.sleep(0.1)
        return False


# ----------------------------------------------------------------------------------------------
# fixtures


class PeerFactory:
    """Creates peers and stops them all at teardown."""

    def __init__(self) -> None:
        self.peers: list[PeerServer | AiosmtpdPeer] = []

    def smtp(self, **kwargs: Any) -> SmtpPeer:
        """Start an :class:`SmtpPeer` (keyword arguments as its constructor)."""
        peer = SmtpPeer(**kwargs)
        peer.start()
        self.peers.append(peer)
        return peer

    def raw(
        self, handler: Handler, address: str = EHLO_ADDRESS, port: int = 0, **kwargs: Any
    ) -> PeerServer:
        """Start a :class:`PeerServer` running ``handler`` per connection."""
        peer = PeerServer(handler, address, port, **kwargs)
        peer.start()
        self.peers.append(peer)
        return peer

    def aiosmtpd(self, **kwargs: Any) -> AiosmtpdPeer:
        """Start an :class:`AiosmtpdPeer` (keyword arguments as its constructor)."""
        peer = AiosmtpdPeer(**kwargs).start()
        self.peers.append(peer)
        return peer

    def close(self) -> None:
        """Stop every peer; raise if a scripted peer's handler crashed (a bug in the peer)."""
        errors: list[str] = []
        for peer in self.peers:
            peer.stop()
            if isinstance(peer, PeerServer) and peer.errors:
                errors.append(f"{peer.name}: {peer.errors!r}")
        self.peers.clear()
        if errors:
            raise RuntimeError("peer handler errors: " + "; ".join(errors))


@pytest.fixture
def peer_factory() -> Iterator[PeerFactory]:
    """``peer_factory.smtp(**SmtpPeer kwargs) -> SmtpPeer`` and
    ``peer_factory.raw(handler, address=..., port=0) -> PeerServer``; all stopped at teardown."""
    factory = PeerFactory()
    try:
        yield factory
    finally:
        factory.close()


@pytest.fixture
def smtp_peer_factory(peer_factory: PeerFactory) -> Callable[..., SmtpPeer]:
    """``smtp_peer_factory(rules=..., address=..., banner=..., ehlo=..., style=..., ...)``: the
    generic configurable SMTP peer (see :class:`SmtpPeer`)."""
    return peer_factory.smtp


# -- ehlo peers (127.0.2.10) -------------------------------------------------------------------


@pytest.fixture
def exchange2000_peer(peer_factory: PeerFactory) -> SmtpPeer:
    """Exchange 2000: the guide's banner, full verb list, Exchange-style replies, AUTH LOGIN."""
    return peer_factory.smtp(
        hostname="mail1.example.com",
        banner=EXCHANGE2000_BANNER,
        ehlo=EXCHANGE2000_EHLO,
        style=EXCHANGE_STYLE,
        auth_users={AUTH_USER: AUTH_PASSWORD},
        auth_mechanisms=("LOGIN",),
        name="exchange2000",
    )


@pytest.fixture
def windows_smtp_peer(peer_factory: PeerFactory) -> SmtpPeer:
    """Exchange 2000 banner and replies but the X- verbs (X-EXPS, X-LINK2STATE, XEXCH50) missing:
    Windows SMTP answering alone."""
    return peer_factory.smtp(
        hostname="mail1.example.com",
        banner=EXCHANGE2000_BANNER,
        ehlo=WINDOWS_SMTP_EHLO,
        style=EXCHANGE_STYLE,
        name="windows-smtp",
    )


@pytest.fixture
def exchange_modern_peer(peer_factory: PeerFactory, server_cert: ServerCert) -> SmtpPeer:
    """Modern Exchange (2010+): X-ANONYMOUSTLS, XRDST, XSHADOW, working STARTTLS (test CA)."""
    return peer_factory.smtp(
        hostname="mail2.example.com",
        banner=EXCHANGE_MODERN_BANNER,
        ehlo=EXCHANGE_MODERN_EHLO,
        style=EXCHANGE_STYLE,
        tls_context=server_cert.server_context(),
        name="exchange-modern",
    )


@pytest.fixture
def auth_peer(peer_factory: PeerFactory) -> SmtpPeer:
    """AUTH LOGIN, PLAIN and CRAM-MD5 without TLS for ``AUTH_USER``/``AUTH_PASSWORD``; see
    ``auth_attempts`` and the transcript for what arrived."""
    return peer_factory.smtp(auth_users={AUTH_USER: AUTH_PASSWORD}, name="auth")


@pytest.fixture
def starttls_peer(peer_factory: PeerFactory, server_cert: ServerCert) -> SmtpPeer:
    """STARTTLS with a certificate from the test CA (trusted via ``test_ca``); AUTH after TLS."""
    return peer_factory.smtp(
        tls_context=server_cert.server_context(),
        ehlo_after_tls=[*POSTFIX_EHLO, "AUTH PLAIN LOGIN"],
        auth_users={AUTH_USER: AUTH_PASSWORD},
        advertise_auth=False,
        name="starttls",
    )


@pytest.fixture
def starttls_untrusted_peer(peer_factory: PeerFactory, self_signed_cert: ServerCert) -> SmtpPeer:
    """STARTTLS with a self-signed certificate nobody trusts."""
    return peer_factory.smtp(tls_context=self_signed_cert.server_context(), name="starttls-bad")


@pytest.fixture
def starttls_wrong_name_peer(peer_factory: PeerFactory, wrong_name_cert: ServerCert) -> SmtpPeer:
    """STARTTLS with a test-CA certificate for another name (wrong-name.test.example)."""
    return peer_factory.smtp(tls_context=wrong_name_cert.server_context(), name="starttls-name")


@pytest.fixture
def multiline_banner_peer(peer_factory: PeerFactory) -> SmtpPeer:
    """A three-line 220 banner, then normal SMTP."""
    return peer_factory.smtp(
        banner=[
            "220-mail.test.example ESMTP ready",
            "220-This server is for tests only",
            "220 mail.test.example go ahead",
        ],
        name="multiline-banner",
    )


@pytest.fixture
def ehlo_refusing_peer(peer_factory: PeerFactory) -> SmtpPeer:
    """500 to EHLO, 250 to HELO (an old or stripped-down server)."""
    return peer_factory.smtp(
        rules={"EHLO": "500 5.5.1 Command unrecognized: EHLO"}, name="ehlo-refusing"
    )


@pytest.fixture
def helo_refusing_peer(peer_factory: PeerFactory) -> SmtpPeer:
    """5xx to both EHLO (500) and HELO (550)."""
    return peer_factory.smtp(
        rules={
            "EHLO": "500 5.5.1 Command unrecognized: EHLO",
            "HELO": "550 5.7.1 Access denied",
        },
        name="helo-refusing",
    )


@pytest.fixture
def tarpit_peer(peer_factory: PeerFactory) -> PeerServer:
    """Accepts the connection, never sends a banner."""
    return peer_factory.raw(tarpit_handler(), name="tarpit")


@pytest.fixture
def garbage_peer_factory(peer_factory: PeerFactory) -> Callable[[str], PeerServer]:
    """``garbage_peer_factory(kind)`` with kind in ``GARBAGE_KINDS`` ("binary", "no-code",
    "long-line")."""

    def make(kind: str, address: str = EHLO_ADDRESS) -> PeerServer:
        return peer_factory.raw(garbage_handler(kind), address, name=f"garbage-{kind}")

    return make


@pytest.fixture(params=GARBAGE_KINDS)
def garbage_peer(request: pytest.FixtureRequest, garbage_peer_factory: Any) -> PeerServer:
    """Parametrised over the three garbage kinds (``request.param`` is the kind)."""
    peer: PeerServer = garbage_peer_factory(request.param)
    return peer


@pytest.fixture
def banner_421_peer(peer_factory: PeerFactory) -> SmtpPeer:
    """Banner ``421 4.3.2 ... Service not available``, then the line closes."""
    return peer_factory.smtp(
        banner="421 4.3.2 mail.test.example Service not available, closing transmission channel",
        name="banner-421",
    )


@pytest.fixture
def banner_554_peer(peer_factory: PeerFactory) -> SmtpPeer:
    """Banner ``554 5.7.1 ... No SMTP service here``; every later command but QUIT gets 503."""
    return peer_factory.smtp(
        banner="554 5.7.1 mail.test.example No SMTP service here",
        rules=lambda cmd: None if cmd.verb == "QUIT" else "503 5.5.1 Error: no SMTP service",
        name="banner-554",
    )


@pytest.fixture
def drop_mid_ehlo_peer(peer_factory: PeerFactory) -> PeerServer:
    """Normal banner; the EHLO reply stops after three ``250-`` lines and the connection closes."""
    return peer_factory.raw(drop_mid_reply_handler(), name="drop-mid-ehlo")


@pytest.fixture
def slow_banner_peer_factory(peer_factory: PeerFactory) -> Callable[[float], SmtpPeer]:
    """``slow_banner_peer_factory(delay)``: the banner comes after ``delay`` seconds."""

    def make(delay: float, address: str = EHLO_ADDRESS) -> SmtpPeer:
        return peer_factory.smtp(address=address, banner_delay=delay, name=f"slow-{delay}")

    return make


# -- relay peers (127.0.3.10) -------------------------------------------------------------------

RELAY_DOMAIN = "relay.test"


@pytest.fixture
def percent_hack_peer(peer_factory: PeerFactory) -> SmtpPeer:
    """Domain relay.test (mail.relay.test): RCPT accepted only as ``user%external@relay.test`` or
    ``user%external@[127.0.3.10]``; every other RCPT gets 554 5.7.1 Relay access denied."""
    return peer_factory.smtp(
        address=RELAY_ADDRESS,
        hostname=f"mail.{RELAY_DOMAIN}",
        rules=percent_hack_rules([RELAY_DOMAIN, f"mail.{RELAY_DOMAIN}", f"[{RELAY_ADDRESS}]"]),
        name="percent-hack",
    )


@pytest.fixture
def exchange_relay_denied_peer(peer_factory: PeerFactory) -> SmtpPeer:
    """Exchange style: ``250 2.1.0 x....Sender OK`` to MAIL, ``550 5.7.1 Unable to relay for x``
    to every RCPT (a closed server)."""
    return peer_factory.smtp(
        address=RELAY_ADDRESS,
        hostname="mail1.example.com",
        banner=EXCHANGE2000_BANNER,
        ehlo=EXCHANGE2000_EHLO,
        style=EXCHANGE_STYLE,
        rules=exchange_relay_denied_rules(["example.com", f"[{RELAY_ADDRESS}]"]),
        name="exchange-relay-denied",
    )


@pytest.fixture
def reject_at_data_peer(peer_factory: PeerFactory) -> SmtpPeer:
    """Accepts every RCPT, answers 550 to DATA (accept at RCPT, refuse later)."""
    return peer_factory.smtp(
        address=RELAY_ADDRESS,
        hostname=f"mail.{RELAY_DOMAIN}",
        rules=reject_at_data_rules(),
        name="reject-at-data",
    )


@pytest.fixture
def drop_after_rejections_peer(peer_factory: PeerFactory) -> SmtpPeer:
    """Rejects every RCPT (554); after three rejections on a connection it drops the line."""
    return peer_factory.smtp(
        address=RELAY_ADDRESS,
        hostname=f"mail.{RELAY_DOMAIN}",
        rules=drop_after_rejections_rules(3),
        name="drop-after-3",
    )


@pytest.fixture
def mid_battery_421_peer_factory(peer_factory: PeerFactory) -> Callable[..., SmtpPeer]:
    """``mid_battery_421_peer_factory(after=5, per_connection=True)``: 421 and close after
    ``after`` commands (RCPTs rejected with 554 before that)."""

    def make(after: int = 5, per_connection: bool = True, address: str = RELAY_ADDRESS) -> SmtpPeer:
        return peer_factory.smtp(
            address=address,
            hostname=f"mail.{RELAY_DOMAIN}",
            rules=mid_battery_421_rules(after, per_connection),
            name=f"421-after-{after}",
        )

    return make


@pytest.fixture
def mid_battery_421_peer(mid_battery_421_peer_factory: Callable[..., SmtpPeer]) -> SmtpPeer:
    """421 and close after five commands on each connection."""
    return mid_battery_421_peer_factory(5)


@pytest.fixture
def aiosmtpd_peer(peer_factory: PeerFactory) -> AiosmtpdPeer:
    """A plain aiosmtpd server on 127.0.2.10 (free port) that accepts everything and keeps the
    envelopes in ``messages``; ``peer_factory.aiosmtpd(ehlo=..., tls_context=..., auth_users=...)``
    for variants."""
    return peer_factory.aiosmtpd()
