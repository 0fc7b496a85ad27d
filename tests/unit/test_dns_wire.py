"""The fast wire reader of mailprobe.dns agrees with dnspython's full parser."""

from __future__ import annotations

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype
import dns.rrset
from hypothesis import given, settings
from hypothesis import strategies as st

from mailprobe.dns import DnsServer, _fast_interpret, _interpret

SERVER = DnsServer("127.0.1.1", 53)


def both(response: dns.message.Message, name: str, kind: str):
    qname = dns.name.from_text(name)
    qtype = dns.rdatatype.from_text(kind)
    wire = response.to_wire()
    fast = _fast_interpret(wire, name.rstrip("."), qtype, SERVER)
    full = _interpret(dns.message.from_wire(wire), qname, qtype, SERVER)
    return fast, full


def response_for(name: str, kind: str, *rrsets: tuple[str, int, str, list[str]], rcode=0):
    query = dns.message.make_query(name, kind)
    response = dns.message.make_response(query)
    response.flags |= dns.flags.AA
    response.set_rcode(rcode)
    for owner, ttl, rtype, texts in rrsets:
        rrset = dns.rrset.from_text_list(dns.name.from_text(owner), ttl, "IN", rtype, texts)
        response.answer.append(rrset)
    return response


def same(fast, full) -> None:
    assert fast is not None
    (a, open_a), (b, open_b) = fast, full
    assert open_a == open_b
    for field in ("name", "rdtype", "status", "ttl", "authoritative", "authenticated"):
        assert getattr(a, field) == getattr(b, field), field
    assert sorted(a.records) == sorted(b.records)
    assert a.cname_chain == b.cname_chain
    assert sorted(r.to_text() for r in a.rdata()) == sorted(r.to_text() for r in b.rdata())


def test_common_answers() -> None:
    cases = [
        ("example.test", "MX", [("example.test", 300, "MX", ["10 mx1.example.test.", "0 ."])]),
        ("mx.example.test", "A", [("mx.example.test", 60, "A", ["192.0.2.1", "192.0.2.2"])]),
        ("mx.example.test", "AAAA", [("mx.example.test", 60, "AAAA", ["2001:db8::1"])]),
        ("1.2.0.192.in-addr.arpa", "PTR", [("1.2.0.192.in-addr.arpa", 9, "PTR", ["h.test."])]),
        (
            "alias.test",
            "A",
            [("alias.test", 5, "CNAME", ["real.test."]), ("real.test", 7, "A", ["192.0.2.9"])],
        ),
        ("alias.test", "A", [("alias.test", 5, "CNAME", ["elsewhere.test."])]),
        (
            "alias2.test",
            "A",
            [
                ("alias2.test", 5, "CNAME", ["we\\.Ird.test."]),
                ("we\\.ird.test", 7, "A", ["192.0.2.3"]),
            ],
        ),
        ("Weird.Example", "PTR", [("weird.example", 5, "PTR", ['a\\.b\\"c\\255.test.'])]),
    ]
    for name, kind, rrsets in cases:
        same(*both(response_for(name, kind, *rrsets), name, kind))


def test_negative_answers() -> None:
    for rcode in (dns.rcode.NXDOMAIN, dns.rcode.NOERROR, dns.rcode.SERVFAIL, dns.rcode.REFUSED):
        response = response_for("x.example.test", "A", rcode=rcode)
        response.authority.append(
            dns.rrset.from_text("example.test.", 900, "IN", "SOA", "ns. h. 1 2 3 4 60")
        )
        same(*both(response, "x.example.test", "A"))


def test_other_types_use_the_full_parser() -> None:
    response = response_for("example.test", "TXT", ("example.test", 5, "TXT", ['"v=spf1 -all"']))
    fast, _full = both(response, "example.test", "TXT")
    assert fast is None


@settings(max_examples=300)
@given(st.binary(max_size=200))
def test_garbage_never_raises(data: bytes) -> None:
    _fast_interpret(data, "example.test", dns.rdatatype.MX, SERVER)
