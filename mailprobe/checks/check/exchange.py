"""One exchanger on the wire: reachability, the SMTP script, and the start of its relay battery.

``_exchanges`` makes one ``_Exchange`` per exchanger (an exchanger whose addresses are all
another's is probed once, with it). ``_Exchange.run`` opens every address at once and records
its ``Reachability`` (step 2); the first address that greets carries the ``_SmtpScript``
(step 3: EHLO, STARTTLS, MAIL, RCPT postmaster and the given recipient, RSET, QUIT; DATA is
never sent) and starts the relay battery alongside it (step 4, through ``relay_runner``).
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from mailprobe.checks.check.model import CheckOptions, Reachability, SmtpCheck, Target
from mailprobe.checks.check.shared import (
    ENVELOPES_PER_CONNECTION,
    ExchangerCache,
    Opened,
    Transport,
    rename_finding,
)
from mailprobe.checks.check.steps import _subject
from mailprobe.checks.ehlo import (
    CommandResult,
    TlsReport,
    VerbComparison,
    VerbProfile,
    classify_reply,
    compare_verbs,
    diagnose_verbs,
    get_profile,
    parse_ehlo_reply,
    starttls_not_offered,
    tls_findings,
    tls_report,
)
from mailprobe.errors import ProbeError
from mailprobe.findings import make
from mailprobe.model import Failure, Finding, Severity
from mailprobe.smtp.failures import failure_finding, is_incomplete
from mailprobe.smtp.replies import says_relay_denied
from mailprobe.smtp.servers import ServerGuess, guess_server
from mailprobe.smtp.session import CertificateRejected, SmtpSession, TranscriptLine
from mailprobe.smtp.tls import name_matches_certificate

if TYPE_CHECKING:
    from mailprobe.checks.relay import RelayReport


class _Exchange:
    """Reachability, SMTP and relay of one exchanger (all its addresses)."""

    def __init__(
        self, target: Target, domain: str, opts: CheckOptions, also: Sequence[str] = ()
    ) -> None:
        self.target = target
        #: Other exchangers whose addresses are all among this one's: probed once, here.
        self.also = tuple(also)
        self.domain = domain
        self.opts = opts
        self.reach: list[Reachability] = []
        self.reach_findings: list[Finding] = []
        self.reach_failures: list[Failure] = []
        self.smtp: SmtpCheck | None = None
        self.relay: RelayReport | None = None
        self.skipped: str | None = None

    @property
    def label(self) -> str:
        """The exchanger's name, with the names of those that share its addresses."""
        return ", ".join((self.target.host, *self.also))

    def _session(self, address: str, verify: bool = True) -> SmtpSession:
        return SmtpSession(
            self.target.host,
            self.opts.smtp_port,
            address=address,
            helo_name=self.opts.helo,
            timeout=self.opts.timeout,
            tls_verify=verify,
            ca_file=self.opts.ca_file,
            limits=self.opts.limits,
        )

    async def _open(self, address: str) -> SmtpSession | None:
        """Connect and read the banner of one address; record its reachability."""
        host, port = self.target.host, self.opts.smtp_port
        subject = _subject(self.label, address, port)
        no_route = _no_local_route(address, port)
        if no_route:
            # A limit of where mailprobe runs (typically no IPv6), not a fault of the server.
            self.reach.append(Reachability(host, address, port, "untested", message=no_route))
            self.reach_findings.append(
                Finding(
                    Severity.INFO,
                    "check.no-route-here",
                    f"{subject}: not tested, {no_route}",
                    "Run the check from a host with IPv6 connectivity to test this address.",
                    subject,
                )
            )
            return None
        session = self._session(address)
        try:
            banner = await session.open()
        except ProbeError as exc:
            session.close()
            reply = session.banner
            status = "rejected" if reply is not None else "unreachable"
            self.reach.append(
                Reachability(
                    host,
                    address,
                    port,
                    status,
                    _timing_ms(session, "connect"),
                    None,
                    reply.lines if reply else (),
                    reply.code if reply else None,
                    exc.failure.message,
                )
            )
            failed = failure_finding(exc.failure, subject)
            if failed is not None:
                self.reach_findings.append(failed)
            self.reach_failures.append(dataclasses.replace(exc.failure, step="reachability"))
            return None
        connect_ms = _timing_ms(session, "connect")
        banner_ms = _timing_ms(session, "banner")
        if session.throttled:
            self.reach_findings.append(
                make(
                    "smtp.throttled",
                    f"{subject} answered 421 (too many connections / try later) at first: "
                    "mailprobe waited and connected again",
                    subject=subject,
                )
            )
        self.reach.append(
            Reachability(
                host,
                address,
                port,
                "banner",
                connect_ms,
                banner_ms,
                banner.lines,
                banner.code,
            )
        )
        total = (connect_ms or 0.0) + (banner_ms or 0.0)
        self.reach_findings.append(
            Finding(
                Severity.OK,
                "check.latency",
                f"{subject} greets in {total:.0f} ms (connect {connect_ms or 0:.0f} ms)",
                "",
                subject,
            )
        )
        return session

    async def run(self, relay_runner: Callable[[str, str], asyncio.Task[RelayReport]]) -> None:
        """Open every address at once (or reuse the run's probe of it); the first that greets
        carries SMTP (and starts relay)."""
        cache = self.opts.cache
        assert cache is not None  # run_check makes one when the run has none
        port = self.opts.smtp_port
        opened = await asyncio.gather(*(self._opened(cache, a) for a in self.target.addresses))
        chosen: str | None = None
        for address, probe in zip(self.target.addresses, opened, strict=True):
            old = _subject(probe.label, address, port)
            new = _subject(self.label, address, port)
            self.reach.extend(dataclasses.replace(r, host=self.target.host) for r in probe.reach)
            self.reach_findings.extend(rename_finding(f, old, new) for f in probe.findings)
            self.reach_failures.extend(probe.failures)
            if any(r.status == "banner" for r in probe.reach):
                if chosen is None:
                    chosen = address
                elif probe.session is not None:
                    # Not this exchanger's SMTP address: hold no connection open for it.
                    session, probe.session = probe.session, None
                    await session.quit()
        if chosen is None:
            untested = [r for r in self.reach if r.status == "untested"]
            if untested and len(untested) == len(self.reach):
                self.reach_failures.append(
                    Failure(
                        "reachability",
                        f"no address of {self.target.host} can be reached from this host "
                        f"({untested[0].message})",
                        self.target.host,
                        self.opts.smtp_port,
                    )
                )
            self.skipped = (
                f"{self.target.host}: skipped, no address reachable"
                if self.target.addresses
                else f"{self.target.host}: skipped, no address"
            )
            return
        relay_task = relay_runner(self.target.host, chosen) if self.opts.relay else None
        self.smtp = await self._smtp(cache, chosen)
        if relay_task is not None:
            self.relay = await relay_task

    async def _opened(self, cache: ExchangerCache, address: str) -> Opened:
        key = (address, self.opts.smtp_port)
        if key not in cache.opened:

            async def probe() -> Opened:
                scratch = _Exchange(self.target, self.domain, self.opts, self.also)
                session = await scratch._open(address)
                return Opened(
                    scratch.label,
                    scratch.reach,
                    scratch.reach_findings,
                    scratch.reach_failures,
                    session,
                )

            cache.opened[key] = asyncio.ensure_future(probe())
        return await asyncio.shield(cache.opened[key])

    async def _smtp(self, cache: ExchangerCache, address: str) -> SmtpCheck:
        """The SMTP step on ``address``: the shared transport part, then this domain's
        envelope on the pooled connection."""
        port = self.opts.smtp_port
        key = (address, port, self.target.host)
        if key not in cache.transport:
            shared = await self._shared_transport(cache, address)
            if key not in cache.transport:  # (another domain of this name may have come first)
                cache.transport[key] = shared or asyncio.ensure_future(
                    self._transport(cache, address)
                )
        transport = await asyncio.shield(cache.transport[key])
        old = _subject(transport.label, address, port)
        new = _subject(self.label, address, port)
        base = transport.smtp
        if base.tls is not None and base.tls.checked_name != self.target.host:
            # Another name's session: its certificate, already seen to cover this name too.
            tls = dataclasses.replace(base.tls, checked_name=self.target.host)
            base = dataclasses.replace(base, tls=tls)
        findings = [rename_finding(f, old, new) for f in base.findings]
        if base.failure is not None:
            return dataclasses.replace(base, host=self.target.host, findings=tuple(findings))
        script = _SmtpScript(self, None, address)
        line = cache.line((address, port))
        async with line.lock:
            transcript_from = 0
            session = line.session
            line.session = None
            try:
                async with asyncio.timeout(self.opts.session_timeout):
                    if session is None or not session.connected:
                        if session is not None:
                            session.close()
                        session = await script.connect(transport.tls)
                        line.used = 0
                    transcript_from = len(session.transcript)
                    script.session = session
                    await script._envelope(session)
                    line.used += 1
                    if not cache.keep_sessions or line.used >= ENVELOPES_PER_CONNECTION:
                        await session.quit()
            except ProbeError as exc:  # first: a step's own timeout is a TimeoutError too
                script.failure = dataclasses.replace(exc.failure, step=f"smtp {exc.failure.step}")
            except TimeoutError:
                script.failure = script.timed_out().failure
            finally:
                if session is not None:
                    if script.failure is None and session.connected and cache.keep_sessions:
                        line.session = session
                    else:
                        session.close()
        own = script.result()
        transcript = base.transcript + (
            tuple(session.transcript[transcript_from:]) if session is not None else ()
        )
        return dataclasses.replace(
            base,
            host=self.target.host,
            mail=own.mail,
            postmaster=own.postmaster,
            recipient=own.recipient,
            findings=tuple(sorted(findings + list(own.findings), key=lambda f: -f.severity.rank)),
            failure=own.failure,
            transcript=transcript,
        )

    async def _shared_transport(
        self, cache: ExchangerCache, address: str
    ) -> asyncio.Task[Transport] | None:
        """The transport part another name of ``address`` found, when it holds for this name
        too (see ``covers``); None: this name needs its own."""
        port = self.opts.smtp_port
        for (where, on, _name), task in list(cache.transport.items()):
            if (where, on) != (address, port):
                continue
            try:
                transport = await asyncio.shield(task)
            except Exception:  # that name's own probe reports it
                continue
            if covers(transport, self.target.host):
                return task
        return None

    async def _transport(self, cache: ExchangerCache, address: str) -> Transport:
        """EHLO, verbs, STARTTLS and certificate on ``address``, once per run and name (or
        once per address, see ``covers``); the connection is left in the pool for the
        envelopes."""
        opened = cache.opened[(address, self.opts.smtp_port)].result()
        session, opened.session = opened.session, None
        script = _SmtpScript(self, session, address)
        try:
            async with asyncio.timeout(self.opts.session_timeout):
                if script.session is None:  # taken by no one, but closed or used before
                    script.session = await script.connect(None)
                    script.sessions.append(script.session)
                smtp = await script.run(envelope=False)
        except ProbeError as exc:  # first: a step's own timeout is a TimeoutError too
            script.failure = dataclasses.replace(exc.failure, step=f"smtp {exc.failure.step}")
            smtp = script.result()
        except TimeoutError:
            smtp = script.timed_out()
        current = script.session
        for one in script.sessions:
            if one is not current or smtp.failure is not None:
                one.close()
        if smtp.failure is None and current is not None and current.connected:
            line = cache.line((address, self.opts.smtp_port))
            if line.session is None and not line.lock.locked():
                line.session = current  # the pool's connection to this address
            else:  # the address has one already (another name's): one is enough
                await current.quit()
                current.close()
        tls = "none" if not script.offered or script.tls is None else script.tls_mode
        return Transport(self.label, smtp, tls)


def covers(transport: Transport, name: str) -> bool:
    """Whether the SMTP transport part found for another name of the same address holds for
    exchanger ``name`` too, so that it need not be probed again.

    The banner, EHLO and STARTTLS do not depend on the name a sender knows the server by; only
    the certificate check does (and SNI: mailprobe sends the name, as few MTAs do). So it holds
    when no TLS was negotiated, or when the certificate was trusted and its names cover
    ``name`` (e.g. ``*.mail.protection.outlook.com`` for every customer's exchanger name).
    An untrusted or mismatched certificate is checked again under each name.
    """
    tls = transport.smtp.tls
    if tls is None:  # no TLS, or the session failed before it: the same under any name
        return True
    return tls.verified and name_matches_certificate(name, tls.sans)


#: The finding codes of the two envelope probes, by outcome.
_RCPT_CODES = {
    "postmaster": {
        "accepted": "smtp.postmaster-accepted",
        "deferred": "smtp.postmaster-deferred",
        "rejected": "smtp.postmaster-rejected",
    },
    "recipient": {
        "accepted": "smtp.rcpt-accepted",
        "deferred": "smtp.rcpt-deferred",
        "rejected": "smtp.rcpt-rejected",
    },
}


def _no_local_route(address: str, port: int) -> str:
    """Why this host cannot send packets to ``address`` at all ("" when it can).

    A UDP socket's connect() only consults the routing table: nothing is sent.
    """
    import socket

    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_DGRAM) as probe:
            probe.connect((address, port))
    except OSError as exc:
        kind = "IPv6" if family == socket.AF_INET6 else "IPv4"
        return f"no {kind} route from this host ({exc.strerror or exc})"
    return ""


def _timing_ms(session: SmtpSession, step: str) -> float | None:
    for timing in session.timings:
        if timing.step == step:
            return round(timing.seconds * 1000, 1)
    return None


class _SmtpScript:
    """EHLO, STARTTLS, MAIL, RCPT postmaster and the given recipient, RSET, QUIT: one
    connection."""

    def __init__(
        self, exchange: _Exchange, session: SmtpSession | None, address: str | None = None
    ) -> None:
        self.ex = exchange
        self.opts = exchange.opts
        self.session: SmtpSession | None = session
        self.sessions = [session] if session is not None else []
        self.host = exchange.target.host
        self.address = address or (session.address if session else None) or ""
        self.tls_mode = "verify"
        self.subject = _subject(exchange.label, self.address, self.opts.smtp_port)
        self.findings: list[Finding] = []
        self.failure: Failure | None = None
        self.server: ServerGuess | None = None
        self.greeting: str | None = None
        self.before: tuple[str, ...] = ()
        self.after: tuple[str, ...] = ()
        self.offered = False
        self.tls: TlsReport | None = None
        self.certificate: bytes | None = None
        self.mail: CommandResult | None = None
        self.postmaster: CommandResult | None = None
        self.recipient: CommandResult | None = None

    def _add(self, severity: Severity, code: str, summary: str, fix: str = "") -> None:
        self.findings.append(Finding(severity, code, summary, fix, self.subject))

    async def run(self, envelope: bool = True) -> SmtpCheck:
        try:
            await self._script(envelope)
        except ProbeError as exc:
            self.failure = dataclasses.replace(exc.failure, step=f"smtp {exc.failure.step}")
        return self.result()

    def timed_out(self) -> SmtpCheck:
        self.failure = Failure(
            "smtp",
            f"the SMTP session took longer than {self.opts.session_timeout:g} s",
            self.address,
            self.opts.smtp_port,
            self.opts.session_timeout,
        )
        return self.result()

    async def _hello(self, session: SmtpSession) -> tuple[str, ...]:
        reply = await session.hello()
        self.greeting = "HELO" if session.used_helo else "EHLO"
        if session.used_helo:
            return ()
        return parse_ehlo_reply(reply.lines).keywords

    async def connect(self, tls: str | None) -> SmtpSession:
        """A new connection set up as the transport part left its own: banner, EHLO, and
        STARTTLS when ``tls`` says it worked ("verify", "noverify"); None: banner only."""
        session = self.ex._session(self.address, verify=tls != "noverify")
        try:
            await session.open()
            if tls is not None:
                await self._hello(session)
                if tls != "none":
                    await session.starttls(verify=tls == "verify")
        except BaseException:
            session.close()
            raise
        return session

    async def _reopen(self, verify: bool) -> SmtpSession:
        if self.session is not None:
            self.session.close()
        session = self.ex._session(self.address, verify=verify)
        self.sessions.append(session)
        self.session = session
        await session.open()
        await self._hello(session)
        return session

    async def _script(self, envelope: bool = True) -> None:
        session = self.session
        assert session is not None
        banner = " ".join(session.banner.lines) if session.banner else ""
        self.before = await self._hello(session)
        assert session.ehlo_reply is not None
        self.server = guess_server(banner, session.ehlo_reply.lines[0])
        profile = self._profile()
        if self.server is not None:
            what = self.server.title
            verbs = (
                f"EHLO verbs compared with profile {self.server.profile}"
                if profile is not None
                else "no verb profile for it, so its EHLO verbs are not judged"
            )
            how = (
                "from its banner"
                if self.server.source == "banner"
                else f"given with {self.server.source}"
            )
            self._add(Severity.INFO, "check.server-guess", f"{what} ({how}); {verbs}")
        else:
            self._add(
                Severity.INFO,
                "check.server-guess",
                "server type not recognised from its banner: EHLO verbs not judged",
                "Give the expected verb profile with --expect PROFILE to compare them.",
            )
        self.offered = "STARTTLS" in self.before
        if self.offered:
            session = await self._starttls(session)
        else:
            # A profile guessed from the banner never excuses missing TLS; one given is used.
            given = profile if self.opts.expect else None
            self.findings.append(starttls_not_offered(given, False, self.subject))
        if profile is not None:
            keywords = list(self.before) + [k for k in self.after if k not in self.before]
            comparison = compare_verbs(keywords, profile)
            self._comparison = comparison
            for finding in diagnose_verbs(comparison, profile, self.subject):
                if finding.code == "ehlo.unexpected-verbs" and finding.severity is Severity.INFO:
                    continue  # vendor extras are not worth a line in the checklist
                self.findings.append(finding)
        self.session = session
        if envelope:
            await self._envelope(session)
            await session.quit()

    _comparison: VerbComparison | None = None

    def _profile(self) -> VerbProfile | None:
        if self.opts.expect:
            profile = get_profile(self.opts.expect)
            self.server = ServerGuess(
                profile.name, profile.title, profile.name, self.opts.expect_origin
            )
            return profile
        if self.server is None or self.server.profile is None:
            return None
        return get_profile(self.server.profile)

    async def _starttls(self, session: SmtpSession) -> SmtpSession:
        verify_error: str | None = None
        try:
            await session.starttls(verify=True)
        except CertificateRejected as exc:
            verify_error = exc.verify_error
            self.tls_mode = "noverify"
            session = await self._reopen(verify=False)
            await session.starttls(verify=False)
        except ProbeError as exc:
            if is_incomplete(exc.failure):
                raise  # dropped, timed out, 421: not a verdict on TLS
            failed = failure_finding(exc.failure, self.subject)
            if failed is not None:
                self.findings.append(failed)
            # Go on without TLS, as a sender falling back to plaintext would.
            session = await self._reopen(verify=True)
            return session
        if session.tls is not None:
            info = session.tls
            if verify_error is not None:
                info = dataclasses.replace(info, verified=False)
            self.tls = tls_report(info, "starttls", verify_error)
            for finding in tls_findings(self.tls, self.subject):
                summary = finding.summary.replace(" (continued because of --insecure)", "")
                self.findings.append(dataclasses.replace(finding, summary=summary))
        self.certificate = session.peer_certificate()
        assert session.ehlo_reply is not None
        self.after = (
            () if session.used_helo else parse_ehlo_reply(session.ehlo_reply.lines).keywords
        )
        return session

    async def _envelope(self, session: SmtpSession) -> None:
        sender = self.opts.sender
        reply = await session.mail(sender)
        self.mail = classify_reply(f"MAIL FROM:<{sender}>", reply)
        if reply.code >= 400:
            self._add(
                Severity.FAIL,
                "smtp.mail-rejected",
                f"MAIL FROM:<{sender}> refused: {reply.code} {reply.text}",
                "The null sender <> must be accepted (RFC 5321 section 4.5.5: bounces use it); "
                "check sender restrictions.",
            )
            return
        postmaster = f"postmaster@{self.ex.domain}"
        reply = await session.rcpt(postmaster)
        self.postmaster = classify_reply(f"RCPT TO:<{postmaster}>", reply)
        self._judge_rcpt(
            "postmaster",
            postmaster,
            self.postmaster,
            "RFC 5321 section 4.5.1 requires every domain that accepts mail to accept mail "
            f"for postmaster: create the mailbox or an alias for {postmaster}, and exempt it "
            "from sender and content filters.",
        )
        if self.opts.rcpt:
            reply = await session.rcpt(self.opts.rcpt)
            self.recipient = classify_reply(f"RCPT TO:<{self.opts.rcpt}>", reply)
            self._judge_rcpt(
                "recipient",
                self.opts.rcpt,
                self.recipient,
                f"Check that {self.opts.rcpt} exists and that this server accepts mail for "
                f"{self.ex.domain} (accepted domains / mydestination / relay domains).",
            )
        if session.connected:
            await session.rset()

    def _judge_rcpt(self, what: str, address: str, result: CommandResult, fix: str) -> None:
        code = _RCPT_CODES[what]
        reply = f"{result.code} {result.text}"
        if result.outcome == "accepted":
            self._add(Severity.OK, code["accepted"], f"RCPT TO:<{address}> accepted ({reply})")
        elif result.outcome in ("deferred", "rejected") and says_relay_denied(result.text):
            # Refused as relaying: this exchanger does not take mail for the domain at all.
            self._add(
                Severity.FAIL,
                "smtp.domain-not-accepted",
                f"this exchanger does not accept mail for {self.ex.domain}: "
                f"RCPT TO:<{address}> was refused as relaying ({reply})",
                f"Add {self.ex.domain} to the accepted domains of this server, or correct "
                "the MX record.",
            )
        elif result.outcome == "deferred":
            self._add(
                Severity.WARN,
                code["deferred"],
                f"RCPT TO:<{address}> deferred: {reply}",
                fix + " A 4xx may also be greylisting: retry later.",
            )
        else:
            # A refused --to is a warning wherever it is probed (ehlo too); postmaster fails.
            severity = Severity.FAIL if what == "postmaster" else Severity.WARN
            self._add(severity, code["rejected"], f"RCPT TO:<{address}> rejected: {reply}", fix)

    def result(self) -> SmtpCheck:
        transcript: list[TranscriptLine] = []
        for session in self.sessions:
            transcript.extend(session.transcript)
        return SmtpCheck(
            host=self.host,
            address=self.address,
            port=self.opts.smtp_port,
            server=self.server,
            greeting_command=self.greeting,
            advertised=self.before,
            advertised_after_tls=self.after,
            comparison=self._comparison,
            starttls_offered=self.offered,
            tls=self.tls,
            mail=self.mail,
            postmaster=self.postmaster,
            recipient=self.recipient,
            findings=tuple(sorted(self.findings, key=lambda f: -f.severity.rank)),
            failure=self.failure,
            transcript=tuple(transcript),
            _certificate=self.certificate,
        )


def _exchanges(targets: Sequence[Target], domain: str, opts: CheckOptions) -> list[_Exchange]:
    """One ``_Exchange`` per exchanger, except that an exchanger whose addresses are all
    another's is probed once, with it (its findings name both)."""
    owners: dict[str, Target] = {}
    also: dict[str, list[str]] = {}
    kept: list[Target] = []
    for target in targets:
        if any(t.host == target.host for t in kept) or any(target.host in a for a in also.values()):
            continue  # the same name listed twice (mx.duplicate-exchanger says so)
        own = [a for a in target.addresses if a not in owners]
        if target.addresses and not own:
            also.setdefault(owners[target.addresses[0]].host, []).append(target.host)
            continue
        kept.append(dataclasses.replace(target, addresses=tuple(own)))
        for address in own:
            owners[address] = target
    return [_Exchange(t, domain, opts, also.get(t.host, ())) for t in kept]
