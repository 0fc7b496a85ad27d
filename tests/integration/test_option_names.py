"""Shared option names: every command that takes a DNS server, an SMTP port or a recipient
accepts the same names (mailprobe/cli/names.py), and the typer-free quick path of ``ehlo``
accepts exactly the names typer declares for the options it handles. Both are built from one
table per command (mailprobe/cli/options.py): the tests below check, for every entry, that
typer and the quick path read the same names, values and ranges."""

from __future__ import annotations

import dataclasses
import importlib
from pathlib import Path
from typing import Any, get_type_hints

import pytest
import typer

from mailprobe.cli import ehlo_run, names, options
from mailprobe.cli.app import app


def _options(command: str) -> dict[str, set[str]]:
    """Parameter name -> every option string typer accepts for it."""
    group = typer.main.get_command(app)
    cmd = group.commands[command]  # type: ignore[attr-defined]
    return {p.name: set(p.opts) | set(p.secondary_opts) for p in cmd.params if p.opts}


def _declares(command: str, wanted: tuple[str, ...]) -> bool:
    return any(set(wanted) <= opts for opts in _options(command).values())


def test_dns_server_names_in_every_command_that_asks_dns() -> None:
    for command in ("mx", "check", "ehlo", "relay-test"):
        assert _declares(command, names.DNS_SERVER), command


def test_smtp_port_names_in_every_smtp_command() -> None:
    for command in ("mx", "check", "ehlo", "relay-test"):
        assert _declares(command, names.SMTP_PORT), command


def test_recipient_names_in_every_command_that_sends_rcpt() -> None:
    for command in ("check", "ehlo", "relay-test"):
        assert _declares(command, names.RECIPIENT), command


def test_quick_path_accepts_exactly_the_typer_names_of_its_options() -> None:
    typer_opts = _options("ehlo")
    for opt in options.EHLO + options.GLOBALS:
        if opt.quick and not opt.positional:
            assert set(opt.all_names) == typer_opts[opt.dest], opt.dest


# -- one declaration per option (cli/options.py): typer and the quick path read the same table --

_TABLES = [(command, opt) for command, table in options.COMMANDS.items() for opt in table]
_QUICK = [(command, opt) for command, opt in _TABLES if command in options.QUICK]


def _typer_params(command: str) -> dict[str, Any]:
    group = typer.main.get_command(app)
    return {p.name: p for p in group.commands[command].params}  # type: ignore[attr-defined]


def _typer_parse(command: str, args: list[str]) -> dict[str, Any] | None:
    """dest -> value as typer hands them to the command, or None when typer refuses the line."""
    cmd = typer.main.get_command(app).commands[command]  # type: ignore[attr-defined]
    try:
        ctx = cmd.make_context(command, list(args))
    except typer.TyperException:
        return None
    # typer gives the command None for an empty repeatable option, a list otherwise.
    return {
        k: (list(v) or None) if isinstance(v, tuple | list) else v for k, v in ctx.params.items()
    }


def _quick_parse(command: str, args: list[str]) -> dict[str, Any] | None:
    parsed = options.parse_quick([command, *args], command, options.COMMANDS[command])
    return None if parsed is None else {**parsed[0], **parsed[1]}


def _sample(opt: options.Opt) -> str:
    if opt.py_type in (int, float):
        return str(opt.max if opt.max is not None else 7)
    return "x.example" if opt.py_type is str else "some/file.pem"


def _lines(opt: options.Opt) -> list[list[str]]:
    """Command lines that use ``opt`` in every form the quick path knows, each name once."""
    if opt.kind in ("flag", "count"):
        lines = [[name] for name in opt.names]
        if opt.kind == "count":
            lines.append([opt.names[0], *opt.names])
            lines += [[name + name[1] * 2] for name in opt.names if len(name) == 2]  # -vvv
        return lines
    if opt.kind == "pair":
        return [[name] for name in opt.all_names]
    value = _sample(opt)
    lines = [[name, value] for name in opt.names]
    lines += [[f"{name}={value}"] for name in opt.names if name.startswith("--")]
    if opt.kind == "multi":
        lines.append([opt.names[0], "a@b.example", opt.names[-1], "c@d.example"])
    return lines


@pytest.mark.parametrize(("command", "opt"), _TABLES, ids=[f"{c}:{o.dest}" for c, o in _TABLES])
def test_typer_declares_the_table(command: str, opt: options.Opt) -> None:
    param = _typer_params(command)[opt.dest]
    assert opt.positional or list(opt.names) == param.opts
    assert list(opt.off_names) == param.secondary_opts
    assert param.metavar == opt.metavar and param.help == (opt.help or None)
    assert param.default == opt.default
    if opt.has_range and not opt.min_open:
        assert (param.min, param.max) == (opt.min, opt.max)
    assert getattr(param, "count", False) == (opt.kind == "count")
    assert param.multiple == (opt.kind == "multi")


@pytest.mark.parametrize(("command", "opt"), _QUICK, ids=[f"{c}:{o.dest}" for c, o in _QUICK])
def test_typer_and_the_quick_path_read_an_option_alike(command: str, opt: options.Opt) -> None:
    lines = [["h"]] if opt.positional else [["h", *line] for line in _lines(opt)]
    for args in lines:
        expected = _typer_parse(command, args)
        assert expected is not None, args
        quick = _quick_parse(command, args)
        if opt.quick:
            assert quick == expected, args
        else:
            assert quick is None, args  # typer parses every line with this option


_RANGED = [
    (command, opt)
    for command, table in options.COMMANDS.items()
    for opt in (*table, *options.GLOBALS)
    if opt.has_range and opt.quick
]
_QUICK_RANGED = [(command, opt) for command, opt in _RANGED if command in options.QUICK]


@pytest.mark.parametrize(("command", "opt"), _RANGED, ids=[f"{c}:{o.dest}" for c, o in _RANGED])
def test_typer_accepts_the_declared_range(command: str, opt: options.Opt) -> None:
    assert opt.min is not None and opt.max is not None
    step = 1 if opt.py_type is int else 0.5
    for number in (
        opt.min - step,
        opt.min,
        opt.min + step,
        opt.max - step,
        opt.max,
        opt.max + step,
    ):
        parsed = _typer_parse(command, [f"{opt.names[0]}={number}"])
        assert (parsed is not None) == opt.in_range(number), number
        assert parsed is None or parsed[opt.dest] == number


@pytest.mark.parametrize(
    ("command", "opt"), _QUICK_RANGED, ids=[f"{c}:{o.dest}" for c, o in _QUICK_RANGED]
)
def test_typer_and_the_quick_path_accept_the_same_range(command: str, opt: options.Opt) -> None:
    assert opt.min is not None and opt.max is not None
    step = 1 if opt.py_type is int else 0.5
    for number in (
        opt.min - step,
        opt.min,
        opt.min + step,
        opt.max - step,
        opt.max,
        opt.max + step,
    ):
        accepted, text = opt.in_range(number), str(number)
        for args in (["h", f"{opt.names[0]}={text}"], ["h", opt.names[0], text]):
            typer_result = _typer_parse(command, args)
            quick = _quick_parse(command, args)
            assert (typer_result is not None) == accepted, args
            if accepted and not (text.startswith("-") and len(args) == 3):
                assert quick == typer_result, args
            else:  # refused, or a value like '-1' that the quick path leaves to typer
                assert quick is None, args


@pytest.mark.parametrize(
    ("command", "opt"), _QUICK_RANGED, ids=[f"{c}:{o.dest}" for c, o in _QUICK_RANGED]
)
def test_quick_numbers_are_numbers_typer_reads_alike(command: str, opt: options.Opt) -> None:
    # The quick path may hand a number to typer (None); it must never read one differently.
    for text in (
        "26",
        " 26",
        "2_6",
        "+3",
        "26.0",
        "3.",
        ".5",
        "1e3",
        "0x1a",
        "\u0662\u0666",
        "nan",
        "inf",
    ):
        args = ["h", f"{opt.names[0]}={text}"]
        quick = _quick_parse(command, args)
        if quick is not None:
            assert quick == _typer_parse(command, args), args


def test_port_range_examples() -> None:
    assert _typer_parse("ehlo", ["h", "--port", "0"]) is None
    assert _quick_parse("ehlo", ["h", "--port", "0"]) is None
    assert _typer_parse("ehlo", ["h", "--port", "65535"]) == _quick_parse(
        "ehlo", ["h", "--port", "65535"]
    )
    assert _quick_parse("ehlo", ["h", "-p", "65535"]) is not None


@pytest.mark.parametrize("command", list(options.COMMANDS))
def test_one_declaration_per_name(command: str) -> None:
    table = (*options.COMMANDS[command], *options.GLOBALS)
    every = [name for opt in table for name in opt.all_names]
    assert len(every) == len(set(every))
    assert len({opt.dest for opt in table}) == len(table)
    assert list(_typer_params(command)) == [opt.dest for opt in table]


def test_the_root_declares_the_global_options() -> None:
    root = {p.name: p for p in typer.main.get_command(app).params}
    for opt in options.GLOBALS:
        assert set(root[opt.dest].opts) == set(opt.names), opt.dest


def _records() -> dict[str, Any]:
    """Per command: what takes the parsed values by dest (a dataclass or a typed function)."""
    from mailprobe.cli import blocklist, check, findings, mx, ndr, outbound, ports, relay, tls

    return {
        "ehlo": ehlo_run.EhloArgs,
        "mx": mx._mx,
        "relay-test": relay._relay_test,
        "check": check._check,
        "blocklist": blocklist._blocklist,
        "tls": tls._tls,
        "ports": ports._ports,
        "outbound": outbound._outbound,
        "ndr": ndr._ndr,
        "findings": findings._findings,
        "queue": importlib.import_module("mailprobe.cli.queue")._queue,
        "log": importlib.import_module("mailprobe.cli.log")._log,
    }


@pytest.mark.parametrize("command", list(options.COMMANDS))
def test_the_values_go_to_fields_of_the_declared_types(command: str) -> None:
    hints = get_type_hints(_records()[command])
    hints.pop("return", None)
    table = options.COMMANDS[command]
    assert list(hints) == [opt.dest for opt in table]
    for opt in table:
        assert hints[opt.dest] == options.annotation(opt), opt.dest


def test_library_fields_are_worded_with_declared_option_names() -> None:
    # errors.InputError names a field; cli/names.FIELD_OPTIONS words it as the option.
    declared = {
        (o.dest, o.names[0]) for table in options.COMMANDS.values() for o in table if o.names
    }
    for field, option in names.FIELD_OPTIONS.items():
        assert (field, option) in declared, (field, option)


def test_config_keys_are_settings() -> None:
    from mailprobe.config import Settings

    fields = {f.name for f in dataclasses.fields(Settings)}
    for table in (*options.COMMANDS.values(), options.GLOBALS):
        for opt in table:
            assert opt.config_key is None or opt.config_key in fields, opt.dest


def test_ehlo_mx_with_server_is_accepted() -> None:
    # `ehlo --mx DOMAIN --server X` once failed with "No such option"; now a DNS answer is
    # needed, so a bad address must be the error, not the option name.
    from mailprobe.cli.app import main

    code = main(["ehlo", "--mx", "example.test", "--server", "not an address"])
    assert code == 2


def test_a_bad_sender_from_the_environment_is_named_in_every_command(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # ehlo once blamed --from (never given) and relay-test ignored the value silently.
    from mailprobe.cli.app import main

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    monkeypatch.setenv("MAILPROBE_SENDER", "not an address")
    for args in (["ehlo", "127.0.0.1", "--port", "9"], ["relay-test", "127.0.0.1", "--port", "9"]):
        assert main(args) == 2, args
        err = capsys.readouterr().err
        assert "MAILPROBE_SENDER" in err and "--from" not in err, err


def test_settings_say_where_each_value_came_from(tmp_path: Path) -> None:
    from mailprobe.config import load_settings

    path = tmp_path / "config.toml"
    path.write_text('expect = "postfix"\nhelo = "probe.example.org"\n', encoding="utf-8")
    cfg = load_settings(path, {"MAILPROBE_HELO": "env.example.org"})
    assert cfg.origin("expect") == f"config key 'expect' in {path}"
    assert cfg.origin("helo") == "MAILPROBE_HELO"
    assert cfg.origin("timeout") == "built-in"
