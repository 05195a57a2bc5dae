"""nbstream in a real JupyterLab in headless Chromium: the answer grows live, the final
Markdown is the Run's text, Interrupt and Stop end a stream cleanly, untrusted HTML
stays inert, reasoning and tool calls show while they stream, a view opened mid-stream
catches up, and the saved notebook reopens with the answer rendered. Screenshots go to
test-artifacts/browser/ (look at them)."""

from __future__ import annotations

import pytest
from _checks import saved_notebook, streams_live

# a hang guard for a loaded machine (every wait inside is for a state)
pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
SLOW_LONG = "-m demo-long -p demo.tps=30"  # 2,002 tokens: about 67 s
STATE_TIMEOUT_MS = 90_000  # a hang guard for waits on states

NO_TRACEBACK_JS = """(a) => {
  const out = window.__nbs.outputOf(a.p, a.i);
  return !out.querySelector('[data-mime-type="application/vnd.jupyter.stderr"], '
                            + '[data-mime-type="application/vnd.jupyter.error"]')
    && !/Traceback|KeyboardInterrupt|CancelledError/.test(out.innerText);
}"""


def test_the_answer_grows_live_with_a_status_line(lab, artifacts):
    nb = lab("live.ipynb", ["%%stream -o run -p demo.tps=40 -p demo.ttft=0.3\nExplain Server-Sent Events"])
    streams_live(nb, artifacts, "lab")


def test_the_final_markdown_shows_exactly_the_runs_text(lab):
    nb = lab("exact.ipynb", ["%%stream -o run -p demo.tps=400\nExplain Server-Sent Events"])
    nb.setup()
    nb.run_cell(1)
    nb.wait_final(1)
    text = nb.kernel_json("run.text")
    assert len(text) > 300
    assert nb.answer_words(1) == nb.markdown_words(text)


def test_interrupt_keeps_the_partial_answer_and_shows_no_traceback(lab, artifacts):
    nb = lab("interrupt.ipynb", [f"%%stream -o cut {SLOW_LONG}\nExplain SSE slowly"])
    nb.setup()
    nb.run_cell(1, wait=False)
    nb.wait_live(1, 200)
    nb.command("kernelmenu:interrupt")
    nb.wait_final(1)
    nb.wait_finished(1)
    nb.cell(1).screenshot(path=artifacts / "lab_interrupted.png")
    assert "stopped after" in nb.output_text(1)
    assert nb.js(NO_TRACEBACK_JS, {"p": nb.name, "i": 1}), nb.output_text(1)
    status, text = nb.kernel_json("[cut.status, cut.text]")
    assert status == "cancelled"
    shown = nb.answer_words(1)
    assert len(shown) > 20 and shown == nb.markdown_words(text)[:len(shown)]


def test_the_stop_button_stops_a_background_stream(lab, artifacts):
    nb = lab("stop.ipynb", [f"%%stream --bg -o bg {SLOW_LONG}\nExplain SSE slowly"])
    nb.setup()
    nb.run_cell(1)  # --bg: the cell returns at once, the stream goes on
    nb.wait_live(1, 200)
    stop = nb.cell(1).locator(".nbs-stop")
    assert stop.is_visible()
    nb.page.screenshot(path=artifacts / "lab_bg_live.png")
    stop.click()
    nb.wait_final(1)
    assert nb.kernel_json("bg.status") == "cancelled"
    assert "stopped after" in nb.output_text(1)
    nb.cell(1).screenshot(path=artifacts / "lab_bg_stopped.png")


def test_untrusted_html_never_runs_live_saved_or_clicked(lab, artifacts):
    nb = lab("xss.ipynb", ["%%stream -m demo-xss -p demo.tps=30\nShow me HTML"])
    nb.setup()
    nb.start_sampler(1, needle="<script>window.__xss=1</script>")
    nb.run_cell(1, wait=False)
    nb.wait_final(1)
    samples = nb.stop_sampler()  # every state the cell went through, the final one last
    live = [s for s in samples if s["live"] and not s["final"]]
    assert live and samples[-1]["final"]
    assert any(s["needle"] for s in live), "the <script> was not shown as text while live"
    assert [s["xss"] for s in samples if s["xss"] is not None] == []
    shown = nb.output_text(1)
    assert "<script>window.__xss=1</script>" in shown and 'onerror="window.__xss=1"' in shown
    assert "[click](javascript:window.__xss=1)" in shown  # the link is shown as text: nothing to click
    assert nb.static(1).locator("a", has_text="click").count() == 0
    pages = len(nb.page.context.pages)
    nb.js("() => { window.__same_page = true; }")  # gone if the click navigated away
    nb.static(1).get_by_text("click").first.click()  # a link if one survived, else its text
    nb.kernel_json("1")  # a later state: the page has since talked to the kernel and back
    assert nb.js("() => [window.__same_page, typeof window.__xss]") == [True, "undefined"]
    assert len(nb.page.context.pages) == pages, "the click opened a window"
    nb.cell(1).screenshot(path=artifacts / "lab_xss_final.png")


def test_reasoning_streams_open_then_folds_when_the_answer_starts(lab, artifacts):
    nb = lab("reasoning.ipynb", ["%%stream -m demo-reasoning -p demo.tps=40\nWhy stream?"])
    nb.setup()
    nb.start_sampler(1)
    nb.run_cell(1, wait=False)
    reasoning_shown = nb.wait_for(
        "(a) => { const o = window.__nbs.outputOf(a.p, a.arg); "
        "const r = o && o.querySelector('.nbs:not(.nbs-static) .nbs-reasoning'); "
        "if (r && !r.hidden && r.open && r.innerText.length > 80) return 'reasoning'; "
        "const ans = o && o.querySelector('.nbs:not(.nbs-static) .nbs-answer'); "
        "return (ans && ans.innerText.length > 0) || window.__nbs.isFinal(a.p, a.arg) ? 'later' : false; }", arg=1)
    if reasoning_shown == "reasoning":  # screenshots when the page is looked at in time
        nb.cell(1).screenshot(path=artifacts / "lab_reasoning_live.png")
    if nb.wait_live_or_final(1, 200):
        nb.page.screenshot(path=artifacts / "lab_reasoning_answer_live.png")
    nb.wait_final(1)
    samples = nb.stop_sampler()
    thinking = [s for s in samples if s["reasoning"] and s["reasoning"]["open"]]
    assert thinking, "the reasoning was never shown open"
    assert {s["reasoning"]["summary"] for s in thinking} == {"Reasoning…"}
    assert not any(s["live"] for s in thinking), "the reasoning stayed open after the answer started"
    assert len({s["reasoning"]["chars"] for s in thinking}) >= 2, "the reasoning did not stream"
    answering = [s for s in samples if s["live"] and not s["final"]]
    assert answering and all(s["reasoning"] and not s["reasoning"]["open"] and s["reasoning"]["summary"] == "Reasoning"
                             for s in answering), answering[:3]
    assert nb.static(1).locator("details summary").first.inner_text() == "Reasoning"
    nb.cell(1).screenshot(path=artifacts / "lab_reasoning_final.png")


def test_a_tool_call_fills_in_a_card_live(lab, artifacts):
    nb = lab("tools.ipynb", ["%%stream -m demo-tools -p demo.tps=4\nWhat is the weather in Paris?"])
    nb.setup()
    nb.start_sampler(1)
    nb.run_cell(1, wait=False)
    card_shown = nb.wait_for("(a) => { const o = window.__nbs.outputOf(a.p, a.arg); "
                             "if (o && o.querySelector('.nbs-tool:not([hidden])')) return 'card'; "
                             "return window.__nbs.isFinal(a.p, a.arg) ? 'final' : false; }", arg=1)
    if card_shown == "card":
        nb.cell(1).screenshot(path=artifacts / "lab_tool_live.png")
    nb.wait_final(1)
    cards = [s["tool"] for s in nb.stop_sampler() if s["tool"] and not s["final"]]
    assert cards and all("get_weather" in c["name"] for c in cards)
    args = [c["args"] for c in cards]
    assert len(set(args)) >= 2 and args[-1] == '{"city": "Paris"}', f"the arguments did not fill in live: {args}"
    assert all(args[-1].startswith(a) for a in args)
    final = nb.output_text(1)
    assert "get_weather" in final and '{"city": "Paris"}' in final
    nb.cell(1).screenshot(path=artifacts / "lab_tool_final.png")


def test_a_view_opened_mid_stream_shows_the_answer_so_far(lab, artifacts):
    nb = lab("late.ipynb", [f"%%stream {SLOW_LONG}\nExplain SSE slowly"])
    nb.setup()
    nb.run_cell(1, wait=False)
    nb.wait_live(1, 300)
    nb.command("notebook:create-output-view")  # Lab's "Create New View for Output"
    late = nb.page.locator(".jp-LinkedOutputView .nbs:not(.nbs-static) .nbs-answer")
    late.wait_for(timeout=STATE_TIMEOUT_MS)
    nb.wait_for("() => { const v = document.querySelector('.jp-LinkedOutputView .nbs:not(.nbs-static) .nbs-answer');"
                " return v && v.innerText.length > 300; }")
    original = nb.cell(1).locator(".nbs:not(.nbs-static) .nbs-answer").inner_text()
    copy = late.inner_text()
    assert copy[:300] == original[:300]
    nb.page.screenshot(path=artifacts / "lab_late_view.png")
    nb.command("kernelmenu:interrupt")
    nb.wait_final(1)


def test_a_saved_notebook_reopens_with_the_answer_rendered(lab, lab_server, artifacts):
    nb = lab("saved.ipynb", ["%%stream -p demo.tps=400\nExplain Server-Sent Events"])
    nb.setup()
    nb.run_cell(1)
    nb.wait_final(1)
    nb.save()
    path = lab_server.root / "saved.ipynb"
    outputs = saved_notebook(path, 1).cells[1].outputs
    assert "text/markdown" in outputs[-1]["data"] and WIDGET_MIME not in outputs[-1]["data"]
    nb.page.close()
    again = lab("saved.ipynb", [])
    answer = again.static(1)
    answer.locator("h2").wait_for(timeout=STATE_TIMEOUT_MS)
    assert answer.locator("table td").count() >= 4
    assert "Error displaying widget" not in again.output_text(1)
    again.cell(1).screenshot(path=artifacts / "lab_reopened.png")
