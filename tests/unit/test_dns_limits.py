"""The resolver against misbehaving servers: deadlines, size caps, truncation, loops, budgets.

Every server is on loopback (127.0.1.1xx): the DNS server of tests/support/dnsserver.py in its
misbehaving modes, and the HTTP(S) server of tests/support/https.py as a DoH endpoint.
"""

from __future__ import annotations

import asyncio
import errno
import time

import dns.flags
import dns.message
import dns.rcode
import pytest

import mailprobe.dns.resolver as resolver_module
from mailprobe.dns import DnsServer, DnsStatus, Resolver, parse_doh_url, parse_server
from mailprobe.dns.transport import DOH_RESPONSE_CAP, _Slots, socket_limit
from mailprobe.dns.wire import _fast_interpret, _rdtype

ZONE = """
@          MX 10 mx
mx         A 192.0.2.1
chain      CNAME c1
c1         CNAME c2
c2         CNAME c3
c3         CNAME c4
c4         CNAME c5
c5         MX 10 mx
a.loop     CNAME b.loop
b.loop     CNAME a.loop
self       CNAME self
""" + "".join(f'big TXT "{letter * 250}"\n' for letter in "uvwxyz")


def run(coro):
    return asyncio.run(coro)


async def ask(spec: str, name: str, kind: str, timeout: float = 1.0, **kw) -> object:
    async with Resolver([parse_server(spec)], timeout=timeout, **kw) as resolver:
        return await resolver.query(name, kind)


def timed(coro):
    started = time.monotonic()
    result = run(coro)
    return result, time.monotonic() - started


# --- 6. DNS over HTTPS: one deadline per query, a response cap ------------------------------


@pytest.fixture
def doh(https_server, dns_server):
    """(web server, DNS server) with plain-HTTP DoH on 127.0.1.101."""
    dns = dns_server({"limits.test": ZONE}, address="127.0.1.100")
    web = https_server(address="127.0.1.101", tls=False)
    return web, dns


async def ask_doh(url: str, name: str = "limits.test", timeout: float = 1.0):
    async with Resolver([parse_doh_url(url)], timeout=timeout) as resolver:
        return await resolver.query(name, "MX")


def test_doh_endpoint_answers(doh) -> None:
    web, dns = doh
    url = web.set("/dns-query", b"", content_type="application/dns-message", answer=dns.answer_wire)
    answer = run(ask_doh(url))
    assert answer.ok and answer.records == ("10 mx.limits.test.",)
    assert dns.queries[-1] == ("limits.test", "MX", "doh")


def test_doh_dripping_body_ends_at_the_deadline(doh) -> None:
    web, dns = doh
    reply = dns.answer_wire(dns_query("limits.test", "MX"))
    url = web.set("/drip", reply, content_type="application/dns-message", drip=0.2)
    answer, seconds = timed(ask_doh(url, timeout=1.0))
    assert answer.status is DnsStatus.TIMEOUT
    assert answer.message == "no answer within 1 s"
    assert seconds < 1.8  # one deadline for connect, headers and the whole body
    assert web.sent["/drip"] < len(reply)


def test_doh_slow_headers_end_at_the_deadline(doh) -> None:
    web, _dns = doh
    url = web.set("/late", b"x", content_type="application/dns-message", delay=3)
    answer, seconds = timed(ask_doh(url, timeout=0.5))
    assert answer.status is DnsStatus.TIMEOUT and seconds < 1.3


def test_doh_endless_body_stops_at_the_cap(doh) -> None:
    web, _dns = doh
    url = web.set("/endless", b"", content_type="application/dns-message", endless=True)
    answer, seconds = timed(ask_doh(url, timeout=5.0))
    assert answer.status is DnsStatus.ERROR
    assert "64 kB response cap" in answer.message and str(DOH_RESPONSE_CAP) in answer.message
    assert seconds < 4
    time.sleep(0.2)
    assert web.sent["/endless"] < 16 * 1024 * 1024  # the client hung up, it did not read on


def test_doh_declared_oversize_body_is_refused_before_reading(doh) -> None:
    web, _dns = doh
    url = web.set("/huge", b"\0" * 70_000, content_type="application/dns-message")
    answer = run(ask_doh(url))
    assert answer.status is DnsStatus.ERROR
    assert answer.message == (
        "DoH answer of 70000 bytes is larger than the 64 kB response cap (65535 bytes)"
    )
    failure = answer.failure("dns MX")
    assert "64 kB response cap" in failure.one_line() and "\n" not in failure.one_line()


def test_doh_http_status_is_an_error(doh) -> None:
    web, _dns = doh
    url = web.set("/gone", b"gone", status=410)
    answer = run(ask_doh(url))
    assert answer.status is DnsStatus.ERROR and "HTTP status 410" in answer.message


def dns_query(name: str, kind: str) -> bytes:
    return dns.message.make_query(name, kind, use_edns=0).to_wire()


# --- 8. deadlines: every step and the whole lookup ----------------------------------------


def test_tcp_drip_ends_at_the_step_timeout(dns_server) -> None:
    server = dns_server({"limits.test": ZONE}, address="127.0.1.102", tcp_drip=0.2)
    answer, seconds = timed(ask(server.spec, "limits.test", "MX", timeout=1.0, tcp=True))
    assert answer.status is DnsStatus.TIMEOUT and seconds < 1.8


def test_slow_open_cname_chain_is_a_timeout_within_the_lifetime(dns_server) -> None:
    server = dns_server({"limits.test": ZONE}, address="127.0.1.103", delay=0.4, chase_cnames=False)
    answer, seconds = timed(ask(server.spec, "chain.limits.test", "MX", timeout=1.0))
    # before: five follow-up lookups of a fresh second each, then NODATA ("no MX records")
    assert answer.status is DnsStatus.TIMEOUT
    assert seconds < 1.8
    assert answer.name == "chain.limits.test"
    assert "time limit of the lookup" in answer.message
    assert "CNAME chain chain.limits.test -> c1.limits.test" in answer.message


def test_open_cname_chain_within_time_is_followed(dns_server) -> None:
    server = dns_server({"limits.test": ZONE}, address="127.0.1.104", chase_cnames=False)
    answer = run(ask(server.spec, "chain.limits.test", "MX"))
    assert answer.ok and answer.records == ("10 mx.limits.test.",)
    assert answer.cname_chain == tuple(f"c{n}.limits.test" for n in range(1, 6))
    assert [q[0] for q in server.queries] == [
        "chain.limits.test",
        *(f"c{n}.limits.test" for n in range(1, 6)),
    ]


def test_too_long_open_chain_is_an_error_not_nodata(dns_server, monkeypatch) -> None:
    monkeypatch.setattr(resolver_module, "_MAX_FOLLOWS", 2)
    server = dns_server({"limits.test": ZONE}, address="127.0.1.104", chase_cnames=False)
    answer = run(ask(server.spec, "chain.limits.test", "MX"))
    assert answer.status is DnsStatus.ERROR
    assert answer.message.startswith("CNAME chain too long (over 2 lookups): chain.limits.test")


def test_truncated_udp_retry_over_tcp_stays_in_the_step_budget(dns_server) -> None:
    server = dns_server({"limits.test": ZONE}, address="127.0.1.105", delay=0.6)
    answer, seconds = timed(ask(server.spec, "big.limits.test", "TXT", timeout=1.0))
    # UDP answers (truncated) after 0.6 s; the TCP retry has 0.4 s left, not a new second
    assert answer.status is DnsStatus.TIMEOUT
    assert seconds < 1.5
    assert ("big.limits.test", "TXT", "tcp") in server.queries


def test_truncated_udp_retry_within_budget_succeeds(dns_server) -> None:
    server = dns_server({"limits.test": ZONE}, address="127.0.1.105", delay=0.2)
    answer = run(ask(server.spec, "big.limits.test", "TXT", timeout=1.0))
    assert answer.ok and len(answer.records) == 6


# --- 9. TC over TCP, extended RCODEs, CNAME loops ----------------------------------------


def test_tc_over_tcp_is_an_error_not_nodata(dns_server) -> None:
    server = dns_server({"limits.test": ZONE}, address="127.0.1.106", tcp_truncated=True)
    over_tcp = run(ask(server.spec, "limits.test", "MX", tcp=True))
    assert over_tcp.status is DnsStatus.ERROR and over_tcp.status.failed
    assert over_tcp.message.startswith("truncated answer (TC flag) over TCP")
    # UDP truncated, then TCP truncated again
    retried = run(ask(server.spec, "big.limits.test", "TXT"))
    assert retried.status is DnsStatus.ERROR and "truncated" in retried.message


def test_extended_rcode_badvers_is_read_whole(dns_server) -> None:
    server = dns_server(
        {"limits.test": ZONE}, address="127.0.1.107", rcodes={("limits.test", "MX"): "BADVERS"}
    )
    for tcp in (False, True):
        answer = run(ask(server.spec, "limits.test", "MX", tcp=tcp))
        assert answer.status is DnsStatus.ERROR
        assert answer.message == "answer code BADVERS"


def test_fast_parser_leaves_extended_rcodes_to_the_full_parser() -> None:
    query = dns.message.make_query("x.test", "MX", use_edns=0)
    response = dns.message.make_response(query)
    response.set_rcode(dns.rcode.BADVERS)
    wire = response.to_wire()
    assert wire[3] & 0x0F == 0  # the header alone says NOERROR
    assert _fast_interpret(wire, "x.test", _rdtype("MX"), DnsServer("127.0.0.1")) is None
    plain = dns.message.make_response(query).to_wire()
    fast = _fast_interpret(plain, "x.test", _rdtype("MX"), DnsServer("127.0.0.1"))
    assert fast is not None and fast[0].status is DnsStatus.NODATA


@pytest.mark.parametrize("chase", [True, False])
def test_cname_loop_is_named(dns_server, chase: bool) -> None:
    server = dns_server({"limits.test": ZONE}, address="127.0.1.108", chase_cnames=chase)
    answer = run(ask(server.spec, "a.loop.limits.test", "A"))
    assert answer.status is DnsStatus.ERROR
    assert answer.message == (
        "CNAME loop: a.loop.limits.test -> b.loop.limits.test -> a.loop.limits.test"
    )
    assert answer.cname_chain == ()  # no alias to point at: there is no canonical name
    assert answer.name == "a.loop.limits.test"
    self_loop = run(ask(server.spec, "self.limits.test", "AAAA"))
    assert self_loop.message == "CNAME loop: self.limits.test -> self.limits.test"


def test_cname_loop_in_one_response_both_parsers() -> None:
    query = dns.message.make_query("a.test", "MX")
    response = dns.message.make_response(query)
    response.answer.append(dns.rrset.from_text("a.test.", 60, "IN", "CNAME", "B.test."))
    response.answer.append(dns.rrset.from_text("b.test.", 60, "IN", "CNAME", "a.test."))
    wire = response.to_wire()
    server = DnsServer("127.0.0.1")
    fast = _fast_interpret(wire, "a.test", _rdtype("MX"), server)
    assert fast is not None
    assert fast[0].message == "CNAME loop: a.test -> B.test -> a.test"
    full, open_chain = resolver_module._interpret(
        dns.message.from_wire(wire), dns.name.from_text("a.test"), _rdtype("MX"), server
    )
    assert not open_chain and full.status is DnsStatus.ERROR
    assert full.message == "CNAME loop: a.test -> B.test -> a.test"


# --- 7. file descriptors: a socket budget, local errors never cached ----------------------


def test_socket_limit_leaves_a_reserve() -> None:
    assert socket_limit(256) == 192
    assert socket_limit(1024) == 768
    assert socket_limit(40) == 4
    assert socket_limit(1 << 20) == 1024
    assert 4 <= socket_limit() <= 1024


def test_slots_wait_in_order_and_survive_cancellation() -> None:
    async def scenario() -> list[str]:
        slots = _Slots(1)
        order: list[str] = []
        assert slots.try_acquire() and not slots.try_acquire()

        async def user(name: str) -> None:
            await slots.acquire()
            order.append(name)
            await asyncio.sleep(0)
            slots.release()

        first = asyncio.ensure_future(user("first"))
        doomed = asyncio.ensure_future(user("doomed"))
        second = asyncio.ensure_future(user("second"))
        await asyncio.sleep(0)
        doomed.cancel()
        slots.release()
        await asyncio.gather(first, second, return_exceptions=True)
        assert slots.in_use == 0 and slots.try_acquire()
        return order

    assert run(scenario()) == ["first", "second"]


def test_tcp_connections_stay_within_the_budget(dns_server, monkeypatch) -> None:
    server = dns_server({"limits.test": ZONE}, address="127.0.1.109")
    monkeypatch.setattr("mailprobe.dns.transport.socket_limit", lambda soft=None: 5)
    real = resolver_module._tcp_exchange
    open_now = 0
    most = 0

    async def counting(*args, **kwargs):
        nonlocal open_now, most
        open_now += 1
        most = max(most, open_now)
        try:
            return await real(*args, **kwargs)
        finally:
            open_now -= 1

    monkeypatch.setattr(resolver_module, "_tcp_exchange", counting)

    async def scenario():
        async with Resolver([parse_server(server.spec)], timeout=2, tcp=True) as resolver:
            names = [f"n{i}.limits.test" for i in range(60)]
            return await asyncio.gather(*(resolver.query(n, "A") for n in names))

    answers = run(scenario())
    assert {a.status for a in answers} == {DnsStatus.NXDOMAIN}
    assert most == 5


def test_local_errors_are_not_cached(dns_server, monkeypatch) -> None:
    server = dns_server({"limits.test": ZONE}, address="127.0.1.110")
    real = resolver_module._tcp_exchange
    calls = 0

    async def flaky(*args, **kwargs):
        nonlocal calls
        calls += 1
        if calls == 1:
            raise OSError(errno.EMFILE, "Too many open files")
        return await real(*args, **kwargs)

    monkeypatch.setattr(resolver_module, "_tcp_exchange", flaky)

    async def scenario():
        async with Resolver([parse_server(server.spec)], timeout=2, tcp=True) as resolver:
            first = await resolver.query("limits.test", "MX")
            second = await resolver.query("limits.test", "MX")
            third = await resolver.query("limits.test", "MX")
            return first, second, third, resolver.queries_sent

    first, second, third, sent = run(scenario())
    assert first.status is DnsStatus.ERROR
    assert first.message == "local error: too many open files"
    assert second.ok and third.ok and sent == 2  # asked again once, then cached


def test_a_bug_in_a_lookup_is_a_value_not_a_lost_task_exception(dns_server, monkeypatch) -> None:
    server = dns_server({"limits.test": ZONE}, address="127.0.1.110")

    async def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(Resolver, "_ask", broken)
    answer = run(ask(server.spec, "limits.test", "MX"))
    assert answer.status is DnsStatus.ERROR
    assert answer.message == "internal error: RuntimeError: boom"


def test_udp_pool_sockets_come_from_the_budget(dns_server) -> None:
    server = dns_server({"limits.test": ZONE}, address="127.0.1.111")

    async def scenario():
        from mailprobe.dns.transport import socket_budget

        budget = socket_budget()
        async with Resolver([parse_server(server.spec)], timeout=2) as resolver:
            await asyncio.gather(*(resolver.query(f"u{i}.limits.test", "A") for i in range(40)))
            held = budget.in_use
        return held, budget.in_use

    held, after = run(scenario())
    assert 1 <= held <= 4 and after == 0


def test_tc_flag_over_udp_only_asks_tcp(dns_server) -> None:
    server = dns_server({"limits.test": ZONE}, address="127.0.1.112")
    answer = run(ask(server.spec, "big.limits.test", "TXT"))
    assert answer.ok
    reply = dns.message.from_wire(server.answer_wire(dns_query("big.limits.test", "TXT")))
    assert not reply.flags & dns.flags.TC  # a DoH/TCP-sized answer is whole


# --- the misbehaving modes of the test server itself --------------------------------------


def test_server_modes_on_the_wire(dns_server) -> None:
    import dns.query

    loops = dns_server({"limits.test": ZONE}, address="127.0.1.113")
    reply = dns.query.udp(dns.message.make_query("a.loop.limits.test", "A"), loops.address,
                          port=loops.port, timeout=2)  # fmt: skip
    assert reply.rcode() == dns.rcode.NOERROR
    assert [str(r.name) for r in reply.answer] == ["a.loop.limits.test.", "b.loop.limits.test."]

    lazy = dns_server({"limits.test": ZONE}, address="127.0.1.114", chase_cnames=False)
    reply = dns.query.udp(dns.message.make_query("chain.limits.test", "MX"), lazy.address,
                          port=lazy.port, timeout=2)  # fmt: skip
    assert [str(r.name) for r in reply.answer] == ["chain.limits.test."] and not reply.authority

    broken = dns_server({"limits.test": ZONE}, address="127.0.1.115", tcp_truncated=True,
                        rcodes={("limits.test", "MX"): "BADVERS"})  # fmt: skip
    query = dns.message.make_query("mx.limits.test", "A", use_edns=0)
    reply = dns.query.tcp(query, broken.address, port=broken.port, timeout=2)
    assert reply.flags & dns.flags.TC and not reply.answer
    query = dns.message.make_query("limits.test", "MX", use_edns=0)
    reply = dns.query.udp(query, broken.address, port=broken.port, timeout=2)
    assert reply.rcode() == dns.rcode.BADVERS
