"""The SSE decoder keeps one string per event type of a stream (a long stream repeats a
few names), and a server that sends a new name with every event grows no cache past a
small bound (the names are not interned: interned strings are immortal on some CPythons)."""

from __future__ import annotations

from nbstream.sse import SSEDecoder


def test_events_of_one_type_share_one_name_string():
    decoder = SSEDecoder()
    events = [ev for _ in range(50) for ev in decoder.feed(b"event: content_block_delta\ndata: {}\n\n")]
    assert len(events) == 50 and len({id(ev.event) for ev in events}) == 1


def test_a_new_name_per_event_is_decoded_and_keeps_no_unbounded_cache():
    decoder = SSEDecoder()
    body = b"".join(b"event: e%d\ndata: x\n\n" % i for i in range(20_000))
    names = [ev.event for ev in decoder.feed(body)]
    assert names == [f"e{i}" for i in range(20_000)]
    assert len(decoder._names) <= 64
