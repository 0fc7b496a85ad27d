"""The monitoring formats of ``--format``: a Nagios plugin line and a Prometheus exposition.

Both summarise the results a run shows (``runtime.emit`` hands every result here, one per
domain or target of a batch) and are printed once, at the end of the run
(``runtime.finish_run``):

* ``nagios``: one line ``MAILPROBE OK|WARNING|CRITICAL|UNKNOWN - <summary> | <perfdata>``
  (Nagios plugin guidelines: ``label=value[UOM];warn;crit;min;max``) and the plugin exit codes
  0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN. A counted warn finding is WARNING, a fail is
  CRITICAL, bad input or an incomplete run is UNKNOWN. A batch gets one line: the worst
  status (UNKNOWN > CRITICAL > WARNING > OK, the order of mailprobe's own exit codes) and
  counts.
* ``prometheus``: the text exposition format (``# HELP``/``# TYPE`` lines, gauges), one
  series per target (and per check of ``mailprobe check``), for the textfile collector or a
  push gateway.

Nothing here imports rich or typer; the text is redacted by the caller (``runtime``).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from mailprobe.model import ExitCode, Failure, Finding, Severity
from mailprobe.text import show_controls

#: The formats rendered here (``--format``).
MONITORING_FORMATS = ("nagios", "prometheus")

OK, WARNING, CRITICAL, UNKNOWN = 0, 1, 2, 3
STATUS_NAMES = ("OK", "WARNING", "CRITICAL", "UNKNOWN")
#: Worst first when a batch is combined (as ``model.worst_exit_code`` ranks incomplete > problem).
_RANK = {OK: 0, WARNING: 1, CRITICAL: 2, UNKNOWN: 3}
_SEVERITIES = (Severity.FAIL, Severity.WARN, Severity.INFO, Severity.OK)


@dataclasses.dataclass(frozen=True)
class CheckItem:
    """One part of a result (a step of ``mailprobe check``): its status and finding counts."""

    name: str
    status: int
    counts: Mapping[str, int]


@dataclasses.dataclass(frozen=True)
class Certificate:
    """A certificate seen on the way, with the days left before it expires."""

    host: str
    address: str
    days_left: int


@dataclasses.dataclass(frozen=True)
class Item:
    """What the monitoring formats need of one shown result (one target)."""

    command: str
    target: str
    status: int
    exit_code: int
    #: Findings by severity value ("fail", "warn", "info", "ok").
    counts: Mapping[str, int]
    #: The code of the worst counted finding, or the first failure, for the Nagios text.
    headline: str = ""
    checks: tuple[CheckItem, ...] = ()
    certificates: tuple[Certificate, ...] = ()
    seconds: float | None = None
    #: ``check --baseline``: the changes that are regressions (None without a baseline).
    regressions: int | None = None


def summarize(
    command: str,
    inputs: Mapping[str, Any],
    results: Any,
    exit_code: int,
    failures: Iterable[Failure] = (),
) -> Item:
    """The ``Item`` of one result as ``emit`` receives it."""
    findings = _findings(results)
    failures = list(failures)
    counted = [f for f in findings if _counts(f)]
    status = status_for(exit_code, counted)
    headline = ""
    if status == UNKNOWN and failures:
        headline = failures[0].one_line()
    elif counted:
        worst = max(counted, key=lambda f: f.severity.rank)
        headline = f"{worst.code}: {worst.summary}" if worst.summary else worst.code
    seconds = getattr(results, "seconds", None)
    regressions = None
    if inputs.get("baseline"):
        changes = getattr(results, "changes", ())
        regressions = sum(1 for c in changes if getattr(c, "regression", False))
    return Item(
        command=command,
        target=_target(inputs, results, command),
        status=status,
        exit_code=int(exit_code),
        counts=_count(findings),
        headline=headline,
        checks=_checks(results),
        certificates=tuple(_certificates(results)),
        seconds=float(seconds) if isinstance(seconds, int | float) else None,
        regressions=regressions,
    )


def status_for(exit_code: int, counted: Sequence[Finding]) -> int:
    """The plugin status of a result: incomplete or bad input UNKNOWN, then fail CRITICAL,
    warn WARNING (a problem exit without a counted finding is at least WARNING)."""
    if exit_code in (ExitCode.INCOMPLETE, ExitCode.USAGE):
        return UNKNOWN
    if any(f.severity is Severity.FAIL for f in counted):
        return CRITICAL
    if counted or exit_code == ExitCode.PROBLEM:
        return WARNING
    return OK


def worst_status(statuses: Iterable[int]) -> int:
    """The worst of several statuses (UNKNOWN > CRITICAL > WARNING > OK); OK for none."""
    return max(statuses, key=_RANK.__getitem__, default=OK)


# -- nagios ---------------------------------------------------------------------------------------


def nagios(items: Sequence[Item], seconds: float, command: str = "") -> tuple[str, int]:
    """The plugin line (without the line end) and the plugin exit code for a run."""
    status = worst_status(i.status for i in items)
    fails = sum(i.counts.get("fail", 0) for i in items)
    warns = sum(i.counts.get("warn", 0) for i in items)
    perf = [f"findings_fail={fails}", f"findings_warn={warns}"]
    if len(items) == 1:
        item = items[0]
        text = f"{item.command} {item.target}: {_findings_text(fails, warns)}"
        if item.headline:
            text += f"; {item.headline}"
    else:
        name = items[0].command if items else command
        per = [sum(1 for i in items if i.status == s) for s in (OK, WARNING, CRITICAL, UNKNOWN)]
        text = (
            f"{name}: {len(items)} targets, {per[0]} ok, {per[1]} warning, {per[2]} critical, "
            f"{per[3]} unknown; {_findings_text(fails, warns)}"
        )
        worst = next((i for i in items if i.status == status and status != OK), None)
        if worst is not None:
            text += f"; {worst.target}: {worst.headline or STATUS_NAMES[worst.status].lower()}"
        perf = [
            f"targets={len(items)}",
            *(f"{n.lower()}={c}" for n, c in zip(STATUS_NAMES, per, strict=True)),
            *perf,
        ]
    if any(i.regressions is not None for i in items):
        perf.append(f"regressions={sum(i.regressions or 0 for i in items)}")
    perf.append(f"seconds={_number(seconds)}s")
    return nagios_line(status, text, perf), status


def nagios_error(message: str) -> tuple[str, int]:
    """The plugin line for a run that could not start or complete (bad input): UNKNOWN."""
    return nagios_line(UNKNOWN, message, ()), UNKNOWN


def nagios_line(status: int, text: str, perf: Iterable[str]) -> str:
    """``MAILPROBE STATUS - text | perfdata``: one line, no '|' inside the text."""
    clean = show_controls(" ".join(text.split())).replace("|", "/")
    line = f"MAILPROBE {STATUS_NAMES[status]} - {clean}"
    perfdata = " ".join(perf)
    return f"{line} | {perfdata}" if perfdata else line


def _findings_text(fails: int, warns: int) -> str:
    return f"{fails} fail, {warns} warn"


# -- prometheus -----------------------------------------------------------------------------------

_METRICS: tuple[tuple[str, str], ...] = (
    ("mailprobe_status", "Status of a target: 0 ok, 1 warning, 2 critical, 3 unknown."),
    ("mailprobe_exit_code", "mailprobe exit code of a target: 0 healthy, 1 problem, 3 incomplete."),
    ("mailprobe_findings", "Findings of a target by severity."),
    ("mailprobe_check_status", "Status of one check of a target: 0 ok .. 3 unknown/skipped."),
    ("mailprobe_check_findings", "Findings of one check of a target by severity."),
    ("mailprobe_certificate_days_left", "Days before a certificate seen on the way expires."),
    ("mailprobe_probe_seconds", "Time the probe of a target took."),
    ("mailprobe_regressions", "Changes since the baseline run that are regressions."),
    ("mailprobe_targets", "Targets in this run."),
    ("mailprobe_run_seconds", "Time the whole run took."),
)


def prometheus(items: Sequence[Item], seconds: float, command: str = "") -> str:
    """The text exposition of a run (ends with a line end); duplicate series are dropped."""
    series: dict[str, dict[str, float]] = {name: {} for name, _help in _METRICS}

    def add(metric: str, labels: Mapping[str, str], value: float) -> None:
        key = _labels(labels)
        series[metric].setdefault(key, value)  # a target given twice: its first result

    for item in items:
        base = {"command": item.command, "target": item.target}
        add("mailprobe_status", base, item.status)
        add("mailprobe_exit_code", base, item.exit_code)
        for severity in _SEVERITIES:
            add(
                "mailprobe_findings",
                {**base, "severity": severity.value},
                item.counts.get(severity.value, 0),
            )
        for check in item.checks:
            labels = {**base, "check": check.name}
            add("mailprobe_check_status", labels, check.status)
            for severity in _SEVERITIES:
                add(
                    "mailprobe_check_findings",
                    {**labels, "severity": severity.value},
                    check.counts.get(severity.value, 0),
                )
        for cert in item.certificates:
            add(
                "mailprobe_certificate_days_left",
                {**base, "host": cert.host, "address": cert.address},
                cert.days_left,
            )
        if item.seconds is not None:
            add("mailprobe_probe_seconds", base, item.seconds)
        if item.regressions is not None:
            add("mailprobe_regressions", base, item.regressions)
    name = items[0].command if items else command
    add("mailprobe_targets", {"command": name}, len(items))
    add("mailprobe_run_seconds", {"command": name}, seconds)
    lines: list[str] = []
    for metric, help_text in _METRICS:
        if not series[metric]:
            continue
        lines.append(f"# HELP {metric} {_escape_help(help_text)}")
        lines.append(f"# TYPE {metric} gauge")
        lines.extend(f"{metric}{{{key}}} {_number(v)}" for key, v in series[metric].items())
    return "\n".join(lines) + "\n"


def escape_label(value: str) -> str:
    """A label value as the exposition format writes it: backslash, quote, line feed escaped
    (other non-printable characters are shown as escapes first, as everywhere in mailprobe)."""
    visible = show_controls(value)
    return visible.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def _labels(labels: Mapping[str, str]) -> str:
    return ",".join(f'{k}="{escape_label(v)}"' for k, v in labels.items())


def _number(value: float) -> str:
    if isinstance(value, int) or (math.isfinite(value) and float(value).is_integer()):
        return str(int(value))
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return f"{value:.3f}".rstrip("0").rstrip(".")


# -- reading results ------------------------------------------------------------------------------


def _counts(finding: Finding) -> bool:
    from mailprobe.outcome import counts

    return counts(finding)


def _count(findings: Iterable[Finding]) -> dict[str, int]:
    found = {s.value: 0 for s in _SEVERITIES}
    for finding in findings:
        found[finding.severity.value] += 1
    return found


def _findings(results: Any) -> list[Finding]:
    """The findings of a result: its ``findings`` (every report has one), else every
    ``Finding`` in its tree."""
    own = getattr(results, "findings", None)
    if isinstance(own, tuple | list) and all(isinstance(f, Finding) for f in own):
        return list(own)
    found: list[Finding] = []
    seen: set[int] = set()
    for node, _parents in _walk(results):
        if isinstance(node, Finding) and id(node) not in seen:
            seen.add(id(node))
            found.append(node)
    return found


def _target(inputs: Mapping[str, Any], results: Any, command: str) -> str:
    for source in (inputs, {"domain": getattr(results, "domain", None)}):
        for key in ("domain", "host", "target", "mx"):
            value = source.get(key)
            if isinstance(value, str) and value:
                return value
    return command


def _checks(results: Any) -> tuple[CheckItem, ...]:
    """The steps of a checklist (``mailprobe check``), each with its status and counts."""
    steps = getattr(results, "steps", None)
    if not isinstance(steps, tuple | list):
        return ()
    from mailprobe.outcome import exit_code

    checks = []
    for step in steps:
        name = getattr(step, "name", None)
        if not isinstance(name, str):
            continue
        findings = tuple(getattr(step, "findings", ()))
        failures = tuple(getattr(step, "failures", ()))
        state = str(getattr(getattr(step, "status", None), "value", getattr(step, "status", "")))
        status = status_for(exit_code(findings, failures), [f for f in findings if _counts(f)])
        if state in ("incomplete", "skipped"):
            status = UNKNOWN
        checks.append(CheckItem(name, status, _count(findings)))
    return tuple(checks)


def _certificates(results: Any) -> Iterable[Certificate]:
    """Every result part with a ``days_left`` (a TLS report), named by the host and address of
    the nearest part above it that has them."""
    seen: set[int] = set()
    for node, parents in _walk(results):
        days = getattr(node, "days_left", None)
        if not isinstance(days, int) or isinstance(days, bool) or id(node) in seen:
            continue
        seen.add(id(node))
        host = address = ""
        for parent in reversed((*parents, node)):
            host = host or _text(getattr(parent, "host", None))
            address = address or _text(getattr(parent, "address", None))
        yield Certificate(host, address, days)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _walk(value: Any, parents: tuple[Any, ...] = (), depth: int = 0) -> Iterable[tuple[Any, ...]]:
    """(node, its dataclass ancestors) for every dataclass and item of ``value``'s tree."""
    if depth > 40:
        return
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        yield value, parents
        for field in dataclasses.fields(value):
            if not field.name.startswith("_"):
                yield from _walk(getattr(value, field.name), (*parents, value), depth + 1)
    elif isinstance(value, tuple | list):
        for item in value:
            yield from _walk(item, parents, depth + 1)
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _walk(item, parents, depth + 1)
