"""Ollama's native NDJSON streams (``/api/chat`` and ``/api/generate``) -> normalized events.

``/api/chat`` lines carry ``message.content``, ``message.thinking`` and whole
``message.tool_calls`` (arguments as an object); ``/api/generate`` lines carry
``response`` and ``thinking``. The final ``done: true`` line carries Ollama's own
counts and nanosecond timings, kept as sent in ``Usage.server``.
"""

from __future__ import annotations

from typing import Any

from nbstream.events import (
    Done,
    ErrorEvent,
    Event,
    Finish,
    Meta,
    Other,
    ReasoningDelta,
    TextDelta,
    ToolCallDelta,
    Usage,
)

from ._chat import _int, error_event
from ._json import DONE, EMPTY, dumps, load, unexpected_shape

_SERVER_KEYS = (
    "total_duration",
    "load_duration",
    "prompt_eval_count",
    "prompt_eval_duration",
    "eval_count",
    "eval_duration",
)


class OllamaAdapter:
    """One Ollama stream's adapter (state: first line seen, tool calls numbered so far)."""

    __slots__ = ("_started", "_tools")

    def __init__(self) -> None:
        self._started = False
        self._tools = 0

    def feed(self, name: str, data: Any, id: str | None = None) -> list[Event]:
        """One NDJSON line (JSON text or dict) -> events."""
        obj = load(data)
        if obj.__class__ is not dict:
            if obj is EMPTY:
                return []
            if obj.__class__ is ErrorEvent:
                return [obj]
            if obj is DONE:
                obj = "[DONE]"
            return [Other(type=name or "message", data=obj, id=id)]
        try:
            return self._line(obj, name, id)
        except (AttributeError, TypeError, KeyError, IndexError) as exc:
            return [unexpected_shape(data, exc)]

    def _line(self, obj: dict, name: str, id: str | None) -> list[Event]:
        err = obj.get("error")
        if err:
            return [error_event(err)]
        out: list[Event] = []
        message = obj.get("message")
        if not self._started and (message is not None or "response" in obj or "model" in obj):
            self._started = True
            role = message.get("role") if isinstance(message, dict) else None
            out.append(Meta(stage="created", model=obj.get("model"), role=role))
        if isinstance(message, dict):
            self._message(message, out)
        else:
            text = obj.get("response")
            if text:
                out.append(TextDelta(text))
            thinking = obj.get("thinking")
            if thinking:
                out.append(ReasoningDelta(thinking))
        if obj.get("done"):
            out.append(_usage(obj))
            out.append(Finish(obj.get("done_reason") or "stop"))
            out.append(Done())
        elif not out and message is None and "response" not in obj and "done" not in obj:
            out.append(Other(type=name or "message", data=obj, id=id))  # e.g. pull progress
        return out

    def _message(self, message: dict, out: list[Event]) -> None:
        content = message.get("content")
        if content:
            out.append(TextDelta(content))
        thinking = message.get("thinking")
        if thinking:
            out.append(ReasoningDelta(thinking))
        for call in message.get("tool_calls") or ():
            if not isinstance(call, dict):
                continue
            fn = call.get("function") or {}
            args = fn.get("arguments")
            if args is None:
                args = ""
            elif not isinstance(args, str):
                args = dumps(args)
            out.append(ToolCallDelta(self._tools, id=call.get("id"), name=fn.get("name"), arguments=args))
            self._tools += 1


def _usage(obj: dict) -> Usage:
    """Counts and timings from the final ``done: true`` line (durations in ns, as sent)."""
    inp = _int(obj.get("prompt_eval_count"))
    out = _int(obj.get("eval_count"))
    total = inp + out if inp is not None and out is not None else None
    server = {key: obj[key] for key in _SERVER_KEYS if key in obj}
    return Usage(input_tokens=inp, output_tokens=out, total_tokens=total, server=server)
