"""Wire-level pieces shared by the three formats: the ``Event`` and its framings.

A renderer turns a plan into a list of ``Event``s, each with the time it is due, the
kind and token count recorded in the request log, and the exact bytes to send (or a
function of the request log, for figures only known at write time). ``token`` is the
index of the first token an event carries (``END`` for the closing events, ``None``
for lifecycle events): injected faults go before the first event at or past the
scenario's ``after`` token.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

__all__ = ["END", "Payload", "Event", "dumps", "sse", "ndjson", "rfc3339", "KEEPALIVE"]

END = sys.maxsize

Payload = bytes | Callable[[Any], bytes]


@dataclass(frozen=True)
class Event:
    """One write of a streamed response."""

    at: float
    kind: str
    n: int
    data: Payload
    token: int | None = None
    seq: int | None = None


def dumps(obj: Any) -> str:
    """Compact JSON as OpenAI sends it (no spaces, UTF-8 kept as is)."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def sse(obj: Any, event: str | None = None) -> bytes:
    """An SSE message: optional ``event:`` line, one ``data:`` line, blank line."""
    head = f"event: {event}\n" if event else ""
    payload = obj if isinstance(obj, str) else dumps(obj)
    return f"{head}data: {payload}\n\n".encode()


def ndjson(obj: Any) -> bytes:
    """One NDJSON line, as Ollama streams."""
    return (dumps(obj) + "\n").encode()


def rfc3339(epoch: float) -> str:
    """An Ollama-style UTC timestamp with nanosecond digits: ``2024-06-01T12:00:00.123456789Z``."""
    whole = int(epoch)
    nanos = int(round((epoch - whole) * 1e9))
    if nanos >= 1_000_000_000:
        whole, nanos = whole + 1, nanos - 1_000_000_000
    stamp = datetime.fromtimestamp(whole, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{stamp}.{nanos:09d}Z"


KEEPALIVE = b": keep-alive\n\n"
