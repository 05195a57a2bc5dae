"""Parsing that gives way to reading when the event loop falls behind.

With many streams on one event loop, an arrival stamp is only as true as the loop is
prompt: a read waits in the kernel until the loop gets round to it. Framing, adapting
and recording a read costs more than reading and stamping it. So once one loop iteration
has spent ``BUDGET_NS`` parsing, the reads that follow are stamped and queued, and the
queue is parsed ``BUDGET_NS`` at a time at the start of later iterations. The loop
keeps reading and stamping at the pace of a client that parses nothing; parsing catches
up when the load falls. Under light load nothing is ever queued: each read is parsed
as it arrives, as before.

Order is kept: a read is parsed at once only when nothing is queued. A stream that ends
waits for its queued reads; one cancelled or failing parses them at once, so nothing
received is lost. Past ``MAX_QUEUED_BYTES`` queued the budget is lifted, so memory stays
bounded (a server faster than the client could otherwise fill it) and TCP's own
back-pressure returns.
"""

from __future__ import annotations

import asyncio
from collections import deque
from time import perf_counter_ns
from typing import Any, Protocol

__all__ = ["BUDGET_NS", "MAX_QUEUED_BYTES", "Backlog", "Reader"]

#: Parsing per event-loop iteration before further reads are queued.
BUDGET_NS = 2_000_000
#: Bytes queued beyond which the queue is parsed without a budget (each read counting
#: ``_ENTRY_BYTES`` more for its entries: a million 1-byte reads are not 1 MB).
MAX_QUEUED_BYTES = 8 * 1024 * 1024
_ENTRY_BYTES = 128


class Step(Protocol):
    """What a reader drives: the pump's sans-IO step."""

    @property
    def over(self) -> bool: ...

    def feed(self, item: Any, t_ns: int) -> None: ...


class Reader:
    """One stream's reads (bytes) through a :class:`Backlog`, parsed by its ``step`` in order."""

    __slots__ = ("_backlog", "_idle", "_task", "error", "pending", "step", "woken")

    def __init__(self, backlog: Backlog, step: Step) -> None:
        self._backlog = backlog
        self._task = asyncio.current_task()
        self.step = step
        self.pending: deque[tuple[Any, int]] = deque()
        self.error: BaseException | None = None  # raised by a queued read's parse
        self.woken = False  # its task was cancelled to stop reading: see _parse_one
        self._idle: asyncio.Future[None] | None = None

    def feed(self, item: Any, t_ns: int) -> None:
        """One read, stamped ``t_ns``: parsed now, or queued while the loop is behind."""
        self._backlog.feed(self, item, t_ns)

    async def drained(self) -> None:
        """Wait until every queued read of this stream is parsed."""
        if self.pending:
            self._idle = asyncio.get_running_loop().create_future()
            await self._idle

    def flush(self) -> None:
        """Parse this stream's queued reads now (it ended early: cancelled or failed),
        until its protocol ended or a parse failed; then let go of the stream."""
        pending = self.pending
        try:
            while pending and self.error is None and not self.step.over:
                self._take()
        finally:
            self._backlog.queued_bytes -= sum(_cost(item) for item, _ in pending)
            pending.clear()
            self._task = None  # no wake-up after this; the queue's stale entries are skipped

    def parse(self, item: Any, t_ns: int) -> None:
        """Parse one read; a failure is kept in ``error`` (raised by the stream's own
        task), whether the read was parsed on arrival or from the queue."""
        try:
            self.step.feed(item, t_ns)
        except Exception as exc:  # noqa: BLE001 - reported by the stream's own task
            self.error = exc

    def _take(self) -> None:
        item, t_ns = self.pending.popleft()
        self._backlog.queued_bytes -= _cost(item)
        if self.error is None and not self.step.over:
            self.parse(item, t_ns)

    def _parse_one(self) -> None:
        """Parse the oldest queued read. If that ended the stream (its protocol's end
        marker, or a failure) while its task waits for more bytes, the task is cancelled
        (``woken``) so it stops reading at once, as it would have had the read been parsed
        on arrival — a server may hold the connection open after its end marker."""
        ended = self.error is not None or self.step.over
        try:
            self._take()
            if not ended and (self.error is not None or self.step.over) and self._idle is None \
                    and self._task is not None:
                self.woken = True
                self._task.cancel()
        finally:  # (even past a KeyboardInterrupt: a stream waiting for its reads must not wait for ever)
            if not self.pending and self._idle is not None and not self._idle.done():
                self._idle.set_result(None)


def _cost(item: Any) -> int:
    """What a queued read holds: its bytes and its queue entries."""
    return len(item) + _ENTRY_BYTES


class Backlog:
    """The reads of one event loop's streams that wait to be parsed, oldest first (one
    per loop; it holds no reference to its loop)."""

    def __init__(self) -> None:
        self._queue: deque[Reader] = deque()  # one entry per queued read
        self.queued_bytes = 0
        self._spent_ns = 0  # parsing done in this loop iteration
        self._ticking = False

    def reader(self, step: Step) -> Reader:
        """A stream's way in (made in the task that will read it)."""
        return Reader(self, step)

    def feed(self, reader: Reader, item: Any, t_ns: int) -> None:
        if self._queue or self._spent_ns >= BUDGET_NS:
            reader.pending.append((item, t_ns))
            self._queue.append(reader)
            self.queued_bytes += _cost(item)
        else:
            start = perf_counter_ns()
            try:
                reader.parse(item, t_ns)
            finally:
                self._spent_ns += perf_counter_ns() - start
            if self._spent_ns * 4 < BUDGET_NS:
                # no tick yet: one per read would cost a loop iteration per read; the
                # count is reset (by a tick) once it nears the budget
                return
        if not self._ticking:
            self._ticking = True
            asyncio.get_running_loop().call_soon(self._tick)

    def _tick(self) -> None:
        """Once per loop iteration while there is parsing: a new budget, spent on the queue."""
        start = perf_counter_ns()
        deadline = start + BUDGET_NS
        queue = self._queue
        try:
            while queue:  # at least one read per tick, whatever the budget
                reader = queue.popleft()
                if reader.pending:  # (empty: flushed meanwhile)
                    reader._parse_one()
                if self.queued_bytes <= MAX_QUEUED_BYTES and perf_counter_ns() >= deadline:
                    break
        finally:  # (a KeyboardInterrupt in a parse must not leave the queue without ticks)
            self._spent_ns = perf_counter_ns() - start
            if queue:
                asyncio.get_running_loop().call_soon(self._tick)
            else:
                self._ticking = False
