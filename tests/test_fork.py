"""A child process made with os.fork() (multiprocessing's default on Linux up to 3.13)
gets its own I/O loop and HTTP clients: stream() works there instead of hanging."""

from __future__ import annotations

import json
import os
import signal
import sys
import time

import pytest

import nbstream

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork is POSIX-only")
FAST = {"ttft": 0, "tps": 5000, "jitter": 0}


def _child(base_url: str, write_fd: int) -> None:
    try:
        run = nbstream.stream("hi", base_url=base_url, model="demo", demo=FAST)
        result = {"status": run.status, "chars": len(run.text), "runs": len(nbstream.runs())}
    except BaseException as exc:  # report anything to the parent
        result = {"status": f"raised {type(exc).__name__}: {exc}"}
    os.write(write_fd, json.dumps(result).encode())
    os.close(write_fd)


def test_stream_works_in_a_forked_child(demo):
    first = nbstream.stream("hi", base_url=demo.base_url, model="demo", demo=FAST)  # loop + client exist
    assert first.status == "done"
    read_fd, write_fd = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        os.close(read_fd)
        try:
            _child(demo.base_url, write_fd)
        finally:
            os._exit(0)
    os.close(write_fd)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        time.sleep(0.05)
    else:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        pytest.fail("stream() in the forked child never returned")
    with os.fdopen(read_fd, "rb") as pipe:
        result = json.loads(pipe.read() or b"{}")
    assert result.get("status") == "done", result
    assert result["chars"] == len(first.text)


def _in_child(work) -> dict:
    """``work()``'s JSON-able result, computed in a forked child (bounded wait)."""
    read_fd, write_fd = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        os.close(read_fd)
        try:
            try:
                result = work()
            except BaseException as exc:  # noqa: BLE001 - report anything to the parent
                result = {"raised": f"{type(exc).__name__}: {exc}"}
            os.write(write_fd, json.dumps(result).encode())
            os.close(write_fd)
        finally:
            os._exit(0)
    os.close(write_fd)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        time.sleep(0.05)
    else:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        pytest.fail("the forked child never finished")
    with os.fdopen(read_fd, "rb") as pipe:
        return json.loads(pipe.read() or b"{}")


def test_a_session_in_the_child_keeps_settings_and_runs_and_a_usable_history(demo):
    session = nbstream.Session(model="demo", keep_runs=0)  # every run evicted: its row computed when asked
    first = nbstream.stream("hi", base_url=demo.base_url, demo=FAST, session=session)
    assert session.io.started

    def work() -> dict:
        run = nbstream.stream("hi", base_url=demo.base_url, demo=FAST, session=session)
        return {"status": run.status, "model": session.settings.model,
                "runs": session.runs()["run_id"].tolist()}

    result = _in_child(work)
    session.close()
    assert result.get("status") == "done", result
    assert result["model"] == "demo" and result["runs"][0] == first.run_id and len(result["runs"]) == 2


def test_the_child_starts_its_own_demo_endpoint(monkeypatch):
    for var in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "NBSTREAM_MODEL"):
        monkeypatch.delenv(var, raising=False)
    session = nbstream.Session()
    parent = nbstream.stream("hi", demo=FAST, session=session)  # starts the session's demo endpoint
    assert parent.status == "done"

    def work() -> dict:
        run = nbstream.stream("hi", demo=FAST, session=session)
        return {"status": run.status, "base_url": run.base_url}

    result = _in_child(work)
    session.close()
    assert result.get("status") == "done", result
    assert result["base_url"] != parent.base_url  # its own server: the parent's has no thread there
