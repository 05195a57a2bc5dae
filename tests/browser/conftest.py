"""A real JupyterLab / Notebook 7 server and a headless Chromium driven by Playwright.

The servers run on 127.0.0.1 with a token, a temporary root dir and temporary
JUPYTER_* / IPYTHONDIR / HOME directories (nothing of the user's configuration leaks
in), with the venv's python kernel, and expose ``window.jupyterapp`` so tests run
cells through the app's command registry. Chromium is Debian's (``.ci/browser.sh``),
launched through Playwright's ``executable_path``: Playwright's own browser download
is not used. Missing pieces skip these tests on a laptop and fail them in CI.
"""

from __future__ import annotations

import importlib.util
import itertools
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import nbformat
import pytest

CHROMIUM = os.environ.get("NBSTREAM_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "browser"
SERVER_START_TIMEOUT = 120.0
APP_READY_TIMEOUT = 120_000  # ms, Playwright's unit
# Every wait is for a state; its deadline only guards against a hang, so it is generous
# (two loaded cores run Chromium, Jupyter, a kernel and the demo endpoint at once).
STATE_TIMEOUT = 90.0  # s
STATIC = '.jp-RenderedHTMLCommon[data-mime-type="text/html"] .nbs-static[data-nbs-final]'  # the saved answer

SETUP_CELL = """\
import nbstream
from nbstream import demo
server = demo.serve()
nbstream.config.base_url = server.base_url
nbstream.config.model = "demo"
%load_ext nbstream"""


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "browser: drives a real JupyterLab / Notebook 7 in headless Chromium (set up: .ci/browser.sh)")


def _missing() -> list[str]:
    missing = [f"the Python package {name!r}" for name in ("playwright", "jupyterlab", "notebook")
               if importlib.util.find_spec(name) is None]
    if not os.access(CHROMIUM, os.X_OK):
        missing.append(f"Chromium at {CHROMIUM}")
    return missing


@pytest.fixture(scope="session")
def browser_prerequisites() -> None:
    """Skip (laptop) or fail (CI=true) when Chromium, Playwright or Jupyter is missing."""
    missing = _missing()
    if missing:
        message = (f"browser tests need {', '.join(missing)}: run `bash .ci/browser.sh` (Debian's chromium) "
                   f"and `pip install -e '.[browser]'`")
        if os.environ.get("CI", "").lower() in ("true", "1", "yes"):
            pytest.fail(message, pytrace=False)
        pytest.skip(message)


# ---- the Jupyter server ---------------------------------------------------------------------
class JupyterServer:
    """``jupyter lab`` or ``jupyter notebook`` in a subprocess, isolated in ``home``.

    It listens on a port the OS picks (``--port=0``) and read back from the server's
    ``jpserver-*.json``: no window in which another process could take a port chosen here.
    """

    def __init__(self, app: str, home: Path) -> None:
        self.app = app
        self.home = home
        self.root = home / "root"
        self.root.mkdir(parents=True)
        self.port = 0
        self.token = secrets.token_hex(16)
        self.base = ""
        self.log_path = home / f"{app}.log"
        self.proc: subprocess.Popen | None = None

    def _env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("JUPYTER", "IPYTHON", "OPENAI_", "NBSTREAM_", "PYTHONSTARTUP", "MPLBACKEND"))}
        dirs = {"HOME": "home", "JUPYTER_CONFIG_DIR": "config", "JUPYTER_DATA_DIR": "data",
                "JUPYTER_RUNTIME_DIR": "runtime", "IPYTHONDIR": "ipython", "JUPYTERLAB_SETTINGS_DIR": "settings",
                "JUPYTERLAB_WORKSPACES_DIR": "workspaces", "XDG_CONFIG_HOME": "xdg-config",
                "XDG_CACHE_HOME": "xdg-cache", "XDG_DATA_HOME": "xdg-data", "MPLCONFIGDIR": "mpl"}
        for var, sub in dirs.items():
            path = self.home / sub
            path.mkdir(exist_ok=True)
            env[var] = str(path)
        env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
        news = self.home / "settings" / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
        news.parent.mkdir(parents=True, exist_ok=True)
        news.write_text(json.dumps({"fetchNews": "false"}))  # no "get notified about Jupyter news?" toast
        env["JUPYTER_PLATFORM_DIRS"] = "1"
        return env

    def start(self) -> JupyterServer:
        app_class = {"lab": "LabApp", "notebook": "JupyterNotebookApp"}[self.app]
        cmd = [sys.executable, "-m", "jupyter", self.app, "--no-browser", "--allow-root",
               "--ip=127.0.0.1", "--port=0", "--ServerApp.port_retries=0",
               f"--IdentityProvider.token={self.token}", f"--ServerApp.root_dir={self.root}",
               f"--{app_class}.expose_app_in_browser=True",
               "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
               "--LabApp.news_url=None", "--LabApp.extension_manager=readonly",
               "--MappingKernelManager.default_kernel_name=python3"]
        log = self.log_path.open("wb")
        self.proc = subprocess.Popen(cmd, env=self._env(), cwd=self.root, stdout=log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"jupyter {self.app} exited with {self.proc.returncode}:\n{self.log_tail()}")
            if not self.port:
                self._read_port()
            try:
                if self.port and self.api("GET", "/api/status").status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.25)
        self.stop()
        raise RuntimeError(f"jupyter {self.app} did not answer within {SERVER_START_TIMEOUT:.0f} s:\n{self.log_tail()}")

    def _read_port(self) -> None:
        for info in (self.home / "runtime").glob("jpserver-*.json"):
            try:
                self.port = int(json.loads(info.read_text())["port"])
            except (OSError, ValueError, KeyError):
                continue  # still being written
            self.base = f"http://127.0.0.1:{self.port}"

    def api(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return httpx.request(method, self.base + path, headers={"Authorization": f"token {self.token}"},
                             timeout=10, **kwargs)

    def shutdown_kernels(self) -> None:
        """Stop every kernel (two cores: idle kernels from earlier tests still cost memory)."""
        try:
            for session in self.api("GET", "/api/sessions").json():
                self.api("DELETE", f"/api/sessions/{session['id']}")
        except httpx.HTTPError:
            pass

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.shutdown_kernels()
        self.proc.send_signal(signal.SIGTERM)  # jupyter_server shuts its kernels down on SIGTERM
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=5)

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def write_notebook(self, name: str, cells: list[str]) -> Path:
        """A notebook in the server's root: the demo setup cell, then ``cells``."""
        nb = nbformat.v4.new_notebook()
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nb.cells = [nbformat.v4.new_code_cell(src) for src in [SETUP_CELL, *cells]]
        path = self.root / name
        nbformat.write(nb, path)
        return path


def _server(app: str, tmp_path_factory: pytest.TempPathFactory):
    server = JupyterServer(app, tmp_path_factory.mktemp(f"jupyter-{app}")).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def lab_server(browser_prerequisites, tmp_path_factory):
    """``jupyter lab`` for the whole session."""
    yield from _server("lab", tmp_path_factory)


@pytest.fixture(scope="session")
def notebook_server(browser_prerequisites, tmp_path_factory):
    """``jupyter notebook`` (Notebook 7) for the whole session."""
    yield from _server("notebook", tmp_path_factory)


# ---- the browser ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def browser_context(browser_prerequisites, tmp_path_factory):
    """One headless Chromium with a fresh profile (Playwright's persistent context), per
    module: Playwright's sync API keeps an event loop running on the main thread while it
    is open, which would make every later ``asyncio.run`` in the session fail."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")), executable_path=CHROMIUM, headless=True,
            args=CHROMIUM_ARGS, viewport={"width": 1280, "height": 1000})
        context.set_default_timeout(STATE_TIMEOUT * 1000)  # clicks, locators: Playwright's 30 s is tight here
        try:
            yield context
        finally:
            context.close()


@pytest.fixture
def artifacts() -> Path:
    """``test-artifacts/browser/`` (git-ignored): screenshots for people to look at."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


# In-page helpers, installed once per page: find the notebook panel, run cells, read
# outputs, sample every state of the live view, execute code in the kernel and read stdout.
_HELPERS = """
() => {
  const app = window.jupyterapp;
  const STATIC = '%(static)s';
  const LIVE = '.nbs:not(.nbs-static)';  // the live widget's root (the saved answer reuses its classes)
  const panelFor = (path) => {
    const widgets = app.shell.widgets ? Array.from(app.shell.widgets('main')) : [];
    return widgets.find((w) => w.context && w.context.path === path)
      || (app.shell.currentWidget && app.shell.currentWidget.context
          && app.shell.currentWidget.context.path === path ? app.shell.currentWidget : null);
  };
  const outputOf = (path, i) => panelFor(path).content.widgets[i].node.querySelector('.jp-OutputArea');
  window.__nbs = {
    panelFor,
    outputOf,
    ready(path) {  // synchronous: wait_for_function does not await promises
      const panel = panelFor(path);
      if (!panel || !panel.context.isReady || panel.content.widgets.length === 0) return false;
      const kernel = panel.sessionContext.session && panel.sessionContext.session.kernel;
      return !!kernel && kernel.connectionStatus === 'connected' && kernel.status === 'idle';
    },
    run(path, i) {  // resolves when the cell has finished
      const panel = panelFor(path);
      panel.content.activeCellIndex = i;
      panel.content.deselectAll();
      app.shell.activateById(panel.id);
      return app.commands.execute('notebook:run-cell');
    },
    mark(path, i, name) { panelFor(path).content.widgets[i].node.setAttribute('data-nbs-test', name); },
    isFinal(path, i) { const out = outputOf(path, i); return !!(out && out.querySelector(STATIC)); },
    snapshot(path, i, needle) {  // what cell i's output shows now (the sampler's unit)
      const out = outputOf(path, i);
      const q = (sel) => out && out.querySelector(sel);
      const answer = q(LIVE + ' .nbs-answer'), status = q(LIVE + ' .nbs-status-text');
      const reasoning = q(LIVE + ' .nbs-reasoning'), tool = q(LIVE + ' .nbs-tool');
      const text = answer ? answer.innerText : null;
      return { live: text === null ? null : text.length, status: status ? status.textContent : null,
               final: !!q(STATIC), xss: typeof window.__xss === 'undefined' ? null : String(window.__xss),
               needle: needle && text !== null ? text.includes(needle) : null,
               reasoning: reasoning && !reasoning.hidden
                 ? { open: reasoning.open, summary: reasoning.querySelector('summary').textContent,
                     chars: reasoning.querySelector('.nbs-reasoning-body').textContent.length } : null,
               tool: tool ? { name: tool.querySelector('.nbs-tool-name').textContent,
                              args: tool.querySelector('.nbs-tool-args').textContent } : null };
    },
    sample(path, i, every, needle) {
      // One sample per DOM change of the cell (a MutationObserver sees every state the
      // page went through, however slow the machine), the timer only as a backup.
      const samples = [];
      const t0 = performance.now();
      let last = '';
      const record = () => {
        const s = window.__nbs.snapshot(path, i, needle);
        const key = JSON.stringify(s);
        if (key !== last) { last = key; samples.push({ t: performance.now() - t0, ...s }); }
      };
      const observer = new MutationObserver(record);
      observer.observe(panelFor(path).content.widgets[i].node,
                       { childList: true, subtree: true, characterData: true, attributes: true });
      const timer = setInterval(record, every);
      record();
      return { samples, stop: () => { record(); observer.disconnect(); clearInterval(timer); } };
    },
    answerText(path, i) {  // the static answer as read, minus math (MathML), status line and <details>
      const out = outputOf(path, i);
      const md = out && out.querySelector(STATIC);
      if (!md) return null;
      const copy = md.cloneNode(true);
      copy.querySelectorAll('math, mjx-container, .MathJax, script, .nbs-status, details, .jp-InternalAnchorLink')
        .forEach((n) => n.remove());
      document.body.appendChild(copy);  // innerText needs layout
      const text = copy.innerText;
      copy.remove();
      return text;
    },
    execute(path, code) {  // run code in the notebook's kernel (no cell); stdout as a string
      const kernel = panelFor(path).sessionContext.session.kernel;
      const future = kernel.requestExecute({ code, silent: false, store_history: false });
      let out = '';
      future.onIOPub = (msg) => {
        if (msg.header.msg_type === 'stream') out += msg.content.text;
        if (msg.header.msg_type === 'error') out += 'ERROR ' + msg.content.ename + ': ' + msg.content.evalue;
      };
      return future.done.then(() => out);
    },
  };
  return true;
}
""" % {"static": STATIC}  # noqa: UP031 - JavaScript is all braces; .format would double each

_page_ids = itertools.count()


def _without_math(text: str) -> str:
    text = re.sub(r"\$\$.*?\$\$", " ", text, flags=re.S)
    return re.sub(r"\$[^$\n]+\$", " ", text)


def _within(promise: str, seconds: float, what: str) -> str:
    """A JS expression: ``promise``, or a rejection naming ``what`` after ``seconds``."""
    return (f"Promise.race([{promise}, new Promise((_, no) => setTimeout(() => "
            f"no(new Error({json.dumps(what)})), {int(seconds * 1000)}))])")


class NotebookPage:
    """One notebook open in one browser page of a Jupyter front end (Lab or Notebook 7)."""

    def __init__(self, page, server: JupyterServer, name: str) -> None:
        self.page = page
        self.server = server
        self.name = name

    def open(self) -> NotebookPage:
        url = (f"{self.server.base}/lab/workspaces/t{next(_page_ids)}/tree/{self.name}"
               if self.server.app == "lab" else f"{self.server.base}/notebooks/{self.name}")
        self.page.goto(f"{url}?token={self.server.token}", timeout=APP_READY_TIMEOUT)
        self.page.wait_for_function("() => window.jupyterapp && window.jupyterapp.shell", timeout=APP_READY_TIMEOUT)
        self.page.evaluate(_HELPERS)
        self.page.wait_for_function("(p) => window.__nbs.ready(p)", arg=self.name, timeout=APP_READY_TIMEOUT,
                                    polling=250)
        return self

    # ---- running things -------------------------------------------------------------------
    def js(self, expression: str, arg: Any = None) -> Any:
        return self.page.evaluate(expression, arg)

    def run_cell(self, index: int, *, wait: bool = True, timeout: float = STATE_TIMEOUT) -> None:
        """Run cell ``index`` through the command registry; with ``wait``, until it has finished."""
        if wait:
            self.js(f"(a) => {_within('window.__nbs.run(a.p, a.i)', timeout, f'cell {index} did not finish')}",
                    {"p": self.name, "i": index})
        else:
            self.js("(a) => { window.__nbs.run(a.p, a.i); }", {"p": self.name, "i": index})

    def setup(self) -> None:
        """Run the demo setup cell (cell 0)."""
        self.run_cell(0)
        shown = self.output_text(0)
        assert "Error" not in shown, shown

    def kernel(self, code: str, timeout: float = STATE_TIMEOUT) -> str:
        """stdout of ``code`` run in this notebook's kernel (not as a cell)."""
        return self.js(f"(a) => {_within('window.__nbs.execute(a.p, a.code)', timeout, 'the kernel did not answer')}",
                       {"p": self.name, "code": code})

    def kernel_json(self, expression: str) -> Any:
        """The value of a Python ``expression`` in the kernel, through JSON."""
        out = self.kernel(f"import json as _j; print(_j.dumps({expression}))")
        try:
            return json.loads(out)
        except json.JSONDecodeError:
            raise AssertionError(f"the kernel printed {out!r} for {expression}") from None

    def command(self, name: str, args: dict | None = None) -> None:
        """Execute a front-end command (it must exist) with this notebook as the current widget."""
        assert self.js("(n) => window.jupyterapp.commands.hasCommand(n)", name), f"no command {name}"
        self.js("(a) => { window.jupyterapp.shell.activateById(window.__nbs.panelFor(a.p).id); "
                "window.jupyterapp.commands.execute(a.n, a.args); }", {"p": self.name, "n": name, "args": args or {}})

    def save(self, timeout: float = STATE_TIMEOUT) -> None:
        """Save the notebook as it is in the page now, and wait until the file is written
        (the document's own save; an autosave caught mid-stream is overwritten by it)."""
        self.js(f"(a) => {_within('window.__nbs.panelFor(a.p).context.save()', timeout, 'the save did not finish')}",
                {"p": self.name})
        assert self.js("(a) => window.__nbs.panelFor(a.p).context.model.dirty", {"p": self.name}) is False

    # ---- reading the page -----------------------------------------------------------------
    def cell(self, index: int):
        """A Playwright locator for cell ``index`` (for clicks and screenshots)."""
        tag = f"{self.name}-{index}"
        self.js("(a) => window.__nbs.mark(a.p, a.i, a.tag)", {"p": self.name, "i": index, "tag": tag})
        return self.page.locator(f'[data-nbs-test="{tag}"]')

    def static(self, index: int):
        """A locator for the static answer in cell ``index`` (its saved HTML as Lab renders it)."""
        return self.cell(index).locator(STATIC)

    def output_text(self, index: int) -> str:
        return self.js("(a) => { const o = window.__nbs.outputOf(a.p, a.i); return o ? o.innerText : ''; }",
                       {"p": self.name, "i": index})

    def answer_words(self, index: int) -> list[str]:
        """The words of the static answer as a reader sees them (no math, status line, <details>)."""
        text = self.js("(a) => window.__nbs.answerText(a.p, a.i)", {"p": self.name, "i": index}) or ""
        return re.findall(r"\w+", _without_math(text))  # math not typeset yet is still $...$ text

    @staticmethod
    def markdown_words(md: str) -> list[str]:
        """The words a reader sees when ``md`` is rendered: no math, fence lines or list markers."""
        md = _without_math(md)
        lines = [re.sub(r"^\s*(\d+\.|[-*+])\s+", "", line) for line in md.splitlines()
                 if not line.lstrip().startswith("```")]
        return re.findall(r"\w+", "\n".join(lines))

    def start_sampler(self, index: int, needle: str | None = None, every_ms: int = 150) -> None:
        """Record every state cell ``index``'s output goes through (see ``__nbs.snapshot``:
        live answer length, status line, final answer shown, ``window.__xss``, reasoning,
        the first tool card, whether the live answer contains ``needle``): a sample per DOM change."""
        self.js("(a) => { window.__sampler = window.__nbs.sample(a.p, a.i, a.every, a.needle); }",
                {"p": self.name, "i": index, "every": every_ms, "needle": needle})

    def stop_sampler(self) -> list[dict]:
        """The samples, the last one taken now (after ``wait_final`` it shows the final state)."""
        return self.js("() => { window.__sampler.stop(); return window.__sampler.samples; }")

    # ---- waiting --------------------------------------------------------------------------
    def wait_for(self, expression: str, timeout: float = STATE_TIMEOUT, arg: Any = None) -> Any:
        """Wait until the JS ``expression`` (a function of ``{p, arg}``) is truthy; its value."""
        handle = self.page.wait_for_function(expression, arg={"p": self.name, "arg": arg},
                                             timeout=timeout * 1000, polling=100)
        return handle.json_value()

    def wait_live(self, index: int, chars: int, timeout: float = STATE_TIMEOUT) -> None:
        """Until the live answer in cell ``index`` shows at least ``chars`` characters."""
        self.wait_for("(a) => { const o = window.__nbs.outputOf(a.p, a.arg.i); "
                      "const ans = o && o.querySelector('.nbs:not(.nbs-static) .nbs-answer'); "
                      "return ans && ans.innerText.length >= a.arg.n; }", timeout, {"i": index, "n": chars})

    def wait_live_or_final(self, index: int, chars: int, timeout: float = STATE_TIMEOUT) -> bool:
        """Until the live answer shows ``chars`` characters or the stream has ended (a short
        answer may end before a slow page is looked at); True if it is still live."""
        return self.wait_for("(a) => { const o = window.__nbs.outputOf(a.p, a.arg.i); "
                             "const ans = o && o.querySelector('.nbs:not(.nbs-static) .nbs-answer'); "
                             "if (ans && ans.innerText.length >= a.arg.n) return 'live'; "
                             "return o && o.querySelector(a.arg.s) ? 'final' : false; }",
                             timeout, {"i": index, "n": chars, "s": STATIC}) == "live"

    def wait_final(self, index: int, timeout: float = STATE_TIMEOUT) -> None:
        """Until cell ``index`` shows nbstream's static answer, rendered down to its status line."""
        self.wait_for("(a) => { const o = window.__nbs.outputOf(a.p, a.arg.i); "
                      "return !!(o && o.querySelector(a.arg.s + ' .nbs-status')); }",
                      timeout, {"i": index, "s": STATIC})

    def wait_finished(self, index: int, timeout: float = STATE_TIMEOUT) -> None:
        """Until cell ``index`` no longer shows ``[*]`` and the kernel is idle."""
        self.wait_for("(a) => { const panel = window.__nbs.panelFor(a.p); "
                      "const prompt = panel.content.widgets[a.arg].node.querySelector('.jp-InputPrompt'); "
                      "return prompt && !prompt.innerText.includes('*') "
                      "&& panel.sessionContext.session.kernel.status === 'idle'; }", timeout, index)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.when == "call":
        item.nbs_failed = report.failed
    return report


def _opener(request, server: JupyterServer, context):
    pages = []

    def open_notebook(name: str, cells: list[str]) -> NotebookPage:
        """Write a notebook (setup cell + ``cells``) into the root and open it in a new page."""
        if not (server.root / name).exists():
            server.write_notebook(name, cells)
        page = context.new_page()
        pages.append(page)
        return NotebookPage(page, server, name).open()

    try:
        yield open_notebook
    finally:
        for n, page in enumerate(pages):
            if getattr(request.node, "nbs_failed", False):  # what the page showed when the test failed
                ARTIFACTS.mkdir(parents=True, exist_ok=True)
                try:
                    page.screenshot(path=ARTIFACTS / f"FAILED-{request.node.name}-{n}.png", full_page=True)
                except Exception:  # noqa: BLE001 - a screenshot must not hide the failure
                    pass
            page.close()
        server.shutdown_kernels()


@pytest.fixture
def lab(request, lab_server, browser_context):
    """``lab(name, cells)``: a NotebookPage in JupyterLab, its setup cell not yet run."""
    yield from _opener(request, lab_server, browser_context)


@pytest.fixture
def nb7(request, notebook_server, browser_context):
    """``nb7(name, cells)``: a NotebookPage in Notebook 7, its setup cell not yet run."""
    yield from _opener(request, notebook_server, browser_context)

