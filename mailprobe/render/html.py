"""``mailprobe check --html FILE``: a self-contained HTML report to attach to a ticket.

One file, inline CSS, no scripts, no external assets (no fonts, images or links to load), so it
opens the same anywhere, offline. Every piece of text goes through ``esc``: banners, replies
and DNS TXT records are controlled by whoever runs the peer, so a banner holding ``<script>``
must show up as text, never as markup, and one holding ESC sequences, BEL, CR or bidi overrides
must show them visibly (``\\x1b``, ``\\x07``, ``\\r``, ``\\u202e``, by
``mailprobe.text.show_controls``, the sanitiser of the terminal output too), never carry them
raw into the file. Multi-line text (the transcript) is escaped line by line, so its line breaks
stay.
"""

from __future__ import annotations

import datetime
import html
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from mailprobe.model import Finding, Severity
from mailprobe.render.check import STATUS_LABEL, SUMMARY_LABEL, policy_lines
from mailprobe.text import show_controls

if TYPE_CHECKING:
    from mailprobe.checks.check import CheckReport, SmtpCheck, StepResult

_CSS = """
:root { color-scheme: light; }
*, *::before, *::after { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0;
       background: #f4f5f7; color: #1d2330; overflow-wrap: anywhere; }
main { max-width: 1100px; margin: 0 auto; padding: 24px; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 17px; margin: 0; display: flex; flex-wrap: wrap; gap: 4px 10px;
     align-items: center; }
h3 { font-size: 15px; }
.meta { color: #5b6474; margin-bottom: 18px; }
section { background: #fff; border: 1px solid #d9dde4; border-radius: 8px; padding: 14px 18px;
          margin: 0 0 14px; max-width: 100%; }
article.domain { margin: 0 0 28px; }
.badge { font-size: 12px; font-weight: 600; padding: 2px 8px; border-radius: 10px;
         letter-spacing: .02em; white-space: nowrap; }
.s-ok { background: #e3f5e8; color: #17672f; }
.s-problem { background: #fff3d6; color: #7a5200; }
.s-incomplete { background: #fde2e1; color: #9b1c16; }
.s-skipped { background: #eceef2; color: #5b6474; }
.reason { color: #5b6474; font-size: 13px; margin: 6px 0 0; }
.scroll { max-width: 100%; overflow-x: auto; margin: 10px 0; }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
th, td { text-align: left; vertical-align: top; padding: 4px 8px;
         border-bottom: 1px solid #eceef2; overflow-wrap: anywhere; }
th { color: #5b6474; font-weight: 600; }
td.sev { width: 44px; font-weight: 700; text-transform: uppercase; font-size: 12px; }
td.num { text-align: right; }
.sev-ok { color: #17672f; } .sev-info { color: #1a5fa8; } .sev-warn { color: #8a5d00; }
.sev-fail { color: #b3261e; }
.code { font-family: ui-monospace, Menlo, Consolas, monospace; font-size: 12px; color: #5b6474; }
.subject { display: block; font-family: ui-monospace, Menlo, Consolas, monospace;
           font-size: 12px; font-weight: 600; color: #3d4554; }
.fix { color: #3d4554; font-size: 12.5px; margin-top: 2px; }
.peer, pre { font-family: ui-monospace, Menlo, Consolas, monospace; font-size: 12px;
             overflow-wrap: anywhere; word-break: break-all; white-space: pre-wrap; }
pre { background: #f7f8fa; border: 1px solid #eceef2; padding: 8px; border-radius: 6px;
      max-width: 100%; max-height: 320px; overflow: auto; }
details summary { cursor: pointer; color: #1a5fa8; margin-top: 6px; }
.counts span { margin-right: 14px; font-weight: 600; display: inline-block; }
ol.fixes { padding-left: 22px; }
ol.fixes li { margin-bottom: 8px; }
.verdict-open { color: #b3261e; font-weight: 700; } .verdict-closed { color: #17672f;
  font-weight: 700; } .verdict-inconclusive { color: #8a5d00; font-weight: 700; }
footer { color: #5b6474; font-size: 12px; text-align: center; margin: 20px 0; }
@media (max-width: 600px) {
  main { padding: 10px; }
  section { padding: 10px; }
  th, td { padding: 3px 4px; }
  td.sev { width: auto; }
}
@media print { body { background: #fff; } section { break-inside: avoid; } }
"""


def esc(value: object) -> str:
    """Escape any value for HTML text and attribute context; controls are shown visibly."""
    return html.escape(show_controls("" if value is None else str(value)), quote=True)


def render_html(reports: Sequence[CheckReport], generated: datetime.datetime | None = None) -> str:
    """The whole HTML document for one or more domains' reports.

    One domain: its report. A batch (``check -f FILE --html OUT``): one page titled for the
    batch, an index (domain, status, counts per severity, a link to each domain's report) and
    then every domain's report, each under its own anchor.
    """
    from mailprobe import __version__

    when = (generated or datetime.datetime.now(datetime.UTC)).strftime("%Y-%m-%d %H:%M UTC")
    if len(reports) == 1:
        title = reports[0].domain_ascii
        body = _report(reports[0], reports[0].domain_ascii, "")
    else:
        title = f"{len(reports)} domains"
        anchors = _anchors(reports)
        body = "\n".join(
            [
                f"<h1>Mail-flow check: {esc(title)}</h1>",
                _index(reports, anchors),
                *(
                    f'<article class="domain">{_report(r, anchor, anchor + "-")}</article>'
                    for r, anchor in zip(reports, anchors, strict=True)
                ),
            ]
        )
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        # No script, no external loads: enforce it for browsers that honour CSP.
        '<meta http-equiv="Content-Security-Policy" '
        "content=\"default-src 'none'; style-src 'unsafe-inline'\">\n"
        f"<title>mailprobe check: {esc(title)}</title>\n"
        f"<style>{_CSS}</style>\n</head>\n<body>\n<main>\n{body}\n"
        f"<footer>Generated by mailprobe {esc(__version__)} on {esc(when)}.</footer>\n"
        "</main>\n</body>\n</html>\n"
    )


def _anchors(reports: Sequence[CheckReport]) -> list[str]:
    """A unique element id per domain of a batch (a domain listed twice gets a suffix)."""
    seen: set[str] = set()
    anchors = []
    for report in reports:
        anchor, n = f"domain-{report.domain_ascii}", 1
        while anchor in seen:
            n += 1
            anchor = f"domain-{report.domain_ascii}-{n}"
        seen.add(anchor)
        anchors.append(anchor)
    return anchors


def _status(report: CheckReport) -> tuple[str, str]:
    """The summary's badge class and label."""
    summary = report.summary
    status = {"healthy": "ok", "problem": "problem"}.get(summary.status, "incomplete")
    return status, SUMMARY_LABEL.get(summary.status, summary.status)


def _index(reports: Sequence[CheckReport], anchors: Sequence[str]) -> str:
    """The batch index: one row per domain, linking to its report."""
    rows = []
    for report, anchor in zip(reports, anchors, strict=True):
        counts = report.summary.counts
        rows.append(
            [
                f'<a href="#{esc(anchor)}">{esc(report.domain_ascii)}</a>',
                _badge(*_status(report)),
                *(
                    f'<span class="sev-{sev.value}">{counts.get(sev.value, 0)}</span>'
                    for sev in Severity
                ),
                str(report.summary.failures),
            ]
        )
    headers = ["Domain", "Status", *(sev.value for sev in Severity), "could not complete"]
    return (
        '<section class="index" id="index"><h2>Domains</h2>' + _table(headers, rows) + "</section>"
    )


def _report(report: CheckReport, anchor: str, prefix: str) -> str:
    """One domain's report; ``prefix`` keeps the section ids unique in a batch."""
    title = esc(report.domain_ascii)
    if report.domain_unicode != report.domain_ascii:
        title += f" ({esc(report.domain_unicode)})"
    parts = [
        f'<h1 id="{esc(anchor)}">Mail-flow check: {title}</h1>',
        f'<p class="meta">DNS server {esc(", ".join(report.dns_servers))} &middot; '
        f"{len(report.exchangers)} exchanger(s) &middot; {report.seconds:.1f} s</p>",
        _summary(report, prefix),
    ]
    for number, step in enumerate(report.steps, start=1):
        parts.append(_step(report, number, step, prefix))
    return "\n".join(parts)


def _badge(status: str, label: str) -> str:
    return f'<span class="badge s-{esc(status)}">{esc(label)}</span>'


def _step(report: CheckReport, number: int, step: StepResult, prefix: str) -> str:
    out = [
        f'<section class="step" id="{esc(prefix)}step-{esc(step.name)}">',
        f"<h2>{number}. {esc(step.title)} {_badge(step.status, STATUS_LABEL[step.status])}</h2>",
    ]
    if step.reason:
        out.append(f'<p class="reason">Skipped: {esc(step.reason)}</p>')
    if step.status != "skipped":
        out.append(_DETAILS[step.name](report))
        for part in step.skipped_parts:
            out.append(f'<p class="reason">{esc(part)}</p>')
        out.append(_findings(step.findings))
        for failure in step.failures:
            out.append(
                f'<p class="reason sev-fail">Could not complete: {esc(failure.one_line())}</p>'
            )
    out.append("</section>")
    return "\n".join(out)


def _findings(findings: Iterable[Finding]) -> str:
    rows = []
    for f in findings:
        fix = f'<div class="fix">Fix: {esc(f.fix)}</div>' if f.fix else ""
        rows.append(
            f'<tr><td class="sev sev-{f.severity.value}">{esc(f.severity.value)}</td>'
            f"<td>{_subject(f)}{esc(f.summary)}{fix}</td>"
            f'<td class="code">{esc(f.code)}</td></tr>'
        )
    if not rows:
        return ""
    return (
        '<div class="scroll"><table><thead><tr><th>Severity</th><th>Finding</th><th>Code</th>'
        "</tr></thead><tbody>" + "".join(rows) + "</tbody></table></div>"
    )


def _subject(finding: Finding) -> str:
    """What the finding is about (an exchanger, an address, a record), on its own line."""
    if not finding.subject:
        return ""
    return f'<span class="subject">{esc(finding.subject)}</span>'


def _table(headers: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """A table whose cells are already-escaped HTML."""
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    thead = f"<thead><tr>{head}</tr></thead>" if any(headers) else ""
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    # The wrapper scrolls a table too wide for a narrow window inside its own box.
    return f'<div class="scroll"><table>{thead}<tbody>{body}</tbody></table></div>'


def _dns(report: CheckReport) -> str:
    if report.dns is None or not report.dns.servers:
        return ""
    view = report.dns.servers[0]
    exchangers = list(view.exchangers) or ([view.implicit_mx] if view.implicit_mx else [])
    rows = []
    for ex in exchangers:
        for addr in ex.addresses or ():
            rows.append(
                [
                    esc(ex.preference),
                    esc(ex.host),
                    esc(addr.address),
                    esc(addr.scope),
                    esc(", ".join(addr.ptr) or "-"),
                    esc(addr.ptr_status),
                ]
            )
        if not ex.addresses:
            rows.append([esc(ex.preference), esc(ex.host), "-", "-", "-", "-"])
    if not rows:
        return ""
    return _table(["Pref", "Exchanger", "Address", "Scope", "PTR", "Reverse DNS"], rows)


def _reachability(report: CheckReport) -> str:
    rows = []
    for r in report.reachability:
        latency = f"{r.connect_ms:.0f} ms" if r.connect_ms is not None else "-"
        banner = " ".join(r.banner) if r.banner else r.message
        rows.append(
            [
                esc(r.host),
                esc(r.address),
                esc(r.status),
                esc(latency),
                f'<span class="peer">{esc(banner)}</span>',
            ]
        )
    return _table(["Exchanger", "Address", "Status", "Connect", "Banner"], rows) if rows else ""


def _smtp(report: CheckReport) -> str:
    return "\n".join(_smtp_one(c) for c in report.smtp)


def _smtp_one(check: SmtpCheck) -> str:
    server = check.server.title if check.server else "unknown (no verb profile applied)"
    if check.tls is not None:
        tls = check.tls
        trust = "trusted" if tls.verified else f"not trusted ({tls.verify_error})"
        name = "matches" if tls.name_matches else "does not match"
        tls_text = (
            f"{tls.version} {tls.cipher}; certificate {trust}, {name} {tls.checked_name}; "
            f"subject {tls.subject}; issuer {tls.issuer}; expires {tls.not_after}"
        )
    else:
        tls_text = "offered, failed" if check.starttls_offered else "not offered"
    rows = [
        ["Server", esc(server)],
        ["EHLO verbs", f'<span class="peer">{esc(" ".join(check.advertised) or "(none)")}</span>'],
        ["STARTTLS", f'<span class="peer">{esc(tls_text)}</span>'],
    ]
    for label, result in (
        ("MAIL", check.mail),
        ("Postmaster", check.postmaster),
        ("Recipient", check.recipient),
    ):
        if result is not None:
            rows.append(
                [
                    esc(label),
                    f'<span class="peer">{esc(result.command)} &rarr; '
                    f"{esc(result.code)} {esc(result.text)}</span>",
                ]
            )
    transcript = "\n".join(
        esc(f"{line.at:7.3f}s {_mark(line.side)} {line.text}") for line in check.transcript
    )
    return (
        f"<h3>{esc(check.host)} [{esc(check.address)}]:{esc(check.port)}</h3>"
        + _table(["", ""], rows)
        + (
            f"<details><summary>SMTP transcript</summary><pre>{transcript}</pre></details>"
            if transcript
            else ""
        )
    )


def _mark(side: str) -> str:
    return {"client": "C:", "server": "S:"}.get(side, "* ")


def _relay(report: CheckReport) -> str:
    # The verdict per address only: its reason, which names the accepted variants, is the
    # verdict finding below (relay.open/closed/inconclusive, with the address as subject), so
    # the variant list is shown once.
    rows = [
        [
            esc(r.target),
            esc(r.address or "-"),
            f'<span class="verdict-{esc(r.verdict)}">{esc(r.verdict_label)}</span>',
        ]
        for r in report.relay
    ]
    return _table(["Exchanger", "Address", "Verdict"], rows) if rows else ""


def _blocklist(report: CheckReport) -> str:
    """Per public exchanger address and the domain: where listed (codes), else clean or
    unknown (the list's reason text is the peer's: escaped and marked as such)."""
    rows = []
    for item in report.blocklist:
        listed = "; ".join(
            f"{x.name} ({', '.join(x.codes)}: {'; '.join(x.meanings)})" for x in item.listed
        )
        unknown = ", ".join(
            x.name for x in item.listings if x.status in ("untrusted", "refused", "error")
        )
        clean = sum(1 for x in item.listings if x.status == "not-listed")
        if listed:
            verdict = f'<span class="sev-fail">listed</span> {esc(listed)}'
        else:
            verdict = f'<span class="sev-ok">not listed</span> on {clean} lists' if clean else "-"
        if unknown:
            verdict += f' <span class="sev-warn">unknown on {esc(unknown)}</span>'
        reasons = " ".join(x.reason for x in item.listed if x.reason)
        if reasons:
            verdict += f'<div class="peer">{esc(reasons)}</div>'
        rows.append([esc(item.item), esc(item.source or "-"), verdict])
    return _table(["Address or domain", "Exchanger", "Lists"], rows) if rows else ""


def _policy(report: CheckReport) -> str:
    if report.policy is None:
        return ""
    rows = [
        [esc(label), f'<span class="peer">{esc(text)}</span>']
        for label, text in policy_lines(report.policy)
    ]
    return _table(["Record", "Published"], rows)


def _baseline(report: CheckReport) -> str:
    """``check --baseline``: what changed since the earlier run, regressions marked."""
    rows = [
        [
            '<span class="sev-warn">regression</span>' if c.regression else "change",
            esc(c.area),
            f'<span class="peer">{esc(c.summary)}</span>',
        ]
        for c in report.changes
    ]
    return _table(["", "Area", "Change"], rows) if rows else ""


_DETAILS = {
    "dns": _dns,
    "reachability": _reachability,
    "smtp": _smtp,
    "relay": _relay,
    "blocklist": _blocklist,
    "policy": _policy,
    "baseline": _baseline,
}


def _summary(report: CheckReport, prefix: str) -> str:
    """The summary, shown first; not a numbered step."""
    summary = report.summary
    counts = "".join(
        f'<span class="sev-{sev.value}">{summary.counts.get(sev.value, 0)} {sev.value}</span>'
        for sev in Severity
    )
    if summary.failures:
        counts += f'<span class="sev-fail">{summary.failures} could not complete</span>'
    fixes = "".join(
        f'<li><strong class="sev-{f.severity.value}">[{esc(f.severity.value)}]</strong> '
        f'{_subject(f)}{esc(f.summary)}<div class="fix">{esc(f.fix)}</div></li>'
        for f in summary.top_fixes
    )
    fixes_html = f'<h3>Most important fixes</h3><ol class="fixes">{fixes}</ol>' if fixes else ""
    return (
        f'<section class="step" id="{esc(prefix)}step-summary">'
        f"<h2>Summary {_badge(*_status(report))}</h2>"
        f'<p class="counts">{counts}</p>{fixes_html}'
        f'<p class="reason">Exit code {summary.exit_code}</p></section>'
    )
