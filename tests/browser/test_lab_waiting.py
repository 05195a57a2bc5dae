"""The status line of a silent run in JupyterLab: while the first token is slow, the
elapsed time ticks and, past two seconds, the line says what it waits on — driven by the
widget's own clock, not by messages from the kernel."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser

# Every status bar text shown in cell 1 before any answer text, collected across polls.
SEEN_WHILE_WAITING = r"""(a) => {
  const out = window.__nbs.outputOf(a.p, 1);
  const bar = out && out.querySelector('.nbs .nbs-status');
  const answer = out && out.querySelector('.nbs .nbs-answer');
  const seen = (window.__waiting = window.__waiting || []);
  const text = bar ? bar.innerText.replace(/\s+/g, ' ').trim() : '';
  if (text && answer && !answer.innerText.trim() && !seen.includes(text)) seen.push(text);
  const said = seen.some((t) => t.includes('headers received, waiting for the first token'));
  const ticks = new Set(seen.map((t) => (t.match(/· (\d+\.\d) s/) || [])[1]).filter(Boolean));
  return said && ticks.size >= 2 ? seen : false;
}"""


def test_the_status_line_ticks_and_says_what_it_waits_on_before_a_slow_first_token(lab, artifacts):
    nb = lab("waiting.ipynb", ["%%stream -o slow -p demo.ttft=6\nExplain SSE"])
    nb.setup()
    nb.run_cell(1, wait=False)
    seen = nb.wait_for(SEEN_WHILE_WAITING, timeout=60)
    nb.cell(1).screenshot(path=artifacts / "lab_waiting.png")
    assert any(t.startswith("demo · streaming · waiting for the first token · ") for t in seen), seen
    nb.wait_final(1)
    assert "waiting" not in nb.output_text(1)
