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
