"""Drive one source into one Run: read, frame, normalize, apply, and settle the status.

Two drivers share the per-message step: ``drive`` for async sources (our own HTTP
requests, async iterators, the Agents SDK) and ``drive_sync`` for plain iterators, which
run on the caller's thread so that Ctrl-C lands right in their loop. Whatever ends a
run — clean end, error, cancel — goes through ``Run._finish`` exactly once.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from nbstream import errors
from nbstream.engine import http as _http
from nbstream.run import Run
from nbstream.wire.adapters import make_adapter
from nbstream.wire.framing import Message, NDJSONFramer, SSEFramer, framer_for

@dataclass
class Request:
    """What to send. ``api`` picks the adapter: chat, responses, ollama, or sse."""

    method: str
    url: str = field(repr=False)  # may carry a query credential; base_url is the redacted one
    api: str
    base_url: str
    body: dict | None = None
    headers: dict[str, str] = field(default_factory=dict, repr=False)
    key_source: str | None = None
    timeouts: _http.Timeouts = field(default_factory=_http.Timeouts)
    reconnect: bool = True  # sse only
    max_reconnects: int = 5
    retry_ms: int = 1000
    transport: _http.Transport = field(kw_only=True, repr=False)  # the session's clients and quirks


# ---- the shared step ------------------------------------------------------------------
def _apply(run: Run, adapter: Any, messages: list[Message]) -> None:
    feed = adapter.feed
    for msg in messages:
        run._receive(msg, feed(msg.name, msg.data, msg.id))


async def drive(run: Run, work: Callable[[], Awaitable[None]]) -> Run:
    """Await ``work`` (which fills ``run``) and settle the run however it ends."""
    try:
        await work()
    except asyncio.CancelledError:
        run._finish(cancelled=True)
        raise
    except errors.NBStreamError as exc:
        if isinstance(exc, errors.HTTPStatusError):
            run.http_status = exc.status
        run._finish(error=exc)
    except Exception as exc:  # a user iterator or SDK object failing: keep the partial
        err = errors.SourceError(f"the stream source raised {type(exc).__name__}: {exc}")
        err.__cause__ = exc
        run._finish(error=err)
    else:
        run._finish()
    return run


def drive_sync(run: Run, messages: Iterator[Message], adapter: Any, close: Callable[[], None]) -> Run:
    """Consume a synchronous message iterator on this thread; Ctrl-C cancels cleanly."""
    run._canceller = lambda: None  # checked between messages below
    try:
        for msg in messages:
            run._receive(msg, adapter.feed(msg.name, msg.data, msg.id))
            if run._cancel_requested:
                break
    except KeyboardInterrupt:
        run._finish(cancelled=True)
    except errors.NBStreamError as exc:
        run._finish(error=exc)
    except Exception as exc:
        err = errors.SourceError(f"the stream source raised {type(exc).__name__}: {exc}")
        err.__cause__ = exc
        run._finish(error=err)
    finally:
        close()
    run._finish(cancelled=run._cancel_requested)
    return run


# ---- our own HTTP requests -------------------------------------------------------------
async def request_work(run: Run, req: Request) -> None:
    """Fill ``run`` from ``req``: one LLM request, or a reconnecting SSE feed."""
    req.transport.clients.for_running_loop()  # created before the clock starts: not part of TTFT
    if req.api == "sse":
        await _sse_feed(run, req)
    else:
        await _llm_request(run, req)


async def _llm_request(run: Run, req: Request) -> None:
    body = dict(req.body or {})
    if req.transport.quirks.rejects_stream_options(req.base_url):
        body.pop("stream_options", None)
    while True:
        run._enter_phase("connecting")
        _start_clock(run)
        try:
            response = await req.transport.send(req.method, req.url, headers=req.headers, json_body=body,
                                        timeouts=req.timeouts, key_source=req.key_source,
                                        on_sent=lambda: run._enter_phase("sent"))
        except errors.BadRequestError as exc:
            if "stream_options" in body and "stream_options" in (exc.server_message or ""):
                req.transport.quirks.remember_no_stream_options(req.base_url)  # for this base URL
                body.pop("stream_options")
                continue
            raise
        break
    run._enter_phase("headers")
    run.http_status = response.status_code
    try:
        _check_answer(response, req.url, _STREAM_TYPES)
        framer = framer_for(response.headers.get("content-type"))
        await _read_body(run, response, framer, make_adapter(req.api), req)
    finally:
        await response.aclose()


async def _sse_feed(run: Run, req: Request) -> None:
    """A generic SSE feed with the spec's reconnection: wait ``retry`` ms (or the default),
    send ``Last-Event-ID``, back off, give up after ``max_reconnects`` failed attempts,
    stop for good on HTTP 204 or a response that is not ``text/event-stream``.

    One deviation from the spec: if the very first connection fails, that is reported
    at once (a wrong URL should not cost half a minute of silent retries).
    """
    adapter = make_adapter("sse")
    framer = SSEFramer()
    failures = 0
    connected_once = False
    _start_clock(run)
    while True:
        headers: dict[str, Any] = {"Accept": "text/event-stream", "Cache-Control": "no-cache", **req.headers}
        last_id = framer.decoder.last_event_id
        if last_id:  # any Unicode (the spec allows it), sent as its UTF-8 bytes
            headers["Last-Event-ID"] = last_id if last_id.isascii() else last_id.encode("utf-8")
        received_before = len(run.records)
        dropped = False
        try:
            response = await req.transport.send(req.method, req.url, headers=headers, json_body=req.body,
                                        timeouts=req.timeouts, key_source=req.key_source)
        except (errors.ConnectError, errors.StreamTimeout):
            if not connected_once:
                raise
            dropped = True
        else:
            if run.t_headers_ns is None:
                run.t_headers_ns = time.perf_counter_ns()
            run.http_status = response.status_code
            try:
                if response.status_code == 204:
                    return
                _check_answer(response, req.url, ("text/event-stream",))
                connected_once = True
                framer.restart()
                try:
                    await _read_body(run, response, framer, adapter, req)
                except (errors.IncompleteStreamError, errors.IdleTimeout):
                    dropped = True
            finally:
                await response.aclose()
        if not req.reconnect:
            if dropped:
                raise errors.IncompleteStreamError(f"{req.url}: the feed connection dropped")
            return
        failures = 0 if len(run.records) > received_before else failures + 1
        if failures > req.max_reconnects:
            raise errors.ConnectError(
                f"{req.url}: gave up after {req.max_reconnects} reconnection attempts in a row "
                "that delivered no event")
        delay = (framer.decoder.retry if framer.decoder.retry is not None else req.retry_ms) / 1000
        await asyncio.sleep(min(delay * 2 ** max(failures - 1, 0), 30.0))
        run.reconnects += 1


async def _read_body(run: Run, response: Any, framer: SSEFramer | NDJSONFramer, adapter: Any,
                     req: Request) -> None:
    read_idx = run._reads
    async for t_ns, chunk in _http.timed_reads(response, t0_ns=run.t0_ns, timeouts=req.timeouts,
                                               url=req.url):
        _apply(run, adapter, framer.feed(chunk, t_ns, read_idx))
        read_idx += 1
        run._reads = read_idx
        if run._terminal is not None:
            return  # the protocol said it is over; don't wait for the server to close
    if isinstance(framer, NDJSONFramer):
        _apply(run, adapter, framer.end(time.perf_counter_ns(), read_idx))


_STREAM_TYPES = ("text/event-stream", "application/x-ndjson", "application/jsonl", "application/json", "")


def _check_answer(response: Any, url: str, accepted: tuple[str, ...]) -> None:
    """A redirect or a body that is no stream (an HTML page, plain text) is an error that
    names the ``Location`` or the content type, instead of an empty 'incomplete' run."""
    status = response.status_code
    if 300 <= status < 400:
        where = response.headers.get("location")
        raise errors.BadRequestError(
            f"{url} redirected (HTTP {status}) to {where or 'no Location given'}: use that URL "
            "instead (nbstream does not follow redirects, which could carry the key elsewhere)",
            status=status, url=url)
    ctype = response.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype not in accepted:
        wanted = " or ".join(t for t in accepted if t)
        hint = " — is the URL right? An OpenAI-compatible base URL usually ends in /v1" if "html" in ctype else ""
        raise errors.BadRequestError(
            f"{url} answered HTTP {status} with content type {ctype or 'none'!r}, not {wanted}: "
            f"this is not a stream{hint}", status=status, url=url)


def _start_clock(run: Run) -> None:
    run.started_at = datetime.now(timezone.utc)
    run.t0_ns = time.perf_counter_ns()


# ---- byte and object iterators handed to show() ----------------------------------------
def byte_messages(chunks: Iterator[bytes], content_type: str | None, run: Run) -> Iterator[Message]:
    """Frame a synchronous byte stream; each read stamped as it arrives."""
    framer = None
    read_idx = 0
    for chunk in chunks:
        t_ns = time.perf_counter_ns()
        if not chunk:
            continue
        if framer is None:
            framer = framer_for(content_type, chunk)
        yield from framer.feed(chunk, t_ns, read_idx)
        read_idx += 1
        if run._terminal is not None:
            return
    if isinstance(framer, NDJSONFramer):
        yield from framer.end(time.perf_counter_ns(), read_idx)


async def abyte_messages(chunks: AsyncIterator[bytes], content_type: str | None,
                         run: Run) -> AsyncIterator[Message]:
    """Async twin of :func:`byte_messages`."""
    framer = None
    read_idx = 0
    async for chunk in chunks:
        t_ns = time.perf_counter_ns()
        if not chunk:
            continue
        if framer is None:
            framer = framer_for(content_type, chunk)
        for msg in framer.feed(chunk, t_ns, read_idx):
            yield msg
        read_idx += 1
        if run._terminal is not None:
            return
    if isinstance(framer, NDJSONFramer):
        for msg in framer.end(time.perf_counter_ns(), read_idx):
            yield msg


def object_messages(items: Iterator[Any]) -> Iterator[Message]:
    """One message per item of a synchronous iterator, stamped when it is yielded."""
    for i, item in enumerate(items):
        yield Message(time.perf_counter_ns(), i, "", item, None, len(item) if isinstance(item, str) else 0)


async def aobject_messages(items: AsyncIterator[Any]) -> AsyncIterator[Message]:
    """Async twin of :func:`object_messages`."""
    i = 0
    async for item in items:
        yield Message(time.perf_counter_ns(), i, "", item, None, len(item) if isinstance(item, str) else 0)
        i += 1


async def consume(run: Run, messages: AsyncIterator[Message], adapter: Any) -> None:
    """Apply every message of an async message iterator to ``run``."""
    feed = adapter.feed
    async for msg in messages:
        run._receive(msg, feed(msg.name, msg.data, msg.id))
