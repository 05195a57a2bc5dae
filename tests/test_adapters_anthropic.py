"""Anthropic Messages API stream events -> normalized events (shapes from the API reference)."""

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
from nbstream.wire.anthropic import STOP_REASONS, AnthropicAdapter, body


def sse(kind: str, **fields: object) -> tuple[str, str]:
    return kind, json.dumps({"type": kind, **fields})


def start(input_tokens: int = 25, **usage: int) -> tuple[str, str]:
    return sse("message_start", message={
        "id": "msg_1", "type": "message", "role": "assistant", "content": [], "model": "claude-sonnet-4-5",
        "stop_reason": None, "stop_sequence": None,
        "usage": {"input_tokens": input_tokens, "output_tokens": 1, **usage}})


TEXT = [
    start(),
    sse("content_block_start", index=0, content_block={"type": "text", "text": ""}),
    sse("ping"),
    sse("content_block_delta", index=0, delta={"type": "text_delta", "text": "Hello"}),
    sse("content_block_delta", index=0, delta={"type": "text_delta", "text": "!"}),
    sse("content_block_stop", index=0),
    sse("message_delta", delta={"stop_reason": "end_turn", "stop_sequence": None}, usage={"output_tokens": 15}),
    sse("message_stop"),
]


def feed_all(messages: list[tuple[str, str]]) -> list:
    ad = AnthropicAdapter()
    return [e for name, data in messages for e in ad.feed(name, data)]


def test_text_stream_yields_meta_text_usage_finish_and_done() -> None:
    events = feed_all(TEXT)
    assert events[0] == Meta(stage="created", id="msg_1", model="claude-sonnet-4-5", role="assistant")
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "Hello!"
    assert [e for e in events if isinstance(e, Finish)] == [Finish("stop", raw="end_turn")]
    assert isinstance(events[-1], Done)


def test_usage_is_cumulative_and_keeps_the_input_count_from_message_start() -> None:
    usages = [e for e in feed_all(TEXT) if isinstance(e, Usage)]
    assert (usages[-1].input_tokens, usages[-1].output_tokens, usages[-1].total_tokens) == (25, 15, 40)


def test_cache_reads_count_as_input_and_as_cached_tokens() -> None:
    events = feed_all([start(10, cache_read_input_tokens=90, cache_creation_input_tokens=5),
                       sse("message_delta", delta={"stop_reason": "end_turn"}, usage={"output_tokens": 3})])
    last = [e for e in events if isinstance(e, Usage)][-1]
    assert (last.input_tokens, last.cached_tokens, last.output_tokens) == (105, 90, 3)
    assert last.server == {"cache_creation_input_tokens": 5}


def test_thinking_is_reasoning_and_its_signature_is_kept() -> None:
    events = feed_all([
        start(),
        sse("content_block_start", index=0, content_block={"type": "thinking", "thinking": ""}),
        sse("content_block_delta", index=0, delta={"type": "thinking_delta", "thinking": "Let me see"}),
        sse("content_block_delta", index=0, delta={"type": "signature_delta", "signature": "EqQBCgIYAhIM"}),
        sse("content_block_stop", index=0),
        sse("content_block_start", index=1, content_block={"type": "redacted_thinking", "data": "EmwKAhgB"}),
        sse("content_block_start", index=2, content_block={"type": "text", "text": ""}),
        sse("content_block_delta", index=2, delta={"type": "text_delta", "text": "42"}),
    ])
    assert [e.text for e in events if isinstance(e, ReasoningDelta)] == ["Let me see"]
    assert Other(type="thinking.signature", data={"index": 0, "signature": "EqQBCgIYAhIM"}) in events
    assert Other(type="redacted_thinking", data={"index": 1, "data": "EmwKAhgB"}) in events
    assert [e.text for e in events if isinstance(e, TextDelta)] == ["42"]


def test_tool_arguments_arrive_in_fragments_keyed_by_block_and_numbered_from_zero() -> None:
    events = feed_all([
        start(),
        sse("content_block_start", index=0, content_block={"type": "text", "text": ""}),
        sse("content_block_delta", index=0, delta={"type": "text_delta", "text": "Checking."}),
        sse("content_block_start", index=1,
            content_block={"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {}}),
        sse("content_block_delta", index=1, delta={"type": "input_json_delta", "partial_json": ""}),
        sse("content_block_delta", index=1, delta={"type": "input_json_delta", "partial_json": '{"city": '}),
        sse("content_block_delta", index=1, delta={"type": "input_json_delta", "partial_json": '"Paris"}'}),
        sse("message_delta", delta={"stop_reason": "tool_use"}, usage={"output_tokens": 30}),
    ])
    calls = [e for e in events if isinstance(e, ToolCallDelta)]
    assert calls[0] == ToolCallDelta(0, id="toolu_1", name="get_weather", arguments="")
    assert "".join(c.arguments for c in calls) == '{"city": "Paris"}'
    assert {c.index for c in calls} == {0}
    assert Finish("tool_calls", raw="tool_use") in events


@pytest.mark.parametrize(("raw", "openai"), sorted(STOP_REASONS.items()))
def test_stop_reasons_are_given_in_openai_words_with_the_raw_word_kept(raw: str, openai: str) -> None:
    events = feed_all([sse("message_delta", delta={"stop_reason": raw}, usage={"output_tokens": 1})])
    assert Finish(openai, raw=raw) in events


@pytest.mark.parametrize("message", [
    sse("message_delta", delta={"stop_reason": "stop_sequence", "stop_sequence": "\n\nHuman:"}),
    ("", json.dumps({"id": "msg_3", "type": "message", "role": "assistant", "model": "m",
                     "content": [{"type": "text", "text": "Hi"}], "stop_reason": "stop_sequence",
                     "stop_sequence": "\n\nHuman:", "usage": {"input_tokens": 1, "output_tokens": 1}})),
], ids=["message_delta", "whole-message"])
def test_the_matched_stop_sequence_is_kept_with_the_finish(message: tuple[str, str]) -> None:
    assert Finish("stop", raw="stop_sequence", stop_sequence="\n\nHuman:") in feed_all([message])


def test_an_unknown_stop_reason_is_kept_as_sent() -> None:
    events = feed_all([sse("message_delta", delta={"stop_reason": "pause_turn"})])
    assert Finish("pause_turn", raw="pause_turn") in events


def test_a_mid_stream_error_event_is_fatal_and_names_its_type() -> None:
    events = feed_all([start(), sse("error", error={"type": "overloaded_error", "message": "Overloaded"})])
    err = events[-1]
    assert isinstance(err, ErrorEvent) and err.fatal and err.message == "Overloaded" and err.type == "overloaded_error"


def test_server_tool_blocks_and_unknown_deltas_are_kept_as_other() -> None:
    events = feed_all([
        sse("content_block_start", index=0, content_block={"type": "server_tool_use", "id": "srvtoolu_1",
                                                           "name": "web_search", "input": {}}),
        sse("content_block_delta", index=0, delta={"type": "citations_delta", "citation": {"cited_text": "x"}}),
        sse("some_future_event", detail=1),
    ])
    assert [type(e) for e in events] == [Other, Other, Other]
    assert events[0].type == "content_block.server_tool_use" and events[1].type == "delta.citations_delta"


@pytest.mark.parametrize(("block", "calls"), [
    ({"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {}}, 1),
    ({"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search", "input": {}}, 0),
    ({"type": "mcp_tool_use", "id": "mcptoolu_1", "name": "search", "server_name": "docs", "input": {}}, 0),
], ids=["tool_use", "server_tool_use", "mcp_tool_use"])
def test_only_a_tool_use_blocks_argument_fragments_make_a_tool_call(block: dict, calls: int) -> None:
    fragment = {"type": "input_json_delta", "partial_json": '{"query": "x"}'}
    events = feed_all([start(), sse("content_block_start", index=0, content_block=block),
                       sse("content_block_delta", index=0, delta=fragment)])
    assert len({e.index for e in events if isinstance(e, ToolCallDelta)}) == calls
    if not calls:
        assert Other(type="delta.input_json_delta", data={"index": 0, **fragment}) in events


def test_argument_fragments_of_a_block_whose_start_never_came_are_a_tool_call() -> None:
    fragment = {"type": "input_json_delta", "partial_json": '{"city": "Oslo"}'}
    events = feed_all([start(), sse("content_block_delta", index=3, delta=fragment)])
    assert [(e.index, e.arguments) for e in events if isinstance(e, ToolCallDelta)] == [(0, '{"city": "Oslo"}')]


@pytest.mark.parametrize("message", [
    sse("content_block_delta", index=0, delta={"type": "text_delta", "text": 5}),
    sse("content_block_delta", index="0", delta={"type": "text_delta", "text": "x"}),
    sse("content_block_delta", index=10**12, delta={"type": "text_delta", "text": "x"}),
    sse("content_block_delta", index=0, delta="text"),
    sse("content_block_start", index=0, content_block=["text"]),
    sse("message_start", message="hello"),
    sse("message_delta", delta={"stop_reason": {"nested": 1}}),
    sse("content_block_delta", index=0, delta={"type": "input_json_delta", "partial_json": ["x"]}),
])
def test_a_wrong_shaped_event_is_a_recoverable_error_not_an_exception(message: tuple[str, str]) -> None:
    events = AnthropicAdapter().feed(*message)
    assert len(events) == 1 and isinstance(events[0], ErrorEvent) and not events[0].fatal
    assert events[0].raw


def test_invalid_json_is_a_recoverable_error_and_huge_counts_are_not_counts() -> None:
    ad = AnthropicAdapter()
    assert not ad.feed("message_delta", "{not json")[0].fatal
    usage = ad.feed(*sse("message_delta", usage={"output_tokens": 10**30}))[0]
    assert isinstance(usage, Usage) and usage.output_tokens is None


def test_a_whole_non_streamed_message_gives_the_same_events_at_once() -> None:
    events = AnthropicAdapter().feed("", json.dumps({
        "id": "msg_2", "type": "message", "role": "assistant", "model": "claude-haiku-4-5",
        "content": [{"type": "text", "text": "Hi there"}], "stop_reason": "max_tokens",
        "usage": {"input_tokens": 3, "output_tokens": 2}}))
    assert TextDelta("Hi there") in events and Finish("length", raw="max_tokens") in events
    assert isinstance(events[-1], Done)


def test_body_moves_system_to_the_top_level_and_requires_max_tokens() -> None:
    sent = body("claude-sonnet-4-5", [{"role": "system", "content": "Be brief."},
                                      {"role": "user", "content": "Hi"}], {"temperature": 0.2, "stop": "END"})
    assert sent == {"model": "claude-sonnet-4-5", "messages": [{"role": "user", "content": "Hi"}],
                    "max_tokens": 4096, "stream": True, "system": "Be brief.", "temperature": 0.2,
                    "stop_sequences": ["END"]}


def test_body_passes_a_system_message_of_content_blocks_through_as_the_system_list() -> None:
    blocks = [{"type": "text", "text": "A long, cached preamble.", "cache_control": {"type": "ephemeral"}}]
    sent = body("m", [{"role": "system", "content": blocks}, {"role": "system", "content": "Be brief."},
                      {"role": "user", "content": "Hi"}], {"stop": None})
    assert sent["system"] == [*blocks, {"type": "text", "text": "Be brief."}]
    assert "stop_sequences" not in sent


def test_body_takes_max_tokens_under_any_of_its_names_and_cannot_turn_streaming_off() -> None:
    assert body("m", [], {"max_output_tokens": 64})["max_tokens"] == 64
    assert body("m", [], {"max_tokens": 8, "stream": False})["stream"] is True
