"""Text helpers shared by the policy checks: TXT record joining, tag lists, safe display."""

from __future__ import annotations

from collections.abc import Iterable

#: Longest record text kept in a one-line summary (the full record stays in the result data).
SUMMARY_LIMIT = 160


def txt_text(strings: Iterable[bytes | str]) -> str:
    """One TXT record as text: its character-strings joined without separators (RFC 7208
    §3.3), bytes decoded as UTF-8 with replacement characters, so no input can raise."""
    parts: list[str] = []
    for piece in strings:
        if isinstance(piece, bytes | bytearray | memoryview):
            parts.append(bytes(piece).decode("utf-8", "replace"))
        else:
            parts.append(str(piece))
    return "".join(parts)


def shown(text: str, limit: int = SUMMARY_LIMIT, *, quote: bool = True) -> str:
    """Peer-controlled text made fit for a one-line summary: printable, bounded, quoted
    (unless ``quote`` is false)."""
    flat = "".join(ch if ch.isprintable() else " " for ch in text)
    flat = " ".join(flat.split())
    if len(flat) > limit:
        flat = flat[: limit - 1] + "…"
    return f'"{flat}"' if quote else flat


def tag_list(text: str) -> tuple[list[tuple[str, str]], list[str]]:
    """Split a ``tag=value; tag=value`` list (DKIM/DMARC/MTA-STS/TLS-RPT style).

    Returns the (name, value) pairs in order, names as written and values stripped of
    surrounding white space, plus one error text per malformed part. Empty parts (a
    trailing ``;``) are allowed.
    """
    pairs: list[tuple[str, str]] = []
    errors: list[str] = []
    for part in text.split(";"):
        stripped = part.strip(" \t\r\n")
        if not stripped:
            continue
        name, sep, value = stripped.partition("=")
        name = name.strip(" \t\r\n")
        if not sep or not name:
            errors.append(f"malformed tag {shown(stripped, 60)} (expected name=value)")
            continue
        pairs.append((name, value.strip(" \t\r\n")))
    return pairs, errors


def is_hostname(name: str) -> bool:
    """True for a syntactically valid DNS host name (LDH labels, each 1-63, total <= 253)."""
    name = name[:-1] if name.endswith(".") else name
    if not name or len(name) > 253:
        return False
    for label in name.split("."):
        if not 0 < len(label) <= 63:
            return False
        if label.startswith("-") or label.endswith("-"):
            return False
        if not all(ch.isascii() and (ch.isalnum() or ch in "-_") for ch in label):
            return False
    return True
