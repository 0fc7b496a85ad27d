"""Syntax of delivery status codes: enhanced status codes (RFC 3463) and basic reply codes.

An enhanced status code is ``class.subject.detail``: the class is 2, 4 or 5, subject and
detail are 1 to 3 digits without leading zeros. A basic reply code (RFC 5321 section 4.2) is
three digits: the first 2 to 5, the second 0 to 5. Nothing here touches the code table; this
module only says whether a string is a code and splits it into its parts.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from mailprobe.errors import UsageError
from mailprobe.text import is_digits

_NUMBER = r"(?:0|[1-9][0-9]{0,2})"
_STATUS_RE = re.compile(rf"([245])\.({_NUMBER})\.({_NUMBER})")
_REPLY_RE = re.compile(r"[2-5][0-5][0-9]")
#: Anything a user probably meant as a code: digits, letters and dots, no spaces.
_CODE_LIKE_RE = re.compile(r"[0-9A-Za-z]+(?:\.[0-9A-Za-z]*)*|[0-9A-Za-z]*(?:\.[0-9A-Za-z]*)+")
_MAX_SHOWN = 40


class StatusCode(NamedTuple):
    """A well-formed enhanced status code, split into class, subject and detail.

    A NamedTuple rather than a dataclass: it is created at import time of the fast
    ``mailprobe ndr`` path, and a dataclass costs a compile step.
    """

    klass: int
    subject: int
    detail: int

    def __str__(self) -> str:
        return f"{self.klass}.{self.subject}.{self.detail}"

    @property
    def x_form(self) -> str:
        """The class-independent form used by RFC 3463 and the IANA registry (``X.1.1``)."""
        return f"X.{self.subject}.{self.detail}"


def parse_status_code(text: str) -> StatusCode | None:
    """The enhanced status code ``text`` spells exactly, or None if it is not one."""
    match = _STATUS_RE.fullmatch(text)
    if match is None:
        return None
    return StatusCode(int(match[1]), int(match[2]), int(match[3]))


def is_reply_code(text: str) -> bool:
    """Whether ``text`` is exactly a three-digit SMTP reply code (RFC 5321 section 4.2)."""
    return _REPLY_RE.fullmatch(text) is not None


def looks_like_code(text: str) -> bool:
    """Whether ``text`` is one token that was probably meant as a code (``5.x.1``, ``550``)."""
    return bool(text) and " " not in text and _CODE_LIKE_RE.fullmatch(text) is not None


def shown(text: str) -> str:
    """User input quoted for an error message: printable and short."""
    flat = "".join(ch if ch.isprintable() else "?" for ch in text)
    return repr(flat if len(flat) <= _MAX_SHOWN else flat[: _MAX_SHOWN - 1] + "…")


def check_code(text: str) -> StatusCode | str:
    """Validate one code token: a ``StatusCode``, or the reply code as a string.

    Raises ``UsageError`` naming what is wrong (class, leading zero, number of parts).
    """
    token = text.strip()
    if not token:
        raise UsageError("empty code: give a status code like 5.1.1 or a reply code like 550")
    status = parse_status_code(token)
    if status is not None:
        return status
    if is_reply_code(token):
        return token
    raise UsageError(f"not a status code: {shown(token)} ({_why_invalid(token)})")


def _why_invalid(token: str) -> str:
    parts = token.split(".")
    if len(parts) == 1:
        if is_digits(token) and len(token) == 3:
            return "a reply code starts with 2, 3, 4 or 5 and its second digit is 0 to 5"
        return "expected CLASS.SUBJECT.DETAIL like 5.1.1, or a three-digit reply code like 550"
    if len(parts) != 3:
        return f"expected three parts CLASS.SUBJECT.DETAIL, got {len(parts)}"
    for name, part in zip(("class", "subject", "detail"), parts, strict=True):
        if not part.isascii() or not part.isdigit():
            return f"the {name} must be a number"
    if parts[0] not in ("2", "4", "5"):
        return "the class must be 2 (success), 4 (temporary) or 5 (permanent)"
    for name, part in (("subject", parts[1]), ("detail", parts[2])):
        if len(part) > 3:
            return f"the {name} has at most three digits"
        if len(part) > 1 and part.startswith("0"):
            return f"the {name} must not have leading zeros (RFC 3463)"
    return "not a valid code"


def find_status_codes(text: str) -> list[StatusCode]:
    """Every enhanced status code that appears in free text, in order, without repeats."""
    found: list[StatusCode] = []
    for match in _STATUS_IN_TEXT_RE.finditer(text):
        code = StatusCode(int(match[1]), int(match[2]), int(match[3]))
        if code not in found:
            found.append(code)
    return found


# In free text a code stands alone: not part of a version number, IP address or longer code.
_STATUS_IN_TEXT_RE = re.compile(
    rf"(?<![0-9A-Za-z.])([245])\.({_NUMBER})\.({_NUMBER})(?![0-9])(?!\.[0-9])"
)
