"""A :class:`Session` holds everything nbstream remembers between calls: the settings
(``nbstream.config``), the finished runs (``nbstream.runs()``), what endpoints told us
about themselves, the ``%%stream --chat`` conversations, the pooled HTTP clients, the I/O
loop that blocking calls run on, the ``.env`` cache and the embedded demo endpoint.

The module-level functions use one default session, created on first use (as rich's
``get_console()``); creating a session starts no thread — its I/O loop, history worker
and demo endpoint start when first needed. Tests and libraries can make their own::

    s = Session(model="demo")
    run = nbstream.stream("hi", session=s)
    s.runs()

After ``os.fork()`` every session in the child gets fresh runtime state (loop, clients,
locks, history worker, demo endpoint) and keeps its settings, runs and conversations.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
import weakref
from typing import TYPE_CHECKING, Any

from nbstream import _secrets
from nbstream.data import history as _history
from nbstream.data import summaries as _summaries
from nbstream.data import tables as _tables
from nbstream.engine import config as _config
from nbstream.engine import http as _http
from nbstream.engine import loop as _loop
from nbstream.engine.request import Context
from nbstream.run import Run

if TYPE_CHECKING:
    import pandas as pd


__all__ = ["Session", "chunks", "get_session", "runs", "set_session", "summarize"]


class Session:
    """Settings, history, endpoint quirks, conversations, HTTP clients and the I/O loop
    of one user of nbstream. ``Session(model=..., keep_runs=...)`` sets settings (checked
    as ``session.settings.NAME = value`` is)."""

    def __init__(self, **settings: Any) -> None:
        self.settings = _config.Settings()
        for name, value in settings.items():
            setattr(self.settings, name, value)
        self.history = _history.History()
        self.defaults = _config.Defaults(self.settings)
        self.transport = _http.Transport()
        self.context = Context(self.defaults, self.transport)  # what a request borrows
        self.io = _loop.IOLoop()
        self.conversations: dict[str, list[dict[str, Any]]] = {}  # %%stream --chat NAME
        _SLOT.sessions.add(self)

    # ---- runs ----------------------------------------------------------------------
    def track(self, run: Run) -> Run:
        """Make ``run`` one of this session's: it takes the tokenizer setting, and is
        recorded in the history when it ends, before any view hears of the end (so
        ``runs()`` includes it as soon as ``run.wait()`` returns)."""
        run.tokenizer = self.settings.tokenizer
        run._end_hooks.append(lambda run: self.history.add(run, self.settings.keep_runs))
        return run

    def runs(self, *selected: Run) -> pd.DataFrame:
        """One row per finished run of this session (or per ``selected`` run)."""
        return _tables.runs(*selected, history=self.history)

    def chunks(self, *selected: Run) -> pd.DataFrame:
        """The chunk tables of ``selected`` (default: every run this session keeps whole)."""
        return _tables.chunks(*selected, history=self.history)

    def summarize(self, runs: pd.DataFrame, chunks: pd.DataFrame | None = None, *, style: str = "vllm",
                  percentiles: tuple[float, ...] = (99,), include_cached: bool = False) -> dict[str, Any]:
        """:func:`nbstream.data.summaries.summarize`; without ``chunks``, the chunk tables
        this session still holds for those runs. A frame that only names its runs (a sweep's
        result: ``run_id`` but no timing columns) is read as their rows in this session's
        history, rows answered from a cache left out (not measured in this sweep) unless
        ``include_cached`` (their timing is the one recorded when they were first answered);
        a sweep run in another session is a one-line error naming ``session.summarize(df)``."""
        if hasattr(runs, "columns") and "run_id" in runs.columns and "t_first_chunk_s" not in runs.columns:
            runs = self._sweep_runs(runs, include_cached)
        if chunks is None and hasattr(runs, "columns") and "run_id" in runs.columns:
            wanted = set(runs["run_id"])
            held = [run for run in self.history.recent() if run.run_id in wanted]
            chunks = self.chunks(*held) if held else None
        return _summaries.summarize(runs, chunks, style=style, percentiles=percentiles)

    def _sweep_runs(self, sweep: pd.DataFrame, include_cached: bool) -> pd.DataFrame:
        """The rows of this session's history that a sweep's result names, each with the
        status the sweep gave it (``"invalid"``: an answer that is not the JSON asked for)."""
        cached = sweep["cached"].astype(bool) if "cached" in sweep.columns and not include_cached else None
        named = sweep[~cached] if cached is not None else sweep
        named = named[named["run_id"].notna()]
        table = self.runs()
        if "run_id" not in table.columns:  # no run yet: nothing this session ran
            table = table.reindex(columns=["run_id", "status"])
        found = table[table["run_id"].isin(set(named["run_id"]))]
        missing = len(set(named["run_id"]) - set(found["run_id"]))
        if missing:
            raise ValueError(f"summarize(): {missing} of this sweep's runs are not in this session's history "
                             "(the sweep ran in another Session): call session.summarize(df) on that session")
        if "status" in named.columns and len(found):  # the sweep's word: "invalid" is a failure, not "done"
            status = dict(zip(named["run_id"], named["status"].astype(str), strict=True))
            found = found.assign(status=found["run_id"].map(status))
        return found

    # ---- lifetime ---------------------------------------------------------------------
    def close(self) -> None:
        """Stop what this session started: the I/O loop's thread and its HTTP client, the
        history worker, the demo endpoint. The settings and runs stay readable."""
        if self.io.started:
            future = asyncio.run_coroutine_threadsafe(self._wind_down(), self.io.get())
            with contextlib.suppress(Exception):  # closing is best effort; the loop stops anyway
                future.result(timeout=10)
            self.io.stop()
        self.history.close()
        self.defaults.close()

    async def _wind_down(self) -> None:
        """On the I/O loop, before it stops: streams still running are cancelled (each Run
        ends "cancelled" with its partial answer, not "streaming" for ever), then the HTTP
        client closes."""
        here = asyncio.current_task()
        tasks = [task for task in asyncio.all_tasks() if task is not here]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=5)
        await self.transport.clients.aclose_running()

    def _after_fork(self) -> None:
        self.io.after_fork()
        self.transport.after_fork()
        self.history.after_fork()
        self.defaults.after_fork()

    def __repr__(self) -> str:
        return f"<nbstream.Session {self.settings!r}, {len(self.history.recent())} recent runs>"


class _Slot:
    """The default session (created on first use) and every live session, so that a
    forked child can give each fresh runtime state. The only module-level mutable state
    of the package besides the process-wide secret registry (:mod:`nbstream._secrets`)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.default: Session | None = None
        self.sessions: weakref.WeakSet[Session] = weakref.WeakSet()

    def after_fork_in_child(self) -> None:
        self.lock = threading.Lock()
        for session in list(self.sessions):
            session._after_fork()
        _secrets.after_fork()


_SLOT = _Slot()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_SLOT.after_fork_in_child)


def get_session() -> Session:
    """The default session behind ``nbstream.stream``, ``nbstream.config``, ``nbstream.runs()``
    and the magics; created on first use."""
    session = _SLOT.default
    if session is None:
        with _SLOT.lock:
            if _SLOT.default is None:
                _SLOT.default = Session()
            session = _SLOT.default
    return session


def set_session(session: Session | None) -> Session | None:
    """Make ``session`` the default one (``None``: a fresh one is made on next use);
    returns the previous default, for putting it back (tests do)."""
    if session is not None and not isinstance(session, Session):
        raise TypeError(f"set_session() takes a nbstream.Session or None, not {type(session).__name__}")
    with _SLOT.lock:
        previous, _SLOT.default = _SLOT.default, session
    return previous


def runs(*selected: Run) -> pd.DataFrame:
    """One row per run: every finished run of the default session, or just ``selected``
    (column definitions in :mod:`nbstream.data.record`)."""
    return get_session().runs(*selected)


def chunks(*selected: Run) -> pd.DataFrame:
    """The chunk tables of ``selected`` (default: every run still kept whole), stacked."""
    return get_session().chunks(*selected)


def summarize(runs: pd.DataFrame, chunks: pd.DataFrame | None = None, *, style: str = "vllm",
              percentiles: tuple[float, ...] = (99,), include_cached: bool = False) -> dict[str, Any]:
    """Aggregate ``runs`` (a ``nbstream.runs()`` frame) in the given tool's ``style``
    (``"vllm"`` or ``"aiperf"``). ITL statistics need the chunk rows: pass ``chunks``
    (``nbstream.chunks(...)``) or leave it None to use the chunk tables the default
    session still holds for those runs."""
    return get_session().summarize(runs, chunks, style=style, percentiles=percentiles,
                                   include_cached=include_cached)
