"""The options and result types of ``mailprobe check``.

``CheckOptions`` says what ``run_check`` does (built and validated by the CLI). ``CheckReport``
is the whole checklist of one domain: the exchangers as tested (``Target``), one ``StepResult``
per step (``STEPS``, in report order), the per-address ``Reachability``, one ``SmtpCheck`` per
exchanger, the relay and policy reports, and the ``Summary``. These are the shapes of the
``--json`` output (``mailprobe.schema``).
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Literal

from mailprobe.checks.ehlo import FALLBACK_HELO, CommandResult, TlsReport, VerbComparison
from mailprobe.model import ExitCode, Failure, Finding
from mailprobe.smtp.servers import ServerGuess
from mailprobe.smtp.session import ConnectionLimits, TranscriptLine

if TYPE_CHECKING:
    from mailprobe.checks.blocklist import CheckedItem, ZoneHealth
    from mailprobe.checks.check.shared import ExchangerCache
    from mailprobe.checks.mx import MxReport
    from mailprobe.checks.policy import PolicyReport
    from mailprobe.checks.relay import RelayReport
    from mailprobe.checks.tls_scan.model import ServerTls

StepName = Literal["dns", "reachability", "smtp", "relay", "blocklist", "policy"]
StepStatus = Literal["ok", "problem", "incomplete", "skipped"]

#: The checklist, in report order: step name -> section title.
STEPS: dict[str, str] = {
    "dns": "DNS",
    "reachability": "Reachability",
    "smtp": "SMTP",
    "relay": "Relay",
    "blocklist": "Blocklists",
    "policy": "Policy records",
}


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
    #: Look every public exchanger address (and the domain) up on DNS blocklists.
    blocklist: bool = True
    #: Run the full TLS enumeration of ``mailprobe tls`` on each exchanger (``--tls-scan``).
    tls_scan: bool = False
    #: The lists (``--zone`` specs of ``mailprobe blocklist``); empty: the default set.
    blocklist_zones: tuple[str, ...] = ()
    connections: int = 4
    #: New connections per minute per exchanger address (None: no rate).
    connect_rate: int | None = 30
    mta_sts_url: str | None = None
    ca_file: str | None = None
    dkim_selectors: tuple[str, ...] = ()
    allow_private: bool = False
    timeout: float = 10.0
    session_timeout: float = 60.0
    #: Connections at once per exchanger address, SMTP step and relay battery together (a
    #: run may share one across domains); None: ``connections`` per address for this check.
    limits: ConnectionLimits | None = None
    #: The exchanger probes shared by the domains of a run (``shared.ExchangerCache``); None:
    #: this check alone (a private cache that keeps no connection open after it).
    cache: ExchangerCache | None = None

    def new_limits(self) -> ConnectionLimits:
        """The connection limits these options ask for (one per run, shared by its domains)."""
        return ConnectionLimits(self.connections, self.connect_rate)


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


ChangeArea = Literal[
    "domain",
    "exit-code",
    "mx",
    "address",
    "spf",
    "dmarc",
    "dmarc-policy",
    "mta-sts",
    "mta-sts-mode",
    "tls-rpt",
    "finding",
    "certificate",
    "relay",
]
ChangeKind = Literal["added", "removed", "changed"]


@dataclasses.dataclass(frozen=True)
class Change:
    """One difference from the same domain in the baseline run (``check --baseline``).

    ``area`` says what changed, ``subject`` which one (an exchanger, an address, a finding's
    code and subject; empty for the domain's own records), ``before``/``after`` the values as
    text (None when absent on that side) and ``regression`` whether it got worse.
    """

    area: ChangeArea
    kind: ChangeKind
    subject: str
    before: str | None
    after: str | None
    regression: bool
    summary: str


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
    #: The blocklist step: every public exchanger address and the domain, each list's answer.
    blocklist: tuple[CheckedItem, ...] = ()
    #: The lists asked and whether their answers could be used (their self-test).
    blocklist_zones: tuple[ZoneHealth, ...] = ()
    #: ``--tls-scan``: the full TLS enumeration of each exchanger (as ``mailprobe tls``).
    tls_scan: tuple[ServerTls, ...] = ()
    #: What changed since the same domain in the ``--baseline`` run; empty without one.
    changes: tuple[Change, ...] = ()

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
