"""``mailprobe check --baseline PREVIOUS``: what changed for each domain since an earlier run.

The baseline is what ``mailprobe --json check`` printed before: the JSON Lines of a batch
(shards joined with ``cat`` included), or the indented document of a one-domain run.
``load_baseline`` reads it line by line (``mailprobe.files.read_lines``: a regular file or a
pipe, bounded) before the run starts, refuses anything else with one usage line naming the
file and the line (not JSON, another command's output, another ``schema_version``), and keeps
per domain only what ``diff`` reads (``slim``: no transcripts, relay variants or DNS details).
The last record of a domain wins.

``diff(previous, current)`` compares two ``results`` objects of ``check --json`` — the
baseline's and this run's, turned into the same JSON form (``model.to_jsonable``) — dict against
dict, and returns the ``Change`` list: status (exit code), MX set, exchanger addresses, SPF,
DMARC and its policy, MTA-STS record and mode, TLS-RPT, findings (identity: code and subject),
certificate days left crossing 30/14/7 days, relay verdicts. ``apply`` puts the changes on a
report and adds the step "Changes since baseline", holding the ``check.regressed`` finding
(warn) when any change is a regression, so that the one outcome rule (``mailprobe.outcome``)
makes the domain's exit code 1. Everything but ``load_baseline`` is pure.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mailprobe.checks.check.model import Change, ChangeArea, ChangeKind, StepResult
from mailprobe.checks.check.steps import step_status, summarize
from mailprobe.files import MAX_BYTES, FileError, read_lines
from mailprobe.model import SCHEMA_VERSION, Finding, to_jsonable

if TYPE_CHECKING:
    from mailprobe.checks.check.model import CheckReport

#: The step ``apply`` adds to a report that changed.
STEP_NAME = "baseline"
STEP_TITLE = "Changes since baseline"
#: The finding a domain with regressions gets.
REGRESSED = "check.regressed"
#: Certificate days-left thresholds whose crossing is a change (downward: a regression).
CERTIFICATE_THRESHOLDS = (30, 14, 7)
#: The most a baseline file may hold (read line by line; only a small digest per domain is
#: kept), and the most one document in it may hold.
MAX_BASELINE_BYTES = 4 * 1024 * 1024 * 1024
MAX_DOCUMENT_BYTES = MAX_BYTES

#: Findings are compared when they are problems (warn, fail): ok and info ones are notes, some
#: of which vary from run to run (a throttling exchanger, which domain of a batch ran a shared
#: relay battery). A finding that drops to info or ok is resolved. This feature's own finding
#: is never compared.
_PROBLEMS = frozenset({"warn", "fail"})
_IGNORED_CODES = frozenset({REGRESSED})
_SEVERITY_RANK = {"ok": 0, "info": 1, "warn": 2, "fail": 3}
_EXIT_RANK = {0: 0, 1: 1, 3: 2}
_STATUS = {0: "healthy", 1: "problem", 3: "incomplete"}
_DMARC_RANK = {"none": 0, "quarantine": 1, "reject": 2}
_STS_RANK = {"none": 0, "testing": 1, "enforce": 2}
_RELAY_RANK = {"closed": 0, "inconclusive": 1, "open": 2}


# -- the baseline file -----------------------------------------------------------------------


@dataclasses.dataclass
class Baseline:
    """An earlier run's results, by domain (A-label, lower case): what ``diff`` needs."""

    path: str
    domains: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)

    def previous(self, domain: str) -> dict[str, Any] | None:
        """The baseline's results of ``domain`` (slimmed), or None when it has none."""
        return self.domains.get(domain_key(domain))

    def apply(self, report: CheckReport) -> CheckReport:
        """``report`` with its changes since this baseline (see ``apply``)."""
        return apply(report, self.previous(report.domain_ascii))

    def unchecked(self, checked: Iterable[str], shard: str | None = None) -> list[str]:
        """The baseline's domains that are not in ``checked``, in baseline order; with a
        shard (``K/N``) only those of that shard (the others are other hosts' part)."""
        seen = {domain_key(name) for name in checked}
        missing = [name for name in self.domains if name not in seen]
        if shard is None:
            return missing
        from mailprobe.cli.shard import parse_shard, shard_of

        index, count = parse_shard(shard)
        return [name for name in missing if shard_of(name, count) == index]


def domain_key(name: str) -> str:
    """How domains are matched with the baseline: A-label, lower case, no trailing dot."""
    return name.strip().rstrip(".").lower()


def load_baseline(path: Path | str, what: str = "--baseline") -> Baseline:
    """Read and index the output of an earlier ``mailprobe --json check`` run.

    JSON Lines (one compact document per line; blank lines are skipped) or indented documents
    (``{`` alone on a line up to ``}`` alone on a line, as a one-domain run prints). Anything
    else is a ``FileError`` (exit 2): ``--baseline PATH: line N: <problem>``.
    """
    label = f"{what} {path}"
    baseline = Baseline(str(path))
    block: list[str] = []
    block_start = block_size = 0
    lines = read_lines(path, what, limit=MAX_BASELINE_BYTES, line_limit=MAX_DOCUMENT_BYTES)
    for number, line in lines:
        if block:
            block.append(line)
            block_size += len(line) + 1
            if block_size > MAX_DOCUMENT_BYTES:
                raise FileError(label, f"line {block_start}: a document longer than 5 MB")
            if line.rstrip() == "}":
                _index(baseline, _parse("\n".join(block), label, block_start), label, block_start)
                block = []
            continue
        text = line.strip()
        if not text:
            continue
        if text == "{":
            block, block_start, block_size = [line], number, len(line) + 1
            continue
        _index(baseline, _parse(text, label, number), label, number)
    if block:
        raise FileError(label, f"line {block_start}: not JSON (the document never ends)")
    return baseline


def _parse(text: str, label: str, number: int) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        where = number + exc.lineno - 1
        raise FileError(
            label, f"line {where}: not JSON ({exc.msg}); expected 'mailprobe --json check' output"
        ) from None
    except RecursionError:
        raise FileError(label, f"line {number}: not JSON (nested too deeply)") from None


def _index(baseline: Baseline, document: Any, label: str, number: int) -> None:
    """Check one document and keep its digest under its domain (the last one wins)."""

    def refuse(problem: str) -> FileError:
        return FileError(label, f"line {number}: {problem}")

    if not isinstance(document, dict) or document.get("tool") != "mailprobe":
        raise refuse("not a mailprobe JSON document (expected 'mailprobe --json check' output)")
    version = document.get("schema_version")
    major = _major(version)
    if major != SCHEMA_VERSION:
        shown = json.dumps(version)[:20]
        raise refuse(
            f"schema_version {shown} is not supported (this mailprobe reads {SCHEMA_VERSION})"
        )
    command = document.get("command")
    if command != "check":
        shown = command if isinstance(command, str) else json.dumps(command)
        raise refuse(f"output of 'mailprobe {shown[:30]}', not of 'mailprobe check'")
    results = _dict(document.get("results"))
    domain = results.get("domain_ascii")
    if not isinstance(domain, str) or not domain.strip():
        raise refuse("a check document without results.domain_ascii")
    key = domain_key(domain)
    baseline.domains.pop(key, None)  # the last record wins, and takes the last place
    baseline.domains[key] = slim(results)


def _major(version: Any) -> int | None:
    """The major number of a ``schema_version`` (1, or "1.2" from a later layout)."""
    if isinstance(version, int) and not isinstance(version, bool):
        return version
    if isinstance(version, str):
        head = version.strip().partition(".")[0]
        if head.isascii() and head.isdigit():
            return int(head)
    return None


# -- what the diff reads ---------------------------------------------------------------------


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _path(value: Any, *keys: str) -> Any:
    for key in keys:
        value = _dict(value).get(key)
    return value


def slim(results: Mapping[str, Any]) -> dict[str, Any]:
    """The part of a check's ``results`` that ``diff`` reads, in the same shape (so ``diff``
    takes either); what a baseline keeps per domain."""
    policy = results.get("policy")
    slim_policy: dict[str, Any] | None = None
    if isinstance(policy, dict):
        slim_policy = {
            "spf": {"records": _list(_path(policy, "spf", "records"))},
            "dmarc": {
                "records": _list(_path(policy, "dmarc", "records")),
                "parsed": {"policy": _path(policy, "dmarc", "parsed", "policy")},
            },
            "mta_sts": {
                "records": _list(_path(policy, "mta_sts", "records")),
                "record": {"id": _path(policy, "mta_sts", "record", "id")},
                "policy": {"mode": _path(policy, "mta_sts", "policy", "mode")},
            },
            "tls_rpt": {"records": _list(_path(policy, "tls_rpt", "records"))},
        }
    return {
        "domain_ascii": results.get("domain_ascii"),
        "exchangers": [
            {key: _dict(e).get(key) for key in ("preference", "host", "addresses")}
            for e in _list(results.get("exchangers"))
        ],
        "steps": [
            {
                "name": _dict(step).get("name"),
                "status": _dict(step).get("status"),
                "findings": [
                    {key: _dict(f).get(key) for key in ("severity", "code", "subject", "summary")}
                    for f in _list(_dict(step).get("findings"))
                    if _dict(f).get("severity") in _PROBLEMS
                ],
            }
            for step in _list(results.get("steps"))
            if _dict(step).get("name") != STEP_NAME
        ],
        "smtp": [
            {
                "host": _dict(c).get("host"),
                "address": _dict(c).get("address"),
                "tls": {"days_left": _path(c, "tls", "days_left")},
            }
            for c in _list(results.get("smtp"))
        ],
        "relay": [
            {key: _dict(r).get(key) for key in ("target", "address", "verdict")}
            for r in _list(results.get("relay"))
        ],
        "policy": slim_policy,
        "summary": {key: _path(results, "summary", key) for key in ("exit_code", "status")},
    }


# -- the diff ----------------------------------------------------------------------------------


def diff(previous: Mapping[str, Any], current: Mapping[str, Any]) -> list[Change]:
    """What changed from ``previous`` to ``current`` (two ``results`` of ``check --json``, whole
    or ``slim``): status, MX and addresses, policy records, relay verdicts, certificates,
    findings, in that order. ``regression`` marks what got worse."""
    changes = _status(previous, current)
    if _exchangers_known(previous) and _exchangers_known(current):
        changes += _exchangers(previous, current)
    before, after = previous.get("policy"), current.get("policy")
    if isinstance(before, dict) and isinstance(after, dict):
        changes += _policy(before, after)
    changes += _relay(previous, current)
    changes += _certificates(previous, current)
    changes += _findings(previous, current)
    return changes


def new_domain(domain: str) -> Change:
    """The change of a domain the baseline does not have (not a regression)."""
    return Change("domain", "added", "", None, domain, False, "new domain: not in the baseline")


def _change(
    area: ChangeArea,
    subject: str,
    before: str | None,
    after: str | None,
    regression: bool,
    summary: str,
) -> Change:
    kind: ChangeKind = "added" if before is None else "removed" if after is None else "changed"
    return Change(area, kind, subject, before, after, regression, summary)


def own_exit_code(results: Mapping[str, Any]) -> int | None:
    """The exit code of a run's results without the ``check.regressed`` finding (a baseline
    written by a ``--baseline`` run is compared on what it found, not on its own diff)."""
    code = _path(results, "summary", "exit_code")
    if not isinstance(code, int) or isinstance(code, bool):
        return None
    if code != 1:
        return code
    counting = any(
        _counts(_str(f.get("code")), _str(f.get("severity")))
        for f in _findings_of(results)
        if f.get("code") != REGRESSED
    )
    return 1 if counting else 0


def _counts(code: str, severity: str) -> bool:
    """Whether a finding makes a run a problem (``outcome.counts`` on JSON data; a code this
    version does not know counts)."""
    if severity not in ("warn", "fail"):
        return False
    from mailprobe.findings import CATALOGUE

    entry = CATALOGUE.get(code)
    return entry is None or not entry.advisory


def _status(previous: Mapping[str, Any], current: Mapping[str, Any]) -> list[Change]:
    before, after = own_exit_code(previous), own_exit_code(current)
    if before is None or after is None or before == after:
        return []
    was = f"{_STATUS.get(before, 'exit')} ({before})"
    now = f"{_STATUS.get(after, 'exit')} ({after})"
    worse = _EXIT_RANK.get(after, 3) > _EXIT_RANK.get(before, 3)
    return [_change("exit-code", "", was, now, worse, f"status {was} -> {now}")]


def _exchangers_known(results: Mapping[str, Any]) -> bool:
    """False when the exchangers are unknown, not absent: no exchanger and an incomplete DNS
    step (the MX lookup failed; the status change says so)."""
    if _list(results.get("exchangers")):
        return True
    return not any(
        _dict(s).get("name") == "dns" and _dict(s).get("status") == "incomplete"
        for s in _list(results.get("steps"))
    )


def _mx(results: Mapping[str, Any]) -> dict[str, tuple[str, list[str]]]:
    """Exchanger host -> (preference as text, sorted addresses)."""
    found: dict[str, tuple[str, list[str]]] = {}
    for exchanger in _list(results.get("exchangers")):
        host = domain_key(_str(_dict(exchanger).get("host")))
        if not host or host in found:
            continue
        preference = _dict(exchanger).get("preference")
        addresses = sorted({_str(a) for a in _list(_dict(exchanger).get("addresses")) if a})
        found[host] = (str(preference), addresses)
    return found


def _exchangers(previous: Mapping[str, Any], current: Mapping[str, Any]) -> list[Change]:
    before, after = _mx(previous), _mx(current)
    changes: list[Change] = []
    for host, (preference, _addresses) in before.items():
        if host not in after:
            was = f"{preference} {host}"
            changes.append(_change("mx", host, was, None, True, f"MX {was} removed"))
    for host, (preference, addresses) in after.items():
        if host not in before:
            now = f"{preference} {host}"
            changes.append(_change("mx", host, None, now, False, f"MX {now} added"))
            continue
        old_preference, old_addresses = before[host]
        if old_preference != preference:
            changes.append(
                _change(
                    "mx",
                    host,
                    f"{old_preference} {host}",
                    f"{preference} {host}",
                    False,
                    f"MX {host}: preference {old_preference} -> {preference}",
                )
            )
        for address in old_addresses:
            if address not in addresses:
                summary = f"{host}: address {address} removed"
                changes.append(_change("address", host, address, None, True, summary))
        for address in addresses:
            if address not in old_addresses:
                summary = f"{host}: address {address} added"
                changes.append(_change("address", host, None, address, False, summary))
    return changes


def _records_text(policy: Mapping[str, Any], part: str) -> str | None:
    records = sorted(_str(r) for r in _list(_path(policy, part, "records")))
    return " | ".join(records) or None


def _record_change(area: ChangeArea, label: str, before: str | None, after: str | None) -> Change:
    if before is None:
        summary = f"{label} record published: {after}"
    elif after is None:
        summary = f"{label} record removed (was {before})"
    else:
        summary = f"{label} record changed: {before} -> {after}"
    return _change(area, "", before, after, False, summary)


#: The policy records compared: area, key under ``policy``, label.
_RECORDS: tuple[tuple[ChangeArea, str, str], ...] = (
    ("spf", "spf", "SPF"),
    ("dmarc", "dmarc", "DMARC"),
    ("mta-sts", "mta_sts", "MTA-STS"),
    ("tls-rpt", "tls_rpt", "TLS-RPT"),
)


def _policy(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[Change]:
    changes: list[Change] = []
    for area, part, label in _RECORDS:
        was, now = _records_text(before, part), _records_text(after, part)
        if was != now:
            change = _record_change(area, label, was, now)
            old_id = _path(before, "mta_sts", "record", "id")
            new_id = _path(after, "mta_sts", "record", "id")
            if part == "mta_sts" and was and now and old_id and new_id and old_id != new_id:
                change = dataclasses.replace(
                    change, summary=f"MTA-STS record id {old_id} -> {new_id}"
                )
            changes.append(change)
        if part == "dmarc":
            changes += _ranked(
                "dmarc-policy",
                _path(before, "dmarc", "parsed", "policy"),
                _path(after, "dmarc", "parsed", "policy"),
                _DMARC_RANK,
                "DMARC policy",
                "p=",
            )
        if part == "mta_sts":
            changes += _ranked(
                "mta-sts-mode",
                _path(before, "mta_sts", "policy", "mode"),
                _path(after, "mta_sts", "policy", "mode"),
                _STS_RANK,
                "MTA-STS policy mode",
                "",
            )
    return changes


def _ranked(
    area: ChangeArea,
    before: Any,
    after: Any,
    ranks: Mapping[str, int],
    label: str,
    prefix: str,
) -> list[Change]:
    """A policy setting that can weaken (DMARC p=, MTA-STS mode); absent is the weakest."""
    was = _str(before).lower() or None
    now = _str(after).lower() or None
    if was == now:
        return []
    weaker = ranks.get(now or "", -1) < ranks.get(was or "", -1)
    shown_was = f"{prefix}{was}" if was else "(none)"
    shown_now = f"{prefix}{now}" if now else "(none)"
    summary = f"{label} {shown_was} -> {shown_now}"
    return [_change(area, "", was, now, weaker, summary)]


def _relay(previous: Mapping[str, Any], current: Mapping[str, Any]) -> list[Change]:
    def verdicts(results: Mapping[str, Any]) -> dict[str, str]:
        found: dict[str, str] = {}
        for relay in _list(results.get("relay")):
            target, address = _str(_dict(relay).get("target")), _str(_dict(relay).get("address"))
            subject = f"{target} [{address}]" if address else target
            verdict = _str(_dict(relay).get("verdict"))
            if verdict:
                found.setdefault(subject, verdict)
        return found

    before, after = verdicts(previous), verdicts(current)
    changes: list[Change] = []
    for subject, now in after.items():
        was = before.get(subject)
        if was is None or was == now:
            continue  # a battery that did not run on one side (--no-relay, unreachable)
        worse = _RELAY_RANK.get(now, 3) > _RELAY_RANK.get(was, 3)
        summary = f"relay verdict of {subject}: {was} -> {now}"
        changes.append(_change("relay", subject, was, now, worse, summary))
    return changes


def _band(days: int) -> int:
    """How many thresholds ``days`` is below (0: 30 days or more left; 4: expired)."""
    return sum(1 for limit in (*CERTIFICATE_THRESHOLDS, 0) if days < limit)


def _days(count: int) -> str:
    return f"{count} day{'' if count == 1 else 's'}"


def _certificates(previous: Mapping[str, Any], current: Mapping[str, Any]) -> list[Change]:
    def days(results: Mapping[str, Any]) -> dict[str, int]:
        found: dict[str, int] = {}
        for check in _list(results.get("smtp")):
            left = _path(check, "tls", "days_left")
            if isinstance(left, int) and not isinstance(left, bool):
                host, address = _str(_dict(check).get("host")), _str(_dict(check).get("address"))
                found.setdefault(f"{host} [{address}]" if address else host, left)
        return found

    before, after = days(previous), days(current)
    changes: list[Change] = []
    for subject, now in after.items():
        was = before.get(subject)
        if was is None or _band(was) == _band(now):
            continue
        if _band(now) > _band(was):
            if now < 0:
                summary = f"certificate of {subject} expired {_days(-now)} ago (was {was} left)"
            else:
                crossed = min(t for t in CERTIFICATE_THRESHOLDS if now < t <= was)
                summary = (
                    f"certificate of {subject} expires in {now} days (was {was}: crossed "
                    f"{crossed} days)"
                )
            changes.append(_change("certificate", subject, f"{was}", f"{now}", True, summary))
        else:
            summary = f"certificate of {subject} renewed: {now} days left (was {was})"
            changes.append(_change("certificate", subject, f"{was}", f"{now}", False, summary))
    return changes


def _findings_of(
    results: Mapping[str, Any], leave_out: frozenset[str] = frozenset()
) -> list[dict[str, Any]]:
    """The findings of every step but ``leave_out`` (and the baseline step)."""
    return [
        _dict(f)
        for step in _list(results.get("steps"))
        if _dict(step).get("name") not in (STEP_NAME, *leave_out)
        for f in _list(_dict(step).get("findings"))
    ]


def _skipped_steps(results: Mapping[str, Any]) -> frozenset[str]:
    return frozenset(
        _str(_dict(s).get("name"))
        for s in _list(results.get("steps"))
        if _dict(s).get("status") == "skipped"
    )


def _finding_index(
    results: Mapping[str, Any], leave_out: frozenset[str]
) -> dict[tuple[str, str], tuple[str, str]]:
    """(code, subject) -> (worst severity, summary) of the problem findings (warn, fail)."""
    found: dict[tuple[str, str], tuple[str, str]] = {}
    for finding in _findings_of(results, leave_out):
        code, severity = _str(finding.get("code")), _str(finding.get("severity"))
        if not code or code in _IGNORED_CODES or severity not in _PROBLEMS:
            continue
        key = (code, _str(finding.get("subject")))
        old = found.get(key)
        if old is None or _SEVERITY_RANK[severity] > _SEVERITY_RANK[old[0]]:
            found[key] = (severity, _str(finding.get("summary")))
    return found


def _named(code: str, subject: str, summary: str = "") -> str:
    """``code (subject)``, the subject left out when empty or already in the summary."""
    return f"{code} ({subject})" if subject and subject not in summary else code


def _findings(previous: Mapping[str, Any], current: Mapping[str, Any]) -> list[Change]:
    # A step that did not run in one of the runs (--no-relay, SMTP after an unreachable
    # exchanger, policy after a failed MX lookup) has nothing to compare: its findings did not
    # go away, they were not looked for.
    leave_out = _skipped_steps(previous) | _skipped_steps(current)
    before, after = _finding_index(previous, leave_out), _finding_index(current, leave_out)
    changes: list[Change] = []
    for (code, subject), (severity, summary) in after.items():
        name = _named(code, subject)
        old = before.get((code, subject))
        if old is None:
            text = f"new finding [{severity}] {_named(code, subject, summary)}: {summary}"
            regression = _counts(code, severity)
            changes.append(_change("finding", name, None, severity, regression, text))
        elif old[0] != severity:
            rose = _SEVERITY_RANK[severity] > _SEVERITY_RANK[old[0]]
            text = f"{name}: {old[0]} -> {severity}: {summary}"
            regression = rose and _counts(code, severity)
            changes.append(_change("finding", name, old[0], severity, regression, text))
    for (code, subject), (severity, summary) in before.items():
        if (code, subject) not in after:
            text = f"resolved [{severity}] {_named(code, subject, summary)}: {summary}"
            changes.append(_change("finding", _named(code, subject), severity, None, False, text))
    return changes


# -- the report ---------------------------------------------------------------------------------


def regression_finding(domain: str, changes: Iterable[Change]) -> Finding | None:
    """The ``check.regressed`` finding naming the regressions (None when there is none)."""
    from mailprobe.findings import make

    regressions = [c for c in changes if c.regression]
    if not regressions:
        return None
    shown = "; ".join(c.summary for c in regressions[:3])
    more = f"; and {len(regressions) - 3} more" if len(regressions) > 3 else ""
    count = f"{len(regressions)} regression{'s' if len(regressions) != 1 else ''}"
    return make(REGRESSED, f"{count} since the baseline: {shown}{more}", subject=domain)


def apply(report: CheckReport, previous: Mapping[str, Any] | None) -> CheckReport:
    """``report`` with ``changes`` since ``previous`` (the baseline's results of its domain;
    None: a new domain) and, when anything changed, the step "Changes since baseline" (its
    finding ``check.regressed`` when something got worse) and the summary counted again."""
    if previous is None:
        changes = [new_domain(report.domain_ascii)]
    else:
        changes = diff(previous, slim(to_jsonable(report)))
    if not changes:
        return report
    finding = regression_finding(report.domain_ascii, changes)
    findings = (finding,) if finding is not None else ()
    step = StepResult(STEP_NAME, STEP_TITLE, step_status(findings, ()), findings=findings)
    steps = (*report.steps, step)
    return dataclasses.replace(
        report, steps=steps, summary=summarize(steps), changes=tuple(changes)
    )
