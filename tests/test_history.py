"""A session's history under eviction: rows of evicted runs are computed when asked,
on the asking thread (no worker competes with the streams), in order, and the number of
evicted runs held whole for that is bounded."""

from __future__ import annotations

import threading
from typing import Any

import pytest

import nbstream
from nbstream.data import history as history_module
from nbstream.data.history import History


class _Row:
    def __init__(self, n: int) -> None:
        self.n = n
        self.computed_on: str | None = None

    def summary_row(self) -> dict[str, Any]:
        self.computed_on = threading.current_thread().name
        return {"n": self.n}


def test_evicted_rows_are_computed_only_when_asked_on_the_asking_thread() -> None:
    history = History()
    runs = [_Row(i) for i in range(5)]
    for run in runs:
        history.add(run, keep=1)
    assert all(run.computed_on is None for run in runs)
    assert [row["n"] for row in history.rows()] == [0, 1, 2, 3, 4]
    assert {run.computed_on for run in runs} == {threading.current_thread().name}


def test_evicted_runs_held_for_a_lazy_row_are_bounded(monkeypatch) -> None:
    monkeypatch.setattr(history_module, "MAX_PENDING", 4)
    history = History()
    runs = [_Row(i) for i in range(20)]
    for run in runs:
        history.add(run, keep=0)
        assert sum(not isinstance(item, dict) for item in history._evicted) <= 4
    assert runs[0].computed_on is not None
    assert [row["n"] for row in history.rows()] == list(range(20))


def test_an_eviction_past_the_bound_summarizes_one_run_never_a_batch(monkeypatch) -> None:
    """``add`` runs on the I/O loop as a stream ends: a batch of summaries there (each
    milliseconds) would stall every other stream's arrival stamps."""
    monkeypatch.setattr(history_module, "MAX_PENDING", 4)
    history = History()
    runs = [_Row(i) for i in range(20)]
    for i, run in enumerate(runs):
        history.add(run, keep=0)
        assert sum(r.computed_on is not None for r in runs) == max(0, i + 1 - 4)
    assert [row["n"] for row in history.rows()] == list(range(20))


class _Held(_Row):
    records = [None] * 10  # messages the run holds


class _Failed(_Row):
    records: list[None] = []  # a failed request: no message, but not free


def test_while_streams_are_read_evictions_summarize_nothing_until_a_rest_then_catch_up(monkeypatch) -> None:
    """A summary on the I/O loop as a stream ends delays every other stream's stamps:
    put off while any stream is read; at rest each eviction catches up a few."""
    from nbstream.engine.gcfreeze import streaming

    monkeypatch.setattr(history_module, "MAX_PENDING", 4)
    monkeypatch.setattr(history_module, "CATCH_UP", 5)
    history = History()
    runs = [_Held(i) for i in range(22)]
    with streaming():  # a stream being read meanwhile
        for run in runs[:19]:
            history.add(run, keep=0)
        assert all(run.computed_on is None for run in runs)
    summarized = []
    for run in runs[19:]:  # at rest: 16, 17, 18 runs over the bound
        history.add(run, keep=0)
        summarized.append(sum(r.computed_on is not None for r in runs))
    assert summarized == [5, 10, 15]
    assert [r.computed_on is not None for r in runs] == [True] * 15 + [False] * 7  # the oldest first
    assert [row["n"] for row in history.rows()] == list(range(22))


@pytest.mark.parametrize("kind", [_Held, _Failed], ids=["holding messages", "failed, holding none"])
def test_while_streams_are_read_the_runs_waiting_are_bounded_by_their_weight(monkeypatch, kind) -> None:
    from nbstream.engine.gcfreeze import streaming

    monkeypatch.setattr(history_module, "MAX_PENDING", 4)
    weight = len(kind.records) + history_module.RUN_WEIGHT
    monkeypatch.setattr(history_module, "MAX_DEFERRED_EVENTS", weight * 8)
    history = History()
    runs = [kind(i) for i in range(20)]
    with streaming():
        for i, run in enumerate(runs):
            history.add(run, keep=0)
            # past 8 runs' weight held, one summary per eviction (never a batch)
            assert sum(r.computed_on is not None for r in runs) == max(0, i + 1 - 8)
    assert [row["n"] for row in history.rows()] == list(range(20))


def test_a_run_whose_summary_fails_stays_whole_and_evictions_go_on(monkeypatch) -> None:
    """Evictions run as a stream ends: a summary that raises must not reach that stream."""
    monkeypatch.setattr(history_module, "MAX_PENDING", 2)

    class _Broken(_Row):
        def summary_row(self) -> dict[str, Any]:
            raise ValueError("no row for this one")

    history = History()
    runs = [_Broken(0)] + [_Row(i) for i in range(1, 8)]
    for run in runs:
        history.add(run, keep=0)  # raises nothing
    assert all(run.computed_on is not None for run in runs[1:6])
    with pytest.raises(ValueError, match="no row for this one"):  # said when the row is asked for
        history.rows()


def test_adding_from_another_thread_while_rows_are_read_loses_nothing() -> None:
    history = History()
    adder = threading.Thread(target=lambda: [history.add(_Row(i), keep=2) for i in range(500)], daemon=True)
    adder.start()
    while adder.is_alive():
        history.rows()
    adder.join(30)
    assert [row["n"] for row in history.rows()] == list(range(500))


@pytest.mark.parametrize("keep", [0, 1, 3])
def test_a_session_keeps_streaming_past_its_keep_runs(keep) -> None:
    session = nbstream.Session(keep_runs=keep)
    with nbstream.demo.serve(ttft=0, tps=5000) as server:
        runs = [nbstream.stream("hi", base_url=server.base_url, model="demo", session=session) for _ in range(8)]
    assert [r.status for r in runs] == ["done"] * 8
    frame = session.runs()
    assert list(frame["run_id"]) == [r.run_id for r in runs]
    assert len(session.history.recent()) == keep
    session.close()
