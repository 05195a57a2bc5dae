"""The native provider formats (``api="anthropic"``, ``api="gemini"``) against
purpose-built loopback servers: how a stream ends, what a request carries, bodies the
demo endpoint does not send."""

from __future__ import annotations

from typing import Any

import pytest
from _servers import ScriptedServer, sse_head

import nbstream
from nbstream.session import Session


@pytest.fixture
def session(monkeypatch) -> Session:
    for var in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL", "GEMINI_API_KEY",
                "GOOGLE_API_KEY", "GOOGLE_GEMINI_BASE_URL", "NBSTREAM_MODEL"):
        monkeypatch.delenv(var, raising=False)
    return Session()


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
