"""The ``--html`` report in a real browser: Debian's Chromium, headless.

Chromium loads the file with ``--dump-dom`` (the DOM after parsing, as the page shows it) and
``--enable-logging=stderr --v=0``, which writes every console message of the page to stderr as
an ``INFO:CONSOLE`` line; a page that calls ``console.error`` proves that the detection works.
The report must show the domain, every section and the findings, keep hostile peer text as
text (no ``<script>`` element, nothing run), and log nothing to the console (a blocked inline
script or external load would log a Content-Security-Policy error).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from mailprobe.render.html import render_html
from tests.unit.test_check_rules import EVIL_BANNER, sample_report

CHROMIUM = shutil.which("chromium") or (
    "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None
)
_CONSOLE = re.compile(r":CONSOLE[:(]")


@pytest.fixture(scope="module")
def chromium() -> str:
    if CHROMIUM is None:
        pytest.skip("chromium is not installed (Debian package chromium)")
    return CHROMIUM


def run_chromium(binary: str, page: Path, profile: Path, *extra: str) -> tuple[str, str]:
    """Load ``page`` headless; return (stdout, stderr). Bounded by a timeout."""
    args = [
        binary,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        "--enable-logging=stderr",
        "--v=0",
        *extra,
        page.as_uri(),
    ]
    result = subprocess.run(args, capture_output=True, text=True, timeout=90, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout, result.stderr


def console_messages(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if _CONSOLE.search(line)]


def test_console_error_detection_works(chromium: str, tmp_path: Path) -> None:
    page = tmp_path / "noisy.html"
    page.write_text(
        "<!DOCTYPE html><html><body><p>noisy</p>"
        "<script>console.error('mailprobe-detect-me')</script></body></html>"
    )
    _dom, stderr = run_chromium(chromium, page, tmp_path / "profile", "--dump-dom")
    messages = console_messages(stderr)
    assert any("mailprobe-detect-me" in m for m in messages), stderr[-2000:]


def test_report_renders_in_chromium(chromium: str, tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    page.write_text(render_html([sample_report()]), encoding="utf-8")
    dom, stderr = run_chromium(chromium, page, tmp_path / "profile", "--dump-dom")
    assert console_messages(stderr) == []
    assert "<title>mailprobe check: evil.test</title>" in dom
    for text in (
        "Mail-flow check: evil.test",
        "1. DNS",
        "2. Reachability",
        "3. SMTP",
        "4. Relay",
        "5. Policy records",
        "6. Summary",
        "PROBLEMS FOUND",
        "Skipped: --no-relay",
        "smtp.postmaster-rejected",
        "tls.not-offered",
        "spf.multiple",
        "Most important fixes",
    ):
        assert text in dom, text
    # hostile text stays text: escaped in the DOM, never an element
    assert "<script" not in dom.lower() and "<img" not in dom.lower()
    assert "&lt;script&gt;console.error('pwned')&lt;/script&gt;" in dom
    assert EVIL_BANNER.split("<")[0] in dom


def test_report_screenshot(chromium: str, tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    page.write_text(render_html([sample_report()]), encoding="utf-8")
    shot = tmp_path / "report.png"
    _out, stderr = run_chromium(
        chromium,
        page,
        tmp_path / "profile",
        f"--screenshot={shot}",
        "--window-size=1200,1600",
        "--hide-scrollbars",
    )
    assert console_messages(stderr) == []
    data = shot.read_bytes()
    assert data.startswith(b"\x89PNG") and len(data) > 10_000
