"""EHLO reply parsing: keywords, parameters, SIZE, AUTH forms (pure functions)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from mailprobe.checks.ehlo import parse_ehlo_reply, parse_extension, verb_keyword

# The guide's Example 1 (chapter 5), text after "250-"/"250 " (its 240- typo corrected).
EXAMPLE_1 = [
    "mail1.example.com Hello [172.16.0.0]",
    "TURN",
    "ATRN",
    "SIZE 5242880",
    "ETRN",
    "PIPELINING",
    "DSN",
    "ENHANCEDSTATUSCODES",
    "8bitmime",
    "BINARYMIME",
    "CHUNKING",
    "VRFY",
    "X-EXPS GSSAPI NTLM",
    "AUTH GSSAPI NTLM",
    "X-EXPS=LOGIN",
    "X-LINK2STATE",
    "XEXCH50",
    "OK",
]


def test_example_1() -> None:
    advertised = parse_ehlo_reply(EXAMPLE_1)
    assert advertised.greeting == "mail1.example.com Hello [172.16.0.0]"
    assert advertised.keywords == (
        "TURN",
        "ATRN",
        "SIZE",
        "ETRN",
        "PIPELINING",
        "DSN",
        "ENHANCEDSTATUSCODES",
        "8BITMIME",
        "BINARYMIME",
        "CHUNKING",
        "VRFY",
        "X-EXPS",
        "AUTH",
        "X-LINK2STATE",
        "XEXCH50",
    )
    assert advertised.size_limit == 5242880
    assert advertised.size_limit_mb == 5.0
    assert advertised.auth_mechanisms == ("GSSAPI", "NTLM")
    assert advertised.has("xexch50")
    assert not advertised.has("OK")  # the closing "250 OK" is not an extension


def test_auth_forms_are_merged_case_insensitively() -> None:
    advertised = parse_ehlo_reply(["mx", "auth login Plain", "AUTH=LOGIN CRAM-MD5"])
    assert advertised.keywords == ("AUTH",)
    assert advertised.auth_mechanisms == ("LOGIN", "PLAIN", "CRAM-MD5")
    legacy = [e for e in advertised.extensions if e.legacy]
    assert len(legacy) == 1 and legacy[0].params == ("LOGIN", "CRAM-MD5")


def test_extension_forms() -> None:
    ext = parse_extension("X-EXPS=LOGIN")
    assert ext is not None and ext.keyword == "X-EXPS" and ext.legacy and ext.params == ("LOGIN",)
    ext = parse_extension("SIZE")
    assert ext is not None and ext.params == ()
    assert parse_extension("   ") is None
    assert verb_keyword("X-EXPS GSSAPI NTLM") == "X-EXPS"
    assert verb_keyword("auth=login") == "AUTH"


def test_size_without_limit_and_postfix_size() -> None:
    assert parse_ehlo_reply(["mx", "SIZE"]).size_limit is None
    assert parse_ehlo_reply(["mx", "SIZE 0"]).size_limit_mb is None
    advertised = parse_ehlo_reply(["mx", "SIZE 10240000"])
    assert advertised.size_limit == 10240000
    assert advertised.size_limit_mb == 9.77


def test_helo_only_reply() -> None:
    advertised = parse_ehlo_reply(["mail.example.org"])
    assert advertised.extensions == () and advertised.keywords == ()


@given(st.lists(st.text(max_size=300), max_size=30))
def test_parser_never_fails_on_untrusted_text(lines: list[str]) -> None:
    advertised = parse_ehlo_reply(lines)
    for ext in advertised.extensions:
        assert ext.keyword == ext.keyword.upper()
        assert all(ch.isprintable() for ch in ext.line)
        assert ext.keyword
    assert len(set(advertised.keywords)) == len(advertised.keywords)
    for mechanism in advertised.auth_mechanisms:
        assert mechanism == mechanism.upper()
