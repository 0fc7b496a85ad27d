"""DNS access for the policy checks, on top of ``mailprobe.dns``: TXT records as text, and the
rule that a failed lookup is a ``Failure``, never "record missing"."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Protocol

from mailprobe.checks.policy._text import is_hostname, txt_text
from mailprobe.model import Failure

if TYPE_CHECKING:
    from mailprobe.dns import DnsAnswer


class QueryResolver(Protocol):
    """What the policy checks need of a resolver (``mailprobe.dns.Resolver`` fits)."""

    async def query(self, name: str, rdtype: str) -> DnsAnswer: ...


@dataclasses.dataclass(frozen=True)
class TxtLookup:
    """The TXT records at a name: ``status`` is ok / nxdomain / nodata / invalid (a name that
    cannot exist) or, for a lookup that could not complete, servfail / refused / timeout /
    error with ``failure`` set."""

    name: str
    status: str
    texts: tuple[str, ...] = ()
    failure: Failure | None = None
    authenticated: bool = False

    @property
    def failed(self) -> bool:
        return self.failure is not None


async def lookup_txt(resolver: QueryResolver, name: str, step: str) -> TxtLookup:
    """Every TXT record at ``name`` as text (strings joined, UTF-8 with replacement).

    A name that cannot exist in the DNS (too long, empty label) gives status ``invalid``
    and no records, without a query: it is not a failure of the run.
    """
    if not is_hostname(name):
        return TxtLookup(name, "invalid")
    answer = await resolver.query(name, "TXT")
    status = answer.status.value
    if answer.status.failed:
        return TxtLookup(name, status, failure=answer.failure(step))
    texts = tuple(txt_text(getattr(r, "strings", ())) for r in answer.rdata())
    return TxtLookup(name, status, texts, authenticated=answer.authenticated)


def is_void(answer: DnsAnswer) -> bool:
    """NXDOMAIN or an empty answer: a "void lookup" in RFC 7208 §4.6.4 terms."""
    return answer.status.value in ("nxdomain", "nodata")


def is_failed(answer: DnsAnswer) -> bool:
    return bool(answer.status.failed)


def fqdn(name: str) -> str:
    """A name as used in queries and comparisons: lower case, no trailing dot."""
    return name.rstrip(".").lower()
