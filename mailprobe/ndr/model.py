"""Result types of ``mailprobe ndr``; their field names are the JSON field names (docs/ndr.md)."""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class Meaning:
    """What one source (RFC, IANA, a product) says about a code, labelled with that source."""

    source: str
    label: str
    reference: str
    matched: str
    match: str
    title: str
    meaning: str
    causes: tuple[str, ...]
    fixes: tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class CodeExplanation:
    """Everything mailprobe knows about one code, composed from its parts and the table."""

    code: str
    kind: str
    class_digit: int
    class_name: str
    class_meaning: str
    subject: int
    subject_name: str
    subject_meaning: str
    detail: int
    detail_meaning: str
    title: str
    summary: str
    generic: bool
    meanings: tuple[Meaning, ...]
    causes: tuple[str, ...]
    fixes: tuple[str, ...]
    related: tuple[str, ...]
    next_commands: tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class TextMatch:
    """A frequent reply text recognised in server text: what it says and whose move it is."""

    key: str
    title: str
    matched: str
    meaning: str
    who: str
    actions: tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class Query:
    """One command-line argument and the codes found in it."""

    input: str
    kind: str
    reply_code: str | None
    status_code: str | None
    text: str
    explanations: tuple[CodeExplanation, ...]
    text_matches: tuple[TextMatch, ...] = ()


@dataclasses.dataclass(frozen=True)
class RecipientStatus:
    """The delivery outcome for one recipient of a bounce, as reported."""

    recipient: str
    original_recipient: str | None
    action: str | None
    status: str | None
    reply_code: str | None
    diagnostic: str | None
    remote_mta: str | None
    found_in: str
    codes: tuple[str, ...]
    text_matches: tuple[TextMatch, ...] = ()


@dataclasses.dataclass(frozen=True)
class BounceReport:
    """A parsed bounce message: who failed, how, and what each code means."""

    source: str
    formats: tuple[str, ...]
    reporting_mta: str | None
    subject: str | None
    recipients: tuple[RecipientStatus, ...]
    explanations: tuple[CodeExplanation, ...]
    notes: tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class TableRow:
    """One table entry as listed by ``--list`` and ``--search``."""

    code: str
    source: str
    label: str
    reference: str
    title: str
    meaning: str


@dataclasses.dataclass(frozen=True)
class NdrReport:
    """The results of one ``mailprobe ndr`` run; only the part for its ``mode`` is filled."""

    mode: str
    queries: tuple[Query, ...] = ()
    bounce: BounceReport | None = None
    entries: tuple[TableRow, ...] = ()
