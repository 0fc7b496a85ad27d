"""Reading a log as it goes: lines in batches, bounded memory, ``tail -f`` with ``follow``.

The file is opened under the rule of ``mailprobe.files`` (a regular file or a pipe with a
writer; a directory, device or missing file is a one-line ``FileError``), but without its size
limit: a log may hold millions of lines, read in chunks of ``CHUNK`` bytes, never whole.

* A line longer than ``LINE_LIMIT`` is cut there (the rest up to its line end is skipped) and
  counted in ``long_lines``; it is never an error.
* NUL bytes in the first chunk make it a binary file: a ``FileError`` (exit 2). Later bytes that
  are not UTF-8 are replaced (a log may mix encodings).
* ``follow``: at the end of the file, wait for more (polling every ``POLL`` seconds) until
  ``stop()`` says so; a file that shrinks (truncated, or rotated and replaced) is read again
  from its start. Standard input and pipes are read to their end, as ``tail -f`` does.
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Callable, Iterator
from typing import BinaryIO, Final

from mailprobe.files import FileError, _open, _os_problem

CHUNK: Final = 1 << 20
#: The longest line kept (characters); longer ones are truncated and counted.
LINE_LIMIT: Final = 64 * 1024
POLL: Final = 0.25


class LineReader:
    """Batches of decoded lines of one input; ``lines``/``long_lines`` count what was read."""

    def __init__(self, path: str, stdin: BinaryIO | None = None, label: str = "") -> None:
        self.path = path
        self.stdin = stdin
        self.label = label or ("standard input" if path == "-" else path)
        self.lines = 0
        self.long_lines = 0
        self._first = True

    def batches(
        self, follow: bool = False, stop: Callable[[], bool] = lambda: False
    ) -> Iterator[list[str]]:
        """Lists of lines (without line ends) as they are read."""
        if self.path == "-":
            assert self.stdin is not None
            read = getattr(self.stdin, "read1", self.stdin.read)  # what a live pipe has so far
            yield from self._split(lambda: bytes(read(CHUNK)), follow=False, stop=stop)
            return
        fd, pipe = _open(self.path, self.label)
        try:
            if pipe:
                yield from self._split(_pipe_reader(fd, self.label), follow=False, stop=stop)
                return
            while True:
                yield from self._split(
                    functools.partial(os.read, fd, CHUNK), follow=follow, stop=stop, fd=fd
                )
                if not follow or stop():
                    return
                # the file was truncated or replaced (rotated): read the new one from its start
                os.close(fd)
                fd = -1
                fd, pipe = _open(self.path, self.label)
        except OSError as exc:
            raise FileError(self.label, _os_problem(exc)) from None
        finally:
            if fd >= 0:
                os.close(fd)

    def _split(
        self,
        read: Callable[[], bytes],
        *,
        follow: bool,
        stop: Callable[[], bool],
        fd: int = -1,
    ) -> Iterator[list[str]]:
        rest = b""
        skipping = False
        while True:
            chunk = read()
            if not chunk:
                if not follow or stop():
                    break
                if self._replaced(fd):
                    break
                time.sleep(POLL)
                continue
            if self._first:
                self._first = False
                if b"\0" in chunk[:65536]:
                    raise FileError(self.label, "a binary file (NUL bytes), not a text log")
                if chunk.startswith(b"\xef\xbb\xbf"):
                    chunk = chunk[3:]
            if skipping:
                end = chunk.find(b"\n")
                if end < 0:
                    continue
                chunk = chunk[end + 1 :]
                skipping = False
            data = rest + chunk
            cut = data.rfind(b"\n")
            if cut < 0:
                rest = data
            else:
                rest = data[cut + 1 :]
                yield self._decode(data[:cut])
            if len(rest) > LINE_LIMIT:
                yield self._decode(rest)
                rest = b""
                skipping = True
            if follow and stop():
                break
        if rest:
            yield self._decode(rest)

    def _decode(self, data: bytes) -> list[str]:
        """The lines of ``data`` (whole lines, without the last line end), decoded at once."""
        text = data.decode("utf-8", "replace")
        lines = text.split("\n")
        self.lines += len(lines)
        if "\r" in text:
            lines = [line.removesuffix("\r") for line in lines]
        if max(map(len, lines)) > LINE_LIMIT:
            long = [line for line in lines if len(line) > LINE_LIMIT]
            self.long_lines += len(long)
            lines = [line[:LINE_LIMIT] for line in lines]
        return lines

    def _replaced(self, fd: int) -> bool:
        """Whether the followed file was truncated, or replaced under its name (rotated)."""
        try:
            now = os.stat(self.path)
            mine = os.fstat(fd)
            offset = os.lseek(fd, 0, os.SEEK_CUR)
        except OSError:
            return False
        return (now.st_ino, now.st_dev) != (mine.st_ino, mine.st_dev) or now.st_size < offset


def _pipe_reader(fd: int, label: str) -> Callable[[], bytes]:
    import select

    state = {"started": False, "waited": False}

    def read() -> bytes:
        while True:
            try:
                chunk = os.read(fd, CHUNK)
            except BlockingIOError:
                state["waited"] = True
                select.select([fd], [], [])
                continue
            if not chunk and not state["started"] and not state["waited"]:
                raise FileError(label, "a named pipe with nothing writing to it")
            state["started"] = True
            return chunk

    return read
