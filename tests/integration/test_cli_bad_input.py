"""Bad input is exit 2 and one line on stderr, before anything is sent (issue item 11).

Every target here fails without the network: bad values are refused before a connection, and
the few runs that get that far talk to 127.0.0.1 port 1 (nothing listens there).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from mailprobe.cli.app import main

LONG_LABEL = "a" * 64 + ".invalid"
CLOSED = ["-p", "1", "--timeout", "0.5"]
NO_DNS = ["--server", "127.0.0.1:1", "--timeout", "0.5"]


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("COLUMNS", "200")
    for name in list(os.environ):
        if name.startswith("MAILPROBE_"):
            monkeypatch.delenv(name)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def one_usage_line(code: int, err: str) -> str:
    """The single error line of a usage error (exit 2), checked."""
    assert code == 2, err
    assert err.startswith("mailprobe: error: "), err
    assert err.count("\n") == 1, err
    assert "internal error" not in err and "Traceback" not in err
    return err


# --- host names: empty and overlong labels ----------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["ehlo", "a..b", *CLOSED], "host 'a..b' has an empty label"),
        (["ehlo", LONG_LABEL, *CLOSED], "label of 64 characters"),
        (["ehlo", ".a", *CLOSED], "has an empty label"),
        (["relay-test", "a..b", *CLOSED], "host 'a..b' has an empty label"),
        (["relay-test", LONG_LABEL, *CLOSED], "label of 64 characters"),
        (["ehlo", "--mx", "a..b", *NO_DNS], "empty label"),
        (["ehlo", "--mx", LONG_LABEL, *NO_DNS], "label of 64 characters"),
        (["relay-test", "--mx", "a..b", *NO_DNS], "empty label"),
        (["ehlo", "127.0.0.1", "--helo", "a..b", *CLOSED], "--helo 'a..b' has an empty label"),
        (["ehlo", "127.0.0.1", "--helo", LONG_LABEL, *CLOSED], "label of 64 characters"),
        (["relay-test", "127.0.0.1", "--helo", "a..b", *CLOSED], "--helo 'a..b'"),
        (["check", "x.invalid", "--helo", "a..b", *NO_DNS], "--helo 'a..b'"),
        (["ehlo", "127.0.0.1", "--tls-name", "a..b", *CLOSED], "--tls-name 'a..b' has an empty"),
        (["ehlo", "127.0.0.1", "--tls-name", LONG_LABEL, *CLOSED], "--tls-name"),
        (["mx", "a..b", *NO_DNS], "empty label"),
        (["mx", LONG_LABEL, *NO_DNS], "label of 64 characters"),
        (["check", "a..b", *NO_DNS], "empty label"),
        (["check", LONG_LABEL, *NO_DNS], "label of 64 characters"),
        (["mx", "x.invalid", "--doh", "https://a..b/dns-query"], "--doh host: 'a..b'"),
        (["mx", "x.invalid", "--doh", f"https://{LONG_LABEL}/q"], "label of 64 characters"),
        (
            ["check", "x.invalid", "--mta-sts-url", "https://a..b/x", *NO_DNS],
            "--mta-sts-url host: 'a..b' has an empty label",
        ),
    ],
)
def test_bad_host_names_are_usage_errors(
    capsys: pytest.CaptureFixture[str], argv: list[str], expected: str
) -> None:
    code, out, err = run(capsys, *argv)
    assert expected in one_usage_line(code, err)
    assert out == ""


def test_host_from_the_environment_is_named(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAILPROBE_HOST", "a..b")
    code, _out, err = run(capsys, "ehlo", *CLOSED)
    assert "MAILPROBE_HOST 'a..b' has an empty label" in one_usage_line(code, err)


# --- scoped IPv6 ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["mx", "x.invalid", "--server", "fe80::1%lo", "--timeout", "0.5"], "DNS server"),
        (["mx", "x.invalid", "--server", "[fe80::1%lo]:53", "--timeout", "0.5"], "DNS server"),
        (["check", "x.invalid", "--server", "fe80::1%lo", "--timeout", "0.5"], "DNS server"),
        (["ehlo", "--mx", "x.invalid", "--dns-server", "fe80::1%lo"], "DNS server"),
        (["relay-test", "127.0.0.1", "--server", "fe80::1%lo", *CLOSED], "DNS server"),
        (["ehlo", "fe80::1%lo", *CLOSED], "host 'fe80::1%lo'"),
        (["relay-test", "[fe80::1%lo]", *CLOSED], "host '[fe80::1%lo]'"),
        (["mx", "x.invalid", "--doh", "https://[fe80::1%25lo]/q", "--timeout", "0.5"], "--doh"),
    ],
)
def test_scoped_ipv6_is_refused(
    capsys: pytest.CaptureFixture[str], argv: list[str], expected: str
) -> None:
    code, _out, err = run(capsys, *argv)
    line = one_usage_line(code, err)
    assert expected in line and "scoped IPv6" in line and "not supported" in line


def test_scoped_dns_server_from_the_environment(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAILPROBE_DNS_SERVER", "fe80::1%lo")
    code, _out, err = run(capsys, "mx", "x.invalid", "--timeout", "0.5")
    assert "scoped IPv6" in one_usage_line(code, err)


# --- text options that are not UTF-8 ----------------------------------------------------------


@pytest.mark.parametrize(
    "argv",
    [
        ["ehlo", "127.0.0.1", "--user", "\udcff", "--password-env", "HOME", *CLOSED],
        ["relay-test", "127.0.0.1", "--user", "b\udce9b", "--password-env", "HOME", *CLOSED],
        ["ehlo", "127.0.0.1", "--from", "\udcff@x.invalid", *CLOSED],  # the typer-free route
        ["check", "x.invalid", "--to", "\udcff@x.invalid", *NO_DNS],
    ],
)
def test_surrogate_escaped_text_options_are_refused(
    capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    code, _out, err = run(capsys, *argv)
    assert "is not valid UTF-8 text" in one_usage_line(code, err)


def test_a_non_utf8_file_name_is_still_a_file_name(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # Paths are not text options: a Latin-1 file name is read (here: it does not exist).
    code, _out, err = run(capsys, "mx", "-f", str(tmp_path / "d\udce9.txt"), *NO_DNS)
    assert "cannot read (no such file)" in one_usage_line(code, err)


# --- --ca-file that holds no certificate ------------------------------------------------------


@pytest.mark.parametrize("command", ["ehlo", "check"])
def test_ca_file_without_a_certificate(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, command: str
) -> None:
    pem = tmp_path / "empty.pem"
    pem.write_text("no certificate here\n")
    target = ["127.0.0.1", *CLOSED] if command == "ehlo" else ["x.invalid", *NO_DNS]
    code, out, err = run(capsys, command, *target, "--ca-file", str(pem))
    line = one_usage_line(code, err)
    assert f"--ca-file {pem}: holds no certificate" in line
    assert out == ""  # check used to print nothing at all, not even the error


@pytest.mark.parametrize("command", ["ehlo", "check"])
def test_ca_file_that_is_a_device_or_missing(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, command: str
) -> None:
    target = ["127.0.0.1", *CLOSED] if command == "ehlo" else ["x.invalid", *NO_DNS]
    code, _out, err = run(capsys, command, *target, "--ca-file", str(tmp_path / "nope.pem"))
    assert "cannot read (no such file)" in one_usage_line(code, err)
    if os.path.exists("/dev/zero"):
        code, _out, err = run(capsys, command, *target, "--ca-file", "/dev/zero")
        assert "--ca-file /dev/zero: not a regular file" in one_usage_line(code, err)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes")
def test_ca_file_that_is_a_pipe(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    fifo = tmp_path / "ca.pem"
    os.mkfifo(fifo)  # refused from its type, never opened: no wait for a writer
    code, _out, err = run(capsys, "ehlo", "127.0.0.1", *CLOSED, "--ca-file", str(fifo))
    assert "not a regular file (a pipe" in one_usage_line(code, err)


def test_ca_file_with_a_certificate_is_accepted(
    capsys: pytest.CaptureFixture[str], test_ca: object
) -> None:
    pem = test_ca.ca_pem  # type: ignore[attr-defined]
    code, _out, err = run(capsys, "ehlo", "127.0.0.1", *CLOSED, "--ca-file", str(pem))
    assert code == 3 and "connection refused" in err  # got as far as connecting


# --- HELO names from the config file and the environment -------------------------------------


def test_helo_with_a_space_in_the_config_file_names_the_key_and_file(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    config = tmp_path / "c.toml"
    config.write_text('helo = "probe example"\n')
    for argv in (
        ["ehlo", "127.0.0.1", *CLOSED],
        ["relay-test", "127.0.0.1", *CLOSED],
        ["check", "x.invalid", *NO_DNS],
    ):
        code, _out, err = run(capsys, "--config", str(config), *argv)
        line = one_usage_line(code, err)
        assert f"config key 'helo' in {config}: 'probe example' is not a host name" in line


@pytest.mark.parametrize("value", ["probe example", "a..b", LONG_LABEL])
def test_helo_from_the_environment_names_the_variable(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("MAILPROBE_HELO", value)
    code, _out, err = run(capsys, "ehlo", "127.0.0.1", *CLOSED)
    assert f"MAILPROBE_HELO: {value!r} is not a host name" in one_usage_line(code, err)


def test_helo_option_wins_over_a_bad_configured_one(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAILPROBE_HELO", "probe example")
    code, _out, err = run(capsys, "ehlo", "127.0.0.1", "--helo", "probe.example", *CLOSED)
    assert code == 3 and "connection refused" in err


# --- the config file: nesting, devices, size --------------------------------------------------


def test_deeply_nested_toml(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    config = tmp_path / "deep.toml"
    config.write_text("x = " + "[" * 20000 + "]" * 20000 + "\n")
    code, _out, err = run(capsys, "--config", str(config), "ndr", "5.1.1")
    assert f"config {config}: invalid TOML (nested too deeply)" in one_usage_line(code, err)
    config.write_text("x = " + "{a = " * 5000 + "1" + "}" * 5000 + "\n")
    code, _out, err = run(capsys, "--config", str(config), "ndr", "5.1.1")
    assert "invalid TOML" in one_usage_line(code, err)


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--config", "/dev/zero", "ndr", "5.1.1"], "config /dev/zero: not a regular file"),
        (["mx", "-f", "/dev/zero", *NO_DNS], "--file /dev/zero: not a regular file"),
        (["check", "-f", "/dev/zero", *NO_DNS], "--file /dev/zero: not a regular file"),
        (["ndr", "-f", "/dev/zero"], "/dev/zero: not a regular file"),
        (
            ["ehlo", "127.0.0.1", "--user", "u", "--password-file", "/dev/zero", *CLOSED],
            "--password-file /dev/zero: not a regular file",
        ),
        (
            ["relay-test", "127.0.0.1", "--user", "u", "--password-file", "/dev/zero", *CLOSED],
            "--password-file /dev/zero: not a regular file",
        ),
    ],
)
def test_dev_zero_is_refused_without_reading_it(
    capsys: pytest.CaptureFixture[str], argv: list[str], expected: str
) -> None:
    code, _out, err = run(capsys, *argv)
    assert expected in one_usage_line(code, err)


def test_files_over_5_mb_are_refused(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    big = tmp_path / "big.txt"
    big.write_bytes(b"x.invalid\n" * (600 * 1024))  # 6 MB
    for argv in (
        ["mx", "-f", str(big), *NO_DNS],
        ["--config", str(big), "ndr", "5.1.1"],
        ["ehlo", "127.0.0.1", "--user", "u", "--password-file", str(big), *CLOSED],
    ):
        code, _out, err = run(capsys, *argv)
        assert f"{big}: larger than 5 MB" in one_usage_line(code, err)


def test_password_file_errors_name_the_option(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    latin1 = tmp_path / "pw"
    latin1.write_bytes(b"caf\xe9\n")
    code, _out, err = run(
        capsys, "ehlo", "127.0.0.1", "--user", "u", "--password-file", str(latin1), *CLOSED
    )
    assert f"--password-file {latin1}: not UTF-8 text" in one_usage_line(code, err)
    code, _out, err = run(
        capsys, "ehlo", "127.0.0.1", "--user", "u", "--password-file", str(tmp_path), *CLOSED
    )
    assert "cannot read (is a directory)" in one_usage_line(code, err)


# --- named pipes: refused at once, not waited for (subprocess, strict timeout) ---------------


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes")
@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--config", "{fifo}", "ndr", "5.1.1"], "config {fifo}: a named pipe"),
        (
            ["ehlo", "127.0.0.1", "--user", "u", "--password-file", "{fifo}", *CLOSED],
            "--password-file {fifo}: a named pipe",
        ),
        (["mx", "-f", "{fifo}", *NO_DNS], "--file {fifo}: a named pipe"),
        (["ndr", "--file", "{fifo}"], "{fifo}: a named pipe"),
    ],
)
def test_fifo_without_a_writer_does_not_hang(
    tmp_path: Path, argv: list[str], expected: str
) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILPROBE_")}
    env["XDG_CONFIG_HOME"] = str(tmp_path / "xdg")
    done = subprocess.run(
        [sys.executable, "-m", "mailprobe", *(a.format(fifo=fifo) for a in argv)],
        capture_output=True,
        text=True,
        timeout=30,
        env=env,
        check=False,
    )
    assert expected.format(fifo=fifo) in one_usage_line(done.returncode, done.stderr)


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /dev/fd pipes")
def test_a_pipe_with_data_is_read_like_a_file(tmp_path: Path) -> None:
    # `--password-file <(pass show mail)` and `-f <(grep ...)`: a pipe that is written to.
    read_end, write_end = os.pipe()
    os.write(write_end, b"secret\n")
    os.close(write_end)
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILPROBE_")}
    env["XDG_CONFIG_HOME"] = str(tmp_path / "xdg")
    try:
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "mailprobe",
                "ehlo",
                "127.0.0.1",
                "--user",
                "u",
                "--password-file",
                f"/dev/fd/{read_end}",
                *CLOSED,
            ],
            capture_output=True,
            text=True,
            timeout=30,
            env=env,
            check=False,
            pass_fds=(read_end,),
        )
    finally:
        os.close(read_end)
    assert done.returncode == 3, done.stderr  # read the password, then found port 1 closed
    assert "connection refused" in done.stderr


@pytest.mark.parametrize(
    "argv",
    [
        ["check", "x.invalid", "--server", "127.0.0.1:1", "--html", "{dir}"],
        ["ehlo", "127.0.0.1", "--port", "1", "--transcript", "{dir}"],
        ["relay-test", "127.0.0.1", "--port", "1", "--transcript", "{dir}"],
        ["relay-test", "127.0.0.1", "--port", "1", "--transcript", "{dir}/missing/t.txt"],
    ],
)
def test_an_output_file_that_cannot_be_written_is_refused_before_the_run(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, argv: list[str]
) -> None:
    # Found by the fuzz test: a directory given to --html was reported after the run, as a
    # second error line beside the run's own.
    args = [a.replace("{dir}", str(tmp_path)) for a in argv]
    code, _out, err = run(capsys, *args)
    line = one_usage_line(code, err)
    assert "is a directory" in line or "does not exist" in line
