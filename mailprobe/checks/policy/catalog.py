"""The policy checks' door to the findings catalogue (``mailprobe.findings``).

Every code, with its usual severity and fix, is in the one catalogue; ``finding`` builds a
``Finding`` from it and bounds the summaries, which quote DNS and HTTP data. A check may give
another severity where the catalogue's rule allows it (e.g. ``dane.mismatch`` is only
informational without DNSSEC).
"""

from __future__ import annotations

from mailprobe.findings import make
from mailprobe.model import Finding, Severity

OK, INFO, WARN, FAIL = Severity.OK, Severity.INFO, Severity.WARN, Severity.FAIL


def finding(
    code: str,
    summary: str,
    *,
    subject: str = "",
    severity: Severity | None = None,
    domain: str = "",
    name: str = "",
    fix: str | None = None,
) -> Finding:
    """A Finding for ``code`` with the catalogue's severity and fix unless overridden."""
    made = make(
        code,
        _printable(summary, SUMMARY_MAX),
        subject=_printable(subject, 300),
        severity=severity,
        fix=fix,
        domain=domain,
        name=name,
    )
    return made


#: Longest summary kept; records quoted in summaries are already shortened.
SUMMARY_MAX = 600


def _printable(text: str, limit: int) -> str:
    """Summaries quote DNS and HTTP data: no control characters (terminal escapes), bounded."""
    if text.isprintable():
        return text if len(text) <= limit else text[: limit - 1] + "…"
    flat = "".join(ch if ch.isprintable() else "\ufffd" for ch in text)
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
