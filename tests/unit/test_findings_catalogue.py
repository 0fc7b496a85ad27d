"""The findings catalogue: every code a code path can emit is in it, nothing in it is dead,
every entry is complete, ``Finding`` refuses what the catalogue does not allow, and
docs/findings.md is generated from it."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from mailprobe import findings
from mailprobe.findings import CATALOGUE, UnknownFindingError, lookup, make
from mailprobe.model import Finding, Severity

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "mailprobe"
AREAS = "|".join(findings.AREAS)
CODE = re.compile(rf"^({AREAS})\.[a-z0-9]+(-[a-z0-9]+)*$")
CODE_PREFIX = re.compile(rf"^({AREAS})\.\S*$")


def _sources() -> list[Path]:
    return [p for p in PACKAGE.rglob("*.py") if p != PACKAGE / "findings.py"]


def _string_constants(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    ]


def test_every_code_in_the_source_is_in_the_catalogue() -> None:
    missing = [
        f"{path.relative_to(ROOT)}:{line}: {text}"
        for path in _sources()
        for line, text in _string_constants(path)
        if CODE.match(text) and text not in CATALOGUE and not _is_module_path(text)
    ]
    assert missing == []


def _is_module_path(text: str) -> bool:
    # "dns.resolver", "smtp.session" and the like are module names, not finding codes.
    return text.replace(".", "/").split("/")[0] in ("dns",) or text.startswith("smtp.session")


def test_no_code_is_assembled_at_run_time() -> None:
    # An f-string that starts like a code ("smtp.{what}-accepted") hides codes from this test
    # and from the catalogue: codes are literals, picked from tables where they vary.
    assembled = []
    for path in _sources():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.JoinedStr) and node.values:
                head = node.values[0]
                if (
                    isinstance(head, ast.Constant)
                    and isinstance(head.value, str)
                    and CODE_PREFIX.match(head.value)
                    and "-" not in head.value.split(" ")[0][-1:]
                    and " " not in head.value
                ):
                    assembled.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert assembled == []


def test_every_catalogue_code_is_used_somewhere() -> None:
    used = {text for path in _sources() for _line, text in _string_constants(path)}
    dead = sorted(code for code in CATALOGUE if code not in used)
    assert dead == []


def test_entries_are_complete() -> None:
    for code, entry in CATALOGUE.items():
        assert CODE.match(code), code
        assert entry.area in findings.AREAS, code
        assert entry.title and not entry.title.endswith(".") and len(entry.title) <= 90, code
        if any(s in (Severity.WARN, Severity.FAIL) for s in entry.severities):
            assert entry.fix, f"{code}: a problem needs a fix"
        assert bool(entry.also) == bool(entry.rule), f"{code}: several severities need a rule"
        assert entry.severity not in entry.also, code
        assert "{" not in make(code, "s", domain="d", name="n", subject="x").fix, code


def test_finding_refuses_an_unknown_code() -> None:
    with pytest.raises(UnknownFindingError, match="not in the catalogue"):
        Finding(Severity.WARN, "mx.no-such-code", "summary")


def test_finding_refuses_a_severity_the_rule_does_not_allow() -> None:
    assert lookup("mx.ok").severities == (Severity.OK,)
    with pytest.raises(UnknownFindingError, match="cannot be fail"):
        Finding(Severity.FAIL, "mx.ok", "summary")
    # a code with a documented rule accepts each of its severities
    for severity in lookup("tls.not-offered").severities:
        assert Finding(severity, "tls.not-offered", "s").severity is severity


def test_make_uses_the_catalogue_severity_and_fix() -> None:
    made = make("spf.pass-all", "summary", domain="example.org")
    assert made.severity is Severity.FAIL and "example.org" in made.fix
    assert make("smtp.no-banner", "s").fix == lookup("smtp.no-banner").fix
    assert make("smtp.no-banner", "s", fix="own").fix == "own"


def test_docs_page_is_generated_from_the_catalogue() -> None:
    page = (ROOT / "docs" / "findings.md").read_text(encoding="utf-8")
    assert page == findings.markdown(), "run: python -m mailprobe.findings > docs/findings.md"
    for code, entry in CATALOGUE.items():
        assert f'<a id="{entry.anchor}"></a>' in page, code
