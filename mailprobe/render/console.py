"""The one place a rich ``Console`` is made, and the one place its text is made safe.

Peer-controlled text (TXT records, SMTP banners and replies, DNS names, MTA-STS policies) may
carry ESC sequences, other controls, CR overwrites and bidi overrides, and may look like rich
markup (``[bold]``, ``[link=...]``). Whatever a renderer does, nothing of that reaches the
terminal raw or is read as markup, by three layers that every renderer goes through:

1. ``Text`` (this module's subclass of rich's ``Text``; renderers import it from here, never
   from ``rich.text``, and a unit test enforces that): its content, given to the constructor,
   ``append``, ``append_tokens``, ``assemble`` or ``+``, passes through
   ``mailprobe.text.show_controls``, so controls are shown visibly (``\\x1b``, ``\\x07``,
   ``\\r``, ``\\u202e``) *before* rich measures and wraps the text (rich's own ``Text`` would
   silently drop BEL and CR and keep ESC). Styles are rich's and stay untouched.
2. The console (``make_console``) has markup off, so a plain ``str`` printed is always literal
   text, never markup; and ``render_str`` (how rich turns every ``str`` it is given, including
   table cells and titles, into text) applies the same ``show_controls``.
3. The net: the console's ``render`` shows any control left in the text of a rendered segment
   (say, a rich ``Text`` built elsewhere), keeping line breaks. Only text segments are touched:
   the escape sequences rich emits for styles are produced after rendering, and control segments
   (cursor moves of live displays) are rich's own, so both pass unchanged.

The ANSI styling rich adds therefore still works; only the text *content* is sanitised.
"""

from __future__ import annotations

import errno
import io
import os
import sys
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any, TextIO, cast

import rich.text
from rich.console import Console
from rich.segment import Segment

from mailprobe.text import show_controls, show_controls_keep_newlines

if TYPE_CHECKING:
    from rich.align import AlignMethod
    from rich.console import ConsoleOptions, JustifyMethod, OverflowMethod, RenderableType
    from rich.style import Style


#: The console width when the output is not a terminal: effectively unlimited, so a pipe or a
#: file gets one record (one line of text, one table row) per line, whole, for grep.
PIPE_WIDTH = 1_000_000
#: The width of a rule (``console.rule``) when the output is not a terminal.
RULE_WIDTH = 80


class Text(rich.text.Text):
    """rich's ``Text`` whose content is always shown with ``show_controls``.

    Every renderer builds its text with this class (``from mailprobe.render.console import
    Text``), so peer text can go into it as is, also inside f-strings with mailprobe's own
    words. Text built with explicit ``spans`` (copies of text that is already clean) is kept
    as given; the console's net still covers it.
    """

    __slots__ = ()

    def __init__(
        self,
        text: str = "",
        style: str | Style = "",
        *,
        justify: JustifyMethod | None = None,
        overflow: OverflowMethod | None = None,
        no_wrap: bool | None = None,
        end: str = "\n",
        tab_size: int | None = None,
        spans: list[rich.text.Span] | None = None,
    ) -> None:
        super().__init__(
            text if spans else show_controls(text),
            style,
            justify=justify,
            overflow=overflow,
            no_wrap=no_wrap,
            end=end,
            tab_size=tab_size,
            spans=spans,
        )

    def append(self, text: rich.text.Text | str, style: str | Style | None = None) -> Text:
        """Append text (a ``str`` is shown with ``show_controls``)."""
        if isinstance(text, str):
            text = show_controls(text)
        super().append(text, style)
        return self

    def append_tokens(self, tokens: Iterable[tuple[str, str | Style | None]]) -> Text:
        """Append ``(text, style)`` pairs, each text shown with ``show_controls``."""
        super().append_tokens((show_controls(text), style) for text, style in tokens)
        return self

    def copy(self) -> Text:
        """A copy that is still this class (rich's ``copy`` returns its own ``Text``)."""
        return Text(
            self.plain,
            style=self.style,
            justify=self.justify,
            overflow=self.overflow,
            no_wrap=self.no_wrap,
            end=self.end,
            tab_size=self.tab_size,
            spans=self._spans[:],
        )

    def __add__(self, other: Any) -> rich.text.Text:
        if isinstance(other, str):
            other = show_controls(other)
        return super().__add__(other)


class _SafeConsole(Console):
    """A rich console that never writes a control character from text content (see above)."""

    def render_str(self, text: str, **kwargs: Any) -> rich.text.Text:
        """A ``str`` becomes text with its controls shown (markup is off on this console)."""
        return super().render_str(show_controls(text), **kwargs)

    def render(
        self, renderable: RenderableType, options: ConsoleOptions | None = None
    ) -> Iterable[Segment]:
        """rich's rendering, with every control left in a text segment shown visibly."""
        return _shown(super().render(renderable, options))

    def rule(
        self,
        title: str | rich.text.Text = "",
        *,
        characters: str = "─",
        style: str | Style = "rule.line",
        align: AlignMethod = "center",
    ) -> None:
        """rich's rule; ``RULE_WIDTH`` wide when the console is not a terminal (its width is
        then unlimited, see ``make_console``)."""
        from rich.rule import Rule

        width = RULE_WIDTH if self.width >= PIPE_WIDTH else None
        self.print(Rule(title, characters=characters, style=style, align=align), width=width)

    def on_broken_pipe(self) -> None:
        """Output to a closed pipe: raise it on (rich would ``SystemExit(1)``, "problem found",
        even inside an asyncio task); ``cli/entry.py`` makes it a quiet exit 141."""
        self.quiet = True
        raise BrokenPipeError(errno.EPIPE, os.strerror(errno.EPIPE))


def _shown(segments: Iterable[Segment]) -> Iterator[Segment]:
    for segment in segments:
        text = segment.text
        if segment.control or text.isprintable():
            yield segment
        else:
            yield Segment(show_controls_keep_newlines(text), segment.style, segment.control)


class _TrimmedLines(io.TextIOBase):
    """Passes text through, minus the trailing spaces rich pads table cells with.

    Used only when the output is not a terminal (a pipe, a file), where padding is invisible
    but gets in the way of diffs, grep and copy-paste.
    """

    def __init__(self, target: TextIO) -> None:
        self._target = target
        self._pending = ""

    def write(self, text: str) -> int:
        data = self._pending + text
        lines = data.split("\n")
        self._pending = lines.pop()
        if lines:
            self._target.write("\n".join(line.rstrip(" ") for line in lines) + "\n")
        return len(text)

    def flush(self) -> None:
        if self._pending:
            self._target.write(self._pending)
            self._pending = ""
        self._target.flush()

    def isatty(self) -> bool:
        return False


def make_console(no_color: bool = False, stderr: bool = False) -> Console:
    """A console for results (stdout) or progress (stderr); no colour with ``no_color``/NO_COLOR.

    On a terminal, ``COLUMNS`` fixes the width when set; rich otherwise asks the terminal.
    Not on a terminal (a pipe, a file), the width is ``PIPE_WIDTH``: lines are never wrapped,
    so each record or finding stays on one line (``COLUMNS`` is ignored there). Markup is off
    and text content is shown with ``show_controls`` (see the module doc).
    """
    plain = no_color or bool(os.environ.get("NO_COLOR"))
    stream = sys.stderr if stderr else sys.stdout
    isatty = getattr(stream, "isatty", None)
    on_terminal = callable(isatty) and bool(isatty())
    target = None if on_terminal else cast(TextIO, _TrimmedLines(stream))
    return _SafeConsole(
        file=target,
        stderr=stderr,
        no_color=plain,
        markup=False,
        highlight=False,
        emoji=False,
        soft_wrap=False,
        width=None if on_terminal else PIPE_WIDTH,
    )
