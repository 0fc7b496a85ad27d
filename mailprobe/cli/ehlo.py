"""`mailprobe ehlo`: the scripted telnet session (banner, EHLO verbs against an expected set,
STARTTLS, AUTH, MAIL, RCPT, optional DATA) with a transcript. See docs/ehlo.md.

The options are declared once, in ``options.EHLO``; the typer command is built from that table
(``options_typer.typer_command``), like the typer-free quick path in ``cli/ehlo_run.py``.
"""

from __future__ import annotations

from typing import Any

from mailprobe.cli import options
from mailprobe.cli.options_typer import typer_command


def _ehlo(**values: Any) -> int:
    """Talk SMTP to a server like the telnet test: banner, EHLO verbs against an expected set,
    STARTTLS, AUTH, MAIL/RCPT, optional DATA, with a timed transcript."""
    from mailprobe.cli.ehlo_run import EhloArgs, run_ehlo_command

    return run_ehlo_command(EhloArgs(**values))


ehlo = typer_command(_ehlo, options.EHLO)
