"""A session's finished runs, for ``nbstream.runs()``: the last ``keep`` runs are kept
whole (chunk tables included); older ones only as their summary row, so memory stays
bounded however long the session runs.

An evicted run's row is computed lazily, when ``rows()`` is asked (``nbstream.runs()``),
on the caller's thread — not by a worker thread competing with the streams for the
GIL (one used 33% of the client's CPU over 1,000 runs). Until then the evicted run is
held as it is, unless its row was computed already (a view or a sweep asked for it).
Past ``MAX_PENDING`` of them, an eviction made while no stream is being read summarizes
the oldest towards that bound, ``CATCH_UP`` at a time. While streams are read,
evictions run on their I/O loop as each stream ends, and a summary there (~0.3 ms each;
8% of the loop's time as 1,000 streams ended) would delay every other stream's arrival
stamps: they wait for a quiet moment, unless the runs waiting weigh more than
``MAX_DEFERRED_EVENTS`` messages — then one is summarized per eviction, never a batch,
so memory stays bounded in a session that never asks and never rests.
"""

from __future__ import annotations

import threading
from collections import deque
from typing import TYPE_CHECKING, Any

from nbstream.engine.gcfreeze import streams_reading

if TYPE_CHECKING:
    from nbstream.run import Run

__all__ = ["CATCH_UP", "MAX_DEFERRED_EVENTS", "MAX_PENDING", "RUN_WEIGHT", "History"]

#: Evicted runs held for a lazy summary at most (at rest); older ones are summarized on eviction.
MAX_PENDING = 256
#: Messages the evicted runs held may hold while streams are read, before summaries resume
#: (each run counts as ``RUN_WEIGHT`` messages more: a failed run holds none, but is not free).
MAX_DEFERRED_EVENTS = 500_000
RUN_WEIGHT = 100
#: Runs summarized by one eviction at rest (a batch of 1,191 took 1.15 s in a stream's end).
CATCH_UP = 16


class History:
    """Finished runs, oldest first: the recent ones whole, the evicted ones as summary rows."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._recent: deque[Run] = deque()
        self._evicted: list[dict[str, Any] | Run] = []  # a row, or the run whose row is not computed yet
        self._pending: list[int] = []  # where in _evicted the runs are, oldest first
        self._pending_weight = 0  # what the pending runs hold, in messages (see _weight)

    def add(self, run: Run, keep: int) -> None:
        """Record a finished run; evict the oldest beyond ``keep`` (summarized when asked)."""
        with self._lock:
            self._recent.append(run)
            while len(self._recent) > max(keep, 0):
                old = self._recent.popleft()
                row = getattr(old, "_row", None)  # computed already (a view or a sweep asked)
                if row is None:
                    self._pending.append(len(self._evicted))
                    self._pending_weight += _weight(old)
                self._evicted.append(old if row is None else row)
            excess = len(self._pending) - MAX_PENDING
            if excess > 0:
                if not streams_reading():
                    self._summarize(min(excess, CATCH_UP))  # at rest: no stream's stamps to delay
                elif self._pending_weight > MAX_DEFERRED_EVENTS:
                    self._summarize(1)  # one per eviction: a batch would stall the streams' loop

    def compact(self) -> None:
        """Let go of evicted runs whose rows were computed since (a sweep calls this after
        each row's summary, on its own thread): only their rows stay."""
        with self._lock:
            self._settle(lambda run: getattr(run, "_row", None))

    def _summarize(self, limit: int) -> None:
        """Replace the ``limit`` oldest pending runs by their rows."""
        evicted, pending = self._evicted, self._pending
        for i in pending[:limit]:
            item = evicted[i]
            self._pending_weight -= _weight(item)
            try:
                evicted[i] = item.summary_row()  # type: ignore[union-attr]
            except Exception:  # noqa: BLE001 - this runs as a stream ends: the run stays whole, and
                pass  # nbstream.runs() raises when it asks for the row
        del pending[:limit]

    def _settle(self, row_of: Any) -> None:
        """Replace each pending run for which ``row_of(run)`` gives a row; keep the others."""
        evicted, still = self._evicted, []
        for i in self._pending:
            item = evicted[i]
            row = item if isinstance(item, dict) else row_of(item)
            if row is None:
                still.append(i)
            else:
                self._pending_weight -= _weight(item)
                evicted[i] = row
        self._pending = still

    def rows(self) -> list[dict[str, Any]]:
        """Summary rows of every finished run, oldest first."""
        with self._lock:
            old = list(self._evicted)
            recent = list(self._recent)
        # computed without the lock: a stream ending meanwhile is recorded without waiting
        rows = [item if isinstance(item, dict) else item.summary_row() for item in old]
        with self._lock:
            computed = {id(item): row for item, row in zip(old, rows, strict=True) if item is not row}
            self._settle(lambda run: computed.get(id(run)))
        return rows + [run.summary_row() for run in recent]

    def recent(self) -> list[Run]:
        """The runs still kept whole, oldest first."""
        with self._lock:
            return list(self._recent)

    def clear(self) -> None:
        """Forget every run."""
        with self._lock:
            self._recent.clear()
            self._evicted.clear()
            self._pending = []
            self._pending_weight = 0

    def close(self) -> None:
        """Nothing runs in the background: kept for the session's shutdown sequence."""

    def after_fork(self) -> None:
        """A forked child may inherit a held lock: a new one (the runs and rows are kept)."""
        self._lock = threading.RLock()


def _weight(item: Any) -> int:
    """An evicted run's weight: the messages it holds, plus ``RUN_WEIGHT`` (0 for a row)."""
    return 0 if isinstance(item, dict) else len(getattr(item, "records", ())) + RUN_WEIGHT
