"""Explain a code: compose its class, subject and detail, and gather every table entry for it.

Every matching entry is kept as its own labelled ``Meaning`` (so where Exchange and the RFC
disagree, both are shown). Causes, fixes, related codes and next commands are merged across
entries, standard sources first. A code with no entry at all is still explained from its parts
and marked ``generic``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

from mailprobe.ndr.codes import StatusCode, check_code
from mailprobe.ndr.model import CodeExplanation, Meaning, TableRow
from mailprobe.ndr.structure import (
    REPLY_CATEGORIES,
    REPLY_CLASSES,
    STANDARD_SOURCES,
    STATUS_CLASSES,
    source_label,
    status_subject,
)
from mailprobe.ndr.table import CodeTable, Entry, load_table

MX = "mailprobe mx DOMAIN"
EHLO = "mailprobe ehlo HOST"
RELAY = "mailprobe relay-test HOST"
CHECK = "mailprobe check DOMAIN"

#: Next commands for specific (subject, detail) pairs when no entry names any.
_NEXT_BY_CODE: dict[tuple[int, int], tuple[str, ...]] = {
    (1, 2): (MX,),
    (1, 10): (MX,),
    (2, 3): (EHLO,),
    (3, 4): (EHLO,),
    (4, 1): (EHLO, CHECK),
    (4, 2): (EHLO, CHECK),
    (7, 1): (RELAY,),
    (7, 8): (EHLO,),
    (7, 9): (EHLO,),
    (7, 10): (EHLO,),
    (7, 11): (EHLO,),
    (7, 27): (MX,),
}
#: Next commands by subject, the fallback for the pairs above.
_NEXT_BY_SUBJECT: dict[int, tuple[str, ...]] = {
    0: (CHECK,),
    1: (CHECK,),
    2: (CHECK,),
    3: (EHLO, CHECK),
    4: (MX,),
    5: (EHLO,),
    6: (EHLO,),
    7: (CHECK,),
}
#: Next commands for reply codes by their first two digits.
_NEXT_BY_REPLY: dict[str, tuple[str, ...]] = {
    "42": (EHLO,),
    "50": (EHLO,),
    "52": (MX,),
    "53": (EHLO,),
    "45": (CHECK,),
    "55": (CHECK,),
}

_STATUS_OUTCOME = {
    2: "success",
    4: "temporary: the sending server keeps the message and retries",
    5: "permanent: the message was not delivered and will not be retried as it is",
}
_REPLY_OUTCOME = {
    2: "accepted",
    3: "go on: the server waits for the rest",
    4: "temporary: the client should try again later",
    5: "permanent: trying again unchanged fails the same way",
}


def explain(token: str, table: CodeTable | None = None) -> CodeExplanation:
    """Explain one code given as text (``5.4.8`` or ``550``); ``UsageError`` if malformed."""
    code = check_code(token)
    if isinstance(code, StatusCode):
        return explain_status(code, table)
    return explain_reply(code, table)


def explain_status(code: StatusCode, table: CodeTable | None = None) -> CodeExplanation:
    """Explain a well-formed enhanced status code."""
    table = table or load_table()
    entries = _ordered(table.matches(code))
    klass = STATUS_CLASSES[code.klass]
    subject = status_subject(code.subject)
    standard = [e for e in entries if e.source in STANDARD_SOURCES and e.kind != "range"]
    if standard:
        detail_meaning = standard[0].title
    elif entries:
        users = " and ".join(dict.fromkeys(source_label(e.source) for e in entries))
        detail_meaning = (
            f"Not defined by RFC 3463 or the IANA registry; used by {users}: {entries[0].title}"
        )
    else:
        detail_meaning = (
            f"Detail {code.detail} is not defined for subject {code.subject}: the reporting "
            "system uses it privately, so only the class and subject are certain."
        )
    generic = not entries
    title = entries[0].title if entries else f"{subject.name} status, unknown detail"
    next_commands = _merged(e.next_commands for e in entries)
    if not next_commands:
        next_commands = _NEXT_BY_CODE.get(
            (code.subject, code.detail), _NEXT_BY_SUBJECT.get(code.subject, (CHECK,))
        )
    return CodeExplanation(
        code=str(code),
        kind="status",
        class_digit=code.klass,
        class_name=klass.name,
        class_meaning=klass.meaning,
        subject=code.subject,
        subject_name=subject.name,
        subject_meaning=subject.meaning,
        detail=code.detail,
        detail_meaning=detail_meaning,
        title=title,
        summary=f"{title} ({_STATUS_OUTCOME[code.klass]})",
        generic=generic,
        meanings=tuple(_meaning(e) for e in entries),
        causes=_merged(e.causes for e in entries) or _generic_causes(subject.name),
        fixes=_merged(e.fixes for e in entries) or _generic_fixes(code.klass),
        related=_related(entries, code.klass, str(code)),
        next_commands=next_commands,
    )


def explain_reply(code: str, table: CodeTable | None = None) -> CodeExplanation:
    """Explain a three-digit basic reply code (RFC 5321, RFC 7504)."""
    table = table or load_table()
    entries = _ordered(table.reply(code))
    first, second, third = (int(c) for c in code)
    klass = REPLY_CLASSES[first]
    category = REPLY_CATEGORIES[second]
    title = entries[0].title if entries else f"{category.name} reply, not defined by RFC 5321"
    next_commands = _merged(e.next_commands for e in entries) or _NEXT_BY_REPLY.get(code[:2], ())
    return CodeExplanation(
        code=code,
        kind="reply",
        class_digit=first,
        class_name=klass.name,
        class_meaning=klass.meaning,
        subject=second,
        subject_name=category.name,
        subject_meaning=category.meaning,
        detail=third,
        detail_meaning=title if entries else "Not a reply code defined by RFC 5321 or RFC 7504.",
        title=title,
        summary=f"{title} ({_REPLY_OUTCOME[first]})",
        generic=not entries,
        meanings=tuple(_meaning(e) for e in entries),
        causes=_merged(e.causes for e in entries) or _generic_causes(category.name),
        fixes=_merged(e.fixes for e in entries) or _generic_fixes(first),
        related=_related(entries, first, code),
        next_commands=next_commands,
    )


def with_context(
    explanation: CodeExplanation,
    text: str = "",
    domain: str | None = None,
    host: str | None = None,
) -> CodeExplanation:
    """Adapt next commands to what the input told us: relay wording, the domain, the host."""
    commands = list(explanation.next_commands)
    if "relay" in text.lower() and RELAY not in commands:
        commands.insert(0, RELAY)
    filled = []
    for command in commands:
        if domain:
            command = command.replace("DOMAIN", domain)
        if host:
            command = command.replace("HOST", host)
        filled.append(command)
    return dataclasses.replace(explanation, next_commands=tuple(dict.fromkeys(filled)))


def _ordered(entries: list[Entry]) -> list[Entry]:
    # Standard definitions first (they say what the code means for everyone), then products.
    return sorted(entries, key=lambda e: e.source not in STANDARD_SOURCES)


def _meaning(entry: Entry) -> Meaning:
    match = {"exact": "exact", "class-independent": "class-independent", "range": "range"}
    return Meaning(
        source=entry.source,
        label=source_label(entry.source, entry.reference),
        reference=entry.reference,
        matched=entry.code,
        match=match.get(entry.kind, "reply"),
        title=entry.title,
        meaning=entry.meaning,
        causes=entry.causes,
        fixes=entry.fixes,
    )


def _merged(lists: Iterable[Iterable[str]]) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for items in lists:
        for item in items:
            seen.setdefault(item, None)
    return tuple(seen)


def _related(entries: list[Entry], klass: int, own: str) -> tuple[str, ...]:
    out: dict[str, None] = {}
    for entry in entries:
        for code in entry.related:
            # A class-independent X.S.D is shown in the class of the code being explained.
            concrete = f"{klass}{code[1:]}" if code.startswith("X.") and klass != 3 else code
            if concrete != own:
                out.setdefault(concrete, None)
    return tuple(out)


def _generic_causes(subject_name: str) -> tuple[str, ...]:
    return (
        f"The reporting system hit a condition in the '{subject_name}' category that it does "
        "not describe further with this code.",
    )


def _generic_fixes(klass: int) -> tuple[str, ...]:
    common = "Read the text after the code in the bounce: servers usually say more there."
    if klass == 4:
        return (common, "Wait for the retries; act only if the message finally bounces.")
    if klass == 5:
        return (common, "Fix what the text names, then send the message again.")
    return (common,)


def list_entries(
    klass: int | None = None, subject: int | None = None, table: CodeTable | None = None
) -> tuple[TableRow, ...]:
    """Table rows, optionally only those that apply to a class and/or subject."""
    table = table or load_table()
    return tuple(_row(e) for e in table.entries if _applies(e, klass, subject))


def search_entries(
    text: str,
    klass: int | None = None,
    subject: int | None = None,
    table: CodeTable | None = None,
) -> tuple[TableRow, ...]:
    """Rows whose code, title, meaning or causes contain ``text`` (case-insensitive)."""
    table = table or load_table()
    needle = text.casefold()
    return tuple(
        _row(e)
        for e in table.entries
        if _applies(e, klass, subject)
        and any(needle in field.casefold() for field in (e.code, e.title, e.meaning, *e.causes))
    )


def _applies(entry: Entry, klass: int | None, subject: int | None) -> bool:
    kind = entry.kind
    if kind == "reply":
        digits = (int(entry.code[0]), int(entry.code[1]))
        return (klass is None or digits[0] == klass) and subject is None
    head = entry.code.split("-")[0]
    parts = head.split(".")
    if klass is not None and parts[0] != str(klass) and not (parts[0] == "X" and klass != 3):
        return False
    return subject is None or parts[1] == str(subject)


def _row(entry: Entry) -> TableRow:
    return TableRow(
        code=entry.code,
        source=entry.source,
        label=source_label(entry.source, entry.reference),
        reference=entry.reference,
        title=entry.title,
        meaning=entry.meaning,
    )
