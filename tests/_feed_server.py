"""A generic SSE feed for kernel-side tests: sends the given events once, then answers
HTTP 204 (the spec's "stop reconnecting")."""

from __future__ import annotations

from _servers import ScriptedServer, sse_head


def feed(events: list[str]) -> ScriptedServer:
    body = b"retry: 10\n" + b"".join(f"data: {e}\n\n".encode() for e in events)

    def script(handler, n):
        if n == 0:
            handler.wfile.write(sse_head() + body)
        else:
            handler.wfile.write(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n")

    return ScriptedServer(script)
