"""A loopback OpenAI-compatible server that fails on purpose, deterministically by request
count (never by timing): ``faults(n, prompt)`` picks what request ``n`` gets — an answer,
a 429 with Retry-After, a 500, a disconnect mid-stream, or any other status. Answers echo
the prompt, so a test can check each row got its own answer; every request is logged."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler

from _servers import LoopbackServer, read_body


@dataclass
class Logged:
    n: int
    prompt: str
    action: str


def answer_for(prompt: str) -> str:
    return f"answer to: {prompt}"


class FaultServer(LoopbackServer):
    """``faults(n, prompt) -> action``: "ok", "429", "500", "disconnect", or a status like "400"."""

    def __init__(self, faults: Callable[[int, str], str], *, retry_after: str = "0") -> None:
        self.log: list[Logged] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()
        self.release = threading.Event()  # "hold" requests wait for this
        self.holding = 0  # "hold" requests that have sent their first word and wait
        self.release.set()

        def serve(handler: BaseHTTPRequestHandler) -> None:
            body = json.loads(read_body(handler) or b"{}")
            prompt = "".join(str(m.get("content", "")) for m in body.get("messages", []) if m.get("role") == "user")
            with self._lock:
                n = len(self.log)
                action = faults(n, prompt)
                self.log.append(Logged(n, prompt, action))
                self.in_flight += 1
                self.max_in_flight = max(self.max_in_flight, self.in_flight)
            try:
                self._serve(handler, action, prompt, retry_after)
            finally:
                with self._lock:
                    self.in_flight -= 1

        super().__init__(serve)
        self.base_url = f"{self.url}/v1"

    def _serve(self, h: BaseHTTPRequestHandler, action: str, prompt: str, retry_after: str) -> None:
        if action.isdigit():
            payload = json.dumps({"error": {"message": f"scripted {action}"}}).encode()
            extra = f"Retry-After: {retry_after}\r\n" if action == "429" else ""
            h.wfile.write(f"HTTP/1.1 {action} Scripted\r\nContent-Type: application/json\r\n{extra}"
                          f"Content-Length: {len(payload)}\r\nConnection: close\r\n\r\n".encode() + payload)
            return
        h.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n")
        words = answer_for(prompt).split(" ")
        for i, word in enumerate(words):
            if action == "hold" and i == 1:
                h.wfile.flush()
                with self._lock:
                    self.holding += 1
                self.release.wait(60)
            chunk = {"id": "x", "object": "chat.completion.chunk", "model": "fault",
                     "choices": [{"index": 0, "delta": {"content": word if i == 0 else " " + word}}]}
            h.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
            h.wfile.flush()
            if action == "disconnect" and i == 1:
                return  # the connection closes with no finish and no [DONE]
        end = {"id": "x", "object": "chat.completion.chunk", "model": "fault",
               "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
               "usage": {"prompt_tokens": 3, "completion_tokens": len(words), "total_tokens": 3 + len(words)}}
        h.wfile.write(f"data: {json.dumps(end)}\n\ndata: [DONE]\n\n".encode())
        h.wfile.flush()

    def answered(self) -> list[str]:
        """The prompts that got a whole answer, one entry per answer sent."""
        with self._lock:
            return [e.prompt for e in self.log if e.action in ("ok", "hold")]

    def stop(self) -> None:
        self.release.set()
        super().stop()
