"""`mailprobe mx --doh` end to end, and the import rule (no dnspython before the command runs)."""

from __future__ import annotations

import http.server
import json
import subprocess
import sys
import threading
from collections.abc import Iterator

import dns.message
import dns.query
import pytest

from mailprobe.cli.app import main

ZONE = """
@      MX 10 mx
mx     A 127.0.1.70
"""


@pytest.fixture
def doh(dns_server) -> Iterator[str]:
    """A plain-HTTP DoH endpoint on 127.0.1.71 forwarding to a loopback DNS server."""
    server = dns_server({"doh.test": ZONE}, address="127.0.1.70")

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            query = dns.message.from_wire(self.rfile.read(int(self.headers["content-length"])))
            body = dns.query.udp(query, server.address, port=server.port, timeout=2).to_wire()
            self.send_response(200)
            self.send_header("content-type", "application/dns-message")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.1.71", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.1.71:{httpd.server_address[1]}/dns-query"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


def test_doh(capsys, doh) -> None:
    code = main(["mx", "--json", "--doh", doh, "--timeout", "2", "doh.test"])
    document = json.loads(capsys.readouterr().out)
    view = document["results"]["servers"][0]
    assert view["server"] == doh and view["server_name"] == "127.0.1.71"
    assert [e["host"] for e in view["exchangers"]] == ["mx.doh.test"]
    assert code == 1  # loopback address, no PTR: problems found, but the lookup worked
    assert document["errors"] == []


def test_cli_import_does_not_load_dnspython() -> None:
    probe = (
        "import sys, mailprobe.cli.app; "
        "print(sorted(m for m in sys.modules if m == 'dns' or m.startswith('dns.')))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "[]"
