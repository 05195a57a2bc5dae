"""A loopback server that fails on purpose, deterministically by request count (never by
timing): ``faults(n, prompt)`` picks what request ``n`` gets — an answer, a 429 with
Retry-After, a 500, a disconnect mid-stream, an in-stream error event, a stall, or any
other status. It speaks OpenAI's chat format, and Anthropic's on ``/v1/messages``.
Answers echo the prompt, so a test can check each row got its own answer; every request
is logged, with the time it arrived."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any

from _servers import LoopbackServer, read_body


@dataclass
class Logged:
    n: int
    prompt: str
    action: str
    at: float = 0.0  # time.monotonic() when the request arrived
    path: str = ""


def answer_for(prompt: str) -> str:
    return f"answer to: {prompt}"


def _prompt(body: dict[str, Any]) -> str:
    out = []
    for m in body.get("messages", []):
        if m.get("role") != "user":
            continue
        content = m.get("content", "")
        if isinstance(content, list):  # content blocks
            content = "".join(str(b.get("text", "")) for b in content if isinstance(b, dict))
        out.append(str(content))
    return "".join(out)


class FaultServer(LoopbackServer):
    """``faults(n, prompt) -> action``: "ok", "hold" (first word, then wait for ``release``),
    "429", "500", "disconnect", "error:TYPE" (an in-stream error event of that type after
    the first word, then the stream ends), "stall" (first word, then silence until the
    server stops), or a status like "400"."""

    def __init__(self, faults: Callable[[int, str], str], *, retry_after: str = "0") -> None:
        self.log: list[Logged] = []
        self.in_flight = 0  # requests being answered: counted from arrival to before their last byte
        self.max_in_flight = 0
        self._lock = threading.Lock()
        self.release = threading.Event()  # "hold" requests wait for this
        self.holding = 0  # "hold" requests that have sent their first word and wait
        self.release.set()
        self._stopped = threading.Event()  # "stall" requests wait for this

        def serve(handler: BaseHTTPRequestHandler) -> None:
            body = json.loads(read_body(handler) or b"{}")
            prompt = _prompt(body)
            with self._lock:
                n = len(self.log)
                action = faults(n, prompt)
                self.log.append(Logged(n, prompt, action, time.monotonic(), handler.path))
                self.in_flight += 1
                self.max_in_flight = max(self.max_in_flight, self.in_flight)
            settled = False

            def settle() -> None:  # out of flight before the last byte: the client cannot start the next first
                nonlocal settled
                if not settled:
                    settled = True
                    with self._lock:
                        self.in_flight -= 1

            try:
                self._serve(handler, action, prompt, retry_after, settle)
            finally:
                settle()

        super().__init__(serve)
        self.base_url = f"{self.url}/v1"

    def _serve(self, h: BaseHTTPRequestHandler, action: str, prompt: str, retry_after: str,
               settle: Callable[[], None]) -> None:
        if action.isdigit():
            settle()
            payload = json.dumps({"error": {"message": f"scripted {action}"}}).encode()
            extra = f"Retry-After: {retry_after}\r\n" if action == "429" else ""
            h.wfile.write(f"HTTP/1.1 {action} Scripted\r\nContent-Type: application/json\r\n{extra}"
                          f"Content-Length: {len(payload)}\r\nConnection: close\r\n\r\n".encode() + payload)
            return
        wire = _Anthropic() if h.path.endswith("/messages") else _Chat()
        h.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n")
        h.wfile.write(wire.start())
        words = answer_for(prompt).split(" ")
        for i, word in enumerate(words):
            if i == 1:
                h.wfile.flush()
                if action == "hold":
                    with self._lock:
                        self.holding += 1
                    self.release.wait(60)
                elif action == "stall":
                    self._stopped.wait(60)
                    return
                elif action.startswith("error:"):
                    settle()
                    h.wfile.write(wire.error(action.removeprefix("error:")))
                    h.wfile.flush()
                    return
            h.wfile.write(wire.text(word if i == 0 else " " + word))
            h.wfile.flush()
            if action == "disconnect" and i == 1:
                return  # the connection closes with no finish and no end marker
        settle()
        h.wfile.write(wire.end(len(words)))
        h.wfile.flush()

    def answered(self) -> list[str]:
        """The prompts that got a whole answer, one entry per answer sent."""
        with self._lock:
            return [e.prompt for e in self.log if e.action in ("ok", "hold")]

    def stop(self) -> None:
        self.release.set()
        self._stopped.set()
        super().stop()


def _sse(data: dict[str, Any], event: str | None = None) -> bytes:
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {json.dumps(data)}\n\n".encode()


class _Chat:
    """OpenAI chat completion chunks."""

    def start(self) -> bytes:
        return b""

    def text(self, text: str) -> bytes:
        return _sse({"id": "x", "object": "chat.completion.chunk", "model": "fault",
                     "choices": [{"index": 0, "delta": {"content": text}}]})

    def error(self, kind: str) -> bytes:
        return _sse({"error": {"message": f"scripted {kind}", "type": kind, "param": None, "code": None}})

    def end(self, n: int) -> bytes:
        return _sse({"id": "x", "object": "chat.completion.chunk", "model": "fault",
                     "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
                     "usage": {"prompt_tokens": 3, "completion_tokens": n, "total_tokens": 3 + n}}) \
            + b"data: [DONE]\n\n"


class _Anthropic:
    """Anthropic Messages events."""

    def start(self) -> bytes:
        message = {"id": "msg_x", "type": "message", "role": "assistant", "model": "fault", "content": [],
                   "stop_reason": None, "usage": {"input_tokens": 3, "output_tokens": 0}}
        return _sse({"type": "message_start", "message": message}, "message_start") + \
            _sse({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
                 "content_block_start")

    def text(self, text: str) -> bytes:
        return _sse({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": text}},
                    "content_block_delta")

    def error(self, kind: str) -> bytes:
        return _sse({"type": "error", "error": {"type": kind, "message": f"scripted {kind}"}}, "error")

    def end(self, n: int) -> bytes:
        return _sse({"type": "content_block_stop", "index": 0}, "content_block_stop") + \
            _sse({"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                  "usage": {"output_tokens": n}}, "message_delta") + \
            _sse({"type": "message_stop"}, "message_stop")
