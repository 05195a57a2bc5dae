"""Ollama's native NDJSON streams (``/api/chat`` and ``/api/generate``) -> normalized events.

``/api/chat`` lines carry ``message.content``, ``message.thinking`` and whole
``message.tool_calls`` (arguments as an object); ``/api/generate`` lines carry
``response`` and ``thinking``. The final ``done: true`` line carries Ollama's own
counts and nanosecond timings, kept as sent in ``Usage.server``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

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
from nbstream.wire import structured
from nbstream.wire.payload import (
    DONE,
    EMPTY,
    SHAPE_ERRORS,
    count,
    dumps,
    error_event,
    figures,
    label,
    load,
    section,
    string,
    unexpected_shape,
    word,
)
from nbstream.wire.spec import WireFormat

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
        except SHAPE_ERRORS as exc:
            return [unexpected_shape(data, exc)]

    def _line(self, obj: dict, name: str, id: str | None) -> list[Event]:
        err = obj.get("error")
        if err:
            return [error_event(err)]
        out: list[Event] = []
        message = obj.get("message")
        if not self._started and (message is not None or "response" in obj or "model" in obj):
            self._started = True
            role = label(message.get("role")) if isinstance(message, dict) else None
            out.append(Meta(stage="created", model=label(obj.get("model")), role=role))
        if isinstance(message, dict):
            self._message(message, out)
        else:
            text = string(obj.get("response"), "response")
            if text:
                out.append(TextDelta(text))
            thinking = string(obj.get("thinking"), "thinking")
            if thinking:
                out.append(ReasoningDelta(thinking))
        if obj.get("done"):
            out.append(_usage(obj))
            out.append(Finish(word(obj.get("done_reason"), "done_reason") or "stop"))
            out.append(Done())
        elif not out and message is None and "response" not in obj and "done" not in obj:
            out.append(Other(type=name or "message", data=obj, id=id))  # e.g. pull progress
        return out

    def _message(self, message: dict, out: list[Event]) -> None:
        content = string(message.get("content"), "message.content")
        if content:
            out.append(TextDelta(content))
        thinking = string(message.get("thinking"), "message.thinking")
        if thinking:
            out.append(ReasoningDelta(thinking))
        calls = message.get("tool_calls") or ()
        if not isinstance(calls, (list, tuple)):
            raise TypeError(f"message.tool_calls must be a list, not {type(calls).__name__}")
        for call in calls:
            if not isinstance(call, dict):
                continue
            fn = call.get("function") or {}
            if not isinstance(fn, dict):
                raise TypeError(f"tool_calls[].function must be an object, not {type(fn).__name__}")
            args = fn.get("arguments")
            if args is None:
                args = ""
            elif not isinstance(args, str):
                args = dumps(args)
            out.append(ToolCallDelta(self._tools, id=string(call.get("id"), "tool_calls[].id"),
                                     name=string(fn.get("name"), "tool_calls[].function.name"), arguments=args))
            self._tools += 1


def _usage(obj: dict) -> Usage:
    """Counts and timings from the final ``done: true`` line (durations in ns, as sent)."""
    inp = count(obj.get("prompt_eval_count"))
    out = count(obj.get("eval_count"))
    total = inp + out if inp is not None and out is not None else None
    server = figures({key: obj[key] for key in _SERVER_KEYS if key in obj})
    return Usage(input_tokens=inp, output_tokens=out, total_tokens=total, server=server)


_OPTIONS = {"temperature": "temperature", "top_p": "top_p", "seed": "seed", "stop": "stop",
            "max_tokens": "num_predict", "max_completion_tokens": "num_predict",
            "max_output_tokens": "num_predict", "frequency_penalty": "frequency_penalty",
            "presence_penalty": "presence_penalty", "top_k": "top_k"}


def body(model: str, messages: list[dict[str, Any]], params: dict[str, Any]) -> dict[str, Any]:
    """A streaming ``/api/chat`` body: sampling parameters go under ``options`` with
    Ollama's names (``max_tokens`` is ``num_predict``)."""
    params = dict(params)
    schema = structured.take(params)
    if schema is not None:  # Ollama's structured outputs: the schema itself is the format
        params["format"] = "json" if schema.schema is None else schema.schema
    options = section(params, "options")
    rest = {}
    for key, value in params.items():
        if key in _OPTIONS:
            options[_OPTIONS[key]] = value
        else:
            rest[key] = value
    out: dict[str, Any] = {"model": model, "messages": messages, "stream": True, **rest}
    if options:
        out["options"] = options
    return out


def ollama_root(base_url: str) -> str:
    """Ollama's native API lives at the root: a base URL ending in ``/v1`` loses it."""
    parts = urlsplit(base_url)
    path = parts.path.rstrip("/")
    path = path.removesuffix("/v1")
    return urlunsplit(parts._replace(path=path))


def ollama_host(value: str) -> str:
    """``OLLAMA_HOST`` read the way Ollama reads it: ``host``, ``host:port``, ``:port`` or a
    URL; scheme http and port 11434 unless given (80/443 for an explicit http/https)."""
    text = value.strip()
    scheme, sep, hostport = text.partition("://")
    port = "11434"
    if not sep:
        scheme, hostport = "http", text
    elif scheme == "http":
        port = "80"
    elif scheme == "https":
        port = "443"
    cut = min((i for i in (hostport.find(c) for c in "/?#") if i >= 0), default=len(hostport))
    hostport, tail = hostport[:cut], hostport[cut:]
    userinfo, at, hostport = hostport.rpartition("@")  # user:password@ stays, for the server to read
    host = hostport or "127.0.0.1"
    if hostport.startswith("["):  # [::1]:port
        inner, _, rest = hostport[1:].partition("]")
        host = f"[{inner}]"
        if rest.startswith(":") and rest[1:]:
            port = rest[1:]
    elif hostport.count(":") == 1:
        name, _, given = hostport.partition(":")
        host, port = name or "127.0.0.1", given or port
    if not port.isdigit() or not 0 <= int(port) <= 65535:
        host, port = "127.0.0.1", "11434"
    if host == "0.0.0.0":  # a bind-all address: the server is reachable on loopback
        host = "127.0.0.1"
    path, mark, query = tail.partition("?")
    path = path.split("#")[0].rstrip("/")
    return (f"{scheme}://{userinfo}{at}{host}:{port}{path}" + (f"?{query.split('#')[0]}" if mark else ""))


def detect(name: str, obj: Any) -> bool:
    """A line with ``done`` and a ``message`` (/api/chat) or ``response`` (/api/generate)."""
    return obj.__class__ is dict and "done" in obj and ("message" in obj or "response" in obj)


FORMAT = WireFormat(name="ollama", description="Ollama's native /api/chat", adapter=OllamaAdapter,
                    framing="ndjson", path="/api/chat", body=body, root=ollama_root,
                    url_envs=(("OLLAMA_HOST", ollama_host),), key_envs=(),
                    default_url="http://127.0.0.1:11434", detect=detect,
                    prefixes=("ollama",))

__all__ = ["FORMAT", "OllamaAdapter", "body", "detect", "ollama_host", "ollama_root"]
