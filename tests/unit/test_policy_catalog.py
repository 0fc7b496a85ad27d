"""The policy checks' finding helper (templates, bounded printable summaries) and the policy
package's import rules. The catalogue itself is tested in test_findings_catalogue.py."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import mailprobe.checks.policy as policy
from mailprobe.checks.policy.catalog import finding
from mailprobe.model import Severity

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = Path(policy.__file__).parent


def test_finding_fills_the_fix_template() -> None:
    made = finding("spf.pass-all", "summary", domain="example.org")
    assert made.severity is Severity.FAIL and "example.org" in made.fix
    assert "{" not in finding("dkim.missing", "s", subject="sel", name="sel._domainkey.x").fix
    assert finding("dane.mismatch", "s", severity=Severity.INFO).severity is Severity.INFO


def test_parsers_load_without_rich_or_typer() -> None:
    code = (
        "import sys, mailprobe.checks.policy; "
        "print(sorted(m for m in ('rich', 'typer', 'httpx') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "[]"


def test_summaries_never_carry_control_characters() -> None:
    made = finding("tlsrpt.valid", "reports to mailto:\x1b[31mred@example.test\x00", subject="a\nb")
    assert made.summary.isprintable() and made.subject.isprintable()
    assert len(finding("spf.valid", "x" * 5000).summary) <= 600
