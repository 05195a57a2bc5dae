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


def run_cell(kc, code, timeout=30.0, during=None):
    """Execute ``code``; return (reply content, stdout text, error outputs)."""
    msg_id = kc.execute(code)
    stdout, errors = [], []
    deadline = time.monotonic() + timeout
    if during is not None:
        during()
    while True:
        try:
            msg = kc.get_iopub_msg(timeout=max(deadline - time.monotonic(), 0.1))
        except queue.Empty:
            raise AssertionError(f"cell did not finish in {timeout} s") from None
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        kind, content = msg["msg_type"], msg["content"]
        if kind == "stream" and content["name"] == "stdout":
            stdout.append(content["text"])
        elif kind == "error":
            errors.append(content)
        elif kind == "status" and content["execution_state"] == "idle":
            break
    reply = kc.get_shell_msg(timeout=10)
    return reply["content"], "".join(stdout), errors


def test_stream_blocks_in_a_kernel_cell(kernel):
    km, kc = kernel
    run_cell(kc, SETUP)
    reply, out, errors = run_cell(kc, "r = nbstream.stream('Explain SSE', base_url=server.base_url, "
                                      "model='demo', demo={'ttft': 0.05, 'tps': 500})\n"
                                      "print(r.status, len(r.text) > 100)")
    assert reply["status"] == "ok" and not errors
    assert out.strip() == "done True"


def test_kernel_interrupt_cancels_the_stream_and_keeps_the_partial(kernel):
    km, kc = kernel
    run_cell(kc, SETUP)
    code = ("r = nbstream.stream('Explain SSE', base_url=server.base_url, model='demo-long', "
            "demo={'ttft': 0.05, 'tps': 50, 'jitter': 0})")
    msg_id = kc.execute(code)
    time.sleep(1.5)
    t = time.monotonic()
    km.interrupt_kernel()
    # the cell ends promptly, as a normal cell
    while True:
        msg = kc.get_iopub_msg(timeout=10)
        if (msg["parent_header"].get("msg_id") == msg_id and msg["msg_type"] == "status"
                and msg["content"]["execution_state"] == "idle"):
            break
        assert msg["msg_type"] != "error", msg["content"]
    stopped_after = time.monotonic() - t
    reply = kc.get_shell_msg(timeout=10)
    assert reply["content"]["status"] == "ok"
    assert stopped_after < 2.0
    reply, out, errors = run_cell(
        kc, "log = server.requests[-1]; log.wait(2)\n"
            "print(r.status, len(r.text) > 0, log.disconnected_ns is not None)")
    assert out.strip() == "cancelled True True"
