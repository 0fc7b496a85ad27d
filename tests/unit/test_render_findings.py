"""The shared findings renderer and the console used for piped output."""

from __future__ import annotations

import io
import sys

import pytest
from rich.console import Console

from mailprobe.model import Finding, Severity
from mailprobe.render.console import make_console
from mailprobe.render.findings import render_findings


def _render(findings: list[Finding], verbose: int = 0, width: int = 60) -> list[str]:
    buffer = io.StringIO()
    console = Console(file=buffer, width=width, no_color=True, force_terminal=False)
    render_findings(console, findings, verbose, indent=2)
    return buffer.getvalue().splitlines()


def test_long_findings_wrap_with_a_hanging_indent_and_no_trailing_spaces() -> None:
    finding = Finding(
        Severity.WARN,
        "mx.ptr-missing",
        "203.0.113.9 (mx2.example.org) has no PTR record, and many receivers refuse such senders",
        "Ask whoever holds the address block to publish a PTR record for 203.0.113.9.",
        "203.0.113.9",
    )
    lines = _render([finding])
    assert lines[0].startswith("  WARN mx.ptr-missing: ")
    assert all(len(line) <= 60 for line in lines)
    assert all(line == line.rstrip() for line in lines)
    continuation = lines[1:]
    assert continuation and all(line.startswith(" " * 7) for line in continuation)
    assert any(line.strip().startswith("fix: ") for line in continuation)


def test_fix_shown_for_problems_and_for_all_with_verbose() -> None:
    info = Finding(Severity.INFO, "mx.single", "one exchanger only", "Add a backup MX.")
    assert not any("fix:" in line for line in _render([info]))
    assert any("fix: Add a backup MX." in line for line in _render([info], verbose=1))


def test_subject_named_when_the_summary_does_not_say_it() -> None:
    same = Finding(Severity.OK, "tls.ok", "TLS works", subject="mx1.example.org")
    named = Finding(
        Severity.OK, "tls.ok", "TLS works on mx2.example.org", subject="mx2.example.org"
    )
    lines = _render([same, named], width=100)
    assert lines[0] == "  OK   tls.ok (mx1.example.org): TLS works"
    assert lines[1] == "  OK   tls.ok: TLS works on mx2.example.org"


def test_piped_console_drops_table_padding(monkeypatch: pytest.MonkeyPatch) -> None:
    from rich.table import Table

    buffer = io.StringIO()
    monkeypatch.setattr(sys, "stdout", buffer)
    console = make_console(no_color=True)
    table = Table.grid(padding=(0, 2))
    table.add_column()
    table.add_column()
    table.add_row("a", "short")
    table.add_row("bbbbbbbb", "a much longer cell")
    console.print(table)
    lines = buffer.getvalue().splitlines()
    assert lines == ["a         short", "bbbbbbbb  a much longer cell"]
