"""A multi-turn conversation with Anthropic's Messages API keeps each assistant turn's
thinking blocks with their signatures (and redacted_thinking blocks) and sends them back,
as Anthropic requires. The demo endpoint refuses, as Anthropic does, a later turn that lost
them; ``%%stream --chat`` runs in a real kernel against it over loopback."""

from __future__ import annotations

import json

import pytest
from _kernel import execute

import nbstream
from nbstream.demo import serve
from nbstream.events import Other, ReasoningDelta, TextDelta, ToolCallDelta
from nbstream.wire.anthropic import AnthropicAdapter, assistant_content

pytestmark = pytest.mark.usefixtures("no_providers")  # none of the provider variables set

FAST = {"ttft": 0.0, "tps": 5000.0, "jitter": 0.0}


@pytest.fixture(scope="module")
def server():
    with serve(**FAST) as running:
        yield running



def ask(server, session, messages, model="demo-reasoning") -> nbstream.Run:
    return nbstream.stream(messages=messages, model=model, base_url=server.base_url.removesuffix("/v1"),
                           api="anthropic", api_key="x", session=session)


def first_turn(server, session, model="demo-reasoning") -> tuple[list[dict], nbstream.Run]:
    user = {"role": "user", "content": "Explain SSE"}
    run = ask(server, session, [user], model)
    assert run.status == "done", run.error
    return [user, {"role": "assistant", "content": assistant_content(run.events)},
            {"role": "user", "content": "And WebSockets?"}], run


# ---- the blocks, from the documented event shapes ---------------------------------------------
def fed(*events: dict) -> list:
    adapter = AnthropicAdapter()
    return [ev for e in events for ev in adapter.feed(e["type"], e)]


def start(i: int, block: dict) -> dict:
    return {"type": "content_block_start", "index": i, "content_block": block}


def delta(i: int, d: dict) -> dict:
    return {"type": "content_block_delta", "index": i, "delta": d}


THINK = [start(0, {"type": "thinking", "thinking": ""}),
         delta(0, {"type": "thinking_delta", "thinking": "Let me "}),
         delta(0, {"type": "thinking_delta", "thinking": "think."}),
         delta(0, {"type": "signature_delta", "signature": "EqQBCgIYAhIM"}),
         {"type": "content_block_stop", "index": 0}]


@pytest.mark.parametrize(("events", "expected"), [
    ([start(0, {"type": "text", "text": ""}), delta(0, {"type": "text_delta", "text": "Hi"})], "Hi"),
    ([*THINK, start(1, {"type": "text", "text": ""}), delta(1, {"type": "text_delta", "text": "Hi"})],
     [{"type": "thinking", "thinking": "Let me think.", "signature": "EqQBCgIYAhIM"}, {"type": "text", "text": "Hi"}]),
    ([*THINK, start(1, {"type": "redacted_thinking", "data": "EmwKAhgB"}), {"type": "content_block_stop", "index": 1},
      start(2, {"type": "text", "text": "Hi"})],
     [{"type": "thinking", "thinking": "Let me think.", "signature": "EqQBCgIYAhIM"},
      {"type": "redacted_thinking", "data": "EmwKAhgB"}, {"type": "text", "text": "Hi"}]),
    (THINK[:3] + [start(1, {"type": "text", "text": "cut"})], "cut"),
    ([*THINK, start(1, {"type": "tool_use", "id": "toolu_1", "name": "f", "input": {}}),
      delta(1, {"type": "input_json_delta", "partial_json": "{}"})],
     [{"type": "thinking", "thinking": "Let me think.", "signature": "EqQBCgIYAhIM"}]),
], ids=["text-only", "thinking-then-text", "redacted-kept", "unsigned-thinking-dropped", "tool-use-left-out"])
def test_the_assistant_turn_is_its_blocks_in_stream_order(events, expected):
    assert assistant_content(fed(*events)) == expected


WHOLE_THINKING = {"type": "thinking", "thinking": "Let me think.", "signature": "EqQBCgIYAhIM"}


@pytest.mark.parametrize("events", [
    [start(0, WHOLE_THINKING), {"type": "content_block_stop", "index": 0}, start(1, {"type": "text", "text": "Hi"})],
    [{"type": "message", "id": "msg_1", "role": "assistant", "model": "m", "stop_reason": "end_turn",
      "content": [WHOLE_THINKING, {"type": "text", "text": "Hi"}]}],
], ids=["content_block_start", "non-streamed-message"])
def test_a_signature_inside_a_whole_thinking_block_is_kept_as_a_streamed_one_is(events):
    assert assistant_content(fed(*events)) == [WHOLE_THINKING, {"type": "text", "text": "Hi"}]


def test_a_signature_of_the_wrong_type_does_not_make_a_block():
    events = [ReasoningDelta("x"), Other(type="thinking.signature", data={"signature": 5}), TextDelta("Hi"),
              ToolCallDelta(0, name="f")]
    assert assistant_content(events) == "Hi"


# ---- the demo endpoint checks them, as Anthropic does ------------------------------------------
def test_a_second_turn_with_the_thinking_block_sent_back_is_answered(server, session):
    messages, _ = first_turn(server, session)
    assert [b["type"] for b in messages[1]["content"]] == ["thinking", "text"]
    again = ask(server, session, messages)
    assert again.status == "done", again.error


def test_a_second_turn_without_the_thinking_block_is_refused(server, session):
    messages, run = first_turn(server, session)
    messages[1] = {"role": "assistant", "content": run.text}
    again = ask(server, session, messages)
    assert again.status == "error" and "HTTP 400" in str(again.error) and "thinking block" in str(again.error)


def test_a_second_turn_with_a_tampered_signature_is_refused(server, session):
    messages, _ = first_turn(server, session)
    messages[1]["content"][0]["signature"] = "forged"
    again = ask(server, session, messages)
    assert "Invalid `signature` in `thinking` block" in str(again.error)


def test_redacted_thinking_is_sent_back_unchanged(server, session):
    messages, _ = first_turn(server, session, "demo-redacted")
    assert [b["type"] for b in messages[1]["content"]] == ["thinking", "redacted_thinking", "text"]
    assert ask(server, session, messages, "demo-redacted").status == "done"
    messages[1]["content"] = [b for b in messages[1]["content"] if b["type"] != "redacted_thinking"]
    refused = ask(server, session, messages, "demo-redacted")
    assert "redacted_thinking" in str(refused.error)


# ---- %%stream --chat in a real kernel ----------------------------------------------------------
@pytest.fixture(scope="module")
def nb():
    return execute([
        "%%stream --chat c -m anthropic:demo-redacted -o one\nExplain SSE",                              # 1
        "%%stream --chat c -m anthropic:demo-redacted -o two\nAnd WebSockets?",                          # 2
        "import json\nprint(json.dumps([two.status, [[b['type'] for b in m['content']] "
        "for m in two.prompt if m['role'] == 'assistant']]))",                                            # 3
        "%%stream --chat c -m openai:demo -o three\nAnd long polling?",                                  # 4
        "print(json.dumps([three.status, [m['content'] == one.text for m in three.prompt "
        "if m['role'] == 'assistant']]))",                                                               # 5
    ])


def test_chat_sends_anthropic_s_thinking_blocks_back_and_the_next_turn_is_answered(nb):
    status, blocks = json.loads(nb.cells[3]["outputs"][0]["text"])
    assert status == "done" and blocks == [["thinking", "redacted_thinking", "text"]]


def test_chat_continued_with_another_provider_sends_the_turns_text(nb):
    status, same = json.loads(nb.cells[5]["outputs"][0]["text"])
    assert status == "done" and same[0] is True and len(same) == 2
