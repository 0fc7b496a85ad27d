"""The ndr layout: plain lines for pipes, the same lines in colour through rich."""

from __future__ import annotations

import io
import re

from rich.console import Console

from mailprobe.ndr.model import NdrReport
from mailprobe.ndr.query import explain_arguments
from mailprobe.render.ndr import layout, render_ndr, write_plain


def _report(*codes: str) -> NdrReport:
    return NdrReport(mode="codes", queries=explain_arguments(list(codes)))


def test_plain_output_fits_width_without_trailing_spaces() -> None:
    for width in (40, 80, 100):
        out = io.StringIO()
        write_plain(out, _report("5.7.1", "4.2.9", "550"), width)
        lines = out.getvalue().splitlines()
        assert max(len(line) for line in lines) <= width
        assert all(line == line.rstrip() for line in lines)


def test_rich_output_is_the_same_text_in_colour() -> None:
    report = _report("5.1.1", "4.4.7")
    plain = io.StringIO()
    write_plain(plain, report, 80)
    console = Console(file=io.StringIO(), width=80, force_terminal=True, color_system="standard")
    with console.capture() as capture:
        render_ndr(console, report)
    coloured = capture.get()
    assert "\x1b[" in coloured
    assert re.sub(r"\x1b\[[0-9;]*m", "", coloured) == plain.getvalue()
    assert len(layout(report, 80)) == len(plain.getvalue().splitlines())


def test_list_table_layout() -> None:
    from mailprobe.ndr.explain import list_entries

    lines = layout(NdrReport(mode="list", entries=list_entries(5, 1)), 60)
    text = ["".join(t for t, _ in line) for line in lines]
    assert text[0].startswith("Code") and set(text[1]) <= {"-", " "}
    assert text[-1].endswith("entries")
    assert max(len(t) for t in text) <= 60
