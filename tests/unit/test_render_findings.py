"""The shared findings renderer and the console used for piped output."""

from __future__ import annotations

import io
import re
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


def test_piped_console_never_wraps(monkeypatch: pytest.MonkeyPatch) -> None:
    from mailprobe.render.console import Text
    from mailprobe.render.findings import print_hanging

    buffer = io.StringIO()
    monkeypatch.setattr(sys, "stdout", buffer)
    monkeypatch.setenv("COLUMNS", "80")  # ignored when not a terminal
    console = make_console(no_color=True)
    long_host = "mx." + "sub." * 30 + "example.org"
    finding = Finding(
        Severity.WARN, "mx.ptr-missing", f"{long_host} has no PTR record " * 3, "Publish one " * 20
    )
    render_findings(console, [finding], indent=0)
    print_hanging(console, Text(f"{long_host}   internet address = 192.0.2.1   PTR x " * 3), 4)
    console.rule()
    lines = buffer.getvalue().splitlines()
    assert len(lines) == 4
    assert lines[0].startswith("WARN mx.ptr-missing: ") and lines[0].endswith("no PTR record")
    assert lines[1].strip().startswith("fix: ") and lines[1].endswith("Publish one")
    assert lines[2].count("internet address") == 3
    assert lines[3] == "─" * 80  # rules keep a readable width


def _relay_results() -> list[object]:
    from mailprobe.checks.relay.model import VariantResult
    from mailprobe.smtp.session import Reply

    deny = Reply(
        550,
        (
            "5.7.1 Unable to relay for relaytest@example.net; sender and recipient are both "
            "external",
        ),
        "5.7.1",
    )
    return [
        VariantResult(
            name=name,
            group="percent",
            kind="relay",  # type: ignore[arg-type]
            title=name,
            mail_from=sender,
            rcpt_to=rcpt,
            outcome="rejected",
            rcpt_reply=deny,
            evidence="rejected",  # type: ignore[arg-type]
        )
        for name, sender, rcpt in [
            ("percent-hack", "probe@example.net", "relaytest%example.net@pct.lab.test"),
            ("bang-path", "probe@mailprobe.invalid", "example.net!relaytest@pct.lab.test"),
            (
                "source-route",
                "postmaster@pct.lab.test",
                "@pct.lab.test:relaytest@example.net.very-long-relay-domain.lab.test",
            ),
        ]
    ]


@pytest.mark.parametrize("width", [80, 120, 200])
def test_relay_variants_never_cut_addresses_or_the_reply(width: int) -> None:
    from mailprobe.render.relay import _print_variants

    buffer = io.StringIO()
    console = Console(file=buffer, width=width, no_color=True, force_terminal=True)
    results = _relay_results()
    _print_variants(console, results, "Relay battery (anonymous)")  # type: ignore[arg-type]
    out = re.sub(r"\x1b\[[0-9;]*m", "", buffer.getvalue())
    lines = out.splitlines()
    assert "…" not in out
    assert all(len(line) <= width for line in lines)
    joined = " ".join(out.split())
    for result in results:
        assert f"<{result.mail_from}>" in out  # type: ignore[attr-defined]
        assert f"<{result.rcpt_to}>" in out  # type: ignore[attr-defined]
    reply = "Unable to relay for relaytest@example.net; sender and recipient are both external"
    if width == 80:
        assert joined.count(reply) == 3
    else:  # the table's reply column may fold words; every word is there, in order
        assert out.count("Unable") == 3 and out.count("external") == 3
