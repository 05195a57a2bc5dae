"""Timing truth: the demo endpoint logs when it wrote each event (same clock as the
client), so what nbstream records can be compared with what really happened. The
tolerances are generous for a loaded 2-core CI machine; the benchmark reports the
error on a quiet one."""

from __future__ import annotations

import numpy as np
import pytest

import nbstream

TOKEN_KINDS = ("content", "reasoning")


def _truth(log, run):
    """Seconds from the client's t0 to each token-bearing write."""
    return np.array([(t - run.t0_ns) / 1e9 for t, kind, _ in log.writes if kind in TOKEN_KINDS])


def _stream(demo, model, knobs, api="chat"):
    run = nbstream.stream("Explain timing", base_url=demo.base_url, model=model, api=api, demo=knobs)
    assert run.status == "done", run.error
    log = demo.requests[-1]
    log.wait(5)
    return run, log


@pytest.mark.parametrize("api", ["chat", "responses"])
def test_ttft_itl_and_e2el_match_the_servers_schedule(demo, api):
    run, log = _stream(demo, "demo", {"ttft": 0.3, "tps": 100, "jitter": 0.2}, api)
    truth = _truth(log, run)
    c = run.chunks
    measured = c.loc[c["is_token"], "t_recv_s"].to_numpy()
    assert len(measured) == len(truth) > 50
    s = run.summary
    assert abs(s["ttft_s"] - truth[0]) < 0.05
    assert 0.29 < s["ttft_s"] < 0.5
    gap_error = np.abs(np.diff(measured) - np.diff(truth))
    assert np.median(gap_error) < 0.005 and gap_error.max() < 0.1
    assert abs(s["e2el_s"] - truth[-1]) < 0.05
    assert abs(s["itl_mean_s"] - np.diff(truth).mean()) < 0.003


def test_several_tokens_per_chunk_are_one_gap_each(demo):
    run, log = _stream(demo, "demo-chunky", {"ttft": 0.1, "tps": 200, "jitter": 0})
    s = run.summary
    truth = _truth(log, run)
    assert s["n_token_chunks"] == len(truth)
    assert s["tokens_per_chunk"] == pytest.approx(4, abs=0.5)
    # a chunk is not a token: ITL (per chunk) is ~4x TPOT (per token)
    assert s["itl_mean_s"] == pytest.approx(np.diff(truth).mean(), abs=0.003)
    assert s["itl_mean_s"] / s["tpot_s"] == pytest.approx(4, rel=0.25)


def test_a_reasoning_phase_counts_for_ttft_but_not_ttfo(demo):
    run, log = _stream(demo, "demo-reasoning", {"ttft": 0.2, "tps": 100, "jitter": 0})
    s = run.summary
    first_answer = next((t - run.t0_ns) / 1e9 for t, kind, _ in log.writes if kind == "content")
    first_reasoning = next((t - run.t0_ns) / 1e9 for t, kind, _ in log.writes if kind == "reasoning")
    assert abs(s["ttft_s"] - first_reasoning) < 0.05
    assert abs(s["ttfo_s"] - first_answer) < 0.05
    assert s["ttfo_s"] > s["ttft_s"] + 0.1
    assert s["n_reasoning_tokens"] > 0 and not s["hidden_reasoning"]
