"""``check --baseline``: the pure diff of two check results, the baseline file, the report.

``results(...)`` builds a ``results`` object in the JSON form ``check --json`` prints (the
parts the diff reads, plus a transcript it must not keep); each test changes one thing.
"""

from __future__ import annotations

import copy
import io
import json
import os
import threading
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from mailprobe.checks.check import CheckReport, Target, make_step, summarize
from mailprobe.checks.check.baseline import (
    REGRESSED,
    STEP_NAME,
    Baseline,
    apply,
    diff,
    load_baseline,
    own_exit_code,
    slim,
)
from mailprobe.cli.shard import shard_of
from mailprobe.errors import UsageError
from mailprobe.files import FileError
from mailprobe.model import Finding, Severity, envelope, to_jsonable
from mailprobe.render import monitoring
from mailprobe.render.batch import render_baseline_summary
from mailprobe.render.check import render_check
from mailprobe.render.html import render_html
from mailprobe.schema import validate_document

# -- building results ---------------------------------------------------------------------------


def finding(severity: str, code: str, subject: str = "", summary: str = "") -> dict[str, Any]:
    return {
        "severity": severity,
        "code": code,
        "summary": summary or f"summary of {code}",
        "fix": "",
        "subject": subject,
    }


def results(
    *,
    exit_code: int = 0,
    mx: tuple[tuple[int, str, tuple[str, ...]], ...] = ((10, "mx1.example.test", ("192.0.2.1",)),),
    findings: tuple[dict[str, Any], ...] = (),
    spf: tuple[str, ...] = ("v=spf1 mx -all",),
    dmarc: tuple[str, ...] = ("v=DMARC1; p=reject",),
    dmarc_policy: str | None = "reject",
    sts: tuple[str, ...] = ("v=STSv1; id=20260101",),
    sts_id: str | None = "20260101",
    sts_mode: str | None = "enforce",
    tlsrpt: tuple[str, ...] = ("v=TLSRPTv1; rua=mailto:tls@example.test",),
    days_left: int | None = 90,
    relay: str | None = "closed",
    dns_status: str = "ok",
    policy: bool = True,
) -> dict[str, Any]:
    status = {0: "healthy", 1: "problem", 3: "incomplete"}[exit_code]
    return {
        "domain": "example.test",
        "domain_ascii": "example.test",
        "domain_unicode": "example.test",
        "exchangers": [{"preference": p, "host": h, "addresses": list(a)} for p, h, a in mx],
        "steps": [
            {"name": "dns", "status": dns_status, "findings": [finding("ok", "mx.ok")]},
            {"name": "smtp", "status": "ok", "findings": list(findings)},
        ],
        "smtp": [
            {
                "host": "mx1.example.test",
                "address": "192.0.2.1",
                "tls": None
                if days_left is None
                else {"days_left": days_left, "version": "TLSv1.3"},
                "transcript": [{"at": 0.0, "side": "server", "text": "220 hello"}],
            }
        ],
        "relay": []
        if relay is None
        else [{"target": "mx1.example.test", "address": "192.0.2.1", "verdict": relay}],
        "policy": {
            "spf": {"records": list(spf)},
            "dmarc": {
                "records": list(dmarc),
                "parsed": None if dmarc_policy is None else {"policy": dmarc_policy},
            },
            "mta_sts": {
                "records": list(sts),
                "record": None if sts_id is None else {"id": sts_id},
                "policy": None if sts_mode is None else {"mode": sts_mode},
            },
            "tls_rpt": {"records": list(tlsrpt)},
        }
        if policy
        else None,
        "summary": {"exit_code": exit_code, "status": status},
    }


def areas(changes: list[Any]) -> list[tuple[str, str, bool]]:
    return [(c.area, c.kind, c.regression) for c in changes]


# -- the diff -----------------------------------------------------------------------------------


def test_nothing_changed() -> None:
    assert diff(results(), results()) == []
    assert diff(slim(results()), results()) == []


def test_slim_keeps_what_the_diff_reads_and_no_transcript() -> None:
    before = results(findings=(finding("warn", "tls.not-offered", "mx1"),))
    after = results(exit_code=1, mx=(), spf=(), dmarc_policy="none", relay="open", days_left=5)
    small = slim(before)
    assert "transcript" not in json.dumps(small)
    assert diff(small, slim(after)) == diff(before, after)
    assert slim(small) == small


@pytest.mark.parametrize(
    ("before", "after", "regression"),
    [(0, 1, True), (1, 3, True), (0, 3, True), (1, 0, False), (3, 1, False), (3, 0, False)],
)
def test_exit_code(before: int, after: int, regression: bool) -> None:
    problem = (finding("warn", "tls.not-offered", "mx1"),)
    (change,) = [
        c
        for c in diff(
            results(exit_code=before, findings=problem if before == 1 else ()),
            results(exit_code=after, findings=problem if after == 1 else ()),
        )
        if c.area == "exit-code"
    ]
    assert change.kind == "changed" and change.regression is regression
    assert change.before is not None and change.before.endswith(f"({before})")
    assert change.after is not None and change.after.endswith(f"({after})")


def test_a_baseline_written_with_baseline_is_compared_on_its_own_findings() -> None:
    previous = results(exit_code=1)
    previous["steps"].append(
        {"name": STEP_NAME, "status": "problem", "findings": [finding("warn", REGRESSED)]}
    )
    previous["steps"][1]["findings"].append(finding("warn", REGRESSED, "example.test"))
    assert own_exit_code(previous) == 0
    assert diff(previous, results()) == []


def test_mx_removed_added_and_preference() -> None:
    before = results(mx=((10, "mx1.example.test", ("192.0.2.1",)), (20, "mx2.example.test", ())))
    after = results(mx=((30, "MX1.example.test.", ("192.0.2.1",)), (5, "mx3.example.test", ())))
    changes = diff(before, after)
    assert areas(changes) == [
        ("mx", "removed", True),
        ("mx", "changed", False),
        ("mx", "added", False),
    ]
    assert changes[0].before == "20 mx2.example.test" and changes[0].after is None
    assert changes[1].summary == "MX mx1.example.test: preference 10 -> 30"
    assert changes[2].after == "5 mx3.example.test"


def test_addresses_removed_is_a_regression_added_is_not() -> None:
    before = results(mx=((10, "mx1.example.test", ("192.0.2.1", "2001:db8::1")),))
    after = results(mx=((10, "mx1.example.test", ("192.0.2.1", "192.0.2.9")),))
    changes = diff(before, after)
    assert [(c.area, c.kind, c.subject, c.before, c.after, c.regression) for c in changes] == [
        ("address", "removed", "mx1.example.test", "2001:db8::1", None, True),
        ("address", "added", "mx1.example.test", None, "192.0.2.9", False),
    ]


def test_a_failed_mx_lookup_is_a_status_change_not_every_mx_removed() -> None:
    changes = diff(results(), results(exit_code=3, mx=(), dns_status="incomplete", policy=False))
    assert areas(changes) == [("exit-code", "changed", True)]


def test_null_mx_now_removes_the_exchangers() -> None:
    changes = diff(results(), results(mx=()))
    assert areas(changes) == [("mx", "removed", True)]


@pytest.mark.parametrize(
    ("before", "after", "kind", "summary"),
    [
        (("v=spf1 mx -all",), ("v=spf1 mx ~all",), "changed", "SPF record changed: "),
        ((), ("v=spf1 -all",), "added", "SPF record published: v=spf1 -all"),
        (("v=spf1 -all",), (), "removed", "SPF record removed (was v=spf1 -all)"),
    ],
)
def test_spf_record(
    before: tuple[str, ...], after: tuple[str, ...], kind: str, summary: str
) -> None:
    (change,) = diff(results(spf=before), results(spf=after))
    assert (change.area, change.kind, change.regression) == ("spf", kind, False)
    assert change.summary.startswith(summary)


def test_record_order_is_not_a_change() -> None:
    assert diff(results(spf=("a", "b")), results(spf=("b", "a"))) == []


@pytest.mark.parametrize(
    ("before", "after", "regression"),
    [
        ("reject", "none", True),
        ("reject", "quarantine", True),
        ("quarantine", "none", True),
        ("reject", None, True),
        ("none", "reject", False),
        (None, "none", False),
        ("quarantine", "reject", False),
    ],
)
def test_dmarc_policy(before: str | None, after: str | None, regression: bool) -> None:
    changes = diff(
        results(dmarc=(f"v=DMARC1; p={before}",) if before else (), dmarc_policy=before),
        results(dmarc=(f"v=DMARC1; p={after}",) if after else (), dmarc_policy=after),
    )
    assert [c.area for c in changes] == ["dmarc", "dmarc-policy"]
    record, policy = changes
    assert record.regression is False
    assert (policy.before, policy.after, policy.regression) == (before, after, regression)
    shown = f"p={after}" if after else "(none)"
    assert policy.summary.endswith(f"-> {shown}")


def test_dmarc_record_change_keeping_the_policy() -> None:
    changes = diff(results(), results(dmarc=("v=DMARC1; p=reject; rua=mailto:d@example.test",)))
    assert areas(changes) == [("dmarc", "changed", False)]


def test_mta_sts_record_id() -> None:
    changes = diff(results(), results(sts=("v=STSv1; id=20260301",), sts_id="20260301"))
    assert areas(changes) == [("mta-sts", "changed", False)]
    assert changes[0].summary == "MTA-STS record id 20260101 -> 20260301"


@pytest.mark.parametrize(
    ("before", "after", "regression"),
    [
        ("enforce", "testing", True),
        ("enforce", "none", True),
        ("enforce", None, True),
        ("testing", "none", True),
        ("testing", "enforce", False),
        (None, "testing", False),
    ],
)
def test_mta_sts_mode(before: str | None, after: str | None, regression: bool) -> None:
    (change,) = diff(results(sts_mode=before), results(sts_mode=after))
    assert (change.area, change.before, change.after) == ("mta-sts-mode", before, after)
    assert change.regression is regression


def test_tls_rpt_record() -> None:
    (change,) = diff(results(), results(tlsrpt=()))
    assert (change.area, change.kind, change.regression) == ("tls-rpt", "removed", False)


def test_policy_skipped_on_one_side_is_not_compared() -> None:
    assert diff(results(policy=False), results()) == []


def test_findings_appear_resolve_and_change_severity() -> None:
    before = results(
        findings=(
            finding("warn", "tls.not-offered", "mx1 192.0.2.1:25"),
            finding("fail", "spf.multiple", "example.test"),
            finding("warn", "tls.expires-soon", "mx1"),
        )
    )
    after = results(
        findings=(
            finding("fail", "tls.not-offered", "mx1 192.0.2.1:25"),  # rose
            finding("warn", "dmarc.policy-none", "example.test", "p=none: nothing enforced"),
            finding("info", "dane.missing", "mx1"),  # info and ok findings are not compared
            finding("ok", "tls.ok", "mx1"),
        )
    )
    changes = {c.subject: c for c in diff(before, after)}
    assert set(changes) == {
        "tls.not-offered (mx1 192.0.2.1:25)",
        "dmarc.policy-none (example.test)",
        "spf.multiple (example.test)",
        "tls.expires-soon (mx1)",
    }
    rose = changes["tls.not-offered (mx1 192.0.2.1:25)"]
    assert (rose.kind, rose.before, rose.after, rose.regression) == (
        "changed",
        "warn",
        "fail",
        True,
    )
    new = changes["dmarc.policy-none (example.test)"]
    assert (new.kind, new.after, new.regression) == ("added", "warn", True)
    assert new.summary == (
        "new finding [warn] dmarc.policy-none (example.test): p=none: nothing enforced"
    )
    resolved = changes["spf.multiple (example.test)"]
    assert (resolved.kind, resolved.before, resolved.after) == ("removed", "fail", None)
    assert resolved.regression is False and resolved.summary.startswith("resolved [fail]")


def test_findings_of_a_step_skipped_in_one_run_are_not_compared() -> None:
    before = results(relay=None)
    before["steps"].append(
        {"name": "relay", "status": "problem", "findings": [finding("warn", "relay.inconclusive")]}
    )
    after = results(relay=None)
    after["steps"].append({"name": "relay", "status": "skipped", "findings": []})
    assert diff(before, after) == []
    after["steps"][-1] = {"name": "relay", "status": "ok", "findings": []}
    (change,) = diff(before, after)
    assert (change.area, change.kind, change.subject) == (
        "finding",
        "removed",
        "relay.inconclusive",
    )


def test_a_finding_that_drops_to_info_is_resolved() -> None:
    (change,) = diff(
        results(findings=(finding("fail", "dane.mismatch", "mx1"),)),
        results(findings=(finding("info", "dane.mismatch", "mx1"), finding("info", "x.y", "z"))),
    )
    assert (change.kind, change.before, change.after, change.regression) == (
        "removed",
        "fail",
        None,
        False,
    )
    assert change.summary == "resolved [fail] dane.mismatch (mx1): summary of dane.mismatch"


def test_a_finding_that_got_milder_is_not_a_regression() -> None:
    (change,) = diff(
        results(findings=(finding("fail", "tls.not-offered", "mx1"),)),
        results(findings=(finding("warn", "tls.not-offered", "mx1"),)),
    )
    assert (change.before, change.after, change.regression) == ("fail", "warn", False)


def test_the_same_code_on_another_subject_is_another_finding() -> None:
    changes = diff(
        results(findings=(finding("warn", "tls.not-offered", "mx1"),)),
        results(findings=(finding("warn", "tls.not-offered", "mx2"),)),
    )
    assert areas(changes) == [("finding", "added", True), ("finding", "removed", False)]


def test_advisory_and_order_dependent_findings() -> None:
    changes = diff(
        results(findings=(finding("info", "check.shared-exchanger", "mx1"),)),
        results(findings=(finding("warn", "relay.internal-spoofing", "mx1"),)),
    )
    # the advisory warning is shown as a change but is not a regression (it never counts);
    # the shared-exchanger note depends on which domain ran first: not compared
    assert areas(changes) == [("finding", "added", False)]


@pytest.mark.parametrize(
    ("before", "after", "regression", "text"),
    [
        (40, 29, True, "crossed 30 days"),
        (20, 13, True, "crossed 14 days"),
        (10, 6, True, "crossed 7 days"),
        (35, 5, True, "crossed 7 days"),
        (3, -2, True, "expired 2 days ago"),
        (10, -1, True, "expired 1 day ago"),
        (20, 95, False, "renewed: 95 days left (was 20)"),
        (6, 10, False, "renewed"),
    ],
)
def test_certificate_thresholds(before: int, after: int, regression: bool, text: str) -> None:
    (change,) = diff(results(days_left=before), results(days_left=after))
    assert (change.area, change.subject) == ("certificate", "mx1.example.test [192.0.2.1]")
    assert (change.before, change.after, change.regression) == (str(before), str(after), regression)
    assert text in change.summary


@pytest.mark.parametrize(("before", "after"), [(90, 31), (29, 15), (100, 300), (90, None)])
def test_certificate_without_crossing_is_no_change(before: int, after: int | None) -> None:
    assert diff(results(days_left=before), results(days_left=after)) == []


@pytest.mark.parametrize(
    ("before", "after", "regression"),
    [
        ("closed", "open", True),
        ("closed", "inconclusive", True),
        ("inconclusive", "open", True),
        ("open", "closed", False),
        ("inconclusive", "closed", False),
    ],
)
def test_relay_verdict(before: str, after: str, regression: bool) -> None:
    (change,) = diff(results(relay=before), results(relay=after))
    assert (change.area, change.before, change.after) == ("relay", before, after)
    assert change.regression is regression
    assert change.subject == "mx1.example.test [192.0.2.1]"


def test_relay_not_run_on_one_side_is_no_change() -> None:
    assert diff(results(relay="closed"), results(relay=None)) == []
    assert diff(results(relay=None), results(relay="open")) == []


def test_garbage_in_a_baseline_record_is_read_as_absent() -> None:
    broken: dict[str, Any] = {
        "domain_ascii": "example.test",
        "exchangers": "x",
        "steps": [1, {"findings": "no"}],
        "smtp": [None],
        "relay": {},
        "policy": {"spf": []},
        "summary": [],
    }
    changes = diff(slim(broken), results())
    assert {c.area for c in changes} <= {
        "mx",
        "spf",
        "dmarc",
        "dmarc-policy",
        "mta-sts",
        "mta-sts-mode",
        "tls-rpt",
    }


# -- the report ---------------------------------------------------------------------------------


def report(*, dmarc_fail: bool = False) -> CheckReport:
    policy_findings = [Finding(Severity.OK, "spf.valid", "SPF is valid", "", "example.test")]
    if dmarc_fail:
        policy_findings.append(
            Finding(Severity.WARN, "dmarc.policy-none", "p=none", "", "example.test")
        )
    steps = [
        make_step("dns", [Finding(Severity.OK, "mx.ok", "1 exchanger", "", "example.test")]),
        make_step("reachability", skipped="--no-network"),
        make_step("smtp", skipped="--no-network"),
        make_step("relay", skipped="--no-relay"),
        make_step("policy", policy_findings),
    ]
    return CheckReport(
        domain="example.test",
        domain_ascii="example.test",
        domain_unicode="example.test",
        dns_servers=("127.0.0.53:53",),
        exchangers=(Target(10, "mx1.example.test", ("192.0.2.1",)),),
        steps=tuple(steps),
        dns=None,
        reachability=(),
        smtp=(),
        relay=(),
        policy=None,
        summary=summarize(steps),
        seconds=0.1,
    )


def previous_of(current: CheckReport) -> dict[str, Any]:
    return slim(to_jsonable(current))


def test_apply_without_changes_keeps_the_report() -> None:
    current = report()
    assert apply(current, previous_of(current)) is current


def test_apply_new_domain_is_a_change_not_a_regression() -> None:
    current = apply(report(), None)
    assert [(c.area, c.kind, c.after) for c in current.changes] == [
        ("domain", "added", "example.test")
    ]
    step = current.steps[-1]
    assert (step.name, step.title, step.status, step.findings) == (
        STEP_NAME,
        "Changes since baseline",
        "ok",
        (),
    )
    assert current.exit_code == 0


def test_apply_regression_adds_the_finding_and_exit_1() -> None:
    before = report()
    current = apply(report(dmarc_fail=True), previous_of(before))
    assert current.exit_code == 1 and current.summary.status == "problem"
    assert any(c.regression for c in current.changes)
    (regressed,) = current.steps[-1].findings
    assert (regressed.code, regressed.severity, regressed.subject) == (
        REGRESSED,
        Severity.WARN,
        "example.test",
    )
    assert regressed.summary.startswith("2 regressions since the baseline: status healthy (0)")
    assert current.summary.counts["warn"] == 2
    assert any(f.code == REGRESSED for f in current.summary.top_fixes)


def test_apply_improvement_only_keeps_exit_0() -> None:
    current = apply(report(), previous_of(report(dmarc_fail=True)))
    assert current.exit_code == 0
    assert {(c.area, c.regression) for c in current.changes} == {
        ("exit-code", False),
        ("finding", False),
    }
    assert current.steps[-1].status == "ok"


def test_changes_in_json_match_the_schema() -> None:
    current = apply(report(dmarc_fail=True), previous_of(report()))
    document = json.loads(json.dumps(envelope("check", {}, current, current.exit_code)))
    assert validate_document(document) == []
    assert document["results"]["changes"][0]["area"] == "exit-code"
    plain = json.loads(json.dumps(envelope("check", {}, report(), 0)))
    assert plain["results"]["changes"] == [] and validate_document(plain) == []


def test_terminal_and_html_show_the_changes() -> None:
    current = apply(report(dmarc_fail=True), previous_of(report()))
    out = io.StringIO()
    render_check(Console(file=out, width=100, no_color=True), current)
    text = out.getvalue()
    assert "6. Changes since baseline  PROBLEMS FOUND" in text
    assert "REGRESSION  status healthy (0) -> problem (1)" in text
    assert "check.regressed" in text and "7. Summary  PROBLEMS FOUND" in text
    page = render_html([current])
    assert "Changes since baseline" in page and "regression" in page


def test_batch_summary_lists_only_changed_domains() -> None:
    class Row:
        def __init__(self, domain: str, changes: tuple[Any, ...]) -> None:
            self.domain = domain
            self.changes = changes

    changed = apply(report(dmarc_fail=True), previous_of(report()))
    rows = [Row("a.test", ()), Row("bb.test", changed.changes), Row("c.test", ())]
    out = io.StringIO()
    render_baseline_summary(Console(file=out, width=200, no_color=True), rows, ["gone.test"])
    lines = out.getvalue().splitlines()
    assert lines[0] == "Changes since baseline: 1 of 3 domains changed, 1 with regressions"
    body = lines[1:-1]
    assert len(body) == len(changed.changes)
    assert all(line.startswith("  bb.test  ") for line in body)
    assert "REGRESSION" in body[0]
    assert lines[-1] == "Not checked this run (in the baseline only): gone.test"


def test_monitoring_counts_regressions() -> None:
    current = apply(report(dmarc_fail=True), previous_of(report()))
    item = monitoring.summarize(
        "check", {"domain": "example.test", "baseline": "b.jsonl"}, current, current.exit_code
    )
    assert item.regressions == 2
    line, code = monitoring.nagios([item], 0.5)
    assert code == 1 and " regressions=2 " in line
    exposition = monitoring.prometheus([item], 0.5)
    assert 'mailprobe_regressions{command="check",target="example.test"} 2' in exposition
    plain = monitoring.summarize("check", {"domain": "example.test"}, report(), 0)
    assert plain.regressions is None
    assert "regressions" not in monitoring.nagios([plain], 0.5)[0]


# -- the baseline file --------------------------------------------------------------------------


def document(domain: str = "example.test", **overrides: Any) -> dict[str, Any]:
    data = results()
    data["domain_ascii"] = domain
    doc = envelope("check", {"domain": domain}, None, 0)
    doc["results"] = data
    doc.update(overrides)
    return doc


def jsonl(*docs: dict[str, Any]) -> str:
    return "".join(json.dumps(d, separators=(",", ":")) + "\n" for d in docs)


def test_load_json_lines_last_record_wins(tmp_path: Path) -> None:
    first = document("a.test")
    second = document("b.test")
    again = document("A.test.")
    again["results"]["policy"]["spf"]["records"] = ["v=spf1 -all"]
    path = tmp_path / "prev.jsonl"
    path.write_text(jsonl(first, second) + "\n" + jsonl(again))
    baseline = load_baseline(path)
    assert list(baseline.domains) == ["b.test", "a.test"]
    previous = baseline.previous("a.test")
    assert previous is not None and previous["policy"]["spf"]["records"] == ["v=spf1 -all"]
    assert "transcript" not in json.dumps(baseline.domains)


def test_load_indented_documents(tmp_path: Path) -> None:
    path = tmp_path / "prev.json"
    path.write_text(
        json.dumps(document("a.test"), indent=2) + "\n" + json.dumps(document("b.test"), indent=2)
    )
    assert list(load_baseline(path).domains) == ["a.test", "b.test"]


def test_load_empty_file_is_an_empty_baseline(tmp_path: Path) -> None:
    path = tmp_path / "empty.jsonl"
    path.write_text("")
    assert load_baseline(path).domains == {}


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes")
def test_load_from_a_pipe(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)

    def write() -> None:
        with open(fifo, "w") as handle:
            handle.write(jsonl(document("a.test")))

    writer = threading.Thread(target=write)
    writer.start()
    try:
        import time

        time.sleep(0.1)  # the writer has opened its end
        assert list(load_baseline(fifo).domains) == ["a.test"]
    finally:
        writer.join(5)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("mailprobe check example.test\n", "line 1: not JSON (Expecting value)"),
        (jsonl(document()) + "{oops\n", "line 2: not JSON"),
        ("\n\n" + json.dumps(document(), indent=2).replace('"tool"', '"tool" "x"'), "line 5: not"),
        (
            jsonl(document(command="mx")),
            "line 1: output of 'mailprobe mx', not of 'mailprobe check'",
        ),
        (
            jsonl(document(schema_version=2)),
            "line 1: schema_version 2 is not supported (this mailprobe reads 1)",
        ),
        (jsonl(document(schema_version="2.0")), 'schema_version "2.0" is not supported'),
        ('{"a": 1}\n', "line 1: not a mailprobe JSON document"),
        ("[1, 2]\n", "line 1: not a mailprobe JSON document"),
        (jsonl({**document(), "results": {}}), "line 1: a check document without results."),
        ("{\n" + '"tool": "mailprobe",\n', "line 1: not JSON (the document never ends)"),
        (b"\xff\xfe\n".decode("latin-1"), "line 1: not JSON"),
    ],
)
def test_bad_baselines_are_one_usage_line(tmp_path: Path, text: str, problem: str) -> None:
    path = tmp_path / "prev.jsonl"
    path.write_text(text)
    with pytest.raises(FileError) as info:
        load_baseline(path)
    message = str(info.value)
    assert isinstance(info.value, UsageError) and "\n" not in message
    assert message.startswith(f"--baseline {path}: "), message
    assert problem in message, message


def test_minor_schema_version_is_read(tmp_path: Path) -> None:
    path = tmp_path / "prev.jsonl"
    path.write_text(jsonl(document(schema_version="1.3")))
    assert list(load_baseline(path).domains) == ["example.test"]


def test_not_utf8_and_files_that_are_not_files(tmp_path: Path) -> None:
    path = tmp_path / "latin1"
    path.write_bytes(b"caf\xe9\n")
    with pytest.raises(FileError, match="line 1: not UTF-8 text"):
        load_baseline(path)
    with pytest.raises(FileError, match=r"cannot read \(is a directory\)"):
        load_baseline(tmp_path)
    with pytest.raises(FileError, match=r"cannot read \(no such file\)"):
        load_baseline(tmp_path / "missing.jsonl")


def test_unchecked_domains_and_shards() -> None:
    baseline = Baseline("b", {name: {} for name in ("a.test", "b.test", "c.test", "d.test")})
    assert baseline.unchecked(["B.test.", "c.test"]) == ["a.test", "d.test"]
    mine = [n for n in ("a.test", "d.test") if shard_of(n, 2) == 1]
    assert baseline.unchecked(["b.test", "c.test"], "1/2") == mine


def test_previous_is_matched_case_and_dot_insensitively() -> None:
    data = copy.deepcopy(results())
    baseline = Baseline("b", {"example.test": slim(data)})
    assert baseline.previous("Example.Test.") is not None
    assert baseline.previous("other.test") is None
