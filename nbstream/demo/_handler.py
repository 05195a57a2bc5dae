"""The HTTP request handler: read, authenticate, route, then answer (streamed or whole).

One handler thread serves one connection (keep-alive: several requests in turn).
Each request gets a ``RequestLog`` as soon as its body is read. Errors are JSON, in
OpenAI's shape on ``/v1/*`` and Ollama's on ``/api/*``. A client that goes away
mid-stream ends the request quietly: no traceback, no log line.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict
from http.server import BaseHTTPRequestHandler
from time import perf_counter_ns
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote, urlsplit

from . import _introspect
from ._anthropic import AnthropicRenderer, parse_messages
from ._chat import ChatRenderer
from ._errors import DemoError
from ._gemini import GeminiRenderer
from ._log import RequestLog
from ._models import anthropic_models, gemini_models, model_info, model_list, ollama_tags
from ._ollama import OllamaRenderer
from ._plan import Plan, build_plan
from ._requests import (
    Conversation,
    parse_chat,
    parse_gemini,
    parse_json_body,
    parse_ollama_chat,
    parse_ollama_generate,
    parse_responses,
    response_schema,
)
from ._responses import ResponsesRenderer
from ._scenarios import Knobs, Scenario, find_scenario, resolve_knobs
from ._wire import Event, dumps
from ._writer import ClientGone, SocketWriter

if TYPE_CHECKING:
    from ._httpd import DemoHTTPServer

__all__ = ["DemoHandler"]

_MAX_BODY = 32 * 1024 * 1024

_GENERATE: dict[str, tuple[Callable[[dict[str, Any]], Conversation], type]] = {
    "/v1/chat/completions": (parse_chat, ChatRenderer),
    "/v1/responses": (parse_responses, ResponsesRenderer),
    "/api/chat": (parse_ollama_chat, OllamaRenderer),
    "/api/generate": (parse_ollama_generate, OllamaRenderer),
    "/v1/messages": (parse_messages, AnthropicRenderer),
}
_GEMINI = re.compile(r"/v1(?:beta)?/models/([^/:]+):(streamGenerateContent|generateContent)")
_LIST: dict[str, Callable[[], dict[str, Any]]] = {"/v1/models": model_list, "/api/tags": ollama_tags,
                                                 "/v1beta/models": gemini_models}
_ENDPOINTS = ("GET /v1/models, GET /v1beta/models, POST /v1/chat/completions, POST /v1/responses, "
              "POST /v1/messages, POST /v1beta/models/MODEL:streamGenerateContent, POST /api/chat, POST /api/generate, "
              "GET /v1/demo/requests")


def _style(path: str) -> str:
    """Which API's error shape a path's clients read."""
    if path.startswith("/api/"):
        return "ollama"
    if path == "/v1/messages":
        return "anthropic"
    if _GEMINI.fullmatch(path) or path.startswith("/v1beta/"):
        return "gemini"
    return "openai"


def _scenario_error(scenario: Scenario, knobs: Knobs) -> DemoError:
    status = scenario.http_status
    if status == 401:
        return DemoError(401, f"Incorrect API key provided (simulated by the {scenario.model!r} demo model).",
                         code="invalid_api_key")
    if status == 429:
        seconds = knobs.retry_after
        return DemoError(429, f"Rate limit reached (simulated by the {scenario.model!r} demo model). "
                              f"Please try again in {seconds:g}s.", type="requests", code="rate_limit_exceeded",
                         headers={"Retry-After": str(int(-(-seconds // 1))),
                                  "retry-after-ms": str(int(seconds * 1000))})
    return DemoError(500, f"The server had an error while processing your request (simulated by the "
                          f"{scenario.model!r} demo model).", type="server_error")


class DemoHandler(BaseHTTPRequestHandler):
    """Serves the demo endpoints; see the package docstring for the API."""

    protocol_version = "HTTP/1.1"
    server_version = "nbstream-demo"
    sys_version = ""
    server: DemoHTTPServer

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet by design
        pass

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """http.server's own errors (bad request line, unsupported method...) as JSON, not HTML."""
        text = message or self.responses.get(code, ("Error",))[0]
        body = dumps(DemoError(code, text).body(style=getattr(self, '_style', 'openai'))).encode()
        self.close_connection = True
        self.send_response(code, text)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD" and code >= 200 and code not in (204, 304):
            self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self._handle("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._handle("POST")

    def do_PUT(self) -> None:  # noqa: N802
        self._handle("PUT")

    def do_DELETE(self) -> None:  # noqa: N802
        self._handle("DELETE")

    def do_PATCH(self) -> None:  # noqa: N802
        self._handle("PATCH")

    # -- one request ---------------------------------------------------------------------

    def _handle(self, method: str) -> None:
        received = perf_counter_ns()
        path = urlsplit(self.path).path
        if len(path) > 1:
            path = path.rstrip("/")
        log = RequestLog(id=f"req_{uuid.uuid4().hex[:24]}", path=path, t_received_ns=received)
        self._head_sent = False
        self._style = _style(path)
        try:
            try:
                raw = self._read_body()
            finally:
                log.t_start_ns = perf_counter_ns()
                self.server.requests.append(log)
            self._check_auth()
            self._route(method, path, raw, log)
        except DemoError as exc:
            self._send_json(exc.status, exc.body(style=self._style), log, "error", headers=exc.headers)
        except ClientGone:
            self.close_connection = True
        except Exception as exc:
            self.close_connection = True
            if not self._head_sent:
                error = DemoError(500, f"The nbstream demo server hit a bug: {exc!r}", type="server_error")
                self._send_json(500, error.body(style=self._style), log, "error")
            raise
        finally:
            log._done.set()

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            return self._read_chunked()
        length = self.headers.get("Content-Length")
        if length is None:
            return b""
        try:
            size = int(length)
        except ValueError:
            self.close_connection = True
            raise DemoError(400, f"Invalid Content-Length header {length!r}.") from None
        if size < 0 or size > _MAX_BODY:
            self.close_connection = True
            raise DemoError(413, f"The request body of {size} bytes is too large for the demo endpoint.")
        return self.rfile.read(size)

    def _read_chunked(self) -> bytes:
        parts: list[bytes] = []
        total = 0
        while True:
            line = self.rfile.readline(1024)
            try:
                size = int(line.split(b";")[0].strip(), 16)
            except ValueError:
                self.close_connection = True
                raise DemoError(400, "Malformed chunked request body.") from None
            if size == 0:
                while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                    pass
                return b"".join(parts)
            total += size
            if total > _MAX_BODY:
                self.close_connection = True
                raise DemoError(413, "The request body is too large for the demo endpoint.")
            parts.append(self.rfile.read(size))
            self.rfile.readline(1024)

    def _check_auth(self) -> None:
        """The key as each API sends it: ``Authorization: Bearer``, Anthropic's
        ``x-api-key``, Gemini's ``x-goog-api-key`` or ``?key=``."""
        key = self.server.api_key
        if key is None:
            return
        bearer = self.headers.get("Authorization", "")
        sent = [bearer.removeprefix("Bearer ") if bearer else None, self.headers.get("x-api-key"),
                self.headers.get("x-goog-api-key"), *parse_qs(urlsplit(self.path).query).get("key", [])]
        if key in sent:
            return
        hint = "no key was sent" if not any(sent) else "the key sent does not match"
        raise DemoError(401, f"Incorrect API key provided: {hint}. Send 'Authorization: Bearer <key>' (or "
                             "x-api-key / x-goog-api-key) with the key this demo server was started with.",
                        code="invalid_api_key")

    def _route(self, method: str, path: str, raw: bytes, log: RequestLog) -> None:
        gemini = _GEMINI.fullmatch(path)  # before /v1/models/NAME: google-genai may say /v1/models/M:...
        if gemini is not None:
            if method != "POST":
                raise DemoError(405, f"Use POST for {path}, not {method}.", headers={"Allow": "POST"})
            model, action = unquote(gemini.group(1)), gemini.group(2)
            stream = action == "streamGenerateContent"
            sse = "sse" in parse_qs(urlsplit(self.path).query).get("alt", [])
            self._generate(lambda body: parse_gemini(body, model, stream=stream, sse=sse), GeminiRenderer, raw, log)
            return
        if path in _GENERATE or path in _LIST or path.startswith("/v1/models/"):
            wanted = "POST" if path in _GENERATE else "GET"
            if method != wanted:
                raise DemoError(405, f"Use {wanted} for {path}, not {method}.", headers={"Allow": wanted})
            if path == "/v1/models" and "anthropic-version" in self.headers:  # Anthropic's listing
                self._send_json(200, anthropic_models(), log, "body")
            elif path in _LIST:
                self._send_json(200, _LIST[path](), log, "body")
            elif path.startswith("/v1/models/"):
                self._send_json(200, model_info(path.removeprefix("/v1/models/")), log, "body")
            else:
                parse, renderer = _GENERATE[path]
                self._generate(parse, renderer, raw, log)
            return
        if path == _introspect.PREFIX or path.startswith(_introspect.PREFIX + "/"):
            if method != "GET":
                raise DemoError(405, f"Use GET for {path}, not {method}.", headers={"Allow": "GET"})
            self._send_json(200, _introspect.answer(self.server.requests, path, urlsplit(self.path).query),
                            log, "body")
            return
        hint = ""
        if "/v1" + path in _GENERATE or "/v1" + path in _LIST:
            hint = f" Did you mean /v1{path}? The base URL should end in /v1."
        raise DemoError(404, f"Unknown path {path!r}.{hint} The nbstream demo endpoint serves {_ENDPOINTS}.",
                        code="unknown_url")

    # -- generation ----------------------------------------------------------------------

    def _generate(self, parse: Callable[[dict[str, Any]], Conversation], renderer_type: type, raw: bytes,
                  log: RequestLog) -> None:
        body = parse_json_body(raw)
        conv = parse(body)
        conv.schema = response_schema(body)
        log.model = conv.model
        scenario = find_scenario(conv.model)
        log.scenario = scenario.name
        knobs = resolve_knobs(self.server.defaults, scenario, conv.knobs)
        log.knobs = asdict(knobs)
        if scenario.http_status is not None:
            raise _scenario_error(scenario, knobs)
        if scenario.reject_stream_options and conv.has_stream_options:
            raise DemoError(400, "Unrecognized request argument supplied: stream_options", param="stream_options")
        plan = build_plan(conv, scenario, knobs)
        wall_start = time.time() - (perf_counter_ns() - log.t_start_ns) / 1e9
        renderer = renderer_type(conv, plan, wall_start)
        if conv.stream:
            self._stream(renderer, plan, log)
        else:
            self._whole(renderer, plan, log)

    def _stream(self, renderer: Any, plan: Plan, log: RequestLog) -> None:
        events: list[Event] = renderer.stream()
        self._send_head(200, {"Content-Type": renderer.content_type, "Cache-Control": "no-cache",
                              "Transfer-Encoding": "chunked", "X-Accel-Buffering": "no"}, log)
        writer = SocketWriter(self.connection, log, keepalive=plan.knobs.keepalive if renderer.sse else 0.0,
                              stopping=self.server.stopping)
        fault = plan.scenario.fault
        last = len(events) - 1
        for i, event in enumerate(events):
            if fault is not None and event.token is not None and event.token >= plan.fault_token:
                writer.wait_until(event.at)
                if fault == "disconnect":
                    writer.abort()
                    self.close_connection = True
                    return
                if fault == "error":
                    writer.write_chunk(renderer.error_event(event), "error", 0, last=True)
                    log.finished = True
                    return
                writer.write_chunk(renderer.malformed_event(event), "malformed", 0)
                fault = None
            writer.wait_until(event.at)
            data = event.data(log) if callable(event.data) else event.data
            writer.write_chunk(data, event.kind, event.n, last=i == last)
        log.finished = True

    def _whole(self, renderer: Any, plan: Plan, log: RequestLog) -> None:
        writer = SocketWriter(self.connection, log, stopping=self.server.stopping)
        fault = plan.scenario.fault
        if fault in ("disconnect", "error"):
            writer.wait_until(plan.at(plan.fault_token))
            if fault == "disconnect":
                writer.abort()
                self.close_connection = True
                return
            error = DemoError(500, plan.failure_message, type="server_error", code="demo_injected_error")
            self._send_json(500, error.body(style=self._style), log, "error", writer=writer)
            return
        writer.wait_until(plan.deadlines[-1])
        if fault == "malformed":
            self._send_bytes(200, b'{"choices": [ oops', log, "malformed", writer=writer)
            return
        self._send_json(200, renderer.body(log), log, "body", n=plan.completion_tokens, writer=writer)

    # -- writing -------------------------------------------------------------------------

    def _head(self, status: int, headers: dict[str, str], log: RequestLog) -> bytes:
        reason = self.responses.get(status, ("",))[0]
        lines = [f"HTTP/1.1 {status} {reason}", f"Server: {self.server_version}",
                 f"Date: {self.date_time_string()}", f"x-request-id: {log.id}"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        if self.close_connection:
            lines.append("Connection: close")
        log.status = status
        self._head_sent = True
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    def _send_head(self, status: int, headers: dict[str, str], log: RequestLog) -> None:
        try:
            self.connection.sendall(self._head(status, headers, log))
        except OSError:
            log.disconnected_ns = perf_counter_ns()
            raise ClientGone("client disconnected") from None

    def _send_json(self, status: int, obj: Any, log: RequestLog, kind: str, *, n: int = 0,
                   headers: dict[str, str] | None = None, writer: SocketWriter | None = None) -> None:
        self._send_bytes(status, dumps(obj).encode(), log, kind, n=n, headers=headers, writer=writer)

    def _send_bytes(self, status: int, body: bytes, log: RequestLog, kind: str, *, n: int = 0,
                    headers: dict[str, str] | None = None, writer: SocketWriter | None = None) -> None:
        all_headers = {"Content-Type": "application/json", "Content-Length": str(len(body)), **(headers or {})}
        frame = self._head(status, all_headers, log) + body
        (writer or SocketWriter(self.connection, log)).write_raw(frame, kind, n)
        log.finished = True
