"""Keeping secrets out of everything mailprobe records, shows or writes.

``Redactor`` replaces each registered secret, in every form it can take, with ``REDACTED``
(``********``). Two layers use one:

* The run's redactor (``run_redactor``) is the boundary: the CLI registers the AUTH credentials
  once, where it reads the password (``mailprobe.cli.smtp_options.read_password``), and every
  output of the run passes through it (``mailprobe.cli.runtime``): the terminal, ``--json``,
  the ``--transcript`` and ``--html`` files, error and warning lines, ``-v`` tracebacks. Result
  trees are redacted with ``redact_tree`` before they are rendered, and the finished text once
  more.
* Each ``SmtpSession`` has one too, as a second line of defence: it records credential lines
  as ``********`` when it sends them, and redacts the server's replies once credentials were
  sent, on the raw reply text before it is normalised (``Reply.from_message``).
"""

from __future__ import annotations

import base64
import dataclasses
import json
import re
import unicodedata
from collections.abc import Iterable
from typing import Any, TypeVar

from mailprobe.text import clean_line, show_controls

REDACTED = "********"

#: Forms shorter than this are replaced by position only (see ``Redactor``).
MIN_ANYWHERE = 3

#: Result fields that hold the server's answer to an AUTH exchange (redacted by position).
AUTH_REPLY_FIELDS = frozenset({"auth_reply"})
#: The ``step`` of a failure (``mailprobe.model.Failure``) whose ``message`` may quote an AUTH
#: reply (redacted by position).
AUTH_STEP = "AUTH"

T = TypeVar("T")


class Redactor:
    """Replaces secrets, in every form, with ``********``.

    **Forms.** ``add(secret)`` registers the secret as given and as it can reach an output:
    its Unicode NFC and NFD forms; as peer text looks after mailprobe normalised it
    (``clean_line``: characters that are not printable, such as TAB, NBSP or a zero-width
    space, become spaces, runs of white space collapse, the ends are stripped) or after white
    space alone was collapsed (error lines); as it is shown escaped (``show_controls``,
    ``repr``, JSON and HTML escapes); and the base64 of its UTF-8 bytes, with and without the
    ``=`` padding. ``add_credentials(user, password)`` adds the AUTH PLAIN blob
    (``base64("\\0user\\0password")``) as well; ``add(secret, *extra)`` any other derived form
    (a CRAM-MD5 answer).

    **Where forms are replaced.**

    * Anywhere (``redactor(text)``): every form of at least ``MIN_ANYWHERE`` (3) characters, as
      a substring, wherever it occurs, longest first.
    * By position (``redactor.auth_reply(text)``): in the server's replies to the lines of an
      AUTH exchange that carry credentials (the user name, the password, the PLAIN blob, the
      CRAM-MD5 answer, and the ``*`` that cancels), where a server echoing them is the known
      leak. There the long forms are replaced as above, and the short ones too (a password of
      one or two characters, ``YQ``: the unpadded base64 of ``a``), but only as whole tokens:
      not touching a letter, digit or underscore on either side (``[a]``, ``said: a.``, never
      the ``a`` of ``mail``). The position is known where the exchange happens: an
      ``SmtpSession`` applies ``auth_reply`` to every reply after a line it sent with
      ``secret=True`` until ``auth`` returns; ``redact_tree`` recognises the same replies in a
      finished result (see there).

    Short forms are never searched for anywhere else: replacing every ``a`` of a report would
    destroy it and hide nothing. Forms that are only white space count as short (normalising
    makes them vanish anyway); empty forms are ignored.
    """

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._long: list[str] = []
        self._short: list[str] = []
        self._anywhere: re.Pattern[str] | None = None
        self._positional: re.Pattern[str] | None = None
        for secret in secrets:
            self.add(secret)

    @property
    def active(self) -> bool:
        """Whether any secret is registered (nothing to do otherwise)."""
        return bool(self._long or self._short)

    def add(self, secret: str, *extra_forms: str) -> None:
        """Register a secret (all its forms, see the class doc) and derived forms of it."""
        forms: list[str] = []
        for value in (secret, *extra_forms):
            if not value:
                continue
            forms.extend(_text_forms(value))
            for raw in {value, *_unicode_forms(value)}:
                encoded = base64.b64encode(raw.encode("utf-8", "surrogatepass")).decode("ascii")
                forms.extend([encoded, encoded.rstrip("=")])
        changed = False
        for form in forms:
            if not form:
                continue
            bucket = self._long if len(form) >= MIN_ANYWHERE and form.strip() else self._short
            if form not in bucket:
                bucket.append(form)
                changed = True
        if changed:
            self._long.sort(key=len, reverse=True)
            self._short.sort(key=len, reverse=True)
            self._anywhere = self._positional = None

    def add_credentials(self, user: str | None, password: str) -> None:
        """Register an AUTH password and the AUTH PLAIN blobs built from it."""
        blobs = []
        if user is not None:
            for authzid in ("", user):
                blob = f"{authzid}\0{user}\0{password}".encode("utf-8", "surrogatepass")
                encoded = base64.b64encode(blob).decode("ascii")
                blobs += [encoded, encoded.rstrip("=")]
        self.add(password, *blobs)

    def __call__(self, text: str) -> str:
        """``text`` with every long form replaced, wherever it occurs."""
        if not self._long:
            return text
        if self._anywhere is None:
            self._anywhere = re.compile("|".join(re.escape(f) for f in self._long))
        return _replace(self._anywhere, text)

    def auth_reply(self, text: str) -> str:
        """``text`` as a reply inside an AUTH exchange: long forms anywhere, short forms as
        whole tokens (see the class doc)."""
        if not self._short:
            return self(text)
        if self._positional is None:
            parts = [re.escape(f) for f in self._long]
            shorts = "|".join(re.escape(f) for f in self._short)
            parts.append(rf"(?<!\w)(?:{shorts})(?!\w)")
            self._positional = re.compile("|".join(parts))
        return _replace(self._positional, text)


def _replace(pattern: re.Pattern[str], text: str) -> str:
    # A replacement can join text into a new match ("ab" + "********" cannot, but a secret
    # holding "*" can): a few passes, then stop.
    for _ in range(3):
        new = pattern.sub(REDACTED, text)
        if new == text:
            break
        text = new
    return text


def _unicode_forms(text: str) -> set[str]:
    return {unicodedata.normalize(form, text) for form in ("NFC", "NFD")}


def _text_forms(secret: str) -> list[str]:
    """The secret as text can show it: as given, normalised, escaped."""
    forms: list[str] = []
    for text in [secret, *sorted(_unicode_forms(secret))]:
        forms += [
            text,
            clean_line(text, max(len(text), 1)),
            " ".join(text.split()),
            text.strip(),
            show_controls(text),
            repr(text)[1:-1],
            ascii(text)[1:-1],
            json.dumps(text)[1:-1],
            json.dumps(text, ensure_ascii=False)[1:-1],
            _html_escape(text),
        ]
    return list(dict.fromkeys(forms))


def _html_escape(text: str) -> str:
    """``html.escape`` (without importing ``html``: this module is on every command's path)."""
    for char, entity in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ('"', "&quot;")):
        text = text.replace(char, entity)
    return text.replace("'", "&#x27;")


# -- the run's redactor ---------------------------------------------------------------------

_run = Redactor()


def run_redactor() -> Redactor:
    """The redactor of the running command: every output passes through it."""
    return _run


def reset_run_redactor() -> Redactor:
    """Forget the secrets of an earlier run (``main`` starts every run with this)."""
    global _run
    _run = Redactor()
    return _run


# -- result trees ---------------------------------------------------------------------------


def redact_tree(value: T, redactor: Redactor) -> T:
    """``value`` with ``redactor`` applied to every string inside it.

    Walks strings, tuples and lists, dicts (keys too) and dataclass instances (frozen ones are
    copied, never rebuilt through ``__init__``); anything else is kept. What did not change is
    returned as is. Position counts, as in ``Redactor``: in a transcript (a sequence of items
    with ``side`` and ``text``), the server lines after a client line recorded as ``********``
    are AUTH replies; so is a field named ``auth_reply``, the ``reply`` of a result that has a
    ``mechanism``, and the ``message`` (``text`` in JSON) of a failure of the ``AUTH`` step.
    Other text quoting an AUTH reply (a note, a finding) relies on the session, which redacted
    the reply by position when it arrived.
    """
    if not redactor.active:
        return value
    result: T = _walk(value, redactor, False)
    return result


def _walk(value: Any, redactor: Redactor, auth: bool) -> Any:
    if isinstance(value, str):
        new = redactor.auth_reply(value) if auth else redactor(value)
        return value if new == value else new
    if isinstance(value, list | tuple):
        items = _walk_sequence(value, redactor, auth)
        if all(a is b for a, b in zip(items, value, strict=True)):
            return value
        if isinstance(value, tuple) and hasattr(value, "_fields"):  # a named tuple
            return type(value)(*items)
        return type(value)(items)
    if isinstance(value, dict):
        with_mechanism = "mechanism" in value
        auth_step = value.get("step") == AUTH_STEP
        out: dict[Any, Any] = {}
        changed = False
        for key, item in value.items():
            new_key = _walk(key, redactor, False) if isinstance(key, str) else key
            positional = auth or _auth_field(key, with_mechanism, auth_step)
            new_item = _walk(item, redactor, positional)
            changed = changed or new_key is not key or new_item is not item
            out[new_key] = new_item
        return out if changed else value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = dataclasses.fields(value)
        with_mechanism = any(f.name == "mechanism" for f in fields)
        auth_step = getattr(value, "step", None) == AUTH_STEP
        changes = {}
        for field in fields:
            item = getattr(value, field.name)
            positional = auth or _auth_field(field.name, with_mechanism, auth_step)
            new_item = _walk(item, redactor, positional)
            if new_item is not item:
                changes[field.name] = new_item
        if not changes:
            return value
        import copy

        clone = copy.copy(value)
        for name, item in changes.items():
            object.__setattr__(clone, name, item)
        return clone
    return value


def _auth_field(name: object, with_mechanism: bool, auth_step: bool) -> bool:
    return (
        name in AUTH_REPLY_FIELDS
        or (with_mechanism and name == "reply")
        or (auth_step and name in ("message", "text"))
    )


def _walk_sequence(items: list[Any] | tuple[Any, ...], redactor: Redactor, auth: bool) -> list[Any]:
    out = []
    after_secret = False
    for item in items:
        side, text = _transcript_line(item)
        if side == "client":
            after_secret = REDACTED in text or (after_secret and text.strip() == "*")
        out.append(_walk(item, redactor, auth or (side == "server" and after_secret)))
    return out


def _transcript_line(item: Any) -> tuple[str | None, str]:
    """``(side, text)`` of a transcript line (a dataclass or its JSON dict); else None."""
    if isinstance(item, dict):
        side, text = item.get("side"), item.get("text")
    elif dataclasses.is_dataclass(item):
        side, text = getattr(item, "side", None), getattr(item, "text", None)
    else:
        return None, ""
    if isinstance(side, str) and isinstance(text, str):
        return side, text
    return None, ""
