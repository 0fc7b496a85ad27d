"""Classification of replies, the battery's verdict, findings, and helper parsers."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mailprobe.checks.relay import (
    RelayOptions,
    SendResult,
    VariantResult,
    address_literal,
    classify,
    combine_reports,
    enumeration_from,
    is_inside_address,
    judge,
    parent_domain,
    relay_findings,
    routing_domain,
    server_name_from_greeting,
)
from mailprobe.errors import UsageError
from mailprobe.model import Severity
from mailprobe.smtp.session import Reply


def reply(code: int, text: str = "") -> Reply:
    return Reply.from_message(code, text)


OK = reply(250, "2.1.0 Ok")


@pytest.mark.parametrize(
    ("mail", "rcpt", "outcome"),
    [
        (None, None, "not-tested"),
        (OK, reply(250, "2.1.5 Ok"), "accepted"),
        (OK, reply(251, "2.1.5 will forward"), "accepted"),
        (OK, reply(550, "5.7.1 Unable to relay"), "rejected"),
        (OK, reply(554, "5.7.1 <x>: Relay access denied"), "rejected"),
        (OK, reply(454, "4.7.1 <x>: Relay access denied"), "refused-temporarily"),
        (OK, reply(450, "4.2.0 Greylisted"), "deferred"),
        (OK, reply(451, "4.3.0 try later"), "deferred"),
        (OK, reply(530, "5.7.0 Authentication required"), "auth-required"),
        (reply(530, "5.7.0 Authentication required"), None, "auth-required"),
        (reply(550, "5.1.8 sender refused"), None, "mail-refused"),
        (reply(451, "4.3.0 try later"), None, "mail-deferred"),
        (OK, reply(354, "go ahead"), "error"),
        (OK, None, "error"),
    ],
)
def test_classify(mail: Reply | None, rcpt: Reply | None, outcome: str) -> None:
    assert classify(mail, rcpt) == outcome


def test_250_to_mail_alone_never_means_accepted() -> None:
    assert classify(OK, reply(550, "5.7.1 no")) != "accepted"


def result(name: str, outcome: str, kind: str = "relay") -> VariantResult:
    return VariantResult(
        name=name,
        group="x",
        kind=kind,  # type: ignore[arg-type]
        title=name,
        mail_from="a@example.net",
        rcpt_to="b@example.net",
        outcome=outcome,  # type: ignore[arg-type]
    )


def decide(results: list[VariantResult], stop: str | None = None) -> tuple[str, str]:
    _judged, verdict, reason, _deciding = judge(results, stop_reason=stop)
    return verdict, reason


def test_decide_open_names_the_accepted_variants() -> None:
    verdict, reason = decide(
        [result("plain", "rejected"), result("percent-own", "accepted"), result("x", "error")]
    )
    assert verdict == "open"
    assert "percent-own" in reason and "1 of 3" in reason


def test_decide_closed_when_all_refused() -> None:
    verdict, reason = decide(
        [
            result("a", "rejected"),
            result("b", "refused-temporarily"),
            result("c", "auth-required"),
            result("d", "mail-refused"),
        ]
    )
    assert verdict == "closed"
    assert "1 not tested because MAIL FROM was refused" in reason


@pytest.mark.parametrize("pending", ["deferred", "mail-deferred", "error", "not-tested"])
def test_decide_inconclusive_when_anything_is_undecided(pending: str) -> None:
    verdict, reason = decide([result("a", "rejected"), result("b", pending)], "stopped early")
    assert verdict == "inconclusive"
    assert reason.startswith("battery not completed: stopped early")


def test_decide_inconclusive_when_no_recipient_was_tried() -> None:
    verdict, reason = decide([result("a", "mail-refused"), result("b", "mail-refused")])
    assert verdict == "inconclusive"
    assert "no recipient was tried" in reason
    assert decide([])[0] == "inconclusive"


def test_probes_do_not_count_for_the_verdict() -> None:
    verdict, _ = decide([result("plain", "rejected"), result("local-unknown", "accepted", "probe")])
    assert verdict == "closed"


def _findings(**overrides: object) -> dict[str, Severity]:
    args: dict[str, object] = {
        "verdict": "closed",
        "reason": "all refused",
        "variants": [result("plain", "rejected")],
        "probes": [],
        "skipped": [],
        "address": "192.0.2.25",
        "own_domain": "corp.example",
        "enumeration": None,
        "authenticated": None,
        "sent": None,
        "reconnects": 0,
    }
    args.update(overrides)
    return {f.code: f.severity for f in relay_findings(**args)}  # type: ignore[arg-type]


def test_findings_spoofing_and_catch_all() -> None:
    probes = [
        result("local-postmaster", "accepted", "probe"),
        result("local-unknown", "accepted", "probe"),
        result("internal-spoof", "accepted", "probe"),
    ]
    found = _findings(probes=probes)
    assert found["relay.internal-spoofing"] is Severity.WARN
    assert found["relay.accepts-unknown-recipients"] is Severity.INFO
    assert found["relay.closed"] is Severity.OK
    assert "relay.trusted-network" not in found  # 192.0.2.25 is documentation space, public


def test_findings_spoofing_refused_and_untested() -> None:
    refused = [
        result("local-postmaster", "accepted", "probe"),
        result("internal-spoof", "rejected", "probe"),
    ]
    assert _findings(probes=refused)["relay.spoofing-refused"] is Severity.OK
    untested = [
        result("local-postmaster", "rejected", "probe"),
        result("internal-spoof", "rejected", "probe"),
    ]
    assert _findings(probes=untested)["relay.spoofing-untested"] is Severity.INFO


def test_findings_open_and_inside_network() -> None:
    found = _findings(verdict="open", variants=[result("plain", "accepted")], address="10.1.2.3")
    assert found["relay.open"] is Severity.FAIL
    assert found["relay.rcpt-only"] is Severity.INFO
    assert found["relay.trusted-network"] is Severity.INFO


def test_enumeration_rules() -> None:
    reveals = enumeration_from(reply(250, "2.1.5 ok"), reply(550, "5.1.1 unknown"), None)
    assert reveals.vrfy_reveals_users and not reveals.expn_enabled
    same = enumeration_from(reply(252, "2.0.0 x"), reply(252, "2.0.0 y"), reply(502, "no"))
    assert not same.vrfy_reveals_users and not same.expn_enabled
    expn = enumeration_from(reply(502, "no"), reply(502, "no"), reply(250, "list"))
    assert expn.expn_enabled and not expn.vrfy_reveals_users


@pytest.mark.parametrize(
    ("banner", "ehlo", "name"),
    [
        ("mail.closed.test ESMTP Postfix", "x", "mail.closed.test"),
        ("mail1.example.com Microsoft ESMTP MAIL Service", None, "mail1.example.com"),
        ("*****************", "mx.example.org Hello", "mx.example.org"),
        ("ESMTP ready", "localhost", None),
        ("192.0.2.1 ESMTP", None, None),
        ("", None, None),
    ],
)
def test_server_name_from_greeting(banner: str, ehlo: str | None, name: str | None) -> None:
    ehlo_reply = reply(250, ehlo) if ehlo is not None else None
    assert server_name_from_greeting(reply(220, banner), ehlo_reply) == name


@given(st.text(max_size=300))
def test_server_name_from_greeting_never_fails(text: str) -> None:
    name = server_name_from_greeting(reply(220, text), reply(250, text))
    assert name is None or ("." in name and " " not in name and name == name.lower())


def test_parent_domain_and_literal() -> None:
    assert parent_domain("mx1.Example.org.") == "example.org"
    assert parent_domain("example.org") == "example.org"
    assert address_literal("192.0.2.1") == "[192.0.2.1]"
    assert address_literal("2001:db8::1") == "[IPv6:2001:db8::1]"
    assert is_inside_address("127.0.3.1") and is_inside_address("fd00::1")
    assert not is_inside_address("8.8.8.8") and not is_inside_address(None)


@pytest.mark.parametrize(
    "options",
    [
        RelayOptions(domain="a.example\r\nDATA"),
        RelayOptions(external="x\n"),
        RelayOptions(to="me@x.example\rRSET"),
        RelayOptions(to="nobody"),
        RelayOptions(sender="a b"),
        RelayOptions(sender="x\x00"),
        RelayOptions(helo="h\r\n"),
        RelayOptions(send=True),
        RelayOptions(user="alice"),
        RelayOptions(connections=0),
    ],
)
def test_bad_options_are_usage_errors(options: RelayOptions) -> None:
    with pytest.raises(UsageError):
        options.validated()


def test_combine_reports_without_reports_is_inconclusive() -> None:
    run = combine_reports("example.org", ())
    assert run.verdict == "inconclusive"
    assert int(run.exit_code()) == 3


@given(
    st.integers(min_value=100, max_value=599),
    st.one_of(st.none(), st.integers(min_value=100, max_value=599)),
    st.text(max_size=80),
)
def test_only_2xx_to_mail_and_rcpt_is_accepted(
    mail_code: int, rcpt_code: int | None, text: str
) -> None:
    mail = reply(mail_code, text)
    rcpt = reply(rcpt_code, text) if rcpt_code is not None else None
    outcome = classify(mail, rcpt)
    accepted = 200 <= mail_code < 300 and rcpt_code is not None and 200 <= rcpt_code < 300
    assert (outcome == "accepted") == accepted


# -- evidence (issue: relay verdicts that hold on real third-party MTAs) ---------------------------


def _variant(name: str, rcpt_to: str, outcome: str, kind: str = "relay") -> VariantResult:
    return VariantResult(
        name=name,
        group="recipient",
        kind=kind,  # type: ignore[arg-type]
        title=name,
        mail_from="mailprobe@example.net",
        rcpt_to=rcpt_to,
        outcome=outcome,  # type: ignore[arg-type]
    )


OWN = ("own.test", "mx.own.test", "[192.0.2.25]")


@pytest.mark.parametrize(
    ("address", "domain"),
    [
        ("relaytest@example.net", "example.net"),
        ("relaytest%example.net@own.test", "own.test"),
        ('"relaytest@example.net"@own.test', "own.test"),
        ('"relaytest@example.net"', None),
        ("example.net!relaytest", None),
        ("example.net!relaytest@own.test", "own.test"),
        ("relaytest@example.net@own.test", "own.test"),
        ("@own.test:relaytest@example.net", "example.net"),
        ("relaytest@EXAMPLE.NET.", "example.net"),
    ],
)
def test_routing_domain(address: str, domain: str | None) -> None:
    assert routing_domain(address) == domain


def test_own_domain_forms_at_a_catch_all_server_are_unconfirmed_and_do_not_decide() -> None:
    results = [
        _variant("plain", "relaytest@example.net", "rejected"),
        _variant("percent-own", "relaytest%example.net@own.test", "accepted"),
        _variant("quoted-own", '"relaytest@example.net"@own.test', "accepted"),
    ]
    judged, verdict, reason, deciding = judge(results, local_domains=OWN, catch_all=True)
    assert verdict == "closed", reason
    assert "2 own-domain forms unconfirmed" in reason
    assert [r.evidence for r in judged] == ["refused", "unconfirmed-local", "unconfirmed-local"]
    assert deciding == ("plain",)


def test_own_domain_form_accepted_by_a_server_that_knows_its_users_is_a_relay() -> None:
    results = [
        _variant("plain", "relaytest@example.net", "rejected"),
        _variant("percent-own", "relaytest%example.net@own.test", "accepted"),
    ]
    judged, verdict, _reason, deciding = judge(results, local_domains=OWN, catch_all=False)
    assert verdict == "open"
    assert judged[1].evidence == "accepted-rerouted"
    assert deciding == ("percent-own",)


def test_accepting_every_recipient_is_inconclusive_until_send_decides() -> None:
    results = [
        _variant("plain", "relaytest@example.net", "accepted"),
        _variant("external-upper", "relaytest@EXAMPLE.NET", "accepted"),
    ]
    _judged, verdict, reason, _deciding = judge(results, local_domains=OWN, catch_all=True)
    assert verdict == "inconclusive" and "confirm with --send" in reason

    def send(variant: str, outcome: str) -> SendResult:
        return SendResult(variant, "mailprobe@example.net", "me@example.net", outcome)  # type: ignore[arg-type]

    refused = [send("plain", "rejected-at-data"), send("external-upper", "rejected-at-data")]
    judged, verdict, reason, _ = judge(results, local_domains=OWN, catch_all=True, sends=refused)
    assert verdict == "closed", reason
    assert {r.evidence for r in judged} == {"refused-at-data"}

    relayed = [send("plain", "rejected-at-data"), send("external-upper", "accepted")]
    _judged, verdict, _reason, deciding = judge(
        results, local_domains=OWN, catch_all=True, sends=relayed
    )
    assert verdict == "open" and deciding == ("external-upper",)

    partly = [send("plain", "rejected-at-data")]
    _judged, verdict, _reason, _ = judge(results, local_domains=OWN, catch_all=True, sends=partly)
    assert verdict == "inconclusive"  # one variant still rests on RCPT alone


def test_out_of_step_and_limited_variants_leave_the_verdict_open() -> None:
    results = [
        _variant("plain", "relaytest@example.net", "rejected"),
        dataclasses.replace(
            _variant("bang", "example.net!relaytest", "error"), note="replies out of step: x"
        ),
    ]
    judged, verdict, reason, _ = judge(results, local_domains=OWN)
    assert verdict == "inconclusive" and "out of step" in reason
    assert judged[1].evidence == "desync"


def _reply(code: int, text: str = "") -> Reply:
    return Reply(code, (text,))


@pytest.mark.parametrize(
    ("known", "unknown", "reveals"),
    [
        (_reply(250, "<postmaster@own.test>"), _reply(550, "User unknown"), True),
        (_reply(252, "Cannot VRFY"), _reply(252, "Cannot VRFY"), False),  # Exim, Postfix off
        (_reply(250, "postmaster"), _reply(501, "unqualified address"), False),
        (_reply(502, "VRFY disabled"), _reply(502, "VRFY disabled"), False),
        (_reply(250, "ok"), _reply(250, "ok"), False),
    ],
)
def test_vrfy_reveals_users_only_when_answers_differ_in_meaning(
    known: Reply, unknown: Reply, reveals: bool
) -> None:
    assert enumeration_from(known, unknown, None).vrfy_reveals_users is reveals
