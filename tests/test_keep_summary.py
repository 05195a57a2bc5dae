"""keep="summary": a run keeps counters and timing statistics, not one row per event —
its summary row is the one the full record gives (same times, gaps, counts), its held
rows stay bounded however long it streams, and asking for a dropped table says why."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from _golden_corpus import T0, _chat_plain, _cut

import nbstream
from nbstream.data import record
from nbstream.engine.pump import Step
from nbstream.run import FOLD_ROWS, Run
from nbstream.wire.adapters import make_adapter

_VOLATILE = ("run_id", "started_at")


def _recorded(reads: list[bytes], fmt: str = "chat", *, summary: bool) -> Run:
    run = Run(model="m", source="replay", wire_format=fmt)
    run.t0_ns = T0
    if summary:
        run._keep_summary(lambda r, n: record.fold(r, n, tokenizer="chars/4"))
    run.tokenizer = "chars/4"
    step = Step(run, make_adapter(fmt), mode="bytes")
    for i, chunk in enumerate(reads):
        step.feed(chunk, T0 + 1_000_000 * (i + 1) + 37 * i * i)
    run._finish()
    run.t_end_ns = T0 + 1_000_000 * (len(reads) + 5)
    run._row = None
    return run


def _same(a: dict, b: dict) -> list[str]:
    def eq(x, y):
        return (isinstance(x, float) and isinstance(y, float) and math.isnan(x) and math.isnan(y)) or x == y
    return [k for k in a if k not in _VOLATILE and not eq(a[k], b[k])]


@pytest.mark.parametrize("n", [10, FOLD_ROWS - 3, 3 * FOLD_ROWS + 17])
def test_summary_row_equals_the_full_records_row(n):
    reads = _cut(_chat_plain(n, 11), 12, 900)
    full, folded = _recorded(reads, summary=False), _recorded(reads, summary=True)
    assert folded.text == full.text and folded.status == full.status == "done"
    assert _same(full.summary_row(), folded.summary_row()) == []
    assert folded.summary_row()["n_events"] == n + 4


def test_held_rows_stay_bounded_while_streaming():
    reads = _cut(_chat_plain(5 * FOLD_ROWS, 13), 14, 700)
    run = Run(model="m", source="replay", wire_format="chat")
    run._keep_summary(lambda r, n: record.fold(r, n, tokenizer="chars/4"))
    step = Step(run, make_adapter("chat"), mode="bytes")
    most = 0
    for i, chunk in enumerate(reads):
        step.feed(chunk, T0 + i)
        most = max(most, len(run.records))
    assert most < FOLD_ROWS + 200 and run.n_received == 5 * FOLD_ROWS + 4


def test_a_generic_feed_counts_every_event_and_keeps_its_last_arrival():
    body = b"".join(b"event: tick\ndata: " + json.dumps({"i": i}).encode() + b"\n\n" for i in range(2 * FOLD_ROWS + 5))
    run = _recorded(_cut(body, 15, 500), "sse", summary=True)
    assert run.summary_row()["n_events"] == 2 * FOLD_ROWS + 5
    assert run.last_data_ns > T0


def test_asking_for_the_dropped_table_says_why_in_one_line():
    run = _recorded(_cut(_chat_plain(20, 16), 17, 300), summary=True)
    with pytest.raises(ValueError, match=r"keep='summary'.*keep='all'") as info:
        run.chunks  # noqa: B018
    assert "\n" not in str(info.value)
    with pytest.raises(ValueError, match="keep='summary'"):
        run.save("/nonexistent/never-written.jsonl")


def test_show_and_stream_take_keep_and_refuse_a_wrong_value(demo):
    session = nbstream.Session()
    shown = nbstream.show([b'data: {"choices":[{"index":0,"delta":{"content":"hi"}}]}\n\n', b"data: [DONE]\n\n"],
                          display=False, keep="summary", session=session)
    streamed = nbstream.stream("hi", base_url=demo.base_url, model="demo", keep="summary", session=session)
    assert shown.text == "hi" and streamed.status == "done" and streamed.summary["ttft_s"] > 0
    assert len(session.chunks()) == 0 and len(session.runs()) == 2  # rows dropped, summaries kept
    for bad in ("none", 5, None):
        with pytest.raises(ValueError, match="keep must be 'all'"):
            nbstream.show([b"data: [DONE]\n\n"], display=False, keep=bad, session=session)
    session.close()


@pytest.mark.parametrize("bad", [np.array(["summary"]), np.array(["summary", "all"]), pd.Series(["all"]),
                                 "summary" * 100_000], ids=["array-of-one", "array", "series", "huge-string"])
def test_keep_is_one_of_two_strings_and_anything_else_is_a_short_one_line_error(bad):
    session = nbstream.Session()
    with pytest.raises(ValueError, match="keep must be 'all'") as info:
        nbstream.show([b"data: [DONE]\n\n"], display=False, keep=bad, session=session)
    assert "\n" not in str(info.value) and len(str(info.value)) < 300
    assert len(session.runs()) == 0
    session.close()
