"""Reading the files a user names: one rule for every command and every kind of file.

The config file, ``--password-file``, the domain list of ``-f``, ``--ca-file`` and the bounce of
``ndr --file`` are all read by ``read_bytes``/``read_text``; ``check --baseline`` (an earlier
run's JSON Lines, which may be large) line by line with ``read_lines``, the same rule per file:

* at most ``MAX_BYTES`` (5 MB): ``/dev/zero`` or a huge file is refused, never read whole;
* a regular file, or a pipe that has a writer (``<(command)``, ``/dev/stdin`` fed by a pipe):
  a device (``/dev/zero``, a terminal), a socket or a directory is refused before it is read,
  and a named pipe (FIFO) nobody writes to is refused at once instead of waiting forever
  (it is opened without blocking);
* text is UTF-8.

Standard input (``-``) is read with ``read_stream``, under the same size limit. Every problem
is a ``FileError``: a usage error (exit 2), one line that names the file.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from mailprobe.errors import UsageError

#: The most any input file may hold.
MAX_BYTES = 5 * 1024 * 1024

_CHUNK = 65536


class FileError(UsageError):
    """A file that cannot be used as input: ``"{label}: {problem}"``, e.g.
    ``--password-file /dev/zero: not a regular file (a device)``."""

    def __init__(self, label: str, problem: str) -> None:
        self.label = label
        self.problem = problem
        super().__init__(f"{label}: {problem}")


def _label(what: str, path: Path | str) -> str:
    return f"{what} {path}" if what else str(path)


def _size_text(limit: int) -> str:
    return f"{limit // (1024 * 1024)} MB" if limit % (1024 * 1024) == 0 else f"{limit} bytes"


def _kind(mode: int) -> str:
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a file"


def _os_problem(exc: OSError) -> str:
    if exc.errno == errno.ENOENT:
        return "cannot read (no such file)"
    if exc.errno == errno.EISDIR:
        return "cannot read (is a directory)"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "cannot read (permission denied)"
    text = exc.strerror or str(exc) or type(exc).__name__
    return f"cannot read ({text[:1].lower() + text[1:]})"


def _open(path: Path | str, label: str) -> tuple[int, bool]:
    """A descriptor of ``path`` (refused unless a regular file or a pipe) and whether it is a
    pipe; the caller closes it."""
    try:
        mode = os.stat(path).st_mode
    except (OSError, ValueError) as exc:
        raise FileError(
            label, _os_problem(exc) if isinstance(exc, OSError) else "bad path"
        ) from None
    if stat.S_ISDIR(mode):
        raise FileError(label, "cannot read (is a directory)")
    if not (stat.S_ISREG(mode) or stat.S_ISFIFO(mode)):
        raise FileError(label, f"not a regular file ({_kind(mode)})")
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise FileError(label, _os_problem(exc)) from None
    try:
        mode = os.fstat(fd).st_mode  # what was opened, in case the name changed meanwhile
    except OSError as exc:
        os.close(fd)
        raise FileError(label, _os_problem(exc)) from None
    if not (stat.S_ISREG(mode) or stat.S_ISFIFO(mode)):
        os.close(fd)
        raise FileError(label, f"not a regular file ({_kind(mode)})")
    return fd, stat.S_ISFIFO(mode)


def read_bytes(path: Path | str, what: str = "", limit: int = MAX_BYTES) -> bytes:
    """The contents of the file at ``path`` (a regular file or a pipe with a writer), at most
    ``limit`` bytes; ``what`` (an option name like ``--password-file``, or ``config``) starts
    the error message."""
    label = _label(what, path)
    fd, pipe = _open(path, label)
    try:
        data = _read_fd(fd, limit, pipe=pipe)
        if data is None:
            raise FileError(label, "a named pipe with nothing writing to it")
    except OSError as exc:
        raise FileError(label, _os_problem(exc)) from None
    finally:
        os.close(fd)
    if len(data) > limit:
        raise FileError(label, f"larger than {_size_text(limit)}")
    return data


def _read_fd(fd: int, limit: int, *, pipe: bool) -> bytes | None:
    """Up to ``limit + 1`` bytes; None for a pipe that had no writer when it was opened."""
    import select

    chunks: list[bytes] = []
    size = 0
    waited = False
    while size <= limit:
        try:
            chunk = os.read(fd, min(_CHUNK, limit + 1 - size))
        except BlockingIOError:  # a pipe whose writer has not written yet
            waited = True
            select.select([fd], [], [])
            continue
        if not chunk:
            if pipe and not chunks and not waited:
                return None  # EOF at once: no writer (a FIFO) or nothing written at all
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def read_lines(
    path: Path | str, what: str = "", limit: int = MAX_BYTES, line_limit: int = MAX_BYTES
) -> Iterator[tuple[int, str]]:
    """``(number, line)`` for each line of the file at ``path`` (numbers from 1, without the
    line end), read as it goes, under the same rule as ``read_bytes``: a regular file or a
    pipe with a writer, at most ``limit`` bytes in all and ``line_limit`` per line, UTF-8.

    The file is opened (and refused) when the first line is asked for."""
    import select

    label = _label(what, path)
    fd, pipe = _open(path, label)
    try:
        pending = bytearray()
        number = total = 0
        started = waited = False
        while True:
            try:
                chunk = os.read(fd, _CHUNK)
            except BlockingIOError:  # a pipe whose writer has not written yet
                waited = True
                select.select([fd], [], [])
                continue
            except OSError as exc:
                raise FileError(label, _os_problem(exc)) from None
            if not chunk:
                if pipe and not started and not waited:
                    raise FileError(label, "a named pipe with nothing writing to it")
                break
            started = True
            total += len(chunk)
            if total > limit:
                raise FileError(label, f"larger than {_size_text(limit)}")
            pending += chunk
            start = 0
            while (end := pending.find(b"\n", start)) >= 0:
                number += 1
                yield number, _line(bytes(pending[start:end]), label, number, line_limit)
                start = end + 1
            del pending[:start]
            if len(pending) > line_limit:
                raise FileError(label, f"line {number + 1}: longer than {_size_text(line_limit)}")
        if pending:
            yield number + 1, _line(bytes(pending), label, number + 1, line_limit)
    finally:
        os.close(fd)


def _line(data: bytes, label: str, number: int, line_limit: int) -> str:
    if len(data) > line_limit:
        raise FileError(label, f"line {number}: longer than {_size_text(line_limit)}")
    try:
        text = data.decode("utf-8-sig" if number == 1 else "utf-8")
    except UnicodeDecodeError:
        raise FileError(label, f"line {number}: not UTF-8 text") from None
    return text.removesuffix("\r")


def read_text(path: Path | str, what: str = "", limit: int = MAX_BYTES) -> str:
    """``read_bytes`` decoded as UTF-8 (a leading byte order mark is dropped)."""
    return _decode(read_bytes(path, what, limit), _label(what, path))


def read_stream(stream: BinaryIO, label: str = "standard input", limit: int = MAX_BYTES) -> bytes:
    """At most ``limit`` bytes of an open binary stream (standard input); larger is refused."""
    try:
        data = stream.read(limit + 1)
    except OSError as exc:
        raise FileError(label, _os_problem(exc)) from None
    if not isinstance(data, bytes):
        raise FileError(label, "cannot read it as bytes")
    if len(data) > limit:
        raise FileError(label, f"larger than {_size_text(limit)}")
    return data


def read_stream_text(stream: object, label: str = "standard input", limit: int = MAX_BYTES) -> str:
    """Standard input as UTF-8 text, at most ``limit`` bytes (a text stream without a binary
    buffer, as in tests, is read as text under the same limit)."""
    binary = getattr(stream, "buffer", None)
    if binary is not None:
        return _decode(read_stream(binary, label, limit), label)
    read = getattr(stream, "read", None)
    if not callable(read):
        raise FileError(label, "cannot read it")
    text = read(limit + 1)
    if not isinstance(text, str):
        raise FileError(label, "cannot read it as text")
    if len(text) > limit:
        raise FileError(label, f"larger than {_size_text(limit)}")
    return text


def _decode(data: bytes, label: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise FileError(label, "not UTF-8 text") from None
