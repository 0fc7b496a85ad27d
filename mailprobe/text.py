"""Small text helpers for peer-controlled strings (banners, replies, DNS text)."""

from __future__ import annotations

#: Longest line kept from a peer; anything longer is cut and marked.
MAX_PEER_LINE = 512


def clean_line(text: str, limit: int = MAX_PEER_LINE) -> str:
    """One printable line of at most ``limit`` characters: control characters become spaces,
    runs of white space collapse, and an overlong line ends in an ellipsis."""
    flat = "".join(ch if ch.isprintable() else " " for ch in text)
    flat = " ".join(flat.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def has_control_chars(text: str) -> bool:
    """True if ``text`` holds CR, LF, NUL or any other control character (command injection)."""
    return any(ord(ch) < 32 or ord(ch) == 127 for ch in text)
