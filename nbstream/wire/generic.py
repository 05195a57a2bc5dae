"""Feeds of unknown or no particular format: the generic SSE adapter and auto-detection.

``GenericAdapter`` never parses: every message is kept raw as an ``Other``.
``AutoAdapter`` looks at messages until one is decisive (a chat chunk, a Responses
event, an Ollama line, or anything else), then hands this and every later message to
that format's adapter for the rest of the stream.
"""

from __future__ import annotations

from typing import Any

from nbstream.events import ErrorEvent, Event, Other
from nbstream.wire.chat import ChatAdapter
from nbstream.wire.ollama import OllamaAdapter
from nbstream.wire.payload import DONE, EMPTY, error_event, load
from nbstream.wire.responses import ResponsesAdapter
from nbstream.wire.spec import WireFormat


class GenericAdapter:
    """Any SSE feed: each message -> ``Other(type=event name, data=payload as received, id)``."""

    __slots__ = ()

    def feed(self, name: str, data: Any, id: str | None = None) -> list[Event]:
        """One wire message -> a single ``Other`` holding it untouched."""
        return [Other(type=name, data=data, id=id)]


class AutoAdapter:
    """Detects the format on the first decisive message and sticks to it.

    ``kind`` is ``None`` until then, afterwards ``"chat"``, ``"responses"``,
    ``"ollama"`` or ``"sse"``. A top-level error before anything else is reported
    without deciding; so is an empty message.
    """

    __slots__ = ("_inner", "kind")

    def __init__(self) -> None:
        self._inner: Any = None
        self.kind: str | None = None

    def feed(self, name: str, data: Any, id: str | None = None) -> list[Event]:
        """One wire message -> events, from whichever adapter the stream turned out to need."""
        inner = self._inner
        if inner is not None:
            return inner.feed(name, data, id)
        name = name or ""
        obj = load(data)
        if obj is EMPTY:
            return [Other(type=name or "message", data=data, id=id)]
        if obj is DONE:
            return self._decide("chat", ChatAdapter()).feed(name, data, id)
        if obj.__class__ is dict:
            kind = obj.get("type")
            if "choices" in obj or obj.get("object") == "chat.completion.chunk":
                return self._decide("chat", ChatAdapter()).feed(name, obj, id)
            if ((isinstance(kind, str) and kind.startswith("response.")) or name.startswith("response.")
                    or (obj.get("object") == "response" and "output" in obj)):
                return self._decide("responses", ResponsesAdapter()).feed(name, obj, id)
            if "done" in obj and ("message" in obj or "response" in obj):
                return self._decide("ollama", OllamaAdapter()).feed(name, obj, id)
            if "error" in obj:
                return [error_event(obj["error"])]
            if obj.get("object") == "error":  # vLLM's top-level error object
                return [error_event(obj)]
            if kind == "error" and "message" in obj:  # a Responses `error` event
                ev = error_event(obj)
                return [ErrorEvent(message=ev.message, code=ev.code)]
        return self._decide("sse", GenericAdapter()).feed(name, data, id)

    def _decide(self, kind: str, adapter: Any) -> Any:
        self.kind = kind
        self._inner = adapter
        return adapter



#: A generic Server-Sent-Events feed (``stream(url=...)``): events kept raw, no end marker.
SSE = WireFormat(name="sse", description="any Server-Sent-Events feed", adapter=GenericAdapter,
                 end_marker=False)
#: A stream of unknown format (``show()``): detected on its first decisive message.
AUTO = WireFormat(name="auto", description="detected from the first message", adapter=AutoAdapter)

__all__ = ["AUTO", "SSE", "AutoAdapter", "GenericAdapter"]
