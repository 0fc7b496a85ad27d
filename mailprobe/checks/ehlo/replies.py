"""Replies to the commands of a probe, classified: ``classify_reply(command, reply)`` gives a
``CommandResult`` with its outcome and, when the NDR table knows the code, a one-line title.
"""

from __future__ import annotations

import dataclasses

from mailprobe.smtp.session import Reply
from mailprobe.text import clean_line


@dataclasses.dataclass(frozen=True)
class CommandResult:
    """One command and the server's reply, classified.

    ``outcome``: accepted (2xx), intermediate (3xx), deferred (4xx), rejected (5xx), invalid.
    ``explanation`` is a one-line title from the NDR table for the enhanced (or basic) code.
    """

    command: str
    code: int
    enhanced_code: str | None
    text: str
    outcome: str
    explanation: str | None


def explain_code(reply: Reply) -> str | None:
    """A one-line title for a reply's enhanced code (else its basic code), or None."""
    try:
        from mailprobe.ndr.explain import explain
    except ImportError:  # the NDR table is optional for this command
        return None
    for token in (reply.enhanced_code, f"{reply.code:03d}" if 200 <= reply.code < 600 else None):
        if not token:
            continue
        try:
            title = explain(token).title
        except Exception:  # a table problem must not break a session report
            continue
        if title:
            return clean_line(title, 160)
    return None


def classify_reply(command: str, reply: Reply, *, explain: bool = True) -> CommandResult:
    """Turn a reply into a ``CommandResult``; errors (4xx/5xx) get their code explained."""
    explanation = explain_code(reply) if explain and reply.code >= 400 else None
    return CommandResult(
        command=command,
        code=reply.code,
        enhanced_code=reply.enhanced_code,
        text=reply.text,
        outcome=reply.category,
        explanation=explanation,
    )
