"""The run-wide exchanger cache: an exchanger address shared by many domains is probed once.

A batch (``check -f``) of domains hosted by one provider meets the same exchanger addresses
again and again. ``ExchangerCache`` (one per run, in ``CheckOptions.cache``) keeps, as tasks
that concurrent domains await together (the first asks, the others wait for that probe):

* per address and port: the reachability (connect, banner);
* per address, port and exchanger name: the SMTP transport part (EHLO, verbs, STARTTLS and the
  certificate). Keyed by the name because the certificate is checked against the name the
  domain knows the exchanger by; a name that the certificate seen under another name covers
  (trusted, e.g. a wildcard) reuses that probe (``exchange.covers``), so a provider giving
  every customer its own exchanger name on shared addresses is still probed once per address;
* per address and port: the relay battery. Whether a server relays is a property of the server,
  and running the battery once per hosted domain is exactly the load that trips rate limits;
  a domain that reuses another's battery gets a ``check.shared-exchanger`` note naming it.

What depends on the domain is still asked for every domain: MAIL FROM:<>, RCPT TO postmaster
of the domain (and --to) on the exchanger's pooled connection (``Line``: one kept-open
session per address, used by one domain at a time and reopened when dropped).
Findings taken from the cache are renamed to the exchanger as the reusing domain knows it.
"""

from __future__ import annotations

import asyncio
import dataclasses
from typing import TYPE_CHECKING, Any

from mailprobe.model import Failure, Finding

if TYPE_CHECKING:
    from mailprobe.checks.check.model import Reachability, SmtpCheck
    from mailprobe.checks.relay import RelayReport
    from mailprobe.smtp.session import SmtpSession

#: Envelopes (MAIL, RCPT, RSET) sent on one pooled connection before it is renewed: servers
#: count RSETs as junk commands (Postfix drops the client after 100).
ENVELOPES_PER_CONNECTION = 40


@dataclasses.dataclass
class Opened:
    """The reachability of one address, as the first domain that asked recorded it."""

    label: str
    reach: list[Reachability]
    findings: list[Finding]
    failures: list[Failure]
    #: The open session (after the banner) until someone takes it or it is closed.
    session: SmtpSession | None


@dataclasses.dataclass
class Transport:
    """The SMTP transport part of one address and exchanger name (no envelope)."""

    label: str
    smtp: SmtpCheck
    #: How a new pooled connection is set up like the first: "none" (no STARTTLS),
    #: "verify", "noverify" (the certificate was refused, continue as a sender would).
    tls: str


@dataclasses.dataclass
class Line:
    """The pooled connection of one address and exchanger name, for the envelopes."""

    lock: asyncio.Lock = dataclasses.field(default_factory=asyncio.Lock)
    session: SmtpSession | None = None
    used: int = 0


class ExchangerCache:
    """Probes shared by the domains of one run (see the module docstring).

    ``keep_sessions`` False (a single ``run_check``): the pooled connection is closed with QUIT
    after each envelope instead of being kept for the next domain.
    """

    def __init__(self, keep_sessions: bool = True) -> None:
        self.keep_sessions = keep_sessions
        self.opened: dict[tuple[str, int], asyncio.Task[Opened]] = {}
        self.transport: dict[tuple[str, int, str], asyncio.Task[Transport]] = {}
        self.lines: dict[tuple[str, int], Line] = {}
        self.relay: dict[tuple[str, int], asyncio.Task[tuple[str, str, RelayReport]]] = {}

    def line(self, key: tuple[str, int]) -> Line:
        if key not in self.lines:
            self.lines[key] = Line()
        return self.lines[key]

    async def aclose(self) -> None:
        """QUIT every kept connection; cancel probes nobody awaits any more."""
        tasks: list[asyncio.Task[Any]] = [
            *self.opened.values(),
            *self.transport.values(),
            *self.relay.values(),
        ]
        for task in tasks:
            if not task.done():
                task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        sessions = [line.session for line in self.lines.values() if line.session is not None]
        for task in self.opened.values():
            if not task.cancelled() and task.exception() is None:
                opened = task.result().session
                if opened is not None:
                    sessions.append(opened)
        await asyncio.gather(*(s.quit() for s in sessions), return_exceptions=True)
        for session in sessions:
            session.close()
        self.lines.clear()


def rename_finding(finding: Finding, old: str, new: str) -> Finding:
    """``finding`` with the exchanger named ``new`` where it said ``old``."""
    if old == new:
        return finding
    return dataclasses.replace(
        finding,
        summary=finding.summary.replace(old, new),
        subject=finding.subject.replace(old, new) if finding.subject else finding.subject,
    )
