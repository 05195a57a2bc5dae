"""The SSE decoder follows the WHATWG "interpreting an event stream" rules, one rule per test."""

from __future__ import annotations

import dataclasses
import random
import time

import pytest
from sse_corpus import CASES, Case, chunks_of, normalized

from nbstream.sse import ServerSentEvent, SSEDecoder

BOM = b"\xef\xbb\xbf"


def feed_all(chunks: list[bytes] | bytes, dec: SSEDecoder | None = None) -> list[ServerSentEvent]:
    dec = dec or SSEDecoder()
    if isinstance(chunks, bytes):
        chunks = [chunks]
    events: list[ServerSentEvent] = []
    for chunk in chunks:
        events.extend(dec.feed(chunk))
    return events


def datas(chunks: list[bytes] | bytes) -> list[str]:
    return [e.data for e in feed_all(chunks)]


def as_tuples(events: list[ServerSentEvent]) -> list[tuple[str, str, str, int | None]]:
    return [(e.event, e.data, e.id, e.retry) for e in events]


# --- dispatch -------------------------------------------------------------------


def test_blank_line_dispatches_the_data():
    assert feed_all(b"data: hello\n\n") == [ServerSentEvent("message", "hello", "", None)]


def test_event_waits_for_its_blank_line():
    dec = SSEDecoder()
    assert dec.feed(b"data: hello\n") == []
    assert [e.data for e in dec.feed(b"\n")] == ["hello"]


def test_unterminated_last_event_is_discarded():
    assert datas(b"data: 1\n\ndata: 2\n") == ["1"]


def test_blank_lines_without_data_dispatch_nothing():
    assert datas(b"\n\n\r\n\r\r\n") == []


# --- lines ------------------------------------------------------------------------


def test_lf_ends_a_line():
    assert datas(b"data: a\ndata: b\n\n") == ["a\nb"]


def test_crlf_ends_a_line():
    assert datas(b"data: a\r\ndata: b\r\n\r\n") == ["a\nb"]


def test_lone_cr_ends_a_line():
    assert datas(b"data: a\rdata: b\r\r") == ["a\nb"]


def test_cr_at_end_of_feed_and_lf_at_start_of_next_are_one_line_ending():
    assert datas([b"data: a\r", b"\ndata: b\r", b"\n\r", b"\n"]) == ["a\nb"]


def test_cr_at_end_of_feed_ends_the_line_without_waiting_for_the_next_feed():
    assert [e.data for e in SSEDecoder().feed(b"data: a\n\r")] == ["a"]


def test_lf_then_cr_are_two_line_endings():
    assert datas(b"data: a\n\rdata: b\n\n") == ["a", "b"]


@pytest.mark.parametrize(
    "char", ["\u2028", "\u2029", "\x85", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e"], ids=repr
)
def test_only_cr_and_lf_end_lines(char):
    assert datas(f"data: a{char}b\n\n".encode()) == [f"a{char}b"]


# --- BOM --------------------------------------------------------------------------


def test_leading_bom_is_stripped():
    assert datas(BOM + b"data: 1\n\n") == ["1"]


def test_bom_split_across_feeds_is_stripped():
    assert datas([b"\xef", b"\xbb", b"\xbf", b"data: 1\n\n"]) == ["1"]


def test_only_one_leading_bom_is_stripped():
    # The second BOM becomes part of the field name "\ufeffdata", an unknown field.
    assert datas(BOM + BOM + b"data: 1\n\ndata: 2\n\n") == ["2"]


def test_bom_after_the_start_is_not_stripped():
    assert datas(b"data: 1\n\n" + BOM + b"data: 2\n\ndata: 3\n\n") == ["1", "3"]


# --- fields -------------------------------------------------------------------------


def test_comment_lines_are_ignored():
    assert datas(b": comment\ndata: a\n:\n: another\ndata: b\n\n") == ["a\nb"]


def test_field_without_colon_has_empty_value():
    assert datas(b"data\n\n") == [""]


def test_exactly_one_leading_space_is_removed():
    assert datas(b"data:x\n\ndata: x\n\ndata:  x\n\ndata:\tx\n\n") == ["x", "x", " x", "\tx"]


def test_field_names_are_case_sensitive():
    assert datas(b"Data: a\nDATA: b\ndata: c\n\n") == ["c"]


def test_unknown_fields_are_ignored():
    assert datas(b"foo: bar\ndata: a\nbaz\n data: nope\ndata: b\n\n") == ["a\nb"]


def test_value_keeps_further_colons():
    assert datas(b"data: a: b:c\n\n") == ["a: b:c"]


def test_data_lines_join_with_newline():
    assert datas(b"data: a\ndata: b\ndata: c\n\n") == ["a\nb\nc"]


def test_empty_data_lines_count():
    assert datas(b"data:\n\ndata\ndata\n\ndata: a\ndata:\n\n") == ["", "\n", "a\n"]


# --- event type ------------------------------------------------------------------------


def test_event_field_sets_the_type():
    assert [(e.event, e.data) for e in feed_all(b"event: add\ndata: 1\n\n")] == [("add", "1")]


def test_event_type_resets_after_each_dispatch():
    assert [e.event for e in feed_all(b"event: a\ndata: 1\n\ndata: 2\n\n")] == ["a", "message"]


def test_event_only_block_dispatches_nothing_and_resets_the_type():
    assert [(e.event, e.data) for e in feed_all(b"event: a\n\ndata: 1\n\n")] == [("message", "1")]


def test_empty_event_type_means_message():
    assert [e.event for e in feed_all(b"event:\ndata: 1\n\n")] == ["message"]


# --- id ----------------------------------------------------------------------------------


def test_id_sets_the_last_event_id():
    dec = SSEDecoder()
    assert [e.id for e in dec.feed(b"id: 7\ndata: x\n\n")] == ["7"]
    assert dec.last_event_id == "7"


def test_last_event_id_persists_across_events():
    assert [e.id for e in feed_all(b"id: 7\ndata: a\n\ndata: b\n\n")] == ["7", "7"]


def test_empty_id_resets_the_last_event_id():
    dec = SSEDecoder()
    assert [e.id for e in dec.feed(b"id: 7\ndata: a\n\nid:\ndata: b\n\n")] == ["7", ""]
    assert dec.last_event_id == ""


def test_id_containing_nul_is_ignored():
    dec = SSEDecoder()
    assert [e.id for e in dec.feed(b"id: 7\ndata: a\n\nid: 8\x009\ndata: b\n\n")] == ["7", "7"]
    assert dec.last_event_id == "7"


def test_id_only_block_dispatches_nothing_but_sets_the_last_event_id():
    dec = SSEDecoder()
    assert dec.feed(b"id: 7\n\n") == []
    assert dec.last_event_id == "7"
    assert [e.id for e in dec.feed(b"data: x\n\n")] == ["7"]


def test_id_in_an_unfinished_block_is_not_yet_the_last_event_id():
    dec = SSEDecoder()
    dec.feed(b"id: 7\ndata: x\n")
    assert dec.last_event_id == ""
    dec.feed(b"\n")
    assert dec.last_event_id == "7"


# --- retry --------------------------------------------------------------------------------


def test_retry_with_ascii_digits_sets_the_reconnection_time():
    dec = SSEDecoder()
    assert [e.retry for e in dec.feed(b"retry: 2500\ndata: x\n\n")] == [2500]
    assert dec.retry == 2500


@pytest.mark.parametrize("value", [b"", b" 5", b"5 ", b"+5", b"-5", b"1_0", b"1.5", b"5x", "\u0665".encode()])
def test_retry_that_is_not_only_ascii_digits_is_ignored(value):
    dec = SSEDecoder()
    assert [e.retry for e in dec.feed(b"retry: 100\n\nretry: " + value + b"\ndata: x\n\n")] == [None]
    assert dec.retry == 100


def test_retry_is_reported_only_on_the_event_of_its_block():
    dec = SSEDecoder()
    assert [e.retry for e in dec.feed(b"retry: 5\ndata: a\n\ndata: b\n\n")] == [5, None]
    assert dec.retry == 5


def test_retry_takes_effect_without_a_dispatch():
    dec = SSEDecoder()
    assert dec.feed(b"retry: 5\n") == []
    assert dec.retry == 5


# --- decoding ------------------------------------------------------------------------------


def test_invalid_utf8_becomes_replacement_characters():
    assert datas(b"data: a\xffb\xc0\xafc\xed\xa0\x80\n\n") == ["a\ufffdb\ufffd\ufffdc\ufffd\ufffd\ufffd"]


def test_multibyte_character_split_across_feeds_is_decoded():
    raw = "data: é日🎉\n\n".encode()
    assert datas([raw[i : i + 1] for i in range(len(raw))]) == ["é日🎉"]


def test_bytes_are_always_utf8_never_latin1():
    assert datas(b"data: caf\xe9\n\n") == ["caf\ufffd"]


def test_feed_accepts_any_bytes_like():
    dec = SSEDecoder()
    assert [e.data for e in dec.feed(bytearray(b"data: a\n\n")) + dec.feed(memoryview(b"data: b\n\n"))] == ["a", "b"]


def test_empty_feed_returns_no_events():
    assert SSEDecoder().feed(b"") == []


def test_feeding_text_is_a_clear_type_error():
    with pytest.raises(TypeError, match=r"takes bytes, not str.*encode"):
        SSEDecoder().feed("data: x\n\n")  # type: ignore[arg-type]


# --- the event type ---------------------------------------------------------------------------


def test_event_defaults():
    assert ServerSentEvent() == ServerSentEvent("message", "", "", None)


def test_decoded_events_are_ordinary_frozen_slots_dataclasses():
    (event,) = feed_all(b"event: e\nid: 1\nretry: 9\ndata: d\n\n")
    assert event == ServerSentEvent(event="e", data="d", id="1", retry=9)
    assert hash(event) == hash(ServerSentEvent(event="e", data="d", id="1", retry=9))
    assert not hasattr(event, "__dict__")
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.data = "changed"  # type: ignore[misc]


# --- the conformance corpus -------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_corpus_case(case: Case):
    assert as_tuples(feed_all(chunks_of(case))) == normalized(case.expected)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_corpus_case_fed_one_byte_at_a_time(case: Case):
    raw = b"".join(chunks_of(case))
    assert as_tuples(feed_all([raw[i : i + 1] for i in range(len(raw))])) == normalized(case.expected)


# --- state and reconnection ------------------------------------------------------------------


def test_new_decoder_has_no_last_event_id_and_no_retry():
    dec = SSEDecoder()
    assert (dec.last_event_id, dec.retry) == ("", None)


def test_state_persists_across_feeds():
    dec = SSEDecoder()
    dec.feed(b"id: 1\nretry: 300\ndata: a\n\n")
    dec.feed(b": keepalive\n\n")
    assert [(e.id, e.retry) for e in dec.feed(b"data: b\n\n")] == [("1", None)]
    assert (dec.last_event_id, dec.retry) == ("1", 300)


def test_restart_keeps_last_event_id_and_retry():
    dec = SSEDecoder()
    dec.feed(b"id: 41\nretry: 1500\ndata: a\n\n")
    dec.restart()
    assert (dec.last_event_id, dec.retry) == ("41", 1500)
    assert [(e.data, e.id) for e in dec.feed(b"data: b\n\n")] == [("b", "41")]


def test_restart_strips_the_bom_of_the_new_stream():
    dec = SSEDecoder()
    dec.feed(BOM + b"data: a\n\n")
    dec.restart()
    assert [e.data for e in dec.feed(BOM + b"data: b\n\n")] == ["b"]


def test_restart_discards_the_partial_line_and_event():
    dec = SSEDecoder()
    dec.feed(b"event: old\ndata: half\ndata: unfini")
    dec.restart()
    assert [(e.event, e.data) for e in dec.feed(b"shed\ndata: new\n\n")] == [("message", "new")]


def test_restart_discards_an_unfinished_id():
    dec = SSEDecoder()
    dec.feed(b"id: 1\n\nid: 2\ndata: x\n")
    dec.restart()
    assert [e.id for e in dec.feed(b"data: y\n\n")] == ["1"]


def test_restart_discards_pending_partial_utf8_bytes():
    dec = SSEDecoder()
    dec.feed(b"data: \xe6\x97")
    dec.restart()
    assert [e.data for e in dec.feed(b"data: ok\n\n")] == ["ok"]


def test_restart_forgets_a_trailing_cr():
    dec = SSEDecoder()
    dec.feed(b"data: a\r")
    dec.restart()
    # On the new stream the LF is a line of its own (blank), not the CR's pair.
    assert dec.feed(b"\ndata: b\n\n") == [ServerSentEvent("message", "b", "", None)]


# --- very long lines --------------------------------------------------------------------------


# Linear parsing takes under a second for these inputs (on a loaded 2-core machine too); a
# parser that rescans or recopies its buffer per piece takes hours on 5 MB in 7-byte pieces.
# The deadline only tells those apart: it is no performance target (that is bench/'s job).
LINEAR_HANG_GUARD_S = 60.0


def _pieces(raw: bytes, rng: random.Random, largest: int) -> list[bytes]:
    """Cut raw into pieces of 1..largest bytes, sizes log-uniform so small ones are common."""
    out, i = [], 0
    while i < len(raw):
        size = int(2 ** rng.uniform(0, largest.bit_length() - 1))
        out.append(raw[i : i + size])
        i += size
    return out


def test_five_megabyte_data_line_in_pieces_of_1_byte_to_64_kib():
    payload = ("0123456789abcdé日🎉" * 300_000)[:5_000_000]
    raw = b"id: big\r\ndata: " + payload.encode() + b"\r\n\r\ndata: after\n\n"
    pieces = _pieces(raw, random.Random(5), 64 * 1024)
    assert min(map(len, pieces)) == 1 and max(map(len, pieces)) > 32 * 1024
    started = time.perf_counter()
    events = feed_all(pieces)
    elapsed = time.perf_counter() - started
    assert [(e.data == payload, e.id) for e in events] == [(True, "big"), (False, "big")]
    assert elapsed < LINEAR_HANG_GUARD_S, f"5 MB line took {elapsed:.1f} s"


@pytest.mark.parametrize("piece", [1, 7, 4096, 65536])
def test_long_line_cost_is_linear_in_fixed_size_pieces(piece):
    size = 256 * 1024 if piece == 1 else 5_000_000
    raw = b"data: " + b"x" * size + b"\n\n"
    started = time.perf_counter()
    events = feed_all([raw[i : i + piece] for i in range(0, len(raw), piece)])
    elapsed = time.perf_counter() - started
    assert [len(e.data) for e in events] == [size]
    assert elapsed < LINEAR_HANG_GUARD_S, f"{size} bytes in {piece}-byte pieces took {elapsed:.1f} s"


def test_several_megabyte_data_lines_join_into_one_event():
    line = "y" * 2_000_000
    raw = ("data: " + line + "\n") * 3 + "\n"
    assert datas(raw.encode()) == ["\n".join([line] * 3)]


# ---- a line or an event that never ends ----------------------------------------------------
@pytest.fixture
def small_limit(monkeypatch):
    from nbstream import sse

    monkeypatch.setattr(sse, "MAX_EVENT_CHARS", 10_000)


def test_a_line_that_never_ends_is_an_error_not_memory_growing(small_limit):
    from nbstream.sse import EventTooLargeError

    decoder = SSEDecoder()
    with pytest.raises(EventTooLargeError, match="without ending it"):
        for _ in range(100):
            decoder.feed(b"data: " + b"x" * 1_000)


def test_an_event_whose_data_lines_never_end_is_an_error(small_limit):
    from nbstream.sse import EventTooLargeError

    decoder = SSEDecoder()
    with pytest.raises(EventTooLargeError):
        for _ in range(100):
            decoder.feed(b"data: " + b"y" * 500 + b"\n")


def test_events_completed_in_the_chunk_that_overflows_an_open_event_are_delivered_first(small_limit):
    from nbstream.sse import EventTooLargeError

    decoder = SSEDecoder()
    got = decoder.feed(b"data: one\n\ndata: two\n\n" + (b"data: " + b"y" * 500 + b"\n") * 25)
    assert [e.data for e in got] == ["one", "two"]  # received before the overflow: kept
    with pytest.raises(EventTooLargeError):
        decoder.feed(b"data: more\n")


@pytest.mark.parametrize("next_chunk", [b"\n", b": a comment\n\n", b"data: end"], ids=repr)
@pytest.mark.parametrize("first", ["completing an event", "alone"])
def test_an_event_past_the_limit_is_an_error_however_the_next_chunk_closes_it(small_limit, next_chunk, first):
    from nbstream.sse import EventTooLargeError

    decoder = SSEDecoder()
    overflow = (b"data: " + b"y" * 500 + b"\n") * 25
    if first == "completing an event":
        assert [e.data for e in decoder.feed(b"data: one\n\n" + overflow)] == ["one"]
    else:
        with pytest.raises(EventTooLargeError):
            decoder.feed(overflow)
    with pytest.raises(EventTooLargeError):  # and again, whatever a caller that caught it feeds next
        decoder.feed(next_chunk)


def test_a_stream_that_ends_right_after_an_event_passed_the_limit_is_an_error(small_limit):
    from nbstream.sse import EventTooLargeError

    decoder = SSEDecoder()
    decoder.feed(b"data: one\n\n" + (b"data: " + b"y" * 500 + b"\n") * 25)
    with pytest.raises(EventTooLargeError):
        decoder.check_end()
    SSEDecoder().check_end()  # a stream that ended cleanly: nothing to say


def test_many_events_adding_up_past_the_limit_are_fine(small_limit):
    decoder = SSEDecoder()
    got = []
    for _ in range(100):
        got += decoder.feed(b"data: " + b"z" * 500 + b"\n\n" + b"data: " + b"w" * 300)
        got += decoder.feed(b"\n\n")
    assert len(got) == 200 and got[-1].data == "w" * 300


def test_a_stream_with_an_endless_line_ends_in_error_keeping_the_answer_so_far(small_limit):
    import json

    from _servers import ScriptedServer, sse_head

    import nbstream

    def script(handler, n):
        chunk = {"choices": [{"index": 0, "delta": {"content": "kept"}}]}
        handler.wfile.write(sse_head() + f"data: {json.dumps(chunk)}\n\n".encode())
        for _ in range(50):
            handler.wfile.write(b"data: " + b"x" * 1_000)

    with ScriptedServer(script) as server:
        run = nbstream.stream("hi", base_url=server.url + "/v1", api_key="k", model="m")
    assert run.status == "error" and run.text == "kept"
    assert "without ending it" in str(run.error)


@pytest.mark.parametrize(("content_type", "first"), [
    ("application/x-ndjson", b'{"model": "m", "message": {"role": "assistant", "content": "kept"}, "done": false}\n'),
    ("application/json", b'{"model": "m", "message": {"role": "assistant", "content": "kept"}, "done": false}\n'),
    ("application/json", b"[\n  {\n"),  # a whole document: held until the body ends
])
def test_an_endless_json_line_or_document_ends_in_error_not_memory_growing(small_limit, content_type, first):
    from _servers import ScriptedServer, sse_head

    import nbstream

    def script(handler, n):
        handler.wfile.write(sse_head(content_type=content_type) + first)
        for _ in range(50):
            handler.wfile.write(b"x" * 1_000)

    with ScriptedServer(script) as server:
        run = nbstream.stream("hi", base_url=server.url, api="ollama", model="m")
    assert run.status == "error" and "without ending it" in str(run.error)
    assert run.text == ("kept" if first.startswith(b"{") else "")


@pytest.mark.parametrize("framer", ["NDJSONFramer", "JSONFramer"])
def test_the_lines_a_read_completes_are_kept_when_its_tail_passes_the_limit(small_limit, framer):
    from nbstream.sse import EventTooLargeError
    from nbstream.wire import framing

    line = b'{"response": "kept"}'
    f = getattr(framing, framer)()
    assert [m.data for m in f.feed(line + b"\n" + b"x" * 20_000, 0, 0)] == [line.decode()]
    with pytest.raises(EventTooLargeError):
        f.feed(b"more", 0, 1)
    with pytest.raises(EventTooLargeError):
        f.end(0, 2)


def test_a_json_document_after_blank_lines_is_read_whole():
    from nbstream.wire import framing

    f = framing.JSONFramer()
    document = b'\n\n[\n  {"response": "a"},\n  {"response": "b"}\n]\n'
    got = [m for i, byte in enumerate(document) for m in f.feed(bytes([byte]), 0, i)] + f.end(0, len(document))
    assert [m.data for m in got] == [document.decode().strip()]
