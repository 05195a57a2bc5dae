"""Chat Completions wire format: ``chat.completion.chunk`` SSE events and ``chat.completion``.

The stream matches OpenAI's: a role-only first chunk per choice (sent at once, before
the first token), content (or reasoning, or tool-call fragment) chunks, a finish chunk
with an empty delta per choice, an optional usage chunk with ``choices: []`` when
``stream_options.include_usage`` is set (then every other chunk has ``"usage": null``),
and ``data: [DONE]``. Choices of ``n > 1`` are interleaved by their deadlines.
"""

from __future__ import annotations

import uuid
from typing import Any

from ._plan import ChoicePlan, Plan
from ._requests import Conversation
from ._wire import END, Event, sse

__all__ = ["FINGERPRINT", "usage_object", "ChatRenderer"]

FINGERPRINT = "fp_nbstream_demo"


def usage_object(plan: Plan) -> dict[str, Any]:
    """Chat Completions ``usage``; completion tokens include reasoning tokens, as OpenAI counts."""
    return {
        "prompt_tokens": plan.prompt_tokens,
        "completion_tokens": plan.completion_tokens,
        "total_tokens": plan.prompt_tokens + plan.completion_tokens,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": plan.reasoning_tokens,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


class ChatRenderer:
    """Renders a plan as a Chat Completions stream or body."""

    content_type = "text/event-stream; charset=utf-8"
    sse = True

    def __init__(self, conv: Conversation, plan: Plan, wall_start: float) -> None:
        self.conv = conv
        self.plan = plan
        self.id = f"chatcmpl-{uuid.uuid4().hex[:29]}"
        self.created = int(wall_start)
        self._head: dict[str, Any] = {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": conv.model,
            "system_fingerprint": FINGERPRINT,
        }

    def _chunk(self, index: int, delta: dict[str, Any], finish: str | None = None) -> bytes:
        obj = {**self._head, "choices": [{"index": index, "delta": delta, "logprobs": None, "finish_reason": finish}]}
        if self.conv.include_usage:
            obj["usage"] = None
        return sse(obj)

    def _choice_events(self, choice: ChoicePlan) -> list[Event]:
        plan = self.plan
        field = plan.knobs.reasoning_field
        events = []
        for step in choice.steps(plan.knobs.tokens_per_chunk):
            at = plan.at(step.token)
            if step.kind == "reasoning":
                delta: dict[str, Any] = {field: step.text}
            elif step.kind == "content":
                delta = {"content": step.text}
            else:
                assert choice.tool is not None
                if step.first_of_kind:
                    header = {"index": 0, "id": choice.tool.call_id, "type": "function",
                              "function": {"name": choice.tool.name, "arguments": ""}}
                    events.append(Event(at, "tool", 0, self._chunk(choice.index, {"tool_calls": [header]}),
                                        step.token))
                delta = {"tool_calls": [{"index": 0, "function": {"arguments": step.text}}]}
            events.append(Event(at, step.kind, step.n, self._chunk(choice.index, delta), step.token))
        events.append(Event(plan.at(choice.total), "finish", 0,
                            self._chunk(choice.index, {}, choice.finish_reason), END))
        return events

    def stream(self) -> list[Event]:
        """Every event of the stream, in write order."""
        events = [Event(0.0, "role", 0, self._chunk(c.index, {"role": "assistant", "content": None if c.tool
                                                                else ""}))
                  for c in self.plan.choices]
        body = [event for choice in self.plan.choices for event in self._choice_events(choice)]
        body.sort(key=lambda event: event.at)  # stable: choices keep their order at equal deadlines
        events += body
        end = max(event.at for event in events)
        if self.conv.include_usage:
            usage = {**self._head, "choices": [], "usage": usage_object(self.plan)}
            events.append(Event(end, "usage", 0, sse(usage), END))
        events.append(Event(end, "done", 0, sse("[DONE]"), END))
        return events

    def error_event(self, displaced: Event) -> bytes:
        """The in-band error OpenAI sends when generation fails mid-stream."""
        return sse({"error": {"message": self.plan.failure_message, "type": "server_error", "param": None,
                              "code": "demo_injected_error"}})

    def malformed_event(self, displaced: Event) -> bytes:
        """An event whose data is not JSON."""
        return b'data: {"choices": [ oops\n\n'

    def body(self, log: Any) -> dict[str, Any]:
        """The non-streaming ``chat.completion`` object."""
        choices = []
        for choice in self.plan.choices:
            message: dict[str, Any] = {"role": "assistant", "content": None if choice.tool else choice.text,
                                       "refusal": None, "annotations": []}
            if choice.reasoning:
                message[self.plan.knobs.reasoning_field] = choice.reasoning_text
            if choice.tool is not None:
                message["tool_calls"] = [{"id": choice.tool.call_id, "type": "function",
                                          "function": {"name": choice.tool.name,
                                                       "arguments": choice.tool.arguments}}]
            choices.append({"index": choice.index, "message": message, "logprobs": None,
                            "finish_reason": choice.finish_reason})
        return {"id": self.id, "object": "chat.completion", "created": self.created, "model": self.conv.model,
                "system_fingerprint": FINGERPRINT, "choices": choices, "usage": usage_object(self.plan),
                "service_tier": "default"}

