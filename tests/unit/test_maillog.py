"""Parsers and counters of `mailprobe log` (mailprobe.maillog), without files or servers."""

from __future__ import annotations

import io

from hypothesis import given
from hypothesis import strategies as st

from mailprobe.maillog.parse import UNKNOWN, Event, Parser, parse_exim, parse_postfix
from mailprobe.maillog.reader import LINE_LIMIT, LineReader
from mailprobe.maillog.report import OTHER, Summary, Tally, masked


def test_postfix_reject_line() -> None:
    event = parse_postfix(
        "Dec  3 08:50:17 mail postfix/smtpd[123]: NOQUEUE: reject: RCPT from unknown"
        "[203.0.113.9]: 554 5.7.1 <x@other.test>: Relay access denied; from=<a@b.test> "
        "to=<x@other.test> proto=ESMTP helo=<spam>"
    )
    assert isinstance(event, Event)
    assert (event.status, event.host, event.address) == ("rejected", "unknown", "203.0.113.9")
    assert (event.reply_code, event.status_code) == ("554", "5.7.1")
    assert (event.sender, event.recipient) == ("a@b.test", "x@other.test")


def test_postfix_rfc3339_time_and_multi_instance_name() -> None:
    event = parse_postfix(
        "2026-12-03T08:50:19.123456+00:00 mail postfix-out/smtp[124]: 4ABC: to=<b@r.test>, "
        "relay=mx.r.test[192.0.2.1]:25, delay=1, delays=0/0/1/0, dsn=4.7.0, status=deferred "
        "(host mx.r.test[192.0.2.1] said: 450 4.7.0 Greylisted (in reply to RCPT TO command))"
    )
    assert isinstance(event, Event)
    assert event.time == "2026-12-03T08:50:19.123456+00:00" and event.agent == "postfix-out/smtp"
    assert (event.status, event.reply_code, event.status_code) == ("deferred", "450", "4.7.0")
    assert (event.host, event.address) == ("mx.r.test", "192.0.2.1")


def test_postfix_lines_without_events() -> None:
    assert parse_postfix("Dec  3 08:50:17 mail postfix/qmgr[1]: 4ABC: removed") is None
    assert parse_postfix("Dec  3 08:50:17 mail dovecot[1]: imap-login: x") is UNKNOWN


def test_exim_lines() -> None:
    bounce = parse_exim(
        "2026-12-03 08:50:17 1tIabc-000123-AB ** bob@x.test R=dnslookup T=remote_smtp "
        "H=mx.x.test [192.0.2.5]: SMTP error from remote mail server after RCPT TO:<bob@x.test>: "
        "550 5.1.1 User unknown"
    )
    assert isinstance(bounce, Event)
    assert (bounce.status, bounce.recipient, bounce.address) == (
        "bounced",
        "bob@x.test",
        "192.0.2.5",
    )
    assert (bounce.reply_code, bounce.status_code) == ("550", "5.1.1")
    defer = parse_exim(
        "2026-12-03 08:50:18 [4242] 1tIabd-0000000123-AB == c@y.test R=dnslookup T=remote_smtp "
        "defer (111): Connection refused"
    )
    assert isinstance(defer, Event) and defer.status == "deferred"
    assert parse_exim("2026-12-03 08:50:19 1tIabe-000123-AB Completed") is None
    assert parse_exim("not exim") is UNKNOWN


def test_the_format_is_read_from_the_content() -> None:
    parser = Parser()
    assert parser.parse("random words") is UNKNOWN and parser.format is None
    parser.parse("2026-12-03 08:50:19 1tIabe-000123-AB Completed")
    assert parser.format == "exim"
    w3c = Parser()
    assert w3c.parse("#Fields: date time c-ip cs-method cs-uri-query sc-status") is None
    assert w3c.format == "w3c"


def test_a_tally_stays_bounded() -> None:
    tally = Tally(limit=3)
    for i in range(100):
        tally.add(f"d{i}", 0)
    assert len(tally.rows) == 4 and tally.rows[OTHER][0] == 97
    assert [name for name, _ in tally.top(2)] == ["d0", "d1", OTHER]


def test_masked_reasons_group_addresses() -> None:
    a = masked("connect to mx.a.test[192.0.2.1]:25: Connection refused")
    b = masked("connect to mx.a.test[192.0.2.2]:25: Connection refused")
    assert a == b and masked("<a@b>: unknown") == masked("<c@d>: unknown")


def test_summary_counts_and_findings() -> None:
    summary = Summary()
    summary.add(Event("bounced", "t", recipient="a@x.test", status_code="5.1.1", reason="r"))
    summary.add(Event("sent", "t", recipient="b@x.test", host="mx.x.test"))
    summary.lines = summary.events
    report = summary.report("f", "postfix", 10, followed=False, seconds=0)
    assert report.counts.bounced == 1 and report.counts.sent == 1
    assert report.codes[0].title == "Bad destination mailbox address"
    assert int(report.exit_code) == 1 and report.findings[0].code == "log.bounced"


def _lines(data: bytes) -> tuple[list[str], LineReader]:
    reader = LineReader("-", io.BytesIO(data))
    return [line for batch in reader.batches() for line in batch], reader


def test_reader_truncates_long_lines_and_keeps_going() -> None:
    lines, reader = _lines(b"a\r\n" + b"x" * (3 * LINE_LIMIT) + b"\nb\nc")
    assert lines[0] == "a" and len(lines[1]) == LINE_LIMIT and lines[2:] == ["b", "c"]
    assert reader.lines == 4 and reader.long_lines == 1


@given(
    st.lists(
        st.text(
            alphabet=st.characters(blacklist_characters="\n\r\0", blacklist_categories=("Cs",)),
            max_size=30,
        )
    )
)
def test_reader_gives_back_every_line(texts: list[str]) -> None:
    data = "".join(f"{t}\n" for t in texts).encode()
    lines, reader = _lines(data)
    assert lines == texts and reader.lines == len(texts)


def test_postfix_expired_line() -> None:
    event = parse_postfix(
        "Dec  3 08:50:17 mail postfix/qmgr[1]: 4ABC: from=<a@b.test>, status=expired, "
        "returned to sender"
    )
    assert isinstance(event, Event)
    assert (event.status, event.queue_id, event.sender) == ("expired", "4ABC", "a@b.test")
