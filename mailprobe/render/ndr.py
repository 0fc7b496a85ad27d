"""Show ``mailprobe ndr`` results: styled lines, written plainly or through rich.

The layout is computed once as lines of ``(text, style)`` segments, wrapped with ``textwrap``
to the width (hanging indents, no trailing padding, simple text tables). ``write_plain`` prints
them as they are, which is what a pipe, ``--no-color`` and ``NO_COLOR`` get, without importing
rich at all (``mailprobe ndr`` should start fast); ``render_ndr`` prints the same lines in
colour on a rich console. A bounce message is written by a remote server: every segment goes
through ``mailprobe.text.show_controls`` as it is added (``_Page.add``), so neither writer ever
prints a control or bidi character from it raw.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from typing import TYPE_CHECKING, TextIO

from mailprobe.ndr.model import (
    BounceReport,
    CodeExplanation,
    NdrReport,
    Query,
    TableRow,
    TextMatch,
)
from mailprobe.text import show_controls

if TYPE_CHECKING:
    from rich.console import Console

Segment = tuple[str, str]
Line = list[Segment]

_CLASS_STYLE = {2: "green", 3: "green", 4: "yellow", 5: "red"}
_MAX_WIDTH = 100
_MAX_NAMED = 5  # recipients named per recognised text in a bounce


class _Page:
    """Lines being laid out for one width."""

    def __init__(self, width: int) -> None:
        self.width = max(40, min(width, _MAX_WIDTH))
        self.lines: list[Line] = []

    def add(self, *segments: Segment) -> None:
        self.lines.append([(show_controls(text), style) for text, style in segments if text])

    def blank(self) -> None:
        self.lines.append([])

    def para(
        self,
        label: str,
        text: str,
        *,
        indent: int = 0,
        hang: int | None = None,
        label_style: str = "",
        style: str = "",
    ) -> None:
        """``label`` then ``text`` wrapped, continuation lines under the text (or at ``hang``)."""
        hang = len(label) if hang is None else hang
        wrapped = textwrap.wrap(
            text or "-",
            width=self.width - indent,
            initial_indent=" " * len(label),
            subsequent_indent=" " * hang,
            break_on_hyphens=False,
        ) or [" " * len(label)]
        pad = " " * indent
        self.add((pad, ""), (label, label_style), (wrapped[0][len(label) :], style))
        for line in wrapped[1:]:
            self.add((pad + line, style))

    def table(self, headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
        """A plain table: columns separated by two spaces, the widest ones wrapped to fit."""
        count = len(headers)
        widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
        room = self.width - 2 * (count - 1)
        while sum(widths) > room:
            widest = max(range(count), key=lambda i: widths[i])
            if widths[widest] <= 12:
                break
            widths[widest] -= 1
        self.add(
            ("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip(), "bold")
        )
        self.add(("  ".join("-" * w for w in widths), "dim"))
        for row in rows:
            cells = [
                textwrap.wrap(cell, width=w, break_on_hyphens=False) or [""]
                for cell, w in zip(row, widths, strict=True)
            ]
            for n in range(max(len(c) for c in cells)):
                parts = [
                    (c[n] if n < len(c) else "").ljust(w)
                    for c, w in zip(cells, widths, strict=True)
                ]
                self.add(("  ".join(parts).rstrip(), ""))


def layout(report: NdrReport, width: int = 80) -> list[Line]:
    """The report as styled lines for a given width."""
    page = _Page(width)
    if report.mode == "codes":
        for index, query in enumerate(report.queries):
            if index:
                page.blank()
            _query(page, query)
    elif report.mode == "bounce" and report.bounce is not None:
        _bounce(page, report.bounce)
    else:
        _rows(page, report.entries)
    return page.lines


def write_plain(stream: TextIO, report: NdrReport, width: int = 80) -> None:
    """Write the report without colours (pipes, ``--no-color``, ``NO_COLOR``)."""
    stream.write(
        "".join("".join(text for text, _ in line) + "\n" for line in layout(report, width))
    )
    stream.flush()


def render_ndr(console: Console, report: NdrReport) -> None:
    """Print the report in colour on a rich console."""
    from mailprobe.render.console import Text

    for line in layout(report, console.width):
        console.print(Text.assemble(*line), soft_wrap=True)


def _query(page: _Page, query: Query) -> None:
    if query.kind == "reply-line":
        page.para("Reply: ", query.text, label_style="bold")
        page.blank()
    for match in query.text_matches:
        text_match_lines(page, match)
        page.blank()
    if query.text_matches:
        _codes_heading(page, "the text above")
        page.blank()
    for index, explanation in enumerate(query.explanations):
        if index:
            page.blank()
        explanation_lines(page, explanation)


def text_match_lines(page: _Page, match: TextMatch, recipients: Sequence[str] = ()) -> None:
    """A recognised reply text: what it means, whose move it is, what to do."""
    page.para("What the text says: ", match.title, label_style="bold magenta", style="bold")
    if recipients:
        shown = ", ".join(recipients[:_MAX_NAMED])
        if len(recipients) > _MAX_NAMED:
            shown += f" and {len(recipients) - _MAX_NAMED} more"
        page.para("For: ", shown, indent=2, label_style="bold")
    page.para("Recognised: ", f'"{match.matched}"', indent=2, style="dim", label_style="dim")
    page.para("", match.meaning, indent=2)
    page.para("Whose move: ", match.who, indent=2, label_style="bold")
    page.add(("  What to do:", "bold"))
    for number, action in enumerate(match.actions, 1):
        page.para(f"{number}. ", action, indent=4)


def _codes_heading(page: _Page, texts: str) -> None:
    page.para(
        "",
        f"What the codes say on their own (their generic meaning; where it differs from "
        f"{texts}, the text is the better guide):",
        style="bold",
    )


def explanation_lines(page: _Page, item: CodeExplanation) -> None:
    """A full explanation: parts, each labelled meaning, causes, fixes, related, next."""
    style = _CLASS_STYLE.get(item.class_digit, "")
    page.para(f"{item.code}  ", item.title, label_style=f"bold {style}", style="bold", hang=2)
    page.para("", _outcome(item), style=style)
    page.blank()
    if item.kind == "status":
        subject_code, detail_code = f"X.{item.subject}", f"X.{item.subject}.{item.detail}"
    else:
        subject_code, detail_code = f"x{item.subject}x", item.code
    rows = [
        ("Class", str(item.class_digit), f"{item.class_name}. {item.class_meaning}"),
        ("Subject", subject_code, f"{item.subject_name}. {item.subject_meaning}"),
        ("Detail", detail_code, item.detail_meaning),
    ]
    code_width = max(len(code) for _, code, _ in rows)
    for name, code, text in rows:
        page.para(f"{name:<8}{code:<{code_width}}  ", text, indent=2, label_style="bold")
    if item.generic:
        page.blank()
        page.para(
            "",
            "Generic explanation: no table entry for this exact code, so it is composed from "
            "its class and subject.",
            indent=2,
            style="italic",
        )
        _lists(page, item.causes, item.fixes)
    for meaning in item.meanings:
        page.blank()
        page.para(
            f"[{meaning.label}] ",
            f"{meaning.matched}  {meaning.title}",
            label_style="bold cyan",
            hang=2,
            style="bold",
        )
        page.para("", meaning.meaning, indent=2)
        if meaning.reference:
            page.para("Source: ", meaning.reference, indent=2, style="dim", label_style="dim")
        _lists(page, meaning.causes, meaning.fixes)
    page.blank()
    if item.related:
        page.para("Related: ", ", ".join(item.related), label_style="bold")
    for command in item.next_commands:
        page.add(("Next: ", "bold"), (command, "cyan"))


def _outcome(item: CodeExplanation) -> str:
    summary = item.summary
    # The summary ends with "(outcome)"; the outcome goes on its own line under the title.
    if summary.endswith(")") and "(" in summary:
        outcome = summary[summary.rindex("(") + 1 : -1]
        return outcome[:1].upper() + outcome[1:] + "."
    return summary


def _lists(page: _Page, causes: tuple[str, ...], fixes: tuple[str, ...]) -> None:
    if causes:
        page.add(("  Possible causes:", "bold"))
        for cause in causes:
            page.para("- ", cause, indent=4)
    if fixes:
        page.add(("  Troubleshooting:", "bold"))
        for number, fix in enumerate(fixes, 1):
            page.para(f"{number}. ", fix, indent=4)


def _bounce(page: _Page, bounce: BounceReport) -> None:
    page.para("Bounce:      ", bounce.source, label_style="bold")
    if bounce.subject:
        page.para("Subject:     ", bounce.subject, label_style="bold")
    page.para("Format:      ", ", ".join(bounce.formats), label_style="bold")
    if bounce.reporting_mta:
        page.para("Reported by: ", bounce.reporting_mta, label_style="bold")
    page.blank()
    if not bounce.recipients:
        page.add(("No delivery status code found in this message.", "bold yellow"))
    else:
        rows = []
        for r in bounce.recipients:
            said = r.diagnostic or ""
            if r.remote_mta:
                said = f"{r.remote_mta}: {said}" if said else r.remote_mta
            rows.append((r.recipient, r.action or "-", " ".join(r.codes), said or "-"))
        page.table(("Recipient", "Action", "Codes", "Server said"), rows)
    for note in bounce.notes:
        page.para("Note: ", note, style="dim", label_style="dim")
    grouped: dict[str, tuple[TextMatch, list[str]]] = {}
    for recipient in bounce.recipients:
        for match in recipient.text_matches:
            grouped.setdefault(match.key, (match, []))[1].append(recipient.recipient)
    for match, recipients in grouped.values():
        page.blank()
        text_match_lines(page, match, recipients)
    if grouped and bounce.explanations:
        page.blank()
        _codes_heading(page, "the texts above")
    for explanation in bounce.explanations:
        page.blank()
        page.add(("-" * min(page.width, 80), "dim"))
        explanation_lines(page, explanation)


def _rows(page: _Page, rows: tuple[TableRow, ...]) -> None:
    if not rows:
        page.add(("No matching entries.", "bold yellow"))
        return
    page.table(("Code", "Source", "Title"), [(r.code, r.label, r.title) for r in rows])
    noun = "entry" if len(rows) == 1 else "entries"
    page.add((f"{len(rows)} {noun}", "dim"))
