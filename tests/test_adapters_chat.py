"""Chat Completions chunks -> normalized events, from the stream shapes servers document."""

from __future__ import annotations

import json

import orjson
import pytest
from openai.types.chat import ChatCompletionChunk

from nbstream.events import (
    Done,
    ErrorEvent,
    Finish,
    Meta,
    Other,
    ReasoningDelta,
    RefusalDelta,
    TextDelta,
    ToolCallDelta,
    Usage,
)
from nbstream.wire.adapters import make_adapter


def chunk(delta=None, finish=None, index=0, **top):
    """A chat.completion.chunk with one choice, as OpenAI sends it."""
    body = {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1727000000,
        "model": "gpt-4o-mini",
        "choices": [{"index": index, "delta": delta or {}, "logprobs": None, "finish_reason": finish}],
    }
    body.update(top)
    return json.dumps(body)


def started():
    """An adapter that has already seen the stream's first (role) chunk."""
    ad = make_adapter("chat")
    ad.feed("message", chunk({"role": "assistant", "content": ""}))
    return ad


def feed_all(ad, messages):
    events = []
    for data in messages:
        events.extend(ad.feed("message", data))
    return events


def text_of(events, choice=0):
    return "".join(e.text for e in events if type(e) is TextDelta and e.choice == choice)


# ---- documented streams ----------------------------------------------------------------

OPENAI = [
    chunk({"role": "assistant", "content": "", "refusal": None}),
    chunk({"content": "The"}),
    chunk({"content": " sky"}),
    chunk({"content": " is blue."}),
    chunk({}, finish="stop"),
    json.dumps({"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1727000000,
                "model": "gpt-4o-mini", "choices": [],
                "usage": {"prompt_tokens": 12, "completion_tokens": 4, "total_tokens": 16,
                          "prompt_tokens_details": {"cached_tokens": 0},
                          "completion_tokens_details": {"reasoning_tokens": 0}}}),
    "[DONE]",
]

LLAMA_CPP_TIMINGS = {"prompt_n": 11, "prompt_ms": 40.1, "predicted_n": 4, "predicted_ms": 80.5,
                     "predicted_per_second": 49.7}
LLAMA_CPP = [
    json.dumps({"choices": [{"finish_reason": None, "index": 0, "delta": {"role": "assistant", "content": None}}],
                "created": 1737000000, "id": "chatcmpl-abc", "model": "qwen2.5-0.5b", "system_fingerprint": "b4500",
                "object": "chat.completion.chunk"}),
    json.dumps({"choices": [{"finish_reason": None, "index": 0, "delta": {"content": "The"}}],
                "created": 1737000000, "id": "chatcmpl-abc", "model": "qwen2.5-0.5b",
                "object": "chat.completion.chunk"}),
    json.dumps({"choices": [{"finish_reason": None, "index": 0, "delta": {"content": " sky is blue."}}],
                "created": 1737000000, "id": "chatcmpl-abc", "model": "qwen2.5-0.5b",
                "object": "chat.completion.chunk"}),
    json.dumps({"choices": [{"finish_reason": "stop", "index": 0, "delta": {}}], "created": 1737000000,
                "id": "chatcmpl-abc", "model": "qwen2.5-0.5b", "object": "chat.completion.chunk",
                "timings": LLAMA_CPP_TIMINGS}),
    "[DONE]",
]

DEEPSEEK = [
    chunk({"role": "assistant", "content": None, "reasoning_content": ""}, model="deepseek-reasoner"),
    chunk({"content": None, "reasoning_content": "Rayleigh"}),
    chunk({"content": None, "reasoning_content": " scattering."}),
    chunk({"content": "The sky", "reasoning_content": None}),
    chunk({"content": " is blue.", "reasoning_content": None}),
    chunk({"content": "", "reasoning_content": None}, finish="stop",
          usage={"prompt_tokens": 9, "completion_tokens": 30, "total_tokens": 39, "prompt_cache_hit_tokens": 0,
                 "completion_tokens_details": {"reasoning_tokens": 20}}),
    "[DONE]",
]

OPENROUTER = [
    chunk({"role": "assistant", "content": "", "reasoning": "Think"}, provider="OpenAI"),
    chunk({"content": "", "reasoning": "ing."}),
    chunk({"content": "The sky is", "reasoning": None}),
    chunk({"content": " blue."}, native_finish_reason="stop"),
    chunk({"content": ""}, finish="stop"),
    "[DONE]",
]

VLLM_CONTINUOUS_USAGE = [
    chunk({"role": "assistant", "content": ""}, usage={"prompt_tokens": 7, "completion_tokens": 0, "total_tokens": 7}),
    chunk({"content": "The sky"}, usage={"prompt_tokens": 7, "completion_tokens": 2, "total_tokens": 9}),
    chunk({"content": " is blue."}, usage={"prompt_tokens": 7, "completion_tokens": 4, "total_tokens": 11}),
    chunk({"content": ""}, finish="stop", usage={"prompt_tokens": 7, "completion_tokens": 4, "total_tokens": 11}),
    "[DONE]",
]

STREAMS = {
    "openai": OPENAI,
    "llama.cpp": LLAMA_CPP,
    "deepseek": DEEPSEEK,
    "openrouter": OPENROUTER,
    "vllm": VLLM_CONTINUOUS_USAGE,
}


@pytest.mark.parametrize("stream", STREAMS.values(), ids=STREAMS.keys())
def test_joined_text_deltas_equal_the_answer(stream):
    events = feed_all(make_adapter("chat"), stream)
    assert text_of(events) == "The sky is blue."


@pytest.mark.parametrize("stream", STREAMS.values(), ids=STREAMS.keys())
def test_feeding_dicts_gives_the_same_events_as_json_text(stream):
    as_text = feed_all(make_adapter("chat"), stream)
    as_dicts = feed_all(make_adapter("chat"), [s if s == "[DONE]" else orjson.loads(s) for s in stream])
    assert as_dicts == as_text


def test_openai_sdk_chunks_dumped_to_dicts_give_the_same_events_as_json_text():
    dumped = [ChatCompletionChunk.model_validate_json(s).model_dump() for s in OPENAI[:-1]]
    assert feed_all(make_adapter("chat"), dumped) == feed_all(make_adapter("chat"), OPENAI[:-1])


@pytest.mark.parametrize("stream", STREAMS.values(), ids=STREAMS.keys())
def test_stream_ends_with_finish_then_done(stream):
    events = feed_all(make_adapter("chat"), stream)
    finishes = [e for e in events if type(e) is Finish]
    assert finishes == [Finish("stop")]
    assert events[-1] == Done()


# ---- first chunk -------------------------------------------------------------------------

def test_first_chunk_with_a_role_becomes_a_role_meta():
    events = make_adapter("chat").feed("message", OPENAI[0])
    assert events == [Meta(stage="role", id="chatcmpl-1", model="gpt-4o-mini", created=1727000000, role="assistant")]


def test_first_chunk_without_a_role_becomes_a_created_meta():
    events = make_adapter("chat").feed("message", chunk({"content": "Hi"}))
    assert events == [
        Meta(stage="created", id="chatcmpl-1", model="gpt-4o-mini", created=1727000000, role=None),
        TextDelta("Hi"),
    ]


def test_llama_cpp_first_chunk_with_null_content_is_only_a_meta():
    events = make_adapter("chat").feed("message", LLAMA_CPP[0])
    assert events == [Meta(stage="role", id="chatcmpl-abc", model="qwen2.5-0.5b", created=1737000000,
                           role="assistant")]


def test_a_role_repeated_on_every_chunk_is_announced_once():
    ad = started()
    events = ad.feed("message", chunk({"role": "assistant", "content": "Hi"}))
    assert events == [TextDelta("Hi")]


@pytest.mark.parametrize("content", [None, ""], ids=["null", "empty"])
def test_null_or_empty_content_gives_no_text_delta(content):
    assert started().feed("message", chunk({"content": content})) == []


# ---- content kinds -----------------------------------------------------------------------

@pytest.mark.parametrize("field", ["reasoning_content", "reasoning"])
def test_reasoning_field_becomes_reasoning_delta(field):
    assert started().feed("message", chunk({field: "Let me think"})) == [ReasoningDelta("Let me think")]


def test_same_reasoning_under_both_names_is_not_doubled():
    events = started().feed("message", chunk({"reasoning_content": "hmm", "reasoning": "hmm"}))
    assert events == [ReasoningDelta("hmm")]


def test_different_reasoning_under_both_names_keeps_both():
    events = started().feed("message", chunk({"reasoning_content": "a", "reasoning": "b"}))
    assert events == [ReasoningDelta("a"), ReasoningDelta("b")]


def test_refusal_becomes_refusal_delta():
    assert started().feed("message", chunk({"refusal": "I can't help"})) == [RefusalDelta("I can't help")]


def test_legacy_completions_text_becomes_text_delta():
    legacy = json.dumps({"id": "cmpl-1", "object": "text_completion", "created": 1, "model": "gpt-3.5-turbo-instruct",
                         "choices": [{"text": "Hello", "index": 0, "logprobs": None, "finish_reason": None}]})
    events = make_adapter("chat").feed("message", legacy)
    assert events[1:] == [TextDelta("Hello")]


def test_content_given_as_parts_splits_thinking_from_text():
    parts = [{"type": "thinking", "thinking": [{"type": "text", "text": "hmm"}]}, {"type": "text", "text": "Hi"}]
    assert started().feed("message", chunk({"content": parts})) == [ReasoningDelta("hmm"), TextDelta("Hi")]


# ---- tool calls --------------------------------------------------------------------------

TOOL_STREAM = [
    chunk({"role": "assistant", "content": None,
           "tool_calls": [{"index": 0, "id": "call_a", "type": "function",
                           "function": {"name": "get_weather", "arguments": ""}}]}),
    chunk({"tool_calls": [{"index": 0, "function": {"arguments": "{\"city\":"}}]}),
    chunk({"tool_calls": [{"index": 0, "function": {"arguments": " \"Paris\"}"}}]}),
    chunk({"tool_calls": [{"index": 1, "id": "call_b", "type": "function",
                           "function": {"name": "get_time", "arguments": "{}"}}]}),
    chunk({}, finish="tool_calls"),
]


def test_tool_call_fragments_are_keyed_by_index_with_id_and_name_first():
    calls = [e for e in feed_all(make_adapter("chat"), TOOL_STREAM) if type(e) is ToolCallDelta]
    assert calls == [
        ToolCallDelta(0, "call_a", "get_weather", ""),
        ToolCallDelta(0, None, None, "{\"city\":"),
        ToolCallDelta(0, None, None, " \"Paris\"}"),
        ToolCallDelta(1, "call_b", "get_time", "{}"),
    ]


def test_tool_call_stream_finishes_with_tool_calls():
    events = feed_all(make_adapter("chat"), TOOL_STREAM)
    assert events[-1] == Finish("tool_calls")


def test_tool_calls_without_index_use_their_position_in_the_list():
    calls = [{"id": "c1", "type": "function", "function": {"name": "a", "arguments": "{}"}},
             {"id": "c2", "type": "function", "function": {"name": "b", "arguments": "{}"}}]
    events = started().feed("message", chunk({"tool_calls": calls}))
    assert [(e.index, e.id) for e in events] == [(0, "c1"), (1, "c2")]


def test_whole_tool_calls_without_index_in_separate_chunks_get_separate_indexes():
    ad = started()
    first = ad.feed("message", chunk({"tool_calls": [{"id": "c1", "function": {"name": "a", "arguments": "{}"}}]}))
    second = ad.feed("message", chunk({"tool_calls": [{"id": "c2", "function": {"name": "b", "arguments": "{}"}}]}))
    assert (first[0].index, second[0].index) == (0, 1)


def test_tool_call_arguments_sent_as_an_object_become_json_text():
    call = {"index": 0, "id": "c1", "function": {"name": "a", "arguments": {"city": "Paris"}}}
    events = started().feed("message", chunk({"tool_calls": [call]}))
    assert json.loads(events[0].arguments) == {"city": "Paris"}


# ---- finish, usage, timings --------------------------------------------------------------

def test_finish_reason_in_its_own_empty_delta_chunk_becomes_finish():
    assert started().feed("message", chunk({}, finish="length")) == [Finish("length")]


def test_usage_chunk_with_empty_choices_becomes_usage():
    events = started().feed("message", OPENAI[5])
    assert events == [Usage(input_tokens=12, output_tokens=4, total_tokens=16, reasoning_tokens=0, cached_tokens=0)]


def test_usage_details_give_reasoning_and_cached_tokens():
    usage = {"prompt_tokens": 100, "completion_tokens": 50, "total_tokens": 150,
             "prompt_tokens_details": {"cached_tokens": 64}, "completion_tokens_details": {"reasoning_tokens": 30}}
    [ev] = started().feed("message", json.dumps({"id": "x", "choices": [], "usage": usage}))
    assert (ev.reasoning_tokens, ev.cached_tokens) == (30, 64)


def test_vllm_continuous_usage_gives_a_usage_on_every_chunk():
    events = feed_all(make_adapter("chat"), VLLM_CONTINUOUS_USAGE)
    assert [e.output_tokens for e in events if type(e) is Usage] == [0, 2, 4, 4]


def test_llama_cpp_timings_without_usage_become_usage_server():
    events = feed_all(make_adapter("chat"), LLAMA_CPP)
    assert [e for e in events if type(e) is Usage] == [Usage(server=LLAMA_CPP_TIMINGS)]


def test_llama_cpp_timings_with_usage_give_one_usage():
    last = chunk({}, finish="stop", timings=LLAMA_CPP_TIMINGS,
                 usage={"prompt_tokens": 11, "completion_tokens": 4, "total_tokens": 15})
    usages = [e for e in started().feed("message", last) if type(e) is Usage]
    assert usages == [Usage(input_tokens=11, output_tokens=4, total_tokens=15, server=LLAMA_CPP_TIMINGS)]


# ---- several choices ---------------------------------------------------------------------

def test_n_choices_carry_their_choice_index():
    stream = [
        chunk({"role": "assistant", "content": ""}, index=0),
        chunk({"role": "assistant", "content": ""}, index=1),
        chunk({"content": "Yes"}, index=0),
        chunk({"content": "No"}, index=1),
        chunk({}, finish="stop", index=1),
    ]
    events = feed_all(make_adapter("chat"), stream)
    assert (text_of(events, 0), text_of(events, 1)) == ("Yes", "No")
    assert events[-1] == Finish("stop", choice=1)


def test_a_second_choice_announcing_its_role_gives_a_role_meta():
    ad = started()
    events = ad.feed("message", chunk({"role": "assistant", "content": ""}, index=1))
    assert [(type(e), e.stage, e.role) for e in events] == [(Meta, "role", "assistant")]


# ---- errors, markers, odd payloads -------------------------------------------------------

@pytest.mark.parametrize(
    "payload, expected",
    [
        ({"error": {"message": "Rate limit reached", "type": "requests", "code": "rate_limit_exceeded"}},
         ErrorEvent("Rate limit reached", code="rate_limit_exceeded", type="requests")),
        ({"error": "model crashed"}, ErrorEvent("model crashed")),
        ({"error": {"message": "Provider returned error", "code": 502}}, ErrorEvent("Provider returned error", "502")),
        ({"object": "error", "message": "max tokens exceeded", "type": "BadRequestError", "param": None, "code": 400},
         ErrorEvent("max tokens exceeded", code="400", type="BadRequestError")),
    ],
    ids=["openai-object", "plain-text", "numeric-code", "vllm-error-object"],
)
def test_in_band_error_becomes_error_event(payload, expected):
    assert started().feed("message", json.dumps(payload)) == [expected]


def test_openrouter_mid_stream_error_keeps_its_error_finish():
    data = chunk({"content": ""}, finish="error", error={"code": "server_error", "message": "Provider disconnected"})
    assert started().feed("message", data) == [ErrorEvent("Provider disconnected", code="server_error"),
                                               Finish("error")]


def test_done_marker_becomes_done():
    assert started().feed("message", "[DONE]") == [Done()]


def test_extra_vendor_fields_are_tolerated():
    data = chunk({"content": "Hi"}, system_fingerprint="fp_1", obfuscation="xyz", x_groq={"id": "req_1"},
                 service_tier="default")
    assert started().feed("message", data) == [TextDelta("Hi")]


def test_invalid_json_is_a_recoverable_error():
    [ev] = started().feed("message", '{"choices": [')
    assert (ev.fatal, ev.raw) == (False, '{"choices": [')
    assert ev.message.startswith("invalid JSON in stream event: ")


def test_invalid_json_raw_is_cut_to_200_characters():
    [ev] = started().feed("message", "x" * 500)
    assert ev.raw == "x" * 200


def test_adapter_keeps_working_after_invalid_json():
    ad = started()
    ad.feed("message", "not json")
    assert ad.feed("message", chunk({"content": "still here"})) == [TextDelta("still here")]


def test_azure_prompt_filter_chunk_is_kept_as_other():
    data = {"choices": [], "created": 0, "id": "", "model": "", "object": "",
            "prompt_filter_results": [{"prompt_index": 0, "content_filter_results": {}}]}
    assert make_adapter("chat").feed("message", json.dumps(data)) == [Other(type="message", data=data)]


def test_json_that_is_not_an_object_is_kept_as_other():
    assert started().feed("message", "[1, 2]") == [Other(type="message", data=[1, 2])]


def test_chunk_of_unexpected_shape_is_a_recoverable_error_not_an_exception():
    [ev] = started().feed("message", '{"choices": ["x"]}')
    assert (ev.fatal, ev.raw) == (False, '{"choices": ["x"]}')
    assert ev.message.startswith("unexpected shape of stream event: ")
