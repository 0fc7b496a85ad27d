"""Finding codes in reply lines of every common shape."""

from __future__ import annotations

import pytest

from mailprobe.ndr.reply import clean, parse_reply


@pytest.mark.parametrize(
    ("line", "reply", "statuses"),
    [
        ("550 5.1.1 <bob@example.com>: Recipient address rejected", "550", ["5.1.1"]),
        (
            "550-5.1.1 The email account that you tried to reach does not exist.\n"
            "550-5.1.1 Please try double-checking.\n550 5.1.1 https://support.example/x - gsmtp",
            "550",
            ["5.1.1"],
        ),
        ("#550 5.1.1 RESOLVER.ADR.RecipNotFound; not found ##", "550", ["5.1.1"]),
        (
            "#<exchange.contoso.com #5.7.1 smtp;530 5.7.1 Client was not authenticated> #SMTP#",
            "530",
            ["5.7.1"],
        ),
        (
            "host mx.example.com[192.0.2.25] said: 552 5.2.2 <c@example.net>: Mailbox full",
            "552",
            ["5.2.2"],
        ),
        ("Remote Server returned '550 5.7.1 Unable to relay'", "550", ["5.7.1"]),
        ("smtp; 421 4.4.1 Connection timed out", "421", ["4.4.1"]),
        ("554 Transaction failed", "554", []),
        ("5.4.8", None, ["5.4.8"]),
        ("Status: 4.4.7 (delayed)", None, ["4.4.7"]),
        ("Connected to 192.0.2.250 port 25 at 10:25", None, []),
    ],
)
def test_parse_reply(line: str, reply: str | None, statuses: list[str]) -> None:
    found = parse_reply(line)
    assert found.reply_code == reply
    assert [str(c) for c in found.status_codes] == statuses
    assert found.found is bool(reply or statuses)
    assert "\n" not in found.text


def test_clean_makes_peer_text_safe() -> None:
    text = clean("550\x1b[31m evil\r\n  text" + "x" * 1000, limit=50)
    assert "\x1b" not in text and "\n" not in text and len(text) == 50
    assert text.endswith("…")
