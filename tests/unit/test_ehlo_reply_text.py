"""Replies keep the server's exact text, cut at a bound; parsing still works on it."""

from __future__ import annotations

from mailprobe.checks.ehlo import parse_ehlo_reply
from mailprobe.smtp.session import Reply
from mailprobe.text import CUT_MARK, MAX_REPLY_LINE, peer_line


def test_reply_keeps_spaces_and_controls() -> None:
    reply = Reply.from_message(220, "mx.test  ESMTP\t\x1b[2J  two  spaces")
    assert reply.lines == ("mx.test  ESMTP\t\x1b[2J  two  spaces",)
    assert reply.text == "mx.test  ESMTP\t\x1b[2J  two  spaces"


def test_enhanced_code_is_found_in_exact_text() -> None:
    assert Reply.from_message(550, "5.7.1  relay  denied").enhanced_code == "5.7.1"
    assert Reply.from_message(550, "5.7.1\trelay denied").enhanced_code == "5.7.1"
    assert Reply.from_message(550, "5.7.1x relay denied").enhanced_code is None


def test_overlong_line_is_cut_and_marked() -> None:
    assert peer_line("a  b") == "a  b"
    long = "x" * (MAX_REPLY_LINE + 50)
    (line,) = Reply.from_message(250, long).lines
    assert len(line) == MAX_REPLY_LINE
    assert line.endswith(CUT_MARK)
    assert line.startswith("x" * (MAX_REPLY_LINE - len(CUT_MARK)))
    exact = "y" * MAX_REPLY_LINE
    assert Reply.from_message(250, exact).lines == (exact,)


def test_ehlo_keywords_parse_from_exact_text() -> None:
    lines = ["mx.test  Hello", "SIZE\t1000", "AUTH  PLAIN   LOGIN", "8BITMIME"]
    advertised = parse_ehlo_reply(lines)
    assert advertised.keywords == ("SIZE", "AUTH", "8BITMIME")
    assert advertised.size_limit == 1000
    assert advertised.auth_mechanisms == ("PLAIN", "LOGIN")
