"""Explanations: composition from class/subject/detail, labelled meanings, merged advice."""

from __future__ import annotations

import pytest

from mailprobe.errors import UsageError
from mailprobe.ndr.explain import (
    EHLO,
    MX,
    RELAY,
    explain,
    list_entries,
    search_entries,
    with_context,
)
from mailprobe.ndr.query import explain_arguments


def test_rfc_code_has_class_subject_detail_and_rfc_meaning() -> None:
    item = explain("5.1.1")
    assert (item.code, item.kind, item.class_digit, item.subject, item.detail) == (
        "5.1.1",
        "status",
        5,
        1,
        1,
    )
    assert item.class_name == "Permanent failure"
    assert item.subject_name == "Addressing"
    assert item.detail_meaning == "Bad destination mailbox address"
    assert item.title == "Bad destination mailbox address"
    rfc = [m for m in item.meanings if m.source == "rfc3463"]
    assert rfc and rfc[0].label == "RFC 3463" and rfc[0].matched == "X.1.1"
    assert rfc[0].match == "class-independent"
    assert not item.generic
    assert item.causes and item.fixes


def test_class_changes_the_practical_meaning() -> None:
    temporary = explain("4.2.2")
    permanent = explain("5.2.2")
    assert "Mailbox full" in temporary.summary and "retries" in temporary.summary
    assert "not be retried" in permanent.summary
    assert temporary.class_name == "Persistent transient failure"


@pytest.mark.parametrize("code", ["4.2.9", "5.9.123", "2.6.77"])
def test_unknown_codes_are_composed_generically(code: str) -> None:
    item = explain(code)
    assert item.generic
    assert not item.meanings
    assert "unknown detail" in item.title
    assert item.causes and item.fixes and item.next_commands
    assert "not defined" in item.detail_meaning


def test_unknown_subject() -> None:
    item = explain("5.9.123")
    assert item.subject_name == "Unknown subject"


def test_related_class_independent_codes_take_the_query_class() -> None:
    assert "4.2.3" in explain("4.2.2").related
    assert "5.2.3" in explain("5.2.2").related
    assert all(not r.startswith("X.") for r in explain("5.7.1").related)


def test_reply_codes() -> None:
    item = explain("550")
    assert item.kind == "reply" and item.class_digit == 5 and item.subject == 5
    assert item.meanings[0].label == "SMTP (RFC 5321)"
    assert "5.1.1" in item.related
    assert explain("556").meanings[0].label == "SMTP (RFC 7504)"
    assert explain("521").meanings[0].source == "rfc7504"
    unknown = explain("559")
    assert unknown.generic and unknown.subject_name == "Mail system"


def test_iana_label_names_the_rfc() -> None:
    meaning = explain("5.7.23").meanings[0]
    assert meaning.source == "iana"
    assert meaning.label.startswith("IANA registry (RFC 7372")


@pytest.mark.parametrize(
    ("code", "command"),
    [("5.4.0", MX), ("5.7.1", RELAY), ("5.5.0", EHLO), ("5.4.4", MX), ("4.4.1", EHLO)],
)
def test_next_commands(code: str, command: str) -> None:
    assert command in explain(code).next_commands


def test_with_context_fills_placeholders_and_relay() -> None:
    item = with_context(explain("5.0.0"), "Unable to relay", "example.com", "mx.example.com")
    assert item.next_commands[0] == "mailprobe relay-test mx.example.com"
    assert all("DOMAIN" not in c and "HOST" not in c for c in item.next_commands)


def test_list_and_search() -> None:
    rows = list_entries(5, 7)
    assert rows and all(r.code.startswith(("X.7.", "5.7.")) for r in rows)
    replies = list_entries(2)
    assert any(r.code == "250" for r in replies)
    assert not any(r.code == "550" for r in replies)
    found = search_entries("MAILBOX FULL")
    assert any(r.code == "X.2.2" for r in found)
    assert search_entries("no such words anywhere xyzzy") == ()


def test_explain_arguments_tokens_and_lines() -> None:
    queries = explain_arguments(["5.1.1", "550"])
    assert [q.kind for q in queries] == ["status-code", "reply-code"]
    (line,) = explain_arguments(["550", "5.1.1", "User", "unknown", "<bob@example.com>"])
    assert line.kind == "reply-line" and line.reply_code == "550" and line.status_code == "5.1.1"
    assert [e.code for e in line.explanations] == ["5.1.1", "550"]
    assert any("example.com" in c for c in line.explanations[0].next_commands)


@pytest.mark.parametrize(
    "arguments", [[""], [], ["  "], ["hello world"], ["5.1.1", "6.1.1"], ["x" * 30000 + " y"]]
)
def test_explain_arguments_errors(arguments: list[str]) -> None:
    with pytest.raises(UsageError):
        explain_arguments(arguments)
