"""Parsing the EHLO reply: keywords with their parameters, SIZE, AUTH mechanisms (pure).

``parse_extension(line)`` and ``parse_ehlo_reply(lines) -> Advertised``: EHLO keywords with
their parameters, SIZE in bytes and MB, AUTH mechanisms from ``AUTH X Y`` and ``AUTH=X``;
``verb_keyword`` is the keyword of an EHLO line or profile entry.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence

from mailprobe.text import clean_line, is_digits

_KEYWORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]*")
_MB = 1024 * 1024


@dataclasses.dataclass(frozen=True)
class Extension:
    """One advertised EHLO line: keyword (upper case), parameters, and the line as sent.

    ``legacy`` marks the pre-standard ``KEYWORD=PARAMS`` form (``AUTH=LOGIN``, ``X-EXPS=LOGIN``).
    """

    keyword: str
    params: tuple[str, ...]
    line: str
    legacy: bool = False


@dataclasses.dataclass(frozen=True)
class Advertised:
    """What one EHLO reply offered."""

    greeting: str
    extensions: tuple[Extension, ...]
    keywords: tuple[str, ...]
    size_limit: int | None
    size_limit_mb: float | None
    auth_mechanisms: tuple[str, ...]

    def has(self, keyword: str) -> bool:
        """Whether ``keyword`` was advertised (case-insensitive)."""
        return keyword.upper() in self.keywords


def verb_keyword(verb: str) -> str:
    """The keyword of an EHLO line or profile entry: first word before a space or ``=``."""
    text = verb.strip()
    match = _KEYWORD.match(text)
    if match is None:
        return clean_line(text.split(maxsplit=1)[0] if text.split() else text, 64).upper()
    return match.group(0).upper()


def parse_extension(line: str) -> Extension | None:
    """Parse one EHLO extension line (``SIZE 5242880``, ``AUTH=LOGIN``); None if empty."""
    text = clean_line(line)
    if not text:
        return None
    keyword = verb_keyword(text)
    rest = text[len(keyword) :] if text.upper().startswith(keyword) else text
    legacy = rest.startswith("=")
    params = tuple(rest.lstrip("=").replace("=", " ").split()) if legacy else tuple(rest.split())
    return Extension(keyword=keyword, params=params, line=text, legacy=legacy)


def parse_ehlo_reply(lines: Sequence[str]) -> Advertised:
    """Parse the text lines of a 250 EHLO reply: greeting first, then one extension each."""
    greeting = clean_line(lines[0]) if lines else ""
    body = list(lines[1:])
    if body and body[-1].strip().upper() == "OK":
        body.pop()  # Exchange/IIS end the list with "250 OK", which is not an extension
    extensions = tuple(ext for ext in map(parse_extension, body) if ext is not None)
    keywords = tuple(dict.fromkeys(ext.keyword for ext in extensions))
    size_limit: int | None = None
    mechanisms: list[str] = []
    for ext in extensions:
        if ext.keyword == "SIZE" and ext.params and is_digits(ext.params[0]):
            size_limit = int(ext.params[0][:20])
        elif ext.keyword == "AUTH":
            mechanisms.extend(p.upper() for p in ext.params)
    size_mb = round(size_limit / _MB, 2) if size_limit else None
    return Advertised(
        greeting=greeting,
        extensions=extensions,
        keywords=keywords,
        size_limit=size_limit,
        size_limit_mb=size_mb,
        auth_mechanisms=tuple(dict.fromkeys(mechanisms)),
    )
