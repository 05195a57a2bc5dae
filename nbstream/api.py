"""The public entry points: ``stream`` / ``astream`` send a request, ``show`` / ``ashow``
read a stream someone else opened. All return a :class:`~nbstream.run.Run`."""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from nbstream import errors
from nbstream._secrets import redact
from nbstream.data import record as _record
from nbstream.engine import loop as _loop
from nbstream.engine import models as _models
from nbstream.engine import pump as _pump
from nbstream.engine import replay as _replay
from nbstream.engine import request as _request
from nbstream.engine import sources as _sources
from nbstream.engine.request import TimeoutArgs
from nbstream.run import Run
from nbstream.session import Session, get_session
from nbstream.views import attach as _views

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["MODEL_COLUMNS", "ashow", "astream", "models", "replay", "show", "stream"]

#: ``nbstream.models()``'s columns, always all of them, in this order.
MODEL_COLUMNS = ("provider", "model", "display_name", "owned_by", "created", "input_token_limit",
                 "output_token_limit", "size", "alias_for", "base_url", "error")


def models(*, session: Session | None = None) -> pd.DataFrame:
    """Each configured provider's models, from its models endpoint (OpenAI's and
    Anthropic's ``/v1/models``, Gemini's ``/v1beta/models``, Ollama's ``/api/tags``), one
    row each, then the aliases (``alias_for``). A provider that fails has one row whose
    ``error`` says why; keys never appear."""
    import pandas as pd  # pandas loads on first use, not on `import nbstream`

    session = session or get_session()
    rows = _models.list_models(session.context, session.io)
    return pd.DataFrame([[row.get(c) for c in MODEL_COLUMNS] for row in rows], columns=list(MODEL_COLUMNS))


def stream(prompt: str | None = None, *, messages: list[dict] | None = None, model: str | None = None,
           base_url: str | None = None, api_key: str | None = None, api: str | None = None,
           system: str | None = None, url: str | None = None, method: str = "GET",
           headers: dict[str, str] | None = None, block: bool = True, raise_on_error: bool = False,
           connect_timeout: float | None = None, first_byte_timeout: float | None = None,
           idle_timeout: float | None = None, reconnect: bool = True, max_reconnects: int = 5,
           display: bool = False, response_format: Any = None, session: Session | None = None,
           keep: str = "all", **params: Any) -> Run:
    """Send a prompt (or ``messages``) to an OpenAI-compatible server and stream the answer.

    With ``url=`` instead, follow a generic Server-Sent-Events feed (reconnecting per the
    spec). Blocks until the run ends — in scripts, terminal IPython and Jupyter alike —
    unless ``block=False``; Ctrl-C / Interrupt cancels it and keeps the partial answer.
    ``display=True`` shows it live as it streams. Extra keyword arguments (temperature,
    max_tokens, …) go into the request body. ``response_format`` (a JSON-schema dict or a
    pydantic model class) asks for JSON following it: ``run.json`` / ``run.parsed``.
    ``session`` (default: ``get_session()``) supplies the settings and records the run.
    ``keep="summary"`` keeps counters and timing statistics only, not one row per event
    (endless feeds, huge sweeps).
    """
    session = session or get_session()
    run, req = _request.prepare(context=session.context,
        prompt=prompt, messages=messages, model=model, base_url=base_url, api_key=api_key, api=api,
        system=system, url=url, method=method, headers=headers, reconnect=reconnect,
        max_reconnects=max_reconnects, params=params, response_format=response_format,
        timeouts=TimeoutArgs(connect=connect_timeout, first_byte=first_byte_timeout, idle=idle_timeout))
    _adopt(session, run, display, keep)
    future = session.io.submit(_pump.drive(run, lambda: _pump.request_work(run, req)))
    run._canceller = _future_canceller(future)  # thread-safe: cancels the task on the I/O loop
    if block:
        _loop.wait(future, on_interrupt=run.cancel)
        run.wait(5)
        _raise_if_pipe_closed(run)
        if raise_on_error:
            run.raise_for_status()
    return run


async def astream(prompt: str | None = None, *, messages: list[dict] | None = None,
                  model: str | None = None, base_url: str | None = None, api_key: str | None = None,
                  api: str | None = None, system: str | None = None, url: str | None = None,
                  method: str = "GET", headers: dict[str, str] | None = None,
                  raise_on_error: bool = False, connect_timeout: float | None = None,
                  first_byte_timeout: float | None = None, idle_timeout: float | None = None,
                  reconnect: bool = True, max_reconnects: int = 5, display: bool = False,
                   response_format: Any = None, session: Session | None = None, keep: str = "all",
                   **params: Any) -> Run:
    """``stream`` for async code: runs on the caller's event loop and returns the ended Run."""
    session = session or get_session()
    run, req = _request.prepare(context=session.context,
        prompt=prompt, messages=messages, model=model, base_url=base_url, api_key=api_key, api=api,
        system=system, url=url, method=method, headers=headers, reconnect=reconnect,
        max_reconnects=max_reconnects, params=params, response_format=response_format,
        timeouts=TimeoutArgs(connect=connect_timeout, first_byte=first_byte_timeout, idle=idle_timeout))
    _adopt(session, run, display, keep)
    await _run_here(run, lambda: _pump.request_work(run, req))
    if raise_on_error:
        run.raise_for_status()
    return run


def show(source: Any, *, display: bool = True, raise_on_error: bool = False,
         session: Session | None = None, keep: str = "all") -> Run:
    """Read a stream opened elsewhere: an openai SDK stream, an Agents SDK
    ``Runner.run_streamed`` result, an httpx, httpx2 or aiohttp streaming response, a URL
    of an SSE feed, or any (async) iterable of str, bytes or dict.

    Synchronous sources are read right here and the ended Run is returned. Async sources
    are bound to the loop that created them: inside a running loop (a Jupyter cell) the
    Run is returned at once while it fills — ``await nbstream.show(src)`` waits for the
    end; with no running loop they are read to the end on nbstream's I/O thread.
    """
    session = session or get_session()
    if isinstance(source, str):
        return stream(url=source, raise_on_error=raise_on_error, display=display, session=session, keep=keep)
    _check_keep(keep)
    run, plan = _sources.plan(source)
    _adopt(session, run, display, keep)
    if not plan.is_async:
        _pump.read_sync(plan.items, plan.step, plan.close)  # type: ignore[arg-type]
        _raise_if_pipe_closed(run)
    elif _loop.in_running_loop():
        task = asyncio.ensure_future(_pump.drive(run, lambda: _consume(plan)))
        run._task = task
        run._canceller = _threadsafe_cancel(task)
        return run
    else:
        future = session.io.submit(_pump.drive(run, lambda: _consume(plan)))
        run._canceller = _future_canceller(future)
        _loop.wait(future, on_interrupt=run.cancel)
        run.wait(5)
        _raise_if_pipe_closed(run)
    if raise_on_error:
        run.raise_for_status()
    return run


async def ashow(source: Any, *, display: bool = True, raise_on_error: bool = False,
                session: Session | None = None, keep: str = "all") -> Run:
    """``show`` for async code: reads the source on the caller's loop to the end."""
    session = session or get_session()
    if isinstance(source, str):
        return await astream(url=source, raise_on_error=raise_on_error, display=display, session=session,
                             keep=keep)
    _check_keep(keep)
    run, plan = _sources.plan(source)
    _adopt(session, run, display, keep)
    if not plan.is_async:
        await asyncio.to_thread(_pump.read_sync, plan.items, plan.step, plan.close)  # type: ignore[arg-type]
    else:
        await _run_here(run, lambda: _consume(plan))
    if raise_on_error:
        run.raise_for_status()
    return run


def replay(path: str, *, speed: float = 1.0, display: bool = False, block: bool = True,
           session: Session | None = None) -> Run:
    """Re-stream a recording made with ``%%stream --record FILE`` (or ``run.save(FILE)``)
    at its original pace (``speed=2`` twice as fast, ``0`` at once) — no network, no key."""
    session = session or get_session()
    run, work = _replay.prepare(path, speed)
    _adopt(session, run, display)
    future = session.io.submit(_pump.drive(run, work))
    run._canceller = _future_canceller(future)
    if block:
        _loop.wait(future, on_interrupt=run.cancel)
        run.wait(5)
    return run


# ---- helpers ---------------------------------------------------------------------------
def _fold(run: Run, n: int) -> None:
    _record.fold(run, n, tokenizer=run.tokenizer)


def _check_keep(keep: Any) -> None:
    """``keep=`` is one of two strings (an array's ``==`` would answer per element)."""
    if not (isinstance(keep, str) and keep in ("all", "summary")):
        shown = errors.one_line(redact(repr(keep)))[:60]
        raise ValueError(f"keep must be 'all' (every event's row) or 'summary' (counters and timing "
                         f"statistics only), not {shown}")


def _adopt(session: Session, run: Run, display: bool, keep: str = "all") -> None:
    """Make ``run`` the session's (recorded when it ends) and, if asked, show it live;
    ``keep="summary"`` folds its rows into the summary as they come."""
    _check_keep(keep)
    if keep == "summary":
        run._keep_summary(_fold)
    session.track(run)
    if display:
        _views.attach(run)


def _raise_if_pipe_closed(run: Run) -> None:
    """The view's stdout reader left (``nbstream ask … | head``): say so as ``print`` would."""
    if run._pipe_closed:
        raise BrokenPipeError("the output's reader closed the pipe; the stream was stopped")


async def _run_here(run: Run, work: Callable[[], Awaitable[None]]) -> None:
    """Run ``work`` as a task on the running loop; ``run.cancel()`` returns normally,
    while cancellation of the caller itself propagates."""
    task = asyncio.ensure_future(_pump.drive(run, work))
    run._task = task
    run._canceller = _threadsafe_cancel(task)
    try:
        await task
    except asyncio.CancelledError:
        current = asyncio.current_task()
        if current is not None and current.cancelling():
            raise


async def _consume(plan: _sources.Plan) -> None:
    await _pump.read_async(plan.items, plan.step, plan.close)  # type: ignore[arg-type]


def _future_canceller(future: concurrent.futures.Future[Any]) -> Callable[[], None]:
    """``run.cancel`` for a run filling on the I/O loop: cancels its task there."""
    def cancel() -> None:
        future.cancel()

    return cancel


def _threadsafe_cancel(task: asyncio.Task[Any]) -> Callable[[], None]:
    loop = task.get_loop()

    def cancel() -> None:
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            task.cancel()
        else:
            loop.call_soon_threadsafe(task.cancel)

    return cancel
