"""mailprobe's own small error tree, and the one place that translates library errors into it.

::

    MailprobeError                 exit_code, one-line str()
    ├── UsageError                 exit 2: bad arguments, bad input text
    │   ├── ConfigError            exit 2: bad config file or MAILPROBE_* variable (file, key)
    │   └── InputError             exit 2: a bad value, named by its field; cli/ names the option
    └── ProbeError                 exit 3: a network step could not complete (carries a Failure)
        ├── StepTimeout            also a TimeoutError
        ├── PeerUnreachable        also a ConnectionError (refused, reset, dropped)
        ├── DnsFailure             NXDOMAIN of a host to connect to, SERVFAIL, no answer
        └── ProtocolFailure        the peer spoke, but not SMTP (garbage, 421, 5xx to EHLO)

Checks return ``Failure`` values rather than raising wherever a result can still be reported;
they raise ``ProbeError`` only when nothing useful is left to show. ``translate`` is the only
function that knows the exception classes of dnspython, aiosmtplib, httpx and the OS.
"""

from __future__ import annotations

import sys

from mailprobe.model import ExitCode, Failure
from mailprobe.text import clean_line


class MailprobeError(Exception):
    """Base of every error mailprobe reports to the user as one line."""

    exit_code: ExitCode = ExitCode.INCOMPLETE


class UsageError(MailprobeError):
    """Bad arguments or bad input: exit code 2."""

    exit_code = ExitCode.USAGE


class ConfigError(UsageError):
    """A bad config file or environment variable, naming where and which key."""

    def __init__(self, source: str, key: str | None, problem: str) -> None:
        self.source = source
        self.key = key
        where = f"{source}: key '{key}'" if key else source
        super().__init__(f"config {where}: {problem}")


class InputError(UsageError):
    """A bad input value raised by library code, which speaks no CLI: it names the *field*
    (``sender``, ``domain``); the CLI turns the field into the option or config key the value
    came from (``cli/names.py``) when it reports the error."""

    def __init__(self, field: str, problem: str) -> None:
        self.field = field
        self.problem = problem
        super().__init__(f"{field} {problem}")

    def worded(self, names: dict[str, str]) -> str:
        """The error with each field called by its name in ``names`` (options, config keys);
        the problem may mention other fields as ``<field>``."""
        problem = self.problem
        for field, name in names.items():
            problem = problem.replace(f"<{field}>", name)
        return f"{names.get(self.field, self.field)} {problem}"


class ProbeError(MailprobeError):
    """A step that could not complete; ``failure`` says which step, where and why."""

    exit_code = ExitCode.INCOMPLETE

    def __init__(self, failure: Failure) -> None:
        self.failure = failure
        super().__init__(failure.one_line())


class StepTimeout(ProbeError, TimeoutError):
    """A step ran past its time limit."""


class PeerUnreachable(ProbeError, ConnectionError):
    """The peer refused, reset or dropped the connection."""


class DnsFailure(ProbeError):
    """A name could not be resolved (NXDOMAIN, SERVFAIL, no answer)."""


class ProtocolFailure(ProbeError):
    """The peer answered, but not in a way the step can continue from."""


def _describe_os_error(exc: OSError) -> str:
    import socket  # imported here: ``mailprobe ndr`` never needs the network modules
    import ssl

    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, ConnectionResetError):
        return "connection reset by peer"
    if isinstance(exc, socket.gaierror):
        return f"cannot resolve host name ({exc.strerror or exc})"
    if isinstance(exc, ssl.SSLError):
        return f"TLS error: {exc.reason or exc}"
    text = exc.strerror or str(exc) or type(exc).__name__
    return text[:1].lower() + text[1:]


def translate(
    exc: BaseException,
    step: str,
    host: str | None = None,
    port: int | None = None,
    timeout: float | None = None,
) -> ProbeError:
    """Turn any exception raised during a network step into a ``ProbeError``.

    Library modules are only inspected when they are already imported, so calling this
    never pulls in dnspython, aiosmtplib or httpx by itself.
    """
    if isinstance(exc, ProbeError):
        return exc
    import socket
    import ssl

    def fail(cls: type[ProbeError], message: str) -> ProbeError:
        return cls(Failure(step=step, message=message, host=host, port=port, timeout=timeout))

    aiosmtplib = sys.modules.get("aiosmtplib")
    if aiosmtplib is not None:
        if isinstance(exc, aiosmtplib.SMTPTimeoutError | aiosmtplib.SMTPReadTimeoutError):
            return fail(StepTimeout, _timeout_text(timeout))
        if isinstance(exc, aiosmtplib.SMTPConnectTimeoutError):
            return fail(StepTimeout, _timeout_text(timeout))
        if isinstance(exc, aiosmtplib.SMTPServerDisconnected):
            return fail(PeerUnreachable, f"server disconnected ({_clean(str(exc))})")
        if isinstance(exc, aiosmtplib.SMTPConnectError):
            cause = exc.__cause__
            if isinstance(cause, OSError):
                return fail(PeerUnreachable, _describe_os_error(cause))
            return fail(PeerUnreachable, _clean(str(exc)))
        if isinstance(exc, aiosmtplib.SMTPResponseException):
            if exc.code < 0:  # aiosmtplib could not read a reply at all (code -1)
                return fail(ProtocolFailure, _not_smtp(_clean(exc.message)))
            return fail(ProtocolFailure, f"{exc.code} {_clean(exc.message)}")
        if isinstance(exc, aiosmtplib.SMTPException):
            return fail(ProtocolFailure, _clean(str(exc)))

    dns_exc = sys.modules.get("dns.exception")
    dns_resolver = sys.modules.get("dns.resolver")
    if dns_exc is not None and isinstance(exc, dns_exc.Timeout):
        return fail(StepTimeout, _timeout_text(timeout))
    if dns_resolver is not None:
        if isinstance(exc, dns_resolver.NXDOMAIN):
            return fail(DnsFailure, "name does not exist (NXDOMAIN)")
        if isinstance(exc, dns_resolver.NoAnswer):
            return fail(DnsFailure, "no records of that type (NODATA)")
        if isinstance(exc, dns_resolver.NoNameservers):
            return fail(DnsFailure, "no DNS server answered usefully (SERVFAIL or REFUSED)")
        if isinstance(exc, dns_resolver.LifetimeTimeout):
            return fail(StepTimeout, _timeout_text(timeout))
    if dns_exc is not None and isinstance(exc, dns_exc.DNSException):
        return fail(DnsFailure, _clean(str(exc)))

    httpx = sys.modules.get("httpx")
    if httpx is not None:
        if isinstance(exc, httpx.TimeoutException):
            return fail(StepTimeout, _timeout_text(timeout))
        if isinstance(exc, httpx.ConnectError):
            return fail(PeerUnreachable, _clean(str(exc)) or "cannot connect")
        if isinstance(exc, httpx.HTTPError):
            return fail(ProtocolFailure, _clean(str(exc)) or type(exc).__name__)

    if isinstance(exc, TimeoutError):
        return fail(StepTimeout, _timeout_text(timeout))
    if isinstance(exc, socket.gaierror):
        return fail(DnsFailure, _describe_os_error(exc))
    if isinstance(exc, ssl.SSLError | ssl.CertificateError):
        return fail(
            ProtocolFailure, _describe_os_error(exc) if isinstance(exc, OSError) else str(exc)
        )
    if isinstance(exc, ConnectionError | EOFError):
        message = (
            _describe_os_error(exc) if isinstance(exc, OSError) else "connection closed by peer"
        )
        return fail(PeerUnreachable, message)
    if isinstance(exc, OSError):
        return fail(PeerUnreachable, _describe_os_error(exc))
    return fail(ProtocolFailure, _clean(str(exc)) or type(exc).__name__)


def _not_smtp(detail: str) -> str:
    """aiosmtplib's complaint about an unreadable reply, worded as a diagnosis."""
    if detail.lower().startswith("response too long"):
        return "the server sent an overlong line (more than 8 kB): this is not SMTP"
    if detail.endswith(":"):  # the offending line was all control/binary bytes
        return f"the server's answer is not SMTP (binary or unreadable data: {detail})"
    return f"the server's answer is not SMTP ({detail})"


def _timeout_text(timeout: float | None) -> str:
    return f"timed out after {timeout:g} s" if timeout is not None else "timed out"


def _clean(text: str, limit: int = 200) -> str:
    """One printable line of at most ``limit`` characters, for peer-controlled text."""
    return clean_line(text.replace("\r\n", " "), limit)
