"""The transcript renderer: markers, times, plain text file, no markup interpretation."""

from __future__ import annotations

import io

from rich.console import Console

from mailprobe.render.transcript import (
    format_line,
    render_transcript,
    timings_summary,
    transcript_text,
)
from mailprobe.smtp.session import StepTiming, TranscriptLine

LINES = [
    TranscriptLine(0.0, "note", "connecting to 192.0.2.1:25"),
    TranscriptLine(0.0123, "server", "220 mx.example.org ESMTP [bold]not markup[/bold]"),
    TranscriptLine(0.02, "client", "EHLO probe.example.org"),
]
TIMINGS = [StepTiming("connect", 0.0, 0.0012, True), StepTiming("EHLO", 0.02, 0.25, False)]


def test_format_line() -> None:
    assert format_line(LINES[2]) == "   0.020s C: EHLO probe.example.org"
    assert format_line(LINES[1]).startswith("   0.012s S: 220 ")
    assert format_line(LINES[0]).startswith("   0.000s *  connecting")


def test_transcript_text() -> None:
    text = transcript_text(LINES, TIMINGS, title="mailprobe ehlo mx:25")
    lines = text.splitlines()
    assert lines[0] == "# mailprobe ehlo mx:25"
    assert lines[-1] == "# timings: connect 1.2 ms, EHLO 250 ms (failed)"
    assert text.endswith("\n")


def test_timings_summary() -> None:
    assert timings_summary([]) == ""
    assert timings_summary(TIMINGS[:1]) == "connect 1.2 ms"


def test_rendered_peer_text_is_not_markup() -> None:
    buffer = io.StringIO()
    console = Console(file=buffer, width=200, no_color=True, force_terminal=False)
    render_transcript(console, LINES, title="Transcript")
    out = buffer.getvalue()
    assert "[bold]not markup[/bold]" in out
    assert " C: EHLO probe.example.org" in out
