"""The resolver wrapper against real servers on loopback: statuses, cache, transports."""

from __future__ import annotations

import asyncio
import http.server
import threading
from collections.abc import Iterator

import dns.message
import dns.query
import pytest

from mailprobe.dns import (
    DnsServer,
    DnsStatus,
    Resolver,
    addresses,
    parse_server,
    resolve_exchangers,
    txt_strings,
)
from mailprobe.errors import DnsFailure, StepTimeout

ZONE = """
@          MX 20 mx2
@          MX 10 mx1
mx1        A 192.0.2.1
mx1        AAAA 2001:db8::1
mx2        A 192.0.2.2
alias      CNAME mx1
outside    CNAME www.other.test.
_dmarc     TXT "v=DMARC1; " "p=reject"
nomx       A 192.0.2.5
null       MX 0 .
""" + "".join(f'big TXT "{letter * 250}"\n' for letter in "uvwxyz")
OTHER = "www A 192.0.2.80\n"


def run(coro):
    return asyncio.run(coro)


async def ask(server, name, kind, **kw):
    async with Resolver([parse_server(server.spec)], timeout=2, **kw) as resolver:
        return await resolver.query(name, kind)


@pytest.fixture
def server(dns_server):
    return dns_server({"example.test": ZONE, "other.test": OTHER}, address="127.0.1.30")


def test_statuses(server) -> None:
    ok = run(ask(server, "example.test", "MX"))
    assert ok.status is DnsStatus.OK and ok.ok
    assert sorted(ok.records) == ["10 mx1.example.test.", "20 mx2.example.test."]
    assert ok.ttl == 3600 and ok.authoritative and ok.server == server.spec
    assert run(ask(server, "nope.example.test", "A")).status is DnsStatus.NXDOMAIN
    assert run(ask(server, "mx2.example.test", "AAAA")).status is DnsStatus.NODATA
    refused = run(ask(server, "example.org", "A"))
    assert refused.status is DnsStatus.REFUSED and refused.status.failed
    assert "REFUSED" in refused.describe() and server.spec in refused.describe()


def test_servfail_status(dns_server) -> None:
    failing = dns_server({"example.test": ZONE}, address="127.0.1.31", rcode="SERVFAIL")
    answer = run(ask(failing, "example.test", "MX"))
    assert answer.status is DnsStatus.SERVFAIL
    failure = answer.failure("dns MX")
    assert failure.host == "127.0.1.31" and failure.port == failing.port


def test_cname_chain_and_open_chain(server) -> None:
    alias = run(ask(server, "alias.example.test", "A"))
    assert alias.records == ("192.0.2.1",) and alias.cname_chain == ("mx1.example.test",)
    # the target is in another zone of the same server, which chases it
    outside = run(ask(server, "outside.example.test", "A"))
    assert outside.records == ("192.0.2.80",)
    assert outside.cname_chain == ("www.other.test",)


def test_open_chain_followed_by_resolver(dns_server) -> None:
    first = dns_server({"example.test": ZONE}, address="127.0.1.32")
    answer = run(ask(first, "outside.example.test", "A"))
    # the target zone is not on this server: the follow-up query is REFUSED, chain kept
    assert answer.status is DnsStatus.REFUSED
    assert answer.cname_chain == ("www.other.test",)
    assert answer.name == "outside.example.test"


def test_txt_strings(server) -> None:
    answer = run(ask(server, "_dmarc.example.test", "TXT"))
    assert txt_strings(answer) == ["v=DMARC1; p=reject"]


def test_truncated_udp_retried_over_tcp(server) -> None:
    answer = run(ask(server, "big.example.test", "TXT"))
    assert answer.ok and len(answer.records) == 6  # more than the 1232-byte EDNS size
    kinds = [q[2] for q in server.queries if q[0] == "big.example.test"]
    assert kinds == ["udp", "tcp"]


def test_tcp_only(server) -> None:
    answer = run(ask(server, "example.test", "MX", tcp=True))
    assert answer.ok
    assert server.queries[-1] == ("example.test", "MX", "tcp")


def test_cache_and_shared_in_flight(server) -> None:
    async def scenario() -> int:
        async with Resolver([parse_server(server.spec)], timeout=2) as resolver:
            answers = await asyncio.gather(
                *(resolver.query("MX1.example.test.", "A") for _ in range(50))
            )
            again = await resolver.query("mx1.example.test", "A")
            assert {a.records for a in [*answers, again]} == {("192.0.2.1",)}
            return resolver.queries_sent

    assert run(scenario()) == 1
    assert [q for q in server.queries if q[0].lower() == "mx1.example.test"] == [
        ("MX1.example.test", "A", "udp")
    ]


def test_timeout_then_next_server(server, silent_dns_server) -> None:
    silent = silent_dns_server(address="127.0.1.33")

    async def scenario():
        servers = [parse_server(silent.spec), parse_server(server.spec)]
        async with Resolver(servers, timeout=0.3) as resolver:
            return await resolver.query("example.test", "MX")

    answer = run(scenario())
    assert answer.ok and answer.server == server.spec


def test_timeout_value(silent_dns_server) -> None:
    silent = silent_dns_server(address="127.0.1.34")

    async def scenario():
        async with Resolver([parse_server(silent.spec)], timeout=0.2) as resolver:
            return await resolver.query("example.test", "MX")

    answer = run(scenario())
    assert answer.status is DnsStatus.TIMEOUT
    assert answer.message == "no answer within 0.2 s"


def test_helpers(server) -> None:
    async def scenario():
        async with Resolver([parse_server(server.spec)], timeout=2) as resolver:
            return (
                await resolve_exchangers("example.test", resolver),
                await resolve_exchangers("nomx.example.test", resolver),
                await resolve_exchangers("null.example.test", resolver),
                await addresses("mx1.example.test", resolver),
                await addresses("nope.example.test", resolver),
            )

    exchangers, implicit, null, both, none = run(scenario())
    assert exchangers == [(10, "mx1.example.test"), (20, "mx2.example.test")]
    assert implicit == [(0, "nomx.example.test")]
    assert null == []
    assert both == ["192.0.2.1", "2001:db8::1"]
    assert none == []


def test_helpers_raise_on_failure(server, silent_dns_server) -> None:
    silent = silent_dns_server(address="127.0.1.35")

    async def nx():
        async with Resolver([parse_server(server.spec)], timeout=2) as resolver:
            await resolve_exchangers("nope.example.test", resolver)

    async def slow():
        async with Resolver([parse_server(silent.spec)], timeout=0.2) as resolver:
            await addresses("mx1.example.test", resolver)

    with pytest.raises(DnsFailure) as info:
        run(nx())
    assert "NXDOMAIN" in str(info.value) and server.spec in str(info.value)
    with pytest.raises(StepTimeout):
        run(slow())


def test_dnssec_flags(dns_server) -> None:
    validating = dns_server({"example.test": ZONE}, address="127.0.1.36", authenticated=True)
    assert run(ask(validating, "example.test", "MX", dnssec=True)).authenticated is True


# --- DNS over HTTPS (plain HTTP on loopback, same wire format) -----------------------------


@pytest.fixture
def doh_url(server) -> Iterator[str]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers["content-length"])
            query = dns.message.from_wire(self.rfile.read(length))
            assert self.headers["content-type"] == "application/dns-message"
            reply = dns.query.udp(query, server.address, port=server.port, timeout=2)
            body = reply.to_wire()
            self.send_response(200)
            self.send_header("content-type", "application/dns-message")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.1.37", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.1.37:{httpd.server_address[1]}/dns-query"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


def test_doh(doh_url) -> None:
    async def scenario():
        server = DnsServer(address="127.0.1.37", port=0, url=doh_url)
        async with Resolver([server], timeout=2) as resolver:
            return await resolver.query("example.test", "MX")

    answer = run(scenario())
    assert answer.ok and answer.server == doh_url
    assert sorted(answer.records) == ["10 mx1.example.test.", "20 mx2.example.test."]


def test_doh_http_error() -> None:
    async def scenario():
        server = DnsServer(address="127.0.1.38", port=0, url="http://127.0.1.38:1/dns-query")
        async with Resolver([server], timeout=1) as resolver:
            return await resolver.query("example.test", "MX")

    answer = run(scenario())
    assert answer.status is DnsStatus.ERROR and answer.message


def test_bad_query_name_is_an_error_value(server) -> None:
    answer = run(ask(server, "a" * 64 + ".example.test", "A"))
    assert answer.status is DnsStatus.ERROR and "63" in answer.message
    assert run(ask(server, "example.test", "NOSUCHTYPE")).status is DnsStatus.ERROR
