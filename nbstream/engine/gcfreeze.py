"""Keep full garbage collections of the process's old objects off the streams' clock.

A full (generation-2) collection walks every object the collector tracks and stops the
thread that reads the sockets while it runs: the arrivals it delays are stamped late and
show up as a gap that the server never made. In a kernel with pandas, IPython and an SDK
loaded that is several hundred thousand objects, tens to hundreds of milliseconds a
collection (figures: ``bench/concurrency.py``).

While any stream runs, the objects that existed when the first one started are frozen
(``gc.freeze()``): collections skip them; objects made while streaming are collected as
usual. When the last stream ends they are unfrozen and collected as before (an old cycle
dropped meanwhile is freed then, not lost). The count is process-wide because the
collector is. A process that froze objects itself (a forking server) is left alone.
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
