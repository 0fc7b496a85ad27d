"""``--shard K/N`` of ``mailprobe mx`` and ``mailprobe check``: one slice of a domain list.

A domain's shard depends on its name alone (SHA-256 of its A-label form, lower case, without
a trailing dot), never on its place in the list: every host of a fleet that runs
``--shard K/N`` on its own copy of the list (in any order) checks a disjoint slice, and the
slices together are the whole list. The JSON Lines of the shards can simply be concatenated.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import TypeVar

from mailprobe.errors import UsageError
from mailprobe.text import is_digits

T = TypeVar("T")


def parse_shard(text: str) -> tuple[int, int]:
    """``"K/N"`` -> (K, N) with 1 <= K <= N; a ``UsageError`` (exit 2) otherwise."""
    k_text, slash, n_text = text.strip().partition("/")
    if (
        slash
        and k_text.isascii()
        and n_text.isascii()
        and is_digits(k_text)
        and is_digits(n_text)
        and 1 <= int(k_text) <= int(n_text)
    ):
        return int(k_text), int(n_text)
    raise UsageError(f"--shard {text!r}: expected K/N with 1 <= K <= N (e.g. 1/4)")


def shard_of(domain: str, count: int) -> int:
    """The shard (1 .. ``count``) that ``domain`` belongs to."""
    from mailprobe.dns import parse_domain

    try:
        key = parse_domain(domain)[0]
    except UsageError:
        key = domain.strip()
    key = key.rstrip(".").lower()
    digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).digest()
    return int.from_bytes(digest[:8], "big") % count + 1


def select_shard(names: Sequence[tuple[T, str]], shard: str | None) -> list[tuple[T, str]]:
    """The (source, domain) pairs of ``names`` in shard ``shard`` (``K/N``), in input order;
    all of them when ``shard`` is None."""
    if shard is None:
        return list(names)
    index, count = parse_shard(shard)
    return [(source, name) for source, name in names if shard_of(name, count) == index]
