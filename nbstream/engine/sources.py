"""What ``nbstream.show`` accepts, and how each kind of source is read.

Sources are recognised by shape, without importing their libraries: an openai or
anthropic SDK ``Stream``/``AsyncStream`` (and anthropic's ``MessageStream`` helper) is read
at the byte level from its underlying HTTP response
(the SDK builds a typed object per chunk, which costs ~200 µs each; our own framing and
adapters are an order of magnitude cheaper and see the true arrival times), an Agents SDK
``RunResultStreaming`` through ``stream_events()``, an httpx or httpx2 response through
its bytes, an aiohttp response through ``content.iter_any()`` (each network read as it
lands), and any iterable or async iterable of str, bytes, dict or pydantic objects
(google-genai's ``generate_content_stream`` chunks among them) item by item.
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import AsyncIterable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

from nbstream import _secrets
from nbstream.engine.pump import Step
from nbstream.events import Event, Other, TextDelta
from nbstream.run import Run
from nbstream.wire.adapters import AgentsAdapter, AutoAdapter

__all__ = ["ObjectAdapter", "Plan", "plan"]

_AGENT_EVENT_TYPES = {"raw_response_event", "run_item_stream_event", "agent_updated_stream_event"}


class ObjectAdapter:
    """Items of a Python iterator -> events: str is answer text, dicts and pydantic
    objects go through the auto-detecting wire adapter, Agents SDK events through theirs."""

    def __init__(self, auto: AutoAdapter | None = None) -> None:
        self._auto = auto or AutoAdapter()
        self._agents: AgentsAdapter | None = None
        self.framed = False  # set when the items are bytes: then str data is wire payload

    def feed_fast(self, name: str, data: Any, id: str | None = None) -> Any:
        """``feed``; framed wire payload through the wire adapter's text-only fast path."""
        return self._auto.feed_fast(name, data, id) if self.framed else self.feed(name, data, id)

    def decided_fast(self) -> Any:
        """The wire adapter's ``feed_fast`` once it has decided the format (framed items only)."""
        return self._auto.decided_fast() if self.framed else None

    def feed(self, name: str, data: Any, id: str | None = None) -> list[Event]:
        if self.framed:
            return self._auto.feed(name, data, id)
        if isinstance(data, str):
            return [TextDelta(data)] if data else []
        if isinstance(data, dict):
            return self._auto.feed(name, data, id)
        if getattr(data, "type", None) in _AGENT_EVENT_TYPES:
            if self._agents is None:
                self._agents = AgentsAdapter()
            return self._agents.feed_object(data)
        dump = getattr(data, "model_dump", None)
        if callable(dump):
            if type(data).__module__.startswith("google.genai"):
                # google-genai's models name their fields in snake_case; the wire (and the
                # Gemini adapter) in camelCase: dump them as they were sent
                return self._auto.feed(name, dump(mode="json", by_alias=True, exclude_none=True), id)
            return self._auto.feed(name, dump(), id)
        return [Other(type=type(data).__name__, data=data)]


@dataclass
class Plan:
    """How to read a source: its ``items`` (a sync or async iterable), the :class:`Step`
    that turns each into events, and how to close the source afterwards."""

    items: Iterable[Any] | AsyncIterable[Any]
    step: Step
    close: Callable[[], Any]
    is_async: bool


def plan(source: Any) -> tuple[Run, Plan]:
    """The Run to fill and how to read ``source`` into it; a TypeError that says what is
    accepted otherwise."""
    if _is_agents_result(source):
        run = Run(source="agents")
        run.sum_usage = True
        return run, Plan(source.stream_events(), Step(run, ObjectAdapter(), mode="items"),
                         getattr(source, "cancel", _noop), True)
    _register_credentials(source)
    response = _http_response_of(source)
    if response is not None:
        run = Run(source="sdk", wire_format="auto")
        step = Step(run, _detecting(run), mode="bytes", content_type=response.headers.get("content-type"))
        if _is_async_response(response):
            return run, Plan(response.aiter_bytes(), step, response.aclose, True)
        return run, Plan(response.iter_bytes(), step, response.close, False)
    content = getattr(source, "content", None) if hasattr(source, "headers") else None
    iter_any = getattr(content, "iter_any", None)
    if callable(iter_any):
        # an aiohttp ClientResponse: iter_any() yields each network read as it lands
        run = Run(source="sdk", wire_format="auto")
        step = Step(run, _detecting(run), mode="bytes", content_type=source.headers.get("content-type"))
        return run, Plan(iter_any(), step, source.release, True)
    if hasattr(source, "__aiter__"):
        run, step = _items_step()
        return run, Plan(source, step, lambda: _aclose(source), True)
    if hasattr(source, "__iter__") and not isinstance(source, (str, bytes, dict)):
        run, step = _items_step()
        return run, Plan(source, step, lambda: _close(source), False)
    entered = _how_to_enter(source)
    if entered is not None:
        raise TypeError(f"nbstream.show() cannot read a {type(source).__name__}: it is the context manager that "
                        f"opens the stream, not the stream; enter it first: {entered}")
    raise TypeError(
        f"nbstream.show() cannot read a {type(source).__name__}: pass an openai or anthropic SDK stream "
        "(create(..., stream=True)), a google-genai generate_content_stream(...), an Agents SDK "
        "Runner.run_streamed(...) result, an httpx, httpx2 or aiohttp streaming response, a URL of an SSE "
        "feed, or an iterable / async iterable of str, bytes or dict")


def _how_to_enter(source: Any) -> str | None:
    """How to use an anthropic ``client.messages.stream(...)`` helper that was not entered
    (a ``MessageStreamManager`` / ``AsyncMessageStreamManager``, beta ones too), by its
    type's name and shape; None for anything else."""
    if not type(source).__name__.endswith("MessageStreamManager"):
        return None
    if hasattr(source, "__aenter__"):
        return "async with client.messages.stream(...) as s: await nbstream.ashow(s)"
    if hasattr(source, "__enter__"):
        return "with client.messages.stream(...) as s: nbstream.show(s)"
    return None


def _items_step() -> tuple[Run, Step]:
    """An iterator's items, read as the first one says: bytes are framed (SSE or NDJSON,
    sniffed), str is answer text, anything else goes through the object adapter."""
    run = Run(source="iterator", wire_format="auto")
    adapter = ObjectAdapter(_detecting(run))

    def first(item: Any) -> None:
        adapter.framed = isinstance(item, (bytes, bytearray))
        if isinstance(item, str):
            run.wire_format = None

    return run, Step(run, adapter, on_first=first)


def _detecting(run: Run) -> AutoAdapter:
    """The auto-detecting adapter for ``run``: once the format is known, ``run.wire_format``
    names it (no longer ``"auto"``)."""
    adapter = AutoAdapter()

    def decided(name: str) -> None:
        if run.wire_format == "auto":
            run.wire_format = name

    adapter.on_decide = decided
    return adapter


def _register_credentials(source: Any) -> None:
    """Register for redaction the key a source was opened with, though the user never
    handed it to nbstream: an openai SDK client's ``api_key`` (read from the environment
    by the SDK), its base URL, and the credential headers of the request behind an
    httpx or aiohttp response."""
    client = getattr(source, "_client", None)
    if client is not None:
        _secrets.register(getattr(client, "api_key", None))
        base_url = getattr(client, "base_url", None)
        _secrets.register_url(str(base_url) if base_url is not None else None)
    for holder in (getattr(source, "response", None), source):
        with contextlib.suppress(Exception):  # a response without a request (httpx raises RuntimeError)
            request = getattr(holder, "request", None) or getattr(holder, "request_info", None)
            headers = getattr(request, "headers", None)
            if headers is not None:
                _secrets.register_headers(dict(headers.items()))
            url = getattr(request, "url", None)
            _secrets.register_url(str(url) if url is not None else None)


def _is_agents_result(source: Any) -> bool:
    return callable(getattr(source, "stream_events", None)) and hasattr(source, "final_output")


def _http_response_of(source: Any) -> Any:
    """The byte-level response behind an openai or anthropic SDK stream (``create(...,
    stream=True)``, the anthropic ``messages.stream(...)`` helper), or an httpx response."""
    if type(source).__module__.startswith(("openai", "anthropic")) and hasattr(source, "response"):
        return source.response
    if hasattr(source, "iter_bytes") and hasattr(source, "aiter_bytes") and hasattr(source, "headers"):
        return source
    return None


def _is_async_response(response: Any) -> bool:
    stream = getattr(response, "stream", None)
    return hasattr(stream, "__aiter__") and not hasattr(stream, "__iter__")


def _close(source: Any) -> None:
    close = getattr(source, "close", None)
    if callable(close):
        try:
            close()
        except Exception:  # closing is best effort; the run's outcome is already known
            pass


async def _aclose(source: Any) -> None:
    close = getattr(source, "aclose", None) or getattr(source, "close", None)
    if callable(close):
        try:
            result = close()
            if inspect.isawaitable(result):
                await result
        except Exception:
            pass


def _noop() -> None:
    return None
