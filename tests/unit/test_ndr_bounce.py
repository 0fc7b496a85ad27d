"""Bounce parsing on realistic fixtures (tests/fixtures/bounces) and bad input."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from mailprobe.errors import UsageError
from mailprobe.ndr.bounce import MAX_BYTES, check_text, parse_bounce, read_file, read_stream
from mailprobe.ndr.model import BounceReport, RecipientStatus

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "bounces"


def _parse(name: str) -> BounceReport:
    return parse_bounce((FIXTURES / name).read_bytes(), name)


def _by_recipient(report: BounceReport) -> dict[str, RecipientStatus]:
    return {r.recipient: r for r in report.recipients}


def test_postfix_multi_recipient() -> None:
    report = _parse("postfix_multi.eml")
    assert report.formats == ("rfc3464", "postfix")
    assert report.reporting_mta == "mail.example.org"
    assert report.subject == "Undelivered Mail Returned to Sender"
    bob, carol = report.recipients
    assert (bob.recipient, bob.action, bob.status, bob.reply_code) == (
        "bob@example.com",
        "failed",
        "5.1.1",
        "550",
    )
    assert bob.remote_mta == "mx1.example.com"
    assert bob.original_recipient == "bob@example.com"
    assert "User unknown in virtual mailbox table" in (bob.diagnostic or "")
    assert carol.codes == ("5.2.2", "552")
    assert [e.code for e in report.explanations] == ["5.1.1", "550", "5.2.2", "552"]
    # The original message's headers (Subject "... 4.2.1") are not read as a report.
    assert "4.2.1" not in {c for r in report.recipients for c in r.codes}


def test_dsn_with_delayed_and_failed_recipients() -> None:
    report = _parse("dsn_delayed_failed.eml")
    recipients = _by_recipient(report)
    erin = recipients["erin@example.com"]
    frank = recipients["frank@slow.example.net"]
    assert (erin.action, erin.status, erin.codes) == ("failed", "5.1.1", ("5.1.1", "550"))
    assert (frank.action, frank.status, frank.codes) == ("delayed", "4.4.1", ("4.4.1", "421"))
    delayed = next(e for e in report.explanations if e.code == "4.4.1")
    assert delayed.class_digit == 4 and "retries" in delayed.summary
    assert any("slow.example.net" in c for c in delayed.next_commands)


def test_exchange_online_ndr() -> None:
    report = _parse("exchange_online.eml")
    assert "exchange" in report.formats
    recipients = _by_recipient(report)
    assert recipients["bob@fabrikam.com"].status == "5.1.10"
    assert recipients["dave@example.net"].codes == ("5.7.1", "550")
    relay = next(e for e in report.explanations if e.code == "5.7.1")
    assert relay.next_commands[0] == "mailprobe relay-test mx.example.net"
    # "Subject: Project plan 5.5.5" in the original headers is not a status.
    assert "5.5.5" not in [e.code for e in report.explanations]


def test_gmail_bounce() -> None:
    report = _parse("gmail.eml")
    assert report.formats == ("rfc3464", "gmail")
    (nobody,) = report.recipients
    assert nobody.recipient == "nobody@example.com"
    assert nobody.codes == ("5.1.1", "550")
    assert nobody.remote_mta == "mx.example.com"
    # The attached original says "550 5.7.1" in its body: it must not be reported.
    assert "5.7.1" not in [e.code for e in report.explanations]


def test_exchange_2003_text() -> None:
    report = _parse("exchange2003.txt")
    (gina,) = report.recipients
    assert gina.recipient == "gina@example.com"
    assert gina.codes == ("5.7.1", "530")
    assert gina.found_in == "exchange-text"


def test_postfix_text_only() -> None:
    report = _parse("postfix_text_only.txt")
    assert report.formats == ("postfix",)
    (henry,) = report.recipients
    assert henry.codes == ("5.7.1", "554")
    assert henry.found_in == "postfix-text"
    assert any("ivan@example.org" in note for note in report.notes)


def test_gmail_text_only_multiline_reply() -> None:
    report = _parse("gmail_text_only.txt")
    (judy,) = report.recipients
    assert judy.recipient == "judy@example.com"
    assert judy.codes == ("5.7.26", "550")
    assert "Gmail requires all senders" in (judy.diagnostic or "")  # multi-line reply joined


def test_latin1_mail_message_is_read() -> None:
    report = _parse("latin1.eml")
    assert report.subject == "Unzustellbar: Grüße"
    (karl,) = report.recipients
    assert karl.codes == ("5.1.1", "550")


def test_no_code_gives_empty_report_with_note() -> None:
    report = _parse("no_code.eml")
    assert report.recipients == ()
    assert report.explanations == ()
    assert report.notes


def test_pasted_dsn_fields_without_mime() -> None:
    text = (
        b"Reporting-MTA: dns; mx.example.org\n\n"
        b"Final-Recipient: rfc822; lee@example.com\nAction: failed\nStatus: 5.1.1\n"
        b"Diagnostic-Code: smtp; 550 5.1.1 no such user\n\n"
        b"Final-Recipient: rfc822; mo@example.com\nAction: delayed\nStatus: 4.x.1\n"
    )
    report = parse_bounce(text, "pasted")
    recipients = _by_recipient(report)
    assert recipients["lee@example.com"].codes == ("5.1.1", "550")
    assert "mo@example.com" not in recipients  # its Status is malformed and it has no other code
    assert any("not a valid code" in note for note in report.notes)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"  \n\n", "empty"),
        (b"abc\x00def", "binary"),
        (bytes(range(1, 32)) * 100, "binary"),
        (b"\xff\xfe caf\xe9 not mail", "not UTF-8"),
    ],
)
def test_bad_input(data: bytes, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        check_text(data, "input")
    with pytest.raises(UsageError, match=message):
        parse_bounce(data, "input")


def test_read_stream_is_bounded() -> None:
    stream = io.BytesIO(b"a" * (MAX_BYTES + 10))
    with pytest.raises(UsageError, match="larger than 5 MB"):
        read_stream(stream)
    assert stream.tell() == MAX_BYTES + 1  # stopped reading
    assert read_stream(io.BytesIO(b"ok")) == b"ok"


def test_read_file_errors(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no such file"):
        read_file(tmp_path / "missing.eml")
    with pytest.raises(UsageError, match="is a directory"):
        read_file(tmp_path)
    (tmp_path / "b.eml").write_bytes(b"x")
    assert read_file(tmp_path / "b.eml") == b"x"


_ADVERSARIAL = r"""
import sys
from mailprobe.errors import UsageError
from mailprobe.ndr.bounce import parse_bounce
from mailprobe.ndr.query import explain_arguments

M = 1024 * 1024
cases = [
    b"550 5.1.1 " + b"a" * M,
    b"550 5.1.1 x\n" + b"\n" * M,
    b"550 5.1.1 x\n" + b" \n" * (M // 2),
    b"Final-Recipient: rfc822; a@b.example\nStatus: 5.1.1\n" + b" x\n" * (M // 3),
    b"Content-Type: text/html\n\n" + b"<" * M,
    b"550 5.1.1 " + b"a@" * (M // 2),
    b"<a@b.example>: said: 550 5.1.1\n" * (M // 33),
    b"550 5.1.1 " * (M // 10),
]
for data in cases:
    try:
        parse_bounce(data, "adversarial")
    except UsageError:
        pass
explain_arguments(["550 5.1.1 " + "a" * 19000])
explain_arguments(["550 5.1.1 " + "\n" * 19000])
print("done")
"""


def test_adversarial_input_finishes() -> None:
    """Long lines, many blank lines, unclosed tags: no quadratic regex (bounded wait)."""
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", _ADVERSARIAL],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "done"


def test_deeply_nested_mime_is_refused() -> None:
    body = b"".join(
        b"--b%d\nContent-Type: multipart/mixed; boundary=b%d\n\n" % (i, i + 1) for i in range(3000)
    )
    data = b"Content-Type: multipart/mixed; boundary=b0\n\n" + body + b"--b3000\n\n550 5.1.1 x\n"
    with pytest.raises(UsageError, match="nested too deeply"):
        parse_bounce(data, "nested")


def test_text_code_without_address_goes_to_the_only_recipient() -> None:
    data = (
        b"Content-Type: multipart/report; boundary=x\n\n--x\nContent-Type: text/plain\n\n"
        b"The response was:\n550 5.1.1 no such user here\n"
        b"--x\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; m.example\n\n"
        b"Final-Recipient: rfc822; olga@example.com\nAction: failed\nStatus: 5.0.0\n--x--\n"
    )
    report = parse_bounce(data, "one")
    (olga,) = report.recipients
    assert olga.codes == ("5.0.0", "5.1.1", "550")


def test_recipient_texts_are_recognised() -> None:
    report = _parse("postfix_greylisted.eml")
    recipients = _by_recipient(report)
    ivan, olga = recipients["ivan@example.com"], recipients["olga@example.net"]
    assert (ivan.action, ivan.codes) == ("delayed", ("4.2.0", "450"))
    assert [m.key for m in ivan.text_matches] == ["greylisting"]
    assert ivan.text_matches[0].matched == "Greylisted"
    assert [m.key for m in olga.text_matches] == ["mailbox-full"]
    # The codes are still explained, each once.
    assert [e.code for e in report.explanations] == ["4.2.0", "450", "4.2.2", "452"]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("postfix_multi.eml", {"bob@example.com": ["user-unknown"],
                               "carol@example.net": ["mailbox-full"]}),
        ("exchange_online.eml", {"bob@fabrikam.com": ["user-unknown"],
                                 "dave@example.net": ["relay-denied"]}),
        ("gmail_text_only.txt", {"judy@example.com": ["google-unauthenticated"]}),
        ("exchange2003.txt", {"gina@example.com": ["auth-required"]}),
        ("latin1.eml", {"karl@example.com": []}),
    ],
)  # fmt: skip
def test_texts_of_fixture_bounces(name: str, expected: dict[str, list[str]]) -> None:
    found = {r.recipient: [m.key for m in r.text_matches] for r in _parse(name).recipients}
    assert found == expected
