"""The JSON Schema of ``--json`` output, generated from the result dataclasses.

``python -m mailprobe.schema`` prints it; ``docs/schema/mailprobe.schema.json`` is the checked-in
copy, kept current by a test. The schema follows the same rules as ``model.to_jsonable``: a
dataclass becomes an object with one property per field (fields starting with ``_`` left out),
enums their values, tuples and lists arrays, addresses and dates strings.

``validate`` is a small validator for exactly the subset of JSON Schema generated here (type,
properties, required, additionalProperties, items, enum, anyOf, $ref), so tests can check real
output against the schema without another dependency.
"""

from __future__ import annotations

import dataclasses
import datetime
import enum
import importlib
import ipaddress
import json
import sys
import types
import typing
from collections.abc import Mapping, Sequence
from pathlib import PurePath
from typing import Any

from mailprobe.model import SCHEMA_VERSION

#: The result type each command puts under ``results``, as "module:Class".
RESULTS = {
    "ndr": "mailprobe.ndr.model:NdrReport",
    "mx": "mailprobe.checks.mx:MxReport",
    "ehlo": "mailprobe.checks.ehlo:EhloResults",
    "relay-test": "mailprobe.checks.relay:RelayRun",
    "check": "mailprobe.checks.check:CheckReport",
    "blocklist": "mailprobe.checks.blocklist:BlocklistReport",
    "tls": "mailprobe.checks.tls_scan.model:TlsScanReport",
    "outbound": "mailprobe.checks.outbound:OutboundReport",
    "ports": "mailprobe.checks.ports:PortsReport",
    "queue": "mailprobe.checks.queue:QueueReport",
    "log": "mailprobe.maillog.report:LogReport",
}
#: Modules whose names may appear in annotations (also those imported for type checking only).
_NAMESPACE_MODULES = (
    "mailprobe.model",
    "mailprobe.dns",
    "mailprobe.smtp.session",
    "mailprobe.checks.mx",
    "mailprobe.checks.ehlo",
    "mailprobe.checks.relay",
    "mailprobe.checks.policy",
    "mailprobe.checks.check",
    "mailprobe.checks.blocklist",
    "mailprobe.checks.ports",
    "mailprobe.checks.queue",
    "mailprobe.checks.tls_scan.model",
    "mailprobe.checks.outbound",
    "mailprobe.maillog.report",
    "mailprobe.ndr.model",
)


def _load(spec: str) -> type:
    module, _, name = spec.partition(":")
    value = getattr(importlib.import_module(module), name)
    assert isinstance(value, type)
    return value


def _namespace() -> dict[str, Any]:
    names: dict[str, Any] = {}
    for module_name in _NAMESPACE_MODULES:
        module = importlib.import_module(module_name)
        names.update(vars(module))
    for module_name, module in list(sys.modules.items()):
        if module_name.startswith("mailprobe.") and module is not None:
            for key, value in vars(module).items():
                if dataclasses.is_dataclass(value) or (
                    isinstance(value, type) and issubclass(value, enum.Enum)
                ):
                    names.setdefault(key, value)
    return names


class _Builder:
    def __init__(self) -> None:
        self.definitions: dict[str, Any] = {}
        self.namespace = _namespace()

    def of(self, hint: Any) -> dict[str, Any]:
        origin = typing.get_origin(hint)
        args = typing.get_args(hint)
        if hint is Any or hint is object:
            return {}
        if hint is type(None):
            return {"type": "null"}
        if origin in (typing.Union, types.UnionType):
            options = [self.of(arg) for arg in args]
            return {"anyOf": options}
        if origin is typing.Literal:
            return {"enum": list(args)}
        if origin in (list, tuple, set, frozenset, Sequence) or hint in (list, tuple):
            if origin is tuple and args and args[-1] is not Ellipsis:
                return {"type": "array", "items": {"anyOf": [self.of(a) for a in args]}}
            return {"type": "array", "items": self.of(args[0]) if args else {}}
        if origin in (dict, Mapping) or hint is dict:
            return {"type": "object", "additionalProperties": self.of(args[1]) if args else {}}
        if hint is bool:
            return {"type": "boolean"}
        if hint is int:
            return {"type": "integer"}
        if hint is float:
            return {"type": "number"}
        if hint in (str, bytes) or (
            isinstance(hint, type)
            and issubclass(
                hint,
                ipaddress.IPv4Address | ipaddress.IPv6Address | PurePath | datetime.date,
            )
        ):
            return {"type": "string"}
        if isinstance(hint, type) and issubclass(hint, enum.Enum):
            return {"enum": [member.value for member in hint]}
        if isinstance(hint, type) and dataclasses.is_dataclass(hint):
            return self.dataclass(hint)
        raise TypeError(f"no JSON Schema for {hint!r}")

    def dataclass(self, cls: type) -> dict[str, Any]:
        name = f"{cls.__module__.removeprefix('mailprobe.')}.{cls.__qualname__}"
        ref = {"$ref": f"#/$defs/{name}"}
        if name in self.definitions:
            return ref
        self.definitions[name] = {}  # placeholder against recursion
        # The class's own module wins: two modules may both define, say, ``Exchanger``.
        own = vars(sys.modules[cls.__module__])
        hints = typing.get_type_hints(cls, globalns={**self.namespace, **own})
        properties: dict[str, Any] = {}
        for field in dataclasses.fields(cls):
            if field.name.startswith("_"):
                continue
            properties[field.name] = self.of(hints[field.name])
        self.definitions[name] = {
            "type": "object",
            "properties": properties,
            "required": list(properties),
            "additionalProperties": False,
        }
        if cls.__doc__:
            self.definitions[name]["description"] = cls.__doc__.strip().splitlines()[0]
        return ref


def build_schema() -> dict[str, Any]:
    """The schema of one ``--json`` document (one line of JSON Lines in a batch)."""
    from mailprobe.model import Failure

    builder = _Builder()
    builder.of(Failure)
    by_command = []
    for command, spec in RESULTS.items():
        results = builder.of(_load(spec))
        if command == "ehlo":  # `ehlo --list-profiles` prints the profiles instead
            profiles = {
                "type": "object",
                "properties": {
                    "profiles": {
                        "type": "array",
                        "items": builder.of(_load("mailprobe.checks.ehlo:VerbProfile")),
                    }
                },
                "required": ["profiles"],
                "additionalProperties": False,
            }
            results = {"anyOf": [results, profiles]}
        if command == "blocklist":  # `blocklist --list` prints the lists it knows instead
            known = {
                "type": "object",
                "properties": {
                    "lists": {
                        "type": "array",
                        "items": builder.of(_load("mailprobe.checks.blocklist:Blocklist")),
                    }
                },
                "required": ["lists"],
                "additionalProperties": False,
            }
            results = {"anyOf": [results, known]}
        if command == "queue":  # `queue --explain NAME` explains an Exchange queue instead
            results = {
                "anyOf": [results, builder.of(_load("mailprobe.checks.queue:ExchangeQueueReport"))]
            }
        by_command.append(
            {
                "properties": {"command": {"enum": [command]}, "results": results},
            }
        )
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"https://mailprobe.invalid/schema/v{SCHEMA_VERSION}",
        "title": f"mailprobe --json output, schema_version {SCHEMA_VERSION}",
        "type": "object",
        "properties": {
            "schema_version": {"enum": [SCHEMA_VERSION]},
            "tool": {"enum": ["mailprobe"]},
            "tool_version": {"type": "string"},
            "command": {"enum": list(RESULTS)},
            "inputs": {"type": "object"},
            "exit_code": {"enum": [0, 1, 2, 3]},
            "status": {"enum": ["healthy", "problem", "usage-error", "incomplete"]},
            "errors": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        **builder.definitions["model.Failure"]["properties"],
                        "text": {"type": "string"},
                    },
                    "required": [*builder.definitions["model.Failure"]["required"], "text"],
                    "additionalProperties": False,
                },
            },
            "results": {},
        },
        "required": [
            "schema_version",
            "tool",
            "tool_version",
            "command",
            "inputs",
            "exit_code",
            "status",
            "errors",
            "results",
        ],
        "additionalProperties": False,
        "anyOf": by_command,
        "$defs": dict(sorted(builder.definitions.items())),
    }


def schema_text() -> str:
    """The schema as the checked-in file holds it."""
    return json.dumps(build_schema(), indent=2, sort_keys=False) + "\n"


def validate(
    instance: Any, schema: Mapping[str, Any], root: Mapping[str, Any] | None = None, path: str = "$"
) -> list[str]:
    """Problems of ``instance`` against ``schema`` (empty when it conforms)."""
    root = root or schema
    problems: list[str] = []
    if "$ref" in schema:
        name = str(schema["$ref"]).rsplit("/", 1)[-1]
        return validate(instance, root["$defs"][name], root, path)
    if "anyOf" in schema:
        options = [validate(instance, option, root, path) for option in schema["anyOf"]]
        if all(options):
            best = min(options, key=len)
            problems.append(f"{path}: matches no alternative ({best[0]})")
    if "allOf" in schema:
        for option in schema["allOf"]:
            problems += validate(instance, option, root, path)
    if "enum" in schema and instance not in schema["enum"]:
        problems.append(f"{path}: {instance!r} not in {schema['enum']!r}")
    kind = schema.get("type")
    checks = {
        "object": lambda v: isinstance(v, dict),
        "array": lambda v: isinstance(v, list),
        "string": lambda v: isinstance(v, str),
        "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
        "boolean": lambda v: isinstance(v, bool),
        "null": lambda v: v is None,
    }
    if kind is not None and not checks[kind](instance):
        return [*problems, f"{path}: expected {kind}, got {type(instance).__name__}"]
    if isinstance(instance, dict) and (kind == "object" or "properties" in schema):
        properties = schema.get("properties", {})
        for key in schema.get("required", []):
            if key not in instance:
                problems.append(f"{path}: missing {key!r}")
        extra = schema.get("additionalProperties", True)
        for key, value in instance.items():
            if key in properties:
                problems += validate(value, properties[key], root, f"{path}.{key}")
            elif extra is False:
                problems.append(f"{path}: unexpected property {key!r}")
            elif isinstance(extra, Mapping):
                problems += validate(value, extra, root, f"{path}.{key}")
    if isinstance(instance, list):
        items = schema.get("items", {})
        for index, value in enumerate(instance):
            problems += validate(value, items, root, f"{path}[{index}]")
    return problems


if __name__ == "__main__":
    sys.stdout.write(schema_text())


def validate_document(document: Any, schema: Mapping[str, Any] | None = None) -> list[str]:
    """Problems of one ``--json`` document: the envelope, then ``results`` against the schema
    of its own command (clearer messages than trying every command's alternative)."""
    schema = schema or build_schema()
    envelope_only = {key: value for key, value in schema.items() if key != "anyOf"}
    problems = validate(document, envelope_only, schema)
    if problems or not isinstance(document, dict):
        return problems
    for alternative in schema["anyOf"]:
        if document.get("command") in alternative["properties"]["command"]["enum"]:
            results = alternative["properties"]["results"]
            return validate(document.get("results"), results, schema, "$.results")
    return [f"$.command: unknown command {document.get('command')!r}"]
