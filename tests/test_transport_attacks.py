"""The transport against servers that break HTTP itself: a malformed chunk mid-body ends
the stream at once as incomplete (keeping what arrived) instead of waiting out the idle
deadline, and a malformed response head is a one-line error."""

from __future__ import annotations

import json
import threading

import pytest

import nbstream
from nbstream import Session, errors
from tests._servers import ScriptedServer
from tests._wait import wait_for

CHUNK = json.dumps({"choices": [{"index": 0, "delta": {"content": "kept"}}]})



def _stream_from(script, **kw) -> nbstream.Run:
    """One request, with a fresh session (closed after), to a server answering with ``script``."""
    session = Session()
    try:
        with ScriptedServer(script) as server:
            return nbstream.stream("hi", model="m", base_url=server.url + "/v1", display=False, session=session,
                                   **kw)
    finally:
        session.close()


def test_a_malformed_chunk_size_mid_body_ends_the_stream_as_incomplete_keeping_what_arrived():
    go_on = threading.Event()

    def script(handler, _n) -> None:
        data = f"data: {CHUNK}\n\n".encode()
        handler.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
                            + b"%x\r\n" % len(data) + data + b"\r\n")
        handler.wfile.flush()
        go_on.wait(60)
        handler.wfile.write(b"zz\r\nnot a chunk\r\n")
        handler.wfile.flush()

    session = Session()
    try:
        with ScriptedServer(script) as server:
            run = nbstream.stream("hi", model="m", base_url=server.url + "/v1", display=False, block=False,
                                  session=session, idle_timeout=600)
            wait_for(lambda: run.text == "kept")
            go_on.set()
            run.wait(120)  # without the fix it waits out the 600 s idle deadline
            assert run.done
    finally:
        go_on.set()
        session.close()
    assert run.status == "incomplete" and run.text == "kept"
    assert isinstance(run.error, errors.IncompleteStreamError)


def test_a_malformed_response_head_is_a_one_line_error():
    def script(handler, _n) -> None:
        handler.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
                            b"zz\r\nnot a chunk\r\n")

    run = _stream_from(script)
    assert run.status == "error" and isinstance(run.error, errors.ConnectError)
    assert "chunk size" in str(run.error) and "\n" not in str(run.error)


def test_a_response_head_of_garbage_is_a_short_error_not_the_garbage():
    def script(handler, _n) -> None:
        handler.wfile.write(b"\x1b[2J" + b"X" * 5000 + b"\r\n\r\n")

    run = _stream_from(script)
    text = str(run.error)
    assert run.status == "error" and "Bad status line" in text
    assert len(text) < 500 and not any(ord(c) < 32 or 127 <= ord(c) < 160 for c in text), len(text)


def test_an_endless_error_body_is_read_only_as_far_as_its_start():
    """The server sends a 500 whose body never ends: the error carries its start at once
    (without the cap it waited 5 s for an end, holding every byte in memory, and said nothing)."""
    hold = threading.Event()

    def script(handler, _n) -> None:
        message = json.dumps({"error": {"message": "overloaded, try later"}}).encode()
        head = (b"HTTP/1.1 500 Internal Server Error\r\nContent-Type: application/json\r\n"
                b"Content-Length: 100000000\r\n\r\n")
        handler.wfile.write(head + message + b" " * (1 << 20))
        handler.wfile.flush()
        hold.wait(60)

    try:
        run = _stream_from(script)
    finally:
        hold.set()
    assert isinstance(run.error, errors.ServerError)
    assert "HTTP 500" in str(run.error) and "overloaded, try later" in str(run.error)


def test_an_error_body_that_stalls_still_gives_the_part_that_arrived():
    """The server sends a 500 with its message, promises more and goes silent: the error
    carries the message that came (it used to be dropped when the read gave up)."""
    hold = threading.Event()

    def script(handler, _n) -> None:
        message = json.dumps({"error": {"message": "overloaded, try later"}}).encode()
        handler.wfile.write(b"HTTP/1.1 500 Internal Server Error\r\nContent-Type: application/json\r\n"
                            b"Content-Length: 100000\r\n\r\n" + message)
        handler.wfile.flush()
        hold.wait(60)

    try:
        run = _stream_from(script)
    finally:
        hold.set()
    assert isinstance(run.error, errors.ServerError)
    assert "HTTP 500" in str(run.error) and "overloaded, try later" in str(run.error)


def _retry_after_of(value: str) -> float | None:
    from nbstream.engine.http import http_error

    error = http_error(429, "http://127.0.0.1:1/v1/chat/completions", "", {"retry-after": value})
    assert "\n" not in str(error)
    return error.retry_after


def test_retry_after_as_an_http_date_is_the_seconds_until_then():
    from datetime import UTC, datetime, timedelta
    from email.utils import format_datetime

    ahead = format_datetime(datetime.now(UTC) + timedelta(seconds=120), usegmt=True)
    assert 60 < _retry_after_of(ahead) <= 120
    assert _retry_after_of("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0


def test_retry_after_that_is_negative_not_finite_or_garbage_is_no_advice():
    for value in ("-5", "nan", "inf", "1e999", "soon", "", "Wed, 99 Foo 2015"):
        assert _retry_after_of(value) is None, value
    assert _retry_after_of("7") == 7.0


def test_a_server_error_message_with_newlines_and_terminal_escapes_becomes_one_printable_line():
    bodies = [json.dumps({"error": {"message": "bad\nthing\r\n\x1b[31mred\x1b]0;owned\x07"}}).encode(),
              b"<html>\n<head><title>502 Bad Gateway</title></head>\n<body>nginx</body>\n</html>\n"]

    def script(handler, n) -> None:
        body = bodies[n]
        # the server closes after each answer and says so: else the second request may go out on
        # the pooled connection as it closes ("Server disconnected"), as POSTs are not retried
        handler.wfile.write(f"HTTP/1.1 {400 if n == 0 else 502} Nope\r\nContent-Type: text/plain\r\n"
                            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode() + body)

    session = Session()
    try:
        with ScriptedServer(script) as server:
            runs = [nbstream.stream("hi", model="m", base_url=server.url + "/v1", display=False, session=session)
                    for _ in bodies]
    finally:
        session.close()
    for run in runs:
        text = str(run.error)
        assert run.status == "error" and not any(ord(c) < 32 or 127 <= ord(c) < 160 for c in text), repr(text)
    assert "bad thing [31mred" in str(runs[0].error) and "502 Bad Gateway" in str(runs[1].error)


def test_a_redirect_location_with_control_characters_is_named_as_one_printable_line():
    def script(handler, _n) -> None:
        handler.wfile.write(b"HTTP/1.1 302 Found\r\nLocation: http://elsewhere.invalid/\x1b]0;owned\x07x\r\n"
                            b"Content-Length: 0\r\n\r\n")

    run = _stream_from(script)
    text = str(run.error)
    assert "redirected (HTTP 302) to http://elsewhere.invalid/" in text
    assert not any(ord(c) < 32 or 127 <= ord(c) < 160 for c in text), repr(text)


def test_an_error_event_mid_stream_with_newlines_and_escapes_is_one_printable_line():
    def script(handler, _n) -> None:
        event = json.dumps({"error": {"message": "quota\nexceeded\x1b[2J\x1b]0;owned\x07 later"}})
        handler.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n"
                            + f"data: {CHUNK}\n\ndata: {event}\n\n".encode())

    run = _stream_from(script)
    text = str(run.error)
    assert run.text == "kept" and "quota exceeded" in text
    assert not any(ord(c) < 32 or 127 <= ord(c) < 160 for c in text), repr(text)


@pytest.mark.parametrize(("params", "field"), [({"temperature": float("nan")}, "temperature"),
                                               ({"max_tokens": 10, "extra": {"data": b"bytes"}}, "extra"),
                                               ({"seed": object()}, "seed")], ids=["nan", "bytes", "object"])
def test_a_parameter_that_is_no_json_is_a_one_line_error_naming_it_before_anything_is_sent(params, field):
    with ScriptedServer(lambda handler, _n: None) as server:
        session = Session()
        try:
            with pytest.raises(ValueError, match=rf"^the request body cannot be sent as JSON: {field} ") as caught:
                nbstream.stream("hi", model="m", base_url=server.url + "/v1", api_key="k", display=False,
                                session=session, **params)
        finally:
            session.close()
    assert "\n" not in str(caught.value) and not server.requests


def test_a_feed_body_that_is_no_json_is_a_one_line_error_naming_it():
    with ScriptedServer(lambda handler, _n: None) as server:
        session = Session()
        try:
            with pytest.raises(ValueError, match=r"^the request body cannot be sent as JSON: since "):
                nbstream.stream(url=server.url + "/feed", method="POST", json={"since": float("inf")},
                                display=False, session=session)
        finally:
            session.close()
    assert not server.requests


@pytest.mark.parametrize("headers", [{"X-Trace": "a\r\nX-Evil: 1"}, {"X-Trace": "a\x00b"}, {"X-Bad\nName": "v"},
                                     {"": "v"}, {"X Trace": "v"}],
                         ids=["crlf", "nul", "newline-name", "empty", "space"])
def test_a_header_that_could_split_the_request_is_a_one_line_error_naming_it_before_anything_is_sent(headers):
    with ScriptedServer(lambda handler, _n: None) as server:
        session = Session()
        try:
            with pytest.raises(ValueError, match=r"^the header ") as caught:
                nbstream.stream("hi", model="m", base_url=server.url + "/v1", api_key="k", display=False,
                                session=session, headers=headers)
        finally:
            session.close()
    assert "\n" not in str(caught.value) and "\r" not in str(caught.value) and not server.requests


def test_a_header_named_by_a_key_with_a_bad_value_is_refused_without_showing_the_key():
    key = "sk-proj-" + "Q7w8E9r0" * 6
    with ScriptedServer(lambda handler, _n: None) as server:
        session = Session()
        try:
            with pytest.raises(ValueError, match=r"^the header ") as caught:
                nbstream.stream("hi", model="m", base_url=server.url + "/v1", api_key=key, display=False,
                                session=session, headers={key: "a\r\nX-Evil: 1"})
        finally:
            session.close()
    assert key not in str(caught.value) and "line break" in str(caught.value) and not server.requests


def test_a_body_cut_short_of_its_content_length_says_how_much_came():
    def script(handler, _n) -> None:
        body = f"data: {CHUNK}\n\n".encode()
        handler.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nContent-Length: 100000\r\n\r\n"
                            + body)

    run = _stream_from(script)
    assert run.status == "incomplete" and run.text == "kept"
    assert "Content-Length" in str(run.error) and "of 100000 bytes" in str(run.error)
    assert "chunked" not in str(run.error)


def test_a_corrupt_compressed_body_is_named_as_such_not_as_a_dropped_connection():
    def script(handler, _n) -> None:
        handler.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nContent-Encoding: gzip\r\n"
                            b"Connection: close\r\n\r\n" + b"\x1f\x8b\x08\x00 this is no gzip " * 20)

    run = _stream_from(script)
    assert run.status == "incomplete" and isinstance(run.error, errors.IncompleteStreamError)
    assert "could not be decoded (Content-Encoding: gzip)" in str(run.error) and "closed" not in str(run.error)
