"""Gemini wire format: ``GenerateContentResponse`` chunks of ``streamGenerateContent``.

With ``?alt=sse`` every chunk is one SSE ``data:`` line; without it the same chunks are
streamed as one JSON array (``[``, chunks separated by ``,``, ``]``), as Gemini does.
Text parts carry the answer (``thought: true`` for reasoning), a function call arrives
whole in one ``functionCall`` part, the last chunk of each candidate carries
``finishReason``, and every chunk carries the cumulative ``usageMetadata``. There is no
end marker: the stream ends when the connection closes. ``generateContent`` answers
with one whole object.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from ._plan import ChoicePlan, Plan
from ._requests import Conversation
from ._wire import END, Event, dumps, sse

__all__ = ["FINISH_REASONS", "GeminiRenderer"]

FINISH_REASONS = {"stop": "STOP", "length": "MAX_TOKENS", "tool_calls": "STOP"}


class GeminiRenderer:
    """Renders a plan as Gemini chunks (SSE or a JSON array) or a whole response."""

    def __init__(self, conv: Conversation, plan: Plan, wall_start: float) -> None:
        self.conv = conv
        self.plan = plan
        self.sse = conv.api != "gemini_array"
        self.content_type = "text/event-stream; charset=utf-8" if self.sse else "application/json; charset=utf-8"
        self.id = uuid.uuid4().hex[:22]
        self._sent: dict[int, int] = {}  # candidate index -> output tokens so far

    def _usage(self, output: int, thoughts: int) -> dict[str, Any]:
        usage = {"promptTokenCount": self.plan.prompt_tokens, "candidatesTokenCount": output - thoughts,
                 "totalTokenCount": self.plan.prompt_tokens + output}
        if thoughts:
            usage["thoughtsTokenCount"] = thoughts
        return usage

    def _chunk(self, choice: ChoicePlan, parts: list[dict[str, Any]], finish: str | None = None) -> dict[str, Any]:
        candidate: dict[str, Any] = {"content": {"parts": parts, "role": "model"}, "index": choice.index}
        if finish is not None:
            candidate["finishReason"] = FINISH_REASONS.get(finish, "STOP")
        output = sum(self._sent.values())
        thoughts = sum(len(c.reasoning) for c in self.plan.choices) if finish is not None else 0
        return {"candidates": [candidate], "usageMetadata": self._usage(output, min(thoughts, output)),
                "modelVersion": self.conv.model, "responseId": self.id}

    def _call(self, choice: ChoicePlan) -> dict[str, Any]:
        assert choice.tool is not None
        try:
            args: Any = json.loads(choice.tool.arguments)
        except ValueError:
            args = {}
        return {"functionCall": {"name": choice.tool.name, "args": args}}

    def stream(self) -> list[Event]:
        """Every chunk, in write order; choices interleaved by their deadlines."""
        plan = self.plan
        pending: list[tuple[float, str, int, ChoicePlan, list[dict[str, Any]], str | None, int | None]] = []
        for choice in plan.choices:
            steps = list(choice.steps(plan.knobs.tokens_per_chunk))
            for step in steps:
                if step.kind == "tool":
                    continue  # Gemini sends a function call whole, when its last token is due
                part: dict[str, Any] = {"text": step.text}
                if step.kind == "reasoning":
                    part["thought"] = True
                pending.append((plan.at(step.token), step.kind, step.n, choice, [part], None, step.token))
            tool_steps = [s for s in steps if s.kind == "tool"]
            if tool_steps:
                first = tool_steps[0]
                count = sum(s.n for s in tool_steps)
                pending.append((plan.at(first.token + count - 1), "tool", count, choice, [self._call(choice)], None,
                                first.token))
            pending.append((plan.at(choice.total), "finish", 0, choice, [{"text": ""}], choice.finish_reason, END))
        pending.sort(key=lambda item: item[0])
        events = []
        for i, (at, kind, n, choice, parts, finish, token) in enumerate(pending):
            events.append(Event(at, kind, n, self._encode(choice, parts, finish, n, first=i == 0), token))
        if not self.sse:
            events.append(Event(events[-1].at, "done", 0, b"]", END))
        return events

    def _encode(self, choice: ChoicePlan, parts: list[dict[str, Any]], finish: str | None, n: int, *,
                first: bool) -> Any:
        """The chunk's bytes, made when written so that its usage counts what was sent before it."""

        def render(log: Any) -> bytes:
            self._sent[choice.index] = self._sent.get(choice.index, 0) + n
            obj = self._chunk(choice, parts, finish)
            if self.sse:
                return sse(obj)
            return ("[" if first else ",\r\n").encode() + dumps(obj).encode()

        return render

    def body(self, log: Any) -> dict[str, Any]:
        """The whole ``generateContent`` response."""
        candidates = []
        for choice in self.plan.choices:
            parts: list[dict[str, Any]] = []
            if choice.reasoning:
                parts.append({"text": choice.reasoning_text, "thought": True})
            parts.append(self._call(choice) if choice.tool is not None else {"text": choice.text})
            candidates.append({"content": {"parts": parts, "role": "model"}, "index": choice.index,
                               "finishReason": FINISH_REASONS.get(choice.finish_reason, "STOP")})
        total = self.plan.completion_tokens
        return {"candidates": candidates, "usageMetadata": self._usage(total, self.plan.reasoning_tokens),
                "modelVersion": self.conv.model, "responseId": self.id}

    def error_event(self, displaced: Event) -> bytes:
        """The error object Gemini sends when generation fails mid-stream."""
        error = {"error": {"code": 500, "message": self.plan.failure_message, "status": "INTERNAL"}}
        return sse(error) if self.sse else b",\r\n" + dumps(error).encode() + b"]"

    def malformed_event(self, displaced: Event) -> bytes:
        """A chunk that is not JSON."""
        return b'data: {"candidates": [ oops\n\n' if self.sse else b',\r\n{"candidates": [ oops'
