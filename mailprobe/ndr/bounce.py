"""Read a bounce message and find, per recipient, what was reported.

Two kinds of evidence are combined:

- RFC 3464 ``message/delivery-status`` parts (per-message ``Reporting-MTA``; per-recipient
  ``Final-Recipient``, ``Original-Recipient``, ``Action``, ``Status``, ``Remote-MTA``,
  ``Diagnostic-Code``), parsed from the MIME part or, for pasted text, from the raw lines;
- the human text of common bounces: Postfix (``<addr>: host X said: 550 ...``),
  Exchange/Outlook (``Remote Server returned '550 5.1.1 ...'``, ``#550 5.1.1 ... ##``, the
  "Diagnostic information for administrators" block) and Gmail ("The response from the remote
  server was: ...").

Delivery-status fields win; the text fills in what they lack and adds recipients they miss.
Input is bounded (``MAX_BYTES``) and binary input is refused with ``UsageError``.
"""

from __future__ import annotations

import dataclasses
import email
import email.errors
import email.header
import email.message
import re
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from mailprobe.errors import UsageError
from mailprobe.ndr.codes import parse_status_code
from mailprobe.ndr.explain import explain, with_context
from mailprobe.ndr.model import BounceReport, CodeExplanation, RecipientStatus
from mailprobe.ndr.reply import clean, parse_reply
from mailprobe.ndr.texts import match_texts

MAX_BYTES = 5 * 1024 * 1024
_MAX_RECIPIENTS = 1000
_UNKNOWN = "(unknown recipient)"
_MAX_FIELD = 2000  # characters kept of one DSN field
_MAX_LINE = 2000  # characters of one text line looked at
# Local part bounded (64, RFC 5321) so that searching long lines stays linear.
_ADDR = r"[^\s<>()\[\]\"',;:@]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?"
_ADDR_RE = re.compile(_ADDR)
# A line that is only an address, maybe in brackets, with a (copy), <mailto:...> or "on DATE".
_ADDR_LINE_RE = re.compile(
    rf"^\s*<?(?:mailto:)?({_ADDR})>?\s*(?:\(.*\)|<mailto:[^>]*>|on\s.*|\[.*\])?\s*$", re.IGNORECASE
)
_POSTFIX_START_RE = re.compile(rf"^<({_ADDR})>:\s*(.*)$")
_PROSE_RECIPIENT_RE = re.compile(
    r"(?:delivered to|delivery to|deliver(?:ed)? (?:it )?to|message to|recipient:?)"
    rf"\s+<?({_ADDR})>?",
    re.IGNORECASE,
)
_DSN_RECIPIENT_RE = re.compile(
    rf"^\s*(?:final|original)-recipient:\s*[^;]*;\s*<?({_ADDR})", re.IGNORECASE
)
_CODE_LINE_HINT_RE = re.compile(
    r"remote server returned|said:|smtp;|^\s*#?[2-5][0-5][0-9][ -]|#[245]\.\d|"
    r"(?<![\w.])[245]\.\d{1,3}\.\d{1,3}(?![\d.])",
    re.IGNORECASE,
)
_STOP_RE = re.compile(
    r"^\s*(original message headers|-+\s*original message|-+ this is a copy of|"
    r"-+\s*forwarded message|received:\s)",
    re.IGNORECASE,
)
_FORMAT_HINTS = (
    (
        "postfix",
        re.compile(r"this is the mail system at host|^[ \t]*the mail system[ \t]*$", re.I | re.M),
    ),
    (
        "exchange",
        re.compile(
            r"delivery has failed to these recipients|diagnostic information for administrators|"
            r"remote server returned|#SMTP#|following recipient\(s\) cannot be reached",
            re.I,
        ),
    ),
    (
        "gmail",
        re.compile(
            r"the response from the remote server was|the response was:|address not found|gsmtp",
            re.I,
        ),
    ),
)


# --- reading input ---------------------------------------------------------------------------


def read_stream(stream: BinaryIO, name: str = "standard input") -> bytes:
    """Read at most ``MAX_BYTES`` from ``stream``; refuse anything larger."""
    try:
        data = stream.read(MAX_BYTES + 1)
    except OSError as exc:
        raise UsageError(f"cannot read {name}: {exc.strerror or exc}") from None
    if not isinstance(data, bytes):
        raise UsageError(f"cannot read {name} as bytes")
    if len(data) > MAX_BYTES:
        raise UsageError(f"{name} is larger than {MAX_BYTES // (1024 * 1024)} MB; not a bounce")
    return data


def read_file(path: Path) -> bytes:
    """Read a bounce file by the rule of every input file (``mailprobe.files``: bounded, a
    regular file or a pipe with a writer); problems are one-line usage errors."""
    from mailprobe.files import read_bytes

    return read_bytes(path, limit=MAX_BYTES)


def check_text(data: bytes, name: str) -> None:
    """Refuse input that cannot be a bounce: empty, binary, or non-UTF-8 non-mail text."""
    if not data.strip():
        raise UsageError(f"{name} is empty")
    head = data[:65536]
    if b"\x00" in head:
        raise UsageError(f"{name} looks like binary data (NUL bytes), not a mail message")
    controls = sum(1 for b in head if (b < 32 and b not in b"\t\n\r\f\x1b") or b == 127)
    if controls * 20 > len(head):
        raise UsageError(f"{name} looks like binary data, not a mail message")
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        if not _looks_like_message(data):
            raise UsageError(
                f"{name} is not UTF-8 text and not a mail message; save the bounce as .eml"
            ) from None


def _looks_like_message(data: bytes) -> bool:
    first = data.lstrip()[:200].split(b"\n", 1)[0]
    return re.match(rb"(From |[A-Za-z][A-Za-z0-9-]{0,76}:)", first) is not None


# --- parsing ---------------------------------------------------------------------------------


@dataclasses.dataclass
class _Recipient:
    recipient: str
    found_in: str
    original_recipient: str | None = None
    action: str | None = None
    status: str | None = None
    reply_code: str | None = None
    diagnostic: str | None = None
    remote_mta: str | None = None
    codes: list[str] = dataclasses.field(default_factory=list)

    def add_codes(self, codes: list[str]) -> None:
        for code in codes:
            if code not in self.codes:
                self.codes.append(code)


def parse_bounce(data: bytes, source: str) -> BounceReport:
    """Parse a whole bounce message (bytes, already checked) into a ``BounceReport``."""
    check_text(data, source)
    if not _looks_like_message(data):
        # Pasted bounce text without headers: one plain text part (check_text made sure it
        # is UTF-8).
        data = b"Content-Type: text/plain; charset=utf-8\n\n" + data
    try:
        message = email.message_from_bytes(data)
    except (ValueError, LookupError, TypeError, IndexError) as exc:  # malformed MIME
        raise UsageError(f"{source}: cannot parse as a mail message ({exc})") from None
    except RecursionError:  # the stdlib parser recurses once per nested multipart
        raise UsageError(f"{source}: MIME parts nested too deeply to be a bounce") from None
    notes: list[str] = []
    formats: list[str] = []
    reporting_mta: str | None = None
    recipients: dict[str, _Recipient] = {}

    texts: list[str] = []
    dsn_blocks: list[list[dict[str, str]]] = []
    for part in _parts(message):
        ctype = part.get_content_type()
        if ctype in ("message/delivery-status", "message/global-delivery-status"):
            dsn_blocks.append(_dsn_blocks(part))
        elif ctype in ("text/plain", "text/html") or (not part.is_multipart() and part is message):
            text = _decoded(part)
            texts.append(_strip_html(text) if ctype == "text/html" else text)
    if not any(dsn_blocks):
        # Pasted or inline delivery-status fields (no MIME structure).
        whole = "\n".join(texts) or _decoded(message)
        header_text = "".join(f"{k}: {_header_str(v)}\n" for k, v in message.items())
        fields = _blocks_from_text(header_text + "\n" + whole)
        if any("final-recipient" in b or "original-recipient" in b for b in fields):
            dsn_blocks.append(fields)

    for blocks in dsn_blocks:
        if not blocks:
            continue
        formats.append("rfc3464")
        for block in blocks:
            if "reporting-mta" in block and reporting_mta is None:
                reporting_mta = clean(_after_type(block["reporting-mta"]), 255)
            if "final-recipient" in block or "original-recipient" in block:
                _add_dsn_recipient(block, recipients, notes)

    text = "\n".join(texts)
    for name, pattern in _FORMAT_HINTS:
        if pattern.search(text):
            formats.append(name)
    text_format = next((f for f in formats if f != "rfc3464"), None)
    found_in = f"{text_format}-text" if text_format else "text"
    for address, line in _text_codes(text):
        codes = parse_reply(line)
        if not codes.found:
            if address != _UNKNOWN and address.lower() not in recipients:
                notes.append(f"{clean(address, 320)}: reported without a code: {codes.text}")
            continue
        # A code line that names a known recipient belongs to it (Sendmail transcripts,
        # Exchange "Recipient x not found"); otherwise to the last recipient seen.
        named = [a for a in _ADDR_RE.findall(line) if a.lower() in recipients]
        if named:
            address = named[0]
        elif address == _UNKNOWN and _ADDR_RE.search(line):
            address = _ADDR_RE.findall(line)[0]
        elif address == _UNKNOWN and len(recipients) == 1:
            address = next(iter(recipients.values())).recipient
        key = address.lower()
        entry = recipients.get(key)
        if entry is None:
            if len(recipients) >= _MAX_RECIPIENTS:
                notes.append(f"more than {_MAX_RECIPIENTS} recipients; the rest are not shown")
                break
            entry = recipients[key] = _Recipient(recipient=address, found_in=found_in)
        _add_text_codes(entry, codes.reply_code, [str(c) for c in codes.status_codes], codes.text)

    found = [r for r in recipients.values() if r.codes]
    if not found:
        notes.append("no delivery status code (like 5.1.1) or reply code (like 550) was found")
    explanations = _explain_all(found)
    subject = _header_str(message.get("Subject")) if message.get("Subject") else None
    return BounceReport(
        source=source,
        formats=tuple(dict.fromkeys(formats)) or ("text",),
        reporting_mta=reporting_mta,
        subject=clean(subject, 200) if subject else None,
        recipients=tuple(_frozen(r) for r in found),
        explanations=explanations,
        notes=tuple(dict.fromkeys(notes)),
    )


def _parts(message: email.message.Message, depth: int = 0) -> Iterator[email.message.Message]:
    """The message's parts, without descending into attached original messages."""
    yield message
    if (
        depth < 20
        and message.is_multipart()
        and message.get_content_type()
        not in (
            "message/rfc822",
            "message/delivery-status",
            "message/global-delivery-status",
            "text/rfc822-headers",
        )
    ):
        payload = message.get_payload()
        if isinstance(payload, list):
            for sub in payload[:200]:
                if isinstance(sub, email.message.Message):
                    yield from _parts(sub, depth + 1)


def _decoded(part: email.message.Message) -> str:
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        raw = part.get_payload()
        return raw if isinstance(raw, str) else ""
    return _decode_bytes(payload, part.get_content_charset())


def _decode_bytes(data: bytes, charset: str | None) -> str:
    """Text in its declared charset, else UTF-8, else Latin-1 (which never fails)."""
    for encoding in (charset or "utf-8", "utf-8"):
        try:
            return data.decode(encoding)
        except (LookupError, UnicodeDecodeError):
            continue
    return data.decode("latin-1")


def _strip_html(text: str) -> str:
    # Only simple, bounded patterns: the input is untrusted and may be megabytes long.
    text = re.sub(r"(?i)<br[ /]{0,3}>|</(p|div|tr|li|h\d)>", "\n", text)
    text = re.sub(r"<[^<>]{0,2000}>", " ", text)
    import html

    return html.unescape(text)


def _header_str(value: object) -> str:
    if isinstance(value, email.header.Header):
        # Raw 8-bit bytes in a header: UTF-8 if they are valid UTF-8, else Latin-1.
        pieces = []
        for chunk, charset in email.header.decode_header(value):
            if isinstance(chunk, str):
                pieces.append(chunk)
                continue
            pieces.append(_decode_bytes(chunk, charset))
        return "".join(pieces)
    text = str(value)
    if any("\udc80" <= ch <= "\udcff" for ch in text):
        # Raw 8-bit header bytes kept as surrogates by the parser: UTF-8 if valid, else Latin-1.
        raw = text.encode("utf-8", "surrogateescape")
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            return raw.decode("latin-1")
    if "=?" in text:
        try:
            return str(email.header.make_header(email.header.decode_header(text)))
        except (UnicodeError, LookupError, ValueError, email.errors.HeaderParseError):
            return text
    return text


def _dsn_blocks(part: email.message.Message) -> list[dict[str, str]]:
    payload = part.get_payload()
    if isinstance(payload, list):
        blocks = []
        for block in payload[: _MAX_RECIPIENTS + 1]:
            if isinstance(block, email.message.Message):
                fields: dict[str, str] = {}
                for key, value in block.items():
                    fields.setdefault(key.lower(), _header_str(value))
                blocks.append(fields)
        return blocks
    return _blocks_from_text(payload if isinstance(payload, str) else _decoded(part))


def _blocks_from_text(text: str) -> list[dict[str, str]]:
    """DSN-style field blocks (separated by blank lines) found in plain text."""
    blocks: list[dict[str, str]] = []
    current: dict[str, str] = {}
    last: str | None = None
    for line in text.splitlines()[:20000]:
        if not line.strip():
            if current:
                blocks.append(current)
            current, last = {}, None
            continue
        if line[:1] in " \t" and last is not None:
            if len(current[last]) < _MAX_FIELD:
                current[last] = (current[last] + " " + line.strip())[:_MAX_FIELD]
            continue
        match = re.match(r"([A-Za-z][A-Za-z0-9-]{0,60}):\s*(.*)$", line)
        if match:
            last = match[1].lower()
            current.setdefault(last, match[2])
        else:
            last = None
    if current:
        blocks.append(current)
    return blocks


def _after_type(value: str) -> str:
    """``rfc822; bob@example.com`` -> ``bob@example.com`` (the address-type prefix removed)."""
    return value.split(";", 1)[1].strip() if ";" in value else value.strip()


def _add_dsn_recipient(
    block: dict[str, str], recipients: dict[str, _Recipient], notes: list[str]
) -> None:
    final = clean(_after_type(block.get("final-recipient", "")), 320)
    original = clean(_after_type(block.get("original-recipient", "")), 320) or None
    address = final or original or _UNKNOWN
    if len(recipients) >= _MAX_RECIPIENTS:
        notes.append(f"more than {_MAX_RECIPIENTS} recipients; the rest are not shown")
        return
    key = address.lower()
    if key in recipients:  # the same address reported twice: keep both
        key = f"{key}#{len(recipients)}"
    entry = _Recipient(recipient=address, found_in="delivery-status", original_recipient=original)
    entry.action = clean(block.get("action", ""), 40).lower() or None
    status_text = block.get("status", "").strip()
    token = status_text.split()[0] if status_text else ""
    status = parse_status_code(token)
    if status is not None:
        entry.status = str(status)
        entry.add_codes([entry.status])
    elif status_text:
        notes.append(f"{address}: Status field {clean(status_text, 40)!r} is not a valid code")
    else:
        notes.append(f"{address}: no Status field")
    remote = block.get("remote-mta")
    remote_host = _after_type(remote).split()[0].rstrip(".") if remote and remote.strip() else ""
    entry.remote_mta = clean(remote_host, 255) or None
    diagnostic = block.get("diagnostic-code")
    if diagnostic:
        found = parse_reply(_after_type(diagnostic))
        _add_text_codes(entry, found.reply_code, [str(c) for c in found.status_codes], found.text)
    recipients[key] = entry


def _add_text_codes(entry: _Recipient, reply: str | None, statuses: list[str], text: str) -> None:
    entry.add_codes(statuses)
    if reply:
        entry.add_codes([reply])
        entry.reply_code = entry.reply_code or reply
    if text and not entry.diagnostic:
        entry.diagnostic = text
    elif (
        reply
        and entry.diagnostic
        and entry.diagnostic.startswith(f"{reply}-")
        and text.startswith(reply)
        and text not in entry.diagnostic
    ):
        # The next line of a multi-line reply (550-5.7.26 ... / 550 5.7.26 ...).
        entry.diagnostic = clean(f"{entry.diagnostic} {text}")


def _text_codes(text: str) -> Iterator[tuple[str, str]]:
    """(recipient, line with codes) pairs from the human text of a bounce."""
    lines = [line[:_MAX_LINE] for line in text.splitlines()[:20000]]
    current = _UNKNOWN
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        if _STOP_RE.match(line):
            break
        postfix = _POSTFIX_START_RE.match(line.strip())
        if postfix:
            current = postfix[1]
            block = [postfix[2]]
            while i < len(lines) and lines[i][:1] in (" ", "\t") and lines[i].strip():
                if len(block) < 20:
                    block.append(lines[i].strip())
                i += 1
            joined = " ".join(block)
            said = re.split(r"\bsaid:", joined, maxsplit=1, flags=re.IGNORECASE)
            yield current, (("said: " + said[1]) if len(said) == 2 else joined)
            continue
        address_only = _ADDR_LINE_RE.match(line)
        if address_only:
            current = address_only[1]
            continue
        prose = _DSN_RECIPIENT_RE.match(line) or _PROSE_RECIPIENT_RE.search(line)
        if prose:
            current = prose[1]
        if _CODE_LINE_HINT_RE.search(line):
            yield current, line


def _explain_all(recipients: list[_Recipient]) -> tuple[CodeExplanation, ...]:
    explanations: dict[str, CodeExplanation] = {}
    for entry in recipients:
        domain = entry.recipient.rpartition("@")[2] if "@" in entry.recipient else None
        for code in entry.codes:
            if code not in explanations:
                base = explain(code)
                context = entry.diagnostic or ""
                explanations[code] = with_context(base, context, domain, entry.remote_mta)
    return tuple(explanations.values())


def _frozen(entry: _Recipient) -> RecipientStatus:
    matches = match_texts(entry.diagnostic, entry.codes) if entry.diagnostic else ()
    return RecipientStatus(
        recipient=entry.recipient,
        original_recipient=entry.original_recipient,
        action=entry.action,
        status=entry.status,
        reply_code=entry.reply_code,
        diagnostic=entry.diagnostic,
        remote_mta=entry.remote_mta,
        found_in=entry.found_in,
        codes=tuple(entry.codes),
        text_matches=matches,
    )
