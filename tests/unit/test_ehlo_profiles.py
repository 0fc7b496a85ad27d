"""Verb profiles, comparison and the guide's diagnoses (pure functions)."""

from __future__ import annotations

import pytest

from mailprobe.checks.ehlo import (
    compare_verbs,
    diagnose_verbs,
    get_profile,
    load_profiles,
    parse_ehlo_reply,
    profile_from_verbs,
)
from mailprobe.errors import UsageError
from mailprobe.model import Severity
from tests.unit.test_ehlo_parse import EXAMPLE_1

# The guide's Example 2: Windows SMTP without the Exchange event sinks.
EXAMPLE_2 = [line for line in EXAMPLE_1 if not line.startswith("X")]


def test_builtin_profiles() -> None:
    profiles = load_profiles()
    for name in (
        "exchange2000",
        "exchange2003",
        "exchange2007",
        "exchange2010",
        "exchange2013",
        "exchange2016",
        "exchange2019",
        "postfix",
        "rfc5321",
    ):
        assert name in profiles
        assert profiles[name].title
    modern = profiles["exchange2019"]
    assert set(modern.required_keywords) >= {"X-ANONYMOUSTLS", "XEXCH50", "XRDST", "XSHADOW"}
    assert "STARTTLS" in modern.required_keywords
    assert profiles["exchange2000"].sinks == ("X-EXPS", "X-LINK2STATE", "XEXCH50")
    assert profiles["rfc5321"].required == ()


def test_get_profile_is_case_insensitive_and_names_the_known_ones() -> None:
    assert get_profile("Exchange2000").name == "exchange2000"
    with pytest.raises(UsageError, match="exchange2000"):
        get_profile("exchange1999")


def test_example_1_matches_exchange2000() -> None:
    profile = get_profile("exchange2000")
    comparison = compare_verbs(parse_ehlo_reply(EXAMPLE_1).keywords, profile)
    assert comparison.complete and comparison.missing == () and comparison.unexpected == ()
    findings = diagnose_verbs(comparison, profile)
    assert [f.code for f in findings] == ["ehlo.verbs-match"]
    assert findings[0].severity is Severity.OK


def test_example_2_is_the_sinks_case() -> None:
    profile = get_profile("exchange2000")
    comparison = compare_verbs(parse_ehlo_reply(EXAMPLE_2).keywords, profile)
    assert set(comparison.missing) == {"X-EXPS", "X-LINK2STATE", "XEXCH50"}
    findings = {f.code: f for f in diagnose_verbs(comparison, profile, "mx:25")}
    sinks = findings["ehlo.exchange-sinks-missing"]
    assert sinks.severity is Severity.FAIL
    assert sinks.subject == "mx:25"
    assert "smtpreinstall.exe" in sinks.fix.lower()
    assert "reinstall Exchange" in sinks.fix
    assert "ehlo.missing-verbs" not in findings  # nothing else is missing


def test_partial_list_is_named_as_such() -> None:
    profile = get_profile("exchange2003")
    lines = [line for line in EXAMPLE_1 if line != "XEXCH50"]
    comparison = compare_verbs(parse_ehlo_reply(lines).keywords, profile)
    findings = {f.code: f for f in diagnose_verbs(comparison, profile)}
    assert "ehlo.exchange-sinks-missing" not in findings
    missing = findings["ehlo.missing-verbs"]
    assert missing.severity is Severity.WARN
    assert "incomplete verb list" in missing.summary and "XEXCH50" in missing.summary
    assert "metabase" in missing.fix


def test_no_extensions_at_all() -> None:
    profile = get_profile("postfix")
    comparison = compare_verbs([], profile)
    findings = {f.code: f for f in diagnose_verbs(comparison, profile)}
    assert "no extension advertised" in findings["ehlo.missing-verbs"].summary


def test_expect_verbs() -> None:
    profile = profile_from_verbs(" pipelining, SIZE 1000 ,auth=login,, ")
    assert profile.required_keywords == ("PIPELINING", "SIZE", "AUTH")
    comparison = compare_verbs(["PIPELINING", "SIZE", "VRFY"], profile)
    assert comparison.missing == ("AUTH",)
    assert comparison.unexpected == ("VRFY",)
    findings = {f.code: f for f in diagnose_verbs(comparison, profile)}
    assert findings["ehlo.unexpected-verbs"].severity is Severity.WARN
    with pytest.raises(UsageError):
        profile_from_verbs(" , ")


def test_rfc5321_flags_private_extensions_as_information() -> None:
    profile = get_profile("rfc5321")
    comparison = compare_verbs(["PIPELINING", "XCLIENT", "X-ANONYMOUSTLS"], profile)
    assert comparison.missing == ()
    assert comparison.unexpected == ("XCLIENT", "X-ANONYMOUSTLS")
    findings = {f.code: f for f in diagnose_verbs(comparison, profile)}
    assert findings["ehlo.unexpected-verbs"].severity is Severity.INFO
