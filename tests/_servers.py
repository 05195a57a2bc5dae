"""Tiny purpose-built loopback servers for byte-level cases the demo endpoint does not
cover: one threaded HTTP base the others build on, a scripted raw HTTP responder, and
sockets that never answer."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Self


class LoopbackServer:
    """A threaded HTTP/1.1 server on 127.0.0.1 that hands every GET and POST to
    ``serve(handler)`` (Nagle off, one request per connection unless ``serve`` sets
    ``handler.close_connection = False``, a client that hung up ignored): the one base of
    the tests' purpose-built servers, which say only what a request gets. ``url`` is its
    address; ``stop()`` or leaving ``with`` shuts it down."""

    def __init__(self, serve: Callable[[BaseHTTPRequestHandler], None]) -> None:
        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self) -> None:
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                self.close_connection = True  # one request per connection, unless serve() keeps it
                try:
                    serve(self)
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True

            do_GET = do_POST = _serve

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def read_body(handler: BaseHTTPRequestHandler) -> bytes:
    """The request's body (by its Content-Length; none: empty)."""
    return handler.rfile.read(int(handler.headers.get("content-length") or 0))


class ScriptedServer(LoopbackServer):
    """Serves each request with ``script(handler, n)``, n = 0, 1, 2… per request.

    ``handler.wfile`` takes raw bytes; the script writes the status line, headers and
    body itself. Every request's headers are kept in ``requests`` for assertions.
    """

    def __init__(self, script: Callable[[BaseHTTPRequestHandler, int], None]) -> None:
        self.requests: list[dict[str, str]] = []

        def serve(handler: BaseHTTPRequestHandler) -> None:
            read_body(handler)
            n = len(self.requests)
            self.requests.append({k.lower(): v for k, v in handler.headers.items()})
            script(handler, n)

        super().__init__(serve)


def sse_head(status: str = "200 OK", content_type: str = "text/event-stream") -> bytes:
    """Response head for a body that ends when the connection closes."""
    return (f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nCache-Control: no-cache\r\n"
            "Connection: close\r\n\r\n").encode()


class SilentServer:
    """Accepts connections and never answers: for first-byte timeouts."""

    def __init__(self) -> None:
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(16)
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}"
        self._held: list[socket.socket] = []
        self._stop = False
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        self._sock.settimeout(0.2)
        while not self._stop:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                continue
            self._held.append(conn)

    def stop(self) -> None:
        self._stop = True
        self._thread.join(2)
        for conn in self._held:
            conn.close()
        self._sock.close()

    def __enter__(self) -> SilentServer:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


class FullBacklogServer:
    """A listening socket whose accept queue is full: new connections hang in the
    handshake, so a client's connect times out (Linux drops the extra SYNs)."""

    def __init__(self) -> None:
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(0)
        addr = self._sock.getsockname()
        self.url = f"http://127.0.0.1:{addr[1]}"
        self._fillers = []
        for _ in range(4):
            filler = socket.socket()
            filler.setblocking(False)
            filler.connect_ex(addr)
            self._fillers.append(filler)

    def stop(self) -> None:
        for filler in self._fillers:
            filler.close()
        self._sock.close()

    def __enter__(self) -> FullBacklogServer:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


_RESERVED: list[socket.socket] = []


def closed_port() -> int:
    """A loopback port with nothing listening: bound but never listening, and kept bound
    for the session, so a connection is refused and no other process can take the port."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    _RESERVED.append(s)
    return s.getsockname()[1]
