"""The one outcome rule: results -> status and exit code, the same for every command.

- exit 3 (incomplete) when any step could not complete: a failure whose SMTP kind says so
  (``mailprobe.smtp.failures.is_incomplete``: unreachable, timeout, dropped, 421) or any
  failure without an SMTP kind (a DNS lookup, a run's time limit);
- else exit 1 (problem) when any finding is warn or fail, unless its catalogue entry marks it
  *advisory* (shown, but never changes the exit code: ``mailprobe.findings``);
- else exit 0 (healthy).

A server that answered but broke (not SMTP, a refused greeting, STARTTLS failing) is a finding,
so exit 1, in every command. Batches combine per-item codes with ``model.worst_exit_code``.
"""

from __future__ import annotations

from collections.abc import Iterable

from mailprobe.model import ExitCode, Failure, Finding, Severity


def counts(finding: Finding) -> bool:
    """Whether a finding makes the run a problem (warn or fail, not advisory)."""
    if finding.severity not in (Severity.WARN, Severity.FAIL):
        return False
    from mailprobe.findings import lookup

    return not lookup(finding.code).advisory


def exit_code(findings: Iterable[Finding] = (), failures: Iterable[Failure] = ()) -> ExitCode:
    """The exit code a set of results earns (see the module docstring)."""
    from mailprobe.smtp.failures import is_incomplete

    if any(is_incomplete(failure) for failure in failures):
        return ExitCode.INCOMPLETE
    if any(counts(finding) for finding in findings):
        return ExitCode.PROBLEM
    return ExitCode.HEALTHY
