"""typer commands and option aliases built from the option tables of ``cli/options.py``.

``typer_command(run, table)`` makes the function typer registers: its signature (read by typer
through ``inspect.signature``) has one keyword parameter per entry of ``table`` and of the
global options, each with its real type and a ``typer.Option``/``typer.Argument`` default that
carries the names, range, metavar and help of the table. Calling it applies the global options
and calls ``run`` with the command's values (dest -> value).
"""

from __future__ import annotations

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
    if opt.positional:
        return typer.Argument(
            default,
            metavar=opt.metavar,
            help=opt.help or None,
            show_default=opt.show_default,
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
        metavar=opt.metavar,
        help=opt.help or None,
        min=opt.min if closed else None,
        max=opt.max if closed else None,
        callback=range_callback(opt) if opt.has_range and not closed else None,
        count=opt.kind == "count",
        show_default=opt.show_default,
    )


def range_callback(opt: Opt) -> Callable[[Any], Any]:
    """A typer callback that refuses a value outside the range of ``opt``."""

    def check(value: Any) -> Any:
        if value is not None and not opt.in_range(value):
            raise typer.BadParameter(f"must be {opt.range_text()}", param_hint=f"'{opt.names[0]}'")
        return value

    check.__name__ = f"check_{opt.dest}"
    return check


def typer_command(run: Callable[..., int], table: Sequence[Opt]) -> Callable[..., int]:
    """The typer command function for the options of ``table`` and the global options.

    The command's help is the docstring of ``run``. Calling the command applies the global
    options (``apply_globals``) and returns ``run(**values)``, one keyword per entry of
    ``table``: ``run`` declares exactly those parameters (checked here), or ``**values``.
    """
    _check_parameters(run, table)
    every = (*table, *options.GLOBALS)

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
