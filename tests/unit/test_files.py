"""The one rule for input files (mailprobe/files.py): bounded, regular files or live pipes."""

from __future__ import annotations

import io
import os
import threading
from pathlib import Path

import pytest

from mailprobe.errors import UsageError
from mailprobe.files import MAX_BYTES, FileError, read_bytes, read_stream_text, read_text


def test_regular_file_is_read(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_bytes(b"\xef\xbb\xbfcaf\xc3\xa9\n")
    assert read_bytes(path) == b"\xef\xbb\xbfcaf\xc3\xa9\n"
    assert read_text(path) == "café\n"  # the byte order mark is dropped


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p / "missing", "cannot read (no such file)"),
        (lambda p: p, "cannot read (is a directory)"),
        (lambda p: Path("/dev/zero"), "not a regular file (a device)"),
        (lambda p: Path("/dev/null"), "not a regular file (a device)"),
    ],
)
def test_refused_before_reading(tmp_path: Path, make: object, message: str) -> None:
    path = make(tmp_path)  # type: ignore[operator]
    if not os.path.lexists(path) and "no such" not in message:
        pytest.skip(f"{path} does not exist here")
    with pytest.raises(FileError) as info:
        read_bytes(path, "--opt")
    assert str(info.value) == f"--opt {path}: {message}"
    assert isinstance(info.value, UsageError)


def test_size_is_capped(tmp_path: Path) -> None:
    path = tmp_path / "big"
    path.write_bytes(b"a" * (MAX_BYTES + 1))
    with pytest.raises(FileError, match="larger than 5 MB"):
        read_bytes(path, "config")
    assert len(read_bytes(path, limit=MAX_BYTES + 1)) == MAX_BYTES + 1
    with pytest.raises(FileError, match="larger than 10 bytes"):
        read_bytes(path, limit=10)


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin1"
    path.write_bytes(b"caf\xe9")
    with pytest.raises(FileError, match="not UTF-8 text"):
        read_text(path, "--password-file")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes")
def test_named_pipe_without_writer_is_refused_at_once(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(FileError, match="named pipe with nothing writing to it"):
        read_bytes(fifo, "config")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes")
def test_named_pipe_with_a_slow_writer_is_waited_for(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    keeper = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # lets the writer open without waiting
    writer = os.open(fifo, os.O_WRONLY)
    result: list[str] = []
    reader = threading.Thread(target=lambda: result.append(read_text(fifo, "--file")))
    try:
        reader.start()
        reader.join(0.3)
        assert reader.is_alive()  # a writer is connected: the reader waits for its data
        os.write(writer, b"x.invalid\n")
    finally:
        os.close(writer)
        reader.join(10)
        os.close(keeper)
    assert result == ["x.invalid\n"]


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc/self/fd")
def test_anonymous_pipe_is_read() -> None:
    # What a shell's `--password-file <(command)` hands over: /dev/fd/N, a pipe.
    read_end, write_end = os.pipe()
    try:
        os.write(write_end, b"secret\n")
        os.close(write_end)
        assert read_text(f"/proc/self/fd/{read_end}", "--password-file") == "secret\n"
    finally:
        os.close(read_end)


def test_stdin_is_bounded() -> None:
    text = io.TextIOWrapper(io.BytesIO(b"a" * (MAX_BYTES + 1)), encoding="utf-8")
    with pytest.raises(FileError, match="standard input: larger than 5 MB"):
        read_stream_text(text)
    assert read_stream_text(io.TextIOWrapper(io.BytesIO(b"x\n"))) == "x\n"
    assert read_stream_text(io.StringIO("y\n")) == "y\n"  # no binary buffer (tests)
    with pytest.raises(FileError, match="not UTF-8"):
        read_stream_text(io.TextIOWrapper(io.BytesIO(b"\xff")))


def test_read_lines_streams_with_limits(tmp_path: Path) -> None:
    from mailprobe.files import read_lines

    path = tmp_path / "lines.txt"
    path.write_bytes(b"\xef\xbb\xbfone\r\n\ntwo\nthree")
    assert list(read_lines(path)) == [(1, "one"), (2, ""), (3, "two"), (4, "three")]
    path.write_bytes(b"short\n" + b"x" * 20 + b"\nend\n")
    with pytest.raises(FileError, match="line 2: longer than 10 bytes"):
        list(read_lines(path, "--opt", line_limit=10))
    with pytest.raises(FileError, match="larger than 12 bytes"):
        list(read_lines(path, "--opt", limit=12))
    path.write_bytes(b"ok\ncaf\xe9\n")
    with pytest.raises(FileError, match="line 2: not UTF-8 text"):
        list(read_lines(path, "--opt"))
    with pytest.raises(FileError, match="not a regular file"):
        list(read_lines("/dev/zero", "--opt"))
