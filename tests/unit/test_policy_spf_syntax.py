"""SPF record syntax and macro expansion (RFC 7208 §4.5, §5, §6, §7), without DNS."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mailprobe.checks.policy.spf_syntax import (
    MacroContext,
    SpfRecord,
    domain_spec_error,
    expand_macros,
    is_spf_record,
    parse_spf,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("v=spf1", True),
        ("v=spf1 -all", True),
        ("V=SPF1 -all", True),
        ("v=spf1  mx  -all ", True),
        ("v=spf10 -all", False),
        ("v=spf1-all", False),
        (" v=spf1 -all", False),
        ("spf2.0/pra -all", False),
        ("", False),
    ],
)
def test_spf_record_detection(text: str, expected: bool) -> None:
    assert is_spf_record(text) is expected


def test_parse_every_mechanism_and_modifier() -> None:
    record = parse_spf(
        "v=spf1 a mx/24 -a:foo.example.com/24//64 ~mx:mx.example.org//48 ?ptr ptr:example.net "
        "ip4:192.0.2.0/24 ip6:2001:db8::/32 include:_spf.example.com exists:%{i}.bl.example.org "
        "redirect=_spf.example.net exp=explain.%{d} x-custom=1 -all"
    )
    assert record.valid, record.all_errors
    summary = [(t.kind, t.name, t.qualifier, t.value, t.cidr4, t.cidr6) for t in record.terms]
    assert summary == [
        ("mechanism", "a", "+", "", None, None),
        ("mechanism", "mx", "+", "", 24, None),
        ("mechanism", "a", "-", "foo.example.com", 24, 64),
        ("mechanism", "mx", "~", "mx.example.org", None, 48),
        ("mechanism", "ptr", "?", "", None, None),
        ("mechanism", "ptr", "+", "example.net", None, None),
        ("mechanism", "ip4", "+", "192.0.2.0", 24, None),
        ("mechanism", "ip6", "+", "2001:db8::", None, 32),
        ("mechanism", "include", "+", "_spf.example.com", None, None),
        ("mechanism", "exists", "+", "%{i}.bl.example.org", None, None),
        ("modifier", "redirect", "", "_spf.example.net", None, None),
        ("modifier", "exp", "", "explain.%{d}", None, None),
        ("modifier", "x-custom", "", "1", None, None),
        ("mechanism", "all", "-", "", None, None),
    ]
    names = [t.name for t in record.lookup_terms]
    assert names == ["a", "mx", "a", "mx", "ptr", "ptr", "include", "exists", "redirect"]
    assert record.all_term is not None and record.all_term.qualifier == "-"
    assert record.modifier("redirect") is not None


def test_names_are_case_insensitive() -> None:
    record = parse_spf("v=spf1 MX Include:_spf.Example.COM IP4:192.0.2.1 -ALL")
    assert record.valid
    assert [t.name for t in record.terms] == ["mx", "include", "ip4", "all"]


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("v=spf1 ip4:1.2.3.4/33", "prefix length must be 0-32"),
        ("v=spf1 ip4:1.2.3.4/024", "without leading zeros"),
        ("v=spf1 ip4:01.2.3.4", "not an IPv4 address"),
        ("v=spf1 ip4:2001:db8::1", "needs an IPv4 address"),
        ("v=spf1 ip6:192.0.2.1", "needs an IPv6 address"),
        ("v=spf1 ip6:fe80::1%eth0", "not an IPv6 address"),
        ("v=spf1 ip6:2001:db8::/129", "0-128"),
        ("v=spf1 ip4", "needs an address"),
        ("v=spf1 include", "needs a domain"),
        ("v=spf1 include:", "needs a domain"),
        ("v=spf1 exists", "needs a domain"),
        ("v=spf1 a:localhost", "not a domain name"),
        ("v=spf1 a:example.123", "not a domain name"),
        ("v=spf1 mx:/24", "optional :domain"),
        ("v=spf1 -all:foo", "all takes no argument"),
        ("v=spf1 foo:bar", "unknown mechanism"),
        ("v=spf1 +redirect=a.example", "unknown mechanism"),
        ("v=spf1 include:%{x}.example.com", "unknown macro letter"),
        ("v=spf1 include:%{d0}.example.com", "zero labels"),
        ("v=spf1 include:%{d", "unterminated macro"),
        ("v=spf1 include:100%.example.com", "a % must start a macro"),
        ("v=spf1 a:exa\u00e9mple.com", "invalid character"),
        ("v=spf1 redirect=a.example redirect=b.example", "more than once"),
        ("v=spf1 exp=a.example exp=b.example", "more than once"),
        ("v=spf1 =foo", "not a mechanism or modifier"),
        ("v=spf1 exp=%{c}.example.com", "unknown macro letter"),
    ],
)
def test_syntax_errors_name_the_term(text: str, fragment: str) -> None:
    record = parse_spf(text)
    assert not record.valid
    assert any(fragment in error for error in record.all_errors), record.all_errors


def test_not_an_spf_record() -> None:
    record = parse_spf("hello world")
    assert not record.valid and record.terms == ()
    assert "not an SPF record" in record.errors[0]


@pytest.mark.parametrize(
    "spec",
    ["example.com", "example.com.", "_spf.example.com", "%{d}", "%{ir}.%{v}._spf.%{d2}", "a.b-c"],
)
def test_valid_domain_specs(spec: str) -> None:
    assert domain_spec_error(spec) == ""


@pytest.mark.parametrize(
    "spec",
    [
        "",
        "com",
        "example.-bad",
        "example.123",
        "%{z}",
        "a b.com",
        "a..example.com",
        "x" * 64 + ".com",
    ],
)
def test_invalid_domain_specs(spec: str) -> None:
    assert domain_spec_error(spec) != ""


# RFC 7208 §7.4 examples
_CONTEXT = MacroContext(
    sender="strong-bad@email.example.com",
    domain="email.example.com",
    ip=ipaddress.ip_address("192.0.2.3"),
    helo="mx.example.org",
)


@pytest.mark.parametrize(
    ("macro", "expanded"),
    [
        ("%{s}", "strong-bad@email.example.com"),
        ("%{o}", "email.example.com"),
        ("%{d}", "email.example.com"),
        ("%{d4}", "email.example.com"),
        ("%{d3}", "email.example.com"),
        ("%{d2}", "example.com"),
        ("%{d1}", "com"),
        ("%{dr}", "com.example.email"),
        ("%{d2r}", "example.email"),
        ("%{l}", "strong-bad"),
        ("%{l-}", "strong.bad"),
        ("%{lr}", "strong-bad"),
        ("%{lr-}", "bad.strong"),
        ("%{l1r-}", "strong"),
        ("%{ir}.%{v}._spf.%{d2}", "3.2.0.192.in-addr._spf.example.com"),
        ("%{lr-}.lp._spf.%{d2}", "bad.strong.lp._spf.example.com"),
        ("%{lr-}.lp.%{ir}.%{v}._spf.%{d2}", "bad.strong.lp.3.2.0.192.in-addr._spf.example.com"),
        ("%{ir}.%{v}.%{l1r-}.lp._spf.%{d2}", "3.2.0.192.in-addr.strong.lp._spf.example.com"),
        ("%{d2}.trusted-domains.example.net", "example.com.trusted-domains.example.net"),
        ("%{h}", "mx.example.org"),
        ("%%%_%-", "% %20"),
        ("%{S}", "strong-bad%40email.example.com"),
    ],
)
def test_macro_expansion_rfc_examples(macro: str, expanded: str) -> None:
    assert expand_macros(macro, _CONTEXT) == expanded


def test_macro_expansion_ipv6() -> None:
    context = MacroContext("a@b.example", "b.example", ipaddress.ip_address("2001:db8::cb01"), "h")
    assert expand_macros("%{ir}.%{v}._spf.%{d2}", context) == (
        "1.0.b.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6._spf.b.example"
    )


def test_long_expansion_is_cut_from_the_left() -> None:
    context = MacroContext("x@" + "a" * 60 + ".example", "d.example", _CONTEXT.ip, "h")
    result = expand_macros("%{o}.%{o}.%{o}.%{o}.%{o}.end.example", context)
    assert len(result) <= 253
    assert result.endswith(".end.example")


@given(st.text(max_size=300))
def test_parser_never_raises_on_arbitrary_text(text: str) -> None:
    record = parse_spf(text)
    assert isinstance(record, SpfRecord)
    assert record.text == text
    _ = record.all_errors, record.lookup_terms, record.all_term, record.valid


_TERM_CHARS = st.sampled_from([*"v=spf1 -+~?:/%{}._alxmipd46rR0123456789", "ip4", "all"])


@given(st.lists(_TERM_CHARS, max_size=80).map("".join))
def test_parser_never_raises_on_spf_like_text(tail: str) -> None:
    record = parse_spf("v=spf1 " + tail)
    for term in record.terms:
        assert term.kind in ("mechanism", "modifier")
        if not term.error and term.name in ("ip4", "ip6"):
            ipaddress.ip_address(term.value)  # a valid term has a valid address
    context = MacroContext("a@b.example", "b.example", ipaddress.ip_address("192.0.2.1"), "h")
    for term in record.terms:
        if not term.error and term.value:
            expand_macros(term.value, context)
