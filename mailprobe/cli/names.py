"""Option names that several commands share, declared once (typer-free: the quick path of
``ehlo`` reads them too). The first name is the one the docs use; the others are aliases kept
so that habits from each command carry over to every other."""

from __future__ import annotations

#: A DNS server to ask (mx, check) or to look up --mx and PTR names with (ehlo, relay-test).
DNS_SERVER = ("--server", "-s", "--dns-server")
#: The SMTP port of the server(s) probed.
SMTP_PORT = ("--port", "-p", "--smtp-port")
#: A recipient address for RCPT TO.
RECIPIENT = ("--to", "--rcpt")

#: The option a library input field is given with, for ``errors.InputError`` messages (the
#: CLI checks values that came from the config file or environment itself, naming their
#: origin, before they reach the library).
FIELD_OPTIONS = {
    "sender": "--from",
    "to": "--to",
    "domain": "--domain",
    "external": "--external",
    "connections": "--connections",
    "helo": "--helo",
    "send": "--send",
    "expect_verbs": "--expect-verbs",
}
