"""Gemini's ``streamGenerateContent?alt=sse`` against a server we did not write: LiteLLM's
proxy translates Gemini-format requests to the llama-server's Chat Completions and
streams real Gemini-format chunks back. ``stream(api="gemini")`` and ``show()`` of
google-genai's own streams (sync and async) read it into the same Run.

LiteLLM's ``usageMetadata`` is all zeros: the tests accept counts of zero there, never
a missing or negative one.
"""

from __future__ import annotations

import asyncio
import time

import pytest
from _slots import decodes, wait_idle
from google import genai
from google.genai import types

import nbstream
from nbstream.events import TextDelta

pytestmark = pytest.mark.peers

PROMPT = "Write a short story about a cat who learns to fly."
LONG = 2048  # tokens the cancelled request asks for


def ask(litellm, **kw) -> nbstream.Run:
    params = {"temperature": 0, "max_tokens": 16, **kw}
    return nbstream.stream(PROMPT, base_url=litellm.root, model=litellm.model, api="gemini",
                           api_key="gemini-key-unused", **params)


def client(litellm) -> genai.Client:
    return genai.Client(api_key="x", http_options=types.HttpOptions(base_url=litellm.root, api_version="v1beta"))


def sdk_config(max_tokens: int = 16) -> types.GenerateContentConfig:
    return types.GenerateContentConfig(temperature=0, max_output_tokens=max_tokens)


def deltas(run: nbstream.Run) -> list[str]:
    return [e.text for e in run.events if isinstance(e, TextDelta)]


def test_a_gemini_stream_ends_done_with_text_in_gemini_format(litellm):
    run = ask(litellm)
    assert run.status == "done", run.error
    assert run.wire_format == "gemini" and run.text.strip()
    assert run.text == "".join(deltas(run))


def test_the_finish_reason_is_gemini_s_word_in_openai_s(litellm):
    run = ask(litellm, max_tokens=8)
    assert (run.finish_reason, run.finish_reason_raw) in (("length", "MAX_TOKENS"), ("stop", "STOP"))


def test_zeroed_usage_metadata_is_read_as_counts_not_an_error(litellm):
    run = ask(litellm)
    usage = run.usage
    assert run.status == "done" and usage is not None
    assert usage.input_tokens is not None and usage.input_tokens >= 0
    assert usage.output_tokens is not None and usage.output_tokens >= 0


def test_gemini_and_chat_completions_bring_the_same_greedy_answer(litellm, llama):
    chat = nbstream.stream(PROMPT, base_url=llama.base_url, model=llama.model, temperature=0, max_tokens=12,
                           cache_prompt=False)
    assert ask(litellm, max_tokens=12).text == chat.text


# ---- cancel ----------------------------------------------------------------------------------
def test_cancel_closes_the_connection_so_the_generation_behind_the_proxy_stops(litellm, llama):
    before = decodes(llama)
    run = ask(litellm, max_tokens=LONG, block=False)
    deadline = time.monotonic() + 120  # hang guards: the waits are for states
    while len(deltas(run)) < 5 and not run.done and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not run.done and len(deltas(run)) >= 5, run
    run.cancel()
    assert run.wait(60)
    assert run.status == "cancelled" and run.error is None and run.text == "".join(deltas(run))
    wait_idle(llama)
    made = decodes(llama) - before
    assert made < LONG / 2, f"the model made {made} of the {LONG} tokens asked for: the connection stayed open"


# ---- google-genai's own stream ---------------------------------------------------------------
def test_show_reads_google_genai_s_sync_stream_like_stream_does(litellm):
    sdk = client(litellm)  # held: a collected genai.Client closes its connections
    chunks = sdk.models.generate_content_stream(model=litellm.model, contents=PROMPT, config=sdk_config())
    run = nbstream.show(chunks, display=False)
    assert run.status == "done", run.error
    assert run.text.strip() and run.text == ask(litellm).text
    assert run.finish_reason in ("stop", "length")


def test_show_reads_google_genai_s_async_stream_like_stream_does(litellm):
    async def main() -> nbstream.Run:
        sdk = client(litellm)
        chunks = await sdk.aio.models.generate_content_stream(model=litellm.model, contents=PROMPT,
                                                              config=sdk_config())
        return await nbstream.ashow(chunks, display=False)

    run = asyncio.run(main())
    assert run.status == "done", run.error
    assert run.text.strip() and run.text == ask(litellm).text
    assert run.finish_reason in ("stop", "length")
