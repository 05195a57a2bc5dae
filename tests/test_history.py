"""A session's history under eviction: rows of evicted runs are computed on a worker
thread, and recording a run never waits on itself."""

from __future__ import annotations

import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import pytest

import nbstream
from nbstream.data import history as history_module
from nbstream.data.history import History


class _Row:
    def __init__(self, n: int) -> None:
        self.n = n

    def summary_row(self) -> dict[str, Any]:
        return {"n": self.n}


class _Instant(ThreadPoolExecutor):
    """A worker so fast that the row is ready before ``submit`` returns."""

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Future:  # type: ignore[override]
        future: Future = Future()
        future.set_result(fn(*args, **kwargs))
        return future


def test_evicting_a_run_whose_row_is_already_computed_does_not_deadlock(monkeypatch) -> None:
    monkeypatch.setattr(history_module, "ThreadPoolExecutor", _Instant)
    history = History()
    worker = threading.Thread(target=lambda: [history.add(_Row(i), keep=1) for i in range(5)], daemon=True)
    worker.start()
    worker.join(30)  # a hang guard: the adds take microseconds
    assert not worker.is_alive(), "History.add deadlocked on its own lock"
    assert [row["n"] for row in history.rows()] == [0, 1, 2, 3, 4]


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
