"""The live widget: an anywidget model plus a tiny ES module view (``_static/live.js``).

Python sends throttled deltas as custom messages; the front end appends finished
Markdown blocks once and replaces only the open tail. Each message carries a sequence
number; the view asks for a full resync if one went missing (IOPub can drop messages
under load). Traits hold only small, slowly changing things (prompt, toggles).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import anywidget
import traitlets

__all__ = ["LiveWidget"]

_STATIC = Path(__file__).parent / "_static"


class LiveWidget(anywidget.AnyWidget):
    """One stream's live view in the front end."""

    _esm = _STATIC / "live.js"
    _css = _STATIC / "live.css"
    prompt_html = traitlets.Unicode("").tag(sync=True)
    show_raw = traitlets.Bool(False).tag(sync=True)
    show_stop = traitlets.Bool(False).tag(sync=True)
    title = traitlets.Unicode("").tag(sync=True)  # a --compare pane's label (set as text)
    final_id = traitlets.Unicode("").tag(sync=True)  # marks the static answer that replaces this view

    def __init__(self, on_stop: Callable[[], None] | None = None, on_resync: Callable[[], None] | None = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._on_stop = on_stop
        self._on_resync = on_resync
        self.on_msg(self._handle)

    def _handle(self, _widget: Any, content: dict, _buffers: Any) -> None:
        kind = content.get("t") if isinstance(content, dict) else None
        if kind == "stop" and self._on_stop is not None:
            self._on_stop()
        elif kind == "resync" and self._on_resync is not None:
            self._on_resync()

    def __repr__(self) -> str:  # stable: nbval compares text/plain, never an address
        return "LiveWidget()"
