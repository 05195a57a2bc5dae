"""The plain-text view for terminals and scripts: deltas printed as they arrive, then
one status line (model, time to first token, tokens, tokens/s, finish reason)."""

from __future__ import annotations

import sys
from typing import TextIO

from .events import Event, ReasoningDelta, TextDelta
from .run import Run


def attach(run: Run, out: TextIO | None = None) -> None:
    """Print ``run``'s answer to ``out`` (stdout) live; reasoning is prefixed once."""
    stream = out or sys.stdout
    state = {"reasoning": False, "text": False}

    def on_events(r: Run, events: list[Event]) -> None:
        for ev in events:
            if type(ev) is TextDelta and ev.choice == 0:
                if state["reasoning"] and not state["text"]:
                    stream.write("\n\n")
                state["text"] = True
                stream.write(ev.text)
            elif type(ev) is ReasoningDelta and ev.choice == 0 and not state["text"]:
                if not state["reasoning"]:
                    stream.write("[reasoning] ")
                    state["reasoning"] = True
                stream.write(ev.text)
        if r.done:
            stream.write("\n" + status_line(r) + "\n")
        stream.flush()

    run.subscribe(on_events)


def status_line(run: Run) -> str:
    """``demo · TTFT 0.25 s · 153 tokens · 61.2 tok/s · finish stop`` and a verdict if not ok."""
    parts = [run.response_model or run.model or run.api or "stream"]
    first = next((rec.message.t_ns for rec in run.records
                  if any(type(e) in (TextDelta, ReasoningDelta) for e in rec.events)), None)
    if first is not None:
        parts.append(f"TTFT {(first - run.t0_ns) / 1e9:.2f} s")
    tokens = run.usage.output_tokens if run.usage and run.usage.output_tokens is not None else None
    if tokens is not None:
        parts.append(f"{tokens} tokens")
        end = run.t_end_ns
        if first is not None and end is not None and end > first and tokens > 1:
            parts.append(f"{(tokens - 1) / ((end - first) / 1e9):.1f} tok/s")
    if run.finish_reason:
        parts.append(f"finish {run.finish_reason}")
    if run.status != "done":
        verdict = {"cancelled": "stopped", "error": "error", "incomplete": "incomplete",
                   "streaming": "streaming"}[run.status]
        parts.append(verdict + (f": {run.error}" if run.error else ""))
    return " · ".join(parts)
