"""Small text helpers for peer-controlled strings (banners, replies, DNS text).

Two different needs, two kinds of helper:

- *Keeping* a peer's line (``peer_line``): the exact text as the server sent it (spaces,
  controls and all), only cut to a sane length with a visible marker. SMTP replies are kept
  this way (``mailprobe.smtp.session.Reply``), so the transcript and the JSON show what the
  server said; showing it safely is the output layers' job (``show_controls``, ``json_safe``).
- *Parsing* a peer's line (``clean_line``): control characters become spaces and the line is
  cut to a sane length, so what is stored is one plain line.
- *Showing* text (``show_controls``): the one sanitiser for everything mailprobe writes to a
  terminal or into the HTML report. Text from peers (TXT records, SMTP banners and replies, DNS
  names, MTA-STS policies, bounce messages) may carry ESC sequences (screen clear, window title,
  OSC 52 clipboard writes), other C0/C1 controls, CR overwrites and Unicode bidi overrides
  (U+202A-U+202E, U+2066-U+2069, U+200E/F). ``show_controls`` shows each of them as a visible
  escape (``\\x1b``, ``\\x07``, ``\\r``, ``\\u202e``) so that none is ever emitted raw.
  It is applied where text is written, not by each renderer: ``mailprobe.render.console``
  (every rich console and its ``Text``), ``mailprobe.render.html.esc`` (the HTML report),
  ``mailprobe.render.ndr`` (the plain-text ndr writer) and the stderr error lines.
  JSON keeps the exact text; ``json_safe`` only makes sure the JSON text itself carries no raw
  control or bidi character (they are written as ``\\uXXXX`` escapes, which decode to the same
  string).
- *Refusing* input (``has_control_chars``): text mailprobe would send (HELO names, addresses)
  must not hold CR, LF or other controls (command injection).
"""

from __future__ import annotations

import re

#: Longest line kept from a peer; anything longer is cut and marked.
MAX_PEER_LINE = 512
#: Longest reply line kept exactly (``peer_line``); the rest is cut and marked.
MAX_REPLY_LINE = 1000
#: What ends a line ``peer_line`` cut.
CUT_MARK = "… [cut]"

_NAMED = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}
#: Anything that is not printable ASCII or a newline: the candidates ``json_safe`` looks at.
_NOT_PLAIN = re.compile(r"[^\x20-\x7e\n]")


def clean_line(text: str, limit: int = MAX_PEER_LINE) -> str:
    """One printable line of at most ``limit`` characters: control characters become spaces,
    runs of white space collapse, and an overlong line ends in an ellipsis."""
    flat = "".join(ch if ch.isprintable() else " " for ch in text)
    flat = " ".join(flat.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def peer_line(text: str, limit: int = MAX_REPLY_LINE) -> str:
    """``text`` exactly as sent (no character changed), or, when longer than ``limit``, its
    first characters followed by ``CUT_MARK`` (the result is then exactly ``limit`` long)."""
    if len(text) <= limit:
        return text
    return text[: max(limit - len(CUT_MARK), 0)] + CUT_MARK


def is_digits(text: str) -> bool:
    """Whether ``text`` is a non-empty run of the ASCII digits 0-9 (``str.isdigit`` also takes
    other scripts' digits and superscripts such as "²", which ``int`` refuses or misreads)."""
    return text.isascii() and text.isdigit()


def has_control_chars(text: str) -> bool:
    """True if ``text`` holds CR, LF, NUL or any other control character (command injection)."""
    return any(ord(ch) < 32 or ord(ch) == 127 for ch in text)


def _escape(ch: str) -> str:
    named = _NAMED.get(ch)
    if named is not None:
        return named
    code = ord(ch)
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def show_controls(text: str) -> str:
    """``text`` with every character that is not printable shown as a visible escape.

    Not printable (``str.isprintable``): C0 and C1 controls and DEL (ESC is ``\\x1b``, BEL
    ``\\x07``; TAB, LF and CR are ``\\t``, ``\\n``, ``\\r``), format characters such as the
    bidi controls U+202A-U+202E, U+2066-U+2069, U+200E/F (``\\u202e``) and zero-width
    characters, line and paragraph separators, spaces other than U+0020, surrogates, private-use
    and unassigned code points. Everything else, including non-ASCII letters (IDN names), is
    kept. The result is printable and the function is idempotent (a backslash is kept as it is,
    so a peer's literal ``\\x1b`` reads the same as an escaped ESC: harmless, and the JSON output
    has the exact text).
    """
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else _escape(ch) for ch in text)


def show_controls_keep_newlines(text: str) -> str:
    """``show_controls`` for text laid out in lines: LF stays a line break (rich's line ends)."""
    if text.isprintable():
        return text
    return "\n".join(show_controls(part) for part in text.split("\n"))


def json_safe(document: str) -> str:
    """Serialised JSON with no raw control, bidi or other non-printable character in it.

    ``json.dumps`` escapes C0 controls (ESC is ``\\u001b``) itself, but with
    ``ensure_ascii=False`` it writes DEL, C1 controls, bidi overrides and U+2028/U+2029 raw.
    Those can only occur inside strings, where ``\\uXXXX`` decodes to the same character: the
    decoded document is unchanged. Structural white space (LF, spaces) is kept.
    """
    if _NOT_PLAIN.search(document) is None:
        return document
    return _NOT_PLAIN.sub(_json_escape, document)


def _json_escape(match: re.Match[str]) -> str:
    ch = match.group(0)
    if ch.isprintable():
        return ch
    code = ord(ch)
    if code < 0x10000:
        return f"\\u{code:04x}"
    code -= 0x10000
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"
