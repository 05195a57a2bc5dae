"""Outcomes that used to be unclear or wrong: a non-streamed JSON answer is parsed into
the Run; an HTML page or a redirect is an error naming the content type or Location; a
non-ASCII SSE id survives reconnection; NDJSON lines of any size are framed whole; bad
arguments are one-line errors."""

from __future__ import annotations

import json

import pytest

import nbstream
from nbstream.wire.framing import JSONFramer, NDJSONFramer
from tests._servers import ScriptedServer, sse_head

FAST = {"ttft": 0, "tps": 5000, "jitter": 0}


# ---- non-streamed answers --------------------------------------------------------------
@pytest.mark.parametrize("api", ["chat", "responses", "ollama"])
def test_stream_false_answer_is_parsed_into_the_run(demo, api):
    streamed = nbstream.stream("Explain SSE", base_url=demo.base_url, model="demo", api=api, demo=FAST)
    whole = nbstream.stream("Explain SSE", base_url=demo.base_url, model="demo", api=api, demo=FAST,
                            stream=False)
    assert whole.status == "done", whole.error
    assert whole.text == streamed.text and whole.text
    assert whole.finish_reason == streamed.finish_reason
    assert whole.usage is not None and whole.usage.output_tokens == streamed.usage.output_tokens


def _answering(body: bytes, content_type: str, status: str = "200 OK", extra: str = "") -> ScriptedServer:
    def script(handler, n):
        handler.wfile.write(f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\n{extra}"
                            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode() + body)
    return ScriptedServer(script)


def test_a_server_that_ignores_stream_true_still_gives_text_usage_and_finish():
    answer = {"id": "c1", "object": "chat.completion", "model": "m",
              "choices": [{"index": 0, "message": {"role": "assistant", "content": "Whole answer."},
                           "finish_reason": "stop"}],
              "usage": {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7}}
    with _answering(json.dumps(answer, indent=2).encode(), "application/json") as server:
        run = nbstream.stream("hi", base_url=server.url + "/v1", model="m")
    assert run.status == "done" and run.text == "Whole answer." and run.finish_reason == "stop"
    assert run.usage.output_tokens == 4


def test_a_pretty_printed_responses_answer_is_parsed():
    answer = {"id": "r1", "object": "response", "status": "completed", "model": "m",
              "output": [{"type": "message", "role": "assistant",
                          "content": [{"type": "output_text", "text": "Whole."}]}],
              "usage": {"input_tokens": 2, "output_tokens": 1, "total_tokens": 3}}
    with _answering(json.dumps(answer, indent=1).encode(), "application/json; charset=utf-8") as server:
        run = nbstream.stream("hi", base_url=server.url + "/v1", model="m", api="responses")
    assert run.status == "done" and run.text == "Whole." and run.usage.total_tokens == 3


# ---- answers that are not streams ------------------------------------------------------
def test_an_html_page_is_an_error_naming_its_content_type():
    with _answering(b"<html><body>Welcome to nginx</body></html>", "text/html") as server:
        run = nbstream.stream("hi", base_url=server.url, model="m")
    assert run.status == "error"
    assert "text/html" in str(run.error) and "/v1" in str(run.error)


@pytest.mark.parametrize("status", ["301 Moved Permanently", "307 Temporary Redirect"])
def test_a_redirect_is_an_error_naming_the_location(status):
    with _answering(b"", "text/plain", status, "Location: https://elsewhere.example/v1/chat/completions\r\n") as server:
        run = nbstream.stream("hi", base_url=server.url + "/v1", model="m")
    assert run.status == "error"
    assert "https://elsewhere.example/v1/chat/completions" in str(run.error)
    assert status.split()[0] in str(run.error)


def test_a_feed_that_redirects_names_the_location():
    with _answering(b"", "text/plain", "302 Found", "Location: /other-feed\r\n") as server:
        run = nbstream.stream(url=server.url + "/feed")
    assert run.status == "error" and "/other-feed" in str(run.error)


# ---- SSE ids beyond ASCII --------------------------------------------------------------
def test_a_non_ascii_event_id_is_sent_back_as_utf8_on_reconnect():
    def script(handler, n):
        if n == 0:
            handler.wfile.write(sse_head() + "retry: 10\nid: café-☕-1\ndata: a\n\n".encode())
        else:
            handler.wfile.write(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n")

    with ScriptedServer(script) as server:
        run = nbstream.stream(url=server.url)
    assert run.status == "done", run.error
    assert [e.data for e in run.events] == ["a"]
    sent = server.requests[1]["last-event-id"]  # http.server decodes headers as latin-1
    assert sent.encode("latin-1").decode("utf-8") == "café-☕-1"


# ---- NDJSON framing --------------------------------------------------------------------
def test_a_40_mb_ndjson_line_in_small_reads_is_one_whole_message():
    line = b'{"response": "' + b"x" * (40 << 20) + b'"}'
    framer = NDJSONFramer()
    out = []
    for i in range(0, len(line), 65536):
        out += framer.feed(line[i:i + 65536], i, 0)
    assert out == []
    out += framer.feed(b"\n{\"done\": true}", 1, 1) + framer.end(2, 2)
    assert [len(m.data) for m in out] == [len(line), len('{"done": true}')]
    assert out[0].data == line.decode()


def test_ndjson_lines_split_across_reads_at_every_position():
    body = b'{"a": 1}\n{"b": "two"}\n\n{"c": [3]}'
    for cut in range(len(body) + 1):
        framer = NDJSONFramer()
        msgs = framer.feed(body[:cut], 0, 0) + framer.feed(body[cut:], 1, 1) + framer.end(2, 2)
        assert [m.data for m in msgs] == ['{"a": 1}', '{"b": "two"}', '{"c": [3]}'], cut


def test_json_framer_keeps_ndjson_lines_as_they_come_and_a_document_whole():
    lines = JSONFramer()
    assert [m.data for m in lines.feed(b'{"a": 1}\n{"b"', 0, 0)] == ['{"a": 1}']
    document = JSONFramer()
    assert document.feed(b'{\n  "a": 1\n', 0, 0) == []
    assert [m.data for m in document.feed(b"}\n", 1, 1) + document.end(2, 2)] == ['{\n  "a": 1\n}']


# ---- argument validation ---------------------------------------------------------------
@pytest.mark.parametrize("kwargs, words", [
    ({"base_url": 5}, "base_url must be a URL string"),
    ({"base_url": "localhost:8000/v1"}, "base_url must be an http:// or https:// URL"),
    ({"api_key": 123, "base_url": "http://127.0.0.1:9/v1"}, "must be a string"),
    ({"model": 5, "base_url": "http://127.0.0.1:9/v1"}, "model must be a non-empty string"),
    ({"connect_timeout": 0, "base_url": "http://127.0.0.1:9/v1"}, "connect_timeout must be a number"),
    ({"first_byte_timeout": -1, "base_url": "http://127.0.0.1:9/v1"}, "first_byte_timeout must be"),
    ({"headers": {"x": 1}, "base_url": "http://127.0.0.1:9/v1"}, "headers must be a dict of strings"),
])
def test_bad_stream_arguments_are_one_line_errors(kwargs, words):
    with pytest.raises((TypeError, ValueError)) as info:
        nbstream.stream("hi", model=kwargs.pop("model", "m"), **kwargs)
    assert words in str(info.value) and "\n" not in str(info.value)


def test_a_feed_url_that_is_not_a_string_is_a_one_line_error():
    with pytest.raises(TypeError, match="url must be a URL string"):
        nbstream.stream(url=5)


def test_runs_of_something_that_is_not_a_run_is_a_one_line_error():
    with pytest.raises(TypeError, match="nbstream.runs\\(\\) takes Run objects"):
        nbstream.runs(5)


def test_a_positive_connect_timeout_argument_is_honoured(demo):
    run = nbstream.stream("hi", base_url=demo.base_url, model="demo", connect_timeout=0.5, demo=FAST)
    assert run.status == "done"
