"""Frequent reply texts: what a server's words say beside its codes.

Servers often say more in words than in codes, and a code on its own can mislead: greylisting
usually comes as ``451 4.7.1``, whose generic meaning is "delivery not authorized". The bundled
table ``data/reply_texts.toml`` lists frequent texts (greylisting, mailbox full, user unknown,
blocklists, SPF/DKIM/DMARC, rate limits, ...) as case-insensitive patterns, each with what it
means, whose move it is and what to do.

The table is read lazily (first match) with ``tomllib`` and checked as it is loaded. Matching
stays linear in the text: the text is cut to ``MAX_TEXT`` characters with its white space
collapsed to single spaces, and the loader refuses patterns with unbounded repetition
(``*``, ``+``, ``{n,}``), so a pattern writes one space between words and ``{0,N}`` for a gap.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

from mailprobe.ndr.codes import is_reply_code, parse_status_code
from mailprobe.ndr.model import TextMatch
from mailprobe.ndr.table import TableError

DATA_FILE = "reply_texts.toml"
#: Characters of a text looked at (after white space is collapsed).
MAX_TEXT = 2000
_MAX_MATCHED = 120
_KEY_RE = re.compile(r"[a-z0-9]{1,30}(?:-[a-z0-9]{1,30}){0,6}")
#: Unbounded repetition: ``*``, ``+`` (not escaped) or ``{n,}``.
_UNBOUNDED_RE = re.compile(r"(?<!\\)[*+]|\{[0-9]{0,9},\}")
_TEXT_FIELDS = ("key", "title", "pattern", "meaning", "who")
_OPTIONAL = ("classes", "reply_codes", "status_codes", "fallback", "supersedes")


class TextRule(NamedTuple):
    """One entry of the reply-text table, checked and compiled."""

    key: str
    title: str
    pattern: re.Pattern[str]
    meaning: str
    who: str
    actions: tuple[str, ...]
    classes: frozenset[int] = frozenset()
    reply_codes: frozenset[str] = frozenset()
    status_codes: frozenset[str] = frozenset()
    fallback: bool = False
    supersedes: tuple[str, ...] = ()

    def applies(self, classes: set[int], replies: set[str], statuses: set[str]) -> bool:
        """Whether the codes found beside the text allow this entry (unknown codes do)."""
        if self.classes and classes and not classes & self.classes:
            return False
        if self.reply_codes and replies and not replies & self.reply_codes:
            return False
        return not (self.status_codes and statuses and not statuses & self.status_codes)


def validate_rule(raw: Any, where: str) -> TextRule:
    """Check one raw entry and build a ``TextRule``; ``TableError`` names ``where`` and why."""
    if not isinstance(raw, Mapping):
        raise TableError(f"{where}: an entry must be a table")
    unknown = set(raw) - {*_TEXT_FIELDS, "actions", *_OPTIONAL}
    if unknown:
        raise TableError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
    for name in _TEXT_FIELDS:
        value = raw.get(name)
        if not isinstance(value, str) or not value.strip():
            raise TableError(f"{where}: '{name}' must be a non-empty string")
    if not _KEY_RE.fullmatch(raw["key"]):
        raise TableError(f"{where}: key {raw['key']!r} must be lower case words joined by '-'")
    source = raw["pattern"]
    if _UNBOUNDED_RE.search(source):
        raise TableError(f"{where}: pattern uses *, + or {{n,}}; bound it with {{0,N}}")
    try:
        pattern = re.compile(source, re.IGNORECASE)
    except re.error as exc:
        raise TableError(f"{where}: pattern does not compile ({exc})") from None
    if pattern.search("") is not None or pattern.search(" ") is not None:
        raise TableError(f"{where}: pattern matches empty text")
    lists = {
        name: _strings(raw, name, where)
        for name in ("actions", "reply_codes", "status_codes", "supersedes")
    }
    if not lists["actions"]:
        raise TableError(f"{where}: 'actions' must not be empty")
    if not all(is_reply_code(code) for code in lists["reply_codes"]):
        raise TableError(f"{where}: 'reply_codes' must be three-digit reply codes")
    if not all(parse_status_code(code) for code in lists["status_codes"]):
        raise TableError(f"{where}: 'status_codes' must be enhanced status codes like 4.7.1")
    classes = raw.get("classes", [])
    if not isinstance(classes, list) or not all(type(c) is int and c in (4, 5) for c in classes):
        raise TableError(f"{where}: 'classes' must be a list of 4 and/or 5")
    fallback = raw.get("fallback", False)
    if not isinstance(fallback, bool):
        raise TableError(f"{where}: 'fallback' must be true or false")
    return TextRule(
        key=raw["key"],
        title=raw["title"],
        pattern=pattern,
        meaning=raw["meaning"],
        who=raw["who"],
        actions=lists["actions"],
        classes=frozenset(classes),
        reply_codes=frozenset(lists["reply_codes"]),
        status_codes=frozenset(lists["status_codes"]),
        fallback=fallback,
        supersedes=lists["supersedes"],
    )


def _strings(raw: Mapping[str, Any], name: str, where: str) -> tuple[str, ...]:
    value = raw.get(name, [])
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise TableError(f"{where}: '{name}' must be a list of non-empty strings")
    return tuple(value)


def parse_rules(document: Any, name: str) -> tuple[TextRule, ...]:
    """Check a whole document (``[[text]]`` entries) and return its rules, in file order."""
    if not isinstance(document, Mapping) or not isinstance(document.get("text"), list):
        raise TableError(f"{name}: expected [[text]] entries")
    rules = tuple(
        validate_rule(raw, f"{name} entry {i} ({_key_of(raw)})")
        for i, raw in enumerate(document["text"])
    )
    keys = [rule.key for rule in rules]
    for rule in rules:
        if keys.count(rule.key) > 1:
            raise TableError(f"{name}: key {rule.key!r} is used more than once")
        for other in rule.supersedes:
            if other not in keys or other == rule.key:
                raise TableError(f"{name}: {rule.key} supersedes unknown key {other!r}")
    return rules


def _key_of(raw: Any) -> str:
    key = raw.get("key") if isinstance(raw, Mapping) else None
    return key if isinstance(key, str) else "no key"


@functools.cache
def load_rules() -> tuple[TextRule, ...]:
    """The bundled reply-text table, read and checked once per process."""
    import tomllib
    from importlib.resources import files

    try:
        text = files("mailprobe.data").joinpath(DATA_FILE).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise TableError(f"bundled data file {DATA_FILE} is missing") from None
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise TableError(f"{DATA_FILE}: not valid TOML ({exc})") from None
    return parse_rules(document, DATA_FILE)


def flatten(text: str) -> str:
    """The text as patterns see it: white space collapsed to single spaces, bounded."""
    return " ".join(text[: MAX_TEXT * 2].split())[:MAX_TEXT]


def match_texts(
    text: str, codes: Iterable[str] = (), rules: Iterable[TextRule] | None = None
) -> tuple[TextMatch, ...]:
    """Every table entry whose pattern occurs in ``text``, in table order.

    ``codes`` are the codes found with the text (``451``, ``4.7.1``): an entry limited to some
    classes or codes applies only if they allow it (codes that are absent restrict nothing).
    Fallback entries count only when no other entry matches, and an entry that supersedes a
    more general one hides it.
    """
    flat = flatten(text)
    if not flat:
        return ()
    replies = {code for code in codes if is_reply_code(code)}
    statuses = {code for code in codes if parse_status_code(code) is not None}
    classes = {int(code[0]) for code in (*replies, *statuses)}
    hits: list[tuple[TextRule, str]] = []
    for rule in load_rules() if rules is None else rules:
        if not rule.applies(classes, replies, statuses):
            continue
        found = rule.pattern.search(flat)
        if found:
            hits.append((rule, found[0]))
    chosen = [hit for hit in hits if not hit[0].fallback] or hits
    hidden = {key for rule, _ in chosen for key in rule.supersedes}
    return tuple(
        TextMatch(
            key=rule.key,
            title=rule.title,
            matched=_shown(matched),
            meaning=rule.meaning,
            who=rule.who,
            actions=rule.actions,
        )
        for rule, matched in chosen
        if rule.key not in hidden
    )


def _shown(matched: str) -> str:
    flat = "".join(ch if ch.isprintable() else " " for ch in matched).strip()
    return flat if len(flat) <= _MAX_MATCHED else flat[: _MAX_MATCHED - 1] + "…"
