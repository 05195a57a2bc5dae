"""The recorder's columns, each checked against a hand computation on a fixed synthetic
timeline (no sleeping: messages carry recorded timestamps), plus the token-count paths
and the vLLM / AIPerf summaries."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from _timeline import REASONING_RUN, T0, timeline

import nbstream
from nbstream.events import (
    Done,
    Finish,
    Meta,
    TextDelta,
    ToolCallDelta,
    Usage,
)
from nbstream.run import Run
from nbstream.wire.framing import Message


@pytest.fixture()
def run():
    return timeline(REASONING_RUN)


# ---- chunks: one row per received message ------------------------------------------------
def test_chunk_rows_keep_arrival_times_gaps_and_read_indexes(run):
    c = run.chunks
    assert c["seq"].tolist() == list(range(9))
    assert c["t_recv_s"].round(6).tolist() == [0.1, 0.3, 0.35, 0.5, 0.52, 0.6, 0.61, 0.62, 0.63]
    assert math.isnan(c["dt_s"][0]) and c["dt_s"][1] == pytest.approx(0.2)
    assert c["read_idx"].tolist() == [0, 1, 2, 3, 3, 4, 5, 5, 5]


def test_chunk_rows_are_labelled_by_their_dominant_event_type(run):
    assert run.chunks["event_type"].tolist() == [
        "role", "reasoning", "reasoning", "content", "content", "content", "finish", "usage", "done"]


def test_token_rows_get_an_index_and_the_gap_from_the_previous_token_row(run):
    c = run.chunks
    assert c["is_token"].tolist() == [False, True, True, True, True, True, False, False, False]
    assert c["token_idx"].tolist()[1:6] == [0, 1, 2, 3, 4] and c["token_idx"].isna()[[0, 6, 7, 8]].all()
    gaps = c["itl_s"].tolist()
    assert math.isnan(gaps[1]) and math.isnan(gaps[0]) and math.isnan(gaps[6])
    assert [round(g, 6) for g in gaps[2:6]] == [0.05, 0.15, 0.02, 0.08]


def test_has_choices_counts_role_token_and_finish_rows_only(run):
    assert run.chunks["has_choices"].tolist() == [True, True, True, True, True, True, True, False, False]


def test_deltas_and_usage_land_in_their_own_columns(run):
    c = run.chunks
    assert c["reasoning_delta"][1] == "think" and c["text_delta"][3] == "Hello"
    assert c["n_chars"].tolist()[1:6] == [5, 5, 5, 6, 1]
    assert c["usage_completion_tokens"][7] == 12 and c["usage_prompt_tokens"][7] == 10
    assert c["usage_completion_tokens"].isna().sum() == 8
    assert c["finish_reason"][6] == "stop"


def test_missing_values_use_pandas_nullable_dtypes(run):
    dtypes = run.chunks.dtypes
    assert str(dtypes["token_idx"]) == "Int32" and str(dtypes["usage_completion_tokens"]) == "Int64"
    assert str(dtypes["text_delta"]) == "string"


def test_token_estimates_per_chunk_sum_to_a_tokenization_of_the_whole_text(run):
    from nbstream.data.tokens import estimator

    est = estimator(None)
    assert run.chunks["n_tokens_est"].sum() == pytest.approx(est.count("think moreHello world!"))


# ---- the run row ----------------------------------------------------------------------------
def test_times_follow_the_aiperf_and_vllm_definitions(run):
    s = run.summary
    assert s["t_first_chunk_s"] == pytest.approx(0.1)  # vLLM: first chunk with choices
    assert s["ttft_s"] == pytest.approx(0.3)  # first content OR reasoning
    assert s["ttfo_s"] == pytest.approx(0.5)  # first non-reasoning output
    assert s["ttst_s"] == pytest.approx(0.05)
    assert s["e2el_s"] == pytest.approx(0.6) and s["t_last_token_s"] == pytest.approx(0.6)
    assert s["t_last_chunk_s"] == pytest.approx(0.61)  # vLLM: last chunk with choices
    assert s["t_done_s"] == pytest.approx(0.63)
    assert s["decode_s"] == pytest.approx(0.3)


def test_counts_come_from_usage_and_are_marked_exact(run):
    s = run.summary
    assert s["n_output_tokens"] == 12 and s["n_output_tokens_exact"]
    assert s["n_output_tokens_source"] == "usage"
    assert s["n_prompt_tokens"] == 10 and s["n_reasoning_tokens"] == 4
    assert not s["hidden_reasoning"] and s["n_streamed_tokens"] == 12
    assert s["n_token_chunks"] == 5 and s["tokens_per_chunk"] == pytest.approx(12 / 5)
    assert s["n_events"] == 9


def test_rates_follow_their_definitions(run):
    s = run.summary
    assert s["tpot_s"] == pytest.approx(0.3 / 11)
    assert s["tpot_incl_first_s"] == pytest.approx(0.6 / 12)
    assert s["output_tps"] == pytest.approx(12 / 0.6)
    assert s["decode_tps"] == pytest.approx(11 / 0.3)
    assert s["prefill_tps"] == pytest.approx(10 / 0.3)
    assert s["llmperf_itl_s"] == pytest.approx(0.6 / 8)  # includes TTFT, divides by events but [DONE]


def test_itl_statistics_use_numpy_linear_percentiles_and_population_std(run):
    gaps = np.array([0.05, 0.15, 0.02, 0.08])
    s = run.summary
    assert s["itl_mean_s"] == pytest.approx(gaps.mean())
    assert s["itl_p50_s"] == pytest.approx(0.065)
    assert s["itl_p90_s"] == pytest.approx(0.08 + 0.7 * 0.07)
    assert s["itl_p99_s"] == pytest.approx(np.percentile(gaps, 99))
    assert s["itl_max_s"] == pytest.approx(0.15)
    assert s["itl_std_s"] == pytest.approx(gaps.std(ddof=0)) and s["itl_std_s"] != pytest.approx(gaps.std(ddof=1))


def test_hidden_reasoning_is_excluded_from_the_visible_rates():
    run = timeline([
        (0.2, 0, [TextDelta("a")]), (0.3, 1, [TextDelta("b")]), (0.4, 2, [TextDelta("c")]),
        (0.41, 3, [Finish("stop"), Usage(output_tokens=10, reasoning_tokens=6)]), (0.42, 3, [Done()])])
    s = run.summary
    assert s["hidden_reasoning"] and s["n_streamed_tokens"] == 4
    assert s["tpot_s"] == pytest.approx(0.2 / 9) and s["tpot_visible_s"] == pytest.approx(0.2 / 3)
    assert s["decode_tps"] == pytest.approx(3 / 0.2)


def test_a_cancelled_run_without_usage_still_counts_its_tokens_by_estimate(monkeypatch):
    run = Run(model="m", api="chat", tokenizer="chars/4")
    run.t0_ns = T0
    run._receive(Message(T0 + 10**8, 0, "", "{}", None, 1), [TextDelta("x" * 40)])
    run.cancel()
    run._finish()
    s = run.summary
    assert s["status"] == "cancelled"
    assert s["n_output_tokens"] == 10 and not s["n_output_tokens_exact"]
    assert s["n_output_tokens_source"] == "chars/4" and s["tokenizer"] == "chars/4"


def test_a_failed_run_still_produces_a_row_with_its_error():
    run = Run(model="m", api="chat")
    run.t0_ns = T0
    run._receive(Message(T0 + 10**8, 0, "", "{}", None, 1), [TextDelta("partial")])
    run._finish(error=nbstream.errors.ServerError("HTTP 500 boom", status=500, url="u"))
    s = run.summary
    assert s["status"] == "error" and s["error_type"] == "ServerError" and "boom" in s["error"]
    assert s["n_output_tokens"] > 0 and s["ttft_s"] == pytest.approx(0.1)


def test_continuous_usage_gives_exact_tokens_per_chunk():
    run = timeline([
        (0.1, 0, [Meta("role", role="assistant"), Usage(output_tokens=0)]),
        (0.2, 1, [TextDelta("ab"), Usage(output_tokens=2)]),
        (0.3, 2, [TextDelta("cde"), Usage(output_tokens=5)]),
        (0.4, 3, [TextDelta("f"), Usage(output_tokens=6)]),
        (0.5, 4, [Finish("stop"), Usage(input_tokens=3, output_tokens=6)]), (0.6, 4, [Done()])])
    c = run.chunks
    assert c["n_tokens"].tolist()[1:4] == [2, 3, 1]
    assert c["cum_tokens"].tolist()[1:4] == [2, 5, 6]
    assert (c["n_tokens_source"] == "continuous_usage").all()
    assert run.summary["n_output_tokens_source"] == "continuous_usage"


def test_a_single_usage_on_a_token_chunk_is_not_mistaken_for_per_chunk_counts():
    run = timeline([(0.1, 0, [TextDelta("a")]),
                    (0.2, 1, [TextDelta("b"), Finish("stop"), Usage(output_tokens=2)]), (0.3, 1, [Done()])])
    assert run.chunks["n_tokens"].isna().all()
    assert run.summary["n_output_tokens"] == 2


def test_ollama_server_figures_become_server_columns():
    usage = Usage(input_tokens=5, output_tokens=10, server={
        "eval_count": 10, "eval_duration": 500_000_000, "prompt_eval_duration": 20_000_000,
        "load_duration": 1_000_000, "total_duration": 600_000_000})
    run = timeline([(0.1, 0, [TextDelta("a")]), (0.2, 1, [Finish("stop"), usage]), (0.2, 1, [Done()])],
                   api="ollama")
    s = run.summary
    assert s["server_eval_s"] == pytest.approx(0.5) and s["server_prompt_eval_s"] == pytest.approx(0.02)
    assert s["server_decode_tps"] == pytest.approx(20.0) and s["server_eval_count"] == 10
    assert s["n_output_tokens_source"] == "ollama_eval_count"


def test_tool_call_fragments_are_tokens():
    run = timeline([(0.1, 0, [ToolCallDelta(0, id="c", name="f")]), (0.2, 1, [ToolCallDelta(0, arguments='{"a"')]),
                    (0.3, 2, [ToolCallDelta(0, arguments=": 1}")]), (0.4, 3, [Finish("tool_calls")]),
                    (0.5, 3, [Done()])])
    c = run.chunks
    assert c["is_token"].tolist() == [True, True, True, False, False]
    assert c["tool_delta"].tolist()[1:3] == ['{"a"', ": 1}"]
    assert run.summary["ttfo_s"] == pytest.approx(0.1)


# ---- nbstream.runs() -----------------------------------------------------------------------
def test_runs_lists_finished_runs_and_a_chosen_set():
    a, b = timeline(REASONING_RUN), timeline(REASONING_RUN)
    everything = nbstream.runs()
    assert {a.run_id, b.run_id} <= set(everything["run_id"])
    chosen = nbstream.runs(b, a)
    assert chosen["run_id"].tolist() == [b.run_id, a.run_id]
    assert str(chosen["n_output_tokens"].dtype) == "Int64"


def test_history_keeps_only_the_last_n_chunk_tables_but_every_row():
    session = nbstream.Session(keep_runs=2)
    made = [timeline(REASONING_RUN, session=session) for _ in range(4)]
    assert [r.run_id for r in session.history.recent()] == [r.run_id for r in made[2:]]
    assert session.runs()["run_id"].tolist() == [r.run_id for r in made]
    assert set(session.chunks()["run_id"]) == {made[2].run_id, made[3].run_id}
    session.close()


# ---- summarize ----------------------------------------------------------------------------
def _batch():
    start = datetime(2026, 1, 1, tzinfo=UTC)
    a = timeline(REASONING_RUN, started=start)
    b = timeline([(0.2, 0, [Meta("role", role="assistant")]), (0.4, 1, [TextDelta("x")]),
                  (0.5, 2, [TextDelta("y")]), (0.7, 3, [TextDelta("z")]), (0.8, 4, [Finish("stop")]),
                  (0.9, 4, [Usage(input_tokens=4, output_tokens=3)]), (1.0, 4, [Done()])],
                 started=start + timedelta(seconds=0.5))
    return a, b


def test_summarize_vllm_uses_first_and_last_chunk_with_choices_and_pooled_chunk_gaps():
    a, b = _batch()
    out = nbstream.summarize(nbstream.runs(a, b), style="vllm")
    assert out["completed"] == 2 and out["failed"] == 0
    assert out["duration"] == pytest.approx(1.5)  # b ends 0.5 + 1.0 s after a started
    assert out["total_input_tokens"] == 14 and out["total_output_tokens"] == 15
    assert out["request_throughput"] == pytest.approx(2 / 1.5)
    assert out["output_throughput"] == pytest.approx(15 / 1.5)
    assert out["mean_ttft_ms"] == pytest.approx((100 + 200) / 2)
    tpot = [(0.61 - 0.1) / 11 * 1000, (0.8 - 0.2) / 2 * 1000]
    assert out["mean_tpot_ms"] == pytest.approx(np.mean(tpot))
    itl = np.array([0.2, 0.05, 0.15, 0.02, 0.08, 0.01, 0.2, 0.1, 0.2, 0.1]) * 1000
    assert out["mean_itl_ms"] == pytest.approx(itl.mean())
    assert out["p99_itl_ms"] == pytest.approx(np.percentile(itl, 99))
    assert out["std_e2el_ms"] == pytest.approx(np.std([610, 800]))
    assert set(k for k in out if k.endswith("_ms")) == {
        f"{s}_{m}_ms" for s in ("mean", "median", "std", "p99") for m in ("ttft", "tpot", "itl", "e2el")}


def test_summarize_aiperf_has_its_tags_stats_and_units():
    a, b = _batch()
    out = nbstream.summarize(nbstream.runs(a, b), style="aiperf")
    ttft = out["time_to_first_token"]
    assert ttft["unit"] == "ms" and ttft["avg"] == pytest.approx((300 + 400) / 2)
    assert set(ttft) == {"unit", "avg", "min", "max", "std", "p1", "p5", "p10", "p25", "p50", "p75",
                         "p90", "p95", "p99"}
    assert out["inter_token_latency"]["avg"] == pytest.approx(np.mean([0.3 / 11, 0.3 / 2]) * 1000)
    assert out["output_sequence_length"]["max"] == 12
    assert out["request_count"]["avg"] == 2 and out["benchmark_duration"]["avg"] == pytest.approx(1.5)


def test_summarize_counts_failed_runs_as_failed_only():
    a, b = _batch()
    bad = Run(model="m", api="chat")
    bad._finish(error=nbstream.errors.ServerError("HTTP 500", status=500, url="u"))
    out = nbstream.summarize(nbstream.runs(a, b, bad), style="vllm")
    assert out["completed"] == 2 and out["failed"] == 1 and out["total_output_tokens"] == 15


def test_summarize_rejects_an_unknown_style():
    with pytest.raises(ValueError, match="'vllm' or 'aiperf'"):
        nbstream.summarize(nbstream.runs(), style="guesswork")


def test_estimate_is_compared_with_the_exact_count_and_cached_prompt_tokens_are_kept(monkeypatch):
    monkeypatch.setattr(nbstream.config, "tokenizer", "chars/4")
    run = timeline([(0.1, 0, [TextDelta("x" * 40)]),
                    (0.2, 1, [Finish("stop"), Usage(input_tokens=30, cached_tokens=20, output_tokens=8)]),
                    (0.3, 1, [Done()])])
    s = run.summary
    assert s["n_output_tokens"] == 8 and s["n_output_tokens_est"] == 10
    assert s["token_count_diff_pct"] == pytest.approx(25.0)
    assert s["n_cached_prompt_tokens"] == 20 and s["n_prompt_tokens"] == 30


def test_run_identity_columns():
    run = timeline(REASONING_RUN)
    s = run.summary
    assert s["model"] == "m" and s["response_model"] == "m-1" and s["response_id"] == "r1"
    assert s["prompt"] == "p" and len(s["prompt_hash"]) == 16 and s["api"] == "chat"
    assert s["status"] == "done" and s["finish_reason"] == "stop" and s["error"] is pd.NA


@pytest.mark.parametrize("style", ["vllm", "aiperf"])
def test_summarize_returns_plain_python_numbers_that_print_plainly(style):
    a, b = _batch()
    out = nbstream.summarize(nbstream.runs(a, b), style=style)
    values = [v for item in out.values() for v in (item.values() if isinstance(item, dict) else [item])]
    numbers = [v for v in values if not isinstance(v, str)]
    assert numbers and all(type(v) in (int, float) for v in numbers), {type(v) for v in numbers}
    assert "np." not in repr(out) and "numpy" not in repr(out)
    json.dumps(out)  # plain numbers serialize


def test_runs_lead_with_what_people_look_at_and_keep_every_other_column():
    a = timeline(REASONING_RUN)
    a.label = "m · T=0.2"
    table = nbstream.runs(a)
    assert table.columns[:9].tolist() == ["label", "model", "status", "ttft_s", "output_tps",
                                          "n_output_tokens", "finish_reason", "e2el_s", "error"]
    assert {"run_id", "started_at", "base_url", "itl_p99_s", "nbstream_version"} <= set(table.columns[9:])
    assert table["label"].tolist() == ["m · T=0.2"]
    assert a.summary.index[:3].tolist() == ["label", "model", "status"]


def test_raw_event_is_the_payloads_type_as_text_whatever_json_type_a_server_gave_it():
    feed = [b'data: {"type": 5, "x": 1}\n\n', b'data: {"type": {"a": 1}}\n\n', b'data: {"type": [1, 2]}\n\n',
            b'data: {"type": true}\n\n', b'event: tick\ndata: {"v": 1}\n\n'] + [b'data: {"v": 1}\n\n'] * 10
    c = nbstream.show(iter(feed), display=False).chunks
    assert str(c["raw_event"].dtype) == "string"
    assert c["raw_event"].tolist()[:5] == ["5", "{'a': 1}", "[1, 2]", "True", "tick"]
    assert c["raw_event"][5:].isna().all()


def test_raw_event_of_decoded_payloads_converts_their_type_as_pandas_converts_any_string_column():
    items = [{"type": float("nan")}, {"type": b"delta"}] + [{"v": 1}] * 10  # mostly missing: the sparse path
    c = nbstream.show(iter(items), display=False).chunks
    assert pd.isna(c["raw_event"][0])
    assert c["raw_event"][1] == "delta"
    assert c["raw_event"][2:].isna().all()
