"""Responses API typed events (``response.output_text.delta``…) -> normalized events.

The event type is read from ``data["type"]`` (falling back to the SSE ``event:`` name).
Deltas become content events; ``*.done`` summaries become ``Meta`` so text is never
counted twice; the terminal ``response.completed`` / ``incomplete`` / ``failed`` events
carry usage, the finish reason and the end marker. Tolerates servers that omit
``sequence_number`` or ``output_index`` and servers that do or do not send ``[DONE]``.
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
    count,
    error_event,
    label,
    load,
    section,
    string,
    unexpected_shape,
    usage_event,
    word,
)
from nbstream.wire.payload import index as _index
from nbstream.wire.spec import OPENAI_HEADERS, WireFormat

_PREFIX = "response."
_LIFECYCLE_ADDED = frozenset({"response.content_part.added", "response.reasoning_summary_part.added"})


class ResponsesAdapter:
    """One Responses stream's adapter.

    ``end_on_terminal=False`` (used for agent runs, which chain several responses)
    maps terminal events to usage/finish/error but never to ``Done``. Tool-call indexes
    are ``output_index`` offset per response, so calls of successive responses in one
    stream never share an index.
    """

    def __init__(self, *, end_on_terminal: bool = True) -> None:
        self._end = end_on_terminal
        self._terminal = False
        self._base = 0  # index offset of the current response
        self._next = 0  # first index not used by any response so far
        self._items: dict[str, int] = {}  # item_id -> absolute index
        self._calls: set[int] = set()  # indexes whose call id/name were sent
        self._args: set[int] = set()  # indexes whose arguments were sent
        self._handlers = {
            "response.output_text.delta": self._text,
            "response.reasoning_text.delta": self._reasoning,
            "response.reasoning_summary_text.delta": self._summary,
            "response.function_call_arguments.delta": self._arguments,
            "response.refusal.delta": self._refusal,
            "response.created": self._lifecycle,
            "response.in_progress": self._lifecycle,
            "response.queued": self._lifecycle,
            "response.output_item.added": self._item_added,
            "response.output_item.done": self._item_done,
            "response.function_call_arguments.done": self._arguments_done,
            "response.completed": self._completed,
            "response.incomplete": self._incomplete,
            "response.failed": self._failed,
            "error": self._error,
        }

    def feed(self, name: str, data: Any, id: str | None = None) -> list[Event]:
        """One wire message (an event as JSON text or dict, or ``[DONE]``) -> events."""
        obj = load(data)
        if obj.__class__ is not dict:
            if obj is DONE:
                if self._terminal or not self._end:
                    return [Meta(stage="[DONE]")]
                self._terminal = True
                return [Done()]
            if obj is EMPTY:
                return []
            if obj.__class__ is ErrorEvent:
                return [obj]
            return [Other(type=name or "message", data=obj, id=id)]
        if obj.get("object") == "response" and "output" in obj:
            try:
                return self._whole(obj)
            except SHAPE_ERRORS as exc:
                return [unexpected_shape(data, exc)]
        kind = obj.get("type") or name or ""
        if kind.__class__ is not str:
            kind = str(kind)
        handler = self._handlers.get(kind)
        if handler is not None:
            try:
                return handler(obj, kind)
            except SHAPE_ERRORS as exc:
                return [unexpected_shape(data, exc)]
        if kind.startswith(_PREFIX) and (kind.endswith(".done") or kind in _LIFECYCLE_ADDED):
            return [Meta(stage=kind[len(_PREFIX):])]
        return [Other(type=kind or "message", data=obj, id=id)]

    # ---- deltas (the hot path) --------------------------------------------------------
    def _text(self, obj: dict, kind: str) -> list[Event]:
        delta = string(obj.get("delta"), "delta")
        return [TextDelta(delta)] if delta else []

    def _reasoning(self, obj: dict, kind: str) -> list[Event]:
        delta = string(obj.get("delta"), "delta")
        return [ReasoningDelta(delta)] if delta else []

    def _summary(self, obj: dict, kind: str) -> list[Event]:
        delta = string(obj.get("delta"), "delta")
        return [ReasoningDelta(delta, summary=True)] if delta else []

    def _refusal(self, obj: dict, kind: str) -> list[Event]:
        delta = string(obj.get("delta"), "delta")
        return [RefusalDelta(delta)] if delta else []

    def _arguments(self, obj: dict, kind: str) -> list[Event]:
        delta = string(obj.get("delta"), "delta")
        if not delta:
            return []
        index = self._index(obj)
        self._args.add(index)
        return [ToolCallDelta(index, arguments=delta)]

    # ---- items ------------------------------------------------------------------------
    def _index(self, obj: dict, item_id: str | None = None) -> int:
        """The absolute tool-call index of an event: ``output_index`` (offset per
        response), else the index its ``item_id`` was given, else a fresh one."""
        pos = obj.get("output_index")
        index: int | None
        if pos is not None:
            index = self._base + _index(pos, "output_index", MAX_INDEX)
        else:
            item_id = item_id or label(obj.get("item_id"))
            index = self._items.get(item_id) if item_id else None
            if index is None:
                index = self._next
        if index >= self._next:
            self._next = index + 1
        if item_id is None:
            item_id = label(obj.get("item_id"))
        if item_id:
            self._items[item_id] = index
        return index

    def _item_added(self, obj: dict, kind: str) -> list[Event]:
        item = obj.get("item") or {}
        if item.get("type") == "function_call":
            index = self._index(obj, label(item.get("id")))
            self._calls.add(index)
            return [ToolCallDelta(index, id=string(item.get("call_id"), "item.call_id"),
                                  name=string(item.get("name"), "item.name"), arguments="")]
        return [Meta(stage="output_item.added")]

    def _item_done(self, obj: dict, kind: str) -> list[Event]:
        item = obj.get("item") or {}
        out: list[Event] = []
        if item.get("type") == "function_call":
            index = self._index(obj, label(item.get("id")))
            out.extend(self._missed_call(index, string(item.get("call_id"), "item.call_id"),
                                         string(item.get("name"), "item.name"), item.get("arguments")))
        out.append(Meta(stage="output_item.done"))
        return out

    def _arguments_done(self, obj: dict, kind: str) -> list[Event]:
        index = self._index(obj)
        out = self._missed_call(index, None, string(obj.get("name"), "name"), obj.get("arguments"))
        out.append(Meta(stage="function_call_arguments.done"))
        return out

    def _missed_call(self, index: int, call_id: Any, name: Any, arguments: Any) -> list[Event]:
        """A tool call whose id/name or arguments only arrived in a ``*.done`` event (some
        servers send no deltas): emit what was not sent yet, never anything twice."""
        announce = index not in self._calls and (call_id or name)
        args = arguments if isinstance(arguments, str) and index not in self._args else ""
        if not announce and not args:
            return []
        if announce:
            self._calls.add(index)
        if args:
            self._args.add(index)
        return [
            ToolCallDelta(
                index,
                id=call_id if announce else None,
                name=name if announce else None,
                arguments=args,
            )
        ]

    # ---- a whole response (the server did not stream, or was asked not to) -------------
    def _whole(self, resp: dict) -> list[Event]:
        out: list[Event] = [Meta(stage="created", id=label(resp.get("id")), model=label(resp.get("model")))]
        output = resp.get("output") or []
        if output.__class__ is not list:
            raise TypeError(f"output must be a list, not {type(output).__name__}")
        for pos, item in enumerate(output):
            if item.__class__ is not dict:
                continue
            kind = item.get("type")
            if kind == "function_call":
                index = self._index({"output_index": pos}, label(item.get("id")))
                out.extend(self._missed_call(index, string(item.get("call_id"), "call_id"),
                                             string(item.get("name"), "name"), item.get("arguments")))
                continue
            for part in item.get("summary") or () if kind == "reasoning" else ():
                text = string(part.get("text"), "summary[].text") if part.__class__ is dict else None
                if text:
                    out.append(ReasoningDelta(text, summary=True))
            for part in item.get("content") or ():
                if part.__class__ is not dict:
                    continue
                ptype = part.get("type")
                if ptype == "refusal":
                    text = string(part.get("refusal"), "content[].refusal")
                    if text:
                        out.append(RefusalDelta(text))
                    continue
                text = string(part.get("text"), "content[].text")
                if text:
                    out.append(ReasoningDelta(text) if kind == "reasoning" else TextDelta(text))
        status = str(resp.get("status"))
        terminal = {"failed": self._failed, "incomplete": self._incomplete}.get(status, self._completed)
        out.extend(terminal({"response": resp}, f"response.{status}"))
        return out

    # ---- lifecycle and terminal events ------------------------------------------------
    def _lifecycle(self, obj: dict, kind: str) -> list[Event]:
        resp = obj.get("response") or {}
        if kind == "response.created":
            self._base = self._next
            self._items.clear()
        return [
            Meta(
                stage=kind[len(_PREFIX):],
                id=label(resp.get("id")),
                model=label(resp.get("model")),
                created=count(resp.get("created_at")),
            )
        ]

    def _completed(self, obj: dict, kind: str) -> list[Event]:
        resp = obj.get("response") or {}
        out: list[Event] = _usage(obj, resp)
        out.append(Finish("completed"))
        return self._end_with(out, "completed")

    def _incomplete(self, obj: dict, kind: str) -> list[Event]:
        resp = obj.get("response") or {}
        out: list[Event] = _usage(obj, resp)
        details = resp.get("incomplete_details") or {}
        out.append(Finish(word(details.get("reason"), "incomplete_details.reason") or "incomplete"))
        return self._end_with(out, "incomplete")

    def _failed(self, obj: dict, kind: str) -> list[Event]:
        resp = obj.get("response") or {}
        out: list[Event] = _usage(obj, resp)
        err = resp.get("error")
        if err:
            out.append(error_event(err))
        else:
            out.append(ErrorEvent(message="the response failed and the server gave no reason"))
        return self._end_with(out, "failed")

    def _end_with(self, out: list[Event], status: str) -> list[Event]:
        if self._end:
            self._terminal = True
            out.append(Done(status))
        return out

    def _error(self, obj: dict, kind: str) -> list[Event]:
        nested = obj.get("error")
        if isinstance(nested, dict):
            return [error_event(nested)]
        ev = error_event(obj)
        # the flat shape's "type" is the event type ("error"), not an error type
        return [ErrorEvent(message=ev.message, code=ev.code)]


def _usage(obj: dict, resp: dict) -> list[Event]:
    """The terminal event's usage, plus llama.cpp's ``timings`` (sent beside ``response``)."""
    timings = obj.get("timings")
    if resp.get("usage") or isinstance(timings, dict):
        return [usage_event(resp.get("usage"), timings if isinstance(timings, dict) else None)]
    return []


def body(model: str, messages: list[dict[str, Any]], params: dict[str, Any]) -> dict[str, Any]:
    """A streaming Responses request body: system messages become ``instructions``."""
    params = dict(params)
    schema = structured.take(params)
    if schema is not None:  # structured output is a text format here
        params["text"] = {**section(params, "text"), "format": {"type": "json_object"}
                          if schema.schema is None else {"type": "json_schema", "name": schema.name,
                                                         "schema": schema.schema, "strict": schema.strict}}
    if "max_tokens" in params:  # the Responses API's name for the same limit
        params["max_output_tokens"] = params.pop("max_tokens")
    system = [m["content"] for m in messages if m.get("role") == "system"]
    rest = [m for m in messages if m.get("role") != "system"]
    out: dict[str, Any] = {"model": model, "input": rest, "stream": True}
    if system:
        out["instructions"] = "\n\n".join(str(s) for s in system)
    return {**out, **params}


def detect(name: str, obj: Any) -> bool:
    """A ``response.*`` event (by its type or SSE name), or a whole response object."""
    if obj.__class__ is not dict:
        return False
    kind = obj.get("type")
    return ((isinstance(kind, str) and kind.startswith(_PREFIX)) or name.startswith(_PREFIX)
            or (obj.get("object") == "response" and "output" in obj))


FORMAT = WireFormat(name="responses", description="Responses API", adapter=ResponsesAdapter,
                    path="/responses", body=body, env_headers=OPENAI_HEADERS, detect=detect)

__all__ = ["FORMAT", "ResponsesAdapter", "body", "detect"]
