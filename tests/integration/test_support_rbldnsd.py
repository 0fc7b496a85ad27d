"""Proof that the DNSBL fixtures (tests/support/rbldnsd.py) serve what they claim.

Queries go out with dnspython (and dig where it is installed), never with mailprobe, so a
failure here points at the fixtures, not at the product. Every fact is read from ``DnsblLab``.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from collections.abc import Callable

import dns.exception
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import pytest

from tests.support.rbldnsd import (
    Dataset,
    DnsblLab,
    Listing,
    RbldnsdError,
    RbldnsdHandle,
    dnsbl_name,
    entry,
)

Factory = Callable[..., RbldnsdHandle]


def answers(message: dns.message.Message, rdtype: str) -> list[str]:
    """The answer records of one type, as text (TXT: the string itself, unquoted)."""
    kind = dns.rdatatype.from_text(rdtype)
    found = []
    for rrset in message.answer:
        if rrset.rdtype != kind:
            continue
        for rdata in rrset:
            if kind == dns.rdatatype.TXT:
                found.append(b"".join(rdata.strings).decode())
            else:
                found.append(rdata.to_text())
    return found


def rcode(message: dns.message.Message) -> str:
    return dns.rcode.to_text(message.rcode())


def listing_id(listing: Listing) -> str:
    return f"{listing.zone}:{listing.target}"


@pytest.mark.parametrize("listing", DnsblLab.listings, ids=listing_id)
def test_listed_entries_answer_their_codes_and_txt(dnsbl_lab: DnsblLab, listing: Listing) -> None:
    a = dnsbl_lab.server.query(listing.query_name, "A")
    assert rcode(a) == "NOERROR" and a.flags & dns.flags.AA
    assert answers(a, "A") == list(listing.codes)
    txt = dnsbl_lab.server.query(listing.query_name, "TXT")
    assert rcode(txt) == "NOERROR"
    assert answers(txt, "TXT") == ([listing.txt] if listing.txt else [])


@pytest.mark.parametrize("listing", [x for x in DnsblLab.listings if x.wildcard], ids=listing_id)
def test_wildcard_domain_listings_cover_subdomains(dnsbl_lab: DnsblLab, listing: Listing) -> None:
    subdomain = f"www.mail.{listing.target}"
    reply = dnsbl_lab.server.query(dnsbl_name(subdomain, listing.zone), "A")
    assert answers(reply, "A") == list(listing.codes)
    assert dnsbl_lab.codes(subdomain, listing.zone) == listing.codes
    if listing.txt:
        txt = dnsbl_lab.server.query(dnsbl_name(subdomain, listing.zone), "TXT")
        assert answers(txt, "TXT") == [listing.txt]


@pytest.mark.parametrize("zone", DnsblLab.ip_zones)
def test_ipv4_mapped_addresses_answer_from_the_ipv4_data(dnsbl_lab: DnsblLab, zone: str) -> None:
    """rbldnsd answers ::ffff:a.b.c.d from the IPv4 entries: the IPv6 test point comes free."""
    test_point = dnsbl_lab.test_points[zone]
    (mapped,) = dnsbl_lab.listed(dnsbl_lab.ipv6_test_point.target, zone)
    assert (mapped.codes, mapped.txt) == (test_point.codes, test_point.txt)
    reply = dnsbl_lab.server.query(mapped.query_name, "A")
    assert answers(reply, "A") == list(test_point.codes)
    txt = dnsbl_lab.server.query(mapped.query_name, "TXT")
    assert answers(txt, "TXT") == ([test_point.txt] if test_point.txt else [])


def test_fact_helpers(dnsbl_lab: DnsblLab) -> None:
    assert dnsbl_name("192.0.2.10", "zen.spamhaus.org") == "10.2.0.192.zen.spamhaus.org"
    assert dnsbl_name("2001:db8::25", "zen.spamhaus.org") == (
        "5.2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.zen.spamhaus.org"
    )
    assert dnsbl_name("Spammy-Domain.test.", "dbl.spamhaus.org") == (
        "Spammy-Domain.test.dbl.spamhaus.org"
    )
    assert dnsbl_lab.ipv6_test_point.query_name.startswith("2.0.0.0.0.0.f.7.f.f.f.f.0.0.0.0.")
    ipv6_test_point = dnsbl_lab.ipv6_test_point
    assert dnsbl_lab.listed("::FFFF:127.0.0.2", "zen.spamhaus.org") == (ipv6_test_point,)
    assert [x.zone for x in dnsbl_lab.listed(ipv6_test_point.target)] == list(dnsbl_lab.ip_zones)
    assert dnsbl_lab.codes(dnsbl_lab.pbl_only.target, "zen.spamhaus.org") == (
        "127.0.0.10",
        "127.0.0.11",
    )
    assert dnsbl_lab.listed("test.test", "dbl.spamhaus.org") == ()  # "test" is no wildcard
    assert set(dnsbl_lab.test_points) == set(dnsbl_lab.zones)
    assert dnsbl_lab.spec == f"127.0.14.1:{dnsbl_lab.server.port}"
    assert dnsbl_lab.refusing_spec.startswith("127.0.14.2:")
    assert dnsbl_lab.rate_limited_spec.startswith("127.0.14.3:")
    assert dnsbl_lab.silent_spec.startswith("127.0.14.9:")


def not_listed_cases() -> list[tuple[str, str]]:
    cases = [(zone, DnsblLab.not_listed_test_point) for zone in DnsblLab.ip_zones]
    cases += [(zone, DnsblLab.clean_ipv4) for zone in DnsblLab.ip_zones]
    cases += [("zen.spamhaus.org", DnsblLab.ipv6_not_listed_test_point)]
    cases += [("zen.spamhaus.org", DnsblLab.clean_ipv6)]
    cases += [("dbl.spamhaus.org", DnsblLab.domain_not_listed_test_point)]
    cases += [("dbl.spamhaus.org", DnsblLab.clean_domain)]
    cases += [("dbl.spamhaus.org", "www.test")]  # RFC 5782 "test" is listed, not below it
    # lists that are not supposed to know the entries of the others
    cases += [("bl.spamcop.net", DnsblLab.sbl.target), ("zen.spamhaus.org", "192.0.2.40")]
    return cases


@pytest.mark.parametrize(("zone", "target"), not_listed_cases())
def test_not_listed_is_nxdomain_with_soa(dnsbl_lab: DnsblLab, zone: str, target: str) -> None:
    assert dnsbl_lab.listed(target, zone) == ()
    for rdtype in ("A", "TXT"):
        reply = dnsbl_lab.server.query(dnsbl_name(target, zone), rdtype)
        assert rcode(reply) == "NXDOMAIN"
        assert reply.flags & dns.flags.AA and not reply.answer
        assert [rrset.rdtype for rrset in reply.authority] == [dns.rdatatype.SOA]


def test_zone_not_served_is_refused_and_there_is_no_tcp(dnsbl_lab: DnsblLab) -> None:
    reply = dnsbl_lab.server.query(dnsbl_name("127.0.0.2", "dnsbl.example.org"), "A")
    assert rcode(reply) == "REFUSED" and not reply.flags & dns.flags.AA
    query = dns.message.make_query(dnsbl_lab.sbl.query_name, "A")
    with pytest.raises(ConnectionRefusedError):
        dns.query.tcp(query, dnsbl_lab.server.address, port=dnsbl_lab.server.port, timeout=2)


def test_letter_case_and_edns(dnsbl_lab: DnsblLab) -> None:
    name = dnsbl_lab.dbl_spammy.query_name.upper()
    reply = dnsbl_lab.server.query(name, "A", use_edns=0, payload=1232)
    assert answers(reply, "A") == list(dnsbl_lab.dbl_spammy.codes)
    assert reply.question[0].name.to_text() == name + "."
    assert reply.edns == -1  # rbldnsd sends no OPT record back


def test_refusing_server_answers_refused_code_for_everything(dnsbl_lab: DnsblLab) -> None:
    refusing = dnsbl_lab.refusing
    code = [dnsbl_lab.refused_code]
    for target in ("127.0.0.2", "127.0.0.1", "192.0.2.10", "8.8.8.8", "2001:db8::25", "::1"):
        assert answers(refusing.query(dnsbl_name(target, "zen.spamhaus.org")), "A") == code
    for target in ("dbltest.com", "spammy-domain.test", "example.com", "invalid"):
        assert answers(refusing.query(dnsbl_name(target, "dbl.spamhaus.org")), "A") == code
    # other lists are served but list nothing, not even their test point
    for zone in ("bl.spamcop.net", "b.barracudacentral.org", "psbl.surriel.com"):
        reply = refusing.query(dnsbl_name(dnsbl_lab.test_point, zone))
        assert rcode(reply) == "NXDOMAIN"


def test_rate_limited_server(dnsbl_lab: DnsblLab) -> None:
    limited = dnsbl_lab.rate_limited
    code = [dnsbl_lab.rate_limited_code]
    for target in ("127.0.0.2", "192.0.2.99", "2001:db8::99"):
        assert answers(limited.query(dnsbl_name(target, "zen.spamhaus.org")), "A") == code
    assert answers(limited.query(dnsbl_name("example.com", "dbl.spamhaus.org")), "A") == code
    assert rcode(limited.query(dnsbl_name("127.0.0.2", "bl.spamcop.net"))) == "REFUSED"


def test_silent_server_never_answers(dnsbl_lab: DnsblLab) -> None:
    query = dns.message.make_query(dnsbl_lab.sbl.query_name, "A")
    silent = dnsbl_lab.silent
    with pytest.raises(dns.exception.Timeout):
        dns.query.udp(query, silent.address, port=silent.port, timeout=0.5)


@pytest.mark.skipif(shutil.which("dig") is None, reason="dig not installed (package dnsutils)")
def test_dig_sees_the_same(dnsbl_lab: DnsblLab) -> None:
    server = dnsbl_lab.server

    def dig(name: str, rdtype: str) -> list[str]:
        done = subprocess.run(
            ["dig", "+short", "+time=2", "+tries=1", f"@{server.address}", "-p",
             str(server.port), name, rdtype],
            capture_output=True, text=True, timeout=10, check=True,
        )  # fmt: skip
        return done.stdout.split("\n")[:-1]

    listing = dnsbl_lab.sbl
    assert dig(listing.query_name, "A") == list(listing.codes)
    assert dig(listing.query_name, "TXT") == [f'"{listing.txt}"']
    assert dig(dnsbl_lab.ipv6.query_name, "A") == list(dnsbl_lab.ipv6.codes)
    assert dig(dnsbl_name(dnsbl_lab.not_listed_test_point, "zen.spamhaus.org"), "A") == []


def test_factory_serves_its_own_data_and_stops(rbldnsd_server: Factory) -> None:
    handle = rbldnsd_server(
        {
            "bl.example.test": [
                Dataset("ip4set", ["192.0.2.0/24", "!192.0.2.7"], default=":127.0.0.9:Net $"),
                Dataset("ip6trie", [entry("2001:db8::/32", "127.0.0.10", "v6 $ costs $$5")]),
            ]
        },
        "127.0.14.20",
        ttl=60,
    )
    assert handle.spec == f"127.0.14.20:{handle.port}" and handle.running
    reply = handle.query(dnsbl_name("192.0.2.8", "bl.example.test"), "TXT")
    assert answers(reply, "TXT") == ["Net 192.0.2.8"]
    assert reply.answer[0].ttl == 60
    assert rcode(handle.query(dnsbl_name("192.0.2.7", "bl.example.test"))) == "NXDOMAIN"
    reply = handle.query(dnsbl_name("2001:db8:1::5", "bl.example.test"), "TXT")
    assert answers(reply, "TXT") == ["v6 2001:db8:1::5 costs $5"]
    pid, base = handle.pid, handle.base
    assert pid is not None and (base / "rbldnsd.pid").read_text().strip() == str(pid)
    handle.stop()
    assert not handle.running and not base.exists()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_a_taken_port_is_an_error_with_the_output(rbldnsd_server: Factory) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind(("127.0.14.21", 0))
        port = taken.getsockname()[1]
        with pytest.raises(RbldnsdError, match="unable to bind"):
            rbldnsd_server({"bl.example.test": [Dataset("ip4set")]}, "127.0.14.21", port)


def test_bad_data_is_refused_before_start() -> None:
    with pytest.raises(ValueError):
        Dataset("ip5set")
    with pytest.raises(ValueError):
        entry("192.0.2.1", "127.0.0.2", "two\nlines")
    with pytest.raises(ValueError):
        entry("192.0.2.1 192.0.2.2")
