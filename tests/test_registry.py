"""The wire-format registry is the one list of formats: the CLI, the magic, the settings
and ``stream(api=...)`` read it, and a format registered in a test (its own path, auth
header, key variable, framing, adapter and end marker) streams end to end over loopback
HTTP without touching any other module."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

import nbstream
from nbstream.engine import config as _config
from nbstream.engine import request as _request
from nbstream.engine.http import Transport
from nbstream.events import Done, Event, TextDelta
from nbstream.session import Session
from nbstream.wire import registry
from nbstream.wire.spec import WireFormat

OPENAI_NAMES = ("chat", "responses", "ollama")


# ---- the one list --------------------------------------------------------------------
def test_the_requestable_formats_are_the_registrys():
    assert registry.requestable() == (*OPENAI_NAMES, "anthropic", "gemini")
    assert set(registry.FORMATS) == {*OPENAI_NAMES, "anthropic", "gemini", "sse", "auto"}


def test_the_cli_offers_the_registrys_formats():
    from nbstream.cli import _parser

    _, commands = _parser()
    (api,) = [a for a in commands["ask"]._actions if "--api" in a.option_strings]
    assert tuple(api.choices) == registry.requestable()


def test_the_magic_offers_the_registrys_formats():
    from nbstream import magic

    (api,) = [a for a in magic.stream.parser._actions if "--api" in a.option_strings]
    assert tuple(api.choices) == registry.requestable()


def test_a_wrong_api_is_a_one_line_error_naming_every_format():
    with pytest.raises(ValueError) as info:
        nbstream.stream("hi", api="graphql", base_url="http://127.0.0.1:9/v1", model="m")
    message = str(info.value)
    assert "\n" not in message and "'graphql'" in message
    for name in registry.requestable():
        assert repr(name) in message


def test_a_wrong_api_setting_names_every_format(monkeypatch):
    settings = _config.Settings()
    with pytest.raises(ValueError) as info:
        settings.api = "sse"  # read, never requested: not an api= value
    assert all(repr(name) in str(info.value) for name in registry.requestable())
    assert settings.api == "chat"


def test_a_wrong_type_of_api_is_named_by_type():
    with pytest.raises(ValueError, match="unknown api int 5"):
        registry.check_api(5)


def test_registering_a_taken_name_is_refused():
    with pytest.raises(ValueError, match="already registered"):
        registry.register(registry.FORMATS["chat"])


def test_a_format_needs_both_a_path_and_a_body_builder_or_neither():
    with pytest.raises(ValueError, match="both a request path and a body builder"):
        WireFormat(name="half", description="x", adapter=lambda: None, path="/x")  # type: ignore[arg-type,return-value]


# ---- a toy format, end to end over loopback HTTP -------------------------------------
class ToyAdapter:
    """``{"t": text}`` lines; ``{"end": true}`` is the end marker."""

    def feed(self, name: str, data: Any, id: str | None = None) -> list[Event]:
        obj = json.loads(data) if isinstance(data, str) else data
        if obj.get("end"):
            return [Done()]
        return [TextDelta(str(obj.get("t", "")))]


def toy_body(model: str, messages: list[dict[str, Any]], params: dict[str, Any]) -> dict[str, Any]:
    return {"toy_model": model, "turns": [m["content"] for m in messages], "go": True, **params}


TOY = WireFormat(
    name="toy", description="a test's own format", adapter=ToyAdapter, framing="ndjson",
    path="/toy/stream", body=toy_body, key_envs=("TOY_API_KEY",), url_envs=(("TOY_BASE_URL", None),),
    auth=lambda key: {"x-toy-key": key}, headers={"toy-version": "7"},
)


class ToyServer:
    """Records each request (path, headers, JSON body) and answers with NDJSON lines."""

    def __init__(self, lines: list[dict[str, Any]]) -> None:
        self.seen: list[tuple[str, dict[str, str], Any]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("content-length") or 0)))
                outer.seen.append((self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/x-ndjson\r\n"
                                 b"Connection: close\r\n\r\n")
                for line in lines:
                    self.wfile.write(json.dumps(line).encode() + b"\n")
                    self.wfile.flush()
                self.close_connection = True

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def toy(monkeypatch: pytest.MonkeyPatch) -> Iterator[WireFormat]:
    for var in ("OPENAI_API_KEY", "OPENAI_BASE_URL"):
        monkeypatch.delenv(var, raising=False)
    registry.register(TOY)
    try:
        yield TOY
    finally:
        registry.unregister("toy")


def _serve(lines: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch) -> ToyServer:
    server = ToyServer(lines)
    monkeypatch.setenv("TOY_BASE_URL", server.url + "/base")
    monkeypatch.setenv("TOY_API_KEY", "toy-secret-key-123456")
    return server


def test_a_registered_format_streams_end_to_end(toy, monkeypatch):
    server = _serve([{"t": "Hello, "}, {"t": "toy"}, {"end": True}], monkeypatch)
    try:
        run = nbstream.stream("hi there", api="toy", model="tm", temperature=0.5)
    finally:
        server.stop()
    assert (run.status, run.text, run.source, run.wire_format) == ("done", "Hello, toy", "request", "toy")
    path, headers, body = server.seen[0]
    assert path == "/base/toy/stream"
    assert headers["x-toy-key"] == "toy-secret-key-123456" and "authorization" not in headers
    assert headers["toy-version"] == "7" and headers["accept"] == "application/x-ndjson"
    assert body == {"toy_model": "tm", "turns": ["hi there"], "go": True, "temperature": 0.5}


def test_a_registered_format_is_offered_and_accepted_everywhere_the_list_is_read(toy):
    assert "toy" in registry.requestable()
    settings = _config.Settings()
    settings.api = "toy"
    assert settings.api == "toy"


def test_a_registered_formats_end_marker_decides_a_clean_close(toy, monkeypatch):
    server = _serve([{"t": "cut "}, {"t": "short"}], monkeypatch)  # no {"end": true}
    try:
        run = nbstream.stream("hi", api="toy", model="tm")
    finally:
        server.stop()
    assert run.status == "incomplete" and run.text == "cut short"


def test_a_format_without_an_end_marker_ends_done_on_a_clean_close(monkeypatch):
    open_ended = WireFormat(name="toy_open", description="no end marker", adapter=ToyAdapter,
                            framing="ndjson", path="/toy/stream", body=toy_body, end_marker=False,
                            key_envs=("TOY_API_KEY",), url_envs=(("TOY_BASE_URL", None),))
    registry.register(open_ended)
    server = _serve([{"t": "all"}], monkeypatch)
    try:
        run = nbstream.stream("hi", api="toy_open", model="tm")
    finally:
        server.stop()
        registry.unregister("toy_open")
    assert (run.status, run.text, run.error) == ("done", "all", None)


def test_the_key_a_format_reads_never_shows(toy, monkeypatch):
    server = _serve([{"t": "x"}, {"end": True}], monkeypatch)
    try:
        run = nbstream.stream("hi", api="toy", model="tm")
    finally:
        server.stop()
    assert "toy-secret-key-123456" not in repr(run) + str(run.summary.to_dict())


# ---- one typed Request ---------------------------------------------------------------
def test_prepare_builds_an_llm_request_in_the_chosen_format():
    run, req = _request.prepare(prompt="p", model="m", base_url="http://127.0.0.1:9/v1", api_key="k" * 20,
                                context=Session().context, api="responses", system="be brief", params={"max_tokens": 5})
    assert req.format is registry.FORMATS["responses"] and req.feed is None
    assert req.url == "http://127.0.0.1:9/v1/responses" and req.method == "POST"
    assert req.body["instructions"] == "be brief" and req.body["max_output_tokens"] == 5
    assert (run.source, run.wire_format, run.api) == ("request", "responses", "responses")


def test_ollama_requests_go_to_the_root_without_v1():
    _, req = _request.prepare(prompt="p", model="m", base_url="http://127.0.0.1:9/v1", api_key="k" * 20,
                              context=Session().context, api="ollama", params={"max_tokens": 3})
    assert req.url == "http://127.0.0.1:9/api/chat"
    assert req.headers["Accept"] == "application/x-ndjson" and req.body["options"] == {"num_predict": 3}


def test_prepare_with_a_url_builds_a_feed_request():
    run, req = _request.prepare(url="http://127.0.0.1:9/events", reconnect=False, max_reconnects=2,
                                context=Session().context)
    assert req.format.name == "sse" and req.feed is not None
    assert (req.feed.reconnect, req.feed.max_reconnects) == (False, 2)
    assert (run.source, run.wire_format) == ("feed", "sse")


@pytest.mark.parametrize("kwargs, error, words", [
    ({"url": "http://127.0.0.1:9/e", "prompt": "p"}, ValueError, "takes no prompt"),
    ({"url": "http://127.0.0.1:9/e", "params": {"temperature": 1}}, TypeError, "unexpected arguments for an SSE feed"),
    ({"url": "http://127.0.0.1:9/e", "method": "GE T"}, ValueError, "method must be an HTTP method"),
    ({"url": 5}, TypeError, "url must be a URL string"),
    ({"prompt": "p", "api": "nope"}, ValueError, "unknown api 'nope'"),
    ({"prompt": "p", "headers": {"a": 1}}, TypeError, "headers must be a dict of strings"),
    ({"prompt": 5, "model": "m", "base_url": "http://127.0.0.1:9/v1"}, TypeError, "the prompt must be a string"),
    ({"prompt": "p", "timeouts": _request.TimeoutArgs(connect=0)}, ValueError, "connect_timeout must be"),
    ({"prompt": "p", "request_body": [1]}, TypeError, "request body must be a JSON object"),
])
def test_bad_call_arguments_are_one_line_errors(kwargs, error, words):
    with pytest.raises(error) as info:
        _request.prepare(**kwargs, context=Session().context)
    assert words in str(info.value) and "\n" not in str(info.value)


def test_call_arguments_are_keyword_only_and_typed_apart():
    with pytest.raises(TypeError):
        _request.LLMCall("p")  # type: ignore[misc]
    with pytest.raises(TypeError):
        _request.FeedCall(url="http://x/e", prompt="p")  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        _request.build({"prompt": "p"}, context=Session().context)  # type: ignore[arg-type]


def test_a_request_checks_its_own_fields():
    fmt = registry.FORMATS["chat"]
    with pytest.raises(ValueError, match="method must be an HTTP method"):
        _request.Request(method="GET\r\nX: y", url="http://x/v1", format=fmt, base_url="http://x/v1",
                         transport=Transport())
    with pytest.raises(TypeError, match="format must be a WireFormat"):
        _request.Request(method="POST", url="http://x/v1", format="chat",  # type: ignore[arg-type]
                         base_url="http://x/v1", transport=Transport())
    with pytest.raises(TypeError, match="transport must be an nbstream Transport"):
        _request.Request(method="POST", url="http://x/v1", format=fmt, base_url="http://x/v1",
                         transport=None)  # type: ignore[arg-type]


# ---- the Run's source and wire format ------------------------------------------------
def test_show_of_text_items_is_an_iterator_run_without_a_wire_format():
    run = nbstream.show(iter(["a", "b"]), display=False)
    assert (run.source, run.wire_format, run.api, run.status) == ("iterator", None, "text", "done")


def test_show_of_chat_chunks_takes_the_detected_format_as_its_own():
    chunks = [{"choices": [{"index": 0, "delta": {"content": "x"}}]},
              {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}]
    run = nbstream.show(iter(chunks), display=False)
    assert (run.source, run.wire_format, run.api, run.text) == ("iterator", "chat", "chat", "x")


def test_an_unknown_source_kind_is_refused():
    from nbstream.run import Run

    with pytest.raises(ValueError, match="source must be one of"):
        Run(source="socket")


def test_the_api_label_is_read_only():
    from nbstream.run import Run

    with pytest.raises(AttributeError):
        Run(source="request", wire_format="chat").api = "x"  # type: ignore[misc]


def test_show_detects_a_registered_format_by_its_own_rule():
    detected = WireFormat(name="toy_detect", description="detectable", adapter=ToyAdapter,
                          detect=lambda name, obj: isinstance(obj, dict) and "t" in obj)
    registry.register(detected)
    try:
        run = nbstream.show(iter([b'{"t": "found "}\n', b'{"t": "it"}\n', b'{"end": true}\n']), display=False)
    finally:
        registry.unregister("toy_detect")
    assert (run.text, run.status) == ("found it", "done")


def test_without_a_claiming_format_a_stream_is_a_generic_feed():
    run = nbstream.show(iter([b'{"t": "found "}\n']), display=False)
    assert run.text == "" and [type(e).__name__ for e in run.events] == ["Other"]


def test_the_settings_a_call_is_built_with_fill_in_what_it_leaves_out():
    session = Session(api="ollama", idle_timeout=7.0)
    _, req = _request.prepare(prompt="p", model="m", base_url="http://127.0.0.1:9/v1", api_key="k" * 20,
                              context=session.context)
    assert req.format.name == "ollama" and req.timeouts.idle == 7.0
