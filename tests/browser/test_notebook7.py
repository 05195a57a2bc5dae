"""nbstream in Notebook 7 (``jupyter notebook``) in headless Chromium: the same live view
as in JupyterLab — the answer grows in steps with a status line, then the static
Markdown shows exactly the Run's text."""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.browser


def test_the_answer_grows_live_then_shows_exactly_the_runs_text(nb7, artifacts):
    nb = nb7("live7.ipynb", ["%%stream -o run -p demo.tps=40 -p demo.ttft=0.3\nExplain Server-Sent Events"])
    nb.setup()
    nb.start_sampler(1)
    nb.run_cell(1, wait=False)
    nb.wait_live(1, 400)
    nb.page.screenshot(path=artifacts / "nb7_live.png")
    nb.wait_final(1)
    samples = nb.stop_sampler()
    live = [s for s in samples if s["live"] and not s["final"]]
    steps = sum(1 for a, b in zip(live, live[1:]) if b["live"] > a["live"])
    assert steps >= 5, f"the answer grew in {steps} steps: {[s['live'] for s in live]}"
    assert live[0]["live"] < live[-1]["live"] / 2
    assert any(re.search(r"TTFT \d+ ms .* [\d.]+ tok/s", s["status"] or "") for s in live)
    nb.page.screenshot(path=artifacts / "nb7_final.png")
    text = nb.kernel_json("run.text")
    assert len(text) > 300
    assert nb.answer_words(1) == nb.markdown_words(text)
