"""The root typer app and its global options; ``main`` (in ``cli/entry.py``) runs it.

Only ``mailprobe.cli`` imports typer. Subcommand modules import nothing heavy at module level:
dnspython, aiosmtplib and httpx are imported inside the commands that need them, so
``mailprobe ndr`` starts fast.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import typer

from mailprobe import __version__
from mailprobe.cli import blocklist as blocklist_cmd
from mailprobe.cli import check as check_cmd
from mailprobe.cli import ehlo as ehlo_cmd
from mailprobe.cli import findings as findings_cmd
from mailprobe.cli import log as log_cmd
from mailprobe.cli import mx as mx_cmd
from mailprobe.cli import ndr as ndr_cmd
from mailprobe.cli import outbound as outbound_cmd
from mailprobe.cli import ports as ports_cmd
from mailprobe.cli import queue as queue_cmd
from mailprobe.cli import relay as relay_cmd
from mailprobe.cli import tls as tls_cmd
from mailprobe.cli.common import (
    ConfigOpt,
    FormatOpt,
    JsonOpt,
    NoColorOpt,
    TimeoutOpt,
    VerboseOpt,
    apply_globals,
)
from mailprobe.cli.options_typer import PlainHelpCommand

app = typer.Typer(
    name="mailprobe",
    help=(
        "Diagnose mail flow: MX records, SMTP sessions, open relays, delivery status codes.\n\n"
        "Exit codes: 0 healthy, 1 a problem was found, 2 usage or bad input, "
        "3 could not complete (unreachable, timeout)."
    ),
    no_args_is_help=True,
    # Plain click-style help: at 80 columns rich's boxed tables leave about 20 columns for the
    # descriptions (ehlo --help ran to 115 lines); see options_typer.PlainHelpCommand.
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    pretty_exceptions_show_locals=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        sys.stdout.write(f"mailprobe {__version__}\n")
        raise typer.Exit(0)


@app.callback()
def root(
    json_output: JsonOpt = False,
    timeout: TimeoutOpt = None,
    config: ConfigOpt = None,
    no_color: NoColorOpt = False,
    verbose: VerboseOpt = 0,
    output_format: FormatOpt = None,
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Show the version and exit."
    ),
) -> None:
    """Global options; they may also be given after the subcommand name."""
    apply_globals(json_output, timeout, config, no_color, verbose, output_format)


app.command(
    "ndr", cls=PlainHelpCommand, short_help="Explain status codes, SMTP replies and bounces (NDRs)."
)(ndr_cmd.ndr)
app.command("mx", cls=PlainHelpCommand, short_help="Show and verify the MX records of domains.")(
    mx_cmd.mx
)
app.command(
    "ehlo",
    cls=PlainHelpCommand,
    short_help="Talk SMTP to a server: banner, EHLO verbs, TLS, AUTH, RCPT.",
)(ehlo_cmd.ehlo)
app.command(
    "relay-test",
    cls=PlainHelpCommand,
    short_help="Test whether a server relays mail for anonymous clients.",
)(relay_cmd.relay_test)
app.command(
    "check", cls=PlainHelpCommand, short_help="Run the inbound mail-flow checklist of a domain."
)(check_cmd.check)
app.command(
    "blocklist",
    cls=PlainHelpCommand,
    short_help="Look addresses, hosts and a domain's exchangers up on DNS blocklists.",
)(blocklist_cmd.blocklist)
app.command(
    "tls",
    cls=PlainHelpCommand,
    short_help="Enumerate and grade a mail server's TLS (NCSC-NL guidelines).",
)(tls_cmd.tls)
app.command(
    "ports",
    cls=PlainHelpCommand,
    short_help="Probe a host's mail-related TCP ports and identify what answers.",
)(ports_cmd.ports)
app.command(
    "queue",
    cls=PlainHelpCommand,
    short_help="Explain a mail queue (postqueue -j, exim -bp, mailq) or an Exchange queue.",
)(queue_cmd.queue)
app.command(
    "outbound",
    cls=PlainHelpCommand,
    short_help="Check that this machine can send mail out: DNS, port 25, HELO/PTR, smarthost.",
)(outbound_cmd.outbound)
app.command(
    "log",
    cls=PlainHelpCommand,
    short_help="Summarise a mail-server log (Postfix, Exim, Exchange) and explain its failures.",
)(log_cmd.log)
app.command("findings", cls=PlainHelpCommand, short_help="List the finding codes, or explain one.")(
    findings_cmd.findings
)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI (see ``mailprobe.cli.entry.main``)."""
    from mailprobe.cli.entry import main as entry_main

    return entry_main(argv)
