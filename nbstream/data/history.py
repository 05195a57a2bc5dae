"""A session's finished runs, for ``nbstream.runs()``: the last ``keep`` runs are kept
whole (chunk tables included); older ones only as their summary row, so memory stays
bounded however long the session runs.

An evicted run's row is computed on a worker thread, not on the event loop that is
streaming the next runs (the first one also loads the tokenizer, ~0.2 s). The worker is
started on the first eviction, so a session that never evicts has no thread.
"""

from __future__ import annotations

import threading
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from nbstream.run import Run

__all__ = ["History"]


class History:
    """Finished runs, oldest first: the recent ones whole, the evicted ones as summary rows."""

    def __init__(self) -> None:
        # re-entrant: a row computed before its done-callback is added runs the callback
        # right away, on the thread that holds the lock in add()
        self._lock = threading.RLock()
        self._recent: deque[Run] = deque()
        self._evicted: list[Future[dict[str, Any]]] = []
        self._pending: dict[Future[dict[str, Any]], Run] = {}  # evicted, row not computed yet
        self._worker: ThreadPoolExecutor | None = None

    def add(self, run: Run, keep: int) -> None:
        """Record a finished run; evict the oldest beyond ``keep`` down to its summary row."""
        with self._lock:
            self._recent.append(run)
            while len(self._recent) > max(keep, 0):
                self._evict(self._recent.popleft())

    def _evict(self, run: Run) -> None:
        if self._worker is None:
            self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="nbstream-history")
        future = self._worker.submit(run.summary_row)
        self._pending[future] = run
        future.add_done_callback(self._computed)
        self._evicted.append(future)

    def _computed(self, future: Future[dict[str, Any]]) -> None:
        with self._lock:
            self._pending.pop(future, None)

    def rows(self) -> list[dict[str, Any]]:
        """Summary rows of every finished run, oldest first."""
        with self._lock:
            recent = list(self._recent)
            old = list(self._evicted)
        return [future.result() for future in old] + [run.summary_row() for run in recent]

    def recent(self) -> list[Run]:
        """The runs still kept whole, oldest first."""
        with self._lock:
            return list(self._recent)

    def clear(self) -> None:
        """Forget every run."""
        with self._lock:
            self._recent.clear()
            self._evicted.clear()
            self._pending.clear()

    def close(self) -> None:
        """Stop the worker thread (rows still pending are computed first)."""
        worker, self._worker = self._worker, None
        if worker is not None:
            worker.shutdown(wait=True)

    def after_fork(self) -> None:
        """A forked child has no worker thread and maybe a held lock: new ones; the rows
        the parent's worker had not computed yet are computed again here, in order."""
        self._lock = threading.RLock()
        self._worker = None
        pending, self._pending = self._pending, {}
        evicted, self._evicted = self._evicted, []
        for future in evicted:
            run = pending.get(future)
            if run is None or future.done():
                self._evicted.append(future)
            else:
                self._evict(run)
