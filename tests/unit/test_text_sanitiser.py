"""The one sanitiser for peer text in terminal and HTML output (``mailprobe.text.show_controls``),
the console that applies it (``mailprobe.render.console``) and JSON's escaping (``json_safe``)."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest
import rich.text

from mailprobe.render.console import Text, make_console
from mailprobe.render.html import esc
from mailprobe.text import json_safe, show_controls, show_controls_keep_newlines

REPO = Path(__file__).resolve().parents[2]
EVIL = "a\x1b]52;c;ZXZpbA==\x07b\x1b[2Jc\rd\u202ee\u2066f\u200eg\x9bh\x7fi\x00j\tk\nl"
#: Characters that must never reach a terminal or the HTML report from peer text.
FORBIDDEN = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
BIDI = [chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x200E, 0x200F)]


def test_show_controls_makes_every_control_visible() -> None:
    shown = show_controls(EVIL)
    assert shown == (
        "a\\x1b]52;c;ZXZpbA==\\x07b\\x1b[2Jc\\rd\\u202ee\\u2066f\\u200eg\\x9bh\\x7fi\\x00j\\tk\\nl"
    )
    assert shown.isprintable()


@pytest.mark.parametrize("char", BIDI)
def test_show_controls_escapes_every_bidi_control(char: str) -> None:
    assert show_controls(f"x{char}y") == f"x\\u{ord(char):04x}y"


def test_show_controls_keeps_printable_text_and_is_idempotent() -> None:
    for text in ("mx.example.com", "bücher.example", "例え.テスト", "[bold]x[/bold]", "a\\x1b"):
        assert show_controls(text) == text
    assert show_controls(show_controls(EVIL)) == show_controls(EVIL)
    assert show_controls("\U000e0001") == "\\U000e0001"  # a tag character (format, astral)


def test_show_controls_keep_newlines() -> None:
    assert show_controls_keep_newlines("a\x1b\nb\r\n") == "a\\x1b\nb\\r\n"


def test_json_safe_keeps_the_exact_text() -> None:
    document = {"record": EVIL + "\u2028\U000e0001 bücher", "n": 1}
    for text in (
        json.dumps(document, ensure_ascii=False, indent=2),
        json.dumps(document, ensure_ascii=False, separators=(",", ":")),
    ):
        safe = json_safe(text)
        assert json.loads(safe) == document
        assert not FORBIDDEN.search(safe.replace("\n", ""))
        assert "\u2028" not in safe
        assert "bücher" in safe  # non-ASCII letters stay readable


def _printed(*renderables: object, **kwargs: object) -> str:
    buffer = io.StringIO()
    console = make_console()
    console.file = buffer
    console.print(*renderables, **kwargs)  # type: ignore[arg-type]
    return buffer.getvalue()


def test_text_shows_controls_before_rich_drops_them() -> None:
    # rich's own Text silently drops BEL and CR and keeps ESC; ours shows all three.
    text = Text("banner " + EVIL, style="bold")
    text.append(" more\x07")
    text.append_tokens([("tok\r", "dim")])
    joined = text + "\x1b[2J"
    assert isinstance(joined, Text)
    assert joined.plain.isprintable()
    assert "\\x07" in joined.plain and "\\r" in joined.plain and "\\u202e" in joined.plain
    assert isinstance(Text.assemble("a\x1b", ("b\x07", "bold")), Text)
    assert Text.assemble("a\x1b", ("b\x07", "bold")).plain == "a\\x1bb\\x07"


def test_console_net_catches_a_plain_rich_text_and_strings() -> None:
    out = _printed(rich.text.Text("raw \x1b]0;title\x1b\\ \u202eevil"), "str \x1b[2J\x07\r")
    assert not FORBIDDEN.search(out.replace("\n", ""))
    assert "\\x1b]0;title" in out and "\\u202eevil" in out
    assert "str \\x1b[2J\\x07\\r" in out


def test_console_never_reads_markup() -> None:
    assert _printed("[bold]x[/bold] [link=http://evil]y[/link] [loopback]") == (
        "[bold]x[/bold] [link=http://evil]y[/link] [loopback]\n"
    )
    assert _printed(Text("[bold]x[/bold]")) == "[bold]x[/bold]\n"


def test_console_in_colour_emits_only_rich_styles(monkeypatch: pytest.MonkeyPatch) -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    stream = Tty()
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm-256color")
    monkeypatch.setattr("sys.stdout", stream)
    console = make_console()
    console.print(Text("peer ", style="bold red") + Text(EVIL), rich.text.Text("x\x1b[2J"))
    out = stream.getvalue()
    assert "\x1b[1;31m" in out  # styles still work
    assert re.sub(r"\x1b\[[0-9;]*m", "", out).replace("\n", "").isprintable()


def test_progress_displays_need_no_markup(monkeypatch: pytest.MonkeyPatch) -> None:
    """With markup off on the console, mailprobe's own progress displays still read right."""
    from mailprobe.render.check import progress_display as check_progress
    from mailprobe.render.mx import progress_display as mx_progress

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    stream = Tty()
    monkeypatch.setenv("TERM", "xterm-256color")
    monkeypatch.setattr("sys.stderr", stream)
    console = make_console(stderr=True)
    with mx_progress(2, console) as advance:
        advance()
    with check_progress(console, ["a.test", "evil\x1b[2J.test"]) as update:
        update(1, "dns", "running")
    out = stream.getvalue()
    assert "mx " in out and "[progress" not in out
    assert "evil\\x1b[2J.te" in out and "\x1b[2J" not in out


def test_html_esc_shows_controls_and_escapes_markup() -> None:
    assert esc("<b>\x1b[2J\x07\r\u202e</b>") == "&lt;b&gt;\\x1b[2J\\x07\\r\\u202e&lt;/b&gt;"


def test_no_renderer_bypasses_the_safe_console() -> None:
    """Renderers and CLI modules build text with ``mailprobe.render.console.Text`` and never
    ask rich for markup: the sanitiser cannot be forgotten."""
    forbidden = re.compile(
        r"from rich\.text import|import rich\.text|rich\.markup|from_markup|markup=True"
    )
    offenders = []
    for folder in ("mailprobe/render", "mailprobe/cli"):
        for path in sorted((REPO / folder).glob("*.py")):
            if path.name == "console.py" and folder == "mailprobe/render":
                continue
            for number, line in enumerate(path.read_text().splitlines(), 1):
                if forbidden.search(line):
                    offenders.append(f"{path.relative_to(REPO)}:{number}: {line.strip()}")
    assert not offenders
