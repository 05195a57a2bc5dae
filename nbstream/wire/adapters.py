"""Protocol adapters: every wire format -> the normalized events of ``nbstream.events``.

One adapter instance per stream (adapters keep per-stream state). Wire formats stop
here: nothing past an adapter looks at a chunk, a typed event or an NDJSON line.

    ad = make_adapter("chat")          # any name in nbstream.wire.registry.FORMATS
    events = ad.feed(name, data, id)   # one wire message -> list[Event]

``name`` is the SSE ``event:`` field ("message" when absent, "" for NDJSON and SDK
objects), ``data`` the payload as JSON text (or ``[DONE]``) or an already decoded dict,
``id`` the SSE last event id. Agents SDK objects go to ``AgentsAdapter().feed_object``.
"""

from __future__ import annotations

from nbstream.wire.agents import AgentsAdapter
from nbstream.wire.chat import ChatAdapter
from nbstream.wire.generic import GenericAdapter
from nbstream.wire.ollama import OllamaAdapter
from nbstream.wire.registry import AutoAdapter
from nbstream.wire.registry import adapter_for as make_adapter
from nbstream.wire.responses import ResponsesAdapter
from nbstream.wire.spec import Adapter

__all__ = [
    "Adapter",
    "AgentsAdapter",
    "AutoAdapter",
    "ChatAdapter",
    "GenericAdapter",
    "OllamaAdapter",
    "ResponsesAdapter",
    "make_adapter",
]
