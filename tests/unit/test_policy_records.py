"""DMARC, MTA-STS (record, policy, mx patterns) and TLS-RPT parsers, without network."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mailprobe.checks.policy import (
    DmarcRecord,
    MtaStsPolicy,
    MtaStsRecord,
    TlsRptRecord,
    mx_matches,
    parse_dmarc,
    parse_mta_sts_policy,
    parse_mta_sts_record,
    parse_tlsrpt,
)
from mailprobe.checks.policy.dmarc import is_dmarc_candidate, parse_report_uris, report_domain
from mailprobe.checks.policy.mtasts import uncovered_exchangers

# --- DMARC ----------------------------------------------------------------------------------


def test_dmarc_full_record() -> None:
    record = parse_dmarc(
        "v=DMARC1; p=reject; sp=quarantine; pct=50; adkim=s; aspf=r; fo=1:d; "
        "rua=mailto:agg@example.test,mailto:x@reports.example!10m; ruf=mailto:f@example.test; "
        "ri=3600; rf=afrf"
    )
    assert record.valid and not record.warnings
    assert record.policy == "reject"
    assert record.subdomain_policy == "quarantine"
    assert record.percent == 50
    assert record.dkim_alignment == "s" and record.spf_alignment == "r"
    assert record.failure_options == "1:d"
    assert record.aggregate_report_uris == ("mailto:agg@example.test", "mailto:x@reports.example")
    assert record.failure_report_uris == ("mailto:f@example.test",)


def test_dmarc_defaults() -> None:
    record = parse_dmarc("v=DMARC1; p=none")
    assert record.valid
    assert record.percent == 100 and record.dkim_alignment == "r"
    assert record.aggregate_report_uris == ()


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("p=none; v=DMARC1", "must start with v=DMARC1"),
        ("v=DMARC1 p=none", "must start with v=DMARC1"),
        ("v=dmarc1; p=none", "must start with v=DMARC1"),
        ("v=DMARC1; rua=mailto:a@example.test", "p= tag is missing"),
        ("v=DMARC1; p=block", "not none, quarantine or reject"),
        ("v=DMARC1; p=none; garbage", "malformed tag"),
    ],
)
def test_dmarc_errors(text: str, fragment: str) -> None:
    record = parse_dmarc(text)
    assert not record.valid
    assert any(fragment in e for e in record.errors), record.errors


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("v=DMARC1; p=none; pct=150", "pct=150"),
        ("v=DMARC1; p=none; adkim=x", "adkim=x"),
        ("v=DMARC1; p=none; sp=maybe", "sp=maybe"),
        ("v=DMARC1; p=none; fo=2", "fo=2"),
        ("v=DMARC1; p=none; rua=agg@example.test", "not a URI"),
        ("v=DMARC1; p=none; rua=https://example.test/r", "not a mailto"),
        ("v=DMARC1; p=none; rua=mailto:nobody", "does not hold a mail address"),
        ("v=DMARC1; p=none; p=reject", "more than once"),
    ],
)
def test_dmarc_warnings(text: str, fragment: str) -> None:
    record = parse_dmarc(text)
    assert any(fragment in w for w in record.warnings), record.warnings


def test_dmarc_tag_names_ignore_case_and_unknown_tags_are_listed() -> None:
    record = parse_dmarc("v=DMARC1; P=Quarantine; RUA=mailto:a@example.test; foo=bar")
    assert record.policy == "quarantine"
    assert record.unknown_tags == ("foo",)


def test_dmarc_candidates_and_report_domains() -> None:
    assert is_dmarc_candidate("v=DMARC1; p=none")
    assert is_dmarc_candidate("  V = dmarc1 p=none")
    assert not is_dmarc_candidate("v=spf1 -all")
    uris, problems = parse_report_uris("mailto:a@Example.TEST!5m, mailto:b@c.example")
    assert uris == ("mailto:a@Example.TEST", "mailto:b@c.example") and not problems
    assert report_domain("mailto:a@Example.TEST") == "example.test"
    assert report_domain("https://x.example/") is None


@given(st.text(max_size=300))
def test_dmarc_parser_never_raises(text: str) -> None:
    record = parse_dmarc(text)
    assert isinstance(record, DmarcRecord) and record.text == text
    assert record.policy in (None, "none", "quarantine", "reject")


@given(
    st.lists(
        st.sampled_from(["v=DMARC1", "p=", "none", "reject", ";", " ", "rua=", "mailto:", "@"]),
        max_size=30,
    ).map("".join)
)
def test_dmarc_parser_never_raises_on_dmarc_like_text(text: str) -> None:
    assert isinstance(parse_dmarc(text), DmarcRecord)


# --- MTA-STS --------------------------------------------------------------------------------


def test_mta_sts_record() -> None:
    record = parse_mta_sts_record("v=STSv1; id=20240101T000000;")
    assert record.valid and record.id == "20240101T000000"
    record = parse_mta_sts_record("v=STSv1;id=abc123; ext.name=value")
    assert record.valid and record.extensions == (("ext.name", "value"),)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("v=STSv1", "must start with"),
        ("v=stsv1; id=1", "must start with"),
        ("v=STSv1; ", "id= field is missing"),
        ("v=STSv1; id=", "1-32 letters/digits"),
        ("v=STSv1; id=has-dash", "1-32 letters/digits"),
        ("v=STSv1; id=" + "a" * 33, "1-32 letters/digits"),
        ("v=STSv1; id=1; id=2", "more than once"),
        ("v=STSv1; id=1; junk", "malformed field"),
    ],
)
def test_mta_sts_record_errors(text: str, fragment: str) -> None:
    record = parse_mta_sts_record(text)
    assert not record.valid
    assert any(fragment in e for e in record.errors), record.errors


POLICY = "version: STSv1\r\nmode: enforce\r\nmx: mail.example.test\r\nmx: *.example.net\r\n" + (
    "max_age: 604800\r\n"
)


def test_mta_sts_policy() -> None:
    policy = parse_mta_sts_policy(POLICY)
    assert policy.valid, policy.errors
    assert (policy.version, policy.mode, policy.max_age) == ("STSv1", "enforce", 604800)
    assert policy.mx == ("mail.example.test", "*.example.net")
    assert parse_mta_sts_policy(POLICY.replace("\r\n", "\n")).mx == policy.mx


def test_mta_sts_policy_mode_none_needs_no_mx() -> None:
    policy = parse_mta_sts_policy("version: STSv1\nmode: none\nmax_age: 86400\n")
    assert policy.valid and policy.mx == ()


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("mode: enforce\nmx: a.example\nmax_age: 1", "version field is missing"),
        ("version: STSv2\nmode: enforce\nmx: a.example\nmax_age: 1", "not STSv1"),
        ("version: STSv1\nmode: strict\nmx: a.example\nmax_age: 1", "not enforce"),
        ("version: STSv1\nmode: enforce\nmx: a.example", "max_age field is missing"),
        ("version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 1w", "not a number"),
        ("version: STSv1\nmode: enforce\nmax_age: 1", "no mx lines"),
        ("version: STSv1\nmode: enforce\nmx: a.*.example\nmax_age: 1", "not a host name"),
        ("version: STSv1\nmode: enforce\nmx: localhost\nmax_age: 1", "not a host name"),
        ("<html>oops</html>", "is not 'key: value'"),
    ],
)
def test_mta_sts_policy_errors(text: str, fragment: str) -> None:
    policy = parse_mta_sts_policy(text)
    assert not policy.valid
    assert any(fragment in e for e in policy.errors), policy.errors


def test_mta_sts_policy_warnings() -> None:
    policy = parse_mta_sts_policy(POLICY + "mode: testing\nmax_age: 99999999\n")
    assert policy.valid and policy.mode == "enforce"
    assert any("appears again" in w for w in policy.warnings)
    policy = parse_mta_sts_policy(POLICY.replace("604800", "99999999"))
    assert any("exceeds" in w for w in policy.warnings)


@pytest.mark.parametrize(
    ("pattern", "host", "expected"),
    [
        ("mail.example.com", "mail.example.com", True),
        ("mail.example.com", "MAIL.Example.COM.", True),
        ("mail.example.com.", "mail.example.com", True),
        ("mail.example.com", "mail2.example.com", False),
        ("*.example.com", "mail.example.com", True),
        ("*.example.com", "MX1.EXAMPLE.COM", True),
        ("*.example.com", "example.com", False),
        ("*.example.com", "a.b.example.com", False),
        ("*.example.com", ".example.com", False),
        ("*.example.com", "mail.example.com.evil.test", False),
        ("*.mail.example.com", "mx.mail.example.com", True),
        ("", "mail.example.com", False),
        ("mail.example.com", "", False),
    ],
)
def test_mx_patterns(pattern: str, host: str, expected: bool) -> None:
    assert mx_matches(pattern, host) is expected


def test_uncovered_exchangers() -> None:
    patterns = ["mx1.example.test", "*.backup.example.test"]
    hosts = ["mx1.example.test", "mx2.example.test", "a.backup.example.test"]
    assert uncovered_exchangers(patterns, hosts) == ["mx2.example.test"]


@given(st.text(max_size=300))
def test_mta_sts_parsers_never_raise(text: str) -> None:
    assert isinstance(parse_mta_sts_record(text), MtaStsRecord)
    policy = parse_mta_sts_policy(text)
    assert isinstance(policy, MtaStsPolicy)
    assert policy.mode in (None, "enforce", "testing", "none")


@given(st.text(max_size=80), st.text(max_size=80))
def test_mx_matcher_never_raises(pattern: str, host: str) -> None:
    assert mx_matches(pattern, host) in (True, False)


@given(
    st.lists(
        st.sampled_from(
            [
                *("version: STSv1", "mode: ", "enforce", "mx: ", "*.", "a.example", "max_age: "),
                *("9", "\n", "\r\n", ":", " "),
            ]
        ),
        max_size=30,
    ).map("".join)
)
def test_mta_sts_policy_parser_on_policy_like_text(text: str) -> None:
    policy = parse_mta_sts_policy(text)
    for pattern in policy.mx:
        assert pattern == pattern.lower() and not pattern.endswith(".")


# --- TLS-RPT --------------------------------------------------------------------------------


def test_tlsrpt_record() -> None:
    record = parse_tlsrpt("v=TLSRPTv1; rua=mailto:tls@example.test,https://r.example.test/v1")
    assert record.valid and not record.warnings
    assert record.rua == ("mailto:tls@example.test", "https://r.example.test/v1")
    assert parse_tlsrpt("v=TLSRPTv1;rua=mailto:a@b.example;ext=1;").valid


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("v=TLSRPTv1", "rua= field is missing"),
        ("v=tlsrptv1; rua=mailto:a@b.example", "must start with"),
        ("v=TLSRPTv1; rua=ftp://x.example", "no usable"),
        ("v=TLSRPTv1; rua=mailto:a@b.example; rua=mailto:c@d.example", "more than once"),
        ("v=TLSRPTv1; junk", "malformed field"),
    ],
)
def test_tlsrpt_errors(text: str, fragment: str) -> None:
    record = parse_tlsrpt(text)
    assert not record.valid
    assert any(fragment in e for e in record.errors), record.errors


def test_tlsrpt_bad_uri_is_a_warning_when_another_is_usable() -> None:
    record = parse_tlsrpt("v=TLSRPTv1; rua=mailto:a@b.example,http://insecure.example")
    assert record.valid and record.warnings


@given(st.text(max_size=300))
def test_tlsrpt_parser_never_raises(text: str) -> None:
    assert isinstance(parse_tlsrpt(text), TlsRptRecord)
