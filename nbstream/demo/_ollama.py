"""Ollama native wire format: NDJSON lines for ``/api/chat`` and ``/api/generate``.

Each line is ``{"model", "created_at", "message": {...}, "done": false}`` (``response``
instead of ``message`` for generate; reasoning goes in ``thinking``); the last line has
``done: true``, ``done_reason`` and the timing figures in nanoseconds, measured from the
request log when that line is written. Ollama cannot stream a tool call in fragments:
it arrives whole, with ``arguments`` as an object.
"""

from __future__ import annotations

import json
from time import perf_counter_ns
from typing import Any

from ._plan import Plan
from ._requests import Conversation
from ._wire import END, Event, ndjson, rfc3339

__all__ = ["OllamaRenderer"]

_TOKEN_KINDS = ("content", "reasoning", "tool")


class OllamaRenderer:
    """Renders a plan as Ollama NDJSON lines or one JSON object."""

    content_type = "application/x-ndjson"
    sse = False

    def __init__(self, conv: Conversation, plan: Plan, wall_start: float) -> None:
        self.conv = conv
        self.plan = plan
        self.choice = plan.choices[0]
        self.wall_start = wall_start
        self.chat = conv.api == "ollama_chat"

    def _line(self, at: float, *, content: str = "", thinking: str | None = None,
              tool_calls: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        line: dict[str, Any] = {"model": self.conv.model, "created_at": rfc3339(self.wall_start + at)}
        if self.chat:
            message: dict[str, Any] = {"role": "assistant", "content": content}
            if thinking is not None:
                message["thinking"] = thinking
            if tool_calls:
                message["tool_calls"] = tool_calls
            line["message"] = message
        else:
            line["response"] = content
            if thinking is not None:
                line["thinking"] = thinking
        line["done"] = False
        return line

    def _tool_calls(self) -> list[dict[str, Any]]:
        tool = self.choice.tool
        if tool is None:
            return []
        try:
            arguments: Any = json.loads(tool.arguments)
        except ValueError:
            arguments = tool.arguments
        return [{"function": {"name": tool.name, "arguments": arguments}}]

    def _figures(self, log: Any) -> dict[str, Any]:
        now = perf_counter_ns()
        firsts = [t for t, kind, _ in log.writes if kind in _TOKEN_KINDS]
        first = firsts[0] if firsts else min(now, log.t_start_ns + int(self.plan.at(0) * 1e9))
        done_reason = "length" if self.choice.finish_reason == "length" else "stop"
        return {
            "done": True,
            "done_reason": done_reason,
            "total_duration": now - log.t_received_ns,
            "load_duration": log.t_start_ns - log.t_received_ns,
            "prompt_eval_count": self.plan.prompt_tokens,
            "prompt_eval_duration": first - log.t_start_ns,
            "eval_count": self.choice.total,
            "eval_duration": now - first,
        }

    def stream(self) -> list[Event]:
        """Every line of the stream, in write order."""
        plan = self.plan
        events = []
        tool_sent = False
        for step in self.choice.steps(plan.knobs.tokens_per_chunk):
            at = plan.at(step.token)
            if step.kind == "reasoning":
                line = self._line(at, thinking=step.text)
            elif step.kind == "content":
                line = self._line(at, content=step.text)
            else:
                if tool_sent:
                    continue
                tool_sent = True
                line = self._line(at, tool_calls=self._tool_calls())
                step_n = len(self.choice.tool.fragments) if self.choice.tool else step.n
                events.append(Event(at, "tool", step_n, ndjson(line), step.token))
                continue
            events.append(Event(at, step.kind, step.n, ndjson(line), step.token))
        end = plan.at(self.choice.total)

        def final(log: Any) -> bytes:
            return ndjson({**self._line(end), **self._figures(log)})

        events.append(Event(end, "finish", 0, final, END))
        return events

    def body(self, log: Any) -> dict[str, Any]:
        """The ``"stream": false`` answer: the whole text in one object with the figures."""
        choice = self.choice
        line = self._line(self.plan.at(choice.total), content=choice.text,
                          thinking=choice.reasoning_text if choice.reasoning else None,
                          tool_calls=self._tool_calls())
        return {**line, **self._figures(log)}

    def error_event(self, displaced: Event) -> bytes:
        """Ollama's in-band error line."""
        return ndjson({"error": self.plan.failure_message})

    def malformed_event(self, displaced: Event) -> bytes:
        """A line that is not JSON."""
        return b'{"message": oops\n'
