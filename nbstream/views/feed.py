"""Generic SSE feeds in the notebook: a live, throttled table of the latest events
(type, id, a data preview), with the event count, rate and reconnections in the status;
every event stays in the run's DataFrame."""

from __future__ import annotations

from collections import deque
from typing import Any

from nbstream.events import Event, Other
from nbstream.run import Run
from nbstream.views import render as _render

__all__ = ["SHOWN", "PREVIEW", "FeedBody", "feed_markdown"]

SHOWN = 20
PREVIEW = 120


class FeedBody:
    """The feed table for ``NotebookView(run, body=FeedBody())``."""

    def __init__(self) -> None:
        self._latest: deque[Other] = deque(maxlen=SHOWN)
        self._count = 0
        self._changed = False

    def take(self, ev: Event) -> bool:
        if type(ev) is Other:
            self._latest.append(ev)
            self._count += 1
            self._changed = True
        return False

    def flush(self) -> tuple[list[str], str]:
        if not self._changed:
            return [], _html_table(self._latest, self._count)
        self._changed = False
        return [], _html_table(self._latest, self._count)

    def whole(self) -> str:
        """The final frame: the table of the latest events."""
        return _html_table(self._latest, self._count)


def _html_table(events: deque[Other], count: int) -> str:
    if not events:
        return '<p class="nbs-feed-empty">waiting for events…</p>'
    esc = _render.html_text
    rows = "".join(f"<tr><td>{esc(ev.type)}</td><td>{esc(ev.id or '')}</td>"
                   f"<td><code>{esc(_preview(ev.data))}</code></td></tr>" for ev in reversed(events))
    return (f'<table class="nbs-feed"><thead><tr><th>event</th><th>id</th><th>data (latest first, '
            f"{min(count, SHOWN)} of {count})</th></tr></thead><tbody>{rows}</tbody></table>")


def _preview(data: Any) -> str:
    text = data if isinstance(data, str) else repr(data)
    text = text.replace("\n", "⏎")
    return text if len(text) <= PREVIEW else text[: PREVIEW - 1] + "…"


def feed_markdown(run: Run) -> str:
    """The static form: event count, rate, reconnections and the latest events as a table."""
    events = [ev for ev in run.events if type(ev) is Other]
    seconds = ((run.t_end_ns or run.t0_ns) - run.t0_ns) / 1e9
    rate = f", {len(events) / seconds:.1f}/s" if seconds > 0 else ""
    head = f"**{len(events)} events**{rate}, {run.reconnects} reconnections"
    if not events:
        return head
    lines = [head, "", "| event | id | data |", "|---|---|---|"]
    for ev in events[-SHOWN:]:
        cell = _render.md_code(_preview(ev.data)).replace("|", "\\|")
        lines.append(f"| {_render.md_text(ev.type)} | {_render.md_text(ev.id or '')} | {cell} |")
    return "\n".join(lines)
