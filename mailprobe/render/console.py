"""The one place a rich ``Console`` is made."""

from __future__ import annotations

import io
import os
import sys
from typing import TextIO, cast

from rich.console import Console


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

    ``COLUMNS`` fixes the width when set (tests, pipes); rich otherwise asks the terminal.
    """
    plain = no_color or bool(os.environ.get("NO_COLOR"))
    stream = sys.stderr if stderr else sys.stdout
    isatty = getattr(stream, "isatty", None)
    on_terminal = callable(isatty) and bool(isatty())
    target = None if on_terminal else cast(TextIO, _TrimmedLines(stream))
    return Console(
        file=target,
        stderr=stderr,
        no_color=plain,
        highlight=False,
        emoji=False,
        soft_wrap=False,
    )
