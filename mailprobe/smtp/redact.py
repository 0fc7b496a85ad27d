"""Keeping secrets out of everything the SMTP engine records or reports.

``Redactor`` replaces each registered secret, and its base64 forms, with ``REDACTED``
(``********``) in any text: ``SmtpSession`` passes every transcript line through one, and
``mailprobe ehlo`` its whole report.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable

REDACTED = "********"


class Redactor:
    """Replaces secrets (and their base64 forms) in any text with ``********``."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._needles: list[str] = []
        for secret in secrets:
            self.add(secret)

    def add(self, secret: str, *extra_forms: str) -> None:
        """Register a secret; its base64 form (with and without padding) is added too."""
        forms = [secret, *extra_forms]
        for form in list(forms):
            encoded = base64.b64encode(form.encode("utf-8")).decode("ascii")
            forms.extend([encoded, encoded.rstrip("=")])
        for form in forms:
            if len(form) >= 3 and form not in self._needles:
                self._needles.append(form)
        self._needles.sort(key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for needle in self._needles:
            if needle in text:
                text = text.replace(needle, REDACTED)
        return text
