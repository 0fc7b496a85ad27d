"""The reply-text table (data/reply_texts.toml): each entry on real server texts, the loader's
checks, and a matcher that never raises and stays fast on hostile text."""

from __future__ import annotations

import time
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mailprobe.ndr.codes import find_status_codes
from mailprobe.ndr.model import TextMatch
from mailprobe.ndr.reply import parse_reply
from mailprobe.ndr.table import TableError
from mailprobe.ndr.texts import TextRule, load_rules, match_texts, parse_rules

# Real reply texts (as servers send them) each entry must recognise, and texts it must not.
# The codes of each text are read from it, as `mailprobe ndr` does.
CASES: dict[str, tuple[list[str], list[str]]] = {
    "greylisting": (
        [
            "451 4.7.1 Greylisted: please try again in 5 minutes",
            "450 4.2.0 <bob@example.com>: Recipient address rejected: Greylisted, see "
            "http://postgrey.schweikert.ch/help/example.com.html",
            "451 4.7.1 Greylisting in action, please come back later",
            "451 4.7.1 <bob@example.com>: Recipient address rejected: graylisted for 300 seconds",
        ],
        [
            "451 4.7.1 Please try again later",
            "550 5.7.1 Greylisted",  # permanent: not the greylisting that fixes itself
            "550 5.1.1 <bob@example.com>: Recipient address rejected: User unknown",
        ],
    ),
    "try-again-later": (
        [
            "451 4.7.1 Please try again later",
            "451 Temporary failure, please try again later.",
            "450 4.2.0 <bob@example.com>: Recipient address rejected: try later",
        ],
        [
            "421 4.7.0 Try again later, closing connection. (EHLO) mx.google.com - gsmtp",
            "451 4.7.500 Server busy. Please try again later from [192.0.2.1]. (AS800)",
            "550 5.7.1 Please try again later",
        ],
    ),
    "google-rate-limited": (
        [
            "421-4.7.28 [192.0.2.1 15] Our system has detected an unusual rate of unsolicited "
            "mail originating from your IP address. To protect our users from spam, mail sent "
            "from your IP address has been temporarily rate limited.",
            "421-4.7.0 [192.0.2.1 15] Our system has detected an unusual rate of unsolicited "
            "mail originating from your IP address.",
        ],
        [
            "421 4.7.0 mail.example.com Error: too many connections from 192.0.2.1",
            "550-5.7.1 [192.0.2.1] Our system has detected that this message is likely "
            "unsolicited mail.",
        ],
    ),
    "rate-limited": (
        [
            "421 4.7.0 mail.example.com Error: too many connections from 192.0.2.1",
            "421 Too many concurrent SMTP connections from this IP address; please try again "
            "later.",
            "450-4.2.1 The user you are trying to contact is receiving mail at a rate that "
            "prevents additional messages from being delivered.",
            "451 4.7.1 Rate limit exceeded for 192.0.2.1",
            "421 4.3.2 Connection throttled",
        ],
        [
            "452 4.5.3 Too many recipients",
            "550 5.1.1 <bob@example.com>: Recipient address rejected: User unknown",
        ],
    ),
    "sending-quota": (
        [
            "550 5.4.5 Daily user sending quota exceeded.",
            "550 5.2.2 Submission quota exceeded",
            "550 5.1.90 Your message can't be sent because you've reached your daily limit "
            "for message recipients",
        ],
        [
            "552 5.2.2 <carol@example.net>: Mailbox full, quota exceeded",
            "421 4.7.0 Too many connections",
        ],
    ),
    "user-unknown": (
        [
            "550 5.1.1 <bob@example.com>: Recipient address rejected: User unknown in virtual "
            "mailbox table",
            "550 5.1.1 <erin@example.com>... User unknown",
            "550 5.1.1 No such user here",
            "550-5.1.1 The email account that you tried to reach does not exist. Please try "
            "double-checking the recipient's email address for typos or unnecessary spaces.",
            "#550 5.1.1 RESOLVER.ADR.RecipNotFound; not found ##",
            "550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient bob@fabrikam.com not found "
            "by SMTP address lookup",
            "550 Unrouteable address",
            "550 5.1.1 Sorry, no mailbox here by that name.",
        ],
        [
            "554 5.7.1 <henry@example.com>: Relay access denied",
            "552 5.2.2 Mailbox full",
            "550 5.4.310 DNS domain example.com does not exist",
        ],
    ),
    "mailbox-unavailable": (
        [
            "550 5.5.0 Requested action not taken: mailbox unavailable",
            "550 Requested action not taken: mailbox unavailable",
        ],
        [
            "450 4.2.0 Requested mail action not taken: mailbox unavailable",
            "550 5.7.1 Requested action not taken: mailbox unavailable (blocked)",
            "550 5.1.1 User unknown",
        ],
    ),
    "mailbox-disabled": (
        [
            "550-5.2.1 The email account that you tried to reach is disabled.",
            "550 5.2.1 Mailbox disabled, not accepting messages",
            "550 5.2.1 <bob@example.com>: user account is inactive",
        ],
        [
            "550 5.1.1 User unknown",
            "552 5.2.2 Mailbox full",
        ],
    ),
    "mailbox-full": (
        [
            "552 5.2.2 <carol@example.net>: Mailbox full, quota exceeded",
            "452-4.2.2 The email account that you tried to reach is over quota.",
            "552 5.2.2 Quota exceeded (mailbox for user is full)",
            "554 5.2.2 Mailbox size limit exceeded",
            "452 4.2.2 <bob@example.com>: user has exceeded their storage quota",
            "452 4.2.2 Mailbox is full",
        ],
        [
            "552 5.3.4 Message size exceeds fixed limit",
            "452 4.3.1 Insufficient system storage",
            "550 5.1.1 User unknown",
        ],
    ),
    "message-too-large": (
        [
            "552 5.3.4 Message size exceeds fixed limit",
            "552-5.3.4 Your message exceeded Google's message size limits.",
            "550 5.3.4 ROUTING.SizeLimit; message size exceeds fixed maximum size for route",
            "552 Message size exceeds maximum permitted",
            "554 5.3.4 Message too big for system",
        ],
        [
            "554 5.2.2 Mailbox size limit exceeded",
            "452 4.5.3 Too many recipients",
        ],
    ),
    "google-unauthenticated": (
        [
            "550-5.7.26 This mail has been blocked because the sender is unauthenticated. "
            "Gmail requires all senders to authenticate with either SPF or DKIM.",
            "550-5.7.26 Unauthenticated email from example.com is not accepted due to "
            "domain's DMARC policy. Please contact the administrator of example.com domain.",
        ],
        [
            "550 5.7.23 The message was rejected because of Sender Policy Framework violation",
            "530 5.7.1 Client was not authenticated",
        ],
    ),
    "sender-authentication": (
        [
            "550 5.7.23 The message was rejected because of Sender Policy Framework violation",
            "550 5.7.23 <bob@example.com>: Recipient address rejected: Message rejected due "
            "to: SPF fail - not authorized.",
            "550 5.7.509 Access denied, sending domain example.com does not pass DMARC "
            "verification and has a DMARC policy of reject.",
            "550 5.7.20 DKIM signature verification failed",
        ],
        [
            "550 5.1.1 <spfield@example.com>: User unknown",
            "554 5.7.1 <henry@example.com>: Relay access denied",
        ],
    ),
    "microsoft-banned-ip": (
        [
            "550 5.7.606 Access denied, banned sending IP [192.0.2.1]. To request removal "
            "from this list please visit https://sender.office.com/ and follow the directions.",
            "550 5.7.649 Access denied, banned sending IP [192.0.2.1]",
        ],
        [
            "550 5.7.511 Access denied, banned sender[192.0.2.1]",
            "550 5.1.1 User unknown",
        ],
    ),
    "outlook-blocklist": (
        [
            "550 5.7.1 Unfortunately, messages from [192.0.2.1] weren't sent. Please contact "
            "your Internet service provider since part of their network is on our block list "
            "(S3150). You can also refer your provider to "
            "http://mail.live.com/mail/troubleshooting.aspx#errors.",
            "550 5.7.1 Unfortunately, messages from [192.0.2.1] weren't sent. (S3140)",
        ],
        [
            "550 5.7.1 Service unavailable (AS3150)",
            "550 5.1.1 User unknown",
        ],
    ),
    "blocklisted": (
        [
            "554 5.7.1 Service unavailable; Client host [192.0.2.1] blocked using "
            "zen.spamhaus.org; https://www.spamhaus.org/query/ip/192.0.2.1",
            "550 5.7.1 Your IP 192.0.2.1 is listed at bl.spamcop.net",
            "554 5.7.1 Rejected: 192.0.2.1 found in RBL",
            "550 Rejected because 192.0.2.1 is in a black list at b.barracudacentral.org",
            "550 5.7.1 Service unavailable, Client host [192.0.2.1] blocked using Customer "
            "Block list (AS16012607)",
            "554 5.7.1 Your address is blacklisted",
        ],
        [
            "550 5.1.1 User not listed in public Name & Address Book",
            "554 5.7.1 <henry@example.com>: Relay access denied",
            "550 5.1.1 <verbleed@example.com>: User unknown",
        ],
    ),
    "spam-suspected": (
        [
            "550-5.7.1 [192.0.2.1] Our system has detected that this message is likely "
            "unsolicited mail. To reduce the amount of spam sent to Gmail, this message has "
            "been blocked.",
            "554 5.7.1 Message rejected as spam by Content Filtering.",
            "550 Message identified as spam",
        ],
        [
            "421-4.7.28 [192.0.2.1 15] Our system has detected an unusual rate of unsolicited "
            "mail originating from your IP address.",
            "550 5.1.1 User unknown",
        ],
    ),
    "reverse-dns": (
        [
            "450 4.7.1 Client host rejected: cannot find your hostname, [192.0.2.1]",
            "450 4.7.25 Client host rejected: cannot find your reverse hostname, [192.0.2.1]",
            "550-5.7.25 [192.0.2.1] The IP address sending this message does not have a PTR "
            "record setup, or the corresponding forward DNS entry does not point to the "
            "sending IP.",
            "550 5.7.25 Access denied, the sending IPv6 address [2001:db8::1] must have a "
            "reverse DNS record",
        ],
        [
            "550 5.1.1 <optimal@example.com>: User unknown",
            "553 5.1.0 Reverse path rejected",
        ],
    ),
    "helo-rejected": (
        [
            "504 5.5.2 <localhost>: Helo command rejected: need fully-qualified hostname",
            "450 4.7.1 <mail.internal>: Helo command rejected: Host not found",
            "550 5.7.506 Access Denied, Bad HELO",
        ],
        [
            "554 5.7.1 <henry@example.com>: Relay access denied",
            "550 5.1.1 Hello? User unknown",
        ],
    ),
    "sender-domain-unknown": (
        [
            "450 4.1.8 <alice@example.invalid>: Sender address rejected: Domain not found",
            "553 5.1.8 <alice@example.invalid>... Domain of sender address "
            "alice@example.invalid does not exist",
        ],
        [
            "550 5.1.1 <bob@example.com>: Recipient address rejected: User unknown",
            "550 5.4.310 DNS domain example.com does not exist",
        ],
    ),
    "tls-required": (
        [
            "530 5.7.0 Must issue a STARTTLS command first",
            "530 Must issue a STARTTLS command first",
            "554 5.7.10 TLS required",
            "530 5.7.11 Encryption required for requested authentication mechanism",
        ],
        [
            "550 5.7.30 REQUIRETLS support required",
            "454 4.7.0 TLS not available due to local problem",
        ],
    ),
    "auth-required": (
        [
            "530 5.7.1 Authentication required",
            "530 5.7.1 Client was not authenticated",
            "530 5.7.57 Client was not authenticated to send anonymous mail during MAIL FROM",
            "553 5.7.1 <alice@example.org>: Sender address rejected: not logged in",
        ],
        [
            "535 5.7.8 Error: authentication failed: authentication failure",
            "550-5.7.26 This mail has been blocked because the sender is unauthenticated.",
        ],
    ),
    "relay-denied": (
        [
            "554 5.7.1 <henry@example.com>: Relay access denied",
            "550 5.7.1 Unable to relay",
            "550 5.7.1 Relaying denied",
            "550 relay not permitted",
            "550 5.7.1 We do not relay non-local mail",
        ],
        [
            "550 5.7.1 Delivery not authorized, message refused",
            "550 5.1.1 User unknown",
        ],
    ),
    "microsoft-antispam-tag": (
        [
            "451 4.7.500 Server busy. Please try again later from [192.0.2.1]. (AS800)",
            "550 5.7.1 Service unavailable, Client host [192.0.2.1] blocked using Customer "
            "Block list (AS16012607)",
            "550 5.7.0 Message rejected, AS(2201)",
        ],
        [
            "550 5.1.1 User unknown (as per policy)",
            "550 5.7.1 Relay denied (ASX)",
        ],
    ),
}


def _codes(text: str) -> list[str]:
    found = parse_reply(text)
    return [str(c) for c in find_status_codes(text)] + (
        [found.reply_code] if found.reply_code else []
    )


def _rule(key: str) -> TextRule:
    return next(rule for rule in load_rules() if rule.key == key)


def _rule_matches(rule: TextRule, text: str) -> bool:
    """The entry on its own: its constraints and its pattern (not fallback or supersedes)."""
    codes = _codes(text)
    replies = {c for c in codes if "." not in c}
    statuses = {c for c in codes if "." in c}
    classes = {int(c[0]) for c in codes}
    flat = " ".join(text.split())
    return rule.applies(classes, replies, statuses) and rule.pattern.search(flat) is not None


def _keys(text: str) -> list[str]:
    return [m.key for m in match_texts(text, _codes(text))]


def test_every_entry_has_cases() -> None:
    keys = [rule.key for rule in load_rules()]
    assert sorted(keys) == sorted(CASES)
    for key, (positive, negative) in CASES.items():
        assert len(positive) >= 2 and negative, key


@pytest.mark.parametrize(
    ("key", "text"), [(key, text) for key, (texts, _) in CASES.items() for text in texts]
)
def test_entry_matches_real_text(key: str, text: str) -> None:
    assert _rule_matches(_rule(key), text)


@pytest.mark.parametrize(
    ("key", "text"), [(key, text) for key, (_, texts) in CASES.items() for text in texts]
)
def test_entry_does_not_match_unrelated_text(key: str, text: str) -> None:
    assert not _rule_matches(_rule(key), text)


def test_entries_are_complete() -> None:
    for rule in load_rules():
        assert rule.title and rule.meaning and rule.who and rule.actions
        assert rule.classes <= {4, 5}


@pytest.mark.parametrize(
    ("text", "keys"),
    [
        # The greylisting text wins over the fallback "try again later".
        ("451 4.7.1 Greylisting in action, please try again later", ["greylisting"]),
        # A fallback counts only when nothing else matches.
        (
            "550 5.5.0 Requested action not taken: mailbox unavailable, user unknown",
            ["user-unknown"],
        ),
        ("451 4.7.1 Client host blocked using zen.spamhaus.org, try again later", ["blocklisted"]),
        # Specific entries hide the general ones they supersede.
        (
            "550 5.7.606 Access denied, banned sending IP [192.0.2.1]; blocked using Spamhaus",
            ["microsoft-banned-ip"],
        ),
        ("550 5.4.5 Daily user sending quota exceeded", ["sending-quota"]),
        (
            "421-4.7.28 Our system has detected an unusual rate of unsolicited mail, "
            "temporarily rate limited",
            ["google-rate-limited"],
        ),
        (
            "550-5.7.26 Unauthenticated email from example.com is not accepted due to "
            "domain's DMARC policy",
            ["google-unauthenticated"],
        ),
        # Unrelated entries are all reported, in table order.
        (
            "550 5.7.1 Service unavailable, Client host [192.0.2.1] blocked using Spamhaus "
            "(AS3130)",
            ["blocklisted", "microsoft-antispam-tag"],
        ),
        ("550 5.1.1 <bob@example.com>: Recipient address rejected", []),
    ],
)
def test_combined_matches(text: str, keys: list[str]) -> None:
    assert _keys(text) == keys


def test_match_carries_the_entry() -> None:
    (match,) = match_texts("451 4.7.1 Greylisted: please try again in 5 minutes", ["451", "4.7.1"])
    assert isinstance(match, TextMatch)
    assert match.key == "greylisting" and match.matched == "Greylisted"
    assert "nothing to fix" in match.who and match.actions


def test_codes_restrict_but_absent_codes_do_not() -> None:
    text = "Please try again later"
    assert [m.key for m in match_texts(text)] == ["try-again-later"]  # no code restricts
    assert match_texts(text, ["421"]) == ()
    assert match_texts(text, ["451", "4.7.500"]) == ()
    assert match_texts("", ["451"]) == ()


# --- the loader's checks -----------------------------------------------------------------------

_GOOD: dict[str, Any] = {
    "key": "k",
    "title": "t",
    "pattern": "abc",
    "meaning": "m",
    "who": "w",
    "actions": ["a"],
}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"pattern": "a+b"}, "*, +"),
        ({"pattern": "a.*b"}, "*, +"),
        ({"pattern": "a{2,}"}, "*, +"),
        ({"pattern": "(a"}, "does not compile"),
        ({"pattern": "a?"}, "matches empty"),
        ({"key": "Bad Key"}, "lower case"),
        ({"title": ""}, "'title'"),
        ({"actions": []}, "'actions' must not be empty"),
        ({"classes": [3]}, "'classes'"),
        ({"classes": [True]}, "'classes'"),
        ({"reply_codes": ["5.1.1"]}, "'reply_codes'"),
        ({"status_codes": ["550"]}, "'status_codes'"),
        ({"fallback": "yes"}, "'fallback'"),
        ({"surprise": 1}, "unknown field"),
        ({"supersedes": ["nothing"]}, "supersedes unknown key"),
    ],
)
def test_loader_refuses_bad_entries(change: dict[str, Any], message: str) -> None:
    with pytest.raises(TableError, match="test") as info:
        parse_rules({"text": [{**_GOOD, **change}]}, "test")
    assert message in str(info.value)


def test_loader_accepts_bounded_patterns_and_refuses_duplicates() -> None:
    (rule,) = parse_rules({"text": [{**_GOOD, "pattern": r"a{0,5}b\+c|(?:x|y)?z"}]}, "test")
    assert rule.pattern.search("aab+c")
    with pytest.raises(TableError, match="more than once"):
        parse_rules({"text": [_GOOD, _GOOD]}, "test")
    with pytest.raises(TableError, match=r"\[\[text\]\]"):
        parse_rules({"entries": []}, "test")


def test_table_is_package_data() -> None:
    from importlib.resources import files

    assert files("mailprobe.data").joinpath("reply_texts.toml").is_file()


# --- robustness: never raises, bounded time -------------------------------------------------

_FRAGMENTS = [
    "grey", "gray", "list", "-", " ", "mailbox ", "over", "quota", "user ", "unknown", "relay",
    "rate", "limit", "(as", "as(", "123", ")", "4.7.28", "spf", "dkim", "s3150", "helo",
    "message ", "size ", "exceeds", "try again", "not ", "found", "\n", "\t", "é", "\x00",
]  # fmt: skip
_CODES = st.lists(st.sampled_from(["451", "550", "421", "4.7.1", "5.1.1", "4.2.0", "junk"]))
_FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _timed(text: str, codes: list[str]) -> tuple[tuple[TextMatch, ...], float]:
    start = time.perf_counter()
    matches = match_texts(text, codes)
    return matches, time.perf_counter() - start


@_FUZZ
@given(st.text(max_size=3000), _CODES)
def test_matcher_never_raises(text: str, codes: list[str]) -> None:
    matches, elapsed = _timed(text, codes)
    assert all(isinstance(m, TextMatch) for m in matches)
    assert len({m.key for m in matches}) == len(matches)
    assert all(len(m.matched) <= 120 and "\n" not in m.matched for m in matches)
    assert elapsed < 0.5


@_FUZZ
@given(st.lists(st.sampled_from(_FRAGMENTS), max_size=3000).map("".join), _CODES)
def test_matcher_is_fast_on_pattern_fragments(text: str, codes: list[str]) -> None:
    _, elapsed = _timed(text, codes)
    assert elapsed < 0.5


@pytest.mark.parametrize(
    "unit", ["a", " ", "grey", "gr ", "mailbox is ", "(as1", "exceeds the ", "over", "x\t"]
)
def test_long_repetitive_text_is_fast(unit: str) -> None:
    text = unit * (100_000 // len(unit))
    _, elapsed = _timed(text, ["451", "4.7.1"])
    assert elapsed < 0.5
