"""Helpers of the ehlo check: HELO names, the test message, redaction, reply classification."""

from __future__ import annotations

import email
import socket

import pytest

from mailprobe.checks.ehlo import (
    FALLBACK_HELO,
    AuthResult,
    CommandResult,
    build_test_message,
    classify_reply,
    default_helo_name,
    is_helo_name,
    redact_value,
)
from mailprobe.smtp.redact import Redactor
from mailprobe.smtp.session import Reply


def test_default_helo_name(monkeypatch: pytest.MonkeyPatch) -> None:
    assert default_helo_name("probe.example.org") == "probe.example.org"
    monkeypatch.setattr(socket, "gethostname", lambda: "host.example.org")
    assert default_helo_name(None) == "host.example.org"
    for bad in ("localhost", "localhost.localdomain", "justahost", ""):
        monkeypatch.setattr(socket, "gethostname", lambda bad=bad: bad)
        assert default_helo_name(None) == FALLBACK_HELO


def test_is_helo_name() -> None:
    assert is_helo_name("mail.example.org")
    assert is_helo_name("[192.0.2.1]")
    assert is_helo_name("[IPv6:2001:db8::1]")
    assert not is_helo_name("two words")
    assert not is_helo_name("bad\r\nname")
    assert not is_helo_name("")


def test_test_message_headers() -> None:
    raw, message_id = build_test_message(
        "a@example.org", ["b@example.net", "c@example.net"], "Hi", "Body line", "probe.example.org"
    )
    assert b"\r\n" in raw and b"\n" not in raw.replace(b"\r\n", b"")
    parsed = email.message_from_bytes(raw)
    assert parsed["From"] == "a@example.org"
    assert parsed["To"] == "b@example.net, c@example.net"
    assert parsed["Subject"] == "Hi"
    assert parsed["Date"]
    assert parsed["Message-ID"] == message_id
    assert message_id.endswith("@probe.example.org>")
    assert "Body line" in parsed.get_payload()


def test_redact_value_walks_dataclasses() -> None:
    redactor = Redactor(["hunter22"])
    result = CommandResult("AUTH PLAIN", 535, "5.7.8", "bad hunter22", "rejected", None)
    auth = AuthResult("bob", "PLAIN", ("PLAIN",), False, True, False, result)
    cleaned = redact_value(auth, redactor)
    assert cleaned.reply is not None
    assert cleaned.reply.text == "bad ********"
    assert cleaned.offered == ("PLAIN",)


def test_classify_reply() -> None:
    rejected = classify_reply("RCPT TO:<x@y>", Reply.from_message(550, "5.1.1 <x@y>: User unknown"))
    assert rejected.outcome == "rejected"
    assert rejected.enhanced_code == "5.1.1"
    assert rejected.explanation  # from the NDR table
    accepted = classify_reply("MAIL FROM:<>", Reply.from_message(250, "2.1.0 Ok"))
    assert accepted.outcome == "accepted" and accepted.explanation is None
    deferred = classify_reply("RCPT TO:<x@y>", Reply.from_message(451, "try later"))
    assert deferred.outcome == "deferred"
