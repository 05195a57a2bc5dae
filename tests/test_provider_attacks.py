"""Attacks on the native providers and model prefixes: a key never goes to a server it
was not configured for, hostile nesting and shapes never end a run, credentials in
OLLAMA_HOST stay secret, and a wrong model name is a one-line error."""

from __future__ import annotations

import json

import pytest
from _servers import ScriptedServer, sse_head

import nbstream
from nbstream import _secrets
from nbstream.engine.config import NoKeyError

pytestmark = pytest.mark.usefixtures("no_providers")  # none of the provider variables set

OPENAI_KEY = "sk-proj-" + "Q" * 40



def _ollama_server() -> ScriptedServer:
    line = json.dumps({"model": "m", "message": {"role": "assistant", "content": "hi"}, "done": True,
                       "done_reason": "stop"}) + "\n"

    def script(handler, n):
        handler.wfile.write(sse_head(content_type="application/x-ndjson") + line.encode())
    return ScriptedServer(script)


def _anthropic_server() -> ScriptedServer:
    body = "".join(f"event: {t}\ndata: {json.dumps({'type': t, **f})}\n\n" for t, f in (
        ("message_start", {"message": {"id": "m1", "model": "c", "usage": {"input_tokens": 1}}}),
        ("content_block_delta", {"index": 0, "delta": {"type": "text_delta", "text": "hi"}}),
        ("message_delta", {"delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 1}}),
        ("message_stop", {})))

    def script(handler, n):
        handler.wfile.write(sse_head() + body.encode())
    return ScriptedServer(script)


def test_the_openai_key_never_goes_to_an_ollama_host(session, monkeypatch) -> None:
    with _ollama_server() as server:
        monkeypatch.setenv("OPENAI_API_KEY", OPENAI_KEY)
        monkeypatch.setenv("OLLAMA_HOST", server.url)
        run = nbstream.stream("hi", model="ollama:llama3", session=session)
    assert run.status == "done" and run.text == "hi"
    assert "authorization" not in server.requests[0] and OPENAI_KEY not in json.dumps(server.requests)


def test_a_configured_key_does_not_follow_a_per_call_api_to_another_provider(session, monkeypatch) -> None:
    with _anthropic_server() as server:
        session.settings.api_key = OPENAI_KEY
        monkeypatch.setenv("ANTHROPIC_BASE_URL", server.url)
        monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-" + "A" * 40)
        run = nbstream.stream("hi", model="c", api="anthropic", session=session)
    assert run.status == "done", run.error
    assert server.requests[0]["x-api-key"] == "sk-ant-" + "A" * 40 and OPENAI_KEY not in json.dumps(server.requests)


def test_a_named_provider_without_a_key_is_a_one_line_error_naming_its_variable(session) -> None:
    with pytest.raises(NoKeyError) as info:
        nbstream.stream("hi", model="anthropic:claude-sonnet-4-5", session=session)
    assert "ANTHROPIC_API_KEY" in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize("model", ["anthropic:", "gemini:  ", "openai:"])
def test_a_prefix_without_a_model_name_is_a_one_line_error(session, model) -> None:
    with pytest.raises(ValueError, match="no model") as info:
        nbstream.stream("hi", model=model, session=session)
    assert "\n" not in str(info.value)


def test_credentials_in_ollama_host_never_show(session, monkeypatch) -> None:
    secret = "s3cretOLLAMApassw0rd"
    monkeypatch.setenv("OLLAMA_HOST", f"http://user:{secret}@127.0.0.1:1/x?token={secret}")
    run = nbstream.stream("hi", model="ollama:llama3", session=session)
    assert run.status == "error"
    shown = repr(run) + str(run.error) + str(run.summary.to_dict())
    assert secret not in shown and secret[:8] not in shown


def _deep(depth: int) -> object:
    value: object = "x"
    for _ in range(depth):
        value = [value]
    return value


def test_deeply_nested_data_with_a_key_registered_keeps_the_run(session) -> None:
    _secrets.register("sk-registered-" + "R" * 30)
    lines = [b'data: {"choices":[{"index":0,"delta":{"content":"hello"}}]}\n\n',
             b'data: ' + json.dumps({"odd": _deep(500)}).encode() + b"\n\n",
             b'data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\n', b"data: [DONE]\n\n"]
    run = nbstream.show(iter(lines), display=False, session=session)
    assert run.status == "done" and run.text == "hello"
    others = [e for e in run.events if type(e).__name__ == "Other"]
    assert others and _secrets.TOO_DEEP in str(others[0].data)  # dropped, not walked into a RecursionError


def test_a_deeply_nested_gemini_array_is_no_recursion(session) -> None:
    from nbstream.wire.gemini import GeminiAdapter

    events = GeminiAdapter().feed("", json.dumps([{"candidates": [{"content": {"parts": [{"text": "hi"}]}}]},
                                                  _deep(900)]))
    assert [type(e).__name__ for e in events][-1] == "Other" and any(getattr(e, "text", "") == "hi" for e in events)


@pytest.mark.parametrize("kind", [["message_start"], {"a": 1}, 5])
def test_an_unhashable_type_field_does_not_end_show(session, kind) -> None:
    lines = [json.dumps({"type": kind}).encode() + b"\n", b'{"message": {"content": "hello"}, "done": false}\n']
    run = nbstream.show(iter([b"data: " + line + b"\n" for line in lines]), display=False, session=session)
    assert run.status != "error", run.error


@pytest.mark.parametrize(("api", "variable"), [("anthropic", "ANTHROPIC_API_KEY"), ("gemini", "GEMINI_API_KEY"),
                                               ("chat", "OPENAI_API_KEY")])
def test_a_refused_request_without_a_key_names_that_formats_variable(session, api, variable) -> None:
    with nbstream.demo.serve(api_key="the-demo-key", ttft=0, tps=5000) as keyed:
        run = nbstream.stream("hi", base_url=keyed.base_url, model="demo", api=api, session=session)
    assert run.status == "error" and run.http_status == 401
    assert f"set {variable}" in str(run.error) and "\n" not in str(run.error)


def test_google_genai_without_api_version_reaches_the_demos_gemini_route(session) -> None:
    from google import genai

    with nbstream.demo.serve(ttft=0, tps=5000) as server:
        root = server.base_url.removesuffix("/v1")
        client = genai.Client(api_key="x", http_options=genai.types.HttpOptions(base_url=root))
        run = nbstream.show(client.models.generate_content_stream(model="demo", contents="hi"), display=False,
                            session=session)
        assert server.requests[-1].path.startswith("/v1")
    assert run.status == "done" and run.text
