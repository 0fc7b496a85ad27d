"""One SMTP conversation on aiosmtplib, recorded as a transcript with per-step timings.

``SmtpSession`` is the building block of ``ehlo``, ``relay-test`` and ``check``. It speaks SMTP
through aiosmtplib (``execute_command`` for verbs aiosmtplib has no method for), and records
every line sent and received with its time since the connection started. Secrets never enter
the transcript: AUTH payloads are recorded as ``********`` at the moment they are sent, and a
``Redactor`` (``mailprobe.smtp.redact``) scrubs any text that leaves the session as a second
line of defence: once credentials were sent, every reply is redacted on its raw text, before it
is normalised, and inside the AUTH exchange by position as well (``Redactor.auth_reply``). The
boundary that keeps secrets out of every output is the CLI's (``redact.run_redactor``).
What a TLS handshake showed is a ``TlsInfo`` (``mailprobe.smtp.tls``).

Replies to MAIL, RCPT, DATA, VRFY and friends are returned as ``Reply`` values whatever their
code, so callers classify them (a relay test must keep a 550 as data, not as an exception).
Steps that leave nothing to continue with (connect refused, silent banner, 421 greeting,
garbage) raise ``mailprobe.errors.ProbeError`` naming the step.

Steps and their names (used in errors and timings): ``DNS``, ``connect``, ``banner``,
``EHLO``, ``HELO``, ``STARTTLS``, ``AUTH``, ``MAIL``, ``RCPT``, ``DATA``, ``RSET``, ``VRFY``,
``EXPN``, ``QUIT``.
"""

from __future__ import annotations

import asyncio
import base64
import collections
import contextlib
import dataclasses
import functools
import hashlib
import hmac
import re
import socket
import ssl
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Literal

from mailprobe.errors import (
    ProbeError,
    ProtocolFailure,
    UsageError,
    translate,
)
from mailprobe.model import Failure, hostport
from mailprobe.smtp.failures import classify, describe
from mailprobe.smtp.redact import REDACTED, Redactor, run_redactor
from mailprobe.smtp.tls import TlsInfo, decode_der_certificate, tls_info_from_cert
from mailprobe.text import clean_line, has_control_chars, peer_line

if TYPE_CHECKING:
    import aiosmtplib

_ENHANCED = re.compile(r"^([245])\.(\d{1,3})\.(\d{1,3})(?=\s|$)")

Side = Literal["client", "server", "note"]
ReplyCategory = Literal["accepted", "intermediate", "deferred", "rejected", "invalid"]


@dataclasses.dataclass(frozen=True)
class Reply:
    """A server reply: code, enhanced status code if any, and its text lines.

    The lines are the server's exact text (aiosmtplib strips only the blanks at either end of
    each line): runs of spaces and control characters are kept, so the transcript and the JSON
    show what was sent. Each line is cut at ``MAX_REPLY_LINE`` characters (``peer_line``, with
    a visible mark). Whoever shows the text makes it safe (``show_controls`` in the terminal and
    the HTML report, ``json_safe`` in JSON); whoever parses it strips or splits it first.
    """

    code: int
    lines: tuple[str, ...]
    enhanced_code: str | None = None

    @property
    def text(self) -> str:
        """All lines joined with spaces, enhanced code included as sent."""
        return " ".join(self.lines)

    @property
    def category(self) -> ReplyCategory:
        """accepted (2xx), intermediate (3xx), deferred (4xx), rejected (5xx), invalid."""
        return reply_category(self.code)

    @classmethod
    def from_message(
        cls, code: int, message: str, redact: Callable[[str], str] | None = None
    ) -> Reply:
        """Build from aiosmtplib's (code, newline-joined message).

        ``redact`` (a session's redactor) runs over the raw text, before the lines are split
        and cut (a secret across the cut would no longer match after), and over the kept lines
        once more.
        """
        if redact is not None:
            message = redact(message)
        lines = tuple(peer_line(line) for line in message.split("\n")) or ("",)
        if redact is not None:
            lines = tuple(redact(line) for line in lines)
        match = _ENHANCED.match(lines[0].strip()) if lines else None
        return cls(code=code, lines=lines, enhanced_code=match.group(0) if match else None)


def reply_category(code: int) -> ReplyCategory:
    """Classify a reply code by its first digit."""
    first = code // 100
    return {2: "accepted", 3: "intermediate", 4: "deferred", 5: "rejected"}.get(first, "invalid")  # type: ignore[return-value]


@dataclasses.dataclass(frozen=True)
class TranscriptLine:
    """One line of the conversation; ``at`` is seconds since the connection attempt began."""

    at: float
    side: Side
    text: str


@dataclasses.dataclass(frozen=True)
class StepTiming:
    """How long one step took and how it ended."""

    step: str
    started_at: float
    seconds: float
    ok: bool


class CertificateRejected(ProtocolFailure):
    """The server's certificate failed verification (the session cannot continue safely)."""

    def __init__(self, failure: Failure, verify_error: str) -> None:
        super().__init__(failure)
        self.verify_error = verify_error


def check_argument(value: str, what: str) -> str:
    """Refuse text that would inject commands into the session (CR, LF, other controls)."""
    if has_control_chars(value):
        raise UsageError(f"{what} contains a control character (CR, LF, ...): refused")
    return value


@functools.lru_cache(maxsize=16)
def _client_context(verify: bool, ca_file: str | None) -> ssl.SSLContext:
    """The TLS client context of sessions (one per process and settings: loading the trust
    store is the costly part of a handshake's set-up, and a batch makes thousands)."""
    context = ssl.create_default_context(cafile=ca_file)
    # The host name is checked by us (to report it), not by the handshake.
    context.check_hostname = False
    if not verify:
        context.verify_mode = ssl.CERT_NONE
    return context


class ConnectionLimits:
    """How mailprobe treats one server address across a run: at most ``per_address``
    connections at once and at most ``per_minute`` new ones in any 60 seconds (None: no rate),
    shared by every session of the run (check's SMTP script and relay battery, a batch), so that
    mailprobe never trips a server's per-client limits by itself.

    ``wait_seconds`` bounds the wait for a free connection. ``throttled`` records, per address
    and port, how many times a server still answered "421 too many connections / try later"
    (waited out by ``SmtpSession.open``); ``paced`` how long connections waited for the rate.
    """

    #: The window of ``per_minute``.
    WINDOW = 60.0
    #: Kept on top of the window: the server times a connection from when it arrives, a
    #: little later than mailprobe asked for it, and a bit later again for each one.
    MARGIN = 0.05

    def __init__(
        self, per_address: int = 4, per_minute: int | None = None, wait_seconds: float = 120.0
    ) -> None:
        self.per_address = max(1, per_address)
        self.per_minute = max(1, per_minute) if per_minute is not None else None
        self.wait_seconds = wait_seconds
        self._slots: dict[tuple[str, int], asyncio.Semaphore] = {}
        self._starts: dict[tuple[str, int], collections.deque[float]] = {}
        self._pacing: dict[tuple[str, int], asyncio.Lock] = {}
        self.throttled: collections.Counter[tuple[str, int]] = collections.Counter()
        self.paced: collections.Counter[tuple[str, int]] = collections.Counter()

    def slot(self, address: str, port: int) -> asyncio.Semaphore:
        """The semaphore of one address and port."""
        key = (address, port)
        if key not in self._slots:
            self._slots[key] = asyncio.Semaphore(self.per_address)
        return self._slots[key]

    def rate_delay(self, address: str, port: int, now: float) -> float:
        """Seconds before a new connection to ``address`` keeps within ``per_minute``."""
        starts = self._starts.get((address, port))
        if self.per_minute is None or starts is None:
            return 0.0
        window = self.WINDOW * (1 + self.MARGIN)
        while starts and now - starts[0] >= window:
            starts.popleft()
        if len(starts) < self.per_minute:
            return 0.0
        return starts[0] + window - now

    async def pace(self, address: str, port: int) -> float:
        """Wait until a new connection to ``address`` is within the rate and count it; returns
        the seconds waited. Connections are let through in the order they asked."""
        key = (address, port)
        if self.per_minute is None:
            return 0.0
        lock = self._pacing.setdefault(key, asyncio.Lock())
        waited = 0.0
        async with lock:
            while (delay := self.rate_delay(address, port, time.monotonic())) > 0:
                await asyncio.sleep(delay)
                waited += delay
            self._starts.setdefault(key, collections.deque()).append(time.monotonic())
        if waited:
            self.paced[key] += 1
        return waited


class SmtpSession:
    """One recorded SMTP conversation with one server address.

    Use as ``async with SmtpSession(...) as s: banner = await s.open()``; every method that
    talks to the server records the lines and a timing. ``host`` is the name the user gave
    (used for TLS name checks and messages); ``address`` is what to connect to (defaults to
    resolving ``host``).
    """

    def __init__(
        self,
        host: str,
        port: int = 25,
        *,
        address: str | None = None,
        helo_name: str = "localhost",
        timeout: float = 10.0,
        implicit_tls: bool = False,
        tls_verify: bool = True,
        ca_file: str | None = None,
        tls_server_name: str | None = None,
        redactor: Redactor | None = None,
        limits: ConnectionLimits | None = None,
        greeting_retries: int = 2,
        tls_context: ssl.SSLContext | None = None,
    ) -> None:
        self.host = host
        #: A TLS context of the caller's (e.g. offering chosen suites) instead of mailprobe's.
        self.tls_context = tls_context
        self.limits = limits
        self.greeting_retries = greeting_retries
        #: Whether a 421 "come back later" greeting had to be waited out.
        self.throttled = False
        #: Bytes the server sent while no command waited for a reply (see ``out_of_step``).
        self.stray_bytes = 0
        #: Lines received since the last command was sent (tells many lines from one long one).
        self._reply_lines = 0
        self._desynced = ""
        self._slot: asyncio.Semaphore | None = None
        self.port = port
        self.address = address
        self.helo_name = check_argument(helo_name, "HELO name")
        self.timeout = timeout
        self.implicit_tls = implicit_tls
        self.tls_verify = tls_verify
        self.ca_file = ca_file
        self.tls_server_name = tls_server_name or host
        self.redact = redactor or Redactor()
        #: Credentials were sent on this connection: the server's replies may echo them.
        self._secret_sent = False
        #: Inside an AUTH exchange, after a line carrying credentials: replies are redacted by
        #: position too (``Redactor.auth_reply``).
        self._in_auth = False
        self.transcript: list[TranscriptLine] = []
        self.timings: list[StepTiming] = []
        self.tls: TlsInfo | None = None
        self.banner: Reply | None = None
        self.ehlo_reply: Reply | None = None
        self.used_helo = False
        self.closed_by_server = False
        self._t0 = time.monotonic()
        self._smtp: aiosmtplib.SMTP | None = None

    # -- recording -------------------------------------------------------------------------

    def _now(self) -> float:
        return round(time.monotonic() - self._t0, 4)

    def note(self, text: str) -> None:
        """Add a remark of mailprobe's own to the transcript."""
        self.transcript.append(TranscriptLine(self._now(), "note", self.redact(text)))

    def _client(self, text: str) -> None:
        self.transcript.append(TranscriptLine(self._now(), "client", self.redact(text)))

    def _server(self, reply: Reply) -> None:
        last = len(reply.lines) - 1
        for index, line in enumerate(reply.lines):
            sep = " " if index == last else "-"
            code = f"{reply.code:03d}" if reply.code >= 0 else "???"
            self.transcript.append(
                TranscriptLine(self._now(), "server", self._scrub(f"{code}{sep}{line}"))
            )

    def _scrub(self, text: str) -> str:
        """Server text (or a failure built from it) with the session's secrets redacted: by
        position too inside an AUTH exchange."""
        return self.redact.auth_reply(text) if self._in_auth else self.redact(text)

    def _reply(self, code: int, message: str) -> Reply:
        """A reply; once credentials were sent, redacted before its text is normalised.

        Before that the server cannot echo a secret, and its replies are kept exactly as sent
        (a password that happens to be "TLS" must not hide STARTTLS from the session).
        """
        return Reply.from_message(code, message, self._scrub if self._secret_sent else None)

    def _timing(self, step: str, started: float, ok: bool) -> None:
        self.timings.append(StepTiming(step, started, round(self._now() - started, 4), ok))

    def _fail(self, exc: BaseException, step: str) -> ProbeError:
        """The engine's one translation of an exception: a classified, worded failure."""
        if self._secret_sent:
            _scrub_exception(exc, self._scrub)  # the raw text, before translate normalises it
        error = translate(exc, step, self.address or self.host, self.port, self.timeout)
        kind = error.failure.kind or classify(exc, step)
        message = error.failure.message
        if kind == "not-smtp" and "overlong" in message and self._reply_lines > _MANY_LINES:
            # aiosmtplib says "too long" for a reply of many short lines as for one long line
            message = (
                f"the server sent more than {self._reply_lines} lines in one reply (over "
                "32 kB): this is not SMTP"
            )
        return self._raise_kind(type(error), step, kind, message)

    def _raise_kind(self, cls: type[ProbeError], step: str, kind: str, detail: str) -> ProbeError:
        failure = self._failure(step, describe(kind, self._scrub(detail), self.timeout), kind)
        self.note(f"{step} failed: {failure.message}")
        return cls(failure)

    @property
    def connected(self) -> bool:
        """Whether the connection is still open."""
        return self._smtp is not None and self._smtp.is_connected

    # -- connection --------------------------------------------------------------------------

    async def __aenter__(self) -> SmtpSession:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self.close()

    async def _resolve(self) -> list[tuple[int, str]]:
        literal = self.address or _ip_literal(self.host)
        if literal is not None:
            self.address = literal
            family = socket.AF_INET6 if ":" in literal else socket.AF_INET
            return [(family, literal)]
        started = self._now()
        loop = asyncio.get_running_loop()
        try:
            infos = await asyncio.wait_for(
                loop.getaddrinfo(self.host, self.port, type=socket.SOCK_STREAM), self.timeout
            )
        except (OSError, TimeoutError) as exc:
            self._timing("DNS", started, False)
            error = translate(exc, "DNS", self.host, None, self.timeout)
            failure = dataclasses.replace(
                error.failure,
                kind="no-address",
                message=describe("no-address", error.failure.message),
            )
            raise type(error)(failure) from None
        self._timing("DNS", started, True)
        seen: list[tuple[int, str]] = []
        for family, _type, _proto, _name, sockaddr in infos:
            entry = (int(family), str(sockaddr[0]))
            if entry not in seen:
                seen.append(entry)
        return seen

    async def open(self) -> Reply:
        """Resolve, connect, (TLS on 465) and read the banner; 421/554 greetings raise.

        A 421 greeting that asks to come back later (too many connections, a rate limit) is
        retried after a pause, ``greeting_retries`` times, before it is reported: a server's
        per-client limit is a reason to wait, never a diagnosis of its own.
        """
        from mailprobe.smtp.failures import is_throttling

        for attempt in range(self.greeting_retries + 1):
            try:
                return await self._open_once()
            except ProtocolFailure as exc:
                if attempt == self.greeting_retries or not is_throttling(exc.failure):
                    raise
                pause = min(float(2**attempt), self.timeout)
                self.throttled = True
                if self.limits is not None and self.address is not None:
                    self.limits.throttled[(self.address, self.port)] += 1
                self.note(f"throttled by the server: trying again in {pause:g} s")
                await asyncio.sleep(pause)
        raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises

    async def _open_once(self) -> Reply:
        import aiosmtplib

        self._t0 = time.monotonic()
        candidates = await self._resolve()
        sock: socket.socket | None = None
        last_error: BaseException | None = None
        started = self._now()
        loop = asyncio.get_running_loop()
        for family, addr in candidates:
            await self._take_slot(addr)
            self.note(f"connecting to {hostport(addr, self.port)}")
            candidate = socket.socket(family, socket.SOCK_STREAM)
            candidate.setblocking(False)
            try:
                await asyncio.wait_for(
                    loop.sock_connect(candidate, (addr, self.port)), self.timeout
                )
            except (OSError, TimeoutError) as exc:
                candidate.close()
                self._give_slot()
                last_error = exc
                self.address = addr
                continue
            sock = candidate
            self.address = addr
            break
        if sock is None:
            self._timing("connect", started, False)
            assert last_error is not None
            raise self._fail(last_error, "connect")
        self._timing("connect", started, True)

        context = self._tls_context(self.tls_verify) if self.implicit_tls else None
        self._smtp = aiosmtplib.SMTP(
            sock=sock,
            timeout=self.timeout,
            start_tls=False,
            use_tls=self.implicit_tls,
            tls_context=context,
            hostname=self.tls_server_name if self.implicit_tls else None,
            local_hostname=self.helo_name,
        )
        started = self._now()
        step = "TLS handshake and banner" if self.implicit_tls else "banner"
        try:
            response = await self._smtp.connect(timeout=self.timeout)
        except aiosmtplib.SMTPConnectResponseError as exc:
            reply = self._reply(exc.code, exc.message)
            self.banner = reply
            self._server(reply)
            self._timing("banner", started, False)
            self.close()
            kind = "greeting-deferred" if reply.code == 421 else "greeting-refused"
            raise self._raise_kind(
                ProtocolFailure, "banner", kind, f"{reply.code} {reply.text}"
            ) from None
        except Exception as exc:
            self._timing(step, started, False)
            self.close()
            if self.implicit_tls and _is_cert_error(exc):
                raise self._cert_failure(exc) from None
            raise self._fail(exc, step) from None
        self._timing("banner", started, True)
        self._watch_stray_bytes()
        self.banner = self._reply(response.code, response.message)
        self._server(self.banner)
        if self.implicit_tls:
            self.tls = self._tls_info()
        return self.banner

    def close(self) -> None:
        """Drop the connection at once, TLS included (no close_notify); safe to call twice.

        A graceful TLS close would finish on later loop iterations, and a caller about to
        leave its event loop (``asyncio.run``) would leak the socket; after QUIT (or a failure)
        there is nothing left to say, so every session is aborted rather than closed.
        """
        if self._smtp is not None:
            transport = self._smtp.transport
            if isinstance(transport, asyncio.Transport):
                transport.abort()
            self._smtp.close()
        self._give_slot()

    async def _take_slot(self, address: str) -> None:
        """Wait for a free connection to ``address`` under the run's ``limits``."""
        if self.limits is None:
            return
        slot = self.limits.slot(address, self.port)
        wait = self.limits.wait_seconds
        try:
            await asyncio.wait_for(slot.acquire(), wait)
        except TimeoutError:
            raise ProbeError(
                self._failure(
                    "connect",
                    f"no free connection to this address within {wait:g} s "
                    f"(mailprobe keeps at most {self.limits.per_address} at once)",
                )
            ) from None
        self._slot = slot
        try:
            waited = await asyncio.wait_for(self.limits.pace(address, self.port), wait)
        except TimeoutError:
            self._give_slot()
            raise ProbeError(
                self._failure(
                    "connect",
                    f"no new connection to this address allowed within {wait:g} s "
                    f"(mailprobe opens at most {self.limits.per_minute} a minute)",
                )
            ) from None
        if waited:
            self.note(f"mailprobe: waited {waited:.1f} s to keep within the connection rate")

    def _give_slot(self) -> None:
        if self._slot is not None:
            self._slot.release()
            self._slot = None

    def abort(self) -> None:
        """The same as ``close`` (kept for callers that say what they mean)."""
        self.close()

    # -- commands ----------------------------------------------------------------------------

    async def command(
        self,
        *words: str,
        step: str | None = None,
        display: str | None = None,
        secret: bool = False,
    ) -> Reply:
        """Send one raw command line and return the reply, whatever its code.

        ``display`` replaces the line in the transcript (for secrets). ``secret`` marks a line
        of an AUTH exchange that carries credentials: the server's replies from then on are
        redacted before they are normalised, and by position until the exchange ends. Raises
        ``ProbeError`` when the connection drops or the reply is not SMTP.
        """
        import aiosmtplib

        line = " ".join(words)
        check_argument(line, "command")
        step = step or (words[0].upper() if words else "command")
        if self._smtp is None or not self._smtp.is_connected:
            raise self._fail(aiosmtplib.SMTPServerDisconnected("not connected"), step)
        waiting = self.out_of_step()
        if waiting:
            raise self._desync(step, waiting)
        self._client(display if display is not None else line)
        self._reply_lines = 0
        if secret:
            self._secret_sent = self._in_auth = True
        started = self._now()
        try:
            response = await self._smtp.execute_command(line.encode("utf-8"))
        except Exception as exc:
            self._timing(step, started, False)
            if isinstance(exc, aiosmtplib.SMTPServerDisconnected):
                self.closed_by_server = True
            raise self._fail(exc, step) from None
        reply = self._reply(response.code, response.message)
        self._server(reply)
        self._timing(step, started, reply.code < 400)
        if not 200 <= reply.code <= 599:
            # "2", "25 ok": aiosmtplib reads a number, but SMTP replies have three digits
            raise self._raise_kind(
                ProtocolFailure,
                step,
                "not-smtp",
                f"the server's answer is not SMTP (a reply without a three-digit code: "
                f"{reply.code} {reply.text})",
            )
        if _impossible_reply(words[0].upper() if words else "", step, reply.code):
            raise self._desync(step, f"{reply.code} is no reply to {step}")
        if reply.code == 421:
            self.closed_by_server = True
            self.close()
        return reply

    # -- replies out of step ----------------------------------------------------------------

    def _watch_stray_bytes(self) -> None:
        """Count bytes the server sends while no command waits for a reply.

        aiosmtplib drops such bytes (so they cannot pair with a later command), and keeps
        the rest of a segment that held more than one reply in its buffer: both mean the
        server is out of step (a second greeting, an unsolicited or late reply), and a reply
        read after that may answer another command.
        """
        assert self._smtp is not None
        protocol = self._smtp.protocol
        if protocol is None:
            return
        original = protocol.data_received

        def watched(data: bytes) -> None:
            waiter = getattr(protocol, "_response_waiter", None)
            pending = getattr(protocol, "_response_pending", True)
            if waiter is not None and (not pending or waiter.done()):
                self.stray_bytes += len(data)
            self._reply_lines += data.count(b"\n")
            original(data)

        protocol.data_received = watched  # type: ignore[method-assign]

    def out_of_step(self) -> str:
        """Why the session's replies cannot be trusted any more ("" while they can)."""
        if self._desynced:
            return self._desynced
        protocol = self._smtp.protocol if self._smtp is not None else None
        buffered = len(getattr(protocol, "_buffer", b"") or b"")
        if self.stray_bytes or buffered:
            return (
                f"the server sent {self.stray_bytes + buffered} bytes no command asked for "
                "(a second greeting, an unsolicited or a late reply)"
            )
        return ""

    def _desync(self, step: str, why: str) -> ProbeError:
        self._desynced = why
        self.close()
        return self._raise_kind(ProtocolFailure, step, "desync", why)

    async def hello(self) -> Reply:
        """EHLO, falling back to HELO when EHLO is refused; raises if both are refused."""
        reply = await self.command("EHLO", self.helo_name, step="EHLO")
        if reply.code == 250:
            self._remember_ehlo(reply)
            return reply
        if reply.code == 421 or not self.connected:
            kind = "service-closing" if reply.code == 421 else "dropped"
            raise self._raise_kind(ProtocolFailure, "EHLO", kind, f"{reply.code} {reply.text}")
        self.note("EHLO refused; falling back to HELO")
        helo = await self.command("HELO", self.helo_name, step="HELO")
        if helo.code != 250:
            raise self._raise_kind(
                ProtocolFailure,
                "HELO",
                "service-closing" if helo.code == 421 else "hello-refused",
                f"EHLO ({reply.code} {reply.text}), HELO ({helo.code} {helo.text})",
            )
        self.used_helo = True
        self.ehlo_reply = helo
        return helo

    def _remember_ehlo(self, reply: Reply) -> None:
        from aiosmtplib.response import SMTPResponse

        self.ehlo_reply = reply
        assert self._smtp is not None
        # Let aiosmtplib parse the extensions too, so its STARTTLS method accepts the upgrade.
        self._smtp.last_ehlo_response = SMTPResponse(reply.code, "\n".join(reply.lines))

    def supports(self, keyword: str) -> bool:
        """Whether the last EHLO reply advertised ``keyword`` (case-insensitive)."""
        if self.ehlo_reply is None or self.used_helo:
            return False
        wanted = keyword.upper()
        for line in self.ehlo_reply.lines[1:]:
            word = re.split(r"[\s=]", line.strip(), maxsplit=1)[0].upper()
            if word == wanted:
                return True
        return False

    async def starttls(self, verify: bool | None = None) -> TlsInfo:
        """Upgrade with STARTTLS and EHLO again; returns what the handshake showed.

        With verification on, a bad certificate raises ``CertificateRejected``; with it off
        the handshake goes through and ``TlsInfo.verified`` is False with the reason.
        """
        import aiosmtplib

        verify = self.tls_verify if verify is None else verify
        assert self._smtp is not None
        self._client("STARTTLS")
        started = self._now()
        try:
            # One limit for the whole step: aiosmtplib times the reply and the handshake
            # apart, which let a STARTTLS step run twice the time it was given.
            async with asyncio.timeout(self.timeout):
                response = await self._smtp.starttls(
                    server_hostname=self.tls_server_name,
                    tls_context=self._tls_context(verify),
                    timeout=self.timeout,
                )
        except aiosmtplib.SMTPResponseException as exc:
            reply = self._reply(exc.code, exc.message)
            self._server(reply)
            self._timing("STARTTLS", started, False)
            kind = "service-closing" if reply.code == 421 else "starttls-refused"
            raise self._raise_kind(
                ProtocolFailure, "STARTTLS", kind, f"{reply.code} {reply.text}"
            ) from None
        except Exception as exc:
            self._timing("STARTTLS", started, False)
            self.close()
            if _is_cert_error(exc):
                raise self._cert_failure(exc) from None
            raise self._fail(exc, "STARTTLS") from None
        self._server(self._reply(response.code, response.message))
        self._timing("STARTTLS", started, True)
        self.note("TLS established")
        self.tls = self._tls_info(verified=verify)
        await self.hello()
        return self.tls

    def _failure(self, step: str, message: str, kind: str = "") -> Failure:
        return Failure(step, message, self.address or self.host, self.port, self.timeout, kind)

    def _cert_failure(self, exc: BaseException) -> CertificateRejected:
        reason = _cert_error_text(exc)
        self.note(f"certificate rejected: {reason}")
        kind = "certificate-untrusted"
        return CertificateRejected(self._failure("STARTTLS", describe(kind, reason), kind), reason)

    def _tls_context(self, verify: bool) -> ssl.SSLContext:
        if self.tls_context is not None:
            return self.tls_context
        return _client_context(verify, self.ca_file)

    def _tls_info(self, verified: bool = True) -> TlsInfo:
        assert self._smtp is not None
        ssl_object = self._smtp.get_transport_info("ssl_object")
        if not isinstance(ssl_object, ssl.SSLObject | ssl.SSLSocket):
            return TlsInfo(None, None, None, None, (), None, None, False, "no TLS", None, None)
        cipher = ssl_object.cipher()
        decoded: dict[str, object] | None = None
        if verified:
            decoded = dict(ssl_object.getpeercert() or {})
        if not decoded:
            der = ssl_object.getpeercert(binary_form=True)
            decoded = decode_der_certificate(der) if der else None
        return tls_info_from_cert(
            decoded or {},
            version=ssl_object.version(),
            cipher=cipher[0] if cipher else None,
            verified=verified,
            checked_name=self.tls_server_name,
        )

    def peer_certificate(self) -> bytes | None:
        """The DER form of the certificate the server presented (None without TLS).

        Used by ``check`` to compare the certificate with DANE TLSA records.
        """
        if self._smtp is None or not self._smtp.is_connected:
            return None
        ssl_object = self._smtp.get_transport_info("ssl_object")
        if not isinstance(ssl_object, ssl.SSLObject | ssl.SSLSocket):
            return None
        der = ssl_object.getpeercert(binary_form=True)
        return der or None

    async def auth(self, mechanism: str, user: str, password: str) -> Reply:
        """AUTH LOGIN / PLAIN / CRAM-MD5; the password and its encodings never reach the
        transcript. Returns the final reply (235 on success).

        An exchange that ends on 334 (the server asks for more than the mechanism has to
        say) is cancelled with ``*`` (RFC 4954) before anything else is sent: otherwise the
        next command would be read as a credential.
        """
        try:
            reply = await self._auth_exchange(mechanism, user, password)
            if reply.code == 334 and self.connected:
                reply = await self.command("*", step="AUTH")
            return reply
        finally:
            self._in_auth = False

    async def _auth_exchange(self, mechanism: str, user: str, password: str) -> Reply:
        mechanism = mechanism.upper()
        check_argument(user, "user name")
        self.redact.add_credentials(user, password)
        plain_blob = base64.b64encode(f"\0{user}\0{password}".encode()).decode("ascii")
        if mechanism == "LOGIN":
            reply = await self.command("AUTH", "LOGIN", step="AUTH")
            if reply.code != 334:
                return reply
            reply = await self.command(_b64(user), step="AUTH", secret=True)
            if reply.code != 334:
                return reply
            return await self.command(_b64(password), step="AUTH", display=REDACTED, secret=True)
        if mechanism == "PLAIN":
            return await self.command(
                "AUTH",
                "PLAIN",
                plain_blob,
                step="AUTH",
                display=f"AUTH PLAIN {REDACTED}",
                secret=True,
            )
        if mechanism == "CRAM-MD5":
            reply = await self.command("AUTH", "CRAM-MD5", step="AUTH")
            if reply.code != 334:
                return reply
            try:
                challenge = base64.b64decode(reply.lines[0].strip(), validate=True)
            except ValueError:
                challenge = b""
            digest = hmac.new(password.encode(), challenge, hashlib.md5).hexdigest()
            answer = _b64(f"{user} {digest}")
            derived = (answer, answer.rstrip("="), digest)
            self.redact.add(*derived)
            run_redactor().add(*derived)  # derived here: the run's outputs learn it too
            return await self.command(answer, step="AUTH", display=REDACTED, secret=True)
        raise UsageError(f"AUTH mechanism {mechanism} is not supported (LOGIN, PLAIN, CRAM-MD5)")

    async def mail(self, sender: str, *params: str) -> Reply:
        """MAIL FROM:<sender>; ``sender`` may be empty for the null sender."""
        check_argument(sender, "sender")
        return await self.command(f"MAIL FROM:<{sender}>", *params, step="MAIL")

    async def rcpt(self, recipient: str) -> Reply:
        """RCPT TO:<recipient>; the reply decides (never raises on 4xx/5xx)."""
        check_argument(recipient, "recipient")
        return await self.command(f"RCPT TO:<{recipient}>", step="RCPT")

    async def rset(self) -> Reply:
        """RSET."""
        return await self.command("RSET", step="RSET")

    async def vrfy(self, who: str) -> Reply:
        """VRFY who."""
        return await self.command("VRFY", check_argument(who, "VRFY argument"), step="VRFY")

    async def expn(self, who: str) -> Reply:
        """EXPN who."""
        return await self.command("EXPN", check_argument(who, "EXPN argument"), step="EXPN")

    async def data(self, message: bytes) -> Reply:
        """DATA, the message (dot-stuffed by aiosmtplib), and the final reply."""
        import aiosmtplib

        assert self._smtp is not None
        self._client("DATA")
        started = self._now()
        try:
            response = await self._smtp.data(message)
        except aiosmtplib.SMTPDataError as exc:
            reply = self._reply(exc.code, exc.message)
            self._server(reply)
            self._timing("DATA", started, False)
            return reply
        except Exception as exc:
            self._timing("DATA", started, False)
            raise self._fail(exc, "DATA") from None
        self.note(f"(354 received; sent a message of {len(message)} bytes and '.')")
        reply = self._reply(response.code, response.message)
        self._server(reply)
        self._timing("DATA", started, True)
        return reply

    async def quit(self) -> None:
        """QUIT politely; errors at this point are only noted."""
        if not self.connected:
            return
        try:
            await self.command("QUIT", step="QUIT")
        except ProbeError:
            pass
        finally:
            self.close()


#: A reply of more lines than this that overflows aiosmtplib's buffer is "too many lines".
_MANY_LINES = 100


def _impossible_reply(verb: str, step: str, code: int) -> bool:
    """A reply code that cannot answer the command sent: the replies are out of step."""
    if step in ("AUTH", "DATA") or verb in ("AUTH", "DATA"):
        return False  # 334 and 354 belong to these; their continuations reuse the step
    if code == 220:
        return verb != "STARTTLS"
    if code == 221:
        return verb != "QUIT"
    if verb in ("RSET", "QUIT") and code != 421:
        # RFC 5321: RSET is always 250 and QUIT 221; anything else answers another command
        return code != (250 if verb == "RSET" else 221)
    return 300 <= code < 400 or code == 235


def _scrub_exception(exc: BaseException, scrub: Callable[[str], str]) -> None:
    """Redact the text an exception carries (aiosmtplib's ``message`` and the arguments), so
    that what ``translate`` words from it holds no secret even before it is normalised."""
    message = getattr(exc, "message", None)
    if isinstance(message, str):
        with contextlib.suppress(AttributeError):  # a read-only attribute: args still are
            exc.message = scrub(message)  # type: ignore[attr-defined]
    exc.args = tuple(scrub(arg) if isinstance(arg, str) else arg for arg in exc.args)


def _ip_literal(host: str) -> str | None:
    import ipaddress

    try:
        return str(ipaddress.ip_address(host.strip("[]")))
    except ValueError:
        return None


def _b64(text: str) -> str:
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


def _is_cert_error(exc: BaseException) -> bool:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ssl.SSLCertVerificationError | ssl.CertificateError):
            return True
        current = current.__cause__ or current.__context__
    return False


def _cert_error_text(exc: BaseException) -> str:
    current: BaseException | None = exc
    while current is not None:
        if isinstance(current, ssl.SSLCertVerificationError):
            return clean_line(current.verify_message or str(current), 200)
        current = current.__cause__ or current.__context__
    return clean_line(str(exc), 200)
