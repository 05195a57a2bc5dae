"""Property tests: chunking never changes what the SSE decoder yields, and it agrees
with a deliberately naive, character-by-character reading of the spec."""

from __future__ import annotations

import itertools

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nbstream.sse import SSEDecoder

# Pieces that make byte streams look like SSE, plus everything that is tricky about it.
_PIECES = [
    b"data", b"event", b"id", b"retry", b"Data", b"foo", b"dat",
    b":", b": ", b" ", b"  ", b"\t",
    b"\n", b"\r", b"\r\n", b"\n\n", b"\r\r", b"\r\n\r\n",
    b"\xef\xbb\xbf", b"\xef", b"\xbb\xbf",  # BOM, whole and in parts
    "é".encode(), "日".encode(), "🎉".encode(), "🎉".encode()[:2], "\u2028".encode(), "\x85".encode(),
    b"\xff", b"\x80", b"\xc0\xaf", b"\xed\xa0\x80", b"\x00", b"\x0b", b"\x0c", b"\x1c",
    b"0", b"42", b"007", b"-1", b"x", b"hello", b"{}",
]

_field_line = st.builds(
    lambda name, sep, value, end: name + sep + value + end,
    st.sampled_from([b"data", b"event", b"id", b"retry", b"", b":", b"DATA", b"other"]),
    st.sampled_from([b":", b": ", b":  ", b""]),
    st.sampled_from([b"", b"1", b"250", b"x y", b"\x00", b"\xff", "é🎉".encode(), b" 5", b"a:b"]),
    st.sampled_from([b"\n", b"\r", b"\r\n", b""]),
)

sse_bytes = st.lists(
    st.one_of(st.sampled_from(_PIECES), _field_line, st.binary(max_size=4)),
    max_size=40,
).map(b"".join)


def _cut(raw: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(raw) + 1) for c in cuts})
    bounds = [0, *points, len(raw)]
    return [raw[a:b] for a, b in itertools.pairwise(bounds)]  # empty pieces included on purpose


def _decode(chunks: list[bytes]):
    dec = SSEDecoder()
    events = []
    for chunk in chunks:
        events.extend(dec.feed(chunk))
    return events, dec.last_event_id, dec.retry


def _naive(raw: bytes):
    """The spec read literally: whole-text decode, one character at a time, string buffers."""
    text = raw.decode("utf-8", "replace")
    if text.startswith("\ufeff"):
        text = text[1:]
    lines, line, i = [], "", 0
    while i < len(text):
        ch = text[i]
        if ch == "\r":
            lines.append(line)
            line = ""
            if i + 1 < len(text) and text[i + 1] == "\n":
                i += 1
        elif ch == "\n":
            lines.append(line)
            line = ""
        else:
            line += ch
        i += 1
    # whatever is left in `line` never ended: discarded
    events, data, event_type, id_buffer, last_id, retry, block_retry = [], "", "", "", "", None, None
    for line in lines:
        if line == "":
            last_id = id_buffer
            if data != "":
                events.append((event_type or "message", data[:-1], id_buffer, block_retry))
            data, event_type, block_retry = "", "", None
            continue
        if line.startswith(":"):
            continue
        if ":" in line:
            name, value = line.split(":", 1)
            if value.startswith(" "):
                value = value[1:]
        else:
            name, value = line, ""
        if name == "data":
            data += value + "\n"
        elif name == "event":
            event_type = value
        elif name == "id" and "\x00" not in value:
            id_buffer = value
        elif name == "retry" and value and all(c in "0123456789" for c in value):
            retry = block_retry = int(value)
    return events, last_id, retry


def _tuples(result):
    events, last_id, retry = result
    return [(e.event, e.data, e.id, e.retry) for e in events], last_id, retry


_settings = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@_settings
@given(raw=sse_bytes, cuts=st.lists(st.integers(min_value=0), max_size=12))
def test_any_rechunking_yields_the_same_events_and_state(raw, cuts):
    assert _tuples(_decode(_cut(raw, cuts))) == _tuples(_decode([raw]))


@_settings
@given(raw=sse_bytes)
def test_one_byte_feeds_yield_the_same_events_and_state(raw):
    assert _tuples(_decode([raw[i : i + 1] for i in range(len(raw))])) == _tuples(_decode([raw]))


@_settings
@given(raw=sse_bytes, cuts=st.lists(st.integers(min_value=0), max_size=12))
def test_decoder_agrees_with_a_literal_reading_of_the_spec(raw, cuts):
    assert _tuples(_decode(_cut(raw, cuts))) == _naive(raw)
