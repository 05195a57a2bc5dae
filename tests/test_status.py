"""The status line while a run is silent: before the first token it ticks the elapsed time
and, past ``QUIET_AFTER_S``, says what it waits on; mid-stream a silence replaces the
tokens/s with ``no data for N s``. Clocks are explicit (``now_ns``): nothing sleeps."""

from __future__ import annotations

import io
import os
import pty
import re
import subprocess
import sys
import time

import pytest
from _servers import FullBacklogServer, SilentServer

import nbstream
from nbstream.events import TextDelta
from nbstream.run import Run
from nbstream.views import console as _console
from nbstream.views import status as _status
from nbstream.wire.framing import Message

T0 = 7_000_000_000
S = 1_000_000_000


def waiting_run(phase: str | None, model: str = "demo") -> Run:
    run = Run(model=model, api="chat")
    run.t0_ns = T0
    run.phase = phase
    return run


def streaming_run(model: str = "demo") -> Run:
    """Five tokens in the first second, then silence."""
    run = waiting_run("headers", model)
    for i in range(5):
        run._receive(Message(T0 + (i + 1) * S // 5, i, "", "{}", None, 5), [TextDelta("x")])
    return run


def at(run: Run, seconds: float, *, first_token_s: float | None = None, tokens: int = 0) -> str:
    first = None if first_token_s is None else T0 + round(first_token_s * S)
    return _status.at(run, first_token_ns=first, n_token_chunks=tokens, now_ns=T0 + round(seconds * S))


@pytest.mark.parametrize("phase, words", [
    ("connecting", "demo · streaming · connecting"),
    ("sent", "demo · streaming · waiting for response headers"),
    ("headers", "demo · streaming · headers received, waiting for the first token"),
    (None, "demo · streaming · waiting for the first token"),  # a stream opened elsewhere (show())
])
def test_past_the_threshold_the_waiting_line_says_what_it_waits_on(phase, words):
    assert at(waiting_run(phase), 3.25) == f"{words} · 3.2 s"


@pytest.mark.parametrize("phase", ["connecting", "sent", "headers"])
def test_before_the_threshold_the_waiting_line_is_short_and_ticks(phase):
    run = waiting_run(phase)
    assert at(run, 0.5) == "demo · streaming · waiting for the first token · 0.5 s"
    assert at(run, 1.5) == "demo · streaming · waiting for the first token · 1.5 s"


def test_a_stall_mid_stream_replaces_the_rate_with_the_seconds_of_silence():
    run = streaming_run()
    assert at(run, 4.6, first_token_s=0.2, tokens=5) == "demo · streaming · TTFT 200 ms · ≈5 tok · no data for 3 s"
    assert at(run, 9.0, first_token_s=0.2, tokens=5).endswith("no data for 8 s")


def test_data_flowing_keeps_the_live_line_with_its_rate():
    run = streaming_run()
    line = at(run, 1.5, first_token_s=0.2, tokens=5)
    assert line.startswith("demo · streaming · TTFT 200 ms · ≈5 tok · ") and line.endswith("tok/s")
    assert "no data" not in line


def test_the_quiet_line_keeps_a_model_name_that_looks_like_a_placeholder():
    run = streaming_run(model="{s} {0} %s")
    head, tail = _status.quiet(run, first_token_ns=T0 + S // 5, n_token_chunks=5)
    assert _status.fill((head, tail), 3.9) == "{s} {0} %s · streaming · TTFT 200 ms · ≈5 tok · no data for 3 s"
    waiting = _status.quiet(waiting_run("sent", model="{s}"), first_token_ns=None, n_token_chunks=0)
    assert _status.fill(waiting, 7) == "{s} · streaming · waiting for response headers"


def test_a_feed_says_how_long_it_has_been_silent():
    run = Run(api="sse", base_url="http://127.0.0.1:1/events")
    run.t0_ns = T0
    assert at(run, 5.5).endswith("0 reconnections · no data for 5 s")


# ---- the phases of a real request over loopback --------------------------------------------
def wait_until(condition, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the state was never reached"
        time.sleep(0.01)


def test_a_real_request_records_when_it_was_sent_and_when_headers_came(demo):
    run = nbstream.stream("hi", base_url=demo.base_url, model="demo", demo={"ttft": 0.05, "tps": 2000})
    assert run.phase == "headers" and run.t0_ns < run.t_sent_ns <= run.t_headers_ns
    row = run.summary
    assert 0 < row["t_sent_s"] <= row["t_headers_s"] <= row["ttft_s"]


def test_a_server_that_never_answers_leaves_the_run_waiting_for_response_headers():
    with SilentServer() as server:
        run = nbstream.stream("hi", base_url=server.url + "/v1", model="m", block=False)
        try:
            wait_until(lambda: run.phase == "sent")
            assert _status.quiet(run, first_token_ns=None, n_token_chunks=0) == (
                "m · streaming · waiting for response headers", None)
        finally:
            run.cancel()
            run.wait(10)
    assert run.status == "cancelled" and run.t_headers_ns is None


def test_a_handshake_that_never_completes_leaves_the_run_connecting():
    with FullBacklogServer() as server:
        run = nbstream.stream("hi", base_url=server.url + "/v1", model="m", block=False, connect_timeout=60)
        try:
            wait_until(lambda: run.phase == "connecting")
            assert run.t_sent_ns is None
            assert _status.quiet(run, first_token_ns=None, n_token_chunks=0) == ("m · streaming · connecting", None)
        finally:
            run.cancel()
            run.wait(10)
    assert run.status == "cancelled" and run.t_sent_ns is None


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_pipe_gets_the_answer_and_final_line_without_escapes_or_waiting_lines():
    out = io.StringIO()
    run = waiting_run("headers")
    _console.attach(run, out)
    run._enter_phase("headers")
    run._receive(Message(T0 + S, 0, "", "{}", None, 5), [TextDelta("Hello")])
    run._finish()
    text = out.getvalue()
    assert text.startswith("Hello\n") and "\x1b" not in text and "\r" not in text and "waiting" not in text


def test_a_terminal_waiting_line_is_rewritten_in_place_and_erased_before_the_answer():
    out = FakeTerminal()
    run = waiting_run("headers")
    ticker = _console._Ticker(run, out)
    ticker._tick(T0 + round(2.5 * S))
    assert out.getvalue() == "demo · streaming · headers received, waiting for the first token · 2.5 s"
    ticker._tick(T0 + round(3.5 * S))
    assert out.getvalue().endswith("\r\x1b[2Kdemo · streaming · headers received, waiting for the first token · 3.5 s")
    run._receive(Message(T0 + 4 * S, 0, "", "{}", None, 5), [TextDelta("Hello")])
    ticker.write("Hello", run.records[-1].events, done=False)
    assert out.getvalue().endswith("3.5 s\r\x1b[2KHello")


def test_a_terminal_stall_hint_sits_after_the_text_and_goes_before_the_next():
    out = FakeTerminal()
    run = streaming_run()
    ticker = _console._Ticker(run, out)
    ticker.write("Hello", run.records[-1].events, done=False)
    ticker._tick(T0 + 4 * S)
    assert out.getvalue() == "Hello\x1b7\x1b[2m  ⋯ no data for 3 s\x1b[0m\x1b8"
    ticker.write(" world", [TextDelta(" world")], done=False)
    assert out.getvalue().endswith("\x1b8\x1b[K world")


TTY_SCRIPT = """
import sys
import nbstream
from nbstream import demo
server = demo.serve()
run = nbstream.stream("hi", base_url=server.base_url, model="demo-stall", display=True,
                      demo={"ttft": 4, "stall": 4, "after": 5, "tps": 100})
open(sys.argv[1], "w").write(run.text)
"""


def test_on_a_real_terminal_the_waiting_line_and_stall_hint_come_and_go_leaving_the_answer(tmp_path):
    main, child = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-c", TTY_SCRIPT, str(tmp_path / "text")], stdout=child,
                            stderr=child, stdin=subprocess.DEVNULL)
    os.close(child)
    out = b""
    while True:  # until the child exits and closes its end
        try:
            chunk = os.read(main, 65536)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    assert proc.wait(timeout=60) == 0, out[-2000:]
    shown = out.decode().replace("\r\n", "\n")
    assert "demo-stall · streaming · headers received, waiting for the first token · " in shown
    assert re.search(r"\x1b7\x1b\[2m  ⋯ no data for \d s\x1b\[0m\x1b8", shown)
    # what stays on screen: each rewritten line and each hint is erased before the text goes on
    kept = re.sub(r"\x1b7.*?\x1b8\x1b\[K", "", shown)
    kept = re.sub(r"[^\n]*\r\x1b\[2K", "", kept)
    answer = (tmp_path / "text").read_text()
    assert kept.startswith(answer.replace("\r\n", "\n")) and "\x1b" not in kept
    assert kept[len(answer):].startswith("\ndemo-stall · TTFT ")
