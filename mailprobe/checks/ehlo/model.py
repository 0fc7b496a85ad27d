"""What a probe is asked (``EhloRequest``) and what it reports: ``EhloReport`` for one server,
``EhloResults`` for ``mailprobe ehlo`` (one probe per server), ``AuthResult``, ``Exchanger``.
"""

from __future__ import annotations

import dataclasses

from mailprobe.checks.ehlo.parse import Advertised
from mailprobe.checks.ehlo.profiles import VerbComparison, VerbProfile
from mailprobe.checks.ehlo.replies import CommandResult
from mailprobe.checks.ehlo.tls import TlsReport
from mailprobe.model import Failure, Finding
from mailprobe.smtp.session import StepTiming, TranscriptLine

#: HELO name used when neither ``--helo``, the config nor the host name gives a usable one.
FALLBACK_HELO = "mailprobe.invalid"


@dataclasses.dataclass(frozen=True)
class EhloRequest:
    """Everything one probe needs; build it in the CLI (or another check) and validate there.

    ``starttls``: None = upgrade when advertised, True = require it, False = never.
    ``password`` never appears in a repr; it is only used for AUTH.
    """

    host: str
    port: int = 25
    address: str | None = None
    helo_name: str = FALLBACK_HELO
    implicit_tls: bool = False
    starttls: bool | None = None
    insecure: bool = False
    ca_file: str | None = None
    #: The name the certificate must carry; None = the host (or MX name) probed.
    tls_name: str | None = None
    profile: VerbProfile | None = None
    user: str | None = None
    password: str | None = dataclasses.field(default=None, repr=False)
    auth_mechanism: str | None = None
    sender: str | None = None
    recipients: tuple[str, ...] = ()
    send_data: bool = False
    subject: str = "mailprobe test message"
    body: str = "This is a test message from mailprobe: the server accepts mail."
    timeout: float = 10.0
    session_timeout: float = 60.0


@dataclasses.dataclass(frozen=True)
class AuthResult:
    """What happened with AUTH: which mechanism, over TLS or not, and the server's answer."""

    user: str
    mechanism: str | None
    offered: tuple[str, ...]
    over_tls: bool
    attempted: bool
    succeeded: bool
    reply: CommandResult | None


@dataclasses.dataclass(frozen=True)
class EhloReport:
    """One probed server: banner, verbs, TLS, AUTH, envelope replies, findings, transcript.

    ``failure`` is set when a step could not complete; the fields hold what was seen until then.
    ``greeting_command`` is EHLO, or HELO when the server refused EHLO.
    """

    host: str
    address: str | None
    port: int
    helo_name: str
    implicit_tls: bool
    banner: tuple[str, ...]
    banner_code: int | None
    greeting_command: str | None
    advertised: Advertised | None
    advertised_after_tls: Advertised | None
    verbs_only_after_tls: tuple[str, ...]
    comparison: VerbComparison | None
    tls: TlsReport | None
    auth: AuthResult | None
    mail: CommandResult | None
    rcpt: tuple[CommandResult, ...]
    data: CommandResult | None
    message_id: str | None
    message_sent: bool
    findings: tuple[Finding, ...]
    failure: Failure | None
    transcript: tuple[TranscriptLine, ...]
    timings: tuple[StepTiming, ...]

    @property
    def subject(self) -> str:
        """``host [address]:port`` for headings and finding subjects."""
        return _subject(self.host, self.address, self.port)


def _subject(host: str, address: str | None, port: int) -> str:
    if address and address != host:
        return f"{host} [{address}]:{port}"
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


@dataclasses.dataclass(frozen=True)
class Exchanger:
    """A mail exchanger of the ``--mx`` domain."""

    preference: int
    host: str
    addresses: tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class EhloResults:
    """The result of ``mailprobe ehlo``: one probe per server (one unless ``--mx --all``).

    ``mx_domain``/``exchangers`` are set with ``--mx``; ``failure`` when the MX lookup failed.
    """

    mx_domain: str | None
    exchangers: tuple[Exchanger, ...]
    probes: tuple[EhloReport, ...]
    failure: Failure | None = None

    @property
    def findings(self) -> tuple[Finding, ...]:
        """Findings of every probe."""
        return tuple(f for probe in self.probes for f in probe.findings)

    @property
    def failures(self) -> tuple[Failure, ...]:
        """Failures of the lookup and of every probe."""
        own = (self.failure,) if self.failure else ()
        return own + tuple(p.failure for p in self.probes if p.failure is not None)
