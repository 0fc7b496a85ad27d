"""The relay variant table and how it is filled (mailprobe/data/relay_variants.toml)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mailprobe.checks.relay import (
    BatteryNames,
    RelayOptions,
    build_variants,
    fill_template,
    load_templates,
)

NAMES = BatteryNames(
    external_domain="example.net",
    recipient_user="relaytest",
    sender="probe@example.net",
    own_domain="corp.example",
    host_name="mx1.corp.example",
    literal="[192.0.2.25]",
    random_user="nobody-123",
)


def _by_name(names: BatteryNames = NAMES) -> dict[str, tuple[str, str]]:
    variants, _skipped = build_variants(names)
    return {v.name: (v.mail_from, v.rcpt_to) for v in variants}


def test_table_loads_with_unique_names_and_known_tokens() -> None:
    templates = load_templates()
    assert len(templates) >= 25
    assert len({t.name for t in templates}) == len(templates)
    assert {t.kind for t in templates} == {"relay", "probe"}
    variants, skipped = build_variants(NAMES)
    assert not skipped
    for variant in variants:
        assert "{" not in variant.mail_from + variant.rcpt_to, variant


@pytest.mark.parametrize(
    ("name", "mail_from", "rcpt_to"),
    [
        ("plain", "probe@example.net", "relaytest@example.net"),
        ("null-sender", "", "relaytest@example.net"),
        ("own-sender", "probe@corp.example", "relaytest@example.net"),
        ("literal-sender", "probe@[192.0.2.25]", "relaytest@example.net"),
        ("percent-own", "probe@example.net", "relaytest%example.net@corp.example"),
        ("percent-literal", "probe@example.net", "relaytest%example.net@[192.0.2.25]"),
        ("quoted", "probe@example.net", '"relaytest@example.net"'),
        ("quoted-own", "probe@example.net", '"relaytest@example.net"@corp.example'),
        ("quoted-literal", "probe@example.net", '"relaytest@example.net"@[192.0.2.25]'),
        ("double-at-own", "probe@example.net", "relaytest@example.net@corp.example"),
        ("source-route-own", "probe@example.net", "@corp.example:relaytest@example.net"),
        ("source-route-literal", "probe@example.net", "@[192.0.2.25]:relaytest@example.net"),
        ("bang", "probe@example.net", "example.net!relaytest"),
        ("bang-own", "probe@example.net", "example.net!relaytest@corp.example"),
        ("bang-literal", "probe@example.net", "example.net!relaytest@[192.0.2.25]"),
        ("external-upper", "probe@example.net", "relaytest@EXAMPLE.NET"),
        ("external-dot", "probe@example.net", "relaytest@example.net."),
        ("percent-own-upper", "probe@example.net", "relaytest%example.net@CORP.EXAMPLE"),
        ("percent-own-dot", "probe@example.net", "relaytest%example.net@corp.example."),
        ("percent-host", "probe@example.net", "relaytest%example.net@mx1.corp.example"),
        ("local-unknown", "probe@example.net", "nobody-123@corp.example"),
        ("internal-spoof", "probe@corp.example", "postmaster@corp.example"),
    ],
)
def test_every_issue_variant_is_built(name: str, mail_from: str, rcpt_to: str) -> None:
    assert _by_name()[name] == (mail_from, rcpt_to)


def test_unknown_own_domain_skips_its_variants_with_a_reason() -> None:
    names = BatteryNames(
        external_domain="example.net",
        recipient_user="relaytest",
        sender="probe@example.net",
        own_domain=None,
        host_name=None,
        literal="[192.0.2.25]",
    )
    variants, skipped = build_variants(names)
    built = {v.name for v in variants}
    assert "plain" in built and "percent-literal" in built
    assert "percent-own" not in built
    reasons = {s.name: s.reason for s in skipped}
    assert "own domain unknown" in reasons["percent-own"]
    assert "host name" in reasons["percent-host"]


def test_host_variants_skipped_when_host_equals_domain() -> None:
    names = BatteryNames(
        external_domain="example.net",
        recipient_user="u",
        sender="s@example.net",
        own_domain="corp.example",
        host_name="CORP.example",
        literal="[192.0.2.25]",
    )
    variants, skipped = build_variants(names)
    assert "percent-host" not in {v.name for v in variants}
    assert "percent-host" in {s.name for s in skipped}


def test_fill_template_reports_missing_tokens() -> None:
    assert fill_template("{user}@{own}", {"user": "a", "own": None}) is None
    assert fill_template("{user}@{own}", {"user": "a", "own": "b.example"}) == "a@b.example"


def test_options_build_names_from_to_and_from() -> None:
    names = RelayOptions(to="me@mailbox.example", sender="probe").names("o.example", None, None)
    assert names.external_domain == "mailbox.example"
    assert names.recipient_user == "me"
    assert names.sender == "probe@mailbox.example"
    full = RelayOptions(sender="a@b.example", external="x.example").names(None, None, None)
    assert full.sender == "a@b.example"
    assert full.external_domain == "x.example"
    default = RelayOptions().names(None, None, None)
    assert default.external_domain == "example.net"
    assert default.sender == "mailprobe@example.net"
    assert default.random_user.startswith("mailprobe-nonexistent-")
    assert default.random_user != RelayOptions().names(None, None, None).random_user


def test_every_variant_is_documented() -> None:
    doc = Path(__file__).resolve().parents[2] / "docs" / "relay-test.md"
    text = doc.read_text("utf-8")
    for template in load_templates():
        assert f"`{template.name}`" in text, template.name
