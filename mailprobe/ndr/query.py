"""Turn command-line arguments of ``mailprobe ndr`` into explained ``Query`` results."""

from __future__ import annotations

import re
from collections.abc import Sequence

from mailprobe.errors import UsageError
from mailprobe.ndr.codes import StatusCode, check_code, looks_like_code, shown
from mailprobe.ndr.explain import explain_reply, explain_status, with_context
from mailprobe.ndr.model import CodeExplanation, Query

# Bounded repetitions keep the search linear on long lines.
_DOMAIN_IN_TEXT_RE = re.compile(
    r"[^\s<>()\[\]\"',;:@]{1,64}@([A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?)"
)
_MAX_ARG = 20_000


def explain_arguments(arguments: Sequence[str]) -> tuple[Query, ...]:
    """Explain codes given as arguments, or one reply line spread over several arguments.

    If every argument is a single code-like token, each is explained on its own; otherwise the
    arguments are joined into one line of server text. Raises ``UsageError`` for malformed
    codes and for text without any code.
    """
    tokens = [a.strip() for a in arguments]
    if not tokens or not any(tokens):
        raise UsageError("empty input: give a code like 5.1.1 or 550, or a reply line")
    if all(looks_like_code(t) for t in tokens):
        return tuple(_explain_token(t) for t in tokens)
    return (_explain_line(" ".join(a for a in arguments if a.strip())),)


def _explain_token(token: str) -> Query:
    code = check_code(token)
    if isinstance(code, StatusCode):
        return Query(token, "status-code", None, str(code), "", (explain_status(code),))
    return Query(token, "reply-code", code, None, "", (explain_reply(code),))


def _explain_line(line: str) -> Query:
    if len(line) > _MAX_ARG:
        raise UsageError(f"reply line too long ({len(line)} characters); use --file for a bounce")
    from mailprobe.ndr.reply import parse_reply

    found = parse_reply(line)
    if not found.found:
        raise UsageError(f"no status code or reply code found in {shown(line)}")
    domain_match = _DOMAIN_IN_TEXT_RE.search(line)
    domain = domain_match[1] if domain_match else None
    explanations: list[CodeExplanation] = [
        with_context(explain_status(code), line, domain) for code in found.status_codes
    ]
    if found.reply_code:
        explanations.append(with_context(explain_reply(found.reply_code), line, domain))
    from mailprobe.ndr.texts import match_texts

    codes = [str(code) for code in found.status_codes]
    codes += [found.reply_code] if found.reply_code else []
    return Query(
        input=found.text,
        kind="reply-line",
        reply_code=found.reply_code,
        status_code=str(found.status_codes[0]) if found.status_codes else None,
        text=found.text,
        explanations=tuple(explanations),
        text_matches=match_texts(found.text, codes),
    )
