"""Parsing of DNS server specs and domain names typed by users."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mailprobe.dns import (
    DnsServer,
    parse_doh_url,
    parse_domain,
    parse_server,
    reverse_name,
    system_servers,
    to_unicode,
)
from mailprobe.errors import UsageError


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("192.0.2.53", DnsServer("192.0.2.53", 53)),
        ("192.0.2.53:5353", DnsServer("192.0.2.53", 5353)),
        ("[::1]:5300", DnsServer("::1", 5300)),
        ("[2001:db8::1]", DnsServer("2001:db8::1", 53)),
        ("2001:db8::1", DnsServer("2001:db8::1", 53)),
        (" 127.0.0.1 ", DnsServer("127.0.0.1", 53)),
    ],
)
def test_parse_server(text: str, expected: DnsServer) -> None:
    assert parse_server(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "999.1.1.1",
        "not-an-ip",
        "1.2.3.4:0",
        "1.2.3.4:65536",
        "1.2.3.4:x",
        "[::1",
        "[::1]x",
        "[127.0.0.1]:53",
        "dns.example:53",
    ],
)
def test_parse_server_rejects(text: str) -> None:
    with pytest.raises(UsageError):
        parse_server(text)


def test_server_labels() -> None:
    assert DnsServer("::1", 53).label == "[::1]:53"
    assert DnsServer("192.0.2.1", 5353).label == "192.0.2.1:5353"
    assert parse_doh_url("https://dns.example/dns-query").label == "https://dns.example/dns-query"
    with pytest.raises(UsageError):
        parse_doh_url("dns.example")


@pytest.mark.parametrize(
    ("text", "ascii_name", "unicode_name"),
    [
        ("Example.ORG.", "example.org", "example.org"),
        ("bücher.example", "xn--bcher-kva.example", "bücher.example"),
        ("xn--bcher-kva.example", "xn--bcher-kva.example", "bücher.example"),
        ("ＥＸＡＭＰＬＥ.org", "example.org", "example.org"),  # UTS 46 mapping
        ("_dmarc.example.org", "_dmarc.example.org", "_dmarc.example.org"),
    ],
)
def test_parse_domain(text: str, ascii_name: str, unicode_name: str) -> None:
    assert parse_domain(text) == (ascii_name, unicode_name)


@pytest.mark.parametrize(
    "text",
    [
        "",
        " ",
        "-bad-.com",
        "a b",
        "a" * 300 + ".com",
        "a..b",
        ".",
        ".example",
        "192.0.2.1",
        "exa\x00mple.org",
        "exa!mple.org",
        ("a" * 60 + ".") * 5 + "org",
        "xn--zz.example",
    ],
)
def test_parse_domain_rejects(text: str) -> None:
    with pytest.raises(UsageError) as info:
        parse_domain(text)
    assert "\n" not in str(info.value)


@given(st.text(max_size=80))
def test_parse_domain_never_crashes(text: str) -> None:
    try:
        ascii_name, _unicode = parse_domain(text)
    except UsageError:
        return
    assert ascii_name.isascii() and len(ascii_name) <= 253
    assert all(0 < len(label) <= 63 for label in ascii_name.split("."))


@given(st.text(max_size=40))
def test_parse_server_never_crashes(text: str) -> None:
    try:
        server = parse_server(text)
    except UsageError:
        return
    assert 1 <= server.port <= 65535


def test_system_servers(tmp_path) -> None:
    conf = tmp_path / "resolv.conf"
    conf.write_text(
        "# comment\nsearch example\nnameserver 192.0.2.53\nnameserver fe80::1%eth0\n"
        "nameserver bogus\n",
        encoding="utf-8",
    )
    assert system_servers(str(conf)) == [DnsServer("192.0.2.53"), DnsServer("fe80::1")]
    assert system_servers(str(tmp_path / "missing")) == [DnsServer("127.0.0.1")]


def test_reverse_name_and_unicode() -> None:
    assert reverse_name("192.0.2.1") == "1.2.0.192.in-addr.arpa"
    assert reverse_name("2001:db8::1").endswith(".8.b.d.0.1.0.0.2.ip6.arpa")
    assert to_unicode("xn--bcher-kva.example") == "bücher.example"
    assert to_unicode("xn--zz.example") == "xn--zz.example"
