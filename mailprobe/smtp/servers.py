"""Which mail server software a banner points to (the table is data/server_guesses.toml)."""

from __future__ import annotations

import dataclasses
import functools
import re
import tomllib
from importlib import resources


@dataclasses.dataclass(frozen=True)
class ServerGuess:
    """What kind of server this is: guessed from the banner, or given by the user."""

    key: str
    title: str
    profile: str | None
    #: "banner" when guessed; otherwise where it was given ("--expect", "MAILPROBE_EXPECT",
    #: "config key 'expect' in PATH").
    source: str


@functools.cache
def _guesses() -> tuple[tuple[re.Pattern[str], str, str, str | None], ...]:
    text = resources.files("mailprobe.data").joinpath("server_guesses.toml").read_text("utf-8")
    rows = tomllib.loads(text)["guess"]
    return tuple(
        (
            re.compile(row["pattern"], re.IGNORECASE),
            row["key"],
            row["title"],
            row["profile"] or None,
        )
        for row in rows
    )


def guess_server(banner: str, greeting: str = "") -> ServerGuess | None:
    """The kind of server from its banner (and EHLO greeting), or None when unknown."""
    text = f"{banner} {greeting}"
    for pattern, key, title, profile in _guesses():
        if pattern.search(text):
            return ServerGuess(key, title, profile, "banner")
    return None
