"""Chat Completions chunks (``chat.completion.chunk``) -> normalized events.

Covers what OpenAI-compatible servers actually send: OpenAI, vLLM (continuous usage),
llama.cpp (``content: null`` first chunk, a ``timings`` object), DeepSeek
(``reasoning_content``), Ollama /v1 and OpenRouter (``reasoning``), legacy completions
(``choices[].text``), ``n > 1`` choices and in-band errors. Unknown extra fields are
ignored. The per-chunk path is written for speed: plain ``dict.get`` calls, no models.
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
    RefusalDelta,
    TextDelta,
    ToolCallDelta,
)
from nbstream.wire import structured
from nbstream.wire.payload import (
    DONE,
    EMPTY,
    MAX_INDEX,
    SHAPE_ERRORS,
    _JSONDecodeError,
    _loads,
    count,
    dumps,
    error_event,
    label,
    load,
    string,
    unexpected_shape,
    usage_event,
    word,
)
from nbstream.wire.payload import index as _index
from nbstream.wire.payload import text as _text
from nbstream.wire.spec import OPENAI_HEADERS, WireFormat


def _content_parts(parts: list, choice: int, out: list) -> None:
    """Content sent as a list of parts (Mistral's thinking models): text and thinking."""
    for part in parts:
        if isinstance(part, str):
            if part:
                out.append(TextDelta(part, choice))
            continue
        if not isinstance(part, dict):
            continue
        kind = part.get("type")
        if kind == "thinking":
            inner = part.get("thinking")
            if isinstance(inner, list):
                inner = "".join(p.get("text") or "" for p in inner if isinstance(p, dict))
            if inner:
                out.append(ReasoningDelta(str(inner), choice))
        elif part.get("text"):
            out.append(TextDelta(str(part["text"]), choice))


def _list(value: Any, what: str) -> list | None:
    """``value`` when it is a list, None when absent; a shape error otherwise."""
    if value is None or value.__class__ is list:
        return value
    raise TypeError(f"{what} must be a list, not {type(value).__name__}")


def _content(content: Any, choice: int, out: list[Event], what: str) -> None:
    """A delta's or a whole message's ``content``: text, or a list of parts."""
    if content:
        if content.__class__ is list:
            _content_parts(content, choice, out)
        else:
            out.append(TextDelta(_text(content, what), choice))


class ChatAdapter:
    """One Chat Completions stream's adapter (keeps per-stream state: first chunk seen,
    which choices announced their role, indexes of tool calls sent without one)."""

    __slots__ = ("_last_tool", "_roles", "_started", "_tool_ids")

    def __init__(self) -> None:
        self._started = False
        self._roles: set[int] = set()
        self._tool_ids: dict[int, dict[str, int]] = {}
        self._last_tool: dict[int, int] = {}

    def feed(self, name: str, data: Any, id: str | None = None) -> list[Event]:
        """One wire message (a chunk as JSON text or dict, or ``[DONE]``) -> events."""
        obj = load(data)
        if obj.__class__ is dict:
            try:
                return self._chunk(obj, name, id)
            except SHAPE_ERRORS as exc:
                return [unexpected_shape(data, exc)]
        if obj is DONE:
            return [Done()]
        if obj is EMPTY:
            return []
        if obj.__class__ is ErrorEvent:
            return [obj]
        return [Other(type=name or "message", data=obj, id=id)]

    def feed_fast(self, name: str, data: Any, id: str | None = None) -> str | list[Event]:
        """``feed``, but a chunk that is nothing but one text delta of the first choice
        (after the first chunk, no role, finish, usage or error) comes back as its text
        alone: the same event, ``[TextDelta(text)]``, without building it."""
        if data.__class__ is str and data[:1] == "{" and self._started and name == "message":
            try:
                obj = _loads(data)
            except _JSONDecodeError:
                return self.feed(name, data, id)
            if obj.__class__ is dict:
                choices = obj.get("choices")
                if choices.__class__ is list and len(choices) == 1:
                    ch = choices[0]
                    if ch.__class__ is dict:
                        delta = ch.get("delta")
                        if delta.__class__ is dict and len(delta) == 1 and ch.get("finish_reason") is None:
                            content = delta.get("content")
                            idx = ch.get("index", 0)
                            if (content.__class__ is str and content and (idx == 0 and idx.__class__ is int)
                                    and not obj.get("error") and obj.get("object") != "error"
                                    and not obj.get("usage") and not obj.get("timings")):
                                return content
                try:
                    return self._chunk(obj, name, id)
                except SHAPE_ERRORS as exc:
                    return [unexpected_shape(data, exc)]
        return self.feed(name, data, id)

    def _chunk(self, obj: dict, name: str, id: str | None) -> list[Event]:
        out: list[Event] = []
        err = obj.get("error")
        if err:
            out.append(error_event(err))
        elif obj.get("object") == "error" or (name == "error" and "message" in obj):
            return [error_event(obj)]  # vLLM's top-level error object, `event: error`
        choices = _list(obj.get("choices"), "choices")
        if not self._started and (choices or obj.get("id") or obj.get("model")):
            self._started = True
            role = None
            if choices:
                first = choices[0]
                delta = first.get("delta")
                role = label(delta.get("role")) if delta else None
                if role:
                    idx = first.get("index")
                    self._roles.add(0 if idx is None else _index(idx, "choice index"))
            out.append(
                Meta(
                    stage="role" if role else "created",
                    id=label(obj.get("id")),
                    model=label(obj.get("model")),
                    created=count(obj.get("created")),
                    role=role,
                )
            )
        if choices:
            for pos, ch in enumerate(choices):
                idx = ch.get("index")
                idx = pos if idx is None else _index(idx, "choice index")
                delta = ch.get("delta")
                if delta:
                    role = label(delta.get("role"))
                    if role and idx not in self._roles:
                        self._roles.add(idx)
                        out.append(Meta(stage="role", id=label(obj.get("id")), model=label(obj.get("model")),
                                        role=role))
                    _content(delta.get("content"), idx, out, "delta.content")
                    reasoning = string(delta.get("reasoning_content"), "delta.reasoning_content")
                    if reasoning:
                        out.append(ReasoningDelta(reasoning, idx))
                    other = delta.get("reasoning")
                    if other and other != reasoning and other.__class__ is str:
                        out.append(ReasoningDelta(other, idx))
                    calls = _list(delta.get("tool_calls"), "delta.tool_calls")
                    if calls:
                        self._tool_calls(calls, idx, out)
                    legacy = delta.get("function_call")
                    if legacy:
                        self._tool_calls([{"index": 0, "function": legacy}], idx, out)
                    refusal = string(delta.get("refusal"), "delta.refusal")
                    if refusal:
                        out.append(RefusalDelta(refusal, idx))
                else:
                    message = ch.get("message")
                    if message.__class__ is dict:  # a whole (non-streamed) chat.completion
                        self._message(message, idx, out)
                    text = string(ch.get("text"), "choices[].text")  # legacy completions chunk
                    if text:
                        out.append(TextDelta(text, idx))
                reason = word(ch.get("finish_reason"), "finish_reason")
                if reason:
                    out.append(Finish(reason, idx))
        usage = obj.get("usage")
        timings = obj.get("timings")
        if usage or timings:
            out.append(usage_event(usage, timings))
        if not out and not choices:
            # carried something we do not model (e.g. Azure's prompt_filter_results chunk)
            out.append(Other(type=obj.get("object") or name or "message", data=obj, id=id))
        return out

    def _message(self, message: dict, choice: int, out: list) -> None:
        """A whole answer (``chat.completion``: the server did not stream, or was asked not to)."""
        reasoning = string(message.get("reasoning_content"), "message.reasoning_content")
        if not reasoning and message.get("reasoning").__class__ is str:
            reasoning = message["reasoning"]
        if reasoning:
            out.append(ReasoningDelta(reasoning, choice))
        _content(message.get("content"), choice, out, "message.content")
        calls = _list(message.get("tool_calls"), "message.tool_calls")
        if calls:
            self._tool_calls([{**tc, "index": pos} if isinstance(tc, dict) else tc
                              for pos, tc in enumerate(calls)], choice, out)
        refusal = string(message.get("refusal"), "message.refusal")
        if refusal:
            out.append(RefusalDelta(refusal, choice))

    def _tool_calls(self, calls: list, choice: int, out: list) -> None:
        """Tool-call fragments keyed by ``index``; without one, by id, else list position
        (or, for a lone id-less fragment, the call the previous fragment belonged to)."""
        pos = 0
        for tc in calls:
            if not isinstance(tc, dict):
                pos += 1
                continue
            index = tc.get("index")
            if index is not None:
                index = _index(index, "tool_calls[].index", MAX_INDEX)
            call_id = string(tc.get("id"), "tool_calls[].id")
            if index is None:
                if call_id:
                    known = self._tool_ids.setdefault(choice, {})
                    index = known.get(call_id)
                    if index is None:
                        index = known[call_id] = max(pos, len(known))
                elif len(calls) == 1 and choice in self._last_tool:
                    index = self._last_tool[choice]
                else:
                    index = pos
            pos += 1
            self._last_tool[choice] = index
            fn = tc.get("function") or {}
            if fn.__class__ is not dict:
                raise TypeError(f"tool_calls[].function must be an object, not {type(fn).__name__}")
            args = fn.get("arguments")
            if args is None:
                args = ""
            elif args.__class__ is not str:
                args = dumps(args)
            out.append(ToolCallDelta(index, call_id, string(fn.get("name"), "tool_calls[].function.name"),
                                     args, choice))


def body(model: str, messages: list[dict[str, Any]], params: dict[str, Any]) -> dict[str, Any]:
    """A streaming Chat Completions request body, asking for the usage chunk (and for
    JSON following a schema with ``response_format``)."""
    params = dict(params)
    schema = structured.take(params)
    if schema is not None:
        params["response_format"] = {"type": "json_object"} if schema.schema is None else {
            "type": "json_schema", "json_schema": {"name": schema.name, "schema": schema.schema,
                                                   "strict": schema.strict}}
    return {"model": model, "messages": messages, "stream": True,
            "stream_options": {"include_usage": True}, **params}


def detect(name: str, obj: Any) -> bool:
    """``[DONE]``, or a chunk with ``choices``."""
    return obj is DONE or (obj.__class__ is dict and ("choices" in obj
                                                      or obj.get("object") == "chat.completion.chunk"))


FORMAT = WireFormat(name="chat", description="Chat Completions", adapter=ChatAdapter,
                    path="/chat/completions", body=body, env_headers=OPENAI_HEADERS, detect=detect,
                    prefixes=("openai",))

__all__ = ["FORMAT", "ChatAdapter", "body", "detect"]
