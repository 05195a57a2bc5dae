"""The live view seen from the kernel's IOPub channel (jupyter_client): throttled deltas,
reasoning and tool cards, the wire panel, XSS payloads, Interrupt during a blocking
stream, and a Stop click on a --bg stream."""

from __future__ import annotations

import ast
import time
from html.parser import HTMLParser

import pytest
from _kernel import SETUP, Session, custom_widget_messages, of_type
from hostile_corpus import problems
from markdown_it import MarkdownIt


@pytest.fixture(scope="module")
def kernel():
    with Session() as session:
        result = session.run(SETUP)
        assert result["reply"]["status"] == "ok", result
        yield session


def statics(messages):
    return [m["content"] for m in of_type(messages, "display_data") if "text/markdown" in m["content"]["data"]]


def test_deltas_are_throttled_whatever_the_token_rate(kernel):
    t = time.monotonic()
    result = kernel.run('%%stream -m demo-long -o fast -p demo.tps=500 -p demo.ttft=0.1\nExplain SSE',
                        timeout=120)
    elapsed = time.monotonic() - t
    deltas = custom_widget_messages(result["messages"])
    tokens = int(kernel.stdout("print(fast.summary['n_token_chunks'])"))
    assert tokens > 1000
    assert len(deltas) <= 20 * elapsed + 5  # ≤ 20 updates/s however many tokens
    assert len(deltas) < tokens / 5
    assert [d["seq"] for d in deltas] == list(range(len(deltas)))
    assert any(d.get("blocks") for d in deltas) and any(d.get("tail") for d in deltas)


def test_the_final_static_answer_is_exact(kernel):
    result = kernel.run('%%stream -o exact\nExplain SSE')
    (answer,) = statics(result["messages"])
    text = kernel.stdout("print(repr(exact.text))")
    assert repr(answer["data"]["text/plain"].split("\n\n[")[0]) == text.strip()


def test_finished_blocks_are_sent_once(kernel):
    result = kernel.run('%%stream -o once\nExplain SSE')
    blocks = [b for d in custom_widget_messages(result["messages"]) for b in d.get("blocks", [])]
    assert len(blocks) == len(set(blocks)) or len(blocks) > 3
    assert len(blocks) >= 3


def test_reasoning_streams_first_then_collapses_when_the_answer_starts(kernel):
    deltas = custom_widget_messages(kernel.run('%%stream -m demo-reasoning\nWhy?')["messages"])
    reasoning_at = next(i for i, d in enumerate(deltas) if d.get("reasoning"))
    done_at = next(i for i, d in enumerate(deltas) if d.get("reasoning_done"))
    assert reasoning_at < done_at


def test_tool_call_arguments_fill_in_live(kernel):
    deltas = custom_widget_messages(kernel.run('%%stream -m demo-tools\nWeather?')["messages"])
    tools = [t for d in deltas for t in d.get("tools", [])]
    assert tools and any(t.get("name") for t in tools)
    assert "".join(t["args"] for t in tools).startswith("{")


def test_raw_shows_the_wire_live_and_in_the_saved_answer(kernel):
    result = kernel.run('%%stream --raw\nExplain SSE')
    lines = [line for d in custom_widget_messages(result["messages"]) for line in d.get("raw", [])]
    assert any(line.startswith('data: {"id":"chatcmpl') for line in lines)
    (answer,) = statics(result["messages"])
    md = answer["data"]["text/markdown"]
    assert "<summary>Wire" in md and "data: [DONE]" in md


class _Dangerous(HTMLParser):
    def __init__(self):
        super().__init__()
        self.found = []

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "iframe", "svg", "object", "embed", "style"):
            self.found.append(tag)
        for name, value in attrs:
            if name.startswith("on") or (value or "").replace(" ", "").lower().startswith("javascript:"):
                self.found.append(f"{tag} {name}={value}")


def test_xss_payloads_stay_inert_live_and_saved(kernel):
    result = kernel.run('%%stream -m demo-xss\nShow me HTML')
    html_sent = [b for d in custom_widget_messages(result["messages"]) for b in d.get("blocks", [])]
    html_sent += [d["tail"] for d in custom_widget_messages(result["messages"]) if d.get("tail")]
    scan = _Dangerous()
    for fragment in html_sent:
        scan.feed(fragment)
    assert html_sent and scan.found == []
    (answer,) = statics(result["messages"])
    md = answer["data"]["text/markdown"]
    rendered = MarkdownIt("commonmark", {"html": True}).render(md)  # as a renderer that trusts it would
    assert problems(rendered, strict=False) == [] and "<script" not in rendered and "<img" not in rendered
    assert "&lt;script&gt;" in md or "&lt;script>" in md  # shown as text, not dropped


def _shows_answer_text(msg) -> bool:
    """A live-view update carrying answer text: the kernel has received part of the answer."""
    delta = custom_widget_messages([msg])
    return bool(delta and (delta[0].get("blocks") or delta[0].get("tail")))


def test_interrupt_stops_a_blocking_stream_keeps_the_partial_and_leaves_no_traceback(kernel):
    # demo-long at 50 tokens/s takes 40 s; interrupted once the live view shows text, the
    # run must end while the server is still generating (it sees the client go away).
    msg_id = kernel.send('%%stream -m demo-long -o cut -p demo.tps=50\nExplain SSE slowly')
    interrupted = []

    def interrupt_once_text_shows(msg):
        if not interrupted and _shows_answer_text(msg):
            kernel.km.interrupt_kernel()
            interrupted.append(msg)

    result = kernel.collect(msg_id, timeout=90, on_message=interrupt_once_text_shows)
    assert interrupted, "the cell ended before any answer text was shown"
    assert result["reply"]["status"] == "ok"
    assert not of_type(result["messages"], "error")
    (answer,) = statics(result["messages"])
    assert "⏹ stopped after" in answer["data"]["text/markdown"]
    assert kernel.stdout("print(cut.status, len(cut.text) > 0)").strip() == "cancelled True"
    server_saw = kernel.stdout("log = server.requests[-1]; assert log.wait(60)\n"
                               "print(log.disconnected_ns is not None, log.finished)")
    assert server_saw.strip() == "True False"  # the client left before the answer was written


def test_stop_button_stops_a_background_stream(kernel):
    result = kernel.run('%%stream --bg -m demo-long -o bg -p demo.tps=50\nExplain SSE slowly')
    assert result["reply"]["status"] == "ok"
    opened = [m["content"] for m in of_type(result["messages"], "comm_open")
              if m["content"]["data"]["state"].get("_esm")]
    assert opened, "the live widget was not opened"
    comm_id = opened[-1]["comm_id"]
    assert _wait_for(kernel, "print(len(bg.text) > 0)", "True") == "True"  # the run has received text
    click = kernel.kc.session.msg("comm_msg", {"comm_id": comm_id,
                                               "data": {"method": "custom", "content": {"t": "stop"}}})
    kernel.kc.shell_channel.send(click)
    assert _wait_for(kernel, "print(bg.status)", lambda status: status != "streaming") == "cancelled"
    assert kernel.stdout("print(len(bg.text) > 0)").strip() == "True"
    server_saw = kernel.stdout("log = server.requests[-1]; assert log.wait(60)\n"
                               "print(log.disconnected_ns is not None, log.finished)")
    assert server_saw.strip() == "True False"  # stopped while the server was still generating


def _wait_for(kernel, code, expected, deadline_s: float = 60) -> str:
    """Run ``code`` in the kernel until its stdout (stripped) is ``expected`` (or satisfies
    it, if callable); the last output. The deadline is a hang guard."""
    ok = expected if callable(expected) else (lambda out: out == expected)
    deadline = time.monotonic() + deadline_s
    while True:
        out = kernel.stdout(code).strip()
        if ok(out) or time.monotonic() > deadline:
            return out
        time.sleep(0.05)


SPY = """
import threading
import nbstream.views.live as _live_mod
import nbstream.views.widget as _widget_mod
_seen = {"send": set(), "render": set()}
_send = _widget_mod.LiveWidget.send
def _spy_send(self, *a, **k):
    _seen["send"].add(threading.current_thread().name)
    return _send(self, *a, **k)
_widget_mod.LiveWidget.send = _spy_send
_stream = _live_mod.markdown_stream
class _SpyStream:
    def __init__(self):
        self._md = _stream()
    def feed(self, delta):
        self._md.feed(delta)
    def flush(self):
        _seen["render"].add(threading.current_thread().name)
        return self._md.flush()
    def finish(self):
        _seen["render"].add(threading.current_thread().name)
        return self._md.finish()
_live_mod.markdown_stream = _SpyStream
"""
UNSPY = "_widget_mod.LiveWidget.send = _send; _live_mod.markdown_stream = _stream"


def test_rendering_and_sending_never_run_on_the_thread_that_reads_the_socket(kernel):
    kernel.run(SPY)
    try:
        kernel.run("%%stream -o spied\nExplain SSE")
        got = kernel.stdout("print(repr((sorted(_seen['send']), sorted(_seen['render']), "
                            "threading.main_thread().name)))")
    finally:
        kernel.run(UNSPY)
    sends, renders, main = ast.literal_eval(got)  # our own print of two lists and a str
    assert sends and renders
    assert main not in sends and main not in renders  # %%stream reads the socket on the kernel's loop
    assert all(name.startswith("nbstream-view-") for name in sends + renders)


def test_a_slow_renderer_makes_flushes_coalesce_not_pile_up(kernel):
    slow = """
import time as _t
_seen["flushes"] = 0
class _Slow(_SpyStream):
    def flush(self):
        _seen["flushes"] += 1
        _t.sleep(0.2)
        return super().flush()
_live_mod.markdown_stream = _Slow
"""
    kernel.run(SPY + slow)
    try:
        kernel.run("%%stream -o slow -p demo.tps=400 -p demo.ttft=0.05\nExplain SSE")
        flushes, seconds, status, text_ok = ast.literal_eval(kernel.stdout(  # our own print
            "print((_seen['flushes'], (slow.t_end_ns - slow.t0_ns) / 1e9, slow.status, len(slow.text) > 500))"))
    finally:
        kernel.run(UNSPY)
    assert status == "done" and text_ok
    assert flushes >= 2
    # each flush takes >= 0.2 s and the next starts >= 50 ms after it ended: however
    # fast tokens arrive, at most one flush per 0.25 s of stream (+ the first and the final)
    assert flushes <= seconds / 0.25 + 2


def test_the_saved_html_is_exactly_what_the_widget_showed_last(kernel):
    result = kernel.run("%%stream -o shown\nExplain SSE")
    blocks, tail = [], ""
    for d in custom_widget_messages(result["messages"]):
        if d.get("t") == "reset" or d.get("replace"):
            blocks = []
        blocks += d.get("blocks", [])
        tail = d.get("tail", tail)
    assert tail == "" and len(blocks) == 1  # the final message: the whole answer in place of the pieces
    (answer,) = statics(result["messages"])
    saved = answer["data"]["text/html"]
    assert blocks[0] in saved and "<li>" in blocks[0]
    assert 'class="nbs nbs-static' in saved and "<script" not in saved


def test_the_saved_answer_is_the_same_html_however_the_flushes_fell(kernel):
    def answer_html(cell: str) -> str:
        (answer,) = statics(kernel.run(cell)["messages"])
        saved = answer["data"]["text/html"]
        return saved[saved.index('<div class="nbs-answer">'):saved.index('<div class="nbs-status">')]

    slow = answer_html("%%stream -p demo.tps=40 -p demo.jitter=0.5\nExplain SSE")  # many small flushes
    fast = answer_html("%%stream -p demo.tps=5000\nExplain SSE")  # a few big ones
    assert slow == fast and "<ol" in slow


def test_the_saved_answer_carries_a_schema_version(kernel):
    (answer,) = statics(kernel.run("%%stream\nExplain SSE")["messages"])
    assert answer["metadata"]["nbstream"]["schema"] == 2
    assert set(answer["data"]) == {"text/html", "text/markdown", "text/plain"}


def test_a_kernel_shutting_down_mid_stream_drops_its_widget_reference_and_saves_the_partial():
    """What the kernel does itself on a restart (a killed kernel is left to the view,
    tests/browser/test_restart.py): the widget's output emptied, the partial answer kept."""
    widget_mime = "application/vnd.jupyter.widget-view+json"
    with Session() as session:
        assert session.run(SETUP)["reply"]["status"] == "ok"
        started = session.run('%%stream --bg -m demo-long -o bg -p demo.tps=50\nExplain SSE slowly')
        (widget_id,) = [m["content"]["transient"]["display_id"] for m in of_type(started["messages"], "display_data")
                        if widget_mime in m["content"]["data"]]
        assert _wait_for(session, "print(len(bg.text) > 200)", "True") == "True"
        session.kc.shutdown(restart=True)  # what a restart asks of the kernel first
        updates: dict[str, dict] = {}
        deadline = time.monotonic() + 60  # a hang guard: the wait is for the widget's output emptied
        while widget_id not in updates or updates[widget_id]:
            msg = session.kc.get_iopub_msg(timeout=max(deadline - time.monotonic(), 0.1))
            if msg["msg_type"] == "update_display_data":
                updates[msg["content"]["transient"]["display_id"]] = msg["content"]["data"]
        partial = [data["text/plain"] for data in updates.values()
                   if "stream interrupted" in data.get("text/plain", "")]
        assert partial and len(partial[0]) > 200, updates


def test_a_kernel_shutting_down_mid_comparison_saves_the_panes_in_place_of_the_grid_widget():
    widget_mime = "application/vnd.jupyter.widget-view+json"
    with Session() as session:
        assert session.run(SETUP)["reply"]["status"] == "ok"
        started = session.run("%%stream --bg --compare -m demo-long -m demo-long -o many -p demo.tps=50\n"
                              "Explain SSE slowly")
        (grid_id,) = [m["content"]["transient"]["display_id"] for m in of_type(started["messages"], "display_data")
                      if widget_mime in m["content"]["data"]]
        assert _wait_for(session, "print(all(len(r.text) > 200 for r in many))", "True") == "True"
        session.kc.shutdown(restart=True)
        deadline = time.monotonic() + 60  # a hang guard: the wait is for the grid's output replaced
        while True:
            msg = session.kc.get_iopub_msg(timeout=max(deadline - time.monotonic(), 0.1))
            if msg["msg_type"] == "update_display_data" and msg["content"]["transient"]["display_id"] == grid_id:
                break
        data = msg["content"]["data"]
        assert widget_mime not in data
        assert 'class="nbs-compare" data-nbs-partial=' in data["text/html"]
        assert data["text/html"].count(' nbs-pane"') == 2
        assert data["text/plain"].count("stream interrupted") == 2 and len(data["text/plain"]) > 400
        assert msg["content"]["metadata"]["nbstream"]["partial"] is True
