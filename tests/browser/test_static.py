"""The static-only path in Chromium: where no widget manager runs, a %%stream cell still
reads as its answer. A notebook executed with ``NBSTREAM_LIVE=0`` and a default (live)
notebook converted by ``jupyter nbconvert --to html`` are opened with every page script
blocked (a ``script-src 'none'`` policy): the answer's text, table and code must be
there, with no widget placeholder or error text; model HTML stays inert where scripts
may run; and a Voila-served notebook shows the answer."""

from __future__ import annotations

import importlib.util
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import nbformat
import pytest
from _kernel import SETUP, execute
from nbconvert import HTMLExporter

pytestmark = pytest.mark.browser

CELLS = ["%%stream -o answer\nExplain SSE", "%%stream -m demo-xss\nShow me HTML"]
NO_SCRIPTS = "script-src 'none'"
WIDGET_TROUBLE = ("Error displaying widget", "Loading widget", "model not found", "Traceback",
                  "application/vnd.jupyter.widget-view+json")


def _page_with(context, html: str, *, csp: str | None):
    """A page showing ``html`` from a made-up origin; nothing else is fetched."""
    page = context.new_page()
    headers = {"Content-Type": "text/html; charset=utf-8", **({"Content-Security-Policy": csp} if csp else {})}
    page.route("**/*", lambda route: route.fulfill(status=200, headers=headers, body=html)
               if route.request.url == "http://nbstream.test/page.html" else route.abort())
    page.goto("http://nbstream.test/page.html")
    return page


PROBE = "<script>window.__probe = 1</script>"  # proves the policy held: it must not run


def assert_no_script_ran(page) -> None:
    assert page.evaluate("() => [typeof window.__probe, typeof window.require, typeof window.MathJax]") == [
        "undefined", "undefined", "undefined"]


def assert_reads_as_the_answer(page) -> None:
    """The default demo answer: a paragraph, a table and a code block, as HTML elements."""
    body = page.locator("body").inner_text()
    assert "Here is a short, structured reply about Explain SSE." in body
    assert page.locator("table", has_text="paid per token").count() >= 1
    assert page.locator("pre", has_text="elapsed = time.perf_counter() - start").count() >= 1
    assert not [t for t in WIDGET_TROUBLE if t in body], body[:2000]


@pytest.fixture(scope="module")
def executed():
    """The cells run by nbclient twice: with the live view off, and by default (live)."""
    out = {}
    for live in ("0", "1"):
        with pytest.MonkeyPatch.context() as env:
            env.setenv("NBSTREAM_LIVE", live)  # the kernel nbclient starts inherits it
            out[live] = execute(CELLS)
    return out


def test_with_live_off_the_saved_notebook_holds_no_widget_and_reads_without_scripts(executed, browser_context):
    nb = executed["0"]
    assert not [o for c in nb.cells for o in c.get("outputs", []) if "application/vnd.jupyter.widget-view+json"
                in o.get("data", {}) or o["output_type"] == "error"]
    html, _ = HTMLExporter().from_notebook_node(nb)
    page = _page_with(browser_context, html.replace("</body>", PROBE + "</body>"), csp=NO_SCRIPTS)
    try:
        assert_reads_as_the_answer(page)
        assert_no_script_ran(page)
    finally:
        page.close()


def test_nbconvert_html_of_a_live_notebook_reads_without_scripts(executed, browser_context, tmp_path):
    path = tmp_path / "live.ipynb"
    nbformat.write(executed["1"], path)
    subprocess.run([sys.executable, "-m", "jupyter", "nbconvert", "--to", "html", str(path)], check=True,
                   capture_output=True, timeout=120)
    html = path.with_suffix(".html").read_text()
    page = _page_with(browser_context, html.replace("</body>", PROBE + "</body>"), csp=NO_SCRIPTS)
    try:
        assert_reads_as_the_answer(page)
        assert_no_script_ran(page)
    finally:
        page.close()


def test_model_html_in_nbconvert_output_stays_inert_where_scripts_may_run(executed, browser_context):
    html, _ = HTMLExporter().from_notebook_node(executed["1"])
    page = _page_with(browser_context, html, csp=None)  # page scripts allowed; the CDN is unreachable
    try:
        page.wait_for_load_state("load")
        body = page.locator("body").inner_text()
        assert "<script>window.__xss=1</script>" in body and 'onerror="window.__xss=1"' in body
        assert "[click](javascript:window.__xss=1)" in body  # the link is shown as text: nothing to follow
        assert page.locator("a", has_text="click").count() == 0
        page.get_by_text("[click](javascript:", exact=False).first.click()
        assert page.evaluate("() => typeof window.__xss") == "undefined"
        assert page.url.split("#")[0] == "http://nbstream.test/page.html"
    finally:
        page.close()


# ---- Voila ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def voila(request, tmp_path_factory):
    """``voila`` serving one notebook (the setup cell and a %%stream cell), isolated like the
    Jupyter servers of conftest.py; its URL."""
    if importlib.util.find_spec("voila") is None:  # as conftest's prerequisites: skip here, fail in CI
        message = "the Voila test needs voila (part of the browser extra): pip install -e '.[browser]'"
        if os.environ.get("CI", "").lower() in ("true", "1", "yes"):
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    conftest = request.config.pluginmanager.get_plugin(str(Path(__file__).with_name("conftest.py")))
    server = conftest.JupyterServer("voila", tmp_path_factory.mktemp("voila"))
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(src) for src in [SETUP, CELLS[0]]]
    nbformat.write(nb, server.root / "answer.ipynb")
    proc = None
    for _ in range(5):  # Voila cannot listen on port 0 and say which port it got: pick one, retry if taken
        proc, taken = _start_voila(server, conftest.SERVER_START_TIMEOUT)
        if not taken:
            break
    assert not taken, "five ports in a row were taken before Voila could listen"
    try:
        yield server.base
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start_voila(server, timeout: float) -> tuple[subprocess.Popen, bool]:
    """Start Voila on a free port; (process, whether the port was taken meanwhile)."""
    server.port = _free_port()
    server.base = f"http://127.0.0.1:{server.port}"
    log = server.log_path.open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "voila", "answer.ipynb", "--no-browser", f"--port={server.port}",
                             "--Voila.port_retries=0", "--Voila.ip=127.0.0.1", f"--Voila.root_dir={server.root}",
                             "--show_tracebacks=True"],
                            env=server._env(), cwd=server.root, stdout=log, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            tail = server.log_tail()
            if "Address already in use" in tail or "Errno 98" in tail:
                return proc, True
            raise AssertionError(f"voila exited with {proc.returncode}:\n{tail}")
        assert time.monotonic() < deadline, f"voila did not answer:\n{server.log_tail()}"
        try:
            if httpx.get(f"{server.base}/api/status", timeout=5).status_code < 500:
                return proc, False
        except httpx.HTTPError:
            time.sleep(0.25)


def test_voila_shows_the_answer_of_a_stream_cell(voila, browser_context, artifacts):
    page = browser_context.new_page()
    try:
        page.goto(voila + "/", timeout=120_000)
        page.locator("table", has_text="paid per token").first.wait_for(timeout=120_000)
        page.locator("pre", has_text="elapsed = time.perf_counter()").first.wait_for(timeout=30_000)
        page.screenshot(path=artifacts / "voila_answer.png", full_page=True)
        assert_reads_as_the_answer(page)
    finally:
        page.close()
