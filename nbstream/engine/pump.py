"""Drive one source into one Run: read, frame, normalize, apply, and settle the status.

:class:`Step` is the sans-IO part, the same for every source: it frames a read (or takes
an item, or a recorded message), adapts it to events, hands them to the Run, and says
when the protocol has ended the stream. Around it only the I/O loops exist —
:func:`read_async` for async sources (async iterators, the Agents SDK, replays),
:func:`read_stamped` for our own HTTP requests' timed reads (parsed through the loop's
backlog, in batches, so that stamping never waits for parsing) and :func:`read_sync` for plain
iterators, which run on the caller's thread so that Ctrl-C lands right in their loop —
and :func:`settle` maps however a source ended (clean end, exception, cancel) to
``Run._finish``, exactly once.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import AsyncIterable, Awaitable, Callable, Iterable
from datetime import UTC, datetime
from typing import Any, Literal

from nbstream import errors
from nbstream.engine import http as _http
from nbstream.engine.backlog import Backlog
from nbstream.engine.gcfreeze import connected, streaming
from nbstream.engine.request import Request
from nbstream.run import Run
from nbstream.wire.framing import Message, NDJSONFramer, SSEFramer, framer_for
from nbstream.wire.spec import Adapter

__all__ = ["Step", "drive", "read_async", "read_stamped", "read_sync", "request_work", "settle"]

Mode = Literal["bytes", "items", "messages"]


# ---- the sans-IO step -----------------------------------------------------------------
class Step:
    """Framing, adapting and receiving into ``run``, for one stream.

    ``mode`` says what :meth:`feed` is given: ``"bytes"`` (network reads, framed by
    ``framer`` or by the content type / first bytes), ``"items"`` (Python objects, one
    message each) or ``"messages"`` (already framed, from a recording). ``None`` decides
    on the first item: bytes are framed, anything else is an item; ``on_first`` sees that
    item (a source that learns its kind from it).
    """

    __slots__ = ("_content_type", "_fast", "_feed", "_framer", "_mode", "_on_first", "_read_idx", "_resolve", "run")

    def __init__(self, run: Run, adapter: Adapter, *, mode: Mode | None = None,
                 framer: SSEFramer | NDJSONFramer | None = None, content_type: str | None = None,
                 on_first: Callable[[Any], None] | None = None) -> None:
        self.run = run
        self._feed = adapter.feed
        # an adapter may answer a lone first-choice text delta with just its text (the bulk of a stream)
        self._fast: Callable[[str, Any, str | None], Any] = getattr(adapter, "feed_fast", adapter.feed)
        # a wrapping adapter (auto-detection) names the one it decided on: then called directly
        self._resolve: Callable[[], Any] | None = getattr(adapter, "decided_fast", None)
        self._framer = framer
        self._content_type = content_type
        self._mode: Mode | None = "bytes" if framer is not None else mode
        self._read_idx = 0
        self._on_first = on_first

    def feed(self, item: Any, t_ns: int) -> None:
        """One read, item or message, stamped ``t_ns`` when it arrived."""
        mode = self._mode
        if mode is None:
            mode = self._mode = "bytes" if isinstance(item, (bytes, bytearray)) else "items"
            if self._on_first is not None:
                self._on_first(item)
        if mode == "bytes":
            if not item:
                return
            framer = self._framer
            if framer is None:
                framer = self._framer = framer_for(self._content_type, item)
            if framer.__class__ is SSEFramer:
                events = framer.decoder.feed_tuples(item)
                if events:
                    self.run._receive_sse(events, t_ns, self._read_idx, self._fast)
                    if self._resolve is not None:
                        decided = self._resolve()
                        if decided is not None:
                            self._fast, self._resolve = decided, None
            else:
                for msg in framer.feed(item, t_ns, self._read_idx):
                    self._receive(msg)
        elif mode == "items":
            self._receive(Message(t_ns, self._read_idx, "", item, None, len(item) if isinstance(item, str) else 0))
        else:
            self._receive(item)
            return
        self._read_idx += 1

    def end(self, t_ns: int | None = None) -> None:
        """The source is exhausted (at ``t_ns``, else now): flush a last NDJSON line that
        had no newline; an SSE event left open past the size limit is an error."""
        if isinstance(self._framer, SSEFramer):
            self._framer.decoder.check_end()
        elif isinstance(self._framer, NDJSONFramer):
            for msg in self._framer.end(time.perf_counter_ns() if t_ns is None else t_ns, self._read_idx):
                self._receive(msg)

    @property
    def over(self) -> bool:
        """Stop reading: a framed protocol sent its end marker (no need to wait for the
        server to close). Items go on: an agent run has one terminal event per model turn.
        (Cancelling is the I/O loop's business: a task is cancelled, a sync loop checks.)"""
        return self._mode == "bytes" and self.run._terminal is not None

    def _receive(self, msg: Message) -> None:
        self.run._receive(msg, self._feed(msg.name, msg.data, msg.id))


def settle(run: Run, exc: BaseException | None) -> None:
    """End ``run`` by how its source ended: cleanly (None), cancelled (CancelledError,
    KeyboardInterrupt), with an nbstream error, or with any other exception (a user
    iterator or SDK object failing: a SourceError; the partial answer is kept)."""
    if exc is None:
        run._finish()
    elif isinstance(exc, (asyncio.CancelledError, KeyboardInterrupt)):
        run._finish(cancelled=True)
    elif isinstance(exc, errors.NBStreamError):
        if isinstance(exc, errors.HTTPStatusError):
            run.http_status = exc.status
        run._finish(error=exc)
    else:
        err = errors.SourceError(f"the stream source raised {type(exc).__name__}: {exc}")
        err.__cause__ = exc
        run._finish(error=err)


# ---- the two I/O loops -------------------------------------------------------------------
async def read_async(items: AsyncIterable[Any], step: Step, close: Callable[[], Any] | None = None) -> None:
    """Feed every item of an async source to ``step`` until it is over; then close it."""
    try:
        async for item in items:
            step.feed(item, time.perf_counter_ns())
            if step.over:
                return
        step.end()
    finally:
        if close is not None:
            result = close()
            if inspect.isawaitable(result):
                await result


async def read_stamped(reads: AsyncIterable[tuple[int, bytes]], step: Step, backlog: Backlog) -> int | None:
    """Feed ``(arrival t_ns, bytes)`` network reads to ``step`` through the loop's
    ``backlog`` (queued, parsed in batches; see ``nbstream.engine.backlog``) until the
    stream is over. A stream that ends waits for its queued reads; one cancelled or
    failing has them parsed at once. Returns when the stream ended: the stamp of the read
    whose end marker ended it, else when the body ended (None if it failed)."""
    reader = backlog.reader(step)
    end_ns: int | None = None
    try:
        try:
            async for t_ns, data in reads:
                reader.feed(data, t_ns)  # (a parse failure is kept in reader.error, raised below)
                if reader.error is not None or step.over:
                    break
            else:
                end_ns = time.perf_counter_ns()  # the body's end, whenever its last reads are parsed
                await reader.drained()
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if not reader.woken or task is None or task.uncancel():  # another cancel: the caller's
                raise
        except Exception as exc:  # the source failed
            # what arrived before the source failed, parsed now: if that ended the stream
            # (end marker or failure), it ends so, as if the failure had come later
            reader.flush()
            if reader.error is not None:
                raise reader.error from exc
            if step.over:
                return reader.over_ns
            raise
        if reader.error is not None:
            raise reader.error
        if not step.over:
            step.end(end_ns)
        return reader.over_ns if reader.over_ns is not None else end_ns
    finally:
        reader.flush()


def read_sync(items: Iterable[Any], step: Step, close: Callable[[], Any] | None = None) -> Run:
    """Read a synchronous source on this thread to its end and settle the run; Ctrl-C
    cancels cleanly (the run is cancelled, the partial answer kept)."""
    run = step.run
    run._canceller = lambda: None  # checked between items below
    outcome: BaseException | None = None
    try:
        with streaming():
            for item in items:
                step.feed(item, time.perf_counter_ns())
                if step.over or run._cancel_requested:
                    break
            else:
                step.end()
    except (KeyboardInterrupt, Exception) as exc:  # noqa: BLE001 - settle() maps every outcome
        outcome = exc
    finally:
        if close is not None:
            close()
    settle(run, outcome)
    return run


async def drive(run: Run, work: Callable[[], Awaitable[None]]) -> Run:
    """Await ``work`` (which fills ``run``) and settle the run however it ends."""
    try:
        with streaming():
            await work()
    except asyncio.CancelledError as exc:
        settle(run, exc)
        raise
    except Exception as exc:  # noqa: BLE001 - settle() maps every outcome
        settle(run, exc)
    else:
        settle(run, None)
    return run


# ---- our own HTTP requests -------------------------------------------------------------

async def request_work(run: Run, req: Request) -> None:
    """Fill ``run`` from ``req``: one LLM request, or a reconnecting SSE feed."""
    req.transport.clients.for_running_loop()  # created before the clock starts: not part of TTFT
    loop = asyncio.get_running_loop()
    if getattr(loop, "_default_executor", False) is None:  # getaddrinfo's thread, started before t0
        await loop.run_in_executor(None, int)
    if req.feed is not None:
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
                                                key_envs=req.format.key_envs, on_sent=lambda: run._enter_phase("sent"))
        except errors.BadRequestError as exc:
            if "stream_options" in body and "stream_options" in (exc.server_message or ""):
                req.transport.quirks.remember_no_stream_options(req.base_url)  # for this base URL
                body.pop("stream_options")
                continue
            raise
        break
    run._enter_phase("headers")
    connected()
    run.http_status = response.status_code
    try:
        _check_answer(response, req.url, _STREAM_TYPES)
        ctype = response.headers.get("content-type")
        # no content type: the framing is sniffed from the first bytes (an SSE stream, NDJSON, a JSON array)
        step = Step(run, req.format.adapter(), mode="bytes", framer=framer_for(ctype) if ctype else None)
        # the run ends when its end marker or the body's end arrived, not when parsed
        run._t_body_end_ns = await _read_body(run, response, step, req)
    finally:
        await response.aclose()


async def _sse_feed(run: Run, req: Request) -> None:
    """A generic SSE feed with the spec's reconnection: wait ``retry`` ms (or the default),
    send ``Last-Event-ID``, back off, give up after ``max_reconnects`` failed attempts,
    stop for good on HTTP 204 or a response that is not ``text/event-stream``.

    One deviation from the spec: if the very first connection fails, that is reported
    at once (a wrong URL should not cost half a minute of silent retries).
    """
    options = req.feed
    assert options is not None
    framer = SSEFramer()
    step = Step(run, req.format.adapter(), framer=framer)
    failures = 0
    connected_once = False
    _start_clock(run)
    while True:
        headers: dict[str, Any] = {"Accept": "text/event-stream", "Cache-Control": "no-cache", **req.headers}
        last_id = framer.decoder.last_event_id
        if last_id:  # any Unicode (the spec allows it), sent as its UTF-8 bytes
            headers["Last-Event-ID"] = last_id if last_id.isascii() else last_id.encode("utf-8")
        received_before = run.n_received
        dropped = False
        try:
            response = await req.transport.send(req.method, req.url, headers=headers, json_body=req.body,
                                                timeouts=req.timeouts, key_source=req.key_source)
        except (errors.ConnectError, errors.StreamTimeout):
            if not connected_once:
                raise
            dropped = True
        else:
            if run.t_headers_ns is None:  # the first connection (a reconnection's garbage is not frozen)
                run.t_headers_ns = time.perf_counter_ns()
                connected()
            run.http_status = response.status_code
            try:
                if response.status_code == 204:
                    return
                _check_answer(response, req.url, ("text/event-stream",))
                connected_once = True
                framer.restart()
                try:
                    await _read_body(run, response, step, req)
                except (errors.IncompleteStreamError, errors.IdleTimeout):
                    dropped = True
            finally:
                await response.aclose()
        if not options.reconnect:
            if dropped:
                raise errors.IncompleteStreamError(f"{req.url}: the feed connection dropped")
            return
        failures = 0 if run.n_received > received_before else failures + 1
        if failures > options.max_reconnects:
            raise errors.ConnectError(
                f"{req.url}: gave up after {options.max_reconnects} reconnection attempts in a row "
                "that delivered no event")
        delay = (framer.decoder.retry if framer.decoder.retry is not None else options.retry_ms) / 1000
        await asyncio.sleep(min(delay * 2 ** max(failures - 1, 0), 30.0))
        run.reconnects += 1


async def _read_body(run: Run, response: Any, step: Step, req: Request) -> int | None:
    return await read_stamped(_http.timed_reads(response, t0_ns=run.t0_ns, timeouts=req.timeouts, url=req.url),
                       step, req.transport.backlog())


_STREAM_TYPES = ("text/event-stream", "application/x-ndjson", "application/jsonl", "application/json", "")


def _check_answer(response: Any, url: str, accepted: tuple[str, ...]) -> None:
    """A redirect or a body that is no stream (an HTML page, plain text) is an error that
    names the ``Location`` or the content type, instead of an empty 'incomplete' run."""
    status = response.status_code
    if 300 <= status < 400:
        where = errors.one_line(response.headers.get("location") or "")  # a server's text: one printable line
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
    run.started_at = datetime.now(UTC)
    run.t0_ns = time.perf_counter_ns()
