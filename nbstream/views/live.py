"""The notebook view of a Run: live while it streams, the saved answer after.

While streaming, the cell's output holds only the widget (a display_data whose bundle
is just the widget reference). The pump only notes what arrived (``_on_events``: an
append and a flag); a flush thread renders and sends, at most one message per
``interval`` (50 ms) counted from the END of the previous flush, so a slow flush makes
the next one coalesce more, and nothing slow runs where arrival times are stamped.
Per-token messages would overflow the kernel's IOPub channel and be dropped (Jupyter
Server's ``iopub_msg_rate_limit`` stops output past 1000 messages/s). A heartbeat every ``HEARTBEAT_S`` lets the
front end tell a silent kernel from a slow stream, and every ``FALLBACK_S`` the partial
answer is saved into a hidden fallback output, for a kernel that dies mid-stream.

When the run ends the flush thread sends the final frame, then a plain ``display_data``
takes the widget's place: ``text/html`` built from the very blocks the widget showed
(same structure and classes), safe ``text/markdown``, ``text/plain``, and ``nbstream``
metadata with a ``schema`` version. The widget hides its own output the moment that
answer appears (``_static/live.js``), then the widget and fallback outputs are emptied:
the saved notebook reads on GitHub and in nbconvert without widget state, and strict
nbval compares the same structure every run.
"""

from __future__ import annotations

import atexit
import contextvars
import os
import threading
import time
from collections import deque
from typing import TYPE_CHECKING, Any

from IPython.display import display

from nbstream._secrets import Settled
from nbstream.events import Event, Other, ReasoningDelta, Step, TextDelta, ToolCallDelta
from nbstream.run import Run
from nbstream.views import markdown as _markdown
from nbstream.views import render as _render
from nbstream.views import status as _status
from nbstream.views.feed import feed_markdown
from nbstream.views.jsonview import JsonBody

if TYPE_CHECKING:
    from nbstream.views.widget import LiveWidget
    from nbstream.wire.framing import Message

__all__ = [
    "WIDGET_MIME", "markdown_stream", "markdown_html", "markdown_safe", "markdown_unwrap", "text_html",
    "live_enabled", "HEARTBEAT_S", "FALLBACK_S", "FINAL_PAUSE_S", "NotebookView", "widget_bundle", "SCHEMA",
    "static_output", "INTERRUPTED", "static_plain", "static_markdown", "static_html", "WIRE_LINES",
]

WIDGET_MIME = "application/vnd.jupyter.widget-view+json"


# ---- the renderer seam: every call this module makes into the Markdown renderer -------------
def markdown_stream() -> Any:
    """An incremental renderer: ``feed(delta)``; ``flush()`` -> (new final blocks' HTML, open
    tail's HTML); ``finish()`` -> the last blocks' HTML; ``text`` -> the (unwrapped) Markdown."""
    return _markdown.StreamingMarkdown()


def markdown_html(text: str) -> str:
    """Safe HTML for a complete Markdown document."""
    return _render.render_html(text)


def markdown_safe(text: str) -> str:
    """Markdown that cannot carry raw HTML or dangerous links (for ``text/markdown``)."""
    return _render.render_markdown(text)


def markdown_unwrap(text: str) -> str:
    """The answer without a wrapping ```` ```markdown ```` fence."""
    return _markdown.unwrap(text)


def text_html(text: str) -> str:
    """Plain text as HTML text (no markup survives)."""
    return _render.html_text(text)


def live_enabled() -> bool:
    """Widgets are used unless ``NBSTREAM_LIVE=0`` (then only the static answer appears)."""
    return os.environ.get("NBSTREAM_LIVE", "1") not in ("0", "false", "no")


#: seconds between heartbeats while nothing arrives (the view reports a silent kernel)
HEARTBEAT_S = 1.0
#: seconds between saves of the partial answer into the fallback output (0: never)
FALLBACK_S = 2.0
#: seconds between the widget's final frame and the saved answer that replaces it
FINAL_PAUSE_S = 0.1


class NotebookView:
    """Shows one Run in the current cell: live widget, then the static answer."""

    def __init__(self, run: Run, *, prompt: str | None = None, raw: bool = False, stop_button: bool = False,
                 render: bool = True, interval: float = 0.05, standalone: bool = True, body: Any = None,
                 title: str | None = None, final_id: str | None = None) -> None:
        """``standalone=False``: a pane of a larger view (``--compare``), which places the
        widget and the static answers itself. ``body`` renders the main area: Markdown
        (default), plain text (``render=False``) or a feed table (``nbstream.views.feed``).
        ``title`` heads the pane; ``final_id`` marks the static answer that replaces it
        (the widget hides itself the moment that answer appears: see ``_static/live.js``)."""
        self.run = run
        self.title = title
        self.final_id = final_id or run.run_id
        self.standalone = standalone
        self.prompt = prompt
        self.raw = raw
        self.render = render
        self.interval = interval
        self._stop_button = stop_button
        self._lock = threading.RLock()  # the flush thread and resync requests; never the pump
        self._body = body if body is not None else JsonBody() if run.response_format is not None \
            else _AnswerBody(render)  # structured output: the JSON filling in (views.jsonview)
        self._seq = -1
        self._pending: dict[str, Any] = {}
        self._blocks: list[str] = []
        self._tail = ""
        self._reasoning: list[str] = []
        # what the widget is sent, as it streams: a key split across deltas masked (Settled)
        self._reasoning_settled = Settled()
        self._tool_settled: dict[int, Settled] = {}
        self._reasoning_done = False
        self._tools: dict[int, dict[str, str]] = {}
        self._raw_lines: list[str] = []
        self._records_seen = 0
        self._first_token_ns: int | None = None
        self._n_token_chunks = 0
        self._inbox: deque[tuple[int, list[Event]]] = deque()  # the pump appends, the flush thread pops
        self._wake = threading.Event()  # something arrived (or the run ended)
        self._ended = threading.Event()  # the run ended: stop waiting between flushes
        self._thread: threading.Thread | None = None
        self._widget: LiveWidget | None = None
        self._handle: Any = None
        self.messages_sent = 0
        self.flushes = 0
        self.view_error: Exception | None = None  # what stopped the live updates, if anything
        self._fallback: Any = None
        self._fallback_at = time.monotonic()
        self._fallback_size = 0
        self.fallback_updates = 0

    # ---- lifecycle ----------------------------------------------------------------------
    def start(self) -> NotebookView:
        """Display the live widget (if enabled) and follow the run."""
        if live_enabled():
            from nbstream.views.widget import LiveWidget

            self._widget = LiveWidget(on_stop=self.run.cancel, on_resync=self._resync,
                                      prompt_html=markdown_html(self.prompt) if self.prompt else "",
                                      show_raw=self.raw, show_stop=self._stop_button,
                                      final_id=self.final_id, title=self.title or "")
            if self.standalone:
                self._handle = display(widget_bundle(self._widget), raw=True, display_id=True)
                # the partial answer, kept in the file in case the kernel dies mid-stream;
                # empty at first and at the end, so the saved structure never changes
                self._fallback = display({}, raw=True, display_id=True)
                # after ipykernel's own exit hook: runs first, while the IOPub thread still sends
                atexit.register(self._at_exit)
            # the thread runs in a copy of this context, so what it sends has this cell as parent
            context = contextvars.copy_context()
            self._thread = threading.Thread(target=context.run, args=(self._flush_loop,), daemon=True,
                                            name=f"nbstream-view-{self.run.run_id[:8]}")
            self._thread.start()
        self.run.subscribe(self._on_events)
        if self.run.done:
            self._on_events(self.run, [])
        return self

    def _on_events(self, run: Run, events: list[Event]) -> None:
        """Called by the pump after each wire message, on the thread that reads the socket:
        only note what arrived. Rendering and sending happen on the flush thread."""
        if self._thread is not None:
            if events:
                self._inbox.append((run.last_data_ns, events))  # when this message arrived
            self._wake.set()  # no events: the run's phase changed (connecting, headers…)
        if run.done:
            self._end()

    def _flush_loop(self) -> None:
        """Render and send what arrived, then wait ``interval`` from the END of that flush:
        everything arriving meanwhile is coalesced, so a slow flush makes the next one
        bigger, never more frequent. Ends with a final flush once the run has ended."""
        try:
            while not self._ended.is_set():
                self._wake.wait(HEARTBEAT_S)  # without news, a heartbeat: the view knows the kernel lives
                self._wake.clear()
                if self._ended.is_set():
                    break
                with self._lock:
                    self._flush()
                    self._save_partial()
                self._ended.wait(self.interval)
            with self._lock:
                self._flush(final=True)
            # the front end applies widget messages through a promise chain but displays
            # outputs at once: a moment for the final frame to land before the saved
            # answer replaces it (else the switch shows the last delta arriving late)
            time.sleep(FINAL_PAUSE_S)
        except Exception as exc:  # noqa: BLE001 - a view never breaks the run; the static answer still comes
            self.view_error = exc

    def _absorb(self) -> None:
        inbox = self._inbox
        for _ in range(len(inbox)):  # deque append/popleft are atomic: nothing is lost meanwhile
            t_ns, events = inbox.popleft()
            got_token = False
            for ev in events:
                if isinstance(ev, TextDelta) and ev.choice == 0 or isinstance(ev, Other):
                    got_token = self._body.take(ev) or got_token
                    if isinstance(ev, TextDelta) and self._reasoning and not self._reasoning_done:
                        self._add_reasoning(self._reasoning_settled.finish())
                        self._reasoning_done = True
                        self._pending["reasoning_done"] = True
                elif isinstance(ev, ReasoningDelta) and ev.choice == 0:
                    self._add_reasoning(self._reasoning_settled.feed(ev.text))
                    got_token = True
                elif isinstance(ev, ToolCallDelta):
                    settled = self._tool_settled.setdefault(ev.index, Settled())
                    self._add_tool(ev.index, ev.name, settled.feed(ev.arguments))
                    got_token = True
            if got_token:
                self._n_token_chunks += 1
                if self._first_token_ns is None:
                    self._first_token_ns = t_ns
        if self.raw:
            records = self.run.records
            end = len(records)
            for rec in records[self._records_seen:end]:
                self._raw_lines.extend(_wire_lines(rec.message))
            self._records_seen = end

    def _add_reasoning(self, text: str) -> None:
        if text:
            self._reasoning.append(text)
            self._pending["reasoning"] = self._pending.get("reasoning", "") + text

    def _add_tool(self, index: int, name: str | None, args: str) -> None:
        tool = self._tools.setdefault(index, {"name": "", "args": ""})
        tool["name"] = tool["name"] or (name or "")
        tool["args"] += args
        pend = self._pending.setdefault("tools", {}).setdefault(index, {"i": index, "args": ""})
        if name:
            pend["name"] = name
        pend["args"] += args

    def _settle_rest(self) -> None:
        """The run ended: the characters held back for a key still being completed."""
        if not self._reasoning_done:
            self._add_reasoning(self._reasoning_settled.finish())
        for index, settled in self._tool_settled.items():
            if rest := settled.finish():
                self._add_tool(index, None, rest)

    def _flush(self, final: bool = False) -> None:
        """Send what changed since the last message, as one message. The final one
        replaces the pieces shown so far by the whole answer rendered at once: how the
        live pieces were cut depends on when flushes happened, the whole answer does not,
        so the widget's last frame and the saved answer (``shown_html()``) are the same
        HTML on every run."""
        self._absorb()
        msg: dict[str, Any] = {}
        if final:
            self._settle_rest()
            whole = self._body.whole()
            self._blocks, self._tail = ([whole] if whole else []), ""
            msg.update(blocks=list(self._blocks), tail="", replace=True)
        else:
            new_blocks, tail = self._body.flush()
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
        if final:
            msg["status"] = _status.final(self.run)
            msg["state"] = self.run.status
            msg["error"] = self._error_text()
        else:
            msg.update(self._status_fields())
        self._send(msg)
        self.flushes += 1
        self._finalized = final

    def _save_partial(self) -> None:
        """Every ``FALLBACK_S``, if the answer grew: the partial answer into the fallback
        output (hidden by the live view while it lives; what a reopened notebook shows
        if the kernel died before the end)."""
        if self._fallback is None or FALLBACK_S <= 0:
            return
        now = time.monotonic()
        if now - self._fallback_at < FALLBACK_S or len(self._blocks) + len(self._tail) == self._fallback_size:
            return
        self._fallback_at = now
        self._fallback_size = len(self._blocks) + len(self._tail)
        # HTML from the blocks already rendered, and plain text: nothing is re-parsed here
        html_ = static_html(self.run, prompt=self.prompt, answer_html="".join(self._blocks) + self._tail,
                            partial_of=self.final_id)
        self._fallback.update({"text/html": html_, "text/plain": static_plain(self.run, partial=True)}, raw=True,
                              metadata={"nbstream": {"schema": SCHEMA, "run_id": self.run.run_id, "partial": True}})
        self.fallback_updates += 1

    def _error_text(self) -> str:
        return str(self.run.error) if self.run.error is not None and self.run.status != "cancelled" else ""

    def shown_html(self) -> str | None:
        """The answer's HTML exactly as the widget shows it after the final flush (None
        without a live widget): the static answer reuses it, so nothing restyles."""
        if self._thread is None or not getattr(self, "_finalized", False):
            return None
        return "".join(self._blocks) + self._tail

    def partial_html(self) -> str:
        """The answer's HTML as the widget shows it now (a comparison saving its panes at
        exit); waits at most 1 s for a flush in progress, else nothing (mid-flush, the
        blocks and the tail may overlap)."""
        if not self._lock.acquire(timeout=1.0):
            return ""
        try:
            return "".join(self._blocks) + self._tail
        finally:
            self._lock.release()

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
        if self._widget is None:  # live output is off: no front end to tell
            return
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
    def widget(self) -> LiveWidget | None:
        """The live widget while it is shown (None when live output is off)."""
        return self._widget

    def join(self, timeout: float | None = 30) -> None:
        """Wait for the flush thread's last message (after the run ended)."""
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def _end(self) -> None:
        """The run ended: the flush thread sends the final state; a standalone view then
        replaces the live widget by the static answer (a pane leaves that to its host)."""
        self._ended.set()
        self._wake.set()
        if not self.standalone:
            return
        self.join()
        atexit.unregister(self._at_exit)
        bundle, metadata = static_output(self.run, prompt=self.prompt, raw=self.raw, answer_html=self.shown_html(),
                                         final_id=self.final_id)
        display(bundle, raw=True, metadata=metadata)
        if self._fallback is not None:  # before the widget goes: its view un-hides the fallback
            self._fallback.update({}, raw=True)
        if self._handle is not None:
            self._handle.update({}, raw=True)
        if self._widget is not None:
            self._widget.close()
            self._widget = None


    def _at_exit(self) -> None:
        """The kernel is shutting down mid-stream (a restart): drop the widget reference
        from the cell, so the saved notebook shows the partial answer and no widget error."""
        try:
            self._fallback_at = 0.0
            if self._lock.acquire(timeout=1.0):  # a flush in progress finishes first
                try:
                    self._save_partial()
                finally:
                    self._lock.release()
            if self._handle is not None:
                self._handle.update({}, raw=True)
        except Exception:  # noqa: BLE001, S110 - the interpreter is going; nothing to report to
            pass


def widget_bundle(widget: Any) -> dict[str, Any]:
    """A display bundle holding only the widget reference (nbval compares nothing in it)."""
    return {WIDGET_MIME: {"version_major": 2, "version_minor": 1, "model_id": widget.model_id}}


class _AnswerBody:
    """The answer text: streaming Markdown, or plain text with ``render=False``."""

    def __init__(self, render: bool) -> None:
        self._text = markdown_stream() if render else _PlainBlocks()
        # the text as it streams, a key split across deltas masked (Settled: what redact()
        # makes of the whole text, once the held-back end is added)
        self._settled = Settled()
        self._shown: list[str] = []

    def take(self, ev: Event) -> bool:
        if type(ev) is TextDelta:
            text = self._settled.feed(ev.text)
            self._text.feed(text)
            self._shown.append(text)
            return True
        return False

    def flush(self) -> tuple[list[str], str]:
        return self._text.flush()

    def whole(self) -> str:
        """The whole answer's HTML, rendered at once (independent of flush timing), from
        all the text shown, masked as ``run.text`` is."""
        self._shown.append(self._settled.finish())
        text = "".join(self._shown)
        if isinstance(self._text, _PlainBlocks):
            self._text.flush()
            return f'<pre class="nbs-plain">{text_html(text)}</pre>' if text else ""
        self._text.finish()
        return markdown_html(text) if text else ""


class _PlainBlocks:
    """``--no-render``: the answer as plain text; finished lines sent once, escaped."""

    def __init__(self) -> None:
        self._parts: list[str] = []
        self._text = ""
        self._done = 0

    def feed(self, delta: str) -> None:
        self._parts.append(delta)  # joined once per flush: linear, however small the deltas

    def flush(self) -> tuple[list[str], str]:
        if self._parts:
            self._text += "".join(self._parts)
            self._parts.clear()
        cut = self._text.rfind("\n") + 1
        blocks = []
        if cut > self._done:
            blocks.append(f'<pre class="nbs-plain">{text_html(self._text[self._done:cut])}</pre>')
            self._done = cut
        tail = self._text[self._done:]
        return blocks, f'<pre class="nbs-plain">{text_html(tail)}</pre>' if tail else ""


def _wire_lines(message: Message) -> list[str]:
    data = message.data if isinstance(message.data, str) else repr(message.data)
    lines = [f"event: {message.name}"] if message.name and message.name != "message" else []
    lines.extend(f"data: {line}" for line in data.split("\n"))
    return lines


# ---- the static answer -------------------------------------------------------------------
#: version of the ``nbstream`` metadata and of the saved bundle's layout; bump on changes
SCHEMA = 2


def static_output(run: Run, *, prompt: str | None = None, title: str | None = None, raw: bool = False,
                  answer_html: str | None = None, final_id: str | None = None, partial_of: str | None = None,
                  ) -> tuple[dict[str, str], dict[str, Any]]:
    """The saved form of a run: ``text/html`` + ``text/markdown`` + ``text/plain`` and
    nbstream metadata (with its ``schema`` version).

    ``text/html`` is the live view's last frame, same structure and classes, built from
    the same rendered blocks (``answer_html``): JupyterLab and Notebook 7 rank it first,
    nbconvert too, so the saved answer is what was shown. ``text/markdown`` (safe by
    construction: raw HTML in model text escaped, dangerous links neutralised) keeps the
    notebook readable where HTML is not rendered. With ``partial_of`` (a live view's id):
    the partial answer saved while streaming, which says so (its ``data-nbs-partial`` lets
    that live view hide it while it lives).
    """
    bundle = {"text/html": static_html(run, prompt=prompt, title=title, raw=raw, answer_html=answer_html,
                                       final_id=final_id, partial_of=partial_of),
              "text/markdown": static_markdown(run, prompt=prompt, title=title, raw=raw,
                                               partial=partial_of is not None),
              "text/plain": static_plain(run, partial=partial_of is not None)}
    return bundle, {"nbstream": _metadata(run)}


INTERRUPTED = "⚠ stream interrupted: the answer as far as it had come (the kernel stopped before the end)"


def static_plain(run: Run, *, partial: bool = False) -> str:
    status = INTERRUPTED if partial else _status.final(run)
    return _render.terminal("\n\n".join(p for p in (run.text, status if not run.text else f"[{status}]") if p))


def static_markdown(run: Run, *, prompt: str | None = None, title: str | None = None, raw: bool = False,
                    partial: bool = False) -> str:
    """The saved answer as safe Markdown (what GitHub-like viewers without HTML show)."""
    parts: list[str] = []
    if title:
        parts.append(f"### {_render.md_text(title)}")
    if prompt:
        parts.append(_details("Prompt", markdown_safe(prompt)))
    if run.reasoning:
        parts.append(_details("Reasoning", markdown_safe(run.reasoning)))
    if run.text:
        parts.append(markdown_safe(markdown_unwrap(run.text)))
    if run.wire_format == "sse":
        parts.append(feed_markdown(run))
    steps = [ev for ev in run.events if type(ev) is Step]
    if steps:
        parts.append(_details(f"Agent steps ({len(steps)})", "\n".join(_step_line(ev) for ev in steps)))
    else:
        for call in run.tool_calls:
            name = _render.md_text(call.name or "tool call")
            parts.append(f"**🔧 {name}**\n\n{_render.md_fence(call.arguments, 'json')}")
    if run.refusal:
        parts.append(f"> **Refused:** {_render.md_text(run.refusal)}")
    if raw:
        parts.append(_wire_details(run))
    status = INTERRUPTED if partial else _status.final(run)
    if run.error is not None and run.status != "cancelled":
        parts.append(f"> ⚠ **{type(run.error).__name__}:** {_render.md_text(run.error)}")
    parts.append(f"<sub>{_render.md_text(status)}</sub>")
    return "\n\n".join(parts)


def static_html(run: Run, *, prompt: str | None = None, title: str | None = None, raw: bool = False,
                answer_html: str | None = None, final_id: str | None = None, pane_style: str | None = None,
                partial_of: str | None = None) -> str:
    """The live widget's final frame as static HTML (``_static/live.js`` builds the same
    elements): every untrusted string is either rendered Markdown or escaped text. A pane
    of a ``--compare`` grid (``pane_style``: its inline layout) carries the classes of the
    output wrapper itself, as the live pane does."""
    # no TeX typesetting by the front end: the live view does none (math is the renderer's job)
    classes = "nbs nbs-static mathjax_ignore tex2jax_ignore"
    if pane_style is not None:
        classes += f' jp-RenderedHTMLCommon jp-RenderedHTML nbs-pane" style="{text_html(pane_style)}'
    marker = (f'data-nbs-partial="{text_html(partial_of)}"' if partial_of is not None
              else f'data-nbs-final="{text_html(final_id or run.run_id)}"')
    state = "interrupted" if partial_of is not None else run.status
    opening = f'<div class="{classes}" {marker} data-state="{text_html(state)}">'
    out = [opening]
    if title:
        out.append(f'<div class="nbs-title">{text_html(title)}</div>')
    if prompt:
        out.append(f'<details class="nbs-prompt"><summary>Prompt</summary>'
                   f'<div class="nbs-prompt-body">{markdown_html(prompt)}</div></details>')
    if run.reasoning:
        out.append(f'<details class="nbs-reasoning"><summary>Reasoning</summary>'
                   f'<div class="nbs-reasoning-body">{text_html(run.reasoning)}</div></details>')
    steps = [ev for ev in run.events if type(ev) is Step]
    if steps:
        items = "\n".join(_step_line(ev) for ev in steps)
        out.append(f'<details class="nbs-steps"><summary>Agent steps ({len(steps)})</summary>'
                   f'{markdown_html(items)}</details>')
    elif run.tool_calls:
        cards = "".join(f'<div class="nbs-tool"><div class="nbs-tool-name">🔧 {text_html(call.name or "tool call")}'
                        f'</div><pre class="nbs-tool-args">{text_html(call.arguments)}</pre></div>'
                        for call in run.tool_calls)
        out.append(f'<div class="nbs-tools">{cards}</div>')
    if answer_html is None:
        if run.wire_format == "sse":
            answer_html = markdown_html(feed_markdown(run))
        else:
            answer_html = markdown_html(markdown_unwrap(run.text)) if run.text else ""
    out.append('<div class="nbs-answer"><div class="nbs-blocks jp-RenderedHTMLCommon jp-RenderedMarkdown">'
               f"{answer_html}</div></div>")
    if run.refusal:
        out.append(f'<div class="nbs-error">Refused: {text_html(run.refusal)}</div>')
    error = str(run.error) if run.error is not None and run.status != "cancelled" else ""
    if error:
        out.append(f'<div class="nbs-error">⚠ {text_html(error)}</div>')
    if raw:
        out.append(f'<details class="nbs-raw"><summary>Wire ({len(run.records)} events)</summary>'
                   f'<pre class="nbs-raw-body">{text_html(_wire_text(run))}</pre></details>')
    status = INTERRUPTED if partial_of is not None else _status.final(run)
    out.append(f'<div class="nbs-status"><span class="nbs-status-text">{text_html(status)}</span></div>')
    out.append("</div>")
    return "".join(out)


WIRE_LINES = 400


def _wire_text(run: Run) -> str:
    """The first ``WIRE_LINES`` lines of the raw events, as they came."""
    lines = [line for rec in run.records for line in _wire_lines(rec.message) + [""]]
    more = len(lines) - WIRE_LINES
    shown = lines[:WIRE_LINES] + ([f"… {more} more lines (all of them: run.records)"] if more > 0 else [])
    return "\n".join(shown)


def _wire_details(run: Run) -> str:
    """The raw events as they came (``--raw``), in a collapsible code block."""
    return _details(f"Wire ({len(run.records)} events)", _render.md_fence(_wire_text(run), "text"))


_STEP_ICONS = {"tool_called": "🔧", "tool_output": "↩", "handoff_requested": "🤝", "handoff": "🤝",
               "agent_updated": "🤖", "message_output": "💬", "reasoning": "💭"}


def _step_line(step: Step) -> str:
    """One agent step as a Markdown list item; names and details are untrusted text."""
    icon = _STEP_ICONS.get(step.kind, "•")
    label = step.kind.replace("_", " ")
    name = f" **{_render.md_text(step.name)}**" if step.name else ""
    detail = ""
    if step.detail and step.kind != "message_output":
        detail = f": {_render.md_code(step.detail[:200])}"
    return f"- {icon} {label}{name}{detail}"


def _details(summary: str, body: str) -> str:
    return f"<details><summary>{summary}</summary>\n\n{body}\n\n</details>"


def _metadata(run: Run) -> dict[str, Any]:
    row = run.summary_row()
    usage = run.usage
    timings = {k: row[k] for k in ("t_headers_s", "ttft_s", "ttfo_s", "e2el_s", "t_done_s", "decode_s",
                                   "tpot_s", "itl_mean_s", "output_tps", "decode_tps")
               if row.get(k) == row.get(k) and row.get(k) is not None}
    return {
        "schema": SCHEMA,
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
