"""Gemini streamGenerateContent chunks -> normalized events (shapes from the API reference)."""

from __future__ import annotations

import json

import pytest

from nbstream.events import (
    Done,
    ErrorEvent,
    Finish,
    Meta,
    Other,
    ReasoningDelta,
    TextDelta,
    ToolCallDelta,
    Usage,
)
from nbstream.wire.gemini import FINISH_REASONS, GeminiAdapter, body, path


def chunk(parts: list | None = None, finish: str | None = None, usage: dict | None = None, **extra: object) -> str:
    cand: dict = {"index": 0}
    if parts is not None:
        cand["content"] = {"role": "model", "parts": parts}
    if finish:
        cand["finishReason"] = finish
    obj: dict = {"candidates": [cand], "modelVersion": "gemini-2.5-flash", "responseId": "r1", **extra}
    if usage:
        obj["usageMetadata"] = usage
    return json.dumps(obj)


TEXT = [
    chunk([{"text": "The sky"}], usage={"promptTokenCount": 8, "totalTokenCount": 8}),
    chunk([{"text": " is blue."}], finish="STOP",
          usage={"promptTokenCount": 8, "candidatesTokenCount": 5, "totalTokenCount": 13}),
]


def feed_all(chunks: list[str]) -> list:
    ad = GeminiAdapter()
    return [e for data in chunks for e in ad.feed("message", data)]


def test_text_stream_yields_meta_text_finish_and_the_last_usage() -> None:
    events = feed_all(TEXT)
    assert events[0] == Meta(stage="created", id="r1", model="gemini-2.5-flash")
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "The sky is blue."
    assert [e for e in events if isinstance(e, Finish)] == [Finish("stop", raw="STOP")]
    last = [e for e in events if isinstance(e, Usage)][-1]
    assert (last.input_tokens, last.output_tokens, last.total_tokens) == (8, 5, 13)


def test_the_stream_has_no_end_marker() -> None:
    assert not any(isinstance(e, Done) for e in feed_all(TEXT))


def test_thought_parts_are_reasoning_and_thought_tokens_count_as_output() -> None:
    events = feed_all([
        chunk([{"text": "Rayleigh scattering", "thought": True}]),
        chunk([{"text": "Blue.", "thoughtSignature": "c2ln"}], finish="STOP",
              usage={"promptTokenCount": 4, "candidatesTokenCount": 2, "thoughtsTokenCount": 30,
                     "cachedContentTokenCount": 3, "totalTokenCount": 36}),
    ])
    assert [e.text for e in events if isinstance(e, ReasoningDelta)] == ["Rayleigh scattering"]
    assert [e.text for e in events if isinstance(e, TextDelta)] == ["Blue."]
    assert Other(type="thought.signature", data={"signature": "c2ln"}) in events
    usage = [e for e in events if isinstance(e, Usage)][-1]
    assert (usage.output_tokens, usage.reasoning_tokens, usage.cached_tokens) == (32, 30, 3)


def test_function_calls_arrive_whole_and_make_the_finish_tool_calls() -> None:
    events = feed_all([chunk([{"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}},
                              {"functionCall": {"name": "get_time", "args": {}}}], finish="STOP")])
    calls = [e for e in events if isinstance(e, ToolCallDelta)]
    assert [(c.index, c.name, json.loads(c.arguments)) for c in calls] == [
        (0, "get_weather", {"city": "Paris"}), (1, "get_time", {})]
    assert Finish("tool_calls", raw="STOP") in events


@pytest.mark.parametrize(("raw", "openai"), sorted(FINISH_REASONS.items()))
def test_finish_reasons_are_given_in_openai_words_with_the_raw_word_kept(raw: str, openai: str) -> None:
    assert Finish(openai, raw=raw) in feed_all([chunk([{"text": "x"}], finish=raw)])


def test_an_unknown_finish_reason_is_kept_lower_cased() -> None:
    assert Finish("malformed_function_call", raw="MALFORMED_FUNCTION_CALL") in feed_all(
        [chunk([], finish="MALFORMED_FUNCTION_CALL")])


def test_a_blocked_prompt_ends_with_content_filter() -> None:
    events = feed_all([json.dumps({"promptFeedback": {"blockReason": "SAFETY"},
                                   "usageMetadata": {"promptTokenCount": 7}})])
    assert Finish("content_filter", raw="SAFETY") in events and any(isinstance(e, Done) for e in events)


def test_several_candidates_keep_their_own_choice_index() -> None:
    data = json.dumps({"candidates": [{"index": 0, "content": {"parts": [{"text": "a"}]}},
                                      {"index": 1, "content": {"parts": [{"text": "b"}]}}]})
    assert [(e.text, e.choice) for e in GeminiAdapter().feed("message", data) if isinstance(e, TextDelta)] == [
        ("a", 0), ("b", 1)]


@pytest.mark.parametrize("first", [
    {"choices": [{"index": 0, "delta": {"content": "hi"}}]},  # chat
    {"type": "message_start", "message": {"id": "m", "model": "x", "usage": {"input_tokens": 1}}},  # anthropic
    {"model": "x", "created_at": "2025-01-01T00:00:00Z", "response": "hi", "done": False},  # ollama
])
def test_a_json_array_of_another_formats_objects_is_not_claimed_by_that_format(first: dict) -> None:
    """Only Gemini's adapter reads an array of chunks: any other format's first object
    leaves the array to the generic reader, not to an adapter that would drop it whole."""
    from nbstream.wire.registry import AutoAdapter

    auto = AutoAdapter()
    auto.feed("", json.dumps([first, first]))
    assert auto.kind not in ("chat", "anthropic", "ollama")


def test_a_json_array_answer_without_alt_sse_is_read_element_by_element() -> None:
    whole = "[" + ",\n".join(TEXT) + "]"
    events = GeminiAdapter().feed("", whole)
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "The sky is blue."


def test_an_in_band_error_object_is_fatal() -> None:
    events = GeminiAdapter().feed("message", json.dumps(
        {"error": {"code": 429, "message": "Resource exhausted", "status": "RESOURCE_EXHAUSTED"}}))
    assert isinstance(events[0], ErrorEvent) and events[0].fatal and events[0].message == "Resource exhausted"


def test_other_parts_are_kept_as_other() -> None:
    events = feed_all([chunk([{"executableCode": {"language": "PYTHON", "code": "print(1)"}}])])
    assert Other(type="part", data={"executableCode": {"language": "PYTHON", "code": "print(1)"}}) in events


@pytest.mark.parametrize("data", [
    json.dumps({"candidates": "x"}),
    json.dumps({"candidates": ["x"]}),
    json.dumps({"candidates": [{"index": "0"}]}),
    json.dumps({"candidates": [{"index": 10**9}]}),
    json.dumps({"candidates": [{"content": {"parts": "hello"}}]}),
    json.dumps({"candidates": [{"content": {"parts": [{"text": 5}]}}]}),
    json.dumps({"candidates": [{"finishReason": ["STOP"]}]}),
    json.dumps({"promptFeedback": {"blockReason": 3}}),
])
def test_a_wrong_shaped_chunk_is_a_recoverable_error_not_an_exception(data: str) -> None:
    ad = GeminiAdapter()
    ad.feed("message", chunk([{"text": "kept"}]))
    events = ad.feed("message", data)
    assert len(events) == 1 and isinstance(events[0], ErrorEvent) and not events[0].fatal and events[0].raw


def test_all_zero_usage_from_a_gateway_is_tolerated() -> None:
    usage = [e for e in feed_all([chunk([{"text": "x"}], finish="STOP", usage={
        "promptTokenCount": 0, "candidatesTokenCount": 0, "totalTokenCount": 0})]) if isinstance(e, Usage)][0]
    assert (usage.input_tokens, usage.output_tokens, usage.total_tokens) == (0, 0, 0)


def test_path_quotes_the_model_name_so_it_cannot_change_the_url() -> None:
    assert path("gemini-2.5-flash") == "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"
    assert path("models/gemini-2.5-pro") == "/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse"
    hostile = path("../../x?key=1#")
    assert "/../" not in hostile and "?key" not in hostile and "#" not in hostile


def test_body_maps_roles_system_and_generation_settings() -> None:
    sent = body("gemini-2.5-flash", [{"role": "system", "content": "Be brief."},
                                     {"role": "user", "content": "Hi"},
                                     {"role": "assistant", "content": "Hello"},
                                     {"role": "user", "content": "Why?"}],
                {"temperature": 0.3, "max_tokens": 100, "stop": "END",
                 "thinking_config": {"thinkingBudget": 0}, "safetySettings": []})
    assert sent == {
        "contents": [{"role": "user", "parts": [{"text": "Hi"}]}, {"role": "model", "parts": [{"text": "Hello"}]},
                     {"role": "user", "parts": [{"text": "Why?"}]}],
        "systemInstruction": {"parts": [{"text": "Be brief."}]},
        "generationConfig": {"temperature": 0.3, "maxOutputTokens": 100, "stopSequences": ["END"],
                             "thinkingConfig": {"thinkingBudget": 0}},
        "safetySettings": [],
    }


def test_body_turns_openai_style_text_parts_into_gemini_text_parts() -> None:
    parts = [{"type": "text", "text": "Look: "}, {"type": "text", "text": "twice."},
             {"inlineData": {"mimeType": "image/png", "data": "iVBO"}}]
    sent = body("m", [{"role": "system", "content": [{"type": "text", "text": "Be brief."}]},
                      {"role": "user", "content": parts}], {})
    assert sent["contents"] == [{"role": "user", "parts": [{"text": "Look: "}, {"text": "twice."},
                                                           {"inlineData": {"mimeType": "image/png", "data": "iVBO"}}]}]
    assert sent["systemInstruction"] == {"parts": [{"text": "Be brief."}]}


def test_body_takes_stop_none_as_not_given() -> None:
    assert "generationConfig" not in body("m", [{"role": "user", "content": "Hi"}], {"stop": None})
