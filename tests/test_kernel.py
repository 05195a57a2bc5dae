"""In a real Jupyter kernel (ipykernel, driven by jupyter_client): stream() blocks in a
cell whose loop is already running, and the kernel's Interrupt cancels it cleanly —
partial answer kept, no traceback, the cell's reply is ok."""

from __future__ import annotations

import queue
import time

import pytest
from jupyter_client.manager import start_new_kernel

SETUP = """
import nbstream
from nbstream import demo
server = demo.serve()
"""


@pytest.fixture()
def kernel():
    km, kc = start_new_kernel(kernel_name="python3", startup_timeout=60)
    try:
        yield km, kc
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def run_cell(kc, code, timeout=60.0, on_message=None):
    """Execute ``code``; return (reply content, stdout text, error outputs). ``on_message``
    sees each IOPub message of the execution as it arrives. ``timeout`` is a hang guard."""
    msg_id = kc.execute(code)
    stdout, errors = [], []
    deadline = time.monotonic() + timeout
    while True:
        try:
            msg = kc.get_iopub_msg(timeout=max(deadline - time.monotonic(), 0.1))
        except queue.Empty:
            raise AssertionError(f"cell did not finish in {timeout} s") from None
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        if on_message is not None:
            on_message(msg)
        kind, content = msg["msg_type"], msg["content"]
        if kind == "stream" and content["name"] == "stdout":
            stdout.append(content["text"])
        elif kind == "error":
            errors.append(content)
        elif kind == "status" and content["execution_state"] == "idle":
            break
    reply = kc.get_shell_msg(timeout=60)
    return reply["content"], "".join(stdout), errors


def shows_answer_text(msg) -> bool:
    """A live-view update carrying answer text: the kernel has received part of the answer."""
    data = msg["content"].get("data", {}) if msg["msg_type"] == "comm_msg" else {}
    delta = data.get("content", {}) if data.get("method") == "custom" else {}
    return bool(delta.get("blocks") or delta.get("tail"))


def test_stream_blocks_in_a_kernel_cell(kernel):
    km, kc = kernel
    run_cell(kc, SETUP)
    reply, out, errors = run_cell(kc, "r = nbstream.stream('Explain SSE', base_url=server.base_url, "
                                      "model='demo', demo={'ttft': 0.05, 'tps': 500})\n"
                                      "print(r.status, len(r.text) > 100)")
    assert reply["status"] == "ok" and not errors
    assert out.strip() == "done True"


def test_kernel_interrupt_cancels_the_stream_and_keeps_the_partial(kernel):
    # demo-long at 50 tokens/s takes 40 s: interrupted as soon as the live view shows text,
    # the cell must end as a normal cell while the server is still generating.
    km, kc = kernel
    run_cell(kc, SETUP)
    code = ("r = nbstream.stream('Explain SSE', base_url=server.base_url, model='demo-long', "
            "demo={'ttft': 0.05, 'tps': 50, 'jitter': 0}, display=True)")
    interrupted = []

    def interrupt_once_text_shows(msg):
        if not interrupted and shows_answer_text(msg):
            km.interrupt_kernel()
            interrupted.append(msg)

    reply, out, errors = run_cell(kc, code, on_message=interrupt_once_text_shows)
    assert interrupted, "the cell ended before any answer text was shown"
    assert reply["status"] == "ok" and not errors, errors
    reply, out, errors = run_cell(
        kc, "log = server.requests[-1]; assert log.wait(60)\n"
            "print(r.status, len(r.text) > 0, log.disconnected_ns is not None, log.finished)")
    assert out.strip() == "cancelled True True False", (out, errors)
