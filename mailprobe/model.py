"""Shared result types: findings, failures, exit codes and the JSON envelope.

Every check returns frozen dataclasses built from these pieces. The same objects feed the
terminal renderer, ``--json`` and the tests, so nothing here imports rich, typer or any
network library.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import enum
import ipaddress
from collections.abc import Iterable, Mapping
from pathlib import PurePath
from typing import Any

#: Version of the ``--json`` document layout. Bump on any incompatible change; adding fields
#: is compatible and does not bump it.
SCHEMA_VERSION = 1


class Severity(enum.Enum):
    """How much a finding matters, from good news to a broken setup."""

    OK = "ok"
    INFO = "info"
    WARN = "warn"
    FAIL = "fail"

    @property
    def rank(self) -> int:
        """Order for sorting: fail before warn before info before ok."""
        return _SEVERITY_RANK[self]


_SEVERITY_RANK = {Severity.OK: 0, Severity.INFO: 1, Severity.WARN: 2, Severity.FAIL: 3}


class ExitCode(enum.IntEnum):
    """Process exit codes, identical for every command."""

    HEALTHY = 0
    PROBLEM = 1
    USAGE = 2
    INCOMPLETE = 3


@dataclasses.dataclass(frozen=True)
class Finding:
    """One diagnosis: a stable machine code, how bad it is, what it means and how to fix it.

    ``code`` is stable across releases (e.g. ``mx.cname-target``) so scripts can match it;
    ``subject`` names what the finding is about (an exchanger, an address, a record).
    """

    severity: Severity
    code: str
    summary: str
    fix: str = ""
    subject: str = ""

    def __post_init__(self) -> None:
        from mailprobe.findings import validate

        validate(self.code, self.severity)


@dataclasses.dataclass(frozen=True)
class Failure:
    """A step that could not complete (timeout, refused, DNS failure); maps to exit code 3."""

    step: str
    message: str
    host: str | None = None
    port: int | None = None
    timeout: float | None = None
    #: The class of SMTP failure (``mailprobe.smtp.failures.KINDS``), "" for other failures.
    kind: str = ""

    def one_line(self) -> str:
        """The failure as one line of text that names the step and the peer."""
        where = ""
        if self.host:
            where = f" {self.host}" if self.port is None else f" {hostport(self.host, self.port)}"
        return f"{self.step} failed{where}: {self.message}"


def hostport(host: str, port: int) -> str:
    """``host:port``, with an IPv6 address in brackets: ``[::1]:25``."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def worst_exit_code(codes: Iterable[int]) -> ExitCode:
    """Combine exit codes of several runs (a batch): usage > incomplete > problem > healthy."""
    order = [ExitCode.HEALTHY, ExitCode.PROBLEM, ExitCode.INCOMPLETE, ExitCode.USAGE]
    worst = ExitCode.HEALTHY
    for code in codes:
        ec = ExitCode(code)
        if order.index(ec) > order.index(worst):
            worst = ec
    return worst


#: Plain JSON values, returned as they are.
_PLAIN: frozenset[type] = frozenset({str, int, float, bool, type(None)})
#: Per dataclass type: the names of its public fields (None: not a dataclass), and whether it
#: is frozen (its JSON form can then be remembered, see ``_MEMO``).
_SHAPES: dict[type, tuple[tuple[str, ...], bool] | None] = {}
#: JSON forms of frozen dataclass instances, by identity (the instance is kept alive with its
#: form, so an identity is never reused while remembered). A batch reuses the same objects in
#: many reports (an exchanger's shared relay battery, its certificate): they are converted
#: once. Bounded: the oldest half is dropped when full.
_MEMO: dict[int, tuple[Any, Any]] = {}
_MEMO_LIMIT = 20_000


def _shape(kind: type) -> tuple[tuple[str, ...], bool] | None:
    if kind not in _SHAPES:
        if dataclasses.is_dataclass(kind):
            names = tuple(f.name for f in dataclasses.fields(kind) if not f.name.startswith("_"))
            params = getattr(kind, "__dataclass_params__", None)
            _SHAPES[kind] = (names, bool(getattr(params, "frozen", False)))
        else:
            _SHAPES[kind] = None
    return _SHAPES[kind]


def to_jsonable(value: Any) -> Any:
    """Turn result objects (dataclasses, enums, addresses, dates) into plain JSON data.

    Field names of dataclasses are kept as they are, which is what makes them the stable
    JSON field names. Fields whose name starts with an underscore are left out. The result
    may share parts with earlier results (frozen objects are converted once): read it, or
    copy it before changing it.
    """
    kind = type(value)
    if kind in _PLAIN:
        return value
    shape = _shape(kind)
    if shape is not None:
        names, frozen = shape
        if frozen:
            known = _MEMO.get(id(value))
            if known is not None and known[0] is value:
                return known[1]
        result = {name: to_jsonable(getattr(value, name)) for name in names}
        if frozen:
            if len(_MEMO) >= _MEMO_LIMIT:
                for key in list(_MEMO)[: _MEMO_LIMIT // 2]:
                    del _MEMO[key]
            _MEMO[id(value)] = (value, result)
        return result
    if kind is list or kind is tuple:
        return [to_jsonable(v) for v in value]
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = [to_jsonable(v) for v in value]
        return sorted(items) if isinstance(value, set | frozenset) else items
    if isinstance(value, _dt.datetime | _dt.date):
        return value.isoformat()
    if isinstance(value, ipaddress.IPv4Address | ipaddress.IPv6Address | PurePath):
        return str(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value


def envelope(
    command: str,
    inputs: Mapping[str, Any],
    results: Any,
    exit_code: int,
    failures: Iterable[Failure] = (),
) -> dict[str, Any]:
    """The one JSON object a run prints: schema version, command, inputs and results."""
    from mailprobe import __version__

    return {
        "schema_version": SCHEMA_VERSION,
        "tool": "mailprobe",
        "tool_version": __version__,
        "command": command,
        "inputs": to_jsonable(inputs),
        "exit_code": int(exit_code),
        "status": _STATUS[ExitCode(exit_code)],
        "errors": [{**to_jsonable(f), "text": f.one_line()} for f in failures],
        "results": to_jsonable(results),
    }


_STATUS = {
    ExitCode.HEALTHY: "healthy",
    ExitCode.PROBLEM: "problem",
    ExitCode.USAGE: "usage-error",
    ExitCode.INCOMPLETE: "incomplete",
}
