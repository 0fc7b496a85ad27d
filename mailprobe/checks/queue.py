"""Mail queues explained: what is waiting, for which domains, why, and what to check next.

Three listings are read, the format detected from the content:

* Postfix ``postqueue -j``: one JSON object per message (``queue_name``, ``queue_id``,
  ``arrival_time``, ``message_size``, ``sender``, ``recipients`` with ``address`` and, for a
  deferred recipient, ``delay_reason``);
* Exim ``exim -bp``: an age, a size, the message id and the sender on one line, the
  recipients indented below (``D`` before a delivered one, ``*** frozen ***`` after a frozen
  message's sender); it gives no reasons;
* ``mailq`` of Postfix (``-Queue ID-`` header, ``*`` active and ``!`` held after the id, the
  reason in parentheses above its recipients) and of sendmail (``-----Q-ID-----`` header,
  ``(Deferred: ...)`` under the sender).

Recipients are grouped by destination domain and reason (like Postfix's qshape, but by
reason rather than age). Each reason is put in a class (DNS, connection refused, timed out,
TLS, policy ...) by the words Postfix, Exim and sendmail use, explained through the NDR table
(the enhanced status code in the text, or the one the class stands for, and the frequent
reply texts), and given the mailprobe command that checks it next.

The Exchange 2000/2003 SMTP queue names are data (``data/exchange_queues.toml``):
``explain_exchange_queue`` explains one. Nothing here prints or exits.
"""

from __future__ import annotations

import dataclasses
import datetime
import functools
import json
import re
import time
from collections.abc import Iterable, Sequence
from typing import Any, Literal, cast

from mailprobe.errors import UsageError
from mailprobe.findings import make
from mailprobe.model import ExitCode, Finding
from mailprobe.outcome import exit_code as outcome_exit_code
from mailprobe.text import clean_line

QueueFormat = Literal["postfix-json", "exim", "postfix-mailq", "sendmail-mailq", "empty"]
#: What a recipient waits for: a class of reason, or a state without one.
ReasonClass = Literal[
    "dns",
    "refused",
    "timeout",
    "unreachable",
    "lost-connection",
    "tls",
    "policy",
    "mailbox",
    "remote-temporary",
    "remote-permanent",
    "local",
    "other",
    "no-reason",
    "held",
    "in-flight",
]
#: The longest reason text kept (a Postfix reason is one line, a remote reply a sentence).
REASON_MAX = 300
#: The longest address, sender or queue id kept.
FIELD_MAX = 320
#: Default age (hours) from which a message is reported as old.
OLD_AFTER_HOURS = 24.0
#: Groups that get a finding of their own (the largest); the rest share one.
MAX_GROUP_FINDINGS = 20
#: Queues whose messages have no problem yet: being delivered or about to be.
_IN_FLIGHT_QUEUES = ("active", "incoming", "maildrop")


@dataclasses.dataclass(frozen=True)
class QueueRecipient:
    """One recipient of a queued message and why it still waits."""

    address: str
    domain: str
    reason: str
    reason_class: ReasonClass


@dataclasses.dataclass(frozen=True)
class QueuedMessage:
    """One message of the queue."""

    queue_id: str
    #: Postfix queue (deferred, active, incoming, hold, maildrop), ``frozen``/``queued`` for
    #: Exim, ``queued`` for sendmail.
    queue_name: str
    arrival_time: str | None
    age_seconds: int | None
    size: int | None
    sender: str
    recipients: tuple[QueueRecipient, ...]


@dataclasses.dataclass(frozen=True)
class ReasonGroup:
    """Recipients of one destination domain waiting for the same reason."""

    domain: str
    reason_class: ReasonClass
    reason: str
    #: The host named in the reason (``connect to HOST[...]``, ``host HOST[...] said``), if any.
    host: str | None
    recipients: int
    messages: int
    queue_ids: tuple[str, ...]
    oldest_age_seconds: int | None
    #: The enhanced status code of the reason, or the one its class stands for.
    status_code: str | None
    #: True when the status code was in the text, False when it was inferred from the class.
    status_code_given: bool
    reply_code: str | None
    status_meaning: str
    #: What the reason means and whose move it is.
    explanation: str
    #: Frequent reply texts of the NDR table recognised in the reason (titles).
    text_matches: tuple[str, ...]
    next_commands: tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class QueueCount:
    """Messages in one queue (deferred, hold, active ...)."""

    queue_name: str
    messages: int


@dataclasses.dataclass(frozen=True)
class QueueReport:
    """``mailprobe queue``: the queue as a whole, grouped, with findings."""

    source: str
    format: QueueFormat
    messages: int
    recipients: int
    size_bytes: int
    by_queue: tuple[QueueCount, ...]
    deferred_messages: int
    held_messages: int
    in_flight_messages: int
    oldest_age_seconds: int | None
    oldest_queue_id: str | None
    old_after_seconds: int
    groups: tuple[ReasonGroup, ...]
    entries: tuple[QueuedMessage, ...]
    findings: tuple[Finding, ...]
    exit_code: ExitCode


@dataclasses.dataclass(frozen=True)
class ExchangeQueue:
    """One SMTP queue of Exchange 2000/2003 System Manager and why mail piles up in it."""

    key: str
    name: str
    aliases: tuple[str, ...]
    holds: str
    piles_up: str
    steps: tuple[str, ...]
    next_commands: tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class ExchangeQueueReport:
    """``mailprobe queue --explain NAME``."""

    query: str
    queue: ExchangeQueue


# -- the Exchange queue names ---------------------------------------------------------------


@functools.cache
def exchange_queues() -> tuple[ExchangeQueue, ...]:
    """The Exchange queues of ``data/exchange_queues.toml``, in table order."""
    import tomllib
    from importlib import resources

    text = resources.files("mailprobe").joinpath("data/exchange_queues.toml").read_text("utf-8")
    document = tomllib.loads(text)
    return tuple(
        ExchangeQueue(
            key=str(raw["key"]),
            name=str(raw["name"]),
            aliases=tuple(str(a) for a in raw.get("aliases", ())),
            holds=" ".join(str(raw["holds"]).split()),
            piles_up=" ".join(str(raw["piles_up"]).split()),
            steps=tuple(str(s) for s in raw.get("steps", ())),
            next_commands=tuple(str(n) for n in raw.get("next", ())),
        )
        for raw in document["queue"]
    )


def _fold(text: str) -> str:
    return " ".join(re.sub(r"[^a-z0-9]+", " ", text.lower()).split())


def explain_exchange_queue(name: str) -> ExchangeQueueReport:
    """The Exchange queue called ``name`` (any case, its aliases, or its key); a usage error
    that lists the known names otherwise."""
    wanted = _fold(name)
    for queue in exchange_queues():
        if wanted and wanted in {_fold(n) for n in (queue.key, queue.name, *queue.aliases)}:
            return ExchangeQueueReport(query=clean_line(name, FIELD_MAX), queue=queue)
    known = "; ".join(f'"{q.name}"' for q in exchange_queues())
    raise UsageError(f"--explain: unknown Exchange queue {clean_line(name, 80)!r}; known: {known}")


# -- reading the listings -------------------------------------------------------------------


def parse_queue(
    text: str, source: str, *, now: float | None = None
) -> tuple[QueueFormat, list[QueuedMessage]]:
    """The messages of a queue listing (format detected); ``UsageError`` when the text is not
    one (binary data, JSON that is not ``postqueue -j``, unknown text)."""
    now = time.time() if now is None else now
    if "\x00" in text:
        raise UsageError(f"{source}: binary data, not a mail queue listing")
    stripped = text.strip()
    if not stripped:
        return "empty", []
    if stripped[0] in "{[":
        return "postfix-json", _parse_postfix_json(stripped, source, now)
    if re.search(r"(?mi)^\s*-+\s*Queue ID\s*-+", text) or re.search(
        r"(?mi)^mail queue is empty", text
    ):
        return "postfix-mailq", _parse_mailq(text, source, now, sendmail=False)
    if re.search(r"(?mi)^\s*-+\s*Q-ID\s*-+", text) or re.search(
        r"(?mi)^\s*/\S+ is empty|^\s*/\S+ \(\d+ requests?\)", text
    ):
        return "sendmail-mailq", _parse_mailq(text, source, now, sendmail=True)
    if _EXIM_LINE.match(stripped.splitlines()[0]):
        return "exim", _parse_exim(text, source, now)
    raise UsageError(
        f"{source}: not a mail queue listing (expected postqueue -j JSON, exim -bp or mailq output)"
    )


def _field(value: Any, limit: int = FIELD_MAX) -> str:
    if value is None:
        return ""
    text = str(value)
    if len(text) <= limit and text.isprintable() and "  " not in text and text == text.strip():
        return text  # already one clean line (the usual case, and much faster)
    return clean_line(text, limit)


def _domain(address: str) -> str:
    if "@" not in address:
        return "(local)" if address else "(none)"
    return address.rpartition("@")[2].strip("<>[] ").lower() or "(none)"


def _age(arrival: float | None, now: float) -> tuple[str | None, int | None]:
    if arrival is None:
        return None, None
    try:
        when = datetime.datetime.fromtimestamp(arrival, tz=datetime.UTC)
    except (OverflowError, OSError, ValueError):
        return None, None
    return when.isoformat().replace("+00:00", "Z"), max(0, int(now - arrival))


def _parse_postfix_json(text: str, source: str, now: float) -> list[QueuedMessage]:
    objects: list[tuple[int, Any]] = []
    if text.startswith("["):
        try:
            document = json.loads(text)
        except (ValueError, RecursionError):
            raise UsageError(
                f"{source}: not JSON (postqueue -j writes one object per line)"
            ) from None
        if not isinstance(document, list):
            raise UsageError(f"{source}: not postqueue -j JSON")
        objects = [(i + 1, item) for i, item in enumerate(document)]
    else:
        for number, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                objects.append((number, json.loads(line)))
            except (ValueError, RecursionError):
                raise UsageError(
                    f"{source}: line {number}: not JSON (postqueue -j writes one object per line)"
                ) from None
    return [_postfix_message(item, f"{source}: line {n}", now) for n, item in objects]


def _postfix_message(item: Any, where: str, now: float) -> QueuedMessage:
    if not isinstance(item, dict) or not isinstance(item.get("recipients", []), list):
        raise UsageError(f"{where}: not a postqueue -j message object")
    queue_name = _field(item.get("queue_name") or "unknown", 40)
    arrival = item.get("arrival_time")
    arrival_time, age = _age(
        float(arrival)
        if isinstance(arrival, int | float) and not isinstance(arrival, bool)
        else None,
        now,
    )
    size = item.get("message_size")
    recipients = []
    for raw in item.get("recipients", []):
        if not isinstance(raw, dict):
            raise UsageError(f"{where}: a recipient is not an object")
        address = _field(raw.get("address"))
        reason = _field(raw.get("delay_reason"), REASON_MAX)
        recipients.append(_recipient(address, reason, queue_name))
    return QueuedMessage(
        queue_id=_field(item.get("queue_id"), 40),
        queue_name=queue_name,
        arrival_time=arrival_time,
        age_seconds=age,
        size=size if isinstance(size, int) and not isinstance(size, bool) else None,
        sender=_field(item.get("sender")),
        recipients=tuple(recipients),
    )


def _recipient(address: str, reason: str, queue_name: str) -> QueueRecipient:
    klass: ReasonClass
    if queue_name in ("hold", "frozen"):  # held whatever its last deferral said
        klass = "held"
    elif reason:
        klass = classify(reason)
    elif queue_name in _IN_FLIGHT_QUEUES:
        klass = "in-flight"
    else:
        klass = "no-reason"
    return QueueRecipient(address, _domain(address), reason, klass)


#: ``25m  2.9K 1h5Ydq-0003Wk-Bs <alice@example.com>`` (Exim ids: old 6-6-2, 4.97+ 6-11-4).
_EXIM_LINE = re.compile(
    r"^\s*(\d+)([smhdw])\s+([\d.]+[KMG]?)\s+([0-9A-Za-z]{6}-[0-9A-Za-z]{6,11}-[0-9A-Za-z]{2,4})"
    r"\s+<([^>]*)>(.*)$"
)
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_SIZE_UNITS = {"": 1, "K": 1024, "M": 1024 * 1024, "G": 1024 * 1024 * 1024}


def _exim_size(text: str) -> int | None:
    match = re.fullmatch(r"([\d.]+)([KMG]?)", text)
    if not match:
        return None
    try:
        return int(float(match[1]) * _SIZE_UNITS[match[2]])
    except ValueError:
        return None


def _parse_exim(text: str, source: str, now: float) -> list[QueuedMessage]:
    messages: list[QueuedMessage] = []
    current: dict[str, Any] | None = None

    def close() -> None:
        if current is not None:
            name = current["queue_name"]
            recipients = tuple(_recipient(a, "", name) for a in current["recipients"])
            messages.append(QueuedMessage(**{**current, "recipients": recipients}))

    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        match = _EXIM_LINE.match(line)
        if match:
            close()
            age = int(match[1]) * _UNITS[match[2]]
            frozen = "frozen" in match[6]
            current = {
                "queue_id": match[4],
                "queue_name": "frozen" if frozen else "queued",
                "arrival_time": _age(now - age, now)[0],
                "age_seconds": age,
                "size": _exim_size(match[3]),
                "sender": _field(match[5]),
                "recipients": [],
            }
            continue
        if current is None or not line[:1].isspace():
            raise UsageError(f"{source}: line {number}: not exim -bp output")
        words = line.split()
        if words[0] == "D" or (words[0] == "+D"):
            continue  # delivered already
        current["recipients"].append(_field(words[-1].strip("<>")))
    close()
    return messages


_MONTHS = {
    m: i
    for i, m in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1
    )
}
#: ``3F1C81A2B3*    1234 Thu Dec  3 08:40:01  alice@example.com`` (Postfix mailq) or
#: ``t9SLx1Aa012345     1234 Wed Oct 28 21:59 <alice@example.com>`` (sendmail).
_MAILQ_LINE = re.compile(
    r"^([0-9A-Za-z]+)([*!]?)\s+(\d+)\s+(?:[A-Z][a-z]{2})\s+([A-Z][a-z]{2})\s+(\d{1,2})\s+"
    r"(\d{1,2}):(\d{2})(?::(\d{2}))?\s+(\S*)\s*$"
)


def _mailq_time(month: str, day: str, hh: str, mm: str, ss: str | None, now: float) -> float:
    """The arrival time of a mailq line (no year: this year, or last year if in the future;
    local time, as mailq prints it)."""
    today = datetime.datetime.fromtimestamp(now)
    for year in (today.year, today.year - 1):
        try:
            when = datetime.datetime(
                year, _MONTHS.get(month, 1), int(day), int(hh), int(mm), int(ss or 0)
            )
        except ValueError:
            continue
        if when.timestamp() <= now + 86400:
            return when.timestamp()
    return now


def _parse_mailq(text: str, source: str, now: float, *, sendmail: bool) -> list[QueuedMessage]:
    messages: list[QueuedMessage] = []
    current: dict[str, Any] | None = None
    reason = ""

    def close() -> None:
        if current is not None:
            messages.append(
                QueuedMessage(**{**current, "recipients": tuple(current["recipients"])})
            )

    for number, line in enumerate(text.splitlines(), 1):
        bare = line.strip()
        if (
            not bare
            or re.match(r"-+\s*(Queue ID|Q-ID)", bare)
            or bare.startswith("--")
            or re.match(r"(?i)(mail queue is empty|total requests|/\S+ (is empty|\(\d+ req))", bare)
        ):
            continue
        match = _MAILQ_LINE.match(line)
        if match:
            close()
            arrival = _mailq_time(match[4], match[5], match[6], match[7], match[8], now)
            mark = match[2]
            current = {
                "queue_id": match[1],
                "queue_name": {"*": "active", "!": "hold"}.get(
                    mark, "queued" if sendmail else "deferred"
                ),
                "arrival_time": _age(arrival, now)[0],
                "age_seconds": max(0, int(now - arrival)),
                "size": int(match[3]),
                "sender": _field(match[9].strip("<>")),
                "recipients": [],
            }
            reason = ""
            continue
        if current is None:
            raise UsageError(f"{source}: line {number}: not mailq output")
        found = re.fullmatch(r"\((.*)\)", bare)
        if found:
            reason = _field(re.sub(r"^Deferred:\s*", "", found[1]), REASON_MAX)
            continue
        if not line[:1].isspace():
            raise UsageError(f"{source}: line {number}: not mailq output")
        address = _field(bare.split()[-1].strip("<>"))
        current["recipients"].append(_recipient(address, reason, current["queue_name"]))
    close()
    return messages


# -- reasons --------------------------------------------------------------------------------

#: (class, pattern) in order: the first that occurs in a reason decides.
_CLASSES: tuple[tuple[ReasonClass, re.Pattern[str]], ...] = tuple(
    (cast(ReasonClass, klass), re.compile(pattern, re.IGNORECASE))
    for klass, pattern in (
        ("tls", r"\bTLS\b|STARTTLS|certificate|\bSSL\b|handshake"),
        (
            "dns",
            r"Host not found|Name service error|Host or domain name not found|domain name not "
            r"found|\bNXDOMAIN\b|no MX|all relevant MX records|MX points to|unrouteable|"
            r"host lookup did not complete|retry time not reached for any host|lookup failed|"
            r"No such domain|Name or service not known|Temporary failure in name resolution",
        ),
        ("refused", r"Connection refused"),
        ("timeout", r"timed out|Connection timeout|timeout"),
        ("unreachable", r"Network is unreachable|No route to host|Host is unreachable"),
        ("lost-connection", r"lost connection|Connection reset|Broken pipe|connection closed"),
        (
            "policy",
            r"\b[45]\.7\.\d{1,3}\b|blocked|block ?list|black ?list|Spamhaus|spam|reputation|"
            r"greylist|graylist|relay access denied|rate limit|too many",
        ),
        ("mailbox", r"\b[45]\.2\.\d{1,3}\b|mailbox full|quota|over quota|insufficient"),
        ("remote-temporary", r"\bsaid: 4\d\d\b|\b4\d\d[ -]4\.\d{1,3}\.\d{1,3}\b"),
        ("remote-permanent", r"\bsaid: 5\d\d\b|\b5\d\d[ -]5\.\d{1,3}\.\d{1,3}\b"),
        (
            "local",
            r"mail transport unavailable|transport .{0,40}unavailable|delivery temporarily "
            r"suspended: .{0,20}(unavailable|unknown)|unknown mail transport|local configuration",
        ),
    )
)

#: Per class: the status code it stands for when the text has none, what it means, and the
#: next commands (DOMAIN and HOST filled in).
_CLASS_INFO: dict[str, tuple[str | None, str, tuple[str, ...]]] = {
    "dns": (
        "4.4.3",
        "The destination's name could not be resolved (no MX or address record, or the "
        "DNS server failed): a DNS problem at the destination or at this server's resolver.",
        ("mailprobe mx DOMAIN",),
    ),
    "refused": (
        "4.4.1",
        "The destination host refused the connection: nothing listens on its SMTP port, or "
        "a firewall rejects it.",
        ("mailprobe ports HOST", "mailprobe outbound --to-domain DOMAIN"),
    ),
    "timeout": (
        "4.4.1",
        "No answer in time: the host is down, or a firewall (often this network's or the "
        "provider's block of outbound port 25) drops the packets.",
        ("mailprobe ports HOST", "mailprobe outbound --to-domain DOMAIN"),
    ),
    "unreachable": (
        "4.4.1",
        "This server has no route to the destination host: a network problem on this side.",
        ("mailprobe outbound --to-domain DOMAIN",),
    ),
    "lost-connection": (
        "4.4.2",
        "The connection broke in the middle of the SMTP conversation (a crash, a filter, a "
        "firewall that cuts sessions).",
        ("mailprobe ehlo HOST",),
    ),
    "tls": (
        "4.7.5",
        "The TLS handshake or the certificate check with the destination failed.",
        ("mailprobe tls HOST",),
    ),
    "policy": (
        "4.7.1",
        "The destination refused this server by policy (a blocklist, reputation, "
        "greylisting, relaying, a rate limit): whose move it is depends on the words.",
        ("mailprobe blocklist ADDRESS", "mailprobe relay-test HOST"),
    ),
    "mailbox": (
        "4.2.2",
        "The recipient's mailbox cannot take the message now (full, over quota): the "
        "recipient's side must act.",
        ("mailprobe ndr CODE",),
    ),
    "remote-temporary": (
        None,
        "The destination answered with a temporary error; its reply says why.",
        ("mailprobe ndr CODE", "mailprobe ehlo HOST"),
    ),
    "remote-permanent": (
        None,
        "The destination answered with a permanent error; the message will bounce.",
        ("mailprobe ndr CODE",),
    ),
    "local": (
        "4.3.0",
        "The problem is on this server (a transport or a service is unavailable, a "
        "configuration error): read the mail log.",
        ("mailprobe log FILE",),
    ),
    "other": (
        None,
        "A reason mailprobe does not classify; the text says what happened.",
        ("mailprobe ndr CODE",),
    ),
    "no-reason": (
        None,
        "The listing gives no reason (exim -bp does not): the message waits for a retry. "
        "exim -Mvl ID or the mail log says why.",
        ("mailprobe log FILE",),
    ),
    "held": (
        None,
        "The message is on hold (Postfix hold queue) or frozen (Exim): it is not tried until "
        "an administrator releases it (postsuper -H ID, exim -Mt ID) or deletes it.",
        (),
    ),
    "in-flight": (
        None,
        "The message is being delivered or about to be (active, incoming or maildrop queue).",
        (),
    ),
}


@functools.lru_cache(maxsize=65536)
def classify(reason: str) -> ReasonClass:
    """The class of a deferral reason (Postfix, Exim or sendmail words)."""
    for klass, pattern in _CLASSES:
        if pattern.search(reason):
            return klass
    return "other"


def normalize_reason(reason: str) -> str:
    """The reason as grouped: without Postfix's "delivery temporarily suspended: " and with
    addresses in angle brackets folded."""
    text = re.sub(r"^delivery temporarily suspended:\s*", "", reason, flags=re.IGNORECASE)
    text = re.sub(r"<[^<>@\s]{0,200}@[^<>\s]{0,200}>", "<address>", text)
    return " ".join(text.split())


def reason_host(reason: str) -> str | None:
    """The host a Postfix/sendmail reason names, if any."""
    for pattern in (
        r"([A-Za-z0-9][A-Za-z0-9.\-_]{0,252})\[[0-9A-Fa-f.:]{2,45}\]",
        r"\b(?:by|with) ([A-Za-z0-9][A-Za-z0-9.\-_]{0,252}?)\.?\s*$",
    ):
        match = re.search(pattern, reason)
        if match:
            return match[1].lower()
    return None


def client_address(reason: str) -> str | None:
    """The address a remote reply says it saw this server connect from (``client
    [198.51.100.7]``, ``[203.0.113.7]``): the one to look up on blocklists."""
    import ipaddress

    for match in re.finditer(r"(?<![A-Za-z0-9.\-_])\[([0-9A-Fa-f.:]{2,45})\]", reason):
        try:
            return str(ipaddress.ip_address(match[1]))
        except ValueError:
            continue
    return None


def _next(
    commands: Iterable[str], domain: str, host: str | None, code: str | None, client: str | None
) -> tuple[str, ...]:
    out = []
    for command in commands:
        text = command.replace("DOMAIN", domain).replace("HOST", host or domain)
        text = text.replace("ADDRESS", client or "THIS-SERVER'S-PUBLIC-ADDRESS")
        if "CODE" in text:
            if not code:
                continue
            text = text.replace("CODE", code)
        out.append(text)
    return tuple(dict.fromkeys(out))


@functools.lru_cache(maxsize=65536)
def _explain(
    reason: str, klass: ReasonClass
) -> tuple[str | None, bool, str | None, str, tuple[str, ...]]:
    """(status code, given in the text, reply code, the NDR table's meaning, text matches)."""
    from mailprobe.ndr.codes import find_status_codes, parse_status_code
    from mailprobe.ndr.explain import explain_status
    from mailprobe.ndr.reply import find_reply_code
    from mailprobe.ndr.texts import match_texts

    found = find_status_codes(reason) if reason else []
    reply = find_reply_code(reason) if reason else None
    status = found[0] if found else None
    given = status is not None
    if status is None and _CLASS_INFO[klass][0]:
        status = parse_status_code(str(_CLASS_INFO[klass][0]))
    meaning = explain_status(status).summary if status is not None else ""
    codes = [c for c in (reply, str(status) if given else None) if c]
    matches = tuple(m.title for m in match_texts(reason, codes)) if reason else ()
    return (str(status) if status is not None else None, given, reply, meaning, matches)


# -- the report -----------------------------------------------------------------------------


def queue_report(
    messages: Sequence[QueuedMessage],
    source: str,
    fmt: QueueFormat,
    *,
    old_after_hours: float = OLD_AFTER_HOURS,
) -> QueueReport:
    """Group, explain and judge a queue."""
    buckets: dict[tuple[str, str, str], list[tuple[QueuedMessage, QueueRecipient]]] = {}
    for message in messages:
        for recipient in message.recipients:
            key = (recipient.domain, recipient.reason_class, normalize_reason(recipient.reason))
            buckets.setdefault(key, []).append((message, recipient))
    groups = []
    for (domain, _, reason), members in buckets.items():
        klass: ReasonClass = members[0][1].reason_class
        host = reason_host(reason) if reason else None
        status, given, reply, meaning, matches = _explain(reason, klass)
        ids = tuple(dict.fromkeys(m.queue_id for m, _ in members))
        ages = [m.age_seconds for m, _ in members if m.age_seconds is not None]
        _, explanation, commands = _CLASS_INFO[klass]
        groups.append(
            ReasonGroup(
                domain=domain,
                reason_class=klass,
                reason=reason,
                host=host,
                recipients=len(members),
                messages=len(ids),
                queue_ids=ids[:50],
                oldest_age_seconds=max(ages) if ages else None,
                status_code=status,
                status_code_given=given,
                reply_code=reply,
                status_meaning=meaning,
                explanation=explanation,
                text_matches=matches,
                next_commands=_next(
                    commands, domain, host, status or reply, client_address(reason)
                ),
            )
        )
    groups.sort(key=lambda g: (-g.recipients, -(g.oldest_age_seconds or 0), g.domain, g.reason))
    by_queue: dict[str, int] = {}
    for message in messages:
        by_queue[message.queue_name] = by_queue.get(message.queue_name, 0) + 1
    held = sum(1 for m in messages if m.queue_name in ("hold", "frozen"))
    in_flight = sum(
        1
        for m in messages
        if m.queue_name in _IN_FLIGHT_QUEUES and not any(r.reason for r in m.recipients)
    )
    deferred = len(messages) - held - in_flight
    aged = [m for m in messages if m.age_seconds is not None]
    oldest = max(aged, key=lambda m: m.age_seconds or 0) if aged else None
    old_after = int(old_after_hours * 3600)
    findings = _findings(messages, groups, deferred, held, in_flight, oldest, old_after)
    return QueueReport(
        source=source,
        format=fmt,
        messages=len(messages),
        recipients=sum(len(m.recipients) for m in messages),
        size_bytes=sum(m.size or 0 for m in messages),
        by_queue=tuple(QueueCount(n, c) for n, c in sorted(by_queue.items(), key=lambda i: -i[1])),
        deferred_messages=deferred,
        held_messages=held,
        in_flight_messages=in_flight,
        oldest_age_seconds=oldest.age_seconds if oldest else None,
        oldest_queue_id=oldest.queue_id if oldest else None,
        old_after_seconds=old_after,
        groups=tuple(groups),
        entries=tuple(messages),
        findings=tuple(findings),
        exit_code=outcome_exit_code(findings),
    )


def age_text(seconds: int | None) -> str:
    """``3d 4h``, ``25m``, ``40s``."""
    if seconds is None:
        return "unknown"
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h" if hours else f"{days}d"
    if hours:
        return f"{hours}h {minutes}m" if minutes else f"{hours}h"
    return f"{minutes}m" if minutes else f"{secs}s"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _findings(
    messages: Sequence[QueuedMessage],
    groups: Sequence[ReasonGroup],
    deferred: int,
    held: int,
    in_flight: int,
    oldest: QueuedMessage | None,
    old_after: int,
) -> list[Finding]:
    if not messages:
        return [make("queue.empty", "The queue is empty")]
    findings: list[Finding] = []
    deferred_groups = [g for g in groups if g.reason_class not in ("held", "in-flight")]
    for group in deferred_groups[:MAX_GROUP_FINDINGS]:
        why = group.reason or "no reason given"
        findings.append(
            make(
                "queue.deferred",
                f"{_plural(group.recipients, 'recipient')} at {group.domain} "
                f"({_plural(group.messages, 'message')}) deferred: {why}",
                subject=group.domain,
                fix=(f"Next: {'; '.join(group.next_commands)}" if group.next_commands else None),
            )
        )
    rest = deferred_groups[MAX_GROUP_FINDINGS:]
    if rest:
        findings.append(
            make(
                "queue.deferred",
                f"{_plural(sum(g.recipients for g in rest), 'more recipient')} deferred in "
                f"{_plural(len(rest), 'more group')} (domain and reason); --json lists them all",
            )
        )
    if held:
        findings.append(make("queue.held", f"{_plural(held, 'message')} on hold or frozen"))
    if in_flight:
        findings.append(
            make("queue.in-flight", f"{_plural(in_flight, 'message')} being delivered now")
        )
    if oldest is not None and oldest.age_seconds is not None and oldest.age_seconds >= old_after:
        count = sum(1 for m in messages if (m.age_seconds or 0) >= old_after)
        findings.append(
            make(
                "queue.old-message",
                f"{_plural(count, 'message')} older than {age_text(old_after)}; the oldest "
                f"({oldest.queue_id}) is {age_text(oldest.age_seconds)} old",
                subject=oldest.queue_id,
            )
        )
    return findings
