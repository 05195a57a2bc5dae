"""Anthropic's Messages API stream (``POST /v1/messages``, ``stream: true``) -> normalized events.

The stream is typed SSE: ``message_start`` (id, model, input usage with cache counts),
then per content block ``content_block_start`` / ``content_block_delta`` /
``content_block_stop`` (``text_delta``, ``thinking_delta``, ``signature_delta``,
``input_json_delta`` for tool arguments in fragments, ``citations_delta``), then
``message_delta`` (stop reason and cumulative output usage) and ``message_stop``; ``ping``
may come anywhere and ``error`` (``overloaded_error``…) ends the stream.

Thinking signatures and redacted thinking are kept as ``Other`` events (typed
``thinking.signature`` / ``redacted_thinking``, with their block index; a signature a whole
``thinking`` block carries, in ``content_block_start`` or a non-streamed message, too) so a conversation
can send the thinking blocks back; server-tool blocks (``server_tool_use``,
``mcp_tool_use``…) are kept as ``Other`` too, their ``input_json_delta`` fragments as well:
only a ``tool_use`` block's arguments make tool-call deltas.
The stop reason is given in OpenAI's words (``end_turn`` -> ``stop``…), the provider's own
word kept in ``Finish.raw`` and the matched ``stop_sequence`` in ``Finish.stop_sequence``.
"""

from __future__ import annotations

from collections.abc import Iterable
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
    MAX_INDEX,
    SHAPE_ERRORS,
    count,
    dumps,
    error_event,
    index,
    label,
    load,
    section,
    string,
    text,
    unexpected_shape,
    word,
)
from nbstream.wire.spec import WireFormat

__all__ = ["FORMAT", "STOP_REASONS", "AnthropicAdapter", "assistant_content", "body", "detect", "root"]

#: Anthropic's stop reasons in OpenAI's words (anything else is kept as sent).
STOP_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}
MAX_STOP_SEQUENCE = 1000  # a matched stop string is the caller's own: longer than a finish word, still bounded
DEFAULT_MAX_TOKENS = 4096  # the Messages API requires max_tokens; override with max_tokens=


class AnthropicAdapter:
    """One Messages stream's adapter (state: the input usage from ``message_start``, the
    type of each content block and the tool call number of each tool-use block, by index)."""

    __slots__ = ("_input", "_cache_read", "_cache_write", "_tools", "_output", "_kinds")

    def __init__(self) -> None:
        self._input: int | None = None
        self._cache_read: int | None = None
        self._cache_write: int | None = None
        self._output: int | None = None
        self._tools: dict[int, int] = {}  # content block index -> tool call number
        self._kinds: dict[int, Any] = {}  # content block index -> its type, from content_block_start

    def feed(self, name: str, data: Any, id: str | None = None) -> list[Event]:
        """One SSE message (its ``event:`` name and JSON data) -> events."""
        obj = load(data)
        if obj.__class__ is not dict:
            if obj is EMPTY:
                return []
            if obj.__class__ is ErrorEvent:
                return [obj]
            return [Other(type=name or "message", data="[DONE]" if obj is DONE else obj, id=id)]
        try:
            return self._event(obj, name, id)
        except SHAPE_ERRORS as exc:
            return [unexpected_shape(data, exc)]

    def _event(self, obj: dict, name: str, id: str | None) -> list[Event]:
        kind = obj.get("type")
        if kind.__class__ is not str:
            kind = name
        if kind == "content_block_delta":
            return self._delta(index(obj.get("index", 0), "index", MAX_INDEX), obj.get("delta"))
        if kind == "content_block_start":
            return self._block(index(obj.get("index", 0), "index", MAX_INDEX), obj.get("content_block"))
        if kind in ("content_block_stop", "ping"):
            return []
        if kind == "message_start":
            return self._start(obj.get("message"))
        if kind == "message_delta":
            return self._message_delta(obj)
        if kind == "message_stop":
            return [Done()]
        if kind == "error":
            return [error_event(obj.get("error") or obj)]
        if kind == "message" and isinstance(obj.get("content"), list):
            return self._whole(obj)  # the server ignored "stream": true
        return [Other(type=kind or "message", data=obj, id=id)]

    def _start(self, message: Any) -> list[Event]:
        if not isinstance(message, dict):
            raise TypeError(f"message_start.message must be an object, not {type(message).__name__}")
        out: list[Event] = [Meta(stage="created", id=label(message.get("id")), model=label(message.get("model")),
                                 role=label(message.get("role")))]
        usage = message.get("usage")
        if isinstance(usage, dict):
            out.append(self._usage(usage))
        return out

    def _block(self, idx: int, block: Any) -> list[Event]:
        if not isinstance(block, dict):
            raise TypeError(f"content_block must be an object, not {type(block).__name__}")
        kind = block.get("type")
        self._kinds[idx] = kind
        if kind == "text":
            first = string(block.get("text"), "content_block.text")
            return [TextDelta(first)] if first else []
        if kind == "thinking":
            first = string(block.get("thinking"), "content_block.thinking")
            out: list[Event] = [ReasoningDelta(first)] if first else []
            signed = string(block.get("signature"), "content_block.signature")
            if signed:  # a whole block (non-streamed, or a proxy's): kept as a signature_delta is
                out.append(Other(type="thinking.signature", data={"index": idx, "signature": signed}))
            return out
        if kind == "tool_use":
            number = self._tools.setdefault(idx, len(self._tools))
            given = block.get("input")
            args = dumps(given) if isinstance(given, dict) and given else ""
            return [ToolCallDelta(number, id=string(block.get("id"), "content_block.id"),
                                  name=string(block.get("name"), "content_block.name"), arguments=args)]
        if kind == "redacted_thinking":
            return [Other(type="redacted_thinking", data={"index": idx, "data": block.get("data")})]
        return [Other(type=f"content_block.{kind}" if isinstance(kind, str) else "content_block",
                      data={"index": idx, **block})]

    def _delta(self, idx: int, delta: Any) -> list[Event]:
        if not isinstance(delta, dict):
            raise TypeError(f"content_block_delta.delta must be an object, not {type(delta).__name__}")
        kind = delta.get("type")
        if kind == "text_delta":
            piece = text(delta.get("text"), "delta.text")
            return [TextDelta(piece)] if piece else []
        if kind == "thinking_delta":
            piece = text(delta.get("thinking"), "delta.thinking")
            return [ReasoningDelta(piece)] if piece else []
        if kind == "input_json_delta":
            piece = text(delta.get("partial_json"), "delta.partial_json")
            if self._kinds.get(idx, "tool_use") != "tool_use":  # a server_tool_use / mcp_tool_use block's input
                # (no call of ours); a block whose start never came is taken for a tool call, as before
                return [Other(type="delta.input_json_delta", data={"index": idx, **delta})]
            number = self._tools.setdefault(idx, len(self._tools))
            return [ToolCallDelta(number, arguments=piece)] if piece else []
        if kind == "signature_delta":
            return [Other(type="thinking.signature",
                          data={"index": idx, "signature": text(delta.get("signature"), "delta.signature")})]
        return [Other(type=f"delta.{kind}" if isinstance(kind, str) else "delta", data={"index": idx, **delta})]

    def _message_delta(self, obj: dict) -> list[Event]:
        out: list[Event] = []
        usage = obj.get("usage")
        if isinstance(usage, dict):
            out.append(self._usage(usage))
        delta = obj.get("delta")
        if isinstance(delta, dict):
            finish = _finish(delta, "delta.")
            if finish is not None:
                out.append(finish)
        return out

    def _usage(self, usage: dict) -> Usage:
        """Cumulative counts: ``message_start`` has the input (and cache) counts, every
        ``message_delta`` the output so far (newer servers repeat the input counts)."""
        for key, slot in (("input_tokens", "_input"), ("cache_read_input_tokens", "_cache_read"),
                          ("cache_creation_input_tokens", "_cache_write"), ("output_tokens", "_output")):
            value = count(usage.get(key))
            if value is not None:
                setattr(self, slot, value)
        # Anthropic's input_tokens exclude cached ones; OpenAI's prompt_tokens include them
        parts = [v for v in (self._input, self._cache_read, self._cache_write) if v is not None]
        total_in = sum(parts) if self._input is not None else None
        total = total_in + self._output if total_in is not None and self._output is not None else None
        server = {} if self._cache_write is None else {"cache_creation_input_tokens": self._cache_write}
        return Usage(input_tokens=total_in, output_tokens=self._output, total_tokens=total,
                     cached_tokens=self._cache_read, server=server)

    def _whole(self, message: dict) -> list[Event]:
        """A whole (non-streamed) Messages response: the same events at once."""
        out = self._start(message)
        for idx, block in enumerate(message["content"]):
            out.extend(self._block(idx, block))
        finish = _finish(message, "")
        if finish is not None:
            out.append(finish)
        out.append(Done())
        return out


def _finish(holder: dict, where: str) -> Finish | None:
    """The ``Finish`` of a ``message_delta``'s delta or a whole message: its stop reason in
    OpenAI's words, the word itself, and the matched ``stop_sequence`` (None when absent)."""
    reason = word(holder.get("stop_reason"), f"{where}stop_reason")
    if not reason:
        return None
    return Finish(STOP_REASONS.get(reason, reason), raw=reason,
                  stop_sequence=word(holder.get("stop_sequence"), f"{where}stop_sequence", MAX_STOP_SEQUENCE))


def body(model: str, messages: list[dict[str, Any]], params: dict[str, Any]) -> dict[str, Any]:
    """The streaming Messages request: system messages go to the top-level ``system`` (a list
    of blocks when one of them is, ``cache_control`` kept), ``max_tokens`` is required
    (default 4096, also for ``max_tokens=None``), ``stop`` becomes ``stop_sequences``
    (``stop=None``: none)."""
    params = dict(params)
    schema = structured.take(params)
    if schema is not None and schema.schema is not None:  # output_config.format (no schemaless JSON mode)
        params["output_config"] = {**section(params, "output_config"),
                                   "format": {"type": "json_schema", "schema": structured.closed(schema.schema)}}
    for alias in ("max_completion_tokens", "max_output_tokens"):
        if alias in params:
            value = params.pop(alias)
            if params.get("max_tokens") is None:
                params["max_tokens"] = value
    if params.get("max_tokens", 0) is None:  # None means "not given": the API requires a number
        del params["max_tokens"]
    if "stop" in params:
        stop = params.pop("stop")
        if stop is not None:  # None means "not given"
            params["stop_sequences"] = [stop] if isinstance(stop, str) else stop
    system = [m.get("content") for m in messages if m.get("role") == "system"]
    rest = [m for m in messages if m.get("role") != "system"]
    out: dict[str, Any] = {"model": model, "messages": rest, "max_tokens": DEFAULT_MAX_TOKENS, "stream": True}
    if system:
        out["system"] = _system(system)
    return {**out, **params, "stream": True}


def _system(contents: list[Any]) -> str | list[Any]:
    """The ``system`` field: the system messages' text, joined; when one of them is a list
    of content blocks, a list of blocks, those passed through as given (``cache_control``
    kept) and text made a ``text`` block."""
    if all(isinstance(c, str) for c in contents):
        return "\n\n".join(contents)
    blocks: list[Any] = []
    for content in contents:
        if isinstance(content, list):
            blocks.extend(content)
        else:
            blocks.append({"type": "text", "text": content if isinstance(content, str) else str(content)})
    return blocks


def assistant_content(events: Iterable[Event]) -> str | list[dict[str, Any]]:
    """The assistant turn to send back in a later request of the conversation: its content
    blocks in stream order — ``thinking`` with its ``signature``, ``redacted_thinking``
    unchanged, ``text`` — as Anthropic requires thinking to come back whole (a dropped
    signature is an HTTP 400); just the text when there was no thinking. A thinking block
    whose signature never came (a cut stream) is left out: unsigned, it would be refused.
    Tool-use blocks are left out too: they need the tool's result in the next turn."""
    blocks: list[dict[str, Any]] = []
    thinking: list[str] | None = None
    said: list[str] = []

    def flush_text() -> None:
        if said:
            blocks.append({"type": "text", "text": "".join(said)})
            said.clear()

    for ev in events:
        if isinstance(ev, ReasoningDelta):
            if thinking is None:
                flush_text()
                thinking = []
            thinking.append(ev.text)
        elif isinstance(ev, TextDelta):
            said.append(ev.text)
        elif isinstance(ev, Other) and isinstance(ev.data, dict) and ev.type == "thinking.signature":
            sig = ev.data.get("signature")
            if isinstance(sig, str) and sig:
                flush_text()
                blocks.append({"type": "thinking", "thinking": "".join(thinking or []), "signature": sig})
            thinking = None
        elif isinstance(ev, Other) and isinstance(ev.data, dict) and ev.type == "redacted_thinking":
            flush_text()
            blocks.append({"type": "redacted_thinking", "data": ev.data.get("data")})
    flush_text()
    if not any(b["type"] != "text" for b in blocks):
        return "".join(b["text"] for b in blocks)
    return blocks


_EVENTS = frozenset({"message_start", "content_block_start", "content_block_delta", "content_block_stop",
                     "message_delta", "message_stop"})


def detect(name: str, obj: Any) -> bool:
    """A Messages stream event: its ``type`` (or SSE name) is one of the message/content-block events."""
    kind = obj.get("type") if obj.__class__ is dict else None
    return obj.__class__ is dict and ((kind.__class__ is str and kind in _EVENTS) or name in _EVENTS)


def root(base_url: str) -> str:
    """The API root (``https://api.anthropic.com``): a base URL ending in ``/v1`` loses it."""
    parts = urlsplit(base_url)
    return urlunsplit(parts._replace(path=parts.path.rstrip("/").removesuffix("/v1")))


def _auth(key: str) -> dict[str, str]:
    return {"x-api-key": key}


FORMAT = WireFormat(name="anthropic", description="Anthropic's Messages API", adapter=AnthropicAdapter,
                    path="/v1/messages", body=body, root=root, key_envs=("ANTHROPIC_API_KEY",),
                    url_envs=(("ANTHROPIC_BASE_URL", None),), default_url="https://api.anthropic.com",
                    auth=_auth, headers={"anthropic-version": "2023-06-01"}, detect=detect,
                    prefixes=("anthropic",))
