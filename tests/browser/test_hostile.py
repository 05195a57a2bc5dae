"""The hostile corpus in a real front end: every payload of ``tests/hostile_corpus.py`` is
streamed as an answer (and some as the templated prompt shown above one), in JupyterLab and
in Notebook 7 -- live, then saved and reopened, then exported by ``jupyter nbconvert --to
html`` and opened in Chromium. Each payload would set ``window.__xss`` if it ran; a setter
trap installed before any page script counts such writes. Zero writes, and no anchor or
``src`` with a scheme other than http, https or mailto, no ``on*`` attribute, no script-
capable element in any output."""

from __future__ import annotations

import subprocess
import sys

import pytest
from _checks import saved_notebook
from hostile_corpus import PAYLOADS

pytestmark = pytest.mark.browser

TRAP = """
(() => {
  window.__xssHits = [];
  Object.defineProperty(window, '__xss', {
    configurable: false,
    get() { return undefined; },
    set(v) { window.__xssHits.push(String(v)); },
  });
})();
"""

PER_CELL = 12  # JupyterLab folds a cell's outputs after 50 ("Show more outputs"); each stream leaves 3
CHUNKS = range(0, len(PAYLOADS), PER_CELL)
CELLS = [
    "PAYLOADS = " + repr(PAYLOADS) + "\nPROMPT = '\\n\\n'.join(PAYLOADS[:24])",
    *(f"for p in PAYLOADS[{k}:{k + PER_CELL}]:\n"
      "    r = nbstream.stream('hostile', display=True, block=False, demo={'text': p, 'tps': 4000, 'ttft': 0.01})\n"
      "    r.wait(30)" for k in CHUNKS),
    "%%stream -p demo.tps=4000\n{PROMPT}",
]
PROMPT_CELL = len(CELLS)  # cell 0 is the setup cell

# In the page: every problem in the output areas (or in the whole page for nbconvert's file).
AUDIT_JS = """(scope) => {
  const allowed = ['http:', 'https:', 'mailto:'];
  const roots = scope ? Array.from(document.querySelectorAll(scope)) : [document.body];
  const bad = [];
  for (const root of roots) {
    for (const el of root.querySelectorAll('*')) {
      const tag = el.tagName.toLowerCase();
      if (['script', 'iframe', 'object', 'embed', 'frame', 'form', 'base', 'meta'].includes(tag)) {
        bad.push('element ' + tag);
      }
      for (const attr of el.getAttributeNames()) {
        if (attr.toLowerCase().startsWith('on')) bad.push(tag + '[' + attr + ']');
      }
      for (const attr of ['href', 'src', 'xlink:href', 'action', 'formaction']) {
        const value = el.getAttribute(attr);
        if (value === null) continue;
        let proto;
        try { proto = new URL(value, document.baseURI).protocol; } catch (e) { continue; }
        if (!allowed.includes(proto) && proto !== location.protocol) bad.push(tag + '[' + attr + '=' + value + ']');
      }
    }
  }
  return bad;
}"""

OUTPUTS = ".jp-OutputArea-output"


def _hits(page) -> list[str]:
    return page.evaluate("() => window.__xssHits")


@pytest.mark.parametrize("front", ["lab", "nb7"])
def test_no_payload_runs_live_saved_reopened_or_exported(front, request, browser_context, tmp_path, artifacts):
    browser_context.add_init_script(TRAP)
    server = request.getfixturevalue("lab_server" if front == "lab" else "notebook_server")
    opener = request.getfixturevalue(front)
    name = f"hostile-{front}.ipynb"
    nb = opener(name, CELLS)
    nb.setup()
    for index in range(1, PROMPT_CELL + 1):
        nb.run_cell(index, timeout=120)
    nb.wait_final(PROMPT_CELL)
    nb.wait_for("(a) => window.__nbs.panelFor(a.p).node.querySelectorAll("
                "'.nbs-static').length >= a.arg", 60, len(PAYLOADS) + 1)
    nb.page.screenshot(path=artifacts / f"hostile_{front}_live.png")
    assert _hits(nb.page) == []
    assert nb.js(AUDIT_JS, OUTPUTS) == []

    # saved, then reopened in a fresh page
    nb.save()
    path = server.root / name
    saved = saved_notebook(path, PROMPT_CELL)
    assert sum(len(cell.outputs) for cell in saved.cells[2:]) >= len(PAYLOADS) + 1
    nb.page.close()
    again = opener(name, [])
    again.wait_for("(a) => window.__nbs.panelFor(a.p).node.querySelectorAll("
                   "'.nbs-static').length >= a.arg", 60, len(PAYLOADS) + 1)
    assert _hits(again.page) == []
    assert again.js(AUDIT_JS, OUTPUTS) == []
    again.page.close()

    # exported by nbconvert and opened as a file
    subprocess.run([sys.executable, "-m", "jupyter", "nbconvert", "--to", "html", "--output-dir", str(tmp_path),
                    str(path)], check=True, capture_output=True, timeout=120)
    html_file = tmp_path / name.replace(".ipynb", ".html")
    page = browser_context.new_page()
    try:
        page.goto(html_file.as_uri(), wait_until="domcontentloaded", timeout=60_000)
        page.wait_for_function("() => document.readyState === 'complete'", timeout=60_000, polling=100)
        assert page.evaluate("() => document.querySelectorAll('.jp-OutputArea-output').length") >= len(PAYLOADS)
        assert _hits(page) == []
        assert page.evaluate(AUDIT_JS, OUTPUTS) == []
        page.screenshot(path=artifacts / f"hostile_{front}_nbconvert.png")
    finally:
        page.close()
