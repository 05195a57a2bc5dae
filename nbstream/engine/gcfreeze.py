"""While streams run, full garbage collections leave the process's old objects alone.

A full (generation-2) collection walks every object the collector tracks and stops the
thread that reads the sockets while it runs: the arrivals it delays are stamped late and
show up in the record as a gap the server never made. In a kernel with pandas, IPython
and an SDK loaded (~176k objects) one took ~100 ms; at 1,000 streams, 523 ms
(``bench/concurrency.py``).

While any stream runs, the objects that existed when the first one started are frozen
(``gc.freeze()``): collections skip them; objects made while streaming are collected as
usual. As each further stream starts, and as each response arrives (``connected()``),
what was made since is frozen too (O(1): the collector splices its lists): 1,000 streams
started at once made ~91k objects of requests in flight before any answered, and one
full collection of them took 48-68 ms; with these freezes there was none while
streaming (``bench/concurrency.py``). When the last stream ends everything is unfrozen
and collected as before: a cycle dropped meanwhile is freed then, not lost. A stream
through the demo endpoint leaves ~30 such objects (~10 KB), so a sweep that always has
a stream running held them all until its end: 20,000 rows grew by 14 KB a stream (57 MB
per 4,000 streams, against 16 MB without the freeze). So once :data:`MAX_ENDED_HELD`
streams have ended under one freeze, no more is frozen until it thaws: what later
streams make is collected as usual (a long sweep's running streams are few; a burst of
1,000 is frozen, as its streams all start before any ends). While an endless feed
runs, a cycle made and dropped before another stream starts is held until it ends. A process that froze objects
itself (a forking server) is left alone; one that freezes objects while streams run
has them unfrozen with ours when the last one ends. (The only test,
``gc.get_freeze_count()``, walks every frozen object — 17 ms for a kernel's 176k — so it
runs once, as the first stream starts: free when nothing is frozen, never after our own
freeze.)
The running streams are counted process-wide, as the collector is; one whose event loop
was closed or stopped under it (its ``finally`` never runs: the loop's tasks are frozen
too, so not even the collector would finish them) stops counting at the next start or
end of a stream.

A Markdown parse builds its whole token list before dropping any of it, so the full
collections that fall inside one walk a list that keeps growing: a 260 KB table parsed
in 0.35 s, 0.13 s of it in four full collections, against 0.19 s with collection off
(18x the time of a tenth of the table instead of ~10x). ``no_collection()`` turns cyclic
collection off around such a parse (counted across threads; whatever was garbage is
collected afterwards). A ``gc.disable()`` the user makes during one is undone with it.

Measured and left out: a shorter GIL switch interval while streaming (0.5 ms instead of
5 ms, so a rendering thread hands over sooner) changed the recorded ITL p99 with the
live view on by nothing measurable (+0.72 ms vs +0.76 ms over the view off,
``bench/live_itl.py``).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import gc
import os
import sys
import sysconfig
import threading
from collections.abc import Iterator
from typing import Any

__all__ = ["MAX_ENDED_HELD", "connected", "no_collection", "streaming", "streams_reading"]

#: Streams that may end under one freeze before what later streams make is no longer frozen.
MAX_ENDED_HELD = 1_000


class _Freezer:
    """How many streams run on each event loop (None: read synchronously), and whether the
    freeze is ours to undo. Counted per loop, so a start or an end costs O(loops), not
    O(streams); ``generation`` moves on at a fork, so a stream the parent started does not
    count down the child's."""

    def __init__(self) -> None:
        # re-entrant: a collection inside a locked section may finalize a stream whose
        # event loop was dropped, and its ``finally`` ends the stream here again
        self.lock = threading.RLock()
        self.running: collections.Counter[asyncio.AbstractEventLoop | None] = collections.Counter()
        self.generation = 0
        self.ours = False
        self.ended = 0  # streams ended under this freeze (their cycles are held until it thaws)

    def enter(self, key: list[Any]) -> None:
        """Count one more stream; ``key`` records (generation, loop) for ``exit``, filled
        just before the count moves: a Ctrl-C in between can end the freeze early
        (harmless), never leave it on for good."""
        try:
            loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        with self.lock:
            dead = self._forget_dead()
            if not self.running and not self.ours and gc.get_freeze_count() == 0:  # nothing frozen: no walk
                self.ours = True  # first: a Ctrl-C landing as freeze() returns leaves it ours, thawed at the next end
                gc.freeze()
            elif self.ours and self._holding():  # what the streams already running made (1,000 at once: requests)
                gc.freeze()
            key[:] = [self.generation, loop]
            self.running[loop] += 1
        del dead  # (the loops' last references go outside the lock)

    def exit(self, key: list[Any]) -> None:
        with self.lock:
            if key:  # (empty: interrupted before it was counted)
                generation, loop = key
                if generation == self.generation and self.running.get(loop, 0) > 0:  # else: forgotten as dead
                    self.running[loop] -= 1
                    self.ended += 1
            dead = self._forget_dead()
            if not self.running:
                self._thaw()
        del dead

    def _forget_dead(self) -> list[Any]:
        """Drop the loops that stopped under their streams, and the counts that reached 0;
        the dropped loops are returned, so that they are let go of after the lock is."""
        dead = [lp for lp, n in self.running.items() if n <= 0 or lp is not None and not lp.is_running()]
        for loop in dead:
            self.running.pop(loop, None)
        return dead

    def refreeze(self) -> None:
        """Freeze what was made since (O(1) on the interpreters that allow it), if the
        freeze is ours: a stream's connection and record, alive for as long as it runs."""
        if not _CHEAP_FREEZE:
            return
        with self.lock:
            if self.ours and self.running and self._holding():
                gc.freeze()

    def _holding(self) -> bool:
        """Whether what is made now may still be frozen: cheaply, and while the cycles of
        the streams that ended under this freeze stay few."""
        return _CHEAP_FREEZE and self.ended < MAX_ENDED_HELD

    def _thaw(self) -> None:
        self.ended = 0
        if self.ours:
            self.ours = False
            gc.unfreeze()

    def after_fork(self) -> None:
        """A forked child runs none of its parent's streams: it unfreezes what they froze."""
        self.lock = threading.RLock()
        self.running = collections.Counter()
        self.generation += 1
        self._thaw()


# gc.freeze() splices the collector's lists (O(1)) on 3.11-3.13 with the GIL; the
# incremental collector of 3.14 and the free-threaded builds walk objects to freeze, so
# there only the first freeze of a set of streams is made
_CHEAP_FREEZE = sys.version_info < (3, 14) and not sysconfig.get_config_var("Py_GIL_DISABLED")

_FREEZER = _Freezer()
os.register_at_fork(after_in_child=_FREEZER.after_fork)


def streams_reading() -> bool:
    """Whether any stream is being read in this process now (the history puts off its
    bookkeeping meanwhile)."""
    with _FREEZER.lock:
        return bool(_FREEZER.running)


def connected() -> None:
    """A stream's response has arrived: what was made for it is frozen too."""
    _FREEZER.refreeze()


@contextlib.contextmanager
def streaming() -> Iterator[None]:
    """Around the reading of one stream: old objects stay frozen while any stream runs."""
    key: list[Any] = []
    try:
        _FREEZER.enter(key)
        yield
    finally:
        _FREEZER.exit(key)


class _Pause:
    """How many parses run with cyclic collection off, and whether it was on before the first."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.depth = 0
        self.was_enabled = False

    def enter(self) -> None:
        # in this order, a Ctrl-C between two steps leaves nothing ``exit`` cannot undo
        with self.lock:
            if self.depth == 0:
                self.was_enabled = gc.isenabled()
            self.depth += 1
            gc.disable()

    def exit(self) -> None:
        with self.lock:
            if self.depth > 0:
                self.depth -= 1
            if self.depth == 0 and self.was_enabled:
                gc.enable()

    def after_fork(self) -> None:
        """A forked child runs none of its parent's parses: collection as it was before them."""
        self.lock = threading.Lock()
        if self.depth and self.was_enabled:
            gc.enable()
        self.depth = 0


_PAUSE = _Pause()
os.register_at_fork(after_in_child=_PAUSE.after_fork)


@contextlib.contextmanager
def no_collection() -> Iterator[None]:
    """Around one parse that builds many objects at once: no cyclic collection inside it."""
    try:
        _PAUSE.enter()
        yield
    finally:
        _PAUSE.exit()
