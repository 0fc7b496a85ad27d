"""`mailprobe ndr`: explain delivery status codes, reply lines and whole bounce messages.

Exit codes: 0 the input was explained (whatever the code says), 1 a bounce without any code
or a ``--search`` without matches, 2 bad input. Nothing here touches the network, and nothing
heavy is imported: the code table is read lazily from package data.
"""

from __future__ import annotations

from pathlib import Path

from mailprobe.cli.ndr_run import run_ndr
from mailprobe.cli.options import NDR
from mailprobe.cli.options_typer import typer_command


def _ndr(
    codes: list[str] | None,
    file: Path | None,
    list_codes: bool,
    klass: int | None,
    subject: int | None,
    search: str | None,
) -> int:
    """Explain delivery status codes, SMTP replies and bounce messages (NDRs).

    \b
    Examples:
      mailprobe ndr 5.4.8
      mailprobe ndr 550 4.4.7
      mailprobe ndr "550 5.1.1 User unknown"
      mailprobe ndr --file bounce.eml
      mailprobe ndr - < bounce.eml
      mailprobe ndr --search relay
      mailprobe ndr --list --class 5 --subject 7

    Exit codes: 0 explained, 1 no code in the bounce (or no --search match),
    2 bad input.
    """
    return run_ndr(list(codes or []), file, list_codes, klass, subject, search)


ndr = typer_command(_ndr, NDR, network=False)
