"""`mailprobe ehlo`: placeholder until its issue lands."""

from __future__ import annotations

from mailprobe.errors import UsageError


def ehlo() -> int:
    """Not available yet."""
    raise UsageError("this command is not available yet")
