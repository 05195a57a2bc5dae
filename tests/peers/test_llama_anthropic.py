"""Anthropic's Messages API against a real server we did not write: llama.cpp's
``llama-server`` serves ``POST /v1/messages`` (message_start … message_stop, stop_reason,
usage). ``stream(api="anthropic")`` and ``show()`` of the anthropic SDK's own stream read
it into the same Run as Chat Completions."""

from __future__ import annotations

import asyncio
import time

import anthropic
import pytest
from _kernel import execute
from _slots import decodes, slot_busy, wait_idle

import nbstream
from nbstream.events import TextDelta

pytestmark = pytest.mark.peers

PROMPT = "Write a short story about a cat who learns to fly."
GREEDY = {"temperature": 0, "seed": 7, "cache_prompt": False}


def ask(llama, **kw) -> nbstream.Run:
    params = {**GREEDY, "max_tokens": 24, **kw}
    return nbstream.stream(PROMPT, base_url=llama.base_url, model=llama.model, api="anthropic",
                           api_key="sk-llama-needs-no-key", **params)


def test_messages_stream_ends_done_with_text_stop_reason_and_exact_usage(llama):
    run = ask(llama)
    assert run.status == "done", run.error
    assert run.text.strip() and run.wire_format == "anthropic"
    assert (run.finish_reason, run.finish_reason_raw) in (("stop", "end_turn"), ("length", "max_tokens"))
    row = run.summary
    assert row["n_output_tokens_source"] in ("usage", "continuous_usage")
    assert 0 < row["n_output_tokens"] <= 24 and row["n_prompt_tokens"] > 0


def test_max_tokens_reached_ends_with_length_and_max_tokens(llama):
    run = ask(llama, max_tokens=8, ignore_eos=True)
    assert (run.status, run.finish_reason, run.finish_reason_raw) == ("done", "length", "max_tokens")
    assert run.usage.output_tokens == 8


def test_the_same_greedy_answer_as_chat_completions(llama):
    chat = nbstream.stream(PROMPT, base_url=llama.base_url, model=llama.model, max_tokens=12, ignore_eos=True,
                           **GREEDY)
    assert ask(llama, max_tokens=12, ignore_eos=True).text == chat.text


def test_cancel_mid_stream_keeps_the_partial_answer(llama):
    run = nbstream.stream(PROMPT, base_url=llama.base_url, model=llama.model, api="anthropic",
                          max_tokens=400, ignore_eos=True, block=False, **GREEDY)
    deadline = time.monotonic() + 120  # a hang guard, not a timing: we wait for a state
    while len(run.text) < 10 and not run.done and time.monotonic() < deadline:
        time.sleep(0.01)
    run.cancel()
    run.wait(60)
    assert run.status == "cancelled" and run.error is None
    assert len(run.text) >= 10 and run.text == "".join(e.text for e in run.events if isinstance(e, TextDelta))


def test_cancel_closes_the_connection_so_the_server_stops_generating(llama):
    long = 2048  # with ignore_eos the server would really make them all
    before = decodes(llama)
    run = nbstream.stream(PROMPT, base_url=llama.base_url, model=llama.model, api="anthropic",
                          max_tokens=long, ignore_eos=True, block=False, **GREEDY)
    deadline = time.monotonic() + 120  # a hang guard, not a timing: we wait for a state
    while len(run.text) < 10 and not run.done and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not run.done and slot_busy(llama)
    run.cancel()
    assert run.wait(60) and run.status == "cancelled"
    wait_idle(llama)
    made = decodes(llama) - before
    assert made < long / 2, f"the model made {made} of the {long} tokens asked for before it stopped"


def _sdk_run(llama, way: str) -> nbstream.Run:
    """``show()`` (or ``ashow()``) of one of the anthropic SDK's four stream objects."""
    kw = {"model": llama.model, "max_tokens": 12, "messages": [{"role": "user", "content": PROMPT}],
          "extra_body": {**GREEDY, "ignore_eos": True}}
    if way == "Stream":
        return nbstream.show(anthropic.Anthropic(base_url=llama.root, api_key="x").messages.create(stream=True, **kw),
                             display=False)
    if way == "MessageStream":
        with anthropic.Anthropic(base_url=llama.root, api_key="x").messages.stream(**kw) as stream:
            return nbstream.show(stream, display=False)

    async def main() -> nbstream.Run:
        client = anthropic.AsyncAnthropic(base_url=llama.root, api_key="x")
        if way == "AsyncStream":
            return await nbstream.ashow(await client.messages.create(stream=True, **kw), display=False)
        async with client.messages.stream(**kw) as stream:
            return await nbstream.ashow(stream, display=False)

    return asyncio.run(main())


@pytest.mark.parametrize("way", ["Stream", "AsyncStream", "MessageStream", "AsyncMessageStream"])
def test_show_reads_each_anthropic_sdk_stream_object_from_llama_server(llama, way):
    run = _sdk_run(llama, way)
    assert run.status == "done", run.error
    assert run.source == "sdk" and run.wire_format == "anthropic"  # read from the bytes, not the SDK's objects
    assert run.text == ask(llama, max_tokens=12, ignore_eos=True).text
    assert (run.finish_reason, run.finish_reason_raw) == ("length", "max_tokens") and run.usage.output_tokens == 12


# ---- a multi-turn conversation -----------------------------------------------------------
def test_a_second_turn_carrying_a_signed_thinking_block_is_accepted(llama):
    # what --chat sends back after a thinking model's turn: the blocks, signature included
    first = ask(llama, max_tokens=8, ignore_eos=True)
    history = [{"role": "user", "content": PROMPT},
               {"role": "assistant", "content": [{"type": "thinking", "thinking": "A cat.", "signature": "EqQBCgIY"},
                                                 {"type": "text", "text": first.text}]},
               {"role": "user", "content": "And then?"}]
    again = nbstream.stream(messages=history, base_url=llama.base_url, model=llama.model, api="anthropic",
                            api_key="x", max_tokens=8, ignore_eos=True, **GREEDY)
    assert again.status == "done", again.error
    assert again.usage.input_tokens > first.usage.input_tokens  # the earlier turns were read


@pytest.fixture(scope="module")
def chat(llama):
    setup = (f"import nbstream\nnbstream.config.base_url = {llama.base_url!r}\n"
             f"nbstream.config.model = {llama.model!r}\nnbstream.config.api = 'anthropic'\n%load_ext nbstream")
    return execute([setup,
                    f"%%stream --chat c -o a --max-tokens 8 -p ignore_eos=true -t 0\n{PROMPT}",
                    "%%stream --chat c -o b --max-tokens 8 -p ignore_eos=true -t 0\nAnd then?",
                    "print(b.status, b.wire_format, [m['role'] for m in b.prompt], b.prompt[1]['content'] == a.text,"
                    " b.usage.input_tokens > a.usage.input_tokens)"],
                   setup=False, timeout=180)


def test_chat_over_anthropic_s_api_carries_the_conversation_to_the_next_turn(chat):
    assert chat.cells[3]["outputs"][0]["text"].split() == [
        "done", "anthropic", "['user',", "'assistant',", "'user']", "True", "True"]
