"""Every run of this Python session, for ``nbstream.runs()``: the last
``nbstream.config.keep_runs`` runs are kept whole (chunk tables included); older ones
only as their summary row, so memory stays bounded however long the session runs.

An evicted run's row is computed on a worker thread, not on the event loop that is
streaming the next runs (the first one also loads the tokenizer, ~0.2 s).
"""

from __future__ import annotations

import os
import threading
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from nbstream.run import Run

_lock = threading.Lock()
_recent: deque[Run] = deque()
_evicted_rows: list[Future] = []
_worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="nbstream-history")


def _fresh_worker_after_fork() -> None:
    """A forked child has no worker thread: give it its own (and a free lock)."""
    global _lock, _worker
    _lock = threading.Lock()
    _worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="nbstream-history")


os.register_at_fork(after_in_child=_fresh_worker_after_fork)


def add(run: Run, keep: int) -> None:
    """Record a finished run; evict the oldest beyond ``keep`` down to its summary row."""
    with _lock:
        _recent.append(run)
        while len(_recent) > max(keep, 0):
            _evicted_rows.append(_worker.submit(_recent.popleft().summary_row))


def rows() -> list[dict[str, Any]]:
    """Summary rows of every finished run, oldest first."""
    with _lock:
        recent = list(_recent)
        old = list(_evicted_rows)
    return [future.result() for future in old] + [run.summary_row() for run in recent]


def recent() -> list[Run]:
    """The runs still kept whole, oldest first."""
    with _lock:
        return list(_recent)


def clear() -> None:
    with _lock:
        _recent.clear()
        _evicted_rows.clear()
