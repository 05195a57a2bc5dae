"""Run a plan on the session's I/O loop: a pool of workers per model (so per provider),
each taking its model's next plan row, answering it from the cache or sending it (paced,
retried), and telling a listener. A worker waits at its provider's gate (a ``Retry-After``
hold, an exhausted rpm/tpm bucket) before it asks for one of the sweep's ``concurrency``
stream slots, so a held provider never keeps a slot from another one.

Each attempt is prepared, tracked by the session and driven exactly as ``astream`` does
(``prepare`` → ``track`` → ``drive``), but the runner keeps the Run in hand while it
streams, so that Stop (or Interrupt) cancels what is in flight and keeps every partial
answer. ``response_format`` goes to the request as ``astream(response_format=...)`` takes it.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from nbstream.api import _run_here
from nbstream.engine import pump as _pump
from nbstream.engine import replay as _replay
from nbstream.engine import request as _request
from nbstream.run import Run
from nbstream.session import Session
from nbstream.sweeps.cache import Cache, keepable, key
from nbstream.sweeps.pacing import RATE_LIMIT_RETRIES, Gate, Pacer, backoff, retryable

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Control", "Job", "Listener", "Outcome", "execute", "jobs", "preflight"]


@dataclass(frozen=True)
class Job:
    """One plan row to answer."""

    index: int
    model: str
    params: dict[str, Any]  # what the request sends: the fixed fields and the swept ones
    prompt: str
    swept: dict[str, Any]  # the swept parameters alone (the result's columns)


@dataclass
class Outcome:
    """How a plan row ended: its last attempt's Run (None when it could not even be
    prepared: then ``error`` says why), the attempts sent, and whether the cache answered."""

    run: Run | None
    attempts: int
    cached: bool
    error: str | None = None


class Listener(Protocol):
    """What the runner tells a view (every call on the I/O loop's thread)."""

    def started(self, job: Job, run: Run) -> None: ...

    def ended(self, job: Job, outcome: Outcome) -> None: ...


class Control:
    """Stop a sweep from any thread (the Stop button, Ctrl-C): nothing new starts, what
    is in flight is cancelled and keeps its partial answer."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requested = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._event: asyncio.Event | None = None

    @property
    def stopping(self) -> bool:
        return self._requested

    def bind(self) -> asyncio.Event:
        """The event the running sweep watches (made on its loop)."""
        with self._lock:
            self._loop, self._event = asyncio.get_running_loop(), asyncio.Event()
            if self._requested:
                self._event.set()
            return self._event

    def stop(self) -> None:
        with self._lock:
            self._requested = True
            loop, event = self._loop, self._event
        if loop is not None and event is not None and not loop.is_closed():
            loop.call_soon_threadsafe(event.set)


def jobs(plan: pd.DataFrame, fixed: dict[str, Any] | None = None) -> list[Job]:
    """The plan's rows as jobs, in plan order; ``fixed`` request fields go with every one
    (the swept parameters win)."""
    fixed = fixed or {}
    return [Job(i, model, {**fixed, **params}, prompt, dict(params))
            for i, (model, params, prompt) in enumerate(zip(plan["model"], plan["params"], plan["prompt"],
                                                            strict=True))]


def _prepare(job: Job, session: Session, call: dict[str, Any], response_format: Any
             ) -> tuple[Run, _request.Request]:
    extra = {"response_format": response_format} if response_format is not None else {}
    return _request.prepare(context=session.context, prompt=job.prompt, model=job.model,
                            params=dict(job.params), **call, **extra)


def _output_tokens(run: Run) -> float:
    """What an answer costs a tokens-per-minute budget: the server's output count, else an
    estimate from its text (4 characters a token, as the prompt's is estimated)."""
    usage = run.usage
    if usage is not None and usage.output_tokens is not None:
        return float(usage.output_tokens)
    return (len(run.text) + len(run.reasoning)) / 4


def preflight(todo: list[Job], session: Session, call: dict[str, Any], response_format: Any) -> None:
    """Prepare the first job of each model and parameter combination, so that what would
    fail every row (a bad argument, a provider without its key) fails the call instead."""
    seen: set[str] = set()
    for job in todo:
        shape = repr((job.model, sorted(job.params)))
        if shape not in seen:
            seen.add(shape)
            _prepare(job, session, call, response_format)


@dataclass
class _Sweep:
    session: Session
    pacer: Pacer
    cache: Cache | None
    retries: int
    response_format: Any
    call: dict[str, Any]
    listener: Listener | None
    stop: asyncio.Event
    inflight: dict[int, Run]
    slots: asyncio.Semaphore  # the sweep's streams at once, over every provider
    waiting: set[asyncio.Task[Any] | None] = field(default_factory=set)

    def prepare(self, job: Job) -> tuple[Run, _request.Request]:
        return _prepare(job, self.session, self.call, self.response_format)

    async def answer(self, job: Job) -> Outcome | None:
        try:
            run, req = self.prepare(job)
        except (TypeError, ValueError) as exc:
            return Outcome(None, 0, False, str(exc))
        digest = key(req.url, req.body, self.response_format, req.headers) if self.cache is not None else ""
        hit = self.cache.get(digest) if self.cache is not None else None
        if hit is not None:
            try:
                replayed = await self.replayed(job, hit, getattr(run, "response_format", None))
            except (ValueError, OSError):  # a damaged recording (no record, bad lines): a miss, asked again
                pass
            else:
                if replayed.run is not None and keepable(replayed.run):  # an invalid JSON answer: asked again
                    return replayed
            # a recording cut short (edited, copied half) replays as no answer: a miss, asked again
        gate = self.pacer.gate(req.base_url)
        tokens = len(str(req.body)) / 4
        attempts = failures = limited = 0
        last: Run | None = None
        while True:
            attempts += 1
            task = asyncio.current_task()
            self.waiting.add(task)  # a Stop cancels a wait for a slot or a bucket at once
            try:
                if self.stop.is_set():  # stopped before this wait began: the Stop's cancels have passed
                    return Outcome(last, attempts - 1, False) if last is not None else None
                await self.admit(gate, tokens)
            except asyncio.CancelledError:
                if last is None or not self.stop.is_set() or task is None:
                    raise
                task.uncancel()  # stopped while waiting to retry: the row keeps its last attempt
                return Outcome(last, attempts - 1, False)
            finally:
                self.waiting.discard(task)
            try:
                if self.stop.is_set():  # stopped while waiting: this attempt never went out
                    return Outcome(last, attempts - 1, False) if last is not None else None
                await self.drive(job, run, req)
            finally:
                retry_after = getattr(run.error, "retry_after", None)
                rate_limited = getattr(run.error, "status", None) == 429
                if rate_limited:  # held before the slot is handed on: no row waiting for it goes out meanwhile
                    gate.rate_limited(retry_after)
                self.slots.release()
                await gate.leave(output_tokens=_output_tokens(run))
            if run.status == "done":
                await gate.succeeded()
                break
            limited = limited + 1 if rate_limited else 0
            failures += not rate_limited
            if run.status == "cancelled" or not retryable(run.error) or failures > self.retries \
                    or limited > RATE_LIMIT_RETRIES or self.stop.is_set():
                break
            if await self.stopped_within(backoff(limited or failures, retry_after, self.pacer.rng)):
                break
            last = run
            run, req = self.prepare(job)
        if run.status == "done" and self.cache is not None:
            with contextlib.suppress(OSError):  # a full or read-only disk: the answer stands, uncached
                # off the I/O loop: writing a recording (~2 ms, up to 9) would delay the other streams' stamps
                await asyncio.to_thread(self.cache.put, run, digest)
        return Outcome(run, attempts, False)

    async def admit(self, gate: Gate, tokens: float) -> None:
        """Wait for this provider's pace (its hold, limit and buckets: waiting there holds
        no stream slot), then for one of the sweep's slots. A hold or a lower limit that
        came while waiting for the slot (another row's 429) sends this row back to its gate."""
        while True:
            await gate.enter(tokens)
            try:
                await self.slots.acquire()
            except BaseException:
                await gate.leave()
                raise
            if not gate.held():
                return
            self.slots.release()
            await gate.back_out(tokens)  # it never went out: its rpm / tpm budget goes back

    async def drive(self, job: Job, run: Run, req: _request.Request) -> None:
        self.session.track(run)
        self.inflight[job.index] = run
        if self.listener is not None:
            self.listener.started(job, run)
        try:
            await _run_here(run, lambda: _pump.request_work(run, req))
        finally:
            self.inflight.pop(job.index, None)

    async def replayed(self, job: Job, path: Any, schema: Any) -> Outcome:
        """The recording at ``path`` re-streamed at once, stamped with the times measured
        when it was recorded (its run reports them; the table leaves them out); ``schema`` (the request's
        normalized ``response_format``) makes its ``run.json`` what the original's was."""
        run, work = await asyncio.to_thread(_replay.prepare, path, 0, recorded_clock=True)  # reads the file
        run.prompt, run.params = job.prompt, dict(job.params)
        if schema is not None:
            run.response_format = schema
        self.session.track(run)
        await _run_here(run, work)
        return Outcome(run, 0, True)

    async def stopped_within(self, seconds: float) -> bool:
        try:
            await asyncio.wait_for(self.stop.wait(), timeout=seconds)
        except TimeoutError:
            return False
        return True

    async def worker(self, queue: Iterator[Job]) -> None:
        for job in queue:
            if self.stop.is_set():
                return
            try:
                outcome = await self.answer(job)
            except (asyncio.CancelledError, KeyboardInterrupt):
                raise
            except Exception as exc:  # noqa: BLE001 - one row's surprise is that row's error, not the sweep's
                outcome = Outcome(None, 0, False, f"{type(exc).__name__}: {exc}")
            if outcome is None:
                return
            if self.listener is not None:
                self.listener.ended(job, outcome)


async def execute(todo: list[Job], *, session: Session, pacer: Pacer, cache: Cache | None, retries: int,
                  response_format: Any, call: dict[str, Any], listener: Listener | None,
                  control: Control) -> None:
    """Answer every job, telling ``listener`` of each end (the runner keeps no Run: memory
    stays bounded by what the listener keeps), at most ``pacer.concurrency`` at once; a
    Stop cancels the runs in flight, leaves the rest unstarted and returns.

    Each model's jobs (a model is served by one provider) have their own queue and up to
    ``concurrency`` workers, started in turn across models; the slots they stream in are
    shared. A provider that holds its requests (``Retry-After``, rpm/tpm) keeps only its
    own workers waiting, and the other providers' rows go on."""
    sweep = _Sweep(session, pacer, cache, retries, response_format, call, listener, control.bind(), {},
                   asyncio.Semaphore(pacer.concurrency))
    queues: dict[str, list[Job]] = {}
    for job in todo:
        queues.setdefault(job.model, []).append(job)
    pools = [(iter(group), min(pacer.concurrency, len(group))) for group in queues.values()]
    workers = [asyncio.ensure_future(sweep.worker(queue))
               for n in range(max((size for _, size in pools), default=0))
               for queue, size in pools if n < size]

    async def stopper() -> None:
        await sweep.stop.wait()
        for run in list(sweep.inflight.values()):
            run.cancel()
        for task in list(sweep.waiting):
            if task is not None:
                task.cancel()

    watch = asyncio.ensure_future(stopper())
    try:
        await asyncio.gather(*workers, return_exceptions=True)
    finally:
        watch.cancel()
        for task in workers:
            task.cancel()
