"""A silent run in a real kernel: the widget learns what the run waits on as soon as the
phase changes (before any token), and every update carries the stall wording and the
time of the last data — so the front end ticks both on its own clock."""

from __future__ import annotations

import pytest
from _kernel import SETUP, Session, custom_widget_messages


@pytest.fixture(scope="module")
def kernel():
    with Session() as session:
        result = session.run(SETUP)
        assert result["reply"]["status"] == "ok", result
        yield session


def test_the_widget_hears_the_waiting_phase_before_the_first_token(kernel):
    deltas = custom_widget_messages(kernel.run("%%stream -o slow -p demo.ttft=3\nExplain SSE")["messages"])
    first_token = next(i for i, d in enumerate(deltas) if "TTFT" in d["status"])
    before = deltas[:first_token]
    assert before and not any(d.get("blocks") or d.get("tail") for d in before), deltas[:3]
    heads = [d["quiet"]["head"] for d in before]
    assert heads[-1] == "demo · streaming · headers received, waiting for the first token", heads
    assert set(heads) <= {"demo · streaming · connecting", "demo · streaming · waiting for response headers",
                          heads[-1]}
    assert all(d["quiet"]["tail"] is None for d in before)  # no "no data for N s" before a token
    assert all(d["status"] == "demo · streaming · waiting for the first token" for d in before)
    assert all(0 <= d["quiet"]["since"] <= d["elapsed"] and d["quiet"]["after"] == 2.0 for d in before)
    assert kernel.stdout("print(slow.phase, slow.t0_ns < slow.t_sent_ns <= slow.t_headers_ns)").split() == [
        "headers", "True"]


def test_before_a_stall_the_widget_already_holds_the_no_data_wording(kernel):
    deltas = custom_widget_messages(
        kernel.run("%%stream -o stalled -m demo-stall -p demo.stall=5 -p demo.after=10\nExplain SSE")["messages"])
    live = [d for d in deltas if "quiet" in d and d["quiet"]["tail"] is not None]
    # updates still come during the silence (the heartbeat), each dating the last data
    silent_for = [(d["elapsed"] - d["quiet"]["since"], d) for d in live]
    longest, before_stall = max(silent_for, key=lambda g: g[0])
    assert longest >= 2.5, [g for g, _ in silent_for]  # the server went silent for 5 s
    head, tail = before_stall["quiet"]["head"], before_stall["quiet"]["tail"]
    assert head.startswith("demo-stall · streaming · TTFT ") and head.endswith(" tok · no data for ") and tail == " s"
    assert before_stall["quiet"]["since"] <= before_stall["elapsed"]
