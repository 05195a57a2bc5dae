"""The "auto" adapter decides the format on the first decisive message and sticks to it."""

from __future__ import annotations

import json

import pytest

from nbstream.events import Done, ErrorEvent, Meta, Other, TextDelta
from nbstream.wire.adapters import make_adapter

CHAT_CHUNK = json.dumps({"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "m",
                         "choices": [{"index": 0, "delta": {"content": "Hi"}, "finish_reason": None}]})
RESPONSES_EVENT = json.dumps({"type": "response.output_text.delta", "item_id": "msg_1", "output_index": 0,
                              "content_index": 0, "delta": "Hi", "sequence_number": 4})
OLLAMA_LINE = json.dumps({"model": "llama3.2", "created_at": "2024-01-01T00:00:00Z",
                          "message": {"role": "assistant", "content": "Hi"}, "done": False})
OLLAMA_GENERATE_LINE = json.dumps({"model": "llama3.2", "created_at": "2024-01-01T00:00:00Z", "response": "Hi",
                                   "done": False})


@pytest.mark.parametrize(
    "name, data, kind",
    [
        ("message", CHAT_CHUNK, "chat"),
        ("message", "[DONE]", "chat"),
        ("message", json.dumps({"object": "chat.completion.chunk", "choices": []}), "chat"),
        ("message", json.dumps({"id": "cmpl-1", "choices": [{"text": "Hi", "index": 0}]}), "chat"),
        ("response.output_text.delta", RESPONSES_EVENT, "responses"),
        ("message", RESPONSES_EVENT, "responses"),
        ("response.created", json.dumps({"response": {"id": "resp_1"}}), "responses"),
        ("", OLLAMA_LINE, "ollama"),
        ("", OLLAMA_GENERATE_LINE, "ollama"),
        ("message", "hello", "sse"),
        ("message", json.dumps({"price": 1}), "sse"),
        ("tick", "42", "sse"),
    ],
    ids=["chat-chunk", "done-marker", "chat-object", "legacy-completions", "responses-by-type-and-name",
         "responses-by-type", "responses-by-name", "ollama-chat", "ollama-generate", "plain-text", "other-json",
         "json-number"],
)
def test_first_decisive_message_picks_the_format(name, data, kind):
    ad = make_adapter("auto")
    ad.feed(name, data)
    assert ad.kind == kind


@pytest.mark.parametrize(
    "name, data, expected",
    [
        ("message", CHAT_CHUNK, TextDelta("Hi")),
        ("response.output_text.delta", RESPONSES_EVENT, TextDelta("Hi")),
        ("", OLLAMA_LINE, TextDelta("Hi")),
    ],
    ids=["chat", "responses", "ollama"],
)
def test_deciding_message_is_adapted_by_the_chosen_format(name, data, expected):
    assert make_adapter("auto").feed(name, data)[-1] == expected


def test_generic_feed_keeps_json_text_as_text():
    data = json.dumps({"price": 1})
    assert make_adapter("auto").feed("message", data) == [Other(type="message", data=data)]


def test_decision_sticks_for_later_messages():
    ad = make_adapter("auto")
    ad.feed("message", "hello")
    assert ad.feed("message", CHAT_CHUNK) == [Other(type="message", data=CHAT_CHUNK)]


def test_chat_decision_sticks_for_a_later_done_marker():
    ad = make_adapter("auto")
    ad.feed("message", CHAT_CHUNK)
    assert ad.feed("message", "[DONE]") == [Done()]


@pytest.mark.parametrize(
    "payload, expected",
    [
        ({"error": {"message": "Invalid API key", "type": "invalid_request_error", "code": "invalid_api_key"}},
         ErrorEvent("Invalid API key", code="invalid_api_key", type="invalid_request_error")),
        ({"error": "model not found"}, ErrorEvent("model not found")),
        ({"type": "error", "code": "server_error", "message": "boom"}, ErrorEvent("boom", code="server_error")),
    ],
    ids=["openai", "ollama", "responses-error-event"],
)
def test_error_before_anything_is_reported_without_deciding(payload, expected):
    ad = make_adapter("auto")
    assert ad.feed("message", json.dumps(payload)) == [expected]
    assert ad.kind is None


def test_format_is_still_decided_after_an_early_error():
    ad = make_adapter("auto")
    ad.feed("message", json.dumps({"error": "warming up"}))
    ad.feed("message", CHAT_CHUNK)
    assert ad.kind == "chat"


def test_empty_message_before_anything_is_kept_without_deciding():
    ad = make_adapter("auto")
    assert ad.feed("ping", "") == [Other(type="ping", data="")]
    assert ad.kind is None


def test_invalid_json_first_means_a_generic_feed():
    ad = make_adapter("auto")
    assert ad.feed("message", "{partial") == [Other(type="message", data="{partial")]
    assert ad.kind == "sse"


def test_chat_stream_through_auto_gives_the_same_events_as_the_chat_adapter():
    stream = [
        json.dumps({"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m",
                    "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}]}),
        CHAT_CHUNK,
        "[DONE]",
    ]
    auto, chat = make_adapter("auto"), make_adapter("chat")
    via_auto = [e for s in stream for e in auto.feed("message", s)]
    assert via_auto == [e for s in stream for e in chat.feed("message", s)]
    assert isinstance(via_auto[0], Meta)
