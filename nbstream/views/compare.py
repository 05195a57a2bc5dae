"""``%%stream --compare``: several runs side by side in one wrapping grid, each with its
own live pane titled by its label (status line, error banner); when the last one ends
the grid gives way to ONE saved output holding the same grid (``text/html``), the
answers as titled sections one after another (``text/markdown``, which reads on GitHub)
and every run's metadata. The live grid hides itself the moment that output appears
(``final_id``), so the switch shows no frame with both or neither."""

from __future__ import annotations

import asyncio
import atexit
import threading
import uuid
from typing import Any

from IPython.display import display

from nbstream.events import Event
from nbstream.run import Run
from nbstream.views import render as _render
from nbstream.views.live import (
    SCHEMA,
    NotebookView,
    live_enabled,
    static_html,
    static_markdown,
    static_plain,
    text_html,
    widget_bundle,
)
from nbstream.views.live import _metadata as run_metadata

__all__ = ["CompareView", "GRID_STYLE", "PANE_STYLE", "compare_output"]


class CompareView:
    def __init__(self, runs: list[tuple[Run, str | None]], *, raw: bool = False, stop_button: bool = False,
                 render: bool = True) -> None:
        self.final_id = uuid.uuid4().hex
        self.panes = [NotebookView(run, prompt=prompt, raw=raw, stop_button=stop_button, render=render,
                                   standalone=False, title=_title(run), final_id=self.final_id)
                      for run, prompt in runs]
        self._handle = None
        self._box = None
        self._lock = threading.Lock()
        self._left = len(self.panes)
        self._done = threading.Event()

    def start(self) -> CompareView:
        for pane in self.panes:
            pane.start()
            pane.run.subscribe(self._on_events)
        if live_enabled():
            import ipywidgets

            for widget in (pane.widget for pane in self.panes if pane.widget is not None):
                widget.layout = ipywidgets.Layout(flex="1 1 360px", min_width="300px", margin="0 0.5em 0.5em 0",
                                                  border="1px solid var(--jp-border-color2, #ddd)",
                                                  padding="0.4em")
            # padding and margin as around the saved grid in Lab's HTML output: same pane widths
            self._box = ipywidgets.Box([pane.widget for pane in self.panes],
                                       layout=ipywidgets.Layout(display="flex", flex_flow="row wrap",
                                                                align_items="stretch", width="100%",
                                                                padding="0 20px 0 0", margin="0 0 0.5em 0"))
            self._handle = display(widget_bundle(self._box), raw=True, display_id=True)
            atexit.register(self._at_exit)  # after ipykernel's own exit hook, as a single view's
        return self

    def _on_events(self, run: Run, events: list[Event]) -> None:
        if not run.done:
            return
        with self._lock:
            self._left -= 1
            last = self._left == 0
        if last:
            self._finish()

    def _at_exit(self) -> None:
        """The kernel is shutting down mid-comparison (a restart): the grid's widget
        reference gives way to the panes as they are, so the saved notebook shows them
        (said interrupted) and no widget error."""
        try:
            if self._handle is not None and not self._done.is_set():
                bundle, metadata = compare_output(self.panes, self.final_id, partial=True)
                self._handle.update(bundle, raw=True, metadata=metadata)
        except Exception:  # noqa: BLE001, S110 - the interpreter is going; nothing to report to
            pass

    def _finish(self) -> None:
        if self._handle is not None:
            atexit.unregister(self._at_exit)
        for pane in self.panes:  # every run has ended: wait for each pane's final message
            pane.join()
        bundle, metadata = compare_output(self.panes, self.final_id)
        display(bundle, raw=True, metadata=metadata)  # the live grid hides itself when this appears
        if self._handle is not None:
            self._handle.update({}, raw=True)
        if self._box is not None:
            for pane in self.panes:
                if pane.widget is not None:
                    pane.widget.close()
            self._box.close()
        self._done.set()

    async def finished(self) -> None:
        """Wait until the static answers are out (the last run's listener may run elsewhere)."""
        while not self._done.is_set():
            await asyncio.sleep(0.01)


def _title(run: Run) -> str:
    return run.label or run.model or "run"


def _plain_title(title: str | None) -> str:
    """A pane title for the saved ``text/plain``: terminal-safe, on one line."""
    return " ".join(_render.terminal(title or "").split())


# the live grid's layout (CompareView.start), as inline styles
GRID_STYLE = "display:flex;flex-flow:row wrap;align-items:stretch;width:100%"
PANE_STYLE = ("flex:1 1 360px;min-width:300px;margin:0 0.5em 0.5em 0;padding:0.4em;"
              "border:1px solid var(--jp-border-color2, #ddd)")


def compare_output(panes: list[NotebookView], final_id: str, *,
                   partial: bool = False) -> tuple[dict[str, str], dict[str, Any]]:
    """The saved form of a comparison: the panes' grid as HTML (inline styles, so it keeps
    its layout wherever HTML is shown), titled sections as Markdown, every run's metadata.
    ``partial``: the panes as they are now, each saying it was interrupted (a kernel going)."""
    partial_of = final_id if partial else None
    cells = "".join(static_html(p.run, prompt=p.prompt, title=p.title, raw=p.raw, pane_style=PANE_STYLE,
                                answer_html=p.partial_html() if partial else p.shown_html(), partial_of=partial_of)
                    for p in panes)
    marker = "data-nbs-partial" if partial else "data-nbs-final"
    grid = f'<div class="nbs-compare" {marker}="{text_html(final_id)}" style="{GRID_STYLE}">{cells}</div>'
    markdown = "\n\n---\n\n".join(static_markdown(p.run, prompt=p.prompt, title=p.title, raw=p.raw, partial=partial)
                                   for p in panes)
    plain = "\n\n".join(f"[{_plain_title(p.title)}]\n{static_plain(p.run, partial=partial)}" for p in panes)
    metadata: dict[str, Any] = {"schema": SCHEMA, "compare": [run_metadata(p.run) for p in panes]}
    if partial:
        metadata["partial"] = True
    return {"text/html": grid, "text/markdown": markdown, "text/plain": plain}, {"nbstream": metadata}
