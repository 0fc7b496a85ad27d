"""The ``--html`` report in a real browser: Debian's Chromium, headless.

Chromium loads the file with ``--dump-dom`` (the DOM after parsing, as the page shows it) and
``--enable-logging=stderr --v=0``, which writes every console message of the page to stderr as
an ``INFO:CONSOLE`` line; a page that calls ``console.error`` proves that the detection works.
The report must show the domain, every section and the findings, keep hostile peer text as
text (no ``<script>`` element, nothing run), and log nothing to the console (a blocked inline
script or external load would log a Content-Security-Policy error).
"""

from __future__ import annotations

import dataclasses
import html
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from mailprobe.checks.check import CheckReport, make_step, summarize
from mailprobe.checks.relay import RelayReport, relay_findings
from mailprobe.cli.app import main
from mailprobe.render.html import render_html
from mailprobe.smtp.session import TranscriptLine
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
        "Summary",
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


# -- layout at 400 and 1280 px, subjects, the relay step, the summary, a batch ---------------

LONG_HOST = "mx-" + "very-long-exchanger-name-" * 6 + "example.test"
LONG_ADDRESS = "2001:db8:ffff:ffff:ffff:ffff:ffff:1234"
ACCEPTED = ("ext-plain", "ext-percent-hack", "ext-bang-path")


def relay_report(report: CheckReport) -> CheckReport:
    """``sample_report`` with long names, a long transcript line and an open relay."""
    reason = f"3 of 12 variants accepted: {', '.join(ACCEPTED)}"
    findings = relay_findings(
        verdict="open",
        reason=reason,
        variants=(),
        probes=(),
        skipped=(),
        address=LONG_ADDRESS,
        own_domain="evil.test",
        enumeration=None,
        authenticated=None,
        sent=None,
        reconnects=0,
    )
    relay = RelayReport(
        target=LONG_HOST,
        address=LONG_ADDRESS,
        port=25,
        verdict="open",
        reason=reason,
        accepted_variants=ACCEPTED,
        server_name=None,
        own_domain="evil.test",
        own_domain_source="checked domain",
        address_literal=None,
        external_domain="example.net",
        variants=(),
        probes=(),
        skipped=(),
        enumeration=None,
        authenticated=None,
        sent=None,
        connections_opened=1,
        reconnects=0,
        seconds=1.0,
        findings=findings,
    )
    long_line = TranscriptLine(0.03, "server", "250-" + "X" * 400)
    smtp = dataclasses.replace(
        report.smtp[0],
        host=LONG_HOST,
        address=LONG_ADDRESS,
        transcript=(*report.smtp[0].transcript, long_line),
    )
    steps = tuple(make_step("relay", findings) if s.name == "relay" else s for s in report.steps)
    return dataclasses.replace(
        report,
        steps=steps,
        relay=(relay,),
        smtp=(smtp,),
        reachability=(
            dataclasses.replace(report.reachability[0], host=LONG_HOST, address=LONG_ADDRESS),
        ),
        summary=summarize(steps),
    )


def other_domain(report: CheckReport, name: str) -> CheckReport:
    return dataclasses.replace(report, domain=name, domain_ascii=name, domain_unicode=name)


def measured(page_html: str) -> str:
    """The page with a measuring script (CSP dropped for the test copy only, details open).

    It posts "scrollWidth innerWidth" to the frame holding it (``frame_of``).
    """
    script = (
        "<script>document.querySelectorAll('details').forEach(d => d.open = true);"
        "parent.postMessage(document.documentElement.scrollWidth + ' ' + window.innerWidth,"
        " '*');</script>"
    )
    csp = re.compile(r'<meta http-equiv="Content-Security-Policy"[^>]*>\n')
    assert csp.search(page_html)
    return csp.sub("", page_html).replace("</body>", script + "</body>")


def frame_of(page: Path, width: int) -> str:
    """A page showing ``page`` in a frame ``width`` px wide; it records the frame's message.

    Headless Chromium keeps windows at least 500 px wide, so 400 px is measured in a frame.
    """
    return (
        "<!DOCTYPE html><html><body style='margin:0'>"
        "<script>addEventListener('message', e => "
        "document.body.setAttribute('data-width', e.data));</script>"
        f"<iframe src='{page.name}' style='border:0;width:{width}px;height:900px'></iframe>"
        "</body></html>"
    )


@pytest.mark.parametrize("width", [400, 1280])
def test_page_fits_the_window(chromium: str, tmp_path: Path, width: int) -> None:
    for name, reports in (
        ("one", [relay_report(sample_report())]),
        ("batch", [relay_report(sample_report()), other_domain(sample_report(), "b.test")]),
    ):
        page = tmp_path / f"{name}.html"
        page.write_text(measured(render_html(reports)), encoding="utf-8")
        frame = tmp_path / f"frame-{name}.html"
        frame.write_text(frame_of(page, width), encoding="utf-8")
        dom, _stderr = run_chromium(
            chromium,
            frame,
            tmp_path / f"profile-{name}",
            "--dump-dom",
            "--allow-file-access-from-files",
            "--virtual-time-budget=5000",
            "--window-size=1400,1000",
            "--hide-scrollbars",
        )
        found = re.search(r'data-width="(\d+) (\d+)"', dom)
        assert found, dom[-2000:]
        scroll_width, inner_width = int(found[1]), int(found[2])
        assert inner_width == width
        assert scroll_width <= inner_width, (name, scroll_width, inner_width)


def test_findings_subjects_relay_and_summary(chromium: str, tmp_path: Path) -> None:
    report = relay_report(sample_report())
    page = tmp_path / "report.html"
    page.write_text(render_html([report]), encoding="utf-8")
    dom, stderr = run_chromium(chromium, page, tmp_path / "profile", "--dump-dom")
    assert console_messages(stderr) == []
    findings = [f for step in report.steps for f in step.findings]
    assert any(f.code == "relay.open" for f in findings)
    for finding in findings:
        assert finding.subject
        row = re.search(
            r'<span class="subject">([^<]*)</span>[^<]*?'
            + re.escape(html.escape(finding.summary.split("<")[0], quote=False)),
            dom,
        )
        assert row and row[1] == html.escape(finding.subject, quote=False), finding.code
    # the summary comes first and is not a numbered step; the steps are 1-5
    assert "6." not in dom
    assert dom.index('id="step-summary"') < dom.index('id="step-dns"')
    assert re.search(r"<h2>Summary <span", dom)
    for text in ("1. DNS", "2. Reachability", "3. SMTP", "4. Relay", "5. Policy records"):
        assert text in dom, text
    # the relay step: one verdict table, the list of accepted variants shown once
    relay = dom[dom.index('id="step-relay"') :]
    relay = relay[: relay.index("</section>")]
    assert relay.count("<table>") == 2  # the verdict table and the findings
    assert relay.count("OPEN RELAY") == 2  # the verdict cell and the relay.open finding
    assert relay.count(", ".join(ACCEPTED)) == 1
    assert all(relay.count(name) == 1 for name in ACCEPTED)


def test_batch_page_has_an_index(
    chromium: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    names = ["evil.test", "b.test", "c.test"]
    reports = [relay_report(sample_report())] + [
        other_domain(sample_report(), n) for n in names[1:]
    ]
    monkeypatch.setattr("mailprobe.cli.check._run", lambda *a, **k: reports)
    listing = tmp_path / "domains.txt"
    listing.write_text("\n".join(names) + "\n")
    page = tmp_path / "batch.html"
    code = main(["check", "-f", str(listing), "--no-relay", "--html", str(page)])
    capsys.readouterr()
    assert code == 1
    dom, stderr = run_chromium(chromium, page, tmp_path / "profile", "--dump-dom")
    assert console_messages(stderr) == []
    assert "<title>mailprobe check: 3 domains</title>" in dom
    assert "Mail-flow check: 3 domains" in dom
    index = dom[dom.index('id="index"') :]
    index = index[: index.index("</section>")]
    for name in names:
        assert f'<a href="#domain-{name}">{name}</a>' in index, name
        assert dom.count(f'id="domain-{name}"') == 1
        assert f'<h1 id="domain-{name}">Mail-flow check: {name}</h1>' in dom
        assert dom.count(f'id="domain-{name}-step-summary"') == 1
    for header in ("Status", "ok", "info", "warn", "fail"):
        assert f"<th>{header}</th>" in index, header
    assert index.count("PROBLEMS FOUND") == 3
    assert dom.index('id="index"') < dom.index('id="domain-evil.test"')
    ids = re.findall(r' id="([^"]+)"', dom)
    assert len(ids) == len(set(ids))  # no id twice in the page
