"""typer commands and option aliases built from the option tables of ``cli/options.py``.

``typer_command(run, table)`` makes the function typer registers: its signature (read by typer
through ``inspect.signature``) has one keyword parameter per entry of ``table`` and of the
global options, each with its real type and a ``typer.Option``/``typer.Argument`` default that
carries the names, range, metavar and help of the table. Calling it applies the global options
and calls ``run`` with the command's values (dest -> value).
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable, Sequence
from typing import Any

import typer

from mailprobe.cli import options
from mailprobe.cli.inputs import check_text_options
from mailprobe.cli.options import Opt
from mailprobe.cli.runtime import apply_globals


def parameter_info(opt: Opt, *, annotated: bool = False) -> Any:
    """The ``typer.Option``/``typer.Argument`` of ``opt``; ``annotated``: for use inside
    ``Annotated[...]`` (no default there: it goes after ``=``)."""
    default = ... if annotated else opt.default
    # A metavar for every value: without one typer shows a type label (<str>, <int range>).
    metavar = opt.metavar or opt.dest.upper()
    complete = choice_completer(opt) if opt.choices else None
    if opt.positional:
        return typer.Argument(
            default,
            metavar=metavar,
            help=opt.help or None,
            show_default=opt.show_default,
            autocompletion=complete,
        )
    declarations = opt.names
    if opt.kind == "pair":
        declarations = tuple(
            f"{on}/{off}" for on, off in zip(opt.names, opt.off_names, strict=True)
        )
    # typer checks a closed range itself (and shows it in --help); an open one by a callback.
    closed = opt.has_range and not opt.min_open
    return typer.Option(
        default,
        *declarations,
        metavar=metavar if opt.kind not in ("flag", "pair", "count") else None,
        help=opt.help or None,
        autocompletion=complete,
        min=opt.min if closed else None,
        max=opt.max if closed else None,
        callback=range_callback(opt) if opt.has_range and not closed else None,
        count=opt.kind == "count",
        show_default=opt.show_default,
    )


def choice_completer(opt: Opt) -> Callable[[str], list[str]]:
    """typer's completion of the values of ``opt`` (``--install-completion``)."""

    def complete(incomplete: str) -> list[str]:
        return [c for c in opt.choice_values() if c.lower().startswith(incomplete.lower())]

    complete.__name__ = f"complete_{opt.dest}"
    return complete


class PlainHelpCommand(typer.core.TyperCommand):
    """A command whose plain (click-style) help lists each argument by its metavar alone.

    typer adds a type label to every argument (``HOST <str>``); the option tables give every
    value a metavar that says more, so the label is left out.
    """

    def format_options(self, ctx: Any, formatter: Any) -> None:
        args: list[tuple[str, str]] = []
        opts: list[tuple[str, str]] = []
        for param in self.get_params(ctx):
            if param.param_type_name == "argument":
                if not getattr(param, "hidden", False):
                    name = param.metavar or str(param.name).upper()
                    args.append((name, getattr(param, "help", None) or ""))
            elif param.param_type_name == "option":
                record = param.get_help_record(ctx)
                if record is not None:
                    opts.append(record)
        if args:
            with formatter.section("Arguments"):
                formatter.write_dl(args)
        if opts:
            with formatter.section("Options"):
                formatter.write_dl(opts)


#: ``--timeout`` in the help of a command that uses no network.
_NO_NETWORK_TIMEOUT = "Accepted like everywhere, but this command uses no network: no effect."


def range_callback(opt: Opt) -> Callable[[Any], Any]:
    """A typer callback that refuses a value outside the range of ``opt``."""

    def check(value: Any) -> Any:
        if value is not None and not opt.in_range(value):
            raise typer.BadParameter(f"must be {opt.range_text()}", param_hint=f"'{opt.names[0]}'")
        return value

    check.__name__ = f"check_{opt.dest}"
    return check


def typer_command(
    run: Callable[..., int], table: Sequence[Opt], *, network: bool = True
) -> Callable[..., int]:
    """The typer command function for the options of ``table`` and the global options.

    The command's help is the docstring of ``run``. Calling the command applies the global
    options (``apply_globals``) and returns ``run(**values)``, one keyword per entry of
    ``table``: ``run`` declares exactly those parameters (checked here), or ``**values``.
    ``network=False``: the help of ``--timeout`` says that it has no effect.
    """
    _check_parameters(run, table)
    globals_: tuple[Opt, ...] = options.GLOBALS
    if not network:
        globals_ = tuple(
            dataclasses.replace(o, help=_NO_NETWORK_TIMEOUT) if o is options.TIMEOUT else o
            for o in globals_
        )
    every = (*table, *globals_)

    def command(**values: Any) -> int:
        apply_globals(**{opt.dest: values.pop(opt.dest) for opt in options.GLOBALS})
        check_text_options(table, values)
        return run(**values)

    kind = inspect.Parameter.KEYWORD_ONLY
    parameters = [
        inspect.Parameter(o.dest, kind, default=parameter_info(o), annotation=options.annotation(o))
        for o in every
    ]
    command.__signature__ = inspect.Signature(parameters, return_annotation=int)  # type: ignore[attr-defined]
    command.__annotations__ = {
        **{o.dest: options.annotation(o) for o in every},
        "return": int,
    }
    command.__doc__ = run.__doc__
    command.__module__ = run.__module__
    command.__name__ = command.__qualname__ = run.__name__.strip("_")
    return command


def _check_parameters(run: Callable[..., int], table: Sequence[Opt]) -> None:
    declared = inspect.signature(run).parameters.values()
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in declared):
        return
    if [p.name for p in declared] != [o.dest for o in table]:
        raise TypeError(
            f"{run.__qualname__} takes {[p.name for p in declared]}, "
            f"the table declares {[o.dest for o in table]}"
        )
