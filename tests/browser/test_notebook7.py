"""nbstream in Notebook 7 (``jupyter notebook``) in headless Chromium: the same live view
as in JupyterLab — the answer grows in steps with a status line, then the static
Markdown shows exactly the Run's text."""

from __future__ import annotations

import pytest
from _checks import streams_live

# a hang guard for a loaded machine (every wait inside is for a state)
pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]


def test_the_answer_grows_live_then_shows_exactly_the_runs_text(nb7, artifacts):
    nb = nb7("live7.ipynb", ["%%stream -o run -p demo.tps=40 -p demo.ttft=0.3\nExplain Server-Sent Events"])
    streams_live(nb, artifacts, "nb7")
    text = nb.kernel_json("run.text")
    assert len(text) > 300
    assert nb.answer_words(1) == nb.markdown_words(text)
