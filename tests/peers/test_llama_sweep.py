"""A small sweep against the real llama-server (gemma3-270m): two prompts × two
temperatures at concurrency 2, every row answered with usage and timing, each prompt's
greedy answer the same as a single stream() gives, and a re-run answered from the cache."""

from __future__ import annotations

import pandas as pd
import pytest

import nbstream

pytestmark = pytest.mark.peers

ROWS = pd.DataFrame({"animal": ["cat", "owl"]})


def test_a_small_sweep_answers_every_row_with_usage_timing_and_the_streams_answer(llama, tmp_path):
    kw = dict(models=[llama.model], params={"temperature": [0, 0.7]}, concurrency=2, cache=tmp_path,
              display=False, base_url=llama.base_url, api_key="sk-llama-needs-no-key", max_tokens=16, seed=7,
              cache_prompt=False)
    df = nbstream.sweep("Write one sentence about a {animal}.", data=ROWS, **kw)
    assert len(df) == 4 and (df["status"] == "done").all(), df[["status", "error"]]
    assert set(df["finish_reason"]) <= {"length", "stop"}
    assert df["output_tokens"].between(1, 16).all() and df["input_tokens"].gt(0).all()
    assert df["ttft_s"].gt(0).all() and (df["e2el_s"] >= df["ttft_s"]).all()
    greedy = nbstream.stream("Write one sentence about a cat.", model=llama.model, base_url=llama.base_url,
                             api_key="sk-llama-needs-no-key", max_tokens=16, seed=7, temperature=0,
                             cache_prompt=False)
    assert df.loc[(df["animal"] == "cat") & (df["temperature"] == 0), "text"].item() == greedy.text
    again = nbstream.sweep("Write one sentence about a {animal}.", data=ROWS, **kw)
    assert again["cached"].all() and list(again["text"]) == list(df["text"])
