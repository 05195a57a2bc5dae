"""The native provider formats (``api="anthropic"``, ``api="gemini"``) against
purpose-built loopback servers: how a stream ends, what a request carries, bodies the
demo endpoint does not send."""

from __future__ import annotations

from typing import Any

import pytest
from _servers import LoopbackServer, ScriptedServer, read_body, sse_head

import nbstream
from nbstream.session import Session

pytestmark = pytest.mark.usefixtures("no_providers")  # none of the provider variables set



def gemini_chunk(text: str, finish: str | None = None) -> bytes:
    finish_part = f',"finishReason":"{finish}"' if finish else ""
    return (b'data: {"candidates":[{"content":{"role":"model","parts":[{"text":"%s"}]}%s,"index":0}]}\n\n'
            % (text.encode(), finish_part.encode()))


def serving(body: bytes, head: bytes | None = None) -> ScriptedServer:
    """A server answering every request with ``head`` + ``body``, then closing cleanly."""

    def script(handler: Any, n: int) -> None:
        handler.wfile.write((sse_head() if head is None else head) + body)

    return ScriptedServer(script)


@pytest.mark.parametrize(("body", "status"), [
    (gemini_chunk("Hel"), "incomplete"),
    (gemini_chunk("Hel") + gemini_chunk("lo", finish="STOP"), "done"),
], ids=["closed-before-finishReason", "closed-after-finishReason"])
def test_a_gemini_stream_is_complete_only_when_a_chunk_carried_its_finish_reason(session, body, status) -> None:
    with serving(body) as server:
        run = nbstream.stream("x", base_url=server.url, model="m", api="gemini", api_key="k", display=False,
                              session=session)
    assert run.status == status and run.text.startswith("Hel")
    assert (run.error is not None) == (status == "incomplete")


# Gemini without ?alt=sse: one JSON array, pretty-printed as Google sends it
GEMINI_ARRAY = (b'[{\r\n  "candidates": [{"content": {"parts": [{"text": "Hel"}], "role": "model"},\r\n'
                b'    "index": 0}]\r\n}\r\n'
                b',\r\n{\r\n  "candidates": [{"content": {"parts": [{"text": "lo"}], "role": "model"},\r\n'
                b'    "finishReason": "STOP", "index": 0}],\r\n'
                b'  "usageMetadata": {"promptTokenCount": 3, "candidatesTokenCount": 2,\r\n'
                b'    "totalTokenCount": 5}\r\n}\r\n]')


def array_head(content_type: str | None) -> bytes:
    typed = f"Content-Type: {content_type}\r\n" if content_type else ""
    return f"HTTP/1.1 200 OK\r\n{typed}Connection: close\r\n\r\n".encode()


def shown_with_httpx(url: str, session: Session) -> nbstream.Run:
    import httpx

    with httpx.stream("POST", url + "/v1beta/models/m:streamGenerateContent", json={"contents": []}) as response:
        return nbstream.show(response, display=False, session=session)


def streamed(url: str, session: Session) -> nbstream.Run:
    return nbstream.stream("x", base_url=url, model="m", api="gemini", api_key="k", display=False, session=session)


@pytest.mark.parametrize("content_type", ["application/json; charset=UTF-8", None], ids=["json", "untyped"])
@pytest.mark.parametrize("read", [streamed, shown_with_httpx], ids=["stream", "show"])
def test_a_gemini_json_array_body_is_read_as_its_chunks(session, read, content_type) -> None:
    with serving(GEMINI_ARRAY, head=array_head(content_type)) as server:
        run = read(server.url, session)
    outcome = (run.status, run.wire_format, run.text, run.finish_reason_raw)
    assert outcome == ("done", "gemini", "Hello", "STOP"), run.error
    assert run.usage.output_tokens == 2


# ---- what a request carries ------------------------------------------------------------------
ANSWERS = {
    "anthropic": b'event: message_start\ndata: {"type":"message_start","message":{"id":"m","model":"m",'
                 b'"role":"assistant","content":[],"usage":{"input_tokens":1,"output_tokens":1}}}\n\n'
                 b'event: content_block_start\ndata: {"type":"content_block_start","index":0,'
                 b'"content_block":{"type":"text","text":"Hi"}}\n\n'
                 b'event: message_delta\ndata: {"type":"message_delta",'
                 b'"delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":1}}\n\n'
                 b'event: message_stop\ndata: {"type":"message_stop"}\n\n',
    "gemini": gemini_chunk("Hi", finish="STOP"),
}


@pytest.mark.parametrize(("api", "expected"), [
    ("anthropic", {"anthropic-version": "2023-06-01", "x-api-key": "KEY"}),
    ("gemini", {"x-goog-api-key": "KEY"}),
])
def test_each_native_api_sends_its_own_headers_and_never_the_key_in_the_url(session, api, expected) -> None:
    key = "sk-loopback-" + "Q" * 32
    seen: list[tuple[str, dict[str, str]]] = []

    def serve(handler: Any) -> None:
        read_body(handler)
        seen.append((handler.path, {k.lower(): v for k, v in handler.headers.items()}))
        handler.wfile.write(sse_head() + ANSWERS[api])

    with LoopbackServer(serve) as server:
        run = nbstream.stream("x", base_url=server.url, model="m", api=api, api_key=key, display=False,
                              session=session)
    assert run.status == "done" and run.text == "Hi", run.error
    [(path, headers)] = seen
    assert {name: headers.get(name) for name in expected} == {k: v.replace("KEY", key) for k, v in expected.items()}
    assert key not in path and "key=" not in path and "authorization" not in headers
