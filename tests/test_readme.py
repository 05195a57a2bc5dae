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
    out = subprocess.run([sys.executable, "-m", "nbstream", "ask", "Explain SSE"], capture_output=True,
                         text=True, timeout=60, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert "embedded demo endpoint" in out.stderr
    last = out.stdout.strip().splitlines()[-1]
    assert last.startswith("demo · TTFT") and "finish stop" in last


def test_the_main_job_runs_headless_on_the_quickstart():
    out = subprocess.run([sys.executable, "-m", "nbstream", "demo", "--headless"], capture_output=True,
                         text=True, timeout=300, cwd=ROOT)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "── %%stream" in out.stdout and "finish stop" in out.stdout
    assert out.stdout.strip().endswith("done")


def test_the_main_job_starts_jupyterlab_on_the_quickstart(tmp_path):
    import os
    import signal
    import socket
    import time

    import httpx

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(tmp_path / "cfg"), "JUPYTER_RUNTIME_DIR": str(tmp_path / "rt"),
           "JUPYTER_DATA_DIR": str(tmp_path / "data")}
    proc = subprocess.Popen([sys.executable, "-m", "nbstream", "demo", "--no-browser", "--ip=127.0.0.1",
                             f"--port={port}", "--IdentityProvider.token=t0k"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        answer = None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                answer = httpx.get(f"http://127.0.0.1:{port}/api/contents/01-quickstart.ipynb?content=0",
                                   headers={"Authorization": "token t0k"}, timeout=5)
                break
            except httpx.HTTPError:
                time.sleep(0.5)
        assert answer is not None and answer.status_code == 200, proc.stdout.read1().decode() if proc.poll() else ""
        assert answer.json()["name"] == "01-quickstart.ipynb"
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)
