"""The server's record of every request: what was asked and when each write left.

Tests compare what a client measured with this ground truth. All times are
``time.perf_counter_ns()`` values (CLOCK_MONOTONIC on Linux), so they compare directly
with a client's ``perf_counter_ns()`` in the same process.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, overload

__all__ = ["RequestLog", "RequestLogList"]


@dataclass(eq=False)
class RequestLog:
    """One request as the server saw it.

    ``writes`` holds ``(t_ns, kind, n)`` per event written: the time taken just before
    the socket write, the event kind (``role``, ``content``, ``reasoning``, ``tool``,
    ``finish``, ``usage``, ``done``, ``comment``, ``error``, ``malformed``, ``lifecycle``,
    ``body``) and the tokens it carried. ``disconnected_ns`` is set when the client went
    away mid-response; ``finished`` when the response was written to its end.
    """

    id: str
    path: str
    model: str | None = None
    scenario: str | None = None
    knobs: dict[str, Any] = field(default_factory=dict)
    t_start_ns: int = 0
    t_received_ns: int = 0
    status: int | None = None
    writes: list[tuple[int, str, int]] = field(default_factory=list)
    disconnected_ns: int | None = None
    finished: bool = False
    _done: threading.Event = field(default_factory=threading.Event, repr=False)

    def wait(self, timeout: float = 5.0) -> bool:
        """Block until the server is done with this request; False on timeout."""
        return self._done.wait(timeout)

    @property
    def done(self) -> bool:
        """True once the handler stopped working on this request (however it ended)."""
        return self._done.is_set()

    def times(self, kind: str) -> list[int]:
        """The write times (ns) of the events of one kind."""
        return [t for t, k, _ in list(self.writes) if k == kind]

    def tokens(self, kind: str = "content") -> int:
        """Tokens written in events of one kind."""
        return sum(n for _, k, n in list(self.writes) if k == kind)


class RequestLogList(Sequence[RequestLog]):
    """A thread-safe, append-only list of ``RequestLog`` records, oldest first."""

    def __init__(self) -> None:
        self._items: list[RequestLog] = []
        self._changed = threading.Condition()

    def append(self, log: RequestLog) -> None:
        with self._changed:
            self._items.append(log)
            self._changed.notify_all()

    def clear(self) -> None:
        """Forget every record (handy between two parts of a test)."""
        with self._changed:
            self._items.clear()

    def wait_for(self, count: int, timeout: float = 5.0) -> bool:
        """Block until at least ``count`` requests were logged; False on timeout."""
        with self._changed:
            return self._changed.wait_for(lambda: len(self._items) >= count, timeout)

    @overload
    def __getitem__(self, index: int) -> RequestLog: ...

    @overload
    def __getitem__(self, index: slice) -> list[RequestLog]: ...

    def __getitem__(self, index: int | slice) -> RequestLog | list[RequestLog]:
        with self._changed:
            return self._items[index]

    def __len__(self) -> int:
        with self._changed:
            return len(self._items)

    def __iter__(self) -> Iterator[RequestLog]:
        with self._changed:
            return iter(list(self._items))

    def __repr__(self) -> str:
        return f"RequestLogList({len(self)} requests)"
