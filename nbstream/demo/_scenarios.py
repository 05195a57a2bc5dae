"""Demo models (scenarios) and the timing knobs, with their precedence.

A model name selects a scenario: ``demo`` streams the default answer, ``demo-<name>``
a variation (faster, slower, reasoning, tool calls, injected faults...). Knob values
come from, lowest to highest: the built-in defaults, the server's ``serve(**defaults)``,
the scenario's preset, and the request body's ``"demo": {...}`` object.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ._errors import DemoError

__all__ = ["Knobs", "KNOB_HELP", "check_knobs", "Scenario", "SCENARIOS", "find_scenario", "resolve_knobs"]


@dataclass(frozen=True)
class Knobs:
    """Resolved knob values for one request (see ``KNOB_HELP`` for each one's meaning)."""

    ttft: float = 0.25
    tps: float = 60.0
    jitter: float = 0.1
    tokens_per_chunk: int = 1
    after: int = 20
    stall: float = 0.0
    keepalive: float = 0.0
    retry_after: float = 2.0
    reasoning_field: str = "reasoning_content"
    text: str | None = None


KNOB_HELP: dict[str, str] = {
    "ttft": "seconds from the request to the first token (number 0..3600)",
    "tps": "tokens per second after the first (number 0.01..1e6)",
    "jitter": "random share of each gap, seeded by the request (number 0..1)",
    "tokens_per_chunk": "tokens carried by each streamed event (integer 1..1e6)",
    "after": "tokens streamed before a fault or a stall (integer 0..1e9)",
    "stall": "seconds of silence after `after` tokens (number 0..3600)",
    "keepalive": "seconds between SSE ': keep-alive' comments while silent; 0 = none (number 0..3600)",
    "retry_after": "seconds sent in Retry-After by demo-429 (number 0..3600)",
    "reasoning_field": "chat delta field for reasoning: 'reasoning_content' or 'reasoning'",
    "text": "answer text to stream instead of the generated one (string or null)",
}


def _number(low: float, *, strict: bool = False, high: float = math.inf) -> Callable[[Any], float]:
    def check(value: Any) -> float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
        if not ok or value < low or (strict and value == low) or value > high:
            bound = f"> {low:g}" if strict else f">= {low:g}"
            if high != math.inf:
                bound = f"between {low:g} and {high:g}"
            raise ValueError(f"a number {bound}")
        return float(value)

    return check


def _integer(low: int, high: int) -> Callable[[Any], int]:
    def check(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise ValueError(f"an integer between {low} and {high}")
        return value

    return check


def _reasoning_field(value: Any) -> str:
    if value not in ("reasoning_content", "reasoning"):
        raise ValueError("'reasoning_content' or 'reasoning'")
    return value


def _text(value: Any) -> str | None:
    if value is not None and not isinstance(value, str):
        raise ValueError("a string or null")
    return value


# Upper bounds keep every timetable finite: a demo answer never waits longer than an hour.
_HOUR = 3600.0
_CHECKS: dict[str, Callable[[Any], Any]] = {
    "ttft": _number(0, high=_HOUR),
    "tps": _number(0.01, high=1e6),
    "jitter": _number(0, high=1),
    "tokens_per_chunk": _integer(1, 1_000_000),
    "after": _integer(0, 1_000_000_000),
    "stall": _number(0, high=_HOUR),
    "keepalive": _number(0, high=_HOUR),
    "retry_after": _number(0, high=_HOUR),
    "reasoning_field": _reasoning_field,
    "text": _text,
}


def check_knobs(values: Mapping[str, Any], where: str) -> dict[str, Any]:
    """Validate knob values; raises ``ValueError`` naming the knob and what it must be."""
    checked: dict[str, Any] = {}
    for name, value in values.items():
        if name not in _CHECKS:
            known = ", ".join(_CHECKS)
            raise ValueError(f"unknown demo knob {name!r} in {where}; known knobs: {known}")
        try:
            checked[name] = _CHECKS[name](value)
        except ValueError as exc:
            raise ValueError(f"demo knob {name!r} in {where} must be {exc}, got {value!r}") from None
    return checked


@dataclass(frozen=True)
class Scenario:
    """One demo model: its name, what it does, its knob preset and its behaviour."""

    model: str
    description: str
    preset: Mapping[str, Any] = field(default_factory=dict)
    answer: str = "default"  # default | long | xss | fenced
    reasoning: bool = False
    redacted: bool = False  # Anthropic: a redacted_thinking block after the thinking block
    tools: bool = False
    fault: str | None = None  # disconnect | error | malformed
    http_status: int | None = None
    reject_stream_options: bool = False

    @property
    def name(self) -> str:
        """The short scenario name: ``default`` for ``demo``, else the part after ``demo-``."""
        return "default" if self.model == "demo" else self.model.removeprefix("demo-")


_ALL = (
    Scenario("demo", "The default: a Markdown answer of about 180 tokens, 0.25 s to first token, 60 tok/s."),
    Scenario("demo-fast", "Same answer, fast: 0.05 s to first token, 400 tok/s.", {"ttft": 0.05, "tps": 400}),
    Scenario("demo-slow", "Same answer, slow: 1 s to first token, 15 tok/s.", {"ttft": 1.0, "tps": 15}),
    Scenario("demo-reasoning", "Streams reasoning deltas first, then the answer; usage counts reasoning tokens.",
             reasoning=True),
    Scenario("demo-redacted", "Like demo-reasoning; in Anthropic's format a redacted_thinking block follows the "
             "thinking block.", reasoning=True, redacted=True),
    Scenario("demo-tools", "Calls the first tool of the request (or get_weather) with arguments in fragments; "
             "answers in text once the last message is a tool result.", tools=True),
    Scenario("demo-chunky", "Four tokens per streamed event.", {"tokens_per_chunk": 4}),
    Scenario("demo-long", "A long answer of about 2,000 tokens.", answer="long"),
    Scenario("demo-disconnect", "Drops the connection after `after` tokens (default 20), without ending the stream.",
             fault="disconnect"),
    Scenario("demo-error", "Sends an in-band error event after `after` tokens (default 20), then ends the stream.",
             fault="error"),
    Scenario("demo-401", "Rejects every request with HTTP 401 (invalid API key).", http_status=401),
    Scenario("demo-429", "Rejects every request with HTTP 429 and a Retry-After header (knob retry_after, 2 s).",
             http_status=429),
    Scenario("demo-500", "Fails every request with HTTP 500.", http_status=500),
    Scenario("demo-malformed", "Sends one event that is not valid JSON after `after` tokens, then carries on.",
             fault="malformed"),
    Scenario("demo-stall", "Goes silent for `stall` seconds (default 5) after `after` tokens, then carries on.",
             {"stall": 5.0}),
    Scenario("demo-keepalive", "Sends ': keep-alive' SSE comments every 0.1 s while waiting for the first token "
             "(0.5 s) and during a 0.5 s pause after `after` tokens.",
             {"keepalive": 0.1, "ttft": 0.5, "stall": 0.5}),
    Scenario("demo-xss", "An answer with <script>, an onerror image and a javascript: link, for renderer safety.",
             answer="xss"),
    Scenario("demo-fenced", "The whole answer inside a ```markdown fence that holds a python fence.",
             answer="fenced"),
    Scenario("demo-no-stream-options", "Answers 400 when the body has stream_options (like servers that predate "
             "it); otherwise streams without usage.", reject_stream_options=True),
)

SCENARIOS: dict[str, Scenario] = {s.model: s for s in _ALL}


def find_scenario(model: str) -> Scenario:
    """The scenario for a model name (an Ollama-style ``:latest`` tag is ignored), or a 404."""
    scenario = SCENARIOS.get(model.removesuffix(":latest"))
    if scenario is None:
        raise DemoError(
            404,
            f"The model {model!r} does not exist on the nbstream demo endpoint. "
            f"GET /v1/models lists the demo models: {', '.join(SCENARIOS)}.",
            param="model",
            code="model_not_found",
        )
    return scenario


def resolve_knobs(server_defaults: Mapping[str, Any], scenario: Scenario, body_knobs: Any) -> Knobs:
    """Merge defaults < server defaults < scenario preset < body ``demo`` object into ``Knobs``."""
    if body_knobs is None:
        body_knobs = {}
    if not isinstance(body_knobs, dict):
        raise DemoError(400, f'"demo" must be an object of knobs, got {type(body_knobs).__name__}', param="demo")
    try:
        from_body = check_knobs(body_knobs, 'the request\'s "demo" object')
    except ValueError as exc:
        raise DemoError(400, str(exc), param="demo") from None
    return Knobs(**{**server_defaults, **scenario.preset, **from_body})
