"""The demo endpoint speaks Anthropic's Messages API and Gemini's generateContent: the
same answers and fault scenarios as Chat Completions, read by our own adapters and by
the providers' own SDKs (anthropic, google-genai) over loopback HTTP."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from nbstream.demo import serve
from nbstream.events import ErrorEvent, Finish, ReasoningDelta, TextDelta, ToolCallDelta, Usage
from nbstream.sse import SSEDecoder
from nbstream.wire.anthropic import AnthropicAdapter
from nbstream.wire.gemini import GeminiAdapter

FAST = {"ttft": 0.0, "tps": 5000.0, "jitter": 0.0}
ASK = "Explain streaming responses in notebooks"
TOOLS_ANTHROPIC = [{"name": "get_weather", "input_schema": {"properties": {"city": {"type": "string"}}}}]
TOOLS_GEMINI = [{"functionDeclarations": [{"name": "get_weather",
                                           "parameters": {"properties": {"city": {"type": "string"}}}}]}]


@pytest.fixture(scope="module")
def server():
    with serve(**FAST) as running:
        yield running


@pytest.fixture
def root(server) -> str:
    return server.base_url.removesuffix("/v1")


def sse_events(adapter: Any, raw: bytes) -> list:
    return [e for m in SSEDecoder().feed(raw) for e in adapter.feed(m.event, m.data, m.id)]


def messages(root: str, model: str = "demo", **body: Any) -> httpx.Response:
    payload = {"model": model, "max_tokens": 1000, "stream": True,
               "messages": [{"role": "user", "content": ASK}], **body}
    return httpx.post(f"{root}/v1/messages", json=payload, timeout=30)


def gemini(root: str, model: str = "demo", action: str = "streamGenerateContent?alt=sse",
           **body: Any) -> httpx.Response:
    payload = {"contents": [{"role": "user", "parts": [{"text": ASK}]}], **body}
    return httpx.post(f"{root}/v1beta/models/{model}:{action}", json=payload, timeout=30)


def chat_text(server) -> str:
    r = httpx.post(f"{server.base_url}/chat/completions", timeout=30,
                   json={"model": "demo", "messages": [{"role": "user", "content": ASK}]})
    return r.json()["choices"][0]["message"]["content"]


def text_of(events: list) -> str:
    return "".join(e.text for e in events if isinstance(e, TextDelta))


def test_anthropic_stream_carries_the_same_answer_as_chat_completions(server, root) -> None:
    r = messages(root)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
    events = sse_events(AnthropicAdapter(), r.content)
    assert text_of(events) == chat_text(server)
    assert Finish("stop", raw="end_turn") in events
    usage = [e for e in events if isinstance(e, Usage)][-1]
    assert usage.output_tokens and usage.input_tokens and usage.total_tokens == usage.input_tokens + usage.output_tokens


def test_anthropic_reasoning_is_a_thinking_block_with_a_signature(root) -> None:
    events = sse_events(AnthropicAdapter(), messages(root, "demo-reasoning").content)
    assert "".join(e.text for e in events if isinstance(e, ReasoningDelta))
    assert any(getattr(e, "type", None) == "thinking.signature" for e in events)
    assert text_of(events)


def test_anthropic_tool_use_streams_its_arguments_in_fragments(root) -> None:
    events = sse_events(AnthropicAdapter(), messages(root, "demo-tools", tools=TOOLS_ANTHROPIC).content)
    calls = [e for e in events if isinstance(e, ToolCallDelta)]
    assert calls[0].name == "get_weather" and calls[0].id.startswith("toolu_")
    assert json.loads("".join(c.arguments for c in calls)) == {"city": "Paris"}
    assert len(calls) > 2 and Finish("tool_calls", raw="tool_use") in events


def test_anthropic_max_tokens_is_required_and_limits_the_answer(root) -> None:
    missing = httpx.post(f"{root}/v1/messages", json={"model": "demo", "messages": [{"role": "user", "content": "x"}]})
    assert missing.status_code == 400
    assert missing.json() == {"type": "error", "error": {"type": "invalid_request_error",
                                                         "message": "Missing required parameter: 'max_tokens'."}}
    events = sse_events(AnthropicAdapter(), messages(root, max_tokens=3).content)
    assert Finish("length", raw="max_tokens") in events


def test_anthropic_mid_stream_error_is_an_error_event(root) -> None:
    events = sse_events(AnthropicAdapter(), messages(root, "demo-error").content)
    errors = [e for e in events if isinstance(e, ErrorEvent)]
    assert errors and errors[-1].fatal and errors[-1].type == "api_error"


def test_anthropic_http_errors_come_in_anthropics_shape(root) -> None:
    r = messages(root, "demo-429")
    assert r.status_code == 429 and r.json()["type"] == "error"
    assert r.json()["error"]["type"] == "rate_limit_error" and r.headers["retry-after"]


def test_gemini_sse_stream_carries_the_same_answer_and_ends_without_a_marker(server, root) -> None:
    r = gemini(root)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
    events = sse_events(GeminiAdapter(), r.content)
    assert text_of(events) == chat_text(server)
    assert [e for e in events if isinstance(e, Finish)] == [Finish("stop", raw="STOP")]
    usage = [e for e in events if isinstance(e, Usage)][-1]
    assert usage.total_tokens == usage.input_tokens + usage.output_tokens


def test_gemini_without_alt_sse_streams_one_json_array(server, root) -> None:
    r = gemini(root, action="streamGenerateContent")
    assert r.headers["content-type"].startswith("application/json")
    assert text_of(GeminiAdapter().feed("", r.text)) == chat_text(server)


def test_gemini_generate_content_answers_whole(server, root) -> None:
    body = gemini(root, "demo-reasoning", action="generateContent").json()
    parts = body["candidates"][0]["content"]["parts"]
    assert parts[0]["thought"] is True and body["candidates"][0]["finishReason"] == "STOP"
    assert body["usageMetadata"]["thoughtsTokenCount"] > 0


def test_gemini_function_call_arrives_whole(root) -> None:
    events = sse_events(GeminiAdapter(), gemini(root, "demo-tools", tools=TOOLS_GEMINI).content)
    calls = [e for e in events if isinstance(e, ToolCallDelta)]
    assert len(calls) == 1 and calls[0].name == "get_weather" and json.loads(calls[0].arguments) == {"city": "Paris"}
    assert Finish("tool_calls", raw="STOP") in events


def test_gemini_limits_candidates_and_tokens_through_generation_config(root) -> None:
    events = sse_events(GeminiAdapter(), gemini(root, generationConfig={"maxOutputTokens": 4,
                                                                        "candidateCount": 2}).content)
    assert {(e.reason, e.choice) for e in events if isinstance(e, Finish)} == {("length", 0), ("length", 1)}


def test_gemini_http_errors_come_in_googles_shape(root) -> None:
    r = gemini(root, "demo-500")
    assert r.status_code == 500 and r.json()["error"]["status"] == "INTERNAL" and r.json()["error"]["code"] == 500
    bad = gemini(root, contents="hello")
    assert bad.status_code == 400 and "contents" in bad.json()["error"]["message"]


def test_a_hostile_model_name_in_the_gemini_path_is_only_a_name(root) -> None:
    r = httpx.post(f"{root}/v1beta/models/%3Cscript%3E:generateContent",
                   json={"contents": [{"parts": [{"text": "x"}]}]})
    assert r.status_code == 404 and r.json()["error"]["status"] == "NOT_FOUND"


@pytest.mark.parametrize("how", ["bearer", "x-api-key", "x-goog-api-key", "query"])
def test_a_keyed_demo_accepts_the_key_the_way_each_api_sends_it(how: str) -> None:
    with serve(api_key="sk-demo-key", **FAST) as keyed:
        root = keyed.base_url.removesuffix("/v1")
        headers = {"bearer": {"Authorization": "Bearer sk-demo-key"}, "x-api-key": {"x-api-key": "sk-demo-key"},
                   "x-goog-api-key": {"x-goog-api-key": "sk-demo-key"}, "query": {}}[how]
        url = f"{root}/v1beta/models/demo:generateContent" + ("?key=sk-demo-key" if how == "query" else "")
        ok = httpx.post(url, headers=headers, json={"contents": [{"parts": [{"text": "x"}]}]})
        wrong = httpx.post(f"{root}/v1beta/models/demo:generateContent", headers={"x-goog-api-key": "nope"},
                           json={"contents": [{"parts": [{"text": "x"}]}]})
        assert ok.status_code == 200 and wrong.status_code == 401


def test_the_anthropic_sdk_streams_from_the_demo(server, root) -> None:
    anthropic = pytest.importorskip("anthropic")
    client = anthropic.Anthropic(base_url=root, api_key="x")
    with client.messages.stream(model="demo", max_tokens=1000, messages=[{"role": "user", "content": ASK}]) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == chat_text(server) and final.stop_reason == "end_turn" and final.usage.output_tokens > 0


def test_the_google_genai_sdk_streams_from_the_demo(server, root) -> None:
    genai = pytest.importorskip("google.genai")
    client = genai.Client(api_key="x", http_options=genai.types.HttpOptions(base_url=root, api_version="v1beta"))
    chunks = list(client.models.generate_content_stream(model="demo", contents=ASK))
    assert "".join(c.text or "" for c in chunks) == chat_text(server)
    assert chunks[-1].candidates[0].finish_reason.name == "STOP"
