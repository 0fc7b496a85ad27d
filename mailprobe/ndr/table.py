"""The bundled code table: loading, validation and lookup.

Two package data files share one schema: ``data/ndr_rfc.json`` (RFC 3463, the IANA registry,
RFC 5321/7504 reply codes) and ``data/ndr_vendor.json`` (Exchange and other products; optional).
Each holds ``{"entries": [...]}``; an entry's ``code`` is one of

- ``C.S.D``  an exact code of class 2, 4 or 5 (``5.4.8``);
- ``X.S.D``  a class-independent definition (``X.1.1``), as RFC 3463 and IANA write them;
- ``NNN``    a basic reply code (``550``);
- ``C.S.D-C.S.D``  a range of details within one class and subject (``5.7.500-5.7.699``).

The files are read lazily (first lookup) with ``json``, which is fast to import.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import re
from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

from mailprobe.errors import MailprobeError
from mailprobe.ndr.codes import StatusCode, is_reply_code, parse_status_code
from mailprobe.ndr.structure import SOURCE_LABELS

DATA_FILES = ("ndr_rfc.json", "ndr_vendor.json")
ALLOWED_SOURCES = frozenset(SOURCE_LABELS)
_NUMBER = r"(?:0|[1-9][0-9]{0,2})"
_X_FORM_RE = re.compile(rf"X\.({_NUMBER})\.({_NUMBER})")
_RANGE_RE = re.compile(rf"([245])\.({_NUMBER})\.({_NUMBER})-([245])\.({_NUMBER})\.({_NUMBER})")
_REQUIRED_TEXT = ("code", "source", "reference", "title", "meaning")
_OPTIONAL_LISTS = ("related", "next_commands")


class TableError(MailprobeError):
    """A bundled data file is missing or malformed (a packaging bug, not a user error)."""


@dataclasses.dataclass(frozen=True)
class Entry:
    """One row of the code table, as written in the data file."""

    code: str
    source: str
    reference: str
    title: str
    meaning: str
    causes: tuple[str, ...]
    fixes: tuple[str, ...]
    related: tuple[str, ...] = ()
    next_commands: tuple[str, ...] = ()

    @property
    def kind(self) -> str:
        """``exact``, ``class-independent``, ``range`` or ``reply``."""
        return code_kind(self.code) or "invalid"


def code_kind(code: str) -> str | None:
    """Which of the four table code forms ``code`` is, or None if it is none of them."""
    if parse_status_code(code) is not None:
        return "exact"
    if _X_FORM_RE.fullmatch(code):
        return "class-independent"
    if is_reply_code(code):
        return "reply"
    match = _RANGE_RE.fullmatch(code)
    if match and match[1] == match[4] and match[2] == match[5] and int(match[3]) < int(match[6]):
        return "range"
    return None


def is_valid_reference_code(code: str) -> bool:
    """Whether ``code`` may appear in a ``related`` list (any table code form)."""
    return code_kind(code) is not None


def validate_entry(raw: Any, where: str) -> Entry:
    """Check one raw JSON entry against the schema and build an ``Entry``.

    Raises ``TableError`` naming ``where`` (file and index) and the problem.
    """
    if not isinstance(raw, Mapping):
        raise TableError(f"{where}: an entry must be an object")
    unknown = set(raw) - {*_REQUIRED_TEXT, "causes", "fixes", *_OPTIONAL_LISTS}
    if unknown:
        raise TableError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
    for key in _REQUIRED_TEXT:
        value = raw.get(key)
        if not isinstance(value, str) or not value.strip():
            raise TableError(f"{where}: '{key}' must be a non-empty string")
    code = raw["code"]
    if code_kind(code) is None:
        raise TableError(f"{where}: code {code!r} is not C.S.D, X.S.D, NNN or C.S.D-C.S.D")
    if raw["source"] not in ALLOWED_SOURCES:
        raise TableError(f"{where}: source {raw['source']!r} is not one of the allowed sources")
    lists: dict[str, tuple[str, ...]] = {}
    for key in ("causes", "fixes", *_OPTIONAL_LISTS):
        value = raw.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            raise TableError(f"{where}: '{key}' must be a list of non-empty strings")
        if key in ("causes", "fixes") and not value:
            raise TableError(f"{where}: '{key}' must not be empty")
        lists[key] = tuple(value)
    for related in lists["related"]:
        if not is_valid_reference_code(related):
            raise TableError(f"{where}: related code {related!r} is not a valid code")
    return Entry(
        code=code,
        source=raw["source"],
        reference=raw["reference"],
        title=raw["title"],
        meaning=raw["meaning"],
        causes=lists["causes"],
        fixes=lists["fixes"],
        related=lists["related"],
        next_commands=lists["next_commands"],
    )


def parse_table(document: Any, name: str) -> list[Entry]:
    """Validate a whole data document (``{"entries": [...]}``) and return its entries."""
    if not isinstance(document, Mapping) or not isinstance(document.get("entries"), list):
        raise TableError(f"{name}: expected an object with an 'entries' list")
    return [validate_entry(raw, f"{name} entry {i}") for i, raw in enumerate(document["entries"])]


class _Range(NamedTuple):
    klass: int
    subject: int
    low: int
    high: int
    entry: Entry


class CodeTable:
    """All entries, indexed for lookup by exact code, class-independent form, range and reply."""

    def __init__(self, entries: Iterable[Entry]) -> None:
        self.entries: tuple[Entry, ...] = tuple(entries)
        self._exact: dict[str, list[Entry]] = {}
        self._ranges: list[_Range] = []
        for entry in self.entries:
            kind = entry.kind
            if kind == "range":
                low, high = entry.code.split("-")
                k, s, d1 = (int(p) for p in low.split("."))
                d2 = int(high.split(".")[2])
                self._ranges.append(_Range(k, s, d1, d2, entry))
            else:
                self._exact.setdefault(entry.code, []).append(entry)

    def matches(self, code: StatusCode) -> list[Entry]:
        """Entries for an enhanced code: exact first, then ranges, then the X-form."""
        found = list(self._exact.get(str(code), ()))
        found += [
            r.entry
            for r in self._ranges
            if (r.klass, r.subject) == (code.klass, code.subject) and r.low <= code.detail <= r.high
        ]
        found += self._exact.get(code.x_form, ())
        return found

    def reply(self, code: str) -> list[Entry]:
        """Entries for a three-digit reply code."""
        return list(self._exact.get(code, ()))

    def defined(self, code: str) -> list[Entry]:
        """Entries written exactly under ``code`` (any form)."""
        return list(self._exact.get(code, ())) + [
            r.entry for r in self._ranges if r.entry.code == code
        ]


def _read_data(name: str) -> str | None:
    from importlib.resources import files

    resource = files("mailprobe.data").joinpath(name)
    try:
        return resource.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None


@functools.cache
def load_table() -> CodeTable:
    """The bundled table (both data files), read once per process."""
    entries: list[Entry] = []
    for name in DATA_FILES:
        text = _read_data(name)
        if text is None:
            if name == DATA_FILES[0]:
                raise TableError(f"bundled data file {name} is missing")
            continue
        try:
            document = json.loads(text)
        except ValueError as exc:
            raise TableError(f"{name}: not valid JSON ({exc})") from exc
        entries += _quick_entries(document, name)
    return CodeTable(entries)


def _quick_entries(document: Any, name: str) -> list[Entry]:
    """Entries built without the full schema check, which the test suite runs on both files.

    Start-up time matters for ``mailprobe ndr``; a damaged file still fails with a clear
    ``TableError`` instead of a traceback.
    """
    try:
        return [
            Entry(
                code=raw["code"],
                source=raw["source"],
                reference=raw["reference"],
                title=raw["title"],
                meaning=raw["meaning"],
                causes=tuple(raw["causes"]),
                fixes=tuple(raw["fixes"]),
                related=tuple(raw.get("related", ())),
                next_commands=tuple(raw.get("next_commands", ())),
            )
            for raw in document["entries"]
        ]
    except (KeyError, TypeError, AttributeError) as exc:
        raise TableError(f"{name}: malformed entry ({type(exc).__name__}: {exc})") from None
