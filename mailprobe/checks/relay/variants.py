"""The relay variant table and how its addresses are filled in.

The variants live in ``mailprobe/data/relay_variants.toml``: each row is a MAIL FROM / RCPT TO
pair written with ``{tokens}`` (``{external}``, ``{own}``, ``{host}``, ``{literal}``, ...; the
file lists them). ``load_templates`` reads the table; ``build_variants`` fills the tokens from
``BatteryNames`` (what the battery knows about the server, and the external test domain). A
variant that needs a name nobody knows (no host name in the greeting, no own domain) comes back
as a ``SkippedVariant``. Kind ``relay`` variants decide the verdict; kind ``probe`` variants
(catch-all, internal spoofing) are extra checks with their own rules.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Iterable, Sequence
from typing import Literal

VariantKind = Literal["relay", "probe"]

_TOKEN = re.compile(r"\{([A-Za-z.]+)\}")


@dataclasses.dataclass(frozen=True)
class VariantTemplate:
    """One row of ``relay_variants.toml``: a MAIL FROM / RCPT TO pair with tokens."""

    name: str
    group: str
    kind: VariantKind
    title: str
    mail_from: str
    rcpt_to: str


@dataclasses.dataclass(frozen=True)
class Variant:
    """A variant with its addresses filled in, ready to send."""

    name: str
    group: str
    kind: VariantKind
    title: str
    mail_from: str
    rcpt_to: str


@dataclasses.dataclass(frozen=True)
class SkippedVariant:
    """A variant left out because a name it needs is unknown (e.g. no host name)."""

    name: str
    reason: str


@dataclasses.dataclass(frozen=True)
class BatteryNames:
    """What the variants are built from."""

    external_domain: str
    recipient_user: str
    sender: str
    own_domain: str | None
    host_name: str | None
    literal: str | None
    random_user: str = "mailprobe-nonexistent"

    @property
    def sender_user(self) -> str:
        """The local part of the external sender."""
        return self.sender.rpartition("@")[0] if "@" in self.sender else self.sender


@functools.lru_cache(maxsize=1)
def load_templates() -> tuple[VariantTemplate, ...]:
    """The bundled variant table, in table order."""
    import importlib.resources
    import tomllib

    text = (
        importlib.resources.files("mailprobe.data")
        .joinpath("relay_variants.toml")
        .read_text("utf-8")
    )
    rows = tomllib.loads(text)["variant"]
    templates = []
    for row in rows:
        kind = row.get("kind", "relay")
        if kind not in ("relay", "probe"):
            raise ValueError(f"relay_variants.toml: {row['name']}: bad kind {kind!r}")
        templates.append(
            VariantTemplate(
                name=row["name"],
                group=row["group"],
                kind=kind,
                title=row["title"],
                mail_from=row["mail_from"],
                rcpt_to=row["rcpt_to"],
            )
        )
    names = [t.name for t in templates]
    if len(set(names)) != len(names):
        raise ValueError("relay_variants.toml: duplicate variant names")
    return tuple(templates)


def _token_values(names: BatteryNames) -> dict[str, str | None]:
    def upper(value: str | None) -> str | None:
        return value.upper() if value else None

    def dot(value: str | None) -> str | None:
        return value.rstrip(".") + "." if value else None

    host = names.host_name
    if host and names.own_domain and host.lower() == names.own_domain.lower():
        host = None  # the {host} variants would repeat the {own} ones
    return {
        "sender": names.sender,
        "from": names.sender_user,
        "user": names.recipient_user,
        "external": names.external_domain,
        "EXTERNAL": upper(names.external_domain),
        "external.": dot(names.external_domain),
        "own": names.own_domain,
        "OWN": upper(names.own_domain),
        "own.": dot(names.own_domain),
        "host": host,
        "HOST": upper(host),
        "literal": names.literal,
        "random": names.random_user,
    }


def fill_template(template: str, values: dict[str, str | None]) -> str | None:
    """Replace ``{token}``s; None when a token has no value (the variant is skipped)."""
    missing = False

    def replace(match: re.Match[str]) -> str:
        nonlocal missing
        value = values.get(match.group(1))
        if value is None:
            missing = True
            return ""
        return value

    filled = _TOKEN.sub(replace, template)
    return None if missing else filled


def build_variants(
    names: BatteryNames, templates: Iterable[VariantTemplate] | None = None
) -> tuple[tuple[Variant, ...], tuple[SkippedVariant, ...]]:
    """Fill the variant table; variants needing an unknown name are returned as skipped."""
    values = _token_values(names)
    variants: list[Variant] = []
    skipped: list[SkippedVariant] = []
    for template in load_templates() if templates is None else templates:
        mail_from = fill_template(template.mail_from, values)
        rcpt_to = fill_template(template.rcpt_to, values)
        if mail_from is None or rcpt_to is None:
            needed = sorted(
                {
                    token
                    for token in _TOKEN.findall(template.mail_from + template.rcpt_to)
                    if values.get(token) is None
                }
            )
            skipped.append(SkippedVariant(template.name, _skip_reason(needed)))
            continue
        variants.append(
            Variant(
                name=template.name,
                group=template.group,
                kind=template.kind,
                title=template.title,
                mail_from=mail_from,
                rcpt_to=rcpt_to,
            )
        )
    return tuple(variants), tuple(skipped)


_SKIP_REASONS = {
    "own": "own domain unknown (give --domain)",
    "host": "no separate host name in the greeting",
    "literal": "address literal unknown",
}


def _skip_reason(tokens: Sequence[str]) -> str:
    for token in tokens:
        base = token.strip(".").lower()
        if base in _SKIP_REASONS:
            return _SKIP_REASONS[base]
    return "needs " + ", ".join(tokens)
