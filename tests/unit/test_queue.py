"""Queue listings parsed, reasons classified and explained (mailprobe.checks.queue).

The samples in tests/fixtures/queue/ are hand-written (see its README.md); the real
``postqueue -j`` output is covered by tests/integration/test_cli_queue.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mailprobe.checks.queue import (
    age_text,
    classify,
    exchange_queues,
    explain_exchange_queue,
    normalize_reason,
    parse_queue,
    queue_report,
    reason_host,
)
from mailprobe.errors import UsageError

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "queue"
#: The clock of postqueue-j.jsonl (its arrival times are relative to this moment).
JSON_NOW = 1796288096.0


def sample(name: str) -> str:
    return (FIXTURES / name).read_text("utf-8")


def test_postfix_json_groups_by_domain_and_reason() -> None:
    fmt, messages = parse_queue(sample("postqueue-j.jsonl"), "q", now=JSON_NOW)
    assert fmt == "postfix-json" and len(messages) == 7
    report = queue_report(messages, "q", fmt)
    assert (report.deferred_messages, report.held_messages, report.in_flight_messages) == (6, 1, 0)
    assert report.oldest_queue_id == "C3D4E5F6A7" and report.oldest_age_seconds == 2 * 86400
    by = {(g.domain, g.reason_class): g for g in report.groups}
    refused = by["example.org", "refused"]
    # "delivery temporarily suspended: " is folded into the same reason
    assert (refused.recipients, refused.messages) == (3, 2)
    assert refused.status_code == "4.4.1" and not refused.status_code_given
    assert refused.next_commands == (
        "mailprobe ports mx.example.org",
        "mailprobe outbound --to-domain example.org",
    )
    assert by["nosuch.example.com", "dns"].next_commands == ("mailprobe mx nosuch.example.com",)
    assert by["slow.example.net", "timeout"].host == "mail.slow.example.net"
    policy = by["example.net", "policy"]
    assert policy.status_code == "4.7.1" and policy.status_code_given and policy.reply_code == "450"
    assert "mailprobe blocklist 198.51.100.7" in policy.next_commands
    assert "mailprobe relay-test mx.example.net" in policy.next_commands
    assert policy.text_matches  # the NDR table's reply texts recognise the blocklist words
    assert by["tls.example.com", "tls"].next_commands == ("mailprobe tls mx.tls.example.com",)
    assert by["example.org", "held"].next_commands == ()
    codes = [f.code for f in report.findings]
    assert codes.count("queue.deferred") == 5 and "queue.held" in codes
    assert "queue.old-message" in codes
    assert int(report.exit_code) == 1


def test_old_after_moves_the_limit() -> None:
    fmt, messages = parse_queue(sample("postqueue-j.jsonl"), "q", now=JSON_NOW)
    report = queue_report(messages, "q", fmt, old_after_hours=72)
    assert "queue.old-message" not in [f.code for f in report.findings]


def test_exim_bp() -> None:
    fmt, messages = parse_queue(sample("exim-bp.txt"), "x", now=JSON_NOW)
    assert fmt == "exim"
    assert [m.queue_id for m in messages] == [
        "1h5Ydq-0003Wk-Bs",
        "1h3Abc-0001Xy-Zz",
        "1h5Xzz-0001Aa-Cc",
        "1rXyzA-00000001aB-CdEf",
    ]
    first = messages[0]
    # carol was delivered already (D): only the others wait
    assert [r.address for r in first.recipients] == ["bob@example.org", "dave@example.net"]
    assert first.age_seconds == 25 * 60 and first.size == int(2.9 * 1024)
    assert messages[2].queue_name == "frozen" and messages[2].sender == ""
    assert messages[1].age_seconds == 3 * 86400
    report = queue_report(messages, "x", fmt)
    assert report.held_messages == 1 and report.deferred_messages == 3
    assert {g.reason_class for g in report.groups} == {"no-reason", "held"}


def test_postfix_mailq() -> None:
    fmt, messages = parse_queue(sample("postfix-mailq.txt"), "m", now=JSON_NOW)
    assert fmt == "postfix-mailq"
    assert [(m.queue_id, m.queue_name) for m in messages] == [
        ("3F1C81A2B3", "active"),
        ("4A2D91C3D4", "hold"),
        ("5B3EA1D4E5", "deferred"),
        ("6C4FB2E5F6", "deferred"),
    ]
    assert [r.reason_class for r in messages[3].recipients] == ["policy", "policy"]
    assert messages[2].recipients[0].reason_class == "dns"
    report = queue_report(messages, "m", fmt)
    assert report.in_flight_messages == 1 and report.held_messages == 1
    assert "queue.in-flight" in [f.code for f in report.findings]


def test_sendmail_mailq() -> None:
    fmt, messages = parse_queue(sample("sendmail-mailq.txt"), "s", now=JSON_NOW)
    assert fmt == "sendmail-mailq"
    reasons = [(r.address, r.reason, r.reason_class) for m in messages for r in m.recipients]
    assert reasons == [
        ("bob@example.org", "Connection refused by mx.example.org.", "refused"),
        ("carol@example.net", "Connection timed out with mail.example.net.", "timeout"),
    ]
    report = queue_report(messages, "s", fmt)
    hosts = {g.domain: g.host for g in report.groups}
    assert hosts == {"example.org": "mx.example.org", "example.net": "mail.example.net"}


@pytest.mark.parametrize(
    "text",
    ["", "\n\n", "Mail queue is empty\n", "\t\t/var/spool/mqueue is empty\n"],
)
def test_empty_queue(text: str) -> None:
    fmt, messages = parse_queue(text, "e")
    assert messages == []
    report = queue_report(messages, "e", fmt)
    assert [f.code for f in report.findings] == ["queue.empty"] and int(report.exit_code) == 0


@pytest.mark.parametrize(
    ("reason", "klass"),
    [
        ("connect to a.example[192.0.2.1]:25: Connection refused", "refused"),
        ("connect to a.example[192.0.2.1]:25: Connection timed out", "timeout"),
        (
            "Host or domain name not found. Name service error for name=x type=MX: Host not found, "
            "try again",
            "dns",
        ),
        ("connect to a.example[192.0.2.1]:25: No route to host", "unreachable"),
        (
            "lost connection with a.example[192.0.2.1] while receiving the initial server greeting",
            "lost-connection",
        ),
        ("Cannot start TLS: handshake failure", "tls"),
        ("host a.example[192.0.2.1] said: 451 4.7.1 Greylisted, try again later", "policy"),
        ("host a.example[192.0.2.1] said: 452 4.2.2 Mailbox full", "mailbox"),
        (
            "host a.example[192.0.2.1] said: 421 4.3.2 System not accepting network messages",
            "remote-temporary",
        ),
        ("mail transport unavailable", "local"),
        ("something nobody has seen", "other"),
    ],
)
def test_classify(reason: str, klass: str) -> None:
    assert classify(reason) == klass


def test_reason_helpers() -> None:
    assert normalize_reason(
        "delivery temporarily suspended: host x[1.2.3.4] said: 450 <a@b.c>"
    ) == ("host x[1.2.3.4] said: 450 <address>")
    assert reason_host("connect to MX.Example.org[192.0.2.1]:25: Connection refused") == (
        "mx.example.org"
    )
    assert reason_host("mail transport unavailable") is None
    assert age_text(0) == "0s" and age_text(90) == "1m" and age_text(90000) == "1d 1h"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("hello\n", "not a mail queue listing"),
        ('{"queue_name": "deferred"\n', "line 1: not JSON"),
        ('{"queue_id": "A"}\n[1, 2]\n', "line 2: not a postqueue -j message object"),
        ('{"recipients": 3}\n', "not a postqueue -j message object"),
        ("a\x00b", "binary data"),
        ("25m 1K 1h5Ydq-0003Wk-Bs <a@b.c>\ngarbage\n", "line 2: not exim -bp output"),
    ],
)
def test_unusable_input(text: str, problem: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse_queue(text, "input")
    assert problem in str(caught.value) and "\n" not in str(caught.value)


@given(st.text(max_size=400))
def test_any_text_parses_or_is_refused(text: str) -> None:
    try:
        fmt, messages = parse_queue(text, "fuzz", now=JSON_NOW)
    except UsageError as exc:
        assert "\n" not in str(exc)
        return
    queue_report(messages, "fuzz", fmt)


@given(
    st.lists(
        st.fixed_dictionaries(
            {
                "queue_name": st.sampled_from(["deferred", "hold", "active", "incoming", "x"]),
                "queue_id": st.text(max_size=12),
                "arrival_time": st.one_of(st.integers(-(10**12), 10**12), st.none(), st.text()),
                "message_size": st.one_of(st.integers(), st.none(), st.booleans()),
                "sender": st.text(max_size=30),
                "recipients": st.lists(
                    st.fixed_dictionaries(
                        {"address": st.text(max_size=30)},
                        optional={"delay_reason": st.text(max_size=80)},
                    ),
                    max_size=3,
                ),
            }
        ),
        max_size=5,
    )
)
def test_any_postqueue_objects(objects: list[dict[str, object]]) -> None:
    text = "\n".join(json.dumps(o) for o in objects)
    fmt, messages = parse_queue(text or "{}", "fuzz", now=JSON_NOW)
    report = queue_report(messages, "fuzz", fmt)
    assert report.messages == len(messages)


def test_exchange_queues() -> None:
    names = [q.name for q in exchange_queues()]
    assert names == [
        "Local delivery",
        "Messages awaiting directory lookup",
        "Messages waiting to be routed",
        "Remote delivery",
        "Final destination currently unreachable",
        "Pre-submission",
    ]
    found = explain_exchange_queue("messages   AWAITING directory-lookup")
    assert found.queue.key == "directory-lookup" and "global catalog" in found.queue.piles_up
    assert explain_exchange_queue("Presubmission").queue.key == "pre-submission"
    with pytest.raises(UsageError) as caught:
        explain_exchange_queue("Outbox")
    assert '"Remote delivery"' in str(caught.value)


def test_many_groups_share_one_finding_past_the_largest() -> None:
    lines = [
        json.dumps(
            {
                "queue_name": "deferred",
                "queue_id": f"ID{i}",
                "arrival_time": JSON_NOW,
                "sender": "a@example.com",
                "recipients": [
                    {
                        "address": f"u@d{i}.example",
                        "delay_reason": f"connect to mx.d{i}.example[192.0.2.1]:25: Connection "
                        "refused",
                    }
                ],
            }
        )
        for i in range(25)
    ]
    fmt, messages = parse_queue("\n".join(lines), "q", now=JSON_NOW)
    report = queue_report(messages, "q", fmt)
    assert len(report.groups) == 25
    deferred = [f for f in report.findings if f.code == "queue.deferred"]
    assert len(deferred) == 21 and deferred[-1].summary.startswith("5 more recipients")
