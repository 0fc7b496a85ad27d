"""The battery's results as findings (codes ``relay.*``), worst first.

``relay_findings`` gives the verdict's finding (``relay.open``, ``relay.closed`` or
``relay.inconclusive``), then what the verdict rests on (RCPT only, a catch-all server, a
trusted-network target, temporary refusals, untested and skipped variants, reconnects), internal
spoofing, ``--send``, the authenticated relay check and VRFY/EXPN.
"""

from __future__ import annotations

from collections.abc import Sequence

from mailprobe.checks.relay.model import (
    AuthRelayResult,
    EnumerationResult,
    SendResult,
    VariantResult,
    Verdict,
)
from mailprobe.checks.relay.names import is_inside_address
from mailprobe.checks.relay.variants import SkippedVariant
from mailprobe.checks.relay.verdict import CLOSED_OUTCOMES
from mailprobe.findings import make
from mailprobe.model import Finding, Severity

#: How to settle what RCPT replies cannot (also for check, which has no --send of its own).
CONFIRM_WITH_SEND = (
    "Confirm with 'mailprobe relay-test HOST --send --to ADDRESS' (a mailbox you read): a "
    "message refused at DATA was not relayed, one accepted means an open relay; servers that "
    "accept everything and discard later are not relays."
)
#: Average reply time from which the battery says the server slowed it down.
SLOW_REPLY_SECONDS = 1.0


def relay_findings(
    *,
    verdict: Verdict,
    reason: str,
    variants: Sequence[VariantResult],
    probes: Sequence[VariantResult],
    skipped: Sequence[SkippedVariant],
    address: str | None,
    own_domain: str | None,
    enumeration: EnumerationResult | None,
    authenticated: AuthRelayResult | None,
    sent: SendResult | None,
    reconnects: int,
    desynced: int = 0,
    reply_seconds: float | None = None,
    throttled: int = 0,
) -> tuple[Finding, ...]:
    """Turn the battery's results into findings (codes ``relay.*``), worst first."""
    found: list[Finding] = []
    subject = address or ""
    accepted = [v.name for v in variants if v.outcome == "accepted"]
    probe = {p.name: p for p in probes}
    if verdict == "open":
        found.append(
            Finding(
                Severity.FAIL,
                "relay.open",
                f"OPEN RELAY: the server accepted anonymous relaying ({reason})",
                "Allow relaying only for authenticated users and trusted networks "
                "(Postfix: smtpd_relay_restrictions = permit_mynetworks, "
                "permit_sasl_authenticated, reject_unauth_destination; Exchange: keep the "
                "default relay restrictions).",
                subject,
            )
        )
    elif verdict == "closed":
        found.append(Finding(Severity.OK, "relay.closed", f"CLOSED: {reason}", "", subject))
    else:
        found.append(
            Finding(
                Severity.WARN,
                "relay.inconclusive",
                f"INCONCLUSIVE: {reason}",
                CONFIRM_WITH_SEND
                if "accepts every recipient" in reason
                else "Run again later (greylisting, rate limits), with fewer --connections, or "
                "from another network; see the transcript (--transcript FILE).",
                subject,
            )
        )
    if accepted and sent is None:
        found.append(
            Finding(
                Severity.INFO,
                "relay.rcpt-only",
                "Relaying was judged from the RCPT TO reply only; some servers accept "
                "recipients and refuse or drop the message later",
                "Confirm with --send --to ADDRESS (a mailbox you read).",
                subject,
            )
        )
    if sent is not None:
        found.append(_send_finding(sent, subject))
    unknown = probe.get("local-unknown")
    if unknown is not None and unknown.outcome == "accepted":
        found.append(
            Finding(
                Severity.INFO,
                "relay.accepts-unknown-recipients",
                f"The server accepted a made-up recipient <{unknown.rcpt_to}>: it takes any "
                "local part of its own domain at RCPT (catch-all, or accept now and bounce or "
                "discard later), so own-domain address forms cannot show relaying",
                CONFIRM_WITH_SEND,
                subject,
            )
        )
    if is_inside_address(address):
        found.append(
            Finding(
                Severity.INFO,
                "relay.trusted-network",
                f"The target {address} is a loopback or private address: this test probably "
                "ran from inside the server's trusted networks, which may relay legitimately",
                "Repeat the test from a host outside the server's networks to see what the "
                "Internet sees.",
                subject,
            )
        )
    found.extend(_spoofing_findings(probe, own_domain, subject))
    if any(v.outcome == "refused-temporarily" for v in variants):
        found.append(
            Finding(
                Severity.INFO,
                "relay.temporary-refusal",
                "Relaying is refused with a temporary (4xx) reply, e.g. Postfix's "
                "defer_unauth_destination: the server does not relay, senders just retry",
                "Nothing to do; use reject_unauth_destination for a permanent refusal.",
                subject,
            )
        )
    if any(v.outcome == "auth-required" for v in variants):
        found.append(
            Finding(
                Severity.INFO,
                "relay.auth-required",
                "The server answered 530 (authentication required): anonymous clients cannot "
                "send through it",
                "",
                subject,
            )
        )
    not_tested = [v.name for v in variants if v.outcome == "mail-refused"]
    if not_tested:
        found.append(
            Finding(
                Severity.INFO,
                "relay.not-tested",
                f"{len(not_tested)} variants were not tested because MAIL FROM was refused: "
                + ", ".join(not_tested),
                "",
                subject,
            )
        )
    if skipped:
        found.append(
            Finding(
                Severity.INFO,
                "relay.skipped",
                f"{len(skipped)} variants skipped: "
                + ", ".join(f"{s.name} ({s.reason})" for s in skipped),
                "Give --domain to build the own-domain variants." if own_domain is None else "",
                subject,
            )
        )
    if reply_seconds is not None and reply_seconds >= SLOW_REPLY_SECONDS:
        found.append(
            make(
                "relay.slow-server",
                f"the server took {reply_seconds:.1f} s per reply on average (tarpitting or "
                "an overloaded filter): the battery was slowed down",
                subject=subject,
            )
        )
    if desynced:
        found.append(
            make(
                "smtp.out-of-step",
                f"the server's replies fell out of step with the commands in {desynced} "
                "sessions: their answers were discarded, never read as a verdict",
                subject=subject,
            )
        )
    if reconnects:
        found.append(
            Finding(
                Severity.INFO,
                "relay.reconnects",
                f"The server ended {reconnects} sessions early (421 or disconnect); "
                "the battery reconnected",
                "",
                subject,
            )
        )
    if throttled:
        found.append(
            make(
                "smtp.throttled",
                f"{throttled} of the battery's connections were first answered 421 (too many "
                "connections / try later): mailprobe waited and connected again",
                subject=subject,
            )
        )
    if authenticated is not None:
        found.append(_auth_finding(authenticated, verdict, subject))
    if enumeration is not None:
        found.extend(_enumeration_findings(enumeration, subject))
    found.sort(key=lambda f: -f.severity.rank)
    return tuple(found)


def _send_finding(sent: SendResult, subject: str) -> Finding:
    to = sent.rcpt_to
    if sent.outcome == "accepted":
        return Finding(
            Severity.FAIL,
            "relay.send-accepted",
            f"The server accepted a real message through variant {sent.variant} (RCPT TO:<{to}>); "
            "check that mailbox to see it arrive",
            "Close the relay (see relay.open).",
            subject,
        )
    if sent.outcome == "rejected-at-data":
        code = sent.data_reply.code if sent.data_reply else "?"
        # Deliberate in anti-harvesting set-ups: advice, not a problem (the verdict says it).
        return Finding(
            Severity.INFO,
            "relay.data-rejected",
            f"The server accepted the recipient of variant {sent.variant} but refused the "
            f"message at DATA ({code}): it accepts at RCPT and rejects later, so it did not "
            "relay this message",
            "Reject unwanted recipients at RCPT time so senders get a clear answer early.",
            subject,
        )
    return Finding(
        Severity.INFO,
        "relay.send-not-confirmed",
        f"--send could not confirm variant {sent.variant}: {sent.outcome} {sent.note}".strip(),
        "",
        subject,
    )


def _spoofing_findings(
    probe: dict[str, VariantResult], own_domain: str | None, subject: str
) -> list[Finding]:
    spoof = probe.get("internal-spoof")
    control = probe.get("local-postmaster")
    if spoof is None or control is None or own_domain is None:
        return []
    if spoof.outcome == "accepted":
        return [
            Finding(
                Severity.WARN,
                "relay.internal-spoofing",
                f"An anonymous outside client may send as <{spoof.mail_from}> to "
                f"<{spoof.rcpt_to}>: mail claiming to come from {own_domain} is accepted "
                "from outside",
                "Filter senders of your own domain on Internet-facing servers (Exchange sender "
                "filtering, Postfix check_sender_access or SPF checks), or require AUTH for them.",
                subject,
            )
        ]
    if control.outcome == "accepted" and spoof.outcome in (*CLOSED_OUTCOMES, "mail-refused"):
        return [
            Finding(
                Severity.OK,
                "relay.spoofing-refused",
                f"Mail from outside claiming a {own_domain} sender is refused",
                "",
                subject,
            )
        ]
    return [
        Finding(
            Severity.INFO,
            "relay.spoofing-untested",
            f"Internal spoofing could not be judged: postmaster@{own_domain} was not accepted "
            f"from an outside sender either ({control.outcome})",
            "Give --domain with a domain this server receives mail for.",
            subject,
        )
    ]


def _auth_finding(auth: AuthRelayResult, verdict: Verdict, subject: str) -> Finding:
    user = auth.user
    if auth.outcome == "accepted":
        expected = verdict != "open"
        return Finding(
            Severity.OK if expected else Severity.INFO,
            "relay.auth-relay-allowed",
            f"Authenticated as {user}, relaying is allowed"
            + (
                " and anonymous relaying is not: as expected"
                if expected
                else ", but so is anonymous relaying"
            ),
            "",
            subject,
        )
    if auth.outcome == "refused":
        return Finding(
            Severity.INFO,
            "relay.auth-relay-refused",
            f"Authenticated as {user}, relaying is still refused: not the usual policy "
            "(authenticated users relay); fine for an inbound-only MX",
            "If users should send through this server, permit authenticated relaying "
            "(permit_sasl_authenticated).",
            subject,
        )
    if auth.outcome == "auth-failed":
        code = auth.auth_reply.code if auth.auth_reply else "?"
        return Finding(
            Severity.WARN,
            "relay.auth-failed",
            f"Authentication as {user} failed ({code}); the authenticated check did not run",
            "Check the user name and password (and --auth-mechanism).",
            subject,
        )
    return Finding(
        Severity.INFO,
        "relay.auth-untested",
        f"The authenticated relay check did not complete: {auth.outcome} {auth.note}".strip(),
        "",
        subject,
    )


def _enumeration_findings(enumeration: EnumerationResult, subject: str) -> list[Finding]:
    found: list[Finding] = []
    known = enumeration.vrfy_known
    if enumeration.vrfy_reveals_users:
        found.append(
            Finding(
                Severity.INFO,
                "relay.vrfy-enumeration",
                "VRFY answers differently for a real and a made-up user: user names can be "
                "enumerated",
                "Disable VRFY (Postfix: disable_vrfy_command = yes) if that matters to you.",
                subject,
            )
        )
    elif known is not None:
        found.append(
            Finding(
                Severity.INFO,
                "relay.vrfy-closed",
                f"VRFY does not reveal users ({known.code} {known.text})",
                "",
                subject,
            )
        )
    if enumeration.expn_enabled:
        found.append(
            Finding(
                Severity.INFO,
                "relay.expn-enabled",
                "EXPN expands mailing lists for anonymous clients",
                "Disable EXPN if list members should stay private.",
                subject,
            )
        )
    return found
