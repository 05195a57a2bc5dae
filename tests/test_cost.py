"""``cost_usd``: a run's price from its usage and model (genai-prices), None when the model
or provider is unknown — never a guess — and never an exception, whatever the names and
counts a server sends.

Expected values are computed here from the providers' published per-token prices for
fixed, dated models (USD per million tokens), not by calling the price table.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from pathlib import Path

import pytest
from _body_server import BodyServer, sse_response

import nbstream
from nbstream.data import cost
from nbstream.events import Usage
from nbstream.session import Session
from nbstream.views import status

FAST = {"ttft": 0.01, "tps": 2000, "jitter": 0}
M = 1e-6  # a price per million tokens, per token

# gpt-4o-2024-08-06: $2.50 input, $1.25 cached input, $10.00 output
GPT4O_IN, GPT4O_CACHED, GPT4O_OUT = 2.50 * M, 1.25 * M, 10.00 * M
# claude-3-5-haiku-20241022: $0.80 input, $0.08 cache read, $1.00 cache write (5 min), $4.00 output
HAIKU_IN, HAIKU_READ, HAIKU_WRITE, HAIKU_OUT = 0.80 * M, 0.08 * M, 1.00 * M, 4.00 * M
# gemini-2.5-flash (text): $0.30 input, $2.50 output, thinking tokens billed as output
FLASH_IN, FLASH_OUT = 0.30 * M, 2.50 * M


def chat_chunks(model: str, usage: dict) -> list[dict]:
    def chunk(delta: dict, finish: str | None = None) -> dict:
        return {"id": "c1", "object": "chat.completion.chunk", "model": model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}

    return [chunk({"role": "assistant", "content": "Hi"}), chunk({}, "stop"),
            {"id": "c1", "object": "chat.completion.chunk", "model": model, "choices": [], "usage": usage}]


def anthropic_events(model: str, usage_in: dict, output_tokens: int) -> list[dict]:
    return [
        {"type": "message_start", "message": {"id": "m1", "type": "message", "role": "assistant", "model": model,
                                              "content": [], "usage": {**usage_in, "output_tokens": 1}}},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hi"}},
        {"type": "content_block_stop", "index": 0},
        {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": output_tokens}},
        {"type": "message_stop"},
    ]


OPENAI = "https://api.openai.com/v1"
PROVIDER_URLS = {"chat": OPENAI, "anthropic": "https://api.anthropic.com",
                 "gemini": "https://generativelanguage.googleapis.com"}


def replayed(tmp_path: Path, session: Session, api: str, model: str, payloads: list[dict], *,
             base_url: str | None = "provider") -> nbstream.Run:
    """A recording of a provider's stream (what ``%%stream --record`` writes: with the URL
    of the server it came from), replayed."""
    path = tmp_path / f"{api}.jsonl"
    lines = [{"nbstream_record": 1, "api": api, "model": model}]
    if base_url is not None:
        lines[0]["base_url"] = PROVIDER_URLS[api] if base_url == "provider" else base_url
    lines += [{"t": 0.01 * i, "read": i, "event": "", "data": json.dumps(p)} for i, p in enumerate(payloads)]
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n", encoding="utf-8")
    return nbstream.replay(str(path), speed=0, session=session)



# ---- known models: the provider's price ---------------------------------------------------
def test_an_openai_chat_stream_costs_its_tokens_at_the_models_prices_cached_input_at_its_own(tmp_path, session):
    usage = {"prompt_tokens": 1000, "completion_tokens": 500, "total_tokens": 1500,
             "prompt_tokens_details": {"cached_tokens": 400}}
    run = replayed(tmp_path, session, "chat", "gpt-4o", chat_chunks("gpt-4o-2024-08-06", usage))
    expected = 600 * GPT4O_IN + 400 * GPT4O_CACHED + 500 * GPT4O_OUT
    assert run.cost_usd == pytest.approx(expected, rel=1e-9)
    assert run.summary["cost_usd"] == pytest.approx(expected, rel=1e-9)


def test_an_anthropic_stream_prices_cache_reads_and_writes_separately(tmp_path, session):
    events = anthropic_events("claude-3-5-haiku-20241022", {"input_tokens": 500, "cache_read_input_tokens": 400,
                                                            "cache_creation_input_tokens": 100}, 300)
    run = replayed(tmp_path, session, "anthropic", "claude-3-5-haiku-20241022", events)
    assert run.wire_format == "anthropic"
    expected = 500 * HAIKU_IN + 400 * HAIKU_READ + 100 * HAIKU_WRITE + 300 * HAIKU_OUT
    assert run.cost_usd == pytest.approx(expected, rel=1e-9)


def test_gemini_thinking_tokens_are_billed_as_output(tmp_path, session):
    chunk = {"candidates": [{"content": {"role": "model", "parts": [{"text": "Hi"}]}, "finishReason": "STOP"}],
             "modelVersion": "gemini-2.5-flash",
             "usageMetadata": {"promptTokenCount": 1000, "candidatesTokenCount": 100, "thoughtsTokenCount": 400,
                               "totalTokenCount": 1500}}
    run = replayed(tmp_path, session, "gemini", "gemini-2.5-flash", [chunk])
    assert run.wire_format == "gemini" and run.usage.reasoning_tokens == 400
    assert run.cost_usd == pytest.approx(1000 * FLASH_IN + 500 * FLASH_OUT, rel=1e-9)


def test_the_provider_of_the_base_url_prices_the_model():
    usage = Usage(input_tokens=1000, output_tokens=500)
    expected = 1000 * GPT4O_IN + 500 * GPT4O_OUT
    assert cost.price("gpt-4o-2024-08-06", usage, base_url=OPENAI) == pytest.approx(expected, rel=1e-9)


def test_the_cost_shows_in_the_final_status_line_and_the_runs_table(tmp_path, session):
    usage = {"prompt_tokens": 1000, "completion_tokens": 500}
    run = replayed(tmp_path, session, "chat", "gpt-4o", chat_chunks("gpt-4o-2024-08-06", usage))
    assert "$0.007500" in status.final(run)
    table = session.runs()
    assert str(table["cost_usd"].dtype) == "Float64"
    assert table["cost_usd"].iloc[-1] == pytest.approx(0.0075, rel=1e-9)


# ---- unknown: None, never a guess ------------------------------------------------------
def test_the_demo_endpoint_costs_nothing_known(demo, session):
    run = nbstream.stream("Hi", base_url=demo.base_url, model="demo", demo=FAST, session=session)
    assert run.usage is not None and run.usage.output_tokens
    assert run.cost_usd is None
    assert run.summary["cost_usd"] is __import__("pandas").NA
    assert "$" not in status.final(run)


def test_a_local_server_answering_as_a_known_model_is_not_priced_as_that_provider(session):
    usage = {"prompt_tokens": 1000, "completion_tokens": 500}
    with BodyServer(lambda path, body: sse_response([*chat_chunks("gpt-4o-2024-08-06", usage), "[DONE]"])) as srv:
        run = nbstream.stream("Hi", base_url=srv.url + "/v1", model="gpt-4o-2024-08-06", api_key="sk-local",
                              session=session)
    assert run.status == "done" and run.usage is not None and run.usage.output_tokens == 500
    assert run.cost_usd is None


def test_an_unknown_model_of_a_known_provider_is_none():
    usage = Usage(input_tokens=10, output_tokens=5)
    assert cost.price("my-finetune-xyz", usage, base_url=OPENAI) is None


def test_a_known_model_with_no_server_url_is_none():
    assert cost.price("gpt-4o", Usage(input_tokens=10, output_tokens=5), base_url=None) is None


@pytest.mark.parametrize("where", [None, "http://127.0.0.1:8000/v1", "javascript:alert(1)", "https://x\n.example",
                                   "h" * 5000, 42, ["https://api.openai.com/v1"]])
def test_a_recording_naming_no_provider_url_replays_unpriced(tmp_path, session, where):
    usage = {"prompt_tokens": 1000, "completion_tokens": 500}
    run = replayed(tmp_path, session, "chat", "gpt-4o", chat_chunks("gpt-4o-2024-08-06", usage), base_url=where)
    assert run.status == "done" and run.usage is not None and run.cost_usd is None
    if where is not None and not (isinstance(where, str) and where.startswith("http://127")):
        assert run.base_url.startswith("replay:")  # a hostile URL in the file is not taken


def test_a_saved_run_replays_priced_by_the_server_it_was_recorded_from(tmp_path, session):
    usage = {"prompt_tokens": 1000, "completion_tokens": 500}
    run = replayed(tmp_path, session, "chat", "gpt-4o", chat_chunks("gpt-4o-2024-08-06", usage))
    again = nbstream.replay(run.save(tmp_path / "again.jsonl"), speed=0, session=session)
    assert again.base_url == OPENAI and again.cost_usd == pytest.approx(run.cost_usd, rel=1e-9)


def test_no_usage_or_no_token_counts_is_none():
    assert cost.price("gpt-4o", None, base_url=OPENAI) is None
    assert cost.price("gpt-4o", Usage(output_tokens=5), base_url=OPENAI) is None


# ---- hostile names and counts ------------------------------------------------------------
@pytest.mark.parametrize("model", [
    "gpt-4o" + "x" * 1_000_000, "gpt-4o\n", "gpt-4o\x00", "\x1b[31mgpt-4o", "", 42, None, ["gpt-4o"],
    {"model": "gpt-4o"}, b"gpt-4o", "(" * 10_000, ".*" * 90,
])
def test_a_hostile_model_name_is_none_and_never_raises(model):
    assert cost.price(model, Usage(input_tokens=10, output_tokens=5), base_url=OPENAI) is None


@pytest.mark.parametrize("value", ["100", 1.5, True, -1, 2**80, float("nan"), float("inf"), None, [1], {"a": 1}])
def test_a_non_integer_token_count_is_none_and_never_raises(value):
    assert cost.price("gpt-4o", Usage(input_tokens=value, output_tokens=5), base_url=OPENAI) is None
    assert cost.price("gpt-4o", Usage(input_tokens=5, output_tokens=value), base_url=OPENAI) is None


@pytest.mark.parametrize("value", ["3", -3, 10**9, 1.5, [1]])
def test_odd_cache_and_reasoning_counts_are_left_out_not_fatal(value):
    usage = Usage(input_tokens=1000, output_tokens=500, cached_tokens=value, reasoning_tokens=value,
                  server={"cache_creation_input_tokens": value})
    got = cost.price("gpt-4o-2024-08-06", usage, base_url=OPENAI)
    assert got == pytest.approx(1000 * GPT4O_IN + 500 * GPT4O_OUT, rel=1e-9)


def test_a_hostile_base_url_is_none_and_never_raises():
    usage = Usage(input_tokens=10, output_tokens=5)
    for url in ["https://api.openai.com/\n", "x" * 100_000, "not a url", "https://api.openai.com.evil.example/v1"]:
        got = cost.price("gpt-4o", usage, base_url=url)
        assert got is None or (math.isfinite(got) and got >= 0)
    assert cost.price("gpt-4o", usage, base_url="https://api.openai.com/\n") is None


def test_a_stream_with_a_hostile_model_field_still_ends_with_no_cost(tmp_path, session):
    usage = {"prompt_tokens": 10, "completion_tokens": 5}
    run = replayed(tmp_path, session, "chat", "gpt-4o\x00" + "x" * 100_000,
                   chat_chunks("gpt-4o\x00" + "x" * 100_000, usage))
    assert run.status == "done" and run.cost_usd is None


def test_an_sdk_stream_or_iterator_of_undeclared_format_is_not_priced(session):
    usage = {"prompt_tokens": 1000, "completion_tokens": 500}
    run = nbstream.show(chat_chunks("gpt-4o-2024-08-06", usage), display=False, session=session)
    assert run.usage is not None and run.cost_usd is None


def test_prices_are_those_valid_when_the_run_started():
    usage = Usage(input_tokens=1000, output_tokens=500)
    then = datetime(2025, 1, 1, tzinfo=UTC)
    assert cost.price("gpt-4o-2024-08-06", usage, base_url=OPENAI, when=then) == pytest.approx(
        1000 * GPT4O_IN + 500 * GPT4O_OUT, rel=1e-9)


@pytest.mark.parametrize("url", ["http://127.0.0.1:8000/v1", "http://localhost:11434", "http://10.1.2.3/v1",
                                 "http://[::1]:8080/v1", "http://192.168.0.7:4000", "http://[bad"])
def test_a_loopback_or_private_server_is_never_priced(url):
    usage = Usage(input_tokens=1000, output_tokens=500)
    assert cost.price("gpt-4o-2024-08-06", usage, base_url=url) is None


def test_a_run_on_a_local_server_never_loads_the_price_table():
    import subprocess
    import sys

    code = ("import sys, nbstream\n"
            "run = nbstream.stream('Hi', model='demo', demo={'ttft': 0, 'tps': 5000})\n"
            "assert run.status == 'done' and run.summary['n_output_tokens'] > 0\n"
            "print(run.cost_usd, 'genai_prices' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False,
                         env={**__import__("os").environ, "NBSTREAM_LIVE": "0"})
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["None", "False"]
