"""The live view's body for structured output (``response_format=``): the answer's JSON
shown as it fills in — the partial object pretty-printed, fields appearing as they
arrive — and at the end the whole answer; live and at the end, an answer that is no JSON
(prose, a preamble, trailing text) shows as its text, never as a blank view.

What it shows is untrusted model output: it reaches HTML only as a fenced code block
through :mod:`nbstream.views.render` (``md_fence`` + ``render_html``).

Cost: jiter re-reads the whole answer on each parse (it has no incremental mode), so
parsing on every token would cost O(n²). A parse runs only on the view's flush (every
50 ms at most), and then only when the time since the previous one is at least ten
times what that parse and render took (the first, which loads the highlighter, is not
counted): past a few hundred KB the view updates less often, and its work stays under
~10 % of a core however long the answer grows (a 2.9 MB answer parses in 0.16 s on the
CI machine). Live, at most ``LIVE_CHARS`` of the
pretty JSON are rendered; the final frame renders it all once.
"""

from __future__ import annotations

import json
import time
from typing import Any

from nbstream._secrets import append_redacted
from nbstream.events import Event, TextDelta
from nbstream.views import render as _render
from nbstream.wire import structured as _structured

__all__ = ["JsonBody", "LIVE_CHARS", "json_html", "json_line"]

LIVE_CHARS = 64_000


def json_html(value: Any, *, limit: int | None = None) -> str:
    """A decoded JSON value as safe HTML: pretty-printed in a ``json`` code block."""
    return _code_html(json.dumps(value, indent=2, ensure_ascii=False, default=str), "json", limit)


def json_line(value: Any, *, limit: int) -> str:
    """A decoded JSON value on one line (``{"label": "positive", "score": 0.9}``), cut to
    ``limit`` characters: the fields of a sweep's row as they fill in. Plain text: who
    shows it places it as text."""
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _code_html(text: str, lang: str, limit: int | None = None) -> str:
    if limit is not None and len(text) > limit:
        text = text[:limit] + f"\n… {len(text) - limit} more characters"
    return _render.render_html(_render.md_fence(text, lang))


class JsonBody:
    """``take`` the text deltas, ``flush`` -> ((), the partial JSON's HTML), ``whole``."""

    def __init__(self) -> None:
        self._parts: list[str] = []  # as the Run joins them: a key split across deltas masked
        self._n_taken = self._n_seen = 0
        self._tail = ""
        self._cost_ns = 0
        self._at_ns = 0
        self._warm = False

    def take(self, ev: Event) -> bool:
        if type(ev) is TextDelta:
            append_redacted(self._parts, ev.text)
            self._n_taken += 1
            return True
        return False

    def flush(self) -> tuple[list[str], str]:
        now = time.perf_counter_ns()
        if self._n_taken == self._n_seen or now - self._at_ns < 10 * self._cost_ns:
            return [], self._tail
        self._n_seen = self._n_taken
        text = "".join(self._parts)
        value = _structured.partial(text)
        if value is not None:
            self._tail = json_html(value, limit=LIVE_CHARS)
        elif text.strip():  # no JSON (yet): the text as it came
            self._tail = _code_html(text, "text", LIVE_CHARS)
        self._at_ns = time.perf_counter_ns()
        # the first parse pays one-off loads (the highlighter's lexer): no measure of the next
        self._cost_ns = self._at_ns - now if self._warm else 0
        self._warm = True
        return [], self._tail

    def whole(self) -> str:
        """The finished answer: pretty JSON when it parses, else its text in a code block."""
        text = "".join(self._parts)
        if not text:
            return ""
        try:
            return json_html(_structured.loads(text))
        except (ValueError, RecursionError):
            return _code_html(text, "text")
