"""Timing truth: the demo endpoint logs when it wrote each event (same clock as the
client), so what nbstream records can be compared with what really happened. These
checks hold on any machine, however loaded: every token is stamped after the server
wrote it (never before), in order, before the server's next write after a long pause
(so stamps are taken on arrival, not later), and the summary is computed from those
stamps. How close the stamps are to the truth, in milliseconds, is a figure for
bench/concurrency.py (p50 / p99 / max error), not a unit test."""

from __future__ import annotations

import numpy as np
import pytest

import nbstream

TOKEN_KINDS = ("content", "reasoning")
NS = 1e-9  # stamps and write times are integer ns; seconds as floats round below that


def _truth(log, run):
    """Seconds from the client's t0 to each token-bearing write."""
    return np.array([(t - run.t0_ns) / 1e9 for t, kind, _ in log.writes if kind in TOKEN_KINDS])


def _stream(demo, model, knobs, api="chat"):
    run = nbstream.stream("Explain timing", base_url=demo.base_url, model=model, api=api, demo=knobs)
    assert run.status == "done", run.error
    log = demo.requests[-1]
    assert log.wait(60)
    return run, log


def _token_stamps(run):
    c = run.chunks
    return c.loc[c["is_token"], "t_recv_s"].to_numpy(dtype=float)


@pytest.mark.parametrize("api", ["chat", "responses"])
def test_every_token_is_stamped_after_the_server_wrote_it_and_in_order(demo, api):
    run, log = _stream(demo, "demo", {"ttft": 0.3, "tps": 100, "jitter": 0.2}, api)
    truth = _truth(log, run)
    measured = _token_stamps(run)
    assert len(measured) == len(truth) > 50
    assert (measured >= truth - NS).all(), np.flatnonzero(measured < truth - NS)
    assert (np.diff(measured) >= 0).all()
    s = run.summary
    assert s["ttft_s"] == pytest.approx(measured[0]) and s["ttft_s"] >= 0.3  # the server's ttft knob
    assert s["e2el_s"] == pytest.approx(measured[-1])
    assert s["itl_mean_s"] == pytest.approx(np.diff(measured).mean())


def test_tokens_are_stamped_when_they_arrive_not_when_the_stream_ends(demo):
    # 20 tokens, then the server pauses 3 s: every token before the pause must carry a
    # stamp taken before the server wrote the first token after it.
    run, log = _stream(demo, "demo-stall", {"ttft": 0.05, "tps": 200, "jitter": 0, "after": 20, "stall": 3})
    truth = _truth(log, run)
    measured = _token_stamps(run)
    assert len(measured) == len(truth) > 20
    pause = int(np.argmax(np.diff(truth))) + 1  # the first write after the pause
    assert np.diff(truth)[pause - 1] >= 3 and pause == 20
    assert (measured[:pause] < truth[pause]).all(), (measured[:pause], truth[pause])
    assert (measured[pause:] >= truth[pause] - NS).all()


def test_several_tokens_per_chunk_are_one_gap_each(demo):
    run, log = _stream(demo, "demo-chunky", {"ttft": 0.1, "tps": 200, "jitter": 0})
    s = run.summary
    truth = _truth(log, run)
    measured = _token_stamps(run)
    assert s["n_token_chunks"] == len(truth) == len(measured)
    assert (measured >= truth - NS).all()
    assert s["tokens_per_chunk"] == pytest.approx(4, abs=0.5)
    # a chunk is not a token: ITL (per chunk) is ~4x TPOT (per token), over the same stamps
    assert s["itl_mean_s"] == pytest.approx(np.diff(measured).mean())
    assert s["itl_mean_s"] / s["tpot_s"] == pytest.approx(4, rel=0.25)


def test_a_reasoning_phase_counts_for_ttft_but_not_ttfo(demo):
    run, log = _stream(demo, "demo-reasoning", {"ttft": 0.2, "tps": 100, "jitter": 0})
    s = run.summary
    c = run.chunks
    first_reasoning = c.loc[c["reasoning_delta"].notna() & c["is_token"], "t_recv_s"].iloc[0]
    first_answer = c.loc[c["text_delta"].notna() & c["is_token"], "t_recv_s"].iloc[0]
    assert s["ttft_s"] == pytest.approx(first_reasoning) and s["ttfo_s"] == pytest.approx(first_answer)
    wrote_reasoning = next((t - run.t0_ns) / 1e9 for t, kind, _ in log.writes if kind == "reasoning")
    wrote_answer = next((t - run.t0_ns) / 1e9 for t, kind, _ in log.writes if kind == "content")
    assert s["ttft_s"] >= wrote_reasoning - NS and s["ttfo_s"] >= wrote_answer - NS
    assert s["ttfo_s"] > s["ttft_s"]
    assert s["n_reasoning_tokens"] > 0 and not s["hidden_reasoning"]
