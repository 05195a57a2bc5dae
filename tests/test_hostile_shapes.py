"""Valid JSON of the wrong shape — a number where text belongs, a dict finish reason, a
choice index of a billion — becomes a non-fatal ErrorEvent with the raw text, keeps
everything received before it, and never raises: not from show() or stream(), with a
view or without, and not later from repr(run), run.text, run.summary or run.chunks."""

from __future__ import annotations

import json

import pytest

import nbstream
from nbstream.events import ErrorEvent, Finish
from nbstream.views import console as _console
from nbstream.wire import registry
from tests._servers import ScriptedServer, sse_head

GOOD_CHAT = {"choices": [{"index": 0, "delta": {"content": "kept "}}]}
END_CHAT = {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}

CHAT = {
    "content is a number": {"choices": [{"index": 0, "delta": {"content": 5}}]},
    "reasoning_content is a list": {"choices": [{"index": 0, "delta": {"reasoning_content": [1, 2]}}]},
    "finish_reason is a dict": {"choices": [{"index": 0, "delta": {}, "finish_reason": {"why": "stop"}}]},
    "tool index is a string": {"choices": [{"index": 0, "delta": {"tool_calls": [
        {"index": "0", "id": "c", "function": {"name": "f", "arguments": "{}"}}]}}]},
    "tool name is a number": {"choices": [{"index": 0, "delta": {"tool_calls": [
        {"index": 0, "id": "c", "function": {"name": 7, "arguments": "{}"}}]}}]},
    "choice index is a billion": {"choices": [{"index": 10**9, "delta": {"content": "x"}}]},
    "choice index beyond int16": {"choices": [{"index": 40000, "delta": {"content": "x"}}]},
    "choice index is negative": {"choices": [{"index": -1, "delta": {"content": "x"}}]},
    "choices is a string": {"choices": "abc"},
}
RESPONSES = {
    "delta is a number": {"type": "response.output_text.delta", "delta": 5},
    "reasoning delta is a dict": {"type": "response.reasoning_text.delta", "delta": {"a": 1}},
    "output_index is a string": {"type": "response.function_call_arguments.delta", "output_index": "1",
                                 "delta": "{"},
}
OLLAMA = {
    "content is a number": {"model": "m", "message": {"role": "assistant", "content": 7}, "done": False},
    "thinking is a list": {"model": "m", "message": {"role": "assistant", "thinking": [1]}, "done": False},
    "done_reason is a dict": {"model": "m", "message": {"role": "assistant", "content": ""}, "done": True,
                              "done_reason": {"x": 1}},
}


def _sse(*payloads: dict | str) -> bytes:
    return b"".join(f"data: {p if isinstance(p, str) else json.dumps(p)}\n\n".encode() for p in payloads)


def _check(run: nbstream.Run) -> None:
    assert run.text.startswith("kept ")
    shape_errors = [e for e in run.events if isinstance(e, ErrorEvent) and not e.fatal]
    assert shape_errors and shape_errors[0].raw, run.events
    repr(run)
    assert len(run.texts) <= 2
    summary = run.summary
    assert summary["status"] == run.status
    chunks = run.chunks
    assert chunks["error"].notna().any()


@pytest.fixture(params=[False, True], ids=["no view", "console view"])
def display(request, capsys):
    yield request.param
    capsys.readouterr()


@pytest.mark.parametrize("case", CHAT)
def test_wrong_chat_shape_through_show(case, display):
    body = _sse(GOOD_CHAT, CHAT[case], END_CHAT, "[DONE]")
    run = nbstream.show(iter([body]), display=display)
    _check(run)
    assert run.status == "done"


@pytest.mark.parametrize("case", CHAT)
def test_wrong_chat_shape_as_a_dict_through_show(case, display):
    run = nbstream.show([GOOD_CHAT, CHAT[case], END_CHAT], display=display)
    _check(run)


@pytest.mark.parametrize("case", RESPONSES)
def test_wrong_responses_shape_through_show(case, display):
    good = {"type": "response.output_text.delta", "delta": "kept "}
    end = {"type": "response.completed", "response": {"status": "completed"}}
    run = nbstream.show(iter([_sse(good, RESPONSES[case], end)]), display=display)
    _check(run)
    assert run.status == "done"


@pytest.mark.parametrize("case", OLLAMA)
def test_wrong_ollama_shape_through_show(case, display):
    good = {"model": "m", "message": {"role": "assistant", "content": "kept "}, "done": False}
    lines = [json.dumps(good), json.dumps(OLLAMA[case])]
    run = nbstream.show(iter([("\n".join(lines) + "\n").encode()]), display=display)
    _check(run)


def test_infinite_usage_counts_are_dropped_not_raised(display):
    usage = {"choices": [], "usage": {"prompt_tokens": float("inf"), "completion_tokens": 1e300,
                                      "total_tokens": 10**40}}
    run = nbstream.show([GOOD_CHAT, END_CHAT, usage], display=display)
    assert run.usage is not None and run.usage.input_tokens is None and run.usage.output_tokens is None
    assert run.summary["status"] == "done"
    run.chunks  # noqa: B018 - must not raise


def test_usage_of_1e400_on_the_wire_is_a_recoverable_error():
    run = nbstream.show(iter([_sse(GOOD_CHAT, '{"choices": [], "usage": {"prompt_tokens": 1e400}}',
                                   END_CHAT, "[DONE]")]), display=False)
    _check(run)
    assert run.status == "done"


def _serving(body: bytes, content_type: str = "text/event-stream") -> ScriptedServer:
    def script(handler, n):
        handler.wfile.write(sse_head(content_type=content_type) + body)
    return ScriptedServer(script)


@pytest.mark.parametrize("case", CHAT)
def test_wrong_chat_shape_through_stream_over_http(case, display):
    with _serving(_sse(GOOD_CHAT, CHAT[case], END_CHAT, "[DONE]")) as server:
        run = nbstream.stream("hi", base_url=server.url + "/v1", model="m", display=display)
    _check(run)
    assert run.status == "done"


@pytest.mark.parametrize("case", RESPONSES)
def test_wrong_responses_shape_through_stream_over_http(case, display):
    good = {"type": "response.output_text.delta", "delta": "kept "}
    end = {"type": "response.completed", "response": {"status": "completed"}}
    with _serving(_sse(good, RESPONSES[case], end)) as server:
        run = nbstream.stream("hi", base_url=server.url + "/v1", model="m", api="responses", display=display)
    _check(run)
    assert run.status == "done"


@pytest.mark.parametrize("case", OLLAMA)
def test_wrong_ollama_shape_through_stream_over_http(case, display):
    good = {"model": "m", "message": {"role": "assistant", "content": "kept "}, "done": False}
    end = {"model": "m", "message": {"role": "assistant", "content": ""}, "done": True}
    body = "".join(json.dumps(x) + "\n" for x in (good, OLLAMA[case], end)).encode()
    with _serving(body, "application/x-ndjson") as server:
        run = nbstream.stream("hi", base_url=server.url, model="m", api="ollama", display=display)
    _check(run)


def test_a_failing_view_is_detached_and_never_reaches_the_caller(demo, monkeypatch, capsys):
    def boom(run, events):
        raise RuntimeError("the view broke")

    monkeypatch.setattr(_console, "attach", lambda run: run.subscribe(boom))
    run = nbstream.stream("hi", base_url=demo.base_url, model="demo", display=True,
                          demo={"ttft": 0, "tps": 5000})
    assert run.status == "done" and run.text
    assert "the view broke" in capsys.readouterr().err


HUGE = "x" * 100_000
# a finish word, an error's code and an error's type of 100,000 characters, in each format
OVERSIZED = {
    "chat finish_reason": ("chat", "", {"choices": [{"index": 0, "delta": {}, "finish_reason": HUGE}]}),
    "anthropic stop_reason": ("anthropic", "message_delta", {"type": "message_delta", "delta": {"stop_reason": HUGE}}),
    "anthropic stop_sequence": ("anthropic", "message_delta",
                                {"type": "message_delta", "delta": {"stop_reason": "stop_sequence",
                                                                    "stop_sequence": HUGE}}),
    "gemini finishReason": ("gemini", "", {"candidates": [{"index": 0, "finishReason": HUGE}]}),
    "gemini blockReason": ("gemini", "", {"promptFeedback": {"blockReason": HUGE}}),
    "ollama done_reason": ("ollama", "", {"model": "m", "done": True, "done_reason": HUGE}),
    "responses incomplete reason": ("responses", "", {"type": "response.incomplete",
                                                      "response": {"incomplete_details": {"reason": HUGE}}}),
    "error code and type": ("chat", "", {"error": {"message": "boom", "code": HUGE, "type": HUGE}}),
    "anthropic error type": ("anthropic", "error", {"type": "error", "error": {"type": HUGE, "message": "boom"}}),
}


@pytest.mark.parametrize("case", OVERSIZED.values(), ids=OVERSIZED.keys())
def test_a_servers_oversized_finish_word_or_error_code_is_cut(case):
    fmt, name, payload = case
    events = registry.adapter_for(fmt).feed(name, json.dumps(payload))
    words = [w for ev in events if isinstance(ev, (Finish, ErrorEvent))
             for w in ((ev.reason, ev.raw) if isinstance(ev, Finish) else (ev.code, ev.type)) if w is not None]
    stops = [ev.stop_sequence for ev in events if isinstance(ev, Finish) and ev.stop_sequence is not None]
    assert words and all(len(w) <= 200 for w in words) and all(len(s) <= 1000 for s in stops)
