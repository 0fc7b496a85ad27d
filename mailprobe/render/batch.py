"""The summary that ends a batch (``mx -f``, ``check -f``) in text mode.

Domains by status (healthy / problem / incomplete, from each domain's exit code), then the
findings most domains share: severity, code and the number of domains, most frequent first.
One record per line, so the summary stays greppable when piped. ``--json`` prints no summary.
``check --baseline`` adds the changed domains, one line per change (``render_baseline_summary``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

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


def render_batch_summary(
    console: Console,
    reports: Sequence[DomainResult],
    throttled: Mapping[str, int] | None = None,
    noun: str = "domains",
) -> None:
    """Print the summary of a batch of domains; ``throttled``: the exchanger addresses that
    answered 421 "try later" during the run, with how many times (``check``)."""
    by_status: dict[str, list[str]] = {name: [] for name in _STATUS.values()}
    for report in reports:
        by_status[_STATUS.get(report.exit_code, "incomplete")].append(report.domain)
    console.rule(style="dim")
    head = Text(f"Summary: {len(reports)} {noun}: ", style="bold")
    head.append(", ".join(f"{len(names)} {status}" for status, names in by_status.items()))
    console.print(head)
    for status in ("problem", "incomplete"):
        if by_status[status]:
            line = Text(f"  {status + ':':<12}")
            line.append(" ".join(by_status[status]))
            print_hanging(console, line, 14)
    if throttled:
        line = Text("  throttled:  ")
        line.append(
            f"{len(throttled)} exchanger addresses answered 421 (try later) "
            f"{sum(throttled.values())} times, waited out: "
        )
        line.append(", ".join(f"{where} ({count})" for where, count in throttled.items()))
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


class ChangedResult(Protocol):
    """What the baseline summary needs of one domain (``check --baseline``)."""

    @property
    def domain(self) -> str: ...

    @property
    def changes(self) -> Sequence[Any]: ...


def render_baseline_summary(
    console: Console, reports: Sequence[ChangedResult], unchecked: Sequence[str]
) -> None:
    """``check --baseline``: after a batch's summary, only the domains that changed, one line
    per change (``REGRESSION`` or ``change``), then the baseline's domains this run did not
    check (listed, never a failure: a ``--shard`` run sees only its part)."""
    changed = [r for r in reports if r.changes]
    if reports:
        regressed = sum(1 for r in changed if any(c.regression for c in r.changes))
        head = Text("Changes since baseline: ", style="bold")
        head.append(
            f"{len(changed)} of {len(reports)} domains changed, {regressed} with regressions"
        )
        console.print(head)
        width = max((len(r.domain) for r in changed), default=0)
        for report in changed:
            for change in report.changes:
                line = Text(f"  {report.domain:<{width}}  ")
                if change.regression:
                    line.append("REGRESSION", style="bold yellow")
                else:
                    line.append("change    ", style="dim")
                line.append(f"  {change.summary}")
                print_hanging(console, line, width + 16)
    if unchecked:
        line = Text("Not checked this run (in the baseline only): ", style="bold")
        line.append(" ".join(unchecked))
        print_hanging(console, line, 2)
