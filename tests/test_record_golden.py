"""The recorder keeps exactly what it kept before its compact layout: on a fixed corpus of
recorded streams (chat, rich and malformed chat chunks, the hostile payloads, CRLF,
Ollama NDJSON without a final newline, Responses, a generic feed and every SSE
conformance case), every message with its arrival time, read index and events, the
``run.chunks`` table (values and dtypes) and the summary row equal the golden copy
pinned from the code before (``tests/_golden_corpus.py`` writes it)."""

from __future__ import annotations

import json

import pytest
from _golden_corpus import GOLDEN, corpus, record, snapshot

_EXPECTED = json.loads(GOLDEN.read_text())
_CORPUS = {name: (fmt, reads) for name, fmt, reads in corpus()}


def test_the_corpus_is_the_pinned_one():
    assert sorted(_CORPUS) == sorted(_EXPECTED)


@pytest.mark.parametrize("name", sorted(_CORPUS))
def test_recorded_stream_matches_its_golden_copy(name):
    fmt, reads = _CORPUS[name]
    got = json.loads(json.dumps(snapshot(record(name, fmt, reads)), ensure_ascii=False))
    want = _EXPECTED[name]
    for key in want:
        assert got[key] == want[key], f"{name}: {key} differs"
    assert got.keys() == want.keys()


@pytest.mark.parametrize("name", ["chat_rich", "chat_hostile", "ollama", "responses", "hostile_as_feed", "sse_case_7"])
def test_the_read_only_views_index_like_the_lists_they_stand_for(name):
    fmt, reads = _CORPUS[name]
    run = record(name, fmt, reads)
    for view in (run.events, run.records):
        items = list(view)
        assert len(view) == len(items) and view == items and (not items or items[-1] in view)
        for i in range(-len(items), len(items)):
            assert view[i] == items[i], (name, i)
        for bad in (len(items), -len(items) - 1):
            with pytest.raises(IndexError):
                view[bad]
        assert view[1:-1] == items[1:-1] and view[::-2] == items[::-2]


_WIRES = {"one-line": b"data: one line\n\n", "three-lines": b"data: a\ndata: bb\ndata: \n\n",
          "named": b"event: log\ndata: x\ndata: y\n\n", "utf-8": "data: é世🙂\ndata: ok\n\n".encode()}


@pytest.mark.parametrize("wire", _WIRES.values(), ids=_WIRES.keys())
def test_a_messages_bytes_are_the_bytes_it_took_on_the_wire(wire):
    run = record("wire", "sse", [wire, wire])
    assert [rec.message.n_bytes for rec in run.records] == [len(wire)] * 2
    assert run.chunks["n_bytes"].tolist() == [len(wire)] * 2
