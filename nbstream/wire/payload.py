"""The one place where wire payloads are decoded from JSON text (and tool arguments encoded,
and a request body's nested settings taken from the caller's parameters: :func:`section`).

Every adapter calls :func:`load`, so the rules are the same everywhere: text is decoded
with orjson, an already-decoded dict passes straight through, ``[DONE]`` and empty
payloads are recognised, and text that is not JSON becomes a recoverable ``ErrorEvent``
instead of an exception that would end the stream.
"""

from __future__ import annotations

import math
from typing import Any

import orjson

from nbstream._secrets import redact
from nbstream.events import ErrorEvent, Usage

__all__ = ["DONE", "EMPTY", "MAX_CHOICES", "MAX_INDEX", "MAX_WORD", "SHAPE_ERRORS", "count", "dumps", "error_event",
           "figures", "index", "invalid_json", "label", "load", "section", "string", "text", "unexpected_shape",
           "usage_event", "word"]

#: :func:`load` result for the ``[DONE]`` sentinel that ends OpenAI-style streams.
DONE: Any = type("DoneSentinel", (), {"__repr__": lambda self: "DONE", "__slots__": ()})()
#: :func:`load` result for a payload that is empty or only whitespace (carries nothing).
EMPTY: Any = type("EmptySentinel", (), {"__repr__": lambda self: "EMPTY", "__slots__": ()})()

_loads = orjson.loads
_JSONDecodeError = orjson.JSONDecodeError
_RAW_LIMIT = 200
#: A server's word for a finish reason or an error's code/type is cut to this many characters
#: (a real one is a few; a hostile server's 100,000 would otherwise be kept, shown and saved whole).
MAX_WORD = 200


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


# ---- field checks: a wrong-shaped field raises, the adapter turns it into unexpected_shape ----
MAX_CHOICES = 1024  # OpenAI allows n <= 128; more would only allocate for a hostile index
MAX_INDEX = 1 << 20  # tool-call indexes: keys of a dict, but bounded all the same
_MAX_COUNT = 1 << 53  # token counts and server figures beyond this are not counts


def string(value: Any, what: str) -> str | None:
    """``value`` when it is a string (or None); a ``TypeError`` naming ``what`` otherwise."""
    if value is None or value.__class__ is str:
        return value
    raise TypeError(f"{what} must be a string, not {type(value).__name__}")


def word(value: Any, what: str, limit: int = MAX_WORD) -> str | None:
    """A server's short word (a finish reason): :func:`string`, cut to ``limit`` characters."""
    value = string(value, what)
    return value[:limit] if value is not None and len(value) > limit else value


def text(value: Any, what: str) -> str:
    """``value`` when it is a string; a ``TypeError`` naming ``what`` otherwise."""
    if value.__class__ is str:
        return value
    raise TypeError(f"{what} must be a string, not {type(value).__name__}")


def label(value: Any) -> str | None:
    """An identity field (id, model, role): a string, else ignored — never worth an error."""
    return value if value.__class__ is str else None


def index(value: Any, what: str, limit: int = MAX_CHOICES) -> int:
    """A list position sent by the server: an integer in ``0..limit-1``."""
    if value.__class__ is not int:
        raise TypeError(f"{what} must be an integer, not {type(value).__name__}")
    if not 0 <= value < limit:
        raise ValueError(f"{what} {value} is out of range (0..{limit - 1})")
    return value


def count(value: Any) -> int | None:
    """A token count, or None for anything that is not a finite, plausible number."""
    if value.__class__ is int:
        return value if 0 <= value < _MAX_COUNT else None
    if value.__class__ is float and math.isfinite(value) and 0 <= value < _MAX_COUNT:
        return int(value)
    return None


def figures(server: Any) -> dict[str, Any]:
    """A server's own timing object, kept as sent but only its finite numbers."""
    if not isinstance(server, dict):
        return {}
    return {k: v for k, v in server.items() if isinstance(k, str) and (
        (v.__class__ is int and abs(v) < _MAX_COUNT) or (v.__class__ is float and math.isfinite(v)))}


SHAPE_ERRORS = (AttributeError, TypeError, KeyError, IndexError, ValueError)


def dumps(value: Any) -> str:
    """Compact JSON text for a decoded value (tool arguments sent as objects, tool outputs)."""
    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS, default=str).decode()
    except (TypeError, orjson.JSONEncodeError):
        return str(value)


def usage_event(usage: Any, server: Any = None) -> Usage:
    """A ``Usage`` from either naming scheme (Chat ``prompt_tokens``… or Responses
    ``input_tokens``…); ``server`` is a server's own timing object, kept as sent."""
    u = usage if isinstance(usage, dict) else {}
    inp = u.get("prompt_tokens")
    if inp is None:
        inp = u.get("input_tokens")
    out = u.get("completion_tokens")
    if out is None:
        out = u.get("output_tokens")
    inp, out = count(inp), count(out)
    total = count(u.get("total_tokens"))
    if total is None and inp is not None and out is not None:
        total = inp + out
    out_details = u.get("completion_tokens_details") or u.get("output_tokens_details")
    in_details = u.get("prompt_tokens_details") or u.get("input_tokens_details")
    reasoning = count(out_details.get("reasoning_tokens")) if isinstance(out_details, dict) else None
    cached = count(in_details.get("cached_tokens")) if isinstance(in_details, dict) else None
    if cached is None:
        cached = count(u.get("prompt_cache_hit_tokens"))  # DeepSeek's name
    return Usage(
        input_tokens=inp,
        output_tokens=out,
        total_tokens=total,
        reasoning_tokens=reasoning,
        cached_tokens=cached,
        server=figures(server),
    )


def error_event(error: Any) -> ErrorEvent:
    """An ``ErrorEvent`` from an in-band error: ``{"message", "code", "type"}`` or plain text."""
    if isinstance(error, dict):
        message = error.get("message") or error.get("error") or error.get("detail")
        if isinstance(message, dict):  # {"error": {"error": {...}}} from some proxies
            return error_event(message)
        code = error.get("code")
        kind = error.get("type")
        return ErrorEvent(
            message=str(message)[:2000] if message else "the server reported an error without a message",
            code=None if code is None else str(code)[:MAX_WORD],
            type=kind[:MAX_WORD] if isinstance(kind, str) else None,
        )
    return ErrorEvent(message=str(error)[:2000])


def section(params: dict[str, Any], name: str) -> dict[str, Any]:
    """The nested setting ``params[name]`` taken out as a copy to add to (``{}`` when absent
    or None): the caller's ``generationConfig``/``options``/``text``/``output_config`` with
    our settings merged in. A one-line TypeError when it is no dict."""
    value = params.pop(name, None)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise TypeError(f"{name} must be a dict (a JSON object) like {name}={{...}}, not {type(value).__name__}")
    return dict(value)
