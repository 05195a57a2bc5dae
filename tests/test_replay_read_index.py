"""A recording's ``read`` (the network read a message came in) is kept in the run's
compact record as a 32-bit index: one that cannot be (huge, negative) is a one-line error
naming the line, before anything replays — not an OverflowError mid-stream."""

from __future__ import annotations

import json

import pytest

import nbstream

HEADER = json.dumps({"nbstream_record": 1, "api": "chat", "model": "m"})
DATA = '{"choices": [{"index": 0, "delta": {"content": "hi"}}]}'


def _write(tmp_path, read) -> str:
    path = tmp_path / "rec.jsonl"
    path.write_text("\n".join([HEADER, json.dumps({"t": 0.01, "read": read, "data": DATA}),
                               json.dumps({"t": 0.02, "read": read, "data": "[DONE]"})]) + "\n")
    return str(path)


@pytest.mark.parametrize("read", [2**31, 99_999_999_999, -1, -(2**40)])
def test_a_read_index_outside_32_bits_is_refused_naming_its_line(tmp_path, read):
    with pytest.raises(ValueError, match="line 2 has a malformed read") as info:
        nbstream.replay(_write(tmp_path, read), speed=0)
    assert "\n" not in str(info.value)


def test_the_largest_read_index_still_replays(tmp_path):
    run = nbstream.replay(_write(tmp_path, 2**31 - 1), speed=0)
    assert run.status == "done" and run.text == "hi" and run.chunks["read_idx"].tolist() == [2**31 - 1] * 2
