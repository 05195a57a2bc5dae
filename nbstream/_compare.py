"""``%%stream --compare``: several runs side by side in one wrapping grid, each with its
own live pane (status line, error banner); when the last one ends the grid gives way to
one static answer per run, in the order they were asked."""

from __future__ import annotations

import asyncio
import threading

from IPython.display import display

from ._live import NotebookView, live_enabled, static_output, widget_bundle
from .run import Run


class CompareView:
    def __init__(self, runs: list[tuple[Run, str | None]], *, raw: bool = False, stop_button: bool = False,
                 render: bool = True) -> None:
        self.panes = [NotebookView(run, prompt=prompt, raw=raw, stop_button=stop_button, render=render,
                                   standalone=False) for run, prompt in runs]
        self._handle = None
        self._box = None
        self._lock = threading.Lock()
        self._left = len(self.panes)
        self._done = threading.Event()

    def start(self) -> "CompareView":
        for pane in self.panes:
            pane.start()
            pane.run.subscribe(self._on_events)
        if live_enabled():
            import ipywidgets

            for pane in self.panes:
                pane.widget.layout = ipywidgets.Layout(flex="1 1 360px", min_width="300px", margin="0 0.5em 0.5em 0",
                                                       border="1px solid var(--jp-border-color2, #ddd)",
                                                       padding="0.4em")
            self._box = ipywidgets.Box([pane.widget for pane in self.panes],
                                       layout=ipywidgets.Layout(display="flex", flex_flow="row wrap",
                                                                align_items="stretch", width="100%"))
            self._handle = display(widget_bundle(self._box), raw=True, display_id=True)
        return self

    def _on_events(self, run: Run, events) -> None:
        if not run.done:
            return
        with self._lock:
            self._left -= 1
            last = self._left == 0
        if last:
            self._finish()

    def _finish(self) -> None:
        for pane in self.panes:  # every run has ended: wait for each pane's final message
            pane.join()
        for pane in self.panes:  # static answers first: the cell is never blank
            bundle, metadata = static_output(pane.run, prompt=pane.prompt, title=pane.run.label, raw=pane.raw)
            display(bundle, raw=True, metadata=metadata)
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
