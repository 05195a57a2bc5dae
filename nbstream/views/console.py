"""The plain-text view for terminals and scripts: deltas printed as they arrive, then
the final status line (and the error, if any). Everything printed passes
``_render.terminal``: model and server text cannot move the cursor, retitle the window or
write the clipboard.

On a terminal (``isatty``) a ticker thread also shows what a silent run waits on: an
updating status line before the first output (``demo · streaming · connecting · 2.4 s``)
and a dim ``no data for N s`` after the cursor during a stall, each erased before the
next text. Piped output never gets either: only the answer and the final line.
"""

from __future__ import annotations

import shutil
import sys
import threading
import time
from typing import TextIO

from nbstream._secrets import Settled
from nbstream.events import Event, ReasoningDelta, TextDelta, ToolCallDelta
from nbstream.run import Run
from nbstream.views import status as _status
from nbstream.views.render import terminal

__all__ = ["TICK_S", "attach"]

TICK_S = 0.2


def attach(run: Run, out: TextIO | None = None) -> None:
    """Print ``run``'s answer to ``out`` (stdout) live; reasoning is prefixed once."""
    stream = out or sys.stdout
    state = {"reasoning": False, "text": False}
    ticker = _Ticker(run, stream) if _isatty(stream) else None

    text, reasoning = Settled(), Settled()  # a key split across deltas masked as it prints

    def on_events(r: Run, events: list[Event]) -> None:
        pieces: list[str] = []
        for ev in events:
            if type(ev) is TextDelta and ev.choice == 0:
                if state["reasoning"] and not state["text"]:
                    pieces.append(terminal(reasoning.finish()) + "\n\n")
                state["text"] = True
                pieces.append(terminal(text.feed(ev.text)))
            elif type(ev) is ReasoningDelta and ev.choice == 0 and not state["text"]:
                if not state["reasoning"]:
                    pieces.append("[reasoning] ")
                    state["reasoning"] = True
                pieces.append(terminal(reasoning.feed(ev.text)))
        if r.done:
            pieces.append(terminal(reasoning.finish() + text.finish()))
            line = _status.final(r)
            if r.error is not None and r.status != "cancelled":
                line += f"\n{r.error}"
            pieces.append("\n" + terminal(line) + "\n")
        if ticker is not None:
            ticker.write("".join(pieces), events, done=r.done)
        elif pieces:
            stream.write("".join(pieces))
            stream.flush()

    run.subscribe(on_events)
    if ticker is not None:
        ticker.start()


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # closed or not a real file
        return False


class _Ticker:
    """Writes the answer and, while the run is silent, the waiting line or stall hint.

    All writes go through one lock, so the ticker thread and the pump never interleave
    a partial escape sequence."""

    def __init__(self, run: Run, stream: TextIO) -> None:
        self.run = run
        self.stream = stream
        self.lock = threading.Lock()
        self.first_token_ns: int | None = None
        self.n_tokens = 0
        self.column = 0  # of the cursor on its line (approximate: tabs and wide characters)
        self.shown = ""  # what the status line / hint now shows ("" = nothing to erase)
        self.hint = False  # the hint sits after the text (saved cursor) instead of its own line
        self.done = threading.Event()

    def start(self) -> None:
        threading.Thread(target=self._loop, name="nbstream-ticker", daemon=True).start()

    def write(self, text: str, events: list[Event], *, done: bool) -> None:
        with self.lock:
            if any(type(ev) in (TextDelta, ReasoningDelta, ToolCallDelta) for ev in events):
                self.n_tokens += 1
                if self.first_token_ns is None:
                    self.first_token_ns = self.run.last_data_ns
            if done:
                self.done.set()
            if text or done:
                self._erase()
            if text:
                self.stream.write(text)
                cut = text.rfind("\n")
                self.column = len(text) - cut - 1 if cut >= 0 else self.column + len(text)
            self.stream.flush()

    def _loop(self) -> None:
        while not self.done.wait(TICK_S):
            with self.lock:
                if not self.done.is_set():
                    self._tick(time.perf_counter_ns())

    def _tick(self, now_ns: int) -> None:
        silent = (now_ns - self.run.last_data_ns) / 1e9
        if self.first_token_ns is None:
            text = terminal(_status.at(self.run, first_token_ns=None, n_token_chunks=0, now_ns=now_ns))
        else:
            text = _status.stall_hint(silent) if silent >= _status.QUIET_AFTER_S else ""
        if text == self.shown:
            return
        self._erase()
        width = shutil.get_terminal_size().columns
        if not text:
            pass
        elif self.column == 0:  # a line of its own: rewritten in place, erased before the next text
            text = text[:width - 1]
            self.stream.write(text)
            self.shown, self.hint = text, False
        elif self.column + len(text) + 4 < width:  # after the text, dim; the cursor stays put
            self.stream.write(f"\x1b7\x1b[2m  ⋯ {text}\x1b[0m\x1b8")
            self.shown, self.hint = text, True
        self.stream.flush()

    def _erase(self) -> None:
        if self.shown:
            self.stream.write("\x1b[K" if self.hint else "\r\x1b[2K")
            self.shown = ""
