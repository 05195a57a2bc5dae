"""The notebook view of a Run: live while it streams, a static Markdown answer after.

While streaming, the cell's output holds only the widget (a display_data whose bundle
is just the widget reference). Updates go to it as throttled deltas — at most one
message per ``interval`` (50 ms), whatever the token rate — because per-token messages
overflow the kernel's IOPub queue and are silently dropped (measured:
../shared/research/jupyter_runtime.md §4). When the run ends, however it ends, that
output is emptied and a plain ``display_data`` with ``text/markdown`` and ``text/plain``
takes its place, with metadata (model, base URL, parameters, timings, usage, status) —
so the saved notebook reads on GitHub and in nbconvert without widget state, and strict
nbval compares the same structure every run.
"""

from __future__ import annotations

import asyncio
import html
import os
import threading
import time
from typing import Any

from IPython.display import display

from . import _markdown, _status
from ._markdown_safe import safe_markdown
from .events import Event, Other, ReasoningDelta, Step, TextDelta, ToolCallDelta
from .run import Run

WIDGET_MIME = "application/vnd.jupyter.widget-view+json"


def live_enabled() -> bool:
    """Widgets are used unless ``NBSTREAM_LIVE=0`` (then only the static answer appears)."""
    return os.environ.get("NBSTREAM_LIVE", "1") not in ("0", "false", "no")


class NotebookView:
    """Shows one Run in the current cell: live widget, then the static answer."""

    def __init__(self, run: Run, *, prompt: str | None = None, raw: bool = False, stop_button: bool = False,
                 render: bool = True, interval: float = 0.05, standalone: bool = True, body: Any = None) -> None:
        """``standalone=False``: a pane of a larger view (``--compare``), which places the
        widget and the static answers itself. ``body`` renders the main area: Markdown
        (default), plain text (``render=False``) or a feed table (``nbstream._feed``)."""
        self.run = run
        self.standalone = standalone
        self.prompt = prompt
        self.raw = raw
        self.render = render
        self.interval = interval
        self._stop_button = stop_button
        self._lock = threading.RLock()
        self._body = body if body is not None else _AnswerBody(render)
        self._seq = -1
        self._pending: dict[str, Any] = {}
        self._blocks: list[str] = []
        self._tail = ""
        self._reasoning: list[str] = []
        self._reasoning_done = False
        self._tools: dict[int, dict[str, str]] = {}
        self._raw_lines: list[str] = []
        self._records_seen = 0
        self._first_token_ns: int | None = None
        self._n_token_chunks = 0
        self._last_flush = 0.0
        self._timer: Any = None
        self._dirty = False
        self._widget = None
        self._handle = None
        self.messages_sent = 0

    # ---- lifecycle ----------------------------------------------------------------------
    def start(self) -> "NotebookView":
        """Display the live widget (if enabled) and follow the run."""
        if live_enabled():
            from ._widget import LiveWidget

            self._widget = LiveWidget(on_stop=self.run.cancel, on_resync=self._resync,
                                      prompt_html=_markdown.render(self.prompt) if self.prompt else "",
                                      show_raw=self.raw, show_stop=self._stop_button)
            if self.standalone:
                self._handle = display(widget_bundle(self._widget), raw=True, display_id=True)
        self.run.subscribe(self._on_events)
        if self.run.done:
            self._on_events(self.run, [])
        return self

    def _on_events(self, run: Run, events: list[Event]) -> None:
        with self._lock:
            self._absorb(events)
            if run.done:
                self._finish()
                return
            if self._widget is None:
                return
            now = time.monotonic()
            if now - self._last_flush >= self.interval:
                self._flush(now)
            elif self._timer is None:
                self._schedule(self.interval - (now - self._last_flush))

    def _absorb(self, events: list[Event]) -> None:
        got_token = False
        for ev in events:
            kind = type(ev)
            if kind is TextDelta and ev.choice == 0 or kind is Other:
                got_token = self._body.take(ev) or got_token
                if kind is TextDelta and self._reasoning and not self._reasoning_done:
                    self._reasoning_done = True
                    self._pending["reasoning_done"] = True
            elif kind is ReasoningDelta and ev.choice == 0:
                self._reasoning.append(ev.text)
                self._pending["reasoning"] = self._pending.get("reasoning", "") + ev.text
                got_token = True
            elif kind is ToolCallDelta:
                tool = self._tools.setdefault(ev.index, {"name": "", "args": ""})
                tool["name"] = tool["name"] or (ev.name or "")
                tool["args"] += ev.arguments
                pend = self._pending.setdefault("tools", {}).setdefault(ev.index, {"i": ev.index, "args": ""})
                if ev.name:
                    pend["name"] = ev.name
                pend["args"] += ev.arguments
                got_token = True
        if got_token:
            self._n_token_chunks += 1
            if self._first_token_ns is None:
                self._first_token_ns = self.run.records[-1].message.t_ns if self.run.records else time.perf_counter_ns()
        if self.raw:
            records = self.run.records
            for rec in records[self._records_seen:]:
                self._raw_lines.extend(_wire_lines(rec.message))
            self._records_seen = len(records)
        self._dirty = True

    def _schedule(self, delay: float) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            timer = threading.Timer(delay, self._timer_fired)
            timer.daemon = True
            timer.start()
            self._timer = timer
        else:
            self._timer = loop.call_later(delay, self._timer_fired)

    def _timer_fired(self) -> None:
        with self._lock:
            self._timer = None
            if self._dirty and not self.run.done:
                self._flush(time.monotonic())

    def _flush(self, now: float) -> None:
        """Send what changed since the last message, as one message."""
        new_blocks, tail = self._body.flush()
        msg: dict[str, Any] = {}
        if new_blocks:
            msg["blocks"] = new_blocks
            self._blocks.extend(new_blocks)
        if tail != self._tail:
            msg["tail"] = tail
            self._tail = tail
        pending, self._pending = self._pending, {}
        if "tools" in pending:
            pending["tools"] = list(pending["tools"].values())
        msg.update(pending)
        if self._raw_lines:
            msg["raw"], self._raw_lines = self._raw_lines, []
        msg.update(self._status_fields())
        self._send(msg)
        self._last_flush = now
        self._dirty = False

    def _status_fields(self) -> dict[str, Any]:
        """The live status line, the quiet line the front end switches to after a silence
        (``_status.quiet``; it ticks the seconds itself), and the clock they run on."""
        now = time.perf_counter_ns()
        t0 = self.run.t0_ns
        head, tail = _status.quiet(self.run, first_token_ns=self._first_token_ns,
                                   n_token_chunks=self._n_token_chunks)
        return {"status": _status.live(self.run, first_token_ns=self._first_token_ns,
                                       n_token_chunks=self._n_token_chunks),
                "quiet": {"head": head, "tail": tail, "after": _status.QUIET_AFTER_S,
                          "since": round((self.run.last_data_ns - t0) / 1e9, 3)},
                "elapsed": round((now - t0) / 1e9, 3)}

    def _send(self, msg: dict[str, Any]) -> None:
        self._seq += 1
        msg["seq"] = self._seq
        self._widget.send(msg)
        self.messages_sent += 1

    def _resync(self) -> None:
        """The front end missed a message: send the whole state once."""
        with self._lock:
            if self._widget is None or self.run.done:
                return
            self._send({"t": "reset", "blocks": list(self._blocks), "tail": self._tail,
                        "reasoning": "".join(self._reasoning), "reasoning_done": self._reasoning_done,
                        "tools": [{"i": i, **t} for i, t in self._tools.items()],
                        **self._status_fields(), "state": "streaming"})

    @property
    def widget(self):
        return self._widget

    def _finish(self) -> None:
        if self._timer is not None:
            cancel = getattr(self._timer, "cancel", None)
            if cancel:
                cancel()
            self._timer = None
        if not self.standalone:  # the host shows the static answer; leave the final state visible
            if self._widget is not None:
                self._flush(time.monotonic())
                error = str(self.run.error) if self.run.error is not None and self.run.status != "cancelled" else ""
                self._send({"status": _status.final(self.run), "state": self.run.status, "error": error})
            return
        # the static answer first, so the front end starts rendering it before the live
        # view goes: the cell is never blank (the saved structure is the same either way)
        bundle, metadata = static_output(self.run, prompt=self.prompt, raw=self.raw)
        display(bundle, raw=True, metadata=metadata)
        if self._handle is not None:
            self._handle.update({}, raw=True)
        if self._widget is not None:
            self._widget.close()
            self._widget = None


def widget_bundle(widget) -> dict[str, Any]:
    """A display bundle holding only the widget reference (nbval compares nothing in it)."""
    return {WIDGET_MIME: {"version_major": 2, "version_minor": 1, "model_id": widget.model_id}}


class _AnswerBody:
    """The answer text: streaming Markdown, or plain text with ``render=False``."""

    def __init__(self, render: bool) -> None:
        self._text = _markdown.StreamingMarkdown() if render else _PlainBlocks()

    def take(self, ev: Event) -> bool:
        if type(ev) is TextDelta:
            self._text.feed(ev.text)
            return True
        return False

    def flush(self) -> tuple[list[str], str]:
        return self._text.flush()


class _PlainBlocks:
    """``--no-render``: the answer as plain text; finished lines sent once, escaped."""

    def __init__(self) -> None:
        self._text = ""
        self._done = 0

    def feed(self, delta: str) -> None:
        self._text += delta

    def flush(self) -> tuple[list[str], str]:
        cut = self._text.rfind("\n") + 1
        blocks = []
        if cut > self._done:
            blocks.append(f'<pre class="nbs-plain">{html.escape(self._text[self._done:cut])}</pre>')
            self._done = cut
        tail = self._text[self._done:]
        return blocks, f'<pre class="nbs-plain">{html.escape(tail)}</pre>' if tail else ""


def _wire_lines(message) -> list[str]:
    data = message.data if isinstance(message.data, str) else repr(message.data)
    lines = [f"event: {message.name}"] if message.name and message.name != "message" else []
    lines.extend(f"data: {line}" for line in data.split("\n"))
    return lines


# ---- the static answer -------------------------------------------------------------------
def static_output(run: Run, *, prompt: str | None = None, title: str | None = None,
                  raw: bool = False) -> tuple[dict[str, str], dict[str, Any]]:
    """The saved form of a run: ``text/markdown`` + ``text/plain`` and nbstream metadata.

    Model text is untrusted: raw HTML in it is escaped and dangerous link schemes are
    neutralised (Jupyter renders session outputs as trusted), while nbstream's own
    ``<details>`` blocks stay HTML.
    """
    parts: list[str] = []
    if title:
        parts.append(f"**{html.escape(title)}**")
    if prompt:
        parts.append(_details("Prompt", safe_markdown(prompt)))
    if run.reasoning:
        parts.append(_details("Reasoning", safe_markdown(run.reasoning)))
    if run.text:
        parts.append(safe_markdown(_markdown.unwrap(run.text)))
    if run.api == "sse":
        from ._feed import feed_markdown

        parts.append(feed_markdown(run))
    steps = [ev for ev in run.events if type(ev) is Step]
    if steps:
        parts.append(_details(f"Agent steps ({len(steps)})", "\n".join(_step_line(ev) for ev in steps)))
    else:
        for call in run.tool_calls:
            parts.append(f"**🔧 {html.escape(call.name or 'tool call')}**\n\n```json\n{call.arguments}\n```")
    if run.refusal:
        parts.append(f"> **Refused:** {safe_markdown(run.refusal)}")
    if raw:
        parts.append(_wire_details(run))
    status = _status.final(run)
    if run.error is not None and run.status != "cancelled":
        parts.append(f"> ⚠ **{type(run.error).__name__}:** {html.escape(str(run.error))}")
    parts.append(f"<sub>{html.escape(status)}</sub>")
    markdown = "\n\n".join(parts)
    plain = "\n\n".join(p for p in (run.text, status if not run.text else f"[{status}]") if p)
    return {"text/markdown": markdown, "text/plain": plain}, {"nbstream": _metadata(run)}


WIRE_LINES = 400


def _wire_details(run: Run) -> str:
    """The raw events as they came (``--raw``), in a collapsible code block."""
    lines = [line for rec in run.records for line in _wire_lines(rec.message) + [""]]
    more = len(lines) - WIRE_LINES
    shown = lines[:WIRE_LINES] + ([f"… {more} more lines (all of them: run.records)"] if more > 0 else [])
    body = "\n".join(shown).replace("```", "ˋˋˋ")
    return _details(f"Wire ({len(run.records)} events)", f"```text\n{body}\n```")


_STEP_ICONS = {"tool_called": "🔧", "tool_output": "↩", "handoff_requested": "🤝", "handoff": "🤝",
               "agent_updated": "🤖", "message_output": "💬", "reasoning": "💭"}


def _step_line(step: Step) -> str:
    """One agent step as a Markdown list item; names and details are untrusted text."""
    icon = _STEP_ICONS.get(step.kind, "•")
    label = step.kind.replace("_", " ")
    name = f" **{html.escape(step.name)}**" if step.name else ""
    detail = ""
    if step.detail and step.kind != "message_output":
        text = step.detail.replace("`", "ˋ").replace("\n", " ")
        detail = f": `{text[:200]}`"
    return f"- {icon} {label}{name}{detail}"


def _details(summary: str, body: str) -> str:
    return f"<details><summary>{summary}</summary>\n\n{body}\n\n</details>"


#: version of the ``nbstream`` metadata saved with each answer; bumped when its keys change
METADATA_SCHEMA = 1


def _metadata(run: Run) -> dict[str, Any]:
    row = run.summary_row()
    usage = run.usage
    timings = {k: row[k] for k in ("t_headers_s", "ttft_s", "ttfo_s", "e2el_s", "t_done_s", "decode_s",
                                   "tpot_s", "itl_mean_s", "output_tps", "decode_tps")
               if row.get(k) == row.get(k) and row.get(k) is not None}
    return {
        "schema_version": METADATA_SCHEMA,
        "run_id": run.run_id,
        "model": run.model,
        "response_model": run.response_model,
        "base_url": run.base_url,
        "api": run.api,
        "params": {k: v for k, v in run.params.items() if isinstance(v, (str, int, float, bool, type(None)))},
        "status": run.status,
        "finish_reason": run.finish_reason,
        "error": str(run.error) if run.error is not None else None,
        "usage": None if usage is None else {
            "input_tokens": usage.input_tokens, "output_tokens": usage.output_tokens,
            "total_tokens": usage.total_tokens, "reasoning_tokens": usage.reasoning_tokens},
        "n_output_tokens": row["n_output_tokens"],
        "n_output_tokens_exact": row["n_output_tokens_exact"],
        "timings": timings,
    }
