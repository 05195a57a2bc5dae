"""The normalized event model: what every stream becomes, whatever its wire format.

Adapters (``nbstream.wire.adapters``) turn Chat Completions chunks, Responses API events,
Ollama NDJSON lines, SDK objects and generic SSE messages into these few frozen
dataclasses; the Run, the recorder and every view read only these. One wire message
may yield several events (a chat chunk can carry text, a finish reason and usage at
once) or none (a role-only chunk yields a ``Meta``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class TextDelta:
    """A fragment of the answer text."""

    text: str
    choice: int = 0


@dataclass(frozen=True, slots=True)
class ReasoningDelta:
    """A fragment of the model's reasoning; ``summary`` for Responses reasoning summaries."""

    text: str
    choice: int = 0
    summary: bool = False


@dataclass(frozen=True, slots=True)
class ToolCallDelta:
    """A fragment of a tool call. ``index`` keys fragments of one call together;
    ``id`` and ``name`` arrive on the first fragment, ``arguments`` is a JSON fragment."""

    index: int
    id: str | None = None
    name: str | None = None
    arguments: str = ""
    choice: int = 0


@dataclass(frozen=True, slots=True)
class RefusalDelta:
    """A fragment of a refusal message."""

    text: str
    choice: int = 0


@dataclass(frozen=True, slots=True)
class Usage:
    """Token counts reported by the server (exact), plus server-side timing figures.

    ``server`` holds what a server measured itself, with its own names: Ollama's
    ``eval_count``/``eval_duration``…, llama.cpp's ``timings`` (``predicted_n``…).
    """

    input_tokens: int | None = None
    output_tokens: int | None = None
    total_tokens: int | None = None
    reasoning_tokens: int | None = None
    cached_tokens: int | None = None
    server: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Finish:
    """Why generation stopped, in OpenAI's words where the provider has its own
    (``stop``, ``length``, ``tool_calls``, ``content_filter``; Ollama's ``done_reason``, a
    Responses terminal status or incomplete reason as sent). ``raw`` is the provider's
    own word when it was translated (Anthropic's ``end_turn``, Gemini's ``MAX_TOKENS``);
    ``stop_sequence`` the stop string that ended the answer, when the provider says which
    (Anthropic's ``stop_sequence``)."""

    reason: str
    choice: int = 0
    raw: str | None = None
    stop_sequence: str | None = None


@dataclass(frozen=True, slots=True)
class ErrorEvent:
    """An error reported inside the stream. ``fatal=False`` marks a recoverable problem
    (a chunk that is not valid JSON: ``raw`` holds its first 200 characters)."""

    message: str
    code: str | None = None
    type: str | None = None
    fatal: bool = True
    raw: str | None = None


@dataclass(frozen=True, slots=True)
class Meta:
    """Lifecycle and identity: response id, model, creation time, role, and which
    lifecycle step this is (``role``, ``created``, ``in_progress``, ``output_item.added``…)."""

    stage: str
    id: str | None = None
    model: str | None = None
    created: int | None = None
    role: str | None = None


@dataclass(frozen=True, slots=True)
class Done:
    """The protocol's own end marker: ``[DONE]``, a Responses terminal event, Ollama
    ``done: true``. ``status`` is ``completed``, ``incomplete`` or ``failed``."""

    status: str = "completed"


@dataclass(frozen=True, slots=True)
class Step:
    """An agent-level happening (OpenAI Agents SDK): ``kind`` is one of ``tool_called``,
    ``tool_output``, ``handoff_requested``, ``handoff``, ``message_output``,
    ``reasoning``, ``agent_updated``, or the SDK's own name for anything newer."""

    kind: str
    name: str | None = None
    detail: str | None = None


@dataclass(frozen=True, slots=True)
class Other:
    """Anything not understood, kept raw, never dropped: a generic SSE message or an
    unknown payload type. ``data`` is the payload as received (text or decoded JSON)."""

    type: str
    data: Any = None
    id: str | None = None


Event = (
    TextDelta
    | ReasoningDelta
    | ToolCallDelta
    | RefusalDelta
    | Usage
    | Finish
    | ErrorEvent
    | Meta
    | Done
    | Step
    | Other
)

__all__ = [
    "Event",
    "TextDelta",
    "ReasoningDelta",
    "ToolCallDelta",
    "RefusalDelta",
    "Usage",
    "Finish",
    "ErrorEvent",
    "Meta",
    "Done",
    "Step",
    "Other",
]
