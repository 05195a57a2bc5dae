"""Responses API typed events -> normalized events, from the documented stream shapes."""

from __future__ import annotations

import json

import orjson
import pytest
from openai.types.responses import ResponseStreamEvent
from pydantic import TypeAdapter

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

RESPONSE = {
    "id": "resp_1", "object": "response", "created_at": 1741290958, "status": "in_progress", "error": None,
    "incomplete_details": None, "model": "gpt-4.1-2025-04-14", "output": [], "parallel_tool_calls": True,
    "tool_choice": "auto", "tools": [], "usage": None,
}
USAGE = {"input_tokens": 37, "input_tokens_details": {"cached_tokens": 8, "cache_write_tokens": 0}, "output_tokens": 11,
         "output_tokens_details": {"reasoning_tokens": 3}, "total_tokens": 48}


def ev(type_, seq=None, **fields):
    """One Responses event as SSE data text (sequence_number only when given)."""
    body = {"type": type_, **fields}
    if seq is not None:
        body["sequence_number"] = seq
    return json.dumps(body)


def response(**changes):
    return {**RESPONSE, **changes}


MESSAGE_ITEM = {"id": "msg_1", "type": "message", "status": "in_progress", "role": "assistant", "content": []}
TEXT_STREAM = [
    ev("response.created", 0, response=response()),
    ev("response.in_progress", 1, response=response()),
    ev("response.output_item.added", 2, output_index=0, item=MESSAGE_ITEM),
    ev("response.content_part.added", 3, item_id="msg_1", output_index=0, content_index=0,
       part={"type": "output_text", "text": "", "annotations": []}),
    ev("response.output_text.delta", 4, item_id="msg_1", output_index=0, content_index=0, delta="The sky", logprobs=[]),
    ev("response.output_text.delta", 5, item_id="msg_1", output_index=0, content_index=0, delta=" is blue.",
       logprobs=[]),
    ev("response.output_text.done", 6, item_id="msg_1", output_index=0, content_index=0, text="The sky is blue.",
       logprobs=[]),
    ev("response.content_part.done", 7, item_id="msg_1", output_index=0, content_index=0,
       part={"type": "output_text", "text": "The sky is blue.", "annotations": []}),
    ev("response.output_item.done", 8, output_index=0,
       item={**MESSAGE_ITEM, "status": "completed",
             "content": [{"type": "output_text", "text": "The sky is blue.", "annotations": []}]}),
    ev("response.completed", 9, response=response(status="completed", usage=USAGE)),
]

CALL_ITEM = {"id": "fc_1", "type": "function_call", "status": "in_progress", "arguments": "", "call_id": "call_1",
             "name": "get_weather"}
TOOL_STREAM = [
    ev("response.created", 0, response=response()),
    ev("response.output_item.added", 1, output_index=0, item=CALL_ITEM),
    ev("response.function_call_arguments.delta", 2, item_id="fc_1", output_index=0, delta="{\"city\":"),
    ev("response.function_call_arguments.delta", 3, item_id="fc_1", output_index=0, delta="\"Paris\"}"),
    ev("response.function_call_arguments.done", 4, item_id="fc_1", output_index=0, arguments="{\"city\":\"Paris\"}"),
    ev("response.output_item.done", 5, output_index=0,
       item={**CALL_ITEM, "status": "completed", "arguments": "{\"city\":\"Paris\"}"}),
    ev("response.completed", 6, response=response(status="completed", usage=USAGE)),
]

REASONING_STREAM = [
    ev("response.created", 0, response=response(model="o4-mini")),
    ev("response.output_item.added", 1, output_index=0,
       item={"id": "rs_1", "type": "reasoning", "summary": []}),
    ev("response.reasoning_summary_part.added", 2, item_id="rs_1", output_index=0, summary_index=0,
       part={"type": "summary_text", "text": ""}),
    ev("response.reasoning_summary_text.delta", 3, item_id="rs_1", output_index=0, summary_index=0,
       delta="**Thinking**"),
    ev("response.reasoning_summary_text.done", 4, item_id="rs_1", output_index=0, summary_index=0,
       text="**Thinking**"),
    ev("response.output_item.added", 5, output_index=1, item={**MESSAGE_ITEM, "id": "msg_2"}),
    ev("response.output_text.delta", 6, item_id="msg_2", output_index=1, content_index=0, delta="The sky is blue.",
       logprobs=[]),
    ev("response.completed", 7, response=response(status="completed", usage=USAGE)),
]

# a server that omits sequence_number and output_index and sends [DONE] at the end
TERSE_STREAM = [
    ev("response.created", response=response()),
    ev("response.output_text.delta", item_id="msg_1", delta="The sky "),
    ev("response.output_text.delta", item_id="msg_1", delta="is blue."),
    ev("response.completed", response=response(status="completed")),
    "[DONE]",
]

STREAMS = {"text": TEXT_STREAM, "reasoning": REASONING_STREAM, "terse": TERSE_STREAM}


def feed_all(ad, messages):
    events = []
    for data in messages:
        name = "message" if data == "[DONE]" else json.loads(data)["type"]
        events.extend(ad.feed(name, data))
    return events


def text_of(events):
    return "".join(e.text for e in events if type(e) is TextDelta)


@pytest.mark.parametrize("stream", STREAMS.values(), ids=STREAMS.keys())
def test_joined_text_deltas_equal_the_answer(stream):
    assert text_of(feed_all(make_adapter("responses"), stream)) == "The sky is blue."


@pytest.mark.parametrize("stream", [*STREAMS.values(), TOOL_STREAM], ids=[*STREAMS.keys(), "tool"])
def test_feeding_dicts_gives_the_same_events_as_json_text(stream):
    as_text = feed_all(make_adapter("responses"), stream)
    dicts = [s if s == "[DONE]" else orjson.loads(s) for s in stream]
    ad = make_adapter("responses")
    as_dicts = [e for d in dicts for e in ad.feed("message" if d == "[DONE]" else d["type"], d)]
    assert as_dicts == as_text


def test_openai_sdk_events_dumped_to_dicts_give_the_same_events_as_json_text():
    adapter = TypeAdapter(ResponseStreamEvent)
    dumped = [adapter.validate_json(s).model_dump() for s in TEXT_STREAM]
    ad = make_adapter("responses")
    as_sdk = [e for d in dumped for e in ad.feed("", d)]
    assert as_sdk == feed_all(make_adapter("responses"), TEXT_STREAM)


def test_type_falls_back_to_the_sse_event_name():
    data = json.dumps({"item_id": "msg_1", "output_index": 0, "delta": "Hi"})
    assert make_adapter("responses").feed("response.output_text.delta", data) == [TextDelta("Hi")]


# ---- lifecycle ---------------------------------------------------------------------------

@pytest.mark.parametrize("stage", ["created", "in_progress"])
def test_lifecycle_event_becomes_meta_with_id_model_and_creation_time(stage):
    events = make_adapter("responses").feed("", ev(f"response.{stage}", 0, response=response()))
    assert events == [Meta(stage=stage, id="resp_1", model="gpt-4.1-2025-04-14", created=1741290958)]


def test_non_tool_output_item_added_becomes_meta():
    assert make_adapter("responses").feed("", TEXT_STREAM[2]) == [Meta(stage="output_item.added")]


@pytest.mark.parametrize(
    "message, stage",
    [(TEXT_STREAM[3], "content_part.added"), (TEXT_STREAM[6], "output_text.done"),
     (TEXT_STREAM[7], "content_part.done"), (TEXT_STREAM[8], "output_item.done"),
     (REASONING_STREAM[2], "reasoning_summary_part.added"), (REASONING_STREAM[4], "reasoning_summary_text.done")],
    ids=lambda v: v if isinstance(v, str) and not v.startswith("{") else "",
)
def test_done_and_part_events_become_meta_without_repeating_text(message, stage):
    assert make_adapter("responses").feed("", message) == [Meta(stage=stage)]


def test_unknown_response_event_is_kept_as_other():
    data = {"type": "response.web_search_call.searching", "output_index": 0, "item_id": "ws_1"}
    assert make_adapter("responses").feed("", json.dumps(data)) == [Other(type=data["type"], data=data)]


# ---- content -----------------------------------------------------------------------------

def test_output_text_delta_becomes_text_delta():
    assert make_adapter("responses").feed("", TEXT_STREAM[4]) == [TextDelta("The sky")]


def test_reasoning_text_delta_becomes_reasoning_delta():
    data = ev("response.reasoning_text.delta", 3, item_id="rs_1", output_index=0, content_index=0, delta="Hmm")
    assert make_adapter("responses").feed("", data) == [ReasoningDelta("Hmm")]


def test_reasoning_summary_delta_becomes_summary_reasoning_delta():
    assert make_adapter("responses").feed("", REASONING_STREAM[3]) == [ReasoningDelta("**Thinking**", summary=True)]


def test_refusal_delta_becomes_refusal_delta():
    data = ev("response.refusal.delta", 4, item_id="msg_1", output_index=0, content_index=0, delta="I can't")
    assert make_adapter("responses").feed("", data) == [RefusalDelta("I can't")]


# ---- tool calls --------------------------------------------------------------------------

def test_function_call_stream_gives_tool_call_deltas_keyed_by_output_index():
    calls = [e for e in feed_all(make_adapter("responses"), TOOL_STREAM) if type(e) is ToolCallDelta]
    assert calls == [
        ToolCallDelta(0, id="call_1", name="get_weather", arguments=""),
        ToolCallDelta(0, arguments="{\"city\":"),
        ToolCallDelta(0, arguments="\"Paris\"}"),
    ]


def test_arguments_delta_without_output_index_finds_its_call_by_item_id():
    ad = make_adapter("responses")
    ad.feed("", ev("response.output_item.added", output_index=3, item=CALL_ITEM))
    events = ad.feed("", ev("response.function_call_arguments.delta", item_id="fc_1", delta="{}"))
    assert events == [ToolCallDelta(3, arguments="{}")]


def test_arguments_sent_only_in_the_done_event_are_not_lost():
    ad = make_adapter("responses")
    ad.feed("", TOOL_STREAM[1])
    events = ad.feed("", TOOL_STREAM[4])
    assert events == [ToolCallDelta(0, arguments="{\"city\":\"Paris\"}"), Meta(stage="function_call_arguments.done")]


def test_call_seen_only_in_output_item_done_is_sent_whole_once():
    ad = make_adapter("responses")
    events = ad.feed("", TOOL_STREAM[5])
    assert events == [ToolCallDelta(0, id="call_1", name="get_weather", arguments="{\"city\":\"Paris\"}"),
                      Meta(stage="output_item.done")]


def test_output_item_done_after_streamed_arguments_repeats_nothing():
    events = feed_all(make_adapter("responses"), TOOL_STREAM)
    assert len([e for e in events if type(e) is ToolCallDelta]) == 3


def test_calls_of_a_second_response_in_one_stream_get_new_indexes():
    ad = make_adapter("responses")
    feed_all(ad, TOOL_STREAM[:-1])
    ad.feed("", TOOL_STREAM[0])
    [second] = ad.feed("", ev("response.output_item.added", output_index=0, item={**CALL_ITEM, "call_id": "call_2"}))
    assert second.index == 1


# ---- terminal events ---------------------------------------------------------------------

def test_completed_gives_usage_finish_and_done():
    events = make_adapter("responses").feed("", TEXT_STREAM[-1])
    assert events == [
        Usage(input_tokens=37, output_tokens=11, total_tokens=48, reasoning_tokens=3, cached_tokens=8),
        Finish("completed"),
        Done("completed"),
    ]


def test_completed_without_usage_gives_finish_and_done():
    events = make_adapter("responses").feed("", ev("response.completed", response=response(status="completed")))
    assert events == [Finish("completed"), Done("completed")]


def test_incomplete_gives_usage_the_reason_and_an_incomplete_done():
    data = ev("response.incomplete", 9, response=response(status="incomplete", usage=USAGE,
                                                          incomplete_details={"reason": "max_output_tokens"}))
    events = make_adapter("responses").feed("", data)
    assert [type(e) for e in events] == [Usage, Finish, Done]
    assert events[1:] == [Finish("max_output_tokens"), Done("incomplete")]


def test_incomplete_without_details_finishes_as_incomplete():
    data = ev("response.incomplete", response=response(status="incomplete"))
    assert make_adapter("responses").feed("", data) == [Finish("incomplete"), Done("incomplete")]


def test_failed_gives_the_error_and_a_failed_done():
    data = ev("response.failed", 3, response=response(status="failed",
                                                      error={"code": "server_error", "message": "Model crashed"}))
    assert make_adapter("responses").feed("", data) == [ErrorEvent("Model crashed", code="server_error"),
                                                        Done("failed")]


@pytest.mark.parametrize(
    "payload",
    [{"type": "error", "code": "rate_limit_exceeded", "message": "Slow down", "param": None, "sequence_number": 1},
     {"type": "error", "error": {"code": "rate_limit_exceeded", "message": "Slow down"}, "sequence_number": 1}],
    ids=["flat", "nested"],
)
def test_error_event_becomes_error_event(payload):
    assert make_adapter("responses").feed("error", json.dumps(payload)) == [ErrorEvent("Slow down",
                                                                                       code="rate_limit_exceeded")]


def test_done_marker_without_a_terminal_event_becomes_done():
    ad = make_adapter("responses")
    ad.feed("", TEXT_STREAM[4])
    assert ad.feed("message", "[DONE]") == [Done()]


def test_done_marker_after_a_terminal_event_is_only_meta():
    events = feed_all(make_adapter("responses"), TERSE_STREAM)
    assert events[-3:] == [Finish("completed"), Done("completed"), Meta(stage="[DONE]")]


def test_invalid_json_is_a_recoverable_error_and_the_stream_goes_on():
    ad = make_adapter("responses")
    [err] = ad.feed("", "{oops")
    assert (type(err), err.fatal) == (ErrorEvent, False)
    assert ad.feed("", TEXT_STREAM[4]) == [TextDelta("The sky")]


def test_event_of_unexpected_shape_is_a_recoverable_error_not_an_exception():
    [err] = make_adapter("responses").feed("", ev("response.output_item.added", output_index=0, item="fc_1"))
    assert (err.fatal, err.message.startswith("unexpected shape of stream event: ")) == (False, True)


def test_llama_cpp_timings_beside_the_response_become_server_figures():
    ad = make_adapter("responses")
    events = ad.feed("response.completed", {
        "type": "response.completed",
        "response": {"id": "r", "status": "completed", "usage": {"input_tokens": 21, "output_tokens": 4}},
        "timings": {"prompt_n": 5, "predicted_n": 4, "predicted_ms": 110.5}})
    (usage,) = [e for e in events if isinstance(e, Usage)]
    assert usage.output_tokens == 4 and usage.server == {"prompt_n": 5, "predicted_n": 4, "predicted_ms": 110.5}
