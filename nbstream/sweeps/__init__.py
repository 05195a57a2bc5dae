"""Prompt sweeps: a template over a DataFrame of inputs × models × parameters, streamed
concurrently on the session's I/O loop with pacing, retries and a cache, returned as one
tidy DataFrame.

``plan`` makes the rows to answer, ``pacing`` decides how fast and when to retry,
``cache`` answers what was answered before, ``runner`` drives the requests, ``result``
builds the table. :func:`sweep` blocks (a notebook cell, a script); :func:`asweep` is
awaited in a running event loop.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from nbstream.engine.request import TimeoutArgs
from nbstream.session import Session, get_session
from nbstream.sweeps import plan as _plan
from nbstream.sweeps import result as _result
from nbstream.sweeps import runner as _runner
from nbstream.sweeps.cache import Cache
from nbstream.sweeps.pacing import Pacer
from nbstream.views import sweep_view as _view

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["asweep", "sweep"]


def sweep(template: str, data: Any, models: Any = None, *, params: Mapping[str, Any] | None = None,
          concurrency: int = 16, retries: int = 3, rpm: float | None = None, tpm: float | None = None,
          cache: bool | str | Any = True, response_format: Any = None, display: bool | None = None,
          keep_runs: int | None = None, jitter_seed: int | None = None, session: Session | None = None,
          **call: Any) -> pd.DataFrame:
    """Fill ``template`` from each row of ``data`` and stream it to every model with every
    combination of ``params``: at most ``concurrency`` at once, ``rpm`` / ``tpm`` per
    provider, ``retries`` on 429/408/409/5xx/dropped connections. Identical requests are
    answered from ``cache`` (True: ``./.nbstream-cache``, a folder, or False). Returns one
    row per (input row × model × combination). Blocks; Interrupt cancels what is in flight
    and returns the partial table. ``display`` (default: in a notebook or on a terminal)
    shows live progress; ``keep_runs`` (default: the session's) bounds the whole Runs the
    result keeps; ``jitter_seed`` fixes the retry jitter. ``response_format`` (a JSON schema
    or a pydantic model) asks for JSON: its fields become columns. Other keyword arguments
    (``base_url``, ``api_key``, ``system``, ``max_tokens``, ``seed``…) go to each request as
    ``stream()`` takes them.
    """
    session = session or get_session()
    prepared = _Prepared.make(template, data, models, params, concurrency, retries, rpm, tpm, cache,
                              response_format, display, keep_runs, jitter_seed, session, call)
    control = _runner.Control()
    prepared.show(stop_button=False)  # the kernel hears no click while this call blocks: Interrupt stops
    future = session.io.submit(prepared.run(control))
    view = prepared.view
    if view is not None:
        view.on_stop(control.stop)
    try:
        return _wait(future, control)
    finally:
        if view is not None:
            view.close()


async def asweep(template: str, data: Any, models: Any = None, *, params: Mapping[str, Any] | None = None,
                 concurrency: int = 16, retries: int = 3, rpm: float | None = None, tpm: float | None = None,
                 cache: bool | str | Any = True, response_format: Any = None, display: bool | None = None,
                 keep_runs: int | None = None, jitter_seed: int | None = None, session: Session | None = None,
                 **call: Any) -> pd.DataFrame:
    """:func:`sweep` awaited on the caller's running event loop. Cancelling the awaiting
    task (the kernel's Interrupt on an awaited cell) stops the sweep like Stop does and
    returns the partial table."""
    session = session or get_session()
    prepared = _Prepared.make(template, data, models, params, concurrency, retries, rpm, tpm, cache,
                              response_format, display, keep_runs, jitter_seed, session, call)
    control = _runner.Control()
    prepared.show(stop_button=True)
    if prepared.view is not None:
        prepared.view.on_stop(control.stop)
    task = asyncio.ensure_future(prepared.run(control))
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        control.stop()
        frame = await task
        current = asyncio.current_task()
        if current is not None:
            current.uncancel()
        return frame
    finally:
        if prepared.view is not None:
            prepared.view.close()


def _wait(future: concurrent.futures.Future[Any], control: _runner.Control) -> Any:
    """The sweep's table; a first Ctrl-C stops it and waits for the partial table, a
    second abandons the wait."""
    try:
        return future.result()
    except KeyboardInterrupt:
        control.stop()
        try:
            return future.result()
        except KeyboardInterrupt:
            future.cancel()
            raise


class _Prepared:
    """A sweep's checked arguments, plan, pacing, cache and view, ready to run."""

    def __init__(self, **kw: Any) -> None:
        self.__dict__.update(kw)

    data: pd.DataFrame
    plan: pd.DataFrame
    jobs: list[_runner.Job]
    pacer: Pacer
    cache: Cache | None
    retries: int
    response_format: Any
    call: dict[str, Any]
    session: Session
    view: _view.SweepView | None
    keep_runs: int | None
    display: bool | None
    param_names: list[str]

    @classmethod
    def make(cls, template: str, data: Any, models: Any, params: Mapping[str, Any] | None, concurrency: int,
             retries: int, rpm: float | None, tpm: float | None, cache: Any, response_format: Any,
             display: bool | None, keep_runs: int | None, jitter_seed: int | None, session: Session,
             call: dict[str, Any]) -> _Prepared:
        if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
            raise ValueError(f"concurrency must be a whole number >= 1 (streams at once); got {concurrency!r}")
        if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
            raise ValueError(f"retries must be a whole number >= 0; got {retries!r}")
        if keep_runs is not None and (isinstance(keep_runs, bool) or not isinstance(keep_runs, int) or keep_runs < 0):
            raise ValueError(f"keep_runs must be a whole number >= 0 (whole Runs the result holds), or None; "
                             f"got {keep_runs!r}")
        for name, value in (("rpm", rpm), ("tpm", tpm)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))
                                      or not value > 0):
                raise ValueError(f"{name} must be a number > 0 per minute, or None for no cap; got {value!r}")
        reserved = sorted(set(call) & {"prompt", "messages", "model", "url", "stream", "block", "display",
                                       "timeouts", "params"})
        if reserved:
            raise TypeError(f"sweep() sets {reserved[0]}= itself: put it in the template, models= or params=")
        if models is None:
            models = [session.settings.model or "demo"]
        frame = _plan.inputs(data)
        plan = _plan.make(template, frame, models, params)
        keep = keep_runs if keep_runs is not None else session.settings.keep_runs
        request, fixed = _split_call(call)
        for name, value in fixed.items():
            _plan.check_json(f"{name}=", value)
        todo = _runner.jobs(plan, fixed)
        _runner.preflight(todo, session, request, response_format)
        return cls(data=frame, plan=plan, jobs=todo, pacer=Pacer(concurrency, rpm, tpm, jitter_seed),
                   cache=Cache.of(cache), retries=retries, response_format=response_format, call=request,
                   session=session, keep_runs=keep, view=None, display=display,
                   param_names=list(_plan.combinations(params)[0]))

    def show(self, *, stop_button: bool) -> None:
        """Start the live view, if one is wanted here."""
        if _view.wanted(self.display):
            self.view = _view.SweepView(self.jobs, self.param_names, stop_button=stop_button,
                                        structured=self.response_format is not None)

    async def run(self, control: _runner.Control) -> pd.DataFrame:
        """Answer the plan and build the table (partial after a Stop)."""
        runs = _result.RunIndex(self.keep_runs)
        rows: list[dict[str, Any] | None] = [None] * len(self.jobs)
        parsed: list[dict[str, Any] | None] = [None] * len(self.jobs)
        listener = _Collect(rows, parsed, runs, self.view, self.session)
        try:
            await _runner.execute(self.jobs, session=self.session, pacer=self.pacer, cache=self.cache,
                                  retries=self.retries, response_format=self.response_format, call=self.call,
                                  listener=listener, control=control)
        finally:
            await asyncio.to_thread(listener.worker.shutdown, True)
        return _result.table(self.data, self.plan, rows, parsed, runs, params=self.param_names,
                             fields=_result.schema_fields(self.response_format))


_REQUEST_ARGS = ("base_url", "api_key", "api", "system", "headers")
_TIMEOUTS = {"connect_timeout": "connect", "first_byte_timeout": "first_byte", "idle_timeout": "idle"}


def _split_call(call: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``sweep``'s extra keyword arguments: those that say where and how to send (as
    ``stream()`` takes them), and the request fields every row sends (``max_tokens``…)."""
    request = {k: v for k, v in call.items() if k in _REQUEST_ARGS}
    timeouts = {_TIMEOUTS[k]: v for k, v in call.items() if k in _TIMEOUTS}
    if timeouts:
        request["timeouts"] = TimeoutArgs(**timeouts)
    fixed = {k: v for k, v in call.items() if k not in _REQUEST_ARGS and k not in _TIMEOUTS}
    return request, fixed


class _Collect:
    """The runner's listener: each ended row's columns are built on this sweep's own
    thread (a run's summary costs milliseconds, which the I/O loop — stamping other
    streams' arrivals — must not spend), the Run kept only while ``keep_runs`` allows,
    and the view told."""

    def __init__(self, rows: list[dict[str, Any] | None], parsed: list[dict[str, Any] | None],
                 runs: _result.RunIndex, view: _view.SweepView | None, session: Session) -> None:
        self.rows, self.parsed, self.runs, self.view, self.session = rows, parsed, runs, view, session
        self.worker = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="nbstream-sweep")

    def started(self, job: _runner.Job, run: Any) -> None:
        if self.view is not None:
            self.view.started(job, run)

    def ended(self, job: _runner.Job, outcome: _runner.Outcome) -> None:
        self.worker.submit(self._collect, job, outcome)

    def _collect(self, job: _runner.Job, outcome: _runner.Outcome) -> None:
        try:
            row, fields = _result.row(job, outcome)
        except Exception as exc:  # noqa: BLE001 - a row that cannot be summarized is still a row
            row, fields = _result.row(job, _runner.Outcome(None, outcome.attempts, outcome.cached,
                                                           f"{type(exc).__name__}: {exc}"))
        self.rows[job.index], self.parsed[job.index] = row, fields
        if outcome.run is not None:
            self.runs.add(outcome.run)
            self.session.history.compact()  # an evicted run, now summarized, is let go
        if self.view is not None:
            self.view.ended(job, row)
