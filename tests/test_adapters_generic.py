"""The generic SSE adapter keeps every message raw, and the factory's contract."""

from __future__ import annotations

import pytest

from nbstream.events import Other
from nbstream.wire.adapters import Adapter, make_adapter


@pytest.mark.parametrize(
    "name, data, id",
    [
        ("message", "hello world", None),
        ("update", '{"price": 101.5}', "42"),
        ("message", "[DONE]", None),
        ("ping", "", "7"),
    ],
    ids=["plain-text", "json-text-stays-text", "done-marker", "empty"],
)
def test_every_message_becomes_other_with_the_data_as_received(name, data, id):
    assert make_adapter("sse").feed(name, data, id) == [Other(type=name, data=data, id=id)]


def test_decoded_dict_is_passed_on_untouched():
    data = {"a": 1}
    [ev] = make_adapter("sse").feed("message", data)
    assert ev.data is data


def test_invalid_json_is_not_an_error_for_generic_feeds():
    assert make_adapter("sse").feed("message", "{oops") == [Other(type="message", data="{oops")]


@pytest.mark.parametrize("kind", ["chat", "responses", "ollama", "sse", "auto"])
def test_every_format_gives_an_adapter(kind):
    assert isinstance(make_adapter(kind), Adapter)


def test_each_call_gives_a_fresh_adapter_because_adapters_keep_stream_state():
    assert make_adapter("chat") is not make_adapter("chat")


@pytest.mark.parametrize("kind", ["openai", "Chat", "", None])
def test_unknown_format_is_a_value_error_naming_the_choices(kind):
    with pytest.raises(ValueError, match="'chat', 'responses', 'ollama', 'anthropic', 'gemini', 'sse', 'auto'"):
        make_adapter(kind)
