"""Drive a real Jupyter kernel for tests: nbclient to execute whole notebooks (what
Run All, papermill and CI see), and a jupyter_client session that sees every IOPub
message (to count widget traffic, interrupt, and click widget buttons)."""

from __future__ import annotations

import queue
import time
from pathlib import Path
from typing import Any

import nbformat
from jupyter_client.manager import start_new_kernel
from nbclient import NotebookClient

SETUP = """\
import nbstream
from nbstream import demo
server = demo.serve()
nbstream.config.base_url = server.base_url
nbstream.config.model = "demo"
%load_ext nbstream
"""


def execute(cells: list[str], *, timeout: int = 60, setup: bool = True) -> nbformat.NotebookNode:
    """Run the cells top to bottom in a fresh kernel; the executed notebook (as saved)."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(src) for src in ([SETUP] if setup else []) + cells]
    NotebookClient(nb, timeout=timeout, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": str(Path(__file__).parent)}}).execute()
    return nb


class Session:
    """One kernel; ``run(code)`` returns every IOPub message of that execution."""

    def __init__(self) -> None:
        self.km, self.kc = start_new_kernel(kernel_name="python3", startup_timeout=60)

    def close(self) -> None:
        self.kc.stop_channels()
        self.km.shutdown_kernel(now=True)

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def send(self, code: str) -> str:
        return self.kc.execute(code)

    def collect(self, msg_id: str, timeout: float = 60.0, on_message=None) -> dict[str, Any]:
        """All IOPub messages of ``msg_id`` until idle, plus the shell reply."""
        messages = []
        deadline = time.monotonic() + timeout
        while True:
            try:
                msg = self.kc.get_iopub_msg(timeout=max(deadline - time.monotonic(), 0.1))
            except queue.Empty:
                raise AssertionError(f"execution did not finish within {timeout} s") from None
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            messages.append(msg)
            if on_message is not None:
                on_message(msg)
            if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                break
        reply = self.kc.get_shell_msg(timeout=60)
        return {"messages": messages, "reply": reply["content"]}

    def run(self, code: str, timeout: float = 60.0) -> dict[str, Any]:
        return self.collect(self.send(code), timeout)

    def stdout(self, code: str) -> str:
        result = self.run(code)
        return "".join(m["content"]["text"] for m in result["messages"]
                       if m["msg_type"] == "stream" and m["content"]["name"] == "stdout")


def of_type(messages: list[dict], msg_type: str) -> list[dict]:
    return [m for m in messages if m["msg_type"] == msg_type]


def custom_widget_messages(messages: list[dict]) -> list[dict]:
    """The custom (delta) messages sent to widgets, as their content dicts."""
    out = []
    for m in of_type(messages, "comm_msg"):
        data = m["content"].get("data", {})
        if data.get("method") == "custom":
            out.append(data["content"])
    return out
