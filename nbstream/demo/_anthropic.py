"""Anthropic Messages wire format: typed SSE events of ``POST /v1/messages``.

The stream matches Anthropic's: ``message_start`` (the input usage, ``output_tokens: 1``),
per content block ``content_block_start`` / ``content_block_delta`` /
``content_block_stop`` (a ``thinking`` block with its ``signature_delta`` before the
answer's ``text`` block, or a ``tool_use`` block whose ``input_json_delta`` fragments
carry the arguments), then ``message_delta`` (stop reason — ``stop_sequence`` with the matched string when one
of the request's ``stop_sequences`` cut the answer — and cumulative output tokens)
and ``message_stop``. Anthropic has no ``n``: one answer per request. ``demo-redacted``
adds a ``redacted_thinking`` block after the thinking block.

The signature of a thinking block (and the data of a redacted one) is derived from its
thinking text, so a later request of the conversation can be checked statelessly:
:func:`check_thinking_returned` refuses a turn that lost them, as Anthropic does.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import Any

from ._errors import bad_request
from ._plan import Plan, Step
from ._requests import Conversation, parse_anthropic
from ._scenarios import find_scenario
from ._wire import END, Event, sse

__all__ = ["STOP_REASONS", "AnthropicRenderer", "check_thinking_returned", "parse_messages", "redacted_data",
           "signature"]

STOP_REASONS = {"stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use"}


class AnthropicRenderer:
    """Renders a plan as a Messages stream or a whole ``message`` object."""

    content_type = "text/event-stream; charset=utf-8"
    sse = True

    def __init__(self, conv: Conversation, plan: Plan, wall_start: float) -> None:
        self.conv = conv
        self.plan = plan
        self.choice = plan.choices[0]
        self.id = f"msg_{uuid.uuid4().hex[:24]}"
        self.tool_id = f"toolu_{self.choice.tool.call_id[5:]}" if self.choice.tool else ""

    def _signature(self) -> str:
        return signature(self.choice.reasoning_text)

    @property
    def _redacted(self) -> bool:
        return self.plan.scenario.redacted and bool(self.choice.reasoning)

    def _usage(self, *, start: bool = False) -> dict[str, Any]:
        return {"input_tokens": self.plan.prompt_tokens, "cache_creation_input_tokens": 0,
                "cache_read_input_tokens": 0, "output_tokens": 1 if start else self.choice.total}

    def _blocks(self) -> list[dict[str, Any]]:
        """The answer's content blocks, as the whole message lists them."""
        choice = self.choice
        blocks: list[dict[str, Any]] = []
        if choice.reasoning:
            blocks.append({"type": "thinking", "thinking": choice.reasoning_text, "signature": self._signature()})
        if self._redacted:
            blocks.append({"type": "redacted_thinking", "data": redacted_data(choice.reasoning_text)})
        if choice.tool is not None:
            try:
                given: Any = json.loads(choice.tool.arguments)
            except ValueError:
                given = {}
            blocks.append({"type": "tool_use", "id": self.tool_id, "name": choice.tool.name, "input": given})
        else:
            blocks.append({"type": "text", "text": choice.text})
        return blocks

    def body(self, log: Any) -> dict[str, Any]:
        """The non-streaming ``message`` object."""
        return {"id": self.id, "type": "message", "role": "assistant", "model": self.conv.model,
                "content": self._blocks(), **self._stop(), "usage": self._usage()}

    def _stop(self) -> dict[str, Any]:
        """``stop_reason`` and ``stop_sequence``: ``stop_sequence`` and the matched string when one
        of the request's ``stop_sequences`` cut the answer."""
        matched = self.choice.stop_sequence
        if matched is not None:
            return {"stop_reason": "stop_sequence", "stop_sequence": matched}
        return {"stop_reason": STOP_REASONS.get(self.choice.finish_reason, "end_turn"), "stop_sequence": None}

    def stream(self) -> list[Event]:
        """Every event of the stream, in write order."""
        plan = self.plan
        start: dict[str, Any] = {"id": self.id, "type": "message", "role": "assistant", "model": self.conv.model,
                                 "content": [], "stop_reason": None, "stop_sequence": None,
                                 "usage": self._usage(start=True)}
        events = [Event(0.0, "role", 0, _event("message_start", message=start))]
        block = -1
        open_kind: str | None = None
        for step in self.choice.steps(plan.knobs.tokens_per_chunk):
            at = plan.at(step.token)
            if step.first_of_kind:
                if open_kind is not None:
                    events += self._close(block, open_kind, at)
                    block += 1 if open_kind == "reasoning" and self._redacted else 0
                block += 1
                open_kind = step.kind
                events.append(Event(at, "lifecycle", 0, _event("content_block_start", index=block,
                                                               content_block=self._opened(step))))
            events.append(Event(at, step.kind, step.n, _event("content_block_delta", index=block,
                                                              delta=_delta(step)), step.token))
        end = plan.at(self.choice.total)
        if open_kind is not None:
            events += self._close(block, open_kind, end)
        events.append(Event(end, "finish", 0, _event("message_delta", delta=self._stop(),
                                                     usage={"output_tokens": self.choice.total}), END))
        events.append(Event(end, "done", 0, _event("message_stop"), END))
        return events

    def _opened(self, step: Step) -> dict[str, Any]:
        if step.kind == "reasoning":
            return {"type": "thinking", "thinking": ""}
        if step.kind == "tool":
            assert self.choice.tool is not None
            return {"type": "tool_use", "id": self.tool_id, "name": self.choice.tool.name, "input": {}}
        return {"type": "text", "text": ""}

    def _close(self, block: int, kind: str, at: float) -> list[Event]:
        out = []
        if kind == "reasoning":
            out.append(Event(at, "lifecycle", 0, _event("content_block_delta", index=block, delta={
                "type": "signature_delta", "signature": self._signature()})))
        out.append(Event(at, "lifecycle", 0, _event("content_block_stop", index=block)))
        if kind == "reasoning" and self._redacted:
            block += 1
            whole = {"type": "redacted_thinking", "data": redacted_data(self.choice.reasoning_text)}
            out.append(Event(at, "lifecycle", 0, _event("content_block_start", index=block, content_block=whole)))
            out.append(Event(at, "lifecycle", 0, _event("content_block_stop", index=block)))
        return out

    def error_event(self, displaced: Event) -> bytes:
        """The ``error`` event Anthropic sends when generation fails mid-stream."""
        return _event("error", error={"type": "api_error", "message": self.plan.failure_message})

    def malformed_event(self, displaced: Event) -> bytes:
        """An event whose data is not JSON."""
        return b'event: content_block_delta\ndata: {"type": "content_block_delta", oops\n\n'


def _delta(step: Step) -> dict[str, Any]:
    if step.kind == "reasoning":
        return {"type": "thinking_delta", "thinking": step.text}
    if step.kind == "tool":
        return {"type": "input_json_delta", "partial_json": step.text}
    return {"type": "text_delta", "text": step.text}


def _event(kind: str, **fields: Any) -> bytes:
    """One typed SSE event: ``event:`` names it and the data repeats it as ``type``."""
    return sse({"type": kind, **fields}, kind)


def signature(thinking: str) -> str:
    """A stand-in for a thinking block's signature (opaque bytes in the real API)."""
    return hashlib.sha256(thinking.encode()).hexdigest()


def redacted_data(thinking: str) -> str:
    """A stand-in for a redacted_thinking block's encrypted data."""
    return "redacted:" + hashlib.sha256(b"redacted\0" + thinking.encode()).hexdigest()


def check_thinking_returned(messages: list[dict[str, Any]], *, redacted: bool) -> str | None:
    """Why an earlier assistant turn of a thinking model is refused, or None: each must send
    back its thinking block with the signature the demo gave it (and, with ``redacted``,
    its redacted_thinking block), as Anthropic requires thinking blocks to come back whole."""
    for i, message in enumerate(messages):
        if message.get("role") != "assistant":
            continue
        content = message.get("content")
        blocks = [b for b in content if isinstance(b, dict)] if isinstance(content, list) else []
        thinking = [b for b in blocks if b.get("type") == "thinking"]
        if not thinking:
            return (f"messages.{i}.content: this assistant turn had a thinking block; send it back with its "
                    "signature, as the content blocks the stream gave (thinking, then text)")
        for j, block in enumerate(thinking):
            text, sig = block.get("thinking"), block.get("signature")
            if not isinstance(text, str) or not isinstance(sig, str) or sig != signature(text):
                return f"messages.{i}.content.{j}: Invalid `signature` in `thinking` block"
        if redacted and not any(b.get("type") == "redacted_thinking" and isinstance(b.get("data"), str)
                                and b["data"] == redacted_data(str(thinking[0].get("thinking")))
                                for b in blocks):
            return (f"messages.{i}.content: this assistant turn had a redacted_thinking block; send it back "
                    "unchanged")
    return None


def parse_messages(body: dict[str, Any]) -> Conversation:
    """A ``POST /v1/messages`` body, read; for a thinking model, refused (400) when an earlier
    assistant turn lost its thinking block or signature (:func:`check_thinking_returned`)."""
    conv = parse_anthropic(body)
    scenario = find_scenario(conv.model)
    if scenario.reasoning:
        why = check_thinking_returned(body["messages"], redacted=scenario.redacted)
        if why is not None:
            raise bad_request(why, "messages")
    return conv
