"""OpenAI Agents SDK stream events (``Runner.run_streamed(...).stream_events()``) -> events.

Duck-typed on ``event.type`` so the SDK stays an optional dependency (nothing here
imports it). Raw model events are Responses API events (the SDK converts Chat
Completions models to them) and go through the Responses adapter, except that a
turn's ``response.completed`` never ends the run: an agent run chains one model
response per turn, and the Agents stream's own end is the end. Run items (tool calls,
tool outputs, handoffs, messages, reasoning) and agent switches become ``Step`` events.
"""

from __future__ import annotations

from typing import Any

from nbstream.events import Event, Other, Step
from nbstream.wire.payload import dumps
from nbstream.wire.responses import ResponsesAdapter

__all__ = ["AgentsAdapter"]

_DETAIL_LIMIT = 500

#: The SDK's run-item event names -> Step kinds (names not listed are kept as they are).
_KINDS = {
    "message_output_created": "message_output",
    "handoff_occured": "handoff",  # sic: the SDK's spelling
    "handoff_occurred": "handoff",
    "reasoning_item_created": "reasoning",
}


def _field(obj: Any, key: str) -> Any:
    """``obj[key]`` for dicts, ``obj.key`` otherwise (raw items come as either)."""
    if isinstance(obj, dict):
        return obj.get(key)
    return getattr(obj, key, None)


def _name(agent: Any) -> str | None:
    name = getattr(agent, "name", None)
    return name if isinstance(name, str) else None


def _as_text(value: Any) -> str | None:
    """A tool output or argument object as text: strings as they are, the rest as JSON."""
    if value is None or isinstance(value, str):
        return value
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        value = dump()
    return dumps(value)


def _cut(text: str | None) -> str | None:
    """At most 500 characters; a cut text ends with an ellipsis so the cut is visible."""
    if text is None or len(text) <= _DETAIL_LIMIT:
        return text
    return text[: _DETAIL_LIMIT - 1] + "…"


def _parts_text(parts: Any, *keys: str) -> str | None:
    """The joined text of content/summary parts (``.text``, or ``.refusal`` if asked)."""
    texts = []
    for part in parts or ():
        for key in keys:
            value = _field(part, key)
            if isinstance(value, str) and value:
                texts.append(value)
                break
    return "".join(texts) if texts else None


class AgentsAdapter:
    """One agent run's adapter: ``feed_object`` takes the SDK's ``StreamEvent`` objects."""

    def __init__(self) -> None:
        self._responses = ResponsesAdapter(end_on_terminal=False)
        self._tool_names: dict[str, str] = {}  # call_id -> tool name, for tool outputs

    def feed(self, name: str, data: Any, id: str | None = None) -> list[Event]:
        """A raw Responses event (JSON text or dict) of an agent run -> events (no ``Done``)."""
        return self._responses.feed(name, data, id)

    def feed_object(self, event: Any) -> list[Event]:
        """One Agents SDK stream event -> events."""
        kind = getattr(event, "type", None)
        if kind == "raw_response_event":
            data = event.data
            dump = getattr(data, "model_dump", None)
            payload = dump() if callable(dump) else data
            return self._responses.feed(_field(data, "type") or "", payload)
        if kind == "run_item_stream_event":
            return [self._step(getattr(event, "name", None) or "run_item", getattr(event, "item", None))]
        if kind == "agent_updated_stream_event":
            return [Step("agent_updated", name=_name(getattr(event, "new_agent", None)))]
        return [Other(type=kind if isinstance(kind, str) else type(event).__name__, data=event)]

    def _step(self, sdk_name: str, item: Any) -> Step:
        kind = _KINDS.get(sdk_name, sdk_name)
        raw = getattr(item, "raw_item", None)
        if kind == "tool_called":
            name = getattr(item, "tool_name", None) or _field(raw, "name") or _field(raw, "type")
            call_id = _field(raw, "call_id") or _field(raw, "id")
            if call_id and name:
                self._tool_names[call_id] = name
            detail = _as_text(_field(raw, "arguments"))
            if detail is None:
                detail = _as_text(_field(raw, "action") or _field(raw, "input"))
            return Step(kind, name, _cut(detail))
        if kind == "tool_output":
            call_id = _field(raw, "call_id") or _field(raw, "id")
            output = getattr(item, "output", None)
            if output is None:
                output = _field(raw, "output")
            return Step(kind, self._tool_names.get(call_id), _cut(_as_text(output)))
        if kind == "handoff_requested":
            return Step(kind, _field(raw, "name"), _cut(_as_text(_field(raw, "arguments"))))
        if kind == "handoff":
            source = _name(getattr(item, "source_agent", None))
            return Step(kind, source, _cut(_name(getattr(item, "target_agent", None))))
        agent = _name(getattr(item, "agent", None))
        if kind == "message_output":
            return Step(kind, agent, _cut(_parts_text(_field(raw, "content"), "text", "refusal")))
        if kind == "reasoning":
            text = _parts_text(_field(raw, "summary"), "text") or _parts_text(_field(raw, "content"), "text")
            return Step(kind, agent, _cut(text))
        name = _field(raw, "name") or getattr(item, "tool_name", None) or agent
        return Step(kind, name if isinstance(name, str) else None, _cut(_as_text(_field(raw, "arguments"))))
