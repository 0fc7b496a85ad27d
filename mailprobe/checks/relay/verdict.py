"""How the battery's replies are judged: pure functions, no I/O.

``classify`` turns one variant's MAIL FROM and RCPT TO replies into an ``Outcome`` (only RCPT
can say accepted). ``decide`` gives the verdict from the relay variants' outcomes: OPEN if any
was accepted, else INCONCLUSIVE if any is undecided or none reached RCPT, else CLOSED.
``combine_reports`` gives one verdict over several servers, and ``enumeration_from`` judges the
VRFY and EXPN answers.
"""

from __future__ import annotations

import collections
import re
from collections.abc import Sequence

from mailprobe.checks.relay.model import (
    VERDICT_LABELS,
    EnumerationResult,
    Outcome,
    RelayReport,
    RelayRun,
    VariantResult,
    Verdict,
)
from mailprobe.model import Failure
from mailprobe.smtp.session import Reply

#: Outcomes that show the server refused to relay the variant.
CLOSED_OUTCOMES: frozenset[str] = frozenset({"rejected", "refused-temporarily", "auth-required"})
#: Outcomes that leave the variant undecided (the verdict cannot be CLOSED with any of these).
PENDING_OUTCOMES: frozenset[str] = frozenset({"deferred", "mail-deferred", "error", "not-tested"})


# A 4xx reply to RCPT that still says "relaying is not allowed": Postfix's default
# defer_unauth_destination answers "454 4.7.1 <...>: Relay access denied".
_TEMPORARY_RELAY_REFUSAL = re.compile(r"\brelay", re.IGNORECASE)


def classify(mail: Reply | None, rcpt: Reply | None) -> Outcome:
    """The outcome of one variant from its MAIL and RCPT replies; only RCPT can say accepted.

    A 4xx to RCPT that names relaying (Postfix's ``454 4.7.1 Relay access denied``) is a
    refusal, only a temporary one; any other 4xx leaves the variant undecided.
    """
    if mail is None:
        return "not-tested"
    if mail.code == 530:
        return "auth-required"
    if mail.category != "accepted":
        return "mail-deferred" if mail.category == "deferred" else "mail-refused"
    if rcpt is None:
        return "error"
    if rcpt.code == 530:
        return "auth-required"
    category = rcpt.category
    if category == "accepted":
        return "accepted"
    if category == "rejected":
        return "rejected"
    if category == "deferred":
        if _TEMPORARY_RELAY_REFUSAL.search(rcpt.text):
            return "refused-temporarily"
        return "deferred"
    return "error"


def decide(results: Sequence[VariantResult], stop_reason: str | None = None) -> tuple[Verdict, str]:
    """The battery's verdict and its reason from the relay variants' outcomes.

    OPEN if any variant was accepted; else INCONCLUSIVE if any is undecided (deferred, error,
    not tested) or none reached RCPT; else CLOSED. Variants whose MAIL FROM was refused were
    not tested; they do not stop a CLOSED verdict when others were rejected at RCPT.
    """
    relay = [r for r in results if r.kind == "relay"]
    accepted = [r.name for r in relay if r.outcome == "accepted"]
    if accepted:
        return "open", f"{len(accepted)} of {len(relay)} variants accepted: {', '.join(accepted)}"
    counts = collections.Counter(r.outcome for r in relay)
    pending = {k: v for k, v in counts.items() if k in PENDING_OUTCOMES}
    if pending or not relay:
        parts = [f"{n} {_OUTCOME_PHRASES[k]}" for k, n in sorted(pending.items())]
        reason = "; ".join(parts) if parts else "no variant was run"
        if stop_reason:
            reason = f"{stop_reason}; {reason}"
        return "inconclusive", f"battery not completed: {reason}"
    closed = sum(n for k, n in counts.items() if k in CLOSED_OUTCOMES)
    if closed == 0:
        return (
            "inconclusive",
            "the server refused every test sender at MAIL FROM, so no recipient was tried",
        )
    reason = f"all {closed} variants tried were refused"
    if counts["auth-required"]:
        reason += f" ({counts['auth-required']} with 530 authentication required)"
    if counts["mail-refused"]:
        reason += f"; {counts['mail-refused']} not tested because MAIL FROM was refused"
    return "closed", reason


_OUTCOME_PHRASES = {
    "deferred": "deferred (4xx)",
    "mail-deferred": "deferred at MAIL FROM (4xx)",
    "error": "failed (connection dropped or timed out)",
    "not-tested": "not tested",
}


def enumeration_from(
    vrfy_known: Reply | None, vrfy_unknown: Reply | None, expn: Reply | None
) -> EnumerationResult:
    """VRFY reveals users when a real and a made-up name get different kinds of answer."""
    reveals = (
        vrfy_known is not None
        and vrfy_unknown is not None
        and vrfy_known.category == "accepted"
        and vrfy_unknown.category in ("rejected", "deferred")
    )
    return EnumerationResult(
        vrfy_known=vrfy_known,
        vrfy_unknown=vrfy_unknown,
        expn=expn,
        vrfy_reveals_users=reveals,
        expn_enabled=expn is not None and expn.code in (250, 251),
    )


def combine_reports(
    mx_domain: str | None, reports: Sequence[RelayReport], failures: Sequence[Failure] = ()
) -> RelayRun:
    """One verdict over several servers: OPEN if any is open, else INCONCLUSIVE if any is."""
    reports = tuple(reports)
    if not reports:
        reason = failures[0].message if failures else "nothing was tested"
        return RelayRun(mx_domain, "inconclusive", reason, (), tuple(failures))
    if len(reports) == 1:
        only = reports[0]
        return RelayRun(mx_domain, only.verdict, only.reason, reports, tuple(failures))
    for verdict in ("open", "inconclusive"):
        hits = [r for r in reports if r.verdict == verdict]
        if hits:
            names = ", ".join(f"{r.target} [{r.address}]" for r in hits)
            return RelayRun(
                mx_domain, verdict, f"{VERDICT_LABELS[verdict]}: {names}", reports, tuple(failures)
            )
    return RelayRun(
        mx_domain, "closed", f"all {len(reports)} servers closed", reports, tuple(failures)
    )
