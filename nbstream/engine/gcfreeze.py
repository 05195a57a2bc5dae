"""While streams run, full garbage collections leave the process's old objects alone.

A full (generation-2) collection walks every object the collector tracks and stops the
thread that reads the sockets while it runs: the arrivals it delays are stamped late and
show up in the record as a gap the server never made. In a kernel with pandas, IPython
and an SDK loaded (~176k objects) one took ~100 ms; at 1,000 streams, 523 ms
(``bench/concurrency.py``).

While any stream runs, the objects that existed when the first one started are frozen
(``gc.freeze()``): collections skip them; objects made while streaming are collected as
usual. When the last stream ends they are unfrozen and collected as before (an old
cycle dropped meanwhile is freed then, not lost). A process that froze objects itself
(a forking server) is left alone. The count of running streams is process-wide, as the
collector is.

Measured and left out: a shorter GIL switch interval while streaming (0.5 ms instead of
5 ms, so a rendering thread hands over sooner) changed the recorded ITL p99 with the
live view on by nothing measurable (+0.72 ms vs +0.76 ms over the view off,
``bench/live_itl.py``).
"""

from __future__ import annotations

import contextlib
import gc
import os
import threading
from collections.abc import Iterator

__all__ = ["streaming"]


class _Freezer:
    """How many streams run, and whether the freeze is ours to undo."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.active = 0
        self.ours = False

    def enter(self) -> None:
        with self.lock:
            if self.active == 0 and gc.get_freeze_count() == 0:
                gc.freeze()
                self.ours = True
            self.active += 1

    def exit(self) -> None:
        with self.lock:
            self.active -= 1
            if self.active == 0 and self.ours:
                self.ours = False
                gc.unfreeze()

    def after_fork(self) -> None:
        """A forked child runs none of its parent's streams: it unfreezes what they froze."""
        self.lock = threading.Lock()
        if self.ours:
            gc.unfreeze()
        self.active, self.ours = 0, False


_FREEZER = _Freezer()
os.register_at_fork(after_in_child=_FREEZER.after_fork)


@contextlib.contextmanager
def streaming() -> Iterator[None]:
    """Around the reading of one stream: old objects stay frozen while any stream runs."""
    _FREEZER.enter()
    try:
        yield
    finally:
        _FREEZER.exit()
