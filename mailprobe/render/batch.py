"""The summary that ends a batch (``mx -f``, ``check -f``) in text mode.

Domains by status (healthy / problem / incomplete, from each domain's exit code), then the
findings most domains share: severity, code and the number of domains, most frequent first.
One record per line, so the summary stays greppable when piped. ``--json`` prints no summary.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Protocol

from mailprobe.model import ExitCode, Finding, Severity
from mailprobe.render.console import Text
from mailprobe.render.findings import SEVERITY_STYLE, print_hanging

if TYPE_CHECKING:
    from rich.console import Console

#: How many of the most frequent findings the summary lists.
TOP_FINDINGS = 10

_STATUS = {
    ExitCode.HEALTHY: "healthy",
    ExitCode.PROBLEM: "problem",
    ExitCode.INCOMPLETE: "incomplete",
}


class DomainResult(Protocol):
    """What the summary needs of one domain's report (``MxReport``, ``CheckReport``)."""

    @property
    def domain(self) -> str: ...

    @property
    def exit_code(self) -> ExitCode: ...

    @property
    def findings(self) -> tuple[Finding, ...]: ...


def frequent_findings(
    reports: Iterable[DomainResult], top: int = TOP_FINDINGS
) -> list[tuple[str, Severity, int]]:
    """``(code, severity, domains)`` of the findings (not the OK ones) found for the most
    domains, each domain counted once per code and severity; ties by severity, then code."""
    counts: Counter[tuple[str, Severity]] = Counter()
    for report in reports:
        counts.update({(f.code, f.severity) for f in report.findings if f.severity != Severity.OK})
    ranked = sorted(counts.items(), key=lambda item: (-item[1], -item[0][1].rank, item[0][0]))
    return [(code, severity, count) for (code, severity), count in ranked[:top]]


def render_batch_summary(console: Console, reports: Sequence[DomainResult]) -> None:
    """Print the summary of a batch of domains."""
    by_status: dict[str, list[str]] = {name: [] for name in _STATUS.values()}
    for report in reports:
        by_status[_STATUS.get(report.exit_code, "incomplete")].append(report.domain)
    console.rule(style="dim")
    head = Text(f"Summary: {len(reports)} domains: ", style="bold")
    head.append(", ".join(f"{len(names)} {status}" for status, names in by_status.items()))
    console.print(head)
    for status in ("problem", "incomplete"):
        if by_status[status]:
            line = Text(f"  {status + ':':<12}")
            line.append(" ".join(by_status[status]))
            print_hanging(console, line, 14)
    frequent = frequent_findings(reports)
    if not frequent:
        return
    console.print(Text("Most frequent findings (domains):", style="bold"))
    code_width = max(len(code) for code, _severity, _count in frequent)
    for code, severity, count in frequent:
        line = Text("  ")
        line.append(f"{severity.value.upper():<4}", SEVERITY_STYLE[severity])
        line.append(f" {code:<{code_width}}  {count}")
        console.print(line)
