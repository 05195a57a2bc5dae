"""A kernel restart mid-stream in JupyterLab: the cell stops claiming to stream, and the
notebook saved afterwards reopens with the partial answer readable and no widget error;
the same after the kernel is killed (no chance to say goodbye)."""

from __future__ import annotations

import os
import re
import signal
import subprocess

import pytest
from _checks import saved_notebook

pytestmark = pytest.mark.browser

SLOW_LONG = "-m demo-long -p demo.tps=30"
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"


def restart_kernel(server, name: str) -> None:
    """Restart the notebook's kernel through the server's REST API (no dialog)."""
    (session,) = [s for s in server.api("GET", "/api/sessions").json() if s["path"].endswith(name)]
    response = server.api("POST", f"/api/kernels/{session['kernel']['id']}/restart")
    assert response.status_code == 200, response.text


def streaming_with_partial_saved(opener, name: str):
    """A slow stream in cell 1 of a new notebook, once its partial answer has been saved
    into the fallback output (hidden while the live view lives)."""
    nb = opener(name, [f"%%stream {SLOW_LONG}\nExplain SSE slowly"])
    nb.setup()
    nb.run_cell(1, wait=False)
    nb.wait_live(1, 300)
    nb.wait_for("(a) => { const o = window.__nbs.outputOf(a.p, 1); "
                "const f = o && o.querySelector('[data-nbs-partial]');"
                " return f && f.innerText.length > 200 && f.getClientRects().length === 0; }")
    return nb


def saved_outputs(server, name: str, index: int) -> list:
    return saved_notebook(server.root / name, index).cells[index].outputs


def saved_with_the_partial_answer(nb, server) -> None:
    """Save: cell 1 holds no widget reference and keeps the partial answer, said interrupted."""
    nb.save()
    outputs = saved_outputs(server, nb.name, 1)
    assert not any(WIDGET_MIME in o.get("data", {}) for o in outputs), outputs
    kept = [o["data"]["text/plain"] for o in outputs if "text/plain" in o.get("data", {})
            and re.search("stream interrupted|stopped after", o["data"]["text/plain"])]
    assert kept and max(len(text) for text in kept) > 200, outputs


def test_a_kernel_restart_mid_stream_ends_the_streaming_state_and_keeps_the_partial_answer(lab, lab_server, artifacts):
    nb = streaming_with_partial_saved(lab, "restart.ipynb")
    restart_kernel(lab_server, nb.name)
    # the cell stops claiming to stream: the heartbeat went silent ("stream interrupted"), or
    # the kernel cancelled the run as it shut down and said so ("stopped after N tokens")
    nb.wait_for("(a) => { const o = window.__nbs.outputOf(a.p, 1); "
                "return o && /stream interrupted|stopped after/.test(o.innerText); }")
    nb.cell(1).screenshot(path=artifacts / "lab_restarted.png")
    saved_with_the_partial_answer(nb, lab_server)  # the kernel dropped the widget as it shut down
    nb.page.close()

    again = lab("restart.ipynb", [])
    again.wait_for("(a) => { const o = window.__nbs.outputOf(a.p, 1); "
                   "const shown = o && [...o.querySelectorAll('[data-nbs-partial], [data-nbs-final]')]"
                   ".filter((f) => f.getClientRects().length > 0 && f.innerText.length > 200); "
                   "return shown && shown.length > 0; }")
    # the widget manager has restored what it could (a widget reference would now say so)
    again.wait_for("(a) => !/Loading widget/.test(window.__nbs.outputOf(a.p, 1).innerText)")
    again.cell(1).screenshot(path=artifacts / "lab_restarted_reopened.png")
    shown = again.output_text(1)
    assert re.search("stream interrupted|stopped after", shown), shown
    assert "Error displaying widget" not in shown, shown


def kill_kernel(server, name: str) -> None:
    """SIGKILL the notebook's kernel process: no atexit, no last message (a crash)."""
    (session,) = [s for s in server.api("GET", "/api/sessions").json() if s["path"].endswith(name)]
    found = subprocess.run(["pgrep", "-f", f"kernel-{session['kernel']['id']}.json"],
                           capture_output=True, text=True, check=False).stdout.split()
    assert len(found) == 1, f"the kernel's process: {found}"
    os.kill(int(found[0]), signal.SIGKILL)


@pytest.mark.parametrize("front", ["lab", "nb7"])
def test_a_kernel_killed_mid_stream_leaves_the_partial_answer_and_no_widget_error_on_reopen(front, request,
                                                                                            artifacts):
    opener = request.getfixturevalue(front)
    server = request.getfixturevalue({"lab": "lab_server", "nb7": "notebook_server"}[front])
    nb = streaming_with_partial_saved(opener, "killed.ipynb")
    kill_kernel(server, nb.name)
    # the front end learns of the death when the server restarts the kernel; the view then
    # drops its own widget reference from the cell, and the fallback (partial answer) shows
    nb.wait_for("(a) => { const o = window.__nbs.outputOf(a.p, 1); "
                "const f = o && o.querySelector('[data-nbs-partial]'); "
                "return f && f.getClientRects().length > 0 && !o.querySelector('.nbs:not(.nbs-static)'); }")
    nb.cell(1).screenshot(path=artifacts / f"{front}_killed.png")
    saved_with_the_partial_answer(nb, server)
    nb.page.close()

    again = opener("killed.ipynb", [])
    again.wait_for("(a) => { const o = window.__nbs.outputOf(a.p, 1); "
                   "const shown = o && [...o.querySelectorAll('[data-nbs-partial]')]"
                   ".filter((f) => f.getClientRects().length > 0 && f.innerText.length > 200); "
                   "return shown && shown.length > 0; }")
    again.cell(1).screenshot(path=artifacts / f"{front}_killed_reopened.png")
    shown = again.output_text(1)
    assert "stream interrupted" in shown, shown
    assert "Error displaying widget" not in shown and "Loading widget" not in shown, shown


NOTICE = "before any of the answer was saved"
LIVE = "(a) => { const o = window.__nbs.outputOf(a.p, 1); return o && o.querySelector(a.arg); }"


def killed_leaves_a_notice(lab, server, name: str, cell: str, started: str) -> None:
    """Run ``cell``, kill the kernel once the live view shows ``started`` (a selector), then
    save and reopen: the notice in place of the widget reference, no widget error."""
    nb = lab(name, [cell])
    nb.setup()
    nb.run_cell(1, wait=False)
    nb.wait_for(LIVE, arg=started)
    kill_kernel(server, nb.name)
    shows_notice = f"(a) => /{NOTICE}/.test(window.__nbs.outputOf(a.p, 1).innerText)"
    nb.wait_for(shows_notice)
    nb.save()
    outputs = saved_outputs(server, nb.name, 1)
    assert not any(WIDGET_MIME in o.get("data", {}) for o in outputs), outputs
    nb.page.close()

    again = lab(name, [])
    again.wait_for(shows_notice)
    shown = again.output_text(1)
    assert "Error displaying widget" not in shown and "Loading widget" not in shown, shown


def test_a_kernel_killed_before_any_answer_leaves_a_notice_not_a_widget_error(lab, lab_server):
    killed_leaves_a_notice(lab, lab_server, "killed_early.ipynb", "%%stream -m demo -p demo.ttft=600\nExplain SSE",
                           ".nbs:not(.nbs-static) .nbs-status-text")


def test_a_kernel_killed_mid_comparison_leaves_a_notice_not_a_widget_error(lab, lab_server):
    killed_leaves_a_notice(lab, lab_server, "killed_compare.ipynb",
                           "%%stream --compare -m demo-long -m demo-long -p demo.tps=30\nExplain SSE",
                           ".nbs:not(.nbs-static) .nbs-answer p")
