"""The whole inbound mail-flow checklist of one domain: ``run_check(domain, resolver, options)``.

Steps, each a section of findings in the ``CheckReport``:

1. ``dns``: everything ``mailprobe mx`` checks (``checks.mx.check_mx``), PTR and FCrDNS included.
2. ``reachability``: every exchanger address on the SMTP port, concurrently: banner, latency.
3. ``smtp``: per exchanger, on the connection opened in step 2: EHLO verbs against a profile
   (``--expect`` or guessed from the banner), STARTTLS offered and working, certificate trusted
   and naming the exchanger, ``postmaster@DOMAIN`` accepted at RCPT (RFC 5321 section 4.5.1),
   a chosen recipient accepted; then RSET and QUIT. DATA is never sent.
4. ``relay``: the relay-test battery (``checks.relay.check_relay``) against each exchanger.
5. ``policy``: SPF, DMARC, MTA-STS, TLS-RPT, DANE (TLSA matched against the certificate step 3
   saw) and DKIM (``checks.policy``).
6. the ``summary``: counts per severity, the three most important fixes, the exit code.

How the steps overlap: the exchangers and their addresses are read from the same resolver
(and cache) the DNS step uses, so reachability, SMTP, relay and the policy lookups start as soon
as the addresses are known, while the DNS step still checks reverse DNS. Exchangers run in
parallel; the relay battery of an exchanger starts once its banner arrived, alongside the SMTP
script. DANE waits for the certificate of its exchanger; the TLSA lookup itself is started
early and answered from the cache.

A step that depends on a step that failed is *skipped* (with the reason), not failed: an
exchanger that cannot be reached gets the finding of its failure class (``smtp.no-banner``,
``smtp.connect-refused``, ...: ``mailprobe.smtp.failures``, the same in every command) and a
``Failure``, and its SMTP and relay parts are skipped while everything else is still reported.

Finding codes, with their severities and fixes, are in the catalogue (``mailprobe.findings``).
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Literal

from mailprobe.checks.ehlo import (
    FALLBACK_HELO,
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
from mailprobe.model import ExitCode, Failure, Finding, Severity, exit_code_for
from mailprobe.smtp.failures import failure_finding, is_incomplete
from mailprobe.smtp.replies import says_relay_denied
from mailprobe.smtp.servers import ServerGuess, guess_server
from mailprobe.smtp.session import (
    CertificateRejected,
    ConnectionLimits,
    SmtpSession,
    TranscriptLine,
)

if TYPE_CHECKING:
    from mailprobe.checks.mx import MxReport
    from mailprobe.checks.policy import (
        DkimReport,
        DmarcReport,
        MtaStsReport,
        PolicyReport,
        SpfReport,
        TlsRptReport,
    )
    from mailprobe.checks.relay import RelayReport
    from mailprobe.dns import Resolver

StepName = Literal["dns", "reachability", "smtp", "relay", "policy"]
StepStatus = Literal["ok", "problem", "incomplete", "skipped"]

#: The checklist, in report order: step name -> section title.
STEPS: dict[str, str] = {
    "dns": "DNS",
    "reachability": "Reachability",
    "smtp": "SMTP",
    "relay": "Relay",
    "policy": "Policy records",
}

#: Findings of the DNS step that only say "not reachable from the Internet"; ``allow_private``
#: turns them into information (for lab and internal set-ups).
PRIVATE_CODES = frozenset({"mx.non-public-address", "mx.no-public-exchanger"})

#: How servers announce themselves, checked in order against the banner and EHLO greeting:
#: (pattern, key, title, verb profile or None). Servers without a profile get no verb
#: complaints: their verb sets vary too much with configuration.
#: Severity order for the "most important fixes" of the summary.
_TOP_FIXES = 3

Progress = Callable[[str, str], None]


def _no_progress(step: str, state: str) -> None:
    return None


# --- options and results -------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class CheckOptions:
    """What ``run_check`` does; built and validated by the CLI."""

    smtp_port: int = 25
    helo: str = FALLBACK_HELO
    expect: str | None = None
    #: Where ``expect`` came from, in words (an option, a config key, a variable).
    expect_origin: str = "--expect"
    rcpt: str | None = None
    sender: str = ""
    relay: bool = True
    connections: int = 4
    mta_sts_url: str | None = None
    ca_file: str | None = None
    dkim_selectors: tuple[str, ...] = ()
    allow_private: bool = False
    timeout: float = 10.0
    session_timeout: float = 60.0
    #: Connections at once per exchanger address, SMTP step and relay battery together (a
    #: run may share one across domains); None: ``connections`` per address for this check.
    limits: ConnectionLimits | None = None


@dataclasses.dataclass(frozen=True)
class StepResult:
    """One section of the checklist: its status, why (when skipped), findings and failures.

    ``status``: ok (nothing to fix), problem (a warning or failure), incomplete (a part could
    not complete: exit 3), skipped (depends on a step that failed; ``reason`` says which).
    ``skipped_parts`` names parts skipped inside a step that otherwise ran (e.g. one dead
    exchanger).
    """

    name: str
    title: str
    status: StepStatus
    reason: str = ""
    skipped_parts: tuple[str, ...] = ()
    findings: tuple[Finding, ...] = ()
    failures: tuple[Failure, ...] = ()


@dataclasses.dataclass(frozen=True)
class Target:
    """An exchanger as the check used it: preference, host name, addresses."""

    preference: int
    host: str
    addresses: tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class Reachability:
    """One exchanger address on the SMTP port: did it greet, how fast, with what."""

    host: str
    address: str
    port: int
    #: "banner" (220), "rejected" (another code), "unreachable" (refused, timeout, no banner),
    #: "untested" (this host has no route to the address, e.g. no IPv6).
    status: str
    connect_ms: float | None = None
    banner_ms: float | None = None
    banner: tuple[str, ...] = ()
    banner_code: int | None = None
    message: str = ""


@dataclasses.dataclass(frozen=True)
class SmtpCheck:
    """The SMTP step for one exchanger (on its first address that greeted)."""

    host: str
    address: str
    port: int
    server: ServerGuess | None
    greeting_command: str | None
    advertised: tuple[str, ...]
    advertised_after_tls: tuple[str, ...]
    comparison: VerbComparison | None
    starttls_offered: bool
    tls: TlsReport | None
    mail: CommandResult | None
    postmaster: CommandResult | None
    recipient: CommandResult | None
    findings: tuple[Finding, ...]
    failure: Failure | None
    transcript: tuple[TranscriptLine, ...]
    _certificate: bytes | None = dataclasses.field(default=None, repr=False, compare=False)


@dataclasses.dataclass(frozen=True)
class Summary:
    """Step 6: counts per severity, the most important fixes first, the exit code."""

    counts: dict[str, int]
    failures: int
    top_fixes: tuple[Finding, ...]
    exit_code: int
    status: str


@dataclasses.dataclass(frozen=True)
class CheckReport:
    """The whole checklist of one domain. JSON field names are the field names."""

    domain: str
    domain_ascii: str
    domain_unicode: str
    dns_servers: tuple[str, ...]
    exchangers: tuple[Target, ...]
    steps: tuple[StepResult, ...]
    dns: MxReport | None
    reachability: tuple[Reachability, ...]
    smtp: tuple[SmtpCheck, ...]
    relay: tuple[RelayReport, ...]
    policy: PolicyReport | None
    summary: Summary
    seconds: float

    @property
    def findings(self) -> tuple[Finding, ...]:
        """Every finding of every step, in step order."""
        return tuple(f for step in self.steps for f in step.findings)

    @property
    def failures(self) -> tuple[Failure, ...]:
        """Every part that could not complete."""
        return tuple(f for step in self.steps for f in step.failures)

    @property
    def exit_code(self) -> ExitCode:
        """0 healthy, 1 a problem found, 3 a part could not complete."""
        return ExitCode(self.summary.exit_code)

    def step(self, name: str) -> StepResult:
        """The step called ``name``."""
        return next(s for s in self.steps if s.name == name)


# --- pure helpers ----------------------------------------------------------------------------


def step_status(findings: Sequence[Finding], failures: Sequence[Failure]) -> StepStatus:
    """ok / problem / incomplete, from what a step found: the one outcome rule per step."""
    return _STEP_STATUS[exit_code_for(findings, failures)]


_STEP_STATUS: dict[ExitCode, StepStatus] = {
    ExitCode.HEALTHY: "ok",
    ExitCode.PROBLEM: "problem",
    ExitCode.INCOMPLETE: "incomplete",
}


def make_step(
    name: str,
    findings: Sequence[Finding] = (),
    failures: Sequence[Failure] = (),
    *,
    skipped: str | None = None,
    skipped_parts: Sequence[str] = (),
) -> StepResult:
    """A ``StepResult``; ``skipped`` gives the reason a whole step did not run."""
    if skipped is not None:
        return StepResult(name, STEPS[name], "skipped", skipped, tuple(skipped_parts))
    ordered = tuple(sorted(findings, key=lambda f: -f.severity.rank))
    return StepResult(
        name,
        STEPS[name],
        step_status(ordered, failures),
        "",
        tuple(skipped_parts),
        ordered,
        tuple(failures),
    )


def summarize(steps: Sequence[StepResult]) -> Summary:
    """Counts, the three most important fixes (fail before warn, one per fix text), exit code."""
    findings = [f for s in steps for f in s.findings]
    failures = [f for s in steps for f in s.failures]
    counts = {sev.value: 0 for sev in Severity}
    for finding in findings:
        counts[finding.severity.value] += 1
    ranked = sorted(
        (f for f in findings if f.severity in (Severity.FAIL, Severity.WARN) and f.fix),
        key=lambda f: -f.severity.rank,
    )
    top: list[Finding] = []
    seen_fixes: set[str] = set()
    for finding in ranked:
        if finding.fix in seen_fixes:
            continue
        seen_fixes.add(finding.fix)
        top.append(finding)
        if len(top) == _TOP_FIXES:
            break
    code = exit_code_for(findings, failures)
    status = {
        ExitCode.HEALTHY: "healthy",
        ExitCode.PROBLEM: "problem",
        ExitCode.INCOMPLETE: "incomplete",
    }.get(code, "problem")
    return Summary(counts, len(failures), tuple(top), int(code), status)


def soften_private(findings: Sequence[Finding]) -> tuple[Finding, ...]:
    """``--allow-private``: non-public exchanger findings become information."""
    out: list[Finding] = []
    for finding in findings:
        if finding.code in PRIVATE_CODES and finding.severity is not Severity.INFO:
            out.append(
                dataclasses.replace(
                    finding,
                    severity=Severity.INFO,
                    summary=f"{finding.summary} (accepted with --allow-private)",
                )
            )
        else:
            out.append(finding)
    return tuple(out)


def _subject(host: str, address: str, port: int) -> str:
    where = f"[{address}]" if ":" in address else address
    return f"{host} {where}:{port}" if host != address else f"{where}:{port}"


# --- the SMTP step for one exchanger ----------------------------------------------------------


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
        """Open every address at once; the first that greets carries SMTP (and starts relay)."""
        sessions = await asyncio.gather(*(self._open(a) for a in self.target.addresses))
        self.reach.sort(key=lambda r: self.target.addresses.index(r.address))
        chosen: SmtpSession | None = None
        for session in sessions:
            if session is None:
                continue
            if chosen is None:
                chosen = session
            else:
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
        assert chosen.address is not None
        relay_task = relay_runner(self.target.host, chosen.address) if self.opts.relay else None
        script = _SmtpScript(self, chosen)
        try:
            async with asyncio.timeout(self.opts.session_timeout):
                self.smtp = await script.run()
        except TimeoutError:
            self.smtp = script.timed_out()
        finally:
            for session in script.sessions:
                session.close()
        if relay_task is not None:
            self.relay = await relay_task


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

    def __init__(self, exchange: _Exchange, session: SmtpSession) -> None:
        self.ex = exchange
        self.opts = exchange.opts
        self.session = session
        self.sessions = [session]
        self.host = exchange.target.host
        assert session.address is not None
        self.address = session.address
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

    async def run(self) -> SmtpCheck:
        try:
            await self._script()
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

    async def _reopen(self, verify: bool) -> SmtpSession:
        self.session.close()
        session = self.ex._session(self.address, verify=verify)
        self.sessions.append(session)
        self.session = session
        await session.open()
        await self._hello(session)
        return session

    async def _script(self) -> None:
        session = self.session
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


# --- the orchestration -----------------------------------------------------------------------


async def _targets(domain: str, resolver: Resolver) -> tuple[list[Target] | None, str | None]:
    """The exchangers and addresses to test, or why there are none."""
    from mailprobe.dns import addresses, resolve_exchangers

    try:
        found = await resolve_exchangers(domain, resolver)
    except ProbeError as exc:
        return None, f"the MX lookup failed ({exc.failure.message})"
    if not found:
        return [], "the domain publishes a null MX (it accepts no mail)"

    async def one(preference: int, host: str) -> Target:
        try:
            addrs = await addresses(host, resolver)
        except ProbeError:
            addrs = []
        return Target(preference, host, tuple(addrs))

    targets = list(await asyncio.gather(*(one(p, h) for p, h in found)))
    return targets, None


async def run_check(
    domain: str,
    resolver: Resolver,
    options: CheckOptions | None = None,
    progress: Progress = _no_progress,
) -> CheckReport:
    """Run the whole checklist for ``domain`` and return the report (never prints).

    Raises ``UsageError`` only for a malformed domain or profile; network trouble is in the
    report as findings and failures. ``progress(step, state)`` is called with state
    ``running``, ``done`` or ``skipped`` as steps start and end (for a live display).
    """
    from mailprobe.checks.mx import MxOptions, check_mx
    from mailprobe.dns import parse_domain

    opts = options or CheckOptions()
    if opts.limits is None:
        opts = dataclasses.replace(opts, limits=ConnectionLimits(opts.connections))
    ascii_name, unicode_name = parse_domain(domain)
    if opts.expect:
        get_profile(opts.expect)  # a bad profile is a usage error before any connection
    started = time.monotonic()
    for name in STEPS:
        progress(name, "waiting")
    progress("dns", "running")
    mx_task = asyncio.ensure_future(
        check_mx(ascii_name, [resolver], MxOptions(connect=False, timeout=opts.timeout))
    )
    targets, no_target_reason = await _targets(ascii_name, resolver)

    # Policy lookups start now, alongside SMTP; DANE lookups too (answers cached for later).
    policy_task: asyncio.Future[_Lookups] | None = None
    if targets is not None:
        policy_task = asyncio.ensure_future(_policy_lookups(ascii_name, resolver, targets, opts))
        progress("policy", "running")

    exchanges = _exchanges(targets or [], ascii_name, opts)
    relay_tasks: list[asyncio.Task[RelayReport]] = []

    def start_relay(host: str, address: str) -> asyncio.Task[RelayReport]:
        if not relay_tasks:
            progress("relay", "running")
        task = asyncio.ensure_future(_relay(host, address, ascii_name, opts))
        relay_tasks.append(task)
        return task

    if exchanges:
        progress("reachability", "running")
        progress("smtp", "running")
    exchange_run = asyncio.gather(*(ex.run(start_relay) for ex in exchanges))
    try:
        mx_report = await mx_task
    except BaseException:
        exchange_run.cancel()
        raise
    progress("dns", "done")
    await exchange_run
    progress("reachability", "done" if exchanges else "skipped")
    progress("smtp", "done" if exchanges else "skipped")
    progress("relay", "done" if relay_tasks else "skipped")

    # --- assemble the steps
    dns_findings = list(mx_report.findings)
    if opts.allow_private:
        dns_findings = list(soften_private(dns_findings))
    # Lookup failures are in the MX report already; NXDOMAIN and friends are findings there.
    dns_failures = list(mx_report.failures)
    steps = [make_step("dns", dns_findings, dns_failures)]

    if not exchanges:
        reason = no_target_reason or "no exchanger to test"
        for name in ("reachability", "smtp", "relay"):
            steps.append(make_step(name, skipped=f"DNS step: {reason}"))
    else:
        unreachable = [ex.skipped for ex in exchanges if ex.skipped]
        if any(ex.target.addresses for ex in exchanges):
            steps.append(
                make_step(
                    "reachability",
                    [f for ex in exchanges for f in ex.reach_findings],
                    [f for ex in exchanges for f in ex.reach_failures],
                    skipped_parts=[
                        ex.skipped for ex in exchanges if ex.skipped and not ex.target.addresses
                    ],
                )
            )
        else:
            # Nothing to reach is not "reachable": the DNS step says why (dangling names).
            steps.append(make_step("reachability", skipped="DNS step: no exchanger has an address"))
        smtp_checks = [ex.smtp for ex in exchanges if ex.smtp is not None]
        if smtp_checks:
            steps.append(
                make_step(
                    "smtp",
                    [f for c in smtp_checks for f in c.findings] + _rcpt_note(opts, ascii_name),
                    [c.failure for c in smtp_checks if c.failure is not None],
                    skipped_parts=unreachable,
                )
            )
        else:
            steps.append(make_step("smtp", skipped="Reachability step: no exchanger greeted"))
        if not opts.relay:
            steps.append(make_step("relay", skipped="--no-relay"))
        elif not relay_tasks:
            steps.append(make_step("relay", skipped="Reachability step: no exchanger greeted"))
        else:
            relays = [ex.relay for ex in exchanges if ex.relay is not None]
            steps.append(
                make_step(
                    "relay",
                    [f for r in relays for f in r.findings],
                    [f for r in relays for f in r.failures],
                    skipped_parts=unreachable,
                )
            )

    policy: PolicyReport | None = None
    if policy_task is None:
        steps.append(
            make_step("policy", skipped=f"DNS step: {no_target_reason or 'MX lookup failed'}")
        )
        progress("policy", "skipped")
    else:
        certificates = {
            ex.target.host: [ex.smtp._certificate]
            for ex in exchanges
            if ex.smtp is not None and ex.smtp._certificate is not None
        }
        policy = await _policy_finish(
            ascii_name, resolver, targets or [], policy_task, certificates
        )
        steps.append(make_step("policy", policy.all_findings(), policy.all_failures()))
        progress("policy", "done")

    ordered = sorted(steps, key=lambda s: list(STEPS).index(s.name))
    return CheckReport(
        domain=domain,
        domain_ascii=ascii_name,
        domain_unicode=unicode_name,
        dns_servers=tuple(s.label for s in resolver.servers),
        exchangers=tuple(targets or ()),
        steps=tuple(ordered),
        dns=mx_report,
        reachability=tuple(r for ex in exchanges for r in ex.reach),
        smtp=tuple(ex.smtp for ex in exchanges if ex.smtp is not None),
        relay=tuple(ex.relay for ex in exchanges if ex.relay is not None),
        policy=policy,
        summary=summarize(ordered),
        seconds=round(time.monotonic() - started, 3),
    )


def _rcpt_note(opts: CheckOptions, domain: str) -> list[Finding]:
    if opts.rcpt:
        return []
    return [
        Finding(
            Severity.INFO,
            "smtp.recipient-not-tested",
            f"no recipient of {domain} was tested besides postmaster (give one with --to)",
            "",
            domain,
        )
    ]


async def _relay(host: str, address: str, domain: str, opts: CheckOptions) -> RelayReport:
    from mailprobe.checks.relay import RelayOptions, check_relay

    options = RelayOptions(
        port=opts.smtp_port,
        address=address,
        domain=domain,
        domain_source="checked domain",
        helo=opts.helo,
        connections=opts.connections,
        timeout=opts.timeout,
        session_timeout=opts.session_timeout,
        ca_file=opts.ca_file,
        limits=opts.limits,
    )
    report = await check_relay(host, options)
    # "relay EHLO", like "smtp EHLO": which part of the check the failed step belongs to
    failures = tuple(dataclasses.replace(f, step=f"relay {f.step}") for f in report.failures)
    return dataclasses.replace(report, failures=failures)


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


def _tlsa_hosts(targets: Sequence[Target]) -> list[str]:
    """Exchangers that can have TLSA records: host names, not IP literals (mx.ip-literal
    already reports those; _25._tcp.<address> is no name to ask)."""
    import ipaddress

    names = []
    for target in targets:
        try:
            ipaddress.ip_address(target.host.strip("[]"))
        except ValueError:
            names.append(target.host)
    return names


@dataclasses.dataclass(frozen=True)
class _Lookups:
    spf: SpfReport
    dmarc: DmarcReport
    mta_sts: MtaStsReport
    tls_rpt: TlsRptReport
    dkim: tuple[DkimReport, ...]


async def _policy_lookups(
    domain: str, resolver: Resolver, targets: Sequence[Target], opts: CheckOptions
) -> _Lookups:
    """Everything of the policy step that does not need a certificate, run now."""
    import ssl

    from mailprobe.checks.policy import (
        check_dkim,
        check_dmarc,
        check_mta_sts,
        check_spf,
        check_tlsrpt,
    )

    hosts = _tlsa_hosts(targets)
    addresses = list(dict.fromkeys(a for t in targets for a in t.addresses))
    verify: ssl.SSLContext | bool = True
    if opts.ca_file:
        verify = ssl.create_default_context(cafile=opts.ca_file)
    tlsa = [resolver.query(f"_25._tcp.{h}", "TLSA") for h in hosts]
    spf, dmarc, mta_sts, tls_rpt, dkim, _tlsa = await asyncio.gather(
        check_spf(domain, resolver, addresses, null_mx=not targets),
        check_dmarc(domain, resolver),
        check_mta_sts(
            domain,
            resolver,
            hosts,
            mta_sts_url=opts.mta_sts_url,
            verify=verify,
            timeout=opts.timeout,
        ),
        check_tlsrpt(domain, resolver),
        asyncio.gather(*(check_dkim(domain, s, resolver) for s in opts.dkim_selectors)),
        asyncio.gather(*tlsa),
    )
    return _Lookups(spf, dmarc, mta_sts, tls_rpt, tuple(dkim))


async def _policy_finish(
    domain: str,
    resolver: Resolver,
    targets: Sequence[Target],
    lookups: asyncio.Future[_Lookups],
    certificates: dict[str, list[bytes]],
) -> PolicyReport:
    """DANE with the certificates the SMTP step saw, and the whole policy report."""
    from mailprobe.checks.policy import PolicyReport, check_dane

    found = await lookups
    hosts = _tlsa_hosts(targets)
    dane = await asyncio.gather(*(check_dane(h, resolver, certificates.get(h)) for h in hosts))
    return PolicyReport(
        domain,
        tuple(t.host for t in targets),
        tuple(dict.fromkeys(a for t in targets for a in t.addresses)),
        found.spf,
        found.dmarc,
        found.mta_sts,
        found.tls_rpt,
        tuple(dane),
        found.dkim,
    )
