"""The relay battery of ``mailprobe relay-test``: variants, concurrent sessions, verdict.

The variants live in ``mailprobe/data/relay_variants.toml``; ``build_variants`` fills their
templates from what the battery knows about the server (its own domain, host name and address
literal) and the external test domain. ``check_relay`` runs them on a few concurrent SMTP
sessions (``SmtpSession``), each variant as MAIL FROM then RCPT TO followed by RSET; only the
RCPT reply decides. DATA is sent only with ``send=True`` and only to the user's own address.

Why several connections: Postfix and others slow down a client after a number of rejected
commands (``smtpd_error_sleep_time`` after ``smtpd_soft_error_limit``) and drop it at a hard
limit. Spreading the variants over ``connections`` sessions, and opening a fresh session before
one has collected ``per_connection`` errors, keeps every session below those limits. A server
that drops sessions earlier teaches the battery a smaller budget; 421 replies end a session and
the variant is retried later on a new one, a bounded number of times.

Public API: ``RelayOptions``, ``check_relay(host, options)``, ``check_relay_exchangers(...)``,
the pure helpers ``load_templates``, ``build_variants``, ``classify``, ``decide``,
``server_name_from_greeting``, ``parent_domain``, ``address_literal``, ``relay_findings``, and
the result types ``RelayReport``, ``VariantResult``, ``EnumerationResult``, ``AuthRelayResult``,
``SendResult``.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import functools
import ipaddress
import re
import secrets
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Literal

from mailprobe.checks.smtp import Reply, SmtpSession, TranscriptLine, check_argument
from mailprobe.errors import ProbeError, UsageError
from mailprobe.model import ExitCode, Failure, Finding, Severity, exit_code_for, worst_exit_code

if TYPE_CHECKING:
    from mailprobe.dns import Resolver

VariantKind = Literal["relay", "probe"]
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

#: Outcomes that show the server refused to relay the variant.
CLOSED_OUTCOMES: frozenset[str] = frozenset({"rejected", "refused-temporarily", "auth-required"})
#: Outcomes that leave the variant undecided (the verdict cannot be CLOSED with any of these).
PENDING_OUTCOMES: frozenset[str] = frozenset({"deferred", "mail-deferred", "error", "not-tested"})

VERDICT_LABELS: dict[str, str] = {
    "open": "OPEN RELAY",
    "closed": "CLOSED",
    "inconclusive": "INCONCLUSIVE",
}

#: AUTH mechanisms the authenticated relay check can use, in order of preference.
AUTH_MECHANISMS: tuple[str, ...] = ("PLAIN", "LOGIN", "CRAM-MD5")

DEFAULT_EXTERNAL = "example.net"
DEFAULT_RECIPIENT_USER = "relaytest"
DEFAULT_SENDER_USER = "mailprobe"

_TOKEN = re.compile(r"\{([A-Za-z.]+)\}")
_HOST_NAME = re.compile(
    r"^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,62})(?:\.[A-Za-z0-9-]{1,63})+\.?$"
)
# A 4xx reply to RCPT that still says "relaying is not allowed": Postfix's default
# defer_unauth_destination answers "454 4.7.1 <...>: Relay access denied".
_TEMPORARY_RELAY_REFUSAL = re.compile(r"\brelay", re.IGNORECASE)


# --- the variant table --------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class VariantTemplate:
    """One row of ``relay_variants.toml``: a MAIL FROM / RCPT TO pair with tokens."""

    name: str
    group: str
    kind: VariantKind
    title: str
    mail_from: str
    rcpt_to: str


@dataclasses.dataclass(frozen=True)
class Variant:
    """A variant with its addresses filled in, ready to send."""

    name: str
    group: str
    kind: VariantKind
    title: str
    mail_from: str
    rcpt_to: str


@dataclasses.dataclass(frozen=True)
class SkippedVariant:
    """A variant left out because a name it needs is unknown (e.g. no host name)."""

    name: str
    reason: str


@dataclasses.dataclass(frozen=True)
class BatteryNames:
    """What the variants are built from."""

    external_domain: str
    recipient_user: str
    sender: str
    own_domain: str | None
    host_name: str | None
    literal: str | None
    random_user: str = "mailprobe-nonexistent"

    @property
    def sender_user(self) -> str:
        """The local part of the external sender."""
        return self.sender.rpartition("@")[0] if "@" in self.sender else self.sender


@functools.lru_cache(maxsize=1)
def load_templates() -> tuple[VariantTemplate, ...]:
    """The bundled variant table, in table order."""
    import importlib.resources
    import tomllib

    text = (
        importlib.resources.files("mailprobe.data")
        .joinpath("relay_variants.toml")
        .read_text("utf-8")
    )
    rows = tomllib.loads(text)["variant"]
    templates = []
    for row in rows:
        kind = row.get("kind", "relay")
        if kind not in ("relay", "probe"):
            raise ValueError(f"relay_variants.toml: {row['name']}: bad kind {kind!r}")
        templates.append(
            VariantTemplate(
                name=row["name"],
                group=row["group"],
                kind=kind,
                title=row["title"],
                mail_from=row["mail_from"],
                rcpt_to=row["rcpt_to"],
            )
        )
    names = [t.name for t in templates]
    if len(set(names)) != len(names):
        raise ValueError("relay_variants.toml: duplicate variant names")
    return tuple(templates)


def _token_values(names: BatteryNames) -> dict[str, str | None]:
    def upper(value: str | None) -> str | None:
        return value.upper() if value else None

    def dot(value: str | None) -> str | None:
        return value.rstrip(".") + "." if value else None

    host = names.host_name
    if host and names.own_domain and host.lower() == names.own_domain.lower():
        host = None  # the {host} variants would repeat the {own} ones
    return {
        "sender": names.sender,
        "from": names.sender_user,
        "user": names.recipient_user,
        "external": names.external_domain,
        "EXTERNAL": upper(names.external_domain),
        "external.": dot(names.external_domain),
        "own": names.own_domain,
        "OWN": upper(names.own_domain),
        "own.": dot(names.own_domain),
        "host": host,
        "HOST": upper(host),
        "literal": names.literal,
        "random": names.random_user,
    }


def fill_template(template: str, values: dict[str, str | None]) -> str | None:
    """Replace ``{token}``s; None when a token has no value (the variant is skipped)."""
    missing = False

    def replace(match: re.Match[str]) -> str:
        nonlocal missing
        value = values.get(match.group(1))
        if value is None:
            missing = True
            return ""
        return value

    filled = _TOKEN.sub(replace, template)
    return None if missing else filled


def build_variants(
    names: BatteryNames, templates: Iterable[VariantTemplate] | None = None
) -> tuple[tuple[Variant, ...], tuple[SkippedVariant, ...]]:
    """Fill the variant table; variants needing an unknown name are returned as skipped."""
    values = _token_values(names)
    variants: list[Variant] = []
    skipped: list[SkippedVariant] = []
    for template in load_templates() if templates is None else templates:
        mail_from = fill_template(template.mail_from, values)
        rcpt_to = fill_template(template.rcpt_to, values)
        if mail_from is None or rcpt_to is None:
            needed = sorted(
                {
                    token
                    for token in _TOKEN.findall(template.mail_from + template.rcpt_to)
                    if values.get(token) is None
                }
            )
            skipped.append(SkippedVariant(template.name, _skip_reason(needed)))
            continue
        variants.append(
            Variant(
                name=template.name,
                group=template.group,
                kind=template.kind,
                title=template.title,
                mail_from=mail_from,
                rcpt_to=rcpt_to,
            )
        )
    return tuple(variants), tuple(skipped)


_SKIP_REASONS = {
    "own": "own domain unknown (give --domain)",
    "host": "no separate host name in the greeting",
    "literal": "address literal unknown",
}


def _skip_reason(tokens: Sequence[str]) -> str:
    for token in tokens:
        base = token.strip(".").lower()
        if base in _SKIP_REASONS:
            return _SKIP_REASONS[base]
    return "needs " + ", ".join(tokens)


# --- names the battery is built from ---------------------------------------------------------


def server_name_from_greeting(banner: Reply | None, ehlo: Reply | None) -> str | None:
    """The host name a server gives in its 220 banner, else in its EHLO/HELO reply."""
    for reply in (banner, ehlo):
        if reply is None or not reply.lines:
            continue
        words = reply.lines[0].split()
        if words and _HOST_NAME.match(words[0]) and not _is_ip(words[0]):
            return words[0].rstrip(".").lower()
    return None


def parent_domain(host_name: str) -> str:
    """``mx1.example.org`` -> ``example.org``; a name of two labels is its own domain."""
    labels = host_name.rstrip(".").lower().split(".")
    return ".".join(labels[1:]) if len(labels) >= 3 else ".".join(labels)


def address_literal(address: str) -> str:
    """The SMTP address literal of an IP address: ``[192.0.2.1]``, ``[IPv6:2001:db8::1]``."""
    ip = ipaddress.ip_address(address.strip("[]"))
    return f"[IPv6:{ip}]" if ip.version == 6 else f"[{ip}]"


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text.strip("[]"))
    except ValueError:
        return False
    return True


#: Networks from which a tester is probably inside the server's trusted networks: loopback,
#: RFC 1918, shared address space (RFC 6598), link-local, IPv6 unique-local and link-local.
INSIDE_NETWORKS = tuple(
    ipaddress.ip_network(net)
    for net in (
        "127.0.0.0/8",
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "100.64.0.0/10",
        "169.254.0.0/16",
        "::1/128",
        "fc00::/7",
        "fe80::/10",
    )
)


def is_inside_address(address: str | None) -> bool:
    """Loopback, private or link-local: the tester is probably inside the trusted networks."""
    if not address:
        return False
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(ip in net for net in INSIDE_NETWORKS)


def check_domain(value: str, what: str) -> str:
    """A domain name given by the user: no control characters, a plausible host name."""
    check_argument(value, what)
    if not _HOST_NAME.match(value) and not _is_single_label(value):
        raise UsageError(f"{what} {value!r} is not a domain name")
    return value.rstrip(".")


def _is_single_label(value: str) -> bool:
    return bool(re.fullmatch(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,62})", value))


def check_address(value: str, what: str) -> str:
    """An envelope address given by the user: printable, one ``@``, no spaces or brackets."""
    check_argument(value, what)
    local, at, domain = value.rpartition("@")
    if not at or not local or not domain or any(ch in value for ch in " <>"):
        raise UsageError(f"{what} {value!r} is not an address like user@example.org")
    check_domain(domain, f"{what} domain")
    return value


# --- classification ----------------------------------------------------------------------


def classify(mail: Reply | None, rcpt: Reply | None) -> Outcome:
    """The outcome of one variant from its MAIL and RCPT replies; only RCPT can say accepted.

    A 4xx to RCPT that names relaying (Postfix's ``454 4.7.1 Relay access denied``) is a
    refusal, only a temporary one; any other 4xx leaves the variant undecided.
    """
    if mail is None:
        return "not-tested"
    if mail.code == 530:
        return "auth-required"
    if mail.category != "accepted":
        return "mail-deferred" if mail.category == "deferred" else "mail-refused"
    if rcpt is None:
        return "error"
    if rcpt.code == 530:
        return "auth-required"
    category = rcpt.category
    if category == "accepted":
        return "accepted"
    if category == "rejected":
        return "rejected"
    if category == "deferred":
        if _TEMPORARY_RELAY_REFUSAL.search(rcpt.text):
            return "refused-temporarily"
        return "deferred"
    return "error"


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


def decide(results: Sequence[VariantResult], stop_reason: str | None = None) -> tuple[Verdict, str]:
    """The battery's verdict and its reason from the relay variants' outcomes.

    OPEN if any variant was accepted; else INCONCLUSIVE if any is undecided (deferred, error,
    not tested) or none reached RCPT; else CLOSED. Variants whose MAIL FROM was refused were
    not tested; they do not stop a CLOSED verdict when others were rejected at RCPT.
    """
    relay = [r for r in results if r.kind == "relay"]
    accepted = [r.name for r in relay if r.outcome == "accepted"]
    if accepted:
        return "open", f"{len(accepted)} of {len(relay)} variants accepted: {', '.join(accepted)}"
    counts = collections.Counter(r.outcome for r in relay)
    pending = {k: v for k, v in counts.items() if k in PENDING_OUTCOMES}
    if pending or not relay:
        parts = [f"{n} {_OUTCOME_PHRASES[k]}" for k, n in sorted(pending.items())]
        reason = "; ".join(parts) if parts else "no variant was run"
        if stop_reason:
            reason = f"{stop_reason}; {reason}"
        return "inconclusive", f"battery not completed: {reason}"
    closed = sum(n for k, n in counts.items() if k in CLOSED_OUTCOMES)
    if closed == 0:
        return (
            "inconclusive",
            "the server refused every test sender at MAIL FROM, so no recipient was tried",
        )
    reason = f"all {closed} variants tried were refused"
    if counts["auth-required"]:
        reason += f" ({counts['auth-required']} with 530 authentication required)"
    if counts["mail-refused"]:
        reason += f"; {counts['mail-refused']} not tested because MAIL FROM was refused"
    return "closed", reason


_OUTCOME_PHRASES = {
    "deferred": "deferred (4xx)",
    "mail-deferred": "deferred at MAIL FROM (4xx)",
    "error": "failed (connection dropped or timed out)",
    "not-tested": "not tested",
}


# --- extra results ---------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class EnumerationResult:
    """VRFY and EXPN answers (user enumeration), for information."""

    vrfy_known: Reply | None
    vrfy_unknown: Reply | None
    expn: Reply | None
    vrfy_reveals_users: bool
    expn_enabled: bool


def enumeration_from(
    vrfy_known: Reply | None, vrfy_unknown: Reply | None, expn: Reply | None
) -> EnumerationResult:
    """VRFY reveals users when a real and a made-up name get different kinds of answer."""
    reveals = (
        vrfy_known is not None
        and vrfy_unknown is not None
        and vrfy_known.category == "accepted"
        and vrfy_unknown.category in ("rejected", "deferred")
    )
    return EnumerationResult(
        vrfy_known=vrfy_known,
        vrfy_unknown=vrfy_unknown,
        expn=expn,
        vrfy_reveals_users=reveals,
        expn_enabled=expn is not None and expn.code in (250, 251),
    )


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
    _transcripts: tuple[ConnectionTranscript, ...] = ()

    @property
    def verdict_label(self) -> str:
        """OPEN RELAY, CLOSED or INCONCLUSIVE."""
        return VERDICT_LABELS[self.verdict]

    @property
    def transcripts(self) -> tuple[ConnectionTranscript, ...]:
        """Every connection's transcript (not part of the JSON; see ``--transcript``)."""
        return self._transcripts


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

    def validated(self) -> RelayOptions:
        """Refuse control characters and malformed names (exit 2) before any connection."""
        if not 1 <= self.connections <= 32:
            raise UsageError("--connections must be between 1 and 32")
        if self.domain is not None:
            check_domain(self.domain, "--domain")
        if self.external is not None:
            check_domain(self.external, "--external")
        if self.to is not None:
            check_address(self.to, "--to")
        if self.sender is not None:
            check_argument(self.sender, "--from")
            if "@" in self.sender:
                check_address(self.sender, "--from")
            elif not re.fullmatch(r"[A-Za-z0-9!#$&'*+/=?^_`{|}~.-]{1,64}", self.sender):
                raise UsageError(f"--from {self.sender!r} is not a local part or an address")
        check_argument(self.helo, "--helo")
        if self.send and self.to is None:
            raise UsageError("--send needs --to ADDRESS (a mailbox you read)")
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


# --- the engine -------------------------------------------------------------------------------


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
            await conn.session.quit()

    # -- the work loop --

    async def worker(self, conn: _Conn | None) -> None:
        """Take items from the queue until it is empty or the battery stops."""
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
                        self.active -= 1
                        if self.active == 0:
                            self.stop(f"could not open a new session: {_why(exc.failure)}")
                        return
                    await asyncio.sleep(self.options.retry_delay)
                    continue
                failures_in_a_row = 0
            conn.items.append(item.label)
            try:
                await self.run_item(conn, item)
            except (_Dropped, ProbeError) as exc:
                said_421 = isinstance(exc, _Dropped) and exc.said_421
                why = exc.why if isinstance(exc, _Dropped) else _why(exc.failure)
                conn.session.close()
                if isinstance(exc, _Dropped) and exc.before_item:
                    self.queue.appendleft(item)
                else:
                    self.retry(item, why)
                self.dropped(conn, why)
                conn = None
                if said_421:
                    await asyncio.sleep(self.options.retry_delay)
        self.active -= 1
        await self.finish(conn)

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
        for verb, argument in (
            ("VRFY", "postmaster"),
            ("VRFY", names.random_user),
            ("EXPN", "postmaster"),
        ):
            reply = await session.command(verb, argument, step=verb)
            _check_421(reply, verb)
            if reply.code >= 400:
                conn.errors += 1
            replies.append(reply)
        self.enumeration = enumeration_from(*replies)

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
            words = re.split(r"[ =]", line.strip())
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


# --- findings ----------------------------------------------------------------------------------


def relay_findings(
    *,
    verdict: Verdict,
    reason: str,
    variants: Sequence[VariantResult],
    probes: Sequence[VariantResult],
    skipped: Sequence[SkippedVariant],
    address: str | None,
    own_domain: str | None,
    enumeration: EnumerationResult | None,
    authenticated: AuthRelayResult | None,
    sent: SendResult | None,
    reconnects: int,
) -> tuple[Finding, ...]:
    """Turn the battery's results into findings (codes ``relay.*``), worst first."""
    found: list[Finding] = []
    subject = address or ""
    accepted = [v.name for v in variants if v.outcome == "accepted"]
    probe = {p.name: p for p in probes}
    if verdict == "open":
        found.append(
            Finding(
                Severity.FAIL,
                "relay.open",
                f"OPEN RELAY: the server accepted anonymous relaying ({reason})",
                "Allow relaying only for authenticated users and trusted networks "
                "(Postfix: smtpd_relay_restrictions = permit_mynetworks, "
                "permit_sasl_authenticated, reject_unauth_destination; Exchange: keep the "
                "default relay restrictions).",
                subject,
            )
        )
    elif verdict == "closed":
        found.append(Finding(Severity.OK, "relay.closed", f"CLOSED: {reason}", "", subject))
    else:
        found.append(
            Finding(
                Severity.WARN,
                "relay.inconclusive",
                f"INCONCLUSIVE: {reason}",
                "Run again later (greylisting, rate limits), with fewer --connections, or from "
                "another network; see the transcript (--transcript FILE).",
                subject,
            )
        )
    if accepted and sent is None:
        found.append(
            Finding(
                Severity.INFO,
                "relay.rcpt-only",
                "Relaying was judged from the RCPT TO reply only; some servers accept "
                "recipients and refuse or drop the message later",
                "Confirm with --send --to ADDRESS (a mailbox you read).",
                subject,
            )
        )
    if sent is not None:
        found.append(_send_finding(sent, subject))
    unknown = probe.get("local-unknown")
    if unknown is not None and unknown.outcome == "accepted":
        found.append(
            Finding(
                Severity.INFO,
                "relay.accepts-unknown-recipients",
                f"The server accepted a made-up recipient <{unknown.rcpt_to}>: it accepts every "
                "recipient at RCPT time (catch-all, or accept-then-discard/bounce), so an "
                "accepted variant may be a false positive",
                "Confirm with --send --to ADDRESS; servers that accept everything and discard "
                "later are not relays (Microsoft KB Q304897).",
                subject,
            )
        )
    if is_inside_address(address):
        found.append(
            Finding(
                Severity.INFO,
                "relay.trusted-network",
                f"The target {address} is a loopback or private address: this test probably "
                "ran from inside the server's trusted networks, which may relay legitimately",
                "Repeat the test from a host outside the server's networks to see what the "
                "Internet sees.",
                subject,
            )
        )
    found.extend(_spoofing_findings(probe, own_domain, subject))
    if any(v.outcome == "refused-temporarily" for v in variants):
        found.append(
            Finding(
                Severity.INFO,
                "relay.temporary-refusal",
                "Relaying is refused with a temporary (4xx) reply, e.g. Postfix's "
                "defer_unauth_destination: the server does not relay, senders just retry",
                "Nothing to do; use reject_unauth_destination for a permanent refusal.",
                subject,
            )
        )
    if any(v.outcome == "auth-required" for v in variants):
        found.append(
            Finding(
                Severity.INFO,
                "relay.auth-required",
                "The server answered 530 (authentication required): anonymous clients cannot "
                "send through it",
                "",
                subject,
            )
        )
    not_tested = [v.name for v in variants if v.outcome == "mail-refused"]
    if not_tested:
        found.append(
            Finding(
                Severity.INFO,
                "relay.not-tested",
                f"{len(not_tested)} variants were not tested because MAIL FROM was refused: "
                + ", ".join(not_tested),
                "",
                subject,
            )
        )
    if skipped:
        found.append(
            Finding(
                Severity.INFO,
                "relay.skipped",
                f"{len(skipped)} variants skipped: "
                + ", ".join(f"{s.name} ({s.reason})" for s in skipped),
                "Give --domain to build the own-domain variants." if own_domain is None else "",
                subject,
            )
        )
    if reconnects:
        found.append(
            Finding(
                Severity.INFO,
                "relay.reconnects",
                f"The server ended {reconnects} sessions early (421 or disconnect); "
                "the battery reconnected",
                "",
                subject,
            )
        )
    if authenticated is not None:
        found.append(_auth_finding(authenticated, verdict, subject))
    if enumeration is not None:
        found.extend(_enumeration_findings(enumeration, subject))
    found.sort(key=lambda f: -f.severity.rank)
    return tuple(found)


def _send_finding(sent: SendResult, subject: str) -> Finding:
    to = sent.rcpt_to
    if sent.outcome == "accepted":
        return Finding(
            Severity.FAIL,
            "relay.send-accepted",
            f"The server accepted a real message through variant {sent.variant} (RCPT TO:<{to}>); "
            "check that mailbox to see it arrive",
            "Close the relay (see relay.open).",
            subject,
        )
    if sent.outcome == "rejected-at-data":
        code = sent.data_reply.code if sent.data_reply else "?"
        return Finding(
            Severity.WARN,
            "relay.data-rejected",
            f"The server accepted the recipient of variant {sent.variant} but refused the "
            f"message at DATA ({code}): it accepts at RCPT and rejects later, so it did not "
            "relay this message",
            "Reject unwanted recipients at RCPT time so senders get a clear answer early.",
            subject,
        )
    return Finding(
        Severity.INFO,
        "relay.send-not-confirmed",
        f"--send could not confirm variant {sent.variant}: {sent.outcome} {sent.note}".strip(),
        "",
        subject,
    )


def _spoofing_findings(
    probe: dict[str, VariantResult], own_domain: str | None, subject: str
) -> list[Finding]:
    spoof = probe.get("internal-spoof")
    control = probe.get("local-postmaster")
    if spoof is None or control is None or own_domain is None:
        return []
    if spoof.outcome == "accepted":
        return [
            Finding(
                Severity.WARN,
                "relay.internal-spoofing",
                f"An anonymous outside client may send as <{spoof.mail_from}> to "
                f"<{spoof.rcpt_to}>: mail claiming to come from {own_domain} is accepted "
                "from outside",
                "Filter senders of your own domain on Internet-facing servers (Exchange sender "
                "filtering, Postfix check_sender_access or SPF checks), or require AUTH for them.",
                subject,
            )
        ]
    if control.outcome == "accepted" and spoof.outcome in (*CLOSED_OUTCOMES, "mail-refused"):
        return [
            Finding(
                Severity.OK,
                "relay.spoofing-refused",
                f"Mail from outside claiming a {own_domain} sender is refused",
                "",
                subject,
            )
        ]
    return [
        Finding(
            Severity.INFO,
            "relay.spoofing-untested",
            f"Internal spoofing could not be judged: postmaster@{own_domain} was not accepted "
            f"from an outside sender either ({control.outcome})",
            "Give --domain with a domain this server receives mail for.",
            subject,
        )
    ]


def _auth_finding(auth: AuthRelayResult, verdict: Verdict, subject: str) -> Finding:
    user = auth.user
    if auth.outcome == "accepted":
        expected = verdict != "open"
        return Finding(
            Severity.OK if expected else Severity.INFO,
            "relay.auth-relay-allowed",
            f"Authenticated as {user}, relaying is allowed"
            + (
                " and anonymous relaying is not: as expected"
                if expected
                else ", but so is anonymous relaying"
            ),
            "",
            subject,
        )
    if auth.outcome == "refused":
        return Finding(
            Severity.INFO,
            "relay.auth-relay-refused",
            f"Authenticated as {user}, relaying is still refused: not the usual policy "
            "(authenticated users relay); fine for an inbound-only MX",
            "If users should send through this server, permit authenticated relaying "
            "(permit_sasl_authenticated).",
            subject,
        )
    if auth.outcome == "auth-failed":
        code = auth.auth_reply.code if auth.auth_reply else "?"
        return Finding(
            Severity.WARN,
            "relay.auth-failed",
            f"Authentication as {user} failed ({code}); the authenticated check did not run",
            "Check the user name and password (and --auth-mechanism).",
            subject,
        )
    return Finding(
        Severity.INFO,
        "relay.auth-untested",
        f"The authenticated relay check did not complete: {auth.outcome} {auth.note}".strip(),
        "",
        subject,
    )


def _enumeration_findings(enumeration: EnumerationResult, subject: str) -> list[Finding]:
    found: list[Finding] = []
    known = enumeration.vrfy_known
    if enumeration.vrfy_reveals_users:
        found.append(
            Finding(
                Severity.INFO,
                "relay.vrfy-enumeration",
                "VRFY answers differently for a real and a made-up user: user names can be "
                "enumerated",
                "Disable VRFY (Postfix: disable_vrfy_command = yes) if that matters to you.",
                subject,
            )
        )
    elif known is not None:
        found.append(
            Finding(
                Severity.INFO,
                "relay.vrfy-closed",
                f"VRFY does not reveal users ({known.code} {known.text})",
                "",
                subject,
            )
        )
    if enumeration.expn_enabled:
        found.append(
            Finding(
                Severity.INFO,
                "relay.expn-enabled",
                "EXPN expands mailing lists for anonymous clients",
                "Disable EXPN if list members should stay private.",
                subject,
            )
        )
    return found


# --- entry points -------------------------------------------------------------------------


async def check_relay(host: str, options: RelayOptions | None = None) -> RelayReport:
    """Run the whole relay battery against one server and return the report.

    Never prints. Bad options raise ``UsageError``; a server that cannot be reached at all is
    reported as a ``Failure`` in the report (exit 3); later troubles make it INCONCLUSIVE.
    """
    opts = (options or RelayOptions()).validated()
    started = time.monotonic()
    battery = _Battery(host, opts, opts.address)
    try:
        first = await battery.connect()
    except ProbeError as exc:
        battery.close_all()
        return _unreachable(host, opts, exc.failure, battery, started)

    session = first.session
    server_name = server_name_from_greeting(session.banner, session.ehlo_reply)
    own_domain, source = await _own_domain(opts, server_name, session.address, host)
    literal = address_literal(session.address) if session.address else None
    names = opts.names(own_domain, server_name, literal)
    battery.names = names
    variants, skipped = build_variants(names)
    relay_variants = tuple(v for v in variants if v.kind == "relay")
    probe_variants = tuple(v for v in variants if v.kind == "probe") if opts.probes else ()

    battery.queue.extend(_Item("variant", v) for v in relay_variants)
    battery.queue.extend(_Item("variant", v) for v in probe_variants)
    if opts.probes:
        battery.queue.append(_Item("enumeration"))
    if opts.user is not None:
        battery.queue.append(_Item("auth"))

    workers = [battery.worker(first)]
    workers.extend(battery.worker(None) for _ in range(max(0, opts.connections - 1)))
    sent: SendResult | None = None
    try:
        async with asyncio.timeout(opts.session_timeout):
            await asyncio.gather(*workers)
            if opts.send:
                accepted = [
                    battery.results[v.name] for v in relay_variants if _accepted(battery, v)
                ]
                if accepted:
                    sent = await battery.send(accepted[0])
    except TimeoutError:
        battery.stop(f"the battery did not finish within {opts.session_timeout:g} s")
    finally:
        battery.close_all()

    variant_results = tuple(_final(battery, v, battery.stop_reason) for v in relay_variants)
    probe_results = tuple(_final(battery, v, battery.stop_reason) for v in probe_variants)
    verdict, reason = decide(variant_results, battery.stop_reason)
    findings = relay_findings(
        verdict=verdict,
        reason=reason,
        variants=variant_results,
        probes=probe_results,
        skipped=tuple(s for s in skipped),
        address=battery.address,
        own_domain=own_domain,
        enumeration=battery.enumeration,
        authenticated=battery.authenticated,
        sent=sent,
        reconnects=battery.reconnects,
    )
    return RelayReport(
        target=host,
        address=battery.address,
        port=opts.port,
        verdict=verdict,
        reason=reason,
        accepted_variants=tuple(v.name for v in variant_results if v.outcome == "accepted"),
        server_name=server_name,
        own_domain=own_domain,
        own_domain_source=source,
        address_literal=literal,
        external_domain=names.external_domain,
        variants=variant_results,
        probes=probe_results,
        skipped=skipped,
        enumeration=battery.enumeration,
        authenticated=battery.authenticated,
        sent=sent,
        connections_opened=len(battery.conns),
        reconnects=battery.reconnects,
        seconds=round(time.monotonic() - started, 3),
        findings=findings,
        _transcripts=_transcripts(battery),
    )


async def check_relay_exchangers(
    exchangers: Sequence[tuple[str, Sequence[str]]], options: RelayOptions | None = None
) -> tuple[RelayReport, ...]:
    """Run the battery against every address of every exchanger, one after the other.

    ``exchangers`` is ``[(host name, [addresses])]`` as resolved by the caller. An exchanger
    without addresses is reported as unreachable.
    """
    opts = options or RelayOptions()
    reports: list[RelayReport] = []
    for name, addresses in exchangers:
        if not addresses:
            failure = Failure("DNS", "the exchanger has no address", name, opts.port, None)
            battery = _Battery(name, opts, None)
            reports.append(_unreachable(name, opts, failure, battery, time.monotonic()))
            continue
        for address in addresses:
            reports.append(await check_relay(name, dataclasses.replace(opts, address=address)))
    return tuple(reports)


async def check_relay_mx(domain: str, options: RelayOptions, resolver: Resolver) -> RelayRun:
    """``--mx DOMAIN``: the battery against every address of every exchanger of ``domain``.

    A failed MX lookup raises ``DnsFailure``/``StepTimeout`` (exit 3); a null MX is reported
    as a failure (nothing to test).
    """
    from mailprobe.dns import addresses, resolve_exchangers

    hosts = await resolve_exchangers(domain, resolver)
    if not hosts:
        failure = Failure("dns MX", f"{domain} has a null MX: it receives no mail", domain)
        return combine_reports(domain, (), (failure,))
    resolved: list[tuple[str, Sequence[str]]] = []
    for _preference, host in hosts:
        try:
            found = await addresses(host, resolver)
        except ProbeError:
            found = []
        resolved.append((host, found))
    return combine_reports(domain, await check_relay_exchangers(resolved, options))


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
        return ExitCode.INCOMPLETE
    if report.verdict != "closed":
        return ExitCode.PROBLEM
    counted = [f for f in report.findings if f.code not in _ADVISORY_CODES]
    return exit_code_for(counted, report.failures)


#: Warnings that do not change the exit code of a CLOSED relay test.
_ADVISORY_CODES = frozenset({"relay.internal-spoofing"})


def combine_reports(
    mx_domain: str | None, reports: Sequence[RelayReport], failures: Sequence[Failure] = ()
) -> RelayRun:
    """One verdict over several servers: OPEN if any is open, else INCONCLUSIVE if any is."""
    reports = tuple(reports)
    if not reports:
        reason = failures[0].message if failures else "nothing was tested"
        return RelayRun(mx_domain, "inconclusive", reason, (), tuple(failures))
    if len(reports) == 1:
        only = reports[0]
        return RelayRun(mx_domain, only.verdict, only.reason, reports, tuple(failures))
    for verdict in ("open", "inconclusive"):
        hits = [r for r in reports if r.verdict == verdict]
        if hits:
            names = ", ".join(f"{r.target} [{r.address}]" for r in hits)
            return RelayRun(
                mx_domain, verdict, f"{VERDICT_LABELS[verdict]}: {names}", reports, tuple(failures)
            )
    return RelayRun(
        mx_domain, "closed", f"all {len(reports)} servers closed", reports, tuple(failures)
    )


def _accepted(battery: _Battery, variant: Variant) -> bool:
    result = battery.results.get(variant.name)
    return result is not None and result.outcome == "accepted"


def _final(battery: _Battery, variant: Variant, stop_reason: str | None) -> VariantResult:
    result = battery.results.get(variant.name)
    if result is not None:
        return result
    note = stop_reason or battery.last_drop or "the battery stopped before this variant"
    return _result(variant, "not-tested", note=note)


async def _own_domain(
    opts: RelayOptions, server_name: str | None, address: str | None, host: str
) -> tuple[str | None, str]:
    if opts.domain:
        return opts.domain.rstrip(".").lower(), opts.domain_source
    if server_name:
        return parent_domain(server_name), "greeting"
    if address and opts.ptr_lookup is not None:
        try:
            ptr = await opts.ptr_lookup(address)
        except ProbeError:
            ptr = None
        if ptr and _HOST_NAME.match(ptr):
            return parent_domain(ptr), "ptr"
    if not _is_ip(host) and _HOST_NAME.match(host):
        return parent_domain(host), "target"
    return None, "unknown"


def _transcripts(battery: _Battery) -> tuple[ConnectionTranscript, ...]:
    return tuple(
        ConnectionTranscript(
            label=conn.label,
            address=conn.session.address,
            port=conn.session.port,
            items=tuple(conn.items),
            lines=tuple(conn.session.transcript),
        )
        for conn in battery.conns
    )


def _unreachable(
    host: str, opts: RelayOptions, failure: Failure, battery: _Battery, started: float
) -> RelayReport:
    reason = f"the server could not be reached: {_why(failure)}"
    return RelayReport(
        target=host,
        address=battery.address or opts.address,
        port=opts.port,
        verdict="inconclusive",
        reason=reason,
        accepted_variants=(),
        server_name=None,
        own_domain=opts.domain,
        own_domain_source=opts.domain_source if opts.domain else "unknown",
        address_literal=None,
        external_domain=opts.names(None, None, None).external_domain,
        variants=(),
        probes=(),
        skipped=(),
        enumeration=None,
        authenticated=None,
        sent=None,
        connections_opened=len(battery.conns),
        reconnects=0,
        seconds=round(time.monotonic() - started, 3),
        findings=(),
        failures=(failure,),
        _transcripts=_transcripts(battery),
    )
