"""Feeds of no particular format: the generic SSE adapter keeps every message raw as an
``Other`` (auto-detection of a known format is :class:`nbstream.wire.registry.AutoAdapter`)."""

from __future__ import annotations

from typing import Any

from nbstream.events import Event, Other
from nbstream.wire.spec import WireFormat


class GenericAdapter:
    """Any SSE feed: each message -> ``Other(type=event name, data=payload as received, id)``."""

    __slots__ = ()

    def feed(self, name: str, data: Any, id: str | None = None) -> list[Event]:
        """One wire message -> a single ``Other`` holding it untouched."""
        return [Other(type=name, data=data, id=id)]


#: A generic Server-Sent-Events feed (``stream(url=...)``): events kept raw, no end marker.
SSE = WireFormat(name="sse", description="any Server-Sent-Events feed", adapter=GenericAdapter,
                 end_marker=False)
__all__ = ["SSE", "GenericAdapter"]
