"""Find reply codes and enhanced status codes in one line (or a few lines) of server text.

Handles the shapes bounces and logs show: ``550 5.1.1 <bob@example.com>: ...``, multi-line
``550-5.1.1 ...``, Exchange's ``#550 5.1.1 RESOLVER.ADR.RecipNotFound; not found ##`` and
``#<host #5.7.1 smtp;530 5.7.1 Client was not authenticated> #SMTP#``, Postfix's
``host X said: 550 ...`` and RFC 3464 ``Diagnostic-Code: smtp; 550 ...``.
"""

from __future__ import annotations

import dataclasses
import re

from mailprobe.ndr.codes import StatusCode, find_status_codes

_MAX_TEXT = 500
# A reply code at the start of a line, after a marker (said:, smtp;, returned ', #), or
# directly followed by an enhanced status code.
_REPLY_AT_START_RE = re.compile(r"^[ \t#'\"(<]*([2-5][0-5][0-9])(?=[ -]|$)", re.MULTILINE)
_REPLY_AFTER_MARKER_RE = re.compile(
    r"(?:said:|smtp;|returned\s*'|response was:|response from the remote server was:)"
    r"[\s'\"#]*([2-5][0-5][0-9])(?=[ -]|$|')",
    re.IGNORECASE,
)
_REPLY_BEFORE_STATUS_RE = re.compile(
    r"(?<![0-9A-Za-z.])([2-5][0-5][0-9])[ -]#?[245]\.[0-9]{1,3}\.[0-9]{1,3}(?![0-9])"
)


@dataclasses.dataclass(frozen=True)
class ReplyCodes:
    """The codes found in a piece of server text, and the text cleaned for display."""

    reply_code: str | None
    status_codes: tuple[StatusCode, ...]
    text: str

    @property
    def found(self) -> bool:
        """Whether any code was found."""
        return self.reply_code is not None or bool(self.status_codes)


def find_reply_code(text: str) -> str | None:
    """The first basic reply code in ``text`` that is clearly used as one, or None."""
    candidates = []
    for pattern in (_REPLY_BEFORE_STATUS_RE, _REPLY_AFTER_MARKER_RE, _REPLY_AT_START_RE):
        match = pattern.search(text)
        if match:
            candidates.append((match.start(1), match[1]))
    return min(candidates)[1] if candidates else None


def parse_reply(text: str) -> ReplyCodes:
    """Every code in ``text`` plus the text itself, cleaned (printable, one line, bounded)."""
    bounded = text[:20_000]
    return ReplyCodes(
        reply_code=find_reply_code(bounded),
        status_codes=tuple(find_status_codes(bounded)),
        text=clean(bounded),
    )


def clean(text: str, limit: int = _MAX_TEXT) -> str:
    """Peer-controlled text made safe to show: printable, one line, at most ``limit`` chars."""
    flat = "".join(ch if ch.isprintable() else " " for ch in text[: limit * 4])
    flat = " ".join(flat.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
