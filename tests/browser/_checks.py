"""Checks shared by the JupyterLab and Notebook 7 tests."""

from __future__ import annotations

import itertools
import re
from pathlib import Path


def streams_live(nb, artifacts: Path, shot: str) -> None:
    """Run cell 1 (a ``%%stream`` cell) while sampling every state of the page: the answer
    must grow in several steps before the static answer replaces it, with a status line
    showing the TTFT and tokens/s. Screenshots ``{shot}_live.png`` (if the page is looked
    at while still live) and ``{shot}_final.png``."""
    nb.setup()
    nb.start_sampler(1)
    nb.run_cell(1, wait=False)
    if nb.wait_live_or_final(1, 400):
        nb.page.screenshot(path=artifacts / f"{shot}_live.png")
    nb.wait_final(1)
    samples = nb.stop_sampler()
    assert samples[-1]["final"], samples[-1]
    live = [s for s in samples if s["live"] and not s["final"]]
    steps = sum(1 for a, b in itertools.pairwise(live) if b["live"] > a["live"])
    assert steps >= 5, f"the answer grew in {steps} steps: {[s['live'] for s in live]}"
    assert live[0]["live"] < live[-1]["live"] / 2
    statuses = [s["status"] or "" for s in live]
    assert any(re.search(r"TTFT \d+ ms .* [\d.]+ tok/s", s) for s in statuses), statuses
    nb.page.screenshot(path=artifacts / f"{shot}_final.png")


def saved_notebook(path, cell: int, deadline_s: float = 90.0):
    """The notebook at ``path`` once JupyterLab's save has put outputs in ``cell``, read
    again until then: a file caught mid-write (empty, or half of it) counts as not saved yet."""
    import time

    import nbformat

    deadline = time.monotonic() + deadline_s  # a hang guard: the wait is for the saved outputs
    while True:
        try:
            saved = nbformat.read(path, as_version=4)
            if saved.cells[cell].outputs or time.monotonic() > deadline:
                return saved
        except (OSError, ValueError):
            if time.monotonic() > deadline:
                raise
        time.sleep(0.2)
