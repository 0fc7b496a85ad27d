"""The finding catalogue of the policy checks: every code used exists, every code is
documented in docs/policy.md, and the policy package keeps to the import rules."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import mailprobe.checks.policy as policy
from mailprobe.checks.policy.catalog import CATALOG, finding
from mailprobe.model import Severity

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = Path(policy.__file__).parent


def test_every_code_used_in_the_source_is_in_the_catalogue() -> None:
    used: set[str] = set()
    for path in PACKAGE.glob("*.py"):
        text = path.read_text(encoding="utf-8")
        used.update(re.findall(r'"((?:spf|dmarc|mtasts|tlsrpt|dane|dkim)\.[a-z0-9-]+)"', text))
    used.update(f"dmarc.policy-{p}" for p in ("none", "quarantine", "reject"))
    assert used - set(CATALOG) == set()


def test_every_code_is_documented() -> None:
    page = (ROOT / "docs" / "policy.md").read_text(encoding="utf-8")
    missing = [code for code in CATALOG if f"`{code}`" not in page]
    assert missing == []


def test_codes_are_stable_dotted_names_with_fixes_for_problems() -> None:
    for code, (severity, fix) in CATALOG.items():
        assert re.fullmatch(r"(spf|dmarc|mtasts|tlsrpt|dane|dkim)\.[a-z0-9-]+", code)
        if severity in (Severity.WARN, Severity.FAIL):
            assert fix, code


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
