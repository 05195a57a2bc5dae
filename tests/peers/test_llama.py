"""nbstream against a real llama.cpp ``llama-server`` serving a real model (gemma3-270m,
Q4_K_M): Chat Completions and the Responses API through ``stream()``, the DataFrames,
cancel, a ``%%stream`` cell run by nbclient, the openai SDK and the OpenAI Agents SDK.

The model is a 270M base model: its answers ramble, so these tests check protocol and
structure (events, finish reasons, usage, timing columns), never what it says. Requests
are greedy (temperature 0, fixed seed) and short (at most 64 tokens), except the one that
is cancelled.
"""

from __future__ import annotations

import asyncio
import math
import time

import httpx
import openai
import pytest
from _kernel import execute
from _slots import decodes, slot_busy, wait_idle

import nbstream
from nbstream.events import TextDelta

pytestmark = pytest.mark.peers

PROMPT = "Write a short story about a cat who learns to fly."
GREEDY = {"temperature": 0, "seed": 7}
# llama.cpp reuses the cached prompt by default, then evaluates only its last token: a
# different batch shape, float sums in a different order, and greedy decoding may split
# at a near-tie. Evaluating the whole prompt every time makes greedy answers repeat exactly.
SAME = {"cache_prompt": False}
KEY = "sk-llama-needs-no-key"


def ask(llama, prompt: str = PROMPT, **kw) -> nbstream.Run:
    """A short greedy request to the llama-server through nbstream.stream()."""
    params = {**GREEDY, "max_tokens": 32, "api": "chat", **kw}
    return nbstream.stream(prompt, base_url=llama.base_url, model=llama.model, **params)


def deltas(run) -> list[str]:
    return [e.text for e in run.events if isinstance(e, TextDelta)]


# ---- nbstream.stream(), both APIs ------------------------------------------------------------
def test_chat_stream_ends_done_with_text_and_exact_usage(llama):
    run = ask(llama)
    assert run.status == "done", run.error
    assert run.text.strip() and run.text == "".join(deltas(run))
    assert run.finish_reason in ("stop", "length")
    row = run.summary
    assert row["n_output_tokens_exact"] and row["n_output_tokens_source"] == "usage"
    assert row["n_output_tokens"] == run.usage.output_tokens > 0
    assert row["n_prompt_tokens"] == run.usage.input_tokens > 0
    assert row["response_model"] == llama.model


def test_llama_timings_become_server_columns_of_the_summary(llama):
    run = ask(llama)
    row = run.summary
    assert row["server_predicted_n"] == row["n_output_tokens"]
    assert row["server_prompt_n"] + row["server_cache_n"] == row["n_prompt_tokens"]
    assert row["server_predicted_ms"] > 0 and row["server_predicted_per_second"] > 0
    # the server's own decode time cannot exceed what the client saw from first to last token
    assert row["server_predicted_ms"] / 1000 <= row["t_done_s"]


def test_responses_api_ends_completed_with_exact_usage(llama):
    run = ask(llama, api="responses")
    assert run.status == "done", run.error
    assert run.text.strip() and run.finish_reason == "completed"
    row = run.summary
    assert row["n_output_tokens_exact"] and row["n_output_tokens_source"] == "usage"
    assert 0 < row["n_output_tokens"] <= 32
    assert run.response_id


def test_responses_and_chat_give_the_same_greedy_answer(llama):
    responses = ask(llama, api="responses", max_tokens=16, **SAME)
    assert responses.text and responses.text == ask(llama, max_tokens=16, **SAME).text


def test_max_tokens_reached_ends_with_length(llama):
    run = ask(llama, max_tokens=12, ignore_eos=True)
    assert run.status == "done" and run.finish_reason == "length"
    assert run.summary["n_output_tokens"] == 12


def test_stop_sequence_ends_with_stop_before_it(llama):
    reference = ask(llama, max_tokens=24, ignore_eos=True, **SAME)
    pieces = deltas(reference)
    # stop on a piece the greedy answer surely emits: the first non-blank one after the
    # second token, so the answer before it is not empty
    stop = next(p.strip() for p in pieces[2:] if p.strip())
    run = ask(llama, max_tokens=24, ignore_eos=True, stop=[stop], **SAME)
    assert run.status == "done" and run.finish_reason == "stop"
    assert run.text and reference.text.startswith(run.text) and stop not in run.text
    assert run.summary["n_output_tokens"] < 24


# ---- the DataFrames --------------------------------------------------------------------------
def test_the_run_row_has_sane_timings(llama):
    row = ask(llama, max_tokens=24, ignore_eos=True).summary
    assert 0 < row["t_headers_s"] < row["ttft_s"] < row["e2el_s"] <= row["t_done_s"]
    assert row["t_first_chunk_s"] <= row["ttft_s"]
    for name in ("itl_mean_s", "itl_p50_s", "itl_p90_s", "itl_p99_s", "itl_max_s", "tpot_s", "decode_tps"):
        assert math.isfinite(row[name]) and row[name] > 0, name
    assert row["itl_p50_s"] <= row["itl_p90_s"] <= row["itl_p99_s"] <= row["itl_max_s"]
    assert row["tokens_per_chunk"] == pytest.approx(1.0, abs=0.15)


def test_the_chunk_table_has_one_row_per_wire_message_in_arrival_order(llama):
    run = ask(llama, max_tokens=24, ignore_eos=True)
    df = run.chunks
    assert len(df) == len(run.records) == run.summary["n_events"]
    assert df["t_recv_s"].is_monotonic_increasing and (df["t_recv_s"] > 0).all()
    tokens = df[df["is_token"]]
    assert len(tokens) == run.summary["n_token_chunks"] >= 20
    assert (tokens["itl_s"].iloc[1:] > 0).all() and math.isnan(tokens["itl_s"].iloc[0])
    assert "".join(tokens["text_delta"]) == run.text
    kinds = list(df["event_type"].astype(str))
    assert kinds[-1] == "done" and "usage" in kinds and "finish" in kinds
    usage = df[df["event_type"].astype(str) == "usage"]
    assert usage["usage_completion_tokens"].iloc[0] == 24


# ---- cancel ----------------------------------------------------------------------------------
LONG = 2048  # tokens the cancelled request asks for (with ignore_eos: it would really make them all)


def cancelled_after_a_few_tokens(llama, before_cancel=None) -> nbstream.Run:
    run = nbstream.stream(PROMPT, base_url=llama.base_url, model=llama.model, **GREEDY,
                          max_tokens=LONG, ignore_eos=True, block=False)
    deadline = time.monotonic() + 60
    while len(deltas(run)) < 5 and not run.done and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not run.done and len(deltas(run)) >= 5, run
    if before_cancel is not None:
        before_cancel()
    run.cancel()
    assert run.wait(60)
    return run


def test_cancel_mid_stream_keeps_the_partial_answer(llama):
    run = cancelled_after_a_few_tokens(llama)
    assert run.status == "cancelled" and run.error is None
    assert run.text == "".join(deltas(run)) and 5 <= len(deltas(run)) < LONG
    assert run.summary["status"] == "cancelled" and run.summary["n_output_tokens_source"] != "usage"


def test_cancel_closes_the_connection_so_the_server_stops_generating(llama):
    busy_while_streaming = []
    before = decodes(llama)
    cancelled_after_a_few_tokens(llama, lambda: busy_while_streaming.append(slot_busy(llama)))
    assert busy_while_streaming == [True]  # /slots does tell a generating slot
    wait_idle(llama)
    made = decodes(llama) - before
    assert made < LONG / 2, f"the model made {made} of the {LONG} tokens asked for before it stopped"


def test_after_a_cancel_the_only_slot_serves_the_next_request_without_finishing_the_old_one(llama):
    # with -np 1 a generation still running would hold the next request for the rest of
    # its tokens; a closed connection lets the server drop it and serve the next at once
    before = decodes(llama)
    cancelled_after_a_few_tokens(llama)
    nxt = ask(llama, max_tokens=4, ignore_eos=True)
    assert nxt.status == "done" and nxt.finish_reason == "length"
    made = decodes(llama) - before
    assert made < LONG / 2, f"{made} tokens were made for both requests: the cancelled one ran on"


# ---- %%stream in a real kernel ---------------------------------------------------------------
@pytest.fixture(scope="module")
def notebook(llama):
    setup = (f"import nbstream\nnbstream.config.base_url = {llama.base_url!r}\n"
             f"nbstream.config.model = {llama.model!r}\n%load_ext nbstream")
    return execute([setup,
                    f"%%stream -o r --max-tokens 24 -t 0 -p seed=7\n{PROMPT}",
                    "print(r.status, r.finish_reason, r.usage.output_tokens)"],
                   setup=False, timeout=120)


def test_a_stream_cell_saves_an_emptied_live_output_and_one_static_answer(notebook):
    cell = notebook.cells[1]
    shapes = [(o["output_type"], sorted(o.get("data", {}))) for o in cell["outputs"]]
    # the emptied live widget, the emptied fallback (partial answer while streaming), the answer
    assert shapes == [("display_data", []), ("display_data", []),
                      ("display_data", ["text/html", "text/markdown", "text/plain"])]


def test_the_static_answer_names_the_model_and_status(llama, notebook):
    answer = notebook.cells[1]["outputs"][-1]
    meta = answer["metadata"]["nbstream"]
    assert meta["model"] == llama.model and meta["status"] == "done"
    assert meta["base_url"] == llama.base_url
    assert meta["usage"]["output_tokens"] > 0 and meta["timings"]["ttft_s"] > 0
    assert answer["data"]["text/plain"].strip()
    status, finish, n_out = notebook.cells[2]["outputs"][0]["text"].split()
    assert status == "done" and finish in ("stop", "length") and int(n_out) == meta["usage"]["output_tokens"]


# ---- the openai SDK --------------------------------------------------------------------------
def _chat_request(llama) -> dict:
    return dict(model=llama.model, messages=[{"role": "user", "content": PROMPT}], max_tokens=32,
                stream=True, stream_options={"include_usage": True}, extra_body=SAME, **GREEDY)


def _sdk_chat_text(chunks) -> str:
    return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)


def test_openai_sdk_chat_stream_shown_equals_the_sdk_reading_it(llama):
    client = openai.OpenAI(base_url=llama.base_url, api_key=KEY)
    expected = _sdk_chat_text(client.chat.completions.create(**_chat_request(llama)))
    run = nbstream.show(client.chat.completions.create(**_chat_request(llama)), display=False)
    assert run.status == "done" and run.text == expected and expected
    assert run.summary["n_output_tokens_exact"]


def test_openai_sdk_async_chat_stream_shown_equals_the_sdk_reading_it(llama):
    async def main():
        client = openai.AsyncOpenAI(base_url=llama.base_url, api_key=KEY)
        stream = await client.chat.completions.create(**_chat_request(llama))
        expected = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
        run = await nbstream.show(await client.chat.completions.create(**_chat_request(llama)),
                                  display=False)
        return run, expected

    run, expected = asyncio.run(asyncio.wait_for(main(), 90))
    assert run.status == "done" and run.text == expected and expected


def test_openai_sdk_responses_stream_shown_equals_the_sdk_reading_it(llama):
    client = openai.OpenAI(base_url=llama.base_url, api_key=KEY)
    request = dict(model=llama.model, input=PROMPT, max_output_tokens=32, stream=True, temperature=0,
                   extra_body={**SAME, "seed": 7})
    expected = "".join(e.delta for e in client.responses.create(**request)
                       if e.type == "response.output_text.delta")
    run = nbstream.show(client.responses.create(**request), display=False)
    assert run.status == "done" and run.finish_reason == "completed"
    assert run.text == expected and expected
    assert run.summary["n_output_tokens_exact"]


# ---- the OpenAI Agents SDK -------------------------------------------------------------------
@pytest.mark.parametrize("model_class", ["OpenAIChatCompletionsModel", "OpenAIResponsesModel"])
def test_agents_sdk_streamed_run_text_equals_its_final_output(llama, model_class):
    import agents

    agents.set_tracing_disabled(True)
    client = openai.AsyncOpenAI(base_url=llama.base_url, api_key=KEY)
    agent = agents.Agent(name="Writer", instructions="Tell stories.",
                         model=getattr(agents, model_class)(model=llama.model, openai_client=client),
                         model_settings=agents.ModelSettings(temperature=0, max_tokens=64,
                                                             extra_body={"ignore_eos": True}))
    busy_at_first_delta = []

    async def main():
        result = agents.Runner.run_streamed(agent, PROMPT, max_turns=1)
        events = result.stream_events

        async def watched():  # asks llama-server, when the first text delta reaches nbstream,
            async for event in events():  # whether the model is still generating
                if not busy_at_first_delta and getattr(getattr(event, "data", None), "delta", None):
                    async with httpx.AsyncClient(timeout=60) as http:
                        busy_at_first_delta.append((await http.get(llama.root + "/slots")).json()[0]["is_processing"])
                yield event

        result.stream_events = watched
        run = await nbstream.show(result, display=False)
        return run, result.final_output

    run, final = asyncio.run(asyncio.wait_for(main(), 90))
    assert run.status == "done", run.error
    assert run.text == final and final
    arrivals = [rec.message.t_ns for rec in run.records if any(isinstance(e, TextDelta) for e in rec.events)]
    # live: the first delta reached nbstream while the model was still making the other 63
    # tokens, not in one burst after the end
    assert len(arrivals) >= 5 and busy_at_first_delta == [True], busy_at_first_delta
