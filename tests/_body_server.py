"""A loopback server that keeps every request's path and JSON body, and answers each with
the bytes a test gives it (a whole HTTP response): for asserting what a client sends."""

from __future__ import annotations

import json
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from typing import Any

from _servers import LoopbackServer, read_body


def sse_response(payloads: list[Any], content_type: str = "text/event-stream") -> bytes:
    """A 200 response streaming ``payloads`` as SSE ``data:`` lines (str sent as is)."""
    body = b"".join(b"data: " + (p if isinstance(p, str) else json.dumps(p)).encode() + b"\n\n" for p in payloads)
    return (f"HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nContent-Length: {len(body)}\r\n"
            "Connection: close\r\n\r\n").encode() + body


def ndjson_response(payloads: list[Any]) -> bytes:
    body = b"".join(json.dumps(p).encode() + b"\n" for p in payloads)
    return (f"HTTP/1.1 200 OK\r\nContent-Type: application/x-ndjson\r\nContent-Length: {len(body)}\r\n"
            "Connection: close\r\n\r\n").encode() + body


class BodyServer(LoopbackServer):
    """``answer(path, body)`` -> the raw response bytes; ``requests`` holds (path, body)."""

    def __init__(self, answer: Callable[[str, Any], bytes]) -> None:
        self.requests: list[tuple[str, Any]] = []

        def serve(handler: BaseHTTPRequestHandler) -> None:
            raw = read_body(handler)
            body = json.loads(raw) if raw else None
            self.requests.append((handler.path, body))
            handler.wfile.write(answer(handler.path, body))

        super().__init__(serve)
