"""Every way an SMTP probe can fail, classified once for every command.

A failure of the SMTP engine (``mailprobe.smtp.session.SmtpSession``) carries a ``kind`` from
``KINDS``. The kind decides, identically in ``ehlo``, ``relay-test``, ``mx --connect`` and
``check``:

- the wording of the failure (``describe``),
- the finding reported about the server (``failure_finding``: code, severity, fix from the
  catalogue), and
- whether the run could not complete (``incomplete``: exit 3) or the server answered and was
  judged (a finding: exit 1). A server that answers but whose STARTTLS breaks has been judged.

=====================  ========================  ==========  ===================================
kind                   finding code              incomplete  when
=====================  ========================  ==========  ===================================
no-address             smtp.no-address           yes         the host name has no address
connect-refused        smtp.connect-refused      yes         TCP connection refused
connect-timeout        smtp.connect-timeout      yes         no TCP connection in time
connect-failed         smtp.connect-failed       yes         no route, network unreachable, ...
no-banner              smtp.no-banner            yes         connected, no greeting in time
greeting-deferred      smtp.greeting-deferred    yes         421 greeting (busy, try later)
greeting-refused       smtp.greeting-refused     no          5xx greeting (session refused)
not-smtp               smtp.not-smtp             no          garbage, overlong line, no code
hello-refused          smtp.hello-refused        no          both EHLO and HELO refused
desync                 smtp.out-of-step          no          replies out of step with commands
dropped                smtp.dropped              yes         connection closed mid-session
reply-timeout          smtp.reply-timeout        yes         no reply to a command in time
service-closing        smtp.service-closing      yes         421 to a command (closing)
starttls-refused       tls.starttls-refused      no          STARTTLS answered with 4xx/5xx
tls-handshake-failed   tls.handshake-failed      no          the TLS handshake broke
certificate-untrusted  tls.certificate-untrusted no          certificate failed verification
=====================  ========================  ==========  ===================================
"""

from __future__ import annotations

import dataclasses
import re
import ssl
import sys

from mailprobe.model import Failure, Finding


@dataclasses.dataclass(frozen=True)
class FailureKind:
    """One class of SMTP failure and what every command makes of it."""

    name: str
    code: str
    incomplete: bool


KINDS: dict[str, FailureKind] = {
    kind.name: kind
    for kind in (
        FailureKind("no-address", "smtp.no-address", True),
        FailureKind("connect-refused", "smtp.connect-refused", True),
        FailureKind("connect-timeout", "smtp.connect-timeout", True),
        FailureKind("connect-failed", "smtp.connect-failed", True),
        FailureKind("no-banner", "smtp.no-banner", True),
        FailureKind("greeting-deferred", "smtp.greeting-deferred", True),
        FailureKind("greeting-refused", "smtp.greeting-refused", False),
        FailureKind("not-smtp", "smtp.not-smtp", False),
        FailureKind("hello-refused", "smtp.hello-refused", False),
        FailureKind("desync", "smtp.out-of-step", False),
        FailureKind("dropped", "smtp.dropped", True),
        FailureKind("reply-timeout", "smtp.reply-timeout", True),
        FailureKind("service-closing", "smtp.service-closing", True),
        FailureKind("starttls-refused", "tls.starttls-refused", False),
        FailureKind("tls-handshake-failed", "tls.handshake-failed", False),
        FailureKind("certificate-untrusted", "tls.certificate-untrusted", False),
    )
}

_TOO_MANY = re.compile(r"too many|connection limit|try (again )?later|rate limit", re.IGNORECASE)


def is_incomplete(failure: Failure) -> bool:
    """Whether a failure means the run could not complete (exit 3).

    Failures without an SMTP kind (DNS lookups, time limits of a whole run) always are.
    """
    kind = KINDS.get(failure.kind)
    return kind is None or kind.incomplete


def is_throttling(failure: Failure) -> bool:
    """A 421 that asks the client to come back later (too many connections, rate limit)."""
    return failure.kind in ("greeting-deferred", "service-closing") and bool(
        _TOO_MANY.search(failure.message)
    )


def classify(exc: BaseException, step: str) -> str:
    """The failure kind of an exception raised while the engine was at ``step``."""
    if step == "DNS":
        return "no-address"
    aiosmtplib = sys.modules.get("aiosmtplib")
    if step == "connect":
        if isinstance(exc, ConnectionRefusedError):
            return "connect-refused"
        if isinstance(exc, TimeoutError):
            return "connect-timeout"
        return "connect-failed"
    if step == "STARTTLS" or (step.startswith("TLS") and _is_tls_error(exc)):
        if _is_cert_error(exc):
            return "certificate-untrusted"
        return "tls-handshake-failed"
    if aiosmtplib is not None and isinstance(exc, aiosmtplib.SMTPResponseException):
        if exc.code < 0:
            return "not-smtp"
        if exc.code == 421:
            return "greeting-deferred" if _is_greeting(step) else "service-closing"
    if isinstance(exc, TimeoutError) or (
        aiosmtplib is not None
        and isinstance(exc, aiosmtplib.SMTPTimeoutError | aiosmtplib.SMTPReadTimeoutError)
    ):
        return "no-banner" if _is_greeting(step) else "reply-timeout"
    if isinstance(exc, ssl.SSLError):
        return "tls-handshake-failed"
    return "dropped"


def _is_greeting(step: str) -> bool:
    return step in ("banner", "TLS handshake and banner")


def _is_tls_error(exc: BaseException) -> bool:
    return any(isinstance(e, ssl.SSLError | ssl.CertificateError) for e in _chain(exc))


def _is_cert_error(exc: BaseException) -> bool:
    return any(
        isinstance(e, ssl.SSLCertVerificationError | ssl.CertificateError) for e in _chain(exc)
    )


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and all(current is not e for e in seen):
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def describe(kind: str, detail: str, timeout: float | None = None) -> str:
    """The failure as a diagnosis, in the same words in every command."""
    limit = f" within {timeout:g} s" if timeout is not None else ""
    texts = {
        "no-address": f"the host name has no address ({detail})",
        "connect-refused": "connection refused: nothing listens on that port, or a firewall "
        "rejects the connection",
        "connect-timeout": f"no TCP connection{limit}: the address does not answer (a "
        "firewall dropping the packets, or no host there)",
        "connect-failed": f"cannot connect ({detail})",
        "no-banner": f"connected, but no banner came{limit}: a tarpit, a long greeting "
        "delay, or a proxy or firewall holding the connection",
        "greeting-deferred": f"the server greets with 421 and closes: {detail}",
        "greeting-refused": f"the server refuses the session in its greeting: {detail}",
        "not-smtp": detail,
        "hello-refused": f"the server refuses both greetings: {detail}",
        "desync": f"the server's replies are out of step with the commands: {detail}",
        "dropped": "the server closed the connection (in the middle of a reply or before one)",
        "reply-timeout": f"no reply{limit}",
        "service-closing": f"the server closed the session with 421: {detail}",
        "starttls-refused": f"the server refused STARTTLS: {detail}",
        "tls-handshake-failed": f"the TLS handshake failed: {detail}",
        "certificate-untrusted": f"certificate verification failed: {detail}",
    }
    return texts.get(kind, detail)


def failure_finding(failure: Failure, subject: str) -> Finding | None:
    """The finding every command reports for a classified failure (None: no SMTP kind)."""
    from mailprobe.findings import make

    kind = KINDS.get(failure.kind)
    if kind is None:
        return None
    where = f"{failure.step}: " if failure.step not in ("connect", "banner") else ""
    return make(kind.code, f"{subject}: {where}{failure.message}", subject=subject)
