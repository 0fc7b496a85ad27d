"""The engine: the relay variants run over a few concurrent SMTP sessions.

Each variant is MAIL FROM then RCPT TO followed by RSET on an ``SmtpSession``; only the RCPT
reply decides. ``_Battery`` holds the work queue (relay variants, probes, the VRFY/EXPN item,
the authenticated relay check), the results and the counters; each ``worker`` takes items from
the queue on its own session, ``run_auth`` runs the authenticated relay check on a session of
its own (STARTTLS, AUTH) and ``send`` sends one real message for ``--send``, only to the user's
own address.

Why several connections: Postfix and others slow down a client after a number of rejected
commands (``smtpd_error_sleep_time`` after ``smtpd_soft_error_limit``) and drop it at a hard
limit. Spreading the variants over ``connections`` sessions, and opening a fresh session before
one has collected ``per_connection`` errors, keeps every session below those limits. A server
that drops sessions earlier teaches the battery a smaller budget; 421 replies end a session and
the variant is retried later on a new one, a bounded number of times.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import functools
import re
from typing import Literal

from mailprobe.checks.relay.model import (
    AuthOutcome,
    AuthRelayResult,
    EnumerationResult,
    Outcome,
    RelayOptions,
    SendOutcome,
    SendResult,
    VariantResult,
)
from mailprobe.checks.relay.variants import BatteryNames, Variant
from mailprobe.checks.relay.verdict import DESYNC_NOTE, classify, enumeration_from
from mailprobe.errors import ProbeError
from mailprobe.model import Failure
from mailprobe.smtp.session import Reply, SmtpSession

#: Sessions out of step before the battery stops: a server that does it every time cannot be
#: judged, and more sessions would only repeat that.
_DESYNC_LIMIT = 3
#: AUTH mechanisms the authenticated relay check can use, in order of preference.
AUTH_MECHANISMS: tuple[str, ...] = ("PLAIN", "LOGIN", "CRAM-MD5")


class _Dropped(Exception):
    """The server ended the session (421 or disconnect) during an item."""

    def __init__(self, why: str, said_421: bool, before_item: bool = False) -> None:
        super().__init__(why)
        self.why = why
        self.said_421 = said_421
        #: True when the session ended at the RSET before the item: the item never started.
        self.before_item = before_item


@dataclasses.dataclass
class _Item:
    kind: Literal["variant", "enumeration", "auth"]
    variant: Variant | None = None
    attempts: int = 0

    @property
    def label(self) -> str:
        return self.variant.name if self.variant else self.kind


@dataclasses.dataclass
class _Conn:
    label: str
    session: SmtpSession
    errors: int = 0
    dirty: bool = False
    items: list[str] = dataclasses.field(default_factory=list)


class _Battery:
    """Shared state of one battery run: the work queue, the results, the counters."""

    def __init__(self, host: str, options: RelayOptions, address: str | None) -> None:
        self.host = host
        self.options = options
        self.address = address
        self.queue: collections.deque[_Item] = collections.deque()
        self.results: dict[str, VariantResult] = {}
        self.enumeration: EnumerationResult | None = None
        self.authenticated: AuthRelayResult | None = None
        self.conns: list[_Conn] = []
        self.reconnects = 0
        self.budget = max(1, options.per_connection)
        self.stop_reason: str | None = None
        self.last_drop: str | None = None
        self.names: BatteryNames | None = None
        self.active = max(1, options.connections)
        #: Sessions whose replies fell out of step (their answers were discarded).
        self.desynced = 0
        #: Every item that ran, by label (to run again what a desynced session answered).
        self.items: dict[str, _Item] = {}
        self.enumeration_conn: str | None = None

    # -- connections --

    def new_session(self, label: str) -> _Conn:
        opts = self.options
        session = SmtpSession(
            self.host,
            opts.port,
            address=self.address,
            helo_name=opts.helo,
            timeout=opts.timeout,
            tls_verify=opts.tls_verify,
            ca_file=opts.ca_file,
            limits=opts.limits,
        )
        conn = _Conn(label=label, session=session)
        self.conns.append(conn)
        return conn

    async def connect(self, *, starttls: bool | None = None, label: str | None = None) -> _Conn:
        """Open, greet and (optionally) STARTTLS; raises ProbeError."""
        conn = self.new_session(label or f"connection {len(self.conns) + 1}")
        session = conn.session
        try:
            await session.open()
            await session.hello()
            want_tls = self.options.starttls if starttls is None else starttls
            if want_tls and session.supports("STARTTLS"):
                await session.starttls(verify=self.options.tls_verify)
        except ProbeError:
            session.close()
            raise
        if self.address is None:
            self.address = session.address
        return conn

    async def finish(self, conn: _Conn | None) -> None:
        if conn is not None:
            why = conn.session.out_of_step() if conn.session.connected else ""
            if why:
                self.discard(conn, None, why)
                return
            await conn.session.quit()
            why = conn.session.out_of_step()  # the reply to QUIT may show it too
            if why:
                self.discard(conn, None, why)

    def discard(self, conn: _Conn, item: _Item | None, why: str) -> None:
        """The session fell out of step: every answer it gave may belong to another command,
        so its results are dropped and its items run again on other sessions (bounded)."""
        self.desynced += 1
        conn.session.note(f"mailprobe: {DESYNC_NOTE} ({why}); this session's answers discarded")
        conn.session.close()
        redo = [item] if item is not None else []
        for name, result in list(self.results.items()):
            if result.connection == conn.label:
                del self.results[name]
                redo.append(self.items[name])
        if self.enumeration_conn == conn.label:
            self.enumeration, self.enumeration_conn = None, None
            redo.append(self.items["enumeration"])
        for again in redo:
            again.attempts += 1
            if again.attempts < self.options.max_attempts:
                self.queue.append(again)
            elif again.variant is not None:
                self.results[again.variant.name] = _result(
                    again.variant,
                    "error",
                    attempts=again.attempts,
                    connection=conn.label,
                    note=f"{DESYNC_NOTE}: {why}",
                )
        if self.desynced >= _DESYNC_LIMIT:
            self.stop(f"the server's replies fell out of step in {self.desynced} sessions")

    # -- the work loop --

    async def worker(self, conn: _Conn | None) -> None:
        """Take items from the queue until it is empty or the battery stops (a session found
        out of step at the end puts its items back: then this worker goes on)."""
        while True:
            conn, gave_up = await self._work(conn)
            await self.finish(conn)
            conn = None
            if gave_up or not self.queue or self.stop_reason is not None:
                break
        self.active -= 1

    async def _work(self, conn: _Conn | None) -> tuple[_Conn | None, bool]:
        """Run queued items on ``conn`` (new sessions as needed); True when this worker gave
        up opening sessions."""
        failures_in_a_row = 0
        while self.queue and self.stop_reason is None:
            item = self.queue.popleft()
            if item.kind == "auth":
                await self.finish(conn)
                conn = None
                await self.run_auth()
                continue
            if conn is not None and not conn.session.connected:
                # The server closed the session between our commands.
                self.dropped(conn, "the server closed the session")
                conn = None
            if conn is not None and conn.errors >= self.budget:
                await self.finish(conn)
                conn = None
            if conn is None:
                try:
                    conn = await self.connect()
                except ProbeError as exc:
                    self.queue.appendleft(item)
                    failures_in_a_row += 1
                    self.last_drop = _why(exc.failure)
                    if failures_in_a_row >= self.options.max_attempts:
                        # This worker gives up; the battery stops only when none is left.
                        if self.active == 1:
                            self.stop(f"could not open a new session: {_why(exc.failure)}")
                        return None, True
                    await asyncio.sleep(self.options.retry_delay)
                    continue
                failures_in_a_row = 0
            conn.items.append(item.label)
            self.items[item.label] = item
            try:
                await self.run_item(conn, item)
            except ProbeError as exc:
                if exc.failure.kind == "desync":
                    self.discard(conn, item, exc.failure.message)
                else:
                    conn.session.close()
                    self.retry(item, _why(exc.failure))
                    self.dropped(conn, _why(exc.failure))
                conn = None
            except _Dropped as exc:
                conn.session.close()
                if exc.before_item:
                    self.queue.appendleft(item)
                else:
                    self.retry(item, exc.why)
                self.dropped(conn, exc.why)
                conn = None
                if exc.said_421:
                    await asyncio.sleep(self.options.retry_delay)
        return conn, False

    def dropped(self, conn: _Conn, why: str) -> None:
        """A session ended by the server: count it, learn a smaller error budget."""
        self.reconnects += 1
        self.last_drop = why
        conn.session.note(f"mailprobe: session lost ({why}); continuing on a new connection")
        if conn.errors >= 1:
            self.budget = max(1, min(self.budget, conn.errors))
        if self.reconnects > self.options.max_reconnects:
            self.stop(f"the server ended {self.reconnects} sessions early ({why})")

    def retry(self, item: _Item, why: str) -> None:
        item.attempts += 1
        if item.attempts < self.options.max_attempts:
            self.queue.append(item)
            return
        if item.variant is not None:
            self.results[item.variant.name] = _result(
                item.variant, "error", attempts=item.attempts, note=f"gave up: {why}"
            )

    def stop(self, reason: str) -> None:
        if self.stop_reason is None:
            self.stop_reason = reason

    async def run_item(self, conn: _Conn, item: _Item) -> None:
        session = conn.session
        if conn.dirty:
            try:
                rset = await session.rset()
            except ProbeError as exc:
                if exc.failure.kind == "desync":
                    raise  # the session's earlier answers are suspect: the worker discards them
                raise _Dropped(_why(exc.failure), said_421=False, before_item=True) from None
            if rset.code == 421:
                raise _Dropped(f"421 to RSET: {rset.text}", said_421=True, before_item=True)
            conn.dirty = False
        if item.kind == "enumeration":
            await self.run_enumeration(conn)
            return
        assert item.variant is not None
        variant = item.variant
        conn.dirty = True
        mail = await session.mail(variant.mail_from)
        _check_421(mail, "MAIL")
        if mail.code >= 400:
            conn.errors += 1
        rcpt: Reply | None = None
        if mail.category == "accepted":
            rcpt = await session.rcpt(variant.rcpt_to)
            _check_421(rcpt, "RCPT")
            if rcpt.code >= 400:
                conn.errors += 1
        self.results[variant.name] = _result(
            variant,
            classify(mail, rcpt),
            mail=mail,
            rcpt=rcpt,
            connection=conn.label,
            attempts=item.attempts + 1,
        )

    async def run_enumeration(self, conn: _Conn) -> None:
        session = conn.session
        names = self.names
        assert names is not None
        replies: list[Reply] = []
        # An existing and a made-up user in the same syntax (qualified when the own domain
        # is known): bare "postmaster" is special (RFC 5321 makes servers take it unqualified).
        at = f"@{names.own_domain}" if names.own_domain else ""
        for verb, argument in (
            ("VRFY", f"postmaster{at}"),
            ("VRFY", f"{names.random_user}{at}"),
            ("EXPN", "postmaster"),
        ):
            reply = await session.command(verb, argument, step=verb)
            _check_421(reply, verb)
            if reply.code >= 400:
                conn.errors += 1
            replies.append(reply)
        self.enumeration = enumeration_from(*replies)
        self.enumeration_conn = conn.label

    async def run_auth(self) -> None:
        opts = self.options
        names = self.names
        assert names is not None and opts.user is not None and opts.password is not None
        mail_from, rcpt_to = names.sender, f"{names.recipient_user}@{names.external_domain}"
        base = functools.partial(
            AuthRelayResult, user=opts.user, mail_from=mail_from, rcpt_to=rcpt_to
        )
        try:
            conn = await self.connect(starttls=True, label="authenticated session")
            conn.items.append("authenticated relay check")
        except ProbeError as exc:
            self.authenticated = base(
                mechanism=None, tls=False, outcome="error", note=_why(exc.failure)
            )
            return
        session = conn.session
        session.redact.add(opts.password)
        tls = session.tls is not None
        try:
            mechanism = _pick_mechanism(session, opts.auth_mechanism)
            if mechanism is None:
                self.authenticated = base(
                    mechanism=None,
                    tls=tls,
                    outcome="auth-unavailable",
                    note="the server does not offer AUTH with a mechanism mailprobe speaks",
                )
                return
            auth = await session.auth(mechanism, opts.user, opts.password)
            if auth.code != 235:
                self.authenticated = base(
                    mechanism=mechanism, tls=tls, outcome="auth-failed", auth_reply=auth
                )
                return
            mail = await session.mail(mail_from)
            rcpt = await session.rcpt(rcpt_to) if mail.category == "accepted" else None
            outcome = classify(mail, rcpt)
            self.authenticated = base(
                mechanism=mechanism,
                tls=tls,
                outcome=_AUTH_OUTCOMES[outcome],
                auth_reply=auth,
                mail_reply=mail,
                rcpt_reply=rcpt,
            )
            if session.connected:
                await session.rset()
        except ProbeError as exc:
            self.authenticated = base(
                mechanism=None, tls=tls, outcome="error", note=_why(exc.failure)
            )
        finally:
            await self.finish(conn)

    async def send(self, variant: VariantResult) -> SendResult:
        """One real message through ``variant``, on a fresh session."""
        base = functools.partial(
            SendResult, variant=variant.name, mail_from=variant.mail_from, rcpt_to=variant.rcpt_to
        )
        try:
            conn = await self.connect(label="send session")
            conn.items.append(f"--send via {variant.name}")
        except ProbeError as exc:
            return base(outcome="error", note=_why(exc.failure))
        session = conn.session
        try:
            mail = await session.mail(variant.mail_from)
            if mail.category != "accepted":
                return base(outcome="refused-before-data", mail_reply=mail)
            rcpt = await session.rcpt(variant.rcpt_to)
            if rcpt.category != "accepted":
                return base(outcome="refused-before-data", mail_reply=mail, rcpt_reply=rcpt)
            data = await session.data(_test_message(self.host, variant, self.options.to or ""))
            outcome: SendOutcome = "accepted" if data.category == "accepted" else "rejected-at-data"
            return base(outcome=outcome, mail_reply=mail, rcpt_reply=rcpt, data_reply=data)
        except ProbeError as exc:
            return base(outcome="error", note=_why(exc.failure))
        finally:
            await self.finish(conn)

    def close_all(self) -> None:
        for conn in self.conns:
            conn.session.close()


_AUTH_OUTCOMES: dict[str, AuthOutcome] = {
    "accepted": "accepted",
    "rejected": "refused",
    "refused-temporarily": "refused",
    "auth-required": "refused",
    "mail-refused": "refused",
    "deferred": "undecided",
    "mail-deferred": "undecided",
    "error": "error",
    "not-tested": "undecided",
}


def _why(failure: Failure) -> str:
    """A failure as a short reason that names its step: ``RCPT failed: timed out after 1 s``."""
    return f"{failure.step} failed: {failure.message}"


def _check_421(reply: Reply, step: str) -> None:
    if reply.code == 421:
        raise _Dropped(f"421 to {step}: {reply.text}", said_421=True)


def _pick_mechanism(session: SmtpSession, wanted: str | None) -> str | None:
    offered: list[str] = []
    reply = session.ehlo_reply
    if reply is not None and not session.used_helo:
        for line in reply.lines[1:]:
            words = re.split(r"[\s=]+", line.strip())
            if words and words[0].upper() == "AUTH":
                offered.extend(w.upper() for w in words[1:] if w)
    if wanted:
        return wanted.upper() if not offered or wanted.upper() in offered else None
    for mechanism in AUTH_MECHANISMS:
        if mechanism in offered:
            return mechanism
    return None


def _result(
    variant: Variant,
    outcome: Outcome,
    *,
    mail: Reply | None = None,
    rcpt: Reply | None = None,
    connection: str | None = None,
    attempts: int = 0,
    note: str = "",
) -> VariantResult:
    return VariantResult(
        name=variant.name,
        group=variant.group,
        kind=variant.kind,
        title=variant.title,
        mail_from=variant.mail_from,
        rcpt_to=variant.rcpt_to,
        outcome=outcome,
        mail_reply=mail,
        rcpt_reply=rcpt,
        connection=connection,
        attempts=attempts,
        note=note,
    )


def _test_message(host: str, variant: VariantResult, to: str) -> bytes:
    import email.utils

    lines = [
        f"From: <{variant.mail_from}>",
        f"To: <{to}>",
        "Subject: mailprobe relay-test confirmation",
        f"Date: {email.utils.formatdate(localtime=False)}",
        f"Message-ID: {email.utils.make_msgid('relaytest')}",
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=utf-8",
        "",
        f"mailprobe relay-test sent this message through {host}",
        f"using the variant '{variant.name}' (RCPT TO:<{variant.rcpt_to}>).",
        "If it reached you, that server relays mail for anonymous clients.",
        "",
    ]
    return "\r\n".join(lines).encode("utf-8")
