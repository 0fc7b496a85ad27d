"""The checked-in JSON Schema is current, and real ``--json`` output of every command conforms."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mailprobe.cli.entry import main
from mailprobe.schema import build_schema, schema_text, validate, validate_document

ROOT = Path(__file__).resolve().parents[2]
SCHEMA_FILE = ROOT / "docs" / "schema" / "mailprobe.schema.json"

ZONE = """
@ MX 10 mail
mail A 127.0.1.77
@ TXT "v=spf1 mx -all"
"""


def test_checked_in_schema_is_current() -> None:
    assert SCHEMA_FILE.read_text(encoding="utf-8") == schema_text(), (
        "docs/schema/mailprobe.schema.json is stale: run "
        "python -m mailprobe.schema > docs/schema/mailprobe.schema.json"
    )


def test_validator_rejects_what_the_schema_forbids() -> None:
    schema = build_schema()
    good = {
        "schema_version": 1, "tool": "mailprobe", "tool_version": "x", "command": "ndr",
        "inputs": {}, "exit_code": 2, "status": "usage-error", "errors": [],
        "results": {"mode": "codes", "queries": []},
    }  # fmt: skip
    bad_status = {**good, "status": "fine"}
    extra_field = {**good, "surprise": 1}
    wrong_results = {**good, "results": {"mode": 5}}
    assert validate(bad_status, schema)
    assert validate(extra_field, schema)
    assert validate(wrong_results, schema)


def _json_runs(capsys: pytest.CaptureFixture[str], *argv: str) -> list[dict[str, Any]]:
    main([*argv, "--json"])
    out = capsys.readouterr().out
    text = out.strip()
    if text.startswith("{\n"):
        return [json.loads(text)]
    return [json.loads(line) for line in text.splitlines() if line.strip()]


@pytest.mark.parametrize(
    "argv",
    [
        ["ndr", "5.4.8"],
        ["ndr", "550", "4.2.9"],
        ["ndr", "550 5.1.1 <bob@example.com>: Recipient address rejected"],
        ["ndr", "--search", "relay"],
    ],
)
def test_ndr_output_conforms(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    schema = build_schema()
    for document in _json_runs(capsys, *argv):
        assert validate_document(document, schema) == []


def test_network_commands_output_conforms(
    dns_server: Callable[..., Any],
    exchange2000_peer: Any,
    exchange_relay_denied_peer: Any,
    capsys: pytest.CaptureFixture[str],
) -> None:
    schema = build_schema()
    server = dns_server({"schema.test": ZONE}, address="127.0.1.76")
    runs = [
        ["mx", "schema.test", "no-such.schema.test", "--server", server.spec],
        ["ehlo", exchange2000_peer.address, "--port", str(exchange2000_peer.port),
         "--expect", "exchange2000", "--from", "a@example.org", "--to", "b@example.com"],
        ["ehlo", "--list-profiles"],
        ["relay-test", exchange_relay_denied_peer.address, "--port",
         str(exchange_relay_denied_peer.port)],
        ["check", "schema.test", "--server", server.spec, "--timeout", "2", "--no-relay"],
        ["check", "no-such.schema.test", "--server", server.spec],
        ["blocklist", "192.0.2.1", "--server", server.spec, "--timeout", "1"],
        ["blocklist", "--mx", "schema.test", "--server", server.spec, "--timeout", "1"],
        ["blocklist", "--list"],
    ]  # fmt: skip
    for argv in runs:
        documents = _json_runs(capsys, *argv)
        assert documents, argv
        for document in documents:
            assert document["command"] == argv[0]
            assert validate_document(document, schema) == [], argv
