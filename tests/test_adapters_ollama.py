"""Ollama native NDJSON (/api/chat and /api/generate) -> normalized events."""

from __future__ import annotations

import json

import orjson
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
from nbstream.wire.adapters import make_adapter

TIMINGS = {"total_duration": 4883583458, "load_duration": 1334875, "prompt_eval_count": 26,
           "prompt_eval_duration": 342546000, "eval_count": 282, "eval_duration": 4535599000}


def chat_line(content="", done=False, **extra):
    message = {"role": "assistant", "content": content}
    message.update(extra.pop("message", {}))
    return json.dumps({"model": "llama3.2", "created_at": "2023-08-04T08:52:19.385406455-07:00",
                       "message": message, "done": done, **extra})


def generate_line(response="", done=False, **extra):
    return json.dumps({"model": "llama3.2", "created_at": "2023-08-04T19:22:45.499127Z", "response": response,
                       "done": done, **extra})


CHAT = [
    chat_line("The sky"),
    chat_line(" is blue."),
    chat_line("", done=True, done_reason="stop", **TIMINGS),
]
GENERATE = [
    generate_line("The"),
    generate_line(" sky is blue."),
    generate_line("", done=True, done_reason="stop", context=[1, 2, 3], **TIMINGS),
]
THINKING_CHAT = [
    chat_line("", message={"thinking": "Rayleigh "}),
    chat_line("", message={"thinking": "scattering."}),
    chat_line("The sky is blue."),
    chat_line("", done=True, done_reason="stop", **TIMINGS),
]
STREAMS = {"chat": CHAT, "generate": GENERATE, "thinking": THINKING_CHAT}


def feed_all(ad, lines):
    return [e for line in lines for e in ad.feed("", line)]


@pytest.mark.parametrize("stream", STREAMS.values(), ids=STREAMS.keys())
def test_joined_text_deltas_equal_the_answer(stream):
    events = feed_all(make_adapter("ollama"), stream)
    assert "".join(e.text for e in events if type(e) is TextDelta) == "The sky is blue."


@pytest.mark.parametrize("stream", STREAMS.values(), ids=STREAMS.keys())
def test_feeding_dicts_gives_the_same_events_as_json_text(stream):
    as_dicts = feed_all(make_adapter("ollama"), [orjson.loads(s) for s in stream])
    assert as_dicts == feed_all(make_adapter("ollama"), stream)


def test_first_line_becomes_created_meta_with_the_model():
    assert make_adapter("ollama").feed("", CHAT[0])[0] == Meta(stage="created", model="llama3.2", role="assistant")


def test_generate_first_line_becomes_created_meta_then_text():
    assert make_adapter("ollama").feed("", GENERATE[0]) == [Meta(stage="created", model="llama3.2"), TextDelta("The")]


@pytest.mark.parametrize("stream", [THINKING_CHAT, [generate_line("", thinking="Rayleigh scattering.")]],
                         ids=["chat", "generate"])
def test_thinking_becomes_reasoning_delta(stream):
    events = feed_all(make_adapter("ollama"), stream)
    assert "".join(e.text for e in events if type(e) is ReasoningDelta) == "Rayleigh scattering."


def test_done_line_gives_usage_with_server_timings_then_finish_and_done():
    ad = make_adapter("ollama")
    ad.feed("", CHAT[0])
    assert ad.feed("", CHAT[-1]) == [
        Usage(input_tokens=26, output_tokens=282, total_tokens=308, server=TIMINGS),
        Finish("stop"),
        Done(),
    ]


def test_done_line_without_done_reason_finishes_with_stop():
    ad = make_adapter("ollama")
    ad.feed("", CHAT[0])
    assert ad.feed("", chat_line("", done=True, eval_count=3))[1] == Finish("stop")


def test_done_reason_length_is_kept():
    ad = make_adapter("ollama")
    ad.feed("", CHAT[0])
    assert Finish("length") in ad.feed("", chat_line("", done=True, done_reason="length"))


def test_missing_prompt_count_leaves_input_and_total_unknown():
    ad = make_adapter("ollama")
    ad.feed("", CHAT[0])
    [usage, *_] = ad.feed("", chat_line("", done=True, eval_count=5, eval_duration=100))
    assert (usage.input_tokens, usage.output_tokens, usage.total_tokens) == (None, 5, None)
    assert usage.server == {"eval_count": 5, "eval_duration": 100}


def test_whole_tool_calls_become_tool_call_deltas_with_json_arguments():
    calls = [{"function": {"name": "get_weather", "arguments": {"city": "Paris"}}},
             {"function": {"name": "get_time", "arguments": {}}}]
    ad = make_adapter("ollama")
    ad.feed("", CHAT[0])
    events = ad.feed("", chat_line("", message={"tool_calls": calls}))
    assert events == [ToolCallDelta(0, name="get_weather", arguments='{"city":"Paris"}'),
                      ToolCallDelta(1, name="get_time", arguments="{}")]


def test_tool_calls_on_later_lines_get_new_indexes():
    ad = make_adapter("ollama")
    call = {"id": "call_x", "function": {"index": 0, "name": "f", "arguments": {}}}
    first = ad.feed("", chat_line("", message={"tool_calls": [call]}))[-1]
    second = ad.feed("", chat_line("", message={"tool_calls": [call]}))[-1]
    assert (first.index, first.id, second.index) == (0, "call_x", 1)


def test_error_line_becomes_error_event():
    assert make_adapter("ollama").feed("", '{"error": "model \'x\' not found"}') == [ErrorEvent("model 'x' not found")]


def test_invalid_line_is_a_recoverable_error_and_later_lines_still_work():
    ad = make_adapter("ollama")
    [err] = ad.feed("", "{not json")
    assert err.fatal is False
    assert ad.feed("", CHAT[1])[-1] == TextDelta(" is blue.")


def test_unrelated_line_is_kept_as_other():
    data = {"status": "pulling manifest"}
    assert make_adapter("ollama").feed("", json.dumps(data)) == [Other(type="message", data=data)]


def test_line_of_unexpected_shape_is_a_recoverable_error_not_an_exception():
    [err] = make_adapter("ollama").feed("", chat_line("", message={"tool_calls": 5}))
    assert (err.fatal, err.message.startswith("unexpected shape of stream event: ")) == (False, True)
