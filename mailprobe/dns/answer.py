"""What a query yields: servers to ask, answers as values, and helpers that read answers.

``DnsStatus`` names the outcome of one query, ``DnsServer`` a server (address and port, or a
DoH URL), ``DnsAnswer`` the frozen result ``Resolver.query`` returns: status, records as
presentation text, TTL, who answered, AA/AD flags, CNAME chain. ``raise_for_status`` turns a
failed answer into ``StepTimeout`` / ``DnsFailure``; ``mx_records``, ``host_records`` and
``txt_strings`` read the records of an answer.
"""

from __future__ import annotations

import dataclasses
import enum
from typing import Any

import dns.message
import dns.name
import dns.rdatatype

from mailprobe.errors import DnsFailure, StepTimeout
from mailprobe.model import Failure

_DEFAULT_PORT = 53


class DnsStatus(enum.Enum):
    """What became of one query."""

    OK = "ok"
    NXDOMAIN = "nxdomain"
    NODATA = "nodata"
    SERVFAIL = "servfail"
    REFUSED = "refused"
    TIMEOUT = "timeout"
    ERROR = "error"

    @property
    def failed(self) -> bool:
        """True when the server gave no usable verdict (SERVFAIL, REFUSED, timeout, error)."""
        return self in _FAILED


_FAILED = frozenset({DnsStatus.SERVFAIL, DnsStatus.REFUSED, DnsStatus.TIMEOUT, DnsStatus.ERROR})


@dataclasses.dataclass(frozen=True)
class DnsServer:
    """A server to ask: an address and port, or a DNS-over-HTTPS URL."""

    address: str
    port: int = _DEFAULT_PORT
    url: str | None = None

    @property
    def label(self) -> str:
        """``ADDR:PORT``, ``[v6]:PORT`` or the DoH URL, as shown to the user."""
        if self.url:
            return self.url
        if ":" in self.address:
            return f"[{self.address}]:{self.port}"
        return f"{self.address}:{self.port}"


@dataclasses.dataclass(frozen=True)
class DnsAnswer:
    """The outcome of one query: status, records (presentation text), TTL, who answered."""

    name: str
    rdtype: str
    status: DnsStatus
    records: tuple[str, ...] = ()
    ttl: int | None = None
    server: str = ""
    authoritative: bool = False
    authenticated: bool = False
    #: Names the answer went through by CNAME, in order (empty when the name had none).
    cname_chain: tuple[str, ...] = ()
    #: Why a failed status failed, in words ("no answer within 2 s").
    message: str = ""
    _rdata: tuple[Any, ...] = dataclasses.field(default=(), repr=False, compare=False)
    _server: DnsServer | None = dataclasses.field(default=None, repr=False, compare=False)
    #: The response and its question, kept to build ``rdata()`` on demand (fast path).
    _wire: bytes = dataclasses.field(default=b"", repr=False, compare=False)
    _question: tuple[str, str] = dataclasses.field(default=("", ""), repr=False, compare=False)
    #: A failure of this run, not an answer (e.g. EMFILE, ENOBUFS): never cached.
    _local: bool = dataclasses.field(default=False, repr=False, compare=False)
    #: For a CNAME loop: the names from the query to the repeated name (``message`` names it).
    _loop: tuple[str, ...] = dataclasses.field(default=(), repr=False, compare=False)

    @property
    def ok(self) -> bool:
        """True when records came back."""
        return self.status is DnsStatus.OK

    def rdata(self) -> tuple[Any, ...]:
        """The dnspython rdata objects of the records (MX .preference/.exchange, A .address…).

        Answers read by the fast wire parser build them here, on first use."""
        if not self._rdata and self._wire and self.records:
            from mailprobe.dns.wire import _interpret  # wire builds answers: import late

            qname = dns.name.from_text(self._question[0])
            qtype = dns.rdatatype.from_text(self._question[1])
            message = dns.message.from_wire(self._wire, ignore_trailing=True)
            server = self._server or DnsServer("0.0.0.0")
            full, _open = _interpret(message, qname, qtype, server)
            object.__setattr__(self, "_rdata", full._rdata)
        return self._rdata

    def describe(self, with_server: bool = True) -> str:
        """The status in words, naming the query (and the server unless ``with_server`` is
        false)."""
        what = f"{self.name} {self.rdtype}"
        where = f" from {self.server}" if self.server and with_server else ""
        texts = {
            DnsStatus.OK: f"{what}: {len(self.records)} record(s){where}",
            DnsStatus.NXDOMAIN: f"{what}: name does not exist (NXDOMAIN){where}",
            DnsStatus.NODATA: f"{what}: no {self.rdtype} records (NODATA){where}",
            DnsStatus.SERVFAIL: f"{what}: server failure (SERVFAIL){where}",
            DnsStatus.REFUSED: f"{what}: query refused (REFUSED){where}",
            DnsStatus.TIMEOUT: f"{what}: {self.message or 'no answer'}{where}",
            DnsStatus.ERROR: f"{what}: {self.message or 'error'}{where}",
        }
        return texts[self.status]

    def failure(self, step: str, timeout: float | None = None) -> Failure:
        """This answer as a ``Failure`` of ``step`` (for failed statuses)."""
        server = self._server
        host = server.url or server.address if server else (self.server or None)
        port = None if server is None or server.url else server.port
        message = self.describe(with_server=server is None)
        return Failure(step=step, message=message, host=host, port=port, timeout=timeout)


def raise_for_status(answer: DnsAnswer, step: str) -> DnsAnswer:
    """Return ``answer`` if it has records, else raise ``StepTimeout`` or ``DnsFailure``."""
    if answer.ok:
        return answer
    failure = answer.failure(step)
    if answer.status is DnsStatus.TIMEOUT:
        raise StepTimeout(failure)
    raise DnsFailure(failure)


def mx_records(answer: DnsAnswer) -> list[tuple[int, str]]:
    """(preference, host) of an MX answer; host in lower case without the final dot ("." for
    a null MX)."""
    found = []
    for record in answer.records:
        preference, _sep, host = record.partition(" ")
        found.append((int(preference), host.rstrip(".").lower() or "."))
    return found


def host_records(answer: DnsAnswer) -> list[str]:
    """Target names of a PTR, CNAME or NS answer, lower case, without the final dot."""
    return [record.rstrip(".").lower() or "." for record in answer.records]


def txt_strings(answer: DnsAnswer) -> list[str]:
    """Each TXT record of an answer as one string (its character-strings joined, UTF-8)."""
    return [b"".join(r.strings).decode("utf-8", "replace") for r in answer.rdata()]
