"""The one resolver wrapper every check uses: servers, transports, timeouts, cache.

Only commands that talk DNS import this package (its modules import dnspython at module
level); the CLI imports it inside the command function, so ``mailprobe ndr`` never loads
dnspython.

Results are values, not exceptions: ``Resolver.query`` always returns a ``DnsAnswer`` whose
``status`` is one of ``DnsStatus`` (ok, nxdomain, nodata, servfail, refused, timeout, error),
with the records, their TTL, which server answered, and the AA/AD flags.

API for checks and other commands::

    from mailprobe.dns import Resolver, parse_server, parse_domain, addresses, resolve_exchangers

    server = parse_server("127.0.1.1:5353")   # ADDR, ADDR:PORT, [v6]:PORT, v6; else UsageError
    ascii_name, unicode_name = parse_domain("bücher.example")   # IDNA 2008 A-label; UsageError

    async with Resolver([server], timeout=5, tcp=False, dnssec=False) as resolver:
        # Resolver(None): the nameservers of /etc/resolv.conf. For a CLI run use
        # Resolver.from_settings(cfg, servers=[...], doh=URL, tcp=..., dnssec=...): --server
        # values, else --doh, else the configured dns_server, else resolv.conf.
        # DoH by hand: Resolver([parse_doh_url("https://dns.example/dns-query")]).
        answer = await resolver.query("example.org", "MX")
        answer.status            # DnsStatus: OK NXDOMAIN NODATA SERVFAIL REFUSED TIMEOUT ERROR
        answer.records           # presentation text, e.g. ("10 mx1.example.org.",)
        answer.rdata()           # the dnspython rdata objects (not part of the JSON)
        answer.ttl, answer.server, answer.authenticated, answer.authoritative, answer.cname_chain
        answer.failure("dns MX") # a model.Failure naming the server, for a failed status
        raise_for_status(answer, "dns MX")   # StepTimeout / DnsFailure for failed, nxdomain, nodata

        hosts = await resolve_exchangers("example.org", resolver)
        #   [(10, "mx1.example.org"), (20, "mx2.example.org")], sorted by preference then name;
        #   no MX but addresses -> [(0, "example.org")] (the implicit MX of RFC 5321 5.1);
        #   null MX (RFC 7505) -> []; NXDOMAIN, SERVFAIL, REFUSED, timeout -> raises DnsFailure /
        #   StepTimeout (ProbeError, exit 3) whose Failure names the server.
        addrs = await addresses("mx1.example.org", resolver)
        #   IPv4 then IPv6 as text (A and AAAA asked concurrently); [] when the name has none;
        #   raises DnsFailure / StepTimeout only when a lookup failed and no address came back.
        strings = txt_strings(await resolver.query("_dmarc.example.org", "TXT"))
        mx_records(answer)       # [(10, "mx1.example.org"), ...] from an MX answer ("." = null)
        host_records(ptr_answer) # PTR/CNAME/NS targets, lower case, no final dot
        reverse_name("192.0.2.1")   # "1.2.0.192.in-addr.arpa"

Timeouts: ``timeout`` bounds one try at one server (the UDP query is sent again once halfway
through it; the TCP retry of a truncated UDP answer stays within the same try; over TCP and DoH
it covers connect, headers and every byte of the answer); ``lifetime`` (default: ``timeout`` x
number of servers) bounds one lookup across all servers and every CNAME a server left open for
the resolver to follow. Running out of time is a TIMEOUT answer ("could not complete"), never
NODATA. With several servers (e.g. /etc/resolv.conf), a timeout, SERVFAIL, REFUSED or error
moves on to the next server. ``--dnssec`` sets the DO bit and AD flag; ``authenticated``
reports the AD flag of the answer (trust it only from a validating resolver you reach over a
trusted path).

Broken answers are errors (status ERROR, ``message`` says why), not verdicts: TC set even over
TCP or DoH ("truncated answer (TC flag) over TCP"), an extended RCODE from the OPT record
("answer code BADVERS"), a CNAME loop ("CNAME loop: a -> b -> a"; ``cname_chain`` then empty),
a chain longer than 8 follow-up lookups, a DoH answer over the 64 kB response cap.

Cache: a resolver remembers every answer for its lifetime (one run), failures included, and
identical concurrent queries share one in-flight lookup, so a batch asks each name once.
Failures of this machine (EMFILE, ENOBUFS…: "local error: …") are not answers and are never
cached. UDP queries to a server go through a small pool of connected sockets opened once per
run, matched to answers by random query id and the echoed question.

Sockets: every socket (UDP pool, TCP, DoH) takes a slot of one budget per event loop, the soft
RLIMIT_NOFILE minus a reserve (at most 1024), and at most 64 TCP connections and 128 UDP
queries are in flight per server, 16 DoH requests per resolver; lookups beyond wait for a slot
(the wait is not counted against ``timeout`` or ``lifetime``), so ``mx --tcp --concurrency
4096`` or 300 MX records never run out of file descriptors.

Modules (import from the package; these names are re-exported here):

- ``answer``: ``DnsStatus``, ``DnsServer``, ``DnsAnswer`` and the helpers that read answers.
- ``names``: parsing of server specs, DoH URLs and domain names (IDNA), ``reverse_name``.
- ``wire``: query building and response reading (dnspython and the fast wire parser), no I/O.
- ``transport``: UDP socket pool, TCP and DNS-over-HTTPS exchanges.
- ``resolver``: ``Resolver`` (servers, timeouts, cache) and ``resolve_exchangers``/``addresses``.
"""

from __future__ import annotations

from mailprobe.dns.answer import (
    DnsAnswer,
    DnsServer,
    DnsStatus,
    host_records,
    mx_records,
    raise_for_status,
    txt_strings,
)
from mailprobe.dns.names import (
    configured_server,
    parse_domain,
    parse_server,
    reverse_name,
    system_servers,
)
from mailprobe.dns.names import parse_doh_url as parse_doh_url
from mailprobe.dns.names import to_unicode as to_unicode
from mailprobe.dns.resolver import Resolver, addresses, resolve_exchangers
from mailprobe.dns.wire import RdType as RdType
from mailprobe.dns.wire import _fast_interpret as _fast_interpret
from mailprobe.dns.wire import _interpret as _interpret

__all__ = [
    "DnsAnswer",
    "DnsServer",
    "DnsStatus",
    "Resolver",
    "addresses",
    "configured_server",
    "host_records",
    "mx_records",
    "parse_domain",
    "parse_server",
    "raise_for_status",
    "resolve_exchangers",
    "reverse_name",
    "system_servers",
    "txt_strings",
]
