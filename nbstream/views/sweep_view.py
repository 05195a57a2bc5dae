"""The live view of a sweep: done / running / queued / failed, throughput, tokens per
second, ETA, the answers of a few rows in flight, a per-model latency summary and Stop.

The runner tells :class:`Progress` of each start and end (counters kept incrementally, so
an update costs the same at row 10 and at row 10,000); the answer deltas of running rows
wait in an inbox (the I/O loop only appends) for the ticker thread, which moves each
row's tail on by what arrived and makes at most one update every :data:`INTERVAL_S`,
and only when something changed: in a notebook one small JSON trait of an anywidget
(``_static/sweep.js`` places every string as text, never as HTML), in a terminal one
progress line on stderr (through ``render.terminal``).
The saved notebook keeps a static summary (a pandas table, escaped by pandas) and the
result table the cell returns.

A structured sweep (``response_format=``) also shows each shown row's JSON fields filling
in: the row keeps its answer's first :data:`SCAN` characters (the I/O loop still only
appends to the inbox), and the ticker re-parses a shown row only when it grew since its
last parse, through the single-run view's partial-JSON reader, over those SCAN
characters at most — so an update costs O(what changed) with a bounded parse, however
long an answer grows — and sends its fields cut to :data:`FIELDS` characters.
"""

from __future__ import annotations

import contextvars
import itertools
import json
import math
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from nbstream._secrets import PREFIX, append_redacted
from nbstream.events import Event, TextDelta
from nbstream.run import Run
from nbstream.views.attach import in_notebook
from nbstream.views.jsonview import json_line
from nbstream.views.render import md_text, terminal
from nbstream.wire import structured as _structured

__all__ = ["FIELDS", "INTERVAL_S", "SCAN", "SHOWN", "Progress", "SweepView", "summary_bundle", "wanted"]

INTERVAL_S = 0.25
SHOWN = 3  # rows whose answers stream in the view at once
TAIL = 120  # characters of each shown answer
LABEL = 100  # characters of a shown row's label (index, model, swept values)
_FOLD = 32  # a shown answer's parts are folded into its last _KEEP characters past this many
_KEEP = TAIL + PREFIX  # enough for the tail and for masking a key the next delta completes
SCAN = 4096  # characters of a structured answer read for its fields (the parse's bound)
FIELDS = 240  # characters of a shown row's fields, on one line


def wanted(display: bool | None) -> bool:
    """Show progress: when asked, or by default inside a notebook or on a terminal."""
    if display is not None:
        return bool(display)
    return in_notebook() or sys.stderr.isatty()


@dataclass
class _Model:
    done: int = 0
    failed: int = 0
    timed: int = 0
    ttft: float = 0.0
    e2el: float = 0.0
    tokens: float = 0.0


@dataclass
class _Head:
    """A running row's answer's first :data:`SCAN` characters (masked as the Run masks),
    and its JSON fields as last parsed."""

    parts: list[str] = field(default_factory=list)
    size: int = 0
    grown: bool = False  # since the last parse
    shown: str | None = None

    def take(self, text: str) -> None:
        if self.size < SCAN:
            append_redacted(self.parts, text)
            self.size += len(text)
            self.grown = True

    def fields(self) -> str | None:
        """The fields on one line, parsed again only if the head grew since (on the ticker)."""
        if self.grown:
            self.grown = False
            value = _structured.partial("".join(self.parts)[:SCAN])
            self.shown = None if value is None else json_line(value, limit=FIELDS)
        return self.shown


@dataclass
class Progress:
    """What the view shows, updated per start and end in O(1), per answer delta in O(its length)."""

    total: int
    done: int = 0
    failed: int = 0
    cached: int = 0
    running: dict[int, tuple[str, Run]] = field(default_factory=dict)  # row index -> (label, its attempt)
    tails: dict[int, list[str]] = field(default_factory=dict)  # row index -> its answer's end, as parts
    tokens: float = 0.0
    models: dict[str, _Model] = field(default_factory=dict)
    t0: float = field(default_factory=time.monotonic)
    version: int = 0
    structured: bool = False  # the answers are JSON: shown rows show their fields
    heads: dict[int, _Head] = field(default_factory=dict)  # running rows of a structured sweep

    def started(self, index: int, label: str, run: Run) -> None:
        self.running[index] = (label, run)
        self.tails[index] = []
        if self.structured:
            self.heads[index] = _Head()
        self.version += 1

    def grew(self, index: int, run: Run, text: str) -> None:
        """Row ``index``'s attempt ``run`` streamed ``text``: its tail moves on in
        O(len(text)) — never by joining the whole answer again, which grows with every
        token. A key split across deltas is masked as the Run masks it."""
        entry = self.running.get(index)
        if entry is None or entry[1] is not run:  # a late delta of an ended row or an earlier attempt
            return
        parts = self.tails[index]
        append_redacted(parts, text)
        if len(parts) > _FOLD:
            parts[:] = ["".join(parts)[-_KEEP:]]
        head = self.heads.get(index)
        if head is not None:
            head.take(text)

    def ended(self, index: int, model: str, row: dict[str, Any]) -> None:
        self.running.pop(index, None)
        self.tails.pop(index, None)
        self.heads.pop(index, None)
        stats = self.models.setdefault(model, _Model())
        if row.get("status") == "done":  # anything else failed: "error", "cancelled", "invalid" (not the JSON asked)
            self.done += 1
            stats.done += 1
        else:
            self.failed += 1
            stats.failed += 1
        if row.get("cached"):
            self.cached += 1
        else:
            ttft, e2el, out = row.get("ttft_s"), row.get("e2el_s"), row.get("output_tokens")
            if isinstance(ttft, float) and isinstance(e2el, float) and not (math.isnan(ttft) or math.isnan(e2el)):
                stats.timed += 1
                stats.ttft += ttft
                stats.e2el += e2el
            if isinstance(out, (int, float)) and not isinstance(out, bool) and out == out:
                stats.tokens += out
                self.tokens += out
        self.version += 1

    @property
    def finished(self) -> int:
        return self.done + self.failed

    def line(self) -> str:
        """One line: counts, rows per second, tokens per second, ETA."""
        elapsed = max(time.monotonic() - self.t0, 1e-9)
        rate = (self.finished - self.cached) / elapsed
        queued = self.total - self.finished - len(self.running)
        eta = f"{queued / rate + 0:.0f} s" if rate > 0 and self.finished < self.total else "—"
        cached = f" ({self.cached} cached)" if self.cached else ""
        return (f"{self.finished}/{self.total} done{cached} · {len(self.running)} running · {max(queued, 0)} queued"
                f" · {self.failed} failed · {rate:.1f} rows/s · {self.tokens / elapsed:.0f} tok/s · ETA {eta}")

    def model_rows(self) -> list[dict[str, Any]]:
        rows = []
        for name, m in self.models.items():
            rows.append({"model": name, "done": m.done, "failed": m.failed,
                         "ttft": f"{m.ttft / m.timed:.3f}" if m.timed else "—",
                         "e2el": f"{m.e2el / m.timed:.3f}" if m.timed else "—",
                         "tps": f"{m.tokens / m.e2el:.0f}" if m.e2el > 0 else "—"})
        return rows

    def state(self) -> dict[str, Any]:
        rows = []
        for i, (label, _run) in itertools.islice(self.running.items(), SHOWN):
            row: dict[str, Any] = {"label": label, "text": "".join(self.tails[i])[-TAIL:].replace("\n", " ")}
            if self.structured:
                row["fields"] = self.heads[i].fields()
            rows.append(row)
        return {"line": self.line(), "pct": 100.0 * self.finished / self.total if self.total else 100.0,
                "rows": rows, "models": self.model_rows()}


class SweepView:
    """Follows a sweep: a widget in a notebook, a progress line on a terminal."""

    def __init__(self, jobs: list[Any], param_names: list[str], *, out: TextIO | None = None,
                 notebook: bool | None = None, stop_button: bool = False, structured: bool = False) -> None:
        """``stop_button``: only where the kernel hears a click while the sweep runs (an
        awaited sweep); a blocking ``sweep()`` stops on Interrupt. ``structured``: the
        answers are JSON (``response_format=``), whose fields the shown rows show."""
        self.progress = Progress(total=len(jobs), structured=structured)
        for job in jobs:  # the latency table lists models as they were asked for, not as they ended
            self.progress.models.setdefault(job.model, _Model())
        self.param_names = param_names
        self._lock = threading.Lock()
        self._shown_version = -1
        self._stop_cb: Callable[[], None] | None = None
        self._inbox: deque[tuple[int, Run, str]] = deque()  # answer deltas, from the I/O loop to the ticker
        self._over = threading.Event()
        self._out = out or sys.stderr
        self._notebook = in_notebook() if notebook is None else notebook
        self._widget: Any = None
        self._handle: Any = None
        self.view_error: Exception | None = None
        if self._notebook:
            from IPython.display import display

            from nbstream.views.live import widget_bundle

            self._widget = _make_widget(self._stop, stop_button)
            self._handle = display(widget_bundle(self._widget), raw=True, display_id=True)
        context = contextvars.copy_context()  # what the thread sends has this cell as parent
        self._thread = threading.Thread(target=context.run, args=(self._tick,), daemon=True, name="nbstream-sweep")
        self._thread.start()

    def on_stop(self, callback: Callable[[], None]) -> None:
        self._stop_cb = callback

    def _stop(self) -> None:
        if self._stop_cb is not None:
            self._stop_cb()

    def _label(self, job: Any) -> str:
        params = " ".join(f"{k}={job.swept.get(k)}" for k in self.param_names)
        label = f"#{job.index} {job.model} {params}".strip()
        return label if len(label) <= LABEL else label[:LABEL - 1] + "…"  # it is sent again every update

    # ---- told by the runner (on the I/O loop's thread): note it, nothing more ----------------
    def started(self, job: Any, run: Run) -> None:
        with self._lock:
            self.progress.started(job.index, self._label(job), run)
        if self._notebook:
            index, inbox = job.index, self._inbox

            def grew(_run: Run, events: list[Event]) -> None:
                if self.view_error is not None:  # the ticker is gone: nothing would empty the inbox
                    return
                for ev in events:
                    if type(ev) is TextDelta and ev.choice == 0:
                        inbox.append((index, run, ev.text))
                self.progress.version += 1

            run.subscribe(grew)

    def ended(self, job: Any, row: dict[str, Any]) -> None:
        with self._lock:
            self.progress.ended(job.index, job.model, row)

    # ---- the ticker ------------------------------------------------------------------------
    def _tick(self) -> None:
        try:
            while not self._over.wait(INTERVAL_S):
                self._show()
            self._show(final=True)
        except Exception as exc:  # noqa: BLE001 - a view never breaks the sweep
            self.view_error = exc
            self._inbox.clear()

    def _show(self, final: bool = False) -> None:
        with self._lock:
            inbox = self._inbox
            for _ in range(len(inbox)):  # deque append/popleft are atomic: nothing is lost meanwhile
                self.progress.grew(*inbox.popleft())
            if self.progress.version == self._shown_version and not final:
                return
            self._shown_version = self.progress.version
            state: dict[str, Any] = self.progress.state() if self._notebook else {"line": self.progress.line()}
        if self._widget is not None:
            state["over"] = final
            self._widget.state = json.dumps(state)
        elif not self._notebook:
            self._out.write("\r\x1b[2K" + _bar(self.progress) + " " + terminal(state["line"]) + ("\n" if final else ""))
            self._out.flush()

    def close(self) -> None:
        """Stop the ticker; in a notebook the widget gives way to the static summary (what
        the saved notebook keeps)."""
        self._over.set()
        self._thread.join(5)
        if self._handle is not None:
            with self._lock:
                bundle = summary_bundle(self.progress)
            from IPython.display import display

            display(bundle, raw=True, metadata={"nbstream": {"sweep": True, "rows": self.progress.total}})
            self._handle.update({}, raw=True)  # the widget's place is left empty (as the run view does)
            self._widget.close()


def summary_bundle(progress: Progress) -> dict[str, str]:
    """The static summary: the progress line and the per-model latency table, as Markdown
    (every value through ``render.md_text``) and plain text (the line)."""
    line = progress.line().replace(" · ETA —", "").replace(" · 0 running · 0 queued", "")
    head = ["model", "done", "failed", "mean TTFT", "mean E2E", "output"]
    md = [f"**sweep** {md_text(line)}", "", "| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for r in progress.model_rows():
        cells = [r["model"], r["done"], r["failed"], _unit(r["ttft"], "s"), _unit(r["e2el"], "s"),
                 _unit(r["tps"], "tok/s")]
        md.append("| " + " | ".join(md_text(c) for c in cells) + " |")
    return {"text/markdown": "\n".join(md if len(md) > 4 else md[:1]), "text/plain": terminal(f"sweep {line}")}


def _bar(progress: Progress, width: int = 20) -> str:
    """``[#######-------------]``: the share of rows finished."""
    filled = width * progress.finished // progress.total if progress.total else width
    return "[" + "#" * filled + "-" * (width - filled) + "]"


def _unit(value: str, unit: str) -> str:
    return value if value == "—" else f"{value} {unit}"


def _make_widget(on_stop: Callable[[], None], stop_button: bool) -> Any:
    import anywidget
    import traitlets

    static = Path(__file__).parent / "_static"

    class SweepWidget(anywidget.AnyWidget):
        """The sweep's live panel."""

        _esm = static / "sweep.js"
        _css = static / "sweep.css"
        state = traitlets.Unicode("{}").tag(sync=True)
        show_stop = traitlets.Bool(False).tag(sync=True)

        def __repr__(self) -> str:
            return "SweepWidget()"

    widget = SweepWidget(show_stop=stop_button)

    def handle(_w: Any, content: Any, _buffers: Any) -> None:
        if isinstance(content, dict) and content.get("t") == "stop":
            on_stop()

    widget.on_msg(handle)
    return widget
