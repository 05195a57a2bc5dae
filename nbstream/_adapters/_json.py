"""The one place where wire payloads are decoded from JSON text (and tool arguments encoded).

Every adapter calls :func:`load`, so the rules are the same everywhere: text is decoded
with orjson, an already-decoded dict passes straight through, ``[DONE]`` and empty
payloads are recognised, and text that is not JSON becomes a recoverable ``ErrorEvent``
instead of an exception that would end the stream.
"""

from __future__ import annotations

from typing import Any

import orjson

from nbstream._secrets import redact
from nbstream.events import ErrorEvent

#: :func:`load` result for the ``[DONE]`` sentinel that ends OpenAI-style streams.
DONE: Any = type("DoneSentinel", (), {"__repr__": lambda self: "DONE", "__slots__": ()})()
#: :func:`load` result for a payload that is empty or only whitespace (carries nothing).
EMPTY: Any = type("EmptySentinel", (), {"__repr__": lambda self: "EMPTY", "__slots__": ()})()

_loads = orjson.loads
_JSONDecodeError = orjson.JSONDecodeError
_RAW_LIMIT = 200


def load(data: Any) -> Any:
    """Decode one wire payload.

    Returns the decoded value (a dict passes through untouched), :data:`DONE`,
    :data:`EMPTY`, or an :class:`ErrorEvent` (``fatal=False``) when the text is not JSON.
    """
    if data.__class__ is dict:
        return data
    if isinstance(data, (bytes, bytearray, memoryview)):
        data = bytes(data).decode("utf-8", "replace")
    if isinstance(data, str):
        if data[:1] != "{":
            stripped = data.strip()
            if stripped == "[DONE]":
                return DONE
            if not stripped:
                return EMPTY
        try:
            return _loads(data)
        except _JSONDecodeError as exc:
            return invalid_json(data, exc)
    return data


def invalid_json(text: str, exc: Exception) -> ErrorEvent:
    """The recoverable error for a payload that is not valid JSON, with its first 200 chars."""
    reason = str(exc).split(":", 1)[0] or type(exc).__name__
    return ErrorEvent(
        message=f"invalid JSON in stream event: {reason}",
        fatal=False,
        raw=redact(text)[:_RAW_LIMIT],  # redacted before the cut
    )


def unexpected_shape(data: Any, exc: Exception) -> ErrorEvent:
    """The recoverable error for valid JSON whose structure is not what the format promises
    (``"choices": "x"``…): adapters report it instead of raising out of the stream."""
    raw = data if isinstance(data, str) else dumps(data)
    return ErrorEvent(
        message=redact(f"unexpected shape of stream event: {type(exc).__name__}: {exc}")[:200],
        fatal=False,
        raw=redact(raw)[:_RAW_LIMIT],
    )


def dumps(value: Any) -> str:
    """Compact JSON text for a decoded value (tool arguments sent as objects, tool outputs)."""
    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS, default=str).decode()
    except (TypeError, orjson.JSONEncodeError):
        return str(value)
