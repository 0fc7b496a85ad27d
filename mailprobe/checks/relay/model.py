"""The request and result types of the relay battery.

``RelayOptions`` says how to run the battery and checks what the user gave before any
connection. ``VariantResult``, ``EnumerationResult``, ``AuthRelayResult``, ``SendResult`` and
``ConnectionTranscript`` record what happened; ``RelayReport`` is everything found about one
server address and ``RelayRun`` one ``relay-test`` run over one or several of them, with its
exit code (``report_exit_code``). ``Outcome``, ``Verdict``, ``AuthOutcome`` and ``SendOutcome``
name the possible values. These are the shapes of the ``--json`` output (``mailprobe.schema``).
"""

from __future__ import annotations

import dataclasses
import re
import secrets
from collections.abc import Awaitable, Callable
from typing import Literal

from mailprobe.checks.relay.names import check_address, check_domain
from mailprobe.checks.relay.variants import BatteryNames, SkippedVariant, VariantKind
from mailprobe.errors import InputError, UsageError
from mailprobe.model import ExitCode, Failure, Finding, worst_exit_code
from mailprobe.outcome import exit_code
from mailprobe.smtp.session import ConnectionLimits, Reply, TranscriptLine
from mailprobe.text import has_control_chars

Outcome = Literal[
    "accepted",
    "rejected",
    "refused-temporarily",
    "deferred",
    "auth-required",
    "mail-refused",
    "mail-deferred",
    "error",
    "not-tested",
]
Verdict = Literal["open", "closed", "inconclusive"]
#: What one relay variant shows, the verdict's evidence (``verdict.judge``):
#: refused (at RCPT), sender-refused (MAIL refused: not tested), accepted-external (RCPT
#: accepted for another domain), accepted-rerouted (an own-domain form such as
#: user%ext@own accepted by a server that refuses unknown local users: it reroutes),
#: unconfirmed-local (an own-domain form accepted by a server that takes any local part: no
#: evidence either way), relayed (--send: the message was accepted), refused-at-data
#: (--send: refused at DATA or after the message), deferred (4xx), limited (421, rate or
#: connection limits), desync (replies out of step: the session's answers were discarded),
#: error, not-tested.
Evidence = Literal[
    "refused",
    "sender-refused",
    "accepted-external",
    "accepted-rerouted",
    "unconfirmed-local",
    "relayed",
    "refused-at-data",
    "deferred",
    "limited",
    "desync",
    "error",
    "not-tested",
]


VERDICT_LABELS: dict[str, str] = {
    "open": "OPEN RELAY",
    "closed": "CLOSED",
    "inconclusive": "INCONCLUSIVE",
}


DEFAULT_EXTERNAL = "example.net"
DEFAULT_RECIPIENT_USER = "relaytest"
DEFAULT_SENDER_USER = "mailprobe"


# --- options ----------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class RelayOptions:
    """How to run the battery. ``per_connection`` stays below Postfix's soft error limit (10)."""

    port: int = 25
    address: str | None = None
    domain: str | None = None
    #: Where ``domain`` came from, shown next to it: "option" (--domain), "--mx", or check's.
    domain_source: str = "option"
    external: str | None = None
    to: str | None = None
    sender: str | None = None
    helo: str = "localhost"
    connections: int = 4
    per_connection: int = 8
    max_reconnects: int = 32
    max_attempts: int = 3
    retry_delay: float = 1.0
    timeout: float = 10.0
    session_timeout: float = 60.0
    starttls: bool = False
    send: bool = False
    user: str | None = None
    password: str | None = None
    auth_mechanism: str | None = None
    tls_verify: bool = False
    ca_file: str | None = None
    probes: bool = True
    ptr_lookup: Callable[[str], Awaitable[str | None]] | None = None
    #: Connections per address shared with the other probes of a run (check), if any.
    limits: ConnectionLimits | None = None

    def validated(self) -> RelayOptions:
        """Refuse control characters and malformed names (exit 2) before any connection."""
        if not 1 <= self.connections <= 32:
            raise InputError("connections", "must be between 1 and 32")
        if self.domain is not None:
            check_domain(self.domain, "domain")
        if self.external is not None:
            check_domain(self.external, "external")
        if self.to is not None:
            check_address(self.to, "to")
        if self.sender is not None:
            if "@" in self.sender:
                check_address(self.sender, "sender")
            elif not re.fullmatch(r"[A-Za-z0-9!#$&'*+/=?^_`{|}~.-]{1,64}", self.sender):
                raise InputError("sender", f"{self.sender!r} is not a local part or an address")
        if has_control_chars(self.helo):
            raise InputError("helo", "contains a control character (CR, LF, ...): refused")
        if self.send and self.to is None:
            raise InputError("send", "needs <to> ADDRESS (a mailbox you read)")
        if (self.user is None) != (self.password is None):
            raise UsageError("give both a user and a password for the authenticated check")
        return self

    def names(
        self, own_domain: str | None, host_name: str | None, literal: str | None
    ) -> BatteryNames:
        """The names the variants are built from."""
        if self.to is not None:
            user, _, external = self.to.rpartition("@")
        else:
            user, external = DEFAULT_RECIPIENT_USER, DEFAULT_EXTERNAL
        if self.external is not None and self.to is None:
            external = self.external.rstrip(".")
        sender_user = DEFAULT_SENDER_USER
        sender: str
        if self.sender and "@" in self.sender:
            sender = self.sender
        else:
            sender_user = self.sender or DEFAULT_SENDER_USER
            sender = f"{sender_user}@{(self.external or external).rstrip('.')}"
        return BatteryNames(
            external_domain=external,
            recipient_user=user,
            sender=sender,
            own_domain=own_domain,
            host_name=host_name,
            literal=literal,
            random_user=f"mailprobe-nonexistent-{secrets.token_hex(5)}",
        )


# --- results ----------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class VariantResult:
    """One variant as sent, the replies, and what they mean."""

    name: str
    group: str
    kind: VariantKind
    title: str
    mail_from: str
    rcpt_to: str
    outcome: Outcome
    mail_reply: Reply | None = None
    rcpt_reply: Reply | None = None
    connection: str | None = None
    attempts: int = 0
    note: str = ""
    evidence: Evidence = "not-tested"


@dataclasses.dataclass(frozen=True)
class EnumerationResult:
    """VRFY and EXPN answers (user enumeration), for information."""

    vrfy_known: Reply | None
    vrfy_unknown: Reply | None
    expn: Reply | None
    vrfy_reveals_users: bool
    expn_enabled: bool


AuthOutcome = Literal[
    "accepted", "refused", "undecided", "auth-failed", "auth-unavailable", "error"
]


@dataclasses.dataclass(frozen=True)
class AuthRelayResult:
    """The plain variant repeated in an authenticated session."""

    user: str
    mechanism: str | None
    tls: bool
    outcome: AuthOutcome
    auth_reply: Reply | None = None
    mail_reply: Reply | None = None
    rcpt_reply: Reply | None = None
    mail_from: str = ""
    rcpt_to: str = ""
    note: str = ""


SendOutcome = Literal["accepted", "rejected-at-data", "refused-before-data", "error"]


@dataclasses.dataclass(frozen=True)
class SendResult:
    """``--send``: one real message through the first accepted variant, to the user's address."""

    variant: str
    mail_from: str
    rcpt_to: str
    outcome: SendOutcome
    mail_reply: Reply | None = None
    rcpt_reply: Reply | None = None
    data_reply: Reply | None = None
    note: str = ""


@dataclasses.dataclass(frozen=True)
class ConnectionTranscript:
    """The recorded lines of one connection, labelled."""

    label: str
    address: str | None
    port: int
    items: tuple[str, ...]
    lines: tuple[TranscriptLine, ...]


@dataclasses.dataclass(frozen=True)
class RelayReport:
    """Everything ``relay-test`` found about one server address."""

    target: str
    address: str | None
    port: int
    verdict: Verdict
    reason: str
    accepted_variants: tuple[str, ...]
    server_name: str | None
    own_domain: str | None
    own_domain_source: str
    address_literal: str | None
    external_domain: str
    variants: tuple[VariantResult, ...]
    probes: tuple[VariantResult, ...]
    skipped: tuple[SkippedVariant, ...]
    enumeration: EnumerationResult | None
    authenticated: AuthRelayResult | None
    sent: SendResult | None
    connections_opened: int
    reconnects: int
    seconds: float
    findings: tuple[Finding, ...]
    failures: tuple[Failure, ...] = ()
    #: The relay variants the verdict rests on (accepted, relayed, or all refused).
    deciding_variants: tuple[str, ...] = ()
    #: --send: every message tried, in order (``sent`` is the one that decided).
    sends: tuple[SendResult, ...] = ()
    #: Sessions whose replies fell out of step with the commands (their answers discarded).
    desynced_sessions: int = 0
    _transcripts: tuple[ConnectionTranscript, ...] = ()

    @property
    def verdict_label(self) -> str:
        """OPEN RELAY, CLOSED or INCONCLUSIVE."""
        return VERDICT_LABELS[self.verdict]

    @property
    def transcripts(self) -> tuple[ConnectionTranscript, ...]:
        """Every connection's transcript (not part of the JSON; see ``--transcript``)."""
        return self._transcripts


@dataclasses.dataclass(frozen=True)
class RelayRun:
    """One ``relay-test`` run: a server, or every exchanger address of ``mx_domain``."""

    mx_domain: str | None
    verdict: Verdict
    reason: str
    reports: tuple[RelayReport, ...]
    failures: tuple[Failure, ...] = ()

    @property
    def verdict_label(self) -> str:
        """OPEN RELAY, CLOSED or INCONCLUSIVE."""
        return VERDICT_LABELS[self.verdict]

    def exit_codes(self) -> list[int]:
        """Each report's exit code (see ``report_exit_code``), plus 3 for run-level failures."""
        codes = [int(report_exit_code(r)) for r in self.reports]
        if self.failures:
            codes.append(int(ExitCode.INCOMPLETE))
        return codes

    def exit_code(self) -> ExitCode:
        """The run's exit code: the worst of its reports (3 when nothing could be tested)."""
        codes = self.exit_codes()
        return worst_exit_code(codes) if codes else ExitCode.INCOMPLETE


def report_exit_code(report: RelayReport) -> ExitCode:
    """The exit code of one server's relay test, decided by the verdict.

    CLOSED is 0 and OPEN RELAY or INCONCLUSIVE is 1 (issue: the verdict decides); a failure
    finding (e.g. a message accepted with ``--send``) or a warning about something the user
    asked for (AUTH that failed) also makes it 1, and a server that could not be tested at all
    is 3. The internal-spoofing warning is advice beside the verdict: it is reported (and
    counts in ``check``) but leaves a CLOSED relay test at exit 0.
    """
    if report.failures and not report.variants:
        # Nothing tested: the failure class decides (3 unreachable, 1 a server that answered
        # badly), as in every other command.
        return exit_code(report.findings, report.failures)
    if report.verdict != "closed":
        return ExitCode.PROBLEM
    # Failures after the battery started only make the verdict INCONCLUSIVE (exit 1, above).
    return exit_code(report.findings)
