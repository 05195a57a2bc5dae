"""Synthetic runs on a fixed timeline (no sleeping): messages carry recorded timestamps,
so every derived column can be checked against a hand computation."""

from __future__ import annotations

import nbstream
from nbstream.events import Done, Finish, Meta, ReasoningDelta, TextDelta, Usage
from nbstream.run import Run
from nbstream.wire.framing import Message

T0 = 5_000_000_000


def timeline(steps, *, model="m", api="chat", started=None, cancel=False, session=None):
    """A finished Run from ``(t_seconds, read_idx, [events])`` steps, recorded by
    ``session`` (default: the default session)."""
    run = (session or nbstream.get_session()).track(Run(model=model, api=api, prompt="p",
                                                        base_url="http://x/v1"))
    run.t0_ns = T0
    if started is not None:
        run.started_at = started
    for t, read_idx, events in steps:
        run._receive(Message(T0 + round(t * 1e9), read_idx, "", "{}", None, 10), list(events))
    if cancel:
        run.cancel()
    run._finish()
    run.t_end_ns = T0 + round(steps[-1][0] * 1e9)
    run._row = None
    return run


REASONING_RUN = [
    (0.100, 0, [Meta("role", id="r1", model="m-1", role="assistant")]),
    (0.300, 1, [ReasoningDelta("think")]),
    (0.350, 2, [ReasoningDelta(" more")]),
    (0.500, 3, [TextDelta("Hello")]),
    (0.520, 3, [TextDelta(" world")]),
    (0.600, 4, [TextDelta("!")]),
    (0.610, 5, [Finish("stop")]),
    (0.620, 5, [Usage(input_tokens=10, output_tokens=12, reasoning_tokens=4, total_tokens=22)]),
    (0.630, 5, [Done()]),
]
