"""The recorder's hot path (a plain text delta recorded as its text alone) stays on while
a key is registered, and still keeps every form of the key out of the run: in the data,
only in the decoded text (a JSON escape hides it in the data), split across deltas."""

from __future__ import annotations

import json
import secrets as pysecrets

import nbstream
from nbstream import _secrets


def _sse(content: str | None = None, raw: str | None = None) -> bytes:
    data = raw if raw is not None else json.dumps({"choices": [{"index": 0, "delta": {"content": content}}]})
    return f"data: {data}\n\n".encode()


def _shown(reads: list[bytes]) -> tuple[nbstream.Run, str]:
    session = nbstream.Session()
    run = nbstream.show([_sse("start"), *reads, b"data: [DONE]\n\n"], display=False, session=session)
    surfaces = "\n".join([run.text, repr(run.events), repr(list(run.records)), run.chunks.to_csv()])
    session.close()
    return run, surfaces


def test_a_key_with_a_slash_escaped_as_backslash_slash_is_masked():
    key = f"sig{pysecrets.token_hex(8)}/{pysecrets.token_hex(8)}"
    _secrets.register(key)
    escaped = key.replace("/", "\\/")  # valid JSON for "/", a form of the key no encoder writes
    raw = '{"choices": [{"index": 0, "delta": {"content": "' + escaped + '"}}]}'
    run, surfaces = _shown([_sse("ok "), _sse(raw=raw)])
    assert run.status == "done" and run.text.startswith("startok ")
    assert key not in surfaces and key[:12] not in surfaces


def test_plain_deltas_are_recorded_as_received_while_a_key_is_registered():
    _secrets.register(f"sk-{pysecrets.token_hex(16)}")
    pieces = [" plain", " text", " 世界"]
    run, _ = _shown([_sse(p) for p in pieces])
    assert run.text == "start" + "".join(pieces)
    assert [rec.message.data for rec in run.records][1:4] == [_sse(p).decode()[6:-2] for p in pieces]
    assert run.events[2:5] == [nbstream.events.TextDelta(p) for p in pieces]


def test_a_key_split_across_plain_deltas_is_masked_in_every_surface():
    key = f"sk-{pysecrets.token_hex(16)}"
    _secrets.register(key)
    run, surfaces = _shown([_sse("key " + key[:5]), _sse(key[5:14]), _sse(key[14:] + " end")])
    assert run.text.endswith(" end") and key[:8] not in run.text and key[-12:] not in run.text
