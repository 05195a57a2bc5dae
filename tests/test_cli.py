"""The ``nbstream`` command, run as a user runs it: a subprocess, its exit code, its
stdout and stderr. Servers are real loopback servers (the embedded demo endpoint, a tiny
capturing server, JupyterLab itself); every wait polls a state with a generous deadline."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import tomllib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parent.parent
KEY = "sk-cli-test-7f3a9c2e41b8d605"
DEADLINE = 90  # seconds: generous, for a loaded 2-core machine


def _env(**extra: str) -> dict[str, str]:
    """The environment minus anything that would point nbstream at a real endpoint."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "NBSTREAM_MODEL")}
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return {**env, **extra}


def nbstream(*args: str, env: dict[str, str] | None = None, stdin: str | None = None,
             timeout: float = DEADLINE) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "nbstream", *args], check=False, input=stdin, capture_output=True,
                          text=True,
                          timeout=timeout, cwd=ROOT, env=env or _env(),
                          stdin=None if stdin is not None else subprocess.DEVNULL)


def _wait_for(condition, what: str, deadline: float = DEADLINE):
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


class _Lines:
    """Collects a subprocess's output lines on a thread, so a test can wait for one."""

    def __init__(self, stream) -> None:
        self.lines: list[str] = []
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream) -> None:
        for raw in iter(stream.readline, b""):
            self.lines.append(raw.decode(errors="replace"))

    def find(self, needle: str) -> str | None:
        return next((line for line in list(self.lines) if needle in line), None)

    @property
    def text(self) -> str:
        return "".join(self.lines)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(2)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


# ---- the parser ---------------------------------------------------------------------------
def test_help_lists_every_subcommand():
    out = nbstream("--help")
    assert out.returncode == 0
    for command in ("ask", "demo", "serve", "replay"):
        assert f"    {command} " in out.stdout, out.stdout


def test_version_prints_the_projects_version():
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    out = nbstream("--version")
    assert out.returncode == 0
    assert out.stdout.strip() == f"nbstream {version}"


def test_no_arguments_is_a_usage_error_that_shows_the_commands():
    out = nbstream()
    assert out.returncode == 2
    assert "demo" in out.stderr and "replay" in out.stderr


def test_a_typo_of_a_command_is_rejected_with_a_hint_not_sent_as_a_prompt():
    out = nbstream("dmeo")
    assert out.returncode == 2
    assert "did you mean demo?" in out.stderr
    assert out.stdout == "" and "demo endpoint" not in out.stderr


def test_a_single_unknown_word_is_rejected_and_says_how_to_ask_it():
    out = nbstream("hello")
    assert out.returncode == 2
    assert "unknown command 'hello'" in out.stderr and "nbstream ask hello" in out.stderr
    assert out.stdout == ""


def test_a_quoted_prompt_is_short_for_ask():
    out = nbstream("Explain SSE briefly", "--max-tokens", "5")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1].startswith("demo · TTFT")


def test_an_unknown_demo_option_is_a_usage_error_that_points_to_the_passthrough():
    out = nbstream("demo", "--bogus")
    assert out.returncode == 2
    assert "nbstream demo: error: unrecognized arguments: --bogus" in out.stderr
    assert "nbstream demo -- " in out.stderr


def test_headless_demo_takes_no_jupyterlab_options():
    out = nbstream("demo", "--headless", "--port", "9999")
    assert out.returncode == 2
    assert "--headless" in out.stderr


@pytest.mark.parametrize("args", [
    ("ask", "hi", "-t", "nan"), ("ask", "hi", "-t", "-1"), ("ask", "hi", "--max-tokens", "0"),
    ("ask", "hi", "-p", "no-equals-sign"), ("ask", "hi", "--api", "soap"), ("replay", "x.jsonl", "--speed", "-2"),
    ("serve", "--port", "70000"), ("serve", "--tps", "-5"), ("serve", "--jitter", "7"), ("serve", "--ttft", "soon"),
])
def test_bad_option_values_are_usage_errors(args):
    out = nbstream(*args)
    assert out.returncode == 2, out.stdout + out.stderr
    assert "error:" in out.stderr and "Traceback" not in out.stderr


def test_ask_without_a_prompt_or_piped_input_is_a_usage_error():
    out = nbstream("ask", stdin="  \n")
    assert out.returncode == 2
    assert "the prompt is empty" in out.stderr


# ---- ask ----------------------------------------------------------------------------------
class _CapturingServer:
    """A chat-completions endpoint that records each request's JSON body and answers with a
    fixed two-token stream."""

    def __init__(self) -> None:
        self.bodies: list[dict] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                outer.bodies.append(json.loads(self.rfile.read(int(self.headers["content-length"]))))
                chunks = [{"choices": [{"index": 0, "delta": {"content": c}}]} for c in ("cap", "tured")]
                chunks.append({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
                body = "".join(f"data: {json.dumps(c)}\n\n" for c in chunks) + "data: [DONE]\n\n"
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body.encode())

            def log_message(self, *args) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


@pytest.fixture
def capturing() -> Iterator[_CapturingServer]:
    server = _CapturingServer()
    yield server
    server.stop()


def test_ask_sends_the_stream_options_in_the_request(capturing):
    out = nbstream("ask", "Hi there", "--base-url", capturing.url, "-m", "my-model", "-s", "Be brief.",
                   "-t", "0.3", "--max-tokens", "12", "-p", "seed=7", "-p", "extra.depth=2")
    assert out.returncode == 0, out.stderr
    assert "captured" in out.stdout
    [body] = capturing.bodies
    assert body["model"] == "my-model" and body["stream"] is True
    assert body["messages"] == [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi there"}]
    assert (body["temperature"], body["max_tokens"], body["seed"], body["extra"]) == (0.3, 12, 7, {"depth": 2})


def test_ask_reads_a_piped_prompt(capturing):
    out = nbstream("ask", "--base-url", capturing.url, "-m", "m", stdin="a piped question\n")
    assert out.returncode == 0, out.stderr
    assert capturing.bodies[0]["messages"][-1]["content"].strip() == "a piped question"


def test_ask_streams_from_the_demo_endpoint_and_says_so_in_cli_words():
    out = nbstream("ask", "Explain SSE", "--max-tokens", "20")
    assert out.returncode == 0, out.stderr
    assert "--base-url URL and -m MODEL" in out.stderr and "base_url=" not in out.stderr
    assert "finish length" in out.stdout.strip().splitlines()[-1]


def test_a_key_without_a_model_asks_for_dash_m_in_cli_words():
    out = nbstream("ask", "hi", env=_env(OPENAI_API_KEY=KEY))
    assert out.returncode == 2
    assert "pass -m MODEL" in out.stderr and "NBSTREAM_MODEL" in out.stderr
    assert "model=" not in out.stderr and "nbstream.config" not in out.stderr
    assert KEY not in out.stderr + out.stdout


def test_a_rejected_key_is_never_printed():
    server = subprocess.Popen([sys.executable, "-m", "nbstream", "serve", "--api-key", "the-right-key-123456"],
                              cwd=ROOT, env=_env(), stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
    try:
        lines = _Lines(server.stdout)
        line = _wait_for(lambda: lines.find("http://"), "serve to print its URL")
        url = re.search(r"http://\S+/v1", line).group(0)
        out = nbstream("ask", "hi", "--base-url", url, "-m", "demo", env=_env(OPENAI_API_KEY=KEY))
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(DEADLINE)
    assert out.returncode == 1
    assert "OPENAI_API_KEY" in out.stdout + out.stderr  # the error names where the key came from
    assert KEY not in out.stdout + out.stderr and KEY[3:-4] not in out.stdout + out.stderr


def test_a_failed_run_exits_1_and_keeps_its_partial_answer():
    out = nbstream("ask", "Explain SSE", "-m", "demo-error", "-p", "demo.tps=500")
    assert out.returncode == 1
    assert "## " in out.stdout  # the partial answer
    assert "⚠ error" in out.stdout and "failed on purpose" in out.stdout


def test_ctrl_c_stops_the_stream_keeps_the_partial_and_exits_130():
    proc = subprocess.Popen([sys.executable, "-m", "nbstream", "ask", "Explain SSE", "-m", "demo-long",
                             "-p", "demo.tps=20"], cwd=ROOT, env=_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    lines = _Lines(proc.stdout)
    try:
        _wait_for(lambda: lines.find("##"), "the first answer text")
        proc.send_signal(signal.SIGINT)
        code = proc.wait(DEADLINE)
    finally:
        if proc.poll() is None:
            proc.kill()
    _wait_for(lambda: lines.find("⏹ stopped"), "the final status line")
    assert code == 130
    assert "Traceback" not in proc.stderr.read().decode()


def test_a_reader_that_leaves_early_gets_no_traceback():
    proc = subprocess.Popen([sys.executable, "-m", "nbstream", "ask", "Explain SSE", "-p", "demo.tps=500"],
                            cwd=ROOT, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL)
    proc.stdout.close()  # the reader is gone before the first byte, like `nbstream ask … | true`
    code = proc.wait(DEADLINE)
    stderr = proc.stderr.read().decode()
    assert code == 1
    assert "Traceback" not in stderr and "BrokenPipeError" not in stderr


def test_record_then_replay_shows_the_same_answer(tmp_path):
    recording = tmp_path / "answer.jsonl"
    asked = nbstream("ask", "Explain SSE", "--max-tokens", "30", "--record", str(recording))
    assert asked.returncode == 0, asked.stderr
    replayed = nbstream("replay", str(recording), "--speed", "0")
    assert replayed.returncode == 0, replayed.stderr
    answer = asked.stdout.strip().rsplit("\n", 1)[0]
    assert answer and replayed.stdout.strip().rsplit("\n", 1)[0] == answer
    assert "finish length" in replayed.stdout


def test_record_into_a_missing_folder_is_a_usage_error_before_asking(tmp_path):
    out = nbstream("ask", "hi", "--record", str(tmp_path / "nope" / "a.jsonl"))
    assert out.returncode == 2
    assert "no folder" in out.stderr and out.stdout == ""


def test_replay_of_a_missing_file_says_how_to_make_one(tmp_path):
    out = nbstream("replay", str(tmp_path / "missing.jsonl"))
    assert out.returncode == 1
    assert "nbstream ask --record" in out.stderr and "Traceback" not in out.stderr


@pytest.mark.parametrize("content", [
    "not json at all\n",
    '{"some": "json"}\n',
    "\xff\xfe binary".encode("latin-1").decode("latin-1"),
    '{"nbstream_record": 1, "api": "chat"}\n[1, 2]\n',
    '{"nbstream_record": 1, "api": "chat"}\n{"t": "soon", "data": "x"}\n',
    '{"nbstream_record": 1, "api": "chat"}\n{"data": {"choices": "nope"}}\n',
])
def test_replay_of_a_hostile_file_fails_cleanly(tmp_path, content):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(content, encoding="latin-1")
    out = nbstream("replay", str(bad), "--speed", "0")
    assert out.returncode == 1, out.stdout + out.stderr
    assert "Traceback" not in out.stderr + out.stdout


# ---- serve --------------------------------------------------------------------------------
def test_serve_prints_a_url_that_answers_and_ctrl_c_exits_130():
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "nbstream", "serve", "--port", str(port)], cwd=ROOT, env=_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    try:
        lines = _Lines(proc.stdout)
        line = _wait_for(lambda: lines.find("nbstream demo endpoint:"), "serve to print its URL")
        assert f"http://127.0.0.1:{port}/v1" in line
        models = httpx.get(f"http://127.0.0.1:{port}/v1/models", timeout=30).json()
        assert "demo" in [m["id"] for m in models["data"]]
        proc.send_signal(signal.SIGINT)
        assert proc.wait(DEADLINE) == 130
    finally:
        if proc.poll() is None:
            proc.kill()
    assert not _port_open(port)


def test_serve_on_a_busy_port_exits_1_with_one_line():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        out = nbstream("serve", "--port", str(busy.getsockname()[1]))
    assert out.returncode == 1
    assert "cannot listen" in out.stderr and "Traceback" not in out.stderr


# ---- demo: JupyterLab -----------------------------------------------------------------------
def _start_demo(tmp_path: Path) -> tuple[subprocess.Popen, _Lines, int]:
    port = _free_port()
    env = _env(JUPYTER_CONFIG_DIR=str(tmp_path / "cfg"), JUPYTER_RUNTIME_DIR=str(tmp_path / "rt"),
               JUPYTER_DATA_DIR=str(tmp_path / "data"))
    proc = subprocess.Popen([sys.executable, "-m", "nbstream", "demo", "--no-browser", "--port", str(port)],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL)
    return proc, _Lines(proc.stdout), port


def _lab_url(lines: _Lines, proc: subprocess.Popen, port: int) -> str:
    def ready() -> str | None:
        assert proc.poll() is None, lines.text
        line = lines.find(f"http://127.0.0.1:{port}/")
        return line.strip().split()[-1] if line else None

    return _wait_for(ready, "JupyterLab to print its URL")


def _lab_pid(tmp_path: Path) -> int:
    found = _wait_for(lambda: list((tmp_path / "rt").glob("jpserver-*.json")), "JupyterLab's runtime file")
    return json.loads(found[0].read_text())["pid"]


def _cleanup(proc: subprocess.Popen, pids: list[int]) -> None:
    for pid in [proc.pid, *pids]:
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)
    proc.wait(DEADLINE)


@pytest.mark.timeout(300)
def test_demo_no_browser_prints_a_url_that_opens_the_quickstart(tmp_path):
    proc, lines, port = _start_demo(tmp_path)
    pids: list[int] = []
    try:
        url = _lab_url(lines, proc, port)
        pids.append(_lab_pid(tmp_path))
        assert url.startswith(f"http://127.0.0.1:{port}/lab/tree/notebooks/01-quickstart.ipynb?token=")
        page = httpx.get(url, timeout=60)
        assert page.status_code == 200
        assert '"treePath": "notebooks/01-quickstart.ipynb"' in page.text  # Lab opens it, not the launcher
    finally:
        _cleanup(proc, pids)


def _kernel_pid(kernel_id: str) -> int | None:
    """The pid of the kernel process started for ``kernel_id`` (its connection file names it)."""
    for proc in Path("/proc").iterdir():
        try:
            cmdline = (proc / "cmdline").read_bytes()
        except OSError:
            continue
        if f"kernel-{kernel_id}.json".encode() in cmdline:
            return int(proc.name)
    return None


@pytest.mark.skipif(not Path("/proc/self/cmdline").exists(), reason="finds the kernel's pid in /proc (Linux)")
@pytest.mark.timeout(300)
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP], ids=lambda s: s.name)
def test_stopping_nbstream_demo_stops_jupyterlab_and_its_kernels(tmp_path, signum):
    proc, lines, port = _start_demo(tmp_path)
    pids: list[int] = []
    try:
        url = _lab_url(lines, proc, port)
        token = url.split("token=", 1)[1]
        lab = _lab_pid(tmp_path)
        pids.append(lab)
        assert lab != proc.pid
        status = _wait_for(lambda: httpx.get(f"http://127.0.0.1:{port}/api/status?token={token}", timeout=30),
                           "Jupyter's /api/status")
        assert status.status_code == 200
        kernel = httpx.post(f"http://127.0.0.1:{port}/api/kernels?token={token}", json={}, timeout=60).json()
        kernel_pid = _wait_for(lambda: _kernel_pid(kernel["id"]), "the kernel process")
        pids.append(kernel_pid)
        os.kill(proc.pid, signum)
        assert proc.wait(DEADLINE) == 128 + signum
        _wait_for(lambda: not _alive(lab), "the Jupyter server process to end")
        _wait_for(lambda: not _port_open(port), "the Jupyter port to close")
        _wait_for(lambda: not _alive(kernel_pid), "the kernel to end")
    finally:
        _cleanup(proc, pids)
