"""The loopback authoritative DNS server of tests/support behaves like a real one."""

from __future__ import annotations

import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import pytest

ZONE = """
@        MX 10 mx1
@        MX 20 mx2.example.test.
mx1      A 192.0.2.1
mx1      AAAA 2001:db8::1
mx2  300 A 192.0.2.2
alias    CNAME mx1
outside  CNAME mail.elsewhere.invalid.
gone     CNAME nowhere
*.wild   A 192.0.2.9
a.b.c    TXT "deep"
big      TXT "{}"
big      TXT "{}"
big      TXT "{}"
""".format("x" * 200, "y" * 200, "z" * 200)

REVERSE = """
1 PTR mx1.example.test.
"""


def ask(handle, name, kind, tcp=False, **kw):
    query = dns.message.make_query(name, kind, **kw)
    if tcp:
        return dns.query.tcp(query, handle.address, port=handle.port, timeout=2)
    return dns.query.udp(query, handle.address, port=handle.port, timeout=2)


@pytest.fixture
def server(dns_server):
    return dns_server({"example.test": ZONE, "2.0.192.in-addr.arpa": REVERSE})


def test_answer_is_authoritative_with_ttl(server) -> None:
    reply = ask(server, "example.test", "MX")
    assert reply.rcode() == dns.rcode.NOERROR
    assert reply.flags & dns.flags.AA
    assert sorted(r.preference for r in reply.answer[0]) == [10, 20]
    assert reply.answer[0].ttl == 3600
    assert ask(server, "mx2.example.test", "A").answer[0].ttl == 300


def test_nxdomain_and_nodata_carry_soa(server) -> None:
    nx = ask(server, "missing.example.test", "A")
    assert nx.rcode() == dns.rcode.NXDOMAIN
    assert nx.authority[0].rdtype == dns.rdatatype.SOA
    assert nx.authority[0].ttl == 300
    nodata = ask(server, "mx2.example.test", "AAAA")
    assert nodata.rcode() == dns.rcode.NOERROR and not nodata.answer
    assert nodata.authority[0].rdtype == dns.rdatatype.SOA
    ent = ask(server, "b.c.example.test", "A")
    assert ent.rcode() == dns.rcode.NOERROR and not ent.answer


def test_cname_chased_and_dangling(server) -> None:
    reply = ask(server, "alias.example.test", "A")
    assert [r.rdtype for r in reply.answer] == [dns.rdatatype.CNAME, dns.rdatatype.A]
    gone = ask(server, "gone.example.test", "A")
    assert gone.rcode() == dns.rcode.NXDOMAIN
    assert gone.answer[0].rdtype == dns.rdatatype.CNAME
    out = ask(server, "outside.example.test", "A")
    assert out.rcode() == dns.rcode.NOERROR and len(out.answer) == 1


def test_wildcard_reverse_and_refused(server) -> None:
    assert ask(server, "x.wild.example.test", "A").answer[0][0].address == "192.0.2.9"
    ptr = ask(server, "1.2.0.192.in-addr.arpa", "PTR")
    assert ptr.answer[0][0].target.to_text() == "mx1.example.test."
    assert ask(server, "example.org", "A").rcode() == dns.rcode.REFUSED


def test_truncation_and_tcp(server) -> None:
    udp = ask(server, "big.example.test", "TXT")
    assert udp.flags & dns.flags.TC
    tcp = ask(server, "big.example.test", "TXT", tcp=True)
    assert len(tcp.answer[0]) == 3
    assert ("big.example.test", "TXT", "tcp") in server.queries


def test_forced_rcodes_and_ad(dns_server) -> None:
    srv = dns_server({"example.test": ZONE}, rcodes={("mx1.example.test", "*"): "SERVFAIL"})
    assert ask(srv, "mx1.example.test", "A").rcode() == dns.rcode.SERVFAIL
    refusing = dns_server({"example.test": ZONE}, rcode="REFUSED", authenticated=True)
    assert ask(refusing, "example.test", "MX").rcode() == dns.rcode.REFUSED
    ad = dns_server({"example.test": ZONE}, authenticated=True)
    assert ask(ad, "example.test", "MX", want_dnssec=True).flags & dns.flags.AD


def test_set_zone_and_ipv6(dns_server) -> None:
    srv = dns_server({"example.test": ZONE}, address="::1")
    assert srv.spec.startswith("[::1]:")
    srv.set_zone("other.test", "@ A 192.0.2.7")
    assert ask(srv, "other.test", "A").answer[0][0].address == "192.0.2.7"


def test_silent_server_times_out(silent_dns_server) -> None:
    silent = silent_dns_server()
    with pytest.raises(dns.exception.Timeout):
        ask(silent, "example.test", "A")


POLICY_ZONE = """
@                      TXT "v=spf1 mx -all"
_dmarc                 TXT "v=DMARC1; p=reject; rua=mailto:d@policy.test"
_mta-sts               TXT "v=STSv1; id=20240101"
_smtp._tls             TXT "v=TLSRPTv1; rua=mailto:tls@policy.test"
sel._domainkey         TXT ( "v=DKIM1; k=rsa; p=MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA"
                             "0123456789abcdef" )
_25._tcp.mx            TLSA 3 1 1 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
"""


def test_policy_records(dns_server) -> None:
    srv = dns_server({"policy.test": POLICY_ZONE}, address="127.0.1.200")
    tlsa = ask(srv, "_25._tcp.mx.policy.test", "TLSA").answer[0][0]
    assert (tlsa.usage, tlsa.selector, tlsa.mtype) == (3, 1, 1)
    dkim = ask(srv, "sel._domainkey.policy.test", "TXT").answer[0][0]
    assert b"".join(dkim.strings).startswith(b"v=DKIM1; k=rsa; p=MIIB")
    assert ask(srv, "_dmarc.policy.test", "TXT").answer[0][0].strings[0].startswith(b"v=DMARC1")
