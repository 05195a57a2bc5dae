"""What a request will stream, and when: the plan every wire format renders.

A plan holds, per choice, the reasoning tokens, the answer tokens or the tool call,
and the finish reason (after ``stop`` strings and the token limit are applied), plus
one timetable shared by all choices: ``deadlines[i]`` is when token ``i`` is due, in
seconds after the request body was read, and ``deadlines[total]`` when the finish is.

Deadlines are absolute offsets (``ttft + (i + jitter * (u - 0.5)) / tps``, shifted by
``stall`` from token ``after`` on), never a sum of sleeps, so a late write does not make
every later one late. ``u`` comes from ``random.Random`` seeded with a stable hash of
the request body: the same request gets the same timetable. With ``jitter <= 1`` the
deadlines never go backwards.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from ._answers import (
    default_answer,
    fenced_answer,
    long_answer,
    reasoning_text,
    tool_result_answer,
    xss_answer,
)
from ._requests import Conversation, ToolSpec
from ._scenarios import Knobs, Scenario
from ._tokens import count_tokens, stable_hash, tokenize

__all__ = ["Step", "ToolCall", "ChoicePlan", "Plan", "sample_arguments", "build_plan"]


@dataclass(frozen=True)
class Step:
    """One streamed event's worth of one choice: kind, text, token count, first token index."""

    kind: str  # reasoning | content | tool
    text: str
    n: int
    token: int
    first_of_kind: bool


@dataclass
class ToolCall:
    """The tool call a choice makes; ``fragments`` are the argument tokens actually sent."""

    call_id: str
    name: str
    fragments: list[str]

    @property
    def arguments(self) -> str:
        return "".join(self.fragments)


@dataclass
class ChoicePlan:
    """One choice: reasoning tokens, answer tokens or a tool call, and why it ends."""

    index: int
    reasoning: list[str] = field(default_factory=list)
    content: list[str] = field(default_factory=list)
    tool: ToolCall | None = None
    finish_reason: str = "stop"
    stop_sequence: str | None = None  # the request's stop string that cut the answer (finish "stop")

    @property
    def reasoning_text(self) -> str:
        return "".join(self.reasoning)

    @property
    def text(self) -> str:
        return "".join(self.content)

    @property
    def total(self) -> int:
        """Tokens this choice generates: reasoning, answer and tool-argument tokens."""
        return len(self.reasoning) + len(self.content) + (len(self.tool.fragments) if self.tool else 0)

    def steps(self, per_chunk: int) -> Iterator[Step]:
        """The choice's tokens grouped ``per_chunk`` at a time, never mixing kinds in one step."""
        token = 0
        segments = [("reasoning", self.reasoning), ("content", self.content)]
        if self.tool is not None:
            segments.append(("tool", self.tool.fragments))
        for kind, tokens in segments:
            for start in range(0, len(tokens), per_chunk):
                group = tokens[start:start + per_chunk]
                yield Step(kind, "".join(group), len(group), token, start == 0)
                token += len(group)


@dataclass
class Plan:
    """Everything a renderer needs: choices, usage figures, the timetable and the knobs."""

    choices: list[ChoicePlan]
    prompt_tokens: int
    deadlines: list[float]
    knobs: Knobs
    scenario: Scenario
    fault_token: int

    @property
    def completion_tokens(self) -> int:
        return sum(choice.total for choice in self.choices)

    @property
    def reasoning_tokens(self) -> int:
        return sum(len(choice.reasoning) for choice in self.choices)

    @property
    def failure_message(self) -> str:
        """The message of an injected in-band error."""
        return (f"The demo model failed on purpose after {self.fault_token} tokens "
                f"(scenario {self.scenario.model!r}; the \"after\" knob moves it).")

    def at(self, token: int) -> float:
        """Seconds after the request start at which token ``token`` (or the finish) is due."""
        return self.deadlines[min(token, len(self.deadlines) - 1)]


def _cut_at_stop(text: str, stops: list[str]) -> tuple[str, str | None]:
    """``text`` up to the first of ``stops`` it contains, and that stop string (None: no cut)."""
    cuts = [(text.find(stop), stop) for stop in stops if stop in text]
    if not cuts:
        return text, None
    at, stop = min(cuts, key=lambda cut: cut[0])
    return text[:at], stop


def _answer(conv: Conversation, scenario: Scenario, knobs: Knobs, variant: int) -> str:
    prompt = conv.last_user
    if knobs.text is not None:
        return knobs.text
    if conv.schema is not None:
        return schema_answer(conv.schema)
    if scenario.answer == "long":
        return long_answer(prompt, variant)
    if scenario.answer == "xss":
        return xss_answer(prompt)
    if scenario.answer == "fenced":
        return fenced_answer(prompt)
    if conv.tool_result is not None:
        return tool_result_answer(prompt, conv.tool_result.name, conv.tool_result.content)
    return default_answer(prompt, variant)


def sample_arguments(parameters: dict[str, Any]) -> dict[str, Any]:
    """Plausible arguments for a JSON-schema ``parameters`` object: one value per property."""
    properties = parameters.get("properties")
    if not isinstance(properties, dict):
        return {}
    return {name: _sample(name, schema if isinstance(schema, dict) else {}) for name, schema in properties.items()}


def schema_answer(schema: dict[str, Any]) -> str:
    """A JSON answer that follows ``schema`` (its ``$ref``s into ``$defs`` resolved; a
    recursive or huge schema is cut at 32 levels and 10,000 nodes)."""
    return json.dumps(_sample("answer", _inline(schema, schema, 0, [10_000])), ensure_ascii=False)


def _inline(node: Any, root: dict[str, Any], depth: int, budget: list[int]) -> Any:
    budget[0] -= 1
    if depth > 32 or budget[0] < 0:
        return {}
    if isinstance(node, list):
        return [_inline(item, root, depth + 1, budget) for item in node]
    if not isinstance(node, dict):
        return node
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith(("#/$defs/", "#/definitions/")):
        section, _, name = ref[2:].partition("/")
        target = root.get(section, {}).get(name) if isinstance(root.get(section), dict) else None
        return _inline(target, root, depth + 1, budget) if isinstance(target, dict) else {}
    return {key: _inline(value, root, depth + 1, budget) for key, value in node.items()
            if key not in ("$defs", "definitions")}  # read through $ref, not answered


_STRING_HINTS = (("city", "Paris"), ("location", "Paris"), ("unit", "celsius"), ("date", "2024-06-01"),
                 ("email", "ada@example.com"), ("url", "https://example.com"), ("lang", "en"))


def _sample(name: str, schema: dict[str, Any]) -> Any:
    for key in ("const", "default"):
        if key in schema:
            return schema[key]
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return schema["enum"][0]
    for key in ("anyOf", "oneOf", "allOf"):
        options = [o for o in schema.get(key) or [] if isinstance(o, dict) and o.get("type") != "null"]
        if options:
            return _sample(name, options[0])
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind is None:
        kind = "object" if "properties" in schema else "string"
    if kind == "integer":
        return max(3, int(_minimum(schema, 3)))
    if kind == "number":
        return max(1.5, float(_minimum(schema, 1.5)))
    if kind == "boolean":
        return True
    if kind == "null":
        return None
    if kind == "array":
        items = schema.get("items")
        return [_sample(name, items)] if isinstance(items, dict) else []
    if kind == "object":
        return sample_arguments(schema)
    lowered = name.lower()
    return next((value for hint, value in _STRING_HINTS if hint in lowered), "demo")


_HUGE = 1e15


def _minimum(schema: dict[str, Any], default: float) -> float:
    """The schema's ``minimum`` when it is a plain number (a client's schema may say
    anything there: text, NaN, 1e400, 10**400), else ``default``."""
    low = schema.get("minimum")
    if isinstance(low, int | float) and not isinstance(low, bool) and -_HUGE <= low <= _HUGE:
        return low
    return default


def _tool_call(conv: Conversation, variant: int) -> ToolCall:
    tool = conv.tools[0] if conv.tools else ToolSpec("get_weather", {"properties": {"city": {"type": "string"}}})
    arguments = json.dumps(sample_arguments(tool.parameters), ensure_ascii=False)
    call_id = f"call_{stable_hash(f'{conv.fingerprint}#{variant}'):016x}"
    return ToolCall(call_id, tool.name, tokenize(arguments))


def _choice(conv: Conversation, scenario: Scenario, knobs: Knobs, index: int) -> ChoicePlan:
    choice = ChoicePlan(index)
    if scenario.reasoning:
        choice.reasoning = tokenize(reasoning_text(conv.last_user))
    if scenario.tools and conv.can_call_tools and conv.tool_result is None and knobs.text is None:
        choice.tool = _tool_call(conv, index)
        choice.finish_reason = "tool_calls"
    else:
        text, choice.stop_sequence = _cut_at_stop(_answer(conv, scenario, knobs, index), conv.stop)
        choice.content = tokenize(text)
    limit = conv.max_tokens
    if limit is not None and choice.total > limit:
        choice.finish_reason = "length"
        choice.stop_sequence = None
        choice.reasoning = choice.reasoning[:limit]
        left = limit - len(choice.reasoning)
        choice.content = choice.content[:left]
        if choice.tool is not None:
            choice.tool.fragments = choice.tool.fragments[:left]
    return choice


def _deadlines(knobs: Knobs, count: int, seed: int, stall_from: int) -> list[float]:
    rng = random.Random(seed)
    gap = 1.0 / knobs.tps
    times = [knobs.ttft]
    for i in range(1, count + 1):
        times.append(knobs.ttft + (i + knobs.jitter * (rng.random() - 0.5)) * gap)
    if knobs.stall > 0:
        times = [t + knobs.stall if i >= stall_from else t for i, t in enumerate(times)]
    return times


def build_plan(conv: Conversation, scenario: Scenario, knobs: Knobs) -> Plan:
    """Decide every token of the answer and when it is due."""
    choices = [_choice(conv, scenario, knobs, i) for i in range(conv.n)]
    longest = max(choice.total for choice in choices)
    fault_token = min(knobs.after, longest)
    deadlines = _deadlines(knobs, longest, stable_hash(conv.fingerprint), fault_token)
    prompt_tokens = sum(count_tokens(text) for text in conv.texts)
    return Plan(choices, prompt_tokens, deadlines, knobs, scenario, fault_token)
