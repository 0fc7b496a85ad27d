"""SMTP transcripts and step timings, for the terminal and for ``--transcript FILE``.

Shared by ``ehlo``, ``relay-test`` and ``check``. Every line carries its time since the
connection attempt began and a side marker that survives a pipe or a file: ``C:`` for what
mailprobe sent, ``S:`` for what the server answered, ``*`` for mailprobe's own remarks. In
colour, client lines are also bold (like the guide's telnet examples, where user input is bold).

The lines are expected to be redacted already (``SmtpSession`` records secrets as ``********``);
peer text is printed as plain text, never interpreted as rich markup, and any control or bidi
character in it is shown visibly (``mailprobe.text.show_controls``), in the terminal and in the
``--transcript`` file alike.

API::

    format_line(line) -> str                       one plain line: "   0.012s S: 250 OK"
    transcript_text(lines, timings=(), title=None) -> str   the --transcript file content
    render_transcript(console, lines, title=None)  the same lines, styled
    timings_summary(timings) -> str                "connect 1 ms, banner 3 ms, EHLO 2 ms"
    render_timings(console, timings)               a small table (with -v)
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from rich.console import Console
from rich.table import Table

from mailprobe.render.console import Text
from mailprobe.smtp.session import StepTiming, TranscriptLine
from mailprobe.text import show_controls

SIDE_MARKS = {"client": "C:", "server": "S:", "note": "* "}
_STYLES = {"client": "bold", "server": "", "note": "dim italic"}


def format_line(line: TranscriptLine) -> str:
    """One transcript line as plain text: time, side marker, text."""
    mark = SIDE_MARKS.get(line.side, "? ")
    return f"{line.at:8.3f}s {mark} {show_controls(line.text)}"


def _milliseconds(seconds: float) -> str:
    ms = seconds * 1000
    return f"{ms:.0f} ms" if ms >= 10 else f"{ms:.1f} ms"


def timings_summary(timings: Iterable[StepTiming]) -> str:
    """Per-step durations on one line; failed steps are marked ``(failed)``."""
    parts = []
    for timing in timings:
        mark = "" if timing.ok else " (failed)"
        parts.append(f"{timing.step} {_milliseconds(timing.seconds)}{mark}")
    return ", ".join(parts)


def transcript_text(
    lines: Sequence[TranscriptLine],
    timings: Sequence[StepTiming] = (),
    title: str | None = None,
) -> str:
    """The plain-text transcript written by ``--transcript FILE`` (ends with a newline)."""
    out: list[str] = []
    if title:
        out.append(f"# {show_controls(title)}")
    out.append("# time since connect; C: sent by mailprobe, S: server reply, * remark")
    out.extend(format_line(line) for line in lines)
    if timings:
        out.append(f"# timings: {timings_summary(timings)}")
    return "\n".join(out) + "\n"


def transcript_lines(lines: Iterable[TranscriptLine]) -> list[Text]:
    """Styled ``Text`` objects, one per transcript line."""
    styled: list[Text] = []
    for line in lines:
        text = Text(f"{line.at:8.3f}s ", style="dim")
        text.append(SIDE_MARKS.get(line.side, "? ") + " ", style="dim")
        text.append(line.text, style=_STYLES.get(line.side, ""))
        styled.append(text)
    return styled


def render_transcript(
    console: Console, lines: Sequence[TranscriptLine], title: str | None = None
) -> None:
    """Print a transcript (optionally under a heading)."""
    if title:
        console.print(Text(title, style="bold underline"))
    if not lines:
        console.print(Text("   (nothing was exchanged)", style="dim"))
    for text in transcript_lines(lines):
        console.print(text, overflow="fold")


def render_timings(console: Console, timings: Sequence[StepTiming]) -> None:
    """A table of steps: start time, duration, result."""
    table = Table(box=None, show_header=True, header_style="bold", pad_edge=False)
    table.add_column("step")
    table.add_column("started", justify="right")
    table.add_column("took", justify="right")
    table.add_column("result")
    for timing in timings:
        table.add_row(
            Text(timing.step),
            Text(f"{timing.started_at:.3f}s"),
            Text(_milliseconds(timing.seconds)),
            Text("ok" if timing.ok else "failed", style="" if timing.ok else "red"),
        )
    console.print(table)
