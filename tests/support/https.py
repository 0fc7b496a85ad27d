"""A loopback HTTPS server for MTA-STS policies, with a certificate from the test CA.

The server runs in a background thread (``ThreadingHTTPServer`` over TLS; the handshake
happens in the handler thread, so a stuck client never blocks the others) and answers each
path with the status, body, content type and headers the test configured. Unknown paths get
404. Every wait is bounded: handlers time out reading after 10 s, a configured ``delay`` ends
early when the server stops, and ``stop()`` waits at most 5 s.

GET and POST are answered alike. For DNS over HTTPS, ``answer`` computes the body from the
request body (e.g. ``DnsServerHandle.answer_wire`` of tests/support/dnsserver.py). Misbehaving
bodies, for the client's limits: ``drip`` sends the body one byte every ``drip`` seconds, and
``endless`` sends it again and again (no Content-Length) until the client hangs up or the
server stops; ``server.sent[path]`` counts the body bytes written. ``tls=False`` serves plain
HTTP on the same terms (``url()`` then starts with ``http://``).

API::

    server = start_https_server(test_ca, address="127.0.5.1", names=("mta-sts.example.test",))
    server.set("/.well-known/mta-sts.txt", "version: STSv1\\n...", status=200,
               content_type="text/plain", headers={"Location": "..."}, delay=0.0,
               drip=0.0, endless=False, answer=None)
    server.set("/dns-query", b"", content_type="application/dns-message",
               answer=dns_handle.answer_wire)      # a DoH endpoint
    server.url("/.well-known/mta-sts.txt")  # https://127.0.5.1:PORT/.well-known/mta-sts.txt
    server.client_context()                 # ssl.SSLContext trusting only the test CA
    server.requests                         # [(method, path, Host header), ...]
    server.sent                             # {path: body bytes written}
    server.stop()                           # idempotent; also a context manager

pytest fixture (registered by tests/conftest.py): ``https_server`` — a factory
``https_server(address="127.0.5.1", names=(), tls=True)`` using the session ``test_ca`` from
tests/support/certs.py; every server it started is stopped at teardown. Policy tests use
127.0.5.x; the certificate always covers the address itself and ``localhost``.
"""

from __future__ import annotations

import dataclasses
import http.server
import socket
import ssl
import threading
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import pytest

from tests.support.certs import ServerCert, TestCA

__all__ = ["HttpsServer", "Route", "start_https_server"]

_READ_TIMEOUT = 10.0
_STOP_TIMEOUT = 5.0


@dataclasses.dataclass(frozen=True)
class Route:
    """What one path answers."""

    body: bytes
    status: int = 200
    content_type: str | None = "text/plain"
    headers: Mapping[str, str] = dataclasses.field(default_factory=dict)
    delay: float = 0.0
    #: Seconds between the bytes of the body (0: all at once).
    drip: float = 0.0
    #: Send the body again and again, without Content-Length, until the client hangs up.
    endless: bool = False
    #: The body computed from the request body (a DoH endpoint); ``body`` is then ignored.
    answer: Callable[[bytes], bytes] | None = None


class _Handler(http.server.BaseHTTPRequestHandler):
    server: _TlsHttpServer
    timeout = _READ_TIMEOUT
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self._respond("GET", b"")

    def do_POST(self) -> None:
        length = self.headers.get("Content-Length", "0")
        request = self.rfile.read(int(length)) if length.isdigit() else b""
        self._respond("POST", request)

    def _respond(self, method: str, request: bytes) -> None:
        owner = self.server.owner
        path = self.path.split("?", 1)[0]
        owner.requests.append((method, self.path, self.headers.get("Host", "")))
        route = owner.routes.get(path)
        if route is None:
            route = Route(b"not found\n", status=404)
        if route.delay and owner.stopping.wait(route.delay):
            return
        body = route.answer(request) if route.answer is not None else route.body
        self.send_response(route.status)
        if route.content_type is not None:
            self.send_header("Content-Type", route.content_type)
        for name, value in route.headers.items():
            self.send_header(name, value)
        if not route.endless:
            self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        try:
            if route.endless:
                while not owner.stopping.is_set():
                    self._write(path, body or b"\0" * 65536, route.drip)
            else:
                self._write(path, body, route.drip)
        except OSError:
            pass  # the client hung up (as it should, for a body it does not want)

    def _write(self, path: str, body: bytes, drip: float) -> None:
        owner = self.server.owner
        if not drip:
            self.wfile.write(body)
            owner.count(path, len(body))
            return
        for index in range(len(body)):
            self.wfile.write(body[index : index + 1])
            self.wfile.flush()
            owner.count(path, 1)
            if owner.stopping.wait(drip):
                return

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep test output clean


class _TlsHttpServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], context: ssl.SSLContext, owner: HttpsServer):
        self.context = context
        self.owner = owner
        super().__init__(address, _Handler)

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, peer = self.socket.accept()
        sock.settimeout(_READ_TIMEOUT)
        if not self.owner.tls:
            return sock, peer
        # the handshake runs on first read, in the handler thread
        tls = self.context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return tls, peer

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # clients that abort the handshake (e.g. untrusted certificate) are expected


class HttpsServer:
    """A running loopback HTTPS server; see the module docstring."""

    def __init__(self, cert: ServerCert, address: str, port: int = 0, tls: bool = True) -> None:
        self.cert = cert
        self.tls = tls
        self.routes: dict[str, Route] = {}
        self.requests: list[tuple[str, str, str]] = []
        self.sent: dict[str, int] = {}
        self._sent_lock = threading.Lock()
        self.stopping = threading.Event()
        context = cert.server_context()
        self._server = _TlsHttpServer((address, port), context, self)
        self.address: str = address
        self.port: int = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name=f"https {address}:{self.port}",
            daemon=True,
        )
        self._thread.start()
        self._stopped = False

    def set(
        self,
        path: str,
        body: str | bytes,
        *,
        status: int = 200,
        content_type: str | None = "text/plain",
        headers: Mapping[str, str] | None = None,
        delay: float = 0.0,
        drip: float = 0.0,
        endless: bool = False,
        answer: Callable[[bytes], bytes] | None = None,
    ) -> str:
        """Configure what ``path`` answers; returns its URL."""
        data = body.encode("utf-8") if isinstance(body, str) else body
        self.routes[path] = Route(
            data, status, content_type, dict(headers or {}), delay, drip, endless, answer
        )
        return self.url(path)

    def url(self, path: str = "/") -> str:
        scheme = "https" if self.tls else "http"
        return f"{scheme}://{self.address}:{self.port}{path}"

    def count(self, path: str, size: int) -> None:
        """Add ``size`` body bytes written for ``path`` (called by the handler threads)."""
        with self._sent_lock:
            self.sent[path] = self.sent.get(path, 0) + size

    def client_context(self) -> ssl.SSLContext:
        """A client context that trusts only the test CA."""
        return self.cert.client_context()

    def stop(self) -> None:
        """Stop serving (idempotent, bounded wait)."""
        if self._stopped:
            return
        self._stopped = True
        self.stopping.set()
        self._server.shutdown()
        self._thread.join(_STOP_TIMEOUT)
        self._server.server_close()

    def __enter__(self) -> HttpsServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_https_server(
    ca: TestCA,
    address: str = "127.0.5.1",
    names: tuple[str, ...] = (),
    port: int = 0,
    tls: bool = True,
) -> HttpsServer:
    """Start an HTTPS server on ``address`` with a certificate from ``ca`` for the address,
    ``localhost`` and ``names`` (``tls=False``: plain HTTP)."""
    cert = ca.issue(address, "localhost", *names)
    return HttpsServer(cert, address, port, tls)


@pytest.fixture
def https_server(test_ca: TestCA) -> Iterator[Callable[..., HttpsServer]]:
    """A factory like ``start_https_server`` (the CA given); servers stop at teardown."""
    started: list[HttpsServer] = []

    def factory(
        address: str = "127.0.5.1", names: tuple[str, ...] = (), tls: bool = True
    ) -> HttpsServer:
        server = start_https_server(test_ca, address, tuple(names), tls=tls)
        started.append(server)
        return server

    yield factory
    for server in started:
        server.stop()
