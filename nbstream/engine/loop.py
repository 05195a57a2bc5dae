"""Run a coroutine to completion from synchronous code, wherever that code runs.

A plain script, terminal IPython and a Jupyter cell (whose kernel loop is already
running) all get the same behaviour: the coroutine runs on a dedicated I/O thread with
its own event loop and the caller waits on a ``concurrent.futures.Future``. That wait is
interruptible, so Ctrl-C or the kernel's Interrupt reaches the caller, which cancels the
task; the task's cleanup closes the connection. Measured on ipykernel 7.4: interrupt to cancelled in ~0.2 s, widget
updates from the thread reach the browser live. Never nest_asyncio: with ipykernel 7 it
drops the next queued cell.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import threading
from collections.abc import Callable, Coroutine
from typing import Any

_lock = threading.Lock()
_loop: asyncio.AbstractEventLoop | None = None


def io_loop() -> asyncio.AbstractEventLoop:
    """The process-wide I/O loop, started on first use on a daemon thread."""
    global _loop
    with _lock:
        if _loop is None:
            loop = asyncio.new_event_loop()
            ready = threading.Event()

            def run() -> None:
                asyncio.set_event_loop(loop)
                loop.call_soon(ready.set)
                loop.run_forever()

            threading.Thread(target=run, name="nbstream-io", daemon=True).start()
            ready.wait()
            _loop = loop
        return _loop


def _forget_loop_after_fork() -> None:
    """After ``os.fork()`` the child has no I/O thread (only the forking thread survives),
    yet it inherits the parent's loop object: forget both so the child starts its own."""
    global _lock, _loop
    _lock = threading.Lock()
    _loop = None


os.register_at_fork(after_in_child=_forget_loop_after_fork)


def submit(coro: Coroutine[Any, Any, Any]) -> concurrent.futures.Future:
    """Start ``coro`` on the I/O loop and return its future at once."""
    return asyncio.run_coroutine_threadsafe(coro, io_loop())


def wait(future: concurrent.futures.Future, *, on_interrupt: Callable[[], None]) -> Any:
    """Block until ``future`` is done. On KeyboardInterrupt call ``on_interrupt()`` (which
    should cancel the work), then keep waiting briefly for its cleanup to finish."""
    try:
        return future.result()
    except concurrent.futures.CancelledError:  # run.cancel() from elsewhere: the Run says so
        return None
    except KeyboardInterrupt:
        on_interrupt()
        try:
            return future.result(timeout=5)
        except (concurrent.futures.CancelledError, concurrent.futures.TimeoutError):
            return None


def in_running_loop() -> bool:
    """True when called from code running inside an event loop on this thread."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True
