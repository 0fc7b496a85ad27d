"""The pure rules of ``mailprobe check`` (no I/O): a step's status, the summary, --allow-private.

``make_step`` builds a ``StepResult`` (findings worst first; ``step_status`` is the one outcome
rule per step), ``summarize`` counts the findings and picks the most important fixes,
``soften_private`` turns the "not reachable from the Internet" findings into information, and
``_subject`` names an exchanger address in findings.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from mailprobe.checks.check.model import STEPS, StepResult, StepStatus, Summary
from mailprobe.model import ExitCode, Failure, Finding, Severity
from mailprobe.outcome import exit_code

#: Findings of the DNS step that only say "not reachable from the Internet"; ``allow_private``
#: turns them into information (for lab and internal set-ups).
PRIVATE_CODES = frozenset({"mx.non-public-address", "mx.no-public-exchanger"})

#: Severity order for the "most important fixes" of the summary.
_TOP_FIXES = 3


def step_status(findings: Sequence[Finding], failures: Sequence[Failure]) -> StepStatus:
    """ok / problem / incomplete, from what a step found: the one outcome rule per step."""
    return _STEP_STATUS[exit_code(findings, failures)]


_STEP_STATUS: dict[ExitCode, StepStatus] = {
    ExitCode.HEALTHY: "ok",
    ExitCode.PROBLEM: "problem",
    ExitCode.INCOMPLETE: "incomplete",
}


def make_step(
    name: str,
    findings: Sequence[Finding] = (),
    failures: Sequence[Failure] = (),
    *,
    skipped: str | None = None,
    skipped_parts: Sequence[str] = (),
) -> StepResult:
    """A ``StepResult``; ``skipped`` gives the reason a whole step did not run."""
    if skipped is not None:
        return StepResult(name, STEPS[name], "skipped", skipped, tuple(skipped_parts))
    ordered = tuple(sorted(findings, key=lambda f: -f.severity.rank))
    return StepResult(
        name,
        STEPS[name],
        step_status(ordered, failures),
        "",
        tuple(skipped_parts),
        ordered,
        tuple(failures),
    )


def summarize(steps: Sequence[StepResult]) -> Summary:
    """Counts, the three most important fixes (fail before warn, one per fix text), exit code."""
    findings = [f for s in steps for f in s.findings]
    failures = [f for s in steps for f in s.failures]
    counts = {sev.value: 0 for sev in Severity}
    for finding in findings:
        counts[finding.severity.value] += 1
    ranked = sorted(
        (f for f in findings if f.severity in (Severity.FAIL, Severity.WARN) and f.fix),
        key=lambda f: -f.severity.rank,
    )
    top: list[Finding] = []
    seen_fixes: set[str] = set()
    for finding in ranked:
        if finding.fix in seen_fixes:
            continue
        seen_fixes.add(finding.fix)
        top.append(finding)
        if len(top) == _TOP_FIXES:
            break
    code = exit_code(findings, failures)
    status = {
        ExitCode.HEALTHY: "healthy",
        ExitCode.PROBLEM: "problem",
        ExitCode.INCOMPLETE: "incomplete",
    }.get(code, "problem")
    return Summary(counts, len(failures), tuple(top), int(code), status)


def soften_private(findings: Sequence[Finding]) -> tuple[Finding, ...]:
    """``--allow-private``: non-public exchanger findings become information."""
    out: list[Finding] = []
    for finding in findings:
        if finding.code in PRIVATE_CODES and finding.severity is not Severity.INFO:
            out.append(
                dataclasses.replace(
                    finding,
                    severity=Severity.INFO,
                    summary=f"{finding.summary} (accepted with --allow-private)",
                )
            )
        else:
            out.append(finding)
    return tuple(out)


def _subject(host: str, address: str, port: int) -> str:
    where = f"[{address}]" if ":" in address else address
    return f"{host} {where}:{port}" if host != address else f"{where}:{port}"
