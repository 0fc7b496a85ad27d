"""The scripted session behind ``mailprobe ehlo``.

``probe_ehlo(request) -> EhloReport`` (one server address) and ``run_ehlo(request,
mx_domain=..., all_exchangers=..., resolver=...) -> EhloResults`` (a host, or the exchangers
of a domain). Neither raises ``ProbeError``: a step that cannot complete ends the probe with
``EhloReport.failure`` set and everything seen so far kept (transcript included). Secrets never
leave: the whole report passes through the session's ``Redactor`` at the end
(``redact_value``). Also the HELO name helpers and the ``--data`` test message.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import re
import socket
import time
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, TypeVar

from mailprobe.checks.ehlo.model import (
    FALLBACK_HELO,
    AuthResult,
    EhloReport,
    EhloRequest,
    EhloResults,
    Exchanger,
    _subject,
)
from mailprobe.checks.ehlo.parse import Advertised, parse_ehlo_reply
from mailprobe.checks.ehlo.profiles import (
    VerbComparison,
    VerbProfile,
    compare_verbs,
    diagnose_verbs,
    get_profile,
)
from mailprobe.checks.ehlo.replies import CommandResult, classify_reply
from mailprobe.checks.ehlo.tls import TlsReport, starttls_not_offered, tls_findings, tls_report
from mailprobe.errors import ProbeError
from mailprobe.model import Failure, Finding, Severity
from mailprobe.smtp.failures import failure_finding
from mailprobe.smtp.redact import Redactor
from mailprobe.smtp.session import (
    CertificateRejected,
    Reply,
    SmtpSession,
    StepTiming,
    TranscriptLine,
)

if TYPE_CHECKING:
    from mailprobe.dns import Resolver

#: Preferred AUTH mechanisms when the user does not choose one, best first.
AUTH_PREFERENCE = ("CRAM-MD5", "PLAIN", "LOGIN")
SUPPORTED_AUTH = frozenset(AUTH_PREFERENCE)
#: Mechanisms that send the password itself (only base64-encoded) over the connection.
CLEARTEXT_AUTH = frozenset({"PLAIN", "LOGIN"})


def default_helo_name(configured: str | None = None) -> str:
    """``--helo`` default: the configured name, else the host's own name when it is fully
    qualified, else a reserved name.

    The host name is read locally: ``socket.getfqdn()`` would ask the DNS (a reverse lookup
    with no time limit of ours) before the first connection is even tried.
    """
    if configured:
        return configured
    try:
        fqdn = socket.gethostname()
    except OSError:
        fqdn = ""
    if fqdn and "." in fqdn and not fqdn.lower().startswith("localhost") and is_helo_name(fqdn):
        return fqdn.rstrip(".")
    return FALLBACK_HELO


def is_helo_name(name: str) -> bool:
    """A host name or address literal usable after EHLO (no spaces or controls)."""
    if not name or len(name) > 255 or any(ch.isspace() for ch in name):
        return False
    if name.startswith("[") and name.endswith("]"):
        return True
    return re.fullmatch(r"[A-Za-z0-9_]([A-Za-z0-9_.-]*[A-Za-z0-9_])?\.?", name) is not None


def build_test_message(
    sender: str, recipients: Sequence[str], subject: str, body: str, domain: str
) -> tuple[bytes, str]:
    """The ``--data`` message (CRLF line ends) and its Message-ID."""
    import uuid
    from email.message import EmailMessage
    from email.policy import SMTP
    from email.utils import formatdate

    host = domain.strip("[]") if is_helo_name(domain) and "." in domain else FALLBACK_HELO
    message_id = f"<mailprobe.{uuid.uuid4().hex}@{host}>"
    message = EmailMessage(policy=SMTP.clone(max_line_length=998))
    message["From"] = sender or f"mailprobe@{domain}"
    message["To"] = ", ".join(recipients)
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=True)
    message["Message-ID"] = message_id
    message["X-Mailer"] = "mailprobe ehlo"
    plain = body.isascii() and all(len(line) < 990 for line in body.splitlines())
    message.set_content(body, cte="7bit" if plain else "quoted-printable")
    return message.as_bytes(), message_id


T = TypeVar("T")


def redact_value(value: T, redact: Redactor) -> T:
    """Apply ``redact`` to every string inside a (frozen) dataclass tree."""
    if isinstance(value, str):
        return redact(value)  # type: ignore[return-value]
    if isinstance(value, tuple):
        return tuple(redact_value(v, redact) for v in value)  # type: ignore[return-value]
    if isinstance(value, list):
        return [redact_value(v, redact) for v in value]  # type: ignore[return-value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        changes = {
            f.name: redact_value(getattr(value, f.name), redact) for f in dataclasses.fields(value)
        }
        return dataclasses.replace(value, **changes)
    return value


#: The finding code of a refused envelope step, by step and outcome.
_ENVELOPE_CODES = {
    "mail": {"deferred": "smtp.mail-deferred", "rejected": "smtp.mail-rejected"},
    "rcpt": {"deferred": "smtp.rcpt-deferred", "rejected": "smtp.rcpt-rejected"},
    "data": {"deferred": "smtp.data-deferred", "rejected": "smtp.data-rejected"},
}


class _Probe:
    """The state of one probe while it runs (kept so a failure can still report it)."""

    def __init__(self, request: EhloRequest, redactor: Redactor) -> None:
        self.request = request
        self.redact = redactor
        self.subject = _subject(request.host, request.address, request.port)
        self.sessions: list[tuple[float, SmtpSession]] = []
        self.session: SmtpSession | None = None
        self.step = "connect"
        self.banner: Reply | None = None
        self.greeting_command: str | None = None
        self.ehlo_reply_first: str | None = None
        self.advertised: Advertised | None = None
        self.advertised_after_tls: Advertised | None = None
        self.tls: TlsReport | None = None
        self.auth: AuthResult | None = None
        self.mail: CommandResult | None = None
        self.rcpt: list[CommandResult] = []
        self.data: CommandResult | None = None
        self.message_id: str | None = None
        self.message_sent = False
        self.findings: list[Finding] = []
        self.failure: Failure | None = None
        self._first_start: float | None = None

    # -- helpers

    def _finding(self, severity: Severity, code: str, summary: str, fix: str = "") -> None:
        self.findings.append(Finding(severity, code, summary, fix, self.subject))

    def _new_session(self, verify: bool = True) -> SmtpSession:
        r = self.request
        session = SmtpSession(
            r.host,
            r.port,
            address=r.address,
            helo_name=r.helo_name,
            timeout=r.timeout,
            implicit_tls=r.implicit_tls,
            tls_verify=verify,
            ca_file=r.ca_file,
            tls_server_name=r.tls_name,
            redactor=self.redact,
        )
        now = time.monotonic()
        if self._first_start is None:
            self._first_start = now
        self.sessions.append((round(now - self._first_start, 4), session))
        self.session = session
        return session

    def _note(self, text: str) -> None:
        if self.session is not None:
            self.session.note(text)

    # -- the script

    async def run(self) -> None:
        r = self.request
        session = self._new_session()
        try:
            await self._open(session)
        except CertificateRejected as exc:  # implicit TLS (465)
            if not self._certificate_rejected(exc):
                return
            session = self._new_session(verify=False)
            await self._open(session)
            self._set_tls(session, "implicit", exc.verify_error)
        else:
            if r.implicit_tls and session.tls is not None:
                self._set_tls(session, "implicit", None)

        await self._hello(session)
        if not r.implicit_tls:
            carry_on = await self._maybe_starttls(session)
            if not carry_on:
                return
            session = self.session or session
        await self._auth(session)
        await self._envelope(session)
        await self._quit(session)

    async def _quit(self, session: SmtpSession) -> None:
        """QUIT politely, then drop the connection at once (see ``SmtpSession.abort``)."""
        self.step = "QUIT"
        if session.connected:
            with contextlib.suppress(ProbeError):  # the server may close first: nothing lost
                await session.command("QUIT", step="QUIT")
        session.abort()

    async def _open(self, session: SmtpSession) -> None:
        self.step = "connect"
        self.banner = await session.open()
        if len(self.banner.lines) > 1:
            self._note(f"multi-line banner ({len(self.banner.lines)} lines)")

    async def _hello(self, session: SmtpSession) -> Advertised:
        self.step = "EHLO"
        reply = await session.hello()
        if self.ehlo_reply_first is None:
            self.ehlo_reply_first = reply.lines[0] if reply.lines else ""
        self.greeting_command = "HELO" if session.used_helo else "EHLO"
        if session.used_helo:
            advertised = parse_ehlo_reply(reply.lines[:1])
            self._finding(
                Severity.WARN,
                "ehlo.helo-fallback",
                "the server refused EHLO and only HELO worked: it offers no ESMTP extensions "
                "(no STARTTLS, AUTH, SIZE, PIPELINING, 8BITMIME)",
                "Enable ESMTP on the server; a server answering HELO only is an old or "
                "misconfigured MTA, or a proxy/firewall filtering EHLO.",
            )
        else:
            advertised = parse_ehlo_reply(reply.lines)
        if self.advertised is None:
            self.advertised = advertised
        return advertised

    def _certificate_rejected(self, exc: CertificateRejected) -> bool:
        """Record a rejected certificate; True if the probe goes on (``--insecure``)."""
        if self.request.insecure:
            self._note("--insecure: connecting again with certificate verification off")
            return True
        self._finding(
            Severity.FAIL,
            "tls.certificate-untrusted",
            f"certificate verification failed: {exc.verify_error}; the session was stopped",
            "Install a certificate from a CA that senders trust, with the full chain; to see "
            "the certificate and test the rest of the session anyway, run again with "
            "--insecure (or --ca-file for a private CA).",
        )
        return False

    def _set_tls(self, session: SmtpSession, mode: str, verify_error: str | None) -> None:
        if session.tls is None:
            return
        info = session.tls
        if not session.tls_verify and info.verified:
            # open() records implicit TLS as verified whatever the context; it was not.
            info = dataclasses.replace(info, verified=False)
        self.tls = tls_report(info, mode, verify_error)
        self.findings.extend(tls_findings(self.tls, self.subject))

    async def _maybe_starttls(self, session: SmtpSession) -> bool:
        """STARTTLS as asked; False when the probe must stop here (reported as findings)."""
        r = self.request
        advertised = self.advertised
        offered = advertised is not None and advertised.has("STARTTLS")
        if not offered:
            self.findings.append(starttls_not_offered(r.profile, bool(r.starttls), self.subject))
            if r.starttls:
                await self._quit(session)
                return False
            return True
        if r.starttls is False:
            self._note("STARTTLS offered but not used (--no-starttls)")
            return True
        self.step = "STARTTLS"
        try:
            await session.starttls()
        except CertificateRejected as exc:
            if not self._certificate_rejected(exc):
                return False
            session = self._new_session(verify=False)
            await self._open(session)
            self.step = "EHLO"
            await session.hello()
            self.step = "STARTTLS"
            await session.starttls(verify=False)
            self._set_tls(session, "starttls", exc.verify_error)
        else:
            self._set_tls(session, "starttls", None)
        self.step = "EHLO"
        assert session.ehlo_reply is not None
        after = (
            parse_ehlo_reply(session.ehlo_reply.lines[:1])
            if session.used_helo
            else parse_ehlo_reply(session.ehlo_reply.lines)
        )
        self.advertised_after_tls = after
        return True

    @property
    def current_advertised(self) -> Advertised | None:
        return self.advertised_after_tls or self.advertised

    async def _auth(self, session: SmtpSession) -> None:
        r = self.request
        advertised = self.current_advertised
        over_tls = self.tls is not None
        offered = advertised.auth_mechanisms if advertised else ()
        if r.user is None or r.password is None:
            # Judged on the first (plaintext) EHLO: what any client is offered before TLS.
            first = self.advertised
            exposed = [m for m in (first.auth_mechanisms if first else ()) if m in CLEARTEXT_AUTH]
            if exposed and not self.request.implicit_tls:
                # A profile of a server family that works without TLS makes this information.
                relaxed = r.profile is not None and r.profile.starttls == "optional"
                self._finding(
                    Severity.INFO if relaxed else Severity.WARN,
                    "auth.plaintext",
                    "the server offers password AUTH (" + ", ".join(exposed) + ") on an "
                    "unencrypted connection",
                    "Offer AUTH only after STARTTLS (Postfix: smtpd_tls_auth_only = yes; "
                    "Exchange: require TLS for basic authentication on the Receive connector).",
                )
            return
        mechanism = (r.auth_mechanism or "").upper() or next(
            (m for m in AUTH_PREFERENCE if m in offered), None
        )
        tls_offered = self.advertised is not None and self.advertised.has("STARTTLS")
        if not offered and not r.auth_mechanism:
            why = "the server offers no AUTH on this connection"
            if not over_tls and tls_offered:
                why += (
                    "; it offers STARTTLS, and servers often offer AUTH only after it "
                    "(drop --no-starttls)"
                )
            self.auth = AuthResult(r.user, None, offered, over_tls, False, False, None)
            self._finding(
                Severity.FAIL,
                "auth.not-offered",
                why,
                "Enable SMTP AUTH on this port (submission, 587, usually has it), or "
                "connect with STARTTLS first.",
            )
            return
        if mechanism is None:
            self.auth = AuthResult(r.user, None, offered, over_tls, False, False, None)
            self._finding(
                Severity.FAIL,
                "auth.no-common-mechanism",
                "the server offers AUTH " + " ".join(offered) + ", none of which mailprobe "
                "speaks (LOGIN, PLAIN, CRAM-MD5)",
                "Enable LOGIN or PLAIN (over TLS) or CRAM-MD5 on the server, or choose one "
                "with --auth-mech.",
            )
            return
        if not over_tls:
            self._finding(
                Severity.WARN,
                "auth.plaintext",
                f"AUTH {mechanism} was sent without TLS: the credentials crossed the "
                "network readable by anyone on the path",
                "Use STARTTLS (the default when offered), or port 465 with --tls.",
            )
        self.step = "AUTH"
        reply = await session.auth(mechanism, r.user, r.password)
        result = classify_reply(f"AUTH {mechanism}", reply)
        succeeded = reply.code == 235
        self.auth = AuthResult(r.user, mechanism, offered, over_tls, True, succeeded, result)
        if succeeded:
            self._finding(Severity.OK, "auth.ok", f"AUTH {mechanism} as {r.user} succeeded")
            return
        summary = f"AUTH {mechanism} as {r.user} failed: {reply.code} {reply.text}"
        fix = "Check the user name and password, and that the account may send by SMTP."
        needs_tls = reply.code in (530, 538) or "STARTTLS" in reply.text.upper()
        if needs_tls and not over_tls:
            fix = (
                "The server wants an encrypted connection before AUTH (a 530 'Must issue a "
                "STARTTLS command first'): drop --no-starttls, or use --tls on port 465."
            )
        self._finding(Severity.FAIL, "auth.failed", summary, fix)

    async def _envelope(self, session: SmtpSession) -> None:
        r = self.request
        if r.sender is None and not r.recipients:
            return
        sender = r.sender or ""
        if r.sender is None:
            self._note("no --from given: using the null sender <>")
        self.step = "MAIL"
        reply = await session.mail(sender)
        self.mail = classify_reply(f"MAIL FROM:<{sender}>", reply)
        if reply.code >= 400:
            self._envelope_finding("mail", self.mail, f"MAIL FROM:<{sender}>")
            await self._rset(session)
            return
        accepted: list[str] = []
        for recipient in r.recipients:
            self.step = "RCPT"
            reply = await session.rcpt(recipient)
            result = classify_reply(f"RCPT TO:<{recipient}>", reply)
            self.rcpt.append(result)
            if reply.code >= 400:
                self._envelope_finding("rcpt", result, f"RCPT TO:<{recipient}>")
            else:
                accepted.append(recipient)
                self._finding(Severity.OK, "smtp.rcpt-accepted", f"RCPT TO:<{recipient}> accepted")
        if r.send_data and accepted:
            self.step = "DATA"
            message, self.message_id = build_test_message(
                sender,
                accepted,
                r.subject,
                r.body,
                r.helo_name,
            )
            reply = await session.data(message)
            self.data = classify_reply("DATA", reply)
            if reply.code < 400:
                self.message_sent = True
                self._finding(
                    Severity.OK,
                    "smtp.data-queued",
                    f"the test message was accepted: {reply.code} {reply.text}",
                )
            else:
                self._envelope_finding("data", self.data, "the test message")
            return
        if r.send_data:
            self._note("no recipient accepted: DATA skipped")
        await self._rset(session)

    async def _rset(self, session: SmtpSession) -> None:
        if session.connected:
            self.step = "RSET"
            await session.rset()

    def _envelope_finding(self, what: str, result: CommandResult, shown: str) -> None:
        kind = "deferred" if result.outcome == "deferred" else "rejected"
        title = f" ({result.explanation})" if result.explanation else ""
        fixes = {
            "mail": "Check that the sender address is allowed (domain exists, SPF, "
            "authentication required for this sender).",
            "rcpt": "A rejected recipient: check the address, that the server accepts mail "
            "for its domain, and relay rules (authenticate to relay to other domains).",
            "data": "The message content or a policy was refused: see the reply text.",
        }
        severity = Severity.WARN if kind == "deferred" or what == "rcpt" else Severity.FAIL
        self._finding(
            severity,
            _ENVELOPE_CODES[what][kind],
            f"{shown} {kind}: {result.code} {result.text}{title}",
            fixes[what] + (" Deferred means try again later." if kind == "deferred" else ""),
        )

    # -- the report

    def _guessed_profile(self) -> VerbProfile | None:
        """Without ``--expect``, the verb profile of the server the banner names (as check)."""
        if self.banner is None or self.ehlo_reply_first is None:
            return None
        from mailprobe.smtp.servers import guess_server

        guess = guess_server(" ".join(self.banner.lines), self.ehlo_reply_first)
        if guess is None or guess.profile is None:
            return None
        self._note(f"verb profile {guess.profile}: {guess.title}, guessed from the banner")
        return get_profile(guess.profile)

    def report(self) -> EhloReport:
        r = self.request
        transcript: list[TranscriptLine] = []
        timings: list[StepTiming] = []
        address = r.address
        for offset, session in self.sessions:
            for line in session.transcript:
                transcript.append(dataclasses.replace(line, at=round(line.at + offset, 4)))
            for timing in session.timings:
                timings.append(
                    dataclasses.replace(timing, started_at=round(timing.started_at + offset, 4))
                )
            address = session.address or address
        profile = r.profile or self._guessed_profile()
        if profile is not None and self.advertised is not None:
            keywords = list(self.advertised.keywords)
            if self.advertised_after_tls is not None:
                keywords += [k for k in self.advertised_after_tls.keywords if k not in keywords]
            comparison: VerbComparison | None = compare_verbs(keywords, profile)
            assert comparison is not None
            subject = _subject(r.host, address, r.port)
            verb_findings = diagnose_verbs(comparison, profile, subject)
        else:
            comparison = None
            verb_findings = ()
        only_after: tuple[str, ...] = ()
        if self.advertised is not None and self.advertised_after_tls is not None:
            before = set(self.advertised.keywords)
            only_after = tuple(k for k in self.advertised_after_tls.keywords if k not in before)
        subject = _subject(r.host, address, r.port)
        findings = tuple(
            dataclasses.replace(f, subject=subject) for f in (*verb_findings, *self.findings)
        )
        failure = self.failure
        if failure is not None:
            # The engine classified it: the same finding as in every other command.
            failed = failure_finding(failure, subject)
            if failed is not None:
                findings = (*findings, failed)
        report = EhloReport(
            host=r.host,
            address=address,
            port=r.port,
            helo_name=r.helo_name,
            implicit_tls=r.implicit_tls,
            banner=self.banner.lines if self.banner else (),
            banner_code=self.banner.code if self.banner else None,
            greeting_command=self.greeting_command,
            advertised=self.advertised,
            advertised_after_tls=self.advertised_after_tls,
            verbs_only_after_tls=only_after,
            comparison=comparison,
            tls=self.tls,
            auth=self.auth,
            mail=self.mail,
            rcpt=tuple(self.rcpt),
            data=self.data,
            message_id=self.message_id,
            message_sent=self.message_sent,
            findings=_sorted_findings(findings),
            failure=failure,
            transcript=tuple(transcript),
            timings=tuple(timings),
        )
        return redact_value(report, self.redact)


def _sorted_findings(findings: Iterable[Finding]) -> tuple[Finding, ...]:
    return tuple(sorted(findings, key=lambda f: -f.severity.rank))


async def probe_ehlo(request: EhloRequest) -> EhloReport:
    """Run the scripted session against one server; never raises ``ProbeError``.

    Steps: connect, banner, EHLO (HELO fallback), STARTTLS and EHLO again (unless
    ``request.starttls`` is False or it is not offered), AUTH (with ``user``), MAIL/RCPT (with
    ``sender``/``recipients``), DATA (with ``send_data``) or RSET, QUIT. Each step is bounded by
    ``request.timeout``; the whole probe by ``request.session_timeout``.
    """
    redactor = Redactor()
    if request.password:
        redactor.add(request.password)
        if request.user is not None:
            import base64

            blob = f"\0{request.user}\0{request.password}".encode()
            redactor.add(base64.b64encode(blob).decode("ascii"))
    probe = _Probe(request, redactor)
    try:
        async with asyncio.timeout(request.session_timeout) as deadline:
            try:
                await probe.run()
            except ProbeError as exc:
                probe.failure = exc.failure
    except TimeoutError:
        if not deadline.expired():
            raise
        step = probe.step
        session = probe.session
        if step == "connect" and session and any(t.step == "connect" for t in session.timings):
            step = "banner"
        probe.failure = Failure(
            step=step,
            message=f"the whole session took longer than {request.session_timeout:g} s "
            "(--session-timeout)",
            host=(probe.session.address if probe.session else None) or request.host,
            port=request.port,
            timeout=request.session_timeout,
        )
        probe._note(f"session time limit reached during {step}")
    finally:
        for _offset, session in probe.sessions:
            session.abort()
        # Even an aborted transport closes its socket on the next loop iterations; give it
        # those here, or a loop closed right after this (asyncio.run) would leak the socket.
        for _ in range(3):
            await asyncio.sleep(0)
    return probe.report()


async def run_ehlo(
    request: EhloRequest,
    *,
    mx_domain: str | None = None,
    all_exchangers: bool = False,
    resolver: Resolver | None = None,
    concurrency: int = 16,
) -> EhloResults:
    """Probe ``request.host``, or with ``mx_domain`` the preferred exchanger (``all_exchangers``:
    every exchanger, concurrently). The MX lookup uses ``resolver`` (``mailprobe.dns``)."""
    if mx_domain is None:
        return EhloResults(None, (), (await probe_ehlo(request),))
    from mailprobe.dns import Resolver, addresses, resolve_exchangers

    own = resolver is None
    active = resolver or Resolver(timeout=request.timeout)
    try:
        try:
            found = await resolve_exchangers(mx_domain, active)
        except ProbeError as exc:
            return EhloResults(mx_domain, (), (), exc.failure)
        if not found:
            failure = Failure(
                "dns MX",
                f"{mx_domain} has a null MX (RFC 7505): it accepts no mail",
                mx_domain,
            )
            return EhloResults(mx_domain, (), (), failure)
        chosen = found if all_exchangers else found[:1]
        limit = asyncio.Semaphore(max(1, concurrency))

        async def one(preference: int, host: str) -> tuple[Exchanger, EhloReport]:
            async with limit:
                error: Failure | None = None
                try:
                    addrs = await addresses(host, active)
                except ProbeError as exc:
                    addrs, error = [], exc.failure
                exchanger = Exchanger(preference, host, tuple(addrs))
                if not addrs:
                    failure = error or Failure("DNS", "the exchanger has no address", host)
                    return exchanger, _unreachable_report(request, host, failure)
                # Next address only when this one could not be reached at all (e.g. a broken
                # IPv6 route while IPv4 works); a server that answered badly has been judged.
                for address in addrs:
                    report = await probe_ehlo(
                        dataclasses.replace(request, host=host, address=address)
                    )
                    if report.failure is None or report.failure.step != "connect":
                        break
                return exchanger, report

        pairs = await asyncio.gather(*(one(p, h) for p, h in chosen))
        return EhloResults(
            mx_domain, tuple(e for e, _ in pairs), tuple(report for _, report in pairs)
        )
    finally:
        if own:
            await active.aclose()


def _unreachable_report(request: EhloRequest, host: str, failure: Failure) -> EhloReport:
    return EhloReport(
        host=host,
        address=None,
        port=request.port,
        helo_name=request.helo_name,
        implicit_tls=request.implicit_tls,
        banner=(),
        banner_code=None,
        greeting_command=None,
        advertised=None,
        advertised_after_tls=None,
        verbs_only_after_tls=(),
        comparison=None,
        tls=None,
        auth=None,
        mail=None,
        rcpt=(),
        data=None,
        message_id=None,
        message_sent=False,
        findings=(),
        failure=failure,
        transcript=(),
        timings=(),
    )
