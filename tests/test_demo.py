"""Specification of the embedded demo endpoint (``nbstream.demo``), tested with plain httpx.

Every test talks to a real server on 127.0.0.1 that the fixtures start and stop. The
shared server is fast (no first-token delay, thousands of tokens per second); tests
about timing set their knobs per request through the body's ``"demo"`` object.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from nbstream.demo import SCENARIOS, count_tokens, serve, tokenize

ROOT = Path(__file__).resolve().parents[1]
FAST = {"ttft": 0.0, "tps": 5000.0, "jitter": 0.0}
HELLO = [{"role": "user", "content": "Explain streaming responses in notebooks"}]


@pytest.fixture(scope="module")
def server():
    with serve(**FAST) as running:
        yield running


@pytest.fixture
def client(server):
    with httpx.Client(base_url=server.base_url, timeout=60) as http:
        yield http


# -- helpers ----------------------------------------------------------------------------


def parse_sse(text: str) -> list[dict[str, Any]]:
    """SSE messages as dicts: ``event``, ``data`` (raw string) and ``comments``."""
    messages = []
    for block in text.split("\n\n"):
        if not block:
            continue
        message: dict[str, Any] = {"event": None, "data": None, "comments": []}
        for line in block.split("\n"):
            if line.startswith(":"):
                message["comments"].append(line[1:].strip())
            elif line.startswith("event: "):
                message["event"] = line[len("event: "):]
            elif line.startswith("data: "):
                message["data"] = line[len("data: "):]
        messages.append(message)
    return messages


def chat(client: httpx.Client, **body: Any) -> httpx.Response:
    body.setdefault("model", "demo")
    body.setdefault("messages", HELLO)
    return client.post("/chat/completions", json=body)


def chat_chunks(client: httpx.Client, **body: Any) -> tuple[list[dict[str, Any]], list[str]]:
    """The JSON chunks of a chat stream, and every raw ``data`` string (``[DONE]`` included)."""
    response = chat(client, stream=True, **body)
    assert response.status_code == 200, response.text
    datas = [m["data"] for m in parse_sse(response.text) if m["data"] is not None]
    return [json.loads(d) for d in datas if d != "[DONE]"], datas


def chat_text(chunks: list[dict[str, Any]], index: int = 0) -> str:
    return "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks
                   if c["choices"] and c["choices"][0]["index"] == index)


def responses_events(client: httpx.Client, **body: Any) -> list[tuple[str, dict[str, Any]]]:
    body.setdefault("model", "demo")
    body.setdefault("input", "Explain streaming responses in notebooks")
    response = client.post("/responses", json={**body, "stream": True})
    assert response.status_code == 200, response.text
    return [(m["event"], json.loads(m["data"])) for m in parse_sse(response.text) if m["data"] is not None]


def ollama_lines(server, path: str, body: dict[str, Any]) -> list[dict[str, Any]]:
    response = httpx.post(f"{server.url}{path}", json=body, timeout=60)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/x-ndjson"
    return [json.loads(line) for line in response.text.splitlines()]


def log_of(server, response: httpx.Response):
    log = next(r for r in server.requests if r.id == response.headers["x-request-id"])
    assert log.wait(60)
    return log


# -- listing and errors -----------------------------------------------------------------


def test_models_list_names_every_scenario_with_a_description(client):
    body = client.get("/models").json()
    assert body["object"] == "list"
    assert [m["id"] for m in body["data"]] == list(SCENARIOS)
    assert "demo" in SCENARIOS and "demo-tools" in SCENARIOS
    assert all(m["object"] == "model" and len(m["description"]) > 10 for m in body["data"])


def test_unknown_model_is_a_404_naming_it_and_pointing_to_the_list(client):
    response = chat(client, model="gpt-17")
    assert response.status_code == 404
    error = response.json()["error"]
    assert error["code"] == "model_not_found"
    assert "gpt-17" in error["message"] and "GET /v1/models" in error["message"]
    assert set(error) == {"message", "type", "param", "code"}


def test_unknown_path_is_a_404_json_error(client):
    response = client.post("/chat/complete", json={})
    assert response.status_code == 404
    assert "/v1/chat/complete" in response.json()["error"]["message"]


def test_path_without_v1_gets_a_hint_about_the_base_url(server):
    response = httpx.post(f"{server.url}/chat/completions", json={})
    assert response.status_code == 404
    assert "/v1/chat/completions" in response.json()["error"]["message"]


@pytest.mark.parametrize(
    ("content", "param", "words"),
    [
        (b"{not json", None, "not valid JSON"),
        (b"", None, "empty"),
        (b"[1, 2]", None, "JSON object"),
        (json.dumps({"model": "demo"}).encode(), "messages", "messages"),
        (json.dumps({"messages": HELLO}).encode(), "model", "model"),
        (json.dumps({"model": "demo", "messages": []}).encode(), "messages", "non-empty list"),
        (json.dumps({"model": "demo", "messages": HELLO, "demo": {"speed": 3}}).encode(), "demo", "speed"),
        (json.dumps({"model": "demo", "messages": HELLO, "demo": {"tps": 0}}).encode(), "demo", "tps"),
    ],
)
def test_bad_request_bodies_get_a_400_saying_what_is_wrong(client, content, param, words):
    response = client.post("/chat/completions", content=content, headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    error = response.json()["error"]
    assert words in error["message"]
    assert error["param"] == param


def test_wrong_method_on_a_known_path_is_a_405(client):
    response = client.get("/chat/completions")
    assert response.status_code == 405
    assert "POST" in response.json()["error"]["message"]


def test_http_level_errors_are_json_too(server):
    response = httpx.request("OPTIONS", f"{server.base_url}/models")
    assert response.status_code == 501
    assert "OPTIONS" in response.json()["error"]["message"]


def test_ollama_paths_answer_errors_in_ollama_shape(server):
    response = httpx.post(f"{server.url}/api/chat", json={"model": "nope", "messages": HELLO})
    assert response.status_code == 404
    assert isinstance(response.json()["error"], str) and "nope" in response.json()["error"]


def test_every_request_is_logged_with_its_id_as_a_header(server, client):
    response = chat(client, model="nope")
    log = log_of(server, response)
    assert log.path == "/v1/chat/completions" and log.model == "nope" and log.status == 404


# -- chat completions stream ------------------------------------------------------------


def test_chat_stream_starts_with_a_role_only_chunk(client):
    chunks, _ = chat_chunks(client)
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert chunks[0]["choices"][0]["finish_reason"] is None


def test_chat_stream_chunks_share_one_id_and_the_openai_shape(client):
    chunks, _ = chat_chunks(client)
    assert len({c["id"] for c in chunks}) == 1 and chunks[0]["id"].startswith("chatcmpl-")
    for chunk in chunks:
        assert chunk["object"] == "chat.completion.chunk"
        assert chunk["model"] == "demo" and isinstance(chunk["created"], int) and chunk["system_fingerprint"]
        assert "usage" not in chunk


def test_chat_stream_ends_with_an_empty_delta_finish_chunk_then_done(client):
    chunks, datas = chat_chunks(client)
    assert datas[-1] == "[DONE]"
    last = chunks[-1]["choices"][0]
    assert last["delta"] == {} and last["finish_reason"] == "stop"
    assert all(c["choices"][0]["finish_reason"] is None for c in chunks[:-1])
    assert len(chat_text(chunks)) > 200


def test_usage_chunk_comes_only_with_include_usage(client):
    with_usage, _ = chat_chunks(client, stream_options={"include_usage": True})
    without, _ = chat_chunks(client)
    assert with_usage[-1]["choices"] == [] and "usage" not in without[-1]
    assert all(c["usage"] is None for c in with_usage[:-1])
    usage = with_usage[-1]["usage"]
    assert usage["completion_tokens"] == len(tokenize(chat_text(with_usage)))
    assert usage["prompt_tokens"] == count_tokens(HELLO[0]["content"])
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    assert usage["completion_tokens_details"]["reasoning_tokens"] == 0


def test_n2_interleaves_two_choices_each_with_its_own_finish(client):
    chunks, _ = chat_chunks(client, n=2)
    indexes = [c["choices"][0]["index"] for c in chunks]
    assert indexes[:2] == [0, 1]
    assert indexes.count(0) > 10 and indexes.count(1) > 10
    first_one = indexes.index(1, 2)
    assert 0 in indexes[first_one:]  # interleaved, not one after the other
    finishes = [c["choices"][0]["index"] for c in chunks if c["choices"][0]["finish_reason"] == "stop"]
    assert sorted(finishes) == [0, 1]
    assert chat_text(chunks, 0) != chat_text(chunks, 1)


@pytest.mark.parametrize("field", ["max_tokens", "max_completion_tokens"])
def test_token_limit_cuts_the_answer_with_finish_reason_length(client, field):
    chunks, _ = chat_chunks(client, **{field: 7})
    assert len(tokenize(chat_text(chunks))) == 7
    assert chunks[-1]["choices"][0]["finish_reason"] == "length"


@pytest.mark.parametrize("stop", [" one token", ["zzz", " one token"]])
def test_stop_sequence_cuts_just_before_it(client, stop):
    full = chat_text(chat_chunks(client)[0])
    assert " one token" in full
    chunks, _ = chat_chunks(client, stop=stop)
    assert chat_text(chunks) == full[: full.index(" one token")]
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"


def test_non_streaming_chat_returns_a_chat_completion_with_the_same_text(client):
    streamed = chat_text(chat_chunks(client)[0])
    body = chat(client).json()
    assert body["object"] == "chat.completion" and body["id"].startswith("chatcmpl-")
    assert body["choices"][0]["message"]["role"] == "assistant"
    assert body["choices"][0]["message"]["content"] == streamed
    assert body["choices"][0]["finish_reason"] == "stop"
    assert body["usage"]["completion_tokens"] == len(tokenize(streamed))


# -- responses API ----------------------------------------------------------------------


def test_responses_stream_events_come_in_order_with_sequence_numbers(client):
    events = responses_events(client)
    names = [name for name, _ in events]
    deltas = names.count("response.output_text.delta")
    assert names == (["response.created", "response.in_progress", "response.output_item.added",
                      "response.content_part.added"] + ["response.output_text.delta"] * deltas
                     + ["response.output_text.done", "response.content_part.done", "response.output_item.done",
                        "response.completed"])
    assert [data["sequence_number"] for _, data in events] == list(range(len(events)))
    assert all(data["type"] == name for name, data in events)
    delta = events[4][1]
    assert set(delta) >= {"item_id", "output_index", "content_index", "delta"}


def test_responses_completed_carries_output_and_usage(client):
    events = responses_events(client, instructions="Be brief.")
    text = "".join(d["delta"] for n, d in events if n == "response.output_text.delta")
    final = events[-1][1]["response"]
    assert final["status"] == "completed"
    assert final["output"][0]["content"][0]["text"] == text
    usage = final["usage"]
    assert usage["output_tokens"] == len(tokenize(text))
    assert usage["input_tokens"] == count_tokens("Be brief.") + count_tokens("Explain streaming responses in notebooks")
    assert usage["output_tokens_details"]["reasoning_tokens"] == 0
    assert usage["input_tokens_details"]["cached_tokens"] == 0
    assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"]


def test_responses_accepts_a_list_of_message_items(client):
    items = [{"role": "user", "content": [{"type": "input_text", "text": "Tell me about kites"}]}]
    events = responses_events(client, input=items)
    assert "kites" in events[-1][1]["response"]["output"][0]["content"][0]["text"]


def test_responses_max_output_tokens_ends_incomplete(client):
    events = responses_events(client, max_output_tokens=5)
    name, data = events[-1]
    assert name == "response.incomplete"
    assert data["response"]["status"] == "incomplete"
    assert data["response"]["incomplete_details"] == {"reason": "max_output_tokens"}
    assert sum(1 for n, _ in events if n == "response.output_text.delta") == 5


def test_responses_non_streaming_returns_the_response_object(client):
    body = client.post("/responses", json={"model": "demo", "input": "Explain streaming responses"}).json()
    assert body["object"] == "response" and body["id"].startswith("resp_") and body["status"] == "completed"
    assert body["output"][0]["type"] == "message"
    assert body["usage"]["output_tokens"] == count_tokens(body["output"][0]["content"][0]["text"])


# -- ollama -----------------------------------------------------------------------------


def test_ollama_chat_streams_ndjson_and_ends_with_the_figures(server):
    lines = ollama_lines(server, "/api/chat", {"model": "demo", "messages": HELLO})
    assert all(line["done"] is False for line in lines[:-1])
    assert lines[0]["message"]["role"] == "assistant" and lines[0]["created_at"].endswith("Z")
    final = lines[-1]
    assert final["done"] is True and final["done_reason"] == "stop"
    assert final["eval_count"] == len(lines) - 1
    assert final["prompt_eval_count"] == count_tokens(HELLO[0]["content"])
    for key in ("total_duration", "load_duration", "prompt_eval_duration", "eval_duration"):
        assert isinstance(final[key], int) and final[key] >= 0
    assert final["total_duration"] >= final["prompt_eval_duration"] + final["eval_duration"]


def test_ollama_generate_without_streaming_returns_one_object(server):
    response = httpx.post(f"{server.url}/api/generate", json={"model": "demo", "prompt": "Why is the sky blue",
                                                               "stream": False})
    body = response.json()
    assert body["done"] is True and "sky" in body["response"]
    assert body["eval_count"] == count_tokens(body["response"])


def test_ollama_num_predict_ends_with_done_reason_length(server):
    lines = ollama_lines(server, "/api/generate", {"model": "demo", "prompt": "hi", "options": {"num_predict": 4}})
    assert [line["done"] for line in lines] == [False] * 4 + [True]
    assert lines[-1]["done_reason"] == "length"


# -- answers ----------------------------------------------------------------------------


def test_identical_requests_give_identical_text(client):
    first = chat(client).json()["choices"][0]["message"]["content"]
    second = chat(client).json()["choices"][0]["message"]["content"]
    assert first == second


def test_different_prompts_can_give_different_templates(client):
    headings = set()
    for word in ["apples", "rivers", "engines", "poems", "clouds", "tigers", "lamps", "coins"]:
        body = chat(client, messages=[{"role": "user", "content": f"Tell me about {word}"}]).json()
        headings.add(body["choices"][0]["message"]["content"].splitlines()[0])
    assert len(headings) >= 2


def test_answer_picks_up_the_topic_of_the_last_user_message(client):
    messages = [{"role": "user", "content": "first question"}, {"role": "assistant", "content": "ok"},
                {"role": "user", "content": "Tell me about **lighthouses** today"}]
    text = chat(client, messages=messages).json()["choices"][0]["message"]["content"]
    assert "Tell me about lighthouses today" in text


@pytest.mark.parametrize(
    ("element", "pattern"),
    [
        ("heading", r"(?m)^## \S"),
        ("bullet list", r"(?m)^- \S"),
        ("numbered list", r"(?m)^1\. \S"),
        ("python fence", r"(?m)^```python\n[\s\S]+?\n```$"),
        ("table", r"(?m)^\| .+ \|\n\| --- \|"),
        ("inline code", r"[^`]`[^`\n]+`[^`]"),
        ("inline math", re.escape("$E = mc^2$")),
        ("display math", r"(?m)^\$\$\n.+\n\$\$$"),
    ],
)
def test_every_answer_template_has_each_markdown_element(client, element, pattern):
    for word in ["apples", "rivers", "engines", "poems", "clouds", "tigers", "lamps", "coins"]:
        text = chat(client, messages=[{"role": "user", "content": word}]).json()["choices"][0]["message"]["content"]
        assert re.search(pattern, text), f"{element} missing from the answer to {word!r}"


def test_default_answers_are_120_to_200_tokens(client):
    for word in ["apples", "rivers", "engines", "poems", "a much longer question about six words"]:
        usage = chat(client, messages=[{"role": "user", "content": word}]).json()["usage"]
        assert 120 <= usage["completion_tokens"] <= 200


@given(st.text())
def test_tokens_join_back_into_the_text(text):
    assert "".join(tokenize(text)) == text


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        ("Hello world", ["Hello", " world"]),
        ("year 2024!", ["year", " 2", "0", "2", "4", "!"]),
        ('{"city": "Paris"}', ['{"', "city", '":', ' "', "Paris", '"}']),
        ("a\n\nb", ["a", "\n\n", "b"]),
    ],
)
def test_tokenizer_splits_words_digits_and_punctuation(text, tokens):
    assert tokenize(text) == tokens


# -- scenarios --------------------------------------------------------------------------

WEATHER_TOOL = {"type": "function", "function": {"name": "lookup_weather", "parameters": {
    "type": "object",
    "properties": {"location": {"type": "string"}, "unit": {"type": "string", "enum": ["fahrenheit", "celsius"]},
                   "days": {"type": "integer"}},
    "required": ["location"]}}}


def test_tool_call_arguments_arrive_in_fragments_that_reassemble_into_json(client):
    chunks, _ = chat_chunks(client, model="demo-tools", tools=[WEATHER_TOOL])
    calls = [c["choices"][0]["delta"]["tool_calls"][0] for c in chunks if c["choices"][0]["delta"].get("tool_calls")]
    assert calls[0]["id"].startswith("call_") and calls[0]["type"] == "function"
    assert calls[0]["function"]["name"] == "lookup_weather"
    assert all(call["index"] == 0 for call in calls) and len(calls) > 3
    assert all("id" not in call for call in calls[1:])
    arguments = json.loads("".join(call["function"]["arguments"] for call in calls))
    assert arguments == {"location": "Paris", "unit": "fahrenheit", "days": 3}
    assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"


def test_tool_call_defaults_to_get_weather_paris(client):
    body = chat(client, model="demo-tools").json()
    call = body["choices"][0]["message"]["tool_calls"][0]
    assert call["function"]["name"] == "get_weather" and json.loads(call["function"]["arguments"]) == {"city": "Paris"}


def test_tool_result_turn_is_answered_in_text_using_the_result(client):
    call = chat(client, model="demo-tools", tools=[WEATHER_TOOL]).json()["choices"][0]["message"]["tool_calls"][0]
    messages = HELLO + [{"role": "assistant", "content": None, "tool_calls": [call]},
                        {"role": "tool", "tool_call_id": call["id"], "content": "Foggy, 12 C"}]
    chunks, _ = chat_chunks(client, model="demo-tools", tools=[WEATHER_TOOL], messages=messages)
    text = chat_text(chunks)
    assert "Foggy, 12 C" in text and "lookup_weather" in text
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"


def test_responses_tool_call_is_a_function_call_item_and_its_output_gets_an_answer(client):
    tool = {"type": "function", "name": "search_docs", "parameters": {"type": "object",
                                                                     "properties": {"query": {"type": "string"}}}}
    events = responses_events(client, model="demo-tools", tools=[tool])
    item = events[-1][1]["response"]["output"][0]
    assert item["type"] == "function_call" and item["name"] == "search_docs"
    fragments = [d["delta"] for n, d in events if n == "response.function_call_arguments.delta"]
    assert len(fragments) > 2 and json.loads("".join(fragments)) == json.loads(item["arguments"])
    follow_up = [{"role": "user", "content": "Find the docs"}, item,
                 {"type": "function_call_output", "call_id": item["call_id"], "output": "Found 3 pages"}]
    answer = responses_events(client, model="demo-tools", tools=[tool], input=follow_up)
    message = answer[-1][1]["response"]["output"][0]
    assert message["type"] == "message" and "Found 3 pages" in message["content"][0]["text"]


def test_ollama_tool_call_arrives_whole_with_object_arguments(server):
    lines = ollama_lines(server, "/api/chat", {"model": "demo-tools", "messages": HELLO, "tools": [WEATHER_TOOL]})
    calls = [call for line in lines[:-1] for call in line["message"].get("tool_calls", [])]
    assert calls == [{"function": {"name": "lookup_weather",
                                   "arguments": {"location": "Paris", "unit": "fahrenheit", "days": 3}}}]
    assert lines[-1]["done"] is True


def test_reasoning_streams_before_the_answer_and_is_counted(client):
    chunks, _ = chat_chunks(client, model="demo-reasoning", stream_options={"include_usage": True})
    kinds = ["r" if "reasoning_content" in c["choices"][0]["delta"] else "c"
             for c in chunks[1:-2] if c["choices"]]
    assert kinds[0] == "r" and kinds[-1] == "c"
    assert "".join(kinds) == "r" * kinds.count("r") + "c" * kinds.count("c")
    reasoning = "".join(c["choices"][0]["delta"].get("reasoning_content", "") for c in chunks if c["choices"])
    usage = chunks[-1]["usage"]
    assert usage["completion_tokens_details"]["reasoning_tokens"] == len(tokenize(reasoning))
    assert usage["completion_tokens"] == len(tokenize(reasoning)) + len(tokenize(chat_text(chunks)))


def test_reasoning_field_knob_switches_the_delta_field(client):
    chunks, _ = chat_chunks(client, model="demo-reasoning", demo={"reasoning_field": "reasoning"})
    fields = {key for c in chunks for key in c["choices"][0]["delta"]}
    assert "reasoning" in fields and "reasoning_content" not in fields


def test_responses_reasoning_comes_as_a_reasoning_item_first(client):
    events = responses_events(client, model="demo-reasoning")
    names = [n for n, _ in events]
    assert names.index("response.reasoning_text.delta") < names.index("response.output_text.delta")
    final = events[-1][1]["response"]
    assert [item["type"] for item in final["output"]] == ["reasoning", "message"]
    assert final["usage"]["output_tokens_details"]["reasoning_tokens"] == names.count("response.reasoning_text.delta")


def test_ollama_reasoning_goes_in_message_thinking(server):
    lines = ollama_lines(server, "/api/chat", {"model": "demo-reasoning", "messages": HELLO})
    assert lines[0]["message"]["thinking"] and lines[0]["message"]["content"] == ""
    assert any(line["message"]["content"] for line in lines)


def test_chunky_sends_four_tokens_per_chunk(server, client):
    response = chat(client, model="demo-chunky", stream=True)
    counts = [n for _, kind, n in log_of(server, response).writes if kind == "content"]
    assert counts[:-1] == [4] * (len(counts) - 1) and 1 <= counts[-1] <= 4


def test_long_answer_is_about_two_thousand_tokens(client):
    usage = chat(client, model="demo-long").json()["usage"]
    assert 1800 <= usage["completion_tokens"] <= 2300


def test_disconnect_breaks_the_body_after_the_given_number_of_tokens(client):
    received = []
    body = {"model": "demo-disconnect", "messages": HELLO, "stream": True, "demo": {"after": 12}}
    with (pytest.raises(httpx.RemoteProtocolError, match="incomplete"),
          client.stream("POST", "/chat/completions", json=body) as response):
        for line in response.iter_lines():
            received.append(line)
    contents = [json.loads(line[6:])["choices"][0]["delta"].get("content") for line in received
                if line.startswith("data: ")]
    assert sum(1 for c in contents if c) == 12
    assert "data: [DONE]" not in received


def test_error_scenario_sends_an_in_band_error_and_ends_the_stream(client):
    _, datas = chat_chunks(client, model="demo-error", demo={"after": 5})
    error = json.loads(datas[-1])["error"]
    assert error["type"] == "server_error" and error["message"] and "code" in error
    assert len(datas) == 1 + 5 + 1  # role, five tokens, the error; no [DONE]


def test_responses_error_scenario_ends_with_response_failed(client):
    events = responses_events(client, model="demo-error", demo={"after": 3})
    name, data = events[-1]
    assert name == "response.failed" and data["response"]["status"] == "failed"
    assert data["response"]["error"]["message"]
    assert [d["sequence_number"] for _, d in events] == list(range(len(events)))


@pytest.mark.parametrize(("model", "status", "code"), [("demo-401", 401, "invalid_api_key"),
                                                       ("demo-429", 429, "rate_limit_exceeded"),
                                                       ("demo-500", 500, None)])
def test_http_error_scenarios_answer_an_openai_shaped_error(client, model, status, code):
    response = chat(client, model=model, stream=True)
    assert response.status_code == status
    assert response.json()["error"]["code"] == code and response.json()["error"]["message"]


def test_429_sends_retry_after_from_its_knob(client):
    assert chat(client, model="demo-429").headers["retry-after"] == "2"
    assert chat(client, model="demo-429", demo={"retry_after": 7}).headers["retry-after"] == "7"


def test_malformed_event_is_followed_by_the_rest_of_the_stream(client):
    response = chat(client, model="demo-malformed", stream=True, demo={"after": 4})
    datas = [m["data"] for m in parse_sse(response.text)]
    assert datas[5] == '{"choices": [ oops'
    with pytest.raises(ValueError):
        json.loads(datas[5])
    assert datas[-1] == "[DONE]"
    clean = [json.loads(d) for d in datas[:5] + datas[6:-1]]
    assert chat_text(clean) == chat_text(chat_chunks(client)[0])


def test_stall_leaves_a_gap_in_the_writes_after_the_given_token(server, client):
    response = chat(client, model="demo-stall", stream=True, demo={"after": 6, "stall": 1.0})
    log = log_of(server, response)
    since_start = [t - log.t_start_ns for t in log.times("content")]
    # the server's pace (ttft 0, 5000 tokens/s) has token k due k/5000 s after the request, and
    # from token 6 on 1 s later: none is written early, and the first six are not held back
    # (only a server a whole second late could write one of them after the stall)
    assert len(since_start) > 6
    assert all(t >= 1e9 for t in since_start[6:])
    assert all(t < 1e9 for t in since_start[:6])


def test_keepalive_comments_fill_the_wait_and_the_pause(server, client):
    response = chat(client, model="demo-keepalive", stream=True, demo={"tps": 500})
    messages = parse_sse(response.text)
    first_data = next(i for i, m in enumerate(messages) if m["data"] and '"content":"' in m["data"]
                      and '"role"' not in m["data"])
    before = sum(1 for m in messages[:first_data] if m["comments"] == ["keep-alive"])
    after = sum(1 for m in messages[first_data:] if m["comments"] == ["keep-alive"])
    assert before >= 3 and after >= 3
    writes = log_of(server, response).writes
    assert [k for _, k, _ in writes].count("comment") == before + after


def test_no_stream_options_scenario_rejects_stream_options(client):
    response = chat(client, model="demo-no-stream-options", stream=True, stream_options={"include_usage": True})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["message"] == "Unrecognized request argument supplied: stream_options"
    assert error["param"] == "stream_options"
    chunks, datas = chat_chunks(client, model="demo-no-stream-options")
    assert datas[-1] == "[DONE]" and all(c["choices"] for c in chunks)


def test_xss_answer_carries_the_three_payloads(client):
    text = chat(client, model="demo-xss").json()["choices"][0]["message"]["content"]
    assert "<script>window.__xss=1</script>" in text
    assert '<img src=x onerror="window.__xss=1">' in text
    assert "[click](javascript:window.__xss=1)" in text


def test_fenced_answer_is_a_markdown_fence_holding_a_python_fence(client):
    text = chat(client, model="demo-fenced").json()["choices"][0]["message"]["content"]
    assert text.startswith("```markdown\n") and text.rstrip().endswith("```")
    assert "\n```python\n" in text


def test_text_knob_streams_the_given_answer(client):
    chunks, _ = chat_chunks(client, demo={"text": "Just this."})
    assert chat_text(chunks) == "Just this."


# -- authentication ---------------------------------------------------------------------


@pytest.mark.parametrize(("headers", "status"), [({}, 401), ({"Authorization": "Bearer wrong"}, 401),
                                                 ({"Authorization": "Bearer s3cret"}, 200)])
def test_api_key_is_enforced_when_set(headers, status):
    with serve(api_key="s3cret", **FAST) as secured:
        response = httpx.get(f"{secured.base_url}/models", headers=headers)
    assert response.status_code == status
    if status == 401:
        assert response.json()["error"]["code"] == "invalid_api_key"


def test_serve_rejects_unknown_knobs():
    with pytest.raises(TypeError, match="ttfb"):
        serve(ttfb=1)
    with pytest.raises(ValueError, match="jitter"):
        serve(jitter=2)


def test_stop_is_idempotent_and_frees_the_port():
    running = serve(**FAST)
    running.stop()
    running.stop()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{running.base_url}/models")


# -- timing -----------------------------------------------------------------------------


# Writes are due at absolute deadlines (ttft + k / tps after the request), so on any machine
# no write is early and a late one does not delay the rest; how late they are under load is
# a figure for bench/concurrency.py, not an assertion here.


def test_no_token_is_written_before_its_ttft_and_tps_deadline(server, client):
    arrivals = []
    body = {"model": "demo", "messages": HELLO, "stream": True,
            "demo": {"ttft": 0.3, "tps": 50, "jitter": 0, "text": " ".join(["word"] * 40)}}
    with client.stream("POST", "/chat/completions", json=body) as response:
        for line in response.iter_lines():
            if '"content":"word' in line or '"content":" word' in line:
                arrivals.append(time.perf_counter_ns())
    log = log_of(server, response)
    times = log.times("content")
    assert len(times) == len(arrivals) == 40
    due = [log.t_start_ns + round((0.3 + k / 50) * 1e9) for k in range(40)]
    late = [(t - d) / 1e6 for t, d in zip(times, due, strict=True)]
    assert all(t >= d for t, d in zip(times, due, strict=True)), late
    assert all(a >= t for a, t in zip(arrivals, times, strict=True))  # one clock: got after it was written


def test_a_client_closing_during_a_pause_is_logged_as_a_disconnect_at_once(server):
    # 3 tokens, then 100 s of silence: the server must notice the close during the pause,
    # not at its next write (log_of waits 60 s at most for the server to be done).
    body = {"model": "demo-stall", "messages": HELLO, "stream": True,
            "demo": {"ttft": 0.05, "tps": 200, "after": 3, "stall": 100}}
    seen = 0
    with (httpx.Client(timeout=60) as http,
          http.stream("POST", f"{server.base_url}/chat/completions", json=body) as response):
        for line in response.iter_lines():
            seen += '"content"' in line and '"role"' not in line
            if seen == 3:
                closed = time.perf_counter_ns()
                break
    log = log_of(server, response)
    assert log.disconnected_ns is not None and not log.finished
    assert log.disconnected_ns >= closed and log.tokens() == 3


def test_a_hundred_concurrent_streams_all_arrive_intact(server):
    body = {"model": "demo", "messages": HELLO, "stream": True, "stream_options": {"include_usage": True},
            "demo": {"ttft": 1.0, "tps": 50, "text": " ".join(["tick"] * 30)}}

    async def one(http: httpx.AsyncClient) -> str:
        response = await http.post(f"{server.base_url}/chat/completions", json=body)
        return response.text

    async def all_of_them() -> list[str]:
        limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
        async with httpx.AsyncClient(timeout=30, limits=limits) as http:
            return await asyncio.gather(*(one(http) for _ in range(100)))

    before = len(server.requests)
    bodies = asyncio.run(all_of_them())
    for text in bodies:
        datas = [m["data"] for m in parse_sse(text)]
        chunks = [json.loads(d) for d in datas[:-1]]
        assert datas[-1] == "[DONE]"
        assert chat_text(chunks) == " ".join(["tick"] * 30)
        assert chunks[-1]["usage"]["completion_tokens"] == 30
    logs = server.requests[before:]
    assert len(logs) == 100 and all(log.wait(60) for log in logs)
    # served side by side, not one after another: most were open at the same moment
    edges = sorted([(log.t_start_ns, 1) for log in logs] + [(log.writes[-1][0], -1) for log in logs])
    open_now = peak = 0
    for _, step in edges:
        open_now += step
        peak = max(peak, open_now)
    assert peak >= 50, f"at most {peak} of 100 streams were open at once"


# -- command line -----------------------------------------------------------------------


def test_command_line_prints_the_url_and_stops_on_ctrl_c():
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen([sys.executable, "-m", "nbstream.demo", "--ttft", "0", "--tps", "1000"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        line = process.stdout.readline()
        match = re.fullmatch(r"nbstream demo endpoint: (http://127\.0\.0\.1:\d+/v1)\n", line)
        assert match, line
        assert httpx.get(f"{match.group(1)}/models", timeout=60).status_code == 200
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=60) == 0
        assert process.stderr.read() == ""
    finally:
        if process.poll() is None:
            process.kill()


def test_python_m_nbstream_demo_serves_until_ctrl_c():
    proc = subprocess.Popen([sys.executable, "-m", "nbstream.demo", "--port", "0", "--tps", "500"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline().strip()
        assert line.startswith("nbstream demo endpoint: http://127.0.0.1:")
        base_url = line.split(": ", 1)[1]
        models = httpx.get(base_url + "/models", timeout=60).json()
        assert any(m["id"] == "demo" for m in models["data"])
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0 and "Traceback" not in err


# -- the request log over HTTP ----------------------------------------------------------


def test_get_demo_requests_returns_the_server_write_log_as_json(client, server):
    body = {"model": "demo", "messages": HELLO, "stream": True, "demo": {"text": "one two three"}}
    streamed = client.post("/chat/completions", json=body)
    request_id = streamed.headers["x-request-id"]
    log = next(r for r in server.requests if r.id == request_id)
    assert log.wait(60)

    listed = client.get("/demo/requests", params={"last": 1}).json()["data"]
    by_id = client.get(f"/demo/requests/{request_id}").json()

    assert [entry["id"] for entry in listed] == [request_id]  # the GET itself is not listed
    assert by_id == listed[0]
    assert by_id["model"] == "demo" and by_id["finished"] is True
    assert by_id["t_start_ns"] == log.t_start_ns
    assert by_id["writes"] == [[t, kind, n] for t, kind, n in log.writes]
    assert sum(n for _, kind, n in by_id["writes"] if kind == "content") == 3
    assert client.get("/demo/requests/req_nope").status_code == 404
    assert client.get("/demo/requests", params={"last": "0"}).status_code == 400
