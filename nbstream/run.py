"""The Run: one stream's accumulated answer, its status, its record, and a way to stop it.

A Run is filled by a pump (``nbstream.engine.pump``) one wire message at a time and read by
views and the recorder. It never looks at wire formats: only normalized events. Text
that arrived stays in the Run whatever happens after — error, cancel, dropped connection.
"""

from __future__ import annotations

import asyncio
import math
import operator
import sys
import threading
import time
import uuid
from array import array
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, overload

from nbstream import errors
from nbstream._secrets import _REGISTRY as _SECRETS
from nbstream._secrets import (
    append_redacted,
    redact,
    redact_value,
    scrub,
    scrub_exception,
)
from nbstream.events import (
    Done,
    ErrorEvent,
    Event,
    Finish,
    Meta,
    Other,
    ReasoningDelta,
    RefusalDelta,
    TextDelta,
    ToolCallDelta,
    Usage,
)
from nbstream.wire import registry as _formats
from nbstream.wire import structured as _structured
from nbstream.wire.framing import Message, sse_size

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["SOURCES", "STATUSES", "Events", "Listener", "Record", "Records", "Run", "ToolCall"]

STATUSES = ("streaming", "done", "cancelled", "error", "incomplete")
#: Where a run's messages come from: our own LLM request, an SSE feed (``url=``), an SDK
#: or HTTP response handed to ``show()``, a Python iterator, an Agents SDK run, a recording.
SOURCES = ("request", "feed", "sdk", "iterator", "agents", "replay")
_LEGACY_SOURCES = {"sse": "feed", "agents": "agents", "text": "iterator", "auto": "iterator"}


@dataclass
class ToolCall:
    """A tool call assembled from its fragments; ``arguments`` is JSON text."""

    index: int
    id: str | None = None
    name: str | None = None
    arguments: str = ""


@dataclass(slots=True, repr=False)
class Record:
    """One received wire message with the events it produced (the recorder's raw input).
    Equal by value: ``run.records`` builds each one when asked, so two reads of the same
    message are equal objects, not the same one."""

    message: Message
    events: list[Event]

    def __repr__(self) -> str:
        return f"Record({self.message!r}, {self.events!r})"


class _Same:
    """The class itself marks a message whose one event is ``Other`` holding the message
    itself (a generic feed), in the run's compact event column."""


class Records(Sequence[Record]):
    """``run.records``: every received message, oldest first, read from the run's compact
    columns (one ``Record`` is built when asked for). ``len``, indexing and slicing are as
    cheap as a list's; the run keeps no per-message objects of its own."""

    __slots__ = ("_run",)

    def __init__(self, run: Run) -> None:
        self._run = run

    def __len__(self) -> int:
        return len(self._run._t)

    @overload
    def __getitem__(self, i: int) -> Record: ...
    @overload
    def __getitem__(self, i: slice) -> list[Record]: ...

    def __getitem__(self, i: int | slice) -> Record | list[Record]:
        at = self._run._record_at
        if isinstance(i, slice):
            return [at(j) for j in range(*i.indices(len(self)))]
        n = len(self)
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError("record index out of range")
        return at(i)

    def __iter__(self) -> Iterator[Record]:
        at = self._run._record_at
        return (at(j) for j in range(len(self)))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Sequence) and list(self) == list(other)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return repr(list(self))


class Events(Sequence[Event]):
    """``run.events``: every normalized event of the run in arrival order, read from the
    run's compact columns (a plain text delta is kept as its string until asked for)."""

    __slots__ = ("_run",)

    def __init__(self, run: Run) -> None:
        self._run = run

    def __len__(self) -> int:
        return self._run._n_events

    @overload
    def __getitem__(self, i: int) -> Event: ...
    @overload
    def __getitem__(self, i: slice) -> list[Event]: ...

    def __getitem__(self, i: int | slice) -> Event | list[Event]:
        if isinstance(i, slice):
            return list(self)[i]
        n = len(self)
        i = operator.index(i)
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError("event index out of range")
        # walk the messages' event counts (no events built) from the nearer end
        run, encs = self._run, self._run._ev
        if i < n // 2:
            at, before = 0, 0
            while before + _n_of(encs[at]) <= i:
                before += _n_of(encs[at])
                at += 1
        else:
            at, before = len(encs) - 1, n - _n_of(encs[-1])
            while before > i:
                at -= 1
                before -= _n_of(encs[at])
        enc = encs[at]
        return _unpack(enc, run._name[at], run._data_at(at) if enc is _Same else None, run._id[at])[i - before]

    def __iter__(self) -> Iterator[Event]:
        run = self._run
        n = len(run._ev)  # appended last: the other columns hold at least n entries
        encs, names, ids = run._ev[:n], run._name[:n], run._id[:n]
        for i in range(n):
            enc = encs[i]
            if enc.__class__ is str:  # the common case, without a call
                yield TextDelta(enc)
            else:
                yield from _unpack(enc, names[i], run._data_at(i) if enc is _Same else None, ids[i])

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Sequence) and list(self) == list(other)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return repr(list(self))


def _pack(events: list[Event], message: Message) -> Any:
    """A message's events in their compact form: the text of a lone first-choice text
    delta, None for none, ``_Same`` for a generic feed's ``Other``, the one event, or the list."""
    if len(events) == 1:
        ev = events[0]
        cls = ev.__class__
        if cls is TextDelta and ev.choice == 0:  # type: ignore[union-attr]
            return ev.text  # type: ignore[union-attr]
        if (cls is Other and ev.type == message.name and ev.data is message.data  # type: ignore[union-attr]
                and ev.id == message.id):  # type: ignore[union-attr]
            return _Same
        return ev
    return list(events) if events else None


def _n_of(enc: Any) -> int:
    """How many events a compact form stands for."""
    return len(enc) if enc.__class__ is list else 0 if enc is None else 1


def _unpack(enc: Any, name: str, data: Any, msg_id: str | None) -> list[Event]:
    """The events a compact form stands for (new objects, equal to the ones received)."""
    cls = enc.__class__
    if cls is str:
        return [TextDelta(enc)]
    if enc is None:
        return []
    if cls is list:
        return list(enc)
    if enc is _Same:
        return [Other(type=name, data=data, id=msg_id)]
    return [enc]


def _clean(name: str, data: str, msg_id: str | None, text: str) -> bool:
    """Whether the secrets boundary (``scrub``) would leave a plain text delta's message
    as it is: no registered secret in its data, name, id or decoded text, and no ``\\u``
    escape in the data that could spell one (``redact`` returns its argument itself
    when it masks nothing)."""
    return ("\\u" not in data and redact(data) is data and redact(text) is text and redact(name) is name
            and (msg_id is None or redact(msg_id) is msg_id))


Listener = Callable[["Run", list[Event]], None]

#: keep="summary": rows are folded into the summary and dropped once this many are held.
FOLD_ROWS = 4096


class Run:
    """One stream. Read ``text``, ``reasoning``, ``tool_calls``, ``usage``,
    ``finish_reason``, ``status`` and ``error``; call ``cancel()`` to stop it."""

    def __init__(self, *, model: str | None = None, base_url: str | None = None,
                 source: str | None = None, wire_format: str | None = None, api: str | None = None,
                 prompt: Any = None, params: dict | None = None, tokenizer: str | None = None) -> None:
        """``source`` is one of :data:`SOURCES`; ``wire_format`` a name in
        ``nbstream.wire.registry.FORMATS``, or None for items that are no wire messages
        (text, Agents SDK events). ``api`` is the older single label, split into both."""
        if api is not None:
            source = source or _LEGACY_SOURCES.get(api, "request")
            wire_format = wire_format or (None if api in ("text", "agents") else api)
        source = source or "iterator"
        if source not in SOURCES:
            raise ValueError(f"source must be one of {', '.join(SOURCES)}; got {source!r}")
        self.run_id = uuid.uuid4().hex
        self.model = model
        self.base_url = redact(base_url) if base_url else base_url
        self.source: str = source
        self.wire_format: str | None = wire_format
        self.prompt = redact_value(prompt)  # what is shown and saved; the request has its own copy
        self.params = redact_value(dict(params or {}))
        self.status = "streaming"
        self.error: errors.NBStreamError | None = None
        self.http_status: int | None = None
        self.finish_reason: str | None = None
        self.finish_reason_raw: str | None = None  # the provider's own word (Anthropic's end_turn…)
        self.stop_sequence: str | None = None  # the stop string that ended the answer (Anthropic says which)
        self.usage: Usage | None = None
        self.response_id: str | None = None
        self.response_model: str | None = None
        self.reconnects = 0
        self.tokenizer = tokenizer  # token estimates in the tables (the session's setting at start)
        self.label: str | None = None  # a short name for side-by-side views (model · T=…)
        # the record, one entry per received message in parallel columns: no object per
        # message (read through ``records`` / ``events``; tables built from them on demand)
        self._t = array("q")  # arrival time (perf_counter_ns of the read)
        self._ri = array("i")  # read index
        self._nb: array[int] | None = None  # bytes on the wire; None while every one is SSE-sized
        self._name: list[str] = []
        self._blob = bytearray()  # text payloads, UTF-8, one after another (no object each)
        self._end = array("q")  # where each message's payload ends in _blob
        self._objects: dict[int, Any] = {}  # payloads that are no text (decoded objects), by message
        self._id: list[str | None] = []
        self._ev: list[Any] = []  # the message's events, compact (see _pack)
        self._n_events = 0
        # keep="summary": every FOLD_ROWS rows are folded into summary aggregates and dropped
        self._folder: Callable[[Run, int], None] | None = None
        self._folded: dict[str, Any] | None = None
        self._n_dropped = 0
        self._last_dropped_t: int | None = None
        self.started_at = datetime.now(UTC)
        self.t0_ns = time.perf_counter_ns()
        self.phase: str | None = None  # our own requests: "connecting" → "sent" → "headers"
        self.t_sent_ns: int | None = None  # the request was written on a connection
        self.t_headers_ns: int | None = None
        self.t_end_ns: int | None = None
        self._t_body_end_ns: int | None = None  # our own request's body ended cleanly then
        self.sum_usage = False  # agent runs report one usage per model turn
        self._text: dict[int, list[str]] = {}
        self._reasoning: list[str] = []
        self._refusal: list[str] = []
        self._tools: dict[int, ToolCall] = {}
        self._terminal: str | None = None  # the Done status the protocol sent
        self._ended = False  # the status is settled (listeners are told next)
        self._finished = threading.Event()  # ...and every listener has finished (views included)
        self._cancel_requested = False
        self._pipe_closed = False  # a view's output pipe closed (see _tell)
        self._canceller: Callable[[], None] | None = None
        self._listeners: list[Listener] = []
        self._end_hooks: list[Callable[[Run], None]] = []  # told of the end before any listener
        self._task: asyncio.Task | None = None  # set when the run fills on the caller's loop
        self._row: dict[str, Any] | None = None
        self.response_format: _structured.JsonSchema | None = None  # set for response_format=
        self._json: _structured.Outcome | None = None

    # ---- what the user reads -------------------------------------------------------
    @property
    def api(self) -> str | None:
        """One label for both fields, as recorded in ``run.summary``'s ``api`` column and in
        recordings: the wire format, else ``"agents"`` or ``"text"`` for plain items."""
        if self.wire_format is not None:
            return self.wire_format
        return "agents" if self.source == "agents" else "text"

    @property
    def text(self) -> str:
        """The answer so far (first choice)."""
        return "".join(self._text.get(0, ()))

    @property
    def texts(self) -> list[str]:
        """The answer of every choice, by index (``n > 1``)."""
        return ["".join(self._text.get(i, ())) for i in range(max(self._text, default=-1) + 1)]

    @property
    def reasoning(self) -> str:
        return "".join(self._reasoning)

    @property
    def refusal(self) -> str:
        return "".join(self._refusal)

    @property
    def tool_calls(self) -> list[ToolCall]:
        return [self._tools[i] for i in sorted(self._tools)]

    @property
    def done(self) -> bool:
        """True once the run has ended, whatever its status."""
        return self._ended

    def wait(self, timeout: float | None = None) -> Run:
        """Block until the run ends (for runs started with ``block=False``)."""
        if not self._finished.wait(timeout):
            raise TimeoutError(f"run still streaming after {timeout} s; call run.cancel() to stop it")
        return self

    def __await__(self) -> Generator[Any, None, Run]:
        """``await run`` waits for the end without blocking the event loop."""
        return self._wait_async().__await__()

    async def _wait_async(self) -> Run:
        task = self._task
        if task is not None and task.get_loop() is asyncio.get_running_loop():
            try:
                await task  # not shielded: interrupting the waiter stops the stream too
            except asyncio.CancelledError:
                current = asyncio.current_task()
                if current is not None and current.cancelling():
                    raise
            return self
        while not self._finished.is_set():
            await asyncio.sleep(0.01)
        return self

    def cancel(self) -> None:
        """Stop the stream: the connection closes, text received so far stays."""
        self._cancel_requested = True
        if self._canceller is not None and not self.done:
            self._canceller()

    def raise_for_status(self) -> Run:
        """Raise ``run.error`` if the run failed; return the run otherwise."""
        if self.error is not None and self.status in ("error", "incomplete"):
            raise self.error
        return self

    # ---- structured output and cost ------------------------------------------------------
    @property
    def json(self) -> Any:
        """With ``response_format``: the answer parsed as JSON — once ended, strictly (None
        and ``json_error`` set when it is not valid JSON); while streaming, as far as it got."""
        if self.response_format is None:
            return None
        if not self.done:
            return _structured.partial(self.text)
        return self._json_outcome().value

    @property
    def parsed(self) -> Any:
        """With a pydantic model as ``response_format``: the validated instance, else None."""
        return self._json_outcome().parsed if self.done and self.response_format is not None else None

    @property
    def json_error(self) -> str | None:
        """Why the ended answer is no valid JSON, or does not validate (one line); else None."""
        return self._json_outcome().error if self.done and self.response_format is not None else None

    def _json_outcome(self) -> _structured.Outcome:
        if self._json is None:
            assert self.response_format is not None
            self._json = _structured.final(self.text, self.response_format, finish_reason=self.finish_reason)
        return self._json

    @property
    def cost_usd(self) -> float | None:
        """What the run cost in US dollars (genai-prices), None when the model or provider is
        unknown (the demo endpoint, local servers): see ``nbstream.data.cost``."""
        value = self.summary_row().get("cost_usd")
        return value if isinstance(value, float) else None

    # ---- the record -----------------------------------------------------------------------
    @property
    def records(self) -> Records:
        """Every received wire message with its events, oldest first (a read-only sequence)."""
        return Records(self)

    @property
    def events(self) -> Events:
        """Every normalized event, in arrival order (a read-only sequence)."""
        return Events(self)

    def _data_at(self, i: int) -> Any:
        """Message ``i``'s payload as received."""
        if i in self._objects:
            return self._objects[i]
        return self._blob[self._end[i - 1] if i else 0:self._end[i]].decode("utf-8", "surrogatepass")

    def _record_at(self, i: int) -> Record:
        name, data, msg_id = self._name[i], self._data_at(i), self._id[i]
        n_bytes = -1 if self._nb is None else self._nb[i]
        return Record(Message(self._t[i], self._ri[i], name, data, msg_id,
                              n_bytes if n_bytes >= 0 else sse_size(name, data)),
                      _unpack(self._ev[i], name, data, msg_id))

    def _keep_summary(self, folder: Callable[[Run, int], None]) -> None:
        """Keep counters and timing statistics only (``keep="summary"``): ``folder(run, n)``
        folds the first ``n`` rows into ``_folded`` and drops them (see ``_drop_head``)."""
        self._folder = folder

    @property
    def keep(self) -> str:
        """``"all"`` (every received message kept) or ``"summary"`` (rows folded and dropped)."""
        return "all" if self._folder is None else "summary"

    def _maybe_fold(self) -> None:
        if self._folder is not None and len(self._ev) >= FOLD_ROWS:
            self._folder(self, len(self._ev))

    def _drop_head(self, n: int) -> None:
        """Forget the first ``n`` received messages (already folded into the summary)."""
        if n <= 0:
            return
        self._last_dropped_t = self._t[n - 1]
        cut = self._end[n - 1]
        del self._blob[:cut]
        self._end = array("q", [e - cut for e in self._end[n:]])
        self._n_events -= sum(map(_n_of, self._ev[:n]))
        for column in (self._t, self._ri, self._name, self._id, self._ev):
            del column[:n]
        if self._nb is not None:
            del self._nb[:n]
        if self._objects:
            self._objects = {i - n: v for i, v in self._objects.items() if i >= n}
        self._n_dropped += n

    @property
    def n_received(self) -> int:
        """Wire messages received so far (also those a ``keep="summary"`` run folded away)."""
        return self._n_dropped + len(self._ev)

    def _dropped_error(self, what: str) -> ValueError:
        return ValueError(f"{what} was not kept: this run streamed with keep='summary' (counters and "
                          "timing statistics only, in run.summary); stream with keep='all' for per-event rows")

    @property
    def chunks(self) -> pd.DataFrame:
        """One row per received wire message: arrival time, read index, deltas, tokens…
        (definitions in :mod:`nbstream.data.record`)."""
        from nbstream.data import record

        if self.keep == "summary":
            raise self._dropped_error("run.chunks")

        return record.chunks(self, tokenizer=self.tokenizer)

    @property
    def summary(self) -> pd.Series:
        """This run's row: TTFT, ITL statistics, tokens/s, usage, outcome (see ``nbstream.runs()``)."""

        from nbstream.data import record

        return record.frame([self.summary_row()]).iloc[0]

    def summary_row(self) -> dict[str, Any]:
        """The summary as a plain dict; computed once the run has ended."""
        from nbstream.data import record

        if self._row is not None:
            return self._row
        row = record.summary_row(self, tokenizer=self.tokenizer)
        if self.done:
            self._row = row
        return row

    def save(self, path: str | Path) -> str:
        """Save the raw timed wire messages to ``path`` (JSONL) for ``nbstream.replay``."""
        from nbstream.engine import replay as _replay

        if self.keep == "summary":
            raise self._dropped_error("the recording (run.save)")
        return str(_replay.save(self, path))

    def plot(self, ax: Any = None) -> Any:
        """Token arrivals over time with TTFT marked, and the ITL distribution (matplotlib)."""
        from nbstream.views.plots import plot_run

        return plot_run(self, ax=ax)

    def subscribe(self, listener: Listener) -> None:
        """Call ``listener(run, events)`` after each wire message, with an empty list when
        the connection ``phase`` changes, and once at the end with an empty list (then
        ``run.done`` is True)."""
        self._listeners.append(listener)

    @property
    def last_data_ns(self) -> int:
        """When the last wire message arrived (t0 before the first): silence is counted from here."""
        if self._t:
            return self._t[-1]
        return self._last_dropped_t if self._last_dropped_t is not None else self.t0_ns

    def __repr__(self) -> str:
        bits = [self.status, repr(self.response_model or self.model)]
        if self.text:
            bits.append(f"{len(self.text)} chars")
        if self.finish_reason:
            bits.append(f"finish={self.finish_reason!r}")
        if self.error is not None:
            bits.append(f"error={type(self.error).__name__}")
        ttft = self.summary_row().get("ttft_s") if self.done else None
        if ttft is not None and not math.isnan(ttft):
            bits.append(f"TTFT {ttft * 1000:.0f} ms" if ttft < 1 else f"TTFT {ttft:.2f} s")
        return f"<Run {' '.join(bits)}>"

    def _repr_markdown_(self) -> str:
        """The answer as safe Markdown, with its status line (what the notebook view saves)."""
        from nbstream.views import markdown as _markdown
        from nbstream.views import render as _render
        from nbstream.views import status as _status

        status = _status.final(self) if self.done else f"{self.model or 'stream'} · streaming"
        return _render.answer_markdown(_markdown.unwrap(self.text), status=status, error=self._shown_error())

    def _repr_html_(self) -> str:
        """The answer as safe HTML, with its status line."""
        from nbstream.views import markdown as _markdown
        from nbstream.views import render as _render
        from nbstream.views import status as _status

        status = _status.final(self) if self.done else f"{self.model or 'stream'} · streaming"
        return _render.answer_html(_markdown.unwrap(self.text), status=status, error=self._shown_error())

    def _shown_error(self) -> str | None:
        if self.error is None or self.status == "cancelled":
            return None
        return f"{type(self.error).__name__}: {self.error}"

    # ---- what the pump calls ---------------------------------------------------------
    def _enter_phase(self, phase: str) -> None:
        """A connection milestone of our own request: stamp it and tell the views, which
        show what the run is waiting on ("connecting" is entered before t0 is taken)."""
        self.phase = phase
        if phase == "connecting":  # provisional: the pump restarts the clock once the views know
            self.t0_ns = time.perf_counter_ns()
            self.t_sent_ns = self.t_headers_ns = None  # a retried request starts over
        elif phase == "sent":
            self.t_sent_ns = time.perf_counter_ns()
        elif phase == "headers":
            self.t_headers_ns = time.perf_counter_ns()
        self._tell([])

    def _receive(self, message: Message, events: list[Event]) -> None:
        message, events = scrub(message, events)  # the secrets boundary: nothing past here sees a key
        n_bytes = message.n_bytes
        if self._nb is not None:
            self._nb.append(n_bytes)
        elif n_bytes != -1:
            self._nb = array("q", [-1]) * len(self._ev)
            self._nb.append(n_bytes)
        self._t.append(message.t_ns)
        self._ri.append(message.read_idx)
        self._name.append(message.name)
        data = message.data
        if data.__class__ is str:
            self._blob += data.encode("utf-8", "surrogatepass")
        else:
            self._objects[len(self._end)] = data
        self._end.append(len(self._blob))
        self._id.append(message.id)
        self._ev.append(_pack(events, message))
        self._n_events += len(events)
        for ev in events:
            self._apply(ev)
        self._tell(events)
        if self._folder is not None:
            self._maybe_fold()

    def _receive_sse(self, events: list[tuple[str, str, str, int | None]], t_ns: int, read_idx: int,
                     feed: Callable[[str, Any, str | None], Any]) -> None:
        """The SSE events framed from one read (``(event, data, last id, retry)``), adapted
        by ``feed`` — an adapter's ``feed_fast``, which answers a message whose one event is
        ``TextDelta(text)`` (choice 0) with ``text`` alone: the bulk of every answer is
        then recorded without any per-message object. Anything else, or a message that
        redaction could change while secrets are registered (see :func:`_clean`), takes
        :meth:`_receive` and its boundary. The hot path."""
        t_add, ri_add = self._t.append, self._ri.append
        name_add, end_add, id_add, ev_add = self._name.append, self._end.append, self._id.append, self._ev.append
        blob = self._blob
        parts = self._text.get(0)
        listeners = self._listeners
        for name, data, last_id, _retry in events:
            msg_id = last_id or None
            out = feed(name, data, msg_id)
            secrets = _SECRETS.forms
            if out.__class__ is not str or secrets and not _clean(name, data, msg_id, out):
                # n_bytes -1: SSE-sized when asked, unless redaction may change the data
                n_bytes = sse_size(name, data) if secrets else -1
                self._receive(Message(t_ns, read_idx, name, data, msg_id, n_bytes),
                              [TextDelta(out)] if out.__class__ is str else out)
                parts = self._text.get(0)
                continue
            if self._nb is not None:
                self._nb.append(-1)  # SSE framing: sse_size(name, data), computed when asked
            t_add(t_ns)
            ri_add(read_idx)
            name_add(name)
            blob += data.encode()  # decoded with errors="replace": no surrogates
            end_add(len(blob))
            id_add(msg_id)
            ev_add(out)
            self._n_events += 1
            if parts is None:
                parts = self._text[0] = []
            if secrets:
                append_redacted(parts, out)  # a key split across two deltas
            else:
                parts.append(out)
            if listeners:
                self._tell([TextDelta(out)])
        if self._folder is not None:
            self._maybe_fold()

    def _tell(self, events: list[Event]) -> None:
        """Call every listener; one that raises is reported once on stderr and dropped,
        so a broken view never ends the stream nor reaches the caller's code. A closed
        output pipe (``… | head``: the reader left) is no view bug: the stream stops, and
        ``stream()``/``show()`` raise BrokenPipeError in the caller, as ``print`` would."""
        for listener in list(self._listeners):
            try:
                listener(self, events)
            except BrokenPipeError:
                self._listeners.remove(listener)
                self._pipe_closed = True
                self.cancel()
            except Exception as exc:
                self._listeners.remove(listener)
                name = getattr(listener, "__qualname__", type(listener).__name__)
                print(f"nbstream: a view of this run failed and was detached ({name}: "
                      f"{redact(f'{type(exc).__name__}: {exc}')[:300]}); the stream goes on",
                      file=sys.stderr)

    def _apply(self, ev: Event) -> None:
        if isinstance(ev, TextDelta):
            append_redacted(self._text.setdefault(ev.choice, []), ev.text)
        elif isinstance(ev, ReasoningDelta):
            if ev.choice == 0:
                append_redacted(self._reasoning, ev.text)
        elif isinstance(ev, ToolCallDelta):
            call = self._tools.get(ev.index)
            if call is None:
                call = self._tools[ev.index] = ToolCall(ev.index)
            call.id = call.id or ev.id
            call.name = call.name or ev.name
            arguments = [call.arguments]
            append_redacted(arguments, ev.arguments)
            call.arguments = "".join(arguments)
        elif isinstance(ev, RefusalDelta):
            append_redacted(self._refusal, ev.text)
        elif isinstance(ev, Usage):
            self.usage = _merge_usage(self.usage, ev, add=self.sum_usage)
        elif isinstance(ev, Finish):
            if ev.choice == 0 or self.finish_reason is None:
                self.finish_reason = ev.reason
                self.finish_reason_raw = ev.raw
                self.stop_sequence = ev.stop_sequence
        elif isinstance(ev, Meta):
            self.response_id = self.response_id or ev.id
            self.response_model = self.response_model or ev.model
        elif isinstance(ev, ErrorEvent):
            if ev.fatal and self.error is None:
                said = errors.one_line(ev.message)  # a server's text: one printable line
                self.error = errors.StreamError(f"the server reported an error mid-stream: {said}", code=ev.code,
                                                type=ev.type)
        elif isinstance(ev, Done):
            self._terminal = ev.status

    def _has_end_marker(self) -> bool:
        """Whether a complete stream of this run's format says so itself."""
        fmt = _formats.FORMATS.get(self.wire_format) if self.wire_format is not None else None
        return fmt is not None and fmt.end_marker

    def _finish(self, *, cancelled: bool = False, error: errors.NBStreamError | None = None) -> None:
        """Settle the status once the source is exhausted, failed or was cancelled.

        ``error`` is what ended the transport (None for a clean end of stream); an
        ``IncompleteStreamError`` there means the connection dropped mid-answer.
        """
        if self._ended:
            return
        body_end = self._t_body_end_ns if error is None and not (cancelled or self._cancel_requested) else None
        self.t_end_ns = time.perf_counter_ns() if body_end is None else body_end
        dropped = isinstance(error, errors.IncompleteStreamError)
        if error is not None and not dropped and self.error is None:
            scrub_exception(error)  # its cause's traceback (raise_for_status) shows no key either
            self.error = error
        if cancelled or self._cancel_requested:
            self.status = "cancelled"
        elif self.error is not None or self._terminal == "failed":
            self.status = "error"
        elif self._terminal == "incomplete":
            self.status = "incomplete"
        elif self._terminal is not None or self.finish_reason is not None:
            self.status = "done"
        elif not self._has_end_marker() and not dropped:
            self.status = "done"  # these sources have no end marker: a clean end is the end
        else:
            self.status = "incomplete"
            self.error = error or errors.IncompleteStreamError(
                "the stream ended before the server said it was finished "
                f"({len(self.text)} characters received, kept in run.text)")
        self._ended = True
        try:
            for hook in self._end_hooks:
                hook(self)
            self._tell([])
        finally:
            self._finished.set()  # wait() returns only once the views are done too


def _merge_usage(old: Usage | None, new: Usage, *, add: bool) -> Usage:
    """Later usage replaces earlier (cumulative counts), field by field; agent runs add."""
    if old is None:
        return new

    def pick(a: Any, b: Any) -> Any:
        if add and a is not None and b is not None:
            return a + b
        return b if b is not None else a

    return Usage(
        input_tokens=pick(old.input_tokens, new.input_tokens),
        output_tokens=pick(old.output_tokens, new.output_tokens),
        total_tokens=pick(old.total_tokens, new.total_tokens),
        reasoning_tokens=pick(old.reasoning_tokens, new.reasoning_tokens),
        cached_tokens=pick(old.cached_tokens, new.cached_tokens),
        server={**old.server, **new.server},
    )
