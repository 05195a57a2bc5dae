"""A kernel restart mid-stream in JupyterLab: the cell stops claiming to stream, and the
notebook saved afterwards reopens with the partial answer readable and no widget error."""

from __future__ import annotations

import time

import nbformat
import pytest

pytestmark = pytest.mark.browser

SLOW_LONG = "-m demo-long -p demo.tps=30"
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"


def restart_kernel(server, name: str) -> None:
    """Restart the notebook's kernel through the server's REST API (no dialog)."""
    (session,) = [s for s in server.api("GET", "/api/sessions").json() if s["path"].endswith(name)]
    response = server.api("POST", f"/api/kernels/{session['kernel']['id']}/restart")
    assert response.status_code == 200, response.text


def saved_outputs(server, name: str, index: int) -> list:
    path = server.root / name
    deadline = time.monotonic() + 20
    outputs: list = []
    while time.monotonic() < deadline:
        outputs = nbformat.read(path, as_version=4).cells[index].outputs
        if outputs:
            break
        time.sleep(0.2)
    return outputs


def test_a_kernel_restart_mid_stream_ends_the_streaming_state_and_keeps_the_partial_answer(lab, lab_server, artifacts):
    nb = lab("restart.ipynb", [f"%%stream {SLOW_LONG}\nExplain SSE slowly"])
    nb.setup()
    nb.run_cell(1, wait=False)
    nb.wait_live(1, 300)
    # the partial answer has been saved into the fallback output (hidden while the view lives)
    nb.wait_for("(a) => { const o = window.__nbs.outputOf(a.p, 1); const f = o && o.querySelector('[data-nbs-partial]');"
                " return f && f.innerText.length > 200 && f.getClientRects().length === 0; }", 30)
    restart_kernel(lab_server, nb.name)
    nb.wait_for("(a) => { const o = window.__nbs.outputOf(a.p, 1); return o && /stream interrupted/.test(o.innerText); }", 30)
    nb.cell(1).screenshot(path=artifacts / "lab_restarted.png")
    nb.command("docmanager:save")
    outputs = saved_outputs(lab_server, nb.name, 1)
    partial = [o for o in outputs if "data-nbs-partial" in o.get("data", {}).get("text/html", "")]
    assert not any(WIDGET_MIME in o.get("data", {}) for o in outputs)  # the kernel dropped it as it shut down
    assert len(partial) == 1 and "stream interrupted" in partial[0]["data"]["text/plain"]
    assert partial[0]["metadata"]["nbstream"]["partial"] is True
    assert len(partial[0]["data"]["text/plain"]) > 200
    nb.page.close()

    again = lab("restart.ipynb", [])
    again.wait_for("(a) => { const o = window.__nbs.outputOf(a.p, 1); const f = o && o.querySelector('[data-nbs-partial]');"
                   " return f && f.getClientRects().length > 0 && f.innerText.length > 200; }", 30)
    # the widget manager has restored what it could (a widget reference would now say so)
    again.wait_for("(a) => !/Loading widget/.test(window.__nbs.outputOf(a.p, 1).innerText)", 30)
    again.cell(1).screenshot(path=artifacts / "lab_restarted_reopened.png")
    shown = again.output_text(1)
    assert "stream interrupted" in shown
    assert "Error displaying widget" not in shown, shown
