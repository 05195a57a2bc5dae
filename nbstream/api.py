"""The public entry points: ``stream`` / ``astream`` send a request, ``show`` / ``ashow``
read a stream someone else opened. All return a :class:`~nbstream.run.Run`."""

from __future__ import annotations

import asyncio
import inspect
from typing import Any

from nbstream import _secrets
from nbstream.engine import (
    config as _config,
)
from nbstream.engine import (
    http as _http,
)
from nbstream.engine import (
    loop as _loop,
)
from nbstream.engine import (
    pump as _pump,
)
from nbstream.engine import (
    replay as _replay,
)
from nbstream.engine import (
    sources as _sources,
)
from nbstream.run import Run
from nbstream.session import Session, get_session
from nbstream.views import attach as _views
from nbstream.wire import bodies as _build
from nbstream.wire.adapters import make_adapter


def stream(prompt: str | None = None, *, messages: list[dict] | None = None, model: str | None = None,
           base_url: str | None = None, api_key: str | None = None, api: str | None = None,
           system: str | None = None, url: str | None = None, method: str = "GET",
           headers: dict[str, str] | None = None, block: bool = True, raise_on_error: bool = False,
           connect_timeout: float | None = None, first_byte_timeout: float | None = None,
           idle_timeout: float | None = None, reconnect: bool = True, max_reconnects: int = 5,
           display: bool = False, session: Session | None = None, **params: Any) -> Run:
    """Send a prompt (or ``messages``) to an OpenAI-compatible server and stream the answer.

    With ``url=`` instead, follow a generic Server-Sent-Events feed (reconnecting per the
    spec). Blocks until the run ends — in scripts, terminal IPython and Jupyter alike —
    unless ``block=False``; Ctrl-C / Interrupt cancels it and keeps the partial answer.
    ``display=True`` shows it live as it streams. Extra keyword arguments (temperature,
    max_tokens, …) go into the request body. ``session`` (default: ``get_session()``)
    supplies the settings and records the run.
    """
    session = session or get_session()
    run, req = _prepare(prompt, messages, model, base_url, api_key, api, system, url, method, headers,
                        (connect_timeout, first_byte_timeout, idle_timeout), reconnect, max_reconnects,
                        params, session=session)
    if display:
        _views.attach(run)
    future = session.io.submit(_pump.drive(run, lambda: _pump.request_work(run, req)))
    run._canceller = future.cancel  # thread-safe: cancels the task on the I/O loop
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
                  session: Session | None = None, **params: Any) -> Run:
    """``stream`` for async code: runs on the caller's event loop and returns the ended Run."""
    run, req = _prepare(prompt, messages, model, base_url, api_key, api, system, url, method, headers,
                        (connect_timeout, first_byte_timeout, idle_timeout), reconnect, max_reconnects,
                        params, session=session or get_session())
    if display:
        _views.attach(run)
    await _run_here(run, lambda: _pump.request_work(run, req))
    if raise_on_error:
        run.raise_for_status()
    return run


def show(source: Any, *, display: bool = True, raise_on_error: bool = False,
         session: Session | None = None) -> Run:
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
        return stream(url=source, raise_on_error=raise_on_error, display=display, session=session)
    run = session.track(Run(api="auto"))
    plan = _sources.plan(source, run)
    if display:
        _views.attach(run)
    if isinstance(plan, _sources.SyncPlan):
        _pump.drive_sync(run, plan.messages, plan.adapter, plan.close)
        _raise_if_pipe_closed(run)
    elif _loop.in_running_loop():
        task = asyncio.ensure_future(_pump.drive(run, lambda: _consume(run, plan)))
        run._task = task
        run._canceller = _threadsafe_cancel(task)
        return run
    else:
        future = session.io.submit(_pump.drive(run, lambda: _consume(run, plan)))
        run._canceller = future.cancel
        _loop.wait(future, on_interrupt=run.cancel)
        run.wait(5)
        _raise_if_pipe_closed(run)
    if raise_on_error:
        run.raise_for_status()
    return run


async def ashow(source: Any, *, display: bool = True, raise_on_error: bool = False,
                session: Session | None = None) -> Run:
    """``show`` for async code: reads the source on the caller's loop to the end."""
    session = session or get_session()
    if isinstance(source, str):
        return await astream(url=source, raise_on_error=raise_on_error, display=display, session=session)
    run = session.track(Run(api="auto"))
    plan = _sources.plan(source, run)
    if display:
        _views.attach(run)
    if isinstance(plan, _sources.SyncPlan):
        await asyncio.to_thread(_pump.drive_sync, run, plan.messages, plan.adapter, plan.close)
    else:
        await _run_here(run, lambda: _consume(run, plan))
    if raise_on_error:
        run.raise_for_status()
    return run


def replay(path: str, *, speed: float = 1.0, display: bool = False, block: bool = True,
           session: Session | None = None) -> Run:
    """Re-stream a recording made with ``%%stream --record FILE`` (or ``run.save(FILE)``)
    at its original pace (``speed=2`` twice as fast, ``0`` at once) — no network, no key."""
    session = session or get_session()
    run, work = _prepare_replay(path, speed, session=session)
    if display:
        _views.attach(run)
    future = session.io.submit(_pump.drive(run, work))
    run._canceller = future.cancel
    if block:
        _loop.wait(future, on_interrupt=run.cancel)
        run.wait(5)
    return run


# ---- helpers ---------------------------------------------------------------------------
def _raise_if_pipe_closed(run: Run) -> None:
    """The view's stdout reader left (``nbstream ask … | head``): say so as ``print`` would."""
    if run._pipe_closed:
        raise BrokenPipeError("the output's reader closed the pipe; the stream was stopped")



def _prepare(prompt=None, messages=None, model=None, base_url=None, api_key=None, api=None, system=None,
             url=None, method="GET", headers=None, timeouts=(None, None, None), reconnect=True,
             max_reconnects=5, params=None, request_body=None, *,
             session: Session) -> tuple[Run, _pump.Request]:
    """The Run and the Request for one call (shared by stream, astream and the magic).

    ``request_body`` is sent as is (``%%stream --json``), with ``"stream": true`` added
    when it does not say.
    """
    cfg = session.settings
    params = dict(params or {})
    connect, first_byte, idle = timeouts
    tmo = _http.Timeouts(connect=_config.check_timeout("connect_timeout", connect, cfg.connect_timeout),
                         first_byte=_config.check_timeout("first_byte_timeout", first_byte,
                                                          cfg.first_byte_timeout),
                         idle=_config.check_timeout("idle_timeout", idle, cfg.idle_timeout))
    if headers is not None and (not isinstance(headers, dict)
                                or not all(isinstance(k, str) and isinstance(v, str) for k, v in headers.items())):
        raise TypeError("headers must be a dict of strings, like {'api-key': '...'}")
    _secrets.register_headers(headers)
    hdrs = {k: _clean_header(k, v) for k, v in (headers or {}).items()}
    if url is not None:
        url = _config.check_url("url", url)
        if prompt is not None or messages is not None:
            raise ValueError("url= follows an SSE feed; it takes no prompt or messages "
                             "(send a JSON body with json={...} if the feed needs one)")
        if not isinstance(method, str) or not method.isalpha():
            raise ValueError(f"method must be an HTTP method name like 'GET' or 'POST'; got {method!r}")
        api_key = _secrets.clean_key(api_key, "the api_key argument")
        if api_key:
            hdrs["Authorization"] = f"Bearer {api_key}"
        body = params.pop("json", None)
        if params:
            raise TypeError(f"unexpected arguments for an SSE feed: {', '.join(sorted(params))}")
        run = session.track(Run(base_url=url, api="sse"))
        return run, _pump.Request(method.upper(), url, "sse", base_url=run.base_url or url, body=body,
                                  headers=hdrs, key_source="the api_key argument" if api_key else None,
                                  timeouts=tmo, reconnect=reconnect, max_reconnects=max_reconnects,
                                  transport=session.transport)
    api = api or cfg.api
    if api not in _config.APIS:
        raise ValueError(f"unknown api {api!r}: use 'chat' (Chat Completions), 'responses' "
                         "(Responses API) or 'ollama' (Ollama's native /api/chat)")
    if request_body is not None:
        if not isinstance(request_body, dict):
            raise TypeError("the request body must be a JSON object like {\"model\": ..., \"messages\": [...]}")
        model = model or request_body.get("model")
    endpoint = _config.resolve(base_url=base_url, api_key=api_key, model=model, api=api,
                               defaults=session.defaults)
    if request_body is not None:
        body = {"stream": True, **request_body, "model": request_body.get("model", endpoint.model)}
        msgs = body.get("messages") or body.get("input")
    else:
        msgs = _build.messages_for(prompt, messages, system)
        body = _build.body_for(api, endpoint.model, msgs, params)
    root = _config.ollama_root(endpoint.base_url) if api == "ollama" else endpoint.base_url
    hdrs = {"Accept": "text/event-stream" if api != "ollama" else "application/x-ndjson",
            **endpoint.headers, **hdrs}
    if endpoint.api_key:
        hdrs["Authorization"] = f"Bearer {endpoint.api_key}"
    run = session.track(Run(model=endpoint.model, base_url=endpoint.base_url, api=api,
                            prompt=prompt if prompt is not None else msgs, params=params))
    return run, _pump.Request("POST", _config.url_for(root, _build.PATHS[api]), api,
                              base_url=endpoint.base_url, body=body, headers=hdrs,
                              key_source=endpoint.key_source, timeouts=tmo, transport=session.transport)


def _clean_header(name: str, value: str) -> str:
    """A header value as sent; credential headers get the key checks (stripped, no newline)."""
    if _secrets.is_secret_name(name):
        return _secrets.clean_key(value, f"the {name} header", header=True) or ""
    return value


def _prepare_replay(path: str, speed: float, *, session: Session) -> tuple[Run, Any]:
    """The Run and the work that re-streams a recording (shared with ``%%stream --replay``)."""
    if isinstance(speed, bool) or not isinstance(speed, (int, float)) or not (speed == 0 or speed >= 0.01):
        raise ValueError(f"speed must be 0 (all at once), or a number >= 0.01 (1 = the recorded pace); "
                         f"got {speed!r}")
    header, items = _replay.load(path)
    api = header.get("api")
    run = session.track(Run(model=header.get("model"), api=api, base_url=f"replay:{path}"))
    if api in ("chat", "responses", "ollama", "sse"):
        adapter = make_adapter(api)
    elif api == "text":
        adapter = _sources.ObjectAdapter()
    else:
        adapter = make_adapter("auto")
    return run, lambda: _pump.consume(run, _replay.messages(items, speed, run), adapter)


async def _run_here(run: Run, work) -> None:
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


async def _consume(run: Run, plan: _sources.AsyncPlan) -> None:
    try:
        await _pump.consume(run, plan.messages, plan.adapter)
    finally:
        result = plan.close()
        if inspect.isawaitable(result):
            await result


def _threadsafe_cancel(task: asyncio.Task):
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
