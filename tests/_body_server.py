"""A loopback server that keeps every request's path and JSON body, and answers each with
the bytes a test gives it (a whole HTTP response): for asserting what a client sends."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def sse_response(payloads: list[Any], content_type: str = "text/event-stream") -> bytes:
    """A 200 response streaming ``payloads`` as SSE ``data:`` lines (str sent as is)."""
    body = b"".join(b"data: " + (p if isinstance(p, str) else json.dumps(p)).encode() + b"\n\n" for p in payloads)
    return (f"HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nContent-Length: {len(body)}\r\n"
            "Connection: close\r\n\r\n").encode() + body


def ndjson_response(payloads: list[Any]) -> bytes:
    body = b"".join(json.dumps(p).encode() + b"\n" for p in payloads)
    return (f"HTTP/1.1 200 OK\r\nContent-Type: application/x-ndjson\r\nContent-Length: {len(body)}\r\n"
            "Connection: close\r\n\r\n").encode() + body


class BodyServer:
    """``answer(path, body)`` -> the raw response bytes; ``requests`` holds (path, body)."""

    def __init__(self, answer: Callable[[str, Any], bytes]) -> None:
        self.requests: list[tuple[str, Any]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802 - the http.server protocol
                raw = self.rfile.read(int(self.headers.get("content-length") or 0))
                body = json.loads(raw) if raw else None
                outer.requests.append((self.path, body))
                try:
                    self.wfile.write(answer(self.path, body))
                except (BrokenPipeError, ConnectionResetError):
                    pass
                self.close_connection = True

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> BodyServer:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()
