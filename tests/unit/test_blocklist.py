"""Pure parts of the blocklist engine: query names (RFC 5782), the list data, --zone specs."""

from __future__ import annotations

import ipaddress

import pytest

from mailprobe.checks.blocklist import known_lists, parse_zone, query_name, select_lists
from mailprobe.errors import UsageError

DEFAULTS = {
    "zen.spamhaus.org",
    "bl.spamcop.net",
    "b.barracudacentral.org",
    "psbl.surriel.com",
    "dbl.spamhaus.org",
}


@pytest.mark.parametrize(
    ("target", "zone", "expected"),
    [
        ("192.0.2.99", "zen.spamhaus.org", "99.2.0.192.zen.spamhaus.org"),
        ("203.0.113.79", "bl.example", "79.113.0.203.bl.example"),
        (  # RFC 5782 section 2.4's example address
            "2001:db8:7ca6:22::45",
            "bl.example",
            "5.4.0.0.0.0.0.0.0.0.0.0.0.0.0.0.2.2.0.0.6.a.c.7.8.b.d.0.1.0.0.2.bl.example",
        ),
        ("Example.COM.", "dbl.spamhaus.org", "example.com.dbl.spamhaus.org"),
    ],
)
def test_query_names(target: str, zone: str, expected: str) -> None:
    assert query_name(target, zone) == expected


def test_the_default_set_and_its_data() -> None:
    lists = known_lists()
    assert {b.zone for b in lists if b.default} == DEFAULTS
    loopback = ipaddress.ip_network("127.0.0.0/8")
    for blocklist in lists:
        assert blocklist.kind in ("ip", "domain")
        assert blocklist.codes, blocklist.zone
        for known in blocklist.codes:
            assert ipaddress.ip_address(known.code) in loopback
            assert known.meaning and known.list_class in ("block", "policy", "collateral")
            assert blocklist.error(known.code) is None, blocklist.zone  # a code is no error
    zen = next(b for b in lists if b.zone == "zen.spamhaus.org")
    assert zen.meaning("127.0.0.10") is not None and zen.meaning("127.0.0.10")[1] == "policy"
    assert zen.meaning("127.0.0.2") is not None and zen.meaning("127.0.0.2")[1] == "block"
    assert "public" in (zen.error("127.255.255.254") or "")
    assert "too many" in (zen.error("127.255.255.255") or "")
    spamcop = next(b for b in lists if b.zone == "bl.spamcop.net")
    assert spamcop.error("127.255.255.254")  # any list: that range is never a listing
    assert spamcop.error("127.0.0.2") is None
    assert not spamcop.ipv6 and zen.ipv6


def test_zone_options_replace_or_add() -> None:
    assert {b.zone for b in select_lists()} == DEFAULTS
    only = select_lists(["bl.spamcop.net"])
    assert [b.zone for b in only] == ["bl.spamcop.net"] and only[0].known
    added = select_lists([], ["dnsbl-1.uceprotect.net", "rbl.example.test@127.0.0.1:5353"])
    assert {b.zone for b in added} == DEFAULTS | {"dnsbl-1.uceprotect.net", "rbl.example.test"}
    custom = next(b for b in added if b.zone == "rbl.example.test")
    assert not custom.known and custom.kind == "ip" and custom.server == "127.0.0.1:5353"


@pytest.mark.parametrize(
    "spec", ["", " ", "@127.0.0.1", "a..b", "zone@", "zone@not an address", "bad zone"]
)
def test_bad_zone_specs_are_usage_errors(spec: str) -> None:
    with pytest.raises(UsageError):
        parse_zone(spec)
