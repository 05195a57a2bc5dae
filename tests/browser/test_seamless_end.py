"""The end of a stream is invisible: every animation frame across the switch from the
live widget to the saved answer shows the answer exactly once (never twice, never
nowhere) and the output's height does not jump, in JupyterLab and Notebook 7 — for a
plain answer, a long one, one with reasoning, and ``--compare`` panes."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser

TOLERANCE_PX = 12  # status-line and wrapper differences; a doubled answer is hundreds of px

# Records, on every animation frame, the height of the cell's output area and how many
# live answers and saved answers are visible in it.
FRAMES_JS = """(a) => {
  const frames = [];
  let on = true;
  const visible = (n) => n.getClientRects().length > 0;
  const tick = () => {
    if (!on) return;
    const out = window.__nbs.outputOf(a.p, a.i);
    if (out) {
      const live = [...out.querySelectorAll('.nbs:not(.nbs-static) .nbs-answer')].filter(visible).length;
      const saved = [...out.querySelectorAll('.nbs-static .nbs-answer')].filter(visible).length;
      frames.push({ h: Math.round(out.getBoundingClientRect().height), live, saved });
    }
    requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
  window.__frames = { frames, stop: () => { on = false; return frames; } };
}"""

CASES = {
    "plain": ("%%stream -p demo.tps=120\nExplain SSE", 1),
    "long": ("%%stream -m demo-long -p demo.tps=600 -p demo.ttft=0.05\nExplain SSE at length", 1),
    "reasoning": ("%%stream -m demo-reasoning -p demo.tps=150\nWhy?", 1),
    "compare": ("%%stream -m demo -m demo-fast --compare -p demo.tps=150\nExplain SSE", 2),
}


def switch_frames(nb, source: str) -> list[dict]:
    """Run the cell while sampling every frame; the frames from the first live one on."""
    nb.setup()
    nb.js(FRAMES_JS, {"p": nb.name, "i": 1})
    nb.run_cell(1, wait=False)
    nb.wait_final(1, timeout=120)
    nb.wait_finished(1, timeout=60)
    # a few more frames after the end, to see anything that happens after the switch
    nb.wait_for("(a) => { const f = window.__frames.frames; const n = f.length; "
                "return n > 30 && f.slice(n - 30).every((x) => x.saved > 0); }", timeout=60)
    frames = nb.js("() => window.__frames.stop()")
    first_live = next(i for i, f in enumerate(frames) if f["live"])
    return frames[first_live:]


def check_seamless(frames: list[dict], panes: int) -> None:
    assert any(f["live"] == panes for f in frames), "the live view never showed"
    switch = next(i for i, f in enumerate(frames) if f["saved"])
    double = [i for i, f in enumerate(frames) if f["live"] and f["saved"]]
    blank = [i for i, f in enumerate(frames) if not f["live"] and not f["saved"]]
    assert not double, f"{len(double)} frames show the answer twice, e.g. {frames[double[0]]}"
    assert not blank, f"{len(blank)} frames show no answer, e.g. frame {blank[0]} of {len(frames)}"
    assert all(f["saved"] == panes for f in frames[switch:]), "the saved answer went away"
    live_h = frames[switch - 1]["h"]
    after = [f["h"] for f in frames[switch:]]
    assert min(after) >= live_h - TOLERANCE_PX, f"the output shrank at the switch: {live_h} -> {min(after)} px"
    assert after[0] <= live_h + TOLERANCE_PX, f"the output grew at the switch: {frames[switch - 3:switch + 3]}"


@pytest.mark.parametrize("case", list(CASES))
def test_the_switch_to_the_saved_answer_is_invisible_in_lab(lab, case):
    source, panes = CASES[case]
    nb = lab(f"seamless-{case}.ipynb", [source])
    check_seamless(switch_frames(nb, source), panes)


@pytest.mark.parametrize("case", list(CASES))
def test_the_switch_to_the_saved_answer_is_invisible_in_notebook7(nb7, case):
    source, panes = CASES[case]
    nb = nb7(f"seamless-{case}.ipynb", [source])
    check_seamless(switch_frames(nb, source), panes)
