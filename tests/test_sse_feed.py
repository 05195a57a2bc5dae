"""Generic SSE feeds (not LLM answers) over loopback: every event kept as an Other event,
and the spec's reconnection — retry delay, Last-Event-ID, bounded attempts, HTTP 204."""

from __future__ import annotations

import threading
import time

from _servers import ScriptedServer, sse_head

import nbstream
from nbstream import errors
from nbstream.events import Other


def _feed_then_close(events: list[bytes]):
    def script(handler, n):
        handler.wfile.write(sse_head())
        for chunk in events:
            handler.wfile.write(chunk)
            handler.wfile.flush()
    return script


def test_every_event_becomes_an_other_event_with_type_data_and_id():
    body = [b"event: tick\nid: 1\ndata: one\n\n", b"data: two\ndata: lines\n\n"]
    with ScriptedServer(_feed_then_close(body)) as server:
        run = nbstream.stream(url=server.url, reconnect=False)
    assert run.status == "done"
    assert [(e.type, e.data, e.id) for e in run.events] == [
        ("tick", "one", "1"), ("message", "two\nlines", "1")]
    assert all(isinstance(e, Other) for e in run.events)


def test_a_dropped_feed_reconnects_with_last_event_id_after_the_retry_delay():
    def script(handler, n):
        if n == 0:
            handler.wfile.write(sse_head() + b"retry: 150\nid: 41\ndata: a\n\nid: 42\ndata: b\n\n")
        elif n == 1:
            handler.wfile.write(sse_head() + b"id: 43\ndata: c\n\n")
        else:
            handler.wfile.write(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n")

    with ScriptedServer(script) as server:
        t = time.monotonic()
        run = nbstream.stream(url=server.url)
        elapsed = time.monotonic() - t  # a slow machine only makes this longer
    assert run.status == "done"
    assert [e.data for e in run.events] == ["a", "b", "c"]
    assert server.requests[1]["last-event-id"] == "42"
    assert server.requests[2]["last-event-id"] == "43"
    assert run.reconnects == 2
    assert elapsed >= 0.3  # two waits of retry = 150 ms


def test_gives_up_after_max_reconnects_that_deliver_nothing():
    def script(handler, n):
        if n == 0:
            handler.wfile.write(sse_head() + b"retry: 10\ndata: only\n\n")
        else:
            handler.wfile.write(sse_head())  # connects, then closes with no event

    with ScriptedServer(script) as server:
        run = nbstream.stream(url=server.url, max_reconnects=3)
    assert run.status == "error"
    assert isinstance(run.error, errors.ConnectError) and "3 reconnection attempts" in str(run.error)
    assert [e.data for e in run.events] == ["only"]
    assert len(server.requests) == 1 + 4


def test_a_response_that_is_not_an_event_stream_stops_the_feed():
    def script(handler, n):
        handler.wfile.write(sse_head(content_type="text/html") + b"<html></html>")

    with ScriptedServer(script) as server:
        run = nbstream.stream(url=server.url)
    assert run.status == "error"
    assert "not text/event-stream" in str(run.error)
    assert len(server.requests) == 1


def test_http_error_status_is_not_retried():
    def script(handler, n):
        handler.wfile.write(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\n\r\nbusy")

    with ScriptedServer(script) as server:
        run = nbstream.stream(url=server.url)
    assert isinstance(run.error, errors.ServerError)
    assert len(server.requests) == 1


def test_a_feed_can_be_cancelled_while_it_waits():
    release = threading.Event()

    def script(handler, n):
        handler.wfile.write(sse_head() + b"data: hello\n\n")
        handler.wfile.flush()
        release.wait(90)  # silent, connection open, until the test is done

    with ScriptedServer(script) as server:
        try:
            run = nbstream.stream(url=server.url, block=False)
            deadline = time.monotonic() + 60
            while not run.events and time.monotonic() < deadline:
                time.sleep(0.01)
            run.cancel()
            assert run.wait(60)  # ended while the server still held the connection open and silent
        finally:
            release.set()
    assert run.status == "cancelled"
    assert [e.data for e in run.events] == ["hello"]


def test_show_with_a_url_follows_the_feed_until_http_204():
    def script(handler, n):
        if n == 0:
            handler.wfile.write(sse_head() + b"retry: 10\ndata: x\n\n")
        else:
            handler.wfile.write(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n")

    with ScriptedServer(script) as server:
        run = nbstream.show(server.url, display=False)
    assert run.status == "done"
    assert [e.data for e in run.events] == ["x"]
