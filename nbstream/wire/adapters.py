"""Protocol adapters: every wire format -> the normalized events of ``nbstream.events``.

One adapter instance per stream (adapters keep per-stream state). Wire formats stop
here: nothing past an adapter looks at a chunk, a typed event or an NDJSON line.

    ad = make_adapter("chat")          # "chat" | "responses" | "ollama" | "sse" | "auto"
    events = ad.feed(name, data, id)   # one wire message -> list[Event]

``name`` is the SSE ``event:`` field ("message" when absent, "" for NDJSON and SDK
objects), ``data`` the payload as JSON text (or ``[DONE]``) or an already decoded dict,
``id`` the SSE last event id. Agents SDK objects go to ``AgentsAdapter().feed_object``.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from nbstream.events import Event
from nbstream.wire.agents import AgentsAdapter
from nbstream.wire.chat import ChatAdapter
from nbstream.wire.generic import AutoAdapter, GenericAdapter
from nbstream.wire.ollama import OllamaAdapter
from nbstream.wire.responses import ResponsesAdapter


@runtime_checkable
class Adapter(Protocol):
    """What every adapter offers: one wire message in, a list of events out."""

    def feed(self, name: str, data: Any, id: str | None = None) -> list[Event]: ...


_FACTORIES: dict[str, type] = {
    "chat": ChatAdapter,
    "responses": ResponsesAdapter,
    "ollama": OllamaAdapter,
    "sse": GenericAdapter,
    "auto": AutoAdapter,
}

FORMATS = tuple(_FACTORIES)


def make_adapter(kind: str) -> Adapter:
    """A fresh adapter for one stream of the given wire format."""
    factory = _FACTORIES.get(kind) if isinstance(kind, str) else None
    if factory is None:
        raise ValueError(
            f"unknown stream format {kind!r}: choose one of {', '.join(repr(k) for k in FORMATS)}"
        )
    return factory()


__all__ = [
    "FORMATS",
    "Adapter",
    "AgentsAdapter",
    "AutoAdapter",
    "ChatAdapter",
    "GenericAdapter",
    "OllamaAdapter",
    "ResponsesAdapter",
    "make_adapter",
]
