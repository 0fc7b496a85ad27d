"""How the battery's replies are judged: pure functions, no I/O.

``classify`` turns one variant's MAIL FROM and RCPT TO replies into an ``Outcome`` (only RCPT
can say accepted). ``judge`` gives each relay variant its *evidence* and the verdict that rests
on it:

- a variant whose recipient is in another domain and was accepted is evidence of relaying;
- an own-domain form (``user%ext@own``, ``"user@ext"@own``, ``ext!user@own``, unqualified
  forms) accepted by a server that refuses made-up local users is evidence too (it reroutes);
  accepted by a server that takes *any* local part (the catch-all probe) it proves nothing and
  is reported as unconfirmed, and the verdict rests on the other variants;
- a server that accepts every recipient at RCPT (made-up local ones and external ones) cannot
  be judged from RCPT: INCONCLUSIVE, unless ``--send`` tried the messages: one accepted is a
  confirmed OPEN, all refused at DATA is CLOSED;
- otherwise INCONCLUSIVE when any variant is undecided (deferred, limited, out of step, not
  tested), else CLOSED.

``combine_reports`` gives one verdict over several servers, and ``enumeration_from`` judges the
VRFY and EXPN answers.
"""

from __future__ import annotations

import collections
import dataclasses
import re
from collections.abc import Iterable, Sequence

from mailprobe.checks.relay.model import (
    VERDICT_LABELS,
    EnumerationResult,
    Evidence,
    Outcome,
    RelayReport,
    RelayRun,
    SendResult,
    VariantResult,
    Verdict,
)
from mailprobe.model import Failure
from mailprobe.smtp.replies import says_relay_denied
from mailprobe.smtp.session import Reply

#: Outcomes that show the server refused to relay the variant.
CLOSED_OUTCOMES: frozenset[str] = frozenset({"rejected", "refused-temporarily", "auth-required"})
#: Outcomes that leave the variant undecided (the verdict cannot be CLOSED with any of these).
PENDING_OUTCOMES: frozenset[str] = frozenset({"deferred", "mail-deferred", "error", "not-tested"})


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
        # Postfix's defer_unauth_destination: "454 4.7.1 <...>: Relay access denied"
        if says_relay_denied(rcpt.text):
            return "refused-temporarily"
        return "deferred"
    return "error"


def routing_domain(address: str) -> str | None:
    """The domain a recipient address is routed to: after the last ``@`` outside quotes,
    once a source route (``@a,@b:``) is dropped; None for an unqualified local part."""
    text = address.strip()
    if text.startswith("@") and ":" in text:
        text = text.split(":", 1)[1]
    quoted = False
    at = -1
    for index, char in enumerate(text):
        if char == '"':
            quoted = not quoted
        elif char == "@" and not quoted:
            at = index
    if at < 0:
        return None
    return text[at + 1 :].strip().rstrip(".").lower() or None


def is_local_recipient(address: str, local_domains: Iterable[str]) -> bool:
    """Whether the server would deliver ``address`` to itself (own domain, host name, address
    literal, or no domain at all), whatever the local part hides."""
    domain = routing_domain(address)
    return domain is None or domain in {d.rstrip(".").lower() for d in local_domains if d}


def evidence_of(
    result: VariantResult,
    local_domains: Iterable[str],
    catch_all: bool,
    send: SendResult | None = None,
) -> Evidence:
    """What one relay variant shows (see ``model.Evidence``). A message accepted for a
    recipient in the server's own domain may be a local delivery: only the RCPT evidence of
    such a variant counts."""
    local = is_local_recipient(result.rcpt_to, local_domains)
    if send is not None and not local:
        if send.outcome == "accepted":
            return "relayed"
        if send.outcome in ("rejected-at-data", "refused-before-data"):
            return "refused-at-data"
    outcome = result.outcome
    if outcome in CLOSED_OUTCOMES:
        return "refused"
    if outcome == "mail-refused":
        return "sender-refused"
    if outcome == "accepted":
        if local:
            return "unconfirmed-local" if catch_all else "accepted-rerouted"
        return "accepted-external"
    if outcome in ("deferred", "mail-deferred"):
        reply = result.rcpt_reply or result.mail_reply
        if reply is not None and _LIMITED.search(reply.text):
            return "limited"
        return "deferred"
    if outcome == "error":
        return "desync" if result.note.startswith(DESYNC_NOTE) else "error"
    return "not-tested"


#: The note of a variant whose answers were discarded because the session fell out of step.
DESYNC_NOTE = "replies out of step"
# Greylisting ("451 4.7.1 Greylisted, try again later") is deferred, not limited.
_LIMITED = re.compile(r"too many|rate limit|connection limit", re.IGNORECASE)
#: Evidence that leaves a variant undecided (no CLOSED verdict while any is left).
_UNDECIDED: frozenset[str] = frozenset({"deferred", "limited", "desync", "error", "not-tested"})


def judge(
    results: Sequence[VariantResult],
    *,
    local_domains: Iterable[str] = (),
    catch_all: bool = False,
    sends: Sequence[SendResult] = (),
    stop_reason: str | None = None,
) -> tuple[tuple[VariantResult, ...], Verdict, str, tuple[str, ...]]:
    """Each variant with its evidence, the verdict, its reason and the deciding variants."""
    local = tuple(local_domains)
    sent = {s.variant: s for s in sends}
    judged = tuple(
        dataclasses.replace(r, evidence=evidence_of(r, local, catch_all, sent.get(r.name)))
        for r in results
    )
    relay = [r for r in judged if r.kind == "relay"]
    relayed = [r.name for r in relay if r.evidence == "relayed"]
    if relayed:
        return (
            judged,
            "open",
            f"a test message was accepted for relaying via {relayed[0]}",
            (relayed[0],),
        )
    accepted = [r.name for r in relay if r.evidence in ("accepted-external", "accepted-rerouted")]
    unconfirmed = [r.name for r in relay if r.evidence == "unconfirmed-local"]
    if accepted and catch_all:
        return (
            judged,
            "inconclusive",
            "the server accepts every recipient at RCPT, made-up local ones and external ones "
            f"({len(accepted)} variants): RCPT replies cannot tell; confirm with --send",
            tuple(accepted),
        )
    if accepted:
        reason = f"{len(accepted)} of {len(relay)} variants accepted: {', '.join(accepted)}"
        return judged, "open", reason, tuple(accepted)
    counts = collections.Counter(r.evidence for r in relay)
    pending = {k: v for k, v in counts.items() if k in _UNDECIDED}
    if pending or not relay:
        parts = [f"{n} {_EVIDENCE_PHRASES[k]}" for k, n in sorted(pending.items())]
        reason = "; ".join(parts) if parts else "no variant was run"
        if stop_reason:
            reason = f"{stop_reason}; {reason}"
        return judged, "inconclusive", f"battery not completed: {reason}", ()
    refused = [r.name for r in relay if r.evidence in ("refused", "refused-at-data")]
    if not refused:
        return (
            judged,
            "inconclusive",
            "the server refused every test sender at MAIL FROM, so no recipient was tried",
            (),
        )
    reason = f"all {len(refused)} variants tried were refused"
    if counts["refused-at-data"]:
        reason += f" ({counts['refused-at-data']} at DATA, after RCPT accepted them)"
    auth_required = sum(1 for r in relay if r.outcome == "auth-required")
    if auth_required:
        reason += f" ({auth_required} with 530 authentication required)"
    if counts["sender-refused"]:
        reason += f"; {counts['sender-refused']} not tested because MAIL FROM was refused"
    if unconfirmed:
        reason += (
            f"; {len(unconfirmed)} own-domain forms unconfirmed: the domain accepts any local part"
        )
    return judged, "closed", reason, tuple(refused)


_EVIDENCE_PHRASES = {
    "deferred": "deferred (4xx)",
    "limited": "limited by the server (421, rate or connection limits)",
    "desync": "answered out of step (discarded)",
    "error": "failed (connection dropped or timed out)",
    "not-tested": "not tested",
}


def enumeration_from(
    vrfy_known: Reply | None, vrfy_unknown: Reply | None, expn: Reply | None
) -> EnumerationResult:
    """VRFY reveals users only when an existing and a made-up name, asked in the same syntax,
    get different answers: 250/251 for the one and a "no such user" 550/551/553 for the other.
    252 for everything (cannot verify), 501 for a syntax the server does not take, or 502
    (not implemented) reveal nothing."""
    reveals = (
        vrfy_known is not None
        and vrfy_unknown is not None
        and vrfy_known.code in (250, 251)
        and vrfy_unknown.code in (550, 551, 553)
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
