"""Responses API wire format: typed SSE events with ``sequence_number``s, and the response object.

Order, as OpenAI sends it: ``response.created``, ``response.in_progress`` (at once), then
per output item ``response.output_item.added``, ``response.content_part.added``, the
deltas (``response.reasoning_text.delta``, ``response.output_text.delta`` or
``response.function_call_arguments.delta``), their ``.done``, ``response.content_part.done``,
``response.output_item.done``; finally ``response.completed`` (or ``response.incomplete``
when ``max_output_tokens`` cut the answer) with the full response and its usage.
Only the first choice is used: the Responses API has no ``n``.
"""

from __future__ import annotations

import copy
import uuid
from typing import Any

from ._plan import ChoicePlan, Plan, Step
from ._requests import Conversation
from ._wire import END, Event, sse

__all__ = ["ResponsesRenderer"]


def _new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex}"


class ResponsesRenderer:
    """Renders a plan as a Responses API stream or response object."""

    content_type = "text/event-stream; charset=utf-8"
    sse = True

    def __init__(self, conv: Conversation, plan: Plan, wall_start: float) -> None:
        self.conv = conv
        self.plan = plan
        self.choice: ChoicePlan = plan.choices[0]
        self.id = _new_id("resp")
        self.created_at = int(wall_start)
        self.reasoning_id = _new_id("rs")
        self.message_id = _new_id("msg")
        self.call_id = _new_id("fc")

    # -- the response object -------------------------------------------------------------

    def _usage(self) -> dict[str, Any]:
        plan = self.plan
        output = self.choice.total
        return {
            "input_tokens": plan.prompt_tokens,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": output,
            "output_tokens_details": {"reasoning_tokens": len(self.choice.reasoning)},
            "total_tokens": plan.prompt_tokens + output,
        }

    def _response(self, status: str, output: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
        response = {
            "id": self.id, "object": "response", "created_at": self.created_at, "status": status,
            "background": False, "error": None, "incomplete_details": None, "instructions": self.conv.instructions,
            "max_output_tokens": self.conv.max_tokens, "model": self.conv.model, "output": output,
            "parallel_tool_calls": True, "previous_response_id": None, "reasoning": {"effort": None, "summary": None},
            "store": False, "temperature": 1.0, "text": {"format": {"type": "text"}}, "tool_choice": "auto",
            "tools": [], "top_p": 1.0, "truncation": "disabled", "usage": None, "user": None, "metadata": {},
        }
        response.update(extra)
        return response

    @property
    def _incomplete(self) -> bool:
        return self.choice.finish_reason == "length"

    def _items(self) -> list[dict[str, Any]]:
        """The finished output items (reasoning, then message or function call)."""
        choice = self.choice
        items = []
        if choice.reasoning:
            items.append({"id": self.reasoning_id, "type": "reasoning", "summary": [],
                          "content": [{"type": "reasoning_text", "text": choice.reasoning_text}],
                          "status": "completed"})
        if choice.tool is not None:
            items.append({"id": self.call_id, "type": "function_call", "status": "completed",
                          "arguments": choice.tool.arguments, "call_id": choice.tool.call_id,
                          "name": choice.tool.name})
        elif choice.content or not (self._incomplete and choice.reasoning):
            status = "incomplete" if self._incomplete else "completed"
            items.append({"id": self.message_id, "type": "message", "status": status, "role": "assistant",
                          "content": [_text_part(choice.text)]})
        return items

    def _final(self) -> dict[str, Any]:
        if self._incomplete:
            return self._response("incomplete", self._items(), usage=self._usage(),
                                  incomplete_details={"reason": "max_output_tokens"})
        return self._response("completed", self._items(), usage=self._usage())

    def body(self, log: Any) -> dict[str, Any]:
        """The non-streaming response object."""
        return self._final()

    # -- the stream ----------------------------------------------------------------------

    def stream(self) -> list[Event]:
        """Every event of the stream, in write order, numbered by ``sequence_number``."""
        plan = self.plan
        pending: list[tuple[float, str, int, str, dict[str, Any], int | None]] = [
            (0.0, "lifecycle", 0, "response.created", {"response": self._response("in_progress", [])}, None),
            (0.0, "lifecycle", 0, "response.in_progress", {"response": self._response("in_progress", [])}, None),
        ]
        items = self._items()
        steps = list(self.choice.steps(plan.knobs.tokens_per_chunk))
        for index, item in enumerate(items):
            kind = {"reasoning": "reasoning", "message": "content", "function_call": "tool"}[item["type"]]
            own = [step for step in steps if step.kind == kind]
            start = plan.at(own[0].token) if own else plan.at(self.choice.total)
            end = plan.at(own[-1].token + own[-1].n) if own else start
            pending += self._item_events(index, item, own, start, end)
        final = self._final()
        pending.append((plan.at(self.choice.total), "finish", 0, f"response.{final['status']}",
                        {"response": final}, END))
        events = []
        for seq, (at, kind, n, name, fields, token) in enumerate(pending):
            payload = {"type": name, "sequence_number": seq, **fields}
            events.append(Event(at, kind, n, sse(payload, name), token, seq))
        return events

    def _item_events(self, index: int, item: dict[str, Any], steps: list[Step], start: float,
                     end: float) -> list[tuple[float, str, int, str, dict[str, Any], int | None]]:
        plan = self.plan
        where = {"item_id": item["id"], "output_index": index}
        opened = copy.deepcopy(item)
        opened["status"] = "in_progress"
        close_token = END if index == len(self._items()) - 1 else None
        out: list[tuple[float, str, int, str, dict[str, Any], int | None]] = []
        if item["type"] == "function_call":
            opened["arguments"] = ""
            out.append((start, "lifecycle", 0, "response.output_item.added", {"output_index": index,
                                                                                "item": opened}, None))
            for step in steps:
                out.append((plan.at(step.token), "tool", step.n, "response.function_call_arguments.delta",
                            {**where, "delta": step.text}, step.token))
            out.append((end, "lifecycle", 0, "response.function_call_arguments.done",
                        {**where, "name": item["name"], "arguments": item["arguments"]}, close_token))
        else:
            reasoning = item["type"] == "reasoning"
            part = item["content"][0]
            empty_part = {**part, "text": ""}
            opened["content"] = []
            prefix = "response.reasoning_text" if reasoning else "response.output_text"
            kind = "reasoning" if reasoning else "content"
            extra: dict[str, Any] = {} if reasoning else {"logprobs": []}
            part_where = {**where, "content_index": 0}
            out.append((start, "lifecycle", 0, "response.output_item.added", {"output_index": index,
                                                                                "item": opened}, None))
            out.append((start, "lifecycle", 0, "response.content_part.added", {**part_where, "part": empty_part},
                        None))
            for step in steps:
                out.append((plan.at(step.token), kind, step.n, f"{prefix}.delta",
                            {**part_where, "delta": step.text, **extra}, step.token))
            out.append((end, "lifecycle", 0, f"{prefix}.done", {**part_where, "text": part["text"], **extra},
                        close_token))
            out.append((end, "lifecycle", 0, "response.content_part.done", {**part_where, "part": part}, None))
        out.append((end, "lifecycle", 0, "response.output_item.done", {"output_index": index, "item": item}, None))
        return out

    def error_event(self, displaced: Event) -> bytes:
        """``response.failed`` carrying the error, numbered as the event it replaces."""
        error = {"code": "server_error", "message": self.plan.failure_message}
        payload = {"type": "response.failed", "sequence_number": displaced.seq,
                   "response": self._response("failed", [], error=error)}
        return sse(payload, "response.failed")

    def malformed_event(self, displaced: Event) -> bytes:
        """An event whose data is not JSON."""
        return b'event: response.output_text.delta\ndata: {"type": "response.output_text.delta", oops\n\n'


def _text_part(text: str) -> dict[str, Any]:
    return {"type": "output_text", "annotations": [], "logprobs": [], "text": text}
