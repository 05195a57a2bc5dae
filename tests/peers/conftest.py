"""Fixtures for tests against real peers: a llama.cpp ``llama-server`` serving a real
model (gemma3-270m), and LiteLLM's proxy in front of it (Gemini's and Anthropic's wire
formats translated to the llama-server's Chat Completions), each started once per
session and stopped by its PID.

The binary and the model come from ``.ci/llama.sh``, the proxy from ``.ci/litellm.sh``;
they print the environment variables read here. Without them the tests fail in CI
(``CI=true``) and are skipped on a laptop, with a message saying how to get them.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: _kernel, _servers

MODEL_ALIAS = "gemma3-270m"
HEALTH_TIMEOUT_S = 120.0
_HOW = ('run `eval "$(.ci/llama.sh)"` first: it builds llama-server and assembles the model, '
        "then sets NBSTREAM_LLAMA_SERVER and NBSTREAM_LLAMA_MODEL")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "peers: against real third-party servers (llama.cpp llama-server, LiteLLM's proxy); "
                   "needs .ci/llama.sh (and .ci/litellm.sh)")


@dataclass
class LlamaServer:
    """A running llama-server: where to send requests and where its log is."""

    base_url: str  # ends in /v1
    root: str
    pid: int
    log: Path
    model: str = MODEL_ALIAS


def _missing(message: str) -> None:
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def _paths() -> tuple[Path, Path]:
    server = os.environ.get("NBSTREAM_LLAMA_SERVER")
    model = os.environ.get("NBSTREAM_LLAMA_MODEL")
    if not server or not model:
        _missing(f"NBSTREAM_LLAMA_SERVER / NBSTREAM_LLAMA_MODEL are not set; {_HOW}")
    for name, path in (("NBSTREAM_LLAMA_SERVER", server), ("NBSTREAM_LLAMA_MODEL", model)):
        if not Path(path).is_file():
            _missing(f"{name}={path} does not exist; {_HOW}")
    return Path(server), Path(model)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _tail(path: Path, n: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-n:])
    except OSError:
        return "(no log)"


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(10)


class _ExitedWhileStarting(RuntimeError):
    """llama-server exited before it was healthy (e.g. its port was taken meanwhile)."""


def _wait_healthy(proc: subprocess.Popen, url: str, log: Path, what: str = "llama-server") -> None:
    """Poll ``url`` until it answers 200 (the server's own readiness state)."""
    deadline = time.monotonic() + HEALTH_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise _ExitedWhileStarting(f"{what} exited with code {proc.returncode} while starting; "
                                       f"its log ({log}):\n{_tail(log)}")
        try:
            if httpx.get(url, timeout=10).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.25)
    raise RuntimeError(f"{what} was not healthy within {HEALTH_TIMEOUT_S:.0f} s; "
                       f"its log ({log}):\n{_tail(log)}")


def _start(binary: Path, model: Path, log: Path) -> tuple[subprocess.Popen, str]:
    """llama-server on a free port, healthy; a port taken between our probe and its bind
    (another process on a shared machine) makes it exit: then try another port."""
    for attempt in range(3):
        port = _free_port()
        root = f"http://127.0.0.1:{port}"
        # --metrics: tests read llamacpp:n_decode_total (how many tokens the model really made)
        cmd = [str(binary), "-m", str(model), "-a", MODEL_ALIAS, "--no-jinja", "--chat-template", "gemma",
               "-c", "4096", "-np", "1", "-t", "2", "--metrics", "--host", "127.0.0.1", "--port", str(port)]
        with open(log, "wb") as sink:
            proc = subprocess.Popen(cmd, stdout=sink, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        try:
            _wait_healthy(proc, root + "/health", log)
            return proc, root
        except _ExitedWhileStarting:
            if attempt == 2:
                raise
        except BaseException:
            _stop(proc)
            raise
    raise AssertionError("unreachable")


@pytest.fixture(scope="session")
def llama(tmp_path_factory: pytest.TempPathFactory):
    """One llama-server for the session (one slot, two threads, 4k context)."""
    binary, model = _paths()
    log = tmp_path_factory.mktemp("llama") / "llama-server.log"
    try:
        proc, root = _start(binary, model, log)
    except RuntimeError as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        yield LlamaServer(base_url=root + "/v1", root=root, pid=proc.pid, log=log)
    finally:
        _stop(proc)


# ---- LiteLLM's proxy -------------------------------------------------------------------------
LITELLM_MODEL = "gemma"
_HOW_LITELLM = ('run `eval "$(.ci/litellm.sh)"` first: it installs litellm[proxy] into its own cached '
                "virtualenv and sets NBSTREAM_LITELLM")


@dataclass
class LiteLLMProxy:
    """A running LiteLLM proxy: ``root`` serves Gemini's ``/v1beta/...`` and Anthropic's
    ``/v1/messages``; model ``gemma`` is the llama-server's model."""

    root: str
    pid: int
    log: Path
    model: str = LITELLM_MODEL


def _litellm_binary() -> Path:
    binary = os.environ.get("NBSTREAM_LITELLM")
    if not binary:
        _missing(f"NBSTREAM_LITELLM is not set; {_HOW_LITELLM}")
    if not Path(binary).is_file():
        _missing(f"NBSTREAM_LITELLM={binary} does not exist; {_HOW_LITELLM}")
    return Path(binary)


def _litellm_config(llama: LlamaServer, path: Path) -> Path:
    # JSON is YAML: no YAML writer needed
    config = {"model_list": [{"model_name": LITELLM_MODEL, "litellm_params": {
        "model": f"openai/{llama.model}", "api_base": llama.base_url, "api_key": "sk-llama-needs-no-key"}}],
        "litellm_settings": {"telemetry": False, "drop_params": True}}
    path.write_text(json.dumps(config))
    return path


@pytest.fixture(scope="session")
def litellm(llama: LlamaServer, tmp_path_factory: pytest.TempPathFactory):
    """One LiteLLM proxy for the session, on a free loopback port, routing ``gemma`` to llama-server."""
    binary = _litellm_binary()
    work = tmp_path_factory.mktemp("litellm")
    config, log = _litellm_config(llama, work / "config.yaml"), work / "litellm.log"
    env = {**os.environ, "LITELLM_DANGEROUSLY_PERMIT_WEAK_OR_UNSET_MASTER_KEY": "true",
           "LITELLM_LOCAL_MODEL_COST_MAP": "True", "LITELLM_TELEMETRY": "False", "NO_DOCS": "True"}
    for attempt in range(3):
        port = _free_port()
        root = f"http://127.0.0.1:{port}"
        with open(log, "wb") as sink:
            proc = subprocess.Popen([str(binary), "--config", str(config), "--host", "127.0.0.1",
                                     "--port", str(port), "--num_workers", "1"], cwd=work, env=env,
                                    stdout=sink, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        try:
            _wait_healthy(proc, root + "/health/readiness", log, "the LiteLLM proxy")
            break
        except _ExitedWhileStarting as exc:
            if attempt == 2:
                pytest.fail(str(exc), pytrace=False)
        except RuntimeError as exc:
            _stop(proc)
            pytest.fail(str(exc), pytrace=False)
        except BaseException:
            _stop(proc)
            raise
    try:
        yield LiteLLMProxy(root=root, pid=proc.pid, log=log)
    finally:
        _stop(proc)
