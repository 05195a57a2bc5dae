"""Reads are stamped as they arrive and parsed in batches, apart from reading.

With many streams on one event loop, an arrival stamp is only as true as the loop is
prompt: a read waits in the kernel until the loop gets round to it. Framing, adapting
and recording a read costs more than reading and stamping it, and costs most alone:
between two reads the loop's other work (the selector, the sockets, other streams)
evicts the parser's code and data from the CPU caches. Among 100 streams at 50 tok/s
a chat chunk parsed as it arrived took 20-25 µs, parsed in batches 15-19 µs (back to
back in a loop of its own, ~5 µs); the client's CPU against that of a client that
parses nothing fell from 1.37-1.42x to 1.27-1.32x (``bench/concurrency.py``'s clients,
6 batches each, two interleaved A/B runs).

So each read is stamped and queued, and the first read of a batch asks for the queue to
be parsed ``WINDOW_S`` later, oldest first, ``BUDGET_NS`` at a time per loop iteration
(while more is queued, at the start of every iteration). The loop keeps reading and
stamping nearly at the pace of a client that parses nothing (it parses at most one
budget per pass), and parsing catches up when the load falls; what a stream records
(every read with its own stamp) is the same. A view
sees each read about ``WINDOW_S`` after it arrived while the loop keeps up, and each
stream's reads are parsed in a copy of its own task's context, taken as it starts.

Order is kept. A stream whose body ends has its queued reads parsed then while the loop
keeps up (its answer is not held back for the window), else waits for them; one
cancelled or failing parses them at once, so nothing received is lost. Past
``MAX_QUEUED_BYTES`` queued, the queue is parsed down to that limit in the next
iteration without a budget, so memory stays bounded (a server faster than the client
could otherwise fill it) and TCP's own back-pressure returns.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections import deque
from time import perf_counter_ns
from typing import Any, Protocol

__all__ = ["BUDGET_NS", "MAX_QUEUED_BYTES", "WINDOW_S", "Backlog", "Reader"]

#: How long the first read of a batch waits for others before the queue is parsed.
WINDOW_S = 0.005
#: Parsing per event-loop iteration; what is left waits for the next one.
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

    __slots__ = ("_backlog", "_context", "_idle", "_task", "error", "over_ns", "pending", "step", "woken")

    def __init__(self, backlog: Backlog, step: Step) -> None:
        self._backlog = backlog
        self._task = asyncio.current_task()
        # a tick runs in the context of whichever task scheduled it: each stream's reads
        # are all parsed in one copy of its own task's (a listener's print goes to its own
        # notebook cell; what a listener sets in it stays there)
        self._context = contextvars.copy_context()
        self.step = step
        self.pending: deque[tuple[Any, int]] = deque()
        self.error: BaseException | None = None  # raised by a queued read's parse
        self.over_ns: int | None = None  # the stamp of the read that ended the stream
        self.woken = False  # its task was cancelled to stop reading: see _parse_one
        self._idle: asyncio.Future[None] | None = None

    def feed(self, item: Any, t_ns: int) -> None:
        """One read, stamped ``t_ns``: queued, to be parsed with the others."""
        self._backlog.feed(self, item, t_ns)

    async def drained(self) -> None:
        """Wait until every queued read of this stream is parsed (its body ended): at once
        while the loop keeps up (the queue only waits out its window; an answer is not
        held back for it), else in turn, by the ticks."""
        if self.pending and self._backlog.keeping_up:
            self.flush()
        if self.pending:
            self._idle = asyncio.get_running_loop().create_future()
            await self._idle

    def flush(self) -> None:
        """Parse this stream's queued reads now (its body ended, or it was cancelled or
        failed), until its protocol ended or a parse failed; then let go of the stream."""
        pending = self.pending
        try:
            while pending and self.error is None and not self.step.over:
                self._context.run(self._take)
        finally:
            self._backlog.queued_bytes -= sum(_cost(item) for item, _ in pending)
            pending.clear()
            self._task = None  # no wake-up after this; the queue's stale entries are skipped

    def _take(self) -> None:
        """Parse the oldest queued read; a failure is kept in ``error``, raised by the
        stream's own task."""
        item, t_ns = self.pending.popleft()
        self._backlog.queued_bytes -= _cost(item)
        if self.error is None and not self.step.over:
            try:
                self.step.feed(item, t_ns)
            except Exception as exc:  # noqa: BLE001 - reported by the stream's own task
                self.error = exc
            if self.step.over:
                self.over_ns = t_ns

    def _parse_one(self) -> None:
        """Parse the oldest queued read. If that ended the stream (its protocol's end
        marker, or a failure) while its task waits for more bytes, the task is cancelled
        (``woken``) so it stops reading at once: a server may hold the connection open
        after its end marker."""
        ended = self.error is not None or self.step.over
        try:
            self._context.run(self._take)
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
        self._ticking = False  # a tick is due (after the window, or in the next iteration)
        # the due tick while it waits out the window: a token, not the loop's timer handle
        # (which refers to the loop: a closed loop would be kept alive by its backlog)
        self._window: object | None = None

    def reader(self, step: Step) -> Reader:
        """A stream's way in (made in the task that will read it)."""
        return Reader(self, step)

    @property
    def keeping_up(self) -> bool:
        """The queue only waits out its window (no tick is behind)."""
        return self._window is not None

    def feed(self, reader: Reader, item: Any, t_ns: int) -> None:
        reader.pending.append((item, t_ns))
        self._queue.append(reader)
        self.queued_bytes += _cost(item)
        if self._ticking and self._window is None:
            return  # a tick comes in the next iteration
        if self.queued_bytes > MAX_QUEUED_BYTES:  # too much to wait: parse down to the limit now
            asyncio.get_running_loop().call_soon(self._tick)
            self._ticking, self._window = True, None  # (a window's timer is ignored when it fires)
        elif not self._ticking:
            window = object()
            asyncio.get_running_loop().call_later(WINDOW_S, self._after_window, window)
            self._ticking, self._window = True, window

    def _after_window(self, window: object) -> None:
        if window is self._window:  # (else the queue was parsed meanwhile)
            self._tick()

    def _tick(self) -> None:
        """Once per loop iteration while reads are queued: a new budget, spent on the queue."""
        self._window = None
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
            if queue:
                asyncio.get_running_loop().call_soon(self._tick)
            else:
                self._ticking = False
