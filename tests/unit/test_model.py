"""Exit-code rules, JSON conversion and the envelope."""

from __future__ import annotations

import dataclasses
import ipaddress
import json

import pytest

from mailprobe.model import (
    SCHEMA_VERSION,
    ExitCode,
    Failure,
    Finding,
    Severity,
    envelope,
    to_jsonable,
    worst_exit_code,
)
from mailprobe.outcome import exit_code

#: A catalogued code for each severity (Finding refuses codes the catalogue lacks).
_CODES = {
    Severity.OK: "mx.ok",
    Severity.INFO: "mx.single",
    Severity.WARN: "mx.ptr-missing",
    Severity.FAIL: "mx.null-mixed",
}


def _finding(sev: Severity) -> Finding:
    return Finding(sev, _CODES[sev], "summary", "fix")


@pytest.mark.parametrize(
    ("severities", "expected"),
    [
        ([], ExitCode.HEALTHY),
        ([Severity.OK, Severity.INFO], ExitCode.HEALTHY),
        ([Severity.OK, Severity.WARN], ExitCode.PROBLEM),
        ([Severity.FAIL], ExitCode.PROBLEM),
    ],
)
def test_exit_code_from_findings(severities: list[Severity], expected: ExitCode) -> None:
    assert exit_code([_finding(s) for s in severities]) is expected


def test_failure_wins_over_findings() -> None:
    failure = Failure("connect", "connection refused", "127.0.0.1", 25, 5.0)
    assert exit_code([_finding(Severity.FAIL)], [failure]) is ExitCode.INCOMPLETE


def test_worst_exit_code_orders_usage_incomplete_problem_healthy() -> None:
    assert worst_exit_code([]) is ExitCode.HEALTHY
    assert worst_exit_code([0, 1, 0]) is ExitCode.PROBLEM
    assert worst_exit_code([1, 3, 0]) is ExitCode.INCOMPLETE
    assert worst_exit_code([3, 2]) is ExitCode.USAGE


def test_failure_one_line_names_step_and_peer() -> None:
    assert Failure("banner", "timed out after 5 s", "::1", 25).one_line() == (
        "banner failed [::1]:25: timed out after 5 s"
    )
    assert Failure("DNS", "NXDOMAIN", "mail.example").one_line() == (
        "DNS failed mail.example: NXDOMAIN"
    )


@dataclasses.dataclass(frozen=True)
class _Sample:
    name: str
    severity: Severity
    address: ipaddress.IPv4Address
    items: tuple[int, ...]
    _private: str = "hidden"


def test_to_jsonable_converts_dataclasses_enums_addresses() -> None:
    value = _Sample("x", Severity.WARN, ipaddress.IPv4Address("192.0.2.1"), (1, 2))
    assert to_jsonable(value) == {
        "name": "x",
        "severity": "warn",
        "address": "192.0.2.1",
        "items": [1, 2],
    }


def test_envelope_shape_is_stable() -> None:
    failure = Failure("connect", "connection refused", "127.0.0.1", 25)
    doc = envelope("mx", {"domains": ["example.com"]}, {"a": 1}, 3, [failure])
    assert list(doc) == [
        "schema_version",
        "tool",
        "tool_version",
        "command",
        "inputs",
        "exit_code",
        "status",
        "errors",
        "results",
    ]
    assert doc["schema_version"] == SCHEMA_VERSION
    assert doc["status"] == "incomplete"
    assert doc["errors"][0]["step"] == "connect"
    assert "connection refused" in doc["errors"][0]["text"]
    json.dumps(doc)
