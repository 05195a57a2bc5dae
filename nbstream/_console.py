"""The plain-text view for terminals and scripts: deltas printed as they arrive, then
the final status line (and the error, if any). Everything printed passes
``_render.terminal``: model and server text cannot move the cursor, retitle the window or
write the clipboard."""

from __future__ import annotations

import sys
from typing import TextIO

from . import _status
from ._render import terminal
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
                stream.write(terminal(ev.text))
            elif type(ev) is ReasoningDelta and ev.choice == 0 and not state["text"]:
                if not state["reasoning"]:
                    stream.write("[reasoning] ")
                    state["reasoning"] = True
                stream.write(terminal(ev.text))
        if r.done:
            line = _status.final(r)
            if r.error is not None and r.status != "cancelled":
                line += f"\n{r.error}"
            stream.write("\n" + terminal(line) + "\n")
        stream.flush()

    run.subscribe(on_events)
