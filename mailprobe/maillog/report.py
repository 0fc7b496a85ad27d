"""The summary of a mail log: bounded counters fed one event at a time, and its result types.

``Summary.add(event)`` counts an event by status, enhanced code, recipient domain, remote host,
rejected client and reason. Every table is a ``Tally`` with at most ``MAX_KEYS`` keys: once
full, new keys are counted under ``(other)``, so memory stays flat whatever the log holds.
``Summary.report()`` makes the ``LogReport`` (the ``--json`` results; field names are the JSON
names, docs/log.md), with the top ``top`` rows of each table, the meaning of each code from the
NDR table, and the findings.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable
from typing import Final

from mailprobe.maillog.parse import Event, domain_of
from mailprobe.model import ExitCode, Finding

#: Keys per table before new ones go to OTHER.
MAX_KEYS: Final = 10_000
OTHER: Final = "(other)"
#: The failure statuses (a log with any of them exits 1).
FAILURES: Final = ("deferred", "bounced", "expired", "rejected")
_COLUMNS: Final = ("sent", "deferred", "bounced", "expired", "rejected")


@dataclasses.dataclass(frozen=True)
class StatusCounts:
    """Events by status: messages received, deliveries sent/deferred/bounced/expired, and
    refusals of clients or recipients (rejected)."""

    received: int
    sent: int
    deferred: int
    bounced: int
    expired: int
    rejected: int


@dataclasses.dataclass(frozen=True)
class Row:
    """One row of a table (a domain, host or client): its events by status."""

    name: str
    total: int
    sent: int
    deferred: int
    bounced: int
    expired: int
    rejected: int


@dataclasses.dataclass(frozen=True)
class CodeRow:
    """One enhanced status code (or a bare reply code when no enhanced code was logged), how
    often it was seen, and what the NDR table says it means."""

    code: str
    kind: str
    count: int
    deferred: int
    bounced: int
    expired: int
    rejected: int
    title: str
    summary: str


@dataclasses.dataclass(frozen=True)
class ReasonRow:
    """One reason (text with addresses and numbers masked), how often, and one example."""

    status: str
    reason: str
    count: int
    code: str
    example: str


@dataclasses.dataclass(frozen=True)
class LogEvent:
    """One event of ``--details`` (a failure, or any event with -v)."""

    line: int
    status: str
    time: str
    queue_id: str
    sender: str
    recipient: str
    host: str
    address: str
    reply_code: str
    status_code: str
    reason: str
    agent: str
    meaning: str


@dataclasses.dataclass(frozen=True)
class LogReport:
    """What ``mailprobe log`` read: counts, the top rows of each table, findings."""

    source: str
    format: str | None
    lines: int
    events: int
    unknown_lines: int
    long_lines: int
    first_time: str
    last_time: str
    counts: StatusCounts
    codes: tuple[CodeRow, ...]
    domains: tuple[Row, ...]
    hosts: tuple[Row, ...]
    clients: tuple[Row, ...]
    reasons: tuple[ReasonRow, ...]
    details: tuple[LogEvent, ...]
    details_omitted: int
    followed: bool
    findings: tuple[Finding, ...]
    exit_code: ExitCode
    seconds: float


class Tally:
    """name -> counts by column, at most ``limit`` names (then ``OTHER``)."""

    def __init__(self, limit: int = MAX_KEYS) -> None:
        self.limit = limit
        self.rows: dict[str, list[int]] = {}

    def add(self, name: str, column: int, width: int = len(_COLUMNS)) -> None:
        row = self.rows.get(name)
        if row is None:
            if len(self.rows) >= self.limit:
                name = OTHER
                row = self.rows.get(name)
            if row is None:
                row = self.rows[name] = [0] * width
        row[column] += 1

    def top(self, count: int) -> list[tuple[str, list[int]]]:
        """The ``count`` names with the most events (ties by name), OTHER always last."""
        ranked = sorted(
            ((n, r) for n, r in self.rows.items() if n != OTHER), key=lambda i: (-sum(i[1]), i[0])
        )[:count]
        if OTHER in self.rows:
            ranked.append((OTHER, self.rows[OTHER]))
        return ranked


_MASKS = (
    (re.compile(r"<[^>]*>"), "<…>"),
    (re.compile(r"\[[0-9A-Fa-f.:]+\](?::[0-9]+)?"), "[…]"),
    (re.compile(r"\b[0-9A-F]{8,}\b"), "…"),
)


def masked(reason: str) -> str:
    """A reason with addresses, IP addresses and queue ids masked, to group similar ones."""
    done = _MASKED.get(reason)
    if done is None:
        done = reason
        for pattern, replacement in _MASKS:
            done = pattern.sub(replacement, done)
        done = done[:160]
        if len(_MASKED) >= MAX_KEYS:
            _MASKED.clear()
        _MASKED[reason] = done
    return done


_MASKED: dict[str, str] = {}


class Summary:
    """Counts of a whole log in bounded memory."""

    def __init__(self, details: int = 0) -> None:
        self.counts = dict.fromkeys(("received", *_COLUMNS), 0)
        self.codes = Tally()
        self.domains = Tally()
        self.hosts = Tally()
        self.clients = Tally()
        self.reasons = Tally()
        self.examples: dict[str, tuple[str, str]] = {}
        self.lines = self.events = self.unknown = self.long = 0
        self.first_time = self.last_time = ""
        self.details_limit = details
        self.details: list[LogEvent] = []
        self.details_omitted = 0

    def add(self, event: Event) -> None:
        status = event.status
        self.events += 1
        self.counts[status] += 1
        if event.time:
            if not self.first_time:
                self.first_time = event.time
            self.last_time = event.time
        if status == "received":
            return
        column = _COLUMNS.index(status)
        if status == "rejected":
            self.clients.add(_client(event), column)
        else:
            domain = domain_of(event.recipient)
            if domain:
                self.domains.add(domain, column)
            if event.host or event.address:
                self.hosts.add(event.host or event.address, column)
        if status == "sent":
            return
        code = event.status_code or event.reply_code
        if code:
            self.codes.add(code, _COLUMNS.index(status) - 1, 4)
        key = f"{status}\t{masked(event.reason)}"
        self.reasons.add(key, 0, 1)
        if key not in self.examples and len(self.examples) < MAX_KEYS:
            self.examples[key] = (code, event.reason)

    def detail(self, event: Event, line: int) -> LogEvent:
        """The event as shown by ``--details`` (kept for JSON up to the limit)."""
        shown = LogEvent(
            line,
            event.status,
            event.time,
            event.queue_id,
            event.sender,
            event.recipient,
            event.host,
            event.address,
            event.reply_code,
            event.status_code,
            event.reason,
            event.agent,
            code_title(event.status_code or event.reply_code),
        )
        if len(self.details) < self.details_limit:
            self.details.append(shown)
        elif self.details_limit:
            self.details_omitted += 1
        return shown

    def report(
        self,
        source: str,
        fmt: str | None,
        top: int,
        *,
        followed: bool,
        seconds: float,
    ) -> LogReport:
        counts = StatusCounts(**self.counts)
        codes = tuple(_code_row(code, row) for code, row in self.codes.top(top))
        reasons = tuple(
            ReasonRow(
                key.partition("\t")[0],
                key.partition("\t")[2],
                row[0],
                *self.examples.get(key, ("", "")),
            )
            for key, row in self.reasons.top(top)
        )
        findings = tuple(self._findings(counts, fmt, codes))
        from mailprobe.outcome import exit_code

        return LogReport(
            source=source,
            format=fmt,
            lines=self.lines,
            events=self.events,
            unknown_lines=self.unknown,
            long_lines=self.long,
            first_time=self.first_time,
            last_time=self.last_time,
            counts=counts,
            codes=codes,
            domains=_rows(self.domains, top),
            hosts=_rows(self.hosts, top),
            clients=_rows(self.clients, top),
            reasons=reasons,
            details=tuple(self.details),
            details_omitted=self.details_omitted,
            followed=followed,
            findings=findings,
            exit_code=exit_code(findings),
            seconds=round(seconds, 3),
        )

    def _findings(
        self, counts: StatusCounts, fmt: str | None, codes: Iterable[CodeRow]
    ) -> Iterable[Finding]:
        from mailprobe.findings import make

        top = {c.code: c for c in codes}

        def worst(column: str) -> str:
            ranked = sorted(top.values(), key=lambda c: -int(getattr(c, column)))
            best = [c for c in ranked if getattr(c, column)][:3]
            return "; ".join(f"{c.code} {c.title} ({getattr(c, column)})" for c in best)

        if fmt is None and self.lines:
            yield make(
                "log.unknown-format",
                f"none of the {self.lines} lines is of a known mail-log format "
                "(Postfix, Exim, Exchange protocol log, IIS SMTP W3C log)",
            )
        for status, code, what in (
            ("bounced", "log.bounced", "deliveries bounced (permanent failure)"),
            ("expired", "log.expired", "messages expired in the queue and were returned"),
            ("deferred", "log.deferred", "deliveries deferred (temporary failure, retried)"),
            ("rejected", "log.rejected", "clients or recipients rejected by the server"),
        ):
            number = getattr(counts, status)
            if number:
                detail = worst(status)
                yield make(code, f"{number} {what}" + (f"; top codes: {detail}" if detail else ""))
        if self.unknown:
            yield make(
                "log.unknown-lines",
                f"{self.unknown} of {self.lines} lines are not of the {fmt or 'known'} format "
                "(counted, not parsed)",
            )
        if self.long:
            yield make("log.long-lines", f"{self.long} lines were longer than 64 kB (truncated)")
        if self.events and not any(getattr(counts, s) for s in FAILURES):
            yield make("log.no-failures", f"{self.events} events, no failure")


def _client(event: Event) -> str:
    if event.host and event.address and event.host != event.address:
        return f"{event.host}[{event.address}]"
    return event.host or event.address or "unknown"


def _rows(tally: Tally, top: int) -> tuple[Row, ...]:
    return tuple(Row(name, sum(row), *row) for name, row in tally.top(top))


def code_title(code: str) -> str:
    """The title of a code in the NDR table ('' for none)."""
    return _explained(code)[0] if code else ""


def _explained(code: str) -> tuple[str, str]:
    cached = _CACHE.get(code)
    if cached is not None:
        return cached
    from mailprobe.ndr.codes import is_reply_code, parse_status_code
    from mailprobe.ndr.explain import explain_reply, explain_status

    status = parse_status_code(code)
    if status is not None:
        explanation = explain_status(status)
    elif is_reply_code(code):
        explanation = explain_reply(code)
    else:
        return "", ""
    result = (explanation.title, explanation.summary)
    if len(_CACHE) < 4096:
        _CACHE[code] = result
    return result


_CACHE: dict[str, tuple[str, str]] = {}


def _code_row(code: str, row: list[int]) -> CodeRow:
    title, summary = _explained(code) if code != OTHER else ("", "")
    kind = "status" if "." in code else ("reply" if code != OTHER else "other")
    deferred, bounced, expired, rejected = row
    return CodeRow(code, kind, sum(row), deferred, bounced, expired, rejected, title, summary)
