"""The one place a rich ``Console`` is made."""

from __future__ import annotations

import os

from rich.console import Console


def make_console(no_color: bool = False, stderr: bool = False) -> Console:
    """A console for results (stdout) or progress (stderr); no colour with ``no_color``/NO_COLOR.

    ``COLUMNS`` fixes the width when set (tests, pipes); rich otherwise asks the terminal.
    """
    plain = no_color or bool(os.environ.get("NO_COLOR"))
    return Console(
        stderr=stderr,
        no_color=plain,
        highlight=False,
        emoji=False,
        soft_wrap=False,
    )
